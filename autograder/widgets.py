r"""Widgets that step through an evaluation trace, shared by the lessons.

A :class:`autodiff_ref.trace.Trace` holds both sweeps already computed; these
helpers replay them one statement at a time:

- :func:`forward_steps` / :func:`step_forward`: the tangent sweep, row by row,
  :math:`\dot v_i = \sum_{j \prec i} c_{ij}\,\dot v_j`;
- :func:`reverse_steps` / :func:`step_reverse`: the adjoint sweep, row by row
  from the output back, :math:`\bar v_j \mathrel{+}= \bar v_i\, c_{ij}` for
  each parent j of row i — so an adjoint with several uses is seen to
  accumulate.

Each step is rendered as the graph (the current row highlighted), the
statement executed at that step with its numbers, and the table (the current
row shaded, the column filled in as far as the sweep got). The widgets are a
slider with ◀/▶ buttons; the first step is drawn when the widget is created,
so a notebook run headless (nbclient, ``nbgrader autograde``) shows it and
never waits for input. Only scalar traces can be stepped (the statements show
numbers).
"""
import math
import time
import tracemalloc
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from autodiff_ref import core
from autodiff_ref.trace import _SUPERSCRIPTS, _fmt, name, subscript

__all__ = ["forward_steps", "reverse_steps", "tangent_statement", "partial_text",
           "render_forward", "render_reverse", "step_forward", "step_reverse", "median_time",
           "time_ratio"]


# ----------------------------------------------------------------------------
# The local partial c_ij of each primitive, written symbolically. `a`, `b` are
# the arguments as written in the trace (a row name or a constant), `r` the
# row's own name; the k-th entry is ∂φ/∂(argument k).
# ----------------------------------------------------------------------------
_SYMBOLIC = {
    core.add: lambda r, a, b: ("1", "1"),
    core.subtract: lambda r, a, b: ("1", "−1"),
    core.multiply: lambda r, a, b: (b, a),
    core.divide: lambda r, a, b: (f"1/{b}", f"−{r}/{b}"),
    core.negative: lambda r, a: ("−1",),
    core.sin: lambda r, a: (f"cos({a})",),
    core.cos: lambda r, a: (f"−sin({a})",),
    core.tan: lambda r, a: (f"1 + {r}²",),
    core.exp: lambda r, a: (r,),
    core.log: lambda r, a: (f"1/{a}",),
    core.sqrt: lambda r, a: (f"1/(2·{r})",),
    core.square: lambda r, a: (f"2·{a}",),
    core.tanh: lambda r, a: (f"1 − {r}²",),
    core.sinh: lambda r, a: (f"cosh({a})",),
    core.cosh: lambda r, a: (f"sinh({a})",),
    core.arctan: lambda r, a: (f"1/(1 + {a}²)",),
}


def _argument_words(row):
    """The arguments of a row as written in its operation: names for rows, numbers for constants."""
    return [name(a) if isinstance(a, int) else _fmt_const(a.value) for a in row.arguments]


def _fmt_const(c):
    if np.ndim(c):
        return "c"
    return f"{float(c):g}".replace("-", "−")


def _power(r, a, b):
    try:
        p = float(b.replace("−", "-"))
    except ValueError:
        return (f"{b}·{a}^({b} − 1)", f"{r}·ln({a})")
    if p == 2:
        return (f"2·{a}", None)
    if p == int(p):
        return (f"{p:g}·{a}" + f"{p - 1:g}".translate(_SUPERSCRIPTS), None)
    return (f"{p:g}·{a}^{p - 1:g}".replace("-", "−"), None)


_SYMBOLIC[core.power] = _power


def partial_text(tr, i):
    """The symbolic local partials of row i, one per parent: ``['1/v₀', '−v₁/v₀']``."""
    row = tr.row(i)
    if row.primitive is None:
        return []
    rule = _SYMBOLIC.get(row.primitive)
    words = _argument_words(row)
    if rule is None or len(words) != rule.__code__.co_argcount - 1:
        return [f"∂{row.name}/∂{name(j)}" for j in row.parents]
    texts = rule(row.name, *words)
    # keep the partials of the arguments that are rows (constants have none)
    return [t for t, a in zip(texts, row.arguments) if isinstance(a, int)]


