r"""Implicit differentiation: derivatives of the solution of an equation.

A fixed point :math:`y^* = g(y^*, \theta)` or a root :math:`F(y^*, \theta) = 0`
is found by an iterative solver, but its derivative never differentiates the
iterations. Differentiating the equation itself (the implicit function theorem)
gives, with :math:`A = \partial F/\partial y` at the solution,

.. math:: A\,\dot y = -\frac{\partial F}{\partial \theta}\dot\theta
          \qquad\text{(forward mode: the tangent system)}

.. math:: A^\top u = \bar y, \qquad
          \bar\theta = -\Big(\frac{\partial F}{\partial \theta}\Big)^{\!\top} u
          \qquad\text{(reverse mode: the adjoint system)}.

A fixed point is the root of :math:`F(y, \theta) = y - g(y, \theta)`, so
:math:`A = I - \partial g/\partial y` and :math:`-\partial F/\partial\theta =
\partial g/\partial\theta`: the classical
:math:`\partial y^*/\partial\theta = (I - \partial g/\partial y)^{-1}\,\partial g/\partial\theta`.

Both systems are linear in the unknown and only need products with A or Aᵀ:
JVPs and VJPs of the user's function at the solution (matrix-free). Small
systems (n ≤ ``DENSE_MAX``) build A by one forward-mode pass with n directions
and solve densely; larger ones use GMRES with a matrix-free operator.

How it plugs into the modes: ``fixed_point`` and ``root`` are primitives whose
implementation runs the solver on plain numbers; the user's function, the
method and the tolerance are static parameters. The rules of both primitives
are written with :func:`linear_solve`, itself a primitive with rules, so a
fixed point inside a loss inside ``grad`` inside ``jvp`` (a Hessian) works.

**Pass every quantity you differentiate with respect to as a parameter**::

    fixed_point(lambda y, theta, x: np.tanh(theta * y + x), 0.0, theta, x)   # right
    fixed_point(lambda y: np.tanh(theta * y + x), 0.0)                       # wrong

The solver runs on plain numbers; a tracer hidden in a closure would make g
return a traced value mid-solve. That is detected and reported (like HIPS
autograd's ``fixed_point``, parameters must be explicit).
"""
from typing import NamedTuple

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from . import core
from .core import Primitive, Tracer, primal
from .dual import jvp, jvp_rules, _directions
from .reverse import vjp, vjp_rules

__all__ = ["fixed_point", "root", "linear_solve", "SolverInfo", "ConvergenceError", "DENSE_MAX"]

#: Systems with at most this many unknowns are solved with a dense matrix.
DENSE_MAX = 256
ANDERSON_MEMORY = 5
DEFAULT_MAX_ITER = {"iterate": 10_000, "anderson": 1000, "newton": 100}


class ConvergenceError(RuntimeError):
    """An iterative solver stopped before meeting its tolerance."""


class SolverInfo(NamedTuple):
    """What a solve did: for plotting convergence in the lessons."""
    method: str
    iterations: int      # evaluations of g (iterate, anderson) or Newton steps
    residuals: list      # ‖g(y) − y‖∞ (fixed points) or ‖F(y)‖∞ (roots) at each iteration
    converged: bool


class _Problem:
    """The static parameters of one ``fixed_point`` / ``root`` call.

    ``residual`` is F (for a fixed point, y − g); ``info`` receives the
    :class:`SolverInfo`; ``matrix`` keeps A = ∂F/∂y at the returned solution when
    Newton already built it, so the derivative rules reuse it.
    """

    __slots__ = ("kind", "fn", "residual", "method", "tol", "max_iter", "info", "matrix")

    def __init__(self, kind, fn, method, tol, max_iter):
        self.kind, self.fn, self.method, self.tol, self.max_iter = kind, fn, method, tol, max_iter
        self.residual = _fixed_point_residual(fn) if kind == "fixed_point" else fn
        self.info, self.matrix = None, None

    def __repr__(self):
        return f"{self.kind}({getattr(self.fn, '__name__', 'fn')}, method={self.method!r})"


def _fixed_point_residual(g):
    def residual(y, *params):
        return y - g(y, *params)
    return residual


