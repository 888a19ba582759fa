r"""Lesson 0's checks: finite differences against :mod:`autodiff_ref.numerical`.

Every expected value is computed at import, by :mod:`autodiff_ref.numerical`,
on test functions built from numpy functions bound at import — before any
student cell runs — so rebinding ``np.sin`` or ``np.allclose`` in a notebook
changes neither the functions the student's code is called on nor the answers
it is compared with. ``hidden=True`` selects the larger case table of the
hidden tests (another seed, more inputs).
"""
import math

import numpy as _np

from autodiff_ref import numerical as _nd
from autograder.checks import (TOLERANCES, Named, call, check_cases, is_close,
                               passed, same)
from autograder.checks import CheckFailure

# Bound once, at import, so a notebook's later rebinding cannot reach the checks.
_sin, _cos, _exp, _log, _tanh, _sqrt = _np.sin, _np.cos, _np.exp, _np.log, _np.tanh, _np.sqrt
_sum, _dot, _asarray, _array = _np.sum, _np.dot, _np.asarray, _np.array
_eye, _ones_like, _round = _np.eye, _np.ones_like, _np.round
EPS = _nd.EPS
VISIBLE_SEED, HIDDEN_SEED = 0, 1


class CaseTable:
    """The inputs of one check, simplest first, with the oracle's answers computed at import.

    ``build(seed, n)`` draws the cases; ``sizes`` gives n for the visible and
    the hidden table. :meth:`expected` looks a case's answer up by the identity
    of its entries (numpy arrays are not hashable).
    """

    def __init__(self, build, oracle, sizes):
        self.cases = {hidden: build(seed, n)
                      for hidden, (seed, n) in zip((False, True), zip((VISIBLE_SEED, HIDDEN_SEED), sizes))}
        self._answers = {self._key(case): oracle(*case)
                         for cases in self.cases.values() for case in cases}

    @staticmethod
    def _key(case):
        return tuple(id(v) for v in case)

    def expected(self, *case):
        return self._answers[self._key(case)]


def _ratio(got, expected):
    """got / expected as a float, or None when either is not a number or expected is 0."""
    try:
        g, e = float(got), float(expected)
    except (TypeError, ValueError):
        return None
    return g / e if e != 0 else None


def _near(ratio, factor):
    """`ratio` is `factor` to the relative precision of the "recognise" row.

    Relative only: the factors (h², h⁴, ...) can be far below any absolute tolerance."""
    return ratio is not None and is_close(ratio, factor, TOLERANCES["recognise"][0], 0.0)


def _factor_hint(ratio, hints):
    """The message of the first (factor, message) whose factor is got / expected."""
    return next((message for factor, message in hints if _near(ratio, factor)), None)


# --------------------------------------------------------------------------
# Task 0.1: the central difference
# --------------------------------------------------------------------------

SCALAR_FUNCTIONS = [
    # (formula, f, domain of x)  — simplest first
    ("x**2", lambda x: x * x, (-2.0, 2.0)),
    ("x**3 - 2*x", lambda x: x * x * x - 2 * x, (-2.0, 2.0)),
    ("sin(x)", lambda x: _sin(x), (-3.0, 3.0)),
    ("exp(x)", lambda x: _exp(x), (-2.0, 2.0)),
    ("log(x)", lambda x: _log(x), (0.5, 4.0)),
    ("tanh(2*x)", lambda x: _tanh(2 * x), (-1.5, 1.5)),
    ("sqrt(x) * cos(x)", lambda x: _sqrt(x) * _cos(x), (0.5, 3.0)),
]


def _scalar_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(Named("x**2", SCALAR_FUNCTIONS[0][1]), 1.0, 0.5)]
    for name, f, (lo, hi) in SCALAR_FUNCTIONS:
        for _ in range(per_function):
            x = round(float(rng.uniform(lo, hi)), 3)
            h = float(10.0 ** -rng.integers(1, 6))
            cases.append((Named(name, f), x, h))
    return cases


CENTRAL = CaseTable(_scalar_cases, lambda f, x, h: _nd.central_difference(f, x, h=h), (2, 6))


