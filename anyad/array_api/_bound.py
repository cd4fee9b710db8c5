"""The namespace a Variable hands out (``Variable.__array_namespace__``).

Functions of :mod:`anyad.array_api` follow their array arguments; only what
takes no array (creation functions, dtype objects, ``finfo``, ``isdtype``,
``__array_namespace_info__``...) depends on a backend, the current one
(:func:`anyad.use`). A Variable of another backend, or on another device, hands
out a :class:`BoundNamespace`: the same functions, with those answered for the
Variable's own backend and device, so that ``xp = array_namespace(x)`` followed
by ``xp.zeros(...)`` makes arrays that mix with ``x``.
"""

from __future__ import annotations

import types
from typing import Any

from .. import _backend
from ._dtypes import DTYPE_NAMES

SUPPORTED_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12", "2025.12")

# what reads the current backend (everything else follows its arguments)
_BACKEND_DEPENDENT = frozenset((
    "asarray", "arange", "empty", "eye", "full", "linspace", "ones", "zeros", "from_dlpack",
    "finfo", "iinfo", "isdtype", "result_type", "can_cast", "__array_namespace_info__",
    "fftfreq", "rfftfreq",
))
_SUBMODULES = frozenset(("linalg", "fft", "special"))

_BOUND: dict[tuple, "BoundNamespace"] = {}  # cache: one per (namespace, device)


class BoundNamespace(types.ModuleType):
    """:mod:`anyad.array_api` answering for one backend and device.

    Attributes are looked up once in the module and cached on the instance.

    Examples
    --------
    >>> import anyad
    >>> import array_api_strict as strict
    >>> x = anyad.Variable(strict.asarray([1.0, 2.0]))
    >>> xp = x.__array_namespace__()
    >>> type(xp.zeros(2).value).__name__
    'Array'
    """

    def __init__(self, module: types.ModuleType, backend: Any):
        super().__init__(module.__name__, module.__doc__)
        self._module = module
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name not in ("__array_namespace_info__", "__array_api_version__"):
            raise AttributeError(name)
        module = self._module
        be = self._backend
        if name in _SUBMODULES and isinstance(getattr(module, name), types.ModuleType):  # not fft.fft
            value: Any = BoundNamespace(getattr(module, name), be)
        elif name in _DTYPE_SET:
            value = getattr(be.xp, name)
        elif name in _BACKEND_DEPENDENT:
            value = _in_backend(getattr(module, name), be)
        else:
            value = getattr(module, name)
        setattr(self, name, value)
        return value

    def __repr__(self) -> str:
        return f"<anyad.array_api namespace for {self._backend!r}>"


def _in_backend(fn: Any, be: Any) -> Any:
    def bound(*args: Any, **kwargs: Any) -> Any:
        with _backend.local_backend(be):  # never the process default, not even for an instant
            return fn(*args, **kwargs)

    bound.__name__ = fn.__name__
    bound.__qualname__ = fn.__qualname__
    bound.__doc__ = fn.__doc__
    bound.__wrapped__ = fn  # inspect.signature reports fn's signature
    return bound


def namespace_for(value: Any, api_version: str | None, module: types.ModuleType) -> Any:
    """The namespace for a Variable holding ``value``: ``module`` itself when the
    current backend and device are ``value``'s, else a cached :class:`BoundNamespace`."""
    if api_version is not None and api_version not in SUPPORTED_VERSIONS:
        raise ValueError(f"anyad.array_api: API version {api_version!r} is not supported; "
                         f"supported: {', '.join(SUPPORTED_VERSIONS)}")
    xp = _backend.namespace_of(value)
    cur = _backend.current_backend()
    dev = _backend.device_of(value)
    if cur.xp is xp and (cur.device is None or repr(cur.device) == repr(dev)):
        if cur.device is not None or _is_default_device(xp, dev):
            return module
    key = (id(xp), repr(dev))
    ns = _BOUND.get(key)
    if ns is None:
        ns = BoundNamespace(module, _backend.Backend(_backend.backend_name(xp), xp, dev))
        _BOUND[key] = ns
    return ns


_DEFAULT_DEVICE: dict[int, str] = {}  # cache: id(namespace) -> repr of its default device


def _is_default_device(xp: Any, dev: Any) -> bool:
    default = _DEFAULT_DEVICE.get(id(xp))
    if default is None:
        info = getattr(xp, "__array_namespace_info__", None)
        try:
            default = repr(info().default_device()) if info is not None else ""
        except Exception:  # pragma: no cover - namespaces without a usable info object
            default = ""
        _DEFAULT_DEVICE[id(xp)] = default
    return default == "" or default == repr(dev)


_DTYPE_SET = frozenset(DTYPE_NAMES)
