r"""Lesson 2's checks: cases, oracles and hints of Tasks 2.1–2.4.

Forward mode pushes a tangent through the trace: for every statement
vᵢ = φᵢ(vⱼ)ⱼ, v̇ᵢ = Σⱼ ∂φᵢ/∂vⱼ · v̇ⱼ, seeded with ẋ. One sweep with ẋ = v gives
the JVP J·v; the Jacobian J (shape m×n) has column j = J·eⱼ, from n sweeps or
from one sweep carrying all n directions (tangent shape (n, n)).

The oracle is :mod:`autodiff_ref` (``jvp``, ``jacfwd``, ``trace``); cases and
expected values are made at import, from numpy functions bound then, before
any student cell runs. ``hidden=True`` selects the larger case table.
"""
import numpy as _np

from autodiff_ref import Dual as _Dual
from autodiff_ref import jacfwd as _ref_jacfwd
from autodiff_ref import jvp as _ref_jvp
from autodiff_ref import trace as _trace
from autograder.checks import Named, Raised, as_floats, attempt, passed, same
from autograder.checks import CheckFailure

from ..earlier import blamed
from ..examples import G_POINT, NUMPY, g_example, polar

_sin, _cos, _exp, _log, _tanh = NUMPY.sin, NUMPY.cos, NUMPY.exp, NUMPY.log, _np.tanh
_stack, _sum, _asarray, _array, _eye = _np.stack, _np.sum, _np.asarray, _np.array, _np.eye
_ones, _shape, _ndim = _np.ones, _np.shape, _np.ndim
_float, _len, _isinstance = float, len, isinstance
VISIBLE_SEED, HIDDEN_SEED = 0, 1
RAISED = "your code raised an exception on this input"


def _seed(hidden):
    return HIDDEN_SEED if hidden else VISIBLE_SEED


# ==========================================================================
# Task 2.1: the tangent column of g, statement by statement
# ==========================================================================
G_ROWS = ["v₋₁ = x₁", "v₀ = x₂", "v₁ = v₋₁·v₀", "v₂ = cos(v₀)", "v₃ = v₁ − v₂"]
G_TANGENT_RULES = ["v̇₋₁ = ẋ₁", "v̇₀ = ẋ₂", "v̇₁ = v̇₋₁·v₀ + v₋₁·v̇₀ (product rule)",
                   "v̇₂ = −sin(v₀)·v̇₀", "v̇₃ = v̇₁ − v̇₂"]


def g_reference(x1, x2, dx1, dx2):
    """(values, tangents) of g's trace for the seed ẋ = (dx1, dx2): two arrays of five."""
    tr = _trace(g_example, x1, x2, tangents=(dx1, dx2))
    return _array(tr.values, dtype=float), _array(tr.tangents, dtype=float)


def _g_cases(seed, n):
    rng = _np.random.default_rng(seed)
    cases = [(*G_POINT, 0.0, 1.0), (*G_POINT, 1.0, 0.0)]
    for _ in range(n):
        x1, x2, dx1, dx2 = (round(float(v), 3) for v in rng.uniform(-3, 3, 4))
        cases.append((x1, x2, dx1, dx2))
    return cases


G_CASES = {VISIBLE_SEED: _g_cases(VISIBLE_SEED, 4), HIDDEN_SEED: _g_cases(HIDDEN_SEED, 20)}
_G_EXPECTED = {s: [g_reference(*c) for c in cases] for s, cases in G_CASES.items()}


def _g_columns(got):
    """The student's (values, tangents) as two float arrays of length 5, or None."""
    if not (_isinstance(got, (tuple, list)) and _len(got) == 2):
        return None
    values, tangents = as_floats(got[0]), as_floats(got[1])
    if values is None or tangents is None or values.shape != (5,) or tangents.shape != (5,):
        return None
    return values, tangents


def _first_wrong(got, expected):
    return next(k for k in range(5) if not same(got[k], expected[k]))


