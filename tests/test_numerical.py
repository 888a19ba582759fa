"""autodiff_ref.numerical against closed forms, and its error model against measurements."""
import math

import numpy as np
import pytest

from autodiff_ref import numerical as nd

RNG_SEED = 20261122
# (rtol) per method at its default step, for smooth functions of size ~1
TOL = {"forward": 1e-6, "central": 1e-9, "complex": 1e-14, "mixed": 1e-6}


def slope(hs, errors):
    """Least-squares slope of log(error) against log(h)."""
    return np.polyfit(np.log(hs), np.log(errors), 1)[0]


# ---------------------------------------------------------------- closed forms

@pytest.mark.parametrize("f, df, x", [
    (np.sin, np.cos, 0.7),
    (np.exp, np.exp, -1.3),
    (np.log, lambda x: 1 / x, 2.5),
    (lambda x: x ** 3 - 2 * x, lambda x: 3 * x ** 2 - 2, 1.1),
    (np.tanh, lambda x: 1 - np.tanh(x) ** 2, 0.3),
])
def test_scalar_derivatives_match_closed_forms(f, df, x):
    assert nd.forward_difference(f, x) == pytest.approx(df(x), rel=TOL["forward"], abs=1e-8)
    assert nd.central_difference(f, x) == pytest.approx(df(x), rel=TOL["central"], abs=1e-10)
    assert nd.complex_step(f, x) == pytest.approx(df(x), rel=TOL["complex"], abs=1e-15)
    assert isinstance(nd.central_difference(f, x), float)


def test_gradient_of_scalar_function_of_a_vector():
    rng = np.random.default_rng(RNG_SEED)
    x = rng.normal(size=5)

    def f(v):
        return np.sum(np.sin(v) * v) + v[0] * v[1]

    exact = np.sin(x) + x * np.cos(x)
    exact[0] += x[1]
    exact[1] += x[0]
    for method, rtol in ((nd.forward_difference, 1e-6), (nd.central_difference, 1e-9),
                         (nd.complex_step, 1e-14)):
        g = method(f, x)
        assert g.shape == x.shape
        np.testing.assert_allclose(g, exact, rtol=rtol, atol=rtol)


def test_gradient_keeps_the_shape_of_a_matrix_input():
    x = np.arange(6.0).reshape(2, 3) / 7
    g = nd.central_difference(lambda a: np.sum(a ** 2), x)
    assert g.shape == (2, 3)
    np.testing.assert_allclose(g, 2 * x, atol=1e-9)


def test_numerical_jacobian_of_a_map_R3_to_R2():
    def f(v):
        return np.array([v[0] * v[1] * v[2], np.exp(v[0]) + np.sin(v[2])])

    x = np.array([0.5, -1.2, 2.0])
    exact = np.array([[x[1] * x[2], x[0] * x[2], x[0] * x[1]],
                      [np.exp(x[0]), 0.0, np.cos(x[2])]])
    jac = nd.numerical_jacobian(f, x)
    assert jac.shape == (2, 3)
    np.testing.assert_allclose(jac, exact, rtol=1e-9, atol=1e-9)


def test_numerical_jacobian_of_a_linear_map_is_the_matrix():
    rng = np.random.default_rng(RNG_SEED)
    A = rng.normal(size=(4, 3))
    np.testing.assert_allclose(nd.numerical_jacobian(lambda v: A @ v, rng.normal(size=3)), A,
                               rtol=1e-9, atol=1e-9)


def test_mixed_partial_closed_form():
    # f = x^2 y^3  ->  d2f/dxdy = 6 x y^2
    f = lambda v: v[0] ** 2 * v[1] ** 3
    x = np.array([1.3, -0.8])
    assert nd.mixed_partial(f, x, 0, 1) == pytest.approx(6 * x[0] * x[1] ** 2, rel=TOL["mixed"])
    assert nd.mixed_partial(f, x, 1, 0) == pytest.approx(6 * x[0] * x[1] ** 2, rel=TOL["mixed"])
    # i == j: the second derivative with step 2h, d2f/dy2 = 6 x^2 y
    assert nd.mixed_partial(f, x, 1, 1) == pytest.approx(6 * x[0] ** 2 * x[1], rel=TOL["mixed"])
    # g = sin(x) e^y, with a pair of steps
    g = lambda v: np.sin(v[0]) * np.exp(v[1])
    assert nd.mixed_partial(g, x, 0, 1, h=(1e-4, 2e-4)) == pytest.approx(
        np.cos(x[0]) * np.exp(x[1]), rel=TOL["mixed"])


