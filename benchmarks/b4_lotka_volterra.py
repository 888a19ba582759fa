r"""B4 — the gradient of an ODE loss: Lotka–Volterra, six inputs.

ẋ = a x − b x y, ẏ = −c y + d x y with (a, b, c, d) = (1.5, 1, 3, 1) and
(x, y)(0) = (1, 1), observed at 100 equally spaced times on [0, 10];
L = Σᵢ ‖(x, y)(tᵢ)‖². We time ∂L/∂(x₀, y₀, a, b, c, d), every solver at
rtol = atol = 1e-10 (dopri5 / scipy's RK45), for

* ``central differences`` — 12 scipy ``solve_ivp`` solves, step 1e-4;
* ``scipy forward sensitivities`` — one ``solve_ivp`` of the 14-dimensional
  system (y, ∂y/∂(y₀, θ)) with the Jacobians written by hand;
* ``autodiff_ref adjoint`` — ``grad`` through ``odeint(adjoint=True)``: the
  adjoint method, one VJP of the field per stage of the backward solve;
* ``autodiff_ref forward sensitivities`` — ``jacfwd`` through ``odeint``: one
  JVP with all 6 directions per stage;
* ``autodiff_ref through the solver`` — ``grad`` with ``adjoint=False``.

* ``torchdiffeq odeint_adjoint`` — the vector field a ``torch.nn.Module``
  holding (a, b, c, d), float64, dopri5 at the same rtol/atol both ways,
  ``backward()`` for the gradient with respect to the parameters and y0
  (skipped, with a note, when torchdiffeq is not installed).

All gradients are compared with scipy's forward sensitivities (rtol 1e-6).
Targets: our gradient ≥ 5.6× faster than central differences at equal
tolerance and ≥ 20× faster than torchdiffeq's adjoint.
The script ends with a breakdown of where our adjoint spends its time.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402  (first: it fixes the BLAS thread count before numpy loads)

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from autodiff_ref import grad, jacfwd, vjp, odeint  # noqa: E402

PARAMS = np.array([1.5, 1.0, 3.0, 1.0])
Y0 = np.array([1.0, 1.0])
TOL = 1e-10
FD_STEP = 1e-4
TARGET = 5.6
TARGET_TORCH = 20.0


def lotka_volterra(y, t, a, b, c, d):
    prey, predator = y[0], y[1]
    return np.stack([a * prey - b * prey * predator, -c * predator + d * prey * predator])


def scipy_loss(inputs, times):
    a, b, c, d = inputs[2:]
    field = lambda t, y: np.array([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])  # noqa: E731
    ys = solve_ivp(field, (times[0], times[-1]), inputs[:2], t_eval=times, rtol=TOL, atol=TOL).y
    return np.sum(ys ** 2)


def central_differences(inputs, times):
    out = np.empty(6)
    for i in range(6):
        e = np.zeros(6)
        e[i] = FD_STEP
        out[i] = (scipy_loss(inputs + e, times) - scipy_loss(inputs - e, times)) / (2 * FD_STEP)
    return out


def scipy_forward_sensitivities(inputs, times):
    """(y, S) with Ṡ = J_y S + [0 | J_θ], S(0) = [I | 0]: the Jacobians by hand."""
    a, b, c, d = inputs[2:]

    def field(t, state):
        x, y = state[0], state[1]
        S = state[2:].reshape(2, 6)
        Jy = np.array([[a - b * y, -b * x], [d * y, -c + d * x]])
        Jth = np.array([[0, 0, x, -x * y, 0, 0], [0, 0, 0, 0, -y, x * y]])
        return np.concatenate([[a * x - b * x * y, -c * y + d * x * y], (Jy @ S + Jth).ravel()])
    start = np.concatenate([inputs[:2], np.eye(2, 6).ravel()])
    sol = solve_ivp(field, (times[0], times[-1]), start, t_eval=times, rtol=TOL, atol=TOL).y
    ys, S = sol[:2], sol[2:].reshape(2, 6, -1)
    return np.einsum("it,ijt->j", 2 * ys, S)


def our_loss(inputs, times, adjoint=True):
    ys = odeint(lotka_volterra, inputs[:2], times, inputs[2], inputs[3], inputs[4], inputs[5],
                rtol=TOL, atol=TOL, adjoint=adjoint)
    return np.sum(ys ** 2)


def ours_adjoint(inputs, times):
    return grad(our_loss)(inputs, times)


def ours_forward(inputs, times):
    return jacfwd(our_loss)(inputs, times)


def ours_through(inputs, times):
    return grad(lambda v: our_loss(v, times, adjoint=False))(inputs)


def torchdiffeq_adjoint():
    """A gradient function by torchdiffeq's odeint_adjoint, or None without torchdiffeq."""
    try:
        import torch
        from torchdiffeq import odeint_adjoint
    except ImportError:
        return None

    class LotkaVolterra(torch.nn.Module):
        def __init__(self, params):
            super().__init__()
            self.theta = torch.nn.Parameter(torch.tensor(params, dtype=torch.float64))

        def forward(self, t, y):
            a, b, c, d = self.theta
            prey, predator = y[0], y[1]
            return torch.stack([a * prey - b * prey * predator, -c * predator + d * prey * predator])

    def gradient(inputs, times):
        field = LotkaVolterra(inputs[2:])
        y0 = torch.tensor(inputs[:2], dtype=torch.float64, requires_grad=True)
        t = torch.tensor(times, dtype=torch.float64)
        ys = odeint_adjoint(field, y0, t, rtol=TOL, atol=TOL, method="dopri5")
        torch.sum(ys ** 2).backward()
        return np.concatenate([y0.grad.numpy(), field.theta.grad.numpy()])
    return gradient


