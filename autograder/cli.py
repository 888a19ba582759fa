"""``python -m autograder`` (also ``autodiff-course``): the course's command line.

Students and self-learners::

    lab                      generate the lessons, copy them to student/, start JupyterLab there
                             (--instructor: JupyterLab in course/, where the formgrader works)
    check NOTEBOOK           grade your own notebook (visible and hidden tests), question by question

Instructors::

    generate [A ...]         nbgrader generate_assignment: course/source -> course/release
    autograde DIR -a A       grade a folder of submissions in parallel (--scheduler: on a Dask cluster;
                             --student ID: one student); exits 1 when a submission could not be graded
    feedback -a A            nbgrader generate_feedback (hidden tests left out)
    export                   grades CSV (a summary plot with --plot; --lms canvas|moodle OUT, --misconceptions OUT)
    roster ROSTER.csv        import the class roster into nbgrader's student table
    similarity -a A          the batch's solution code compared with each other and the reference
    selftest [A ...]         solutions get full marks, blank releases 0, mutants lose points
    mutate [A ...]           mutation score of the tests, per solution region, with survivors
"""
import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from . import notebooks
from .workflow import REPO, Course, CourseError


def _course(args):
    return Course(args.course, db_url=args.db_url)


# --- student ------------------------------------------------------------------------------

def landing_page(course, workspace, assignments):
    """START_HERE.ipynb: the lessons in order, one line each, and how to check your work."""
    rows = []
    for a in assignments:
        rel = workspace / a / f"{a}.ipynb"
        if not rel.exists():
            found = sorted((workspace / a).glob("*.ipynb"))
            if not found:
                continue
            rel = found[0]
        nb = notebooks.read(rel)
        title = notebooks.title(nb, a).replace("|", "\\|")
        summary = notebooks.summary(nb, "").replace("|", "\\|")
        rows.append(f"| [{title}]({rel.relative_to(workspace).as_posix()}) | {summary} |")
    text = "\n".join([
        "# Automatic differentiation, by building it",
        "",
        "Work through the lessons in order. Each is a notebook: read, run the cells",
        "(Shift-Enter), move the sliders, and fill in the cells that say `# YOUR CODE HERE`.",
        "The check cell under each task tells you at once whether your code is right, and",
        "if not, which input failed, what was expected, what came back and why that",
        "mistake is a common one.",
        "",
        "| lesson | what you build |",
        "|---|---|",
        *rows,
        "",
        "**Grade yourself.** From a terminal in the repository, run",
        "`python -m autograder check student/<lesson>/<lesson>.ipynb` (save the notebook",
        "first). It runs your notebook in a fresh kernel with the visible *and* the hidden",
        "tests and prints every question with its points.",
        "",
        "Your work in this folder is yours: running the launch command again adds new",
        "lessons but never overwrites a notebook you have started.",
    ])
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    path = workspace / "START_HERE.ipynb"
    nbformat.write(nb, str(path))
    return path


def cmd_lab(args):
    course = _course(args)
    if args.instructor:
        return _instructor_lab(course, args)
    workspace = Path(args.workspace).resolve()
    names = course.assignments()
    if not names:
        raise CourseError(f"no lessons under {course.source}")
    stale = [a for a in names if not course.release_notebooks(a)
             or _newest(course.source / a) > _oldest(course.release / a)]
    if stale:
        print(f"preparing {len(stale)} lesson(s) for students (nbgrader generate_assignment)...")
    for a in stale:
        try:
            course.generate([a], log=lambda msg: None)
        except CourseError as err:   # one broken lesson should not keep a student from the others
            print(f"warning: {a} could not be prepared and is left out: {err}", file=sys.stderr)
    names = [a for a in names if course.release_notebooks(a)]
    added = []
    for a in names:
        for item in sorted((course.release / a).rglob("*")):
            if not item.is_file() or ".ipynb_checkpoints" in item.parts:
                continue
            dest = workspace / a / item.relative_to(course.release / a)
            if dest.exists():
                continue   # the student's work is never overwritten
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item, dest)
            added.append(dest)
    page = landing_page(course, workspace, names)
    _student_nbgrader_config(workspace)
    print(f"workspace {workspace}: {len(added)} new file(s); start with {page.name}")
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={workspace}",
           f"--ServerApp.port={args.port}", "--LabApp.default_url=/lab/tree/START_HERE.ipynb"]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")   # containers (Docker, CI) often run as root
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    os.chdir(workspace)
    os.execve(sys.executable, cmd, course.env())


