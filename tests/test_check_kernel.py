"""The check kernel (autograder/checks.py): the one comparator, the tolerance table,
calling student code, and messages a student can read."""
import math

import numpy as np
import pytest

from autograder.checks import (MESSAGE_LIMIT, TOLERANCES, CheckFailure, Raised, attempt, call, is_close,
                               relative_error, same)

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize("got, expected, close", [
    (INF, INF, True), (-INF, -INF, True), (NAN, NAN, True),
    (-INF, INF, False), (INF, -INF, False), (NAN, INF, False), (INF, NAN, False), (1.0, INF, False),
    (INF, 1.0, False), (NAN, 1.0, False), (1.0, NAN, False),
    ([1.0, INF, NAN], [1.0, INF, NAN], True), ([1.0, -INF], [1.0, INF], False),
    (1.0 + 1e-13, 1.0, True), (1.0 + 1e-6, 1.0, False), ([1.0, 2.0], [1.0, 2.0, 3.0], False),
    ("a string", 1.0, False), (None, 1.0, False),
])
def test_is_close_non_finite_entries_match_only_themselves(got, expected, close):
    assert is_close(got, expected, *TOLERANCES["exact"]) is close


def test_same_uses_a_named_row_and_rejects_what_raised():
    assert same(1.0 + 1e-10, 1.0, "rounding") and not same(1.0 + 1e-10, 1.0, "exact")
    assert not same(Raised(ValueError("x")), 1.0)
    with pytest.raises(KeyError):
        same(1.0, 1.0, "my own tolerance")


def test_relative_error():
    assert relative_error([2.0, 4.0], [2.0, 5.0]) == pytest.approx(0.2)
    assert relative_error([1e-3], [0.0]) == pytest.approx(1e-3)
    assert relative_error([1.0], [1.0, 2.0]) == math.inf


def test_call_reports_the_input_and_says_not_done():
    def blank(x):
        raise NotImplementedError()

    with pytest.raises(CheckFailure) as info:
        call(blank, (2.0,), what="f(x)")
    assert "not done" in str(info.value) and "input:    (2.0,)" in str(info.value)
    with pytest.raises(CheckFailure) as info:
        call(lambda x: 1 / 0, (0.0,), what="f(x)")
    assert "ZeroDivisionError" in str(info.value) and "not done" not in str(info.value)
    assert call(lambda x: 2 * x, (3.0,), what="f") == 6.0
    assert isinstance(attempt(lambda: [][1]), Raised)


def test_messages_stay_readable():
    err = CheckFailure("w" * 10_000, inputs=np.arange(100_000.0), expected=np.ones((300, 300)),
                       got=["x" * 10_000], hint="h" * 10_000)
    text = str(err)
    assert len(text) <= MESSAGE_LIMIT
    assert "input:" in text and "expected:" in text and "got:" in text and "hint:" in text
