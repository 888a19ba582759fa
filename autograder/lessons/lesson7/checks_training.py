r"""Lesson 7's checks of training by the adjoint method: their cases, oracles and hints.

=====================================  ===========================================================
``check_loss_and_grad``                Task 7.3, the loss and dL/dθ against autodiff_ref's adjoint
``check_loss_and_grad_differences``    Task 7.3, ⟨dL/dθ, v⟩ against central differences
``check_train``                        Task 7.4, gradient descent with momentum, given a gradient
=====================================  ===========================================================

The loss of Task 7.3 is the mean squared misfit of the RK4 solution at the observation times
after the start (``data[i − 1]`` observes :math:`y(t_i)`, the start :math:`y_0` is given):

.. math::  L(\theta) = \frac{1}{N d}\sum_{i=1}^{N} \lVert y(t_i; \theta) - \mathrm{data}_{i-1}\rVert^2,
           \qquad \bar y_0 = 0,\quad \bar y_i = \frac{2}{N d}\bigl(y(t_i) - \mathrm{data}_{i-1}\bigr),

and dL/dθ is the adjoint backward pass with those cotangents. Expected gradients come from
``autodiff_ref.odeint``'s own adjoint (RK4, the same steps); the second oracle is a central
difference of the same RK4 loss. Differentiating *through* the RK4 steps gives the exact
gradient of the discretised loss instead, which differs from the adjoint's by the
discretisation error (1e-7 to 1e-5 relative on these cases, whose steps are chosen so): more than
the "solver" tolerance and less than the "numerical" one, so such a gradient fails the first
check only, with a hint that names it.

Task 7.4's loop, per parameter: :math:`v \leftarrow \beta v - \eta\,\nabla L`, :math:`p \leftarrow p + v`,
with the loss recorded at the parameters *before* each step. Its check passes a reference
gradient (grader-side callables), so the loop is judged on its own.
"""
import math
import types

import numpy

from autodiff_ref import odeint as _odeint
from autodiff_ref import vjp as _vjp
from autodiff_ref.core import Tracer as _Tracer
from autograder.checks import CheckFailure, Named, Raised, as_floats, call, passed
from autograder.material import rk4_solve

from ..earlier import blamed
from .checks import (as_output, check_backward_observations, check_backward_one_interval, close, library_gradient,
                     reference_backward, seed_for)
from .material import DECAY, FORCED, LINEAR, LV, LV_TRUE, MLP

np = types.SimpleNamespace(**vars(numpy))
_asarray, _array, _zeros_like, _copy = np.asarray, np.array, np.zeros_like, np.copy
_sum, _mean = np.sum, np.mean
VISIBLE_SEED, HIDDEN_SEED = seed_for(False), seed_for(True)


# ============================================================================
# The oracle, and a reference with switchable mistakes
# ============================================================================
def misfit_cotangents(ys, data, *, factor=2.0, count="observations", times="right"):
    """(L, ybars) of the mean squared misfit; the switches reproduce mistakes: factor=1 (the 2
    of the square's derivative lost), count="none" (no 1/(N·d): a sum), count="all" (the
    start counted in the mean), times="shifted" (ybars[i − 1] for y(tᵢ)) or "short"
    (one row per observation, so every cotangent lands one time early)."""
    ys = _asarray(ys, dtype=float)
    residual = ys[1:] - _asarray(data, dtype=float)
    n = {"observations": residual.size, "all": ys.size, "none": 1}[count]
    scaled = factor * residual / n
    if times == "short":
        return float(_mean(residual * residual)), scaled
    ybars = _zeros_like(ys)
    if times == "right":
        ybars[1:] = scaled
    else:
        ybars[:-1] = scaled
    return float(_mean(residual * residual)), ybars


def reference_loss_and_grad(params, f, y0, ts, data, steps):
    """Task 7.3 by the oracle: (L, dL/dθ) with dL/dθ from autodiff_ref.odeint's adjoint
    (RK4 with the same steps; `ts` equally spaced)."""
    params = tuple(params)
    ys = rk4_solve(f, y0, ts, params, steps)
    loss, ybars = misfit_cotangents(ys, data)
    return loss, library_gradient(f, y0, _asarray(ts, dtype=float), params, ybars, steps)[1]


