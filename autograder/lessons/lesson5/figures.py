r"""Lesson 5's figures: matrices as heat maps, the accumulation of F′ step by
step (forward: A_i ⋯ A_1 Pᵀ; reverse: A_iᵀ ⋯ A_lᵀ Qᵀ), and the unit circle
mapped by J and by Jᵀ, whose semi-axes are the singular values of J.
The matrices come from :mod:`.material`.
"""
import math

import numpy as _np

from autodiff_ref import jvp as _jvp
from autodiff_ref import vjp as _vjp
from autodiff_ref.trace import name as _row_name
from autodiff_ref.trace import subscript as _sub

from .material import extended_steps, position

_array, _asarray, _eye, _stack, _sin, _cos = _np.array, _np.asarray, _np.eye, _np.stack, _np.sin, _np.cos


def labels(tr):
    """Row and column labels of the extended vector: ['v₋₁', 'v₀', 'v₁', …]."""
    return [_row_name(r.index) for r in tr.rows]


def plot_matrix(M, row_labels, col_labels=None, ax=None, title=None, highlight_row=None, vmax=None,
                digits=2, cmap="RdBu_r"):
    """A heatmap of M with its nonzero entries written in the cells."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    M = _asarray(M, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * M.shape[1] + 1.5, 0.45 * M.shape[0] + 1))
    vmax = vmax or max(1e-12, float(_np.max(_np.abs(M))))
    ax.imshow(M, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    for (r, c), value in _np.ndenumerate(M):
        if value != 0:
            strong = abs(value) > 0.6 * vmax
            ax.text(c, r, f"{value:.{digits}f}".replace("-", "−"), ha="center", va="center",
                    fontsize=9.5, color="white" if strong else "black")
    ax.set_yticks(range(M.shape[0]), row_labels)
    ax.set_xticks(range(M.shape[1]), col_labels if col_labels is not None else row_labels)
    ax.xaxis.tick_top()
    ax.set_xticks(_np.arange(-0.5, M.shape[1]), minor=True)
    ax.set_yticks(_np.arange(-0.5, M.shape[0]), minor=True)
    ax.grid(which="minor", color="#dee2e6", lw=0.6)
    ax.tick_params(which="minor", length=0)
    if highlight_row is not None:
        ax.add_patch(Rectangle((-0.5, highlight_row - 0.5), M.shape[1], 1, fill=False, ec="#f08c00", lw=2.5))
    if title:
        ax.set_title(title, fontsize=11, pad=22)
    return ax


def plot_extended_step(tr, k, mode="forward"):
    """Step k of the accumulation: the graph, A_i (or A_iᵀ), and the running product."""
    import matplotlib.pyplot as plt
    steps = extended_steps(tr, mode)
    i, A, M = steps[k]
    n, N = tr.n_inputs, len(tr)
    names = labels(tr)
    fig = plt.figure(figsize=(11.5, 10.4))
    grid = fig.add_gridspec(3, 2, height_ratios=[0.13, 0.62, 1.0], width_ratios=[1.0, 0.36],
                            hspace=0.12, wspace=0.25)
    ax_text = fig.add_subplot(grid[0, :])
    ax_graph = fig.add_subplot(grid[1, :])
    ax_A, ax_M = fig.add_subplot(grid[2, 0]), fig.add_subplot(grid[2, 1])
    ax_text.axis("off")
    ax_text.text(0.0, 0.5, "\n".join(_statements(tr, k, mode)), fontsize=11, family="DejaVu Sans Mono",
                 va="center", ha="left", transform=ax_text.transAxes)
    current = i if i is not None else (0 if mode == "forward" else N - n + 1)
    if mode == "forward":  # rows up to v_i have their tangent; the rest are still to come
        shown = {r.index: f"v̇ = {M[position(r.index, n), 0]:.4g}" for r in tr.rows if r.index <= current}
        dim = [r.index for r in tr.rows if r.index > current]
    else:  # rows from v_i on are finished (their v̄ has been sent on); the rest are accumulating
        final = {r.index: float(_np.ravel(r.adjoint)[0]) for r in tr.rows}
        finished = k == len(steps) - 1
        shown = {r.index: (f"v̄ = {final[r.index]:.4g}" if r.index >= current or finished
                           else f"so far {M[position(r.index, n), 0]:.4g}") for r in tr.rows}
        dim = []
    tr.draw(ax=ax_graph, highlight=i, show=None, labels=shown, dim=dim,
            flow="forward" if mode == "forward" else "reverse")
    ax_graph.set_title(("forward: v̇ for ẋ = e₁ (first column)" if mode == "forward"
                        else "reverse: v̄ for ȳ = 1 (first column)"), fontsize=11)
    vmax = max(float(_np.max(_np.abs(s[2]))) for s in steps)
    vmax = max(vmax, max(float(_np.max(_np.abs(s[1]))) for s in steps[1:]))
    if A is None:
        ax_A.axis("off")
        ax_A.text(0.5, 0.5, ("start: Pᵀ embeds ẋ in the inputs' rows" if mode == "forward"
                             else "start: Qᵀ puts ȳ in the outputs' rows"),
                  ha="center", va="center", fontsize=11, transform=ax_A.transAxes)
    else:
        shown_A = A if mode == "forward" else A.T
        plot_matrix(shown_A, names, ax=ax_A, vmax=vmax,
                    highlight_row=position(i, n) if mode == "forward" else None,
                    title=(f"A{_sub(i)}: row {names[position(i, n)]} ← its elemental partials"
                           if mode == "forward" else
                           f"A{_sub(i)}ᵀ: column {names[position(i, n)]} sends v̄ to its parents"))
        if mode == "reverse":
            from matplotlib.patches import Rectangle
            ax_A.add_patch(Rectangle((position(i, n) - 0.5, -0.5), 1, N, fill=False, ec="#f08c00", lw=2.5))
    cols = [f"ẋ = e{_sub(j + 1)}" for j in range(n)] if mode == "forward" else \
        [f"ȳ = e{_sub(j + 1)}" if M.shape[1] > 1 else "ȳ = 1" for j in range(M.shape[1])]
    done = ("A" + _sub(i) + " ⋯ A₁ Pᵀ" if mode == "forward" else "A" + _sub(i) + "ᵀ ⋯ A" + _sub(N - n) + "ᵀ Qᵀ") \
        if i is not None else ("Pᵀ" if mode == "forward" else "Qᵀ")
    plot_matrix(M, names, cols, ax=ax_M, vmax=vmax, digits=3,
                highlight_row=position(i, n) if i is not None else None, title=done)
    l = N - n
    fig.suptitle(f"{mode} accumulation, step {k} of {l}" + ("" if i is None else f": row {names[position(i, n)]} = "
                 f"{tr.row(i).operation.split(' = ', 1)[1]}"), fontsize=13, y=0.92)
    return fig


def _statements(tr, k, mode):
    """What step k executes, as the lesson-2/3 widgets write it (shared helpers)."""
    from autograder.widgets import partial_text, reverse_steps, tangent_statement
    l = len(tr) - tr.n_inputs
    if k == 0:
        return ["Pᵀ: the inputs' rows hold the seed ẋ (one column per input direction)" if mode == "forward"
                else "Qᵀ: the output's row holds the seed ȳ; every other adjoint starts at 0"]
    i = k if mode == "forward" else l - k + 1
    partials = ", ".join(f"c{_sub(i)},{_sub(j)} = {text} = {c:.4g}".replace("-", "−")
                         for text, c, j in zip(partial_text(tr, i), tr.row(i).partials, tr.row(i).parents))
    if mode == "forward":
        return [f"elemental partials: {partials}", tangent_statement(tr, i)]
    lines = reverse_steps(tr)[k].statements
    return [f"elemental partials: {partials}", "; ".join(lines)
            + f";  then v̄{_sub(i)} ← 0 (passed on)"]


def extended_system_widget(tr):
    """A slider over the steps of the accumulation and a forward/reverse switch."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    l = len(tr) - tr.n_inputs

    def draw(k, mode):
        plot_extended_step(tr, k, "forward" if mode.startswith("forward") else "reverse")
        plt.show()

    step = widgets.IntSlider(value=0, min=0, max=l, description="step", continuous_update=False)
    mode = widgets.ToggleButtons(options=["forward  (A₁ first)", f"reverse  (A{_sub(l)}ᵀ first)"],
                                 description="mode")
    out = widgets.interactive_output(draw, {"k": step, "mode": mode})
    return widgets.VBox([widgets.HBox([step, mode]), out])


