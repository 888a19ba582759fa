r"""Lesson 5's checks: cases, oracles and hints of Tasks 5.1–5.6.

Task 5.1 the elemental partials c_ij = ∂φ_i/∂v_j; 5.2 the matrix C of a
trace; 5.3 A_i, the Jacobian of the state map Φ_i; 5.4 F′ = Q A_l ⋯ A_1 Pᵀ;
5.5 F′ᵀ = P A_1ᵀ ⋯ A_lᵀ Qᵀ; 5.6 Jᵀȳ from JVPs alone, entry j = ⟨ȳ, J e_j⟩
(the dot-product identity ⟨ȳ, Jv⟩ = ⟨Jᵀȳ, v⟩). The conventions and the answer
key are in :mod:`.material`.

Every expected value is computed here, at import, from :mod:`autodiff_ref`
(traces, jvp, vjp) and numpy functions bound at import, before any student
cell runs. ``hidden=True`` selects the larger case table.
"""
import numpy as _np

from autodiff_ref import jacfwd as _jacfwd
from autodiff_ref import trace as _trace
from autodiff_ref import vjp as _vjp
from autodiff_ref.core import Tracer as _Tracer
from autodiff_ref.reverse import Box as _Box
from autograder.checks import NOT_DONE_HINT, Named, Raised, as_floats, attempt, passed, same
from autograder.checks import CheckFailure

from ..examples import ELEMENTAL, NUMPY, WORKED_POINT
from .material import (PROGRAMS, VECTOR_FUNCTIONS, extended_reference, jacobian_forward_reference,
                       jacobian_reverse_reference, position, product, random_extended, state_jacobian_reference)

_sin, _cos, _exp, _log = NUMPY
_tanh, _sqrt = _np.tanh, _np.sqrt
_array, _asarray, _eye, _zeros, _stack = _np.array, _np.asarray, _np.eye, _np.zeros, _np.stack
VISIBLE_SEED, HIDDEN_SEED = 5, 55


def _seed(hidden):
    return HIDDEN_SEED if hidden else VISIBLE_SEED


class Shown(Named):
    """A case input shown by a short description instead of its (long) repr; ``.value`` is it."""

    @property
    def value(self):
        return self.f


def _numbers(got):
    """The student's answer as a float array; None for a tracer or anything not numeric."""
    return None if isinstance(got, _Tracer) else as_floats(got)


def _looks_like(got, target):
    """The answer matches a known (right or wrong) result: recognising a misconception."""
    return same(_numbers(got), target, "recognise")


def _raised_hint(got, index_hint=None):
    if isinstance(got, Raised):
        if got.not_done:
            return NOT_DONE_HINT
        if index_hint and isinstance(got.err, IndexError):
            return f"your code raised {got!r}: {index_hint}"
        return f"your code raised {got!r} on this input"
    if isinstance(got, _Tracer):
        return "you returned a tracer (a Dual or a Box), not numbers: read off its tangent"
    return None


def _run(student, reference, cases, what, hint, tol):
    """Compare ``student(*case)`` with ``reference(*case)`` on every case, simplest first.

    Like :func:`autograder.checks.check_cases`, except that an exception is handed
    to `hint` as :class:`Raised` too (an IndexError or a reverse-mode tracer has its own hint)."""
    for case in cases:
        expected = reference(*case)
        got = attempt(student, *case)
        if not same(got, expected, tol):
            raise CheckFailure(what, inputs=case, expected=expected, got=got, hint=hint(case, expected, got))
    return len(cases)


