r"""Lesson 5, JVPs and VJPs as linear maps: the checks, and the lesson's figures.

Checks (each prints a ✓ line or raises :class:`~autograder.checks.CheckFailure`):

============================  ======================================================
``check_elemental_partials``  Task 5.1, c_ij = ∂φ_i/∂v_j of each primitive
``check_extended_matrix``     Task 5.2, the matrix C of elemental partials of a trace
``check_state_jacobian``      Task 5.3, A_i, the Jacobian of the state map Φ_i
``check_jacobian_forward``    Task 5.4, F′ = Q A_l ⋯ A_1 Pᵀ, accumulated from the inputs
``check_jacobian_reverse``    Task 5.5, F′ᵀ = P A_1ᵀ ⋯ A_lᵀ Qᵀ, accumulated from the outputs
``check_vjp_from_jvp``        Task 5.6, Jᵀȳ from JVPs alone: the transpose by ⟨ȳ, Jv⟩ = ⟨Jᵀȳ, v⟩
============================  ======================================================

Conventions (Griewank's): a trace has n inputs v_{1−n} … v_0 and l operations
v_1 … v_l; the outputs are the last m of them. The extended vector
(v_{1−n}, …, v_l) has N = n + l entries, and v_i sits at position ``i + n − 1``
(0-based). C is N×N with C[i+n−1, j+n−1] = c_ij.

Every expected value is computed here, at import, from :mod:`autodiff_ref`
(traces, jvp, vjp) and numpy functions bound at import, before any student
cell runs. ``hidden=True`` selects the larger case table of the hidden tests.

Figures: :func:`worked_example`, :func:`plot_matrix`, :func:`plot_extended_step` /
:func:`extended_system_widget` (the A_i and their running product, forward or
reverse), :func:`plot_linear_map` / :func:`linear_map_widget` (the unit circle
mapped by J and by Jᵀ), :func:`chain_cost` (multiplying a chain of Jacobians
from either end).
"""
import math

import numpy as _np

from autodiff_ref import jacfwd as _jacfwd
from autodiff_ref import jvp as _jvp
from autodiff_ref import trace as _trace
from autodiff_ref import vjp as _vjp
from autodiff_ref.core import Tracer as _Tracer
from autodiff_ref.reverse import Box as _Box
from autodiff_ref.trace import name as _row_name
from autograder.checks import check_cases, passed

# Bound once, at import, so a notebook's later rebinding cannot reach the checks.
_sin, _cos, _exp, _log, _tanh, _sqrt = _np.sin, _np.cos, _np.exp, _np.log, _np.tanh, _np.sqrt
_array, _asarray, _eye, _zeros, _allclose = _np.array, _np.asarray, _np.eye, _np.zeros, _np.allclose
_stack = _np.stack
VISIBLE_SEED, HIDDEN_SEED = 5, 55


class _Named:
    """A test function that prints as its formula in a failure message."""

    def __init__(self, name, f):
        self.name, self.f = name, f

    def __call__(self, *args):
        return self.f(*args)

    def __repr__(self):
        return self.name


class _Raised:
    """What came back when the student's code raised: shown as the exception."""

    def __init__(self, err):
        self.err = err

    def __repr__(self):
        return f"{type(self.err).__name__}: {self.err}"


class _Shown:
    """An input shown by a short description instead of its (long) repr."""

    def __init__(self, text, value):
        self.text, self.value = text, value

    def __repr__(self):
        return self.text


def _catching(student):
    def call(*args):
        try:
            return student(*args)
        except Exception as err:  # reported as the student's result on this input
            return _Raised(err)
    return call


def _as_array(got):
    if isinstance(got, (_Raised, _Tracer)):
        return None
    try:
        return _asarray(got, dtype=float)
    except (TypeError, ValueError):
        return None


def _same(got, target, rtol=1e-9, atol=1e-12):
    g = _as_array(got)
    t = _asarray(target, dtype=float)
    return g is not None and g.shape == t.shape and bool(_allclose(g, t, rtol=rtol, atol=atol))


def _raised_hint(got, index_hint=None):
    if isinstance(got, _Raised):
        if index_hint and isinstance(got.err, IndexError):
            return f"your code raised {got!r}: {index_hint}"
        return f"your code raised {got!r} on this input"
    if isinstance(got, _Tracer):
        return "you returned a tracer (a Dual or a Box), not numbers: read off its tangent"
    return None


# --------------------------------------------------------------------------
# The worked example and the test programs
# --------------------------------------------------------------------------

def worked_example(x1, x2):
    r"""The lecture slides' example,
    :math:`[\sin(x_1/x_2) + x_1/x_2 - e^{x_2}]\,[x_1/x_2 - e^{x_2}]`, with the
    shared subexpressions computed once (six operations)."""
    v1 = x1 / x2
    v2 = _sin(v1)
    v3 = _exp(x2)
    v4 = v1 - v3
    v5 = v2 + v4
    return v5 * v4


def _g(x1, x2):
    return x1 * x2 - _cos(x2)


def _square_plus_sin(x1, x2):
    return x1 * x1 + _sin(x2)


def _polar(r, theta):
    c = _cos(theta)
    s = _sin(theta)
    return r * c, r * s


def _three_two(x1, x2, x3):
    a = x1 / x2
    b = _exp(x3)
    c = _log(x2)
    d = _sqrt(x1)
    cd = c * d
    return a * b, cd - x3


def _tanh_chain(x1, x2, x3):
    a = _tanh(x1 * x2)
    b = -x3
    c = a - b
    d = c * c
    return d / x2


