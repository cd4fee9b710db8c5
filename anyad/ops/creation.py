"""Creation functions of the Array API standard, passed through to a backend.

Functions that take a shape create arrays with the current backend
(:func:`anyad.use`). The ``*_like`` functions follow their argument: same
namespace, device and (by default) dtype; given a Variable they return a
Variable (a constant, never recorded).
"""

from __future__ import annotations

from typing import Any

from .._backend import current_backend, namespace_of, resolve_dtype
from ..variable import Variable, refuse_object_arrays, wrap

__all__ = [
    "asarray", "zeros", "ones", "empty", "full", "arange", "linspace", "eye",
    "zeros_like", "ones_like", "empty_like", "full_like",
]


def _kw(xp: Any, dtype: Any, device: Any) -> dict:
    kw = {}
    if dtype is not None:
        kw["dtype"] = resolve_dtype(xp, dtype)
    if device is not None:
        kw["device"] = device
    return kw


def _backend_kw(dtype: Any, device: Any) -> tuple[Any, dict]:
    be = current_backend()
    return be.xp, _kw(be.xp, dtype, be.device if device is None else device)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: bool | None = None) -> Any:
    """Convert ``obj`` to an array.

    A Variable is returned as it is (cast when ``dtype`` differs, copied
    differentiably with ``copy=True``); an array keeps its namespace; Python
    data uses the current backend.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.asarray([1.0, 2.0])
    array([1., 2.])
    """
    if isinstance(obj, Variable):
        if dtype is None and not copy:
            return obj
        from .manipulation import astype

        return astype(obj, obj.dtype if dtype is None else dtype, copy=bool(copy))
    try:
        xp = namespace_of(obj)
    except TypeError:
        xp = None
    if xp is None:
        xp, kw = _backend_kw(dtype, device)
    else:
        kw = _kw(xp, dtype, device)
    if copy is not None:
        kw["copy"] = copy
    out = xp.asarray(obj, **kw)
    refuse_object_arrays(out, "asarray")
    return out


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Any:
    """An array of zeros from the current backend.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.zeros(2)
    array([0., 0.])
    """
    xp, kw = _backend_kw(dtype, device)
    return xp.zeros(shape, **kw)


def ones(shape: Any, *, dtype: Any = None, device: Any = None) -> Any:
    """An array of ones from the current backend.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.ones((1, 2))
    array([[1., 1.]])
    """
    xp, kw = _backend_kw(dtype, device)
    return xp.ones(shape, **kw)


def empty(shape: Any, *, dtype: Any = None, device: Any = None) -> Any:
    """An uninitialised array from the current backend."""
    xp, kw = _backend_kw(dtype, device)
    return xp.empty(shape, **kw)


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Any:
    """An array filled with ``fill_value`` from the current backend.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.full(2, 7.0)
    array([7., 7.])
    """
    xp, kw = _backend_kw(dtype, device)
    return xp.full(shape, fill_value, **kw)


def arange(start: Any, /, stop: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None) -> Any:
    """Evenly spaced values in ``[start, stop)`` from the current backend.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.arange(3)
    array([0, 1, 2])
    """
    xp, kw = _backend_kw(dtype, device)
    return xp.arange(start, stop, step, **kw)


def linspace(start: Any, stop: Any, /, num: int, *, dtype: Any = None, device: Any = None,
             endpoint: bool = True) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop``, from the current backend.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.linspace(0.0, 1.0, 3)
    array([0. , 0.5, 1. ])
    """
    xp, kw = _backend_kw(dtype, device)
    return xp.linspace(start, stop, num, endpoint=endpoint, **kw)


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
        device: Any = None) -> Any:
    """The identity matrix (ones on diagonal ``k``) from the current backend.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.eye(2)
    array([[1., 0.],
           [0., 1.]])
    """
    xp, kw = _backend_kw(dtype, device)
    return xp.eye(n_rows, n_cols, k=k, **kw)


def _like(name: str, x: Any, dtype: Any, device: Any, *args: Any) -> Any:
    raw = x.value if isinstance(x, Variable) else x
    xp = namespace_of(raw)
    out = getattr(xp, name)(raw, *args, **_kw(xp, dtype, device))
    return wrap(out) if isinstance(x, Variable) else out


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Any:
    """Zeros with the shape, dtype, namespace and device of ``x``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.zeros_like(ad.Variable([1.0, 2.0]))
    Variable([0. 0.])
    """
    return _like("zeros_like", x, dtype, device)


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Any:
    """Ones with the shape, dtype, namespace and device of ``x``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.ones_like(np.zeros(2, dtype=np.float32))
    array([1., 1.], dtype=float32)
    """
    return _like("ones_like", x, dtype, device)


def empty_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Any:
    """An uninitialised array like ``x``."""
    return _like("empty_like", x, dtype, device)


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Any:
    """``fill_value`` everywhere, with the shape, dtype, namespace and device of ``x``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.full_like(ad.Variable([1.0, 2.0]), 3.0)
    Variable([3. 3.])
    """
    return _like("full_like", x, dtype, device, fill_value)
