r"""Lesson 3, reverse mode: the checks, the worked examples and the lesson's figures.

The exercise builds a small tape-based reverse mode. The notebook gives a
``Tape`` (lists ``values``, ``parents``, ``partials``; ``input(x)``,
``record(value, parents, partials)`` returning a ``Var``) and the student writes

- Task 3.1, the **rules**: ``add sub mul div neg power sin cos exp log``, each
  recording ONE tape entry: its value and, per argument, the local partial c_ij;
- Task 3.2, ``backward(tape, y)``: the adjoint list, one per entry, from ȳ = 1;
- Task 3.3, ``grad(f)``: ``grad(f)(*xs)`` → the tuple of ∂f/∂xₖ.

Checks (each prints a ✓ line or raises :class:`~autograder.checks.CheckFailure`):

===========================  ===================================================
``check_arithmetic_rules``   Task 3.1: add, sub, mul, div, neg, power — rule by rule
``check_function_rules``     Task 3.1: sin, cos, exp, log — rule by rule
``check_backward``           Task 3.2: adjoints of tapes built from the course's examples
``check_backward_robust``    Task 3.2: called twice, dead code after y, a 5000-entry chain
``check_grad``               Task 3.3: grad(f)(*xs) against autodiff_ref.grad
===========================  ===================================================

The oracle is :mod:`autodiff_ref`: the local partials and adjoints of every
case come from :func:`autodiff_ref.trace`, computed at import before any
student cell runs, with numpy functions bound at import.
"""
import gc as _gc
import math
import sys as _sys
import time as _time

import numpy as _np

from autodiff_ref import grad as _ref_grad
from autodiff_ref import jacfwd as _ref_jacfwd
from autodiff_ref import jvp as _ref_jvp
from autodiff_ref import vjp as _ref_vjp
from autodiff_ref import trace as _trace
from autodiff_ref import value_and_grad as _ref_value_and_grad
from autodiff_ref.trace import name as _row_name
from autograder.checks import CheckFailure, is_close, passed

_sin, _cos, _exp, _log, _tanh = _np.sin, _np.cos, _np.exp, _np.log, _np.tanh
_sum = _np.sum
_msin, _mlog = math.sin, math.log
_float, _len, _tuple, _range = float, len, tuple, range
VISIBLE_SEED, HIDDEN_SEED = 0, 1
EXACT = (1e-12, 1e-12)


# ==========================================================================
# The worked examples
# ==========================================================================
def report_example(x1, x2):
    """y = x₁x₂ + x₂ − ln x₁, in the report's order: v₁ = v₋₁v₀, v₂ = ln v₋₁, v₃ = v₁ + v₀, v₄ = v₃ − v₂."""
    v1 = x1 * x2
    v2 = _log(x1)
    v3 = v1 + x2
    return v3 - v2


def proposal_example(x, y):
    """f(x, y) = xy + e^{xy} with the product computed once."""
    v1 = x * y
    return v1 + _exp(v1)


def slides_example(x1, x2):
    """The slides' f(x₁, x₂), as in lesson 2."""
    v1 = x1 / x2
    v2 = _sin(v1)
    v3 = _exp(x2)
    v4 = v1 - v3
    v5 = v2 + v4
    return v5 * v4


def g_example(x1, x2):
    """g(x₁, x₂) = x₁x₂ − cos x₂."""
    return x1 * x2 - _cos(x2)


class _Raised:
    """What came back when the student's code raised: shown as the exception."""

    def __init__(self, err):
        self.err = err

    def __repr__(self):
        return f"{type(self.err).__name__}: {self.err}"


def _call(fn, *args):
    try:
        return fn(*args)
    except Exception as err:  # the student's bug (RecursionError included), reported on its input
        return _Raised(err)


def _same(a, b, tol=(1e-10, 1e-12)):
    try:
        return is_close(a, b, *tol)
    except Exception:
        return False


def _floats(xs):
    try:
        return [_float(x) for x in xs]
    except (TypeError, ValueError):
        return None


