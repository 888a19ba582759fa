r"""Lesson 3's demos and measurements: the closure design's costs, the cost of a
gradient, and forward against reverse mode for the Jacobian of f: Rⁿ → Rᵐ.

Reverse mode gives a gradient for a bounded multiple of f's cost (w_grad ≤ 4
by operation count), whatever n is; forward mode needs n sweeps. For a whole
Jacobian, n forward sweeps (columns J eⱼ) against m reverse sweeps (rows eᵢᵀJ):
the cheaper end wins. The numbers are the machine's: no test asserts them.
"""
import gc as _gc
import math
import sys as _sys
import time as _time

import numpy as _np

from autodiff_ref import grad as _ref_grad
from autodiff_ref import jacfwd as _ref_jacfwd
from autodiff_ref import jvp as _ref_jvp
from autodiff_ref import value_and_grad as _ref_value_and_grad
from autodiff_ref import vjp as _ref_vjp
from autograder.widgets import time_ratio

from ..cost import cost_function, cost_ratios, plot_cost_ratios
from .material import ClosureValue, chain


# ==========================================================================
# The closure design (micrograd's) against the flat tape
# ==========================================================================
def closure_cycle_demo():
    """Show the reference cycle of one closure-based result, and that gc must collect it."""
    import weakref
    x = ClosureValue(3.0)
    y = x * x
    in_cycle = any(c.cell_contents is y for c in y._backward.__closure__)
    probe = weakref.ref(y)
    was_enabled = _gc.isenabled()
    _gc.disable()
    try:
        del y
        alive_after_del = probe() is not None      # reference counting alone cannot free it
        _gc.collect()
        alive_after_collect = probe() is not None  # the cycle collector can
    finally:
        if was_enabled:
            _gc.enable()
    return {"closure refers back to its own result": in_cycle,
            "alive after `del` (reference counts)": alive_after_del,
            "alive after gc.collect()": alive_after_collect}


def _chain_closure(n):
    x = ClosureValue(0.5)
    y = x
    for _ in range(n):
        y = y * 0.999 + 0.001
    y.backward()
    return x.grad


def _chain_tape(n):
    return _ref_grad(lambda x: chain(x, n))(0.5)


def design_timings(n=20_000):
    """Seconds for the forward and backward pass of an n-step chain (2n operations):
    closures with the garbage collector on and off, and autodiff_ref's flat tape."""
    limit = _sys.getrecursionlimit()
    _sys.setrecursionlimit(max(limit, 2 * n + 1000))  # the closure design recurses n deep
    results = {}
    try:
        for label, fn, collector in (("closures, gc on", _chain_closure, True),
                                     ("closures, gc off", _chain_closure, False),
                                     ("flat tape (autodiff_ref), gc on", _chain_tape, True)):
            was_enabled = _gc.isenabled()
            (_gc.enable if collector else _gc.disable)()
            try:
                _gc.collect()
                start = _time.perf_counter()
                fn(n)
                results[label] = _time.perf_counter() - start
            finally:
                (_gc.enable if was_enabled else _gc.disable)()
    finally:
        _sys.setrecursionlimit(limit)
    return results


def recursion_demo(n=5_000):
    """What happens to each design on an n-step chain at Python's default recursion limit."""
    out = {}
    try:
        _chain_closure(n)
        out["closures"] = "ok"
    except RecursionError as err:
        out["closures"] = f"RecursionError: {err}"
    out["flat tape"] = f"ok, dx = {_chain_tape(n):.6f}"
    return out


# ==========================================================================
# The cost of a gradient
# ==========================================================================
def gradient_cost(sizes=(10, 100, 1_000, 10_000, 100_000, 1_000_000), repeat=5):
    r"""w_grad = T(f and its gradient) / T(f) with :func:`autodiff_ref.value_and_grad`:
    a list of dicts (n, t_f, t_grad, ratio)."""
    value_and_grad = _ref_value_and_grad(cost_function)
    return cost_ratios(lambda x, v: value_and_grad(x), sizes, repeat, "t_grad")


