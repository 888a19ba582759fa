r"""Lesson 3b's checks: cases, oracles and hints of Tasks 1.1–3.2.

A VJP rule of a primitive z = φ(x, y, …) takes the output cotangent ḡ = ∂L/∂z
and returns one cotangent per input, x̄ = ḡᵀ ∂φ/∂x, **shaped like that
input**. The oracle of every rule is :func:`autodiff_ref.vjp` of the same numpy
primitive; the oracle of a sweep is the same recursion run here with those
pullbacks; the oracle of a gradient is :func:`autodiff_ref.grad`.

Cases are tried simplest first; ``hidden=True`` adds more, drawn with another
seed. A task that builds on an earlier one (the elementwise rules on
``unbroadcast``, ``grad`` on ``backward`` and the rules, training on ``grad``)
first runs the earlier task's check quietly and, when it fails, says so
instead of blaming the task at hand.
"""
from typing import NamedTuple

import numpy as _np

import autodiff_ref as _ad
from autograder.checks import Named, Raised, as_floats, attempt, passed, same
from autograder.checks import CheckFailure

_asarray, _zeros, _shape = _np.asarray, _np.zeros, _np.shape
_broadcast_to, _argsort = _np.broadcast_to, _np.argsort
_float, _len, _tuple, _range, _isinstance = float, len, tuple, range, isinstance
VISIBLE_SEED, HIDDEN_SEED = 0, 1


def _rng(hidden, salt):
    return _np.random.default_rng(1000 * (HIDDEN_SEED if hidden else VISIBLE_SEED) + salt)


def _draw(rng, shape, low=-2.0, high=2.0):
    return _np.round(rng.uniform(low, high, size=shape), 3)


# ==========================================================================
# The primitives of the lesson's tape, on plain numpy values
# ==========================================================================
def _sum(x, axis=None, keepdims=False):
    return _np.sum(x, axis=axis, keepdims=keepdims)


#: op -> its numpy implementation: the same table as the notebook's FORWARD.
FORWARD = {
    "add": _np.add, "sub": _np.subtract, "mul": _np.multiply, "neg": _np.negative,
    "exp": _np.exp, "tanh": _np.tanh, "matmul": _np.matmul, "sum": _sum,
    "getitem": lambda x, index: x[index],
    "reshape": lambda x, shape: _np.reshape(x, shape),
    "transpose": lambda x, axes=None: _np.transpose(x, axes),
}


def oracle_vjp(op, g, *args, **params):
    """The cotangents of every argument of `op` at `args`, by autodiff_ref."""
    f = FORWARD[op]
    _, pullback = _ad.vjp(lambda *xs: f(*xs, **params), *[_asarray(a, dtype=float) for a in args])
    return _tuple(_asarray(c, dtype=float) for c in pullback(_asarray(g, dtype=float)))


def oracle_unbroadcast(g, shape):
    """ḡ summed back to `shape`: the VJP of broadcasting x (of `shape`) to ḡ's shape."""
    g = _asarray(g, dtype=float)
    _, pullback = _ad.vjp(lambda x: _np.broadcast_to(x, g.shape), _zeros(shape))
    return _asarray(pullback(g)[0], dtype=float)


#: The oracle rules, one per op, in the notebook's signature rule(g, *args, **params).
ORACLE_RULES = {op: Named(f"the reference VJP of {op}", (lambda op: lambda g, *a, **p: oracle_vjp(op, g, *a, **p))(op))
                for op in FORWARD}


def _cotangents(got, n):
    """The student's cotangents as float arrays, or None unless a tuple/list of n numeric values."""
    if not _isinstance(got, (tuple, list)) or _len(got) != n:
        return None
    out = [as_floats(c) for c in got]
    return None if any(c is None for c in out) else out


def _tuple_hint(got, n):
    if _isinstance(got, Raised):
        return "your rule raised an exception on this input"
    if not _isinstance(got, (tuple, list)):
        return (f"return a tuple with one cotangent per input: ({', '.join(('x̄', 'ȳ')[:n]) if n <= 2 else '…'}"
                f"{',' if n == 1 else ''})")
    if _len(got) != n:
        return f"one cotangent per input: {n} here, you returned {_len(got)}"
    return "return numbers (numpy arrays), one per input"


def _shape_text(s):
    return "()" if s == () else str(_tuple(s))


# ==========================================================================
# Task 1.1: unbroadcast
# ==========================================================================
class Broadcast(NamedTuple):
    g_shape: tuple
    shape: tuple

    def __repr__(self):
        return f"ḡ of shape {_shape_text(self.g_shape)}, x of shape {_shape_text(self.shape)}"


_BROADCASTS = [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((2, 3), ()),
               ((4, 2, 3), (2, 1)), ((4, 2, 3), (1, 1, 3))]
_BROADCASTS_HIDDEN = _BROADCASTS + [((3, 3), (3, 1)), ((3, 3), (1, 3)), ((2, 3, 4), (3, 1)),
                                    ((2, 3, 4), (2, 1, 4)), ((5,), (1,)), ((2, 1, 4), (1, 1)),
                                    ((3, 2), (1,)), ((2, 2, 2), (2, 2, 2))]


