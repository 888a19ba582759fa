"""odeint(method="rodas3"), the stiff solver: values against scipy's Radau/BDF and closed
forms; derivatives in every mode (checkpointed adjoint, backsolve, forward sensitivities,
through the solver) against each other, closed forms and central differences."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from autodiff_ref import grad, jvp, odeint

SEED = 20261204
# relative tolerances per comparison, for solves at rtol=1e-8, atol=1e-12 (Robertson: atol 1e-14)
TOL = {"scipy": 2e-5, "closed": 1e-5, "modes": 1e-4, "fd": 1e-4}
TIGHT = dict(rtol=1e-8, atol=1e-12)


def robertson(y, t, k1, k2, k3):
    """Robertson's chemical kinetics: rates 0.04, 3e7, 1e4 make it stiff (eigenvalues to −1e4)."""
    return np.stack([-k1 * y[0] + k3 * y[1] * y[2],
                     k1 * y[0] - k2 * y[1] ** 2 - k3 * y[1] * y[2],
                     k2 * y[1] ** 2])


ROBERTSON_RATES = (0.04, 3e7, 1e4)


def linear(y, t, A):
    return A @ y


def stiff_matrix(scale):
    """A non-normal 3×3 matrix with eigenvalues −1, −100·scale, −1e4·scale."""
    rng = np.random.default_rng(SEED)
    V = np.eye(3) + 0.3 * rng.normal(size=(3, 3))
    return V @ np.diag([-1.0, -1e2 * scale, -1e4 * scale]) @ np.linalg.inv(V)


def forced_relaxation(y, t, lam):
    return -lam * (y - np.cos(t))


def forced_relaxation_solution(lam, t=2.0):
    return lam ** 2 / (lam ** 2 + 1) * (np.cos(t) - np.exp(-lam * t)) + lam / (lam ** 2 + 1) * np.sin(t)


# ------------------------------------------------------------------ values

@pytest.mark.parametrize("reference", ["Radau", "BDF"])
def test_robertson_matches_scipy(reference):
    ts = np.array([0.0, 1e-3, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4])
    y0 = np.array([1.0, 0.0, 0.0])
    ys, stats = odeint(robertson, y0, ts, *ROBERTSON_RATES, method="rodas3", rtol=1e-8, atol=1e-14,
                       return_stats=True)
    theirs = solve_ivp(lambda s, y: robertson(y, s, *ROBERTSON_RATES), (0, ts[-1]), y0, method=reference,
                       t_eval=ts, rtol=1e-11, atol=1e-16).y.T
    np.testing.assert_allclose(ys, theirs, rtol=TOL["scipy"], atol=1e-13)
    np.testing.assert_allclose(ys.sum(axis=1), 1.0, rtol=1e-12)  # mass is conserved by every linear method
    assert stats.steps < 5000  # dopri5 would need millions: its step stays below ~3/|λ| ≈ 1e-3 or less


def test_a_stiff_linear_system_matches_the_matrix_exponential():
    A = stiff_matrix(1.0)
    ts = np.linspace(0.0, 2.0, 5)
    y0 = np.array([1.0, -0.5, 2.0])
    ys = odeint(linear, y0, ts, A, method="rodas3", **TIGHT)
    expected = np.stack([expm(A * s) @ y0 for s in ts])
    np.testing.assert_allclose(ys, expected, rtol=TOL["closed"], atol=1e-10)


def test_rodas3_takes_few_steps_where_dopri5_is_bounded_by_stability():
    t = np.array([0.0, 2.0])
    stiff = odeint(forced_relaxation, 0.0, t, 1e4, method="rodas3", return_stats=True)
    explicit = odeint(forced_relaxation, 0.0, t, 1e4, return_stats=True)
    assert stiff[0][-1] == pytest.approx(forced_relaxation_solution(1e4), rel=1e-6)
    assert stiff[1].steps * 5 < explicit[1].steps


# ------------------------------------------------------------------ derivatives

@pytest.mark.parametrize("lam", [200.0, 1000.0])
def test_stiff_relaxation_derivative_in_every_mode(lam):
    """∂y(2)/∂λ against the closed form at default tolerances, by the three ways of
    differentiating odeint (∂y/∂λ ≈ −0.9/λ², so atol = 1e-9 allows ~1e-5 relative at λ = 1000)."""
    t = np.array([0.0, 2.0])
    exact = grad(forced_relaxation_solution)(lam)

    def final(lam, **options):
        return odeint(forced_relaxation, 0.0, t, lam, method="rodas3", **options)[-1]
    for adjoint in ("checkpoint", False):
        assert grad(lambda lam: final(lam, adjoint=adjoint))(lam) == pytest.approx(exact, rel=3e-5)
    assert jvp(final, (lam,), (1.0,))[1] == pytest.approx(exact, rel=3e-5)


