r"""Linear algebra: ``numpy.linalg`` primitives with their rules, and the norms.

Each primitive works on the last two axes (stacks of matrices broadcast), and
its two rules sit side by side, forward (tangent ``Ȧ``) then reverse
(cotangent ``Ā``, written ``g`` as in the other tables):

=============  =======================================  ==============================================
primitive      JVP                                      VJP
=============  =======================================  ==============================================
inv            −A⁻¹ Ȧ A⁻¹                               −A⁻ᵀ Ā A⁻ᵀ
solve(A, B)    X = A⁻¹B: A⁻¹(Ḃ − Ȧ X)                   B̄ = A⁻ᵀ X̄,  Ā = −B̄ Xᵀ
det            det A · tr(A⁻¹ Ȧ)                        ḡ det A · A⁻ᵀ
logabsdet      tr(A⁻¹ Ȧ)                                ḡ A⁻ᵀ
cholesky       L Φ(L⁻¹ S L⁻ᵀ)                           L⁻ᵀ Φ(Lᵀ L̄) L⁻¹, then Symᵀ
eigh           ẇ = diag(VᵀSV),  V̇ = V (F ∘ VᵀSV)        V (diag w̄ + F ∘ VᵀV̄) Vᵀ, then Symᵀ
=============  =======================================  ==============================================

Φ keeps the strict lower triangle and halves the diagonal; F_ij = 1/(w_j − w_i)
off the diagonal, 0 on it (so degenerate eigenvalues give inf: the eigenvectors
are not differentiable there). ``cholesky`` and ``eigh`` read only the lower
triangle of A (numpy's default), so a perturbation Ȧ acts through the
symmetric matrix S = Sym(Ȧ) = tril(Ȧ) + tril(Ȧ, −1)ᵀ, and the cotangent goes
back through the transpose of Sym: Symᵀ(G) = tril(G + Gᵀ, −1) + diag(G).
Central differences of numpy's own functions agree with exactly this.

``eigh`` returns two arrays; the primitive packs them into one, ``[w; V]``
of shape (…, n+1, n), and ``np.linalg.eigh`` unpacks it. An eigenvector is defined up to its sign;
the derivative is that of the continuous branch through LAPACK's choice (at a
diagonal matrix LAPACK may pick the other sign nearby). ``det`` and ``inv`` of
a singular matrix raise numpy's ``LinAlgError`` (the adjugate is not implemented).
"""
import numpy as np

from . import core, dual, reverse
from .core import Primitive, primal


def _T(a):
    """a with its last two axes swapped: the transpose of every matrix in a stack."""
    return np.swapaxes(a, -1, -2)


def _n(a):
    return np.shape(primal(a))[-1]


def _trace(a):
    return np.trace(a, axis1=-2, axis2=-1)


def _column(a):
    return core.reshape(a, shape=np.shape(primal(a)) + (1, 1))


def _sym(t):
    """Sym(Ȧ) = tril(Ȧ) + tril(Ȧ, −1)ᵀ: the symmetric matrix numpy factors when A moves by Ȧ."""
    return np.tril(t) + _T(np.tril(t, -1))


def _sym_transpose(g):
    """Symᵀ(G) = tril(G + Gᵀ, −1) + diag(G): the transpose of Sym, for the cotangents."""
    n = _n(g)
    return core.where(np.tri(n, k=-1, dtype=bool), g + _T(g), 0.0) + core.where(np.eye(n, dtype=bool), g, 0.0)


def _phi(x):
    """Φ(X): the strict lower triangle of X plus half its diagonal."""
    n = _n(x)
    return core.where(np.tri(n, k=-1, dtype=bool), x, 0.0) + 0.5 * core.where(np.eye(n, dtype=bool), x, 0.0)


def _eigh_parts(packed):
    return core.getitem(packed, index=(Ellipsis, 0, slice(None))), \
        core.getitem(packed, index=(Ellipsis, slice(1, None), slice(None)))


