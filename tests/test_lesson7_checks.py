"""Lesson 7's checks (neural ODEs and the adjoint method): they pass on the notebook's
solutions and on other correct ways to write them, their expected values agree with
independent oracles (closed forms, HIPS autograd's Jacobians and its own ODE adjoint,
scipy's solvers, reverse mode through the solver's steps), they fail with the expected
hint on realistic wrong code, and they kill the single-point mutants of the solutions.

The slow tests execute the notebook with nbclient (the blank release fails cleanly) and grade it through the real nbgrader
(solution → full marks, blank → 0, wrong → partial with its message).
"""
import json
from pathlib import Path
import math

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.builtins import tuple as ag_tuple
from autograd.scipy.integrate import odeint as ag_odeint

from autodiff_ref import grad, odeint, vjp
from autodiff_ref.ode import Adjoint
from autograder.checks import CheckFailure
from autograder.lessons import lesson7 as checks
from autograder.lessons.lesson7 import checks as kit

from lesson_kit import assert_blank_tasks_not_done, assert_every_check_passes, solution_namespace
from conftest import REPO

ASSIGNMENT = "lesson7_neural_odes"
NOTEBOOK = REPO / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
CHECKS = {
    "task71-dynamics": [("adjoint_dynamics", checks.check_adjoint_dynamics),
                        ("adjoint_dynamics", checks.check_adjoint_dynamics_params)],
    "task72-backward": [("adjoint_backward", checks.check_backward_one_interval),
                        ("adjoint_backward", checks.check_backward_observations),
                        ("adjoint_backward", checks.check_backward_differences)],
}


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace(NOTEBOOK)


# =============================================================================
# The checks pass on correct code
# =============================================================================
def test_notebook_solutions_pass_every_check(solutions, capsys):
    assert_every_check_passes(CHECKS, solutions, capsys, ticks=10)


def dynamics_by_jacobians(f, state, t, params):
    """Another correct way: explicit Jacobians by forward mode, then transposed products."""
    from autodiff_ref import jacfwd
    y = np.asarray(state.y, dtype=float)
    n = y.size
    J = np.asarray(jacfwd(lambda yy: f(yy, t, *params))(state.y), dtype=float).reshape(n, n)
    da = -(J.T @ np.reshape(state.a, n)).reshape(y.shape)
    dparams = []
    for i, p in enumerate(params):
        def of(q, i=i):
            full = list(params)
            full[i] = q
            return f(state.y, t, *full)
        Jp = np.asarray(jacfwd(of)(p), dtype=float).reshape(n, -1)
        dparams.append((-(np.reshape(state.a, n) @ Jp)).reshape(np.shape(p)))
    return Adjoint(f(state.y, t, *params), da if y.shape else float(da), tuple(dparams))


def test_dynamics_by_explicit_jacobians_pass():
    for hidden in (False, True):
        checks.check_adjoint_dynamics(dynamics_by_jacobians, hidden=hidden)
        checks.check_adjoint_dynamics_params(dynamics_by_jacobians, hidden=hidden)


def backward_with_lists(f, ts, ys, ybars, params, steps):
    """Another correct way: a while loop, the state as a plain tuple, floats for times."""
    def field(state, t):
        y, a, a_params = state
        dy, pullback = vjp(lambda y, *p: f(y, t, *p), y, *params)
        cot = pullback(a)
        return (dy, -cot[0], tuple(-c for c in cot[1:]))
    a, a_params = np.array(ybars[-1], dtype=float), tuple(0.0 * np.asarray(p, dtype=float) for p in params)
    i = len(ts) - 1
    while i > 0:
        t, h = float(ts[i]), float(ts[i - 1] - ts[i]) / steps
        state = (ys[i], a, a_params)
        for _ in range(steps):
            state = checks.rk4_step(field, state, t, h)
            t += h
        a, a_params = state[1] + ybars[i - 1], state[2]
        i -= 1
    return a, a_params


def test_other_correct_backward_passes():
    for hidden in (False, True):
        checks.check_backward_one_interval(backward_with_lists, hidden=hidden)
        checks.check_backward_observations(backward_with_lists, hidden=hidden)
        checks.check_backward_differences(backward_with_lists, hidden=hidden)


