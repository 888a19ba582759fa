"""Bad input gets a clear error that names the problem and, where there is one, the fix."""
import numpy as np
from autodiff_ref.core import primal
import pytest

from autodiff_ref import Dual, derivative, grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp
from autodiff_ref.core import Tracer
from autodiff_ref.reverse import Box, Tape
from autodiff_ref import core

X23 = np.arange(6.0).reshape(2, 3) / 7


def dual_of(x):
    return Dual(x, np.ones_like(x))


def box_of(x):
    return Tape(core.new_level()).input(x)


TRACERS = {"Dual": dual_of, "Box": box_of}
tracer_kinds = pytest.mark.parametrize("make", list(TRACERS.values()), ids=list(TRACERS))


# ---------------------------------------------------------------- grad of a non-scalar
@pytest.mark.parametrize("transform", [grad, value_and_grad, hessian], ids=lambda f: f.__name__)
def test_grad_of_a_vector_output_names_the_shape_and_the_alternatives(transform):
    def f(x):
        return np.sin(x)
    with pytest.raises((TypeError, ValueError)) as info:
        transform(f)(X23)
    message = str(info.value)
    assert "scalar" in message
    assert "(2, 3)" in message          # the shape it got
    assert "jacrev" in message and "vjp" in message   # what to use instead
    assert "but f returned" in message  # which function


def test_grad_of_a_scalar_shaped_array_is_fine():
    assert grad(lambda x: np.sum(x * x, keepdims=False))(np.ones(2)).shape == (2,)
    assert float(grad(lambda x: np.reshape(x * x, ()))(3.0)) == 6.0


# ---------------------------------------------------------------- unsupported numpy
@tracer_kinds
@pytest.mark.parametrize("func, name", [
    (np.fft.fft, "numpy.fft.fft"), (np.median, "numpy.median"), (np.linalg.svd, "numpy.linalg.svd"),
    (np.unique, "numpy.unique"),
])
def test_unsupported_numpy_function_names_itself(make, func, name):
    x = make(np.eye(2) + 1.0)
    with pytest.raises(NotImplementedError) as info:
        func(x)
    assert name in str(info.value)
    assert "not differentiable" in str(info.value)


@tracer_kinds
def test_unsupported_ufunc_names_itself_and_lists_the_supported_ones(make):
    with pytest.raises(NotImplementedError) as info:
        np.float_power(make(np.ones(3)), 2.0)
    message = str(info.value)
    assert "numpy.float_power" in message and "no derivative rule" in message
    assert "tanh" in message  # the list of what is supported


@tracer_kinds
def test_ufunc_methods_and_out_are_refused_by_name(make):
    x = make(np.ones(3))
    with pytest.raises(TypeError, match=r"numpy\.add\.reduce"):
        np.add.reduce(x)
    with pytest.raises(TypeError, match="out="):
        np.sin(x, out=np.empty(3))


def test_unsupported_functions_inside_grad_and_jvp():
    with pytest.raises(NotImplementedError, match=r"numpy\.median"):
        grad(lambda x: np.sum(np.median(x)))(np.ones(3))
    with pytest.raises(NotImplementedError, match=r"numpy\.fft\.fft"):
        jvp(lambda x: np.fft.fft(x), (np.ones(4),), (np.ones(4),))


@tracer_kinds
@pytest.mark.parametrize("call, says", [
    (lambda x: np.sum(x, where=np.array([True, False, True])), "numpy.sum(..., where="),
    (lambda x: np.max(x, initial=5.0), "numpy.max(..., initial=5.0)"),
    (lambda x: np.mean(x, where=np.array([True, False, True])), "numpy.mean(..., where="),
    (lambda x: np.prod(x, dtype=int), "numpy.prod(..., dtype="),
    (lambda x: np.reshape(x, (3, 1), order="F"), "order='F'"),
], ids=["sum-where", "max-initial", "mean-where", "prod-int-dtype", "reshape-order-F"])
def test_options_that_would_change_the_result_are_refused_not_ignored(make, call, says):
    with pytest.raises(NotImplementedError) as info:
        call(make(np.array([1.0, 2.0, 3.0])))
    assert says in str(info.value)


@tracer_kinds
def test_harmless_options_are_accepted(make):
    x = make(np.array([1.0, 2.0, 3.0]))
    assert float(primal(np.sum(x, dtype=np.float64, out=None))) == 6.0
    assert np.shape(np.reshape(x, (3, 1), order="C")) == (3, 1)


def test_norm_with_an_unsupported_order_says_which():
    with pytest.raises(NotImplementedError, match="ord=0"):
        grad(lambda x: np.linalg.norm(x, ord=0))(np.ones(3))
    with pytest.raises(NotImplementedError, match="ord='fro' of a vector"):
        grad(lambda x: np.linalg.norm(x, "fro"))(np.ones(3))


def test_spectral_norm_of_a_matrix_is_its_largest_singular_value_not_frobenius():
    """np.linalg.norm(M, 2) is M's largest singular value σ₁, with gradient u₁v₁ᵀ."""
    M = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert np.linalg.norm(M, 2) != np.linalg.norm(M, "fro")
    u, s, vt = np.linalg.svd(M)
    np.testing.assert_allclose(grad(lambda m: np.linalg.norm(m, 2))(M), np.outer(u[:, 0], vt[0]), rtol=1e-12)
    frobenius_gradient = grad(lambda m: np.linalg.norm(m, "fro"))(M)
    np.testing.assert_allclose(frobenius_gradient, M / np.linalg.norm(M), rtol=1e-14)


