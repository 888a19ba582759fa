r"""Lesson 2, forward mode: the checks, the worked examples and the lesson's figures.

Checks (each prints a ✓ line or raises :class:`~autograder.checks.CheckFailure`):

=============================  ===============================================
``check_g_trace``              Task 2.1: values and tangents of g = x₁x₂ − cos x₂, row by row
``check_dg_dx2``               Task 2.1: ∂g/∂x₂ at (2, 3) read off one tangent sweep
``check_jvp``                  Task 2.2: ``jvp(f, x, v) -> (f(x), J v)`` on duals
``check_jacfwd``               Task 2.3: the Jacobian column by column, one JVP per column
``check_jacfwd_one_pass``      Task 2.4: the whole Jacobian from one pass with k directions
=============================  ===============================================

The oracle is :mod:`autodiff_ref` (``jvp``, ``jacfwd``, ``trace``). Every test
function is built here from numpy functions bound at import, before any
student cell runs, so rebinding ``np.sin`` or ``np.allclose`` in a notebook
changes neither what the student's code is run on nor the expected answers.
``hidden=True`` selects the larger case table of the hidden tests.
"""
import math

import numpy as _np

from autodiff_ref import Dual as _Dual
from autodiff_ref import jacfwd as _ref_jacfwd
from autodiff_ref import jvp as _ref_jvp
from autodiff_ref import trace as _trace
from autograder.checks import CheckFailure, is_close, passed

_sin, _cos, _exp, _log, _tanh = _np.sin, _np.cos, _np.exp, _np.log, _np.tanh
_stack, _sum, _asarray, _array, _eye = _np.stack, _np.sum, _np.asarray, _np.array, _np.eye
_ones, _shape, _ndim = _np.ones, _np.shape, _np.ndim
_msin, _mcos = math.sin, math.cos
_float, _len, _isinstance = float, len, isinstance
VISIBLE_SEED, HIDDEN_SEED = 0, 1
EXACT = (1e-12, 1e-12)
HAND = (1e-9, 1e-12)   # numbers a student computes statement by statement with math/np


# ==========================================================================
# The worked examples of the lesson (shared subexpressions written once, in
# the order the course material numbers them)
# ==========================================================================
def slides_example(x1, x2):
    """[sin(x₁/x₂) + x₁/x₂ − e^{x₂}]·[x₁/x₂ − e^{x₂}], as the slides' trace computes it."""
    v1 = x1 / x2
    v2 = _sin(v1)
    v3 = _exp(x2)
    v4 = v1 - v3
    v5 = v2 + v4
    return v5 * v4


def g_example(x1, x2):
    """g(x₁, x₂) = x₁x₂ − cos x₂ (the study's example, at (2, 3))."""
    return x1 * x2 - _cos(x2)


class _Raised:
    """What came back when the student's code raised: shown as the exception."""

    def __init__(self, err):
        self.err = err

    def __repr__(self):
        return f"{type(self.err).__name__}: {self.err}"


def _call(fn, *args):
    try:
        return fn(*args)
    except Exception as err:  # the student's bug, reported on its input
        return _Raised(err)


def _as_array(x):
    try:
        return _asarray(x, dtype=float)
    except (TypeError, ValueError):
        return None


def _same(a, b, tol=(1e-9, 1e-12)):
    return a is not None and b is not None and is_close(a, b, *tol)


# ==========================================================================
# Task 2.1: the tangent column of g, statement by statement
# ==========================================================================
G_ROWS = ["v₋₁ = x₁", "v₀ = x₂", "v₁ = v₋₁·v₀", "v₂ = cos(v₀)", "v₃ = v₁ − v₂"]
G_TANGENT_RULES = ["v̇₋₁ = ẋ₁", "v̇₀ = ẋ₂", "v̇₁ = v̇₋₁·v₀ + v₋₁·v̇₀ (product rule)",
                   "v̇₂ = −sin(v₀)·v̇₀", "v̇₃ = v̇₁ − v̇₂"]


def _g_reference(x1, x2, dx1, dx2):
    """(values, tangents) of g's trace: two arrays of five."""
    tr = _trace(g_example, x1, x2, tangents=(dx1, dx2))
    return _array(tr.values, dtype=float), _array(tr.tangents, dtype=float)