def _through_the_steps(case):
    """dL/dθ by reverse mode through the RK4 steps: the gradient of the discretised loss."""
    step = float(case.ts[1] - case.ts[0]) / case.steps
    _, pullback = _vjp(lambda *p: _odeint(case.f, _asarray(case.y0, float), case.ts, *p, method="rk4",
                                          step=step, adjoint=False), *case.params)
    return tuple(as_output(c) for c in pullback(case.ybars))


def reference_train(loss_and_grad, params, iterations, lr, momentum, *, carry=True, record="before",
                    step="velocity"):
    """Task 7.4 by the reference: (params, losses). The switches reproduce mistakes:
    carry=False (the momentum buffer restarts at zero every step: plain gradient descent),
    record="after" (the loss at the parameters after the step), step="lr twice"
    (p ← p + η·v with v already holding η)."""
    if int(iterations) != iterations or iterations < 0:
        raise ValueError(f"iterations must be a whole number ≥ 0, got {iterations!r}")
    params = [_asarray(p, dtype=float) for p in params]
    velocity = [_zeros_like(p) for p in params]
    losses = []
    for _ in range(int(iterations)):
        loss, grads = loss_and_grad(params)
        if not carry:
            velocity = [_zeros_like(p) for p in params]
        velocity = [momentum * v - lr * _asarray(g, dtype=float) for v, g in zip(velocity, grads)]
        params = [p + (lr * v if step == "lr twice" else v) for p, v in zip(params, velocity)]
        losses.append(float(loss) if record == "before" else float(loss_and_grad(params)[0]))
    return params, losses


# ============================================================================
# Task 7.3: the loss and its gradient
# ============================================================================
class _Fit:
    """One problem of Task 7.3: f, y0, ts, data, params, steps, and what the oracle says."""

    def __init__(self, f, y0, ts, data, params, steps):
        self.f, self.y0, self.ts, self.steps = f, y0, _asarray(ts, dtype=float), steps
        self.data, self.params = _asarray(data, dtype=float), tuple(params)
        self.ys = rk4_solve(f, y0, self.ts, self.params, steps)
        self.loss, self.ybars = misfit_cotangents(self.ys, self.data)
        self.expected = library_gradient(f, y0, self.ts, self.params, self.ybars, steps)[1]

    def inputs(self):
        return dict(f=self.f, y0=self.y0, ts=self.ts, data=self.data, params=self.params, steps=self.steps)

    def args(self):
        return ([_copy(p) if isinstance(p, numpy.ndarray) else p for p in self.params], self.f,
                _copy(self.y0) if isinstance(self.y0, numpy.ndarray) else self.y0, self.ts.copy(),
                self.data.copy(), self.steps)


def _observed(f, y0, ts, params, steps, rng, noise=0.1):
    """Observations at ts[1:] of the solution for nearby parameters, plus noise: a misfit that
    is not zero and not tiny."""
    nearby = tuple(p * (1 + 0.2 * rng.normal(size=np.shape(p))) if np.shape(p) else p * (1 + 0.2 * rng.normal())
                   for p in params)
    clean = rk4_solve(f, y0, ts, nearby, steps)[1:]
    return clean + noise * rng.normal(size=clean.shape)


def _fit(f, y0, ts, params, steps, rng):
    return _Fit(f, y0, ts, _observed(f, y0, ts, params, steps, rng), params, steps)


