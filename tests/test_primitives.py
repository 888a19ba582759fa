"""Every primitive of autodiff_ref, from a registry of (name, function, domain).

The registry :data:`CASES` lists ordinary numpy code that reaches each
primitive, numpy function, ufunc and array method autodiff_ref supports, with
the domain its inputs are drawn from (a hypothesis strategy with explicit
bounds: log on (0.1, 10), maximum on well-separated pairs, ...). Each case is
checked with :func:`autodiff_ref.testing.check_grads` in both modes, to second
order, at inputs hypothesis draws from the domain.

Nothing is hand-picked and forgotten: :func:`test_registry_covers_everything_in_core`
evaluates every case on dual numbers while recording which primitives, numpy
functions, ufuncs and tracer methods of ``autodiff_ref.core`` ran, and fails
naming anything in core that no case reaches.
"""
import operator
from typing import Callable, NamedTuple

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis.errors import NoSuchExample
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autodiff_ref import Dual, core, jacfwd, jacrev, jvp, vjp
from autodiff_ref.testing import TOLERANCES, central_jvp, check_grads

# Hypothesis is seeded (derandomize) and keeps no example database: runs are reproducible.
EXAMPLES = settings(max_examples=6, deadline=None, derandomize=True, database=None)


class Case(NamedTuple):
    """One registry entry: numpy code reaching a primitive, and where its inputs live."""
    name: str
    function: Callable
    domain: st.SearchStrategy  # draws the tuple of arguments


# ----------------------------------------------------------------------------
# Domains: strategies with explicit bounds
# ----------------------------------------------------------------------------
def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def box(shape, lo, hi):
    """Entries uniform-ish in [lo, hi]; shape () gives a Python float."""
    if shape == ():
        return floats(lo, hi)
    return hnp.arrays(np.float64, shape, elements=floats(lo, hi))


def away(shape, lo=0.2, hi=2.0):
    """Entries with |x| in [lo, hi], either sign: away from the kink or pole at 0."""
    sign = st.sampled_from([-1.0, 1.0]) if shape == () else \
        hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0]))
    return st.tuples(box(shape, lo, hi), sign).map(lambda ms: ms[0] * ms[1])


