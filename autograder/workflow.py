"""The course directory and the nbgrader operations on it.

:class:`Course` knows where things are (source, release, submitted,
autograded, feedback, the gradebook) and how to run nbgrader there: in this
process through ``nbgrader.apps.NbGraderAPI`` with the course's own
``nbgrader_config.py``, with the environment nbgrader needs (``alembic`` on
PATH, this repository importable by kernels).
"""
import contextlib
import copy
import csv
import logging
import os
import shutil
import sys
from pathlib import Path

from . import notebooks

REPO = Path(__file__).resolve().parents[1]
DEFAULT_COURSE = REPO / "course"


#: The status of a submission that could not be graded, in the report, the CSV and the feedback.
NOT_GRADED = "not graded"


class CourseError(RuntimeError):
    """A problem with the course directory or an nbgrader step, said plainly."""


class Course:
    """An nbgrader course directory with a ``nbgrader_config.py``."""

    def __init__(self, root=None, db_url=None):
        root = Path(root or os.environ.get("AUTODIFF_COURSE") or DEFAULT_COURSE).resolve()
        if not (root / "nbgrader_config.py").is_file():
            raise CourseError(f"{root} is not a course directory: it has no nbgrader_config.py")
        self.root = root
        self._db_url = db_url or os.environ.get("AUTODIFF_DB_URL")
        self._config = None

    # --- layout ---------------------------------------------------------------
    @property
    def source(self):
        return self.root / "source"

    @property
    def release(self):
        return self.root / "release"

    @property
    def submitted(self):
        return self.root / "submitted"

    @property
    def autograded(self):
        return self.root / "autograded"

    @property
    def feedback_dir(self):
        return self.root / "feedback"

    @property
    def wrong_submissions_dir(self):
        return self.root / "wrong_submissions"

    def assignments(self):
        """Assignment names, in course order (lesson0_…, lesson1_…, …)."""
        if not self.source.is_dir():
            return []
        return sorted(d.name for d in self.source.iterdir()
                      if d.is_dir() and any(d.glob("*.ipynb")) and not d.name.startswith("."))

    def check_assignments(self, names):
        """The named assignments (all when none are named); unknown names are an error."""
        known = self.assignments()
        if not names:
            return known
        unknown = [n for n in names if n not in known]
        if unknown:
            raise CourseError(f"unknown assignment(s) {', '.join(unknown)}; "
                              f"the course has: {', '.join(known) or 'none'}")
        return list(names)

    def source_notebooks(self, assignment):
        return sorted((self.source / assignment).glob("*.ipynb"))

    def release_notebooks(self, assignment):
        return sorted((self.release / assignment).glob("*.ipynb"))

    def source_notebook(self, assignment):
        """The (single) source notebook of an assignment."""
        nbs = self.source_notebooks(assignment)
        if len(nbs) != 1:
            raise CourseError(f"assignment {assignment} has {len(nbs)} notebooks; this workflow expects one")
        return nbs[0]

    @property
    def db_url(self):
        """The gradebook's SQLAlchemy URL: given to the constructor (``--db-url``), else
        ``$AUTODIFF_DB_URL``, else the config's ``CourseDirectory.db_url``, else SQLite in the course."""
        return self._db_url or self.config().CourseDirectory.db_url or f"sqlite:///{self.root / 'gradebook.db'}"

    def has_gradebook(self):
        """False for an SQLite gradebook not created yet (a server's database always exists)."""
        if not self.db_url.startswith("sqlite:///"):
            return True
        return Path(self.db_url[len("sqlite:///"):]).exists()

    @property
    def course_id(self):
        return self.config().CourseDirectory.course_id or "default_course"

    # --- environment and nbgrader ---------------------------------------------------
    def env(self, base=None):
        """The environment for nbgrader and its kernels: the venv's bin on PATH
        (nbgrader runs ``alembic``) and this repository on PYTHONPATH."""
        env = dict(os.environ if base is None else base)
        bindir = str(Path(sys.executable).parent)
        path = env.get("PATH", "").split(os.pathsep)
        if bindir not in path:
            env["PATH"] = os.pathsep.join([bindir, *[p for p in path if p]])
        pythonpath = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if str(REPO) not in pythonpath:
            env["PYTHONPATH"] = os.pathsep.join([str(REPO), *pythonpath])
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        return env

    @contextlib.contextmanager
    def activated(self):
        """Run nbgrader in this process: environment set, working directory the course."""
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        os.environ.update(self.env())
        os.chdir(self.root)
        try:
            yield
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)

    def config(self):
        if self._config is None:
            from traitlets.config.loader import PyFileConfigLoader
            self._config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        return self._config

    def api(self, **overrides):
        """An ``NbGraderAPI`` on this course. `overrides` are ``{"Section.key": value}``."""
        from traitlets.config import Config
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        cfg = Config()
        cfg.merge(copy.deepcopy(self.config()))   # merge shares sections: overrides must not leak back
        cfg.CourseDirectory.db_url = self.db_url
        for dotted, value in overrides.items():
            section, key = dotted.rsplit(".", 1)
            cfg[section][key] = value
        cfg.NbGraderAPI.log_level = logging.WARNING
        coursedir = CourseDirectory(config=cfg)
        return NbGraderAPI(coursedir=coursedir, config=cfg)

    # --- operations ------------------------------------------------------------------
    def generate(self, assignments=(), log=print):
        """``nbgrader generate_assignment`` for the named (or all) assignments."""
        names = self.check_assignments(assignments)
        if not names:
            raise CourseError(f"no assignments under {self.source}")
        with self.activated():
            api = self.api()
            for name in names:
                result = api.generate_assignment(name, force=True, create=True)
                if not result["success"]:
                    raise CourseError(f"generate_assignment {name} failed:\n{_last_error(result)}")
                log(f"generated {self.release / name}")
        return names

    def ensure_generated(self, assignment, log=print):
        """Generate the release (and register the assignment in the gradebook)
        unless the release exists and is newer than the source."""
        release = self.release_notebooks(assignment)
        src_time = max(p.stat().st_mtime for p in (self.source / assignment).rglob("*") if p.is_file())
        if release and self.has_gradebook() and min(p.stat().st_mtime for p in release) >= src_time \
                and self._in_gradebook(assignment):
            return False
        self.generate([assignment], log=log)
        return True

    def _in_gradebook(self, assignment):
        from nbgrader.api import Gradebook, MissingEntry
        with self.activated(), Gradebook(self.db_url, self.course_id) as gb:
            try:
                gb.find_assignment(assignment)
                return True
            except MissingEntry:
                return False

    def feedback(self, assignment, log=print):
        """``nbgrader generate_feedback``: HTML per student, hidden tests left out."""
        self.check_assignments([assignment])
        with self.activated():
            result = self.api().generate_feedback(assignment, force=True)
        if not result["success"]:
            raise CourseError(f"generate_feedback {assignment} failed:\n{_last_error(result)}")
        self._not_graded_feedback(assignment)
        files = sorted(self.feedback_dir.glob(f"*/{assignment}/*.html"))
        log(f"{len(files)} feedback file(s) under {self.feedback_dir}")
        return files

    # --- submissions that could not be graded --------------------------------------------
    # One status everywhere: autograde marks them, the CSV's status column and the feedback say why.
    def _not_graded_dir(self, assignment):
        return self.root / ".autograde_ledger" / assignment / ".not_graded"

    def mark_not_graded(self, assignment, student, reason):
        """Record why a submission could not be graded (`reason` None: it was graded)."""
        path = self._not_graded_dir(assignment) / student
        if reason is None:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(reason if reason.startswith(NOT_GRADED) else f"{NOT_GRADED}: {reason}")

    def not_graded(self, assignment):
        """{student: why} of the assignment's submissions that could not be graded."""
        folder = self._not_graded_dir(assignment)
        return {p.name: p.read_text() for p in sorted(folder.iterdir())} if folder.is_dir() else {}

    def _not_graded_feedback(self, assignment):
        """A feedback page for each submission that could not be graded, saying why."""
        import html
        names = [p.stem for p in self.release_notebooks(assignment)] or [assignment]
        pages = []
        for student, why in self.not_graded(assignment).items():
            folder = self.feedback_dir / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            for name in names:
                page = folder / f"{name}.html"
                page.write_text(
                    "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
                    f"{html.escape(assignment)}: not graded</title></head><body>\n"
                    f"<h1>{html.escape(assignment)}: your submission could not be graded</h1>\n"
                    f"<p style='white-space: pre-wrap'>{html.escape(why)}</p>\n"
                    "<p>No points were given. Check that you submit the notebook you worked on, saved from "
                    "Jupyter, and ask your instructor to grade it again.</p>\n</body></html>\n")
                pages.append(page)
        return pages

    # --- grades ------------------------------------------------------------------------
    def grades(self, assignments=None):
        """Rows ``{student, assignment, questions: {grade_id: (score, max)}, total, max_score,
        needs_manual_grade}`` from the gradebook, sorted by assignment then student."""
        from nbgrader.api import Gradebook
        if not self.has_gradebook():
            return []
        rows = []
        with self.activated(), Gradebook(self.db_url, self.course_id) as gb:
            for assignment in gb.assignments:
                if assignments and assignment.name not in assignments:
                    continue
                for submission in assignment.submissions:
                    questions, manual = {}, False
                    for nb in submission.notebooks:
                        for grade in nb.grades:
                            questions[grade.name] = (float(grade.score or 0.0), float(grade.max_score or 0.0))
                            manual = manual or bool(grade.needs_manual_grade)
                    rows.append({
                        "student": submission.student.id,
                        "assignment": assignment.name,
                        "questions": questions,
                        "total": sum(s for s, _ in questions.values()),
                        "max_score": sum(m for _, m in questions.values()),
                        "needs_manual_grade": manual,
                    })
        rows.sort(key=lambda r: (r["assignment"], r["student"]))
        return rows

    def question_order(self, assignment):
        """grade_ids of an assignment's graded cells, in notebook order."""
        order = []
        for path in self.source_notebooks(assignment):
            order += [gid for _, gid, _ in notebooks.graded_cells(notebooks.read(path))]
        return order

    def export_csv(self, path, assignments=None):
        """Grades as CSV: student, assignment, one column per question, total, max_score,
        needs_manual_grade, status ("graded", or "not graded: why"). Question columns are the graded cells' grade_ids
        (prefixed with the assignment when two assignments share one)."""
        rows = self.grades(assignments)
        names = sorted({r["assignment"] for r in rows}, key=lambda a: (a not in self.assignments(), a))
        per_assignment = {a: self.question_order(a) or sorted({q for r in rows if r["assignment"] == a
                                                              for q in r["questions"]}) for a in names}
        counts = {}
        for qs in per_assignment.values():
            for q in qs:
                counts[q] = counts.get(q, 0) + 1
        columns = [(a, q, q if counts[q] == 1 else f"{a}/{q}") for a in names for q in per_assignment[a]]
        not_graded = {a: self.not_graded(a) for a in names}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["student", "assignment", *[c for _, _, c in columns], "total", "max_score",
                             "needs_manual_grade", "status"])
            for r in rows:
                cells = [_fmt(r["questions"][q][0]) if a == r["assignment"] and q in r["questions"] else ""
                         for a, q, _ in columns]
                why = not_graded[r["assignment"]].get(r["student"])
                writer.writerow([r["student"], r["assignment"], *cells, _fmt(r["total"]),
                                 _fmt(r["max_score"]), int(r["needs_manual_grade"] and why is None),
                                 why or "graded"])
        return path, rows

    def plot(self, path, rows=None, assignments=None):
        """A summary figure: histogram of totals per assignment, mean score per question."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.grades(assignments) if rows is None else rows
        if not rows:
            raise CourseError("no grades in the gradebook yet: run `autograde` first")
        names = sorted({r["assignment"] for r in rows})
        fig, axes = plt.subplots(len(names), 2, figsize=(11, 3.2 * len(names)), squeeze=False)
        for (ax_hist, ax_q), name in zip(axes, names):
            mine = [r for r in rows if r["assignment"] == name]
            max_score = max(r["max_score"] for r in mine) or 1.0
            ax_hist.hist([r["total"] for r in mine], bins=min(20, max(5, int(max_score) + 1)),
                         range=(0, max_score), color="C0", edgecolor="white")
            ax_hist.set_title(f"{name}: totals ({len(mine)} submissions)")
            ax_hist.set_xlabel(f"points (of {_fmt(max_score)})")
            ax_hist.set_ylabel("students")
            order = self.question_order(name) or sorted({q for r in mine for q in r["questions"]})
            means = []
            for q in order:
                got = [r["questions"][q] for r in mine if q in r["questions"]]
                means.append(sum(s for s, _ in got) / max(1e-12, sum(m for _, m in got)) if got else 0.0)
            ax_q.barh(range(len(order)), means, color="C2")
            ax_q.set_yticks(range(len(order)), order, fontsize=8)
            ax_q.invert_yaxis()
            ax_q.set_xlim(0, 1)
            ax_q.set_xlabel("mean fraction of the points")
            ax_q.set_title(f"{name}: per question")
        fig.tight_layout()
        return save_figure(fig, path)


def save_figure(fig, path, dpi=100):
    """Write a matplotlib figure to `path` (folders made as needed), close it; the path."""
    import matplotlib.pyplot as plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _fmt(x):
    return f"{x:g}"


def _last_error(result):
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Error" in line or "error" in line]
    return "\n".join((errors or lines)[-8:])


def copy_course(src, dest, assignments=None, extra_sources=()):
    """A fresh course directory at `dest` with the config and the source (and the
    wrong submissions and equivalent mutants) of the named assignments of `src`; gradebook and
    student work are not copied. `extra_sources` adds assignment folders from
    elsewhere (e.g. a test fixture)."""
    src, dest = Path(src), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "nbgrader_config.py", dest / "nbgrader_config.py")
    names = assignments if assignments is not None else Course(src).assignments()
    for name in names:
        shutil.copytree(src / "source" / name, dest / "source" / name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        for folder in ("wrong_submissions", "equivalent_mutants"):
            per_lesson = src / folder / f"{name}.json"
            if per_lesson.exists():
                (dest / folder).mkdir(exist_ok=True)
                shutil.copy2(per_lesson, dest / folder / per_lesson.name)
    for folder in extra_sources:
        folder = Path(folder)
        shutil.copytree(folder, dest / "source" / folder.name, dirs_exist_ok=True)
    return Course(dest)
