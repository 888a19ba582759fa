r"""Primitives and the dispatch shared by forward and reverse mode.

A *primitive* is an operation whose derivative we state by hand: ``sin``,
``multiply``, ``sum``, ``matmul``… Every program the library differentiates is
a composition of primitives. Each mode keeps one table of rules keyed by
primitive (``dual.jvp_rules``, ``reverse.vjp_rules``); this module only names
the primitives and routes a call to the right mode.

Routing works like JAX's trace levels. Every transformation (one call of
``jvp`` or ``vjp``) gets a fresh, larger *level*; its tracers (``Dual`` for
forward mode, ``Box`` for reverse mode) carry that level. A primitive applied
to tracers is handled by the tracer with the highest level, which treats every
other argument, tracer or not, as a constant. Nesting transformations (a
Hessian is forward-over-reverse) therefore needs no special code, and a
derivative never confuses the perturbations of two nested transformations.

Users never call primitives directly: numpy calls them for us through the
``__array_ufunc__`` / ``__array_function__`` protocols, and Python operators
(``+ * @ [] **``) do the same.
"""
import itertools
import operator

import numpy as np


class Primitive:
    """A named operation with a plain-numpy implementation ``impl``."""

    __slots__ = ("name", "impl")

    def __init__(self, name, impl):
        self.name, self.impl = name, impl

    def __call__(self, *args, **params):
        return bind(self, *args, **params)

    def __repr__(self):
        return self.name


_levels = itertools.count(1)
_live_levels = {0}  # level 0: Duals built by hand, Dual(x, v), are always live


def new_level():
    """A level above every transformation started so far; live until :func:`end_level`."""
    level = next(_levels)
    _live_levels.add(level)
    return level


def end_level(level):
    """The transformation of `level` has returned: its tracers may no longer be used."""
    _live_levels.discard(level)


def is_live(level):
    return level in _live_levels


class UnexpectedTracerError(TypeError):
    """A tracer outlived its transformation (like JAX's error of the same name)."""


def escaped(kind, level, prim=None):
    """The error for a tracer (`kind` "Dual" or "Box") of a finished transformation met again in `prim`."""
    call = "jvp/jacfwd/derivative" if kind == "Dual" else "grad/vjp/jacrev"
    return UnexpectedTracerError(
        f"a traced value ({kind}, level {level}) of a {call} call that has already returned "
        f"was used again{'' if prim is None else f' in primitive {prim!r}'}. A tracer lives only while "
        f"its transformation runs; this one was probably saved outside the function (a global, a "
        f"list.append, self.attribute). Return it from the function instead (has_aux=True returns "
        f"extra outputs), or save autodiff_ref.core.primal(x), its plain value")