def _fit_cases(seed, hidden):
    rng = numpy.random.default_rng(seed + 4)
    W1, b1, W2 = rng.normal(size=(4, 2)), 0.5 * rng.normal(size=4), rng.normal(size=(2, 4)) / 2
    cases = [_fit(DECAY, 1.3, numpy.linspace(0, 2, 5), (0.7,), 3, rng),
             _fit(LV, _array([1.0, 1.0]), numpy.linspace(0, 2, 6), (_array(LV_TRUE),), 16, rng),
             _fit(MLP, _array([1.0, -0.5]), numpy.linspace(0, 1.5, 4), (W1, b1, W2), 3, rng)]
    if hidden:
        A = rng.normal(size=(3, 3)) / math.sqrt(3) - 0.5 * numpy.eye(3)
        cases += [_fit(FORCED, _array([1.0, 0.0]), numpy.linspace(0, 3, 7), (1.2, 0.3, 2.0), 4, rng),
                  _fit(LINEAR, rng.normal(size=3), numpy.linspace(0, 1.2, 5), (A,), 2, rng),
                  _fit(LV, rng.uniform(0.5, 2.0, size=2), numpy.linspace(0.5, 3, 6),
                       (_array(LV_TRUE) * rng.uniform(0.8, 1.2, size=4),), 20, rng)]
    return cases


_FITS = {seed: _fit_cases(seed, seed == HIDDEN_SEED) for seed in (VISIBLE_SEED, HIDDEN_SEED)}

_LOSS_ADVICE = "L = np.mean((ys[1:] − data) ** 2) with ys = rk4_solve(f, y0, ts, params, steps)"


def _loss_hint(case, got):
    ys = case.ys
    variants = [
        (float(_mean((ys[:-1] - case.data) ** 2)), "off by one: data[i − 1] observes y(ts[i]), so compare data "
                                                    "with ys[1:]; ys[0] is the start y0, not an observation"),
        (float(_sum((ys[1:] - case.data) ** 2)), "that is the sum of the squares: the loss is their mean, "
                                                  "divided by data.size"),
        (float(_sum((ys[1:] - case.data) ** 2)) / ys.size, "the mean counts the start: divide by data.size, "
                                                            "the number of observed values, not ys.size"),
        (math.sqrt(case.loss), "that is the root of the mean square: the loss is the mean square itself"),
    ]
    for value, message in variants:
        if close(got, value, "recognise"):
            return message
    return _LOSS_ADVICE


def _grad_variants(case):
    def with_ybars(**switches):
        _, ybars = misfit_cotangents(case.ys, case.data, **switches)
        return reference_backward(case.f, case.ts, case.ys, ybars, case.params, case.steps)[1]
    return [
        (with_ybars(factor=1.0), "the cotangent lost its factor 2: ∂(r²)/∂y = 2r, so ybars[i] = 2·(ys[i] − "
                                 "data[i − 1]) / data.size"),
        (with_ybars(count="none"), "the cotangent lost its 1/(N·d): L is a mean, so ybars[i] = 2·(ys[i] − "
                                   "data[i − 1]) / data.size"),
        (with_ybars(factor=1.0, count="none"), "the cotangent lost both its factor 2 and its 1/(N·d): "
                                               "ybars[i] = 2·(ys[i] − data[i − 1]) / data.size"),
        (with_ybars(count="all"), "the cotangent divides by ys.size: the start is not observed, so divide by "
                                  "data.size"),
        (with_ybars(times="shifted"), "the cotangents sit at the wrong times: ybars[i] belongs to ts[i], so the "
                                      "residual of data[i − 1] goes to ybars[i] and ybars[0] = 0"),
        (with_ybars(times="short"), "ybars needs one row per time of ts (a zero row for ts[0]): with one row "
                                    "per observation, adjoint_backward adds each cotangent one time too early"),
        (_through_the_steps(case), "that is reverse mode through the RK4 steps (the gradient of the discretised "
                                   "solve), not the adjoint method: build ybars and call your adjoint_backward"),
        (tuple(-_asarray(e) for e in case.expected), "the gradient has the wrong sign: ybars[i] = 2·(ys[i] − "
                                                     "data[i − 1]) / data.size, model minus data"),
    ]


def _grads_match(got, expected, tol):
    return len(got) == len(expected) and all(close(g, e, tol) for g, e in zip(got, expected))


def _grad_hint(case, got):
    for target, message in _grad_variants(case):
        if _grads_match(got, target, "recognise"):
            return message
    return ("compute ybars (zero at ts[0], 2·(ys[i] − data[i − 1]) / data.size after it) and return "
            "adjoint_backward(f, ts, ys, ybars, params, steps)[1]")


