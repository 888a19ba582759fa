"""Checks that teach, and the instructor's nbgrader workflow on top of them.

`autograder.checks` compares a student's implementation with `autodiff_ref`
and, when they disagree, says which input, what was expected, what came back
and the likely misconception. `python -m autograder --help` lists the
instructor and self-learner commands.
"""
