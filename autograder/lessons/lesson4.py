r"""Lesson 4, higher-order derivatives: the checks, and the lesson's figures.

Checks (each prints a ✓ line or raises :class:`~autograder.checks.CheckFailure`):

===========================  ====================================================
``check_second_derivative``  Task 4.1, f''(x) by nesting two levels of duals
``check_hvp``                Task 4.2, the Hessian-vector product H(x)·v
``check_hvp_cost``           Task 4.2, … without building the Hessian
``check_newton_step``        Task 4.3, one Newton step x − H⁻¹∇f
``check_newton_rosenbrock``  Task 4.3, Newton's method on Rosenbrock converges
===========================  ====================================================

Every expected value is computed here, at import, by :mod:`autodiff_ref` on
test functions written with numpy functions bound at import — before any
student cell runs — so rebinding ``np.sin`` or ``np.linalg.solve`` in a
notebook changes neither the functions the student's code is called on nor the
answers it is compared with. ``hidden=True`` selects the larger case table of
the hidden tests (another seed, more inputs).

Figures: :func:`measure_hvp_cost` / :func:`plot_hvp_cost` (an HVP against the
full Hessian as n grows), :func:`nesting_cost` (the price of each extra level
of duals), :func:`plot_newton_vs_gd` / :func:`newton_vs_gd_widget` (Newton and
gradient descent on the Rosenbrock function).
"""
import math
import time

import numpy as _np

from autodiff_ref import core as _core
from autodiff_ref import derivative as _derivative
from autodiff_ref import dual as _dual
from autodiff_ref import grad as _grad
from autodiff_ref import hessian as _hessian
from autodiff_ref import jvp as _jvp
from autodiff_ref import reverse as _reverse
from autodiff_ref.core import Tracer as _Tracer
from autodiff_ref.core import primal as _primal
from autograder.checks import CheckFailure, check_cases, passed

# Bound once, at import, so a notebook's later rebinding cannot reach the checks.
_sin, _cos, _exp, _log, _tanh, _sqrt = _np.sin, _np.cos, _np.exp, _np.log, _np.tanh, _np.sqrt
_sum, _array, _asarray, _solve, _diag = _np.sum, _np.array, _np.asarray, _np.linalg.solve, _np.diag
_allclose, _norm, _cond, _isfinite = _np.allclose, _np.linalg.norm, _np.linalg.cond, _np.isfinite
VISIBLE_SEED, HIDDEN_SEED = 4, 44


class _Named:
    """A test function that prints as its formula in a failure message."""

    def __init__(self, name, f):
        self.name, self.f = name, f

    def __call__(self, *args):
        return self.f(*args)

    def __repr__(self):
        return self.name


class _Raised:
    """What came back when the student's code raised: shown as the exception."""

    def __init__(self, err):
        self.err = err

    def __repr__(self):
        return f"{type(self.err).__name__}: {self.err}"


class _InPlace:
    """What came back when the student's code changed its input array in place."""

    def __init__(self, which, hint):
        self.which, self.hint = which, hint

    def __repr__(self):
        return f"(your function changed {self.which} in place)"


def _catching(student):
    def call(*args):
        try:
            return student(*args)
        except Exception as err:  # reported as the student's result on this input
            return _Raised(err)
    return call


def _as_array(got):
    """The student's answer as a float array, or None if it is not numeric."""
    if isinstance(got, (_Raised, _InPlace, _Tracer)):
        return None
    try:
        return _asarray(got, dtype=float)
    except (TypeError, ValueError):
        return None


def _same(got, target, rtol=1e-9, atol=1e-12):
    g = _as_array(got)
    t = _asarray(target, dtype=float)
    return g is not None and g.shape == t.shape and bool(_allclose(g, t, rtol=rtol, atol=atol))


def _raised_hint(got):
    if isinstance(got, _InPlace):
        return got.hint
    if isinstance(got, _Raised):
        return f"your code raised {got!r} on this input"
    if isinstance(got, _Tracer):
        return ("you returned a tracer (a Dual or a Box), not a number: read off the part you "
                "need (.tangent, or the second item of what jvp returns)")
    return None


# --------------------------------------------------------------------------
# Task 4.1: the second derivative by nested duals
# --------------------------------------------------------------------------

SCALAR_FUNCTIONS = [
    # (formula, f, domain of x) — the lesson's example first
    ("sin(x**3)", lambda x: _sin(x * x * x), (-1.4, 1.4)),
    ("x**5 - 3*x**2", lambda x: x * x * x * x * x - 3 * x * x, (-2.0, 2.0)),
    ("exp(x) * cos(2*x)", lambda x: _exp(x) * _cos(2 * x), (-2.0, 2.0)),
    ("log(1 + x*x)", lambda x: _log(1 + x * x), (-3.0, 3.0)),
    ("tanh(x)**2", lambda x: _tanh(x) * _tanh(x), (-2.0, 2.0)),
    ("1 / (1 + x*x)", lambda x: 1 / (1 + x * x), (-3.0, 3.0)),
    ("sqrt(x) * sin(x)", lambda x: _sqrt(x) * _sin(x), (0.3, 4.0)),
]