def _instructor_lab(course, args):
    """JupyterLab for the instructor, started in the course directory: nbgrader's formgrader
    reads nbgrader_config.py where Jupyter starts (from the repository root it lists no
    assignments and leaves a gradebook.db there)."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={course.root}",
           f"--ServerApp.port={args.port}", "--LabApp.default_url=/lab/tree"]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    print(f"instructor mode: JupyterLab in {course.root} (the formgrader is under Nbgrader > Formgrader)")
    if args.dry_run:
        print(f"cd {course.root} && " + " ".join(cmd))
        return 0
    os.chdir(course.root)
    os.execve(sys.executable, cmd, course.env())


def _student_nbgrader_config(workspace):
    """nbgrader's lab extensions look for a config where Jupyter starts; give the
    student's side one (its own exchange folder) so they do not warn."""
    path = workspace / "nbgrader_config.py"
    if not path.exists():
        (workspace / ".exchange").mkdir(exist_ok=True)
        path.write_text(
            "# Written by `python -m autograder lab` for the student's workspace.\n"
            "import os\n\n"
            "c = get_config()  # noqa: F821\n"
            "c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))\n"
            "c.Exchange.root = os.path.join(c.CourseDirectory.root, '.exchange')\n")


def _newest(folder):
    return max((p.stat().st_mtime for p in Path(folder).rglob("*") if p.is_file()), default=0.0)


def _oldest(folder):
    return min((p.stat().st_mtime for p in Path(folder).rglob("*") if p.is_file()), default=0.0)


def cmd_check(args):
    from .grading import check_notebook, format_check
    course = _course(args)
    path = Path(args.notebook)
    if not path.is_file():
        raise CourseError(f"{path} does not exist")
    result, _ = check_notebook(path, course, timeout=args.timeout)
    print(format_check(result))
    return 0 if result.score == result.max_score and not result.problems else 1


# --- instructor ---------------------------------------------------------------------------------

def cmd_generate(args):
    course = _course(args)
    course.generate(args.assignments)
    return 0


def cmd_autograde(args):
    from .grading import autograde, format_results
    course = _course(args)
    results = autograde(course, args.submissions, args.assignment, jobs=args.jobs, scheduler=args.scheduler,
                        regrade=args.regrade, student=args.student)
    print(format_results(results))
    if args.similarity:
        from .similarity import format_review, review
        try:
            print(format_review(review(course, args.assignment, students=[r.student for r in results])))
        except CourseError as err:   # grades are in; a missing engine must not hide them
            print(f"similarity review skipped: {err}")
    failed = [r for r in results if not r.ok]
    if args.csv:
        path, _ = course.export_csv(args.csv, [args.assignment])
        print(f"grades written to {path}")
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ | {"cells": [c.__dict__ for c in r.cells]}
                                               for r in results], indent=1))
    if failed:
        print(f"\n{len(failed)} submission(s) could not be graded:")
        for r in failed:
            print(f"  {r.student}: {r.problems[0] if r.problems else 'not graded'}")
        return 1
    return 0


def cmd_feedback(args):
    course = _course(args)
    course.feedback(args.assignment)
    return 0


def cmd_export(args):
    course = _course(args)
    if args.lms or args.misconceptions:
        return _cmd_export_more(course, args)
    path, rows = course.export_csv(args.csv, args.assignment or None)
    print(f"{len(rows)} row(s) written to {path}")
    if rows and args.plot:
        print(f"summary plot written to {course.plot(args.plot, rows)}")
    return 0


def _cmd_export_more(course, args):
    """--lms and --misconceptions: the files asked for, and nothing else."""
    if args.lms:
        from .lms import FORMATS, export_lms
        lms, out = args.lms
        if lms not in FORMATS:
            raise CourseError(f"--lms takes {' or '.join(FORMATS)}, not {lms!r}")
        path, n = export_lms(course, out, lms, args.assignment or None)
        print(f"{n} student(s) written to {path} ({lms})")
    if args.misconceptions:
        from .misconceptions import export
        rows, paths = export(course, args.misconceptions, args.assignment or None)
        print(f"{len(rows)} misconception row(s): {', '.join(str(p) for p in paths)}")
    return 0


def cmd_roster(args):
    from .lms import import_roster
    n = import_roster(_course(args), args.roster)
    print(f"{n} student(s) imported into the gradebook's student table")
    return 0


def cmd_similarity(args):
    from .similarity import format_review, review
    report = review(_course(args), args.assignment, args.out, threshold=args.threshold)
    print(format_review(report))
    return 0


def cmd_selftest(args):
    from .selftest import format_selftest, selftest
    course = _course(args)
    report = selftest(course, args.assignments, jobs=args.jobs, mutants=args.mutants)
    print(format_selftest(report))
    return 0 if all(r["ok"] for r in report) else 1


