"""Lesson 7's training tasks: Task 7.3 (the loss and its gradient by the student's adjoint) and
Task 7.4 (gradient descent with momentum). The checks pass on the notebook's solutions and on
other correct ways to write them; their expected values agree with independent oracles (central
differences of the RK4 loss, reverse mode through the RK4 steps to the discretisation error, the
momentum recurrence by hand); realistic wrong code fails with its hint; a failure caused by a
wrong Task 7.2 says so."""
import numpy as np
import pytest

from autodiff_ref import vjp
from autograder.checks import CheckFailure
from autograder.lessons import lesson7 as checks
from autograder.lessons.lesson7 import checks_training as kit
from autograder.material import rk4_solve
from autograder.policy import policy_for

from lesson_kit import assert_blank_tasks_not_done, assert_every_check_passes, blank, hint_of, solution_namespace
from test_lesson7_checks import NOTEBOOK, backward

CHECKS = {
    "task73-loss-grad": [("loss_and_grad", checks.check_loss_and_grad),
                         ("loss_and_grad", checks.check_loss_and_grad_differences)],
    "task74-train": [("train", checks.check_train)],
}
SEEDS = [checks.VISIBLE_SEED, checks.HIDDEN_SEED]


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace(NOTEBOOK)


def test_notebook_solutions_pass_every_check(solutions, capsys):
    assert_every_check_passes(CHECKS, solutions, capsys, ticks=6)
    for hidden in (False, True):
        checks.check_loss_and_grad(solutions["loss_and_grad"], adjoint_backward=solutions["adjoint_backward"],
                                   hidden=hidden)


# =============================================================================
# Other correct code passes
# =============================================================================
def loss_and_grad_concatenated(params, f, y0, ts, data, steps):
    """Another correct way: ybars built by concatenation, the loss summed and divided."""
    ys = rk4_solve(f, y0, ts, tuple(params), steps)
    residual = ys[1:] - np.asarray(data)
    n = np.size(residual)
    ybars = np.concatenate([np.zeros_like(ys[:1]), 2.0 / n * residual])
    grads = backward()(f, ts, ys, ybars, tuple(params), steps)[1]
    return float(np.sum(residual * residual) / n), list(grads)


def train_other_form(loss_and_grad, params, iterations, lr, momentum):
    """Another correct way: v ← βv + g, p ← p − ηv (the same iterates), a tuple, a while loop."""
    velocity = tuple(0.0 * np.asarray(p, dtype=float) for p in params)
    losses, k = [], 0
    while k < iterations:
        loss, grads = loss_and_grad(list(params))
        velocity = tuple(momentum * v + np.asarray(g) for v, g in zip(velocity, grads))
        params = tuple(p - lr * v for p, v in zip(params, velocity))
        losses.append(loss)
        k += 1
    return tuple(params), np.array(losses)


def test_other_correct_code_passes():
    for hidden in (False, True):
        checks.check_loss_and_grad(loss_and_grad_concatenated, hidden=hidden)
        checks.check_loss_and_grad_differences(loss_and_grad_concatenated, hidden=hidden)
        checks.check_train(train_other_form, hidden=hidden)


# =============================================================================
# The expected values agree with independent oracles
# =============================================================================
@pytest.mark.parametrize("seed", SEEDS)
def test_expected_gradients_agree_with_central_differences_and_the_steps(seed):
    for case, (v, fd) in zip(kit._FITS[seed], kit._DIRECTIONS[seed]):
        along = sum(float(np.sum(np.asarray(e) * d)) for e, d in zip(case.expected, v))
        assert along == pytest.approx(fd, rel=1e-5, abs=3e-7), case.f
        through = kit._through_the_steps(case)
        scale = max(float(np.max(np.abs(e))) for e in case.expected)
        for e, t in zip(case.expected, through):
            np.testing.assert_allclose(e, t, rtol=1e-4, atol=1e-5 * scale)
        # ... yet far enough from the adjoint's that reverse mode through the steps is told apart
        assert not kit._grads_match(through, case.expected, "solver"), case.f


