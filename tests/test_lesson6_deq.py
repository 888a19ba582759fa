"""Lesson 6, Tasks 6.4 and 6.5 (training a small deep-equilibrium model): the checks pass on
the notebook's solutions and on other correct ways to write them, their expected values agree
with an oracle written in plain numpy (no autodiff_ref) and with central differences, they fail
with the expected hint on realistic slips, Task 6.4 is judged without the student's Task 6.3,
the policy's forbidden names exist, and the training the lesson runs converges as its prose says.

The notebook's execution and its grading through nbgrader are in tests/test_notebooks.py and
tests/test_workflow.py (the lesson contract, with this task's wrong submissions).
"""
import numpy as np
import pytest

from autodiff_ref import fixed_point, grad, vjp
from autodiff_ref import dual, implicit
from autograder.checks import CheckFailure
from autograder.lessons import lesson6 as checks
from autograder.lessons.lesson6 import checks_deq as kit
from autograder.policy import policy_for

from conftest import REPO
from lesson_kit import assert_blank_tasks_not_done, assert_every_check_passes, hint_of, solution_namespace

ASSIGNMENT = "lesson6_implicit_layers"
NOTEBOOK = REPO / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
CHECKS = {
    "task64-deq-grad": [("deq_loss_and_grad", checks.check_deq_grad),
                        ("deq_loss_and_grad", checks.check_deq_grad_fd)],
    "task65-train-step": [("deq_train_step", checks.check_deq_train_step)],
}
SEEDS = [checks.VISIBLE_SEED, checks.HIDDEN_SEED]


@pytest.fixture(scope="module")
def solutions():
    return solution_namespace(NOTEBOOK)


# =============================================================================
# The checks pass on correct code
# =============================================================================
def test_notebook_solutions_pass_every_check(solutions, capsys):
    assert_every_check_passes(CHECKS, solutions, capsys, ticks=6)


def loss_and_grad_by_vjp_of_the_readout(params, X, Y, fixed_point_vjp):
    """Another correct way: Newton for the forward solve, the read-out's gradient by vjp."""
    W, U, b, c, d = params
    g = lambda Z, W, U, b: np.tanh(W @ Z + U @ X + b)  # noqa: E731
    Z = fixed_point(g, np.zeros((W.shape[0], X.shape[1])), W, U, b, method="newton")

    def loss(Z, c, d):
        r = c @ Z + d - Y
        return np.mean(r ** 2)
    value, pullback = vjp(loss, Z, c, d)
    Z_bar, c_bar, d_bar = pullback(1.0)
    return value, tuple(fixed_point_vjp(g, Z, [W, U, b], Z_bar)) + (c_bar, float(d_bar))


def train_step_by_svd(params, X, Y, lr, loss_and_grad, max_norm=0.9):
    """Another correct way: the spectral norm from the singular values, a list comprehension."""
    loss, grads = loss_and_grad(params, X, Y)
    W = params[0] - lr * grads[0]
    top = np.linalg.svd(W, compute_uv=False)[0]
    W = W * min(1.0, max_norm / top)
    return loss, (W,) + tuple(p - lr * g for p, g in zip(params[1:], grads[1:]))


def test_other_correct_ways_pass():
    for hidden in (False, True):
        checks.check_deq_grad(loss_and_grad_by_vjp_of_the_readout, hidden=hidden)
        checks.check_deq_grad_fd(loss_and_grad_by_vjp_of_the_readout, hidden=hidden)
        checks.check_deq_train_step(train_step_by_svd, hidden=hidden)


def test_task_64_is_judged_without_task_63(solutions):
    """The check passes in the course's VJP: a broken fixed_point_vjp in the notebook does not
    matter, and the student's own one gives the same gradient when it is right."""
    ns = dict(solutions, fixed_point_vjp=lambda *a: (_ for _ in ()).throw(ValueError("broken")))
    checks.check_deq_grad(ns["deq_loss_and_grad"], hidden=True)
    label, params, X, Y = kit._PROBLEMS[checks.HIDDEN_SEED][0]
    mine = solutions["deq_loss_and_grad"](params, X, Y, solutions["fixed_point_vjp"])
    course = solutions["deq_loss_and_grad"](params, X, Y, checks.implicit_vjp)
    for a, b in zip(mine[1], course[1]):
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12)


