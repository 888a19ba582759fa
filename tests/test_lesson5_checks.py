"""Lesson 5's checks: they pass on the notebook's solutions (and on other correct
ways to write them), their expected values agree with independent oracles
(HIPS autograd, closed forms, the triangular solve (I − C)⁻¹), they fail with
the expected hint on realistic wrong code, and they kill the single-point
mutants of the solutions. The slow tests execute the notebook with nbclient
and grade it through the real nbgrader.
"""
import sys
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import scipy.linalg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lesson_kit import hint_of, run_checks, solution_namespace  # noqa: E402

from autodiff_ref import jacfwd, jvp, trace, vjp  # noqa: E402
from autograder.lessons import lesson5 as checks  # noqa: E402
from autograder.lessons.lesson5.checks import (MATRIX_CASES, PARTIALS_CASES, TRACE_CASES, VJP_CASES,  # noqa: E402
                                               VJP_TABLE)
from autograder.lessons.lesson5.material import M32, product  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "lesson5_linear_maps"
NOTEBOOK = REPO / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

TASKS = {
    "task51-elemental-partials": [("elemental_partials", checks.check_elemental_partials)],
    "task52-extended-matrix": [("extended_matrix", checks.check_extended_matrix)],
    "task53-state-jacobian": [("state_jacobian", checks.check_state_jacobian)],
    "task54-jacobian-forward": [("jacobian_forward", checks.check_jacobian_forward)],
    "task55-jacobian-reverse": [("jacobian_reverse", checks.check_jacobian_reverse)],
    "task56-vjp-from-jvp": [("vjp_from_jvp", checks.check_vjp_from_jvp)],
}


def run_all(ns, only=None):
    run_checks(TASKS, ns, only)
    # a wrong A_i also breaks both accumulations, which use it
    if only == "task53-state-jacobian":
        checks.check_jacobian_forward(ns["jacobian_forward"], hidden=True)
        checks.check_jacobian_reverse(ns["jacobian_reverse"], hidden=True)


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace(NOTEBOOK)


def test_notebook_solutions_pass_every_check(solutions, capsys):
    run_all(solutions)
    assert capsys.readouterr().out.count("✓") == 12


# =============================================================================
# Other correct solutions pass
# =============================================================================
def extended_from_own_partials(tr):
    """C built from the reference elemental partials instead of row.partials."""
    n = tr.n_inputs
    C = np.zeros((len(tr), len(tr)))
    for row in tr.rows[n:]:
        args = [tr.row(j).value for j in row.parents]
        for j, c in zip(row.parents, checks.ELEMENTAL_PARTIALS[row.primitive.name](*args)):
            C[row.index + n - 1, j + n - 1] += c
    return C


def forward_by_substitution(C, n, m):
    N = C.shape[0]
    return scipy.linalg.solve_triangular(np.eye(N) - C, np.eye(N)[:, :n], lower=True)[N - m:]


def reverse_by_adjoint_recursion(C, n, m):
    """The incremental adjoint recursion, row by row, one output at a time."""
    N = C.shape[0]
    rows = []
    for k in range(m):
        vbar = np.zeros(N)
        vbar[N - m + k] = 1.0
        for i in range(N - 1, n - 1, -1):
            vbar[:i] += C[i, :i] * vbar[i]
            vbar[i] = 0.0
        rows.append(vbar[:n])
    return np.array(rows)


def vjp_by_jacfwd(f, x, ybar):
    J = np.asarray(jacfwd(f)(x)).reshape(np.size(ybar), x.size)
    return J.T @ np.atleast_1d(ybar)


@pytest.mark.parametrize("check,impl", [
    (checks.check_elemental_partials, lambda op, args: list(checks.ELEMENTAL_PARTIALS[op](*args))),
    (checks.check_extended_matrix, extended_from_own_partials),
    (checks.check_jacobian_forward, forward_by_substitution),
    (checks.check_jacobian_reverse, reverse_by_adjoint_recursion),
    (checks.check_vjp_from_jvp, vjp_by_jacfwd),
])
def test_other_correct_solutions_pass(check, impl):
    check(impl)
    check(impl, hidden=True)


# =============================================================================
# Oracles and the numbers stated in the lesson
# =============================================================================
AUTOGRAD_OPS = {
    "add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b, "negative": lambda a: -a, "sin": anp.sin, "cos": anp.cos,
    "exp": anp.exp, "log": anp.log, "sqrt": anp.sqrt, "tanh": anp.tanh,
}


