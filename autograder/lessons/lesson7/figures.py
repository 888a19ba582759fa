r"""Lesson 7's figures, widget and measurements.

:func:`lotka_volterra_widget` / :func:`plot_lotka_volterra` (orbits on the level sets of
the conserved quantity), :func:`convergence_orders` / :func:`plot_convergence_orders`
(Euler O(h), RK4 O(h⁴), dopri5 by tolerance), :func:`adjoint_trajectory` /
:func:`plot_adjoint_trajectory`, :func:`compare_gradients` / :func:`measure_gradient_memory` /
:func:`plot_gradient_comparison` (the adjoint against differentiating through the solver and
central differences), :func:`plot_fit` and :func:`plot_neural_ode` (the fits the student's own
training loop makes, Tasks 7.3 and 7.4).
"""
import math
import time

import numpy

from autodiff_ref import odeint as _odeint
from autodiff_ref import grad as _grad
from autodiff_ref.ode import Adjoint
from autograder.material import decay, fixed_steps, linear, lotka_volterra, rk4_solve, rk4_step
from autograder.widgets import one_blas_thread, peak_memory

from .checks import reference_dynamics
from .material import LV_TRUE, SPIRAL, mlp_field, np, reference_lv

_asarray, _array, _zeros, _stack, _log, _tanh = np.asarray, np.array, np.zeros, np.stack, np.log, np.tanh


BLUE, ORANGE, GREEN, RED, VIOLET, GREY = "#1971c2", "#e8590c", "#2b8a3e", "#c92a2a", "#5f3dc4", "#868e96"


def euler_solve(f, y0, ts, params, steps):
    """y at every time of `ts` by explicit Euler, y ← y + h·f(y, t), with `steps` equal steps per interval."""
    return fixed_steps(lambda field, y, t, h: y + h * _asarray(field(y, t)), f, y0, ts, params, steps)


def convergence_orders(T=2.0, k=1.0, lv_time=4.0):
    """Errors of Euler, RK4 (fixed steps) and dopri5 (tolerances) on decay (closed form) and on
    Lotka–Volterra (against scipy's DOP853 at 1e-13), with the number of f evaluations."""
    exact = math.exp(-k * T)
    out = {"decay": {}, "lv": {}}
    steps_list = [2 ** j for j in range(2, 12)]
    ts = _array([0.0, T])
    out["decay"]["h"] = [T / m for m in steps_list]
    out["decay"]["euler"] = [abs(float(euler_solve(decay, 1.0, ts, (k,), m)[-1]) - exact) for m in steps_list]
    out["decay"]["rk4"] = [abs(float(rk4_solve(decay, 1.0, ts, (k,), m)[-1]) - exact) for m in steps_list]
    theta, y0 = _array(LV_TRUE), _array([1.0, 1.0])
    tl = _array([0.0, lv_time])
    ref = reference_lv(theta, y0, tl)[-1]
    lv = out["lv"]
    lv["euler"] = [(m, float(np.max(np.abs(euler_solve(lotka_volterra, y0, tl, (theta,), m)[-1] - ref))))
                   for m in (2 ** j for j in range(6, 16, 1))]
    lv["rk4"] = [(4 * m, float(np.max(np.abs(rk4_solve(lotka_volterra, y0, tl, (theta,), m)[-1] - ref))))
                 for m in (2 ** j for j in range(4, 12))]
    lv["dopri5"] = []
    for tol in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12):
        ys, stats = _odeint(lotka_volterra, y0, tl, theta, rtol=tol, atol=tol, return_stats=True)
        lv["dopri5"].append((stats.evaluations, float(np.max(np.abs(ys[-1] - ref))), tol))
    return out


