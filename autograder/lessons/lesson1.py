r"""Lesson 1, dual numbers: the checks of the student's ``Dual`` class, and the lesson's widgets.

The student's class is used by duck typing: ``Dual(value, tangent)`` builds
:math:`a + b\varepsilon`, and a result is read through its ``.value`` and
``.tangent`` attributes (the names of :class:`autodiff_ref.Dual`). Results
are shown as ``(value, tangent)`` pairs.

==============================  ==============================================
``check_dual_arithmetic``        Task 1.1: + − × and unary − between two duals
``check_mixed_arithmetic``       Task 1.1: the same with a plain number on either side
``check_division``               Task 1.2: ÷ (dual/dual, dual/number, number/dual)
``check_pow``                    Task 1.3: ``d ** n`` for integer and real n
``check_sin_cos``                Task 1.4: ``sin(d)``, ``cos(d)``
``check_exp_log_sqrt``           Task 1.5: ``exp(d)``, ``log(d)``, ``sqrt(d)``
``check_derivative``             Task 1.6: ``derivative(f, x)`` on compositions
``check_newton_sqrt``            Task 1.7: √ by Newton's iteration, run on duals
==============================  ==============================================

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
from autograder.checks import CheckFailure, is_close, passed

_add, _sub, _mul, _truediv, _neg, _pow = (operator.add, operator.sub, operator.mul,
                                          operator.truediv, operator.neg, operator.pow)
_sin, _cos, _exp, _log, _sqrt = _np.sin, _np.cos, _np.exp, _np.log, _np.sqrt
_isclose = math.isclose
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

class _Raised:
    def __init__(self, err):
        self.err = err

    def __repr__(self):
        return f"{type(self.err).__name__}: {self.err}"


class _NotDual:
    def __init__(self, obj):
        self.obj = obj

    def __repr__(self):
        return f"{self.obj!r} (of type {type(self.obj).__name__}; expected a Dual with .value and .tangent)"


class _Mutated:
    def __init__(self, which, before, after):
        self.which, self.before, self.after = which, before, after

    def __repr__(self):
        return f"the operation changed its {self.which} operand from {self.before} to {self.after}"


def _read(d):
    """(value, tangent) of a student's dual, or a marker saying why not."""
    if not (hasattr(d, "value") and hasattr(d, "tangent")):
        return _NotDual(d)
    try:
        return (_float(d.value), _float(d.tangent))
    except (TypeError, ValueError):
        return _NotDual(d)


def _run_binary(Dual, case):
    op, kind = case.kind
    a, b, c, d = case.numbers
    left = Dual(a, b)
    right = Dual(c, d) if kind == "dd" else c
    if kind == "nd":
        left, right = c, Dual(a, b)
    try:
        out = op(left, right)
    except Exception as err:  # the student's bug, reported on its input
        return _Raised(err)
    for which, operand, numbers in (("left", left, (a, b) if kind != "nd" else None),
                                    ("right", right, (c, d) if kind == "dd" else (a, b) if kind == "nd" else None)):
        if numbers is not None and _read(operand) != tuple(float(v) for v in numbers):
            return _Mutated(which, numbers, _read(operand))
    return _read(out)


def _run_unary(Dual, fn, case):
    a, b = case.numbers[:2]
    arg = Dual(a, b)
    try:
        out = fn(arg) if case.kind[1] != "pow" else arg ** case.numbers[2]
    except Exception as err:
        return _Raised(err)
    if _read(arg) != (float(a), float(b)):
        return _Mutated("", (a, b), _read(arg))
    return _read(out)


def _compare(what, cases, run, hint, tol=(1e-12, 1e-12)):
    """Run every case (simplest first); raise CheckFailure with a hint at the first mismatch."""
    rtol, atol = tol
    for case in cases:
        got = run(case)
        if not is_close(got, case.expected, rtol, atol):
            try:
                message = _common_hint(got) or hint(case, got)
            except (ArithmeticError, ValueError, TypeError):  # a candidate undefined here
                message = None
            raise CheckFailure(what, inputs=case, expected=case.expected, got=got, hint=message)
    return len(cases)


