r"""Lesson 6, implicit layers: the checks, and the lesson's figures and widget.

Checks (each prints a ✓ line or raises :class:`~autograder.checks.CheckFailure`):

===============================  ===================================================
``check_dy_dtheta``              Task 6.1, dy*/dθ of y = tanh(θy + x) by the IFT
``check_dy_dx``                  Task 6.1, dy*/dx of the same fixed point
``check_adjoint_solve``          Task 6.2, u = ȳ + (∂g/∂y)ᵀu by iteration with VJPs
``check_adjoint_solve_edges``    Task 6.2, ȳ = 0, tiny and huge ȳ, ȳ untouched, divergence
``check_fixed_point_vjp``        Task 6.3, θ̄ = (∂g/∂θ)ᵀu against ``autodiff_ref.fixed_point``
``check_fixed_point_vjp_fd``     Task 6.3, … against central differences of a tight solve
===============================  ===================================================

Every expected value is computed here, at import, before any student cell
runs: derivatives by ``autodiff_ref`` (``grad``/``vjp`` of ``fixed_point``,
which differentiates by the implicit function theorem), adjoints by a dense
solve with the Jacobian from ``jacfwd``, and central differences of solves
converged to 1e-13. The test functions are written with numpy functions bound
at import, so a notebook that rebinds ``np.tanh`` or ``np.allclose`` changes
neither the problems the student's code is called on nor the answers.
``hidden=True`` selects the larger tables of the hidden tests.

Figures: :func:`cobweb_widget` / :func:`plot_cobweb` (fixed-point iteration on
y = tanh(θy + x)), :func:`plot_newton_vs_iteration`, :func:`plot_unrolled_vs_implicit`
(the derivative of a loose solve), :func:`measure_implicit_vs_unrolled` /
:func:`plot_implicit_vs_unrolled` (memory and time against the iteration count).
"""
import math
import signal
import threading
import time
import tracemalloc
import types
from contextlib import contextmanager

import numpy

from autodiff_ref import fixed_point as _fixed_point
from autodiff_ref import grad as _grad
from autodiff_ref import jacfwd as _jacfwd
from autodiff_ref import vjp as _vjp
from autodiff_ref.core import Tracer as _Tracer
from autograder.checks import TOLERANCES, CheckFailure, is_close, passed

# A private copy of numpy's namespace, taken at import (before any student cell
# runs): rebinding np.tanh or np.allclose in a notebook cannot reach it.
np = types.SimpleNamespace(**vars(numpy))
_solve, _norm2, _qr = numpy.linalg.solve, numpy.linalg.norm, numpy.linalg.qr
_asarray, _zeros, _eye, _tanh = np.asarray, np.zeros, np.eye, np.tanh
_perf = time.perf_counter
VISIBLE_SEED, HIDDEN_SEED = 6, 66


# ============================================================================
# The functions the lesson iterates
# ============================================================================
def tanh_layer(y, theta, x):
    r"""g(y, θ, x) = tanh(θy + x): the lesson's scalar implicit layer."""
    return _tanh(theta * y + x)


def deq_layer(z, W, x):
    r"""g(z, W, x) = tanh(Wz + x): a deep-equilibrium layer."""
    return _tanh(W @ z + x)


def deq_problem(n, norm=0.9, seed=0):
    """A seeded (W, x): W Gaussian scaled to spectral norm `norm`, x standard normal."""
    rng = numpy.random.default_rng(seed)
    W = rng.normal(size=(n, n))
    W *= norm / _norm2(W, 2)
    return W, rng.normal(size=n)


def slow_deq_problem(n, rho=0.98, seed=0):
    """A seeded (W, x) that iteration finds hard: W = ρ·Q with Q orthogonal (every eigenvalue
    has modulus ρ) and a small x = 0.1·N(0, 1), so sech²(Wz + x) damps little: for ρ = 0.98 the
    spectral radius of ∂g/∂z at the fixed point is about 0.95."""
    rng = numpy.random.default_rng(seed)
    Q, R = _qr(rng.normal(size=(n, n)))
    return rho * Q * np.sign(np.diag(R)), 0.1 * rng.normal(size=n)


def fixed_points(theta, x):
    """Every solution of y = tanh(θy + x), sorted (all lie in (−1, 1)), with g′(y*) = θ(1 − y*²)."""
    from scipy.optimize import brentq
    ys = np.linspace(-1.0, 1.0, 4001)
    h = ys - _tanh(theta * ys + x)
    roots = [float(ys[i]) for i in np.flatnonzero(h == 0)]
    for i in np.flatnonzero(h[:-1] * h[1:] < 0):
        roots.append(brentq(lambda y: y - math.tanh(theta * y + x), ys[i], ys[i + 1], xtol=1e-15, rtol=1e-15))
    roots = sorted(roots)
    return [(y, theta * (1 - math.tanh(theta * y + x) ** 2)) for y in roots]


def iterate(theta, x, y0, iterations):
    """The iterates y₀, y₁ = g(y₀), …, as a float array."""
    ys = [float(y0)]
    for _ in range(iterations):
        ys.append(math.tanh(theta * ys[-1] + x))
    return np.array(ys)


# ============================================================================
# Shared helpers of the checks
# ============================================================================
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


class _TookTooLong(Exception):
    pass


@contextmanager
def _time_limit(seconds):
    """Interrupt the student's code after `seconds` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def stop(*_):
        raise _TookTooLong(f"still running after {seconds:g} s")
    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _call(student, args, what, inputs, seconds=20.0):
    """The student's result, or a CheckFailure that names the input if the code raised."""
    try:
        with _time_limit(seconds):
            return student(*args)
    except NotImplementedError as err:
        raise CheckFailure(what, inputs=inputs, got=f"NotImplementedError: {err}",
                           hint="this task is not done yet: replace `raise NotImplementedError()` "
                                "with your code") from None
    except _TookTooLong:
        raise CheckFailure(what, inputs=inputs, got=f"no answer after {seconds:g} s",
                           hint="your code did not finish: does your loop stop when the iterates "
                                "stop changing, and after max_iter iterations at the latest?") from None
    except Exception as err:  # the student's bug, reported on its input
        raise CheckFailure(what, inputs=inputs, got=f"{type(err).__name__}: {err}",
                           hint="your code raised an exception on this input") from None


def _floats(got):
    """The student's answer as a float array, or None if it is not numeric."""
    if isinstance(got, (_Raised, _Tracer)):
        return None
    try:
        return _asarray(got, dtype=float)
    except (TypeError, ValueError):
        return None


def _same(got, target, rtol=1e-7, atol=1e-12):
    g, t = _floats(got), _asarray(target, dtype=float)
    return g is not None and g.shape == t.shape and is_close(g, t, rtol, atol)


def _relative_error(got, expected):
    g, e = _floats(got), _asarray(expected, dtype=float)
    if g is None or g.shape != e.shape:
        return math.inf
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    return float(np.max(np.abs(g - e))) / scale if scale > 0 else float(np.max(np.abs(g - e)))


