r"""Lesson 8, learning with gradients: oracles, data, checks and demos.

The lesson notebook imports this module as ``checks`` before any student
code runs. It has four parts, in this order:

1. **Oracles**: reference implementations the checks compare with. They are
   written from closed forms or with ``autodiff_ref`` (forward or reverse
   mode), never with the student's code.
2. **Data**: seeded problems (a quadratic bowl, logistic-regression data, a
   small RNN, two moons, mini-batch schedules).
3. **Checks**, one group per task. A failure names the input, the expected
   value, what came back and, where a known mistake explains the answer
   exactly, the misconception: gradient *ascent*, the learning rate applied
   twice, a sum where the mean over the batch belongs (the factor is the
   batch size, and the hint says so), the sigmoid's derivative left out,
   back-propagation through time stopped too early.
4. **Demos**: the plots and widgets of the notebook, including the PyTorch
   comparison. PyTorch is optional (the ``torch`` extra, not the course's): the
   notebook runs the comparison only when ``import torch`` works, and nothing
   else here imports it.
"""
import contextlib
import time
import types
from typing import NamedTuple

import numpy

from autodiff_ref import Dual, grad, value_and_grad
from autograder.checks import CheckFailure, TOLERANCES, is_close, passed, show

# A private copy of numpy's namespace, taken at import (before any student cell
# runs): a notebook that later rebinds numpy.mean, numpy.allclose or any other
# name cannot change what these checks compute. The copied functions are the
# real ufuncs, so they still dispatch to dual numbers and tapes.
np = types.SimpleNamespace(**{**vars(numpy), "linalg": numpy.linalg, "random": numpy.random})
_asarray, _zeros, _eye, _logaddexp = np.asarray, np.zeros, np.eye, np.logaddexp
_outer, _copy, _array_equal = np.outer, np.copy, np.array_equal


# ============================================================================
# 1. Oracles
# ============================================================================
def sigmoid(z):
    r"""σ(z) = 1 / (1 + e^{-z}), evaluated without overflow for any z."""
    z = _asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def bce_reference(z, y):
    r"""Mean binary cross-entropy on logits, :math:`\frac1N\sum_i \log(1+e^{z_i}) - y_i z_i`.

    ``np.logaddexp(0, z)`` is log(1 + e^z) without overflow (plain numpy: an
    oracle for values, not something the AD library differentiates).
    """
    z, y = _asarray(z, dtype=float), _asarray(y, dtype=float)
    return float(np.mean(_logaddexp(0.0, z) - y * z))


def bce_differentiable(z, y):
    r"""The same loss, written so both AD modes differentiate it correctly everywhere.

    log(1 + e^z) = m + log(e^{-m} + e^{z-m}) with m = max(z, 0): every
    exponent is ≤ 0 (no overflow), and the result does not depend on m, so
    whatever derivative AD assigns to max at its kink cancels exactly.
    """
    m = np.maximum(z, 0.0)
    return np.mean(m + np.log(np.exp(-m) + np.exp(z - m)) - y * z)


def logistic_loss_reference(w, X, y):
    """Mean cross-entropy of logistic regression with weights w (works on Duals and tapes)."""
    return bce_differentiable(X @ w, y)


def logistic_gradient_reference(w, X, y):
    r"""∇_w of the mean cross-entropy, closed form: Xᵀ(σ(Xw) − y) / N."""
    return X.T @ (sigmoid(X @ w) - y) / len(y)


def gd_step_reference(grad_f, theta, lr):
    return theta - lr * grad_f(theta)


def gradient_descent_reference(grad_f, theta0, lr, n_steps):
    path = [_asarray(theta0, dtype=float)]
    for _ in range(n_steps):
        path.append(gd_step_reference(grad_f, path[-1], lr))
    return np.array(path)


class RNNProblem(NamedTuple):
    """A small Elman RNN, its input sequence and the target of its last output."""
    W: np.ndarray       # (n, n) recurrent weights
    U: np.ndarray       # (n, m) input weights
    b: np.ndarray       # (n,) bias
    V: np.ndarray       # (p, n) read-out
    xs: np.ndarray      # (T, m) inputs x_1 … x_T
    h0: np.ndarray      # (n,) initial state
    target: np.ndarray  # (p,) target of V h_T


def rnn_states_reference(W, U, b, xs, h0, activation=np.tanh):
    """h_t = act(W h_{t-1} + U x_t + b) for t = 1…T; returns the (T+1, n) states h_0…h_T."""
    hs = [h0]
    for x in xs:
        hs.append(activation(W @ hs[-1] + U @ x + b))
    return np.stack(hs)


def rnn_loss_reference(W, U, b, V, xs, h0, target):
    """L = ½‖V h_T − target‖² (works on tapes: it is how the oracle differentiates)."""
    r = V @ rnn_states_reference(W, U, b, xs, h0)[-1] - target
    return 0.5 * np.sum(r * r)


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
    return grad(loss_of_perturbation)(_zeros((len(p.xs) + 1, len(p.h0))))


def weight_grad_oracle(p):
    """∂L/∂W by reverse mode through the whole unrolled sequence."""
    return grad(rnn_loss_reference, argnums=0)(*p)


def last_state_grad(p, hs):
    """g_T = ∂L/∂h_T = Vᵀ(V h_T − target)."""
    return p.V.T @ (p.V @ hs[-1] - p.target)


