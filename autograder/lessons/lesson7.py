r"""Lesson 7, neural ODEs and the adjoint method: the checks, the lesson's figures and widget.

Checks (each prints a ✓ line or raises :class:`~autograder.checks.CheckFailure`):

===================================  =================================================
``check_adjoint_dynamics``           Task 7.1, dy/dt = f and da/dt = −aᵀ∂f/∂y
``check_adjoint_dynamics_params``    Task 7.1, da_θ/dt = −aᵀ∂f/∂θ for every parameter
``check_backward_one_interval``      Task 7.2, the backward pass with one observation
``check_backward_observations``      Task 7.2, several observation times (the jumps)
``check_backward_differences``       Task 7.2, against central differences of tight solves
===================================  =================================================

Every expected value is computed here, at import, before any student cell runs:
the dynamics from ``autodiff_ref.jacfwd`` Jacobians, the backward pass from
``autodiff_ref.odeint``'s own adjoint (``vjp`` through ``odeint(method="rk4")``
with the same steps, so the two discretisations agree to round-off), and
central differences of solves with ``rtol = 1e-11``. The test systems are
written with numpy functions bound at import. ``hidden=True`` selects the
larger tables of the hidden tests.

Helpers the notebook gives the student: :func:`rk4_step` (one classical
Runge–Kutta step of a state that may be a tuple of arrays, such as
:class:`~autodiff_ref.ode.Adjoint`) and :func:`rk4_solve`.

Figures: :func:`lotka_volterra_widget` / :func:`plot_lotka_volterra`,
:func:`plot_convergence_orders`, :func:`compare_gradients` /
:func:`plot_gradient_comparison`, :func:`fit_lotka_volterra` /
:func:`plot_fit`, :func:`train_neural_ode` / :func:`plot_neural_ode`.
"""
import math
import time
import tracemalloc
import types

import numpy

from autodiff_ref import jacfwd as _jacfwd
from autodiff_ref import odeint as _odeint
from autodiff_ref import value_and_grad as _value_and_grad
from autodiff_ref import vjp as _vjp
from autodiff_ref.core import Tracer as _Tracer
from autodiff_ref.ode import Adjoint
from autograder.checks import TOLERANCES, CheckFailure, is_close, passed
from autograder.material import (  # noqa: F401 (the notebook and the checks use them)
    _tanh_field, _tree_map, decay, forced_oscillator, linear, lotka_volterra, rk4_solve, rk4_step)

# A private copy of numpy's namespace, taken at import (before any student cell
# runs): rebinding numpy.sin or numpy.allclose in a notebook cannot reach it.
np = types.SimpleNamespace(**vars(numpy))
_asarray, _array, _zeros, _stack = np.asarray, np.array, np.zeros, np.stack
_sin, _tanh, _log = np.sin, np.tanh, np.log
_perf = time.perf_counter
VISIBLE_SEED, HIDDEN_SEED = 7, 77
LV_TRUE = (1.5, 1.0, 3.0, 1.0)

# what the notebook imports by name
__all__ = ["Adjoint", "rk4_step", "rk4_solve", "decay", "lotka_volterra", "linear", "forced_oscillator"]


class _Named:
    """A vector field that prints as its formula in a failure message."""

    def __init__(self, name, f):
        self.name, self.f = name, f

    def __call__(self, *args):
        return self.f(*args)

    def __repr__(self):
        return self.name


DECAY = _Named("decay: dy/dt = −k·y", decay)
LV = _Named("Lotka–Volterra: dx/dt = a·x − b·x·y, dy/dt = −c·y + d·x·y", lotka_volterra)
LINEAR = _Named("linear: dy/dt = A @ y", linear)
FORCED = _Named("forced oscillator: dp/dt = v, dv/dt = −k·p − c·v + sin(w·t)", forced_oscillator)
MLP = _Named("MLP field: dy/dt = W2 @ tanh(W1 @ y + b1)", _tanh_field)


# ============================================================================
# The oracle: autodiff_ref's adjoint, and a reference with switchable mistakes
# ============================================================================
def _library_gradient(f, y0, ts, params, ybars, steps):
    """(ȳ₀, θ̄) of L = Σᵢ⟨ȳᵢ, y(tᵢ)⟩ from autodiff_ref.odeint's adjoint (RK4, the same steps)."""
    step = float(ts[1] - ts[0]) / steps
    _, pullback = _vjp(lambda y, *p: _odeint(f, y, ts, *p, method="rk4", step=step), _asarray(y0, float),
                       *params)
    cotangents = pullback(ybars)
    return _out(cotangents[0]), tuple(_out(c) for c in cotangents[1:])


def _out(c):
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
        da = _out((-sign * (J @ _asarray(a, dtype=float).reshape(n))).reshape(np.shape(y)))
    dy = {"f": dy, "frozen": 0.0 * _asarray(dy), "negated": -_asarray(dy)}[y_mode]
    dparams = tuple(-sign * _asarray(c) if params_part else 0.0 * _asarray(c) for c in cotangents[1:])
    return Adjoint(dy, da, dparams)