def _pair(got, case, what):
    """The (loss, grads) the student returned, checked for shape; a CheckFailure if malformed."""
    k = len(case.params)
    if isinstance(got, _Tracer) or not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailure(what, inputs=case.inputs(), expected="a pair (loss, (dL/dθ₁, …))", got=got,
                           hint="return (loss, grads): the loss as a float and one gradient per parameter")
    loss, grads = got
    if as_floats(loss) is None or as_floats(loss).shape != ():
        raise CheckFailure(what + ", the loss", inputs=case.inputs(), expected=case.loss, got=loss,
                           hint="the loss is one number, " + _LOSS_ADVICE)
    if not isinstance(grads, (tuple, list)) or len(grads) != k:
        raise CheckFailure(what + ", dL/dθ", inputs=case.inputs(), expected=case.expected, got=grads,
                           hint=f"return a tuple of {k} gradients, one per entry of params")
    for i, (g, p) in enumerate(zip(grads, case.params)):
        v = as_floats(g)
        if v is None or v.shape != np.shape(p):
            raise CheckFailure(what + f", dL/dθ[{i}]", inputs=case.inputs(), expected=case.expected[i], got=g,
                               hint="each gradient has the shape of its parameter")
    return float(loss), tuple(grads)


def _earlier(adjoint_backward):
    if adjoint_backward is None:
        return ()
    label = "adjoint_backward (Task 7.2)"
    return ((label, check_backward_one_interval, (adjoint_backward,)),
            (label, check_backward_observations, (adjoint_backward,)))


def _run_fits(loss_and_grad, cases, what, adjoint_backward, compare_gradients):
    """Each case: the loss against the RK4 misfit (never blamed on Task 7.2), then the
    gradient by `compare_gradients(case, grads)`; a failure of the gradient, or an exception
    on the way (the student's adjoint_backward raising, say), says to fix Task 7.2 first
    when the student's adjoint_backward fails its own check."""
    for case in cases:
        try:
            got = call(loss_and_grad, case.args(), what=what, inputs=case.inputs())
        except CheckFailure as failure:
            if isinstance(failure.got, Raised) and failure.got.not_done:
                raise
            raise blamed(failure, _earlier(adjoint_backward)) from None
        loss, grads = _pair(got, case, what)
        if not close(loss, case.loss, "rounding"):
            raise CheckFailure(what + ", the loss", inputs=case.inputs(), expected=case.loss, got=loss,
                               hint=_loss_hint(case, loss))
        try:
            compare_gradients(case, grads)
        except CheckFailure as failure:
            raise blamed(failure, _earlier(adjoint_backward)) from None
    return len(cases)


def _against_the_adjoint(what):
    def compare(case, grads):
        if not _grads_match(grads, case.expected, "solver"):
            raise CheckFailure(what + ", dL/dθ", inputs=case.inputs(), expected=case.expected, got=grads,
                               hint=_grad_hint(case, grads))
    return compare


def check_loss_and_grad(loss_and_grad, *, adjoint_backward=None, hidden=False):
    """Task 7.3: ``loss_and_grad(params, f, y0, ts, data, steps)`` returns the mean squared misfit
    and dL/dθ matching autodiff_ref.odeint's adjoint with the same RK4 steps. With the student's
    `adjoint_backward`, a failure says so when that function fails its own check."""
    what = "loss_and_grad(params, f, y0, ts, data, steps)"
    n = _run_fits(loss_and_grad, _FITS[seed_for(hidden)], what, adjoint_backward, _against_the_adjoint(what))
    passed("loss_and_grad: the misfit, and dL/dθ as autodiff_ref's adjoint gives it", n)


# ---- central differences of the same RK4 loss ----------------------------------------------------
def _rk4_loss(case, params):
    return misfit_cotangents(rk4_solve(case.f, case.y0, case.ts, params, case.steps), case.data)[0]


