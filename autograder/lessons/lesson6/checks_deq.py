r"""Lesson 6's checks of Tasks 6.4 and 6.5: training a small deep-equilibrium model.

===============================  ===================================================
``check_deq_grad``               Task 6.4, (L, ∇L) of the DEQ regression against reverse mode
                                 through ``autodiff_ref.fixed_point`` (an implicit gradient)
``check_deq_grad_fd``            Task 6.4, ⟨∇L, v⟩ against central differences of re-solved losses
``check_deq_train_step``         Task 6.5, one projected gradient-descent step
===============================  ===================================================

The model: :math:`Z^* = \tanh(WZ^* + UX + b)`, :math:`\hat Y = cZ^* + d`,
:math:`L = \frac1m\sum_j(\hat Y_j - Y_j)^2`. With :math:`\bar Y = 2(\hat Y - Y)/m` the read-out
gives :math:`\bar c = \bar Y Z^{*\top}`, :math:`\bar d = \sum_j \bar Y_j` and the cotangent of
the fixed point :math:`\bar Z = c^\top \bar Y`; the implicit VJP turns :math:`\bar Z` into
:math:`(\bar W, \bar U, \bar b)`.

Task 6.4 is judged on its own: the student's ``deq_loss_and_grad`` receives the fixed-point VJP
as an argument, and the check passes in :func:`implicit_vjp` — this course's, computed by forward
mode and a dense solve — so a wrong Task 6.3 cannot fail Task 6.4. The check also records the
calls, to say what went into them. Task 6.5 likewise receives the reference gradient.
"""
import numpy

from autodiff_ref import jacfwd as _jacfwd
from autodiff_ref import value_and_grad as _value_and_grad
from autograder.checks import (NOT_DONE_HINT, CheckFailure, Named, Raised, as_floats, attempt, passed,
                               relative_error, same)

from .checks import HIDDEN_SEED, VISIBLE_SEED
from .material import MAX_NORM, deq_cell, deq_equilibrium, deq_loss, np, scaled_matrix

_asarray, _eye, _ones, _array_equal = np.asarray, np.eye, np.ones, np.array_equal
_solve, _norm2 = numpy.linalg.solve, numpy.linalg.norm
NAMES = ("W", "U", "b", "c", "d")


def implicit_vjp(g, y_star, params, ybar):
    r"""(∂y*/∂θ)ᵀȳ for the fixed point y* = g(y*, *params), one cotangent per parameter:
    :math:`(I - J)^\top u = \bar y` solved densely with J = ∂g/∂y from ``jacfwd``, then
    :math:`\bar\theta_i = (\partial g/\partial\theta_i)^\top u` from ``jacfwd`` as well. Forward mode
    only: a dual number crosses to a sandboxed g by value."""
    y = _asarray(y_star, dtype=float)
    ybar = _asarray(ybar, dtype=float)
    if ybar.shape != y.shape:
        raise ValueError(f"fixed_point_vjp: ybar has shape {ybar.shape} but y_star has shape {y.shape}; "
                         "the cotangent of a fixed point has the fixed point's shape")
    params = tuple(params)
    n = y.size
    J = _asarray(_jacfwd(lambda v: g(v, *params))(y), dtype=float).reshape(n, n)
    u = _solve((_eye(n) - J).T, ybar.reshape(-1))
    out = []
    for i, p in enumerate(params):
        def g_of(q, i=i):
            return g(y, *params[:i], q, *params[i + 1:])
        Jp = _asarray(_jacfwd(g_of)(_asarray(p, dtype=float)), dtype=float).reshape(n, -1)
        c = (u @ Jp).reshape(np.shape(p))
        out.append(float(c) if c.shape == () else c)
    return tuple(out)


class _Recorder:
    """The fixed-point VJP handed to the student's code: :func:`implicit_vjp`, remembering the
    shapes of what it was given."""

    def __init__(self):
        self.calls = []

    def __call__(self, g, y_star, params, ybar):
        self.calls.append(dict(y_star=np.shape(y_star), ybar=np.shape(ybar)))
        return implicit_vjp(g, y_star, params, ybar)


