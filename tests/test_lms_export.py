"""export --lms canvas|moodle: one row per student of nbgrader's student table (names from an
imported roster), one column per assignment, late flags; and the roster import."""
import csv
import datetime

import pytest

from autograder import grading, lms, notebooks
from autograder.cli import main
from conftest import FIXTURE

ROSTER = ("id,first_name,last_name,email,lms_user_id\n"
          "ada,Ada,Lovelace,ada@uni.example,101\n"
          "bob,Bob,Builder,bob@uni.example,102\n"
          "cy,Cy,Young,cy@uni.example,103\n")


def read(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_roster_import_and_export_before_grading(fixture_course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    assert main(["--course", str(fixture_course.root), "roster", str(roster)]) == 0
    out = tmp_path / "canvas.csv"
    assert main(["--course", str(fixture_course.root), "export", "--lms", "canvas", str(out)]) == 0
    rows = read(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", FIXTURE, f"{FIXTURE} late"]
    assert rows[1][0] == "Points Possible" and rows[1][5] == "5"
    assert rows[2:] == [["Builder, Bob", "102", "bob", "bob@uni.example", "", "", ""],
                        ["Lovelace, Ada", "101", "ada", "ada@uni.example", "", "", ""],
                        ["Young, Cy", "103", "cy", "cy@uni.example", "", "", ""]]
    assert not (fixture_course.root / "grades.png").exists() and not (tmp_path / "grades.csv").exists()


def test_roster_headers_from_other_systems(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("Username,First Name,Surname,Email address\nzoe,Zoë,Ng,z@x\n")
    assert lms.read_roster(path) == [{"id": "zoe", "first_name": "Zoë", "last_name": "Ng", "email": "z@x",
                                      "lms_user_id": ""}]
    path.write_text("name,mail\nzoe,z@x\n")
    with pytest.raises(lms.CourseError, match="no student id column"):
        lms.read_roster(path)


def test_roster_refuses_an_assignment_name_as_student(fixture_course, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(f"id\n{FIXTURE}\n")
    with pytest.raises(lms.CourseError, match="assignment name"):
        lms.import_roster(fixture_course, path)


@pytest.mark.slow
def test_wide_export_after_autograde_with_a_late_submission(fixture_course, tmp_path):
    from nbgrader.api import Gradebook
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    lms.import_roster(fixture_course, roster)
    due = datetime.datetime(2026, 3, 1, 12, 0)
    with fixture_course.activated(), Gradebook(fixture_course.db_url, fixture_course.course_id) as gb:
        gb.update_or_create_assignment(FIXTURE, duedate=due)
    release = notebooks.read(fixture_course.release_notebooks(FIXTURE)[0])
    source = notebooks.read(fixture_course.source_notebook(FIXTURE))
    subs = {"ada": notebooks.make_submission(release, source), "bob": notebooks.make_submission(release)}
    for student, nb in subs.items():
        notebooks.write(nb, fixture_course.submitted / student / FIXTURE / f"{FIXTURE}.ipynb")
    # nbgrader's timestamp file: ada on time, bob 3 hours late
    (fixture_course.submitted / "ada" / FIXTURE / "timestamp.txt").write_text("2026-03-01 11:00:00")
    (fixture_course.submitted / "bob" / FIXTURE / "timestamp.txt").write_text("2026-03-01 15:00:00")
    results = grading.autograde(fixture_course, fixture_course.submitted, FIXTURE, jobs=2, log=lambda m: None)
    assert {r.student: r.score for r in results} == {"ada": 5.0, "bob": 0.0}

    canvas, moodle = tmp_path / "canvas.csv", tmp_path / "moodle.csv"
    assert main(["--course", str(fixture_course.root), "export", "--lms", "canvas", str(canvas)]) == 0
    assert main(["--course", str(fixture_course.root), "export", "--lms", "moodle", str(moodle)]) == 0
    rows = {r[2]: r for r in read(canvas)[2:]}
    assert rows["ada"][5:] == ["5", "on time"]
    assert rows["bob"][5] == "0" and rows["bob"][6].startswith("late by 3.0 h")
    assert rows["cy"][5:] == ["", ""]           # on the roster, nothing submitted
    header, *body = read(moodle)
    assert header == ["First name", "Last name", "ID number", "Email address", FIXTURE, f"{FIXTURE} feedback"]
    assert ["Ada", "Lovelace", "ada", "ada@uni.example", "5", "on time"] in body
    assert len(body) == 3
