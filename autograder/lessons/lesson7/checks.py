r"""Lesson 7's checks: their cases, oracles and hints.

===================================  =================================================
``check_adjoint_dynamics``           Task 7.1, dy/dt = f and da/dt = −aᵀ∂f/∂y
``check_adjoint_dynamics_params``    Task 7.1, da_θ/dt = −aᵀ∂f/∂θ for every parameter
``check_backward_one_interval``      Task 7.2, the backward pass with one observation
``check_backward_observations``      Task 7.2, several observation times (the jumps)
``check_backward_differences``       Task 7.2, against central differences of tight solves
===================================  =================================================

For :math:`\dot y = f(y, t, \theta)` and a loss :math:`L = \sum_i \langle \bar y_i, y(t_i)\rangle`
the adjoint :math:`a(t) = \partial L/\partial y(t)` solves :math:`\dot a = -a^\top \partial f/\partial y`
backwards in time, jumping by :math:`\bar y_i` at each observation, and
:math:`\bar\theta = \int a^\top \partial f/\partial\theta\,dt` is carried along as
:math:`\dot a_\theta = -a^\top \partial f/\partial\theta`.

Every expected value is computed here, at import: the dynamics from ``autodiff_ref.jacfwd``
Jacobians, the backward pass from ``autodiff_ref.odeint``'s own adjoint (``vjp`` through
``odeint(method="rk4")`` with the same steps, so the two discretisations agree to round-off),
and central differences of solves with ``rtol = 1e-11``. ``hidden=True`` selects the
larger tables of the hidden tests.
"""
import math
import types

import numpy

from autodiff_ref import jacfwd as _jacfwd
from autodiff_ref import odeint as _odeint
from autodiff_ref import vjp as _vjp
from autodiff_ref.core import Tracer as _Tracer
from autodiff_ref.ode import Adjoint
from autograder.checks import TOLERANCES, as_floats, call, is_close, passed, relative_error, same
from autograder.checks import CheckFailure
from autograder.material import rk4_step

from .material import DECAY, FORCED, LINEAR, LV, LV_TRUE, MLP

np = types.SimpleNamespace(**vars(numpy))
_asarray, _array, _zeros, _abs = np.asarray, np.array, np.zeros, np.abs
VISIBLE_SEED, HIDDEN_SEED = 7, 77
#: A wrong answer within this relative error is called "close" in its hint.
NEARLY = 1e-3


# ============================================================================
# The oracle: autodiff_ref's adjoint, and a reference with switchable mistakes
# ============================================================================
def library_gradient(f, y0, ts, params, ybars, steps):
    """(ȳ₀, θ̄) of L = Σᵢ⟨ȳᵢ, y(tᵢ)⟩ from autodiff_ref.odeint's adjoint (RK4, the same steps)."""
    step = float(ts[1] - ts[0]) / steps
    _, pullback = _vjp(lambda y, *p: _odeint(f, y, ts, *p, method="rk4", step=step), _asarray(y0, float),
                       *params)
    cotangents = pullback(ybars)
    return as_output(cotangents[0]), tuple(as_output(c) for c in cotangents[1:])


def as_output(c):
    """A cotangent as the student returns it: a float for a scalar, else an array."""
    c = _asarray(c, dtype=float)
    return float(c) if c.shape == () else c


def reference_dynamics(f, state, t, params, *, sign=1.0, transpose=True, y_mode="f", params_part=True):
    """The adjoint system's right-hand side, with switches that reproduce known mistakes."""
    y, a = state.y, state.a
    dy, pullback = _vjp(lambda yy, *p: f(yy, t, *p), y, *params)
    cotangents = pullback(a)
    if transpose:
        da = -sign * _asarray(cotangents[0])
    else:
        n = int(np.size(y))
        J = _asarray(_jacfwd(lambda yy: f(yy, t, *params))(y), dtype=float).reshape(n, n)
        da = as_output((-sign * (J @ _asarray(a, dtype=float).reshape(n))).reshape(np.shape(y)))
    dy = {"f": dy, "frozen": 0.0 * _asarray(dy), "negated": -_asarray(dy)}[y_mode]
    dparams = tuple(-sign * _asarray(c) if params_part else 0.0 * _asarray(c) for c in cotangents[1:])
    return Adjoint(dy, da, dparams)


