"""odeint: solutions against closed forms and scipy, and three ways to differentiate
(adjoint, forward sensitivities, through the solver) against each other and
against central differences."""
import tracemalloc

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import minimize

from autodiff_ref import grad, jvp, value_and_grad, hessian, odeint
from autodiff_ref.implicit import ConvergenceError

SEED = 20261122
LV_PARAMS = (1.5, 1.0, 3.0, 1.0)
# rtol per comparison. Solves at rtol=atol=1e-10 make the three derivative modes agree
# to ~1e-7 (each is accurate to the solver tolerance); differences of such solves to ~1e-6.
TOL = {"modes": 1e-6, "fd": 1e-5, "closed": 1e-7, "scipy": 1e-7}
TIGHT = dict(rtol=1e-10, atol=1e-10)


def decay(y, t, k):
    return -k * y


def lotka_volterra(y, t, a, b, c, d):
    prey, predator = y[0], y[1]
    return np.stack([a * prey - b * prey * predator, -c * predator + d * prey * predator])


def central(f, x, direction, h=1e-5):
    return (f(x + h * direction) - f(x - h * direction)) / (2 * h)


# ------------------------------------------------------------------ solutions

@pytest.mark.parametrize("method, options, tol", [("dopri5", TIGHT, 1e-9),
                                                  ("rk4", dict(step=0.01), 1e-9)])
def test_exponential_decay_matches_the_closed_form(method, options, tol):
    t = np.array([0.0, 0.5, 1.0, 2.0])
    y0 = np.array([1.0, -2.0, 0.5])
    ys = odeint(decay, y0, t, 0.7, method=method, **options)
    assert ys.shape == (4, 3)
    np.testing.assert_allclose(ys, y0 * np.exp(-0.7 * t)[:, None], rtol=tol)


def test_decreasing_times_integrate_backwards():
    ys = odeint(decay, 1.0, np.array([2.0, 1.0, 0.0]), 0.7, **TIGHT)
    np.testing.assert_allclose(ys, np.exp(-0.7 * (np.array([2.0, 1.0, 0.0]) - 2.0)), rtol=1e-9)


def test_lotka_volterra_matches_scipy():
    t = np.linspace(0, 10, 100)
    ys, stats = odeint(lotka_volterra, np.array([1.0, 1.0]), t, *LV_PARAMS, return_stats=True, **TIGHT)
    reference = solve_ivp(lambda s, y: lotka_volterra(y, s, *LV_PARAMS), (0, 10), [1.0, 1.0],
                          t_eval=t, rtol=1e-12, atol=1e-12).y.T
    np.testing.assert_allclose(ys, reference, rtol=TOL["scipy"], atol=1e-8)
    assert stats.steps > 100 and stats.evaluations > 6 * stats.steps


def test_bad_calls_get_clear_errors():
    with pytest.raises(ValueError, match="strictly increasing or strictly decreasing"):
        odeint(decay, 1.0, np.array([0.0, 1.0, 1.0]), 0.5)
    with pytest.raises(ValueError, match="unknown method 'euler'"):
        odeint(decay, 1.0, np.array([0.0, 1.0]), 0.5, method="euler")
    with pytest.raises(ValueError, match="func returned shape"):
        odeint(lambda y, t: np.sum(y), np.ones(2), np.array([0.0, 1.0]))
    with pytest.raises(ConvergenceError, match="max_steps|took"):
        odeint(lambda y, t: y * y, 1.0, np.array([0.0, 2.0]), max_steps=200)


def test_a_parameter_hidden_in_a_closure_is_reported():
    t = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="closure.*param"):
        grad(lambda k: odeint(lambda y, s: -k * y, 1.0, t)[-1])(0.5)


# ------------------------------------------------------------------ derivatives: closed forms

@pytest.mark.parametrize("adjoint", [True, False])
def test_decay_derivatives_match_the_closed_form(adjoint):
    """y(T) = y0 e^{−kT}: ∂/∂y0 = e^{−kT}, ∂/∂k = −T y(T), ∂/∂T = −k y(T), ∂/∂t0 = k y(T)."""
    y0, k, T = 1.3, 0.7, 2.0

    def final(y0, k, times):
        return odeint(decay, y0, times, k, adjoint=adjoint, **TIGHT)[-1]
    times = np.array([0.0, T])
    yT = y0 * np.exp(-k * T)
    g_y0, g_k, g_t = grad(final, argnums=(0, 1, 2))(y0, k, times)
    assert g_y0 == pytest.approx(np.exp(-k * T), rel=TOL["closed"])
    assert g_k == pytest.approx(-T * yT, rel=TOL["closed"])
    np.testing.assert_allclose(g_t, [k * yT, -k * yT], rtol=TOL["closed"])
    forward = jvp(final, (y0, k, times), (1.0, 0.5, np.array([0.2, -0.3])))[1]
    assert forward == pytest.approx(np.exp(-k * T) + 0.5 * (-T * yT) + 0.2 * k * yT + 0.3 * k * yT,
                                    rel=TOL["closed"])