class Tracer:
    """What ``Dual`` and ``Box`` share: numpy protocols, operators, array methods.

    Subclasses define ``level`` and ``process(primitive, args, params)``.
    """

    __slots__ = ()
    __array_priority__ = 100.0

    # -- numpy protocols -------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **params):
        if method != "__call__":
            raise TypeError(f"autodiff_ref supports plain calls of numpy.{ufunc.__name__}, "
                            f"not numpy.{ufunc.__name__}.{method}")
        if params.pop("out", None) is not None:
            raise TypeError(f"numpy.{ufunc.__name__}(..., out=...) writes into an array, which "
                            "autodiff_ref cannot differentiate; use the returned value instead")
        if ufunc in NONDIFFERENTIABLE_UFUNCS:  # comparisons, sign, floor: no tangent
            return ufunc(*[primal(x) for x in inputs], **params)
        prim = UFUNC_PRIMITIVES.get(ufunc)
        if prim is None:
            raise NotImplementedError(
                f"numpy.{ufunc.__name__} has no derivative rule in autodiff_ref; "
                f"supported ufuncs: {', '.join(sorted(u.__name__ for u in UFUNC_PRIMITIVES))}")
        return bind(prim, *inputs, **params)

    def __array_function__(self, func, types, args, kwargs):
        handler = FUNCTIONS.get(func)
        if handler is None:
            raise NotImplementedError(
                f"{_qualified(func)} is not differentiable with autodiff_ref; "
                "write it with the supported functions (autodiff_ref.core.FUNCTIONS lists them)")
        return handler(*args, **kwargs)

    # -- operators: each is a primitive ----------------------------------
    def __add__(self, other): return bind(add, self, other)
    def __radd__(self, other): return bind(add, other, self)
    def __sub__(self, other): return bind(subtract, self, other)
    def __rsub__(self, other): return bind(subtract, other, self)
    def __mul__(self, other): return bind(multiply, self, other)
    def __rmul__(self, other): return bind(multiply, other, self)
    def __truediv__(self, other): return bind(divide, self, other)
    def __rtruediv__(self, other): return bind(divide, other, self)
    def __pow__(self, other): return bind(power, self, other)
    def __rpow__(self, other): return bind(power, other, self)
    def __matmul__(self, other): return bind(matmul, self, other)
    def __rmatmul__(self, other): return bind(matmul, other, self)
    def __neg__(self): return bind(negative, self)
    def __pos__(self): return self
    def __abs__(self): return bind(absolute, self)
    def __getitem__(self, index): return bind(getitem, self, index=index)

    # Comparisons look at the primal only: control flow sees ordinary numbers.
    def __lt__(self, other): return primal(self) < primal(other)
    def __le__(self, other): return primal(self) <= primal(other)
    def __gt__(self, other): return primal(self) > primal(other)
    def __ge__(self, other): return primal(self) >= primal(other)
    def __eq__(self, other): return primal(self) == primal(other)
    def __ne__(self, other): return primal(self) != primal(other)
    __hash__ = None

    def __bool__(self): return bool(primal(self))
    def __float__(self): raise TypeError(dropped("float(x)"))
    def __int__(self): raise TypeError(dropped("int(x)"))
    def item(self): raise TypeError(dropped("x.item()"))
    def __index__(self): return operator.index(primal(self))

    def __array__(self, dtype=None, copy=None):
        """numpy asks for a plain array: refused for a numeric dtype (it would drop the
        derivative); an object array of scalar tracers otherwise, which is how
        ``np.array([x[0], x[1] ** 2])`` builds an array of traced values."""
        if dtype is not None and np.dtype(dtype) != object:
            raise TypeError(dropped(f"np.array(x, dtype={np.dtype(dtype)}) (also np.float64(x), "
                                    "np.asarray(x, dtype=float), y[i:j] = x)"))
        out = np.empty(self.shape, dtype=object)
        for i in np.ndindex(self.shape):
            out[i] = self[i] if i else self
        return out

    # -- array methods, delegating to the numpy functions ----------------
    shape = property(lambda self: np.shape(primal(self)))
    ndim = property(lambda self: np.ndim(primal(self)))
    size = property(lambda self: np.size(primal(self)))
    dtype = property(lambda self: np.result_type(primal(self)))
    T = property(lambda self: transpose(self))

    def __len__(self): return len(primal(self))
    def __iter__(self): return (self[i] for i in range(len(self)))
    def sum(self, axis=None, keepdims=False): return sum_(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return np.mean(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return amax(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return amin(self, axis=axis, keepdims=keepdims)
    def prod(self, axis=None, keepdims=False): return prod(self, axis=axis, keepdims=keepdims)
    def dot(self, other): return np.dot(self, other)
    def reshape(self, *shape): return reshape(self, shape=shape[0] if len(shape) == 1 else shape)
    def transpose(self, *axes): return transpose(self, axes=(axes[0] if len(axes) == 1 else axes) or None)
    def ravel(self): return reshape(self, shape=(-1,))
    def flatten(self): return reshape(self, shape=(-1,))
    def squeeze(self, axis=None): return np.squeeze(self, axis=axis)
    def var(self, axis=None, keepdims=False, ddof=0): return np.var(self, axis=axis, keepdims=keepdims, ddof=ddof)
    def std(self, axis=None, keepdims=False, ddof=0): return np.std(self, axis=axis, keepdims=keepdims, ddof=ddof)
    def clip(self, min=None, max=None): return _clip(self, min, max)
    def cumsum(self, axis=None): return np.cumsum(self, axis=axis)
    def copy(self): return self
    def astype(self, dtype, copy=True):
        if np.dtype(dtype).kind != "f":
            raise TypeError(dropped(f"x.astype({np.dtype(dtype)})"))
        return self if np.dtype(dtype) == self.dtype else astype(self, dtype=np.dtype(dtype))


def dropped(what):
    """The message for a conversion that would drop the derivative of a traced value."""
    return (f"{what} would drop its derivative: x is a traced value (so would math.sin(x), "
            f"math.exp(x), ... and writing x into a numpy array, y[0] = x). Use numpy functions "
            f"(np.sin); build arrays with np.stack([...]) or np.array([...]) without a dtype; "
            f"update an array functionally, "
            f"y = np.where(np.arange(len(y)) == 0, x, y) or np.concatenate([x[None], y[1:]]); "
            f"autodiff_ref.core.primal(x) gives the plain value on purpose")


def from_objects(arr):
    """An object array holding tracers (built by ``np.array([x, y])``) as one tracer."""
    shape = arr.shape
    items = [reshape(e, shape=(1,)) if isinstance(e, Tracer) else np.reshape(_number(e), (1,))
             for e in arr.ravel()]
    if not items:
        return np.zeros(shape)
    return reshape(concatenate(*items, axis=0), shape=shape)


def _number(e):
    if isinstance(e, (int, float, np.number)) and not isinstance(e, (bool, complex, np.complexfloating)):
        return float(e)
    raise TypeError(f"an array built from traced values holds {type(e).__name__} {e!r:.40}; "
                    "every entry must be a real number")


def has_tracers(arr):
    """True for an object array (np.array of tracers) holding at least one tracer."""
    return arr.__class__ is np.ndarray and arr.dtype.kind == "O" and \
        any(isinstance(e, Tracer) for e in arr.flat)


def _qualified(func):
    module = getattr(func, "__module__", None) or "numpy"
    return f"{module}.{func.__name__}"


def primal(x):
    """Strip every tracer: the plain number or array underneath."""
    while isinstance(x, Tracer):
        x = x.value
    return x


def as_float(x, what="argument"):
    """x as a float or float array (ints and bools promoted); tracers pass through.

    Anything that is not a real number, or an array of them, is refused with a
    message naming `what`.
    """
    if isinstance(x, Tracer):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    arr = np.asarray(x)
    if arr.dtype.kind in "biu":
        return arr.astype(float)
    if arr.dtype.kind == "c":
        raise TypeError(f"{what} is complex ({arr.dtype}); autodiff_ref differentiates real functions "
                        "only. Split z into its real and imaginary parts and pass them as two real "
                        "arguments (f(x, y) with z = x + 1j*y), or use JAX or torch for complex AD")
    if arr.dtype.kind != "f":
        raise TypeError(f"{what} must be a float or an array of floats, got {type(x).__name__} {x!r:.60}")
    return arr


def cast_like(d, x):
    """The derivative `d` (a tangent or cotangent) with the type of x: a Python float for a
    Python float, x's dtype for a float32 (or float16) x, so float32 in gives float32 out."""
    if d.__class__ is np.ndarray and x.__class__ is np.ndarray and d.dtype == x.dtype:
        return d
    if isinstance(d, Tracer) or isinstance(x, Tracer):
        return d
    if x.__class__ is float:
        return float(d) if np.ndim(d) == 0 else d
    dtype = np.result_type(x)
    if dtype.kind == "f" and dtype != np.float64 and np.result_type(d) != dtype:
        return np.asarray(d).astype(dtype)
    return d


def numpy_scalar(v, like):
    """The Python float v as a numpy scalar of `like`'s float dtype (float64 for a Python float)."""
    dtype = np.result_type(primal(like))
    return (dtype.type if dtype.kind == "f" else np.float64)(v)


def argnums_tuple(argnums, nargs, who):
    """`argnums` (an int or a tuple of ints, negative counting from the end) as a tuple of indices."""
    nums = (argnums,) if isinstance(argnums, int) else argnums
    try:
        nums = tuple(nums)
    except TypeError:
        nums = ()
    if not nums or not all(isinstance(i, int) and not isinstance(i, bool) for i in nums):
        raise TypeError(f"{who}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{who}: argnums={argnums!r} asks for argument {i}, but the function was "
                             f"called with {nargs} positional argument{'' if nargs == 1 else 's'}")
    nums = tuple(i % nargs for i in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"{who}: argnums={argnums!r} names an argument twice")
    return nums


_OBJECT = np.dtype(object)


def bind(prim, *args, **params):
    """Apply `prim`: by the top-level tracer among `args` or, if none, by numpy."""
    top = None
    objects = False
    for x in args:
        if isinstance(x, Tracer):
            if top is None or x.level > top.level:
                top = x
        elif x.__class__ is np.ndarray and x.dtype is _OBJECT:
            objects = True
    if objects:  # an np.array([...]) of tracers among the arguments: one tracer instead
        return bind(prim, *[from_objects(x) if has_tracers(x) else x for x in args], **params)
    if top is None:
        return prim.impl(*args, **params)
    return top.process(prim, args, params)


# ----------------------------------------------------------------------------
# The primitives. The reverse rule of a primitive is often another primitive
# (sum ↔ broadcast_to, getitem ↔ untake): declaring those too keeps every rule
# differentiable, which is what makes Hessians work.
# ----------------------------------------------------------------------------
def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in axes)) if ndim else ()


def _untake(g, index, shape):
    """The transpose of ``x[index]``: a zero array of `shape` with `g` added at `index`."""
    out = np.zeros(shape, dtype=np.result_type(g, float))
    if _is_basic(index):  # a view: every position appears at most once
        out[index] = g
    else:  # integer arrays may repeat a position: accumulate
        np.add.at(out, index, g)
    return out


def _is_basic(index):
    """True for numpy's basic indexing (ints, slices, ``...``, ``None``)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items)


def takes_first(x, y, largest=True, nan_loses=False):
    r"""1.0 where max(x, y) (min(x, y) if not `largest`) is x, else 0.0: a tie goes to x.

    **Derivatives at kinks: the one convention of autodiff_ref.** At a tie the
    whole derivative goes to the entry numpy itself selects: the *first* of
    equal values, as ``np.argmax``/``np.argmin`` return the first. Elsewhere a
    kink gets the derivative of numpy's own sign function.

    ==============================  =====================================================
    ``maximum(x, y)``, ``minimum``  x = y: all to x, the first argument
    ``fmax``, ``fmin``              the same; a NaN loses against a number
    ``max``, ``min`` (reductions)   tied entries: all to the first (``np.argmax``'s)
    ``clip(x, lo, hi)``             x = lo or x = hi: 1 (clip is maximum(x, lo), then
                                    minimum(·, hi): x is their first argument)
    ``abs(x)``                      x = 0: 0 (``np.sign(0)``)
    ``sqrt(x)``                     x = 0: inf (the one-sided slope is unbounded)
    ``sign, floor, ceil, rint,      0 everywhere (the jumps have no derivative)
    trunc, round, fix``
    ==============================  =====================================================

    Why: every entry is a valid one-sided derivative (a subgradient for max,
    min, clip and abs), so no rule invents a slope numpy's function does not
    have; ``x[np.argmax(x)]`` and ``np.max(x)`` get the same derivative; clip
    agrees with ``torch.clamp``; and the course's lesson 8 teaches what such a
    convention does to the "stable" softplus ``maximum(z, 0) + log1p(exp(−|z|))``
    at z = 0 (AD gives 1 − y there, not σ(0) − y), which needs exactly this
    one. JAX and torch's maximum split a tie ½/½ instead: they are not oracles
    at ties (tests/test_edges.py checks against np.argmax and torch.clamp).
    """
    x, y = primal(x), primal(y)
    wins = np.greater_equal(x, y) if largest else np.less_equal(x, y)
    if nan_loses:  # fmax, fmin: a NaN loses against any number
        wins = (wins | np.isnan(y)) & ~(np.isnan(x) & ~np.isnan(y))
    return wins * 1.0


def first_extremum(x, ans, axis=None, keepdims=False):
    """The one-hot mask (floats, shaped like x) of the entry a max/min over `axis` takes: the
    first in C order among those equal to `ans`, as np.argmax picks (see :func:`takes_first`)."""
    xp = np.asarray(primal(x))
    axes = _normalize_axis(axis, xp.ndim)
    extremum = np.asarray(primal(ans))
    hit = xp == (extremum if keepdims else np.expand_dims(extremum, axes))
    if np.count_nonzero(hit) == extremum.size:   # no ties (the usual case): hit is the mask
        return hit * 1.0
    rest = tuple(a for a in range(xp.ndim) if a not in axes)
    lead = tuple(xp.shape[a] for a in rest)
    rows = np.transpose(hit, rest + axes).reshape(lead + (-1,))
    first = rows & (np.cumsum(rows, axis=-1) == 1)
    first = first.reshape(lead + tuple(xp.shape[a] for a in axes))
    return np.transpose(first, np.argsort(rest + axes)) * 1.0


def lowered_exponent(y):
    r"""The exponent y − 1 of the power rule d(xʸ)/dx = y·x^(y−1), with 1 where y = 0.

    Where y = 0 the factor y makes the derivative 0 anyway, but x^(−1) would be
    inf at x = 0 and 0·inf = nan; x¹ keeps it finite. Differentiating the rule
    again lowers y − 1 the same way, so every order of x**n at x = 0 is finite.
    Only a constant exponent is lowered: a traced y needs the true y − 1, whose
    derivative in y the swap would change.
    """
    if isinstance(y, Tracer):
        return y - 1
    if isinstance(y, (int, float)):
        return y - 1 if y != 0 else 1.0
    return np.where(np.not_equal(y, 0), np.subtract(y, 1), 1.0)


def log_of_base(x):
    r"""log x for the rule d(xʸ)/dy = xʸ·log x, with log 1 = 0 where x = 0 (there xʸ = 0 for y > 0)."""
    return log(where(np.equal(primal(x), 0), 1.0, x))


def prod_of_others(x, axis=None):
    r"""For every entry i, the product of the *other* entries over `axis`: ∂(∏ⱼ xⱼ)/∂xᵢ = ∏_{j≠i} xⱼ.

    Shaped like x. Without zeros that is (∏ⱼ xⱼ)/xᵢ. With a zero, dividing gives
    0/0, so the others are multiplied explicitly: along the n reduced entries an
    n×n grid holds x with its diagonal set to 1, and each row is multiplied out.
    """
    xp = primal(x)
    shape, axes = np.shape(xp), _normalize_axis(axis, np.ndim(xp))
    if np.all(xp != 0):
        return prod(x, axis=axes, keepdims=True) / x
    rest = tuple(a for a in range(len(shape)) if a not in axes)
    lead = tuple(shape[a] for a in rest)
    n = int(np.prod([shape[a] for a in axes]))
    rows = reshape(transpose(x, axes=rest + axes), shape=lead + (1, n))
    grid = where(np.eye(n, dtype=bool), 1.0, rows)          # grid[..., i, j] = x_j, 1 on j = i
    others = reshape(prod(grid, axis=-1), shape=lead + tuple(shape[a] for a in axes))
    return transpose(others, axes=tuple(int(a) for a in np.argsort(rest + axes)))


def _reduce(f):
    return lambda x, axis=None, keepdims=False: f(x, axis=axis, keepdims=keepdims)


add = Primitive("add", np.add)
subtract = Primitive("subtract", np.subtract)
multiply = Primitive("multiply", np.multiply)
divide = Primitive("divide", np.true_divide)
power = Primitive("power", np.power)
negative = Primitive("negative", np.negative)
maximum = Primitive("maximum", np.maximum)
minimum = Primitive("minimum", np.minimum)
exp = Primitive("exp", np.exp)
log = Primitive("log", np.log)
sin = Primitive("sin", np.sin)
cos = Primitive("cos", np.cos)
tan = Primitive("tan", np.tan)
tanh = Primitive("tanh", np.tanh)
sinh = Primitive("sinh", np.sinh)
cosh = Primitive("cosh", np.cosh)
sqrt = Primitive("sqrt", np.sqrt)
square = Primitive("square", np.square)
absolute = Primitive("abs", np.absolute)
arctan = Primitive("arctan", np.arctan)
log1p = Primitive("log1p", np.log1p)
expm1 = Primitive("expm1", np.expm1)
matmul = Primitive("matmul", np.matmul)
arcsin = Primitive("arcsin", np.arcsin)
arccos = Primitive("arccos", np.arccos)
arcsinh = Primitive("arcsinh", np.arcsinh)
arccosh = Primitive("arccosh", np.arccosh)
arctanh = Primitive("arctanh", np.arctanh)
log2 = Primitive("log2", np.log2)
log10 = Primitive("log10", np.log10)
exp2 = Primitive("exp2", np.exp2)
cbrt = Primitive("cbrt", np.cbrt)
reciprocal = Primitive("reciprocal", lambda x: np.reciprocal(np.asarray(x, dtype=float) if np.ndim(x) else float(x)))
degrees = Primitive("degrees", np.degrees)
radians = Primitive("radians", np.radians)
hypot = Primitive("hypot", np.hypot)
arctan2 = Primitive("arctan2", np.arctan2)
logaddexp = Primitive("logaddexp", np.logaddexp)
logaddexp2 = Primitive("logaddexp2", np.logaddexp2)
fmax = Primitive("fmax", np.fmax)
fmin = Primitive("fmin", np.fmin)
remainder = Primitive("remainder", np.remainder)

sum_ = Primitive("sum", _reduce(np.sum))
amax = Primitive("max", _reduce(np.max))
amin = Primitive("min", _reduce(np.min))
prod = Primitive("prod", _reduce(np.prod))
reshape = Primitive("reshape", lambda x, shape: np.reshape(x, shape))
transpose = Primitive("transpose", lambda x, axes=None: np.transpose(x, axes))
broadcast_to = Primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape))
getitem = Primitive("getitem", lambda x, index: x[index])
untake = Primitive("untake", _untake)
where = Primitive("where", lambda condition, x, y: np.where(condition, x, y))
concatenate = Primitive("concatenate", lambda *xs, axis=0: np.concatenate(xs, axis=axis))
cumsum = Primitive("cumsum", lambda x, axis: np.cumsum(x, axis=axis))
astype = Primitive("astype", lambda x, dtype: np.asarray(x, dtype=dtype)[()] if np.ndim(x) == 0 else x.astype(dtype))

UFUNC_PRIMITIVES = {
    np.add: add, np.subtract: subtract, np.multiply: multiply, np.true_divide: divide,
    np.power: power, np.negative: negative, np.maximum: maximum, np.minimum: minimum,
    np.exp: exp, np.log: log, np.sin: sin, np.cos: cos, np.tan: tan, np.tanh: tanh,
    np.sinh: sinh, np.cosh: cosh, np.sqrt: sqrt, np.square: square,
    np.absolute: absolute, np.arctan: arctan, np.log1p: log1p, np.expm1: expm1,
    np.matmul: matmul, np.arcsin: arcsin, np.arccos: arccos, np.arcsinh: arcsinh,
    np.arccosh: arccosh, np.arctanh: arctanh, np.log2: log2, np.log10: log10, np.exp2: exp2,
    np.cbrt: cbrt, np.reciprocal: reciprocal, np.degrees: degrees, np.rad2deg: degrees,
    np.radians: radians, np.deg2rad: radians, np.hypot: hypot, np.arctan2: arctan2,
    np.fmax: fmax, np.fmin: fmin, np.remainder: remainder,
    np.logaddexp: logaddexp, np.logaddexp2: logaddexp2,
}
#: x.sin(), x.exp(), ...: what numpy's object-dtype loops call on each tracer. Methods, not a
#: __getattr__: a class with __getattr__ makes every attribute lookup slower (B1 lost 25 %).
OBJECT_LOOP_METHODS = {u.__name__: u for u in UFUNC_PRIMITIVES if u.nin == 1}
for _name, _ufunc in OBJECT_LOOP_METHODS.items():
    setattr(Tracer, _name, lambda self, _ufunc=_ufunc: _ufunc(self))
NONDIFFERENTIABLE_UFUNCS = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.sign, np.floor, np.ceil, np.rint, np.trunc, np.isfinite, np.isnan, np.isinf,
    np.logical_and, np.logical_or, np.logical_not,
}


# numpy functions, written with the primitives above (this is the whole list).
def _plain_options(name, options):
    """Refuse the reduction options we do not implement, instead of silently ignoring them.

    ``out=None`` and a floating ``dtype`` change nothing; ``where=``, ``initial=``,
    ``out=array`` or an integer dtype would change the result.
    """
    for key, value in options.items():
        harmless = value is None or (key == "dtype" and np.dtype(value).kind == "f")
        if not harmless:
            raise NotImplementedError(f"numpy.{name}(..., {key}={value!r:.40}) is not supported by "
                                      f"autodiff_ref; only axis= and keepdims= are")


def _reduction(name, prim):
    def reduce(x, axis=None, keepdims=False, **options):
        _plain_options(name, options)
        return prim(x, axis=axis, keepdims=keepdims)
    return reduce


def _reshape(x, shape=None, order="C", **kw):
    if order != "C":
        raise NotImplementedError(f"numpy.reshape(..., order={order!r}) is not supported by "
                                  "autodiff_ref; only the default order='C' is")
    return reshape(x, shape=kw.get("newshape", shape))


def _mean(x, axis=None, keepdims=False, **options):
    _plain_options("mean", options)
    count = np.size(primal(x)) // max(np.size(np.sum(primal(x), axis=axis)), 1)
    return sum_(x, axis=axis, keepdims=keepdims) / count


def _dot(a, b):
    r"""numpy's dot: a product for scalars, matmul for b of 1 or 2 axes, and for an N-D b
    the sum over a's last axis and b's second-to-last, ``dot(a, b)[i, j, k, m] = Σₙ a[i, j, n] b[k, n, m]``."""
    na, nb = np.ndim(primal(a)), np.ndim(primal(b))
    if na == 0 or nb == 0:
        return multiply(a, b)
    if nb <= 2:
        return matmul(a, b)
    sb = np.shape(primal(b))
    columns = reshape(_moveaxis(b, -2, 0), shape=(sb[-2], -1))   # (n, everything else)
    return reshape(matmul(a, columns), shape=np.shape(primal(a))[:-1] + sb[:-2] + sb[-1:])


def _stack(arrays, axis=0):
    ndim = np.ndim(primal(arrays[0])) + 1
    axis = axis % ndim
    return concatenate(*[expand_dims(a, axis) for a in arrays], axis=axis)


def expand_dims(x, axis):
    shape = list(np.shape(primal(x)))
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in sorted(a % (len(shape) + len(axes)) for a in axes):  # positions in the result
        shape.insert(a, 1)
    return reshape(x, shape=tuple(shape))


def _concatenate(arrays, axis=0):
    if axis is None:  # numpy flattens every array first
        return concatenate(*[reshape(a, shape=(-1,)) for a in arrays], axis=0)
    return concatenate(*arrays, axis=axis)


def _squeeze(x, axis=None):
    return reshape(x, shape=np.squeeze(primal(x), axis=axis).shape)


def _moveaxis(x, source, destination):
    n = np.ndim(primal(x))
    source = [a % n for a in (source if isinstance(source, (tuple, list)) else (source,))]
    destination = [a % n for a in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    if len(source) != len(destination):
        raise ValueError("numpy.moveaxis: source and destination must have the same number of axes")
    order = [a for a in range(n) if a not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return transpose(x, axes=tuple(order))


def _clip(x, a_min=None, a_max=None, **bounds):
    # numpy 2 also spells the bounds min= and max=; None means unbounded on that side.
    a_min, a_max = bounds.pop("min", a_min), bounds.pop("max", a_max)
    if bounds:
        raise TypeError(f"numpy.clip on a tracer takes only the bounds, not {sorted(bounds)}")
    if a_min is not None:
        x = maximum(x, a_min)
    return x if a_max is None else minimum(x, a_max)


def _nondiff(f):
    return lambda *args, **kw: f(*[primal(a) for a in args], **{k: primal(v) for k, v in kw.items()})


FUNCTIONS = {
    np.sum: _reduction("sum", sum_),
    np.mean: _mean,
    np.max: _reduction("max", amax),
    np.min: _reduction("min", amin),
    np.amax: _reduction("amax", amax),
    np.amin: _reduction("amin", amin),
    np.prod: _reduction("prod", prod),
    np.dot: _dot,
    np.reshape: _reshape,
    np.transpose: lambda x, axes=None: transpose(x, axes=axes),
    np.broadcast_to: lambda x, shape: broadcast_to(x, shape=tuple(shape)),
    np.where: lambda condition, x, y: where(np.asarray(primal(condition), dtype=bool), x, y),
    np.concatenate: _concatenate,
    np.stack: _stack,
    np.expand_dims: expand_dims,
    np.squeeze: _squeeze,
    np.moveaxis: _moveaxis,
    np.ravel: lambda x: reshape(x, shape=(-1,)),
    np.outer: lambda a, b: multiply(reshape(a, shape=(-1, 1)), reshape(b, shape=(1, -1))),
    np.clip: _clip,
    np.shape: _nondiff(np.shape), np.ndim: _nondiff(np.ndim), np.size: _nondiff(np.size),
    np.zeros_like: _nondiff(np.zeros_like), np.ones_like: _nondiff(np.ones_like),
    np.full_like: _nondiff(np.full_like), np.argmax: _nondiff(np.argmax),
    np.argmin: _nondiff(np.argmin), np.isclose: _nondiff(np.isclose),
    np.allclose: _nondiff(np.allclose), np.result_type: _nondiff(np.result_type),
}


def _unsupported(what):
    raise NotImplementedError(f"{what} is not differentiable with autodiff_ref")
