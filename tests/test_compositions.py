"""Randomly generated compositions of primitives: forward == reverse == HIPS autograd.

Hypothesis writes small straight-line numpy programs (a Wengert list in all but
name): each step applies one operation to earlier values, chosen from
elementwise functions, broadcasting arithmetic, reductions with axis/keepdims,
indexing, reshape/transpose, stack/concatenate, where, maximum and matmul, and
the numpy of issue 10 (inverse and base-2/10 functions, cumsum/cumprod, diff,
sort, roll, tile, repeat, var, triangles, trace, einsum, hypot, arctan2,
fmax/fmin, mod). The
same program runs on autodiff_ref (jacfwd and jacrev) and on HIPS autograd
(``autograd.numpy``), an independent implementation; the three Jacobians must
agree to the tolerance of AD against AD.

Operations whose inputs must stay in a domain are written so that they do:
``log(1 + a²)`` rather than ``log a``, ``a / (1 + b²)`` rather than ``a / b``.
Ties in ``maximum``/``minimum``/``where`` and in ``max`` reductions, where the two
libraries legitimately differ (autograd splits the cotangent between equal inputs;
autodiff_ref gives it to numpy's choice, see ``core.takes_first``), are excluded.
"""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autodiff_ref import jacfwd, jacrev, jvp, vjp
from autodiff_ref.testing import assert_close

# autograd warns when a generated program ignores one of its inputs (then every Jacobian is 0).
pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input:UserWarning")

PROGRAMS = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# Every value has one of the shapes (), (1,), (3,), (2, 1), (2, 3), which broadcast pairwise.
BIG = 1e4  # programs whose values grow past this are discarded (exp of exp of ...)


class Ties(Exception):
    """A comparison met equal values: the derivative there is a convention."""


def _no_ties(a, b):
    a, b = np.broadcast_arrays(_value(a), _value(b))
    if np.any(np.abs(a - b) < 1e-6):
        raise Ties


def _no_tied_max(a, axis=-1):
    """Raise Ties when the maximum over `axis` is reached more than once."""
    v = np.asarray(_value(a))
    top = np.max(v, axis=axis, keepdims=True)
    if np.any(np.sum(np.abs(v - top) < 1e-6, axis=axis) > 1):
        raise Ties


def _value(v):
    from autodiff_ref.core import primal
    v = primal(v)
    return getattr(v, "_value", v)  # autograd's ArrayBox keeps the value in _value


def _last_axis(a):
    return np.shape(_value(a))[-1]


