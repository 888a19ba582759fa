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

from . import core
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
    """Tangent of max/min: the mean of the tangents of the entries that attain it."""
    axes = core._normalize_axis(axis, np.ndim(primal(x)))
    hit = primal(x) == np.expand_dims(primal(ans), axes) if not keepdims else primal(x) == primal(ans)
    hit = hit / np.sum(hit, axis=axes, keepdims=True)
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
               core.arctan, core.log1p, core.expm1, core.where}

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
defjvp(core.maximum,  lambda t, ans, x, y: t * (primal(x) >= primal(y)),
                      lambda t, ans, x, y: t * (primal(x) < primal(y)))
defjvp(core.minimum,  lambda t, ans, x, y: t * (primal(x) <= primal(y)),
                      lambda t, ans, x, y: t * (primal(x) > primal(y)))
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
defjvp(core.where,    None,
                      lambda t, ans, c, x, y: t * c,
                      lambda t, ans, c, x, y: t * ~np.asarray(c, bool))
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
jvp_rules[core.concatenate] = _concatenate_rule


def _maybe_expand(x, t):
    return _expand(x) if _batched(t, x) else x


# ----------------------------------------------------------------------------
# The user-facing transformations
# ----------------------------------------------------------------------------
def _split(out, level):
    """(primal, tangent) of an output of a function evaluated on duals at `level`."""
    if isinstance(out, Dual) and out.level == level:
        return out.value, out.tangent
    return out, None


def jvp(f, primals, tangents):
    r"""Jacobian-vector product: ``(f(x), J_f(x)·v)`` in one forward pass.

    `primals` and `tangents` are tuples of equal length, one entry per
    argument of `f`, each tangent shaped like its primal (optionally with one
    trailing axis of directions). An output that does not depend on the
    inputs gets a zero tangent.
    """
    for name, given in (("primals", primals), ("tangents", tangents)):
        if not isinstance(given, (tuple, list)):
            raise TypeError(f"jvp: {name} must be a tuple with one entry per argument of f, "
                            f"as in jvp(f, (x,), (v,)); got {type(given).__name__}")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    primals = [_as_float(p, f"jvp: primal {i}") for i, p in enumerate(primals)]
    tangents = [_as_float(t, f"jvp: tangent {i}") for i, t in enumerate(tangents)]
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
    out = f(*duals)
    if isinstance(out, tuple):
        pairs = [_split(o, level) for o in out]
        return tuple(p for p, _ in pairs), tuple(_zero_if_none(t, p, duals) for p, t in pairs)
    value, tangent = _split(out, level)
    return value, _zero_if_none(tangent, value, duals)


def _zero_if_none(tangent, value, duals):
    if tangent is not None:
        return tangent
    k = next((d.directions for d in duals if d.directions is not None), None)
    return np.zeros(np.shape(primal(value)) + (() if k is None else (k,)))


def _as_float(x, what="argument"):
    return core.as_float(x, what)


def jacfwd(f, argnums=0):
    r"""The Jacobian by forward mode: column j is the JVP along the j-th unit vector.

    All columns come from one pass: the tangent of each input carries the
    identity as its trailing axis of directions. The result has shape
    ``out.shape + x.shape`` (a tuple of such arrays when `argnums` is a tuple;
    for an f returning a tuple, a tuple of those, one per output).
    """
    def jacobian(*args):
        nums = core.argnums_tuple(argnums, len(args), "jacfwd")
        args = list(args)
        sizes = [np.size(primal(args[i])) for i in nums]
        k = sum(sizes)
        eye = np.eye(k)
        primals, tangents, offset = [], [], 0
        for i, n in zip(nums, sizes):
            x = _as_float(args[i], f"jacfwd: argument {i}")
            primals.append(x)
            tangents.append(eye[offset:offset + n].reshape(np.shape(primal(x)) + (k,)))
            offset += n

        def f_of_selected(*selected):
            for i, x in zip(nums, selected):
                args[i] = x
            return f(*args)

        out, t = jvp(f_of_selected, primals, tangents)

        def split(out, t):
            out_shape = np.shape(primal(out))
            jacs, offset = [], 0
            for x, n in zip(primals, sizes):
                piece = core.getitem(t, index=(Ellipsis, slice(offset, offset + n)))
                jacs.append(core.reshape(piece, shape=out_shape + np.shape(primal(x))))
                offset += n
            return jacs[0] if isinstance(argnums, int) else tuple(jacs)
        if isinstance(out, tuple):  # one Jacobian (or tuple of them) per output
            return tuple(split(o, ti) for o, ti in zip(out, t))
        return split(out, t)
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
