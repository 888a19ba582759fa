r"""Lesson 0's figures: the U-shaped error of finite differences, Σxᵢ² at n = 1000,
and the expression swell of symbolic derivatives.

* :func:`error_curves`, :func:`plot_error_curve`, :func:`error_curve_widget`:
  truncation (∝ hᵖ) against round-off (∝ ε/h), measured and modelled;
* :func:`sum_of_squares_experiment`, :func:`plot_sum_of_squares`: a forward
  difference at h = √ε against reverse-mode AD on a gradient of 1000 entries;
* :func:`expression_sizes`, :func:`plot_expression_swell`: symbolic derivatives of
  Πxᵢ and of an iterated map, as trees and after common-subexpression elimination.
"""
import math

import numpy as np

from autodiff_ref import numerical as nd

EPS = nd.EPS

#: Functions of the error-curve figure: (f, [f, f', f'', f'''] at x0, x0). Closed forms.
CURVE_FUNCTIONS = {
    "exp(x) at x = 1": (lambda x: np.exp(x), lambda x: (np.exp(x),) * 4, 1.0),
    "sin(x) at x = 1": (lambda x: np.sin(x), lambda x: (np.sin(x), np.cos(x), -np.sin(x), -np.cos(x)), 1.0),
    "1/x at x = 0.2": (lambda x: 1.0 / x, lambda x: (1 / x, -1 / x ** 2, 2 / x ** 3, -6 / x ** 4), 0.2),
}
_CURVE_H = 10.0 ** np.linspace(-16, 0, 321)
_curve_cache = {}


def error_curves(function="exp(x) at x = 1"):
    """Measured errors of the forward and central differences over h = 1e-16 … 1, and the model.

    Returns a dict with ``h``, ``forward``, ``central`` (measured |error|) and
    ``forward_model``, ``central_model`` (:func:`autodiff_ref.numerical.fd_error_model`
    with M and |f| from the closed-form derivatives at x0), plus the optimal steps.
    """
    if function not in _curve_cache:
        f, derivs, x0 = CURVE_FUNCTIONS[function]
        f0, d1, d2, d3 = (abs(float(v)) for v in derivs(x0))
        exact = float(derivs(x0)[1])
        fwd = np.array([abs(nd.forward_difference(f, x0, h=h) - exact) for h in _CURVE_H])
        cen = np.array([abs(nd.central_difference(f, x0, h=h) - exact) for h in _CURVE_H])
        _curve_cache[function] = dict(
            h=_CURVE_H, forward=fwd, central=cen, exact=exact, x0=x0, f=f,
            forward_model=nd.fd_error_model(_CURVE_H, 1, M=d2, f_scale=f0).total,
            central_model=nd.fd_error_model(_CURVE_H, 2, M=d3, f_scale=f0).total,
            forward_best=nd.optimal_step(1, M=d2, f_scale=f0),
            central_best=nd.optimal_step(2, M=d3, f_scale=f0))
    return _curve_cache[function]


FLOOR = 1e-14  # errors below (or exactly 0) are drawn here on the log scale


def plot_error_curve(log10_h=-8.0, function="exp(x) at x = 1", ax=None):
    """The U-shaped error of finite differences, with a marker at h = 10**log10_h."""
    import matplotlib.pyplot as plt

    data = error_curves(function)
    h = 10.0 ** log10_h
    f, x0, exact = data["f"], data["x0"], data["exact"]
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(9, 5.2))
    colors = {"forward": "#1f77b4", "central": "#d62728"}
    for name, label in (("forward", "forward  (f(x+h) − f(x)) / h"),
                        ("central", "central  (f(x+h) − f(x−h)) / 2h")):
        ax.loglog(data["h"], np.maximum(data[name], FLOOR), color=colors[name], lw=1.3, label=label)
        ax.loglog(data["h"], data[name + "_model"], color=colors[name], lw=1.5, ls="--", alpha=0.8,
                  label=f"model: {'M h/2' if name == 'forward' else 'M h²/6'} + "
                        f"{'ε|f|/h' if name == 'forward' else 'ε|f|/2h'}")
        best = data[name + "_best"]
        ax.axvline(best, color=colors[name], lw=0.8, ls=":", alpha=0.9)
        ax.annotate(f"h* = {best:.0e}", (best, 2 * FLOOR), color=colors[name], fontsize=9,
                    rotation=90, ha="center", va="bottom",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))
    errs = {}
    for name, method in (("forward", nd.forward_difference), ("central", nd.central_difference)):
        errs[name] = abs(method(f, x0, h=h) - exact)
        ax.plot([h], [max(errs[name], FLOOR)], "s" if name == "forward" else "o", color=colors[name],
                ms=11 if name == "forward" else 8, mec="black", zorder=5)
    ax.axvline(h, color="black", lw=1.2)
    ax.set_xlim(1e-16, 1)
    ax.set_ylim(FLOOR / 1.5, 30)
    ax.set_xlabel("step h")
    ax.set_ylabel("|error| of the derivative")
    ax.set_title(f"Finite differences of {function}: truncation (right) vs round-off (left)")
    ax.grid(True, which="major", alpha=0.3)

    def digits(e):
        return "all" if e == 0 else f"{max(0.0, -math.log10(e / abs(exact))):.1f}"

    text = (f"h = {h:.1e}\n"
            f"forward: error {errs['forward']:.1e}  ({digits(errs['forward'])} digits)\n"
            f"central: error {errs['central']:.1e}  ({digits(errs['central'])} digits)")
    ax.text(0.015, 0.03, text, transform=ax.transAxes, ha="left", va="bottom", family="monospace",
            fontsize=9.5, bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.95))
    # below the panel: the marker line at h sweeps the whole width, so no corner stays empty
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=9, ncol=2)
    if own:
        fig.tight_layout()
        plt.show()
    return ax