def separated(*shapes):
    """Arguments whose entries all differ by ≥ 0.3 (no ties for max/min/maximum).

    Argument a gets values 2·k + a·0.6 + jitter (k an integer, jitter in
    [0, 0.3]): entries of different arguments never meet; entries of one
    argument are tied only on the same k, so each array is also drawn distinct.
    """
    def one(a, shape):
        n = int(np.prod(shape))
        base = st.permutations(range(-(n // 2), n - n // 2)).map(np.array)
        return st.tuples(base, box((n,), 0.0, 0.3)).map(
            lambda bj: _reshape(2.0 * bj[0] + 0.6 * a + bj[1] - 0.5, shape))
    return st.tuples(*[one(a, s) for a, s in enumerate(shapes)])


def _reshape(v, shape):
    return float(v[0]) if shape == () else v.reshape(shape)


def fractional(shape):
    """k + u with u in [0.1, 0.4]: away from the jumps of floor, ceil and rint."""
    ints = st.integers(-3, 3) if shape == () else hnp.arrays(np.int64, shape, elements=st.integers(-3, 3))
    return st.tuples(ints, box(shape, 0.1, 0.4)).map(lambda ku: ku[0] + ku[1])


def clip_safe(shape):
    """Values at distance ≥ 0.1 from the clip bounds ±0.5."""
    ks = st.integers(-2, 1) if shape == () else hnp.arrays(np.int64, shape, elements=st.integers(-2, 1))
    return st.tuples(ks, box(shape, 0.1, 0.4)).map(lambda ku: 0.5 * ku[0] + ku[1])


def args(*strategies):
    return st.tuples(*strategies)


# ----------------------------------------------------------------------------
# The registry
# ----------------------------------------------------------------------------
SHAPES = [(), (3,), (2, 3)]
PAIRS = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((), (2, 3)), ((2, 1), (1, 3))]

UNARY = {  # ufunc: domain bounds
    np.negative: (-3, 3), np.exp: (-2, 2), np.log: (0.1, 10), np.sin: (-3, 3), np.cos: (-3, 3),
    np.tan: (-1.2, 1.2), np.tanh: (-3, 3), np.sinh: (-2, 2), np.cosh: (-2, 2),
    np.sqrt: (0.1, 10), np.square: (-3, 3), np.arctan: (-3, 3), np.log1p: (-0.9, 5),
    np.expm1: (-2, 2),
}

BINARY = {  # ufunc: domain of (x, y) for a pair of shapes
    np.add: lambda sx, sy: args(box(sx, -3, 3), box(sy, -3, 3)),
    np.subtract: lambda sx, sy: args(box(sx, -3, 3), box(sy, -3, 3)),
    np.multiply: lambda sx, sy: args(box(sx, -3, 3), box(sy, -3, 3)),
    np.true_divide: lambda sx, sy: args(box(sx, -3, 3), away(sy, 0.3, 3)),
    np.power: lambda sx, sy: args(box(sx, 0.5, 2), box(sy, -2, 2)),
    np.maximum: lambda sx, sy: separated(sx, sy),
    np.minimum: lambda sx, sy: separated(sx, sy),
}

C3 = np.array([0.5, -1.0, 2.0])
C23 = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
MASK3 = np.array([True, False, True])


def _cases():
    cases = []

    def add(name, function, domain):
        cases.append(Case(name, function, domain))

    # -- elementwise ufuncs on scalars and arrays, binary ones with broadcasting
    for ufunc, (lo, hi) in UNARY.items():
        for shape in SHAPES:
            add(f"{ufunc.__name__}{shape}", ufunc, args(box(shape, lo, hi)))
    for shape in SHAPES:
        add(f"absolute{shape}", np.absolute, args(away(shape)))
    for ufunc, domain in BINARY.items():
        for sx, sy in PAIRS:
            add(f"{ufunc.__name__}{sx}{sy}", ufunc, domain(sx, sy))

    # -- Python operators, with constants on either side (the reflected methods)
    x3 = args(box((3,), -2, 2))
    operators = [
        ("x+2", lambda x: x + 2, x3), ("2+x", lambda x: 2 + x, x3),
        ("x-1", lambda x: x - 1, x3), ("1-x", lambda x: 1 - x, x3),
        ("2*x", lambda x: 2 * x, x3), ("x*C", lambda x: x * C3, x3),
        ("x/2", lambda x: x / 2, x3), ("2/x", lambda x: 2 / x, args(away((3,), 0.3, 2))),
        ("C/x", lambda x: C3 / x, args(away((3,), 0.3, 2))),
        ("x**3", lambda x: x ** 3, x3), ("x**2.5", lambda x: x ** 2.5, args(box((3,), 0.2, 2))),
        ("x**0.5", lambda x: x ** 0.5, args(box((3,), 0.2, 2))),
        ("x**intarray", lambda x: x ** np.array([1, 2, 3]), x3),
        ("2.0**x", lambda x: 2.0 ** x, x3), ("-x", lambda x: -x, x3), ("+x", lambda x: +x * 1.5, x3),
        ("abs(x)", lambda x: abs(x), args(away((3,)))),
        ("x*y-scalars", lambda x, y: x * y - x / y + x ** y, args(box((), 0.5, 2), box((), 0.5, 2))),
        # Python floats and ints on either side of a scalar: the tape's fast path for scalar arithmetic
        ("scalar with constants", lambda x: (2 + x) * 3 - (1 - x) / 2 + 2 / x - x / 4 + (x - 1) * (x + 0.5),
         args(away(()))),
        ("scalar x scalar", lambda x, y: (x + y) * (x - y) / (y * y + 1) - y / x, args(away(()), box((), -2, 2))),
        ("scalar with numpy scalars", lambda x: np.float64(2.0) * x + x * np.float64(3.0) - np.int64(2) / x,
         args(away(()))),
        ("x@y", lambda x, y: x @ y, args(box((2, 3), -2, 2), box((3,), -2, 2))),
        ("C@x", lambda x: C23 @ x, x3), ("list@x", lambda x: C23.tolist() @ x, x3), ("x@C", lambda x: x @ C23.T, x3),
    ]
    for name, function, domain in operators:
        add(f"operator {name}", function, domain)

    # -- matmul with 1-D and 2-D operands, batched; dot and outer
    mat = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
           ((2, 2, 3), (3, 2)), ((2, 2, 3), (2, 3, 2)), ((3,), (2, 3, 4)), ((2, 3, 4), (4,)),
           ((2, 1, 3, 2), (3, 2, 2))]
    for sx, sy in mat:
        add(f"matmul{sx}{sy}", np.matmul, args(box(sx, -2, 2), box(sy, -2, 2)))
    add("dot(2,3)(3,)", np.dot, args(box((2, 3), -2, 2), box((3,), -2, 2)))
    add("dot()(3,)", np.dot, args(box((), -2, 2), box((3,), -2, 2)))
    add("outer", np.outer, args(box((3,), -2, 2), box((2,), -2, 2)))

    # -- reductions: axis and keepdims variants
    reductions = {np.sum: lambda s: box(s, -2, 2), np.mean: lambda s: box(s, -2, 2),
                  np.prod: lambda s: away(s, 0.5, 1.5),
                  np.max: lambda s: separated(s).map(lambda a: a[0]),
                  np.min: lambda s: separated(s).map(lambda a: a[0])}
    for reduce, element in reductions.items():
        for axis in [None, 0, 1, -1, (0, 1)]:
            for keepdims in (False, True):
                add(f"{reduce.__name__}(axis={axis}, keepdims={keepdims})",
                    lambda x, r=reduce, a=axis, k=keepdims: r(x, axis=a, keepdims=k),
                    args(element((2, 3))))
        add(f"{reduce.__name__}(axis=(0, 2)) of 3-D",
            lambda x, r=reduce: r(x, axis=(0, 2)), args(element((2, 3, 2))))
        add(f"{reduce.__name__} of a scalar", reduce, args(element(())))
    with_zeros = hnp.arrays(np.float64, (2, 3), elements=st.one_of(st.just(0.0), floats(-1.5, 1.5)))
    for axis in [None, 1, (0, 1)]:
        add(f"prod with zeros (axis={axis})", lambda x, a=axis: np.prod(x, axis=a), args(with_zeros))
    add("prod with zeros keepdims", lambda x: np.prod(x, axis=0, keepdims=True), args(with_zeros))

    # -- array methods of the tracers
    x23 = args(box((2, 3), -2, 2))
    methods = [
        ("sum", lambda x: x.sum(axis=1), x23), ("mean", lambda x: x.mean(axis=0, keepdims=True), x23),
        ("max", lambda x: x.max(axis=1), args(separated((2, 3)).map(lambda a: a[0]))),
        ("np.amax np.amin", lambda x: np.amax(x, axis=0) - np.amin(x, axis=1, keepdims=True),
         args(separated((2, 3)).map(lambda a: a[0]))),
        ("min", lambda x: x.min(), args(separated((2, 3)).map(lambda a: a[0]))),
        ("prod", lambda x: x.prod(axis=0), args(away((2, 3), 0.5, 1.5))),
        ("dot", lambda x, y: x.dot(y), args(box((2, 3), -2, 2), box((3,), -2, 2))),
        ("reshape(3, 2)", lambda x: x.reshape(3, 2), x23),
        ("reshape((6,))", lambda x: x.reshape((6,)), x23),
        ("reshape(-1, 2)", lambda x: x.reshape(-1, 2), x23),
        ("transpose()", lambda x: x.transpose(), x23),
        ("transpose(1, 0, 2)", lambda x: x.transpose(1, 0, 2), args(box((2, 3, 2), -2, 2))),
        ("transpose((2, 0, 1))", lambda x: x.transpose((2, 0, 1)), args(box((2, 3, 2), -2, 2))),
        ("T", lambda x: x.T, x23), ("T of 3-D", lambda x: x.T, args(box((2, 3, 2), -2, 2))),
        ("ravel", lambda x: x.ravel(), x23), ("flatten", lambda x: x.flatten(), x23),
        ("squeeze", lambda x: x.squeeze(), args(box((1, 3), -2, 2))),
        ("squeeze(axis=0)", lambda x: x.squeeze(axis=0), args(box((1, 3, 1), -2, 2))),
        ("iter and len", lambda x: sum(list(x)) * len(x), x23),
        ("shape, ndim, size, dtype", lambda x: x.reshape(x.shape[::-1]) * (x.ndim + x.size)
         + np.zeros(x.shape[::-1], dtype=x.dtype), x23),
        ("bool", lambda x: x * bool(x[2]) + x * (x[0] > 0), args(fractional((3,)))),
        ("__index__ (an integer-valued dual as an index)", lambda x: x * C3[Dual(2, 0.0)], x3),
        ("comparisons", lambda x: x * ((x[0] < 0) + (x[0] <= 0) + (x[0] > 0) + (x[0] >= 0)
                                       + (x[0] == x[0]) + (x[0] != 0)), x3),
    ]
    for name, function, domain in methods:
        add(f"method {name}", function, domain)

    # -- indexing and slicing, fancy and Ellipsis; the transpose of indexing (untake)
    x34 = args(box((3, 4), -2, 2))
    x234 = args(box((2, 3, 4), -2, 2))
    indexing = [
        ("x[1]", lambda x: x[1], x34), ("x[-1]", lambda x: x[-1], x34),
        ("x[1, 2]", lambda x: x[1, 2], x34), ("x[1:]", lambda x: x[1:], x34),
        ("x[:, 1]", lambda x: x[:, 1], x34), ("x[::-1]", lambda x: x[::-1], x34),
        ("x[1:3, ::2]", lambda x: x[1:3, ::2], x34),
        ("x[[0, 2, 2]]", lambda x: x[[0, 2, 2]], x34),
        ("x[[0, 1], [1, 3]]", lambda x: x[[0, 1], [1, 3]], x34),
        ("x[:, [3, 0, 3]]", lambda x: x[:, [3, 0, 3]], x34),
        ("x[array([[0, 1], [2, 2]])]", lambda x: x[np.array([[0, 1], [2, 2]])], x34),
        ("x[mask]", lambda x: x[MASK3], x34),
        ("x[x > 0]", lambda x: x[x > 0], args(away((3, 4)))),
        ("x[..., 1]", lambda x: x[..., 1], x234), ("x[0, ...]", lambda x: x[0, ...], x234),
        ("x[..., None]", lambda x: x[..., None], x234), ("x[None]", lambda x: x[None], x34),
        ("x[1, ..., [0, 0]]", lambda x: x[1, ..., [0, 0]], x234),
        ("x[:, None, 1:]", lambda x: x[:, None, 1:], x34),
        ("v[2]", lambda v: v[2], x3), ("v[[0, 0, 1]]", lambda v: v[[0, 0, 1]], x3),
        ("scalar slice", lambda v: v[1:2] * v[0], x3),
    ]
    for name, function, domain in indexing:
        add(f"getitem {name}", function, domain)
    add("untake [0, 2, 2] into (4,)", lambda g: core.untake(g, index=[0, 2, 2], shape=(4,)), x3)
    add("untake (..., 1) into (2, 3, 2)",
        lambda g: core.untake(g, index=(Ellipsis, 1), shape=(2, 3, 2)), x23)

    # -- reshaping and moving axes
    reshaping = [
        ("reshape", lambda x: np.reshape(x, (3, 2)), x23),
        ("reshape -1", lambda x: np.reshape(x, -1), x23),
        ("transpose", lambda x: np.transpose(x, (2, 0, 1)), args(box((2, 3, 2), -2, 2))),
        ("transpose default", lambda x: np.transpose(x), x23),
        ("moveaxis", lambda x: np.moveaxis(x, 0, -1), args(box((2, 3, 4), -2, 2))),
        ("moveaxis -1 to 0", lambda x: np.moveaxis(x, -1, 0), args(box((2, 3, 4), -2, 2))),
        ("expand_dims", lambda x: np.expand_dims(x, 1), x23),
        ("expand_dims -1", lambda x: np.expand_dims(x, -1), x3),
        ("expand_dims (0, 2)", lambda x: np.expand_dims(x, (0, 2)), x23),
        ("squeeze", lambda x: np.squeeze(x), args(box((1, 3, 1), -2, 2))),
        ("squeeze axis", lambda x: np.squeeze(x, axis=2), args(box((1, 3, 1), -2, 2))),
        ("ravel", np.ravel, x23),
        ("broadcast_to (3,)->(2,3)", lambda x: np.broadcast_to(x, (2, 3)), x3),
        ("broadcast_to (2,1)->(2,3)", lambda x: np.broadcast_to(x, (2, 3)), args(box((2, 1), -2, 2))),
        ("broadcast_to ()->(2,)", lambda x: np.broadcast_to(x, (2,)), args(box((), -2, 2))),
    ]
    for name, function, domain in reshaping:
        add(f"shape {name}", function, domain)

    # -- stack and concatenate (any number of inputs, constants among them)
    two23 = args(box((2, 3), -2, 2), box((2, 3), -2, 2))
    joining = [
        ("stack axis 0", lambda x, y: np.stack([x, y]), two23),
        ("stack axis 1", lambda x, y: np.stack([x, y], axis=1), two23),
        ("stack axis -1", lambda x, y: np.stack((x, y, x), axis=-1), two23),
        ("stack scalars", lambda a, b: np.stack([a, b, a * b]), args(box((), -2, 2), box((), -2, 2))),
        ("concatenate axis 0", lambda x, y: np.concatenate([x, y]), two23),
        ("concatenate axis 1", lambda x, y: np.concatenate([x, y], axis=1), two23),
        ("concatenate axis -1 with a constant",
         lambda x, y: np.concatenate([x, C23, y], axis=-1), two23),
        ("concatenate constant first", lambda x: np.concatenate([C3, x, C3]), x3),
        ("concatenate axis None", lambda x, y: np.concatenate([x, y[0]], axis=None), two23),
        ("concatenate unequal", lambda x, y: np.concatenate([x, y], axis=0),
         args(box((1, 3), -2, 2), box((2, 3), -2, 2))),
    ]
    for name, function, domain in joining:
        add(f"join {name}", function, domain)

    # -- where, clip, norm
    selecting = [
        ("where(x > 0, x², -x)", lambda x: np.where(x > 0, x * x, -x), args(away((2, 3)))),
        ("where(mask, x, y)", lambda x, y: np.where(MASK3, x, y), args(box((3,), -2, 2), box((3,), -2, 2))),
        ("where broadcasting", lambda x, y: np.where(MASK3, x, y), args(box((2, 3), -2, 2), box((), -2, 2))),
        ("where(c, x, 2.0)", lambda x: np.where(x < 0, x, 2.0), args(away((3,)))),
        ("where(c, 2.0, x)", lambda x: np.where(x < 0, 2.0, np.sin(x)), args(away((3,)))),
        ("clip", lambda x: np.clip(x, -0.5, 0.5), args(clip_safe((2, 3)))),
        ("clip keywords", lambda x: np.clip(x, a_min=-0.5, a_max=0.5), args(clip_safe((3,)))),
        ("norm", lambda x: np.linalg.norm(x), args(away((2, 3)))),
        ("norm vector ord 1 inf -inf 3", lambda x: np.linalg.norm(x, 1) + np.linalg.norm(x, np.inf)
         + np.linalg.norm(x, -np.inf) + np.linalg.norm(x, 3), args(separated((4,)).map(lambda a: a[0]))),
        ("norm matrix ord 1 inf", lambda x: np.linalg.norm(x, 1) * np.linalg.norm(x, np.inf),
         args(box((3, 3), 0.5, 2).map(lambda m: m + np.diag([0.0, 1.0, 2.0]) + np.array([[0.0], [0.3], [0.6]])))),
        ("norm matrix ord 2 nuc", lambda x: np.linalg.norm(x, 2) + np.linalg.norm(x, "nuc"), args(box((3, 2), -2, 2).map(
            lambda m: m + np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])))),
        ("norm axis pair keepdims", lambda x: np.linalg.norm(x, "fro", axis=(2, 0), keepdims=True),
         args(away((2, 3, 2)))),
        ("norm axis keepdims", lambda x: np.linalg.norm(x, axis=1, keepdims=True), args(away((2, 3)))),
        ("norm fro", lambda x: np.linalg.norm(x, "fro"), args(away((2, 3)))),
    ]
    for name, function, domain in selecting:
        add(f"select {name}", function, domain)

    # -- the non-differentiable helpers, used inside differentiable code
    helpers = [
        ("sign", lambda x: x * np.sign(x), args(away((3,)))),
        ("floor ceil rint", lambda x: x * np.floor(x) + np.ceil(x) * x - np.rint(x) * x, args(fractional((3,)))),
        ("comparison ufuncs", lambda x: x * (np.greater(x, 0) + np.greater_equal(x, 0) + np.less(x, 0)
                                             + np.less_equal(x, 0) + 2 * np.equal(x, x)
                                             + np.not_equal(x, 0)), args(away((3,)))),
        ("isfinite isnan isinf", lambda x: np.where(np.isfinite(x) & ~np.isnan(x) & ~np.isinf(x), x, 0.0),
         x3),
        ("logical", lambda x: np.where(np.logical_and(x, x > 0), x * x, x)
         + np.where(np.logical_or(x, False), x, 0.0) + np.where(np.logical_not(x), 0.0, 2 * x),
         args(away((3, 4)))),
        ("shape ndim size", lambda x: np.reshape(x, np.shape(x)[::-1]) * (np.ndim(x) + np.size(x)), x23),
        ("zeros_like ones_like full_like", lambda x: x * np.ones_like(x) + np.zeros_like(x)
         + np.full_like(x, 2.0) * x, x23),
        ("argmax argmin", lambda x: x[np.argmax(x)] - x[np.argmin(x)] * 2,
         args(separated((4,)).map(lambda a: a[0]))),
        ("isclose allclose", lambda x: np.where(np.isclose(x, 100.0), 0.0, x) * float(np.allclose(x, x)), x3),
        ("result_type", lambda x: x + np.zeros(3, dtype=np.result_type(x, 1.0)), x3),
    ]
    for name, function, domain in helpers:
        add(f"nondifferentiable {name}", function, domain)
    _more_cases(add)
    return cases


