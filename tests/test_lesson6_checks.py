"""Lesson 6's checks (implicit layers): they pass on the notebook's solutions and on
other correct ways to write them, their expected values agree with independent
oracles (closed forms, scipy's root finder, central differences, HIPS autograd),
they fail with the expected hint on realistic wrong code, and they kill the
single-point mutants of the solutions.

The slow tests execute the notebook with nbclient (the blank release fails cleanly) and grade it through the real
nbgrader (solution → full marks, blank → 0, wrong → partial with its message).
"""
import json
from pathlib import Path
import math

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from scipy.optimize import brentq

from autodiff_ref import fixed_point, grad, jvp, vjp
from autograder.checks import CheckFailure
from autograder import widgets
from autograder.lessons import lesson6 as checks
from autograder.lessons.lesson6 import checks as kit
from autograder.lessons.lesson6 import figures

from lesson_kit import assert_blank_tasks_not_done, assert_every_check_passes, hint_of, solution_namespace
from conftest import REPO

ASSIGNMENT = "lesson6_implicit_layers"
NOTEBOOK = REPO / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
CHECKS = {
    "task61-ift": [("ift_derivatives", checks.check_dy_dtheta), ("ift_derivatives", checks.check_dy_dx)],
    "task62-adjoint-solve": [("adjoint_solve", checks.check_adjoint_solve),
                             ("adjoint_solve", checks.check_adjoint_solve_edges)],
    "task63-fixed-point-vjp": [("fixed_point_vjp", checks.check_fixed_point_vjp),
                               ("fixed_point_vjp", checks.check_fixed_point_vjp_fd)],
}


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace(NOTEBOOK)


# =============================================================================
# The checks pass on correct code
# =============================================================================
def test_notebook_solutions_pass_every_check(solutions, capsys):
    assert_every_check_passes(CHECKS, solutions, capsys, ticks=12)


def ift_via_sech(theta, x, y):
    """Another correct way: sech² from cosh, and the IFT from the root form −F_θ/F_y."""
    s = 1 / np.cosh(theta * y + x) ** 2
    F_y, F_theta, F_x = 1 - theta * s, -y * s, -s
    return -F_theta / F_y, -F_x / F_y


def ift_via_one_minus_y_squared(theta, x, y):
    """sech²(θy + x) = 1 − y² at the fixed point."""
    s = 1 - y * y
    return y * s / (1 - theta * s), s / (1 - theta * s)


@pytest.mark.parametrize("impl", [ift_via_sech, ift_via_one_minus_y_squared])
def test_other_correct_ift_derivatives_pass(impl):
    for hidden in (False, True):
        checks.check_dy_dtheta(impl, hidden=hidden)
        checks.check_dy_dx(impl, hidden=hidden)


def adjoint_solve_while(g, y_star, params, ybar, rtol=1e-12, max_iter=10_000):
    """A while loop, the pullback applied to a fresh copy, the relative test on the old u."""
    _, pullback = vjp(lambda y: g(y, *params), y_star)
    u, k = np.array(ybar, dtype=float), 0
    while True:
        k += 1
        if k > max_iter:
            raise ArithmeticError("no convergence")
        new = ybar + pullback(u)[0]
        change, size = np.max(np.abs(new - u)), np.max(np.abs(new))
        u = new
        if change <= rtol * size:
            return u


def adjoint_solve_dense(g, y_star, params, ybar, rtol=1e-12, max_iter=10_000):
    """A direct solve is not what the task asks for, but it is right; in the divergent case it
    returns the true solution, which the check accepts."""
    shape = np.shape(y_star)
    n = int(np.prod(shape))
    _, pullback = vjp(lambda y: g(y, *params), y_star)
    rows = [np.reshape(pullback(np.reshape(e, shape) if shape else e[0])[0], -1) for e in np.eye(n)]
    JT = np.array(rows).T           # column j of Jᵀ is Jᵀ e_j
    u = np.linalg.solve(np.eye(n) - JT, np.reshape(ybar, -1))
    return u.reshape(shape) if shape else float(u[0])


