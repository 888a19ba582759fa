"""fixed_point and root: solvers, and derivatives by the implicit function theorem.

Oracles: closed forms of the scalar example y = tanh(θy + x), central
differences of the solver, the other mode, a hand-written numpy implicit
gradient for the deep-equilibrium layer, and HIPS autograd's fixed_point.
"""
import numpy as np
import pytest

from autodiff_ref import grad, jvp, jacfwd, jacrev, hessian, fixed_point, root
from autodiff_ref.implicit import ConvergenceError, DENSE_MAX

SEED = 20261122
# rtol per comparison: solver tolerance 1e-12 makes IFT derivatives exact to ~1e-10;
# central differences (step 1e-6 on solutions accurate to 1e-12) are good to ~1e-7.
TOL = {"exact": 1e-9, "fd": 1e-6, "solution": 1e-10}
METHODS = ["iterate", "newton", "anderson"]


def scalar_map(y, theta, x):
    return np.tanh(theta * y + x)


def deq_map(z, W, x):
    return np.tanh(W @ z + x)


def central(f, x, direction, h=1e-6):
    """Directional derivative of f at x along `direction` by central differences."""
    return (f(x + h * direction) - f(x - h * direction)) / (2 * h)


@pytest.fixture(scope="module")
def deq():
    rng = np.random.default_rng(SEED)
    n = 12
    W = rng.normal(size=(n, n))
    W *= 0.9 / np.linalg.norm(W, 2)
    return W, rng.normal(size=n), rng.normal(size=(n, n))


def closed_form(theta, x):
    """y and its partials: from y = tanh(θy + x), ẏ = s(ẏθ + y θ̇ + ẋ) with s = 1 − y²."""
    y = fixed_point(scalar_map, 0.0, theta, x, tol=1e-14)
    s = 1 - y * y
    return y, s * y / (1 - theta * s), s / (1 - theta * s)


# ------------------------------------------------------------------ solving

@pytest.mark.parametrize("method", METHODS)
def test_methods_reach_the_fixed_point(method):
    y, info = fixed_point(scalar_map, 0.0, 0.5, 0.3, method=method, tol=1e-12, return_info=True)
    assert abs(np.tanh(0.5 * y + 0.3) - y) < 1e-11
    assert info.converged and info.method == method
    assert info.iterations == len(info.residuals) >= 1


def test_newton_uses_the_jacobian_of_the_deq_course_formula(deq):
    """Our Newton (Jacobian by forward mode) takes the same steps as Newton with
    the hand-written Jacobian I − diag(sech²(Wz + x)) W."""
    W, x, _ = deq
    n = len(x)
    z, ours = np.zeros(n), []
    for _ in range(20):
        pre = W @ z + x
        residual = z - np.tanh(pre)
        ours.append(np.max(np.abs(residual)))
        if ours[-1] <= 1e-12 * (1 + np.max(np.abs(z))):
            break
        jac = np.eye(n) - (1 / np.cosh(pre) ** 2)[:, None] * W
        z = z - np.linalg.solve(jac, residual)
    y, info = fixed_point(deq_map, np.zeros(n), W, x, method="newton", tol=1e-12, return_info=True)
    assert info.iterations == len(ours)
    np.testing.assert_allclose(info.residuals[:3], ours[:3], rtol=1e-8)
    np.testing.assert_allclose(y, z, rtol=0, atol=1e-12)


def test_newton_and_anderson_need_fewer_iterations_than_plain_iteration(deq):
    W, x, _ = deq
    counts = {m: fixed_point(deq_map, np.zeros(len(x)), W, x, method=m, return_info=True)[1].iterations
              for m in METHODS}
    assert counts["newton"] < counts["anderson"] < counts["iterate"]
    assert counts["newton"] <= 8


def test_root_solves_and_differentiates_a_cube_root():
    cube = lambda y, a: y ** 3 - a  # noqa: E731
    assert root(cube, 1.0, 8.0) == pytest.approx(2.0, rel=1e-12)
    # y = a^(1/3): dy/da = 1/(3 y²), d²y/da² = −2/(9 a^(5/3))
    assert grad(lambda a: root(cube, 1.0, a))(8.0) == pytest.approx(1 / 12, rel=TOL["exact"])
    assert jvp(lambda a: root(cube, 1.0, a), (8.0,), (1.0,))[1] == pytest.approx(1 / 12, rel=TOL["exact"])
    second = grad(grad(lambda a: root(cube, 1.0, a)))(8.0)
    assert second == pytest.approx(-2 / (9 * 8.0 ** (5 / 3)), rel=1e-8)