# ----------------------------------------------------------------------------
# The solvers, on plain numbers
# ----------------------------------------------------------------------------
class _Plain:
    """Calls of the user's function on plain arrays, checking what comes back."""

    def __init__(self, problem, y0, params):
        self.problem, self.params = problem, params
        self.shape = np.shape(y0)
        self.n = int(np.prod(self.shape))

    def __call__(self, flat):
        out = self.problem.fn(self.unflat(flat), *self.params)
        return self.check(out)

    def unflat(self, flat):
        return flat.reshape(self.shape) if self.shape else flat[0]

    def check(self, out):
        if out.__class__ is np.ndarray and out.shape == self.shape and out.dtype == np.float64:
            return out.reshape(-1)  # the common case, kept cheap: it runs every iteration
        if isinstance(out, Tracer):
            raise ValueError(_closure_message(self.problem.kind, self.problem.fn))
        out = np.asarray(out, dtype=float)
        if out.shape != self.shape:
            raise ValueError(f"{self.problem.kind}: {_name(self.problem.fn)} returned shape "
                             f"{out.shape}, but y has shape {self.shape}; they must match")
        return out.reshape(-1)

    def value_and_jacobian(self, flat):
        """fn(y) and its n×n Jacobian from one forward pass with n directions."""
        eye = np.eye(self.n).reshape(self.shape + (self.n,))
        value, tangent = jvp(lambda y: self.problem.fn(y, *self.params), (self.unflat(flat),), (eye,))
        return self.check(value), np.asarray(tangent, dtype=float).reshape(self.n, self.n)

    def jvp(self, flat, direction):
        _, tangent = jvp(lambda y: self.problem.fn(y, *self.params),
                         (self.unflat(flat),), (self.unflat(direction),))
        return np.asarray(tangent, dtype=float).reshape(-1)


def _name(fn):
    return getattr(fn, "__name__", "the function")


def _closure_message(kind, fn):
    return (f"{kind}: {_name(fn)} returned a traced value (Dual or Box) although y and the "
            "parameters were plain numbers: it reads a variable being differentiated from "
            "its closure. Pass that variable explicitly as a parameter, "
            f"{kind}(fn, y0, theta) with fn(y, theta), so the implicit-function rule can "
            "differentiate with respect to it.")


def _fail(problem, k, residual, why="did not converge"):
    what = "‖g(y) − y‖∞" if problem.kind == "fixed_point" else "‖F(y)‖∞"
    raise ConvergenceError(
        f"{problem.kind}(method={problem.method!r}) {why} after {k} iterations: last residual "
        f"{what} = {residual:.3g}, tolerance {problem.tol:g}. Raise max_iter, try another "
        "method ('newton' converges fast near the solution; 'iterate' needs a contraction), "
        "or start closer to the solution.")


def _norm(v):
    """‖v‖∞ (0 for an empty v)."""
    return float(np.abs(v).max()) if v.size else 0.0


def _iterate(fn, y, problem):
    residuals, tol = [], problem.tol
    for k in range(1, problem.max_iter + 1):
        gy = fn(y)
        r = _norm(gy - y)
        residuals.append(r)
        if not r < np.inf:  # inf or nan
            _fail(problem, k, r, "produced a non-finite value")
        y = gy
        if r <= tol * (1 + _norm(y)):
            return y, residuals
    _fail(problem, problem.max_iter, residuals[-1])


def _anderson(fn, y, problem):
    r"""Anderson acceleration (type II): y ← g(y) − ΔG γ with γ = argmin ‖f − ΔF γ‖₂."""
    residuals, d_g, d_f = [], [], []
    g_prev = f_prev = None
    for k in range(1, problem.max_iter + 1):
        gy = fn(y)
        f = gy - y
        r = _norm(f)
        residuals.append(r)
        if not r < np.inf:
            _fail(problem, k, r, "produced a non-finite value")
        if r <= problem.tol * (1 + _norm(gy)):
            return gy, residuals
        if g_prev is not None:
            d_g.append(gy - g_prev)
            d_f.append(f - f_prev)
            del d_g[:-ANDERSON_MEMORY], d_f[:-ANDERSON_MEMORY]
        g_prev, f_prev = gy, f
        if d_f:
            gamma = np.linalg.lstsq(np.stack(d_f, axis=1), f, rcond=None)[0]
            y = gy - np.stack(d_g, axis=1) @ gamma
        else:
            y = gy
    _fail(problem, problem.max_iter, residuals[-1])


