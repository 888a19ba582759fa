"""Lesson 3's checks: pass on a correct tape-based reverse mode, fail with the
expected hint on realistic wrong ones (rule by rule, adjoint accumulation,
sweep order, idempotence, recursion)."""
import math

import numpy as np
import pytest

from autograder.checks import CheckFailure
from autograder.lessons import lesson3 as checks
from autograder.lessons.lesson3.checks import BACKWARD_CASES, RULE_EXPECTED, VISIBLE_SEED


def hint_of(check, *args, **kwargs):
    with pytest.raises(CheckFailure) as info:
        check(*args, **kwargs)
    return info.value.hint or ""


# ----------------------------------------------------------------- the notebook's given code
class Var:
    __slots__ = ("tape", "index")

    def __init__(self, tape, index):
        self.tape, self.index = tape, index

    @property
    def value(self):
        return self.tape.values[self.index]

    def __add__(self, other): return R["add"](self, self.tape.lift(other))
    def __radd__(self, other): return R["add"](self.tape.lift(other), self)
    def __sub__(self, other): return R["sub"](self, self.tape.lift(other))
    def __rsub__(self, other): return R["sub"](self.tape.lift(other), self)
    def __mul__(self, other): return R["mul"](self, self.tape.lift(other))
    def __rmul__(self, other): return R["mul"](self.tape.lift(other), self)
    def __truediv__(self, other): return R["div"](self, self.tape.lift(other))
    def __rtruediv__(self, other): return R["div"](self.tape.lift(other), self)
    def __neg__(self): return R["neg"](self)
    def __pow__(self, p): return R["power"](self, p)


class Tape:
    def __init__(self):
        self.values, self.parents, self.partials = [], [], []

    def __len__(self):
        return len(self.values)

    def record(self, value, parents, partials):
        self.values.append(float(value))
        self.parents.append(tuple(p.index for p in parents))
        self.partials.append(tuple(float(c) for c in partials))
        return Var(self, len(self.values) - 1)

    def input(self, value):
        return self.record(value, (), ())

    def lift(self, x):
        return x if isinstance(x, Var) else self.input(x)


# ----------------------------------------------------------------- a correct solution
def add(a, b): return a.tape.record(a.value + b.value, (a, b), (1.0, 1.0))
def sub(a, b): return a.tape.record(a.value - b.value, (a, b), (1.0, -1.0))
def mul(a, b): return a.tape.record(a.value * b.value, (a, b), (b.value, a.value))
def div(a, b): return a.tape.record(a.value / b.value, (a, b), (1 / b.value, -a.value / b.value ** 2))
def neg(a): return a.tape.record(-a.value, (a,), (-1.0,))
def power(a, p): return a.tape.record(a.value ** p, (a,), (p * a.value ** (p - 1),))
def sin(a): return a.tape.record(math.sin(a.value), (a,), (math.cos(a.value),))
def cos(a): return a.tape.record(math.cos(a.value), (a,), (-math.sin(a.value),))
def exp(a): return a.tape.record(math.exp(a.value), (a,), (math.exp(a.value),))
def log(a): return a.tape.record(math.log(a.value), (a,), (1 / a.value,))


R = dict(add=add, sub=sub, mul=mul, div=div, neg=neg, power=power)


@pytest.fixture(autouse=True)
def correct_rules():
    R.update(add=add, sub=sub, mul=mul, div=div, neg=neg, power=power)
    yield


def backward(tape, y):
    bar = [0.0] * len(tape.values)
    bar[y.index] = 1.0
    for i in range(y.index, -1, -1):
        for j, c in zip(tape.parents[i], tape.partials[i]):
            bar[j] += bar[i] * c
    return bar


def grad(f, sweep=backward):
    def gradient(*xs):
        tape = Tape()
        inputs = [tape.input(x) for x in xs]
        bar = sweep(tape, f(*inputs))
        return tuple(bar[v.index] for v in inputs)
    return gradient


