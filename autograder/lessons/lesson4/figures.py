r"""Lesson 4's figures, widget and measurements.

:func:`measure_hvp_cost` / :func:`plot_hvp_cost`: one HVP against the full
Hessian as n grows (an HVP costs a few gradients, :math:`O(n)`; the Hessian n of
them, :math:`O(n^2)`). :func:`nesting_cost`: the price of each extra level of
duals (a k-fold nested dual carries :math:`2^k` numbers).
:func:`plot_newton_vs_gd` / :func:`newton_vs_gd_widget`: Newton and gradient
descent on the Rosenbrock function; :func:`gd_thresholds`, :func:`gd_regime`
and :func:`newton_steps` measure the numbers the lesson's prose refers to.
"""
import numpy as _np

from autodiff_ref import derivative as _derivative
from autodiff_ref import grad as _grad
from autodiff_ref import hessian as _hessian
from autodiff_ref import jvp as _jvp
from autograder.widgets import best_time

from .material import coupled, newton_path, rosenbrock

_array, _asarray, _sin, _isfinite = _np.array, _np.asarray, _np.sin, _np.isfinite


def measure_hvp_cost(sizes=(10, 30, 100, 300, 1000), f=coupled, seed=0):
    """Seconds (best of a few runs) for f, ∇f, one HVP and the full Hessian at each n.

    Returns a dict of lists keyed by 'n', 'f', 'grad', 'hvp', 'hessian', plus
    'max_error', the largest |H·v − hvp| seen (the two must agree).
    """
    rng = _np.random.default_rng(seed)
    out = {k: [] for k in ("n", "f", "grad", "hvp", "hessian")}
    out["max_error"] = 0.0
    for n in sizes:
        x, v = rng.uniform(-1, 1, size=n), rng.normal(size=n)
        hv = _jvp(_grad(f), (x,), (v,))[1]
        repeats = 3 if n >= 1000 else 7
        out["n"].append(n)
        out["f"].append(best_time(lambda: f(x)))
        out["grad"].append(best_time(lambda: _grad(f)(x)))
        out["hvp"].append(best_time(lambda: _jvp(_grad(f), (x,), (v,))))
        H = {}
        out["hessian"].append(best_time(lambda: H.setdefault("H", _hessian(f)(x)), 1 if n >= 1000 else repeats))
        out["max_error"] = max(out["max_error"], float(_np.max(_np.abs(H["H"] @ v - hv))))
    return out


