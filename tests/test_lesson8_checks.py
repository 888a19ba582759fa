"""Lesson 8 (learning with gradients): the checks.

- The solutions in the source notebook pass every graded cell (hidden tests included).
- Realistic wrong code fails, and the failure names the misconception (gradient
  ascent, the learning rate applied twice, a sum instead of the mean with the
  batch size as the factor, the sigmoid's derivative left out, BPTT truncated).
- The oracles are right: checked against closed forms, central differences and
  the HIPS autograd package, never against themselves.
Mutants, the notebook's execution and nbgrader are tested for every lesson at once
(test_mutation.py, test_notebooks.py, test_workflow.py).
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from autograder import notebooks
from autograder.checks import CheckFailure
from autograder.lessons import lesson8 as checks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "course" / "source" / "lesson8_learning" / "lesson8_learning.ipynb"
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


# ---------------------------------------------------------------------------
# The notebook as code: build a namespace from its setup, provided and solution cells
# ---------------------------------------------------------------------------
def load_cells():
    nb = json.loads(NOTEBOOK.read_text())
    return [(c["metadata"].get("nbgrader", {}), "".join(c["source"])) for c in nb["cells"]
            if c["cell_type"] == "code"]


CELLS = load_cells()
DEMO_IDS = {"gd-widget", "rnn-widget"}


def namespace(overrides=None):
    """Run the setup, provided and solution cells (not the demos, not the tests).

    `overrides` maps a solution cell's grade_id to replacement source.
    """
    overrides = overrides or {}
    ns = {}
    for meta, source in CELLS:
        gid = meta.get("grade_id")
        if not meta or meta.get("grade") or gid in DEMO_IDS:
            continue
        exec(compile(notebooks.strip_magics(overrides.get(gid, source)), f"<{gid}>", "exec"), ns)
    return ns


def graded_cells():
    return [(meta["grade_id"], meta["points"], source) for meta, source in CELLS if meta.get("grade")]


def run_graded(ns, visible_only=False):
    """Score every graded cell in `ns` like nbgrader: {grade_id: (points earned, message)}."""
    scores = {}
    for gid, points, source in graded_cells():
        code = HIDDEN.sub("", source) if visible_only else source
        try:
            exec(compile(code, f"<{gid}>", "exec"), ns)
            scores[gid] = (points, "")
        except Exception as err:  # a failing check (or a crash) scores 0
            scores[gid] = (0, f"{type(err).__name__}: {err}")
    return scores


def with_function(gid, source):
    """A solution namespace in which one task's cell is replaced by `source`."""
    return namespace({gid: source})


def assert_slip_fails(gid, source, graded, words):
    """With cell `gid` replaced by `source`, test cell `graded` scores 0 with `words` in a short
    message that shows the input or what came back (the hint is not cut off in the feedback)."""
    points, message = run_graded(with_function(gid, source))[graded]
    assert points == 0, f"{graded} should fail"
    assert words in message, message
    assert "input:" in message or "got:" in message
    assert len(message.split("\n")) <= 6, message


def failure(check, *args):
    with pytest.raises(CheckFailure) as info:
        check(*args)
    return info.value


# ---------------------------------------------------------------------------
# The solutions pass everything; the oracles are right
# ---------------------------------------------------------------------------
def test_every_graded_cell_passes_on_the_solutions(capsys):
    scores = run_graded(namespace())
    failed = {gid: msg for gid, (pts, msg) in scores.items() if pts == 0}
    assert not failed
    assert sum(p for p, _ in scores.values()) == 30
    out = capsys.readouterr().out
    assert out.count("✓") == 44 and "✗" not in out


