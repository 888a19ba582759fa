"""The instructor's nbgrader cycle through the real nbgrader, on the fixture
assignment (fast) and on every lesson of the course.

Expected scores are derived from the notebooks' own metadata (points per
graded cell) and from what each submission does, never from the grader's output.
"""
import csv
import json
import re
import subprocess
import sys

import pytest

from autograder import grading, notebooks
from autograder.cli import main as cli_main
from autograder.workflow import Course, REPO

from conftest import COURSE, FIXTURE, FIXTURE_COURSE, lesson_names, make_course

LESSONS = lesson_names()


def release_and_source(course, assignment):
    return (notebooks.read(course.release_notebooks(assignment)[0]),
            notebooks.read(course.source_notebook(assignment)))


def points_of(nb):
    return {gid: pts for _, gid, pts in notebooks.graded_cells(nb)}


def write_all(folder, subs):
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in subs.items():
        if isinstance(nb, (bytes, str)):
            (folder / f"{name}.ipynb").write_text(nb if isinstance(nb, str) else nb.decode())
        else:
            notebooks.write(nb, folder / f"{name}.ipynb")
    return folder


# --- configuration -------------------------------------------------------------------------------

def test_config_is_relative_to_its_own_directory(tmp_path):
    course = make_course(tmp_path / "c", fixture=True)
    cfg = course.config()
    assert cfg.CourseDirectory.course_id == "autodiff"
    assert cfg.CourseDirectory.root == str(tmp_path / "c")
    assert cfg.CourseDirectory.db_url == f"sqlite:///{tmp_path / 'c' / 'gradebook.db'}"
    assert (tmp_path / "c" / "exchange").is_dir(), "the formgrader warns when the exchange is missing"
    assert cfg.Execute.timeout > 0
    names = [p.__name__ for p in cfg.GenerateFeedback.preprocessors]
    assert names.index("HideHiddenTestTracebacks") < names.index("ClearHiddenTests")
    assert "StudentErrors" in names and "FeedbackCSS" in names
    names = [p.__name__ for p in cfg.Autograde.autograde_preprocessors]
    assert "SandboxGrade" in names and "Execute" not in names, "no kernel runs the submission"


def test_unknown_assignment_is_a_clear_error(tmp_path, capsys):
    make_course(tmp_path / "c", fixture=True)
    code = cli_main(["--course", str(tmp_path / "c"), "generate", "lesson99_nothing"])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown assignment" in err and FIXTURE in err


# --- generate_assignment ---------------------------------------------------------------------------

def assert_release_is_clean(course, assignment):
    release, source = release_and_source(course, assignment)
    text = json.dumps([c.source for c in release.cells])
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{marker} left in the release of {assignment}"
    released = {notebooks.grade_id(c): c.source for c in release.cells if notebooks.grade_id(c)}
    visible = {line.strip() for c in source.cells
               for line in notebooks.strip_hidden_tests(notebooks.source_text(c)).split("\n")}
    for cell in source.cells:
        src, gid = notebooks.source_text(cell), notebooks.grade_id(cell)
        for line in notebooks.hidden_test_lines(src):
            if line not in visible:
                assert line not in text, f"hidden test line {line!r} leaked into the release"
        for start, end in notebooks.solution_regions(src):
            for line in src.split("\n")[start:end]:
                if len(line.strip()) > 12 and not line.strip().startswith("#"):
                    assert line.strip() not in released[gid], \
                        f"solution line {line.strip()!r} left in the released cell {gid}"
    stubs = [c for c in release.cells if notebooks.is_solution(c)]
    assert stubs and all("YOUR CODE HERE" in c.source for c in stubs)
    assert points_of(release) == points_of(source), "graded cells and points must survive generation"
    assert all(not c.get("outputs") for c in release.cells if c.cell_type == "code")


def test_generate_fixture_strips_solutions_and_hidden_tests(generated_fixture_course):
    assert_release_is_clean(generated_fixture_course, FIXTURE)


# --- grading through the real nbgrader --------------------------------------------------------------

def expected_for_wrong(wrong, pts):
    return sum(p for gid, p in pts.items() if gid not in wrong["fails"])