# =============================================================================
# The expected values agree with independent oracles
# =============================================================================
def numpy_oracle(params, X, Y):
    """(L, ∇L) in plain numpy: Z* by Newton column by column, then per column
    (I − D W)ᵀu = z̄ with D = diag(1 − z*²), and W̄ = Σ (D u) zᵀ, Ū = Σ (D u) x, b̄ = Σ D u."""
    W, U, b, c, d = params
    n, m = W.shape[0], X.shape[1]
    Z = np.zeros((n, m))
    for j in range(m):
        z = np.zeros(n)
        for _ in range(60):
            t = np.tanh(W @ z + U[:, 0] * X[0, j] + b[:, 0])
            step = np.linalg.solve(np.eye(n) - (1 - t * t)[:, None] * W, z - t)
            z = z - step
            if np.max(np.abs(step)) < 1e-15:
                break
        Z[:, j] = z
    r = c @ Z + d - Y
    loss = float(np.sum(r * r) / m)
    ybar = 2 * r / m
    W_bar, U_bar, b_bar = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    for j in range(m):
        z = Z[:, j]
        D = 1 - z * z
        u = np.linalg.solve((np.eye(n) - D[:, None] * W).T, c[0] * ybar[0, j])
        Du = D * u
        W_bar += np.outer(Du, z)
        U_bar[:, 0] += Du * X[0, j]
        b_bar[:, 0] += Du
    return loss, (W_bar, U_bar, b_bar, ybar @ Z.T, float(np.sum(ybar)))


@pytest.mark.parametrize("seed", SEEDS)
def test_reference_table_matches_the_numpy_oracle(seed):
    for (label, params, X, Y), (loss, grads) in zip(kit._PROBLEMS[seed], kit._TABLE[seed]):
        o_loss, o_grads = numpy_oracle(params, X, Y)
        assert loss == pytest.approx(o_loss, rel=1e-12), label
        for name, a, b in zip(kit.NAMES, grads, o_grads):
            assert np.allclose(a, b, rtol=1e-9, atol=1e-12), (label, name)


@pytest.mark.parametrize("seed", SEEDS)
def test_central_differences_agree_with_the_table(seed):
    for (case, v, fd), (_, grads) in zip(kit._FD_CASES[seed], kit._TABLE[seed]):
        exact = sum(float(np.sum(np.asarray(g) * np.asarray(dv))) for g, dv in zip(grads, v))
        assert fd == pytest.approx(exact, rel=1e-7, abs=1e-9), case[0]


def test_the_course_vjp_matches_reverse_mode_through_fixed_point():
    """implicit_vjp (forward mode and a dense solve) against autodiff_ref's implicit VJP on the
    problems of Task 6.3, vectors, a batch and a scalar parameter among them."""
    for problem, ybar in checks_problems():
        _, pullback = vjp(lambda *p: fixed_point(problem.g, problem.y_star, *p, method="newton", tol=1e-13),
                          *problem.params)
        for a, b in zip(checks.implicit_vjp(problem.g, problem.y_star, problem.params, ybar), pullback(ybar)):
            assert np.allclose(a, b, rtol=1e-9, atol=1e-12), problem.name


def checks_problems():
    from autograder.lessons.lesson6 import checks as six
    rng = np.random.default_rng(0)
    return [(p, rng.normal(size=p.shape) if p.shape else float(rng.normal()))
            for seed in SEEDS for p in six._PROBLEMS[seed]]


def test_the_step_cases_cover_both_sides_of_the_ball():
    """Every seed has a step that stays inside ‖W‖₂ ≤ max_norm and one that the rescaling pulls back."""
    for seed in SEEDS:
        inside = []
        for (label, params, X, Y), lr, max_norm in kit._step_cases(seed):
            _, grads = kit._reference(params, X, Y)
            inside.append(np.linalg.norm(params[0] - lr * grads[0], 2) <= max_norm)
        assert any(inside) and not all(inside), seed


