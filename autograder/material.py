r"""The lessons' own material that a student's code may use when it is graded.

Everything here is given to the student (the notebook imports it by name), so
it is also available inside the grading sandbox (:mod:`autograder.sandbox`),
where the rest of :mod:`autograder` is not: no checks, no expected values.
Lesson 7: the vector fields of its examples and the RK4 integrator on states
that are arrays or (named) tuples of arrays. Lesson 8: ``unbroadcast``, for a
student whose own (lesson 3b) is not used.
"""
import numpy as np

_asarray, _stack, _sin, _tanh = np.asarray, np.stack, np.sin, np.tanh


# ---------------------------------------------------------------------------
# The systems: f(y, t, *params)
# ---------------------------------------------------------------------------
def decay(y, t, k):
    r"""Exponential decay :math:`\dot y = -k y`; :math:`y(t) = y_0 e^{-kt}`."""
    return -k * y


def lotka_volterra(y, t, theta):
    r"""Lotka–Volterra, θ = (a, b, c, d): prey :math:`\dot x = a x - b x y`, predators
    :math:`\dot y = -c y + d x y`."""
    prey, predators = y[0], y[1]
    return _stack([theta[0] * prey - theta[1] * prey * predators,
                   -theta[2] * predators + theta[3] * prey * predators])


def linear(y, t, A):
    r""":math:`\dot y = A y` with a matrix parameter A."""
    return A @ y


def forced_oscillator(y, t, k, c, w):
    r"""A damped spring pushed by :math:`\sin(\omega t)`: position p, velocity v,
    :math:`\dot p = v`, :math:`\dot v = -k p - c v + \sin(\omega t)` (it depends on t)."""
    return _stack([y[1], -k * y[0] - c * y[1] + _sin(w * t)])


def _tanh_field(y, t, W1, b1, W2):
    """A small MLP vector field W2 tanh(W1 y + b1), the shape of a neural ODE."""
    return W2 @ _tanh(W1 @ y + b1)


# ---------------------------------------------------------------------------
# Helpers given to the student: RK4 on states that are tuples of arrays
# ---------------------------------------------------------------------------
def _tree_map(fn, *trees):
    """Apply fn leaf by leaf to states of the same structure (arrays, floats, (named) tuples)."""
    first = trees[0]
    if isinstance(first, tuple):
        items = [_tree_map(fn, *[tree[i] for tree in trees]) for i in range(len(first))]
        return type(first)(*items) if hasattr(first, "_fields") else tuple(items)
    return fn(*trees)


def rk4_step(field, state, t, h):
    r"""One classical Runge–Kutta step of :math:`\dot s = \mathrm{field}(s, t)` from (s, t)
    to t + h (h may be negative: a step backwards in time).

    `state` is an array, a float, or a (named) tuple of them — an
    :class:`~autodiff_ref.ode.Adjoint` (y, a, a_params), for instance; ``field``
    returns a derivative of the same structure, and so does this function.
    """
    def ahead(fraction, k):
        return _tree_map(lambda s, d: s + (fraction * h) * d, state, k)
    k1 = field(state, t)
    k2 = field(ahead(0.5, k1), t + 0.5 * h)
    k3 = field(ahead(0.5, k2), t + 0.5 * h)
    k4 = field(ahead(1.0, k3), t + h)
    return _tree_map(lambda s, a, b, c, d: s + h * (a / 6 + b / 3 + c / 3 + d / 6), state, k1, k2, k3, k4)


def fixed_steps(step, f, y0, ts, params, steps):
    """y at every time of `ts`, taking `steps` equal steps ``step(field, y, t, h)`` per interval;
    shape (len(ts),) + y0.shape."""
    y = _asarray(y0, dtype=float)
    out = [y]
    for i in range(1, len(ts)):
        h = (ts[i] - ts[i - 1]) / steps
        for j in range(steps):
            y = step(lambda s, t: f(s, t, *params), y, ts[i - 1] + j * h, h)
        out.append(y)
    return _stack(out)


def rk4_solve(f, y0, ts, params, steps):
    """y at every time of `ts` by RK4 with `steps` equal steps per interval; shape (len(ts),) + y0.shape."""
    return fixed_steps(rk4_step, f, y0, ts, params, steps)


# ---------------------------------------------------------------------------
# Lesson 3b's unbroadcast: its broadcast picture, and lesson 8 when the student's own is not used
# ---------------------------------------------------------------------------
def unbroadcast(g, shape):
    """The cotangent g summed back to `shape`: over the leading axes broadcasting added, and
    (keeping them) over the axes where `shape` has length 1. Plain numpy: no AD library."""
    g = _asarray(g, dtype=float)
    if g.ndim < len(shape):
        raise ValueError(f"unbroadcast: a cotangent of shape {g.shape} cannot come from broadcasting "
                         f"an array of shape {tuple(shape)}")
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(axis for axis, n in enumerate(shape) if n == 1), keepdims=True)
