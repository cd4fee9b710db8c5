"""Dask: the gaps anyad fills so that forward and backward stay lazy task graphs.

anyad runs on ``dask.array`` arrays through array-api-compat's dask namespace,
with these differences, all lazy (nothing here computes):

* :func:`namespace` returns that namespace with a ``reshape`` that also
  handles reshapes dask refuses (splits that do not line up with the chunks),
  by going through one dimension; with ``linalg`` functions that run the
  chunk library's own (numpy or cupy) per block of matrices, batched, with
  only the two matrix axes gathered into one chunk (dask's own need square
  chunks, two dimensions, and lack ``eigh``); and with ``fft`` functions that
  gather only the transformed axes into one chunk first (dask refuses
  otherwise);
* :func:`index_add`, the scatter-add that indexing gradients need: dask has no
  scatter with accumulation, so each block of the result is assembled from
  per-chunk scatter-adds (``np.add.at``, or ``cupyx.scatter_add`` on CuPy
  chunks) of every block of the cotangent, then summed as a tree;
  its result follows the cotangent's chunks along the axes the index keeps
  whole, and dask's ``"auto"`` chunking (bounded by the ``array.chunk-size``
  setting) along the axes it selects from;
* :func:`rechunk_like`, with which :func:`anyad._backend.layout_like` gives a
  gradient built from a shape alone (a sum's broadcast, a scatter, a reshape)
  its input's chunks.

Boolean-mask indexing gives dask arrays of unknown size (``nan`` chunks); its
gradient cannot be formed without computing the mask, so it is refused (see
:func:`anyad.getitem`). anyad imports this module only when a dask array is in
hand or ``anyad.use("dask")`` is called.
"""

from __future__ import annotations

import functools
import math
import types
from typing import Any

from .. import _backend
from . import scatter
from .scatter import without_newaxes

__all__ = ["namespace", "index_add", "rechunk_like", "has_unknown_shape"]

try:
    from dask.array import Array
except ImportError:  # pragma: no cover - only imported when dask arrays are in hand
    Array = None


def namespace() -> Any:
    """array-api-compat's dask namespace, with anyad's fixes (reshape, linalg, fft).

    Examples
    --------
    >>> import dask.array as da
    >>> xp = namespace()
    >>> x = da.ones((2, 3), chunks=2)
    >>> xp.reshape(x, (3, 2)).shape
    (3, 2)
    """
    import array_api_compat.dask.array as cda

    ns = types.SimpleNamespace(**{k: getattr(cda, k) for k in dir(cda) if not k.startswith("__")})
    ns.__name__ = "anyad.dask_namespace"
    ns.__array_api_version__ = cda.__array_api_version__
    ns.__array_namespace_info__ = cda.__array_namespace_info__
    plain_reshape = cda.reshape

    def reshape(x: Any, /, shape: tuple, *, copy: bool | None = None) -> Any:
        try:
            return plain_reshape(x, shape, copy=copy)
        except (ValueError, NotImplementedError) as first:
            # dask only merges or splits whole dimensions: (2, 3) -> (3, 2) is
            # neither, but (2, 3) -> (6,) -> (3, 2) is two steps it can take
            try:
                return plain_reshape(plain_reshape(x, (-1,), copy=copy), shape, copy=copy)
            except (ValueError, NotImplementedError):
                raise first from None

    ns.reshape = reshape
    ns.linalg = _linalg_namespace(cda.linalg)
    ns.fft = _fft_namespace(cda.fft)
    ns.take_along_axis = take_along_axis
    return ns