def _match(got, variants):
    """The message of the first (target, message) pair that `got` equals, or None."""
    for target, message in variants:
        if target is not None and _same(got, target):
            return message
    return None


_SLIGHTLY_OFF = ("close, but not within the tolerance (relative error {err:.1e}). Did you "
                 "differentiate through a finite number of iterations, or stop an iteration too "
                 "early? The derivative of the iterates converges more slowly than the iterates "
                 "themselves; the implicit function theorem at the converged y* is exact.")


# ============================================================================
# Task 6.1: dy*/dθ and dy*/dx of y = tanh(θy + x) by the implicit function theorem
# ============================================================================
def _all_branches(theta, x):
    """Fixed points of y = tanh(θy + x) where the IFT is well conditioned (|1 − g′| ≥ 0.05)."""
    return [y for y, slope in fixed_points(theta, x) if abs(1 - slope) >= 0.05]


def _ift_cases(seed, count):
    if seed == VISIBLE_SEED:
        picks = [(0.5, 0.3), (0.0, 0.7), (-0.8, 0.5), (0.9, -0.2), (2.0, 0.5), (-3.0, 0.2)]
    else:
        rng = numpy.random.default_rng(seed)
        picks = [(round(float(rng.uniform(-3, 3)), 2), round(float(rng.uniform(-1.5, 1.5)), 2))
                 for _ in range(count)] + [(1.5, 0.0), (2.5, -0.3), (-2.0, -0.4)]
    cases = []
    for theta, x in picks:
        for y in _all_branches(theta, x):
            cases.append((float(theta), float(x), float(y)))
    return cases


def _ift_reference(theta, x, y):
    """(dy*/dθ, dy*/dx) from autodiff_ref: reverse mode through fixed_point (Newton from y*)."""
    d = _grad(lambda th, xx: _fixed_point(tanh_layer, y, th, xx, method="newton", tol=1e-13),
              argnums=(0, 1))(theta, x)
    return float(d[0]), float(d[1])


def _ift_variants(theta, x, y):
    """Answers that known mistakes give, keyed by which derivative they imitate."""
    s = 1 - math.tanh(theta * y + x) ** 2
    t = math.tanh(theta * y + x)
    sech = 1 / math.cosh(theta * y + x)
    d_theta, d_x, d_y = s * y, s, theta * s
    one = dict(
        no_denominator=(d_theta, d_x),
        plus=(d_theta / (1 + d_y), d_x / (1 + d_y)),
        sign=(-d_theta / (1 - d_y), -d_x / (1 - d_y)),
        tanh=(t * y / (1 - theta * t), t / (1 - theta * t)),
        sech=(sech * y / (1 - theta * sech), sech / (1 - theta * sech)),
        inverse=((1 - d_y) / d_theta if d_theta else None, (1 - d_y) / d_x),
        only_denominator=(1 / (1 - d_y), 1 / (1 - d_y)),
        theta_for_y=(s * theta / (1 - d_y), None),
    )
    return one


_IFT_CASES = {seed: _ift_cases(seed, n) for seed, n in ((VISIBLE_SEED, 0), (HIDDEN_SEED, 12))}
_IFT_TABLE = {seed: {case: _ift_reference(*case) for case in cases} for seed, cases in _IFT_CASES.items()}


def _ift_hint(index, name, other_name):
    def hint(case, expected, got):
        theta, x, y = case
        v = _ift_variants(theta, x, y)
        g = _floats(got)
        if g is None or g.shape != ():
            return f"return one number for {name}"
        swapped = _IFT_TABLE_ALL[case][1 - index]
        messages = [
            (swapped, f"that is {other_name}: the two derivatives are swapped — return "
                      "(dy/dθ, dy/dx) in that order"),
            (v["no_denominator"][index], f"that is ∂g/∂{name[-1]} alone, the explicit dependence. y* "
                                         "moves too, and g depends on y*: divide by 1 − ∂g/∂y"),
            (v["plus"][index], "you divided by 1 + ∂g/∂y; differentiating y = g(y, θ, x) gives "
                               "dy = ∂g/∂y·dy + ∂g/∂θ·dθ, so the factor is (1 − ∂g/∂y)"),
            (v["sign"][index], "the sign is flipped: for a fixed point dy*/dθ = (∂g/∂θ)/(1 − ∂g/∂y). "
                               "(From the root formula −(∂F/∂y)⁻¹∂F/∂θ with F = y − g: ∂F/∂y = "
                               "1 − ∂g/∂y and ∂F/∂θ = −∂g/∂θ, so the two minus signs cancel.)"),
            (v["tanh"][index], "you used tanh where its derivative belongs: d tanh(u)/du = "
                               "sech²(u) = 1 − tanh²(u)"),
            (v["sech"][index], "you used sech(u); the derivative of tanh(u) is sech²(u) = 1 − tanh²(u)"),
            (v["inverse"][index], "that is the reciprocal: the ratio is (∂g/∂·)/(1 − ∂g/∂y)"),
            (v["only_denominator"][index], "that is only 1/(1 − ∂g/∂y): multiply by the explicit "
                                           f"derivative ∂g/∂{name[-1]}"),
            (v["theta_for_y"][index], "∂g/∂θ of tanh(θy + x) is sech²(θy + x)·y (the factor is y, "
                                      "not θ)"),
        ]
        found = _match(got, messages)
        if found:
            return found
        err = _relative_error(got, expected)
        if err < 1e-2:
            return _SLIGHTLY_OFF.format(err=err)
        return (f"{name} = (∂g/∂{name[-1]}) / (1 − ∂g/∂y) at the given fixed point y, with "
                "∂g/∂y = θ·sech²(θy + x). Use the y you are given: at θ = 2, x = 0.5 there are "
                "two stable fixed points with different derivatives")
    return hint


_IFT_TABLE_ALL = {case: value for table in _IFT_TABLE.values() for case, value in table.items()}


def _check_ift(ift_derivatives, index, hidden):
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    name, other = ("dy/dθ", "dy/dx") if index == 0 else ("dy/dx", "dy/dθ")
    what = f"ift_derivatives(theta, x, y)[{index}], that is {name}"
    hint = _ift_hint(index, name, other)
    rtol, atol = TOLERANCES["solver"]
    for case in _IFT_CASES[seed]:
        theta, x, y = case
        inputs = dict(theta=theta, x=x, y=y)
        got = _call(ift_derivatives, case, what, inputs)
        if isinstance(got, _Tracer) or not hasattr(got, "__len__") or len(got) != 2:
            raise CheckFailure(what, inputs=inputs, expected="a pair (dy/dθ, dy/dx)", got=got,
                               hint="return two numbers, (dy/dθ, dy/dx)")
        expected = _IFT_TABLE[seed][case][index]
        if not is_close(got[index], expected, rtol, atol):
            raise CheckFailure(what, inputs=inputs, expected=expected, got=got[index],
                               hint=hint(case, expected, got[index]))
    return len(_IFT_CASES[seed])