def reference_backward(f, ts, ys, ybars, params, steps, *, jumps="right", forward=False, accumulate=True,
                       start="here", **dynamics):
    """(ȳ₀, θ̄) by the adjoint method with RK4 backwards; the keyword switches reproduce mistakes:
    jumps="none"/"shifted", forward=True (h > 0), accumulate=False, start="previous"
    (y from ys[i−1]), and the dynamics switches of :func:`reference_dynamics`."""
    def field(state, t):
        return reference_dynamics(f, state, t, params, **dynamics)
    a = _asarray(ybars[-1], dtype=float)
    a_params = tuple(_zeros(np.shape(p)) for p in params)
    for i in range(len(ts) - 1, 0, -1):
        h = (ts[i - 1] - ts[i]) / steps
        if forward:
            h = -h
        carried = a_params if accumulate else tuple(_zeros(np.shape(p)) for p in params)
        state = Adjoint(ys[i] if start == "here" else ys[i - 1], a, carried)
        for j in range(steps):
            state = rk4_step(field, state, ts[i] + j * h, h)
        a = state.a
        if jumps == "right":
            a = a + ybars[i - 1]
        elif jumps == "shifted":
            a = a + ybars[i]
        a_params = state.a_params
    return _out(a), tuple(_out(c) for c in a_params)


# ============================================================================
# Shared helpers of the checks
# ============================================================================
def _call(student, args, what, inputs):
    """The student's result, or a CheckFailure that names the input if the code raised."""
    try:
        return student(*args)
    except NotImplementedError as err:
        raise CheckFailure(what, inputs=inputs, got=f"NotImplementedError: {err}",
                           hint="this task is not done yet: replace `raise NotImplementedError()` "
                                "with your code") from None
    except Exception as err:  # the student's bug, reported on its input
        raise CheckFailure(what, inputs=inputs, got=f"{type(err).__name__}: {err}",
                           hint="your code raised an exception on this input") from None


def _floats(got):
    if isinstance(got, _Tracer):
        return None
    try:
        return _asarray(got, dtype=float)
    except (TypeError, ValueError):
        return None


def _same(got, target, rtol=1e-7, atol=1e-12):
    g, t = _floats(got), _asarray(target, dtype=float)
    return g is not None and g.shape == t.shape and is_close(g, t, rtol, atol)


def _close(got, expected, tol):
    rtol, atol = TOLERANCES[tol]
    e = _asarray(expected, dtype=float)
    scale = max(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
    g = _floats(got)
    return g is not None and g.shape == e.shape and is_close(g, e, rtol, atol * scale)


def _relative_error(got, expected):
    g, e = _floats(got), _asarray(expected, dtype=float)
    if g is None or g.shape != e.shape:
        return math.inf
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    diff = float(np.max(np.abs(g - e))) if e.size else 0.0
    return diff / scale if scale > 0 else diff


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
        a_params = tuple(_out(rng.normal(size=np.shape(p))) for p in params)
        out.append((f, Adjoint(y, a, a_params), t, params))
    return out


def _dynamics_expected(f, state, t, params):
    """dy = f, da = −Jᵀa with J = ∂f/∂y from jacfwd, da_θ = −(∂f/∂θ)ᵀa, also by jacfwd."""
    y, a = _asarray(state.y, dtype=float), _asarray(state.a, dtype=float)
    dy = _out(f(y if y.shape else float(y), t, *params))
    J = _asarray(_jacfwd(lambda yy: f(yy, t, *params))(y if y.shape else float(y)), dtype=float)
    n = int(y.size)
    da = _out(-(J.reshape(n, n).T @ a.reshape(n)).reshape(y.shape))
    dparams = []
    for i, p in enumerate(params):
        def of_param(q, i=i):
            full = list(params)
            full[i] = q
            return f(y if y.shape else float(y), t, *full)
        Jp = _asarray(_jacfwd(of_param)(p), dtype=float).reshape(n, -1)
        dparams.append(_out(-(a.reshape(n) @ Jp).reshape(np.shape(p))))
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
        v = _floats(value)
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
        v = _floats(c)
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
                    _same(g, e) for g, e in zip(got, target)):
                return message
        elif _same(got, target):
            return message
    return {"y": "dy/dt = f(y, t, θ)",
            "a": "da/dt = −aᵀ∂f/∂y: with dy, pullback = vjp(lambda y, *p: f(y, t, *p), state.y, *params), "
                 "it is −pullback(state.a)[0]",
            "a_params": "da_θ/dt = −aᵀ∂f/∂θ: the negated pullback items for the parameters, "
                        "−pullback(state.a)[1:]"}[field]


def _run_dynamics(adjoint_dynamics, hidden, fields, what_suffix):
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    for (f, state, t, params), expected in zip(_DYNAMICS_CASES[seed], _DYNAMICS_TABLE[seed]):
        what = f"adjoint_dynamics(f, state, t, params){what_suffix}"
        inputs = dict(f=f, y=state.y, a=state.a, t=t, params=params)
        got = _call(adjoint_dynamics, (f, _state_copy(state), t, params), what, inputs)
        _check_structure(got, state, params, what, inputs)
        for field in fields:
            index = ("y", "a", "a_params").index(field)
            g, e = got[index], expected[index]
            if field == "a_params":
                ok = all(_close(gi, ei, "exact") for gi, ei in zip(g, e))
            else:
                ok = _close(g, e, "exact")
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
        self.expected = _library_gradient(f, y0, self.ts, self.params, self.ybars, steps)
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
    g = _floats(y0_bar)
    if g is None or g.shape != np.shape(case.y0):
        raise CheckFailure(what + ", dL/dy0", inputs=case.inputs(), expected=case.expected[0], got=y0_bar,
                           hint=f"dL/dy0 has the shape of y0, {np.shape(case.y0)}")
    if not isinstance(params_bar, (tuple, list)) or len(params_bar) != k:
        raise CheckFailure(what + ", dL/dθ", inputs=case.inputs(), expected=case.expected[1], got=params_bar,
                           hint=f"return a tuple of {k} parameter adjoints, one per entry of params")
    for i, (c, p) in enumerate(zip(params_bar, case.params)):
        v = _floats(c)
        if v is None or v.shape != np.shape(p):
            raise CheckFailure(what + f", dL/dθ[{i}]", inputs=case.inputs(), expected=case.expected[1][i],
                               got=c, hint="each parameter adjoint has the shape of its parameter")