def _second_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    name, f, _ = SCALAR_FUNCTIONS[0]
    cases = [(_Named(name, f), x) for x in (1.0, 0.5, -1.2)]
    for name, f, (lo, hi) in SCALAR_FUNCTIONS:
        for _ in range(per_function):
            cases.append((_Named(name, f), round(float(rng.uniform(lo, hi)), 3)))
    return cases


def _second_table(cases):
    return {(id(f), x): (float(_derivative(f, 2)(x)), float(_derivative(f, 1)(x)), float(f(x)))
            for f, x in cases}


_SECOND_CASES = {seed: _second_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 4))}
_SECOND_TABLE = {seed: _second_table(cases) for seed, cases in _SECOND_CASES.items()}


def _second_hint_for(table):
    def hint(case, expected, got):
        h = _raised_hint(got)
        if h:
            return h
        f, x = case
        _, first, value = table[(id(f), x)]
        g = _as_array(got)
        if g is None or g.shape != ():
            return "return one number: the ε₁ε₂ part of f(x + ε₁ + ε₂)"
        if _same(g, first):
            return ("that is f′(x): one level of duals gives the first derivative. Nest a second "
                    "level — differentiate the function x ↦ f′(x) again (a jvp of a jvp)")
        if _same(g, value):
            return "that is f(x) itself: you read the value part; f″ is the ε₁ε₂ part (.tangent.tangent)"
        if _same(g, expected / 2):
            return ("half of f″: the ε₁ε₂ coefficient of f(x + ε₁ + ε₂) is f″(x) itself, because "
                    "(ε₁ + ε₂)²/2 = ε₁ε₂; do not divide by 2")
        if _same(g, 2 * expected):
            return "twice f″: seed each level's tangent with 1, not 2 (and do not add the two ε-parts)"
        if _same(g, -expected):
            return "the sign is flipped: f″ is the ε₁ε₂ coefficient as it comes, with no minus sign"
        if _same(g, expected * expected):
            return "you squared something: the second derivative comes from nesting, not from (f′)² or f″²"
        return "f″(x) is the tangent of the tangent: jvp(x ↦ jvp(f, (x,), (1.0,))[1], (x,), (1.0,))[1]"
    return hint


