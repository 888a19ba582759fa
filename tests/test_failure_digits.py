"""A tolerance failure never shows an expected and a got that print alike: the lessons'
CheckFailure (autograder/checks.py) adds digits and the relative error."""
import numpy as np
import pytest

from autograder.checks import CheckFailure as KernelFailure
from autograder.checks import show
from autograder.checks import CheckFailure, distinguishable


def lines(failure):
    text = str(failure)
    expected = next(l for l in text.splitlines() if l.strip().startswith("expected:"))
    got = next(l for l in text.splitlines() if l.strip().startswith("got:"))
    return expected.split(":", 1)[1].strip(), got.split(":", 1)[1].strip(), text


@pytest.mark.parametrize("scale", [1.0, 1e-9, 30.0])
def test_arrays_that_print_alike_are_shown_apart_with_the_relative_error(scale):
    expected = scale * np.array([0.1234567891234, -2.0, 3.5])
    got = expected * (1 + 3e-9)
    assert show(expected) == show(got)              # the kernel alone would print them alike
    failure = CheckFailure("f(x)", inputs=(1.0,), expected=expected, got=got, hint="look closer")
    e, g, text = lines(failure)
    assert e != g
    assert "relative error 3.00e-09" in text and "look closer" in text
    assert failure.expected is expected and failure.got is got
    assert isinstance(failure, KernelFailure)


def test_values_that_already_print_apart_are_left_alone():
    expected, got = np.array([1.0, 2.0]), np.array([1.0, 2.5])
    assert distinguishable(expected, got, "h") == (expected, got, "h")
    assert distinguishable(1.0, 1.5, "h") == (1.0, 1.5, "h")
    assert distinguishable("ȳ left unchanged", "ȳ changed", None)[2] is None
    same = np.array([1.0, 2.0])
    assert distinguishable(same, same.copy(), None)[2] is None                  # equal: nothing to add


def test_a_lesson_tolerance_failure_prints_apart():
    """Task 6.2: an adjoint 1e-7 off (the tolerance is 1e-8) used to print as the answer, up to
    the rounding of the sixth digit."""
    from autograder.lessons import lesson6 as checks
    from autograder.lessons.lesson6 import checks as kit
    def slightly_off(g, y_star, params, ybar, **kw):
        problem = next(p for p, yb in kit._ADJOINT_CASES[kit.VISIBLE_SEED]
                       if p.g is g and np.array_equal(np.asarray(yb), np.asarray(ybar)))
        exact = problem.adjoint(ybar)
        return exact if problem.shape == () else np.asarray(exact) * (1 + 1e-7)
    with pytest.raises(KernelFailure) as info:
        checks.check_adjoint_solve(slightly_off)
    e, g, text = lines(info.value)
    assert e != g and "relative error 1.00e-07" in text
