r"""Lesson 1's checks: the student's ``Dual`` class against :class:`autodiff_ref.Dual`.

The student's class is used by duck typing: ``Dual(value, tangent)`` builds
:math:`a + b\varepsilon`, and a result is read through its ``.value`` and
``.tangent`` attributes (the names of :class:`autodiff_ref.Dual`). Results
are shown as ``(value, tangent)`` pairs.

Every expected result is computed here at import, with :class:`autodiff_ref.Dual`
(the oracle), before any student cell runs; the checks then only compare, with
helpers bound at import. ``hidden=True`` selects the larger table of the
hidden tests (another seed, more inputs).
"""
import math
import operator

import numpy as _np

from autodiff_ref import Dual as _RefDual
from autodiff_ref import derivative as _ref_derivative
from autograder.checks import NOT_DONE_HINT, Raised, attempt, passed, same
from autograder.checks import CheckFailure

_add, _sub, _mul, _truediv, _neg, _pow = (operator.add, operator.sub, operator.mul,
                                          operator.truediv, operator.neg, operator.pow)
_sin, _cos, _exp, _log, _sqrt = _np.sin, _np.cos, _np.exp, _np.log, _np.sqrt
_float = float
VISIBLE_SEED, HIDDEN_SEED = 0, 1
SYMBOL = {_add: "+", _sub: "-", _mul: "*", _truediv: "/", _pow: "**"}


# --------------------------------------------------------------------------
# cases: what is computed, on which numbers, and the reference's answer
# --------------------------------------------------------------------------

class _Case:
    """One input of a check: a label to show, the numbers, and the reference's (value, tangent)."""

    def __init__(self, label, kind, numbers, expected):
        self.label, self.kind, self.numbers, self.expected = label, kind, numbers, expected

    def __repr__(self):
        return self.label


def _fmt(v):
    return repr(float(v))


def _ref_pair(d):
    return (float(d.value), float(d.tangent))


def _binary_case(op, kind, a, b, c, d=0.0):
    """kind: 'dd' (Dual op Dual), 'dn' (Dual op number), 'nd' (number op Dual); the number is c."""
    if kind == "dd":
        label = f"Dual({_fmt(a)}, {_fmt(b)}) {SYMBOL[op]} Dual({_fmt(c)}, {_fmt(d)})"
        ref = op(_RefDual(a, b), _RefDual(c, d))
    elif kind == "dn":
        label = f"Dual({_fmt(a)}, {_fmt(b)}) {SYMBOL[op]} {_fmt(c)}"
        ref = op(_RefDual(a, b), c)
    else:
        label = f"{_fmt(c)} {SYMBOL[op]} Dual({_fmt(a)}, {_fmt(b)})"
        ref = op(c, _RefDual(a, b))
    return _Case(label, (op, kind), (a, b, c, d), _ref_pair(ref))


def _draw(rng, lo=-3.0, hi=3.0, away_from_zero=0.0):
    while True:
        v = round(float(rng.uniform(lo, hi)), 2)
        if abs(v) >= away_from_zero:
            return v


def _arith_cases(seed, n, kinds, ops):
    rng = _np.random.default_rng(seed)
    cases = []
    # simplest first: small integers (a dual and a number; then two duals whose
    # numbers are distinct primes, so that every wrong rule gives a different answer)
    for op in ops:
        for kind in kinds:
            if kind != "dd":
                cases.append(_binary_case(op, kind, 2.0, 1.0, 3.0))
    for op in ops:
        for kind in kinds:
            cases.append(_binary_case(op, kind, 2.0, 3.0, 5.0, 7.0))
    for _ in range(n):
        for op in ops:
            for kind in kinds:
                away = 0.25 if op is _truediv else 0.0
                a, c = _draw(rng, away_from_zero=away), _draw(rng, away_from_zero=away)
                cases.append(_binary_case(op, kind, a, _draw(rng), c, _draw(rng)))
    return cases


def _neg_cases(seed, n):
    rng = _np.random.default_rng(seed)
    pairs = [(2.0, 3.0)] + [(_draw(rng), _draw(rng)) for _ in range(n)]
    return [_Case(f"-Dual({_fmt(a)}, {_fmt(b)})", (_neg, "d"), (a, b), _ref_pair(-_RefDual(a, b)))
            for a, b in pairs]


