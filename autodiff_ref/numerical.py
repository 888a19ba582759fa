r"""Numerical differentiation: finite differences, the complex step, and their errors.

These are the *other* way to get derivatives — the one automatic
differentiation is measured against. Every formula below replaces the limit
in the definition of the derivative by a finite step :math:`h`, which costs two
kinds of error:

* **truncation**: the Taylor terms the formula drops. For a method of order
  :math:`p` it behaves like :math:`C\,M\,h^p`, where :math:`M` bounds the
  derivative that appears in the first dropped term.
* **round-off**: :math:`f` is evaluated in floating point, so each value carries
  a relative error up to the unit round-off :math:`u = \varepsilon/2`
  (:math:`\varepsilon = 2^{-52}` for float64). Subtracting two nearly equal
  values keeps that absolute error and the division by :math:`h` magnifies it:
  about :math:`\varepsilon\,|f|/h`.

Truncation shrinks as :math:`h \to 0`, round-off grows: the total error is a
U-shaped curve with a minimum near :func:`optimal_step`. :func:`fd_error_model`
returns both terms so a lesson can plot the model next to measured errors.

Shapes. Derivatives of ``f`` at ``x`` have shape ``f(x).shape + x.shape``:
a float for scalar ``f`` and scalar ``x``, the gradient (shape of ``x``) for a
scalar ``f`` of an array ``x``, and the full Jacobian in general.
:func:`numerical_jacobian` flattens it to the ``(m, n)`` matrix of
:math:`f:\mathbb{R}^n\to\mathbb{R}^m`.
"""
from typing import NamedTuple

import numpy as np

#: Machine epsilon of float64: the gap between 1.0 and the next float, 2**-52.
EPS = float(np.finfo(np.float64).eps)

# Truncation constants C in C·M·h^p (from the first dropped Taylor term):
# forward  (f(x+h) − f(x))/h        = f' + h/2 f''   + …  → C = 1/2, M = |f''|
# central  (f(x+h) − f(x−h))/(2h)   = f' + h²/6 f''' + …  → C = 1/6, M = |f'''|
_TRUNCATION = {1: 0.5, 2: 1.0 / 6.0}
# Round-off: forward ≈ ε|f|/h; central ≈ ε|f|/(2h) (two errors of u|f| over 2h).
_ROUNDOFF = {1: 1.0, 2: 0.5}
_SCHEMES = {"forward": 1, "central": 2, 1: 1, 2: 2}


# --------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------

def _check_callable(f, name="f"):
    if not callable(f):
        raise TypeError(f"{name} must be a function (a callable), got {type(f).__name__} {f!r:.60}")


def _check_step(h, name="h"):
    try:
        h = float(h)
    except (TypeError, ValueError):
        raise TypeError(f"step {name} must be a positive number, got {h!r:.60}") from None
    if not np.isfinite(h) or h <= 0:
        raise ValueError(f"step {name} must be positive and finite, got {name}={h!r}; "
                         f"a typical choice is {name}=1e-6 (or leave it out for a default)")
    return h


