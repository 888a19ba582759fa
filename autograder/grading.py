"""Grading many submissions in parallel, and one notebook locally.

``autograde``: submissions are staged into the course's ``submitted/``
folder and graded by a pool of worker processes. Each worker imports
nbgrader once and runs nbgrader's own ``Autograde`` converter (the same
preprocessors, gradebook and config as ``nbgrader autograde``) one student at
a time; the course's pipeline computes the verdicts outside the student's
process (:mod:`autograder.verdicts`). A submission that cannot be read, ends
its process, loops forever or even hangs its worker is reported and scored;
it never stops the others.

With ``scheduler`` the same tasks go to a Dask distributed cluster instead
(:mod:`autograder.cluster`). Either way a batch can be interrupted and run
again: a submission whose grades are in the gradebook and whose content (and
the assignment's source and config) has not changed since is not graded again.

``check``: the self-learner's grader. It takes the student's notebook, puts
back the instructor's test cells (visible and hidden) from the source
notebook and grades it with the same routine as autograde, reporting every
graded cell with its points and the checks' messages.
"""
import hashlib
import multiprocessing
import os
import queue
import re
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import notebooks
from .verdicts import CellResult
from .workflow import Course, CourseError

STATUS_PASSED = "passed"
STATUS_FAILED = "failed"
STATUS_TIMEOUT = "timed out"
STATUS_DIED = "kernel died"
STATUS_NOT_RUN = "not run"


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    status: str                 # "graded" or "error"
    score: float = 0.0
    max_score: float = 0.0
    cells: list = field(default_factory=list)
    problems: list = field(default_factory=list)   # timeouts in solution cells, tamper flags, errors
    seconds: float = 0.0

    @property
    def ok(self):
        return self.status == "graded"


# --- staging ---------------------------------------------------------------------

_SAFE_ID = re.compile(r"[^A-Za-z0-9_.@+-]")


def student_id(name):
    """A student id nbgrader can use as a folder name and a --student pattern."""
    sid = _SAFE_ID.sub("_", name).strip("._")
    if not sid:
        raise CourseError(f"cannot make a student id from {name!r}")
    return sid


def _lesson_ids(course):
    """{assignment: set of grade_ids} of every lesson's source notebooks."""
    ids = {}
    for a in course.assignments():
        ids[a] = {notebooks.grade_id(c) for p in course.source_notebooks(a)
                  for c in notebooks.read(p).cells if notebooks.grade_id(c)}
    return ids


def _other_lesson(path, assignment, lesson_ids):
    """The lesson a notebook belongs to when that is not `assignment` (its graded cells are
    another lesson's), else None. A notebook that cannot be read is left to the grader."""
    try:
        ids = {notebooks.grade_id(c) for c in notebooks.read(path).cells if notebooks.grade_id(c)}
    except Exception:
        return None
    if not ids or ids & lesson_ids.get(assignment, set()):
        return None
    overlap = {a: len(ids & theirs) for a, theirs in lesson_ids.items() if ids & theirs}
    return max(overlap, key=overlap.get) if overlap else None


