"""The similarity review (copydetect): planted copies and renamed near-copies are flagged,
independent correct solutions and blank notebooks are not; the autograde report lists the pairs."""
import csv
import re

import pytest

from autograder import notebooks, similarity
from autograder.cli import main
from conftest import make_course
from similarity_solutions import ALICE, DAVE

LESSON = "lesson0_three_ways"
pytest.importorskip("copydetect")


def renamed(code):
    """A near-copy: variables renamed, comments reworded, spacing changed."""
    for old, new in [("forward", "f_plus"), ("backward", "f_minus"), ("slope", "deriv"), ("out", "result"),
                     ("step", "e_k"), ("up", "hi"), ("down", "lo"), ("pp", "a"), ("pm", "b"), ("mp", "c"),
                     ("mm", "d"), ("k", "idx"), ("n", "size"), ("grad", "g"), ("e", "unit")]:
        code = re.sub(rf"\b{old}\b", new, code)
    return code.replace("# Task", "#   my task").replace(" = ", "=")


def batch(source):
    """{student: notebook}: copies of the reference and of a classmate, renamed near-copies,
    two independent solutions and a blank."""
    reference = notebooks.solution_sources(source)
    ids = [g for g in reference]
    return {
        "refcopy": notebooks.make_submission(source, source),
        "refrenamed": notebooks.make_submission(source, source, replace={g: renamed(reference[g]) for g in ids}),
        "alice": notebooks.make_submission(source, source, replace=ALICE),
        "bob": notebooks.make_submission(source, source, replace=ALICE),
        "carol": notebooks.make_submission(source, source, replace={g: renamed(c) for g, c in ALICE.items()}),
        "dave": notebooks.make_submission(source, source, replace=DAVE),
        "blank": notebooks.make_submission(source, source, replace={
            g: similarity.released_stub(notebooks.source_text(c)) for c in source.cells
            for g in [notebooks.grade_id(c)] if g in reference}),
    }


EXPECTED = {("REFERENCE", "refcopy"), ("REFERENCE", "refrenamed"), ("refcopy", "refrenamed"),
            ("alice", "bob"), ("alice", "carol"), ("bob", "carol")}


def test_copies_flagged_independent_not(tmp_path):
    course = make_course(tmp_path / "course", [LESSON])
    source = notebooks.read(course.source_notebook(LESSON))
    for student, nb in batch(source).items():
        notebooks.write(nb, course.submitted / student / LESSON / f"{LESSON}.ipynb")
    report = similarity.review(course, LESSON)
    flagged = {(p.first, p.second) for p in report["suspicious"]}
    assert flagged == EXPECTED
    by_pair = {(p.first, p.second): p for p in report["pairs"]}
    for a, b in [("REFERENCE", "alice"), ("REFERENCE", "dave"), ("alice", "dave"), ("blank", "dave")]:
        pair = by_pair.get((a, b)) or by_pair[(b, a)]
        assert pair.score < 0.5, pair
    rows = list(csv.DictReader(report["csv"].open()))
    assert {(r["first"], r["second"]) for r in rows if r["suspicious"] == "1"} == EXPECTED
    html = report["html"].read_text()
    assert "alice" in html and "carol" in html
    text = similarity.format_review(report)
    assert "6 suspicious pair(s)" in text and "alice ~ carol" in text


def test_tiny_solutions_are_not_evidence(tmp_path):
    """Two one-line solutions that happen to coincide share too few tokens to be flagged."""
    docs = {"REFERENCE": "def g(x):\n    return 2 * x\n", "a": "def g(x):\n    return 2 * x\n",
            "b": "def g(y):\n    return 2 * y\n"}
    _, suspicious = similarity.compare(docs, "def g(x):\n    raise NotImplementedError()\n", tmp_path)
    assert suspicious == []


@pytest.mark.slow
def test_autograde_report_lists_suspicious_pairs(tmp_path, capsys):
    course = make_course(tmp_path / "course", [LESSON])
    course.generate([LESSON], log=lambda m: None)
    release = notebooks.read(course.release_notebooks(LESSON)[0])
    source = notebooks.read(course.source_notebook(LESSON))
    subs = {"alice": notebooks.make_submission(release, source, replace=ALICE),
            "carol": notebooks.make_submission(release, source, replace={g: renamed(c) for g, c in ALICE.items()}),
            "dave": notebooks.make_submission(release, source, replace=DAVE),
            "blank": notebooks.make_submission(release)}
    for student, nb in subs.items():
        notebooks.write(nb, tmp_path / "incoming" / student / LESSON / f"{LESSON}.ipynb")
    assert main(["--course", str(course.root), "autograde", str(tmp_path / "incoming"), "-a", LESSON,
                 "-j", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"alice\s+\S+/\S+\s+ok", out) and re.search(r"dave\s+\S+/\S+\s+ok", out), out
    assert "1 suspicious pair(s)" in out and "alice ~ carol" in out, out
    assert (course.root / "similarity" / LESSON / "similarity.html").is_file()