def _g_hint(case, expected, got):
    if isinstance(got, Raised):
        return RAISED
    columns = _g_columns(got)
    if columns is None:
        return ("return two lists of five numbers, (values, tangents): "
                "[v₋₁, v₀, v₁, v₂, v₃] and [v̇₋₁, v̇₀, v̇₁, v̇₂, v̇₃]")
    (values, tangents), (e_values, e_tangents) = columns, expected
    x1, x2, dx1, dx2 = case
    if not same(values, e_values):
        k = _first_wrong(values, e_values)
        extra = " — the columns are swapped: return (values, tangents)" if same(values, e_tangents) else ""
        return (f"the first wrong value is number {k}, the row {G_ROWS[k]}: expected "
                f"{_float(e_values[k])!r}, got {_float(values[k])!r}{extra}")
    if dx1 != dx2 and same(tangents, g_reference(x1, x2, dx2, dx1)[1], "recognise"):
        return "you used the seed the other way round: v̇₋₁ = ẋ₁ = dx1 and v̇₀ = ẋ₂ = dx2"
    k = _first_wrong(tangents, e_tangents)
    misconceptions = {
        3: (-e_tangents[3], " — the sign: d/dx cos x = −sin x"),
        4: (tangents[2] + tangents[3], " — v₃ = v₁ − v₂, so its tangent subtracts v̇₂"),
    }
    extra = ""
    if k in misconceptions and same(tangents[k], misconceptions[k][0], "recognise"):
        extra = misconceptions[k][1]
    elif k == 2 and any(same(tangents[k], w, "recognise") for w in (dx1 * dx2, dx1 * x2)):
        extra = " — both factors vary: v̇₁ = v̇₋₁·v₀ + v₋₁·v̇₀"
    return (f"the first wrong tangent is number {k}, the row {G_ROWS[k]}: expected "
            f"{_float(e_tangents[k])!r}, got {_float(tangents[k])!r}; its tangent statement is "
            f"{G_TANGENT_RULES[k]}{extra}")


def check_g_trace(g_trace, *, hidden=False):
    """Task 2.1: ``g_trace(x1, x2, dx1, dx2)`` is (values, tangents) of g's trace, row by row."""
    seed = _seed(hidden)
    what = "g_trace(x1, x2, dx1, dx2)"
    for case, expected in zip(G_CASES[seed], _G_EXPECTED[seed]):
        got = attempt(g_trace, *case)
        columns = None if isinstance(got, Raised) else _g_columns(got)
        if columns is None or not (same(columns[0], expected[0]) and same(columns[1], expected[1])):
            raise CheckFailure(what, inputs=dict(zip(("x1", "x2", "dx1", "dx2"), case)),
                               expected=expected, got=got, hint=_g_hint(case, expected, got))
    passed(f"{what}: every row of the value and tangent columns", _len(G_CASES[seed]))


def check_dg_dx2(dg_dx2):
    """Task 2.1: the number ∂g/∂x₂ at (2, 3) = x₁ + sin x₂ = 2 + sin 3."""
    expected = _float(_ref_jvp(g_example, G_POINT, (0.0, 1.0))[1])
    try:
        if _isinstance(dg_dx2, (str, bytes)):
            raise TypeError("a string")
        got = _float(dg_dx2)
    except (TypeError, ValueError):
        raise CheckFailure("dg_dx2", expected=expected, got=dg_dx2,
                           hint="a single number: the last entry of the tangent column") from None
    if not same(got, expected):
        hint = "∂g/∂x₂ comes from the seed ẋ = (0, 1): the last tangent of g_trace(2.0, 3.0, 0.0, 1.0)"
        if same(got, _float(_ref_jvp(g_example, G_POINT, (1.0, 0.0))[1]), "recognise"):
            hint = "3 is ∂g/∂x₁ (seed ẋ = (1, 0)); for ∂g/∂x₂ seed ẋ = (0, 1)"
        elif same(got, G_POINT[0] - _sin(G_POINT[1]), "recognise"):
            hint = "the sign of the cos derivative: v̇₂ = −sin(v₀)·v̇₀, and v̇₃ = v̇₁ − v̇₂"
        elif any(got == round(expected, digits) for digits in range(1, 6)):
            hint = f"compute it with your function rather than typing the rounded {got!r}"
        raise CheckFailure("dg_dx2: ∂g/∂x₂ at (x₁, x₂) = (2, 3)", expected=expected, got=got, hint=hint)
    passed("∂g/∂x₂(2, 3) = 2 + sin 3 ≈ 2.1411")


