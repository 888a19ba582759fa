r"""Lesson 8's figures and widgets: gradient descent on 2-D losses (the step size against
2/λ_max), forward against reverse mode, vanishing and exploding RNN gradients, two
moons, and our training loop next to PyTorch's.
"""
from autodiff_ref import grad
from autograder.checks import Named

from .material import (AdamState, bce_differentiable, gradient_descent_reference, last_state_grad,
                       mlp_logits_reference, np, quadratic_bowl, rnn_problem, rnn_states_reference,
                       sigmoid)

_COLORS = {"ours": "#1f77b4", "torch": "#ee4c2c", "forward": "#2ca02c", "reverse": "#1f77b4",
           "gradient descent": "#ff7f0e", "momentum": "#2ca02c", "Adam": "#9467bd"}


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _logistic_2d_problem():
    """Logistic regression with two parameters (w, b) on 1-D data centred away from 0.

    Returns (f, ∇f, grid) where grid(W, B) evaluates f on arrays of w and b at once.
    """
    rng = np.random.default_rng(8)
    x = rng.normal(1.0, 1.0, size=80)
    y = (rng.random(80) < sigmoid(2.0 * (x - 1.0))).astype(float)

    def f(theta):
        return bce_differentiable(theta[0] * x + theta[1], y)

    def grid(W, B):
        z = W[..., None] * x + B[..., None]
        return np.mean(np.logaddexp(0.0, z) - y * z, axis=-1)
    return f, Named("∇ of the 2-parameter logistic loss", grad(f)), grid


def _newton_minimum(f, grad_f, theta, iterations=30):
    from autodiff_ref import hessian
    H = hessian(f)
    for _ in range(iterations):
        theta = theta - np.linalg.solve(H(theta), grad_f(theta))
    return theta, np.linalg.eigvalsh(H(theta))


def _descent_problems():
    f_q, g_q, A, c = quadratic_bowl()

    def bowl_grid(W, B):
        dx, dy = W - c[0], B - c[1]
        return 0.5 * (A[0, 0] * dx * dx + 2 * A[0, 1] * dx * dy + A[1, 1] * dy * dy)
    f_l, g_l, logistic_grid = _logistic_2d_problem()
    theta_min, lam = _newton_minimum(f_l, g_l, np.zeros(2))
    return {
        "quadratic bowl": dict(f=f_q, grad=g_q, grid=bowl_grid, start=np.array([-1.5, 2.2]), minimum=c,
                               lam=np.linalg.eigvalsh(A), box=(-2.5, 3.0, -1.0, 3.0), labels=("θ₁", "θ₂")),
        "logistic loss (w, b)": dict(f=f_l, grad=g_l, grid=logistic_grid, start=np.array([-1.0, 2.0]),
                                     minimum=theta_min, lam=lam, box=(-1.5, 4.5, -5.5, 3.0),
                                     labels=("w", "b")),
    }


_DESCENT = {}


def descent_problems():
    """The two 2-D losses of the step-size widget (computed once)."""
    if not _DESCENT:
        _DESCENT.update(_descent_problems())
    return _DESCENT


