"""Host-side work off the engine's path, with numpy on copies already on the
host: gradcheck's comparison, and the ``.npy`` bytes of a saved program's
constants."""

from __future__ import annotations

import io
from typing import Any, Sequence

import numpy as np


def worst_disagreement(analytic: Any, numeric: Sequence[float], shape: tuple, atol: float,
                       rtol: float) -> tuple | None:
    """Compare ``analytic`` (a host array, or None for zeros) with ``numeric``
    (flat, row-major) elementwise: ``|a - n| <= atol + rtol * |n|``, NaN failing.

    Returns None when every element agrees, else ``(index, analytic value,
    numeric value, number of disagreeing elements, number of elements)`` for
    the element that misses its tolerance by most.

    Examples
    --------
    >>> worst_disagreement(np.array([1.0, 2.0]), [1.0, 2.5], (2,), 1e-6, 1e-4)
    ((1,), 2.0, 2.5, 1, 2)
    """
    num = np.asarray(numeric)
    dtype = np.complex128 if np.iscomplexobj(num) or np.iscomplexobj(analytic) else np.float64
    num = num.astype(dtype).reshape(shape)
    ana = np.zeros_like(num) if analytic is None else np.asarray(analytic, dtype=dtype).reshape(shape)
    excess = np.abs(ana - num) - (atol + rtol * np.abs(num))
    bad = ~(excess <= 0)  # NaN counts as a failure
    if not bad.any():
        return None
    flat = int(np.nanargmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf)))
    k = tuple(int(j) for j in np.unravel_index(flat, num.shape)) if num.ndim else ()
    value = complex if dtype is np.complex128 else float
    return k, value(ana[k]), value(num[k]), int(bad.sum()), int(num.size)


def contiguous(host: Any) -> np.ndarray:
    """A host array (``to_host``'s result) as a contiguous NumPy array."""
    return np.ascontiguousarray(host)


def npy_bytes(host: np.ndarray) -> bytes:
    """``host`` in NumPy's ``.npy`` format (no pickle).

    Examples
    --------
    >>> from_npy_bytes(npy_bytes(np.array([1.0, -0.0])))
    array([ 1., -0.])
    """
    buf = io.BytesIO()
    np.lib.format.write_array(buf, host, allow_pickle=False)
    return buf.getvalue()


def from_npy_bytes(data: bytes) -> np.ndarray:
    """The array written by :func:`npy_bytes` (refusing pickled objects)."""
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