UNARY_MORE = {  # ufunc: domain bounds (inside the function's domain, away from its poles)
    np.arcsin: (-0.8, 0.8), np.arccos: (-0.8, 0.8), np.arcsinh: (-3, 3), np.arccosh: (1.2, 4),
    np.arctanh: (-0.8, 0.8), np.log2: (0.1, 10), np.log10: (0.1, 10), np.exp2: (-2, 2),
    np.cbrt: (0.2, 5), np.reciprocal: (0.3, 3), np.degrees: (-3, 3), np.radians: (-3, 3),
    np.rad2deg: (-3, 3), np.deg2rad: (-3, 3),
}
BINARY_MORE = {
    np.hypot: lambda sx, sy: args(away(sx, 0.3, 3), away(sy, 0.3, 3)),
    np.arctan2: lambda sx, sy: args(away(sx, 0.3, 3), away(sy, 0.3, 3)),
    np.fmax: lambda sx, sy: separated(sx, sy),
    np.fmin: lambda sx, sy: separated(sx, sy),
    np.remainder: lambda sx, sy: args(fractional(sx), st.just(np.ones(sy)) if sy else st.just(1.0)),
}
A23 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def _more_cases(add):
    """The numpy of issue 10: more ufuncs, statistics, products, shapes, object arrays."""
    for ufunc, (lo, hi) in UNARY_MORE.items():
        for shape in ((), (2, 3)):
            add(f"{ufunc.__name__}{shape}", ufunc, args(box(shape, lo, hi)))
    for ufunc, domain in BINARY_MORE.items():
        for sx, sy in (((), ()), ((2, 3), (3,))):
            add(f"{ufunc.__name__}{sx}{sy}", ufunc, domain(sx, sy))
    for ufunc in (np.logaddexp, np.logaddexp2):
        for sx, sy in (((), ()), ((2, 3), (3,))):
            add(f"{ufunc.__name__}{sx}{sy}", ufunc, args(box(sx, -3, 3), box(sy, -3, 3)))
    x3, x23, x34 = args(box((3,), -2, 2)), args(box((2, 3), -2, 2)), args(box((3, 4), -2, 2))
    two23 = args(box((2, 3), -2, 2), box((2, 3), -2, 2))
    more = [
        ("var", lambda x: np.var(x, axis=0), x23), ("var ddof keepdims", lambda x: np.var(x, axis=1, ddof=1, keepdims=True), x23),
        ("std", np.std, args(separated((2, 3)).map(lambda a: a[0]))),
        ("cumsum", np.cumsum, x23), ("cumsum axis", lambda x: np.cumsum(x, axis=1), x23),
        ("cumprod", lambda x: np.cumprod(x, axis=0), x23), ("cumprod flat", np.cumprod, args(away((2, 3), 0.5, 1.5))),
        ("diff", np.diff, x23), ("diff n=2 axis 0", lambda x: np.diff(x, n=2, axis=0), x34),
        ("sort", np.sort, args(separated((2, 3)).map(lambda a: a[0]))),
        ("sort axis None", lambda x: np.sort(x, axis=None), args(separated((2, 3)).map(lambda a: a[0]))),
        ("einsum ij,jk->ik", lambda a, b: np.einsum("ij,jk->ik", a, b), args(box((2, 3), -2, 2), box((3, 4), -2, 2))),
        ("einsum implicit ij,j", lambda a, b: np.einsum("ij,j", a, b), args(box((2, 3), -2, 2), box((3,), -2, 2))),
        ("einsum ij->", lambda a: np.einsum("ij->", a), x23),
        ("tensordot axes=1", lambda a, b: np.tensordot(a, b, axes=1), args(box((2, 3), -2, 2), box((3, 2), -2, 2))),
        ("tensordot axes pairs", lambda a, b: np.tensordot(a, b, axes=([0], [1])), args(box((2, 3), -2, 2), box((3, 2), -2, 2))),
        ("kron", np.kron, args(box((2, 2), -2, 2), box((2, 3), -2, 2))),
        ("inner", np.inner, two23), ("vdot", np.vdot, two23),
        ("trace", np.trace, x34), ("diagonal offset", lambda x: np.diagonal(x, -1), x34),
        ("diag of a vector", lambda v: np.diag(v, 1), x3), ("diag of a matrix", np.diag, x34),
        ("triu", np.triu, x34), ("tril k", lambda x: np.tril(x, 1), x34),
        ("hstack", lambda a, b: np.hstack([a, b, A23]), two23), ("vstack", lambda a, b: np.vstack((a, b[0])), two23),
        ("column_stack", lambda a, b: np.column_stack([a, b]), args(box((3,), -2, 2), box((3,), -2, 2))),
        ("dstack", lambda a, b: np.dstack([a, b]), two23),
        ("tile", lambda x: np.tile(x, (2, 1, 2)), x23), ("tile int", lambda x: np.tile(x, 2), x3),
        ("repeat", lambda x: np.repeat(x, 2, axis=1), x23), ("repeat counts", lambda x: np.repeat(x, [1, 0, 3]), x3),
        ("flip", np.flip, x23), ("flip axis", lambda x: np.flip(x, axis=1), x23),
        ("roll", lambda x: np.roll(x, 2), x23), ("roll axes", lambda x: np.roll(x, (1, -1), axis=(0, 1)), x23),
        ("swapaxes", lambda x: np.swapaxes(x, 0, 1), x23),
        ("moveaxis lists", lambda x: np.moveaxis(x, [0, 1], [-1, -2]), args(box((2, 3, 4), -2, 2))),
        ("pad constant", lambda x: np.pad(x, 1, constant_values=2.0), x23),
        ("pad reflect", lambda x: np.pad(x, ((1, 2), (0, 1)), mode="reflect"), x34),
        ("atleast_1d 2d 3d", lambda x, s: np.atleast_3d(x) * np.atleast_2d(x)[..., None] + np.atleast_1d(s)
         + np.atleast_2d(s)[0] * np.atleast_1d(x, s)[0], args(box((3,), -2, 2), box((), -2, 2))),
        ("split", lambda x: np.split(x, 2, axis=0)[1] * np.split(x, [1])[0], args(box((4, 3), -2, 2))),
        ("array_split", lambda x: np.array_split(x, 2, axis=1)[0], x23),
        ("append", np.append, two23), ("append axis", lambda a, b: np.append(a, b, axis=0), two23),
        ("sinc", np.sinc, args(box((3,), -2, 2))), ("sinc near 0", np.sinc, args(box((3,), -1e-4, 1e-4))),
        ("round around fix argsort", lambda x: x * np.round(x) + np.around(x) * x + np.fix(x) * x
         + x[np.argsort(x)], args(st.tuples(st.permutations([-2.0, 0.0, 1.0]).map(np.array),
                                            box((3,), 0.1, 0.4)).map(lambda ku: ku[0] + ku[1]))),
        ("trunc", lambda x: x * np.trunc(x), args(fractional((3,)))),
        ("dot N-D", np.dot, args(box((2, 3), -2, 2), box((2, 3, 4), -2, 2))),
        ("dot N-D both", np.dot, args(box((2, 2, 3), -2, 2), box((2, 3, 2), -2, 2))),
        ("methods var std clip cumsum astype copy",
         lambda x: x.var(axis=0) + x.std(axis=1, keepdims=True) + x.clip(-1.3, 1.3) + x.cumsum(axis=0)
         + x.astype(float).copy(), args(separated((2, 3)).map(lambda a: a[0]))),
        # (float32 rounding is beyond the checker's tolerances: tests/test_edges.py checks astype(float32))
        ("core.astype", lambda x: core.astype(x * x, dtype=np.dtype(np.float64)) * x.astype(float), x3),
        ("np.array of tracers", lambda x: np.array([x[0], x[1] ** 2, 3.0]), x3),
        ("object loops", lambda x: np.exp(np.array([x[0], x[1] * x[2]])) * np.asarray(x)[:2], x3),
    ]
    for name, function, domain in more:
        add(f"more {name}", function, domain)

    # -- numpy.linalg: well-conditioned matrices, symmetric positive definite where needed
    square = box((3, 3), -1, 1).map(lambda m: m + 3 * np.eye(3))
    stack = box((2, 3, 3), -1, 1).map(lambda m: m + 3 * np.eye(3))
    spd = box((3, 3), -1, 1).map(lambda m: m @ m.T + np.diag([1.0, 3.0, 5.0]))   # distinct eigenvalues
    linalg = [
        ("inv", np.linalg.inv, args(square)), ("inv of a stack", np.linalg.inv, args(stack)),
        ("solve matrix", np.linalg.solve, args(square, box((3, 2), -2, 2))),
        ("solve vector", np.linalg.solve, args(square, box((3,), -2, 2))),
        ("det", np.linalg.det, args(square)), ("det of a stack", np.linalg.det, args(stack)),
        ("slogdet", lambda a: np.linalg.slogdet(a)[1] * np.linalg.slogdet(a).sign, args(square)),
        ("cholesky", np.linalg.cholesky, args(spd)),
        ("cholesky reads the lower triangle", np.linalg.cholesky, args(spd.map(lambda m: m + np.triu(np.ones((3, 3)), 1)))),
        # LAPACK may flip an eigenvector's sign between nearby (diagonal) matrices: the squares do not
        ("eigh", lambda a: np.linalg.eigh(a)[0] * np.linalg.eigh(a).eigenvectors ** 2, args(spd)),
        ("eigvalsh", np.linalg.eigvalsh, args(spd)),
    ]
    for name, function, domain in linalg:
        add(f"linalg {name}", function, domain)