# ------------------------------------------------------------------ errors

def test_non_convergence_names_method_iterations_and_residual():
    with pytest.raises(ConvergenceError, match=r"method='iterate'.*50 iterations.*residual"):
        fixed_point(lambda y: 2 * y + 1, 0.0, max_iter=50)
    with pytest.raises(ConvergenceError, match="non-finite"), np.errstate(over="ignore"):
        fixed_point(lambda y: np.exp(y) + y * y, 1.0, max_iter=2000)
    with pytest.raises(ConvergenceError, match=r"root\(method='newton'\).*3 iterations"):
        root(lambda y: y * y + 1.0, 0.5, max_iter=3)


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="unknown method 'bisect'"):
        fixed_point(scalar_map, 0.0, 0.5, 0.3, method="bisect")
    with pytest.raises(ValueError, match="tol must be positive"):
        fixed_point(scalar_map, 0.0, 0.5, 0.3, tol=0)
    with pytest.raises(ValueError, match="returned shape"):
        fixed_point(lambda y: np.sum(y), np.zeros(3))
    with pytest.raises(TypeError, match="first argument must be the function"):
        fixed_point(0.0, scalar_map)


def test_a_parameter_hidden_in_a_closure_is_reported():
    def loss(theta):
        return fixed_point(lambda y: np.tanh(theta * y + 0.3), 0.0)
    with pytest.raises(ValueError, match="closure.*parameter"):
        grad(loss)(0.5)
    with pytest.raises(ValueError, match="closure"):
        jvp(loss, (0.5,), (1.0,))


# ------------------------------------------------------------------ first derivatives

@pytest.mark.parametrize("method", METHODS)
def test_scalar_derivatives_match_the_closed_form_and_differences(method):
    theta, x = 0.5, 0.3
    _, dy_dtheta, dy_dx = closed_form(theta, x)
    solve = lambda th, xx: fixed_point(scalar_map, 0.0, th, xx, method=method, tol=1e-13)  # noqa: E731
    g_theta, g_x = grad(solve, argnums=(0, 1))(theta, x)
    assert g_theta == pytest.approx(dy_dtheta, rel=TOL["exact"])
    assert g_x == pytest.approx(dy_dx, rel=TOL["exact"])
    assert jvp(solve, (theta, x), (1.0, 0.0))[1] == pytest.approx(dy_dtheta, rel=TOL["exact"])
    assert central(lambda th: solve(th, x), theta, 1.0) == pytest.approx(dy_dtheta, rel=TOL["fd"])


def test_matches_hips_autograd_fixed_point():
    autograd = pytest.importorskip("autograd")
    from autograd.misc.fixed_points import fixed_point as hips_fixed_point
    import autograd.numpy as anp

    def hips_solution(theta):
        step = lambda th: (lambda y: anp.tanh(th * y + 0.3))  # noqa: E731
        return hips_fixed_point(step, theta, 0.0, lambda a, b: anp.abs(a - b), 1e-14)
    ours = grad(lambda th: fixed_point(scalar_map, 0.0, th, 0.3, tol=1e-14))(0.7)
    assert ours == pytest.approx(autograd.grad(hips_solution)(0.7), rel=1e-9)


def hand_written_deq_gradient(W, x):
    """∂(Σz)/∂W by hand: (I − DW)ᵀu = 1, W̄ = (D u) zᵀ with D = diag(1 − z²)."""
    z = fixed_point(deq_map, np.zeros(len(x)), W, x, method="newton", tol=1e-13)
    d = 1 - z * z
    u = np.linalg.solve((np.eye(len(x)) - d[:, None] * W).T, np.ones(len(x)))
    return np.outer(d * u, z), d * u


@pytest.mark.parametrize("method", METHODS)
def test_deq_gradient_both_modes_and_differences(deq, method):
    W, x, direction = deq
    loss = lambda W, x: np.sum(fixed_point(deq_map, np.zeros(len(x)), W, x, method=method, tol=1e-13))  # noqa: E731
    g_W, g_x = grad(loss, argnums=(0, 1))(W, x)
    expected_W, expected_x = hand_written_deq_gradient(W, x)
    np.testing.assert_allclose(g_W, expected_W, rtol=TOL["exact"], atol=1e-12)
    np.testing.assert_allclose(g_x, expected_x, rtol=TOL["exact"], atol=1e-12)
    forward = jvp(lambda W: loss(W, x), (W,), (direction,))[1]
    assert forward == pytest.approx(np.sum(g_W * direction), rel=TOL["exact"])
    assert central(lambda W: loss(W, x), W, direction) == pytest.approx(forward, rel=TOL["fd"])


