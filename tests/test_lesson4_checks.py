"""Lesson 4's checks: they pass on the notebook's solutions (and on other correct
ways to write them), their expected values agree with independent oracles
(sympy closed forms, HIPS autograd), they fail with the expected hint on
realistic wrong code, and they kill the single-point mutants of the solutions.

The slow tests execute the notebook with nbclient and grade it through the
real nbgrader (solution → full marks, blank → 0, wrong → partial with its message).

Mutants of the solutions are tested for every lesson in test_mutation.py.
"""
import json
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp

from autodiff_ref import Dual, grad, hessian, jacrev, jvp
from autodiff_ref.core import new_level
from autograder.lessons import lesson4 as checks
from autograder.lessons.lesson4 import checks as kit
from autograder.lessons.lesson4 import material

from lesson_kit import hint_of, solution_namespace

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "lesson4_higher_order"
NOTEBOOK = REPO / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


# =============================================================================
# Solutions from the notebook, and single-point mutants of them
# =============================================================================


# =============================================================================
# The checks pass on correct code
# =============================================================================
@pytest.fixture(scope="module")
def solutions():
    return solution_namespace(NOTEBOOK)


def run_all(ns, only=None):
    """Every check of the lesson, visible and hidden, on the namespace's functions."""
    table = {
        "task41-second-derivative": [lambda h: checks.check_second_derivative(ns["second_derivative"], hidden=h)],
        "task42-hvp": [lambda h: checks.check_hvp(ns["hvp"], hidden=h),
                       lambda h: checks.check_hvp_cost(ns["hvp"], hidden=h)],
        "task43-newton-step": [lambda h: checks.check_newton_step(ns["newton_step"], hidden=h),
                               lambda h: checks.check_newton_rosenbrock(ns["newton_step"], hidden=h)],
    }
    for gid, runs in table.items():
        if only is None or gid == only:
            for run in runs:
                run(False)
                run(True)


def test_notebook_solutions_pass_every_check(solutions, capsys):
    run_all(solutions)
    out = capsys.readouterr().out
    assert out.count("✓") == 10


def nested_dual_second_derivative(f, x):
    outer_eps, inner_eps = new_level(), new_level()
    inner_eps, outer_eps = min(inner_eps, outer_eps), max(inner_eps, outer_eps)
    return f(Dual(Dual(x, 1.0, inner_eps), Dual(1.0, 0.0, inner_eps), outer_eps)).tangent.tangent


@pytest.mark.parametrize("impl", [
    nested_dual_second_derivative,
    lambda f, x: grad(grad(f))(x),                                     # reverse over reverse
    lambda f, x: jvp(grad(f), (x,), (1.0,))[1],                         # forward over reverse
])
def test_other_correct_second_derivatives_pass(impl):
    checks.check_second_derivative(impl)
    checks.check_second_derivative(impl, hidden=True)


@pytest.mark.parametrize("impl", [
    lambda f, x, v: grad(lambda y: jvp(f, (y,), (v,))[1])(x),          # reverse over forward
    lambda f, x, v: grad(lambda y: grad(f)(y) @ v)(x),                  # reverse over reverse
])
def test_other_correct_hvps_pass_both_checks(impl):
    for hidden in (False, True):
        checks.check_hvp(impl, hidden=hidden)
        checks.check_hvp_cost(impl, hidden=hidden)


def test_newton_with_an_explicit_inverse_passes():
    def newton_inv(f, x):
        return x - np.linalg.inv(hessian(f)(x)) @ grad(f)(x)
    for hidden in (False, True):
        checks.check_newton_step(newton_inv, hidden=hidden)
        checks.check_newton_rosenbrock(newton_inv, hidden=hidden)


def test_counted_function_is_the_same_function_in_both_modes():
    count = kit._PassCount()
    f = kit._counted(checks.coupled, 3, count)
    x, v = np.array([0.3, -0.5, 1.1]), np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(jvp(grad(f), (x,), (v,))[1], hessian(checks.coupled)(x) @ v, rtol=1e-13)
    np.testing.assert_allclose(jacrev(grad(f))(x), hessian(checks.coupled)(x), rtol=1e-13)
    assert count.calls == 2 and count.reverse >= 3 and not count.batched


def test_the_reference_library_is_not_extended_by_the_lesson():
    from autodiff_ref import dual, reverse
    from autodiff_ref.core import Primitive
    assert not any(isinstance(p, Primitive) and p.name == "pass_counter" for p in dual.jvp_rules)
    assert not any(isinstance(p, Primitive) and p.name == "pass_counter" for p in reverse.vjp_rules)