def plot_convergence_orders(result, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12.5, 4.5))
    ax, ax2 = axes
    d = result["decay"]
    h = _asarray(d["h"])
    ax.loglog(h, d["euler"], "o-", color=ORANGE, lw=2, label="Euler")
    ax.loglog(h, d["rk4"], "s-", color=BLUE, lw=2, label="RK4")
    ax.loglog(h, d["euler"][0] * (h / h[0]), ":", color=ORANGE, alpha=0.7, label="slope 1")
    ax.loglog(h, d["rk4"][0] * (h / h[0]) ** 4, ":", color=BLUE, alpha=0.7, label="slope 4")
    ax.axhline(2.2e-16 * math.exp(-2.0), color=GREY, lw=0.8, ls="--", label="rounding: machine ε × y(2)")
    ax.set_xlabel("step size h")
    ax.set_ylabel("error at T = 2")
    ax.set_title("dy/dt = −y: the error shrinks like h¹ (Euler) and h⁴ (RK4)", fontsize=10.5)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize=9, loc="lower right", bbox_to_anchor=(1.0, 0.06))
    lv = result["lv"]
    for key, color, marker, label in (("euler", ORANGE, "o", "Euler"), ("rk4", BLUE, "s", "RK4"),
                                      ("dopri5", GREEN, "^", "dopri5 (adaptive; tolerances 1e-3 … 1e-12)")):
        pts = _asarray([p[:2] for p in lv[key]])
        ax2.loglog(pts[:, 0], np.maximum(pts[:, 1], 1e-16), marker=marker, color=color, lw=2, label=label)
    ax2.set_xlabel("evaluations of f")
    ax2.set_ylabel("error at t = 4 (max over x, y)")
    ax2.set_title("Lotka–Volterra: accuracy for the work", fontsize=10.5)
    ax2.grid(True, which="major", alpha=0.25)
    ax2.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    return axes


# ---- Lotka–Volterra ------------------------------------------------------------------------
def conserved(theta, prey, predators):
    r"""V = d·x − c·ln x + b·y − a·ln y, constant along every Lotka–Volterra orbit."""
    a, b, c, d = theta
    return d * prey - c * _log(prey) + b * predators - a * _log(predators)


def plot_lotka_volterra(a=1.5, b=1.0, c=3.0, d=1.0, x0=1.0, y0=1.0, T=15.0, axes=None):
    """Populations against time, and the orbit in the phase plane with level sets of V."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12.5, 4.6), gridspec_kw={"width_ratios": [1.35, 1]})
    ax, ax2 = axes
    theta = (a, b, c, d)
    ts = np.linspace(0.0, T, 751)
    ys = _asarray(_odeint(lotka_volterra, _array([x0, y0]), ts, _array(theta), rtol=1e-9, atol=1e-11))
    ax.plot(ts, ys[:, 0], color=BLUE, lw=2, label="prey x(t)")
    ax.plot(ts, ys[:, 1], color=RED, lw=2, label="predators y(t)")
    ax.axhline(c / d, color=BLUE, lw=0.8, ls=":")
    ax.axhline(a / b, color=RED, lw=0.8, ls=":")
    ax.set_xlabel("time t")
    ax.set_ylabel("population")
    ax.set_xlim(0, T)
    ax.set_ylim(0, 1.25 * float(np.max(ys)))      # room for the legend above the peaks
    ax.grid(alpha=0.25)
    ax.legend(fontsize=9, loc="upper center", ncol=2)
    V = conserved(theta, ys[:, 0], ys[:, 1])
    drift = float(np.max(np.abs(V - V[0])))
    ax.set_title(f"a = {a:g}, b = {b:g}, c = {c:g}, d = {d:g}; dotted: equilibrium x = c/d, y = a/b",
                 fontsize=10.5)
    top_x = max(2.5 * c / d, 1.15 * float(np.max(ys[:, 0])))
    top_y = max(2.5 * a / b, 1.15 * float(np.max(ys[:, 1])))
    gx, gy = np.linspace(top_x / 200, top_x, 200), np.linspace(top_y / 200, top_y, 200)
    X, Y = np.meshgrid(gx, gy)
    levels = np.quantile(conserved(theta, X, Y), np.linspace(0.02, 0.6, 12))
    ax2.contour(X, Y, conserved(theta, X, Y), levels=np.unique(levels), colors=GREY, linewidths=0.6, alpha=0.6)
    qx, qy = np.meshgrid(np.linspace(top_x / 12, top_x, 11), np.linspace(top_y / 12, top_y, 11))
    u, v = a * qx - b * qx * qy, -c * qy + d * qx * qy
    speed = np.sqrt(u * u + v * v) + 1e-12
    ax2.quiver(qx, qy, u / speed, v / speed, color=GREY, alpha=0.45, width=0.003, scale=30)
    ax2.plot(ys[:, 0], ys[:, 1], color=VIOLET, lw=2.2, label="orbit from (x₀, y₀)")
    ax2.plot([x0], [y0], "s", color="black", ms=6, label="start")
    ax2.plot([c / d], [a / b], "*", color="gold", mec="black", ms=13, label="equilibrium (c/d, a/b)")
    ax2.set_xlim(0, top_x)
    ax2.set_ylim(0, top_y)
    ax2.set_xlabel("prey x")
    ax2.set_ylabel("predators y")
    ax2.set_title(f"phase plane; V = dx − c ln x + by − a ln y varies by {drift:.0e}", fontsize=10.5)
    ax2.legend(fontsize=8.5, loc="upper right")
    return axes


def lotka_volterra_widget():
    """Sliders for a, b, c, d and the starting populations."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(a, b, c, d, x0, y0):
        plot_lotka_volterra(a, b, c, d, x0, y0)
        plt.tight_layout()
        plt.show()

    style = {"description_width": "initial"}

    def slider(value, lo, hi, label):
        return widgets.FloatSlider(value=value, min=lo, max=hi, step=0.05, description=label,
                                   continuous_update=False, style=style)
    controls = dict(a=slider(1.5, 0.2, 3.0, "a (prey growth)"), b=slider(1.0, 0.2, 3.0, "b (predation)"),
                    c=slider(3.0, 0.2, 4.0, "c (predator death)"), d=slider(1.0, 0.2, 3.0, "d (predator growth)"),
                    x0=slider(1.0, 0.1, 5.0, "x₀ (prey)"), y0=slider(1.0, 0.1, 5.0, "y₀ (predators)"))
    out = widgets.interactive_output(draw, controls)
    ui = widgets.VBox([widgets.HBox([controls["a"], controls["b"], controls["x0"]]),
                       widgets.HBox([controls["c"], controls["d"], controls["y0"]])])
    return widgets.VBox([ui, out])


