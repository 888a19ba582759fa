"""own_code.yours: the student's earlier code when its checks pass, the reference otherwise.

Unit tests on small made-up notebooks (found, not found, failing check, malformed,
raising cells, the grading marker, the cache), with_numpy on a scalar dual class,
the grading sandbox's marker, and lesson 2's loading cells run next to a lesson 1 that
passes (the student's code is used) or fails (the reference is used). Whole lessons run
once, beside the earlier lessons' solutions, in tests/test_notebooks.py."""
import contextlib
import io
import os
import shutil

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autodiff_ref import Dual as RefDual
from autograder import notebooks, own_code

from conftest import COURSE


def _cell(source, gid=None, *, solution=False, test=False):
    cell = new_code_cell(source)
    if gid:
        cell.metadata["nbgrader"] = {"grade": test, "grade_id": gid, "locked": not solution,
                                     "schema_version": 3, "solution": solution,
                                     **({"points": 1} if test else {})}
    return cell


GOOD_CLASS = '''
# Task 9.1: the class
class Thing:
    ### BEGIN SOLUTION
    def __init__(self, x):
        self.x = x

    def double(self):
        return 2 * self.x
    ### END SOLUTION

def triple(t):
    return 3 * t.x
'''


def _lesson(folder, *, cls=GOOD_CLASS, triple_check="assert triple(Thing(2)) == 6", extra=(), name="lesson9_things"):
    """Write a small earlier lesson `name` under `folder`; returns its path."""
    cells = [
        new_markdown_cell("# Lesson 9"),
        _cell("%matplotlib inline\nimport math\nfrom autograder.checks import CheckFailure", "setup"),
        _cell(cls, "task91", solution=True),
        _cell("# Check Task 9.1: double\nassert Thing(3).double() == 6\n### BEGIN HIDDEN TESTS\n"
              "assert False, 'hidden tests are not run'\n### END HIDDEN TESTS", "test91", test=True),
        _cell("# Check Task 9.2: triple\n" + triple_check, "test92", test=True),
        *extra,
    ]
    path = folder / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells), str(path))
    return path


class Reference:
    """The fallback the tests pass as `reference`."""


def _yours(folder, **kwargs):
    kwargs.setdefault("tasks", ("9.1", "9.2"))
    return own_code.yours("lesson9_things", "Thing", reference=Reference, folder=str(folder), **kwargs)


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv(own_code.GRADING, raising=False)
    own_code._cache.clear()
    yield
    own_code._cache.clear()


def test_uses_the_students_object_when_its_checks_pass(tmp_path, capsys):
    _lesson(tmp_path)
    Thing = _yours(tmp_path)
    assert Thing is not Reference and Thing(5).double() == 10
    assert Thing.__module__ == "lesson9_things"
    out = capsys.readouterr().out
    assert out == "Using your Thing from lesson 9 (it passes the checks of Tasks 9.1 and 9.2).\n"


def test_several_names_come_back_in_order(tmp_path, capsys):
    _lesson(tmp_path)
    Thing, triple = own_code.yours("lesson9_things", ("Thing", "triple"), tasks=("Task 9.1", "9.2"),
                                   reference=(Reference, len), folder=str(tmp_path))
    assert triple(Thing(4)) == 12
    assert "Using your Thing and triple from lesson 9" in capsys.readouterr().out
    assert own_code.yours("lesson9_things", ("Thing", "triple"), tasks=("9.1",), reference=(Reference, len),
                          folder=str(tmp_path), use_yours=False) == (Reference, len)
    assert "Using the reference test_own_code.Reference and builtins.len: this cell asks for it" in capsys.readouterr().out


def test_not_found(tmp_path, capsys):
    assert _yours(tmp_path) is Reference
    expected = os.path.join(str(tmp_path), "lesson9_things", "lesson9_things.ipynb")
    assert capsys.readouterr().out == f"Using the reference test_own_code.Reference: {expected} not found.\n"