def _three_three(x1, x2, x3):
    p = x1 * x2
    q = _sin(x3)
    r = _exp(x1)
    return p + q, q * r, r - p


#: (formula, f, domain of every input): programs written without constants
#: (so every argument of a row is a row), outputs computed last.
PROGRAMS = [
    ("the slides' f(x₁, x₂)", worked_example, (0.5, 2.0)),
    ("x₁·x₂ − cos x₂", _g, (-2.0, 2.0)),
    ("x₁·x₁ + sin x₂", _square_plus_sin, (-2.0, 2.0)),
    ("polar (r cos θ, r sin θ)", _polar, (0.5, 2.0)),
    ("(x₁/x₂·exp x₃, ln x₂·√x₁ − x₃)", _three_two, (0.5, 2.0)),
    ("(tanh(x₁x₂) + x₃)² / x₂", _tanh_chain, (0.5, 2.0)),
    ("(x₁x₂ + sin x₃, sin x₃·eˣ¹, eˣ¹ − x₁x₂)", _three_three, (-1.5, 1.5)),
]


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
        self.J = _asarray(_jacfwd(lambda x: _asarray_out(f(*x)))(_array(point, dtype=float))).reshape(self.m, self.n)

    def __repr__(self):
        args = ", ".join(f"{p:g}" for p in self.point)
        return f"trace of {self.label} at ({args})"


def _asarray_out(out):
    if isinstance(out, tuple):
        return _stack(out)
    return out


def _trace_cases(seed, per_program):
    rng = _np.random.default_rng(seed)
    cases = [TraceCase(PROGRAMS[0][0], PROGRAMS[0][1], (1.5, 0.5))]
    for label, f, (lo, hi) in PROGRAMS:
        nargs = f.__code__.co_argcount
        for _ in range(per_program):
            point = tuple(round(float(v), 3) for v in rng.uniform(lo, hi, size=nargs))
            cases.append(TraceCase(label, f, point))
    return cases


# --------------------------------------------------------------------------
# Reference implementations (the answer key, also used by the figures)
# --------------------------------------------------------------------------

#: op name -> the elemental partials (∂φ/∂a, ∂φ/∂b, …) at the argument values.
ELEMENTAL_PARTIALS = {
    "add": lambda a, b: (1.0, 1.0),
    "subtract": lambda a, b: (1.0, -1.0),
    "multiply": lambda a, b: (b, a),
    "divide": lambda a, b: (1 / b, -a / (b * b)),
    "negative": lambda a: (-1.0,),
    "sin": lambda a: (_cos(a),),
    "cos": lambda a: (-_sin(a),),
    "exp": lambda a: (_exp(a),),
    "log": lambda a: (1 / a,),
    "sqrt": lambda a: (0.5 / _sqrt(a),),
    "tanh": lambda a: (1 - _tanh(a) * _tanh(a),),
}


def position(i, n):
    """The 0-based position of v_i in the extended vector (v_{1−n}, …, v_l)."""
    return i + n - 1


def extended_reference(tr):
    """C with C[i+n−1, j+n−1] = c_ij, summed over repeated parents (v·v)."""
    n, N = tr.n_inputs, len(tr)
    C = _zeros((N, N))
    for row in tr.rows:
        for j, c in zip(row.parents, row.partials):
            C[position(row.index, n), position(j, n)] += c
    return C


def state_jacobian_reference(C, n, i):
    """A_i: the identity with row i+n−1 replaced by that row of C."""
    A = _eye(C.shape[0])
    k = position(i, n)
    A[k, :] = C[k, :]
    return A


def jacobian_forward_reference(C, n, m):
    """Q A_l ⋯ A_1 Pᵀ, accumulated from the inputs (right to left)."""
    N = C.shape[0]
    M = _eye(N)[:, :n]
    for i in range(1, N - n + 1):
        M = state_jacobian_reference(C, n, i) @ M
    return M[N - m:, :]


def jacobian_reverse_reference(C, n, m):
    """(P A_1ᵀ ⋯ A_lᵀ Qᵀ)ᵀ, accumulated from the outputs (left to right)."""
    N = C.shape[0]
    M = _eye(N)[:, N - m:]
    for i in range(N - n, 0, -1):
        M = state_jacobian_reference(C, n, i).T @ M
    return M[:n, :].T


# --------------------------------------------------------------------------
# Task 5.1: elemental partials
# --------------------------------------------------------------------------

_DOMAINS = {"log": (0.2, 3.0), "sqrt": (0.2, 3.0), "divide": (0.4, 2.5)}


def _partials_cases(seed, per_op):
    rng = _np.random.default_rng(seed)
    cases = [("divide", (1.5, 0.5)), ("multiply", (2.0, 3.0)), ("subtract", (1.0, 2.0))]
    for op, fn in ELEMENTAL_PARTIALS.items():
        lo, hi = _DOMAINS.get(op, (-2.0, 2.0))
        nargs = fn.__code__.co_argcount
        for _ in range(per_op):
            args = tuple(round(float(v), 3) for v in rng.uniform(lo, hi, size=nargs))
            if op == "divide":
                args = (round(float(rng.uniform(-2, 2)), 3), args[1])
            cases.append((op, args))
    return cases


_PARTIALS_CASES = {seed: _partials_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 4))}


