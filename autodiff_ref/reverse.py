r"""Reverse mode: record a tape (Wengert list), then sweep it backwards.

Evaluating f on :class:`Box` inputs appends one entry per primitive to a
:class:`Tape`: which primitive, the tape indices of its parents, the values it
saw and the value it produced. The reverse sweep walks the tape from the end
and applies the *incremental adjoint recursion*

.. math:: \bar v_j \mathrel{+}= \bar v_i \,\frac{\partial v_i}{\partial v_j}
          \qquad\text{for every parent } j \text{ of entry } i,

where :math:`\bar v_i = \partial y / \partial v_i` is the adjoint (cotangent)
of entry i. Each rule in :data:`vjp_rules` maps the output cotangent to one
input's cotangent (a vector-Jacobian product). Rules never think about
broadcasting: the sweep sums every cotangent back to its input's shape.

The tape is a flat list walked by index, so nothing recurses (tapes of an ODE
solve are deep) and no node points back at another (no reference cycles for
the garbage collector to chase).
"""
from typing import NamedTuple

import numpy as np

from . import core, tree
from .core import Tracer, primal
from .tree import aux_pair, explain_object_loop, explain_write, settle, strip


class Entry(NamedTuple):
    """One row of the Wengert list."""
    primitive: core.Primitive  # None for an input
    parents: tuple             # tape index of each argument, None for a constant
    args: tuple                # the argument values the rule needs
    params: dict               # static parameters (axis, shape, index, ...)
    value: object              # the value this entry computed


_NO_PARAMS = {}


