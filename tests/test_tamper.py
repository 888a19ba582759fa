"""The tamper corpus: a student out to cheat, by category, against the grading design.

The verdict is computed in the grader; the student's code runs in a sealed
sandbox (autograder/sandbox.py) under its task's policy (autograder/policy.py).
Each attack below is a whole class, not a listed form: whatever the code
changes in its own process is not the verdict, and what a task forbids is
absent from that process. Every attack must lose the points of what it
touched, say why in a readable line, and leave the other cells graded.
"""
import copy
import tempfile

import pytest

from autograder import notebooks, verdicts
from autograder.nbgrader_plugins import protected_paths

from conftest import COURSE, FIXTURE, FIXTURE_COURSE

WRONG = "def grad_sum_squares(x):\n    return x\n"      # a wrong answer the cheats try to pass off


def grade(assignment, replace, source_root=None):
    """Grade the source notebook with some solution cells replaced: {grade_id: score} and the verdicts."""
    root = source_root or (FIXTURE_COURSE if assignment == FIXTURE else COURSE)
    folder = root / "source" / assignment
    source = notebooks.read(next(folder.glob("*.ipynb")))
    student = copy.deepcopy(source)
    for cell in student.cells:
        gid = notebooks.grade_id(cell)
        if gid in replace:
            cell.source = replace[gid]
    with tempfile.TemporaryDirectory() as tmp:
        result = verdicts.grade(student, source, assignment, tmp, timeout=6,
                                protected=protected_paths(root), allow=(tmp,), source_dir=folder)
    return {c.grade_id: c.score for c in result.cells}, result


def messages(result):
    return {c.grade_id: c.message for c in result.cells}


FULL_FIXTURE = {"test_central_visible": 1.0, "test_central_hidden": 2.0, "test_error_order": 1.0, "test_grad": 1.0}

# Each: task 2's cell of the fixture holds a wrong answer plus an attack on the grading.
ATTACKS = {
    "patched comparison and numpy": WRONG + (
        "import numpy, math\nnumpy.allclose = numpy.isclose = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\nmath.isclose = lambda *a, **k: True\n"
        "numpy.ndarray = object\n"),
    "replace the checks by assignment": WRONG + (
        "checks.check_sum_squares_grad = checks.check_sum_squares_grad_hidden = lambda *a, **k: None\n"),
    "replace the checks by setattr and the module type": WRONG + (
        "import types\nfor n in dir(checks):\n    setattr(checks, n, print)\n"
        "    types.ModuleType.__setattr__(checks, n, print)\n    vars(checks)[n] = print\n"),
    "replace the checks through sys.modules and an import hook": WRONG + (
        "import sys, types\nfake = types.ModuleType('fixture_checks')\n"
        "fake.__getattr__ = lambda name: (lambda *a, **k: None)\n"
        "sys.modules['fixture_checks'] = fake\nsys.modules['autograder.checks'] = fake\n"
        "class Finder:\n    def find_spec(self, *a, **k):\n        return None\nsys.meta_path.insert(0, Finder())\n"),
    "gc, frames and ctypes": WRONG + (
        "def _try(f):\n    try:\n        f()\n    except BaseException:\n        pass\n"
        "import gc, sys\n_try(lambda: [setattr(o, 'x', 1) for o in gc.get_objects()])\n"
        "_try(lambda: sys._getframe(1).f_globals.clear())\n"
        "_try(lambda: __import__('ctypes'))\n"),
    "an object equal to anything": (
        "class Anything:\n    def __eq__(self, other):\n        return True\n"
        "    __ne__ = lambda s, o: False\n    __lt__ = __le__ = __gt__ = __ge__ = lambda s, o: True\n"
        "    def __float__(self):\n        return 0.0\n    def __array__(self, *a, **k):\n"
        "        import numpy\n        return numpy.zeros(2)\n    def __len__(self):\n        return 2\n"
        "def grad_sum_squares(x):\n    return Anything()\n"),
    "read the expected values from the checks' files and the caller's frames": (
        "import sys\n"
        "def grad_sum_squares(x):\n"
        "    for name in ('fixture_checks.py', '../../source/fixture_central/fixture_checks.py'):\n"
        "        try:\n            open(name).read()\n            return x * 2\n"
        "        except OSError:\n            pass\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        for v in frame.f_locals.values():\n"
        "            if getattr(v, 'shape', None) == getattr(x, 'shape', 0) and v is not x:\n"
        "                return v\n"
        "        frame = frame.f_back\n"
        "    return x\n"),
    "suppress the failure": WRONG + (
        "import sys, builtins\nsys.excepthook = lambda *a: None\nbuiltins.AssertionError = type('A', (Exception,), {})\n"
        "def grad_sum_squares(x):\n    try:\n        return x\n    finally:\n        pass\n"),
    # a stand-in for the grader's, numpy's or another lesson's files (outside the submission's folder)
    "change files outside its folder for later submissions": WRONG + (
        "import os\ntarget = '/tmp/autodiff-tamper-decoy/checks.py'\n"
        "for act in (lambda: open(target, 'a').write('allclose = lambda *a, **k: True'),\n"
        "            lambda: os.rename(target, target + '.bak'), lambda: os.remove(target),\n"
        "            lambda: open(target + 'x', 'w').write('x')):\n"
        "    try:\n        act()\n    except OSError:\n        pass\n"),
    "signal or read the grader's process": WRONG + (
        "import os, signal\n"
        "for act in (lambda: os.kill(os.getppid(), signal.SIGKILL), lambda: os.killpg(0, signal.SIGKILL),\n"
        "            lambda: open(f'/proc/{os.getppid()}/mem', 'rb').read(64),\n"
        "            lambda: open(f'/proc/{os.getppid()}/environ').read()):\n"
        "    try:\n        act()\n    except OSError:\n        pass\n"),
    "exit from the student's function": "def grad_sum_squares(x):\n    import os\n    os._exit(0)\n",
    "raise SystemExit or KeyboardInterrupt": "def grad_sum_squares(x):\n    raise KeyboardInterrupt\n",
    "loop forever in the check": "def grad_sum_squares(x):\n    while True:\n        pass\n",
}


