"""Scatter-add: the gap of the standard that indexing gradients need.

``x[key]`` and ``take`` have as adjoint "zeros with values added at key", where
repeated indices must accumulate. The standard has no such function; this is
the one place it is filled, per backend, with a portable path for the others.
"""

from __future__ import annotations

from typing import Any

from .. import _backend

__all__ = ["TakeKey", "index_add", "without_newaxes"]


class TakeKey:
    """Selects ``take(x, indices, axis=axis)``, in a form index_add understands."""

    __slots__ = ("indices", "axis")

    def __init__(self, indices: Any, axis: int):
        self.indices = indices
        self.axis = axis

    def as_tuple(self) -> tuple:
        return (slice(None),) * self.axis + (self.indices, Ellipsis)


def index_add(xp: Any, values: Any, key: Any, shape: tuple, repeats: bool) -> Any:
    """Zeros of ``shape`` with ``values`` added at ``key``; repeated indices accumulate.

    ``key`` is any key that selected ``values``' shape from an array of ``shape``
    in ``xp`` (or a :class:`TakeKey`). Without repeats a plain assignment does;
    with them: numpy ``add.at``, ``cupyx.scatter_add``, torch ``index_add_``,
    jax ``.at[].add``, a lazy blockwise scatter on dask
    (:func:`anyad.backends.dask.index_add`), and a portable one-hot product for
    any other namespace.
    """
    name = _backend.backend_name(xp)
    if name == "dask":
        from .dask import index_add as dask_index_add

        return dask_index_add(values, key, shape, repeats)
    dev = _backend.device_of(values)
    if name == "jax":
        z = xp.zeros(shape, dtype=values.dtype)
        k = key.as_tuple() if isinstance(key, TakeKey) else key
        return z.at[k].add(values) if repeats else z.at[k].set(values)
    z = xp.zeros(shape, dtype=values.dtype, device=dev)
    if not repeats and name not in ("numpy", "cupy", "torch") and _int_arrays(xp, key):
        repeats = True  # the standard has no integer-array writes (array_api_strict refuses even 0-d ones)
    if not repeats:
        if name not in _TAKE_NONE:
            key, values = without_newaxes(xp, key, values, len(shape))
        z[key] = values
        return z
    if name == "numpy":
        import numpy as np

        np.add.at(z, key.as_tuple() if isinstance(key, TakeKey) else key, values)
        return z
    if name == "cupy":
        import cupyx

        cupyx.scatter_add(z, key.as_tuple() if isinstance(key, TakeKey) else key, values)
        return z
    # flat positions of the selected elements, then a one-dimensional scatter-add
    n = 1
    for d in shape:
        n *= d
    grid = xp.reshape(xp.arange(n, device=dev), shape)
    pos = xp.take(grid, key.indices, axis=key.axis) if isinstance(key, TakeKey) else grid[key]
    pos = xp.reshape(pos, (-1,))
    vals = xp.reshape(values, (-1,))
    if name == "torch":
        flat = xp.reshape(z, (-1,))
        flat.index_add_(0, pos, vals)
        return xp.reshape(flat, shape)
    return xp.reshape(_one_hot_add(xp, pos, vals, n, dev), shape)


def set_at(xp: Any, x: Any, key: Any, values: Any) -> Any:
    """A new array equal to ``x`` with ``values`` written at ``key`` (``x`` itself
    is never written into: recorded graphs may have kept it). Immutable arrays
    (JAX) are updated functionally.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros(3)
    >>> set_at(np, x, slice(1, None), np.array([1.0, 2.0])), x
    (array([0., 1., 2.]), array([0., 0., 0.]))
    """
    if _backend.backend_name(xp) == "jax":
        return x.at[key].set(values)
    new = xp.asarray(x, copy=True)
    if hasattr(values, "shape") and _backend.backend_name(xp) not in _TAKE_NONE:
        key, values = without_newaxes(xp, key, values, len(x.shape))
    new[key] = values
    return new


# libraries whose writes take None in the key (dropping it can change where numpy's
# rules put the index arrays' axes: x[:, mask, None, 5] keeps them first, x[:, mask, 5] not)
_TAKE_NONE = ("numpy", "cupy", "torch")


def _int_arrays(xp: Any, key: Any) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return any(hasattr(k, "shape") and not xp.isdtype(k.dtype, "bool") for k in parts)


def without_newaxes(xp: Any, key: Any, values: Any, ndim: int) -> tuple[Any, Any]:
    """Assignment keys may not hold ``None``: drop each one, with the length-one
    axis it made in ``values`` (basic keys only)."""
    parts = key if isinstance(key, tuple) else (key,)
    if not any(k is None for k in parts):
        return key, values
    masks = [hasattr(k, "shape") and xp.isdtype(k.dtype, "bool") for k in parts]
    if any(hasattr(k, "shape") and len(k.shape) > 0 and not m for k, m in zip(parts, masks)):
        # integer-array indexing moves its axes by numpy's rules; the libraries that take
        # such keys (numpy, torch, cupy) take None in a write too
        return key, values
    consumed = sum(1 for k in parts if k is not None and k is not Ellipsis and not hasattr(k, "shape"))
    consumed += sum(len(k.shape) if m else 1 for k, m in zip(parts, masks) if hasattr(k, "shape"))
    axis = 0
    drop = []
    for k in parts:
        if k is None:
            drop.append(axis)
            axis += 1
        elif k is Ellipsis:
            axis += ndim - consumed
        elif isinstance(k, slice):
            axis += 1
        elif hasattr(k, "shape") and k.ndim > 0:  # a boolean mask makes one axis
            axis += 1
    new_shape = tuple(d for i, d in enumerate(values.shape) if i not in drop)
    return tuple(k for k in parts if k is not None), xp.reshape(values, new_shape)


def _one_hot_add(xp: Any, pos: Any, vals: Any, n: int, dev: Any) -> Any:
    """sum_j vals[j] * (pos[j] == i) for i < n, by blocks of a one-hot matrix."""
    m = pos.shape[0]
    rows = max(1, (1 << 22) // max(m, 1))
    blocks = []
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        ids = xp.arange(start, stop, device=dev)
        onehot = xp.astype(xp.reshape(ids, (-1, 1)) == xp.reshape(pos, (1, -1)), vals.dtype)
        blocks.append(onehot @ vals)
    return blocks[0] if len(blocks) == 1 else xp.concat(blocks)
