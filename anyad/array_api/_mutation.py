"""The Array API array object's methods that the core leaves to this layer:
``__array_namespace__``, assignment and the in-place operators (``x[k] = v``,
``x += y``), installed on :class:`~anyad.Variable` on import. Writes have the
semantics users know from torch:

* A write is recorded like any operation (:func:`anyad.ops.indexing.setitem`,
  or the operator's function): the Variable object is updated to the new
  value and the new node, so every reference to it sees the write, and later
  reads differentiate through it. Gradients flow to the value written (summed
  over where it was broadcast) and to the elements not written over.
* Copy on write: the array a Variable held is never written into. Every node
  recorded earlier keeps the value it saw, so an operation recorded before a
  write is differentiated at the value it read, never at the new one.
* Writing a value that requires grad into a constant makes the result require
  grad (the allocate-then-fill pattern: ``out = zeros(n); out[1:] = x``).
* A write into a leaf that requires grad while recording is an error, as in
  torch (the gradient asked for would be that of a value that no longer
  exists): write into a copy, or inside :func:`anyad.no_grad` (initialising
  a parameter, an optimizer step), where nothing is recorded.
* ``x op= y`` must keep ``x``'s shape and dtype.
"""

from __future__ import annotations

from typing import Any, Callable

import sys

from .. import _backend
from .._state import OFF, mode as _mode
from ..ops import (
    add, bitwise_and, bitwise_left_shift, bitwise_or, bitwise_right_shift, bitwise_xor, divide, floor_divide,
    matmul, multiply, pow, remainder, subtract,
)
from ..ops.indexing import setitem as _setitem
from ..variable import Variable
from ._bound import namespace_for


def _name(x: Variable) -> str:
    return _backend.describe(x.value)


def _check_not_a_leaf_that_requires_grad(x: Variable, what: str) -> None:
    if x._node is None and x.requires_grad and _mode() != OFF:
        raise TypeError(
            f"anyad: {what} writes into a leaf that requires grad ({_name(x)}) while recording: its "
            "gradient would be that of a value that no longer exists. Write into a copy "
            "(y = anyad.asarray(x, copy=True)), or do it inside anyad.no_grad() (initialising a "
            "parameter, an optimizer step)")


def _become(x: Variable, out: Variable) -> None:
    """Make ``x`` (the same Python object) hold ``out``'s value and node."""
    x.value = out.value
    if out._node is not None:
        x._node = out._node
        x._view = None
        x.requires_grad = True


def setitem(x: Variable, key: Any, value: Any) -> None:
    """``x[key] = value``; see the module docstring."""
    _check_not_a_leaf_that_requires_grad(x, "x[key] = v")
    _become(x, _setitem(x, key, value))


def inplace(x: Variable, other: Any, op: Callable, symbol: str) -> Variable:
    """``x op= other``; see the module docstring."""
    _check_not_a_leaf_that_requires_grad(x, f"x {symbol} y")
    out = op(x, other)
    if not isinstance(out, Variable):
        return NotImplemented
    if tuple(out.value.shape) != tuple(x.value.shape):
        raise ValueError(
            f"anyad: x {symbol} y would change the shape of x from {tuple(x.value.shape)} to "
            f"{tuple(out.value.shape)}")
    if out.value.dtype != x.value.dtype:
        raise TypeError(
            f"anyad: x {symbol} y would change the dtype of x from {_backend._dtype_name(x.value.dtype)} "
            f"to {_backend._dtype_name(out.value.dtype)}")
    _become(x, out)
    return x


def _array_namespace(self: Variable, /, *, api_version: str | None = None) -> Any:
    """The differentiable Array API namespace of this Variable (:mod:`anyad.array_api`,
    bound to the Variable's backend and device when they are not the current ones).

    Examples
    --------
    >>> import anyad
    >>> from array_api_compat import array_namespace
    >>> array_namespace(anyad.Variable([1.0])).__name__
    'anyad.array_api'
    """
    return namespace_for(self.value, api_version, sys.modules["anyad.array_api"])


def _setitem_method(self: Variable, key: Any, value: Any) -> None:
    setitem(self, key, value)


def _inplace_method(op: Callable, symbol: str) -> Callable:
    def method(self: Variable, other: Any) -> Any:
        return inplace(self, other, op, symbol)

    method.__name__ = f"__i{op.__name__}__"
    return method


_INPLACE = {
    "__iadd__": (add, "+="), "__isub__": (subtract, "-="), "__imul__": (multiply, "*="),
    "__itruediv__": (divide, "/="), "__ifloordiv__": (floor_divide, "//="), "__imod__": (remainder, "%="),
    "__ipow__": (pow, "**="), "__imatmul__": (matmul, "@="), "__iand__": (bitwise_and, "&="),
    "__ior__": (bitwise_or, "|="), "__ixor__": (bitwise_xor, "^="), "__ilshift__": (bitwise_left_shift, "<<="),
    "__irshift__": (bitwise_right_shift, ">>="),
}


def install() -> None:
    """Set ``__array_namespace__``, ``__setitem__`` and the in-place operators on Variable."""
    Variable.__array_namespace__ = _array_namespace
    Variable.__setitem__ = _setitem_method
    for name, (op, symbol) in _INPLACE.items():
        setattr(Variable, name, _inplace_method(op, symbol))


install()