class Shape:
    """What a tape in residual mode keeps of a value no rule reads: its shape and dtype
    (the sweep sums cotangents to shapes; np.shape and np.ndim read these attributes)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    ndim = property(lambda self: len(self.shape))

    @classmethod
    def of(cls, value):
        while isinstance(value, Tracer):
            value = value.value
        return cls(getattr(value, "shape", ()), getattr(value, "dtype", None))

    def __repr__(self):
        return f"Shape{self.shape}"


class _Sealed(list):
    """The primitive column of a tape whose transformation has returned: recording refused."""

    __slots__ = ("level",)

    def append(self, prim):
        raise core.escaped("Box", self.level, prim)


class Tape:
    """The Wengert list of one evaluation, stored column by column.

    Row i is ``tape[i]``, an :class:`Entry`. Keeping one list per field rather
    than one object per row means recording allocates almost nothing the
    garbage collector has to track.
    """

    __slots__ = ("primitives", "parents", "args", "params", "values", "partials", "level", "residuals")

    def __init__(self, level, residuals=False):
        self.primitives, self.parents, self.args, self.params, self.values = [], [], [], [], []
        self.partials = []  # the elemental partials c_ij of scalar arithmetic rows, else None
        self.level = level
        # True: keep of each row only what its VJP rule reads (RESIDUALS), shapes for the rest.
        # vjp's tapes do; a tape to display (trace) or to replay (ode) keeps everything.
        self.residuals = residuals

    def __len__(self):
        return len(self.values)

    def __getitem__(self, i):
        return Entry(self.primitives[i], self.parents[i], self.args[i], self.params[i], self.values[i])

    @property
    def entries(self):
        """All rows, as :class:`Entry` tuples."""
        return [self[i] for i in range(len(self))]

    def record(self, prim, parents, args, params, value):
        """Append a row; return the boxed value."""
        self.primitives.append(prim)
        self.parents.append(parents)
        self.args.append(args)
        self.params.append(params)
        self.partials.append(None)
        self.values.append(value)
        return Box(value, self, len(self.values) - 1)

    def seal(self):
        """No more rows: the transformation returned, so a Box of this tape has escaped if used."""
        sealed = _Sealed(self.primitives)
        sealed.level = self.level
        self.primitives = sealed

    def input(self, value):
        """A new input v₁₋ₙ … v₀ on the tape, boxed."""
        return self.record(None, (), (), _NO_PARAMS, value)

    def sweep(self, index, cotangent, keep_all=False):
        """The reverse sweep from row `index` seeded with `cotangent`.

        Returns the list of adjoints, one per row: None where the output does
        not depend on the row and, unless `keep_all`, for every non-input row
        once its adjoint has been passed on to its parents (memory then peaks
        lower: an adjoint lives only until it is used).
        """
        return self.sweep_from([(index, cotangent)], keep_all)

    def sweep_from(self, seeds, keep_all=False):
        """The reverse sweep seeded at several rows: `seeds` lists (row, cotangent) pairs
        (a pytree output has one row per leaf; a row listed twice gets the sum)."""
        primitives, parents, args, params, values, partials = (
            self.primitives, self.parents, self.args, self.params, self.values, self.partials)
        adjoints = [None] * len(values)
        for row, cotangent in seeds:
            adjoints[row] = cotangent if adjoints[row] is None else adjoints[row] + cotangent
        index = max((row for row, _ in seeds), default=-1)
        rules_of = vjp_rules
        for i in range(index, -1, -1):
            g = adjoints[i]
            if g is None:
                continue
            c = partials[i]
            if c is not None:  # scalar arithmetic: v̄ⱼ += v̄ᵢ·cᵢⱼ with the recorded partials
                (p, q), (cp, cq) = parents[i], c
                if p is not None:
                    old = adjoints[p]
                    adjoints[p] = g * cp if old is None else old + g * cp
                if q is not None:
                    old = adjoints[q]
                    adjoints[q] = g * cq if old is None else old + g * cq
                continue
            prim = primitives[i]
            if prim is None:
                continue
            ans, a, kw = values[i], args[i], params[i]
            if g.__class__ is float:  # so that g / 0 is inf, as in numpy, not ZeroDivisionError
                g = core.numpy_scalar(g, ans)
            for rule, p in zip(rules_of[prim], parents[i]):
                if p is None:
                    continue
                ct = rule(g, ans, *a, **kw) if kw else rule(g, ans, *a)
                if ct.__class__ is not float:
                    ct = _unbroadcast(ct, values[p])
                old = adjoints[p]
                adjoints[p] = ct if old is None else old + ct
            if not keep_all:
                adjoints[i] = None
        return adjoints

    def replay(self, inputs):
        r"""The same rows evaluated at new input values, as a new :class:`Tape`.

        Every row keeps its primitive, parents and static parameters; its value
        is recomputed from its parents' new values by the primitive's numpy
        implementation, in tape order, without creating a single tracer. A
        pullback at a new point then costs one pass of plain numpy calls and
        one :meth:`sweep`, instead of running f again on boxes. `inputs` are
        the new values of the input rows, in order, shaped like the old ones.

        This is only right when f would record the same rows at the new
        point: no branch taken on a value, and no constant computed from one
        (the condition of ``np.where``). The tape cannot see either, so the
        caller must check, e.g. that the replayed output equals a plain call
        of f, and record again when it does not.
        """
        values, args_of, partials = [], [], []
        fresh = iter(inputs)
        for prim, parents, args, params, c in zip(self.primitives, self.parents, self.args,
                                                  self.params, self.partials):
            if prim is None:
                args, value = (), next(fresh)
            else:
                args = tuple([a if p is None else values[p] for a, p in zip(args, parents)])
                if c is not None:  # a scalar arithmetic row: recompute its partials too
                    value, c = _SCALAR_ROWS[prim](*args)
                else:
                    value = prim.impl(*args, **params)
            values.append(value)
            args_of.append(args)
            partials.append(c)
        tape = Tape(self.level)
        tape.primitives, tape.parents, tape.params = self.primitives, self.parents, self.params
        tape.args, tape.values, tape.partials = args_of, values, partials
        return tape


# value and partials (∂/∂x, ∂/∂y) of the scalar rows that Box._scalar records
_SCALAR_ROWS = {
    core.multiply: lambda x, y: (x * y, (y, x)),
    core.add: lambda x, y: (x + y, (1.0, 1.0)),
    core.subtract: lambda x, y: (x - y, (1.0, -1.0)),
    core.divide: lambda x, y: (x / y, (1.0 / y, -(x / y) / y)),
}


class Box(Tracer):
    """A value being recorded on a tape; ``index`` is its row in the Wengert list."""

    __slots__ = ("value", "tape", "index", "level")

    def __init__(self, value, tape, index):
        self.value, self.tape, self.index, self.level = value, tape, index, tape.level

    def __repr__(self):
        return f"Box(v{self.index}={self.value!r})"

    def process(self, prim, args, params):
        tape = self.tape
        if prim not in vjp_rules:
            raise NotImplementedError(f"no reverse-mode (VJP) rule for primitive '{prim}'")
        parents = tuple(x.index if isinstance(x, Box) and x.tape is tape else None for x in args)
        values = tuple(x.value if p is not None else x for x, p in zip(args, parents))
        ans = prim(*values, **params)
        keep = RESIDUALS.get(prim) if tape.residuals else None
        if keep is None:
            return tape.record(prim, parents, values, params or _NO_PARAMS, ans)
        box = tape.record(prim, parents, tuple(
            v if p is None or i in keep else Shape.of(v) for i, (v, p) in enumerate(zip(values, parents))),
            params or _NO_PARAMS, ans if "ans" in keep else Shape.of(ans))
        box.value = ans  # the box (alive while f runs) has the value; the tape maybe only its shape
        return box

    # Scalar arithmetic, the bulk of scalar programs, takes a fast path that
    # records the elemental partials cᵢⱼ = ∂vᵢ/∂vⱼ right away (Griewank's
    # extended system), so the sweep multiplies instead of calling a rule.
    # tests/test_primitives.py checks these against vjp_rules.
    def _scalar(self, prim, other, swap):
        tape = self.tape
        x = self.value
        if other.__class__ is Box and other.tape is tape:
            y, px, py = other.value, self.index, other.index
        elif other.__class__ in _SCALARS:
            y, px, py = other, self.index, None
        else:
            return None
        if x.__class__ not in _SCALARS or y.__class__ not in _SCALARS:
            return None
        if swap:
            x, y, px, py = y, x, py, px
        if prim is core.multiply:
            ans, c = x * y, (y, x)
        elif prim is core.add:
            ans, c = x + y, _ONES
        elif prim is core.subtract:
            ans, c = x - y, _ONE_MINUS_ONE
        elif y:
            ans = x / y
            c = (1.0 / y, -ans / y)
        else:  # x / 0: numpy's inf and warning, not Python's ZeroDivisionError
            return None
        tape.primitives.append(prim)
        tape.parents.append((px, py))
        tape.args.append((x, y))
        tape.params.append(_NO_PARAMS)
        tape.partials.append(c)
        values = tape.values
        values.append(ans)
        return Box(ans, tape, len(values) - 1)

    def __add__(self, other):
        out = self._scalar(core.add, other, False)
        return core.bind(core.add, self, other) if out is None else out

    def __radd__(self, other):
        out = self._scalar(core.add, other, True)
        return core.bind(core.add, other, self) if out is None else out

    def __sub__(self, other):
        out = self._scalar(core.subtract, other, False)
        return core.bind(core.subtract, self, other) if out is None else out

    def __rsub__(self, other):
        out = self._scalar(core.subtract, other, True)
        return core.bind(core.subtract, other, self) if out is None else out

    def __mul__(self, other):
        out = self._scalar(core.multiply, other, False)
        return core.bind(core.multiply, self, other) if out is None else out

    def __rmul__(self, other):
        out = self._scalar(core.multiply, other, True)
        return core.bind(core.multiply, other, self) if out is None else out

    def __truediv__(self, other):
        out = self._scalar(core.divide, other, False)
        return core.bind(core.divide, self, other) if out is None else out

    def __rtruediv__(self, other):
        out = self._scalar(core.divide, other, True)
        return core.bind(core.divide, other, self) if out is None else out


_ONES, _ONE_MINUS_ONE = (1.0, 1.0), (1.0, -1.0)
_SCALARS = {float, int, np.float64}


def _unbroadcast(ct, like):
    """Sum `ct` over the axes broadcasting added or stretched, to `like`'s shape."""
    shape = like.shape if hasattr(like, "shape") else ()
    ct_shape = ct.shape if hasattr(ct, "shape") else ()
    if ct_shape == shape:
        return ct
    extra = len(ct_shape) - len(shape)
    if extra > 0:
        ct = core.sum_(ct, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and ct_shape[extra + i] != 1)
    if stretched:
        ct = core.sum_(ct, axis=stretched, keepdims=True)
    return ct


