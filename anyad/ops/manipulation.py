"""Shape and layout: reshape, permute_dims, expand_dims, squeeze, broadcast_to,
concat, stack, flip, roll, astype, tril, triu, to_device (primitives) and
moveaxis, repeat, tile, unstack (composed)."""

from __future__ import annotations

import operator
from typing import Any

from .. import _backend
from .._saves import META, Saves
from ..graph import OpType, Primitive
from .._state import tracer as _tracer
from ..variable import Variable, wrap
from ._core import apply, unbroadcast
from ._helpers import zeros_of

__all__ = [
    "reshape", "permute_dims", "expand_dims", "squeeze", "broadcast_to", "concat", "stack",
    "flip", "moveaxis", "roll", "repeat", "tile", "astype", "stop_gradient", "tril", "triu",
    "unstack", "to_device",
]


def _shape(x: Any) -> tuple:
    return tuple(getattr(x, "shape", ()))


def _axis_tuple(axis: Any, ndim: int) -> Any:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(int(a) % ndim if ndim else 0 for a in axes)


def _linear_jvp(prim: Primitive) -> Any:
    """Forward-mode rule of a primitive linear in its input: the primitive applied to the tangent."""
    return lambda ts, ans, x, **kw: apply(prim, (ts[0],), kw)


def _multilinear_jvp(prim: Primitive) -> Any:
    """Forward-mode rule of concat/stack: the primitive applied to the tangents (zeros where none)."""
    def jvp(ts: Any, ans: Any, *xs: Any, **kw: Any) -> Any:
        ref = next(t for t in ts if t is not None)  # zeros where no tangent, from shapes alone
        return apply(prim, tuple(zeros_of(ref, tuple(x.shape), x.dtype) if t is None else t
                                 for t, x in zip(ts, xs)), kw)

    return jvp


def _reshape_back(g: Any, ans: Any, x: Any, **_: Any) -> Any:
    return _backend.layout_like(reshape(g, tuple(x.shape)), x)


_SHAPE_ONLY = Saves(inputs=(META,))  # rules that read the input's shape (and dask chunks) only
_RESHAPE = Primitive("reshape", OpType.RESHAPE, lambda xp, x, shape: xp.reshape(x, shape), (_reshape_back,),
                     saves=_SHAPE_ONLY)
_RESHAPE.jvp = _linear_jvp(_RESHAPE)


def reshape(x: Any, /, shape: Any, *, copy: bool | None = None) -> Any:
    """Give ``x`` a new shape with the same elements (one dimension may be -1).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.reshape(ad.Variable([1.0, 2.0, 3.0, 4.0]), (2, 2))
    Variable([[1. 2.]
              [3. 4.]])
    """
    shape = (int(shape),) if isinstance(shape, int) else tuple(int(d) for d in shape)
    return apply(_RESHAPE, (x,), {"shape": shape})


def _permute_back(g: Any, ans: Any, x: Any, *, axes: tuple) -> Any:
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    return permute_dims(g, tuple(inverse))


_PERMUTE = Primitive("permute_dims", OpType.PERMUTE_DIMS, lambda xp, x, axes: xp.permute_dims(x, axes),
                     (_permute_back,))
_PERMUTE.jvp = _linear_jvp(_PERMUTE)


def permute_dims(x: Any, /, axes: tuple) -> Any:
    """Permute the axes of ``x``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.permute_dims(ad.Variable([[1.0, 2.0]]), (1, 0)).shape
    (2, 1)
    """
    return apply(_PERMUTE, (x,), {"axes": _axis_tuple(axes, len(_shape(x)))})


_EXPAND = Primitive("expand_dims", OpType.EXPAND_DIMS, lambda xp, x, axis: xp.expand_dims(x, axis=axis),
                    (_reshape_back,), saves=_SHAPE_ONLY)
_EXPAND.jvp = _linear_jvp(_EXPAND)


def expand_dims(x: Any, /, *, axis: int = 0) -> Any:
    """Insert a length-one axis at ``axis``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.expand_dims(ad.Variable([1.0, 2.0]), axis=-1).shape
    (2, 1)
    """
    return apply(_EXPAND, (x,), {"axis": int(axis)})


_SQUEEZE = Primitive("squeeze", OpType.SQUEEZE, lambda xp, x, axis: xp.squeeze(x, axis=axis), (_reshape_back,),
                     saves=_SHAPE_ONLY)
