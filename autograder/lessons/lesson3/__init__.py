r"""Lesson 3, reverse mode: ``from autograder.lessons import lesson3 as checks``.

The notebook gives a ``Tape`` (``values``, ``parents``, ``partials``;
``input(x)``, ``record(value, parents, partials)`` returning a ``Var``); the
student writes the rules (Task 3.1), ``backward(tape, y)`` (Task 3.2: v̄ = 1 at
y, then v̄ⱼ += v̄ᵢ·c_ij from the last entry to the first) and ``grad(f)`` (Task 3.3).

- :mod:`.checks`: ``check_arithmetic_rules``, ``check_function_rules``,
  ``check_backward``, ``check_backward_robust``, ``check_grad``.
- :mod:`.material`: ``ClosureValue`` (micrograd's design), ``chain``, ``random_program``.
- :mod:`.figures`: the closure demos, ``gradient_cost``, ``forward_vs_reverse`` and their plots.
"""
from ..cost import cost_function
from ..examples import g_example, product_example, adjoint_example, worked_example
from .checks import (check_arithmetic_rules, check_backward, check_backward_robust, check_function_rules,
                     check_grad)
from .figures import (closure_cycle_demo, design_timings, forward_vs_reverse, gradient_by_forward_mode_cost,
                      gradient_cost, jacobian_by_columns, jacobian_by_rows, network, plot_forward_vs_reverse,
                      plot_gradient_cost, recursion_demo)
from .material import ClosureValue

__all__ = ["check_arithmetic_rules", "check_backward", "check_backward_robust", "check_function_rules",
           "check_grad", "closure_cycle_demo", "design_timings", "forward_vs_reverse",
           "gradient_by_forward_mode_cost", "gradient_cost", "jacobian_by_columns", "jacobian_by_rows",
           "network", "plot_forward_vs_reverse", "plot_gradient_cost", "recursion_demo", "ClosureValue",
           "cost_function", "g_example", "product_example", "adjoint_example", "worked_example"]