def cmd_mutate(args):
    from .mutation import format_report, mutate_course
    course = _course(args)
    reports = mutate_course(course, args.assignments, jobs=args.jobs, timeout=args.timeout,
                            limit=args.max_mutants)
    print(format_report(reports, show_caught=args.verbose))
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1))
    if args.min_score is not None:
        bad = [r for r in reports if r["total"] and r["score"] < args.min_score]
        return 1 if bad else 0
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="The autodiff course: launch the lessons, grade your own work, or run the "
                    "instructor's nbgrader cycle.")
    parser.add_argument("--course", default=None,
                        help="the nbgrader course directory (default: $AUTODIFF_COURSE or ./course "
                             "of this repository)")
    parser.add_argument("--db-url", default=None,
                        help="the gradebook's SQLAlchemy URL, e.g. postgresql+psycopg://USER@HOST/DB (default: "
                             "$AUTODIFF_DB_URL, else the config's CourseDirectory.db_url, else SQLite in the course)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("lab", help="generate the lessons, copy them to student/ and start JupyterLab")
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--workspace", default=str(REPO / "student"),
                   help="where the student's copies live (default: student/ in the repository)")
    p.add_argument("--dry-run", action="store_true", help="prepare the workspace, print the command")
    p.add_argument("--instructor", action="store_true",
                   help="start JupyterLab in the course directory instead, for nbgrader's formgrader")
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("check", help="grade your own notebook with the visible and hidden tests")
    p.add_argument("notebook")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: the course's)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("generate", help="nbgrader generate_assignment for all (or the named) lessons")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("autograde", help="grade a folder of submissions in parallel")
    p.add_argument("submissions", nargs="?", default=None,
                   help="<student>/<assignment>/*.ipynb, <student>/*.ipynb or <student>.ipynb (default: the "
                        "course's submitted/); with --student also that student's own folder")
    p.add_argument("--assignment", "-a", required=True)
    p.add_argument("--student", "-s", help="grade this student only (regrade one student)")
    p.add_argument("--jobs", "-j", type=int, default=None, help="parallel workers (default: CPU count)")
    p.add_argument("--scheduler", help="grade on this Dask cluster instead, e.g. tcp://HOST:8786 "
                                       "(needs the [scale] extra; see docs/cluster.md)")
    p.add_argument("--regrade", action="store_true",
                   help="grade again submissions already graded and unchanged (skipped by default)")
    p.add_argument("--csv", help="also write the assignment's grades CSV here")
    p.add_argument("--json", help="write the per-submission results as JSON here")
    p.add_argument("--no-similarity", dest="similarity", action="store_false",
                   help="skip the similarity review (copydetect) after grading")
    p.set_defaults(func=cmd_autograde)

    p = sub.add_parser("feedback", help="nbgrader generate_feedback (hidden tests are not shown)")
    p.add_argument("--assignment", "-a", required=True)
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("export", help="grades CSV and a summary plot from the gradebook")
    p.add_argument("--csv", default="grades.csv")
    p.add_argument("--plot", default=None, help="also write a summary plot (PNG) here")
    p.add_argument("--assignment", "-a", action="append", help="only these assignments (repeatable)")
    p.add_argument("--lms", nargs=2, metavar=("canvas|moodle", "OUT.csv"),
                   help="instead: one row per student, one column per assignment, late flags, for this LMS")
    p.add_argument("--misconceptions", metavar="OUT",
                   help="instead (or too, with --lms): per lesson and question, how many students hit "
                        "each misconception: OUT.csv, OUT.md, OUT.png")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("roster", help="import a class roster CSV (id,first_name,last_name,email,lms_user_id)")
    p.add_argument("roster", metavar="ROSTER.csv")
    p.set_defaults(func=cmd_roster)

    p = sub.add_parser("similarity", help="compare a batch's solutions with each other and the reference")
    p.add_argument("--assignment", "-a", required=True)
    p.add_argument("--out", help="folder for similarity.csv and similarity.html "
                                 "(default: course/similarity/ASSIGNMENT)")
    p.add_argument("--threshold", type=float, default=0.8,
                   help="flag a pair when this share of one's code is found in the other (default 0.8)")
    p.set_defaults(func=cmd_similarity)

    p = sub.add_parser("selftest", help="solutions full marks, blank releases 0, mutants lose points")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.add_argument("--jobs", "-j", type=int, default=None)
    p.add_argument("--mutants", type=int, default=1,
                   help="mutants per solution region sent through nbgrader (default 1)")
    p.set_defaults(func=cmd_selftest)

    p = sub.add_parser("mutate", help="mutation score of the tests for each solution region")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.add_argument("--jobs", "-j", type=int, default=None)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per cell for a mutant (default 10)")
    p.add_argument("--max-mutants", type=int, default=None, help="at most this many mutants per region")
    p.add_argument("--json", help="write the full report as JSON here")
    p.add_argument("--min-score", type=float, default=None,
                   help="exit 1 if a lesson's mutation score is below this fraction")
    p.add_argument("--verbose", "-v", action="store_true", help="list caught mutants too")
    p.set_defaults(func=cmd_mutate)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