CASES = _cases()
IDS = [c.name for c in CASES]
assert len(set(IDS)) == len(IDS), "registry names must be unique"


# ----------------------------------------------------------------------------
# Coverage: everything core defines is reached by some case
# ----------------------------------------------------------------------------
def core_primitives():
    """Every Primitive defined in autodiff_ref.core and autodiff_ref.linalg, by name (read at call time)."""
    from autodiff_ref import linalg
    return {p.name: p for module in (core, linalg) for p in vars(module).values()
            if isinstance(p, core.Primitive)}


_TRACER_SKIP = {"__array_ufunc__", "__array_function__", "__slots__", "__array_priority__",
                "__hash__", "__doc__", "__module__", "__qualname__", "__firstlineno__",
                "__static_attributes__", "__dict__", "__weakref__",
                "__float__", "__int__", "item"}  # refuse on purpose: tests/test_errors.py checks the message


def tracer_methods():
    # x.sin(), x.exp(), ... (what numpy's object loops call) are the ufuncs, which have their own cases
    return sorted(k for k in vars(core.Tracer) if k not in _TRACER_SKIP and k not in core.OBJECT_LOOP_METHODS)


_FIND = settings(database=None, derandomize=True, phases=[Phase.generate], max_examples=200)


def _nontrivial(example):
    """Every argument has a nonzero entry and, if it has several, two different ones."""
    return all(np.any(np.asarray(a) != 0) and (np.size(a) < 2 or np.ptp(a) > 0) for a in example)