def test_the_reference_with_default_switches_is_the_library():
    for seed in (checks.VISIBLE_SEED, checks.HIDDEN_SEED):
        for case in kit._ONE_INTERVAL[seed] + kit._OBSERVATIONS[seed]:
            mine = checks.reference_backward(case.f, case.ts, case.ys, case.ybars, case.params, case.steps)
            np.testing.assert_allclose(mine[0], case.expected[0], rtol=1e-12, atol=1e-12)
            for a, b in zip(mine[1], case.expected[1]):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_every_mistake_switch_changes_the_answer():
    for case in kit._OBSERVATIONS[checks.VISIBLE_SEED]:
        for target, message in kit._backward_variants(case):
            assert not kit._backward_matches(target, case.expected, "solver"), (case.f, message)


# =============================================================================
# The expected values agree with independent oracles
# =============================================================================
def _autograd_field(f):
    if f is checks.DECAY:
        return lambda y, t, k: -k * y
    if f is checks.LV:
        return lambda y, t, th: anp.array([th[0] * y[0] - th[1] * y[0] * y[1], -th[2] * y[1] + th[3] * y[0] * y[1]])
    if f is checks.LINEAR:
        return lambda y, t, A: anp.dot(A, y)
    if f is checks.FORCED:
        return lambda y, t, k, c, w: anp.array([y[1], -k * y[0] - c * y[1] + anp.sin(w * t)])
    if f is checks.MLP:
        return lambda y, t, W1, b1, W2: anp.dot(W2, anp.tanh(anp.dot(W1, y) + b1))
    raise KeyError(f)


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_dynamics_table_matches_hips_autograd(seed):
    for (f, state, t, params), expected in zip(kit._DYNAMICS_CASES[seed], kit._DYNAMICS_TABLE[seed]):
        g = _autograd_field(f)
        np.testing.assert_allclose(expected.y, g(state.y, t, *params), rtol=1e-14, atol=1e-14)
        a = np.asarray(state.a, dtype=float)
        J = autograd.jacobian(lambda y: g(y, t, *params))(np.asarray(state.y, dtype=float))
        np.testing.assert_allclose(expected.a, -(np.reshape(J, (a.size, a.size)).T @ a.ravel()).reshape(a.shape),
                                   rtol=1e-12, atol=1e-12)
        for i, p in enumerate(params):
            def of(q, i=i):
                full = list(params)
                full[i] = q
                return anp.sum(anp.asarray(state.a) * g(state.y, t, *full))
            np.testing.assert_allclose(expected.a_params[i], -autograd.grad(of)(np.asarray(p, dtype=float)),
                                       rtol=1e-12, atol=1e-12)


def test_dynamics_table_closed_forms():
    f, state, t, params = kit._DYNAMICS_CASES[checks.VISIBLE_SEED][0]
    expected = kit._DYNAMICS_TABLE[checks.VISIBLE_SEED][0]
    (k,) = params
    assert f is checks.DECAY
    assert expected.y == pytest.approx(-k * state.y) and expected.a == pytest.approx(k * state.a)
    assert expected.a_params[0] == pytest.approx(state.a * state.y)     # −a·∂(−ky)/∂k = a·y


def test_one_interval_decay_matches_the_closed_form():
    case = kit._ONE_INTERVAL[checks.VISIBLE_SEED][0]
    (k,), y0, T = case.params, case.y0, case.ts[-1]
    assert case.ybars[0] == 0.0 and case.ybars[-1] == 1.0
    assert case.expected[0] == pytest.approx(math.exp(-k * T), rel=5e-8)        # RK4, 40 steps
    assert case.expected[1][0] == pytest.approx(-T * y0 * math.exp(-k * T), rel=5e-8)


def test_closed_forms_of_decay_agree_with_the_library_tables():
    seen = 0
    for seed in (checks.VISIBLE_SEED, checks.HIDDEN_SEED):
        for case in kit._ONE_INTERVAL[seed] + kit._OBSERVATIONS[seed]:
            if case.f is checks.DECAY:
                seen += 1
                assert case.closed_form[0] == pytest.approx(case.expected[0], rel=1e-5, abs=1e-7)   # RK4 error
                assert case.closed_form[1][0] == pytest.approx(case.expected[1][0], rel=1e-5, abs=1e-7)
            else:
                assert case.closed_form is None
    assert seen >= 3