def test_oracles_agree_with_hips_autograd_and_central_differences():
    import autograd
    import autograd.numpy as anp

    X, y = checks.logistic_data(40, 4, seed=3)
    w = np.array([0.3, -0.2, 0.5, 0.1])
    loss = lambda w: anp.mean(anp.logaddexp(0.0, X @ w) - y * (X @ w))  # noqa: E731
    assert np.allclose(checks.logistic_gradient_reference(w, X, y), autograd.grad(loss)(w), rtol=1e-12, atol=1e-14)
    assert checks.bce_reference(X @ w, y) == pytest.approx(float(loss(w)), rel=1e-14)

    p = checks.rnn_problem(n=3, T=5, rho=1.1, seed=9)

    def rnn_loss(W):
        h = p.h0
        for x in p.xs:
            h = anp.tanh(anp.dot(W, h) + anp.dot(p.U, x) + p.b)
        r = anp.dot(p.V, h) - p.target
        return 0.5 * anp.sum(r * r)
    assert np.allclose(checks.weight_grad_oracle(p), autograd.grad(rnn_loss)(p.W), rtol=1e-12, atol=1e-15)

    # ∂L/∂h_t by central differences on a perturbation of one state entry
    G = checks.state_grads_oracle(p)
    eps = 1e-6
    for t, i in [(0, 0), (2, 1), (5, 2)]:
        def loss_with(delta):
            h = p.h0 + (delta if t == 0 else 0) * np.eye(3)[i]
            for s, x in enumerate(p.xs, start=1):
                h = np.tanh(p.W @ h + p.U @ x + p.b) + (delta if s == t else 0) * np.eye(3)[i]
            r = p.V @ h - p.target
            return 0.5 * np.sum(r * r)
        assert G[t, i] == pytest.approx((loss_with(eps) - loss_with(-eps)) / (2 * eps), rel=1e-6, abs=1e-10)

    params = checks.init_mlp([2, 5, 3, 1], seed=4)
    Xm, ym = checks.two_moons(12, 0.2, seed=5)

    def mlp_loss(*ps):
        h = Xm
        for i in range(len(ps) // 2 - 1):
            h = anp.tanh(anp.dot(h, ps[2 * i]) + ps[2 * i + 1])
        z = anp.dot(h, ps[-2]) + ps[-1]
        return anp.mean(anp.logaddexp(0.0, z) - ym * z)
    loss0, new = checks.train_step_reference(checks.mlp_loss_reference, params, Xm, ym, 0.3)
    assert loss0 == pytest.approx(float(mlp_loss(*params)), rel=1e-14)
    hips = autograd.grad(mlp_loss, argnum=list(range(len(params))))(*params)
    for p_new, p_old, g in zip(new, params, hips):
        assert np.allclose(p_new, p_old - 0.3 * np.asarray(g), rtol=1e-12, atol=1e-14)


def test_bce_kink_trap_is_real():
    """The popular stable form really has the wrong AD derivative at z = 0 (the lesson's claim)."""
    from autodiff_ref import grad

    y = np.array([1.0, 0.0])
    kinky = lambda z: np.mean(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z)  # noqa: E731
    z = np.zeros(2)
    assert np.allclose(grad(kinky)(z), (1 - y) / 2)            # AD: 1 − y, halved by the mean
    assert np.allclose(grad(checks.bce_differentiable, argnums=0)(z, y), (0.5 - y) / 2)


def test_spectral_radius_and_quadratic_numbers_quoted_in_the_lesson():
    for rho in (0.5, 1.25):
        assert np.max(np.abs(np.linalg.eigvals(checks.rnn_problem(n=16, T=5, rho=rho).W))) == pytest.approx(rho)
    _, _, A, _ = checks.quadratic_bowl()
    assert np.allclose(np.linalg.eigvalsh(A), [1.0, 10.0])
    lam = checks.descent_problems()["logistic loss (w, b)"]["lam"]
    assert 2 / lam[-1] == pytest.approx(6.8, abs=0.05)          # "2/λ_max ≈ 6.8"
    # linear RNN: the norm ratio follows ρ^(T−t) (the dashed guide)
    norms, _ = checks.rnn_gradient_norms(1.25, "linear", T=50)
    assert np.log(norms[0] / norms[10]) / 10 == pytest.approx(np.log(1.25), rel=0.02)


# ---------------------------------------------------------------------------
# Wrong code fails with the hint that names the mistake
# ---------------------------------------------------------------------------
ACCUMULATING_STEP = (
    "_grad_sums = {}\n"
    "def train_step(loss_fn, params, X, y, lr):\n"
    "    value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X, y), argnums=tuple(range(len(params))))(*params)\n"
    "    for i, g in enumerate(grads):          # like PyTorch's .grad with no zero_grad()\n"
    "        key = (i, np.shape(g))\n"
    "        _grad_sums[key] = _grad_sums.get(key, 0) + g\n"
    "    return value, [p - lr * _grad_sums[i, np.shape(p)] for i, p in enumerate(params)]")
UPHILL_STEP = (
    "def train_step(loss_fn, params, X, y, lr):\n"
    "    value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X, y), argnums=tuple(range(len(params))))(*params)\n"
    "    return value, [p + lr * g for p, g in zip(params, grads)]")

WRONG = [
    # (task cell, wrong source, graded cell that must fail, words the hint must contain)
    ("task11-gd-step", "def gd_step(grad_f, theta, lr):\n    return theta + lr * grad_f(theta)",
     "test11-gd-step", "gradient ascent"),
    ("task11-gd-step", "def gd_step(grad_f, theta, lr):\n    return theta - lr * lr * grad_f(theta)",
     "test11-gd-step", "applied twice"),
    ("task11-gd-step", "def gd_step(grad_f, theta, lr):\n    return theta - grad_f(theta)",
     "test11-gd-step", "multiply it by the learning rate"),
    ("task11-gd-step", "def gd_step(grad_f, theta, lr):\n    theta -= lr * grad_f(theta)\n    return theta",
     "test11-gd-step", "in place"),
    ("task11-gd-step", "def gd_step(grad_f, theta, lr):\n    return -lr * grad_f(theta)",
     "test11-gd-step", "you returned the step"),
    ("task12-gradient-descent",
     "def gradient_descent(grad_f, theta0, lr, n_steps):\n    path, theta = [], theta0\n"
     "    for _ in range(n_steps):\n        theta = gd_step(grad_f, theta, lr)\n        path.append(theta)\n"
     "    return np.array(path)",
     "test12-gradient-descent", "start with θ₀"),
    ("task12-gradient-descent",
     "def gradient_descent(grad_f, theta0, lr, n_steps):\n    theta = theta0.astype(float)\n    path = [theta]\n"
     "    for _ in range(n_steps):\n        theta -= lr * grad_f(theta)\n        path.append(theta)\n"
     "    return np.array(path)",
     "test12-gradient-descent", "same array"),
    ("task12-gradient-descent",
     "def gradient_descent(grad_f, theta0, lr, n_steps):\n    path = [theta0]\n"
     "    for _ in range(n_steps):\n        path.append(gd_step(grad_f, theta0, lr))\n    return np.array(path)",
     "test12-gradient-descent", "started again from θ₀"),
    ("task12-gradient-descent",
     "def gradient_descent(grad_f, theta0, lr, n_steps):\n    path = [theta0]\n"
     "    for _ in range(n_steps - 1):\n        path.append(gd_step(grad_f, path[-1], lr))\n    return np.array(path)",
     "test12-gradient-descent", "one step short"),
    ("task21-bce", "def bce_with_logits(z, y):\n    m = np.maximum(z, 0.0)\n"
     "    return np.sum(m + np.log(np.exp(-m) + np.exp(z - m)) - y * z)",
     "test21-bce", "3 × the expected one, and 3 is the batch size"),
    ("task21-bce", "def bce_with_logits(z, y):\n    s = 1 / (1 + np.exp(-z))\n"
     "    return np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))",
     "test21-bce", "log-likelihood"),
    ("task21-bce", "def bce_with_logits(z, y):\n"
     "    return np.mean(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z)",
     "test21-bce-derivative", "kinks"),
    ("task21-bce", "def bce_with_logits(z, y):\n    s = 1 / (1 + np.exp(-z))\n"
     "    return -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))",
     "test21-bce-stable", "overflows"),
    ("task21-bce", "def bce_with_logits(z, y):\n    from scipy.special import log_expit\n"
     "    return np.mean(-log_expit(z) + (1 - y) * z)",
     "test21-bce-derivative", "scipy.special"),
    ("task21-bce", "def bce_with_logits(z, y):\n    m = np.maximum(z, 0.0)\n"
     "    return np.mean(m + np.log(np.exp(-m) + np.exp(z - m)) - (1 - y) * z)",
     "test21-bce", "labels are swapped"),
    ("task22-forward-gradient", "def forward_mode_gradient(loss, w, X, y):\n"
     "    return loss(Dual(w, np.ones(len(w))), X, y).tangent",
     "test22-forward-gradient", "one direction"),
    ("task22-forward-gradient", "def forward_mode_gradient(loss, w, X, y):\n"
     "    return loss(Dual(w, np.eye(len(w))), X, y).value",
     "test22-forward-gradient", "loss value"),
    ("task22-forward-gradient", "def forward_mode_gradient(loss, w, X, y):\n"
     "    return grad(loss)(w, X, y)",
     "test22-forward-gradient", "reverse mode"),
    ("task22-forward-gradient", "def forward_mode_gradient(loss, w, X, y):\n"
     "    return np.array([loss(Dual(w, e), X, y).tangent for e in np.eye(len(w))])",
     "test22-forward-gradient", "one pass is enough"),
    ("task23-logistic-gradient", "def logistic_gradient(w, X, y):\n"
     "    s = sigmoid(X @ w)\n    return X.T @ (-(y / s - (1 - y) / (1 - s))) / len(y)",
     "test23-logistic-gradient", "sigmoid's derivative is missing"),
    ("task23-logistic-gradient", "def logistic_gradient(w, X, y):\n    return X.T @ (sigmoid(X @ w) - y)",
     "test23-logistic-gradient", "divide by N = 8"),
    ("task23-logistic-gradient", "def logistic_gradient(w, X, y):\n    return X.T @ (y - sigmoid(X @ w)) / len(y)",
     "test23-logistic-gradient", "sign is flipped"),
    ("task23-logistic-gradient", "def logistic_gradient(w, X, y):\n    return X.T @ (X @ w - y) / len(y)",
     "test23-logistic-gradient", "least-squares"),
    ("task31-bptt-states", "def bptt_state_grads(W, hs, g_T):\n    T = len(hs) - 1\n"
     "    G = np.zeros_like(hs)\n    G[T] = g_T\n    for t in range(T, 3, -1):\n"
     "        G[t - 1] = W.T @ (G[t] * (1 - hs[t] ** 2))\n    return G",
     "test31-bptt-states", "are zero: BPTT was truncated too early"),
    ("task31-bptt-states", "def bptt_state_grads(W, hs, g_T):\n    grads = [g_T]\n"
     "    for t in range(len(hs) - 1, 0, -1):\n        grads.append(W @ (grads[-1] * (1 - hs[t] ** 2)))\n"
     "    return np.array(grads[::-1])",
     "test31-bptt-states", "use Wᵀ"),
    ("task31-bptt-states", "def bptt_state_grads(W, hs, g_T):\n    grads = [g_T]\n"
     "    for t in range(len(hs) - 1, 0, -1):\n        grads.append(W.T @ grads[-1])\n"
     "    return np.array(grads[::-1])",
     "test31-bptt-states", "derivative of tanh is missing"),
    ("task31-bptt-states", "def bptt_state_grads(W, hs, g_T):\n    grads = [g_T]\n"
     "    for t in range(len(hs) - 1, 0, -1):\n        grads.append(W.T @ (grads[-1] * (1 - hs[t] ** 2)))\n"
     "    return np.array(grads)",
     "test31-bptt-states", "reverse order"),
    ("task32-bptt-weights", "def bptt_weight_grad(hs, state_grads):\n"
     "    return np.outer(state_grads[-1] * (1 - hs[-1] ** 2), hs[-2])",
     "test32-bptt-weights", "truncated too early"),
    ("task32-bptt-weights", "def bptt_weight_grad(hs, state_grads):\n"
     "    return hs[:-1].T @ (state_grads[1:] * (1 - hs[1:] ** 2))",
     "test32-bptt-weights", "transposed"),
    ("task32-bptt-weights", "def bptt_weight_grad(hs, state_grads):\n"
     "    return (state_grads[1:] * (1 - hs[1:] ** 2)).T @ hs[1:]",
     "test32-bptt-weights", "wrong time index"),
    ("task41-mlp-logits", "def mlp_logits(params, X):\n    h = X\n"
     "    for i in range(len(params) // 2):\n        h = np.tanh(h @ params[2 * i] + params[2 * i + 1])\n"
     "    return h",
     "test41-mlp-logits", "no tanh on the output layer"),
    ("task41-mlp-logits", "def mlp_logits(params, X):\n    W1, b1, W2, b2, w, b = params\n"
     "    return np.tanh(np.tanh(X @ W1 + b1) @ W2 + b2) @ w + b",
     "test41-mlp-logits-hidden", "ValueError"),
    ("task42-train-step", "def train_step(loss_fn, params, X, y, lr):\n"
     "    value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X, y), argnums=tuple(range(len(params))))(*params)\n"
     "    return value, [p + lr * g for p, g in zip(params, grads)]",
     "test42-train-step", "gradient ascent"),
    ("task42-train-step", "def train_step(loss_fn, params, X, y, lr):\n"
     "    value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X, y), argnums=tuple(range(len(params))))(*params)\n"
     "    return value, [p - lr * lr * g for p, g in zip(params, grads)]",
     "test42-train-step", "applied twice"),
    ("task42-train-step", "def train_step(loss_fn, params, X, y, lr):\n"
     "    value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X, y), argnums=tuple(range(len(params))))(*params)\n"
     "    return value, [p - lr * len(y) * g for p, g in zip(params, grads)]",
     "test42-train-step", "20 × the expected one, and 20 is the batch size"),
    ("task42-train-step", "def train_step(loss_fn, params, X, y, lr):\n"
     "    value, g0 = value_and_grad(lambda p0: loss_fn([p0] + list(params[1:]), X, y))(params[0])\n"
     "    return value, [params[0] - lr * g0] + list(params[1:])",
     "test42-train-step", "only params[0] moved"),
    ("task42-train-step", "def train_step(loss_fn, params, X, y, lr):\n"
     "    value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X, y), argnums=tuple(range(len(params))))(*params)\n"
     "    for p, g in zip(params, grads):\n        p -= lr * g\n    return value, params",
     "test42-train-step", "in place"),
    ("task42-train-step", "def train_step(loss_fn, params, X, y, lr):\n"
     "    value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X, y), argnums=tuple(range(len(params))))(*params)\n"
     "    new = [p - lr * g for p, g in zip(params, grads)]\n    return loss_fn(new, X, y), new",
     "test42-train-step", "loss after the step"),
    ("task42-train-step", ACCUMULATING_STEP, "test42-train-step", "keeps gradients between calls"),
    ("task43-train-epoch", "def train_epoch(train_step, loss_fn, params, X, y, lr, batches):\n    losses = []\n"
     "    for idx in batches:\n        loss, params = train_step(loss_fn, params, X, y, lr)\n"
     "        losses.append(loss)\n    return params, losses",
     "test43-train-epoch", "whole data set"),
    ("task43-train-epoch", "def train_epoch(train_step, loss_fn, params, X, y, lr, batches):\n    losses = []\n"
     "    for idx in batches:\n        loss, new = train_step(loss_fn, params, X[idx], y[idx], lr)\n"
     "        losses.append(loss)\n    return new, losses",
     "test43-train-epoch", "initial parameters"),
]


@pytest.mark.parametrize("source", [ACCUMULATING_STEP, UPHILL_STEP], ids=["accumulating", "uphill"])
def test_a_wrong_train_step_does_not_fail_train_epoch(source):
    """train_epoch gets the step function as an argument and its check passes the reference
    step: Task 4.3 is judged on its own code, whatever Task 4.2 does."""
    scores = run_graded(with_function("task42-train-step", source))
    assert scores["test42-train-step"][0] == 0
    assert scores["test43-train-epoch"][0] == 1 and scores["test43-train-epoch-hidden"][0] == 1


def test_a_train_epoch_that_ignores_its_step_argument_is_told_to_call_it():
    scores = run_graded(with_function(
        "task43-train-epoch", "def train_epoch(train_step, loss_fn, params, X, y, lr, batches):\n"
        "    losses = []\n    for idx in batches:\n"
        "        value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X[idx], y[idx]),\n"
        "                                      argnums=tuple(range(len(params))))(*params)\n"
        "        params = [p - lr * g for p, g in zip(params, grads)]\n"
        "        losses.append(value)\n    return params, losses"))
    points, message = scores["test43-train-epoch"]
    assert points == 0 and "call the train_step you are given" in message, message


@pytest.mark.parametrize("gid, source, graded, words", WRONG, ids=[w[3][:40] for w in WRONG])
def test_wrong_code_fails_with_the_right_hint(gid, source, graded, words):
    assert_slip_fails(gid, source, graded, words)


def test_failure_reports_input_expected_got_and_hint():
    ns = with_function("task21-bce", "def bce_with_logits(z, y):\n    m = np.maximum(z, 0.0)\n"
                       "    return np.sum(m + np.log(np.exp(-m) + np.exp(z - m)) - y * z)")
    err = failure(checks.check_bce, ns["bce_with_logits"])
    assert err.inputs["y"].value.shape == (3,) and err.expected.value == pytest.approx(err.got.value / 3)
    text = str(err)
    for line in ("✗ bce_with_logits values", "input:", "expected:", "got:", "hint:"):
        assert line in text


def test_a_blank_task_says_it_is_not_done():
    ns = with_function("task11-gd-step", "def gd_step(grad_f, theta, lr):\n    raise NotImplementedError()")
    err = failure(checks.check_gd_step, ns["gd_step"])
    assert "not done yet" in err.hint


def blank(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("check", [name for name in dir(checks) if name.startswith("check_")])
def test_every_check_says_not_done_for_a_blank_task(check):
    """Including the derivative check of the loss, which first calls it on plain arrays."""
    fn = getattr(checks, check)
    err = failure(fn, *([blank] * fn.__code__.co_argcount))
    assert "not done yet" in err.hint and "NotImplementedError" in str(err)


def test_checks_survive_a_notebook_rebinding_numpy(monkeypatch):
    ns = namespace()
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "mean", lambda x, *a, **k: 0.0)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    # a loss built on the rebound mean returns 0 and is still caught
    with pytest.raises(CheckFailure):
        checks.check_bce(ns["bce_with_logits"])
    # in-place updates are still seen even though array_equal now always says "equal"
    with pytest.raises(CheckFailure):
        checks.check_gd_step(with_function(
            "task11-gd-step", "def gd_step(grad_f, theta, lr):\n    theta -= lr * grad_f(theta)\n    return theta")["gd_step"])
    monkeypatch.undo()
    checks.check_gd_step(ns["gd_step"])


# ---------------------------------------------------------------------------
# Widgets and figures draw headless; the PyTorch comparison agrees
# ---------------------------------------------------------------------------
def test_widgets_and_figures_draw_headless(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda: None)
    ns = namespace()
    w = checks.descent_widget(ns["gradient_descent"])
    controls = {c.description: c for c in w.widget.children if hasattr(c, "description")}
    controls["loss"].value = "logistic loss (w, b)"
    controls["step η"].value = 7.5
    checks.show_descent("quadratic bowl", 0.21, 30)
    ax = plt.gcf().axes[1]
    assert "diverges" in ax.get_title()
    checks.show_descent("logistic loss (w, b)", 7.5, 60)
    assert "bounded, but does not converge" in plt.gcf().axes[1].get_title()
    r = checks.rnn_widget()
    rnn_controls = {c.description: c for c in r.widget.children if hasattr(c, "description")}
    rnn_controls["ρ(W)"].value = 1.5
    rnn_controls["activation"].value = "linear"
    checks.plot_rnn_norms()
    X, y = checks.two_moons(40, 0.2, 0)
    checks.plot_moons(X, y)
    plt.close("all")


def test_torch_comparison_matches_our_training():
    pytest.importorskip("torch")
    X, y = checks.two_moons(40, 0.2, seed=1)
    params0 = checks.init_mlp([2, 6, 1], seed=2)
    schedule = checks.batch_schedule(40, 10, 5, seed=3)
    theirs = checks.train_with_torch(params0, X, y, 0.3, schedule)
    params, ours = params0, []
    for batches in schedule:
        params, _ = checks.train_epoch_reference(checks.mlp_loss_reference, params, X, y, 0.3, batches)
        ours.append(checks.mlp_loss_reference(params, X, y))
    assert np.allclose(ours, theirs["loss"], rtol=1e-12, atol=1e-14)
    for a, b in zip(params, theirs["params"]):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_bce_with_logaddexp_is_a_correct_answer():
    """np.logaddexp(0, z) is log(1 + e^z) without overflow, and autodiff_ref differentiates it."""
    def bce_with_logits(z, y):
        return np.mean(np.logaddexp(0.0, z) - y * z)
    checks.check_bce(bce_with_logits)
    checks.check_bce_differentiable(bce_with_logits)
    checks.check_bce_stable(bce_with_logits)
