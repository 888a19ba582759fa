"""Issue 10: numpy's edges give the right value or a clear error, never a silently wrong one.

Each of the seven reproducers of the issue is a test here, then the "confusing
today" cases, then the one convention at kinks (checked against numpy's own
selectors, np.argmax and np.sign, and against torch.clamp). Oracles: numpy's
own values, closed forms, central differences (check_grads) and torch.
"""
import math
import warnings

import numpy as np
import pytest
import torch

from autodiff_ref import (UnexpectedTracerError, derivative, grad, hessian, jacfwd, jacrev, jvp,
                          value_and_grad, vjp)
from autodiff_ref.testing import assert_close, check_grads

X2 = np.array([1.0, 2.0])


# ---------------------------------------------------------------- 1. outputs built from pieces
def test_1_jacfwd_of_np_array_of_tracers():
    def f(x):
        return np.array([x[0], x[1] ** 2])
    expected = np.array([[1.0, 0.0], [0.0, 4.0]])
    assert_close(jacfwd(f)(X2), expected, what="jacfwd of np.array([...])")
    assert_close(jacrev(f)(X2), expected, what="jacrev of np.array([...])")
    check_grads(f, X2)


@pytest.mark.parametrize("build", [
    lambda x: np.r_[x[0], x[1] ** 2],
    lambda x: np.c_[x[:1], x[1:] ** 2][0],
    lambda x: np.array([[x[0]], [x[1] ** 2]])[:, 0],
], ids=["r_", "c_", "nested lists"])
def test_1_r_c_and_nested_lists(build):
    expected = np.array([[1.0, 0.0], [0.0, 4.0]])
    assert_close(jacfwd(build)(X2), expected, what="jacfwd")
    assert_close(jacrev(build)(X2), expected, what="jacrev")


def test_1_jvp_of_list_tuple_and_dict_outputs():
    value, tangent = jvp(lambda x: [x ** 2, x], (1.5,), (1.0,))
    assert isinstance(value, list) and isinstance(tangent, list)
    assert_close(tuple(value), (2.25, 1.5))
    assert_close(tuple(tangent), (3.0, 1.0))
    value, tangent = jvp(lambda x: {"a": (x, 2 * x), "b": [np.sin(x)]}, (X2,), (np.ones(2),))
    assert_close(tangent["a"], (np.ones(2), 2 * np.ones(2)))
    assert_close(tangent["b"][0], np.cos(X2))


def test_1_an_array_of_tracers_flows_into_later_operations():
    def f(x):
        v = np.array([x[0] * x[1], 2.0, x[1]])
        return np.sum(np.sin(v[[0, 2]]) * x[0]) + v @ np.ones(3) + np.sum(np.exp(np.array([x[0], x[1]])))
    check_grads(f, X2)


@pytest.mark.parametrize("transform", [grad, jacfwd], ids=["grad", "jacfwd"])
def test_1_np_sin_of_an_array_mixing_tracers_and_numbers_says_what_to_do(transform):
    with pytest.raises(TypeError, match=r"np\.stack"):
        transform(lambda x: np.sum(np.sin(np.array([x[0], 2.0]))))(X2)


# ---------------------------------------------------------------- 2. np.dot with an N-D argument
def test_2_dot_with_an_nd_second_argument_is_not_matmul():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 3, 4))
    value, _ = jvp(np.dot, (a, b), (a, b))
    assert value.shape == (2, 2, 4)
    assert_close(value, np.dot(a, b))
    check_grads(np.dot, a, b)


# ---------------------------------------------------------------- 3. complex input
@pytest.mark.parametrize("transform", [grad, jacfwd, jacrev])
def test_3_complex_input_is_refused_with_a_clear_message(transform):
    with pytest.raises(TypeError, match="complex") as info:
        transform(lambda z: np.abs(np.exp(z)))(1 + 1j)
    assert "real and imaginary parts" in str(info.value)