class TraceCase:
    """A recorded trace with its N, n, m, the reference C and Jacobian."""

    def __init__(self, label, f, point):
        self.label, self.f, self.point = label, f, tuple(point)
        self.trace = _trace(f, *point)
        self.n = self.trace.n_inputs
        self.N = len(self.trace)
        outs = self.trace.output_indices
        self.m = len(outs)
        if list(outs) != list(range(self.N - self.n - self.m + 1, self.N - self.n + 1)):
            raise ValueError(f"{label}: the outputs must be the last rows of the trace")
        self.C = extended_reference(self.trace)
        stacked = lambda x: _stack(f(*x)) if self.m > 1 else f(*x)  # noqa: E731
        self.J = _asarray(_jacfwd(stacked)(_array(point, dtype=float))).reshape(self.m, self.n)

    def __repr__(self):
        return f"trace of {self.label} at ({', '.join(f'{p:g}' for p in self.point)})"


def _trace_cases(seed, per_program):
    rng = _np.random.default_rng(seed)
    cases = [TraceCase(PROGRAMS[0][0], PROGRAMS[0][1], WORKED_POINT)]
    for label, f, (lo, hi) in PROGRAMS:
        for _ in range(per_program):
            point = tuple(round(float(v), 3) for v in rng.uniform(lo, hi, size=f.__code__.co_argcount))
            cases.append(TraceCase(label, f, point))
    return cases


TRACE_CASES = {seed: _trace_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 3))}


# --------------------------------------------------------------------------
# Task 5.1: elemental partials
# --------------------------------------------------------------------------
#: op name -> the elemental partials (∂φ/∂a, ∂φ/∂b, …) at the argument values.
ELEMENTAL_PARTIALS = {op: e.partials for op, e in ELEMENTAL.items() if op != "power"}
_DOMAINS = {"log": (0.2, 3.0), "sqrt": (0.2, 3.0), "divide": (0.4, 2.5)}


def _partials_cases(seed, per_op):
    rng = _np.random.default_rng(seed)
    cases = [("divide", (1.5, 0.5)), ("multiply", (2.0, 3.0)), ("subtract", (1.0, 2.0))]
    for op, fn in ELEMENTAL_PARTIALS.items():
        lo, hi = _DOMAINS.get(op, (-2.0, 2.0))
        for _ in range(per_op):
            args = tuple(round(float(v), 3) for v in rng.uniform(lo, hi, size=fn.__code__.co_argcount))
            if op == "divide":
                args = (round(float(rng.uniform(-2, 2)), 3), args[1])
            cases.append((op, args))
    return cases


PARTIALS_CASES = {seed: _partials_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 4))}


def _wrong_partials(op, a, b):
    """Known wrong partials of `op` at (a, b): [(partials, what is wrong)]."""
    rule = ELEMENTAL[op].rules
    return {
        "divide": lambda: [((1 / b, a / (b * b)), f"sign: {rule[1]}, the quotient falls as b grows"),
                           ((1 / b, -1 / (b * b)), f"{rule[1]}: you dropped the numerator a"),
                           ((1 / b, -a / b), f"{rule[1]}, with b squared"),
                           ((-a / (b * b), 1 / b), "the two partials are swapped: ∂/∂a = 1/b comes first")],
        "multiply": lambda: [((a, b), "∂(a·b)/∂a is the OTHER factor, b (and ∂/∂b = a)")],
        "subtract": lambda: [((1.0, 1.0), rule[1]), ((-1.0, 1.0), "the signs are swapped: (1, −1)")],
        "add": lambda: [((1.0, -1.0), rule[1])],
        "negative": lambda: [((1.0,), rule[0])],
        "cos": lambda: [((_sin(a),), f"sign: {rule[0]}")],
        "sin": lambda: [((-_cos(a),), f"sign: {rule[0]}")],
        "log": lambda: [((a,), rule[0]), ((_log(a),), f"{rule[0]}, not ln a")],
        "sqrt": lambda: [((1 / _sqrt(a),), f"the ½ is missing: {rule[0]}"),
                         ((0.5 * _sqrt(a),), f"{rule[0]}: the square root goes in the denominator")],
        "tanh": lambda: [((1 - a * a,), f"{rule[0]}: square the VALUE tanh(a), not the argument a"),
                         ((1 + _tanh(a) ** 2,), f"sign: {rule[0]}")],
        "exp": lambda: [((a,), f"{rule[0]}: the partial is eᵃ itself")],
    }.get(op, list)()