def test_gradient_error_accepts_a_right_gradient_and_rejects_a_slightly_wrong_one():
    f = lambda v: np.sum(np.exp(v) * v)
    right = lambda v: np.exp(v) * (1 + v)
    wrong = lambda v: np.exp(v) * (1 + v) * 1.001
    x = np.linspace(-1, 1, 6)
    assert nd.gradient_error(f, right, x) < 1e-8
    assert nd.gradient_error(f, wrong, x) > 1e-4
    with pytest.raises(ValueError, match="shape"):
        nd.gradient_error(f, lambda v: right(v)[:-1], x)


# ------------------------------------------------------------- orders of error

H_TRUNCATION = np.logspace(-4, -1.5, 12)     # truncation dominates for exp near 1
H_ROUNDOFF = np.logspace(-14, -11, 12)      # round-off dominates


def median_errors(method, hs, f=np.exp, df=np.exp, n_points=30):
    xs = np.random.default_rng(RNG_SEED).uniform(0.5, 1.5, n_points)
    return np.median([[abs(method(f, x, h=h) - df(x)) for h in hs] for x in xs], axis=0)


@pytest.mark.parametrize("method, order", [(nd.forward_difference, 1), (nd.central_difference, 2),
                                           (nd.complex_step, 2)])
def test_truncation_error_has_the_stated_order(method, order):
    hs = H_TRUNCATION if method is not nd.central_difference else np.logspace(-3, -1, 12)
    assert slope(hs, median_errors(method, hs)) == pytest.approx(order, abs=0.1)


@pytest.mark.parametrize("method", [nd.forward_difference, nd.central_difference])
def test_roundoff_error_grows_like_one_over_h(method):
    assert slope(H_ROUNDOFF, median_errors(method, H_ROUNDOFF)) == pytest.approx(-1, abs=0.15)


def test_complex_step_has_no_roundoff_branch():
    hs = np.logspace(-30, -8, 12)
    errors = median_errors(nd.complex_step, hs)
    assert np.max(errors / np.exp(1.5)) < 4 * nd.EPS


def test_mixed_partial_is_second_order():
    f = lambda v: np.exp(v[0] * v[1])
    x = np.array([0.7, 0.4])
    exact = np.exp(x[0] * x[1]) * (1 + x[0] * x[1])
    hs = np.logspace(-3, -1, 10)
    errors = [abs(nd.mixed_partial(f, x, 0, 1, h=h) - exact) for h in hs]
    assert slope(hs, errors) == pytest.approx(2, abs=0.15)


# ------------------------------------------------------------- the error model

def test_error_model_terms():
    h = 1e-3
    m = nd.fd_error_model(h, order=1, M=4.0, f_scale=2.0)
    assert m.truncation == pytest.approx(0.5 * 4.0 * h)
    assert m.roundoff == pytest.approx(nd.EPS * 2.0 / h)
    assert m.total == pytest.approx(m.truncation + m.roundoff)
    c = nd.fd_error_model(h, order=2, M=6.0, f_scale=1.0)
    assert c.truncation == pytest.approx(h ** 2)
    assert c.roundoff == pytest.approx(nd.EPS / (2 * h))
    arr = nd.fd_error_model(np.array([1e-3, 1e-6]), order="central")
    assert arr.total.shape == (2,)


@pytest.mark.parametrize("order", [1, 2])
def test_optimal_step_minimises_the_model(order):
    M, F = 3.0, 0.5
    h_star = nd.optimal_step(order, M=M, f_scale=F)
    grid = h_star * np.logspace(-2, 2, 4001)
    model = nd.fd_error_model(grid, order, M=M, f_scale=F).total
    assert grid[np.argmin(model)] == pytest.approx(h_star, rel=1e-2)