_SIZES = {VISIBLE_SEED: 4, HIDDEN_SEED: 25}
_CASES = {}
for _seed, _n in _SIZES.items():
    _CASES[("dual", _seed)] = (_arith_cases(_seed, _n, ("dd",), (_add, _sub, _mul))
                               + _neg_cases(_seed, _n))
    _CASES[("mixed", _seed)] = _arith_cases(_seed + 100, _n, ("dn", "nd"), (_add, _sub, _mul))
    _CASES[("div", _seed)] = _arith_cases(_seed + 200, _n, ("dd", "dn", "nd"), (_truediv,))


def _pow_cases(seed, n):
    rng = _np.random.default_rng(seed + 300)
    # first cases chosen so that each wrong power rule gives a different tangent
    spec = [(2.0, 1.0, 3), (2.0, 5.0, 3), (3.0, 1.0, 2), (1.5, 2.0, 1), (1.5, 2.0, 0), (2.0, 3.0, -1),
            (4.0, 1.0, 0.5), (2.0, 3.0, 2.5)]
    for _ in range(n):
        spec.append((_draw(rng, away_from_zero=0.3), _draw(rng), int(rng.integers(-3, 6))))
        spec.append((round(float(rng.uniform(0.2, 3.0)), 2), _draw(rng), round(float(rng.uniform(-2.5, 3.5)), 2)))
    return [_Case(f"Dual({_fmt(a)}, {_fmt(b)}) ** {p!r}", (_pow, "pow"), (a, b, p),
                  _ref_pair(_RefDual(a, b) ** p)) for a, b, p in spec]


def _unary_cases(seed, n, name, fn, domain):
    rng = _np.random.default_rng(seed + 400 + len(name))
    lo, hi = domain
    pairs = [(1.0, 1.0), (1.0, 2.0)] + [(round(float(rng.uniform(lo, hi)), 2), _draw(rng))
                                        for _ in range(n)]
    return [_Case(f"{name}(Dual({_fmt(a)}, {_fmt(b)}))", (name, "unary"), (a, b),
                  _ref_pair(fn(_RefDual(a, b)))) for a, b in pairs]


UNARY = {"sin": (_sin, (-3.0, 3.0)), "cos": (_cos, (-3.0, 3.0)), "exp": (_exp, (-2.0, 2.0)),
         "log": (_log, (0.1, 5.0)), "sqrt": (_sqrt, (0.1, 5.0))}
for _seed, _n in _SIZES.items():
    _CASES[("pow", _seed)] = _pow_cases(_seed, _n)
    for _name, (_fn, _dom) in UNARY.items():
        _CASES[(_name, _seed)] = _unary_cases(_seed, _n, _name, _fn, _dom)


# --------------------------------------------------------------------------
# running the student's code on a case
# --------------------------------------------------------------------------

class _Observed:
    """What came back instead of a (value, tangent) pair: ``"not a dual"`` or ``"mutated"``
    (an operand changed in place), shown in the failure message as `text`."""

    def __init__(self, kind, text):
        self.kind, self.text = kind, text

    def __repr__(self):
        return self.text


def _not_dual(obj):
    return _Observed("not a dual", f"{obj!r} (of type {type(obj).__name__}; "
                                   "expected a Dual with .value and .tangent)")


def _mutated(which, before, after):
    operand = f"{which} operand" if which else "operand"
    return _Observed("mutated", f"the operation changed its {operand} from {before} to {after}")


def _read(d):
    """(value, tangent) of a student's dual, or a marker saying why not."""
    if not (hasattr(d, "value") and hasattr(d, "tangent")):
        return _not_dual(d)
    try:
        return (_float(d.value), _float(d.tangent))
    except (TypeError, ValueError):
        return _not_dual(d)