_EXAMPLES = {}


def _example(case):
    """One fixed, non-degenerate draw from the case's domain (seeded, no shrinking)."""
    if case.name not in _EXAMPLES:
        try:
            _EXAMPLES[case.name] = find(case.domain, _nontrivial, settings=_FIND)
        except NoSuchExample:
            _EXAMPLES[case.name] = find(case.domain, lambda _: True, settings=_FIND)
    return _EXAMPLES[case.name]


def _record_reached(monkeypatch):
    """Patch core so that evaluating cases records what they reach; returns the set of hits."""
    hits = set()

    def watch_impl(prim):
        impl = prim.impl

        def recorded(*a, **k):
            hits.add(("primitive", prim.name))
            return impl(*a, **k)
        monkeypatch.setattr(prim, "impl", recorded)

    for prim in core_primitives().values():
        watch_impl(prim)

    class Recording(dict):
        def __init__(self, kind, mapping):
            super().__init__(mapping)
            self.kind = kind

        def get(self, key, default=None):
            if key in self:
                hits.add((self.kind, key))
            return super().get(key, default)

    class RecordingSet(set):
        def __contains__(self, key):
            found = super().__contains__(key)
            if found:
                hits.add(("nondifferentiable ufunc", key))
            return found

    monkeypatch.setattr(core, "FUNCTIONS", Recording("numpy function", core.FUNCTIONS))
    monkeypatch.setattr(core, "UFUNC_PRIMITIVES", Recording("ufunc", core.UFUNC_PRIMITIVES))
    monkeypatch.setattr(core, "NONDIFFERENTIABLE_UFUNCS", RecordingSet(core.NONDIFFERENTIABLE_UFUNCS))

    for name in tracer_methods():
        attr = vars(core.Tracer)[name]
        if isinstance(attr, property):
            def getter(self, _f=attr.fget, _n=name):
                hits.add(("tracer method", _n))
                return _f(self)
            monkeypatch.setattr(core.Tracer, name, property(getter))
        elif callable(attr):
            def method(self, *a, _f=attr, _n=name, **k):
                hits.add(("tracer method", _n))
                return _f(self, *a, **k)
            monkeypatch.setattr(core.Tracer, name, method)
    return hits