def _common_hint(got):
    if isinstance(got, _NotDual):
        return "return a new Dual(value, tangent), e.g. `return Dual(..., ...)`"
    if isinstance(got, _Mutated):
        return ("an operation must not change its operands: build and return a new Dual "
                "instead of updating self.value / self.tangent")
    return None


def _q(x, y):
    """x / y for a hint's candidate answer; NaN (matching nothing) when y is 0."""
    return x / y if y else float("nan")


def _same(x, y):
    return _isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def _match(got, candidates):
    """The hint of the first candidate (value, tangent) that `got` equals."""
    if not isinstance(got, tuple):
        return None
    for (v, t), msg in candidates:
        if _same(got[0], v) and _same(got[1], t):
            return msg
    return None


def _value_or_tangent(case, got, rule):
    if isinstance(got, tuple) and not _same(got[0], case.expected[0]):
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
        if isinstance(got, _Raised):
            return "define __neg__(self) so that -Dual(a, b) works"
        return _match(got, [((-a, b), "−(a+bε) = −a − bε: negate the tangent too")]) or \
            _value_or_tangent(case, got, "−(a+bε) = −a − bε")
    a, b, c, d = case.numbers
    if isinstance(got, _Raised):
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
            a, b = case.numbers
            try:
                return _read(-Dual(a, b))
            except Exception as err:
                return _Raised(err)
        return _run_binary(Dual, case)
    return run


def _check(what, key, hidden, run, hint, tol=(1e-12, 1e-12)):
    cases = _CASES[(key, HIDDEN_SEED if hidden else VISIBLE_SEED)]
    n = _compare(what, cases, run, hint, tol)
    passed(what, n)


def check_dual_arithmetic(Dual, *, hidden=False):
    """Task 1.1: ``+ − ×`` between two duals and unary ``−``."""
    _check("Dual + − × Dual, and −Dual", "dual", hidden, _arith_run(Dual), _arith_hint)


def check_mixed_arithmetic(Dual, *, hidden=False):
    """Task 1.1: ``+ − ×`` with a plain number on either side (``__radd__`` & co.)."""
    _check("Dual + − × number, and number + − × Dual", "mixed", hidden, _arith_run(Dual), _arith_hint)


def check_division(Dual, *, hidden=False):
    """Task 1.2: ``/`` for dual/dual, dual/number and number/dual."""
    _check("Dual / Dual, Dual / number, number / Dual", "div", hidden, _arith_run(Dual), _arith_hint)


# --------------------------------------------------------------------------
# pow and the elementary functions
# --------------------------------------------------------------------------

def _pow_hint(case, got):
    a, b, n = case.numbers
    if isinstance(got, _Raised):
        return "your code raised an exception on this input (the exponent may be an int or a float)"
    v = a ** n
    wrong = [((v, n * a ** n * b), "power rule: d/dx xⁿ = n·xⁿ⁻¹, not n·xⁿ"),
             ((v, a ** (n - 1) * b), "power rule: the factor n is missing (n·aⁿ⁻¹·b)"),
             ((v, n * a ** (n - 1)), "chain rule: multiply by the tangent b (n·aⁿ⁻¹·b)"),
             ((v, (n - 1) * a ** (n - 1) * b), "power rule: n·aⁿ⁻¹, not (n−1)·aⁿ⁻¹"),
             ((v, n * a ** (n - 2) * b), "power rule: the exponent drops by one, n·aⁿ⁻¹")]
    return _match(got, wrong) or _value_or_tangent(case, got, "(a+bε)ⁿ = aⁿ + n·aⁿ⁻¹·b ε")


def check_pow(Dual, *, hidden=False):
    """Task 1.3: ``Dual(a, b) ** n`` for integer n (any sign) and real n (a > 0)."""
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
        if isinstance(got, _Raised):
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
    """Task 1.4: ``sin(d)`` and ``cos(d)`` for a Dual d."""
    _check_unary(Dual, (sin, cos), ("sin", "cos"), hidden)