def _g_cases(seed, n):
    rng = _np.random.default_rng(seed)
    cases = [(2.0, 3.0, 0.0, 1.0), (2.0, 3.0, 1.0, 0.0)]
    for _ in range(n):
        x1, x2, dx1, dx2 = (round(float(v), 3) for v in rng.uniform(-3, 3, 4))
        cases.append((x1, x2, dx1, dx2))
    return cases


_G_CASES = {VISIBLE_SEED: _g_cases(VISIBLE_SEED, 4), HIDDEN_SEED: _g_cases(HIDDEN_SEED, 20)}
_G_EXPECTED = {s: [_g_reference(*c) for c in cases] for s, cases in _G_CASES.items()}


def _g_columns(got):
    """The student's (values, tangents) as two float arrays of length 5, or None."""
    if not (_isinstance(got, (tuple, list)) and _len(got) == 2):
        return None
    values, tangents = _as_array(got[0]), _as_array(got[1])
    if values is None or tangents is None or values.shape != (5,) or tangents.shape != (5,):
        return None
    return values, tangents


def _g_hint(case, expected, got):
    if isinstance(got, _Raised):
        return "your code raised an exception on this input"
    columns = _g_columns(got)
    if columns is None:
        return ("return two lists of five numbers, (values, tangents): "
                "[v₋₁, v₀, v₁, v₂, v₃] and [v̇₋₁, v̇₀, v̇₁, v̇₂, v̇₃]")
    (values, tangents), (e_values, e_tangents) = columns, expected
    x1, x2, dx1, dx2 = case
    for k in range(5):
        if not _same(values[k], e_values[k], HAND):
            extra = " — the columns are swapped: return (values, tangents)" \
                if _same(values, e_tangents, HAND) else ""
            return (f"the first wrong value is number {k}, the row {G_ROWS[k]}: expected "
                    f"{_float(e_values[k])!r}, got {_float(values[k])!r}{extra}")
    if (dx1, dx2) != (dx2, dx1) and _same(tangents, _g_reference(x1, x2, dx2, dx1)[1], HAND):
        return "you used the seed the other way round: v̇₋₁ = ẋ₁ = dx1 and v̇₀ = ẋ₂ = dx2"
    for k in range(5):
        if not _same(tangents[k], e_tangents[k], HAND):
            extra = ""
            if k == 3 and _same(tangents[k], -e_tangents[k]):
                extra = " — the sign: d/dx cos x = −sin x"
            elif k == 4 and _same(tangents[k], tangents[2] + tangents[3]):
                extra = " — v₃ = v₁ − v₂, so its tangent subtracts v̇₂"
            elif k == 2 and (_same(tangents[k], dx1 * dx2) or _same(tangents[k], dx1 * x2)):
                extra = " — both factors vary: v̇₁ = v̇₋₁·v₀ + v₋₁·v̇₀"
            return (f"the first wrong tangent is number {k}, the row {G_ROWS[k]}: expected "
                    f"{_float(e_tangents[k])!r}, got {_float(tangents[k])!r}; its tangent statement is "
                    f"{G_TANGENT_RULES[k]}{extra}")
    return None