def take_along_axis(x: Any, indices: Any, /, *, axis: int = -1) -> Any:
    """``take_along_axis`` for dask (which has none): per block of the other axes,
    with the selection axis gathered into one chunk in both operands.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> x = da.from_array(np.array([[3.0, 1.0, 2.0], [6.0, 5.0, 4.0]]), chunks=1)
    >>> i = da.from_array(np.array([[1, 1], [0, 2]]), chunks=1)
    >>> take_along_axis(x, i, axis=1).compute()
    array([[1., 1.],
           [6., 4.]])
    """
    import dask.array as da

    if x.ndim != indices.ndim:
        raise ValueError(f"take_along_axis: x has {x.ndim} dimensions and indices {indices.ndim}")
    ax = axis % x.ndim
    letters = tuple(f"a{k}" for k in range(x.ndim))
    x_letters = tuple("sel" if k == ax else letter for k, letter in enumerate(letters))
    return da.blockwise(
        functools.partial(_take_along_block, axis=ax), letters,
        x.rechunk({ax: -1}), x_letters, indices.rechunk({ax: -1}), letters,
        dtype=x.dtype, meta=_meta(x, x.ndim), concatenate=True,
    )


def _take_along_block(x: Any, indices: Any, *, axis: int) -> Any:
    xp = _backend.namespace_of(x)
    return xp.take_along_axis(x, xp.asarray(indices), axis=axis)


# ----------------------------------------------------------------------------
# linalg: per block of matrices; fft: along whole axes
# ----------------------------------------------------------------------------


def _per_matrix(name: str, signature: Any, result: Any = None, sizes: Any = None) -> Any:
    """A linalg function over dask arrays: ``apply_gufunc`` of the chunk library's
    own ``linalg.<name>``. Only the matrix axes are gathered into one chunk (batch
    axes keep theirs), and results of the input's shape get the input's chunks
    back. ``signature`` and ``sizes`` may depend on the arguments (callables);
    ``result`` wraps a tuple of outputs (a namedtuple)."""

    def function(*arrays: Any, **kwargs: Any) -> Any:
        import dask.array as da

        sig = signature(*arrays, **kwargs) if callable(signature) else signature
        core = [part.count(",") + 1 if part.strip("()") else 0
                for part in sig.split("->")[0].replace("),(", ")|(").split("|")]
        whole = [a.rechunk({a.ndim - 1 - i: -1 for i in range(k)}) if k else a for a, k in zip(arrays, core)]
        out = da.apply_gufunc(
            functools.partial(_linalg_block, name, kwargs), sig, *whole,
            output_dtypes=_output_dtypes(name, kwargs, arrays),
            output_sizes=sizes(*arrays, **kwargs) if sizes is not None else None,
        )
        first = arrays[0]
        outs = out if isinstance(out, tuple) else (out,)
        outs = tuple(rechunk_like(o, first) for o in outs)
        return result(*outs) if result is not None else outs if isinstance(out, tuple) else outs[0]

    function.__name__ = function.__qualname__ = name
    return function


def _linalg_block(name: str, kwargs: dict, *blocks: Any) -> Any:
    out = getattr(_backend.namespace_of(blocks[0]).linalg, name)(*blocks, **kwargs)
    return tuple(out) if isinstance(out, tuple) else out


def _output_dtypes(name: str, kwargs: dict, arrays: tuple) -> Any:
    """The result dtypes, from the function on identity matrices of the inputs' dtypes."""
    import numpy as np

    samples = [np.eye(2, dtype=a.dtype) if a.ndim >= 2 else np.ones(2, dtype=a.dtype) for a in arrays]
    out = _linalg_block(name, kwargs, *samples)
    return [o.dtype for o in out] if isinstance(out, tuple) else out.dtype


def _svd_signature(x: Any, full_matrices: bool = True) -> str:
    return "(m,n)->(m,m),(k),(n,n)" if full_matrices else "(m,n)->(m,k),(k),(k,n)"


def _qr_signature(x: Any, mode: str = "reduced") -> str:
    return "(m,n)->(m,m),(m,n)" if mode == "complete" else "(m,n)->(m,k),(k,n)"


def _k(x: Any, **_: Any) -> dict:
    return {"k": min(x.shape[-2], x.shape[-1])}