def test_3_complex_output_from_real_input_is_refused():
    with pytest.raises(TypeError, match="complex"):
        grad(lambda x: x * 1j)(1.0)


# ---------------------------------------------------------------- 4. where with a non-boolean condition
@pytest.mark.parametrize("transform", [grad, lambda f: jacfwd(f)], ids=["grad", "jacfwd"])
def test_4_where_condition_is_a_mask_not_a_factor(transform):
    def f(x):
        return np.sum(np.where(np.array([2, 0]), x, 0.0))
    assert_close(transform(f)(np.array([1.0, 1.0])), np.array([1.0, 0.0]))


# ---------------------------------------------------------------- 5. where and the branch not taken
def test_5_forward_where_keeps_inf_of_the_branch_not_taken_out():
    def f(x):
        return np.sum(np.where(x > 0, np.log(x), x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_close(jacfwd(f)(np.array([0.0, 2.0])), np.array([1.0, 0.5]))
        # reverse mode needs the "double where" (documented in dual/reverse rules for where)
        safe = lambda x: np.sum(np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), x))  # noqa: E731
        assert_close(grad(safe)(np.array([0.0, 2.0])), np.array([1.0, 0.5]))


# ---------------------------------------------------------------- 6. tracers that escape
def test_6_a_leaked_box_is_reported_not_returned():
    leak = []

    def f(x):
        leak.append(x)
        return x * x
    grad(f)(1.0)
    with pytest.raises(UnexpectedTracerError, match="already returned") as info:
        grad(lambda y: y * leak[0])(2.0)
    assert "has_aux" in str(info.value) and "primal" in str(info.value)
    with pytest.raises(UnexpectedTracerError):
        leak[0] * 2.0                 # the scalar fast path
    with pytest.raises(UnexpectedTracerError):
        np.sin(leak[0])
    with pytest.raises(UnexpectedTracerError):
        grad(lambda y: leak[0])(2.0)  # returned as the output of a later call


def test_6_a_leaked_dual_is_reported():
    leak = []

    def f(x):
        leak.append(x)
        return np.sin(x)
    jvp(f, (1.0,), (1.0,))
    with pytest.raises(UnexpectedTracerError, match="jvp"):
        jvp(lambda y: y * leak[0], (2.0,), (1.0,))
    with pytest.raises(UnexpectedTracerError):
        leak[0] + 1.0


def test_6_nested_transformations_are_not_reported():
    """Closing over an outer tracer inside an inner transformation is fine: the outer is live."""
    assert float(grad(lambda x: x * grad(lambda y: x * y)(3.0))(1.5)) == 3.0
    check_grads(lambda x: np.sum(x * jacfwd(lambda y: np.sin(x * y))(x[0])), X2)


# ---------------------------------------------------------------- 7. item() and int()
@pytest.mark.parametrize("convert", [lambda x: x.item(), int, float, math.sin],
                         ids=["item", "int", "float", "math.sin"])
@pytest.mark.parametrize("transform", [grad, derivative], ids=["grad", "derivative"])
def test_7_conversions_that_drop_the_derivative_raise(convert, transform):
    with pytest.raises(TypeError, match="drop its derivative"):
        transform(lambda x: convert(x) * x)(2.5)


def test_7_primal_is_the_named_way_to_a_plain_value():
    from autodiff_ref.core import primal
    assert grad(lambda x: int(primal(x)) * x)(2.5) == 2.0


# ---------------------------------------------------------------- confusing today
def _write(x):
    y = np.zeros(3)
    y[0] = x
    return np.sum(y)


def _slice_write(x):
    y = np.zeros(3)
    y[:2] = x
    return np.sum(y)


@pytest.mark.parametrize("f", [_write, _slice_write, lambda x: np.array(x, dtype=float),
                               lambda x: np.float64(x), lambda x: np.asarray(x, dtype=float)],
                         ids=["y[0] = x", "y[:2] = x", "np.array(x, dtype=float)", "np.float64(x)",
                              "np.asarray(x, float)"])
