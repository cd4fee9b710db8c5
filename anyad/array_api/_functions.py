"""The namespace's functions that anyad.ops does not already offer with the
standard's signature: integer-valued and boolean results (searching, set
functions, ``all``/``any``: computed on the raw arrays, returned as constant
Variables) and thin adapters (``expand_dims`` with several axes,
``broadcast_arrays``, ``vecdot`` of complex vectors, ``clip`` with array bounds).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import ops
from .._backend import namespace_of, resolve_dtype
from .._state import current as _state
from ..backends import scatter
from ..graph import OpType, Primitive
from ..ops import batching
from ..ops._core import apply
from ..ops._helpers import like, raw, records
from ..ops.linalg_composed import broadcast_shapes
from ..variable import Variable, wrap

__all__ = ["argmax", "argmin", "count_nonzero", "nonzero", "isin", "unique_all", "unique_counts",
           "unique_inverse", "unique_values", "all", "any", "expand_dims", "broadcast_arrays",
           "broadcast_shapes", "vecdot", "clip", "sum", "prod", "cumulative_sum", "cumulative_prod", "repeat"]


_UNIQUE = {("values", "indices", "inverse_indices", "counts"): "unique_all", ("values", "counts"): "unique_counts",
           ("values", "inverse_indices"): "unique_inverse", ("values",): "unique_values"}


def _xp(x: Any) -> Any:
    return namespace_of(raw(x))


def _reduction(name: str) -> Primitive:
    """A non-differentiable reduction (integer or boolean result) as a primitive: never
    recorded for gradients, but traced by anyad.jit, so a replay recomputes it."""
    return Primitive(name, OpType.NOOP,
                     lambda xp, x, axis, keepdims: getattr(xp, name)(x, axis=axis, keepdims=keepdims), None,
                     register=False)


_ARGMAX, _ARGMIN, _COUNT_NONZERO, _ALL, _ANY = (
    _reduction(n) for n in ("argmax", "argmin", "count_nonzero", "all", "any"))
_ISIN = Primitive("isin", OpType.NOOP, lambda xp, a, b, invert: xp.isin(a, b, invert=invert), None, register=False)
_ARGMAX.batch = _ARGMIN.batch = batching.flat_reduction
_COUNT_NONZERO.batch = _ALL.batch = _ANY.batch = batching.reduction
_ISIN.batch = batching.isin_rule


def _shape_from_values(x: Any, name: str) -> None:
    """Under anyad.jit: refuse a result whose shape depends on traced values."""
    tracer = _state().tracer
    if tracer is not None and isinstance(x, Variable):
        tracer.concrete(x, f"anyad.array_api.{name} (a result whose shape depends on the values)")


def argmax(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum along ``axis`` (of the flattened array when None).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.argmax(xp.asarray([1.0, 3.0, 2.0]))
    Variable(1)
    """
    return apply(_ARGMAX, (x,), {"axis": axis, "keepdims": keepdims})


def argmin(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum along ``axis`` (of the flattened array when None).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.argmin(xp.asarray([1.0, 3.0, 2.0]))
    Variable(0)
    """
    return apply(_ARGMIN, (x,), {"axis": axis, "keepdims": keepdims})


def count_nonzero(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """Number of non-zero elements over ``axis``.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.count_nonzero(xp.asarray([1.0, 0.0, 2.0]))
    Variable(2)
    """
    return apply(_COUNT_NONZERO, (x,), {"axis": axis, "keepdims": keepdims})


def nonzero(x: Any, /) -> tuple:
    """Indices of the non-zero elements, one array per dimension.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.nonzero(xp.asarray([0.0, 2.0, 3.0]))
    (Variable([1 2]),)
    """
    _shape_from_values(x, "nonzero")
    r = raw(x)
    return like(x, tuple(_xp(r).nonzero(r)))


def isin(x1: Any, x2: Any, /, *, invert: bool = False) -> Any:
    """Whether each element of ``x1`` is in ``x2``.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.isin(xp.asarray([1, 2, 3]), xp.asarray([2, 5]))
    Variable([False  True False])
    """
    return apply(_ISIN, (x1, x2), {"invert": invert})


def _unique(x: Any, fields: tuple) -> Any:
    """``unique_*`` whose ``values`` are differentiable when ``x`` records.

    The values are the means of the groups of equal elements of ``x``
    (a scatter-add by the inverse indices, divided by the counts), so the
    gradient of a value goes to every element equal to it, shared equally: for
    distinct elements, the inverse permutation. The indices and counts are
    integers, constants."""
    _shape_from_values(x, _UNIQUE[fields])
    r = raw(x)
    xp = _xp(r)
    if not records(x) or not xp.isdtype(r.dtype, "real floating"):
        return like(x, getattr(xp, _UNIQUE[fields])(r))
    res = xp.unique_all(r) if "indices" in fields else xp.unique_inverse(r)
    inverse = xp.reshape(res.inverse_indices, (-1,))
    n = res.values.shape[0]
    flat = ops.reshape(x, (-1,))
    sizes = scatter.index_add(xp, xp.ones_like(raw(flat)), inverse, (n,), True)  # counts, as floats
    values = ops.divide(ops.index_add(flat, inverse, (n,), True), sizes)
    parts = {"values": values, "inverse_indices": wrap(res.inverse_indices),
             "counts": wrap(res.counts) if "indices" in fields else wrap(xp.astype(sizes, xp.int64)),
             "indices": wrap(res.indices) if "indices" in fields else None}
    if len(fields) == 1:
        return values
    return _UNIQUE_RESULTS[fields](*(parts[f] for f in fields))


def unique_all(x: Any, /) -> Any:
    """Unique values, first indices, inverse indices and counts (the values
    differentiable: see :func:`unique_values`).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.unique_all(xp.asarray([2, 1, 2])).counts
    Variable([1 2])
    """
    return _unique(x, ("values", "indices", "inverse_indices", "counts"))


def unique_counts(x: Any, /) -> Any:
    """Unique values and their counts (the values differentiable: see :func:`unique_values`).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.unique_counts(xp.asarray([2, 1, 2])).values
    Variable([1 2])
    """
    return _unique(x, ("values", "counts"))


def unique_inverse(x: Any, /) -> Any:
    """Unique values and the indices that rebuild ``x`` from them (the values
    differentiable: see :func:`unique_values`).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.unique_inverse(xp.asarray([2, 1, 2])).inverse_indices
    Variable([1 0 1])
    """
    return _unique(x, ("values", "inverse_indices"))


def unique_values(x: Any, /) -> Any:
    """Unique values of ``x``, differentiable: each value is the mean of the
    elements equal to it, so its gradient is shared equally among them (for
    distinct elements, the gradient is the inverse permutation). Code built on
    it (``union1d``, ``setdiff1d``) differentiates too.

    Examples
    --------
    >>> import anyad as ad
    >>> import anyad.array_api as xp
    >>> x = ad.Variable([3.0, 1.0, 3.0], requires_grad=True)
    >>> u = xp.unique_values(x)
    >>> u
    Variable([1. 3.])
    >>> ad.sum(u * xp.asarray([10.0, 100.0])).backward()
    >>> x.grad                       # the 3.0s share the gradient of their value
    array([50., 10., 50.])
    """
    return _unique(x, ("values",))


def all(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """Whether every element over ``axis`` is true.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.all(xp.asarray([True, False]))
    Variable(False)
    """
    return apply(_ALL, (x,), {"axis": axis, "keepdims": keepdims})


def any(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """Whether some element over ``axis`` is true.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.any(xp.asarray([True, False]))
    Variable(True)
    """
    return apply(_ANY, (x,), {"axis": axis, "keepdims": keepdims})


def expand_dims(x: Any, /, axis: Any = 0) -> Any:
    """Insert length-one axes at ``axis`` (an int or a tuple, positions in the result).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.expand_dims(xp.zeros(3), axis=(0, -1)).shape
    (1, 3, 1)
    """
    if not isinstance(axis, tuple):
        return ops.expand_dims(x, axis=axis)
    ndim = len(raw(x).shape) + len(axis)
    axes = []
    for a in axis:
        if not -ndim <= a < ndim:
            raise IndexError(f"anyad.expand_dims: axis {a} is out of bounds for the {ndim}-D result")
        axes.append(a % ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"anyad.expand_dims: repeated axis in {axis!r}")
    shape = list(raw(x).shape)
    for a in sorted(axes):
        shape.insert(a, 1)
    return ops.reshape(x, tuple(shape))


def broadcast_arrays(*arrays: Any) -> tuple:
    """The arrays broadcast to one shape (differentiable).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> [a.shape for a in xp.broadcast_arrays(xp.zeros((2, 1)), xp.zeros(3))]
    [(2, 3), (2, 3)]
    """
    shape = broadcast_shapes(*(tuple(raw(a).shape) for a in arrays))
    out = []
    for a in arrays:
        b = a if tuple(raw(a).shape) == shape else ops.broadcast_to(a, shape)
        out.append(b if isinstance(b, Variable) else wrap(b))
    return tuple(out)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Dot product of vectors along ``axis`` (the first argument conjugated when complex).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.vecdot(xp.asarray([1.0, 2.0]), xp.asarray([3.0, 4.0]))
    Variable(11.0)
    """
    shape = broadcast_shapes(tuple(raw(x1).shape), tuple(raw(x2).shape))
    if not -len(shape) <= axis < 0 and not 0 <= axis < len(shape):
        raise ValueError(f"anyad.vecdot: axis {axis} is out of bounds for the broadcast shape {shape}")
    r1 = raw(x1)
    if not records(x1, x2):
        return like(x1 if isinstance(x1, Variable) else x2, namespace_of(r1).vecdot(r1, raw(x2), axis=axis))
    if namespace_of(r1).isdtype(r1.dtype, "complex floating"):
        x1 = ops.conj(x1)
    return ops.sum(ops.multiply(x1, x2), axis=axis)


def _reduction(name: str, x: Any, axis: Any, dtype: Any, keepdims: bool) -> Any:
    """sum / prod: anyad's (differentiable) when recorded, else the backend's,
    which keeps the standard's accumulator dtypes for integers exactly."""
    if records(x):
        return getattr(ops, name)(x, axis=axis, dtype=dtype, keepdims=keepdims)
    r = raw(x)
    xp = namespace_of(r)
    dtype = None if dtype is None else resolve_dtype(xp, dtype)
    return like(x, getattr(xp, name)(r, axis=axis, dtype=dtype, keepdims=keepdims))


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Sum over ``axis`` (all axes by default); differentiable.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.sum(xp.asarray([1, 2, 3], dtype=xp.uint8), dtype=xp.uint8)
    Variable(6)
    """
    return _reduction("sum", x, axis, dtype, keepdims)


def prod(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Product over ``axis`` (all axes by default); differentiable.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.prod(xp.asarray([1.0, 2.0, 3.0]))
    Variable(6.0)
    """
    return _reduction("prod", x, axis, dtype, keepdims)


def _scan(name: str, x: Any, axis: Any, dtype: Any, include_initial: bool) -> Any:
    if records(x):
        return getattr(ops, name)(x, axis=axis, dtype=dtype, include_initial=include_initial)
    r = raw(x)
    xp = namespace_of(r)
    dtype = None if dtype is None else resolve_dtype(xp, dtype)
    return like(x, getattr(xp, name)(r, axis=axis, dtype=dtype, include_initial=include_initial))


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Any:
    """Cumulative sum along ``axis``; differentiable.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.cumulative_sum(xp.asarray([1, 2, 3]))
    Variable([1 3 6])
    """
    return _scan("cumulative_sum", x, axis, dtype, include_initial)


def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Any:
    """Cumulative product along ``axis``; differentiable (exactly, also at zeros).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.cumulative_prod(xp.asarray([1, 2, 3]))
    Variable([1 2 6])
    """
    return _scan("cumulative_prod", x, axis, dtype, include_initial)


def clip(x: Any, /, min: Any = None, max: Any = None) -> Any:
    """Clamp ``x`` to ``[min, max]``; differentiable in ``x`` and in bounds that require grad.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.clip(xp.asarray([-2.0, 0.5, 3.0]), min=-1.0, max=1.0)
    Variable([-1.   0.5  1. ])
    """
    if records(min, max):
        return ops.clip(x, min=min, max=max)
    r = raw(x)
    lo, hi = raw(min), raw(max)
    if records(x):
        return ops.clip(x, min=lo, max=hi)
    return like(x, namespace_of(r).clip(r, min=lo, max=hi))


def repeat(x: Any, repeats: Any, /, *, axis: int | None = None) -> Any:
    """Repeat each element ``repeats`` times along ``axis`` (flattened when None);
    differentiable (the copies' gradients are summed back).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.repeat(xp.asarray([1.0, 2.0]), 2)
    Variable([1. 1. 2. 2.])
    """
    if records(x):
        return ops.repeat(x, repeats, axis=axis)
    r = raw(x)
    return like(x, namespace_of(r).repeat(r, raw(repeats), axis=axis))


class UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


_UNIQUE_RESULTS = {("values", "indices", "inverse_indices", "counts"): UniqueAllResult,
                   ("values", "counts"): UniqueCountsResult, ("values", "inverse_indices"): UniqueInverseResult}
