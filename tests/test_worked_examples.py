"""The worked examples of the course material, to the printed digits, in both modes.

Each example is computed by forward mode (dual numbers / jvp) and by reverse
mode (the tape / grad), compared with its closed form to the tolerance of
AD against exact arithmetic, and rounded to the digits the material prints.
(The rows of the evaluation trace of the Griewank example are tested with
``trace`` in tests/test_trace.py.)
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodiff_ref import Dual, derivative, grad, hessian, jacfwd, jvp, value_and_grad, vjp
from autodiff_ref import numerical
from autodiff_ref.testing import assert_close

SEEDED = settings(max_examples=25, deadline=None, derandomize=True, database=None)
real = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


def forward_partials(f, *xs):
    """(f(x), (∂f/∂x₁, …)) by one jvp per input along the unit tangents."""
    partials = []
    for i in range(len(xs)):
        value, tangent = jvp(f, xs, tuple(1.0 if j == i else 0.0 for j in range(len(xs))))
        partials.append(float(tangent))
    return float(value), tuple(partials)


def reverse_partials(f, *xs):
    """(f(x), (∂f/∂x₁, …)) by one reverse sweep."""
    value, partials = value_and_grad(f, argnums=tuple(range(len(xs))))(*xs)
    return float(value), tuple(float(p) for p in partials)


MODES = {"forward": forward_partials, "reverse": reverse_partials}
both_modes = pytest.mark.parametrize("mode", list(MODES))


# ---------------------------------------------------------------- g(x₁, x₂) = x₁x₂ − cos x₂
@both_modes
def test_g_at_2_3(mode):
    value, (d1, d2) = MODES[mode](lambda x1, x2: x1 * x2 - np.cos(x2), 2.0, 3.0)
    assert_close((value, d1, d2), (6 - math.cos(3), 3.0, 2 + math.sin(3)), what="g, ∂g/∂x₁, ∂g/∂x₂")
    assert round(value, 2) == 6.99
    assert round(d2, 2) == 2.14
    assert d1 == 3.0


# ---------------------------------------------------------------- Griewank's example
def griewank(x1, x2):
    return (np.sin(x1 / x2) + x1 / x2 - np.exp(x2)) * (x1 / x2 - np.exp(x2))


@both_modes
def test_griewank_example_at_1_5_and_0_5(mode):
    value, (d1, _) = MODES[mode](griewank, 1.5, 0.5)
    # Griewank's numbering: v₁ = x₁/x₂ = 3, v₄ = v₁ − e^{x₂}, v₅ = sin v₁ + v₄, y = v₆ = v₅·v₄
    v4 = 3.0 - math.exp(0.5)
    v5 = math.sin(3.0) + v4
    exact_d1 = (math.cos(3.0) + 1) / 0.5 * v4 + v5 / 0.5
    assert_close((value, d1), (v5 * v4, exact_d1), what="y, ∂y/∂x₁")
    assert round(d1, 4) == 3.0118


def test_griewank_printed_value_comes_from_rounded_intermediates():
    """The material prints y = 2.0167; the exact value is 2.016647, i.e. 2.0166 to 4 places.

    The printed digits are those of the product of the two factors *after*
    rounding them to 4 places (1.4924 × 1.3513), as in a hand-computed table.
    The lesson should say so instead of presenting 2.0167 as the value of y.
    """
    value, _ = reverse_partials(griewank, 1.5, 0.5)
    assert round(value, 4) == 2.0166
    v4 = 3.0 - math.exp(0.5)
    v5 = math.sin(3.0) + v4
    assert (round(v5, 4), round(v4, 4)) == (1.4924, 1.3513)
    assert round(round(v5, 4) * round(v4, 4), 4) == 2.0167


# ---------------------------------------------------------------- y = x₁x₂ + x₂ − ln x₁
@both_modes
def test_y_at_3_minus_4(mode):
    value, (d1, d2) = MODES[mode](lambda x1, x2: x1 * x2 + x2 - np.log(x1), 3.0, -4.0)
    assert_close((value, d1, d2), (-16 - math.log(3), -4 - 1 / 3, 4.0), what="y and its gradient")
    assert round(value, 2) == -17.10
    assert (round(d1, 2), d2) == (-4.33, 4.0)


# ---------------------------------------------------------------- f(x, y) = xy + e^{xy}
@both_modes
def test_xy_plus_exp_xy_at_1_2(mode):
    _, (dx, dy) = MODES[mode](lambda x, y: x * y + np.exp(x * y), 1.0, 2.0)
    e2 = math.exp(2.0)
    assert_close((dx, dy), (2 + 2 * e2, 1 + e2), what="∂f/∂x, ∂f/∂y")


# ---------------------------------------------------------------- Gaussian log-density
def log_density(y, mu, sigma):
    return -0.5 * ((y - mu) / sigma) ** 2 - np.log(sigma)


@both_modes
def test_log_density_at_1_0_1(mode):
    _, (dy, dmu, dsigma) = MODES[mode](log_density, 1.0, 0.0, 1.0)
    assert (dy, dmu, dsigma) == (-1.0, 1.0, 0.0)


@SEEDED
@given(alpha=real, beta=real, gamma=real,
       point=st.tuples(real, real, st.floats(0.2, 3.0)))
def test_log_density_directional_derivative_has_the_closed_form(alpha, beta, gamma, point):
    y, mu, sigma = point
    r = (y - mu) / sigma
    closed = (-r * alpha + r * beta) / sigma + (r * r - 1) / sigma * gamma
    _, forward = jvp(log_density, point, (alpha, beta, gamma))
    reverse = np.dot(grad(log_density, argnums=(0, 1, 2))(*point), (alpha, beta, gamma))
    assert_close((forward, reverse), (closed, closed), what="directional derivative along (α, β, γ)")
    if point == (1.0, 0.0, 1.0):
        assert forward == beta - alpha


def test_log_density_directional_derivative_at_1_0_1_is_beta_minus_alpha():
    _, forward = jvp(log_density, (1.0, 0.0, 1.0), (0.3, -0.7, 1.9))
    assert forward == pytest.approx(-0.7 - 0.3, abs=1e-15)


# ---------------------------------------------------------------- d²/dx² sin(x³)
def second_derivative_closed_form(x):
    return 6 * x * math.cos(x ** 3) - 9 * x ** 4 * math.sin(x ** 3)


@SEEDED
@given(x=real)
def test_second_derivative_of_sin_x_cubed(x):
    def f(t):
        return np.sin(t * t * t)
    expected = second_derivative_closed_form(x)
    results = {
        "dual of duals": derivative(f, 2)(x),
        "forward over reverse (hessian)": hessian(f)(x),
        "forward over forward": jacfwd(jacfwd(f))(x),
        "reverse over reverse": grad(grad(f))(x),
        "reverse over forward": grad(lambda t: jvp(f, (t,), (1.0,))[1])(x),
    }
    for how, got in results.items():
        assert_close(got, expected, what=f"sin(x³)'' by {how} at x = {x}")


# ---------------------------------------------------------------- y = x₁² + x₁x₂
@both_modes
def test_x1_squared_plus_x1_x2_at_4_3(mode):
    _, (d1, d2) = MODES[mode](lambda x1, x2: x1 ** 2 + x1 * x2, 4.0, 3.0)
    assert (d1, d2) == (11.0, 4.0)


# ---------------------------------------------------------------- Σ xᵢ² at xᵢ = i
def test_sum_of_squares_exact_by_ad_and_far_off_by_one_sided_differences():
    n = 1000
    x = np.arange(1.0, n + 1)

    def f(v):
        return np.sum(v * v)

    exact = 2 * x
    np.testing.assert_array_equal(grad(f)(x), exact)                # reverse mode: exactly 2xᵢ
    np.testing.assert_array_equal(jacfwd(f)(x), exact)              # forward mode, n directions

    h = math.sqrt(numerical.EPS)
    fx = f(x)
    one_sided = np.array([(f(x + h * e) - fx) / h for e in np.eye(n)])
    error = np.abs(one_sided - exact)

    # Why: f(x) = n(n+1)(2n+1)/6 ≈ 3.3e8, so f(x + h eᵢ) − f(x) is a whole number
    # of ulps of f; the quotient can only be a multiple of ulp(f)/h.
    quantum = np.spacing(fx) / h
    assert fx == n * (n + 1) * (2 * n + 1) / 6
    np.testing.assert_array_equal(one_sided, quantum * np.round(one_sided / quantum))
    # By how much: rounding 2xᵢ to that grid errs by up to half a quantum,
    # while the truncation error (h/2)·|f''| = h is ~1e8 times smaller.
    model = numerical.fd_error_model(h, order=1, M=2.0, f_scale=fx)
    assert np.max(error) == pytest.approx(quantum / 2, rel=1e-12)
    assert np.max(error) <= model.roundoff
    assert np.max(error) > 1e7 * model.truncation
    assert np.mean(error) > 0.2 * quantum
    assert error[0] / exact[0] > 0.5          # ∂f/∂x₁ = 2 comes out 0 or 4: all digits wrong
    assert np.median(error / exact) > 1e-4    # ~8 digits lost, not the ~16 of a float


# ---------------------------------------------------------------- dual-number arithmetic
def test_three_x_plus_two_at_four_plus_epsilon():
    d = 3 * Dual(4.0, 1.0) + 2
    assert (d.value, d.tangent) == (14.0, 3.0)


@SEEDED
@given(a=real, b=real, c=st.one_of(st.floats(0.25, 4.0), st.floats(-4.0, -0.25)), d=real)
def test_dual_division_formula(a, b, c, d):
    q = Dual(a, b) / Dual(c, d)
    assert_close((q.value, q.tangent), (a / c, (b * c - a * d) / (c * c)), what="(a+bε)/(c+dε)")
    # and against the reverse mode partials of a/c, weighted by the tangents b and d
    da, dc = grad(lambda u, w: u / w, argnums=(0, 1))(a, c)
    assert_close(q.tangent, da * b + dc * d, what="ε-part against grad")


def as_matrix(value, tangent):
    """The dual number a + bε as the 2×2 matrix [[a, b], [0, a]] (ε ↦ [[0, 1], [0, 0]])."""
    return np.array([[value, tangent], [0.0, value]])


@SEEDED
@given(a=real, b=real, c=real, d=real)
def test_matrix_representation_multiplies_like_duals(a, b, c, d):
    product = Dual(a, b) * Dual(c, d)
    epsilon = as_matrix(0.0, 1.0)
    np.testing.assert_array_equal(epsilon @ epsilon, np.zeros((2, 2)))   # ε² = 0
    assert_close(as_matrix(a, b) @ as_matrix(c, d), as_matrix(product.value, product.tangent),
                 what="[[a, b], [0, a]] @ [[c, d], [0, c]] against Dual(a, b) * Dual(c, d)")
    if abs(c) > 0.25:
        quotient = Dual(a, b) / Dual(c, d)
        assert_close(as_matrix(a, b) @ np.linalg.inv(as_matrix(c, d)),
                     as_matrix(quotient.value, quotient.tangent), what="division as the inverse matrix")


def test_matrix_representation_of_a_polynomial_carries_the_derivative():
    """p(A) for A = [[a, 1], [0, a]] is [[p(a), p'(a)], [0, p(a)]]: evaluation on a dual."""
    a = 1.7
    A = as_matrix(a, 1.0)
    d = 3 * Dual(a, 1.0) ** 3 - 2 * Dual(a, 1.0)
    pA = 3 * A @ A @ A - 2 * A
    assert_close(pA, as_matrix(d.value, d.tangent), what="p(A) against p(a + ε)")
    assert_close(d.tangent, 9 * a * a - 2, what="p'(a)")


def test_vjp_of_g_gives_the_gradient_as_the_pullback_of_one():
    _, pullback = vjp(lambda x1, x2: x1 * x2 - np.cos(x2), 2.0, 3.0)
    d1, d2 = pullback(1.0)
    assert (d1, round(d2, 2)) == (3.0, 2.14)