def test_jacobians_of_the_solution_agree_in_both_modes(deq):
    W, x, _ = deq
    solve = lambda x: fixed_point(deq_map, np.zeros(len(x)), W, x, tol=1e-13)  # noqa: E731
    z = solve(x)
    expected = np.linalg.solve(np.eye(len(x)) - (1 - z * z)[:, None] * W, np.diag(1 - z * z))
    np.testing.assert_allclose(jacfwd(solve)(x), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(jacrev(solve)(x), expected, rtol=1e-9, atol=1e-12)


def test_the_starting_point_does_not_move_the_solution():
    g_y0, g_theta = grad(lambda y0, th: fixed_point(scalar_map, y0, th, 0.3, tol=1e-13), argnums=(0, 1))(0.2, 0.5)
    assert g_y0 == 0.0
    assert g_theta == pytest.approx(closed_form(0.5, 0.3)[1], rel=TOL["exact"])


def test_large_systems_use_gmres_in_both_modes():
    rng = np.random.default_rng(SEED)
    n = DENSE_MAX + 44
    W = rng.normal(size=(n, n))
    W *= 0.8 / np.linalg.norm(W, 2)
    x, v = rng.normal(size=n), rng.normal(size=n)
    loss = lambda x: np.sum(np.sin(fixed_point(deq_map, np.zeros(n), W, x, method="newton")))  # noqa: E731
    z = fixed_point(deq_map, np.zeros(n), W, x, tol=1e-13)
    d = 1 - z * z
    expected = d * np.linalg.solve((np.eye(n) - d[:, None] * W).T, np.cos(z))
    np.testing.assert_allclose(grad(loss)(x), expected, rtol=1e-8, atol=1e-10)
    assert jvp(loss, (x,), (v,))[1] == pytest.approx(expected @ v, rel=1e-8)


# ------------------------------------------------------------------ nested use

def test_second_derivatives_in_every_combination():
    theta, x = 0.5, 0.3
    first = lambda th: grad(lambda t: fixed_point(scalar_map, 0.0, t, x, tol=1e-14))(th)  # noqa: E731
    expected = central(first, theta, 1.0, h=1e-5)
    assert grad(first)(theta) == pytest.approx(expected, rel=1e-6)                 # reverse over reverse
    assert jvp(first, (theta,), (1.0,))[1] == pytest.approx(expected, rel=1e-6)    # forward over reverse
    solve = lambda th: fixed_point(scalar_map, 0.0, th, x, tol=1e-14)  # noqa: E731
    fwd_fwd = jvp(lambda th: jvp(solve, (th,), (1.0,))[1], (theta,), (1.0,))[1]
    assert fwd_fwd == pytest.approx(expected, rel=1e-6)


def test_hessian_of_a_loss_through_a_deq(deq):
    W, x, _ = deq
    n = len(x)
    loss = lambda x: np.sum(fixed_point(deq_map, np.zeros(n), W, x, method="newton", tol=1e-13) ** 2)  # noqa: E731
    H = hessian(loss)(x)
    assert np.allclose(H, H.T, atol=1e-9)
    gradient = grad(loss)
    rng = np.random.default_rng(SEED + 1)
    v = rng.normal(size=n)
    np.testing.assert_allclose(H @ v, central(gradient, x, v, h=1e-5), rtol=1e-5, atol=1e-7)


def test_outer_parameters_enter_an_inner_gradient_as_parameters():
    """grad over θ of (inner grad over x): θ is a tracer of the outer level, passed as a param."""
    def inner_slope(theta, x):
        return grad(lambda xx: fixed_point(scalar_map, 0.0, theta, xx, tol=1e-14) ** 2)(x)
    expected = central(lambda th: inner_slope(th, 0.3), 0.5, 1.0, h=1e-5)
    assert grad(inner_slope)(0.5, 0.3) == pytest.approx(expected, rel=1e-6)
    assert jvp(lambda th: inner_slope(th, 0.3), (0.5,), (1.0,))[1] == pytest.approx(expected, rel=1e-6)
