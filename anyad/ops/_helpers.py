"""Small helpers shared by the families that run a backend function directly
when nothing is recorded, and a primitive when something is (sorting,
linalg_extra, fft)."""

from __future__ import annotations

from typing import Any

from .. import _backend
from .._state import AUTO, OFF, autocast_dtype, mode as _mode
from ..variable import Variable, wrap


def records(*xs: Any) -> bool:
    """Whether applying a differentiable primitive to ``xs`` would be recorded."""
    mode = _mode()
    if mode == OFF:
        return False
    for x in xs:
        if isinstance(x, Variable) and (mode != AUTO or x.requires_grad):
            return True
    return False


def raw(x: Any) -> Any:
    """The array inside a Variable (anything else as it is)."""
    return x.value if isinstance(x, Variable) else x


def namespace(x: Any) -> Any:
    """The Array API namespace of ``x`` (a Variable or an array)."""
    return _backend.namespace_of(raw(x))


def like(x: Any, out: Any) -> Any:
    """``out`` (a raw array or a tuple of them) as constant Variables when ``x`` is a Variable."""
    if not isinstance(x, Variable):
        return out
    if isinstance(out, tuple):
        return type(out)(*(wrap(o) for o in out)) if hasattr(out, "_fields") else tuple(wrap(o) for o in out)
    return wrap(out)


def zeros_of(like_x: Any, shape: tuple, dtype: Any = None) -> Any:
    """Zeros of ``shape`` in the namespace, dtype and device of ``like_x``
    (a constant Variable when ``like_x`` is a Variable)."""
    r = raw(like_x)
    xp = _backend.namespace_of(r)
    z = xp.zeros(shape, dtype=r.dtype if dtype is None else dtype, device=_backend.device_of(r))
    return wrap(z) if isinstance(like_x, Variable) else z


def scaled(fresh: Any, factor: Any) -> Any:
    """``fresh * factor``, where ``fresh`` is an array the calling rule has just
    made and no one else holds: multiplied in place when it is a raw array (a
    plain backward pass: one array fewer at the peak; an immutable array is
    rebound, as ``*=`` does), recorded when it is a Variable (higher order)."""
    if isinstance(fresh, Variable):
        from .elementwise import multiply

        return multiply(fresh, factor)
    fresh *= factor
    return fresh


def one_minus(fresh: Any) -> Any:
    """``1 - fresh``, where ``fresh`` is an array the calling rule has just made:
    in place when it is a raw array (see :func:`scaled`)."""
    if isinstance(fresh, Variable):
        from .elementwise import subtract

        return subtract(1.0, fresh)
    fresh *= -1.0
    fresh += 1.0
    return fresh


def is_complex(x: Any) -> bool:
    r = raw(x)
    return _backend.namespace_of(r).isdtype(r.dtype, "complex floating")


def _cast_where(x: Any, frm: str, to: str) -> Any:
    r = raw(x)
    dt = getattr(r, "dtype", None)
    if dt is None:
        return x
    xp = _backend.namespace_of(r)
    if dt != _backend.resolve_dtype(xp, frm):
        return x
    from .manipulation import astype  # (elementwise and manipulation import this module)

    try:
        target = _backend.resolve_dtype(xp, to)
    except TypeError:
        raise TypeError(f"anyad.amp.autocast: {_backend.backend_name(xp)} arrays have no {to}; autocast "
                        f"another library's arrays, or leave this one out of the block") from None
    return astype(x, target)


def autocast_low(*xs: Any) -> tuple:
    """Inside ``anyad.amp.autocast``: ``xs`` with float32 operands cast (differentiably)
    to the block's low precision, for the operations that run there (matmul, conv)."""
    low = autocast_dtype()
    if low is None:
        return xs
    return tuple(_cast_where(x, "float32", low) for x in xs)


def autocast_full(x: Any) -> Any:
    """Inside ``anyad.amp.autocast``: ``x`` cast from the block's low precision to
    float32, for the operations that need the range (reductions, softmax, losses)."""
    low = autocast_dtype()
    if low is None:
        return x
    return _cast_where(x, low, "float32")
