r"""Lesson 7, neural ODEs and the adjoint method: ``from autograder.lessons import lesson7 as checks``.

- :mod:`.checks`: Task 7.1 the augmented dynamics :math:`(\dot y, \dot a, \dot a_\theta) =
  (f, -a^\top\partial f/\partial y, -a^\top\partial f/\partial\theta)`, Task 7.2 the adjoint
  backward pass, and the oracle :func:`reference_backward`;
- :mod:`.checks_training`: Task 7.3 the loss and its gradient by the adjoint method, Task 7.4
  gradient descent with momentum, and their references;
- :mod:`.figures`: Lotka–Volterra widget, convergence orders, gradient comparisons, the fits' figures;
- :mod:`.material`: the named test systems and the demos' data sets (the systems and RK4
  the student's code imports are in :mod:`autograder.material`).
"""
from autodiff_ref.ode import Adjoint
from autograder.material import decay, forced_oscillator, linear, lotka_volterra, rk4_solve, rk4_step

from .checks import (HIDDEN_SEED, VISIBLE_SEED, check_adjoint_dynamics, check_adjoint_dynamics_params,
                     check_backward_differences, check_backward_observations, check_backward_one_interval,
                     reference_backward, reference_dynamics)
from .checks_training import (check_loss_and_grad, check_loss_and_grad_differences, check_train,
                              reference_loss_and_grad, reference_train)
from .figures import (adjoint_trajectory, compare_gradients, convergence_orders, euler_solve,
                      lotka_volterra_widget, measure_gradient_memory, plot_adjoint_trajectory,
                      plot_convergence_orders, plot_fit, plot_gradient_comparison, plot_lotka_volterra,
                      plot_neural_ode, plot_stiff_adjoints, stiff_adjoint_errors)
from .material import DECAY, FORCED, LINEAR, LV, LV_TRUE, MLP, init_mlp, lv_data, mlp_field, spiral_data

__all__ = ["Adjoint", "rk4_step", "rk4_solve", "decay", "lotka_volterra", "linear", "forced_oscillator",
           "VISIBLE_SEED", "HIDDEN_SEED", "check_adjoint_dynamics", "check_adjoint_dynamics_params",
           "check_backward_one_interval", "check_backward_observations", "check_backward_differences",
           "reference_dynamics", "reference_backward", "check_loss_and_grad", "check_loss_and_grad_differences",
           "check_train", "reference_loss_and_grad", "reference_train", "adjoint_trajectory", "compare_gradients",
           "stiff_adjoint_errors", "plot_stiff_adjoints",
           "convergence_orders", "euler_solve", "lotka_volterra_widget",
           "measure_gradient_memory", "plot_adjoint_trajectory", "plot_convergence_orders", "plot_fit",
           "plot_gradient_comparison", "plot_lotka_volterra", "plot_neural_ode",
           "DECAY", "FORCED", "LINEAR", "LV", "LV_TRUE", "MLP", "init_mlp", "lv_data", "mlp_field", "spiral_data"]