def _unbroadcast_hint(case, g, expected, got):
    out = as_floats(got)
    if out is None:
        return "return the summed cotangent as a numpy array"
    if out.shape == g.shape and case.shape != g.shape:
        return ("the cotangent was not summed back: x̄ must have x's shape "
                f"{_shape_text(case.shape)} — sum over the axes broadcasting added in front, and over "
                "the axes where x has length 1")
    if out.shape != expected.shape and out.size == expected.size:
        return (f"keepdims lost: the sum has the right numbers but shape {_shape_text(out.shape)}, "
                f"not {_shape_text(case.shape)} — sum the axes where x has length 1 with keepdims=True")
    if out.shape != expected.shape:
        return (f"x̄ must have x's shape {_shape_text(case.shape)}: sum the leading axes away, then "
                "the stretched axes (length 1 in x) with keepdims=True")
    count = g.size // max(expected.size, 1)
    if count > 1 and same(out, expected / count, "recognise"):
        return "the copies' cotangents are added (each copy of xᵢ contributes ḡ), not averaged"
    return "sum ḡ over every axis along which x was copied"


def _broadcast_cases(hidden):
    rng = _rng(hidden, 11)
    return [(Broadcast(gs, s), _draw(rng, gs)) for gs, s in (_BROADCASTS_HIDDEN if hidden else _BROADCASTS)]


def _run_unbroadcast(unbroadcast, hidden):
    """None when every case passes, else the CheckFailure of the first that does not."""
    for case, g in _broadcast_cases(hidden):
        expected = oracle_unbroadcast(g, case.shape)
        got = attempt(unbroadcast, g, case.shape)
        if not same(got, expected):
            return CheckFailure("unbroadcast(g, shape)", inputs={"g": g, "shape": case.shape},
                                expected=expected, got=got,
                                hint=None if _isinstance(got, Raised) else _unbroadcast_hint(case, g, expected, got))
    return None


def check_unbroadcast(unbroadcast, *, hidden=False):
    """Task 1.1: ``unbroadcast(g, shape)`` sums g back to `shape` (the VJP of broadcasting)."""
    failure = _run_unbroadcast(unbroadcast, hidden)
    if failure:
        raise _not_done_or(failure)
    passed("unbroadcast(g, shape): ḡ summed back over the broadcast axes",
           _len(_BROADCASTS_HIDDEN if hidden else _BROADCASTS))


def _not_done_or(failure):
    if _isinstance(failure.got, Raised) and failure.got.not_done:
        failure.hint = "this task is not done yet: replace `raise NotImplementedError()` with your code"
        return CheckFailure(failure.what, inputs=failure.inputs, expected=failure.expected, got=failure.got,
                            hint=failure.hint)
    return failure


def _earlier(failure, task, name):
    """The failure of a task that depends on an earlier one which fails its own check; the hint
    names the first broken piece down the chain (a rule, under backward, under grad)."""
    root, why = getattr(failure, "root", (name, failure.hint or "see its cell"))
    out = CheckFailure(f"{task} uses your {name}, which fails its own check", inputs=failure.inputs,
                       expected=failure.expected, got=failure.got,
                       hint=f"fix {root} first (its check says: {why})")
    out.root = (root, why)
    return out


# ==========================================================================
# Task 1.2: elementwise rules, with broadcasting
# ==========================================================================
BINARY, UNARY = ("add", "sub", "mul"), ("neg", "exp", "tanh")
_PAIRS = [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (2, 1)), ((2, 1), (1, 3)), ((), (2, 3))]
_PAIRS_HIDDEN = _PAIRS + [((3, 1), (3, 4)), ((4,), (2, 3, 4)), ((2, 3, 1), (1, 4)), ((1,), (5,))]
_SINGLES = [(3,), (2, 3)]
_SINGLES_HIDDEN = _SINGLES + [(), (2, 1, 3)]


class RuleCase(NamedTuple):
    op: str
    args: tuple
    params: dict
    g: object

    def inputs(self):
        names = "xy" if _len(self.args) == 2 else "x"
        out = {"g": self.g, **dict(zip(names, self.args)), **self.params}
        return out

    def call(self, rule):
        return attempt(rule, self.g, *self.args, **self.params)


def _rule_case(rng, op, args, **params):
    value = FORWARD[op](*args, **params)
    return RuleCase(op, _tuple(args), params, _draw(rng, _shape(value)))


def _elementwise_cases(hidden):
    rng = _rng(hidden, 12)
    cases = []
    for op in BINARY:
        for sx, sy in (_PAIRS_HIDDEN if hidden else _PAIRS):
            cases.append(_rule_case(rng, op, (_draw(rng, sx), _draw(rng, sy))))
    for op in UNARY:
        for s in (_SINGLES_HIDDEN if hidden else _SINGLES):
            cases.append(_rule_case(rng, op, (_draw(rng, s, -1.5, 1.5),)))
    return cases


BARS, NAMES = ("x̄", "ȳ"), ("x", "y")
_FORMULA = {"add": "x̄ = ḡ, ȳ = ḡ", "sub": "x̄ = ḡ, ȳ = −ḡ", "mul": "x̄ = ḡ·y, ȳ = ḡ·x",
            "neg": "x̄ = −ḡ", "exp": "x̄ = ḡ·eˣ", "tanh": "x̄ = ḡ·(1 − tanh²x)"}


