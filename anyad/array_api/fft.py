"""The ``fft`` extension of :mod:`anyad.array_api`, differentiable (see :mod:`anyad.ops.fft`).

>>> import anyad.array_api as xp
>>> xp.fft.rfft(xp.asarray([1.0, 0.0, 0.0, 0.0]))
Variable([1.+0.j 1.+0.j 1.+0.j])
"""

from __future__ import annotations

from typing import Any

from ..ops.fft import (
    fft, fftn, fftshift, hfft, ifft, ifftn, ifftshift, ihfft, irfft, irfftn, rfft, rfftn,
)
from ..ops import fft as _ops_fft
from ..variable import Variable, wrap

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]


def fftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Variable:
    """Sample frequencies of :func:`fft` (a constant).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.fft.fftfreq(4)
    Variable([ 0.    0.25 -0.5  -0.25])
    """
    return wrap(_ops_fft.fftfreq(n, d=d, dtype=dtype, device=device))


def rfftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Variable:
    """Sample frequencies of :func:`rfft` (a constant).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.fft.rfftfreq(4)
    Variable([0.   0.25 0.5 ])
    """
    return wrap(_ops_fft.rfftfreq(n, d=d, dtype=dtype, device=device))
