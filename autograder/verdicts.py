r"""Grading a notebook with the verdicts computed outside the student's process.

:func:`grade` is the one grading routine behind ``nbgrader autograde`` (the
:class:`~autograder.nbgrader_plugins.SandboxGrade` preprocessor), ``python -m
autograder autograde`` and ``python -m autograder check``:

1. the student's notebook gets the instructor's test cells back (visible and
   hidden, from the source notebook; a deleted test cell is put back);
2. for each task policy (:mod:`autograder.policy`) a fresh
   :class:`~autograder.sandbox.Sandbox` runs every code cell that is not a
   test cell, in order, each under the per-cell time limit;
3. each test cell's code runs **here**, in the grader: the names the
   instructor's setup cell imports (the checks, numpy, the oracle) are the
   grader's own, every other name is looked up in the sandbox and used
   through a proxy. A test cell passes when it raises nothing.

The student's code can change anything in its own process and nothing here.
A task whose code reached for something its policy forbids gets 0 and the
policy's line; a cell that loops, floods output or ends the process affects
its own cell only (the sandbox is restarted for the next one).
"""
import ast
import builtins
import contextlib
import io
import time
from dataclasses import dataclass, field

from . import notebooks
from .policy import policy_for
from .remote import SandboxLost
from .sandbox import Sandbox

PASSED, FAILED, TIMEOUT, DIED, POLICY = "passed", "failed", "timed out", "process died", "policy"

#: Modules imported into the sandbox before it is sealed (so their files may be read then).
PRELOAD = ("numpy", "math", "cmath", "functools", "itertools", "collections", "operator", "time",
           "scipy", "scipy.linalg", "scipy.optimize", "scipy.integrate", "scipy.special",
           "matplotlib", "matplotlib.pyplot", "autodiff_ref", "autodiff_ref.core", "autodiff_ref.dual",
           "autodiff_ref.reverse", "autodiff_ref.trace", "autodiff_ref.implicit", "autodiff_ref.ode",
           "autodiff_ref.numerical", "autodiff_ref.testing", "autograder.material", "autograder.own_code")

MESSAGE_LIMIT = 2000
NOT_DONE = ("✗ not done yet: a cell of this task still raises NotImplementedError "
            "(replace `raise NotImplementedError()` with your code)")


@dataclass
class CellResult:
    """The verdict on one graded cell."""
    grade_id: str
    score: float
    max_score: float
    status: str
    message: str = ""


@dataclass
class Verdicts:
    """The outcome of grading one notebook."""
    cells: list = field(default_factory=list)            # CellResult per graded test cell, notebook order
    outputs: dict = field(default_factory=dict)          # cell index -> (stdout, error) of the first replay
    problems: list = field(default_factory=list)

    @property
    def score(self):
        return sum(c.score for c in self.cells)

    @property
    def max_score(self):
        return sum(c.max_score for c in self.cells)


def shorten(text, limit=MESSAGE_LIMIT):
    """A message of at most `limit` characters; a line starting with 'hint:' is kept."""
    text = text or ""
    if len(text) <= limit:
        return text
    hints = [line for line in text.splitlines() if line.lstrip().startswith("hint:")]
    tail = "\n  …\n" + "\n".join(h[:300] for h in hints[-1:])
    return text[:max(0, limit - len(tail))].rstrip() + tail


def _setup_namespace(source_nb, source_dir=None):
    """The names the instructor's setup cell binds, evaluated here (trusted code; the
    assignment's own modules come from its source folder, never from the submission)."""
    import sys
    namespace = {"__name__": "__grader__", "__builtins__": builtins}
    if source_dir is not None and str(source_dir) not in sys.path:
        sys.path.insert(0, str(source_dir))
    for cell in source_nb.cells:
        if cell.cell_type != "code" or notebooks.grade_id(cell) != "setup":
            continue
        try:
            tree = ast.parse(notebooks.strip_magics(notebooks.source_text(cell)))
        except SyntaxError:
            continue
        for stmt in tree.body:
            try:
                exec(compile(ast.Module([stmt], []), "<setup>", "exec"), namespace)
            except Exception:
                pass
    return namespace


def _free_names(source):
    """Names a test cell reads without binding them itself."""
    tree = ast.parse(notebooks.strip_magics(source))
    loaded, stored = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded.append(node.id) if isinstance(node.ctx, ast.Load) else stored.add(node.id))
    return [n for n in dict.fromkeys(loaded) if n not in stored]


def _is_test(cell):
    return cell.cell_type == "code" and notebooks.is_graded(cell) and not notebooks.is_solution(cell)


class _Run:
    """One sandbox with one policy, restarted when the student's code ends it."""

    def __init__(self, policy, cells, workdir, protected, allow, hidden_modules, timeout, env, outputs):
        self.policy, self.cells, self.workdir, self.allow = policy, cells, workdir, allow
        self.hidden_modules = hidden_modules
        self.protected, self.timeout, self.env, self.outputs = protected, timeout, env, outputs
        self.box = None
        self.skip = set()           # replay cells that ended or hung a sandbox: not run again
        self.student_cells = set()  # indices of cells the student wrote (not the instructor's as given)
        self.replay_violations = [] # what the student's cells reached for while they ran
        self.not_done = False       # a student's cell still raises NotImplementedError when it runs

    def ensure(self):
        while self.box is None:
            box = Sandbox(self.policy, self.workdir, preload=PRELOAD, protected=self.protected, allow=self.allow,
                          hidden_modules=self.hidden_modules, env=self.env)
            try:
                for index, cell in self.cells:
                    if index in self.skip:
                        continue
                    out, error = box.run_cell(notebooks.strip_magics(notebooks.source_text(cell)), f"cell {index}",
                                              self.timeout, notebooks.grade_id(cell) == "setup")
                    self.outputs.setdefault(index, (out, error))
                    if box.violations and index in self.student_cells:
                        self.replay_violations.extend(box.violations)
                    if error and error[0] == "NotImplementedError" and index in self.student_cells:
                        self.not_done = True
                    box.violations.clear()
            except SandboxLost as lost:
                why = (f"your code ran longer than {self.timeout:g} s (an infinite loop?)" if lost.kind == "timeout"
                       else f"the process running your code ended: {box.exit_reason()}")
                box.close()
                self.skip.add(index)
                self.outputs[index] = ("", ("TimeoutError" if lost.kind == "timeout" else "ProcessEnded", why, []))
                continue
            self.box = box
        return self.box

    def lost(self):
        if self.box is not None:
            self.box.close()
        self.box = None

    def close(self):
        self.lost()