def _linalg_namespace(compat: Any) -> Any:
    ns = types.SimpleNamespace(**{k: getattr(compat, k) for k in dir(compat) if not k.startswith("__")})
    ns.__name__ = "anyad.dask_namespace.linalg"
    ns.inv = _per_matrix("inv", "(m,m)->(m,m)")
    ns.det = _per_matrix("det", "(m,m)->()")
    ns.slogdet = _per_matrix("slogdet", "(m,m)->(),()", compat.SlogdetResult)
    ns.cholesky = _per_matrix("cholesky", "(m,m)->(m,m)")
    ns.eigh = _per_matrix("eigh", "(m,m)->(m),(m,m)", compat.EighResult)
    ns.eigvalsh = _per_matrix("eigvalsh", "(m,m)->(m)")
    ns.svd = _per_matrix("svd", _svd_signature, compat.SVDResult, _k)
    ns.svdvals = _per_matrix("svdvals", "(m,n)->(k)", None, _k)
    ns.qr = _per_matrix("qr", _qr_signature, compat.QRResult, _k)
    ns.solve = _per_matrix("solve", lambda a, b: "(m,m),(m)->(m)" if b.ndim == 1 else "(m,m),(m,k)->(m,k)")
    ns.pinv = _per_matrix("pinv", "(m,n)->(n,m)")
    ns.cross = _cross
    power = _per_matrix("matrix_power", "(m,m)->(m,m)")
    ns.matrix_power = lambda x, n, /: power(x, n=n)
    return ns