# ============================================================================
# The problems: (label, params, X, Y)
# ============================================================================
def _problem(rng, n, m, norm):
    W = scaled_matrix(rng, n, norm)
    U, b, c = rng.normal(size=(n, 1)), 0.5 * rng.normal(size=(n, 1)), rng.normal(size=(1, n))
    X = rng.uniform(-2, 2, size=(1, m))
    Y = np.sin(1.5 * X) + 0.1 * rng.normal(size=(1, m))
    label = f"n = {n} hidden units, m = {m} examples, ‖W‖₂ = {norm}"
    return label, (W, U, b, c, float(rng.normal())), X, Y


def _problems(seed):
    rng = numpy.random.default_rng(seed + 10)
    sizes = ((2, 3, 0.5), (5, 8, 0.8)) if seed == VISIBLE_SEED else ((8, 24, 0.7), (4, 7, 0.9), (6, 1, 0.6))
    return [_problem(rng, n, m, norm) for n, m, norm in sizes]


def _reference(params, X, Y):
    """(L, ∇L) by reverse mode through autodiff_ref.fixed_point (Newton to 1e-13)."""
    value, grads = _value_and_grad(lambda *p: deq_loss(p, X, Y), argnums=tuple(range(5)))(*params)
    return float(value), tuple(_asarray(gr, dtype=float) for gr in grads[:4]) + (float(grads[4]),)


_PROBLEMS = {seed: _problems(seed) for seed in (VISIBLE_SEED, HIDDEN_SEED)}
_TABLE = {seed: [_reference(p, X, Y) for _, p, X, Y in probs] for seed, probs in _PROBLEMS.items()}


def _pieces(params, X, Y):
    """Z*, the cotangent Ȳ = ∂L/∂Ŷ and Z̄ = cᵀȲ of the reference, for the hints."""
    W, U, b, c, d = params
    Z = _asarray(deq_equilibrium(params, X), dtype=float)
    m = np.shape(Y)[1]
    ybar = 2 * (c @ Z + d - Y) / m
    return Z, ybar, c.T @ ybar


def _variants(params, X, Y, expected):
    """(gradient tuple, hint) that known slips give."""
    loss, grads = expected
    W, U, b, c, d = params
    Z, ybar, zbar = _pieces(params, X, Y)
    g = lambda Zv, *p: deq_cell(Zv, *p, X)  # noqa: E731
    readout = grads[3:]
    m = np.shape(Y)[1]
    out = [
        ((0 * W, 0 * U, 0 * b) + readout,
         "W̄, Ū and b̄ are zero: you differentiated the read-out cZ* + d with Z* held fixed. W, U and b "
         "change Ŷ only through Z*: pass Z̄ = cᵀȲ to fixed_point_vjp and use its cotangents"),
        (tuple(-gr for gr in grads),
         "every gradient has the wrong sign: ∂L/∂Ŷ = 2(Ŷ − Y)/m, with Ŷ − Y (the prediction minus the "
         "target), not Y − Ŷ"),
        (implicit_vjp(g, Z, (W, U, b), zbar * m / 2) + readout,
         "W̄, Ū and b̄ are m/2 times too large: the fixed point's cotangent is Z̄ = cᵀȲ with the same "
         "Ȳ = 2(Ŷ − Y)/m as the read-out's, not cᵀ(Ŷ − Y)"),
        (implicit_vjp(g, Z, (W, U, b), _ones(np.shape(Z)) * ybar) + readout,
         "the cotangent of Z* is Z̄ = cᵀȲ (n×m): the read-out Ŷ = cZ* sends Ȳ back through cᵀ. You "
         "used Ȳ for every row of Z̄, as if c were all ones"),
        (implicit_vjp(g, Z, (W, U, b), c.T @ (ybar / 2)) + readout,
         "W̄, Ū and b̄ are half as large as they should be: Z̄ = cᵀȲ with Ȳ = 2(Ŷ − Y)/m"),
    ]
    for factor, say in ((m, "the mean's 1/m is missing: L = (1/m)·Σ(Ŷ − Y)², so Ȳ = 2(Ŷ − Y)/m"),
                        (0.5, "the factor 2 of d(r²)/dr = 2r is missing: Ȳ = 2(Ŷ − Y)/m"),
                        (m / 2, "Ȳ should be 2(Ŷ − Y)/m; you used Ŷ − Y")):
        out.append((tuple(gr * factor for gr in grads), f"every gradient is {factor:g} times too large: {say}"))
    return out


def _matches(got, target):
    return len(got) == len(target) and all(same(a, t, "recognise") for a, t in zip(got, target))