def solution_and_blank_problems(course, assignment, results):
    """solution: full marks, every graded cell passing; blank: graded, 0 points."""
    release, source = release_and_source(course, assignment)
    full = sum(points_of(source).values())
    by = {r.student: r for r in results}
    problems = []
    sol = by["solution"]
    failing = [(c.grade_id, c.status, c.message[:300]) for c in sol.cells if c.status != grading.STATUS_PASSED]
    if not sol.ok or sol.score != full or failing or sol.problems:
        problems.append(f"the solution scores {sol.score:g}/{full:g}: {failing} {sol.problems}")
    blank = by["blank"]
    if not blank.ok:
        problems.append(f"the blank release crashed the grader: {blank.problems}")
    elif blank.score != 0:
        problems.append(f"the blank release scores {blank.score:g}")
    else:
        silent = [c.grade_id for c in blank.cells if "not done" not in c.message]
        if silent:
            problems.append(f"the blank release's cells {silent} do not say 'not done'")
    return problems


def wrong_submission_problems(course, assignment, results):
    """Each realistic wrong submission loses exactly its cells, with the expected feedback."""
    release, source = release_and_source(course, assignment)
    pts = points_of(source)
    full = sum(pts.values())
    by = {r.student: r for r in results}
    wrong_file = course.wrong_submissions_dir / f"{assignment}.json"
    if not wrong_file.exists():
        return [f"{assignment} has no realistic wrong submission: add course/wrong_submissions/{assignment}.json "
                f"(format: autograder.notebooks.load_wrong_submissions)"]
    problems = []
    for i, wrong in enumerate(notebooks.load_wrong_submissions(wrong_file)):
        r = by[f"wrong{i:02d}"]
        got = {c.grade_id: c.score for c in r.cells}
        expected = sum(p for g, p in pts.items() if g not in wrong["fails"])
        if not r.ok:
            problems.append(f"{wrong['name']}: not graded: {r.problems}")
            continue
        if not 0 < r.score < full:
            problems.append(f"{wrong['name']}: partial marks expected, got {r.score:g}/{full:g}")
        if r.score != expected:
            problems.append(f"{wrong['name']}: expected {expected:g} (all but {sorted(wrong['fails'])}), got {got}")
        for c in r.cells:
            for text in wrong["fails"].get(c.grade_id, []):
                if text not in c.message:
                    problems.append(f"{wrong['name']}: {c.grade_id} feedback lacks {text!r}: {c.message[:300]!r}")
    return problems


def standard_submissions(course, assignment):
    release, source = release_and_source(course, assignment)
    subs = {"solution": notebooks.make_submission(release, source), "blank": notebooks.make_submission(release)}
    wrong_file = course.wrong_submissions_dir / f"{assignment}.json"
    if wrong_file.exists():
        for i, wrong in enumerate(notebooks.load_wrong_submissions(wrong_file)):
            subs[f"wrong{i:02d}"] = notebooks.make_submission(release, source, replace=wrong["replace"])
    return subs


@pytest.mark.slow
def test_fixture_solution_blank_and_wrong(fixture_course, tmp_path):
    folder = write_all(tmp_path / "incoming", standard_submissions(fixture_course, FIXTURE))
    results = grading.autograde(fixture_course, folder, FIXTURE, jobs=2, log=lambda m: None)
    problems = solution_and_blank_problems(fixture_course, FIXTURE, results) + \
        wrong_submission_problems(fixture_course, FIXTURE, results)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", LESSONS)
def test_lesson_through_nbgrader(assignment, tmp_path):
    """generate_assignment strips solutions and hidden tests; then, graded in one parallel
    run: the solution gets full marks, the blank release 0 without a crash, and each
    realistic wrong submission partial marks with its feedback message."""
    course = make_course(tmp_path / "course", [assignment])
    course.generate([assignment], log=lambda m: None)
    assert_release_is_clean(course, assignment)
    folder = write_all(tmp_path / "incoming", standard_submissions(course, assignment))
    results = grading.autograde(course, folder, assignment, log=lambda m: None)
    problems = solution_and_blank_problems(course, assignment, results) + \
        wrong_submission_problems(course, assignment, results) + \
        check_agrees_with_autograde(course, folder, results, ["blank", "wrong00"])
    assert not problems, "\n".join(problems)


def check_agrees_with_autograde(course, folder, results, students):
    """The self-learner's `check` gives each cell the score nbgrader's autograde gave it."""
    by, problems = {r.student: r for r in results}, []
    for student in students:
        path = folder / f"{student}.ipynb"
        if student not in by or not path.exists():
            continue
        mine, _ = grading.check_notebook(path, course)
        theirs = {c.grade_id: c.score for c in by[student].cells}
        ours = {c.grade_id: c.score for c in mine.cells}
        if ours != theirs:
            problems.append(f"{student}: check gives {ours}, autograde gives {theirs}")
    return problems


