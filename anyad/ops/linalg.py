"""Linear algebra: matmul and matrix_transpose (primitives); tensordot and
vecdot (composed from them, so they need no rule of their own)."""

from __future__ import annotations

from typing import Any

from .._backend import BackendMismatchError
from .._state import autocast_dtype
from ..graph import OpType, Primitive
from ._core import apply
from ._helpers import autocast_low, is_complex
from .elementwise import add, multiply
from .elementwise_extra import conj
from .manipulation import expand_dims, permute_dims, reshape, squeeze
from .reductions import sum

__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot"]


def _ndim(x: Any) -> int:
    return len(x.shape)


def _matmul_vjp_x1(g: Any, ans: Any, a: Any, b: Any) -> Any:
    na, nb = _ndim(a), _ndim(b)
    if na == 1 and nb == 1:
        return multiply(g, b)
    if na == 1:  # (n,) @ (..., n, m) -> (..., m)
        return squeeze(matmul(b, expand_dims(g, axis=-1)), axis=-1)
    if nb == 1:  # (..., n, m) @ (m,) -> (..., n)
        return multiply(expand_dims(g, axis=-1), b)
    return matmul(g, matrix_transpose(b))


def _matmul_vjp_x2(g: Any, ans: Any, a: Any, b: Any) -> Any:
    na, nb = _ndim(a), _ndim(b)
    if na == 1 and nb == 1:
        return multiply(g, a)
    if na == 1:
        return multiply(expand_dims(a, axis=-1), expand_dims(g, axis=-2))
    if nb == 1:
        return squeeze(matmul(matrix_transpose(a), expand_dims(g, axis=-1)), axis=-1)
    return matmul(matrix_transpose(a), g)


# broadcasts=True: batch dimensions are summed back by the engine's unbroadcast
_MATMUL = Primitive("matmul", OpType.MATMUL, lambda xp, a, b: xp.matmul(a, b),
                    (_matmul_vjp_x1, _matmul_vjp_x2), broadcasts=True)


def _matmul_jvp(ts: Any, ans: Any, a: Any, b: Any) -> Any:
    ta, tb = ts
    out = None if ta is None else matmul(ta, b)
    if tb is not None:
        out = matmul(a, tb) if out is None else add(out, matmul(a, tb))
    return out


_MATMUL.jvp = _matmul_jvp


def matmul(x1: Any, x2: Any, /) -> Any:
    """Matrix product with NumPy semantics: 1-D operands are vectors, leading
    dimensions are batch dimensions and broadcast.

    Examples
    --------
    >>> import anyad as ad
    >>> a = ad.Variable([[2.0, 5.0]], requires_grad=True)
    >>> b = ad.Variable([[1.0], [2.0]], requires_grad=True)
    >>> ad.matmul(a, b)
    Variable([[12.]])
    >>> ad.matmul(ad.Variable([[1.0, 2.0]]), b.T)
    Traceback (most recent call last):
    ...
    ValueError: anyad.matmul: shapes (1, 2) and (1, 2) do not match: the last
    axis of x1 (2) must equal the second-to-last axis of x2 (1)
    """
    if autocast_dtype() is not None:  # inside anyad.amp.autocast: float32 operands in low precision
        x1, x2 = autocast_low(x1, x2)
    try:
        return apply(_MATMUL, (x1, x2))
    except BackendMismatchError:
        raise
    except Exception as e:  # the backends' own words differ: say it once, in anyad's
        msg = _matmul_mismatch(x1, x2)
        if msg is None:
            raise
        raise ValueError(msg) from e


def _known(shape: tuple) -> bool:
    return all(d is not None and d == d for d in shape)  # no unknown (lazy) sizes


def _matmul_mismatch(x1: Any, x2: Any) -> str | None:
    """Why ``matmul(x1, x2)`` cannot be, from the shapes alone (None when they fit)."""
    s1, s2 = tuple(getattr(x1, "shape", ())), tuple(getattr(x2, "shape", ()))
    if not (_known(s1) and _known(s2)):
        return None
    head = f"anyad.matmul: shapes {s1} and {s2} do not match"
    if not s1 or not s2:
        return f"{head}: matmul needs operands of at least one axis (use multiply for a scalar)"
    k1 = s1[-1]
    k2, where = (s2[-2], "second-to-last") if len(s2) >= 2 else (s2[0], "only")
    if k1 != k2:
        return f"{head}: the last axis of x1 ({k1}) must equal the {where} axis of x2 ({k2})"
    b1, b2 = s1[:-2], s2[:-2]
    for d1, d2 in zip(reversed(b1), reversed(b2)):
        if d1 != d2 and d1 != 1 and d2 != 1:
            return f"{head}: their batch dimensions {b1} and {b2} do not broadcast"
    return None


_MT = Primitive("matrix_transpose", OpType.MATRIX_TRANSPOSE, lambda xp, x: xp.matrix_transpose(x),
                (lambda g, ans, x: matrix_transpose(g),))
_MT.jvp = lambda ts, ans, x: matrix_transpose(ts[0])


def matrix_transpose(x: Any, /) -> Any:
    """Transpose the last two axes.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.matrix_transpose(ad.Variable([[1.0, 2.0]])).shape
    (2, 1)
    """
    return apply(_MT, (x,))


def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    """Sum products over the given axes (composed from permute_dims, reshape
    and matmul).

    Examples
    --------
    >>> import anyad as ad
    >>> a = ad.ones_like(ad.Variable([[1.0, 1.0], [1.0, 1.0]]))
    >>> ad.tensordot(a, a, axes=1)
    Variable([[2. 2.]
              [2. 2.]])
    """
    s1, s2 = tuple(x1.shape), tuple(x2.shape)
    if isinstance(axes, int):
        if axes < 0:
            raise ValueError("anyad.tensordot: axes must be non-negative")
        ax1 = tuple(range(len(s1) - axes, len(s1)))
        ax2 = tuple(range(axes))
    else:
        ax1, ax2 = (tuple(a) if not isinstance(a, int) else (a,) for a in axes)
        ax1 = tuple(a % len(s1) for a in ax1)
        ax2 = tuple(a % len(s2) for a in ax2)
    if len(ax1) != len(ax2) or any(s1[i] != s2[j] for i, j in zip(ax1, ax2)):
        raise ValueError(f"anyad.tensordot: shapes {s1} and {s2} do not match on axes {ax1} and {ax2}")
    free1 = tuple(a for a in range(len(s1)) if a not in ax1)
    free2 = tuple(a for a in range(len(s2)) if a not in ax2)
    k = 1
    for a in ax1:
        k *= s1[a]
    m = 1
    for a in free1:
        m *= s1[a]
    n = 1
    for a in free2:
        n *= s2[a]
    a = reshape(permute_dims(x1, free1 + ax1), (m, k))
    b = reshape(permute_dims(x2, ax2 + free2), (k, n))
    return reshape(matmul(a, b), tuple(s1[i] for i in free1) + tuple(s2[i] for i in free2))


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Dot product of vectors along ``axis`` (broadcasting the rest): ``sum(conj(x1) * x2)``,
    as the standard (and ``torch.linalg.vecdot``) define it for complex vectors.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.vecdot(ad.Variable([1.0, 2.0]), ad.Variable([3.0, 4.0]))
    Variable(11.0)
    >>> ad.vecdot(ad.Variable(np.array([1j])), np.array([1j]))
    Variable((1+0j))
    """
    if is_complex(x1):
        x1 = conj(x1)
    return sum(multiply(x1, x2), axis=axis)