def _backward_matches(got, expected, tol):
    return _close(got[0], expected[0], tol) and all(_close(g, e, tol) for g, e in zip(got[1], expected[1]))


def _backward_hint(case, got):
    for target, message in _backward_variants(case):
        if _backward_matches(got, target, "exact"):
            return message
    if not _close(got[0], case.expected[0], "solver") and all(
            _close(g, e, "solver") for g, e in zip(got[1], case.expected[1])):
        return ("dL/dθ is right but dL/dy0 is not: at the end, a(t₀) plus the cotangent ȳ₀ at the first "
                "time is dL/dy0")
    err = max([_relative_error(got[0], case.expected[0])] +
              [_relative_error(g, e) for g, e in zip(got[1], case.expected[1])])
    if err < 1e-3:
        return (f"close, but not within the tolerance (relative error {err:.1e}): use RK4 with exactly "
                "`steps` equal steps per interval on the whole state (y, a, a_params) together, starting "
                "each interval from the stored ys[i]")
    return ("integrate Adjoint(ys[i], a, a_params) from ts[i] back to ts[i − 1] with rk4_step and your "
            "adjoint_dynamics, then add ybars[i − 1] to a")


def _run_backward(adjoint_backward, cases, what):
    for case in cases:
        got = _call(adjoint_backward, case.args(), what, case.inputs())
        _check_backward_structure(got, case, what)
        if not _backward_matches(got, case.expected, "solver"):
            wrong_y0 = not _close(got[0], case.expected[0], "solver")
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
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    n = _run_backward(adjoint_backward, _ONE_INTERVAL[seed], "adjoint_backward(f, ts, ys, ybars, params, steps)")
    passed("adjoint_backward matches autodiff_ref's adjoint with one observation time", n)


def check_backward_observations(adjoint_backward, *, hidden=False):
    """Task 7.2: several observation times (jumps), time-dependent f, against autodiff_ref's adjoint."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    n = _run_backward(adjoint_backward, _OBSERVATIONS[seed], "adjoint_backward(f, ts, ys, ybars, params, steps)")
    passed("adjoint_backward matches autodiff_ref's adjoint with several observation times", n)


# ---- central differences of tight solves -----------------------------------------------------
def _loss(case, y0, params):
    ys = _odeint(case.f, y0, case.ts, *params, rtol=1e-11, atol=1e-12)
    return float(np.sum(_asarray(ys) * case.ybars))


def _fd_table(case, rng, h=1e-5):
    """Directional derivatives of L along one random direction in (y0, θ) by central differences."""
    d_y0 = _out(rng.normal(size=np.shape(case.y0)))
    d_params = tuple(_out(rng.normal(size=np.shape(p))) for p in case.params)
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
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "⟨adjoint_backward(...), v⟩ against central differences of tight solves"
    for case, d_y0, d_params, fd in _FD_CASES[seed]:
        got = _call(adjoint_backward, case.args(), what, case.inputs())
        _check_backward_structure(got, case, what)
        value = float(np.sum(_asarray(got[0], dtype=float) * d_y0)) + sum(
            float(np.sum(_asarray(g, dtype=float) * d)) for g, d in zip(got[1], d_params))
        rtol, atol = TOLERANCES["numerical"]
        if not is_close(value, fd, rtol, atol * max(1.0, abs(fd))):
            hint = _backward_hint(case, got) if not _backward_matches(got, case.expected, "solver") else \
                "your pass matches the adjoint but not the differences: report this to your instructor"
            raise CheckFailure(what, inputs=dict(case.inputs(), v_y0=d_y0, v_params=d_params), expected=fd,
                               got=value, hint=hint)
    passed("adjoint_backward agrees with central differences of tight solves", len(_FD_CASES[seed]))


# ============================================================================
# Figures and measurements
# ============================================================================
BLUE, ORANGE, GREEN, RED, VIOLET, GREY = "#1971c2", "#e8590c", "#2b8a3e", "#c92a2a", "#5f3dc4", "#868e96"


def euler_solve(f, y0, ts, params, steps):
    """y at every time of `ts` by explicit Euler with `steps` equal steps per interval."""
    y = _asarray(y0, dtype=float)
    out = [y]
    for i in range(1, len(ts)):
        h = (ts[i] - ts[i - 1]) / steps
        for j in range(steps):
            y = y + h * _asarray(f(y, ts[i - 1] + j * h, *params))
        out.append(y)
    return _stack(out)


def _reference_lv(theta, y0, ts):
    """Lotka–Volterra by scipy's DOP853 at rtol 1e-13: a reference independent of autodiff_ref."""
    from scipy.integrate import solve_ivp
    a, b, c, d = theta

    def rhs(t, y):
        return [a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]]
    return solve_ivp(rhs, (ts[0], ts[-1]), y0, method="DOP853", t_eval=ts, rtol=1e-13, atol=1e-13).y.T