def _autograd_gradient(case, rtol=1e-11):
    g = _autograd_field(case.f)

    def loss(y0, *params):
        ys = ag_odeint(g, y0, case.ts, ag_tuple(params), rtol=rtol, atol=rtol)
        return anp.sum(ys * case.ybars.reshape(ys.shape))
    y0 = np.atleast_1d(np.asarray(case.y0, dtype=float))
    argnums = tuple(range(1 + len(case.params)))
    return [autograd.grad(loss, argnum)(y0, *[np.asarray(p, dtype=float) for p in case.params]) for argnum in argnums]


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_backward_tables_match_hips_autograd_odeint_to_the_rk4_error(seed):
    for case in kit._ONE_INTERVAL[seed] + kit._OBSERVATIONS[seed]:
        theirs = _autograd_gradient(case)
        scale = max(np.max(np.abs(theirs[0])), max(np.max(np.abs(t)) for t in theirs[1:]))
        np.testing.assert_allclose(np.ravel(case.expected[0]), np.ravel(theirs[0]), rtol=1e-5, atol=1e-6 * scale)
        for ours, ref in zip(case.expected[1], theirs[1:]):
            np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_backward_tables_match_differentiating_the_solver_steps(seed):
    for case in kit._OBSERVATIONS[seed]:
        step = float(case.ts[1] - case.ts[0]) / case.steps
        _, pullback = vjp(lambda y, *p: odeint(case.f, y, case.ts, *p, method="rk4", step=step, adjoint=False),
                          np.asarray(case.y0, dtype=float), *case.params)
        through = pullback(case.ybars)
        scale = max(np.max(np.abs(through[0])), max(np.max(np.abs(t)) for t in through[1:]))
        np.testing.assert_allclose(case.expected[0], through[0], rtol=1e-5, atol=1e-6 * scale)
        for ours, ref in zip(case.expected[1], through[1:]):
            np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_central_difference_table_agrees_with_scipy(seed):
    from scipy.integrate import solve_ivp
    for case, d_y0, d_params, fd in kit._FD_CASES[seed]:
        def loss(s):
            y0 = np.atleast_1d(np.asarray(case.y0, float) + s * np.asarray(d_y0))
            params = tuple(np.asarray(p) + s * np.asarray(d) for p, d in zip(case.params, d_params))
            rhs = lambda t, y: np.atleast_1d(case.f(y if y.size > 1 else y[0], t, *params))  # noqa: E731
            ys = solve_ivp(rhs, (case.ts[0], case.ts[-1]), y0, t_eval=case.ts, method="DOP853",
                           rtol=1e-12, atol=1e-13).y.T
            return float(np.sum(ys * case.ybars.reshape(ys.shape)))
        h = 1e-5
        assert fd == pytest.approx((loss(h) - loss(-h)) / (2 * h), rel=1e-6, abs=1e-8)
        exact = float(np.sum(np.asarray(case.expected[0]) * d_y0)) + sum(
            float(np.sum(np.asarray(e) * d)) for e, d in zip(case.expected[1], d_params))
        assert fd == pytest.approx(exact, rel=1e-6, abs=1e-8)


def test_rk4_step_and_solve_agree_with_the_library():
    theta = np.array(checks.LV_TRUE)
    ts = np.linspace(0, 2, 5)
    ours = checks.rk4_solve(checks.lotka_volterra, np.array([1.0, 1.0]), ts, (theta,), 10)
    library = odeint(checks.lotka_volterra, np.array([1.0, 1.0]), ts, theta, method="rk4", step=0.05)
    np.testing.assert_allclose(ours, library, rtol=1e-13)
    state = Adjoint(np.array([1.0, 2.0]), np.array([0.5, 0.1]), (np.ones(4),))
    out = checks.rk4_step(lambda s, t: Adjoint(-s.y, s.a, (2 * s.a_params[0],)), state, 0.0, 0.1)
    assert isinstance(out, Adjoint)
    np.testing.assert_allclose(out.y, state.y * (1 - 0.1 + 0.005 - 0.1 ** 3 / 6 + 0.1 ** 4 / 24), rtol=1e-14)
    np.testing.assert_allclose(out.a_params[0], np.ones(4) * (1 + 0.2 + 0.02 + 0.2 ** 3 / 6 + 0.2 ** 4 / 24))


