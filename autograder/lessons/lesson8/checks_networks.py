r"""Lesson 8's checks, Parts 3 and 4: back-propagation through time by hand, exact and
truncated; the VJP of logaddexp that extends the student's lesson-3b engine (checked
against autodiff_ref and central differences); training an MLP with reverse mode.

The oracles differentiate the models of :mod:`.material` with ``autodiff_ref``
(reverse mode through the whole unrolled sequence, or through its last k steps
for truncated BPTT; ``value_and_grad`` for a training step). A failure names the
misconception when a known mistake explains the answer exactly: Wᵀ for W, tanh′
left out or taken at the wrong time, BPTT truncated too early, a truncation
window off by one, the output layer squashed, the learning rate applied twice.
The epoch check hands the student's ``train_epoch`` the reference training step,
so it judges the epoch alone.
"""
import contextlib
import io
from typing import NamedTuple

from autodiff_ref import grad, value_and_grad, vjp
from autograder.checks import Named, as_floats, passed, same, show

from ..earlier import blamed
from ..lesson3b.checks import oracle_unbroadcast
from autograder.checks import CheckFailure

from .checks import (compare, factor_hint, failure, first_match, run_cases, run_student, scale_of,
                     unchanged)
from .material import (batch_schedule, init_mlp, last_state_grad, mlp_logits_reference,
                       mlp_loss_reference, np, rnn_loss_reference, rnn_problem, rnn_states_reference,
                       sigmoid, two_moons)


# ============================================================================
# Oracles
# ============================================================================
def state_grads_oracle(p):
    r"""∂L/∂h_t for t = 0…T by reverse mode, with no recursion written by hand.

    A perturbation ε_t is added to each state as it is computed; ∂L/∂ε_t at
    ε = 0 is ∂L/∂h_t (the derivative through everything that follows h_t).
    """
    def loss_of_perturbation(eps):
        h = p.h0 + eps[0]
        for t, x in enumerate(p.xs):
            h = np.tanh(p.W @ h + p.U @ x + p.b) + eps[t + 1]
        r = p.V @ h - p.target
        return 0.5 * np.sum(r * r)
    return grad(loss_of_perturbation)(np.zeros((len(p.xs) + 1, len(p.h0))))


def weight_grad_oracle(p):
    """∂L/∂W by reverse mode through the whole unrolled sequence."""
    return grad(rnn_loss_reference, argnums=0)(*p)


def train_step_reference(loss_fn, params, X, y, lr):
    """(L(params), [p − η ∂L/∂p for each p]) by reverse mode with respect to every parameter."""
    value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X, y),
                                  argnums=tuple(range(len(params))))(*params)
    return float(value), [p - lr * g for p, g in zip(params, grads)]


def train_epoch_reference(loss_fn, params, X, y, lr, batches):
    """One :func:`train_step_reference` per index array of `batches`, in order: (params, losses)."""
    losses = []
    for idx in batches:
        loss, params = train_step_reference(loss_fn, params, X[idx], y[idx], lr)
        losses.append(loss)
    return params, losses


# ============================================================================
# Task 3.1: ∂L/∂h_t by back-propagation through time, g_{t−1} = Wᵀ(g_t ⊙ (1 − h_t²))
# ============================================================================
def _bptt_variants(W, hs, g_T):
    """What some recognisable mistakes compute (each a full (T+1, n) array)."""
    T = len(hs) - 1

    def run(step):
        out = [g_T]
        for t in range(T, 0, -1):
            out.append(step(out[-1], t))
        return np.array(out[::-1])
    return [
        (run(lambda g, t: W @ (g * (1 - hs[t] ** 2))),
         "use Wᵀ, not W: h_t = tanh(W h_{t−1} + …) sends ∂L/∂h_t back through Wᵀ"),
        (run(lambda g, t: W.T @ g),
         "the derivative of tanh is missing: multiply by tanh′ = 1 − h_t² before applying Wᵀ"),
        (run(lambda g, t: W.T @ (g * (1 - hs[t - 1] ** 2))),
         "wrong time index in tanh′: the state produced by the tanh at step t is h_t, so use 1 − h_t² "
         "(not 1 − h_{t−1}²)"),
        (run(lambda g, t: W.T @ (g * (1 - hs[t]))),
         "tanh′(a) = 1 − tanh(a)² = 1 − h_t²: the square is missing"),
        (run(lambda g, t: W.T @ g * (1 - hs[t] ** 2)),
         "tanh′ multiplies before Wᵀ is applied: Wᵀ(g ⊙ (1 − h_t²)), not (Wᵀg) ⊙ (1 − h_t²)"),
    ]


