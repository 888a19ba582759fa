r"""Forward mode: dual numbers a + bε with ε² = 0.

For a smooth f, Taylor's theorem with ε² = 0 gives exactly

.. math:: f(a + b\varepsilon) = f(a) + f'(a)\,b\,\varepsilon ,

so evaluating f on a dual number carries the *primal* a and the *tangent*
b through the program, and the ε-part of the result is the directional
derivative (a JVP). Every primitive needs one rule: given the tangents of its
inputs, the tangent of its output. The rules live in :data:`jvp_rules`, one
line per primitive and input, in the same order as ``reverse.vjp_rules``.

A tangent may carry one extra trailing axis of k directions
(``tangent.shape == value.shape + (k,)``): one pass then gives k JVPs, e.g. a
whole Jacobian when the k directions are the identity.
"""
import numpy as np

from . import core, tree
from .core import Tracer, primal


class Dual(Tracer):
    r"""The dual number ``value + tangent·ε``, for floats or numpy arrays.

    >>> import numpy as np
    >>> d = 3 * Dual(4.0, 1.0) + 2
    >>> d.value, d.tangent
    (14.0, 3.0)
    >>> np.sin(Dual(0.0, 1.0)).tangent
    1.0
    """

    __slots__ = ("value", "tangent", "level")

    def __init__(self, value, tangent, level=0):
        vshape, tshape = np.shape(primal(value)), np.shape(primal(tangent))
        if tshape != vshape and tshape[:-1] != vshape:
            raise ValueError(f"Dual: the tangent's shape {tshape} must be the value's shape "
                             f"{vshape}, or that shape plus one trailing axis of directions")
        self.value, self.tangent, self.level = value, tangent, level

    def __repr__(self):
        return f"Dual({_show(self.value)}, {_show(self.tangent)})"

    @property
    def directions(self):
        """k if the tangent carries k directions, else None."""
        return _directions(self.tangent, self.value)

    def process(self, prim, args, params):
        level = self.level
        if level not in core._live_levels:
            raise core.escaped("Dual", level, prim)
        mine = [isinstance(x, Dual) and x.level == level for x in args]
        primals = [x.value if m else x for x, m in zip(args, mine)]
        tangents = [x.tangent if m else None for x, m in zip(args, mine)]
        ans = prim(*primals, **params)
        rules = jvp_rules.get(prim)
        if rules is None:
            raise NotImplementedError(f"no forward-mode (JVP) rule for primitive '{prim}'")
        if callable(rules):  # one rule seeing every tangent (concatenate)
            return Dual(ans, rules(tangents, ans, *primals, **params), level)
        k = self.directions
        seen = ans
        if prim in ELEMENTWISE:
            out_shape = np.shape(primal(ans)) + (() if k is None else (k,))
            if k is not None:  # a trailing axis on primals lines them up with the tangents
                primals = [_expand(x) for x in primals]
                seen = _expand(ans)
        tangent_out = None
        for rule, t in zip(rules, tangents):
            if t is None:
                continue
            contribution = rule(t, seen, *primals, **params)
            tangent_out = contribution if tangent_out is None else tangent_out + contribution
        if prim in ELEMENTWISE:
            if np.shape(primal(tangent_out)) != out_shape:
                tangent_out = core.broadcast_to(tangent_out, shape=out_shape)
        return Dual(ans, tangent_out, level)


def _show(x):
    return repr(float(x)) if isinstance(x, np.floating) else repr(x)


def _directions(tangent, value):
    tn, vn = np.ndim(primal(tangent)), np.ndim(primal(value))
    return np.shape(primal(tangent))[-1] if tn == vn + 1 else None


def _expand(x):
    return core.reshape(x, shape=np.shape(primal(x)) + (1,)) if isinstance(x, Tracer) \
        else np.asarray(x)[..., None]


def _batched(t, x):
    return np.ndim(primal(t)) > np.ndim(primal(x))


def _index_with_directions(index, t, x):
    """`index` for x, extended so it also keeps t's trailing axis of directions."""
    if not _batched(t, x):
        return index
    index = index if isinstance(index, tuple) else (index,)
    return index + (slice(None),) if any(i is Ellipsis for i in index) else index