def test_numbers_stated_in_the_lesson():
    theta = np.array(checks.LV_TRUE)
    ts = np.linspace(0, 20, 20001)
    ys = odeint(checks.lotka_volterra, np.array([1.0, 1.0]), ts, theta, rtol=1e-10, atol=1e-12)
    peaks = [ts[i] for i in range(1, len(ts) - 1) if ys[i, 0] > ys[i - 1, 0] and ys[i, 0] > ys[i + 1, 0]]
    assert round(float(np.mean(np.diff(peaks))), 2) == 3.32
    assert round(float(ys[:, 0].max()), 1) == 6.9
    ys = odeint(checks.lotka_volterra, np.array([3.01, 1.5]), ts, theta, rtol=1e-10, atol=1e-12)
    peaks = [ts[i] for i in range(1, len(ts) - 1) if ys[i, 0] > ys[i - 1, 0] and ys[i, 0] > ys[i + 1, 0]]
    assert round(float(np.mean(np.diff(peaks))), 2) == round(2 * math.pi / math.sqrt(4.5), 2) == 2.96
    # Euler's error halves, RK4's drops 16-fold
    orders = checks.convergence_orders()
    d = orders["decay"]
    ratios_e = [d["euler"][i] / d["euler"][i + 1] for i in range(5)]
    ratios_r = [d["rk4"][i] / d["rk4"][i + 1] for i in range(2, 6)]
    assert all(1.9 < r < 2.2 for r in ratios_e) and all(15.5 < r < 18 for r in ratios_r)
    # the decay comparison printed after Task 7.2: better than 1e-8
    k, y0, T = 0.7, 1.3, 2.0
    ys = checks.rk4_solve(checks.decay, y0, np.array([0.0, T]), (k,), 40)
    a, (k_bar,) = checks.reference_backward(checks.decay, np.array([0.0, T]), ys, np.array([0.0, 1.0]), (k,), 40)
    assert abs(a - math.exp(-k * T)) < 1e-8 and abs(k_bar + T * y0 * math.exp(-k * T)) < 1e-8
    # adjoint vs through the RK4 steps on the lesson's 7-time problem: about 1e-6 relative
    ts = np.linspace(0, 3, 7)
    ys = checks.rk4_solve(checks.lotka_volterra, np.array([1.0, 1.0]), ts, (theta,), 20)
    mine = checks.reference_backward(checks.lotka_volterra, ts, ys, 2 * ys, (theta,), 20)
    through = grad(lambda th: np.sum(odeint(checks.lotka_volterra, np.array([1.0, 1.0]), ts, th, method="rk4",
                                            step=0.025, adjoint=False) ** 2))(theta)
    relative = np.max(np.abs(through - mine[1][0])) / np.max(np.abs(through))
    assert 1e-7 < relative < 1e-5
    # the neural ODE's parameter count
    assert sum(p.size for p in checks.init_mlp(16)) == 82


def test_comparison_claims_hold():
    result = checks.compare_gradients(tols=(1e-4, 1e-10), T=10.0, observations=20)
    loose, tight = result["rows"]
    assert loose["adjoint"]["error"] >= loose["through the solver"]["error"]          # not better when loose
    assert tight["central differences"]["error"] > tight["adjoint"]["error"]           # FD behind when tight
    assert all(r[m]["error"] < 10 * r["tol"] ** 0.5 for r in (loose, tight)
               for m in ("adjoint", "through the solver", "central differences"))
    memory = checks.measure_gradient_memory(tols=(1e-3, 1e-5))
    assert memory[1]["steps"] > 1.8 * memory[0]["steps"]
    assert memory[1]["through the solver"] > 1.6 * memory[0]["through the solver"] > 1e6
    assert memory[1]["adjoint"] < 1.3 * memory[0]["adjoint"] < 200 * 1024


