r"""Lesson 8's checks of the optimisers with a state: heavy-ball momentum (Task 1.3) and
Adam (Task 1.4).

Each check calls the student's step on single steps from given states (zero and
nonzero) and then feeds the returned state back for a whole path, against the
references of :mod:`.material`. A failure names the slip when one explains the
answer exactly: the velocity or the moments reset every step, θ moved with the
old velocity or the old first moment, the averaged (dampened) velocity, no bias
correction, the correction taken with the step count before it was incremented,
ε inside the square root, the square root left out, β and 1 − β swapped. Every
case holds a nonzero state, so these slips give answers different from the
right one and from each other (tests/test_lesson8_optimisers.py checks that on
every case).
"""
import numpy

from autograder.checks import Named, as_floats, passed, same

from .checks import compare, failure, rosenbrock_grad, run_student, unchanged
from .material import AdamState, adam_step_reference, momentum_step_reference, np, quadratic_bowl


# ============================================================================
# Shared: the answer's form, the same call twice, a whole path
# ============================================================================
def _parts(out, what, inputs, names):
    """The student's answer as a tuple of len(names) items, or a failure saying what to return."""
    if not (isinstance(out, (tuple, list)) and len(out) == len(names)):
        raise failure(what, inputs=inputs, expected=f"a pair ({', '.join(names)})",
                      got=type(out).__name__ if not isinstance(out, (tuple, list)) else f"{len(out)} items",
                      hint=f"return the pair {', '.join(names)}: the new point and the new state")
    return tuple(out)


def _flat(*arrays):
    """Arrays (or numbers) as one float vector, or None when one of them is not numeric."""
    parts = [as_floats(a) for a in arrays]
    return None if any(p is None for p in parts) else numpy.concatenate([numpy.ravel(p) for p in parts])


def _first_match(got, variants):
    """The hint of the first (candidate, hint) whose flat vector equals `got`'s (to "recognise")."""
    return next((hint for candidate, hint in variants
                 if got is not None and got.shape == candidate.shape and same(got, candidate, "recognise")), None)


_KEEPS_STATE = ("called twice with the same inputs, your step moved θ differently the second time: it keeps a "
                "state of its own between calls (a global or default buffer). Everything a step needs comes "
                "in through its arguments and goes out in what it returns")


def _same_twice(student, args, first, what, inputs):
    """Fail when calling `student` again on copies of the same inputs gives another θ."""
    again = run_student(student, args, what, inputs)
    got, second = as_floats(first[0]), as_floats(again[0] if isinstance(again, (tuple, list)) else again)
    if got is not None and (second is None or second.shape != got.shape or not same(second, got, "exact")):
        raise failure(what + ", called a second time", inputs=inputs, expected=got, got=again, hint=_KEEPS_STATE)


def _flat_bowl():
    """Gradients of order 10⁻⁵, so Adam's v̂ is of the order of ε = 10⁻⁸ (ε inside the root shows)."""
    return Named("∇ of 10⁻⁵·½‖θ − (1, 2)‖²", lambda theta: 1e-5 * (theta - np.array([1.0, 2.0])))


def _bowl5(seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(5, 5))
    A = M @ M.T / 5 + np.eye(5)
    return Named("∇ of ½θᵀAθ − Σθ in 5-D", lambda theta: A @ theta - 1.0), rng


# ============================================================================
# Task 1.3: heavy-ball momentum, v ← βv + ∇f(θ), θ ← θ − ηv
# ============================================================================
def momentum_variants(grad_f, theta, velocity, lr, beta):
    """What the known slips return, each flattened as (θ, v), with its hint."""
    g = grad_f(theta)
    v_new = beta * velocity + g
    damped = beta * velocity + (1 - beta) * g
    sutskever = beta * velocity - lr * g
    return [
        (_flat(theta - lr * g, g),
         "the velocity started from zero again: your step ignores the velocity it was given (v ← βv + ∇f(θ) "
         "uses the incoming v), so every step is plain gradient descent"),
        (_flat(theta - lr * velocity, v_new),
         "θ moved with the old velocity: update the velocity first, v ← βv + ∇f(θ), then θ ← θ − η·v with the "
         "new v"),
        (_flat(theta - lr * damped, damped),
         "you averaged the gradient in, v ← βv + (1−β)∇f(θ) (PyTorch's `dampening`); this task's velocity "
         "adds the whole gradient: v ← βv + ∇f(θ)"),
        (_flat(theta + sutskever, sutskever),
         "you used the other convention, v ← βv − η∇f(θ), θ ← θ + v, whose velocity is −η times this one; "
         "the task (like PyTorch) keeps v ← βv + ∇f(θ) and steps θ ← θ − η·v"),
        (_flat(theta + lr * v_new, v_new), "you moved uphill: θ + η·v is ascent; descend with θ − η·v"),
        (_flat(theta - lr * (velocity + beta * g), velocity + beta * g),
         "β multiplies the old velocity, not the gradient: v ← βv + ∇f(θ)"),
    ]