_SQUEEZE.jvp = _linear_jvp(_SQUEEZE)


def squeeze(x: Any, /, axis: Any) -> Any:
    """Remove length-one axes ``axis``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.squeeze(ad.Variable([[1.0, 2.0]]), axis=0).shape
    (2,)
    """
    return apply(_SQUEEZE, (x,), {"axis": _axis_tuple(axis, len(_shape(x)))})


def _broadcast_back(g: Any, ans: Any, x: Any, *, shape: tuple) -> Any:
    return unbroadcast(g, tuple(x.shape))


_BROADCAST = Primitive("broadcast_to", OpType.BROADCAST_TO, lambda xp, x, shape: xp.broadcast_to(x, shape),
                       (_broadcast_back,))
_BROADCAST.jvp = _linear_jvp(_BROADCAST)


def broadcast_to(x: Any, /, shape: tuple) -> Any:
    """Broadcast ``x`` to ``shape``; the gradient sums back over the broadcast axes.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.broadcast_to(ad.Variable([1.0, 2.0]), (2, 2)).shape
    (2, 2)
    """
    return apply(_BROADCAST, (x,), {"shape": tuple(int(d) for d in shape)})


def _concat_vjp(g: Any, needed: tuple, ans: Any, *xs: Any, axis: Any) -> list:
    """The joint rule of concat: each input's slice of the cotangent."""
    out = []
    start = 0
    for x, want in zip(xs, needed):
        n = _size(x) if axis is None else x.shape[axis]
        if not want:
            out.append(None)
        elif axis is None:
            out.append(_as_input(_backend.layout_like(reshape(getitem(g, slice(start, start + n)), tuple(x.shape)), x), x))
        else:
            out.append(_as_input(getitem(g, (slice(None),) * axis + (slice(start, start + n), Ellipsis)), x))
        start += n
    return out


def _as_input(gu: Any, x: Any) -> Any:
    """``gu`` in the dtype of the input ``x`` (concat and stack promote mixed inputs)."""
    return gu if gu.dtype == x.dtype else astype(gu, x.dtype)


def _size(x: Any) -> int:
    n = 1
    for d in x.shape:
        n *= d
    return n


_CONCAT = Primitive("concat", OpType.CONCAT, lambda xp, *xs, axis: xp.concat(xs, axis=axis), (),
                    vjp=_concat_vjp, saves=Saves(rest=META))
_CONCAT.jvp = _multilinear_jvp(_CONCAT)


def concat(arrays: Any, /, *, axis: int | None = 0) -> Any:
    """Join arrays along an existing axis (flattened first when ``axis`` is None).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.concat([ad.Variable([1.0]), ad.Variable([2.0, 3.0])])
    Variable([1. 2. 3.])
    """
    arrays = tuple(arrays)
    if axis is not None:
        axis = int(axis) % len(_shape(arrays[0]))
    return apply(_CONCAT, arrays, {"axis": axis})


def _stack_vjp(g: Any, needed: tuple, ans: Any, *xs: Any, axis: int) -> list:
    """The joint rule of stack: each input's slice of the cotangent."""
    return [_as_input(getitem(g, (slice(None),) * axis + (i, Ellipsis)), x) if want else None
            for i, (want, x) in enumerate(zip(needed, xs))]


_STACK = Primitive("stack", OpType.STACK, lambda xp, *xs, axis: xp.stack(xs, axis=axis), (), vjp=_stack_vjp,
                   saves=Saves(rest=META))
_STACK.jvp = _multilinear_jvp(_STACK)


def stack(arrays: Any, /, *, axis: int = 0) -> Any:
    """Join arrays of one shape along a new axis.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.stack([ad.Variable([1.0, 2.0]), ad.Variable([3.0, 4.0])]).shape
    (2, 2)
    """
    arrays = tuple(arrays)
    axis = int(axis) % (len(_shape(arrays[0])) + 1)
    return apply(_STACK, arrays, {"axis": axis})