def mlp_logits_reference(params, X):
    """tanh hidden layers, then a linear read-out: params = [W1, b1, …, W_L, b_L, w_out, b_out]."""
    h = X
    for i in range(len(params) // 2 - 1):
        h = np.tanh(h @ params[2 * i] + params[2 * i + 1])
    return h @ params[-2] + params[-1]


def mlp_loss_reference(params, X, y):
    return bce_differentiable(mlp_logits_reference(params, X), y)


def train_step_reference(loss_fn, params, X, y, lr):
    value, grads = value_and_grad(lambda *ps: loss_fn(list(ps), X, y),
                                  argnums=tuple(range(len(params))))(*params)
    return float(value), [p - lr * g for p, g in zip(params, grads)]


def train_epoch_reference(loss_fn, params, X, y, lr, batches):
    losses = []
    for idx in batches:
        loss, params = train_step_reference(loss_fn, params, X[idx], y[idx], lr)
        losses.append(loss)
    return params, losses


# ============================================================================
# 2. Data
# ============================================================================
def quadratic_bowl(angle_deg=30.0, eigenvalues=(1.0, 10.0), center=(1.0, 1.0)):
    r"""f(θ) = ½(θ − c)ᵀA(θ − c) with A = R diag(λ) Rᵀ; returns (f, ∇f, A, c)."""
    a = np.deg2rad(angle_deg)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    A = R @ np.diag(eigenvalues) @ R.T
    c = np.array(center, dtype=float)

    def f(theta):
        d = theta - c
        return 0.5 * np.sum(d * (A @ d))
    return f, _Fn(lambda theta: A @ (theta - c), f"∇f for f(θ) = ½(θ−c)ᵀA(θ−c), A={_short(A)}, c={_short(c)}"), A, c


def logistic_data(n, d, seed, scale=1.0):
    """Seeded (X, y): X ~ N(0, 1) of shape (n, d), y ~ Bernoulli(σ(X w_true)), w_true ~ N(0, scale²/d)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d) * scale / np.sqrt(d) * 2
    y = (rng.random(n) < sigmoid(X @ w_true)).astype(float)
    return X, y


def rnn_problem(n=4, T=6, rho=0.9, seed=0, m=2, p=1, input_scale=0.5):
    """A seeded RNN whose recurrent matrix W has spectral radius `rho`."""
    rng = np.random.default_rng(seed)
    W0 = rng.normal(size=(n, n))
    W = rho * W0 / np.max(np.abs(np.linalg.eigvals(W0)))
    U = rng.normal(size=(n, m)) * input_scale
    b = rng.normal(size=n) * 0.1
    V = rng.normal(size=(p, n)) / np.sqrt(n)
    xs = rng.normal(size=(T, m))
    h0 = rng.normal(size=n) * 0.1
    target = rng.normal(size=p)
    return RNNProblem(W, U, b, V, xs, h0, target)


def two_moons(n=200, noise=0.15, seed=0):
    """Two interleaving half circles in the plane, labels 0 (upper) and 1 (lower)."""
    rng = np.random.default_rng(seed)
    n0 = n // 2
    a0, a1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n - n0)
    upper = np.stack([np.cos(a0), np.sin(a0)], axis=1)
    lower = np.stack([1 - np.cos(a1), 0.5 - np.sin(a1)], axis=1)
    X = np.concatenate([upper, lower]) + rng.normal(scale=noise, size=(n, 2))
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    return X, y


def init_mlp(sizes, seed=0):
    """[W1, b1, …, w_out, b_out] for layer sizes like [2, 16, 16, 1]: W ~ N(0, 1/fan_in), b = 0.

    The last layer has one output, so its weights are a vector (H,) and its
    bias has shape (1,): the logits come out with shape (N,).
    """
    if sizes[-1] != 1:
        raise ValueError(f"init_mlp: the last layer must have 1 output (a logit), got sizes {sizes}")
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        params += [rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in), _zeros(fan_out)]
    params += [rng.normal(size=sizes[-2]) / np.sqrt(sizes[-2]), _zeros(1)]
    return params


def batch_schedule(n, batch_size, epochs, seed=0):
    """One shuffled list of index arrays per epoch (shared by our training and PyTorch's)."""
    rng = np.random.default_rng(seed)
    return [np.array_split(rng.permutation(n), max(n // batch_size, 1)) for _ in range(epochs)]


# ============================================================================
# 3. Checks
# ============================================================================
class _Fn:
    """A function with a readable description, so a failure report can show it."""

    def __init__(self, f, description):
        self.f, self.description = f, description

    def __call__(self, *args, **kwargs):
        return self.f(*args, **kwargs)

    def __repr__(self):
        return self.description


def _short(a):
    return np.array2string(_asarray(a), precision=3, separator=", ", suppress_small=True).replace("\n", "")


class _Compact:
    """A value rendered on one line in a failure report (arrays summarised, with their shape)."""

    def __init__(self, value):
        self.value, self.text = value, _one_line(value)

    def __repr__(self):
        return self.text


def _one_line(value):
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        value = value.item()
    if isinstance(value, np.ndarray):
        text = " ".join(np.array2string(value, precision=6, threshold=10, edgeitems=2, separator=", ",
                                        max_line_width=10 ** 6).split())
        return text if value.size <= 10 else f"shape {value.shape}: {text}"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
        if sum(v.size for v in value) <= 10:
            return "[" + ", ".join(_one_line(v) for v in value) + "]"
        return f"{len(value)} arrays of shapes " + ", ".join(str(v.shape) for v in value)
    return " ".join(show(value).split()) if not isinstance(value, str) else value


def _failure(what, *, inputs=None, expected=None, got=None, hint=None):
    """A CheckFailure whose input, expected and got each fit on one line."""
    if isinstance(inputs, dict):
        inputs = {k: _Compact(v) for k, v in inputs.items()}
    elif inputs is not None:
        inputs = _Compact(inputs)
    return CheckFailure(what, inputs=inputs, hint=hint,
                        expected=None if expected is None else _Compact(expected),
                        got=None if got is None else _Compact(got))


def _call(student, args, what, inputs):
    """Run the student's function; an exception becomes a failure on this input."""
    try:
        return student(*args)
    except NotImplementedError as err:
        raise _failure(what, inputs=inputs, got=f"NotImplementedError: {err}",
                       hint="this task is not done yet: replace `raise NotImplementedError()` "
                            "with your code") from None
    except Exception as err:  # the student's bug, reported on its input
        raise _failure(what, inputs=inputs, got=f"{type(err).__name__}: {err}",
                       hint="your code raised an exception on this input") from None


def _as_floats(x):
    try:
        return _asarray(x, dtype=float)
    except (TypeError, ValueError):
        return None


def _same(got, candidate, tol=1e-9):
    """got equals candidate up to round-off (used to recognise a known mistake)."""
    g = _as_floats(got)
    return g is not None and is_close(g, candidate, tol, tol)


def _near(a, b, rel=1e-7):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def _scale_of(got, expected):
    """The one number c with got = c · expected entry by entry, or None."""
    g, e = _as_floats(got), _as_floats(expected)
    if g is None or e is None or g.shape != e.shape or e.size == 0:
        return None
    k = int(np.argmax(np.abs(e)))
    if abs(e.flat[k]) < 1e-14:
        return None
    c = g.flat[k] / e.flat[k]
    return c if is_close(g, c * e, 1e-9, 1e-12 * abs(e.flat[k])) else None


def _factor_hint(c, n, *, sign, batch):
    """Explain got = c·expected for the usual constants: −1 (sign), N (sum), 1/N (mean twice)."""
    if c is None:
        return None
    if _near(c, -1.0):
        return sign
    if batch and n > 1 and _near(c, float(n)):
        return (f"your answer is exactly {n} × the expected one, and {n} is the batch size: you "
                f"summed over the batch where the loss takes the mean (divide by N = {n})")
    if batch and n > 1 and _near(c, 1.0 / n):
        return f"your answer is exactly 1/{n} of the expected one: you divided by the batch size N = {n} twice"
    return None


def _compare(got, expected, what, inputs, hint=None, tol="exact"):
    rtol, atol = TOLERANCES[tol]
    if not is_close(got, expected, rtol, atol):
        raise _failure(what, inputs=inputs, expected=expected, got=_shown(got),
                       hint=hint() if callable(hint) else hint)


def _shown(got):
    g = _as_floats(got)
    return g if g is not None and g.ndim else got


def _unchanged(before, after, what, inputs, name):
    if not _array_equal(before, after):
        raise _failure(what, inputs=inputs, expected=f"{name} left as it was: {_one_line(before)}",
                       got=f"{name} changed to {_one_line(_asarray(after))}",
                       hint=f"your function modified its argument `{name}` in place (an augmented "
                            f"assignment such as `{name} -= …` writes into the caller's array); "
                            f"compute a new array instead, e.g. `{name} - lr * g`")


# ---------------------------------------------------------------------------
# Task 1.1: one gradient-descent step
# ---------------------------------------------------------------------------
def _rosenbrock_grad():
    def g(theta):
        x, y = theta
        return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    return _Fn(g, "∇ of the Rosenbrock function (1−x)² + 100(y−x²)²")


def _step_hint(grad_f, theta, lr, expected, got):
    g = _as_floats(got)
    if g is None or g.shape != expected.shape:
        return f"return the new point as an array shaped like θ, {expected.shape}"
    step = -lr * grad_f(theta)
    if _same(g, theta):
        return "θ did not move: the new point is θ − η·∇f(θ)"
    if _same(g, step):
        return "you returned the step −η·∇f(θ); return the new point θ − η·∇f(θ)"
    c = _scale_of(g - theta, step)
    if c is not None and _near(c, -1.0):
        return ("you moved uphill: θ + η·∇f(θ) is gradient ascent; descent subtracts the "
                "gradient, θ − η·∇f(θ)")
    if c is not None and _near(c, lr):
        return f"the step is η²·∇f(θ): the learning rate η = {lr} is applied twice"
    if c is not None and _near(c, 1 / lr):
        return f"the step is the bare gradient: multiply it by the learning rate η = {lr}"
    return None


def _run_gd_step(student, cases, what):
    for grad_f, theta, lr in cases:
        inputs = {"grad_f": grad_f, "theta": theta, "lr": lr}
        before = _copy(theta)
        expected = gd_step_reference(grad_f, before, lr)
        got = _call(student, (grad_f, theta, lr), what, inputs)
        _unchanged(before, theta, what, inputs, "theta")
        _compare(got, expected, what, inputs, lambda: _step_hint(grad_f, before, lr, expected, got))
    passed(what, len(cases))


def check_gd_step(gd_step):
    """Visible: one step on a tilted quadratic bowl, three learning rates."""
    _, grad_f, _, _ = quadratic_bowl()
    cases = [(grad_f, np.array([-1.5, 2.0]), 0.1), (grad_f, np.array([0.0, 0.0]), 0.05),
             (grad_f, np.array([3.0, -1.0]), 0.18)]
    _run_gd_step(gd_step, cases, "gd_step on the quadratic bowl")


def check_gd_step_hidden(gd_step):
    """Hidden: a non-quadratic function, a 5-D bowl, tiny and large steps."""
    rng = np.random.default_rng(81)
    M = rng.normal(size=(5, 5))
    A = M @ M.T + np.eye(5)
    bowl5 = _Fn(lambda th: A @ th - 1.0, "∇ of ½θᵀAθ − Σθ in 5-D")
    cases = [(_rosenbrock_grad(), np.array([-1.2, 1.0]), 1e-3),
             (bowl5, rng.normal(size=5), 0.02),
             (bowl5, rng.normal(size=5), 0.3)]
    _run_gd_step(gd_step, cases, "gd_step on other functions")


# ---------------------------------------------------------------------------
# Task 1.2: the gradient-descent loop
# ---------------------------------------------------------------------------
def _path_hint(grad_f, theta0, lr, n_steps, expected, got):
    g = _as_floats(got)
    if g is None or g.ndim != 2:
        return (f"return the whole path as one array of shape (n_steps + 1, d) = {expected.shape}: "
                "row k is θ_k, starting with θ₀ (np.array(list_of_points) builds it)")
    if g.shape != expected.shape:
        if g.shape[0] == n_steps and is_close(g, expected[1:], 1e-9, 1e-12):
            return "the path must start with θ₀ itself: n_steps steps give n_steps + 1 points"
        if g.shape[0] == n_steps and is_close(g, expected[:-1], 1e-9, 1e-12):
            return "one step short: take n_steps steps, so the path has n_steps + 1 points"
        if g.shape[0] == n_steps + 2:
            return "one step too many: n_steps steps give n_steps + 1 points (θ₀ included)"
        return f"the path should have shape (n_steps + 1, d) = {expected.shape}"
    if n_steps >= 1 and all(_same(row, g[-1]) for row in g) and not _same(g[-1], expected[0]):
        return ("every row is the same array: the loop updated one array in place and stored it "
                "again and again; store a new array for each point")
    if n_steps >= 2 and all(_same(row, expected[1]) for row in g[1:]):
        return "every step started again from θ₀: feed each new point into the next step"
    if not _same(g[0], expected[0]):
        return "row 0 of the path must be θ₀"
    if not _same(g[1], expected[1]):
        return "the first step is already wrong: " + (_step_hint(grad_f, expected[0], lr, expected[1], g[1])
                                                      or "check gd_step")
    return None


def _run_descent(student, cases, what):
    for grad_f, theta0, lr, n_steps in cases:
        inputs = {"grad_f": grad_f, "theta0": theta0, "lr": lr, "n_steps": n_steps}
        before = _copy(theta0)
        expected = gradient_descent_reference(grad_f, before, lr, n_steps)
        got = _call(student, (grad_f, theta0, lr, n_steps), what, inputs)
        _unchanged(before, theta0, what, inputs, "theta0")
        _compare(got, expected, what, inputs,
                 lambda: _path_hint(grad_f, before, lr, n_steps, expected, got), tol="solver")
    passed(what, len(cases))


def check_gradient_descent(gradient_descent):
    """Visible: short paths on the quadratic bowl."""
    _, grad_f, _, _ = quadratic_bowl()
    cases = [(grad_f, np.array([-1.5, 2.0]), 0.1, 1), (grad_f, np.array([-1.5, 2.0]), 0.1, 5),
             (grad_f, np.array([2.5, -0.5]), 0.15, 12)]
    _run_descent(gradient_descent, cases, "gradient_descent on the quadratic bowl")


def check_gradient_descent_hidden(gradient_descent):
    """Hidden: zero steps, a long path, a diverging learning rate, another function."""
    _, grad_f, _, _ = quadratic_bowl(angle_deg=-20.0, eigenvalues=(0.5, 4.0), center=(0.0, 2.0))
    cases = [(grad_f, np.array([1.0, 1.0]), 0.1, 0), (grad_f, np.array([1.0, -1.0]), 0.2, 60),
             (grad_f, np.array([1.0, -1.0]), 0.55, 8),
             (_rosenbrock_grad(), np.array([-1.0, 1.5]), 5e-4, 25)]
    _run_descent(gradient_descent, cases, "gradient_descent: edge cases and other functions")


# ---------------------------------------------------------------------------
# Task 2.1: binary cross-entropy on logits
# ---------------------------------------------------------------------------
def _bce_cases_visible():
    rng = np.random.default_rng(82)
    return [(np.array([0.0]), np.array([1.0])),
            (np.array([1.0, -2.0, 0.5]), np.array([1.0, 0.0, 1.0])),
            (rng.normal(size=7) * 2, (rng.random(7) < 0.5).astype(float))]


def _bce_hint(z, y, expected, got):
    g = _as_floats(got)
    if g is None or g.shape != ():
        return "return one number (a scalar): the mean over the batch of log(1 + e^z) − y·z"
    n = len(y)
    if not _near(float(expected), 0.0, 1e-300):
        h = _factor_hint(float(g) / float(expected), n, batch=True,
                         sign=("your loss has the opposite sign: y·log σ(z) + (1−y)·log(1−σ(z)) is the "
                               "log-likelihood, which learning maximises; the loss to minimise is its "
                               "negative (the seed slides print it without the minus sign)"))
        if h:
            return h
    if _same(g, bce_reference(z, 1 - y)):
        return "the labels are swapped: the loss of a logit z with label y is log(1 + e^z) − y·z"
    if _same(g, float(np.mean(_logaddexp(0.0, z)))):
        return "the −y·z term is missing: the loss is log(1 + e^z) − y·z"
    if _same(g, float(expected) / np.log(10)):
        return "use the natural logarithm (np.log), not log10"
    return None


def _run_bce(student, cases, what):
    for z, y in cases:
        inputs = {"z": z, "y": y}
        expected = bce_reference(z, y)
        got = _call(student, (z, y), what, inputs)
        _compare(got, expected, what, inputs, lambda: _bce_hint(z, y, expected, got), tol="solver")
    passed(what, len(cases))


def check_bce(bce_with_logits):
    """Visible: the value on three small batches."""
    _run_bce(bce_with_logits, _bce_cases_visible(), "bce_with_logits values")


def check_bce_differentiable(bce_with_logits):
    """Both AD modes must get ∂L/∂z = (σ(z) − y)/N from the student's formula, z = 0 included."""
    what = "the derivative of bce_with_logits by forward and reverse mode"
    rng = np.random.default_rng(83)
    cases = [(np.array([0.0, 0.0]), np.array([1.0, 0.0])),
             (np.array([0.3, -1.2, 0.0, 2.0]), np.array([0.0, 1.0, 1.0, 1.0])),
             (rng.normal(size=6), (rng.random(6) < 0.5).astype(float))]
    for z, y in cases:
        inputs = {"z": z, "y": y}
        expected = (sigmoid(z) - y) / len(y)
        for mode in ("forward", "reverse"):
            try:
                if mode == "forward":
                    out = bce_with_logits(Dual(z, _eye(len(z))), y)
                    got = out.tangent if isinstance(out, Dual) else None
                else:
                    got = grad(lambda zz: bce_with_logits(zz, y))(z)
            except NotImplementedError as err:
                raise _failure(what, inputs=inputs, expected=expected,
                               got=f"NotImplementedError: {err}",
                               hint=("build the loss from functions autodiff_ref differentiates "
                                     "(np.maximum, np.exp, np.log, np.log1p, np.abs, np.mean, +, −, ×); "
                                     "np.logaddexp and scipy.special have no rules in our library")) from None
            except Exception as err:
                raise _failure(what, inputs=inputs, expected=expected, got=f"{type(err).__name__}: {err}",
                               hint=f"{mode} mode could not run through your loss") from None
            if got is None:
                raise _failure(what, inputs=inputs, expected=expected, got=f"{type(out).__name__}",
                               hint="on a Dual input your loss returned a plain number: it converted "
                                    "the dual to float (float(), .item(), math.*) and dropped the tangent")
            _compare(got, expected, f"{what} ({mode} mode)", inputs,
                     lambda: _bce_grad_hint(z, y, expected, got), tol="exact")
    passed(what, 2 * len(cases))


def _bce_grad_hint(z, y, expected, got):
    g = _as_floats(got)
    if g is None or g.shape != z.shape:
        return None
    kink = np.abs(z) < 1e-300
    off = g - expected
    if kink.any() and is_close(off[~kink], 0 * off[~kink], 1e-9, 1e-12) and \
            is_close(np.abs(off[kink]), np.full(kink.sum(), 0.5 / len(y)), 1e-9, 1e-12):
        return ("right everywhere except at z = 0, off by ½/N there: your formula uses |z| or max(z, 0), "
                "whose kinks at 0 each get a one-sided derivative from AD, and the two sides do not "
                "cancel; use log(1 + e^z) = m + log(e^(−m) + e^(z − m)) with m = max(z, 0), which "
                "does not depend on m at all")
    return None


def check_bce_stable(bce_with_logits):
    """Large logits: the value must stay finite and right (no overflow, no log 0)."""
    what = "bce_with_logits for large |z| (numerical stability)"
    cases = [(np.array([40.0, -40.0]), np.array([0.0, 1.0])),
             (np.array([-800.0, 800.0, 0.5]), np.array([0.0, 1.0, 1.0])),
             (np.array([-800.0, 800.0]), np.array([1.0, 0.0]))]
    with np.errstate(all="ignore"):
        for z, y in cases:
            inputs = {"z": z, "y": y}
            expected = bce_reference(z, y)
            got = _call(bce_with_logits, (z, y), what, inputs)
            _compare(got, expected, what, inputs,
                     ("for large |z|, e^z overflows to inf, or 1 − σ(z) rounds to 0 and its log is "
                      "−inf: write log(1 + e^z) as m + log(e^(−m) + e^(z − m)) with m = max(z, 0), "
                      "so no exponent is positive"), tol="solver")
    passed(what, len(cases))


def check_bce_hidden(bce_with_logits):
    """Hidden: larger batches, one-element batches, soft labels."""
    rng = np.random.default_rng(84)
    cases = [(rng.normal(size=50) * 3, (rng.random(50) < 0.5).astype(float)),
             (np.array([-3.0]), np.array([0.0])), (np.array([2.5]), np.array([1.0])),
             (rng.normal(size=9), rng.random(9))]
    _run_bce(bce_with_logits, cases, "bce_with_logits on other batches")


# ---------------------------------------------------------------------------
# Task 2.2: the gradient by forward mode with the identity tangent
# ---------------------------------------------------------------------------
class _Spy:
    """Wrap a loss and record what it is called with (to see how the gradient was obtained)."""

    def __init__(self, loss, description):
        self.loss, self.description, self.calls = loss, description, []

    def __call__(self, w, *rest):
        self.calls.append(w)
        return self.loss(w, *rest)

    def __repr__(self):
        return self.description


def _ridge_squared_loss(w, X, y):
    r = X @ w - y
    return np.mean(r * r) + 0.1 * np.sum(w * w)


def _ridge_squared_grad(w, X, y):
    return 2 * X.T @ (X @ w - y) / len(y) + 0.2 * w


def _forward_cases(seeds_and_dims):
    cases = []
    for seed, n, d in seeds_and_dims:
        X, y = logistic_data(n, d, seed)
        w = np.random.default_rng(seed + 1000).normal(size=d) * 0.5
        cases.append((w, X, y))
    return cases


def _run_forward_gradient(student, loss, loss_grad, description, cases, what):
    for w, X, y in cases:
        spy = _Spy(loss, description)
        inputs = {"loss": spy, "w": w, "X": X, "y": y}
        expected = loss_grad(w, X, y)
        got = _call(student, (spy, w, X, y), what, inputs)
        d = len(w)
        duals = [c for c in spy.calls if isinstance(c, Dual)]
        if not duals:
            how = ("with plain arrays" if spy.calls else "not at all")
            raise _failure(what, inputs=inputs, expected="the loss called once with a Dual",
                           got=f"the loss was called {len(spy.calls)} time(s), {how}",
                           hint="build w as a Dual whose tangent is the d×d identity, Dual(w, np.eye(d)), "
                                "and call the loss on it (reverse mode, grad, is not this task)")
        if len(spy.calls) > 1:
            raise _failure(what, inputs=inputs, expected="1 call of the loss",
                           got=f"{len(spy.calls)} calls",
                           hint=f"one pass is enough: a tangent with {d} directions (the identity) "
                                "carries every partial derivative at once")
        tangent = _as_floats(duals[0].tangent)
        _compare(got, expected, what, inputs,
                 lambda: _forward_hint(duals[0], tangent, d, got, expected, loss(w, X, y)))
    passed(what, len(cases))


def _forward_hint(dual, tangent, d, got, expected, value):
    g = _as_floats(got)
    if tangent is not None and tangent.shape == (d,):
        if _same(g, float(np.sum(expected))) or _same(g, expected @ tangent):
            return ("the tangent has one direction, so you got one directional derivative (∇L·v, a "
                    "single number); give the tangent d directions, the identity np.eye(d), "
                    "to get all d partial derivatives")
    if g is not None and g.size == 1 and _same(g, value):
        return "that is the loss value (the primal part); the gradient is the tangent part, .tangent"
    if tangent is not None and tangent.shape == (d, d) and not _same(tangent, _eye(d)):
        return "the tangent must be the identity: column j of np.eye(d) is the direction of w_j"
    if g is not None and g.shape != expected.shape:
        return f"return the gradient as an array of shape {expected.shape} (the tangent of the loss)"
    return None


def check_forward_gradient(forward_mode_gradient):
    """Visible: the logistic loss, d = 1, 3 and 5."""
    cases = _forward_cases([(85, 20, 1), (86, 30, 3), (87, 40, 5)])
    _run_forward_gradient(forward_mode_gradient, logistic_loss_reference, logistic_gradient_reference,
                          "the logistic loss (mean cross-entropy)", cases,
                          "forward_mode_gradient of the logistic loss")


def check_forward_gradient_hidden(forward_mode_gradient):
    """Hidden: a ridge-regularised squared loss (a different function), d = 2 and 12."""
    cases = _forward_cases([(88, 15, 2), (89, 60, 12)])
    _run_forward_gradient(forward_mode_gradient, _ridge_squared_loss, _ridge_squared_grad,
                          "mean squared error + 0.1‖w‖²", cases,
                          "forward_mode_gradient of another loss")


# ---------------------------------------------------------------------------
# Task 2.3: the gradient by hand
# ---------------------------------------------------------------------------
def _logistic_grad_hint(w, X, y, expected, got):
    g = _as_floats(got)
    n = len(y)
    if g is None or g.shape != expected.shape:
        return (f"the gradient has one entry per weight, shape {expected.shape}: Xᵀ(σ(Xw) − y)/N "
                "(X.T @ …, not X @ …)")
    h = _factor_hint(_scale_of(g, expected), n, batch=True,
                     sign=("the sign is flipped: Xᵀ(y − σ) is the gradient of the log-likelihood "
                           "(stepping along it is ascent); the loss's gradient is Xᵀ(σ(Xw) − y)/N"))
    if h:
        return h
    s = sigmoid(X @ w)
    variants = [
        (X.T @ (-(y / s - (1 - y) / (1 - s))) / n,
         "the sigmoid's derivative is missing: d/dz of −[y log σ + (1−y) log(1−σ)] is "
         "−[y/σ − (1−y)/(1−σ)]·σ′(z), and σ′ = σ(1−σ) turns it into σ − y"),
        (X.T @ ((s - y) * s * (1 - s)) / n,
         "σ′(z) = σ(1−σ) was applied on top of σ − y: for the cross-entropy it has already cancelled"),
        (X.T @ (X @ w - y) / n,
         "that is the least-squares gradient: the logistic model predicts σ(Xw), so use σ(Xw) − y"),
    ]
    for candidate, hint in variants:
        if _same(g, candidate):
            return hint
    return None


def _run_logistic_grad(student, cases, what):
    for w, X, y in cases:
        inputs = {"w": w, "X": X, "y": y}
        expected = logistic_gradient_reference(w, X, y)
        got = _call(student, (w, X, y), what, inputs)
        _compare(got, expected, what, inputs, lambda: _logistic_grad_hint(w, X, y, expected, got))
    passed(what, len(cases))


def check_logistic_gradient(logistic_gradient):
    """Visible: the closed-form gradient on three seeded problems."""
    _run_logistic_grad(logistic_gradient, _forward_cases([(90, 8, 2), (91, 25, 3), (92, 50, 4)]),
                       "logistic_gradient (by hand)")


def check_logistic_gradient_hidden(logistic_gradient):
    """Hidden: d = 1, a large batch, large weights."""
    cases = _forward_cases([(93, 12, 1), (94, 400, 6)])
    X, y = logistic_data(30, 3, 95)
    cases.append((np.array([4.0, -3.0, 2.5]), X, y))
    _run_logistic_grad(logistic_gradient, cases, "logistic_gradient on other problems")


# ---------------------------------------------------------------------------
# Task 3.1: ∂L/∂h_t by back-propagation through time
# ---------------------------------------------------------------------------
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
    g = _as_floats(got)
    T = len(hs) - 1
    if g is None:
        return ("return a (T+1, n) array of floats; some rows are missing (None?): the recursion must "
                "fill every row from t = T down to t = 0")
    if g.shape != expected.shape:
        if g.ndim == 2 and g.shape[0] < T + 1 and g.shape[1:] == expected.shape[1:] and \
                is_close(g, expected[T + 1 - g.shape[0]:], 1e-9, 1e-12):
            return (f"your rows are ∂L/∂h_t for t = {T + 1 - g.shape[0]}…{T} only: BPTT was truncated too "
                    f"early; the exact gradient runs the recursion all the way back to h₀")
        return f"return one row per state h_0…h_T: shape (T+1, n) = {expected.shape}"
    if _same(g[::-1], expected):
        return "the rows are in reverse order: row t must hold ∂L/∂h_t (reverse your list at the end)"
    matching = [t for t in range(T + 1) if _same(g[t], expected[t])]
    first = T + 1
    for t in range(T, -1, -1):
        if t in matching:
            first = t
        else:
            break
    for candidate, hint in _bptt_variants(W, hs, g_T):
        if _same(g, candidate):
            return hint
    if 0 < first <= T and not g[:first].any():
        return (f"rows t = {first}…{T} are right but rows t = 0…{first - 1} are zero: BPTT was truncated "
                f"too early (the recursion stopped at t = {first}); the exact gradient runs it back to h₀")
    return None


def _run_bptt_states(student, problems, what):
    for p in problems:
        hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0)
        g_T = last_state_grad(p, hs)
        inputs = {"W": p.W, "hs": hs, "g_T": g_T}
        expected = state_grads_oracle(p)
        got = _call(student, (_copy(p.W), _copy(hs), _copy(g_T)), what, inputs)
        _compare(got, expected, what, inputs, lambda: _bptt_hint(p.W, hs, g_T, expected, got))
    passed(what, len(problems))


def check_bptt_state_grads(bptt_state_grads):
    """Visible: small RNNs (n = 3, 4), a few time steps."""
    problems = [rnn_problem(n=3, T=1, seed=1), rnn_problem(n=4, T=6, seed=2),
                rnn_problem(n=3, T=8, rho=1.3, seed=3)]
    _run_bptt_states(bptt_state_grads, problems, "bptt_state_grads against reverse mode")


def check_bptt_state_grads_hidden(bptt_state_grads):
    """Hidden: longer sequences, larger states, several outputs."""
    problems = [rnn_problem(n=5, T=20, rho=0.7, seed=4, p=2), rnn_problem(n=2, T=3, rho=2.0, seed=5),
                rnn_problem(n=6, T=12, rho=1.1, seed=6, m=3, p=3)]
    _run_bptt_states(bptt_state_grads, problems, "bptt_state_grads on longer sequences")


# ---------------------------------------------------------------------------
# Task 3.2: ∂L/∂W as a sum over time
# ---------------------------------------------------------------------------
def _weight_terms(hs, G):
    """Term t of the sum (t = 1…T): (g_t ⊙ (1 − h_t²)) h_{t−1}ᵀ."""
    return [_outer(G[t] * (1 - hs[t] ** 2), hs[t - 1]) for t in range(1, len(hs))]


def _weight_hint(hs, G, expected, got):
    g = _as_floats(got)
    if g is None or g.shape != expected.shape:
        return f"∂L/∂W has W's shape, {expected.shape}"
    T = len(hs) - 1
    terms = _weight_terms(hs, G)
    for k in range(1, T):
        if _same(g, sum(terms[T - k:])):
            return (f"your sum has only the last {k} of the T = {T} terms: BPTT was truncated too early; "
                    "W is used at every step, so ∂L/∂W sums (g_t ⊙ (1 − h_t²)) h_{t−1}ᵀ over t = 1…T")
    if _same(g.T, expected):
        return "transposed: term t is the outer product (g_t ⊙ (1 − h_t²)) h_{t−1}ᵀ, shape (n, n) with rows for h_t"
    variants = [
        (sum(_outer(G[t], hs[t - 1]) for t in range(1, T + 1)),
         "the derivative of tanh is missing: each term needs g_t ⊙ (1 − h_t²)"),
        (sum(_outer(G[t] * (1 - hs[t] ** 2), hs[t]) for t in range(1, T + 1)),
         "wrong time index: W multiplies h_{t−1} in step t, so term t uses h_{t−1}, not h_t"),
        (sum(_outer(G[t - 1] * (1 - hs[t - 1] ** 2), hs[t - 1]) for t in range(1, T + 1)),
         "the gradient rows are shifted by one step: term t pairs g_t and h_t with h_{t−1}"),
        (expected + _outer(G[0] * (1 - hs[0] ** 2), hs[-1]),
         "there is an extra term for t = 0: it has no h_{−1} (hs[-1] in Python is h_T); sum over t = 1…T"),
    ]
    for candidate, hint in variants:
        if _same(g, candidate):
            return hint
    return None


def _run_weight_grad(student, problems, what):
    for p in problems:
        hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0)
        G = state_grads_oracle(p)
        inputs = {"hs": hs, "state_grads": G}
        expected = weight_grad_oracle(p)
        got = _call(student, (_copy(hs), _copy(G)), what, inputs)
        _compare(got, expected, what, inputs, lambda: _weight_hint(hs, G, expected, got))
    passed(what, len(problems))


def check_bptt_weight_grad(bptt_weight_grad):
    """Visible: ∂L/∂W against reverse mode through the unrolled RNN."""
    problems = [rnn_problem(n=3, T=1, seed=11), rnn_problem(n=4, T=6, seed=12),
                rnn_problem(n=3, T=9, rho=1.2, seed=13)]
    _run_weight_grad(bptt_weight_grad, problems, "bptt_weight_grad against reverse mode")


def check_bptt_weight_grad_hidden(bptt_weight_grad):
    problems = [rnn_problem(n=5, T=25, rho=0.8, seed=14, p=2), rnn_problem(n=6, T=4, rho=1.5, seed=15, m=3)]
    _run_weight_grad(bptt_weight_grad, problems, "bptt_weight_grad on longer sequences")


def check_bptt_together(bptt_state_grads, bptt_weight_grad):
    """Both pieces chained from g_T alone give the full ∂L/∂W."""
    what = "bptt_weight_grad(hs, bptt_state_grads(W, hs, g_T)) equals ∂L/∂W"
    for p in (rnn_problem(n=4, T=10, rho=1.0, seed=16), rnn_problem(n=3, T=5, rho=0.6, seed=17, p=2)):
        hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0)
        g_T = last_state_grad(p, hs)
        inputs = {"W": p.W, "hs": hs, "g_T": g_T}
        G = _call(bptt_state_grads, (_copy(p.W), _copy(hs), _copy(g_T)), what, inputs)
        got = _call(bptt_weight_grad, (_copy(hs), G), what, inputs)
        _compare(got, weight_grad_oracle(p), what, inputs,
                 "run the two checks above: each names the piece that is wrong")
    passed(what, 2)


# ---------------------------------------------------------------------------
# Task 4.1: the MLP's forward pass
# ---------------------------------------------------------------------------
def _mlp_hint(params, X, expected, got):
    g = _as_floats(got)
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
        h = X
        for i in range(1):
            h = np.tanh(h @ params[0] + params[1])
        if h.shape[1] == params[-2].shape[0]:
            variants.append((h @ params[-2] + params[-1], "use every hidden layer, not just the first"))
    for candidate, hint in variants:
        if _same(g, candidate):
            return hint
    return None


def _run_mlp(student, setups, what):
    for sizes, seed, n in setups:
        params = init_mlp(sizes, seed)
        rng = np.random.default_rng(seed + 500)
        params = [p + rng.normal(size=np.shape(p)) * 0.3 for p in params]  # nonzero biases
        X = rng.normal(size=(n, sizes[0]))
        inputs = {"sizes": sizes, "params": tuple(params), "X": X}
        expected = mlp_logits_reference(params, X)
        got = _call(student, ([_copy(p) for p in params], _copy(X)), what, inputs)
        _compare(got, expected, what, inputs, lambda: _mlp_hint(params, X, expected, got))
    passed(what, len(setups))


def check_mlp_logits(mlp_logits):
    """Visible: the lesson's architecture 2 → 16 → 16 → 1 and a smaller one."""
    _run_mlp(mlp_logits, [([2, 16, 16, 1], 21, 5), ([2, 3, 4, 1], 22, 3)], "mlp_logits")


def check_mlp_logits_hidden(mlp_logits):
    """Hidden: one and three hidden layers (the depth is not fixed), other input sizes."""
    _run_mlp(mlp_logits, [([3, 5, 1], 23, 4), ([2, 4, 6, 5, 1], 24, 7), ([1, 2, 1], 25, 1)],
             "mlp_logits for other depths")


# ---------------------------------------------------------------------------
# Task 4.2: one training step with reverse mode
# ---------------------------------------------------------------------------
def _train_setup(sizes, seed, n):
    X, y = two_moons(n, 0.2, seed)
    params = init_mlp(sizes, seed)
    rng = np.random.default_rng(seed + 700)
    return [p + rng.normal(size=np.shape(p)) * 0.2 for p in params], X, y


def _step_pair_hint(params, lr, n, expected_params, got_params, loss_fn, X, y):
    """Diagnose a wrong list of updated parameters against the expected one."""
    steps_exp = [e - p for e, p in zip(expected_params, params)]
    steps_got = [_as_floats(g) - p for g, p in zip(got_params, params)]
    if all(_same(s, 0 * s) for s in steps_got):
        return "the parameters did not move: each one becomes p − lr·∂L/∂p"
    moved = [i for i, s in enumerate(steps_got) if not _same(s, 0 * s)]
    if moved == [0] and len(params) > 1:
        return ("only params[0] moved: differentiate with respect to every parameter, "
                "argnums=tuple(range(len(params)))")
    flat_e = np.concatenate([np.ravel(s) for s in steps_exp])
    flat_g = np.concatenate([np.ravel(s) for s in steps_got])
    c = _scale_of(flat_g, flat_e)
    if c is not None:
        if _near(c, -1.0):
            return "you moved uphill (p + lr·grad is gradient ascent); descent subtracts: p − lr·grad"
        if _near(c, lr):
            return f"each step is lr²·grad: the learning rate lr = {lr} is applied twice"
        if _near(c, 1 / lr):
            return f"each step is the bare gradient: multiply it by the learning rate lr = {lr}"
        h = _factor_hint(c, n, batch=True, sign=None)
        if h:
            return h
    return None


def _run_train_step(student, setups, what):
    for sizes, seed, n, lr in setups:
        params, X, y = _train_setup(sizes, seed, n)
        loss_fn = _Fn(mlp_loss_reference, "mlp_loss (the lesson's reference)")
        inputs = {"loss_fn": loss_fn, "sizes": sizes, "X": X, "y": y, "lr": lr}
        exp_loss, exp_params = train_step_reference(loss_fn, params, X, y, lr)
        given = [_copy(p) for p in params]
        out = _call(student, (loss_fn, given, X, y, lr), what, inputs)
        for before, after in zip(params, given):
            _unchanged(before, after, what, inputs, "params")
        if not (isinstance(out, tuple) and len(out) == 2):
            raise _failure(what, inputs=inputs, expected="a pair (loss, new_params)", got=type(out).__name__,
                           hint="return loss_value, new_params")
        got_loss, got_params = out
        if not isinstance(got_params, (list, tuple)) or len(got_params) != len(params):
            raise _failure(what, inputs=inputs, expected=f"a list of {len(params)} arrays",
                           got=show(got_params) if not isinstance(got_params, (list, tuple))
                           else f"{len(got_params)} items",
                           hint="new_params has one updated array per parameter, in the same order")
        loss_hint = None
        if _same(got_loss, loss_fn(exp_params, X, y)):
            loss_hint = "you returned the loss after the step; return the loss at the parameters you were given"
        _compare(got_loss, exp_loss, what + " (the loss value)", inputs, loss_hint, tol="solver")
        for i, (g, e) in enumerate(zip(got_params, exp_params)):
            _compare(g, e, what + f" (new params[{i}])", {**inputs, "params[i]": params[i]},
                     lambda: _step_pair_hint(params, lr, n, exp_params, got_params, loss_fn, X, y),
                     tol="solver")
    passed(what, len(setups))


def check_train_step(train_step):
    """Visible: one step on two moons, two learning rates."""
    _run_train_step(train_step, [([2, 8, 1], 31, 20, 0.5), ([2, 4, 4, 1], 32, 12, 0.1)], "train_step")


def check_train_step_hidden(train_step):
    _run_train_step(train_step, [([2, 16, 16, 1], 33, 40, 0.3), ([2, 3, 1], 34, 1, 2.0)],
                    "train_step on other networks")


# ---------------------------------------------------------------------------
# Task 4.3: one epoch of mini-batch SGD
# ---------------------------------------------------------------------------
def _epoch_hint(loss_fn, params, X, y, lr, batches, got_params, got_losses):
    variants = []
    p_full, losses_full = params, []
    for _ in batches:
        loss, p_full = train_step_reference(loss_fn, p_full, X, y, lr)
        losses_full.append(loss)
    variants.append((p_full, "every step used the whole data set: take the step on the batch, X[idx], y[idx]"))
    variants.append((train_step_reference(loss_fn, params, X[batches[-1]], y[batches[-1]], lr)[1],
                     "each step started from the initial parameters: carry the updated params into the next step"))
    variants.append((train_epoch_reference(loss_fn, params, X, y, lr, batches[:-1])[0],
                     "the last batch was skipped: loop over every index array in batches"))
    for candidate, hint in variants:
        if len(got_params) == len(candidate) and all(_same(g, c) for g, c in zip(got_params, candidate)):
            return hint
    return None


def _run_train_epoch(student, setups, what):
    for sizes, seed, n, lr, batch_size in setups:
        params, X, y = _train_setup(sizes, seed, n)
        batches = batch_schedule(n, batch_size, 1, seed)[0]
        loss_fn = _Fn(mlp_loss_reference, "mlp_loss (the lesson's reference)")
        inputs = {"loss_fn": loss_fn, "sizes": sizes, "lr": lr, "batches": [b.tolist() for b in batches]}
        exp_params, exp_losses = train_epoch_reference(loss_fn, params, X, y, lr, batches)
        out = _call(student, (loss_fn, [_copy(p) for p in params], X, y, lr, batches), what, inputs)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise _failure(what, inputs=inputs, expected="a pair (new_params, losses)",
                           got=type(out).__name__, hint="return params, losses")
        got_params, got_losses = out
        if not isinstance(got_params, (list, tuple)) or len(got_params) != len(params):
            raise _failure(what, inputs=inputs, expected=f"a list of {len(params)} arrays",
                           got=show(got_params), hint="the first item is the list of updated parameters")
        hint = lambda: _epoch_hint(loss_fn, params, X, y, lr, batches, got_params, got_losses)  # noqa: E731
        for i, (g, e) in enumerate(zip(got_params, exp_params)):
            _compare(g, e, what + f" (params[{i}] after the epoch)", inputs, hint, tol="solver")
        losses_hint = None
        if len(_as_floats(got_losses) if _as_floats(got_losses) is not None else []) != len(batches):
            losses_hint = f"one loss per batch: {len(batches)} values"
        _compare(_as_floats(got_losses) if _as_floats(got_losses) is not None else got_losses,
                 np.array(exp_losses), what + " (the losses, one per batch)", inputs,
                 losses_hint or "record the loss train_step returns for each batch, in order", tol="solver")
    passed(what, len(setups))


def check_train_epoch(train_epoch):
    """Visible: an epoch of 4 batches."""
    _run_train_epoch(train_epoch, [([2, 8, 1], 41, 24, 0.5, 6)], "train_epoch")


def check_train_epoch_hidden(train_epoch):
    _run_train_epoch(train_epoch, [([2, 6, 6, 1], 42, 30, 0.2, 7), ([2, 4, 1], 43, 10, 1.0, 10)],
                     "train_epoch on other schedules")


# ============================================================================
# 4. Demos: plots and widgets
# ============================================================================
_COLORS = {"ours": "#1f77b4", "torch": "#ee4c2c", "forward": "#2ca02c", "reverse": "#1f77b4"}


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _logistic_2d_problem():
    """Logistic regression with two parameters (w, b) on 1-D data centred away from 0.

    Returns (f, ∇f, grid) where grid(W, B) evaluates f on arrays of w and b at once.
    """
    rng = np.random.default_rng(8)
    x = rng.normal(1.0, 1.0, size=80)
    y = (rng.random(80) < sigmoid(2.0 * (x - 1.0))).astype(float)

    def f(theta):
        return bce_differentiable(theta[0] * x + theta[1], y)

    def grid(W, B):
        z = W[..., None] * x + B[..., None]
        return np.mean(_logaddexp(0.0, z) - y * z, axis=-1)
    return f, _Fn(grad(f), "∇ of the 2-parameter logistic loss"), grid


def _newton_minimum(f, grad_f, theta, iterations=30):
    from autodiff_ref import hessian
    H = hessian(f)
    for _ in range(iterations):
        theta = theta - np.linalg.solve(H(theta), grad_f(theta))
    return theta, np.linalg.eigvalsh(H(theta))


def _descent_problems():
    f_q, g_q, A, c = quadratic_bowl()

    def bowl_grid(W, B):
        dx, dy = W - c[0], B - c[1]
        return 0.5 * (A[0, 0] * dx * dx + 2 * A[0, 1] * dx * dy + A[1, 1] * dy * dy)
    f_l, g_l, logistic_grid = _logistic_2d_problem()
    theta_min, lam = _newton_minimum(f_l, g_l, np.zeros(2))
    return {
        "quadratic bowl": dict(f=f_q, grad=g_q, grid=bowl_grid, start=np.array([-1.5, 2.2]), minimum=c,
                               lam=np.linalg.eigvalsh(A), box=(-2.5, 3.0, -1.0, 3.0), labels=("θ₁", "θ₂")),
        "logistic loss (w, b)": dict(f=f_l, grad=g_l, grid=logistic_grid, start=np.array([-1.0, 2.0]),
                                     minimum=theta_min, lam=lam, box=(-1.5, 4.5, -5.5, 3.0),
                                     labels=("w", "b")),
    }


_DESCENT = {}


def descent_problems():
    """The two 2-D losses of the step-size widget (computed once)."""
    if not _DESCENT:
        _DESCENT.update(_descent_problems())
    return _DESCENT


def show_descent(problem="quadratic bowl", lr=0.1, steps=40, descent=None):
    """Contours with the gradient-descent path (left) and f(θ_k) − f* per step (right)."""
    plt = _plt()
    P = descent_problems()[problem]
    descent = descent or gradient_descent_reference
    with np.errstate(all="ignore"):
        path = _asarray(descent(P["grad"], P["start"], lr, steps), dtype=float)
        f_min = P["f"](P["minimum"])
        gaps = np.array([P["f"](th) if np.all(np.isfinite(th)) else np.inf for th in path]) - f_min
    x0, x1, y0, y1 = P["box"]
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    F = P["grid"](gx, gy) - f_min
    lam_min, lam_max = float(P["lam"][0]), float(P["lam"][-1])
    limit, best = 2 / lam_max, 2 / (lam_min + lam_max)

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [1.15, 1]})
    levels = np.geomspace(max(F.min(), 1e-4), F.max(), 16)
    ax.contourf(gx, gy, F, levels=levels, cmap="Blues_r", norm=_lognorm(levels), alpha=0.9, extend="both")
    ax.contour(gx, gy, F, levels=levels, colors="white", linewidths=0.5, alpha=0.8)
    inside = np.all(np.isfinite(path), axis=1)
    ax.plot(path[inside, 0], path[inside, 1], "-o", color="#ff7f0e", ms=3.5, lw=1.4, label="θ_k")
    ax.plot(*P["start"], "o", color="black", ms=7, label="θ₀")
    ax.plot(*P["minimum"], "*", color="gold", mec="black", ms=15, label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(P["labels"][0])
    ax.set_ylabel(P["labels"][1])
    ax.set_title(f"{problem}: η = {lr:.3g}, {steps} steps")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)

    ok = np.isfinite(gaps) & (gaps > 0)
    bx.semilogy(np.arange(len(gaps))[ok], gaps[ok], "-", color="#ff7f0e", lw=2)
    if not np.all(np.isfinite(gaps)) or gaps[-1] > gaps[0]:
        verdict = "diverges"
    elif lr < limit:
        verdict = "converges"
    else:
        verdict = "bounded, but does not converge"
    bx.set_title(f"η {'<' if lr < limit else '>'} 2/λ_max = {limit:.3g}: {verdict}\n"
                 f"(λ: Hessian at the minimum; best η = 2/(λ_min+λ_max) = {best:.3g})", fontsize=10)
    bx.set_xlabel("step k")
    bx.set_ylabel("f(θ_k) − f*")
    bx.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plt.show()


