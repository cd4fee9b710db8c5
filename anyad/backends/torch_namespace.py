"""array-api-compat's torch namespace, with torch's own functions on the hot
path where they already conform.

array-api-compat wraps torch's binary functions to fix type promotion (torch
promotes a 0-d tensor differently from the standard, and ``matmul`` does not
promote at all). Those fixes only matter when the two dtypes differ: for two
tensors of one dtype the wrapper calls the same torch function after a few
microseconds of checks, which on a small-op graph is most of an op's cost.
So each function here calls torch directly for two tensors of the same dtype
and hands every other case to the wrapper.

(Checked against the wrapper over every pair of dtypes in
``tests/test_torch_namespace.py``; no example here, as torch is optional.)
"""

from __future__ import annotations

import functools
import types
from typing import Any

__all__ = ["torch_namespace"]

#: binary functions whose array-api-compat wrapper only fixes promotion
_BINARY = ("add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "atan2", "hypot",
           "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logaddexp",
           "copysign", "matmul")


def _same_dtype_fast(name: str, native: Any, wrapped: Any) -> Any:
    import torch

    tensor = torch.Tensor

    def f(x1, x2, /, **kwargs):
        if type(x1) is tensor and type(x2) is tensor and x1.dtype is x2.dtype:
            return native(x1, x2, **kwargs)
        return wrapped(x1, x2, **kwargs)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"torch.{native.__name__} for two tensors of one dtype; array-api-compat's wrapper otherwise."
    return f


@functools.cache
def torch_namespace() -> Any:
    """The torch namespace anyad calls (built once)."""
    import array_api_compat.torch as ct
    import torch

    ns = types.ModuleType("anyad.torch_namespace", "array-api-compat's torch namespace, hot path direct")
    for k in dir(ct):
        if not k.startswith("__"):
            setattr(ns, k, getattr(ct, k))
    ns.__array_api_version__ = ct.__array_api_version__
    ns.__array_namespace_info__ = ct.__array_namespace_info__
    natives = {"pow": torch.pow, "maximum": torch.maximum, "minimum": torch.minimum, "atan2": torch.atan2,
               "hypot": torch.hypot, "equal": torch.eq, "not_equal": torch.ne, "less": torch.lt,
               "less_equal": torch.le, "greater": torch.gt, "greater_equal": torch.ge,
               "logaddexp": torch.logaddexp, "copysign": torch.copysign}
    for name in _BINARY:
        native = natives.get(name) or getattr(torch, name)
        setattr(ns, name, _same_dtype_fast(name, native, getattr(ct, name)))
    torch_sum, compat_sum = torch.sum, ct.sum

    def sum(x, /, *, axis=None, dtype=None, keepdims=False):
        """torch.sum for a floating tensor over all axes or given ones; the wrapper otherwise
        (integer promotion, ``axis=()``, ``keepdims`` with ``axis=None``)."""
        if dtype is None and x.dtype.is_floating_point:
            if axis is None and not keepdims:
                return torch_sum(x)
            if axis is not None and axis != ():
                return torch_sum(x, axis, keepdim=keepdims)
        return compat_sum(x, axis=axis, dtype=dtype, keepdims=keepdims)

    compat_mt = ct.matrix_transpose

    def matrix_transpose(x, /):
        """``x.mT`` (a view); the wrapper's error below two dimensions."""
        return x.mT if x.ndim >= 2 else compat_mt(x)

    ns.sum, ns.matrix_transpose = sum, matrix_transpose
    return ns
