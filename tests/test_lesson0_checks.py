"""Lesson 0's checks accept right answers, reject realistic wrong ones with the right hint,
and the lesson notebook runs top to bottom (solutions in) and fails cleanly (solutions out)."""
import math
import re
from pathlib import Path

import numpy as np
import pytest

from autograder.checks import CheckFailure
from autograder.lessons import lesson0 as checks
from autograder.lessons.lesson0 import checks as lesson0_checks

NOTEBOOK = Path(__file__).resolve().parents[1] / "course/source/lesson0_three_ways/lesson0_three_ways.ipynb"
EPS = np.finfo(float).eps


# ----------------------------------------------------------- student answers

def central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def central_other_order(f, x, h):  # same formula, written differently: must pass too
    return (f(x + h) / h - f(x - h) / h) * 0.5


def gradient(f, x, h):
    g = np.zeros(x.shape)
    for i in range(x.size):
        e = np.zeros(x.shape)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def gradient_in_place_restored(f, x, h):  # perturbs x and puts it back: accepted
    g = np.zeros(x.shape)
    for i in range(x.size):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g


def mixed(f, x, y, h):
    return (f(x + h, y + h) - f(x + h, y - h) - f(x - h, y + h) + f(x - h, y - h)) / (4 * h * h)


def optimal(order, M, f_scale, eps=EPS):
    if order == 1:
        return math.sqrt(2 * eps * f_scale / M)
    return (1.5 * eps * f_scale / M) ** (1 / 3)


@pytest.mark.parametrize("hidden", [False, True])
def test_right_answers_pass_and_print_a_tick(hidden, capsys):
    checks.check_central_difference(central, hidden=hidden)
    checks.check_central_difference(central_other_order, hidden=hidden)
    checks.check_fd_gradient(gradient, hidden=hidden)
    checks.check_fd_gradient(gradient_in_place_restored, hidden=hidden)
    checks.check_mixed_partial(mixed, hidden=hidden)
    checks.check_optimal_step(optimal, order=1, hidden=hidden)
    checks.check_optimal_step(optimal, order=2, hidden=hidden)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 and all(line.startswith("✓") for line in lines)


def test_hidden_tables_are_larger_than_visible_ones(capsys):
    checks.check_central_difference(central)
    checks.check_central_difference(central, hidden=True)
    visible, hidden = (int(re.search(r"\((\d+) inputs\)", line).group(1))
                       for line in capsys.readouterr().out.splitlines())
    assert hidden > 2 * visible


# ----------------------------------------------------------- wrong answers

def failure(check, student, **kw):
    with pytest.raises(CheckFailure) as info:
        check(student, **kw)
    return info.value


WRONG_CENTRAL = [
    (lambda f, x, h: (f(x + h) - f(x - h)) / h, "divides by 2h"),
    (lambda f, x, h: (f(x + h) - f(x - h)) / 2 * h, "precedence"),
    (lambda f, x, h: (f(x + h) - f(x)) / h, "forward difference"),
    (lambda f, x, h: (f(x) - f(x - h)) / h, "backward difference"),
    (lambda f, x, h: (f(x - h) - f(x + h)) / (2 * h), "sign is flipped"),
    (lambda f, x, h: (f(x + h) - f(x - h)) / (4 * h), "half the answer"),
]


@pytest.mark.parametrize("student, hint", WRONG_CENTRAL)
def test_wrong_central_difference_is_named(student, hint):
    err = failure(checks.check_central_difference, student)
    assert hint in str(err)
    assert "input:" in str(err) and "expected:" in str(err) and "got:" in str(err)


def test_failure_reports_the_simplest_input_first():
    err = failure(checks.check_central_difference, WRONG_CENTRAL[0][0])
    assert err.inputs[1:] == (1.0, 0.5) and repr(err.inputs[0]) == "x**2"
    assert err.expected == pytest.approx(2.0) and err.got == pytest.approx(4.0)


def test_an_exception_in_student_code_is_reported_on_its_input():
    def broken(f, x, h):
        return 1 / 0
    err = failure(checks.check_central_difference, broken)
    assert "ZeroDivisionError" in str(err) and "raised an exception" in str(err)
    assert err.inputs[1:] == (1.0, 0.5)


@pytest.mark.parametrize("check, kw", [(checks.check_central_difference, {}),
                                       (checks.check_fd_gradient, {}),
                                       (checks.check_mixed_partial, {}),
                                       (checks.check_optimal_step, {"order": 1}),
                                       (checks.check_optimal_step, {"order": 2})])
def test_a_task_left_blank_is_called_not_done(check, kw):
    def blank(*args):
        raise NotImplementedError()
    err = failure(check, blank, **kw)
    assert "NotImplementedError" in str(err) and "not done" in str(err)


