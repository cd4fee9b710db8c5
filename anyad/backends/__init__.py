"""Per-backend code that the Array API standard leaves out.

The standard has no random numbers, no ``erf``, no file format and no
cross-library transfer; each of those is filled here once per backend, with a
portable path written against the namespace for any other library:

* :mod:`anyad.backends.rng`: random bit sources (numpy ``default_rng``, CuPy's
  generator, torch ``Generator``, JAX keys, dask's, and a counter-based SplitMix64
  generator built from the namespace's own integer operations);
* :mod:`anyad.backends.special`: the ``erf`` kernel per backend;
* :mod:`anyad.backends.transfer`: moving arrays between libraries and devices,
  in-place assignment where the library allows it, and ``.npz`` files;
* :mod:`anyad.backends.dtypes`: one ``dtype=`` vocabulary on every backend (the
  standard's names, each library's own dtype objects, NumPy's).

Like :mod:`anyad._backend`, this package may import numpy and the other array
libraries (lazily, only when one of their arrays is in hand).
"""

from typing import Any


def default_dtype(xp: Any, kind: str = "real floating", device: Any = None) -> Any:
    """The namespace's default dtype of ``kind`` (``"real floating"``, ``"integral"``),
    from its inspection API; float64/int64 where it has none (numpy 2's own).

    Examples
    --------
    >>> import array_api_strict as xp
    >>> default_dtype(xp)
    array_api_strict.float64
    """
    try:
        return xp.__array_namespace_info__().default_dtypes(device=device)[kind]
    except (AttributeError, TypeError, KeyError):
        return getattr(xp, "float64" if kind == "real floating" else "int64")


def backend_for(spec: Any, device: Any = None) -> Any:
    """A :class:`~anyad.Backend` for a name, a Backend, or any namespace object
    (anyad's numpy namespace and namespaces that are not modules included);
    ``None`` means the current backend.

    Examples
    --------
    >>> backend_for("array_api_strict", "device1")
    Backend('array_api_strict', device=array_api_strict.Device('device1'))
    """
    from .. import _backend
    from .transfer import resolve_device

    if spec is None:
        be = _backend.current_backend()
    elif isinstance(spec, (str, _backend.Backend)):
        be = _backend.get_backend(spec)
    else:
        name = _backend.backend_name(spec)
        # numpy and torch: anyad's own namespaces for them, whichever module names the library
        be = _backend.get_backend(name) if name in ("numpy", "torch") else _backend.Backend(name, spec)
    if device is None:
        device = be.device
    return _backend.Backend(be.name, be.xp, resolve_device(be.name, device))
