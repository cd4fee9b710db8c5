"""NumPy kernels for a compiled replay, bound tighter than the portable ones.

A replay (:mod:`anyad._program`) calls each recorded operation's kernel on raw
arrays. Two costs of NumPy's own dominate on small arrays, and both can be
paid once, when the program is built, instead of at every call:

* ``a * b`` goes through ``ndarray.__mul__`` before it reaches the ufunc
  ``numpy.multiply``; on NumPy arrays the two are the same computation, and
  calling the ufunc directly saves about 35 ns a kernel;
* a Python number operand (``y * 1.01``) is converted to the array's dtype at
  every call (NumPy's rule for Python scalars, NEP 50), about 160 ns; the
  same number made once a 0-d array of that dtype gives the same values
  (NumPy converts it exactly so) and costs nothing more than an array.

Only the four arithmetic operators on real floating results are bound this
way; everything else keeps its portable kernel.

Examples
--------
>>> import operator
>>> import numpy as np
>>> xp = np  # NumPy itself (anyad's NumPy namespace has the same ufuncs)
>>> ufunc = binary_ufunc(xp, operator.mul)
>>> c = number_operand(1.01, np.dtype(np.float32))
>>> x = np.linspace(0.0, 1.0, 5, dtype=np.float32)
>>> bool(np.array_equal(ufunc(x, c), x * 1.01)), ufunc(x, c).dtype
(True, dtype('float32'))
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

__all__ = ["binary_ufunc", "number_operand"]

_UFUNC_OF = {
    operator.add: np.add,
    operator.sub: np.subtract,
    operator.mul: np.multiply,
    operator.truediv: np.divide,
}


def binary_ufunc(xp: Any, kernel: Any) -> Any:
    """The NumPy ufunc the operator ``kernel`` computes on NumPy arrays, when
    ``xp`` is a NumPy namespace (its ``multiply`` is NumPy's); else ``None``."""
    if getattr(xp, "multiply", None) is not np.multiply:
        return None
    try:
        return _UFUNC_OF.get(kernel)
    except TypeError:  # an unhashable kernel
        return None


def number_operand(value: Any, dtype: Any) -> Any:
    """``value`` (a Python float or int) as the 0-d array NumPy converts it to
    when it meets an array of the real floating ``dtype``; ``None`` where that
    does not apply (another type, another dtype, or a number the dtype cannot
    hold, which NumPy would warn about at every call)."""
    if type(value) not in (float, int) or not isinstance(dtype, np.dtype) or dtype.kind != "f":
        return None
    if type(value) is int and abs(value) > 2 ** 53:
        return None
    with np.errstate(over="raise"):
        try:
            out = np.asarray(value, dtype=dtype)
        except (FloatingPointError, OverflowError):
            return None
    if math.isfinite(value) and not np.isfinite(out):
        return None
    return out
