"""Mini-batches over arrays that are already on their device: a minimal DataLoader.

:class:`DataLoader` walks the first axis of one array, or of a tuple, list or
dict of arrays of the same length (inputs and labels), in batches. With
``shuffle`` each epoch draws a permutation with a seeded
:class:`anyad.random.Generator` on the arrays' own backend and device and
gathers each batch there with ``take``; without it, batches are slices.
Nothing goes through the host, so the loop runs unchanged on NumPy, CuPy,
torch, JAX or array_api_strict's GPU stand-in.

Examples
--------
>>> import numpy as np
>>> import anyad as ad
>>> x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
>>> loader = ad.data.DataLoader((x, y), batch_size=2, shuffle=True, generator=0)
>>> len(loader)
3
>>> sorted(int(v) for _, yb in loader for v in yb)
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from . import _backend
from . import random as _random
from .backends.transfer import same_device
from .ops import take
from .variable import Variable

__all__ = ["DataLoader"]


def _raw(a: Any) -> Any:
    return a.value if isinstance(a, Variable) else a


class DataLoader:
    """Batches of ``data`` along its first axis, optionally shuffled every epoch.

    Parameters
    ----------
    data : array, Variable, or tuple, list or dict of them
        Arrays with the same first-axis length, on one backend and device.
        Each batch has the same structure (a tuple of batches for a tuple).
    batch_size : int
        Rows per batch (default 1); the last batch may be smaller.
    shuffle : bool
        Draw a new order each epoch (each ``iter(loader)``).
    drop_last : bool
        Leave out the last batch when it is smaller than ``batch_size``.
    generator : Generator or int, optional
        What shuffles: an :class:`anyad.random.Generator` on the data's
        backend and device, or a seed for one made there. Default: the
        default generator of that place (:func:`anyad.manual_seed`).

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> loader = ad.data.DataLoader(np.arange(7), batch_size=3, drop_last=True)
    >>> [b.tolist() for b in loader]
    [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(self, data: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 generator: Any = None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"anyad.data.DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.data, self.batch_size = data, batch_size
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        arrays = self._arrays()
        if not arrays:
            raise ValueError("anyad.data.DataLoader: no arrays given")
        first = _raw(arrays[0])
        for a in arrays:
            raw = _raw(a)
            if not hasattr(raw, "shape") or len(raw.shape) == 0:
                raise ValueError(f"anyad.data.DataLoader: every item must be an array with a first axis, "
                                 f"got {type(a).__name__} {getattr(raw, 'shape', '')}")
            if raw.shape[0] != first.shape[0]:
                raise ValueError(f"anyad.data.DataLoader: the arrays have different lengths: "
                                 f"{[tuple(_raw(b).shape) for b in arrays]}")
            if _backend.namespace_of(raw) is not _backend.namespace_of(first) or not same_device(
                    _backend.device_of(raw), _backend.device_of(first)):
                raise ValueError(f"anyad.data.DataLoader: the arrays live in different places: "
                                 f"{_backend.describe(first)} and {_backend.describe(raw)}")
        n = first.shape[0]
        if n is None or (isinstance(n, float) and math.isnan(n)):
            raise ValueError("anyad.data.DataLoader: the arrays' length is unknown (dask: compute_chunk_sizes())")
        self.n = int(n)
        xp, dev = _backend.namespace_of(first), _backend.device_of(first)
        self.generator = self._generator(generator, xp, dev) if self.shuffle else None

    @staticmethod
    def _generator(generator: Any, xp: Any, dev: Any) -> Any:
        if generator is None:
            return _random.default_generator(xp, dev)
        if isinstance(generator, _random.Generator):
            if generator.backend.name != _backend.backend_name(xp) or not same_device(generator.device, dev):
                raise ValueError(
                    f"anyad.data.DataLoader: the generator draws on {generator.backend.name} ({generator.device}) "
                    f"but the data is on {_backend.backend_name(xp)} ({dev}); make it there: "
                    f"anyad.random.default_rng(seed, backend=..., device=...)"
                )
            return generator
        return _random.Generator(generator, backend=xp, device=dev)

    def _arrays(self) -> list:
        d = self.data
        if isinstance(d, dict):
            return list(d.values())
        if isinstance(d, (tuple, list)):
            return list(d)
        return [d]

    def _batch(self, a: Any, start: int, stop: int, order: Any) -> Any:
        if order is None:
            return a[start:stop, ...]
        idx = order[start:stop]
        if isinstance(a, Variable):
            return take(a, idx, axis=0)
        return _backend.namespace_of(a).take(a, idx, axis=0)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[Any]:
        order = self.generator.permutation(self.n) if self.shuffle else None
        stop_at = self.n - self.n % self.batch_size if self.drop_last else self.n
        d = self.data
        for start in range(0, stop_at, self.batch_size):
            stop = min(start + self.batch_size, self.n)
            if isinstance(d, dict):
                yield {k: self._batch(v, start, stop, order) for k, v in d.items()}
            elif isinstance(d, (tuple, list)):
                yield type(d)(self._batch(v, start, stop, order) for v in d)
            else:
                yield self._batch(d, start, stop, order)

    def __repr__(self) -> str:
        return (f"anyad.data.DataLoader(n={self.n}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
