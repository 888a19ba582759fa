r"""B6 — the sensitivity table: gradients of ODE losses, AD-based sensitivities vs central differences.

The course material compares derivatives of ODE solutions by AD-based sensitivity
analysis ("DSA") with numerical differentiation on four problems; this script
reproduces that table with ``autodiff_ref`` and times, **in the same run**:

* ``central differences`` — 2p solves of the loss with *our* solver at the same
  method and tolerances (the material's "numerical differentiation"), relative
  steps 1e-4·max(|θᵢ|, 1e-6);
* ``central differences, scipy`` — the same with scipy's ``solve_ivp`` (RK45 or
  Radau at the same tolerances), for scale;
* ``autodiff_ref forward sensitivities`` — ``jacfwd`` through ``odeint``: the
  sensitivity equations Ṡ = (∂f/∂y)S + ∂f/∂θ solved with y, all p directions
  in one JVP of f per stage;
* ``autodiff_ref adjoint`` — ``grad`` through ``odeint``: the checkpointed adjoint;
* ``scipy hand-written sensitivities`` — one ``solve_ivp`` of (y, S) with ∂f/∂y and
  ∂f/∂θ written by hand (the peer the material's compiled DSA is closest to);
* ``torchdiffeq odeint_adjoint`` — LV and PKPD (non-stiff; skipped without torchdiffeq).

The problems (the loss is L = Σᵢ ‖y(tᵢ)‖² over the observation times):

=======  ===========================================================  =====  ======  ========
name     system                                                       n      p       method
=======  ===========================================================  =====  ======  ========
LV       Lotka–Volterra, θ = (a, b, c, d), gradient in (y₀, θ)        2      6       dopri5
BRUSS    2-D Brusselator on an N×N periodic grid, θ = (A, B, α)       2N²    3       rodas3
POLLU    Verwer's air-pollution model, 20 species, 25 rate constants  20     25      rodas3
PKPD     oral two-compartment PK + effect compartment (see below)     4      6       dopri5
=======  ===========================================================  =====  ======  ========

PKPD: gut → central (ka), central ⇄ peripheral (Q/V₁, Q/V₂), elimination CL/V₁ from
the central compartment, effect-site concentration Cₑ' = ke0 (C₁ − Cₑ) (a link model);
θ = (ka, CL, V₁, Q, V₂, ke0), a 100 mg dose at t = 0, observed over 24 h.

Every exact gradient is checked against scipy's hand-written sensitivities at a
tight tolerance before timing (the script exits 1 if one disagrees). The last
line is machine-readable:
``SEED-TABLE LV=<T_fd/T_ours> BRUSS=<…> POLLU=<…> PKPD=<…> TORCHDIFFEQ_LV=<T_torchdiffeq/T_ours>``
with T_ours our fastest exact gradient and T_fd central differences with our solver.
"""
import os
import sys
from typing import Callable, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402  (first: it fixes the BLAS thread count before numpy loads)

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from autodiff_ref import grad, jacfwd, odeint  # noqa: E402

#: the material's ratios T(numerical differentiation) / T(DSA AD)
MATERIAL = {"LV": 5.6, "BRUSS": 6.0, "POLLU": 2.4, "PKPD": 7.5}
TARGET_TORCH = 20.0
FD_STEP = 1e-4


class Problem(NamedTuple):
    """One row of the table."""
    name: str
    field: Callable          # f(y, t, theta) for odeint (numpy code, differentiable)
    jacobians: Callable      # (y, t, theta) -> (f, ∂f/∂y, ∂f/∂θ), written by hand
    y0: np.ndarray
    theta: np.ndarray
    times: np.ndarray
    method: str              # ours: "dopri5" or "rodas3"
    scipy_method: str        # "RK45" or "Radau"
    rtol: float
    atol: float
    with_y0: bool            # differentiate with respect to y0 too (LV)


# ---------------------------------------------------------------------------- LV
def lotka_volterra(y, t, theta):
    a, b, c, d = theta[0], theta[1], theta[2], theta[3]
    prey, predator = y[0], y[1]
    return np.stack([a * prey - b * prey * predator, -c * predator + d * prey * predator])