def show_descent(problem="quadratic bowl", lr=0.1, steps=40, descent=None):
    """Contours with the gradient-descent path (left) and f(θ_k) − f* per step (right)."""
    plt = _plt()
    P = descent_problems()[problem]
    descent = descent or gradient_descent_reference
    with np.errstate(all="ignore"):
        path = np.asarray(descent(P["grad"], P["start"], lr, steps), dtype=float)
        f_min = P["f"](P["minimum"])
        gaps = np.array([P["f"](th) if np.all(np.isfinite(th)) else np.inf for th in path]) - f_min
    x0, x1, y0, y1 = P["box"]
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    F = P["grid"](gx, gy) - f_min
    lam_min, lam_max = float(P["lam"][0]), float(P["lam"][-1])
    limit, best = 2 / lam_max, 2 / (lam_min + lam_max)

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [1.15, 1]})
    levels = np.geomspace(max(F.min(), 1e-4), F.max(), 16)
    ax.contourf(gx, gy, F, levels=levels, cmap="Blues_r", norm=_lognorm(levels), alpha=0.9, extend="both")
    ax.contour(gx, gy, F, levels=levels, colors="white", linewidths=0.5, alpha=0.8)
    inside = np.all(np.isfinite(path), axis=1)
    ax.plot(path[inside, 0], path[inside, 1], "-o", color="#ff7f0e", ms=3.5, lw=1.4, label="θ_k")
    ax.plot(*P["start"], "o", color="black", ms=7, label="θ₀")
    ax.plot(*P["minimum"], "*", color="gold", mec="black", ms=15, label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(P["labels"][0])
    ax.set_ylabel(P["labels"][1])
    ax.set_title(f"{problem}: η = {lr:.3g}, {steps} steps")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)

    ok = np.isfinite(gaps) & (gaps > 0)
    bx.semilogy(np.arange(len(gaps))[ok], gaps[ok], "-", color="#ff7f0e", lw=2)
    if not np.all(np.isfinite(gaps)) or gaps[-1] > gaps[0]:
        verdict = "diverges"
    elif lr < limit:
        verdict = "converges"
    else:
        verdict = "bounded, but does not converge"
    bx.set_title(f"η {'<' if lr < limit else '>'} 2/λ_max = {limit:.3g}: {verdict}\n"
                 f"λ: eigenvalues of the Hessian at the minimum\n"
                 f"best η = 2/(λ_min + λ_max) = {best:.3g}", fontsize=10)
    bx.set_xlabel("step k")
    bx.set_ylabel("f(θ_k) − f*")
    bx.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plt.show()


def _lognorm(levels):
    from matplotlib.colors import LogNorm
    return LogNorm(vmin=levels[0], vmax=levels[-1])


def descent_widget(descent=None):
    """Sliders for the step size and the number of steps; a menu for the loss."""
    import ipywidgets as widgets
    return widgets.interact(
        lambda problem, lr, steps: show_descent(problem, lr, steps, descent),
        problem=widgets.Dropdown(options=list(descent_problems()), value="quadratic bowl", description="loss"),
        lr=widgets.FloatLogSlider(base=10, min=-2, max=1, step=0.02, value=0.1, readout_format=".3g",
                                  description="step η", continuous_update=False),
        steps=widgets.IntSlider(min=1, max=200, value=40, description="steps", continuous_update=False))


def optimiser_paths(problem, gradient_descent, momentum_step, adam_step, *, gd_lr, momentum_lr, beta,
                     adam_lr, steps=100):
    """The paths θ₀ … θ_steps of the three methods on `problem` (from :func:`ill_conditioned_bowl`),
    each from the student's functions: {name: array (steps + 1, 2)}."""
    grad_f, start = problem["grad"], problem["start"]
    paths = {"gradient descent": np.asarray(gradient_descent(grad_f, start, gd_lr, steps), dtype=float)}
    theta, velocity, path = start, np.zeros_like(start), [start]
    for _ in range(steps):
        theta, velocity = momentum_step(grad_f, theta, velocity, momentum_lr, beta)
        path.append(np.asarray(theta, dtype=float))
    paths["momentum"] = np.array(path)
    theta, state, path = start, AdamState(np.zeros_like(start), np.zeros_like(start), 0), [start]
    for _ in range(steps):
        theta, state = adam_step(grad_f, theta, state, adam_lr)
        path.append(np.asarray(theta, dtype=float))
    paths["Adam"] = np.array(path)
    return paths


def ill_conditioned_bowl(eigenvalues=(1.0, 50.0), angle_deg=30.0):
    """The bowl of the optimiser comparison: condition number 50, axes turned by 30°."""
    f, grad_f, A, c = quadratic_bowl(angle_deg=angle_deg, eigenvalues=eigenvalues, center=(1.0, 1.0))
    lam, vectors = np.linalg.eigh(A)
    # 3 along the shallow direction, 0.4 up the steep wall: a long, narrow valley to cross
    start = c - 3.0 * vectors[:, 0] * np.sign(vectors[0, 0]) + 0.4 * vectors[:, 1]
    return {"f": f, "grad": grad_f, "A": A, "minimum": c, "start": start, "lam": lam,
            "box": (start[0] - 0.5, c[0] + 0.9, c[1] - 2.2, c[1] + 1.1)}


