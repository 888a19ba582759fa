r"""Lesson 6's figures, widget and measurements.

:func:`plot_cobweb` / :func:`cobweb_widget`: fixed-point iteration on y = tanh(θy + x),
which converges when :math:`|g'(y^*)| = |\theta(1 - y^{*2})| < 1`; :func:`plot_branches`:
every fixed point as x varies, with slopes dy/dx from the student's IFT;
:func:`plot_newton_vs_iteration`: Newton's quadratic against iteration's linear convergence;
:func:`plot_unrolled_vs_implicit`: the derivative of a loose solve;
:func:`measure_implicit_vs_unrolled` / :func:`plot_implicit_vs_unrolled`: memory and time of
the implicit gradient against differentiating the unrolled loop;
:func:`plot_deq_training`: the training loss of the small DEQ model and its fit, before and after.
"""
import math

from autodiff_ref import fixed_point as _fixed_point
from autodiff_ref import grad as _grad
from autograder.widgets import best_time, one_blas_thread, peak_memory

from .material import deq_layer, deq_predict, fixed_points, iterate, np, slow_deq_problem, tanh_layer

_asarray, _zeros, _tanh = np.asarray, np.zeros, np.tanh


BLUE, ORANGE, GREEN, RED, VIOLET, GREY = "#1971c2", "#e8590c", "#2b8a3e", "#c92a2a", "#5f3dc4", "#868e96"


def _verdict(ys, theta, x):
    """What the iteration did: ('converged', y*, k) / ('cycle', (a, b), None) / ('slow', y*, None)."""
    steps = np.abs(np.diff(ys))
    done = np.flatnonzero(steps <= 1e-12 * (1 + np.abs(ys[1:])))
    points = fixed_points(theta, x)
    if done.size:
        k = int(done[0]) + 1
        return "converged", ys[k], k
    if len(ys) > 4 and abs(ys[-1] - ys[-3]) < 1e-6 and abs(ys[-1] - ys[-2]) > 1e-3:
        return "cycle", (ys[-1], ys[-2]), None
    nearest = min(points, key=lambda p: abs(p[0] - ys[-1]))[0]
    return "slow", nearest, None


def _minus(value, spec):
    """`value` formatted with `spec`, with a typographic minus sign."""
    return format(value, spec).replace("-", "−")


def _formula(theta, x):
    sign = "+" if x >= 0 else "−"
    return f"tanh({theta:g}·y {sign} {abs(x):g})".replace("-", "−")


