"""Convolution, pooling and normalisation layers, with torch's parameter shapes,
initialisation and state-dict keys (so a torch model's state loads into them).

Convolution weights and biases are drawn from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
with ``fan_in = in_channels / groups * prod(kernel_size)`` (torch's default);
parameters take the layer dtype (see :mod:`anyad.nn.layers`), and an input of
another dtype raises rather than being promoted.

Examples
--------
>>> import anyad as ad
>>> import numpy as np
>>> net = ad.nn.Sequential(
...     ad.nn.Conv2d(1, 4, 3, padding=1, rng=0, dtype="float64"),
...     ad.nn.BatchNorm2d(4, dtype="float64"), ad.nn.ReLU(), ad.nn.MaxPool2d(2),
...     ad.nn.Flatten(), ad.nn.Linear(16, 3, rng=0, dtype="float64"))
>>> net(np.ones((2, 1, 4, 4))).shape
(2, 3)
>>> sorted(net.state_dict())[:5]
['0.bias', '0.weight', '1.bias', '1.num_batches_tracked', '1.running_mean']
"""

from __future__ import annotations

import math
from typing import Any

from .. import _backend
from .._state import autocast_dtype
from ..backends import transfer
from . import init
from .conv import convolution, ntuple, pad as _pad, transposed
from .layers import _factory, generator
from .module import Module, Parameter
from .normalization import batch_stats_update, group_norm, normalize_batch, normalize_running
from .pooling import _adaptive, _avg_pool, _max_pool

__all__ = [
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
    "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "GroupNorm",
]


def _check_dtype(layer: Module, x: Any, ref: Any) -> None:
    if autocast_dtype() is not None:  # inside anyad.amp.autocast the operations cast what they need
        return
    raw, w = getattr(x, "value", x), getattr(ref, "value", ref)
    if _backend._dtype_name(getattr(raw, "dtype", w.dtype)) != _backend._dtype_name(w.dtype):
        raise TypeError(
            f"anyad.nn.{type(layer).__name__}: the input is {raw.dtype} and the parameters are {w.dtype}; "
            "convert one to the other: x.astype(...) or model.to(dtype=...)"
        )


def _uniform(shape: tuple, bound: float, rng: Any, dtype: Any) -> Parameter:
    return Parameter(init.uniform(shape, -bound, bound, rng=rng, dtype=dtype))


class _ConvNd(Module):
    nd = 0
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", output_padding: Any = 0, *, rng: Any = None, dtype: Any = None, backend: Any = None,
                 device: Any = None):
        super().__init__()
        who = f"anyad.nn.{type(self).__name__}"
        nd = self.nd
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{who}: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"{who}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
                             f"got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size", who)
        self.stride = ntuple(stride, nd, "stride", who)
        self.dilation = ntuple(dilation, nd, "dilation", who)
        self.padding = padding if isinstance(padding, str) else ntuple(padding, nd, "padding", who, minimum=0)
        self.output_padding = ntuple(output_padding, nd, "output_padding", who, minimum=0)
        self.padding_mode = padding_mode
        rng = generator(rng, backend, device)
        k = math.prod(self.kernel_size)
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
            fan_in = out_channels // groups * k
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
            fan_in = in_channels // groups * k
        bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
        self.weight = _uniform(shape, bound, rng, dtype)
        self.bias = _uniform((out_channels,), bound, rng, dtype) if bias else None

    def forward(self, x: Any) -> Any:
        _check_dtype(self, x, self.weight)
        who = f"anyad.nn.{type(self).__name__}"
        if self.transposed:
            return transposed(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                              self.groups, self.dilation, self.nd, who)
        padding = self.padding
        if self.padding_mode != "zeros":
            from .conv import conv_pads

            pads = conv_pads(padding, self.nd, self.kernel_size, self.stride, self.dilation, who)
            x = _pad(x, tuple(v for lo_hi in reversed(pads) for v in lo_hi), mode=self.padding_mode)
            padding = 0
        return convolution(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups,
                           self.nd, who)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self.nd:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self.nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class Conv1d(_ConvNd):
    """1-D convolution layer, as ``torch.nn.Conv1d``: weight ``(out, in / groups, k)``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.Conv1d(2, 3, 3, padding="same", rng=0)
    Conv1d(2, 3, kernel_size=(3,), stride=(1,), padding='same')
    """

    nd = 1