def _run_binary(Dual, case):
    op, kind = case.kind
    a, b, c, d = case.numbers
    left = Dual(a, b)
    right = Dual(c, d) if kind == "dd" else c
    if kind == "nd":
        left, right = c, Dual(a, b)
    out = attempt(op, left, right)
    if isinstance(out, Raised):
        return out
    for which, operand, numbers in (("left", left, (a, b) if kind != "nd" else None),
                                    ("right", right, (c, d) if kind == "dd" else (a, b) if kind == "nd" else None)):
        if numbers is not None and _read(operand) != tuple(float(v) for v in numbers):
            return _mutated(which, numbers, _read(operand))
    return _read(out)


def _run_unary(Dual, fn, case):
    a, b = case.numbers[:2]
    arg = Dual(a, b)
    out = attempt(fn, arg) if case.kind[1] != "pow" else attempt(_pow, arg, case.numbers[2])
    if isinstance(out, Raised):
        return out
    if _read(arg) != (float(a), float(b)):
        return _mutated(None, (a, b), _read(arg))
    return _read(out)


def _check(what, key, hidden, run, hint, *, tol="exact", done=None):
    """Run every case of the table `key` (simplest first) and print ✓ `done`; at the first
    mismatch raise CheckFailure with ``hint(case, got)``, which also sees exceptions (as
    :class:`~autograder.checks.Raised`): a TypeError from ``number + Dual`` names ``__radd__``."""
    cases = _CASES[(key, HIDDEN_SEED if hidden else VISIBLE_SEED)]
    for case in cases:
        got = run(case)
        if not same(got, case.expected, tol):
            try:
                message = _common_hint(got) or hint(case, got)
            except (ArithmeticError, ValueError, TypeError):  # a candidate undefined here
                message = None
            raise CheckFailure(what, inputs=case, expected=case.expected, got=got, hint=message)
    passed(done or what, len(cases))


def _common_hint(got):
    if isinstance(got, Raised) and got.not_done:
        return NOT_DONE_HINT
    if isinstance(got, _Observed) and got.kind == "not a dual":
        return "return a new Dual(value, tangent), e.g. `return Dual(..., ...)`"
    if isinstance(got, _Observed) and got.kind == "mutated":
        return ("an operation must not change its operands: build and return a new Dual "
                "instead of updating self.value / self.tangent")
    return None


def _q(x, y):
    """x / y for a hint's candidate answer; NaN (matching nothing) when y is 0."""
    return x / y if y else float("nan")


def _match(got, candidates):
    """The hint of the first candidate (value, tangent) that `got` equals."""
    if not isinstance(got, tuple):
        return None
    for (v, t), msg in candidates:
        if same(got, (v, t), "recognise"):
            return msg
    return None


def _value_or_tangent(case, got, rule):
    if isinstance(got, tuple) and not same(got[0], case.expected[0], "recognise"):
        return f"the value part is wrong; it is the ordinary result of the operation on the values ({rule})"
    return f"the value part is right, the tangent (ε part) is wrong: {rule}"


# --------------------------------------------------------------------------
# hints for arithmetic
# --------------------------------------------------------------------------

_REFLECTED = {_add: "__radd__", _sub: "__rsub__", _mul: "__rmul__", _truediv: "__rtruediv__"}
_FORWARD = {_add: "__add__", _sub: "__sub__", _mul: "__mul__", _truediv: "__truediv__"}
_RULE = {_add: "(a+bε) + (c+dε) = (a+c) + (b+d)ε", _sub: "(a+bε) − (c+dε) = (a−c) + (b−d)ε",
         _mul: "(a+bε)(c+dε) = ac + (ad+bc)ε", _truediv: "(a+bε)/(c+dε) = a/c + (bc−ad)/c² ε"}