# ==========================================================================
# Test functions for jvp / jacobians: each written once with numpy (runs on
# floats, on arrays and on autodiff_ref duals), with the shape of x it takes.
# ==========================================================================
class Fn(Named):
    """A test function of x ∈ Rⁿ that prints as its formula and records how it was called."""

    def __init__(self, formula, f, n):
        super().__init__(formula, f)
        self.n, self.calls = n, []

    def __call__(self, x):
        self.calls.append(x)
        return self.f(x)


SCALAR_INPUT = [  # f: R -> R, x a float
    ("x**2", lambda x: x * x),
    ("sin(x)", lambda x: _sin(x)),
    ("exp(x) * cos(2x)", lambda x: _exp(x) * _cos(2 * x)),
    ("log(1 + x**2) / (2 + sin(x))", lambda x: _log(1 + x * x) / (2 + _sin(x))),
]
_A = _np.random.default_rng(2).normal(size=(5, 5))
VECTOR_INPUT = [  # (formula, f, n, m): f: R^n -> R^m (m = 0: a scalar output)
    ("x[0] * x[1]", lambda x: x[0] * x[1], 2, 0),
    ("(r cos θ, r sin θ)", polar, 2, 2),
    ("(x0 + 2 x1, 3 x0 x2, x1 - x2**2)",
     lambda x: _stack([x[0] + 2 * x[1], 3 * x[0] * x[2], x[1] - x[2] * x[2]]), 3, 3),
    ("(x0 x1 x2, sin(x0) + x1)", lambda x: _stack([x[0] * x[1] * x[2], _sin(x[0]) + x[1]]), 3, 2),
    ("(exp(x0), x0 x1, x1**2, tanh(x0 - x1))",
     lambda x: _stack([_exp(x[0]), x[0] * x[1], x[1] * x[1], _tanh(x[0] - x[1])]), 2, 4),
    ("sum(sin(x) * x)", lambda x: _sum(_sin(x) * x), 4, 0),
    ("tanh(A x) + x*x*x", lambda x: _tanh(_A @ x) + x * x * x, 5, 5),  # A a fixed 5×5 matrix
]


def _vector_functions():
    return [Fn(formula, f, n) for formula, f, n, _ in VECTOR_INPUT]


def _plain(x):
    """A float array of what the student returned, None for a dual (or anything not numeric)."""
    return None if hasattr(x, "tangent") else as_floats(x)


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


JVP_CASES = {VISIBLE_SEED: _jvp_cases(VISIBLE_SEED, 1), HIDDEN_SEED: _jvp_cases(HIDDEN_SEED, 4)}


def _jvp_reference(f, x, v):
    value, tangent = _ref_jvp(f.f, (x,), (v,))
    return _asarray(value, dtype=float), _asarray(tangent, dtype=float)