def _cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The cross product of 3-vectors along ``axis``, from slices (lazy, any chunks)."""
    import dask.array as da

    a, b = da.broadcast_arrays(x1, x2)
    ax = axis % a.ndim
    if a.shape[ax] != 3:
        raise ValueError(f"linalg.cross: axis {axis} of the shape {a.shape} must have size 3")
    a0, a1, a2 = (a[(slice(None),) * ax + (i,)] for i in range(3))
    b0, b1, b2 = (b[(slice(None),) * ax + (i,)] for i in range(3))
    return da.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=ax)


def _along_whole_axes(function: Any, many: bool) -> Any:
    """An fft function that first gathers its transformed axes into one chunk."""

    def fft_function(x: Any, *args: Any, **kwargs: Any) -> Any:
        if many:
            axes = kwargs.get("axes", args[1] if len(args) > 1 else None)
            s = kwargs.get("s", args[0] if args else None)
            if axes is None:
                axes = range(x.ndim) if s is None else range(x.ndim - len(s), x.ndim)
        else:
            axis = kwargs.get("axis", args[1] if len(args) > 1 else -1)
            axes = (-1 if axis is None else axis,)
        whole = {a % x.ndim: -1 for a in axes}
        if any(len(x.chunks[a]) > 1 for a in whole):
            x = x.rechunk(whole)
        return function(x, *args, **kwargs)

    fft_function.__name__ = fft_function.__qualname__ = function.__name__
    return fft_function


def _fft_namespace(compat: Any) -> Any:
    ns = types.SimpleNamespace(**{k: getattr(compat, k) for k in dir(compat) if not k.startswith("__")})
    ns.__name__ = "anyad.dask_namespace.fft"
    for name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
        setattr(ns, name, _along_whole_axes(getattr(compat, name), many=False))
    for name in ("fftn", "ifftn", "rfftn", "irfftn", "fft2", "ifft2", "rfft2", "irfft2"):
        setattr(ns, name, _along_whole_axes(getattr(compat, name), many=True))
    return ns


def rechunk_like(out: Any, like: Any) -> Any:
    """``out`` rechunked to ``like``'s chunks (no-op when they already agree).

    ``out`` is a dask array, or a Variable holding one (a derivative graph):
    its value is then rechunked in place, which changes no element.

    Examples
    --------
    >>> import dask.array as da
    >>> rechunk_like(da.ones(4, chunks=4), da.zeros(4, chunks=2)).chunks
    ((2, 2),)
    """
    raw = out if isinstance(out, Array) else getattr(out, "value", None)
    if not isinstance(raw, Array) or raw.chunks == like.chunks or tuple(raw.shape) != tuple(like.shape):
        return out
    if raw is out:
        return raw.rechunk(like.chunks)
    out.value = raw.rechunk(like.chunks)
    return out


def has_unknown_shape(value: Any) -> bool:
    """Whether an array's shape has unknown (``nan`` or ``None``) dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> has_unknown_shape(np.ones(2))
    False
    """
    return any(d is None or d != d for d in value.shape)


# ----------------------------------------------------------------------------
# index_add: a lazy scatter-add with accumulation
# ----------------------------------------------------------------------------


def _is_array(k: Any) -> bool:
    return hasattr(k, "shape") and hasattr(k, "dtype")


def _shared_axes(key: tuple, shape: tuple) -> list:
    """For each axis of the result, the axis of the indexed values it is taken
    whole from (a full slice), or ``None`` where the key selects from it.

    Only keys with at most one integer array (and no other integer) are
    analysed; for others every axis is ``None`` (correct, only more tasks).
    """
    arrays = [k for k in key if _is_array(k) and k.ndim > 0]
    ints = [k for k in key if (isinstance(k, int) and not isinstance(k, bool)) or (_is_array(k) and k.ndim == 0)]
    if len(arrays) > 1 or (arrays and ints):
        return [None] * len(shape)
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    out: list = []
    vaxis = 0
    for k in key:
        if k is None:
            vaxis += 1
        elif k is Ellipsis:
            for _ in range(len(shape) - consumed):
                out.append(vaxis)
                vaxis += 1
        elif isinstance(k, slice):
            d = shape[len(out)]
            out.append(vaxis if k.indices(d) == (0, d, 1) else None)
            vaxis += 1
        elif _is_array(k) and k.ndim > 0:
            out.append(None)
            vaxis += k.ndim
        else:
            out.append(None)
    while len(out) < len(shape):
        out.append(vaxis)
        vaxis += 1
    return out


def _output_chunks(values: Any, shared: list, shape: tuple) -> tuple:
    from dask.array.core import normalize_chunks

    spec = tuple(values.chunks[e] if e is not None else "auto" for e in shared)
    return normalize_chunks(spec, shape, dtype=values.dtype)


def _meta(values: Any, ndim: int) -> Any:
    """An empty chunk of ``values``' chunk type (numpy, cupy) with ``ndim`` dimensions."""
    m = values._meta
    return m.reshape(-1)[:0].reshape((0,) * ndim)


def index_add(values: Any, key: Any, shape: tuple, repeats: bool) -> Any:
    """Zeros of ``shape`` with dask array ``values`` added at ``key``, lazily.

    Keys of basic indices (ints, slices, ``None``, ``...``) go through dask's
    own lazy assignment. Keys with integer arrays (dask or numpy; repeated
    indices accumulate) are scattered block by block: every block of the
    result receives a per-chunk scatter-add from each block of ``values``
    (``np.add.at`` or ``cupyx.scatter_add`` inside the task), and the
    contributions are summed as a tree. Each task holds one block of each
    operand, so memory stays bounded; the work grows with the number of
    blocks of the index.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> from anyad.backends.scatter import TakeKey
    >>> v = da.from_array(np.array([1.0, 2.0, 3.0]), chunks=2)
    >>> i = da.from_array(np.array([0, 0, 2]), chunks=2)
    >>> index_add(v, TakeKey(i, 0), (4,), True).compute()
    array([3., 0., 3., 0.])
    """
    import dask.array as da

    key = key.as_tuple() if isinstance(key, scatter.TakeKey) else key
    key = key if isinstance(key, tuple) else (key,)
    for k in key:
        if _is_array(k) and _backend.namespace_of(k).isdtype(k.dtype, "bool"):
            raise ValueError(
                "anyad.index_add: the gradient of boolean-mask indexing of a dask array cannot be formed "
                "lazily (the selection has unknown size); use anyad.where(mask, x, 0.0) instead"
            )
    if has_unknown_shape(values):
        raise ValueError(
            f"anyad.index_add: the cotangent has unknown (nan) chunk sizes {values.chunks}; "
            "dask cannot scatter it lazily"
        )
    shared = _shared_axes(key, shape)
    chunks = _output_chunks(values, shared, shape)
    if not any(_is_array(k) for k in key):
        z = da.zeros(shape, dtype=values.dtype, chunks=chunks, meta=_meta(values, len(shape)))
        basic, vals = without_newaxes(da, key, values, len(shape))
        z[basic] = vals
        return z
    return _scatter(da, values, key, shape, shared, chunks)