def breakdown(times):
    """Where the adjoint's time goes: forward solve, backward solve, one VJP of f vs one call of f."""
    inputs = np.concatenate([Y0, PARAMS])
    _, stats = odeint(lotka_volterra, Y0, times, *PARAMS, rtol=TOL, atol=TOL, return_stats=True)
    start = time.perf_counter()
    for _ in range(3):
        odeint(lotka_volterra, Y0, times, *PARAMS, rtol=TOL, atol=TOL)
    forward = (time.perf_counter() - start) / 3
    def loss(v):
        return our_loss(v, times)
    start = time.perf_counter()
    ours_adjoint(inputs, times)
    total = time.perf_counter() - start
    backward = _last_adjoint_stats(loss, inputs)
    y, reps = Y0 + 0.1, 2000
    start = time.perf_counter()
    for _ in range(reps):
        lotka_volterra(y, 0.5, *PARAMS)
    plain = (time.perf_counter() - start) / reps
    start = time.perf_counter()
    for _ in range(reps):
        value, pullback = vjp(lambda y, *p: lotka_volterra(y, 0.5, *p), y, *PARAMS)
        pullback(y)
    one_vjp = (time.perf_counter() - start) / reps
    from autodiff_ref.ode import _RecordedField
    recorded = _RecordedField(lotka_volterra)
    recorded.vjp(Y0, 0.5, PARAMS)  # the one recording
    start = time.perf_counter()
    for _ in range(reps):
        value, pullback = recorded.vjp(y, 0.5, PARAMS)
        pullback(y)
    replayed = (time.perf_counter() - start) / reps
    print("\n## B4 breakdown of autodiff_ref adjoint (one run)")
    print(f"  forward solve: {1e3 * forward:.1f} ms, {stats.steps} steps, {stats.evaluations} calls of f")
    print(f"  backward (adjoint) solve: {1e3 * (total - forward):.1f} ms, {backward.steps} steps, "
          f"{backward.evaluations} VJPs of f (the augmented system needs more steps)")
    print(f"  one call of f on plain numpy: {1e6 * plain:.1f} µs; one VJP of f (tape + sweep): "
          f"{1e6 * one_vjp:.1f} µs ({one_vjp / plain:.0f}×)")
    print(f"  one VJP of f as the adjoint does it (replay the recorded tape + sweep + check with a "
          f"plain call): {1e6 * replayed:.1f} µs ({replayed / plain:.0f}×)")
    print(f"  ⇒ {backward.evaluations} VJPs × {1e6 * replayed:.0f} µs ≈ {1e3 * backward.evaluations * replayed:.0f} ms: "
          "the VJPs of f are most of the backward solve")


