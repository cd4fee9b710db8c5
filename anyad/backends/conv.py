"""Convolution kernels: the standard has none; this is the one place they live.

Arrays are laid out as in torch: ``(batch, channels, *spatial)``. Three
kernels serve every convolution, transposed convolution and pooling in
:mod:`anyad.ops.conv`:

* :func:`patches` (im2col): the ``K = prod(kernel)`` strided windows of an
  array, ``(N, C, *S) -> (N, C, K, *O)``, from ``K`` strided slices;
* :func:`fold` (col2im), its adjoint: the windows added back into zeros of
  ``(N, C, *S)`` (in place where the library allows, ``.at[].add`` on JAX);
* :func:`conv`: ``patches`` and one batched matrix product per group, or the
  library's own kernel where it has one (torch ``conv1d/2d/3d``).

Examples
--------
>>> import numpy as np
>>> from anyad import _backend
>>> xp = _backend.namespace_of(np.zeros(1))
>>> x = np.arange(5.0).reshape(1, 1, 5)
>>> patches(xp, x, (2,), (2,), (1,))[0, 0]
array([[0., 2.],
       [1., 3.]])
>>> fold(xp, np.ones((1, 1, 2, 2)), (1, 1, 5), (2,), (2,), (1,))[0, 0]
array([1., 1., 1., 1., 0.])
"""

from __future__ import annotations

import itertools
from typing import Any

from .. import _backend

__all__ = ["out_size", "patches", "fold", "pad", "conv", "first_max", "conv_grads", "batch_pieces"]

_VIEWS = frozenset(("numpy", "cupy", "torch"))  # libraries whose basic slices are writable views


#: the windows of a batch are made (and dropped) about this many elements at a time, in
#: at most MAX_PIECES pieces, forward and backward: less than the whole batch's K-times
#: larger windows is alive at once (the products are per sample anyway)
WINDOW_ELEMENTS = 1 << 20
MAX_PIECES = 8