def _central_hint(case, expected, got):
    f, x, h = case
    message = _factor_hint(_ratio(got, expected), (
        (2.0, "got twice the answer: the central difference divides by 2h, the width of [x−h, x+h], not by h"),
        (-1.0, "the sign is flipped: subtract f(x−h) from f(x+h), not the other way round"),
        (h * h, "operator precedence: `... / 2*h` means (.../2)·h; write `/ (2*h)` with parentheses"),
        (0.5, "got half the answer: divide by 2h once, not by 4h")))
    if message:
        return message
    if same(got, (f(x + h) - f(x)) / h, "recognise"):
        return "this is the forward difference (f(x+h) − f(x))/h; the central one uses f(x+h) and f(x−h)"
    if same(got, (f(x) - f(x - h)) / h, "recognise"):
        return "this is the backward difference (f(x) − f(x−h))/h; the central one uses f(x+h) and f(x−h)"
    return "the central difference is (f(x+h) − f(x−h)) / (2h), with the h you were given"


def check_central_difference(central_difference, *, hidden=False):
    r"""Task 0.1: ``central_difference(f, x, h)`` is :math:`\frac{f(x+h) - f(x-h)}{2h}` for scalar x."""
    n = check_cases(central_difference, CENTRAL.expected, CENTRAL.cases[hidden],
                    what="central_difference(f, x, h)", hint=_central_hint, tol="solver")
    passed("central_difference(f, x, h) matches (f(x+h) − f(x−h)) / (2h)", n)


# --------------------------------------------------------------------------
# Task 0.2: the gradient by central differences
# --------------------------------------------------------------------------

_A = _array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])

VECTOR_FUNCTIONS = [
    ("sum(v**2)", lambda v: _sum(v * v), 1),
    ("v[0]*v[1]", lambda v: v[0] * v[1], 2),
    ("sum(sin(v) * v)", lambda v: _sum(_sin(v) * v), 3),
    ("v @ A @ v", lambda v: _dot(v, _dot(_A, v)), 3),
    ("v[0]*exp(v[1]) + log(1 + v[2]**2)", lambda v: v[0] * _exp(v[1]) + _log(1 + v[2] * v[2]), 3),
    ("log(sum(exp(v)))", lambda v: _log(_sum(_exp(v))), 5),
]


def _vector_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(Named("sum(v**2)", VECTOR_FUNCTIONS[0][1]), _array([1.0]), 0.5)]
    for name, f, n in VECTOR_FUNCTIONS:
        for _ in range(per_function):
            x = _round(rng.uniform(-1.5, 1.5, size=n), 3)
            cases.append((Named(name, f), x, float(10.0 ** -rng.integers(2, 5))))
    return cases


GRADIENT = CaseTable(_vector_cases, lambda f, x, h: _nd.central_difference(f, x, h=h), (1, 4))


class _Mutated:
    """The student's function changed its input array in place."""

    def __init__(self, x):
        self.x = x

    def __repr__(self):
        return f"(no answer checked) x was changed in place to {self.x}"


def _gradient_hint(case, expected, got):
    if isinstance(got, _Mutated):
        return ("your function modified x in place; work on a copy "
                "(x.copy(), or x + h*e_i, which makes a new array)")
    f, x, h = case
    try:
        g = _asarray(got, dtype=float)
    except (TypeError, ValueError):
        return "return a numpy array of partial derivatives, one per entry of x"
    if g.shape != expected.shape:
        return f"the gradient has the shape of x, {expected.shape}; yours has shape {g.shape}"
    if same(g, 2 * expected, "recognise"):
        return "every entry is twice too big: divide by 2h, not by h"
    ones = _ones_like(x)
    along_ones = (f(x + h * ones) - f(x - h * ones)) / (2 * h)
    if x.size > 1 and same(g, along_ones + 0 * g, "recognise"):
        return ("every entry equals the derivative along (1, 1, …, 1): move ONE coordinate at a time "
                "(x + h·e_i), not all of them at once")
    if same(g, _array([(f(x + h * e) - f(x)) / h for e in _eye(x.size)]), "recognise"):
        return "this is the forward difference; use f(x + h·e_i) and f(x − h·e_i)"
    return "entry i should be (f(x + h·e_i) − f(x − h·e_i)) / (2h), with e_i the i-th unit vector"


