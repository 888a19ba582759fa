r"""The numpy functions people write, composed from the primitives of :mod:`core`.

None of these needs a derivative rule of its own: each is a short composition
of primitives (indexing, reshape, transpose, concatenate, sum, multiply, ...),
so both modes, and every order, follow from the primitives' rules. Shapes,
axes and index arrays are computed from the *primal* values (they are
constants); the traced values only flow through primitives.

Registered in ``core.FUNCTIONS`` at import, next to the functions core defines.
"""
import numpy as np

from . import core
from .core import primal


def _ndim(x):
    return np.ndim(primal(x))


def _shape(x):
    return np.shape(primal(x))


def _axis(axis, ndim):
    return axis % ndim if ndim else 0


def _along(x, axis, index):
    """x[..., index, ...] with `index` (a slice or an integer array) at position `axis`."""
    return core.getitem(x, index=(slice(None),) * axis + (index,))


def _refuse(name, **options):
    for key, value in options.items():
        if value is not None and value is not np._NoValue:
            raise NotImplementedError(f"numpy.{name}(..., {key}=...) is not supported by autodiff_ref")


# ---------------------------------------------------------------- statistics, running sums
def var(x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **options):
    r"""Σ (x − mean)² / (n − ddof) over `axis`."""
    core._plain_options("var", dict(options, dtype=dtype, out=out))
    centred = x - np.mean(x, axis=axis, keepdims=True)
    n = np.size(primal(x)) // max(np.size(np.sum(primal(x), axis=axis)), 1)
    return core.sum_(centred * centred, axis=axis, keepdims=keepdims) / (n - ddof)


def std(x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **options):
    r"""sqrt(var): its derivative is inf where every entry is equal (sqrt at 0)."""
    return core.sqrt(var(x, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, **options))


def cumsum(x, axis=None, dtype=None, out=None):
    _refuse("cumsum", out=out)
    if axis is None:
        return core.cumsum(core.reshape(x, shape=(-1,)), axis=0)
    return core.cumsum(x, axis=_axis(axis, _ndim(x)))


def cumprod(x, axis=None, dtype=None, out=None):
    r"""Running products p_i = p_{i−1}·x_i, one multiply per entry (exact with zeros, every order)."""
    _refuse("cumprod", out=out)
    if axis is None:
        x, axis = core.reshape(x, shape=(-1,)), 0
    axis = _axis(axis, _ndim(x))
    n = _shape(x)[axis]
    products = [_along(x, axis, slice(0, 1))]
    for i in range(1, n):
        products.append(products[-1] * _along(x, axis, slice(i, i + 1)))
    return core.concatenate(*products, axis=axis) if products else x


