"""NumPy's functions with NumPy's signatures, written with anyad's differentiable
functions: what ``Variable.__array_function__`` runs for ``np.sum(v)``,
``np.concatenate([v, w])``, ``np.dot(a, b)`` ... (the table that maps NumPy's
function objects to these lives in :mod:`anyad._numpy_interop`).

Arguments anyad cannot honour (``out=``, ``where=``, ``initial=``, ``order='F'``)
raise a TypeError naming them.

Examples
--------
>>> import anyad as ad
>>> from anyad._numpy_functions import dot
>>> dot(ad.Variable([1.0, 2.0]), ad.Variable([3.0, 4.0]))
Variable(11.0)
"""

from __future__ import annotations

from typing import Any, Callable

from . import _backend
from . import ops as _ops
from ._backend import namespace_of


class _Missing:
    """An argument the caller did not give (NumPy's own ``_NoValue`` counts as missing too)."""

    def __repr__(self) -> str:
        return "<missing>"


_NOVALUE = _Missing()


def _absent(v: Any) -> bool:
    return v is _NOVALUE or type(v).__name__ == "_NoValueType"


def _unsupported(label: str, **given: Any) -> None:
    for k, v in given.items():
        if v is not None and v is not False and not _absent(v):
            raise TypeError(f"anyad: {label} does not support {k}= on Variables")


def _numpy_dtype(a: Any, dtype: Any) -> Any:
    from .autodiff import _dtype_for  # NumPy-style spellings -> the array's own dtype

    return _dtype_for(namespace_of(getattr(a, "value", a)), dtype)


def _cast(a: Any, dtype: Any) -> Any:
    return a if dtype is None else _ops.astype(a, _numpy_dtype(a, dtype))


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=_NOVALUE):
    _unsupported("numpy.sum", out=out, initial=initial, where=where)
    return _ops.sum(_cast(a, dtype), axis=axis, keepdims=keepdims)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=_NOVALUE):
    _unsupported("numpy.prod", out=out, initial=initial, where=where)
    return _ops.prod(_cast(a, dtype), axis=axis, keepdims=keepdims)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=_NOVALUE):
    _unsupported("numpy.mean", out=out, where=where)
    return _ops.mean(_cast(a, dtype), axis=axis, keepdims=keepdims)


def extremum(f: Callable, label: str) -> Callable:
    """numpy.max / numpy.min & co. over the anyad reduction ``f``."""
    def reduce(a, axis=None, out=None, keepdims=False, initial=_NOVALUE, where=_NOVALUE):
        _unsupported(label, out=out, initial=initial, where=where)
        return f(a, axis=axis, keepdims=keepdims)

    return reduce


def moment(f: Callable, label: str) -> Callable:
    """numpy.var / numpy.std over the anyad function ``f`` (``ddof`` is its ``correction``)."""
    def moment(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=_NOVALUE,
               mean=_NOVALUE, correction=_NOVALUE):
        _unsupported(label, out=out, where=where, mean=mean)
        corr = ddof if _absent(correction) else correction
        return f(_cast(a, dtype), axis=axis, correction=corr, keepdims=keepdims)

    return moment


def cumsum(a, axis=None, dtype=None, out=None):
    _unsupported("numpy.cumsum", out=out)
    a = _cast(a, dtype)
    if axis is None:
        a, axis = _ops.reshape(a, (-1,)), 0
    return _ops.cumulative_sum(a, axis=axis)


def _ndim(a: Any) -> int:
    return len(getattr(a, "shape", ()))


def transpose(a, axes=None):
    return _ops.permute_dims(a, tuple(range(_ndim(a) - 1, -1, -1)) if axes is None else tuple(axes))


def swapaxes(a, axis1, axis2):
    order = list(range(_ndim(a)))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return _ops.permute_dims(a, tuple(order))


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise TypeError("anyad: numpy.reshape supports order='C' only on Variables")
    shape = newshape if shape is None else shape
    return _ops.reshape(a, (shape,) if isinstance(shape, int) else tuple(shape))


def ravel(a, order="C"):
    return reshape(a, (-1,), order)


def squeeze(a, axis=None):
    if axis is None:
        axis = tuple(i for i, d in enumerate(a.shape) if d == 1)
    return _ops.squeeze(a, axis=axis)


def expand_dims(a, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = _ndim(a) + len(axes)
    for ax in sorted(x % nd for x in axes):
        a = _ops.expand_dims(a, axis=ax)
    return a


def broadcast_to(array, shape, subok=False):
    return _ops.broadcast_to(array, (shape,) if isinstance(shape, int) else tuple(shape))


def concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _unsupported("numpy.concatenate", out=out)
    return _ops.concat([_cast(a, dtype) for a in arrays], axis=axis)


def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _unsupported("numpy.stack", out=out)
    return _ops.stack([_cast(a, dtype) for a in arrays], axis=axis)


def _atleast(n: int) -> Callable:
    def atleast(*arys):
        out = []
        for a in arys:
            nd = _ndim(a)
            if nd < n:
                shape = tuple(getattr(a, "shape", ()))
                if n == 2 and nd == 1:
                    shape = (1,) + shape
                elif n == 3 and nd == 1:
                    shape = (1,) + shape + (1,)
                elif n == 3 and nd == 2:
                    shape = shape + (1,)
                else:
                    shape = (1,) * n
                a = _ops.reshape(a, shape)
            out.append(a)
        return out[0] if len(out) == 1 else tuple(out)

    return atleast


atleast_1d, atleast_2d, atleast_3d = _atleast(1), _atleast(2), _atleast(3)


def vstack(tup, *, dtype=None, casting="same_kind"):
    return _ops.concat([_cast(atleast_2d(a), dtype) for a in tup], axis=0)


def hstack(tup, *, dtype=None, casting="same_kind"):
    arrs = [_cast(atleast_1d(a), dtype) for a in tup]
    return _ops.concat(arrs, axis=0 if _ndim(arrs[0]) == 1 else 1)


def dot(a, b, out=None):
    _unsupported("numpy.dot", out=out)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return _ops.multiply(a, b)
    if na <= 2 and nb <= 2:
        return _ops.matmul(a, b)
    return _ops.tensordot(a, b, axes=([na - 1], [0 if nb == 1 else nb - 2]))


def outer(a, b, out=None):
    _unsupported("numpy.outer", out=out)
    return _ops.multiply(_ops.reshape(a, (-1, 1)), _ops.reshape(b, (1, -1)))


def inner(a, b):
    if _ndim(a) == 0 or _ndim(b) == 0:
        return _ops.multiply(a, b)
    return _ops.tensordot(a, b, axes=([_ndim(a) - 1], [_ndim(b) - 1]))


def tensordot(a, b, axes=2):
    return _ops.tensordot(a, b, axes=axes)


def where(condition, x=_NOVALUE, y=_NOVALUE):
    if _absent(x) or _absent(y):
        raise TypeError("anyad: numpy.where(condition) with one argument (indices) is not differentiable; "
                        "use numpy.where on .value, or the three-argument form")
    return _ops.where(condition, x, y)


def clip(a, a_min=_NOVALUE, a_max=_NOVALUE, out=None, *, min=_NOVALUE, max=_NOVALUE, **kwargs):
    _unsupported("numpy.clip", out=out, **kwargs)
    lo = a_min if not _absent(a_min) else (None if _absent(min) else min)
    hi = a_max if not _absent(a_max) else (None if _absent(max) else max)
    return _ops.clip(a, min=lo, max=hi)


def flip(m, axis=None):
    return _ops.flip(m, axis=axis)


def moveaxis(a, source, destination):
    return _ops.moveaxis(a, source, destination)


def roll(a, shift, axis=None):
    if axis is None:
        return _ops.reshape(_ops.roll(_ops.reshape(a, (-1,)), shift, axis=0), tuple(a.shape))
    return _ops.roll(a, shift, axis=axis)


def repeat(a, repeats, axis=None):
    return _ops.repeat(a, repeats, axis=axis)


def tile(A, reps):
    return _ops.tile(A, (reps,) if isinstance(reps, int) else tuple(reps))


def tri(f: Callable) -> Callable:
    """numpy.tril / numpy.triu over the anyad function ``f``."""
    def tri(m, k=0):
        return f(m, k=k)

    return tri


def take(a, indices, axis=None, out=None, mode="raise"):
    _unsupported("numpy.take", out=out)
    if mode != "raise":
        raise TypeError("anyad: numpy.take supports mode='raise' only on Variables")
    if axis is None:
        a, axis = _ops.reshape(a, (-1,)), 0
    return _ops.take(a, indices, axis=axis)


def round(a, decimals=0, out=None):
    _unsupported("numpy.round", out=out)
    if decimals == 0:
        return _ops.round(a)
    scale = 10.0 ** decimals
    return _ops.divide(_ops.round(_ops.multiply(a, scale)), scale)


def like(f: Callable, label: str) -> Callable:
    """numpy.zeros_like & co. over the anyad function ``f`` (a constant Variable)."""
    def like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
        _check_like(label, order, shape)
        return f(a, dtype=None if dtype is None else _numpy_dtype(a, dtype))

    return like


def _check_like(label: str, order: str, shape: Any) -> None:
    if shape is not None or order not in ("K", "C"):
        raise TypeError(f"anyad: {label} supports neither shape= nor order= on Variables")


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    _check_like("numpy.full_like", order, shape)
    return _ops.full_like(a, fill_value, dtype=None if dtype is None else _numpy_dtype(a, dtype))


def shape(a):
    return tuple(a.shape)


def size(a, axis=None):
    if axis is not None:
        return a.shape[axis]
    n = 1
    for d in a.shape:
        n *= d
    return n


def copy(a, order="K", subok=False):
    return _ops.positive(a)


def astype(x, dtype, /, *, copy=True, device=None):
    return _ops.astype(x, _numpy_dtype(x, dtype))


def unstack(x, /, *, axis=0):
    return _ops.unstack(x, axis=axis)


# ---------------------------------------------------------------------------
# linear algebra, sorting, einsum, fft: NumPy's signatures over anyad's functions
# ---------------------------------------------------------------------------


def _last_two(a: Any, axis1: int, axis2: int) -> Any:
    """``a`` with axes ``axis1``, ``axis2`` moved to the end (NumPy's trace and
    diagonal default to the first two axes, the standard's to the last two)."""
    nd = _ndim(a)
    i, j = axis1 % nd, axis2 % nd
    if (i, j) == (nd - 2, nd - 1):
        return a
    rest = tuple(k for k in range(nd) if k not in (i, j))
    return _ops.permute_dims(a, rest + (i, j))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _unsupported("numpy.trace", out=out)
    return _ops.trace(_cast(_last_two(a, axis1, axis2), dtype), offset=offset)


def diagonal(a, offset=0, axis1=0, axis2=1):
    return _ops.diagonal(_last_two(a, axis1, axis2), offset=offset)


def diag(v, k=0):
    if _ndim(v) == 2:
        return _ops.diagonal(v, offset=k)
    if _ndim(v) != 1:
        raise ValueError("anyad: numpy.diag takes a 1-D or 2-D array")
    xp, dev = namespace_of(v.value), _backend.device_of(v.value)  # a 1-D v: v on diagonal k
    full = _ops.concat([v, xp.zeros((abs(k),), dtype=v.dtype, device=dev)], axis=0) if k else v
    eye = xp.eye(v.shape[0] + abs(k), k=k, dtype=v.dtype, device=dev)
    return _ops.multiply(eye, _ops.reshape(full, (-1, 1) if k >= 0 else (1, -1)))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is None and (axisa, axisb, axisc) != (-1, -1, -1):
        raise TypeError("anyad: numpy.cross supports axis= (or the default axes) only on Variables")
    return _ops.cross(a, b, axis=-1 if axis is None else axis)


def vdot(a, b):
    return _ops.sum(_ops.multiply(_ops.conj(_ops.reshape(a, (-1,))), _ops.reshape(b, (-1,))))


def einsum(*operands, out=None, optimize=False, **kwargs):
    from .ops.linalg_einsum import einsum as _einsum

    _unsupported("numpy.einsum", out=out, **{k: v for k, v in kwargs.items() if k != "casting"})
    return _einsum(*operands)


def append(arr, values, axis=None):
    if axis is None:
        return _ops.concat([_ops.reshape(arr, (-1,)), _ops.reshape(values, (-1,))], axis=0)
    return _ops.concat([arr, values], axis=axis)


def cumprod(a, axis=None, dtype=None, out=None):
    _unsupported("numpy.cumprod", out=out)
    a = _cast(a, dtype)
    if axis is None:
        a, axis = _ops.reshape(a, (-1,)), 0
    return _ops.cumulative_prod(a, axis=axis)


def cumulative(f: Callable, label: str) -> Callable:
    """numpy.cumulative_sum / cumulative_prod (NumPy >= 2.1) over ``f``."""
    def cumulative(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        _unsupported(label, out=out)
        return f(_cast(x, dtype), axis=axis, include_initial=include_initial)

    return cumulative


def diff(a, n=1, axis=-1, prepend=_NOVALUE, append=_NOVALUE):
    return _ops.diff(a, axis=axis, n=n, prepend=None if _absent(prepend) else prepend,
                     append=None if _absent(append) else append)


def _sorting(f: Callable, label: str) -> Callable:
    def sort(a, axis=-1, kind=None, order=None, *, stable=None):
        _unsupported(label, order=order)
        if axis is None:
            a, axis = _ops.reshape(a, (-1,)), 0
        return f(a, axis=axis, stable=True if stable is None else stable)

    return sort


sort, argsort = _sorting(_ops.sort, "numpy.sort"), _sorting(_ops.argsort, "numpy.argsort")


def searchsorted(a, v, side="left", sorter=None):
    return _ops.searchsorted(a, v, side=side, sorter=sorter)


def take_along_axis(arr, indices, axis=-1):
    if axis is None:
        arr, axis = _ops.reshape(arr, (-1,)), 0
    return _ops.take_along_axis(arr, indices, axis=axis)


def real(val):
    return _ops.real(val)


def imag(val):
    if not _backend.isdtype_cached(getattr(val, "value", val), "complex floating"):
        return _ops.zeros_like(val)  # NumPy's imaginary part of real numbers (the standard has none)
    return _ops.imag(val)


def index_of(f: Callable, label: str) -> Callable:
    """numpy.argmax / argmin (integer results: a constant Variable)."""
    def index(a, axis=None, out=None, *, keepdims=False):
        _unsupported(label, out=out)
        return f(a, axis=axis, keepdims=bool(keepdims))

    return index


# -- numpy.linalg -----------------------------------------------------------


def _upper_lower(label: str, UPLO: str) -> None:
    if UPLO != "L":
        raise TypeError(f"anyad: {label} supports UPLO='L' only on Variables (the matrix must be symmetric)")


def eigh(a, UPLO="L"):
    _upper_lower("numpy.linalg.eigh", UPLO)
    return _ops.eigh(a)


def eigvalsh(a, UPLO="L"):
    _upper_lower("numpy.linalg.eigvalsh", UPLO)
    return _ops.eigvalsh(a)


def cholesky(a, /, *, upper=False):
    return _ops.cholesky(a, upper=upper)


def qr(a, mode="reduced"):
    return _ops.qr(a, mode=mode)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    _unsupported("numpy.linalg.svd", hermitian=hermitian)
    return _ops.svd(a, full_matrices=full_matrices) if compute_uv else _ops.svdvals(a)


def pinv(a, rcond=None, hermitian=False, *, rtol=_NOVALUE):
    _unsupported("numpy.linalg.pinv", hermitian=hermitian)
    return _ops.pinv(a, rtol=rcond if _absent(rtol) else rtol)


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    _unsupported("numpy.linalg.matrix_rank", tol=tol, hermitian=hermitian)
    return _ops.matrix_rank(A, rtol=rtol)


def multi_dot(arrays, *, out=None):
    _unsupported("numpy.linalg.multi_dot", out=out)
    result = arrays[0]
    for b in arrays[1:]:
        result = _ops.matmul(result, b)
    return result


def linalg_trace(x, /, *, offset=0, dtype=None):
    return _ops.trace(_cast(x, dtype), offset=offset)


def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm: a vector norm, or a matrix norm over two axes."""
    nd = _ndim(x)
    if isinstance(axis, int):
        axis = (axis,)
    if axis is None:
        if ord is None:  # the 2-norm of the flattened array (Frobenius for a matrix)
            return _ops.vector_norm(x, keepdims=keepdims)
        if nd not in (1, 2):
            raise ValueError("anyad: numpy.linalg.norm with ord= and no axis takes a 1-D or 2-D array")
        axis = tuple(range(nd))
    if len(axis) == 1:
        return _ops.vector_norm(x, axis=axis[0], keepdims=keepdims, ord=2 if ord is None else ord)
    if len(axis) != 2:
        raise ValueError(f"anyad: numpy.linalg.norm takes one or two axes, got {axis}")
    i, j = (a % nd for a in axis)
    out = _ops.matrix_norm(_last_two(x, i, j), ord="fro" if ord is None else ord)
    if keepdims:
        for a in sorted((i, j)):
            out = _ops.expand_dims(out, axis=a)
    return out


# -- numpy.fft ----------------------------------------------------------------


def fft1(f: Callable) -> Callable:
    """numpy.fft.fft & co. (one axis) over anyad's ``f``."""
    def one(a, n=None, axis=-1, norm=None, out=None):
        _unsupported(f"numpy.fft.{f.__name__}", out=out)
        return f(a, n=n, axis=axis, norm="backward" if norm is None else norm)

    return one


def fftn(f: Callable, two: bool = False) -> Callable:
    """numpy.fft.fftn & co. (``two``: fft2 & co., whose default axes are the last two)."""
    def n_dim(a, s=None, axes=(-2, -1) if two else None, norm=None, out=None):
        _unsupported(f"numpy.fft.{f.__name__}", out=out)
        return f(a, s=s, axes=axes, norm="backward" if norm is None else norm)

    return n_dim


def fftshift(f: Callable) -> Callable:
    def shift(x, axes=None):
        return f(x, axes=axes)

    return shift