def _matmul_left(t, x, y):
    """Tangent of x @ y along t = ẋ: ẋ @ y, for each of t's k directions."""
    if not _batched(t, x):
        return t @ y
    if np.ndim(primal(x)) == 1:  # ẋ is (n, k): ẋᵀ @ y is (..., k, p) or (k,)
        out = np.moveaxis(t, -1, 0) @ y
        return out if np.ndim(primal(y)) == 1 else np.moveaxis(out, -2, -1)
    # ẋ is (..., m, n, k): the directions become a batch axis just left of the matrix
    # axes, and y gets a matching axis of length 1 so its own batch axes line up.
    lead = np.moveaxis(t, -1, -3)
    if np.ndim(primal(y)) == 1:
        return np.moveaxis(lead @ y, -2, -1)
    return np.moveaxis(lead @ np.expand_dims(y, -3), -3, -1)


def _matmul_right(t, x, y):
    """Tangent of x @ y along t = ẏ: x @ ẏ, for each of t's k directions."""
    if not _batched(t, y) or np.ndim(primal(y)) == 1:
        # a vector y with k directions has ẏ of shape (n, k): x @ ẏ is one matrix
        # product, and it already puts the directions last
        return x @ t
    # ẏ is (..., n, p, k): as (..., n, p·k) it is one matrix for x to multiply
    shape = np.shape(primal(t))
    out = x @ np.reshape(t, shape[:-2] + (shape[-2] * shape[-1],))
    return np.reshape(out, np.shape(primal(out))[:-1] + shape[-2:])


def _reduce_rule(t, ans, x, axis=None, keepdims=False):
    """Tangent of max/min: the tangent of the entry that attains it (the first of ties)."""
    axes = core._normalize_axis(axis, np.ndim(primal(x)))
    hit = core.first_extremum(x, ans, axis, keepdims)
    if _batched(t, x):
        hit = hit[..., None]
    return core.sum_(t * hit, axis=axes, keepdims=keepdims)


def _broadcast_rule(t, ans, x, shape):
    k = _directions(t, x)
    if k is None:
        return core.broadcast_to(t, shape=shape)
    lead = (1,) * (len(shape) - np.ndim(primal(x)))
    return core.broadcast_to(core.reshape(t, shape=lead + np.shape(primal(t))), shape=shape + (k,))


def _concatenate_rule(tangents, ans, *xs, axis=0):
    k = next(_directions(t, x) for t, x in zip(tangents, xs) if t is not None)
    extra = () if k is None else (k,)
    filled = [np.zeros(np.shape(primal(x)) + extra) if t is None else t for t, x in zip(tangents, xs)]
    return core.concatenate(*filled, axis=axis % np.ndim(primal(ans)))


def _transpose_axes(t, x, axes):
    n = np.ndim(primal(x))
    axes = tuple(reversed(range(n))) if axes is None else tuple(a % n for a in axes)
    return axes + (n,) if _batched(t, x) else axes


def _with_directions(t, x, shape):
    k = _directions(t, x)
    return tuple(shape) + (() if k is None else (k,))


#: Primitives applied entry by entry: their rules see primals that line up with the tangents.
ELEMENTWISE = {core.add, core.subtract, core.multiply, core.divide, core.power, core.negative,
               core.maximum, core.minimum, core.exp, core.log, core.sin, core.cos, core.tan,
               core.tanh, core.sinh, core.cosh, core.sqrt, core.square, core.absolute,
               core.arctan, core.log1p, core.expm1, core.where, core.arcsin, core.arccos,
               core.arcsinh, core.arccosh, core.arctanh, core.log2, core.log10, core.exp2, core.cbrt,
               core.reciprocal, core.degrees, core.radians, core.hypot, core.arctan2,
               core.logaddexp, core.logaddexp2, core.fmax, core.fmin, core.remainder}

#: primitive -> one rule per input: rule(tangent of that input, ans, *primals, **params)
jvp_rules = {}


def defjvp(prim, *rules):
    jvp_rules[prim] = rules


defjvp(core.add,      lambda t, ans, x, y: t,          lambda t, ans, x, y: t)
defjvp(core.subtract, lambda t, ans, x, y: t,          lambda t, ans, x, y: -t)
defjvp(core.multiply, lambda t, ans, x, y: t * y,      lambda t, ans, x, y: x * t)
defjvp(core.divide,   lambda t, ans, x, y: t / y,      lambda t, ans, x, y: -t * ans / y)
defjvp(core.power,    lambda t, ans, x, y: t * y * x ** core.lowered_exponent(y),
                      lambda t, ans, x, y: t * ans * core.log_of_base(x))
defjvp(core.negative, lambda t, ans, x: -t)
defjvp(core.maximum,  lambda t, ans, x, y: t * core.takes_first(x, y),
                      lambda t, ans, x, y: t * (1 - core.takes_first(x, y)))