def _arith_hint(case, got):
    op, kind = case.kind
    if op is _neg:
        a, b = case.numbers
        if isinstance(got, Raised):
            return "define __neg__(self) so that -Dual(a, b) works"
        return _match(got, [((-a, b), "−(a+bε) = −a − bε: negate the tangent too")]) or \
            _value_or_tangent(case, got, "−(a+bε) = −a − bε")
    a, b, c, d = case.numbers
    if isinstance(got, Raised):
        err = got.err
        if kind == "nd" and isinstance(err, TypeError):
            return (f"`number {SYMBOL[op]} Dual` makes Python call the Dual's {_REFLECTED[op]} "
                    f"(the number does not know about duals): define {_REFLECTED[op]}(self, other)")
        if kind == "dn" and isinstance(err, (TypeError, AttributeError)):
            return (f"the other operand can be a plain number: in {_FORWARD[op]}, turn a number x "
                    f"into Dual(x, 0.0) first (a constant has tangent 0)")
        return "your code raised an exception on this input"
    x = c  # the plain number, when there is one
    if kind == "dd":
        wrong = {
            _add: [((a + c, b * d), "the tangents add: b + d (you multiplied them)"),
                   ((a + c, b), "the tangent of a sum is b + d: the second tangent is missing")],
            _sub: [((a - c, b + d), "the tangent of a difference is b − d, not b + d"),
                   ((a - c, d - b), "the tangent of a difference is b − d (you computed d − b)"),
                   ((a - c, b), "the tangent of a difference is b − d: the second tangent is missing")],
            _mul: [((a * c, a * d), "product rule: a term is missing — the tangent is a·d + b·c (you have only a·d)"),
                   ((a * c, b * c), "product rule: a term is missing — the tangent is a·d + b·c (you have only b·c)"),
                   ((a * c, b * d), "the tangents do not simply multiply: b·d multiplies ε², which is 0; "
                                    "the tangent is a·d + b·c"),
                   ((a * c, a * d + b * c + b * d), "drop the b·d term: it multiplies ε² = 0")],
            _truediv: [((a / c, (a * d - b * c) / c ** 2),
                        "quotient rule sign error: the tangent is (b·c − a·d)/c², you have (a·d − b·c)/c²"),
                       ((a / c, (b * c - a * d) / c), "the quotient rule divides by c², not by c"),
                       ((a / c, (b * c + a * d) / c ** 2), "the quotient rule has a minus: (b·c − a·d)/c²"),
                       ((a / c, _q(b, d)), "tangents do not divide like values: (a+bε)/(c+dε) = a/c + (bc−ad)/c² ε"),
                       ((a / c, b / c), "the term −a·d/c² is missing: the tangent is (b·c − a·d)/c²")],
        }[op]
    elif kind == "dn":
        wrong = {
            _add: [((a + x, b + 1), "a plain number is a constant: its tangent is 0, not 1")],
            _sub: [((a - x, b - 1), "a plain number is a constant: its tangent is 0, not 1")],
            _mul: [((a * x, b), "multiplying by a number scales the tangent too: (a+bε)·x = ax + bxε"),
                   ((a * x, b * x + a), "a plain number is a constant: its tangent is 0, not 1")],
            _truediv: [((a / x, b), "dividing by a number scales the tangent too: (a+bε)/x = a/x + (b/x)ε "
                                    "(if you used the quotient rule (b·c − a·d)/c²: it divides by c², not by c)"),
                       ((a / x, -b / x), "quotient rule sign error: with x = Dual(x, 0) the tangent is "
                                         "(b·x − a·0)/x² = b/x; you have −b/x, i.e. (a·d − b·c)/c²"),
                       ((a / x, (b * x - a) / x ** 2), "a plain number is a constant: its tangent is 0, not 1")],
        }[op]
    else:  # number op Dual
        wrong = {
            _add: [((x + a, b + 1), "a plain number is a constant: its tangent is 0, not 1")],
            _sub: [((a - x, b), f"{_REFLECTED[op]}(self, other) computes other − self; you computed self − other"),
                   ((x - a, b), "x − (a+bε) = (x−a) − bε: the tangent changes sign"),
                   ((x - a, 1 - b), "a plain number is a constant: its tangent is 0, not 1")],
            _mul: [((x * a, a), "x·(a+bε) = xa + xbε"),
                   ((x * a, b * x + a), "a plain number is a constant: its tangent is 0, not 1")],
            _truediv: [((a / x, b / x), f"{_REFLECTED[op]}(self, other) computes other / self; you computed self / other"),
                       ((x / a, x * b / a ** 2), "x/(a+bε) = x/a − (x·b/a²)ε: the tangent has a minus sign"),
                       ((x / a, b / a), "x/(a+bε) = x/a − (x·b/a²)ε (think of x as Dual(x, 0))"),
                       ((x / a, 0.0), "the tangent of x/(a+bε) is −x·b/a², not 0")],
        }[op]
    return _match(got, wrong) or _value_or_tangent(case, got, _RULE[op])


