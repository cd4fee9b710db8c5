"""Pooling, as in torch: max, average and adaptive average, over 1 or 2 spatial axes.

* Max pooling takes the windows (:func:`anyad.ops.conv.patches`) and, in each,
  the largest element (:func:`anyad.ops.conv.window_max`): the gradient goes
  to the first largest, as in torch; the backward pass keeps a boolean mask
  (from ``argmax``), not the windows, and needs no scatter. The mask is a
  (non-differentiable) primitive, so :func:`anyad.jit` recomputes it for new
  inputs.
* Average pooling is a convolution of each channel with a constant kernel,
  divided by the number of elements each window counts.
* Adaptive average pooling multiplies by constant averaging matrices.

Examples
--------
>>> import anyad as ad
>>> import numpy as np
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> ad.nn.functional.max_pool2d(x, 2)[0, 0]
array([[ 5.,  7.],
       [13., 15.]])
>>> ad.nn.functional.avg_pool2d(x, 2)[0, 0]
array([[ 2.5,  4.5],
       [10.5, 12.5]])
"""

from __future__ import annotations

import math
from typing import Any

from .. import _backend
from ..backends import conv as _kernels
from ..ops import add, divide, matmul, reshape, squeeze
from ..ops.conv import conv as _conv, pad_zeros, patches, window_max
from ..variable import Variable
from .conv import batched, check_windows, ntuple

__all__ = [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
]


def _raw(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def _geometry(shape: tuple, nd: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool, who: str) -> tuple:
    """Kernel, stride, dilation and the ``(low, high)`` pads (``high`` grown for ceil_mode)."""
    kernel = ntuple(kernel_size, nd, "kernel_size", who)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        ntuple(stride, nd, "stride", who)
    dilation = ntuple(dilation, nd, "dilation", who)
    pad = ntuple(padding, nd, "padding", who, minimum=0)
    if any(2 * p > k for p, k in zip(pad, kernel)):
        raise ValueError(f"{who}: padding {pad} must be at most half the kernel size {kernel}")
    pads = tuple((p, p) for p in pad)
    check_windows(shape, pads, kernel, dilation, who)
    if ceil_mode:
        grown = []
        for n, k, s, d, p in zip(shape[2:], kernel, stride, dilation, pad):
            span = n + 2 * p - d * (k - 1) - 1
            out = -(-span // s) + 1
            if (out - 1) * s >= n + p:
                out -= 1
            grown.append((p, p + max(0, (out - 1) * s + d * (k - 1) + 1 - (n + 2 * p))))
        pads = tuple(grown)
    return kernel, stride, dilation, pads


def _max_pool(x: Any, nd: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
              return_indices: bool, who: str) -> Any:
    if return_indices:
        raise ValueError(f"{who}: return_indices=True is not supported; the gradient needs no indices")
    x, added = batched(x, nd, who)
    r = _raw(x)
    shape = tuple(r.shape)
    kernel, stride, dilation, pads = _geometry(shape, nd, kernel_size, stride, padding, dilation, ceil_mode,
                                               who)
    if any(lo or hi for lo, hi in pads):
        xp = _backend.namespace_of(r)
        zeros = xp.zeros(shape, dtype=r.dtype, device=_backend.device_of(r))
        x = add(pad_zeros(x, pads), _kernels.pad(xp, zeros, pads, -math.inf))
    cols = patches(x, kernel, stride, dilation)
    y = window_max(cols)  # the gradient reaches the first largest element only
    return squeeze(y, axis=0) if added else y


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The largest element of each window, as ``torch.nn.functional.max_pool1d``
    (``stride`` defaults to ``kernel_size``; padding counts as ``-inf``).

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x = np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]])
    >>> ad.nn.functional.max_pool1d(x, 2, ceil_mode=True)
    array([[[3., 5., 4.]]])
    """
    return _max_pool(input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     "anyad.nn.functional.max_pool1d")


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The largest element of each window, as ``torch.nn.functional.max_pool2d``;
    the gradient goes to the first largest element of each window.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> ad.nn.functional.max_pool2d(x, 2, stride=1)[0, 0]
    array([[4., 5.],
           [7., 8.]])
    """
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     "anyad.nn.functional.max_pool2d")


