"""Lesson 8's later additions: momentum and Adam (Tasks 1.3, 1.4), truncated BPTT (Task 3.3),
and the epoch judged with the reference step (Task 4.3).

- The references agree with PyTorch's optimisers (torch.optim.SGD with momentum, torch.optim.Adam)
  and the truncated-BPTT oracle with a closed-form sum and central differences.
- Every known slip fails with its own hint, and on the checks' own inputs each slip's answer
  differs from the right one and from every slip listed before it (so the hint is unambiguous).
- The figure reads without help; the policy lets the optimisers use grad but not torch.
"""
import numpy as np
import pytest

from autograder.checks import same
from autograder.figure_audit import audit
from autograder.lessons import lesson8 as checks
from autograder.policy import policy_for

from test_figure_layout import shown  # noqa: F401 (a fixture: the figures plt.show was given)
from test_lesson8_checks import assert_slip_fails, namespace, run_graded, with_function

MOMENTUM = "def momentum_step(grad_f, theta, velocity, lr, beta):\n"
ADAM = ("def adam_step(grad_f, theta, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n"
        "    m, v, t = state\n    g = grad_f(theta)\n")
ADAM_MOMENTS = "    t = t + 1\n    m = beta1 * m + (1 - beta1) * g\n    v = beta2 * v + (1 - beta2) * g * g\n"
ADAM_HATS = "    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)\n"
TRUNCATED = "def truncated_weight_grad(W, hs, g_T, k):\n    T = len(hs) - 1\n"

WRONG = [
    # (task cell, wrong source, graded cell that must fail, words the hint must contain)
    ("task13-momentum", MOMENTUM + "    g = grad_f(theta)\n    return theta - lr * g, g",
     "test13-momentum", "started from zero again"),
    ("task13-momentum", MOMENTUM + "    new_v = beta * velocity + grad_f(theta)\n    return theta - lr * velocity, new_v",
     "test13-momentum", "old velocity"),
    ("task13-momentum", MOMENTUM + "    v = beta * velocity + (1 - beta) * grad_f(theta)\n    return theta - lr * v, v",
     "test13-momentum", "dampening"),
    ("task13-momentum", MOMENTUM + "    v = beta * velocity - lr * grad_f(theta)\n    return theta + v, v",
     "test13-momentum", "other convention"),
    ("task13-momentum", MOMENTUM + "    velocity *= beta\n    velocity += grad_f(theta)\n"
     "    return theta - lr * velocity, velocity",
     "test13-momentum", "in place"),
    ("task13-momentum", "_buffer = [None]\n" + MOMENTUM + "    g = grad_f(theta)\n"
     "    _buffer[0] = g if _buffer[0] is None else beta * _buffer[0] + g\n"
     "    return theta - lr * _buffer[0], _buffer[0]",
     "test13-momentum", "keeps a state of its own"),
    ("task14-adam", ADAM + ADAM_MOMENTS + "    return theta - lr * m / (np.sqrt(v) + eps), (m, v, t)",
     "test14-adam", "no bias correction"),
    ("task14-adam", ADAM + "    m = beta1 * m + (1 - beta1) * g\n    v = beta2 * v + (1 - beta2) * g * g\n" + ADAM_HATS
     + "    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), (m, v, t + 1)",
     "test14-adam", "before it was incremented"),
    ("task14-adam", ADAM + ADAM_MOMENTS + ADAM_HATS + "    return theta - lr * m_hat / np.sqrt(v_hat + eps), (m, v, t)",
     "test14-adam", "ε is inside the square root"),
    ("task14-adam", ADAM + ADAM_MOMENTS + ADAM_HATS + "    return theta - lr * m_hat / (v_hat + eps), (m, v, t)",
     "test14-adam", "square root is missing"),
    ("task14-adam", ADAM + ADAM_MOMENTS + ADAM_HATS
     + "    return theta - lr * np.sqrt(m_hat) / (np.sqrt(v_hat) + eps), (m, v, t)",
     "test14-adam", "belongs to v̂, not to m̂"),
    ("task14-adam", ADAM + "    t = t + 1\n    step = lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)\n"
     "    m = beta1 * m + (1 - beta1) * g\n    v = beta2 * v + (1 - beta2) * g * g\n    return theta - step, (m, v, t)",
     "test14-adam", "old moments"),
    ("task14-adam", ADAM + "    t = t + 1\n    m = (1 - beta1) * g\n    v = (1 - beta2) * g * g\n" + ADAM_HATS
     + "    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), (m, v, t)",
     "test14-adam", "moments started from zero again"),
    ("task14-adam", ADAM + "    t = t + 1\n    m = beta1 * g + (1 - beta1) * m\n    v = beta2 * g * g + (1 - beta2) * v\n"
     + ADAM_HATS + "    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), (m, v, t)",
     "test14-adam", "swapped"),
    ("task14-adam", ADAM + ADAM_MOMENTS + ADAM_HATS
     + "    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), (m, v, t - 1)",
     "test14-adam", "return the step count t + 1"),
    ("task33-truncated", TRUNCATED + "    window = hs[max(T - k - 1, 0):]\n"
     "    return bptt_weight_grad(window, bptt_state_grads(W, window, g_T))",
     "test33-truncated", "k + 1"),
    ("task33-truncated", TRUNCATED + "    window = hs[max(T - k + 1, 0):]\n"
     "    return bptt_weight_grad(window, bptt_state_grads(W, window, g_T))",
     "test33-truncated", "k − 1"),
    ("task33-truncated", TRUNCATED + "    window = hs[T - k:]\n"
     "    return bptt_weight_grad(window, bptt_state_grads(W, window, g_T))",
     "test33-truncated-hidden", "counts from the end"),
    ("task33-truncated", TRUNCATED + "    G = bptt_state_grads(W, hs, g_T)\n"
     "    return sum(np.outer(G[t] * (1 - hs[t] ** 2), hs[t - 1]) for t in range(T, T - k, -1))",
     "test33-truncated-hidden", "nothing is cut off"),
]


