r"""Lesson 7's material: the named test systems, the true Lotka–Volterra parameters and the
data sets of the demos (noisy Lotka–Volterra observations, a damped spiral, a small MLP field).

The systems themselves and RK4 live in :mod:`autograder.material`, because the student's
code imports them (also inside the grading sandbox); here they get the names a failure
message prints.
"""
import math
import types

import numpy

from autograder.checks import Named
from autograder.material import _tanh_field, decay, forced_oscillator, linear, lotka_volterra

# A private copy of numpy's namespace, taken at import (before any student cell runs).
np = types.SimpleNamespace(**vars(numpy))
_array, _stack, _tanh, _zeros = np.array, np.stack, np.tanh, np.zeros
LV_TRUE = (1.5, 1.0, 3.0, 1.0)

DECAY = Named("decay: dy/dt = −k·y", decay)
LV = Named("Lotka–Volterra: dx/dt = a·x − b·x·y, dy/dt = −c·y + d·x·y", lotka_volterra)
LINEAR = Named("linear: dy/dt = A @ y", linear)
FORCED = Named("forced oscillator: dp/dt = v, dv/dt = −k·p − c·v + sin(w·t)", forced_oscillator)
MLP = Named("MLP field: dy/dt = W2 @ tanh(W1 @ y + b1)", _tanh_field)


def reference_lv(theta, y0, ts):
    """Lotka–Volterra by scipy's DOP853 at rtol 1e-13: a reference independent of autodiff_ref."""
    from scipy.integrate import solve_ivp
    a, b, c, d = theta

    def rhs(t, y):
        return [a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]]
    return solve_ivp(rhs, (ts[0], ts[-1]), y0, method="DOP853", t_eval=ts, rtol=1e-13, atol=1e-13).y.T


def lv_data(T=4.5, observations=19, noise=0.05, seed=7):
    """Noisy observations of the true Lotka–Volterra (θ = (1.5, 1, 3, 1), y₀ = (1, 1))."""
    rng = numpy.random.default_rng(seed)
    ts = np.linspace(0.0, T, observations)
    clean = reference_lv(LV_TRUE, [1.0, 1.0], ts)
    return ts, clean + noise * rng.normal(size=clean.shape), clean


SPIRAL = _array([[-0.1, 2.0], [-2.0, -0.1]])


def spiral_data(T=3.0, observations=16):
    """A damped spiral: dy/dt = A y with A = [[−0.1, 2], [−2, −0.1]], y₀ = (2, 0), solved exactly."""
    from scipy.linalg import expm
    ts = np.linspace(0.0, T, observations)
    y0 = _array([2.0, 0.0])
    return ts, y0, _stack([expm(SPIRAL * t) @ y0 for t in ts])


def init_mlp(hidden=16, seed=0):
    """[W1, b1, W2, b2] of :func:`mlp_field`, seeded, scaled so the field starts small."""
    rng = numpy.random.default_rng(seed)
    return [0.5 * rng.normal(size=(hidden, 2)), _zeros(hidden),
            0.5 * rng.normal(size=(2, hidden)) / math.sqrt(hidden), _zeros(2)]


def mlp_field(y, t, W1, b1, W2, b2):
    r"""The learned vector field :math:`f(y) = W_2\tanh(W_1 y + b_1) + b_2`."""
    return W2 @ _tanh(W1 @ y + b1) + b2
