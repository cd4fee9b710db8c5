"""Indexing: ``x[key]`` (basic, integer-array and boolean) and ``take``.

Their gradient scatters the cotangent back into zeros of the input's shape,
accumulating repeated indices (:func:`anyad.backends.scatter.index_add` fills that gap
of the standard per backend). The scatter is a primitive too, whose own rule is
indexing again, so derivatives of any order flow through indexing.
"""

from __future__ import annotations

import operator
from typing import Any

from .. import _backend
from ..backends import scatter
from .._saves import META, Saves
from .._state import current as _state
from ..graph import OpType, Primitive
from ..variable import Variable
from ._core import apply, unbroadcast
from ._helpers import zeros_of
from .elementwise import multiply
from .manipulation import astype

__all__ = ["getitem", "take", "setitem"]

_BASIC = (int, slice, type(None), type(Ellipsis))


def _raw_key(key: Any, like: Any) -> tuple[Any, bool]:
    """The key with Variables unwrapped and lists made arrays; and whether it
    can select an element twice (integer arrays can, slices and masks cannot)."""
    parts = key if isinstance(key, tuple) else (key,)
    out = []
    repeats = False
    for k in parts:
        if isinstance(k, Variable):
            k = k.value
        if isinstance(k, _BASIC) or isinstance(k, bool):
            out.append(k)
            continue
        if isinstance(k, (list, range)):
            xp = _backend.namespace_of(like)
            k = xp.asarray(list(k), device=_backend.device_of(like))
        if hasattr(k, "__index__") and not hasattr(k, "shape"):
            out.append(operator.index(k))
            continue
        xp = _backend.namespace_of(k)
        if not xp.isdtype(k.dtype, "bool"):
            if getattr(k, "ndim", 1) == 0:
                out.append(k)
                continue
            repeats = True
        out.append(k)
    return (tuple(out) if isinstance(key, tuple) or len(out) != 1 else out[0]), repeats


def _traced(x: Any, index: Any) -> Any:
    """``x``, as a constant Variable where it is an array indexed by a Variable
    while a program is traced (jit, vmap): the indexing is then recorded and
    replayed with each call's index, instead of computed once on the traced one."""
    if isinstance(x, Variable) or _state().tracer is None:
        return x
    parts = index if isinstance(index, tuple) else (index,)
    return Variable(x) if any(isinstance(k, Variable) for k in parts) else x


def _getitem_back(g: Any, ans: Any, x: Any, *, key: Any, repeats: bool) -> Any:
    return _backend.layout_like(index_add(g, key, tuple(x.shape), repeats), x)


_GETITEM = Primitive("getitem", OpType.GETITEM, lambda xp, x, key, repeats: x[key], (_getitem_back,),
                     saves=Saves(inputs=(META,)))
_GETITEM.jvp = lambda ts, ans, x, **kw: apply(_GETITEM, (ts[0],), kw)  # linear: the tangent indexed


def getitem(x: Any, key: Any) -> Any:
    """``x[key]`` with a gradient: basic slicing, integer arrays and boolean masks.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x = ad.Variable([1.0, 2.0, 3.0], requires_grad=True)
    >>> ad.sum(x[np.array([0, 0, 2])]).backward()
    >>> x.grad
    array([2., 0., 1.])
    """
    x = _traced(x, key)
    raw = x.value if isinstance(x, Variable) else x
    key, repeats = _raw_key(key, raw)
    out = apply(_GETITEM, (x,), {"key": key, "repeats": repeats})
    if (isinstance(out, Variable) and out.requires_grad and type(out.value) in _backend.UNKNOWN_SHAPES
            and any(d is None or d != d for d in out.value.shape)):
        # a lazy backend (dask) leaves a boolean selection's size unknown: no
        # gradient can be scattered back without computing the mask
        raise ValueError(
            f"anyad.getitem: the selection from {_backend.describe(raw)} has a size the backend leaves "
            f"unknown (shape {tuple(out.value.shape)}, e.g. a boolean mask on a dask array), so its "
            "gradient cannot be formed lazily; use anyad.where(mask, x, 0.0), which keeps the shape"
        )
    return out


