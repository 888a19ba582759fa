r"""B5 — the gradient of a deep-equilibrium layer by implicit differentiation.

The layer is the fixed point z = tanh(Wz + x), n = 50, with W scaled so that
‖W‖₂ = 0.9 and x ~ N(0, 1) (seeded), solved to tol 1e-10
(‖tanh(Wz + x) − z‖∞ ≤ tol·(1 + ‖z‖∞)). We time the gradient of L = Σz with
respect to W, forward solve included, for

* ``autodiff_ref`` — ``grad`` of ``np.sum(fixed_point(g, z0, W, x, method=…))``
  for Newton, Anderson and plain iteration; the derivative comes from the
  implicit function theorem (one adjoint solve), never from the iterations;
* ``hand-written numpy`` — Newton with the closed-form Jacobian
  I − diag(sech²(Wz + x)) W, then (I − DW)ᵀu = 1, W̄ = (D u) zᵀ, D = diag(1 − z²),
  reusing the last Jacobian (the fastest honest numpy we could write), and the
  same with plain iteration as the forward solver;
* ``torch unrolled`` — PyTorch (float64) iterating to the same tolerance with
  autograd recording every iteration, then backward through all of them.

All gradients are compared with the hand-written Newton one (rtol 1e-8).
Target: our fastest method ≤ 2× the faster hand-written numpy implicit gradient.

Memory: tracemalloc's peak during the gradient as the tolerance (hence the
number of iterations) grows, for our implicit gradient and, as the contrast,
for our reverse mode run straight through the iterations (a Python loop on the
tape, what "differentiating the solver" means).
"""
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402  (first: it fixes the BLAS thread count before numpy loads)

import numpy as np  # noqa: E402

from autodiff_ref import grad, fixed_point  # noqa: E402

SEED = 5
TOL = 1e-10
TARGET = 2.0


def layer(z, W, x):
    return np.tanh(W @ z + x)


def problem(n):
    rng = np.random.default_rng(SEED)
    W = rng.normal(size=(n, n))
    W *= 0.9 / np.linalg.norm(W, 2)
    return W, rng.normal(size=n)


def ours(method):
    def gradient(W, x):
        return grad(lambda W: np.sum(fixed_point(layer, np.zeros(len(x)), W, x, method=method, tol=TOL)))(W)
    return gradient


def hand_written_newton(W, x):
    n = len(x)
    z = np.zeros(n)
    for _ in range(100):
        pre = W @ z + x
        residual = z - np.tanh(pre)
        d = 1 - np.tanh(pre) ** 2                     # sech²(Wz + x)
        jacobian = np.eye(n) - d[:, None] * W
        if np.max(np.abs(residual)) <= TOL * (1 + np.max(np.abs(z))):
            break
        z = z - np.linalg.solve(jacobian, residual)
    u = np.linalg.solve(jacobian.T, np.ones(n))
    return np.outer(d * u, z)


def hand_written_iteration(W, x):
    n = len(x)
    z = np.zeros(n)
    for _ in range(10_000):
        z_new = np.tanh(W @ z + x)
        done = np.max(np.abs(z_new - z)) <= TOL * (1 + np.max(np.abs(z_new)))
        z = z_new
        if done:
            break
    d = 1 - z * z
    u = np.linalg.solve((np.eye(n) - d[:, None] * W).T, np.ones(n))
    return np.outer(d * u, z)


def torch_unrolled(W, x):
    import torch
    Wt = torch.tensor(W, requires_grad=True)
    xt = torch.tensor(x)
    z = torch.zeros(len(x), dtype=torch.float64)
    for _ in range(10_000):
        z_new = torch.tanh(Wt @ z + xt)
        done = float((z_new - z).detach().abs().max()) <= TOL * (1 + float(z_new.detach().abs().max()))
        z = z_new
        if done:
            break
    (gW,) = torch.autograd.grad(z.sum(), Wt)
    return gW.numpy()


def through_the_iterations(W, x, tol):
    """Our reverse mode run straight through plain iteration (every iteration on the tape)."""
    def loss(W):
        z = np.zeros(len(x))
        for _ in range(10_000):
            z_new = np.tanh(W @ z + x)
            done = np.max(np.abs(z_new - z)) <= tol * (1 + np.max(np.abs(z_new)))
            z = z_new
            if done:
                break
        return np.sum(z)
    return grad(loss)(W)


