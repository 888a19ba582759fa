"""The public API: argnums, nesting, higher orders, shapes, long tapes and memory.

Oracles are closed forms (sympy, written out by hand) and the two modes
against each other; tolerances come from autodiff_ref.testing.TOLERANCES.
"""
import gc
import sys

import numpy as np
import pytest
import sympy as sp

import autodiff_ref
from autodiff_ref import (Dual, derivative, grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp)
from autodiff_ref.testing import assert_close, check_grads

RNG = np.random.default_rng(20261122)


# ---------------------------------------------------------------- argnums
def f3(a, b, c):
    return a * a * b + np.sin(c) * b


def f3_partials(a, b, c):
    return (2 * a * b, a * a + np.sin(c), np.cos(c) * b)


POINT = (1.3, -0.7, 0.4)


@pytest.mark.parametrize("argnums", [0, 1, 2, -1, (0,), (0, 2), (2, 0), (0, 1, 2)])
def test_grad_and_value_and_grad_argnums(argnums):
    partials = f3_partials(*POINT)
    expected = partials[argnums] if isinstance(argnums, int) else tuple(partials[i] for i in argnums)
    got = grad(f3, argnums)(*POINT)
    value, got_too = value_and_grad(f3, argnums)(*POINT)
    assert isinstance(got, tuple) == (not isinstance(argnums, int))
    assert_close(got, expected, what=f"grad argnums={argnums}")
    assert_close(got_too, expected, what=f"value_and_grad argnums={argnums}")
    assert value == f3(*POINT)


@pytest.mark.parametrize("jacobian", [jacfwd, jacrev], ids=["jacfwd", "jacrev"])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0)])
def test_jacobian_argnums_and_shapes(jacobian, argnums):
    A = RNG.normal(size=(2, 3))
    x, y = RNG.normal(size=3), RNG.normal(size=(3, 4))

    def f(x, y):
        return np.tanh(A @ x)[:, None] * np.sum(y, axis=0)     # shape (2, 4)
    s = np.sum(y, axis=0)
    u = A @ x
    dx = ((1 - np.tanh(u) ** 2)[:, None, None] * A[:, None, :]) * s[None, :, None]   # (2, 4, 3)
    dy = np.zeros((2, 4, 3, 4))
    for k in range(4):
        dy[:, k, :, k] = np.tanh(u)[:, None]
    jac = {0: dx, 1: dy}
    got = jacobian(f, argnums)(x, y)
    if isinstance(argnums, int):
        assert got.shape == jac[argnums].shape
        assert_close(got, jac[argnums], what=f"{jacobian.__name__} argnums={argnums}")
    else:
        assert tuple(g.shape for g in got) == tuple(jac[i].shape for i in argnums)
        assert_close(got, tuple(jac[i] for i in argnums), what=f"{jacobian.__name__} argnums={argnums}")


def test_hessian_argnums():
    a, b = 0.8, -1.1

    def f(a, b):
        return a ** 3 * b + np.exp(a * b)
    e = np.exp(a * b)
    H = ((6 * a * b + b * b * e, 3 * a * a + e + a * b * e),
         (3 * a * a + e + a * b * e, a * a * e))
    assert_close(hessian(f)(a, b), H[0][0], what="∂²f/∂a²")
    assert_close(hessian(f, 1)(a, b), H[1][1], what="∂²f/∂b²")
    got = hessian(f, (0, 1))(a, b)
    assert_close(tuple(got[0]) + tuple(got[1]), H[0] + H[1], what="hessian argnums=(0, 1)")


def test_arguments_not_differentiated_stay_plain():
    seen = []

    def f(x, n):
        seen.append(type(n))
        return np.sum(x ** n)
    assert_close(grad(f)(np.array([1.0, 2.0]), 3), np.array([3.0, 12.0]))
    assert seen == [int]


# ---------------------------------------------------------------- nesting, higher orders
x_sym = sp.Symbol("x")
CLOSED_FORMS = [  # (sympy expression, numpy function)
    (sp.sin(x_sym) * sp.exp(x_sym / 2), lambda x: np.sin(x) * np.exp(x / 2)),
    (sp.log(1 + x_sym ** 2) * sp.tanh(x_sym), lambda x: np.log(1 + x * x) * np.tanh(x)),
    (x_sym ** 5 - 3 * x_sym ** 2 + 1 / (2 + sp.cos(x_sym)), lambda x: x ** 5 - 3 * x ** 2 + 1 / (2 + np.cos(x))),
    (sp.sqrt(1 + x_sym ** 2) * sp.atan(x_sym), lambda x: np.sqrt(1 + x * x) * np.arctan(x)),
]


