r"""Lesson 5's material: a trace as a linear system (Griewank's extended system).

A trace has n inputs v_{1−n} … v_0 and l operations v_1 … v_l; the outputs
are the last m. The extended vector (v_{1−n}, …, v_l) has N = n + l entries and
v_i sits at position ``i + n − 1`` (0-based). With the elemental partials
c_ij = ∂φ_i/∂v_j collected in the strictly lower-triangular N×N matrix C,

- Φ_i, the i-th statement as a map of the whole state, has the Jacobian
  A_i = the identity with row i + n − 1 replaced by that row of C;
- the Jacobian of the program is F′ = Q A_l ⋯ A_1 Pᵀ, with Pᵀ = the first n
  columns of I (the inputs) and Q = the last m rows (the outputs);
- forward mode multiplies from the right (A_1 first), reverse mode the
  transpose from the left: F′ᵀ = P A_1ᵀ ⋯ A_lᵀ Qᵀ (A_lᵀ first).

These are the answer key of Tasks 5.2–5.5 and what the figures draw; below
them, the programs whose traces the checks use (:data:`PROGRAMS`) and the
vector functions of Task 5.6 (:data:`VECTOR_FUNCTIONS`).
"""
import numpy as _np

from ..examples import NUMPY, g_example, polar, worked_example

_sin, _cos, _exp, _log = NUMPY
_tanh, _sqrt, _array, _stack, _eye, _zeros = _np.tanh, _np.sqrt, _np.array, _np.stack, _np.eye, _np.zeros


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


def product(C, n, order, transpose=False):
    """Π of the A_i (or A_iᵀ) in the given order of i, the first one applied first (rightmost)."""
    M = _eye(C.shape[0])
    for i in order:
        A = state_jacobian_reference(C, n, i)
        M = (A.T if transpose else A) @ M
    return M


def jacobian_forward_reference(C, n, m):
    """Q A_l ⋯ A_1 Pᵀ, accumulated from the inputs (right to left)."""
    N = C.shape[0]
    return product(C, n, range(1, N - n + 1))[N - m:, :n]


def jacobian_reverse_reference(C, n, m):
    """(P A_1ᵀ ⋯ A_lᵀ Qᵀ)ᵀ, accumulated from the outputs (left to right)."""
    N = C.shape[0]
    return product(C, n, range(N - n, 0, -1), transpose=True)[:n, N - m:].T


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


def random_extended(rng, n, l, max_parents=2):
    """A random C of a trace with n inputs and l operations: each row has 1–2 earlier parents."""
    N = n + l
    C = _zeros((N, N))
    for k in range(n, N):
        parents = rng.choice(k, size=min(k, int(rng.integers(1, max_parents + 1))), replace=False)
        for j in parents:
            C[k, j] = round(float(rng.uniform(-2, 2)), 2)
    return C


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


# --------------------------------------------------------------------------
# The programs the checks trace: written without constants (so every argument
# of a row is a row), outputs computed last.
# --------------------------------------------------------------------------
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


#: (formula, f of scalars, domain of every input)
PROGRAMS = [
    ("lesson 2's f(x₁, x₂)", worked_example, (0.5, 2.0)),
    ("x₁·x₂ − cos x₂", g_example, (-2.0, 2.0)),
    ("x₁·x₁ + sin x₂", _square_plus_sin, (-2.0, 2.0)),
    ("polar (r cos θ, r sin θ)", _polar, (0.5, 2.0)),
    ("(x₁/x₂·exp x₃, ln x₂·√x₁ − x₃)", _three_two, (0.5, 2.0)),
    ("(tanh(x₁x₂) + x₃)² / x₂", _tanh_chain, (0.5, 2.0)),
    ("(x₁x₂ + sin x₃, sin x₃·eˣ¹, eˣ¹ − x₁x₂)", _three_three, (-1.5, 1.5)),
]


M32 = _array([[1.0, -0.5, 0.3], [0.2, 0.8, -1.1]])

#: (formula, f, n, domain): vector functions ℝⁿ → ℝᵐ of a 1-d array.
VECTOR_FUNCTIONS = [
    ("polar: (x₀ cos x₁, x₀ sin x₁)", polar, 2, (0.5, 2.0)),
    ("M @ tanh(x), M 2×3", lambda x: M32 @ _tanh(x), 3, (-1.5, 1.5)),
    ("(x₀, x₀x₁, x₀x₁x₂)", lambda x: _stack([x[0], x[0] * x[1], x[0] * x[1] * x[2]]), 3, (-1.5, 1.5)),
    ("(x₀x₁, x₁x₂, sin x₀ + x₂, exp x₁)",
     lambda x: _stack([x[0] * x[1], x[1] * x[2], _sin(x[0]) + x[2], _exp(x[1])]), 3, (-1.0, 1.0)),
    ("lesson 2's f as a function of x = (x₁, x₂)", lambda x: worked_example(x[0], x[1]), 2, (0.5, 2.0)),
]