def stage_submissions(course, path, assignment, student=None, rejected=None):
    """Copy submissions into ``course/submitted/<student>/<assignment>/``.

    Accepted layouts under `path`: nbgrader's ``<student>/<assignment>/*.ipynb``;
    ``<student>/*.ipynb``; or a flat folder of ``<student>.ipynb`` files. With `student`,
    only that student's submission is staged, and `path` may also be that student's own
    folder (``<path>/<assignment>/``). A ``timestamp.txt`` beside the notebooks goes along
    (nbgrader computes lateness from it). The course's own ``submitted/`` folder is used in
    place. A folder named after a lesson is refused (a student's folder given for the
    class's); a notebook of another lesson is not staged but put in `rejected`
    ({student: why}). Returns the student ids staged.
    """
    path = Path(path).resolve()
    if not path.is_dir():
        raise CourseError(f"{path} is not a folder of submissions")
    release = course.release_notebooks(assignment)
    if not release:
        raise CourseError(f"no release of {assignment}: run `generate {assignment}` first")
    lessons = course.assignments()
    if student is not None and student in lessons:
        raise CourseError(f"{student!r} is the name of an assignment, not a student id")
    if path == course.submitted.resolve():
        students = sorted(d.name for d in path.iterdir() if (d / assignment).is_dir())
        _refuse_lesson_names(path, students, lessons)
        if student is not None:
            if student not in students:
                raise CourseError(f"no submission of {assignment} by {student} under {path}")
            students = [student]
        if not students:
            raise CourseError(f"no submissions of {assignment} under {path}")
        return students

    if student is not None and (path / assignment).is_dir():
        entries = [(student, path / assignment)]          # the student's own folder
    else:
        entries = []
        for entry in sorted(path.iterdir()):
            if entry.is_file() and entry.suffix == ".ipynb":
                entries.append((entry.stem, entry))
            elif entry.is_dir() and not entry.name.startswith("."):
                entries.append((entry.name, entry / assignment if (entry / assignment).is_dir() else entry))
        _refuse_lesson_names(path, [name for name, _ in entries], lessons)
        if student is not None:
            entries = [(name, where) for name, where in entries if student_id(name) == student]
            if not entries:
                raise CourseError(f"no submission of {assignment} by {student} under {path}")

    lesson_ids = _lesson_ids(course)
    found, stamps = {}, {}  # student -> {notebook name: file}; student -> timestamp.txt
    for name, where in entries:
        sid = student_id(name)
        if where.is_file():
            if len(release) != 1:
                raise CourseError(f"{assignment} has {len(release)} notebooks: a flat folder of "
                                  "<student>.ipynb cannot say which is which; use <student>/<assignment>/")
            nbs = [where]
        else:
            nbs = sorted(where.glob("*.ipynb"))
            if (where / "timestamp.txt").is_file():
                stamps[sid] = where / "timestamp.txt"
        files = {}
        for nb in nbs:
            other = _other_lesson(nb, assignment, lesson_ids)
            if other is not None:
                if rejected is not None:
                    rejected[sid] = (f"not graded: {nb.name} is a notebook of {other}, not of {assignment} "
                                     "(its graded cells are the other lesson's)")
                files = {}
                break
            name_in = nb.name if len(release) > 1 or nb.name == release[0].name else release[0].name
            files[name_in] = nb
        if files:
            found.setdefault(sid, {}).update(files)
    if not found and not rejected:
        raise CourseError(f"no notebooks found under {path} (expected <student>.ipynb files or "
                          f"<student>/{assignment}/*.ipynb)")
    for sid, files in found.items():
        dest = course.submitted / sid / assignment
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for name, src in files.items():
            shutil.copy2(src, dest / name)
        if sid in stamps:
            shutil.copy2(stamps[sid], dest / "timestamp.txt")
    return sorted(found)


def _refuse_lesson_names(path, names, lessons):
    clash = sorted(set(names) & set(lessons))
    if clash:
        raise CourseError(f"{path} holds folders named after lessons ({', '.join(clash)}): it looks like one "
                          "student's folder, not a folder of students. Grade one student with "
                          f"`autograde {path} -a ASSIGNMENT --student ID`, or give the folder that holds "
                          "the students' folders.")


# --- the worker pool -------------------------------------------------------------------

def _worker_main(course_root, db_url, assignment, env, tasks, results):
    """One grading process: nbgrader imported once, then one student at a time."""
    # Kernels inherit these: their banners and warnings are noise here (nbgrader's own
    # log is captured per student by NbGraderAPI).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(course_root)
    import logging
    import warnings
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*not in session.*")  # SQLAlchemy 2.1 noise from nbgrader
    course = Course(course_root, db_url=db_url)
    api = course.api()
    while True:
        student = tasks.get()
        if student is None:
            return
        results.put(("start", student, os.getpid()))
        started = time.perf_counter()
        try:
            outcome = api.autograde(assignment, student, force=True, create=True)
        except BaseException:  # keep the worker alive for the next student
            outcome = {"success": False, "error": traceback.format_exc()}
        results.put(("done", student, os.getpid(),
                     {"success": bool(outcome.get("success")), "error": outcome.get("error", ""),
                      "log": outcome.get("log", "")}, time.perf_counter() - started))