def check_second_derivative(second_derivative, *, hidden=False):
    """Task 4.1: ``second_derivative(f, x)`` is f''(x) for scalar f and x."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    table = _SECOND_TABLE[seed]
    n = check_cases(_catching(second_derivative), lambda f, x: table[(id(f), x)][0],
                    _SECOND_CASES[seed], what="second_derivative(f, x)", hint=_second_hint_for(table))
    passed("second_derivative(f, x) matches f″(x)", n)


# --------------------------------------------------------------------------
# Task 4.2: Hessian-vector products
# --------------------------------------------------------------------------

_A = _array([[2.0, 1.0, 0.0, -1.0], [0.0, 3.0, 0.5, 0.0], [1.0, -0.5, 1.5, 0.0], [0.5, 0.0, 0.0, 1.0]])
_W = _array([[0.8, -0.3, 0.5], [0.2, 0.9, -0.7], [-0.6, 0.4, 0.3], [0.1, -0.2, 0.6]])
_B = _array([0.1, -0.2, 0.3, 0.0])
_C = _array([1.0, -0.5, 0.8, 0.3])


def rosenbrock(z):
    r"""The Rosenbrock function (1 − x)² + 100 (y − x²)², minimum 0 at (1, 1)."""
    x, y = z[0], z[1]
    return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x)


def _rosenbrock_nd(z):
    head, tail = z[:-1], z[1:]
    return _sum(100 * (tail - head * head) * (tail - head * head) + (1 - head) * (1 - head))


def _coupled(z):
    d = z[1:] - z[:-1]
    return _sum(_log(1 + d * d)) + 0.5 * _sum(z * z) + _sum(_sin(z))


#: (formula, f, n, domain): functions of a vector, simplest first. Every one
#: has a non-diagonal Hessian that changes with x (so H(x)·v ≠ H(v)·x).
VECTOR_FUNCTIONS = [
    ("x0**2 * x1", lambda z: z[0] * z[0] * z[1], 2, (-2.0, 2.0)),
    ("rosenbrock (2-d)", rosenbrock, 2, (-1.5, 1.5)),
    ("x0*x1*x2 + exp(x0 - x2)", lambda z: z[0] * z[1] * z[2] + _exp(z[0] - z[2]), 3, (-1.0, 1.0)),
    ("0.5 * x @ A @ x (A not symmetric)", lambda z: 0.5 * (z @ (_A @ z)), 4, (-2.0, 2.0)),
    ("log(sum(exp(x))) + sum(x**4)/4", lambda z: _log(_sum(_exp(z))) + 0.25 * _sum(z * z * z * z), 4,
     (-1.5, 1.5)),
    ("c @ tanh(W @ x + b)", lambda z: _C @ _tanh(_W @ z + _B), 3, (-1.5, 1.5)),
    ("sum(log(1 + (x[i+1]-x[i])**2)) + |x|²/2 + sum(sin x)", _coupled, 6, (-2.0, 2.0)),
    ("rosenbrock (5-d)", _rosenbrock_nd, 5, (-1.2, 1.2)),
]


def _hvp_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = [(_Named("x0**2 * x1", VECTOR_FUNCTIONS[0][1]), _array([1.0, 2.0]), _array([1.0, 0.0])),
             (_Named("rosenbrock (2-d)", rosenbrock), _array([-1.2, 1.0]), _array([0.3, -0.7]))]
    for name, f, n, (lo, hi) in VECTOR_FUNCTIONS:
        for _ in range(per_function):
            x = _np.round(rng.uniform(lo, hi, size=n), 3)
            v = _np.round(rng.normal(size=n), 3)
            cases.append((_Named(name, f), x, v))
    return cases


def _hvp_table(cases):
    table = {}
    for f, x, v in cases:
        H = _hessian(f)(x)
        table[id(x)] = dict(Hv=H @ v, swapped=_hessian(f)(v) @ x, grad=_grad(f)(x),
                            directional=float(_grad(f)(x) @ v), Hx=H @ x, diagHv=_diag(H) * v,
                            value=float(f(x)))
    return table


_HVP_CASES = {seed: _hvp_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 4))}
_HVP_TABLE = {seed: _hvp_table(cases) for seed, cases in _HVP_CASES.items()}


def _hvp_hint_for(table):
    def hint(case, expected, got):
        h = _raised_hint(got)
        if h:
            return h
        f, x, v = case
        if isinstance(got, tuple) and len(got) == 2:
            return ("you returned a pair: jvp gives (primal_out, tangent_out) — here (∇f(x), H·v); "
                    "return only the tangent, the second item")
        t = table[id(x)]
        g = _as_array(got)
        if g is None:
            return "return a numpy array shaped like x: the vector H(x)·v"
        if g.shape == ():
            if _same(g, t["directional"]):
                return ("that is ∇f(x)·v, the directional derivative of f (a number). The HVP is the "
                        "directional derivative of ∇f: differentiate grad(f), not f, along v")
            return "the HVP is a vector shaped like x, not a number: differentiate grad(f) along v"
        if g.shape != x.shape:
            return (f"H·v has the shape of x, {x.shape}; yours has shape {g.shape} — did you build "
                    "a matrix instead of pushing one direction v through ∇f?")
        for key, msg in (
            ("grad", "that is the gradient ∇f(x), the primal output of jvp; return the tangent, "
                     "the second item: jvp(grad(f), (x,), (v,))[1]"),
            ("swapped", "x and v are swapped: you evaluated the Hessian at v and applied it to x. "
                        "jvp takes the point first, the direction second: jvp(grad(f), (x,), (v,))"),
            ("Hx", "you pushed x itself through ∇f′, giving H(x)·x; the direction is v"),
            ("diagHv", "only the diagonal of H was used (entrywise H_ii·v_i); the HVP uses the whole "
                       "Hessian — push v through ∇f with jvp"),
        ):
            if _same(g, t[key]):
                return msg
        if _same(g, -expected):
            return "the sign is flipped: H·v is the tangent of ∇f along +v"
        if _same(g, 2 * expected):
            return "twice H·v: seed the tangent with v itself, not 2v (and do not add two HVPs)"
        if _same(g, expected / 2):
            return "half of H·v: there is no factor ½ — the tangent of ∇f along v is exactly H·v"
        if _same(g, expected, rtol=1e-3, atol=1e-6):
            return ("close but not exact: a finite difference of the gradient, (∇f(x+hv) − ∇f(x))/h, "
                    "has truncation and round-off error; jvp of grad(f) is exact")
        return "H(x)·v is the JVP of the gradient: jvp(grad(f), (x,), (v,))[1]"
    return hint


def check_hvp(hvp, *, hidden=False):
    """Task 4.2: ``hvp(f, x, v)`` is H(x)·v, the Hessian of f at x times v."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    table = _HVP_TABLE[seed]
    what = "hvp(f, x, v)"

    def student(f, x, v):
        x_before, v_before = x.copy(), v.copy()
        got = _catching(hvp)(f, x, v)
        if not (_np.array_equal(x, x_before) and _np.array_equal(v, v_before)):
            return _InPlace("x or v", "your hvp modified x or v in place; work on copies")
        return got

    # copies go to the student, so an in-place change cannot spoil the table
    runs = [(f, x.copy(), v.copy()) for f, x, v in _HVP_CASES[seed]]
    by_run = {id(r[1]): table[id(c[1])] for r, c in zip(runs, _HVP_CASES[seed])}
    hint = _hvp_hint_for(by_run)
    n = check_cases(student, lambda f, x, v: by_run[id(x)]["Hv"], runs, what=what, hint=hint)
    passed("hvp(f, x, v) matches H(x)·v", n)


