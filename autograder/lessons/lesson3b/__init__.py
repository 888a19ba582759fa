r"""Lesson 3b, reverse mode over arrays: ``from autograder.lessons import lesson3b as checks``.

The student writes the VJP rules of numpy primitives on arrays (Tasks 1.1–1.6:
``unbroadcast``, the elementwise rules, ``sum`` with axis/keepdims, ``matmul``,
indexing with repeated indices, reshape/transpose), the reverse sweep over an
array tape and ``grad`` (Tasks 2.1–2.2), then an MLP's loss and a training
step on their own engine (Tasks 3.1–3.2).

- :mod:`.checks`: one ``check_*`` per task, the oracle (:func:`autodiff_ref.vjp`) and the hints.
- :mod:`.figures`: the broadcast widget (a broadcast and its summed-back cotangent).
"""
from .checks import (check_backward, check_backward_robust, check_elementwise_rules, check_getitem_rule,
                     check_grad, check_matmul_rule, check_mlp_loss, check_shape_rules, check_sum_rule,
                     check_train_step, check_unbroadcast, mlp_problem, reference_loss)
from .figures import broadcast_widget, plot_broadcast

__all__ = ["check_backward", "check_backward_robust", "check_elementwise_rules", "check_getitem_rule",
           "check_grad", "check_matmul_rule", "check_mlp_loss", "check_shape_rules", "check_sum_rule",
           "check_train_step", "check_unbroadcast", "mlp_problem", "reference_loss",
           "broadcast_widget", "plot_broadcast"]
