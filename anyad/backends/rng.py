"""Random bit sources, one per backend, behind :class:`anyad.random.Generator`.

Each source draws from the library's own generator where it has one, on the
generator's device, so sampling never leaves the device:

* numpy: ``numpy.random.default_rng`` (PCG64);
* cupy: ``cupy.random.default_rng`` (cuRAND XORWOW), on its CUDA device;
* torch: a ``torch.Generator`` on the target device;
* jax: a key, split on every draw;
* dask: ``dask.array.random.default_rng`` (lazy, chunked);
* any other namespace (array_api_strict, dask, ...): :class:`PortableSource`,
  a counter-based SplitMix64 generator computed with the namespace's own
  ``uint64`` arithmetic, so it runs on whatever device the namespace offers.

Every source offers the same four draws: ``random`` (uniform on [0, 1)),
``normal`` (standard normal), ``integers`` (uniform on [low, high)) and
``permutation`` (of ``range(n)``), with shape and dtype arguments in the
namespace's own terms.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

__all__ = ["make_source", "mix64", "PortableSource"]

_MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


def mix64(z: int) -> int:
    """SplitMix64's output function on a Python int: seed derivation on the host.

    Examples
    --------
    >>> mix64(0) == mix64(0) != mix64(1)
    True
    """
    z = (z + _GAMMA) & _MASK64
    z = ((z ^ (z >> 30)) * _M1) & _MASK64
    z = ((z ^ (z >> 27)) * _M2) & _MASK64
    return z ^ (z >> 31)


def _size(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


class NumpySource:
    """numpy's ``default_rng`` (PCG64)."""

    def __init__(self, xp: Any, device: Any, seed: int):
        import numpy as np

        self.xp = xp
        self._rng = np.random.default_rng(seed)

    def random(self, shape: tuple, dtype: Any) -> Any:
        import numpy as np

        if dtype in (np.float32, np.float64):
            return self._rng.random(shape, dtype=dtype)
        return self._rng.random(shape).astype(dtype)

    def normal(self, shape: tuple, dtype: Any) -> Any:
        import numpy as np

        if dtype in (np.float32, np.float64):
            return self._rng.standard_normal(shape, dtype=dtype)
        return self._rng.standard_normal(shape).astype(dtype)

    def integers(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        return self._rng.integers(low, high, size=shape, dtype=dtype)

    def permutation(self, n: int) -> Any:
        return self._rng.permutation(n)


class CupySource:
    """CuPy's ``default_rng`` on one CUDA device."""

    def __init__(self, xp: Any, device: Any, seed: int):
        import cupy

        self.xp = xp
        self._device = device
        with self._on_device():
            self._rng = cupy.random.default_rng(seed)

    def _on_device(self) -> Any:
        if self._device is None:
            return contextlib.nullcontext()
        import cupy

        dev = self._device
        return dev if isinstance(dev, cupy.cuda.Device) else cupy.cuda.Device(dev)

    def random(self, shape: tuple, dtype: Any) -> Any:
        with self._on_device():
            return self._rng.random(shape, dtype=dtype)

    def normal(self, shape: tuple, dtype: Any) -> Any:
        with self._on_device():
            return self._rng.standard_normal(shape, dtype=dtype)

    def integers(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        with self._on_device():
            return self._rng.integers(low, high, size=shape, dtype=dtype)

    def permutation(self, n: int) -> Any:
        import cupy

        with self._on_device():
            return cupy.argsort(self._rng.random((n,)))


class TorchSource:
    """A ``torch.Generator`` on the target device."""

    def __init__(self, xp: Any, device: Any, seed: int):
        import torch

        self.xp = xp
        self._device = torch.device("cpu") if device is None else torch.device(device)
        self._gen = torch.Generator(device=self._device)
        self._gen.manual_seed(seed & _MASK64)

    def random(self, shape: tuple, dtype: Any) -> Any:
        import torch

        return torch.rand(shape, generator=self._gen, dtype=dtype, device=self._device)

    def normal(self, shape: tuple, dtype: Any) -> Any:
        import torch

        return torch.randn(shape, generator=self._gen, dtype=dtype, device=self._device)

    def integers(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        import torch

        return torch.randint(low, high, shape, generator=self._gen, dtype=dtype, device=self._device)

    def permutation(self, n: int) -> Any:
        import torch

        return torch.randperm(n, generator=self._gen, device=self._device)


class JaxSource:
    """A JAX key, split on every draw (JAX arrays are values, so is its state)."""

    def __init__(self, xp: Any, device: Any, seed: int):
        import jax

        self.xp = xp
        self._device = device
        key = jax.random.key(seed & 0xFFFFFFFF)
        self._key = jax.random.fold_in(key, (seed >> 32) & 0x7FFFFFFF)

    def _next(self) -> Any:
        import jax

        self._key, sub = jax.random.split(self._key)
        return sub

    def _place(self, x: Any) -> Any:
        if self._device is None:
            return x
        import jax

        return jax.device_put(x, self._device)

    def random(self, shape: tuple, dtype: Any) -> Any:
        import jax

        return self._place(jax.random.uniform(self._next(), shape, dtype=dtype))

    def normal(self, shape: tuple, dtype: Any) -> Any:
        import jax

        return self._place(jax.random.normal(self._next(), shape, dtype=dtype))

    def integers(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        import jax

        return self._place(jax.random.randint(self._next(), shape, low, high, dtype=dtype))

    def permutation(self, n: int) -> Any:
        import jax

        return self._place(jax.random.permutation(self._next(), n))


class DaskSource:
    """``dask.array.random.default_rng``: lazy draws, in chunks dask chooses."""

    def __init__(self, xp: Any, device: Any, seed: int):
        import dask.array as da

        self.xp = xp
        self._rng = da.random.default_rng(seed)

    def random(self, shape: tuple, dtype: Any) -> Any:
        return self._rng.random(shape, dtype=dtype)

    def normal(self, shape: tuple, dtype: Any) -> Any:
        return self._rng.standard_normal(shape, dtype=dtype)

    def integers(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        return self._rng.integers(low, high, size=shape, dtype=dtype)

    def permutation(self, n: int) -> Any:
        return self._rng.permutation(n)


class PortableSource:
    """Counter-based SplitMix64 computed with the namespace's ``uint64`` arithmetic.

    Word ``i`` of the stream is SplitMix64's output function applied to
    ``key + i * 0x9E3779B97F4A7C15`` (modulo 2**64): the state on the host is
    two Python ints (key and counter), and every draw is a handful of
    elementwise operations on an ``arange`` made on the target device, so the
    sampling itself never leaves the device and needs no host round trip.
    Uniform floats take the top 53 (float64) or 24 (float32) bits; normals use
    Box-Muller; integers reduce a word modulo the range (bias below 2**-32 for
    ranges under 2**32); permutations sort random words.

    Examples
    --------
    >>> import array_api_strict as xp
    >>> src = PortableSource(xp, xp.Device("device1"), seed=0)
    >>> u = src.random((3,), xp.float64)
    >>> u.device, u.dtype
    (array_api_strict.Device('device1'), array_api_strict.float64)
    """

    def __init__(self, xp: Any, device: Any, seed: int):
        self.xp = xp
        self._device = device
        self._key = mix64(seed & _MASK64)
        self._counter = 0

    def bits(self, n: int) -> Any:
        """``n`` random 64-bit words as a ``uint64`` array on the device."""
        xp = self.xp
        start = self._counter
        self._counter += n
        kw = {} if self._device is None else {"device": self._device}
        i = xp.arange(start, start + n, dtype=xp.uint64, **kw)
        z = i * _GAMMA + self._key
        z = (z ^ (z >> 30)) * _M1
        z = (z ^ (z >> 27)) * _M2
        return z ^ (z >> 31)

    def random(self, shape: tuple, dtype: Any) -> Any:
        xp = self.xp
        z = self.bits(_size(shape))
        if dtype == xp.float64:
            u = xp.astype(z >> 11, xp.float64) * (2.0 ** -53)
        else:  # 24 bits are exact in float32 (and in any wider float)
            u = xp.astype(xp.astype(z >> 40, xp.float32) * (2.0 ** -24), dtype)
        return xp.reshape(u, shape)

    def normal(self, shape: tuple, dtype: Any) -> Any:
        xp = self.xp
        n = _size(shape)
        u1 = 1.0 - self.random((n,), dtype)  # in (0, 1]: log is finite
        u2 = self.random((n,), dtype)
        z = xp.sqrt(-2.0 * xp.log(u1)) * xp.cos((2.0 * math.pi) * u2)
        return xp.reshape(z, shape)

    def integers(self, low: int, high: int, shape: tuple, dtype: Any) -> Any:
        xp = self.xp
        span = high - low
        if span > (1 << 63):
            raise ValueError(f"anyad.random.integers: the range [{low}, {high}) is wider than 2**63")
        z = self.bits(_size(shape)) % span
        return xp.reshape(xp.astype(xp.astype(z, xp.int64) + low, dtype), shape)

    def permutation(self, n: int) -> Any:
        return self.xp.argsort(self.bits(n))


def make_source(name: str, xp: Any, device: Any, seed: int) -> Any:
    """The bit source for backend ``name`` (portable for any unknown namespace)."""
    cls = {"numpy": NumpySource, "cupy": CupySource, "torch": TorchSource, "jax": JaxSource,
           "dask": DaskSource}.get(
        name, PortableSource
    )
    return cls(xp, device, seed)
