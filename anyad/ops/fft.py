"""Discrete Fourier transforms (the standard's ``fft`` extension), differentiable.

Three primitives: the complex transform ``fftn``/``ifftn`` (which ``fft`` and
``ifft`` use along one axis), ``rfft`` and ``irfft``. The adjoint of a DFT is
the inverse DFT with the dual normalization (``"backward"`` <-> ``"forward"``,
``"ortho"`` for itself), so every rule is another transform and derivatives of
any order follow. ``rfftn``, ``irfftn``, ``hfft``, ``ihfft``, ``fftshift`` and
``ifftshift`` are composed from these. When nothing is recorded the backend's
own function runs.

Cotangents of complex arrays follow :mod:`anyad.ops.elementwise_extra`:
``dL/dRe + i dL/dIm``; the gradient of a real input is real. The complex
transforms (``fft``, ``ifft``, ``fftn``, ``ifftn``, ``irfft``, ``hfft``) take a real
input too (the standard asks for a complex one): it is cast, differentiably.
"""

from __future__ import annotations

import operator
from typing import Any

from .. import _backend
from ..graph import OpType, Primitive
from ._core import apply
from ._helpers import is_complex, like, namespace, raw, records, zeros_of
from .elementwise import multiply
from .elementwise_extra import as_complex, conj, real
from .indexing import getitem
from .manipulation import concat, roll

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _fft_module(xp: Any) -> Any:
    try:
        return xp.fft
    except AttributeError:
        raise TypeError(f"anyad: the {_backend.backend_name(xp)} namespace has no fft extension") from None


def _check_norm(name: str, norm: str) -> None:
    if norm not in _DUAL:
        raise ValueError(f"anyad.fft.{name}: norm must be 'backward', 'ortho' or 'forward', got {norm!r}")


def _fit(v: Any, axis: int, length: int) -> Any:
    """Crop or zero-pad ``v`` along ``axis`` to ``length`` (the adjoint of the converse)."""
    have = v.shape[axis]
    if have == length:
        return v
    if have > length:
        return getitem(v, (slice(None),) * axis + (slice(0, length), Ellipsis))
    pad_shape = tuple(length - have if k == axis else d for k, d in enumerate(v.shape))
    return concat([v, zeros_of(v, pad_shape)], axis=axis)


def _c2c_vjp(g: Any, ans: Any, x: Any, *, inverse: bool, s: tuple, axes: tuple, norm: str) -> Any:
    back = apply(_C2C, (g,), {"inverse": not inverse, "s": s, "axes": axes, "norm": _DUAL[norm]})
    for a in axes:
        back = _fit(back, a, x.shape[a])
    return back if is_complex(x) else real(back)


_C2C = Primitive(
    "fftn", OpType.FFT,
    lambda xp, x, inverse, s, axes, norm: (_fft_module(xp).ifftn if inverse else _fft_module(xp).fftn)(
        x, s=s, axes=axes, norm=norm),
    (_c2c_vjp,),
)
_C2C.jvp = lambda ts, ans, x, **kw: apply(_C2C, (ts[0],), kw)  # linear: the transform of the tangent


def _axes_and_sizes(name: str, shape: tuple, s: Any, axes: Any, last_default: Any = None) -> tuple:
    ndim = len(shape)
    if axes is None:
        axes = tuple(range(ndim)) if s is None else tuple(range(ndim - len(s), ndim))
    axes = tuple(operator.index(a) for a in axes)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"anyad.fft.{name}: axis {a} is out of bounds for {ndim} dimensions")
    axes = tuple(a % ndim for a in axes)
    if s is None:
        s = [shape[a] for a in axes]
        if last_default is not None and axes:
            s[-1] = last_default(shape[axes[-1]])
    s = tuple(operator.index(k) for k in s)
    if len(s) != len(axes):
        raise ValueError(f"anyad.fft.{name}: s and axes must have the same length, got {s} and {axes}")
    return s, axes


def _default_axes(r: Any, s: Any, axes: Any) -> Any:
    """The standard's default axes for ``s`` (the last ``len(s)``), spelled out:
    numpy deprecates ``s`` without ``axes``."""
    if axes is None and s is not None:
        n = len(r.shape)
        return tuple(range(n - len(s), n))
    return axes


def _c2c(name: str, x: Any, s: tuple, axes: tuple, norm: str, inverse: bool) -> Any:
    return apply(_C2C, (x,), {"inverse": inverse, "s": s, "axes": axes, "norm": norm})


def fft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """One-dimensional discrete Fourier transform along ``axis``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.fft(ad.Variable([1.0, 0.0, 0.0, 0.0]))
    Variable([1.+0.j 1.+0.j 1.+0.j 1.+0.j])
    """
    _check_norm("fft", norm)
    x = as_complex(x)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).fft(r, n=n, axis=axis, norm=norm))
    s, axes = _axes_and_sizes("fft", tuple(raw(x).shape), None if n is None else (n,), (axis,))
    return _c2c("fft", x, s, axes, norm, False)