def _bptt_hint(W, hs, g_T, expected, got):
    g = as_floats(got)
    T = len(hs) - 1
    if g is None:
        return ("return a (T+1, n) array of floats; some rows are missing (None?): the recursion must "
                "fill every row from t = T down to t = 0")
    if g.shape != expected.shape:
        if g.ndim == 2 and g.shape[0] < T + 1 and g.shape[1:] == expected.shape[1:] and \
                same(g, expected[T + 1 - g.shape[0]:], "recognise"):
            return (f"your rows are ∂L/∂h_t for t = {T + 1 - g.shape[0]}…{T} only: BPTT was truncated too "
                    f"early; the exact gradient runs the recursion all the way back to h₀")
        return f"return one row per state h_0…h_T: shape (T+1, n) = {expected.shape}"
    if same(g[::-1], expected, "recognise"):
        return "the rows are in reverse order: row t must hold ∂L/∂h_t (reverse your list at the end)"
    first = T + 1  # the earliest t from which every row down to T is right
    while first > 0 and same(g[first - 1], expected[first - 1], "recognise"):
        first -= 1
    hint = first_match(g, _bptt_variants(W, hs, g_T))
    if hint:
        return hint
    if 0 < first <= T and not g[:first].any():
        return (f"rows t = {first}…{T} are right but rows t = 0…{first - 1} are zero: BPTT was truncated "
                f"too early (the recursion stopped at t = {first}); the exact gradient runs it back to h₀")
    return None


def _bptt_states_case(p):
    hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0)
    g_T = last_state_grad(p, hs)
    expected = state_grads_oracle(p)
    return ({"W": p.W, "hs": hs, "g_T": g_T}, (np.copy(p.W), np.copy(hs), np.copy(g_T)), expected,
            lambda got: _bptt_hint(p.W, hs, g_T, expected, got))


def check_bptt_state_grads(bptt_state_grads):
    """Visible: small RNNs (n = 3, 4), a few time steps."""
    problems = [(rnn_problem(n=3, T=1, seed=1),), (rnn_problem(n=4, T=6, seed=2),),
                (rnn_problem(n=3, T=8, rho=1.3, seed=3),)]
    run_cases(bptt_state_grads, problems, "bptt_state_grads against reverse mode", _bptt_states_case)


def check_bptt_state_grads_hidden(bptt_state_grads):
    """Hidden: longer sequences, larger states, several outputs."""
    problems = [(rnn_problem(n=5, T=20, rho=0.7, seed=4, p=2),), (rnn_problem(n=2, T=3, rho=2.0, seed=5),),
                (rnn_problem(n=6, T=12, rho=1.1, seed=6, m=3, p=3),)]
    run_cases(bptt_state_grads, problems, "bptt_state_grads on longer sequences", _bptt_states_case)


# ============================================================================
# Task 3.2: ∂L/∂W = Σ_{t=1..T} (g_t ⊙ (1 − h_t²)) h_{t−1}ᵀ
# ============================================================================
def _weight_terms(hs, G):
    """Term t of the sum (t = 1…T): (g_t ⊙ (1 − h_t²)) h_{t−1}ᵀ."""
    return [np.outer(G[t] * (1 - hs[t] ** 2), hs[t - 1]) for t in range(1, len(hs))]