def test_the_default_folder_is_the_parent_of_the_current_one(tmp_path, monkeypatch, capsys):
    _lesson(tmp_path)
    (tmp_path / "lesson10").mkdir()
    monkeypatch.chdir(tmp_path / "lesson10")
    assert own_code.yours("lesson9_things", "Thing", tasks=("9.1",), reference=Reference) is not Reference
    monkeypatch.chdir(tmp_path)
    assert own_code.yours("lesson9_things", "Thing", tasks=("9.1",), reference=Reference) is Reference
    assert "../lesson9_things/lesson9_things.ipynb not found." in capsys.readouterr().out


def test_a_failing_check_names_the_task_and_the_first_line_of_its_message(tmp_path, capsys):
    _lesson(tmp_path, triple_check="raise CheckFailure('triple(t) for t = Thing(2)', expected=6, got=5, "
                                   "hint='three times, not two')")
    assert _yours(tmp_path) is Reference
    assert capsys.readouterr().out == (
        "Using the reference test_own_code.Reference: your lesson 9 fails Task 9.2's check "
        "(triple(t) for t = Thing(2)). Fix it there and rerun this cell to use yours.\n")
    # only the named tasks count
    assert _yours(tmp_path, tasks=("9.1",)) is not Reference


def test_an_unfinished_task(tmp_path, capsys):
    _lesson(tmp_path, cls=GOOD_CLASS.replace("return 2 * self.x", "raise NotImplementedError()"))
    assert _yours(tmp_path) is Reference
    assert "fails Task 9.1's check (NotImplementedError)." in capsys.readouterr().out


def test_a_plain_assertion_and_an_exception_in_a_check(tmp_path, capsys):
    _lesson(tmp_path, triple_check="assert triple(Thing(2)) == 7, 'triple is off\\nsecond line'")
    assert _yours(tmp_path) is Reference
    assert "fails Task 9.2's check (triple is off)." in capsys.readouterr().out
    _lesson(tmp_path, triple_check="triple(None)")
    assert _yours(tmp_path) is Reference
    assert "fails Task 9.2's check (AttributeError: 'NoneType' object has no attribute 'x')." in capsys.readouterr().out


def test_a_task_without_a_check_and_a_name_not_defined(tmp_path, capsys):
    _lesson(tmp_path)
    assert _yours(tmp_path, tasks=("9.7",)) is Reference
    out = capsys.readouterr().out
    assert "your lesson 9 has no check of Task 9.7." in out and "Fix it there" not in out
    assert own_code.yours("lesson9_things", ("Thing", "quadruple"), tasks=("9.1",), reference=(1, 2),
                          folder=str(tmp_path)) == (1, 2)
    assert "your lesson 9 does not define quadruple." in capsys.readouterr().out


def test_malformed_notebook(tmp_path, capsys):
    path = tmp_path / "lesson9_things" / "lesson9_things.ipynb"
    path.parent.mkdir()
    path.write_text("{ not json")
    assert _yours(tmp_path) is Reference
    assert "your lesson 9 is not a readable notebook (" in capsys.readouterr().out


def test_a_syntax_error_in_a_cell(tmp_path, capsys):
    _lesson(tmp_path, cls=GOOD_CLASS + "\ndef broken(:\n    pass\n")
    assert _yours(tmp_path) is Reference
    assert "your lesson 9 has a syntax error in cell 2 (line " in capsys.readouterr().out


def test_a_students_cell_that_raises_is_reported_a_given_one_passed_over(tmp_path, capsys):
    _lesson(tmp_path, cls=GOOD_CLASS + "\nBROKEN = 1 / 0\n")
    assert _yours(tmp_path) is Reference
    assert "your lesson 9 raises in cell 2, line 15 (ZeroDivisionError: division by zero)." \
        in capsys.readouterr().out
    given = _cell("t = Thing(1)\nw = t.x * 2     # needs t, whose line calls something and is skipped", "given")
    _lesson(tmp_path, extra=[given])
    assert _yours(tmp_path) is not Reference