# ---- counting passes: an HVP must not cost n passes --------------------------
# `pass_counter` is the identity function with its own forward and reverse rule
# that count how often they run. A test function applies it to its input, so
# every JVP pass and every reverse sweep through the function is counted; a
# tangent carrying n directions at once (jacfwd) is recorded too. The rules
# return pass_counter(t) so nested transformations see it at every level.

class _PassCount:
    def __init__(self):
        self.jvp = self.vjp = 0
        self.batched = False


_counting = []


def _counter_impl(x):
    return x


pass_counter = _core.Primitive("pass_counter", _counter_impl)


def _counter_jvp(t, ans, x):
    if _counting:
        _counting[-1].jvp += 1
        if _np.ndim(_primal(t)) > _np.ndim(_primal(x)):
            _counting[-1].batched = True
    return pass_counter(t)


def _counter_vjp(g, ans, x):
    if _counting:
        _counting[-1].vjp += 1
    return pass_counter(g)


_dual.defjvp(pass_counter, _counter_jvp)
_reverse.defvjp(pass_counter, _counter_vjp)

_COST_N = {VISIBLE_SEED: (40,), HIDDEN_SEED: (24, 64)}
#: An HVP by forward-over-reverse, reverse-over-forward or reverse-over-reverse
#: runs the counter's rules 2–3 times; any way of forming H runs them ≥ n times.
MAX_PASSES = 8