@pytest.mark.parametrize("expr, f", CLOSED_FORMS, ids=[str(e) for e, _ in CLOSED_FORMS])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_derivatives_of_order_1_to_4_match_sympy(expr, f, order):
    x = 0.7
    expected = float(sp.diff(expr, x_sym, order).subs(x_sym, x))
    by_duals = derivative(f, order)(x)
    by_reverse = f
    for _ in range(order):
        by_reverse = grad(by_reverse)
    by_forward = f
    for _ in range(order):
        by_forward = jacfwd(by_forward)
    mixed = f                                  # alternate the modes: rev, fwd, rev, fwd
    for k in range(order):
        mixed = grad(mixed) if k % 2 == 0 else jacfwd(mixed)
    for how, got in (("dual numbers", by_duals), ("grad^n", by_reverse(x)),
                     ("jacfwd^n", by_forward(x)), ("alternating", mixed(x))):
        assert_close(got, expected, what=f"order-{order} derivative by {how}")


def test_nested_transformations_agree_on_a_hessian():
    xs = sp.symbols("x0:3")
    expr = sp.sin(xs[0] * xs[1]) + xs[2] ** 2 * sp.exp(xs[0]) + sp.log(1 + xs[1] ** 2) * xs[2]

    def f(x):
        return np.sin(x[0] * x[1]) + x[2] ** 2 * np.exp(x[0]) + np.log(1 + x[1] ** 2) * x[2]
    x = np.array([0.3, -1.2, 0.8])
    subs = dict(zip(xs, x))
    H = np.array(sp.hessian(expr, xs).subs(subs), dtype=float)
    g = np.array([sp.diff(expr, v).subs(subs) for v in xs], dtype=float)
    v = RNG.normal(size=3)
    assert_close(grad(f)(x), g, what="gradient")
    assert_close(hessian(f)(x), H, what="hessian (forward over reverse)")
    assert_close(jacfwd(jacrev(f))(x), H, what="jacfwd(jacrev(f))")
    assert_close(jacrev(jacfwd(f))(x), H, what="jacrev(jacfwd(f))")
    assert_close(jacrev(jacrev(f))(x), H, what="jacrev(jacrev(f))")
    assert_close(jacfwd(jacfwd(f))(x), H, what="jacfwd(jacfwd(f))")
    assert_close(jacfwd(grad(f))(x), H, what="jacfwd(grad(f))")
    assert_close(jvp(grad(f), (x,), (v,))[1], H @ v, what="jvp of grad (Hessian-vector product)")
    assert_close(vjp(grad(f), x)[1](v)[0], H @ v, what="vjp of grad")
    assert_close(grad(lambda y: grad(f)(y) @ v)(x), H @ v, what="grad of ⟨grad f, v⟩")
    check_grads(f, x, order=3)


def test_third_order_tensor_by_nesting():
    def f(x):
        return x[0] ** 2 * x[1] ** 3
    x = np.array([1.5, -0.5])
    T = jacfwd(hessian(f))(x)                      # ∂³f/∂xᵢ∂xⱼ∂xₖ
    a, b = x
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 1] = expected[0, 1, 0] = expected[1, 0, 0] = 6 * b * b
    expected[0, 1, 1] = expected[1, 0, 1] = expected[1, 1, 0] = 12 * a * b
    expected[1, 1, 1] = 6 * a * a
    assert_close(T, expected, what="third derivative tensor")
    assert_close(jacrev(jacrev(jacrev(f)))(x), expected, what="jacrev³")


# ---------------------------------------------------------------- perturbation confusion
def test_perturbation_confusion_forward():
    """d/dx [x · d/dy (x + y)] = d/dx [x · 1] = 1 (Siskind & Pearlmutter).

    A library that confuses the two ε's (one per derivative) answers 2.
    """
    def outer(x):
        return x * derivative(lambda y: x + y)(2.0)
    assert derivative(outer)(1.0) == 1.0
    # the inner derivative closes over x, and also multiplies it: d/dx [x · d/dy (x·y)] = 2x
    assert derivative(lambda x: x * derivative(lambda y: x * y)(3.0))(1.5) == 3.0