# ==========================================================================
# Task 3.1: the rules, one entry each
# ==========================================================================
#: name -> (reference function on numpy values, number of arguments, domain of each, formula)
RULES = {
    "add": (lambda a, b: a + b, 2, ((-3, 3), (-3, 3)), "a + b"),
    "sub": (lambda a, b: a - b, 2, ((-3, 3), (-3, 3)), "a − b"),
    "mul": (lambda a, b: a * b, 2, ((-3, 3), (-3, 3)), "a·b"),
    "div": (lambda a, b: a / b, 2, ((-3, 3), (0.5, 3)), "a / b"),
    "neg": (lambda a: -a, 1, ((-3, 3),), "−a"),
    "power": (None, 1, ((0.2, 3),), "a ** p (p a constant)"),
    "sin": (lambda a: _sin(a), 1, ((-3, 3),), "sin(a)"),
    "cos": (lambda a: _cos(a), 1, ((-3, 3),), "cos(a)"),
    "exp": (lambda a: _exp(a), 1, ((-2, 2),), "exp(a)"),
    "log": (lambda a: _log(a), 1, ((0.2, 4),), "log(a)"),
}
ARITHMETIC = ("add", "sub", "mul", "div", "neg", "power")
FUNCTIONS = ("sin", "cos", "exp", "log")
_EXPONENTS = (2.0, 3.0, 0.5, -1.0, 1.5)


def _rule_cases(seed, per_rule):
    rng = _np.random.default_rng(seed)
    cases = {}
    for name, (_, arity, domains, _) in RULES.items():
        simple = [(1.5, 2.0)[:arity]] if name != "power" else [(2.0, 2.0)]
        drawn = []
        for k in _range(per_rule):
            args = _tuple(round(float(rng.uniform(lo, hi)), 3) for lo, hi in domains)
            if name == "power":
                args = args + (_EXPONENTS[k % _len(_EXPONENTS)],)
            drawn.append(args)
        cases[name] = simple + drawn
    return cases


def _rule_reference(name, args):
    """(value, partials) of one rule from autodiff_ref's trace."""
    if name == "power":
        a, p = args
        tr = _trace(lambda x: x ** p, a)
    else:
        tr = _trace(RULES[name][0], *args)
    last = tr.rows[-1]
    return _float(last.value), _tuple(_float(c) for c in last.partials)


_RULE_CASES = {VISIBLE_SEED: _rule_cases(VISIBLE_SEED, 3), HIDDEN_SEED: _rule_cases(HIDDEN_SEED, 10)}
_RULE_EXPECTED = {s: {(name, args): _rule_reference(name, args) for name, cases in table.items()
                      for args in cases} for s, table in _RULE_CASES.items()}


class _Entry:
    """What the student's rule recorded, for the failure message."""

    def __init__(self, value, parents, partials, note=""):
        self.value, self.parents, self.partials, self.note = value, parents, partials, note

    def __repr__(self):
        return f"entry(value={self.value!r}, parents={self.parents}, partials={self.partials}){self.note}"


def _run_rule(Tape, rule, name, args):
    """Call the student's rule on fresh inputs; return (entry, input indices) or a marker."""
    tape = Tape()
    if name == "power":
        a, p = args
        inputs = [tape.input(a)]
        out = _call(rule, inputs[0], p)
    else:
        inputs = [tape.input(x) for x in args]
        out = _call(rule, *inputs)
    if isinstance(out, _Raised):
        return out, None, tape
    if not hasattr(out, "index"):
        return _Entry(out, None, None, "  ← not a Var: return what tape.record(...) returns"), None, tape
    k = out.index
    try:
        entry = _Entry(_float(tape.values[k]), _tuple(tape.parents[k]), _tuple(_float(c) for c in tape.partials[k]))
    except Exception as err:  # an index outside the tape, partials that are not numbers
        return _Raised(err), None, tape
    extra = _len(tape.values) - _len(inputs) - 1
    if extra > 0:
        entry.note = f"  ← {extra + 1} entries recorded; a rule records one"
    return entry, _tuple(v.index for v in inputs), tape


_PARTIAL_TEXT = {
    "add": ("∂(a+b)/∂a = 1", "∂(a+b)/∂b = 1"),
    "sub": ("∂(a−b)/∂a = 1", "∂(a−b)/∂b = −1"),
    "mul": ("∂(ab)/∂a = b", "∂(ab)/∂b = a"),
    "div": ("∂(a/b)/∂a = 1/b", "∂(a/b)/∂b = −a/b²"),
    "neg": ("∂(−a)/∂a = −1",),
    "power": ("∂(aᵖ)/∂a = p·aᵖ⁻¹",),
    "sin": ("d sin a/da = cos a",),
    "cos": ("d cos a/da = −sin a",),
    "exp": ("d eᵃ/da = eᵃ",),
    "log": ("d log a/da = 1/a",),
}


