r"""Lesson 3's checks: cases, oracles and hints of Tasks 3.1–3.3.

The student's tape holds, per entry i, its value vᵢ, its parents j and the
local partials c_ij = ∂φᵢ/∂vⱼ. Reverse mode seeds v̄ = 1 at the output y and
sweeps the tape backwards, v̄ⱼ += v̄ᵢ·c_ij, so v̄ⱼ = ∂y/∂vⱼ once every entry
after j has been visited; the inputs' adjoints are the gradient.

The oracle is :func:`autodiff_ref.trace` (values, partials and adjoints of
every case, computed at import before any student cell runs) and
:func:`autodiff_ref.grad`. ``hidden=True`` selects the larger case table.
"""
from functools import partial
from typing import Callable, NamedTuple

import numpy as _np

from autodiff_ref import grad as _ref_grad
from autodiff_ref import trace as _trace
from autodiff_ref.trace import name as _row_name
from autograder.checks import Raised, as_floats, attempt, passed, same
from autograder.checks import CheckFailure

from ..earlier import blamed
from ..examples import ELEMENTAL, NUMPY, WORKED_POINT, Ops, g_example, product_example, \
    adjoint_example, worked_example
from .material import chain, random_program

_sin, _cos, _exp, _log = NUMPY
_float, _len, _tuple, _range = float, len, tuple, range
VISIBLE_SEED, HIDDEN_SEED = 0, 1


def _seed(hidden):
    return HIDDEN_SEED if hidden else VISIBLE_SEED


# ==========================================================================
# Task 3.1: the rules, one entry each
# ==========================================================================
class Rule(NamedTuple):
    """A rule of the tape: its primitive in :data:`~autograder.lessons.examples.ELEMENTAL`,
    the reference on numpy values, the domain of each argument, and its formula."""
    primitive: str
    f: Callable
    domains: tuple
    formula: str


PLANE, POSITIVE = ((-3, 3), (-3, 3)), ((0.2, 4),)
RULES = {
    "add": Rule("add", lambda a, b: a + b, PLANE, "a + b"),
    "sub": Rule("subtract", lambda a, b: a - b, PLANE, "a − b"),
    "mul": Rule("multiply", lambda a, b: a * b, PLANE, "a·b"),
    "div": Rule("divide", lambda a, b: a / b, ((-3, 3), (0.5, 3)), "a / b"),
    "neg": Rule("negative", lambda a: -a, PLANE[:1], "−a"),
    "power": Rule("power", lambda a, p: a ** p, ((0.2, 3),), "a ** p (p a constant)"),
    "sin": Rule("sin", _sin, PLANE[:1], "sin(a)"),
    "cos": Rule("cos", _cos, PLANE[:1], "cos(a)"),
    "exp": Rule("exp", _exp, ((-2, 2),), "exp(a)"),
    "log": Rule("log", _log, POSITIVE, "log(a)"),
}
ARITHMETIC = ("add", "sub", "mul", "div", "neg", "power")
FUNCTIONS = ("sin", "cos", "exp", "log")
_EXPONENTS = (2.0, 3.0, 0.5, -1.0, 1.5)


def _rule_cases(seed, per_rule):
    rng = _np.random.default_rng(seed)
    cases = {}
    for name, rule in RULES.items():
        simple = [(1.5, 2.0)[:_len(rule.domains)]] if name != "power" else [(2.0, 2.0)]
        drawn = []
        for k in _range(per_rule):
            args = _tuple(round(float(rng.uniform(lo, hi)), 3) for lo, hi in rule.domains)
            if name == "power":
                args = args + (_EXPONENTS[k % _len(_EXPONENTS)],)
            drawn.append(args)
        cases[name] = simple + drawn
    return cases


def rule_reference(name, args):
    """(value, partials) of one rule from autodiff_ref's trace (the exponent p is a constant)."""
    if name == "power":
        a, p = args
        tr = _trace(lambda x: x ** p, a)
    else:
        tr = _trace(RULES[name].f, *args)
    last = tr.rows[-1]
    return _float(last.value), _tuple(_float(c) for c in last.partials)


RULE_CASES = {VISIBLE_SEED: _rule_cases(VISIBLE_SEED, 3), HIDDEN_SEED: _rule_cases(HIDDEN_SEED, 10)}
RULE_EXPECTED = {s: {(name, args): rule_reference(name, args) for name, cases in table.items()
                     for args in cases} for s, table in RULE_CASES.items()}


class _Entry:
    """What the student's rule recorded, for the failure message."""

    def __init__(self, value, parents, partials, note=""):
        self.value, self.parents, self.partials, self.note = value, parents, partials, note

    def __repr__(self):
        return f"entry(value={self.value!r}, parents={self.parents}, partials={self.partials}){self.note}"