# ----------------------------------------------------------------------------
# The rules: primitive -> one rule per input: rule(g, ans, *args, **params)
# returns that input's cotangent given the output cotangent g.
# ----------------------------------------------------------------------------
vjp_rules = {}


def defvjp(prim, *rules):
    vjp_rules[prim] = rules


def _keepdims(g, x, axis, keepdims):
    """g of a reduction over `axis`, reshaped so it broadcasts against x."""
    if keepdims:
        return g
    shape = list(np.shape(primal(x)))
    for a in core._normalize_axis(axis, len(shape)):
        shape[a] = 1
    return core.reshape(g, shape=tuple(shape)) if isinstance(g, Tracer) else np.reshape(g, shape)


def _sum_vjp(g, ans, x, axis=None, keepdims=False):
    return core.broadcast_to(_keepdims(g, x, axis, keepdims), shape=np.shape(primal(x)))


def _extremum_vjp(g, ans, x, axis=None, keepdims=False):
    return _keepdims(g, x, axis, keepdims) * core.first_extremum(x, ans, axis, keepdims)


def _prod_vjp(g, ans, x, axis=None, keepdims=False):
    return _keepdims(g, x, axis, keepdims) * core.prod_of_others(x, axis)


def _swap_last(a):
    n = np.ndim(primal(a))
    return core.transpose(a, axes=tuple(range(n - 2)) + (n - 1, n - 2))