def reference_backward(f, ts, ys, ybars, params, steps, *, jumps="right", forward=False, accumulate=True,
                       start="here", **dynamics):
    """(ȳ₀, θ̄) by the adjoint method with RK4 backwards; the keyword switches reproduce mistakes:
    jumps="none"/"shifted", forward=True (h > 0), accumulate=False, start="previous"
    (y from ys[i−1]), forward="interval" (each interval solved forwards, from ys[i−1] at tᵢ₋₁),
    and the dynamics switches of :func:`reference_dynamics`."""
    def field(state, t):
        return reference_dynamics(f, state, t, params, **dynamics)
    a = _asarray(ybars[-1], dtype=float)
    a_params = tuple(_zeros(np.shape(p)) for p in params)
    for i in range(len(ts) - 1, 0, -1):
        h = (ts[i - 1] - ts[i]) / steps
        t0, y = ts[i], ys[i] if start == "here" else ys[i - 1]
        if forward:
            h = -h
        if forward == "interval":
            t0, y = ts[i - 1], ys[i - 1]
        carried = a_params if accumulate else tuple(_zeros(np.shape(p)) for p in params)
        state = Adjoint(y, a, carried)
        for j in range(steps):
            state = rk4_step(field, state, t0 + j * h, h)
        a = state.a
        if jumps == "right":
            a = a + ybars[i - 1]
        elif jumps == "shifted":
            a = a + ybars[i]
        a_params = state.a_params
    return as_output(a), tuple(as_output(c) for c in a_params)


# ============================================================================
# Shared helpers of the checks
# ============================================================================
def seed_for(hidden):
    return HIDDEN_SEED if hidden else VISIBLE_SEED


def close(got, expected, tol):
    """:func:`~autograder.checks.is_close` with the row's absolute tolerance scaled by max(1, max|expected|)."""
    rtol, atol = TOLERANCES[tol]
    return is_close(got, expected, rtol, atol * max([1.0] + list(_abs(_asarray(expected, dtype=float)).ravel())))


def _copy(v):
    return v.copy() if isinstance(v, numpy.ndarray) else v


def _state_copy(state):
    return Adjoint(_copy(state.y), _copy(state.a), tuple(_copy(c) for c in state.a_params))


# ============================================================================
# Task 7.1: the augmented dynamics
# ============================================================================
def _lv_theta(rng):
    return _array(LV_TRUE) * rng.uniform(0.7, 1.3, size=4)


def _nonsymmetric(rng, n):
    A = rng.normal(size=(n, n)) / math.sqrt(n)
    return A - 0.5 * numpy.eye(n)


def _dynamics_cases(seed, hidden):
    rng = numpy.random.default_rng(seed)
    cases = [(DECAY, 1.3, 0.7, 0.5, (0.8,)),
             (LV, _array([1.0, 1.0]), _array([0.5, -1.0]), 0.0, (_array(LV_TRUE),))]
    for _ in range(3 if hidden else 1):
        cases.append((LV, rng.uniform(0.3, 2.5, size=2), rng.normal(size=2), float(rng.uniform(0, 5)),
                      (_lv_theta(rng),)))
        n = 3 if not hidden else int(rng.integers(2, 6))
        cases.append((LINEAR, rng.normal(size=n), rng.normal(size=n), 0.0, (_nonsymmetric(rng, n),)))
        cases.append((FORCED, rng.normal(size=2), rng.normal(size=2), float(rng.uniform(0, 5)),
                      tuple(float(v) for v in rng.uniform(0.3, 2.0, size=3))))
    if hidden:
        W1, b1, W2 = rng.normal(size=(5, 2)), rng.normal(size=5), rng.normal(size=(2, 5)) / 2
        cases.append((MLP, rng.normal(size=2), rng.normal(size=2), 0.3, (W1, b1, W2)))
    out = []
    for f, y, a, t, params in cases:
        a_params = tuple(as_output(rng.normal(size=np.shape(p))) for p in params)
        out.append((f, Adjoint(y, a, a_params), t, params))
    return out


