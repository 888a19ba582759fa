r"""Lesson 6, implicit layers: ``from autograder.lessons import lesson6 as checks``.

- :mod:`.checks`: Task 6.1 dy*/dθ and dy*/dx by the implicit function theorem, Task 6.2 the
  adjoint solve :math:`(I - \partial g/\partial y)^\top u = \bar y`, Task 6.3 the VJP
  :math:`\bar\theta = (\partial g/\partial\theta)^\top u`;
- :mod:`.checks_deq`: Task 6.4 the loss and gradient of a small deep-equilibrium model, the implicit
  part by a fixed-point VJP passed in, Task 6.5 a gradient-descent step that keeps ‖W‖₂ ≤ max_norm;
- :mod:`.figures`: the cobweb widget, branches, Newton against iteration, memory and time, the
  DEQ's training;
- :mod:`.material`: the layers tanh(θy + x) and tanh(Wz + x), the checks' problems, and the
  DEQ regression (data, initial parameters, the loss through ``autodiff_ref.fixed_point``).
"""
from .checks import (HIDDEN_SEED, VISIBLE_SEED, check_adjoint_solve, check_adjoint_solve_edges, check_dy_dtheta,
                     check_dy_dx, check_fixed_point_vjp, check_fixed_point_vjp_fd)
from .checks_deq import (check_deq_grad, check_deq_grad_fd, check_deq_train_step, implicit_vjp,
                         train_step_reference)
from .figures import (cobweb_widget, measure_implicit_vs_unrolled, newton_vs_iteration, plot_branches, plot_cobweb,
                      plot_deq_training, plot_implicit_vs_unrolled, plot_newton_vs_iteration,
                      plot_unrolled_vs_implicit, unrolled_vs_implicit)
from .material import (MAX_NORM, deq_cell, deq_layer, deq_loss, deq_predict, deq_problem, deq_regression,
                       fixed_points, init_deq, iterate, slow_deq_problem, tanh_layer)

__all__ = ["VISIBLE_SEED", "HIDDEN_SEED", "check_dy_dtheta", "check_dy_dx", "check_adjoint_solve",
           "check_adjoint_solve_edges", "check_fixed_point_vjp", "check_fixed_point_vjp_fd", "cobweb_widget",
           "plot_cobweb", "plot_branches", "newton_vs_iteration", "plot_newton_vs_iteration",
           "unrolled_vs_implicit", "plot_unrolled_vs_implicit", "measure_implicit_vs_unrolled",
           "plot_implicit_vs_unrolled", "tanh_layer", "deq_layer", "deq_problem", "slow_deq_problem",
           "fixed_points", "iterate", "check_deq_grad", "check_deq_grad_fd", "check_deq_train_step",
           "implicit_vjp", "train_step_reference", "MAX_NORM", "deq_cell", "deq_loss", "deq_predict",
           "deq_regression", "init_deq", "plot_deq_training"]