def _grad_hint(params, X, Y, expected, got):
    for target, message in _variants(params, X, Y, expected):
        if _matches(got, target):
            return message
    err = max(relative_error(a, e) for a, e in zip(got, expected[1]))
    if err < 1e-3:
        return (f"close (relative error {err:.1e}): solve the forward fixed point to the default "
                "tolerance of fixed_point (1e-10) or tighter; the gradient is only as good as Z*")
    return ("Ȳ = 2(Ŷ − Y)/m; c̄ = Ȳ Z*ᵀ, d̄ = ΣȲ; then (W̄, Ū, b̄) = fixed_point_vjp(g, Z*, (W, U, b), "
            "cᵀȲ) with g(Z, W, U, b) = tanh(W Z + U X + b)")


# ============================================================================
# Task 6.4: the loss and its gradient, the implicit part by the VJP passed in
# ============================================================================
def _copies(params):
    return tuple(p.copy() if hasattr(p, "copy") else p for p in params)


def _structure(out, params, what, inputs):
    """(loss, grads) from the student's answer, or a failure that says what is wrong with its form."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise CheckFailure(what, inputs=inputs, expected="a pair (loss, grads)", got=out,
                           hint="return loss, (W_bar, U_bar, b_bar, c_bar, d_bar)")
    loss, grads = out
    if not isinstance(grads, (tuple, list)) or len(grads) != 5:
        raise CheckFailure(what + ", the gradients", inputs=inputs, expected="five gradients, one per "
                           "parameter (W, U, b, c, d)", got=grads,
                           hint="return the gradients of all five parameters, in the order of params; "
                                "W, U and b as well as the read-out's c and d")
    for name, gr, p in zip(NAMES, grads, params):
        a = as_floats(gr)
        if a is None or a.shape != np.shape(p):
            hint = {"c": "c̄ = Ȳ Z*ᵀ has c's shape, 1×n", "d": "d̄ is a number: the sum of the entries of Ȳ"
                    }.get(name, f"{name}_bar has the shape of {name}")
            raise CheckFailure(what + f", the gradient of {name}", inputs=inputs,
                               expected=f"shape {np.shape(p)}", got=f"shape {None if a is None else a.shape}",
                               hint=hint)
    return loss, tuple(as_floats(gr) for gr in grads)


def _run_grad(student, case, what):
    """(inputs, loss, grads, recorder) of one call of ``student(params, X, Y, fixed_point_vjp)``."""
    label, params, X, Y = case
    recorder = _Recorder()
    given = Named("fixed_point_vjp (the course's, passed in)", recorder)
    inputs = dict(params=label, X=X, Y=Y)
    out = attempt(student, _copies(params), X.copy(), Y.copy(), given)
    if isinstance(out, Raised):
        calls = [c for c in recorder.calls if c["ybar"] != c["y_star"]]
        if out.not_done:
            hint = NOT_DONE_HINT
        elif calls:
            hint = (f"you passed fixed_point_vjp a cotangent of shape {calls[0]['ybar']} for a fixed point "
                    f"of shape {calls[0]['y_star']}: Ȳ = ∂L/∂Ŷ belongs to the prediction. The read-out "
                    "Ŷ = cZ* + d sends it back to Z* through cᵀ: Z̄ = cᵀȲ (n×m)")
        else:
            hint = "your code raised an exception on this input"
        raise CheckFailure(what, inputs=inputs, got=out, hint=hint)
    loss, grads = _structure(out, params, what, inputs)
    if not recorder.calls:
        raise CheckFailure(what, inputs=inputs, expected="a call of the fixed_point_vjp passed in",
                           got="no call",
                           hint="W, U and b change Ŷ only through Z*: their gradients are the implicit "
                                "VJP of the fixed point, fixed_point_vjp(g, Z*, (W, U, b), cᵀȲ). Use the "
                                "function you are given (not a loop differentiated step by step)")
    return inputs, loss, grads


def _check_loss(loss, expected, params, X, Y, what, inputs):
    if same(loss, expected, "solver"):
        return
    if same(loss, expected * np.shape(Y)[1], "recognise"):
        hint = "that is the sum of squares: the loss is their mean, divided by m"
    elif same(loss, expected / 2, "recognise"):
        hint = "that is half the loss: L = (1/m)·Σ(Ŷ − Y)², without a ½"
    elif relative_error(loss, expected) < 1e-3:
        hint = (f"close (relative error {relative_error(loss, expected):.1e}): solve the forward fixed "
                "point to the default tolerance of fixed_point (1e-10) or tighter")
    else:
        hint = "L = mean((c Z* + d − Y)²) with Z* the fixed point of Z = tanh(W Z + U X + b)"
    raise CheckFailure(what + ", the loss", inputs=inputs, expected=expected, got=loss, hint=hint)


def check_deq_grad(deq_loss_and_grad, *, hidden=False):
    """Task 6.4: ``deq_loss_and_grad(params, X, Y, fixed_point_vjp)`` gives (L, ∇L) as reverse
    mode through ``autodiff_ref.fixed_point`` does."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "deq_loss_and_grad(params, X, Y, fixed_point_vjp)"
    for case, (exp_loss, exp_grads) in zip(_PROBLEMS[seed], _TABLE[seed]):
        _, params, X, Y = case
        inputs, loss, grads = _run_grad(deq_loss_and_grad, case, what)
        _check_loss(loss, exp_loss, params, X, Y, what, inputs)
        for name, gr, e in zip(NAMES, grads, exp_grads):
            if not same(gr, e, "solver"):
                raise CheckFailure(what + f", the gradient of {name}", inputs=inputs, expected=e, got=gr,
                                   hint=_grad_hint(params, X, Y, (exp_loss, exp_grads), grads))
    passed("deq_loss_and_grad matches reverse mode through autodiff_ref.fixed_point", len(_PROBLEMS[seed]))