def check_fd_gradient(fd_gradient, *, hidden=False):
    r"""Task 0.2: ``fd_gradient(f, x, h)`` has entries :math:`\frac{f(x + h e_i) - f(x - h e_i)}{2h}`
    and leaves x as it was."""
    def on_a_copy(f, x, h):
        mine = x.copy()  # the case table stays intact whatever the student does
        got = fd_gradient(f, mine, h)
        # restoring x by x[i] += h ... x[i] -= h may leave an ulp behind: that is fine
        return got if same(mine, x, "exact") else _Mutated(mine)

    n = check_cases(on_a_copy, GRADIENT.expected, GRADIENT.cases[hidden],
                    what="fd_gradient(f, x, h)", hint=_gradient_hint, tol="solver")
    passed("fd_gradient(f, x, h) is the central-difference gradient", n)


# --------------------------------------------------------------------------
# Task 0.3: mixed partials
# --------------------------------------------------------------------------

TWO_VARIABLE_FUNCTIONS = [
    ("x*y", lambda x, y: x * y),
    ("x**2 * y**3", lambda x, y: x * x * y * y * y),
    ("sin(x) * exp(y)", lambda x, y: _sin(x) * _exp(y)),
    ("exp(x*y)", lambda x, y: _exp(x * y)),
    ("log(1 + x**2 + y**2)", lambda x, y: _log(1 + x * x + y * y)),
]


def _mixed_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(Named("x*y", TWO_VARIABLE_FUNCTIONS[0][1]), 1.0, 2.0, 0.1)]
    for name, f in TWO_VARIABLE_FUNCTIONS:
        for _ in range(per_function):
            x, y = (round(float(v), 3) for v in rng.uniform(-1.5, 1.5, size=2))
            cases.append((Named(name, f), x, y, float(10.0 ** -rng.integers(1, 4))))
    return cases


def _mixed_oracle(f, x, y, h):
    return _nd.mixed_partial(lambda v: f(v[0], v[1]), _array([x, y]), 0, 1, h=h)


MIXED = CaseTable(_mixed_cases, _mixed_oracle, (2, 6))


def _mixed_hint(case, expected, got):
    f, x, y, h = case
    message = _factor_hint(_ratio(got, expected), (
        (4.0, "got 4× the answer: the denominator is 4h², not h²"),
        (2.0, "got 2× the answer: the denominator is 4h², not 2h²"),
        (-1.0, "the sign is flipped: + f(x+h, y+h) − f(x+h, y−h) − f(x−h, y+h) + f(x−h, y−h)"),
        (h ** 4, "operator precedence: `/ 4*h*h` means (…/4)·h·h; write `/ (4*h*h)`"),
        (h, "got the answer times h: the denominator is 4·h·h (4h²), not 4h")))
    if message:
        return message
    if same(got, (f(x + 2 * h, y) - 2 * f(x, y) + f(x - 2 * h, y)) / (4 * h * h), "recognise"):
        return "this is ∂²f/∂x²: the formula moves x AND y, by ±h each, in the four corners"
    return ("∂²f/∂x∂y ≈ [f(x+h, y+h) − f(x+h, y−h) − f(x−h, y+h) + f(x−h, y−h)] / (4h²): "
            "the four corners of a square around (x, y)")


def check_mixed_partial(mixed_partial, *, hidden=False):
    r"""Task 0.3: ``mixed_partial(f, x, y, h)`` is the 4-point formula
    :math:`\frac{f(x+h,y+h) - f(x+h,y-h) - f(x-h,y+h) + f(x-h,y-h)}{4h^2}` for ∂²f/∂x∂y."""
    n = check_cases(mixed_partial, MIXED.expected, MIXED.cases[hidden],
                    what="mixed_partial(f, x, y, h)", hint=_mixed_hint, tol="solver")
    passed("mixed_partial(f, x, y, h) matches the 4-point formula", n)


# --------------------------------------------------------------------------
# Task 0.4: the optimal step of the error model
# --------------------------------------------------------------------------

