r"""Lesson 6's checks: their cases, oracles and hints.

===============================  ===================================================
``check_dy_dtheta``              Task 6.1, dy*/dθ of y = tanh(θy + x) by the IFT
``check_dy_dx``                  Task 6.1, dy*/dx of the same fixed point
``check_adjoint_solve``          Task 6.2, u = ȳ + (∂g/∂y)ᵀu by iteration with VJPs
``check_adjoint_solve_edges``    Task 6.2, ȳ = 0, tiny and huge ȳ, ȳ untouched, divergence
``check_fixed_point_vjp``        Task 6.3, θ̄ = (∂g/∂θ)ᵀu against ``autodiff_ref.fixed_point``
``check_fixed_point_vjp_fd``     Task 6.3, … against central differences of a tight solve
===============================  ===================================================

For a fixed point :math:`y^* = g(y^*, \theta, x)` the implicit function theorem gives
:math:`dy^*/d\theta = (\partial g/\partial\theta)/(1 - \partial g/\partial y)`; in many
dimensions the adjoint :math:`u` solves :math:`(I - \partial g/\partial y)^\top u = \bar y`
and :math:`\bar\theta = (\partial g/\partial\theta)^\top u`.

Every expected value is computed here, at import: derivatives by ``autodiff_ref``
(``grad``/``vjp`` of ``fixed_point``), adjoints by a dense solve with the Jacobian
from ``jacfwd``, and central differences of solves converged to 1e-13.
Vector answers are compared relative to their largest entry (an iteration stops on
max|Δu| ≤ rtol·max|u|). ``hidden=True`` selects the larger tables of the hidden tests.
"""
import math
import signal
import threading
from contextlib import contextmanager

import numpy

from autodiff_ref import fixed_point as _fixed_point
from autodiff_ref import grad as _grad
from autodiff_ref import vjp as _vjp
from autodiff_ref.core import Tracer
from autograder.checks import (NOT_DONE_HINT, TOLERANCES, Raised, as_floats, call, is_close,
                               passed, relative_error, same)
from autograder.checks import CheckFailure

from .material import (Problem, as_output, batched_deq, contraction, deq_layer, fixed_points, np,
                       scaled_deq, scaled_matrix, tanh_layer)

_asarray, _zeros, _ndarray, _qr = np.asarray, np.zeros, numpy.ndarray, numpy.linalg.qr
VISIBLE_SEED, HIDDEN_SEED = 6, 66
#: A wrong answer within this relative error is called "close" in its hint.
NEARLY = 1e-2
#: How long the divergent adjoint problem may run before the check calls it a loop without end.
DIVERGENCE_SECONDS = 5.0


def _seed(hidden):
    return HIDDEN_SEED if hidden else VISIBLE_SEED


def _close(got, expected, tol, floor=1.0):
    """:func:`~autograder.checks.is_close` with the row's absolute tolerance scaled by
    max(floor, max|expected|): an iteration's error is relative to the largest entry."""
    rtol, atol = TOLERANCES[tol]
    scale = float(np.max(np.abs(_asarray(expected, dtype=float))))
    return is_close(got, expected, rtol, atol * max(floor, scale))


def _match(got, variants):
    """The message of the first (target, message) pair that `got` equals, or None."""
    return next((message for target, message in variants
                 if target is not None and same(got, target, "iterative")), None)


class _TookTooLong(Exception):
    pass


@contextmanager
def _time_limit(seconds):
    """Interrupt the student's code after `seconds` (main thread only). Only the divergence
    case needs it: code that ignores max_iter loops for ever there. When grading, the
    sandbox's own limit stops such code anyway; this one lets the check give its hint."""
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
        g = as_floats(got)
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
        err = relative_error(got, expected)
        if err < NEARLY:
            return _SLIGHTLY_OFF.format(err=err)
        return (f"{name} = (∂g/∂{name[-1]}) / (1 − ∂g/∂y) at the given fixed point y, with "
                "∂g/∂y = θ·sech²(θy + x). Use the y you are given: at θ = 2, x = 0.5 there are "
                "two stable fixed points with different derivatives")
    return hint


_IFT_TABLE_ALL = {case: value for table in _IFT_TABLE.values() for case, value in table.items()}