def _as_point(x):
    """x as a float array, refusing things that are not real numbers."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"x must be a real number or an array of them, got {x!r:.60}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"x must be finite, got {x!r:.60}")
    return arr


def _scheme(order):
    if order not in _SCHEMES:
        raise ValueError(f"order must be 1 (forward difference) or 2 (central difference), got {order!r}")
    return _SCHEMES[order]


def _steps(x, h, order):
    """Per-coordinate steps: `h` as given, or the optimal step scaled by max(1, |x_i|)."""
    if h is None:
        return optimal_step(order) * np.maximum(1.0, np.abs(x))
    return np.full(x.shape, _check_step(h))


def _call(f, x, scalar):
    return np.asarray(f(float(x) if scalar else x), dtype=np.float64)


def _difference(f, x, h, order):
    """Shared loop of forward and central differences, one coordinate at a time."""
    _check_callable(f)
    x = _as_point(x)
    steps = _steps(x, h, order)
    scalar = x.ndim == 0
    flat_x = x.reshape(-1)
    f0 = _call(f, x, scalar)
    columns = []
    for k in range(flat_x.size):
        step = np.zeros_like(flat_x)
        step[k] = steps.reshape(-1)[k]
        up = _call(f, (flat_x + step).reshape(x.shape), scalar)
        if order == 1:
            columns.append((up - f0) / step[k])
        else:
            down = _call(f, (flat_x - step).reshape(x.shape), scalar)
            columns.append((up - down) / (2.0 * step[k]))
    jac = np.stack(columns, axis=-1).reshape(f0.shape + x.shape)
    return float(jac) if jac.ndim == 0 else jac


# --------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------

def forward_difference(f, x, h=None):
    r"""One-sided (forward) difference, first order accurate.

    .. math::
        \frac{\partial f}{\partial x_i}(x) \approx \frac{f(x + h e_i) - f(x)}{h},
        \qquad \text{error} = \tfrac{h}{2} f''(\xi) = O(h).

    `x` is a float or an array (then the result is the gradient of a scalar
    `f`, or the Jacobian with shape ``f(x).shape + x.shape``). `h` is the
    absolute step; by default :func:`optimal_step` ``(1)`` ≈ √ε scaled by
    ``max(1, |x_i|)``. Costs ``n + 1`` evaluations of `f`.
    """
    return _difference(f, x, h, 1)


def central_difference(f, x, h=None):
    r"""Central (two-sided) difference, second order accurate.

    .. math::
        \frac{\partial f}{\partial x_i}(x) \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h},
        \qquad \text{error} = \tfrac{h^2}{6} f'''(\xi) = O(h^2).

    The even Taylor terms cancel between the two sides, which is why the
    error drops from O(h) to O(h²). Shapes as in :func:`forward_difference`;
    default step :func:`optimal_step` ``(2)`` ≈ ∛ε scaled by ``max(1, |x_i|)``.
    Costs ``2n`` evaluations of `f`.
    """
    return _difference(f, x, h, 2)


def complex_step(f, x, h=1e-20):
    r"""Complex-step derivative: no subtraction, hence no cancellation.

    For `f` real-analytic and real on the real axis,

    .. math::
        f(x + i h e_k) = f(x) + i h\, \partial_k f(x) - \tfrac{h^2}{2}\partial_k^2 f(x) + O(h^3)
        \;\Rightarrow\; \partial_k f(x) = \frac{\operatorname{Im} f(x + i h e_k)}{h} + O(h^2).

    The imaginary part is read off directly, so `h` can be tiny (1e-20 by
    default) and the result is exact to working precision. `f` must accept
    complex inputs and must not use ``abs``, comparisons or ``np.real`` on
    its way (those are not analytic). Shapes as in :func:`forward_difference`.
    """
    _check_callable(f)
    h = _check_step(h)
    x = _as_point(x)
    flat_x = x.reshape(-1).astype(np.complex128)
    columns = []
    for k in range(flat_x.size):
        z = flat_x.copy()
        z[k] += 1j * h
        point = complex(z[0]) if x.ndim == 0 else z.reshape(x.shape)
        columns.append(np.imag(np.asarray(f(point))) / h)
    jac = np.stack(columns, axis=-1)
    jac = jac.reshape(jac.shape[:-1] + x.shape)
    return float(jac) if jac.ndim == 0 else jac


def mixed_partial(f, x, i, j, h=None):
    r"""Second partial derivative :math:`\partial^2 f / \partial x_i \partial x_j` by the 4-point formula.

    .. math::
        \frac{\partial^2 f}{\partial x_i\,\partial x_j} \approx
        \frac{f(x{+}h e_i{+}k e_j) - f(x{+}h e_i{-}k e_j) - f(x{-}h e_i{+}k e_j) + f(x{-}h e_i{-}k e_j)}{4hk}

    Truncation error O(h² + k²); round-off ≈ ε|f|/(hk), so the best step is
    near ε^{1/4} ≈ 1e-4 (the default, scaled by ``max(1, |x|)``). `h` is one
    step for both directions or a pair ``(h, k)``. With ``i == j`` the formula
    is the second derivative with step 2h. `f` must return a scalar; `x` is
    an array of at least ``max(i, j) + 1`` entries (or a pair of floats).
    """
    _check_callable(f)
    x = _as_point(x)
    if x.ndim != 1:
        raise ValueError(f"mixed_partial needs x as a 1-d array of coordinates, got shape {x.shape}")
    n = x.size
    for name, idx in (("i", i), ("j", j)):
        if not isinstance(idx, (int, np.integer)) or not -n <= idx < n:
            raise IndexError(f"{name}={idx!r} is not a coordinate index of x (x has {n} entries)")
    scale = max(1.0, float(np.max(np.abs(x))))
    if h is None:
        hi = hj = EPS ** 0.25 * scale
    elif np.ndim(h) == 0:
        hi = hj = _check_step(h)
    else:
        hi, hj = (_check_step(s, name) for s, name in zip(h, ("h", "k")))
    ei = np.zeros(n)
    ei[i] = hi
    ej = np.zeros(n)
    ej[j] = hj

    def val(p):
        out = np.asarray(f(p), dtype=np.float64)
        if out.size != 1:
            raise ValueError(f"mixed_partial needs a scalar-valued f, f returned shape {out.shape}")
        return float(out.reshape(()))

    return (val(x + ei + ej) - val(x + ei - ej) - val(x - ei + ej) + val(x - ei - ej)) / (4.0 * hi * hj)


def numerical_jacobian(f, x, h=None):
    r"""The Jacobian of :math:`f:\mathbb{R}^n\to\mathbb{R}^m` by central differences, as an ``(m, n)`` matrix.

    Column :math:`j` is :math:`(f(x+h e_j) - f(x-h e_j))/(2h)`, error O(h²).
    Inputs and outputs of any shape are flattened (row-major), so ``m`` is
    ``f(x).size`` and ``n`` is ``x.size``.
    """
    x = _as_point(x)
    jac = np.asarray(central_difference(f, x, h))
    n = x.size
    return jac.reshape(-1, n) if n else jac.reshape(-1, 0)


def gradient_error(f, grad_f, x, h=None):
    r"""Relative disagreement between a claimed gradient and central differences.

    .. math::
        \text{err} = \frac{\lVert g - \hat g\rVert_\infty}{\max(\lVert \hat g\rVert_\infty, 1)},
        \quad g = \texttt{grad\_f}(x),\ \hat g = \text{central\_difference}(f, x).

    A correct gradient gives about 1e-10 or less on smooth functions of
    moderate size (the central-difference error at the default step); a
    wrong rule gives something of order 1. Raises ValueError when the shapes
    disagree, since that is a bug of its own.
    """
    _check_callable(f)
    _check_callable(grad_f, "grad_f")
    g_hat = np.asarray(central_difference(f, x, h), dtype=np.float64)
    g = np.asarray(grad_f(x), dtype=np.float64)
    if g.shape != g_hat.shape:
        raise ValueError(f"grad_f returned shape {g.shape}, but the gradient of f at x has shape {g_hat.shape}")
    if g.size == 0:
        return 0.0
    return float(np.max(np.abs(g - g_hat)) / max(float(np.max(np.abs(g_hat))), 1.0))


# --------------------------------------------------------------------------
# the error model
# --------------------------------------------------------------------------

class FDError(NamedTuple):
    """The two parts of a finite-difference error estimate, and their sum."""
    truncation: np.ndarray | float
    roundoff: np.ndarray | float
    total: np.ndarray | float


def fd_error_model(h, order=1, M=1.0, f_scale=1.0, eps=EPS):
    r"""Model of the error of a finite difference with step `h`.

    .. math::
        E(h) = \underbrace{C_p\,M\,h^p}_{\text{truncation}}
             + \underbrace{R_p\,\varepsilon\,|f|/h}_{\text{round-off}}

    * forward difference (``order=1``): :math:`C_1 = 1/2`, :math:`M = |f''|`,
      :math:`R_1 = 1`;
    * central difference (``order=2``): :math:`C_2 = 1/6`, :math:`M = |f'''|`,
      :math:`R_2 = 1/2` (each of the two values carries about
      :math:`\varepsilon|f|/2`, and the quotient divides by :math:`2h`).

    `f_scale` is :math:`|f|` near `x`; `h` may be an array (for plotting).
    The round-off term is an upper estimate: measured errors scatter below it.
    Returns an :class:`FDError` ``(truncation, roundoff, total)``.
    """
    p = _scheme(order)
    h_arr = np.asarray(h, dtype=np.float64)
    if not np.all(h_arr > 0) or not np.all(np.isfinite(h_arr)):
        raise ValueError(f"every step h must be positive and finite, got {h!r:.60}")
    if M < 0 or f_scale < 0 or eps <= 0:
        raise ValueError(f"M and f_scale must be >= 0 and eps > 0, got M={M}, f_scale={f_scale}, eps={eps}")
    truncation = _TRUNCATION[p] * M * h_arr ** p
    roundoff = _ROUNDOFF[p] * eps * f_scale / h_arr
    total = truncation + roundoff
    if h_arr.ndim == 0:
        return FDError(float(truncation), float(roundoff), float(total))
    return FDError(truncation, roundoff, total)


def optimal_step(order=1, M=1.0, f_scale=1.0, eps=EPS):
    r"""The step that minimises :func:`fd_error_model`.

    Setting :math:`dE/dh = 0` in :math:`E = C_p M h^p + R_p\varepsilon|f|/h` gives

    .. math::
        h^* = \left(\frac{R_p\,\varepsilon\,|f|}{p\,C_p\,M}\right)^{1/(p+1)}
        = \begin{cases}
            \sqrt{2\varepsilon|f|/M} \approx 2.1\times10^{-8} & \text{forward } (p=1)\\[2pt]
            \sqrt[3]{1.5\,\varepsilon|f|/M} \approx 6.9\times10^{-6} & \text{central } (p=2)
          \end{cases}

    (numbers for :math:`|f| = M = 1`): the familiar rules of thumb
    :math:`h \approx \sqrt{\varepsilon}` and :math:`h \approx \sqrt[3]{\varepsilon}`.
    At :math:`h^*` the error is about :math:`\sqrt{\varepsilon}` (forward) and
    :math:`\varepsilon^{2/3}` (central): half and two thirds of the digits.
    """
    p = _scheme(order)
    if M <= 0 or f_scale <= 0 or eps <= 0:
        raise ValueError(f"optimal_step needs M > 0, f_scale > 0 and eps > 0, "
                         f"got M={M}, f_scale={f_scale}, eps={eps}")
    return float((_ROUNDOFF[p] * eps * f_scale / (p * _TRUNCATION[p] * M)) ** (1.0 / (p + 1)))


__all__ = ["EPS", "FDError", "forward_difference", "central_difference", "complex_step",
           "mixed_partial", "numerical_jacobian", "gradient_error", "fd_error_model",
           "optimal_step"]