def test_second_derivative_of_decay_in_k():
    """∂²y(T)/∂k² = T² y(T), by forward over reverse (hessian) and reverse over reverse."""
    y0, k, T = 1.3, 0.7, 2.0
    final = lambda k: odeint(decay, y0, np.array([0.0, T]), k, **TIGHT)[-1]  # noqa: E731
    expected = T * T * y0 * np.exp(-k * T)
    assert hessian(final)(k) == pytest.approx(expected, rel=1e-6)
    assert grad(grad(final))(k) == pytest.approx(expected, rel=1e-6)


# ------------------------------------------------------------------ Lotka–Volterra: three modes

@pytest.fixture(scope="module")
def lv_problem():
    t = np.linspace(0, 10, 100)
    y0 = np.array([1.0, 1.0])

    def loss(y0, a, b, c, d, adjoint=True, method="dopri5", **options):
        options = options if set(options) - {"checkpoint_every"} else dict(TIGHT, **options)
        return np.sum(odeint(lotka_volterra, y0, t, a, b, c, d, adjoint=adjoint, method=method,
                             **options) ** 2)
    return loss, y0


def test_lotka_volterra_gradient_adjoint_vs_solver_vs_forward_vs_differences(lv_problem):
    loss, y0 = lv_problem
    argnums = (0, 1, 2, 3, 4)
    adjoint = grad(loss, argnums=argnums)(y0, *LV_PARAMS)
    adjoint = np.concatenate([adjoint[0], adjoint[1:]])
    through = grad(lambda *a: loss(*a, adjoint=False), argnums=argnums)(y0, *LV_PARAMS)
    through = np.concatenate([through[0], through[1:]])
    np.testing.assert_allclose(adjoint, through, rtol=TOL["modes"])

    def loss_of_vector(v):
        return loss(v[:2], *v[2:])
    point = np.concatenate([y0, LV_PARAMS])
    rng = np.random.default_rng(SEED)
    for direction in [np.eye(6)[2], rng.normal(size=6)]:
        forward = jvp(loss_of_vector, (point,), (direction,))[1]
        assert forward == pytest.approx(adjoint @ direction, rel=TOL["modes"])
        assert central(loss_of_vector, point, direction, h=1e-5) == pytest.approx(forward, rel=TOL["fd"])


def test_rk4_adjoint_agrees_with_differentiating_its_steps(lv_problem):
    loss, y0 = lv_problem
    options = dict(method="rk4", step=0.01)
    adjoint = grad(lambda a: loss(y0, a, 1.0, 3.0, 1.0, **options))(1.5)
    through = grad(lambda a: loss(y0, a, 1.0, 3.0, 1.0, adjoint=False, **options))(1.5)
    # continuous adjoint vs discrete adjoint of RK4: they differ by O(step⁴)
    assert adjoint == pytest.approx(through, rel=1e-6)


def test_a_field_that_branches_on_y_gets_the_right_adjoint(monkeypatch):
    """The adjoint replays one recorded tape of f; a branch on a value must make it record again.

    ẏ = −k y² above y = 1 and −k y below (f is continuous, ∂f/∂y jumps): from y₀ > 1,
    y reaches 1 at t₁ = (1 − 1/y₀)/k and then decays, y(T) = exp(1 − 1/y₀ − kT).
    """
    from autodiff_ref import ode
    recordings = []
    original = ode._RecordedField._record
    monkeypatch.setattr(ode._RecordedField, "_record",
                        lambda self, inputs: recordings.append(1) or original(self, inputs))

    def kinked(y, t, k):
        return -k * y * y if y > 1.0 else -k * y
    y0, k, T = 2.0, 0.8, 3.0
    final = lambda y0, k: odeint(kinked, y0, np.array([0.0, T]), k, **TIGHT)[-1]  # noqa: E731
    expected = np.exp(1 - 1 / y0 - k * T)
    assert final(y0, k) == pytest.approx(expected, rel=1e-7)  # the kink costs the solver accuracy
    d_y0, d_k = grad(final, argnums=(0, 1))(y0, k)
    assert d_k == pytest.approx(-T * expected, rel=TOL["modes"])
    assert d_y0 == pytest.approx(expected / y0 ** 2, rel=TOL["modes"])
    assert len(recordings) >= 2  # the backward solve crossed y = 1: recorded on each side