def check_dy_dtheta(ift_derivatives, *, hidden=False):
    """Task 6.1: the first item of ``ift_derivatives(theta, x, y)`` is dy*/dθ."""
    n = _check_ift(ift_derivatives, 0, hidden)
    passed("dy/dθ matches autodiff_ref.fixed_point's implicit derivative", n)


def check_dy_dx(ift_derivatives, *, hidden=False):
    """Task 6.1: the second item of ``ift_derivatives(theta, x, y)`` is dy*/dx."""
    n = _check_ift(ift_derivatives, 1, hidden)
    passed("dy/dx matches autodiff_ref.fixed_point's implicit derivative", n)


# ============================================================================
# Problems for Tasks 6.2 and 6.3: a g, its fixed point, its parameters
# ============================================================================
def _scaled_deq(z, W, b, s):
    return _tanh(s * (W @ z) + b)


def _contraction(z, A, b):
    r"""g(z, A, b) = ½·A·sin(z) + b: not a tanh, so ∂g/∂y = ½·A·diag(cos z)."""
    return 0.5 * (A @ np.sin(z)) + b


def _batched_deq(Z, W, X):
    """Z = tanh(WZ + X) with a batch of k columns: y is an n×k matrix."""
    return _tanh(W @ Z + X)


def _matrix(rng, n, norm):
    W = rng.normal(size=(n, n))
    return W * (norm / _norm2(W, 2))


class Problem:
    """g, its fixed point y* (solved by Newton to 1e-13) and its parameters."""

    def __init__(self, name, g, y0, params):
        self.name, self.g = name, _Named(name, g)
        self.params = tuple(params)
        self.y_star = _fixed_point(g, y0, *self.params, method="newton", tol=1e-13)
        n = int(np.size(self.y_star))
        shape = np.shape(self.y_star)
        J = _jacfwd(lambda y: g(y, *self.params))(self.y_star)
        self.J = _asarray(J, dtype=float).reshape(n, n)
        self.shape = shape

    def __repr__(self):
        return self.name

    def solve_flat(self, matrix, rhs):
        return _solve(matrix, _asarray(rhs, dtype=float).reshape(-1)).reshape(self.shape)

    def adjoint(self, ybar, transpose=True, sign=-1):
        """u with (I + sign·Jᵀ)u = ȳ (sign = −1 is the right one; transpose=False uses J)."""
        J = self.J.T if transpose else self.J
        u = self.solve_flat(_eye(len(J)) + sign * J, ybar)
        return float(u) if self.shape == () else u

    def param_pullback(self, u):
        """(∂g/∂θ)ᵀu for every parameter θ, by autodiff_ref."""
        _, pullback = _vjp(lambda *p: self.g(self.y_star, *p), *self.params)
        return tuple(_out(c) for c in pullback(u))


def _out(c):
    c = _asarray(c, dtype=float)
    return float(c) if c.shape == () else c


def _problems(seed, hidden):
    rng = numpy.random.default_rng(seed)
    probs = [Problem("tanh(θ·y + x), scalar y", tanh_layer, 0.0, (0.8, 0.3))]
    for n, norm in ((3, 0.8), (6, 0.9)) if not hidden else ((4, 0.85), (8, 0.9), (12, 0.95)):
        W = _matrix(rng, n, norm)
        probs.append(Problem(f"tanh(W z + x), n = {n}, ‖W‖₂ = {norm}", deq_layer, _zeros(n),
                             (W, rng.normal(size=n))))
    n = 4 if not hidden else 5
    probs.append(Problem(f"½·A·sin(z) + b, n = {n}", _contraction, _zeros(n),
                         (_matrix(rng, n, 1.6), rng.normal(size=n))))
    probs.append(Problem("tanh(s·(W z) + b), n = 3, three parameters", _scaled_deq, _zeros(3),
                         (_matrix(rng, 3, 0.7), rng.normal(size=3), 1.2)))
    if hidden:
        probs.append(Problem("tanh(W Z + X), Z a 4×3 batch", _batched_deq, _zeros((4, 3)),
                             (_matrix(rng, 4, 0.8), rng.normal(size=(4, 3)))))
        probs.append(Problem("tanh(θ·y + x), scalar y, θ = −0.9", tanh_layer, 0.0, (-0.9, 0.6)))
    return probs


_PROBLEMS = {seed: _problems(seed, seed == HIDDEN_SEED) for seed in (VISIBLE_SEED, HIDDEN_SEED)}


def _cotangent(problem, rng):
    ybar = rng.normal(size=problem.shape)
    return float(ybar) if problem.shape == () else ybar


def _adjoint_cases(seed):
    rng = numpy.random.default_rng(seed + 1)
    return [(p, _cotangent(p, rng)) for p in _PROBLEMS[seed]]


_ADJOINT_CASES = {seed: _adjoint_cases(seed) for seed in _PROBLEMS}
_ADJOINT_TABLE = {seed: [p.adjoint(ybar) for p, ybar in cases] for seed, cases in _ADJOINT_CASES.items()}


# ============================================================================
# Task 6.2: the adjoint solve (I − ∂g/∂y)ᵀu = ȳ by iteration
# ============================================================================
def _adjoint_variants(problem, ybar):
    J = problem.J
    flat = _asarray(ybar, dtype=float).reshape(-1)
    shaped = lambda v: float(v[0]) if problem.shape == () else v.reshape(problem.shape)  # noqa: E731
    symmetric = bool(np.allclose(J, J.T))
    return [
        (None if symmetric else problem.adjoint(ybar, transpose=False),
         "that solves (I − ∂g/∂y)u = ȳ: the adjoint system has the transpose, (I − ∂g/∂y)ᵀu = ȳ. "
         "Iterate with the VJP, u ← ȳ + pullback(u), not with a JVP ∂g/∂y·u"),
        (problem.adjoint(ybar, sign=+1),
         "that solves (I + ∂g/∂y)ᵀu = ȳ: the iteration is u ← ȳ + (∂g/∂y)ᵀu, with a plus sign, "
         "because u = ȳ + Jᵀu is the same as (I − Jᵀ)u = ȳ"),
        (None if symmetric else problem.adjoint(ybar, transpose=False, sign=+1),
         "that solves (I + ∂g/∂y)u = ȳ: two slips — use the VJP (the transpose) and a plus sign "
         "in u ← ȳ + (∂g/∂y)ᵀu"),
        (ybar, "that is ȳ itself: iterate u ← ȳ + (∂g/∂y)ᵀu until u stops changing"),
        (shaped(J.T @ flat), "that is (∂g/∂y)ᵀȳ, one VJP: iterate u ← ȳ + (∂g/∂y)ᵀu until u stops "
                             "changing"),
        (shaped(flat + J.T @ flat), "that is ȳ + (∂g/∂y)ᵀȳ, the result of a single iteration: "
                                    "keep iterating until u stops changing"),
        (shaped(flat - J.T @ flat), "that is (I − ∂g/∂y)ᵀȳ: you multiplied by the matrix; the "
                                    "adjoint solves (I − ∂g/∂y)ᵀu = ȳ for u"),
        (-_asarray(problem.adjoint(ybar)), "the sign is flipped: u solves (I − ∂g/∂y)ᵀu = +ȳ"),
    ]