def gradient_all_at_once(f, x, h):
    return np.full(x.shape, (f(x + h) - f(x - h)) / (2 * h))


def gradient_mutating(f, x, h):
    g = np.zeros(x.shape)
    for i in range(x.size):
        x[i] += h
        up = f(x)
        x[i] -= 2 * h
        g[i] = (up - f(x)) / (2 * h)
    return g


def gradient_forward(f, x, h):
    return np.array([(f(x + h * e) - f(x)) / h for e in np.eye(x.size)])


def gradient_over_h(f, x, h):
    return 2 * gradient(f, x, h)


@pytest.mark.parametrize("student, hint", [
    (gradient_all_at_once, "ONE coordinate at a time"),
    (gradient_mutating, "modified x in place"),
    (gradient_forward, "forward difference"),
    (gradient_over_h, "divide by 2h"),
    (lambda f, x, h: list(gradient(f, x, h))[:-1], "shape"),
])
def test_wrong_gradient_is_named(student, hint):
    assert hint in str(failure(checks.check_fd_gradient, student))


@pytest.mark.parametrize("student, hint", [
    (lambda f, x, y, h: 4 * mixed(f, x, y, h), "not h²"),
    (lambda f, x, y, h: 2 * mixed(f, x, y, h), "not 2h²"),
    (lambda f, x, y, h: -mixed(f, x, y, h), "sign is flipped"),
    (lambda f, x, y, h: (f(x + h, y + h) - f(x + h, y - h) - f(x - h, y + h) + f(x - h, y - h)) / 4 * h * h,
     "precedence"),
    (lambda f, x, y, h: (f(x + h, y + h) - f(x + h, y - h) - f(x - h, y + h) + f(x - h, y - h)) / (4 * h),
     "not 4h"),
    (lambda f, x, y, h: (f(x + 2 * h, y) - 2 * f(x, y) + f(x - 2 * h, y)) / (4 * h * h), "∂²f/∂x²"),
])
def test_wrong_mixed_partial_is_named(student, hint):
    assert hint in str(failure(checks.check_mixed_partial, student))


@pytest.mark.parametrize("student, order, hint", [
    (lambda o, M, F, eps=EPS: math.sqrt(eps * F / M) if o == 1 else optimal(o, M, F), 1, "off by √2"),
    (lambda o, M, F, eps=EPS: optimal(o, F, M), 1, "swapped"),
    (lambda o, M, F, eps=EPS: math.sqrt(eps) if o == 1 else eps ** (1 / 3), 2, "off by a constant"),
    # at M = |f| = 1 the rule of thumb √ε is the step without Taylor's 2: the hint names both
    (lambda o, M, F, eps=EPS: math.sqrt(eps) if o == 1 else eps ** (1 / 3), 1, "or √ε"),
    (lambda o, M, F, eps=EPS: math.sqrt(2 * eps) if o == 1 else optimal(o, M, F), 1, "rule of thumb"),
    (lambda o, M, F, eps=EPS: math.sqrt(1.5 * eps * F / M), 2, "cube root"),
    (lambda o, M, F, eps=EPS: optimal(3 - o, M, F), 2, "optimal step of the forward difference"),
])
def test_wrong_optimal_step_is_named(student, order, hint):
    assert hint in str(failure(checks.check_optimal_step, student, order=order))


def optimal_by_minimising(order, M, f_scale, eps=EPS):
    """h* the way a student with scipy finds it: minimise the model E(h) numerically (in log h)."""
    from scipy.optimize import minimize_scalar
    from autodiff_ref.numerical import fd_error_model

    def E(log_h):
        return fd_error_model(math.exp(log_h), order=order, M=M, f_scale=f_scale, eps=eps).total
    return math.exp(minimize_scalar(E, bracket=(math.log(1e-12), math.log(1e-2))).x)


@pytest.mark.parametrize("order", [1, 2])
def test_a_step_minimised_numerically_is_accepted(order):
    """The task says "minimise the model"; a minimiser stops where E is flat, ~1e-8 from the
    closed form (E changes by δ² there), and that is an answer."""
    checks.check_optimal_step(optimal_by_minimising, order=order)
    checks.check_optimal_step(optimal_by_minimising, order=order, hidden=True)


@pytest.mark.parametrize("order", [1, 2])
def test_a_step_one_per_mille_off_is_still_rejected(order):
    with pytest.raises(CheckFailure):
        checks.check_optimal_step(lambda o, M, F, eps=EPS: 1.001 * optimal(o, M, F), order=order)


def test_tiny_steps_are_compared_relatively():
    # sqrt(eps) vs sqrt(2 eps) differ by 6e-9: an absolute tolerance would let it through
    with pytest.raises(CheckFailure):
        checks.check_optimal_step(lambda o, M, F, eps=EPS: 0.0, order=1)