def check_hvp_cost(hvp, *, hidden=False):
    """Task 4.2: ``hvp`` costs a few passes, not n: it never forms the n×n Hessian."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "hvp(f, x, v) without forming the Hessian"
    for n in _COST_N[seed]:
        rng = _np.random.default_rng(seed + n)
        x, v = _np.round(rng.uniform(-1, 1, size=n), 3), _np.round(rng.normal(size=n), 3)
        count = _PassCount()
        f = _Named(f"coupled function of n = {n} variables (passes counted)",
                   lambda z: _coupled(pass_counter(z)))
        expected = _hessian(_coupled)(x) @ v
        _counting.append(count)
        try:
            got = _catching(hvp)(f, x.copy(), v.copy())
        finally:
            _counting.pop()
        h = _raised_hint(got)
        if h:
            raise CheckFailure(what, inputs=(f, x, v), expected=expected, got=got, hint=h)
        passes = count.jvp + count.vjp
        if count.batched or passes > MAX_PASSES:
            if count.batched:
                hint = ("a tangent carried n directions at once (jacfwd): that forms every column of "
                        "the Hessian, n times the work; push the one direction v instead")
            elif count.vjp > count.jvp:
                hint = (f"{count.vjp} reverse sweeps for n = {n}: that is the Hessian row by row "
                        "(jacrev); one JVP of the gradient gives H·v in a single pass")
            else:
                hint = (f"{count.jvp} forward passes for n = {n}: that is the Hessian column by "
                        "column; push v itself through ∇f once")
            raise CheckFailure(what, inputs={"n": n},
                               expected=f"at most {MAX_PASSES} passes through f",
                               got=f"{passes} passes ({count.jvp} forward, {count.vjp} reverse)"
                                   + (", with n directions at once" if count.batched else ""),
                               hint=hint)
        if not _same(got, expected, rtol=1e-10, atol=1e-10):
            raise CheckFailure(what, inputs=(f, x, v), expected=expected, got=got,
                               hint="the result is wrong (see the check of hvp above)")
    passed(f"hvp(f, x, v) took {passes} passes through f for n = {n}, not n")


# --------------------------------------------------------------------------
# Task 4.3: Newton's method
# --------------------------------------------------------------------------

def _newton_reference(f, x):
    return x - _solve(_hessian(f)(x), _grad(f)(x))


def _newton_cases(seed, per_function):
    """Points where the Hessian is comfortably invertible (condition number ≤ 1e4)."""
    rng = _np.random.default_rng(seed)
    cases = [(_Named("rosenbrock (2-d)", rosenbrock), _array([-1.2, 1.0])),
             (_Named("rosenbrock (2-d)", rosenbrock), _array([2.0, 2.0]))]
    for name, f, n, (lo, hi) in VECTOR_FUNCTIONS:
        if name.startswith("0.5 * x @ A"):
            continue  # a quadratic: one Newton step jumps to the stationary point (kept in hidden)
        found = 0
        while found < per_function:
            x = _np.round(rng.uniform(lo, hi, size=n), 3)
            H = _hessian(f)(x)
            if _cond(H) <= 1e4 and _norm(_grad(f)(x)) > 1e-3:
                cases.append((_Named(name, f), x))
                found += 1
    return cases


def _newton_table(cases):
    table = {}
    for f, x in cases:
        H, g = _hessian(f)(x), _grad(f)(x)
        step = _solve(H, g)
        with _np.errstate(divide="ignore", invalid="ignore"):
            diag = x - g / _diag(H)
        table[id(x)] = dict(new=x - step, plus=x + step, times=x - H @ g, gd=x - g,
                            diag=diag, step=-step, step_pos=step, half=x - step / 2)
    return table


_NEWTON_CASES = {VISIBLE_SEED: _newton_cases(VISIBLE_SEED, 1),
                 HIDDEN_SEED: _newton_cases(HIDDEN_SEED, 3)
                 + [(_Named("0.5 * x @ A @ x (A not symmetric)", VECTOR_FUNCTIONS[3][1]),
                     _array([1.0, -2.0, 0.5, 1.5]))]}
_NEWTON_TABLE = {seed: _newton_table(cases) for seed, cases in _NEWTON_CASES.items()}


def _newton_hint_for(table):
    def hint(case, expected, got):
        h = _raised_hint(got)
        if h:
            return h
        f, x = case
        t = table[id(x)]
        g = _as_array(got)
        if g is None or g.shape != x.shape:
            return f"return the new point, an array shaped like x {x.shape}"
        for key, msg in (
            ("plus", "sign error: Newton moves to x − H⁻¹∇f; you added the step. (−H⁻¹∇f points "
                     "downhill when H is positive definite)"),
            ("times", "you multiplied the gradient by H; Newton divides by it: solve H p = ∇f "
                      "(np.linalg.solve(H, g)), then return x − p"),
            ("gd", "that is a gradient-descent step of size 1: Newton rescales the gradient by the "
                   "inverse Hessian, x − H⁻¹∇f"),
            ("diag", "you divided by the diagonal of H only; the off-diagonal entries couple the "
                     "coordinates — solve the full system H p = ∇f"),
            ("step", "you returned the step −H⁻¹∇f; return the new point x − H⁻¹∇f"),
            ("step_pos", "you returned H⁻¹∇f; return the new point x − H⁻¹∇f"),
            ("half", "a half step: the Newton step is the whole −H⁻¹∇f (the minimiser of the "
                     "quadratic model), with no factor ½"),
        ):
            if _same(g, t[key]):
                return msg
        return "the Newton step: H = hessian(f)(x), g = grad(f)(x), return x − solve(H, g)"
    return hint


def check_newton_step(newton_step, *, hidden=False):
    """Task 4.3: ``newton_step(f, x)`` returns x − H(x)⁻¹∇f(x) and leaves x alone."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    table = _NEWTON_TABLE[seed]
    what = "newton_step(f, x)"

    def student(f, x):
        before = x.copy()
        got = _catching(newton_step)(f, x)
        if not _np.array_equal(x, before):
            return _InPlace("x", "your function modified x in place (x -= …); return a new "
                                 "array: x - p")
        return got

    runs = [(f, x.copy()) for f, x in _NEWTON_CASES[seed]]
    by_run = {id(r[1]): table[id(c[1])] for r, c in zip(runs, _NEWTON_CASES[seed])}
    n = check_cases(student, lambda f, x: by_run[id(x)]["new"], runs, what=what,
                    hint=_newton_hint_for(by_run))
    passed("newton_step(f, x) matches x − H⁻¹∇f", n)


def newton_path(f, x0, iterations, step=None):
    """Iterates x₀, x₁, … of Newton's method (with the reference Newton step by default)."""
    step = _newton_reference if step is None else step
    path = [_asarray(x0, dtype=float)]
    for _ in range(iterations):
        x = path[-1]
        if _norm(_grad(f)(x)) == 0.0:
            break
        path.append(_asarray(step(f, x), dtype=float))
    return path


