r"""Lesson 5, JVPs and VJPs as linear maps: ``from autograder.lessons import lesson5 as checks``.

- :mod:`.checks`: Task 5.1 ``check_elemental_partials`` (c_ij = ∂φ_i/∂v_j),
  5.2 ``check_extended_matrix`` (C), 5.3 ``check_state_jacobian`` (A_i),
  5.4 ``check_jacobian_forward`` (Q A_l ⋯ A_1 Pᵀ), 5.5 ``check_jacobian_reverse``
  (P A_1ᵀ ⋯ A_lᵀ Qᵀ), 5.6 ``check_vjp_from_jvp`` (⟨ȳ, Jv⟩ = ⟨Jᵀȳ, v⟩).
- :mod:`.material`: the extended system (Griewank's conventions), the answer
  key of Tasks 5.2–5.5, ``chain_cost``.
- :mod:`.figures`: ``plot_matrix``, ``plot_extended_step`` / ``extended_system_widget``,
  ``plot_linear_map`` / ``linear_map_widget`` (the unit circle mapped by J and Jᵀ).
- ``worked_example`` is lesson 2's f of :mod:`autograder.lessons.examples`.
"""
from ..examples import worked_example
from .checks import (ELEMENTAL_PARTIALS, HIDDEN_SEED, VISIBLE_SEED, TraceCase, check_elemental_partials,
                     check_extended_matrix, check_jacobian_forward, check_jacobian_reverse, check_state_jacobian,
                     check_vjp_from_jvp)
from .figures import (extended_system_widget, labels, linear_map_widget, plot_extended_step, plot_linear_map,
                      plot_matrix, twist)
from .material import (PROGRAMS, VECTOR_FUNCTIONS, chain_cost, extended_reference, extended_steps,
                       jacobian_forward_reference, jacobian_reverse_reference, position, random_extended,
                       state_jacobian_reference)

__all__ = ["ELEMENTAL_PARTIALS", "HIDDEN_SEED", "PROGRAMS", "VECTOR_FUNCTIONS", "VISIBLE_SEED", "TraceCase",
           "check_elemental_partials", "check_extended_matrix", "check_jacobian_forward",
           "check_jacobian_reverse", "check_state_jacobian", "check_vjp_from_jvp", "extended_system_widget",
           "labels", "linear_map_widget", "plot_extended_step", "plot_linear_map", "plot_matrix", "twist",
           "chain_cost", "extended_reference", "extended_steps", "jacobian_forward_reference",
           "jacobian_reverse_reference", "position", "random_extended", "state_jacobian_reference",
           "worked_example"]