def _lognorm(levels):
    from matplotlib.colors import LogNorm
    return LogNorm(vmin=levels[0], vmax=levels[-1])


def descent_widget(descent=None):
    """Sliders for the step size and the number of steps; a menu for the loss."""
    import ipywidgets as widgets
    return widgets.interact(
        lambda problem, lr, steps: show_descent(problem, lr, steps, descent),
        problem=widgets.Dropdown(options=list(descent_problems()), value="quadratic bowl", description="loss"),
        lr=widgets.FloatLogSlider(base=10, min=-2, max=1, step=0.02, value=0.1, readout_format=".3g",
                                  description="step η", continuous_update=False),
        steps=widgets.IntSlider(min=1, max=200, value=40, description="steps", continuous_update=False))


@contextlib.contextmanager
def one_blas_thread():
    """Run a block with numpy's OpenBLAS on one thread; elsewhere, change nothing.

    On a busy machine a multi-threaded matrix product can wait milliseconds
    for its threads to be scheduled, so a timing curve shows the scheduler
    instead of the operation count. This does what ``threadpoolctl`` does,
    for the OpenBLAS that numpy's wheels bundle (found among the loaded
    libraries on Linux); if it is not found, the block runs unchanged.
    """
    setter = getter = None
    try:
        import ctypes
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
        for path in paths:
            lib = ctypes.CDLL(path)
            for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("scipy_openblas", ""),
                                   ("openblas", "")):
                if hasattr(lib, f"{prefix}_set_num_threads{suffix}"):
                    setter = getattr(lib, f"{prefix}_set_num_threads{suffix}")
                    getter = getattr(lib, f"{prefix}_get_num_threads{suffix}")
                    break
            if setter:
                break
    except (OSError, AttributeError):
        setter = None
    if setter is None:
        yield
        return
    before = getter()
    setter(1)
    try:
        yield
    finally:
        setter(before)