_ROSENBROCK_STARTS = {VISIBLE_SEED: [(-1.2, 1.0)], HIDDEN_SEED: [(-1.2, 1.0), (1.5, -0.5), (0.5, 1.5)]}
_ROSENBROCK_PATHS = {seed: [newton_path(rosenbrock, _array(s), 12) for s in starts]
                     for seed, starts in _ROSENBROCK_STARTS.items()}


def check_newton_rosenbrock(newton_step, *, hidden=False):
    """Task 4.3: iterating ``newton_step`` on Rosenbrock reaches (1, 1) quadratically."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "Newton's method on the Rosenbrock function, iterating your newton_step"
    f = _Named("rosenbrock", rosenbrock)
    for start, reference in zip(_ROSENBROCK_STARTS[seed], _ROSENBROCK_PATHS[seed]):
        x = _array(start)
        for k in range(1, len(reference)):
            got = _catching(newton_step)(f, x.copy())
            h = _raised_hint(got)
            if h is None and not _same(got, reference[k], rtol=1e-8, atol=1e-10):
                h = ("your iterates leave Newton's path (see the check of newton_step above); "
                     f"the reference errors |x_k − (1, 1)| are "
                     + ", ".join(f"{_norm(p - 1):.1e}" for p in reference))
            if h is not None:
                raise CheckFailure(what, inputs={"start": start, "iteration": k, "x": x},
                                   expected=reference[k], got=got, hint=h)
            x = _asarray(got, dtype=float)
        error = float(_norm(x - 1))
        if error > 1e-12:
            raise CheckFailure(what, inputs={"start": start}, expected="(1, 1) to 1e-12", got=x)
    start, reference = _ROSENBROCK_STARTS[seed][0], _ROSENBROCK_PATHS[seed][0]
    errors = ", ".join(f"{_norm(p - 1):.0e}" for p in reference)
    others = len(_ROSENBROCK_STARTS[seed]) - 1
    passed(f"Newton from {start} reaches (1, 1) in {len(reference) - 1} steps"
           + (f" (and from {others} other starts)" if others else "")
           + f"; errors |x_k − (1, 1)|: {errors}")


# --------------------------------------------------------------------------
# Figures and measurements
# --------------------------------------------------------------------------

def coupled(z):
    r"""The lesson's n-dimensional test function
    :math:`\sum_i \log(1 + (x_{i+1} - x_i)^2) + \tfrac12\|x\|^2 + \sum_i \sin x_i`:
    cheap to evaluate, with a tridiagonal (but not diagonal) Hessian."""
    return _coupled(z)


def _best_time(fn, repeats):
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_hvp_cost(sizes=(10, 30, 100, 300, 1000), f=coupled, seed=0):
    """Seconds (best of a few runs) for f, ∇f, one HVP and the full Hessian at each n.

    Returns a dict of lists keyed by 'n', 'f', 'grad', 'hvp', 'hessian', plus
    'max_error', the largest |H·v − hvp| seen (the two must agree).
    """
    rng = _np.random.default_rng(seed)
    out = {k: [] for k in ("n", "f", "grad", "hvp", "hessian")}
    out["max_error"] = 0.0
    for n in sizes:
        x, v = rng.uniform(-1, 1, size=n), rng.normal(size=n)
        hv = _jvp(_grad(f), (x,), (v,))[1]
        repeats = 3 if n >= 1000 else 7
        out["n"].append(n)
        out["f"].append(_best_time(lambda: f(x), 7))
        out["grad"].append(_best_time(lambda: _grad(f)(x), 7))
        out["hvp"].append(_best_time(lambda: _jvp(_grad(f), (x,), (v,)), 7))
        H = {}
        out["hessian"].append(_best_time(lambda: H.setdefault("H", _hessian(f)(x)), 1 if n >= 1000 else repeats))
        out["max_error"] = max(out["max_error"], float(_np.max(_np.abs(H["H"] @ v - hv))))
    return out


def plot_hvp_cost(cost, ax=None):
    """Log-log plot of the times measured by :func:`measure_hvp_cost`."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    n = _asarray(cost["n"], dtype=float)
    styles = (("hessian", "full Hessian  (jacfwd of grad)", "#c92a2a", "s"),
              ("hvp", "one HVP  (jvp of grad)", "#1971c2", "o"),
              ("grad", "gradient", "#2b8a3e", "^"),
              ("f", "f itself", "#868e96", "."))
    for key, label, color, marker in styles:
        ax.loglog(n, _asarray(cost[key]) * 1e3, marker=marker, color=color, label=label, lw=2)
    ref = _asarray(cost["hessian"])[-1] * 1e3 * (n / n[-1]) ** 2
    ax.loglog(n, ref, ls=":", color="#c92a2a", alpha=0.6, label="slope 2 (∝ n²)")
    ax.set_xlabel("n (number of variables)")
    ax.set_ylabel("time (ms, best of several runs)")
    ax.set_title("An HVP costs a few gradients; the Hessian costs n of them", fontsize=11)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=9, loc="upper left")
    return ax