def plot_optimisers(problem, paths):
    """Left: the paths on the contours. Right: f(θ_k) − f* against k (log scale). Legend outside."""
    plt = _plt()
    A, c = problem["A"], problem["minimum"]
    x0, x1, y0, y1 = problem["box"]
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    dx, dy = gx - c[0], gy - c[1]
    F = 0.5 * (A[0, 0] * dx * dx + 2 * A[0, 1] * dx * dy + A[1, 1] * dy * dy)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.3), gridspec_kw={"width_ratios": [1.1, 1]})
    levels = np.geomspace(1e-2, F.max(), 14)
    ax.contour(gx, gy, F, levels=levels, colors="gray", linewidths=0.6, alpha=0.7)
    for name, path in paths.items():
        inside = np.all(np.isfinite(path), axis=1)
        ax.plot(path[inside, 0], path[inside, 1], "-o", ms=2, lw=1, color=_COLORS[name], label=name)
        with np.errstate(all="ignore"):
            gaps = np.array([problem["f"](th) for th in path])
        ok = np.isfinite(gaps) & (gaps > 0)
        bx.semilogy(np.arange(len(gaps))[ok], gaps[ok], lw=2, color=_COLORS[name], label=name)
    ax.plot(*c, "*", color="gold", mec="black", ms=14, label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("θ₁")
    ax.set_ylabel("θ₂")
    lam = problem["lam"]
    ax.set_title(f"eigenvalues {lam[0]:g} and {lam[-1]:g} (κ = {lam[-1] / lam[0]:g}), axes turned")
    ax.set_aspect("equal")
    bx.set_xlabel("step k")
    bx.set_ylabel("f(θ_k) − f*")
    bx.set_title("the gap to the minimum")
    bx.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.subplots_adjust(right=0.85)   # the legend sits in the margin, off both panels' data
    fig.legend(*ax.get_legend_handles_labels(), loc="center right", fontsize=9)
    plt.show()


def plot_forward_vs_reverse(dims, t_forward, t_reverse, n):
    """Left: time per gradient against d (log-log, with ∝ d and ∝ d² guides). Right: their ratio."""
    plt = _plt()
    dims, t_f, t_r = np.asarray(dims, float), np.asarray(t_forward) * 1e3, np.asarray(t_reverse) * 1e3
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax.loglog(dims, t_f, "o-", color=_COLORS["forward"], lw=2, label="forward mode: Dual(w, I), d directions")
    ax.loglog(dims, t_r, "s-", color=_COLORS["reverse"], lw=2, label="reverse mode: grad, one sweep")
    ax.loglog(dims, t_f[-1] * (dims / dims[-1]) ** 2, ":", color="gray", lw=1.2, label="∝ d²")
    ax.loglog(dims, t_r[-1] * dims / dims[-1], "--", color="gray", lw=1, label="∝ d")
    ax.set_ylim(min(t_r.min(), t_f.min()) / 2, t_f.max() * 2)
    ax.set_xlabel("number of parameters d")
    ax.set_ylabel("CPU time per gradient (ms)")
    ax.set_title(f"Logistic regression, N = {n}: one gradient")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ratio = t_f / t_r
    bx.loglog(dims, ratio, "o-", color="black", lw=2)
    bx.axhline(1.0, color="gray", lw=0.8)
    for d, r in zip(dims[::2], ratio[::2]):
        bx.annotate(f"{r:.3g}×", (d, r), textcoords="offset points", xytext=(-30, 6), fontsize=8,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    bx.set_ylim(0.5, ratio.max() * 2.5)
    bx.set_xlim(dims[0] / 1.4, dims[-1] * 1.4)
    bx.set_xlabel("number of parameters d")
    bx.set_ylabel("forward time ÷ reverse time")
    bx.set_title("how many times slower forward mode is")
    bx.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plt.show()


def rnn_gradient_norms(rho, activation="tanh", T=50, n=16, seed=0, input_scale=0.5):
    r"""‖∂L/∂h_t‖ / ‖∂L/∂h_T‖ for t = 0…T, for an RNN whose W has spectral radius `rho`."""
    p = rnn_problem(n=n, T=T, rho=rho, seed=seed, input_scale=input_scale)
    act = np.tanh if activation == "tanh" else (lambda a: a)
    hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0, act)
    g = last_state_grad(p, hs)
    norms = [np.linalg.norm(g)]
    for t in range(T, 0, -1):
        g = p.W.T @ (g * (1 - hs[t] ** 2) if activation == "tanh" else g)
        norms.append(np.linalg.norm(g))
    norms = np.array(norms[::-1])
    return norms / norms[-1], p.W


_RHO_COLORS = {0.5: "#08519c", 0.8: "#4292c6", 1.0: "#525252", 1.25: "#ef6548", 2.0: "#b30000"}


def plot_rnn_norms(rhos=(0.5, 0.8, 1.0, 1.25, 2.0), T=50):
    """Two panels (linear RNN, tanh RNN): the gradient norm going back in time, one curve per ρ."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, activation in zip(axes, ("linear", "tanh")):
        for rho in rhos:
            norms, _ = rnn_gradient_norms(rho, activation, T)
            ax.semilogy(np.arange(T + 1), norms, lw=2, color=_RHO_COLORS.get(rho), label=f"ρ(W) = {rho:g}")
        ax.axhline(1.0, color="black", lw=0.6)
        ax.set_title(f"{activation} RNN, n = 16, T = {T}")
        ax.set_xlabel("time step t")
        ax.set_ylim(1e-16, 1e16)
        ax.grid(True, which="both", alpha=0.25)
    axes[0].set_ylabel("‖∂L/∂h_t‖ / ‖∂L/∂h_T‖")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Back-propagating from t = T (right) to t = 0 (left)", fontsize=11)
    fig.tight_layout()
    plt.show()


def show_rnn(rho=0.9, activation="tanh", T=50):
    """Widget body: the norm curve for one ρ with the guide ρ^(T−t), and W's eigenvalues."""
    plt = _plt()
    norms, W = rnn_gradient_norms(rho, activation, T)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1.7, 1]},
                                 layout="constrained")
    t = np.arange(T + 1)
    with np.errstate(all="ignore"):
        ax.semilogy(t, norms, lw=2.2, color="#d62728" if rho > 1 else "#1f77b4", label=f"{activation} RNN")
        ax.semilogy(t, rho ** (T - t.astype(float)), "--", color="gray", lw=1.2, label="ρ^(T−t)")
    ax.set_ylim(1e-16, 1e16)
    ax.set_xlabel("time step t")
    ax.set_ylabel("‖∂L/∂h_t‖ / ‖∂L/∂h_T‖")
    ax.set_title(f"ρ(W) = {rho:.2f}: the gradient reaching h₀ is {norms[0]:.1e} × the one at h_T")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=9)
    eig = np.linalg.eigvals(W)
    circle = np.linspace(0, 2 * np.pi, 200)
    bx.plot(np.cos(circle), np.sin(circle), color="black", lw=0.8, label="unit circle")
    bx.plot(rho * np.cos(circle), rho * np.sin(circle), ":", color="gray", lw=1, label=f"radius ρ = {rho:.2f}")
    bx.plot(eig.real, eig.imag, "o", color="#d62728" if rho > 1 else "#1f77b4", ms=6)
    lim = max(1.2, rho * 1.15)
    bx.set_xlim(-lim, lim)
    bx.set_ylim(-lim, lim)
    bx.set_aspect("equal")
    bx.set_title("eigenvalues of W")
    bx.set_xlabel("Re λ")
    bx.set_ylabel("Im λ")
    fig.legend(*bx.get_legend_handles_labels(), loc="outside lower right", ncol=2, fontsize=8)  # off the circles
    bx.grid(True, alpha=0.25)
    plt.show()