@pytest.mark.parametrize("seed", SEEDS)
def test_expected_loss_and_cotangents_by_hand(seed):
    for case in kit._FITS[seed]:
        ys = np.asarray(case.ys, dtype=float)
        residual = ys[1:] - case.data
        assert case.loss == pytest.approx(np.sum(residual ** 2) / residual.size, rel=1e-14)
        assert np.all(case.ybars[0] == 0)
        np.testing.assert_allclose(case.ybars[1:], 2 * residual / residual.size, rtol=1e-14)
        # the cotangents are the gradient of L with respect to the observed states
        direction = np.random.default_rng(0).normal(size=ys[1:].shape)
        h = 1e-6
        slope = (np.mean((ys[1:] + h * direction - case.data) ** 2) -
                 np.mean((ys[1:] - h * direction - case.data) ** 2)) / (2 * h)
        assert slope == pytest.approx(np.sum(case.ybars[1:] * direction), rel=1e-6)


def test_reference_train_matches_the_recurrence_by_hand():
    # L = w (p − c)², ∇L = 2w(p − c); two steps of v ← βv − η∇L, p ← p + v from p₀
    w, c, p0, lr, beta = 1.5, 0.5, 2.0, 0.1, 0.6

    def bowl(params):
        (p,) = params
        return float(w * (p - c) ** 2), (2 * w * (p - c),)
    v1 = -lr * 2 * w * (p0 - c)
    p1 = p0 + v1
    v2 = beta * v1 - lr * 2 * w * (p1 - c)
    p2 = p1 + v2
    params, losses = checks.reference_train(bowl, [np.array(p0)], 2, lr, beta)
    assert float(params[0]) == pytest.approx(p2, rel=1e-15)
    assert losses == pytest.approx([w * (p0 - c) ** 2, w * (p1 - c) ** 2], rel=1e-15)
    with pytest.raises(ValueError, match="iterations"):
        checks.reference_train(bowl, [np.array(p0)], -1, lr, beta)


def test_every_mistake_switch_changes_the_answer():
    for seed in SEEDS:
        for case in kit._FITS[seed]:
            for target, message in kit._grad_variants(case):
                assert not kit._grads_match(target, case.expected, "solver"), (case.f, message)
        for f, params, iterations, lr, momentum, expected in kit._TRAINS[seed]:
            if iterations < 2:
                continue
            for switches in (dict(carry=False), dict(record="after"), dict(step="lr twice")):
                got = checks.reference_train(f, params, iterations, lr, momentum, **switches)
                same = all(kit.close(g, e, "rounding") for g, e in zip(got[0], expected[0])) and \
                    kit.close(got[1], expected[1], "rounding")
                assert not same or (switches == dict(carry=False) and momentum == 0), (f, switches)


# =============================================================================
# Realistic wrong code fails with its hint
# =============================================================================
def loss_and_grad_with(**switches):
    def loss_and_grad(params, f, y0, ts, data, steps):
        ys = rk4_solve(f, y0, ts, tuple(params), steps)
        loss, ybars = kit.misfit_cotangents(ys, data, **switches)
        return loss, backward()(f, ts, ys, ybars, tuple(params), steps)[1]
    return loss_and_grad


def loss_and_grad_through_the_steps(params, f, y0, ts, data, steps):
    ys, pullback = vjp(lambda *p: rk4_solve(f, y0, ts, p, steps), *params)
    residual = ys[1:] - data
    ybars = np.zeros_like(ys)
    ybars[1:] = 2 * residual / residual.size
    return np.mean(residual ** 2), pullback(ybars)


def loss_with(loss_of):
    def loss_and_grad(params, f, y0, ts, data, steps):
        ys = rk4_solve(f, y0, ts, tuple(params), steps)
        return loss_of(ys, data), loss_and_grad_with()(params, f, y0, ts, data, steps)[1]
    return loss_and_grad


