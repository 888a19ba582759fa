r"""The evaluation trace: a Wengert list with a tangent and an adjoint column.

``trace(f, *args)`` records one evaluation of f on the reverse-mode tape
(:class:`autodiff_ref.reverse.Tape`) and numbers its rows as Griewank does:
the n inputs are :math:`v_{1-n}, \dots, v_0`, every primitive operation after
them is :math:`v_1, v_2, \dots, v_l`, and the output is :math:`y = v_l` (or
whichever row f returned).

Two sweeps fill the derivative columns:

- the **tangent sweep** walks the rows forward,
  :math:`\dot v_i = \sum_{j \prec i} c_{ij}\, \dot v_j`, from a seed
  :math:`\dot x` (the first input's unit direction unless told otherwise), so
  :math:`\dot y = f'(x)\,\dot x` (a JVP);
- the **adjoint sweep** is the tape's own reverse sweep,
  :math:`\bar v_j \mathrel{+}= \bar v_i\, c_{ij}` for i = l … 1, from
  :math:`\bar y = 1`, so the inputs' adjoints are the gradient (a VJP).

Here :math:`c_{ij} = \partial \varphi_i / \partial v_j` is the local partial
derivative of row i's operation with respect to its argument :math:`v_j`.

The :class:`Trace` prints as an aligned table, renders as an HTML table in a
notebook and draws its computational graph with matplotlib.
"""
from typing import NamedTuple

import numpy as np

from . import core
from .dual import jvp_rules, ELEMENTWISE
from .reverse import Box, Tape, _as_float

__all__ = ["trace", "Trace", "Row", "Constant", "subscript", "name"]

_SUBSCRIPTS = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")
_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
MINUS = "−"


def subscript(i):
    """``subscript(-1) == '₋₁'``: an integer written as a subscript."""
    return str(i).translate(_SUBSCRIPTS)


def name(i):
    """The textbook name of row i: ``name(-1) == 'v₋₁'``."""
    return "v" + subscript(i)


class Constant(NamedTuple):
    """A constant argument of an operation (``2`` in ``v₁ = 2·v₀``)."""
    value: object


class Row(NamedTuple):
    """One row of the evaluation trace.

    ``index`` is Griewank's i (inputs 1−n … 0); ``operation`` the statement as a
    textbook writes it (``'v₃ = exp(v₀)'``); ``arguments`` the primitive's
    arguments in order, each a row index (int) or a constant (a float or array,
    wrapped in :class:`Constant`); ``parents`` the indices j ≺ i it reads;
    ``partials`` the local partial derivatives c_ij, one per parent (None
    for array rows); ``value``, ``tangent`` (v̇ᵢ) and ``adjoint`` (v̄ᵢ) the three
    columns.
    """
    index: int
    operation: str
    primitive: object
    arguments: tuple
    parents: tuple
    partials: tuple
    value: object
    tangent: object
    adjoint: object

    @property
    def name(self):
        return name(self.index)

    @property
    def expression(self):
        """The right-hand side of the operation: ``'exp(v₀)'``."""
        return self.operation.split(" = ", 1)[1]


# ----------------------------------------------------------------------------
# How each primitive is written. A template gets its arguments already written
# out (a row name like 'v₂' or a constant like '2'); `symbol` is the short label
# drawn inside a graph node.
# ----------------------------------------------------------------------------
def _infix(op):
    return lambda a, b: f"{a} {op} {b}"


def _call(fname):
    return lambda *xs: f"{fname}({', '.join(xs)})"


_TEMPLATES = {
    core.add: (_infix("+"), "+"),
    core.subtract: (_infix(MINUS), MINUS),
    core.multiply: (lambda a, b: f"{a}·{b}", "×"),
    core.divide: (_infix("/"), "/"),
    core.negative: (lambda a: f"{MINUS}{a}", "neg"),
    core.log: (_call("ln"), "ln"),
    core.sqrt: (lambda a: f"√{a}", "√"),
    core.square: (lambda a: f"{a}²", "x²"),
    core.absolute: (lambda a: f"|{a}|", "abs"),
    core.matmul: (_infix("@"), "@"),
}


def _power_text(a, b):
    if b.lstrip(MINUS).isdigit():
        return a + b.replace(MINUS, "-").translate(_SUPERSCRIPTS)
    return f"{a}^{b}"