def plot_cobweb(theta=0.5, x=0.3, y0=0.0, iterations=30, axes=None):
    """Left: g(y) = tanh(θy + x), the diagonal and the cobweb of y ← g(y) from y0.
    Right: the step |y_{k+1} − y_k| against k, with the rate |g′(y*)|^k predicted by the slope."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 5.6), gridspec_kw={"width_ratios": [1, 1.15]},
                               layout="constrained")
    ax, ax2 = axes
    ys = iterate(theta, x, y0, iterations)
    points = fixed_points(theta, x)
    grid = np.linspace(-1.15, 1.15, 400)
    ax.plot(grid, grid, color=GREY, lw=1, ls="--", label="the diagonal g(y) = y")
    ax.plot(grid, _tanh(theta * grid + x), color=BLUE, lw=2.2, label=f"g(y) = {_formula(theta, x)}")
    # the cobweb: up to the curve, across to the diagonal
    px, py = [ys[0]], [ys[0]]
    for a, b in zip(ys[:-1], ys[1:]):
        px += [a, b]
        py += [b, b]
    shown = min(len(px), 2 * 60 + 1)
    ax.plot(px[:shown], py[:shown], color=ORANGE, lw=1.1, alpha=0.9, label="iteration y ← g(y)")
    ax.plot([ys[0]], [ys[0]], "s", color="black", ms=6, label=f"start y₀ = {y0:g}".replace("-", "−"))
    kinds = {"attracts": (GREEN, GREEN, "|g′(y*)| < 1: attracts"),
             "neutral": (ORANGE, ORANGE, "|g′(y*)| = 1: sublinear at best"),
             "repels": ("white", RED, "|g′(y*)| > 1: repels")}
    seen = set()
    for y, slope in points:
        kind = "neutral" if abs(abs(slope) - 1) < 1e-9 else "attracts" if abs(slope) < 1 else "repels"
        face, edge, _ = kinds[kind]
        ax.plot([y], [y], "o", ms=9, mfc=face, mec=edge, mew=2, zorder=5)
        ax.annotate(f"g′ = {slope:+.2f}".replace("-", "−"), (y, y), textcoords="offset points",
                    xytext=(8, -14), fontsize=8.5, color=edge if kind != "repels" else RED)
        seen.add(kind)
    for kind in ("attracts", "neutral", "repels"):
        if kind in seen:
            face, edge, label = kinds[kind]
            ax.plot([], [], "o", ms=8, mfc=face, mec=edge, mew=2, label="fixed point, " + label)
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.set_aspect("equal")
    ax.set_xlabel("y")
    ax.set_ylabel("g(y)")
    ax.grid(alpha=0.2)
    ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False,
              handlelength=1.8, columnspacing=1.2)

    kind, where, k = _verdict(ys, theta, x)
    if kind == "converged":
        rate = abs(theta * (1 - math.tanh(theta * where + x) ** 2))
        title = f"converged to y* = {_minus(where, '.6f')} in {k} iterations"
    elif kind == "cycle":
        rate = None
        title = f"no convergence: a 2-cycle between {_minus(min(where), '+.4f')} and {_minus(max(where), '+.4f')}"
    else:
        rate = abs(theta * (1 - math.tanh(theta * where + x) ** 2))
        title = f"not converged after {iterations} iterations (nearest y* = {_minus(where, '+.4f')})"
    ax.set_title(title, fontsize=10.5)

    steps = np.abs(np.diff(ys))
    ks = np.arange(len(steps))
    floor = 1e-17
    ax2.semilogy(ks, np.maximum(steps, floor), "o-", color=ORANGE, ms=3, lw=1.4,
                 label=r"step $|y_{k+1} - y_k|$")
    last = int(np.flatnonzero(steps > 1e-15)[-1]) if np.any(steps > 1e-15) else 0
    if rate is not None and rate > 0 and steps[last] > 0:
        ref = steps[last] * np.exp((ks - last) * math.log(rate))
        ax2.semilogy(ks, np.maximum(ref, floor), "--", color=VIOLET, lw=1.4,
                     label=rf"$|g'(y^*)|^k$ with $|g'(y^*)|$ = {rate:.3f}")
    ax2.axhline(1e-10, color=GREY, lw=0.8, ls=":")
    ax2.text(0.99, 1e-10, "1e-10 ", ha="right", va="bottom", fontsize=8, color=GREY,
             transform=ax2.get_yaxis_transform())
    ax2.set_ylim(1e-17, 10)
    ax2.set_xlabel("iteration k")
    ax2.set_ylabel("step size")
    if rate is None:
        ax2.set_title("the steps never shrink: |g′(y*)| > 1 at the only fixed point", fontsize=10.5)
    elif rate >= 1 - 1e-9:
        ax2.set_title(f"|g′(y*)| = {rate:.3f}: no linear rate, steps shrink like a power of k",
                      fontsize=10.5)
    else:
        ax2.set_title(f"linear convergence: each step ≈ {rate:.3f} × the one before", fontsize=10.5)
    ax2.grid(True, which="major", alpha=0.25)
    ax2.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    return axes


def cobweb_widget():
    """Sliders for θ, x, the start y₀ and the number of iterations."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(theta, x, y0, iterations):
        plot_cobweb(theta, x, y0, iterations)
        plt.show()

    common = dict(continuous_update=False, style={"description_width": "initial"})
    theta = widgets.FloatSlider(value=0.5, min=-3.0, max=3.0, step=0.05, description="θ", **common)
    x = widgets.FloatSlider(value=0.3, min=-1.5, max=1.5, step=0.05, description="x", **common)
    y0 = widgets.FloatSlider(value=0.0, min=-1.0, max=1.0, step=0.05, description="start y₀", **common)
    iterations = widgets.IntSlider(value=40, min=5, max=300, step=5, description="iterations", **common)
    out = widgets.interactive_output(draw, dict(theta=theta, x=x, y0=y0, iterations=iterations))
    return widgets.VBox([widgets.VBox([widgets.HBox([theta, x]), widgets.HBox([y0, iterations])]), out])