def peak_memory(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def memory_table(W, x, tols):
    print("\n## B5 memory: tracemalloc peak during the gradient (KiB) as the tolerance tightens")
    print(f"{'tol':>8}  {'iterations':>10}  {'implicit (iterate)':>18}  {'through the iterations':>22}")
    rows = []
    for tol in tols:
        _, info = fixed_point(layer, np.zeros(len(x)), W, x, tol=tol, return_info=True)
        implicit = peak_memory(lambda: grad(lambda W: np.sum(
            fixed_point(layer, np.zeros(len(x)), W, x, tol=tol)))(W))
        unrolled = peak_memory(lambda: through_the_iterations(W, x, tol))
        rows.append((info.iterations, implicit, unrolled))
        print(f"{tol:8.0e}  {info.iterations:10d}  {implicit / 1024:18.1f}  {unrolled / 1024:22.1f}")
    return rows


def main(argv=None):
    args = _timing.parse_args(__doc__.splitlines()[0], argv, default_repeats=21)
    n = 8 if args.quick else 50
    W, x = problem(n)
    runs = {
        "hand-written numpy (Newton)": lambda: hand_written_newton(W, x),
        "hand-written numpy (iteration)": lambda: hand_written_iteration(W, x),
        "autodiff_ref (newton)": lambda: ours("newton")(W, x),
        "autodiff_ref (anderson)": lambda: ours("anderson")(W, x),
        "autodiff_ref (iterate)": lambda: ours("iterate")(W, x),
    }
    try:
        import torch
        torch.set_num_threads(1)
        runs["torch unrolled"] = lambda: torch_unrolled(W, x)
    except ImportError:
        print("(torch not installed: no unrolled-backprop peer)")

    agreement = _timing.Agreement()
    expected = hand_written_newton(W, x)
    scale = float(np.max(np.abs(expected)))
    for name, fn in runs.items():
        if name != "hand-written numpy (Newton)":
            agreement.check(f"{name}: ∂Σz/∂W", fn(), expected, rtol=1e-8, atol=1e-8 * scale)
    agreement.check("through the iterations: ∂Σz/∂W", through_the_iterations(W, x, TOL), expected,
                    rtol=1e-8, atol=1e-8 * scale)

    iterations = {m: fixed_point(layer, np.zeros(n), W, x, method=m, tol=TOL, return_info=True)[1].iterations
                  for m in ("newton", "anderson", "iterate")}
    notes = {f"autodiff_ref ({m})": f"{k} iterations" for m, k in iterations.items()}
    timings = _timing.measure(runs, repeats=args.repeats, warmup=2)
    _timing.print_table(f"B5 DEQ z = tanh(Wz + x), n = {n}, ‖W‖₂ = 0.9, tol {TOL:g}, ∂Σz/∂W "
                        f"({_timing.machine_summary()})", timings,
                        reference="hand-written numpy (Newton)", unit="µs", notes=notes)
    rows = memory_table(W, x, [1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12])
    agreement.finish()

    best = min(("newton", "anderson", "iterate"), key=lambda m: timings[f"autodiff_ref ({m})"].median)
    hand = min(("hand-written numpy (Newton)", "hand-written numpy (iteration)"), key=lambda n: timings[n].median)
    ratio = timings[f"autodiff_ref ({best})"].median / timings[hand].median
    _timing.target(f"B5 ours ≤ {TARGET:g}× the hand-written numpy implicit gradient", ratio <= TARGET,
                   f"autodiff_ref ({best}) is {ratio:.2f}× the faster {hand}"
                   + (" (--quick: sizes too small to judge)" if args.quick else ""))
    flat = max(r[1] for r in rows) <= 1.5 * min(r[1] for r in rows)
    _timing.target("B5 implicit-gradient memory does not grow with the iteration count", flat,
                   f"peak {min(r[1] for r in rows) / 1024:.0f}–{max(r[1] for r in rows) / 1024:.0f} KiB over "
                   f"{rows[0][0]}–{rows[-1][0]} iterations; through the iterations "
                   f"{rows[0][2] / 1024:.0f}–{rows[-1][2] / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