def _run_rule(Tape, rule, name, args):
    """Call the student's rule on fresh inputs: (the entry it recorded, the inputs' indices)."""
    tape = Tape()
    if name == "power":
        a, p = args
        inputs = [tape.input(a)]
        out = attempt(rule, inputs[0], p)
    else:
        inputs = [tape.input(x) for x in args]
        out = attempt(rule, *inputs)
    if isinstance(out, Raised):
        return out, None
    if not hasattr(out, "index"):
        return _Entry(out, None, None, "  ← not a Var: return what tape.record(...) returns"), None
    k = out.index
    try:
        entry = _Entry(_float(tape.values[k]), _tuple(tape.parents[k]), _tuple(_float(c) for c in tape.partials[k]))
    except Exception as err:  # an index outside the tape, partials that are not numbers
        return Raised(err), None
    extra = _len(tape.values) - _len(inputs) - 1
    if extra > 0:
        entry.note = f"  ← {extra + 1} entries recorded; a rule records one"
    return entry, _tuple(v.index for v in inputs)


def _partial_hint(name, k, args, got, want):
    """Name the misconception behind a wrong partial number k of rule `name`."""
    text = ELEMENTAL[RULES[name].primitive].rules[k]
    a = args[0]
    known = [(-want, f"the sign of a partial: {text}")] + {
        "mul": lambda: [(args[k], f"{text}: the partial with respect to one factor is the OTHER factor")],
        "div": lambda: [(-1 / args[1] ** 2, f"{text}: the numerator a is missing")] if k == 1 else [],
        "power": lambda: [(a ** (args[1] - 1), f"{text}: the factor p is missing"),
                          (args[1] * a ** args[1], f"{text}: the exponent drops by one")],
        "exp": lambda: [(a, f"{text}: the partial is the value eᵃ, not the argument")],
        "log": lambda: [(_log(a), f"{text}, not ln a")],
    }.get(name, list)()
    for wrong, hint in known:
        if same(got, wrong, "recognise"):
            return hint
    return f"wrong partial number {k}: {text}"


def _rule_hint(name, args, expected, entry, inputs):
    if isinstance(entry, Raised):
        return "your rule raised an exception on this input"
    if entry.parents is None:
        return "return the Var that tape.record(value, parents, partials) returns"
    value, partials = expected
    if entry.note and "entries recorded" in entry.note:
        return ("record exactly one entry, with the arguments as its parents "
                "(no helper entries, no constants recorded inside the rule)")
    if not same(entry.value, value):
        return f"the value is wrong: the entry of {RULES[name].formula} holds the result of the operation"
    if entry.parents != inputs:
        if sorted(entry.parents) == sorted(inputs) and same(entry.partials[::-1], partials):
            return None  # the same entry, written with the arguments in the other order: fine
        return (f"the parents of the entry must be the arguments, in order: {inputs} "
                f"(the tape indices of {', '.join('ab'[:_len(inputs)])})")
    if _len(entry.partials) != _len(partials):
        return f"one partial per parent: {_len(partials)} here"
    for k, (got, want) in enumerate(zip(entry.partials, partials)):
        if not same(got, want):
            return _partial_hint(name, k, args, got, want)
    return None


def _entry_is_right(entry, inputs, expected):
    """The entry has the expected value and partials, its parents in order or swapped."""
    if not (isinstance(entry, _Entry) and entry.parents is not None and not entry.note
            and same(entry.value, expected[0])):
        return False
    if entry.parents == inputs:
        return same(entry.partials, expected[1])
    return sorted(entry.parents) == sorted(inputs) and same(entry.partials[::-1], expected[1])


def _check_rules(Tape, rules, names, seed, what):
    count = 0
    for name in names:
        for args in RULE_CASES[seed][name]:
            expected = RULE_EXPECTED[seed][(name, args)]
            entry, inputs = _run_rule(Tape, rules[name], name, args)
            if not _entry_is_right(entry, inputs, expected):
                shown = dict(zip("ab", args)) if name != "power" else {"a": args[0], "p": args[1]}
                raise CheckFailure(f"{what}: the rule {name}, for {RULES[name].formula}", inputs=shown,
                                   expected=_Entry(expected[0], inputs, expected[1]), got=entry,
                                   hint=_rule_hint(name, args, expected, entry, inputs))
            count += 1
    return count


