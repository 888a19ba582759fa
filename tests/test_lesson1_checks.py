"""Lesson 1's checks accept a right Dual class, reject realistic wrong ones with the right hint,
and the lesson notebook runs top to bottom (solutions in) and fails cleanly (solutions out)."""
import math
import re
from pathlib import Path

import numpy as np
import pytest

from autograder.checks import CheckFailure
from autograder.lessons import lesson1 as checks
from autograder.lessons.lesson1.checks import _CASES

from lesson_kit import failure_of

NOTEBOOK = Path(__file__).resolve().parents[1] / "course/source/lesson1_dual_numbers/lesson1_dual_numbers.ipynb"


# ----------------------------------------------------------- a right student answer

def make_dual(const_tangent=0.0):
    """A student's Dual class, right unless told otherwise; methods can be replaced per test."""

    class Dual:
        def __init__(self, value, tangent=0.0):
            self.value, self.tangent = value, tangent

        def __repr__(self):
            return f"Dual({self.value!r}, {self.tangent!r})"

        def __add__(self, o):
            o = lift(o)
            return Dual(self.value + o.value, self.tangent + o.tangent)

        def __radd__(self, o):
            return lift(o) + self

        def __sub__(self, o):
            o = lift(o)
            return Dual(self.value - o.value, self.tangent - o.tangent)

        def __rsub__(self, o):
            return lift(o) - self

        def __mul__(self, o):
            o = lift(o)
            return Dual(self.value * o.value, self.value * o.tangent + self.tangent * o.value)

        def __rmul__(self, o):
            return lift(o) * self

        def __neg__(self):
            return Dual(-self.value, -self.tangent)

        def __truediv__(self, o):
            o = lift(o)
            return Dual(self.value / o.value,
                        (self.tangent * o.value - self.value * o.tangent) / o.value ** 2)

        def __rtruediv__(self, o):
            return lift(o) / self

        def __pow__(self, n):
            return Dual(self.value ** n, n * self.value ** (n - 1) * self.tangent)

    def lift(x):
        return x if isinstance(x, Dual) else Dual(x, const_tangent)

    return Dual


Dual = make_dual()


def sin(d):
    return type(d)(math.sin(d.value), math.cos(d.value) * d.tangent)


def cos(d):
    return type(d)(math.cos(d.value), -math.sin(d.value) * d.tangent)


def exp(d):
    return type(d)(math.exp(d.value), math.exp(d.value) * d.tangent)


def log(d):
    return type(d)(math.log(d.value), d.tangent / d.value)


def sqrt(d):
    return type(d)(math.sqrt(d.value), d.tangent / (2 * math.sqrt(d.value)))


def derivative(f, x):
    return f(Dual(x, 1.0)).tangent


def newton_sqrt(x, iterations=30):
    y = 1.0
    for _ in range(iterations):
        y = (y + x / y) / 2
    return y


def all_checks(D=Dual, hidden=False, **over):
    fns = dict(sin=sin, cos=cos, exp=exp, log=log, sqrt=sqrt, derivative=derivative, newton=newton_sqrt)
    fns.update(over)
    checks.check_dual_arithmetic(D, hidden=hidden)
    checks.check_mixed_arithmetic(D, hidden=hidden)
    checks.check_division(D, hidden=hidden)
    checks.check_pow(D, hidden=hidden)
    checks.check_sin_cos(D, fns["sin"], fns["cos"], hidden=hidden)
    checks.check_exp_log_sqrt(D, fns["exp"], fns["log"], fns["sqrt"], hidden=hidden)
    checks.check_derivative(fns["derivative"], D, fns["sin"], fns["cos"], fns["exp"], fns["log"],
                            fns["sqrt"], hidden=hidden)
    checks.check_newton_sqrt(fns["newton"], D, hidden=hidden)


@pytest.mark.parametrize("hidden", [False, True])
def test_a_right_dual_class_passes_every_check(hidden, capsys):
    all_checks(hidden=hidden)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11 and all(line.startswith("✓") for line in lines)


def test_the_reference_dual_passes_too():
    """autodiff_ref.Dual with numpy's functions is a valid answer (duck typing)."""
    from autodiff_ref import Dual as Ref
    all_checks(Ref, sin=np.sin, cos=np.cos, exp=np.exp, log=np.log, sqrt=np.sqrt,
               derivative=lambda f, x: float(f(Ref(x, 1.0)).tangent))


def test_expected_values_are_the_closed_forms():
    """The tables computed with autodiff_ref agree with the textbook rules."""
    for case in _CASES[("div", checks.HIDDEN_SEED)]:
        a, b, c, d = case.numbers
        kind = case.kind[1]
        if kind == "dd":
            want = (a / c, (b * c - a * d) / c ** 2)
        elif kind == "dn":
            want = (a / c, b / c)
        else:
            want = (c / a, -c * b / a ** 2)
        assert case.expected == pytest.approx(want, rel=1e-12, abs=1e-12)
    for case in _CASES[("pow", checks.HIDDEN_SEED)]:
        a, b, n = case.numbers
        assert case.expected == pytest.approx((a ** n, n * a ** (n - 1) * b), rel=1e-12, abs=1e-12)
    for case in _CASES[("sqrt", checks.HIDDEN_SEED)]:
        a, b = case.numbers
        assert case.expected == pytest.approx((math.sqrt(a), b / (2 * math.sqrt(a))), rel=1e-12)