@pytest.mark.parametrize("transform", [grad, jacfwd], ids=["grad", "jacfwd"])
def test_writes_and_conversions_say_what_to_write_instead(f, transform):
    x = 1.5 if f is not _slice_write else np.ones(2)
    with pytest.raises(TypeError) as info:
        transform(lambda v: np.sum(f(v)))(x)
    message = str(info.value)
    assert "drop its derivative" in message
    assert "np.stack" in message and "np.where" in message   # what to write instead


@pytest.mark.parametrize("transform", [grad, jacfwd], ids=["grad", "jacfwd"])
def test_functional_updates_work(transform):
    def f(x):
        y = np.zeros(3)
        y = np.where(np.arange(3) == 0, x[1], y)         # y[0] = x[1]
        y = np.concatenate([y[:2], x[:1] ** 2])          # y[2] = x[0]²
        return np.sum(y * np.array([1.0, 2.0, 3.0]))
    assert_close(transform(f)(X2), np.array([6.0, 1.0]))


def test_asarray_without_a_dtype_keeps_the_derivative():
    f = lambda x: np.sum(np.asarray(x) ** 2)  # noqa: E731
    assert_close(grad(f)(X2), 2 * X2)
    assert_close(jacfwd(f)(X2), 2 * X2)


@pytest.mark.parametrize("f, x", [(np.log, 0.0), (lambda x: 1.0 / x, 0.0), (np.sqrt, 0.0),
                                  (lambda x: np.log1p(x), -1.0)], ids=["log", "1/x", "sqrt", "log1p"])
def test_division_by_zero_is_inf_in_both_modes_as_in_numpy(f, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        by_reverse = grad(f)(x)
        by_forward = jvp(f, (x,), (1.0,))[1]
    assert np.isinf(by_reverse) and np.isinf(by_forward)
    assert np.sign(by_reverse) == np.sign(by_forward)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_float32_in_float32_out(dtype):
    x = np.array([0.5, 1.0, 2.0], dtype=dtype)
    f = lambda v: np.sum(np.sin(v) * v)  # noqa: E731
    for how, got in (("grad", grad(f)(x)), ("jacfwd", jacfwd(f)(x)), ("jacrev", jacrev(f)(x)),
                     ("jvp", jvp(np.sin, (x,), (x,))[1]), ("vjp", vjp(np.sin, x)[1](x)[0]),
                     ("hessian", hessian(f)(x))):
        assert got.dtype == dtype, how
    assert grad(f)(np.float32(0.5)).dtype == np.float32


def test_astype_float32_casts_value_and_derivative():
    x = np.array([0.5, 1.5])
    value, tangent = jvp(lambda v: (v * v).astype(np.float32), (x,), (np.ones(2),))
    assert value.dtype == np.float32 and tangent.dtype == np.float32
    np.testing.assert_allclose(tangent, 2 * x, rtol=1e-6)
    assert_close(grad(lambda v: np.sum(v.astype(np.float32)).astype(float) * 2.0)(x), np.full(2, 2.0))
    with pytest.raises(TypeError, match="drop its derivative"):
        grad(lambda v: np.sum(v.astype(int)))(x)


def test_python_floats_stay_python_floats():
    assert type(grad(lambda x: x * x)(3.0)) is float
    assert type(grad(np.sin)(3.0)) is float


# ---------------------------------------------------------------- one convention at kinks
def _one_hot_first(x, axis=None, largest=True):
    """The oracle: 1 at the entry np.argmax (np.argmin) picks along `axis`, 0 elsewhere."""
    pick = np.argmax if largest else np.argmin
    if axis is None:
        out = np.zeros(x.size)
        out[pick(x)] = 1.0
        return out.reshape(x.shape)
    return np.moveaxis(np.eye(x.shape[axis])[pick(x, axis=axis)], -1, axis)


TIES = [  # (name, f, inputs, the derivatives of sum(f) by the convention, from numpy's own selectors)
    ("maximum", lambda x, y: np.maximum(x, y), (np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])),
     (np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.0]))),
    ("minimum", lambda x, y: np.minimum(x, y), (np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 3.0])),
     (np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.0]))),
    ("fmax with NaN", lambda x, y: np.fmax(x, y), (np.array([1.0, np.nan, 3.0]), np.array([np.nan, 0.0, 3.0])),
     (np.array([1.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0]))),
    ("max ties", lambda x: np.max(x), (np.array([2.0, 1.0, 2.0, 2.0]),),
     (_one_hot_first(np.array([2.0, 1.0, 2.0, 2.0])),)),
    ("min ties axis", lambda x: np.min(x, axis=1), (np.array([[0.0, 0.0, 1.0], [3.0, 2.0, 2.0]]),),
     (_one_hot_first(np.array([[0.0, 0.0, 1.0], [3.0, 2.0, 2.0]]), axis=1, largest=False),)),
    ("max over two axes", lambda x: np.max(x, axis=(0, 2)), (np.ones((2, 2, 2)),),
     (np.array([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]),)),
    ("abs at 0", lambda x: np.abs(x), (np.array([-1.0, 0.0, 2.0]),), (np.sign([-1.0, 0.0, 2.0]),)),
]


