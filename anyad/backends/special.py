"""Special functions per backend: the one place their forward kernels are chosen.

For each function (``erf``, ``erfc``, ..., ``polygamma``, ``xlogy``, ...) and
namespace, once:

* numpy: ``scipy.special`` (when SciPy is installed);
* torch: ``torch.special`` (``log_expit``: ``torch.nn.functional.logsigmoid``;
  ``ndtr`` from its ``erfc``; ``logit``, ``polygamma(1, x)``: portable, more
  accurate; ``betainc``, ``stdtr``: absent, portable);
* CuPy: ``cupyx.scipy.special`` (``sinc``: ``cupy.sinc``);
* JAX: ``jax.scipy.special`` (``log_expit``/``softplus``: ``jax.nn``, ``sinc``: ``jnp.sinc``);
* dask: chunk by chunk (``map_blocks``), with the chunks' own kernel;
* every other namespace, and whatever the library above lacks: the portable
  implementation of :mod:`anyad.backends.special_portable` /
  :mod:`anyad.backends.special_gamma`, written with the namespace alone, so it
  runs on the array's own device (no host round-trip).

:data:`KERNEL_SOURCES` names the choice (``kernel_source``), for tests and docs.

>>> import numpy as np
>>> kernel_source(np, "erfcinv"), kernel_source(np, "log_ndtr")
('scipy.special', 'scipy.special')
>>> import array_api_strict as xp
>>> kernel_source(xp, "erfcinv")
'portable'
"""

from __future__ import annotations

from typing import Any, Callable

from .. import _backend
from . import special_gamma as _gamma, special_incomplete as _incomplete, special_portable as _portable
from .special_erf import floating, portable_erf

__all__ = ["UNARY", "BINARY", "INCOMPLETE", "kernel", "kernel_source", "erf_kernel", "portable_erf",
           "floating"]

UNARY = ("erf", "erfc", "erfinv", "erfcinv", "expit", "logit", "log_expit", "softplus", "ndtr", "log_ndtr",
         "ndtri", "gammaln", "digamma", "i0", "i0e", "i1", "i1e", "sinc", "entr")
BINARY = ("xlogy", "xlog1py", "rel_entr", "kl_div")
INCOMPLETE = ("betaln", "betainc", "betaincc", "stdtr", "gammainc", "gammaincc")

_PORTABLE: dict[str, Callable] = {"erf": portable_erf, "polygamma": _gamma.polygamma}
for _name in UNARY + BINARY + INCOMPLETE:
    _PORTABLE.setdefault(_name, getattr(_portable, _name, None) or getattr(_gamma, _name, None)
                         or getattr(_incomplete, _name, None))
del _name

_KERNELS: dict[tuple, tuple] = {}  # (id(namespace), name) -> (kernel, source)


def kernel(xp: Any, name: str) -> Callable:
    """The elementwise ``name`` of namespace ``xp`` (``polygamma`` takes ``(n, x)``).

    >>> import numpy as np
    >>> kernel(np, "expit")(np.array([0.0]))
    array([0.5])
    """
    return _kernel(xp, name)[0]


def kernel_source(xp: Any, name: str) -> str:
    """Where ``name``'s kernel for ``xp`` comes from (``"torch.special"``, ``"portable"``, ...)."""
    return _kernel(xp, name)[1]


def erf_kernel(xp: Any) -> Callable:
    """The elementwise ``erf`` of namespace ``xp``, chosen once per namespace."""
    return _kernel(xp, "erf")[0]


def _kernel(xp: Any, name: str) -> tuple:
    key = (id(xp), name)
    found = _KERNELS.get(key)
    if found is None:
        found = _KERNELS[key] = _choose(xp, name)
    return found