def ifft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """One-dimensional inverse discrete Fourier transform along ``axis``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.ifft(ad.Variable([4.0, 0.0, 0.0, 0.0]))
    Variable([1.+0.j 1.+0.j 1.+0.j 1.+0.j])
    """
    _check_norm("ifft", norm)
    x = as_complex(x)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).ifft(r, n=n, axis=axis, norm=norm))
    s, axes = _axes_and_sizes("ifft", tuple(raw(x).shape), None if n is None else (n,), (axis,))
    return _c2c("ifft", x, s, axes, norm, True)


def fftn(x: Any, /, *, s: Any = None, axes: Any = None, norm: str = "backward") -> Any:
    """N-dimensional discrete Fourier transform over ``axes``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.fftn(ad.Variable([[1.0, 0.0], [0.0, 0.0]]))
    Variable([[1.+0.j 1.+0.j]
              [1.+0.j 1.+0.j]])
    """
    _check_norm("fftn", norm)
    x = as_complex(x)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).fftn(r, s=s, axes=_default_axes(r, s, axes), norm=norm))
    s, axes = _axes_and_sizes("fftn", tuple(raw(x).shape), s, axes)
    return _c2c("fftn", x, s, axes, norm, False)


def ifftn(x: Any, /, *, s: Any = None, axes: Any = None, norm: str = "backward") -> Any:
    """N-dimensional inverse discrete Fourier transform over ``axes``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.ifftn(ad.Variable([[4.0, 0.0], [0.0, 0.0]]))
    Variable([[1.+0.j 1.+0.j]
              [1.+0.j 1.+0.j]])
    """
    _check_norm("ifftn", norm)
    x = as_complex(x)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).ifftn(r, s=s, axes=_default_axes(r, s, axes), norm=norm))
    s, axes = _axes_and_sizes("ifftn", tuple(raw(x).shape), s, axes)
    return _c2c("ifftn", x, s, axes, norm, True)


def _rfft_vjp(g: Any, ans: Any, x: Any, *, n: int, axis: int, norm: str) -> Any:
    full = _fit(g, axis, n)  # the adjoint of keeping the first n // 2 + 1 frequencies
    back = apply(_C2C, (full,), {"inverse": True, "s": (n,), "axes": (axis,), "norm": _DUAL[norm]})
    return _fit(real(back), axis, x.shape[axis])


_RFFT = Primitive("rfft", OpType.RFFT,
                  lambda xp, x, n, axis, norm: _fft_module(xp).rfft(x, n=n, axis=axis, norm=norm),
                  (_rfft_vjp,))
_RFFT.jvp = lambda ts, ans, x, **kw: apply(_RFFT, (ts[0],), kw)


def _irfft_vjp(g: Any, ans: Any, y: Any, *, n: int, axis: int, norm: str) -> Any:
    # x = irfft(y): the frequencies 0 < k < n/2 appear twice in the Hermitian spectrum
    gy = apply(_RFFT, (g,), {"n": n, "axis": axis, "norm": _DUAL[norm]})
    r = raw(g)
    xp = _backend.namespace_of(r)
    k = xp.arange(n // 2 + 1, device=_backend.device_of(r))
    once = xp.astype(xp.logical_or(k == 0, 2 * k == n), r.dtype)  # 1 at 0 and n / 2, else 2
    w = xp.reshape(2.0 - once, tuple(-1 if j == axis else 1 for j in range(len(r.shape))))
    gy = _fit(multiply(gy, w), axis, y.shape[axis])
    return gy if is_complex(y) else real(gy)


_IRFFT = Primitive("irfft", OpType.IRFFT,
                   lambda xp, y, n, axis, norm: _fft_module(xp).irfft(y, n=n, axis=axis, norm=norm),
                   (_irfft_vjp,))
_IRFFT.jvp = lambda ts, ans, y, **kw: apply(_IRFFT, (ts[0],), kw)


def rfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Discrete Fourier transform of a real ``x``: the ``n // 2 + 1`` non-negative frequencies.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    >>> ad.fft.rfft(x)
    Variable([10.+0.j -2.+2.j -2.+0.j])
    >>> ad.sum(ad.abs(ad.fft.rfft(x)) ** 2).backward()
    >>> x.grad
    array([12., 20., 20., 28.])
    """
    _check_norm("rfft", norm)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).rfft(r, n=n, axis=axis, norm=norm))
    (n,), (axis,) = _axes_and_sizes("rfft", tuple(raw(x).shape), None if n is None else (n,), (axis,))
    return apply(_RFFT, (x,), {"n": n, "axis": axis, "norm": norm})


def irfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Inverse of :func:`rfft`: a real signal of length ``n`` (default ``2 * (m - 1)``).

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.fft.irfft(ad.Variable(np.array([10.0, -2.0 + 2.0j, -2.0])))
    Variable([1. 2. 3. 4.])
    """
    _check_norm("irfft", norm)
    x = as_complex(x)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).irfft(r, n=n, axis=axis, norm=norm))
    (n,), (axis,) = _axes_and_sizes("irfft", tuple(raw(x).shape), None if n is None else (n,), (axis,),
                                    lambda m: 2 * (m - 1))
    return apply(_IRFFT, (x,), {"n": n, "axis": axis, "norm": norm})


