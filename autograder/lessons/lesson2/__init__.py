r"""Lesson 2, forward mode: ``from autograder.lessons import lesson2 as checks``.

- :mod:`.checks`: Task 2.1 ``check_g_trace``, ``check_dg_dx2`` (values and
  tangents of g = x₁x₂ − cos x₂); Task 2.2 ``check_jvp`` (f(RefDual(x, v)) =
  f(x) + (J v)ε); Task 2.3 ``check_jacfwd`` (column j = J eⱼ); Task 2.4
  ``check_jacfwd_one_pass`` (one sweep, tangent I).
- :mod:`.figures`: ``jvp_picture``, ``jvp_widget``, ``tangent_cost``, ``plot_cost``.
- the worked examples come from :mod:`autograder.lessons.examples`.
"""
from ..cost import cost_function
from ..examples import g_example, worked_example
from .checks import (check_dg_dx2, check_g_trace, check_jacfwd, check_jacfwd_one_pass, check_jvp)
from .figures import jvp_picture, jvp_widget, plot_cost, tangent_cost

__all__ = ["check_dg_dx2", "check_g_trace", "check_jacfwd", "check_jacfwd_one_pass", "check_jvp",
           "jvp_picture", "jvp_widget", "plot_cost", "tangent_cost", "cost_function", "g_example",
           "worked_example"]
