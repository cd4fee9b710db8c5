"""Saving and loading state dicts: ``anyad.save`` and ``anyad.load``, to ``.npz`` files.

Arrays of any backend are copied to the host here and only here (CuPy's
``.get()``, torch's ``.cpu()``, DLPack, or a move to the CPU device), written
as a plain numpy ``.npz`` archive (no pickles: any numpy can read it), and
brought back onto any backend and device on loading.
"""

from __future__ import annotations

from typing import Any, Mapping

from .backends import backend_for, transfer
from .variable import Variable

__all__ = ["save", "load"]

_SEP = "/"


def _flatten(state: Mapping, prefix: str, out: dict) -> None:
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"anyad.save: keys must be strings, got {key!r}")
        name = f"{prefix}{_SEP}{key}" if prefix else key
        if isinstance(value, Mapping):
            _flatten(value, name, out)
            continue
        if isinstance(value, Variable):
            value = value.value
        if isinstance(value, (bool, int, float, complex, list, tuple)) or hasattr(value, "shape"):
            out[name] = transfer.to_host(value)
        else:
            raise TypeError(
                f"anyad.save: {name!r} is a {type(value).__name__}; only arrays, Variables, numbers "
                "and (nested) dicts of them can be saved"
            )


def save(state: Mapping, path: Any) -> None:
    """Write a state dict (names to arrays, Variables or numbers) to ``path`` as ``.npz``.

    Nested dicts are stored with ``"/"``-joined names and come back nested. The
    file is written under exactly ``path`` and replaced atomically.

    Parameters
    ----------
    state : mapping
        For example ``model.state_dict()``, or ``{"model": ..., "optim": ...}``.
    path : str or path-like
        The file to write.

    Examples
    --------
    >>> import os, tempfile
    >>> import anyad as ad
    >>> net = ad.nn.Linear(3, 2, rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> ad.save(net.state_dict(), path)
    >>> sorted(ad.load(path))
    ['bias', 'weight']
    """
    arrays: dict = {}
    _flatten(state, "", arrays)
    transfer.write_npz(path, arrays)


def load(path: Any, *, backend: Any = None, device: Any = None, dtype: Any = None) -> dict:
    """Read a state dict written by :func:`save`, onto ``backend`` and ``device``.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file.
    backend : str or module, optional
        Where the arrays go (default: the current backend of :func:`anyad.use`).
    device : optional
        The device there (a name such as ``"cuda:0"`` or ``"device1"``, or the
        library's device object).
    dtype : str or dtype, optional
        Cast floating arrays to this dtype.

    Returns
    -------
    dict
        Names to raw arrays of the backend (nested as saved). Pass it to
        :meth:`anyad.nn.Module.load_state_dict`, which also accepts arrays of
        another backend.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import anyad as ad
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npz")
    >>> ad.save({"w": np.array([1.0, 2.0])}, path)
    >>> ad.load(path, backend="array_api_strict", device="device1",
    ...         dtype="float32")["w"]
    Array([1., 2.], dtype=array_api_strict.float32,
          device=array_api_strict.Device('device1'))
    """
    be = backend_for(backend)
    out: dict = {}
    for name, host in transfer.read_npz(path).items():
        floating = host.dtype.kind == "f"
        value = transfer.convert(host, be, device, dtype if floating else None)
        node = out
        *parents, leaf = name.split(_SEP)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
