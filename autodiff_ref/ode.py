r"""ODE solutions and their derivatives: forward sensitivities and the adjoint method.

``odeint(func, y0, t, *params)`` solves :math:`\dot y = f(y, t, \theta)`,
:math:`y(t_0) = y_0` and returns :math:`y(t_0), \dots, y(t_{N-1})`. Three ways
to differentiate it, three oracles for each other:

**Forward sensitivities** (``jvp`` through ``odeint``). The tangent
:math:`s(t) = \dot y(t)` obeys the linear *sensitivity equation*

.. math:: \dot s = \frac{\partial f}{\partial y} s + \frac{\partial f}{\partial\theta}\dot\theta,
          \qquad s(t_0) = \dot y_0 - f(y_0, t_0)\,\dot t_0,

solved together with y (one JVP of f per stage, all directions at once), and
the output tangent is :math:`s(t_i) + f(y(t_i), t_i)\,\dot t_i`.

**The adjoint method** (``grad``/``vjp``, ``adjoint=True``). With
:math:`L` depending on the outputs, the adjoint :math:`a(t) = \partial L/\partial y(t)`
and the parameter adjoint :math:`a_\theta` solve, backwards in time,

.. math:: \dot a = -a^\top \frac{\partial f}{\partial y}(y(t), t), \qquad
          \dot a_\theta = -a^\top \frac{\partial f}{\partial \theta}(y(t), t),

with :math:`a_\theta(t_{N-1}) = 0` and a jump :math:`a \mathrel{+}= \bar y_i` at each
observation time. At the end :math:`\bar y_0 = a(t_0)`, :math:`\bar\theta = a_\theta(t_0)`,
:math:`\bar t_i = \bar y_i^\top f(y(t_i), t_i)` for i ≥ 1 and
:math:`\bar t_0 = -a(t_0^+)^\top f(y_0, t_0)` (before the jump ȳ₀). One VJP of f per
stage gives both right-hand sides. Where y(t) comes from is the difference
between the two adjoints:

- ``adjoint="checkpoint"`` (the default of dopri5 and rodas3): from the forward
  solve, kept as checkpoints and dense output (:mod:`autodiff_ref.ode_dense`).
  As accurate as the forward solve; memory grows by n floats per step (or
  per K steps with ``checkpoint_every=K``).
- ``adjoint="backsolve"`` (the default of rk4, which lesson 7 builds the
  adjoint with): y is integrated backwards too, :math:`\dot y = f`, reset to the
  stored output y(tᵢ) at each observation time; memory independent of the
  number of steps. On a stiff problem the modes that decay forwards grow
  backwards: the gradient loses accuracy or the solve blows up.

**Through the solver** (``adjoint=False``): the solver runs on the tracers
and every step lands on the tape (memory grows with the steps). The step
sizes chosen by the error control are treated as constants.

``odeint`` itself is a primitive (for ``adjoint=True``); its rules call
``odeint`` on augmented systems whose extra inputs are explicit parameters,
so derivatives of derivatives work too (they use backsolve: the checkpointed
adjoint runs on plain numbers). Stiff problems: ``method="rodas3"``
(:mod:`autodiff_ref.ode_stiff`), in every mode.
"""
import math
from typing import NamedTuple

import numpy as np

from .core import Primitive, Tracer, primal, new_level
from .dual import jvp, jvp_rules, _directions
from .reverse import Box, Tape, vjp, vjp_rules
from .implicit import ConvergenceError, _Rules, _memo
from .ode_dense import Trajectory, dopri5_dense, hermite_dense
from .ode_stiff import RODAS3, RosenbrockStepper
from scipy.linalg import lu_factor, lu_solve

__all__ = ["odeint", "Sensitivity", "Adjoint", "CheckpointAdjoint", "Cotangents", "ODEStats",
           "DOPRI5", "RK4"]


# ----------------------------------------------------------------------------
# Runge–Kutta tableaus
# ----------------------------------------------------------------------------
class Tableau(NamedTuple):
    c: tuple          # stage times, fractions of h
    a: tuple          # a[i]: the weights of the earlier stages in stage i
    b: tuple          # the weights of the solution
    e: tuple          # b − b̂: the weights of the error estimate (empty: fixed step)
    order: int
    error_order: int = 5  # the step-size control assumes err ∝ h^error_order


DOPRI5 = Tableau(
    c=(0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1),
    a=((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
       (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
       (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
       (35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)),
    b=(35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0),
    e=(71 / 57600, 0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40),
    order=5)

RK4 = Tableau(c=(0, 1 / 2, 1 / 2, 1), a=((), (1 / 2,), (0, 1 / 2), (0, 0, 1)),
              b=(1 / 6, 1 / 3, 1 / 3, 1 / 6), e=(), order=4)


class ODEStats(NamedTuple):
    steps: int        # accepted steps
    rejected: int     # rejected steps (dopri5)
    evaluations: int  # calls of f


class _Problem:
    """The static parameters of one odeint call (the field f, method, tolerances, adjoint)."""

    __slots__ = ("func", "method", "rtol", "atol", "step", "max_steps", "stats", "h_hint",
                 "adjoint_stats", "adjoint", "checkpoint_every", "trajectory", "blow_up_hint")

    def __init__(self, func, method, rtol, atol, step, max_steps, adjoint="backsolve",
                 checkpoint_every=1):
        self.func, self.method, self.rtol, self.atol = func, method, rtol, atol
        self.step, self.max_steps, self.stats = step, max_steps, None
        # the last accepted step size: a starting guess when the same system is solved
        # again from where it stopped (the adjoint solve, interval after interval)
        self.h_hint = None
        self.adjoint_stats = None  # ODEStats of the last backward (adjoint) solve, summed over intervals
        # "checkpoint": the forward solve records a Trajectory for the backward pass to read
        self.adjoint, self.checkpoint_every, self.trajectory = adjoint, checkpoint_every, None
        self.blow_up_hint = ""     # added to a blow-up error (the backsolve adjoint says why)

    def derived(self, func):
        """The same solver settings for an augmented system (which records nothing)."""
        return _Problem(func, self.method, self.rtol, self.atol, self.step, self.max_steps)

    def __repr__(self):
        return f"odeint({getattr(self.func, '__name__', 'func')}, method={self.method!r})"


# ----------------------------------------------------------------------------
# The solver. It runs on plain arrays (fast path) or on tracers (adjoint=False).
# ----------------------------------------------------------------------------
def _combination(weights, ks):
    """Σ wᵢ kᵢ over the nonzero weights."""
    total = None
    for w, k in zip(weights, ks):
        if w:
            total = w * k if total is None else total + w * k
    return total


class _Stepper:
    """One Runge–Kutta step of a tableau, and the error norm of dopri5."""

    def __init__(self, fun, tableau, rtol, atol):
        self.fun, self.tab, self.rtol, self.atol = fun, tableau, rtol, atol
        self.evaluations = 0
        self.a_rows = [np.array(a) for a in tableau.a]
        self.b, self.e = np.array(tableau.b), np.array(tableau.e)

    def step(self, y, t, h, k1):
        """(y_new, k_last, ks): the stages ks; k_last = f(y_new) when the tableau is FSAL."""
        tab, fun = self.tab, self.fun
        stages = len(tab.c)
        if isinstance(y, Tracer) or isinstance(h, Tracer) or isinstance(k1, Tracer):
            ks = [k1]
            for i in range(1, stages):
                point = y + h * _combination(tab.a[i], ks)
                ks.append(fun(point, t + tab.c[i] * h))
        else:
            ks = np.empty((stages, y.size))
            ks[0] = k1
            for i in range(1, stages):
                point = y + h * (self.a_rows[i] @ ks[:i])
                ks[i] = fun(point, t + tab.c[i] * h)
        self.evaluations += stages - 1
        if tab.e:  # dopri5: the last stage is f at the new point (first same as last)
            return point, ks[-1], ks
        if isinstance(ks, list):
            return y + h * _combination(tab.b, ks), None, ks
        return y + h * (self.b @ ks), None, ks

    def error_norm(self, y, y_new, h, ks):
        """RMS of the local error estimate, scaled by atol + rtol·|y|."""
        y, y_new, h = primal(y), primal(y_new), primal(h)
        if isinstance(ks, list):
            ks = np.stack([np.asarray(primal(k)).reshape(-1) for k in ks])
        err = h * (self.e @ ks.reshape(len(self.e), -1))
        scale = self.atol + self.rtol * np.maximum(np.abs(y), np.abs(y_new)).reshape(-1)
        return math.sqrt(np.mean((err / scale) ** 2)) if err.size else 0.0


def _initial_step(fun, y0, t0, f0, direction, rtol, atol, order):
    """Hairer, Nørsett & Wanner's starting step size (Solving ODEs I, II.4)."""
    y0, f0 = np.asarray(primal(y0)), np.asarray(primal(f0))
    scale = atol + rtol * np.abs(y0)
    d0, d1 = np.sqrt(np.mean((y0 / scale) ** 2)), np.sqrt(np.mean((f0 / scale) ** 2))
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    f1 = np.asarray(primal(fun(y0 + direction * h0 * f0, primal(t0) + direction * h0)))
    d2 = np.sqrt(np.mean(((f1 - f0) / scale) ** 2)) / h0
    h1 = max(1e-6, h0 * 1e-3) if max(d1, d2) <= 1e-15 else (0.01 / max(d1, d2)) ** (1 / (order + 1))
    return min(100 * h0, h1)


def _make_stepper(fun, problem):
    """The stepper of the problem's method; the stiff one needs f with its params explicit."""
    if problem.method == "rodas3":
        raw = getattr(fun, "raw", None)
        field, params = (raw, fun.params) if raw is not None else ((lambda y, t: fun(y, t)), ())
        return RosenbrockStepper(field, params, RODAS3, problem.rtol, problem.atol,
                                 system=getattr(fun, "rosenbrock_system", None))
    return _Stepper(fun, DOPRI5 if problem.method == "dopri5" else RK4, problem.rtol, problem.atol)


def _integrate(fun, y, times, problem, trajectory=None, only_last=False):
    """y at each of `times` (a list of scalars, monotone), as a list of flat states.

    With a :class:`~autodiff_ref.ode_dense.Trajectory`, every accepted step is
    recorded in it (plain arrays only: the forward solve of the checkpointed adjoint).
    `only_last` keeps only the state at the last time (the backward pass stops at
    every step of the forward solve and needs none of those states).
    """
    outputs = [y]
    if len(times) == 1:
        problem.stats = ODEStats(0, 0, 0)
        return outputs
    stepper = _make_stepper(fun, problem)
    t0, t_end = float(primal(times[0])), float(primal(times[-1]))
    direction = 1.0 if t_end > t0 else -1.0
    t = times[0]
    k1 = fun(y, t)
    stepper.evaluations += 1
    steps = rejected = 0
    if problem.method == "rk4":
        for t_next in times[1:]:
            m = max(1, math.ceil(abs(float(primal(t_next)) - float(primal(t))) / problem.step - 1e-9))
            h = (t_next - t) / m
            start = t
            for j in range(1, m + 1):
                if trajectory is not None:
                    trajectory.record(t, h, y)
                y, _, _ = stepper.step(y, t, h, k1)
                t = t_next if j == m else start + j * h
                k1 = fun(y, t)
                stepper.evaluations += 1
            steps += m
            outputs.append(y)
            if only_last:
                del outputs[:-1]
        problem.stats = ODEStats(steps, 0, stepper.evaluations)
        return outputs
    if problem.h_hint is None:
        h = direction * _initial_step(fun, y, t, k1, direction, problem.rtol, problem.atol,
                                      stepper.tab.order)
        stepper.evaluations += 1
    else:
        h = direction * problem.h_hint
    for t_next in times[1:]:
        while True:
            remaining = float(primal(t_next)) - float(primal(t))
            last = abs(h) >= abs(remaining) * (1 - 1e-12)
            h_try = t_next - t if last else h
            y_new, k_new, ks = stepper.step(y, t, h_try, k1)
            err = stepper.error_norm(y, y_new, h_try, ks)
            if steps + rejected >= problem.max_steps:
                raise ConvergenceError(
                    f"odeint(method={problem.method!r}) took {problem.max_steps} steps and reached only "
                    f"t = {float(primal(t)):.6g} of {t_end:.6g} (step size {abs(h):.3g}); the "
                    "problem may be stiff or blow up. Raise max_steps or loosen rtol/atol.")
            if not np.isfinite(err):
                raise ConvergenceError(
                    f"odeint(method={problem.method!r}): a non-finite state at t = {float(primal(t)):.6g}; the "
                    "solution blows up there" + problem.blow_up_hint)
            if err <= 1.0:
                steps += 1
                if trajectory is not None:
                    trajectory.record(t, h_try, y)
                factor = 10.0 if err == 0 else min(10.0, 0.9 * err ** (-1.0 / stepper.tab.error_order))
                h_new = float(primal(h_try)) * factor
                t = t_next if last else t + h_try
                y, k1 = y_new, k_new
                if not last:
                    h = h_new
                    continue
                if abs(h_new) > abs(h):  # a step cut short to hit t_next says little about h
                    h = h_new
                break
            else:
                rejected += 1
                h = float(primal(h_try)) * max(0.2, 0.9 * err ** (-1.0 / stepper.tab.error_order))
                if abs(h) < 1e-14 * max(1.0, abs(float(primal(t)))):
                    raise ConvergenceError(
                        f"odeint(method={problem.method!r}): the step size underflowed to {abs(h):.3g} at "
                        f"t = {float(primal(t)):.6g}; the problem is stiff or singular there")
        outputs.append(y)
        if only_last:
            del outputs[:-1]
    problem.stats = ODEStats(steps, rejected, stepper.evaluations)
    problem.h_hint = abs(h)
    return outputs


class _Field:
    """f on flat plain arrays: func(y, t, *params) with y reshaped, checked."""

    def __init__(self, func, shape, params):
        self.func, self.shape, self.params = func, shape, params

    def rosenbrock_system(self, flat, t, h, gamma):
        """The field's own block solver for rodas3 (augmented systems), or None."""
        system = getattr(self.func, "rosenbrock_system", None)
        return None if system is None else system(flat, t, h, gamma, *self.params)

    def __call__(self, flat, t):
        out = self.func(flat.reshape(self.shape) if self.shape else flat[0], t, *self.params)
        if isinstance(out, Tracer):
            raise ValueError(
                f"odeint: {getattr(self.func, '__name__', 'func')} returned a traced value although "
                "y, t and the parameters were plain numbers: it reads a variable being "
                "differentiated from its closure. Pass it as a parameter: "
                "odeint(func, y0, t, theta) with func(y, t, theta).")
        out = np.asarray(out, dtype=float)
        if out.shape != self.shape:
            raise ValueError(f"odeint: func returned shape {out.shape} but y has shape {self.shape}")
        return out.reshape(-1)

    def raw(self, flat, t, *params):
        """f on a flat state that may be a tracer (for J by forward mode): no checks."""
        y = np.reshape(flat, self.shape) if self.shape else flat[0]
        return np.reshape(self.func(y, t, *params), (-1,))


def _odeint_impl(y0, t, *params, problem):
    y0, t = np.asarray(y0, dtype=float), np.asarray(t, dtype=float)
    fun = _Field(problem.func, y0.shape, params)
    trajectory = None
    if problem.adjoint == "checkpoint":
        trajectory = problem.trajectory = _trajectory(fun, y0.size, problem)
    outputs = _integrate(fun, y0.reshape(-1), list(t), problem, trajectory)
    return np.stack(outputs).reshape(t.shape + y0.shape)


odeint_p = Primitive("odeint", _odeint_impl)


def _trajectory(fun, n, problem):
    """An empty Trajectory that replays this problem's steps and interpolates them."""
    stepper = _make_stepper(fun, problem)

    def replay(y, t, h):
        y_next, _, stages = stepper.step(y, t, h, fun(y, t))
        return y_next, stages
    dense = dopri5_dense if problem.method == "dopri5" else hermite_dense(fun)
    return Trajectory(n, problem.checkpoint_every, replay, dense)


# ----------------------------------------------------------------------------
# Augmented states: named fields packed into one flat vector for the solver
# ----------------------------------------------------------------------------
class Sensitivity(NamedTuple):
    """The forward-sensitivity system's state."""
    y: object     # y(t)
    s: object     # the tangent ∂y(t) · direction (trailing axis: one column per direction)


class Adjoint(NamedTuple):
    """The adjoint system's state, integrated backwards in time."""
    y: object            # y(t), recomputed backwards from the stored outputs
    a: object            # a(t) = ∂L/∂y(t)
    a_params: tuple      # ∫ₜ aᵀ ∂f/∂θ dt, one entry per parameter


class _Packing:
    """Named fields ↔ one flat vector (leaves in order, each with its shape)."""

    def __init__(self, shapes):
        self.shapes = [tuple(s) for s in shapes]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)

    def pack(self, leaves):
        return np.concatenate([np.reshape(leaf, (-1,)) for leaf in leaves])

    def unpack(self, flat):
        out = []
        for shape, start, stop in zip(self.shapes, self.offsets[:-1], self.offsets[1:]):
            piece = flat[int(start):int(stop)]
            out.append(np.reshape(piece, shape) if shape else piece[0])
        return out


class _SensitivityField:
    r"""f of the forward-sensitivity system; its params are (*θ, *θ̇ of the moving θ).

    For rodas3 it also hands the stepper its linear system by blocks: the
    Jacobian of (y, S) ↦ (f, JS + F θ̇) is [[J, 0], [M, I ⊗ J]] with
    M x = ∂(JS + Fθ̇)/∂y · x, so W = I/(hγ) − that is block lower triangular
    and every solve is two solves with the *one* factorised n×n matrix
    I/(hγ) − J of the step (all k columns of S at once) and a product M x;
    J, M and ∂/∂t come from one JVP with n + 1 directions per step, instead of
    n(k + 1) + 1 directions and a dense n(k + 1) system.
    """

    def __init__(self, func, y_shape, k, n_params, moving):
        self.func, self.y_shape, self.k, self.n_params, self.moving = func, y_shape, k, n_params, moving
        self.n, self.columns = int(np.prod(y_shape)), 1 if k is None else k
        self.packing = _Packing([y_shape, y_shape + (() if k is None else (k,))])

    def __call__(self, state, t, *args):
        params, tangents = args[:self.n_params], args[self.n_params:]
        now = Sensitivity(*self.packing.unpack(state))
        func, moving = self.func, self.moving

        def f(y, *moving_params):
            full = list(params)
            for i, p in zip(moving, moving_params):
                full[i] = p
            return func(y, t, *full)
        dy, ds = jvp(f, (now.y,) + tuple(params[i] for i in moving), (now.s,) + tuple(tangents))
        return self.packing.pack(Sensitivity(dy, ds))

    def rosenbrock_system(self, state, t, h, gamma, *args):
        """(solve, ∂/∂t of this field) for rodas3's W = I/(hγ) − ∂(this field)/∂state."""
        n = self.n
        J, M, f_t = _leading_columns(lambda st, s: self(st, s, *args), state, t, n)
        factors = lu_factor(np.eye(n) / (h * gamma) - J[:n], check_finite=False)

        def solve(b):
            x_y = lu_solve(factors, b[:n], check_finite=False)
            rhs = (b[n:] + M @ x_y).reshape(n, self.columns)
            # one column at a time: LAPACK's getrs with several right-hand sides goes through
            # threaded OpenBLAS code that costs ~2 ms per call on a busy 2-core machine
            columns = [lu_solve(factors, column, check_finite=False) for column in rhs.T]
            return np.concatenate([x_y, np.stack(columns, axis=1).reshape(-1)])
        return solve, f_t


def _leading_columns(field, state, t, n):
    r"""The first n columns of ∂field/∂state, split after row n, and ∂field/∂t: one JVP, n + 1 directions.

    For a state (y, rest) whose first n entries drive the rest, these columns
    [[A], [B]] with A = ∂ẏ/∂y and B = ∂(rest)′/∂y are all a block solver needs.
    """
    state_directions = np.zeros((state.size, n + 1))
    state_directions[:n, :n] = np.eye(n)
    time_direction = np.zeros(n + 1)
    time_direction[n] = 1.0
    _, tangent = jvp(field, (state, t), (state_directions, time_direction))
    return tangent[:, :n], tangent[n:, :n], tangent[:, n]


class _RecordedField:
    r"""VJPs of func(y, t, *params) from one tape, recorded once and replayed.

    The backward solve needs a VJP of f at thousands of points. Running f on
    boxes every time costs ~20× a plain call: a tracer and a dispatch per
    operation. But the *rows* f records are the same at every point when f
    does not branch on values, so the first call records a tape and later
    calls only :meth:`~autodiff_ref.reverse.Tape.replay` it (plain numpy on
    the new values) and sweep it. A replay is trusted only if its output is
    exactly a plain call of func at that point; otherwise (func took another
    branch) the tape is recorded afresh there. Tracers among the inputs (a
    derivative of a derivative) always go through :func:`vjp`.
    """

    def __init__(self, func):
        self.func, self.tape, self.output = func, None, None
        self.recordings = 0  # how often a tape was recorded (tests read it)

    def vjp(self, y, t, params):
        """``(f(y, t, θ), pullback)``; ``pullback(ā)`` returns ``(āᵀ∂f/∂y, āᵀ∂f/∂θ₁, …)``."""
        inputs = (y, t) + tuple(params)
        if any(isinstance(x, Tracer) for x in inputs):
            dy, pullback = vjp(lambda y, *p: self.func(y, t, *p), y, *params)
            return dy, pullback
        tape = self.tape.replay(inputs) if self.tape is not None else None
        if tape is None or not np.array_equal(tape.values[self.output], self.func(*inputs)):
            tape = self._record(inputs)
            if tape is None:
                dy, pullback = vjp(lambda y, *p: self.func(y, t, *p), y, *params)
                return dy, pullback

        def pullback(cotangent):
            adjoints = tape.sweep(self.output, cotangent)
            return tuple(np.zeros(np.shape(x)) if adjoints[i] is None else adjoints[i]
                         for i, x in enumerate(inputs) if i != 1)  # no cotangent for t
        return tape.values[self.output], pullback

    def _record(self, inputs):
        """Record func at `inputs` (None when its output does not depend on them)."""
        tape = Tape(new_level())
        out = self.func(*[tape.input(x) for x in inputs])
        self.recordings += 1
        if not (isinstance(out, Box) and out.tape is tape):
            self.tape = None
            return None
        self.tape, self.output = tape, out.index
        return tape


def _adjoint_field(func, packing):
    """f of the adjoint system: one VJP of func gives ȧ and ȧ_θ together."""
    recorded = _RecordedField(func)

    def adjoint_field(state, t, *params):
        leaves = packing.unpack(state)
        now = Adjoint(leaves[0], leaves[1], tuple(leaves[2:]))
        dy, pullback = recorded.vjp(now.y, t, params)
        cotangents = pullback(now.a)
        change = Adjoint(dy, -cotangents[0], tuple(-c for c in cotangents[1:]))
        return packing.pack((change.y, change.a) + change.a_params)
    return adjoint_field


# ----------------------------------------------------------------------------
# The rules
# ----------------------------------------------------------------------------
def _field_at(func, ys, t, params):
    """f(y(tᵢ), tᵢ) at every output time, stacked like ys."""
    return np.stack([func(ys[i], t[i], *params) for i in range(len(primal(t)))])


def _odeint_jvp(tangents, ys, y0, t, *params, problem):
    r"""Forward sensitivities: solve (y, s) together, all directions in one JVP per stage."""
    t_y0, t_t, t_params = tangents[0], tangents[1], tangents[2:]
    k = next(_directions(tt, x) for tt, x in zip(tangents, (y0, t) + params) if tt is not None)
    y_shape = np.shape(primal(y0))
    extra = () if k is None else (k,)
    moving = [i for i, tt in enumerate(t_params) if tt is not None]
    s0 = np.zeros(y_shape + extra) if t_y0 is None else t_y0
    if t_t is not None:
        f0 = problem.func(y0, t[0], *params)
        s0 = s0 - (f0 * t_t[0] if k is None else np.reshape(f0, y_shape + (1,)) * t_t[0])
    if moving or t_y0 is not None or t_t is not None:
        field = _SensitivityField(problem.func, y_shape, k, len(params), moving)
        packing = field.packing
        out = odeint_p(packing.pack(Sensitivity(y0, s0)), t, *params,
                       *[t_params[i] for i in moving], problem=problem.derived(field))
        n = int(np.prod(y_shape))
        tangent = np.reshape(out[:, n:], np.shape(primal(t)) + y_shape + extra)
    if t_t is not None:
        f = _field_at(problem.func, ys, t, params)
        shape = np.shape(primal(t)) + (1,) * len(y_shape) + extra
        tangent = tangent + (f * np.reshape(t_t, shape) if k is None
                             else np.reshape(f, np.shape(primal(f)) + (1,)) * np.reshape(t_t, shape))
    return tangent


class Cotangents(NamedTuple):
    """What the adjoint method returns for odeint's inputs."""
    y0: object             # ∂L/∂y₀ = a(t₀), the jump ȳ₀ included
    a_before_jump: object  # a(t₀⁺), before the jump: t̄₀ = −a(t₀⁺)ᵀ f(y₀, t₀)
    params: tuple          # ∂L/∂θᵢ = a_θᵢ(t₀)


class CheckpointAdjoint(NamedTuple):
    """The checkpointed adjoint system's state; y(t) is read from the forward solve."""
    a: object            # a(t) = ∂L/∂y(t)
    a_params: tuple      # ∫ₜ aᵀ ∂f/∂θ dt, one entry per parameter


def _odeint_cotangents(ybar, ys, y0, t, params, problem):
    """The adjoint method: the checkpointed one when possible, else backsolve.

    The checkpointed adjoint runs on plain numbers; a derivative of a
    derivative (tracers among the inputs) uses backsolve, which is written as
    odeint of an augmented system and so is differentiable again.
    """
    plain = not any(isinstance(x, Tracer) for x in (ybar, ys, y0, t) + tuple(params))
    if problem.adjoint == "checkpoint" and problem.trajectory is not None and plain:
        return _checkpoint_cotangents(ybar, y0, t, params, problem)
    return _backsolve_cotangents(ybar, ys, y0, t, params, problem)


class _CheckpointAdjointField:
    r"""f of the checkpointed adjoint system: (ȧ, ȧ_θ) = (−aᵀ∂f/∂y, −aᵀ∂f/∂θ) at y(t) of the trajectory.

    For rodas3 its Jacobian is [[−Jᵀ, 0], [−Fᵀ, 0]] (F = ∂f/∂θ), so W is block
    lower triangular: x_a = (I/(hγ) + Jᵀ)⁻¹ b_a, x_θ = hγ (b_θ − Fᵀ x_a): one
    JVP with n + 1 directions and one n×n factorisation per step.
    """

    def __init__(self, func, trajectory, packing, params, y_shape):
        self.func, self.trajectory, self.packing, self.params = func, trajectory, packing, params
        self.y_shape, self.recorded = y_shape, _RecordedField(func)

    def _y(self, flat):
        return flat.reshape(self.y_shape) if self.y_shape else flat[0]

    def __call__(self, state, s):
        leaves = self.packing.unpack(state)
        now = CheckpointAdjoint(leaves[0], tuple(leaves[1:]))
        # s may carry a tangent (rodas3 takes ∂/∂t of this field by forward mode): the
        # dense output passes it on, so ∂/∂t sees y's motion too
        _, pullback = self.recorded.vjp(self._y(self.trajectory(s)), s, self.params)
        cotangents = pullback(now.a)
        change = CheckpointAdjoint(-cotangents[0], tuple(-c for c in cotangents[1:]))
        return self.packing.pack((change.a,) + change.a_params)

    def rosenbrock_system(self, state, t, h, gamma):
        """(solve, ∂/∂t of this field) for rodas3's W = I/(hγ) − ∂(this field)/∂state."""
        n = int(np.prod(self.y_shape))
        columns, minus_F_transposed, f_t = _leading_columns(self, state, t, n)
        factors = lu_factor(np.eye(n) / (h * gamma) - columns[:n], check_finite=False)  # I/(hγ) + Jᵀ

        def solve(b):
            x_a = lu_solve(factors, b[:n], check_finite=False)
            return np.concatenate([x_a, h * gamma * (b[n:] + minus_F_transposed @ x_a)])
        return solve, f_t


def _checkpoint_cotangents(ybar, y0, t, params, problem):
    r"""Integrate (a, a_θ) backwards, reading y(t) from the forward solve's trajectory.

    With rodas3 the backward solve stops at every step boundary of the forward
    solve, so each of its steps sees one smooth piece of the dense output; the
    adjoint jumps by ȳᵢ at the observation times as in backsolve.
    """
    trajectory, times = problem.trajectory, np.asarray(t, dtype=float)
    y_shape = np.shape(y0)
    packing = _Packing([y_shape] + [np.shape(p) for p in params])
    checkpoint_adjoint_field = _CheckpointAdjointField(problem.func, trajectory, packing, params, y_shape)
    backward = problem.derived(checkpoint_adjoint_field)
    backward.h_hint = problem.h_hint
    a = np.asarray(ybar[-1], dtype=float)
    a_params = tuple(np.zeros(shape) if shape else 0.0 for shape in packing.shapes[1:])
    a_before_jump = a
    totals = np.zeros(3, dtype=int)
    for i in range(len(times) - 1, 0, -1):
        # rodas3 takes ∂/∂t of the field through the dense output, whose second derivative
        # jumps at the forward steps: it stops there. dopri5's and rk4's dense outputs are C¹,
        # smooth enough for explicit steps across them (LV: 318 backward steps instead of 391).
        inner = trajectory.boundaries(times[i], times[i - 1]) if problem.method == "rodas3" else []
        stops = [times[i]] + inner + [times[i - 1]]
        end = _integrate(checkpoint_adjoint_field, packing.pack((a,) + a_params), stops, backward,
                         only_last=True)[-1]
        totals += backward.stats
        leaves = packing.unpack(end)
        a_before_jump, a_params = leaves[0], tuple(leaves[1:])
        a = a_before_jump + ybar[i - 1]
    problem.adjoint_stats = ODEStats(*map(int, totals))
    return Cotangents(a, a_before_jump, a_params)


def _backsolve_cotangents(ybar, ys, y0, t, params, problem):
    r"""The backsolve adjoint: integrate (y, a, a_θ) backwards from t[-1] to t[0]."""
    y_shape = np.shape(primal(y0))
    packing = _Packing([y_shape, y_shape] + [np.shape(primal(p)) for p in params])
    backward = problem.derived(_adjoint_field(problem.func, packing))
    backward.h_hint = problem.h_hint  # the forward solve's last step: a fair first guess
    backward.blow_up_hint = (
        " (backwards in time). The backsolve adjoint re-integrates y backwards, where the modes "
        "that decay forwards grow: the problem is probably stiff. Use odeint(..., "
        "adjoint='checkpoint'), which reads y(t) from the forward solve.")
    a = ybar[-1]
    a_params = [np.zeros(shape) if shape else 0.0 for shape in packing.shapes[2:]]
    a_before_jump = a
    totals = np.zeros(3, dtype=int)
    for i in range(len(primal(t)) - 1, 0, -1):
        state = packing.pack([ys[i], a] + a_params)
        end = odeint_p(state, np.stack([t[i], t[i - 1]]), *params, problem=backward)[-1]
        totals += backward.stats or (0, 0, 0)
        problem.adjoint_stats = ODEStats(*map(int, totals))
        leaves = packing.unpack(end)
        a_before_jump, a_params = leaves[1], leaves[2:]
        a = a_before_jump + ybar[i - 1]
    return Cotangents(a, a_before_jump, tuple(a_params))


def _odeint_vjp(i):
    def rule(g, ys, y0, t, *params, problem):
        cotangents = _memo(g, ys, lambda: _odeint_cotangents(g, ys, y0, t, params, problem))
        if i == 0:
            return cotangents.y0
        if i >= 2:
            return cotangents.params[i - 2]
        # times: t̄ᵢ = ȳᵢᵀ f(y(tᵢ), tᵢ) for i ≥ 1, t̄₀ = −a(t₀⁺)ᵀ f(y₀, t₀)
        f = _field_at(problem.func, ys, t, params)
        axes = tuple(range(1, np.ndim(primal(ys))))
        t_bar = np.sum(g * f, axis=axes) if axes else g * f
        first = -np.sum(cotangents.a_before_jump * f[0])
        n = len(primal(t))
        return np.concatenate([np.reshape(first, (1,)), t_bar[1:]]) if n > 1 \
            else np.zeros(np.shape(primal(t)))
    return rule


jvp_rules[odeint_p] = _odeint_jvp
vjp_rules[odeint_p] = _Rules(_odeint_vjp)


# ----------------------------------------------------------------------------
# The user-facing function
# ----------------------------------------------------------------------------
def odeint(func, y0, t, *params, method="dopri5", rtol=1e-7, atol=1e-9, step=None,
           max_steps=100_000, adjoint=True, checkpoint_every=1, return_stats=False):
    r"""Solve :math:`\dot y = f(y, t, \theta)`, :math:`y(t_0) = y_0`; return y at every time in `t`.

    `func(y, t, *params)` returns dy/dt shaped like y. `t` is a strictly
    monotone 1-D array (increasing or decreasing); the result has shape
    ``(len(t),) + y0.shape`` and starts with y0. Methods: ``"dopri5"``
    (Dormand–Prince 5(4), adaptive, error ≤ atol + rtol·|y| per step, each
    output time hit exactly), ``"rk4"`` (classical Runge–Kutta, every
    interval split into equal steps no longer than `step`, default
    (t[-1] − t[0])/100) and ``"rodas3"`` (for stiff problems: the
    L-stable Rosenbrock method of :mod:`autodiff_ref.ode_stiff`, adaptive,
    J = ∂f/∂y by forward mode once per step).

    Differentiable with respect to y0, the params and t. `adjoint` chooses
    how reverse mode works:

    - ``"checkpoint"`` (the default for dopri5 and rodas3): odeint is a primitive; the
      forward solve keeps its steps (:mod:`autodiff_ref.ode_dense`: the state
      at every `checkpoint_every`-th step, the others recomputed forward a
      segment at a time) and the backward solve of (a, a_θ) reads y(t) from
      their dense output. As accurate as the forward solve, stiff or not.
      Memory: (n + 2)·N floats for N steps and n states with
      ``checkpoint_every=1``; about (N/K + 7K)·n with ``checkpoint_every=K``.
    - ``"backsolve"`` (the default for rk4, the method lesson 7 builds its
      adjoint with): y is re-integrated backwards together with (a, a_θ),
      starting from the stored outputs; memory independent of the number of
      steps. **Warning:** backwards in time the modes that decay forwards
      grow, so on a stiff problem (e.g. ẏ = −λ(y − cos t), λ ≥ 200) the
      gradient loses accuracy or the backward solve blows up (a
      ConvergenceError that says so). Use it for non-stiff problems only.
    - ``True``: the default of the method, as above. ``False``: the solver
      runs on the tracers (differentiation through the solver's steps; memory
      grows with the steps).

    Forward mode always solves the forward sensitivities. Derivatives of
    derivatives run the backsolve adjoint (it is an odeint itself).
    Pass everything you differentiate with respect to as a param, not
    through func's closure. With ``return_stats=True`` returns
    ``(ys, ODEStats)`` of the forward solve.
    """
    if not callable(func):
        raise TypeError(f"odeint: the first argument must be the vector field func(y, t, *params), "
                        f"got {type(func).__name__}")
    if method not in ("dopri5", "rk4", "rodas3"):
        raise ValueError(f"odeint: unknown method {method!r}; choose 'dopri5', 'rk4' or 'rodas3' (stiff)")
    times = np.asarray(primal(t), dtype=float)
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"odeint: t must be a non-empty 1-D array of times, got shape {times.shape}")
    if times.size > 1 and not (np.all(np.diff(times) > 0) or np.all(np.diff(times) < 0)):
        raise ValueError("odeint: t must be strictly increasing or strictly decreasing")
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"odeint: rtol and atol must be positive, got rtol={rtol!r}, atol={atol!r}")
    if step is None:
        step = abs(times[-1] - times[0]) / 100 if times.size > 1 else 1.0
    if not step > 0:
        raise ValueError(f"odeint: step must be positive, got {step!r}")
    if adjoint not in (True, False, "checkpoint", "backsolve"):
        raise ValueError(f"odeint: adjoint must be True, False, 'checkpoint' or 'backsolve', got {adjoint!r}")
    if adjoint is True:
        adjoint = "backsolve" if method == "rk4" else "checkpoint"
    if not (isinstance(checkpoint_every, (int, np.integer)) and checkpoint_every >= 1):
        raise ValueError(f"odeint: checkpoint_every must be a positive integer, got {checkpoint_every!r}")
    problem = _Problem(func, method, float(rtol), float(atol), float(step), int(max_steps),
                       adjoint=adjoint or "backsolve", checkpoint_every=int(checkpoint_every))
    if adjoint:
        ys = odeint_p(y0, t, *params, problem=problem)
    else:
        ys = _through_the_solver(func, y0, t, params, problem)
    return (ys, problem.stats) if return_stats else ys


def _through_the_solver(func, y0, t, params, problem):
    y0 = y0 if isinstance(y0, Tracer) else np.asarray(y0, dtype=float)
    shape = np.shape(primal(y0))

    def raw(flat, s, *params):
        return np.reshape(func(np.reshape(flat, shape) if shape else flat[0], s, *params), (-1,))

    def fun(flat, s):
        return raw(flat, s, *params)
    fun.raw, fun.params = raw, tuple(params)
    times = [t[i] for i in range(len(primal(t)))] if isinstance(t, Tracer) else list(np.asarray(t, float))
    outputs = _integrate(fun, np.reshape(y0, (-1,)), times, problem)
    return np.reshape(np.stack(outputs), (len(times),) + shape)
