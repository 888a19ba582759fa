r"""A stiff solver for odeint: the Rosenbrock method RODAS3, with error control.

``odeint(func, y0, t, *params, method="rodas3")``. A Rosenbrock method is a
*linearly* implicit Runge–Kutta method: instead of Newton iterations it
solves, per stage, one linear system with the same matrix

.. math:: W = \frac{1}{h\gamma} I - J, \qquad J = \frac{\partial f}{\partial y}(y_n, t_n),

.. math:: W K_i = f\Big(y_n + \sum_{j<i} a_{ij} K_j,\; t_n + \alpha_i h\Big)
          + \sum_{j<i} \frac{c_{ij}}{h} K_j + h\gamma_i \frac{\partial f}{\partial t}(y_n, t_n),

.. math:: y_{n+1} = y_n + \sum_i m_i K_i, \qquad
          \text{error estimate } \sum_i e_i K_i .

RODAS3 (Sandu et al. 1997, as in KPP; Hairer & Wanner, *Solving ODEs II*, IV.7)
has 4 stages, 3 evaluations of f, order 3 with an embedded order-2 solution;
it is L-stable and stiffly accurate, so the decaying modes of a stiff problem
are damped at any step size. J and ∂f/∂t come from the library's own forward
mode: one JVP of f with n + 1 directions per step.

**Derivatives.** There is no Newton iteration to differentiate. On plain
numbers W is factorised once per step (LU) and reused by the 4 stages. On
tracers (``adjoint=False``: through the solver) each stage is
:func:`~autodiff_ref.implicit.linear_solve` with the residual
:math:`F(u) = u/(h\gamma) - f(u, t)` whose Jacobian at :math:`u = y_n` is W:
its rules differentiate :math:`x = W^{-1} b` by linearity
(:math:`\dot x = W^{-1}(\dot b - \dot W x)`, :math:`\bar b = W^{-\top}\bar x`),
never through an elimination. Forward sensitivities and the checkpointed
adjoint solve their augmented systems with this same method; their fields
hand the stepper a block solver (``system``) that reuses the step's one
factorised n×n matrix for every column of the sensitivities, or for the
adjoint's transposed block, instead of a dense augmented matrix.
"""
import math
from typing import NamedTuple

import numpy as np
from scipy.linalg import lu_factor, lu_solve

from .core import Tracer, primal
from .dual import jvp
from .implicit import linear_solve

__all__ = ["RosenbrockTableau", "RODAS3", "RosenbrockStepper"]


class RosenbrockTableau(NamedTuple):
    """A Rosenbrock method in the (a, c, m, e) form of KPP (K not scaled by h)."""
    gamma: float      # γ, the diagonal: W = I/(hγ) − J
    a: tuple          # a[i]: the weights of the earlier K in stage i's point
    c: tuple          # c[i]: the weights of the earlier K/h in stage i's right-hand side
    alpha: tuple      # stage times, fractions of h
    gammas: tuple     # γᵢ: the weights of h ∂f/∂t in stage i
    m: tuple          # the weights of the solution
    e: tuple          # the weights of the error estimate
    new_f: tuple      # whether stage i evaluates f (else it reuses the previous value)
    order: int        # the order of the method
    error_order: int  # the exponent of the step-size control: err ∝ h^error_order


RODAS3 = RosenbrockTableau(
    gamma=0.5,
    a=((), (0.0,), (2.0, 0.0), (2.0, 0.0, 1.0)),
    c=((), (4.0,), (1.0, -1.0), (1.0, -1.0, -8.0 / 3.0)),
    alpha=(0.0, 0.0, 1.0, 1.0),
    gammas=(0.5, 1.5, 0.0, 0.0),
    m=(2.0, 0.0, 1.0, 1.0),
    e=(0.0, 0.0, 0.0, 1.0),
    new_f=(True, False, True, True),
    order=3, error_order=3)


