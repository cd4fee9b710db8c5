"""Convolutions, transposed convolutions, ``pad``, ``unfold`` and ``fold``, as in torch.

Every function takes Variables or raw arrays of any backend, laid out as
``(batch, channels, *spatial)`` (or without the batch axis, as torch allows).
Shapes and parameters are checked before any kernel runs: a mismatch raises
a ``ValueError`` naming the function, the shapes and the parameter. The
convolution itself is one primitive (:func:`anyad.ops.conv.conv`) with
first- and higher-order rules; a transposed convolution is its input's VJP.

Examples
--------
>>> import anyad as ad
>>> import numpy as np
>>> F = ad.nn.functional
>>> x = ad.Variable(np.ones((1, 1, 4, 4)), requires_grad=True)
>>> w = ad.Variable(np.ones((2, 1, 3, 3)), requires_grad=True)
>>> y = F.conv2d(x, w, padding="same")
>>> y.shape, float(y.value[0, 0, 0, 0]), float(y.value[0, 0, 1, 1])
((1, 2, 4, 4), 4.0, 9.0)
>>> F.conv_transpose2d(y, w).shape
(1, 1, 6, 6)
"""

from __future__ import annotations

import numbers
from typing import Any

from .. import _backend
from .._state import autocast_dtype
from ..backends import conv as _kernels
from ..ops import add, expand_dims, getitem, reshape, squeeze, take
from ..ops._helpers import autocast_low
from ..ops.conv import conv as _conv, conv_input_grad, fold as _fold, pad_zeros, patches
from ..variable import Variable

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "pad",
    "unfold", "fold",
]


def _shape(x: Any) -> tuple:
    return tuple((x.value if isinstance(x, Variable) else x).shape)


def _dtype(x: Any) -> Any:
    return (x.value if isinstance(x, Variable) else x).dtype


def ntuple(value: Any, nd: int, name: str, who: str, minimum: int = 1) -> tuple:
    """``value`` (an int or ``nd`` ints) as a tuple of ``nd`` ints ``>= minimum``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd
    ints = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items)
    if len(items) != nd or not ints:
        raise ValueError(f"{who}: {name} must be an int or {nd} ints, got {value!r}")
    if any(int(v) < minimum for v in items):
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


def batched(x: Any, nd: int, who: str) -> tuple[Any, bool]:
    """``x`` with a batch axis (added when it has ``nd + 1`` axes), and whether one was added."""
    shape = _shape(x)
    raw = x.value if isinstance(x, Variable) else x
    if 0 in shape and type(raw) in _backend.UNKNOWN_SHAPES:  # dask: empty windows lose their shapes
        raise NotImplementedError(
            f"{who}: an empty {_backend.describe(raw)} input is not supported on this lazy backend "
            "(its empty reshapes and writes lose the shape); skip the empty batch, or compute it with numpy")
    if len(shape) == nd + 2:
        return x, False
    if len(shape) == nd + 1:
        return expand_dims(x, axis=0), True
    raise ValueError(
        f"{who}: the input must have {nd + 2} axes (batch, channels, {nd} spatial) or {nd + 1} "
        f"(unbatched), got shape {shape}"
    )


def conv_pads(padding: Any, nd: int, kernel: tuple, stride: tuple, dilation: tuple, who: str) -> tuple:
    """One ``(low, high)`` per spatial axis, from an int, ``nd`` ints, "same" or "valid"."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ValueError(f"{who}: padding must be 'same', 'valid', an int or {nd} ints, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{who}: padding='same' needs stride 1, got stride={stride}")
        totals = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in ntuple(padding, nd, "padding", who, minimum=0))


def check_windows(shape: tuple, pads: tuple, kernel: tuple, dilation: tuple, who: str) -> None:
    """Raise unless each window (``dilation * (kernel - 1) + 1``) fits in the padded input."""
    for n, (lo, hi), k, d in zip(shape[2:], pads, kernel, dilation):
        if n + lo + hi < d * (k - 1) + 1:
            raise ValueError(
                f"{who}: the kernel {kernel} (dilation {dilation}) is larger than the padded input: "
                f"input shape {shape}, padding {pads}"
            )