def test_fit_and_neural_ode_claims_hold():
    """Sections 7 and 8, with the reference gradient and loop (the notebook runs the student's)."""
    ts, data, clean = checks.lv_data()
    y0 = np.array([1.0, 1.0])

    def lv_in_logs(y, t, log_theta):
        return checks.lotka_volterra(y, t, np.exp(log_theta))

    def lv_loss_and_grad(params):
        return checks.reference_loss_and_grad(params, lv_in_logs, y0, ts, data[1:], 5)

    def fit(iterations, lr, momentum):
        params, losses = checks.reference_train(lv_loss_and_grad, [np.log([1.2, 0.8, 2.6, 1.2])], iterations,
                                                lr, momentum)
        return np.exp(params[0]), losses, lv_loss_and_grad(params)[0]
    theta, losses, final = fit(50, 0.008, 0.7)
    noise = float(np.mean((data[1:] - clean[1:]) ** 2))
    assert noise < final < 2 * noise and final < losses[0] / 100
    off = np.abs(theta / np.array(checks.LV_TRUE) - 1)
    assert off.max() < 0.08 and 0.02 < off[2] and 0.02 < off[3]          # c and d a few percent off
    # plain gradient descent (its largest stable step is about 0.013) needs about twice the steps
    plain_50, plain_100 = fit(50, 0.013, 0.0)[2], fit(100, 0.013, 0.0)[2]
    assert plain_50 > 1.3 * final and abs(plain_100 / final - 1) < 0.1
    assert fit(50, 0.02, 0.0)[2] > 10 * final                              # a larger step does not settle
    ts, y0, spiral = checks.spiral_data()

    def spiral_loss_and_grad(params):
        return checks.reference_loss_and_grad(params, checks.mlp_field, y0, ts, spiral[1:], 2)
    trained, losses = checks.reference_train(spiral_loss_and_grad, checks.init_mlp(16, 0), 150, 0.05, 0.8)
    assert losses[0] > 1 and spiral_loss_and_grad(trained)[0] < 0.01


# =============================================================================
# Realistic wrong code fails with the right hint
# =============================================================================
def dynamics(**switches):
    def adjoint_dynamics(f, state, t, params):
        return checks.reference_dynamics(f, state, t, params, **switches)
    return adjoint_dynamics


def dynamics_plain_tuple(f, state, t, params):
    dy, pullback = vjp(lambda y, *p: f(y, t, *p), state.y, *params)
    cot = pullback(state.a)
    return dy, -cot[0], -cot[1]          # a_params not a tuple


WRONG_DYNAMICS = [
    (dynamics(sign=-1.0), checks.check_adjoint_dynamics, "wrong sign of the adjoint dynamics"),
    (dynamics(transpose=False), checks.check_adjoint_dynamics, "a JVP"),
    (dynamics(transpose=False, sign=-1.0), checks.check_adjoint_dynamics, "sign"),
    (dynamics(y_mode="negated"), checks.check_adjoint_dynamics, "that is −f"),
    (dynamics(y_mode="frozen"), checks.check_adjoint_dynamics, "dy/dt is not zero"),
    (dynamics(sign=-1.0), checks.check_adjoint_dynamics_params, "wrong sign: da_θ/dt"),
    (dynamics(params_part=False), checks.check_adjoint_dynamics_params, "the parameter adjoint is missing"),
    (dynamics_plain_tuple, checks.check_adjoint_dynamics, "one entry per parameter"),
    (lambda f, s, t, p: (f(s.y, t, *p), s.a), checks.check_adjoint_dynamics, "Adjoint(dy, da, da_params)"),
    (lambda f, s, t, p: 1 / 0, checks.check_adjoint_dynamics, "ZeroDivisionError"),
]


@pytest.mark.parametrize("wrong,check,expected_hint", WRONG_DYNAMICS)
def test_dynamics_wrong(wrong, check, expected_hint):
    with pytest.raises(CheckFailure) as info:
        check(wrong)
    assert expected_hint in str(info.value), str(info.value)


def test_a_missing_parameter_adjoint_loses_only_its_cell():
    checks.check_adjoint_dynamics(dynamics(params_part=False))
    with pytest.raises(CheckFailure):
        checks.check_adjoint_dynamics_params(dynamics(params_part=False))


def backward(**switches):
    def adjoint_backward(f, ts, ys, ybars, params, steps):
        return checks.reference_backward(f, ts, ys, ybars, params, steps, **switches)
    return adjoint_backward


def backward_without_reset(f, ts, ys, ybars, params, steps):
    """Continues y from the previous interval's backward solve instead of the stored ys[i]."""
    def field(state, t):
        return checks.reference_dynamics(f, state, t, params)
    a, a_params, y = ybars[-1], tuple(np.zeros_like(p) for p in params), ys[-1]
    for i in range(len(ts) - 1, 0, -1):
        h = (ts[i - 1] - ts[i]) / steps
        state = Adjoint(y, a, a_params)
        for j in range(steps):
            state = checks.rk4_step(field, state, ts[i] + j * h, h)
        a, a_params, y = state.a + ybars[i - 1], state.a_params, state.y
    return a, a_params