def _index_add_back(g: Any, ans: Any, v: Any, *, key: Any, shape: tuple, repeats: bool) -> Any:
    if isinstance(key, scatter.TakeKey):
        return take(g, key.indices, axis=key.axis)
    return getitem(g, key)


_INDEX_ADD = Primitive(
    "index_add", OpType.SCATTER_ADD,
    lambda xp, v, key, shape, repeats: scatter.index_add(xp, v, key, shape, repeats),
    (_index_add_back,),
)
_INDEX_ADD.jvp = lambda ts, ans, v, **kw: apply(_INDEX_ADD, (ts[0],), kw)


def index_add(values: Any, key: Any, shape: tuple, repeats: bool = True) -> Any:
    """Zeros of ``shape`` with ``values`` added at ``key`` (repeated indices accumulate).

    The adjoint of ``x[key]``; differentiable in ``values``.

    Examples
    --------
    >>> import numpy as np
    >>> index_add(np.array([1.0, 2.0, 3.0]), np.array([0, 0, 2]), (3,))
    array([3., 0., 3.])
    """
    return apply(_INDEX_ADD, (values,), {"key": key, "shape": tuple(shape), "repeats": repeats})


def _take_back(g: Any, ans: Any, x: Any, indices: Any, *, axis: int) -> Any:
    return _backend.layout_like(index_add(g, scatter.TakeKey(indices, axis), tuple(x.shape), True), x)


_TAKE = Primitive("take", OpType.TAKE, lambda xp, x, indices, axis: xp.take(x, indices, axis=axis),
                  (_take_back, None))
_TAKE.jvp = lambda ts, ans, x, indices, **kw: apply(_TAKE, (ts[0], indices), kw)


def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Any:
    """Elements of ``x`` at integer ``indices`` along ``axis``
    (``axis`` is required unless ``x`` is 1-D). Repeated indices accumulate
    their gradients.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.take(ad.Variable([[1.0, 2.0], [3.0, 4.0]]), np.array([1, 1]), axis=0)
    Variable([[3. 4.]
              [3. 4.]])
    """
    x = _traced(x, indices)
    raw = x.value if isinstance(x, Variable) else x
    ndim = len(raw.shape)
    if axis is None:
        if ndim != 1:
            raise ValueError(f"anyad.take: axis is required for a {ndim}-D array")
        axis = 0
    axis = int(axis) % ndim
    if isinstance(indices, Variable):
        indices = indices.value
    if isinstance(indices, (list, tuple, range)):
        indices = _backend.namespace_of(raw).asarray(list(indices), device=_backend.device_of(raw))
    return apply(_TAKE, (x, indices), {"axis": axis})


# ---------------------------------------------------------------------------
# writes: x[key] = v as a primitive (anyad.array_api and Variable.__setitem__)
# ---------------------------------------------------------------------------


def _setitem_back_x(g: Any, ans: Any, x: Any, v: Any, *, key: Any, repeats: bool) -> Any:
    # the elements written over get no gradient; the others pass theirs on
    if _writes_everything(tuple(x.shape), key, getattr(v, "shape", None)):
        # every element written over: no gradient at all, so what computed x is not walked (a NaN
        # computed there and thrown away, scikit-learn's 0/0 in StandardScaler, gives no 0 * NaN).
        # Decided from shapes alone, which a compiled program's key fixes (jit and vmap refuse a
        # mask whose number of true elements depends on the data)
        return None
    return apply(_SETITEM, (g, 0.0), {"key": key, "repeats": repeats})


def _writes_everything(shape: tuple, key: Any, v_shape: Any) -> bool:
    """Whether ``x[key] = v`` writes over every element of an ``x`` of ``shape``,
    from shapes alone: full slices, or one boolean mask whose selection ``v``
    fills (a value of shape ``(n, ...)``, ``n >= 2`` the mask's size, broadcasts
    only onto ``n`` selected elements: the mask is all true)."""
    if v_shape is None:
        return False
    parts = key if isinstance(key, tuple) else (key,)
    if len(parts) == 1 and hasattr(parts[0], "shape") and hasattr(parts[0], "dtype"):
        k = parts[0]
        if not _backend.namespace_of(k).isdtype(k.dtype, "bool"):
            return False
        n = 1
        for d in k.shape:
            n *= d
        return n >= 2 and tuple(v_shape) == (n, *shape[len(k.shape):])
    if not all(isinstance(p, slice) or p is Ellipsis for p in parts) or sum(p is Ellipsis for p in parts) > 1:
        return False
    if Ellipsis in parts:
        i = parts.index(Ellipsis)
        parts = parts[:i] + (slice(None),) * (len(shape) - len(parts) + 1) + parts[i + 1:]
    return len(parts) <= len(shape) and all(len(range(*p.indices(d))) == d for p, d in zip(parts, shape))