def _adjoint_hint(problem, ybar, expected, got):
    if isinstance(got, _Tracer):
        return "you returned a traced value: return plain numbers (pullback(u)[0] is one)"
    g = _floats(got)
    if g is None or g.shape != np.shape(expected):
        return f"return u shaped like ȳ, {np.shape(expected)}; got shape " \
               f"{None if g is None else g.shape}"
    found = _match(got, _adjoint_variants(problem, ybar))
    if found:
        return found
    err = _relative_error(got, expected)
    if err < 1e-2:
        return (f"close, but not within the tolerance (relative error {err:.1e}): iterate until the "
                "change is below rtol·max|u| — a relative test, so it works whatever the size of ȳ")
    return "iterate u ← ȳ + (∂g/∂y)ᵀu with the pullback of vjp(lambda y: g(y, *params), y_star)"


def check_adjoint_solve(adjoint_solve, *, hidden=False):
    """Task 6.2: ``adjoint_solve(g, y_star, params, ybar)`` solves (I − ∂g/∂y)ᵀu = ȳ."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "adjoint_solve(g, y_star, params, ybar)"
    rtol, atol = TOLERANCES["solver"]
    for (problem, ybar), expected in zip(_ADJOINT_CASES[seed], _ADJOINT_TABLE[seed]):
        inputs = dict(g=problem, ybar=ybar)
        got = _call(adjoint_solve, (problem.g, _copy(problem.y_star), problem.params, _copy(ybar)),
                    what, inputs)
        values = _floats(got)
        if values is None or not is_close(values, expected, rtol,
                                          atol * max(1.0, float(np.max(np.abs(expected))))):
            raise CheckFailure(what, inputs=inputs, expected=expected, got=got,
                               hint=_adjoint_hint(problem, ybar, expected, got))
    passed("adjoint_solve matches the dense solve of (I − ∂g/∂y)ᵀu = ȳ", len(_ADJOINT_CASES[seed]))


def _copy(v):
    return v.copy() if isinstance(v, numpy.ndarray) else v


def _divergent_problem():
    """y* = 0 is a fixed point of tanh(Wz) with ∂g/∂y = W, spectral radius 1.5: the iteration diverges."""
    rng = numpy.random.default_rng(3)
    Q, _ = _qr(rng.normal(size=(4, 4)))
    W = Q @ np.diag([1.5, -1.2, 0.6, 0.3]) @ Q.T + 0.0
    problem = Problem("tanh(W z + x), x = 0, spectral radius of ∂g/∂y 1.5", deq_layer, _zeros(4),
                      (W, _zeros(4)))
    return problem, rng.normal(size=4)


_DIVERGENT = _divergent_problem()
_DIVERGENT_ANSWER = _DIVERGENT[0].adjoint(_DIVERGENT[1])


def _edge_cases(seed):
    """(label, problem, ȳ) with ȳ = 0, ȳ of size 1e-9 and of size 1e6."""
    rng = numpy.random.default_rng(seed + 2)
    probs = [p for p in _PROBLEMS[seed] if p.shape != ()]
    out = []
    for k, p in enumerate(probs[:2] if seed == VISIBLE_SEED else probs):
        base = _cotangent(p, rng)
        out.append(("ȳ = 0", p, base * 0.0))
        out.append(("ȳ of size 1e-9", p, base * 1e-9))
        out.append(("ȳ of size 1e6", p, base * 1e6))
    return out


_EDGE_CASES = {seed: _edge_cases(seed) for seed in _PROBLEMS}
_EDGE_TABLE = {seed: [p.adjoint(ybar) for _, p, ybar in cases] for seed, cases in _EDGE_CASES.items()}


def check_adjoint_solve_edges(adjoint_solve, *, hidden=False):
    """Task 6.2: ȳ = 0, ȳ tiny and huge (a relative stopping test), ȳ left unchanged,
    and an error (not a silent answer) when the iteration diverges."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "adjoint_solve(g, y_star, params, ybar)"
    rtol, atol = TOLERANCES["solver"]
    for (label, problem, ybar), expected in zip(_EDGE_CASES[seed], _EDGE_TABLE[seed]):
        inputs = dict(g=problem, ybar=label)
        given = ybar.copy()
        got = _call(adjoint_solve, (problem.g, problem.y_star.copy(), problem.params, given), what,
                    inputs, seconds=10.0)
        if not np.array_equal(given, ybar):
            raise CheckFailure(what, inputs=inputs, expected="ȳ left unchanged",
                               got="ȳ was changed in place",
                               hint="`u = ybar` makes u a second name for the same array, and "
                                    "`u += …` then changes ȳ too; start from `u = ybar.copy()` or "
                                    "write `u = ybar + …`")
        scale = float(np.max(np.abs(expected)))
        if not is_close(got, expected, rtol, atol * scale):
            if label == "ȳ = 0":
                hint = "with ȳ = 0 the answer is u = 0 (and the loop should stop at once)"
            elif label == "ȳ of size 1e-9" and _relative_error(got, expected) < 0.5:
                hint = ("your stopping test does not scale with ȳ: an absolute tolerance that suits y "
                        "(of size 1) stops the adjoint iteration long before a tiny u has converged. "
                        "Do not reuse the forward solve's tolerance; stop when "
                        "max|Δu| ≤ rtol·max|u|")
            else:
                hint = _adjoint_hint(problem, ybar, expected, got)
            raise CheckFailure(what, inputs=inputs, expected=expected, got=got, hint=hint)
    problem, ybar = _DIVERGENT
    inputs = dict(g=problem, ybar=ybar, max_iter=200)
    try:
        with _time_limit(5.0):
            got = adjoint_solve(problem.g, problem.y_star.copy(), problem.params, ybar.copy(),
                                max_iter=200)
    except NotImplementedError as err:
        raise CheckFailure(what, inputs=inputs, got=f"NotImplementedError: {err}",
                           hint="this task is not done yet") from None
    except _TookTooLong:
        raise CheckFailure(what, inputs=inputs, expected="an exception after 200 iterations",
                           got="no answer after 5 s",
                           hint="the iteration diverges here; stop after max_iter iterations and "
                                "raise an error") from None
    except Exception:  # the right reaction: it does not converge, so say so
        got = None
    if got is not None and not _same(got, _DIVERGENT_ANSWER, 1e-8, 1e-10):
        raise CheckFailure(what, inputs=inputs, expected="an exception: the iteration diverges",
                           got=got, hint="(∂g/∂y)ᵀ has an eigenvalue 1.5 here, so u ← ȳ + (∂g/∂y)ᵀu "
                                         "blows up. Never return an unconverged u silently: raise "
                                         "an error after max_iter iterations")
    passed("adjoint_solve handles ȳ = 0, tiny and huge ȳ, leaves ȳ alone and reports divergence",
           len(_EDGE_CASES[seed]) + 1)