def _rule_hint(name, args, expected, entry, inputs):
    if isinstance(entry, _Raised):
        return "your rule raised an exception on this input"
    if entry.parents is None:
        return "return the Var that tape.record(value, parents, partials) returns"
    value, partials = expected
    if entry.note and "entries recorded" in entry.note:
        return ("record exactly one entry, with the arguments as its parents "
                "(no helper entries, no constants recorded inside the rule)")
    if not _same(entry.value, value):
        return f"the value is wrong: the entry of {RULES[name][3]} holds the result of the operation"
    if entry.parents != inputs:
        if sorted(entry.parents) == sorted(inputs) and _same(entry.partials[::-1], partials):
            return None  # the same entry, written with the arguments in the other order: fine
        return (f"the parents of the entry must be the arguments, in order: {inputs} "
                f"(the tape indices of {', '.join('ab'[:_len(inputs)])})")
    if _len(entry.partials) != _len(partials):
        return f"one partial per parent: {_len(partials)} here"
    for k, (got, want) in enumerate(zip(entry.partials, partials)):
        if _same(got, want):
            continue
        rule = _PARTIAL_TEXT[name][k]
        a = args[0]
        if _same(got, -want):
            return f"the sign of a partial: {rule}"
        if name == "mul" and _same(got, args[k]):
            return f"{rule}: the partial with respect to one factor is the OTHER factor"
        if name == "div" and k == 1 and _same(got, -1 / args[1] ** 2):
            return f"{rule}: the numerator a is missing"
        if name == "power":
            p = args[1]
            if _same(got, a ** (p - 1)):
                return f"{rule}: the factor p is missing"
            if _same(got, p * a ** p):
                return f"{rule}: the exponent drops by one"
        if name == "exp" and _same(got, a):
            return f"{rule}: the partial is the value eᵃ, not the argument"
        if name == "log" and _same(got, _mlog(a)):
            return f"{rule}, not log a"
        return f"wrong partial number {k}: {rule}"
    return None


def _check_rules(Tape, rules, names, seed, what):
    count = 0
    for name in names:
        rule = rules[name]
        for args in _RULE_CASES[seed][name]:
            expected = _RULE_EXPECTED[seed][(name, args)]
            entry, inputs, _ = _run_rule(Tape, rule, name, args)
            ok = (isinstance(entry, _Entry) and entry.parents is not None and not entry.note
                  and _same(entry.value, expected[0])
                  and ((entry.parents == inputs and _same(entry.partials, expected[1]))
                       or (sorted(entry.parents) == sorted(inputs) and entry.parents != inputs
                           and _same(entry.partials[::-1], expected[1]))))
            if not ok:
                shown = dict(zip("ab", args)) if name != "power" else {"a": args[0], "p": args[1]}
                raise CheckFailure(f"{what}: the rule {name}, for {RULES[name][3]}", inputs=shown,
                                   expected=_Entry(expected[0], inputs, expected[1]), got=entry,
                                   hint=_rule_hint(name, args, expected, entry, inputs))
            count += 1
    return count


def check_arithmetic_rules(Tape, add, sub, mul, div, neg, power, *, hidden=False):
    """Task 3.1: each of add, sub, mul, div, neg, power records one entry with the right partials."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    rules = dict(add=add, sub=sub, mul=mul, div=div, neg=neg, power=power)
    n = _check_rules(Tape, rules, ARITHMETIC, seed, "Task 3.1")
    passed("the rules of add, sub, mul, div, neg, power", n)


def check_function_rules(Tape, sin, cos, exp, log, *, hidden=False):
    """Task 3.1: each of sin, cos, exp, log records one entry with the right partial."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    rules = dict(sin=sin, cos=cos, exp=exp, log=log)
    n = _check_rules(Tape, rules, FUNCTIONS, seed, "Task 3.1")
    passed("the rules of sin, cos, exp, log", n)


# ==========================================================================
# Task 3.2: backward
# ==========================================================================
def _tape_from_trace(Tape, tr):
    """A notebook Tape holding the entries of an autodiff_ref trace (scalar rows)."""
    tape = Tape()
    var = {}
    for r in tr:
        if r.primitive is None:
            var[r.index] = tape.input(_float(r.value))
        else:
            var[r.index] = tape.record(_float(r.value), [var[j] for j in r.parents],
                                       [_float(c) for c in r.partials])
    return tape, var