def jacobian_and_time_derivative(fun, y, t):
    r"""(J, ∂f/∂t) at (y, t) by one JVP with n + 1 directions: [I | 0] for y, [0 … 0, 1] for t."""
    n = np.size(y)
    directions_y = np.eye(n, n + 1)
    directions_t = np.zeros(n + 1)
    directions_t[n] = 1.0
    _, tangent = jvp(fun, (y, t), (directions_y, directions_t))
    return tangent[:, :n], tangent[:, n]


class RosenbrockStepper:
    """One step of a Rosenbrock method, with the same interface as the Runge–Kutta stepper.

    `field(y, t, *params)` is f on flat states, without odeint's check against
    traced outputs (it is called on duals to get J); the params are passed to
    the stage solves explicitly so that their derivatives see W's dependence
    on them.
    """

    def __init__(self, field, params, tableau, rtol, atol, system=None):
        self.field, self.params, self.tab, self.rtol, self.atol = field, tuple(params), tableau, rtol, atol
        # system(y, t, h, γ) -> (solve, ∂f/∂t) or None: an augmented field's block solver
        self.system = system
        params = self.params  # (not self: a lambda holding self would be a reference cycle)
        self.fun = lambda y, t: field(y, t, *params)  # noqa: E731
        self.evaluations = 0
        self.jacobians = 0

    def step(self, y, t, h, f0):
        """(y_new, None, ks): the stages K₁ … K_s (ks[-1] is not f at the new point: no FSAL)."""
        tab = self.tab
        if f0 is None:
            f0 = self.fun(y, t)
            self.evaluations += 1
        traced = any(isinstance(x, Tracer) for x in (y, t, h, f0))
        self.jacobians += 1
        blocks = None if traced or self.system is None else self.system(y, t, h, tab.gamma)
        if blocks is not None:
            solve, f_t = blocks
        else:
            J, f_t = jacobian_and_time_derivative(self.fun, y, t)
            if traced:
                solve = self._traced_solver(y, t, h, J)
            else:
                W = np.eye(np.size(y)) / (h * tab.gamma) - J
                factors = lu_factor(W, check_finite=False)
                solve = lambda b: lu_solve(factors, b, check_finite=False)  # noqa: E731
        ks = []
        value = f0
        for i in range(len(tab.m)):
            if i and tab.new_f[i]:
                point = y
                for w, k in zip(tab.a[i], ks):
                    if w:
                        point = point + w * k
                value = self.fun(point, t + tab.alpha[i] * h)
                self.evaluations += 1
            rhs = value
            for w, k in zip(tab.c[i], ks):
                if w:
                    rhs = rhs + (w / h) * k
            if tab.gammas[i]:
                rhs = rhs + (h * tab.gammas[i]) * f_t
            ks.append(solve(rhs))
        y_new = y
        for w, k in zip(tab.m, ks):
            if w:
                y_new = y_new + w * k
        return y_new, None, ks

    def _traced_solver(self, y, t, h, J):
        """Stage solves on tracers: linear_solve with the residual u/(hγ) − f(u, t)."""
        gamma, field = self.tab.gamma, self.field

        def residual(u, h, t, *params):
            return u / (h * gamma) - field(u, t, *params)
        matrix = np.eye(np.size(_plain(y))) / (_plain(h) * gamma) - _plain(J)
        return lambda b: linear_solve(b, y, h, t, *self.params, residual=residual, matrix=matrix)

    def error_norm(self, y, y_new, h, ks):
        """RMS of Σ eᵢ Kᵢ, scaled by atol + rtol·max(|y|, |y_new|)."""
        err = None
        for w, k in zip(self.tab.e, ks):
            if w:
                err = w * _plain(k) if err is None else err + w * _plain(k)
        scale = self.atol + self.rtol * np.maximum(np.abs(_plain(y)), np.abs(_plain(y_new)))
        return math.sqrt(np.mean((err / scale) ** 2))


def _plain(x):
    return np.asarray(primal(x), dtype=float)