def _weight_hint(hs, G, expected, got):
    g = as_floats(got)
    if g is None or g.shape != expected.shape:
        return f"∂L/∂W has W's shape, {expected.shape}"
    T = len(hs) - 1
    terms = _weight_terms(hs, G)
    for k in range(1, T):
        if same(g, sum(terms[T - k:]), "recognise"):
            return (f"your sum has only the last {k} of the T = {T} terms: BPTT was truncated too early; "
                    "W is used at every step, so ∂L/∂W sums (g_t ⊙ (1 − h_t²)) h_{t−1}ᵀ over t = 1…T")
    return first_match(g, [
        (expected.T, "transposed: term t is the outer product (g_t ⊙ (1 − h_t²)) h_{t−1}ᵀ, shape (n, n) "
                     "with rows for h_t"),
        (sum(np.outer(G[t], hs[t - 1]) for t in range(1, T + 1)),
         "the derivative of tanh is missing: each term needs g_t ⊙ (1 − h_t²)"),
        (sum(np.outer(G[t] * (1 - hs[t] ** 2), hs[t]) for t in range(1, T + 1)),
         "wrong time index: W multiplies h_{t−1} in step t, so term t uses h_{t−1}, not h_t"),
        (sum(np.outer(G[t - 1] * (1 - hs[t - 1] ** 2), hs[t - 1]) for t in range(1, T + 1)),
         "the gradient rows are shifted by one step: term t pairs g_t and h_t with h_{t−1}"),
        (expected + np.outer(G[0] * (1 - hs[0] ** 2), hs[-1]),
         "there is an extra term for t = 0: it has no h_{−1} (hs[-1] in Python is h_T); sum over t = 1…T"),
    ])


def _weight_case(p):
    hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0)
    G = state_grads_oracle(p)
    expected = weight_grad_oracle(p)
    return ({"hs": hs, "state_grads": G}, (np.copy(hs), np.copy(G)), expected,
            lambda got: _weight_hint(hs, G, expected, got))


def check_bptt_weight_grad(bptt_weight_grad):
    """Visible: ∂L/∂W against reverse mode through the unrolled RNN."""
    problems = [(rnn_problem(n=3, T=1, seed=11),), (rnn_problem(n=4, T=6, seed=12),),
                (rnn_problem(n=3, T=9, rho=1.2, seed=13),)]
    run_cases(bptt_weight_grad, problems, "bptt_weight_grad against reverse mode", _weight_case)


def check_bptt_weight_grad_hidden(bptt_weight_grad):
    """Hidden: longer sequences, several outputs and inputs."""
    problems = [(rnn_problem(n=5, T=25, rho=0.8, seed=14, p=2),), (rnn_problem(n=6, T=4, rho=1.5, seed=15, m=3),)]
    run_cases(bptt_weight_grad, problems, "bptt_weight_grad on longer sequences", _weight_case)


def check_bptt_together(bptt_state_grads, bptt_weight_grad):
    """Both pieces chained from g_T alone give the full ∂L/∂W."""
    what = "bptt_weight_grad(hs, bptt_state_grads(W, hs, g_T)) equals ∂L/∂W"
    for p in (rnn_problem(n=4, T=10, rho=1.0, seed=16), rnn_problem(n=3, T=5, rho=0.6, seed=17, p=2)):
        hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0)
        g_T = last_state_grad(p, hs)
        inputs = {"W": p.W, "hs": hs, "g_T": g_T}
        G = run_student(bptt_state_grads, (np.copy(p.W), np.copy(hs), np.copy(g_T)), what, inputs)
        got = run_student(bptt_weight_grad, (np.copy(hs), G), what, inputs)
        compare(got, weight_grad_oracle(p), what, inputs, "run the two checks above: each names the piece that is wrong")
    passed(what, 2)


# ============================================================================
# Task 3.3: truncated BPTT, ∂L/∂W summed over the last k steps only
# ============================================================================
def truncated_weight_grad_oracle(p, k):
    r"""∂L/∂W with the state h_{T−k} held constant (truncated BPTT), by reverse mode through the
    last k steps only; for k ≥ T it is the full gradient, :func:`weight_grad_oracle`."""
    hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0)
    start = max(len(p.xs) - k, 0)

    def loss_of_window(W):
        h = hs[start]
        for x in p.xs[start:]:
            h = np.tanh(W @ h + p.U @ x + p.b)
        r = p.V @ h - p.target
        return 0.5 * np.sum(r * r)
    return grad(loss_of_window)(p.W)