@pytest.mark.parametrize("gid, source, graded, words", WRONG, ids=[w[3][:40] for w in WRONG])
def test_each_slip_fails_with_its_hint(gid, source, graded, words):
    assert_slip_fails(gid, source, graded, words)


def test_a_wrong_bptt_makes_truncation_point_at_task_3_1():
    scores = run_graded(with_function(
        "task31-bptt-states", "def bptt_state_grads(W, hs, g_T):\n    grads = [g_T]\n"
        "    for t in range(len(hs) - 1, 0, -1):\n        grads.append(W @ (grads[-1] * (1 - hs[t] ** 2)))\n"
        "    return np.array(grads[::-1])"))
    points, message = scores["test33-truncated"]
    assert points == 0 and "bptt_state_grads (Task 3.1)" in message, message


# ---------------------------------------------------------------------------
# On the checks' own inputs, each slip is told apart from the right answer and the others
# ---------------------------------------------------------------------------
def _unambiguous(cases):
    """`cases`: for each input, (expected flat vector, [(candidate, hint)]). Every hint must have
    a first case where its candidate differs from the expected answer; there, it must differ
    from every candidate listed before it (the check reports the first match)."""
    hints = {h for _, variants in cases for _, h in variants}
    for hint in hints:
        for expected, variants in cases:
            found = [i for i, (_, h) in enumerate(variants) if h == hint]
            if not found:
                continue
            i = found[0]
            candidate = variants[i][0]
            if same(candidate, expected, "recognise"):
                continue
            earlier = [h for c, h in variants[:i] if same(candidate, c, "recognise")]
            assert not earlier, f"{hint!r} is reported as {earlier[0]!r}"
            break
        else:
            pytest.fail(f"no case of the check tells this slip from the right answer: {hint!r}")


def test_momentum_slips_are_told_apart_on_the_visible_cases():
    cases = []
    for grad_f, theta, velocity, lr, beta in checks.momentum_cases():
        expected = np.concatenate(checks.momentum_step_reference(grad_f, theta, velocity, lr, beta))
        cases.append((expected, checks.momentum_variants(grad_f, theta, velocity, lr, beta)))
    _unambiguous(cases)


def test_adam_slips_are_told_apart_on_the_visible_cases():
    cases = []
    with np.errstate(all="ignore"):
        for grad_f, theta, state, lr, b1, b2, eps in checks.adam_cases():
            new_theta, (m, v, t) = checks.adam_step_reference(grad_f, theta, state, lr, b1, b2, eps)
            expected = np.concatenate([new_theta, m, v, [t]])
            cases.append((expected, checks.adam_variants(grad_f, theta, state, lr, b1, b2, eps)))
        _unambiguous(cases)