def _name(obj):
    module = getattr(obj, "__module__", None) or "numpy"
    return f"{module}.{obj.__name__}"


def unreached(cases, monkeypatch):
    """What core defines that none of `cases`, evaluated on dual numbers, reaches."""
    wanted = {("primitive", n) for n in core_primitives()}
    wanted |= {("numpy function", f) for f in core.FUNCTIONS}
    wanted |= {("ufunc", u) for u in core.UFUNC_PRIMITIVES}
    wanted |= {("nondifferentiable ufunc", u) for u in core.NONDIFFERENTIABLE_UFUNCS}
    wanted |= {("tracer method", m) for m in tracer_methods()}
    examples = [_example(case) for case in cases]
    with monkeypatch.context() as patch:
        hits = _record_reached(patch)
        for case, example in zip(cases, examples):
            tangents = tuple(np.ones_like(np.asarray(a)) if np.ndim(a) else 1.0 for a in example)
            jvp(case.function, example, tangents)
    return sorted(f"{kind} {what if isinstance(what, str) else _name(what)}"
                  for kind, what in wanted - hits)


def test_registry_covers_everything_in_core(monkeypatch):
    missing = unreached(CASES, monkeypatch)
    assert not missing, ("no case in tests/test_primitives.py CASES reaches: " + ", ".join(missing)
                         + " — add a (name, function, domain) entry for each")