def lotka_volterra_jacobians(y, t, theta):
    a, b, c, d = theta
    x, z = y
    f = np.array([a * x - b * x * z, -c * z + d * x * z])
    J = np.array([[a - b * z, -b * x], [d * z, -c + d * x]])
    F = np.array([[x, -x * z, 0, 0], [0, 0, -z, x * z]])
    return f, J, F


# ---------------------------------------------------------------------------- BRUSS
def periodic_laplacian(N):
    """The 5-point Laplacian on an N×N periodic grid of spacing 1/(N−1), as a dense matrix."""
    h2 = 1.0 / (N - 1) ** 2
    L = np.zeros((N * N, N * N))
    for i in range(N):
        for j in range(N):
            k = i * N + j
            L[k, k] = -4.0 / h2
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                L[k, ((i + di) % N) * N + (j + dj) % N] += 1.0 / h2
    return L


def make_brusselator(N):
    L = periodic_laplacian(N)
    m = N * N

    def brusselator(y, t, theta):
        A, B, alpha = theta[0], theta[1], theta[2]
        u, v = y[:m], y[m:]
        uuv = u * u * v
        return np.concatenate([A + uuv - (B + 1.0) * u + alpha * (L @ u),
                               B * u - uuv + alpha * (L @ v)])

    def jacobians(y, t, theta):
        A, B, alpha = theta
        u, v = y[:m], y[m:]
        f = brusselator(y, t, theta)
        J = np.block([[np.diag(2 * u * v - (B + 1.0)) + alpha * L, np.diag(u * u)],
                      [np.diag(B - 2 * u * v), np.diag(-u * u) + alpha * L]])
        F = np.stack([np.concatenate([np.ones(m), np.zeros(m)]), np.concatenate([-u, u]),
                      np.concatenate([L @ u, L @ v])], axis=1)
        return f, J, F

    x = np.linspace(0, 1, N)
    X, Y = np.meshgrid(x, x, indexing="ij")
    y0 = np.concatenate([(22 * Y * (1 - Y) ** 1.5).ravel(), (27 * X * (1 - X) ** 1.5).ravel()])
    return brusselator, jacobians, y0


# ---------------------------------------------------------------------------- POLLU
# reaction j consumes species FIRST[j] and SECOND[j] (1-based; 0 means "no second reactant")
FIRST = np.array([1, 2, 5, 7, 7, 7, 9, 9, 11, 11, 13, 10, 14, 1, 3, 4, 4, 16, 16, 17, 19, 19, 1, 19, 20])
SECOND = np.array([0, 4, 2, 0, 0, 6, 0, 6, 2, 1, 0, 2, 0, 6, 0, 0, 0, 0, 0, 6, 0, 0, 4, 1, 0])
POLLU_RATES = np.array([.35, 26.6, 1.23e4, 8.6e-4, 8.2e-4, 1.5e4, 1.3e-4, 2.4e4, 1.65e4, 9e3, .022, 1.2e4,
                        1.88, 1.63e4, 4.8e6, 3.5e-4, .0175, 1e8, 4.44e11, 1240., 2.1, 5.78, .0474, 1780.,
                        3.12])
_PRODUCTION = {  # species: [(reaction, coefficient)] of dy/dt = Σ S[species, reaction] r[reaction]
    1: "-1 -10 -14 -23 -24 +2 +3 +9 +11 +12 +22 +25", 2: "-2 -3 -9 -12 +1 +21",
    3: "-15 +1 +17 +19 +22", 4: "-2 -16 -17 -23 +15", 5: "-3 +4 +4 +6 +7 +13 +20",
    6: "-6 -8 -14 -20 +3 +18 +18", 7: "-4 -5 -6 +13", 8: "+4 +5 +6 +7", 9: "-7 -8",
    10: "-12 +7 +9", 11: "-9 -10 +8 +11", 12: "+9", 13: "-11 +10", 14: "-13 +12", 15: "+14",
    16: "-18 -19 +16", 17: "-20", 18: "+20", 19: "-21 -22 -24 +23 +25", 20: "-25 +24"}
STOICHIOMETRY = np.zeros((20, 25))
for _species, _terms in _PRODUCTION.items():
    for _term in _terms.split():
        STOICHIOMETRY[_species - 1, abs(int(_term)) - 1] += np.sign(int(_term))