def check_exp_log_sqrt(Dual, exp, log, sqrt, *, hidden=False):
    """Task 1.5: ``exp(d)``, ``log(d)`` and ``sqrt(d)`` for a Dual d."""
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
    """Task 1.6: ``derivative(f, x)`` with the student's Dual on compositions of everything."""
    ops = _Ops(sin, cos, exp, log, sqrt)

    def run(case):
        f = case.kind[1]
        try:
            got = derivative(lambda t: f(t, ops), case.numbers[0])
        except Exception as err:
            return _Raised(err)
        return got

    def hint(case, got):
        if isinstance(got, _Raised):
            return ("an exception: run the compositions of Tasks 1.1–1.5 on your Dual by hand "
                    "to find the operation that fails")
        if hasattr(got, "value") or isinstance(got, tuple):
            return "return the derivative as a number: the tangent of f(Dual(x, 1.0))"
        x = case.numbers[0]
        value = case.kind[1](x, _NUMPY_OPS)
        if _same(float(got), float(value)):
            return "you returned f(x); the derivative is the tangent of f(Dual(x, 1.0))"
        return ("evaluate f at Dual(x, 1.0) (the seed tangent dx/dx = 1) and return the tangent; "
                "if you do, one of your rules is still wrong on this composition")

    cases = _CASES[("composition", HIDDEN_SEED if hidden else VISIBLE_SEED)]
    for case in cases:
        got = run(case)
        if not is_close(got, case.expected, 1e-10, 1e-12):
            raise CheckFailure("derivative(f, x)", inputs=case, expected=case.expected, got=got,
                               hint=hint(case, got))
    passed("derivative(f, x) with your Dual matches autodiff_ref on compositions", len(cases))


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
        try:
            return _read(newton_sqrt(Dual(a, b)))
        except Exception as err:
            return _Raised(err)

    def hint(case, got):
        if isinstance(got, _Raised):
            return "your code raised an exception; it must work when x is a Dual"
        a, b = case.numbers
        if isinstance(got, tuple) and _same(got[0], math.sqrt(a)) and got[1] == 0.0:
            return ("the value converged but the tangent is 0: keep x a Dual all the way through "
                    "(do not use x.value inside the iteration)")
        if isinstance(got, tuple) and not _same(got[0], math.sqrt(a)):
            return "the value has not converged to √a: iterate y ← (y + x/y)/2 enough times from y = 1"
        return "the tangent must come out of the iteration itself: b/(2√a)"

    _check("newton_sqrt(x) on duals converges to (√a, b/(2√a))", "newton", hidden, run, hint,
           tol=(1e-10, 1e-12))


# ==========================================================================
# Widgets and figures of the lesson
# ==========================================================================

#: Functions of the tangent-line widget, written once for floats and duals alike.
TANGENT_FUNCTIONS = {
    "x·sin(x)": (lambda x: x * _sin(x), (-4.0, 4.0)),
    "exp(−x²)": (lambda x: _exp(-x * x), (-2.5, 2.5)),
    "x³ − 2x": (lambda x: x * x * x - 2 * x, (-2.0, 2.0)),
    "√x · log(x)": (lambda x: _sqrt(x) * _log(x), (0.05, 4.0)),
}


def plot_tangent_line(x=1.0, function="x·sin(x)", ax=None):
    """Plot f, and the tangent line at x read off the dual number f(x + 1ε) = f(x) + f'(x)ε."""
    import matplotlib.pyplot as plt

    f, (lo, hi) = TANGENT_FUNCTIONS[function]
    x = min(max(x, lo), hi)
    d = f(_RefDual(x, 1.0))
    value, slope = float(d.value), float(d.tangent)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(8.5, 4.8))
    grid = _np.linspace(lo, hi, 400)
    ys = f(grid)
    ax.plot(grid, ys, color="#1f77b4", lw=2.2, label=f"f(x) = {function}")
    span = 0.35 * (hi - lo)
    seg = _np.linspace(x - span, x + span, 2)
    ax.plot(seg, value + slope * (seg - x), color="#d62728", lw=1.8,
            label="tangent: f(x₀) + f′(x₀)·(x − x₀)")
    ax.plot([x], [value], "o", color="#d62728", ms=8, mec="black", zorder=5)
    pad = 0.15 * (ys.max() - ys.min())
    ax.set_ylim(ys.min() - pad, ys.max() + pad)
    ax.set_xlim(lo, hi)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("x")
    ax.set_title(f"f(x₀ + 1ε) = {value:.4f} + {slope:.4f} ε   at x₀ = {x:.2f}")
    ax.legend(loc="upper left", fontsize=9)
    ax.grid(True, alpha=0.3)
    if own:
        fig.tight_layout()
        plt.show()
    return ax


