"""Moving arrays between libraries and devices, writing into them, and ``.npz`` files.

* :func:`resolve_device` turns a device name (``"cuda:1"``, ``"device1"``) into
  the library's own device object;
* :func:`convert` brings an array into a backend, device and dtype: unchanged
  when it is already there, through DLPack between libraries (no host copy when
  both sides share the device), and through the host only as a last resort
  (its public, differentiable face is :func:`anyad.to_backend`);
* :func:`assign` writes new values into an array in place where the library
  allows it (numpy, cupy, torch, array_api_strict) and says so, so callers can
  rebind instead where it does not (jax);
* :func:`to_host`, :func:`write_npz`, :func:`read_npz`: the one place arrays are
  copied to the host on purpose (saving and loading).
"""

from __future__ import annotations

import os
from typing import Any

from .. import _backend

__all__ = ["resolve_device", "convert", "assign", "to_host", "write_npz", "read_npz", "same_device"]


def resolve_device(backend: str, device: Any) -> Any:
    """The library's own device object for ``device`` (a name or an object).

    Examples
    --------
    >>> resolve_device("array_api_strict", "device1")
    array_api_strict.Device('device1')
    >>> resolve_device("numpy", None) is None
    True
    """
    if device is None or not isinstance(device, (str, int)):
        return device
    if backend == "array_api_strict":
        import array_api_strict

        name = "CPU_DEVICE" if str(device).lower() in ("cpu", "cpu_device") else str(device)
        return array_api_strict.Device(name)
    if backend == "torch":
        import torch

        return torch.device(device)
    if backend == "cupy":
        import cupy

        text = str(device).lower()
        for prefix in ("cuda:", "gpu:"):
            if text.startswith(prefix):
                text = text[len(prefix):]
        return cupy.cuda.Device(0 if text in ("cuda", "gpu") else int(text))
    if backend == "jax":
        import jax

        kind, _, index = str(device).partition(":")
        return jax.devices(kind)[int(index or 0)]
    if backend == "numpy":
        if str(device).lower() != "cpu":
            raise ValueError(f"anyad: numpy arrays live on the CPU only, not on {device!r}")
        return "cpu"
    return device


def same_device(a: Any, b: Any) -> bool:
    """Whether two device objects name the same device (``None`` matches anything)."""
    return a is None or b is None or a == b or repr(a) == repr(b) or str(a) == str(b)


def convert(value: Any, backend: Any, device: Any = None, dtype: Any = None) -> Any:
    """``value`` as an array of ``backend`` (a name, module or :class:`~anyad.Backend`) on ``device``.

    Stays as it is when it is already there (no copy); otherwise crosses
    libraries through DLPack (zero-copy when both share the device), falling
    back to a copy through the host.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad
    >>> convert(np.array([1.0, 2.0]), "array_api_strict", "device1", "float32")
    Array([1., 2.], dtype=array_api_strict.float32,
          device=array_api_strict.Device('device1'))
    """
    from . import backend_for

    backend = backend_for(backend, device)
    xp, device = backend.xp, backend.device
    raw = getattr(value, "value", value)  # a Variable
    if type(raw) in (bool, int, float, complex) or isinstance(raw, (list, tuple)):
        raw = backend.asarray(raw)
    src = _backend.namespace_of(raw)
    if src is not xp and _backend.backend_name(src) != backend.name:
        raw = _cross(raw, backend)
    if device is not None and not same_device(_backend.device_of(raw), device):
        raw = _backend.to_device(raw, device)
    if dtype is not None:
        dtype = _backend.resolve_dtype(xp, dtype)
        if raw.dtype != dtype:
            raw = xp.astype(raw, dtype)
    return raw


def _cross(raw: Any, backend: Any) -> Any:
    """An array of another library into ``backend``: DLPack, else the host."""
    xp = backend.xp
    try:
        return xp.from_dlpack(raw)
    except Exception:  # different devices, or a library without DLPack export
        pass
    host = to_host(raw)
    if backend.name == "torch":
        import torch

        return torch.from_numpy(host.copy())
    return xp.asarray(host)


_INPLACE: dict[type, bool] = {}


def assign(target: Any, new: Any) -> bool:
    """Write ``new`` into ``target`` in place; False where the library forbids it.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros(2)
    >>> assign(a, np.ones(2)), a
    (True, array([1., 1.]))
    """
    t = type(target)
    ok = _INPLACE.get(t)
    if ok is False:
        return False
    try:
        target[...] = new
    except (TypeError, NotImplementedError, AttributeError):
        if ok is None and _backend.backend_name(_backend.namespace_of(target)) in ("jax", "dask"):
            _INPLACE[t] = False
            return False
        raise
    _INPLACE[t] = True
    return True


def to_host(value: Any) -> Any:
    """A host numpy copy of ``value``: the backend's own transfer (CuPy ``.get()``,
    torch ``.cpu()``), DLPack, or a move to the CPU device first."""
    return _backend.to_numpy(getattr(value, "value", value))


def write_npz(path: Any, arrays: dict) -> None:
    """Write host arrays to ``path`` (exactly that name) as an uncompressed ``.npz``,
    atomically: a partial file never replaces a good one."""
    import numpy as np

    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def read_npz(path: Any) -> dict:
    """The arrays of an ``.npz`` file, by name, as host numpy arrays (no pickles)."""
    import numpy as np

    with np.load(os.fspath(path), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