def nesting_cost(f=None, x=0.7, orders=(1, 2, 3, 4, 5, 6)):
    """Time of ``derivative(f, k)(x)`` and the 2ᵏ numbers a k-fold nested dual carries."""
    f = (lambda t: _sin(t * t * t)) if f is None else f
    rows = []
    for k in orders:
        d = _derivative(f, k)
        seconds = _best_time(lambda: d(x), 5)
        rows.append((k, 2 ** k, seconds, float(d(x))))
    return rows


# ---- Newton vs gradient descent on Rosenbrock ---------------------------------

def gd_path(f, x0, step, iterations):
    """Gradient descent x ← x − step·∇f(x); stops early if the iterates blow up."""
    g = _grad(f)
    path = [_asarray(x0, dtype=float)]
    for _ in range(iterations):
        x = path[-1] - step * g(path[-1])
        if not bool(_np.all(_isfinite(x))) or float(_np.max(_np.abs(x))) > 1e4:
            break
        path.append(x)
    return path


def _rosenbrock_np(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def plot_newton_vs_gd(x0=-1.2, y0=1.0, step=1e-3, iterations=2000, axes=None):
    """Contour plot of Rosenbrock with both paths, and f(x_k) against k."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import NullFormatter
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.25, 1]})
    ax, ax2 = axes
    start = _array([x0, y0])
    newton = newton_path(rosenbrock, start, min(iterations, 25))
    gd = gd_path(rosenbrock, start, step, iterations)
    blew_up = len(gd) < iterations + 1

    # The view: the valley, widened (up to a cap) so Newton's first wild steps stay in sight.
    N = _np.array(newton)
    lo_x, hi_x = max(-6.0, min(-2.2, N[:, 0].min() - 0.3)), min(6.0, max(2.2, N[:, 0].max() + 0.3))
    lo_y, hi_y = max(-12.0, min(-1.2, N[:, 1].min() - 0.4)), min(12.0, max(3.2, N[:, 1].max() + 0.4))
    xs, ys = _np.linspace(lo_x, hi_x, 400), _np.linspace(lo_y, hi_y, 400)
    X, Y = _np.meshgrid(xs, ys)
    Z = _rosenbrock_np(X, Y)
    levels = _np.logspace(-1, _np.log10(Z.max()), 26)
    ax.contourf(X, Y, Z + 1e-12, levels=levels, norm=LogNorm(), cmap="Blues_r", alpha=0.75, extend="both")
    ax.contour(X, Y, Z + 1e-12, levels=levels, norm=LogNorm(), colors="white", linewidths=0.4, alpha=0.6)
    G = _np.array(gd)
    ax.plot(G[:, 0], G[:, 1], "-", color="#e8590c", lw=1.6, label=f"gradient descent ({len(gd) - 1} steps)")
    ax.plot(G[-1, 0], G[-1, 1], "o", color="#e8590c", ms=6)
    ax.plot(N[:, 0], N[:, 1], "-o", color="#5f3dc4", lw=1.8, ms=5, label=f"Newton ({len(newton) - 1} steps)")
    for k, (a, b) in enumerate(N[:6]):
        ax.annotate(str(k), (a, b), textcoords="offset points", xytext=(5, 4), fontsize=8, color="#5f3dc4")
    ax.plot([x0], [y0], "s", color="black", ms=7, label="start")
    ax.plot([1], [1], "*", color="gold", mec="black", ms=15, label="minimum (1, 1)")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Rosenbrock (1 − x)² + 100 (y − x²)²", fontsize=11)
    ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=4, frameon=False,
              handlelength=1.6, columnspacing=1.2)

    floor = 1e-30
    fg = _np.maximum([_rosenbrock_np(*p) for p in gd], floor)
    fn = _np.maximum([_rosenbrock_np(*p) for p in newton], floor)
    ax2.loglog(_np.arange(1, len(fg) + 1), fg, color="#e8590c", lw=1.8,
               label=f"gradient descent, step {step:.1e}")
    ax2.loglog(_np.arange(1, len(fn) + 1), fn, "-o", color="#5f3dc4", ms=4, lw=1.8, label="Newton")
    ax2.set_xlabel("iteration k + 1")
    ax2.xaxis.set_minor_formatter(NullFormatter())
    ax2.set_ylabel("f(x_k)  (0 shown as 1e-30)")
    note = "  — gradient descent blew up" if blew_up else ""
    ax2.set_title(f"f after {len(gd) - 1} GD steps: {fg[-1]:.2e}{note}", fontsize=11)
    ax2.grid(True, which="both", alpha=0.25)
    ax2.legend(fontsize=9)
    ax2.set_ylim(floor / 10, max(1e4, float(max(fg.max(), fn.max())) * 10))
    return axes


def newton_vs_gd_widget():
    """Sliders for the start point, the gradient-descent step and the iteration count."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(x0, y0, step, iterations):
        plot_newton_vs_gd(x0, y0, step, iterations)
        plt.show()

    style = {"description_width": "initial"}
    controls = dict(
        x0=widgets.FloatSlider(value=-1.2, min=-2.0, max=2.0, step=0.05, description="start x",
                               continuous_update=False, style=style),
        y0=widgets.FloatSlider(value=1.0, min=-1.0, max=3.0, step=0.05, description="start y",
                               continuous_update=False, style=style),
        step=widgets.FloatLogSlider(value=1e-3, base=10, min=-4, max=-2, step=0.05,
                                    description="GD step size", readout_format=".1e",
                                    continuous_update=False, style=style),
        iterations=widgets.IntSlider(value=2000, min=10, max=5000, step=10, description="iterations",
                                     continuous_update=False, style=style),
    )
    out = widgets.interactive_output(draw, controls)
    ui = widgets.VBox([widgets.HBox([controls["x0"], controls["y0"]]),
                       widgets.HBox([controls["step"], controls["iterations"]])])
    return widgets.VBox([ui, out])


# ---- the numbers the lesson's prose refers to ---------------------------------

def gd_regime(path, iterations, tail=20):
    """What a gradient-descent path does by its end: "blow-up" (stopped early by
    :func:`gd_path`), "bouncing" (its last `tail` steps keep reversing direction,
    across the valley) or "converging" (still moving the same way, however slowly)."""
    if len(path) < iterations + 1:
        return "blow-up"
    steps = _np.diff(_np.array(path[-(tail + 1):]), axis=0)
    reversals = _np.sum(steps[1:] * steps[:-1], axis=1) < 0
    return "bouncing" if float(_np.mean(reversals)) > 0.5 else "converging"


def gd_thresholds(x0=(-1.2, 1.0), iterations=2000, slider=(-3.0, -2.0, 0.05), fine=16):
    r"""Where gradient descent on Rosenbrock starts to bounce and to blow up, measured.

    Scans the widget's step-size slider (:math:`10^{-3}, 10^{-2.95}, \dots, 10^{-2}`),
    classifying each path with :func:`gd_regime`, then scans `fine` log-spaced step
    sizes between the last slider value before a regime and the first one showing
    it. The borders are ragged (a path's fate depends on where its steps land), so
    for ``"bouncing"`` and ``"blow-up"`` the dict gives ``first_*`` (the smallest step
    seen doing it), ``from_*`` (the smallest step from which on every step scanned
    does it or worse) and ``slider_*`` (the first slider value doing it); None if
    never seen. Also the curvature bound ``2 / λ_max`` of the Hessian at the minimum.
    """
    start = _asarray(x0, dtype=float)
    rank = {"converging": 0, "bouncing": 1, "blow-up": 2}
    regime = lambda a: gd_regime(gd_path(rosenbrock, start, a, iterations), iterations)  # noqa: E731
    lam_max = float(max(_np.linalg.eigvalsh(_np.asarray(_hessian(rosenbrock)(_array([1.0, 1.0]))))))
    lo, hi, by = slider
    coarse = [(a, regime(a)) for a in (float(10.0 ** e) for e in _np.arange(lo, hi + by / 2, by))]
    out = dict(lambda_max=lam_max, bound=2 / lam_max, iterations=iterations, x0=tuple(float(v) for v in start))
    for kind in ("bouncing", "blow-up"):
        seen = list(coarse)
        first = next((i for i, (_, r) in enumerate(coarse) if rank[r] >= rank[kind]), None)
        if first is not None and first > 0:
            a, b = coarse[first - 1][0], coarse[first][0]
            seen = sorted(seen + [(float(t), regime(float(t))) for t in _np.geomspace(a, b, fine + 2)[1:-1]])
        hits = [a for a, r in seen if r == kind]
        out[f"first_{kind}"] = hits[0] if hits else None
        out[f"slider_{kind}"] = next((a for a, r in coarse if r == kind), None)
        settled = None
        for a, r in reversed(seen):
            if rank[r] < rank[kind]:
                break
            settled = a
        out[f"from_{kind}"] = settled
    return out


def newton_steps(x0, iterations=25):
    """How many Newton steps (the reference step) Rosenbrock needs from `x0` until ∇f = 0 exactly
    or the step no longer changes x."""
    path = newton_path(rosenbrock, _array(x0, dtype=float), iterations)
    moved = [k for k in range(1, len(path)) if not _np.array_equal(path[k], path[k - 1])]
    return moved[-1] if moved else 0