def test_coverage_check_reports_what_is_missing(monkeypatch):
    """It can fail: drop the cases of arctan, or add a primitive to core, and it names them."""
    without_arctan = [c for c in CASES if not c.name.startswith("arctan(")]
    assert unreached(without_arctan, monkeypatch) == ["primitive arctan", "ufunc numpy.arctan"]
    monkeypatch.setattr(core, "sinc", core.Primitive("sinc", np.sinc), raising=False)
    assert unreached(CASES, monkeypatch) == ["primitive sinc"]


#: The numpy of issue 10 ("the numpy people write"): each must be supported, and the coverage
#: test above then makes sure a case reaches it.
ISSUE_10_FUNCTIONS = [
    np.var, np.std, np.cumsum, np.cumprod, np.diff, np.sort, np.einsum, np.tensordot, np.kron,
    np.inner, np.outer, np.vdot, np.trace, np.diag, np.diagonal, np.triu, np.tril, np.linalg.inv,
    np.linalg.solve, np.linalg.det, np.linalg.slogdet, np.linalg.norm, np.linalg.cholesky,
    np.linalg.eigh, np.hstack, np.vstack, np.column_stack, np.dstack, np.tile, np.repeat, np.flip,
    np.roll, np.swapaxes, np.moveaxis, np.pad, np.atleast_1d, np.atleast_2d, np.atleast_3d,
    np.split, np.array_split, np.append, np.squeeze, np.expand_dims, np.sinc, np.round, np.clip,
    np.stack, np.where,
]
ISSUE_10_UFUNCS = [
    np.arcsin, np.arccos, np.arcsinh, np.arccosh, np.arctanh, np.log2, np.log10, np.exp2, np.hypot,
    np.reciprocal, np.mod, np.remainder, np.fmax, np.fmin, np.arctan2, np.cbrt, np.degrees, np.radians,
    np.logaddexp, np.logaddexp2,
]
ISSUE_10_NONDIFFERENTIABLE = [np.sign, np.floor, np.ceil, np.rint]   # zero derivative, stated
ISSUE_10_METHODS = ["sum", "mean", "var", "std", "max", "min", "prod", "T", "reshape", "transpose",
                    "dot", "clip", "cumsum", "astype", "copy", "squeeze", "flatten", "ravel"]