def _bias(y: Any, bias: Any, nd: int, channels: int, who: str) -> Any:
    if bias is None:
        return y
    if _shape(bias) != (channels,):
        raise ValueError(f"{who}: bias of shape {_shape(bias)} does not match {channels} output channels")
    return add(y, reshape(bias, (channels,) + (1,) * nd))


def _check_weight(shape: tuple, wshape: tuple, nd: int, groups: int, in_axis: int, who: str) -> None:
    if len(wshape) != nd + 2:
        raise ValueError(f"{who}: the weight must have {nd + 2} axes, got shape {wshape}")
    if groups < 1 or shape[1] % groups or wshape[0] % groups:
        raise ValueError(
            f"{who}: groups={groups} must divide the input's {shape[1]} channels and the weight's "
            f"first axis {wshape[0]} (input shape {shape}, weight shape {wshape})"
        )
    expected = wshape[1] * groups if in_axis == 1 else wshape[0]
    if shape[1] != expected:
        raise ValueError(
            f"{who}: the input has {shape[1]} channels (shape {shape}) but the weight of shape {wshape} "
            f"with groups={groups} expects {expected}"
        )


def convolution(x: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: Any,
                nd: int, who: str) -> Any:
    """The checked N-d convolution behind conv1d/2d/3d and the Conv layers."""
    if autocast_dtype() is not None:  # inside anyad.amp.autocast: float32 operands in low precision
        x, weight, bias = autocast_low(x, weight, bias)
    x, added = batched(x, nd, who)
    shape, wshape = _shape(x), _shape(weight)
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise ValueError(f"{who}: groups must be an int, got {groups!r}")
    _check_weight(shape, wshape, nd, int(groups), 1, who)
    if _dtype(x) != _dtype(weight):
        raise TypeError(f"{who}: the input is {_dtype(x)} and the weight {_dtype(weight)}; convert one to "
                        "the other (no silent promotion)")
    kernel = wshape[2:]
    stride = ntuple(stride, nd, "stride", who)
    dilation = ntuple(dilation, nd, "dilation", who)
    pads = conv_pads(padding, nd, kernel, stride, dilation, who)
    check_windows(shape, pads, kernel, dilation, who)
    y = _bias(_conv(x, weight, stride=stride, pads=pads, dilation=dilation, groups=int(groups)), bias, nd,
              wshape[0], who)
    return squeeze(y, axis=0) if added else y


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``: input ``(N, C, L)``,
    weight ``(O, C/groups, k)``; ``padding`` an int, "same" or "valid".

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> ad.nn.functional.conv1d(x, np.ones((1, 1, 2)), stride=2)
    array([[[1., 5.]]])
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 1,
                       "anyad.nn.functional.conv1d")


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``: input ``(N, C, H, W)``,
    weight ``(O, C/groups, kh, kw)``; ``padding`` ints, "same" or "valid".

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    >>> ad.nn.functional.conv2d(x, w, padding=1)[0, 0]
    array([[1., 2., 2., 1.],
           [2., 4., 4., 2.],
           [2., 4., 4., 2.],
           [1., 2., 2., 1.]])
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 2,
                       "anyad.nn.functional.conv2d")


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """3-D cross-correlation, as ``torch.nn.functional.conv3d``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x, w = np.ones((1, 2, 3, 3, 3)), np.ones((1, 2, 2, 2, 2))
    >>> ad.nn.functional.conv3d(x, w).shape
    (1, 1, 2, 2, 2)
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 3,
                       "anyad.nn.functional.conv3d")


def transposed(x: Any, weight: Any, bias: Any, stride: Any, padding: Any, output_padding: Any, groups: Any,
               dilation: Any, nd: int, who: str) -> Any:
    """The checked N-d transposed convolution: the adjoint of the convolution with the same
    parameters, whose input would have had the output's size."""
    if autocast_dtype() is not None:
        x, weight, bias = autocast_low(x, weight, bias)
    x, added = batched(x, nd, who)
    shape, wshape = _shape(x), _shape(weight)
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise ValueError(f"{who}: groups must be an int, got {groups!r}")
    groups = int(groups)
    _check_weight(shape, wshape, nd, groups, 0, who)
    if _dtype(x) != _dtype(weight):
        raise TypeError(f"{who}: the input is {_dtype(x)} and the weight {_dtype(weight)}; convert one to "
                        "the other (no silent promotion)")
    if isinstance(padding, str):
        raise ValueError(f"{who}: padding must be an int or {nd} ints, got {padding!r}")
    kernel = wshape[2:]
    stride = ntuple(stride, nd, "stride", who)
    dilation = ntuple(dilation, nd, "dilation", who)
    pad = ntuple(padding, nd, "padding", who, minimum=0)
    extra = ntuple(output_padding, nd, "output_padding", who, minimum=0)
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(f"{who}: output_padding {extra} must be smaller than stride {stride} or dilation "
                         f"{dilation}")
    outs = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1
                 for n, s, p, d, k, e in zip(shape[2:], stride, pad, dilation, kernel, extra))
    if any(o <= 0 for o in outs):
        raise ValueError(f"{who}: the output would have spatial size {outs} (input shape {shape}, weight "
                         f"shape {wshape}, padding {pad})")
    out_shape = (shape[0], wshape[1] * groups) + outs
    pads = tuple((p, p) for p in pad)
    # the adjoint of the convolution with weight (C_in, C_out / groups, *k), from C_out channels
    y = conv_input_grad(x, weight, out_shape, stride, pads, dilation, groups)
    y = _bias(y, bias, nd, out_shape[1], who)
    return squeeze(y, axis=0) if added else y


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Any:
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``:
    weight ``(C_in, C_out/groups, k)``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x, w = np.ones((1, 1, 2)), np.ones((1, 1, 3))
    >>> ad.nn.functional.conv_transpose1d(x, w, stride=2)
    array([[[1., 1., 2., 1., 1.]]])
    """
    return transposed(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                      "anyad.nn.functional.conv_transpose1d")


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Any:
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``:
    weight ``(C_in, C_out/groups, kh, kw)``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x, w = np.ones((1, 1, 2, 2)), np.ones((1, 3, 2, 2))
    >>> ad.nn.functional.conv_transpose2d(x, w, stride=2).shape
    (1, 3, 4, 4)
    """
    return transposed(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                      "anyad.nn.functional.conv_transpose2d")