def plot_hvp_cost(cost, ax=None):
    """Log-log plot of the times measured by :func:`measure_hvp_cost`."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    n = _asarray(cost["n"], dtype=float)
    styles = (("hessian", "full Hessian  (jacfwd of grad)", "#c92a2a", "s"),
              ("hvp", "one HVP  (jvp of grad)", "#1971c2", "o"),
              ("grad", "gradient", "#2b8a3e", "^"),
              ("f", "f itself", "#868e96", "."))
    for key, label, color, marker in styles:
        ax.loglog(n, _asarray(cost[key]) * 1e3, marker=marker, color=color, label=label, lw=2)
    ref = _asarray(cost["hessian"])[-1] * 1e3 * (n / n[-1]) ** 2
    ax.loglog(n, ref, ls=":", color="#c92a2a", alpha=0.6, label="slope 2 (∝ n²)")
    ax.set(xlabel="n (number of variables)", ylabel="time (ms, best of several runs)")
    ax.set_title("An HVP costs a few gradients; the Hessian costs n of them", fontsize=11)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=9, loc="upper left")
    return ax


def nesting_cost(f=None, x=0.7, orders=(1, 2, 3, 4, 5, 6)):
    """Time of ``derivative(f, k)(x)`` and the 2ᵏ numbers a k-fold nested dual carries."""
    f = (lambda t: _sin(t * t * t)) if f is None else f
    rows = []
    for k in orders:
        d = _derivative(f, k)
        seconds = best_time(lambda: d(x), 5)
        rows.append((k, 2 ** k, seconds, float(d(x))))
    return rows


# ---- Newton vs gradient descent on Rosenbrock ---------------------------------

def gd_path(f, x0, step, iterations):
    """Gradient descent x ← x − step·∇f(x); stops early if the iterates blow up."""
    g = _grad(f)
    path = [_asarray(x0, dtype=float)]
    for _ in range(iterations):
        x = path[-1] - step * g(path[-1])
        if not bool(_np.all(_isfinite(x))) or float(_np.max(_np.abs(x))) > 1e4:
            break
        path.append(x)
    return path


def _rosenbrock_np(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def plot_newton_vs_gd(x0=-1.2, y0=1.0, step=1e-3, iterations=2000, axes=None):
    """Contour plot of Rosenbrock with both paths, and f(x_k) against k."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import NullFormatter
    own = axes is None
    if own:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.25, 1]})
    ax, ax2 = axes
    start = _array([x0, y0])
    newton = newton_path(rosenbrock, start, min(iterations, 25))
    gd = gd_path(rosenbrock, start, step, iterations)
    blew_up = len(gd) < iterations + 1

    # The view: the valley, widened (up to a cap) so Newton's first wild steps stay in sight.
    N = _np.array(newton)
    lo_x, hi_x = max(-6.0, min(-2.2, N[:, 0].min() - 0.3)), min(6.0, max(2.2, N[:, 0].max() + 0.3))
    lo_y, hi_y = max(-12.0, min(-1.2, N[:, 1].min() - 0.4)), min(12.0, max(3.2, N[:, 1].max() + 0.4))
    xs, ys = _np.linspace(lo_x, hi_x, 400), _np.linspace(lo_y, hi_y, 400)
    X, Y = _np.meshgrid(xs, ys)
    Z = _rosenbrock_np(X, Y)
    levels = _np.logspace(-1, _np.log10(Z.max()), 26)
    ax.contourf(X, Y, Z + 1e-12, levels=levels, norm=LogNorm(), cmap="Blues_r", alpha=0.75, extend="both")
    ax.contour(X, Y, Z + 1e-12, levels=levels, norm=LogNorm(), colors="white", linewidths=0.4, alpha=0.6)
    G = _np.array(gd)
    ax.plot(G[:, 0], G[:, 1], "-", color="#e8590c", lw=1.6, label=f"gradient descent ({len(gd) - 1} steps)")
    ax.plot(G[-1, 0], G[-1, 1], "o", color="#e8590c", ms=6)
    ax.plot(N[:, 0], N[:, 1], "-o", color="#5f3dc4", lw=1.8, ms=5, label=f"Newton ({len(newton) - 1} steps)")
    for k, (a, b) in enumerate(N[:6]):
        ax.annotate(str(k), (a, b), textcoords="offset points", xytext=(5, 4), fontsize=8, color="#5f3dc4")
    ax.plot([x0], [y0], "s", color="black", ms=7, label="start")
    ax.plot([1], [1], "*", color="gold", mec="black", ms=15, label="minimum (1, 1)")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Rosenbrock (1 − x)² + 100 (y − x²)²", fontsize=11)
    ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=4, frameon=False,
              handlelength=1.6, columnspacing=1.2)

    floor = 1e-30
    fg = _np.maximum([_rosenbrock_np(*p) for p in gd], floor)
    fn = _np.maximum([_rosenbrock_np(*p) for p in newton], floor)
    ax2.loglog(_np.arange(1, len(fg) + 1), fg, color="#e8590c", lw=1.8,
               label=f"gradient descent, step {step:.1e}")
    ax2.loglog(_np.arange(1, len(fn) + 1), fn, "-o", color="#5f3dc4", ms=4, lw=1.8, label="Newton")
    ax2.set_xlabel("iteration k + 1")
    ax2.xaxis.set_minor_formatter(NullFormatter())
    ax2.set_ylabel("f(x_k)  (0 shown as 1e-30)")
    note = "  — gradient descent blew up" if blew_up else ""
    ax2.set_title(f"f after {len(gd) - 1} GD steps: {fg[-1]:.2e}{note}", fontsize=11)
    ax2.grid(True, which="both", alpha=0.25)
    ax2.legend(fontsize=9)
    ax2.set_ylim(floor / 10, max(1e4, float(max(fg.max(), fn.max())) * 10))
    if own:     # the legend below the left panel needs its room
        fig.tight_layout()
    return axes


