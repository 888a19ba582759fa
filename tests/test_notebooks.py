"""Every source notebook: stored clean, and executes top to bottom with its
solutions and hidden tests, every graded cell passing as nbgrader would score it, and
every figure it shows (widgets' too, before and after one slider move) passing the
figure audit."""
import shutil

import nbformat
import pytest

from autograder import execute, notebooks

from conftest import COURSE, FIXTURE, FIXTURE_COURSE

NOTEBOOKS = sorted((COURSE / "source").glob("*/*.ipynb")) + \
    [FIXTURE_COURSE / "source" / FIXTURE / f"{FIXTURE}.ipynb"]


def ids(path):
    return path.parent.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_source_notebook_is_stored_clean(path):
    nb = notebooks.read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    seen = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"cell {i} of {path.name} has outputs"
        meta = notebooks.meta(cell)
        if not meta:
            continue
        gid = meta.get("grade_id")
        assert gid and gid not in seen, f"cell {i}: grade_id {gid!r} missing or repeated"
        seen.add(gid)
        assert meta.get("schema_version") == 3
        if meta.get("grade"):
            assert meta.get("locked") and float(meta.get("points", 0)) > 0, f"graded cell {gid} must be locked, with points"
        if meta.get("solution"):
            assert not meta.get("locked")
            assert notebooks.solution_regions(notebooks.source_text(cell)), f"solution cell {gid} has no BEGIN/END SOLUTION"
    assert notebooks.graded_cells(nb), "an assignment needs graded cells"
    # the checks are imported (binding numpy) before any student code runs
    code = [c for c in nb.cells if c.cell_type == "code"]
    first_solution = next(i for i, c in enumerate(code) if notebooks.is_solution(c))
    setup = [c for c in code[:first_solution] if notebooks.is_locked(c)]
    assert any("import" in c.source and "checks" in c.source for c in setup), \
        "a locked cell before the first solution must import the lesson's checks"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_source_notebook_executes(path, tmp_path):
    # the course's layout: the other lessons beside this one, as a student's are, so a lesson
    # that builds on earlier ones (autograder.own_code) runs on their solutions
    shutil.copytree(path.parent.parent, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / path.parent.name
    nb = nbformat.read(str(path), as_version=4)
    figure_problems = []    # every figure shown, audited in the kernel as it is drawn
    # raises CellExecutionError naming the failing cell
    execute.run(nb, work, timeout=60, figure_problems=figure_problems)
    for cell in nb.cells:
        if notebooks.is_graded(cell):
            stderr = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
            assert not stderr, (f"graded cell {notebooks.grade_id(cell)} writes to stderr, which nbgrader "
                                f"scores 0: {stderr[0].text[:300]}")
            results = [o for o in cell.outputs if o.output_type == "execute_result"]
            assert not results, (f"graded cell {notebooks.grade_id(cell)} ends in a value, which nbgrader "
                                 "reads as a partial score: end it with a statement")
    took_reference = [line for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
                      if out.output_type == "stream" for line in out.text.splitlines()
                      if line.startswith(("Using the reference", "Not using your"))]
    assert not took_reference, ("beside the earlier lessons' solutions a lesson builds on them, "
                                f"but: {took_reference}")
    assert not figure_problems, ("figures that do not read cleanly (autograder.figure_audit; set "
                                 "FIGURE_AUDIT_DIR to see them as PNG):\n" + "\n".join(figure_problems))