def convergence_orders(T=2.0, k=1.0, lv_time=4.0):
    """Errors of Euler, RK4 (fixed steps) and dopri5 (tolerances) on decay (closed form) and on
    Lotka–Volterra (against scipy's DOP853 at 1e-13), with the number of f evaluations."""
    exact = math.exp(-k * T)
    out = {"decay": {}, "lv": {}}
    steps_list = [2 ** j for j in range(2, 12)]
    ts = _array([0.0, T])
    out["decay"]["h"] = [T / m for m in steps_list]
    out["decay"]["euler"] = [abs(float(euler_solve(decay, 1.0, ts, (k,), m)[-1]) - exact) for m in steps_list]
    out["decay"]["rk4"] = [abs(float(rk4_solve(decay, 1.0, ts, (k,), m)[-1]) - exact) for m in steps_list]
    theta, y0 = _array(LV_TRUE), _array([1.0, 1.0])
    tl = _array([0.0, lv_time])
    ref = _reference_lv(theta, y0, tl)[-1]
    lv = out["lv"]
    lv["euler"] = [(m, float(np.max(np.abs(euler_solve(lotka_volterra, y0, tl, (theta,), m)[-1] - ref))))
                   for m in (2 ** j for j in range(6, 16, 1))]
    lv["rk4"] = [(4 * m, float(np.max(np.abs(rk4_solve(lotka_volterra, y0, tl, (theta,), m)[-1] - ref))))
                 for m in (2 ** j for j in range(4, 12))]
    lv["dopri5"] = []
    for tol in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12):
        ys, stats = _odeint(lotka_volterra, y0, tl, theta, rtol=tol, atol=tol, return_stats=True)
        lv["dopri5"].append((stats.evaluations, float(np.max(np.abs(ys[-1] - ref))), tol))
    return out


def plot_convergence_orders(result, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12.5, 4.5))
    ax, ax2 = axes
    d = result["decay"]
    h = _asarray(d["h"])
    ax.loglog(h, d["euler"], "o-", color=ORANGE, lw=2, label="Euler")
    ax.loglog(h, d["rk4"], "s-", color=BLUE, lw=2, label="RK4")
    ax.loglog(h, d["euler"][0] * (h / h[0]), ":", color=ORANGE, alpha=0.7, label="slope 1")
    ax.loglog(h, d["rk4"][0] * (h / h[0]) ** 4, ":", color=BLUE, alpha=0.7, label="slope 4")
    ax.axhline(2.2e-16 * math.exp(-2.0), color=GREY, lw=0.8, ls="--", label="rounding: machine ε × y(2)")
    ax.set_xlabel("step size h")
    ax.set_ylabel("error at T = 2")
    ax.set_title("dy/dt = −y: the error shrinks like h¹ (Euler) and h⁴ (RK4)", fontsize=10.5)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize=9, loc="lower right")
    lv = result["lv"]
    for key, color, marker, label in (("euler", ORANGE, "o", "Euler"), ("rk4", BLUE, "s", "RK4"),
                                      ("dopri5", GREEN, "^", "dopri5 (adaptive; tolerances 1e-3 … 1e-12)")):
        pts = _asarray([p[:2] for p in lv[key]])
        ax2.loglog(pts[:, 0], np.maximum(pts[:, 1], 1e-16), marker=marker, color=color, lw=2, label=label)
    ax2.set_xlabel("evaluations of f")
    ax2.set_ylabel("error at t = 4 (max over x, y)")
    ax2.set_title("Lotka–Volterra: accuracy for the work", fontsize=10.5)
    ax2.grid(True, which="major", alpha=0.25)
    ax2.legend(fontsize=9, loc="upper right")
    return axes


# ---- Lotka–Volterra ------------------------------------------------------------------------
def conserved(theta, prey, predators):
    r"""V = d·x − c·ln x + b·y − a·ln y, constant along every Lotka–Volterra orbit."""
    a, b, c, d = theta
    return d * prey - c * _log(prey) + b * predators - a * _log(predators)


