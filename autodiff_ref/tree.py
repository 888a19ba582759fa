r"""Pytrees: nested tuples, lists and dicts whose leaves are numbers and arrays.

Every transformation accepts pytrees as inputs and returns them as outputs,
like JAX: ``grad(loss)({"W": W, "b": b}, x)`` returns ``{"W": ∂/∂W, "b": ∂/∂b}``.
A pytree is flattened to its list of leaves and a :class:`TreeDef` that
rebuilds it; the transformations work on the leaves only.

Nodes are tuples (named tuples too), lists and dicts (keys in sorted order,
as JAX does); ``None`` is a node with no leaves. Everything else is a leaf.
"""
from typing import NamedTuple

import numpy as np


class TreeDef(NamedTuple):
    """The shape of a pytree without its leaves. ``kind`` is None for a leaf."""
    kind: object          # None (a leaf), tuple, list, dict, type(None) or a namedtuple class
    keys: tuple           # the dict's keys, in order; () otherwise
    children: tuple       # one TreeDef per child

    @property
    def num_leaves(self):
        return 1 if self.kind is None else sum(c.num_leaves for c in self.children)

    def __str__(self):
        if self.kind is None:
            return "*"
        if self.kind is type(None):
            return "None"
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self.keys, self.children)) + "}"
        inner = ", ".join(str(c) for c in self.children)
        return f"[{inner}]" if self.kind is list else f"({inner}{',' if len(self.children) == 1 else ''})"


LEAF = TreeDef(None, (), ())


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def flatten(tree):
    """``(leaves, treedef)`` of a pytree, leaves in depth-first order."""
    if tree is not None and not isinstance(tree, (tuple, list, dict)):
        return [tree], LEAF
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    if tree is None:
        return TreeDef(type(None), (), ())
    if isinstance(tree, dict):
        keys = tuple(sorted(tree))
        return TreeDef(dict, keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if isinstance(tree, (tuple, list)):
        kind = type(tree) if _is_namedtuple(tree) else (list if isinstance(tree, list) else tuple)
        return TreeDef(kind, (), tuple(_flatten(c, leaves) for c in tree))
    leaves.append(tree)
    return LEAF


def unflatten(treedef, leaves):
    """The pytree of shape `treedef` with the given leaves (an iterable, in order)."""
    return _build(treedef, iter(leaves))


def _build(treedef, leaves):
    kind = treedef.kind
    if kind is None:
        return next(leaves)
    if kind is type(None):
        return None
    children = [_build(c, leaves) for c in treedef.children]
    if kind is dict:
        return dict(zip(treedef.keys, children))
    if kind is list:
        return children
    return kind(*children) if kind is not tuple else tuple(children)


def leaves_of(tree):
    return flatten(tree)[0]


def map_leaves(f, tree):
    """The pytree of the same shape with f applied to every leaf."""
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [f(x) for x in leaves])


# ----------------------------------------------------------------------------
# What every transformation does with the pytree f returns
# ----------------------------------------------------------------------------
def settle(out):
    """f's output with every ``np.array([...])`` of tracers made one tracer (while its
    transformation is still live, so the rows that build it can be recorded)."""
    from .core import from_objects, has_tracers
    if out.__class__ is not np.ndarray and not isinstance(out, (tuple, list, dict)):
        return out   # the common case, one tracer or number
    return map_leaves(lambda x: from_objects(x) if has_tracers(x) else x, out)


def aux_pair(out, who):
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{who}(..., has_aux=True): the function must return a pair (output, aux), "
                        f"got {type(out).__name__}")
    return out[0], out[1]


def strip(aux, level):
    """aux with the tracers of `level` replaced by their primal values (aux is not differentiated)."""
    from .core import Tracer
    return map_leaves(lambda x: x.value if isinstance(x, Tracer) and x.level == level else x, aux)


def explain_object_loop(error):
    """Re-raise `error`; numpy's message for np.sin of an np.array([...]) mixing traced values
    and plain numbers (an object array: numpy calls .sin() on each entry) becomes ours."""
    if "loop of ufunc does not support argument" not in str(error):
        raise error
    raise TypeError("a numpy function met an object array that mixes traced values and plain numbers "
                    "(np.array([x, 2.0]) builds one; numpy then calls .sin(), .exp(), ... on each "
                    "entry, and a plain number has none). Build it with np.stack([x, 2.0 + 0 * x]) "
                    "or np.concatenate, or apply the function before building the array") from error


def explain_write(error):
    """Re-raise `error`; numpy's message for ``y[0] = x`` with a traced x becomes ours."""
    from .core import dropped
    if "setting an array element with a sequence" not in str(error):
        raise error
    raise TypeError(dropped("Writing a traced value x into a numpy array (y[i] = x)")) from error
