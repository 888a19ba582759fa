r"""Lesson 4, higher-order derivatives: ``from autograder.lessons import lesson4 as checks``.

- :mod:`.checks`: Task 4.1 f″ by nested duals, Task 4.2 the Hessian-vector product
  :math:`H(x)v` (and its cost), Task 4.3 the Newton step :math:`x - H^{-1}\nabla f`;
- :mod:`.figures`: HVP against Hessian cost, nesting cost, Newton against gradient descent;
- :mod:`.material`: the test functions (Rosenbrock, the coupled function) and Newton's path.
"""
from .checks import (HIDDEN_SEED, VISIBLE_SEED, check_hvp, check_hvp_cost, check_newton_rosenbrock,
                     check_newton_step, check_second_derivative)
from .figures import (gd_path, gd_regime, gd_thresholds, measure_hvp_cost, nesting_cost, newton_steps,
                      newton_vs_gd_widget, plot_hvp_cost, plot_newton_vs_gd)
from .material import SCALAR_FUNCTIONS, VECTOR_FUNCTIONS, coupled, newton_path, rosenbrock

__all__ = ["VISIBLE_SEED", "HIDDEN_SEED", "check_second_derivative", "check_hvp", "check_hvp_cost",
           "check_newton_step", "check_newton_rosenbrock", "measure_hvp_cost", "plot_hvp_cost",
           "nesting_cost", "gd_path", "gd_regime", "gd_thresholds", "newton_steps", "plot_newton_vs_gd",
           "newton_vs_gd_widget", "SCALAR_FUNCTIONS", "VECTOR_FUNCTIONS", "coupled", "newton_path",
           "rosenbrock"]