_TEMPLATES[core.power] = (_power_text, "pow")


def _number(c):
    """A constant as it appears inside an operation: 2, 0.5, −1, or its shape."""
    if np.ndim(c) == 0:
        c = float(c)
        text = f"{c:g}"
        return text.replace("-", MINUS)
    return "[" + "×".join(map(str, np.shape(c))) + " array]"


def _operation_text(prim, parents, args, params, n):
    words = [name(p - n + 1) if p is not None else _number(a) for p, a in zip(parents, args)]
    template = _TEMPLATES.get(prim)
    # A constant goes first in a product, and a negative constant turns + into −.
    if prim is core.multiply and parents[0] is not None and parents[1] is None:
        words = words[::-1]
    if prim in (core.add, core.subtract) and parents[1] is None and words[1].startswith(MINUS):
        flipped = core.subtract if prim is core.add else core.add
        return _TEMPLATES[flipped][0](words[0], words[1][1:])
    if template is not None:
        return template[0](*words)
    if prim is core.getitem:
        return f"{words[0]}[{_index_text(params['index'])}]"
    if prim is core.where:
        return f"where(c, {words[1]}, {words[2]})"
    extras = [f"{k}={v}" for k, v in params.items() if v is not None and k != "keepdims"]
    return f"{prim.name}({', '.join(words + extras)})"


def _index_text(index):
    parts = index if isinstance(index, tuple) else (index,)
    def one(p):
        if isinstance(p, slice):
            return ":".join("" if s is None else str(s) for s in (p.start, p.stop)) + \
                ("" if p.step is None else f":{p.step}")
        return "..." if p is Ellipsis else str(p)
    return ", ".join(one(p) for p in parts)


def symbol(prim):
    """The short label of a primitive inside a graph node: '+', 'sin', '/'…"""
    entry = _TEMPLATES.get(prim)
    return entry[1] if entry else prim.name


# ----------------------------------------------------------------------------
# The two sweeps
# ----------------------------------------------------------------------------
def _tangent_sweep(entries, seeds):
    r"""v̇ᵢ = Σⱼ c_ij v̇ⱼ for every row, in order: the forward-mode rules of dual.py on the tape."""
    tangents = list(seeds) + [None] * (len(entries) - len(seeds))
    for i in range(len(seeds), len(entries)):
        prim, parents, args, params, value = entries[i]
        total = None
        for rule, p in zip(jvp_rules[prim], parents):
            if p is None:
                continue
            part = rule(tangents[p], value, *args, **params)
            total = part if total is None else total + part
        if prim in ELEMENTWISE and np.shape(total) != np.shape(value):
            total = np.broadcast_to(total, np.shape(value)).copy()
        tangents[i] = total
    return tangents


def _partials(prim, parents, args, params, value):
    """c_ij = ∂φᵢ/∂vⱼ for each parent of a scalar row (None for array rows)."""
    if np.ndim(value) != 0 or any(np.ndim(a) for a in args):
        return tuple(None for _ in parents)
    out = []
    for rule, p in zip(jvp_rules[prim], parents):
        out.append(None if p is None else float(rule(1.0, value, *args, **params)))
    return tuple(out)


def _unit(value, k=0):
    """The k-th unit direction shaped like `value` (1.0 for a scalar)."""
    if np.ndim(value) == 0:
        return 1.0
    e = np.zeros(np.shape(value))
    e.flat[k] = 1.0
    return e


def _zero(value):
    return 0.0 if np.ndim(value) == 0 else np.zeros(np.shape(value))