def _elementwise_hint(case, expected, got):
    n = _len(expected)
    cts = _cotangents(got, n)
    if cts is None:
        return _tuple_hint(got, n)
    g = _asarray(case.g, dtype=float)
    for k, (c, want, x) in enumerate(zip(cts, expected, case.args)):
        if c.shape == g.shape and want.shape != g.shape:
            return (f"gradient not summed over the broadcast axes: {BARS[k]} has shape "
                    f"{_shape_text(c.shape)}, the shape of the output, but {NAMES[k]} has shape "
                    f"{_shape_text(want.shape)} — pass it through unbroadcast(…, {NAMES[k]}.shape)")
        if c.shape != want.shape:
            return f"{BARS[k]} must have {NAMES[k]}'s shape {_shape_text(want.shape)}"
    for k, (c, want) in enumerate(zip(cts, expected)):
        if same(c, want):
            continue
        if same(c, -want, "recognise"):
            return f"the sign of {BARS[k]}: {_FORMULA[case.op]}"
        if case.op == "mul":
            own = oracle_unbroadcast(g * case.args[k], _shape(case.args[k]))
            if same(c, own, "recognise"):
                return (f"{_FORMULA['mul']}: the cotangent of one factor is ḡ times the OTHER factor")
        if case.op == "exp" and same(c, g * case.args[0], "recognise"):
            return f"{_FORMULA['exp']}: multiply by the value eˣ, not by x"
        if case.op == "tanh" and same(c, g * (1 - case.args[0] ** 2), "recognise"):
            return f"{_FORMULA['tanh']}: square tanh(x), not x"
        if same(c, _broadcast_ok(g, want), "recognise"):
            return f"multiply by the output cotangent ḡ: {_FORMULA[case.op]}"
        return f"{BARS[k]} is wrong: {_FORMULA[case.op]}"
    return None


def _broadcast_ok(g, want):
    """ḡ summed to `want`'s shape (what a rule returning ḡ itself would give)."""
    return oracle_unbroadcast(g, want.shape)


def _check_rules(rules, cases, what, hint):
    for case in cases:
        expected = oracle_vjp(case.op, case.g, *case.args, **case.params)
        got = case.call(rules[case.op])
        cts = _cotangents(got, _len(expected))
        if cts is None or not all(same(c, e) for c, e in zip(cts, expected)):
            raise _not_done_or(CheckFailure(f"{what}: the rule {case.op}_vjp", inputs=case.inputs(),
                                            expected=expected, got=got,
                                            hint=hint(case, expected, got)))
    return _len(cases)


def check_elementwise_rules(unbroadcast, add_vjp, sub_vjp, mul_vjp, neg_vjp, exp_vjp, tanh_vjp, *, hidden=False):
    """Task 1.2: each rule returns one cotangent per input, summed back to the input's shape."""
    rules = dict(add=add_vjp, sub=sub_vjp, mul=mul_vjp, neg=neg_vjp, exp=exp_vjp, tanh=tanh_vjp)
    try:
        n = _check_rules(rules, _elementwise_cases(hidden), "Task 1.2", _elementwise_hint)
    except CheckFailure as failure:
        earlier = _run_unbroadcast(unbroadcast, hidden) if not (
            _isinstance(failure.got, Raised) and failure.got.not_done) else None
        raise (_earlier(earlier, "Task 1.2", "unbroadcast (Task 1.1)") if earlier else failure) from None
    passed("add, sub, mul, neg, exp, tanh: one cotangent per input, shaped like it", n)


# ==========================================================================
# Task 1.3: sum with axis and keepdims
# ==========================================================================
_SUMS = [((3,), None, False), ((2, 3), None, False), ((2, 3), 0, False), ((2, 3), 1, False),
         ((2, 3), 1, True), ((2, 3, 4), (0, 2), False), ((2, 3, 4), -1, True)]
_SUMS_HIDDEN = _SUMS + [((3, 3), 1, False), ((3, 3), 0, True), ((2, 3, 4), 1, False), ((2, 3, 4), (1, 2), True),
                        ((4,), 0, True), ((2, 2, 3), None, True), ((2, 3, 4), (0, -1), False)]


def _sum_cases(hidden):
    rng = _rng(hidden, 13)
    return [_rule_case(rng, "sum", (_draw(rng, s),), axis=axis, keepdims=keep)
            for s, axis, keep in (_SUMS_HIDDEN if hidden else _SUMS)]


def _sum_hint(case, expected, got):
    g, keep = _asarray(case.g, dtype=float), case.params["keepdims"]
    lost = ("keepdims lost: with keepdims=False the summed axes are gone from ḡ; put them back as "
            "length-1 axes (np.expand_dims(g, axis), or reshape) before broadcasting ḡ to x's shape")
    if _isinstance(got, Raised) and not keep and case.params["axis"] is not None:
        return lost
    cts = _cotangents(got, 1)
    if cts is None:
        return _tuple_hint(got, 1)
    (c,), (want,) = cts, expected
    if not keep and case.params["axis"] is not None:
        try:
            naive = _broadcast_to(g, want.shape)
        except ValueError:
            naive = None
        if naive is None or same(c, naive, "recognise"):
            return lost
    if c.shape != want.shape:
        return f"x̄ must have x's shape {_shape_text(want.shape)}: every xᵢ in a sum gets the cotangent of its sum"
    return "x̄ᵢ = ḡ of the sum xᵢ went into: broadcast ḡ back over the summed axes"


def check_sum_rule(sum_vjp, *, hidden=False):
    """Task 1.3: x̄ = ḡ broadcast back over the summed axes, with or without keepdims."""
    n = _check_rules({"sum": sum_vjp}, _sum_cases(hidden), "Task 1.3", _sum_hint)
    passed("sum_vjp: axis=None, int or tuple, keepdims True or False", n)