def _column(a):
    return core.reshape(a, shape=np.shape(primal(a)) + (1,))


def _drop_last(a):
    return core.reshape(a, shape=np.shape(primal(a))[:-1])


def _matmul_vjp_left(g, ans, x, y):
    """x̄ = ȳ @ yᵀ (ȳ ⊗ y when y is a vector, y @ ȳ when x is a vector)."""
    if np.ndim(primal(y)) == 1:
        return _column(g) * y
    if np.ndim(primal(x)) == 1:  # y may be a stack of matrices: one column ȳ per matrix
        return _drop_last(y @ _column(g))
    return g @ _swap_last(y)


def _matmul_vjp_right(g, ans, x, y):
    """ȳ = xᵀ @ ȳ (x ⊗ ȳ when x is a vector, xᵀ @ ȳ as a column when y is a vector)."""
    if np.ndim(primal(x)) == 1:
        if np.ndim(primal(y)) == 1:
            return g * x
        return _column(x) * core.reshape(g, shape=np.shape(primal(g))[:-1] + (1,) + np.shape(primal(g))[-1:])
    if np.ndim(primal(y)) == 1:  # x may be a stack of matrices: one column ȳ per matrix
        return _drop_last(_swap_last(x) @ _column(g))
    return _swap_last(x) @ g


def _times_one_minus_square(g, a):
    """g·(1 − a²), tanh's rule (a = tanh x). For plain arrays in one buffer: the MLP's backward
    pass (benchmark B2) spends a visible part of its time allocating these temporaries."""
    if g.__class__ is np.ndarray and a.__class__ is np.ndarray and g.shape == a.shape:
        out = np.multiply(a, a)
        np.subtract(1.0, out, out=out)
        return np.multiply(out, g, out=out)
    return g * (1 - a * a)


def _concatenate_vjp(i):
    def rule(g, ans, *xs, axis=0):
        axis = axis % np.ndim(primal(ans))
        start = sum(np.shape(primal(x))[axis] for x in xs[:i])
        index = (slice(None),) * axis + (slice(start, start + np.shape(primal(xs[i]))[axis]),)
        return core.getitem(g, index=index)
    return rule


def _inverse_axes(x, axes):
    n = np.ndim(primal(x))
    return None if axes is None else tuple(np.argsort([a % n for a in axes]))