def test_elemental_partials_match_hips_autograd():
    assert set(AUTOGRAD_OPS) == set(checks.ELEMENTAL_PARTIALS)
    for seed in (checks.VISIBLE_SEED, checks.HIDDEN_SEED):
        for op, args in PARTIALS_CASES[seed]:
            expected = [autograd.grad(AUTOGRAD_OPS[op], k)(*args) for k in range(len(args))]
            np.testing.assert_allclose(checks.ELEMENTAL_PARTIALS[op](*args), expected, rtol=1e-13, atol=1e-15)


def test_elemental_partials_match_the_trace_rules():
    for seed in (checks.VISIBLE_SEED, checks.HIDDEN_SEED):
        for tc in TRACE_CASES[seed]:
            for row in tc.trace.rows[tc.n:]:
                args = [tc.trace.row(j).value for j in row.parents]
                np.testing.assert_allclose(checks.ELEMENTAL_PARTIALS[row.primitive.name](*args), row.partials,
                                           rtol=1e-13, atol=1e-15)


AUTOGRAD_PROGRAMS = {
    "lesson 2's f(x₁, x₂)": lambda x: (anp.sin(x[0] / x[1]) + x[0] / x[1] - anp.exp(x[1]))
                                      * (x[0] / x[1] - anp.exp(x[1])),
    "x₁·x₂ − cos x₂": lambda x: x[0] * x[1] - anp.cos(x[1]),
    "x₁·x₁ + sin x₂": lambda x: x[0] ** 2 + anp.sin(x[1]),
    "polar (r cos θ, r sin θ)": lambda x: anp.array([x[0] * anp.cos(x[1]), x[0] * anp.sin(x[1])]),
    "(x₁/x₂·exp x₃, ln x₂·√x₁ − x₃)": lambda x: anp.array([x[0] / x[1] * anp.exp(x[2]),
                                                           anp.log(x[1]) * anp.sqrt(x[0]) - x[2]]),
    "(tanh(x₁x₂) + x₃)² / x₂": lambda x: (anp.tanh(x[0] * x[1]) + x[2]) ** 2 / x[1],
    "(x₁x₂ + sin x₃, sin x₃·eˣ¹, eˣ¹ − x₁x₂)": lambda x: anp.array([
        x[0] * x[1] + anp.sin(x[2]), anp.sin(x[2]) * anp.exp(x[0]), anp.exp(x[0]) - x[0] * x[1]]),
}


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_trace_cases_jacobians_match_hips_autograd(seed):
    assert {label for label, *_ in checks.PROGRAMS} == set(AUTOGRAD_PROGRAMS)
    for tc in TRACE_CASES[seed]:
        J = np.atleast_2d(autograd.jacobian(AUTOGRAD_PROGRAMS[tc.label])(np.array(tc.point)))
        for got in (tc.J, checks.jacobian_forward_reference(tc.C, tc.n, tc.m),
                    checks.jacobian_reverse_reference(tc.C, tc.n, tc.m), forward_by_substitution(tc.C, tc.n, tc.m)):
            np.testing.assert_allclose(got, J, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_random_extended_systems_agree_three_ways(seed):
    for Cs, n, m in MATRIX_CASES[seed]:
        C = Cs.value
        assert np.all(np.triu(C) == 0) and np.all(C[:n] == 0)
        expected = forward_by_substitution(C, n, m)
        np.testing.assert_allclose(checks.jacobian_forward_reference(C, n, m), expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(checks.jacobian_reverse_reference(C, n, m), expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(reverse_by_adjoint_recursion(C, n, m), expected, rtol=1e-12, atol=1e-12)


AUTOGRAD_VECTOR = [
    lambda x: anp.array([x[0] * anp.cos(x[1]), x[0] * anp.sin(x[1])]),
    lambda x: anp.dot(M32, anp.tanh(x)),
    lambda x: anp.array([x[0], x[0] * x[1], x[0] * x[1] * x[2]]),
    lambda x: anp.array([x[0] * x[1], x[1] * x[2], anp.sin(x[0]) + x[2], anp.exp(x[1])]),
    lambda x: (anp.sin(x[0] / x[1]) + x[0] / x[1] - anp.exp(x[1])) * (x[0] / x[1] - anp.exp(x[1])),
]


@pytest.mark.parametrize("seed", [checks.VISIBLE_SEED, checks.HIDDEN_SEED])
def test_vjp_table_matches_hips_autograd(seed):
    by_name = {name: g for (name, *_), g in zip(checks.VECTOR_FUNCTIONS, AUTOGRAD_VECTOR)}
    for f, x, ybar in VJP_CASES[seed]:
        J = np.atleast_2d(autograd.jacobian(by_name[f.name])(x))
        np.testing.assert_allclose(VJP_TABLE[seed][id(x)]["vjp"], J.T @ np.atleast_1d(ybar),
                                   rtol=1e-12, atol=1e-12)


def test_numbers_stated_in_the_lesson():
    tr = trace(checks.worked_example, 1.5, 0.5)
    partials = {(r.index, j): c for r in tr.rows for j, c in zip(r.parents, r.partials)}
    assert partials[(1, -1)] == 2.0 and partials[(1, 0)] == -6.0
    assert round(partials[(2, 1)], 5) == -0.98999 and round(partials[(3, 0)], 5) == 1.64872
    assert partials[(4, 1)] == 1 and partials[(4, 3)] == -1 and partials[(5, 2)] == partials[(5, 4)] == 1
    assert round(partials[(6, 5)], 5) == 1.35128 and round(partials[(6, 4)], 5) == 1.49240
    J = checks.jacobian_forward_reference(checks.extended_reference(tr), 2, 1)
    assert np.round(J, 4).tolist() == [[3.0118, -13.7240]]
    cost = checks.chain_cost([(100, 1000), (100, 100), (100, 100), (1, 100)])
    assert cost["forward (right to left)"] == 100 * 100 * 1000 * 2 + 1 * 100 * 1000 == 20_100_000
    assert cost["reverse (left to right)"] == 1 * 100 * 100 * 2 + 1 * 100 * 1000 == 120_000
    assert round(20_100_000 / 120_000) == 168 and 150 < 20_100_000 / 120_000 < 190
    C = checks.extended_reference(tr)
    assert np.linalg.det(np.eye(8) - C) == pytest.approx(1.0, abs=1e-12)
    x = np.array([0.8, 0.4])
    np.testing.assert_allclose(jacfwd(checks.twist)(x), [[1.6, -1.0], [np.cos(0.8) + 0.4, 0.8]], rtol=1e-14)
    with pytest.raises(ValueError, match="cannot follow"):
        checks.chain_cost([(100, 1000), (3, 7)])


def test_figures_draw(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tr = trace(checks.worked_example, 1.5, 0.5)
    for mode in ("forward", "reverse"):
        steps = checks.extended_steps(tr, mode)
        assert len(steps) == 7
        final = steps[-1][2]
        if mode == "forward":
            np.testing.assert_allclose(final[-1], [3.01184333, -13.72396151], rtol=1e-8)
        else:
            np.testing.assert_allclose(final[:2, 0], [3.01184333, -13.72396151], rtol=1e-8)
            assert np.all(final[2:] == 0)
        for k in (0, 3, 6):
            fig = checks.plot_extended_step(tr, k, mode)
            fig.savefig(tmp_path / f"{mode}{k}.png")
            plt.close(fig)
    checks.plot_linear_map(0.3, -0.7, 10, 200)
    plt.close("all")


# =============================================================================
# Realistic wrong code fails with the right hint
# =============================================================================
def partials_with(op, replacement):
    def wrong(name, args):
        if name == op:
            return replacement(*args)
        return checks.ELEMENTAL_PARTIALS[name](*args)
    return wrong


@pytest.mark.parametrize("wrong,expected_hint", [
    (partials_with("divide", lambda a, b: (1 / b, a / (b * b))), "sign: ∂(a/b)/∂b = −a/b²"),
    (partials_with("divide", lambda a, b: (1 / b, -1 / (b * b))), "you dropped the numerator a"),
    (partials_with("divide", lambda a, b: (1 / b, -a / b)), "with b squared"),
    (partials_with("multiply", lambda a, b: (a, b)), "the OTHER factor"),
    (partials_with("subtract", lambda a, b: (1.0, 1.0)), "∂(a − b)/∂b = −1"),
    (partials_with("cos", lambda a: (np.sin(a),)), "d cos a/da = −sin a"),
    (partials_with("sqrt", lambda a: (1 / np.sqrt(a),)), "the ½ is missing"),
    (partials_with("tanh", lambda a: (1 - a * a,)), "square the VALUE"),
    (partials_with("log", lambda a: (np.log(a),)), "not ln a"),
    (partials_with("negative", lambda a: (1.0,)), "∂(−a)/∂a = −1"),
    (partials_with("sin", lambda a: np.cos(a)), "note the comma"),
    (partials_with("exp", lambda a: (a,)), "eᵃ itself"),
])
def test_elemental_partials_wrong(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_elemental_partials, wrong, hidden=True)


def extended_with(place, accumulate=True, size=lambda tr: len(tr)):
    def wrong(tr):
        n, N = tr.n_inputs, size(tr)
        C = np.zeros((N, N))
        for row in tr.rows:
            for j, c in zip(row.parents, row.partials):
                r, col = place(row.index, j, n)
                if accumulate:
                    C[r, col] += c
                else:
                    C[r, col] = c
        return C
    return wrong


@pytest.mark.parametrize("wrong,expected_hint", [
    (extended_with(lambda i, j, n: (j + n - 1, i + n - 1)), "transposed"),
    (extended_with(lambda i, j, n: (i, j)), "numpy reads −1 as the LAST row"),
    (extended_with(lambda i, j, n: (i + n - 1, j + n - 1), accumulate=False), "add them (+=)"),
    (extended_with(lambda i, j, n: (i + n, j + n)), "position i + n − 1"),
    (extended_with(lambda i, j, n: (i - 1, j - 1), size=lambda tr: len(tr) - tr.n_inputs), "inputs included"),
    (lambda tr: checks.extended_reference(tr) - np.eye(len(tr)), "C − I"),
])
def test_extended_matrix_wrong(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_extended_matrix, wrong)


def state_column(C, n, i):
    A = np.eye(C.shape[0])
    A[:, i + n - 1] = C[:, i + n - 1]
    return A


def state_keep_diagonal(C, n, i):
    A = checks.state_jacobian_reference(C, n, i)
    A[i + n - 1, i + n - 1] = 1.0
    return A


@pytest.mark.parametrize("wrong,expected_hint", [
    (state_column, "you replaced a COLUMN"),
    (state_keep_diagonal, "must be 0, not 1"),
    (lambda C, n, i: checks.state_jacobian_reference(C, n, i - 1) if i > 1 else
     checks.state_jacobian_reference(C, n, i + 1), "off by one row"),
    (lambda C, n, i: np.eye(C.shape[0]) + C, "only ONE row"),
    (lambda C, n, i: C[i + n - 1], "the identity with one row replaced"),
])
def test_state_jacobian_wrong(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_state_jacobian, wrong)


def forward_reversed_order(C, n, m):
    N = C.shape[0]
    M = np.eye(N)[:, :n]
    for i in range(N - n, 0, -1):
        M = checks.state_jacobian_reference(C, n, i) @ M
    return M[N - m:]


@pytest.mark.parametrize("wrong,expected_hint", [
    (forward_reversed_order, "A₁ must act first"),
    (lambda C, n, m: checks.jacobian_forward_reference(C, n, m).T, "you returned Jᵀ"),
    (lambda C, n, m: product(C, n, range(1, C.shape[0] - n + 1))[:, :n], "whole extended system"),
    (lambda C, n, m: 2 * checks.jacobian_forward_reference(C, n, m), "start from Pᵀ"),
])
def test_jacobian_forward_wrong(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_jacobian_forward, wrong, hidden=True)


def reverse_forward_order(C, n, m):
    N = C.shape[0]
    M = np.eye(N)[:, N - m:]
    for i in range(1, N - n + 1):
        M = checks.state_jacobian_reference(C, n, i).T @ M
    return M[:n].T


def reverse_no_transpose(C, n, m):
    N = C.shape[0]
    M = np.eye(N)[:, N - m:]
    for i in range(N - n, 0, -1):
        M = checks.state_jacobian_reference(C, n, i) @ M
    return M[:n].T


@pytest.mark.parametrize("wrong,expected_hint", [
    (reverse_forward_order, "wrong order"),
    (reverse_no_transpose, "TRANSPOSES"),
    (lambda C, n, m: checks.jacobian_reverse_reference(C, n, m).T, "you returned Jᵀ"),
])
def test_jacobian_reverse_wrong(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_jacobian_reverse, wrong, hidden=True)


def vjp_without_transpose(f, x, ybar):
    J = np.asarray(jacfwd(f)(x)).reshape(np.size(ybar), x.size)
    return J @ np.atleast_1d(ybar)


@pytest.mark.parametrize("wrong,expected_hint", [
    (lambda f, x, ybar: vjp(f, x)[1](ybar)[0], "reverse-mode tracer"),
    (vjp_without_transpose, "that is J ȳ, not Jᵀ ȳ"),
    (lambda f, x, ybar: jacfwd(f)(x), "the whole Jacobian"),
    (lambda f, x, ybar: -vjp_by_jacfwd(f, x, ybar), "sign is flipped"),
    (lambda f, x, ybar: np.array([np.sum(ybar * jvp(f, (x,), (e,))[1]) for e in np.eye(x.size)])[:1],
     "lives in the INPUT space"),
])
def test_vjp_from_jvp_wrong(wrong, expected_hint):
    assert expected_hint in hint_of(checks.check_vjp_from_jvp, wrong, hidden=True)