# Each operation: (arity, function(np_module, *operands)). np_module is numpy for
# autodiff_ref (which overloads numpy) and autograd.numpy for autograd.
UNARY = {
    "sin": lambda m, a: m.sin(a),
    "cos": lambda m, a: m.cos(a),
    "tanh": lambda m, a: m.tanh(a),
    "arctan": lambda m, a: m.arctan(a),
    "exp": lambda m, a: m.exp(m.tanh(a)),
    "log": lambda m, a: m.log(1.0 + a * a),
    "log1p": lambda m, a: m.log1p(a * a),
    "sqrt": lambda m, a: m.sqrt(a * a + 0.5),
    "square": lambda m, a: m.square(a),
    "negative": lambda m, a: -a,
    "abs": lambda m, a: m.abs(m.sin(a) + 2.0),
    "power-const": lambda m, a: (a * a + 0.5) ** 1.5,
    "power-int": lambda m, a: a ** 3,
    "sinh": lambda m, a: m.sinh(m.tanh(a)),
    "expm1": lambda m, a: m.expm1(m.sin(a)),
    "sum-axis0": lambda m, a: m.sum(a, axis=0) if m.ndim(a) else a,
    "mean-last-keepdims": lambda m, a: m.mean(a, axis=-1, keepdims=True) if m.ndim(a) else a,
    "max-last-keepdims": lambda m, a: (_no_tied_max(a), m.max(a, axis=-1, keepdims=True))[1] if m.ndim(a) else a,
    "min-all": lambda m, a: (_no_tied_max(-_value(a), axis=None), m.min(a))[1],
    "prod-axis0": lambda m, a: m.prod(m.cos(a) + 2.0, axis=0) if m.ndim(a) else a,
    "sum-all": lambda m, a: m.sum(a),
    "reverse": lambda m, a: a[..., ::-1] if m.ndim(a) else a,
    "first-row": lambda m, a: a[0] if m.ndim(a) else a,
    "fancy": lambda m, a: a[..., [0, 0, 2]] if m.ndim(a) and _last_axis(a) == 3 else a,
    "transpose-col": lambda m, a: m.transpose(a)[..., 0] if m.ndim(a) else a,
    "reshape-roundtrip": lambda m, a: m.reshape(m.reshape(a, (-1,))[::-1], m.shape(a)) if m.ndim(a) else a,
    # issue 10's numpy
    "arcsinh": lambda m, a: m.arcsinh(a),
    "arcsin": lambda m, a: m.arcsin(0.9 * m.tanh(a)),
    "arccos": lambda m, a: m.arccos(0.9 * m.tanh(a)),
    "arccosh": lambda m, a: m.arccosh(1.5 + a * a),
    "arctanh": lambda m, a: m.arctanh(0.9 * m.tanh(a)),
    "log2": lambda m, a: m.log2(1.0 + a * a),
    "log10": lambda m, a: m.log10(1.0 + a * a),
    "exp2": lambda m, a: m.exp2(m.tanh(a)),
    "reciprocal": lambda m, a: m.reciprocal(1.0 + a * a),
    "degrees-radians": lambda m, a: m.radians(m.degrees(a) * 2.0),
    "cumsum-last": lambda m, a: m.cumsum(a, axis=-1) if m.ndim(a) else a,
    # (autograd has no VJP for cumprod, flip and cbrt, and its pad needs mode=: those are in the registry only)
    "diff": lambda m, a: m.concatenate([a[..., :1], m.diff(a, axis=-1)], axis=-1) if m.ndim(a) else a,
    "sort": lambda m, a: m.sort(a) if m.ndim(a) == 1 else a,   # autograd sorts 1-D arrays only
    "roll": lambda m, a: m.roll(a, 1, axis=-1) if m.ndim(a) else a,
    "tile-sum": lambda m, a: m.sum(m.tile(a, (2, 1)) * m.cos(m.tile(a, (2, 1))), axis=0),
    "repeat-sum": lambda m, a: m.sum(m.repeat(a, 2, axis=0) ** 2, axis=0) if m.ndim(a) else a,
    "var-last": lambda m, a: m.var(a, axis=-1, keepdims=True) if m.ndim(a) else a,
    "triu": lambda m, a: m.triu(a) if m.ndim(a) == 2 else a,
    "tril": lambda m, a: m.tril(a, -1) + a if m.ndim(a) == 2 else a,
    "swapaxes-col": lambda m, a: m.swapaxes(a, 0, -1)[..., 0] if m.ndim(a) == 2 else a,
    "trace": lambda m, a: m.trace(a) if m.ndim(a) == 2 else a,
    "einsum-ij->j": lambda m, a: m.einsum("ij->j", a * a) if m.ndim(a) == 2 else a,
}
BINARY = {
    "add": lambda m, a, b: a + b,
    "subtract": lambda m, a, b: a - b,
    "multiply": lambda m, a, b: a * b,
    "divide": lambda m, a, b: a / (1.0 + b * b),
    "power": lambda m, a, b: (a * a + 0.5) ** m.sin(b),
    "maximum": lambda m, a, b: (_no_ties(a, b), m.maximum(a, b))[1],
    "minimum": lambda m, a, b: (_no_ties(a, b), m.minimum(a, b))[1],
    "where": lambda m, a, b: (_no_ties(a, b), m.where(a > b, a * b, b - a))[1],
    "matmul": lambda m, a, b: _matmul(m, a, b),
    "concatenate": lambda m, a, b: _join(m, a, b),
    "hypot": lambda m, a, b: m.hypot(1.0 + a * a, b),
    "arctan2": lambda m, a, b: m.arctan2(a, 1.5 + b * b),
    "fmax": lambda m, a, b: (_no_ties(a, b), m.fmax(a, b))[1],
    "fmin": lambda m, a, b: (_no_ties(a, b), m.fmin(a, b))[1],
    "mod": lambda m, a, b: m.mod(a, 1.5 + b * b),
}