def _gaps(w):
    """F_ij = 1/(w_j − w_i) off the diagonal, 0 on it (a double where: no 1/0 on the diagonal)."""
    eye = np.eye(_n(w), dtype=bool)
    diff = core.reshape(w, shape=np.shape(primal(w))[:-1] + (1, _n(w))) - \
        core.reshape(w, shape=np.shape(primal(w)) + (1,))
    return core.where(eye, 0.0, 1.0 / core.where(eye, 1.0, diff))


def _eigh_impl(a):
    w, v = np.linalg.eigh(a)
    return np.concatenate([w[..., None, :], v], axis=-2)


def _eigh_jvp(t, ans, a):
    w, v = _eigh_parts(ans)
    m = _T(v) @ _sym(t) @ v
    w_dot = np.diagonal(m, axis1=-2, axis2=-1)
    return np.concatenate([np.expand_dims(w_dot, -2), v @ (_gaps(w) * m)], axis=-2)


def _eigh_vjp(g, ans, a):
    w, v = _eigh_parts(ans)
    w_bar, v_bar = _eigh_parts(g)
    inner = core.reshape(w_bar, shape=np.shape(primal(w_bar))[:-1] + (1, _n(w))) * np.eye(_n(w)) \
        + _gaps(w) * (_T(v) @ v_bar)
    return _sym_transpose(v @ inner @ _T(v))


def _cholesky_jvp(t, ans, a):
    L = ans
    x = _T(np.linalg.solve(L, _T(np.linalg.solve(L, _sym(t)))))   # L⁻¹ S L⁻ᵀ
    return L @ _phi(x)


def _cholesky_vjp(g, ans, a):
    L = ans
    c = np.linalg.solve(_T(L), _phi(_T(L) @ g))                  # L⁻ᵀ Φ(Lᵀ L̄)
    return _sym_transpose(_T(np.linalg.solve(_T(L), _T(c))))     # … L⁻¹


def _directions_first(rule, i):
    """rule for one direction; with k directions (a trailing axis on the tangent of input i)
    the directions become a leading batch axis, which matmul and solve broadcast over."""
    def batched(t, ans, *primals, **params):
        if np.ndim(primal(t)) == np.ndim(primal(primals[i])):
            return rule(t, ans, *primals, **params)
        return np.moveaxis(rule(np.moveaxis(t, -1, 0), ans, *primals, **params), 0, -1)
    return batched


inv = Primitive("inv", np.linalg.inv)
solve = Primitive("solve", np.linalg.solve)          # B is always a (stack of) matrix here
det = Primitive("det", np.linalg.det)
logabsdet = Primitive("logabsdet", lambda a: np.linalg.slogdet(a)[1])
cholesky = Primitive("cholesky", np.linalg.cholesky)
eigh = Primitive("eigh", _eigh_impl)


def defjvp(prim, *rules):
    dual.defjvp(prim, *[_directions_first(rule, i) for i, rule in enumerate(rules)])


defjvp(inv,       lambda t, ans, a: -(ans @ t @ ans))
defjvp(solve,     lambda t, ans, a, b: -np.linalg.solve(a, t @ ans), lambda t, ans, a, b: np.linalg.solve(a, t))
defjvp(det,       lambda t, ans, a: ans * _trace(np.linalg.solve(a, t)))
defjvp(logabsdet, lambda t, ans, a: _trace(np.linalg.solve(a, t)))
defjvp(cholesky,  _cholesky_jvp)
defjvp(eigh,      _eigh_jvp)

reverse.defvjp(inv,       lambda g, ans, a: -(_T(ans) @ g @ _T(ans)))
reverse.defvjp(solve,     lambda g, ans, a, b: -(np.linalg.solve(_T(a), g) @ _T(ans)),
                          lambda g, ans, a, b: np.linalg.solve(_T(a), g))
reverse.defvjp(det,       lambda g, ans, a: _column(g * ans) * _T(np.linalg.inv(a)))
reverse.defvjp(logabsdet, lambda g, ans, a: _column(g) * _T(np.linalg.inv(a)))
reverse.defvjp(cholesky,  _cholesky_vjp)
reverse.defvjp(eigh,      _eigh_vjp)


