"""Reproducers of the instructor's bugs of issue 15, through the real nbgrader on the
fixture course. Each test failed before its fix (or says that the bug was already gone).
"""
import csv
import json
import os
import subprocess
import sys

import nbformat
import pytest

from autograder import notebooks
from autograder.cli import main as cli_main

from conftest import FIXTURE


def release_and_source(course):
    return (notebooks.read(course.release_notebooks(FIXTURE)[0]), notebooks.read(course.source_notebook(FIXTURE)))


def other_lesson(course, name="other_lesson"):
    """A second lesson in the course's source, its graded cells unlike the fixture's."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {
            "grade": False, "solution": True, "locked": False, "grade_id": "other_task", "schema_version": 3}}),
        nbformat.v4.new_code_cell("assert x == 1", metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True, "points": 1, "grade_id": "test_other",
            "schema_version": 3}})])
    folder = course.source / name
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / f"{name}.ipynb"))
    return nb


def student_ids(course):
    return sorted({r["student"] for r in course.grades()})


# --- regrading one student ---------------------------------------------------------------------------

@pytest.mark.slow
def test_a_students_folder_is_refused_and_student_grades_one(fixture_course, tmp_path, capsys):
    """Bug: pointing autograde at one student's folder (lesson folders inside) made students
    named after the lessons and graded the other lesson's notebook as this one."""
    course = fixture_course
    release, source = release_and_source(course)
    other = other_lesson(course)
    alice = tmp_path / "incoming" / "alice"
    (alice / FIXTURE).mkdir(parents=True)
    (alice / "other_lesson").mkdir()
    notebooks.write(notebooks.make_submission(release, source), alice / FIXTURE / f"{FIXTURE}.ipynb")
    nbformat.write(other, str(alice / "other_lesson" / "other_lesson.ipynb"))

    root = ["--course", str(course.root)]
    assert cli_main([*root, "autograde", str(alice), "-a", FIXTURE]) == 2
    err = capsys.readouterr().err
    assert "other_lesson" in err and "--student" in err, err
    assert student_ids(course) == [], "no student named after a lesson"
    assert not (course.submitted / FIXTURE).exists() and not (course.submitted / "other_lesson").exists()

    assert cli_main([*root, "autograde", str(alice), "-a", FIXTURE, "--student", "alice"]) == 0
    assert student_ids(course) == ["alice"]
    assert [r["total"] for r in course.grades()] == [5.0]

    assert cli_main([*root, "autograde", "-a", FIXTURE, "--student", FIXTURE]) == 2
    assert "assignment" in capsys.readouterr().err

    # the whole class folder, one student picked out (the default folder is course/submitted)
    notebooks.write(notebooks.make_submission(release), tmp_path / "incoming" / "bob.ipynb")
    assert cli_main([*root, "autograde", str(tmp_path / "incoming"), "-a", FIXTURE, "--student", "bob"]) == 0
    assert student_ids(course) == ["alice", "bob"]
    assert cli_main([*root, "autograde", "-a", FIXTURE, "--student", "alice", "--regrade"]) == 0
    assert cli_main([*root, "autograde", "-a", FIXTURE, "--student", "nobody"]) == 2