def unstack(x: Any, /, *, axis: int = 0) -> tuple:
    """Split ``x`` along ``axis`` into a tuple of arrays (composed from indexing).

    Examples
    --------
    >>> import anyad as ad
    >>> [v.shape for v in ad.unstack(ad.Variable([[1.0, 2.0], [3.0, 4.0]]), axis=1)]
    [(2,), (2,)]
    """
    ndim = len(_shape(x))
    axis = int(axis) % ndim
    return tuple(getitem(x, (slice(None),) * axis + (i, Ellipsis)) for i in range(x.shape[axis]))


def _flip_back(g: Any, ans: Any, x: Any, *, axis: Any) -> Any:
    return flip(g, axis=axis)


_FLIP = Primitive("flip", OpType.FLIP, lambda xp, x, axis: xp.flip(x, axis=axis), (_flip_back,))
_FLIP.jvp = _linear_jvp(_FLIP)


def flip(x: Any, /, *, axis: Any = None) -> Any:
    """Reverse the order of elements along ``axis`` (all axes by default).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.flip(ad.Variable([1.0, 2.0, 3.0]))
    Variable([3. 2. 1.])
    """
    return apply(_FLIP, (x,), {"axis": _axis_tuple(axis, len(_shape(x)))})


def moveaxis(x: Any, source: Any, destination: Any, /) -> Any:
    """Move axes ``source`` to positions ``destination`` (composed from permute_dims).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.moveaxis(ad.zeros_like(ad.Variable([[[1.0, 2.0, 3.0]]])), 2, 0).shape
    (3, 1, 1)
    """
    ndim = len(_shape(x))
    src = _axis_tuple(source, ndim)
    dst = _axis_tuple(destination, ndim)
    if len(src) != len(dst):
        raise ValueError("anyad.moveaxis: source and destination must have the same number of axes")
    order = [a for a in range(ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute_dims(x, tuple(order))


def _roll_back(g: Any, ans: Any, x: Any, *, shift: Any, axis: Any) -> Any:
    back = tuple(-s for s in shift) if isinstance(shift, tuple) else -shift
    return roll(g, shift=back, axis=axis)


_ROLL = Primitive("roll", OpType.ROLL, lambda xp, x, shift, axis: xp.roll(x, shift=shift, axis=axis),
                  (_roll_back,))
_ROLL.jvp = _linear_jvp(_ROLL)


def roll(x: Any, /, shift: Any, *, axis: Any = None) -> Any:
    """Shift elements cyclically by ``shift`` along ``axis`` (flattened when None).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.roll(ad.Variable([1.0, 2.0, 3.0]), 1)
    Variable([3. 1. 2.])
    """
    shift = tuple(int(s) for s in shift) if isinstance(shift, (tuple, list)) else int(shift)
    axis = tuple(int(a) for a in axis) if isinstance(axis, (tuple, list)) else axis
    return apply(_ROLL, (x,), {"shift": shift, "axis": axis})


def repeat(x: Any, repeats: Any, /, *, axis: int | None = None) -> Any:
    """Repeat each element ``repeats`` times along ``axis`` (flattened when None).

    Composed as :func:`take` with repeated indices, so the gradient sums the
    copies back (scatter-add).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.repeat(ad.Variable([1.0, 2.0]), 2)
    Variable([1. 1. 2. 2.])
    """
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    raw = x.value if isinstance(x, Variable) else x
    xp = _backend.namespace_of(raw)
    n = raw.shape[axis]
    dev = _backend.device_of(raw)
    if isinstance(repeats, Variable):
        repeats = repeats.value
    if isinstance(repeats, int):
        index = xp.reshape(xp.broadcast_to(xp.reshape(xp.arange(n, device=dev), (n, 1)), (n, repeats)), (-1,))
    else:
        index = xp.repeat(xp.arange(n, device=dev), repeats)
    return take(x, index, axis=axis)


def tile(x: Any, repetitions: tuple, /) -> Any:
    """Tile ``x`` ``repetitions`` times along each axis (composed from broadcast_to).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.tile(ad.Variable([1.0, 2.0]), (2,))
    Variable([1. 2. 1. 2.])
    """
    reps = tuple(int(r) for r in repetitions)
    shape = _shape(x)
    nd = max(len(shape), len(reps))
    shape = (1,) * (nd - len(shape)) + shape
    reps = (1,) * (nd - len(reps)) + reps
    interleaved = []
    expanded = []
    for r, d in zip(reps, shape):
        interleaved += [1, d]
        expanded += [r, d]
    y = broadcast_to(reshape(x, tuple(interleaved)), tuple(expanded))
    return reshape(y, tuple(r * d for r, d in zip(reps, shape)))


def _astype_back(g: Any, ans: Any, x: Any, *, dtype: Any) -> Any:
    return astype(g, x.dtype)


_ASTYPE = Primitive("astype", OpType.ASTYPE, lambda xp, x, dtype: xp.astype(x, dtype), (_astype_back,))
_ASTYPE.jvp = _linear_jvp(_ASTYPE)


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    """Cast ``x`` to ``dtype``. Differentiable between floating dtypes; a cast to
    an integer or boolean dtype cuts the graph (its gradient is 0 by definition).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.astype(ad.Variable([1.5]), "float32").dtype
    dtype('float32')
    """
    raw = x.value if isinstance(x, Variable) else x
    xp = _backend.namespace_of(raw)
    dtype = _backend.resolve_dtype(xp, dtype)
    if not isinstance(x, Variable):
        return xp.astype(raw, dtype)
    if raw.dtype == dtype and not copy:
        return x
    if not xp.isdtype(dtype, ("real floating", "complex floating")):
        v = wrap(xp.astype(raw, dtype))
        if _tracer() is not None:  # anyad.compile records the (non-differentiable) cast
            _tracer().untracked(_ASTYPE, (x,), (raw,), {"dtype": dtype}, v)
        return v
    return apply(_ASTYPE, (x,), {"dtype": dtype})


def stop_gradient(x: Any) -> Any:
    """``x`` cut from the graph: same value, no gradient flows through it.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([2.0], requires_grad=True)
    >>> (x * ad.stop_gradient(x)).backward()
    >>> x.grad
    array([2.])
    """
    if not isinstance(x, Variable):
        return x
    v = wrap(x.value)
    if _tracer() is not None:  # anyad.compile records where the value came from
        _tracer().untracked(None, (x,), (x.value,), None, v)
    return v


def _tri_back(name: str):
    def rule(g: Any, ans: Any, x: Any, *, k: int) -> Any:
        return (tril if name == "tril" else triu)(g, k=k)

    return rule


_TRIL = Primitive("tril", OpType.TRIL, lambda xp, x, k: xp.tril(x, k=k), (_tri_back("tril"),))
_TRIL.jvp = _linear_jvp(_TRIL)
_TRIU = Primitive("triu", OpType.TRIU, lambda xp, x, k: xp.triu(x, k=k), (_tri_back("triu"),))
_TRIU.jvp = _linear_jvp(_TRIU)


def tril(x: Any, /, *, k: int = 0) -> Any:
    """Lower triangle of the last two axes (zero above diagonal ``k``).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.tril(ad.Variable([[1.0, 2.0], [3.0, 4.0]]))
    Variable([[1. 0.]
              [3. 4.]])
    """
    return apply(_TRIL, (x,), {"k": operator.index(k)})


def triu(x: Any, /, *, k: int = 0) -> Any:
    """Upper triangle of the last two axes (zero below diagonal ``k``).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.triu(ad.Variable([[1.0, 2.0], [3.0, 4.0]]))
    Variable([[1. 2.]
              [0. 4.]])
    """
    return apply(_TRIU, (x,), {"k": operator.index(k)})


def _to_device_back(g: Any, ans: Any, x: Any, *, device: Any) -> Any:
    return to_device(g, _backend.device_of(x.value if isinstance(x, Variable) else x))


_TO_DEVICE = Primitive("to_device", OpType.TO_DEVICE, lambda xp, x, device: _backend.to_device(x, device),
                       (_to_device_back,))
_TO_DEVICE.jvp = _linear_jvp(_TO_DEVICE)


def to_device(x: Any, device: Any, /) -> Any:
    """Copy ``x`` to ``device``; the gradient is copied back to ``x``'s device.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.to_device(ad.Variable([1.0]), "cpu").device
    'cpu'
    """
    return apply(_TO_DEVICE, (x,), {"device": device})


def getitem(*args, **kwargs):
    """:func:`anyad.getitem` (the indexing family's, which imports this one: found when first called)."""
    from .indexing import getitem as function

    return function(*args, **kwargs)


def take(*args, **kwargs):
    """:func:`anyad.take` (the indexing family's, which imports this one: found when first called)."""
    from .indexing import take as function

    return function(*args, **kwargs)