# --- a class of 31 mixed submissions, graded in parallel ----------------------------------------------

def fixture_batch(course):
    """(submissions, expected {student: {grade_id: score}}) for the fixture."""
    release, source = release_and_source(course, FIXTURE)
    pts = points_of(source)
    full = dict(pts)
    zero = {g: 0.0 for g in pts}
    task1 = ["test_central_visible", "test_central_hidden", "test_error_order"]
    wrongs = notebooks.load_wrong_submissions(course.wrong_submissions_dir / f"{FIXTURE}.json")
    subs, expect = {}, {}
    for i in range(10):
        subs[f"sol{i:02d}"], expect[f"sol{i:02d}"] = notebooks.make_submission(release, source), full
    for i in range(6):
        subs[f"blank{i:02d}"], expect[f"blank{i:02d}"] = notebooks.make_submission(release), zero
    for k, wrong in enumerate(wrongs):
        for i in range(2):
            sid = f"wrong{k}{i}"
            subs[sid] = notebooks.make_submission(release, source, replace=wrong["replace"])
            expect[sid] = {g: (0.0 if g in wrong["fails"] else p) for g, p in pts.items()}
    good = notebooks.make_submission(release, source)
    for i in range(2):
        subs[f"broken{i}"] = json.dumps(good)[: 900 + 50 * i]       # malformed JSON
        expect[f"broken{i}"] = zero
    for i in range(2):   # a deleted graded cell is put back and graded
        subs[f"deleted{i}"] = notebooks.make_submission(release, source, remove=["test_central_hidden"])
        expect[f"deleted{i}"] = full
    loop = "# Task 1: the central difference\ndef central_difference(f, x, h):\n    while True:\n        pass"
    for i in range(2):   # every call loops: the three task-1 test cells time out
        subs[f"loop{i}"] = notebooks.make_submission(release, source, replace={"central_difference": loop})
        expect[f"loop{i}"] = {g: (0.0 if g in task1 else p) for g, p in pts.items()}
    die = "# Task 2\nimport os\nos._exit(3)\ndef grad_sum_squares(x):\n    return 2 * x"
    for i in range(2):   # the process ends in task 2's cell: task 1 keeps its points
        subs[f"dies{i}"] = notebooks.make_submission(release, source, replace={"grad_sum_squares": die})
        expect[f"dies{i}"] = {g: (0.0 if g == "test_grad" else p) for g, p in pts.items()}
    cheat = ("# Task 2\ndef grad_sum_squares(x):\n    return x\n"
             "checks.check_sum_squares_grad = checks.check_sum_squares_grad_hidden = lambda *a, **k: None")
    subs["cheat"] = notebooks.make_submission(release, source, replace={"grad_sum_squares": cheat})
    expect["cheat"] = {g: (0.0 if g == "test_grad" else p) for g, p in pts.items()}
    return subs, expect