# ==========================================================================
# Task 1.4: matmul
# ==========================================================================
_MATMULS = [((2, 2), (2, 2)), ((2, 3), (3, 4)), ((3, 2), (2,)), ((3,), (3, 2))]
_MATMULS_HIDDEN = _MATMULS + [((3, 3), (3, 3)), ((4, 2), (2, 3)), ((1, 3), (3, 1)), ((2, 4), (4,)),
                              ((4,), (4, 3)), ((3, 1), (1, 2))]


def _matmul_cases(hidden):
    rng = _rng(hidden, 14)
    return [_rule_case(rng, "matmul", (_draw(rng, sa), _draw(rng, sb))) for sa, sb in
            (_MATMULS_HIDDEN if hidden else _MATMULS)]


def _matmul_hint(case, expected, got):
    cts = _cotangents(got, 2)
    if cts is None:
        return _tuple_hint(got, 2)
    g, (a, b) = _asarray(case.g, dtype=float), case.args
    bars = ("ā", "b̄")
    rule = "ā = ḡ·bᵀ (ḡ is m×p, bᵀ is p×n: ā is m×n like a) and b̄ = aᵀ·ḡ (n×m · m×p: b̄ is n×p like b)"
    for k, (c, want) in enumerate(zip(cts, expected)):
        if same(c, want):
            continue
        if c.shape != want.shape:
            if c.shape == want.T.shape and same(c, want.T, "recognise"):
                return f"wrong transpose in matmul's VJP: {bars[k]} came out transposed; {rule}"
            return f"{bars[k]} must have {'ab'[k]}'s shape {_shape_text(want.shape)}: {rule}"
        if a.ndim == 2 and b.ndim == 2:
            wrong = [g @ b, b @ g, b.T @ g] if k == 0 else [a @ g, g @ a, g.T @ a]
            if any(w.shape == c.shape and same(c, w, "recognise") for w in wrong) or same(c, want.T, "recognise"):
                return f"wrong transpose in matmul's VJP ({bars[k]}): {rule}"
        if a.ndim == 1 or b.ndim == 1:
            return ("a vector operand: treat it as a column (b of shape (n,)) or a row (a of shape (n,)): "
                    "ā = np.outer(ḡ, b) when b is a vector, b̄ = np.outer(a, ḡ) when a is a vector")
        return f"{bars[k]} is wrong: {rule}"
    return None


def check_matmul_rule(matmul_vjp, *, hidden=False):
    """Task 1.4: ā = ḡ bᵀ and b̄ = aᵀ ḡ (with a vector as either operand)."""
    n = _check_rules({"matmul": matmul_vjp}, _matmul_cases(hidden), "Task 1.4", _matmul_hint)
    passed("matmul_vjp: both cotangents, matrices and vectors", n)


# ==========================================================================
# Task 1.5: indexing (repeated indices accumulate)
# ==========================================================================
def _index_cases(hidden):
    rng = _rng(hidden, 15)
    table = [((5,), (_np.array([0, 2]),)), ((5,), (_np.array([1, 1, 3]),)),
             ((4, 3), (_np.array([2, 0, 2]),)), ((3, 3), (_np.array([0, 1, 0]), _np.array([2, 2, 2])))]
    if hidden:
        table += [((6,), (_np.array([5, 5, 5, 0]),)), ((4, 2), (_np.array([3, 3]),)),
                  ((3, 4), (_np.array([1, 2, 1, 1]), _np.array([0, 3, 0, 2]))), ((4,), (_np.array([2]),))]
    cases = []
    for s, index in table:
        index = index[0] if _len(index) == 1 else index
        cases.append(_rule_case(rng, "getitem", (_draw(rng, s),), index=index))
    return cases


def _getitem_hint(case, expected, got):
    cts = _cotangents(got, 1)
    if cts is None:
        return _tuple_hint(got, 1)
    (c,), (want,) = cts, expected
    if c.shape != want.shape:
        return f"x̄ must have x's shape {_shape_text(want.shape)}: start from zeros shaped like x"
    assigned = _zeros(want.shape)
    assigned[case.params["index"]] = case.g
    if same(c, assigned, "recognise"):
        return ("repeated indices must accumulate: `x̄[index] = ḡ` (and `x̄[index] += ḡ`, which numpy "
                "buffers) keeps only one contribution of an index that appears twice — "
                "use np.add.at(x̄, index, ḡ)")
    return "x̄ is zeros shaped like x, with ḡ added at the positions the index read"


def check_getitem_rule(getitem_vjp, *, hidden=False):
    """Task 1.5: x̄ = zeros, then ḡ added at the indexed positions (np.add.at)."""
    n = _check_rules({"getitem": getitem_vjp}, _index_cases(hidden), "Task 1.5", _getitem_hint)
    passed("getitem_vjp: integer-array indices, repeated ones accumulate", n)


# ==========================================================================
# Task 1.6: reshape and transpose
# ==========================================================================
def _shape_cases(hidden):
    rng = _rng(hidden, 16)
    reshapes = [((6,), (2, 3)), ((2, 3), (3, 2)), ((2, 3, 4), (4, 6))]
    transposes = [((2, 3), None), ((2, 3), (1, 0)), ((2, 3, 4), (1, 2, 0))]
    if hidden:
        reshapes += [((3, 4), (12,)), ((2, 6), (3, 2, 2)), ((4, 3), (3, -1))]
        transposes += [((2, 3, 4), (2, 0, 1)), ((2, 3, 4), None), ((2, 3, 4, 5), (3, 1, 0, 2))]
    return ([_rule_case(rng, "reshape", (_draw(rng, s),), shape=t) for s, t in reshapes] +
            [_rule_case(rng, "transpose", (_draw(rng, s),), axes=a) for s, a in transposes])