@pytest.mark.parametrize("impl", [adjoint_solve_while, adjoint_solve_dense])
def test_other_correct_adjoint_solves_pass(impl):
    for hidden in (False, True):
        checks.check_adjoint_solve(impl, hidden=hidden)
        checks.check_adjoint_solve_edges(impl, hidden=hidden)


def test_a_vjp_through_the_library_passes(solutions):
    def library_vjp(g, y_star, params, ybar):
        _, pullback = vjp(lambda *p: fixed_point(g, y_star, *p, method="newton", tol=1e-13), *params)
        return pullback(ybar)
    checks.check_fixed_point_vjp(library_vjp, hidden=True)
    checks.check_fixed_point_vjp_fd(library_vjp, hidden=True)


# =============================================================================
# The expected values agree with independent oracles
# =============================================================================
@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_ift_table_matches_the_closed_form_and_differences(seed):
    for theta, x, y in kit._IFT_CASES[seed]:
        # the fixed point itself, by scipy's bracketing root finder near y
        lo, hi = y - 1e-6, y + 1e-6
        assert brentq(lambda t: t - math.tanh(theta * t + x), lo, hi, xtol=1e-15) == pytest.approx(y, abs=1e-13)
        s = 1 - y * y
        d_theta, d_x = kit._IFT_TABLE[seed][(theta, x, y)]
        assert d_theta == pytest.approx(y * s / (1 - theta * s), rel=1e-10, abs=1e-12)
        assert d_x == pytest.approx(s / (1 - theta * s), rel=1e-10, abs=1e-12)
        # central differences of the branch through y (Newton from y on the perturbed problem)
        h = 1e-6

        def solve(th, xx):
            return brentq(lambda t: t - math.tanh(th * t + xx), y - 0.05, y + 0.05, xtol=1e-15)
        if all(abs(solve(theta, x) - y) < 1e-12 for _ in [0]) and abs(1 - theta * s) > 0.1:
            fd_theta = (solve(theta + h, x) - solve(theta - h, x)) / (2 * h)
            fd_x = (solve(theta, x + h) - solve(theta, x - h)) / (2 * h)
            assert fd_theta == pytest.approx(d_theta, rel=1e-6, abs=1e-8)
            assert fd_x == pytest.approx(d_x, rel=1e-6, abs=1e-8)


def test_the_ift_cases_cover_every_branch_and_negative_slopes():
    cases = kit._IFT_CASES[checks.VISIBLE_SEED]
    assert sum(1 for th, x, _ in cases if (th, x) == (2.0, 0.5)) == 3      # all three branches
    assert any(th * (1 - y * y) > 1 for th, _, y in cases)                  # a repelling branch
    assert any(th * (1 - y * y) < -1 for th, _, y in cases)                 # where iteration fails
    hidden = kit._IFT_CASES[checks.HIDDEN_SEED]
    assert len(hidden) >= 20 and len({(th, x) for th, x, _ in hidden}) >= 12


def _deq_closed_form(problem, ybar):
    """For tanh(Wz + x): J = diag(d) W, u = (I − J)⁻ᵀ ȳ, W̄ = (d⊙u) zᵀ, x̄ = d⊙u."""
    W, x = problem.params
    z = problem.y_star
    d = 1 - z * z
    u = np.linalg.solve((np.eye(len(z)) - d[:, None] * W).T, ybar)
    return u, (np.outer(d * u, z), d * u)


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_adjoint_and_vjp_tables_match_closed_forms(seed):
    n_deq = 0
    for (problem, ybar), u in zip(kit._ADJOINT_CASES[seed], kit._ADJOINT_TABLE[seed]):
        assert np.max(np.abs(problem.g(problem.y_star, *problem.params) - problem.y_star)) < 1e-12
        if problem.name.startswith("tanh(W z + x)") and "Z" not in problem.name:
            n_deq += 1
            expected, _ = _deq_closed_form(problem, ybar)
            np.testing.assert_allclose(u, expected, rtol=1e-11, atol=1e-13)
            assert not np.allclose(problem.J, problem.J.T)      # so a wrong transpose shows
    for (problem, ybar), cotangents in zip(kit._VJP_CASES[seed], kit._VJP_TABLE[seed]):
        if problem.name.startswith("tanh(W z + x)") and "Z" not in problem.name:
            _, expected = _deq_closed_form(problem, ybar)
            for got, want in zip(cotangents, expected):
                np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        if problem.name.startswith("tanh(θ·y + x)"):
            theta, x = problem.params
            y = problem.y_star
            s = 1 - y * y
            assert cotangents[0] == pytest.approx(ybar * y * s / (1 - theta * s), rel=1e-10)
            assert cotangents[1] == pytest.approx(ybar * s / (1 - theta * s), rel=1e-10)
    assert n_deq >= 2