WRONG_LOSS = [
    (loss_and_grad_with(factor=1.0), "lost its factor 2"),
    (loss_and_grad_with(count="none"), "lost its 1/(N·d)"),
    (loss_and_grad_with(factor=1.0, count="none"), "both its factor 2 and its 1/(N·d)"),
    (loss_and_grad_with(count="all"), "divides by ys.size"),
    (loss_and_grad_with(times="shifted"), "the wrong times"),
    (loss_and_grad_with(times="short"), "one row per time of ts"),
    (loss_and_grad_through_the_steps, "reverse mode through the RK4 steps"),
    (lambda *args: (loss_and_grad_with()(*args)[0], tuple(-np.asarray(g) for g in loss_and_grad_with()(*args)[1])),
     "wrong sign"),
    (loss_with(lambda ys, data: np.mean((ys[:-1] - data) ** 2)), "compare data with ys[1:]"),
    (loss_with(lambda ys, data: np.sum((ys[1:] - data) ** 2)), "the sum of the squares"),
    (loss_with(lambda ys, data: np.sum((ys[1:] - data) ** 2) / ys.size), "the mean counts the start"),
    (loss_with(lambda ys, data: np.sqrt(np.mean((ys[1:] - data) ** 2))), "root of the mean square"),
    (lambda *args: loss_and_grad_with()(*args)[1], "return (loss, grads)"),
    (lambda *args: (loss_and_grad_with()(*args)[0], ()), "one per entry of params"),
    (lambda *args: 1 / 0, "ZeroDivisionError"),
]


@pytest.mark.parametrize("wrong,expected_hint", WRONG_LOSS)
def test_loss_and_grad_wrong(wrong, expected_hint):
    with pytest.raises(CheckFailure) as info:
        checks.check_loss_and_grad(wrong)
    assert expected_hint in str(info.value), str(info.value)


@pytest.mark.parametrize("wrong,expected_hint", WRONG_LOSS[:6] + WRONG_LOSS[7:8])
def test_loss_and_grad_wrong_against_differences(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_loss_and_grad_differences, wrong)


def test_reverse_mode_through_the_steps_passes_the_differences():
    checks.check_loss_and_grad_differences(loss_and_grad_through_the_steps)
    checks.check_loss_and_grad_differences(loss_and_grad_through_the_steps, hidden=True)


def train_with(**switches):
    def train(loss_and_grad, params, iterations, lr, momentum):
        return checks.reference_train(loss_and_grad, params, iterations, lr, momentum, **switches)
    return train


def train_in_place(loss_and_grad, params, iterations, lr, momentum):
    velocity = [np.zeros_like(p) for p in params]
    losses = []
    for _ in range(iterations):
        loss, grads = loss_and_grad(params)
        losses.append(loss)
        for p, v, g in zip(params, velocity, grads):
            v *= momentum
            v -= lr * g
            p += v
    return params, losses


def train_one_extra_step(loss_and_grad, params, iterations, lr, momentum):
    return train_with()(loss_and_grad, params, iterations + 1, lr, momentum)


WRONG_TRAIN = [
    (train_with(carry=False), "the momentum buffer is not carried"),
    (train_with(record="after"), "recorded after each step"),
    (train_with(step="lr twice"), "applied twice"),
    (train_in_place, "in place"),
    (train_one_extra_step, "one loss per step"),
    (lambda *args: train_with()(*args)[0], "a pair (params, losses)"),
    (lambda *args: (train_with()(*args)[0][:1], train_with()(*args)[1]), "return the 3 parameters"),
]


@pytest.mark.parametrize("wrong,expected_hint", WRONG_TRAIN)
def test_train_wrong(wrong, expected_hint):
    with pytest.raises(CheckFailure) as info:
        checks.check_train(wrong)
    assert expected_hint in str(info.value), str(info.value)


# =============================================================================
# Each task is judged on its own: a wrong Task 7.2 is named, a wrong loss is not blamed on it
# =============================================================================
def loss_and_grad_on(adjoint_backward):
    def loss_and_grad(params, f, y0, ts, data, steps):
        ys = rk4_solve(f, y0, ts, tuple(params), steps)
        loss, ybars = kit.misfit_cotangents(ys, data)
        return loss, adjoint_backward(f, ts, ys, ybars, tuple(params), steps)[1]
    return loss_and_grad


