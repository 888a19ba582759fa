r"""Lesson 8, learning with gradients: ``from autograder.lessons import lesson8 as checks``.

The notebook imports this package before any student code runs. Where to look:

- :mod:`.material`: the models and losses (logistic regression, an Elman RNN, a
  tanh MLP) from closed forms, and the seeded data sets;
- :mod:`.checks`: Parts 1–2 (gradient descent, the cross-entropy, the gradient by
  forward mode and by hand), and the failure reports all checks share;
- :mod:`.checks_optimisers`: Part 1's optimisers with a state (momentum, Adam);
- :mod:`.checks_networks`: Parts 3–4 (back-propagation through time, truncated or not, the MLP's
  VJP of logaddexp that extends the student's lesson-3b engine, the MLP's forward pass, a
  training step and an epoch), with their reverse-mode oracles;
- :mod:`.figures`: the plots and widgets; :mod:`.timing`: CPU timing on one BLAS
  thread and the PyTorch comparison (PyTorch is optional).
"""
from .checks import (check_bce, check_bce_differentiable, check_bce_hidden, check_bce_stable,
                     check_forward_gradient, check_forward_gradient_hidden, check_gd_step,
                     check_gd_step_hidden, check_gradient_descent, check_gradient_descent_hidden,
                     check_logistic_gradient, check_logistic_gradient_hidden)
from .checks_networks import (check_bptt_state_grads, check_bptt_state_grads_hidden, check_bptt_together,
                              check_bptt_weight_grad, check_bptt_weight_grad_hidden, check_logaddexp_vjp,
                              check_logaddexp_vjp_hidden, engine_rule, logaddexp_vjp_reference, check_mlp_logits,
                              check_mlp_logits_hidden, check_train_epoch, check_train_epoch_hidden,
                              check_train_step, check_train_step_hidden, check_truncated_weight_grad,
                              check_truncated_weight_grad_hidden, state_grads_oracle, train_epoch_reference,
                              train_step_reference, truncated_weight_grad_oracle, weight_grad_oracle)
from .checks_optimisers import (adam_cases, adam_variants, check_adam_step, check_adam_step_hidden,
                                check_momentum_step, check_momentum_step_hidden, momentum_cases,
                                momentum_variants)
from .figures import (descent_problems, descent_widget, ill_conditioned_bowl, optimiser_paths,
                      plot_forward_vs_reverse, plot_moons, plot_optimisers, plot_rnn_norms, plot_training,
                      rnn_gradient_norms, rnn_widget, show_descent, show_rnn)
from .material import (AdamState, RNNProblem, adam_step_reference, batch_schedule, bce_differentiable,
                       bce_reference, gd_step_reference, gradient_descent_reference, init_mlp,
                       last_state_grad, logistic_data, logistic_gradient_reference, logistic_loss_reference,
                       mlp_logits_reference, mlp_loss_reference, momentum_step_reference, quadratic_bowl,
                       rnn_loss_reference, rnn_problem, rnn_states_reference, sigmoid, two_moons)
from .timing import TORCH_CPU_INSTALL, one_blas_thread, time_per_call, train_with_torch

__all__ = [name for name in dir() if not name.startswith("_")
           and name not in ("checks", "checks_networks", "checks_optimisers", "figures", "material", "timing")]