# ---- the unit circle mapped by J and Jᵀ -----------------------------------------

def twist(x):
    r"""The 2-d map of the linear-map widget, :math:`(x_1^2 - x_2,\ \sin x_1 + x_1 x_2)`."""
    return _stack([x[0] * x[0] - x[1], _sin(x[0]) + x[0] * x[1]])


def plot_linear_map(x1=0.8, x2=0.4, v_angle=30.0, ybar_angle=120.0, f=twist, axes=None):
    """Input space (left) and output space (right) of J = f′(x): circles, ellipses, v, Jv, ȳ, Jᵀȳ."""
    import matplotlib.pyplot as plt
    if axes is None:   # laid out with the legends below the panels
        _, axes = plt.subplots(1, 2, figsize=(11.5, 5.6), layout="constrained")
    ax_in, ax_out = axes
    x = _array([x1, x2])
    J = _stack([_jvp(f, (x,), (e,))[1] for e in _eye(2)], axis=1)
    t = _np.linspace(0, 2 * math.pi, 241)
    circle = _stack([_cos(t), _sin(t)])
    v = _array([math.cos(math.radians(v_angle)), math.sin(math.radians(v_angle))])
    ybar = _array([math.cos(math.radians(ybar_angle)), math.sin(math.radians(ybar_angle))])
    Jv = _jvp(f, (x,), (v,))[1]
    JTy = _vjp(f, x)[1](ybar)[0]
    U, S, Vt = _np.linalg.svd(J)
    blue, orange = "#1971c2", "#e8590c"

    def arrow(ax, vec, color, label):
        ax.annotate("", xy=vec, xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=color, lw=2.4))
        ax.text(*(vec * 1.08 + 0.02), label, color=color, fontsize=12, fontweight="bold")

    ax_in.plot(*circle, color="#adb5bd", lw=1.4, label="unit circle: all v")
    ax_in.plot(*(J.T @ circle), color=orange, lw=1.6, ls="--", label="Jᵀ of the unit circle of ȳ")
    arrow(ax_in, v, blue, "v")
    arrow(ax_in, JTy, orange, "Jᵀȳ")
    ax_out.plot(*circle, color="#adb5bd", lw=1.4, label="unit circle: all ȳ")
    ax_out.plot(*(J @ circle), color=blue, lw=1.6, ls="--", label="J of the unit circle of v")
    arrow(ax_out, ybar, orange, "ȳ")
    arrow(ax_out, Jv, blue, "Jv")
    for k in range(2):  # the semi-axes: singular values, along V's columns (in) and U's columns (out)
        ax_out.plot([0, S[k] * U[0, k]], [0, S[k] * U[1, k]], color=blue, lw=0.8, alpha=0.6)
        ax_in.plot([0, S[k] * Vt[k, 0]], [0, S[k] * Vt[k, 1]], color=orange, lw=0.8, alpha=0.6)
    reach = max(1.25, 1.15 * S[0])
    for ax, title in ((ax_in, f"input space ℝ²  (at x = ({x1:.2f}, {x2:.2f}))"), (ax_out, "output space ℝ²")):
        ax.set_xlim(-reach, reach)
        ax.set_ylim(-reach, reach)
        ax.set_aspect("equal")
        ax.axhline(0, color="#dee2e6", lw=0.8, zorder=0)
        ax.axvline(0, color="#dee2e6", lw=0.8, zorder=0)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("first coordinate")
        ax.set_ylabel("second coordinate")
        # below the panel: as x moves, the ellipse turns into any corner
        ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    lhs, rhs = float(ybar @ Jv), float(JTy @ v)
    plt.suptitle(f"⟨ȳ, Jv⟩ = {lhs:+.6f}     ⟨Jᵀȳ, v⟩ = {rhs:+.6f}     "
                 f"singular values {S[0]:.3f}, {S[1]:.3f} (semi-axes of both ellipses)", fontsize=11.5)
    return axes


#: slider -> (start, lowest, highest, step, label) of :func:`linear_map_widget`
_LINEAR_MAP_SLIDERS = {
    "x1": (0.8, -1.5, 1.5, 0.05, "x₁"),
    "x2": (0.4, -1.5, 1.5, 0.05, "x₂"),
    "v_angle": (30.0, 0.0, 360.0, 5.0, "angle of v (°)"),
    "ybar_angle": (120.0, 0.0, 360.0, 5.0, "angle of ȳ (°)"),
}


def linear_map_widget(f=twist):
    """Sliders for the point x and the angles of v and ȳ."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(x1, x2, v_angle, ybar_angle):
        plot_linear_map(x1, x2, v_angle, ybar_angle, f=f)
        plt.show()

    controls = {name: widgets.FloatSlider(value=start, min=lo, max=hi, step=step, description=label,
                                          continuous_update=False, style={"description_width": "initial"})
                for name, (start, lo, hi, step, label) in _LINEAR_MAP_SLIDERS.items()}
    out = widgets.interactive_output(draw, controls)
    return widgets.VBox([widgets.HBox([controls["x1"], controls["x2"]]),
                         widgets.HBox([controls["v_angle"], controls["ybar_angle"]]), out])