def test_correct_solution_passes_every_check():
    checks.check_arithmetic_rules(Tape, add, sub, mul, div, neg, power)
    checks.check_arithmetic_rules(Tape, add, sub, mul, div, neg, power, hidden=True)
    checks.check_function_rules(Tape, sin, cos, exp, log)
    checks.check_function_rules(Tape, sin, cos, exp, log, hidden=True)
    checks.check_backward(backward, Tape)
    checks.check_backward(backward, Tape, hidden=True)
    checks.check_backward_robust(backward, Tape)
    checks.check_grad(grad, sin, cos, exp, log)
    checks.check_grad(grad, sin, cos, exp, log, hidden=True)


def overwriting(tape, y):
    """A wrong Task 3.2: `=` where the adjoint recursion has `+=`."""
    bar = [0.0] * len(tape.values)
    bar[y.index] = 1.0
    for i in range(y.index, -1, -1):
        for j, c in zip(tape.parents[i], tape.partials[i]):
            bar[j] = bar[i] * c
    return bar


def test_a_grad_failing_because_of_the_students_backward_says_so():
    h = hint_of(checks.check_grad, lambda f: grad(f, overwriting), sin, cos, exp, log,
                backward=overwriting, Tape=Tape)
    assert "backward (Task 3.2)" in h and "fails its own check" in h


def test_a_grad_failing_because_of_the_students_rules_says_so():
    def wrong_cos(a):
        return a.tape.record(math.cos(a.value), (a,), (math.sin(a.value),))
    h = hint_of(checks.check_grad, grad, sin, wrong_cos, exp, log, backward=backward, Tape=Tape)
    assert "(Task 3.1)" in h and "Task 3.2" not in h


def test_a_wrong_grad_on_a_right_backward_is_blamed_on_grad():
    def first_only(f):
        return lambda *xs: grad(f)(*xs)[:1]
    h = hint_of(checks.check_grad, first_only, sin, cos, exp, log, backward=backward, Tape=Tape)
    assert "one partial derivative per input" in h and "Task 3" not in h
    checks.check_grad(grad, sin, cos, exp, log, backward=backward, Tape=Tape)


def test_arguments_in_the_other_order_are_accepted():
    def mul_swapped(a, b):
        return a.tape.record(a.value * b.value, (b, a), (a.value, b.value))
    checks.check_arithmetic_rules(Tape, add, sub, mul_swapped, div, neg, power)


# ----------------------------------------------------------------- wrong rules, named
def arith_hint(**wrong):
    rules = dict(add=add, sub=sub, mul=mul, div=div, neg=neg, power=power)
    rules.update(wrong)
    return hint_of(checks.check_arithmetic_rules, Tape, **rules)


def test_wrong_arithmetic_rules_are_named():
    assert "∂(a − b)/∂b = −1" in arith_hint(sub=lambda a, b: a.tape.record(a.value - b.value, (a, b), (1.0, 1.0)))
    h = arith_hint(mul=lambda a, b: a.tape.record(a.value * b.value, (a, b), (a.value, b.value)))
    assert "OTHER factor" in h
    h = arith_hint(div=lambda a, b: a.tape.record(a.value / b.value, (a, b), (1 / b.value, a.value / b.value ** 2)))
    assert "sign" in h and "−a/b²" in h
    h = arith_hint(div=lambda a, b: a.tape.record(a.value / b.value, (a, b), (1 / b.value, -1 / b.value ** 2)))
    assert "numerator a is missing" in h
    h = arith_hint(power=lambda a, p: a.tape.record(a.value ** p, (a,), (a.value ** (p - 1),)))
    assert "factor p is missing" in h
    h = arith_hint(power=lambda a, p: a.tape.record(a.value ** p, (a,), (p * a.value ** p,)))
    assert "exponent drops by one" in h
    h = arith_hint(neg=lambda a: a.tape.record(-a.value, (a,), (1.0,)))
    assert "sign" in h and "∂(−a)/∂a" in h
    h = arith_hint(add=lambda a, b: a.tape.record(a.value + b.value, (a,), (1.0,)))
    assert "parents of the entry must be the arguments" in h
    h = arith_hint(neg=lambda a: mul(a, a.tape.input(-1.0)))
    assert "exactly one entry" in h
    h = arith_hint(add=lambda a, b: a.value + b.value)
    assert "tape.record" in h
    h = arith_hint(mul=lambda a, b: a.tape.record(a.value + b.value, (a, b), (b.value, a.value)))
    assert "the value is wrong" in h