def _dynamics_expected(f, state, t, params):
    """dy = f, da = −Jᵀa with J = ∂f/∂y from jacfwd, da_θ = −(∂f/∂θ)ᵀa, also by jacfwd."""
    y, a = _asarray(state.y, dtype=float), _asarray(state.a, dtype=float)
    dy = as_output(f(y if y.shape else float(y), t, *params))
    J = _asarray(_jacfwd(lambda yy: f(yy, t, *params))(y if y.shape else float(y)), dtype=float)
    n = int(y.size)
    da = as_output(-(J.reshape(n, n).T @ a.reshape(n)).reshape(y.shape))
    dparams = []
    for i, p in enumerate(params):
        def of_param(q, i=i):
            full = list(params)
            full[i] = q
            return f(y if y.shape else float(y), t, *full)
        Jp = _asarray(_jacfwd(of_param)(p), dtype=float).reshape(n, -1)
        dparams.append(as_output(-(a.reshape(n) @ Jp).reshape(np.shape(p))))
    return Adjoint(dy, da, tuple(dparams))


_DYNAMICS_CASES = {seed: _dynamics_cases(seed, seed == HIDDEN_SEED) for seed in (VISIBLE_SEED, HIDDEN_SEED)}
_DYNAMICS_TABLE = {seed: [_dynamics_expected(*case) for case in cases]
                   for seed, cases in _DYNAMICS_CASES.items()}


def _check_structure(got, state, params, what, inputs):
    if isinstance(got, _Tracer) or not isinstance(got, tuple) or len(got) != 3:
        raise CheckFailure(what, inputs=inputs, expected="Adjoint(y=dy/dt, a=da/dt, a_params=(…))", got=got,
                           hint="return Adjoint(dy, da, da_params): the derivative of each field of the state")
    dy, da, dparams = got
    for name, value, like in (("y", dy, state.y), ("a", da, state.a)):
        v = as_floats(value)
        if v is None or v.shape != np.shape(like):
            raise CheckFailure(what + f", field {name}", inputs=inputs,
                               expected=f"an array shaped like state.{name}, {np.shape(like)}", got=value,
                               hint="each field of the derivative has the shape of that field of the "
                                    "state (a traced value? use the numbers vjp returns)")
    if not isinstance(dparams, (tuple, list)) or len(dparams) != len(params):
        raise CheckFailure(what + ", field a_params", inputs=inputs,
                           expected=f"a tuple of {len(params)} arrays, one per parameter", got=dparams,
                           hint="a_params holds one entry per parameter: the pullback's items after the "
                                "first (which belongs to y)")
    for i, (c, p) in enumerate(zip(dparams, params)):
        v = as_floats(c)
        if v is None or v.shape != np.shape(p):
            raise CheckFailure(what + f", field a_params[{i}]", inputs=inputs,
                               expected=f"shaped like params[{i}], {np.shape(p)}", got=c,
                               hint="each entry of a_params has the shape of its parameter")


def _dynamics_hint(f, state, t, params, field, got):
    variants = {
        "y": [(reference_dynamics(f, state, t, params, y_mode="negated").y,
               "that is −f: the state y obeys dy/dt = f(y, t, θ) in both directions of time. "
               "Integrating backwards comes from the negative step h, not from flipping f"),
              (reference_dynamics(f, state, t, params, y_mode="frozen").y,
               "dy/dt is not zero: y must be recomputed backwards along the same ODE, dy/dt = f(y, t, θ)"),
              (state.a, "that is the adjoint a, not the state's derivative f(y, t, θ)")],
        "a": [(reference_dynamics(f, state, t, params, sign=-1).a,
               "wrong sign of the adjoint dynamics: da/dt = −aᵀ∂f/∂y (minus the pullback of a)"),
              (reference_dynamics(f, state, t, params, transpose=False).a,
               "that is −(∂f/∂y)·a, a JVP: the adjoint needs the transpose, −(∂f/∂y)ᵀa, which is the "
               "VJP (pullback) of f at y applied to a"),
              (reference_dynamics(f, state, t, params, transpose=False, sign=-1).a,
               "two slips: that is +(∂f/∂y)·a — use the VJP (the transpose) and a minus sign"),
              (_asarray(f(state.y, t, *params)), "that is f(y, t, θ), the derivative of y, not of a")],
        "a_params": [(reference_dynamics(f, state, t, params, sign=-1).a_params,
                      "wrong sign: da_θ/dt = −aᵀ∂f/∂θ, like da/dt"),
                     (reference_dynamics(f, state, t, params, params_part=False).a_params,
                      "the parameter adjoint is missing: da_θ/dt = −aᵀ∂f/∂θ, the pullback's items for "
                      "the parameters (negated) — without it θ̄ stays 0"),
                     (state.a_params, "you returned the state's a_params; return their derivative, "
                                      "−aᵀ∂f/∂θ")],
    }[field]
    for target, message in variants:
        if field == "a_params":
            if isinstance(got, (tuple, list)) and len(got) == len(target) and all(
                    same(g, e, "iterative") for g, e in zip(got, target)):
                return message
        elif same(got, target, "iterative"):
            return message
    return {"y": "dy/dt = f(y, t, θ)",
            "a": "da/dt = −aᵀ∂f/∂y: with dy, pullback = vjp(lambda y, *p: f(y, t, *p), state.y, *params), "
                 "it is −pullback(state.a)[0]",
            "a_params": "da_θ/dt = −aᵀ∂f/∂θ: the negated pullback items for the parameters, "
                        "−pullback(state.a)[1:]"}[field]