def check_arithmetic_rules(Tape, add, sub, mul, div, neg, power, *, hidden=False):
    """Task 3.1: each of add, sub, mul, div, neg, power records one entry with the right partials."""
    rules = dict(add=add, sub=sub, mul=mul, div=div, neg=neg, power=power)
    n = _check_rules(Tape, rules, ARITHMETIC, _seed(hidden), "Task 3.1")
    passed("the rules of add, sub, mul, div, neg, power", n)


def check_function_rules(Tape, sin, cos, exp, log, *, hidden=False):
    """Task 3.1: each of sin, cos, exp, log records one entry with the right partial."""
    rules = dict(sin=sin, cos=cos, exp=exp, log=log)
    n = _check_rules(Tape, rules, FUNCTIONS, _seed(hidden), "Task 3.1")
    passed("the rules of sin, cos, exp, log", n)


# ==========================================================================
# Task 3.2: backward
# ==========================================================================
class BackwardCase:
    """A tape to sweep: built from an autodiff_ref trace, with `dead` entries recorded after y."""

    def __init__(self, name, f, args, dead=0):
        self.name, self.tr, self.dead, self.args = name, _trace(f, *args), dead, args

    @property
    def expected(self):
        """The adjoints v̄ᵢ = ∂y/∂vᵢ of every entry (0 for the entries after y)."""
        return [_float(a) for a in self.tr.adjoints] + [0.0] * self.dead

    def build(self, Tape):
        """The trace's entries on a notebook Tape: (tape, y)."""
        tape, var = Tape(), {}
        for r in self.tr:
            if r.primitive is None:
                var[r.index] = tape.input(_float(r.value))
            else:
                var[r.index] = tape.record(_float(r.value), [var[j] for j in r.parents],
                                           [_float(c) for c in r.partials])
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
        BackwardCase("y = x (no operations)", lambda x: x, (2.0,)),
        BackwardCase("y = x·x", lambda x: x * x, (3.0,)),
        BackwardCase("f(x, y) = xy + e^{xy}", product_example, (1.0, 2.0)),
        BackwardCase("y = x₁x₂ + x₂ − ln x₁", adjoint_example, (3.0, -4.0)),
        BackwardCase("lesson 2's f", worked_example, WORKED_POINT),
    ]
    rng = _np.random.default_rng(seed)
    for k in _range(n_random):
        f, args = random_program(rng, 1 + k % 3, 4 + k % 9)
        cases.append(BackwardCase(f"a random program #{k}", f, args))
    return cases


BACKWARD_CASES = {VISIBLE_SEED: _backward_cases(VISIBLE_SEED, 2), HIDDEN_SEED: _backward_cases(HIDDEN_SEED, 12)}

#: A wrong recipe for the sweep, and its hint: (seed at the last entry instead of y?,
#: order of the entries, v̄ⱼ ← combine(v̄ⱼ, v̄ᵢ, c_ij)).
_WRONG_SWEEPS = {
    "overwrite": ((False, "down", lambda old, b, c: b * c),
                  "an adjoint is overwritten instead of accumulated: a variable used twice "
                  "(x·x, or a value feeding two rows) must collect both contributions — "
                  "write `bar[j] += bar[i] * c`, not `bar[j] = bar[i] * c`"),
    "forward order": ((False, "up", lambda old, b, c: old + b * c),
                      "the entries were swept first to last; sweep from the last entry to the "
                      "first (reversed), so each v̄ᵢ is complete before it is passed on"),
    "partial only": ((False, "down", lambda old, b, c: old + c),
                     "the contribution to v̄ⱼ is v̄ᵢ·c_ij: multiply the partial by the adjoint of the entry"),
    "from the last entry": ((True, "down", lambda old, b, c: old + b * c),
                            "the sweep must start at y's entry (seed v̄ = 1 at y.index), "
                            "not at the last entry of the tape: entries recorded after y do not affect y"),
}


def _wrong_sweep(tape, y, recipe):
    """The adjoints a wrong recipe computes on this tape, to recognise it."""
    at_last, order, combine = recipe
    n = _len(tape.values)
    bar = [0.0] * n
    bar[n - 1 if at_last else y.index] = 1.0
    for i in (_range(n - 1, -1, -1) if order == "down" else _range(n)):
        for j, c in zip(tape.parents[i], tape.partials[i]):
            bar[j] = combine(bar[j], bar[i], c)
    return bar


def _adjoints(got):
    """The student's adjoints as floats, or None when not a list of numbers."""
    return as_floats(got) if isinstance(got, (list, tuple, _np.ndarray)) else None