def check_g_trace(g_trace, *, hidden=False):
    """Task 2.1: ``g_trace(x1, x2, dx1, dx2)`` is (values, tangents) of g's trace, row by row."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "g_trace(x1, x2, dx1, dx2)"
    for case, expected in zip(_G_CASES[seed], _G_EXPECTED[seed]):
        got = _call(g_trace, *case)
        columns = None if isinstance(got, _Raised) else _g_columns(got)
        if columns is None or not (_same(columns[0], expected[0], HAND) and _same(columns[1], expected[1], HAND)):
            raise CheckFailure(what, inputs=dict(zip(("x1", "x2", "dx1", "dx2"), case)),
                               expected=expected, got=got, hint=_g_hint(case, expected, got))
    passed(f"{what}: every row of the value and tangent columns", _len(_G_CASES[seed]))


def check_dg_dx2(dg_dx2):
    """Task 2.1: the number ∂g/∂x₂ at (2, 3) = x₁ + sin x₂ = 2 + sin 3."""
    expected = _float(_ref_jvp(g_example, (2.0, 3.0), (0.0, 1.0))[1])
    try:
        if _isinstance(dg_dx2, (str, bytes)):
            raise TypeError("a string")
        got = _float(dg_dx2)
    except (TypeError, ValueError):
        raise CheckFailure("dg_dx2", expected=expected, got=dg_dx2,
                           hint="a single number: the last entry of the tangent column") from None
    if not math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
        hint = "∂g/∂x₂ comes from the seed ẋ = (0, 1): the last tangent of g_trace(2.0, 3.0, 0.0, 1.0)"
        if math.isclose(got, 3.0, rel_tol=1e-9):
            hint = "3 is ∂g/∂x₁ (seed ẋ = (1, 0)); for ∂g/∂x₂ seed ẋ = (0, 1)"
        elif math.isclose(got, 2 - _msin(3.0), rel_tol=1e-9):
            hint = "the sign of the cos derivative: v̇₂ = −sin(v₀)·v̇₀, and v̇₃ = v̇₁ − v̇₂"
        elif math.isclose(got, 2.14, abs_tol=0.005):
            hint = "compute it with your function rather than typing the rounded 2.14"
        raise CheckFailure("dg_dx2: ∂g/∂x₂ at (x₁, x₂) = (2, 3)", expected=expected, got=got, hint=hint)
    passed("∂g/∂x₂(2, 3) = 2 + sin 3 ≈ 2.1411")


# ==========================================================================
# Test functions for jvp / jacobians: each written once with numpy (runs on
# floats, on arrays and on autodiff_ref duals), with the shape of x it takes.
# ==========================================================================
class Fn:
    """A test function that prints as its formula and records how it was called."""

    def __init__(self, formula, f, n):
        self.formula, self.f, self.n = formula, f, n
        self.calls = []

    def __call__(self, x):
        self.calls.append(x)
        return self.f(x)

    def __repr__(self):
        return self.formula


SCALAR_INPUT = [  # f: R -> R, x a float
    ("x**2", lambda x: x * x),
    ("sin(x)", lambda x: _sin(x)),
    ("exp(x) * cos(2x)", lambda x: _exp(x) * _cos(2 * x)),
    ("log(1 + x**2) / (2 + sin(x))", lambda x: _log(1 + x * x) / (2 + _sin(x))),
]

VECTOR_INPUT = [  # (formula, f, n, m): f: R^n -> R^m (m = 0: a scalar output)
    ("x[0] * x[1]", lambda x: x[0] * x[1], 2, 0),
    ("(r cos θ, r sin θ)", lambda x: _stack([x[0] * _cos(x[1]), x[0] * _sin(x[1])]), 2, 2),
    ("(x0 + 2 x1, 3 x0 x2, x1 - x2**2)",
     lambda x: _stack([x[0] + 2 * x[1], 3 * x[0] * x[2], x[1] - x[2] * x[2]]), 3, 3),
    ("(x0 x1 x2, sin(x0) + x1)", lambda x: _stack([x[0] * x[1] * x[2], _sin(x[0]) + x[1]]), 3, 2),
    ("(exp(x0), x0 x1, x1**2, tanh(x0 - x1))",
     lambda x: _stack([_exp(x[0]), x[0] * x[1], x[1] * x[1], _tanh(x[0] - x[1])]), 2, 4),
    ("sum(sin(x) * x)", lambda x: _sum(_sin(x) * x), 4, 0),
    ("tanh(A x) + x*x*x", None, 5, 5),  # filled in below with a fixed matrix A
]
_A = _np.random.default_rng(2).normal(size=(5, 5))
VECTOR_INPUT[-1] = ("tanh(A x) + x*x*x", lambda x: _tanh(_A @ x) + x * x * x, 5, 5)


def _vector_functions():
    return [Fn(formula, f, n) for formula, f, n, _ in VECTOR_INPUT]


# ==========================================================================
# Task 2.2: jvp on duals
# ==========================================================================
def _jvp_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(Fn("x**2", SCALAR_INPUT[0][1], 0), 3.0, 1.0)]
    for formula, f in SCALAR_INPUT:
        for _ in range(per_function):
            x, v = (round(float(t), 3) for t in rng.uniform(-2, 2, 2))
            cases.append((Fn(formula, f, 0), x, v))
    for fn in _vector_functions():
        for _ in range(per_function):
            x = _np.round(rng.uniform(0.2, 1.5, fn.n), 3)
            v = _np.round(rng.normal(size=fn.n), 3)
            cases.append((fn, x, v))
    return cases


_JVP_CASES = {VISIBLE_SEED: _jvp_cases(VISIBLE_SEED, 1), HIDDEN_SEED: _jvp_cases(HIDDEN_SEED, 4)}


def _ref_pair(f, x, v):
    value, tangent = _ref_jvp(f.f, (x,), (v,))
    return (_asarray(value, dtype=float), _asarray(tangent, dtype=float))


def _jvp_hint(case, expected, got, called_with):
    f, x, v = case
    if isinstance(got, _Raised):
        return "your code raised an exception on this input"
    if hasattr(got, "value") and hasattr(got, "tangent"):
        return "return the pair (f(x), J v) as a tuple of plain numbers/arrays: (out.value, out.tangent)"
    if not (isinstance(got, tuple) and len(got) == 2):
        return "return a tuple of two things: (f(x), J·v)"
    value, tangent = _as_array(got[0]), _as_array(got[1])
    e_value, e_tangent = expected
    if _same(value, e_tangent) and _same(tangent, e_value):
        return "the pair is the wrong way round: return (f(x), J·v), the value first"
    if not any(isinstance(a, _Dual) for a in called_with):
        return "evaluate f on a dual number: f(Dual(x, v)) — not on plain numbers"
    if not _same(value, e_value):
        return "the first entry should be f(x), the value part of the dual result"
    ones = _ones(_shape(x)) if _ndim(x) else 1.0
    if _ndim(x) and _same(tangent, _ref_jvp(f.f, (x,), (ones,))[1]):
        return "the tangent is J·(1, …, 1): seed the dual with the direction v, Dual(x, v)"
    if _ndim(x) and _same(tangent, _ref_jvp(f.f, (x,), (_eye(_len(x))[0],))[1]):
        return "the tangent is the first column of J: seed the dual with v, not with e₁"
    if not _ndim(x) and _same(tangent, _ref_jvp(f.f, (x,), (1.0,))[1]):
        return "the tangent is f′(x)·1: seed the dual with the direction v, Dual(x, v)"
    return "f(Dual(x, v)) = f(x) + (J v) ε: return its value and its tangent"


def check_jvp(jvp, *, hidden=False):
    """Task 2.2: ``jvp(f, x, v)`` returns ``(f(x), J_f(x) v)`` for scalar and vector x."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "jvp(f, x, v)"
    for f, x, v in _JVP_CASES[seed]:
        expected = _ref_pair(f, x, v)
        f.calls = []
        got = _call(jvp, f, x, v)
        ok = (isinstance(got, tuple) and _len(got) == 2 and _same(_as_array_or_none(got[0]), expected[0], EXACT)
              and _same(_as_array_or_none(got[1]), expected[1], EXACT))
        if not ok:
            raise CheckFailure(what, inputs={"f": f, "x": x, "v": v}, expected=expected, got=got,
                               hint=_jvp_hint((f, x, v), expected, got, list(f.calls)))
    passed(f"{what} = (f(x), J v)", _len(_JVP_CASES[seed]))