def _fd_direction(case, rng, h=1e-5):
    """A random direction v in θ and the central difference of the RK4 loss along it."""
    v = tuple(as_output(rng.normal(size=np.shape(p))) for p in case.params)
    plus = _rk4_loss(case, tuple(p + h * d for p, d in zip(case.params, v)))
    minus = _rk4_loss(case, tuple(p - h * d for p, d in zip(case.params, v)))
    return v, (plus - minus) / (2 * h)


_DIRECTIONS = {seed: [_fd_direction(case, numpy.random.default_rng(seed + 5 + i)) for i, case in enumerate(cases)]
               for seed, cases in _FITS.items()}


def check_loss_and_grad_differences(loss_and_grad, *, adjoint_backward=None, hidden=False):
    """Task 7.3: ⟨dL/dθ, v⟩ against a central difference of the RK4 loss along a random v (an
    oracle that involves no adjoint and no automatic differentiation)."""
    seed = seed_for(hidden)
    what = "⟨loss_and_grad(...)[1], v⟩ against a central difference of the loss"
    directions = dict(zip(map(id, _FITS[seed]), _DIRECTIONS[seed]))

    def compare(case, grads):
        v, fd = directions[id(case)]
        value = sum(float(_sum(_asarray(g, dtype=float) * d)) for g, d in zip(grads, v))
        if not close(value, fd, "numerical"):
            raise CheckFailure(what, inputs=dict(case.inputs(), v=v), expected=fd, got=value,
                               hint=_grad_hint(case, grads))
    n = _run_fits(loss_and_grad, _FITS[seed], what, adjoint_backward, compare)
    passed("loss_and_grad agrees with central differences of the loss", n)


# ============================================================================
# Task 7.4: gradient descent with momentum
# ============================================================================
def _bowl(centres, weights):
    r"""L(p) = Σₖ wₖ‖pₖ − cₖ‖², ∇ₖL = 2wₖ(pₖ − cₖ): a bowl, curved differently per parameter."""
    def loss_and_grad(params):
        diffs = [_asarray(p, dtype=float) - c for p, c in zip(params, centres)]
        return (float(sum(w * _sum(d * d) for w, d in zip(weights, diffs))),
                tuple(2 * w * d for w, d in zip(weights, diffs)))
    shapes = ", ".join(str(np.shape(c)) for c in centres)
    return Named(f"the bowl L = Σₖ wₖ‖pₖ − cₖ‖² (w = {tuple(weights)}, shapes {shapes})", loss_and_grad)


def _ode_fit(case):
    def loss_and_grad(params):
        return reference_loss_and_grad(params, case.f, case.y0, case.ts, case.data, case.steps)
    return Named(f"the misfit of {case.f!r} to {len(case.data)} observations, its gradient by "
                 "autodiff_ref's adjoint", loss_and_grad)


def _train_cases(seed, hidden):
    rng = numpy.random.default_rng(seed + 6)
    centres = [_array(0.5), rng.normal(size=3), rng.normal(size=(2, 2))]
    start = [_array(-1.0), rng.normal(size=3), rng.normal(size=(2, 2))]
    cases = [(_bowl(centres, (1.0, 0.5, 2.0)), start, 6, 0.1, 0.7),
             (_ode_fit(_FITS[seed][1]), [_array(LV_TRUE) * 1.1], 3, 0.002, 0.5)]
    if hidden:
        cases += [(_bowl(centres[1:], (0.25, 1.0)), start[1:], 12, 0.2, 0.9),
                  (_bowl(centres[:1], (3.0,)), start[:1], 4, 0.05, 0.0),
                  (_bowl(centres, (1.0, 1.0, 1.0)), start, 0, 0.1, 0.5),
                  (_ode_fit(_FITS[seed][0]), [_array(0.9)], 4, 0.05, 0.8)]
    return [(f, params, iterations, lr, momentum, reference_train(f, params, iterations, lr, momentum))
            for f, params, iterations, lr, momentum in cases]


_TRAINS = {seed: _train_cases(seed, seed == HIDDEN_SEED) for seed in (VISIBLE_SEED, HIDDEN_SEED)}


