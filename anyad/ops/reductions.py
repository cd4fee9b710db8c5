"""Reductions: sum, mean, prod, max, min, cumulative_sum, logsumexp (primitives),
and var, std (composed from primitives, so they need no rule); softmax, the
normalisation beside logsumexp (a primitive, used by :mod:`anyad.nn`)."""

from __future__ import annotations

import builtins
import math
from typing import Any

from .._backend import device_of, layout_like
from .._saves import META, Saves
from ..graph import OpType, Primitive
from ._core import apply
from .._state import autocast_dtype
from ._helpers import autocast_full, is_complex, scaled
from .creation import ones_like, zeros_like
from .elementwise import divide, equal, exp, multiply, sqrt, subtract, where
from .elementwise_extra import conj, real
from .indexing import getitem
from .manipulation import astype, broadcast_to, flip, reshape

__all__ = ["sum", "mean", "prod", "max", "min", "cumulative_sum", "var", "std", "logsumexp"]


def normalize_axis(axis: Any, ndim: int, name: str) -> tuple | None:
    """``axis`` as a sorted tuple of non-negative ints (``None`` stays ``None``)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"anyad.{name}: axis {a} is out of bounds for an array of {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"anyad.{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _ndim(x: Any) -> int:
    return len(getattr(x, "shape", ()))


def _kept_shape(shape: tuple, axis: tuple | None) -> tuple:
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else d for i, d in enumerate(shape))


def _count(shape: tuple, axis: tuple | None) -> int:
    n = 1
    for i, d in enumerate(shape):
        if axis is None or i in axis:
            n *= d
    return n


def _expand(g: Any, shape: tuple, axis: tuple | None, keepdims: bool) -> Any:
    """Broadcast a reduced gradient back over the reduced axes."""
    if not keepdims:
        g = reshape(g, _kept_shape(shape, axis))
    return broadcast_to(g, shape)


def _sum_vjp(g: Any, ans: Any, x: Any, *, axis: Any, keepdims: bool) -> Any:
    return layout_like(_expand(g, tuple(x.shape), axis, keepdims), x)  # dask: x's chunks


_SUM = Primitive("sum", OpType.SUM, lambda xp, x, axis, keepdims: xp.sum(x, axis=axis, keepdims=keepdims),
                 (_sum_vjp,), saves=Saves(inputs=(META,)))
_SUM.jvp = lambda ts, ans, x, **kw: apply(_SUM, (ts[0],), kw)  # linear: the sum of the tangent


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Sum of the elements over ``axis`` (all axes by default).

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> ad.sum(x, axis=0)
    Variable([4. 6.])
    >>> ad.sum(x).backward()
    >>> x.grad
    array([[1., 1.],
           [1., 1.]])
    """
    if dtype is not None:
        x = astype(x, dtype)
    elif autocast_dtype() is not None:  # inside anyad.amp.autocast: summed in float32
        x = autocast_full(x)
    return apply(_SUM, (x,), {"axis": normalize_axis(axis, _ndim(x), "sum"), "keepdims": keepdims})


def _mean_vjp(g: Any, ans: Any, x: Any, *, axis: Any, keepdims: bool) -> Any:
    shape = tuple(x.shape)
    return divide(layout_like(_expand(g, shape, axis, keepdims), x), _count(shape, axis))


_MEAN = Primitive("mean", OpType.MEAN, lambda xp, x, axis, keepdims: xp.mean(x, axis=axis, keepdims=keepdims),
                  (_mean_vjp,), saves=Saves(inputs=(META,)))
_MEAN.jvp = lambda ts, ans, x, **kw: apply(_MEAN, (ts[0],), kw)