def _newton(fn, y, problem):
    r"""Newton on F = 0 (F = y − g for fixed points); the Jacobian by forward mode."""
    fixed = problem.kind == "fixed_point"
    residuals = []
    for k in range(1, problem.max_iter + 1):
        if fn.n <= DENSE_MAX:
            value, jac = fn.value_and_jacobian(y)
            matrix = np.eye(fn.n) - jac if fixed else jac
        else:
            value, matrix = fn(y), None
        F = y - value if fixed else value
        r = _norm(F)
        residuals.append(r)
        if not r < np.inf:
            _fail(problem, k, r, "produced a non-finite value")
        scale = 1 + _norm(y) if fixed else 1.0
        if r <= problem.tol * scale:
            return y, residuals, matrix
        if matrix is not None:
            try:
                step = np.linalg.solve(matrix, F)
            except np.linalg.LinAlgError:
                _fail(problem, k, r, "met a singular Jacobian")
        else:
            def apply(v, y=y):
                jv = fn.jvp(y, v)
                return v - jv if fixed else jv
            step = _gmres(apply, F, fn.n, problem.kind)
        y = y - step
    _fail(problem, problem.max_iter, residuals[-1])


def _gmres(apply, b, n, who):
    op = LinearOperator((n, n), matvec=apply, dtype=float)
    x, status = gmres(op, b, rtol=1e-12, atol=0.0, restart=min(n, 50), maxiter=10 * n)
    if status != 0:
        residual = float(np.max(np.abs(apply(x) - b)))
        raise ConvergenceError(f"{who}: GMRES for the linear system did not converge "
                               f"(status {status}, residual {residual:.3g}) ")
    return x


def _solve_impl(y0, *params, problem):
    y0 = np.asarray(y0, dtype=float)
    fn = _Plain(problem, y0, params)
    flat = y0.reshape(-1).copy()
    matrix = None
    if problem.method == "iterate":
        y, residuals = _iterate(fn, flat, problem)
    elif problem.method == "anderson":
        y, residuals = _anderson(fn, flat, problem)
    else:
        y, residuals, matrix = _newton(fn, flat, problem)
    problem.info = SolverInfo(problem.method, len(residuals), residuals, True)
    out = fn.unflat(y)
    problem.matrix = None if matrix is None else (out, matrix)
    return out


fixed_point_p = Primitive("fixed_point", _solve_impl)
root_p = Primitive("root", _solve_impl)


# ----------------------------------------------------------------------------
# linear_solve: x = A⁻¹ b (or A⁻ᵀ b), A = ∂F/∂y at (y, params), as a primitive
# ----------------------------------------------------------------------------
def _linear_solve_impl(b, y, *params, residual, transpose=False, matrix=None):
    y = np.asarray(y, dtype=float)
    b = np.asarray(b, dtype=float)
    n, shape = y.size, y.shape
    columns = b.reshape(n, -1)
    fn = lambda v: residual(v, *params)  # noqa: E731
    if matrix is None and n <= DENSE_MAX:
        eye = np.eye(n).reshape(shape + (n,))
        value, tangent = jvp(fn, (y if shape else float(y),), (eye,))
        if isinstance(value, Tracer) or isinstance(tangent, Tracer):
            raise ValueError(_closure_message("linear_solve", residual))
        matrix = np.asarray(tangent, dtype=float).reshape(n, n)
    if matrix is not None:
        try:
            x = np.linalg.solve(matrix.T if transpose else matrix, columns)
        except np.linalg.LinAlgError:
            raise np.linalg.LinAlgError(
                "implicit differentiation: ∂F/∂y is singular at the solution, so the solution "
                "is not a differentiable function of the parameters there") from None
    else:
        if transpose:
            _, pullback = vjp(fn, y if shape else float(y))
            apply = lambda u: np.asarray(pullback(u.reshape(shape))[0], float).reshape(-1)  # noqa: E731
        else:
            apply = lambda v: np.asarray(  # noqa: E731
                jvp(fn, (y,), (v.reshape(shape),))[1], float).reshape(-1)
        x = np.stack([_gmres(apply, c, n, "implicit differentiation") for c in columns.T], axis=1)
    x = x.reshape(b.shape)
    return x[()] if x.ndim == 0 else x


linear_solve_p = Primitive("linear_solve", _linear_solve_impl)


def linear_solve(b, y, *params, residual, transpose=False, matrix=None):
    r"""Solve :math:`A x = b` (or :math:`A^\top x = b` if `transpose`), A = ∂F/∂y at (y, params).

    F is `residual`, called as ``residual(y, *params)``. `b` has shape
    ``y.shape`` plus optional trailing axes (several right-hand sides).
    `matrix` may hand over A (n×n) when it is already known. Differentiable
    with respect to b, y and params in both modes.
    """
    return linear_solve_p(b, y, *params, residual=residual, transpose=transpose, matrix=matrix)