def _shape_hint(case, expected, got):
    cts = _cotangents(got, 1)
    if cts is None:
        return _tuple_hint(got, 1)
    (c,), (want,) = cts, expected
    g = _asarray(case.g, dtype=float)
    if case.op == "transpose":
        axes = case.params["axes"]
        if axes is not None and c.shape == g.transpose(axes).shape and same(c, g.transpose(axes), "recognise"):
            return ("transposed with `axes` again: undo the permutation with its inverse, "
                    "np.transpose(ḡ, np.argsort(axes))")
        return "x̄ is ḡ with the permutation undone: np.transpose(ḡ, np.argsort(axes)) (axes=None: ḡ.T)"
    if c.shape == g.T.shape and same(c, g.T, "recognise"):
        return "a reshape is not a transpose: the entries keep their order, so reshape ḡ back to x's shape"
    return "x̄ is ḡ reshaped back to x's shape"


def check_shape_rules(reshape_vjp, transpose_vjp, *, hidden=False):
    """Task 1.6: reshape and transpose move entries without changing them: undo the move on ḡ."""
    n = _check_rules({"reshape": reshape_vjp, "transpose": transpose_vjp}, _shape_cases(hidden),
                     "Task 1.6", _shape_hint)
    passed("reshape_vjp, transpose_vjp", n)


# ==========================================================================
# Task 2.1: backward over an array tape
# ==========================================================================
class Program(NamedTuple):
    """A program as tape entries: inputs, then (op, arguments, params) with an argument either
    ('v', k) — entry k — or a constant array; `output` is the entry of y; entries after it are dead."""
    name: str
    inputs: tuple
    steps: tuple
    output: int

    def __repr__(self):
        return f"{self.name} (x of shape{'s' if _len(self.inputs) > 1 else ''} " + \
            ", ".join(_shape_text(_shape(x)) for x in self.inputs) + ")"


def _v(k):
    return ("v", k)


def _is_entry(a):
    return _isinstance(a, tuple) and _len(a) == 2 and a[0] == "v"


def _programs(hidden):
    rng = _rng(hidden, 21)
    A, b = _draw(rng, (4, 3)), _draw(rng, (4,))
    W, c = _draw(rng, (3, 2)), _draw(rng, (2,))
    progs = [
        Program("y = sum(x)", (_draw(rng, (3,)),), (("sum", (_v(0),), {}),), 1),
        Program("y = sum(x * x)", (_draw(rng, (3,)),),
                (("mul", (_v(0), _v(0)), {}), ("sum", (_v(1),), {})), 2),
        Program("y = sum((A @ w − b)²)", (_draw(rng, (3,)),),
                (("matmul", (A, _v(0)), {}), ("sub", (_v(1), b), {}), ("mul", (_v(2), _v(2)), {}),
                 ("sum", (_v(3),), {})), 4),
        Program("y = sum(tanh(X @ W + c)), c broadcast over rows", (_draw(rng, (4, 3)), W, c),
                (("matmul", (_v(0), _v(1)), {}), ("add", (_v(3), _v(2)), {}), ("tanh", (_v(4),), {}),
                 ("sum", (_v(5),), {})), 6),
        Program("y = sum(x[[0, 2, 0]] · e^x[[1, 1, 2]]) then two entries after y", (_draw(rng, (3,)),),
                (("getitem", (_v(0),), {"index": _np.array([0, 2, 0])}),
                 ("getitem", (_v(0),), {"index": _np.array([1, 1, 2])}), ("exp", (_v(2),), {}),
                 ("mul", (_v(1), _v(3)), {}), ("sum", (_v(4),), {}),
                 ("neg", (_v(5),), {}), ("mul", (_v(6), _v(0)), {})), 5),
    ]
    if hidden:
        X = _draw(rng, (5, 2, 3))
        progs += [
            Program("y = sum(sum(x, axis=1, keepdims=True) * x)", (_draw(rng, (2, 3)),),
                    (("sum", (_v(0),), {"axis": 1, "keepdims": True}), ("mul", (_v(1), _v(0)), {}),
                     ("sum", (_v(2),), {})), 3),
            Program("y = sum(reshape(transpose(x), (6,)) * u)", (_draw(rng, (2, 3)), _draw(rng, (6,))),
                    (("transpose", (_v(0),), {"axes": None}), ("reshape", (_v(2),), {"shape": (6,)}),
                     ("mul", (_v(3), _v(1)), {}), ("sum", (_v(4),), {})), 5),
            Program("y = sum(transpose(X, (1, 2, 0)) @ w) − sum(w)", (X, _draw(rng, (5,))),
                    (("transpose", (_v(0),), {"axes": (1, 2, 0)}), ("matmul", (_v(2), _v(1)), {}),
                     ("sum", (_v(3),), {}), ("sum", (_v(1),), {}), ("sub", (_v(4), _v(5)), {})), 6),
        ]
    return progs


def replay(program):
    """The program's entries on plain numpy: (values, parents, args, params) per entry."""
    values, parents, args, params = [], [], [], []
    for x in program.inputs:
        values.append(_asarray(x, dtype=float)), parents.append(()), args.append(()), params.append({})
    for op, arguments, kw in program.steps:
        vals = _tuple(values[a[1]] if _is_entry(a) else _asarray(a, dtype=float) for a in arguments)
        values.append(FORWARD[op](*vals, **kw))
        parents.append(_tuple(a[1] if _is_entry(a) else None for a in arguments))
        args.append(vals)
        params.append(kw)
    return values, parents, args, params