@pytest.mark.parametrize("outer_d, inner_d", [
    (grad, grad), (grad, derivative), (derivative, grad), (jacfwd, jacrev), (jacrev, jacfwd)],
    ids=["rev-rev", "rev-fwd", "fwd-rev", "jacfwd-jacrev", "jacrev-jacfwd"])
def test_perturbation_confusion_all_nestings(outer_d, inner_d):
    f = outer_d(lambda x: x * inner_d(lambda y: x + y)(2.0))
    g = outer_d(lambda x: x * inner_d(lambda y: x * y)(3.0))
    assert float(f(1.0)) == 1.0
    assert float(g(1.5)) == 3.0


def test_perturbation_confusion_with_jvp_tangents_at_two_levels():
    """An inner jvp closing over the outer dual's input must not pick up its tangent."""
    def outer(x):
        _, inner_tangent = jvp(lambda y: x * y, (2.0,), (1.0,))   # ∂(xy)/∂y = x
        return inner_tangent * x                                  # x²
    _, tangent = jvp(outer, (3.0,), (1.0,))
    assert tangent == 6.0


# ---------------------------------------------------------------- values of many kinds and shapes
@pytest.mark.parametrize("x", [
    2.0, 3, np.float64(0.5), np.array(0.25), np.array([0.5]), np.linspace(-1, 1, 5),
    np.arange(6.0).reshape(2, 3) / 5, np.ones((2, 1, 3)) * 0.3, np.zeros((0,)), np.zeros((2, 0)),
    np.arange(4),
], ids=lambda x: f"{type(x).__name__}{np.shape(x)}")
def test_floats_and_arrays_of_many_shapes(x):
    def f(v):
        return np.sum(np.sin(v) * v)
    expected = np.sin(np.asarray(x, dtype=float)) + np.asarray(x, dtype=float) * np.cos(np.asarray(x, dtype=float))
    for how, got in (("grad", grad(f)(x)), ("jacfwd", jacfwd(f)(x)), ("jacrev", jacrev(f)(x))):
        assert np.shape(got) == np.shape(x), how
        assert_close(np.asarray(got, dtype=float), expected, what=how)
    assert np.shape(jacfwd(np.sin)(x)) == np.shape(x) * 2
    assert np.shape(jacrev(np.sin)(x)) == np.shape(x) * 2


def test_python_float_in_python_float_out():
    assert type(grad(lambda x: x * x)(3.0)) is float
    assert type(value_and_grad(lambda x: x * x)(3.0)[0]) is float


def test_constant_functions_have_zero_derivatives_of_the_right_shape():
    x = np.ones((2, 3))
    assert_close(grad(lambda v: 5.0)(x), np.zeros((2, 3)))
    assert_close(jacfwd(lambda v: np.ones(4))(x), np.zeros((4, 2, 3)))
    assert_close(jacrev(lambda v: np.ones(4))(x), np.zeros((4, 2, 3)))
    assert_close(grad(lambda a, b: a * 2.0, argnums=1)(1.0, 2.0), 0.0)


def test_python_control_flow_sees_primal_values():
    def relu_ish(x):
        if x > 0:
            return x * x
        return -x
    assert grad(relu_ish)(3.0) == 6.0 and grad(relu_ish)(-3.0) == -1.0
    assert derivative(relu_ish)(3.0) == 6.0

    def loop(x):
        y = x
        while y < 100:
            y = y * x
        return y
    assert grad(loop)(3.0) == 5 * 3.0 ** 4 and derivative(loop)(3.0) == 5 * 3.0 ** 4


def test_dual_numbers_of_dual_numbers():
    x = Dual(Dual(0.5, 1.0), Dual(1.0, 0.0))   # x = 0.5 + ε₁ + ε₂
    y = np.sin(x)
    assert_close(y.value.value, np.sin(0.5))
    assert_close((y.value.tangent, y.tangent.value), (np.cos(0.5), np.cos(0.5)))
    assert_close(y.tangent.tangent, -np.sin(0.5))


def test_public_names():
    for name in ("Dual", "jvp", "jacfwd", "derivative", "vjp", "grad", "value_and_grad",
                 "jacrev", "hessian"):
        assert name in autodiff_ref.__all__ and getattr(autodiff_ref, name).__doc__


