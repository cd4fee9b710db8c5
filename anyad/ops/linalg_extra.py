"""Linear-algebra primitives of the standard's ``linalg`` extension: inv,
solve, det, slogdet, cholesky, eigh, eigvalsh, svd, svdvals, qr.

Each forward kernel is the backend's ``xp.linalg`` function; its VJP sits
beside it, written with anyad's own functions (``inv``, ``solve``, ``matmul``
and the decompositions themselves), so derivatives of any order follow.

Functions with several results (eigh, svd, qr, slogdet) record one primitive
whose output packs the results along the last axis; the public function
unpacks them with indexing, so the engine keeps one output per operation.
When nothing is recorded the backend function runs as it is.

``eigh``, ``eigvalsh`` and ``cholesky`` read a symmetric input; when
differentiated they are applied to ``(x + x^H) / 2`` (as JAX does), so the
gradient is the symmetric one and is exact for any input. Gradients are for
real floating-point matrices, and for complex ones through the holomorphic
``inv``, ``solve`` and ``det`` (PyTorch's convention); the other functions
compute on complex matrices but refuse to differentiate them (an error says so).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from .. import _backend
from ..graph import OpType, Primitive
from ..variable import Variable
from ._core import apply
from ._helpers import is_complex, like, namespace, raw, records
from .creation import ones_like, zeros_like
from .elementwise import add, divide, equal, multiply, negative, subtract, where
from .elementwise_extra import conj
from .indexing import getitem
from .linalg import matmul, matrix_transpose
from .manipulation import expand_dims, reshape, squeeze, stop_gradient, tril, triu

__all__ = [
    "inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr",
    "EighResult", "SVDResult", "QRResult", "SlogdetResult",
]

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


def _linalg(xp: Any) -> Any:
    try:
        return xp.linalg
    except AttributeError:
        raise TypeError(f"anyad: the {_backend.backend_name(xp)} namespace has no linalg extension") from None


def _differentiates(name: str, x: Any, holomorphic: bool = False) -> bool:
    """Record ``name`` on ``x``? Complex matrices are differentiated only by
    the holomorphic functions (``inv``, ``solve``, ``det``), whose real rules
    the engine applies in PyTorch's convention; the others refuse them."""
    if not records(x):
        return False
    if is_complex(x) and not holomorphic:
        if x.requires_grad:
            raise NotImplementedError(
                f"anyad.linalg.{name}: gradients through complex matrices are not supported "
                f"(input {_backend.describe(x.value)})")
        return False
    return True


def _square(name: str, x: Any) -> None:
    shape = tuple(raw(x).shape)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"anyad.linalg.{name}: expected a stack of square matrices, got shape {shape}")


def _eye_like(g: Any, n: int) -> Any:
    """The identity matrix in the namespace, dtype and device of ``g`` (raw)."""
    r = raw(g)
    xp = _backend.namespace_of(r)
    return xp.eye(n, dtype=r.dtype, device=_backend.device_of(r))


def _diag_embed(v: Any) -> Any:
    """``v[..., i]`` on the diagonal of ``(..., n, n)`` matrices."""
    n = v.shape[-1]
    return multiply(expand_dims(v, axis=-2), _eye_like(v, n))


def _off_diagonal_inverse(d: Any) -> Any:
    """``1 / d`` off the diagonal, 0 on it (no inf enters the graph)."""
    n = d.shape[-1]
    off = equal(_eye_like(d, n), 0)
    return where(off, divide(1.0, where(off, d, ones_like(d))), zeros_like(d))


def _symmetrize(x: Any) -> Any:
    """``(x + x^H) / 2``: eigh, eigvalsh and cholesky read this, on every path, so
    that what is differentiated is what is computed (the conjugate transpose for a
    complex ``x``: its Hermitian part, whose diagonal is real)."""
    t = matrix_transpose(x)
    return multiply(add(x, conj(t) if is_complex(x) else t), 0.5)


def _mT(x: Any) -> Any:
    return matrix_transpose(x)


def _mH(x: Any) -> Any:
    return conj(matrix_transpose(x)) if is_complex(x) else matrix_transpose(x)


# --- pinv ---------------------------------------------------------------------------------
# The derivative of the pseudo-inverse where the rank does not change (Golub & Pereyra,
# 1973): dA+ = -A+ dA A+ + A+ A+^T dA^T (I - A A+) + (I - A+ A) dA^T A+^T A+. It is
# smooth at repeated singular values (the identity, orthogonal matrices), where a rule
# through the SVD divides by s_j^2 - s_i^2. Written without identity matrices:
# (I - A A+) X = X - A (A+ X).