def test_gradient_with_respect_to_observation_times(lv_problem):
    t = np.array([0.0, 0.7, 1.9, 3.0])
    y0 = np.array([1.0, 1.0])
    direction = np.array([0.3, -0.5, 0.2, 0.4])
    for adjoint in (True, False):
        loss = lambda s: np.sum(odeint(lotka_volterra, y0, s, *LV_PARAMS, adjoint=adjoint, **TIGHT) ** 2)  # noqa: E731
        reverse = grad(loss)(t) @ direction
        assert jvp(loss, (t,), (direction,))[1] == pytest.approx(reverse, rel=TOL["modes"])
        assert central(loss, t, direction, h=1e-6) == pytest.approx(reverse, rel=TOL["fd"])


def test_adjoint_memory_against_the_number_of_steps():
    """Tighter tolerances mean many more steps (5 → 34 here). Memory during one gradient
    (tracemalloc's peak; a large state makes arrays, not interpreter free lists, dominate):

    - backsolve keeps the same peak: it stores nothing per step;
    - the checkpointed adjoint keeps one state per step, n floats (buffers grow by
      doubling, and a copy is alive while one grows: up to 3 × 8n bytes per step);
    - with ``checkpoint_every=K`` it keeps one state per K steps plus one segment;
    - through the solver keeps every stage of every step on the tape."""
    t = np.array([0.0, 3.0])
    n = 4000
    y0 = np.linspace(0.5, 1.5, n)

    def field(y, s, k):
        return -k * y * (1 + 0.5 * np.sin(s))

    def peak(tol, **options):
        loss = lambda k: np.sum(odeint(field, y0, t, k, rtol=tol, atol=tol, **options))  # noqa: E731
        tracemalloc.start()
        grad(loss)(0.7)
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size
    steps = [odeint(field, y0, t, 0.7, rtol=tol, atol=tol, return_stats=True)[1].steps for tol in (1e-4, 1e-9)]
    assert steps[1] > 5 * steps[0]
    per_step = 8 * n * (steps[1] - steps[0])
    assert peak(1e-9, adjoint="backsolve") < 1.3 * peak(1e-4, adjoint="backsolve")
    growth = peak(1e-9) - peak(1e-4)
    assert 0.8 * per_step < growth < 3 * per_step
    assert peak(1e-9, checkpoint_every=8) - peak(1e-4, checkpoint_every=8) < 0.5 * growth
    assert peak(1e-9, adjoint=False) > 3 * peak(1e-4, adjoint=False)


# ------------------------------------------------------------------ a stiff problem in reverse mode

def forced_relaxation(y, t, lam):
    return -lam * (y - np.cos(t))


def forced_relaxation_solution(lam, t=2.0):
    """y' = −λ(y − cos t), y(0) = 0: y = λ²/(λ²+1)(cos t − e^{−λt}) + λ/(λ²+1) sin t."""
    return lam ** 2 / (lam ** 2 + 1) * (np.cos(t) - np.exp(-lam * t)) + lam / (lam ** 2 + 1) * np.sin(t)


@pytest.mark.parametrize("lam", [50.0, 200.0, 400.0, 1000.0])
def test_the_default_adjoint_is_as_accurate_as_the_forward_solve_on_a_stiff_problem(lam):
    """∂y(2)/∂λ at default tolerances. Backsolve re-integrates y backwards, where e^{−λt}
    grows: 8.5e-5 relative error at λ = 50, 1.5e-3 at 200, a blow-up from 400 on. The
    checkpointed adjoint (the default) is at least as accurate as forward sensitivities
    (the derivative computed alongside the forward solve)."""
    t = np.array([0.0, 2.0])
    exact = grad(forced_relaxation_solution)(lam)
    final = lambda lam, **options: odeint(forced_relaxation, 0.0, t, lam, **options)[-1]  # noqa: E731
    error = lambda g: abs(g - exact) / abs(exact)  # noqa: E731
    adjoint = grad(final)(lam)
    forward = jvp(final, (lam,), (1.0,))[1]
    assert error(adjoint) <= max(error(forward), 1e-7)
    assert error(adjoint) < 3e-5
    if lam == 200.0:  # the second oracle: central differences of tight solves
        tight = lambda lam: final(lam, rtol=1e-12, atol=1e-14)  # noqa: E731
        assert central(tight, lam, 1.0, h=1e-2) == pytest.approx(adjoint, rel=3e-5)
    if lam >= 400.0:
        with pytest.raises(ConvergenceError, match="backsolve.*adjoint='checkpoint'"):
            grad(lambda lam: final(lam, adjoint="backsolve"))(lam)