def tangent_line_widget():
    """A slider for x₀ and a menu of functions, redrawing :func:`plot_tangent_line`."""
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=1.0, min=-4.0, max=4.0, step=0.05, description="x₀",
                                 continuous_update=True, layout=widgets.Layout(width="60%"))
    menu = widgets.Dropdown(options=list(TANGENT_FUNCTIONS), value="x·sin(x)", description="f")

    def on_function(change):  # keep x₀ inside the new function's domain
        lo, hi = TANGENT_FUNCTIONS[change["new"]][1]
        slider.min, slider.max = min(lo, slider.min), max(hi, slider.max)
        slider.min, slider.max = lo, hi
        slider.value = min(max(slider.value, lo), hi)

    menu.observe(on_function, names="value")
    return widgets.interactive(plot_tangent_line, x=slider, function=menu, ax=widgets.fixed(None))


def newton_sqrt_iterates(x, iterations=8, start=1.0):
    """The iterates y_k of y ← (y + x/y)/2 from y₀ = start, on whatever x is (float or Dual)."""
    ys, y = [], start
    for _ in range(iterations):
        y = (y + x / y) / 2
        ys.append(y)
    return ys


def plot_newton_sqrt(a=2.0, iterations=8, ax=None):
    """Errors of the value and of the tangent of Newton's √ run on the dual a + 1ε."""
    import matplotlib.pyplot as plt

    ys = newton_sqrt_iterates(_RefDual(a, 1.0), iterations)
    root, slope = math.sqrt(a), 0.5 / math.sqrt(a)
    ks = _np.arange(1, iterations + 1)
    value_err = _np.array([abs(float(y.value) - root) / root for y in ys])
    tangent_err = _np.array([abs(float(y.tangent) - slope) / slope for y in ys])
    floor = 1e-17
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(8.5, 4.6))
    ax.semilogy(ks, _np.maximum(value_err, floor), "o-", color="#1f77b4", lw=2,
                label="value:   |y_k − √a| / √a")
    ax.semilogy(ks, _np.maximum(tangent_err, floor), "s--", color="#d62728", lw=2,
                label="tangent: |ẏ_k − 1/(2√a)| / (1/(2√a))")
    ax.axhline(2.2e-16, color="0.5", lw=1, ls=":")
    ax.text(ks[-1], 3e-16, "machine ε", ha="right", va="bottom", fontsize=9, color="0.4")
    ax.set_ylim(floor / 2, max(10.0, 3 * float(max(value_err.max(), tangent_err.max()))))
    ax.set_xticks(ks)
    ax.set_xlabel("Newton iteration k")
    ax.set_ylabel("relative error (0 drawn at 1e-17)")
    last = ys[-1]
    ax.set_title(f"√ of the dual {a:g} + 1ε by y ← (y + x/y)/2:  y_{iterations} = "
                 f"{float(last.value):.10f} + {float(last.tangent):.10f} ε")
    ax.legend(fontsize=9)
    ax.grid(True, alpha=0.3)
    if own:
        fig.tight_layout()
        plt.show()
    return ax


def newton_widget():
    """Sliders for a and for the number of iterations, redrawing :func:`plot_newton_sqrt`."""
    import ipywidgets as widgets

    a = widgets.FloatLogSlider(value=2.0, base=10, min=-2, max=3, step=0.05, description="a",
                               layout=widgets.Layout(width="55%"))
    k = widgets.IntSlider(value=8, min=1, max=14, description="iterations")
    return widgets.interactive(plot_newton_sqrt, a=a, iterations=k, ax=widgets.fixed(None))