def _jvp_hint(case, expected, got, called_with):
    f, x, v = case
    own = [a for a in called_with if hasattr(a, "tangent") and not isinstance(a, _Dual)]
    if own and _ndim(x) and not any(isinstance(a, _Dual) for a in called_with):
        return ("f was called on a dual that is not the reference RefDual (your lesson-1 Dual?): it holds "
                "one number, and x here is an array — evaluate f on RefDual(x, v), which holds arrays")
    if isinstance(got, Raised):
        return RAISED
    if hasattr(got, "value") and hasattr(got, "tangent"):
        return "return the pair (f(x), J v) as a tuple of plain numbers/arrays: (out.value, out.tangent)"
    if not (isinstance(got, tuple) and len(got) == 2):
        return "return a tuple of two things: (f(x), J·v)"
    value, tangent = as_floats(got[0]), as_floats(got[1])
    e_value, e_tangent = expected
    if same(value, e_tangent, "recognise") and same(tangent, e_value, "recognise"):
        return "the pair is the wrong way round: return (f(x), J·v), the value first"
    if not any(isinstance(a, _Dual) for a in called_with):
        return "evaluate f on a dual number: f(RefDual(x, v)) — not on plain numbers"
    if not same(value, e_value):
        return "the first entry should be f(x), the value part of the dual result"
    wrong_seeds = [(_ones(_shape(x)), "the tangent is J·(1, …, 1): seed the dual with the direction v, RefDual(x, v)"),
                   (_eye(_len(x))[0], "the tangent is the first column of J: seed the dual with v, not with e₁")] \
        if _ndim(x) else [(1.0, "the tangent is f′(x)·1: seed the dual with the direction v, RefDual(x, v)")]
    for seed, hint in wrong_seeds:
        if same(tangent, _ref_jvp(f.f, (x,), (seed,))[1], "recognise"):
            return hint
    return "f(RefDual(x, v)) = f(x) + (J v) ε: return its value and its tangent"


def check_jvp(jvp, *, hidden=False):
    """Task 2.2: ``jvp(f, x, v)`` returns ``(f(x), J_f(x) v)`` for scalar and vector x."""
    seed = _seed(hidden)
    what = "jvp(f, x, v)"
    for f, x, v in JVP_CASES[seed]:
        expected = _jvp_reference(f, x, v)
        f.calls = []
        got = attempt(jvp, f, x, v)
        ok = (isinstance(got, tuple) and _len(got) == 2 and same(_plain(got[0]), expected[0], "exact")
              and same(_plain(got[1]), expected[1], "exact"))
        if not ok:
            raise CheckFailure(what, inputs={"f": f, "x": x, "v": v}, expected=expected, got=got,
                               hint=_jvp_hint((f, x, v), expected, got, list(f.calls)))
    passed(f"{what} = (f(x), J v)", _len(JVP_CASES[seed]))


# ==========================================================================
# Task 2.3 / 2.4: Jacobians by forward mode
# ==========================================================================
def _jac_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    return [(fn, _np.round(rng.uniform(0.2, 1.5, fn.n), 3))
            for fn in _vector_functions() for _ in range(per_function)]


JAC_CASES = {VISIBLE_SEED: _jac_cases(VISIBLE_SEED, 1), HIDDEN_SEED: _jac_cases(HIDDEN_SEED, 4)}


def _jac_hint(case, expected, got):
    f, x = case
    if isinstance(got, Raised):
        return RAISED
    g = _plain(got)
    if g is None:
        return "return the Jacobian as a numpy array of floats"
    n = _len(x)
    if g.shape != expected.shape and g.shape == expected.T.shape and same(g, expected.T):
        return ("transposed: column j of the Jacobian is J·e_j, the JVP along the j-th unit vector; "
                "put the JVPs side by side as columns (np.stack(columns, axis=-1)), not as rows")
    if g.shape == expected.shape and expected.ndim == 2 and same(g, expected.T):
        return ("transposed: column j must be J·e_j; stack the JVPs with axis=-1 "
                "(as columns), not axis=0 (as rows)")
    if g.shape != expected.shape:
        return (f"the Jacobian of f: R^{n} → R^{expected.shape[0] if expected.ndim == 2 else 1} has shape "
                f"{expected.shape} (output shape + input shape); yours has {g.shape}")
    along_ones = _asarray(_ref_jvp(f.f, (x,), (_ones(n),))[1], dtype=float).reshape(-1)
    g2, e2 = g.reshape(-1, n), expected.reshape(-1, n)   # a scalar output: one row
    if all(same(g2[:, j], along_ones, "recognise") for j in range(n)):
        return "every column is J·(1, …, 1): seed column j with the unit vector e_j, not with ones"
    j = next((j for j in range(n) if not same(g2[:, j], e2[:, j])), None)
    if j is None:
        return "column j of the Jacobian is the tangent of f(RefDual(x, e_j))"
    k = next((k for k in range(n) if k != j and same(g2[:, j], e2[:, k], "recognise")), None)
    if k is not None:
        return (f"column {j} is column {k} of J: column j comes from the seed e_j "
                "(np.eye(n)[j]) — check the index of your unit vectors")
    return f"column {j} (the JVP along e_{j}) is the first wrong column"