def _autograd_fixed_point(problem):
    """The same fixed point, differentiated by HIPS autograd's own fixed_point (its IFT VJP)."""
    from autograd.misc.fixed_points import fixed_point as ag_fixed_point
    W, x = problem.params

    def solve(W):
        def step(W):
            return lambda z: anp.tanh(anp.dot(W, z) + x)

        def distance(a, b):
            return anp.max(anp.abs(a - b))
        return ag_fixed_point(step, W, np.zeros(len(x)), distance, 1e-14)
    return solve


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_vjp_table_matches_hips_autograd(seed):
    seen = 0
    for (problem, ybar), cotangents in zip(kit._VJP_CASES[seed], kit._VJP_TABLE[seed]):
        if problem.name.startswith("tanh(W z + x)") and "Z" not in problem.name:
            solve = _autograd_fixed_point(problem)
            W_bar = autograd.grad(lambda W: anp.dot(ybar, solve(W)))(problem.params[0])
            np.testing.assert_allclose(cotangents[0], W_bar, rtol=1e-9, atol=1e-12)
            seen += 1
    assert seen >= 2


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_central_difference_table_agrees_with_the_implicit_vjp(seed):
    for (problem, ybar, direction, fd) in kit._FD_CASES[seed]:
        _, pullback = vjp(lambda *p: fixed_point(problem.g, problem.y_star, *p, method="newton",
                                                 tol=1e-13), *problem.params)
        exact = sum(np.sum(np.asarray(c) * np.asarray(d)) for c, d in zip(pullback(ybar), direction))
        assert fd == pytest.approx(exact, rel=1e-7, abs=1e-9)


def test_the_divergent_case_really_diverges():
    problem, ybar = kit._DIVERGENT
    assert max(abs(np.linalg.eigvals(problem.J))) == pytest.approx(1.5)
    u = ybar.copy()
    _, pullback = vjp(lambda y: problem.g(y, *problem.params), problem.y_star)
    for _ in range(200):
        u = ybar + pullback(u)[0]
    assert np.max(np.abs(u)) > 1e30