# ---------------------------------------------------------------- long tapes
N_LONG = 100_000


def test_long_scalar_tape_without_recursion():
    """100k operations: the sweep is a loop, so a small recursion limit does not matter."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        def chain(x):
            for _ in range(N_LONG // 4):
                x = x * 0.999 + 0.001 * (x * x) - 0.0005
            return x
        value, slope = value_and_grad(chain)(0.3)
        _, tangent = jvp(chain, (0.3,), (1.0,))
    finally:
        sys.setrecursionlimit(old)
    # the same chain by hand: x' ← (0.999 + 0.002 x) · x'
    x, dx = 0.3, 1.0
    for _ in range(N_LONG // 4):
        x, dx = x * 0.999 + 0.001 * (x * x) - 0.0005, (0.999 + 0.002 * x) * dx
    assert_close((value, slope, tangent), (x, dx, dx), what="100k-op chain")


def test_long_array_tape_and_second_order_on_a_deep_tape():
    def chain(x):
        for _ in range(2000):
            x = np.tanh(x) * 0.5 + x * 0.5
        return np.sum(x)
    x = np.linspace(-1, 1, 4)
    g = grad(chain)(x)
    assert_close(g, jacfwd(chain)(x), what="grad vs jacfwd on a 6000-op array tape")
    H = hessian(chain)(x)
    assert_close(H, np.diag(np.diag(H)), what="the Hessian of a separable chain is diagonal")
    assert_close(np.diag(H), jacfwd(grad(chain))(x).diagonal(), what="hessian")


# ---------------------------------------------------------------- no reference cycles
def _garbage_of_ours(work):
    """Run `work` with the collector off; return the unreachable objects it left that are ours."""
    gc.collect()
    gc.disable()
    old_flags = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        work()
        gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(old_flags)
        gc.enable()

    def ours(obj):
        module = getattr(type(obj), "__module__", "") or ""
        if module.startswith("autodiff_ref"):
            return True
        code = getattr(obj, "__code__", None)
        return code is not None and "autodiff_ref" in code.co_filename
    return [obj for obj in garbage if ours(obj)]


def test_no_reference_cycles_in_reverse_mode():
    x = np.linspace(-1, 1, 5)

    def work():
        for _ in range(3):
            grad(lambda v: np.sum(np.tanh(v) * v) + v[0] * v[1])(x)
            value_and_grad(lambda a: a * a + np.sin(a) * a)(0.3)
            jacrev(lambda v: np.sin(v) * v[::-1])(x)
            hessian(lambda v: np.sum(v ** 3))(x)
    left = _garbage_of_ours(work)
    assert left == [], f"reference cycles left {len(left)} objects: {left[:5]}"


def test_no_reference_cycles_in_forward_mode():
    x = np.linspace(-1, 1, 5)

    def work():
        for _ in range(3):
            jvp(lambda v: np.sin(v) * v, (x,), (x,))
            jacfwd(lambda v: np.tanh(v) @ v)(x)
            derivative(np.sin, 3)(0.4)
    left = _garbage_of_ours(work)
    assert left == [], f"reference cycles left {len(left)} objects: {left[:5]}"


def test_the_cycle_detector_finds_a_planted_cycle():
    """The helper above is able to fail: a Box kept alive only by a cycle is found."""
    from autodiff_ref import core
    from autodiff_ref.reverse import Tape

    def work():
        cycle = [Tape(core.new_level()).input(1.0)]
        cycle.append(cycle)
    left = _garbage_of_ours(work)
    assert any(type(obj).__name__ == "Box" for obj in left)


def test_a_long_tape_is_freed_by_reference_counting():
    """With the collector off, a 40k-entry tape is freed as soon as grad returns."""
    import tracemalloc
    grad(_chain)(0.5)                         # warm up: caches, code objects
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        slope = grad(_chain)(0.5)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert 0 < slope < 1
    assert peak - before > 2_000_000          # the tape did take memory ...
    # ... and it is all back without a collection, up to CPython's free lists
    # (it keeps up to 2000 freed tuples per size and 100 floats: ~0.12 MB here)
    assert after - before < 0.05 * (peak - before)


def _chain(x):
    for _ in range(20_000):
        x = x * 0.9999 + 0.0001
    return x