defjvp(core.minimum,  lambda t, ans, x, y: t * core.takes_first(x, y, False),
                      lambda t, ans, x, y: t * (1 - core.takes_first(x, y, False)))
defjvp(core.exp,      lambda t, ans, x: t * ans)
defjvp(core.log,      lambda t, ans, x: t / x)
defjvp(core.sin,      lambda t, ans, x: t * np.cos(x))
defjvp(core.cos,      lambda t, ans, x: -t * np.sin(x))
defjvp(core.tan,      lambda t, ans, x: t * (1 + ans * ans))
defjvp(core.tanh,     lambda t, ans, x: t * (1 - ans * ans))
defjvp(core.sinh,     lambda t, ans, x: t * np.cosh(x))
defjvp(core.cosh,     lambda t, ans, x: t * np.sinh(x))
defjvp(core.sqrt,     lambda t, ans, x: t / (2 * ans))
defjvp(core.square,   lambda t, ans, x: 2 * x * t)
defjvp(core.absolute, lambda t, ans, x: t * np.sign(primal(x)))
defjvp(core.arctan,   lambda t, ans, x: t / (1 + x * x))
defjvp(core.log1p,    lambda t, ans, x: t / (1 + x))
defjvp(core.expm1,    lambda t, ans, x: t * (ans + 1))
defjvp(core.arcsin,   lambda t, ans, x: t / np.sqrt(1 - x * x))
defjvp(core.arccos,   lambda t, ans, x: -t / np.sqrt(1 - x * x))
defjvp(core.arcsinh,  lambda t, ans, x: t / np.sqrt(x * x + 1))
defjvp(core.arccosh,  lambda t, ans, x: t / np.sqrt(x * x - 1))
defjvp(core.arctanh,  lambda t, ans, x: t / (1 - x * x))
defjvp(core.log2,     lambda t, ans, x: t / (x * np.log(2.0)))
defjvp(core.log10,    lambda t, ans, x: t / (x * np.log(10.0)))
defjvp(core.exp2,     lambda t, ans, x: t * ans * np.log(2.0))
defjvp(core.cbrt,     lambda t, ans, x: t / (3 * ans * ans))
defjvp(core.reciprocal, lambda t, ans, x: -t * ans * ans)
defjvp(core.degrees,  lambda t, ans, x: t * (180 / np.pi))
defjvp(core.radians,  lambda t, ans, x: t * (np.pi / 180))
defjvp(core.hypot,    lambda t, ans, x, y: t * x / ans,        lambda t, ans, x, y: t * y / ans)
defjvp(core.arctan2,  lambda t, ans, x, y: t * y / (x * x + y * y), lambda t, ans, x, y: -t * x / (x * x + y * y))
defjvp(core.logaddexp, lambda t, ans, x, y: t * np.exp(x - ans), lambda t, ans, x, y: t * np.exp(y - ans))
defjvp(core.logaddexp2, lambda t, ans, x, y: t * np.exp2(x - ans), lambda t, ans, x, y: t * np.exp2(y - ans))
defjvp(core.fmax,     lambda t, ans, x, y: t * core.takes_first(x, y, nan_loses=True),
                      lambda t, ans, x, y: t * (1 - core.takes_first(x, y, nan_loses=True)))
defjvp(core.fmin,     lambda t, ans, x, y: t * core.takes_first(x, y, False, nan_loses=True),
                      lambda t, ans, x, y: t * (1 - core.takes_first(x, y, False, nan_loses=True)))
defjvp(core.remainder, lambda t, ans, x, y: t,              lambda t, ans, x, y: -t * np.floor(primal(x) / primal(y)))
defjvp(core.where,    None,   # where, not t·c: inf or nan in the branch not taken stays out
                      lambda t, ans, c, x, y: core.where(c, t, 0.0),
                      lambda t, ans, c, x, y: core.where(c, 0.0, t))
defjvp(core.matmul,   lambda t, ans, x, y: _matmul_left(t, x, y),
                      lambda t, ans, x, y: _matmul_right(t, x, y))
# Linear primitives: the tangent goes through the same operation.
defjvp(core.sum_,     lambda t, ans, x, axis=None, keepdims=False:
                      core.sum_(t, axis=core._normalize_axis(axis, np.ndim(primal(x))), keepdims=keepdims))