def _apply(residual, transpose, y, params, x):
    """A x (or Aᵀ x), A = ∂F/∂y at (y, params): one JVP (VJP) per column of x."""
    shape = np.shape(primal(y))
    extra = np.shape(primal(x))[len(shape):]
    fn = lambda v: residual(v, *params)  # noqa: E731
    if not transpose:
        k = int(np.prod(extra)) if extra else None
        direction = x if not extra else core.reshape(x, shape=shape + (k,))
        out = jvp(fn, (y,), (direction,))[1]
        return out if not extra else core.reshape(out, shape=shape + extra)
    _, pullback = vjp(fn, y)
    if not extra:
        return pullback(x)[0]
    columns = core.reshape(x, shape=shape + (-1,))
    k = np.shape(primal(columns))[-1]
    out = np.stack([pullback(columns[(Ellipsis, j)])[0] for j in range(k)], axis=-1)
    return core.reshape(out, shape=shape + extra)


def _linear_solve_jvp(tangents, x, b, y, *params, residual, transpose=False, matrix=None):
    r"""ẋ = A⁻¹(ḃ − Ȧx): the derivative of A x = b with x held at the solution."""
    t_b, t_rest = tangents[0], tangents[1:]
    rhs = t_b
    moving = [i for i, t in enumerate(t_rest) if t is not None]
    if moving:
        inputs = (y,) + tuple(params)

        def a_times_x(*selected):
            full = list(inputs)
            for i, v in zip(moving, selected):
                full[i] = v
            return _apply(residual, transpose, full[0], full[1:], x)
        d_ax = jvp(a_times_x, [inputs[i] for i in moving], [t_rest[i] for i in moving])[1]
        rhs = -d_ax if rhs is None else rhs - d_ax
    return linear_solve(rhs, y, *params, residual=residual, transpose=transpose, matrix=matrix)


def _linear_solve_cotangents(g, x, b, y, params, residual, transpose, matrix):
    r"""b̄ = A⁻ᵀ x̄ and (ȳ, θ̄) = −∂(A x)/∂(y, θ)ᵀ b̄."""
    b_bar = linear_solve(g, y, *params, residual=residual, transpose=not transpose, matrix=matrix)
    _, pullback = vjp(lambda yy, *pp: _apply(residual, transpose, yy, pp, x), y, *params)
    return (b_bar,) + tuple(-c for c in pullback(b_bar))


def _linear_solve_vjp(i):
    def rule(g, x, b, y, *params, residual, transpose=False, matrix=None):
        return _memo(g, x, lambda: _linear_solve_cotangents(
            g, x, b, y, params, residual, transpose, matrix))[i]
    return rule


# ----------------------------------------------------------------------------
# The rules of fixed_point / root
# ----------------------------------------------------------------------------
def _known_matrix(problem, ans):
    return problem.matrix[1] if problem.matrix is not None and problem.matrix[0] is ans else None


def _solution_jvp(tangents, ans, y0, *params, problem):
    r"""ẏ = A⁻¹(−∂F/∂θ θ̇): the tangent system. y0's tangent does not matter."""
    moving = [i for i, t in enumerate(tangents[1:]) if t is not None]
    if not moving:
        k = next((_directions(t, y0) for t in tangents if t is not None), None)
        return np.zeros(np.shape(primal(ans)) + (() if k is None else (k,)))

    def residual_of_selected(*selected):
        full = list(params)
        for i, v in zip(moving, selected):
            full[i] = v
        return problem.residual(ans, *full)
    d_f = jvp(residual_of_selected, [params[i] for i in moving], [tangents[1 + i] for i in moving])[1]
    return linear_solve(-d_f, ans, *params, residual=problem.residual,
                        matrix=_known_matrix(problem, ans))


def _solution_cotangents(g, ans, params, problem):
    r"""Aᵀu = ȳ, then θ̄ = −(∂F/∂θ)ᵀu for every parameter (one adjoint solve for all)."""
    u = linear_solve(g, ans, *params, residual=problem.residual, transpose=True,
                     matrix=_known_matrix(problem, ans))
    _, pullback = vjp(lambda *pp: problem.residual(ans, *pp), *params)
    return tuple(-c for c in pullback(u))


def _solution_vjp(i):
    if i == 0:  # the starting guess y0 does not move the solution
        return lambda g, ans, y0, *params, problem: (
            np.zeros(np.shape(primal(y0))) if np.ndim(primal(y0)) else 0.0)

    def rule(g, ans, y0, *params, problem):
        return _memo(g, ans, lambda: _solution_cotangents(g, ans, params, problem))[i - 1]
    return rule


