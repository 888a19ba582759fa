"""The mutation engine: which mutants it makes, that tests catch them, and that
weak tests catch fewer. Per lesson: the mutation score of its checks."""
import ast

import pytest

from autograder import mutation, notebooks

from conftest import FIXTURE, lesson_names, make_course

SRC = '''# Task: a function
def f(x, y):
    """Docstring 2 + 2 stays."""
    z = 3 * x  # outside the region: never mutated
    ### BEGIN SOLUTION
    total = 0.0
    for i in range(2):
        total += x[i] - y
    if total < 1:
        return -total
    return max(total, 1.5)
    ### END SOLUTION'''


def test_mutants_only_inside_the_solution_region():
    ms = mutation.mutants_of_source(SRC)
    assert ms
    region = range(6, 12)  # 1-based lines between the markers
    assert all(m["line"] in region for m in ms)
    for m in ms:
        assert "3 * x" in m["source"] and "Docstring 2 + 2" in m["source"]
        assert "### BEGIN SOLUTION" in m["source"]
        ast.parse(m["source"])
        assert m["source"] != SRC


def test_mutant_kinds():
    kinds = {(m["kind"], m["original"], m["mutated"]) for m in mutation.mutants_of_source(SRC)}
    assert ("accumulate", "total += x[i] - y", "total = x[i] - y") in kinds      # += → =
    assert ("operator", "x[i] - y", "(x[i] + y)") in kinds
    assert ("comparison", "total < 1", "(total <= 1)") in kinds
    assert ("negate", "-total", "total") in kinds
    assert ("swap", "max(total, 1.5)", "max(1.5, total)") in kinds
    assert ("constant", "1.5", "2.5") in kinds
    assert ("drop term", "x[i] - y", "x[i]") in kinds
    assert ("negate", "total < 1", "(not (total < 1))") in kinds


def test_non_ascii_source_keeps_offsets():
    src = 'def g(ε):\n    ### BEGIN SOLUTION\n    s = "αβ"; return ε * 2 + len(s)\n    ### END SOLUTION'
    ms = mutation.mutants_of_source(src)
    assert any(m["original"] == "ε * 2" and "ε / 2" in m["source"] for m in ms)
    for m in ms:
        ast.parse(m["source"])


@pytest.mark.slow
def test_fixture_mutants_are_caught_and_weak_tests_catch_fewer(tmp_path):
    course = make_course(tmp_path / "course", fixture=True)
    (report,) = mutation.mutate_course(course, [FIXTURE], jobs=2, log=None)
    assert report["baseline"]["ok"], report["baseline"]
    assert report["total"] >= 15
    regions = {m["grade_id"] for m in report["mutants"]}
    assert regions == {"central_difference", "grad_sum_squares"}
    assert report["caught"] == report["total"], [m for m in report["mutants"] if m["status"] == "survived"]
    assert mutation.format_report([report]).count("100.0%") == 1

    # weaken the tests: call the functions but check nothing
    path = course.source_notebook(FIXTURE)
    nb = notebooks.read(path)
    for cell in nb.cells:
        if notebooks.is_graded(cell):
            cell.source = ("value = central_difference(math.sin, 1.0, 0.1)\n"
                           "assert abs(value) < 10")
    notebooks.write(nb, path)
    (weak,) = mutation.mutate_course(course, [FIXTURE], jobs=2, log=None)
    assert weak["total"] == report["total"]
    assert weak["caught"] < report["caught"] / 2
    survivors = [m for m in weak["mutants"] if m["status"] == "survived"]
    text = mutation.format_report([weak])
    assert all(m["original"] in text for m in survivors[:3])


@pytest.mark.slow
@pytest.mark.parametrize("assignment", lesson_names())
def test_lesson_mutation_score(assignment, tmp_path):
    course = make_course(tmp_path / "course", [assignment])
    (report,) = mutation.mutate_course(course, [assignment], log=None)
    print(mutation.format_report([report]))
    assert report["baseline"]["ok"], f"the solution fails its own tests: {report['baseline']['failures']}"
    nb = notebooks.read(course.source_notebook(assignment))
    regions = {gid for _, gid in notebooks.solution_cells(nb)}
    assert regions <= {m["grade_id"] for m in report["mutants"]}, "every solution region gets mutants"
    assert not report["stale_equivalent"], \
        f"course/equivalent_mutants/{assignment}.json lists mutants that do not survive: {report['stale_equivalent']}"
    assert report["score"] >= 0.95, mutation.format_report([report])


def test_equivalent_entries_mark_survivors_and_stale_ones_are_reported():
    mutant = lambda status, mutated: {"grade_id": "t", "original": "a + b", "mutated": mutated, "status": status}
    report = {"mutants": [mutant("survived", "b + a"), mutant("caught", "a - b"), mutant("survived", "a * b")],
              "total": 3, "caught": 1}
    listed = [{"grade_id": "t", "original": "a + b", "mutated": m, "why": "…"} for m in ("b + a", "a - b")]
    report = mutation.apply_equivalent(report, listed)
    assert report["equivalent"] == 1 and report["score"] == 0.5
    assert [e["mutated"] for e in report["stale_equivalent"]] == ["a - b"], "a caught mutant is not equivalent"