def _partials_hint(case, expected, got):
    h = _raised_hint(got)
    if h:
        return h
    op, args = case
    g, k = _numbers(got), len(args)
    if g is None or g.shape != (k,):
        return (f"return a tuple with one partial per argument — {op} takes {k}, so "
                + ("(∂φ/∂a, ∂φ/∂b)" if k == 2 else "(∂φ/∂a,)  — note the comma"))
    for target, msg in _wrong_partials(op, args[0], args[1] if k == 2 else None):
        if _looks_like(g, target):
            return msg
    return f"look up the derivative of {op} in your lesson-1 rules; one entry per argument"


def check_elemental_partials(elemental_partials, *, hidden=False):
    """Task 5.1: ``elemental_partials(op, args)`` gives ∂φ/∂ each argument."""
    n = _run(elemental_partials, lambda op, args: _asarray(ELEMENTAL_PARTIALS[op](*args)),
             PARTIALS_CASES[_seed(hidden)], "elemental_partials(op, args)", _partials_hint, "exact")
    passed("elemental_partials(op, args) matches c_ij for every primitive", n)


# --------------------------------------------------------------------------
# Task 5.2: the extended matrix C
# --------------------------------------------------------------------------
def _index_hint(n):
    return (f"v_i sits at position i + n − 1 = i + {n - 1} of the extended vector "
            f"(v₁₋ₙ is position 0, vₗ is position N − 1)")


def _placed(tc, where, accumulate=True):
    """C with each c_ij at `where(i, j)`, summed (or the last one kept) over repeated parents."""
    C = _zeros((tc.N, tc.N))
    for row in tc.trace.rows:
        for j, c in zip(row.parents, row.partials):
            C[where(row.index, j)] = C[where(row.index, j)] + c if accumulate else c
    return C


def _extended_hint(case, expected, got):
    (tc,) = case
    n = tc.n
    h = _raised_hint(got, _index_hint(n))
    if h:
        return h
    g = _numbers(got)
    if g is None or g.shape != expected.shape:
        return (f"C is N×N with N = n + l = {tc.N}: one row and one column per variable of the trace, "
                f"inputs included; yours has shape {None if g is None else g.shape}")
    no_sum = _placed(tc, lambda i, j: (position(i, n), position(j, n)), accumulate=False)
    known = [(expected.T, "transposed: c_ij belongs in ROW i (the row computed) and COLUMN j (its argument)"),
             (expected - _eye(tc.N), "that is E′ = C − I, the Jacobian of the extended system; "
                                     "C itself has a zero diagonal"),
             (_eye(tc.N) - expected, "that is I − C; C holds the elemental partials themselves, with a zero "
                                     "diagonal"),
             (_placed(tc, lambda i, j: (i % tc.N, j % tc.N)),
              "you used Griewank's index i as the matrix position; numpy reads −1 as the LAST row. "
              + _index_hint(n)),
             (None if _looks_like(no_sum, expected) else no_sum,
              "a row that uses the same variable twice (v·v) has two partials for that one entry: "
              "add them (+=), do not overwrite (=)")]
    for target, msg in known:
        if target is not None and _looks_like(g, target):
            return msg
    return "C[i + n − 1, j + n − 1] = c_ij for every row i and every parent j of it (row.parents, row.partials)"


def check_extended_matrix(extended_matrix, *, hidden=False):
    """Task 5.2: ``extended_matrix(tr)`` is the N×N matrix of elemental partials of a trace."""
    cases = [(tc,) for tc in TRACE_CASES[_seed(hidden)]]
    n = _run(lambda tc: extended_matrix(tc.trace), lambda tc: tc.C, cases,
             "extended_matrix(tr)", _extended_hint, "exact")
    passed("extended_matrix(tr) places every c_ij", n)