# ---- the adjoint, drawn ----------------------------------------------------------------------
def adjoint_trajectory(f, ts, params, y0, ybars, steps):
    """The backward solve of the adjoint method, step by step: times, y(t) recomputed
    backwards, a(t) (with its jumps) — for a figure. Uses the reference dynamics."""
    step = float(ts[1] - ts[0]) / steps
    ys = _asarray(_odeint(f, _asarray(y0, float), ts, *params, method="rk4", step=step))

    def field(state, t):
        return reference_dynamics(f, state, t, params)
    times, states, a = [], [], _asarray(ybars[-1], dtype=float)
    a_params = tuple(_zeros(np.shape(p)) for p in params)
    for i in range(len(ts) - 1, 0, -1):
        h = (ts[i - 1] - ts[i]) / steps
        state = Adjoint(ys[i], a, a_params)
        times.append(ts[i])
        states.append(state)
        for j in range(steps):
            state = rk4_step(field, state, ts[i] + j * h, h)
            times.append(ts[i] + (j + 1) * h)
            states.append(state)
        a, a_params = state.a + ybars[i - 1], state.a_params
    times.append(ts[0])
    states.append(Adjoint(ys[0], a, a_params))
    return dict(t=_asarray(times), y=_stack([s.y for s in states]), a=_stack([s.a for s in states]),
                a_params=_stack([np.concatenate([np.ravel(c) for c in s.a_params]) for s in states]),
                ts=ts, ys=ys, ybars=_asarray(ybars), f=f, params=params)


