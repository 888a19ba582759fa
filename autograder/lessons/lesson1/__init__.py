r"""Lesson 1, dual numbers: ``from autograder.lessons import lesson1 as checks``.

==============================  ==============================================
``check_dual_arithmetic``        Task 1.1: + − × and unary − between two duals
``check_mixed_arithmetic``       Task 1.1: the same with a plain number on either side
``check_division``               Task 1.2: ÷ (dual/dual, dual/number, number/dual)
``check_pow``                    Task 1.3: ``d ** n`` for integer and real n
``check_sin_cos``                Task 1.4: ``sin(d)``, ``cos(d)``
``check_exp_log_sqrt``           Task 1.5: ``exp(d)``, ``log(d)``, ``sqrt(d)``
``check_derivative``             Task 1.6: ``derivative(f, x)`` on compositions
``check_newton_sqrt``            Task 1.7: √ by Newton's iteration, run on duals
==============================  ==============================================

The checks, their cases and hints are in :mod:`.checks`; the tangent-line and
Newton widgets in :mod:`.figures`.
"""
from .checks import (COMPOSITIONS, HIDDEN_SEED, UNARY, VISIBLE_SEED, check_derivative, check_division,
                     check_dual_arithmetic, check_exp_log_sqrt, check_mixed_arithmetic,
                     check_newton_sqrt, check_pow, check_sin_cos)
from .figures import (TANGENT_FUNCTIONS, newton_sqrt_iterates, newton_widget, plot_newton_sqrt,
                      plot_tangent_line, tangent_line_widget)

__all__ = ["COMPOSITIONS", "HIDDEN_SEED", "UNARY", "VISIBLE_SEED", "check_derivative", "check_division",
           "check_dual_arithmetic", "check_exp_log_sqrt", "check_mixed_arithmetic", "check_newton_sqrt",
           "check_pow", "check_sin_cos", "TANGENT_FUNCTIONS", "newton_sqrt_iterates", "newton_widget",
           "plot_newton_sqrt", "plot_tangent_line", "tangent_line_widget"]