def test_the_numpy_of_issue_10_is_supported():
    import autodiff_ref  # noqa: F401  (registers functions.py and linalg.py)
    missing = [core._qualified(f) for f in ISSUE_10_FUNCTIONS if f not in core.FUNCTIONS]
    missing += [f"numpy.{u.__name__}" for u in ISSUE_10_UFUNCS if u not in core.UFUNC_PRIMITIVES]
    missing += [f"numpy.{u.__name__}" for u in ISSUE_10_NONDIFFERENTIABLE
                if u not in core.NONDIFFERENTIABLE_UFUNCS]
    missing += [f"ndarray.{m}" for m in ISSUE_10_METHODS if m not in vars(core.Tracer)]
    assert not missing, f"issue 10 lists these, autodiff_ref lacks them: {missing}"


def test_every_primitive_has_a_rule_in_both_modes():
    from autodiff_ref import dual, reverse
    for name, prim in core_primitives().items():
        assert prim in dual.jvp_rules, f"primitive {name} has no forward-mode (JVP) rule"
        assert prim in reverse.vjp_rules, f"primitive {name} has no reverse-mode (VJP) rule"
    assert set(dual.jvp_rules) == set(reverse.vjp_rules), "the two rule tables list different primitives"


# ----------------------------------------------------------------------------
# The checks, per case
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_primitive_both_modes_to_second_order(case, data):
    example = data.draw(case.domain, label="arguments")
    check_grads(case.function, *example, order=2, seed=IDS.index(case.name), name=case.name)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jacfwd_with_batched_directions_equals_jacrev_and_differences(case):
    """jacfwd pushes every unit direction at once (one trailing axis of directions)."""
    example = tuple(np.asarray(a, dtype=float) if np.ndim(a) else float(a) for a in _example(case))
    nums = tuple(range(len(example)))
    forward = jacfwd(case.function, argnums=nums)(*example)
    reverse = jacrev(case.function, argnums=nums)(*example)
    out_shape = np.shape(case.function(*example))
    for j, x in enumerate(example):
        assert np.shape(forward[j]) == out_shape + np.shape(x), f"jacfwd shape for argument {j}"
        assert np.shape(reverse[j]) == out_shape + np.shape(x), f"jacrev shape for argument {j}"
        tol = TOLERANCES["exact"]
        np.testing.assert_allclose(forward[j], reverse[j], rtol=tol.rtol, atol=tol.atol)
        # column by column against central differences along unit vectors
        columns = []
        for e in np.eye(np.size(x)):
            direction = tuple(e.reshape(np.shape(x)) if i == j else np.zeros_like(np.asarray(a))
                              for i, a in enumerate(example))
            columns.append(np.asarray(central_jvp(case.function, example, direction)))
        numeric = np.stack(columns, axis=-1).reshape(out_shape + np.shape(x)) if columns else forward[j]
        tol = TOLERANCES["central"]
        np.testing.assert_allclose(forward[j], numeric, rtol=tol.rtol,
                                   atol=tol.atol + tol.rtol * np.max(np.abs(numeric), initial=1.0))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_traced_values_equal_plain_numpy(case):
    """Dual and Box carry the value plain numpy computes, to the last bits: a contraction
    that numpy hands to BLAS (einsum, dot) may sum in another order from one call to the
    next (it depends on the arrays' memory alignment), so a few units in the last place
    of the result's scale are allowed, never more."""
    example = _example(case)
    expected = case.function(*example)
    tangents = tuple(np.zeros_like(np.asarray(a)) if np.ndim(a) else 0.0 for a in example)
    forward, _ = jvp(case.function, example, tangents)
    reverse, _ = vjp(case.function, *example)
    scale = float(np.max(np.abs(expected), initial=0.0))
    for got in (forward, reverse):
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_allclose(got, expected, rtol=0, atol=4 * np.finfo(float).eps * scale)