def _momentum_hint(grad_f, theta, velocity, lr, beta, got):
    return _first_match(_flat(*got), momentum_variants(grad_f, theta, velocity, lr, beta))


def _run_momentum_steps(student, cases, what):
    for grad_f, theta, velocity, lr, beta in cases:
        inputs = {"grad_f": grad_f, "theta": theta, "velocity": velocity, "lr": lr, "beta": beta}
        exp_theta, exp_v = momentum_step_reference(grad_f, np.copy(theta), np.copy(velocity), lr, beta)
        given = (grad_f, np.copy(theta), np.copy(velocity), lr, beta)
        out = run_student(student, given, what, inputs)
        unchanged(theta, given[1], what, inputs, "theta")
        unchanged(velocity, given[2], what, inputs, "velocity")
        got = _parts(out, what, inputs, ("new_theta", "new_velocity"))
        _same_twice(student, (grad_f, np.copy(theta), np.copy(velocity), lr, beta), got, what, inputs)
        hint = lambda: _momentum_hint(grad_f, theta, velocity, lr, beta, got)  # noqa: E731
        compare(got[0], exp_theta, what + " (new θ)", inputs, hint)
        compare(got[1], exp_v, what + " (new velocity)", inputs, hint)


def _run_momentum_path(student, grad_f, theta0, lr, beta, n_steps, what):
    """n_steps steps from v = 0, each fed the state the previous one returned."""
    inputs = {"grad_f": grad_f, "theta0": theta0, "lr": lr, "beta": beta, "n_steps": n_steps}
    theta, velocity = np.copy(theta0), np.zeros_like(theta0)
    exp_theta, exp_v = np.copy(theta0), np.zeros_like(theta0)
    for k in range(1, n_steps + 1):
        theta, velocity = _parts(run_student(student, (grad_f, theta, velocity, lr, beta), what, inputs),
                                 what, inputs, ("new_theta", "new_velocity"))
        theta, velocity = as_floats(theta), as_floats(velocity)
        exp_theta, exp_v = momentum_step_reference(grad_f, exp_theta, exp_v, lr, beta)
        compare(theta, exp_theta, what + f" (θ after step {k})", inputs,
                "each step starts from the θ and the velocity the previous step returned", tol="solver")


def momentum_cases(hidden=False):
    """The single steps the checks try: (grad_f, theta, velocity, lr, beta), most with v ≠ 0."""
    if not hidden:
        _, grad_f, _, _ = quadratic_bowl()
        return [(grad_f, np.array([-1.5, 2.0]), np.array([0.0, 0.0]), 0.05, 0.9),
                (grad_f, np.array([-1.5, 2.0]), np.array([2.0, -3.0]), 0.05, 0.9),
                (grad_f, np.array([0.5, 0.0]), np.array([-1.0, 4.0]), 0.1, 0.5)]
    bowl5, rng = _bowl5(131)
    return [(rosenbrock_grad(), np.array([-1.2, 1.0]), np.array([0.5, -0.3]), 1e-3, 0.9),
            (bowl5, rng.normal(size=5), rng.normal(size=5), 0.1, 0.0),
            (bowl5, rng.normal(size=5), rng.normal(size=5), 0.02, 0.99)]


def check_momentum_step(momentum_step):
    """Visible: single steps on the quadratic bowl (zero and nonzero velocity), then a path."""
    cases = momentum_cases()
    what = "momentum_step on the quadratic bowl"
    _run_momentum_steps(momentum_step, cases, what)
    _run_momentum_path(momentum_step, cases[0][0], np.array([-1.5, 2.2]), 0.02, 0.9, 15, what + ", 15 steps")
    passed(what, len(cases) + 1)


def check_momentum_step_hidden(momentum_step):
    """Hidden: Rosenbrock, a 5-D bowl, β = 0 (plain descent) and β close to 1."""
    cases = momentum_cases(hidden=True)
    what = "momentum_step on other functions"
    _run_momentum_steps(momentum_step, cases, what)
    _run_momentum_path(momentum_step, rosenbrock_grad(), np.array([-1.0, 1.5]), 5e-4, 0.95, 40,
                       what + ", 40 steps on Rosenbrock")
    passed(what, len(cases) + 1)