def _partials_hint(case, expected, got):
    h = _raised_hint(got)
    if h:
        return h
    op, args = case
    g = _as_array(got)
    k = len(args)
    if g is None or g.shape != (k,):
        return (f"return a tuple with one partial per argument — {op} takes {k}, so "
                + ("(∂φ/∂a, ∂φ/∂b)" if k == 2 else "(∂φ/∂a,)  — note the comma"))
    a = args[0]
    b = args[1] if k == 2 else None
    wrong = {
        "divide": lambda: [((1 / b, a / (b * b)), "sign: ∂(a/b)/∂b = −a/b², the quotient falls as b grows"),
                           ((1 / b, -1 / (b * b)), "∂(a/b)/∂b = −a/b²: you dropped the numerator a"),
                           ((1 / b, -a / b), "∂(a/b)/∂b = −a/b², with b squared"),
                           ((-a / (b * b), 1 / b), "the two partials are swapped: ∂/∂a = 1/b comes first")],
        "multiply": lambda: [((a, b), "∂(a·b)/∂a is the OTHER factor, b (and ∂/∂b = a)")],
        "subtract": lambda: [((1.0, 1.0), "∂(a − b)/∂b = −1"), ((-1.0, 1.0), "the signs are swapped: (1, −1)")],
        "add": lambda: [((1.0, -1.0), "∂(a + b)/∂b = +1")],
        "negative": lambda: [((1.0,), "∂(−a)/∂a = −1")],
        "cos": lambda: [((_sin(a),), "sign: d cos a / da = −sin a")],
        "sin": lambda: [((-_cos(a),), "sign: d sin a / da = +cos a")],
        "log": lambda: [((a,), "d ln a / da = 1/a"), ((_log(a),), "d ln a / da = 1/a, not ln a")],
        "sqrt": lambda: [((1 / _sqrt(a),), "the ½ is missing: d√a/da = 1/(2√a)"),
                         ((0.5 * _sqrt(a),), "d√a/da = 1/(2√a): the square root goes in the denominator")],
        "tanh": lambda: [((1 - a * a,), "d tanh a / da = 1 − tanh²(a): square the VALUE tanh(a), not the "
                                        "argument a"),
                         ((1 + _tanh(a) ** 2,), "sign: d tanh a / da = 1 − tanh²(a)")],
        "exp": lambda: [((a,), "d eᵃ/da = eᵃ itself")],
    }
    for target, msg in wrong.get(op, list)():
        if _same(g, target):
            return msg
    return f"look up the derivative of {op} in your lesson-1 rules; one entry per argument"


def check_elemental_partials(elemental_partials, *, hidden=False):
    """Task 5.1: ``elemental_partials(op, args)`` gives ∂φ/∂ each argument."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    n = check_cases(_catching(elemental_partials), lambda op, args: _asarray(ELEMENTAL_PARTIALS[op](*args)),
                    _PARTIALS_CASES[seed], what="elemental_partials(op, args)", hint=_partials_hint)
    passed("elemental_partials(op, args) matches c_ij for every primitive", n)


# --------------------------------------------------------------------------
# Task 5.2: the extended matrix C
# --------------------------------------------------------------------------

_TRACE_CASES = {seed: _trace_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 3))}


def _index_hint(n):
    return (f"v_i sits at position i + n − 1 = i + {n - 1} of the extended vector "
            f"(v₁₋ₙ is position 0, vₗ is position N − 1)")


def _extended_hint(case, expected, got):
    (tc,) = case
    n = tc.n
    h = _raised_hint(got, _index_hint(n))
    if h:
        return h
    g = _as_array(got)
    if g is None or g.shape != expected.shape:
        return (f"C is N×N with N = n + l = {tc.N}: one row and one column per variable of the trace, "
                f"inputs included; yours has shape {None if g is None else g.shape}")
    if _same(g, expected.T):
        return "transposed: c_ij belongs in ROW i (the row computed) and COLUMN j (its argument)"
    if _same(g, expected - _eye(tc.N)):
        return "that is E′ = C − I, the Jacobian of the extended system; C itself has a zero diagonal"
    if _same(g, _eye(tc.N) - expected):
        return "that is I − C; C holds the elemental partials themselves, with a zero diagonal"
    unwrapped = _zeros((tc.N, tc.N))
    for row in tc.trace.rows:
        for j, c in zip(row.parents, row.partials):
            unwrapped[row.index % tc.N, j % tc.N] += c
    if _same(g, unwrapped):
        return ("you used Griewank's index i as the matrix position; numpy reads −1 as the LAST row. "
                + _index_hint(n))
    no_sum = _zeros((tc.N, tc.N))
    for row in tc.trace.rows:
        for j, c in zip(row.parents, row.partials):
            no_sum[position(row.index, n), position(j, n)] = c
    if not _same(no_sum, expected) and _same(g, no_sum):
        return ("a row that uses the same variable twice (v·v) has two partials for that one entry: "
                "add them (+=), do not overwrite (=)")
    return "C[i + n − 1, j + n − 1] = c_ij for every row i and every parent j of it (row.parents, row.partials)"


def check_extended_matrix(extended_matrix, *, hidden=False):
    """Task 5.2: ``extended_matrix(tr)`` is the N×N matrix of elemental partials of a trace."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    cases = [(tc,) for tc in _TRACE_CASES[seed]]
    n = check_cases(_catching(lambda tc: extended_matrix(tc.trace)), lambda tc: tc.C, cases,
                    what="extended_matrix(tr)", hint=_extended_hint)
    passed("extended_matrix(tr) places every c_ij", n)


# --------------------------------------------------------------------------
# Task 5.3: the state Jacobian A_i
# --------------------------------------------------------------------------