@pytest.mark.parametrize("name, f, xs, expected", TIES, ids=[t[0] for t in TIES])
def test_kinks_follow_one_convention(name, f, xs, expected):
    argnums = tuple(range(len(xs)))
    g = lambda *vs: np.sum(f(*vs))  # noqa: E731
    assert_close(grad(g, argnums)(*xs), expected, what=f"grad at the kink ({name})")
    assert_close(jacfwd(g, argnums)(*xs), expected, what=f"jacfwd at the kink ({name})")


def test_max_and_indexing_at_argmax_agree():
    x = np.array([3.0, 1.0, 3.0])
    assert_close(grad(np.max)(x), grad(lambda v: v[np.argmax(v)])(x))


def test_clip_at_its_bounds_agrees_with_torch_clamp():
    x = np.array([-0.5, 0.0, 0.5, 0.7, -0.9])
    t = torch.tensor(x, requires_grad=True)
    torch.clamp(t, -0.5, 0.5).sum().backward()
    for transform in (grad, jacfwd):
        assert_close(transform(lambda v: np.sum(np.clip(v, -0.5, 0.5)))(x), t.grad.numpy())


def test_the_stable_softplus_trap_of_lesson_8_stays():
    """maximum(z, 0) + log1p(exp(−|z|)) at z = 0: AD gives 1 − y, not σ(0) − y (the lesson's point)."""
    y = np.array([1.0, 0.0])
    kinky = lambda z: np.sum(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z)  # noqa: E731
    assert_close(grad(kinky)(np.zeros(2)), 1 - y)
    assert_close(jacfwd(kinky)(np.zeros(2)), 1 - y)


def test_sqrt_at_zero_is_inf_in_both_modes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert grad(np.sqrt)(0.0) == np.inf
        assert jvp(np.sqrt, (0.0,), (1.0,))[1] == np.inf


def test_the_convention_is_documented_in_one_place():
    from autodiff_ref import core
    doc = core.takes_first.__doc__
    for name in ("maximum", "fmax", "max", "clip", "abs", "sqrt", "floor", "round"):
        assert name in doc


def test_moveaxis_with_lists():
    x = np.arange(24.0).reshape(2, 3, 4)
    value, _ = jvp(lambda v: np.moveaxis(v, [0, 1], [-1, -2]), (x,), (x,))
    assert_close(value, np.moveaxis(x, [0, 1], [-1, -2]))
