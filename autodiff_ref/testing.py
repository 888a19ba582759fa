r"""The gradient checker: one function, :func:`check_grads`, used by every test.

Like HIPS autograd's ``check_grads``, it checks derivative rules against two
independent facts instead of against hand-written answers.

**Forward mode** (JVP). The directional derivative along a random v, computed
by dual numbers, must match a central difference of f along v:

.. math:: J v \approx \frac{-f(x+2hv) + 8f(x+hv) - 8f(x-hv) + f(x-2hv)}{12h}

(the fourth-order stencil: truncation error :math:`O(h^4)`, so tolerances
can be tight enough to catch a rule that is off by 0.1 %). A tangent with
k directions must give the same k JVPs as k separate passes.

**Reverse mode** (VJP). For a random cotangent ū on the output and a random
direction v on the input, the *projection identity*

.. math:: \langle \bar u, J v\rangle = \langle J^\top \bar u, v\rangle

must hold: the right side comes from the reverse sweep, the left side once
from forward mode (an exact check, tight tolerance) and once from central
differences (so the two modes cannot agree on the same wrong rule).

**Higher order.** The checks are repeated on the derivative itself: on
:math:`(x, v) \mapsto J(x)\,v` (the JVP as a function, i.e. forward-over-
forward and reverse-over-forward) and on :math:`(x, \bar u) \mapsto J(x)^\top \bar u`
(the pullback as a function: forward-over-reverse, reverse-over-reverse). For a
scalar f with ū = 1 that is the gradient, whose derivatives are Hessian-vector
products.

Every tolerance lives in :data:`TOLERANCES`. A failure raises
:class:`GradCheckError` naming the mode, the order, the input, the expected
and the computed values.
"""
from typing import NamedTuple

import numpy as np

from .core import primal
from .dual import jvp
from .reverse import vjp


class Tolerance(NamedTuple):
    """Pass iff max|got − expected| ≤ atol + rtol · (scale of the compared values)."""
    rtol: float
    atol: float


#: The one table of tolerances (float64 throughout).
TOLERANCES = {
    # AD against the 4-point central difference with step h = STEP along a
    # random direction v: truncation ~ (h|v|)⁴|f⁽⁵⁾|/30 ≈ 3e-18·|v|⁴|f⁽⁵⁾|,
    # round-off ~ 1.5 ε|f|/h ≈ 3e-12·|f|. 1e-7 leaves room for large fifth
    # derivatives near the edge of a domain (log at 0.1: f⁽⁵⁾ = 2.4e6, and the
    # second-order check differentiates f' = 1/x), yet a rule off by a factor
    # 1.00001 fails.
    "central": Tolerance(rtol=1e-7, atol=1e-9),
    # AD against AD: the two sides of the projection identity, k directions
    # at once against one at a time, the primal outputs of jvp/vjp against f.
    # Only the order of floating-point operations differs.
    "exact": Tolerance(rtol=1e-11, atol=1e-12),
}

#: The finite-difference step h (the direction v is random normal, so |h v| ~ 1e-4).
STEP = 1e-4

#: The number of directions in the batched JVP check.
BATCH = 3

MODES = ("fwd", "rev")
_MODE_NAMES = {"fwd": "forward mode (JVP)", "rev": "reverse mode (VJP)"}


class GradCheckError(AssertionError):
    """A derivative disagreed with its oracle; the message says which and where."""


# ----------------------------------------------------------------------------
# Values are floats, numpy arrays, or tuples of them (several inputs/outputs).
# ----------------------------------------------------------------------------
def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _plain(x):
    """x without tracers, as a float or a float array (tuples elementwise)."""
    if isinstance(x, tuple):
        return tuple(_plain(e) for e in x)
    x = primal(x)
    return np.asarray(x, dtype=float) if np.ndim(x) else float(np.asarray(x, dtype=float))


def _random_like(rng, x, extra=()):
    shape = np.shape(x) + tuple(extra)
    return float(rng.normal()) if shape == () else rng.normal(size=shape)


def _axpy(a, v, x):
    """x + a·v, for tuples entrywise."""
    return tuple(xi + a * vi for xi, vi in zip(x, v))


def _inner(a, b):
    """⟨a, b⟩ summed over every entry of every tuple member, and Σ|aᵢbᵢ| (its scale)."""
    a, b = _as_tuple(a), _as_tuple(b)
    prods = [np.asarray(ai, dtype=float) * np.asarray(bi, dtype=float) for ai, bi in zip(a, b)]
    return float(sum(np.sum(p) for p in prods)), float(sum(np.sum(np.abs(p)) for p in prods))


def _max_abs(x):
    return max((float(np.max(np.abs(e))) if np.size(e) else 0.0) for e in _as_tuple(x))


def _sub(a, b):
    return tuple(np.asarray(ai, dtype=float) - np.asarray(bi, dtype=float)
                 for ai, bi in zip(_as_tuple(a), _as_tuple(b)))