def _avg_pool(x: Any, nd: int, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
              count_include_pad: bool, divisor_override: Any, who: str) -> Any:
    x, added = batched(x, nd, who)
    r = _raw(x)
    shape = tuple(r.shape)
    kernel, stride, dilation, pads = _geometry(shape, nd, kernel_size, stride, padding, 1, ceil_mode, who)
    xp, dev = _backend.namespace_of(r), _backend.device_of(r)
    n, c = shape[0], shape[1]
    ones = xp.ones((1, 1) + kernel, dtype=r.dtype, device=dev)
    flat = reshape(x, (n * c, 1) + shape[2:])
    total = _conv(flat, ones, stride=stride, pads=pads, dilation=dilation, groups=1)
    if divisor_override is not None:
        if not isinstance(divisor_override, int) or divisor_override <= 0:
            raise ValueError(f"{who}: divisor_override must be a positive int, got {divisor_override!r}")
        count: Any = float(divisor_override)
    else:  # how many elements each window counts: the input, the padding if asked, never ceil_mode's extra
        mask = xp.ones((1, 1) + shape[2:], dtype=r.dtype, device=dev)
        pad = tuple((lo, lo) for lo, _ in pads)
        mask = _kernels.pad(xp, mask, pad, 1.0 if count_include_pad else 0.0)
        extra = tuple((0, hi - lo) for lo, hi in pads)
        mask = _kernels.pad(xp, mask, extra, 0.0)
        count = _kernels.conv(xp, mask, ones, stride, ((0, 0),) * nd, dilation, 1)
    y = reshape(divide(total, count), (n, c) + tuple(_raw(total).shape[2:]))
    return squeeze(y, axis=0) if added else y


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Any:
    """The mean of each window, as ``torch.nn.functional.avg_pool1d``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.functional.avg_pool1d(np.array([[[1.0, 3.0, 2.0, 6.0]]]), 2)
    array([[[2., 4.]]])
    """
    return _avg_pool(input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                     "anyad.nn.functional.avg_pool1d")


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: Any = None) -> Any:
    """The mean of each window, as ``torch.nn.functional.avg_pool2d`` (padding
    counts as zeros unless ``count_include_pad=False``).

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.functional.avg_pool2d(np.ones((1, 1, 2, 2)), 2, padding=1)[0, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     "anyad.nn.functional.avg_pool2d")


def _averaging(xp: Any, n: int, out: int, dtype: Any, device: Any) -> Any:
    """The ``(out, n)`` matrix of torch's adaptive windows ``[floor(i n / out), ceil((i + 1) n / out))``."""
    rows = []
    for i in range(out):
        lo, hi = (i * n) // out, -(-((i + 1) * n) // out)
        rows.append([1.0 / (hi - lo) if lo <= j < hi else 0.0 for j in range(n)])
    return xp.asarray(rows, dtype=dtype, device=device)


def _adaptive(x: Any, nd: int, output_size: Any, who: str) -> Any:
    x, added = batched(x, nd, who)
    r = _raw(x)
    shape = tuple(r.shape)
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    sizes = tuple(n if o is None else o for o, n in zip(sizes, shape[2:]))
    sizes = ntuple(sizes, nd, "output_size", who)
    if any(n == 0 for n in shape[2:]):
        raise ValueError(f"{who}: the input of shape {shape} has an empty spatial axis")
    xp, dev = _backend.namespace_of(r), _backend.device_of(r)
    a = [_averaging(xp, n, o, r.dtype, dev) for n, o in zip(shape[2:], sizes)]
    if nd == 1:
        y = matmul(x, xp.permute_dims(a[0], (1, 0)))
    else:
        y = matmul(matmul(a[0], x), xp.permute_dims(a[1], (1, 0)))
    return squeeze(y, axis=0) if added else y


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """Average over ``output_size`` windows that cover the input, as in torch.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.functional.adaptive_avg_pool1d(np.array([[[1.0, 2.0, 3.0]]]), 2)
    array([[[1.5, 2.5]]])
    """
    return _adaptive(input, 1, output_size, "anyad.nn.functional.adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Average over an ``output_size`` grid of windows covering the input, as
    ``torch.nn.functional.adaptive_avg_pool2d`` (``None`` keeps that axis).

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.functional.adaptive_avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 1)
    array([[[[7.5]]]])
    """
    return _adaptive(input, 2, output_size, "anyad.nn.functional.adaptive_avg_pool2d")
