r"""Lesson 4's material: the test functions the checks call the student's code on,
and Newton's method as the reference computes it.

The functions are written with numpy functions bound here, at import (before
any student cell runs), so rebinding ``np.sin`` in a notebook changes neither
the functions nor the answers they are compared with.
"""
import numpy as _np

from autodiff_ref import grad as _grad
from autodiff_ref import hessian as _hessian

_sin, _cos, _exp, _log, _tanh, _sqrt = _np.sin, _np.cos, _np.exp, _np.log, _np.tanh, _np.sqrt
_sum, _array, _asarray, _solve, _norm = _np.sum, _np.array, _np.asarray, _np.linalg.solve, _np.linalg.norm

#: (formula, f, domain of x): scalar functions for f″, the lesson's example first.
SCALAR_FUNCTIONS = [
    ("sin(x**3)", lambda x: _sin(x * x * x), (-1.4, 1.4)),
    ("x**5 - 3*x**2", lambda x: x * x * x * x * x - 3 * x * x, (-2.0, 2.0)),
    ("exp(x) * cos(2*x)", lambda x: _exp(x) * _cos(2 * x), (-2.0, 2.0)),
    ("log(1 + x*x)", lambda x: _log(1 + x * x), (-3.0, 3.0)),
    ("tanh(x)**2", lambda x: _tanh(x) * _tanh(x), (-2.0, 2.0)),
    ("1 / (1 + x*x)", lambda x: 1 / (1 + x * x), (-3.0, 3.0)),
    ("sqrt(x) * sin(x)", lambda x: _sqrt(x) * _sin(x), (0.3, 4.0)),
]

#: The constants of the vector test functions: A is not symmetric, so H = (A + Aᵀ)/2 ≠ A.
A = _array([[2.0, 1.0, 0.0, -1.0], [0.0, 3.0, 0.5, 0.0], [1.0, -0.5, 1.5, 0.0], [0.5, 0.0, 0.0, 1.0]])
W = _array([[0.8, -0.3, 0.5], [0.2, 0.9, -0.7], [-0.6, 0.4, 0.3], [0.1, -0.2, 0.6]])
B = _array([0.1, -0.2, 0.3, 0.0])
C = _array([1.0, -0.5, 0.8, 0.3])


def rosenbrock(z):
    r"""The Rosenbrock function :math:`(1 - x)^2 + 100 (y - x^2)^2`, minimum 0 at (1, 1)."""
    x, y = z[0], z[1]
    return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x)


def rosenbrock_nd(z):
    r""":math:`\sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2`, minimum 0 at (1, …, 1)."""
    head, tail = z[:-1], z[1:]
    return _sum(100 * (tail - head * head) * (tail - head * head) + (1 - head) * (1 - head))


def coupled(z):
    r"""The lesson's n-dimensional test function
    :math:`\sum_i \log(1 + (x_{i+1} - x_i)^2) + \tfrac12\|x\|^2 + \sum_i \sin x_i`:
    cheap to evaluate, with a tridiagonal (but not diagonal) Hessian."""
    d = z[1:] - z[:-1]
    return _sum(_log(1 + d * d)) + 0.5 * _sum(z * z) + _sum(_sin(z))


#: (formula, f, n, domain): functions of a vector, simplest first. Every one
#: has a non-diagonal Hessian that changes with x (so H(x)·v ≠ H(v)·x).
VECTOR_FUNCTIONS = [
    ("x0**2 * x1", lambda z: z[0] * z[0] * z[1], 2, (-2.0, 2.0)),
    ("rosenbrock (2-d)", rosenbrock, 2, (-1.5, 1.5)),
    ("x0*x1*x2 + exp(x0 - x2)", lambda z: z[0] * z[1] * z[2] + _exp(z[0] - z[2]), 3, (-1.0, 1.0)),
    ("0.5 * x @ A @ x (A not symmetric)", lambda z: 0.5 * (z @ (A @ z)), 4, (-2.0, 2.0)),
    ("log(sum(exp(x))) + sum(x**4)/4", lambda z: _log(_sum(_exp(z))) + 0.25 * _sum(z * z * z * z), 4,
     (-1.5, 1.5)),
    ("c @ tanh(W @ x + b)", lambda z: C @ _tanh(W @ z + B), 3, (-1.5, 1.5)),
    ("sum(log(1 + (x[i+1]-x[i])**2)) + |x|²/2 + sum(sin x)", coupled, 6, (-2.0, 2.0)),
    ("rosenbrock (5-d)", rosenbrock_nd, 5, (-1.2, 1.2)),
]


def newton_reference(f, x):
    r"""One Newton step :math:`x - H(x)^{-1} \nabla f(x)` by the reference library."""
    return x - _solve(_hessian(f)(x), _grad(f)(x))


def newton_path(f, x0, iterations, step=None):
    """Iterates x₀, x₁, … of Newton's method (with :func:`newton_reference` by default),
    stopping early where ∇f = 0 exactly."""
    step = newton_reference if step is None else step
    path = [_asarray(x0, dtype=float)]
    for _ in range(iterations):
        x = path[-1]
        if _norm(_grad(f)(x)) == 0.0:
            break
        path.append(_asarray(step(f, x), dtype=float))
    return path