defvjp(core.add,      lambda g, ans, x, y: g,          lambda g, ans, x, y: g)
defvjp(core.subtract, lambda g, ans, x, y: g,          lambda g, ans, x, y: -g)
defvjp(core.multiply, lambda g, ans, x, y: g * y,      lambda g, ans, x, y: g * x)
defvjp(core.divide,   lambda g, ans, x, y: g / y,      lambda g, ans, x, y: -g * ans / y)
defvjp(core.power,    lambda g, ans, x, y: g * y * x ** core.lowered_exponent(y),
                      lambda g, ans, x, y: g * ans * core.log_of_base(x))
defvjp(core.negative, lambda g, ans, x: -g)
defvjp(core.maximum,  lambda g, ans, x, y: g * core.takes_first(x, y),
                      lambda g, ans, x, y: g * (1 - core.takes_first(x, y)))
defvjp(core.minimum,  lambda g, ans, x, y: g * core.takes_first(x, y, False),
                      lambda g, ans, x, y: g * (1 - core.takes_first(x, y, False)))
defvjp(core.exp,      lambda g, ans, x: g * ans)
defvjp(core.log,      lambda g, ans, x: g / x)
defvjp(core.sin,      lambda g, ans, x: g * np.cos(x))
defvjp(core.cos,      lambda g, ans, x: -g * np.sin(x))
defvjp(core.tan,      lambda g, ans, x: g * (1 + ans * ans))
defvjp(core.tanh,     lambda g, ans, x: _times_one_minus_square(g, ans))
defvjp(core.sinh,     lambda g, ans, x: g * np.cosh(x))
defvjp(core.cosh,     lambda g, ans, x: g * np.sinh(x))
defvjp(core.sqrt,     lambda g, ans, x: g / (2 * ans))
defvjp(core.square,   lambda g, ans, x: 2 * x * g)
defvjp(core.absolute, lambda g, ans, x: g * np.sign(primal(x)))
defvjp(core.arctan,   lambda g, ans, x: g / (1 + x * x))
defvjp(core.log1p,    lambda g, ans, x: g / (1 + x))
defvjp(core.expm1,    lambda g, ans, x: g * (ans + 1))
defvjp(core.arcsin,   lambda g, ans, x: g / np.sqrt(1 - x * x))
defvjp(core.arccos,   lambda g, ans, x: -g / np.sqrt(1 - x * x))
defvjp(core.arcsinh,  lambda g, ans, x: g / np.sqrt(x * x + 1))
defvjp(core.arccosh,  lambda g, ans, x: g / np.sqrt(x * x - 1))
defvjp(core.arctanh,  lambda g, ans, x: g / (1 - x * x))
defvjp(core.log2,     lambda g, ans, x: g / (x * np.log(2.0)))
defvjp(core.log10,    lambda g, ans, x: g / (x * np.log(10.0)))
defvjp(core.exp2,     lambda g, ans, x: g * ans * np.log(2.0))
defvjp(core.cbrt,     lambda g, ans, x: g / (3 * ans * ans))
defvjp(core.reciprocal, lambda g, ans, x: -g * ans * ans)
defvjp(core.degrees,  lambda g, ans, x: g * (180 / np.pi))
defvjp(core.radians,  lambda g, ans, x: g * (np.pi / 180))
defvjp(core.hypot,    lambda g, ans, x, y: g * x / ans,        lambda g, ans, x, y: g * y / ans)
defvjp(core.arctan2,  lambda g, ans, x, y: g * y / (x * x + y * y), lambda g, ans, x, y: -g * x / (x * x + y * y))
defvjp(core.logaddexp, lambda g, ans, x, y: g * np.exp(x - ans), lambda g, ans, x, y: g * np.exp(y - ans))
defvjp(core.logaddexp2, lambda g, ans, x, y: g * np.exp2(x - ans), lambda g, ans, x, y: g * np.exp2(y - ans))
defvjp(core.fmax,     lambda g, ans, x, y: g * core.takes_first(x, y, nan_loses=True),
                      lambda g, ans, x, y: g * (1 - core.takes_first(x, y, nan_loses=True)))