def _paren(c):
    return f"({c})" if any(ch in c for ch in "/ +") or c.startswith("−") else c


def _times(c, x):
    """'c·x' with the trivial factors written away: 1·x → x, −1·x → −x."""
    if c == "1":
        return x
    if c == "−1":
        return f"−{x}"
    return f"{_paren(c)}·{x}"


def _times_after(x, c):
    """'x·c', Griewank's order for the adjoint statements: v̄ᵢ·c_ij."""
    if c == "1":
        return x
    if c == "−1":
        return f"−{x}"
    return f"{x}·{_paren(c)}"


def _join(terms):
    out = terms[0]
    for t in terms[1:]:
        out += f" − {t[1:]}" if t.startswith("−") else f" + {t}"
    return out


def _num(x, digits=4):
    s = _fmt(x, digits)
    return f"({s})" if s.startswith("-") else s


def _numeric_terms(pairs, digits):
    """c·x for numbers, with c = ±1 written away."""
    terms = []
    for c, x in pairs:
        if c == 1:
            terms.append(_fmt(x, digits).replace("-", "−", 1))
        elif c == -1:
            terms.append("−" + _num(x, digits))
        else:
            terms.append(f"{_num(c, digits)}·{_num(x, digits)}")
    return _join(terms)


def tangent_statement(tr, i, digits=4):
    """The tangent statement of row i with its numbers, e.g.
    ``'v̇₆ = v₄·v̇₅ + v₅·v̇₄ = 1.3513·0.0200 + 1.4924·2.0000 = 3.0118'``."""
    row = tr.row(i)
    dot = "v̇" + subscript(i)
    if row.primitive is None:
        return f"{dot} = ẋ{subscript(i + tr.n_inputs)} = {_fmt(row.tangent, digits)}   (the seed)"
    partials = partial_text(tr, i)
    symbolic = _join([_times(c, "v̇" + subscript(j)) for c, j in zip(partials, row.parents)])
    numbers = _numeric_terms([(c, tr.row(j).tangent) for c, j in zip(row.partials, row.parents)], digits)
    return f"{dot} = {symbolic} = {numbers} = {_fmt(row.tangent, digits)}"


class Step(NamedTuple):
    """One statement of a sweep: the row it belongs to, the column as far as the
    sweep got (None = not computed yet), and the statement(s) executed."""
    row: int
    column: list
    statements: list


def _require_scalar(tr):
    if any(np.ndim(r.value) for r in tr):
        raise ValueError("the step-by-step widgets show numbers: they need a trace of a scalar "
                         "program (every row a float)")


def forward_steps(tr, digits=4):
    """The tangent sweep as a list of steps, one per row (inputs first)."""
    _require_scalar(tr)
    steps, column = [], [None] * len(tr)
    for k, row in enumerate(tr):
        column[k] = row.tangent
        steps.append(Step(row.index, list(column), [tangent_statement(tr, row.index, digits)]))
    return steps


def reverse_steps(tr, digits=4):
    """The adjoint sweep as a list of steps.

    Step 0 seeds v̄ = ȳ at the output and 0 elsewhere; then one step per row
    from the last to the first operation, each executing v̄ⱼ += v̄ᵢ·c_ij for
    every parent j of row i. The last column equals ``tr.adjoints``.
    """
    _require_scalar(tr)
    if len(tr.output_indices) != 1:
        raise ValueError("reverse_steps: step through a trace with one output")
    n = tr.n_inputs
    column = [0.0] * len(tr)
    out = tr.output_indices[0]
    column[out + n - 1] = float(tr.cotangents[0])
    steps = [Step(out, list(column),
                  [f"v̄{subscript(out)} = ȳ = {_fmt(column[out + n - 1], digits)}   (the seed); "
                   f"every other v̄ starts at 0"])]
    for row in reversed(tr.rows[n:]):
        i = row.index
        bar_i = column[i + n - 1]
        lines = []
        for c_text, c, j in zip(partial_text(tr, i), row.partials, row.parents):
            before = column[j + n - 1]
            column[j + n - 1] = before + bar_i * c
            increment = f"{_num(bar_i, digits)}·{_num(c, digits)}"
            lines.append(f"v̄{subscript(j)} += {_times_after('v̄' + subscript(i), c_text)}"
                         f"   :  {_fmt(before, digits)} + {increment} = {_fmt(column[j + n - 1], digits)}")
        if not lines:
            lines = [f"{row.name} has no parents"]
        steps.append(Step(i, list(column), lines))
    return steps


