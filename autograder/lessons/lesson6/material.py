r"""Lesson 6's material: the implicit layers the lesson iterates, and the problems of the
checks — a map g, its fixed point :math:`y^* = g(y^*, \theta)` solved by Newton to 1e-13,
its parameters θ and the Jacobian :math:`J = \partial g/\partial y` at y*.

The adjoint of a fixed point solves :math:`(I - J)^\top u = \bar y`, and the VJP with
respect to the parameters is :math:`\bar\theta = (\partial g/\partial\theta)^\top u`
(the implicit function theorem). The functions use numpy functions bound at import.
"""
import math
import types

import numpy

from autodiff_ref import fixed_point as _fixed_point
from autodiff_ref import jacfwd as _jacfwd
from autodiff_ref import vjp as _vjp
from autograder.checks import Named

# A private copy of numpy's namespace, taken at import (before any student cell runs).
np = types.SimpleNamespace(**vars(numpy))
_solve, _norm2, _qr = numpy.linalg.solve, numpy.linalg.norm, numpy.linalg.qr
_asarray, _zeros, _eye, _tanh = np.asarray, np.zeros, np.eye, np.tanh


def tanh_layer(y, theta, x):
    r"""g(y, θ, x) = tanh(θy + x): the lesson's scalar implicit layer."""
    return _tanh(theta * y + x)


def deq_layer(z, W, x):
    r"""g(z, W, x) = tanh(Wz + x): a deep-equilibrium layer."""
    return _tanh(W @ z + x)


def deq_problem(n, norm=0.9, seed=0):
    """A seeded (W, x): W Gaussian scaled to spectral norm `norm`, x standard normal."""
    rng = numpy.random.default_rng(seed)
    W = rng.normal(size=(n, n))
    W *= norm / _norm2(W, 2)
    return W, rng.normal(size=n)


def slow_deq_problem(n, rho=0.98, seed=0):
    """A seeded (W, x) that iteration finds hard: W = ρ·Q with Q orthogonal (every eigenvalue
    has modulus ρ) and a small x = 0.1·N(0, 1), so sech²(Wz + x) damps little: for ρ = 0.98 the
    spectral radius of ∂g/∂z at the fixed point is about 0.95."""
    rng = numpy.random.default_rng(seed)
    Q, R = _qr(rng.normal(size=(n, n)))
    return rho * Q * np.sign(np.diag(R)), 0.1 * rng.normal(size=n)


def fixed_points(theta, x):
    """Every solution of y = tanh(θy + x), sorted (all lie in (−1, 1)), with g′(y*) = θ(1 − y*²)."""
    from scipy.optimize import brentq
    ys = np.linspace(-1.0, 1.0, 4001)
    h = ys - _tanh(theta * ys + x)
    roots = [float(ys[i]) for i in np.flatnonzero(h == 0)]
    for i in np.flatnonzero(h[:-1] * h[1:] < 0):
        roots.append(brentq(lambda y: y - math.tanh(theta * y + x), ys[i], ys[i + 1], xtol=1e-15, rtol=1e-15))
    roots = sorted(roots)
    return [(y, theta * (1 - math.tanh(theta * y + x) ** 2)) for y in roots]


def iterate(theta, x, y0, iterations):
    """The iterates y₀, y₁ = g(y₀), …, as a float array."""
    ys = [float(y0)]
    for _ in range(iterations):
        ys.append(math.tanh(theta * ys[-1] + x))
    return np.array(ys)


def scaled_deq(z, W, b, s):
    return _tanh(s * (W @ z) + b)


def contraction(z, A, b):
    r"""g(z, A, b) = ½·A·sin(z) + b: not a tanh, so ∂g/∂y = ½·A·diag(cos z)."""
    return 0.5 * (A @ np.sin(z)) + b


def batched_deq(Z, W, X):
    """Z = tanh(WZ + X) with a batch of k columns: y is an n×k matrix."""
    return _tanh(W @ Z + X)


def scaled_matrix(rng, n, norm):
    """A Gaussian n×n matrix scaled to spectral norm `norm`."""
    W = rng.normal(size=(n, n))
    return W * (norm / _norm2(W, 2))