DECOY = "/tmp/autodiff-tamper-decoy"


def _fingerprint():
    """What lies in the decoy folder, a stand-in for the files no submission may change."""
    from pathlib import Path
    folder = Path(DECOY)
    folder.mkdir(exist_ok=True)
    if not (folder / "checks.py").exists():
        (folder / "checks.py").write_text("def check(x):\n    assert x == 2\n")
    return {p.name: p.read_text() for p in folder.iterdir()}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_loses_its_task_only(attack):
    before = _fingerprint()
    scores, result = grade(FIXTURE, {"grad_sum_squares": ATTACKS[attack]})
    assert _fingerprint() == before, "the submission changed files outside its folder"
    assert scores["test_grad"] == 0.0, (attack, messages(result))
    assert {g: s for g, s in scores.items() if g != "test_grad"} == \
        {g: s for g, s in FULL_FIXTURE.items() if g != "test_grad"}, "the other cells are graded as usual"
    text = messages(result)["test_grad"]
    assert text.startswith("✗") and len(text) <= verdicts.MESSAGE_LIMIT


def test_huge_output_and_a_correct_answer_keep_full_marks():
    code = "print('x' * 50_000_000)\ndef grad_sum_squares(x):\n    print('y' * 10_000_000)\n    return 2 * x\n"
    scores, result = grade(FIXTURE, {"grad_sum_squares": code})
    assert scores == FULL_FIXTURE
    out = [o for o, _ in result.outputs.values() if o]
    assert out and max(len(o) for o in out) < 10_000, "the student's output is cut"


def test_solution_gets_full_marks_and_a_wrong_answer_gets_the_hint():
    assert grade(FIXTURE, {})[0] == FULL_FIXTURE
    scores, result = grade(FIXTURE, {"grad_sum_squares": WRONG})
    assert scores["test_grad"] == 0 and "forgot the factor 2" in messages(result)["test_grad"]


# --- the shipped reference in place of the student's own work ----------------------------------------------

REFERENCE_CHEATS = [
    # (assignment, solution cell, code, graded cells that must score 0, words of the policy line)
    ("lesson1_dual_numbers", "task11-dual-class",
     "from autodiff_ref import Dual\ndef as_dual(x):\n    return x if isinstance(x, Dual) else Dual(x, 0.0)\n",
     ["test11-dual-arithmetic", "test11-mixed-arithmetic"], "Task 1.1"),
    ("lesson1_dual_numbers", "task11-dual-class",
     "import importlib\nDual = importlib.import_module('autodiff_ref').Dual\n",
     ["test11-dual-arithmetic"], "Task 1.1"),
    ("lesson1_dual_numbers", "task11-dual-class",
     "import sys, runpy\nsys.modules.pop('autodiff_ref', None)\n"
     "ns = runpy.run_path(__import__('os').path.join(sys.prefix, 'x'))\n",
     ["test11-dual-arithmetic"], None),
    ("lesson2_forward_mode", "task22-jvp",
     "import autodiff_ref\ndef jvp(f, x, v):\n    return autodiff_ref.jvp(f, (x,), (v,))\n",
     ["test22-jvp"], "Task 2.2"),
    ("lesson4_higher_order", "task41-second-derivative",
     "from autodiff_ref import derivative\ndef second_derivative(f, x):\n    return derivative(f, x, 2)\n",
     ["test41-second-derivative"], "Task 4.1"),
    ("lesson6_implicit_layers", "task63-fixed-point-vjp",
     "from autodiff_ref import fixed_point, vjp\n"
     "def fixed_point_vjp(g, y_star, params, ybar):\n"
     "    _, pullback = vjp(lambda *p: fixed_point(g, y_star, *p), *params)\n"
     "    return pullback(ybar)\n",
     ["test63-vjp", "test63-vjp-fd"], "Task 6.3"),
    ("lesson8_learning", "task23-logistic-gradient",
     "import autodiff_ref.reverse as r\n"
     "def logistic_gradient(w, X, y):\n    return r.grad(lambda w: bce_with_logits(X @ w, y))(w)\n",
     ["test23-logistic-gradient"], "Task 2.3"),
]


@pytest.mark.slow
@pytest.mark.parametrize("assignment, cell, code, zero, words", REFERENCE_CHEATS,
                         ids=[f"{a[:7]}-{c}-{i}" for i, (a, c, *_ ) in enumerate(REFERENCE_CHEATS)])
def test_the_reference_is_out_of_reach(assignment, cell, code, zero, words):
    scores, result = grade(assignment, {cell: code})
    text = messages(result)
    for gid in zero:
        assert scores[gid] == 0.0, (gid, text[gid])
        if words:
            assert words in text[gid] and "yourself" in text[gid], text[gid]
    if assignment != "lesson1_dual_numbers":    # in lesson 1 every later task is built on Dual
        assert sum(scores.values()) > 0, "the rest of the notebook is still graded"