POLLU_Y0 = np.zeros(20)
POLLU_Y0[[1, 3, 6, 7, 8, 16]] = [0.2, 0.04, 0.1, 0.3, 0.01, 0.007]


def pollu(y, t, k):
    r"""dy/dt = S (k ⊙ m(y)), m_j = y[first_j]·y[second_j] (y₀ ≡ 1 stands for "no reactant")."""
    extended = np.concatenate([np.ones(1), y])
    return STOICHIOMETRY @ (k * (extended[FIRST] * extended[SECOND]))


def pollu_jacobians(y, t, k):
    extended = np.concatenate([[1.0], y])
    m = extended[FIRST] * extended[SECOND]
    dm = np.zeros((25, 21))
    dm[np.arange(25), FIRST] += extended[SECOND]
    dm[np.arange(25), SECOND] += extended[FIRST]
    J = STOICHIOMETRY @ (k[:, None] * dm[:, 1:])
    return STOICHIOMETRY @ (k * m), J, STOICHIOMETRY * m[None, :]


# ---------------------------------------------------------------------------- PKPD
PKPD_THETA = np.array([1.2, 5.0, 30.0, 10.0, 60.0, 0.4])   # ka /h, CL L/h, V1 L, Q L/h, V2 L, ke0 /h


def pkpd(y, t, theta):
    ka, CL, V1, Q, V2, ke0 = theta[0], theta[1], theta[2], theta[3], theta[4], theta[5]
    gut, central, peripheral, effect = y[0], y[1], y[2], y[3]
    c1 = central / V1
    return np.stack([-ka * gut,
                     ka * gut - CL * c1 - Q * c1 + Q * peripheral / V2,
                     Q * c1 - Q * peripheral / V2,
                     ke0 * (c1 - effect)])


def pkpd_jacobians(y, t, theta):
    ka, CL, V1, Q, V2, ke0 = theta
    gut, central, peripheral, effect = y
    c1, c2 = central / V1, peripheral / V2
    f = np.array([-ka * gut, ka * gut - (CL + Q) * c1 + Q * c2, Q * c1 - Q * c2, ke0 * (c1 - effect)])
    J = np.array([[-ka, 0, 0, 0], [ka, -(CL + Q) / V1, Q / V2, 0], [0, Q / V1, -Q / V2, 0],
                  [0, ke0 / V1, 0, -ke0]])
    F = np.array([[-gut, 0, 0, 0, 0, 0],
                  [gut, -c1, (CL + Q) * c1 / V1, -c1 + c2, -Q * c2 / V2, 0],
                  [0, 0, -Q * c1 / V1, c1 - c2, Q * c2 / V2, 0],
                  [0, 0, -ke0 * c1 / V1, 0, 0, c1 - effect]])
    return f, J, F


# ---------------------------------------------------------------------------- the table
def problems(quick, bruss_n):
    n = 4 if quick else bruss_n
    brusselator, bruss_jacobians, bruss_y0 = make_brusselator(n)
    return [
        Problem("LV", lotka_volterra, lotka_volterra_jacobians, np.array([1.0, 1.0]),
                np.array([1.5, 1.0, 3.0, 1.0]), np.linspace(0, 2 if quick else 10, 10 if quick else 100),
                "dopri5", "RK45", 1e-8, 1e-8, True),
        Problem(f"BRUSS (N = {n})", brusselator, bruss_jacobians, bruss_y0, np.array([1.0, 3.4, 0.02]),
                np.linspace(0, 0.5 if quick else 1.5, 4), "rodas3", "Radau", 1e-5, 1e-7, False),
        Problem("POLLU", pollu, pollu_jacobians, POLLU_Y0, POLLU_RATES,
                np.linspace(0, 6 if quick else 60, 5), "rodas3", "Radau", 1e-6, 1e-10, False),
        Problem("PKPD", pkpd, pkpd_jacobians, np.array([100.0, 0, 0, 0]), PKPD_THETA,
                np.linspace(0, 6 if quick else 24, 25), "dopri5", "RK45", 1e-8, 1e-8, False),
    ]


def split(problem, inputs):
    """(y0, θ) from the differentiated vector."""
    n = problem.y0.size
    return (inputs[:n], inputs[n:]) if problem.with_y0 else (problem.y0, inputs)