_last = [None]


def _memo(g, ans, compute):
    """Compute once per (entry, cotangent): the sweep asks for one input at a time.

    A single slot suffices because the sweep finishes an entry's inputs before
    moving on; it holds one entry's arrays at most, so memory does not grow.
    """
    last = _last[0]
    if last is not None and last[0] is g and last[1] is ans:
        return last[2]
    result = compute()
    _last[0] = (g, ans, result)
    return result


class _Rules:
    """One reverse rule per input, for primitives with any number of inputs."""

    def __init__(self, make):
        self.make, self.made = make, []

    def __getitem__(self, i):
        while len(self.made) <= i:
            self.made.append(self.make(len(self.made)))
        return self.made[i]

    def __iter__(self):
        i = 0
        while True:
            yield self[i]
            i += 1


jvp_rules[fixed_point_p] = _solution_jvp
jvp_rules[root_p] = _solution_jvp
jvp_rules[linear_solve_p] = _linear_solve_jvp
vjp_rules[fixed_point_p] = _Rules(_solution_vjp)
vjp_rules[root_p] = _Rules(_solution_vjp)
vjp_rules[linear_solve_p] = _Rules(_linear_solve_vjp)


# ----------------------------------------------------------------------------
# The user-facing functions
# ----------------------------------------------------------------------------
def _check_method(kind, method, allowed):
    if method not in allowed:
        raise ValueError(f"{kind}: unknown method {method!r}; choose one of "
                         + ", ".join(repr(m) for m in allowed))


def _run(prim, kind, fn, y0, params, method, tol, max_iter, return_info):
    if not callable(fn):
        raise TypeError(f"{kind}: the first argument must be the function, got {type(fn).__name__}")
    if not tol > 0:
        raise ValueError(f"{kind}: tol must be positive, got {tol!r}")
    max_iter = DEFAULT_MAX_ITER[method] if max_iter is None else int(max_iter)
    if max_iter < 1:
        raise ValueError(f"{kind}: max_iter must be at least 1, got {max_iter}")
    problem = _Problem(kind, fn, method, float(tol), max_iter)
    y = prim(y0, *params, problem=problem)
    return (y, problem.info) if return_info else y


def fixed_point(g, y0, *params, method="iterate", tol=1e-10, max_iter=None, return_info=False):
    r"""The fixed point :math:`y^* = g(y^*, \theta_1, \dots)` reached from `y0`.

    Methods: ``"iterate"`` (:math:`y \leftarrow g(y)`, converges when g is a
    contraction), ``"anderson"`` (Anderson acceleration, memory 5) and
    ``"newton"`` (Newton on :math:`y - g(y) = 0`, Jacobian
    :math:`I - \partial g/\partial y` by forward mode). Stops when
    :math:`\|g(y) - y\|_\infty \le \mathrm{tol}\,(1 + \|y\|_\infty)`; raises
    :class:`ConvergenceError` (method, iterations, last residual) otherwise.

    Differentiable with respect to the `params` in forward and reverse mode by
    the implicit function theorem,
    :math:`\partial y^*/\partial\theta = (I - \partial g/\partial y)^{-1}\,\partial g/\partial\theta`,
    never through the iterations. g is called as ``g(y, *params)``; everything
    you differentiate with respect to must be among the params (not read from
    a closure). With ``return_info=True`` returns ``(y, SolverInfo)``.
    """
    _check_method("fixed_point", method, ("iterate", "newton", "anderson"))
    return _run(fixed_point_p, "fixed_point", g, y0, params, method, tol, max_iter, return_info)


def root(F, y0, *params, method="newton", tol=1e-10, max_iter=None, return_info=False):
    r"""A root :math:`F(y^*, \theta_1, \dots) = 0` found by Newton's method from `y0`.

    The Jacobian :math:`\partial F/\partial y` comes from forward mode (GMRES with
    JVPs above ``DENSE_MAX`` unknowns). Stops when :math:`\|F(y)\|_\infty \le`
    `tol`. Differentiable with respect to the params by the implicit function
    theorem, :math:`\partial y^*/\partial\theta = -(\partial F/\partial y)^{-1}\,
    \partial F/\partial\theta`. With ``return_info=True`` returns ``(y, SolverInfo)``.
    """
    _check_method("root", method, ("newton",))
    return _run(root_p, "root", F, y0, params, method, tol, max_iter, return_info)