def test_numbers_stated_in_the_lesson():
    fp = checks.fixed_points
    (y, slope), = fp(0.5, 0.3)
    assert round(y, 6) == 0.500832 and round(slope, 3) == 0.375
    s = 1 - y * y
    assert round(s, 6) == 0.749167 and round(0.5 * s, 6) == 0.374584
    assert round(y * s / (1 - 0.5 * s), 5) == 0.59993 and round(s / (1 - 0.5 * s), 5) == 1.19787
    assert figures._verdict(checks.iterate(0.5, 0.3, 0.0, 40), 0.5, 0.3)[2] == 28
    assert round(fp(0.95, 0.05)[0][1], 2) == 0.78
    assert round(fp(-0.9, 0.3)[0][1], 2) == -0.88
    assert round(checks.iterate(1.0, 0.0, 0.9, 300)[-1], 3) == 0.070
    assert math.sqrt(3 / (2 * 300)) == pytest.approx(0.0707, abs=1e-4)
    (y, slope), = fp(-3.0, 0.2)
    assert round(slope, 2) == -2.99
    ys = checks.iterate(-3.0, 0.2, 0.0, 60)
    assert sorted(round(v, 3) for v in ys[-2:]) == [-0.992, 0.997]
    kind, cycle, _ = figures._verdict(ys, -3.0, 0.2)
    assert kind == "cycle"
    three = fp(2.0, 0.5)
    assert [round(y, 3) for y, _ in three] == [-0.802, -0.585, 0.986]
    assert [round(s, 2) for _, s in three] == [0.71, 1.32, 0.06]
    assert fixed_point(checks.tanh_layer, 0.0, 2.0, 0.5) == pytest.approx(0.9858, abs=1e-4)
    assert fixed_point(checks.tanh_layer, 0.0, 2.0, 0.5, method="newton") == pytest.approx(-0.8018, abs=1e-4)
    assert checks.iterate(2.0, 0.0, 0.0, 50)[-1] == 0.0
    # the folds of the S-curve at θ = 2
    y_fold = math.sqrt(0.5)
    assert round(math.atanh(y_fold) - 2 * y_fold, 3) == -0.533
    # spectral radii of ∂g/∂z: 0.38 (Gaussian W, ‖W‖₂ = 0.9) and 0.95 (0.98·Q), n = 50
    for (W, x), radius in ((checks.deq_problem(50, 0.9, 0), 0.38), (checks.slow_deq_problem(50, 0.98, 0), 0.95)):
        z = fixed_point(checks.deq_layer, np.zeros(50), W, x, method="newton")
        J = (1 - z * z)[:, None] * W
        assert round(max(abs(np.linalg.eigvals(J))), 2) == radius
    # the dip of the unrolled derivative error is a sign change between k = 129 and 131
    theta, x = 0.95, 0.02
    y_star = fixed_point(checks.tanh_layer, 0.0, theta, x, method="newton", tol=1e-15)
    exact = grad(lambda t: fixed_point(checks.tanh_layer, y_star, t, x, method="newton", tol=1e-15))(theta)
    before = grad(lambda t: figures._unrolled(t, x, 129))(theta) - exact
    after = grad(lambda t: figures._unrolled(t, x, 131))(theta) - exact
    assert before < 0 < after
    assert round(checks.fixed_points(theta, x)[0][1], 3) == 0.882


def test_iteration_counts_printed_in_the_lesson():
    # The lesson prints these counts; they hinge on a residual crossing the tolerance, so an
    # ulp of np.tanh (SIMD or libm) may move them by one. Assert the rates, not the exact count.
    runs = {(0.5, 0.3): (24, 5), (0.95, 0.02): (161, 6)}
    for (theta, x), (iterate, newton) in runs.items():
        got_iterate, got_newton = (fixed_point(checks.tanh_layer, 0.0, theta, x, method=m, return_info=True)[1].iterations
                                   for m in ("iterate", "newton"))
        assert abs(got_iterate - iterate) <= 1 and got_newton <= newton + 1 and got_newton < got_iterate


def test_unrolled_error_exceeds_the_ift_error_at_the_printed_iterations():
    errors = checks.unrolled_vs_implicit(theta=0.95, x=0.02, ks=(21, 41, 81, 161))
    ratios = errors["unrolled"] / errors["ift"]
    assert np.all(ratios > 3) and np.all(errors["ift"] < 3 * errors["y"])


def test_memory_of_the_implicit_gradient_does_not_grow_with_the_iterations():
    result = checks.measure_implicit_vs_unrolled(n=60, rho=0.98, tols=(1e-3, 1e-9))
    small, large = result["rows"]
    assert large["iterations"] > 2.5 * small["iterations"]
    assert large["implicit_bytes"] < 1.1 * small["implicit_bytes"]
    assert large["unrolled_bytes"] > 2 * small["unrolled_bytes"]
    assert large["implicit_error"] < large["unrolled_error"]


# =============================================================================
# Realistic wrong code fails with the right hint
# =============================================================================
def sech2(theta, x, y):
    return 1 - np.tanh(theta * y + x) ** 2


