r"""B1 — the scalar tape: forward + backward of a long scalar program.

The program repeats ``x = x*a + (x*x)*b + c`` (five primitives per step) for
10,000 steps, 50,000 operations in all, and differentiates the result with
respect to all four inputs x₀, a, b, c. With a = 0.5, b = 0.1, c = 0.2 the
iteration contracts to its fixed point, so every number stays finite.

Reported: µs per operation of forward + backward for

* ``autodiff_ref``   our tape (``grad`` with ``argnums=(0, 1, 2, 3)``);
* ``micrograd``      Karpathy's Value graph, garbage collector on (the default);
* ``micrograd, GC off`` the same with the cyclic collector disabled: micrograd's
  closures make a reference cycle per node, which the collector keeps chasing;
* ``torch 0-d``      PyTorch 0-d float64 tensors and ``torch.autograd.grad``;
* ``HIPS autograd``  ``autograd.grad``;
* ``plain floats``   the forward pass alone on Python floats (the floor).

The gradients of every peer are compared with a hand-written adjoint sweep
(relative 1e-10); the script exits 1 if any disagrees.
Target: ours ≤ 1.0 µs/op with the collector on.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402

OPS_PER_STEP = 5
X0, A, B, C = 0.3, 0.5, 0.1, 0.2
TARGET_US_PER_OP = 1.0


def program(x, a, b, c, steps):
    """The benchmark program: `steps` times x ← x·a + (x·x)·b + c."""
    for _ in range(steps):
        x = x * a + (x * x) * b + c
    return x


def hand_written_gradient(x, a, b, c, steps):
    r"""The reference: the adjoint recursion of `program`, written out by hand.

    With x_{k+1} = x_k a + x_k² b + c:  x̄_k = x̄_{k+1} (a + 2 b x_k),
    ā += x̄_{k+1} x_k,  b̄ += x̄_{k+1} x_k²,  c̄ += x̄_{k+1}.
    """
    xs = []
    for _ in range(steps):
        xs.append(x)
        x = x * a + (x * x) * b + c
    x_bar, a_bar, b_bar, c_bar = 1.0, 0.0, 0.0, 0.0
    for xk in reversed(xs):
        a_bar += x_bar * xk
        b_bar += x_bar * xk * xk
        c_bar += x_bar
        x_bar *= a + 2 * b * xk
    return x_bar, a_bar, b_bar, c_bar


def candidates(steps):
    """{name: zero-argument callable returning the four gradients (or the value)}."""
    import torch
    import autograd
    from micrograd.engine import Value

    import autodiff_ref

    # micrograd sorts the graph with a recursive DFS: one Python frame per level.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * OPS_PER_STEP * steps + 1000))

    ours_grad = autodiff_ref.grad(lambda x, a, b, c: program(x, a, b, c, steps), argnums=(0, 1, 2, 3))

    def ours():
        return ours_grad(X0, A, B, C)

    def micrograd():
        inputs = [Value(v) for v in (X0, A, B, C)]
        program(*inputs, steps).backward()
        return tuple(v.grad for v in inputs)

    def micrograd_gc_off():
        with _timing.gc_off():
            return micrograd()

    def torch_0d():
        inputs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (X0, A, B, C)]
        grads = torch.autograd.grad(program(*inputs, steps), inputs)
        return tuple(float(g) for g in grads)

    hips_grad = autograd.grad(lambda x, a, b, c: program(x, a, b, c, steps), argnum=(0, 1, 2, 3))

    def hips():
        return tuple(float(g) for g in hips_grad(X0, A, B, C))

    def plain_floats():
        return program(X0, A, B, C, steps)

    return {"autodiff_ref": ours, "micrograd": micrograd, "micrograd, GC off": micrograd_gc_off,
            "torch 0-d": torch_0d, "HIPS autograd": hips, "plain floats (forward only)": plain_floats}


def main(argv=None):
    args = _timing.parse_args(__doc__.splitlines()[0], argv)
    steps = 100 if args.quick else 10_000
    ops = OPS_PER_STEP * steps
    runs = candidates(steps)

    agreement = _timing.Agreement()
    expected = hand_written_gradient(X0, A, B, C, steps)
    scale = max(abs(g) for g in expected)
    for name, fn in runs.items():
        if name.startswith("plain"):
            agreement.check(f"{name}: value", fn(), program(X0, A, B, C, steps), rtol=0)
        else:
            agreement.check(f"{name}: (x̄₀, ā, b̄, c̄)", fn(), expected, rtol=1e-10, atol=1e-12 * scale)

    slow = max(1, min(3, args.repeats))
    repeats = {name: (slow if name == "HIPS autograd" else args.repeats) for name in runs}
    timings = _timing.measure(runs, repeats=repeats, warmup=1, number=1)
    _timing.print_table(f"B1 scalar tape: forward + backward, {ops:,} ops ({_timing.machine_summary()})",
                        timings, reference="autodiff_ref", per=ops, unit="ms", per_unit="µs")
    agreement.finish()
    ours_us = timings["autodiff_ref"].median / ops * 1e6
    _timing.target(f"B1 ours ≤ {TARGET_US_PER_OP} µs/op with the GC on", ours_us <= TARGET_US_PER_OP,
                   f"{ours_us:.2f} µs/op" + (" (--quick: sizes too small to judge)" if args.quick else ""))


if __name__ == "__main__":
    main()