def autograde(course, submissions, assignment, *, jobs=None, deadline=None, scheduler=None, regrade=False,
              student=None, log=print):
    """Grade a folder of submissions of one assignment in parallel.

    Returns a list of :class:`SubmissionResult`, one per student, sorted by id.
    `deadline` (seconds per submission; default from the notebook's size and the
    per-cell timeout) bounds even a submission that hangs its worker (local pool only).
    `scheduler` (``tcp://HOST:8786``) grades on that Dask cluster instead of a local pool.
    Submissions graded before and unchanged are skipped unless `regrade`. `student` grades
    that student's submission only (`submissions` may then be the student's own folder, and
    defaults to the course's ``submitted/``). A submission that could not be graded is marked
    so in the course (:meth:`Course.mark_not_graded`): the CSV and the feedback say why.
    """
    course.check_assignments([assignment])
    course.ensure_generated(assignment, log=log)
    rejected = {}
    students = stage_submissions(course, submissions or course.submitted, assignment, student=student,
                                 rejected=rejected)
    grades = {r["student"]: r for r in course.grades([assignment])}
    ledger = _Ledger(course, assignment)
    todo = [s for s in students if regrade or s not in grades or not ledger.unchanged(s)]
    if len(todo) < len(students):
        log(f"{len(students) - len(todo)} submission(s) graded before and unchanged: skipped "
            "(--regrade grades them again)")
    started_at = time.perf_counter()
    if not todo:
        outcomes = {}
    elif scheduler:
        from .cluster import grade_on_cluster
        outcomes = grade_on_cluster(course, assignment, todo, scheduler, log, on_graded=ledger.graded)
    else:
        jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
        if deadline is None:
            n_code = sum(1 for p in course.source_notebooks(assignment)
                         for c in notebooks.read(p).cells if c.cell_type == "code")
            timeout = course.config().SandboxGrade.get("timeout", 30) or 30
            deadline = 120 + n_code * (timeout + 15)
        outcomes = _run_pool(course, assignment, todo, jobs, course.env(), deadline, log, ledger.graded)
    for s in set(students) - set(todo):
        outcomes[s] = {"success": True, "seconds": 0.0}
    grades = {r["student"]: r for r in course.grades([assignment])}
    expected = _expected_points(course, assignment)
    results = [collect_result(course, assignment, s, outcomes.get(s), grades, expected) for s in students]
    for r in results:
        if r.student in todo:
            course.mark_not_graded(assignment, r.student, None if r.ok else r.problems[0])
    for s, why in rejected.items():   # another lesson's notebook: never staged, never in the gradebook
        results.append(SubmissionResult(s, assignment, "error", max_score=sum(expected.values()), problems=[why]))
    results.sort(key=lambda r: r.student)
    wall = time.perf_counter() - started_at
    where = scheduler or (f"{jobs} local worker(s)" if todo else "nothing to grade")
    log(f"graded {len(todo)} submission(s) of {assignment} in {wall:.1f} s ({where})")
    return results