# =============================================================================
# The expected values agree with independent oracles
# =============================================================================
_SX = sp.symbols("x")
SYMPY_SCALARS = {
    "sin(x**3)": sp.sin(_SX ** 3),
    "x**5 - 3*x**2": _SX ** 5 - 3 * _SX ** 2,
    "exp(x) * cos(2*x)": sp.exp(_SX) * sp.cos(2 * _SX),
    "log(1 + x*x)": sp.log(1 + _SX ** 2),
    "tanh(x)**2": sp.tanh(_SX) ** 2,
    "1 / (1 + x*x)": 1 / (1 + _SX ** 2),
    "sqrt(x) * sin(x)": sp.sqrt(_SX) * sp.sin(_SX),
}


def test_every_scalar_function_has_a_closed_form():
    assert {name for name, _, _ in checks.SCALAR_FUNCTIONS} == set(SYMPY_SCALARS)


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_second_derivative_table_matches_sympy(seed):
    for f, x in kit.SECOND_CASES[seed]:
        expected, first, value = kit.SECOND_TABLE[seed][(id(f), x)]
        expr = SYMPY_SCALARS[f.name]
        assert expected == pytest.approx(float(sp.diff(expr, _SX, 2).subs(_SX, x)), rel=1e-12, abs=1e-12)
        assert first == pytest.approx(float(sp.diff(expr, _SX).subs(_SX, x)), rel=1e-12, abs=1e-12)
        assert value == pytest.approx(float(expr.subs(_SX, x)), rel=1e-12, abs=1e-12)
    # the lesson's closed form, 6x cos(x³) − 9x⁴ sin(x³), at the three points every table starts with
    for f, x in kit.SECOND_CASES[seed][:3]:
        assert f.name == "sin(x**3)"
        closed = 6 * x * np.cos(x ** 3) - 9 * x ** 4 * np.sin(x ** 3)
        assert kit.SECOND_TABLE[seed][(id(f), x)][0] == pytest.approx(closed, rel=1e-13)