def _matmul(m, a, b):
    """a @ b where the shapes allow it (vectors, matrix·vector), else a·b."""
    sa, sb = np.shape(_value(a)), np.shape(_value(b))
    if len(sa) >= 1 and len(sb) >= 1 and sa[-1] == sb[0] and len(sb) <= 2:
        out = a @ b
        return m.reshape(out, (-1, 1)) if np.ndim(_value(out)) == 1 and len(sa) == 2 else out
    return a * b


def _join(m, a, b):
    """Concatenate (or stack) a and b broadcast to a common shape, keeping that shape."""
    shape = np.broadcast_shapes(np.shape(_value(a)), np.shape(_value(b)))
    # (autograd's broadcast_to cannot add leading axes in reverse mode; a zeros
    # array of the common shape does the broadcasting in both libraries)
    zeros = np.zeros(shape)
    a, b = a + zeros, b + zeros
    if shape == ():
        both = m.stack([a, b])
        return both[0] * both[1]
    n = shape[-1]
    return m.concatenate([a, b], axis=-1)[..., 1:n + 1]


OPERATIONS = [(name, 1, f) for name, f in UNARY.items()] + [(name, 2, f) for name, f in BINARY.items()]

step = st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6))
programs = st.lists(step, min_size=1, max_size=8)
values = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
inputs = st.tuples(hnp.arrays(np.float64, (3,), elements=values),
                   hnp.arrays(np.float64, (2, 3), elements=values), values)


def run(program, m, x, y, s):
    """Evaluate the program with numpy-like module m; the output is the last value."""
    pool = [x, y, s]
    for (name, arity, op), i, j in program:
        operands = [pool[i % len(pool)], pool[j % len(pool)]][:arity]
        pool.append(op(m, *operands))
    return pool[-1]


def describe(program):
    lines, n = [], 3
    names = ["x", "y", "s"]
    for (name, arity, _), i, j in program:
        operands = [names[i % n], names[j % n]][:arity]
        names.append(f"v{n - 2}")
        lines.append(f"v{n - 2} = {name}({', '.join(operands)})")
        n += 1
    return "; ".join(lines)


def assume_finite(program, x, y, s):
    """The program's value, for programs that run without ties to finite values of moderate size."""
    try:
        value = run(program, np, x, y, s)
    except Ties:
        assume(False)
    assume(np.all(np.isfinite(value)) and np.max(np.abs(value), initial=0) < BIG)
    return value


@PROGRAMS
@given(program=programs, args=inputs)
def test_forward_equals_reverse_equals_autograd(program, args):
    x, y, s = args
    assume_finite(program, x, y, s)

    def f(*xys):
        return run(program, np, *xys)

    def g(*xys):
        return run(program, anp, *xys)

    where = describe(program)
    forward = jacfwd(f, argnums=(0, 1, 2))(x, y, s)
    reverse = jacrev(f, argnums=(0, 1, 2))(x, y, s)
    for k, name in enumerate("xys"):
        oracle = autograd.jacobian(g, k)(x, y, s)
        scale = max(1.0, float(np.max(np.abs(oracle), initial=0)))
        assume(scale < BIG)
        assert_close(forward[k], oracle, "exact", what=f"jacfwd vs autograd, d/d{name} of {where}")
        assert_close(reverse[k], oracle, "exact", what=f"jacrev vs autograd, d/d{name} of {where}")


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(program=programs, args=inputs, seed=st.integers(0, 2 ** 16))
def test_second_order_hessian_vector_products_match_autograd(program, args, seed):
    """⟨ū, J v⟩ differentiated again: forward-over-reverse against autograd's reverse-over-reverse."""
    x, y, s = args
    value = assume_finite(program, x, y, s)
    rng = np.random.default_rng(seed)
    u = rng.normal(size=np.shape(value))
    v = rng.normal(size=np.shape(x))

    def projected(xx):       # x ↦ ⟨ū, f(x, y, s)⟩, a scalar
        return np.sum(run(program, np, xx, y, s) * u)

    def projected_ag(xx):
        return anp.sum(run(program, anp, xx, y, s) * u)

    # Hessian-vector product of the scalar: jvp of the reverse-mode gradient.
    ours = jvp(lambda xx: vjp(projected, xx)[1](1.0)[0], (x,), (v,))[1]
    theirs = autograd.make_hvp(projected_ag)(x)[0](v)
    assume(np.max(np.abs(theirs), initial=0) < BIG)
    assert_close(ours, theirs, "exact", what=f"Hessian-vector product of ⟨ū, f⟩ for {describe(program)}")