def _last_adjoint_stats(loss, inputs):
    """ODEStats of the adjoint solve of one gradient (read from the odeint primitive's settings)."""
    from autodiff_ref import ode
    seen = []
    original = ode._odeint_cotangents

    def spy(ybar, ys, y0, t, params, problem):
        out = original(ybar, ys, y0, t, params, problem)
        seen.append(problem.adjoint_stats)
        return out
    ode._odeint_cotangents = spy
    try:
        grad(loss)(inputs)
    finally:
        ode._odeint_cotangents = original
    return seen[-1]


def main(argv=None):
    args = _timing.parse_args(__doc__.splitlines()[0], argv, default_repeats=5)
    times = np.linspace(0, 2 if args.quick else 10, 10 if args.quick else 100)
    inputs = np.concatenate([Y0, PARAMS])
    runs = {
        "central differences (12 scipy solves)": lambda: central_differences(inputs, times),
        "scipy forward sensitivities": lambda: scipy_forward_sensitivities(inputs, times),
        "autodiff_ref adjoint": lambda: ours_adjoint(inputs, times),
        "autodiff_ref forward sensitivities": lambda: ours_forward(inputs, times),
        "autodiff_ref through the solver": lambda: ours_through(inputs, times),
    }
    torch_gradient = torchdiffeq_adjoint()
    if torch_gradient is not None:
        runs["torchdiffeq odeint_adjoint"] = lambda: torch_gradient(inputs, times)
    else:
        print("torchdiffeq is not installed: its odeint_adjoint is not a peer in this run")
    agreement = _timing.Agreement()
    expected = scipy_forward_sensitivities(inputs, times)
    for name, fn in runs.items():
        if name != "scipy forward sensitivities":
            agreement.check(f"{name}: ∂L/∂(y0, θ)", fn(), expected, rtol=1e-6)

    repeats = dict.fromkeys(runs, args.repeats)
    repeats["autodiff_ref through the solver"] = max(1, args.repeats // 2)
    if torch_gradient is not None:
        repeats["torchdiffeq odeint_adjoint"] = max(1, args.repeats // 2)
    timings = _timing.measure(runs, repeats=repeats, warmup=1)
    _timing.print_table(f"B4 Lotka–Volterra on [0, {times[-1]:g}], {len(times)} observations, "
                        f"∂L/∂(y0, a, b, c, d), rtol = atol = {TOL:g} ({_timing.machine_summary()})",
                        timings, reference="central differences (12 scipy solves)", unit="ms")
    breakdown(times)
    agreement.finish()
    best = min((n for n in runs if n.startswith("autodiff_ref")), key=lambda n: timings[n].median)
    speedup = timings["central differences (12 scipy solves)"].median / timings[best].median
    quick = " (--quick: sizes too small to judge)" if args.quick else ""
    _timing.target(f"B4 our gradient ≥ {TARGET:g}× faster than central differences", speedup >= TARGET,
                   f"{best} is {speedup:.2f}× faster" + quick)
    if torch_gradient is not None:
        versus = timings["torchdiffeq odeint_adjoint"].median / timings[best].median
        _timing.target(f"B4 our gradient ≥ {TARGET_TORCH:g}× faster than torchdiffeq's odeint_adjoint",
                       versus >= TARGET_TORCH, f"{best} is {versus:.2f}× faster" + quick)


if __name__ == "__main__":
    main()
