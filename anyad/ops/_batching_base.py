"""What every batching rule of :mod:`anyad.ops.batching` shares: the marker of a
batched parameter, the error, and how a batched value is shaped (batch on axis
0, in front of its per-example shape)."""

from __future__ import annotations

from typing import Any

from .._state import current as _state
from ..graph import Primitive
from ..variable import Variable
from .manipulation import broadcast_to, reshape

__all__ = ["Batched", "BatchingError", "lift", "batch_of", "shift_axes"]


class BatchingError(NotImplementedError):
    """A primitive has no batching rule for the way its inputs carry the batch."""


class Batched:
    """A keyword parameter's array that carries the batch on its axis 0."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


def _raw(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def _shape(x: Any) -> tuple:
    return tuple(getattr(x, "shape", ()))


def _pe_ndim(x: Any, b: bool) -> int:
    """The per-example rank of ``x``."""
    return len(_shape(x)) - (1 if b else 0)


def lift(x: Any, rank: int) -> Any:
    """A batched ``x`` with axes of length 1 inserted after the batch axis, up to
    per-example rank ``rank`` (so that it broadcasts as its examples do)."""
    s = _shape(x)
    k = rank - (len(s) - 1)
    return x if k <= 0 else reshape(x, s[:1] + (1,) * k + s[1:])


def _flat(x: Any, size: int) -> Any:
    """A batched ``x`` as ``(size, elements per example)`` (no -1: the batch may be empty)."""
    n = 1
    for d in _shape(x)[1:]:
        n *= d
    return reshape(x, (size, n))


def _seen(x: Any) -> Any:
    """``x``, as a constant Variable while an enclosing program is traced (vmap inside
    jit, or inside another vmap): an indexing of raw arrays would not be recorded there,
    so an index from the enclosing trace (a key parameter) would be frozen."""
    if isinstance(x, Variable) or not hasattr(x, "shape") or _state().tracer is None:
        return x
    return Variable(x)


def batch_of(x: Any, b: bool, size: int) -> Any:
    """``x`` as a batched value (an unbatched one repeated, as a broadcast view)."""
    return x if b else broadcast_to(x, (size,) + _shape(x))


def _axis(a: int, rank: int, name: str) -> int:
    if not -rank <= a < max(rank, 1):
        raise BatchingError(f"anyad.vmap: axis {a} is out of range for {name} of a rank-{rank} value")
    return a % rank + 1 if rank else 1


def shift_axes(axis: Any, rank: int, name: str, none_means_all: bool = True) -> Any:
    """A per-example ``axis`` (int, tuple or None) as an axis of the batched value."""
    if axis is None:
        return tuple(range(1, rank + 1)) if none_means_all else None
    if isinstance(axis, tuple):
        return tuple(_axis(a, rank, name) for a in axis)
    return _axis(axis, rank, name)


def _refuse_batched_params(prim: Primitive, params: dict | None) -> None:
    if params and any(type(v) is Batched for v in params.values()):
        which = [k for k, v in params.items() if type(v) is Batched]
        raise BatchingError(f"anyad.vmap: {prim.name} has no batching rule for a batched {which[0]!r} "
                            "parameter; pass it unbatched (in_axes=None)")