@pytest.mark.slow
def test_another_lessons_notebook_is_not_graded_as_this_one(fixture_course, tmp_path, capsys):
    course = fixture_course
    release, source = release_and_source(course)
    other = other_lesson(course)
    incoming = tmp_path / "incoming"
    (incoming / "carol").mkdir(parents=True)
    nbformat.write(other, str(incoming / "carol" / "carol_homework.ipynb"))
    notebooks.write(notebooks.make_submission(release, source), incoming / "dave.ipynb")
    out = tmp_path / "results.json"
    code = cli_main(["--course", str(course.root), "autograde", str(incoming), "-a", FIXTURE, "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 1, "something could not be graded: the exit code says so"
    assert "could not be graded" in printed and "carol" in printed
    results = {r["student"]: r for r in json.loads(out.read_text())}
    assert results["dave"]["status"] == "graded" and results["dave"]["score"] == 5.0
    assert results["carol"]["status"] == "error"
    assert "other_lesson" in results["carol"]["problems"][0], results["carol"]
    assert "carol" not in student_ids(course), "a notebook of another lesson never gets this lesson's grades"


# --- an ungradable submission: one status everywhere ---------------------------------------------------

@pytest.mark.slow
def test_a_damaged_notebook_has_one_status_everywhere(fixture_course, tmp_path, capsys):
    course = fixture_course
    release, source = release_and_source(course)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    notebooks.write(notebooks.make_submission(release, source), incoming / "good.ipynb")
    (incoming / "broken.ipynb").write_text(json.dumps(notebooks.make_submission(release, source))[:900])
    grades = tmp_path / "grades.csv"
    code = cli_main(["--course", str(course.root), "autograde", str(incoming), "-a", FIXTURE, "--csv", str(grades)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "1 submission(s) could not be graded" in printed and "broken" in printed
    assert "Please see the above traceback" not in printed
    rows = {r["student"]: r for r in csv.DictReader(grades.open())}
    assert rows["good"]["status"] == "graded"
    assert rows["broken"]["status"].startswith("not graded") and "JSON" in rows["broken"]["status"]
    assert rows["broken"]["needs_manual_grade"] == "0" and rows["broken"]["total"] == "0"

    assert cli_main(["--course", str(course.root), "feedback", "-a", FIXTURE]) == 0
    page = (course.feedback_dir / "broken" / FIXTURE / f"{FIXTURE}.html").read_text()
    assert "could not be graded" in page and "JSON" in page
    assert (course.feedback_dir / "good" / FIXTURE / f"{FIXTURE}.html").exists()

    # a corrected resubmission is graded and the status goes away
    notebooks.write(notebooks.make_submission(release, source), incoming / "broken.ipynb")
    assert cli_main(["--course", str(course.root), "autograde", str(incoming), "-a", FIXTURE, "--csv",
                     str(grades)]) == 0
    rows = {r["student"]: r for r in csv.DictReader(grades.open())}
    assert rows["broken"]["status"] == "graded" and rows["broken"]["total"] == "5"


# --- export -----------------------------------------------------------------------------------------------

def test_export_csv_without_plot_writes_no_plot(fixture_course, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli_main(["--course", str(fixture_course.root), "export", "--csv", "out.csv"]) == 0
    assert (tmp_path / "out.csv").exists()
    assert not (tmp_path / "grades.png").exists(), "no --plot, no plot"


# --- timestamps and lateness ------------------------------------------------------------------------------

@pytest.mark.slow
def test_timestamps_are_carried_and_lateness_computed(fixture_course, tmp_path):
    course = fixture_course
    with open(course.root / "nbgrader_config.py", "a") as fh:
        fh.write(f"\nc.DueDates.due = {{{FIXTURE!r}: '2026-01-01 17:00:00 UTC'}}\n"
                 "c.LateSubmissionPlugin.penalty_method = 'zero'\n")
    course._config = None
    release, source = release_and_source(course)
    incoming = tmp_path / "incoming"
    for student, stamp in (("late", "2026-01-02 10:00:00 UTC"), ("ontime", "2026-01-01 16:00:00 UTC")):
        (incoming / student / FIXTURE).mkdir(parents=True)
        notebooks.write(notebooks.make_submission(release, source), incoming / student / FIXTURE / f"{FIXTURE}.ipynb")
        (incoming / student / FIXTURE / "timestamp.txt").write_text(stamp)
    assert cli_main(["--course", str(course.root), "autograde", str(incoming), "-a", FIXTURE]) == 0
    assert (course.submitted / "late" / FIXTURE / "timestamp.txt").read_text() == "2026-01-02 10:00:00 UTC"
    from nbgrader.api import Gradebook
    with course.activated(), Gradebook(course.db_url, course.course_id) as gb:
        late = gb.find_submission(FIXTURE, "late")
        ontime = gb.find_submission(FIXTURE, "ontime")
        assert late.total_seconds_late == 17 * 3600
        assert late.late_submission_penalty == 5.0 and late.score == 5.0, "nbgrader's 'zero' penalty"
        assert ontime.total_seconds_late == 0 and not ontime.late_submission_penalty


# --- checksum noise -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_untouched_cells_raise_no_checksum_warning(fixture_course, tmp_path):
    course = fixture_course
    release, source = release_and_source(course)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    notebooks.write(notebooks.make_submission(release), incoming / "blank.ipynb")
    tampered = notebooks.make_submission(release)
    test_cell = next(c for c in tampered.cells if notebooks.grade_id(c) == "test_grad")
    test_cell.source += "\npass  # edited"
    notebooks.write(tampered, incoming / "tampered.ipynb")
    from autograder.grading import stage_submissions
    stage_submissions(course, incoming, FIXTURE)
    logs = {}
    for student in ("blank", "tampered"):
        proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", FIXTURE, "--student", student],
                              cwd=course.root, env=course.env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        logs[student] = proc.stdout + proc.stderr
    assert "has changed" not in logs["blank"], logs["blank"]
    assert "has changed" in logs["tampered"] and "test_grad" in logs["tampered"], "real changes still warn"