# ============================================================================
# Task 6.3: the VJP of the fixed point with respect to the parameters
# ============================================================================
def _vjp_reference(problem, ybar):
    """autodiff_ref's VJP of y*(θ) = fixed_point(g, …, θ) (Newton from y*, IFT rule)."""
    _, pullback = _vjp(lambda *p: _fixed_point(problem.g, problem.y_star, *p, method="newton",
                                               tol=1e-13), *problem.params)
    return tuple(_out(c) for c in pullback(ybar))


def _vjp_cases(seed):
    rng = numpy.random.default_rng(seed + 3)
    return [(p, _cotangent(p, rng)) for p in _PROBLEMS[seed]]


_VJP_CASES = {seed: _vjp_cases(seed) for seed in _PROBLEMS}
_VJP_TABLE = {seed: [_vjp_reference(p, ybar) for p, ybar in cases] for seed, cases in _VJP_CASES.items()}


def _vjp_variants(problem, ybar):
    u = problem.adjoint(ybar)
    out = [
        (problem.param_pullback(ybar),
         "that is (∂g/∂θ)ᵀȳ: you skipped the adjoint solve. y* moves with θ through g's dependence "
         "on y as well: first solve (I − ∂g/∂y)ᵀu = ȳ (your adjoint_solve), then return (∂g/∂θ)ᵀu"),
        (tuple(-c for c in problem.param_pullback(u)),
         "the sign is flipped: θ̄ = +(∂g/∂θ)ᵀu for a fixed point (−(∂F/∂θ)ᵀu with F = y − g, and "
         "∂F/∂θ = −∂g/∂θ)"),
        (problem.param_pullback(problem.adjoint(ybar, sign=+1)),
         "that uses (I + ∂g/∂y): the adjoint system is (I − ∂g/∂y)ᵀu = ȳ"),
    ]
    if not np.allclose(problem.J, problem.J.T):
        out.append((problem.param_pullback(problem.adjoint(ybar, transpose=False)),
                    "transposed wrongly: that u solves (I − ∂g/∂y)u = ȳ; the adjoint has the "
                    "transpose (I − ∂g/∂y)ᵀu = ȳ — iterate with VJPs"))
    return out


def _same_tuple(got, target, rtol=1e-7):
    return isinstance(got, (tuple, list)) and len(got) == len(target) and all(
        _same(a, b, rtol, 1e-12) for a, b in zip(got, target))


def _check_vjp_structure(got, problem, what, inputs):
    k = len(problem.params)
    if isinstance(got, _Tracer) or not isinstance(got, (tuple, list)):
        raise CheckFailure(what, inputs=inputs, expected=f"a tuple of {k} cotangents, one per parameter",
                           got=got, hint="return a tuple: one cotangent per entry of params, in order "
                                         "(the pullback of vjp already returns one)")
    if len(got) != k:
        raise CheckFailure(what, inputs=inputs, expected=f"a tuple of {k} cotangents", got=got,
                           hint=f"params has {k} entries, so return {k} cotangents (the fixed point "
                                "does not depend on y0, so there is none for it)")
    for i, (c, p) in enumerate(zip(got, problem.params)):
        shape = np.shape(p)
        if isinstance(c, _Tracer) or _floats(c) is None or _floats(c).shape != shape:
            raise CheckFailure(what, inputs=inputs, expected=f"cotangent {i} shaped like params[{i}], "
                                                             f"{shape}", got=c,
                               hint="each cotangent has the shape of its parameter")


def check_fixed_point_vjp(fixed_point_vjp, *, hidden=False):
    """Task 6.3: ``fixed_point_vjp(g, y_star, params, ybar)`` equals autodiff_ref's VJP of fixed_point."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "fixed_point_vjp(g, y_star, params, ybar)"
    rtol, atol = TOLERANCES["solver"]
    for (problem, ybar), expected in zip(_VJP_CASES[seed], _VJP_TABLE[seed]):
        inputs = dict(g=problem, ybar=ybar)
        got = _call(fixed_point_vjp, (problem.g, _copy(problem.y_star), problem.params, _copy(ybar)),
                    what, inputs)
        _check_vjp_structure(got, problem, what, inputs)
        scale = max(float(np.max(np.abs(e))) for e in expected)
        for i, (c, e) in enumerate(zip(got, expected)):
            if not is_close(c, e, rtol, atol * max(1.0, scale)):
                found = next((msg for target, msg in _vjp_variants(problem, ybar)
                              if _same_tuple(got, target)), None)
                if found is None:
                    err = _relative_error(c, e)
                    found = (_SLIGHTLY_OFF.format(err=err) if err < 1e-2 else
                             "θ̄ = (∂g/∂θ)ᵀu with u from adjoint_solve(g, y_star, params, ybar): a "
                             "VJP of θ ↦ g(y_star, θ) at the fixed point")
                raise CheckFailure(what + f", cotangent of params[{i}]", inputs=inputs, expected=e,
                                   got=c, hint=found)
    passed("fixed_point_vjp matches autodiff_ref's implicit VJP", len(_VJP_CASES[seed]))


def _loss_along(problem, ybar, direction, h):
    """⟨ȳ, y*(θ + h·v)⟩, the fixed point re-solved by Newton to 1e-13."""
    params = tuple(p + h * d for p, d in zip(problem.params, direction))
    y = _fixed_point(problem.g, problem.y_star, *params, method="newton", tol=1e-13)
    return float(np.sum(_asarray(ybar) * _asarray(y)))


def _fd_cases(seed):
    rng = numpy.random.default_rng(seed + 4)
    cases = []
    for problem in _PROBLEMS[seed]:
        ybar = _cotangent(problem, rng)
        direction = tuple(_out(rng.normal(size=np.shape(p))) for p in problem.params)
        h = 1e-5
        fd = (_loss_along(problem, ybar, direction, h) - _loss_along(problem, ybar, direction, -h)) / (2 * h)
        cases.append((problem, ybar, direction, fd))
    return cases


_FD_CASES = {seed: _fd_cases(seed) for seed in _PROBLEMS}


def check_fixed_point_vjp_fd(fixed_point_vjp, *, hidden=False):
    """Task 6.3: ⟨θ̄, v⟩ from ``fixed_point_vjp`` equals a central difference of ⟨ȳ, y*(θ + hv)⟩."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "⟨fixed_point_vjp(g, y_star, params, ybar), v⟩ against central differences"
    rtol, atol = TOLERANCES["numerical"]
    for problem, ybar, direction, fd in _FD_CASES[seed]:
        inputs = dict(g=problem, ybar=ybar, v=direction)
        got = _call(fixed_point_vjp, (problem.g, _copy(problem.y_star), problem.params, _copy(ybar)),
                    what, inputs)
        _check_vjp_structure(got, problem, what, inputs)
        value = float(sum(np.sum(_asarray(c, dtype=float) * _asarray(d)) for c, d in zip(got, direction)))
        if not is_close(value, fd, rtol, atol):
            found = next((msg for target, msg in _vjp_variants(problem, ybar) if _same_tuple(got, target)),
                         "the directional derivative (y*(θ + hv) − y*(θ − hv))/2h, projected on ȳ, "
                         "disagrees with your θ̄ — see the check above")
            raise CheckFailure(what, inputs=inputs, expected=fd, got=value, hint=found)
    passed("fixed_point_vjp agrees with central differences of re-solved fixed points", len(_FD_CASES[seed]))