def _shapes(x):
    return tuple(np.shape(e) for e in _as_tuple(x))


def _show(x):
    if isinstance(x, tuple):
        return "(" + ", ".join(_show(e) for e in x) + ")"
    if np.ndim(x) == 0:
        return repr(float(x))
    return np.array2string(np.asarray(x), precision=10, threshold=20, edgeitems=3, separator=", ")


# ----------------------------------------------------------------------------
# The checker
# ----------------------------------------------------------------------------
class _Context(NamedTuple):
    name: str      # the function being checked, for messages
    order: int     # 1 for f itself, 2 for its derivative, ...
    about: str     # what the function at this order is


def _fail(ctx, mode, what, inputs, expected, got, tol_name, extra=""):
    tol = TOLERANCES[tol_name]
    raise GradCheckError(
        f"check_grads({ctx.name}): {_MODE_NAMES.get(mode, mode)} failed at order {ctx.order}: {what}\n"
        f"  checking: {ctx.about}\n"
        f"  input:    {_show(inputs[0] if len(inputs) == 1 else inputs)}\n"
        f"{extra}"
        f"  expected: {_show(expected)}\n"
        f"  got:      {_show(got)}\n"
        f"  error:    {_max_abs(_sub(got, expected)) if _shapes(got) == _shapes(expected) else 'shapes differ'}"
        f" (tolerance: TOLERANCES[{tol_name!r}] = rtol {tol.rtol:g}, atol {tol.atol:g})")


def _close(got, expected, tol_name, scale=None):
    if _shapes(got) != _shapes(expected):
        return False
    tol = TOLERANCES[tol_name]
    scale = max(_max_abs(expected), _max_abs(got)) if scale is None else scale
    err = _max_abs(_sub(got, expected))
    return bool(np.isfinite(err)) and err <= tol.atol + tol.rtol * scale


def assert_close(got, expected, tolerance="exact", what="values"):
    """Raise GradCheckError unless max|got − expected| ≤ atol + rtol·max(|got|, |expected|).

    `tolerance` names a row of :data:`TOLERANCES`; tuples compare entrywise.
    """
    got, expected = _plain(got), _plain(expected)
    if not _close(got, expected, tolerance):
        tol = TOLERANCES[tolerance]
        error = _max_abs(_sub(got, expected)) if _shapes(got) == _shapes(expected) else \
            f"shapes differ: {_shapes(got)} vs {_shapes(expected)}"
        raise GradCheckError(f"{what} differ\n  expected: {_show(expected)}\n  got:      {_show(got)}\n"
                             f"  error:    {error} (tolerance: TOLERANCES[{tolerance!r}] = "
                             f"rtol {tol.rtol:g}, atol {tol.atol:g})")


def central_jvp(f, primals, tangents, h=STEP):
    r"""Jv by the fourth-order central difference of f along the direction v."""
    at = lambda a: _plain(f(*_axpy(a * h, tangents, primals)))
    f2, f1, fm1, fm2 = at(2), at(1), at(-1), at(-2)
    return tuple((-a + 8 * b - 8 * c + d) / (12 * h)
                 for a, b, c, d in zip(_as_tuple(f2), _as_tuple(f1), _as_tuple(fm1), _as_tuple(fm2))) \
        if isinstance(f2, tuple) else (-f2 + 8 * f1 - 8 * fm1 + fm2) / (12 * h)


def _check_fwd(f, primals, rng, ctx):
    value = _plain(f(*primals))
    tangents = tuple(_random_like(rng, x) for x in primals)
    out, tangent = jvp(f, primals, tangents)
    out, tangent = _plain(out), _plain(tangent)
    where = f"  direction v = {_show(tangents)}\n"
    if not _close(out, value, "exact"):
        _fail(ctx, "fwd", "the primal output of jvp differs from f(x)", primals, value, out, "exact")
    numeric = central_jvp(f, primals, tangents)
    if not _close(tangent, numeric, "central"):
        _fail(ctx, "fwd", "J v by dual numbers differs from central differences along v",
              primals, numeric, tangent, "central", where)

    # k directions in one pass must equal k passes with one direction each.
    batch = tuple(_random_like(rng, x, (BATCH,)) for x in primals)
    _, batched = jvp(f, primals, batch)
    batched = _plain(batched)
    one_by_one = [_plain(jvp(f, primals, tuple(b[..., j] for b in batch))[1]) for j in range(BATCH)]
    expected = tuple(np.stack([_as_tuple(o)[m] for o in one_by_one], axis=-1)
                     for m in range(len(_as_tuple(one_by_one[0]))))
    if not isinstance(one_by_one[0], tuple):
        expected = expected[0]
    if not _close(batched, expected, "exact"):
        _fail(ctx, "fwd", f"a tangent carrying {BATCH} directions (trailing axis) differs from "
              f"{BATCH} separate JVPs", primals, expected, batched, "exact",
              f"  directions = {_show(batch)}\n")