defvjp(core.fmin,     lambda g, ans, x, y: g * core.takes_first(x, y, False, nan_loses=True),
                      lambda g, ans, x, y: g * (1 - core.takes_first(x, y, False, nan_loses=True)))
defvjp(core.remainder, lambda g, ans, x, y: g,              lambda g, ans, x, y: -g * np.floor(primal(x) / primal(y)))
defvjp(core.where,    None,   # where, not g·c: inf or nan in the branch not taken stays out
                      lambda g, ans, c, x, y: core.where(c, g, 0.0),
                      lambda g, ans, c, x, y: core.where(c, 0.0, g))
defvjp(core.matmul,   _matmul_vjp_left, _matmul_vjp_right)
# Linear primitives: the cotangent goes through the transposed operation.
defvjp(core.sum_,     _sum_vjp)
defvjp(core.amax,     _extremum_vjp)
defvjp(core.amin,     _extremum_vjp)
defvjp(core.prod,     _prod_vjp)
defvjp(core.reshape,  lambda g, ans, x, shape: core.reshape(g, shape=np.shape(primal(x))))
defvjp(core.transpose, lambda g, ans, x, axes=None: core.transpose(g, axes=_inverse_axes(x, axes)))
defvjp(core.broadcast_to, lambda g, ans, x, shape: _unbroadcast(g, x))
defvjp(core.getitem,  lambda g, ans, x, index: core.untake(g, index=index, shape=np.shape(primal(x))))
defvjp(core.untake,   lambda g, ans, t, index, shape: core.getitem(g, index=index))
defvjp(core.cumsum,   lambda g, ans, x, axis: _reversed(core.cumsum(_reversed(g, axis), axis=axis), axis))
defvjp(core.astype,   lambda g, ans, x, dtype: core.astype(g, dtype=getattr(primal(x), "dtype", np.float64)))


def _reversed(a, axis):
    """a with the entries along `axis` in reverse order."""
    return core.getitem(a, index=(slice(None),) * axis + (slice(None, None, -1),))


#: What each VJP rule reads besides shapes (argument positions, "ans" for the output): the
#: *residuals*, all that a tape in residual mode keeps of a row. Every other argument and the
#: output are kept as a Shape, so a big intermediate (X @ W₁ before its bias is added) is
#: freed as soon as f drops it. A primitive not listed keeps everything.
RESIDUALS = {
    **dict.fromkeys([core.add, core.subtract, core.negative, core.degrees, core.radians, core.sum_,
                     core.reshape, core.transpose, core.broadcast_to, core.getitem, core.untake,
                     core.cumsum, core.concatenate, core.astype], ()),
    **dict.fromkeys([core.exp, core.tan, core.tanh, core.sqrt, core.expm1, core.exp2, core.cbrt,
                     core.reciprocal], ("ans",)),
    **dict.fromkeys([core.log, core.sin, core.cos, core.sinh, core.cosh, core.square, core.absolute,
                     core.arctan, core.log1p, core.arcsin, core.arccos, core.arcsinh, core.arccosh,
                     core.arctanh, core.log2, core.log10, core.prod, core.where], (0,)),
    **dict.fromkeys([core.multiply, core.maximum, core.minimum, core.matmul, core.arctan2, core.fmax,
                     core.fmin, core.remainder], (0, 1)),
    **dict.fromkeys([core.power, core.hypot, core.logaddexp, core.logaddexp2], (0, 1, "ans")),
    core.divide: (1, "ans"),
    core.amax: (0, "ans"), core.amin: (0, "ans"),
}


class _ConcatenateRules:
    """concatenate takes any number of inputs: hand out the rule for input i on demand."""

    def __iter__(self):
        i = 0
        while True:
            yield _concatenate_vjp(i)
            i += 1


vjp_rules[core.concatenate] = _ConcatenateRules()


# ----------------------------------------------------------------------------
# The user-facing transformations
# ----------------------------------------------------------------------------
def _as_float(x, what="argument"):
    return core.as_float(x, what)


def _zeros_like(x):
    return 0.0 if np.ndim(primal(x)) == 0 and not isinstance(primal(x), np.ndarray) \
        else np.zeros(np.shape(primal(x)), dtype=_float_dtype(x))