# ============================================================================
# Figures: the cobweb plot and its widget
# ============================================================================
BLUE, ORANGE, GREEN, RED, VIOLET, GREY = "#1971c2", "#e8590c", "#2b8a3e", "#c92a2a", "#5f3dc4", "#868e96"


def _verdict(ys, theta, x):
    """What the iteration did: ('converged', y*, k) / ('cycle', (a, b), None) / ('slow', y*, None)."""
    steps = np.abs(np.diff(ys))
    done = np.flatnonzero(steps <= 1e-12 * (1 + np.abs(ys[1:])))
    points = fixed_points(theta, x)
    if done.size:
        k = int(done[0]) + 1
        return "converged", ys[k], k
    if len(ys) > 4 and abs(ys[-1] - ys[-3]) < 1e-6 and abs(ys[-1] - ys[-2]) > 1e-3:
        return "cycle", (ys[-1], ys[-2]), None
    nearest = min(points, key=lambda p: abs(p[0] - ys[-1]))[0]
    return "slow", nearest, None


def _minus(value, spec):
    """`value` formatted with `spec`, with a typographic minus sign."""
    return format(value, spec).replace("-", "−")


def _formula(theta, x):
    sign = "+" if x >= 0 else "−"
    return f"tanh({theta:g}·y {sign} {abs(x):g})".replace("-", "−")


def plot_cobweb(theta=0.5, x=0.3, y0=0.0, iterations=30, axes=None):
    """Left: g(y) = tanh(θy + x), the diagonal and the cobweb of y ← g(y) from y0.
    Right: the step |y_{k+1} − y_k| against k, with the rate |g′(y*)|^k predicted by the slope."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 5.6), gridspec_kw={"width_ratios": [1, 1.15]})
    ax, ax2 = axes
    ys = iterate(theta, x, y0, iterations)
    points = fixed_points(theta, x)
    grid = np.linspace(-1.15, 1.15, 400)
    ax.plot(grid, grid, color=GREY, lw=1, ls="--", label="the diagonal g(y) = y")
    ax.plot(grid, _tanh(theta * grid + x), color=BLUE, lw=2.2, label=f"g(y) = {_formula(theta, x)}")
    # the cobweb: up to the curve, across to the diagonal
    px, py = [ys[0]], [ys[0]]
    for a, b in zip(ys[:-1], ys[1:]):
        px += [a, b]
        py += [b, b]
    shown = min(len(px), 2 * 60 + 1)
    ax.plot(px[:shown], py[:shown], color=ORANGE, lw=1.1, alpha=0.9, label="iteration y ← g(y)")
    ax.plot([ys[0]], [ys[0]], "s", color="black", ms=6, label=f"start y₀ = {y0:g}".replace("-", "−"))
    kinds = {"attracts": (GREEN, GREEN, "|g′(y*)| < 1: attracts"),
             "neutral": (ORANGE, ORANGE, "|g′(y*)| = 1: sublinear at best"),
             "repels": ("white", RED, "|g′(y*)| > 1: repels")}
    seen = set()
    for y, slope in points:
        kind = "neutral" if abs(abs(slope) - 1) < 1e-9 else "attracts" if abs(slope) < 1 else "repels"
        face, edge, _ = kinds[kind]
        ax.plot([y], [y], "o", ms=9, mfc=face, mec=edge, mew=2, zorder=5)
        ax.annotate(f"g′ = {slope:+.2f}".replace("-", "−"), (y, y), textcoords="offset points",
                    xytext=(8, -14), fontsize=8.5, color=edge if kind != "repels" else RED)
        seen.add(kind)
    for kind in ("attracts", "neutral", "repels"):
        if kind in seen:
            face, edge, label = kinds[kind]
            ax.plot([], [], "o", ms=8, mfc=face, mec=edge, mew=2, label="fixed point, " + label)
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.set_aspect("equal")
    ax.set_xlabel("y")
    ax.set_ylabel("g(y)")
    ax.grid(alpha=0.2)
    ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False,
              handlelength=1.8, columnspacing=1.2)

    kind, where, k = _verdict(ys, theta, x)
    if kind == "converged":
        rate = abs(theta * (1 - math.tanh(theta * where + x) ** 2))
        title = f"converged to y* = {_minus(where, '.6f')} in {k} iterations"
    elif kind == "cycle":
        rate = None
        title = f"no convergence: a 2-cycle between {_minus(min(where), '+.4f')} and {_minus(max(where), '+.4f')}"
    else:
        rate = abs(theta * (1 - math.tanh(theta * where + x) ** 2))
        title = f"not converged after {iterations} iterations (nearest y* = {_minus(where, '+.4f')})"
    ax.set_title(title, fontsize=10.5)

    steps = np.abs(np.diff(ys))
    ks = np.arange(len(steps))
    floor = 1e-17
    ax2.semilogy(ks, np.maximum(steps, floor), "o-", color=ORANGE, ms=3, lw=1.4,
                 label=r"step $|y_{k+1} - y_k|$")
    last = int(np.flatnonzero(steps > 1e-15)[-1]) if np.any(steps > 1e-15) else 0
    if rate is not None and rate > 0 and steps[last] > 0:
        ref = steps[last] * np.exp((ks - last) * math.log(rate))
        ax2.semilogy(ks, np.maximum(ref, floor), "--", color=VIOLET, lw=1.4,
                     label=rf"$|g'(y^*)|^k$ with $|g'(y^*)|$ = {rate:.3f}")
    ax2.axhline(1e-10, color=GREY, lw=0.8, ls=":")
    ax2.text(0.99, 1e-10, "1e-10 ", ha="right", va="bottom", fontsize=8, color=GREY,
             transform=ax2.get_yaxis_transform())
    ax2.set_ylim(1e-17, 10)
    ax2.set_xlabel("iteration k")
    ax2.set_ylabel("step size")
    if rate is None:
        ax2.set_title("the steps never shrink: |g′(y*)| > 1 at the only fixed point", fontsize=10.5)
    elif rate >= 1 - 1e-9:
        ax2.set_title(f"|g′(y*)| = {rate:.3f}: no linear rate, steps shrink like a power of k",
                      fontsize=10.5)
    else:
        ax2.set_title(f"linear convergence: each step ≈ {rate:.3f} × the one before", fontsize=10.5)
    ax2.grid(True, which="major", alpha=0.25)
    ax2.legend(fontsize=9, loc="upper right")
    return axes


def cobweb_widget():
    """Sliders for θ, x, the start y₀ and the number of iterations."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(theta, x, y0, iterations):
        plot_cobweb(theta, x, y0, iterations)
        plt.tight_layout()
        plt.show()

    style = {"description_width": "initial"}
    controls = dict(
        theta=widgets.FloatSlider(value=0.5, min=-3.0, max=3.0, step=0.05, description="θ",
                                  continuous_update=False, style=style),
        x=widgets.FloatSlider(value=0.3, min=-1.5, max=1.5, step=0.05, description="x",
                              continuous_update=False, style=style),
        y0=widgets.FloatSlider(value=0.0, min=-1.0, max=1.0, step=0.05, description="start y₀",
                               continuous_update=False, style=style),
        iterations=widgets.IntSlider(value=40, min=5, max=300, step=5, description="iterations",
                                     continuous_update=False, style=style),
    )
    out = widgets.interactive_output(draw, controls)
    ui = widgets.VBox([widgets.HBox([controls["theta"], controls["x"]]),
                       widgets.HBox([controls["y0"], controls["iterations"]])])
    return widgets.VBox([ui, out])


