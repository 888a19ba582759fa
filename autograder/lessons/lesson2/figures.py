r"""Lesson 2's figures: a JVP pushing a direction forward, and the cost of a JVP.

For f: Rⁿ → Rᵐ, J v is the tangent of the curve t ↦ f(x + t v) at t = 0: the
JVP maps a direction at x to a direction at f(x). One forward sweep costs a
bounded multiple of f (w_tan ≤ 2.5 by operation count), whatever n is.
"""
import math

import numpy as _np

from autodiff_ref import jvp as _ref_jvp

from ..cost import cost_function, cost_ratios, plot_cost_ratios
from ..examples import polar

_sin, _cos, _stack, _array = _np.sin, _np.cos, _np.stack, _np.array


def jvp_picture(angle=0.0, ax=None):
    r"""A JVP pushes a direction forward: v at x (left) and J v at f(x) (right),
    for the polar map f(r, θ) = (r cos θ, r sin θ) at (r, θ) = (1.5, 0.6).

    The small circle of directions around x maps to (nearly) an ellipse around
    f(x); J v is the tangent of the curve t ↦ f(x + t v) at t = 0.
    """
    import matplotlib.pyplot as plt

    x = _array([1.5, 0.6])
    v = _array([math.cos(angle), math.sin(angle)])
    fx, jv = _ref_jvp(polar, (x,), (v,))
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(9.5, 4.2))
    left, right = ax
    t = _np.linspace(0, 2 * math.pi, 200)
    r = 0.25
    circle = x[:, None] + r * _stack([_cos(t), _sin(t)])
    arrow = dict(arrowstyle="-|>", color="#d9480f", lw=2)
    left.plot(circle[0], circle[1], color="0.6")
    left.annotate("", xy=x + r * v, xytext=x, arrowprops=arrow)
    left.plot(*x, "ko")
    left.set_title("input: x = (r, θ) = (1.5, 0.6) and a direction v")
    left.set_xlabel("r")
    left.set_ylabel("θ")
    image = polar(circle)
    right.plot(image[0], image[1], color="0.6", label="f(circle around x)")
    line = _stack([polar(x + s * r * v) for s in _np.linspace(-1, 1, 41)], axis=1)
    right.plot(line[0], line[1], color="#1c7ed6", lw=1.5, label="f(x + t v)")
    right.annotate("", xy=fx + r * jv, xytext=fx, arrowprops=arrow)
    right.plot(*fx, "ko")
    right.set_title(f"output: J v = ({jv[0]:.3f}, {jv[1]:.3f})")
    right.set_xlabel("f₁ = r cos θ")
    right.set_ylabel("f₂ = r sin θ")
    # below the panel: the ellipse reaches every corner of it
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=2)
    for a in (left, right):
        a.set_aspect("equal")
        a.grid(alpha=0.3)
    left.figure.tight_layout()
    return ax


def jvp_widget():
    """A slider turning the direction v; redraws :func:`jvp_picture`."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(angle_degrees=0):
        jvp_picture(math.radians(angle_degrees))
        plt.show()
    slider = widgets.IntSlider(value=0, min=0, max=360, step=5, description="angle of v (°)",
                               style={"description_width": "initial"}, continuous_update=False)
    return widgets.interactive(draw, angle_degrees=slider)


def tangent_cost(sizes=(10, 100, 1_000, 10_000, 100_000, 1_000_000), repeat=5):
    r"""w_tan = T(f and its JVP) / T(f) for :func:`~autograder.lessons.cost.cost_function`
    with :func:`autodiff_ref.jvp`: a list of dicts (n, t_f, t_jvp, ratio), measured here."""
    return cost_ratios(lambda x, v: _ref_jvp(cost_function, (x,), (v,)), sizes, repeat, "t_jvp")


def plot_cost(rows, bound, label, ax=None):
    """Ratios measured against n, with the operation-count bound as a line."""
    return plot_cost_ratios([(label, rows, "o-")], bound, ax=ax)