def _params_hint(f, params, iterations, lr, momentum, got):
    variants = [
        (dict(carry=False), "that is plain gradient descent: the momentum buffer is not carried between "
                            "steps (or the β·v term is missing). Create the velocities once, before the "
                            "loop, and keep each updated one for the next step, v ← β·v − η·g"),
        (dict(step="lr twice"), "the step size is applied twice: v ← β·v − η·g already holds η, "
                                "so p ← p + v"),
    ]
    for switches, message in variants:
        target = reference_train(f, params, iterations, lr, momentum, **switches)[0]
        if all(close(g, t, "recognise") for g, t in zip(got, target)):
            return message
    return ("for each parameter: v ← momentum·v − lr·g, then p ← p + v, with v starting at zero before the "
            "first step and carried from step to step")


def _train_structure(got, params, iterations, what, inputs, expected):
    if isinstance(got, _Tracer) or not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailure(what, inputs=inputs, expected="a pair (params, losses)", got=got,
                           hint="return (params, losses): the trained parameters and the list of losses")
    new, losses = got
    if not isinstance(new, (tuple, list)) or len(new) != len(params):
        raise CheckFailure(what + ", params", inputs=inputs, expected=expected[0], got=new,
                           hint=f"return the {len(params)} parameters, as a list like the one you were given")
    for i, (g, p) in enumerate(zip(new, params)):
        v = as_floats(g)
        if v is None or v.shape != np.shape(p):
            raise CheckFailure(what + f", params[{i}]", inputs=inputs, expected=expected[0][i], got=g,
                               hint="each trained parameter has the shape of the one you started from")
    values = as_floats(losses)
    if values is None or values.shape != (iterations,):
        raise CheckFailure(what + ", losses", inputs=inputs, expected=expected[1], got=losses,
                           hint=f"one loss per step: {iterations} numbers, the loss before each step")
    return new, values


def check_train(train, *, hidden=False):
    """Task 7.4: ``train(loss_and_grad, params, iterations, lr, momentum)`` against the reference
    loop, with a reference `loss_and_grad` passed in (the loop is judged on its own)."""
    what = "train(loss_and_grad, params, iterations, lr, momentum)"
    cases = _TRAINS[seed_for(hidden)]
    for f, params, iterations, lr, momentum, expected in cases:
        inputs = dict(loss_and_grad=f, params=params, iterations=iterations, lr=lr, momentum=momentum)
        given = [_copy(p) for p in params]
        got = call(train, (f, given, iterations, lr, momentum), what=what, inputs=inputs)
        if not all(same_bits(p, q) for p, q in zip(given, params)):
            raise CheckFailure(what + ", the params passed in", inputs=inputs, expected=params, got=given,
                               hint="your loop changed the params it was given, in place (`p += v` on their "
                                    "arrays, or `params[i] = …` on their list): build a new list of new arrays, "
                                    "[p + v for …], so the caller's starting point survives the training")
        new, losses = _train_structure(got, params, iterations, what, inputs, expected)
        if not all(close(g, e, "rounding") for g, e in zip(new, expected[0])):
            raise CheckFailure(what + ", the trained params", inputs=inputs, expected=expected[0],
                               got=[as_output(g) for g in new],
                               hint=_params_hint(f, params, iterations, lr, momentum, new))
        if not close(losses, expected[1], "rounding"):
            after = reference_train(f, params, iterations, lr, momentum, record="after")[1]
            hint = ("the losses are recorded after each step: record the loss loss_and_grad returned for the "
                    "parameters *before* the step (losses[0] is the loss at the start)"
                    if close(losses, after, "recognise") else
                    "record the loss that loss_and_grad(params) returns at the start of each step")
            raise CheckFailure(what + ", the losses", inputs=inputs, expected=_asarray(expected[1]), got=losses,
                               hint=hint)
    passed("train: gradient descent with momentum, the losses before each step", len(cases))


def same_bits(a, b):
    """True when two arrays hold the same numbers (a changed array is never 'close enough')."""
    a, b = _asarray(a), _asarray(b)
    return a.shape == b.shape and bool(np.all(a == b))