def plot_lotka_volterra(a=1.5, b=1.0, c=3.0, d=1.0, x0=1.0, y0=1.0, T=15.0, axes=None):
    """Populations against time, and the orbit in the phase plane with level sets of V."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12.5, 4.6), gridspec_kw={"width_ratios": [1.35, 1]})
    ax, ax2 = axes
    theta = (a, b, c, d)
    ts = np.linspace(0.0, T, 751)
    ys = _asarray(_odeint(lotka_volterra, _array([x0, y0]), ts, _array(theta), rtol=1e-9, atol=1e-11))
    ax.plot(ts, ys[:, 0], color=BLUE, lw=2, label="prey x(t)")
    ax.plot(ts, ys[:, 1], color=RED, lw=2, label="predators y(t)")
    ax.axhline(c / d, color=BLUE, lw=0.8, ls=":")
    ax.axhline(a / b, color=RED, lw=0.8, ls=":")
    ax.set_xlabel("time t")
    ax.set_ylabel("population")
    ax.set_xlim(0, T)
    ax.set_ylim(0, 1.25 * float(np.max(ys)))      # room for the legend above the peaks
    ax.grid(alpha=0.25)
    ax.legend(fontsize=9, loc="upper center", ncol=2)
    V = conserved(theta, ys[:, 0], ys[:, 1])
    drift = float(np.max(np.abs(V - V[0])))
    ax.set_title(f"a = {a:g}, b = {b:g}, c = {c:g}, d = {d:g}; dotted: equilibrium x = c/d, y = a/b",
                 fontsize=10.5)
    top_x = max(2.5 * c / d, 1.15 * float(np.max(ys[:, 0])))
    top_y = max(2.5 * a / b, 1.15 * float(np.max(ys[:, 1])))
    gx, gy = np.linspace(top_x / 200, top_x, 200), np.linspace(top_y / 200, top_y, 200)
    X, Y = np.meshgrid(gx, gy)
    levels = np.quantile(conserved(theta, X, Y), np.linspace(0.02, 0.6, 12))
    ax2.contour(X, Y, conserved(theta, X, Y), levels=np.unique(levels), colors=GREY, linewidths=0.6, alpha=0.6)
    qx, qy = np.meshgrid(np.linspace(top_x / 12, top_x, 11), np.linspace(top_y / 12, top_y, 11))
    u, v = a * qx - b * qx * qy, -c * qy + d * qx * qy
    speed = np.sqrt(u * u + v * v) + 1e-12
    ax2.quiver(qx, qy, u / speed, v / speed, color=GREY, alpha=0.45, width=0.003, scale=30)
    ax2.plot(ys[:, 0], ys[:, 1], color=VIOLET, lw=2.2, label="orbit from (x₀, y₀)")
    ax2.plot([x0], [y0], "s", color="black", ms=6, label="start")
    ax2.plot([c / d], [a / b], "*", color="gold", mec="black", ms=13, label="equilibrium (c/d, a/b)")
    ax2.set_xlim(0, top_x)
    ax2.set_ylim(0, top_y)
    ax2.set_xlabel("prey x")
    ax2.set_ylabel("predators y")
    ax2.set_title(f"phase plane; V = dx − c ln x + by − a ln y varies by {drift:.0e}", fontsize=10.5)
    ax2.legend(fontsize=8.5, loc="upper right")
    return axes


def lotka_volterra_widget():
    """Sliders for a, b, c, d and the starting populations."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(a, b, c, d, x0, y0):
        plot_lotka_volterra(a, b, c, d, x0, y0)
        plt.tight_layout()
        plt.show()

    style = {"description_width": "initial"}

    def slider(value, lo, hi, label):
        return widgets.FloatSlider(value=value, min=lo, max=hi, step=0.05, description=label,
                                   continuous_update=False, style=style)
    controls = dict(a=slider(1.5, 0.2, 3.0, "a (prey growth)"), b=slider(1.0, 0.2, 3.0, "b (predation)"),
                    c=slider(3.0, 0.2, 4.0, "c (predator death)"), d=slider(1.0, 0.2, 3.0, "d (predator growth)"),
                    x0=slider(1.0, 0.1, 5.0, "x₀ (prey)"), y0=slider(1.0, 0.1, 5.0, "y₀ (predators)"))
    out = widgets.interactive_output(draw, controls)
    ui = widgets.VBox([widgets.HBox([controls["a"], controls["b"], controls["x0"]]),
                       widgets.HBox([controls["c"], controls["d"], controls["y0"]])])
    return widgets.VBox([ui, out])


# ---- the adjoint, drawn ----------------------------------------------------------------------
def adjoint_trajectory(f, ts, params, y0, ybars, steps):
    """The backward solve of the adjoint method, step by step: times, y(t) recomputed
    backwards, a(t) (with its jumps) — for a figure. Uses the reference dynamics."""
    step = float(ts[1] - ts[0]) / steps
    ys = _asarray(_odeint(f, _asarray(y0, float), ts, *params, method="rk4", step=step))

    def field(state, t):
        return reference_dynamics(f, state, t, params)
    times, states, a = [], [], _asarray(ybars[-1], dtype=float)
    a_params = tuple(_zeros(np.shape(p)) for p in params)
    for i in range(len(ts) - 1, 0, -1):
        h = (ts[i - 1] - ts[i]) / steps
        state = Adjoint(ys[i], a, a_params)
        times.append(ts[i])
        states.append(state)
        for j in range(steps):
            state = rk4_step(field, state, ts[i] + j * h, h)
            times.append(ts[i] + (j + 1) * h)
            states.append(state)
        a, a_params = state.a + ybars[i - 1], state.a_params
    times.append(ts[0])
    states.append(Adjoint(ys[0], a, a_params))
    return dict(t=_asarray(times), y=_stack([s.y for s in states]), a=_stack([s.a for s in states]),
                a_params=_stack([np.concatenate([np.ravel(c) for c in s.a_params]) for s in states]),
                ts=ts, ys=ys, ybars=_asarray(ybars), f=f, params=params)