def test_optimal_step_rules_of_thumb():
    # sqrt(eps) and cbrt(eps) up to the constants of the model
    assert nd.optimal_step(1) == pytest.approx(math.sqrt(2 * nd.EPS))
    assert nd.optimal_step(2) == pytest.approx((1.5 * nd.EPS) ** (1 / 3))
    assert 1 < nd.optimal_step(1) / math.sqrt(nd.EPS) < 2
    assert 1 < nd.optimal_step(2) / nd.EPS ** (1 / 3) < 2


@pytest.mark.parametrize("order, method", [(1, nd.forward_difference), (2, nd.central_difference)])
def test_measured_U_curve_has_its_minimum_near_the_predicted_step(order, method):
    hs = np.logspace(-13, -1, 121)
    errors = median_errors(method, hs)
    # exp on [0.5, 1.5]: every derivative and |f| are about e
    h_star = nd.optimal_step(order, M=np.e, f_scale=np.e)
    h_best = hs[np.argmin(errors)]
    assert h_star / 5 < h_best < h_star * 5
    # the model bounds the measurement from above, within a modest factor
    model = nd.fd_error_model(hs, order, M=np.e * np.exp(0.5), f_scale=np.e * np.exp(0.5)).total
    assert np.all(errors <= 2 * model)
    assert np.min(errors) > np.min(model) / 30


def test_sum_of_squares_with_sqrt_eps_step():
    """Σxᵢ² at xᵢ = i, n = 1000: the one-sided difference with h = √ε."""
    n = 1000
    x = np.arange(1.0, n + 1)
    h = math.sqrt(nd.EPS)
    g = nd.forward_difference(lambda v: np.sum(v * v), x, h=h)
    # |f| ≈ 3.3e8 has ulp 2^-24 = 4h, so each entry is a multiple of 4
    assert np.all(g % 4 == 0)
    err = g - 2 * x
    assert np.max(np.abs(err)) == 2.0                 # off by up to 2 ...
    assert g[0] == 0.0                                 # ... so df/dx1 = 2 comes out as 0
    assert np.all(g >= 0)                              # but the sign never flips here
    assert nd.fd_error_model(h, 1, M=2, f_scale=np.sum(x * x)).roundoff == pytest.approx(4.97, abs=0.01)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("method", [nd.forward_difference, nd.central_difference, nd.complex_step])
@pytest.mark.parametrize("h", [0.0, -1e-3, float("nan"), float("inf")])
def test_bad_step_is_refused(method, h):
    with pytest.raises(ValueError, match="positive"):
        method(np.sin, 1.0, h=h)


@pytest.mark.parametrize("method", [nd.forward_difference, nd.central_difference, nd.complex_step,
                                    nd.numerical_jacobian])
def test_non_callable_is_refused(method):
    with pytest.raises(TypeError, match="callable"):
        method(3.0, 1.0)


def test_other_bad_input():
    with pytest.raises(TypeError, match="callable"):
        nd.gradient_error(np.sin, "cos", 1.0)
    with pytest.raises(TypeError, match="step"):
        nd.central_difference(np.sin, 1.0, h="small")
    with pytest.raises(ValueError, match="finite"):
        nd.central_difference(np.sin, float("nan"))
    with pytest.raises(TypeError, match="real number"):
        nd.central_difference(np.sin, "one")
    with pytest.raises(ValueError, match="order"):
        nd.optimal_step(3)
    with pytest.raises(ValueError, match="positive"):
        nd.fd_error_model([1e-3, 0.0])
    with pytest.raises(IndexError, match="coordinate"):
        nd.mixed_partial(lambda v: v[0] * v[1], np.array([1.0, 2.0]), 0, 2)
    with pytest.raises(ValueError, match="positive"):
        nd.mixed_partial(lambda v: v[0] * v[1], np.array([1.0, 2.0]), 0, 1, h=(1e-3, -1e-3))
    with pytest.raises(ValueError, match="scalar"):
        nd.mixed_partial(lambda v: v, np.array([1.0, 2.0]), 0, 1)