def _direction_count(d):
    """How many directions a dual argument carries (0 for a plain array)."""
    if not isinstance(d, _Dual):
        return 0
    return 1 if _ndim(d.tangent) == _ndim(d.value) else _shape(d.tangent)[-1]


def _calls_on_duals(f):
    duals = [c for c in f.calls if isinstance(c, _Dual)]
    counts = [_direction_count(d) for d in duals]
    return counts, f"{_len(duals)} calls on duals, carrying {counts} directions"


def _columns_rule(f, x):
    """Task 2.3's rule: n evaluations of f, one direction each."""
    counts, got = _calls_on_duals(f)
    n = _len(x)
    if _len(counts) != n or any(c != 1 for c in counts):
        return (f"{n} calls of f on duals, one direction each (one JVP per column)", got,
                "this task builds J column by column: call your jvp once per unit vector e_j "
                "(the one-pass version is Task 2.4)")
    return None


def _one_pass_rule(f, x):
    """Task 2.4's rule: one evaluation of f carrying all n directions."""
    counts, got = _calls_on_duals(f)
    n = _len(x)
    if counts != [n]:
        return (f"one call of f on a dual carrying all {n} directions (tangent shape ({n}, {n}))", got,
                "give the dual the identity matrix as its tangent, RefDual(x, np.eye(n)): "
                "each trailing column is one direction, and one evaluation of f pushes all of them")
    return None


def _run_jacobian(jacobian, seed, what, calls_rule, earlier=()):
    try:
        return _run_jacobian_cases(jacobian, seed, what, calls_rule)
    except CheckFailure as failure:
        raise blamed(failure, earlier) from None


def _run_jacobian_cases(jacobian, seed, what, calls_rule):
    for f, x in JAC_CASES[seed]:
        expected = _asarray(_ref_jacfwd(f.f)(x), dtype=float)
        f.calls = []
        got = attempt(lambda: jacobian(f)(x.copy()))
        if not same(_plain(got), expected, "exact"):
            raise CheckFailure(what, inputs={"f": f, "x": x}, expected=expected, got=got,
                               hint=_jac_hint((f, x), expected, got))
        broken = calls_rule(f, x)
        if broken:
            rule, seen, hint = broken
            raise CheckFailure(what + ": how f was evaluated", inputs={"f": f, "x": x},
                               expected=rule, got=seen, hint=hint)
    return _len(JAC_CASES[seed])


def check_jacfwd(jacfwd, *, hidden=False, jvp=None):
    """Task 2.3: ``jacfwd(f)(x)``, column j = jvp along e_j, n JVPs for x in Rⁿ.

    `jvp` is the student's Task 2.2, which their jacfwd calls: when jacfwd fails and
    that jvp fails its own check, the failure says to fix Task 2.2 first."""
    earlier = () if jvp is None else (("jvp (Task 2.2)", check_jvp, (jvp,)),)
    n = _run_jacobian(jacfwd, _seed(hidden), "jacfwd(f)(x), column by column", _columns_rule, earlier)
    passed("jacfwd(f)(x): every column is a JVP along a unit vector", n)


def check_jacfwd_one_pass(jacfwd_one_pass, *, hidden=False):
    """Task 2.4: the whole Jacobian from ONE evaluation of f on a dual with n directions."""
    n = _run_jacobian(jacfwd_one_pass, _seed(hidden), "jacfwd_one_pass(f)(x)", _one_pass_rule)
    passed("jacfwd_one_pass(f)(x): the Jacobian in one pass with n directions", n)