def test_checkpoints_every_k_steps_give_the_same_gradient(lv_problem):
    """Recomputing segments forward from every 7th state redoes the very same steps."""
    loss, y0 = lv_problem
    every_step = grad(loss, argnums=(0, 1))(y0, *LV_PARAMS)
    every_7th = grad(lambda *a: loss(*a, checkpoint_every=7, **TIGHT), argnums=(0, 1))(y0, *LV_PARAMS)
    np.testing.assert_allclose(every_7th[0], every_step[0], rtol=1e-13)
    assert every_7th[1] == pytest.approx(every_step[1], rel=1e-13)


def test_rk4_keeps_backsolve_as_its_default_and_both_adjoints_agree(lv_problem):
    """Lesson 7 compares a student's backsolve with odeint(method="rk4")'s default adjoint."""
    loss, y0 = lv_problem
    options = dict(method="rk4", step=0.01)
    default = grad(lambda a: loss(y0, a, 1.0, 3.0, 1.0, **options))(1.5)
    backsolve = grad(lambda a: loss(y0, a, 1.0, 3.0, 1.0, adjoint="backsolve", **options))(1.5)
    checkpoint = grad(lambda a: loss(y0, a, 1.0, 3.0, 1.0, adjoint="checkpoint", **options))(1.5)
    assert default == backsolve
    assert checkpoint == pytest.approx(backsolve, rel=1e-6)  # both continuous adjoints, O(step⁴) apart


def test_a_bad_adjoint_option_is_reported():
    with pytest.raises(ValueError, match="adjoint must be True, False, 'checkpoint' or 'backsolve'"):
        odeint(decay, 1.0, np.array([0.0, 1.0]), 0.5, adjoint="discrete")
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        odeint(decay, 1.0, np.array([0.0, 1.0]), 0.5, checkpoint_every=0)


# ------------------------------------------------------------------ learning

def test_fitting_lotka_volterra_to_noisy_data_recovers_the_parameters():
    rng = np.random.default_rng(SEED)
    t = np.linspace(0, 6, 25)
    y0 = np.array([1.0, 1.0])
    data = odeint(lotka_volterra, y0, t, *LV_PARAMS, **TIGHT) + 0.02 * rng.normal(size=(25, 2))

    def loss(p):
        return np.mean((odeint(lotka_volterra, y0, t, p[0], p[1], p[2], p[3], rtol=1e-7, atol=1e-9)
                        - data) ** 2)
    value_and_gradient = value_and_grad(loss)
    start = np.array([1.2, 0.8, 2.6, 1.2])
    # a gradient-based descent (BFGS: gradient steps with a learned metric), gradients by the adjoint
    fit = minimize(lambda p: tuple(np.asarray(v) for v in value_and_gradient(p)), start, jac=True,
                   method="BFGS", options=dict(gtol=1e-6, maxiter=60))
    assert fit.fun < 0.02 ** 2 * 1.5          # the noise level: nothing systematic left
    np.testing.assert_allclose(fit.x, LV_PARAMS, rtol=0.03)
    assert np.max(np.abs(start - LV_PARAMS)) > 0.3


def test_a_tiny_neural_ode_learns_a_spiral():
    A = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    t = np.linspace(0, 3, 16)
    y0 = np.array([2.0, 0.0])
    data = odeint(lambda y, s: A @ y, y0, t, **TIGHT)
    rng = np.random.default_rng(SEED)
    hidden = 16
    params = [0.5 * rng.normal(size=(hidden, 2)), np.zeros(hidden),
              0.5 * rng.normal(size=(2, hidden)) / np.sqrt(hidden), np.zeros(2)]

    def field(y, s, W1, b1, W2, b2):
        return W2 @ np.tanh(W1 @ y + b1) + b2

    def loss(*params):
        return np.mean((odeint(field, y0, t, *params, method="rk4", step=0.1) - data) ** 2)
    value_and_gradient = value_and_grad(loss, argnums=(0, 1, 2, 3))
    first = None
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for k in range(1, 201):  # Adam
        value, grads = value_and_gradient(*params)
        first = value if first is None else first
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] = params[i] - 0.02 * (m[i] / (1 - 0.9 ** k)) / (np.sqrt(v[i] / (1 - 0.999 ** k)) + 1e-8)
    assert first > 1.0
    assert loss(*params) < 0.01  # from above 1: the spiral is learned