# ----------------------------------------------------------------------------
# Rendering one step: graph + statement + table
# ----------------------------------------------------------------------------
def render_forward(tr, k, ax=None, digits=4):
    """Draw step k of the tangent sweep on `ax` (by default a new figure sized to the graph, as
    the widget shows it); return (figure, statement, html table)."""
    ax = _figure(tr) if ax is None else ax
    steps = forward_steps(tr, digits)
    step = steps[k]
    known = {r.index: f"v̇ = {_fmt(t, digits)}" for r, t in zip(tr, step.column) if t is not None}
    later = {r.index for r, t in zip(tr, step.column) if t is None}
    labels = {r.index: known.get(r.index, "v̇ = ?") for r in tr}
    ax = tr.draw(ax=ax, highlight=step.row, labels=labels, dim=later, flow="forward")
    ax.set_title(f"tangent sweep, step {k + 1} of {len(steps)}: row {name(step.row)}", fontsize=11)
    html = tr.to_html(highlight=step.row, columns=("operation", "value", "tangent"),
                      tangents=step.column, digits=digits)
    return ax.figure, step.statements, html


def render_reverse(tr, k, ax=None, digits=4):
    """Draw step k of the adjoint sweep on `ax` (by default a new figure sized to the graph, as
    the widget shows it); return (figure, statements, html table)."""
    ax = _figure(tr) if ax is None else ax
    steps = reverse_steps(tr, digits)
    step = steps[k]
    n = tr.n_inputs
    done = {r.index for r in tr.rows[n:] if r.index > step.row} if k else set()
    labels = {r.index: f"v̄ = {_fmt(a, digits)}" for r, a in zip(tr, step.column)}
    ax = tr.draw(ax=ax, highlight=step.row if k else None, labels=labels, dim=done, flow="reverse")
    title = "adjoint sweep, the seed" if k == 0 else \
        f"adjoint sweep, step {k} of {len(steps) - 1}: row {name(step.row)} sends v̄ to its arguments"
    ax.set_title(title, fontsize=11)
    html = tr.to_html(highlight=step.row, columns=("operation", "value", "adjoint"),
                      adjoints=step.column, digits=digits)
    return ax.figure, step.statements, html


def _stepper(count, draw_step, description):
    """A slider with ◀/▶ buttons that redraws `draw_step(k)` into an Output."""
    import ipywidgets as widgets
    from IPython.display import HTML, display
    import matplotlib.pyplot as plt

    slider = widgets.IntSlider(value=0, min=0, max=count - 1, description=description,
                               continuous_update=False, layout=widgets.Layout(width="420px"))
    back = widgets.Button(description="◀ prev", layout=widgets.Layout(width="80px"))
    forward = widgets.Button(description="next ▶", layout=widgets.Layout(width="80px"))
    out = widgets.Output()

    def show(k):
        out.clear_output(wait=True)
        with out:
            fig, statements, html = draw_step(k)
            plt.show()
            plt.close(fig)
            display(HTML("<pre style='font-size:13px;margin:4px 0'>" +
                         "<br>".join(_escape(s) for s in statements) + "</pre>" + html))

    back.on_click(lambda _: setattr(slider, "value", max(slider.min, slider.value - 1)))
    forward.on_click(lambda _: setattr(slider, "value", min(slider.max, slider.value + 1)))
    slider.observe(lambda change: show(change["new"]), names="value")
    show(0)
    return widgets.VBox([widgets.HBox([back, slider, forward]), out])