def _run_dynamics(adjoint_dynamics, hidden, fields, what_suffix):
    seed = seed_for(hidden)
    for (f, state, t, params), expected in zip(_DYNAMICS_CASES[seed], _DYNAMICS_TABLE[seed]):
        what = f"adjoint_dynamics(f, state, t, params){what_suffix}"
        inputs = dict(f=f, y=state.y, a=state.a, t=t, params=params)
        got = call(adjoint_dynamics, (f, _state_copy(state), t, params), what=what, inputs=inputs)
        _check_structure(got, state, params, what, inputs)
        for field in fields:
            index = ("y", "a", "a_params").index(field)
            g, e = got[index], expected[index]
            if field == "a_params":
                ok = all(close(gi, ei, "exact") for gi, ei in zip(g, e))
            else:
                ok = close(g, e, "exact")
            if not ok:
                raise CheckFailure(what + f", field {field}", inputs=inputs, expected=e, got=g,
                                   hint=_dynamics_hint(f, state, t, params, field, g))
    return len(_DYNAMICS_CASES[seed])


def check_adjoint_dynamics(adjoint_dynamics, *, hidden=False):
    """Task 7.1: the y and a fields of ``adjoint_dynamics(f, state, t, params)``."""
    n = _run_dynamics(adjoint_dynamics, hidden, ("y", "a"), "")
    passed("adjoint_dynamics: dy/dt = f and da/dt = −aᵀ∂f/∂y", n)


def check_adjoint_dynamics_params(adjoint_dynamics, *, hidden=False):
    """Task 7.1: the a_params field of ``adjoint_dynamics(f, state, t, params)``."""
    n = _run_dynamics(adjoint_dynamics, hidden, ("a_params",), "")
    passed("adjoint_dynamics: da_θ/dt = −aᵀ∂f/∂θ for every parameter", n)


# ============================================================================
# Task 7.2: the backward pass
# ============================================================================
class _Backward:
    """One backward-pass problem: f, y0, times, params, cotangents, steps, the forward solution."""

    def __init__(self, f, y0, ts, params, ybars, steps):
        self.f, self.y0, self.ts, self.params = f, y0, _asarray(ts, dtype=float), tuple(params)
        self.ybars, self.steps = _asarray(ybars, dtype=float), steps
        step = float(self.ts[1] - self.ts[0]) / steps
        self.ys = _asarray(_odeint(f, _asarray(y0, float), self.ts, *self.params, method="rk4", step=step))
        self.expected = library_gradient(f, y0, self.ts, self.params, self.ybars, steps)
        self.closed_form = _decay_closed_form(self) if f is DECAY else None

    def inputs(self):
        return dict(f=self.f, ts=self.ts, params=self.params, ybars=self.ybars, steps=self.steps)

    def args(self):
        return (self.f, self.ts.copy(), self.ys.copy(), self.ybars.copy(), self.params, self.steps)


def _decay_closed_form(case):
    r"""For dy/dt = −ky: y(tᵢ) = y₀e^{−k(tᵢ−t₀)}, so L = Σᵢ ȳᵢ y(tᵢ) has
    ∂L/∂y₀ = Σᵢ ȳᵢ e^{−k(tᵢ−t₀)} and ∂L/∂k = −Σᵢ ȳᵢ (tᵢ−t₀) y₀ e^{−k(tᵢ−t₀)}."""
    (k,), y0 = case.params, float(case.y0)
    elapsed = case.ts - case.ts[0]
    decay_factor = np.exp(-k * elapsed)
    return (float(np.sum(case.ybars * decay_factor)),
            (float(-np.sum(case.ybars * elapsed * y0 * decay_factor)),))