def test_checks_survive_a_notebook_rebinding_numpy(monkeypatch):
    """A solution cell that rebinds numpy functions changes neither the test functions nor the verdicts."""
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "isclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "sin", lambda x: 0.0 * x)
    monkeypatch.setattr(np, "abs", lambda x: 0.0 * x)
    with pytest.raises(CheckFailure):
        checks.check_central_difference(WRONG_CENTRAL[2][0])
    with pytest.raises(CheckFailure):
        checks.check_fd_gradient(gradient_all_at_once)
    checks.check_central_difference(central, hidden=True)
    checks.check_mixed_partial(mixed, hidden=True)


def test_reference_tables_agree_with_an_independent_formula():
    table = lesson0_checks.CENTRAL
    for (f, x, h) in table.cases[True]:
        ref = table.expected(f, x, h)
        assert ref == pytest.approx((f(x + h) - f(x - h)) / (2 * h), rel=1e-13, abs=1e-13)
    for (f, x, y, h) in lesson0_checks.MIXED.cases[True]:
        ref = lesson0_checks.MIXED.expected(f, x, y, h)
        corners = f(x + h, y + h) - f(x + h, y - h) - f(x - h, y + h) + f(x - h, y - h)
        assert ref == pytest.approx(corners / (4 * h * h), rel=1e-9, abs=1e-9)


# ----------------------------------------------------------- figures and experiments

def test_sum_of_squares_experiment_matches_plain_numpy_and_the_lesson_text():
    r = checks.sum_of_squares_experiment()
    x = np.arange(1.0, 1001.0)
    h = math.sqrt(EPS)
    base = np.sum(x * x)
    plain = np.array([(np.sum((x + h * e) ** 2) - base) / h for e in np.eye(1000)])
    np.testing.assert_array_equal(r["fd"], plain)
    # Which way an odd i rounds depends on numpy's summation order: only the split
    # into exact (even i) and off-by-2 (odd i) entries is machine-independent.
    errors, counts = np.unique(r["fd"] - 2 * x, return_counts=True)
    assert set(errors.tolist()) <= {-2.0, 0.0, 2.0} and counts.sum() == 1000
    assert np.all(r["error"][1::2] == 0) and np.all(np.abs(r["error"][0::2]) == 2)  # even i exact, odd i off by 2
    assert r["fd"][0] == 0.0 and np.all(r["fd"] >= 0)
    assert np.spacing(r["f"]) == 4 * h
    np.testing.assert_array_equal(r["ad"], 2 * x)
    ls = r["least_squares"]
    # How many entries come out negative, zero or positive depends on the BLAS behind
    # np.dot (307/686/7 on one machine, 1/412/587 on another). What the math predicts does
    # not: f(x) and f(x + h e_i) lie in one binade where floats are 4h apart, so every entry
    # is a multiple of 4, and none is within 0.6 of the true 0.6: every entry is wrong.
    negative, zero, positive = np.sum(ls < 0), np.sum(ls == 0), np.sum(ls > 0)
    assert negative + zero + positive == 1000
    assert np.all(ls % 4 == 0) and np.all(np.abs(ls - r["least_squares_true"]) >= 0.6)
    assert np.ptp(ls) >= 4  # rounding noise, not one constant offset
    assert 1e-4 < np.max(np.abs(r["error_best"])) < 1e-3


def test_expression_sizes_follow_their_closed_forms():
    sizes = checks.expression_sizes(max_iterations=6, product_sizes=(4, 8, 16))
    it, prod = sizes["iterated"], sizes["product"]
    # ℓ_k = 4ℓ(1−ℓ) doubles its tree plus 2 operations: a_k = 5·2^(k−1) − 2
    assert it["f"] == [5 * 2 ** (k - 1) - 2 for k in it["n"]]
    assert all(b > 2 * a for a, b in zip(it["df"], it["df"][1:]))
    assert all(c < d for c, d in zip(it["df_cse"][1:], it["df"][1:]))
    # n partials of x1⋯xn, each a product of n−1 symbols: n(n−2) multiplications
    assert prod["grad"] == [n * (n - 2) for n in prod["n"]]


def test_figures_draw_headless(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda: None)
    for name in checks.CURVE_FUNCTIONS:
        ax = checks.plot_error_curve(-5.0, name)
        assert len(ax.lines) >= 6
        plt.close(ax.figure)
    widget = checks.error_curve_widget()
    widget.children[0].value = -3.0
    plt.close("all")


def test_error_curve_minimum_is_near_the_models_prediction():
    for name in checks.CURVE_FUNCTIONS:
        data = checks.error_curves(name)
        for scheme in ("forward", "central"):
            h_best = data["h"][np.argmin(data[scheme])]
            assert data[scheme + "_best"] / 10 < h_best < data[scheme + "_best"] * 10, (name, scheme)


# ----------------------------------------------------------- the notebook

SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
