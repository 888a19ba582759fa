r"""Lesson 1's widgets: the tangent line read off a dual number, and Newton's √ run on duals.

* :func:`plot_tangent_line`, :func:`tangent_line_widget`: f(x₀ + 1ε) = f(x₀) + f′(x₀)ε
  gives the point and the slope of the tangent at once;
* :func:`newton_sqrt_iterates`, :func:`plot_newton_sqrt`, :func:`newton_widget`: the
  iteration y ← (y + x/y)/2 on the dual a + 1ε converges to √a + ε/(2√a), value
  and tangent together.
"""
import contextlib
import math

import numpy as np

from autodiff_ref import Dual

#: Functions of the tangent-line widget, written once for floats and duals alike.
TANGENT_FUNCTIONS = {
    "x·sin(x)": (lambda x: x * np.sin(x), (-4.0, 4.0)),
    "exp(−x²)": (lambda x: np.exp(-x * x), (-2.5, 2.5)),
    "x³ − 2x": (lambda x: x * x * x - 2 * x, (-2.0, 2.0)),
    "√x · log(x)": (lambda x: np.sqrt(x) * np.log(x), (0.05, 4.0)),
}


@contextlib.contextmanager
def _drawing(ax, figsize):
    """Draw on `ax`, or on a new figure that is laid out and shown when the block ends."""
    import matplotlib.pyplot as plt

    if ax is not None:
        yield ax
        return
    fig, ax = plt.subplots(figsize=figsize)
    yield ax
    fig.tight_layout()
    plt.show()


def plot_tangent_line(x=1.0, function="x·sin(x)", ax=None):
    """Plot f, and the tangent line at x read off the dual number f(x + 1ε) = f(x) + f'(x)ε."""
    f, (lo, hi) = TANGENT_FUNCTIONS[function]
    x = min(max(x, lo), hi)
    d = f(Dual(x, 1.0))
    value, slope = float(d.value), float(d.tangent)
    with _drawing(ax, (8.5, 4.8)) as ax:
        grid = np.linspace(lo, hi, 400)
        ys = f(grid)
        ax.plot(grid, ys, color="#1f77b4", lw=2.2, label=f"f(x) = {function}")
        span = 0.35 * (hi - lo)
        seg = np.linspace(x - span, x + span, 2)
        ax.plot(seg, value + slope * (seg - x), color="#d62728", lw=1.8,
                label="tangent: f(x₀) + f′(x₀)·(x − x₀)")
        ax.plot([x], [value], "o", color="#d62728", ms=8, mec="black", zorder=5)
        pad = 0.15 * (ys.max() - ys.min())
        ax.set_ylim(ys.min() - pad, ys.max() + pad)
        ax.set_xlim(lo, hi)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        ax.set_title(f"f(x₀ + 1ε) = {value:.4f} + {slope:.4f} ε   at x₀ = {x:.2f}")
        # beside the panel: the curve and the tangent fill it, wherever x₀ is
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
        ax.grid(True, alpha=0.3)
    return ax


def tangent_line_widget():
    """A slider for x₀ and a menu of functions, redrawing :func:`plot_tangent_line`."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=1.0, min=-4.0, max=4.0, step=0.05, description="x₀",
                                 continuous_update=True, layout=widgets.Layout(width="60%"))
    menu = widgets.Dropdown(options=list(TANGENT_FUNCTIONS), value="x·sin(x)", description="f")

    def on_function(change):  # keep x₀ inside the new function's domain
        lo, hi = TANGENT_FUNCTIONS[change["new"]][1]
        slider.min, slider.max = min(lo, slider.min), max(hi, slider.max)
        slider.min, slider.max = lo, hi
        slider.value = min(max(slider.value, lo), hi)

    menu.observe(on_function, names="value")
    return widgets.interactive(plot_tangent_line, x=slider, function=menu, ax=widgets.fixed(None))


def newton_sqrt_iterates(x, iterations=8, start=1.0):
    """The iterates y_k of y ← (y + x/y)/2 from y₀ = start, on whatever x is (float or Dual)."""
    ys, y = [], start
    for _ in range(iterations):
        y = (y + x / y) / 2
        ys.append(y)
    return ys


def plot_newton_sqrt(a=2.0, iterations=8, ax=None):
    r"""Relative errors of the value (against √a) and of the tangent (against 1/(2√a)) of
    Newton's √ run on the dual a + 1ε."""
    ys = newton_sqrt_iterates(Dual(a, 1.0), iterations)
    root, slope = math.sqrt(a), 0.5 / math.sqrt(a)
    ks = np.arange(1, iterations + 1)
    value_err = np.array([abs(float(y.value) - root) / root for y in ys])
    tangent_err = np.array([abs(float(y.tangent) - slope) / slope for y in ys])
    floor = 1e-17
    with _drawing(ax, (8.5, 4.6)) as ax:
        ax.semilogy(ks, np.maximum(value_err, floor), "o-", color="#1f77b4", lw=2,
                    label="value:   |y_k − √a| / √a")
        ax.semilogy(ks, np.maximum(tangent_err, floor), "s--", color="#d62728", lw=2,
                    label="tangent: |ẏ_k − 1/(2√a)| / (1/(2√a))")
        ax.axhline(2.2e-16, color="0.5", lw=1, ls=":")
        ax.text(ks[-1], 3e-16, "machine ε", ha="right", va="bottom", fontsize=9, color="0.4")
        ax.set_ylim(floor / 2, max(10.0, 3 * float(max(value_err.max(), tangent_err.max()))))
        ax.set_xticks(ks)
        ax.set_xlabel("Newton iteration k")
        ax.set_ylabel("relative error (0 drawn at 1e-17)")
        last = ys[-1]
        ax.set_title(f"√ of the dual {a:g} + 1ε by y ← (y + x/y)/2:  y_{iterations} = "
                     f"{float(last.value):.10f} + {float(last.tangent):.10f} ε")
        ax.legend(fontsize=9)
        ax.grid(True, alpha=0.3)
    return ax


def newton_widget():
    """Sliders for a and for the number of iterations, redrawing :func:`plot_newton_sqrt`."""
    import ipywidgets as widgets

    a = widgets.FloatLogSlider(value=2.0, base=10, min=-2, max=3, step=0.05, description="a",
                               layout=widgets.Layout(width="55%"))
    k = widgets.IntSlider(value=8, min=1, max=14, description="iterations")
    return widgets.interactive(plot_newton_sqrt, a=a, iterations=k, ax=widgets.fixed(None))