def _pull(f, primals, cotangent, tuple_valued):
    """Jᵀū, one cotangent per primal. vjp pulls back one output, so a tuple-valued
    f is pulled back through the scalar Σₖ⟨fₖ(x), ūₖ⟩ with the cotangent 1."""
    if tuple_valued:
        def scalarized(*xs):
            total = 0.0
            for o, u in zip(f(*xs), cotangent):
                total = total + np.sum(o * u)
            return total
        return vjp(scalarized, *primals)[1](1.0)
    return vjp(f, *primals)[1](cotangent)


def _random_cotangent(rng, value):
    return tuple(_random_like(rng, o) for o in value) if isinstance(value, tuple) \
        else _random_like(rng, value)


def _check_rev(f, primals, rng, ctx):
    value = _plain(f(*primals))
    tuple_valued = isinstance(value, tuple)
    cotangent = _random_cotangent(rng, value)
    if tuple_valued:
        pulled = _plain(_pull(f, primals, cotangent, tuple_valued))
    else:
        out, pullback = vjp(f, *primals)
        if not _close(_plain(out), value, "exact"):
            _fail(ctx, "rev", "the primal output of vjp differs from f(x)", primals, value, _plain(out), "exact")
        pulled = _plain(pullback(cotangent))
    if _shapes(pulled) != _shapes(primals):
        _fail(ctx, "rev", "the pullback's cotangents are not shaped like the inputs",
              primals, _shapes(primals), _shapes(pulled), "exact")
    direction = tuple(_random_like(rng, x) for x in primals)
    where = f"  direction v = {_show(direction)}\n  cotangent ū = {_show(cotangent)}\n"
    lhs_rev, scale_rev = _inner(pulled, direction)                       # ⟨Jᵀū, v⟩
    for tol_name, source, jv in (
            ("exact", "forward mode", lambda: _plain(jvp(f, primals, direction)[1])),
            ("central", "central differences", lambda: central_jvp(f, primals, direction))):
        rhs, scale = _inner(cotangent, jv())                             # ⟨ū, J v⟩
        if not _close(lhs_rev, rhs, tol_name, scale=max(scale, scale_rev)):
            _fail(ctx, "rev", f"the projection identity ⟨ū, J v⟩ = ⟨Jᵀū, v⟩ fails: "
                  f"expected is ⟨ū, J v⟩ with J v by {source}, got is ⟨Jᵀū, v⟩ by the reverse sweep",
                  primals, rhs, lhs_rev, tol_name, where)


def check_grads(f, *primals, modes=MODES, order=2, seed=0, name=None):
    r"""Check the derivatives of ``f`` at ``primals`` in both modes, up to `order`.

    ``f(*primals)`` returns a float, an array or a tuple of them. Raises
    :class:`GradCheckError` on the first disagreement; returns None otherwise.

    `modes` is a subset of ``("fwd", "rev")``. At order n > 1 the same checks
    run on the derivative maps (x, v) ↦ J(x)v (forward) and (x, ū) ↦ J(x)ᵀū
    (reverse), so the derivative code itself is differentiated. `seed` fixes
    the random directions and cotangents.
    """
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ValueError(f"check_grads: unknown modes {sorted(unknown)}; use a subset of {MODES}")
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order must be a positive integer, got {order!r}")
    if not primals:
        raise ValueError("check_grads: give at least one primal input, as in check_grads(f, x)")
    primals = tuple(_plain(p) for p in primals)
    rng = np.random.default_rng(seed)
    name = name or getattr(f, "__name__", "f")
    _check(f, primals, modes, order, rng, _Context(name, 1, f"{name}(x)"))


def _check(f, primals, modes, order, rng, ctx):
    if "fwd" in modes:
        _check_fwd(f, primals, rng, ctx)
    if "rev" in modes:
        _check_rev(f, primals, rng, ctx)
    if order == 1:
        return
    n = len(primals)
    nxt = ctx.order + 1
    if "fwd" in modes:
        direction = tuple(_random_like(rng, x) for x in primals)

        def jvp_map(*args):
            return jvp(f, args[:n], args[n:])[1]
        _check(jvp_map, primals + direction, modes, order - 1, rng,
               _Context(ctx.name, nxt, f"(x, v) ↦ J(x)·v, the JVP of [{ctx.about}]"))
    if "rev" in modes:
        value = _plain(f(*primals))
        tuple_valued = isinstance(value, tuple)
        cotangent = _random_cotangent(rng, value)

        def pullback_map(*args):
            us = args[n:] if tuple_valued else args[n]
            pulled = _pull(f, args[:n], us, tuple_valued)
            return pulled[0] if n == 1 else pulled
        _check(pullback_map, primals + _as_tuple(cotangent), modes, order - 1, rng,
               _Context(ctx.name, nxt, f"(x, ū) ↦ J(x)ᵀ·ū, the pullback of [{ctx.about}]"))
