r"""autodiff_ref: the reference automatic differentiation library of the course.

Forward mode (dual numbers)            ``Dual``, ``jvp``, ``jacfwd``, ``derivative``
Reverse mode (a tape, Wengert list)    ``vjp``, ``grad``, ``value_and_grad``, ``jacrev``, ``hessian``

Write plain numpy code (``np.sin``, ``@``, ``np.sum``) and differentiate it::

    >>> import numpy as np
    >>> from autodiff_ref import grad
    >>> grad(lambda x: np.sum(np.sin(x) * x))(np.array([0.0, 1.0]))
    array([0.        , 1.38177329])
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