def grade(student_nb, source_nb, assignment, workdir, *, timeout=30, protected=(), allow=(), env=None,
          source_dir=None):
    """Grade `student_nb` against the tests of `source_nb`. Returns :class:`Verdicts`.

    `workdir` holds the assignment's files (the student's code runs there);
    `protected` lists folders the student's code may not read (the course,
    the grader, the reference library), `allow` folders inside them it may.
    `source_dir` is the assignment's source folder: its Python modules (the
    instructor's, e.g. an assignment's own checks) are imported here from
    there, and in the sandbox they are stand-ins.
    """
    from .grading import merge_for_check
    merged = merge_for_check(student_nb, source_nb)
    source_tests = {notebooks.grade_id(c): notebooks.source_text(c) for c in source_nb.cells if _is_test(c)}
    replay = [(i, c) for i, c in enumerate(merged.cells) if c.cell_type == "code" and not _is_test(c)]
    tests = [(i, c) for i, c in enumerate(merged.cells) if _is_test(c)]
    setup = _setup_namespace(source_nb, source_dir)
    from pathlib import Path
    hidden_modules = sorted(p.stem for p in Path(source_dir).glob("*.py")) if source_dir else []
    verdicts = Verdicts()

    groups = {}
    for index, cell in tests:
        source = source_tests.get(notebooks.grade_id(cell), notebooks.source_text(cell))
        policy = policy_for(assignment, source)
        groups.setdefault(policy.key, []).append((index, cell, source, policy))

    instructor_code = {notebooks.source_text(c).strip() for c in source_nb.cells
                       if c.cell_type == "code" and not notebooks.is_solution(c)}
    results = {}
    for members in groups.values():
        run = _Run(members[0][3], replay, workdir, protected, allow, hidden_modules, timeout, env,
                   verdicts.outputs)
        run.student_cells = {i for i, c in replay if notebooks.source_text(c).strip() not in instructor_code}
        try:
            for index, cell, source, policy in members:
                results[index] = _run_test(run, cell, source, policy, setup, timeout)
        finally:
            run.close()
    verdicts.cells = [results[i] for i, _ in tests]
    merged_outputs = verdicts.outputs
    for index, (out, error) in sorted(merged_outputs.items()):
        if error and error[0] in ("TimeoutError", "ProcessEnded"):
            verdicts.problems.append(f"cell {index}: {error[1]}")
    verdicts.merged = merged
    return verdicts


def _run_test(run, cell, source, policy, setup, timeout):
    gid, points = notebooks.grade_id(cell), notebooks.points(cell)
    try:
        box = run.ensure()
        names = _free_names(source)
    except SyntaxError as err:
        return CellResult(gid, 0.0, points, FAILED, f"the test cell does not parse: {err}")
    namespace = dict(setup)
    stdout = io.StringIO()
    box.violations.clear()
    started = time.monotonic()
    try:
        for name in names:
            if name in namespace or hasattr(builtins, name):
                continue
            try:
                namespace[name] = box.lookup(name)
            except NameError:
                pass
        box.channel.deadline = started + timeout
        with contextlib.redirect_stdout(stdout):
            exec(compile(source, f"<test {gid}>", "exec"), namespace)
        status, message = PASSED, stdout.getvalue().strip()
    except SandboxLost as lost:
        if lost.kind == "timeout":
            status, message = TIMEOUT, (f"✗ your code ran longer than {timeout:g} s on this check "
                                        "(an infinite loop, or much slower than needed?)")
        elif lost.kind == "protocol":
            status, message = DIED, f"✗ the process running your code broke the grading protocol ({lost.why})"
        else:
            status, message = DIED, (f"✗ the process running your code ended during this check: "
                                     f"{box.exit_reason()}")
            protocol = [v for v in box.violations if v.startswith("protocol:")]
            if protocol:
                message += f" ({protocol[0]})"
                box.violations.clear()
        run.lost()
    except Exception as err:   # the check failed: its message says what and why
        status = FAILED
        if type(err).__name__ == "CheckFailure" or isinstance(err, AssertionError) and str(err).startswith("✗"):
            message = str(err)
        else:
            message = f"✗ {type(err).__name__}: {err}"
    finally:
        box.channel.deadline = None
    if status == FAILED and ("NotImplementedError" in message or (run.not_done and "is not defined" in message)):
        message = f"{NOT_DONE}\n{message}"
    reached = box.violations or (run.replay_violations if status != PASSED else [])
    if reached:
        status = POLICY
        first = reached[0]
        message = (f"✗ {policy.message}; your code {first.split(':', 1)[0]} (0 points for this task)")
    score = points if status == PASSED else 0.0
    return CellResult(gid, float(score), points, status, shorten(message))