# ============================================================================
# Task 1.4: Adam (Kingma & Ba), bias-corrected moments, ε outside the root
# ============================================================================
def adam_variants(grad_f, theta, state, lr, beta1, beta2, eps):
    """What the known slips return, each flattened as (θ, m, v, t), with its hint."""
    m, v, t = state
    g = grad_f(theta)
    t1 = t + 1
    m1 = beta1 * m + (1 - beta1) * g
    v1 = beta2 * v + (1 - beta2) * g * g
    c1, c2 = 1 - beta1 ** t1, 1 - beta2 ** t1
    m_hat, v_hat = m1 / c1, v1 / c2

    def out(step, mm=m1, vv=v1, tt=t1):
        return _flat(theta - lr * step, mm, vv, tt)
    variants = [
        (out(m1 / (np.sqrt(v1) + eps)),
         "no bias correction: m and v start at 0, so early on they are too small by the factors 1 − β₁ᵗ and "
         "1 − β₂ᵗ; divide them out, m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)"),
        (out(m_hat / np.sqrt(v_hat + eps)),
         "ε is inside the square root: the step is η·m̂/(√v̂ + ε), with ε added after the root (it matters "
         "where v̂ is as small as ε)"),
        (out(m_hat / (v_hat + eps)),
         "the square root is missing: divide m̂ by √v̂ + ε, the root of the mean squared gradient"),
        (out(np.sqrt(m_hat) / (np.sqrt(v_hat) + eps)),     # NaN where m̂ < 0, as the student's is
         "the square root belongs to v̂, not to m̂: the step is η·m̂/(√v̂ + ε)"),
        (out((m / c1) / (np.sqrt(v_hat) + eps)), _OLD_MOMENTS),
        (out((m / c1) / (np.sqrt(v / c2) + eps)), _OLD_MOMENTS),
        (out(((1 - beta1) * g / c1) / (np.sqrt((1 - beta2) * g * g / c2) + eps), (1 - beta1) * g,
             (1 - beta2) * g * g),
         "the moments started from zero again: update the m and v you were given, m ← β₁m + (1 − β₁)g"),
        (out((beta1 * g + (1 - beta1) * m) / c1 / (np.sqrt((beta2 * g * g + (1 - beta2) * v) / c2) + eps),
             beta1 * g + (1 - beta1) * m, beta2 * g * g + (1 - beta2) * v),
         "β and 1 − β are swapped: the moment keeps β of its old value, m ← β₁m + (1 − β₁)g"),
        (out(m_hat / (np.sqrt(v_hat) + eps), tt=t),
         "return the step count t + 1 in the new state: the step you just took counts"),
    ]
    if t > 0:
        # the correction taken with the count before it was incremented (t = 0 on the first step)
        variants.insert(1, (out((m1 / (1 - beta1 ** t)) / (np.sqrt(v1 / (1 - beta2 ** t)) + eps)),
                            _T_FROM_ZERO))
    return variants


_OLD_MOMENTS = ("θ moved with the old moments (one or both): update m and v with this step's gradient first, "
                "then step with the new m̂ and v̂")
_T_FROM_ZERO = ("the bias correction used the step count before it was incremented: the first step is t = 1 "
                "(add 1 to t first, then divide by 1 − β₁ᵗ and 1 − β₂ᵗ); with t = 0 they are 0")


def _adam_hint(grad_f, theta, state, lr, beta1, beta2, eps, got_theta, got_state):
    flat = _flat(got_theta, *got_state) if len(got_state) == 3 else None
    hint = _first_match(flat, adam_variants(grad_f, theta, state, lr, beta1, beta2, eps))
    g_theta = as_floats(got_theta)
    if hint is None and state.t == 0 and g_theta is not None and not numpy.any(numpy.isfinite(g_theta)):
        return _T_FROM_ZERO       # 1 − βᵗ = 0 at t = 0: every entry of θ is ±inf or NaN
    return hint


def _adam_parts(out, what, inputs):
    new_theta, new_state = _parts(out, what, inputs, ("new_theta", "new_state"))
    if not (isinstance(new_state, (tuple, list)) and len(new_state) == 3):
        raise failure(what, inputs=inputs, expected="a new state (m, v, t) of 3 items", got=new_state,
                      hint="return (new_theta, (m, v, t)): the two moments and the step count")
    return new_theta, tuple(new_state)


def _run_adam_steps(student, cases, what):
    with numpy.errstate(all="ignore"):
        for grad_f, theta, state, lr, beta1, beta2, eps in cases:
            inputs = {"grad_f": grad_f, "theta": theta, "state (m, v, t)": state, "lr": lr, "beta1": beta1,
                      "beta2": beta2, "eps": eps}
            exp_theta, exp_state = adam_step_reference(grad_f, np.copy(theta), state, lr, beta1, beta2, eps)

            def given():
                return (grad_f, np.copy(theta), AdamState(np.copy(state.m), np.copy(state.v), state.t),
                        lr, beta1, beta2, eps)
            args = given()
            out = run_student(student, args, what, inputs)
            unchanged(theta, args[1], what, inputs, "theta")
            unchanged(state.m, args[2].m, what, inputs, "m")
            unchanged(state.v, args[2].v, what, inputs, "v")
            got_theta, got_state = _adam_parts(out, what, inputs)
            _same_twice(student, given(), (got_theta,), what, inputs)
            hint = lambda: _adam_hint(grad_f, theta, state, lr, beta1, beta2, eps, got_theta, got_state)  # noqa: E731
            compare(got_theta, exp_theta, what + " (new θ)", inputs, hint)
            for name, got, exp in zip(("m", "v", "t"), got_state, exp_state):
                compare(got, exp, what + f" (new {name})", inputs, hint)


def _run_adam_path(student, grad_f, theta0, lr, n_steps, what, beta1=0.9, beta2=0.999, eps=1e-8):
    """n_steps steps from m = v = 0, t = 0, each fed the state the previous one returned."""
    inputs = {"grad_f": grad_f, "theta0": theta0, "lr": lr, "n_steps": n_steps, "beta1": beta1,
              "beta2": beta2, "eps": eps}
    theta, state = np.copy(theta0), AdamState(np.zeros_like(theta0), np.zeros_like(theta0), 0)
    exp_theta, exp_state = np.copy(theta0), state
    with numpy.errstate(all="ignore"):
        for k in range(1, n_steps + 1):
            theta, new_state = _adam_parts(run_student(student, (grad_f, theta, state, lr, beta1, beta2, eps),
                                                       what, inputs), what, inputs)
            theta = as_floats(theta)
            state = AdamState(as_floats(new_state[0]), as_floats(new_state[1]), new_state[2])
            exp_theta, exp_state = adam_step_reference(grad_f, exp_theta, exp_state, lr, beta1, beta2, eps)
            compare(theta, exp_theta, what + f" (θ after step {k})", inputs,
                    "each step starts from the θ and the state (m, v, t) the previous step returned", tol="solver")


def _state(m, v, t):
    return AdamState(np.asarray(m, dtype=float), np.asarray(v, dtype=float), t)


def adam_cases(hidden=False):
    """The single steps the checks try: (grad_f, theta, state, lr, beta1, beta2, eps)."""
    if not hidden:
        _, grad_f, _, _ = quadratic_bowl()
        return [(grad_f, np.array([-1.5, 2.0]), _state([0.0, 0.0], [0.0, 0.0], 0), 0.1, 0.9, 0.999, 1e-8),
                (grad_f, np.array([-1.5, 2.0]), _state([0.3, -1.0], [0.5, 2.0], 2), 0.1, 0.9, 0.999, 1e-8),
                (_flat_bowl(), np.array([0.0, 0.5]), _state([-2e-6, -3e-6], [4e-12, 9e-12], 3), 0.05, 0.9, 0.999,
                 1e-8)]
    bowl5, rng = _bowl5(141)
    return [(rosenbrock_grad(), np.array([-1.2, 1.0]), _state([1.0, -0.5], [3.0, 0.2], 1), 0.01, 0.9, 0.999,
             1e-8),
            (bowl5, rng.normal(size=5), _state(rng.normal(size=5), rng.random(5), 7), 0.05, 0.8, 0.99, 1e-3),
            (bowl5, rng.normal(size=5), _state(rng.normal(size=5), rng.random(5), 40), 0.2, 0.5, 0.9, 1e-6)]


def check_adam_step(adam_step):
    """Visible: the first step, a later step, a nearly flat loss where ε matters; then a path."""
    cases = adam_cases()
    what = "adam_step on the quadratic bowl"
    _run_adam_steps(adam_step, cases, what)
    _run_adam_path(adam_step, cases[0][0], np.array([-1.5, 2.2]), 0.1, 15, what + ", 15 steps")
    passed(what, len(cases) + 1)


def check_adam_step_hidden(adam_step):
    """Hidden: Rosenbrock, a 5-D bowl, other β and ε, a late step."""
    cases = adam_cases(hidden=True)
    what = "adam_step on other functions"
    _run_adam_steps(adam_step, cases, what)
    _run_adam_path(adam_step, rosenbrock_grad(), np.array([-1.0, 1.5]), 0.02, 40, what + ", 40 steps on Rosenbrock")
    passed(what, len(cases) + 1)
