"""Tape.replay: a tape recorded at one point, replayed at another, must pull back
exactly what a fresh vjp at that point pulls back (the oracle: vjp itself, which
records the program anew), and its output must be a plain call of f."""
import numpy as np
import pytest

from autodiff_ref import core, vjp
from autodiff_ref.reverse import Tape

SEED = 20261122
RTOL = 1e-12  # replay and vjp run the same numpy operations: they agree to rounding


def scalar_arithmetic(x, y):  # the tape's scalar fast path: + - * / with constants
    return (x * y - 3.0 / x + y / 2.0 - x) * (1.5 + y) / (x + y)


def elementwise(x, y):
    return np.sin(x) * np.exp(-y ** 2) + np.tanh(x * y) - np.sqrt(x * x + 1.0) + np.log1p(y * y)


def broadcasting(x, y):  # x (3,) against y (2, 3), then a reduction
    return np.sum(x * y + x, axis=0) / np.sum(y ** 2)


def linear_algebra(x, y):
    m = np.reshape(y, (2, 3))
    return np.tanh(m @ x) @ m + np.concatenate([x[:1], x[1:] * 2.0])


def indexing_and_stacking(x, y):
    return np.stack([x[0] * y[1] - x[2], np.maximum(x[1], 0.3) * y[0], np.mean(x * x) * y[1]])


def lotka_volterra(y, t, a, b, c, d):
    prey, predator = y[0], y[1]
    return np.stack([a * prey - b * prey * predator, -c * predator + d * prey * predator])


CASES = {  # name: (f, a sampler of its inputs)
    "scalar arithmetic": (scalar_arithmetic, lambda r: (r.uniform(0.5, 2), r.uniform(0.5, 2))),
    "elementwise": (elementwise, lambda r: (r.normal(size=4), r.normal(size=4))),
    "broadcasting": (broadcasting, lambda r: (r.normal(size=3), r.normal(size=(2, 3)))),
    "linear algebra": (linear_algebra, lambda r: (r.normal(size=3), r.normal(size=6))),
    "indexing and stacking": (indexing_and_stacking, lambda r: (r.uniform(0.5, 2, 3), r.normal(size=2))),
    "Lotka-Volterra": (lotka_volterra, lambda r: (r.uniform(0.1, 3, 2), r.uniform(),
                                                  *r.uniform(0.5, 3, 4))),
}


def record(f, inputs):
    tape = Tape(core.new_level())
    out = f(*[tape.input(x) for x in inputs])
    return tape, out.index


@pytest.mark.parametrize("name", sorted(CASES))
def test_replayed_pullbacks_equal_fresh_vjps(name):
    f, sample = CASES[name]
    rng = np.random.default_rng(SEED)
    tape, output = record(f, sample(rng))
    for _ in range(20):
        inputs = sample(rng)
        replayed = tape.replay(inputs)
        value, pullback = vjp(f, *inputs)
        np.testing.assert_allclose(replayed.values[output], f(*inputs), rtol=RTOL)
        np.testing.assert_allclose(replayed.values[output], value, rtol=RTOL)
        cotangent = rng.normal(size=np.shape(value))
        adjoints = replayed.sweep(output, cotangent)
        for i, expected in enumerate(pullback(cotangent)):
            got = 0.0 if adjoints[i] is None else adjoints[i]
            np.testing.assert_allclose(got, expected, rtol=RTOL, atol=1e-14,
                                       err_msg=f"{name}: the cotangent of input {i}")


def test_replay_leaves_the_recorded_tape_alone():
    tape, output = record(lotka_volterra, (np.array([1.0, 2.0]), 0.0, 1.5, 1.0, 3.0, 1.0))
    before = list(tape.values)
    tape.replay((np.array([3.0, 0.5]), 0.0, 1.5, 1.0, 3.0, 1.0))
    assert all(a is b for a, b in zip(tape.values, before))
    np.testing.assert_allclose(tape.values[output], [1.5 - 2.0, -6.0 + 2.0])


def test_replay_cannot_see_a_branch_so_its_output_differs_from_a_plain_call():
    """The documented limit: callers compare the replayed output with a plain call."""
    def relu_by_branch(x):
        return x * 2.0 if x > 0 else x * -1.0
    tape, output = record(relu_by_branch, (1.0,))
    replayed = tape.replay((-3.0,))
    assert replayed.values[output] == -6.0 != relu_by_branch(-3.0)