def rnn_widget():
    """A slider for the spectral radius ρ(W) and a menu for the activation, redrawing :func:`show_rnn`."""
    import ipywidgets as widgets
    return widgets.interact(
        show_rnn,
        rho=widgets.FloatSlider(min=0.3, max=3.0, step=0.05, value=0.9, description="ρ(W)",
                                continuous_update=False),
        activation=widgets.Dropdown(options=["tanh", "linear"], value="tanh", description="activation"),
        T=widgets.fixed(50))


def plot_moons(X, y):
    """The two-moons data set, one colour per class."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for label, color in ((0, "#1f77b4"), (1, "#ff7f0e")):
        ax.scatter(*X[y == label].T, s=14, color=color, edgecolor="white", linewidth=0.4, label=f"class {label}")
    ax.set_aspect("equal")
    ax.set_title(f"two moons: {len(y)} points")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.show()


def plot_training(ours, theirs, params, X, y):
    """Loss curves (ours vs PyTorch), time per epoch, and the learned decision boundary.
    `ours` may name its engine under "label"."""
    plt = _plt()
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1.3, 0.8, 1.1]})
    epochs = np.arange(1, len(ours["loss"]) + 1)
    label = ours.get("label", "ours")     # which reverse mode trained: "your engine" or "autodiff_ref"
    ax.semilogy(epochs, ours["loss"], lw=3.5, color=_COLORS["ours"], alpha=0.55, label=label)
    labels = [label]
    times = [np.asarray(ours["seconds"]) * 1e3]
    if theirs is not None:
        ax.semilogy(epochs, theirs["loss"], "--", lw=1.6, color=_COLORS["torch"], label="PyTorch")
        labels.append("PyTorch")
        times.append(np.asarray(theirs["seconds"]) * 1e3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean cross-entropy on all points")
    ax.set_title("training loss: same data, same start, same batches")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)

    colors = [_COLORS["ours"], _COLORS["torch"]][:len(times)]
    parts = bx.boxplot(times, tick_labels=labels, patch_artist=True, widths=0.55, showfliers=False,
                       medianprops={"color": "black", "linewidth": 1.5})
    for patch, color in zip(parts["boxes"], colors):
        patch.set_facecolor(color)
        patch.set_alpha(0.6)
    for i, tms in enumerate(times):
        bx.text(i + 1.32, np.median(tms), f"{np.median(tms):.2f} ms", va="center", ha="left", fontsize=8)
    bx.set_xlim(0.5, len(times) + 0.75)
    bx.set_xlabel("implementation")
    bx.set_ylabel("CPU time per epoch (ms)")
    bx.set_title(f"time per epoch ({len(times[0])} epochs)")
    bx.grid(True, axis="y", alpha=0.3)

    (xmin, ymin), (xmax, ymax) = X.min(axis=0) - 0.3, X.max(axis=0) + 0.3
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, 200), np.linspace(ymin, ymax, 150))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    prob = sigmoid(mlp_logits_reference(params, grid)).reshape(gx.shape)
    cx.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45)
    cx.contour(gx, gy, prob, levels=[0.5], colors="black", linewidths=1.5)
    for label, color in ((0, "#1f77b4"), (1, "#ff7f0e")):
        cx.scatter(*X[y == label].T, s=10, color=color, edgecolor="white", linewidth=0.3)
    accuracy = np.mean((mlp_logits_reference(params, X) > 0) == (y == 1))
    cx.set_title(f"learned boundary σ(z) = ½ (accuracy {accuracy:.0%})")
    cx.set_xlabel("x₁")
    cx.set_ylabel("x₂")
    cx.set_aspect("equal")
    fig.tight_layout()
    plt.show()
