r"""The cost of a derivative relative to the program, measured as lessons 2 and 3 do.

For f = :func:`cost_function` on xᵢ ∈ [−1, 1] of length n, the ratio
T(f and its derivative) / T(f) is bounded by an operation count independent of
n (w_tan ≤ 2.5 for a JVP, w_grad ≤ 4 for a gradient), while a gradient by
forward mode costs n JVPs. The numbers are the machine's it runs on: a figure
shows them next to the bound, no test asserts them.
"""
import numpy as _np

from autograder.widgets import time_ratio

from .examples import NUMPY

_sum = _np.sum


def cost_function(x, *, ops=NUMPY):
    """Σᵢ sin(xᵢ)·xᵢ + e^{−xᵢ²}·cos xᵢ: elementwise work, then a sum."""
    return _sum(ops.sin(x) * x + ops.exp(-x * x) * ops.cos(x))


def cost_ratios(derivative, sizes, repeat, key):
    r"""Time ``derivative(x, v)`` against ``cost_function(x)`` for x of each size
    (v a random direction): a list of dicts (n, t_f, `key`, ratio)."""
    rng = _np.random.default_rng(0)
    rows = []
    for n in sizes:
        x = rng.uniform(-1, 1, n)
        v = rng.normal(size=n)
        t_d, t_f, ratio = time_ratio(lambda: derivative(x, v), lambda: cost_function(x), repeat=repeat,
                                     min_time=0.005 if n < 100_000 else 0.0)
        rows.append({"n": n, "t_f": t_f, key: t_d, "ratio": ratio})
    return rows


def plot_cost_ratios(series, bound, ax=None):
    """Ratios against n on log axes, one line per (label, rows, marker), the bound dashed."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    for label, rows, marker in series:
        ax.loglog([r["n"] for r in rows], [r["ratio"] for r in rows], marker, label=label)
    ax.axhline(bound, color="#d9480f", ls="--", label=f"operation-count bound {bound}")
    ax.set_xlabel("n (length of x)")
    ax.set_ylabel("time ratio")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax
