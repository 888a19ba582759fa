"""Grading on a Dask distributed cluster: one task per (student, assignment).

``python -m autograder autograde DIR -a A --scheduler tcp://HOST:8786`` stages
the submissions as usual, then splits nbgrader's autograde in two:

1. **On a worker** (:func:`grade_on_worker`): the expensive part, running the
   student's code. The worker unpacks the *bundle* (the course config, the
   assignment's source and release and a scratch SQLite gradebook, sent once
   per worker) into a scratch course of its own, copies the student's
   submitted folder in from the shared filesystem and runs nbgrader's
   ``Autograde`` with the course's sanitizing steps and ``SandboxGrade`` only.
   It returns the graded notebooks; it writes nothing shared.
2. **On the client** (:func:`record`): nbgrader's ``Autograde`` again, on the
   course's own gradebook, with ``SandboxGrade`` replaced by
   :class:`WorkerVerdicts`, which takes the worker's notebook instead of
   grading. Scores, late penalties and gradebook writes are nbgrader's own,
   so the grades are those of the local pool by construction.

A worker that dies mid-task (killed, out of memory, lost node) has its task run
again on another worker by the scheduler; a submission that ends
``distributed.scheduler.allowed-failures`` workers in a row is reported with
that reason and graded no further. Workers should run one task at a time
(``dask worker --nthreads 1``; use ``--nworkers`` for more): nbgrader uses
the process's working directory and environment.
"""
import io
import os
import shutil
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .grading import fingerprint
from .workflow import Course, CourseError, copy_course

#: What a worker needs of the course, besides the submissions: kept in the bundle.
_BUNDLED = ("nbgrader_config.py", "source", "release", "gradebook.db")


class WorkerVerdicts(NbGraderPreprocessor):
    """In place of ``SandboxGrade`` on the client: the notebook a worker's SandboxGrade made.

    Reads ``<folder>/<student>/<notebook>.ipynb``; the rest of the pipeline
    (IgnorePattern, LimitOutput, SaveAutoGrades, ...) runs on it as on a
    notebook graded here.
    """

    folder = Unicode(help="Where the client keeps the notebooks the workers returned").tag(config=True)

    def preprocess(self, nb, resources):
        import nbformat
        info = resources["nbgrader"]
        path = Path(self.folder) / info["student"] / f"{info['notebook']}.ipynb"
        return nbformat.read(str(path), as_version=4), resources


def make_bundle(course, assignment):
    """(key, tar.gz bytes) of a scratch course that can grade `assignment`: config, source,
    release and an SQLite gradebook where the assignment is registered."""
    with tempfile.TemporaryDirectory(prefix="autodiff-bundle-") as tmp:
        scratch = copy_course(course.root, Path(tmp) / "course", [assignment])
        scratch = Course(scratch.root, db_url=f"sqlite:///{scratch.root / 'gradebook.db'}")
        scratch.generate([assignment], log=lambda msg: None)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name in _BUNDLED:
                tar.add(scratch.root / name, arcname=name)
    return fingerprint(course, assignment), buffer.getvalue()


# --- the worker's side ---------------------------------------------------------------------

_ONE_AT_A_TIME = threading.Lock()   # nbgrader changes the process's cwd and environment
_unpacked = {}                      # bundle key -> this process's scratch Course


def _scratch_course(key, bundle):
    if key not in _unpacked:
        root = Path(tempfile.mkdtemp(prefix=f"autodiff-worker-{key[:12]}-"))
        with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
            tar.extractall(root, filter="data")
        # the config computes its paths (and the gradebook's) from its own location
        _unpacked[key] = Course(root, db_url=f"sqlite:///{root / 'gradebook.db'}")
    return _unpacked[key]