def test_no_case_has_as_many_examples_as_hidden_units():
    """Z @ W for W @ Z must fail with a shape error, not compute something."""
    for seed in SEEDS:
        for label, params, X, Y in kit._PROBLEMS[seed]:
            assert params[0].shape[0] != X.shape[1], label
            assert params[4] != 0, label      # a dropped d changes the loss


# =============================================================================
# Realistic slips get their hints
# =============================================================================
SOLUTION_64 = '''
def deq_loss_and_grad(params, X, Y, fixed_point_vjp):
    W, U, b, c, d = params
    g = lambda Z, W, U, b: np.tanh(W @ Z + U @ X + b)
    Z = fixed_point(g, np.zeros((len(b), X.shape[1])), W, U, b)
    m = X.shape[1]
    r = c @ Z + d - Y
    loss = np.sum(r * r) / m
    y_bar = 2 * r / m
    c_bar, d_bar = y_bar @ Z.T, np.sum(y_bar)
    Z_bar = c.T @ y_bar
    W_bar, U_bar, b_bar = fixed_point_vjp(g, Z, (W, U, b), Z_bar)
    return loss, (W_bar, U_bar, b_bar, c_bar, d_bar)
'''
SOLUTION_65 = '''
def deq_train_step(params, X, Y, lr, loss_and_grad, max_norm=0.9):
    loss, grads = loss_and_grad(params, X, Y)
    new = [p - lr * g for p, g in zip(params, grads)]
    norm = np.linalg.norm(new[0], 2)
    if norm > max_norm:
        new[0] = new[0] * (max_norm / norm)
    return loss, tuple(new)
'''


def variant(source, old, new, name):
    assert old in source, old
    ns = {"np": np, "fixed_point": fixed_point, "vjp": vjp, "grad": grad}
    exec(source.replace(old, new), ns)
    return ns[name]


VJP_CALL = "W_bar, U_bar, b_bar = fixed_point_vjp(g, Z, (W, U, b), Z_bar)"
GRAD_SLIPS = [
    ("no read-out transpose", VJP_CALL, VJP_CALL.replace("Z_bar)", "y_bar)"), "sends it back to Z* through cᵀ"),
    ("read-out only", VJP_CALL, "W_bar, U_bar, b_bar = 0 * W, 0 * U, 0 * b", "change Ŷ only through Z*"),
    ("the VJP called, its answer dropped", VJP_CALL, VJP_CALL + "\n    W_bar, U_bar, b_bar = 0 * W, 0 * U, 0 * b",
     "W̄, Ū and b̄ are zero"),
    ("target minus prediction", "r = c @ Z + d - Y", "r = Y - c @ Z - d", "wrong sign"),
    ("the residual as Z̄", "Z_bar = c.T @ y_bar", "Z_bar = c.T @ r", "m/2 times too large"),
    ("Ȳ for every row", "Z_bar = c.T @ y_bar", "Z_bar = np.ones_like(Z) * y_bar", "as if c were all ones"),
    ("no 1/m", "y_bar = 2 * r / m", "y_bar = 2 * r", "the mean's 1/m is missing"),
    ("no factor 2", "y_bar = 2 * r / m", "y_bar = r / m", "the factor 2"),
    ("a loose forward solve", "W, U, b)\n    m", "W, U, b, tol=1e-5)\n    m", "close"),
    ("c̄ transposed", "y_bar @ Z.T", "Z @ y_bar.T", "1×n"),
    ("d̄ not summed", "np.sum(y_bar)", "y_bar", "a number"),
    ("the sum of squares", "loss = np.sum(r * r) / m", "loss = np.sum(r * r)", "the sum of squares"),
    ("half the loss", "loss = np.sum(r * r) / m", "loss = np.sum(r * r) / m / 2", "half the loss"),
    ("no bias in the layer", "U @ X + b)", "U @ X)", "tanh(W Z + U X + b)"),
]