def _one_interval_cases(seed, hidden):
    rng = numpy.random.default_rng(seed + 1)
    cases = [_Backward(DECAY, 1.3, [0.0, 2.0], (0.7,), [0.0, 1.0], 40),
             _Backward(LV, _array([1.0, 1.0]), [0.0, 1.5], (_array(LV_TRUE),), [[0.0, 0.0], [1.0, -0.5]], 60),
             _Backward(LINEAR, rng.normal(size=3), [0.0, 1.0], (_nonsymmetric(rng, 3),),
                       [_zeros(3), rng.normal(size=3)], 40)]
    if hidden:
        cases += [_Backward(DECAY, 0.4, [0.5, 3.0], (1.7,), [0.0, -2.0], 50),
                  _Backward(FORCED, rng.normal(size=2), [0.0, 2.0], (1.2, 0.3, 2.0),
                            [_zeros(2), rng.normal(size=2)], 80),
                  _Backward(LV, rng.uniform(0.5, 2.0, size=2), [0.0, 2.0], (_lv_theta(rng),),
                            [_zeros(2), rng.normal(size=2)], 80)]
    return cases


def _observation_cases(seed, hidden):
    rng = numpy.random.default_rng(seed + 2)
    cases = [_Backward(LV, _array([1.0, 1.0]), numpy.linspace(0, 2, 5), (_array(LV_TRUE),),
                       rng.normal(size=(5, 2)), 20),
             _Backward(FORCED, _array([1.0, 0.0]), numpy.linspace(0, 3, 4), (1.5, 0.2, 2.5),
                       rng.normal(size=(4, 2)), 30),
             _Backward(DECAY, 1.3, numpy.linspace(0, 2, 5), (0.7,), rng.normal(size=5), 20)]
    if hidden:
        cases += [_Backward(LINEAR, rng.normal(size=3), numpy.linspace(0, 1.5, 6), (_nonsymmetric(rng, 3),),
                            rng.normal(size=(6, 3)), 15),
                  _Backward(LV, rng.uniform(0.5, 2.0, size=2), numpy.linspace(0, 3, 7), (_lv_theta(rng),),
                            rng.normal(size=(7, 2)), 20),
                  _Backward(FORCED, rng.normal(size=2), numpy.linspace(1, 4, 4), (0.8, 0.5, 1.5),
                            rng.normal(size=(4, 2)), 30)]
    return cases


_ONE_INTERVAL = {seed: _one_interval_cases(seed, seed == HIDDEN_SEED) for seed in (VISIBLE_SEED, HIDDEN_SEED)}
_OBSERVATIONS = {seed: _observation_cases(seed, seed == HIDDEN_SEED) for seed in (VISIBLE_SEED, HIDDEN_SEED)}


def _backward_variants(case):
    f, ts, ys, ybars, params, steps = case.f, case.ts, case.ys, case.ybars, case.params, case.steps
    run = lambda **kw: reference_backward(f, ts, ys, ybars, params, steps, **kw)  # noqa: E731
    out = [
        (run(jumps="none"), "you forgot the jumps at the observation times: after integrating back to "
                            "tᵢ₋₁, add the loss's cotangent there, a ← a + ȳᵢ₋₁ (ȳ₀ too, at the end)"),
        (run(jumps="shifted"), "off by one in the jumps: arriving at tᵢ₋₁ add ybars[i − 1] (the "
                               "cotangent at the time you reached), not ybars[i]"),
        (run(sign=-1.0), "wrong sign of the adjoint dynamics: da/dt = −aᵀ∂f/∂y and da_θ/dt = −aᵀ∂f/∂θ"),
        (run(forward=True), "you integrated forward in time: the adjoint starts at the last time and "
                            "runs backwards, h = (ts[i − 1] − ts[i]) / steps < 0"),
        (run(forward="interval"), "you integrated forward in time, from ts[i − 1] up to ts[i]: the adjoint "
                                  "is known at the end of each interval, so each solve starts at ts[i] from "
                                  "ys[i] and a, and runs backwards, h = (ts[i − 1] − ts[i]) / steps < 0"),
        (run(accumulate=False), "the parameter adjoint is not accumulated: a_θ must carry over from one "
                                "interval to the next (start each interval from the a_params you have, "
                                "not from zeros)"),
        (run(y_mode="frozen"), "y is not recomputed: on each interval y must move backwards along "
                               "dy/dt = f(y, t, θ), starting from the stored ys[i]"),
        (run(y_mode="negated"), "y runs along −f: with a negative step h, dy/dt = f(y, t, θ) already moves y "
                                "backwards; negating f as well sends it forwards"),
        (run(start="previous"), "the wrong state: the backward solve over [tᵢ₋₁, tᵢ] starts at tᵢ, so "
                                "from y = ys[i], not ys[i − 1]"),
        (run(params_part=False), "the parameter adjoint is missing: da_θ/dt = −aᵀ∂f/∂θ"),
    ]
    if np.size(case.y0) > 1:  # for a scalar y the transpose changes nothing
        out.append((run(transpose=False), "transposed wrongly: da/dt = −(∂f/∂y)ᵀa is a VJP, not −(∂f/∂y)·a"))
    return out