def fingerprint(course, assignment):
    """A hash of everything that decides a grade besides the submission: the config and the source."""
    digest = hashlib.sha256()
    for path in [course.root / "nbgrader_config.py", *sorted((course.source / assignment).rglob("*"))]:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(course.root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class _Ledger:
    """Content hashes of the submissions whose grades are in the gradebook, one file per student
    under ``<course>/.autograde_ledger/<assignment>/``; a hash covers the submitted folder,
    the assignment's source and the config."""

    def __init__(self, course, assignment):
        self.course, self.assignment = course, assignment
        self.folder = course.root / ".autograde_ledger" / assignment
        self.assignment_key = fingerprint(course, assignment)

    def _hash(self, student):
        digest = hashlib.sha256(self.assignment_key.encode())
        submitted = self.course.submitted / student / self.assignment
        for path in sorted(submitted.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(submitted).as_posix().encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    def unchanged(self, student):
        path = self.folder / student
        return path.exists() and path.read_text() == self._hash(student)

    def graded(self, student):
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / student).write_text(self._hash(student))


def _run_pool(course, assignment, students, jobs, env, deadline, log, on_graded=None):
    ctx = multiprocessing.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    for s in students:
        tasks.put(s)
    for _ in range(jobs):
        tasks.put(None)

    def start_worker():
        proc = ctx.Process(target=_worker_main, args=(str(course.root), course.db_url, assignment, env, tasks, results),
                           daemon=True)
        proc.start()
        return proc

    workers = {}
    for _ in range(jobs):
        proc = start_worker()
        workers[proc.pid] = proc
    running = {}    # pid -> (student, start time)
    outcomes = {}
    idle_deaths = 0
    while len(outcomes) < len(students):
        try:
            msg = results.get(timeout=0.5)
        except queue.Empty:
            msg = None
        if msg is not None:
            if msg[0] == "start":
                _, student, pid = msg
                running[pid] = (student, time.monotonic())
            else:
                _, student, pid, outcome, seconds = msg
                running.pop(pid, None)
                outcomes[student] = dict(outcome, seconds=seconds)
                if outcome["success"] and on_graded:
                    on_graded(student)
                log(f"  {student}: {'ok' if outcome['success'] else 'ERROR'} ({seconds:.1f} s)")
            continue
        now = time.monotonic()
        for pid, proc in list(workers.items()):
            job = running.get(pid)
            overdue = job is not None and now - job[1] > deadline
            if proc.is_alive() and not overdue:
                continue
            if overdue:
                proc.kill()
            proc.join(5)
            del workers[pid]
            if job is None:
                idle_deaths += 1
                if idle_deaths > jobs + 2:
                    for other in workers.values():
                        other.kill()
                    raise CourseError(f"grading workers keep dying before they grade anything "
                                      f"(exit code {proc.exitcode}); run with --jobs 1 to see why")
            else:
                student = job[0]
                running.pop(pid, None)
                why = (f"grading took longer than {deadline:.0f} s; the worker was stopped" if overdue
                       else f"the grading worker died (exit code {proc.exitcode})")
                outcomes[student] = {"success": False, "error": why, "log": "", "seconds": now - job[1]}
                log(f"  {student}: ERROR ({why})")
            if len(outcomes) < len(students):
                replacement = start_worker()   # takes over the dead worker's sentinel
                workers[replacement.pid] = replacement
    for proc in workers.values():
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    return outcomes


# --- reading the results back ----------------------------------------------------------------

def _first_lines(text, n=12):
    """The first n lines of a message; a check's hint line is always kept (it says what to fix)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text or "").strip()
    lines = text.splitlines()
    if len(lines) <= n:
        return "\n".join(lines)
    hints = [line for line in lines[n:] if line.lstrip().startswith("hint:")]
    return "\n".join(lines[:n] + ["…"] + hints)


def cell_outcome(cell):
    """(status, message) of an executed code cell from its outputs."""
    from .nbgrader_plugins import DEAD_KERNEL, TIMEOUT
    for out in cell.get("outputs", []):
        if out.get("output_type") != "error":
            continue
        ename, evalue = out.get("ename", ""), out.get("evalue", "")
        if ename == TIMEOUT:
            return STATUS_TIMEOUT, evalue or "no reply from the kernel before the per-cell timeout"
        if ename == DEAD_KERNEL:
            return STATUS_DIED, evalue
        return STATUS_FAILED, _first_lines(f"{ename}: {evalue}" if ename != "CheckFailure" else evalue)
    return STATUS_PASSED, ""


def _expected_points(course, assignment):
    """{grade_id: points} of the assignment's graded cells, from the source notebooks."""
    expected = {}
    for path in course.source_notebooks(assignment):
        for _, gid, pts in notebooks.graded_cells(notebooks.read(path)):
            expected[gid] = pts
    return expected


def collect_result(course, assignment, student, outcome, grades=None, expected=None):
    """A :class:`SubmissionResult` from the gradebook and the autograded notebook."""
    from .nbgrader_plugins import METADATA_KEY
    outcome = outcome or {"success": False, "error": "not graded"}
    result = SubmissionResult(student, assignment, "graded" if outcome["success"] else "error",
                              seconds=outcome.get("seconds", 0.0))
    if expected is None:
        expected = _expected_points(course, assignment)
    if grades is None:
        grades = {r["student"]: r for r in course.grades([assignment])}
    result.max_score = sum(expected.values())
    if not outcome["success"]:
        result.problems.append(_error_summary(outcome))
        result.cells = [CellResult(g, 0.0, p, STATUS_NOT_RUN, "submission not graded") for g, p in expected.items()]
        return result

    scores = grades[student]["questions"] if student in grades else {}
    for path in sorted((course.autograded / student / assignment).glob("*.ipynb")):
        nb = notebooks.read(path)
        result.problems += list(nb.metadata.get(METADATA_KEY, {}).get("problems", []))
        for index, cell in enumerate(nb.cells):
            gid = notebooks.grade_id(cell)
            if cell.cell_type != "code":
                continue
            status, message = cell_outcome(cell)
            if notebooks.is_graded(cell):
                score, maxs = scores.get(gid, (0.0, expected.get(gid, 0.0)))
                result.cells.append(CellResult(gid, score, maxs, status, message))
            elif status in (STATUS_TIMEOUT, STATUS_DIED):
                where = f"solution cell {gid}" if gid else f"cell {index}"
                result.problems.append(f"{where}: {status}: {message}")
    seen = {c.grade_id for c in result.cells}
    for gid, pts in expected.items():
        if gid not in seen:
            score, maxs = scores.get(gid, (0.0, pts))
            result.cells.append(CellResult(gid, score, maxs, STATUS_NOT_RUN, "cell missing from the graded notebook"))
    result.score = sum(c.score for c in result.cells)
    return result


def _error_summary(outcome):
    text = re.sub(r"\x1b\[[0-9;]*m", "", (outcome.get("error") or "") + "\n" + (outcome.get("log") or ""))
    for pattern, say in ((r"NotJSONError|JSONDecodeError|not valid JSON|Notebook does not appear to be JSON",
                          "the notebook is not valid JSON (damaged file)"),
                         (r"DeadKernelError|Kernel died", "the kernel died"),
                         (r"SchemaTooOldError|SchemaTooNewError", "nbgrader metadata version mismatch")):
        if re.search(pattern, text):
            return f"not graded: {say}"
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and "see the above traceback" not in line and "see the the above traceback" not in line]
    tail = [line for line in lines if not line.startswith(("File ", "^", "~"))][-1:] or ["unknown error"]
    return f"not graded: {tail[0][:300]}"