def start(problem):
    return np.concatenate([problem.y0, problem.theta]) if problem.with_y0 else problem.theta.copy()


def our_loss(problem, inputs, **options):
    y0, theta = split(problem, inputs)
    ys = odeint(problem.field, y0, problem.times, theta, method=problem.method, rtol=problem.rtol,
                atol=problem.atol, **options)
    return np.sum(ys ** 2)


def scipy_loss(problem, inputs):
    y0, theta = split(problem, inputs)
    stiff = dict(jac=lambda t, y: problem.jacobians(y, t, theta)[1]) if problem.scipy_method == "Radau" else {}
    sol = solve_ivp(lambda t, y: problem.jacobians(y, t, theta)[0], problem.times[[0, -1]], y0,
                    method=problem.scipy_method, t_eval=problem.times, rtol=problem.rtol,
                    atol=problem.atol, **stiff)
    return np.sum(sol.y ** 2)


def central_differences(loss, inputs):
    out = np.empty(inputs.size)
    for i in range(inputs.size):
        step = FD_STEP * max(abs(inputs[i]), 1e-6)
        e = np.zeros(inputs.size)
        e[i] = step
        out[i] = (loss(inputs + e) - loss(inputs - e)) / (2 * step)
    return out


def scipy_sensitivities(problem, inputs, rtol=None, atol=None):
    r"""dL/d(inputs) from (y, S), Ṡ = J S + F, S(0) = [I | 0] (or 0), J and F by hand."""
    y0, theta = split(problem, inputs)
    n, p = y0.size, inputs.size
    k = p - n if problem.with_y0 else p

    def field(t, state):
        y, S = state[:n], state[n:].reshape(n, p)
        f, J, F = problem.jacobians(y, t, theta)
        dS = J @ S
        dS[:, p - k:] += F
        return np.concatenate([f, dS.ravel()])

    def jacobian(t, state):
        return _sensitivity_jacobian(problem.jacobians(state[:n], t, theta)[1], n, p)
    S0 = np.eye(n, p) if problem.with_y0 else np.zeros((n, p))
    stiff = dict(jac=jacobian) if problem.scipy_method == "Radau" else {}
    sol = solve_ivp(field, problem.times[[0, -1]], np.concatenate([y0, S0.ravel()]),
                    method=problem.scipy_method, t_eval=problem.times, rtol=rtol or problem.rtol,
                    atol=atol or problem.atol, **stiff)
    ys, S = sol.y[:n], sol.y[n:].reshape(n, p, -1)
    return np.einsum("it,ijt->j", 2 * ys, S)


def _sensitivity_jacobian(J, n, p):
    """∂(f, JS + F)/∂(y, S) with the terms of ∂J/∂y · S dropped (Radau only needs an approximation)."""
    big = np.zeros((n * (p + 1), n * (p + 1)))
    big[:n, :n] = J
    for column in range(p):
        rows = n + np.arange(n) * p + column  # S is stored row-major: S[i, column] at n + i·p + column
        big[np.ix_(rows, rows)] = J
    return big


def torchdiffeq_gradient(problem):
    """A gradient function by torchdiffeq's odeint_adjoint for LV and PKPD, or None."""
    try:
        import torch
        from torchdiffeq import odeint_adjoint
    except ImportError:
        return None

    class Field(torch.nn.Module):
        def __init__(self, theta):
            super().__init__()
            self.theta = torch.nn.Parameter(torch.tensor(theta, dtype=torch.float64))

        def forward(self, t, y):
            th = self.theta
            if problem.name == "LV":
                return torch.stack([th[0] * y[0] - th[1] * y[0] * y[1], -th[2] * y[1] + th[3] * y[0] * y[1]])
            ka, CL, V1, Q, V2, ke0 = th
            c1, c2 = y[1] / V1, y[2] / V2
            return torch.stack([-ka * y[0], ka * y[0] - (CL + Q) * c1 + Q * c2, Q * c1 - Q * c2,
                                ke0 * (c1 - y[3])])

    def gradient(inputs):
        y0, theta = split(problem, inputs)
        field = Field(theta)
        start = torch.tensor(y0, dtype=torch.float64, requires_grad=True)
        t = torch.tensor(problem.times, dtype=torch.float64)
        ys = odeint_adjoint(field, start, t, rtol=problem.rtol, atol=problem.atol, method="dopri5")
        torch.sum(ys ** 2).backward()
        parts = [start.grad.numpy()] if problem.with_y0 else []
        return np.concatenate(parts + [field.theta.grad.numpy()])
    return gradient