@pytest.mark.slow
def test_batch_of_mixed_submissions_in_parallel(fixture_course, tmp_path):
    subs, expect = fixture_batch(fixture_course)
    assert len(subs) >= 30
    folder = write_all(tmp_path / "incoming", subs)
    out = tmp_path / "grades.csv"
    code = cli_main(["--course", str(fixture_course.root), "autograde", str(folder), "-a", FIXTURE,
                     "--jobs", "2", "--csv", str(out), "--json", str(tmp_path / "results.json")])
    assert code == 1, "the damaged notebooks could not be graded: the exit code says so"
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == set(expect), "every submission, even a broken one, gets a row"
    for student, cells in expect.items():
        row = rows[student]
        assert row["assignment"] == FIXTURE
        for gid, score in cells.items():
            assert float(row[gid]) == score, (student, gid, row)
        assert float(row["total"]) == sum(cells.values()), (student, row)
        assert float(row["max_score"]) == 5.0
    assert rows["cheat"]["needs_manual_grade"] == "0", "a cheat is simply graded: its checks ran elsewhere"
    assert rows["broken0"]["status"].startswith("not graded") and rows["sol00"]["status"] == "graded"

    results = {r["student"]: r for r in json.loads((tmp_path / "results.json").read_text())}
    assert results["broken0"]["status"] == "error" and "JSON" in results["broken0"]["problems"][0]
    loop_cells = {c["grade_id"]: c for c in results["loop0"]["cells"]}
    assert loop_cells["test_central_visible"]["status"] == grading.STATUS_TIMEOUT, "timeouts are per question"
    assert loop_cells["test_grad"]["status"] == grading.STATUS_PASSED
    dies = {c["grade_id"]: c["status"] for c in results["dies0"]["cells"]}
    assert dies["test_grad"] == grading.STATUS_FAILED and dies["test_central_visible"] == grading.STATUS_PASSED
    assert any("process running your code ended" in p for p in results["dies0"]["problems"])
    cheat = {c["grade_id"]: c for c in results["cheat"]["cells"]}
    assert "forgot the factor 2" in cheat["test_grad"]["message"], "the real check ran, with its hint"

    plot = tmp_path / "grades.png"
    assert cli_main(["--course", str(fixture_course.root), "export", "--csv", str(tmp_path / "all.csv"),
                     "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "all.csv").read_text() == out.read_text()


@pytest.mark.slow
def test_parallel_grades_equal_stock_serial_nbgrader(fixture_course, tmp_path):
    """Same submissions, same config: our pool vs plain `nbgrader autograde` in a copy."""
    import shutil
    subs, _ = fixture_batch(fixture_course)
    keep = ["sol00", "blank00", "wrong00", "wrong10", "wrong20", "deleted0", "dies0", "cheat"]
    folder = write_all(tmp_path / "incoming", {k: subs[k] for k in keep})
    stock_root = tmp_path / "stock"
    shutil.copytree(fixture_course.root, stock_root)
    stock = Course(stock_root)
    grading.stage_submissions(stock, folder, FIXTURE)
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", FIXTURE], cwd=stock_root,
                          env=stock.env(), capture_output=True, text=True)
    assert "Traceback" not in proc.stdout
    grading.autograde(fixture_course, folder, FIXTURE, jobs=2, log=lambda m: None)
    ours = {(r["student"], q): s for r in fixture_course.grades() for q, s in r["questions"].items()}
    theirs = {(r["student"], q): s for r in stock.grades() for q, s in r["questions"].items()}
    assert ours == theirs
    assert len(ours) == len(keep) * 4


# --- feedback ------------------------------------------------------------------------------------------

def hidden_identifiers(source_nb):
    """Names called only inside hidden-test regions."""
    hidden = " ".join(line for c in source_nb.cells for line in notebooks.hidden_test_lines(notebooks.source_text(c)))
    visible = " ".join(notebooks.strip_hidden_tests(notebooks.source_text(c)) for c in source_nb.cells)
    names = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]{6,}", hidden)) - set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", visible))
    return names


@pytest.mark.slow
def test_feedback_has_no_hidden_tests(fixture_course, tmp_path):
    release, source = release_and_source(fixture_course, FIXTURE)
    wrong = notebooks.load_wrong_submissions(fixture_course.wrong_submissions_dir / f"{FIXTURE}.json")[0]
    folder = write_all(tmp_path / "incoming", {
        "good": notebooks.make_submission(release, source),
        "wrong": notebooks.make_submission(release, source, replace=wrong["replace"])})
    grading.autograde(fixture_course, folder, FIXTURE, jobs=2, log=lambda m: None)
    assert cli_main(["--course", str(fixture_course.root), "feedback", "-a", FIXTURE]) == 0
    secret = hidden_identifiers(source)
    assert "check_central_hidden" in secret  # the fixture has hidden tests to leak
    for student in ("good", "wrong"):
        html = (fixture_course.feedback_dir / student / FIXTURE / f"{FIXTURE}.html").read_text()
        assert "check_central" in html, "the visible test stays in the feedback"
        for name in secret:
            assert name not in html, f"hidden test {name} appears in {student}'s feedback"
        assert "HIDDEN TESTS" not in html
    wrong_html = (fixture_course.feedback_dir / "wrong" / FIXTURE / f"{FIXTURE}.html").read_text()
    assert "one-sided (forward) difference" in wrong_html, "the check's message reaches the student"

    # control: nbgrader's stock feedback does show hidden tests (so this test can fail)
    with open(fixture_course.root / "nbgrader_config.py", "a") as fh:
        fh.write("\nfrom nbconvert.preprocessors import CSSHTMLHeaderPreprocessor\n"
                 "c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor]\n")
    fixture_course._config = None
    fixture_course.feedback(FIXTURE, log=lambda m: None)
    html = (fixture_course.feedback_dir / "good" / FIXTURE / f"{FIXTURE}.html").read_text()
    assert "check_central_hidden" in html