def format_results(results):
    """A plain-text table: one row per submission, then the per-question problems."""
    lines = []
    width = max([len(r.student) for r in results] + [7])
    lines.append(f"{'student':<{width}}  {'score':>11}  status")
    for r in results:
        bad = [c for c in r.cells if c.status != STATUS_PASSED]
        status = "ok" if r.ok and not bad and not r.problems else (r.problems[0] if not r.ok else
                                                                  f"{len(bad)} question(s) lost")
        lines.append(f"{r.student:<{width}}  {r.score:>5g}/{r.max_score:<5g}  {status}")
        for c in bad:
            if c.status in (STATUS_TIMEOUT, STATUS_DIED, STATUS_NOT_RUN) and r.ok:
                detail = c.message.splitlines()[0] if c.message else ""
                if detail.startswith(c.status):
                    detail = detail[len(c.status):].lstrip(" :")
                lines.append(f"{'':<{width}}    {c.grade_id}: {c.status}" + (f" ({detail})" if detail else ""))
        for p in (r.problems if r.ok else r.problems[1:]):
            lines.append(f"{'':<{width}}    {p}")
    return "\n".join(lines)


# --- the self-learner's check --------------------------------------------------------------------

def find_source(course, nb):
    """The (assignment, source notebook path) whose graded cells best match `nb`'s."""
    ids = {notebooks.grade_id(c) for c in nb.cells if notebooks.grade_id(c)}
    best, best_overlap = None, 0
    for assignment in course.assignments():
        for path in course.source_notebooks(assignment):
            src_ids = {notebooks.grade_id(c) for c in notebooks.read(path).cells if notebooks.grade_id(c)}
            overlap = len(ids & src_ids)
            if overlap > best_overlap:
                best, best_overlap = (assignment, path), overlap
    if best is None:
        raise CourseError("this notebook matches no lesson of the course (no nbgrader cell ids in common)")
    return best