WRONG_IFT = [
    (lambda th, x, y: (sech2(th, x, y) * y, sech2(th, x, y)), "alone, the explicit dependence", "both"),
    (lambda th, x, y: (sech2(th, x, y) * y / (1 + th * sech2(th, x, y)),
                       sech2(th, x, y) / (1 + th * sech2(th, x, y))), "1 + ∂g/∂y", "both"),
    (lambda th, x, y: (-sech2(th, x, y) * y / (1 - th * sech2(th, x, y)),
                       -sech2(th, x, y) / (1 - th * sech2(th, x, y))), "sign is flipped", "both"),
    (lambda th, x, y: (sech2(th, x, y) * y / (th * sech2(th, x, y) - 1),
                       sech2(th, x, y) / (th * sech2(th, x, y) - 1)), "minus signs cancel", "both"),
    (lambda th, x, y: ift_via_sech(th, x, y)[::-1], "swapped", "both"),
    (lambda th, x, y: (np.tanh(th * y + x) * y / (1 - th * np.tanh(th * y + x)),
                       np.tanh(th * y + x) / (1 - th * np.tanh(th * y + x))), "sech²(u) = 1 − tanh²(u)", "both"),
    (lambda th, x, y: (sech2(th, x, y) * th / (1 - th * sech2(th, x, y)),
                       sech2(th, x, y) / (1 - th * sech2(th, x, y))), "the factor is y", "theta"),
    (lambda th, x, y: (sech2(th, x, y) * y / (1 - th * sech2(th, x, y)),
                       sech2(th, x, y) * y / (1 - th * sech2(th, x, y))), "that is dy/dθ", "x"),
    (lambda th, x, y: ift_via_sech(th, x, fixed_point(checks.tanh_layer, 0.0, th, x, method="newton")),
     "Use the y you are given", "both"),
    (lambda th, x, y: tuple(v * (1 + 1e-4) for v in ift_via_sech(th, x, y)), "close, but not within", "both"),
    (lambda th, x, y: ift_via_sech(th, x, y)[0], "a pair", "both"),
    (lambda th, x, y: 1 / 0, "ZeroDivisionError", "both"),
]


@pytest.mark.parametrize("wrong,expected_hint,which", WRONG_IFT)
def test_ift_wrong(wrong, expected_hint, which):
    for check, name in ((checks.check_dy_dtheta, "theta"), (checks.check_dy_dx, "x")):
        if which in ("both", name):
            with pytest.raises(CheckFailure) as info:
                check(wrong)
            assert expected_hint in str(info.value), str(info.value)
    if which == "theta":
        checks.check_dy_dx(wrong)
    if which == "x":
        checks.check_dy_dtheta(wrong)


def adjoint_variant(step, stop="relative", start="ybar"):
    """An adjoint_solve whose update is `step(ybar, pullback, jvp_of_g, u)`."""
    def solve(g, y_star, params, ybar, rtol=1e-12, max_iter=10_000):
        _, pullback = vjp(lambda y: g(y, *params), y_star)

        def J(u):
            return jvp(lambda y: g(y, *params), (y_star,), (u,))[1]
        u = ybar
        for _ in range(max_iter):
            new = step(ybar, lambda v: pullback(v)[0], J, u)
            change = np.max(np.abs(new - u))
            done = change <= (rtol * np.max(np.abs(new)) if stop == "relative" else 1e-10)
            u = new
            if done:
                return u
        raise RuntimeError("did not converge")
    return solve


def adjoint_in_place(g, y_star, params, ybar, rtol=1e-12, max_iter=10_000):
    _, pullback = vjp(lambda y: g(y, *params), y_star)
    u = ybar
    base = np.array(ybar, dtype=float)
    for _ in range(max_iter):
        new = base + pullback(u)[0]
        if np.max(np.abs(new - u)) <= rtol * np.max(np.abs(new)):
            if isinstance(u, np.ndarray):
                u[...] = new                     # writes into ybar: u is ybar
                return u
            return new
        if isinstance(u, np.ndarray):
            u[...] = new
        else:
            u = new
    raise RuntimeError("did not converge")