def test_stiff_linear_system_gradient_adjoint_vs_forward_vs_solver_vs_closed_form():
    """L = Σᵢ ⟨w, y(tᵢ)⟩ with y(t) = e^{At} y₀; dL/dA by the closed form of the
    Fréchet derivative of expm (the block matrix [[A, E], [0, A]])."""
    A = stiff_matrix(0.1)
    ts = np.array([0.0, 0.5, 1.0])
    y0 = np.array([1.0, -0.5, 2.0])
    w = np.array([0.3, -1.0, 0.7])

    def loss(A, y0, **options):
        return np.sum(odeint(linear, y0, ts, A, method="rodas3", **TIGHT, **options) @ w)
    direction = np.random.default_rng(SEED).normal(size=(3, 3))
    expected = 0.0
    for s in ts[1:]:
        block = expm(np.block([[A * s, direction * s], [np.zeros((3, 3)), A * s]]))
        expected += w @ block[:3, 3:] @ y0
    checkpoint = grad(loss, argnums=(0, 1))(A, y0)
    through = grad(lambda A, y0: loss(A, y0, adjoint=False), argnums=(0, 1))(A, y0)
    forward = jvp(loss, (A, y0), (direction, np.zeros(3)))[1]
    assert np.sum(checkpoint[0] * direction) == pytest.approx(expected, rel=TOL["closed"])
    assert np.sum(through[0] * direction) == pytest.approx(expected, rel=TOL["closed"])
    assert forward == pytest.approx(expected, rel=TOL["closed"])
    expected_y0 = sum(expm(A.T * s) @ w for s in ts)
    np.testing.assert_allclose(checkpoint[1], expected_y0, rtol=TOL["closed"])
    np.testing.assert_allclose(through[1], expected_y0, rtol=TOL["closed"])


def test_robertson_rate_gradient_against_central_differences():
    """∂/∂(k₁, k₂, k₃) of y₂(T) (the product), over 10 units of time, by the checkpointed
    adjoint and forward sensitivities (rtol 1e-7), against central differences of tight scipy Radau
    solves in log k (relative steps 1e-4)."""
    ts = np.array([0.0, 0.1, 10.0])
    y0 = np.array([1.0, 0.0, 0.0])
    k = np.array(ROBERTSON_RATES)

    def product(k1, k2, k3, **options):
        return odeint(robertson, y0, ts, k1, k2, k3, method="rodas3", rtol=1e-7, atol=1e-13,
                      **options)[-1, 2]
    adjoint = np.array(grad(product, argnums=(0, 1, 2))(*k))
    forward = np.asarray(jvp(product, tuple(k), tuple(np.eye(3)))[1])  # three directions in one solve
    np.testing.assert_allclose(forward * k, adjoint * k, rtol=TOL["modes"])

    def scipy_product(rates):
        return solve_ivp(lambda s, y: robertson(y, s, *rates), (0, ts[-1]), y0, method="Radau",
                         rtol=1e-12, atol=1e-18).y[2, -1]
    step = 1e-4
    central = np.array([(scipy_product(k * np.exp(step * e)) - scipy_product(k * np.exp(-step * e))) / (2 * step)
                        for e in np.eye(3)])
    np.testing.assert_allclose(adjoint * k, central, rtol=TOL["fd"], atol=1e-8 * np.max(np.abs(central)))


def test_block_solves_of_augmented_systems_match_dense_solves(monkeypatch):
    """The sensitivity and adjoint systems hand rodas3 their Jacobian by blocks (one n×n
    factorisation per step); with the blocks switched off the stepper builds and factorises
    the whole augmented matrix. Same steps, same numbers up to rounding."""
    from autodiff_ref import ode
    ts = np.array([0.0, 0.1, 1.0])
    y0 = np.array([1.0, 0.0, 0.0])
    k = np.array(ROBERTSON_RATES)

    def product(k1, k2, k3):
        return odeint(robertson, y0, ts, k1, k2, k3, method="rodas3", rtol=1e-7, atol=1e-13)[-1, 2]

    def both():
        return (np.asarray(jvp(product, tuple(k), tuple(np.eye(3)))[1]),
                np.array(grad(product, argnums=(0, 1, 2))(*k)))
    blocks = both()
    make_stepper = ode._make_stepper

    def dense_only(fun, problem):
        stepper = make_stepper(fun, problem)
        stepper.system = None
        return stepper
    monkeypatch.setattr(ode, "_make_stepper", dense_only)
    dense = both()
    for ours, theirs in zip(blocks, dense):
        np.testing.assert_allclose(ours * k, theirs * k, rtol=1e-8, atol=1e-12 * np.max(np.abs(theirs * k)))


@pytest.mark.parametrize("method", ["dopri5", "rodas3"])
def test_decreasing_times_every_adjoint_agrees(method):
    """Integrating backwards in t (decreasing times): the trajectory is searched the other way."""
    def modulated_decay(y, t, k):
        return -k * y * (1 + 0.3 * np.sin(t))
    t = np.array([2.0, 1.3, 0.0])
    y0 = np.array([1.0, 2.0])
    gradients = [grad(lambda k: np.sum(odeint(modulated_decay, y0, t, k, method=method, adjoint=adjoint,
                                              rtol=1e-10, atol=1e-12)))(0.7)
                 for adjoint in ("checkpoint", "backsolve", False)]
    assert gradients[0] == pytest.approx(gradients[1], rel=1e-8)
    assert gradients[0] == pytest.approx(gradients[2], rel=1e-8)