# --------------------------------------------------------------------------
# Task 5.3: the state Jacobian A_i
# --------------------------------------------------------------------------
def _matrix_cases(seed, count):
    """(C, n, m) triples: the traces of the test programs, then random extended systems."""
    rng = _np.random.default_rng(seed)
    cases = [(Shown(f"C of the {tc!r}", tc.C), tc.n, tc.m) for tc in TRACE_CASES[seed]]
    for _ in range(count):
        n, l = int(rng.integers(1, 4)), int(rng.integers(3, 8))
        m = int(rng.integers(1, min(l, 3) + 1))
        C = random_extended(rng, n, l)
        cases.append((Shown(f"random {n + l}×{n + l} C (n = {n}, l = {l})\n{C}", C), n, m))
    return cases


MATRIX_CASES = {seed: _matrix_cases(seed, count) for seed, count in ((VISIBLE_SEED, 3), (HIDDEN_SEED, 12))}
STATE_CASES = {seed: [(Cs, n, i) for Cs, n, m in MATRIX_CASES[seed]
                      for i in sorted({1, Cs.value.shape[0] - n, (Cs.value.shape[0] - n + 1) // 2})]
               for seed in (VISIBLE_SEED, HIDDEN_SEED)}


def _with_row(C, k):
    """The identity with row k replaced by row k of C."""
    A = _eye(C.shape[0])
    A[k, :] = C[k, :]
    return A


def _state_hint(case, expected, got):
    Cs, n, i = case
    C = Cs.value
    N = C.shape[0]
    h = _raised_hint(got, _index_hint(n))
    if h:
        return h
    g = _numbers(got)
    if g is None or g.shape != (N, N):
        return f"A_i is N×N = {N}×{N}: the identity with one row replaced"
    k = position(i, n)
    column = _eye(N)
    column[:, k] = C[:, k]
    keep_one = expected.copy()
    keep_one[k, k] = 1.0
    known = [(column, "you replaced a COLUMN: the c_ij of v_i sit in row i + n − 1 (v_i is computed from its "
                      "parents)"),
             (keep_one, "the diagonal entry of that row must be 0, not 1: Φ_i overwrites v_i with φ_i(…), "
                        "it does not add to the old value (A_i = I + e(∇φ_i − e)ᵀ)")]
    known += [(_with_row(C, k + shift), "off by one row: " + _index_hint(n))
              for shift in (-1, 1) if 0 <= k + shift < N]
    known.append((_eye(N) + C, "only ONE row of the identity changes — row i + n − 1; the other operations "
                               "keep their values"))
    for target, msg in known:
        if _looks_like(g, target):
            return msg
    return "A_i = identity, except row i + n − 1, which is row i + n − 1 of C"


def check_state_jacobian(state_jacobian, *, hidden=False):
    """Task 5.3: ``state_jacobian(C, n, i)`` is A_i, the Jacobian of Φ_i."""
    n = _run(lambda Cs, n, i: state_jacobian(Cs.value.copy(), n, i),
             lambda Cs, n, i: state_jacobian_reference(Cs.value, n, i), STATE_CASES[_seed(hidden)],
             "state_jacobian(C, n, i)", _state_hint, "exact")
    passed("state_jacobian(C, n, i) is A_i", n)


# --------------------------------------------------------------------------
# Tasks 5.4 and 5.5: accumulating the product, from either end
# --------------------------------------------------------------------------
_RECIPE = {
    "forward": "J = Q A_l ⋯ A_1 Pᵀ: start from Pᵀ (the first n columns of I), multiply by A_1, A_2, …, "
               "then keep the last m rows",
    "reverse": "Jᵀ = P A_1ᵀ ⋯ A_lᵀ Qᵀ: start from Qᵀ (the last m columns of I), multiply by A_lᵀ, "
               "A_{l−1}ᵀ, …, A_1ᵀ, keep the first n rows, and transpose",
}


def _order_hint(mode, C, n, m, g, expected):
    """Recognise a product taken in the wrong order (or, in reverse mode, without transposes)."""
    N = C.shape[0]
    l = N - n

    def is_it(wrong):
        return not _looks_like(wrong, expected) and _looks_like(g, wrong)
    if mode == "forward":
        if is_it(product(C, n, range(l, 0, -1))[N - m:, :n]):
            return ("the product is in the wrong order: A₁ must act first (rightmost), "
                    "J = Q A_l ⋯ A₂ A₁ Pᵀ — each A_i needs the tangents of the rows before it")
        return None
    untransposed = is_it(product(C, n, range(l, 0, -1))[:n, N - m:].T)
    misordered = is_it(product(C, n, range(1, l + 1), transpose=True)[:n, N - m:].T)
    if untransposed and misordered:  # on this input the two mistakes give the same numbers
        return ("either the product is in the wrong order or the A_i are not transposed: "
                "x̄ = P A₁ᵀ ⋯ A_lᵀ Qᵀ ȳ — multiply by the TRANSPOSES, A_lᵀ first, down to A₁ᵀ")
    if untransposed:
        return "multiply by the TRANSPOSES A_iᵀ: the adjoint of v_i flows back to its parents"
    if misordered:
        return ("the product is in the wrong order: the output's row is processed first, "
                "x̄ = P A₁ᵀ ⋯ A_lᵀ Qᵀ ȳ — apply A_lᵀ first and go down to A₁ᵀ")
    return None


def _accumulation_hint(mode):
    def hint(case, expected, got):
        Cs, n, m = case
        N = Cs.value.shape[0]
        h = _raised_hint(got)
        if h:
            return h
        g = _numbers(got)
        shape = None if g is None else g.shape
        if shape == (n, m) and (n, m) != (m, n):
            return f"you returned Jᵀ ({n}×{m}); return the Jacobian J, shape m×n = {m}×{n}"
        if shape == (m, n) and n == m and _looks_like(g, expected.T) and not _looks_like(g, expected):
            return "you returned Jᵀ; return J itself (transpose the result of the reverse accumulation)"
        if shape in ((N, n), (N, m), (N, N)):
            return (f"the shape {shape} is the whole extended system: keep the inputs' columns (Pᵀ) and "
                    f"the outputs' rows (Q), giving the m×n = {m}×{n} Jacobian")
        if shape != (m, n):
            return f"return the m×n = {m}×{n} Jacobian"
        return _order_hint(mode, Cs.value, n, m, g, expected) or _RECIPE[mode]
    return hint


def _check_accumulation(mode, student, reference, hidden):
    what = f"jacobian_{mode}(C, n, m)"
    return _run(lambda Cs, n, m: student(Cs.value.copy(), n, m),
                lambda Cs, n, m: reference(Cs.value, n, m), MATRIX_CASES[_seed(hidden)], what,
                _accumulation_hint(mode), "rounding")


def check_jacobian_forward(jacobian_forward, *, hidden=False):
    """Task 5.4: ``jacobian_forward(C, n, m)`` is Q A_l ⋯ A_1 Pᵀ (m×n)."""
    n = _check_accumulation("forward", jacobian_forward, jacobian_forward_reference, hidden)
    passed("jacobian_forward(C, n, m) accumulates Q A_l ⋯ A_1 Pᵀ", n)


def check_jacobian_reverse(jacobian_reverse, *, hidden=False):
    """Task 5.5: ``jacobian_reverse(C, n, m)`` is J from P A_1ᵀ ⋯ A_lᵀ Qᵀ."""
    n = _check_accumulation("reverse", jacobian_reverse, jacobian_reverse_reference, hidden)
    passed("jacobian_reverse(C, n, m) accumulates P A_1ᵀ ⋯ A_lᵀ Qᵀ", n)


# --------------------------------------------------------------------------
# Task 5.6: the transpose of a JVP, by the dot-product identity
# --------------------------------------------------------------------------
def _vjp_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    name, f, _, _ = VECTOR_FUNCTIONS[0]
    cases = [(Named(name, f), _array([1.5, 0.6]), _array([1.0, 0.0]))]
    for name, f, n, (lo, hi) in VECTOR_FUNCTIONS:
        for _ in range(per_function):
            x = _np.round(rng.uniform(lo, hi, size=n), 3)
            m = _np.size(f(x))
            ybar = _np.round(rng.normal(size=m), 3) if _np.ndim(f(x)) else round(float(rng.normal()), 3)
            cases.append((Named(name, f), x, ybar))
    return cases


def _vjp_table(cases):
    """id(x) -> the VJP, the Jacobian and (for square J) J ȳ, the untransposed mistake."""
    table = {}
    for f, x, ybar in cases:
        J = _asarray(_jacfwd(f)(x)).reshape(_np.size(f(x)), x.size)
        table[id(x)] = dict(vjp=_vjp(f, x)[1](ybar)[0], J=J,
                            Jy=J @ _np.atleast_1d(ybar) if J.shape[0] == J.shape[1] else None)
    return table


VJP_CASES = {seed: _vjp_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 4))}
VJP_TABLE = {seed: _vjp_table(cases) for seed, cases in VJP_CASES.items()}


class _ReverseModeUsed(Exception):
    pass


def _forward_only(f):
    """f, refusing to be evaluated on reverse-mode tracers (Box) at any nesting depth."""
    def wrapped(x):
        t = x
        while isinstance(t, _Tracer):
            if isinstance(t, _Box):
                raise _ReverseModeUsed("f was called on a reverse-mode Box")
            t = t.value
        return f(x)
    return Named(repr(f), wrapped)


def _vjp_hint_for(table):
    def hint(case, expected, got):
        f, x, ybar = case
        if isinstance(got, Raised) and isinstance(got.err, _ReverseModeUsed):
            return ("f was evaluated on a reverse-mode tracer: vjp, grad and jacrev are off limits here — "
                    "build Jᵀȳ from jvp alone, entry j = ⟨ȳ, J e_j⟩")
        h = _raised_hint(got)
        if h:
            return h
        t = table[id(x)]
        g = _numbers(got)
        if g is not None and g.shape == t["J"].shape and g.shape != x.shape:
            return "that is the whole Jacobian J; contract it with ȳ: Jᵀȳ, entry j = ⟨ȳ, J e_j⟩"
        if g is None or g.shape != x.shape:
            return (f"Jᵀȳ lives in the INPUT space: a vector shaped like x {x.shape}, one entry per "
                    f"direction e_j; yours has shape {None if g is None else g.shape}")
        if t["Jy"] is not None and _looks_like(g, t["Jy"]):
            return ("that is J ȳ, not Jᵀ ȳ: entry j must be ⟨ȳ, J e_j⟩ = ⟨ȳ, column j of J⟩, "
                    "not row j of J times ȳ")
        if _looks_like(g, -expected):
            return "the sign is flipped: (Jᵀȳ)_j = +⟨ȳ, J e_j⟩"
        return "entry j of Jᵀȳ is ⟨ȳ, J e_j⟩: one jvp per unit vector e_j, then a dot product with ȳ"
    return hint


def check_vjp_from_jvp(vjp_from_jvp, *, hidden=False):
    """Task 5.6: ``vjp_from_jvp(f, x, ybar)`` is Jᵀȳ, computed with jvp only."""
    seed = _seed(hidden)
    cases = [(_forward_only(f), x, ybar) for f, x, ybar in VJP_CASES[seed]]
    by_x = VJP_TABLE[seed]
    n = _run(lambda f, x, ybar: vjp_from_jvp(f, x.copy(), _np.copy(ybar)),
             lambda f, x, ybar: by_x[id(x)]["vjp"], cases, "vjp_from_jvp(f, x, ybar)", _vjp_hint_for(by_x),
             "rounding")
    passed("vjp_from_jvp(f, x, ybar) equals the VJP of reverse mode, built from JVPs only", n)