def rfftn(x: Any, /, *, s: Any = None, axes: Any = None, norm: str = "backward") -> Any:
    """N-dimensional :func:`rfft` (real along the last of ``axes``).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.rfftn(ad.Variable([[1.0, 0.0], [0.0, 0.0]])).shape
    (2, 2)
    """
    _check_norm("rfftn", norm)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).rfftn(r, s=s, axes=_default_axes(r, s, axes), norm=norm))
    s, axes = _axes_and_sizes("rfftn", tuple(raw(x).shape), s, axes)
    y = rfft(x, n=s[-1], axis=axes[-1], norm=norm)
    return fftn(y, s=s[:-1], axes=axes[:-1], norm=norm) if len(axes) > 1 else y


def irfftn(x: Any, /, *, s: Any = None, axes: Any = None, norm: str = "backward") -> Any:
    """Inverse of :func:`rfftn`.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.irfftn(ad.fft.rfftn(ad.Variable([[1.0, 2.0], [3.0, 4.0]])))
    Variable([[1. 2.]
              [3. 4.]])
    """
    _check_norm("irfftn", norm)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).irfftn(r, s=s, axes=_default_axes(r, s, axes), norm=norm))
    s, axes = _axes_and_sizes("irfftn", tuple(raw(x).shape), s, axes, lambda m: 2 * (m - 1))
    y = ifftn(x, s=s[:-1], axes=axes[:-1], norm=norm) if len(axes) > 1 else x
    return irfft(y, n=s[-1], axis=axes[-1], norm=norm)


def hfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Transform of a signal with Hermitian symmetry (given by its first half): a real spectrum.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.hfft(ad.Variable([1.0, 0.0, 0.0]))
    Variable([1. 1. 1. 1.])
    """
    _check_norm("hfft", norm)
    x = as_complex(x)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).hfft(r, n=n, axis=axis, norm=norm))
    return irfft(conj(x), n=n, axis=axis, norm=_DUAL[norm])


def ihfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Inverse of :func:`hfft`, for a real ``x``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.ihfft(ad.Variable([1.0, 1.0, 1.0, 1.0]))
    Variable([1.-0.j 0.-0.j 0.-0.j])
    """
    _check_norm("ihfft", norm)
    if not records(x):
        r = raw(x)
        return like(x, _fft_module(namespace(r)).ihfft(r, n=n, axis=axis, norm=norm))
    return conj(rfft(x, n=n, axis=axis, norm=_DUAL[norm]))


def _shift(name: str, x: Any, axes: Any, sign: int) -> Any:
    if not records(x):
        r = raw(x)
        return like(x, getattr(_fft_module(namespace(r)), name)(r, axes=axes))
    shape = tuple(raw(x).shape)
    ndim = len(shape)
    if axes is None:
        axes = tuple(range(ndim))
    elif isinstance(axes, int):
        axes = (axes,)
    axes = tuple(operator.index(a) % ndim for a in axes)
    return roll(x, tuple(sign * (shape[a] // 2) for a in axes), axis=axes)


def fftshift(x: Any, /, *, axes: Any = None) -> Any:
    """Move the zero frequency to the centre (a roll by half of each axis).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.fftshift(ad.Variable([0.0, 1.0, 2.0, -2.0, -1.0]))
    Variable([-2. -1.  0.  1.  2.])
    """
    return _shift("fftshift", x, axes, 1)


def ifftshift(x: Any, /, *, axes: Any = None) -> Any:
    """Inverse of :func:`fftshift`.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.ifftshift(ad.Variable([-2.0, -1.0, 0.0, 1.0, 2.0]))
    Variable([ 0.  1.  2. -2. -1.])
    """
    return _shift("ifftshift", x, axes, -1)


def _freq(name: str, n: int, d: float, dtype: Any, device: Any) -> Any:
    be = _backend.current_backend()
    kw = {"d": d}
    if dtype is not None:
        kw["dtype"] = _backend.resolve_dtype(be.xp, dtype)
    dev = be.device if device is None else device
    if dev is not None:
        kw["device"] = dev
    return getattr(_fft_module(be.xp), name)(n, **kw)


def fftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Any:
    """Sample frequencies of :func:`fft`, from the current backend (a constant).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.fftfreq(4)
    array([ 0.  ,  0.25, -0.5 , -0.25])
    """
    return _freq("fftfreq", n, d, dtype, device)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Any:
    """Sample frequencies of :func:`rfft`, from the current backend (a constant).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.fft.rfftfreq(4)
    array([0.  , 0.25, 0.5 ])
    """
    return _freq("rfftfreq", n, d, dtype, device)


for _prim in (_C2C, _RFFT, _IRFFT):  # rules written as adjoints already (Primitive.holomorphic)
    _prim.holomorphic = False
del _prim
