r"""B2 — the gradient of an MLP loss, relative to the cost of its forward pass.

Network 784-512-512-10, tanh hidden layers, softmax cross-entropy averaged
over a batch of 256, float64, seeded random weights (N(0, 1/fan_in)) and
inputs. For each way of computing the gradient with respect to all six
weight and bias arrays we report

    ratio = T(loss and gradient) / T(numpy forward)

where T(numpy forward) is the plain numpy loss, timed in the same run
(so the ratio hides how fast this machine's BLAS is):

* ``autodiff_ref``  ``grad`` of the very numpy code that is the forward pass;
* ``hand-written backprop`` the backward pass derived by hand, in numpy;
* ``torch``         the same network in PyTorch float64, ``torch.autograd.grad``;
* ``HIPS autograd`` ``autograd.grad`` of the same code on ``autograd.numpy``.

All gradients are compared with the hand-written ones (relative 1e-10 of
each array's largest entry); the script exits 1 if any disagrees.
Target: ours within 5% of the hand-written backprop's ratio.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402  (first: it fixes the BLAS thread count before numpy loads)

import numpy  # noqa: E402

TARGET_RATIO_EXCESS = 0.05
NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def loss(W1, b1, W2, b2, W3, b3, X, Y, np=numpy):
    r"""Mean softmax cross-entropy of a 2-hidden-layer tanh MLP.

    z = tanh(tanh(X W₁ + b₁) W₂ + b₂) W₃ + b₃,
    L = −(1/N) Σₙ Σⱼ Yₙⱼ log softmax(zₙ)ⱼ with one-hot labels Y.
    `np` is the numpy module to use (``autograd.numpy`` for HIPS autograd).
    """
    h1 = np.tanh(X @ W1 + b1)
    h2 = np.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    shifted = z - np.max(z, axis=1, keepdims=True)
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * log_p) / X.shape[0]


def hand_written_grad(W1, b1, W2, b2, W3, b3, X, Y):
    r"""The backward pass derived by hand: ∂L/∂z = (softmax(z) − Y)/N, then the chain rule."""
    h1 = numpy.tanh(X @ W1 + b1)
    h2 = numpy.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    e = numpy.exp(z - z.max(axis=1, keepdims=True))
    dz = (e / e.sum(axis=1, keepdims=True) - Y) / X.shape[0]
    dW3, db3 = h2.T @ dz, dz.sum(axis=0)
    da2 = (dz @ W3.T) * (1 - h2 * h2)
    dW2, db2 = h1.T @ da2, da2.sum(axis=0)
    da1 = (da2 @ W2.T) * (1 - h1 * h1)
    dW1, db1 = X.T @ da1, da1.sum(axis=0)
    return dW1, db1, dW2, db2, dW3, db3


def problem(sizes, batch, seed=0):
    """Seeded weights (W ~ N(0, 1/fan_in), b ~ N(0, 0.1²)), inputs and one-hot labels."""
    rng = numpy.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.normal(0.0, fan_in ** -0.5, (fan_in, fan_out)))
        params.append(rng.normal(0.0, 0.1, fan_out))
    X = rng.normal(size=(batch, sizes[0]))
    Y = numpy.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    return params, X, Y


def candidates(params, X, Y):
    """{name: zero-argument callable}; every gradient candidate returns the six gradients."""
    import torch
    import autograd
    import autograd.numpy as anp

    import autodiff_ref

    argnums = tuple(range(len(params)))
    ours_grad = autodiff_ref.grad(loss, argnums=argnums)
    hips_grad = autograd.grad(lambda *a: loss(*a, np=anp), argnum=argnums)

    torch_params = [torch.from_numpy(p.copy()).requires_grad_() for p in params]
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)

    def torch_loss():
        W1, b1, W2, b2, W3, b3 = torch_params
        h1 = torch.tanh(tX @ W1 + b1)
        h2 = torch.tanh(h1 @ W2 + b2)
        z = h2 @ W3 + b3
        return -(tY * torch.log_softmax(z, dim=1)).sum() / tX.shape[0]

    def torch_grad():
        return tuple(g.numpy() for g in torch.autograd.grad(torch_loss(), torch_params))

    def torch_forward():
        with torch.no_grad():
            return float(torch_loss())

    return {
        "numpy forward": lambda: loss(*params, X, Y),
        "torch forward (no_grad)": torch_forward,
        "autodiff_ref": lambda: ours_grad(*params, X, Y),
        "hand-written backprop": lambda: hand_written_grad(*params, X, Y),
        "torch": torch_grad,
        "HIPS autograd": lambda: hips_grad(*params, X, Y),
    }


def main(argv=None):
    args = _timing.parse_args(__doc__.splitlines()[0], argv, default_repeats=21)
    sizes, batch = ((784, 16, 16, 10), 8) if args.quick else ((784, 512, 512, 10), 256)
    params, X, Y = problem(sizes, batch)
    runs = candidates(params, X, Y)

    agreement = _timing.Agreement()
    expected = hand_written_grad(*params, X, Y)
    agreement.check("torch forward: loss", runs["torch forward (no_grad)"](), runs["numpy forward"](),
                    rtol=1e-12)
    for name in ("autodiff_ref", "torch", "HIPS autograd"):
        got = runs[name]()
        for label, g, e in zip(NAMES, got, expected):
            agreement.check(f"{name}: ∂L/∂{label}", g, e, rtol=1e-10,
                            atol=1e-10 * float(numpy.max(numpy.abs(e))))

    timings = _timing.measure(runs, repeats=args.repeats, warmup=2)
    shape = "-".join(map(str, sizes))
    _timing.print_table(f"B2 MLP {shape}, tanh, softmax cross-entropy, batch {batch}, float64 "
                        f"({_timing.machine_summary()}); last column = T(grad) / T(numpy forward)",
                        timings, reference="numpy forward", unit="ms")
    agreement.finish()
    ratio = {name: t.median / timings["numpy forward"].median for name, t in timings.items()}
    excess = ratio["autodiff_ref"] / ratio["hand-written backprop"] - 1
    _timing.target(f"B2 ours within {TARGET_RATIO_EXCESS:.0%} of hand-written backprop's ratio",
                   excess <= TARGET_RATIO_EXCESS,
                   f"ours {ratio['autodiff_ref']:.2f} vs hand-written {ratio['hand-written backprop']:.2f} "
                   f"({excess:+.1%})" + (" (--quick: sizes too small to judge)" if args.quick else ""))


if __name__ == "__main__":
    main()