def test_wrong_function_rules_are_named():
    def hint(**wrong):
        rules = dict(sin=sin, cos=cos, exp=exp, log=log)
        rules.update(wrong)
        return hint_of(checks.check_function_rules, Tape, **rules)
    assert "d cos a/da = −sin a" in hint(cos=lambda a: a.tape.record(math.cos(a.value), (a,), (math.sin(a.value),)))
    assert "not the argument" in hint(exp=lambda a: a.tape.record(math.exp(a.value), (a,), (a.value,)))
    assert "not ln a" in hint(log=lambda a: a.tape.record(math.log(a.value), (a,), (math.log(a.value),)))
    assert "raised" in hint(sin=lambda a: a.tape.record(np.sin(a), (a,), (1.0,)))


# ----------------------------------------------------------------- wrong backward passes
def test_overwritten_adjoint_is_caught_on_x_times_x_by_a_factor_of_two():
    with pytest.raises(CheckFailure) as info:
        checks.check_backward(overwriting, Tape)
    failure = info.value
    assert "y = x·x" in repr(failure.inputs)
    assert failure.got[0] * 2 == pytest.approx(failure.expected[0])   # exactly half of 2x
    assert "`bar[j] += bar[i] * c`" in failure.hint


def test_forward_order_is_caught():
    def forwards(tape, y):
        bar = [0.0] * len(tape.values)
        bar[y.index] = 1.0
        for i in range(len(tape.values)):
            for j, c in zip(tape.parents[i], tape.partials[i]):
                bar[j] += bar[i] * c
        return bar
    assert "from the last entry to the first" in hint_of(checks.check_backward, forwards, Tape)


def test_partial_without_adjoint_is_caught():
    def partial_only(tape, y):
        bar = [0.0] * len(tape.values)
        bar[y.index] = 1.0
        for i in range(y.index, -1, -1):
            for j, c in zip(tape.parents[i], tape.partials[i]):
                bar[j] += c
        return bar
    assert "multiply the partial by the adjoint" in hint_of(checks.check_backward, partial_only, Tape)


def test_missing_seed_and_wrong_length():
    def unseeded(tape, y):
        return [0.0] * len(tape.values)
    assert "seed the sweep" in hint_of(checks.check_backward, unseeded, Tape)

    def inputs_only(tape, y):
        return [a for a, p in zip(backward(tape, y), tape.parents) if not p]
    assert "one adjoint per tape entry" in hint_of(checks.check_backward, inputs_only, Tape)


class StatefulBackward:
    """Keeps the adjoints between calls: the second call doubles them."""

    def __init__(self):
        self.bar = None

    def __call__(self, tape, y):
        if self.bar is None or len(self.bar) != len(tape.values):
            self.bar = [0.0] * len(tape.values)
        bar = self.bar
        bar[y.index] += 1.0
        for i in range(y.index, -1, -1):
            for j, c in zip(tape.parents[i], tape.partials[i]):
                bar[j] += bar[i] * c
        return list(bar)


def test_non_idempotent_backward_is_caught():
    checks.check_backward(StatefulBackward(), Tape)   # a single call per tape is right
    h = hint_of(checks.check_backward_robust, StatefulBackward(), Tape)
    assert "fresh zeros" in h


def test_seeding_the_last_entry_is_caught():
    def last_entry(tape, y):
        bar = [0.0] * len(tape.values)
        bar[-1] = 1.0
        for i in range(len(tape.values) - 1, -1, -1):
            for j, c in zip(tape.parents[i], tape.partials[i]):
                bar[j] += bar[i] * c
        return bar
    checks.check_backward(last_entry, Tape)           # y is the last entry in these cases
    assert "start at y's entry" in hint_of(checks.check_backward_robust, last_entry, Tape)


def test_recursive_backward_is_caught_on_a_deep_tape():
    def recursive(tape, y):
        bar = [0.0] * len(tape.values)

        def visit(i, g):
            bar[i] += g
            for j, c in zip(tape.parents[i], tape.partials[i]):
                visit(j, g * c)
        visit(y.index, 1.0)
        return bar
    checks.check_backward(recursive, Tape)            # correct (if exponential) on small tapes
    assert "RecursionError" in hint_of(checks.check_backward_robust, recursive, Tape)