def _backward_hint(case, expected, got, tape, y):
    if isinstance(got, Raised):
        if isinstance(got.err, RecursionError):
            return ("RecursionError: the tape is already in topological order — loop over it "
                    "from the end with a for loop instead of recursing through parents")
        return "your backward raised an exception on this input"
    g = _adjoints(got)
    if g is None or g.ndim != 1:
        return "return a list of adjoints, one float per tape entry"
    if _len(g) != _len(expected):
        return f"one adjoint per tape entry: {_len(expected)} here, you returned {_len(g)}"
    if not g.any():
        return "every adjoint is 0: seed the sweep with v̄ = 1 at the output's entry (y.index)"
    for recipe, hint in _WRONG_SWEEPS.values():
        variant = _wrong_sweep(tape, y, recipe)
        if same(g, variant, "recognise") and not same(variant, expected, "recognise"):
            return hint
    k = next((k for k, (a, b) in enumerate(zip(g, expected)) if not same(a, b)), None)
    return None if k is None else f"the first wrong adjoint is entry {k}"


def _run_backward(backward, Tape, cases, what):
    for case in cases:
        tape, y = case.build(Tape)
        got = attempt(backward, tape, y)
        if not same(_adjoints(got), case.expected):
            raise CheckFailure(what, inputs=case, expected=case.expected, got=got,
                               hint=_backward_hint(case, case.expected, got, tape, y))
    return _len(cases)


def check_backward(backward, Tape, *, hidden=False):
    """Task 3.2: adjoints of tapes built from the course's examples (and random programs)."""
    n = _run_backward(backward, Tape, BACKWARD_CASES[_seed(hidden)], "backward(tape, y)")
    passed("backward(tape, y): every adjoint", n)


def check_backward_robust(backward, Tape):
    """Task 3.2: idempotent (called twice), y not the last entry, and a 5000-entry chain."""
    what = "backward(tape, y)"
    # 1. Twice on the same tape: the same answer.
    case = BackwardCase("f(x, y) = xy + e^{xy}", product_example, (1.0, 2.0))
    tape, y = case.build(Tape)
    first = attempt(backward, tape, y)
    if not same(_adjoints(first), case.expected):
        raise CheckFailure(what, inputs=case, expected=case.expected, got=first,
                           hint=_backward_hint(case, case.expected, first, tape, y))
    second = attempt(backward, tape, y)
    if not same(_adjoints(second), _adjoints(first)):
        doubled = same(_adjoints(second), 2 * _adjoints(first), "recognise")
        raise CheckFailure(what + ", called a second time on the same tape", inputs=case,
                           expected=case.expected, got=second,
                           hint=("the second call " + ("doubled" if doubled else "changed") +
                                 " the first one's adjoints: backward must be repeatable — start every "
                                 "call from fresh zeros (a new list inside backward), keep no state "
                                 "between calls"))
    # 2. Entries after y.  3. A deep tape.
    cases = [BackwardCase("f(x, y) = xy + e^{xy}", product_example, (1.0, 2.0), dead=2),
             BackwardCase("a chain x ← 0.9999·x + 0.0001, 2500 times (5000 entries)",
                          partial(chain, length=2500), (1.0,))]
    n = _run_backward(backward, Tape, cases, what)
    passed("backward: same adjoints when called twice, y not last, a 5000-entry tape", n + 1)


# ==========================================================================
# Task 3.3: grad
# ==========================================================================
def _example(f):
    return lambda ops: partial(f, ops=ops)


#: (formula, builder: ops -> function, number of inputs) — simplest first
GRAD_FUNCTIONS = [
    ("x", lambda o: lambda x: x, 1),
    ("x*y", lambda o: lambda x, y: x * y, 2),
    ("x*x*x", lambda o: lambda x: x * x * x, 1),
    ("x*x (y unused)", lambda o: lambda x, y: x * x, 2),
    ("x1*x2 + x2 - log(x1)", _example(adjoint_example), 2),
    ("x*y + exp(x*y)", _example(product_example), 2),
    ("x1*x2 - cos(x2)", _example(g_example), 2),
    ("(sin(x1/x2) + x1/x2 - exp(x2)) * (x1/x2 - exp(x2))", _example(worked_example), 2),
    ("2/x + x**3 - 1", lambda o: lambda x: 2 / x + x ** 3 - 1, 1),
    ("(a - b)*(a + c) / (1 + exp(-c))", lambda o: lambda a, b, c: (a - b) * (a + c) / (1 + o.exp(-c)), 3),
    ("-sin(x)*cos(y) + x**0.5", lambda o: lambda x, y: -o.sin(x) * o.cos(y) + x ** 0.5, 2),
]


class GradCase:
    """f = `formula` (built by `build` from the elementary functions) at the inputs `xs`."""

    def __init__(self, formula, build, xs):
        self.formula, self.build, self.xs = formula, build, xs

    def __repr__(self):
        return f"f = {self.formula} at {self.xs}"