def plot_adjoint_trajectory(tr, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(3, 1, figsize=(10, 7.4), sharex=True,
                               gridspec_kw={"height_ratios": [1, 1.2, 1.2]})
    ax, ax2, ax3 = axes
    fine = np.linspace(tr["ts"][0], tr["ts"][-1], 400)
    forward = _asarray(_odeint(tr["f"], tr["ys"][0], fine, *tr["params"], rtol=1e-9, atol=1e-11))
    ax.plot(fine, forward[:, 0], color=BLUE, lw=1.2, alpha=0.5)
    ax.plot(fine, forward[:, 1], color=RED, lw=1.2, alpha=0.5)
    ax.plot(tr["t"], tr["y"][:, 0], "--", color=BLUE, lw=2, label="prey, recomputed backwards")
    ax.plot(tr["t"], tr["y"][:, 1], "--", color=RED, lw=2, label="predators, recomputed backwards")
    ax.plot(tr["ts"], tr["ys"][:, 0], "o", color=BLUE, ms=6)
    ax.plot(tr["ts"], tr["ys"][:, 1], "o", color=RED, ms=6)
    ax.set_ylabel("y(t)")
    ax.legend(fontsize=8.5, loc="upper right")
    ax.set_title("the backward solve, right to left: y recomputed through the observations (dots); "
                 "a jumps by ∂L/∂y(tᵢ) at each", fontsize=10.5)
    ax2.plot(tr["t"], tr["a"][:, 0], color=BLUE, lw=2, label="a₁ = ∂L/∂x(t)")
    ax2.plot(tr["t"], tr["a"][:, 1], color=RED, lw=2, label="a₂ = ∂L/∂y(t)")
    for t in tr["ts"]:
        for a in (ax, ax2, ax3):
            a.axvline(t, color=GREY, lw=0.6, ls=":")
    ax2.set_ylabel("adjoint a(t)")
    ax2.legend(fontsize=8.5, loc="lower right")
    names = ["a", "b", "c", "d"]
    colors = [GREEN, ORANGE, VIOLET, GREY]
    for j in range(tr["a_params"].shape[1]):
        ax3.plot(tr["t"], tr["a_params"][:, j], color=colors[j % 4], lw=2, label=f"a_θ for {names[j % 4]}")
    ax3.set_ylabel("parameter adjoint")
    ax3.set_xlabel("time t  (the backward solve runs from right to left)")
    ax3.legend(fontsize=8.5, loc="lower right", ncol=2)
    for a in (ax, ax2, ax3):
        a.grid(alpha=0.2)
    return axes


# ---- adjoint vs through the solver vs finite differences --------------------------------------
def _lv_loss(y0, theta, ts, tol, adjoint=True):
    return np.sum(_odeint(lotka_volterra, y0, ts, theta, rtol=tol, atol=tol, adjoint=adjoint) ** 2)


def _peak(fn):
    tracemalloc.start()
    value = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return value, peak


def _seconds(fn, repeats=3):
    best = math.inf
    for _ in range(repeats):
        t0 = _perf()
        fn()
        best = min(best, _perf() - t0)
    return best


def _lv_problem(T, observations):
    ts = np.linspace(0.0, T, observations)
    point = np.concatenate([_array([1.0, 1.0]), _array(LV_TRUE)])

    def loss_of(v, tol, adjoint=True):
        return _lv_loss(v[:2], v[2:], ts, tol, adjoint)
    return ts, point, loss_of


def _gradient_methods(loss_of, point, tol, fd_step):
    from autodiff_ref import grad
    return {
        "adjoint": lambda: _asarray(grad(lambda v: loss_of(v, tol))(point)),
        "through the solver": lambda: _asarray(grad(lambda v: loss_of(v, tol, adjoint=False))(point)),
        "central differences": lambda: _asarray([
            (float(loss_of(point + fd_step * e, tol)) - float(loss_of(point - fd_step * e, tol))) / (2 * fd_step)
            for e in numpy.eye(len(point))]),
    }


def lv_sensitivity_gradient(point, ts, tol=1e-12):
    r"""∂L/∂(x₀, y₀, a, b, c, d) of L = Σᵢ‖y(tᵢ)‖² by forward sensitivities with scipy's DOP853:
    the 2×6 sensitivity S = ∂y/∂(y₀, θ) obeys Ṡ = (∂f/∂y) S + [0 | ∂f/∂θ], S(0) = [I | 0], with
    the Jacobians written by hand — an oracle that shares no code with autodiff_ref."""
    from scipy.integrate import solve_ivp
    a, b, c, d = point[2:]

    def field(t, state):
        x, y = state[0], state[1]
        S = state[2:].reshape(2, 6)
        Jy = numpy.array([[a - b * y, -b * x], [d * y, -c + d * x]])
        Jtheta = numpy.array([[0, 0, x, -x * y, 0, 0], [0, 0, 0, 0, -y, x * y]])
        return numpy.concatenate([[a * x - b * x * y, -c * y + d * x * y], (Jy @ S + Jtheta).ravel()])
    start = numpy.concatenate([point[:2], numpy.eye(2, 6).ravel()])
    out = solve_ivp(field, (ts[0], ts[-1]), start, t_eval=ts, method="DOP853", rtol=tol, atol=tol).y.T
    ys, S = out[:, :2], out[:, 2:].reshape(-1, 2, 6)
    return numpy.einsum("ti,tij->j", 2 * ys, S)


def compare_gradients(tols=(1e-4, 1e-6, 1e-8, 1e-10), T=10.0, observations=20, fd_step=1e-5):
    """∂L/∂(x₀, y₀, a, b, c, d) of L = Σᵢ‖y(tᵢ)‖² (Lotka–Volterra, θ = (1.5, 1, 3, 1), y₀ = (1, 1))
    three ways at each tolerance: the adjoint method, reverse mode through the solver's steps,
    central differences (12 solves, step `fd_step`). Relative errors against scipy's forward
    sensitivities at rtol = atol = 1e-12 (:func:`lv_sensitivity_gradient`), and the seconds one
    gradient took (a single run: on a busy machine expect some noise)."""
    from autograder.lessons.lesson6 import one_blas_thread
    ts, point, loss_of = _lv_problem(T, observations)
    reference = lv_sensitivity_gradient(point, ts)
    rows = []
    with one_blas_thread():
        for tol in tols:
            steps = _odeint(lotka_volterra, point[:2], ts, point[2:], rtol=tol, atol=tol,
                            return_stats=True)[1].steps
            row = dict(tol=tol, steps=steps)
            for name, fn in _gradient_methods(loss_of, point, tol, fd_step).items():
                t0 = _perf()
                value = fn()
                seconds = _perf() - t0
                row[name] = dict(error=float(np.max(np.abs(value - reference)) / np.max(np.abs(reference))),
                                 seconds=seconds, gradient=value)
            rows.append(row)
    return dict(rows=rows, reference=reference, ts=ts)


def measure_gradient_memory(tols=(1e-3, 1e-4, 1e-5), T=10.0, observations=20, fd_step=1e-5):
    """tracemalloc's peak during one gradient, for each method and tolerance (and the step count).
    Central differences keep nothing between their plain solves, so their peak is measured at
    the first tolerance only (tracemalloc slows every allocation down several times)."""
    ts, point, loss_of = _lv_problem(T, observations)
    rows = []
    for k, tol in enumerate(tols):
        steps = _odeint(lotka_volterra, point[:2], ts, point[2:], rtol=tol, atol=tol,
                        return_stats=True)[1].steps
        row = dict(tol=tol, steps=steps)
        for name, fn in _gradient_methods(loss_of, point, tol, fd_step).items():
            if name == "central differences" and k > 0:
                row[name] = rows[0][name]
            else:
                row[name] = _peak(fn)[1]
        rows.append(row)
    return rows


def plot_gradient_comparison(result, memory, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    rows = result["rows"]
    tols = [r["tol"] for r in rows]
    styles = (("adjoint", BLUE, "o"), ("through the solver", RED, "s"), ("central differences", ORANGE, "^"))
    for name, color, marker in styles:
        axes[0].loglog(tols, [max(r[name]["error"], 1e-16) for r in rows], marker=marker, color=color, lw=2,
                       label=name)
        axes[1].plot([r["steps"] for r in rows], [r[name]["seconds"] * 1e3 for r in rows], marker=marker,
                     color=color, lw=2, label=name)
        axes[2].semilogy([r["steps"] for r in memory], [r[name] / 1024 for r in memory], marker=marker,
                         color=color, lw=2, label=name)
    axes[0].invert_xaxis()
    axes[0].set_xlabel("solver tolerance (rtol = atol)")
    axes[0].set_ylabel("relative error of the gradient")
    axes[0].set_title("accuracy", fontsize=10.5)
    axes[1].set_xlabel("steps of the forward solve")
    axes[1].set_ylabel("time of one gradient (ms)")
    axes[1].set_title("time (one run each)", fontsize=10.5)
    axes[1].set_ylim(bottom=0)
    axes[2].set_xlabel("steps of the forward solve")
    axes[2].set_ylabel("peak memory (KiB, tracemalloc)")
    axes[2].set_title("memory", fontsize=10.5)
    for ax in axes:
        ax.grid(True, which="major", alpha=0.25)
    axes[0].legend(fontsize=8.5)
    plt.suptitle("∂L/∂(x₀, y₀, a, b, c, d) of L = Σ‖y(tᵢ)‖² over 20 times on [0, 10], Lotka–Volterra",
                 fontsize=11.5)
    return axes


# ---- fitting Lotka–Volterra to noisy data -------------------------------------------------------
def lv_data(T=4.5, observations=19, noise=0.05, seed=7):
    """Noisy observations of the true Lotka–Volterra (θ = (1.5, 1, 3, 1), y₀ = (1, 1))."""
    rng = numpy.random.default_rng(seed)
    ts = np.linspace(0.0, T, observations)
    clean = _reference_lv(LV_TRUE, [1.0, 1.0], ts)
    return ts, clean + noise * rng.normal(size=clean.shape), clean


def fit_lotka_volterra(ts, data, start=(1.2, 0.8, 2.6, 1.2), iterations=50, lr=0.008, momentum=0.7, tol=1e-5):
    r"""Fit θ = (a, b, c, d) by gradient descent with momentum on log θ (so θ stays positive):
    :math:`v \leftarrow \beta v - \eta\nabla L`, :math:`\log\theta \leftarrow \log\theta + v`. The loss is
    the mean squared misfit to `data`, its gradient by the adjoint method (dopri5 at rtol = tol).
    Returns the loss and θ after every iteration."""
    y0 = _array([1.0, 1.0])

    def loss(log_theta):
        ys = _odeint(lotka_volterra, y0, ts, np.exp(log_theta), rtol=tol, atol=tol * 1e-2)
        return np.mean((ys - data) ** 2)
    value_and_gradient = _value_and_grad(loss)
    t0 = _perf()
    p = np.log(_array(start, dtype=float))
    velocity = _zeros(4)
    losses, thetas = [], [np.exp(p)]
    for _ in range(iterations):
        value, g = value_and_gradient(p)
        losses.append(float(value))
        velocity = momentum * velocity - lr * g
        p = p + velocity
        thetas.append(np.exp(p))
    seconds = _perf() - t0
    return dict(loss=losses, thetas=_stack(thetas), theta=np.exp(p), final=float(loss(p)), lr=lr,
                momentum=momentum, seconds=seconds, start=_array(start, dtype=float))


def plot_fit(ts, data, clean, fit, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(15, 4.3), gridspec_kw={"width_ratios": [1, 1, 1.45]})
    ax, ax1, ax2 = axes
    noise_floor = float(np.mean((data - clean) ** 2))
    k = np.arange(len(fit["loss"]))
    ax.semilogy(k, fit["loss"], color=BLUE, lw=2,
                label=f"gradient descent on log θ, step {fit['lr']:g}, momentum {fit['momentum']:g}")
    ax.axhline(noise_floor, color=GREY, ls="--", lw=1, label=f"noise level, mean (data − truth)² = {noise_floor:.4f}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss: mean squared misfit")
    ax.set_title(f"loss: {fit['loss'][0]:.3f} → {fit['final']:.4f}", fontsize=10.5)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize=8, loc="upper right")
    colors = [GREEN, ORANGE, VIOLET, GREY]
    for j, name in enumerate("abcd"):
        ax1.plot(np.arange(len(fit["thetas"])), fit["thetas"][:, j] / LV_TRUE[j], color=colors[j], lw=2,
                 label=f"{name} / {LV_TRUE[j]:g}")
    ax1.axhline(1.0, color="black", lw=0.8)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("parameter / true value")
    ax1.set_title("the parameters", fontsize=10.5)
    ax1.grid(alpha=0.25)
    ax1.legend(fontsize=8.5, ncol=2)
    fine = np.linspace(ts[0], ts[-1], 300)
    y0 = _array([1.0, 1.0])
    for theta, style, label in ((fit["start"], dict(ls=":", lw=1.6), "initial guess"),
                                (fit["theta"], dict(ls="-", lw=2.2), "fitted"),
                                (_array(LV_TRUE), dict(ls="--", lw=1.2, alpha=0.8), "truth")):
        ys = _asarray(_odeint(lotka_volterra, y0, fine, _array(theta), rtol=1e-8, atol=1e-10))
        ax2.plot(fine, ys[:, 0], color=BLUE, **style)
        ax2.plot(fine, ys[:, 1], color=RED, **style)
        ax2.plot([], [], color="black", **style, label=label)
    ax2.plot(ts, data[:, 0], "o", color=BLUE, ms=5, label="data: prey")
    ax2.plot(ts, data[:, 1], "o", color=RED, ms=5, label="data: predators")
    ax2.set_title("fitted θ = (" + ", ".join(f"{v:.3f}" for v in fit["theta"]) + "); true (1.5, 1, 3, 1)",
                  fontsize=10.5)
    ax2.set_xlabel("time t")
    ax2.set_ylabel("population")
    ax2.grid(alpha=0.2)
    ax2.legend(fontsize=8, ncol=2, loc="upper right")
    return axes


# ---- a small neural ODE -------------------------------------------------------------------------
SPIRAL = _array([[-0.1, 2.0], [-2.0, -0.1]])


def spiral_data(T=3.0, observations=16):
    """A damped spiral: dy/dt = A y with A = [[−0.1, 2], [−2, −0.1]], y₀ = (2, 0), solved exactly."""
    from scipy.linalg import expm
    ts = np.linspace(0.0, T, observations)
    y0 = _array([2.0, 0.0])
    return ts, y0, _stack([expm(SPIRAL * t) @ y0 for t in ts])


def init_mlp(hidden=16, seed=0):
    rng = numpy.random.default_rng(seed)
    return [0.5 * rng.normal(size=(hidden, 2)), _zeros(hidden),
            0.5 * rng.normal(size=(2, hidden)) / math.sqrt(hidden), _zeros(2)]


def mlp_field(y, t, W1, b1, W2, b2):
    r"""The learned vector field :math:`f(y) = W_2\tanh(W_1 y + b_1) + b_2`."""
    return W2 @ _tanh(W1 @ y + b1) + b2


def train_neural_ode(ts, y0, data, params, steps=150, lr=0.02, rk4_step_size=0.1):
    """Adam on the mean squared misfit of odeint(mlp_field, RK4); gradients by the adjoint method."""
    params = [_asarray(p, dtype=float).copy() for p in params]

    def loss(*p):
        return np.mean((_odeint(mlp_field, y0, ts, *p, method="rk4", step=rk4_step_size) - data) ** 2)
    value_and_gradient = _value_and_grad(loss, argnums=(0, 1, 2, 3))
    m = [_zeros(np.shape(p)) for p in params]
    v = [_zeros(np.shape(p)) for p in params]
    history = []
    t0 = _perf()
    for k in range(1, steps + 1):
        value, grads = value_and_gradient(*params)
        history.append(float(value))
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] = params[i] - lr * (m[i] / (1 - 0.9 ** k)) / (np.sqrt(v[i] / (1 - 0.999 ** k)) + 1e-8)
    return dict(params=params, loss=history, final=float(loss(*params)), seconds=_perf() - t0)