def test_worked_example_three_x_plus_two():
    case = _CASES[("composition", checks.VISIBLE_SEED)][0]
    assert repr(case) == "f(x) = 3*x + 2 at x = 4.0" and case.expected == 3.0
    d = 3 * Dual(4.0, 1.0) + 2
    assert (d.value, d.tangent) == (14.0, 3.0)


# ----------------------------------------------------------- wrong answers

def broken(**methods):
    D = make_dual()
    for name, fn in methods.items():
        setattr(D, name, fn)
    return D


def hint_of(check, *args, **kw):
    """The whole failure message (lesson 1's hints are read together with the values shown)."""
    return str(failure_of(check, *args, **kw))


def lifted(D, x):
    return x if isinstance(x, D) else D(x, 0.0)


def wrong_quotient(self, o):
    o = lifted(type(self), o)
    return type(self)(self.value / o.value, (self.value * o.tangent - self.tangent * o.value) / o.value ** 2)


def quotient_not_squared(self, o):
    o = lifted(type(self), o)
    return type(self)(self.value / o.value, (self.tangent * o.value - self.value * o.tangent) / o.value)


def product_missing_term(self, o):
    o = lifted(type(self), o)
    return type(self)(self.value * o.value, self.value * o.tangent)


def product_of_tangents(self, o):
    o = lifted(type(self), o)
    return type(self)(self.value * o.value, self.tangent * o.tangent)


def mutating_add(self, o):
    o = lifted(type(self), o)
    self.value, self.tangent = self.value + o.value, self.tangent + o.tangent
    return self


@pytest.mark.parametrize("check, methods, hint", [
    (checks.check_division, dict(__truediv__=wrong_quotient), "quotient rule sign error"),
    (checks.check_division, dict(__truediv__=quotient_not_squared), "divides by c², not by c"),
    (checks.check_division, dict(__rtruediv__=lambda s, o: s / o), "computes other / self"),
    (checks.check_division, dict(__rtruediv__=None), "define __rtruediv__"),
    (checks.check_dual_arithmetic, dict(__mul__=product_missing_term), "product rule: a term is missing"),
    (checks.check_dual_arithmetic, dict(__mul__=product_of_tangents), "ε², which is 0"),
    (checks.check_dual_arithmetic, dict(__neg__=lambda s: type(s)(-s.value, s.tangent)), "negate the tangent"),
    (checks.check_dual_arithmetic, dict(__add__=mutating_add), "must not change its operands"),
    (checks.check_dual_arithmetic, dict(__sub__=lambda s, o: (s.value - o.value, s.tangent - o.tangent)),
     "return a new Dual"),
    (checks.check_dual_arithmetic, dict(__sub__=lambda s, o: type(s)(s.value - o.value, s.tangent + o.tangent)),
     "b − d, not b + d"),
    (checks.check_mixed_arithmetic, dict(__radd__=None), "define __radd__"),
    (checks.check_mixed_arithmetic, dict(__rsub__=lambda s, o: s - o), "computes other − self"),
    (checks.check_mixed_arithmetic, dict(__rsub__=lambda s, o: type(s)(o - s.value, s.tangent)),
     "the tangent changes sign"),
    (checks.check_mixed_arithmetic,
     dict(__add__=lambda s, o: type(s)(s.value + o.value, s.tangent + o.tangent)), "turn a number x"),
    (checks.check_pow, dict(__pow__=lambda s, n: type(s)(s.value ** n, n * s.value ** n * s.tangent)),
     "not n·xⁿ"),
    (checks.check_pow, dict(__pow__=lambda s, n: type(s)(s.value ** n, s.value ** (n - 1) * s.tangent)),
     "the factor n is missing"),
    (checks.check_pow, dict(__pow__=lambda s, n: type(s)(s.value ** n, n * s.value ** (n - 1))),
     "multiply by the tangent b"),
])
def test_wrong_dual_arithmetic_is_named(check, methods, hint):
    assert hint in hint_of(check, broken(**methods))


def test_a_task_left_blank_is_called_not_done():
    def blank(self, *args):
        raise NotImplementedError()
    for check, name in ((checks.check_dual_arithmetic, "__mul__"), (checks.check_mixed_arithmetic, "__radd__"),
                        (checks.check_division, "__truediv__"), (checks.check_pow, "__pow__")):
        text = hint_of(check, broken(**{name: blank}))
        assert "NotImplementedError" in text and "not done" in text, name
    text = hint_of(checks.check_derivative, lambda f, x: blank(None), Dual, sin, cos, exp, log, sqrt)
    assert "not done" in text