def _pinv_vjp(g: Any, ans: Any, x: Any, *, rtol: Any) -> Any:
    p, pt = ans, _mT(ans)
    first = negative(matmul(pt, matmul(g, pt)))
    m = matmul(_mT(g), matmul(p, pt))  # G^T A+ A+^T, then (I - A A+) of it
    second = subtract(m, matmul(x, matmul(p, m)))
    k = matmul(pt, matmul(p, _mT(g)))  # A+^T A+ G^T, then of it (I - A+ A)
    third = subtract(k, matmul(matmul(k, p), x))
    return add(first, add(second, third))


def _pinv_jvp(ts: Any, ans: Any, x: Any, *, rtol: Any) -> Any:
    t, p = ts[0], ans
    tt = _mT(t)
    first = negative(matmul(p, matmul(t, p)))
    q = matmul(p, matmul(_mT(p), tt))  # A+ A+^T T^T, then of it (I - A A+) on the right
    second = subtract(q, matmul(matmul(q, x), p))
    k = matmul(tt, matmul(_mT(p), p))  # T^T A+^T A+, then (I - A+ A) of it on the left
    third = subtract(k, matmul(p, matmul(x, k)))
    return add(first, add(second, third))


_PINV = Primitive("pinv", OpType.PINV, lambda xp, x, rtol: _linalg(xp).pinv(x, rtol=rtol), (_pinv_vjp,))
_PINV.jvp = _pinv_jvp


def pinv_primitive(x: Any, rtol: Any) -> Any:
    """The pseudo-inverse as one primitive (:func:`anyad.pinv` calls it)."""
    if not _differentiates("pinv", x):  # complex matrices: computed, never differentiated
        r = raw(x)
        return like(x, _linalg(namespace(r)).pinv(r, rtol=rtol))
    return apply(_PINV, (x,), {"rtol": rtol})


# --- inv, solve, det, slogdet ---------------------------------------------------------------

def _inv_vjp(g: Any, ans: Any, x: Any) -> Any:
    t = _mT(ans)
    return negative(matmul(t, matmul(g, t)))


_INV = Primitive("inv", OpType.INV, lambda xp, x: _linalg(xp).inv(x), (_inv_vjp,))


def inv(x: Any, /) -> Any:
    """The inverse of each square matrix of ``x``; its gradient is ``-X^T g X^T`` (``X = inv(x)``).

    Examples
    --------
    >>> import anyad as ad
    >>> a = ad.Variable([[2.0, 0.0], [0.0, 4.0]], requires_grad=True)
    >>> ad.inv(a)
    Variable([[0.5  0.  ]
              [0.   0.25]])
    """
    _square("inv", x)
    if not _differentiates("inv", x, holomorphic=True):
        r = raw(x)
        return like(x, _linalg(namespace(r)).inv(r))
    return apply(_INV, (x,))


def _solve_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return solve(_mT(a), g)


def _solve_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return negative(matmul(solve(_mT(a), g), _mT(ans)))


# broadcasts=True: batch dimensions are summed back by the engine
_SOLVE = Primitive("solve", OpType.SOLVE, lambda xp, a, b: _linalg(xp).solve(a, b), (_solve_a, _solve_b),
                   broadcasts=True)


def solve(x1: Any, x2: Any, /) -> Any:
    """Solve ``x1 @ X = x2`` for ``X`` (a 1-D ``x2`` is one right-hand side); batch
    dimensions broadcast. Differentiable in both arguments.

    Examples
    --------
    >>> import anyad as ad
    >>> a = ad.Variable([[2.0, 0.0], [0.0, 4.0]], requires_grad=True)
    >>> ad.solve(a, ad.Variable([2.0, 2.0]))
    Variable([1.  0.5])
    """
    _square("solve", x1)
    if not (_differentiates("solve", x1, holomorphic=True)
            or _differentiates("solve", x2, holomorphic=True)):
        r1, r2 = raw(x1), raw(x2)
        return like(x1 if isinstance(x1, Variable) else x2, _linalg(namespace(r1)).solve(r1, r2))
    if len(raw(x2).shape) == 1:
        return squeeze(apply(_SOLVE, (x1, expand_dims(x2, axis=-1))), axis=-1)
    return apply(_SOLVE, (x1, x2))