def conv_transpose3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Any:
    """3-D transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x, w = np.ones((1, 1, 2, 2, 2)), np.ones((1, 1, 2, 2, 2))
    >>> ad.nn.functional.conv_transpose3d(x, w).shape
    (1, 1, 3, 3, 3)
    """
    return transposed(input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
                      "anyad.nn.functional.conv_transpose3d")


def _index_for(mode: str, n: int, lo: int, hi: int, who: str) -> list:
    """Source positions of a padded axis of length ``n`` for reflect/replicate/circular."""
    if n == 0 or (mode == "reflect" and (lo >= n or hi >= n)) or (mode == "circular" and (lo > n or hi > n)):
        raise ValueError(f"{who}: padding ({lo}, {hi}) is too large for an axis of size {n} in mode {mode!r}")
    out = []
    for i in range(-lo, n + hi):
        if mode == "reflect":
            i = -i if i < 0 else (2 * (n - 1) - i if i >= n else i)
        elif mode == "replicate":
            i = min(max(i, 0), n - 1)
        else:
            i %= n
        out.append(i)
    return out


def pad(input: Any, pad: Any, mode: str = "constant", value: float = 0.0) -> Any:
    """Pad the trailing axes, as ``torch.nn.functional.pad``: ``pad`` lists
    ``(low, high)`` from the last axis backwards; ``mode`` is "constant"
    (negative widths crop), "reflect", "replicate" or "circular".

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.functional.pad(np.array([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
    array([[3., 2., 1., 2., 3., 2.]])
    >>> ad.nn.functional.pad(np.array([[1.0, 2.0]]), (1, 0), value=9.0)
    array([[9., 1., 2.]])
    """
    who = "anyad.nn.functional.pad"
    widths = tuple(pad)
    shape = _shape(input)
    if len(widths) % 2 or len(widths) // 2 > len(shape) or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in widths):
        raise ValueError(f"{who}: pad must hold an even number (at most {2 * len(shape)}) of ints, "
                         f"got {pad!r} "
                         f"for an input of shape {shape}")
    m = len(widths) // 2
    pairs = tuple((int(widths[2 * (m - 1 - i)]), int(widths[2 * (m - 1 - i) + 1])) for i in range(m))
    lead = len(shape) - m
    if mode == "constant":
        if any(lo < 0 or hi < 0 for lo, hi in pairs):
            input = getitem(input, (slice(None),) * lead + tuple(
                slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(shape[lead:], pairs)))
            pairs = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
        y = pad_zeros(input, pairs)
        if value != 0:
            r = input.value if isinstance(input, Variable) else input
            xp = _backend.namespace_of(r)
            fill = _kernels.pad(xp, xp.zeros(tuple(r.shape), dtype=r.dtype, device=_backend.device_of(r)),
                                pairs, value)
            y = add(y, fill)
        return y
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"{who}: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    r = input.value if isinstance(input, Variable) else input
    xp, dev = _backend.namespace_of(r), _backend.device_of(r)
    y = input
    for axis, (n, (lo, hi)) in enumerate(zip(shape[lead:], pairs), start=lead):
        if lo < 0 or hi < 0:
            raise ValueError(f"{who}: negative pad {pad!r} is only allowed in mode 'constant'")
        if lo or hi:
            y = take(y, xp.asarray(_index_for(mode, n, lo, hi, who), device=dev), axis=axis)
    return y