def _arith_run(Dual):
    def run(case):
        if case.kind[0] is _neg:
            return _run_unary(Dual, _neg, case)
        return _run_binary(Dual, case)
    return run


def check_dual_arithmetic(Dual, *, hidden=False):
    r"""Task 1.1: ``+ − ×`` between two duals and unary ``−``:
    (a+bε) ± (c+dε) = (a±c) + (b±d)ε,  (a+bε)(c+dε) = ac + (ad+bc)ε  (ε² = 0),  −(a+bε) = −a − bε."""
    _check("Dual + − × Dual, and −Dual", "dual", hidden, _arith_run(Dual), _arith_hint)


def check_mixed_arithmetic(Dual, *, hidden=False):
    r"""Task 1.1: ``+ − ×`` with a plain number x on either side (``__radd__`` & co.): x is the
    constant x + 0ε, so x·(a+bε) = xa + xbε and x − (a+bε) = (x−a) − bε."""
    _check("Dual + − × number, and number + − × Dual", "mixed", hidden, _arith_run(Dual), _arith_hint)


def check_division(Dual, *, hidden=False):
    r"""Task 1.2: ``/`` for dual/dual, dual/number and number/dual:
    (a+bε)/(c+dε) = a/c + (bc − ad)/c² ε."""
    _check("Dual / Dual, Dual / number, number / Dual", "div", hidden, _arith_run(Dual), _arith_hint)


# --------------------------------------------------------------------------
# pow and the elementary functions
# --------------------------------------------------------------------------

def _pow_hint(case, got):
    a, b, n = case.numbers
    if isinstance(got, Raised):
        return "your code raised an exception on this input (the exponent may be an int or a float)"
    v = a ** n
    wrong = [((v, n * a ** n * b), "power rule: d/dx xⁿ = n·xⁿ⁻¹, not n·xⁿ"),
             ((v, a ** (n - 1) * b), "power rule: the factor n is missing (n·aⁿ⁻¹·b)"),
             ((v, n * a ** (n - 1)), "chain rule: multiply by the tangent b (n·aⁿ⁻¹·b)"),
             ((v, (n - 1) * a ** (n - 1) * b), "power rule: n·aⁿ⁻¹, not (n−1)·aⁿ⁻¹"),
             ((v, n * a ** (n - 2) * b), "power rule: the exponent drops by one, n·aⁿ⁻¹")]
    return _match(got, wrong) or _value_or_tangent(case, got, "(a+bε)ⁿ = aⁿ + n·aⁿ⁻¹·b ε")


def check_pow(Dual, *, hidden=False):
    r"""Task 1.3: (a+bε)ⁿ = aⁿ + n·aⁿ⁻¹·b ε, for integer n (any sign) and real n (a > 0)."""
    _check("Dual ** n (integer and real n)", "pow", hidden,
           lambda case: _run_unary(Dual, None, case), _pow_hint)


_UNARY_WRONG = {
    "sin": lambda a, b: [((_sin(a), _cos(a)), "chain rule: multiply by the tangent: sin(a+bε) = sin a + (cos a)·b ε"),
                         ((_sin(a), -_cos(a) * b), "d/dx sin x = +cos x"),
                         ((_sin(a), _sin(a) * b), "d/dx sin x = cos x, not sin x")],
    "cos": lambda a, b: [((_cos(a), _sin(a) * b), "d/dx cos x = −sin x: the sign is missing"),
                         ((_cos(a), -_sin(a)), "chain rule: multiply by the tangent: cos(a+bε) = cos a − (sin a)·b ε"),
                         ((_cos(a), _sin(a)), "cos(a+bε) = cos a − (sin a)·b ε: the minus sign and the factor b")],
    "exp": lambda a, b: [((_exp(a), _exp(a)), "chain rule: multiply by the tangent: exp(a+bε) = eᵃ + eᵃ·b ε"),
                         ((_exp(a), a * _exp(a - 1) * b), "eˣ is not a power of x: d/dx eˣ = eˣ")],
    "log": lambda a, b: [((_log(a), 1 / a), "chain rule: multiply by the tangent: log(a+bε) = log a + (b/a) ε"),
                         ((_log(a), b * _log(a)), "d/dx log x = 1/x"),
                         ((_log(a), _q(a, b)), "the tangent is b/a, not a/b")],
    "sqrt": lambda a, b: [((_sqrt(a), b / _sqrt(a)), "d/dx √x = 1/(2√x): the factor 1/2 is missing"),
                          ((_sqrt(a), 1 / (2 * _sqrt(a))), "chain rule: multiply by the tangent: b/(2√a)"),
                          ((_sqrt(a), b * _sqrt(a) / 2), "d/dx √x = 1/(2√x), not √x/2")],
}
_UNARY_RULE = {"sin": "sin(a+bε) = sin a + b·cos a ε", "cos": "cos(a+bε) = cos a − b·sin a ε",
               "exp": "exp(a+bε) = eᵃ + b·eᵃ ε", "log": "log(a+bε) = log a + (b/a) ε",
               "sqrt": "√(a+bε) = √a + b/(2√a) ε"}