def _escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _figure(tr):
    import matplotlib.pyplot as plt
    pos, routes = tr.layout()
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()] + [y for r in routes.values() for _, y in r]
    width, height = max(xs) - min(xs) + 1.7, max(ys) - min(ys) + 1.4
    fig, ax = plt.subplots(figsize=(0.9 * width, 0.9 * height + 0.35))
    return ax


def step_forward(tr, digits=4):
    """A widget stepping through the tangent sweep of the scalar trace `tr`."""
    count = len(forward_steps(tr, digits))
    return _stepper(count, lambda k: render_forward(tr, k, digits=digits), "row")


def step_reverse(tr, digits=4):
    """A widget stepping through the adjoint sweep of the scalar trace `tr`."""
    count = len(reverse_steps(tr, digits))
    return _stepper(count, lambda k: render_reverse(tr, k, digits=digits), "step")


# ----------------------------------------------------------------------------
# Timing and memory, for the cost measurements of the lessons
# ----------------------------------------------------------------------------
def median_time(fn, *args, repeat=7, min_time=0.02):
    """Median seconds per call of ``fn(*args)``: each of `repeat` samples loops
    until it has run at least `min_time` seconds, so short calls are timed in bulk."""
    fn(*args)  # warm up (imports, caches)
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn(*args)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or number >= 1 << 20:
            break
        number *= 2
    samples = [elapsed / number]
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(number):
            fn(*args)
        samples.append((time.perf_counter() - start) / number)
    return float(np.median(samples))


def _loops(fn, min_time):
    """How many calls of fn take at least `min_time` seconds (a power of two)."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= min_time or number >= 1 << 20:
            return number
        number *= 2


def time_ratio(fn, reference, repeat=7, min_time=0.01):
    """Time `fn()` against `reference()`, interleaved: ``(t_fn, t_reference, ratio)``.

    Each of `repeat` rounds times a block of calls of each, back to back, and
    the ratio is the median of the per-round ratios: a machine that gets
    busier or quieter during the measurement shifts both times of a round
    alike, so the ratio is steadier than the ratio of two separate medians.
    """
    fn(), reference()  # warm up
    n_fn, n_ref = _loops(fn, min_time), _loops(reference, min_time)
    t_fn, t_ref, ratios = [], [], []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n_fn):
            fn()
        middle = time.perf_counter()
        for _ in range(n_ref):
            reference()
        end = time.perf_counter()
        t_fn.append((middle - start) / n_fn)
        t_ref.append((end - middle) / n_ref)
        ratios.append(t_fn[-1] / t_ref[-1])
    return float(np.median(t_fn)), float(np.median(t_ref)), float(np.median(ratios))


def best_time(fn, repeats=7, min_time=0.0):
    """The best of `repeats` samples of seconds per call of ``fn()``.

    With `min_time` > 0 each sample is a loop of calls lasting at least that long
    (found by doubling, which also warms up); with 0 each sample is one call.
    The best, not the median: on a shared machine other processes only ever add
    time, so the minimum is the steadiest estimate of the computation's own cost.
    """
    number = _loops(fn, min_time) if min_time > 0 else 1
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def peak_memory(fn):
    """``(fn(), peak bytes allocated during the call)``, by tracemalloc (time it separately:
    tracing slows Python down)."""
    tracemalloc.start()
    try:
        value = fn()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _openblas():
    """numpy's bundled OpenBLAS (its thread-count setter and getter), or None."""
    import ctypes
    import glob
    import os
    folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)
            return lib.scipy_openblas_set_num_threads64_, lib.scipy_openblas_get_num_threads64_
        except (OSError, AttributeError):
            continue
    return None


@contextmanager
def one_blas_thread():
    """Run the block with one BLAS thread. The machines this course runs on are often shared:
    BLAS threads that wait for a busy core turn a 1 ms matrix product into 100 ms at random,
    which would drown what a lesson measures (the benchmarks use one thread too)."""
    found = _openblas()
    if found is None:
        yield
        return
    set_threads, get_threads = found
    before = get_threads()
    set_threads(1)
    try:
        yield
    finally:
        set_threads(before)