def _check_ift(ift_derivatives, index, hidden):
    seed = _seed(hidden)
    name, other = ("dy/dθ", "dy/dx") if index == 0 else ("dy/dx", "dy/dθ")
    what = f"ift_derivatives(theta, x, y)[{index}], that is {name}"
    hint = _ift_hint(index, name, other)
    for case in _IFT_CASES[seed]:
        theta, x, y = case
        inputs = dict(theta=theta, x=x, y=y)
        got = call(ift_derivatives, case, what=what, inputs=inputs)
        if isinstance(got, Tracer) or not hasattr(got, "__len__") or len(got) != 2:
            raise CheckFailure(what, inputs=inputs, expected="a pair (dy/dθ, dy/dx)", got=got,
                               hint="return two numbers, (dy/dθ, dy/dx)")
        expected = _IFT_TABLE[seed][case][index]
        if not same(got[index], expected, "solver"):
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
def _problems(seed, hidden):
    rng = numpy.random.default_rng(seed)
    probs = [Problem("tanh(θ·y + x), scalar y", tanh_layer, 0.0, (0.8, 0.3))]
    for n, norm in ((3, 0.8), (6, 0.9)) if not hidden else ((4, 0.85), (8, 0.9), (12, 0.95)):
        W = scaled_matrix(rng, n, norm)
        probs.append(Problem(f"tanh(W z + x), n = {n}, ‖W‖₂ = {norm}", deq_layer, _zeros(n),
                             (W, rng.normal(size=n))))
    n = 4 if not hidden else 5
    probs.append(Problem(f"½·A·sin(z) + b, n = {n}", contraction, _zeros(n),
                         (scaled_matrix(rng, n, 1.6), rng.normal(size=n))))
    probs.append(Problem("tanh(s·(W z) + b), n = 3, three parameters", scaled_deq, _zeros(3),
                         (scaled_matrix(rng, 3, 0.7), rng.normal(size=3), 1.2)))
    if hidden:
        probs.append(Problem("tanh(W Z + X), Z a 4×3 batch", batched_deq, _zeros((4, 3)),
                             (scaled_matrix(rng, 4, 0.8), rng.normal(size=(4, 3)))))
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
    symmetric = same(J, J.T, "rounding")
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
    if isinstance(got, Tracer):
        return "you returned a traced value: return plain numbers (pullback(u)[0] is one)"
    g = as_floats(got)
    if g is None or g.shape != np.shape(expected):
        return f"return u shaped like ȳ, {np.shape(expected)}; got shape " \
               f"{None if g is None else g.shape}"
    found = _match(got, _adjoint_variants(problem, ybar))
    if found:
        return found
    err = relative_error(got, expected)
    if err < NEARLY:
        return (f"close, but not within the tolerance (relative error {err:.1e}): iterate until the "
                "change is below rtol·max|u| — a relative test, so it works whatever the size of ȳ")
    return "iterate u ← ȳ + (∂g/∂y)ᵀu with the pullback of vjp(lambda y: g(y, *params), y_star)"


def _nearer_variant(got, expected, problem, ybar):
    """The hint of the known slip whose answer is nearer to `got` than the right answer is,
    relative to the answer's size (so it works for ȳ of size 1e-9), or None.

    A tiny ȳ makes an absolute stopping test stop early, and a missing transpose also
    gives a wrong u: the nearer answer says which of the two happened."""
    err = relative_error(got, expected)
    best = None
    for target, message in _adjoint_variants(problem, ybar):
        if target is None:
            continue
        e = relative_error(got, target)
        if e < err and (best is None or e < best[0]):
            best = (e, message)
    return None if best is None else best[1]


def check_adjoint_solve(adjoint_solve, *, hidden=False):
    """Task 6.2: ``adjoint_solve(g, y_star, params, ybar)`` solves (I − ∂g/∂y)ᵀu = ȳ."""
    seed = _seed(hidden)
    what = "adjoint_solve(g, y_star, params, ybar)"
    for (problem, ybar), expected in zip(_ADJOINT_CASES[seed], _ADJOINT_TABLE[seed]):
        inputs, got = _run(adjoint_solve, problem, ybar, what)
        if not _close(got, expected, "solver"):
            raise CheckFailure(what, inputs=inputs, expected=expected, got=got,
                               hint=_adjoint_hint(problem, ybar, expected, got))
    passed("adjoint_solve matches the dense solve of (I − ∂g/∂y)ᵀu = ȳ", len(_ADJOINT_CASES[seed]))


def _copy(v):
    return v.copy() if isinstance(v, _ndarray) else v


def _run(student, problem, ybar, what, **more):
    """The inputs as a failure message names them, and ``student(g, y*, params, ȳ)`` on copies."""
    inputs = dict(g=problem, ybar=ybar, **more)
    return inputs, call(student, (problem.g, _copy(problem.y_star), problem.params, _copy(ybar)),
                        what=what, inputs=inputs)


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
    seed = _seed(hidden)
    what = "adjoint_solve(g, y_star, params, ybar)"
    for (label, problem, ybar), expected in zip(_EDGE_CASES[seed], _EDGE_TABLE[seed]):
        inputs = dict(g=problem, ybar=label)
        given = ybar.copy()
        got = call(adjoint_solve, (problem.g, problem.y_star.copy(), problem.params, given), what=what,
                   inputs=inputs)
        if not np.array_equal(given, ybar):
            raise CheckFailure(what, inputs=inputs, expected="ȳ left unchanged",
                               got="ȳ was changed in place",
                               hint="`u = ybar` makes u a second name for the same array, and "
                                    "`u += …` then changes ȳ too; start from `u = ybar.copy()` or "
                                    "write `u = ybar + …`")
        if not _close(got, expected, "solver", floor=0.0):
            if label == "ȳ = 0":
                hint = "with ȳ = 0 the answer is u = 0 (and the loop should stop at once)"
            elif _nearer_variant(got, expected, problem, ybar):
                hint = _nearer_variant(got, expected, problem, ybar)
            elif label == "ȳ of size 1e-9" and relative_error(got, expected) < 0.5:
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
        with _time_limit(DIVERGENCE_SECONDS):
            got = adjoint_solve(problem.g, problem.y_star.copy(), problem.params, ybar.copy(),
                                max_iter=200)
    except NotImplementedError as err:
        raise CheckFailure(what, inputs=inputs, got=Raised(err), hint=NOT_DONE_HINT) from None
    except _TookTooLong:
        raise CheckFailure(what, inputs=inputs, expected="an exception after 200 iterations",
                           got=f"no answer after {DIVERGENCE_SECONDS:g} s",
                           hint="the iteration diverges here; stop after max_iter iterations and "
                                "raise an error") from None
    except Exception:  # the right reaction: it does not converge, so say so
        got = None
    if got is not None and not same(got, _DIVERGENT_ANSWER, "solver"):
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
    return tuple(as_output(c) for c in pullback(ybar))


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
    if not same(problem.J, problem.J.T, "rounding"):
        out.append((problem.param_pullback(problem.adjoint(ybar, transpose=False)),
                    "transposed wrongly: that u solves (I − ∂g/∂y)u = ȳ; the adjoint has the "
                    "transpose (I − ∂g/∂y)ᵀu = ȳ — iterate with VJPs"))
    return out


