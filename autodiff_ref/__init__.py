r"""autodiff_ref: the reference automatic differentiation library of the course.

Forward mode (dual numbers)            ``Dual``, ``jvp``, ``jacfwd``, ``derivative``
Reverse mode (a tape, Wengert list)    ``vjp``, ``grad``, ``value_and_grad``, ``jacrev``, ``hessian``

Write plain numpy code (``np.sin``, ``@``, ``np.sum``) and differentiate it::

    >>> import numpy as np
    >>> from autodiff_ref import grad
    >>> grad(lambda x: np.sum(np.sin(x) * x))(np.array([0.0, 1.0]))
    array([0.        , 1.38177329])

Inputs and outputs may be pytrees (tuples, lists, dicts of floats and arrays);
``has_aux=True`` and keyword arguments work as in JAX; a float32 input gets a
float32 derivative. Where the rules live: ``core`` (the primitives and the
dispatch; the convention at kinks in ``core.takes_first``), ``dual.jvp_rules``
and ``reverse.vjp_rules`` (one line per primitive, in parallel), ``linalg``
(numpy.linalg), ``functions`` (numpy functions composed from primitives),
``tree`` (pytrees).

What is not differentiated, and what it raises
----------------------------------------------
- A numpy function or ufunc without a rule (``np.fft.*``, ``np.median``,
  ``np.linalg.svd``/``eig``/``qr``, ``np.unique``, ``np.float_power``, ``scipy.*``,
  ``np.logaddexp``/``logaddexp2`` until lesson 8 is updated): ``NotImplementedError``
  naming the function. Options that would change the result (``where=``,
  ``initial=``, ``out=``, ``order='F'``, ``np.diff(prepend=)``, ``np.einsum`` with
  ``...`` or a repeated index, ``np.pad`` modes other than constant, edge,
  reflect, symmetric, wrap, ``eigh(UPLO='U')``, ``cholesky(upper=True)``):
  ``NotImplementedError`` naming the option. Ufunc methods (``np.add.reduce``):
  ``TypeError``.
- Complex inputs or outputs: ``TypeError`` (split z into real and imaginary parts).
- Dropping a derivative: ``float(x)``, ``int(x)``, ``x.item()``, ``math.sin(x)``,
  ``np.array(x, dtype=float)``, ``np.float64(x)``, ``y[i] = x`` into a numpy
  array: ``TypeError`` saying what to write instead (``np.stack``, ``np.where``,
  ``np.concatenate``; ``core.primal(x)`` on purpose).
  ``np.sin`` of an ``np.array([x, 2.0])`` mixing tracers and numbers: ``TypeError``.
- A tracer used after its transformation returned: ``UnexpectedTracerError``.
- Derivatives that do not exist: ``inv``/``det``/``solve`` of a singular matrix
  (numpy's ``LinAlgError``), eigenvectors of repeated eigenvalues (inf),
  ``sqrt``/``std`` at 0 (inf). Reverse mode through ``np.where(c, f(x), g(x))``
  still gives NaN where the branch not taken is infinite at x (0·inf): write
  ``f(np.where(c, x, safe))`` inside, the "double where" (forward mode is exact).
"""
from .dual import Dual, jvp, jacfwd, derivative
from . import functions as _functions  # registers the numpy functions composed from primitives
from . import linalg as _linalg        # numpy.linalg's primitives and their rules
from .reverse import vjp, grad, value_and_grad, jacrev, hessian
from .trace import trace
from .implicit import fixed_point, root
from .ode import odeint
from .core import UnexpectedTracerError

__all__ = ["Dual", "jvp", "jacfwd", "derivative",
           "vjp", "grad", "value_and_grad", "jacrev", "hessian", "trace",
           "fixed_point", "root", "odeint", "UnexpectedTracerError"]