def _scatter(da: Any, values: Any, key: tuple, shape: tuple, shared: list, chunks: tuple) -> Any:
    key = tuple(da.from_array(k) if _is_array(k) and not isinstance(k, da.Array) else k for k in key)
    coords = [da.arange(d, chunks=c) for d, c in zip(shape, chunks)]
    # flat position in the result of every element of values, chunked like values
    grid = None
    stride = 1
    for d in reversed(range(len(shape))):
        axis = da.reshape(coords[d], tuple(shape[d] if i == d else 1 for i in range(len(shape))))
        term = axis * stride if stride != 1 else axis
        grid = term if grid is None else grid + term
        stride *= shape[d]
    pos = grid[key]
    if pos.chunks != values.chunks:
        pos = pos.rechunk(values.chunks)
    vind = tuple(f"v{e}" for e in range(values.ndim))
    out_letters = tuple(f"v{e}" if e is not None else f"o{d}" for d, e in enumerate(shared))
    kept = {e for e in shared if e is not None}
    contracted = tuple(f"v{e}" for e in range(values.ndim) if e not in kept)
    args: list = [values, vind, pos, vind]
    for c, letter in zip(coords, out_letters):
        args += [c, (letter,)]
    parts = da.blockwise(
        functools.partial(_scatter_block, shape=tuple(shape), extra=len(contracted)),
        out_letters + contracted, *args,
        adjust_chunks={c: 1 for c in contracted},
        dtype=values.dtype,
        meta=_meta(values, len(out_letters) + len(contracted)),
    )
    if not contracted:
        return parts
    return da.sum(parts, axis=tuple(range(len(shape), len(shape) + len(contracted))))


def _scatter_block(vals: Any, pos: Any, *coords: Any, shape: tuple, extra: int) -> Any:
    """One task of the scatter: the part of one block of ``vals`` that falls in
    the box of the result spanned by ``coords`` (one block of positions per
    axis), scatter-added into zeros of that box. Runs on concrete chunks."""
    xp = _backend.namespace_of(vals)
    box = tuple(int(c.shape[0]) for c in coords)
    flat = xp.reshape(xp.asarray(pos), (-1,))  # positions are host chunks; values may be CuPy
    v = xp.reshape(vals, (-1,))
    rest = flat
    index = []
    for d in reversed(range(len(shape))):
        index.append(rest % shape[d])
        rest = rest // shape[d]
    index.reverse()
    inside = None
    local = None
    for d, c in enumerate(coords):
        start = int(c[0]) if box[d] else 0  # coordinates are host arrays of the task
        i = index[d] - start
        ok = (i >= 0) & (i < box[d])
        inside = ok if inside is None else inside & ok
        local = i if local is None else local * box[d] + i
    if inside is None:  # a zero-dimensional result
        out = xp.sum(v, keepdims=False)
        return xp.reshape(out, (1,) * extra)
    local = xp.where(inside, local, 0)
    v = xp.where(inside, v, xp.zeros_like(v))
    out = scatter.index_add(xp, v, local, (math.prod(box),), True)
    return xp.reshape(out, box + (1,) * extra)
