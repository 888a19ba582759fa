"""What a student reads in the feedback (nbgrader generate_feedback with the course config):
the check's message, never internal tracebacks or server paths; long lines wrap; a time-out
says what happened."""
import re

import pytest

from autograder import grading, notebooks
from autograder.cli import main as cli_main

from conftest import FIXTURE


@pytest.mark.slow
def test_feedback_shows_messages_not_internals(fixture_course, tmp_path):
    course = fixture_course
    release = notebooks.read(course.release_notebooks(FIXTURE)[0])
    source = notebooks.read(course.source_notebook(FIXTURE))
    wrong = notebooks.load_wrong_submissions(course.wrong_submissions_dir / f"{FIXTURE}.json")[0]
    loop = "# Task 1: the central difference\ndef central_difference(f, x, h):\n    while True:\n        pass"
    crash = "# Task 2\nimport numpy\ndef grad_sum_squares(x):\n    return 2 * x\nnumpy.load('/etc/nothing/here.npy')"
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for name, replace in (("wrong", wrong["replace"]), ("loop", {"central_difference": loop}),
                          ("crash", {"grad_sum_squares": crash})):
        notebooks.write(notebooks.make_submission(release, source, replace=replace), incoming / f"{name}.ipynb")
    grading.autograde(course, incoming, FIXTURE, jobs=2, log=lambda m: None)
    assert cli_main(["--course", str(course.root), "feedback", "-a", FIXTURE]) == 0
    pages = {s: (course.feedback_dir / s / FIXTURE / f"{FIXTURE}.html").read_text() for s in ("wrong", "loop", "crash")}
    assert "one-sided (forward) difference" in pages["wrong"], "the check's message"
    assert "hint:" in pages["wrong"]
    assert re.search(r"\.jp-OutputArea-output pre[^{]*\{[^}]*white-space:\s*pre-wrap", pages["wrong"]), \
        "long lines of an output wrap"
    assert "ran longer than 4 s" in pages["loop"] and "infinite loop" in pages["loop"], \
        "a time-out says what happened (this already worked when the test was written)"
    assert "KeyboardInterrupt" not in pages["loop"]
    for student, page in pages.items():
        assert "Traceback (most recent call last)" not in page, student
        assert "HIDDEN_SEED" not in page, student
        for internal in (str(course.root), "/tmp/", "site-packages", "autograder/", "/work/"):
            assert internal not in page, (student, internal)


@pytest.mark.parametrize("ename, status", [("CellTimeoutError", grading.STATUS_TIMEOUT),
                                           ("KeyboardInterrupt", grading.STATUS_FAILED),
                                           ("CheckFailure", grading.STATUS_FAILED)])
def test_a_cell_is_timed_out_only_when_the_grader_says_so(ename, status):
    """Only the grader's own time-out error means "timed out": a student's code that raises
    KeyboardInterrupt itself failed, and the report says what it raised."""
    cell = {"outputs": [{"output_type": "error", "ename": ename, "evalue": "stopped", "traceback": []}]}
    got, message = grading.cell_outcome(cell)
    assert got == status
    if status == grading.STATUS_FAILED and ename != "CheckFailure":
        assert message.startswith(ename)