def plot_adjoint_trajectory(tr, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(3, 1, figsize=(10, 7.4), sharex=True,
                               gridspec_kw={"height_ratios": [1, 1.2, 1.2]})
    ax, ax2, ax3 = axes
    fine = np.linspace(tr["ts"][0], tr["ts"][-1], 400)
    forward = _asarray(_odeint(tr["f"], tr["ys"][0], fine, *tr["params"], rtol=1e-9, atol=1e-11))
    ax.plot(fine, forward[:, 0], color=BLUE, lw=1.2, alpha=0.5)
    ax.plot(fine, forward[:, 1], color=RED, lw=1.2, alpha=0.5)
    ax.plot(tr["t"], tr["y"][:, 0], "--", color=BLUE, lw=2, label="prey, recomputed backwards")
    ax.plot(tr["t"], tr["y"][:, 1], "--", color=RED, lw=2, label="predators, recomputed backwards")
    ax.plot(tr["ts"], tr["ys"][:, 0], "o", color=BLUE, ms=6)
    ax.plot(tr["ts"], tr["ys"][:, 1], "o", color=RED, ms=6)
    ax.set_ylabel("y(t)")
    # legends beside the panels, never on the curves (which fill every corner here)
    beside = dict(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.legend(**beside)
    ax.set_title("the backward solve, right to left: y recomputed through the observations (dots);\n"
                 "a jumps by ∂L/∂y(tᵢ) at each", fontsize=10.5)
    ax2.plot(tr["t"], tr["a"][:, 0], color=BLUE, lw=2, label="a₁ = ∂L/∂x(t)")
    ax2.plot(tr["t"], tr["a"][:, 1], color=RED, lw=2, label="a₂ = ∂L/∂y(t)")
    for t in tr["ts"]:
        for a in (ax, ax2, ax3):
            a.axvline(t, color=GREY, lw=0.6, ls=":")
    ax2.set_ylabel("adjoint a(t)")
    ax2.legend(**beside)
    names = ["a", "b", "c", "d"]
    colors = [GREEN, ORANGE, VIOLET, GREY]
    for j in range(tr["a_params"].shape[1]):
        ax3.plot(tr["t"], tr["a_params"][:, j], color=colors[j % 4], lw=2, label=f"a_θ for {names[j % 4]}")
    ax3.set_ylabel("parameter adjoint")
    ax3.set_xlabel("time t  (the backward solve runs from right to left)")
    ax3.legend(**beside)
    for a in (ax, ax2, ax3):
        a.grid(alpha=0.2)
    return axes


# ---- adjoint vs through the solver vs finite differences --------------------------------------
def _lv_loss(y0, theta, ts, tol, adjoint=True):
    return np.sum(_odeint(lotka_volterra, y0, ts, theta, rtol=tol, atol=tol, adjoint=adjoint) ** 2)


def _lv_problem(T, observations):
    ts = np.linspace(0.0, T, observations)
    point = np.concatenate([_array([1.0, 1.0]), _array(LV_TRUE)])

    def loss_of(v, tol, adjoint=True):
        return _lv_loss(v[:2], v[2:], ts, tol, adjoint)
    return ts, point, loss_of


def _gradient_methods(loss_of, point, tol, fd_step):
    from autodiff_ref import grad
    return {
        "adjoint": lambda: _asarray(grad(lambda v: loss_of(v, tol))(point)),
        "through the solver": lambda: _asarray(grad(lambda v: loss_of(v, tol, adjoint=False))(point)),
        "central differences": lambda: _asarray([
            (float(loss_of(point + fd_step * e, tol)) - float(loss_of(point - fd_step * e, tol))) / (2 * fd_step)
            for e in numpy.eye(len(point))]),
    }


def lv_sensitivity_gradient(point, ts, tol=1e-12):
    r"""∂L/∂(x₀, y₀, a, b, c, d) of L = Σᵢ‖y(tᵢ)‖² by forward sensitivities with scipy's DOP853:
    the 2×6 sensitivity S = ∂y/∂(y₀, θ) obeys Ṡ = (∂f/∂y) S + [0 | ∂f/∂θ], S(0) = [I | 0], with
    the Jacobians written by hand — an oracle that shares no code with autodiff_ref."""
    from scipy.integrate import solve_ivp
    a, b, c, d = point[2:]

    def field(t, state):
        x, y = state[0], state[1]
        S = state[2:].reshape(2, 6)
        Jy = numpy.array([[a - b * y, -b * x], [d * y, -c + d * x]])
        Jtheta = numpy.array([[0, 0, x, -x * y, 0, 0], [0, 0, 0, 0, -y, x * y]])
        return numpy.concatenate([[a * x - b * x * y, -c * y + d * x * y], (Jy @ S + Jtheta).ravel()])
    start = numpy.concatenate([point[:2], numpy.eye(2, 6).ravel()])
    out = solve_ivp(field, (ts[0], ts[-1]), start, t_eval=ts, method="DOP853", rtol=tol, atol=tol).y.T
    ys, S = out[:, :2], out[:, 2:].reshape(-1, 2, 6)
    return numpy.einsum("ti,tij->j", 2 * ys, S)


def compare_gradients(tols=(1e-4, 1e-6, 1e-8, 1e-10), T=10.0, observations=20, fd_step=1e-5):
    """∂L/∂(x₀, y₀, a, b, c, d) of L = Σᵢ‖y(tᵢ)‖² (Lotka–Volterra, θ = (1.5, 1, 3, 1), y₀ = (1, 1))
    three ways at each tolerance: the adjoint method, reverse mode through the solver's steps,
    central differences (12 solves, step `fd_step`). Relative errors against scipy's forward
    sensitivities at rtol = atol = 1e-12 (:func:`lv_sensitivity_gradient`), and the seconds one
    gradient took (a single run: on a busy machine expect some noise)."""
    ts, point, loss_of = _lv_problem(T, observations)
    reference = lv_sensitivity_gradient(point, ts)
    rows = []
    with one_blas_thread():
        for tol in tols:
            steps = _odeint(lotka_volterra, point[:2], ts, point[2:], rtol=tol, atol=tol,
                            return_stats=True)[1].steps
            row = dict(tol=tol, steps=steps)
            for name, fn in _gradient_methods(loss_of, point, tol, fd_step).items():
                t0 = time.perf_counter()
                value = fn()
                seconds = time.perf_counter() - t0
                row[name] = dict(error=float(np.max(np.abs(value - reference)) / np.max(np.abs(reference))),
                                 seconds=seconds, gradient=value)
            rows.append(row)
    return dict(rows=rows, reference=reference, ts=ts)


def measure_gradient_memory(tols=(1e-3, 1e-4, 1e-5), T=10.0, observations=20, fd_step=1e-5):
    """tracemalloc's peak during one gradient, for each method and tolerance (and the step count).
    Central differences keep nothing between their plain solves, so their peak is measured at
    the first tolerance only (tracemalloc slows every allocation down several times)."""
    ts, point, loss_of = _lv_problem(T, observations)
    rows = []
    for k, tol in enumerate(tols):
        steps = _odeint(lotka_volterra, point[:2], ts, point[2:], rtol=tol, atol=tol,
                        return_stats=True)[1].steps
        row = dict(tol=tol, steps=steps)
        for name, fn in _gradient_methods(loss_of, point, tol, fd_step).items():
            if name == "central differences" and k > 0:
                row[name] = rows[0][name]
            else:
                row[name] = peak_memory(fn)[1]
        rows.append(row)
    return rows


def plot_gradient_comparison(result, memory, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    rows = result["rows"]
    tols = [r["tol"] for r in rows]
    styles = (("adjoint", BLUE, "o"), ("through the solver", RED, "s"), ("central differences", ORANGE, "^"))
    for name, color, marker in styles:
        axes[0].loglog(tols, [max(r[name]["error"], 1e-16) for r in rows], marker=marker, color=color, lw=2,
                       label=name)
        axes[1].plot([r["steps"] for r in rows], [r[name]["seconds"] * 1e3 for r in rows], marker=marker,
                     color=color, lw=2, label=name)
        axes[2].semilogy([r["steps"] for r in memory], [r[name] / 1024 for r in memory], marker=marker,
                         color=color, lw=2, label=name)
    axes[0].invert_xaxis()
    axes[0].set_xlabel("solver tolerance (rtol = atol)")
    axes[0].set_ylabel("relative error of the gradient")
    axes[0].set_title("accuracy", fontsize=10.5)
    axes[1].set_xlabel("steps of the forward solve")
    axes[1].set_ylabel("time of one gradient (ms)")
    axes[1].set_title("time (one run each)", fontsize=10.5)
    axes[1].set_ylim(bottom=0)
    axes[2].set_xlabel("steps of the forward solve")
    axes[2].set_ylabel("peak memory (KiB, tracemalloc)")
    axes[2].set_title("memory", fontsize=10.5)
    for ax in axes:
        ax.grid(True, which="major", alpha=0.25)
    axes[0].legend(fontsize=8.5)
    plt.suptitle("∂L/∂(x₀, y₀, a, b, c, d) of L = Σ‖y(tᵢ)‖² over 20 times on [0, 10], Lotka–Volterra",
                 fontsize=11.5)
    return axes


# ---- fitting Lotka–Volterra to noisy data -------------------------------------------------------
def plot_fit(ts, data, clean, thetas, losses, final, lr, momentum, axes=None):
    """The Lotka–Volterra fit: the losses before each step, θ at every step (`thetas`, one row
    per step and the fitted θ last), and the trajectories of the first and last θ against the data
    (its first row, at t = 0, is not part of the loss: the start (1, 1) is given)."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(15, 4.3), gridspec_kw={"width_ratios": [1, 1, 1.45]})
    ax, ax1, ax2 = axes
    thetas = _asarray(thetas, dtype=float)
    noise_floor = float(np.mean((data[1:] - clean[1:]) ** 2))
    k = np.arange(len(losses))
    ax.semilogy(k, losses, color=BLUE, lw=2, label=f"gradient descent on log θ, step {lr:g}, momentum {momentum:g}")
    ax.axhline(noise_floor, color=GREY, ls="--", lw=1, label=f"noise level, mean (data − truth)² = {noise_floor:.4f}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss: mean squared misfit")
    ax.set_title(f"loss: {losses[0]:.3f} → {final:.4f}", fontsize=10.5)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    colors = [GREEN, ORANGE, VIOLET, GREY]
    for j, name in enumerate("abcd"):
        ax1.plot(np.arange(len(thetas)), thetas[:, j] / LV_TRUE[j], color=colors[j], lw=2,
                 label=f"{name} / {LV_TRUE[j]:g}")
    ax1.axhline(1.0, color="black", lw=0.8)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("parameter / true value")
    ax1.set_title("the parameters", fontsize=10.5)
    ax1.grid(alpha=0.25)
    ax1.legend(fontsize=8.5, ncol=2)
    fine = np.linspace(ts[0], ts[-1], 300)
    y0 = _array([1.0, 1.0])
    for theta, style, label in ((thetas[0], dict(ls=":", lw=1.6), "initial guess"),
                                (thetas[-1], dict(ls="-", lw=2.2), "fitted"),
                                (_array(LV_TRUE), dict(ls="--", lw=1.2, alpha=0.8), "truth")):
        ys = _asarray(_odeint(lotka_volterra, y0, fine, _array(theta), rtol=1e-8, atol=1e-10))
        ax2.plot(fine, ys[:, 0], color=BLUE, **style)
        ax2.plot(fine, ys[:, 1], color=RED, **style)
        ax2.plot([], [], color="black", **style, label=label)
    ax2.plot(ts, data[:, 0], "o", color=BLUE, ms=5, label="data: prey")
    ax2.plot(ts, data[:, 1], "o", color=RED, ms=5, label="data: predators")
    ax2.set_title("fitted θ = (" + ", ".join(f"{v:.3f}" for v in thetas[-1]) + "); true (1.5, 1, 3, 1)",
                  fontsize=10.5)
    ax2.set_xlabel("time t")
    ax2.set_ylabel("population")
    ax2.grid(alpha=0.2)
    ax2.legend(fontsize=8, ncol=2, loc="upper right")
    return axes


# ---- a small neural ODE -------------------------------------------------------------------------
def plot_neural_ode(ts, y0, data, initial, trained, losses, final, axes=None):
    """The neural ODE's training: the losses before each step (and `final` after the last), the
    learned field, and the trajectories of the `initial` and `trained` networks against `data`
    (the spiral at every time of `ts`, the start included)."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12.5, 4.8), gridspec_kw={"width_ratios": [1, 1.25]})
    ax, ax2 = axes
    ax.semilogy(np.arange(len(losses) + 1), list(losses) + [final], color=BLUE, lw=2)
    ax.set_xlabel("gradient step (momentum)")
    ax.set_ylabel("mean squared misfit")
    ax.set_title(f"training: {losses[0]:.2f} → {final:.4f}", fontsize=10.5)
    ax.grid(True, which="major", alpha=0.25)
    lim = 2.6
    g = np.linspace(-lim, lim, 15)
    X, Y = np.meshgrid(g, g)
    pts = _stack([X.ravel(), Y.ravel()])
    W1, b1, W2, b2 = trained
    learned = W2 @ _tanh(W1 @ pts + b1[:, None]) + b2[:, None]
    ax2.quiver(X, Y, learned[0].reshape(X.shape), learned[1].reshape(X.shape), color=VIOLET, alpha=0.45,
               width=0.003, label="learned field f(y)")
    fine = np.linspace(ts[0], 2 * ts[-1], 300)
    true = _asarray(_odeint(linear, y0, fine, SPIRAL, rtol=1e-9, atol=1e-11))
    ax2.plot(true[:, 0], true[:, 1], "--", color=GREY, lw=1.4, label="true spiral (to twice the data's time)")
    for params, color, label in ((initial, ORANGE, "untrained network"), (trained, BLUE, "trained network")):
        ys = _asarray(_odeint(mlp_field, y0, fine, *params, method="rk4", step=0.05))
        inside = np.all(np.abs(ys) < 2 * lim, axis=1)
        ax2.plot(ys[inside, 0], ys[inside, 1], color=color, lw=2, label=label)
    ax2.plot(data[:, 0], data[:, 1], "o", color="black", ms=5, label="training data (t ≤ 3)")
    ax2.set_xlim(-lim, lim)
    ax2.set_ylim(-lim, lim)
    ax2.set_aspect("equal")
    ax2.set_title("phase plane: the neural ODE's field and trajectory", fontsize=10.5)
    ax2.set_xlabel("y₁")
    ax2.set_ylabel("y₂")
    ax2.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return axes


# ---------------------------------------------------------------------------
# Why the backsolve adjoint fails on a stiff problem
# ---------------------------------------------------------------------------
def relaxation(y, t, lam):
    r"""Forced relaxation :math:`\dot y = -\lambda (y - \cos t)`: y is pulled towards cos t
    at rate λ; for large λ the problem is stiff (one mode decays like :math:`e^{-\lambda t}`)."""
    return -lam * (y - numpy.cos(t))


def relaxation_solution(lam, t):
    r""":math:`y(t) = \frac{\lambda}{\lambda^2 + 1}(\lambda \cos t + \sin t)
    - \frac{\lambda^2}{\lambda^2 + 1} e^{-\lambda t}` for y(0) = 0."""
    return lam / (lam * lam + 1) * (lam * numpy.cos(t) + numpy.sin(t)) - lam * lam / (lam * lam + 1) * numpy.exp(-lam * t)


def stiff_adjoint_errors(lambdas=(10.0, 50.0, 100.0, 200.0, 400.0, 1000.0), T=2.0):
    r"""Relative error of ∂y(T)/∂λ by each reverse mode of odeint (dopri5, default tolerances)
    against the closed form (differentiated by a complex step: exact to rounding).

    Rows: (λ, error of the backsolve adjoint or None when its backward solve blew up,
    error of the checkpointed adjoint)."""
    ts = _array([0.0, T])
    rows = []
    for lam in lambdas:
        exact = float(numpy.imag(relaxation_solution(complex(lam, 1e-30), T)) / 1e-30)
        errors = []
        for adjoint in ("backsolve", "checkpoint"):
            try:
                with numpy.errstate(all="ignore"):   # a blow-up overflows on its way
                    g = _grad(lambda lam: _odeint(relaxation, 0.0, ts, lam, adjoint=adjoint)[-1])(lam)
                errors.append(abs(float(g) - exact) / abs(exact))
            except Exception:   # the backward solve blew up (autodiff_ref says so in its error)
                errors.append(None)
        rows.append((lam, *errors))
    return rows


def plot_stiff_adjoints(rows, ax=None):
    """Relative error of the two adjoints against λ; a blow-up is drawn at the top as ✗."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 3.6), layout="constrained")
    lams = [r[0] for r in rows]
    top = 1.0
    back = [r[1] if r[1] is not None else numpy.nan for r in rows]
    ax.loglog(lams, back, "o-", color="C3", label="backsolve: y re-integrated backwards")
    blown = [lam for lam, b, _ in rows if b is None]
    ax.plot(blown, [top] * len(blown), "x", color="C3", markersize=10, label="backsolve blew up")
    ax.loglog(lams, [r[2] for r in rows], "s-", color="C0", label="checkpoint: y read from the forward solve")
    ax.set_xlabel("stiffness λ")
    ax.set_ylabel("relative error of ∂y(2)/∂λ")
    ax.set_title("Reverse mode through a stiff ODE")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)   # beside the axes: covers no data
    return ax