class Conv2d(_ConvNd):
    """2-D convolution layer, as ``torch.nn.Conv2d``: weight ``(out, in / groups, kh, kw)``;
    ``padding`` ints, "same" or "valid"; ``padding_mode`` zeros, reflect, replicate or circular.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> conv = ad.nn.Conv2d(3, 8, 3, stride=2, rng=0)
    >>> conv(np.ones((4, 3, 9, 9), dtype=np.float32)).shape
    (4, 8, 4, 4)
    """

    nd = 2


class Conv3d(_ConvNd):
    """3-D convolution layer, as ``torch.nn.Conv3d``."""

    nd = 3


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, *, rng: Any = None, dtype: Any = None, backend: Any = None,
                 device: Any = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         output_padding=output_padding, rng=rng, dtype=dtype, backend=backend, device=device)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution layer, as ``torch.nn.ConvTranspose1d``: weight
    ``(in, out / groups, k)``."""

    nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution layer, as ``torch.nn.ConvTranspose2d``: weight
    ``(in, out / groups, kh, kw)``; the adjoint of the Conv2d with the same parameters.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> up = ad.nn.ConvTranspose2d(4, 2, 2, stride=2, rng=0)
    >>> up(np.ones((1, 4, 3, 3), dtype=np.float32)).shape
    (1, 2, 6, 6)
    """

    nd = 2


class _Pool(Module):
    def __init__(self, **kw: Any):
        super().__init__()
        self.__dict__.update(kw)
        self._keys = tuple(kw)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)!r}" for k in self._keys)


class MaxPool1d(_Pool):
    """Max pooling over 1 spatial axis, as ``torch.nn.MaxPool1d``."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                         ceil_mode=ceil_mode)
        self.return_indices = return_indices

    def forward(self, x: Any) -> Any:
        return _max_pool(x, 1, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                         self.return_indices, "anyad.nn.MaxPool1d")


class MaxPool2d(MaxPool1d):
    """Max pooling over 2 spatial axes, as ``torch.nn.MaxPool2d``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """

    def forward(self, x: Any) -> Any:
        return _max_pool(x, 2, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                         self.return_indices, "anyad.nn.MaxPool2d")


class AvgPool1d(_Pool):
    """Average pooling over 1 spatial axis, as ``torch.nn.AvgPool1d``."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)

    def forward(self, x: Any) -> Any:
        return _avg_pool(x, 1, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad, None, "anyad.nn.AvgPool1d")