def reference_adjoints(program, combine=None, order="down", seed_last=False):
    """Every entry's adjoint ∂y/∂vₖ (zeros where y does not depend on it) by the oracle rules.

    The keywords build the wrong sweeps the hints recognise."""
    values, parents, args, params = replay(program)
    ops = [None] * _len(program.inputs) + [s[0] for s in program.steps]
    bars = [_zeros(_shape(v)) for v in values]
    start = _len(values) - 1 if seed_last else program.output
    bars[start] = _np.ones_like(values[start])
    combine = combine or (lambda old, ct: old + ct)
    for i in (_range(start, -1, -1) if order == "down" else _range(start + 1)):
        if ops[i] is None:
            continue
        cts = oracle_vjp(ops[i], bars[i], *args[i], **params[i])
        for p, ct in zip(parents[i], cts):
            if p is not None:
                bars[p] = combine(bars[p], ct)
    return bars


_WRONG_SWEEPS = {
    "overwrite": (dict(combine=lambda old, ct: ct),
                  "an adjoint is overwritten instead of accumulated: an entry used twice (x * x, or x "
                  "read by two getitems) must collect every contribution — `bars[p] = bars[p] + ct`, "
                  "not `bars[p] = ct`"),
    "forward order": (dict(order="up"),
                      "the entries were swept first to last; go from y's entry down to entry 0, so each "
                      "adjoint is complete before it is passed on"),
    "from the last entry": (dict(seed_last=True),
                            "seed ȳ = 1 at y's entry (y.index), not at the last entry of the tape: entries "
                            "recorded after y do not affect y"),
}


def build_on(ArrayTape, program):
    """The program recorded on the student's tape: (tape, y)."""
    tape = ArrayTape()
    nodes = [tape.input(x) for x in program.inputs]
    for op, arguments, kw in program.steps:
        nodes.append(tape.apply(op, *[nodes[a[1]] if _is_entry(a) else a for a in arguments], **kw))
    return tape, nodes[program.output]


def _adjoint_list(got, expected):
    if not _isinstance(got, (list, tuple)) or _len(got) != _len(expected):
        return None
    out = [as_floats(a) for a in got]
    return None if any(a is None for a in out) else out


def _backward_hint(program, expected, got):
    if _isinstance(got, Raised):
        if got.not_done:
            return "this task is not done yet: replace `raise NotImplementedError()` with your code"
        if _isinstance(got.err, RecursionError):
            return "the tape is already in order: loop from y's entry down to 0 instead of recursing"
        return "your backward raised an exception on this tape"
    bars = _adjoint_list(got, expected)
    if bars is None:
        if not _isinstance(got, (list, tuple)):
            return "return a list of adjoints, one array per tape entry"
        return f"one adjoint per tape entry: {_len(expected)} here, you returned {_len(got)}"
    for k, (a, e) in enumerate(zip(bars, expected)):
        if a.shape != e.shape:
            return (f"the adjoint of entry {k} has shape {_shape_text(a.shape)}, its value {_shape_text(e.shape)}:"
                    " every adjoint has its entry's shape (start from zeros shaped like each value)")
    if not any(a.any() for a in bars):
        return "every adjoint is 0: seed the sweep with ones shaped like y at y's entry"
    for kw, hint in _WRONG_SWEEPS.values():
        variant = reference_adjoints(program, **kw)
        if all(same(a, v, "recognise") for a, v in zip(bars, variant)) and \
                not all(same(v, e, "recognise") for v, e in zip(variant, expected)):
            return hint
    k = next(k for k, (a, e) in enumerate(zip(bars, expected)) if not same(a, e))
    return f"the first wrong adjoint is entry {k}'s"


def _run_backward(backward, ArrayTape, programs, what):
    for program in programs:
        expected = reference_adjoints(program)
        tape, y = build_on(ArrayTape, program)
        got = attempt(backward, tape, y, ORACLE_RULES)
        bars = _adjoint_list(got, expected)
        if bars is None or not all(same(a, e) for a, e in zip(bars, expected)):
            raise CheckFailure(what, inputs=program, expected=expected, got=got,
                               hint=_backward_hint(program, expected, got))
    return _len(programs)


def check_backward(backward, ArrayTape, *, hidden=False):
    """Task 2.1: every adjoint of tapes of array programs (the reference rules are passed in)."""
    n = _run_backward(backward, ArrayTape, _programs(hidden), "backward(tape, y, rules)")
    passed("backward(tape, y, rules): every adjoint, shaped like its entry", n)


def check_backward_robust(backward, ArrayTape):
    """Task 2.1: called twice on one tape, and a 1202-entry tape."""
    what = "backward(tape, y, rules)"
    program = _programs(False)[1]
    expected = reference_adjoints(program)
    tape, y = build_on(ArrayTape, program)
    first = attempt(backward, tape, y, ORACLE_RULES)
    second = attempt(backward, tape, y, ORACLE_RULES)
    for got, when in ((first, ""), (second, ", called a second time on the same tape")):
        bars = _adjoint_list(got, expected)
        if bars is None or not all(same(a, e) for a, e in zip(bars, expected)):
            raise CheckFailure(what + when, inputs=program, expected=expected, got=got,
                               hint=_backward_hint(program, expected, got) if not when else
                               "backward must be repeatable: start every call from fresh zeros and never "
                               "change the tape's values or the seed in place")
    rng = _rng(False, 22)
    deep = Program("x ← tanh(x), 1200 times, then sum (1202 entries)", (_draw(rng, (3,)),),
                   _tuple(("tanh", (_v(k),), {}) for k in _range(1200)) + (("sum", (_v(1200),), {}),), 1201)
    _run_backward(backward, ArrayTape, [deep], what)
    passed("backward: the same adjoints when called twice, a 1202-entry tape", 3)