def mean(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis`` (all axes by default).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.mean(ad.Variable([1.0, 2.0, 6.0]))
    Variable(3.0)
    """
    if autocast_dtype() is not None:  # inside anyad.amp.autocast: averaged in float32
        x = autocast_full(x)
    return apply(_MEAN, (x,), {"axis": normalize_axis(axis, _ndim(x), "mean"), "keepdims": keepdims})


def _others(x: Any, axis: Any) -> Any:
    """For each element, the product of the other elements of its slice: the
    product of those before it times the product of those after it (exclusive
    cumulative products, forward and reversed). No division, so it is exact at
    zeros, and differentiable there: the second derivatives of ``prod`` (the
    products of all but two) are right with any number of zeros."""
    from .manipulation import permute_dims
    from .sorting import cumulative_prod

    shape = tuple(x.shape)
    nd = len(shape)
    reduced = tuple(range(nd)) if axis is None else tuple(axis)
    order = tuple(i for i in range(nd) if i not in reduced) + reduced
    xt = x if order == tuple(range(nd)) else permute_dims(x, order)
    n = _count(shape, reduced)
    flat = reshape(xt, tuple(shape[i] for i in order[:nd - len(reduced)]) + (n,))
    head = (Ellipsis, slice(0, n))
    before = getitem(cumulative_prod(flat, axis=-1, include_initial=True), head)
    after = flip(getitem(cumulative_prod(flip(flat, axis=-1), axis=-1, include_initial=True), head), axis=-1)
    others = reshape(multiply(before, after), tuple(shape[i] for i in order))
    if order == tuple(range(nd)):
        return others
    return permute_dims(others, tuple(order.index(i) for i in range(nd)))


def _prod_vjp(g: Any, ans: Any, x: Any, *, axis: Any, keepdims: bool) -> Any:
    # d prod / d x_i = the product of the other elements of its slice
    return layout_like(multiply(_expand(g, tuple(x.shape), axis, keepdims), _others(x, axis)), x)  # dask: x's chunks


_PROD = Primitive("prod", OpType.PROD, lambda xp, x, axis, keepdims: xp.prod(x, axis=axis, keepdims=keepdims),
                  (_prod_vjp,))


def _prod_jvp(ts: Any, ans: Any, x: Any, *, axis: Any, keepdims: bool) -> Any:
    # the partial derivatives (zero-safe, as in the VJP) against the tangent, summed
    partials = _prod_vjp(ones_like(ans), ans, x, axis=axis, keepdims=keepdims)
    return sum(multiply(partials, ts[0]), axis=axis, keepdims=keepdims)


_PROD.jvp = _prod_jvp


def prod(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Product of the elements over ``axis``; exact gradients also where elements are 0.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([2.0, 0.0, 4.0], requires_grad=True)
    >>> ad.prod(x).backward()
    >>> x.grad
    array([0., 8., 0.])
    """
    if dtype is not None:
        x = astype(x, dtype)
    return apply(_PROD, (x,), {"axis": normalize_axis(axis, _ndim(x), "prod"), "keepdims": keepdims})


def _extremum_vjp(g: Any, ans: Any, x: Any, *, axis: Any, keepdims: bool) -> Any:
    # the gradient is shared equally between tied extreme elements
    shape = tuple(x.shape)
    kept = _kept_shape(shape, axis)
    if not keepdims:
        ans = reshape(ans, kept)
        g = reshape(g, kept)
    mask = astype(equal(x, ans), g.dtype)
    return divide(multiply(g, mask), sum(mask, axis=axis, keepdims=True))


_MAX = Primitive("max", OpType.MAX, lambda xp, x, axis, keepdims: xp.max(x, axis=axis, keepdims=keepdims),
                 (_extremum_vjp,))
_MIN = Primitive("min", OpType.MIN, lambda xp, x, axis, keepdims: xp.min(x, axis=axis, keepdims=keepdims),
                 (_extremum_vjp,))


def _extremum_jvp(ts: Any, ans: Any, x: Any, *, axis: Any, keepdims: bool) -> Any:
    # the mean tangent of the tied extreme elements (the VJP shares g the same way)
    t = ts[0]
    kept = ans if keepdims else reshape(ans, _kept_shape(tuple(x.shape), axis))
    mask = astype(equal(x, kept), t.dtype)
    count = sum(mask, axis=axis, keepdims=keepdims)
    return divide(sum(multiply(t, mask), axis=axis, keepdims=keepdims), count)


_MAX.jvp = _MIN.jvp = _extremum_jvp


def max(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """Maximum over ``axis``; tied maxima share the gradient equally.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([1.0, 3.0, 3.0], requires_grad=True)
    >>> ad.max(x).backward()
    >>> x.grad
    array([0. , 0.5, 0.5])
    """
    return apply(_MAX, (x,), {"axis": normalize_axis(axis, _ndim(x), "max"), "keepdims": keepdims})


def min(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """Minimum over ``axis``; tied minima share the gradient equally.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.min(ad.Variable([1.0, 3.0]))
    Variable(1.0)
    """
    return apply(_MIN, (x,), {"axis": normalize_axis(axis, _ndim(x), "min"), "keepdims": keepdims})


def _cumsum_vjp(g: Any, ans: Any, x: Any, *, axis: int, include_initial: bool) -> Any:
    if include_initial:  # out[i] sums x[:i]: drop the leading empty sum
        key = (slice(None),) * axis + (slice(1, None), Ellipsis)
        g = getitem(g, key)
    return flip(cumulative_sum(flip(g, axis=axis), axis=axis), axis=axis)


_CUMSUM = Primitive(
    "cumulative_sum", OpType.CUMULATIVE_SUM,
    lambda xp, x, axis, include_initial: xp.cumulative_sum(x, axis=axis, include_initial=include_initial),
    (_cumsum_vjp,),
)
_CUMSUM.jvp = lambda ts, ans, x, **kw: apply(_CUMSUM, (ts[0],), kw)


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Any:
    """Cumulative sum along ``axis`` (required unless ``x`` is 1-D).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.cumulative_sum(ad.Variable([1.0, 2.0, 3.0]))
    Variable([1. 3. 6.])
    """
    ndim = _ndim(x)
    if axis is None:
        if ndim != 1:
            raise ValueError(f"anyad.cumulative_sum: axis is required for a {ndim}-D array")
        axis = 0
    (axis,) = normalize_axis(axis, ndim, "cumulative_sum")
    if dtype is not None:
        x = astype(x, dtype)
    return apply(_CUMSUM, (x,), {"axis": axis, "include_initial": include_initial})


def var(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Any:
    """Variance over ``axis``, dividing by ``N - correction`` (composed from primitives).
    For complex ``x`` it is the mean of ``|x - mean(x)|**2``, a real array (as in numpy and torch).

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.var(ad.Variable([1.0, 2.0, 3.0, 4.0]))
    Variable(1.25)
    >>> ad.var(ad.Variable(np.array([1j, -1j])))
    Variable(1.0)
    """
    axes = normalize_axis(axis, _ndim(x), "var")
    d = subtract(x, mean(x, axis=axes, keepdims=True))
    n = _count(tuple(x.shape), axes)
    sq = real(multiply(d, conj(d))) if is_complex(d) else multiply(d, d)
    return divide(sum(sq, axis=axes, keepdims=keepdims), n - correction)


def std(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Any:
    """Standard deviation over ``axis``: ``sqrt(var(...))``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.std(ad.Variable([1.0, 3.0]))
    Variable(1.0)
    """
    return sqrt(var(x, axis=axis, correction=correction, keepdims=keepdims))


def _logsumexp_fwd(xp: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    if _count(tuple(x.shape), axis) == 0:  # a sum of no terms: log 0 = -inf
        kept = _kept_shape(tuple(x.shape), axis)
        out = xp.full(kept, -math.inf, dtype=x.dtype, device=device_of(x))
        return out if keepdims else xp.reshape(out, tuple(d for i, d in enumerate(x.shape)
                                                          if axis is not None and i not in axis))
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))  # an all -inf (or inf, nan) slice: no inf - inf
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    return xp.reshape(out, tuple(d for i, d in enumerate(x.shape) if axis is not None and i not in axis))


def _softmax_of(x: Any, ans: Any, axis: Any, keepdims: bool) -> Any:
    """``exp(x - logsumexp(x))``: the derivative of logsumexp, from its output.
    A slice of only -inf has logsumexp -inf and gets 0 here, not ``exp(nan)``."""
    if not keepdims:
        ans = reshape(ans, _kept_shape(tuple(x.shape), axis))
    ans = where(equal(ans, -math.inf), zeros_like(ans), ans)  # on the reduced array: cheap
    return exp(subtract(x, ans))


def _logsumexp_vjp(g: Any, ans: Any, x: Any, *, axis: Any, keepdims: bool) -> Any:
    if not keepdims:
        g = reshape(g, _kept_shape(tuple(x.shape), axis))
    return multiply(g, _softmax_of(x, ans, axis, keepdims))


# One primitive, not a composition: three passes over x forward and three backward
# (the composition keeps two intermediates of x's size alive and walks them back).
_LOGSUMEXP = Primitive("logsumexp", OpType.LOGSUMEXP, _logsumexp_fwd, (_logsumexp_vjp,))
_LOGSUMEXP.jvp = lambda ts, ans, x, *, axis, keepdims: sum(
    multiply(ts[0], _softmax_of(x, ans, axis, keepdims)), axis=axis, keepdims=keepdims)


def logsumexp(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow.

    Its gradient is the softmax of ``x`` (computed from the output, so no
    intermediate of ``x``'s size is kept), and every higher derivative follows.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([1000.0, 1000.0], requires_grad=True)
    >>> y = ad.logsumexp(x)
    >>> y
    Variable(1000.6931471805599)
    >>> y.backward()
    >>> x.grad
    array([0.5, 0.5])
    """
    if autocast_dtype() is not None:  # inside anyad.amp.autocast: in float32
        x = autocast_full(x)
    axes = normalize_axis(axis, _ndim(x), "logsumexp")
    return apply(_LOGSUMEXP, (x,), {"axis": axes, "keepdims": keepdims})


def _softmax_fwd(xp: Any, x: Any, axis: Any) -> Any:
    if _count(tuple(x.shape), axis) == 0:  # nothing to normalise
        return xp.asarray(x, copy=True)
    m = xp.max(x, axis=axis, keepdims=True)
    e = xp.exp(x - xp.where(xp.isfinite(m), m, xp.zeros_like(m)))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _softmax_vjp(g: Any, ans: Any, x: Any, *, axis: Any) -> Any:
    return scaled(subtract(g, sum(multiply(g, ans), axis=axis, keepdims=True)), ans)


_SOFTMAX = Primitive("softmax", OpType.SOFTMAX, _softmax_fwd, (_softmax_vjp,))
_SOFTMAX.jvp = lambda ts, ans, x, *, axis: _softmax_vjp(ts[0], ans, None, axis=axis)  # J is symmetric


def softmax(x: Any, /, *, axis: Any = -1) -> Any:
    """``exp(x) / sum(exp(x))`` over ``axis``, without overflow: one primitive,
    whose gradient ``y * (g - sum(g * y))`` needs only its output ``y``.

    Examples
    --------
    >>> import anyad as ad
    >>> from anyad.ops.reductions import softmax
    >>> softmax(ad.Variable([0.0, 0.0, 1000.0]))
    Variable([0. 0. 1.])
    """
    if autocast_dtype() is not None:  # inside anyad.amp.autocast: in float32
        x = autocast_full(x)
    return apply(_SOFTMAX, (x,), {"axis": normalize_axis(axis, _ndim(x), "softmax")})