def trace(f, *args, seed=None, tangents=None, cotangent=None):
    r"""Record f at `args` and return its evaluation :class:`Trace`.

    Parameters
    ----------
    f : the function, called as ``f(*args)``; it must return one row of its
        trace (a scalar or an array computed from the inputs) or a tuple of rows.
    args : the inputs x₁ … xₙ (floats or numpy arrays); they become v₁₋ₙ … v₀.
    seed : int, optional. Seed the tangent sweep with ẋ = e_seed, the unit
        direction of input number `seed` (0-based; default 0, the first input).
    tangents : tuple, optional. Seed the tangent sweep with these ẋ instead,
        one per input, each shaped like its input.
    cotangent : optional. The ȳ that seeds the adjoint sweep (default 1 for a
        scalar output, the first unit vector otherwise; a tuple for a tuple
        of outputs).

    >>> tr = trace(lambda x1, x2: x1 * x2 - np.cos(x2), 2.0, 3.0)
    >>> print(tr.rows[2].operation)
    v₁ = v₋₁·v₀
    """
    if not args:
        raise ValueError("trace: give f's inputs, e.g. trace(f, 1.5, 0.5)")
    if seed is not None and tangents is not None:
        raise ValueError("trace: give either seed (the index of one input) or tangents, not both")
    tape = Tape(core.new_level())
    boxes = [tape.input(_as_float(a)) for a in args]
    out = f(*boxes)
    outs = out if isinstance(out, tuple) else (out,)
    for k, o in enumerate(outs):
        if not (isinstance(o, Box) and o.tape is tape):
            which = "f's output" if len(outs) == 1 else f"output {k} of f"
            raise ValueError(f"trace: {which} is {o!r}, which does not depend on the inputs; "
                             "a trace needs an output computed from the inputs")
    n = len(boxes)
    entries = tape.entries

    # Tangent seeds.
    if tangents is None:
        seed = 0 if seed is None else seed
        if not (isinstance(seed, (int, np.integer)) and 0 <= seed < n):
            raise ValueError(f"trace: seed must be the index of an input, 0 … {n - 1}; got {seed!r}")
        seeds = [_unit(b.value) if k == seed else _zero(b.value) for k, b in enumerate(boxes)]
    else:
        tangents = tuple(tangents)
        if len(tangents) != n:
            raise ValueError(f"trace: {n} inputs but {len(tangents)} tangents")
        seeds = []
        for k, (t, b) in enumerate(zip(tangents, boxes)):
            t = _as_float(t)
            if np.shape(t) != np.shape(b.value):
                raise ValueError(f"trace: tangent {k} has shape {np.shape(t)}, but input {k} "
                                 f"has shape {np.shape(b.value)}")
            seeds.append(t)
    tangent_column = _tangent_sweep(entries, seeds)

    # Adjoint seeds: the tape's reverse sweep, once per output (the sweep is linear in ȳ).
    if cotangent is None:
        cotangents = tuple(_unit(o.value) if k == 0 else _zero(o.value) for k, o in enumerate(outs))
    else:
        cotangents = cotangent if isinstance(out, tuple) else (cotangent,)
        if len(cotangents) != len(outs):
            raise ValueError(f"trace: {len(outs)} outputs but {len(cotangents)} cotangents")
        cotangents = tuple(_as_float(c) for c in cotangents)
        for k, (c, o) in enumerate(zip(cotangents, outs)):
            if np.shape(c) != np.shape(o.value):
                raise ValueError(f"trace: cotangent {k} has shape {np.shape(c)}, but output {k} "
                                 f"has shape {np.shape(o.value)}")
    adjoint_column = [None] * len(entries)
    for o, c in zip(outs, cotangents):
        for i, a in enumerate(tape.sweep(o.index, c, keep_all=True)):
            if a is not None:
                adjoint_column[i] = a if adjoint_column[i] is None else adjoint_column[i] + a

    rows = []
    for i, (prim, parents, a, params, value) in enumerate(entries):
        g = i - n + 1
        if prim is None:
            op, arguments, used, partials = f"{name(g)} = x{subscript(i + 1)}", (), (), ()
        else:
            op = f"{name(g)} = " + _operation_text(prim, parents, a, params, n)
            arguments = tuple(Constant(x) if p is None else p - n + 1 for p, x in zip(parents, a))
            used = tuple(p - n + 1 for p in parents if p is not None)
            partials = tuple(c for c, p in zip(_partials(prim, parents, a, params, value), parents)
                             if p is not None)
        adjoint = adjoint_column[i] if adjoint_column[i] is not None else _zero(value)
        rows.append(Row(g, op, prim, arguments, used, partials, value, tangent_column[i], adjoint))
    return Trace(rows, n, tuple(o.index - n + 1 for o in outs), isinstance(out, tuple),
                 tuple(seeds), cotangents)


