r"""Lesson 6, implicit layers: ``from autograder.lessons import lesson6 as checks``.

- :mod:`.checks`: Task 6.1 dy*/dθ and dy*/dx by the implicit function theorem, Task 6.2 the
  adjoint solve :math:`(I - \partial g/\partial y)^\top u = \bar y`, Task 6.3 the VJP
  :math:`\bar\theta = (\partial g/\partial\theta)^\top u`;
- :mod:`.figures`: the cobweb widget, branches, Newton against iteration, memory and time;
- :mod:`.material`: the layers tanh(θy + x) and tanh(Wz + x), and the checks' problems.
"""
from .checks import (HIDDEN_SEED, VISIBLE_SEED, check_adjoint_solve, check_adjoint_solve_edges, check_dy_dtheta,
                     check_dy_dx, check_fixed_point_vjp, check_fixed_point_vjp_fd)
from .figures import (cobweb_widget, measure_implicit_vs_unrolled, newton_vs_iteration, plot_branches, plot_cobweb,
                      plot_implicit_vs_unrolled, plot_newton_vs_iteration, plot_unrolled_vs_implicit,
                      unrolled_vs_implicit)
from .material import deq_layer, deq_problem, fixed_points, iterate, slow_deq_problem, tanh_layer

__all__ = ["VISIBLE_SEED", "HIDDEN_SEED", "check_dy_dtheta", "check_dy_dx", "check_adjoint_solve",
           "check_adjoint_solve_edges", "check_fixed_point_vjp", "check_fixed_point_vjp_fd", "cobweb_widget",
           "plot_cobweb", "plot_branches", "newton_vs_iteration", "plot_newton_vs_iteration",
           "unrolled_vs_implicit", "plot_unrolled_vs_implicit", "measure_implicit_vs_unrolled",
           "plot_implicit_vs_unrolled", "tanh_layer", "deq_layer", "deq_problem", "slow_deq_problem",
           "fixed_points", "iterate"]
