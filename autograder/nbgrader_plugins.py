"""nbgrader preprocessors the course adds to the stock pipeline.

All are registered in ``course/nbgrader_config.py``, so they apply to every
route into nbgrader: ``python -m autograder autograde``, plain ``nbgrader
autograde`` and the formgrader's buttons.

- :class:`SandboxGrade` (autograde, instead of ``Execute``): the verdicts of
  :mod:`autograder.verdicts`, computed outside the student's process.
- :class:`HideHiddenTestTracebacks` (feedback, before ``ClearHiddenTests``):
  a cell that holds hidden tests keeps the check's message (which input
  failed, expected, got, hint) but not the traceback, whose source lines
  would reveal the hidden test code that ``ClearHiddenTests`` strips.
- :class:`StudentErrors` and :class:`FeedbackCSS` (feedback): every error shows the
  message only, without server paths; long output lines wrap.
- :class:`DueDates` (autograde): per-lesson due dates from the config into the gradebook,
  for nbgrader's late-submission penalty.
- :class:`OverwriteCellsHiddenTestsAware` (autograde's sanitizing): no "checksum has
  changed" warning for a test cell left as released.
"""
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells
from traitlets import Dict, Float, List, Unicode, default


#: Notebook metadata key where the problems of a graded notebook are recorded for reports.
METADATA_KEY = "autodiff_course"


def error_output(ename, evalue):
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


#: The ``ename`` of a graded cell's error output when the student's code ended its process
#: or timed out.
DEAD_KERNEL = "ProcessEnded"
TIMEOUT = "CellTimeoutError"


class SandboxGrade(NbGraderPreprocessor):
    """Score the graded cells from verdicts computed outside the student's process.

    Replaces nbgrader's ``Execute`` in the autograde pipeline: no kernel runs
    the notebook. :func:`autograder.verdicts.grade` runs the student's cells in
    a sealed sandbox and the instructor's test cells here, with the checks and
    the oracle; each test cell gets one output, the check's ✓ line or an error
    whose message says what failed, and ``SaveAutoGrades`` scores it as usual
    (an error output means 0 points). The student's own cells get the output
    and error they produced in the sandbox, for the feedback.
    """

    timeout = Float(30.0, help="Seconds a cell of the student's code (or one check) may run").tag(config=True)
    protected = List(Unicode(), help="More folders the student's code may not read (a cluster worker's "
                                     "shared submissions folder)").tag(config=True)

    def _source(self, info):
        import os

        import nbformat
        from nbgrader.coursedir import CourseDirectory
        coursedir = CourseDirectory(config=self.config)
        path = os.path.join(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]),
                            info["notebook"] + ".ipynb")
        return nbformat.read(path, as_version=4), coursedir.root, os.path.dirname(path)

    def preprocess(self, nb, resources):
        import os

        from . import verdicts
        info = resources["nbgrader"]
        source, course_root, source_dir = self._source(info)
        workdir = resources.get("metadata", {}).get("path") or os.getcwd()
        result = verdicts.grade(nb, source, info["assignment"], workdir, timeout=self.timeout,
                                protected=protected_paths(course_root) + list(self.protected), allow=(workdir,),
                                source_dir=source_dir)
        nb.cells = result.merged.cells
        apply_outputs(nb, result)
        nb.metadata[METADATA_KEY] = {"problems": list(result.problems)}
        for problem in result.problems:
            self.log.warning("%s/%s/%s: %s", info["student"], info["assignment"], info["notebook"], problem)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        return cell, resources


