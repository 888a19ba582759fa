"""The tamper scan on its own: what it flags and what it leaves alone."""
import pytest

from autograder.tamper import is_student_cell, scan_cells

SETUP = {"cell_type": "code", "metadata": {"nbgrader": {"locked": True, "grade": False, "solution": False}},
         "source": "%matplotlib inline\nimport numpy as np\nfrom autograder.lessons import lesson1 as checks\n"
                   "from autograder.checks import check_close"}


def solution(src):
    return {"cell_type": "code", "source": src,
            "metadata": {"nbgrader": {"solution": True, "grade": False, "locked": False}}}


def flags(src):
    return scan_cells([SETUP, solution(src)], lambda i, c: is_student_cell(c))


FLAGGED = [
    "np.allclose = lambda *a, **k: True",
    "import numpy\nnumpy.testing.assert_allclose = None",
    "checks.check_dual = lambda *a: None",
    "setattr(np, 'allclose', f)",
    "setattr(getattr(checks, 'x'), 'y', 1)",
    "exec('x=1')",
    "x = eval('3')",
    "c = compile('1', 'f', 'eval')",
    "m = __import__('numpy')",
    "import sys\nsys.modules['numpy'] = None",
    "globals()['checks'] = 3",
    "globals().update(checks=3)",
    "import builtins",
    "import importlib",
    "checks = object()",
    "def check_close(*a, **k): pass",
    "def f(x):\n    global checks\n    checks = 2",
    "import fake as checks",
    "m = np\nm.sum = sum",
    "np.__dict__['allclose'] = 1",
    "check_close.__code__ = (lambda: 0).__code__",
    "vars(np)['allclose'] = 1",
    "from numpy import *",
    "del np.allclose",
]
CLEAN = [
    "setattr(Dual, '__add__', add)",
    "class Dual:\n    def __init__(self, a, b):\n        self.a = a\n        self.b = b\nDual.__truediv__ = lambda s, o: s",
    "def f(x):\n    checks = 2\n    return checks",
    "from autograder.lessons import lesson1 as checks",
    "import numpy as np\nx = np.zeros(3)\nx[0] = 1.0",
    "f = np.sin\nf = lambda x: x",
    "def grad(x):\n    out = 2 * x\n    return out",
    "%timeit 1+1\nx = 1",
    "def f(:",
    "node.grad += 1.0",
    "print(globals().get('x'))",
]


@pytest.mark.parametrize("src", FLAGGED)
def test_flagged(src):
    found = flags(src)
    assert found, f"not flagged: {src!r}"
    assert all(f.cell == 1 for f in found)


@pytest.mark.parametrize("src", CLEAN)
def test_not_flagged(src):
    assert flags(src) == []


def test_instructor_cells_are_not_scanned():
    locked = dict(SETUP, source="np.random.seed(0)\nplt_rc = 1\nnp.set_printoptions(precision=3)\nnp.x = 1")
    assert scan_cells([locked], lambda i, c: is_student_cell(c)) == []


def test_flag_names_cell_line_and_reason():
    (flag,) = flags("x = 1\nnp.allclose = None")
    assert (flag.cell, flag.line) == (1, 2)
    assert "np.allclose = None" in str(flag) and "np" in flag.reason
