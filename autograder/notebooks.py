"""Reading nbgrader notebooks: cells by role, solution regions, titles, submissions.

Nothing here runs code; it is the vocabulary the rest of the workflow uses.
A *source* notebook is the instructor's (solutions between ``### BEGIN
SOLUTION`` / ``### END SOLUTION``, hidden tests between ``### BEGIN HIDDEN
TESTS`` / ``### END HIDDEN TESTS``); a *release* notebook is what
``nbgrader generate_assignment`` gives students.
"""
import copy
import json
import re
from pathlib import Path

import nbformat

BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"
BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"


def read(path):
    """Read a notebook (version 4). Raises ValueError naming the file if it is not one."""
    try:
        return nbformat.read(str(path), as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as err:
        raise ValueError(f"{path} is not a notebook (malformed JSON: {err})") from None
    except Exception as err:  # nbformat raises a zoo of validation errors
        raise ValueError(f"{path} could not be read as a notebook: {type(err).__name__}: {err}") from None


def write(nb, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def source_text(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell):
    return meta(cell).get("grade_id")


def is_solution(cell):
    return bool(meta(cell).get("solution"))


def is_graded(cell):
    return bool(meta(cell).get("grade"))


def is_locked(cell):
    return bool(meta(cell).get("locked"))


def points(cell):
    return float(meta(cell).get("points", 0) or 0)


def graded_cells(nb):
    """[(index, grade_id, points)] of the graded cells, in notebook order."""
    return [(i, grade_id(c), points(c)) for i, c in enumerate(nb.cells) if is_graded(c)]


def max_score(nb):
    return sum(p for _, _, p in graded_cells(nb))


def solution_cells(nb):
    """[(index, grade_id)] of the solution code cells."""
    return [(i, grade_id(c)) for i, c in enumerate(nb.cells) if is_solution(c) and c.cell_type == "code"]


def solution_regions(source):
    """Line ranges (0-based, end exclusive) strictly between BEGIN/END SOLUTION markers."""
    regions, start = [], None
    for i, line in enumerate(source.split("\n")):
        if BEGIN_SOLUTION in line:
            start = i + 1
        elif END_SOLUTION in line and start is not None:
            regions.append((start, i))
            start = None
    return regions


def strip_markers(source):
    """The solution as a student would type it: the source without marker lines."""
    return "\n".join(line for line in source.split("\n")
                     if BEGIN_SOLUTION not in line and END_SOLUTION not in line)


def has_hidden_tests(source):
    return BEGIN_HIDDEN in source


def strip_hidden_tests(source):
    out, hidden = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def hidden_test_lines(source):
    """The non-blank lines inside hidden-test regions (to prove they do not leak)."""
    lines, hidden = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif hidden and line.strip():
            lines.append(line.strip())
    return lines


_MAGIC = re.compile(r"^\s*[%!]")


def strip_magics(source):
    """`source` with every IPython magic or shell line (``%…``, ``!…``) blanked: plain Python
    that keeps its line numbers."""
    return "\n".join("" if _MAGIC.match(line) else line for line in source.split("\n"))


_HEADING = re.compile(r"^\s*#\s+(.+?)\s*#*\s*$", re.M)


def title(nb, default=""):
    """The text of the first level-1 markdown heading (any level if there is none)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = source_text(cell)
        m = _HEADING.search(text)
        if m:
            return m.group(1).strip()
        m = re.search(r"^\s*#{1,6}\s+(.+?)\s*$", text, re.M)
        if m:
            return m.group(1).strip()
    return default


def summary(nb, default=""):
    """One line on what a notebook teaches: its metadata's ``course.summary`` (written for the
    purpose; the README's table of lessons shows the same lines), else the first sentence of
    prose after its title (for an instructor's own notebook that has none)."""
    written = nb.metadata.get("course", {}).get("summary")
    if written:
        return written
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for para in re.split(r"\n\s*\n", source_text(cell)):
            para = para.strip()
            if not para or para.startswith(("#", "|", "```", "<", "$$", "!", "---")):
                continue
            text = " ".join(line.strip().lstrip("-*> ").strip() for line in para.splitlines())
            m = re.match(r"(.+?[.!?])(\s|$)", text)
            sentence = m.group(1) if m else text
            return sentence if len(sentence) <= 200 else sentence[:197].rstrip() + "…"
    return default


def solution_sources(source_nb):
    """{grade_id: solution code as a student would write it} of a source notebook."""
    return {grade_id(c): strip_markers(source_text(c)) for c in source_nb.cells
            if is_solution(c) and grade_id(c)}


def make_submission(release_nb, source_nb=None, *, replace=None, remove=()):
    """A student submission built from the release notebook.

    `source_nb` given: solution cells get the instructor's solution (a perfect
    submission); otherwise they keep the release stub (a blank submission).
    `replace` maps grade_ids to new cell sources (a wrong answer, a mutant, a
    tampering cell); `remove` lists grade_ids of cells to delete.
    """
    nb = copy.deepcopy(release_nb)
    solutions = solution_sources(source_nb) if source_nb is not None else {}
    replace = dict(replace or {})
    unknown = set(replace) - {grade_id(c) for c in nb.cells}
    if unknown:
        raise KeyError(f"no cell with grade_id {sorted(unknown)} in the notebook")
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in replace:
            cell.source = replace[gid]
        elif gid in solutions:
            cell.source = solutions[gid]
    nb.cells = [c for c in nb.cells if grade_id(c) not in set(remove)]
    return nb


def code_of(value):
    """A cell source given as a string or a list of lines (JSON-friendly)."""
    return "\n".join(value) if isinstance(value, list) else value


def load_wrong_submissions(path):
    """Read a course's realistic wrong submissions for one assignment.

    The file (``course/wrong_submissions/<assignment>.json``) is a list of
    objects::

        {"name": "one-sided difference",
         "replace": {"<solution grade_id>": "code" or ["line", ...]},
         "fails": {"<graded cell grade_id>": ["text the feedback must contain", ...]}}

    Every solution cell not named in ``replace`` keeps the instructor's
    solution. The graded cells listed in ``fails`` must score 0 and show each
    text in their output; every other graded cell must get full points.
    """
    path = Path(path)
    data = json.loads(path.read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of wrong submissions, got {type(data).__name__}")
    out = []
    for i, entry in enumerate(data):
        missing = {"name", "replace", "fails"} - set(entry)
        if missing:
            raise ValueError(f"{path}: entry {i} lacks {sorted(missing)}")
        fails = entry["fails"]
        if isinstance(fails, list):
            fails = {gid: [] for gid in fails}
        out.append({"name": entry["name"],
                    "replace": {k: code_of(v) for k, v in entry["replace"].items()},
                    "fails": {k: list(v) for k, v in fails.items()}})
    return out