def _prod(values: Any) -> int:
    n = 1
    for v in values:
        n *= int(v)
    return n


def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Any:
    """Sliding windows (im2col), as ``torch.nn.functional.unfold``: ``(N, C, H, W)`` to
    ``(N, C * kh * kw, L)``; :func:`fold` is its adjoint.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x = np.arange(4.0).reshape(1, 1, 2, 2)
    >>> ad.nn.functional.unfold(x, 2, padding=1).shape
    (1, 4, 9)
    """
    who = "anyad.nn.functional.unfold"
    x, added = batched(input, 2, who)
    shape = _shape(x)
    kernel = ntuple(kernel_size, 2, "kernel_size", who)
    dilation = ntuple(dilation, 2, "dilation", who)
    stride = ntuple(stride, 2, "stride", who)
    pads = tuple((p, p) for p in ntuple(padding, 2, "padding", who, minimum=0))
    check_windows(shape, pads, kernel, dilation, who)
    cols = patches(pad_zeros(x, pads), kernel, stride, dilation)
    cshape = _shape(cols)
    y = reshape(cols, (shape[0], shape[1] * cshape[2], _prod(cshape[3:])))
    return squeeze(y, axis=0) if added else y


def fold(input: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Any:
    """Sum sliding windows back into an image (col2im), as ``torch.nn.functional.fold``:
    ``(N, C * kh * kw, L)`` to ``(N, C, *output_size)``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.functional.fold(np.ones((1, 4, 4)), (3, 3), 2)[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    who = "anyad.nn.functional.fold"
    shape = _shape(input)
    added = len(shape) == 2
    if len(shape) not in (2, 3):
        raise ValueError(f"{who}: the input must be (N, C * kh * kw, L) or unbatched, got shape {shape}")
    if added:
        input = expand_dims(input, axis=0)
        shape = (1,) + shape
    size = ntuple(output_size, 2, "output_size", who)
    kernel = ntuple(kernel_size, 2, "kernel_size", who)
    dilation = ntuple(dilation, 2, "dilation", who)
    stride = ntuple(stride, 2, "stride", who)
    pad2 = ntuple(padding, 2, "padding", who, minimum=0)
    k = _prod(kernel)
    padded = tuple(n + 2 * p for n, p in zip(size, pad2))
    outs = tuple(_kernels.out_size(n, kk, s, d) for n, kk, s, d in zip(padded, kernel, stride, dilation))
    if shape[1] % k or any(o <= 0 for o in outs) or shape[2] != _prod(outs):
        raise ValueError(
            f"{who}: an input of shape {shape} does not hold the {outs} windows of kernel {kernel} over "
            f"output_size {size} (padding {pad2}, stride {stride}, dilation {dilation})"
        )
    c = shape[1] // k
    cols = reshape(input, (shape[0], c, k) + outs)
    y = _fold(cols, (shape[0], c) + padded, kernel, stride, dilation)
    if any(pad2):
        y = getitem(y, (slice(None), slice(None)) + tuple(slice(p, p + n) for p, n in zip(pad2, size)))
    return squeeze(y, axis=0) if added else y