def _random_function(rng, n_inputs, length):
    """A random scalar program of the primitives of this lesson, safe on its inputs."""
    ops = []
    values = list(rng.uniform(0.5, 2.0, n_inputs))
    while _len(ops) < length:
        kind = rng.integers(6)
        j, k = (int(i) for i in rng.integers(_len(values), size=2))
        a, b = values[j], values[k]
        if kind == 0:
            ops.append(("add", j, k)); values.append(a + b)
        elif kind == 1:
            ops.append(("sub", j, k)); values.append(a - b)
        elif kind == 2 and abs(a * b) < 50:
            ops.append(("mul", j, k)); values.append(a * b)
        elif kind == 3 and abs(b) > 0.3 and abs(a / b) < 50:
            ops.append(("div", j, k)); values.append(a / b)
        elif kind == 4:
            ops.append(("sin", j, j)); values.append(_msin(a))
        elif kind == 5 and a > 0.1:
            ops.append(("log", j, j)); values.append(_mlog(a))

    def f(*xs):
        vs = list(xs)
        for op, j, k in ops:
            a, b = vs[j], vs[k]
            vs.append({"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
                       "div": lambda: a / b, "sin": lambda: _sin(a), "log": lambda: _log(a)}[op]())
        return vs[-1]
    return f, tuple(values[:n_inputs])


class _Case:
    """A tape to sweep: its name, the trace it came from and where y is."""

    def __init__(self, name, f, args, dead=0):
        self.name, self.tr, self.dead = name, _trace(f, *args), dead
        self.args = args

    @property
    def expected(self):
        return [_float(a) for a in self.tr.adjoints] + [0.0] * self.dead

    def build(self, Tape):
        tape, var = _tape_from_trace(Tape, self.tr)
        y = var[self.tr.output_indices[0]]
        for k in _range(self.dead):  # entries that use y after it: no influence on y
            tape.record(2.0 * _float(self.tr.output) + k, (y,), (2.0,))
        return tape, y

    def __repr__(self):
        rows = "; ".join(r.operation for r in self.tr.rows[self.tr.n_inputs:])
        tail = f"; then {self.dead} entr{'y' if self.dead == 1 else 'ies'} after y" if self.dead else ""
        return f"{self.name} at {self.args}: {rows}{tail}; y = {_row_name(self.tr.output_indices[0])}"


def _backward_cases(seed, n_random):
    cases = [
        _Case("y = x (no operations)", lambda x: x, (2.0,)),
        _Case("y = x·x", lambda x: x * x, (3.0,)),
        _Case("f(x, y) = xy + e^{xy}", proposal_example, (1.0, 2.0)),
        _Case("y = x₁x₂ + x₂ − ln x₁", report_example, (3.0, -4.0)),
        _Case("the slides' f", slides_example, (1.5, 0.5)),
    ]
    rng = _np.random.default_rng(seed)
    for k in _range(n_random):
        f, args = _random_function(rng, 1 + k % 3, 4 + k % 9)
        cases.append(_Case(f"a random program #{k}", f, args))
    return cases


_BACKWARD_CASES = {VISIBLE_SEED: _backward_cases(VISIBLE_SEED, 2),
                   HIDDEN_SEED: _backward_cases(HIDDEN_SEED, 12)}


def _variants(tape, y):
    """Adjoints by the wrong recipes a student might write, to recognise them."""
    n = _len(tape.values)

    def sweep(order, combine, seed_at=None):
        bar = [0.0] * n
        bar[y.index if seed_at is None else seed_at] = 1.0
        for i in order:
            for j, c in zip(tape.parents[i], tape.partials[i]):
                bar[j] = combine(bar[j], bar[i], c)
        return bar
    down = _range(n - 1, -1, -1)
    return {
        "overwrite": sweep(down, lambda old, b, c: b * c),
        "forward order": sweep(_range(n), lambda old, b, c: old + b * c),
        "partial only": sweep(down, lambda old, b, c: old + c),
        "from the last entry": sweep(down, lambda old, b, c: old + b * c, seed_at=n - 1),
    }


_VARIANT_HINTS = {
    "overwrite": ("an adjoint is overwritten instead of accumulated: a variable used twice "
                  "(x·x, or a value feeding two rows) must collect both contributions — "
                  "write `bar[j] += bar[i] * c`, not `bar[j] = bar[i] * c`"),
    "forward order": ("the entries were swept first to last; sweep from the last entry to the "
                      "first (reversed), so each v̄ᵢ is complete before it is passed on"),
    "partial only": "the contribution to v̄ⱼ is v̄ᵢ·c_ij: multiply the partial by the adjoint of the entry",
    "from the last entry": ("the sweep must start at y's entry (seed v̄ = 1 at y.index), "
                            "not at the last entry of the tape: entries recorded after y do not affect y"),
}