def newton_vs_gd_widget():
    """Sliders for the start point, the gradient-descent step and the iteration count."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(x0, y0, step, iterations):
        plot_newton_vs_gd(x0, y0, step, iterations)
        plt.show()

    common = dict(continuous_update=False, style={"description_width": "initial"})
    x0 = widgets.FloatSlider(value=-1.2, min=-2.0, max=2.0, step=0.05, description="start x", **common)
    y0 = widgets.FloatSlider(value=1.0, min=-1.0, max=3.0, step=0.05, description="start y", **common)
    step = widgets.FloatLogSlider(value=1e-3, base=10, min=-4, max=-2, step=0.05, description="GD step size",
                                  readout_format=".1e", **common)
    iterations = widgets.IntSlider(value=2000, min=10, max=5000, step=10, description="iterations", **common)
    out = widgets.interactive_output(draw, dict(x0=x0, y0=y0, step=step, iterations=iterations))
    return widgets.VBox([widgets.VBox([widgets.HBox([x0, y0]), widgets.HBox([step, iterations])]), out])


# ---- the numbers the lesson's prose refers to ---------------------------------

def gd_regime(path, iterations, tail=20):
    """What a gradient-descent path does by its end: "blow-up" (stopped early by
    :func:`gd_path`), "bouncing" (its last `tail` steps keep reversing direction,
    across the valley) or "converging" (still moving the same way, however slowly)."""
    if len(path) < iterations + 1:
        return "blow-up"
    steps = _np.diff(_np.array(path[-(tail + 1):]), axis=0)
    reversals = _np.sum(steps[1:] * steps[:-1], axis=1) < 0
    return "bouncing" if float(_np.mean(reversals)) > 0.5 else "converging"


def gd_thresholds(x0=(-1.2, 1.0), iterations=2000, slider=(-3.0, -2.0, 0.05), fine=16):
    r"""Where gradient descent on Rosenbrock starts to bounce and to blow up, measured.

    Scans the widget's step-size slider (:math:`10^{-3}, 10^{-2.95}, \dots, 10^{-2}`),
    classifying each path with :func:`gd_regime`, then scans `fine` log-spaced step
    sizes between the last slider value before a regime and the first one showing
    it. The borders are ragged (a path's fate depends on where its steps land), so
    for ``"bouncing"`` and ``"blow-up"`` the dict gives ``first_*`` (the smallest step
    seen doing it), ``from_*`` (the smallest step from which on every step scanned
    does it or worse) and ``slider_*`` (the first slider value doing it); None if
    never seen. Also the curvature bound ``2 / λ_max`` of the Hessian at the minimum.
    """
    start = _asarray(x0, dtype=float)
    rank = {"converging": 0, "bouncing": 1, "blow-up": 2}
    regime = lambda a: gd_regime(gd_path(rosenbrock, start, a, iterations), iterations)  # noqa: E731
    lam_max = float(max(_np.linalg.eigvalsh(_np.asarray(_hessian(rosenbrock)(_array([1.0, 1.0]))))))
    lo, hi, by = slider
    coarse = [(a, regime(a)) for a in (float(10.0 ** e) for e in _np.arange(lo, hi + by / 2, by))]
    out = dict(lambda_max=lam_max, bound=2 / lam_max, iterations=iterations, x0=tuple(float(v) for v in start))
    for kind in ("bouncing", "blow-up"):
        seen = list(coarse)
        first = next((i for i, (_, r) in enumerate(coarse) if rank[r] >= rank[kind]), None)
        if first is not None and first > 0:
            a, b = coarse[first - 1][0], coarse[first][0]
            seen = sorted(seen + [(float(t), regime(float(t))) for t in _np.geomspace(a, b, fine + 2)[1:-1]])
        hits = [a for a, r in seen if r == kind]
        out[f"first_{kind}"] = hits[0] if hits else None
        out[f"slider_{kind}"] = next((a for a, r in coarse if r == kind), None)
        settled = None
        for a, r in reversed(seen):
            if rank[r] < rank[kind]:
                break
            settled = a
        out[f"from_{kind}"] = settled
    return out


def newton_steps(x0, iterations=25):
    """How many Newton steps (the reference step) Rosenbrock needs from `x0` until ∇f = 0 exactly
    or the step no longer changes x."""
    path = newton_path(rosenbrock, _array(x0, dtype=float), iterations)
    moved = [k for k in range(1, len(path)) if not _np.array_equal(path[k], path[k - 1])]
    return moved[-1] if moved else 0