def _as_array_or_none(x):
    if hasattr(x, "tangent"):
        return None
    return _as_array(x)


# ==========================================================================
# Task 2.3 / 2.4: Jacobians by forward mode
# ==========================================================================
def _jac_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = []
    for fn in _vector_functions():
        for _ in range(per_function):
            cases.append((fn, _np.round(rng.uniform(0.2, 1.5, fn.n), 3)))
    return cases


_JAC_CASES = {VISIBLE_SEED: _jac_cases(VISIBLE_SEED, 1), HIDDEN_SEED: _jac_cases(HIDDEN_SEED, 4)}


def _jac_hint(case, expected, got, calls):
    f, x = case
    if isinstance(got, _Raised):
        return "your code raised an exception on this input"
    g = _as_array_or_none(got)
    if g is None:
        return "return the Jacobian as a numpy array of floats"
    n = _len(x)
    if g.shape != expected.shape and g.shape == expected.T.shape and _same(g, expected.T):
        return ("transposed: column j of the Jacobian is J·e_j, the JVP along the j-th unit vector; "
                "put the JVPs side by side as columns (np.stack(columns, axis=-1)), not as rows")
    if g.shape == expected.shape and expected.ndim == 2 and _same(g, expected.T):
        return ("transposed: column j must be J·e_j; stack the JVPs with axis=-1 "
                "(as columns), not axis=0 (as rows)")
    if g.shape != expected.shape:
        return (f"the Jacobian of f: R^{n} → R^{expected.shape[0] if expected.ndim == 2 else 1} has shape "
                f"{expected.shape} (output shape + input shape); yours has {g.shape}")
    along_ones = _asarray(_ref_jvp(f.f, (x,), (_ones(n),))[1], dtype=float).reshape(-1)
    g2, e2 = g.reshape(-1, n), expected.reshape(-1, n)   # a scalar output: one row
    if all(_same(g2[:, j], along_ones) for j in range(n)):
        return "every column is J·(1, …, 1): seed column j with the unit vector e_j, not with ones"
    for j in range(n):
        if not _same(g2[:, j], e2[:, j]):
            for k in range(n):
                if k != j and _same(g2[:, j], e2[:, k]):
                    return (f"column {j} is column {k} of J: column j comes from the seed e_j "
                            "(np.eye(n)[j]) — check the index of your unit vectors")
            return f"column {j} (the JVP along e_{j}) is the first wrong column"
    return "column j of the Jacobian is the tangent of f(Dual(x, e_j))"


