"""The API a JAX user expects: pytrees in and out, has_aux, keyword arguments.

Oracles: HIPS autograd on the flattened function (an independent
implementation), closed forms, and the two modes against each other.
"""
from collections import namedtuple

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

from autodiff_ref import grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp
from autodiff_ref.testing import assert_close
from autodiff_ref.tree import flatten, unflatten

RNG = np.random.default_rng(10)
PARAMS = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2), "layers": [0.7, (RNG.normal(size=2),)]}
X = RNG.normal(size=(4, 3))


def loss(params, x, m=np):
    h = m.tanh(x @ params["W"] + params["b"])
    scale, (shift,) = params["layers"]
    return m.sum((h * scale + shift) ** 2)


def loss_flat(*leaves):
    """loss of the flattened leaves, for autograd."""
    _, treedef = flatten(PARAMS)
    return loss(unflatten(treedef, leaves), X, anp)


def test_flatten_and_unflatten_round_trip():
    Point = namedtuple("Point", "x y")
    tree = {"b": [1.0, (2.0, None)], "a": Point(np.ones(2), 3.0)}
    leaves, treedef = flatten(tree)
    assert len(leaves) == 4 and treedef.num_leaves == 4
    back = unflatten(treedef, leaves)
    assert isinstance(back["a"], Point) and back["b"][1][1] is None


def test_grad_of_a_dict_of_parameters_matches_autograd():
    g = grad(loss)(PARAMS, X)
    leaves, _ = flatten(PARAMS)
    expected = [autograd.grad(loss_flat, i)(*leaves) for i in range(len(leaves))]
    assert set(g) == {"W", "b", "layers"} and isinstance(g["layers"], list)
    assert_close(tuple(flatten(g)[0]), tuple(expected), what="grad of a pytree vs autograd")
    assert type(g["layers"][0]) is float  # a Python float leaf gets a Python float gradient


def test_value_and_grad_jacfwd_jacrev_agree_on_pytrees():
    value, g = value_and_grad(loss)(PARAMS, X)
    assert_close(value, loss(PARAMS, X))
    for jac in (jacfwd, jacrev):
        assert_close(tuple(flatten(jac(loss)(PARAMS, X))[0]), tuple(flatten(g)[0]), what=jac.__name__)


def test_jacobians_of_pytree_outputs_have_jax_structure():
    def f(p):
        return {"out": p["a"] * p["b"][0], "sum": (np.sum(p["a"]),)}
    p = {"a": np.array([1.0, 2.0, 3.0]), "b": [2.0]}
    for jac in (jacfwd, jacrev):
        J = jac(f)(p)
        assert J["out"]["a"].shape == (3, 3) and np.shape(J["out"]["b"][0]) == (3,)
        assert_close(J["out"]["a"], 2.0 * np.eye(3), what=jac.__name__)
        assert_close(J["out"]["b"][0], p["a"], what=jac.__name__)
        assert_close(J["sum"][0]["a"], np.ones(3), what=jac.__name__)


def test_jvp_and_vjp_with_pytrees():
    p = (np.array([0.5, -1.0]), {"s": 2.0})
    v = (np.array([1.0, 0.0]), {"s": 0.5})

    def f(pair):
        x, d = pair
        return [x * d["s"], np.sum(np.sin(x))]
    out, tangent = jvp(f, (p,), (v,))
    assert isinstance(out, list) and isinstance(tangent, list)
    assert_close(tangent[0], v[0] * 2.0 + p[0] * 0.5)
    assert_close(tangent[1], np.cos(0.5))
    value, pullback = vjp(f, p)
    (ct,) = pullback([np.array([1.0, 1.0]), 1.0])
    assert_close(ct[0], 2.0 + np.cos(p[0]))
    assert_close(ct[1]["s"], np.sum(p[0]))
    # ⟨ū, J v⟩ = ⟨Jᵀū, v⟩ across the whole trees
    lhs = np.sum(tangent[0] * 1.0) + tangent[1] * 1.0
    rhs = np.sum(ct[0] * v[0]) + ct[1]["s"] * v[1]["s"]
    assert_close(lhs, rhs)


def test_hessian_of_a_pytree():
    def f(p):
        return p["x"] ** 2 * p["y"] + np.sin(p["y"])
    H = hessian(f)({"x": 1.5, "y": 0.5})
    assert_close((H["x"]["x"], H["x"]["y"], H["y"]["x"], H["y"]["y"]),
                 (2 * 0.5, 2 * 1.5, 2 * 1.5, -np.sin(0.5)))


def test_has_aux():
    def f(x):
        y = np.sin(x)
        return np.sum(y), {"y": y, "note": "kept"}
    g, aux = grad(f, has_aux=True)(np.array([0.1, 0.2]))
    assert_close(g, np.cos([0.1, 0.2]))
    assert isinstance(aux["y"], np.ndarray) and aux["note"] == "kept"   # plain values, not tracers
    (value, aux2), g2 = value_and_grad(f, has_aux=True)(np.array([0.1, 0.2]))
    assert_close(value, np.sum(np.sin([0.1, 0.2])))
    for jac in (jacfwd, jacrev):
        J, aux3 = jac(lambda x: (np.sin(x), x[0]), has_aux=True)(np.array([0.1, 0.2]))
        assert_close(J, np.diag(np.cos([0.1, 0.2])), what=jac.__name__)
        assert float(aux3) == 0.1
    out, tangent, aux4 = jvp(lambda x: (x * x, x + 1), (3.0,), (1.0,), has_aux=True)
    assert (out, tangent, aux4) == (9.0, 6.0, 4.0)
    value, pullback, aux5 = vjp(lambda x: (x * x, x + 1), 3.0, has_aux=True)
    assert pullback(1.0) == (6.0,) and aux5 == 4.0


def test_has_aux_wants_a_pair():
    with pytest.raises(TypeError, match="pair"):
        grad(lambda x: x * x, has_aux=True)(1.0)


def test_keyword_arguments_pass_through():
    def f(x, y, *, scale=1.0, power=2):
        return scale * np.sum(x ** power) + y
    x = np.array([1.0, 2.0])
    assert_close(grad(f)(x, 1.0, scale=3.0), 6.0 * x)
    assert_close(grad(f, argnums=1)(x, 1.0, scale=3.0), 1.0)
    assert_close(value_and_grad(f)(x, 0.0, power=3)[1], 3 * x ** 2)
    assert_close(jacfwd(f)(x, 1.0, scale=2.0), 4.0 * x)
    assert_close(jacrev(f)(x, 1.0, scale=2.0), 4.0 * x)
    assert_close(hessian(f)(x, 1.0, power=3), np.diag(6 * x))


def test_mismatched_tangent_structure_is_refused():
    with pytest.raises(ValueError, match="structure"):
        jvp(lambda d: d["a"], ({"a": 1.0},), ({"b": 1.0},))