def plot_branches(ift_derivatives, theta=2.0, xs=(-1.2, -0.75, -0.3, 0.0, 0.3, 0.75, 1.2), ax=None):
    """Every fixed point of y = tanh(θy + x) as x varies — the curve x = artanh(y) − θy — with
    short tangents of slope dy/dx from ``ift_derivatives(theta, x, y)`` at the points of `xs`."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(7.6, 4.6), layout="constrained")
    y = np.linspace(-0.995, 0.995, 2001)
    x_of_y = np.arctanh(y) - theta * y
    slope_g = theta * (1 - y * y)                # g′(y*) along the curve
    stable = np.abs(slope_g) < 1
    for mask, style, label in ((stable, dict(color=BLUE, lw=4, alpha=0.35), "attracting: |g′(y*)| < 1"),
                               (~stable, dict(color=RED, lw=4, alpha=0.3), "repelling: |g′(y*)| > 1")):
        xs_masked = np.where(mask, x_of_y, np.nan)
        ax.plot(xs_masked, y, label=label, **style)
    if theta > 1:
        y_fold = math.sqrt(1 - 1 / theta)
        for yf in (y_fold, -y_fold):
            xf = math.atanh(yf) - theta * yf
            ax.plot([xf], [yf], "X", color="black", ms=8, zorder=6)
            ax.annotate(f"fold: x = {xf:+.3f}".replace("-", "−"), (xf, yf), textcoords="offset points",
                        xytext=(10, -4) if yf < 0 else (-100, -4), fontsize=8.5)
        ax.plot([], [], "X", color="black", ms=8, label="1 − g′(y*) = 0: dy*/dx infinite")
    first = True
    for x in xs:
        for y_star, _ in fixed_points(theta, x):
            slope = float(ift_derivatives(theta, x, y_star)[1])
            dx = 0.2 / math.sqrt(1 + slope * slope)
            ax.plot([x - dx, x + dx], [y_star - slope * dx, y_star + slope * dx], color=ORANGE, lw=1.8,
                    solid_capstyle="round", zorder=5, label="slope dy*/dx from your ift_derivatives"
                    if first else None)
            ax.plot([x], [y_star], "o", color=ORANGE, ms=5, zorder=6)
            first = False
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.08, 1.08)
    ax.set_xlabel("x")
    ax.set_ylabel("fixed point y*")
    ax.set_title(f"the fixed points of y = tanh({theta:g}·y + x) as x varies", fontsize=10.5)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return ax


# ============================================================================
# Measurements: Newton against iteration
# ============================================================================
def newton_vs_iteration(cases, repeats=5):
    """For each (label, g, y0, params): iterations, residual history and time of both methods."""
    rows = []
    with one_blas_thread():
        for label, g, y0, params in cases:
            row = {"label": label}
            for method in ("iterate", "newton"):
                y, info = _fixed_point(g, y0, *params, method=method, return_info=True)
                seconds = best_time(lambda: _fixed_point(g, y0, *params, method=method), repeats, min_time=0.01)
                row[method] = dict(y=y, iterations=info.iterations, residuals=list(info.residuals),
                                   seconds=seconds)
            rows.append(row)
    return rows


def plot_newton_vs_iteration(rows, axes=None):
    """Residual against iteration for each case and method (log scale)."""
    import matplotlib.pyplot as plt
    if axes is None:
        columns = 2 if len(rows) > 2 else len(rows)
        lines = (len(rows) + columns - 1) // columns
        _, axes = plt.subplots(lines, columns, figsize=(5.6 * columns, 3.6 * lines), sharey=True)
    axes = np.atleast_1d(axes).reshape(-1)
    for ax, row in zip(axes, rows):
        for method, color, marker in (("iterate", ORANGE, "."), ("newton", VIOLET, "o")):
            r = np.maximum(row[method]["residuals"], 1e-17)
            ax.semilogy(np.arange(1, len(r) + 1), r, marker=marker, color=color, lw=1.6, ms=4,
                        label=f"{'iteration' if method == 'iterate' else 'Newton'}: "
                              f"{row[method]['iterations']} its, {row[method]['seconds'] * 1e3:.2f} ms")
        ax.axhline(1e-10, color=GREY, lw=0.8, ls=":")
        ax.set_title(row["label"], fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(True, which="both", alpha=0.2)
        ax.legend(fontsize=8.5, loc="upper right")
    for ax in axes[::2] if len(axes) > 2 else axes[:1]:
        ax.set_ylabel("residual ‖g(y) − y‖∞")
    axes[0].set_ylim(1e-17, 10)
    return axes


# ============================================================================
# The derivative of a loose solve: through the iterations vs the IFT at y_k
# ============================================================================
def _unrolled(theta, x, k):
    y = 0.0
    for _ in range(k):
        y = _tanh(theta * y + x)
    return y


def unrolled_vs_implicit(theta=0.95, x=0.02, ks=range(1, 321, 4)):
    """Errors, after k iterations from y₀ = 0, of y_k, of d y_k/dθ (through the iterations)
    and of the IFT formula evaluated at y_k. Returns a dict of arrays."""
    y_star = _fixed_point(tanh_layer, 0.0, theta, x, method="newton", tol=1e-15)
    exact = float(_grad(lambda th: _fixed_point(tanh_layer, y_star, th, x, method="newton",
                                                tol=1e-15))(theta))
    out = {"k": [], "y": [], "unrolled": [], "ift": []}
    for k in ks:
        y_k = float(_unrolled(theta, x, k))
        d_unrolled = float(_grad(lambda th: _unrolled(th, x, k))(theta))
        s = 1 - math.tanh(theta * y_k + x) ** 2
        d_ift = s * y_k / (1 - theta * s)
        out["k"].append(k)
        out["y"].append(abs(y_k - y_star))
        out["unrolled"].append(abs(d_unrolled - exact))
        out["ift"].append(abs(d_ift - exact))
    out = {key: np.array(v) for key, v in out.items()}
    out.update(theta=theta, x=x, y_star=y_star, exact=exact,
               rate=abs(theta * (1 - math.tanh(theta * y_star + x) ** 2)))
    return out


def plot_unrolled_vs_implicit(errors, ax=None):
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(7.2, 4.3))
    floor = 1e-17
    k = errors["k"]
    ax.semilogy(k, np.maximum(errors["y"], floor), color=GREY, lw=2,
                label=r"$|y_k - y^*|$, the forward solve")
    ax.semilogy(k, np.maximum(errors["unrolled"], floor), color=RED, lw=2,
                label="dy/dθ through the k iterations (unrolled)")
    ax.semilogy(k, np.maximum(errors["ift"], floor), color=BLUE, lw=2,
                label="dy/dθ by the IFT formula at $y_k$")
    ax.semilogy(k, errors["rate"] ** k, ls=":", color=VIOLET, lw=1.4,
                label=rf"$\rho^k$, $\rho = |g'(y^*)|$ = {errors['rate']:.3f}")
    ax.set_xlabel("iterations k of the forward solve")
    ax.set_ylabel("error")
    ax.set_title(f"y = tanh(θy + x), θ = {errors['theta']:g}, x = {errors['x']:g}: "
                 "derivatives of a loose solve", fontsize=10.5)
    ax.set_ylim(1e-17, 10)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend(fontsize=8.5)
    return ax


# ============================================================================
# Memory and time: implicit gradients against differentiating the unrolled loop
# ============================================================================
def _loss_unrolled(W, x, iterations):
    z = _zeros(len(x))
    for _ in range(iterations):
        z = _tanh(W @ z + x)
    return np.sum(z)


def _loss_implicit(W, x, tol):
    return np.sum(_fixed_point(deq_layer, _zeros(len(x)), W, x, tol=tol))


def _peak_and_time(fn):
    """(fn(), peak bytes during one call, best seconds per call timed without tracing)."""
    fn()  # warm up
    value, peak = peak_memory(fn)
    return value, peak, best_time(fn, repeats=5, min_time=0.005)


def measure_implicit_vs_unrolled(n=100, rho=0.98, tols=(1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12), seed=0):
    """For each tolerance: the iteration count k of the forward solve, then peak memory
    (tracemalloc) and time of ∂Σz/∂W by the implicit function theorem (autodiff_ref.fixed_point)
    and by reverse mode through the same k iterations, and each gradient's error."""
    W, x = slow_deq_problem(n, rho, seed)
    exact = _grad(lambda W: np.sum(_fixed_point(deq_layer, _zeros(n), W, x, method="newton",
                                                tol=1e-14)))(W)
    scale = float(np.max(np.abs(exact)))
    rows = []
    with one_blas_thread():
        for tol in tols:
            _, info = _fixed_point(deq_layer, _zeros(n), W, x, tol=tol, return_info=True)
            k = info.iterations
            g_imp, mem_imp, t_imp = _peak_and_time(lambda: _grad(lambda W: _loss_implicit(W, x, tol))(W))
            g_unr, mem_unr, t_unr = _peak_and_time(lambda: _grad(lambda W: _loss_unrolled(W, x, k))(W))
            rows.append(dict(tol=tol, iterations=k, implicit_bytes=mem_imp, unrolled_bytes=mem_unr,
                             implicit_seconds=t_imp, unrolled_seconds=t_unr,
                             implicit_error=float(np.max(np.abs(g_imp - exact))) / scale,
                             unrolled_error=float(np.max(np.abs(g_unr - exact))) / scale))
    return dict(n=n, rho=rho, rows=rows)


