"""``interpolate``: resizing by nearest neighbour or (bi)linear interpolation, as in torch.

Both modes are separable: along each spatial axis the output is a constant
``(out, in)`` matrix times the input, so resizing is one matrix product per
axis, differentiable to any order, with no gather or scatter.

Examples
--------
>>> import anyad as ad
>>> import numpy as np
>>> x = np.array([[[1.0, 2.0]]])
>>> ad.nn.functional.interpolate(x, scale_factor=2)
array([[[1., 1., 2., 2.]]])
>>> ad.nn.functional.interpolate(x, size=3, mode="linear", align_corners=True)
array([[[1. , 1.5, 2. ]]])
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .. import _backend
from ..ops import matmul, moveaxis
from ..variable import Variable

__all__ = ["interpolate"]

_MODES = {"nearest": None, "linear": 1, "bilinear": 2, "trilinear": 3}


def _weights(n_in: int, n_out: int, mode: str, align_corners: bool, scale: float | None) -> list:
    """The ``(n_out, n_in)`` interpolation matrix of one axis, as nested lists (torch's rules)."""
    rows = [[0.0] * n_in for _ in range(n_out)]
    ratio = (1.0 / scale) if scale is not None else n_in / n_out
    for i in range(n_out):
        if mode == "nearest":
            rows[i][min(int(math.floor(i * ratio)), n_in - 1)] = 1.0
            continue
        if align_corners:
            src = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            src = max((i + 0.5) * ratio - 0.5, 0.0)
        lo = min(int(math.floor(src)), n_in - 1)
        hi = min(lo + 1, n_in - 1)
        t = src - lo
        rows[i][lo] += 1.0 - t
        rows[i][hi] += t
    return rows


def interpolate(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None) -> Any:
    """Resize the spatial axes of ``(N, C, *spatial)``, as ``torch.nn.functional.interpolate``.

    ``mode`` is "nearest" or "linear" / "bilinear" / "trilinear" (for 1, 2, 3
    spatial axes); give ``size`` or ``scale_factor``. ``align_corners`` (linear
    modes only) maps the corner pixels' centres onto each other.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> x = np.ones((1, 2, 3, 4))
    >>> ad.nn.functional.interpolate(x, size=(5, 2), mode="bilinear").shape
    (1, 2, 5, 2)
    """
    who = "anyad.nn.functional.interpolate"
    r = input.value if isinstance(input, Variable) else input
    shape = tuple(r.shape)
    nd = len(shape) - 2
    if mode not in _MODES:
        raise ValueError(f"{who}: mode must be one of {sorted(_MODES)}, got {mode!r}")
    if nd < 1 or (_MODES[mode] is not None and _MODES[mode] != nd):
        raise ValueError(f"{who}: mode {mode!r} does not fit an input of shape {shape} ({nd} spatial axes)")
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{who}: align_corners is only for the linear modes")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{who}: give exactly one of size and scale_factor")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * nd
        scales: tuple = (None,) * nd
    else:
        scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * nd
        if len(scales) != nd or not all(isinstance(s, numbers.Real) and s > 0 for s in scales):
            raise ValueError(f"{who}: scale_factor must be {nd} positive numbers, got {scale_factor!r}")
        sizes = tuple(int(math.floor(n * s)) for n, s in zip(shape[2:], scales))
    if len(sizes) != nd or not all(isinstance(s, numbers.Integral) and s > 0 for s in sizes):
        raise ValueError(f"{who}: size must be {nd} positive ints, got {size!r} for an input of shape "
                         f"{shape}")
    if any(n == 0 for n in shape[2:]):
        raise ValueError(f"{who}: the input of shape {shape} has an empty spatial axis")
    xp, dev = _backend.namespace_of(r), _backend.device_of(r)
    y = input
    for axis, (n_in, n_out, s) in enumerate(zip(shape[2:], sizes, scales), start=2):
        m = xp.asarray(_weights(n_in, n_out, mode, bool(align_corners), s), dtype=r.dtype, device=dev)
        y = moveaxis(matmul(m, moveaxis(y, axis, -2)), -2, axis)
    return y