# ----------------------------------------------------------------------------
# numpy.linalg's functions on tracers
# ----------------------------------------------------------------------------
_SlogdetResult = type(np.linalg.slogdet(np.eye(1)))
_EighResult = type(np.linalg.eigh(np.eye(1)))


def _solve(a, b):
    if np.ndim(primal(b)) == 1:  # numpy 2: a 1-D b is one vector
        return core.reshape(solve(a, core.reshape(b, shape=(-1, 1))), shape=(-1,))
    return solve(a, b)


def _slogdet(a):
    sign = np.sign(np.linalg.det(primal(a)))   # piecewise constant: no derivative
    return _SlogdetResult(sign, logabsdet(a))


def _eigh(a, UPLO="L"):
    if UPLO != "L":
        raise NotImplementedError("numpy.linalg.eigh(..., UPLO='U') is not supported by autodiff_ref; "
                                  "pass the matrix transposed")
    w, v = _eigh_parts(eigh(a))
    return _EighResult(w, v)


def _eigvalsh(a, UPLO="L"):
    return _eigh(a, UPLO).eigenvalues


def _matrix_norm(x, ord, keepdims_shape):
    """The norm of the matrices in the last two axes of x."""
    a = np.abs(x)
    if ord in (1, -1):
        sums, pick = np.sum(a, axis=-2), (np.max if ord == 1 else np.min)
        out = pick(sums, axis=-1)
    elif ord in (np.inf, -np.inf):
        sums, pick = np.sum(a, axis=-1), (np.max if ord == np.inf else np.min)
        out = pick(sums, axis=-1)
    elif ord == "fro":
        out = np.sqrt(np.sum(x * x, axis=(-2, -1)))
    elif ord in (2, -2, "nuc"):   # singular values: square roots of the eigenvalues of AᵀA
        s = np.sqrt(_eigvalsh(_T(x) @ x))
        out = np.sum(s, axis=-1) if ord == "nuc" else (s[..., -1] if ord == 2 else s[..., 0])
    else:
        return core._unsupported(f"numpy.linalg.norm with ord={ord!r} of a matrix")
    return out if keepdims_shape is None else core.reshape(out, shape=keepdims_shape)


def norm(x, ord=None, axis=None, keepdims=False):
    r"""Vector norms (ord None, 2, 1, inf, −inf, any p ≠ 0) and matrix norms (None, 'fro', 1, −1,
    inf, −inf, 2, −2, 'nuc'), over `axis` as numpy does."""
    ndim = np.ndim(primal(x))
    matrix = (axis is None and ndim == 2) or (isinstance(axis, tuple) and len(axis) == 2)
    if matrix:
        rows, cols = (0, 1) if axis is None else (axis[0] % ndim, axis[1] % ndim)
        shape = list(np.shape(primal(x)))
        shape[rows] = shape[cols] = 1
        moved = np.moveaxis(x, [rows, cols], [-2, -1])
        return _matrix_norm(moved, "fro" if ord is None else ord, tuple(shape) if keepdims else None)
    if axis is None:
        x, axis = core.reshape(x, shape=(-1,)), 0
    if ord is None or ord == 2:
        return core.sqrt(core.sum_(x * x, axis=axis, keepdims=keepdims))
    if isinstance(ord, str) or ord == 0:
        return core._unsupported(f"numpy.linalg.norm with ord={ord!r} of a vector")
    a = np.abs(x)
    if ord == np.inf:
        return np.max(a, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(a, axis=axis, keepdims=keepdims)
    if ord == 1:
        return np.sum(a, axis=axis, keepdims=keepdims)
    return np.sum(a ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


core.FUNCTIONS.update({
    np.linalg.inv: lambda a: inv(a),
    np.linalg.solve: _solve,
    np.linalg.det: lambda a: det(a),
    np.linalg.slogdet: _slogdet,
    np.linalg.cholesky: lambda a, upper=False: cholesky(a) if not upper else core._unsupported(
        "numpy.linalg.cholesky(..., upper=True)"),
    np.linalg.eigh: _eigh,
    np.linalg.eigvalsh: _eigvalsh,
    np.linalg.norm: norm,
})