def _backward_hint(case, expected, got, tape, y):
    if isinstance(got, _Raised):
        if isinstance(got.err, RecursionError):
            return ("RecursionError: the tape is already in topological order — loop over it "
                    "from the end with a for loop instead of recursing through parents")
        return "your backward raised an exception on this input"
    g = _floats(got) if isinstance(got, (list, tuple, _np.ndarray)) else None
    if g is None:
        return "return a list of adjoints, one float per tape entry"
    if _len(g) != _len(expected):
        return f"one adjoint per tape entry: {_len(expected)} here, you returned {_len(g)}"
    if all(x == 0 for x in g):
        return "every adjoint is 0: seed the sweep with v̄ = 1 at the output's entry (y.index)"
    for name, variant in _variants(tape, y).items():
        if _same(g, variant) and not _same(variant, expected):
            return _VARIANT_HINTS[name]
    for k, (a, b) in enumerate(zip(g, expected)):
        if not _same(a, b):
            return f"the first wrong adjoint is entry {k}"
    return None


def _run_backward(backward, Tape, cases, what):
    for case in cases:
        tape, y = case.build(Tape)
        expected = case.expected
        got = _call(backward, tape, y)
        g = _floats(got) if isinstance(got, (list, tuple, _np.ndarray)) else None
        if g is None or not _same(g, expected):
            raise CheckFailure(what, inputs=case, expected=expected, got=got,
                               hint=_backward_hint(case, expected, got, tape, y))
    return _len(cases)