def test_a_constant_with_tangent_one_is_named():
    assert "its tangent is 0, not 1" in hint_of(checks.check_mixed_arithmetic, make_dual(const_tangent=1.0))


@pytest.mark.parametrize("name, fn, hint", [
    ("sin", lambda d: Dual(math.sin(d.value), math.cos(d.value)), "chain rule"),
    ("sin", lambda d: Dual(math.sin(d.value), -math.cos(d.value) * d.tangent), "= +cos x"),
    ("sin", math.sin, "math.sin and np.sin do not know"),
    ("cos", lambda d: Dual(math.cos(d.value), math.sin(d.value) * d.tangent), "the sign is missing"),
    ("cos", lambda d: Dual(math.cos(d.value), -math.sin(d.value)), "chain rule"),
])
def test_wrong_trig_is_named(name, fn, hint):
    fns = dict(sin=sin, cos=cos)
    fns[name] = fn
    assert hint in hint_of(checks.check_sin_cos, Dual, fns["sin"], fns["cos"])


@pytest.mark.parametrize("name, fn, hint", [
    ("exp", lambda d: Dual(math.exp(d.value), math.exp(d.value)), "chain rule"),
    ("log", lambda d: Dual(math.log(d.value), 1 / d.value), "chain rule"),
    ("log", lambda d: Dual(math.log(d.value), d.tangent * math.log(d.value)), "d/dx log x = 1/x"),
    ("sqrt", lambda d: Dual(math.sqrt(d.value), d.tangent / math.sqrt(d.value)), "factor 1/2 is missing"),
    ("sqrt", lambda d: Dual(math.sqrt(d.value), 1 / (2 * math.sqrt(d.value))), "chain rule"),
    ("exp", None, "define a function exp"),
])
def test_wrong_exp_log_sqrt_is_named(name, fn, hint):
    fns = dict(exp=exp, log=log, sqrt=sqrt)
    fns[name] = fn
    assert hint in hint_of(checks.check_exp_log_sqrt, Dual, fns["exp"], fns["log"], fns["sqrt"])


def test_wrong_derivative_is_named():
    args = (Dual, sin, cos, exp, log, sqrt)
    assert "you returned f(x)" in hint_of(checks.check_derivative, lambda f, x: f(Dual(x, 1.0)).value, *args)
    assert "as a number" in hint_of(checks.check_derivative, lambda f, x: f(Dual(x, 1.0)), *args)
    # a wrong rule deep in a composition is caught by the composition check as well
    bad = broken(__truediv__=wrong_quotient)
    with pytest.raises(CheckFailure):
        checks.check_derivative(lambda f, x: f(bad(x, 1.0)).tangent, bad, sin, cos, exp, log, sqrt)


def test_wrong_newton_is_named():
    def value_only(x, iterations=30):
        y = 1.0
        for _ in range(iterations):
            y = (y + x.value / y) / 2
        return Dual(y, 0.0)

    assert "tangent is 0" in hint_of(checks.check_newton_sqrt, value_only, Dual)
    assert "not converged" in hint_of(checks.check_newton_sqrt, lambda x: newton_sqrt(x, 3), Dual)


def test_checks_survive_a_notebook_rebinding_numpy(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "sin", lambda x: x)
    monkeypatch.setattr(np, "cos", lambda x: x)
    with pytest.raises(CheckFailure):
        checks.check_division(broken(__truediv__=wrong_quotient))
    checks.check_sin_cos(Dual, sin, cos, hidden=True)
    checks.check_derivative(derivative, Dual, sin, cos, exp, log, sqrt, hidden=True)


# ----------------------------------------------------------- widgets

def test_widgets_and_figures_draw_headless(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda: None)
    for name in checks.TANGENT_FUNCTIONS:
        ax = checks.plot_tangent_line(0.7, name)
        # the drawn tangent's slope is the derivative (by a central difference of f)
        f = checks.TANGENT_FUNCTIONS[name][0]
        (xs, ys) = ax.lines[1].get_data()
        slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        assert slope == pytest.approx((f(0.7 + 1e-6) - f(0.7 - 1e-6)) / 2e-6, rel=1e-6)
        plt.close(ax.figure)
    ax = checks.plot_newton_sqrt(3.0, 10)
    plt.close(ax.figure)
    w = checks.tangent_line_widget()
    w.children[1].value = "√x · log(x)"        # the slider moves into the new domain
    assert w.children[0].min == pytest.approx(0.05) and w.children[0].value >= 0.05
    checks.newton_widget()
    plt.close("all")


def test_newton_iterates_on_duals_converge_to_the_derivative():
    from autodiff_ref import Dual as Ref
    y = checks.newton_sqrt_iterates(Ref(7.0, 1.0), 12)[-1]
    assert float(y.value) == pytest.approx(math.sqrt(7.0), rel=1e-15)
    assert float(y.tangent) == pytest.approx(0.5 / math.sqrt(7.0), rel=1e-14)


# ----------------------------------------------------------- the notebook

SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