def gradient_by_forward_mode_cost(sizes=(10, 100, 1_000), repeat=3):
    """The same gradient by forward mode (jacfwd: n directions): its cost grows with n."""
    return cost_ratios(lambda x, v: _ref_jacfwd(cost_function)(x), sizes, repeat, "t_grad")


def plot_gradient_cost(rows, forward_rows=(), ax=None):
    """T(f, ∇f)/T(f) against n for reverse mode (and forward mode), with the bound 4."""
    series = [("reverse mode: T(f, ∇f) / T(f)", rows, "o-")]
    if forward_rows:
        series.append(("forward mode (jacfwd, n directions)", forward_rows, "s-"))
    ax = plot_cost_ratios(series, 4, ax=ax)
    ax.set_title("the cost of a gradient, relative to f")
    return ax


# ==========================================================================
# A whole Jacobian: n forward sweeps or m reverse sweeps
# ==========================================================================
def network(n, m, hidden=32, seed=0):
    """f: Rⁿ → Rᵐ, f(x) = W₂ tanh(W₁ x) with fixed random weights."""
    rng = _np.random.default_rng(seed)
    w1 = rng.normal(size=(hidden, n)) / math.sqrt(n)
    w2 = rng.normal(size=(m, hidden)) / math.sqrt(hidden)
    return lambda x: w2 @ _np.tanh(w1 @ x)


def jacobian_by_columns(f, x):
    """n forward sweeps, one per input direction e_j (column j = J e_j)."""
    return _np.stack([_ref_jvp(f, (x,), (e,))[1] for e in _np.eye(len(x))], axis=-1)


def jacobian_by_rows(f, x):
    """One recording, then m reverse sweeps, one per output direction e_i (row i = e_iᵀ J)."""
    value, pullback = _ref_vjp(f, x)
    return _np.stack([pullback(e)[0] for e in _np.eye(len(value))])


def forward_vs_reverse(ns=(1, 4, 16, 64, 256), ms=(1, 4, 16, 64, 256), repeat=3):
    """Times of the Jacobian of :func:`network` (n inputs, m outputs) by n forward
    sweeps and by m reverse sweeps, one direction per sweep, interleaved.

    Returns (ratio grid T_forward / T_reverse with rows = m, columns = n, and the two time grids)."""
    ratio = _np.zeros((len(ms), len(ns)))
    t_fwd, t_rev = _np.zeros_like(ratio), _np.zeros_like(ratio)
    for a, m in enumerate(ms):
        for b, n in enumerate(ns):
            f = network(n, m)
            x = _np.linspace(-1, 1, n)
            t_fwd[a, b], t_rev[a, b], ratio[a, b] = time_ratio(
                lambda: jacobian_by_columns(f, x), lambda: jacobian_by_rows(f, x),
                repeat=repeat, min_time=0.002)
    return ratio, t_fwd, t_rev


def _short(r):
    return f"{r:.0f}" if r >= 10 else f"{r:.1f}" if r >= 1 else f"{r:.2f}" if r >= 0.01 else f"{r:.0e}"


def plot_forward_vs_reverse(ns, ms, ratio, ax=None):
    """A heat map of log₂(T_forward / T_reverse): blue where forward wins, red where reverse wins."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6.2, 5.0))
    lg = _np.log2(ratio)
    bound = max(1.0, float(_np.max(_np.abs(lg))))
    im = ax.imshow(lg, cmap="coolwarm", vmin=-bound, vmax=bound, origin="lower")
    for a in range(len(ms)):
        for b in range(len(ns)):
            ax.text(b, a, _short(ratio[a, b]), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(ns)), [str(n) for n in ns])
    ax.set_yticks(range(len(ms)), [str(m) for m in ms])
    ax.set_xlabel("n = number of inputs")
    ax.set_ylabel("m = number of outputs")
    ax.set_title("T(n forward sweeps) / T(m reverse sweeps)\n(> 1: reverse mode is faster)", fontsize=11)
    ax.figure.colorbar(im, ax=ax, label="log₂ of the ratio")
    return ax