def run(problem, args, agreement):
    inputs = start(problem)
    loss = lambda v: our_loss(problem, v)  # noqa: E731
    runs = {
        "central differences": lambda: central_differences(loss, inputs),
        "central differences, scipy": lambda: central_differences(lambda v: scipy_loss(problem, v), inputs),
        "autodiff_ref forward sensitivities": lambda: jacfwd(loss)(inputs),
        "autodiff_ref adjoint": lambda: grad(loss)(inputs),
        "scipy hand-written sensitivities": lambda: scipy_sensitivities(problem, inputs),
    }
    torch_gradient = torchdiffeq_gradient(problem) if problem.method == "dopri5" else None
    if torch_gradient is not None:
        runs["torchdiffeq odeint_adjoint"] = lambda: torch_gradient(inputs)
    reference = scipy_sensitivities(problem, inputs, rtol=problem.rtol * 1e-3, atol=problem.atol * 1e-3)
    scale = np.max(np.abs(reference))
    for name in ("autodiff_ref forward sensitivities", "autodiff_ref adjoint", "torchdiffeq odeint_adjoint"):
        if name in runs:
            agreement.check(f"{problem.name} {name}", runs[name](), reference, rtol=1e-5, atol=1e-6 * scale)
    slow = ("central differences", "central differences, scipy", "autodiff_ref forward sensitivities")
    repeats = {name: (max(1, args.repeats // 2) if name in slow else args.repeats) for name in runs}
    timings = _timing.measure(runs, repeats=repeats, warmup=0 if problem.method == "rodas3" else 1)
    _timing.print_table(f"B6 {problem.name}: ∂L/∂({'y0, ' if problem.with_y0 else ''}θ), "
                        f"{inputs.size} inputs, {problem.method} at rtol = {problem.rtol:g}, "
                        f"atol = {problem.atol:g} ({_timing.machine_summary()})",
                        timings, reference="central differences", unit="ms")
    ours = min(("autodiff_ref forward sensitivities", "autodiff_ref adjoint"), key=lambda n: timings[n].median)
    ratio = timings["central differences"].median / timings[ours].median
    torch_ratio = (timings["torchdiffeq odeint_adjoint"].median / timings[ours].median
                   if torch_gradient is not None else None)
    return ours, ratio, torch_ratio


def main(argv=None):
    import argparse
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--bruss-n", type=int, default=8, help="BRUSS grid size N (the material: N ≥ 32)")
    known, rest = extra.parse_known_args(argv)
    args = _timing.parse_args(__doc__.splitlines()[0], rest, default_repeats=3)
    agreement = _timing.Agreement()
    results = {}
    for problem in problems(args.quick, known.bruss_n):
        results[problem.name.split()[0]] = (problem.name,) + run(problem, args, agreement)
    print("\n## B6 the material's table next to ours (T_fd / T_ours, T_ours = our fastest exact gradient)")
    print("| problem | material | ours | our fastest |")
    print("|---|---:|---:|---|")
    for key, (name, best, ratio, _) in results.items():
        print(f"| {name} | {MATERIAL[key]:.1f}× | {ratio:.2f}× | {best} |")
    agreement.finish()
    for key, (name, best, ratio, _) in results.items():
        _timing.target(f"B6 {name}: ≥ {MATERIAL[key]}× faster than central differences",
                       ratio >= MATERIAL[key], f"{best} is {ratio:.2f}×")
    torch_lv = results["LV"][3]
    if torch_lv is not None:
        _timing.target(f"B6 LV: ≥ {TARGET_TORCH:g}× faster than torchdiffeq's odeint_adjoint",
                       torch_lv >= TARGET_TORCH, f"{torch_lv:.2f}×")
    print("SEED-TABLE " + " ".join(f"{key}={results[key][2]:.3g}" for key in ("LV", "BRUSS", "POLLU", "PKPD"))
          + f" TORCHDIFFEQ_LV={'nan' if torch_lv is None else format(torch_lv, '.3g')}")


if __name__ == "__main__":
    main()