def _grad_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    return [GradCase(formula, build, _tuple(round(float(v), 3) for v in rng.uniform(0.3, 2.0, n)))
            for formula, build, n in GRAD_FUNCTIONS for _ in _range(per_function)]


GRAD_CASES = {VISIBLE_SEED: _grad_cases(VISIBLE_SEED, 1), HIDDEN_SEED: _grad_cases(HIDDEN_SEED, 4)}


def _grad_reference(case):
    f = case.build(NUMPY)
    return _tuple(_float(g) for g in _ref_grad(f, _tuple(_range(_len(case.xs))))(*case.xs))


def _gradient(got):
    """The student's gradient as floats: None unless a tuple or list of plain numbers."""
    if not isinstance(got, (tuple, list)) or any(hasattr(g, "index") for g in got):
        return None
    return as_floats(got)


def _grad_hint(case, expected, got):
    if isinstance(got, Raised):
        return "your code raised an exception on this input"
    if not isinstance(got, (tuple, list)):
        return "return a tuple with one float per input: (∂f/∂x₁, …, ∂f/∂xₙ)"
    if any(hasattr(g, "index") for g in got):
        return "return plain floats (the adjoints of the inputs), not Var objects"
    g = _gradient(got)
    if g is None:
        return "return a tuple of floats"
    if _len(g) != _len(expected):
        return f"one partial derivative per input: {_len(expected)} here, you returned {_len(g)}"
    return "grad(f)(*xs): inputs on a fresh tape, y = f(*inputs), backward(tape, y), the inputs' adjoints"


def check_grad(grad, sin, cos, exp, log, *, hidden=False, backward=None, Tape=None):
    """Task 3.3: ``grad(f)(*xs)`` = (∂f/∂x₁, …) for functions built with the student's rules.

    With the student's `backward` (Task 3.2) and the lesson's `Tape`, a failure first asks
    whether the sweep or the rules (Task 3.1) fail their own checks, and if so says to fix
    that task first: grad only wires them together."""
    earlier = () if Tape is None else (
        (("backward (Task 3.2)", check_backward, (backward, Tape)),) if backward is not None else ()) + (
        ("sin, cos, exp, log (Task 3.1)", check_function_rules, (Tape, sin, cos, exp, log)),)
    try:
        _check_grad(grad, sin, cos, exp, log, hidden)
    except CheckFailure as failure:
        raise blamed(failure, earlier) from None


def _check_grad(grad, sin, cos, exp, log, hidden):
    seed = _seed(hidden)
    ops = Ops(sin, cos, exp, log)
    for case in GRAD_CASES[seed]:
        expected = _grad_reference(case)
        f = case.build(ops)
        got = attempt(lambda: grad(f)(*case.xs))
        if not same(_gradient(got), expected):
            raise CheckFailure("grad(f)(*xs)", inputs=case, expected=expected, got=got,
                               hint=_grad_hint(case, expected, got))
        again = attempt(lambda: grad(f)(*case.xs))   # no state may be kept between calls
        if not same(_gradient(again), expected):
            raise CheckFailure("grad(f)(*xs), called a second time", inputs=case,
                               expected=expected, got=again,
                               hint="each call must start a new Tape; keep no state between calls")
    _check_new_tape_per_call(grad, GRAD_CASES[seed][0], ops)
    passed("grad(f)(*xs): the gradient, one partial per input", _len(GRAD_CASES[seed]))


def _check_new_tape_per_call(grad, case, ops):
    """The task's rule "records f on a new tape": two calls, two tapes, each holding
    only the inputs when f starts (a tape kept between calls grows without end)."""
    f, seen = case.build(ops), []

    def observed(*xs):
        tape = getattr(xs[0], "tape", None) if xs else None
        seen.append((tape, attempt(len, tape) if tape is not None else None))
        return f(*xs)
    attempt(lambda: grad(observed)(*case.xs))
    attempt(lambda: grad(observed)(*case.xs))
    if len(seen) < 2 or seen[0][0] is None:
        return                                   # f never saw the tape's variables: nothing to observe
    (first, _), (second, size) = seen[0], seen[1]
    n = _len(case.xs)
    if second is first or size != n:
        raise CheckFailure("grad(f) records each call on a new tape", inputs=case,
                           expected=f"a new Tape per call, holding only the {n} inputs when f starts",
                           got=("the same tape as the previous call" if second is first else "a tape")
                           + f" already holding {size!r} entries",
                           hint="create the Tape inside the function that grad returns, not once outside it")