def _float_dtype(x):
    dtype = np.result_type(primal(x))
    return dtype if dtype.kind == "f" else np.float64


def vjp(f, *primals, has_aux=False, **kwargs):
    r"""Evaluate f on a tape; return ``(f(x), pullback)``.

    ``pullback(ȳ)`` runs the reverse sweep and returns the tuple of input
    cotangents :math:`(\bar y^\top \partial f/\partial x_1, \dots)`, one per
    primal, each shaped like its primal. The pullback may be called many times
    (every row of a Jacobian); each call starts from fresh adjoints.

    Primals and the output may be pytrees (nested tuples, lists, dicts of
    floats and arrays): ȳ then has the output's structure and each input
    cotangent its primal's. With ``has_aux=True`` f returns ``(output, aux)``
    and vjp returns ``(f(x), pullback, aux)``. Keyword arguments pass through to f.
    """
    tape = Tape(core.new_level(), residuals=True)
    in_leaves, in_def = tree.flatten(primals)
    boxes = [tape.input(_as_float(p, f"vjp: primal {i}")) for i, p in enumerate(in_leaves)]
    try:
        out = settle(f(*tree.unflatten(in_def, boxes), **kwargs))
    except ValueError as error:  # numpy's words for y[i] = x, made ours
        explain_write(error)
    except TypeError as error:  # numpy's words for np.sin(np.array([x, 2.0])), made ours
        explain_object_loop(error)
    finally:
        core.end_level(tape.level)
        tape.seal()
    if has_aux:
        out, aux = aux_pair(out, "vjp")
        aux = strip(aux, tape.level)
    if out is None:  # an empty pytree, but almost always a forgotten return
        _check_output(out, f)
    out_leaves, out_def = tree.flatten(out)
    rows, values = [], []
    for o in out_leaves:
        on_tape = isinstance(o, Box) and o.tape is tape
        if not on_tape or np.result_type(primal(o)).kind == "c":
            _check_output(primal(o) if on_tape else o, f)
        rows.append(o.index if on_tape else None)
        values.append(o.value if on_tape else o)
    value = tree.unflatten(out_def, values)

    def pullback(cotangent):
        ct_leaves, ct_def = tree.flatten(cotangent)
        if ct_def != out_def and not (out_def == tree.LEAF and len(ct_leaves) == 1):
            raise ValueError(f"pullback: the cotangent has the structure {ct_def}, but the output "
                             f"{out_def}; they must match")
        for ct, v in zip(ct_leaves, values):
            if np.shape(primal(ct)) != np.shape(primal(v)):
                raise ValueError(f"pullback: the cotangent has shape {np.shape(primal(ct))}, "
                                 f"but the output has shape {np.shape(primal(v))}; they must match")
        seeds = [(row, _as_float(ct)) for row, ct in zip(rows, ct_leaves) if row is not None]
        adjoints = tape.sweep_from(seeds) if seeds else [None] * len(tape)
        grads = [core.cast_like(_zeros_like(b.value) if adjoints[b.index] is None else adjoints[b.index], b.value)
                 for b in boxes]
        return tuple(tree.unflatten(in_def, grads))
    return (value, pullback, aux) if has_aux else (value, pullback)


def _check_output(out, f):
    """An output not on the tape must still be a number or an array of numbers."""
    name = getattr(f, "__name__", "f")
    if isinstance(out, Tracer):
        if not core.is_live(out.level):
            raise core.escaped(type(out).__name__, out.level)
        return  # a tracer of another transformation: a constant here
    kind = np.asarray(out).dtype.kind
    if kind == "c":
        raise TypeError(f"vjp: {name} returned a complex value; autodiff_ref differentiates real "
                        "functions only: return np.real(...), np.abs(...) or the two parts as a tuple")
    if kind not in "biuf":
        raise TypeError(f"vjp: {name} returned {type(out).__name__} {out!r:.60}; "
                        "it must return a float or an array of floats (or a pytree of them)")


