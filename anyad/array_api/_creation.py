"""Creation functions of the namespace: arrays from the current backend
(:func:`anyad.use`), returned as Variables (constants).

``asarray`` of Variables is differentiable: a cast, a device move or a copy of
a Variable is recorded like any operation, and a (nested) sequence holding
Variables is stacked.
"""

from __future__ import annotations

from typing import Any

from .. import ops
from .._backend import device_of, namespace_of, resolve_dtype
from ..ops._helpers import records
from ..variable import Variable, wrap

__all__ = ["asarray", "arange", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like",
           "linspace", "meshgrid", "ones", "ones_like", "zeros", "zeros_like"]


def _holds_variable(obj: Any) -> bool:
    if isinstance(obj, Variable):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_holds_variable(o) for o in obj)
    return False


def _stack_nested(obj: Any, dtype: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return ops.stack([_stack_nested(o, dtype) for o in obj], axis=0)
    return asarray(obj, dtype=dtype)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: bool | None = None) -> Variable:
    """Convert ``obj`` to a Variable.

    A Variable is returned as it is, or cast / moved / copied differentiably;
    an array keeps its namespace; Python data uses the current backend; a
    nested sequence holding Variables is stacked (differentiably).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.asarray([1.0, 2.0])
    Variable([1. 2.])
    >>> x = xp.asarray([1.0, 2.0])
    >>> xp.asarray(x) is x
    True
    """
    if isinstance(obj, Variable):
        x = obj
        r = obj.value
        xp = namespace_of(r)
        if dtype is not None and r.dtype != resolve_dtype(xp, dtype):
            if copy is False:
                raise ValueError(f"anyad.asarray: casting {r.dtype} to {dtype} needs a copy, and copy=False")
            x = ops.astype(x, dtype)
        if device is not None and repr(device) != repr(device_of(r)):
            if copy is False:
                raise ValueError(f"anyad.asarray: moving to {device!r} needs a copy, and copy=False")
            x = ops.to_device(x, device)
        if copy and x is obj:
            x = ops.astype(obj, r.dtype, copy=True) if records(obj) else wrap(xp.asarray(r, copy=True))
        return x
    if _holds_variable(obj):
        out = _stack_nested(obj, dtype)
        return out if device is None else asarray(out, device=device)
    return wrap(ops.asarray(obj, dtype=dtype, device=device, copy=copy))


def arange(start: Any, /, stop: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None) -> Variable:
    """Evenly spaced values in ``[start, stop)``.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.arange(3)
    Variable([0 1 2])
    """
    return wrap(ops.arange(start, stop, step, dtype=dtype, device=device))


def empty(shape: Any, *, dtype: Any = None, device: Any = None) -> Variable:
    """An uninitialised array.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.empty((2, 3)).shape
    (2, 3)
    """
    return wrap(ops.empty(shape, dtype=dtype, device=device))


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Variable:
    """An array of zeros.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.zeros(2)
    Variable([0. 0.])
    """
    return wrap(ops.zeros(shape, dtype=dtype, device=device))


def ones(shape: Any, *, dtype: Any = None, device: Any = None) -> Variable:
    """An array of ones.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.ones(2)
    Variable([1. 1.])
    """
    return wrap(ops.ones(shape, dtype=dtype, device=device))


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Variable:
    """An array filled with ``fill_value``.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.full(2, 7.0)
    Variable([7. 7.])
    """
    if isinstance(fill_value, Variable):
        fill_value = fill_value.value
    return wrap(ops.full(shape, fill_value, dtype=dtype, device=device))


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
        device: Any = None) -> Variable:
    """Ones on diagonal ``k``, zeros elsewhere.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.eye(2)
    Variable([[1. 0.]
              [0. 1.]])
    """
    return wrap(ops.eye(n_rows, n_cols, k=k, dtype=dtype, device=device))


def linspace(start: Any, stop: Any, /, num: int, *, dtype: Any = None, device: Any = None,
             endpoint: bool = True) -> Variable:
    """``num`` evenly spaced values from ``start`` to ``stop``.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.linspace(0.0, 1.0, 3)
    Variable([0.  0.5 1. ])
    """
    return wrap(ops.linspace(start, stop, num, dtype=dtype, device=device, endpoint=endpoint))


def _like(fn: Any, x: Any, *args: Any, dtype: Any, device: Any) -> Variable:
    out = fn(x, *args, dtype=dtype, device=device)
    return out if isinstance(out, Variable) else wrap(out)


def empty_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Variable:
    """An uninitialised array like ``x``.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.empty_like(xp.zeros(3)).shape
    (3,)
    """
    return _like(ops.empty_like, x, dtype=dtype, device=device)


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Variable:
    """Zeros like ``x``.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.zeros_like(xp.ones(2))
    Variable([0. 0.])
    """
    return _like(ops.zeros_like, x, dtype=dtype, device=device)


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Variable:
    """Ones like ``x``.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.ones_like(xp.zeros(2))
    Variable([1. 1.])
    """
    return _like(ops.ones_like, x, dtype=dtype, device=device)


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Variable:
    """``fill_value`` everywhere, like ``x``.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.full_like(xp.zeros(2), 3.0)
    Variable([3. 3.])
    """
    if isinstance(fill_value, Variable):
        fill_value = fill_value.value
    return _like(ops.full_like, x, fill_value, dtype=dtype, device=device)


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Variable:
    """An array sharing (or copying) the memory of a DLPack-capable object, in the
    current backend.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.from_dlpack(xp.asarray([1.0, 2.0]))
    Variable([1. 2.])
    """
    from .._backend import current_backend

    be = current_backend()
    kw = {}
    if device is not None:
        kw["device"] = device
    if copy is not None:
        kw["copy"] = copy
    src = x.value if isinstance(x, Variable) else x
    return wrap(be.xp.from_dlpack(src, **kw))


def meshgrid(*arrays: Any, indexing: str = "xy") -> tuple:
    """Coordinate grids from 1-D arrays (composed: differentiable).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> [g.shape for g in xp.meshgrid(xp.arange(2), xp.arange(3))]
    [(3, 2), (3, 2)]
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"anyad.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    n = len(arrays)
    sizes = [a.shape[0] for a in arrays]
    shape = list(sizes)
    if indexing == "xy" and n > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, a in enumerate(arrays):
        pos = i
        if indexing == "xy" and n > 1 and i < 2:
            pos = 1 - i
        grid = ops.broadcast_to(ops.reshape(a, tuple(-1 if j == pos else 1 for j in range(n))), tuple(shape))
        out.append(grid if isinstance(grid, Variable) else wrap(grid))
    return tuple(out)
