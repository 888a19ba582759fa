r"""B3 — a dense Jacobian: f(x) = tanh(A x) + x·x·x with n = 100.

The closed form is J = diag(1 − tanh²(A x))·A + diag(3x²). (The cube is
written x·x·x: numpy's ``x**3`` goes through ``pow`` and costs about 100× a
multiplication, which would swamp what we measure.)

Reported: µs per Jacobian for

* ``autodiff_ref jacfwd``  one forward pass, the tangent carrying the identity
  as its trailing axis of n directions;
* ``autodiff_ref jacrev``  one taped forward pass, then n reverse sweeps;
* ``torch.func.jacfwd``    PyTorch's vmap over forward-mode JVPs (float64);
* ``central differences``  ``autodiff_ref.numerical.central_difference``, 2n evaluations;
* ``HIPS autograd``        ``autograd.jacobian`` (reverse mode, one sweep per row).

Every Jacobian is compared with the closed form (max |error| ≤ 1e-13 for the
AD peers, 1e-6 for central differences); the script exits 1 otherwise.
Target: our jacfwd ≤ 0.6 × torch.func.jacfwd, with error ≤ 1e-14.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402  (first: it fixes the BLAS thread count before numpy loads)

import numpy  # noqa: E402

TARGET_RATIO = 0.6
TARGET_ERROR = 1e-14


def make_f(A, np=numpy):
    """f(x) = tanh(A x) + x·x·x, written with the given numpy-like module."""
    def f(x):
        return np.tanh(A @ x) + x * x * x
    return f


def closed_form(A, x):
    r"""J = diag(1 − tanh²(Ax))·A + diag(3x²)."""
    s = numpy.tanh(A @ x)
    return (1 - s * s)[:, None] * A + numpy.diag(3 * x * x)


def problem(n, seed=0):
    """Seeded A with entries N(0, 1/n) (so Ax is O(1)) and x ~ N(0, 1)."""
    rng = numpy.random.default_rng(seed)
    return rng.normal(0.0, n ** -0.5, (n, n)), rng.normal(size=n)


def candidates(A, x):
    """{name: zero-argument callable returning the (n, n) Jacobian as a numpy array}."""
    import torch
    import torch.func
    import autograd
    import autograd.numpy as anp

    import autodiff_ref
    from autodiff_ref.numerical import central_difference

    f = make_f(A)
    ours_fwd, ours_rev = autodiff_ref.jacfwd(f), autodiff_ref.jacrev(f)
    tA, tx = torch.from_numpy(A), torch.from_numpy(x)
    torch_jac = torch.func.jacfwd(lambda v: torch.tanh(tA @ v) + v * v * v)
    hips_jac = autograd.jacobian(make_f(A, anp))
    return {
        "autodiff_ref jacfwd": lambda: ours_fwd(x),
        "autodiff_ref jacrev": lambda: ours_rev(x),
        "torch.func.jacfwd": lambda: torch_jac(tx).numpy(),
        "central differences": lambda: central_difference(f, x),
        "HIPS autograd": lambda: hips_jac(x),
    }


def main(argv=None):
    args = _timing.parse_args(__doc__.splitlines()[0], argv, default_repeats=15)
    n = 8 if args.quick else 100
    A, x = problem(n)
    runs = candidates(A, x)

    agreement = _timing.Agreement()
    expected = closed_form(A, x)
    errors = {}
    for name, fn in runs.items():
        got = fn()
        errors[name] = float(numpy.max(numpy.abs(got - expected)))
        agreement.check(f"{name} vs closed form", got, expected, rtol=0,
                        atol=1e-6 if name == "central differences" else 1e-13)

    # Fast rows repeat the call to get above the timer's resolution; the slow ones once.
    fast = {k: v for k, v in runs.items() if k.startswith(("autodiff_ref jacfwd", "torch"))}
    slow = {k: v for k, v in runs.items() if k not in fast}
    timings = _timing.measure(fast, repeats=args.repeats, warmup=3, number=20)
    timings.update(_timing.measure(slow, repeats=max(1, args.repeats // 3), warmup=1, number=1))
    timings = {name: timings[name] for name in runs}
    notes = {name: f"max |error| {err:.1e}" for name, err in errors.items()}
    _timing.print_table(f"B3 Jacobian of tanh(Ax) + x·x·x, n = {n} ({_timing.machine_summary()})",
                        timings, reference="torch.func.jacfwd", unit="µs", notes=notes)
    agreement.finish()
    ratio = timings["autodiff_ref jacfwd"].median / timings["torch.func.jacfwd"].median
    err = errors["autodiff_ref jacfwd"]
    _timing.target(f"B3 jacfwd ≤ {TARGET_RATIO} × torch.func.jacfwd, error ≤ {TARGET_ERROR:.0e}",
                   ratio <= TARGET_RATIO and err <= TARGET_ERROR,
                   f"{ratio:.2f} × torch, max |error| {err:.1e}"
                   + (" (--quick: sizes too small to judge)" if args.quick else ""))


if __name__ == "__main__":
    main()
