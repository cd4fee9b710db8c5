"""Seeded random numbers on every backend: the gap the Array API standard leaves.

A :class:`Generator` is bound to one backend and device (the current backend
of :func:`anyad.use` unless told otherwise) and draws there, with that
library's own generator (numpy ``default_rng``, CuPy's, a torch ``Generator``
on the device, JAX keys) or, for any other namespace such as
array_api_strict, a portable counter-based generator computed on the device
(:class:`anyad.backends.rng.PortableSource`). Draws return raw arrays of the
backend; floating draws use the requested dtype (default: the backend's
default floating dtype), so float32 stays float32.

Examples
--------
>>> import anyad
>>> rng = anyad.random.default_rng(0)
>>> rng.normal(size=(2, 3)).shape
(2, 3)
>>> rng.uniform(-1.0, 1.0, size=4, dtype="float32").dtype
dtype('float32')
>>> import array_api_strict as xp
>>> g = anyad.random.default_rng(0, backend="array_api_strict",
...                              device="device1")
>>> g.permutation(5).device
array_api_strict.Device('device1')
"""

from __future__ import annotations

import contextvars
import functools
import secrets
import zlib
from typing import Any

from . import _backend, _state
from .backends import backend_for, default_dtype
from .backends.rng import make_source, mix64

__all__ = ["Generator", "default_rng", "manual_seed", "default_generator"]


def _shape(size: Any) -> tuple:
    if size is None:
        return ()
    if isinstance(size, int):
        return (size,)
    return tuple(int(d) for d in size)


#: who answers draws instead of the generator (anyad.optim.compile_step while it traces), or None
DRAW_HANDLER: contextvars.ContextVar = contextvars.ContextVar("anyad_draw_handler", default=None)


def _draw(method: Any) -> Any:
    """A draw method: answered by :data:`DRAW_HANDLER` when one is set; refused while
    :func:`anyad.jit` traces (the drawn numbers would be frozen into the program)."""
    @functools.wraps(method)
    def draw(self: "Generator", *args: Any, **kwargs: Any) -> Any:
        handler = DRAW_HANDLER.get()
        if handler is not None:
            return handler(self, method, args, kwargs)
        tracer = _state.tracer()
        if tracer is not None and hasattr(tracer, "inputs"):  # a jit trace (not a GradientCache build)
            from ._tracing import TracingError

            raise TracingError(
                f"anyad.random: {method.__name__}() while {getattr(tracer, 'transform', 'anyad.jit')} traces "
                f"{tracer.name}: the numbers would "
                "be frozen into the program and repeat at every call. Draw outside and pass them in as "
                "an argument, use anyad.optim.compile_step (which draws them anew at every step), or "
                "call the function without jit (dropout: model.eval() or p=0 under jit)")
        return method(self, *args, **kwargs)

    return draw