def _unary_hint(name):
    def hint(case, got):
        if isinstance(got, Raised):
            return (f"your {name} raised an exception; it receives a Dual — compute with d.value and "
                    f"d.tangent (math.{name} and np.{name} do not know about your Dual)")
        a, b = case.numbers
        return _match(got, _UNARY_WRONG[name](a, b)) or _value_or_tangent(case, got, _UNARY_RULE[name])
    return hint


def _check_unary(Dual, fns, names, hidden):
    for name, fn in zip(names, fns):
        if not callable(fn):
            raise CheckFailure(f"{name}(Dual)", inputs=name, got=fn, expected="a function",
                               hint=f"define a function {name}(d) that takes a Dual and returns a Dual")
        _check(f"{name}(Dual)", name, hidden, lambda case, fn=fn: _run_unary(Dual, fn, case),
               _unary_hint(name))


def check_sin_cos(Dual, sin, cos, *, hidden=False):
    r"""Task 1.4: sin(a+bε) = sin a + b·cos a ε and cos(a+bε) = cos a − b·sin a ε."""
    _check_unary(Dual, (sin, cos), ("sin", "cos"), hidden)


def check_exp_log_sqrt(Dual, exp, log, sqrt, *, hidden=False):
    r"""Task 1.5: exp(a+bε) = eᵃ + b·eᵃ ε, log(a+bε) = log a + (b/a) ε, √(a+bε) = √a + b/(2√a) ε."""
    _check_unary(Dual, (exp, log, sqrt), ("exp", "log", "sqrt"), hidden)


# --------------------------------------------------------------------------
# compositions: derivative(f, x) with the student's Dual and functions
# --------------------------------------------------------------------------

class _Ops:
    def __init__(self, sin, cos, exp, log, sqrt):
        self.sin, self.cos, self.exp, self.log, self.sqrt = sin, cos, exp, log, sqrt


_NUMPY_OPS = _Ops(_sin, _cos, _exp, _log, _sqrt)

#: (formula, f(x, ops), domain): simplest first; each uses only + − × ÷ ** and the five functions.
COMPOSITIONS = [
    ("3*x + 2", lambda x, m: 3 * x + 2, (4.0, 4.0)),
    ("x*x*x - 2*x", lambda x, m: x * x * x - 2 * x, (-2.0, 2.0)),
    ("1 / (1 + exp(-x))", lambda x, m: 1 / (1 + m.exp(-x)), (-3.0, 3.0)),
    ("sin(x**2) * exp(-x)", lambda x, m: m.sin(x ** 2) * m.exp(-x), (-2.0, 2.0)),
    ("log(1 + x*x) / sqrt(x + 3)", lambda x, m: m.log(1 + x * x) / m.sqrt(x + 3), (-2.0, 3.0)),
    ("x**2.5 * cos(3*x) - 1/x", lambda x, m: x ** 2.5 * m.cos(3 * x) - 1 / x, (0.3, 3.0)),
    ("sqrt(sin(x)**2 + 1) - 0.5*x", lambda x, m: m.sqrt(m.sin(x) ** 2 + 1) - 0.5 * x, (-3.0, 3.0)),
    ("exp(sin(cos(x))) / (2 - cos(x))", lambda x, m: m.exp(m.sin(m.cos(x))) / (2 - m.cos(x)), (-3.0, 3.0)),
]