def plot_implicit_vs_unrolled(result, axes=None):
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    rows = result["rows"]
    k = np.array([r["iterations"] for r in rows])
    styles = (("implicit", "implicit (IFT, one adjoint solve)", BLUE, "o"),
              ("unrolled", "reverse mode through the iterations", RED, "s"))
    for key, label, color, marker in styles:
        axes[0].plot(k, [r[f"{key}_bytes"] / 1024 for r in rows], marker=marker, color=color, lw=2, label=label)
        axes[1].plot(k, [r[f"{key}_seconds"] * 1e3 for r in rows], marker=marker, color=color, lw=2, label=label)
        axes[2].semilogy(k, [max(r[f"{key}_error"], 1e-17) for r in rows], marker=marker, color=color,
                         lw=2, label=label)
    axes[0].set_ylabel("peak memory during the gradient (KiB)")
    axes[1].set_ylabel("time of the gradient (ms)")
    axes[2].set_ylabel("relative error of ∂Σz/∂W")
    for ax, title in zip(axes, ("memory (tracemalloc peak)", "time", "accuracy")):
        ax.set_xlabel("iterations of the forward solve")
        ax.set_title(title, fontsize=10.5)
        ax.grid(True, which="both", alpha=0.2)
        ax.set_ylim(bottom=0 if ax is not axes[2] else None)
    axes[0].legend(fontsize=8.5, loc="upper left")
    plt.suptitle(f"∂Σz/∂W for z = tanh(Wz + x), n = {result['n']}, W = {result['rho']}·(orthogonal)",
                 fontsize=11.5)
    return axes


