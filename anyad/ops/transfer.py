"""Moving data between array libraries: :func:`to_backend` (a primitive).

The move is recorded like any operation: the gradient of the result, an
array of the target library, is moved back to the source library and device,
so ``loss.backward()`` reaches a NumPy leaf through torch computations.
Arrays cross through DLPack where both libraries allow it (no host copy when
they share a device, and no copy at all on the CPU), else through the host
(:func:`anyad.backends.transfer.convert`).
"""

from __future__ import annotations

from typing import Any

from .. import _backend
from ..backends import backend_for, transfer
from ..backends.dtypes import NAMES
from ..graph import OpType, Primitive
from ..variable import Variable
from ._core import apply

__all__ = ["to_backend"]

_LIBRARIES = ("numpy", "cupy", "torch", "jax", "dask", "array_api_strict")


def _to_backend_fwd(xp: Any, x: Any, *, backend: Any, source: Any) -> Any:
    return transfer.convert(x, backend)


def _to_backend_back(g: Any, ans: Any, x: Any, *, backend: Any, source: Any) -> Any:
    return apply(_TO_BACKEND, (g,), {"backend": source, "source": backend})


_TO_BACKEND = Primitive("to_backend", OpType.TO_BACKEND, _to_backend_fwd, (_to_backend_back,))
_TO_BACKEND.jvp = lambda ts, ans, x, **kw: apply(_TO_BACKEND, (ts[0],), kw)


def to_backend(x: Any, backend: Any, device: Any = None, *, dtype: Any = None) -> Any:
    """``x`` as an array of another library (and device), differentiably.

    Parameters
    ----------
    x : Variable, array or Python data
        What to move. A Variable gives a Variable whose gradient flows back
        to ``x`` in ``x``'s own library and device; an array gives an array.
    backend : str, module, Backend or None
        ``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``, ``"dask"``,
        ``"array_api_strict"``, or an Array API namespace; ``None``: the
        current backend (:func:`anyad.use`).
    device : optional
        The target device, by name (``"cuda:1"``, ``"device1"``) or the
        library's own device object; ``None``: the library's default device,
        or ``x``'s device when ``x`` is already of that library.
    dtype : optional
        Also cast to this dtype (a standard name such as ``"float32"``).

    Returns
    -------
    Variable or array
        ``x`` itself when it is already there. Otherwise the data crosses
        through DLPack when both libraries support it (no host copy when they
        share a device; on the CPU the result may share memory with ``x``, as
        a view does), else through a host copy.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> x = ad.Variable(np.array([1.0, 2.0]), requires_grad=True)
    >>> y = ad.to_backend(x, "array_api_strict")
    >>> type(y.value).__module__.split(".")[0]
    'array_api_strict'
    >>> ad.sum(y * y).backward()
    >>> x.grad
    array([2., 4.])
    """
    _check_spec(backend)
    target = backend_for(backend, device)
    if not isinstance(x, Variable) and _is_python_data(x):
        out = target.asarray(x)
    else:
        raw = x.value if isinstance(x, Variable) else x
        xp = _backend.namespace_of(raw)
        here = _backend.device_of(raw)
        if (xp is target.xp or _backend.backend_name(xp) == target.name) and \
                transfer.same_device(here, target.device):
            out = x  # already there
        else:
            source = _backend.Backend(_backend.backend_name(xp), xp, here)
            out = apply(_TO_BACKEND, (x,), {"backend": target, "source": source})
    if dtype is not None:
        from .manipulation import astype

        out = astype(out, dtype)
    return out


def _check_spec(backend: Any) -> None:
    """A clear error for a device or a dtype where a library is expected (torch's ``.to`` takes both)."""
    if isinstance(backend, str):
        if backend in _LIBRARIES:
            return
        if _looks_like_device(backend):
            raise ValueError(f"anyad.to_backend: {backend!r} is a device, not an array library; move within "
                             f"the library with x.to_device({backend!r}), or name both: "
                             f"to_backend(x, 'torch', device={backend!r})")
        if backend in NAMES:
            raise TypeError(f"anyad.to_backend: {backend!r} is a dtype, not an array library; cast with "
                            f"x.astype({backend!r}), or move and cast: "
                            f"to_backend(x, 'torch', dtype={backend!r})")
    elif backend is not None and not isinstance(backend, _backend.Backend) \
            and not hasattr(backend, "asarray"):
        raise TypeError(f"anyad.to_backend: backend must be a library name ('numpy', 'torch', ...), an Array "
                        f"API namespace or an anyad.Backend, got {type(backend).__module__}."
                        f"{type(backend).__qualname__} {backend!r}; for a dtype use x.astype(...) or dtype=")


def _is_python_data(x: Any) -> bool:
    return type(x) in (bool, int, float, complex) or isinstance(x, (list, tuple))


def _looks_like_device(name: str) -> bool:
    head = name.split(":")[0].lower()
    return head in ("cpu", "cuda", "gpu", "mps", "xpu", "tpu", "meta") or head.startswith("device")