def grade_on_worker(bundle, key, assignment, student, submitted):
    """Grade one student's submitted folder (a path the worker can read) in a scratch course.

    Returns ``{"success", "error", "log", "notebooks": {name: JSON text}, "seconds", "worker"}``.
    """
    import logging
    import warnings
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*not in session.*")  # SQLAlchemy 2.1 noise from nbgrader
    started = time.perf_counter()
    with _ONE_AT_A_TIME:
        course = _scratch_course(key, bundle)
        mine = course.submitted / student / assignment
        shutil.rmtree(mine, ignore_errors=True)
        shutil.copytree(submitted, mine)
        sandbox_only = [pp for pp in course.config().Autograde.autograde_preprocessors
                        if pp.__name__ == "SandboxGrade"]
        with course.activated():
            api = course.api(**{"Autograde.autograde_preprocessors": sandbox_only,
                                "SandboxGrade.protected": [str(Path(submitted).parents[1])]})
            outcome = api.autograde(assignment, student, force=True, create=True)
        graded = course.autograded / student / assignment
        notebooks = {p.name: p.read_text() for p in sorted(graded.glob("*.ipynb"))}
        for folder in (course.submitted / student, course.autograded / student):
            shutil.rmtree(folder, ignore_errors=True)
    return {"success": bool(outcome.get("success")) and bool(notebooks),
            "error": outcome.get("error", ""), "log": outcome.get("log", ""), "notebooks": notebooks,
            "seconds": time.perf_counter() - started, "worker": f"{os.uname().nodename}:{os.getpid()}"}


# --- the client's side ------------------------------------------------------------------------

def record(course, assignment, student, result, folder):
    """Write one worker's result into the course's gradebook and ``autograded/`` through
    nbgrader's Autograde, with :class:`WorkerVerdicts` in place of ``SandboxGrade``."""
    pipeline = course.config().Autograde.autograde_preprocessors
    if not any(pp.__name__ == "SandboxGrade" for pp in pipeline):
        raise CourseError("grading on a cluster needs SandboxGrade in c.Autograde.autograde_preprocessors")
    mine = Path(folder) / student
    mine.mkdir(parents=True, exist_ok=True)
    for name, text in result["notebooks"].items():
        (mine / name).write_text(text)
    pipeline = [WorkerVerdicts if pp.__name__ == "SandboxGrade" else pp for pp in pipeline]
    with course.activated():
        api = course.api(**{"Autograde.autograde_preprocessors": pipeline, "WorkerVerdicts.folder": str(folder)})
        outcome = api.autograde(assignment, student, force=True, create=True)
    shutil.rmtree(mine, ignore_errors=True)
    return outcome


def grade_on_cluster(course, assignment, students, scheduler, log=print, on_graded=None):
    """Grade the staged submissions of `students` on the Dask cluster at `scheduler`.

    Returns ``{student: {"success", "error", "log", "seconds"}}`` like the local pool;
    `on_graded(student)` is called once a student's grades are in the gradebook.
    """
    try:
        from distributed import Client, as_completed
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise CourseError("--scheduler needs Dask distributed: pip install 'autodiff-course[scale]'") from None
    import logging
    import warnings
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*not in session.*")

    key, bundle = make_bundle(course, assignment)
    outcomes = {}
    with Client(scheduler, timeout="30s") as client, \
            tempfile.TemporaryDirectory(prefix="autodiff-verdicts-") as folder:
        log(f"grading {len(students)} submission(s) on {scheduler} "
            f"({len(client.scheduler_info()['workers'])} worker(s) now)")
        shared = client.scatter(bundle, broadcast=True)
        futures = {client.submit(grade_on_worker, shared, key, assignment, s, str(course.submitted / s / assignment),
                                 key=f"autograde-{assignment}-{s}-{key[:12]}", pure=False): s
                   for s in students}
        for future in as_completed(futures):
            student = futures[future]
            try:
                result = future.result()
            except KilledWorker as err:
                result = {"success": False, "log": "", "seconds": 0.0,
                          "error": f"the grading worker died each of the {err.allowed_failures + 1} times "
                                   "this submission was tried; it was not graded"}
            except Exception as err:  # noqa: BLE001 -- one row's failure, never the batch's
                result = {"success": False, "log": "", "seconds": 0.0, "error": f"{type(err).__name__}: {err}"}
            if "notebooks" in result:   # nbgrader ran: the client's run writes the same gradebook rows
                written = record(course, assignment, student, result, folder)
                if result["success"] and not written.get("success"):
                    result = dict(result, success=False, error=written.get("error", ""), log=written.get("log", ""))
            outcomes[student] = {k: result[k] for k in ("success", "error", "log", "seconds")}
            if result["success"] and on_graded:
                on_graded(student)
            log(f"  {student}: {'ok' if result['success'] else 'ERROR'} ({result['seconds']:.1f} s"
                + (f" on {result['worker']})" if "worker" in result else ")"))
            future.release()
    return outcomes
