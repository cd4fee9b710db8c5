"""Data types and the functions about them: the backend's own dtype objects
(looked up by name), ``isdtype``, ``finfo``, ``iinfo``, ``result_type``,
``can_cast``, and the inspection namespace ``__array_namespace_info__``.

Everything here answers for the current backend (:func:`anyad.use`), or for
the backend of the arrays it is given.
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from .. import _backend
from ..variable import Variable

__all__ = ["DTYPE_NAMES", "dtype_by_name", "isdtype", "finfo", "iinfo", "result_type", "can_cast",
           "__array_namespace_info__"]

DTYPE_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float32", "float64", "complex64", "complex128")


def dtype_by_name(name: str) -> Any:
    """The current backend's dtype object called ``name``."""
    xp = _backend.current_backend().xp
    try:
        return getattr(xp, name)
    except AttributeError:
        raise AttributeError(f"anyad.array_api: the {_backend.backend_name(xp)} backend has no dtype "
                             f"{name!r}") from None


def _xp_of(*things: Any) -> Any:
    """The namespace of the first array among ``things``, else the current backend's."""
    for t in things:
        if isinstance(t, Variable):
            return _backend.namespace_of(t.value)
        if not isinstance(t, type) and array_api_compat.is_array_api_obj(t):
            return _backend.namespace_of(t)
    return _backend.current_backend().xp


def _raw(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def isdtype(dtype: Any, kind: Any) -> bool:
    """Whether ``dtype`` is of ``kind`` (a dtype, a kind name such as
    ``"real floating"``, or a tuple of them).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.isdtype(xp.float32, "real floating")
    True
    """
    return _backend.current_backend().xp.isdtype(dtype, kind)


def _info_dtype(info: Any, raw: Any, xp: Any) -> Any:
    """The dtype object a finfo/iinfo describes (torch's own gives a name)."""
    d = getattr(info, "dtype", None)
    if isinstance(d, str):
        return getattr(xp, d)
    if d is None:
        return raw.dtype if not isinstance(raw, type) and hasattr(raw, "dtype") else raw
    return d


class finfo:
    """Machine limits of a floating-point dtype (Python floats).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.finfo(xp.float32).bits
    32
    """

    __slots__ = ("bits", "eps", "max", "min", "smallest_normal", "dtype")

    def __init__(self, type: Any, /):
        raw = _raw(type)
        xp = _xp_of(raw)
        info = xp.finfo(raw)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.smallest_normal = float(info.smallest_normal)
        self.dtype = _info_dtype(info, raw, xp)

    def __repr__(self) -> str:
        return f"finfo(bits={self.bits}, eps={self.eps}, max={self.max}, min={self.min}, dtype={self.dtype})"


class iinfo:
    """Machine limits of an integer dtype (Python ints).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.iinfo(xp.int8).max
    127
    """

    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type: Any, /):
        raw = _raw(type)
        xp = _xp_of(raw)
        info = xp.iinfo(raw)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = _info_dtype(info, raw, xp)

    def __repr__(self) -> str:
        return f"iinfo(bits={self.bits}, max={self.max}, min={self.min}, dtype={self.dtype})"


def result_type(*arrays_and_dtypes: Any) -> Any:
    """The dtype the standard's promotion rules give for these arrays, dtypes and Python scalars.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.result_type(xp.float32, xp.asarray([1.0], dtype=xp.float64))
    dtype('float64')
    """
    raws = [_raw(a) for a in arrays_and_dtypes]
    return _xp_of(*raws).result_type(*raws)


def can_cast(from_: Any, to: Any, /) -> bool:
    """Whether ``from_`` (a dtype or an array) can be cast to ``to`` by the promotion rules.

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.can_cast(xp.int8, xp.int32)
    True
    """
    raw = _raw(from_)
    return _xp_of(raw).can_cast(raw, to)


def __array_namespace_info__() -> Any:
    """The inspection namespace of the current backend (devices, dtypes, capabilities).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> "real floating" in xp.__array_namespace_info__().default_dtypes()
    True
    """
    xp = _backend.current_backend().xp
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        raise AttributeError(f"anyad.array_api: the {_backend.backend_name(xp)} namespace has no "
                             "__array_namespace_info__")
    return info()