def adjoint_no_raise(g, y_star, params, ybar, rtol=1e-12, max_iter=10_000):
    _, pullback = vjp(lambda y: g(y, *params), y_star)
    u = ybar
    for _ in range(max_iter):
        new = ybar + pullback(u)[0]
        if np.max(np.abs(new - u)) <= rtol * np.max(np.abs(new)):
            return new
        u = new
    return u


def adjoint_forever(g, y_star, params, ybar, rtol=1e-12, max_iter=10_000):
    _, pullback = vjp(lambda y: g(y, *params), y_star)
    u = ybar
    while True:
        new = ybar + pullback(u)[0]
        if np.max(np.abs(new - u)) <= rtol * np.max(np.abs(new)):
            return new
        u = new


WRONG_ADJOINT = [
    (adjoint_variant(lambda b, JT, J, u: b + J(u)), checks.check_adjoint_solve, "(I − ∂g/∂y)u = ȳ"),
    (adjoint_variant(lambda b, JT, J, u: b - JT(u)), checks.check_adjoint_solve, "(I + ∂g/∂y)ᵀu = ȳ"),
    (adjoint_variant(lambda b, JT, J, u: b - J(u)), checks.check_adjoint_solve, "(I + ∂g/∂y)"),
    (adjoint_variant(lambda b, JT, J, u: -b + JT(u)),
     checks.check_adjoint_solve, "sign is flipped"),
    (lambda g, y, p, b, **k: b, checks.check_adjoint_solve, "that is ȳ itself"),
    (lambda g, y, p, b, **k: b + vjp(lambda t: g(t, *p), y)[1](b)[0], checks.check_adjoint_solve,
     "a single iteration"),
    (lambda g, y, p, b, **k: b - vjp(lambda t: g(t, *p), y)[1](b)[0], checks.check_adjoint_solve,
     "you multiplied by the matrix"),
    (adjoint_variant(lambda b, JT, J, u: b + JT(u), stop="absolute"), checks.check_adjoint_solve_edges,
     "does not scale with ȳ"),
    (adjoint_in_place, checks.check_adjoint_solve_edges, "a second name for the same array"),
    (adjoint_no_raise, checks.check_adjoint_solve_edges, "Never return an unconverged u"),
    (adjoint_forever, checks.check_adjoint_solve_edges, "after max_iter"),
]


@pytest.mark.parametrize("wrong,check,expected_hint", WRONG_ADJOINT)
def test_adjoint_solve_wrong(wrong, check, expected_hint):
    assert expected_hint in hint_of(check, wrong)


@pytest.mark.parametrize("stop", ["relative", "absolute"])
def test_the_edge_check_blames_a_missing_transpose_not_the_tolerance(stop):
    """On ȳ of size 1e-9 a missing transpose gives an answer a few per cent off, which
    used to be read as an absolute stopping test; the nearer known answer decides."""
    hint = hint_of(checks.check_adjoint_solve_edges, adjoint_variant(lambda b, JT, J, u: b + J(u), stop=stop))
    assert "the adjoint system has the transpose" in hint
    assert "does not scale" not in hint


def test_the_absolute_stopping_test_passes_the_first_cell_only():
    wrong = adjoint_variant(lambda b, JT, J, u: b + JT(u), stop="absolute")
    checks.check_adjoint_solve(wrong)
    with pytest.raises(CheckFailure):
        checks.check_adjoint_solve_edges(wrong)


def make_vjp(adjoint, sign=1.0):
    def fixed_point_vjp(g, y_star, params, ybar):
        u = adjoint(g, y_star, params, ybar)
        _, pullback = vjp(lambda *p: g(y_star, *p), *params)
        return tuple(sign * c for c in pullback(u))
    return fixed_point_vjp


def unrolled_vjp(g, y_star, params, ybar):
    def run(*p):
        y = 0 * y_star
        for _ in range(30):
            y = g(y, *p)
        return y
    return vjp(run, *params)[1](ybar)