def batch_pieces(n: int, per_sample: int) -> list:
    """``[(start, stop), ...]`` covering ``range(n)``, each of about ``WINDOW_ELEMENTS``
    windows' elements when a sample has ``per_sample``.

    >>> batch_pieces(10, WINDOW_ELEMENTS // 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    size = max(1, WINDOW_ELEMENTS // max(1, per_sample), -(-n // MAX_PIECES))
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)] or [(0, n)]


def out_size(size: int, k: int, s: int, d: int) -> int:
    """Windows of ``k`` taps ``d`` apart, every ``s``, that fit in ``size``."""
    return (size - d * (k - 1) - 1) // s + 1


def _windows(spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> tuple[tuple, list]:
    """The output size and, per kernel tap, the slices that pick its window."""
    outs = tuple(out_size(n, k, s, d) for n, k, s, d in zip(spatial, kernel, stride, dilation))
    keys = []
    for taps in itertools.product(*(range(k) for k in kernel)):
        keys.append((slice(None), slice(None)) + tuple(
            slice(j * d, j * d + s * (o - 1) + 1, s) for j, d, s, o in zip(taps, dilation, stride, outs)))
    return outs, keys


def _tiles(kernel: tuple, stride: tuple, dilation: tuple) -> bool:
    """Whether the windows tile the input (stride = kernel, no dilation): then
    the windows are a reshape and one transposition away."""
    return all(s == k and d == 1 for k, s, d in zip(kernel, stride, dilation))


def _tile_axes(nd: int) -> tuple[tuple, tuple]:
    """Axis orders between ``(N, C, O1, k1, O2, k2, ...)`` and ``(N, C, k1, k2, ..., O1, O2, ...)``."""
    to_taps = (0, 1) + tuple(3 + 2 * i for i in range(nd)) + tuple(2 + 2 * i for i in range(nd))
    back = [0] * len(to_taps)
    for i, a in enumerate(to_taps):
        back[a] = i
    return to_taps, tuple(back)


def patches(xp: Any, x: Any, kernel: tuple, stride: tuple, dilation: tuple) -> Any:
    """The windows of ``x`` (``(N, C, *S)``) as ``(N, C, K, *O)``, taps in C order."""
    outs, keys = _windows(tuple(x.shape[2:]), kernel, stride, dilation)
    n, c, k = x.shape[0], x.shape[1], len(keys)
    if any(o <= 0 for o in outs):
        return xp.zeros((n, c, k) + tuple(max(o, 0) for o in outs), dtype=x.dtype,
                        device=_backend.device_of(x))
    if _tiles(kernel, stride, dilation):
        nd = len(kernel)
        x = x[(slice(None), slice(None)) + tuple(slice(0, o * kk) for o, kk in zip(outs, kernel))]
        x = xp.reshape(x, (n, c) + tuple(v for o, kk in zip(outs, kernel) for v in (o, kk)))
        return xp.reshape(xp.permute_dims(x, _tile_axes(nd)[0]), (n, c, k) + outs)
    return xp.stack([x[key] for key in keys], axis=2)


def fold(xp: Any, cols: Any, shape: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> Any:
    """Zeros of ``shape`` with each window of ``cols`` (``(N, C, K, *O)``) added in place."""
    outs, keys = _windows(tuple(shape[2:]), kernel, stride, dilation)
    name = _backend.backend_name(xp)
    if _tiles(kernel, stride, dilation) and all(n > 0 for n in cols.shape):
        nd = len(kernel)
        t = xp.reshape(cols, tuple(shape[:2]) + tuple(kernel) + outs)
        t = xp.reshape(xp.permute_dims(t, _tile_axes(nd)[1]),
                       tuple(shape[:2]) + tuple(o * kk for o, kk in zip(outs, kernel)))
        rest = tuple((0, n - o * kk) for n, o, kk in zip(shape[2:], outs, kernel))
        return pad(xp, t, rest) if any(hi for _, hi in rest) else t
    z = xp.zeros(shape, dtype=cols.dtype, device=_backend.device_of(cols))
    if any(n == 0 for n in cols.shape):
        return z
    for i, key in enumerate(keys):
        piece = cols[:, :, i, ...]
        if name == "jax":
            z = z.at[key].add(piece)
        elif name in _VIEWS:  # basic slicing gives a view: add into it
            view = z[key]
            view += piece
        else:
            z[key] = z[key] + piece
    return z


def pad(xp: Any, x: Any, pads: tuple, value: float = 0.0) -> Any:
    """``x`` with ``pads`` (one ``(low, high)`` per trailing axis) of ``value`` around it."""
    lead = len(x.shape) - len(pads)
    shape = tuple(x.shape[:lead]) + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[lead:], pads))
    key = (slice(None),) * lead + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[lead:], pads))
    z = xp.full(shape, value, dtype=x.dtype, device=_backend.device_of(x))
    if _backend.backend_name(xp) == "jax":
        return z.at[key].set(x)
    z[key] = x
    return z


def _torch_conv(x: Any, w: Any, stride: tuple, pads: tuple, dilation: tuple, groups: int) -> Any:
    import torch.nn.functional as tf

    nd = len(stride)
    if any(lo != hi for lo, hi in pads):
        x = tf.pad(x, tuple(v for lo_hi in reversed(pads) for v in lo_hi))
        pads = tuple((0, 0) for _ in pads)
    fn = (tf.conv1d, tf.conv2d, tf.conv3d)[nd - 1]
    return fn(x, w, None, stride, tuple(lo for lo, _ in pads), dilation, groups)


def conv(xp: Any, x: Any, w: Any, stride: tuple, pads: tuple, dilation: tuple, groups: int) -> Any:
    """Cross-correlation of ``x`` (``(N, C, *S)``) with ``w`` (``(O, C/groups, *k)``),
    zero-padded by ``pads``: ``(N, O, *out)``. The caller has checked the shapes."""
    if (_backend.backend_name(xp) == "torch" and len(stride) <= 3 and x.shape[0] > 0
            and x.dtype == w.dtype):
        return _torch_conv(x, w, stride, pads, dilation, groups)
    if any(lo or hi for lo, hi in pads):
        x = pad(xp, x, pads)
    n, c = x.shape[0], x.shape[1]
    o, kernel = w.shape[0], tuple(w.shape[2:])
    outs, keys = _windows(tuple(x.shape[2:]), kernel, stride, dilation)
    outs = tuple(max(v, 0) for v in outs)
    k, length = len(keys), 1
    for v in outs:
        length *= v
    wr = xp.reshape(w, (groups, o // groups, (c // groups) * k))

    def product(xs: Any, out: Any = None) -> Any:
        cols = xp.reshape(patches(xp, xs, kernel, stride, dilation), (xs.shape[0], groups, (c // groups) * k,
                                                                      length))
        return xp.matmul(wr, cols) if out is None else xp.matmul(wr, cols, out=out)

    pieces = batch_pieces(n, c * k * length)
    if len(pieces) == 1:
        return xp.reshape(product(x), (n, o) + outs)
    if _backend.backend_name(xp) in ("numpy", "cupy"):  # each piece's product written in place
        y = xp.empty((n, groups, o // groups, length), dtype=x.dtype, device=_backend.device_of(x))
        for lo, hi in pieces:
            product(x[lo:hi, ...], y[lo:hi, ...])
        return xp.reshape(y, (n, o) + outs)
    return xp.reshape(xp.concat([product(x[lo:hi, ...]) for lo, hi in pieces], axis=0), (n, o) + outs)


def first_max(xp: Any, cols: Any) -> Any:
    """A boolean mask of ``cols`` (``(N, C, K, *O)``): true at the first largest of
    the ``K`` taps of each window (the first NaN, if any), false elsewhere."""
    if any(n == 0 for n in cols.shape):
        return xp.zeros(tuple(cols.shape), dtype=xp.bool, device=_backend.device_of(cols))
    # the taps equal to the largest (or NaN: then the largest is NaN), each kept unless an
    # earlier one was: K compares of (N, C, *O) slices, where argmax over a middle axis
    # copies the windows to put that axis last and then loops over K per window (8x slower)
    hit = (cols == xp.max(cols, axis=2, keepdims=True)) | xp.isnan(cols)
    seen = hit[:, :, 0, ...]
    firsts = [seen]
    for i in range(1, cols.shape[2]):
        h = hit[:, :, i, ...]
        firsts.append(h & ~seen)
        seen = seen | h
    return xp.stack(firsts, axis=2)


def conv_grads(xp: Any, which: str, a: Any, b: Any, shape: tuple, stride: tuple, pads: tuple, dilation: tuple,
               groups: int) -> Any:
    """The library's own convolution gradient, or None where it has none: ``which``
    "input" (``a`` the output gradient, ``b`` the weight, ``shape`` the input's) or
    "weight" (``a`` the input, ``b`` the output gradient, ``shape`` the weight's).
    Torch's ``torch.nn.grad.conv{1,2,3}d_input/_weight`` for torch arrays with
    symmetric padding; the caller composes the gradient otherwise."""
    if (_backend.backend_name(xp) != "torch" or len(stride) > 3 or any(lo != hi for lo, hi in pads)
            or any(n == 0 for n in tuple(a.shape) + tuple(b.shape)) or a.dtype != b.dtype):
        return None
    import torch.nn.grad as tg

    nd, padding = len(stride), tuple(lo for lo, _ in pads)
    if which == "input":
        fn = (tg.conv1d_input, tg.conv2d_input, tg.conv3d_input)[nd - 1]
        return fn(shape, b, a, stride, padding, dilation, groups)
    fn = (tg.conv1d_weight, tg.conv2d_weight, tg.conv3d_weight)[nd - 1]
    return fn(a, shape, b, stride, padding, dilation, groups)
