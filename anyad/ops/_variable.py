"""Variable's operators and array methods, installed from the ops layer.

The core's :class:`~anyad.Variable` (:mod:`anyad.variable`) holds data and
its node; its arithmetic, comparisons, indexing and array methods are the
anyad functions of :mod:`anyad.ops` (``__add__`` *is* :func:`anyad.add`: one
Python call less per operation), set on the class here, above the core, as
autograd installs its ArrayBox's methods. The reflected operators swap the
operands.
"""

from __future__ import annotations

from typing import Any

from ..variable import Variable
from .elementwise import (
    abs, add, divide, equal, exp, greater, greater_equal, less, less_equal, log, multiply, negative,
    not_equal, positive, pow, sqrt, subtract, tanh,
)
from .elementwise_extra import (
    bitwise_and, bitwise_invert, bitwise_left_shift, bitwise_or, bitwise_right_shift, bitwise_xor,
    floor_divide, remainder,
)
from .indexing import getitem
from .linalg import matmul, matrix_transpose
from .manipulation import astype, permute_dims, reshape, to_device
from .reductions import max, mean, min, prod, std, sum, var
from .transfer import to_backend


class _Methods:
    """The methods installed on Variable (defined in a class body for their names and docstrings)."""

    def __radd__(self, other: Any) -> Any:
        return add(other, self)

    def __rsub__(self, other: Any) -> Any:
        return subtract(other, self)

    def __rmul__(self, other: Any) -> Any:
        return multiply(other, self)

    def __rtruediv__(self, other: Any) -> Any:
        return divide(other, self)

    def __rpow__(self, other: Any) -> Any:
        return pow(other, self)

    def __rmatmul__(self, other: Any) -> Any:
        return matmul(other, self)

    def __neg__(self) -> Any:
        return negative(self)

    def __pos__(self) -> Any:
        return positive(self)

    def __abs__(self) -> Any:
        return abs(self)

    def __getitem__(self, key: Any) -> Any:
        return getitem(self, key)

    def __lt__(self, other: Any) -> Any:
        return less(self, other)

    def __le__(self, other: Any) -> Any:
        return less_equal(self, other)

    def __gt__(self, other: Any) -> Any:
        return greater(self, other)

    def __ge__(self, other: Any) -> Any:
        return greater_equal(self, other)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return equal(self, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return not_equal(self, other)

    # bitwise operators (on booleans: logical), floor division and remainder
    def __invert__(self) -> Any:
        return bitwise_invert(self)

    def __and__(self, other: Any) -> Any:
        return bitwise_and(self, other)

    def __rand__(self, other: Any) -> Any:
        return bitwise_and(other, self)

    def __or__(self, other: Any) -> Any:
        return bitwise_or(self, other)

    def __ror__(self, other: Any) -> Any:
        return bitwise_or(other, self)

    def __xor__(self, other: Any) -> Any:
        return bitwise_xor(self, other)

    def __rxor__(self, other: Any) -> Any:
        return bitwise_xor(other, self)

    def __lshift__(self, other: Any) -> Any:
        return bitwise_left_shift(self, other)

    def __rlshift__(self, other: Any) -> Any:
        return bitwise_left_shift(other, self)

    def __rshift__(self, other: Any) -> Any:
        return bitwise_right_shift(self, other)

    def __rrshift__(self, other: Any) -> Any:
        return bitwise_right_shift(other, self)

    def __floordiv__(self, other: Any) -> Any:
        return floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return floor_divide(other, self)

    def __mod__(self, other: Any) -> Any:
        return remainder(self, other)

    def __rmod__(self, other: Any) -> Any:
        return remainder(other, self)

    @property
    def T(self) -> "Variable":
        """All axes reversed (for a matrix, its transpose)."""
        return permute_dims(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> "Variable":
        """Transpose of the last two axes."""
        return matrix_transpose(self)

    def to_device(self, device: Any, /, *, stream: Any = None) -> "Variable":
        """This Variable on ``device`` of its own library (differentiable).

        Examples
        --------
        >>> Variable([1.0]).to_device("cpu").device
        'cpu'
        """
        return to_device(self, device)

    def to(self, backend: Any, device: Any = None, *, dtype: Any = None) -> "Variable":
        """This Variable as an array of ``backend`` (and ``device``), differentiably:
        :func:`anyad.to_backend` (the gradient flows back to this library and device).

        Examples
        --------
        >>> v = Variable([1.0, 2.0], requires_grad=True)
        >>> v.to("array_api_strict", "device1").device
        array_api_strict.Device('device1')
        """
        return to_backend(self, backend, device, dtype=dtype)

    # -- methods mirroring module functions ----------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False) -> Any:
        """The sum of the elements (over ``axis``): :func:`anyad.sum`.

        Examples
        --------
        >>> Variable([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
        Variable([4. 6.])
        """
        return sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Any:
        """The mean of the elements (over ``axis``): :func:`anyad.mean`."""
        return mean(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> Any:
        """The product of the elements (over ``axis``): :func:`anyad.prod`."""
        return prod(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Any:
        """The largest element (over ``axis``): :func:`anyad.max`."""
        return max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Any:
        """The smallest element (over ``axis``): :func:`anyad.min`."""
        return min(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Any:
        """The variance (over ``axis``): :func:`anyad.var`."""
        return var(self, axis=axis, correction=correction, keepdims=keepdims)

    def std(self, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Any:
        """The standard deviation (over ``axis``): :func:`anyad.std`."""
        return std(self, axis=axis, correction=correction, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Any:
        """The same elements in a new shape, given as a tuple or as separate
        integers: :func:`anyad.reshape`.

        Examples
        --------
        >>> Variable([1.0, 2.0, 3.0, 4.0]).reshape(2, 2).shape
        (2, 2)
        """
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)

    def astype(self, dtype: Any) -> Any:
        """A copy converted to ``dtype`` (differentiable between floating
        dtypes): :func:`anyad.astype`.

        Examples
        --------
        >>> Variable([1.0, 2.0]).astype("float32").dtype
        dtype('float32')
        """
        return astype(self, dtype)

    def exp(self) -> Any:
        """:func:`anyad.exp` of this Variable."""
        return exp(self)

    def log(self) -> Any:
        """:func:`anyad.log` of this Variable."""
        return log(self)

    def tanh(self) -> Any:
        """:func:`anyad.tanh` of this Variable."""
        return tanh(self)

    def sqrt(self) -> Any:
        """:func:`anyad.sqrt` of this Variable."""
        return sqrt(self)



def install() -> None:
    """Set the operators and methods on :class:`~anyad.Variable` (done once, on import)."""
    skip = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__hash__"}
    for name, member in vars(_Methods).items():
        if name not in skip:
            setattr(Variable, name, member)
    # the forward operators are the anyad functions themselves
    Variable.__add__ = add
    Variable.__sub__ = subtract
    Variable.__mul__ = multiply
    Variable.__truediv__ = divide
    Variable.__pow__ = pow
    Variable.__matmul__ = matmul


install()