def check_backward(backward, Tape, *, hidden=False):
    """Task 3.2: adjoints of tapes built from the course's examples (and random programs)."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    n = _run_backward(backward, Tape, _BACKWARD_CASES[seed], "backward(tape, y)")
    passed("backward(tape, y): every adjoint", n)


def _chain(x, length):
    """x·0.9999 + 0.0001 repeated: a tape as deep as it is long."""
    for _ in _range(length):
        x = x * 0.9999 + 0.0001
    return x


def check_backward_robust(backward, Tape):
    """Task 3.2: idempotent (called twice), y not the last entry, and a 5000-entry chain."""
    what = "backward(tape, y)"
    # 1. Twice on the same tape: the same answer.
    case = _Case("f(x, y) = xy + e^{xy}", proposal_example, (1.0, 2.0))
    tape, y = case.build(Tape)
    first = _call(backward, tape, y)
    second = _call(backward, tape, y)
    f1, f2 = (_floats(r) if isinstance(r, (list, tuple, _np.ndarray)) else None for r in (first, second))
    if f1 is None or not _same(f1, case.expected):
        raise CheckFailure(what, inputs=case, expected=case.expected, got=first,
                           hint=_backward_hint(case, case.expected, first, tape, y))
    if f2 is None or not _same(f2, f1):
        doubled = f2 is not None and _same(f2, [2 * a for a in f1])
        raise CheckFailure(what + ", called a second time on the same tape", inputs=case,
                           expected=case.expected, got=second,
                           hint=("the second call " + ("doubled" if doubled else "changed") +
                                 " the first one's adjoints: backward must be repeatable — start every "
                                 "call from fresh zeros (a new list inside backward), keep no state "
                                 "between calls"))
    # 2. Entries after y.
    case = _Case("f(x, y) = xy + e^{xy}", proposal_example, (1.0, 2.0), dead=2)
    n = _run_backward(backward, Tape, [case], what)
    # 3. A deep tape.
    case = _Case("a chain x ← 0.9999·x + 0.0001, 2500 times (5000 entries)",
                 lambda x: _chain(x, 2500), (1.0,))
    n += _run_backward(backward, Tape, [case], what)
    passed("backward: same adjoints when called twice, y not last, a 5000-entry tape", n + 1)


# ==========================================================================
# Task 3.3: grad
# ==========================================================================
class Ops:
    """The elementary functions a test function uses: numpy's, or the student's rules."""

    def __init__(self, sin, cos, exp, log):
        self.sin, self.cos, self.exp, self.log = sin, cos, exp, log


NUMPY_OPS = Ops(_sin, _cos, _exp, _log)

#: (formula, builder: ops -> function, inputs' domain, number of inputs) — simplest first
GRAD_FUNCTIONS = [
    ("x", lambda o: lambda x: x, 1),
    ("x*y", lambda o: lambda x, y: x * y, 2),
    ("x*x*x", lambda o: lambda x: x * x * x, 1),
    ("x*x (y unused)", lambda o: lambda x, y: x * x, 2),
    ("x1*x2 + x2 - log(x1)", lambda o: lambda x1, x2: x1 * x2 + x2 - o.log(x1), 2),
    ("x*y + exp(x*y)", lambda o: lambda x, y: x * y + o.exp(x * y), 2),
    ("x1*x2 - cos(x2)", lambda o: lambda x1, x2: x1 * x2 - o.cos(x2), 2),
    ("(sin(x1/x2) + x1/x2 - exp(x2)) * (x1/x2 - exp(x2))",
     lambda o: lambda x1, x2: (o.sin(x1 / x2) + x1 / x2 - o.exp(x2)) * (x1 / x2 - o.exp(x2)), 2),
    ("2/x + x**3 - 1", lambda o: lambda x: 2 / x + x ** 3 - 1, 1),
    ("(a - b)*(a + c) / (1 + exp(-c))", lambda o: lambda a, b, c: (a - b) * (a + c) / (1 + o.exp(-c)), 3),
    ("-sin(x)*cos(y) + x**0.5", lambda o: lambda x, y: -o.sin(x) * o.cos(y) + x ** 0.5, 2),
]


class _GradCase:
    def __init__(self, formula, build, xs):
        self.formula, self.build, self.xs = formula, build, xs

    def __repr__(self):
        return f"f = {self.formula} at {self.xs}"


def _grad_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    cases = []
    for formula, build, n in GRAD_FUNCTIONS:
        for _ in _range(per_function):
            cases.append(_GradCase(formula, build, _tuple(round(float(v), 3) for v in rng.uniform(0.3, 2.0, n))))
    return cases


_GRAD_CASES = {VISIBLE_SEED: _grad_cases(VISIBLE_SEED, 1), HIDDEN_SEED: _grad_cases(HIDDEN_SEED, 4)}


def _grad_reference(case):
    f = case.build(NUMPY_OPS)
    return _tuple(_float(g) for g in _ref_grad(f, _tuple(_range(_len(case.xs))))(*case.xs))


def _grad_hint(case, expected, got):
    if isinstance(got, _Raised):
        return "your code raised an exception on this input"
    if not isinstance(got, (tuple, list)):
        return "return a tuple with one float per input: (∂f/∂x₁, …, ∂f/∂xₙ)"
    if any(hasattr(g, "index") for g in got):
        return "return plain floats (the adjoints of the inputs), not Var objects"
    g = _floats(got)
    if g is None:
        return "return a tuple of floats"
    if _len(g) != _len(expected):
        return f"one partial derivative per input: {_len(expected)} here, you returned {_len(g)}"
    return "grad(f)(*xs): inputs on a fresh tape, y = f(*inputs), backward(tape, y), the inputs' adjoints"


def check_grad(grad, sin, cos, exp, log, *, hidden=False):
    """Task 3.3: ``grad(f)(*xs)`` = (∂f/∂x₁, …) for functions built with the student's rules."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    ops = Ops(sin, cos, exp, log)
    for case in _GRAD_CASES[seed]:
        expected = _grad_reference(case)
        f = case.build(ops)
        got = _call(lambda: grad(f)(*case.xs))
        ok = isinstance(got, (tuple, list)) and not any(hasattr(g, "index") for g in got) \
            and _floats(got) is not None and _same(_floats(got), expected)
        if ok:  # a second call must give the same answer (no state kept between calls)
            again = _call(lambda: grad(f)(*case.xs))
            if not (isinstance(again, (tuple, list)) and _floats(again) is not None
                    and _same(_floats(again), expected)):
                raise CheckFailure("grad(f)(*xs), called a second time", inputs=case,
                                   expected=expected, got=again,
                                   hint="each call must start a new Tape; keep no state between calls")
            continue
        raise CheckFailure("grad(f)(*xs)", inputs=case, expected=expected, got=got,
                           hint=_grad_hint(case, expected, got))
    passed("grad(f)(*xs): the gradient, one partial per input", _len(_GRAD_CASES[seed]))