def time_per_call(fn, repeats=5):
    """The CPU time of one call of fn() (seconds): the shortest of `repeats`, after a warm-up call.

    CPU time of this process, on one BLAS thread (:func:`one_blas_thread`):
    the time the computation itself takes, not the time other programs on a
    shared machine hold the processor. The minimum, as ``timeit`` recommends.
    """
    with one_blas_thread():
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
    return float(min(times))


def plot_forward_vs_reverse(dims, t_forward, t_reverse, n):
    """Left: time per gradient against d (log-log, with ∝ d and ∝ d² guides). Right: their ratio."""
    plt = _plt()
    dims, t_f, t_r = _asarray(dims, float), _asarray(t_forward) * 1e3, _asarray(t_reverse) * 1e3
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax.loglog(dims, t_f, "o-", color=_COLORS["forward"], lw=2, label="forward mode: Dual(w, I), d directions")
    ax.loglog(dims, t_r, "s-", color=_COLORS["reverse"], lw=2, label="reverse mode: grad, one sweep")
    ax.loglog(dims, t_f[-1] * (dims / dims[-1]) ** 2, ":", color="gray", lw=1.2, label="∝ d²")
    ax.loglog(dims, t_r[-1] * dims / dims[-1], "--", color="gray", lw=1, label="∝ d")
    ax.set_ylim(min(t_r.min(), t_f.min()) / 2, t_f.max() * 2)
    ax.set_xlabel("number of parameters d")
    ax.set_ylabel("CPU time per gradient (ms)")
    ax.set_title(f"Logistic regression, N = {n}: one gradient")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ratio = t_f / t_r
    bx.loglog(dims, ratio, "o-", color="black", lw=2)
    bx.axhline(1.0, color="gray", lw=0.8)
    for d, r in zip(dims[::2], ratio[::2]):
        bx.annotate(f"{r:.3g}×", (d, r), textcoords="offset points", xytext=(-30, 6), fontsize=8,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    bx.set_ylim(0.5, ratio.max() * 2.5)
    bx.set_xlim(dims[0] / 1.4, dims[-1] * 1.4)
    bx.set_xlabel("number of parameters d")
    bx.set_ylabel("forward time ÷ reverse time")
    bx.set_title("how many times slower forward mode is")
    bx.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    plt.show()


def rnn_gradient_norms(rho, activation="tanh", T=50, n=16, seed=0, input_scale=0.5):
    r"""‖∂L/∂h_t‖ / ‖∂L/∂h_T‖ for t = 0…T, for an RNN whose W has spectral radius `rho`."""
    p = rnn_problem(n=n, T=T, rho=rho, seed=seed, input_scale=input_scale)
    act = np.tanh if activation == "tanh" else (lambda a: a)
    hs = rnn_states_reference(p.W, p.U, p.b, p.xs, p.h0, act)
    g = last_state_grad(p, hs)
    norms = [np.linalg.norm(g)]
    for t in range(T, 0, -1):
        g = p.W.T @ (g * (1 - hs[t] ** 2) if activation == "tanh" else g)
        norms.append(np.linalg.norm(g))
    norms = np.array(norms[::-1])
    return norms / norms[-1], p.W


_RHO_COLORS = {0.5: "#08519c", 0.8: "#4292c6", 1.0: "#525252", 1.25: "#ef6548", 2.0: "#b30000"}


def plot_rnn_norms(rhos=(0.5, 0.8, 1.0, 1.25, 2.0), T=50):
    """Two panels (linear RNN, tanh RNN): the gradient norm going back in time, one curve per ρ."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, activation in zip(axes, ("linear", "tanh")):
        for rho in rhos:
            norms, _ = rnn_gradient_norms(rho, activation, T)
            ax.semilogy(np.arange(T + 1), norms, lw=2, color=_RHO_COLORS.get(rho), label=f"ρ(W) = {rho:g}")
        ax.axhline(1.0, color="black", lw=0.6)
        ax.set_title(f"{activation} RNN, n = 16, T = {T}")
        ax.set_xlabel("time step t")
        ax.set_ylim(1e-16, 1e16)
        ax.grid(True, which="both", alpha=0.25)
    axes[0].set_ylabel("‖∂L/∂h_t‖ / ‖∂L/∂h_T‖")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Back-propagating from t = T (right) to t = 0 (left)", fontsize=11)
    fig.tight_layout()
    plt.show()


def show_rnn(rho=0.9, activation="tanh", T=50):
    """Widget body: the norm curve for one ρ with the guide ρ^(T−t), and W's eigenvalues."""
    plt = _plt()
    norms, W = rnn_gradient_norms(rho, activation, T)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.7, 1]})
    t = np.arange(T + 1)
    with np.errstate(all="ignore"):
        ax.semilogy(t, norms, lw=2.2, color="#d62728" if rho > 1 else "#1f77b4", label=f"{activation} RNN")
        ax.semilogy(t, rho ** (T - t.astype(float)), "--", color="gray", lw=1.2, label="ρ^(T−t)")
    ax.set_ylim(1e-16, 1e16)
    ax.set_xlabel("time step t")
    ax.set_ylabel("‖∂L/∂h_t‖ / ‖∂L/∂h_T‖")
    ax.set_title(f"ρ(W) = {rho:.2f}: the gradient reaching h₀ is {norms[0]:.1e} × the one at h_T")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=9)
    eig = np.linalg.eigvals(W)
    circle = np.linspace(0, 2 * np.pi, 200)
    bx.plot(np.cos(circle), np.sin(circle), color="black", lw=0.8, label="unit circle")
    bx.plot(rho * np.cos(circle), rho * np.sin(circle), ":", color="gray", lw=1, label=f"radius ρ = {rho:.2f}")
    bx.plot(eig.real, eig.imag, "o", color="#d62728" if rho > 1 else "#1f77b4", ms=6)
    lim = max(1.2, rho * 1.15)
    bx.set_xlim(-lim, lim)
    bx.set_ylim(-lim, lim)
    bx.set_aspect("equal")
    bx.set_title("eigenvalues of W")
    bx.legend(fontsize=8, loc="lower left")
    bx.grid(True, alpha=0.25)
    fig.tight_layout()
    plt.show()