def _check_backward_structure(got, case, what):
    k = len(case.params)
    if isinstance(got, _Tracer) or not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailure(what, inputs=case.inputs(), expected="a pair (dL/dy0, (dL/dθ₁, …))", got=got,
                           hint="return (a, a_params): the adjoint at ts[0] and the tuple of parameter "
                                "adjoints")
    y0_bar, params_bar = got
    g = as_floats(y0_bar)
    if g is None or g.shape != np.shape(case.y0):
        raise CheckFailure(what + ", dL/dy0", inputs=case.inputs(), expected=case.expected[0], got=y0_bar,
                           hint=f"dL/dy0 has the shape of y0, {np.shape(case.y0)}")
    if not isinstance(params_bar, (tuple, list)) or len(params_bar) != k:
        raise CheckFailure(what + ", dL/dθ", inputs=case.inputs(), expected=case.expected[1], got=params_bar,
                           hint=f"return a tuple of {k} parameter adjoints, one per entry of params")
    for i, (c, p) in enumerate(zip(params_bar, case.params)):
        v = as_floats(c)
        if v is None or v.shape != np.shape(p):
            raise CheckFailure(what + f", dL/dθ[{i}]", inputs=case.inputs(), expected=case.expected[1][i],
                               got=c, hint="each parameter adjoint has the shape of its parameter")


def _backward_matches(got, expected, tol):
    return close(got[0], expected[0], tol) and all(close(g, e, tol) for g, e in zip(got[1], expected[1]))


def _backward_hint(case, got):
    for target, message in _backward_variants(case):
        if _backward_matches(got, target, "exact"):
            return message
    if not close(got[0], case.expected[0], "solver") and all(
            close(g, e, "solver") for g, e in zip(got[1], case.expected[1])):
        return ("dL/dθ is right but dL/dy0 is not: at the end, a(t₀) plus the cotangent ȳ₀ at the first "
                "time is dL/dy0")
    err = max([relative_error(got[0], case.expected[0])] +
              [relative_error(g, e) for g, e in zip(got[1], case.expected[1])])
    if err < NEARLY:
        return (f"close, but not within the tolerance (relative error {err:.1e}): use RK4 with exactly "
                "`steps` equal steps per interval on the whole state (y, a, a_params) together, starting "
                "each interval from the stored ys[i]")
    return ("integrate Adjoint(ys[i], a, a_params) from ts[i] back to ts[i − 1] with rk4_step and your "
            "adjoint_dynamics, then add ybars[i − 1] to a")


def _run_backward(adjoint_backward, cases, what):
    for case in cases:
        got = call(adjoint_backward, case.args(), what=what, inputs=case.inputs())
        _check_backward_structure(got, case, what)
        if not _backward_matches(got, case.expected, "solver"):
            wrong_y0 = not close(got[0], case.expected[0], "solver")
            raise CheckFailure(what + (", dL/dy0" if wrong_y0 else ", dL/dθ"), inputs=case.inputs(),
                               expected=case.expected[0] if wrong_y0 else case.expected[1],
                               got=got[0] if wrong_y0 else tuple(got[1]), hint=_backward_hint(case, got))
        if case.closed_form is not None and not _backward_matches(got, case.closed_form, "numerical"):
            raise CheckFailure(what + ", against the closed form of exponential decay", inputs=case.inputs(),
                               expected=case.closed_form, got=(got[0], tuple(got[1])),
                               hint="y(t) = y₀e^{−k(t−t₀)}, so dL/dy0 = Σ ȳᵢe^{−k(tᵢ−t₀)} and "
                                    "dL/dk = −Σ ȳᵢ(tᵢ−t₀)y₀e^{−k(tᵢ−t₀)}")
    return len(cases)