# --- tampering -------------------------------------------------------------------------------------------

CHEATS = {
    "replace the checks": ("# Task 2\ndef grad_sum_squares(x):\n    return x\n"
                           "checks.check_sum_squares_grad = checks.check_sum_squares_grad_hidden = "
                           "lambda *a, **k: None"),
    "replace numpy.allclose": ("# Task 2\nimport numpy\ndef grad_sum_squares(x):\n    return x\n"
                               "numpy.allclose = lambda *a, **k: True"),
    "setattr on the checks": ("# Task 2\ndef grad_sum_squares(x):\n    return x\n"
                              "for name in ('check_sum_squares_grad', 'check_sum_squares_grad_hidden'):\n"
                              "    setattr(checks, name, print)"),
}


STOCK_AUTOGRADE = """
from nbgrader.preprocessors import Execute as _E, IgnorePattern as _I, LimitOutput as _L
from nbgrader.preprocessors import SaveAutoGrades as _S, AssignLatePenalties as _P, CheckCellMetadata as _C
from nbconvert.preprocessors import ClearMetadataPreprocessor as _M
c.Autograde.autograde_preprocessors = [_E, _I, _M, _L, _S, _P, _C]  # nbgrader 0.9.6's defaults
"""


@pytest.mark.slow
def test_tampering_does_not_get_full_marks(fixture_course, tmp_path):
    """Stock nbgrader runs the checks in the student's kernel: replacing them buys full marks.
    Ours runs them in the grader: the same submissions lose task 2, with the check's own hint."""
    import shutil
    release, source = release_and_source(fixture_course, FIXTURE)
    subs = {f"cheat{i}": notebooks.make_submission(release, source, replace={"grad_sum_squares": code})
            for i, code in enumerate(CHEATS.values())}
    folder = write_all(tmp_path / "incoming", subs)

    stock_root = tmp_path / "stock"
    shutil.copytree(fixture_course.root, stock_root)
    with open(stock_root / "nbgrader_config.py", "a") as fh:
        fh.write(STOCK_AUTOGRADE)
    stock = Course(stock_root)
    assert all(r.ok for r in grading.autograde(stock, folder, FIXTURE, jobs=2, log=lambda m: None))
    stock_scores = {r["student"]: r["total"] for r in stock.grades()}
    assert stock_scores["cheat0"] == 5.0 and stock_scores["cheat2"] == 5.0, stock_scores

    results = {r.student: r for r in grading.autograde(fixture_course, folder, FIXTURE, jobs=2, log=lambda m: None)}
    for sid in subs:
        assert results[sid].score == 4.0, (sid, results[sid].cells)
        test_grad = next(c for c in results[sid].cells if c.grade_id == "test_grad")
        assert test_grad.status == grading.STATUS_FAILED and "forgot the factor 2" in test_grad.message