def rnn_widget():
    import ipywidgets as widgets
    return widgets.interact(
        show_rnn,
        rho=widgets.FloatSlider(min=0.3, max=3.0, step=0.05, value=0.9, description="ρ(W)",
                                continuous_update=False),
        activation=widgets.Dropdown(options=["tanh", "linear"], value="tanh", description="activation"),
        T=widgets.fixed(50))


def plot_moons(X, y):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for label, color in ((0, "#1f77b4"), (1, "#ff7f0e")):
        ax.scatter(*X[y == label].T, s=14, color=color, edgecolor="white", linewidth=0.4, label=f"class {label}")
    ax.set_aspect("equal")
    ax.set_title(f"two moons: {len(y)} points")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.show()


#: How to add PyTorch's CPU build on Linux (PyPI's Linux wheel brings gigabytes of CUDA libraries).
TORCH_CPU_INSTALL = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


def train_with_torch(params0, X, y, lr, schedule, dtype="float64"):
    """The same MLP and SGD in PyTorch, from the same initial parameters and batches.

    The update is written out (``p -= lr * p.grad``), which is what
    ``torch.optim.SGD`` does without momentum; constructing that optimizer the
    first time imports PyTorch's compiler stack, seconds that are not training.
    PyTorch runs on one thread: these tensors are tiny, and extra threads only
    add synchronisation. Returns ``{"loss": full-data loss after each epoch,
    "seconds": CPU time of each epoch, "params": the final parameters}``.
    Needs PyTorch, which the course does not install by itself.
    """
    try:
        import torch
    except ImportError as err:
        raise ImportError(f"train_with_torch needs PyTorch, an optional part of the course: "
                          f"{TORCH_CPU_INSTALL} (Linux; elsewhere pip install torch)") from err
    tdtype = getattr(torch, dtype)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    params = [torch.tensor(p, dtype=tdtype, requires_grad=True) for p in params0]
    Xt, yt = torch.tensor(X, dtype=tdtype), torch.tensor(y, dtype=tdtype)

    def logits(Xb):
        h = Xb
        for i in range(len(params) // 2 - 1):
            h = torch.tanh(h @ params[2 * i] + params[2 * i + 1])
        return h @ params[-2] + params[-1]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    losses, seconds = [], []
    try:
        for batches in schedule:
            t0 = time.process_time()
            for idx in batches:
                index = torch.as_tensor(idx)
                loss = bce(logits(Xt[index]), yt[index])
                loss.backward()
                with torch.no_grad():
                    for p in params:
                        p -= lr * p.grad
                        p.grad = None
            seconds.append(time.process_time() - t0)
            with torch.no_grad():
                losses.append(float(bce(logits(Xt), yt)))
    finally:
        torch.set_num_threads(threads)
    return {"loss": np.array(losses), "seconds": np.array(seconds),
            "params": [p.detach().numpy().copy() for p in params]}


def plot_training(ours, theirs, params, X, y):
    """Loss curves (ours vs PyTorch), time per epoch, and the learned decision boundary."""
    plt = _plt()
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1.3, 0.8, 1.1]})
    epochs = np.arange(1, len(ours["loss"]) + 1)
    ax.semilogy(epochs, ours["loss"], lw=3.5, color=_COLORS["ours"], alpha=0.55, label="autodiff_ref (ours)")
    labels = ["ours"]
    times = [np.asarray(ours["seconds"]) * 1e3]
    if theirs is not None:
        ax.semilogy(epochs, theirs["loss"], "--", lw=1.6, color=_COLORS["torch"], label="PyTorch")
        labels.append("PyTorch")
        times.append(np.asarray(theirs["seconds"]) * 1e3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean cross-entropy on all points")
    ax.set_title("training loss: same data, same start, same batches")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)

    colors = [_COLORS["ours"], _COLORS["torch"]][:len(times)]
    parts = bx.boxplot(times, tick_labels=labels, patch_artist=True, widths=0.55, showfliers=False,
                       medianprops={"color": "black", "linewidth": 1.5})
    for patch, color in zip(parts["boxes"], colors):
        patch.set_facecolor(color)
        patch.set_alpha(0.6)
    for i, tms in enumerate(times):
        bx.text(i + 1.32, np.median(tms), f"{np.median(tms):.2f} ms", va="center", ha="left", fontsize=8)
    bx.set_xlim(0.5, len(times) + 0.75)
    bx.set_ylabel("CPU time per epoch (ms)")
    bx.set_title(f"time per epoch ({len(times[0])} epochs)")
    bx.grid(True, axis="y", alpha=0.3)

    (xmin, ymin), (xmax, ymax) = X.min(axis=0) - 0.3, X.max(axis=0) + 0.3
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, 200), np.linspace(ymin, ymax, 150))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    prob = sigmoid(mlp_logits_reference(params, grid)).reshape(gx.shape)
    cx.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45)
    cx.contour(gx, gy, prob, levels=[0.5], colors="black", linewidths=1.5)
    for label, color in ((0, "#1f77b4"), (1, "#ff7f0e")):
        cx.scatter(*X[y == label].T, s=10, color=color, edgecolor="white", linewidth=0.3)
    accuracy = np.mean((mlp_logits_reference(params, X) > 0) == (y == 1))
    cx.set_title(f"learned boundary σ(z) = ½ (accuracy {accuracy:.0%})")
    cx.set_aspect("equal")
    fig.tight_layout()
    plt.show()