def diff(x, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    _refuse("diff", prepend=prepend, append=append)
    axis = _axis(axis, _ndim(x))
    for _ in range(n):
        x = _along(x, axis, slice(1, None)) - _along(x, axis, slice(None, -1))
    return x


def sort(x, axis=-1, kind=None, order=None, **options):
    r"""x permuted by argsort of its primal: a piecewise-linear map (ties: either order, same values)."""
    if axis is None:
        x, axis = core.reshape(x, shape=(-1,)), 0
    axis = _axis(axis, _ndim(x))
    permutation = np.argsort(primal(x), axis=axis, kind="stable")
    index = tuple(permutation if a == axis else np.indices(permutation.shape)[a] for a in range(_ndim(x)))
    return core.getitem(x, index=index)


# ---------------------------------------------------------------- products
def tensordot(a, b, axes=2):
    r"""Σ over the paired axes: a's axes moved last, b's first, then one matrix product."""
    if isinstance(axes, int):
        axes_a, axes_b = list(range(_ndim(a) - axes, _ndim(a))), list(range(axes))
    else:
        axes_a, axes_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                          [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    axes_a = [i % _ndim(a) for i in axes_a]
    axes_b = [i % _ndim(b) for i in axes_b]
    free_a = [i for i in range(_ndim(a)) if i not in axes_a]
    free_b = [i for i in range(_ndim(b)) if i not in axes_b]
    sa, sb = _shape(a), _shape(b)
    k = int(np.prod([sa[i] for i in axes_a]))
    left = core.reshape(core.transpose(a, axes=tuple(free_a + axes_a)), shape=(-1, k))
    right = core.reshape(core.transpose(b, axes=tuple(axes_b + free_b)), shape=(k, -1))
    return core.reshape(core.matmul(left, right), shape=tuple(sa[i] for i in free_a) + tuple(sb[i] for i in free_b))


def inner(a, b):
    if _ndim(a) == 0 or _ndim(b) == 0:
        return core.multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def vdot(a, b):
    return core.matmul(core.reshape(a, shape=(-1,)), core.reshape(b, shape=(-1,)))


def kron(a, b):
    r"""kron(a, b)[i·m + k, ...] = a[i, ...]·b[k, ...]: an outer product with the axes interleaved."""
    n = max(_ndim(a), _ndim(b))
    sa = (1,) * (n - _ndim(a)) + _shape(a)
    sb = (1,) * (n - _ndim(b)) + _shape(b)
    left = core.reshape(a, shape=tuple(d for s in sa for d in (s, 1)))
    right = core.reshape(b, shape=tuple(d for s in sb for d in (1, s)))
    return core.reshape(left * right, shape=tuple(p * q for p, q in zip(sa, sb)))


def einsum(subscripts, *operands, **options):
    r"""Every operand laid out on one axis per index letter, multiplied, summed over the
    letters not in the output. Repeated letters within an operand (diagonals) and ``...``
    are not supported."""
    _refuse("einsum", **{k: v for k, v in options.items() if k != "optimize"})
    subscripts = subscripts.replace(" ", "")
    if "..." in subscripts:
        raise NotImplementedError("numpy.einsum with '...' is not supported by autodiff_ref; "
                                  "write the batch axes out as letters")
    inputs, arrow, output = subscripts.partition("->")
    inputs = inputs.split(",")
    if not arrow:  # numpy's implicit output: the letters used once, in alphabetical order
        letters = "".join(inputs)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(inputs) != len(operands):
        raise ValueError(f"numpy.einsum: {len(inputs)} subscripts for {len(operands)} operands")
    if any(len(set(term)) != len(term) for term in inputs):
        raise NotImplementedError("numpy.einsum with a letter repeated in one operand (a diagonal) is "
                                  "not supported by autodiff_ref; use np.diagonal")
    letters = output + "".join(sorted(set("".join(inputs)) - set(output)))
    sizes = {}
    for term, x in zip(inputs, operands):
        if len(term) != _ndim(x):
            raise ValueError(f"numpy.einsum: subscripts {term!r} for an operand of shape {_shape(x)}")
        for c, n in zip(term, _shape(x)):
            if sizes.setdefault(c, n) != n:
                raise ValueError(f"numpy.einsum: index {c!r} has sizes {sizes[c]} and {n}")
    product = None
    for term, x in zip(inputs, operands):
        order = sorted(range(len(term)), key=lambda i: letters.index(term[i]))
        x = core.transpose(x, axes=tuple(order)) if order != list(range(len(term))) else x
        laid_out = core.reshape(x, shape=tuple(sizes[c] if c in term else 1 for c in letters))
        product = laid_out if product is None else product * laid_out
    summed = tuple(range(len(output), len(letters)))
    if summed:
        product = core.sum_(product, axis=summed)
    return core.broadcast_to(product, shape=tuple(sizes[c] for c in output))


# ---------------------------------------------------------------- diagonals and triangles
def diagonal(a, offset=0, axis1=0, axis2=1):
    n = _ndim(a)
    axis1, axis2 = axis1 % n, axis2 % n
    rest = [i for i in range(n) if i not in (axis1, axis2)]
    moved = core.transpose(a, axes=tuple(rest + [axis1, axis2]))
    rows, cols = _shape(a)[axis1], _shape(a)[axis2]
    i = np.arange(max(0, -offset), min(rows, cols - offset)) if offset < cols else np.arange(0)
    return core.getitem(moved, index=(Ellipsis, i, i + offset))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _refuse("trace", out=out)
    return core.sum_(diagonal(a, offset, axis1, axis2), axis=-1)


def diag(v, k=0):
    if _ndim(v) == 2:
        return diagonal(v, k)
    if _ndim(v) != 1:
        raise ValueError("numpy.diag: the input must be 1-D or 2-D")
    n = _shape(v)[0] + abs(k)
    i = np.arange(_shape(v)[0])
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    return core.untake(v, index=(rows, cols), shape=(n, n))


def _triangle(m, mask):
    return core.where(mask, m, 0.0)   # where, not a product: an inf outside stays out


def triu(m, k=0):
    shape = _shape(m)[-2:]
    return _triangle(m, np.triu(np.ones(shape, dtype=bool), k))


def tril(m, k=0):
    shape = _shape(m)[-2:]
    return _triangle(m, np.tril(np.ones(shape, dtype=bool), k))


# ---------------------------------------------------------------- shapes: at least n-D, stacks, tiles
def _atleast(x, n):
    shape = _shape(x)
    if len(shape) >= n:
        return x
    if n == 3:
        shape = {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[len(shape)]
    else:
        shape = (1,) * (n - len(shape)) + shape
    return core.reshape(x, shape=shape)


def _each(n):
    def atleast(*arrays):
        out = [_atleast(a, n) for a in arrays]
        return out[0] if len(out) == 1 else out
    return atleast


def hstack(arrays, **options):
    arrays = [_atleast(a, 1) for a in arrays]
    return core.concatenate(*arrays, axis=0 if _ndim(arrays[0]) == 1 else 1)


def vstack(arrays, **options):
    return core.concatenate(*[_atleast(a, 2) for a in arrays], axis=0)


def dstack(arrays):
    return core.concatenate(*[_atleast(a, 3) for a in arrays], axis=2)


def column_stack(arrays):
    columns = [core.reshape(a, shape=(-1, 1)) if _ndim(a) < 2 else a for a in arrays]
    return core.concatenate(*columns, axis=1)


def append(arr, values, axis=None):
    if axis is None:
        return core.concatenate(core.reshape(arr, shape=(-1,)), core.reshape(values, shape=(-1,)), axis=0)
    return core.concatenate(arr, values, axis=axis % _ndim(arr))


def tile(x, reps):
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    n = max(len(reps), _ndim(x))
    reps = (1,) * (n - len(reps)) + reps
    shape = (1,) * (n - _ndim(x)) + _shape(x)
    spaced = core.reshape(x, shape=tuple(d for s in shape for d in (1, s)))
    copies = core.broadcast_to(spaced, shape=tuple(d for r, s in zip(reps, shape) for d in (r, s)))
    return core.reshape(copies, shape=tuple(r * s for r, s in zip(reps, shape)))


def repeat(x, repeats, axis=None):
    if axis is None:
        x, axis = core.reshape(x, shape=(-1,)), 0
    axis = _axis(axis, _ndim(x))
    return _along(x, axis, np.repeat(np.arange(_shape(x)[axis]), repeats))


def flip(x, axis=None):
    n = _ndim(x)
    axes = range(n) if axis is None else [a % n for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]
    return core.getitem(x, index=tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(n)))


def roll(x, shift, axis=None):
    if axis is None:
        return core.reshape(roll(core.reshape(x, shape=(-1,)), shift, 0), shape=_shape(x))
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,) * (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    for s, a in zip(shifts, axes):
        a = _axis(a, _ndim(x))
        x = _along(x, a, np.roll(np.arange(_shape(x)[a]), s))
    return x


def swapaxes(x, axis1, axis2):
    order = list(range(_ndim(x)))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return core.transpose(x, axes=tuple(order))


def pad(x, pad_width, mode="constant", **kwargs):
    r"""Constant padding puts x into a larger array (untake); edge, reflect, symmetric and wrap
    copy entries of x, so they are indexing with the index array numpy's own pad gives for
    ``arange``."""
    n = _ndim(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (n, 2))
    if mode == "constant":
        value = kwargs.pop("constant_values", 0)
        if kwargs or np.ndim(value):
            raise NotImplementedError("numpy.pad(mode='constant') on a traced value takes only one "
                                      "scalar constant_values")
        shape = tuple(s + lo + hi for s, (lo, hi) in zip(_shape(x), widths))
        index = tuple(slice(lo, lo + s) for s, (lo, _) in zip(_shape(x), widths))
        inside = core.untake(x, index=index, shape=shape)
        return inside if value == 0 else inside + np.pad(np.zeros(_shape(x)), widths, constant_values=value)
    if mode not in ("edge", "reflect", "symmetric", "wrap") or kwargs:
        raise NotImplementedError(f"numpy.pad(mode={mode!r}) with options {sorted(kwargs)} is not "
                                  "supported by autodiff_ref")
    for a in range(n):
        x = _along(x, a, np.pad(np.arange(_shape(x)[a]), tuple(widths[a]), mode=mode))
    return x


def _split(x, indices_or_sections, axis, name):
    axis = _axis(axis, _ndim(x))
    pieces = getattr(np, name)(np.arange(_shape(x)[axis]), indices_or_sections)
    return [_along(x, axis, slice(int(p[0]), int(p[-1]) + 1)) if len(p) else _along(x, axis, slice(0, 0))
            for p in pieces]


def split(x, indices_or_sections, axis=0):
    return _split(x, indices_or_sections, axis, "split")


def array_split(x, indices_or_sections, axis=0):
    return _split(x, indices_or_sections, axis, "array_split")


def sinc(x):
    r"""sin(πx)/(πx), 1 at 0. Near 0 (|x| < 1e-3) its Taylor polynomial
    1 − (πx)²/6 + (πx)⁴/120 takes over, so every derivative at 0 is right (−π²/3 the second)."""
    px = np.pi * x
    small = np.abs(primal(x)) < 1e-3
    safe = core.where(small, 1.0, px)   # the double where: no 0/0 in the branch not taken
    pp = px * px
    return core.where(small, 1 - pp / 6 + pp * pp / 120, core.sin(safe) / safe)


def _nondiff(f):
    return core._nondiff(f)


core.FUNCTIONS.update({
    np.var: var, np.std: std, np.cumsum: cumsum, np.cumprod: cumprod, np.diff: diff, np.sort: sort,
    np.einsum: einsum, np.tensordot: tensordot, np.kron: kron, np.inner: inner, np.vdot: vdot,
    np.trace: trace, np.diag: diag, np.diagonal: diagonal, np.triu: triu, np.tril: tril,
    np.hstack: hstack, np.vstack: vstack, np.column_stack: column_stack, np.dstack: dstack,
    np.tile: tile, np.repeat: repeat, np.flip: flip, np.roll: roll, np.swapaxes: swapaxes,
    np.pad: pad, np.atleast_1d: _each(1), np.atleast_2d: _each(2), np.atleast_3d: _each(3),
    np.split: split, np.array_split: array_split, np.append: append, np.sinc: sinc,
    np.round: _nondiff(np.round), np.around: _nondiff(np.around), np.fix: _nondiff(np.fix),
    np.argsort: _nondiff(np.argsort),
})