@pytest.mark.parametrize("label, old, new, fragment", GRAD_SLIPS, ids=[s[0] for s in GRAD_SLIPS])
def test_gradient_slips(label, old, new, fragment):
    wrong = variant(SOLUTION_64, old, new, "deq_loss_and_grad")
    assert fragment in hint_of(checks.check_deq_grad, wrong)
    if fragment not in ("the sum of squares", "half the loss"):     # the loss is not in the projection
        assert fragment in hint_of(checks.check_deq_grad_fd, wrong) or label == "a loose forward solve"


def test_an_unrolled_gradient_that_skips_the_vjp_is_refused():
    """Reverse mode through 200 iterations is very nearly right, but not what the task asks."""
    def unrolled(params, X, Y, fixed_point_vjp):
        def loss(W, U, b, c, d):
            Z = np.zeros((W.shape[0], X.shape[1]))
            for _ in range(200):
                Z = np.tanh(W @ Z + U @ X + b)
            r = c @ Z + d - Y
            return np.sum(r * r) / X.shape[1]
        from autodiff_ref import value_and_grad
        return value_and_grad(loss, argnums=(0, 1, 2, 3, 4))(*params)
    assert "Use the function you are given" in hint_of(checks.check_deq_grad, unrolled)


STEP_SLIPS = [
    ("uphill", "p - lr * g", "p + lr * g", "went uphill"),
    ("no rescaling", "    if norm > max_norm:\n        new[0] = new[0] * (max_norm / norm)\n", "", "above max_norm"),
    ("Frobenius norm", "np.linalg.norm(new[0], 2)", "np.linalg.norm(new[0])", "Frobenius"),
    ("always rescaled", "if norm > max_norm", "if True", "already below max_norm"),
    ("rescaled before the step",
     "    new = [p - lr * g for p, g in zip(params, grads)]\n    norm = np.linalg.norm(new[0], 2)",
     "    W = params[0]\n    s = np.linalg.norm(W, 2)\n    W = W * (max_norm / s) if s > max_norm else W\n"
     "    new = [W - lr * grads[0]] + [p - lr * g for p, g in zip(params[1:], grads[1:])]\n    norm = 0.0",
     "before the step"),
    ("the loss after the step", "return loss, tuple(new)", "return loss_and_grad(tuple(new), X, Y)[0], tuple(new)",
     "the loss after the step"),
    ("in place", "    new = [p - lr * g for p, g in zip(params, grads)]",
     "    new = list(params)\n    for p, g in zip(new[:4], grads[:4]):\n        p -= lr * g\n"
     "    new[4] = params[4] - lr * grads[4]", "changed in place"),
]


@pytest.mark.parametrize("label, old, new, fragment", STEP_SLIPS, ids=[s[0] for s in STEP_SLIPS])
def test_train_step_slips(label, old, new, fragment):
    wrong = variant(SOLUTION_65, old, new, "deq_train_step")
    with pytest.raises(CheckFailure) as info:
        checks.check_deq_train_step(wrong)
    if label == "rescaled before the step":
        # the visible cases start inside the ball, where rescaling the old W does nothing: the
        # hint says to rescale after the step. A hidden case starts outside (max_norm = 0.5).
        assert "after the step" in str(info.value)
        with pytest.raises(CheckFailure) as info:
            checks.check_deq_train_step(wrong, hidden=True)
    assert fragment in str(info.value)


def test_a_blank_task_says_it_is_not_done():
    assert_blank_tasks_not_done(CHECKS)


def test_checks_survive_a_notebook_rebinding_numpy(monkeypatch, solutions):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    wrong = variant(SOLUTION_65, "p - lr * g", "p + lr * g", "deq_train_step")
    with pytest.raises(CheckFailure):
        checks.check_deq_train_step(wrong)