def _det_vjp(g: Any, ans: Any, x: Any) -> Any:
    ga = expand_dims(expand_dims(multiply(g, ans), axis=-1), axis=-1)
    return multiply(ga, _mT(inv(x)))


_DET = Primitive("det", OpType.DET, lambda xp, x: _linalg(xp).det(x), (_det_vjp,))


def det(x: Any, /) -> Any:
    """The determinant of each square matrix; its gradient is ``g det(x) inv(x)^T``.

    Examples
    --------
    >>> import anyad as ad
    >>> a = ad.Variable([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    >>> d = ad.det(a)
    >>> d.backward()
    >>> a.grad
    array([[ 3., -1.],
           [-1.,  2.]])
    """
    _square("det", x)
    if not _differentiates("det", x, holomorphic=True):
        r = raw(x)
        return like(x, _linalg(namespace(r)).det(r))
    return apply(_DET, (x,))


def _slogdet_fwd(xp: Any, x: Any) -> Any:
    sign, logabsdet = _linalg(xp).slogdet(x)
    return xp.stack([sign, logabsdet], axis=-1)


def _slogdet_vjp(g: Any, ans: Any, x: Any) -> Any:
    gl = expand_dims(expand_dims(getitem(g, (Ellipsis, 1)), axis=-1), axis=-1)
    return multiply(gl, _mT(inv(x)))


_SLOGDET = Primitive("slogdet", OpType.SLOGDET, _slogdet_fwd, (_slogdet_vjp,))


def slogdet(x: Any, /) -> SlogdetResult:
    """Sign and natural log of the absolute determinant; ``logabsdet`` is
    differentiable (gradient ``inv(x)^T``), ``sign`` is piecewise constant.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.slogdet(ad.Variable([[-2.0, 0.0], [0.0, 1.0]])).sign
    Variable(-1.0)
    """
    _square("slogdet", x)
    if not _differentiates("slogdet", x):
        r = raw(x)
        sign, logabsdet = _linalg(namespace(r)).slogdet(r)
        return SlogdetResult(*like(x, (sign, logabsdet)))
    packed = apply(_SLOGDET, (x,))
    return SlogdetResult(stop_gradient(getitem(packed, (Ellipsis, 0))), getitem(packed, (Ellipsis, 1)))


# --- cholesky ---------------------------------------------------------------------------------

def _cholesky_vjp(g: Any, L: Any, x: Any) -> Any:
    # gA = (S + S^T) / 2, S = L^-T Phi(L^T g) L^-1, Phi: lower triangle with the diagonal halved
    p = matmul(_mT(L), g)
    phi = subtract(tril(p), multiply(triu(tril(p)), 0.5))
    li = inv(L)
    s = matmul(_mT(li), matmul(phi, li))
    return multiply(add(s, _mT(s)), 0.5)


_CHOLESKY = Primitive("cholesky", OpType.CHOLESKY, lambda xp, x: _linalg(xp).cholesky(x), (_cholesky_vjp,))


def cholesky(x: Any, /, *, upper: bool = False) -> Any:
    """The Cholesky factor of each symmetric positive-definite matrix (lower, or
    upper with ``upper=True``).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.cholesky(ad.Variable([[4.0, 2.0], [2.0, 5.0]]))
    Variable([[2. 0.]
              [1. 2.]])
    """
    _square("cholesky", x)
    if not _differentiates("cholesky", x):
        r = _symmetrize(raw(x))
        xp = namespace(r)
        out = _linalg(xp).cholesky(r, upper=True) if upper else _linalg(xp).cholesky(r)
        return like(x, out)
    L = apply(_CHOLESKY, (_symmetrize(x),))
    return _mH(L) if upper else L


# --- eigh, eigvalsh ---------------------------------------------------------------------------

def _eigh_fwd(xp: Any, x: Any) -> Any:
    w, v = _linalg(xp).eigh(x)
    return xp.concat([xp.expand_dims(w, axis=-2), v], axis=-2)


def _eigh_vjp(g: Any, packed: Any, x: Any) -> Any:
    # A = V diag(w) V^T: gA = V (diag(gw) + F o (V^T gV)) V^T, F_ij = 1 / (w_j - w_i), symmetrized
    w = getitem(packed, (Ellipsis, 0, slice(None)))
    v = getitem(packed, (Ellipsis, slice(1, None), slice(None)))
    gw = getitem(g, (Ellipsis, 0, slice(None)))
    gv = getitem(g, (Ellipsis, slice(1, None), slice(None)))
    f = _off_diagonal_inverse(subtract(expand_dims(w, axis=-2), expand_dims(w, axis=-1)))
    inner = add(_diag_embed(gw), multiply(f, matmul(_mT(v), gv)))
    ga = matmul(v, matmul(inner, _mT(v)))
    return multiply(add(ga, _mT(ga)), 0.5)