# ----------------------------------------------------------------------------
# The Trace object
# ----------------------------------------------------------------------------
def _fmt(x, digits=4):
    """A value as a table shows it: fixed point with `digits` decimals, or scientific."""
    if x is None:
        return ""
    if np.ndim(x) == 0:
        x = float(x)
        if x == 0:
            return "0"
        if not np.isfinite(x):
            return str(x)
        if 10.0 ** -digits <= abs(x) < 1e6:
            return f"{x:.{digits}f}"
        return f"{x:.{digits}e}"
    return np.array2string(np.asarray(x, dtype=float), precision=digits, threshold=6,
                           edgeitems=2, separator=", ", max_line_width=10**6).replace("\n", "")


#: The graph's geometry in data units: column spacing, unit of height, node box.
COLUMN_STEP, HEIGHT_STEP, NODE_WIDTH, NODE_HEIGHT = 2.1, 1.25, 1.3, 0.92

_COLUMNS = {"operation": "operation", "value": "value", "tangent": "tangent v̇",
            "adjoint": "adjoint v̄"}


class Trace:
    """The evaluation trace of one call of f: rows v₁₋ₙ … vₗ with three columns.

    ``len(trace)`` is the number of rows, inputs included (n + l).
    ``rows[k]`` is the k-th row in order (``rows[0]`` is v₁₋ₙ); ``row(i)`` is
    the row with Griewank index i (``row(-1)`` is v₋₁, not the last row).
    """

    def __init__(self, rows, n_inputs, output_indices, tuple_output, seeds, cotangents):
        self._rows, self.n_inputs = list(rows), n_inputs
        self.output_indices, self._tuple_output = output_indices, tuple_output
        self.seeds, self.cotangents = seeds, cotangents

    # -- access ------------------------------------------------------------
    def __len__(self):
        return len(self._rows)

    def __iter__(self):
        return iter(self._rows)

    @property
    def rows(self):
        """The rows in order, inputs first."""
        return list(self._rows)

    def row(self, i):
        """The row vᵢ, by Griewank's index (1 − n ≤ i ≤ l)."""
        k = i + self.n_inputs - 1
        if not (isinstance(i, (int, np.integer)) and 0 <= k < len(self._rows)):
            raise IndexError(f"Trace.row: index {i!r} is not in {1 - self.n_inputs} … "
                             f"{len(self._rows) - self.n_inputs}")
        return self._rows[k]

    @property
    def indices(self):
        """Griewank's indices of the rows, in order: [1 − n, …, 0, 1, …, l]."""
        return [r.index for r in self._rows]

    @property
    def values(self):
        """The value column, in row order."""
        return [r.value for r in self._rows]

    @property
    def tangents(self):
        """The tangent column v̇, in row order."""
        return [r.tangent for r in self._rows]

    @property
    def adjoints(self):
        """The adjoint column v̄, in row order."""
        return [r.adjoint for r in self._rows]

    def _pick(self, attr):
        picked = tuple(getattr(self.row(i), attr) for i in self.output_indices)
        return picked if self._tuple_output else picked[0]

    @property
    def output(self):
        """y: the value f returned."""
        return self._pick("value")

    @property
    def output_tangent(self):
        """ẏ = f′(x)·ẋ, the JVP along the seed."""
        return self._pick("tangent")

    @property
    def gradient(self):
        """x̄ = (v̄₁₋ₙ, …, v̄₀): the adjoints of the inputs (∇f for a scalar f with ȳ = 1)."""
        return tuple(r.adjoint for r in self._rows[:self.n_inputs])

    def edges(self):
        """Every (j, i) with j ≺ i, one per use (x·x gives the edge twice)."""
        return [(j, r.index) for r in self._rows for j in r.parents]

    # -- tables --------------------------------------------------------------
    def _output_line(self):
        names = [name(i) for i in self.output_indices]
        if len(names) == 1:
            return f"y = {names[0]}"
        return ", ".join(f"y{subscript(k + 1)} = {v}" for k, v in enumerate(names))

    def _cells(self, columns, digits, tangents, adjoints):
        tangents = self.tangents if tangents is None else tangents
        adjoints = self.adjoints if adjoints is None else adjoints
        table = []
        for r, t, a in zip(self._rows, tangents, adjoints):
            cells = {"operation": r.operation, "value": _fmt(r.value, digits),
                     "tangent": _fmt(t, digits), "adjoint": _fmt(a, digits)}
            table.append([cells[c] for c in columns])
        return table

    def table(self, digits=4, columns=("operation", "value", "tangent", "adjoint"),
              tangents=None, adjoints=None):
        """The trace as aligned text. `tangents`/`adjoints` replace a column
        (None entries print blank): the widgets show a sweep half done."""
        _check_columns(columns)
        head = [_COLUMNS[c] for c in columns]
        body = self._cells(columns, digits, tangents, adjoints)
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        numeric = [c != "operation" for c in columns]

        def line(cells):
            return "  ".join(x.rjust(w) if num else x.ljust(w)
                             for x, w, num in zip(cells, widths, numeric)).rstrip()
        rule = "  ".join("─" * w for w in widths)
        return "\n".join([line(head), rule] + [line(b) for b in body] + [rule, self._output_line()])

    def __str__(self):
        return self.table()

    def __repr__(self):
        return f"<Trace: {self.n_inputs} inputs, {len(self) - self.n_inputs} operations, " \
               f"{self._output_line()}>"

    def to_html(self, highlight=None, digits=4,
                columns=("operation", "value", "tangent", "adjoint"),
                tangents=None, adjoints=None, caption=None):
        """An HTML table; the row with Griewank index `highlight` is shaded."""
        _check_columns(columns)
        body = self._cells(columns, digits, tangents, adjoints)
        style = ("border-collapse:collapse;font-family:monospace;font-size:13px")
        parts = [f'<table style="{style}">']
        if caption:
            parts.append(f'<caption style="text-align:left;padding:4px">{_escape(caption)}</caption>')
        parts.append("<tr>" + "".join(
            f'<th style="padding:2px 10px;border-bottom:1px solid #888;text-align:'
            f'{"left" if c == "operation" else "right"}">{_COLUMNS[c]}</th>' for c in columns) + "</tr>")
        for r, cells in zip(self._rows, body):
            shade = "background:#ffe08a;" if r.index == highlight else ""
            sep = "border-top:1px solid #ccc;" if r.index == 1 else ""
            parts.append(f'<tr style="{shade}{sep}">' + "".join(
                f'<td style="padding:2px 10px;text-align:{"left" if c == "operation" else "right"}">'
                f"{_escape(x)}</td>" for c, x in zip(columns, cells)) + "</tr>")
        parts.append(f'<tr><td style="padding:2px 10px;border-top:1px solid #888" '
                     f'colspan="{len(columns)}">{_escape(self._output_line())}</td></tr></table>')
        return "".join(parts)

    def _repr_html_(self):
        return self.to_html()

    # -- the graph -------------------------------------------------------------
    def layout(self):
        """Where the graph's nodes go: ``(positions, routes)``.

        Column of a node = the longest path to it from an input, so every edge
        points right. An edge that skips columns gets a waypoint in each column
        it crosses (Sugiyama's dummy nodes), so it never runs through a box.
        Within a column, nodes and waypoints are ordered by a few sweeps of the
        barycentre heuristic (mean position of the neighbours) to uncross edges.
        ``positions`` maps a row's index to its box's centre (x, y) in data
        units; ``routes`` maps an edge (j, i) to its list of waypoints.
        """
        layer = {}
        for r in self._rows:
            layer[r.index] = 0 if not r.parents else 1 + max(layer[j] for j in r.parents)
        columns = {c: [] for c in range(1 + max(layer.values()))}
        for r in self._rows:
            columns[layer[r.index]].append(r.index)
        preds = {r.index: [] for r in self._rows}
        succs = {r.index: [] for r in self._rows}
        for j, i in dict.fromkeys(self.edges()):  # one route per pair, even for x·x
            chain = [j] + [("way", j, i, c) for c in range(layer[j] + 1, layer[i])] + [i]
            for c, node in zip(range(layer[j] + 1, layer[i]), chain[1:-1]):
                columns[c].append(node)
                preds[node], succs[node] = [], []
            for a, b in zip(chain, chain[1:]):
                succs[a].append(b)
                preds[b].append(a)
        rank = {node: float(k) for col in columns.values() for k, node in enumerate(col)}
        for _ in range(6):
            for order, nbrs in ((range(1, len(columns)), preds),
                                (range(len(columns) - 2, -1, -1), succs)):
                for c in order:
                    col = columns[c]
                    col.sort(key=lambda v: (np.mean([rank[u] for u in nbrs[v]]) if nbrs[v] else rank[v],
                                            rank[v]))
                    for k, v in enumerate(col):
                        rank[v] = float(k)
        # Heights: a full step between boxes, less next to a waypoint; columns centred.
        height = {}
        for col in columns.values():
            y, prev = 0.0, None
            for v in col:
                if prev is not None:
                    y -= 1.0 if isinstance(v, int) and isinstance(prev, int) else 0.6
                height[v], prev = y, v
            shift = -y / 2
            for v in col:
                height[v] += shift
        # Columns far enough apart that a steep edge clears the boxes above and
        # below its ends: rising |Δy| over Δx, it must stay under the next box's
        # corner, at height HEIGHT_STEP − NODE_HEIGHT/2, until x = NODE_WIDTH/2.
        steepest = [0.0] * len(columns)
        for c, col in columns.items():
            for v in col:
                for u in succs[v]:
                    steepest[c] = max(steepest[c], abs(height[u] - height[v]) * HEIGHT_STEP)
        clearance = (HEIGHT_STEP - NODE_HEIGHT / 2 - 0.05) / (NODE_WIDTH / 2)
        x_of = [0.0]
        for c in range(1, len(columns)):
            x_of.append(x_of[-1] + max(COLUMN_STEP, steepest[c - 1] / clearance))
        positions = {r.index: (x_of[layer[r.index]], height[r.index] * HEIGHT_STEP) for r in self._rows}
        routes = {(j, i): [(x_of[c], height[("way", j, i, c)] * HEIGHT_STEP)
                           for c in range(layer[j] + 1, layer[i])]
                  for j, i in dict.fromkeys(self.edges())}
        return positions, routes

    def draw(self, ax=None, highlight=None, show="value", labels=None, digits=4,
             dim=(), flow="forward", edge_labels=False):
        """Draw the computational graph with matplotlib; return the axes.

        Each node shows its name, its operation's symbol and, below, the
        column named by `show` ('value', 'tangent', 'adjoint' or None);
        `labels` ({i: text}) replaces that text per node. The node `highlight`
        and its edges are coloured: the edges from its parents point into it
        (flow='forward': the tangent sweep reads them) or back out to its
        parents (flow='reverse': the adjoint sweep sends v̄ᵢ·c_ij along them).
        Nodes in `dim` are faded. `edge_labels=True` writes c_ij on each edge.
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
        from matplotlib.path import Path

        if show not in (None, "value", "tangent", "adjoint"):
            raise ValueError(f"Trace.draw: show must be 'value', 'tangent', 'adjoint' or None, got {show!r}")
        if flow not in ("forward", "reverse"):
            raise ValueError(f"Trace.draw: flow must be 'forward' or 'reverse', got {flow!r}")
        positions, routes = self.layout()
        w, h = NODE_WIDTH, NODE_HEIGHT
        xy = positions
        xs, ys = [p[0] for p in xy.values()], [p[1] for p in xy.values()]
        ys += [y for route in routes.values() for _, y in route]
        if ax is None:
            width, height = max(xs) - min(xs) + w + 0.4, max(ys) - min(ys) + h + 0.4
            _, ax = plt.subplots(figsize=(0.9 * width, 0.9 * height))
        hot, cold = "#d9480f", "#6c6c6c"
        dim = set(dim)

        def boundary(centre, towards, pad=0.05):
            """Where the segment from a box's centre towards a point leaves the box."""
            (cx, cy), (px, py) = centre, towards
            dx, dy = px - cx, py - cy
            t = min((w / 2 + pad) / abs(dx) if dx else np.inf, (h / 2 + pad) / abs(dy) if dy else np.inf)
            return cx + t * dx, cy + t * dy

        uses = {}
        for j, i in self.edges():
            uses[(j, i)] = uses.get((j, i), 0) + 1
        for (j, i), count in uses.items():
            is_hot = highlight is not None and i == highlight
            faded = (i in dim or j in dim) and not is_hot
            way = routes[(j, i)]
            for k in range(count):
                start = boundary(xy[j], way[0] if way else xy[i])
                end = boundary(xy[i], way[-1] if way else xy[j])
                points = [start] + way + [end]
                if flow == "reverse" and is_hot:
                    points = points[::-1]
                if count > 1:  # x·x: the same pair twice, bent apart
                    (cx0, cy0), (cx1, cy1) = xy[j], xy[i]
                    bend = 0.35 * (1 if k % 2 == 0 else -1) * (1 + k // 2)
                    mid = ((cx0 + cx1) / 2 - bend * (cy1 - cy0), (cy0 + cy1) / 2 + bend * (cx1 - cx0))
                    ends = [boundary(xy[j], mid), boundary(xy[i], mid)]
                    if flow == "reverse" and is_hot:
                        ends = ends[::-1]
                    path = Path([ends[0], mid, ends[1]], [Path.MOVETO, Path.CURVE3, Path.CURVE3])
                else:
                    path = _smooth(points)
                ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=13,
                                             color=hot if is_hot else cold, lw=2.4 if is_hot else 1.1,
                                             alpha=0.3 if faded else 1.0, zorder=2 if is_hot else 1))
            if edge_labels:
                c = self.row(i).partials[self.row(i).parents.index(j)]
                if c is not None:
                    a = xy[j] if not way else way[-1]
                    mx, my = (a[0] + xy[i][0]) / 2, (a[1] + xy[i][1]) / 2
                    ax.text(mx, my, _fmt(c, 2), fontsize=7.5, color="#333", ha="center", va="center",
                            zorder=2.5, bbox=dict(fc="white", ec="none", pad=0.6, alpha=0.9))

        for r in self._rows:
            x, y = xy[r.index]
            is_hot = r.index == highlight
            is_input = r.primitive is None
            alpha = 0.35 if r.index in dim and not is_hot else 1.0
            face = "#ffe08a" if is_hot else ("#e7f0fa" if is_input else "white")
            ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                        boxstyle="round,pad=0,rounding_size=0.15", fc=face,
                                        ec=hot if is_hot else "#333", lw=2.2 if is_hot else 1.0,
                                        zorder=3, alpha=alpha))
            label = f"x{subscript(r.index + self.n_inputs)}" if is_input else symbol(r.primitive)
            ax.text(x, y + 0.25, r.name, ha="center", va="center", fontsize=11, fontweight="bold",
                    zorder=4, alpha=alpha)
            ax.text(x, y + 0.02, label, ha="center", va="center", fontsize=8.5, color="#555",
                    zorder=4, alpha=alpha)
            if labels is not None and r.index in labels:
                text = labels[r.index]
            elif show is None:
                text = ""
            else:
                shown = getattr(r, show)
                text = _fmt(shown, digits) if np.ndim(shown) == 0 else \
                    "shape " + "×".join(map(str, np.shape(shown)))
            ax.text(x, y - 0.24, text, ha="center", va="center", fontsize=9.5,
                    color=hot if is_hot else "black", zorder=4, alpha=alpha)
        ax.set_xlim(min(xs) - w / 2 - 0.2, max(xs) + w / 2 + 0.2)
        ax.set_ylim(min(ys) - h / 2 - 0.2, max(ys) + h / 2 + 0.2)
        ax.set_aspect("equal")
        ax.axis("off")
        return ax


def _smooth(points):
    """A path through `points`: straight for two, else quadratic Béziers with the
    waypoints as control points (a smooth bend instead of a kink)."""
    from matplotlib.path import Path
    if len(points) == 2:
        return Path(points)
    verts, codes = [points[0]], [Path.MOVETO]
    inner = points[1:-1]
    for k, wpt in enumerate(inner):
        nxt = points[-1] if k == len(inner) - 1 else \
            ((wpt[0] + inner[k + 1][0]) / 2, (wpt[1] + inner[k + 1][1]) / 2)
        verts += [wpt, nxt]
        codes += [Path.CURVE3, Path.CURVE3]
    return Path(verts, codes)


def _check_columns(columns):
    bad = [c for c in columns if c not in _COLUMNS]
    if bad:
        raise ValueError(f"unknown column {bad[0]!r}; choose from {', '.join(_COLUMNS)}")


def _escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
