r"""Lesson 8's material: the models (logistic regression, an Elman RNN, a tanh MLP), their
losses written from closed forms, and the seeded data sets of the lesson.

Everything here works on plain arrays, on :class:`autodiff_ref.Dual` and on
tapes alike (the checks differentiate these functions with ``autodiff_ref`` to
get their oracles). ``np`` is a private copy of numpy's namespace taken at
import, before any student cell runs: a notebook that later rebinds
``numpy.mean`` or ``numpy.allclose`` cannot change what the checks compute. The
copied functions are the real ufuncs, so they still dispatch to duals and tapes.
"""
import types
from typing import NamedTuple

import numpy

from autograder.checks import Named

np = types.SimpleNamespace(**{**vars(numpy), "linalg": numpy.linalg, "random": numpy.random})


# ============================================================================
# Models and losses
# ============================================================================
def sigmoid(z):
    r"""σ(z) = 1 / (1 + e^{-z}), evaluated without overflow for any z."""
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def bce_reference(z, y):
    r"""Mean binary cross-entropy on logits, :math:`\frac1N\sum_i \log(1+e^{z_i}) - y_i z_i`.

    ``np.logaddexp(0, z)`` is log(1 + e^z) without overflow (plain numpy: an
    oracle for values, not something the AD library differentiates).
    """
    z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


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
    r"""One step of gradient descent, θ − η∇f(θ) (a new array; θ is left as it was)."""
    return theta - lr * grad_f(theta)


def gradient_descent_reference(grad_f, theta0, lr, n_steps):
    r"""The path θ₀, θ₁, …, θ_n of n = n_steps steps θ_{k+1} = θ_k − η∇f(θ_k), shape (n + 1, d)."""
    path = [np.asarray(theta0, dtype=float)]
    for _ in range(n_steps):
        path.append(gd_step_reference(grad_f, path[-1], lr))
    return np.array(path)


class AdamState(NamedTuple):
    """Adam's state between steps: the two moment estimates and the number of steps taken."""
    m: np.ndarray   # first moment, the running mean of the gradients
    v: np.ndarray   # second moment, the running mean of their squares
    t: int          # steps taken so far (0 before the first)


def momentum_step_reference(grad_f, theta, velocity, lr, beta):
    r"""One heavy-ball step in PyTorch's convention: v ← βv + ∇f(θ), θ ← θ − ηv.

    Returns the new (θ, v) as new arrays. (The other common form, v ← βv − η∇f, θ ← θ + v,
    keeps −η·v instead of v: the same path while η stays constant.)
    """
    velocity = beta * velocity + grad_f(theta)
    return theta - lr * velocity, velocity


def adam_step_reference(grad_f, theta, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    r"""One Adam step (Kingma & Ba, Algorithm 1): t ← t + 1,
    m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ),
    θ ← θ − η m̂/(√v̂ + ε). Returns (θ, AdamState(m, v, t)), all new.
    """
    m, v, t = state
    g = grad_f(theta)
    t = t + 1
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * (g * g)
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), AdamState(m, v, t)


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
    r"""Mean cross-entropy of the MLP's logits on (X, y), :math:`\frac1N\sum_i \log(1+e^{z_i}) - y_i z_i`.

    Written with the operations a lesson-3b array tape records once ``np.logaddexp`` is added
    to it (``@``, ``+``, ``-``, ``*``, ``np.tanh``, ``np.logaddexp``, ``.sum()``, ``/`` by a
    number), so the student's engine and ``autodiff_ref`` differentiate the same code;
    ``np.logaddexp(0, z)`` is log(1 + e^z) without overflow.
    """
    z = mlp_logits_reference(params, X)
    return (np.logaddexp(0.0, z) - y * z).sum() / len(y)


# ============================================================================
# Data
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
    grad_f = Named(f"∇f for f(θ) = ½(θ−c)ᵀA(θ−c), A={_short(A)}, c={_short(c)}", lambda theta: A @ (theta - c))
    return f, grad_f, A, c


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
        params += [rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in), np.zeros(fan_out)]
    params += [rng.normal(size=sizes[-2]) / np.sqrt(sizes[-2]), np.zeros(1)]
    return params


def batch_schedule(n, batch_size, epochs, seed=0):
    """One shuffled list of index arrays per epoch (shared by our training and PyTorch's)."""
    rng = np.random.default_rng(seed)
    return [np.array_split(rng.permutation(n), max(n // batch_size, 1)) for _ in range(epochs)]



def _short(a):
    """An array on one line with 3 digits: how a matrix appears in a function's name."""
    return np.array2string(np.asarray(a), precision=3, separator=", ", suppress_small=True).replace("\n", "")
