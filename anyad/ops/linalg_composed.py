"""The rest of the standard's ``linalg`` extension, composed from primitives
(so they need no rule of their own): vector_norm, matrix_norm, pinv,
matrix_power, diagonal, trace, outer, cross; and matrix_rank (an integer:
never recorded).

When nothing is recorded the backend's own function runs (exactly its
numerics); when something is, the composition runs and records.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any

from .. import _backend
from ..graph import OpType, Primitive
from ..variable import Variable
from ._core import apply
from ._helpers import is_complex, like, namespace, raw, records
from .linalg_extra import _linalg, _square
from .elementwise import abs, equal, multiply, not_equal, pow, sqrt, subtract, where
from .creation import ones_like, zeros_like
from .elementwise_extra import conj, real
from .indexing import getitem, take
from .linalg import matmul
from .linalg_extra import inv, pinv_primitive, svdvals
from .manipulation import astype, broadcast_to, expand_dims, reshape, stack, stop_gradient
from .reductions import max, min, sum

__all__ = ["vector_norm", "matrix_norm", "pinv", "matrix_power", "diagonal", "trace", "outer", "cross",
           "matrix_rank"]


def _safe_sqrt(s: Any) -> Any:
    """``sqrt(s)`` with the subgradient 0 at ``s == 0`` (not 0 * inf)."""
    zero = equal(s, 0)
    return where(zero, zeros_like(s), sqrt(where(zero, ones_like(s), s)))


def _abs2(x: Any) -> Any:
    return real(multiply(x, conj(x))) if is_complex(x) else multiply(x, x)


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """The vector ``ord``-norm over ``axis`` (all axes by default).

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([3.0, -4.0], requires_grad=True)
    >>> n = ad.vector_norm(x)
    >>> n
    Variable(5.0)
    >>> n.backward()
    >>> x.grad
    array([ 0.6, -0.8])
    """
    if not records(x):
        r = raw(x)
        return like(x, _linalg(namespace(r)).vector_norm(r, axis=axis, keepdims=keepdims, ord=ord))
    if ord == 2:
        return _safe_sqrt(sum(_abs2(x), axis=axis, keepdims=keepdims))
    a = abs(x)
    if ord == math.inf:
        return max(a, axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return min(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        return sum(astype(not_equal(stop_gradient(a), 0), a.dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum(a, axis=axis, keepdims=keepdims)
    return pow(sum(pow(a, ord), axis=axis, keepdims=keepdims), 1.0 / ord)


def _keep(out: Any, keepdims: bool) -> Any:
    return expand_dims(expand_dims(out, axis=-1), axis=-1) if keepdims else out


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """The matrix norm of each matrix: ``"fro"``, ``"nuc"``, 1, 2, inf and their negatives.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.matrix_norm(ad.Variable([[3.0, 0.0], [0.0, 4.0]]))
    Variable(5.0)
    """
    if not records(x):
        r = raw(x)
        return like(x, _linalg(namespace(r)).matrix_norm(r, keepdims=keepdims, ord=ord))
    if ord == "fro":
        return _keep(_safe_sqrt(sum(_abs2(x), axis=(-2, -1))), keepdims)
    if ord in ("nuc", 2, -2):
        s = svdvals(x)
        out = sum(s, axis=-1) if ord == "nuc" else (max if ord == 2 else min)(s, axis=-1)
        return _keep(out, keepdims)
    if ord in (1, -1, math.inf, -math.inf):
        sums = sum(abs(x), axis=-2 if ord in (1, -1) else -1)
        return _keep((max if ord > 0 else min)(sums, axis=-1), keepdims)
    raise ValueError(f"anyad.linalg.matrix_norm: unsupported ord {ord!r}")


def pinv(x: Any, /, *, rtol: Any = None) -> Any:
    """Moore-Penrose pseudo-inverse (the library's own kernel); singular values at
    or below ``rtol * max(S)`` are dropped. Differentiable where the rank does
    not change, including at repeated singular values (the identity, orthogonal
    matrices): its rule is the pseudo-inverse's own, not the SVD's.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.pinv(ad.Variable([[2.0, 0.0], [0.0, 0.0]]))
    Variable([[0.5 0. ]
              [0.  0. ]])
    """
    return pinv_primitive(x, raw(rtol))


def matrix_power(x: Any, n: int, /) -> Any:
    """``x`` multiplied by itself ``n`` times (``inv(x)`` for negative ``n``; the
    identity for 0), by repeated squaring.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.matrix_power(ad.Variable([[1.0, 1.0], [0.0, 1.0]]), 3)
    Variable([[1. 3.]
              [0. 1.]])
    """
    n = operator.index(n)
    _square("matrix_power", x)
    if not records(x):
        r = raw(x)
        return like(x, _linalg(namespace(r)).matrix_power(r, n))
    if n == 0:
        r = raw(x)
        xp = namespace(r)
        eye = xp.eye(r.shape[-1], dtype=r.dtype, device=_backend.device_of(r))
        return like(x, xp.broadcast_to(eye, tuple(r.shape)))
    if n < 0:
        x = inv(x)
        n = -n
    result = None
    base = x
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def _diagonal_indices(xp: Any, n: int, m: int, offset: int, dev: Any) -> Any:
    if offset >= 0:
        length = builtins.max(0, builtins.min(n, m - offset))
        i = xp.arange(length, device=dev)
        return i * (m + 1) + offset
    length = builtins.max(0, builtins.min(n + offset, m))
    i = xp.arange(length, device=dev)
    return (i - offset) * m + i


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """Diagonal ``offset`` of each matrix (the last two axes).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.diagonal(ad.Variable([[1.0, 2.0], [3.0, 4.0]]), offset=1)
    Variable([2.])
    """
    offset = operator.index(offset)
    r = raw(x)
    xp = namespace(r)
    if not records(x):
        return like(x, _linalg(xp).diagonal(r, offset=offset))
    *batch, n, m = tuple(r.shape)
    idx = _diagonal_indices(xp, n, m, offset, _backend.device_of(r))
    return take(reshape(x, tuple(batch) + (n * m,)), idx, axis=len(batch))


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """Sum of diagonal ``offset`` of each matrix.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.trace(ad.Variable([[1.0, 2.0], [3.0, 4.0]]))
    Variable(5.0)
    """
    if not records(x):
        r = raw(x)
        return like(x, _linalg(namespace(r)).trace(r, offset=offset, dtype=dtype))
    return sum(diagonal(x, offset=offset), axis=-1, dtype=dtype)


def outer(x1: Any, x2: Any, /) -> Any:
    """Outer product of two vectors.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.outer(ad.Variable([1.0, 2.0]), ad.Variable([3.0, 4.0]))
    Variable([[3. 4.]
              [6. 8.]])
    """
    for a in (x1, x2):
        if len(raw(a).shape) != 1:
            raise ValueError(f"anyad.linalg.outer: expected 1-D arrays, got shape {tuple(raw(a).shape)}")
    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Cross product of 3-element vectors along ``axis`` (the rest broadcasts).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.cross(ad.Variable([1.0, 0.0, 0.0]), ad.Variable([0.0, 1.0, 0.0]))
    Variable([0. 0. 1.])
    """
    if not records(x1, x2):
        r1, r2 = raw(x1), raw(x2)
        return like(x1 if isinstance(x1, Variable) else x2, _linalg(namespace(r1)).cross(r1, r2, axis=axis))
    s1, s2 = tuple(raw(x1).shape), tuple(raw(x2).shape)
    shape = broadcast_shapes(s1, s2)
    ndim = len(shape)
    axis = operator.index(axis)
    if not -ndim <= axis < ndim or shape[axis] != 3:
        raise ValueError(f"anyad.linalg.cross: axis {axis} of the shapes {s1} and {s2} must have size 3")
    axis %= ndim
    a, b = broadcast_to(x1, shape), broadcast_to(x2, shape)

    def comp(v: Any, i: int) -> Any:
        return getitem(v, (slice(None),) * axis + (i, Ellipsis))

    a0, a1, a2 = comp(a, 0), comp(a, 1), comp(a, 2)
    b0, b1, b2 = comp(b, 0), comp(b, 1), comp(b, 2)
    return stack([subtract(multiply(a1, b2), multiply(a2, b1)),
                  subtract(multiply(a2, b0), multiply(a0, b2)),
                  subtract(multiply(a0, b1), multiply(a1, b0))], axis=axis)


def broadcast_shapes(*shapes: tuple) -> tuple:
    """The shape that arrays of ``shapes`` broadcast to (the standard's rule).

    Examples
    --------
    >>> broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    ndim = 0
    for s in shapes:
        ndim = ndim if ndim >= len(s) else len(s)
    out = []
    for i in range(-ndim, 0):
        d = 1
        for s in shapes:
            if -i > len(s):
                continue
            k = s[i]
            if k is None or d is None:
                d = None
            elif k != 1:
                if d != 1 and d != k:
                    raise ValueError(f"anyad: shapes {shapes} do not broadcast")
                d = k
        out.append(d)
    return tuple(out)


def matrix_rank(x: Any, /, *, rtol: Any = None) -> Any:
    """The rank of each matrix (an integer: never recorded).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.matrix_rank(ad.Variable([[1.0, 2.0], [2.0, 4.0]]))
    Variable(1)
    """
    return apply(_MATRIX_RANK, (x,), {"rtol": raw(rtol)})


def _matrix_rank(xp: Any, x: Any, rtol: Any) -> Any:
    if len(x.shape) >= 2 and 0 in tuple(x.shape[-2:]):  # an empty matrix has rank 0 (numpy raises)
        return xp.zeros(tuple(x.shape[:-2]), dtype=xp.int64, device=_backend.device_of(x))
    return _linalg(xp).matrix_rank(x, rtol=rtol)


# a primitive with no derivative, so that jit and vmap recompute it (never frozen at its traced value)
_MATRIX_RANK = Primitive("matrix_rank", OpType.NOOP, _matrix_rank, None, register=False)