def error_curve_widget():
    """A slider for log10(h) and a menu of functions, redrawing :func:`plot_error_curve`."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=-8.0, min=-16.0, max=0.0, step=0.25, description="log10(h)",
                                 continuous_update=False, readout_format=".2f",
                                 layout=widgets.Layout(width="60%"))
    menu = widgets.Dropdown(options=list(CURVE_FUNCTIONS), value="exp(x) at x = 1", description="f")
    return widgets.interactive(plot_error_curve, log10_h=slider, function=menu, ax=widgets.fixed(None))


def sum_of_squares_experiment(n=1000):
    r"""Σxᵢ² at xᵢ = i: the gradient by a forward difference with h = √ε, and by AD.

    Returns a dict: x, f(x), h, the forward-difference gradient ``fd`` and its
    error, the one at the model's optimal step for this f (M = 2, |f| = f(x)),
    the reverse-mode gradient ``ad`` of :mod:`autodiff_ref`, and for contrast
    the least-squares function ‖x‖² − 2⟨x, c⟩ with c = x − 0.3 (gradient 0.6
    everywhere) at the same step.
    """
    from autodiff_ref import grad

    x = np.arange(1.0, n + 1)
    f = lambda v: np.sum(v * v)  # noqa: E731
    h = math.sqrt(EPS)
    fd = nd.forward_difference(f, x, h=h)
    h_best = nd.optimal_step(1, M=2.0, f_scale=f(x))
    fd_best = nd.forward_difference(f, x, h=h_best)
    ad = grad(f)(x)
    c = x - 0.3
    g_ls = nd.forward_difference(lambda v: np.sum(v * v) - 2 * np.dot(v, c), x, h=h)
    return dict(x=x, f=f(x), h=h, fd=fd, error=fd - 2 * x, h_best=h_best, fd_best=fd_best,
                error_best=fd_best - 2 * x, ad=ad, error_ad=ad - 2 * x,
                least_squares=g_ls, least_squares_true=0.6)


def plot_sum_of_squares(result):
    """Two panels: relative errors of the Σxᵢ² gradient; the least-squares gradient's values."""
    import matplotlib.pyplot as plt

    x = result["x"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw=dict(width_ratios=[1.35, 1]))
    zero_row = 1e-9  # exact answers (error 0) are drawn on this row, labelled "0"
    rel = np.abs(result["error"]) / (2 * x)
    rel_best = np.abs(result["error_best"]) / (2 * x)
    n_exact = int(np.sum(rel == 0))
    ax1.loglog(x, np.where(rel == 0, zero_row, rel), ".", ms=3.5, color="#1f77b4",
               label=f"forward difference, h = √ε ({n_exact} entries exact)")
    ax1.loglog(x, np.where(rel_best == 0, zero_row, rel_best), ".", ms=3.5, color="#2ca02c",
               label=f"forward difference, the model's h* = {result['h_best']:.1e}")
    exact_ad = float(np.max(np.abs(result["error_ad"]))) == 0.0
    ax1.axhline(zero_row, color="#d62728", lw=2.5, alpha=0.6, zorder=0,
                label="reverse-mode AD: all 1000 entries exact" if exact_ad else "reverse-mode AD")
    ax1.set_ylim(zero_row / 4, 4)
    ticks = [zero_row] + [10.0 ** k for k in range(-7, 1)]
    ax1.set_yticks(ticks, ["0"] + [f"$10^{{{k}}}$" for k in range(-7, 1)])
    ax1.minorticks_off()
    ax1.set_xlabel("i  (x_i = i)")
    ax1.set_ylabel("relative error of ∂f/∂x_i")
    ax1.set_title("f(x) = Σ x_i², n = 1000: the gradient's entries")
    ax1.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.15))   # the points fill the panel
    ax1.grid(True, alpha=0.3)

    values, counts = np.unique(result["least_squares"], return_counts=True)
    truth = result["least_squares_true"]
    colors = ["#d62728" if v * truth < 0 else "#7f7f7f" if v == 0 else "#1f77b4" for v in values]
    bars = ax2.bar(values, counts, width=2.2, color=colors)
    ax2.bar_label(bars, fontsize=9)
    ax2.axvline(truth, color="black", lw=1.5, ls="--", label=f"true value {truth}")
    ax2.set_xticks(values)
    ax2.set_xlabel("computed ∂f/∂x_i   (red: wrong sign)")
    ax2.set_ylabel("number of entries (of 1000)")
    ax2.set_title("f(x) = ‖x‖² − 2 x·c, c = x − 0.3, h = √ε")
    ax2.set_ylim(0, max(counts) * 1.12)
    ax2.legend(fontsize=9, loc="center left")   # the gap left of the bar at 0
    ax2.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    plt.show()