def protected_paths(course_root):
    """Folders the code being graded may not read: the course (solutions, hidden tests, other
    students' work, the gradebook), the grader and the reference library's sources."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    import autodiff_ref
    return [course_root, here, os.path.dirname(os.path.abspath(autodiff_ref.__file__))]


#: The ``ename`` of a graded cell's error output, by verdict status.
ENAMES = {"failed": "CheckFailure", "timed out": TIMEOUT, "process died": DEAD_KERNEL,
          "policy": "PolicyViolation"}


def apply_outputs(nb, result):
    """Write the verdicts into the notebook's cells (nbgrader scores graded cells from them)."""
    by_index = {}
    graded = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.get("nbgrader", {}).get("solution")]
    for index, verdict in zip(graded, result.cells):
        by_index[index] = verdict
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        if index in by_index:
            v = by_index[index]
            if v.status == "passed":
                cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=(v.message or "✓") + "\n")]
            else:
                cell.outputs = [error_output(ENAMES.get(v.status, "CheckFailure"), v.message)]
            continue
        out, error = result.outputs.get(index, ("", None))
        outputs = []
        if out:
            outputs.append(NotebookNode(output_type="stream", name="stdout", text=out))
        if error:
            name, message, lines = error
            outputs.append(NotebookNode(output_type="error", ename=name, evalue=message,
                                        traceback=[*lines, f"{name}: {message}"]))
        cell.outputs = outputs


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


class StudentErrors(NbGraderPreprocessor):
    """Feedback: every error output shows ``name: message`` only, with server paths cut to the
    file's name. The checks' messages (input, expected, got, hint) are whole; the grader's
    internal tracebacks and the folders of the server are not the student's business."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.evalue = scrub_paths(output.get("evalue", ""))
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


_PATH = None


def scrub_paths(text):
    """Absolute paths in `text` shortened to their last part (``/srv/course/x/y.py`` -> ``y.py``)."""
    global _PATH
    import re
    if _PATH is None:
        _PATH = re.compile(r"(?<![\w).\]])(?:/[^\s/'\"():,]+){2,}")
    return _PATH.sub(lambda m: m.group(0).rsplit("/", 1)[-1], text or "")


#: Feedback: long lines of outputs (a check's hint) wrap instead of scrolling off the right edge.
WRAP_CSS = """
.jp-OutputArea-output pre, .output_area pre, div.output_subarea pre {
  white-space: pre-wrap; overflow-wrap: anywhere; }
"""


class FeedbackCSS(CSSHTMLHeaderPreprocessor):
    """nbconvert's inlined CSS plus :data:`WRAP_CSS`."""

    @default("enabled")
    def _enabled_default(self):
        return True   # nbgrader registers preprocessors without enabling them

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        resources.setdefault("inlining", {}).setdefault("css", []).append(WRAP_CSS)
        return nb, resources


class DueDates(NbGraderPreprocessor):
    """Autograde: each lesson's due date from the course config, put into the gradebook before
    nbgrader's ``AssignLatePenalties`` reads it (with the ``timestamp.txt`` of the submission).

    ``c.DueDates.due = {"lesson1_dual_numbers": "2027-02-01 17:00:00 Europe/Berlin"}``; the
    penalty is ``c.LateSubmissionPlugin.penalty_method`` ("none": only flagged; "zero")."""

    due = Dict(help="{assignment: due date}, e.g. '2027-02-01 17:00:00 UTC'").tag(config=True)

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook
        from nbgrader.utils import parse_utc
        info = resources["nbgrader"]
        when = self.due.get(info["assignment"])
        if when:
            with Gradebook(info["db_url"]) as gb:
                gb.update_or_create_assignment(info["assignment"], duedate=parse_utc(when))
        return nb, resources


class OverwriteCellsHiddenTestsAware(OverwriteCells):
    """nbgrader's ``OverwriteCells`` without the "checksum has changed" warning for a test cell
    the student left as released: the gradebook keeps the cell with its hidden tests, the release
    has them stripped, so every untouched cell used to warn. Edited cells still warn."""

    def preprocess_cell(self, cell, resources, index):
        from nbgrader.api import MissingEntry
        from nbgrader.utils import is_locked

        from .notebooks import strip_hidden_tests
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid and cell.cell_type == "code" and is_locked(cell):
            try:
                original = self.gradebook.find_source_cell(gid, self.notebook_id, self.assignment_id).source
            except MissingEntry:
                original = None
            if original is not None and cell.source != original and \
                    _normalised(strip_hidden_tests(cell.source)) == _normalised(strip_hidden_tests(original)):
                cell.source = original
        return super().preprocess_cell(cell, resources, index)


def _normalised(text):
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())