WRONG_BACKWARD = [
    (backward(jumps="none"), checks.check_backward_observations, "forgot the jumps"),
    (backward(jumps="shifted"), checks.check_backward_observations, "off by one in the jumps"),
    (backward(sign=-1.0), checks.check_backward_observations, "wrong sign of the adjoint dynamics"),
    (backward(forward=True), checks.check_backward_observations, "forward in time"),
    (backward(forward="interval"), checks.check_backward_one_interval, "forward in time, from ts[i − 1]"),
    (backward(forward="interval"), checks.check_backward_observations, "forward in time, from ts[i − 1]"),
    (backward(accumulate=False), checks.check_backward_observations, "not accumulated"),
    (backward(y_mode="frozen"), checks.check_backward_one_interval, "y is not recomputed"),
    (backward(y_mode="negated"), checks.check_backward_one_interval, "y runs along −f"),
    (backward(start="previous"), checks.check_backward_one_interval, "the wrong state"),
    (backward(transpose=False), checks.check_backward_one_interval, "transposed wrongly"),
    (backward(params_part=False), checks.check_backward_one_interval, "parameter adjoint is missing"),
    (backward(sign=-1.0), checks.check_backward_differences, "wrong sign"),
    (backward_without_reset, checks.check_backward_observations, "starting each interval from the stored ys[i]"),
    (lambda f, ts, ys, yb, p, steps: backward()(f, ts, ys, yb, p, steps)[1], checks.check_backward_one_interval,
     "a pair"),
    (lambda f, ts, ys, yb, p, steps: (backward()(f, ts, ys, yb, p, steps)[0], ()),
     checks.check_backward_one_interval, "parameter adjoints, one per entry"),
]


@pytest.mark.parametrize("wrong,check,expected_hint", WRONG_BACKWARD)
def test_backward_wrong(wrong, check, expected_hint):
    with pytest.raises(CheckFailure) as info:
        check(wrong)
    assert expected_hint in str(info.value), str(info.value)


def test_forgetting_the_jumps_passes_the_one_interval_cell_only():
    checks.check_backward_one_interval(backward(jumps="none"))
    checks.check_backward_one_interval(backward(jumps="none"), hidden=True)
    with pytest.raises(CheckFailure):
        checks.check_backward_observations(backward(jumps="none"))


def test_a_blank_task_says_it_is_not_done():
    assert_blank_tasks_not_done(CHECKS)


def test_checks_survive_a_notebook_rebinding_numpy(monkeypatch, solutions):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "isclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    with pytest.raises(CheckFailure):
        checks.check_adjoint_dynamics(dynamics(sign=-1.0))
    with pytest.raises(CheckFailure):
        checks.check_backward_observations(backward(jumps="none"))
    monkeypatch.undo()
    checks.check_backward_observations(solutions["adjoint_backward"])


# =============================================================================
# Mutation score (in process, the lesson-4 mutant generator); the course-wide
# engine runs in test_mutation.py
# =============================================================================
#: Equivalent mutants: ts, ys and ybars have the same length by the function's contract.
EQUIVALENT = {("task72-backward", "line 8: name ts → ys"), ("task72-backward", "line 8: name ts → ybars")}


# =============================================================================
# Figures and the widget draw headless
# =============================================================================
def test_figures_and_widget_draw_headless(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda: None)
    ax, ax2 = checks.plot_lotka_volterra()
    drift = float(ax2.get_title().split("varies by ")[1])
    assert drift < 1e-6
    plt.close("all")
    widget = checks.lotka_volterra_widget()
    sliders = {c.description: c for box in widget.children[0].children for c in box.children}
    assert set(sliders) >= {"a (prey growth)", "b (predation)", "c (predator death)", "d (predator growth)"}
    sliders["a (prey growth)"].value = 2.0
    sliders["x₀ (prey)"].value = 3.0
    ts = np.linspace(0, 1, 3)
    theta = np.array(checks.LV_TRUE)
    ys = checks.rk4_solve(checks.lotka_volterra, np.array([1.0, 1.0]), ts, (theta,), 5)
    checks.plot_adjoint_trajectory(checks.adjoint_trajectory(checks.lotka_volterra, ts, (theta,),
                                                             np.array([1.0, 1.0]), 2 * ys, 5))
    plt.close("all")


WRONG_SUBMISSIONS = json.loads((Path(__file__).resolve().parents[1] / "course" / "wrong_submissions"
                               / "lesson7_neural_odes.json").read_text())