# ==========================================================================
# The alternative design: closures on value objects (micrograd's)
# ==========================================================================
class ClosureValue:
    """A scalar that remembers how to send its gradient back: micrograd's design.

    Every result keeps its operands (``_prev``) and a ``_backward`` closure that
    reads ``out.grad`` — so ``out`` → ``_backward`` → closure cell → ``out``
    is a reference cycle, and ``backward`` orders the graph by a recursive
    depth-first search.
    """
    __slots__ = ("data", "grad", "_prev", "_backward", "__weakref__")

    def __init__(self, data, prev=()):
        self.data, self.grad, self._prev = data, 0.0, prev
        self._backward = _nothing

    def __add__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    __radd__, __rmul__ = __add__, __mul__

    def backward(self):
        order, seen = [], set()

        def visit(v):  # recursive depth-first search, as in micrograd
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    visit(child)
                order.append(v)
        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()


def _nothing():
    return None


def closure_cycle_demo():
    """Show the reference cycle of one closure-based result, and that gc must collect it."""
    import weakref
    x = ClosureValue(3.0)
    y = x * x
    in_cycle = any(c.cell_contents is y for c in y._backward.__closure__)
    probe = weakref.ref(y)
    was_enabled = _gc.isenabled()
    _gc.disable()
    try:
        del y
        alive_after_del = probe() is not None      # reference counting alone cannot free it
        _gc.collect()
        alive_after_collect = probe() is not None  # the cycle collector can
    finally:
        if was_enabled:
            _gc.enable()
    return {"closure refers back to its own result": in_cycle,
            "alive after `del` (reference counts)": alive_after_del,
            "alive after gc.collect()": alive_after_collect}


def _chain_closure(n):
    x = ClosureValue(0.5)
    y = x
    for _ in _range(n):
        y = y * 0.999 + 0.001
    y.backward()
    return x.grad


def _chain_tape(n):
    return _ref_grad(lambda x: _chain(x, n))(0.5)


def design_timings(n=20_000):
    """Seconds for the forward and backward pass of an n-step chain (2n operations):
    closures with the garbage collector on and off, and autodiff_ref's flat tape."""
    limit = _sys.getrecursionlimit()
    _sys.setrecursionlimit(max(limit, 2 * n + 1000))  # the closure design recurses n deep
    results = {}
    try:
        for label, fn, collector in (("closures, gc on", _chain_closure, True),
                                     ("closures, gc off", _chain_closure, False),
                                     ("flat tape (autodiff_ref), gc on", _chain_tape, True)):
            was_enabled = _gc.isenabled()
            (_gc.enable if collector else _gc.disable)()
            try:
                _gc.collect()
                start = _time.perf_counter()
                fn(n)
                results[label] = _time.perf_counter() - start
            finally:
                (_gc.enable if was_enabled else _gc.disable)()
    finally:
        _sys.setrecursionlimit(limit)
    return results


def recursion_demo(n=5_000):
    """What happens to each design on an n-step chain at Python's default recursion limit."""
    out = {}
    try:
        _chain_closure(n)
        out["closures"] = "ok"
    except RecursionError as err:
        out["closures"] = f"RecursionError: {err}"
    out["flat tape"] = f"ok, dx = {_chain_tape(n):.6f}"
    return out


# ==========================================================================
# Measurements
# ==========================================================================
def cost_function(x):
    """The program timed in the cost measurements (the same as lesson 2's)."""
    return _sum(_sin(x) * x + _exp(-x * x) * _cos(x))


def gradient_cost(sizes=(10, 100, 1_000, 10_000, 100_000, 1_000_000), repeat=5):
    r"""Measure w_grad = time(f and its gradient) / time(f) with
    :func:`autodiff_ref.value_and_grad`; a list of dicts (n, t_f, t_grad, ratio)."""
    from autograder.widgets import time_ratio
    rng = _np.random.default_rng(0)
    vg = _ref_value_and_grad(cost_function)
    rows = []
    for n in sizes:
        x = rng.uniform(-1, 1, n)
        t_grad, t_f, ratio = time_ratio(lambda: vg(x), lambda: cost_function(x), repeat=repeat,
                                        min_time=0.005 if n < 100_000 else 0.0)
        rows.append({"n": n, "t_f": t_f, "t_grad": t_grad, "ratio": ratio})
    return rows