class Generator:
    """Random numbers drawn on one backend and device, from one seed.

    Parameters
    ----------
    seed : int, optional
        The seed (a non-negative int); ``None`` draws one from the operating
        system. The same seed on the same backend gives the same numbers.
    backend : str or module, optional
        ``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``, ``"array_api_strict"``, ...
        (default: the current backend, :func:`anyad.use`).
    device : optional
        The device to draw on, as an object of the library or a name
        (``"cuda:0"``, ``"device1"``); default: the backend's.

    Attributes
    ----------
    backend : anyad.Backend
        Where the numbers are drawn (name, namespace, device).
    seed : int
        The seed this generator started from.

    Examples
    --------
    >>> import anyad
    >>> a = anyad.random.Generator(7).integers(0, 10, size=5)
    >>> b = anyad.random.Generator(7).integers(0, 10, size=5)
    >>> bool((a == b).all())
    True
    """

    def __init__(self, seed: int | None = None, *, backend: Any = None, device: Any = None):
        self.backend = be = backend_for(backend, device)
        device = be.device
        if seed is None:
            seed = secrets.randbits(63)
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"anyad.random.Generator: the seed must be non-negative, got {seed}")
        self.seed = seed
        self._spawned = 0
        self._source = make_source(be.name, be.xp, device, seed)

    @property
    def device(self) -> Any:
        """The device this generator draws on (``None``: the backend's default)."""
        return self.backend.device

    def __repr__(self) -> str:
        dev = "" if self.device is None else f", device={self.device!r}"
        return f"anyad.random.Generator(seed={self.seed}, backend={self.backend.name!r}{dev})"

    # -- dtypes --------------------------------------------------------------
    def _float(self, dtype: Any) -> Any:
        xp = self.backend.xp
        if dtype is None:
            return default_dtype(self.backend.xp, "real floating", self.device)
        dtype = _backend.resolve_dtype(xp, dtype)
        if not xp.isdtype(dtype, "real floating"):
            raise TypeError(f"anyad.random: a real floating dtype is needed here, got {dtype}")
        return dtype

    def _int(self, dtype: Any) -> Any:
        xp = self.backend.xp
        dtype = default_dtype(xp, "integral", self.device) if dtype is None else _backend.resolve_dtype(xp, dtype)
        if not xp.isdtype(dtype, "integral"):
            raise TypeError(f"anyad.random.integers: an integer dtype is needed, got {dtype}")
        return dtype

    # -- draws -----------------------------------------------------------------
    @_draw
    def random(self, size: Any = None, dtype: Any = None) -> Any:
        """Uniform floats on ``[0, 1)``.

        Examples
        --------
        >>> import anyad
        >>> u = anyad.random.default_rng(0).random(1000)
        >>> bool((u >= 0).all() and (u < 1).all())
        True
        """
        return self._source.random(_shape(size), self._float(dtype))

    @_draw
    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None, dtype: Any = None) -> Any:
        """Uniform floats on ``[low, high)`` (``low``/``high`` may be arrays that broadcast).

        Examples
        --------
        >>> import anyad
        >>> x = anyad.random.default_rng(0).uniform(2.0, 3.0, size=(2, 2))
        >>> bool(((x >= 2) & (x < 3)).all())
        True
        """
        u = self._source.random(_shape(size), self._float(dtype))
        return u * (high - low) + low

    @_draw
    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None, dtype: Any = None) -> Any:
        """Normal (Gaussian) floats with mean ``loc`` and standard deviation ``scale``.

        Examples
        --------
        >>> import anyad
        >>> z = anyad.random.default_rng(0).normal(size=100_000)
        >>> abs(float(z.mean())) < 0.01, round(float(z.std()), 1)
        (True, 1.0)
        """
        z = self._source.normal(_shape(size), self._float(dtype))
        if isinstance(scale, (int, float)) and scale == 1 and isinstance(loc, (int, float)) and loc == 0:
            return z
        return z * scale + loc

    @_draw
    def standard_normal(self, size: Any = None, dtype: Any = None) -> Any:
        """Standard normal floats (``normal(0, 1)``)."""
        return self._source.normal(_shape(size), self._float(dtype))

    @_draw
    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = None) -> Any:
        """Uniform integers on ``[low, high)`` (on ``[0, low)`` when ``high`` is None).

        Examples
        --------
        >>> import anyad
        >>> k = anyad.random.default_rng(0).integers(3, 6, size=1000)
        >>> sorted(set(k.tolist()))
        [3, 4, 5]
        """
        if high is None:
            low, high = 0, low
        low, high = int(low), int(high)
        if high <= low:
            raise ValueError(f"anyad.random.integers: empty range [{low}, {high})")
        return self._source.integers(low, high, _shape(size), self._int(dtype))

    @_draw
    def permutation(self, x: Any) -> Any:
        """A random permutation of ``range(x)`` (int ``x``), or of an array's first axis.

        Examples
        --------
        >>> import anyad
        >>> sorted(anyad.random.default_rng(0).permutation(5).tolist())
        [0, 1, 2, 3, 4]
        """
        if isinstance(x, int):
            return self._source.permutation(x)
        raw = getattr(x, "value", x)
        xp = _backend.namespace_of(raw)
        idx = self._source.permutation(raw.shape[0])
        if raw is x:
            return xp.take(raw, idx, axis=0)
        from .ops import take

        return take(x, idx, axis=0)

    @_draw
    def bernoulli(self, p: Any = 0.5, size: Any = None, dtype: Any = None) -> Any:
        """Draws that are 1 (True) with probability ``p``, else 0 (False).

        ``p`` is a float or an array that broadcasts to ``size``. The result is
        boolean by default, or of ``dtype`` (e.g. the dtype of a dropout mask).

        Examples
        --------
        >>> import anyad
        >>> rng = anyad.random.default_rng(0)
        >>> m = rng.bernoulli(0.25, size=100_000, dtype="float32")
        >>> m.dtype, round(float(m.mean()), 2)
        (dtype('float32'), 0.25)
        """
        xp = self.backend.xp
        pdtype = getattr(p, "dtype", None)
        if pdtype is not None and xp.isdtype(pdtype, "real floating"):
            fdt = pdtype
        else:
            fdt = self._float(dtype if dtype is not None and _is_float(xp, dtype) else None)
        mask = self._source.random(_shape(size), fdt) < p
        if dtype is None:
            return mask
        return xp.astype(mask, _backend.resolve_dtype(xp, dtype))

    # -- new generators --------------------------------------------------------
    def _child_seed(self) -> int:
        self._spawned += 1
        return mix64(mix64(self.seed) ^ self._spawned) >> 1

    def spawn(self, n: int = 1) -> list:
        """``n`` independent generators on the same backend and device, with seeds
        derived from this one (deterministically: same seed, same children).

        Examples
        --------
        >>> import anyad
        >>> a, b = anyad.random.default_rng(0).spawn(2)
        >>> a.seed != b.seed
        True
        """
        return [Generator(self._child_seed(), backend=self.backend.xp, device=self.device) for _ in range(n)]

    def to(self, backend: Any = None, device: Any = None) -> "Generator":
        """A generator on another backend or device, seeded from this one.

        Examples
        --------
        >>> import anyad
        >>> anyad.random.default_rng(0).to("array_api_strict", "device1").device
        array_api_strict.Device('device1')
        """
        if backend is None:
            backend = self.backend.xp
            if device is None:
                device = self.device
        return Generator(self._child_seed(), backend=backend, device=device)