# ==========================================================================
# Task 2.2: grad
# ==========================================================================
class GradCase(NamedTuple):
    formula: str
    f: object         # f(np, *xs) written with the tape's operators
    xs: tuple

    def __repr__(self):
        return f"f = {self.formula} at x of shape{'s' if _len(self.xs) > 1 else ''} " + \
            ", ".join(_shape_text(_shape(x)) for x in self.xs)


def _grad_cases(hidden):
    rng = _rng(hidden, 23)
    X, Y = _draw(rng, (5, 3)), _draw(rng, (5, 1))
    table = [
        ("sum(x)", lambda x: x.sum(), [(3,)]),
        ("sum(x * x)", lambda x: (x * x).sum(), [(4,)]),
        ("sum(exp(x) − x)", lambda x: (_np.exp(x) - x).sum(), [(2, 3)]),
        ("sum((X @ w − y)²)", lambda w: ((X @ w - Y[:, 0]) * (X @ w - Y[:, 0])).sum(), [(3,)]),
        ("sum(tanh(X @ W + b))", lambda W, b: _np.tanh(X @ W + b).sum(), [(3, 2), (2,)]),
        ("sum(sum(A, axis=0) * A[[0, 0, 1]])", lambda A: (A.sum(axis=0) * A[_np.array([0, 0, 1])]).sum(),
         [(2, 3)]),
        ("sum(reshape(A.T, (6,)) * u)", lambda A, u: (A.T.reshape((6,)) * u).sum(), [(2, 3), (6,)]),
        ("sum(-x) (x unused twice)", lambda x, z: (-x).sum(), [(2,), (3,)]),
    ]
    out = [GradCase(formula, f, _tuple(_draw(rng, s, -1.0, 1.0) for s in shapes)) for formula, f, shapes in table]
    if hidden:
        out += [GradCase(formula, f, _tuple(_draw(rng, s, -1.0, 1.0) for s in shapes))
                for formula, f, shapes in table[2:]]
    return out


def _reference_grad(case):
    return _tuple(_asarray(g, dtype=float) for g in
                  _ad.grad(case.f, _tuple(_range(_len(case.xs))))(*case.xs))


def _rules_failure(rules):
    """The first rule of the notebook's table that fails its check, or None."""
    table = [("Task 1.2", BINARY + UNARY, _elementwise_cases, _elementwise_hint),
             ("Task 1.3", ("sum",), _sum_cases, _sum_hint), ("Task 1.4", ("matmul",), _matmul_cases, _matmul_hint),
             ("Task 1.5", ("getitem",), _index_cases, _getitem_hint),
             ("Task 1.6", ("reshape", "transpose"), _shape_cases, _shape_hint)]
    for task, ops, cases, hint in table:
        try:
            _check_rules({op: rules[op] for op in ops}, cases(False), task, hint)
        except CheckFailure as failure:
            return task, failure
    return None


def check_grad(grad, backward, ArrayTape, rules, *, hidden=False):
    """Task 2.2: ``grad(f)(*xs)`` = the tuple of ∂f/∂xᵢ, each shaped like xᵢ; a fault in
    backward or in a rule is blamed on its own task."""
    for case in _grad_cases(hidden):
        expected = _reference_grad(case)
        got = attempt(lambda: grad(case.f)(*case.xs))
        cts = _cotangents(got, _len(expected))
        if cts is not None and all(same(c, e) for c, e in zip(cts, expected)):
            continue
        if _isinstance(got, Raised) and got.not_done:
            raise CheckFailure("grad(f)(*xs)", inputs=case, expected=expected, got=got,
                               hint="this task is not done yet: replace `raise NotImplementedError()` with your code")
        try:
            _run_backward(backward, ArrayTape, _programs(False), "backward")
        except CheckFailure as failure:
            raise _earlier(failure, "Task 2.2", "backward (Task 2.1)") from None
        wrong_rule = _rules_failure(rules)
        if wrong_rule:
            task, failure = wrong_rule
            raise _earlier(failure, "Task 2.2", f"{failure.what.split('the ')[-1]} ({task})") from None
        hint = _tuple_hint(got, _len(expected)) if cts is None else \
            ("grad(f)(*xs): put every x on a new tape (tape.input), y = f(*nodes), bars = backward(tape, y, VJP), "
             "return the inputs' adjoints")
        raise CheckFailure("grad(f)(*xs)", inputs=case, expected=expected, got=got,
                           hint=None if _isinstance(got, Raised) else hint)
    passed("grad(f)(*xs): one gradient per input, shaped like it", _len(_grad_cases(hidden)))


# ==========================================================================
# Task 3.1: an MLP's loss;  Task 3.2: a training step
# ==========================================================================
def reference_loss(params, X, Y):
    """mean over the n samples of ‖tanh(X W₁ + b₁) W₂ + b₂ − Y‖²."""
    W1, b1, W2, b2 = params
    r = _np.tanh(X @ W1 + b1) @ W2 + b2 - Y
    return _np.sum(r * r) / _len(X)