# ---------------------------------------------------------------------------
# The references against PyTorch; the truncated oracle against two others
# ---------------------------------------------------------------------------
def _torch_path(make_optimizer, A, c, theta0, steps):
    torch = pytest.importorskip("torch")
    p = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    At, ct = torch.tensor(A), torch.tensor(c)
    opt = make_optimizer(torch, [p])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        d = p - ct
        (0.5 * d @ (At @ d)).backward()
        opt.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_momentum_reference_and_solution_match_torch_sgd(beta):
    """PyTorch's SGD(momentum=β, dampening=0) keeps buf = β·buf + g and steps p −= lr·buf: our convention."""
    f, grad_f, A, c = checks.quadratic_bowl(eigenvalues=(1.0, 50.0))
    theta0, lr = np.array([-1.5, 2.0]), 0.03
    theirs = _torch_path(lambda torch, ps: torch.optim.SGD(ps, lr=lr, momentum=beta), A, c, theta0, 30)
    step = namespace()["momentum_step"]
    for fn in (checks.momentum_step_reference, step):
        theta, v, ours = theta0, np.zeros(2), []
        for _ in range(30):
            theta, v = fn(grad_f, theta, v, lr, beta)
            ours.append(theta)
        assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("lr, betas, eps", [(0.1, (0.9, 0.999), 1e-8), (0.05, (0.5, 0.9), 1e-3)])
def test_adam_reference_and_solution_match_torch_adam(lr, betas, eps):
    f, grad_f, A, c = checks.quadratic_bowl(eigenvalues=(1.0, 50.0))
    theta0 = np.array([-1.5, 2.0])
    theirs = _torch_path(lambda torch, ps: torch.optim.Adam(ps, lr=lr, betas=betas, eps=eps), A, c, theta0, 30)
    step = namespace()["adam_step"]
    for fn in (checks.adam_step_reference, step):
        theta, state, ours = theta0, checks.AdamState(np.zeros(2), np.zeros(2), 0), []
        for _ in range(30):
            theta, state = fn(grad_f, theta, state, lr, *betas, eps)
            ours.append(theta)
        assert np.allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_truncated_oracle_is_the_last_k_terms_and_the_full_gradient_for_k_at_least_T():
    p = checks.rnn_problem(n=3, T=6, rho=1.2, seed=21)
    hs = checks.rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0)
    G = checks.state_grads_oracle(p)          # exact g_t, by a perturbation of each state
    T = len(p.xs)
    terms = [np.outer(G[t] * (1 - hs[t] ** 2), hs[t - 1]) for t in range(1, T + 1)]
    for k in (1, 2, 4):
        assert np.allclose(checks.truncated_weight_grad_oracle(p, k), sum(terms[T - k:]), rtol=1e-12, atol=1e-14)
    for k in (T, T + 3):
        assert np.allclose(checks.truncated_weight_grad_oracle(p, k), checks.weight_grad_oracle(p),
                           rtol=1e-12, atol=1e-14)

    # central differences on the loss with h_{T−k} held constant (k = 2)
    k, eps = 2, 1e-6

    def window_loss(W):
        h = hs[T - k]
        for x in p.xs[T - k:]:
            h = np.tanh(W @ h + p.U @ x + p.b)
        r = p.V @ h - p.target
        return 0.5 * np.sum(r * r)
    oracle = checks.truncated_weight_grad_oracle(p, k)
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        E = np.zeros_like(p.W)
        E[i, j] = eps
        assert oracle[i, j] == pytest.approx((window_loss(p.W + E) - window_loss(p.W - E)) / (2 * eps),
                                             rel=1e-6, abs=1e-10)


# ---------------------------------------------------------------------------
# The figure, the policy
# ---------------------------------------------------------------------------
def test_the_optimiser_figure_reads_without_help(shown):  # noqa: F811
    bowl = checks.ill_conditioned_bowl()
    paths = checks.optimiser_paths(bowl, checks.gradient_descent_reference, checks.momentum_step_reference,
                                   checks.adam_step_reference, gd_lr=2 / 51, momentum_lr=0.06, beta=0.56,
                                   adam_lr=0.1, steps=60)
    checks.plot_optimisers(bowl, paths)
    assert shown and audit(shown[-1]) == []
    assert shown[-1].legends, "the legend sits in the figure's margin"


def test_the_new_tasks_policies():
    for task in ("1.3", "1.4"):
        policy = policy_for("lesson8_learning", f"# Check Task {task}: …")
        assert "torch" in policy.forbid_modules
        assert "autodiff_ref.grad" not in policy.forbid_names and "autodiff_ref.jvp" in policy.forbid_names
    policy = policy_for("lesson8_learning", "# Check Task 3.3: …")
    assert "autodiff_ref" in policy.forbid_modules and policy.builds.startswith("truncated")