def _is_float(xp: Any, dtype: Any) -> bool:
    return xp.isdtype(_backend.resolve_dtype(xp, dtype), "real floating")


def default_rng(seed: Any = None, *, backend: Any = None, device: Any = None) -> Generator:
    """A :class:`Generator` (``seed`` may already be one: it is returned as it is).

    Examples
    --------
    >>> import anyad
    >>> rng = anyad.random.default_rng(42, backend="numpy")
    >>> rng.integers(0, 2**31, size=2).dtype
    dtype('int64')
    """
    if isinstance(seed, Generator):
        return seed
    return Generator(seed, backend=backend, device=device)


#: the global seed and the default generators drawn from it, one per backend and device
#: (process-wide, as torch's default generator; :func:`manual_seed` resets them)
_DEFAULTS: dict = {"seed": None, "generators": {}}


def manual_seed(seed: int) -> None:
    """Seed the default generators: the ones layers draw their initial weights from when
    given no ``rng``, and that :class:`anyad.data.DataLoader` shuffles with.

    There is one default generator per backend and device, each seeded from
    ``seed`` and the place's name, so a seeded program gives the same numbers
    again on the same backend. Process-wide, as ``torch.manual_seed``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.manual_seed(0)
    >>> a = ad.nn.Linear(2, 2).weight.value
    >>> ad.manual_seed(0)
    >>> bool((ad.nn.Linear(2, 2).weight.value == a).all())
    True
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"anyad.manual_seed: the seed must be non-negative, got {seed}")
    _DEFAULTS["seed"] = seed
    _DEFAULTS["generators"] = {}


def default_generator(backend: Any = None, device: Any = None) -> Generator:
    """The default :class:`Generator` for ``backend``/``device`` (the current backend by default),
    seeded by :func:`manual_seed` (from the operating system until it is called).

    Examples
    --------
    >>> import anyad as ad
    >>> g = ad.random.default_generator("array_api_strict", "device1")
    >>> g is ad.random.default_generator("array_api_strict", "device1"), g.device
    (True, array_api_strict.Device('device1'))
    """
    be = backend_for(backend, device)
    key = (be.name, str(be.device))
    gens = _DEFAULTS["generators"]
    g = gens.get(key)
    if g is None:
        if _DEFAULTS["seed"] is None:
            _DEFAULTS["seed"] = secrets.randbits(63)
        seed = mix64(_DEFAULTS["seed"] ^ zlib.crc32(f"{key[0]}:{key[1]}".encode())) >> 1
        g = gens[key] = Generator(seed, backend=be.xp, device=be.device)
    return g