# ============================================================================
# Training the small deep-equilibrium model (Tasks 6.4 and 6.5)
# ============================================================================
def plot_deq_training(losses, params_before, params_after, X, Y, norms=None, axes=None):
    """Left: the training loss against the step (log scale), with ‖W‖₂ on a second axis when
    `norms` is given. Right: the data and the model's prediction before and after training."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    ax, ax2 = axes
    steps = np.arange(len(losses))
    ax.semilogy(steps, losses, color=BLUE, lw=2, label="training loss (mean squared error)")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("loss L")
    ax.grid(True, which="both", alpha=0.2)
    handles = ax.get_lines()
    if norms is not None:
        twin = ax.twinx()
        twin.plot(steps, norms, color=ORANGE, lw=1.4, ls="--", label="‖W‖₂ (right axis)")
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("spectral norm ‖W‖₂")
        handles = handles + twin.get_lines()
    ax.legend(handles=handles, labels=[h.get_label() for h in handles], fontsize=8.5,
              loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax.set_title("the loss falls", fontsize=10.5)
    grid = np.linspace(float(np.min(X)) - 0.2, float(np.max(X)) + 0.2, 200)[None, :]
    ax2.plot(X[0], Y[0], "o", color=GREY, ms=5, label="data")
    ax2.plot(grid[0], _asarray(deq_predict(params_before, grid, 1e-10))[0], color=ORANGE, lw=1.6, ls="--",
             label="DEQ before training")
    ax2.plot(grid[0], _asarray(deq_predict(params_after, grid, 1e-10))[0], color=BLUE, lw=2,
             label="DEQ after training")
    ax2.set_xlabel("input x")
    ax2.set_ylabel("output y")
    ax2.grid(True, alpha=0.2)
    ax2.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    ax2.set_title("the fit", fontsize=10.5)
    return axes
