r"""Lesson 0, three ways to differentiate: ``from autograder.lessons import lesson0 as checks``.

==============================  ==============================================
``check_central_difference``     Task 0.1, (f(x+h) − f(x−h)) / (2h)
``check_fd_gradient``            Task 0.2, the gradient one coordinate at a time
``check_mixed_partial``          Task 0.3, the 4-point formula for ∂²f/∂x∂y
``check_optimal_step``           Task 0.4, h* that minimises the error model
==============================  ==============================================

The checks, their cases and hints are in :mod:`.checks`; the figures of the
lesson (the error curve, Σxᵢ² at n = 1000, expression swell) in :mod:`.figures`.
"""
from .checks import (EPS, HIDDEN_SEED, SCALAR_FUNCTIONS, TWO_VARIABLE_FUNCTIONS, VECTOR_FUNCTIONS,
                     VISIBLE_SEED, check_central_difference, check_fd_gradient, check_mixed_partial,
                     check_optimal_step)
from .figures import (CURVE_FUNCTIONS, error_curve_widget, error_curves, expression_sizes,
                      plot_error_curve, plot_expression_swell, plot_sum_of_squares,
                      sum_of_squares_experiment)

__all__ = ["EPS", "HIDDEN_SEED", "SCALAR_FUNCTIONS", "TWO_VARIABLE_FUNCTIONS", "VECTOR_FUNCTIONS",
           "VISIBLE_SEED", "check_central_difference", "check_fd_gradient", "check_mixed_partial",
           "check_optimal_step", "CURVE_FUNCTIONS", "error_curve_widget", "error_curves",
           "expression_sizes", "plot_error_curve", "plot_expression_swell", "plot_sum_of_squares",
           "sum_of_squares_experiment"]