def plot_branches(ift_derivatives, theta=2.0, xs=(-1.2, -0.75, -0.3, 0.0, 0.3, 0.75, 1.2), ax=None):
    """Every fixed point of y = tanh(θy + x) as x varies — the curve x = artanh(y) − θy — with
    short tangents of slope dy/dx from ``ift_derivatives(theta, x, y)`` at the points of `xs`."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(7.6, 4.6))
    y = np.linspace(-0.995, 0.995, 2001)
    x_of_y = np.arctanh(y) - theta * y
    slope_g = theta * (1 - y * y)                # g′(y*) along the curve
    stable = np.abs(slope_g) < 1
    for mask, style, label in ((stable, dict(color=BLUE, lw=4, alpha=0.35), "attracting: |g′(y*)| < 1"),
                               (~stable, dict(color=RED, lw=4, alpha=0.3), "repelling: |g′(y*)| > 1")):
        xs_masked = np.where(mask, x_of_y, np.nan)
        ax.plot(xs_masked, y, label=label, **style)
    if theta > 1:
        y_fold = math.sqrt(1 - 1 / theta)
        for yf in (y_fold, -y_fold):
            xf = math.atanh(yf) - theta * yf
            ax.plot([xf], [yf], "X", color="black", ms=8, zorder=6)
            ax.annotate(f"fold: x = {xf:+.3f}".replace("-", "−"), (xf, yf), textcoords="offset points",
                        xytext=(10, -4) if yf < 0 else (-100, -4), fontsize=8.5)
        ax.plot([], [], "X", color="black", ms=8, label="1 − g′(y*) = 0: dy*/dx infinite")
    first = True
    for x in xs:
        for y_star, _ in fixed_points(theta, x):
            slope = float(ift_derivatives(theta, x, y_star)[1])
            dx = 0.2 / math.sqrt(1 + slope * slope)
            ax.plot([x - dx, x + dx], [y_star - slope * dx, y_star + slope * dx], color=ORANGE, lw=1.8,
                    solid_capstyle="round", zorder=5, label="slope dy*/dx from your ift_derivatives"
                    if first else None)
            ax.plot([x], [y_star], "o", color=ORANGE, ms=5, zorder=6)
            first = False
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.08, 1.08)
    ax.set_xlabel("x")
    ax.set_ylabel("fixed point y*")
    ax.set_title(f"the fixed points of y = tanh({theta:g}·y + x) as x varies", fontsize=10.5)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8.5, loc="center right")
    return ax


# ============================================================================
# Measurements: Newton against iteration
# ============================================================================
def _openblas():
    """numpy's bundled OpenBLAS (for its thread count), or None."""
    import ctypes
    import glob
    import os
    folder = os.path.join(os.path.dirname(os.path.dirname(numpy.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)
            return lib.scipy_openblas_set_num_threads64_, lib.scipy_openblas_get_num_threads64_
        except (OSError, AttributeError):
            continue
    return None


@contextmanager
def one_blas_thread():
    """Run the block with one BLAS thread. The machines this course runs on are often shared:
    BLAS threads that wait for a busy core turn a 1 ms matrix product into 100 ms at random,
    which would drown what the lesson measures (the benchmarks use one thread too)."""
    found = _openblas()
    if found is None:
        yield
        return
    set_threads, get_threads = found
    before = get_threads()
    set_threads(1)
    try:
        yield
    finally:
        set_threads(before)


def _best_time(fn, repeats=7, min_time=0.01):
    """The best of `repeats` samples of seconds per call, each sample a loop lasting ≥ `min_time`.

    The best, not the median: on a shared machine other processes (and BLAS threads
    competing for cores) only ever add time, so the minimum is the steadiest estimate
    of what the computation itself costs.
    """
    fn()
    number = 1
    while True:
        t0 = _perf()
        for _ in range(number):
            fn()
        elapsed = _perf() - t0
        if elapsed >= min_time or number >= 1 << 16:
            break
        number *= 2
    best = elapsed / number
    for _ in range(repeats - 1):
        t0 = _perf()
        for _ in range(number):
            fn()
        best = min(best, (_perf() - t0) / number)
    return best


def newton_vs_iteration(cases, repeats=5):
    """For each (label, g, y0, params): iterations, residual history and time of both methods."""
    rows = []
    with one_blas_thread():
        for label, g, y0, params in cases:
            row = {"label": label}
            for method in ("iterate", "newton"):
                y, info = _fixed_point(g, y0, *params, method=method, return_info=True)
                seconds = _best_time(lambda: _fixed_point(g, y0, *params, method=method), repeats)
                row[method] = dict(y=y, iterations=info.iterations, residuals=list(info.residuals),
                                   seconds=seconds)
            rows.append(row)
    return rows


def plot_newton_vs_iteration(rows, axes=None):
    """Residual against iteration for each case and method (log scale)."""
    import matplotlib.pyplot as plt
    if axes is None:
        columns = 2 if len(rows) > 2 else len(rows)
        lines = (len(rows) + columns - 1) // columns
        _, axes = plt.subplots(lines, columns, figsize=(5.6 * columns, 3.6 * lines), sharey=True)
    axes = np.atleast_1d(axes).reshape(-1)
    for ax, row in zip(axes, rows):
        for method, color, marker in (("iterate", ORANGE, "."), ("newton", VIOLET, "o")):
            r = np.maximum(row[method]["residuals"], 1e-17)
            ax.semilogy(np.arange(1, len(r) + 1), r, marker=marker, color=color, lw=1.6, ms=4,
                        label=f"{'iteration' if method == 'iterate' else 'Newton'}: "
                              f"{row[method]['iterations']} its, {row[method]['seconds'] * 1e3:.2f} ms")
        ax.axhline(1e-10, color=GREY, lw=0.8, ls=":")
        ax.set_title(row["label"], fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(True, which="both", alpha=0.2)
        ax.legend(fontsize=8.5, loc="upper right")
    for ax in axes[::2] if len(axes) > 2 else axes[:1]:
        ax.set_ylabel("residual ‖g(y) − y‖∞")
    axes[0].set_ylim(1e-17, 10)
    return axes


# ============================================================================
# The derivative of a loose solve: through the iterations vs the IFT at y_k
# ============================================================================
def _unrolled(theta, x, k):
    y = 0.0
    for _ in range(k):
        y = _tanh(theta * y + x)
    return y


def unrolled_vs_implicit(theta=0.95, x=0.02, ks=range(1, 321, 4)):
    """Errors, after k iterations from y₀ = 0, of y_k, of d y_k/dθ (through the iterations)
    and of the IFT formula evaluated at y_k. Returns a dict of arrays."""
    y_star = _fixed_point(tanh_layer, 0.0, theta, x, method="newton", tol=1e-15)
    exact = float(_grad(lambda th: _fixed_point(tanh_layer, y_star, th, x, method="newton",
                                                tol=1e-15))(theta))
    out = {"k": [], "y": [], "unrolled": [], "ift": []}
    for k in ks:
        y_k = float(_unrolled(theta, x, k))
        d_unrolled = float(_grad(lambda th: _unrolled(th, x, k))(theta))
        s = 1 - math.tanh(theta * y_k + x) ** 2
        d_ift = s * y_k / (1 - theta * s)
        out["k"].append(k)
        out["y"].append(abs(y_k - y_star))
        out["unrolled"].append(abs(d_unrolled - exact))
        out["ift"].append(abs(d_ift - exact))
    out = {key: np.array(v) for key, v in out.items()}
    out.update(theta=theta, x=x, y_star=y_star, exact=exact,
               rate=abs(theta * (1 - math.tanh(theta * y_star + x) ** 2)))
    return out


def plot_unrolled_vs_implicit(errors, ax=None):
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(7.2, 4.3))
    floor = 1e-17
    k = errors["k"]
    ax.semilogy(k, np.maximum(errors["y"], floor), color=GREY, lw=2,
                label=r"$|y_k - y^*|$, the forward solve")
    ax.semilogy(k, np.maximum(errors["unrolled"], floor), color=RED, lw=2,
                label="dy/dθ through the k iterations (unrolled)")
    ax.semilogy(k, np.maximum(errors["ift"], floor), color=BLUE, lw=2,
                label="dy/dθ by the IFT formula at $y_k$")
    ax.semilogy(k, errors["rate"] ** k, ls=":", color=VIOLET, lw=1.4,
                label=rf"$\rho^k$, $\rho = |g'(y^*)|$ = {errors['rate']:.3f}")
    ax.set_xlabel("iterations k of the forward solve")
    ax.set_ylabel("error")
    ax.set_title(f"y = tanh(θy + x), θ = {errors['theta']:g}, x = {errors['x']:g}: "
                 "derivatives of a loose solve", fontsize=10.5)
    ax.set_ylim(1e-17, 10)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize=8.5)
    return ax


# ============================================================================
# Memory and time: implicit gradients against differentiating the unrolled loop
# ============================================================================
def _loss_unrolled(W, x, iterations):
    z = _zeros(len(x))
    for _ in range(iterations):
        z = _tanh(W @ z + x)
    return np.sum(z)


def _loss_implicit(W, x, tol):
    return np.sum(_fixed_point(deq_layer, _zeros(len(x)), W, x, tol=tol))


def _peak_and_time(fn):
    """(fn(), tracemalloc's peak in bytes during one call, best seconds per call without it)."""
    fn()  # warm up
    tracemalloc.start()
    value = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # timed separately: tracemalloc slows Python down
    return value, peak, _best_time(fn, repeats=5, min_time=0.005)


def measure_implicit_vs_unrolled(n=100, rho=0.98, tols=(1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12), seed=0):
    """For each tolerance: the iteration count k of the forward solve, then peak memory
    (tracemalloc) and time of ∂Σz/∂W by the implicit function theorem (autodiff_ref.fixed_point)
    and by reverse mode through the same k iterations, and each gradient's error."""
    W, x = slow_deq_problem(n, rho, seed)
    exact = _grad(lambda W: np.sum(_fixed_point(deq_layer, _zeros(n), W, x, method="newton",
                                                tol=1e-14)))(W)
    scale = float(np.max(np.abs(exact)))
    rows = []
    with one_blas_thread():
        for tol in tols:
            _, info = _fixed_point(deq_layer, _zeros(n), W, x, tol=tol, return_info=True)
            k = info.iterations
            g_imp, mem_imp, t_imp = _peak_and_time(lambda: _grad(lambda W: _loss_implicit(W, x, tol))(W))
            g_unr, mem_unr, t_unr = _peak_and_time(lambda: _grad(lambda W: _loss_unrolled(W, x, k))(W))
            rows.append(dict(tol=tol, iterations=k, implicit_bytes=mem_imp, unrolled_bytes=mem_unr,
                             implicit_seconds=t_imp, unrolled_seconds=t_unr,
                             implicit_error=float(np.max(np.abs(g_imp - exact))) / scale,
                             unrolled_error=float(np.max(np.abs(g_unr - exact))) / scale))
    return dict(n=n, rho=rho, rows=rows)


def plot_implicit_vs_unrolled(result, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    rows = result["rows"]
    k = np.array([r["iterations"] for r in rows])
    styles = (("implicit", "implicit (IFT, one adjoint solve)", BLUE, "o"),
              ("unrolled", "reverse mode through the iterations", RED, "s"))
    for key, label, color, marker in styles:
        axes[0].plot(k, [r[f"{key}_bytes"] / 1024 for r in rows], marker=marker, color=color, lw=2, label=label)
        axes[1].plot(k, [r[f"{key}_seconds"] * 1e3 for r in rows], marker=marker, color=color, lw=2, label=label)
        axes[2].semilogy(k, [max(r[f"{key}_error"], 1e-17) for r in rows], marker=marker, color=color,
                         lw=2, label=label)
    axes[0].set_ylabel("peak memory during the gradient (KiB)")
    axes[1].set_ylabel("time of the gradient (ms)")
    axes[2].set_ylabel("relative error of ∂Σz/∂W")
    for ax, title in zip(axes, ("memory (tracemalloc peak)", "time", "accuracy")):
        ax.set_xlabel("iterations of the forward solve")
        ax.set_title(title, fontsize=10.5)
        ax.grid(True, which="both", alpha=0.2)
        ax.set_ylim(bottom=0 if ax is not axes[2] else None)
    axes[0].legend(fontsize=8.5, loc="upper left")
    plt.suptitle(f"∂Σz/∂W for z = tanh(Wz + x), n = {result['n']}, W = {result['rho']}·(orthogonal)",
                 fontsize=11.5)
    return axes