def _truncated_hint(p, k, expected, got):
    g = as_floats(got)
    if g is None or g.shape != expected.shape:
        return f"∂L/∂W has W's shape, {expected.shape}"
    T = len(p.xs)
    for j in range(T + 1):
        if j != min(k, T) and same(g, truncated_weight_grad_oracle(p, j), "recognise"):
            if j == k + 1:
                return (f"off by one: your sum has k + 1 = {j} terms, t = T−k…T; the last k steps are "
                        f"t = T−k+1…T, which use the states h_(T−k)…h_T")
            if j == k - 1:
                return (f"off by one: your sum has k − 1 = {j} terms; the last k steps are t = T−k+1…T, "
                        "which use the k + 1 states h_(T−k)…h_T")
            if k > T and j == k - T - 1:
                return (f"for k = {k} > T = {T} the window is the whole sequence, but a start index T − k < 0 "
                        "counts from the end in Python (hs[-2:] is the last two rows): clamp it, max(T − k, 0)")
            return f"your answer is the gradient truncated to the last {j} steps; this call asked for k = {k}"
    if k >= T:
        return (f"with k = {k} ≥ T = {T} nothing is cut off: the answer is the full ∂L/∂W of Task 3.2 "
                "(a start index T − k < 0 must be clamped at 0)")
    return None


def _truncated_case(p, k):
    hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0)
    g_T = last_state_grad(p, hs)
    # k ≥ T: nothing is cut off, so the answer is full BPTT's, from the whole unrolled network
    expected = weight_grad_oracle(p) if k >= len(p.xs) else truncated_weight_grad_oracle(p, k)
    return ({"W": p.W, "hs": hs, "g_T": g_T, "k": k}, (np.copy(p.W), np.copy(hs), np.copy(g_T), k), expected,
            lambda got: _truncated_hint(p, k, expected, got))


def _run_truncated(student, cases, what, earlier):
    """The truncated-BPTT checks; when they fail and the student's Task 3.1 or 3.2 (which the
    solution may reuse) fails its own check, the failure says to fix that task first."""
    try:
        run_cases(student, cases, what, _truncated_case)
    except CheckFailure as failure:
        raise blamed(failure, earlier) from None


def _bptt_earlier(bptt_state_grads, bptt_weight_grad):
    tasks = (("bptt_state_grads (Task 3.1)", check_bptt_state_grads, bptt_state_grads),
             ("bptt_weight_grad (Task 3.2)", check_bptt_weight_grad, bptt_weight_grad))
    return tuple((label, check, (fn,)) for label, check, fn in tasks if fn is not None)


def check_truncated_weight_grad(truncated_weight_grad, *, bptt_state_grads=None, bptt_weight_grad=None):
    """Visible: windows k = 1, 3 and k = T (full BPTT) on small RNNs."""
    p = rnn_problem(n=3, T=6, rho=1.1, seed=51)
    q = rnn_problem(n=4, T=8, rho=0.9, seed=52, p=2)
    _run_truncated(truncated_weight_grad, [(p, 1), (p, 3), (q, 4), (p, 6)], "truncated_weight_grad",
                   _bptt_earlier(bptt_state_grads, bptt_weight_grad))


def check_truncated_weight_grad_hidden(truncated_weight_grad, *, bptt_state_grads=None, bptt_weight_grad=None):
    """Hidden: k > T (full BPTT again), k = T − 1, a longer sequence, a one-step sequence."""
    p = rnn_problem(n=5, T=20, rho=0.8, seed=53, p=2)
    q = rnn_problem(n=3, T=5, rho=1.4, seed=54, m=3)
    r = rnn_problem(n=2, T=1, seed=55)
    _run_truncated(truncated_weight_grad, [(p, 7), (p, 19), (q, 9), (q, 2), (r, 1), (r, 3)],
                   "truncated_weight_grad on other windows", _bptt_earlier(bptt_state_grads, bptt_weight_grad))