def random_extended(rng, n, l, max_parents=2):
    """A random C of a trace with n inputs and l operations: each row has 1–2 earlier parents."""
    N = n + l
    C = _zeros((N, N))
    for k in range(n, N):
        parents = rng.choice(k, size=min(k, int(rng.integers(1, max_parents + 1))), replace=False)
        for j in parents:
            C[k, j] = round(float(rng.uniform(-2, 2)), 2)
    return C


def _matrix_cases(seed, count):
    """(C, n, m) triples: the traces of the test programs, then random extended systems."""
    rng = _np.random.default_rng(seed)
    cases = [(_Shown(f"C of the {tc!r}", tc.C), tc.n, tc.m) for tc in _TRACE_CASES[seed]]
    for _ in range(count):
        n, l = int(rng.integers(1, 4)), int(rng.integers(3, 8))
        m = int(rng.integers(1, min(l, 3) + 1))
        C = random_extended(rng, n, l)
        cases.append((_Shown(f"random {n + l}×{n + l} C (n = {n}, l = {l})\n{C}", C), n, m))
    return cases


_MATRIX_CASES = {seed: _matrix_cases(seed, count) for seed, count in ((VISIBLE_SEED, 3), (HIDDEN_SEED, 12))}


def _state_cases(seed):
    cases = []
    for Cs, n, m in _MATRIX_CASES[seed]:
        l = Cs.value.shape[0] - n
        for i in sorted({1, l, (l + 1) // 2}):
            cases.append((Cs, n, i))
    return cases


_STATE_CASES = {seed: _state_cases(seed) for seed in (VISIBLE_SEED, HIDDEN_SEED)}


def _state_hint(case, expected, got):
    Cs, n, i = case
    C = Cs.value
    N = C.shape[0]
    h = _raised_hint(got, _index_hint(n))
    if h:
        return h
    g = _as_array(got)
    if g is None or g.shape != (N, N):
        return f"A_i is N×N = {N}×{N}: the identity with one row replaced"
    k = position(i, n)
    column = _eye(N)
    column[:, k] = C[:, k]
    if _same(g, column):
        return "you replaced a COLUMN: the c_ij of v_i sit in row i + n − 1 (v_i is computed from its parents)"
    keep_one = expected.copy()
    keep_one[k, k] = 1.0
    if _same(g, keep_one):
        return ("the diagonal entry of that row must be 0, not 1: Φ_i overwrites v_i with φ_i(…), "
                "it does not add to the old value (A_i = I + e(∇φ_i − e)ᵀ)")
    for shift in (-1, 1):
        if 0 <= k + shift < N:
            off = _eye(N)
            off[k + shift, :] = C[k + shift, :]
            if _same(g, off):
                return "off by one row: " + _index_hint(n)
    if _same(g, _eye(N) + C):
        return "only ONE row of the identity changes — row i + n − 1; the other operations keep their values"
    return "A_i = identity, except row i + n − 1, which is row i + n − 1 of C"


def check_state_jacobian(state_jacobian, *, hidden=False):
    """Task 5.3: ``state_jacobian(C, n, i)`` is A_i, the Jacobian of Φ_i."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED

    student = _catching(lambda Cs, n, i: state_jacobian(Cs.value.copy(), n, i))
    n = check_cases(student, lambda Cs, n, i: state_jacobian_reference(Cs.value, n, i), _STATE_CASES[seed],
                    what="state_jacobian(C, n, i)", hint=_state_hint)
    passed("state_jacobian(C, n, i) is A_i", n)


# --------------------------------------------------------------------------
# Tasks 5.4 and 5.5: accumulating the product, from either end
# --------------------------------------------------------------------------

def _product(C, n, order, transpose=False):
    """Π of the A_i (or A_iᵀ) in the given order of i, the first one applied first."""
    M = _eye(C.shape[0])
    for i in order:
        A = state_jacobian_reference(C, n, i)
        M = (A.T if transpose else A) @ M
    return M


def _accumulation_hint(mode):
    def hint(case, expected, got):
        Cs, n, m = case
        C = Cs.value
        N = C.shape[0]
        l = N - n
        h = _raised_hint(got)
        if h:
            return h
        g = _as_array(got)
        if g is not None and g.shape == (n, m) and (n, m) != (m, n):
            return f"you returned Jᵀ ({n}×{m}); return the Jacobian J, shape m×n = {m}×{n}"
        if g is not None and g.shape == (m, n) and n == m and _same(g, expected.T) and not _same(g, expected):
            return "you returned Jᵀ; return J itself (transpose the result of the reverse accumulation)"
        if g is not None and g.shape in ((N, n), (N, m), (N, N)):
            return (f"the shape {g.shape} is the whole extended system: keep the inputs' columns (Pᵀ) and "
                    f"the outputs' rows (Q), giving the m×n = {m}×{n} Jacobian")
        if g is None or g.shape != (m, n):
            return f"return the m×n = {m}×{n} Jacobian"
        if mode == "forward":
            wrong_order = _product(C, n, range(l, 0, -1))[N - m:, :n]
            if not _same(wrong_order, expected) and _same(g, wrong_order):
                return ("the product is in the wrong order: A₁ must act first (rightmost), "
                        "J = Q A_l ⋯ A₂ A₁ Pᵀ — each A_i needs the tangents of the rows before it")
        else:
            no_transpose = _product(C, n, range(l, 0, -1))[:n, N - m:].T
            untransposed = not _same(no_transpose, expected) and _same(g, no_transpose)
            forward_order = _product(C, n, range(1, l + 1), transpose=True)[:n, N - m:].T
            misordered = not _same(forward_order, expected) and _same(g, forward_order)
            if untransposed and misordered:  # on this input the two mistakes give the same numbers
                return ("either the product is in the wrong order or the A_i are not transposed: "
                        "x̄ = P A₁ᵀ ⋯ A_lᵀ Qᵀ ȳ — multiply by the TRANSPOSES, A_lᵀ first, down to A₁ᵀ")
            if untransposed:
                return "multiply by the TRANSPOSES A_iᵀ: the adjoint of v_i flows back to its parents"
            if misordered:
                return ("the product is in the wrong order: the output's row is processed first, "
                        "x̄ = P A₁ᵀ ⋯ A_lᵀ Qᵀ ȳ — apply A_lᵀ first and go down to A₁ᵀ")
        return ("J = Q A_l ⋯ A_1 Pᵀ: start from Pᵀ (the first n columns of I), multiply by A_1, A_2, …, "
                "then keep the last m rows" if mode == "forward" else
                "Jᵀ = P A_1ᵀ ⋯ A_lᵀ Qᵀ: start from Qᵀ (the last m columns of I), multiply by A_lᵀ, "
                "A_{l−1}ᵀ, …, A_1ᵀ, keep the first n rows, and transpose")
    return hint


def check_jacobian_forward(jacobian_forward, *, hidden=False):
    """Task 5.4: ``jacobian_forward(C, n, m)`` is Q A_l ⋯ A_1 Pᵀ (m×n)."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    n = check_cases(_catching(lambda Cs, n, m: jacobian_forward(Cs.value.copy(), n, m)),
                    lambda Cs, n, m: jacobian_forward_reference(Cs.value, n, m), _MATRIX_CASES[seed],
                    what="jacobian_forward(C, n, m)", hint=_accumulation_hint("forward"))
    passed("jacobian_forward(C, n, m) accumulates Q A_l ⋯ A_1 Pᵀ", n)


def check_jacobian_reverse(jacobian_reverse, *, hidden=False):
    """Task 5.5: ``jacobian_reverse(C, n, m)`` is J from P A_1ᵀ ⋯ A_lᵀ Qᵀ."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    n = check_cases(_catching(lambda Cs, n, m: jacobian_reverse(Cs.value.copy(), n, m)),
                    lambda Cs, n, m: jacobian_reverse_reference(Cs.value, n, m), _MATRIX_CASES[seed],
                    what="jacobian_reverse(C, n, m)", hint=_accumulation_hint("reverse"))
    passed("jacobian_reverse(C, n, m) accumulates P A_1ᵀ ⋯ A_lᵀ Qᵀ", n)


# --------------------------------------------------------------------------
# Task 5.6: the transpose of a JVP, by the dot-product identity
# --------------------------------------------------------------------------

_M32 = _array([[1.0, -0.5, 0.3], [0.2, 0.8, -1.1]])

#: (formula, f, n, domain): vector functions ℝⁿ → ℝᵐ of a 1-d array.
VECTOR_FUNCTIONS = [
    ("polar: (x₀ cos x₁, x₀ sin x₁)", lambda x: _stack([x[0] * _cos(x[1]), x[0] * _sin(x[1])]), 2, (0.5, 2.0)),
    ("M @ tanh(x), M 2×3", lambda x: _M32 @ _tanh(x), 3, (-1.5, 1.5)),
    ("(x₀, x₀x₁, x₀x₁x₂)", lambda x: _stack([x[0], x[0] * x[1], x[0] * x[1] * x[2]]), 3, (-1.5, 1.5)),
    ("(x₀x₁, x₁x₂, sin x₀ + x₂, exp x₁)",
     lambda x: _stack([x[0] * x[1], x[1] * x[2], _sin(x[0]) + x[2], _exp(x[1])]), 3, (-1.0, 1.0)),
    ("the slides' f as a function of x = (x₁, x₂)", lambda x: worked_example(x[0], x[1]), 2, (0.5, 2.0)),
]


def _vjp_cases(seed, per_function):
    rng = _np.random.default_rng(seed)
    name, f, _, _ = VECTOR_FUNCTIONS[0]
    cases = [(_Named(name, f), _array([1.5, 0.6]), _array([1.0, 0.0]))]
    for name, f, n, (lo, hi) in VECTOR_FUNCTIONS:
        for _ in range(per_function):
            x = _np.round(rng.uniform(lo, hi, size=n), 3)
            m = _np.size(f(x))
            ybar = _np.round(rng.normal(size=m), 3) if _np.ndim(f(x)) else round(float(rng.normal()), 3)
            cases.append((_Named(name, f), x, ybar))
    return cases


def _vjp_table(cases):
    table = {}
    for f, x, ybar in cases:
        J = _asarray(_jacfwd(f)(x)).reshape(_np.size(f(x)), x.size)
        table[id(x)] = dict(vjp=_vjp(f, x)[1](ybar)[0], J=J, Jy=(J @ _np.atleast_1d(ybar)
                                                                   if J.shape[0] == J.shape[1] else None))
    return table


_VJP_CASES = {seed: _vjp_cases(seed, n) for seed, n in ((VISIBLE_SEED, 1), (HIDDEN_SEED, 4))}
_VJP_TABLE = {seed: _vjp_table(cases) for seed, cases in _VJP_CASES.items()}


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
    return _Named(repr(f), wrapped)


def _vjp_hint_for(table):
    def hint(case, expected, got):
        f, x, ybar = case
        if isinstance(got, _Raised) and isinstance(got.err, _ReverseModeUsed):
            return ("f was evaluated on a reverse-mode tracer: vjp, grad and jacrev are off limits here — "
                    "build Jᵀȳ from jvp alone, entry j = ⟨ȳ, J e_j⟩")
        h = _raised_hint(got)
        if h:
            return h
        t = table[id(x)]
        g = _as_array(got)
        if g is not None and g.shape == t["J"].shape and g.shape != x.shape:
            return "that is the whole Jacobian J; contract it with ȳ: Jᵀȳ, entry j = ⟨ȳ, J e_j⟩"
        if g is None or g.shape != x.shape:
            return (f"Jᵀȳ lives in the INPUT space: a vector shaped like x {x.shape}, one entry per "
                    f"direction e_j; yours has shape {None if g is None else g.shape}")
        if t["Jy"] is not None and _same(g, t["Jy"]):
            return ("that is J ȳ, not Jᵀ ȳ: entry j must be ⟨ȳ, J e_j⟩ = ⟨ȳ, column j of J⟩, "
                    "not row j of J times ȳ")
        if _same(g, -expected):
            return "the sign is flipped: (Jᵀȳ)_j = +⟨ȳ, J e_j⟩"
        return "entry j of Jᵀȳ is ⟨ȳ, J e_j⟩: one jvp per unit vector e_j, then a dot product with ȳ"
    return hint


def check_vjp_from_jvp(vjp_from_jvp, *, hidden=False):
    """Task 5.6: ``vjp_from_jvp(f, x, ybar)`` is Jᵀȳ, computed with jvp only."""
    seed = HIDDEN_SEED if hidden else VISIBLE_SEED
    cases = [(_forward_only(f), x, ybar) for f, x, ybar in _VJP_CASES[seed]]
    by_x = _VJP_TABLE[seed]
    n = check_cases(_catching(lambda f, x, ybar: vjp_from_jvp(f, x.copy(), _np.copy(ybar))),
                    lambda f, x, ybar: by_x[id(x)]["vjp"], cases, what="vjp_from_jvp(f, x, ybar)",
                    hint=_vjp_hint_for(by_x))
    passed("vjp_from_jvp(f, x, ybar) equals the VJP of reverse mode, built from JVPs only", n)


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------

def labels(tr):
    """Row and column labels of the extended vector: ['v₋₁', 'v₀', 'v₁', …]."""
    return [_row_name(r.index) for r in tr.rows]


def plot_matrix(M, row_labels, col_labels=None, ax=None, title=None, highlight_row=None, vmax=None,
                digits=2, cmap="RdBu_r"):
    """A heatmap of M with its nonzero entries written in the cells."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    M = _asarray(M, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * M.shape[1] + 1.5, 0.45 * M.shape[0] + 1))
    vmax = vmax or max(1e-12, float(_np.max(_np.abs(M))))
    ax.imshow(M, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    for (r, c), value in _np.ndenumerate(M):
        if value != 0:
            strong = abs(value) > 0.6 * vmax
            ax.text(c, r, f"{value:.{digits}f}".replace("-", "−"), ha="center", va="center",
                    fontsize=9.5, color="white" if strong else "black")
    ax.set_yticks(range(M.shape[0]), row_labels)
    ax.set_xticks(range(M.shape[1]), col_labels if col_labels is not None else row_labels)
    ax.xaxis.tick_top()
    ax.set_xticks(_np.arange(-0.5, M.shape[1]), minor=True)
    ax.set_yticks(_np.arange(-0.5, M.shape[0]), minor=True)
    ax.grid(which="minor", color="#dee2e6", lw=0.6)
    ax.tick_params(which="minor", length=0)
    if highlight_row is not None:
        ax.add_patch(Rectangle((-0.5, highlight_row - 0.5), M.shape[1], 1, fill=False, ec="#f08c00", lw=2.5))
    if title:
        ax.set_title(title, fontsize=11, pad=22)
    return ax


def extended_steps(tr, mode):
    """The states of the accumulation: [(i, A_i, running product)], after 0, 1, …, l steps.

    forward: the product A_i ⋯ A_1 Pᵀ (its columns are the tangents v̇ for ẋ = e_j);
    reverse: A_iᵀ ⋯ A_lᵀ Qᵀ (its columns are the adjoints v̄ for ȳ = e_k).
    """
    C = extended_reference(tr)
    n, N = tr.n_inputs, len(tr)
    l, m = N - n, len(tr.output_indices)
    if mode == "forward":
        M, order = _eye(N)[:, :n], range(1, l + 1)
    else:
        M, order = _eye(N)[:, N - m:], range(l, 0, -1)
    steps = [(None, None, M)]
    for i in order:
        A = state_jacobian_reference(C, n, i)
        M = (A if mode == "forward" else A.T) @ M
        steps.append((i, A, M))
    return steps


def plot_extended_step(tr, k, mode="forward"):
    """Step k of the accumulation: the graph, A_i (or A_iᵀ), and the running product."""
    import matplotlib.pyplot as plt
    steps = extended_steps(tr, mode)
    i, A, M = steps[k]
    n, N = tr.n_inputs, len(tr)
    names = labels(tr)
    fig = plt.figure(figsize=(11.5, 10.4))
    grid = fig.add_gridspec(3, 2, height_ratios=[0.13, 0.62, 1.0], width_ratios=[1.0, 0.36],
                            hspace=0.12, wspace=0.25)
    ax_text = fig.add_subplot(grid[0, :])
    ax_graph = fig.add_subplot(grid[1, :])
    ax_A, ax_M = fig.add_subplot(grid[2, 0]), fig.add_subplot(grid[2, 1])
    ax_text.axis("off")
    ax_text.text(0.0, 0.5, "\n".join(_statements(tr, k, mode)), fontsize=11, family="DejaVu Sans Mono",
                 va="center", ha="left", transform=ax_text.transAxes)
    current = i if i is not None else (0 if mode == "forward" else N - n + 1)
    if mode == "forward":  # rows up to v_i have their tangent; the rest are still to come
        shown = {r.index: f"v̇ = {M[position(r.index, n), 0]:.4g}" for r in tr.rows if r.index <= current}
        dim = [r.index for r in tr.rows if r.index > current]
    else:  # rows from v_i on are finished (their v̄ has been sent on); the rest are accumulating
        final = {r.index: float(_np.ravel(r.adjoint)[0]) for r in tr.rows}
        finished = k == len(steps) - 1
        shown = {r.index: (f"v̄ = {final[r.index]:.4g}" if r.index >= current or finished
                           else f"so far {M[position(r.index, n), 0]:.4g}") for r in tr.rows}
        dim = []
    tr.draw(ax=ax_graph, highlight=i, show=None, labels=shown, dim=dim,
            flow="forward" if mode == "forward" else "reverse")
    ax_graph.set_title(("forward: v̇ for ẋ = e₁ (first column)" if mode == "forward"
                        else "reverse: v̄ for ȳ = 1 (first column)"), fontsize=11)
    vmax = max(float(_np.max(_np.abs(s[2]))) for s in steps)
    vmax = max(vmax, max(float(_np.max(_np.abs(s[1]))) for s in steps[1:]))
    if A is None:
        ax_A.axis("off")
        ax_A.text(0.5, 0.5, ("start: Pᵀ embeds ẋ in the inputs' rows" if mode == "forward"
                             else "start: Qᵀ puts ȳ in the outputs' rows"),
                  ha="center", va="center", fontsize=11, transform=ax_A.transAxes)
    else:
        shown_A = A if mode == "forward" else A.T
        plot_matrix(shown_A, names, ax=ax_A, vmax=vmax,
                    highlight_row=position(i, n) if mode == "forward" else None,
                    title=(f"A{_sub(i)}: row {names[position(i, n)]} ← its elemental partials"
                           if mode == "forward" else
                           f"A{_sub(i)}ᵀ: column {names[position(i, n)]} sends v̄ to its parents"))
        if mode == "reverse":
            from matplotlib.patches import Rectangle
            ax_A.add_patch(Rectangle((position(i, n) - 0.5, -0.5), 1, N, fill=False, ec="#f08c00", lw=2.5))
    cols = [f"ẋ = e{_sub(j + 1)}" for j in range(n)] if mode == "forward" else \
        [f"ȳ = e{_sub(j + 1)}" if M.shape[1] > 1 else "ȳ = 1" for j in range(M.shape[1])]
    done = ("A" + _sub(i) + " ⋯ A₁ Pᵀ" if mode == "forward" else "A" + _sub(i) + "ᵀ ⋯ A" + _sub(N - n) + "ᵀ Qᵀ") \
        if i is not None else ("Pᵀ" if mode == "forward" else "Qᵀ")
    plot_matrix(M, names, cols, ax=ax_M, vmax=vmax, digits=3,
                highlight_row=position(i, n) if i is not None else None, title=done)
    l = N - n
    fig.suptitle(f"{mode} accumulation, step {k} of {l}" + ("" if i is None else f": row {names[position(i, n)]} = "
                 f"{tr.row(i).operation.split(' = ', 1)[1]}"), fontsize=13, y=0.92)
    return fig


def _statements(tr, k, mode):
    """What step k executes, as the lesson-2/3 widgets write it (shared helpers)."""
    from autograder.widgets import partial_text, reverse_steps, tangent_statement
    n, l = tr.n_inputs, len(tr) - tr.n_inputs
    if k == 0:
        return ["Pᵀ: the inputs' rows hold the seed ẋ (one column per input direction)" if mode == "forward"
                else "Qᵀ: the output's row holds the seed ȳ; every other adjoint starts at 0"]
    i = k if mode == "forward" else l - k + 1
    partials = ", ".join(f"c{_sub(i)},{_sub(j)} = {text} = {c:.4g}".replace("-", "−")
                         for text, c, j in zip(partial_text(tr, i), tr.row(i).partials, tr.row(i).parents))
    if mode == "forward":
        return [f"elemental partials: {partials}", tangent_statement(tr, i)]
    lines = reverse_steps(tr)[k].statements
    return [f"elemental partials: {partials}", "; ".join(lines)
            + f";  then v̄{_sub(i)} ← 0 (passed on)"]


def _sub(i):
    from autodiff_ref.trace import subscript
    return subscript(i)


def extended_system_widget(tr):
    """A slider over the steps of the accumulation and a forward/reverse switch."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    l = len(tr) - tr.n_inputs

    def draw(k, mode):
        plot_extended_step(tr, k, "forward" if mode.startswith("forward") else "reverse")
        plt.show()

    step = widgets.IntSlider(value=0, min=0, max=l, description="step", continuous_update=False)
    mode = widgets.ToggleButtons(options=["forward  (A₁ first)", f"reverse  (A{_sub(l)}ᵀ first)"],
                                 description="mode")
    out = widgets.interactive_output(draw, {"k": step, "mode": mode})
    return widgets.VBox([widgets.HBox([step, mode]), out])


# ---- the unit circle mapped by J and Jᵀ -----------------------------------------

def twist(x):
    r"""The 2-d map of the linear-map widget, :math:`(x_1^2 - x_2,\ \sin x_1 + x_1 x_2)`."""
    return _stack([x[0] * x[0] - x[1], _sin(x[0]) + x[0] * x[1]])


def plot_linear_map(x1=0.8, x2=0.4, v_angle=30.0, ybar_angle=120.0, f=twist, axes=None):
    """Input space (left) and output space (right) of J = f′(x): circles, ellipses, v, Jv, ȳ, Jᵀȳ."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11.5, 5.2))
    ax_in, ax_out = axes
    x = _array([x1, x2])
    J = _stack([_jvp(f, (x,), (e,))[1] for e in _eye(2)], axis=1)
    t = _np.linspace(0, 2 * math.pi, 241)
    circle = _stack([_cos(t), _sin(t)])
    v = _array([math.cos(math.radians(v_angle)), math.sin(math.radians(v_angle))])
    ybar = _array([math.cos(math.radians(ybar_angle)), math.sin(math.radians(ybar_angle))])
    Jv = _jvp(f, (x,), (v,))[1]
    JTy = _vjp(f, x)[1](ybar)[0]
    U, S, Vt = _np.linalg.svd(J)
    blue, orange = "#1971c2", "#e8590c"

    def arrow(ax, vec, color, label):
        ax.annotate("", xy=vec, xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=color, lw=2.4))
        ax.text(*(vec * 1.08 + 0.02), label, color=color, fontsize=12, fontweight="bold")

    ax_in.plot(*circle, color="#adb5bd", lw=1.4, label="unit circle: all v")
    ax_in.plot(*(J.T @ circle), color=orange, lw=1.6, ls="--", label="Jᵀ of the unit circle of ȳ")
    arrow(ax_in, v, blue, "v")
    arrow(ax_in, JTy, orange, "Jᵀȳ")
    ax_out.plot(*circle, color="#adb5bd", lw=1.4, label="unit circle: all ȳ")
    ax_out.plot(*(J @ circle), color=blue, lw=1.6, ls="--", label="J of the unit circle of v")
    arrow(ax_out, ybar, orange, "ȳ")
    arrow(ax_out, Jv, blue, "Jv")
    for k in range(2):  # the semi-axes: singular values, along V's columns (in) and U's columns (out)
        ax_out.plot([0, S[k] * U[0, k]], [0, S[k] * U[1, k]], color=blue, lw=0.8, alpha=0.6)
        ax_in.plot([0, S[k] * Vt[k, 0]], [0, S[k] * Vt[k, 1]], color=orange, lw=0.8, alpha=0.6)
    reach = max(1.25, 1.15 * S[0])
    for ax, title in ((ax_in, f"input space ℝ²  (at x = ({x1:.2f}, {x2:.2f}))"), (ax_out, "output space ℝ²")):
        ax.set_xlim(-reach, reach)
        ax.set_ylim(-reach, reach)
        ax.set_aspect("equal")
        ax.axhline(0, color="#dee2e6", lw=0.8, zorder=0)
        ax.axvline(0, color="#dee2e6", lw=0.8, zorder=0)
        ax.set_title(title, fontsize=11)
        ax.legend(fontsize=8.5, loc="lower left")
    lhs, rhs = float(ybar @ Jv), float(JTy @ v)
    plt.suptitle(f"⟨ȳ, Jv⟩ = {lhs:+.6f}     ⟨Jᵀȳ, v⟩ = {rhs:+.6f}     "
                 f"singular values {S[0]:.3f}, {S[1]:.3f} (semi-axes of both ellipses)", fontsize=11.5)
    return axes


def linear_map_widget(f=twist):
    """Sliders for the point x and the angles of v and ȳ."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(x1, x2, v_angle, ybar_angle):
        plot_linear_map(x1, x2, v_angle, ybar_angle, f=f)
        plt.show()

    style = {"description_width": "initial"}
    controls = dict(
        x1=widgets.FloatSlider(value=0.8, min=-1.5, max=1.5, step=0.05, description="x₁",
                               continuous_update=False, style=style),
        x2=widgets.FloatSlider(value=0.4, min=-1.5, max=1.5, step=0.05, description="x₂",
                               continuous_update=False, style=style),
        v_angle=widgets.FloatSlider(value=30.0, min=0.0, max=360.0, step=5.0, description="angle of v (°)",
                                    continuous_update=False, style=style),
        ybar_angle=widgets.FloatSlider(value=120.0, min=0.0, max=360.0, step=5.0,
                                       description="angle of ȳ (°)", continuous_update=False, style=style),
    )
    out = widgets.interactive_output(draw, controls)
    return widgets.VBox([widgets.HBox([controls["x1"], controls["x2"]]),
                         widgets.HBox([controls["v_angle"], controls["ybar_angle"]]), out])


def chain_cost(shapes):
    """Multiply-adds to form J = J_L ⋯ J_1 from the right (forward) and from the left (reverse).

    `shapes` lists (rows, cols) of J_1, …, J_L (J_1 acts first). Multiplying a
    p×q by a q×r matrix costs p·q·r multiply-adds.
    """
    for (r1, c1), (r2, c2) in zip(shapes, shapes[1:]):
        if c2 != r1:
            raise ValueError(f"chain_cost: J with {c2} columns cannot follow one with {r1} rows")
    forward, cols = 0, shapes[0][1]
    rows = shapes[0][0]
    for r, c in shapes[1:]:
        forward += r * c * cols
        rows = r
    reverse, left_rows = 0, shapes[-1][0]
    for r, c in reversed(shapes[:-1]):
        reverse += left_rows * r * c
    return {"forward (right to left)": forward, "reverse (left to right)": reverse,
            "shape": (rows, cols)}