WRONG_VJP = [
    (lambda g, y, p, b: vjp(lambda *q: g(y, *q), *p)[1](b), "you skipped the adjoint solve"),
    (make_vjp(adjoint_solve_while, sign=-1.0), "the sign is flipped"),
    (make_vjp(adjoint_variant(lambda b, JT, J, u: b + J(u))), "transposed wrongly"),
    (make_vjp(adjoint_variant(lambda b, JT, J, u: b - JT(u))), "uses (I + ∂g/∂y)"),
    (unrolled_vjp, "differentiate through a finite number of iterations"),
    (lambda g, y, p, b: make_vjp(adjoint_solve_while)(g, y, p, b)[0], "a tuple"),
    (lambda g, y, p, b: make_vjp(adjoint_solve_while)(g, y, p, b) + (0.0,), "cotangents"),
]


@pytest.mark.parametrize("wrong,expected_hint", WRONG_VJP)
def test_fixed_point_vjp_wrong(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_fixed_point_vjp, wrong)


@pytest.mark.parametrize("wrong,expected_hint", WRONG_VJP[:4])
def test_fixed_point_vjp_wrong_against_differences(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_fixed_point_vjp_fd, wrong)


def test_a_blank_task_says_it_is_not_done():
    assert_blank_tasks_not_done(CHECKS)


def test_checks_survive_a_notebook_rebinding_numpy(monkeypatch, solutions):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    monkeypatch.setattr(np, "isclose", lambda *a, **k: True)
    with pytest.raises(CheckFailure):
        checks.check_dy_dtheta(lambda th, x, y: (0.0, 0.0))
    with pytest.raises(CheckFailure):        # ȳ changed in place is still seen
        checks.check_adjoint_solve_edges(adjoint_in_place)
    monkeypatch.undo()
    checks.check_adjoint_solve_edges(solutions["adjoint_solve"])


# =============================================================================
# Figures and the widget draw headless, in every regime of the cobweb plot
# =============================================================================
def test_figures_and_widget_draw_headless(monkeypatch, solutions):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda: None)
    titles = {}
    for theta, x, y0 in ((0.5, 0.3, 0.0), (-3.0, 0.2, 0.0), (1.0, 0.0, 0.9), (0.95, 0.02, 0.0)):
        ax, ax2 = checks.plot_cobweb(theta, x, y0, 40)
        titles[theta] = (ax.get_title(), ax2.get_title())
        plt.close("all")
    assert titles[0.5][0].startswith("converged to y* = 0.500832 in 28")
    assert "2-cycle" in titles[-3.0][0] and "never shrink" in titles[-3.0][1]
    assert "not converged" in titles[1.0][0] and "power of k" in titles[1.0][1]
    assert "not converged after 40" in titles[0.95][0]
    widget = checks.cobweb_widget()
    sliders = {c.description: c for box in widget.children[0].children for c in box.children}
    sliders["θ"].value = -3.0
    sliders["iterations"].value = 100
    checks.plot_branches(solutions["ift_derivatives"])
    rows = checks.newton_vs_iteration([("scalar", checks.tanh_layer, 0.0, (0.5, 0.3))], repeats=2)
    checks.plot_newton_vs_iteration(rows)
    checks.plot_unrolled_vs_implicit(checks.unrolled_vs_implicit(ks=range(1, 40, 5)))
    plt.close("all")


def test_one_blas_thread_restores_the_thread_count():
    found = widgets._openblas()
    if found is None:
        pytest.skip("numpy's OpenBLAS not found")
    set_threads, get_threads = found
    before = get_threads()
    with widgets.one_blas_thread():
        assert get_threads() == 1
    assert get_threads() == before


#: Realistic wrong submissions: (name, {solution grade_id: source}, {graded cell: [words in its output]}).
WRONG_SUBMISSIONS = json.loads((Path(__file__).resolve().parents[1] / "course" / "wrong_submissions"
                               / "lesson6_implicit_layers.json").read_text())
