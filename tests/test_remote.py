"""The channel between grader and sandbox keeps the meaning of a call in one process:
what a function does in place to the arrays and lists it was given, the caller sees."""
import os
import threading

import numpy as np
import pytest

from autograder import remote


@pytest.fixture
def call_remote():
    """`call_remote(fn)`: a proxy of `fn` served by a second channel (as the sandbox serves)."""
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()
    grader, owner = remote.Channel(a_r, a_w, restricted=True), remote.Channel(b_r, b_w)

    def serve():
        try:
            owner.serve_forever()
        except BaseException:
            pass
    threading.Thread(target=serve, daemon=True).start()
    yield lambda fn: grader._proxy(owner.export(fn), "function")
    for fd in (a_w, b_w):
        os.close(fd)


def test_an_array_changed_in_place_is_changed_for_the_caller(call_remote):
    def step(params, lr):
        params[0] -= lr
    params = [np.array([1.0, 2.0]), np.array(3.0)]
    first = params[0]
    call_remote(step)(params, 0.5)
    assert first is params[0] and np.array_equal(first, [0.5, 1.5])
    assert params[1] == 3.0


def test_a_list_changed_in_place_is_changed_for_the_caller(call_remote):
    def replace(params):
        params[1] = np.zeros(2)
        params.append("new")
    params = [np.ones(2), np.ones(3)]
    call_remote(replace)(params)
    assert len(params) == 3 and params[2] == "new"
    assert np.array_equal(params[1], np.zeros(2)) and np.array_equal(params[0], np.ones(2))


def test_a_change_before_an_exception_is_kept(call_remote):
    def bad(x, *, scale):
        x *= scale
        raise ValueError("after the change")
    x = np.array([1.0, -1.0])
    with pytest.raises(ValueError, match="after the change"):
        call_remote(bad)(x, scale=3.0)
    assert np.array_equal(x, [3.0, -3.0])


def test_a_pure_function_changes_nothing_and_nan_is_not_a_change(call_remote):
    x = np.array([np.nan, 1.0])
    kept = x.copy()
    out = call_remote(lambda v: v * 2)(x)
    assert np.array_equal(x, kept, equal_nan=True) and np.array_equal(out, kept * 2, equal_nan=True)


def test_a_read_only_array_stays_as_it_was(call_remote):
    def write(x):
        x[0] = 9.0
    x = np.arange(3.0)
    x.flags.writeable = False
    call_remote(write)(x)
    assert np.array_equal(x, np.arange(3.0))