# --- the self-learner's check ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_check_command_reports_each_question(generated_fixture_course, tmp_path, capsys):
    course = generated_fixture_course
    release, source = release_and_source(course, FIXTURE)
    good = tmp_path / "good.ipynb"
    notebooks.write(notebooks.make_submission(release, source), good)
    assert cli_main(["--course", str(course.root), "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "5 / 5 points" in out and out.count("✓") == 4 and "✗" not in out

    wrong = notebooks.load_wrong_submissions(course.wrong_submissions_dir / f"{FIXTURE}.json")[1]
    bad_nb = notebooks.make_submission(release, source, replace=wrong["replace"])
    # the self-learner also deletes a hidden-test cell: it is put back
    bad_nb.cells = [c for c in bad_nb.cells if notebooks.grade_id(c) != "test_central_hidden"]
    bad = tmp_path / "bad.ipynb"
    notebooks.write(bad_nb, bad)
    assert cli_main(["--course", str(course.root), "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "1 / 5 points" in out
    assert "✗ test_central_hidden" in out, "hidden tests run in check"
    assert "divide by 2h" in out and "✓ test_grad" in out

    cheat = tmp_path / "cheat.ipynb"
    notebooks.write(notebooks.make_submission(release, source, replace={"grad_sum_squares": CHEATS["replace the checks"]}),
                    cheat)
    assert cli_main(["--course", str(course.root), "check", str(cheat)]) == 1
    out = capsys.readouterr().out
    assert "4 / 5 points" in out and "forgot the factor 2" in out, "the checks ran in the grader"


# --- the student's launch ----------------------------------------------------------------------------------------

def test_lab_prepares_workspace_without_overwriting(generated_fixture_course, tmp_path, capsys):
    course_root = tmp_path / "course"
    import shutil
    shutil.copytree(generated_fixture_course.root, course_root)
    ws = tmp_path / "student"
    args = ["--course", str(course_root), "lab", "--workspace", str(ws), "--no-browser", "--port", "8899",
            "--dry-run"]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "jupyterlab" in out and f"--ServerApp.root_dir={ws}" in out and "--no-browser" in out
    nb_path = ws / FIXTURE / f"{FIXTURE}.ipynb"
    assert nb_path.exists() and (ws / FIXTURE / "fixture_checks.py").exists()
    start = notebooks.read(ws / "START_HERE.ipynb").cells[0].source
    assert "Fixture: central differences" in start and f"{FIXTURE}/{FIXTURE}.ipynb" in start
    assert "A two-task miniature lesson" in start, "one line on what the lesson teaches"
    assert "BEGIN SOLUTION" not in nb_path.read_text()

    nb_path.write_text(nb_path.read_text().replace("YOUR CODE HERE", "MY OWN WORK"))
    assert cli_main(args) == 0
    assert "MY OWN WORK" in nb_path.read_text(), "the student's work is never overwritten"


def test_lab_lists_the_real_lessons_in_order(tmp_path, capsys):
    if not LESSONS:
        pytest.skip("no lessons in course/source yet")
    course = make_course(tmp_path / "course", LESSONS)
    ws = tmp_path / "student"
    for a in LESSONS:  # as generate would: the landing page reads the copies in the workspace
        (ws / a).mkdir(parents=True)
        (ws / a / f"{a}.ipynb").write_bytes(course.source_notebook(a).read_bytes())
    from autograder.cli import landing_page
    text = notebooks.read(landing_page(course, ws, LESSONS)).cells[0].source
    positions = [text.index(f"({a}/{a}.ipynb)") for a in LESSONS]
    assert positions == sorted(positions)
    for a in LESSONS:
        assert notebooks.title(notebooks.read(course.source_notebook(a))) in text


def test_every_lesson_says_what_you_build_and_the_readme_and_start_page_agree(tmp_path):
    """Each lesson carries its one-line summary (metadata ``course.summary``); the README's table
    of lessons and the start page show exactly those lines, in the course's order."""
    readme = (REPO / "README.md").read_text()
    table = readme.split("## The lessons", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in re.findall(r"^\| (\w+) \| (.+?) \| (.+?) \|$", table, re.M) if r[0] != "#"]
    assert [f"lesson{number}_" for number, _, _ in rows] == [a[:len(f"lesson{n}_")] for a, (n, _, _)
                                                             in zip(LESSONS, rows)], "one row per lesson, in order"
    ws = tmp_path / "student"
    for a, (number, title, summary) in zip(LESSONS, rows):
        nb = notebooks.read(REPO / "course" / "source" / a / f"{a}.ipynb")
        written = nb.metadata.get("course", {}).get("summary")
        assert written, f"{a} has no course.summary in its metadata"
        assert summary == written, f"README's row for lesson {number} differs from {a}'s summary"
        assert notebooks.title(nb).split(" — ", 1)[-1].startswith(title), (a, title)
        (ws / a).mkdir(parents=True)
        notebooks.write(nb, ws / a / f"{a}.ipynb")
    from autograder.cli import landing_page
    page = notebooks.read(landing_page(make_course(tmp_path / "course", LESSONS), ws, LESSONS)).cells[0].source
    for a, (_, _, summary) in zip(LESSONS, rows):
        assert summary.replace("|", "\\|") in page, a
    assert len(rows) == len(LESSONS)


def test_module_entry_point_help():
    proc = subprocess.run([sys.executable, "-m", "autograder", "--help"], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 0
    for command in ("lab", "check", "generate", "autograde", "feedback", "export", "selftest", "mutate"):
        assert command in proc.stdout


def test_magics_are_blanked_and_line_numbers_kept():
    source = "%matplotlib inline\nx = 1\n  !ls\n%%timeit\ny = '%d' % x"
    assert notebooks.strip_magics(source) == "\nx = 1\n\n\ny = '%d' % x"