def merge_for_check(student_nb, source_nb):
    """The student's notebook with the instructor's test and read-only cells put back
    (visible and hidden tests), like nbgrader's OverwriteCells with missing cells added."""
    import copy
    src_cells = {notebooks.grade_id(c): c for c in source_nb.cells if notebooks.grade_id(c)}
    nb = copy.deepcopy(student_nb)
    out = []
    for cell in nb.cells:
        gid = notebooks.grade_id(cell)
        if gid in src_cells and not notebooks.is_solution(src_cells[gid]):
            src = src_cells[gid]
            cell = copy.deepcopy(src)
        out.append(cell)
    present = {notebooks.grade_id(c) for c in out}
    # put back deleted graded cells after the cell that precedes them in the source
    order = [notebooks.grade_id(c) for c in source_nb.cells if notebooks.grade_id(c)]
    for gid in order:
        if gid in present or not notebooks.is_graded(src_cells[gid]):
            continue
        previous = order[:order.index(gid)]
        position = 0
        for i, cell in enumerate(out):
            if notebooks.grade_id(cell) in previous:
                position = i + 1
        out.insert(position, copy.deepcopy(src_cells[gid]))
        present.add(gid)
    nb.cells = out
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def check_notebook(path, course=None, *, timeout=None, warm=False):
    """Grade one notebook locally with the visible and hidden tests, exactly as autograde does
    (:func:`autograder.verdicts.grade`). Returns ``(SubmissionResult, graded notebook)``."""
    from . import verdicts
    from .nbgrader_plugins import apply_outputs, protected_paths
    course = course or Course()
    student_nb = notebooks.read(path)
    assignment, source_path = find_source(course, student_nb)
    source_nb = notebooks.read(source_path)
    timeout = timeout or course.config().SandboxGrade.get("timeout", 30) or 30
    with tempfile.TemporaryDirectory(prefix="autodiff-check-") as tmp:
        # the assignment's other files (modules, data), as nbgrader copies them
        for item in (course.source / assignment).iterdir():
            if item.suffix != ".ipynb" and item.name not in (".ipynb_checkpoints", "__pycache__"):
                (shutil.copytree if item.is_dir() else shutil.copy2)(item, Path(tmp) / item.name)
        outcome = verdicts.grade(student_nb, source_nb, assignment, tmp, timeout=timeout,
                                 protected=protected_paths(course.root), allow=(tmp,), env=course.env(),
                                 source_dir=course.source / assignment)
    merged = outcome.merged
    apply_outputs(merged, outcome)
    result = SubmissionResult(Path(path).stem, assignment, "graded")
    result.problems += outcome.problems
    result.cells = [CellResult(v.grade_id, v.score, v.max_score,
                               STATUS_PASSED if v.status == "passed" else
                               STATUS_TIMEOUT if v.status == "timed out" else
                               STATUS_DIED if v.status == "process died" else STATUS_FAILED,
                               v.message) for v in outcome.cells]
    result.score = sum(c.score for c in result.cells)
    result.max_score = sum(c.max_score for c in result.cells)
    return result, merged


def format_check(result):
    """What the self-learner reads: one line per question, the checks' messages under it."""
    lines = [f"{result.assignment}: {result.score:g} / {result.max_score:g} points", ""]
    for c in result.cells:
        mark = "✓" if c.status == STATUS_PASSED else "✗"
        lines.append(f"{mark} {c.grade_id}  [{c.score:g}/{c.max_score:g}]"
                     + ("" if c.status in (STATUS_PASSED, STATUS_FAILED) else f"  ({c.status})"))
        if c.status != STATUS_PASSED and c.message:
            lines += ["    " + line for line in c.message.splitlines()]
    for p in result.problems:
        lines.append(f"! {p}")
    return "\n".join(lines)