# ---------------------------------------------------------------- tangent shapes
def test_dual_with_a_tangent_of_the_wrong_shape():
    with pytest.raises(ValueError) as info:
        Dual(np.ones((2, 3)), np.ones((3, 2)))
    assert "(3, 2)" in str(info.value) and "(2, 3)" in str(info.value)
    assert "trailing axis of directions" in str(info.value)


def test_dual_accepts_one_trailing_axis_of_directions():
    assert Dual(np.ones((2, 3)), np.ones((2, 3, 4))).directions == 4
    with pytest.raises(ValueError):
        Dual(np.ones((2, 3)), np.ones((2, 3, 4, 5)))


def test_jvp_names_the_argument_with_the_wrong_tangent():
    with pytest.raises(ValueError) as info:
        jvp(lambda a, b: a * b, (np.ones(3), np.ones(2)), (np.ones(3), np.ones(3)))
    message = str(info.value)
    assert "tangent 1" in message and "(3,)" in message and "(2,)" in message


def test_jvp_counts_primals_and_tangents():
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        jvp(lambda a, b: a * b, (1.0, 2.0), (1.0,))


def test_jvp_wants_tuples():
    with pytest.raises(TypeError, match=r"jvp\(f, \(x,\), \(v,\)\)"):
        jvp(np.sin, np.ones(3), np.ones(3))


def test_jvp_tangents_must_carry_the_same_number_of_directions():
    with pytest.raises(ValueError, match="same number of directions"):
        jvp(lambda a, b: a * b, (np.ones(3), np.ones(3)), (np.ones((3, 2)), np.ones((3, 4))))
    with pytest.raises(ValueError, match="same number of directions"):
        jvp(lambda a, b: a * b, (np.ones(3), np.ones(3)), (np.ones((3, 2)), np.ones(3)))


# ---------------------------------------------------------------- pullback cotangents
def test_pullback_with_a_cotangent_of_the_wrong_shape():
    _, pullback = vjp(np.sin, X23)
    with pytest.raises(ValueError) as info:
        pullback(np.ones(3))
    assert "(3,)" in str(info.value) and "(2, 3)" in str(info.value)


def test_pullback_of_a_scalar_wants_a_scalar():
    _, pullback = vjp(np.sum, X23)
    with pytest.raises(ValueError, match=r"shape \(6,\).*shape \(\)"):
        pullback(np.ones(6))


def test_vjp_of_a_tuple_output_pulls_back_a_tuple_cotangent():
    """Outputs may be pytrees (they used to be refused): the cotangent has their structure."""
    value, pullback = vjp(lambda x: (x, 2 * x), np.ones(3))
    assert isinstance(value, tuple) and len(value) == 2
    (ct,) = pullback((np.ones(3), np.full(3, 0.5)))
    np.testing.assert_array_equal(ct, np.full(3, 2.0))
    with pytest.raises(ValueError, match="structure"):
        pullback(np.ones(3))


# ---------------------------------------------------------------- arguments and outputs
@pytest.mark.parametrize("transform", [grad, value_and_grad, jacrev, jacfwd, hessian],
                         ids=lambda f: f.__name__)
def test_argnums_out_of_range(transform):
    with pytest.raises(ValueError) as info:
        transform(lambda a, b: a * b, argnums=2)(1.0, 2.0)
    assert "argnums=2" in str(info.value) and "2 positional arguments" in str(info.value)


@pytest.mark.parametrize("argnums", ["0", 1.0, (), (0, 0), [0, "a"]])
def test_argnums_of_the_wrong_kind(argnums):
    with pytest.raises((TypeError, ValueError), match="argnums"):
        grad(lambda a, b: a * b, argnums=argnums)(1.0, 2.0)


def test_non_numeric_inputs_are_refused():
    with pytest.raises(TypeError, match="str"):
        grad(lambda s: s)("abc")
    with pytest.raises(TypeError, match="primal 0"):
        jvp(lambda s: s, ("abc",), (1.0,))


@pytest.mark.parametrize("output", [None, "a string"])
def test_outputs_that_are_not_numbers_are_refused(output):
    def f(x):
        return output
    with pytest.raises(TypeError, match="must return a float"):
        grad(f)(1.0)


def test_derivative_order_must_be_a_natural_number():
    for order in (-1, 1.5, "2"):
        with pytest.raises(ValueError, match="order"):
            derivative(np.sin, order)


def test_tracers_are_not_hashable():
    """Equality compares primals, so hashing would merge different tracers: refused."""
    with pytest.raises(TypeError):
        hash(Dual(1.0, 1.0))
    assert isinstance(box_of(1.0), Tracer) and isinstance(box_of(1.0), Box)


# ---------------------------------------------------------------- dropped derivatives
@pytest.mark.parametrize("make", [lambda v: Dual(v, 1.0), None], ids=["Dual", "Box"])
def test_math_functions_and_array_writes_refuse_to_drop_the_derivative(make):
    """math.sin(x) and b[0] = x call float(x): that would silently lose the derivative."""
    import math
    if make is None:
        with pytest.raises(TypeError, match="np.sin"):
            grad(lambda x: math.sin(x))(0.5)
        with pytest.raises((TypeError, ValueError)):  # numpy's message or ours, never silence
            def write(x):
                b = np.zeros(2)
                b[0] = x
                return np.sum(b)
            grad(write)(0.5)
    else:
        with pytest.raises(TypeError, match="drop its derivative"):
            math.exp(make(0.5))