# ----------------------------------------------------------------- wrong grad
def test_wrong_grads():
    def first_only(f):
        return lambda *xs: grad(f)(*xs)[0]
    assert "one float per input" in hint_of(checks.check_grad, first_only, sin, cos, exp, log)

    def returns_vars(f):
        def gradient(*xs):
            tape = Tape()
            inputs = [tape.input(x) for x in xs]
            backward(tape, f(*inputs))
            return tuple(inputs)
        return gradient
    assert "not Var objects" in hint_of(checks.check_grad, returns_vars, sin, cos, exp, log)

    shared_backward = StatefulBackward()   # one adjoint list for every call

    def global_adjoints(f):
        return grad(f, sweep=shared_backward)
    assert "called a second time" in str(pytest.raises(CheckFailure, checks.check_grad, global_adjoints,
                                                       sin, cos, exp, log).value)

    one_tape = Tape()   # the task says "a new tape" per call; this one keeps growing

    def global_tape(f):
        def gradient(*xs):
            inputs = [one_tape.input(x) for x in xs]
            bar = backward(one_tape, f(*inputs))
            return tuple(bar[v.index] for v in inputs)
        return gradient
    assert grad(lambda x, y: x * y)(2.0, 3.0) == global_tape(lambda x, y: x * y)(2.0, 3.0) == (3.0, 2.0), \
        "the values alone cannot tell a global tape"
    message = str(pytest.raises(CheckFailure, checks.check_grad, global_tape, sin, cos, exp, log).value)
    assert "new tape" in message and "inside the function" in message


def test_grad_with_a_wrong_rule_fails():
    R["mul"] = lambda a, b: a.tape.record(a.value * b.value, (a, b), (a.value, b.value))
    with pytest.raises(CheckFailure):
        checks.check_grad(grad, sin, cos, exp, log)


# ----------------------------------------------------------------- the references themselves
def test_backward_cases_have_the_textbook_adjoints():
    by_name = {c.name: c for c in BACKWARD_CASES[VISIBLE_SEED]}
    xy = by_name["f(x, y) = xy + e^{xy}"].expected
    e2 = math.exp(2)
    assert xy[:3] == pytest.approx([2 + 2 * e2, 1 + e2, 1 + e2])
    assert by_name["y = x·x"].expected == [6.0, 1.0]
    report = by_name["y = x₁x₂ + x₂ − ln x₁"].expected
    assert report[:2] == pytest.approx([-4 - 1 / 3, 4.0])


def test_rule_references_are_the_calculus_rules():
    table = RULE_EXPECTED[VISIBLE_SEED]
    for (name, args), (value, partials) in table.items():
        if name == "div":
            a, b = args
            assert partials == pytest.approx((1 / b, -a / b ** 2))
        if name == "power":
            a, p = args
            assert partials == pytest.approx((p * a ** (p - 1),))
        if name == "cos":
            assert partials == pytest.approx((-math.sin(args[0]),))


# ----------------------------------------------------------------- demos and measurements
def test_closure_design_demos():
    facts = checks.closure_cycle_demo()
    assert facts == {"closure refers back to its own result": True,
                     "alive after `del` (reference counts)": True,
                     "alive after gc.collect()": False}
    assert "RecursionError" in checks.recursion_demo(3000)["closures"]
    assert checks.recursion_demo(3000)["flat tape"].startswith("ok")
    times = checks.design_timings(2000)
    assert set(times) == {"closures, gc on", "closures, gc off", "flat tape (autodiff_ref), gc on"}
    v = checks.ClosureValue(0.5)
    y = v * v + v * 3.0
    y.backward()
    assert v.grad == pytest.approx(2 * 0.5 + 3.0)


def test_measurements_run_and_plot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = checks.gradient_cost(sizes=(10, 1000), repeat=2)
    assert [r["n"] for r in rows] == [10, 1000] and all(r["t_grad"] > 0 for r in rows)
    ratio, t_fwd, t_rev = checks.forward_vs_reverse(ns=(1, 16), ms=(1, 16), repeat=1)
    assert ratio.shape == (2, 2) and (t_fwd > 0).all() and (t_rev > 0).all()
    checks.plot_forward_vs_reverse((1, 16), (1, 16), ratio)
    plt.close("all")
    f = checks.network(3, 2)
    assert f(np.ones(3)).shape == (2,)