class Problem:
    """g, its fixed point y* (solved by Newton to 1e-13) and its parameters."""

    def __init__(self, name, g, y0, params):
        self.name, self.g = name, Named(name, g)
        self.params = tuple(params)
        self.y_star = _fixed_point(g, y0, *self.params, method="newton", tol=1e-13)
        n = int(np.size(self.y_star))
        shape = np.shape(self.y_star)
        J = _jacfwd(lambda y: g(y, *self.params))(self.y_star)
        self.J = _asarray(J, dtype=float).reshape(n, n)
        self.shape = shape

    def __repr__(self):
        return self.name

    def solve_flat(self, matrix, rhs):
        return _solve(matrix, _asarray(rhs, dtype=float).reshape(-1)).reshape(self.shape)

    def adjoint(self, ybar, transpose=True, sign=-1):
        """u with (I + sign·Jᵀ)u = ȳ (sign = −1 is the right one; transpose=False uses J)."""
        J = self.J.T if transpose else self.J
        u = self.solve_flat(_eye(len(J)) + sign * J, ybar)
        return float(u) if self.shape == () else u

    def param_pullback(self, u):
        """(∂g/∂θ)ᵀu for every parameter θ, by autodiff_ref."""
        _, pullback = _vjp(lambda *p: self.g(self.y_star, *p), *self.params)
        return tuple(as_output(c) for c in pullback(u))


def as_output(c):
    """A cotangent as the student returns it: a float for a scalar, else an array."""
    c = _asarray(c, dtype=float)
    return float(c) if c.shape == () else c


# ============================================================================
# Tasks 6.4 and 6.5: a small deep-equilibrium model fitted to a 1-D regression
# ============================================================================
#: The spectral norm W is kept at or below during training: tanh is 1-Lipschitz, so
#: ‖W‖₂ < 1 makes z ↦ tanh(Wz + Ux + b) a contraction (one fixed point, found by iteration).
MAX_NORM = 0.9


def deq_regression(m=24, noise=0.05, seed=0):
    r"""A seeded 1-D regression: X (1×m) evenly spaced in [−2, 2], Y = 0.8·sin(1.5 X) + noise."""
    rng = numpy.random.default_rng(seed)
    X = np.linspace(-2.0, 2.0, m)[None, :]
    return X, 0.8 * np.sin(1.5 * X) + noise * rng.normal(size=(1, m))


def init_deq(n=8, norm=0.5, seed=0):
    r"""Seeded parameters (W, U, b, c, d) of the model
    :math:`Z^* = \tanh(WZ^* + UX + b)`, :math:`\hat Y = cZ^* + d`: W (n×n) of spectral
    norm `norm`, U and b (n×1), c (1×n), d a float."""
    rng = numpy.random.default_rng(seed)
    W = scaled_matrix(rng, n, norm)
    U, b = rng.normal(size=(n, 1)), 0.5 * rng.normal(size=(n, 1))
    c = rng.normal(size=(1, n)) / math.sqrt(n)
    return W, U, b, c, float(0.1 * rng.normal())


def deq_cell(Z, W, U, b, X):
    r"""g(Z, W, U, b, X) = tanh(WZ + UX + b): one column of Z per example."""
    return _tanh(W @ Z + U @ X + b)


def deq_equilibrium(params, X, tol=1e-13):
    """Z* of the model for the inputs X (Newton, or iteration for large batches), differentiable."""
    W, U, b = params[:3]
    n, m = np.shape(W)[0], np.shape(X)[1]
    method = "newton" if n * m <= 256 else "iterate"
    return _fixed_point(deq_cell, _zeros((n, m)), W, U, b, X, method=method, tol=tol)


def deq_predict(params, X, tol=1e-13):
    """Ŷ = c Z* + d (1×m)."""
    c, d = params[3:]
    return c @ deq_equilibrium(params, X, tol) + d


def deq_loss(params, X, Y, tol=1e-13):
    r"""The mean squared error :math:`L = \frac1m\sum_j(\hat Y_j - Y_j)^2`; reverse mode through
    it meets ``autodiff_ref.fixed_point``, whose derivative is implicit."""
    r = deq_predict(params, X, tol) - Y
    return np.sum(r * r) / np.shape(Y)[1]