_EIGH = Primitive("eigh", OpType.EIGH, _eigh_fwd, (_eigh_vjp,))


def eigh(x: Any, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of each symmetric matrix.

    Differentiable in both; the eigenvector gradient is undefined where
    eigenvalues repeat (as in every library).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.eigh(ad.Variable([[2.0, 0.0], [0.0, 1.0]])).eigenvalues
    Variable([1. 2.])
    """
    _square("eigh", x)
    if not _differentiates("eigh", x):
        r = _symmetrize(raw(x))
        w, v = _linalg(namespace(r)).eigh(r)
        return EighResult(*like(x, (w, v)))
    packed = apply(_EIGH, (_symmetrize(x),))
    return EighResult(getitem(packed, (Ellipsis, 0, slice(None))),
                      getitem(packed, (Ellipsis, slice(1, None), slice(None))))


def _eigvalsh_vjp(g: Any, ans: Any, x: Any) -> Any:
    v = eigh(x).eigenvectors
    return matmul(multiply(v, expand_dims(g, axis=-2)), _mT(v))


_EIGVALSH = Primitive("eigvalsh", OpType.EIGVALSH, lambda xp, x: _linalg(xp).eigvalsh(x), (_eigvalsh_vjp,))


def eigvalsh(x: Any, /) -> Any:
    """Eigenvalues (ascending) of each symmetric matrix; gradient ``V diag(g) V^T``.

    Examples
    --------
    >>> import anyad as ad
    >>> a = ad.Variable([[2.0, 1.0], [1.0, 2.0]], requires_grad=True)
    >>> ad.eigvalsh(a)
    Variable([1. 3.])
    """
    _square("eigvalsh", x)
    if not _differentiates("eigvalsh", x):
        r = _symmetrize(raw(x))
        return like(x, _linalg(namespace(r)).eigvalsh(r))
    return apply(_EIGVALSH, (_symmetrize(x),))


# --- svd, svdvals, qr -------------------------------------------------------------------------

def _flat_concat(xp: Any, parts: tuple) -> Any:
    batch = tuple(parts[0].shape[:-2])
    flat = []
    for p in parts:  # explicit sizes: -1 is ambiguous in an empty batch
        size = 1
        for d in tuple(p.shape)[len(batch):]:
            size *= d
        flat.append(xp.reshape(p, batch + (size,)))
    return xp.concat(flat, axis=-1)


def _unpack(packed: Any, shapes: tuple) -> list:
    """Split the last axis of ``packed`` into arrays of the given trailing shapes."""
    out = []
    start = 0
    batch = tuple(packed.shape[:-1])
    for shape in shapes:
        size = 1
        for d in shape:
            size *= d
        piece = getitem(packed, (Ellipsis, slice(start, start + size)))
        out.append(reshape(piece, batch + shape))
        start += size
    return out


def _svd_shapes(x: Any) -> tuple:
    m, n = x.shape[-2], x.shape[-1]
    k = min(m, n)
    return ((m, k), (k,), (k, n))


def _svd_vjp(g: Any, packed: Any, x: Any) -> Any:
    shapes = _svd_shapes(x)
    u, s, vh = _unpack(packed, shapes)
    gu, gs, gvh = _unpack(g, shapes)
    (m, k), _, (_, n) = shapes
    v, gv = _mT(vh), _mT(gvh)
    s2 = multiply(s, s)
    f = _off_diagonal_inverse(subtract(expand_dims(s2, axis=-2), expand_dims(s2, axis=-1)))
    utgu = matmul(_mT(u), gu)
    vtgv = matmul(_mT(v), gv)
    j = multiply(f, subtract(utgu, _mT(utgu)))
    kk = multiply(f, subtract(vtgv, _mT(vtgv)))
    inner = add(add(multiply(j, expand_dims(s, axis=-2)), _diag_embed(gs)),
                multiply(expand_dims(s, axis=-1), kk))
    ga = matmul(u, matmul(inner, vh))
    if m > k:  # (I - U U^T) gU S^-1 V^T
        ga = add(ga, matmul(divide(subtract(gu, matmul(u, utgu)), expand_dims(s, axis=-2)), vh))
    if n > k:  # U S^-1 gV^T (I - V V^T)
        ga = add(ga, matmul(u, divide(_mT(subtract(gv, matmul(v, vtgv))), expand_dims(s, axis=-1))))
    return ga


_SVD = Primitive("svd", OpType.SVD,
                 lambda xp, x: _flat_concat(xp, tuple(_linalg(xp).svd(x, full_matrices=False))), (_svd_vjp,))


def svd(x: Any, /, *, full_matrices: bool = True) -> SVDResult:
    """Singular value decomposition ``x = U diag(S) Vh`` of each matrix.

    Differentiable with ``full_matrices=False`` (or square matrices); the
    gradient is undefined where singular values repeat or vanish.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.svd(ad.Variable([[3.0, 0.0], [0.0, -2.0]])).S
    Variable([3. 2.])
    """
    shape = tuple(raw(x).shape)
    if len(shape) < 2:
        raise ValueError(f"anyad.linalg.svd: expected a stack of matrices, got shape {shape}")
    square = shape[-1] == shape[-2]
    if not _differentiates("svd", x) or (full_matrices and not square and not x.requires_grad):
        r = raw(x)
        return SVDResult(*like(x, tuple(_linalg(namespace(r)).svd(r, full_matrices=full_matrices))))
    if full_matrices and not square:
        raise NotImplementedError(
            f"anyad.linalg.svd: the gradient of a full_matrices=True SVD of a non-square matrix {shape} "
            "is not defined; use full_matrices=False")
    packed = apply(_SVD, (x,))
    return SVDResult(*_unpack(packed, _svd_shapes(raw(x))))


def _svdvals_vjp(g: Any, ans: Any, x: Any) -> Any:
    u, _, vh = svd(x, full_matrices=False)
    return matmul(u, multiply(expand_dims(g, axis=-1), vh))


_SVDVALS = Primitive("svdvals", OpType.SVDVALS, lambda xp, x: _linalg(xp).svdvals(x), (_svdvals_vjp,))


def svdvals(x: Any, /) -> Any:
    """Singular values (descending) of each matrix; gradient ``U diag(g) Vh``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.svdvals(ad.Variable([[3.0, 0.0], [0.0, -2.0]]))
    Variable([3. 2.])
    """
    if not _differentiates("svdvals", x):
        r = raw(x)
        return like(x, _linalg(namespace(r)).svdvals(r))
    return apply(_SVDVALS, (x,))


def _qr_shapes(x: Any) -> tuple:
    m, n = x.shape[-2], x.shape[-1]
    return ((m, n), (n, n))


def _qr_vjp(g: Any, packed: Any, x: Any) -> Any:
    # m >= n, reduced: gA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q
    shapes = _qr_shapes(x)
    q, r = _unpack(packed, shapes)
    gq, gr = _unpack(g, shapes)
    m_ = subtract(matmul(r, _mT(gr)), matmul(_mT(gq), q))
    copyltu = add(tril(m_), _mT(tril(m_, k=-1)))
    b = add(gq, matmul(q, copyltu))
    return _mT(solve(r, _mT(b)))


_QR = Primitive("qr", OpType.QR, lambda xp, x: _flat_concat(xp, tuple(_linalg(xp).qr(x))), (_qr_vjp,))


def qr(x: Any, /, *, mode: str = "reduced") -> QRResult:
    """QR decomposition ``x = Q R`` of each matrix (``mode`` ``"reduced"`` or ``"complete"``).

    Differentiable for matrices with at least as many rows as columns, in
    reduced mode (or square ones in either mode).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.qr(ad.Variable([[2.0, 0.0], [0.0, 3.0]])).R
    Variable([[2. 0.]
              [0. 3.]])
    """
    shape = tuple(raw(x).shape)
    if len(shape) < 2:
        raise ValueError(f"anyad.linalg.qr: expected a stack of matrices, got shape {shape}")
    m, n = shape[-2:]
    ok = m >= n and (mode == "reduced" or m == n)
    if not _differentiates("qr", x) or (not ok and not x.requires_grad):
        r = raw(x)
        return QRResult(*like(x, tuple(_linalg(namespace(r)).qr(r, mode=mode))))
    if not ok:
        raise NotImplementedError(
            f"anyad.linalg.qr: the gradient is defined for matrices with rows >= columns in reduced mode; "
            f"got shape {shape}, mode={mode!r}")
    packed = apply(_QR, (x,))
    return QRResult(*_unpack(packed, _qr_shapes(raw(x))))
