"""What the class got wrong: per lesson and question, students per misconception (from the
hint lines of the graded notebooks' check messages), as CSV, markdown and a plot."""
import csv

import pytest

from autograder import grading, misconceptions, notebooks
from autograder.checks import CheckFailure, NOT_DONE_HINT
from autograder.cli import main
from conftest import FIXTURE


def test_hint_lines_name_the_misconception():
    msg = str(CheckFailure("ratio", inputs={"h": 0.1}, expected=4.0, got=2.01,
                           hint="a ratio near 2.01 means a first-order formula"))
    assert misconceptions.misconceptions_of("failed", msg) == ["a ratio near … means a first-order formula"]
    assert misconceptions.misconceptions_of("failed", "✗ wrong shape\n  got: 3") == ["wrong shape"]
    assert misconceptions.misconceptions_of("failed", f"✗ x\n  hint: {NOT_DONE_HINT}") == \
        [misconceptions.NOT_ATTEMPTED]
    assert misconceptions.misconceptions_of("timed out", "…") == ["[timed out]"]
    assert misconceptions.misconceptions_of("passed", "") == []


@pytest.mark.slow
def test_class_table_and_plot_from_a_mixed_batch(fixture_course, tmp_path):
    release = notebooks.read(fixture_course.release_notebooks(FIXTURE)[0])
    source = notebooks.read(fixture_course.source_notebook(FIXTURE))
    wrong = notebooks.load_wrong_submissions(fixture_course.wrong_submissions_dir / f"{FIXTURE}.json")
    one_sided, by_h, no_factor = (w["replace"] for w in wrong)
    subs = {"s1": notebooks.make_submission(release, source),
            "s2": notebooks.make_submission(release, source, replace=one_sided),
            "s3": notebooks.make_submission(release, source, replace=one_sided),
            "s4": notebooks.make_submission(release, source, replace={**by_h, **no_factor}),
            "s5": notebooks.make_submission(release)}
    for student, nb in subs.items():
        notebooks.write(nb, tmp_path / "in" / student / FIXTURE / f"{FIXTURE}.ipynb")
    grading.autograde(fixture_course, tmp_path / "in", FIXTURE, jobs=2, log=lambda m: None)

    out = tmp_path / "report" / "misconceptions"
    assert main(["--course", str(fixture_course.root), "export", "--misconceptions", str(out)]) == 0
    with open(out.with_suffix(".csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    count = {(r["question"], r["misconception"]): (int(r["students"]), r["who"]) for r in rows}
    assert all(r["submissions"] == "5" for r in rows)
    one_sided_hint = "that is the one-sided (forward) difference; use f(x + h) and f(x - h)"
    assert count[("test_central_visible", one_sided_hint)] == (2, "s2 s3")
    assert count[("test_central_visible", "you divided by h, but the two points are 2h apart: divide by 2h")] \
        == (1, "s4")
    assert [k for k in count if k[0] == "test_grad" and "factor 2" in k[1]] and \
        count[("test_grad", misconceptions.NOT_ATTEMPTED)][0] == 1
    assert not any("s1" in who.split() for _, who in count.values())
    # most frequent first within a question, questions in notebook order
    questions = [r["question"] for r in rows]
    assert questions.index("test_central_visible") < questions.index("test_grad")
    md = out.with_suffix(".md").read_text()
    assert f"## {FIXTURE} (5 graded submission(s))" in md and "| 2 | 40% |" in md
    assert out.with_suffix(".png").stat().st_size > 10_000
