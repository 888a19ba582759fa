"""The gradient checker accepts correct rules and rejects slightly wrong ones.

A checker that never fails proves nothing, so each test here plants a wrong
rule (in a patched copy of a rule table, restored after the test) and asserts
that ``check_grads`` raises, in the mode and at the order where the rule is
wrong, and with a message that says so.
"""
import numpy as np
import pytest

from autodiff_ref import core, dual, reverse
from autodiff_ref.core import primal
from autodiff_ref.testing import TOLERANCES, GradCheckError, check_grads, central_jvp

X = np.array([0.3, -1.2, 2.0, 0.9])


@pytest.fixture
def rules(monkeypatch):
    """Plant a rule for one primitive in forward (jvp) or reverse (vjp) mode, for one test."""
    def plant(mode, prim, *rule):
        table = dual.jvp_rules if mode == "fwd" else reverse.vjp_rules
        monkeypatch.setitem(table, prim, rule)
    return plant


# ---------------------------------------------------------------- accepts correct rules
@pytest.mark.parametrize("f, args", [
    (np.sin, (X,)),
    (np.sin, (0.7,)),
    (lambda a, b: np.sum(np.tanh(a) * b), (X, 1.5)),
    (lambda a, b: (a * b, np.exp(a)), (X, X[::-1].copy())),
    (lambda a: a.reshape(2, 2) @ a.reshape(2, 2), (X,)),
], ids=["sin-array", "sin-scalar", "two-inputs", "tuple-output", "matmul"])
def test_accepts_correct_rules(f, args):
    check_grads(f, *args, order=2)


def test_accepts_third_order():
    check_grads(lambda x: np.sin(x) * np.exp(x), 0.4, order=3)


def test_central_jvp_is_fourth_order():
    """The oracle itself: halving h cuts the truncation error of the stencil ~16×."""
    f, x, v = np.exp, 1.0, 1.0
    errors = [abs(central_jvp(f, (x,), (v,), h=h) - np.exp(1.0)) for h in (0.1, 0.05)]
    assert 12 < errors[0] / errors[1] < 20


# ---------------------------------------------------------------- rejects wrong rules
def test_rejects_sin_rule_off_by_a_tenth_of_a_percent_in_forward_mode(rules):
    rules("fwd", core.sin, lambda t, ans, x: t * 1.001 * np.cos(x))
    with pytest.raises(GradCheckError) as info:
        check_grads(np.sin, X)
    message = str(info.value)
    assert "forward mode (JVP) failed at order 1" in message
    assert "central differences" in message
    for part in ("input:", "expected:", "got:", "0.3"):
        assert part in message


def test_rejects_sin_rule_off_by_a_tenth_of_a_percent_in_reverse_mode(rules):
    rules("rev", core.sin, lambda g, ans, x: g * 1.001 * np.cos(x))
    with pytest.raises(GradCheckError, match=r"reverse mode \(VJP\) failed at order 1.*projection"):
        check_grads(np.sin, X)


def test_rejects_the_same_wrong_rule_in_both_modes(rules):
    """Both modes agree with each other; central differences still catch them."""
    rules("fwd", core.sin, lambda t, ans, x: t * 1.001 * np.cos(x))
    rules("rev", core.sin, lambda g, ans, x: g * 1.001 * np.cos(x))
    with pytest.raises(GradCheckError, match="forward mode"):
        check_grads(np.sin, X, modes=("fwd",))
    with pytest.raises(GradCheckError, match="reverse mode.*J v by central differences"):
        check_grads(np.sin, X, modes=("rev",))


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_tolerance_is_tight_enough_for_a_relative_error_of_1e_5(rules, mode):
    factor = 1 + 100 * TOLERANCES["central"].rtol
    if mode == "fwd":
        rules("fwd", core.exp, lambda t, ans, x: t * factor * ans)
    else:
        rules("rev", core.exp, lambda g, ans, x: g * factor * ans)
    with pytest.raises(GradCheckError):
        check_grads(np.exp, X, modes=(mode,), order=1)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_rejects_a_wrong_second_derivative_only_at_order_2(rules, mode):
    """sin's own rule is right; cos's rule is wrong, which only sin'' = -sin sees."""
    if mode == "fwd":
        rules("fwd", core.cos, lambda t, ans, x: -t * 1.001 * np.sin(x))
    else:
        rules("rev", core.cos, lambda g, ans, x: -g * 1.001 * np.sin(x))
    check_grads(np.sin, X, modes=(mode,), order=1)
    with pytest.raises(GradCheckError, match="failed at order 2") as info:
        check_grads(np.sin, X, modes=(mode,), order=2)
    assert ("J(x)·v" if mode == "fwd" else "J(x)ᵀ·ū") in str(info.value)


def test_rejects_a_rule_for_the_second_input_only(rules):
    rules("rev", core.multiply, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x * 1.001)
    with pytest.raises(GradCheckError, match="reverse mode"):
        check_grads(lambda a, b: a * b, X, X + 1, modes=("rev",), order=1)


def test_rejects_a_pullback_of_the_wrong_shape(rules):
    rules("rev", core.sum_, lambda g, ans, x, axis=None, keepdims=False: np.zeros(7))
    with pytest.raises(GradCheckError, match="not shaped like the inputs"):
        check_grads(np.sum, X, modes=("rev",), order=1)


def test_rejects_a_forward_rule_that_mixes_up_directions(rules):
    """A rule right for one direction, wrong for a trailing axis of k directions."""
    def sin_rule(t, ans, x):
        if np.shape(primal(t)) != np.shape(primal(x)):   # k directions: adds them up (wrong)
            return np.sum(t, axis=-1, keepdims=True) * np.cos(x)
        return t * np.cos(x)
    rules("fwd", core.sin, sin_rule)
    with pytest.raises(GradCheckError, match="3 directions"):
        check_grads(np.sin, X, modes=("fwd",), order=1)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_rejects_a_wrong_primal_output(monkeypatch, mode):
    """Traced evaluation computes a wrong value (plain numpy, used by f(x), is untouched)."""
    monkeypatch.setattr(core.sin, "impl", lambda x: np.sin(x) * 1.001)
    with pytest.raises(GradCheckError, match="primal output"):
        check_grads(np.sin, X, modes=(mode,), order=1)


def test_error_names_mode_order_input_and_direction(rules):
    rules("fwd", core.tanh, lambda t, ans, x: t * (1 - ans * ans) * 1.01)
    with pytest.raises(GradCheckError) as info:
        check_grads(lambda a, b: np.tanh(a) * b, X, 2.5, name="tanh_times_b")
    message = str(info.value)
    assert message.startswith("check_grads(tanh_times_b): forward mode (JVP) failed at order 1")
    assert "2.5" in message and "direction v" in message and "tolerance" in message


def test_bad_arguments_to_the_checker():
    with pytest.raises(ValueError, match="modes"):
        check_grads(np.sin, 1.0, modes=("sideways",))
    with pytest.raises(ValueError, match="order"):
        check_grads(np.sin, 1.0, order=0)
    with pytest.raises(ValueError, match="at least one primal"):
        check_grads(np.sin)