def _step_cases(seed, n):
    rng = _np.random.default_rng(seed)
    cases = [(1, 1.0, 1.0), (2, 1.0, 1.0)]
    for _ in range(n):
        order = int(rng.integers(1, 3))
        M, F = (float(10.0 ** rng.uniform(-3, 3)) for _ in range(2))
        cases.append((order, round(M, 4), round(F, 4)))
    return cases


STEP = CaseTable(_step_cases, lambda order, M, F: _nd.optimal_step(order, M=M, f_scale=F), (10, 40))


def _step_hint(case, expected, got):
    order, M, F = case
    r = _ratio(got, expected)
    if r is None:
        return "return the step h* as a float"
    if _near(_ratio(got, _nd.optimal_step(3 - order, M=M, f_scale=F)), 1.0):
        return (f"this is the optimal step of the {'central' if order == 1 else 'forward'} difference; "
                f"order={order} is the {'forward' if order == 1 else 'central'} one")
    if M != F and _near(_ratio(got, _nd.optimal_step(order, M=F, f_scale=M)), 1.0):
        return "M and |f| are swapped: h* grows with |f| (round-off) and shrinks with M (truncation)"
    thumb = math.sqrt(EPS) if order == 1 else EPS ** (1 / 3)
    at_one = _nd.optimal_step(order)  # the answer for M = |f| = 1
    if (M, F) != (1.0, 1.0) and (_near(_ratio(got, thumb), 1.0) or _near(_ratio(got, at_one), 1.0)):
        return ("that is the rule of thumb (√ε or ∛ε); the optimal step depends on M and |f| (f_scale): "
                "minimise the model E(h) for the M and f_scale you are given")
    if order == 1 and _near(r, 1 / math.sqrt(2)):
        return ("off by √2: the truncation term of the forward difference is M·h/2 (Taylor), "
                "so h* = √(2ε|f|/M), not √(ε|f|/M) or √ε")
    if order == 2 and _near(r, (2 / 3) ** (1 / 3)):
        return ("off by a constant factor: minimise M·h²/6 + ε|f|/(2h); dE/dh = 0 gives "
                "h³ = 3ε|f|/(2M), not h³ = ε|f|/M or ε")
    if order == 2 and _near(_ratio(got, math.sqrt(3 * EPS * F / (2 * M))), 1.0):
        return "for the central difference E(h) ∝ h² + 1/h, so h* is a cube root, not a square root"
    return ("minimise E(h) = C·M·h^p + R·ε·|f|/h: forward p=1, C=1/2, R=1; central p=2, C=1/6, R=1/2; "
            "set dE/dh = 0 and solve for h")


def check_optimal_step(optimal_step, *, order=None, hidden=False):
    r"""Task 0.4: ``optimal_step(order, M, f_scale)`` minimises the error model
    :math:`E(h) = C M h^p + R\,\varepsilon |f| / h` (forward: p = 1, C = ½, R = 1;
    central: p = 2, C = ⅙, R = ½) of :func:`autodiff_ref.numerical.fd_error_model`.

    `order` 1 or 2 checks only the forward or only the central difference (two graded cells).
    """
    cases = [c for c in STEP.cases[hidden] if order is None or c[0] == order]
    what = "optimal_step(order, M, f_scale)"
    # E(h) is flat at its minimum: h*(1 + δ) raises E by a factor of about 1 + δ²/2 (forward) or
    # 1 + 3δ²/2 (central), so a minimiser run on E stops at δ ≈ √ε ≈ 1.5e-8, far from the closed
    # form's 1e-16. Any δ ≤ 1e-5 minimises E to 1e-10 and is an answer ("numerical" row); the
    # misconceptions the hints name are off by 10 % or more. Relative only: steps are ~1e-8 and
    # below, and an absolute tolerance would accept anything small.
    rtol = TOLERANCES["numerical"][0]
    for case in cases:
        inputs = dict(zip(("order", "M", "f_scale"), case))
        expected, got = STEP.expected(*case), call(optimal_step, case, what=what, inputs=inputs)
        if not is_close(got, expected, rtol, 0.0):
            raise CheckFailure(what, inputs=inputs, expected=expected, got=got,
                               hint=_step_hint(case, expected, got))
    scheme = {1: " (forward)", 2: " (central)", None: ""}[order]
    passed(f"optimal_step(order, M, f_scale){scheme} minimises the error model", len(cases))