def plot_neural_ode(ts, y0, data, trained, initial, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12.5, 4.8), gridspec_kw={"width_ratios": [1, 1.25]})
    ax, ax2 = axes
    ax.semilogy(np.arange(1, len(trained["loss"]) + 1), trained["loss"], color=BLUE, lw=2)
    ax.set_xlabel("Adam step")
    ax.set_ylabel("mean squared misfit")
    ax.set_title(f"training: {trained['loss'][0]:.2f} → {trained['final']:.4f} "
                 f"in {trained['seconds']:.1f} s", fontsize=10.5)
    ax.grid(True, which="major", alpha=0.25)
    lim = 2.6
    g = np.linspace(-lim, lim, 15)
    X, Y = np.meshgrid(g, g)
    pts = _stack([X.ravel(), Y.ravel()])
    W1, b1, W2, b2 = trained["params"]
    learned = W2 @ _tanh(W1 @ pts + b1[:, None]) + b2[:, None]
    ax2.quiver(X, Y, learned[0].reshape(X.shape), learned[1].reshape(X.shape), color=VIOLET, alpha=0.45,
               width=0.003, label="learned field f(y)")
    fine = np.linspace(ts[0], 2 * ts[-1], 300)
    true = _asarray(_odeint(linear, y0, fine, SPIRAL, rtol=1e-9, atol=1e-11))
    ax2.plot(true[:, 0], true[:, 1], "--", color=GREY, lw=1.4, label="true spiral (to twice the data's time)")
    for params, color, label in ((initial, ORANGE, "untrained network"), (trained["params"], BLUE, "trained network")):
        ys = _asarray(_odeint(mlp_field, y0, fine, *params, method="rk4", step=0.05))
        inside = np.all(np.abs(ys) < 2 * lim, axis=1)
        ax2.plot(ys[inside, 0], ys[inside, 1], color=color, lw=2, label=label)
    ax2.plot(data[:, 0], data[:, 1], "o", color="black", ms=5, label="training data (t ≤ 3)")
    ax2.set_xlim(-lim, lim)
    ax2.set_ylim(-lim, lim)
    ax2.set_aspect("equal")
    ax2.set_title("phase plane: the neural ODE's field and trajectory", fontsize=10.5)
    ax2.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return axes
