r"""Lesson 3b's pictures: a broadcast and its summed-back cotangent, shape by shape.

z = x + y with y of shape (3, 4) copies each entry of x to every cell of z
that lines up with it. In reverse every copy sends its ḡ back, so
x̄ᵢ = Σ ḡ over the cells that copy xᵢ — the panels colour those cells.
"""
import numpy as np

from ...material import unbroadcast

#: x's shapes offered by the widget, as (label, shape).
SHAPES = [("(3, 1): a column", (3, 1)), ("(1, 4): a row", (1, 4)), ("(4,): a vector", (4,)),
          ("(): a scalar", ()), ("(3, 4): no broadcast", (3, 4))]
OUT_SHAPE = (3, 4)


def cotangent():
    """ḡ of the output: the integers 1 … 12, so the sums can be checked by eye."""
    return np.arange(1.0, 13.0).reshape(OUT_SHAPE)


def source_of(shape):
    """For each cell of the (3, 4) output, the flat index of the entry of x it copies."""
    flat = np.arange(int(np.prod(shape))).reshape(shape)
    return np.broadcast_to(flat, OUT_SHAPE)


def _grid(ax, values, highlight, title, fmt="{:.0f}", cmap=None):
    values = np.atleast_2d(values) if np.ndim(values) < 2 else values
    highlight = np.atleast_2d(highlight) if np.ndim(highlight) < 2 else highlight
    rows, cols = values.shape
    ax.imshow(np.where(highlight, 1.0, 0.15), cmap=cmap or "Oranges", vmin=0, vmax=1.4,
              extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
    for r in range(rows):
        for c in range(cols):
            ax.text(c, r, fmt.format(values[r, c]), ha="center", va="center", fontsize=10,
                    fontweight="bold" if highlight[r, c] else "normal")
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xlim(-0.5, OUT_SHAPE[1] - 0.5)
    ax.set_ylim(OUT_SHAPE[0] - 0.5, -0.5)
    ax.set_xlabel("column index")
    ax.set_ylabel("row index")
    ax.set_title(title, fontsize=10)


def plot_broadcast(shape, entry=0):
    """Four panels: x, the output z = x + y (the copies of x's entry `entry` coloured),
    ḡ with the same cells coloured, and x̄ = ḡ summed back, with the sum written out."""
    import matplotlib.pyplot as plt
    size = int(np.prod(shape))
    entry = min(entry, size - 1)
    x = np.arange(1.0, size + 1).reshape(shape) / 10
    src = source_of(shape)
    hit = src == entry
    g = cotangent()
    xbar = unbroadcast(g, shape)
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), constrained_layout=True)
    own = np.arange(size).reshape(shape) == entry
    _grid(axes[0], x, own, f"x, shape {shape}", "{:.1f}")
    _grid(axes[1], np.broadcast_to(x, OUT_SHAPE), hit, f"z = x + y, shape {OUT_SHAPE}:\nthe copies of x's entry",
          "{:.1f}", cmap="Blues")
    _grid(axes[2], g, hit, "ḡ = ∂L/∂z: the copies'\ncotangents", cmap="Blues")
    terms = " + ".join(f"{v:.0f}" for v in g[hit])
    total = float(g[hit].sum())
    _grid(axes[3], xbar, own, f"x̄ = ḡ summed back, shape {np.shape(xbar)}\n"
          f"{terms if len(terms) < 28 else '…'} = {total:.0f}")
    return fig


def broadcast_widget():
    """A dropdown for x's shape and a slider for the entry of x to follow."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    shape = widgets.Dropdown(options=SHAPES, value=(3, 1), description="shape of x")
    entry = widgets.IntSlider(value=0, min=0, max=2, description="entry of x")

    def limit(change):
        entry.max = max(int(np.prod(change["new"])) - 1, 0)
    shape.observe(limit, names="value")

    def draw(shape, entry):
        plot_broadcast(shape, entry)
        plt.show()

    out = widgets.interactive_output(draw, {"shape": shape, "entry": entry})
    return widgets.VBox([widgets.HBox([shape, entry]), out])