def test_only_definitions_run_quietly(tmp_path, capsys):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figures = plt.get_fignums()
    noisy = _cell('''
%timeit 1 + 1
!echo shell
print("a demo that prints")
for i in range(3):
    raise RuntimeError("loops do not run")
plt.show()
slow = never_called()            # a given assignment that calls: skipped
constant = 3                     # one that calls nothing: run
Thing.tripled = triple           # attaching a method: run
''', "demo")
    solution = _cell("# Task 9.3\n### BEGIN SOLUTION\nimport matplotlib.pyplot as plt\nfig = plt.figure()\n"
                     "plt.show()\nprint('the student prints')\n### END SOLUTION", "task93", solution=True)
    check = _cell("# Check Task 9.3: the constant\nassert constant == 3 and Thing(1).tripled() == 3\n"
                  "print('✓ a check prints')", "test93", test=True)
    _lesson(tmp_path, extra=[noisy, solution, check])
    shown = []
    real_show = plt.show
    plt.show = lambda *a, **k: shown.append(1)
    try:
        Thing = _yours(tmp_path, tasks=("9.1", "9.2", "9.3"))
        assert plt.show is not real_show and not shown
    finally:
        plt.show = real_show
    assert Thing is not Reference
    assert capsys.readouterr().out == "Using your Thing from lesson 9 (it passes the checks of Tasks 9.1–9.3).\n"
    assert plt.get_fignums() == figures


def test_grading_always_takes_the_reference(tmp_path, monkeypatch, capsys):
    _lesson(tmp_path)
    monkeypatch.setenv(own_code.GRADING, "1")
    monkeypatch.setattr(own_code, "_load", lambda *a: pytest.fail("the grader must not read the course"))
    assert _yours(tmp_path) is Reference
    assert capsys.readouterr().out == (
        "Using the reference test_own_code.Reference: graded with the reference Thing so that this "
        "lesson's grade depends on this lesson only.\n")


def test_cached_by_modification_time(tmp_path, monkeypatch):
    path = _lesson(tmp_path)
    runs = []
    real_run = own_code._run
    monkeypatch.setattr(own_code, "_run", lambda *a: runs.append(a) or real_run(*a))
    first = _yours(tmp_path)
    assert _yours(tmp_path) is first and len(runs) == 1
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert _yours(tmp_path) is not first and len(runs) == 2