defjvp(core.amax,     _reduce_rule)
defjvp(core.amin,     _reduce_rule)
defjvp(core.prod,     lambda t, ans, x, axis=None, keepdims=False:
                      core.sum_(t * _maybe_expand(core.prod_of_others(x, axis), t),
                                axis=core._normalize_axis(axis, np.ndim(primal(x))), keepdims=keepdims))
defjvp(core.reshape,  lambda t, ans, x, shape: core.reshape(t, shape=_with_directions(t, x, np.shape(primal(ans)))))
defjvp(core.transpose, lambda t, ans, x, axes=None: core.transpose(t, axes=_transpose_axes(t, x, axes)))
defjvp(core.broadcast_to, _broadcast_rule)
defjvp(core.getitem,  lambda t, ans, x, index: core.getitem(t, index=_index_with_directions(index, t, x)))
defjvp(core.untake,   lambda t, ans, g, index, shape:
                      core.untake(t, index=_index_with_directions(index, t, g), shape=_with_directions(t, g, shape)))
defjvp(core.cumsum,   lambda t, ans, x, axis: core.cumsum(t, axis=axis))
defjvp(core.astype,   lambda t, ans, x, dtype: core.astype(t, dtype=dtype))
jvp_rules[core.concatenate] = _concatenate_rule


def _maybe_expand(x, t):
    return _expand(x) if _batched(t, x) else x


# ----------------------------------------------------------------------------
# The user-facing transformations
# ----------------------------------------------------------------------------
def _split(out, level):
    """(primal, tangent) of an output leaf of a function evaluated on duals at `level`."""
    if isinstance(out, Dual) and out.level == level:
        return out.value, out.tangent
    if isinstance(out, Tracer) and not core.is_live(out.level):
        raise core.escaped(type(out).__name__, out.level)
    if not isinstance(out, Tracer) and np.asarray(out).dtype.kind not in "biuf":
        raise TypeError(f"jvp: the function returned {type(out).__name__} {out!r:.60} "
                        f"({np.asarray(out).dtype}); outputs must be floats, arrays of floats "
                        "or tuples, lists and dicts of them")
    return out, None


def jvp(f, primals, tangents, has_aux=False):
    r"""Jacobian-vector product: ``(f(x), J_f(x)·v)`` in one forward pass.

    `primals` and `tangents` are tuples of equal length, one entry per
    argument of `f`; each entry is a float, an array or a pytree of them
    (nested tuples, lists, dicts), each tangent shaped like its primal
    (optionally with one trailing axis of k directions). f may return a pytree;
    the tangent has the same structure. An output that does not depend on the
    inputs gets a zero tangent. With ``has_aux=True`` f returns
    ``(output, aux)`` and jvp returns ``(f(x), J v, aux)``.
    """
    for name, given in (("primals", primals), ("tangents", tangents)):
        if not isinstance(given, (tuple, list)):
            raise TypeError(f"jvp: {name} must be a tuple with one entry per argument of f, "
                            f"as in jvp(f, (x,), (v,)); got {type(given).__name__}")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    p_leaves, p_def = tree.flatten(primals)
    t_leaves, t_def = tree.flatten(tangents)
    if p_def != t_def:
        raise ValueError(f"jvp: the tangents have the structure {t_def}, but the primals {p_def}; "
                         "give one tangent per leaf of the primals, in the same structure")
    primals = [_as_float(p, f"jvp: primal {i}") for i, p in enumerate(p_leaves)]
    tangents = [_as_float(t, f"jvp: tangent {i}") for i, t in enumerate(t_leaves)]
    # numpy scalars, so that t / 0 is inf (with numpy's warning) as in numpy, not ZeroDivisionError
    tangents = [core.numpy_scalar(t, p) if t.__class__ is float else t for t, p in zip(tangents, primals)]
    directions = set()
    for i, (p, t) in enumerate(zip(primals, tangents)):
        pshape, tshape = np.shape(primal(p)), np.shape(primal(t))
        if tshape == pshape + tshape[len(pshape):] and len(tshape) == len(pshape) + 1:
            directions.add(tshape[-1])
        elif tshape != pshape:
            raise ValueError(f"jvp: tangent {i} has shape {tshape}, but primal {i} has shape {pshape}; "
                             f"the tangent must have the primal's shape (or that shape plus one "
                             f"trailing axis of directions)")
    if len(directions) > 1 or (directions and any(np.shape(primal(t)) == np.shape(primal(p))
                                                  for p, t in zip(primals, tangents))):
        raise ValueError("jvp: every tangent must carry the same number of directions (one trailing "
                         "axis of length k on every tangent, or on none); got shapes "
                         f"{[np.shape(primal(t)) for t in tangents]} for primals of shapes "
                         f"{[np.shape(primal(p)) for p in primals]}")
    level = core.new_level()
    duals = [Dual(p, t, level) for p, t in zip(primals, tangents)]
    try:
        out = tree.settle(f(*tree.unflatten(p_def, duals)))
    except ValueError as error:  # numpy's words for y[i] = x, made ours
        tree.explain_write(error)
    except TypeError as error:  # numpy's words for np.sin(np.array([x, 2.0])), made ours
        tree.explain_object_loop(error)
    finally:
        core.end_level(level)
    if has_aux:
        out, aux = tree.aux_pair(out, "jvp")
    leaves, out_def = tree.flatten(out)
    pairs = [_split(o, level) for o in leaves]
    values = [p for p, _ in pairs]
    tangent_out = [core.cast_like(_zero_if_none(t, p, duals), p) for p, t in pairs]
    result = tree.unflatten(out_def, values), tree.unflatten(out_def, tangent_out)
    return result + (tree.strip(aux, level),) if has_aux else result