def _setitem_back_v(g: Any, ans: Any, x: Any, v: Any, *, key: Any, repeats: bool) -> Any:
    gv = apply(_GETITEM, (g,), {"key": key, "repeats": repeats})
    if repeats:  # an element written twice keeps one write: only that one gets the gradient
        gv = multiply(gv, _kept_writes(g, tuple(x.shape), key, tuple(gv.shape)))
    shape = tuple(v.shape)
    if tuple(gv.shape) != shape:  # v was broadcast into the selection
        gv = unbroadcast(gv, shape)
    if gv.dtype != v.dtype:  # and cast to x's dtype
        gv = astype(gv, v.dtype)
    return gv


def _kept_writes(g: Any, shape: tuple, key: Any, slot: tuple) -> Any:
    """1 where a write through ``key`` (integer arrays, maybe repeated) is the
    one an array of ``shape`` keeps, else 0: each write's position is written
    into a scratch array and read back (no host synchronisation)."""
    r = g.value if isinstance(g, Variable) else g
    xp = _backend.namespace_of(r)
    dev = _backend.device_of(r)
    n = 1
    for d in slot:
        n *= d
    ids = xp.reshape(xp.arange(n, dtype=xp.int64, device=dev), slot)
    zeros = xp.zeros(shape, dtype=xp.int64, device=dev)
    if isinstance(g, Variable):  # through primitives: a traced program (jit, vmap) recomputes it from the key
        from .elementwise import equal

        scratch = apply(_SETITEM, (Variable(zeros), ids), {"key": key, "repeats": True})
        return astype(equal(apply(_GETITEM, (scratch,), {"key": key, "repeats": True}), ids), r.dtype)
    scratch = scatter.set_at(xp, zeros, key, ids)
    return xp.astype(scratch[key] == ids, r.dtype)


def _setitem_jvp(ts: Any, ans: Any, x: Any, v: Any, *, key: Any, repeats: bool) -> Any:
    tx, tv = ts
    if tx is None:
        tx = zeros_of(tv, tuple(x.shape), x.dtype)
    return apply(_SETITEM, (tx, 0.0 if tv is None else tv), {"key": key, "repeats": repeats})


_SETITEM = Primitive("setitem", OpType.SETITEM,
                     lambda xp, x, v, key, repeats: scatter.set_at(xp, x, key, v),
                     (_setitem_back_x, _setitem_back_v), saves=Saves(inputs=(META, META)))
_SETITEM.jvp = _setitem_jvp


def setitem(x: Any, key: Any, value: Any) -> Any:
    """``x`` with ``value`` written at ``key``, as a new array (``x`` is not changed).

    The functional form of ``x[key] = value`` (which :class:`~anyad.Variable`
    records through this function). Differentiable in both ``x`` (the elements
    not written over) and ``value`` (summed over where it was broadcast). With
    repeated integer indices, the write the array keeps gets the gradient.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([1.0, 2.0, 3.0], requires_grad=True)
    >>> v = ad.Variable(10.0, requires_grad=True)
    >>> y = setitem(x, slice(0, 2), v)
    >>> y
    Variable([10. 10.  3.])
    >>> ad.sum(y * ad.Variable([1.0, 2.0, 3.0])).backward()
    >>> x.grad, float(v.grad)
    (array([0., 0., 3.]), 3.0)
    """
    x = _traced(x, key)
    raw = x.value if isinstance(x, Variable) else x
    key, repeats = _raw_key(key, raw)
    if isinstance(value, (list, tuple)):
        value = _backend.namespace_of(raw).asarray(value, dtype=raw.dtype, device=_backend.device_of(raw))
    return apply(_SETITEM, (x, value), {"key": key, "repeats": repeats})