def gradient_by_forward_mode_cost(sizes=(10, 100, 1_000), repeat=3):
    """The same gradient by forward mode (jacfwd: n directions): its cost grows with n."""
    from autograder.widgets import time_ratio
    rng = _np.random.default_rng(0)
    rows = []
    for n in sizes:
        x = rng.uniform(-1, 1, n)
        t_fwd, t_f, ratio = time_ratio(lambda: _ref_jacfwd(cost_function)(x), lambda: cost_function(x),
                                       repeat=repeat, min_time=0.005)
        rows.append({"n": n, "t_f": t_f, "t_grad": t_fwd, "ratio": ratio})
    return rows


def plot_gradient_cost(rows, forward_rows=(), ax=None):
    """T(f, ∇f)/T(f) against n for reverse mode (and forward mode), with the bound 4."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.loglog([r["n"] for r in rows], [r["ratio"] for r in rows], "o-",
              label="reverse mode: T(f, ∇f) / T(f)")
    if forward_rows:
        ax.loglog([r["n"] for r in forward_rows], [r["ratio"] for r in forward_rows], "s-",
                  label="forward mode (jacfwd, n directions)")
    ax.axhline(4, color="#d9480f", ls="--", label="operation-count bound 4")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("n (length of x)")
    ax.set_ylabel("time ratio")
    ax.set_title("the cost of a gradient, relative to f")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


def network(n, m, hidden=32, seed=0):
    """f: Rⁿ → Rᵐ, f(x) = W₂ tanh(W₁ x) with fixed random weights."""
    rng = _np.random.default_rng(seed)
    w1 = rng.normal(size=(hidden, n)) / math.sqrt(n)
    w2 = rng.normal(size=(m, hidden)) / math.sqrt(hidden)
    return lambda x: w2 @ _tanh(w1 @ x)


def jacobian_by_columns(f, x):
    """n forward sweeps, one per input direction e_j (column j = J e_j)."""
    return _np.stack([_ref_jvp(f, (x,), (e,))[1] for e in _np.eye(_len(x))], axis=-1)


def jacobian_by_rows(f, x):
    """One recording, then m reverse sweeps, one per output direction e_i (row i = e_iᵀ J)."""
    value, pullback = _ref_vjp(f, x)
    return _np.stack([pullback(e)[0] for e in _np.eye(_len(value))])


def forward_vs_reverse(ns=(1, 4, 16, 64, 256), ms=(1, 4, 16, 64, 256), repeat=3):
    """Times of the Jacobian of :func:`network` (n inputs, m outputs) by n forward
    sweeps and by m reverse sweeps, one direction per sweep, interleaved.

    Returns (ratio grid T_forward / T_reverse with rows = m, columns = n, and the two time grids)."""
    from autograder.widgets import time_ratio
    ratio = _np.zeros((_len(ms), _len(ns)))
    t_fwd, t_rev = _np.zeros_like(ratio), _np.zeros_like(ratio)
    for a, m in enumerate(ms):
        for b, n in enumerate(ns):
            f = network(n, m)
            x = _np.linspace(-1, 1, n)
            t_fwd[a, b], t_rev[a, b], ratio[a, b] = time_ratio(
                lambda: jacobian_by_columns(f, x), lambda: jacobian_by_rows(f, x),
                repeat=repeat, min_time=0.002)
    return ratio, t_fwd, t_rev


def _short(r):
    return f"{r:.0f}" if r >= 10 else f"{r:.1f}" if r >= 1 else f"{r:.2f}" if r >= 0.01 else f"{r:.0e}"


def plot_forward_vs_reverse(ns, ms, ratio, ax=None):
    """A heat map of log₂(T_forward / T_reverse): blue where forward wins, red where reverse wins."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6.2, 5.0))
    lg = _np.log2(ratio)
    bound = max(1.0, float(_np.max(_np.abs(lg))))
    im = ax.imshow(lg, cmap="coolwarm", vmin=-bound, vmax=bound, origin="lower")
    for a in _range(_len(ms)):
        for b in _range(_len(ns)):
            ax.text(b, a, _short(ratio[a, b]), ha="center", va="center", fontsize=9)
    ax.set_xticks(_range(_len(ns)), [str(n) for n in ns])
    ax.set_yticks(_range(_len(ms)), [str(m) for m in ms])
    ax.set_xlabel("n = number of inputs")
    ax.set_ylabel("m = number of outputs")
    ax.set_title("T(n forward sweeps) / T(m reverse sweeps)\n(> 1: reverse mode is faster)", fontsize=11)
    ax.figure.colorbar(im, ax=ax, label="log₂ of the ratio")
    return ax