def expression_sizes(max_iterations=8, product_sizes=(4, 8, 16, 32, 48)):
    r"""Sizes (``sympy.count_ops``) of symbolic derivatives, for the expression-swell figure.

    * the iterated map :math:`\ell_{k+1} = 4\ell_k(1-\ell_k)`, :math:`\ell_0 = x`:
      the program (3 operations per step), the formula of :math:`\ell_n` and of
      :math:`\ell_n'` as trees, and :math:`\ell_n'` after common-subexpression
      elimination (``sympy.cse``);
    * :math:`f = \prod_{i=1}^n x_i`: all n partial derivatives as formulas,
      after ``cse``, and the operations of one reverse sweep (≈ 3(n − 1)).
    """
    import sympy as sp

    def cse_size(exprs):
        replacements, reduced = sp.cse(exprs)
        return sum(sp.count_ops(e) for _, e in replacements) + sum(sp.count_ops(e) for e in reduced)

    x = sp.Symbol("x")
    ell, it = x, dict(n=[], program=[], f=[], df=[], df_cse=[])
    for k in range(1, max_iterations + 1):
        ell = 4 * ell * (1 - ell)
        d = sp.diff(ell, x)
        for key, val in (("n", k), ("program", 3 * k), ("f", sp.count_ops(ell)),
                         ("df", sp.count_ops(d)), ("df_cse", cse_size([d]))):
            it[key].append(int(val))
    prod = dict(n=[], f=[], grad=[], grad_cse=[], reverse=[])
    for n in product_sizes:
        xs = sp.symbols(f"x1:{n + 1}")
        f = sp.Mul(*xs)
        partials = [sp.diff(f, v) for v in xs]
        for key, val in (("n", n), ("f", sp.count_ops(f)),
                         ("grad", sum(sp.count_ops(p) for p in partials)),
                         ("grad_cse", cse_size(partials)), ("reverse", 3 * (n - 1))):
            prod[key].append(int(val))
    return dict(iterated=it, product=prod)


def plot_expression_swell(sizes):
    """Expression size against n for the iterated map and for Πxᵢ (log scale)."""
    import matplotlib.pyplot as plt

    it, prod = sizes["iterated"], sizes["product"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for key, label, style in (("df", "ℓ_n′ as a formula (tree)", "o-"),
                              ("f", "ℓ_n as a formula (tree)", "s-"),
                              ("df_cse", "ℓ_n′ after common-subexpression elimination", "^-"),
                              ("program", "the program: 3 operations per step", "k--")):
        ax1.semilogy(it["n"], it[key], style, label=label, ms=5)
    ax1.set_xlabel("iterations n of ℓ ← 4ℓ(1 − ℓ)")
    ax1.set_ylabel("operations (sympy.count_ops)")
    ax1.set_title("Nested composition: the derivative formula swells")
    ax1.legend(fontsize=9)
    ax1.grid(True, which="both", alpha=0.3)
    for key, label, style in (("grad", "all n partials as formulas", "o-"),
                              ("grad_cse", "after common-subexpression elimination", "^-"),
                              ("reverse", "reverse mode: ≈ 3(n − 1) multiplications", "k--"),
                              ("f", "f itself: n − 1 multiplications", "s-")):
        ax2.loglog(prod["n"], prod[key], style, label=label, ms=5)
    ax2.set_xticks(prod["n"], [str(n) for n in prod["n"]])
    ax2.minorticks_off()
    ax2.set_xlabel("n")
    ax2.set_ylabel("operations (sympy.count_ops)")
    ax2.set_title("f = x₁x₂⋯x_n: the gradient as formulas grows like n²")
    ax2.legend(fontsize=9)
    ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plt.show()