AUTOGRAD_VECTOR = {
    "x0**2 * x1": lambda z: z[0] * z[0] * z[1],
    "rosenbrock (2-d)": lambda z: (1 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2,
    "x0*x1*x2 + exp(x0 - x2)": lambda z: z[0] * z[1] * z[2] + anp.exp(z[0] - z[2]),
    "0.5 * x @ A @ x (A not symmetric)": lambda z: 0.5 * anp.dot(z, anp.dot(material.A, z)),
    "log(sum(exp(x))) + sum(x**4)/4": lambda z: anp.log(anp.sum(anp.exp(z))) + 0.25 * anp.sum(z ** 4),
    "c @ tanh(W @ x + b)": lambda z: anp.dot(material.C, anp.tanh(anp.dot(material.W, z) + material.B)),
    "sum(log(1 + (x[i+1]-x[i])**2)) + |x|²/2 + sum(sin x)":
        lambda z: anp.sum(anp.log(1 + (z[1:] - z[:-1]) ** 2)) + 0.5 * anp.sum(z * z) + anp.sum(anp.sin(z)),
    "rosenbrock (5-d)": lambda z: anp.sum(100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2),
}


def test_every_vector_function_has_an_autograd_twin():
    assert {name for name, *_ in checks.VECTOR_FUNCTIONS} == set(AUTOGRAD_VECTOR)


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_hvp_table_matches_hips_autograd(seed):
    for f, x, v in kit.HVP_CASES[seed]:
        H = autograd.hessian(AUTOGRAD_VECTOR[f.name])(x)
        np.testing.assert_allclose(kit.HVP_TABLE[seed][id(x)]["Hv"], H @ v, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_newton_table_matches_hips_autograd(seed):
    for f, x in kit.NEWTON_CASES[seed]:
        g = autograd.grad(AUTOGRAD_VECTOR[f.name])(x)
        H = autograd.hessian(AUTOGRAD_VECTOR[f.name])(x)
        np.testing.assert_allclose(kit.NEWTON_TABLE[seed][id(x)]["new"], x - np.linalg.solve(H, g),
                                   rtol=1e-10, atol=1e-12)


def test_rosenbrock_numbers_stated_in_the_lesson():
    H = hessian(checks.rosenbrock)(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(H, [[802.0, -400.0], [-400.0, 200.0]])
    lo, hi = np.linalg.eigvalsh(H)
    assert round(lo, 2) == 0.40 and round(hi, 1) == 1001.6 and round(hi / lo) == 2508
    assert 2 / hi == pytest.approx(2.0e-3, rel=2e-3)
    H0 = hessian(checks.rosenbrock)(np.array([-1.2, 1.0]))
    np.testing.assert_array_equal(H0, [[1330.0, 480.0], [480.0, 200.0]])
    np.testing.assert_allclose(H0 @ np.array([0.3, -0.7]), [63.0, 4.0], rtol=1e-13)
    path = checks.newton_path(checks.rosenbrock, np.array([-1.2, 1.0]), 20)
    assert len(path) - 1 == 7 and np.linalg.norm(path[-1] - 1) == 0
    assert checks.rosenbrock(path[2]) == pytest.approx(1.412e3, rel=1e-3)
    assert len(checks.newton_path(checks.rosenbrock, np.array([0.0, 0.0]), 20)) - 1 == 2
    # gradient descent: crawls at 1e-3, oscillates without converging just above 2/λmax, blows up at 7e-3
    gd = checks.gd_path(checks.rosenbrock, np.array([-1.2, 1.0]), 1e-3, 2000)
    assert len(gd) == 2001 and np.linalg.norm(gd[-1] - 1) > 0.1
    bounce = checks.gd_path(checks.rosenbrock, np.array([-1.2, 1.0]), 2.5e-3, 3000)
    assert len(bounce) == 3001 and checks.rosenbrock(bounce[-1]) > 0.1
    assert len(checks.gd_path(checks.rosenbrock, np.array([-1.2, 1.0]), 10 ** -2.25, 3000)) == 3001  # 5.6e-3
    assert len(checks.gd_path(checks.rosenbrock, np.array([-1.2, 1.0]), 10 ** -2.2, 3000)) < 10     # 6.3e-3


def test_perturbation_confusion_demo():
    one_eps = lambda f, x: f(Dual(x, 1.0)).tangent
    assert one_eps(lambda x: x * one_eps(lambda y: x + y, 1.0), 1.0) == 2.0
    from autodiff_ref import derivative
    assert derivative(lambda x: x * derivative(lambda y: x + y)(1.0))(1.0) == 1.0


# =============================================================================
# Realistic wrong code fails with the right hint
# =============================================================================


def first_derivative_only(f, x):
    return jvp(f, (x,), (1.0,))[1]


WRONG_SECOND = [
    (first_derivative_only, "that is f′(x)"),
    (lambda f, x: jvp(lambda y: jvp(f, (y,), (1.0,))[1], (x,), (1.0,))[0], "that is f′(x)"),
    (lambda f, x: f(x), "that is f(x) itself"),
    (lambda f, x: 0.5 * jvp(lambda y: jvp(f, (y,), (1.0,))[1], (x,), (1.0,))[1], "do not divide by 2"),
    (lambda f, x: jvp(lambda y: jvp(f, (y,), (2.0,))[1], (x,), (1.0,))[1], "twice f″"),
    (lambda f, x: -jvp(lambda y: jvp(f, (y,), (1.0,))[1], (x,), (1.0,))[1], "sign is flipped"),
    (lambda f, x: Dual(1.0, 2.0), "you returned a tracer"),
    (lambda f, x: 1 / 0, "raised an exception"),
]


@pytest.mark.parametrize("wrong,expected_hint", WRONG_SECOND)
def test_second_derivative_wrong(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_second_derivative, wrong)


def second_true(f, x):
    return jvp(lambda y: jvp(f, (y,), (1.0,))[1], (x,), (1.0,))[1]


@pytest.mark.parametrize("check,wrong,solution_code", [
    (checks.check_second_derivative, lambda f, x: second_true(f, x) + 0.1, ("jvp(", "[1]", "(1.0,)")),
    (checks.check_hvp, lambda f, x, v: hvp_true(f, x, v) + 0.1, ("jvp(", "grad(f)", "[1]")),
    (checks.check_newton_step, lambda f, x: x - 0.3 * grad(f)(x), ("solve(", "hessian(f)")),
])
def test_a_hint_never_prints_the_solution(check, wrong, solution_code):
    """A wrong answer no misconception explains gets the last-resort hint: it says what to
    compute, never the code that computes it."""
    hint = hint_of(check, wrong)
    assert hint, "the last-resort hint is empty"
    assert not any(code in hint for code in solution_code), hint


def hvp_true(f, x, v):
    return jvp(grad(f), (x,), (v,))[1]


def hvp_in_place(f, x, v):
    out = jvp(grad(f), (x,), (v,))[1]
    v *= 1.0 + 1e-3
    return out


WRONG_HVP = [
    (lambda f, x, v: jvp(grad(f), (x,), (v,))[0], "that is the gradient ∇f(x)"),
    (lambda f, x, v: grad(f)(x), "that is the gradient ∇f(x)"),
    (lambda f, x, v: jvp(grad(f), (v,), (x,))[1], "x and v are swapped"),
    (lambda f, x, v: jvp(f, (x,), (v,))[1], "the directional derivative of f"),
    (lambda f, x, v: jvp(grad(f), (x,), (v,)), "you returned a pair"),
    (lambda f, x, v: jvp(grad(f), (x,), (x,))[1], "H(x)·x"),
    (lambda f, x, v: -hvp_true(f, x, v), "sign is flipped"),
    (lambda f, x, v: 2 * hvp_true(f, x, v), "twice H·v"),
    (lambda f, x, v: hvp_true(f, x, v) / 2, "half of H·v"),
    (lambda f, x, v: np.diag(hessian(f)(x)) * v, "only the diagonal"),
    (lambda f, x, v: (grad(f)(x + 1e-6 * v) - grad(f)(x)) / 1e-6, "finite difference"),
    (lambda f, x, v: hessian(f)(x), "build a matrix"),
    (hvp_in_place, "in place"),
]


@pytest.mark.parametrize("wrong,expected_hint", WRONG_HVP)
def test_hvp_wrong(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_hvp, wrong)


@pytest.mark.parametrize("wrong,expected_hint", [
    (lambda f, x, v: hessian(f)(x) @ v, "n directions at once"),
    (lambda f, x, v: jacrev(grad(f))(x) @ v, "row by row"),
    (lambda f, x, v: np.stack([jvp(grad(f), (x,), (e,))[1] for e in np.eye(x.size)]) @ v,
     "column by column"),
    (lambda f, x, v: 1 / 0, "raised an exception"),
])
def test_hvp_cost_rejects_forming_the_hessian(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_hvp_cost, wrong)


def test_hvp_cost_rejects_a_wrong_but_cheap_answer():
    assert "the result is wrong" in hint_of(checks.check_hvp_cost, lambda f, x, v: 2 * hvp_true(f, x, v))


def newton_true_step(f, x):
    return np.linalg.solve(hessian(f)(x), grad(f)(x))


def newton_in_place(f, x):
    x -= newton_true_step(f, x)
    return x


def test_an_in_place_newton_step_is_shown_the_x_it_was_given():
    """x -= p changes the case's x; the failure names the x before the call, which is the
    input the step was taken from (the mutated x is the answer, one step later)."""
    from lesson_kit import failure_of
    f, x = kit.NEWTON_CASES[kit.VISIBLE_SEED][0]
    failure = failure_of(checks.check_newton_step, newton_in_place)
    shown = failure.inputs[1]
    np.testing.assert_array_equal(shown, x)
    assert not np.allclose(shown, x - newton_true_step(f, x))


WRONG_NEWTON = [
    (lambda f, x: x + newton_true_step(f, x), "sign error"),
    (lambda f, x: x - hessian(f)(x) @ grad(f)(x), "you multiplied the gradient by H"),
    (lambda f, x: x - grad(f)(x), "gradient-descent step"),
    (lambda f, x: x - grad(f)(x) / np.diag(hessian(f)(x)), "diagonal of H only"),
    (lambda f, x: -newton_true_step(f, x), "you returned the step"),
    (lambda f, x: newton_true_step(f, x), "you returned H⁻¹∇f"),
    (lambda f, x: x - newton_true_step(f, x) / 2, "a half step"),
    (lambda f, x: float((x - newton_true_step(f, x))[0]), "shaped like x"),
    (newton_in_place, "in place"),
]


@pytest.mark.parametrize("wrong,expected_hint", WRONG_NEWTON)
def test_newton_step_wrong(wrong, expected_hint):
    with np.errstate(all="ignore"):
        assert expected_hint in hint_of(checks.check_newton_step, wrong)


def test_newton_rosenbrock_wrong():
    h = hint_of(checks.check_newton_rosenbrock, lambda f, x: x - grad(f)(x) * 1e-3)
    assert "leave Newton's path" in h and "2.2e+00" in h


#: Realistic wrong submissions, in the format of course/wrong_submissions/<assignment>.json.
WRONG_SUBMISSIONS = json.loads((Path(__file__).resolve().parents[1] / "course" / "wrong_submissions"
                               / "lesson4_higher_order.json").read_text())
