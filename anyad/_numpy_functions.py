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