def _composition_cases(seed, n):
    rng = _np.random.default_rng(seed + 500)
    cases = []
    for formula, f, (lo, hi) in COMPOSITIONS:
        xs = [lo] if lo == hi else [round(float(rng.uniform(lo, hi)), 3) for _ in range(n)]
        for x in xs:
            expected = float(_ref_derivative(lambda t, f=f: f(t, _NUMPY_OPS))(x))
            cases.append(_Case(f"f(x) = {formula} at x = {x!r}", ("composition", f), (x,),
                               expected))
    return cases


for _seed, _n in ((VISIBLE_SEED, 2), (HIDDEN_SEED, 8)):
    _CASES[("composition", _seed)] = _composition_cases(_seed, _n)


def check_derivative(derivative, Dual, sin, cos, exp, log, sqrt, *, hidden=False):
    r"""Task 1.6: ``derivative(f, x)`` is the tangent of f(x + 1ε), f′(x), with the student's Dual
    and functions on compositions of everything."""
    ops = _Ops(sin, cos, exp, log, sqrt)

    def run(case):
        f = case.kind[1]
        return attempt(derivative, lambda t: f(t, ops), case.numbers[0])

    def hint(case, got):
        if isinstance(got, Raised):
            return ("an exception: run the compositions of Tasks 1.1–1.5 on your Dual by hand "
                    "to find the operation that fails")
        if hasattr(got, "value") or isinstance(got, tuple):
            return "return the derivative as a number: the tangent of f(Dual(x, 1.0))"
        x = case.numbers[0]
        value = case.kind[1](x, _NUMPY_OPS)
        if same(got, value, "recognise"):
            return "you returned f(x); the derivative is the tangent of f(Dual(x, 1.0))"
        return ("evaluate f at Dual(x, 1.0) (the seed tangent dx/dx = 1) and return the tangent; "
                "if you do, one of your rules is still wrong on this composition")

    _check("derivative(f, x)", "composition", hidden, run, hint, tol="rounding",
           done="derivative(f, x) with your Dual matches autodiff_ref on compositions")


# --------------------------------------------------------------------------
# Task 1.7: Newton's square root, run on duals
# --------------------------------------------------------------------------

def _newton_cases(seed, n):
    rng = _np.random.default_rng(seed + 600)
    pairs = [(4.0, 1.0), (2.0, 1.0), (9.0, 2.0)] + [(round(float(10 ** rng.uniform(-2, 2)), 4), _draw(rng))
                                                     for _ in range(n)]
    return [_Case(f"newton_sqrt(Dual({_fmt(a)}, {_fmt(b)}))", ("newton", "sqrt"), (a, b),
                  _ref_pair(_sqrt(_RefDual(a, b)))) for a, b in pairs]


for _seed, _n in _SIZES.items():
    _CASES[("newton", _seed)] = _newton_cases(_seed, _n)


def check_newton_sqrt(newton_sqrt, Dual, *, hidden=False):
    """Task 1.7: Newton's iteration y ← (y + x/y)/2 on a Dual x converges to (√a, b/(2√a))."""
    def run(case):
        a, b = case.numbers
        got = attempt(newton_sqrt, Dual(a, b))
        return got if isinstance(got, Raised) else _read(got)

    def hint(case, got):
        if isinstance(got, Raised):
            return "your code raised an exception; it must work when x is a Dual"
        a, b = case.numbers
        if isinstance(got, tuple) and same(got[0], math.sqrt(a), "recognise") and got[1] == 0.0:
            return ("the value converged but the tangent is 0: keep x a Dual all the way through "
                    "(do not use x.value inside the iteration)")
        if isinstance(got, tuple) and not same(got[0], math.sqrt(a), "recognise"):
            return "the value has not converged to √a: iterate y ← (y + x/y)/2 enough times from y = 1"
        return "the tangent must come out of the iteration itself: b/(2√a)"

    _check("newton_sqrt(x) on duals converges to (√a, b/(2√a))", "newton", hidden, run, hint,
           tol="rounding")