class AvgPool2d(_Pool):
    """Average pooling over 2 spatial axes, as ``torch.nn.AvgPool2d``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.AvgPool2d(2)(np.ones((1, 1, 4, 4))).shape
    (1, 1, 2, 2)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: Any = None):
        super().__init__(kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad, divisor_override=divisor_override)

    def forward(self, x: Any) -> Any:
        return _avg_pool(x, 2, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad, self.divisor_override, "anyad.nn.AvgPool2d")


class AdaptiveAvgPool1d(_Pool):
    """Adaptive average pooling to ``output_size``, as ``torch.nn.AdaptiveAvgPool1d``."""

    def __init__(self, output_size: Any):
        super().__init__(output_size=output_size)

    def forward(self, x: Any) -> Any:
        return _adaptive(x, 1, self.output_size, "anyad.nn.AdaptiveAvgPool1d")


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """Adaptive average pooling to ``output_size``, as ``torch.nn.AdaptiveAvgPool2d``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.AdaptiveAvgPool2d((1, 1))(np.ones((2, 3, 5, 7))).shape
    (2, 3, 1, 1)
    """

    def forward(self, x: Any) -> Any:
        return _adaptive(x, 2, self.output_size, "anyad.nn.AdaptiveAvgPool2d")


class _BatchNorm(Module):
    ranks: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Any = 0.1, affine: bool = True,
                 track_running_stats: bool = True, *, dtype: Any = None, backend: Any = None,
                 device: Any = None):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        xp, kw = _factory(dtype, backend, device)
        c = (self.num_features,)
        self.weight = Parameter(xp.ones(c, **kw)) if affine else None
        self.bias = Parameter(xp.zeros(c, **kw)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", xp.zeros(c, **kw))
            self.register_buffer("running_var", xp.ones(c, **kw))
            ikw = dict(kw, dtype=xp.int64)
            self.register_buffer("num_batches_tracked", xp.zeros((), **ikw))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def _check(self, x: Any, who: str) -> None:
        shape = tuple(getattr(x, "value", x).shape)
        if len(shape) not in self.ranks:
            ranks = " or ".join(map(str, self.ranks))
            raise ValueError(f"{who}: expected an input with {ranks} axes, got shape {shape}")
        if shape[1] != self.num_features:
            raise ValueError(f"{who}: the input has {shape[1]} channels (shape {shape}), the layer "
                             f"num_features={self.num_features}")
        ref = self.weight if self.weight is not None else self.running_mean
        if ref is not None:
            _check_dtype(self, x, ref)

    def forward(self, x: Any) -> Any:
        who = f"anyad.nn.{type(self).__name__}"
        self._check(x, who)
        if not self.training and self.track_running_stats:
            return normalize_running(x, self.running_mean, self.running_var, self.weight, self.bias, self.eps,
                                     who)
        y, mu, v = normalize_batch(x, self.weight, self.bias, self.eps, who, self.training)
        if self.training and self.track_running_stats:
            batch_stats_update(self.running_mean, mu, 0.0, who)  # raises inside anyad.jit, before any change
            self._set("num_batches_tracked", self.num_batches_tracked + 1)
            factor = self.momentum
            if factor is None:  # a cumulative average: 1 / batches seen, as an array (no host read)
                xp = _backend.namespace_of(self.running_mean)
                factor = 1.0 / xp.astype(self.num_batches_tracked, self.running_mean.dtype)
            self._set("running_mean", batch_stats_update(self.running_mean, mu, factor, who))
            self._set("running_var", batch_stats_update(self.running_var, v, factor, who))
        return y

    def _set(self, name: str, new: Any) -> None:
        if not transfer.assign(getattr(self, name), new):
            setattr(self, name, new)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs, as ``torch.nn.BatchNorm1d``.

    Training mode normalises by the batch and updates ``running_mean`` and
    ``running_var`` (buffers, saved in :meth:`state_dict` with
    ``num_batches_tracked``) by ``momentum`` (``None``: a cumulative average);
    evaluation mode normalises by them.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> bn = ad.nn.BatchNorm1d(2, dtype="float64")
    >>> bn(np.array([[1.0, 2.0], [3.0, 6.0]])).shape
    (2, 2)
    >>> bn.running_mean, int(bn.num_batches_tracked)
    (array([0.2, 0.4]), 1)
    """

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` inputs, as ``torch.nn.BatchNorm2d``."""

    ranks = (4,)


class GroupNorm(Module):
    """Group normalisation, as ``torch.nn.GroupNorm``: per-channel ``weight`` (ones)
    and ``bias`` (zeros) when ``affine``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.GroupNorm(2, 4, dtype="float64")(np.ones((3, 4, 5))).shape
    (3, 4, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, *,
                 dtype: Any = None, backend: Any = None, device: Any = None):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"anyad.nn.GroupNorm: num_groups={num_groups} must divide "
                             f"num_channels={num_channels}")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, affine
        xp, kw = _factory(dtype, backend, device)
        self.weight = Parameter(xp.ones((num_channels,), **kw)) if affine else None
        self.bias = Parameter(xp.zeros((num_channels,), **kw)) if affine else None

    def forward(self, x: Any) -> Any:
        shape = tuple(getattr(x, "value", x).shape)
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ValueError(f"anyad.nn.GroupNorm: the input of shape {shape} does not have "
                             f"{self.num_channels} channels on axis 1")
        if self.weight is not None:
            _check_dtype(self, x, self.weight)
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