def _fd_cases(seed):
    rng = numpy.random.default_rng(seed + 11)
    cases = []
    for case in _PROBLEMS[seed]:
        _, params, X, Y = case
        v = tuple(rng.normal(size=np.shape(p)) for p in params[:4]) + (float(rng.normal()),)
        h = 1e-5

        def loss_at(s):
            return float(deq_loss(tuple(p + s * dv for p, dv in zip(params, v)), X, Y))
        cases.append((case, v, (loss_at(h) - loss_at(-h)) / (2 * h)))
    return cases


_FD_CASES = {seed: _fd_cases(seed) for seed in _PROBLEMS}


def check_deq_grad_fd(deq_loss_and_grad, *, hidden=False):
    """Task 6.4: ⟨∇L, v⟩ equals a central difference of L along v, every fixed point re-solved."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "⟨deq_loss_and_grad(params, X, Y, fixed_point_vjp)[1], v⟩ against central differences"
    for (case, v, fd), expected in zip(_FD_CASES[seed], _TABLE[seed]):
        _, params, X, Y = case
        inputs, _, grads = _run_grad(deq_loss_and_grad, case, what)
        value = float(sum(np.sum(gr * _asarray(dv)) for gr, dv in zip(grads, v)))
        if not same(value, fd, "numerical"):
            raise CheckFailure(what, inputs=dict(inputs, v="a random direction"), expected=fd, got=value,
                               hint=_grad_hint(params, X, Y, expected, grads))
    passed("deq_loss_and_grad agrees with central differences of re-solved losses", len(_FD_CASES[seed]))


# ============================================================================
# Task 6.5: one gradient-descent step that keeps ‖W‖₂ ≤ max_norm
# ============================================================================
def _reference_loss_and_grad(params, X, Y):
    return _reference(tuple(_asarray(p, dtype=float) if np.ndim(p) else float(p) for p in params), X, Y)


def _project(W, max_norm):
    norm = _norm2(W, 2)
    return W * (max_norm / norm) if norm > max_norm else W


def train_step_reference(params, X, Y, lr, max_norm=MAX_NORM):
    """(L(params), the projected step): p − lr·∂L/∂p for every p, then W rescaled to ‖W‖₂ = max_norm
    when it is larger."""
    loss, grads = _reference(params, X, Y)
    new = [p - lr * gr for p, gr in zip(params, grads)]
    new[0] = _project(new[0], max_norm)
    return loss, tuple(new)


def _step_cases(seed):
    """(problem, lr, max_norm): steps that stay inside the ball ‖W‖₂ ≤ max_norm and steps the rescaling
    pulls back; the hidden ones include a W that starts outside (max_norm = 0.5)."""
    probs = _PROBLEMS[seed]
    if seed == VISIBLE_SEED:
        return [(probs[0], 0.1, MAX_NORM), (probs[1], 3.0, MAX_NORM)]
    return [(probs[1], 0.05, MAX_NORM), (probs[1], 0.2, 0.5), (probs[0], 4.0, MAX_NORM)]


def _step_variants(params, X, Y, lr, max_norm):
    loss, grads = _reference(params, X, Y)
    plain = [p - lr * gr for p, gr in zip(params, grads)]
    up = [p + lr * gr for p, gr in zip(params, grads)]
    frob = _norm2(plain[0])
    return [
        ([_project(up[0], max_norm)] + up[1:],
         "the step went uphill: gradient descent subtracts, p − lr·∂L/∂p"),
        (plain, f"‖W‖₂ = {_norm2(plain[0], 2):.3g} after the step, above max_norm = {max_norm:g}: rescale the "
                "new W, after the step, to spectral norm max_norm when the step takes it outside, or the "
                "layer may stop being a contraction"),
        ([plain[0] * (max_norm / frob) if frob > max_norm else plain[0]] + plain[1:],
         "you rescaled with the Frobenius norm np.linalg.norm(W); the contraction condition is on the "
         "spectral norm, np.linalg.norm(W, 2)"),
        ([plain[0] * (max_norm / _norm2(plain[0], 2))] + plain[1:],
         "you rescaled W even though ‖W‖₂ was already below max_norm: rescale only when it is larger"),
        ([_project(params[0], max_norm) - lr * grads[0]] + plain[1:],
         "you rescaled W before the step; rescale the new W, after the step"),
    ]


def check_deq_train_step(deq_train_step, *, hidden=False):
    """Task 6.5: ``deq_train_step(params, X, Y, lr, loss_and_grad, max_norm)`` returns
    (L(params), new params) for one projected gradient-descent step, and leaves params alone."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    what = "deq_train_step(params, X, Y, lr, loss_and_grad, max_norm)"
    given = Named("loss_and_grad (the course's, passed in)", _reference_loss_and_grad)
    for (label, params, X, Y), lr, max_norm in _step_cases(seed):
        inputs = dict(params=label, lr=lr, max_norm=max_norm)
        exp_loss, exp_params = train_step_reference(params, X, Y, lr, max_norm)
        mine = _copies(params)
        out = attempt(deq_train_step, mine, X.copy(), Y.copy(), lr, given, max_norm)
        if isinstance(out, Raised):
            raise CheckFailure(what, inputs=inputs, got=out,
                               hint=NOT_DONE_HINT if out.not_done else "your code raised an exception on "
                                                                       "this input")
        for name, before, after in zip(NAMES, params, mine):
            if not _array_equal(before, after):
                raise CheckFailure(what, inputs=inputs, expected=f"params[{NAMES.index(name)}] ({name}) "
                                   "left as it was", got=f"{name} changed in place",
                                   hint=f"`{name} -= lr * {name}_bar` writes into the caller's array (the "
                                        "old parameters are gone, and a second call would start from "
                                        "the wrong place): compute new arrays, p - lr * g")
        if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[1], (tuple, list)) \
                or len(out[1]) != 5:
            raise CheckFailure(what, inputs=inputs, expected="a pair (loss, new_params), five new parameters",
                               got=out, hint="return loss, (W, U, b, c, d) after the step")
        loss, new = out
        if not same(loss, exp_loss, "solver"):
            after = _reference(exp_params, X, Y)[0]
            raise CheckFailure(what + ", the loss", inputs=inputs, expected=exp_loss, got=loss,
                               hint="you returned the loss after the step; return the loss at the "
                                    "parameters you were given" if same(loss, after, "recognise") else
                                    "return the loss that loss_and_grad gives at params")
        for i, (name, got, e) in enumerate(zip(NAMES, new, exp_params)):
            if not same(got, e, "solver"):
                found = next((msg for target, msg in _step_variants(params, X, Y, lr, max_norm)
                              if _matches(new, target)), None)
                raise CheckFailure(what + f", the new {name}", inputs=inputs, expected=e, got=as_floats(got),
                                   hint=found or "p − lr·∂L/∂p for each of the five parameters, then "
                                                 "W·(max_norm/‖W‖₂) if ‖W‖₂ > max_norm")
    passed("deq_train_step takes a projected gradient-descent step", len(_step_cases(seed)))