def _zero_if_none(tangent, value, duals):
    if tangent is not None:
        return tangent
    k = next((d.directions for d in duals if d.directions is not None), None)
    return np.zeros(np.shape(primal(value)) + (() if k is None else (k,)))


def _as_float(x, what="argument"):
    return core.as_float(x, what)


def jacfwd(f, argnums=0, has_aux=False):
    r"""The Jacobian by forward mode: column j is the JVP along the j-th unit vector.

    All columns come from one pass: the tangent of each input carries the
    identity as its trailing axis of directions. For an array x and an array
    output the result has shape ``out.shape + x.shape``; with a tuple
    `argnums`, a tuple of those. Inputs and outputs may be pytrees: the result
    is the output's structure holding, at each output leaf, the input's
    structure of blocks (as in JAX). Keyword arguments pass through to f.
    """
    def jacobian(*args, **kwargs):
        nums = core.argnums_tuple(argnums, len(args), "jacfwd")
        args = list(args)
        selected = [args[i] for i in nums]
        leaves, in_def = tree.flatten(tuple(selected))
        leaves = [_as_float(x, f"jacfwd: argument {nums[0] if len(nums) == 1 else nums}") for x in leaves]
        sizes = [np.size(primal(x)) for x in leaves]
        k = sum(sizes)
        eye = np.eye(k, dtype=np.result_type(*[np.asarray(primal(x)).dtype for x in leaves]) if leaves else float)
        tangents, offset = [], 0
        for x, n in zip(leaves, sizes):
            tangents.append(eye[offset:offset + n].reshape(np.shape(primal(x)) + (k,)))
            offset += n

        def f_of_selected(*chosen):
            for i, x in zip(nums, chosen):
                args[i] = x
            return f(*args, **kwargs)

        primals_tree = tree.unflatten(in_def, leaves)
        tangents_tree = tree.unflatten(in_def, tangents)
        result = jvp(f_of_selected, tuple(primals_tree), tuple(tangents_tree), has_aux=has_aux)
        out, t = result[0], result[1]

        def split(o, ti):
            out_shape = np.shape(primal(o))
            blocks, offset = [], 0
            for x, n in zip(leaves, sizes):
                piece = core.getitem(ti, index=(Ellipsis, slice(offset, offset + n)))
                blocks.append(core.reshape(piece, shape=out_shape + np.shape(primal(x))))
                offset += n
            per_arg = tree.unflatten(in_def, blocks)
            return per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
        out_leaves, out_def = tree.flatten(out)
        jac = tree.unflatten(out_def, [split(o, ti) for o, ti in zip(out_leaves, tree.leaves_of(t))])
        return (jac, result[2]) if has_aux else jac
    return jacobian


def derivative(f, order=1):
    r"""The `order`-th derivative of a scalar function, by nesting duals.

    ``derivative(f, 2)(x)`` evaluates f on a dual whose parts are themselves
    duals, each nesting level with its own ε (ε₁² = ε₂² = 0, ε₁ε₂ ≠ 0).
    """
    if not isinstance(order, int) or order < 0:
        raise ValueError(f"derivative: order must be a non-negative integer, got {order!r}")
    if order == 0:
        return f

    def first(x):
        return jvp(f, (x,), (np.ones_like(primal(x), dtype=float) if np.ndim(primal(x)) else 1.0,))[1]
    return derivative(first, order - 1)