def mlp_problem(seed=0, n=24, hidden=6):
    """Samples of y = sin(2x) on [−1.5, 1.5] and small random parameters: (params, X, Y)."""
    rng = _np.random.default_rng(seed)
    X = _np.linspace(-1.5, 1.5, n).reshape(n, 1)
    Y = _np.sin(2 * X)
    params = (rng.normal(0, 1.0, (1, hidden)), rng.normal(0, 0.5, (hidden,)),
              rng.normal(0, 0.5, (hidden, 1)), _zeros(1))
    return params, X, Y


def _loss_cases(hidden):
    cases = [mlp_problem(0, 4, 2), mlp_problem(1)]
    if hidden:
        rng = _rng(True, 31)
        X = _draw(rng, (7, 3))
        Y = _draw(rng, (7, 2))
        params = (_draw(rng, (3, 4)), _draw(rng, (4,)), _draw(rng, (4, 2)), _draw(rng, (2,)))
        cases += [mlp_problem(2, 10, 3), (params, X, Y)]
    return cases


def _grad_blame(grad, backward, ArrayTape, rules):
    """The CheckFailure of grad's own check (and what it builds on), or None."""
    try:
        check_grad(grad, backward, ArrayTape, rules)
    except CheckFailure as failure:
        return failure
    return None


def check_mlp_loss(mlp_loss, grad, backward, ArrayTape, rules, *, hidden=False):
    """Task 3.1: the loss on plain arrays, and its gradient by your grad, recorded on the tape."""
    for params, X, Y in _loss_cases(hidden):
        inputs = {"W1": params[0], "b1": params[1], "W2": params[2], "b2": params[3], "X": X, "Y": Y}
        expected = reference_loss(params, X, Y)
        got = attempt(mlp_loss, params, X, Y)
        if not same(got, expected):
            hint = None
            if not _isinstance(got, Raised):
                r = _np.tanh(X @ params[0] + params[1]) @ params[2] + params[3] - Y
                if same(got, _np.sum(r * r), "recognise"):
                    hint = "the mean over the samples: divide the sum of squares by n = len(X)"
                elif same(got, _np.sum(r * r) / r.size, "recognise") and r.size != _len(X):
                    hint = "divide by the number of samples n = len(X), not by the number of entries"
                else:
                    hint = "loss = Σ (tanh(X @ W1 + b1) @ W2 + b2 − Y)² / n"
            raise _not_done_or(CheckFailure("mlp_loss(params, X, Y)", inputs=inputs, expected=expected,
                                            got=got, hint=hint))
        expected_grad = _tuple(_asarray(g) for g in _ad.grad(
            lambda *p: reference_loss(p, X, Y), (0, 1, 2, 3))(*params))
        got_grad = attempt(lambda: grad(lambda *p: mlp_loss(p, X, Y))(*params))
        cts = _cotangents(got_grad, 4)
        if cts is None or not all(same(c, e) for c, e in zip(cts, expected_grad)):
            earlier = _grad_blame(grad, backward, ArrayTape, rules)
            if earlier:
                raise _earlier(earlier, "Task 3.1's gradient", "grad (Task 2.2)") from None
            raise CheckFailure("grad(lambda *p: mlp_loss(p, X, Y))(*params)", inputs=inputs,
                               expected=expected_grad, got=got_grad,
                               hint="the value is right but the gradient is not: write the loss with the "
                                    "tape's operations only (+, −, *, /, @, np.tanh, .sum()); a value taken "
                                    "off the tape (float(…), np.asarray(…), .value) is a constant to it")
    passed("mlp_loss: the value, and its gradient through your tape", _len(_loss_cases(hidden)))


def check_train_step(train_step, mlp_loss, grad, backward, ArrayTape, rules, *, hidden=False):
    """Task 3.2: p ← p − lr·∂L/∂p for every parameter; a new tuple, the inputs untouched."""
    cases = _loss_cases(hidden)
    for params, X, Y in cases:
        lr = 0.1
        inputs = {"params": params, "X": X, "Y": Y, "lr": lr}
        grads = _ad.grad(lambda *p: reference_loss(p, X, Y), (0, 1, 2, 3))(*params)
        expected = _tuple(p - lr * _asarray(g) for p, g in zip(params, grads))
        copies = _tuple(p.copy() for p in params)
        got = attempt(train_step, copies, X, Y, lr)
        new = _cotangents(got, 4)
        if new is not None and all(same(n, e) for n, e in zip(new, expected)):
            if not all(same(c, p, "exact") for c, p in zip(copies, params)):
                raise CheckFailure("train_step(params, X, Y, lr)", inputs=inputs, expected="params unchanged",
                                   got="the params passed in were changed in place",
                                   hint="return new arrays (p - lr * g) instead of updating the inputs in place")
            continue
        if not _isinstance(got, Raised) and new is not None:
            up = _tuple(p + lr * _asarray(g) for p, g in zip(params, grads))
            if all(same(n, u, "recognise") for n, u in zip(new, up)):
                raise CheckFailure("train_step(params, X, Y, lr)", inputs=inputs, expected=expected, got=got,
                                   hint="the step went uphill: subtract lr times the gradient, p − lr·∂L/∂p")
        earlier = _grad_blame(grad, backward, ArrayTape, rules)
        if earlier:
            raise _earlier(earlier, "Task 3.2", "grad (Task 2.2)") from None
        raise _not_done_or(CheckFailure(
            "train_step(params, X, Y, lr)", inputs=inputs, expected=expected, got=got,
            hint=None if _isinstance(got, Raised) else _tuple_hint(got, 4) if new is None else
            "one step of gradient descent on mlp_loss: every parameter p becomes p − lr·∂L/∂p"))
    passed("train_step: one gradient-descent step, the inputs untouched", _len(cases))
