"""The one notebook executor: a notebook run top to bottom in a fresh Jupyter kernel.

Grading never runs a notebook in a kernel (see :mod:`autograder.verdicts`); this is
for seeing a lesson as a student sees it: the test suite runs every lesson once
with it, and ``python -m autograder.execute NOTEBOOK [WORKDIR]`` runs one in any
environment (the install rehearsal uses it in a fresh venv) and prints a JSON
summary of every code cell's outputs on its last line, after ``RESULT``.

Kernel replies are awaited in short slices: a single long wait on the asyncio ZMQ
socket sometimes misses the wake-up and sits out the whole cell timeout although
the reply is there (seen after cells that display widgets).

Asked to, the run also audits every figure the notebook shows (see
:mod:`autograder.figure_audit`): the kernel checks each figure as it is drawn, and after
each code cell moves the first slider the cell created and reports what it found.
"""
import ast
import json
import sys
import time
from queue import Empty


def sliced(get_msg, step=0.25):
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


_AUDIT = "__import__('autograder.figure_audit').figure_audit"


def run(nb, workdir, *, timeout=120, allow_errors=False, figure_problems=None):
    """Execute `nb` (an nbformat notebook, changed in place) with `workdir` as its folder.

    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell unless
    `allow_errors`. With a list as `figure_problems`, every figure shown (widgets' figures
    too, before and after one slider move) is audited and each problem is appended to it as
    ``"cell N: …"``. Returns `nb`."""
    from nbclient import NotebookClient
    from nbclient.util import ensure_async

    class Client(NotebookClient):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            for channel in (kc.shell_channel, kc.iopub_channel):
                channel.get_msg = sliced(channel.get_msg)
            if figure_problems is not None:
                await self.evaluate(f"{_AUDIT}.install()")
            return kc

        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            cell = await super().async_execute_cell(cell, cell_index, *args, **kwargs)
            if figure_problems is not None and cell.cell_type == "code" and cell.source.strip():
                found = json.loads(await self.evaluate(f"{_AUDIT}.after_cell()"))
                figure_problems.extend(f"cell {cell_index}: {p}" for p in found)
            return cell

        async def evaluate(self, expression):
            """The value of `expression` in the kernel, by a silent request (no cell, no output)."""
            msg_id = await ensure_async(self.kc.execute("", silent=True, store_history=False,
                                                        user_expressions={"value": expression}))
            reply = await self.async_wait_for_reply(msg_id)
            value = reply["content"]["user_expressions"]["value"]
            if value["status"] != "ok":
                raise RuntimeError(f"{expression} failed in the kernel: {value['ename']}: {value['evalue']}")
            return ast.literal_eval(value["data"]["text/plain"])

    Client(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
           resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def summary(nb):
    """Per code cell: index, source, grade_id, output types, stdout and stderr."""
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        streams = {"stdout": "", "stderr": ""}
        for out in cell.outputs:
            if out.output_type == "stream":
                streams[out.name] += out.text
        cells.append({"index": i, "source": cell.source,
                      "grade_id": cell.metadata.get("nbgrader", {}).get("grade_id"),
                      "types": [o.output_type for o in cell.outputs], **streams})
    return cells


def main(argv=None):
    import os

    import nbformat
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m autograder.execute NOTEBOOK [WORKDIR]", file=sys.stderr)
        return 2
    path = args[0]
    workdir = args[1] if len(args) > 1 else os.path.dirname(os.path.abspath(path))
    nb = run(nbformat.read(path, as_version=4), workdir)
    print("RESULT " + json.dumps(summary(nb)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