def _choose(xp: Any, name: str) -> tuple:
    library = _backend.backend_name(xp)
    native = _NATIVE.get(library)
    if native is not None:
        found = native(name)
        if found is not None:
            return found
    if library == "dask":  # chunk by chunk, with the chunks' own kernel (numpy or cupy)
        return _dask(name), "dask map_blocks"
    portable = _PORTABLE[name]
    if name == "polygamma":
        return (lambda n, x: portable(xp, n, x)), "portable"
    return (lambda *args: portable(xp, *args)), "portable"


def _numpy(name: str) -> tuple | None:
    try:
        import scipy.special
        from scipy.special import _ufuncs
    except ImportError:
        return None
    attr = {"digamma": "psi"}.get(name, name)
    fn = getattr(_ufuncs, attr, None) or getattr(scipy.special, attr, None)
    return None if fn is None else (fn, "scipy.special")


_SQRT_HALF = 0.5 ** 0.5
# logit: torch's is log(p / (1 - p)), 2e-9 off near 1/2; the portable one is exact there
_TORCH_NAMES = frozenset(("erf", "erfc", "erfinv", "expit", "ndtr", "log_ndtr", "ndtri", "gammaln",
                          "digamma", "polygamma", "i0", "i0e", "i1", "i1e", "sinc", "entr", "xlogy",
                          "xlog1py", "gammainc", "gammaincc"))
# torch's gammainc/gammaincc are 3e-10 off (relative) at a = 150 in float64, 2e-5 at a = 1e-3 in float32,
# but the portable ones (fixed-step series and fraction) are ~100x slower there: torch's are kept


def _torch(name: str) -> tuple | None:
    import torch

    if name == "log_expit":
        return torch.nn.functional.logsigmoid, "torch.nn.functional"
    if name == "ndtr":  # torch.special.ndtr loses the left tail (2% off at -8, 0 at -30); its erfc does not
        return (lambda x: 0.5 * torch.special.erfc(x * -_SQRT_HALF)), "torch.special (erfc)"
    if name == "polygamma":  # torch's trigamma (n = 1) is 5e-10 off (relative); the other orders are exact
        import array_api_compat.torch as xp

        return (lambda n, x: _gamma.polygamma(xp, n, x) if n == 1 else torch.special.polygamma(n, x)), \
            "torch.special (n = 1: portable)"
    if name in _TORCH_NAMES:  # softplus: torch's switches to x above 20 (not exact); the rest are absent
        return getattr(torch.special, name), "torch.special"
    return None


def _cupy(name: str) -> tuple | None:
    import cupy
    import cupyx.scipy.special as cs

    if name == "sinc":
        return cupy.sinc, "cupy"
    fn = getattr(cs, name, None)
    return None if fn is None else (fn, "cupyx.scipy.special")


def _jax(name: str) -> tuple | None:
    import jax
    import jax.numpy as jnp
    import jax.scipy.special as js

    if name in ("log_expit", "softplus"):
        return {"log_expit": jax.nn.log_sigmoid, "softplus": jax.nn.softplus}[name], "jax.nn"
    if name == "sinc":
        return jnp.sinc, "jax.numpy"
    fn = getattr(js, name, None)
    return None if fn is None else (fn, "jax.scipy.special")


_NATIVE: dict[str, Callable] = {"numpy": _numpy, "torch": _torch, "cupy": _cupy, "jax": _jax}


def _dask(name: str) -> Callable:
    import dask.array as da

    def on_chunks(*args: Any) -> Any:
        arrays = [a for a in args if hasattr(a, "chunks")]
        dtype = arrays[0].dtype if len(arrays) == 1 else _backend.namespace_of(arrays[0]).result_type(*arrays)
        return da.map_blocks(_chunk(name), *args, dtype=dtype)

    if name == "polygamma":
        return lambda n, x: x.map_blocks(lambda block: kernel(_backend.namespace_of(block), name)(n, block),
                                         dtype=x.dtype)
    return on_chunks


def _chunk(name: str) -> Callable:
    def run(*blocks: Any) -> Any:
        ref = next(b for b in blocks if hasattr(b, "shape"))
        return kernel(_backend.namespace_of(ref), name)(*blocks)

    return run
