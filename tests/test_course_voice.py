"""The course speaks for itself: no notebook passage and no check message refers to
material the student does not have (slides, lecture notes, a report, a proposal, "the
study", "a source this course grew from", "corrections" to them). Instructor-only
remarks live in docs/instructor_notes.md, which this test does not read."""
import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: Phrases that point at documents outside the course.
OUTSIDE = re.compile(
    r"\bslides?\b|\blectures?\b|lecture notes|\bthe report\b|\breport's\b|\bproposal\b|"
    r"\bthe study\b|\bgrew from\b|\bseed (?:slides|documents?|material)\b|"
    r"course's sources?|\bcorrections? to\b|\bour sources?\b",
    re.IGNORECASE)

NOTEBOOKS = sorted((ROOT / "course" / "source").glob("*/*.ipynb"))
LESSON_MODULES = sorted((ROOT / "autograder" / "lessons").rglob("*.py"))


def _hits(text):
    return [m.group(0) for m in OUTSIDE.finditer(text)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_text_refers_to_no_outside_material(path):
    """Markdown and code (comments, strings, names) of every cell; cell ids and
    grade ids are metadata the student never reads, and stay as they were."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = [(c.get("id"), hit) for c in cells for hit in _hits("".join(c["source"]))]
    assert not found, f"{path.name}: references to material the student does not have: {found}"


@pytest.mark.parametrize("path", LESSON_MODULES, ids=lambda p: str(p.relative_to(ROOT / "autograder" / "lessons")))
def test_lesson_code_refers_to_no_outside_material(path):
    """Hints, case names, figure titles and docstrings of the lesson checks."""
    found = [(n + 1, hit) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines())
             for hit in _hits(line)]
    assert not found, f"{path.name}: references to material the student does not have: {found}"


def test_the_pattern_catches_what_it_should():
    for text in ("as in the lecture slides", "the report's table", "A correction to the study",
                 "a source this course grew from", "the seed slides' variant", "the proposal slides"):
        assert _hits(text), text
    for text in ("a common slip is to drop the minus sign", "report(name, value)",
                 "the reporting every check shares", "select a slice of x"):
        assert not _hits(text), text