def _run_jacobian(jacobian, seed, what, calls_rule):
    for f, x in _JAC_CASES[seed]:
        expected = _asarray(_ref_jacfwd(f.f)(x), dtype=float)
        f.calls = []
        got = _call(lambda: jacobian(f)(x.copy()))
        g = None if isinstance(got, _Raised) else _as_array_or_none(got)
        if not _same(g, expected, EXACT):
            raise CheckFailure(what, inputs={"f": f, "x": x}, expected=expected, got=got,
                               hint=_jac_hint((f, x), expected, got, list(f.calls)))
        message = calls_rule(f, x)
        if message:
            raise CheckFailure(what + ": how f was evaluated", inputs={"f": f, "x": x},
                               expected=message[0], got=message[1], hint=message[2])
    return _len(_JAC_CASES[seed])


def _direction_count(d):
    """How many directions a dual argument carries (0 for a plain array)."""
    if not isinstance(d, _Dual):
        return 0
    return 1 if _ndim(d.tangent) == _ndim(d.value) else _shape(d.tangent)[-1]


def _columns_rule(f, x):
    duals = [c for c in f.calls if isinstance(c, _Dual)]
    n = _len(x)
    if _len(duals) != n or any(_direction_count(d) != 1 for d in duals):
        got = f"{_len(duals)} calls on duals, carrying " \
              f"{[_direction_count(d) for d in duals]} directions"
        return (f"{n} calls of f on duals, one direction each (one JVP per column)", got,
                "this task builds J column by column: call your jvp once per unit vector e_j "
                "(the one-pass version is Task 2.4)")
    return None


def check_jacfwd(jacfwd, *, hidden=False):
    """Task 2.3: ``jacfwd(f)(x)``, column j = jvp along e_j, n JVPs for x in Rⁿ."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    n = _run_jacobian(jacfwd, seed, "jacfwd(f)(x), column by column", _columns_rule)
    passed("jacfwd(f)(x): every column is a JVP along a unit vector", n)


def _one_pass_rule(f, x):
    duals = [c for c in f.calls if isinstance(c, _Dual)]
    n = _len(x)
    if _len(duals) != 1 or _direction_count(duals[0]) != n:
        got = f"{_len(duals)} calls on duals, carrying {[_direction_count(d) for d in duals]} directions"
        return (f"one call of f on a dual carrying all {n} directions (tangent shape ({n}, {n}))", got,
                "give the dual the identity matrix as its tangent, Dual(x, np.eye(n)): "
                "each trailing column is one direction, and one evaluation of f pushes all of them")
    return None


def check_jacfwd_one_pass(jacfwd_one_pass, *, hidden=False):
    """Task 2.4: the whole Jacobian from ONE evaluation of f on a dual with n directions."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    n = _run_jacobian(jacfwd_one_pass, seed, "jacfwd_one_pass(f)(x)", _one_pass_rule)
    passed("jacfwd_one_pass(f)(x): the Jacobian in one pass with n directions", n)


