"""nbgrader preprocessors the course adds to the stock pipeline.

All are registered in ``course/nbgrader_config.py``, so they apply to every
route into nbgrader: ``python -m autograder autograde``, plain ``nbgrader
autograde`` and the formgrader's buttons.

- :class:`ResilientExecute` (autograde, instead of ``Execute``): when a
  submission kills its kernel (``os._exit``, a segfault, out of memory) or
  leaves it busy after a timed-out cell (an infinite loop that swallows
  ``KeyboardInterrupt``), stock nbgrader fails the whole submission and
  records no grades. Here the cells that ran keep their scores, the cell at
  fault says what happened, and the cells after it are marked "not run"
  (so they score 0) instead. It also waits for kernel messages in short
  slices: a long single wait on the asyncio ZMQ socket sometimes misses
  the wake-up and sits out the whole cell timeout (30 s) although the reply
  is there (seen after cells that display widgets).
- :class:`TamperScan` (autograde, after ``SaveAutoGrades``): scans the
  student-written cells with :mod:`autograder.tamper`; a flagged notebook gets
  0 and "needs manual grade" on every graded cell after the first flagged
  cell, the reason as the solution cell's comment, and a note in the outputs.
- :class:`HideHiddenTestTracebacks` (feedback, before ``ClearHiddenTests``):
  a cell that holds hidden tests keeps the check's message (which input
  failed, expected, got, hint) but not the traceback, whose source lines
  would reveal the hidden test code that ``ClearHiddenTests`` strips.
"""
import time
from queue import Empty

from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Float, Unicode

from . import tamper

#: Notebook metadata key where the tamper flags are recorded for reports.
METADATA_KEY = "autodiff_course"


def error_output(ename, evalue):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


#: The ``ename`` of the outputs ResilientExecute writes, for reports.
DEAD_KERNEL = "DeadKernelError"
NOT_RUN = "NotRun"
TIMEOUT = "CellTimeoutError"


def sliced_get_msg(get_msg, step=0.25):
    """``get_msg(timeout)`` as a series of short waits, each of which re-checks the socket."""
    async def get_msg_sliced(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = step if deadline is None else max(0.0, min(step, deadline - time.monotonic()))
            try:
                return await get_msg(timeout=wait)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
    return get_msg_sliced


class ResilientExecute(Execute):
    """nbgrader's Execute, but a dead or stuck kernel ends the run, not the grading."""

    unresponsive_wait = Float(
        10.0, help="Seconds a kernel may stay busy after a timed-out cell was interrupted"
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        # Behaves exactly like jupyter_client's AsyncKernelManager unless a warm
        # kernel server is announced in $AUTODIFF_WARM_KERNEL (parallel grading).
        from .warmkernel import WarmKernelManager
        kwargs.setdefault("kernel_manager_class", WarmKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped = None
        return super().preprocess(nb, resources, km)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = sliced_get_msg(channel.get_msg)
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._stopped is not None:
            where, why = self._stopped
            cell.outputs = [error_output(NOT_RUN, f"not run: {why} in cell {where}")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stopped = (index, "the kernel died")
            cell.outputs.append(error_output(
                DEAD_KERNEL, "the kernel died while running this cell (os._exit, sys.exit in C code, "
                             "a crash in compiled code, or out of memory)"))
            return cell, self.resources
        if any(o.get("ename") == TIMEOUT for o in cell.get("outputs", [])) and not self._responsive():
            self._stopped = (index, "the kernel stayed busy after this cell timed out")
            cell.outputs.append(error_output(
                TIMEOUT, f"the cell ran longer than {self.timeout} s and ignored the interrupt; "
                         "the kernel was stopped"))
            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except Exception as err:  # the kernel is beyond help; cleanup copes with a dead one
                self.log.warning("could not stop the stuck kernel: %s", err)
        return cell, self.resources

    def _responsive(self):
        """Does the kernel answer a kernel_info request within `unresponsive_wait`?"""
        saved = self.timeout
        self.timeout = self.unresponsive_wait
        try:
            reply = self.wait_for_reply(self.kc.kernel_info())
        except Exception:
            return False
        finally:
            self.timeout = saved
        return bool(reply) and reply.get("msg_type") == "kernel_info_reply"


class TamperScan(NbGraderPreprocessor):
    """Withhold the points that a tampering cell could have bought."""

    def _instructor_code(self, info):
        """Code cells of the release notebook: cells the student left as given are not theirs."""
        import os

        import nbformat
        from nbgrader.coursedir import CourseDirectory
        coursedir = CourseDirectory(config=self.config)
        path = os.path.join(coursedir.format_path(coursedir.release_directory, ".", info["assignment"]),
                            info["notebook"] + ".ipynb")
        try:
            release = nbformat.read(path, as_version=4)
        except (OSError, ValueError):
            return set()
        return {cell.source for cell in release.cells if cell.cell_type == "code"}

    def preprocess(self, nb, resources):
        instructor = self._instructor_code(resources["nbgrader"])
        flags = tamper.scan_cells(nb.cells, lambda i, cell: tamper.is_student_cell(cell)
                                  and cell.source not in instructor)
        nb.metadata[METADATA_KEY] = {"tamper": [str(f) for f in flags]}
        if not flags:
            return nb, resources
        first = min(f.cell for f in flags)
        info = resources["nbgrader"]
        self.log.warning("Tampering flagged in %s/%s/%s; the graded cells after cell %d need manual grading: %s",
                         info["student"], info["assignment"], info["notebook"], first,
                         "; ".join(str(f) for f in flags))
        message = ("Tamper scan: this notebook changes what the checks compute, so the graded "
                   "cells after it were not scored automatically (sent to manual grading):\n"
                   + "\n".join(f"  {f}" for f in flags))
        solution_cells = [i for i, cell in enumerate(nb.cells) if utils.is_solution(cell)]
        before = [i for i in solution_cells if i <= first]
        comment_cell = before[-1] if before else (solution_cells[0] if solution_cells else None)

        with Gradebook(info["db_url"]) as gb:
            for index, cell in enumerate(nb.cells):
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if index > first and utils.is_grade(cell):
                    grade = gb.find_grade(grade_id, info["notebook"], info["assignment"], info["student"])
                    grade.auto_score = 0
                    grade.needs_manual_grade = True
                    cell.outputs.append(NotebookNode(
                        output_type="stream", name="stderr",
                        text=f"⚠ not scored automatically: tampering flagged in cell {first} "
                             "(see the comment on your solution)\n"))
                if index == comment_cell:
                    try:
                        comment = gb.find_comment(grade_id, info["notebook"], info["assignment"], info["student"])
                    except MissingEntry:
                        continue
                    comment.auto_comment = message
            gb.db.commit()
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        return cell, resources


class HideHiddenTestTracebacks(NbGraderPreprocessor):
    """Cut the tracebacks of cells with hidden tests down to the error message."""

    begin_test_delimeter = Unicode("BEGIN HIDDEN TESTS").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or self.begin_test_delimeter not in cell.source:
            return cell, resources
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