# ============================================================================
# Task 4.0: the VJP of logaddexp, x̄ = ḡ σ(x − y), ȳ = ḡ σ(y − x), each summed back to its shape
# ============================================================================
def logaddexp_vjp_reference(g, x, y):
    """(x̄, ȳ) of ``np.logaddexp(x, y)`` for the cotangent g, by autodiff_ref's reverse mode."""
    _, pullback = vjp(np.logaddexp, np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return tuple(np.asarray(c, dtype=float) for c in pullback(np.asarray(g, dtype=float)))


def _projection_by_differences(g, x, y, dx, dy, h=1e-6):
    """⟨ḡ, d/dε logaddexp(x + ε dx, y + ε dy)⟩ at ε = 0 by a central difference: a second oracle."""
    f = lambda eps: np.sum(g * np.logaddexp(x + eps * dx, y + eps * dy))
    return (f(h) - f(-h)) / (2 * h)


class LogaddexpCase(NamedTuple):
    x: np.ndarray
    y: np.ndarray
    g: np.ndarray


_LOGADDEXP_SHAPES = [((), (5,), 3.0), ((3,), (3,), 3.0), ((2, 3), (3,), 3.0), ((2, 1), (1, 3), 3.0)]
_LOGADDEXP_SHAPES_HIDDEN = [((4,), (), 3.0), ((3, 1), (3, 4), 3.0), ((1,), (2, 3), 3.0), ((6,), (6,), 800.0)]


def _logaddexp_cases(shapes, seed):
    rng = np.random.default_rng(seed)
    cases = []
    for x_shape, y_shape, scale in shapes:
        x, y = rng.uniform(-scale, scale, size=x_shape), rng.uniform(-scale, scale, size=y_shape)
        g = rng.uniform(0.5, 2.0, size=np.broadcast_shapes(x_shape, y_shape))
        cases.append(LogaddexpCase(x, y, g))
    return cases


def _logaddexp_hint(case, expected, got):
    x, y, g = case
    if not (isinstance(got, tuple) and len(got) == 2):
        return "return a pair (x̄, ȳ): one cotangent per argument of logaddexp, even when one is a constant"
    for k, (arg, c) in enumerate(zip((x, y), got)):
        c = as_floats(c)
        if c is not None and c.shape == g.shape != np.shape(arg):
            return (f"{'x̄' if k == 0 else 'ȳ'} has the output's shape {g.shape}, not its argument's "
                    f"{np.shape(arg)}: broadcasting copied that argument, so sum the cotangent back with "
                    f"unbroadcast(…, np.shape({'x' if k == 0 else 'y'}))")
        if c is not None and not np.all(np.isfinite(c)):
            return ("a cotangent is inf or nan: e^x / (e^x + e^y) overflows for large x; write σ(x − y) "
                    "as np.exp(x − np.logaddexp(x, y)), whose exponent is never positive")
    def both(sx, sy):
        return (oracle_unbroadcast(g * sx, np.shape(x)), oracle_unbroadcast(g * sy, np.shape(y)))
    sigma_xy, sigma_yx = sigmoid(x - y), sigmoid(y - x)
    variants = [
        (both(sigma_yx, sigma_xy), "x̄ and ȳ are swapped: ∂/∂x log(e^x + e^y) = e^x / (e^x + e^y) = σ(x − y), "
                                   "so x̄ = ḡ·σ(x − y) and ȳ = ḡ·σ(y − x)"),
        (both(sigmoid(x) + 0 * y, sigmoid(y) + 0 * x),
         "σ(x) is the derivative of logaddexp(0, x) only: with two arguments it is σ(x − y) (and σ(y − x) for y)"),
        ((oracle_unbroadcast(sigma_xy + 0 * g, np.shape(x)), oracle_unbroadcast(sigma_yx + 0 * g, np.shape(y))),
         "the cotangent ḡ is missing: multiply the local derivative by ḡ before summing it back"),
    ]
    for candidate, hint in variants:
        if all(same(c, e, "recognise") for c, e in zip(got, candidate)):
            return hint
    return None


def _run_logaddexp(logaddexp_vjp, cases, what):
    for case in cases:
        x, y, g = case
        inputs = {"g": g, "x": x, "y": y}
        expected = logaddexp_vjp_reference(g, x, y)
        got = run_student(logaddexp_vjp, (np.copy(g), np.copy(x), np.copy(y)), what, inputs)
        hint = lambda: _logaddexp_hint(case, expected, got)       # noqa: E731 (only on failure)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise failure(what, inputs=inputs, expected="a pair (x̄, ȳ)", got=got, hint=hint())
        for name, c, e in zip(("x̄", "ȳ"), got, expected):
            compare(c, e, f"{what} ({name})", inputs, hint, tol="rounding")
        # the second oracle: ⟨x̄, dx⟩ + ⟨ȳ, dy⟩ is the directional derivative of ⟨ḡ, logaddexp⟩
        rng = np.random.default_rng(len(cases))
        dx, dy = rng.normal(size=np.shape(x)), rng.normal(size=np.shape(y))
        compare(np.sum(as_floats(got[0]) * dx) + np.sum(as_floats(got[1]) * dy),
                _projection_by_differences(g, x, y, dx, dy), what + " (against central differences)",
                {**inputs, "dx": dx, "dy": dy}, hint, tol="numerical")
    passed(what, len(cases))


def check_logaddexp_vjp(logaddexp_vjp):
    """Visible: the loss's own call logaddexp(0, z), equal shapes, a row against a matrix."""
    _run_logaddexp(logaddexp_vjp, _logaddexp_cases(_LOGADDEXP_SHAPES, 60), "logaddexp_vjp against reverse mode")


def check_logaddexp_vjp_hidden(logaddexp_vjp):
    """Hidden: other broadcasts, and arguments up to ±800 (where e^x overflows)."""
    _run_logaddexp(logaddexp_vjp, _logaddexp_cases(_LOGADDEXP_SHAPES_HIDDEN, 61),
                   "logaddexp_vjp on other shapes and large arguments")


def engine_rule(logaddexp_vjp):
    """The rule the student's engine records logaddexp with: theirs once Task 4.0's visible check
    passes, else the reference (with one line saying so), so that a task left for later does not
    stop Tasks 4.2 and 4.3 from running on their engine."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check_logaddexp_vjp(logaddexp_vjp)
    except CheckFailure:
        print("Your engine records logaddexp with the lesson's rule until your logaddexp_vjp passes "
              "Task 4.0's check.")
        return Named("logaddexp_vjp (the lesson's reference)", logaddexp_vjp_reference)
    print("Your engine records logaddexp with your logaddexp_vjp.")
    return logaddexp_vjp


# ============================================================================
# Task 4.1: the MLP's forward pass, tanh hidden layers and a linear read-out
# ============================================================================
def _mlp_hint(params, X, expected, got):
    g = as_floats(got)
    if g is None or g.shape != expected.shape:
        return f"return one logit per row of X, shape {expected.shape} (a vector, not a column)"
    n_hidden = len(params) // 2 - 1

    def forward(act, last_act, skip_bias=False):
        h = X
        for i in range(n_hidden):
            h = act(h @ params[2 * i] + (0 if skip_bias else params[2 * i + 1]))
        return last_act(h @ params[-2] + (0 if skip_bias else params[-1]))
    identity = lambda a: a  # noqa: E731
    variants = [
        (forward(np.tanh, np.tanh), "no tanh on the output layer: the last layer is linear (its output is a logit)"),
        (forward(np.tanh, sigmoid), "return the logit z, not σ(z): the loss takes logits"),
        (forward(identity, identity), "the hidden layers need the tanh activation"),
        (forward(lambda a: np.maximum(a, 0), identity), "this lesson's MLP uses tanh, not ReLU, in the hidden layers"),
        (forward(np.tanh, identity, skip_bias=True), "the biases are missing: each layer computes h @ W + b"),
    ]
    if n_hidden > 1:
        first_layer = np.tanh(X @ params[0] + params[1])
        if first_layer.shape[1] == params[-2].shape[0]:
            variants.append((first_layer @ params[-2] + params[-1], "use every hidden layer, not just the first"))
    return first_match(g, variants)


def _mlp_case(sizes, seed, n):
    rng = np.random.default_rng(seed + 500)
    params = [p + rng.normal(size=np.shape(p)) * 0.3 for p in init_mlp(sizes, seed)]  # nonzero biases
    X = rng.normal(size=(n, sizes[0]))
    expected = mlp_logits_reference(params, X)
    return ({"sizes": sizes, "params": tuple(params), "X": X}, ([np.copy(p) for p in params], np.copy(X)),
            expected, lambda got: _mlp_hint(params, X, expected, got))


def check_mlp_logits(mlp_logits):
    """Visible: the lesson's architecture 2 → 16 → 16 → 1 and a smaller one."""
    run_cases(mlp_logits, [([2, 16, 16, 1], 21, 5), ([2, 3, 4, 1], 22, 3)], "mlp_logits", _mlp_case)


def check_mlp_logits_hidden(mlp_logits):
    """Hidden: one and three hidden layers (the depth is not fixed), other input sizes."""
    run_cases(mlp_logits, [([3, 5, 1], 23, 4), ([2, 4, 6, 5, 1], 24, 7), ([1, 2, 1], 25, 1)],
              "mlp_logits for other depths", _mlp_case)


# ============================================================================
# Task 4.2: one training step with reverse mode, p ← p − η ∂L/∂p
# ============================================================================
_MLP_LOSS = Named("mlp_loss (the lesson's reference)", mlp_loss_reference)


def _train_setup(sizes, seed, n):
    X, y = two_moons(n, 0.2, seed)
    rng = np.random.default_rng(seed + 700)
    return [p + rng.normal(size=np.shape(p)) * 0.2 for p in init_mlp(sizes, seed)], X, y


def _pair(out, what, inputs, n_params, names):
    """The student's answer as a pair named `names`, the item called "new_params" a list of
    `n_params` arrays. Fails with a hint when the answer has another form."""
    if not (isinstance(out, tuple) and len(out) == 2):
        raise failure(what, inputs=inputs, expected=f"a pair ({', '.join(names)})", got=type(out).__name__,
                      hint=f"return {', '.join(names)}")
    params = out[names.index("new_params")]
    if not isinstance(params, (list, tuple)) or len(params) != n_params:
        raise failure(what, inputs=inputs, expected=f"a list of {n_params} arrays",
                      got=f"{len(params)} items" if isinstance(params, (list, tuple)) else show(params),
                      hint="the list of updated parameters has one array per parameter, in the same order")
    return out


def _step_pair_hint(params, lr, n, expected_params, got_params):
    """Diagnose a wrong list of updated parameters against the expected one."""
    steps_exp = [e - p for e, p in zip(expected_params, params)]
    steps_got = [as_floats(g) - p for g, p in zip(got_params, params)]
    moved = [i for i, s in enumerate(steps_got) if not same(s, 0 * s, "recognise")]
    if not moved:
        return "the parameters did not move: each one becomes p − lr·∂L/∂p"
    if moved == [0] and len(params) > 1:
        return ("only params[0] moved: differentiate with respect to every parameter, "
                "argnums=tuple(range(len(params)))")
    c = scale_of(np.concatenate([np.ravel(s) for s in steps_got]), np.concatenate([np.ravel(s) for s in steps_exp]))
    return factor_hint(c, n, lr=lr, sign="you moved uphill (p + lr·grad is gradient ascent); descent "
                                         "subtracts: p − lr·grad")


_KEEPS_STATE = ("called twice with the same inputs, your train_step moved the parameters differently the "
                "second time: it keeps gradients between calls and adds the new ones to them (PyTorch's "
                "`.grad` without `zero_grad()`). Compute the gradient afresh in every call and keep nothing "
                "outside it")


def _run_train_step(student, setups, what):
    for sizes, seed, n, lr in setups:
        params, X, y = _train_setup(sizes, seed, n)
        inputs = {"loss_fn": _MLP_LOSS, "sizes": sizes, "X": X, "y": y, "lr": lr}
        exp_loss, exp_params = train_step_reference(_MLP_LOSS, params, X, y, lr)
        given = [np.copy(p) for p in params]
        out = run_student(student, (_MLP_LOSS, given, X, y, lr), what, inputs)
        for before, after in zip(params, given):
            unchanged(before, after, what, inputs, "params")
        got_loss, got_params = _pair(out, what, inputs, len(params), ("loss", "new_params"))
        # a step is a function of its inputs: the same call twice gives the same step
        again = run_student(student, (_MLP_LOSS, [np.copy(p) for p in params], X, y, lr), what, inputs)
        _, again_params = _pair(again, what, inputs, len(params), ("loss", "new_params"))
        for i, (first, second) in enumerate(zip(got_params, again_params)):
            if not same(second, first, "exact"):
                raise failure(what + f", called a second time (new params[{i}])",
                              inputs={**inputs, "params[i]": params[i]}, expected=exp_params[i],
                              got=as_floats(second), hint=_KEEPS_STATE)
        loss_hint = None
        if same(got_loss, _MLP_LOSS(exp_params, X, y), "recognise"):
            loss_hint = "you returned the loss after the step; return the loss at the parameters you were given"
        compare(got_loss, exp_loss, what + " (the loss value)", inputs, loss_hint, tol="solver")
        for i, (g, e) in enumerate(zip(got_params, exp_params)):
            compare(g, e, what + f" (new params[{i}])", {**inputs, "params[i]": params[i]},
                    lambda: _step_pair_hint(params, lr, n, exp_params, got_params), tol="solver")
    passed(what, len(setups))


def check_train_step(train_step):
    """Visible: one step on two moons, two learning rates."""
    _run_train_step(train_step, [([2, 8, 1], 31, 20, 0.5), ([2, 4, 4, 1], 32, 12, 0.1)], "train_step")


def check_train_step_hidden(train_step):
    """Hidden: a larger network, and a batch of one with a large step."""
    _run_train_step(train_step, [([2, 16, 16, 1], 33, 40, 0.3), ([2, 3, 1], 34, 1, 2.0)],
                    "train_step on other networks")


# ============================================================================
# Task 4.3: one epoch of mini-batch SGD, one train_step per batch
# ============================================================================
def _epoch_hint(params, X, y, lr, batches, got_params):
    full_data = params
    for _ in batches:
        _, full_data = train_step_reference(_MLP_LOSS, full_data, X, y, lr)
    variants = [
        (full_data, "every step used the whole data set: take the step on the batch, X[idx], y[idx]"),
        (train_step_reference(_MLP_LOSS, params, X[batches[-1]], y[batches[-1]], lr)[1],
         "each step started from the initial parameters: carry the updated params into the next step"),
        (train_epoch_reference(_MLP_LOSS, params, X, y, lr, batches[:-1])[0],
         "the last batch was skipped: loop over every index array in batches"),
    ]
    for candidate, hint in variants:
        if len(got_params) == len(candidate) and all(same(g, c, "recognise") for g, c in zip(got_params, candidate)):
            return hint
    return None


class _CountedStep:
    """The reference training step handed to the student's train_epoch, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, loss_fn, params, X, y, lr):
        self.calls += 1
        return train_step_reference(loss_fn, params, X, y, lr)

    def __repr__(self):
        return "train_step (the lesson's reference)"


def _run_train_epoch(student, setups, what):
    """The epoch checks. The student's train_epoch gets the reference train_step as its
    argument, so only Task 4.3's own code is judged, whatever Task 4.2 does."""
    for sizes, seed, n, lr, batch_size in setups:
        params, X, y = _train_setup(sizes, seed, n)
        batches = batch_schedule(n, batch_size, 1, seed)[0]
        step = _CountedStep()
        inputs = {"train_step": step, "loss_fn": _MLP_LOSS, "sizes": sizes, "lr": lr,
                  "batches": [b.tolist() for b in batches]}
        exp_params, exp_losses = train_epoch_reference(_MLP_LOSS, params, X, y, lr, batches)
        out = run_student(student, (step, _MLP_LOSS, [np.copy(p) for p in params], X, y, lr, batches), what,
                          inputs)
        got_params, got_losses = _pair(out, what, inputs, len(params), ("new_params", "losses"))
        if step.calls != len(batches):
            raise failure(what, inputs=inputs, expected=f"train_step called {len(batches)} times, once per batch",
                          got=f"{step.calls} calls of the train_step passed in",
                          hint="call the train_step you are given (the first argument) once per batch, not "
                               "another function" if step.calls == 0 else "one train_step per batch")
        for i, (g, e) in enumerate(zip(got_params, exp_params)):
            compare(g, e, what + f" (params[{i}] after the epoch)", inputs,
                    lambda: _epoch_hint(params, X, y, lr, batches, got_params), tol="solver")
        losses = as_floats(got_losses)
        compare(got_losses if losses is None else losses, np.array(exp_losses),
                what + " (the losses, one per batch)", inputs,
                f"one loss per batch: {len(batches)} values" if losses is None or losses.shape != (len(batches),)
                else "record the loss train_step returns for each batch, in order", tol="solver")
    passed(what, len(setups))


def check_train_epoch(train_epoch):
    """Visible: an epoch of 4 batches."""
    _run_train_epoch(train_epoch, [([2, 8, 1], 41, 24, 0.5, 6)], "train_epoch")


def check_train_epoch_hidden(train_epoch):
    """Hidden: deeper networks, and batches that do not divide the data evenly."""
    _run_train_epoch(train_epoch, [([2, 6, 6, 1], 42, 30, 0.2, 7), ([2, 4, 1], 43, 10, 1.0, 10)],
                     "train_epoch on other schedules")