# ==========================================================================
# Figures and measurements
# ==========================================================================
def jvp_picture(angle=0.0, ax=None):
    r"""A JVP pushes a direction forward: v at x (left) and J v at f(x) (right),
    for the polar map f(r, θ) = (r cos θ, r sin θ) at (r, θ) = (1.5, 0.6).

    The small circle of directions around x maps to (nearly) an ellipse around
    f(x); J v is the tangent of the curve t ↦ f(x + t v) at t = 0.
    """
    import matplotlib.pyplot as plt

    polar = VECTOR_INPUT[1][1]
    x = _array([1.5, 0.6])
    v = _array([_mcos(angle), _msin(angle)])
    fx, jv = _ref_jvp(polar, (x,), (v,))
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(9.5, 4.2))
    left, right = ax
    t = _np.linspace(0, 2 * math.pi, 200)
    r = 0.25
    circle = x[:, None] + r * _stack([_cos(t), _sin(t)])
    left.plot(circle[0], circle[1], color="0.6")
    left.annotate("", xy=x + r * v, xytext=x, arrowprops=dict(arrowstyle="-|>", color="#d9480f", lw=2))
    left.plot(*x, "ko")
    left.set_title("input: x = (r, θ) = (1.5, 0.6) and a direction v")
    left.set_xlabel("r")
    left.set_ylabel("θ")
    image = polar(circle)
    right.plot(image[0], image[1], color="0.6", label="f(circle around x)")
    line = _stack([polar(x + s * r * v) for s in _np.linspace(-1, 1, 41)], axis=1)
    right.plot(line[0], line[1], color="#1c7ed6", lw=1.5, label="f(x + t v)")
    right.annotate("", xy=fx + r * jv, xytext=fx, arrowprops=dict(arrowstyle="-|>", color="#d9480f", lw=2))
    right.plot(*fx, "ko")
    right.set_title(f"output: J v = ({jv[0]:.3f}, {jv[1]:.3f})")
    right.legend(loc="lower left", fontsize=8)
    for a in (left, right):
        a.set_aspect("equal")
        a.grid(alpha=0.3)
    left.figure.tight_layout()
    return ax


def jvp_widget():
    """A slider turning the direction v; redraws :func:`jvp_picture`."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(angle_degrees=0):
        jvp_picture(math.radians(angle_degrees))
        plt.show()
    slider = widgets.IntSlider(value=0, min=0, max=360, step=5, description="angle of v (°)",
                               style={"description_width": "initial"}, continuous_update=False)
    return widgets.interactive(draw, angle_degrees=slider)


def cost_function(x):
    """The program timed in the cost measurements: elementwise work, then a sum."""
    return _sum(_sin(x) * x + _exp(-x * x) * _cos(x))


def tangent_cost(sizes=(10, 100, 1_000, 10_000, 100_000, 1_000_000), repeat=5):
    r"""Measure w_tan = time(f and its JVP) / time(f) for :func:`cost_function` on
    xᵢ ∈ [−1, 1] of each size, with :func:`autodiff_ref.jvp`. Returns a list of
    dicts (n, t_f, t_jvp, ratio). Uses the machine it runs on: the numbers are yours."""
    from autograder.widgets import time_ratio
    rng = _np.random.default_rng(0)
    rows = []
    for n in sizes:
        x = rng.uniform(-1, 1, n)
        v = rng.normal(size=n)
        t_jvp, t_f, ratio = time_ratio(lambda: _ref_jvp(cost_function, (x,), (v,)),
                                       lambda: cost_function(x), repeat=repeat,
                                       min_time=0.005 if n < 100_000 else 0.0)
        rows.append({"n": n, "t_f": t_f, "t_jvp": t_jvp, "ratio": ratio})
    return rows


def plot_cost(rows, bound, label, ax=None):
    """Ratios measured against n, with the operation-count bound as a line."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    ns = [r["n"] for r in rows]
    ax.loglog(ns, [r["ratio"] for r in rows], "o-", label=label)
    ax.axhline(bound, color="#d9480f", ls="--", label=f"operation-count bound {bound}")
    ax.set_xlabel("n (length of x)")
    ax.set_ylabel("time ratio")
    from matplotlib.ticker import ScalarFormatter
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax
