"""Sorting, searching and scans: take_along_axis and cumulative_prod
(primitives); sort and diff (composed, so they need no rule); argsort and
searchsorted (integer results: never recorded).

``sort`` is differentiable in its values: when something is recorded it is
composed as ``take_along_axis(x, argsort(x))``, so the gradient flows back to
where each element came from; otherwise the backend's own ``sort`` runs.
"""

from __future__ import annotations

import operator
from typing import Any

from .. import _backend
from ..backends import scatter
from ..graph import OpType, Primitive
from ._core import apply
from ._helpers import like, namespace, raw, records
from .creation import zeros_like
from .elementwise import add, multiply, not_equal, subtract
from .indexing import _traced, getitem
from .manipulation import astype, concat

__all__ = ["take_along_axis", "cumulative_prod", "sort", "argsort", "searchsorted", "diff"]


def _flat_positions(xp: Any, shape: tuple, indices: Any, axis: int) -> Any:
    """Flat positions in an array of ``shape`` of the elements that
    ``take_along_axis(., indices, axis)`` selects, shaped like the result."""
    ndim = len(shape)
    dev = _backend.device_of(indices)
    n = shape[axis]
    idx = xp.where(indices < 0, indices + n, indices)
    out_shape = tuple(
        indices.shape[k] if k == axis else (shape[k] if shape[k] >= indices.shape[k] else indices.shape[k])
        for k in range(ndim)
    )
    pos = None
    stride = 1
    for k in range(ndim - 1, -1, -1):
        if k == axis:
            term = idx * stride
        else:
            along = xp.arange(shape[k], device=dev, dtype=indices.dtype) if shape[k] > 1 else \
                xp.zeros(1, device=dev, dtype=indices.dtype)
            term = xp.reshape(along * stride, tuple(-1 if j == k else 1 for j in range(ndim)))
        pos = term if pos is None else pos + term
        stride *= shape[k]
    return xp.broadcast_to(pos, out_shape)


def _take_along_adjoint(xp: Any, g: Any, indices: Any, shape: tuple, axis: int) -> Any:
    """Zeros of ``shape`` with ``g`` added where ``take_along_axis(., indices, axis)``
    took each element from (repeated indices accumulate)."""
    n = 1
    for d in shape:
        n *= d
    if n == 0 or 0 in tuple(g.shape):  # nothing taken: nothing to add (some libraries refuse empty scatters)
        return xp.zeros(shape, dtype=g.dtype, device=_backend.device_of(g))
    pos = xp.reshape(_flat_positions(xp, shape, indices, axis), (-1,))
    flat = scatter.index_add(xp, xp.reshape(g, (-1,)), pos, (n,), True)
    return xp.reshape(flat, shape)


# The adjoint is a primitive of its own, with the indices as an input (not a
# parameter), so compiled programs read them afresh; its rule is the gather again.
_TAKE_ALONG_ADJOINT = Primitive(
    "take_along_axis_adjoint", OpType.INDEX_ADD, _take_along_adjoint,
    (lambda g, ans, v, indices, *, shape, axis: take_along_axis(g, indices, axis=axis), None),
)


def _take_along_back(g: Any, ans: Any, x: Any, indices: Any, *, axis: int) -> Any:
    return apply(_TAKE_ALONG_ADJOINT, (g, indices), {"shape": tuple(x.shape), "axis": axis})


_TAKE_ALONG = Primitive(
    "take_along_axis", OpType.TAKE_ALONG_AXIS,
    lambda xp, x, indices, axis: xp.take_along_axis(x, indices, axis=axis),
    (_take_along_back, None),
)


def take_along_axis(x: Any, indices: Any, /, *, axis: int = -1) -> Any:
    """Elements of ``x`` at ``indices`` along ``axis`` (the other axes broadcast).

    The gradient is scattered back to where each element came from; repeated
    indices accumulate.

    Parameters
    ----------
    x : Variable or array
        The input.
    indices : array or Variable
        Integer indices, with the number of dimensions of ``x``.
    axis : int
        The axis to select along.

    Returns
    -------
    Variable or array
        Shaped like ``indices`` along ``axis`` and like the broadcast of both elsewhere.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x = ad.Variable([[3.0, 1.0, 2.0]], requires_grad=True)
    >>> y = ad.take_along_axis(x, np.array([[1, 1]]), axis=1)
    >>> ad.sum(y).backward()
    >>> x.grad
    array([[0., 2., 0.]])
    """
    x = _traced(x, indices)  # a constant x at traced indices: recorded, not computed once
    ndim = len(raw(x).shape)
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"anyad.take_along_axis: axis {axis} is out of bounds for {ndim} dimensions")
    return apply(_TAKE_ALONG, (x, raw(indices)), {"axis": axis % ndim})


def _shift_back(v: Any, s: int, axis: int) -> Any:
    """``v[i + s]`` along ``axis``, zero past the end."""
    n = v.shape[axis]
    if s >= n:
        return zeros_like(v)
    head = (slice(None),) * axis
    return concat([getitem(v, head + (slice(s, None), Ellipsis)),
                   zeros_like(getitem(v, head + (slice(n - s, None), Ellipsis)))], axis=axis)


def _reverse_linear_scan(a: Any, b: Any, axis: int) -> Any:
    """``r`` with ``r[i] = b[i] + a[i] * r[i + 1]`` (``r`` is 0 past the end),
    by recursive doubling: ceil(log2 n) rounds of multiplies and adds, no
    division, so it is exact (to every order) where ``a`` holds zeros."""
    s = 1
    n = b.shape[axis]
    while s < n:
        b = add(b, multiply(a, _shift_back(b, s, axis)))
        s *= 2
        if s < n:
            a = multiply(a, _shift_back(a, s // 2, axis))
    return b


def _cumprod_vjp(g: Any, ans: Any, x: Any, *, axis: int, include_initial: bool) -> Any:
    # d/dx_i of sum_j g_j prod_{k<=j} x_k is before_i * r_i, with before_i =
    # prod_{k<i} x_k (an exclusive cumulative product) and r_i = sum_{j>=i} g_j
    # prod_{i<k<=j} x_k = g_i + x_{i+1} r_{i+1}: no division, so the rule (and its
    # own derivatives) are exact with any number of zeros in a slice.
    head = (slice(None),) * axis
    if include_initial:  # out[i] multiplies x[:i]: drop the leading empty product
        g = getitem(g, head + (slice(1, None), Ellipsis))
    n = x.shape[axis]
    if n == 0:
        return zeros_like(g)
    before = getitem(cumulative_prod(x, axis=axis, include_initial=True), head + (slice(0, n), Ellipsis))
    r = _reverse_linear_scan(_shift_back(x, 1, axis), g, axis)
    return multiply(before, r)


_CUMPROD = Primitive(
    "cumulative_prod", OpType.CUMULATIVE_PROD,
    lambda xp, x, axis, include_initial: xp.cumulative_prod(x, axis=axis, include_initial=include_initial),
    (_cumprod_vjp,),
)


def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Any:
    """Cumulative product along ``axis`` (required unless ``x`` is 1-D).

    The gradient is exact where elements are zero too.

    Parameters
    ----------
    x : Variable or array
        The input.
    axis : int, optional
        The axis to scan.
    dtype : dtype, optional
        Cast ``x`` to this dtype first.
    include_initial : bool
        Start with the empty product (1).

    Returns
    -------
    Variable or array
        The running products.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([2.0, 0.0, 3.0], requires_grad=True)
    >>> ad.cumulative_prod(x)
    Variable([2. 0. 0.])
    >>> ad.sum(ad.cumulative_prod(x)).backward()
    >>> x.grad
    array([1., 8., 0.])
    """
    ndim = len(raw(x).shape)
    if axis is None:
        if ndim != 1:
            raise ValueError(f"anyad.cumulative_prod: axis is required for a {ndim}-D array")
        axis = 0
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"anyad.cumulative_prod: axis {axis} is out of bounds for {ndim} dimensions")
    if dtype is not None:
        x = astype(x, dtype)
    return apply(_CUMPROD, (x,), {"axis": axis % ndim, "include_initial": bool(include_initial)})


def argsort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    """Indices that sort ``x`` along ``axis``. Not differentiable (integers).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.argsort(ad.Variable([3.0, 1.0, 2.0]))
    Variable([1 2 0])
    """
    return apply(_ARGSORT, (x,), {"axis": axis, "descending": descending, "stable": stable})


# Integer results: never recorded, but a primitive all the same, so that anyad.jit
# traces it (a sort's order is recomputed on every replay, never frozen).
_ARGSORT = Primitive(
    "argsort", OpType.SORT,
    lambda xp, x, axis, descending, stable: xp.argsort(x, axis=axis, descending=descending, stable=stable),
    None,
)


def sort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    """``x`` sorted along ``axis``; differentiable in the values.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([3.0, 1.0, 2.0], requires_grad=True)
    >>> y = ad.sort(x)
    >>> y
    Variable([1. 2. 3.])
    >>> ad.sum(y * ad.Variable([1.0, 10.0, 100.0])).backward()
    >>> x.grad
    array([100.,   1.,  10.])
    """
    if records(x):
        return take_along_axis(x, argsort(x, axis=axis, descending=descending, stable=stable), axis=axis)
    r = raw(x)
    return like(x, namespace(r).sort(r, axis=axis, descending=descending, stable=stable))


def searchsorted(x1: Any, x2: Any, /, *, side: str = "left", sorter: Any = None) -> Any:
    """Indices where the elements of ``x2`` would be inserted into the sorted 1-D ``x1``.
    Not differentiable (integers).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.searchsorted(ad.Variable([1.0, 2.0, 3.0]), ad.Variable([2.5]))
    Variable([2])
    """
    return apply(_SEARCHSORTED, (x1, x2), {"side": side, "sorter": raw(sorter)})


# a primitive with no derivative, so that jit and vmap recompute it (never frozen at its traced value)
_SEARCHSORTED = Primitive("searchsorted", OpType.NOOP,
                          lambda xp, x1, x2, side, sorter: xp.searchsorted(x1, x2, side=side, sorter=sorter),
                          None, register=False)


def diff(x: Any, /, *, axis: int = -1, n: int = 1, prepend: Any = None, append: Any = None) -> Any:
    """The ``n``-th forward difference along ``axis`` (composed from indexing and subtraction).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.diff(ad.Variable([1.0, 4.0, 9.0, 16.0]))
    Variable([3. 5. 7.])
    >>> ad.diff(ad.Variable([1.0, 4.0, 9.0, 16.0]), n=2)
    Variable([2. 2.])
    """
    ndim = len(raw(x).shape)
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"anyad.diff: axis {axis} is out of bounds for {ndim} dimensions")
    axis %= ndim
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"anyad.diff: n must be non-negative, got {n}")
    if n == 0:  # as numpy and torch: x as it is, without prepend or append
        return x
    if prepend is not None or append is not None:
        parts = [p for p in (prepend, x, append) if p is not None]
        x = concat(parts, axis=axis)
    r = raw(x)
    boolean = namespace(r).isdtype(r.dtype, "bool")
    head = (slice(None),) * axis + (slice(1, None), Ellipsis)
    tail = (slice(None),) * axis + (slice(None, -1), Ellipsis)
    for _ in range(n):
        a, b = getitem(x, head), getitem(x, tail)
        x = not_equal(a, b) if boolean else subtract(a, b)
    return x