def check_backward_one_interval(adjoint_backward, *, hidden=False):
    """Task 7.2: one interval, the loss at the final time only (no jumps needed), against
    autodiff_ref.odeint's adjoint with the same RK4 steps (and, for exponential decay, against
    the closed form, within the RK4 error)."""
    seed = seed_for(hidden)
    n = _run_backward(adjoint_backward, _ONE_INTERVAL[seed], "adjoint_backward(f, ts, ys, ybars, params, steps)")
    passed("adjoint_backward matches autodiff_ref's adjoint with one observation time", n)


def check_backward_observations(adjoint_backward, *, hidden=False):
    """Task 7.2: several observation times (jumps), time-dependent f, against autodiff_ref's adjoint."""
    seed = seed_for(hidden)
    n = _run_backward(adjoint_backward, _OBSERVATIONS[seed], "adjoint_backward(f, ts, ys, ybars, params, steps)")
    passed("adjoint_backward matches autodiff_ref's adjoint with several observation times", n)


# ---- central differences of tight solves -----------------------------------------------------
def _loss(case, y0, params):
    ys = _odeint(case.f, y0, case.ts, *params, rtol=1e-11, atol=1e-12)
    return float(np.sum(_asarray(ys) * case.ybars))


def _fd_table(case, rng, h=1e-5):
    """Directional derivatives of L along one random direction in (y0, θ) by central differences."""
    d_y0 = as_output(rng.normal(size=np.shape(case.y0)))
    d_params = tuple(as_output(rng.normal(size=np.shape(p))) for p in case.params)
    plus = _loss(case, _asarray(case.y0) + h * _asarray(d_y0), tuple(p + h * d for p, d in zip(case.params, d_params)))
    minus = _loss(case, _asarray(case.y0) - h * _asarray(d_y0), tuple(p - h * d for p, d in zip(case.params, d_params)))
    return d_y0, d_params, (plus - minus) / (2 * h)


def _fd_cases(seed, hidden):
    rng = numpy.random.default_rng(seed + 3)
    cases = [_Backward(LV, _array([1.2, 0.8]), numpy.linspace(0, 2, 5), (_lv_theta(rng),),
                       rng.normal(size=(5, 2)), 40),
             _Backward(FORCED, rng.normal(size=2), numpy.linspace(0, 2, 3), (1.1, 0.4, 3.0),
                       rng.normal(size=(3, 2)), 60)]
    if hidden:
        W1, b1, W2 = rng.normal(size=(4, 2)), rng.normal(size=4), rng.normal(size=(2, 4)) / 2
        cases += [_Backward(MLP, rng.normal(size=2), numpy.linspace(0, 1, 4), (W1, b1, W2),
                            rng.normal(size=(4, 2)), 40),
                  _Backward(DECAY, 0.9, numpy.linspace(0, 2, 3), (1.1,), rng.normal(size=3), 60)]
    return [(case,) + _fd_table(case, rng) for case in cases]


_FD_CASES = {seed: _fd_cases(seed, seed == HIDDEN_SEED) for seed in (VISIBLE_SEED, HIDDEN_SEED)}


def check_backward_differences(adjoint_backward, *, hidden=False):
    """Task 7.2: ⟨(ȳ₀, θ̄), v⟩ against a central difference of L = Σ⟨ȳᵢ, y(tᵢ)⟩ along v,
    with y from tight dopri5 solves (an oracle independent of any adjoint)."""
    seed = seed_for(hidden)
    what = "⟨adjoint_backward(...), v⟩ against central differences of tight solves"
    for case, d_y0, d_params, fd in _FD_CASES[seed]:
        got = call(adjoint_backward, case.args(), what=what, inputs=case.inputs())
        _check_backward_structure(got, case, what)
        value = float(np.sum(_asarray(got[0], dtype=float) * d_y0)) + sum(
            float(np.sum(_asarray(g, dtype=float) * d)) for g, d in zip(got[1], d_params))
        if not close(value, fd, "numerical"):
            hint = _backward_hint(case, got) if not _backward_matches(got, case.expected, "solver") else \
                "your pass matches the adjoint but not the differences: report this to your instructor"
            raise CheckFailure(what, inputs=dict(case.inputs(), v_y0=d_y0, v_params=d_params), expected=fd,
                               got=value, hint=hint)
    passed("adjoint_backward agrees with central differences of tight solves", len(_FD_CASES[seed]))
