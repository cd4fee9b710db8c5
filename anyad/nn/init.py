"""Weight initialisers: Xavier/Glorot and Kaiming/He, uniform and normal.

Each returns a new raw array of ``shape`` drawn by an
:class:`anyad.random.Generator` (so on its backend and device, in ``dtype``:
by default the parameter dtype of :func:`get_default_dtype`, float32),
with the scale rules of Glorot & Bengio (2010) and He et al. (2015) and the
fan conventions of torch.nn.init: for a weight of shape
``(out_features, in_features, *kernel)``, ``fan_in = in_features * prod(kernel)``
and ``fan_out = out_features * prod(kernel)``.

Examples
--------
>>> import anyad as ad
>>> rng = ad.random.default_rng(0)
>>> w = ad.nn.init.kaiming_uniform((256, 128), nonlinearity="relu", rng=rng)
>>> bound = (6 / 128) ** 0.5
>>> bool((abs(w) <= bound).all())
True
"""

from __future__ import annotations

import math
from typing import Any

from .. import _backend
from .. import random as _random

__all__ = [
    "get_default_dtype", "set_default_dtype", "parameter_dtype", "calculate_gain", "fans", "uniform", "normal", "xavier_uniform", "xavier_normal", "kaiming_uniform",
    "kaiming_normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
]


_FLOATS = ("float16", "bfloat16", "float32", "float64")
_DEFAULT = ["float32"]  # the process-wide parameter dtype (one slot, as torch's default dtype)


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype that layers and :mod:`anyad.nn.init` give new parameters.

    The default is float32 whatever the backend's own default float (float64
    on NumPy and CuPy), as in torch. The setting is process-wide, as
    ``torch.set_default_dtype``; arrays made from Python data
    (``anyad.Variable([1.0])``) keep the backend's default.

    Parameters
    ----------
    dtype : str or dtype
        ``"float32"``, ``"float64"``, ``"float16"`` or ``"bfloat16"``, or such a
        dtype of any library (``numpy.float64``, ``torch.float64``, ...).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.set_default_dtype("float64")
    >>> ad.nn.Linear(2, 3, rng=0).weight.dtype
    dtype('float64')
    >>> ad.set_default_dtype("float32")
    >>> ad.get_default_dtype()
    'float32'
    """
    name = dtype_name(dtype)
    if name not in _FLOATS:
        raise ValueError(f"anyad.set_default_dtype: a floating dtype is needed, one of {list(_FLOATS)}; "
                         f"got {dtype!r}")
    _DEFAULT[0] = name


def get_default_dtype() -> str:
    """The name of the dtype new parameters get (``"float32"`` unless :func:`set_default_dtype` changed it).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.get_default_dtype()
    'float32'
    """
    return _DEFAULT[0]


def dtype_name(dtype: Any) -> str:
    """The standard's name of a dtype of any library (``"float32"`` for ``torch.float32``)."""
    if isinstance(dtype, str):
        return dtype
    name = getattr(dtype, "__name__", None) if isinstance(dtype, type) else getattr(dtype, "name", None)
    return str(name if isinstance(name, str) else dtype).rpartition(".")[2]


def parameter_dtype(xp: Any, dtype: Any = None) -> Any:
    """``dtype`` on the namespace ``xp``, or the default parameter dtype there when it is None.

    Examples
    --------
    >>> import array_api_strict as xp
    >>> parameter_dtype(xp), parameter_dtype(xp, "float64")
    (array_api_strict.float32, array_api_strict.float64)
    """
    return _backend.resolve_dtype(xp, _DEFAULT[0] if dtype is None else dtype)


def _dtype(rng: Any, dtype: Any) -> Any:
    return dtype if dtype is not None else parameter_dtype(rng.backend.xp)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (torch.nn.init's table).

    Examples
    --------
    >>> calculate_gain("relu") == 2 ** 0.5, calculate_gain("tanh")
    (True, 1.6666666666666667)
    """
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(f"anyad.nn.init.calculate_gain: unknown nonlinearity {nonlinearity!r}")


def fans(shape: tuple) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` (at least two axes).

    Examples
    --------
    >>> fans((10, 4)), fans((8, 3, 5, 5))
    ((4, 10), (75, 200))
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"anyad.nn.init: fan in and fan out need at least 2 axes, got shape {shape}")
    receptive = 1
    for d in shape[2:]:
        receptive *= d
    return shape[1] * receptive, shape[0] * receptive


def _rng(rng: Any) -> Any:
    return _random.default_rng(rng)


def uniform(shape: tuple, low: float = 0.0, high: float = 1.0, *, rng: Any = None, dtype: Any = None) -> Any:
    """Uniform on ``[low, high)``."""
    rng = _rng(rng)
    return rng.uniform(low, high, size=tuple(shape), dtype=_dtype(rng, dtype))


def normal(shape: tuple, mean: float = 0.0, std: float = 1.0, *, rng: Any = None, dtype: Any = None) -> Any:
    """Normal with mean ``mean`` and standard deviation ``std``."""
    rng = _rng(rng)
    return rng.normal(mean, std, size=tuple(shape), dtype=_dtype(rng, dtype))


def xavier_uniform(shape: tuple, gain: float = 1.0, *, rng: Any = None, dtype: Any = None) -> Any:
    """Glorot uniform: ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -a, a, rng=rng, dtype=dtype)


def xavier_normal(shape: tuple, gain: float = 1.0, *, rng: Any = None, dtype: Any = None) -> Any:
    """Glorot normal: ``N(0, std^2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    return normal(shape, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng=rng, dtype=dtype)


def _kaiming_std(shape: tuple, a: float, mode: str, nonlinearity: str) -> float:
    fan_in, fan_out = fans(shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"anyad.nn.init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform(shape: tuple, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                    rng: Any = None, dtype: Any = None) -> Any:
    """He uniform: ``U(-b, b)`` with ``b = gain * sqrt(3 / fan)`` (``a``: the leaky-ReLU slope)."""
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return uniform(shape, -bound, bound, rng=rng, dtype=dtype)


def kaiming_normal(shape: tuple, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                   rng: Any = None, dtype: Any = None) -> Any:
    """He normal: ``N(0, std^2)`` with ``std = gain / sqrt(fan)``."""
    return normal(shape, 0.0, _kaiming_std(shape, a, mode, nonlinearity), rng=rng, dtype=dtype)


glorot_uniform = xavier_uniform
glorot_normal = xavier_normal
he_uniform = kaiming_uniform
he_normal = kaiming_normal