def _restrict(f, args, nums, kwargs=None):
    """f as a function of the arguments numbered `nums` only, the others held fixed."""
    kwargs = kwargs or {}

    def f_of_selected(*selected):
        full = list(args)
        for i, x in zip(nums, selected):
            full[i] = x
        return f(*full, **kwargs)
    f_of_selected.__name__ = getattr(f, "__name__", "f")
    return f_of_selected


def value_and_grad(f, argnums=0, has_aux=False):
    r"""``(f(x), ∇f(x))`` for a scalar-valued f, by one forward pass and one reverse sweep.

    Each gradient has the structure of its argument (a pytree of arrays for a
    pytree argument). With ``has_aux=True`` f returns ``(value, aux)`` and the
    result is ``((value, aux), gradient)``, as in JAX. Keyword arguments pass through to f.
    """
    def value_and_gradient(*args, **kwargs):
        nums = core.argnums_tuple(argnums, len(args), "grad")
        result = vjp(_restrict(f, args, nums, kwargs), *[args[i] for i in nums], has_aux=has_aux)
        value, pullback = result[0], result[1]
        leaf = tree.flatten(value)[1] == tree.LEAF
        if not (leaf and np.ndim(primal(value)) == 0):
            shape = np.shape(primal(value)) if leaf else f"a {type(value).__name__} (a pytree)"
            raise TypeError(
                f"grad needs a scalar output, but {getattr(f, '__name__', 'f')} returned shape "
                f"{shape}; use jacrev (or jacfwd) for the Jacobian of a "
                "vector output, or vjp for a vector-Jacobian product")
        grads = pullback(1.0)
        grads = grads[0] if isinstance(argnums, int) else grads
        return ((value, result[2]), grads) if has_aux else (value, grads)
    return value_and_gradient


def grad(f, argnums=0, has_aux=False):
    r"""The gradient ∇f of a scalar-valued f: the pullback of the cotangent 1.

    With ``has_aux=True`` f returns ``(value, aux)`` and grad returns ``(gradient, aux)``.
    """
    vg = value_and_grad(f, argnums, has_aux)

    def gradient(*args, **kwargs):
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return gradient


def jacrev(f, argnums=0, has_aux=False):
    r"""The Jacobian by reverse mode: row i is the pullback of the i-th unit cotangent.

    One forward pass records the tape; the reverse sweep runs once per output
    entry. For arrays the result has shape ``out.shape + x.shape``; for
    pytrees, the output's structure holding, at each output leaf, the input's
    structure of blocks (as in JAX, and as :func:`jacfwd`).
    """
    def jacobian(*args, **kwargs):
        nums = core.argnums_tuple(argnums, len(args), "jacrev")
        selected = tuple(tree.map_leaves(lambda x: _as_float(x, f"jacrev: argument {i}"), args[i])
                         for i in nums)
        result = vjp(_restrict(f, args, nums, kwargs), *selected, has_aux=has_aux)
        value, pullback = result[0], result[1]
        out_leaves, out_def = tree.flatten(value)
        in_leaves, in_def = tree.flatten(selected)
        zeros = [np.zeros(np.shape(primal(o)), dtype=_float_dtype(o)) for o in out_leaves]
        blocks = []
        for j, o in enumerate(out_leaves):
            out_shape = np.shape(primal(o))
            rows = []
            for e in np.eye(int(np.prod(out_shape)), dtype=zeros[j].dtype):
                seed = list(zeros)
                seed[j] = e.reshape(out_shape)
                rows.append(tree.flatten(pullback(tree.unflatten(out_def, seed)))[0])
            per_input = [
                core.reshape(np.stack([r[m] for r in rows]) if rows else
                             np.zeros((0,) + np.shape(primal(x)), dtype=_float_dtype(x)),
                             shape=out_shape + np.shape(primal(x)))
                for m, x in enumerate(in_leaves)]
            per_arg = tree.unflatten(in_def, per_input)
            blocks.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
        jac = tree.unflatten(out_def, blocks)
        return (jac, result[2]) if has_aux else jac
    return jacobian


def hessian(f, argnums=0):
    r"""The Hessian ∇²f, forward-over-reverse: the forward-mode Jacobian of ∇f."""
    from .dual import jacfwd
    return jacfwd(grad(f, argnums), argnums)