def test_a_loop_that_never_ends_is_stopped(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(own_code, "LIMIT_SECONDS", 0.5)
    _lesson(tmp_path, triple_check="while True:\n    pass")
    assert _yours(tmp_path) is Reference
    assert "fails Task 9.2's check (it ran longer than 0.5 s: a loop that never ends?)" in capsys.readouterr().out
    _lesson(tmp_path, cls=GOOD_CLASS + "\nimport itertools\nspin = [x for x in itertools.count()]\n")
    assert _yours(tmp_path) is Reference
    assert "could not be loaded (it ran longer than 0.5 s" in capsys.readouterr().out
    import signal
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_runs_in_the_earlier_notebooks_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _lesson(tmp_path, extra=[_cell("# Task 9.4\n### BEGIN SOLUTION\nimport os\nHERE = os.getcwd()\n"
                                   "### END SOLUTION", "task94", solution=True),
                             _cell("# Check Task 9.4: the folder\nassert HERE.endswith('lesson9_things')",
                                   "test94", test=True)])
    assert _yours(tmp_path, tasks=("9.4",)) is not Reference
    assert os.getcwd() == str(tmp_path)


def test_a_change_in_a_notebook_loaded_in_turn_is_seen(tmp_path, capsys):
    inner = _lesson(tmp_path, name="lesson8_inner")
    uses_inner = _cell('from autograder import own_code\n'
                       'Inner = own_code.yours("lesson8_inner", "Thing", tasks=("9.1",), reference=None)', "inner")
    _lesson(tmp_path, extra=[uses_inner, _cell("# Check Task 9.5: lesson 8's Thing\nassert Inner is not None",
                                                "test95", test=True)])
    assert _yours(tmp_path, tasks=("9.5",)) is not Reference
    nb = notebooks.read(inner)
    nb.cells[3].source = "# Check Task 9.1: double\nassert False, 'now failing'"
    notebooks.write(nb, inner)
    stat = inner.stat()
    os.utime(inner, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert _yours(tmp_path, tasks=("9.5",)) is Reference
    assert "fails Task 9.5's check" in capsys.readouterr().out.splitlines()[-1]


def test_errors_while_loading_never_break_the_lesson(tmp_path, monkeypatch, capsys):
    _lesson(tmp_path)
    monkeypatch.setattr(own_code, "_run", lambda *a: 1 / 0)
    assert _yours(tmp_path) is Reference
    assert "your lesson 9 could not be loaded (ZeroDivisionError: division by zero)." in capsys.readouterr().out


def test_a_notebook_that_loads_itself(tmp_path, capsys):
    selfish = _cell('from autograder import own_code\n'
                    'Other = own_code.yours("lesson9_things", "Thing", tasks=("9.1",), reference=None)\n', "self")
    _lesson(tmp_path, extra=[selfish], triple_check="assert Other is None and triple(Thing(2)) == 6")
    assert _yours(tmp_path) is not Reference


def test_bad_calls_say_how_to_fix_them(tmp_path):
    with pytest.raises(ValueError, match="a tuple of one reference object per name"):
        own_code.yours("lesson9_things", ("Thing", "triple"), tasks=("9.1",), reference=Reference)
    with pytest.raises(ValueError, match="name the earlier tasks"):
        own_code.yours("lesson9_things", "Thing", tasks=(), reference=Reference)


def test_labels():
    assert own_code._tasks_label(("Task 1.1",)) == "Task 1.1"
    assert own_code._tasks_label(("Task 1.1", "Task 1.2", "Task 1.3")) == "Tasks 1.1–1.3"
    assert own_code._tasks_label(("Task 1.1", "Task 1.3", "Task 1.4")) == "Tasks 1.1, 1.3 and 1.4"
    assert own_code._tasks_label(("Task 2.1", "Task 2.1b", "Task 2.2")) == "Tasks 2.1, 2.1b and 2.2"
    assert own_code._lesson_label("lesson3b_reverse_arrays") == "lesson 3b"
    assert own_code._lesson_label("extra") == "extra"
    assert own_code._name_of(RefDual) == "autodiff_ref.Dual" and own_code._name_of(np.sin) == "numpy.sin"


# ------------------------------------------------------------------------------------------
# with_numpy: numpy functions on a lesson-1 Dual
# ------------------------------------------------------------------------------------------
def _scalar_dual():
    import math

    class Dual:
        def __init__(self, value, tangent=0.0):
            self.value, self.tangent = value, tangent

        def __add__(self, other):
            other = other if isinstance(other, Dual) else Dual(other)
            return Dual(self.value + other.value, self.tangent + other.tangent)

        __radd__ = __add__

        def __sub__(self, other):
            other = other if isinstance(other, Dual) else Dual(other)
            return Dual(self.value - other.value, self.tangent - other.tangent)

        def __rsub__(self, other):
            return Dual(other) - self

        def __mul__(self, other):
            other = other if isinstance(other, Dual) else Dual(other)
            return Dual(self.value * other.value, self.value * other.tangent + self.tangent * other.value)

        __rmul__ = __mul__

        def __neg__(self):
            return Dual(-self.value, -self.tangent)

    def sin(d):
        return Dual(math.sin(d.value), math.cos(d.value) * d.tangent)

    return Dual, sin


def test_with_numpy_sends_ufuncs_to_the_students_rules(capsys):
    Dual, sin = _scalar_dual()
    assert own_code.with_numpy(Dual, {np.sin: sin}) is Dual
    assert "numpy functions now reach your Dual: np.sin (and numpy's + − × ÷ **)." in capsys.readouterr().out
    d = np.sin(Dual(0.5, 1.0))
    assert (d.value, d.tangent) == (np.sin(0.5), np.cos(0.5))       # oracle: the closed form
    for got, value, tangent in ((np.float64(2.0) * Dual(1.5, 1.0), 3.0, 2.0),
                                (np.float64(1.0) - Dual(3.0, 1.0), -2.0, -1.0),
                                (np.float64(1.0) + Dual(3.0, 1.0), 4.0, 1.0),
                                (np.multiply(Dual(1.5, 1.0), np.float64(2.0)), 3.0, 2.0),
                                (np.negative(Dual(3.0, 1.0)), -3.0, -1.0)):
        assert (got.value, got.tangent) == (value, tangent)
        assert type(got.value) is float          # numpy's scalars come in as floats
    with pytest.raises(TypeError, match="tanh"):
        np.tanh(Dual(0.5, 1.0))
    with pytest.raises(TypeError, match="true_divide|divide"):      # no __rtruediv__ in this class
        np.float64(1.0) / Dual(2.0, 1.0)
    with pytest.raises(TypeError):
        np.sin(Dual(0.5, 1.0), out=np.empty(()))
    with pytest.raises(TypeError):
        np.add.outer(Dual(1.0, 1.0), 2.0)       # only plain calls are sent to rules


def test_with_numpy_leaves_a_class_that_has_the_protocol_and_refuses_bad_rules(capsys):
    before = RefDual.__array_ufunc__
    assert own_code.with_numpy(RefDual, {np.sin: np.cos}) is RefDual
    assert RefDual.__array_ufunc__ is before and np.sin(RefDual(0.0, 1.0)).tangent == 1.0
    assert "Dual already has __array_ufunc__" in capsys.readouterr().out
    Dual, sin = _scalar_dual()
    with pytest.raises(TypeError, match=r"e.g. \{np.sin: sin\}"):
        own_code.with_numpy(Dual, {"sin": sin})
    with pytest.raises(TypeError, match="rules maps numpy ufuncs"):
        own_code.with_numpy(Dual, {np.sin: 3})


def test_lesson2_hint_for_a_jvp_on_the_lesson1_dual():
    from autograder.checks import CheckFailure
    from autograder.lessons import lesson2
    Dual, sin, cos, exp, log = own_code.yours(      # the lesson-1 solution: right on every scalar case
        "lesson1_dual_numbers", ("Dual", "sin", "cos", "exp", "log"), tasks=("1.1", "1.2", "1.4", "1.5"),
        reference=(None,) * 5, folder=str(COURSE / "source"))
    own_code.with_numpy(Dual, {np.sin: sin, np.cos: cos, np.exp: exp, np.log: log})

    def jvp(f, x, v):
        out = f(Dual(x, v))
        return out.value, out.tangent

    with pytest.raises(CheckFailure) as failure:
        lesson2.check_jvp(jvp)
    assert "not the reference RefDual (your lesson-1 Dual?)" in str(failure.value)
    with pytest.raises(CheckFailure) as failure:      # a plain-number call is not taken for a dual
        lesson2.check_jvp(lambda f, x, v: (f(x), v))
    assert "not the reference RefDual" not in str(failure.value)


# ------------------------------------------------------------------------------------------
# the grading sandbox sets the marker, and own_code is available there
# ------------------------------------------------------------------------------------------
FALLBACKS = {   # what each lesson's given cell falls back to, and a use of it the task's policy must allow
    ("lesson2_forward_mode", "Task 2.2"): ("from autodiff_ref import Dual as RefDual\nreference = RefDual\n",
                                           "autodiff_ref.Dual", "print(reference(2.0, 1.0) * 3)",
                                           "Dual(6.0, 3.0)"),
    ("lesson4_higher_order", "Task 4.1"): ("from autodiff_ref import jvp\n"
                                           "def reference(f, x, v):\n    return jvp(f, (x,), (v,))\n",
                                           "reference", "print(reference(lambda x: x * x, 3.0, 1.0))",
                                           "(np.float64(9.0), np.float64(6.0))"),
}


@pytest.mark.slow
@pytest.mark.parametrize("lesson, task", list(FALLBACKS))
def test_the_sandbox_takes_the_reference_and_the_policy_allows_it(tmp_path, lesson, task):
    from autograder.policy import policy_for
    from autograder.sandbox import Sandbox
    from autograder.verdicts import PRELOAD
    _lesson(tmp_path)
    work = tmp_path / "lesson10"
    work.mkdir()
    setup, label, use, used = FALLBACKS[lesson, task]
    with Sandbox(policy_for(lesson, f"# Check {task}: …"), work, preload=PRELOAD, protected=(str(tmp_path),),
                 allow=()) as box:
        out, error = box.run_cell(
            f"from autograder import own_code\n{setup}import os\nprint(os.environ.get(own_code.GRADING))\n"
            "Thing = own_code.yours('lesson9_things', 'Thing', tasks=('9.1',), reference=reference)\n"
            "assert Thing is reference\n" + use, "cell 1", 60)
        assert error is None, error
        assert out.splitlines() == ["1", f"Using the reference {label}: graded with the reference Thing "
                                         "so that this lesson's grade depends on this lesson only.", used]
        assert not box.violations


# ------------------------------------------------------------------------------------------
# lessons 2 and 4 next to the earlier lessons
# ------------------------------------------------------------------------------------------
def _copy_lessons(folder, *names):
    for name in names:
        (folder / name).mkdir(parents=True)
        shutil.copy(COURSE / "source" / name / f"{name}.ipynb", folder / name)


def _outputs(nb, gid):
    cell = next(c for c in nb.cells if notebooks.grade_id(c) == gid)
    return "".join(o.get("text", "") for o in cell.outputs)


def run_cells(path, gids, monkeypatch):
    """Run the setup cell and the cells `gids` of the notebook at `path`, in its folder (the
    rest of the notebook runs in tests/test_notebooks.py, once, beside the earlier lessons'
    solutions): the namespace and each cell's printed text."""
    nb = notebooks.read(path)
    source = {notebooks.grade_id(c): notebooks.source_text(c) for c in nb.cells if notebooks.grade_id(c)}
    monkeypatch.chdir(path.parent)
    namespace, printed = {}, {}
    for gid in ("setup",) + tuple(gids):
        code = notebooks.strip_magics(source[gid])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{path.name}:{gid}", "exec"), namespace)
        printed[gid] = out.getvalue()
    return namespace, printed


def test_lesson_2_takes_the_reference_when_lesson_1_fails(tmp_path, monkeypatch):
    _copy_lessons(tmp_path, "lesson1_dual_numbers", "lesson2_forward_mode")
    path = tmp_path / "lesson1_dual_numbers" / "lesson1_dual_numbers.ipynb"
    nb1 = notebooks.read(path)
    cell = next(c for c in nb1.cells if notebooks.grade_id(c) == "task13-pow")
    cell.source = cell.source.replace("n * self.value ** (n - 1) * self.tangent", "self.value ** (n - 1) * self.tangent")
    notebooks.write(nb1, path)
    namespace, printed = run_cells(tmp_path / "lesson2_forward_mode" / "lesson2_forward_mode.ipynb",
                                   ("yours", "ufunc-yours"), monkeypatch)
    line = printed["yours"]
    assert line.startswith("Using the reference autodiff_ref.Dual, numpy.sin, numpy.cos, numpy.exp, numpy.log and "
                           "numpy.sqrt: your lesson 1 fails Task 1.3's check (")
    assert line.rstrip().endswith("Fix it there and rerun this cell to use yours.")
    assert namespace["Dual"] is namespace["RefDual"]
    assert "Dual already has __array_ufunc__" in printed["ufunc-yours"]


def test_lesson_2_uses_the_students_dual_beside_a_passing_lesson_1(tmp_path, monkeypatch):
    _copy_lessons(tmp_path, "lesson1_dual_numbers", "lesson2_forward_mode")
    namespace, printed = run_cells(tmp_path / "lesson2_forward_mode" / "lesson2_forward_mode.ipynb",
                                   ("yours", "ufunc-yours"), monkeypatch)
    assert printed["yours"].startswith("Using your Dual, sin, cos, exp, log and sqrt from lesson 1 "
                                       "(it passes the checks of Tasks 1.1–1.5).")
    assert namespace["Dual"] is not namespace["RefDual"]
    assert printed["ufunc-yours"].startswith("numpy functions now reach your Dual: np.sin, np.cos, np.exp")
    assert "np.sin(d) = Dual(0.479425538604203, 0.8775825618903728)" in printed["ufunc-yours"]
    assert "np.tanh(d) raised TypeError" in printed["ufunc-yours"]