def _same_tuple(got, target):
    return isinstance(got, (tuple, list)) and len(got) == len(target) and all(
        same(a, b, "iterative") for a, b in zip(got, target))


def _check_vjp_structure(got, problem, what, inputs):
    k = len(problem.params)
    if isinstance(got, Tracer) or not isinstance(got, (tuple, list)):
        raise CheckFailure(what, inputs=inputs, expected=f"a tuple of {k} cotangents, one per parameter",
                           got=got, hint="return a tuple: one cotangent per entry of params, in order "
                                         "(the pullback of vjp already returns one)")
    if len(got) != k:
        raise CheckFailure(what, inputs=inputs, expected=f"a tuple of {k} cotangents", got=got,
                           hint=f"params has {k} entries, so return {k} cotangents (the fixed point "
                                "does not depend on y0, so there is none for it)")
    for i, (c, p) in enumerate(zip(got, problem.params)):
        shape = np.shape(p)
        if isinstance(c, Tracer) or as_floats(c) is None or as_floats(c).shape != shape:
            raise CheckFailure(what, inputs=inputs, expected=f"cotangent {i} shaped like params[{i}], "
                                                             f"{shape}", got=c,
                               hint="each cotangent has the shape of its parameter")


def check_fixed_point_vjp(fixed_point_vjp, *, hidden=False):
    """Task 6.3: ``fixed_point_vjp(g, y_star, params, ybar)`` equals autodiff_ref's VJP of fixed_point."""
    seed = _seed(hidden)
    what = "fixed_point_vjp(g, y_star, params, ybar)"
    for (problem, ybar), expected in zip(_VJP_CASES[seed], _VJP_TABLE[seed]):
        inputs, got = _run(fixed_point_vjp, problem, ybar, what)
        _check_vjp_structure(got, problem, what=what, inputs=inputs)
        for i, (c, e) in enumerate(zip(got, expected)):
            if not _close(c, e, "solver"):
                found = next((msg for target, msg in _vjp_variants(problem, ybar)
                              if _same_tuple(got, target)), None)
                if found is None:
                    err = relative_error(c, e)
                    found = (_SLIGHTLY_OFF.format(err=err) if err < NEARLY else
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
        direction = tuple(as_output(rng.normal(size=np.shape(p))) for p in problem.params)
        h = 1e-5
        fd = (_loss_along(problem, ybar, direction, h) - _loss_along(problem, ybar, direction, -h)) / (2 * h)
        cases.append((problem, ybar, direction, fd))
    return cases


_FD_CASES = {seed: _fd_cases(seed) for seed in _PROBLEMS}


def check_fixed_point_vjp_fd(fixed_point_vjp, *, hidden=False):
    """Task 6.3: ⟨θ̄, v⟩ from ``fixed_point_vjp`` equals a central difference of ⟨ȳ, y*(θ + hv)⟩."""
    seed = _seed(hidden)
    what = "⟨fixed_point_vjp(g, y_star, params, ybar), v⟩ against central differences"
    for problem, ybar, direction, fd in _FD_CASES[seed]:
        inputs, got = _run(fixed_point_vjp, problem, ybar, what, v=direction)
        _check_vjp_structure(got, problem, what=what, inputs=inputs)
        value = float(sum(np.sum(_asarray(c, dtype=float) * _asarray(d)) for c, d in zip(got, direction)))
        if not same(value, fd, "numerical"):
            found = next((msg for target, msg in _vjp_variants(problem, ybar) if _same_tuple(got, target)),
                         "the directional derivative (y*(θ + hv) − y*(θ − hv))/2h, projected on ȳ, "
                         "disagrees with your θ̄ — see the check above")
            raise CheckFailure(what, inputs=inputs, expected=fd, got=value, hint=found)
    passed("fixed_point_vjp agrees with central differences of re-solved fixed points", len(_FD_CASES[seed]))

