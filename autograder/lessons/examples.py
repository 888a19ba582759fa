r"""The course's worked examples and the elemental partials, written once for
lessons 2, 3 and 5.

The examples, in the order the course meets them (Griewank's numbering,
inputs v₋₁ = x₁, v₀ = x₂):

- :func:`worked_example`, at :data:`WORKED_POINT` = (1.5, 0.5):
  f(x₁, x₂) = [sin(x₁/x₂) + x₁/x₂ − e^{x₂}]·[x₁/x₂ − e^{x₂}], traced as
  v₁ = v₋₁/v₀, v₂ = sin v₁, v₃ = exp v₀, v₄ = v₁ − v₃, v₅ = v₂ + v₄, v₆ = v₅·v₄
  (the shared subexpressions v₁, v₃, v₄ computed once);
- :func:`g_example`, at :data:`G_POINT` = (2, 3): g(x₁, x₂) = x₁x₂ − cos x₂,
  so ∂g/∂x₁ = x₂ and ∂g/∂x₂ = x₁ + sin x₂;
- :func:`adjoint_example`: y = x₁x₂ + x₂ − ln x₁;
- :func:`product_example`: f(x, y) = xy + e^{xy}, the product computed once;
- :func:`polar`: (r, θ) ↦ (r cos θ, r sin θ), a map lessons 2 and 5 push vectors through.

Each example calls its elementary functions through `ops` (keyword-only,
numpy's by default, bound at import so a notebook's rebinding of ``np.sin``
cannot reach them); lesson 3 passes the student's own rules instead.

:data:`ELEMENTAL` is the table of elemental partials c = ∂φ/∂(argument) of
every primitive the lessons use: the numbers and the rule as a student reads it.
"""
from typing import Callable, NamedTuple

import numpy as _np


class Ops(NamedTuple):
    """The elementary functions an example calls."""
    sin: Callable
    cos: Callable
    exp: Callable
    log: Callable


NUMPY = Ops(_np.sin, _np.cos, _np.exp, _np.log)
_sqrt, _tanh, _stack = _np.sqrt, _np.tanh, _np.stack
WORKED_POINT = (1.5, 0.5)
G_POINT = (2.0, 3.0)


def worked_example(x1, x2, *, ops=NUMPY):
    r"""Lesson 2's :math:`[\sin(x_1/x_2) + x_1/x_2 - e^{x_2}]\,[x_1/x_2 - e^{x_2}]`,
    six operations, as lesson 2's trace computes it."""
    v1 = x1 / x2
    v2 = ops.sin(v1)
    v3 = ops.exp(x2)
    v4 = v1 - v3
    v5 = v2 + v4
    return v5 * v4


def g_example(x1, x2, *, ops=NUMPY):
    """g(x₁, x₂) = x₁x₂ − cos x₂: v₁ = v₋₁·v₀, v₂ = cos v₀, v₃ = v₁ − v₂."""
    return x1 * x2 - ops.cos(x2)


def adjoint_example(x1, x2, *, ops=NUMPY):
    """y = x₁x₂ + x₂ − ln x₁, in lesson 3's order:
    v₁ = v₋₁v₀, v₂ = ln v₋₁, v₃ = v₁ + v₀, v₄ = v₃ − v₂."""
    v1 = x1 * x2
    v2 = ops.log(x1)
    v3 = v1 + x2
    return v3 - v2


def product_example(x, y, *, ops=NUMPY):
    """f(x, y) = xy + e^{xy}, the product computed once."""
    v1 = x * y
    return v1 + ops.exp(v1)


def polar(x, *, ops=NUMPY):
    """(r cos θ, r sin θ) of x = (r, θ)."""
    return _stack([x[0] * ops.cos(x[1]), x[0] * ops.sin(x[1])])


class Elemental(NamedTuple):
    """A primitive φ(a, …): its partials (∂φ/∂a, …) at the arguments, and each as a rule."""
    partials: Callable
    rules: tuple


#: primitive (autodiff_ref's name) -> its elemental partials. ``power`` is aᵖ with p a constant.
ELEMENTAL = {
    "add": Elemental(lambda a, b: (1.0, 1.0), ("∂(a + b)/∂a = 1", "∂(a + b)/∂b = 1")),
    "subtract": Elemental(lambda a, b: (1.0, -1.0), ("∂(a − b)/∂a = 1", "∂(a − b)/∂b = −1")),
    "multiply": Elemental(lambda a, b: (b, a), ("∂(a·b)/∂a = b", "∂(a·b)/∂b = a")),
    "divide": Elemental(lambda a, b: (1 / b, -a / (b * b)), ("∂(a/b)/∂a = 1/b", "∂(a/b)/∂b = −a/b²")),
    "negative": Elemental(lambda a: (-1.0,), ("∂(−a)/∂a = −1",)),
    "power": Elemental(lambda a, p: (p * a ** (p - 1),), ("∂(aᵖ)/∂a = p·aᵖ⁻¹",)),
    "sin": Elemental(lambda a: (NUMPY.cos(a),), ("d sin a/da = cos a",)),
    "cos": Elemental(lambda a: (-NUMPY.sin(a),), ("d cos a/da = −sin a",)),
    "exp": Elemental(lambda a: (NUMPY.exp(a),), ("d eᵃ/da = eᵃ",)),
    "log": Elemental(lambda a: (1 / a,), ("d ln a/da = 1/a",)),
    "sqrt": Elemental(lambda a: (0.5 / _sqrt(a),), ("d√a/da = 1/(2√a)",)),
    "tanh": Elemental(lambda a: (1 - _tanh(a) * _tanh(a),), ("d tanh a/da = 1 − tanh²a",)),
}