@pytest.mark.parametrize("check", [checks.check_loss_and_grad, checks.check_loss_and_grad_differences])
def test_a_wrong_backward_pass_is_blamed(check):
    wrong_backward = backward(jumps="none")
    hint = hint_of(check, loss_and_grad_on(wrong_backward), adjoint_backward=wrong_backward)
    assert "builds on your adjoint_backward (Task 7.2)" in hint and "forgot the jumps" in hint, hint


def test_a_wrong_loss_is_not_blamed_on_a_right_backward_pass():
    hint = hint_of(checks.check_loss_and_grad, loss_and_grad_with(factor=1.0), adjoint_backward=backward())
    assert "lost its factor 2" in hint and "Task 7.2" not in hint


def test_a_wrong_loss_value_is_never_blamed_on_the_backward_pass():
    wrong_backward = backward(jumps="none")
    hint = hint_of(checks.check_loss_and_grad, loss_with(lambda ys, data: np.sum((ys[1:] - data) ** 2)),
                   adjoint_backward=wrong_backward)
    assert "the sum of the squares" in hint and "Task 7.2" not in hint


def test_the_loop_is_judged_without_any_gradient_of_the_student():
    checks.check_train(train_with())        # a reference loss_and_grad is passed in by the check


def test_a_blank_task_says_it_is_not_done():
    assert_blank_tasks_not_done(CHECKS)
    assert "not done yet" in hint_of(checks.check_loss_and_grad, blank, adjoint_backward=blank)


def test_policy_of_the_new_tasks():
    for task in ("Task 7.3", "Task 7.4"):
        policy = policy_for("lesson7_neural_odes", f"# Check {task}: something")
        assert policy.task == task
        assert "autodiff_ref.odeint" in policy.forbid_names         # the library's gradient of the solve
        assert "autodiff_ref.vjp" not in policy.forbid_names        # the student's Task 7.1 runs inside
        # one sandbox for the whole lesson: the later tasks run the earlier tasks' code
        assert policy.key == policy_for("lesson7_neural_odes", "# Check Task 7.1: x").key


def test_the_training_helpers_have_one_home():
    assert not hasattr(checks, "train_neural_ode") and not hasattr(checks, "fit_lotka_volterra")


def test_the_fit_figures_draw_what_the_student_loop_returns(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ts, data, clean = checks.lv_data()
    visited = [np.array([1.2, 0.8, 2.6, 1.2]), np.array([1.3, 0.9, 2.8, 1.1]), np.array([1.4, 1.0, 2.9, 1.05])]
    ax, ax1, ax2 = checks.plot_fit(ts, data, clean, visited, [0.9, 0.3], 0.05, lr=0.008, momentum=0.7)
    assert ax.get_title() == "loss: 0.900 → 0.0500" and "1.400, 1.000, 2.900, 1.050" in ax2.get_title()
    assert len(ax1.get_lines()[0].get_xdata()) == 3           # θ at each step, the fitted θ last
    plt.close("all")
    ts, y0, spiral = checks.spiral_data()
    initial = checks.init_mlp(16, 0)
    ax, _ = checks.plot_neural_ode(ts, y0, spiral, initial, [p * 1.01 for p in initial], [2.5, 1.0], 0.5)
    assert ax.get_title() == "training: 2.50 → 0.5000" and list(ax.get_lines()[0].get_ydata()) == [2.5, 1.0, 0.5]
    plt.close("all")


def train_rebinding_the_callers_list(loss_and_grad, params, iterations, lr, momentum):
    new, losses = train_with()(loss_and_grad, params, iterations, lr, momentum)
    params[:] = new                                  # the caller's list now holds the trained arrays
    return params, losses


def test_rebinding_the_callers_list_is_changing_it_in_place():
    assert "params[i] = …" in hint_of(checks.check_train, train_rebinding_the_callers_list)
