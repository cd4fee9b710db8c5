"""anyad's differentiable Array API namespace: a conforming implementation of
the Python Array API standard whose arrays are :class:`~anyad.Variable` s.

``Variable.__array_namespace__()`` returns it, so code written against the
standard (``xp = array_namespace(x)``) is differentiable when handed Variables,
on every backend: the functions run the kernels of the arrays' own namespace
(numpy, cupy, torch, array_api_strict, ...) and record what they do.

* Differentiable functions are anyad's own (:mod:`anyad.ops`): elementwise,
  reductions, manipulation, indexing, ``sort``, ``cumulative_prod``,
  ``take_along_axis``, ``linalg`` and ``fft``.
* Functions with integer or boolean results (comparisons, ``argmax``,
  ``argsort``, ``unique_*``, ``nonzero``, bitwise functions...) compute on the
  raw arrays and return constant Variables.
* Creation functions, dtype objects, ``finfo``/``iinfo``/``isdtype`` and
  ``__array_namespace_info__`` answer for the current backend
  (:func:`anyad.use`); a Variable of another backend or device hands out the
  same namespace bound to its own (see :mod:`anyad.array_api._bound`).

Examples
--------
>>> import numpy as np
>>> import anyad
>>> from array_api_compat import array_namespace
>>> def logsumexp(x):
...     xp = array_namespace(x)
...     m = xp.max(x)
...     return m + xp.log(xp.sum(xp.exp(x - m)))
>>> x = anyad.Variable(np.array([1.0, 2.0, 3.0]), requires_grad=True)
>>> array_namespace(x).__name__
'anyad.array_api'
>>> logsumexp(x).backward()
>>> x.grad
array([0.09003057, 0.24472847, 0.66524096])
"""

from __future__ import annotations

import math as _math
from typing import Any as _Any

from .. import ops as _ops
from ..ops import (  # noqa: F401  (the differentiable functions, reused as they are)
    abs, acos, acosh, add, argsort, asin, asinh, astype, atan, atan2, atanh, bitwise_and, bitwise_invert,
    bitwise_left_shift, bitwise_or, bitwise_right_shift, bitwise_xor, broadcast_to, ceil, concat, conj,
    copysign, cos, cosh, diff, divide, equal, exp, expm1, flip, floor,
    floor_divide, greater, greater_equal, hypot, imag, isfinite, isinf, isnan, less, less_equal, log,
    log10, log1p, log2, logaddexp, logical_and, logical_not, logical_or, logical_xor, matmul,
    matrix_transpose, max, maximum, mean, min, minimum, moveaxis, multiply, negative, nextafter,
    not_equal, permute_dims, positive, pow, real, reciprocal, remainder, reshape, roll,
    round, searchsorted, sign, signbit, sin, sinh, sort, sqrt, square, squeeze, stack, std, subtract,
    take, take_along_axis, tan, tanh, tensordot, tile, tril, triu, trunc, unstack, var, where,
)
from . import _mutation, fft, linalg, special  # noqa: F401  (_mutation: Variable's array-object methods)
from ._bound import SUPPORTED_VERSIONS as _SUPPORTED, BoundNamespace, namespace_for as _namespace_for
from ._creation import (  # noqa: F401
    arange, asarray, empty, empty_like, eye, from_dlpack, full, full_like, linspace, meshgrid, ones,
    ones_like, zeros, zeros_like,
)
from ._dtypes import (  # noqa: F401
    DTYPE_NAMES as _DTYPE_NAMES, __array_namespace_info__, can_cast, dtype_by_name as _dtype_by_name,
    finfo, iinfo, isdtype, result_type,
)
from ._functions import (  # noqa: F401
    all, any, argmax, argmin, broadcast_arrays, broadcast_shapes, clip, count_nonzero, cumulative_prod,
    cumulative_sum, expand_dims, isin, nonzero, prod, repeat, sum, unique_all, unique_counts, unique_inverse,
    unique_values, vecdot,
)

__array_api_version__ = "2025.12"

e = _math.e
pi = _math.pi
inf = _math.inf
nan = _math.nan
newaxis = None

__all__ = [n for n in dir() if not n.startswith("_")] + list(_DTYPE_NAMES) + ["__array_namespace_info__"]
__all__.remove("BoundNamespace")


def __getattr__(name: str) -> _Any:
    """Dtype objects (``float32``, ``int64``, ...) of the current backend."""
    if name in _DTYPE_NAMES:
        return _dtype_by_name(name)
    raise AttributeError(f"module 'anyad.array_api' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_DTYPE_NAMES))


def namespace_for(value: _Any, api_version: str | None = None) -> _Any:
    """The namespace a Variable holding ``value`` hands out (this module, or it
    bound to ``value``'s backend and device).

    Examples
    --------
    >>> import numpy as np
    >>> import anyad.array_api as xp
    >>> xp.namespace_for(np.ones(2)) is xp
    True
    """
    import sys

    return _namespace_for(value, api_version, sys.modules[__name__])


del _ops