# =============================================================================
# The policy takes away exactly the library's implicit rules
# =============================================================================
def test_the_policy_names_exist_and_taking_them_away_blocks_only_the_implicit_rules(monkeypatch, solutions):
    policy = policy_for(ASSIGNMENT, "# Check Task 6.4: (L, grad L) …")
    assert policy_for(ASSIGNMENT, "# Check Task 6.5: one step …").key == policy.key   # one sandbox
    private = [n for n in policy.forbid_names if n.startswith("autodiff_ref.implicit._")]
    assert private and all(hasattr(implicit, n.rpartition(".")[2]) for n in private)
    assert "autodiff_ref.fixed_point" not in policy.forbid_names

    def refused(*args, **kwargs):
        raise PermissionError("taken away")
    monkeypatch.setattr(implicit, "_solution_cotangents", refused)
    monkeypatch.setitem(dual.jvp_rules, implicit.fixed_point_p, refused)
    checks.check_deq_grad(solutions["deq_loss_and_grad"])               # plain solves still work
    by_library = variant(SOLUTION_64, "W_bar, U_bar, b_bar = fixed_point_vjp(g, Z, (W, U, b), Z_bar)",
                         "W_bar, U_bar, b_bar = grad(lambda W, U, b: np.sum(Z_bar * fixed_point(g, Z, W, U, b)), "
                         "argnums=(0, 1, 2))(W, U, b)", "deq_loss_and_grad")
    with pytest.raises(CheckFailure) as info:
        checks.check_deq_grad(by_library)
    assert "taken away" in str(info.value)


# =============================================================================
# The training the lesson runs, and its figure
# =============================================================================
def test_the_training_in_the_lesson_converges_as_the_prose_says(solutions):
    X, Y = checks.deq_regression(m=24, seed=0)
    params0 = params = checks.init_deq(n=8, norm=0.5, seed=0)
    assert np.linalg.norm(params0[0], 2) == pytest.approx(0.5)
    assert X.shape == (1, 24) and np.min(X) == -2 and np.max(X) == 2
    loss_and_grad = lambda p, X, Y: solutions["deq_loss_and_grad"](p, X, Y, solutions["fixed_point_vjp"])  # noqa
    losses, norms = [], []
    for _ in range(500):
        loss, params = solutions["deq_train_step"](params, X, Y, 0.1, loss_and_grad)
        losses.append(loss)
        norms.append(np.linalg.norm(params[0], 2))
    assert np.all(np.diff(losses) < 0), "the loss falls at every step"
    assert losses[-1] < losses[0] / 100
    noise = np.mean((Y - 0.8 * np.sin(1.5 * X)) ** 2)
    assert noise < losses[-1] < 5 * noise, "it ends above the noise of the data"
    assert max(norms) == pytest.approx(checks.MAX_NORM) and norms[-1] == pytest.approx(checks.MAX_NORM)
    assert np.linalg.norm(params0[0], 2) == pytest.approx(0.5), "the first parameters are kept"


def test_the_training_figure_labels_every_axis(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from test_figure_layout import audit
    X, Y = checks.deq_regression()
    params = checks.init_deq()
    axes = checks.plot_deq_training([1.0, 0.5, 0.2, 0.1], params, params, X, Y, [0.5, 0.6, 0.7, 0.9])
    fig = axes[0].figure
    fig.tight_layout()
    assert audit(fig) == []
    plt.close("all")


def test_the_try_it_cell_behaves_as_its_prose_says(solutions):
    """At the trained weights the rate is far below ‖W‖₂ = 0.9; with W × 3 it passes 1, iteration
    fails and Newton still converges (the prose reads these from the printed numbers)."""
    from autograder import notebooks
    nb = notebooks.read(NOTEBOOK)
    cell = next(c for c in nb.cells if c.get("id") == "cell-deq-newton")
    ns = {"np": np}
    exec(notebooks.source_text(cell).split("for factor in")[0], ns)
    X, Y = checks.deq_regression(m=24, seed=0)
    params = checks.init_deq(n=8, norm=0.5, seed=0)
    for _ in range(500):
        _, params = kit.train_step_reference(params, X, Y, 0.1)
    rates = []
    for factor in (1, 2, 3):
        scaled = (factor * params[0],) + params[1:]
        Z, steps = ns["newton_deq"](scaled, X)
        assert steps <= 8
        rates.append(ns["rate"](scaled[0], Z))
        if factor < 3:
            Z_it, _ = ns["iterate_deq"](scaled, X)
            assert np.max(np.abs(Z_it - Z)) < 1e-11
        else:
            with pytest.raises(RuntimeError):
                ns["iterate_deq"](scaled, X, max_iter=2000)
    assert rates[0] < 0.5 < rates[1] < 1 < rates[2]
