"""In-place assignment and in-place operators on Variables (``x[k] = v``,
``x += y``): what is sound in a recorded graph.

* A recorded array already saved in a graph is never overwritten: an
  update replaces the Variable's ``value`` with a new array (copy on write),
  so every graph recorded earlier keeps the values it saw; the Python object
  is updated, so every reference to the Variable sees the new value.
* ``x[k] = v`` works on leaves: constants, and leaves that require grad inside
  :func:`anyad.no_grad` (initialising parameters). It is refused on the output
  of a recorded operation, on a leaf that requires grad while recording, and
  when ``v`` requires grad (the assignment would drop its gradient): build the
  array functionally instead (``where``, ``concat``, ``stack``).
* ``x op= y`` updates ``x`` when the result is not recorded (constants, and
  anything inside :func:`anyad.no_grad`: optimizer steps). When the result is
  recorded (``x`` is itself recorded, or ``y`` requires grad) it rebinds the
  name to the new recorded Variable, as ``x = x op y`` does, and the old one
  is unchanged. On a leaf that requires grad, outside no_grad, it is refused.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import _backend
from ..graph import MODE, OFF
from ..variable import Variable


def _unwrap_key(key: Any) -> Any:
    if isinstance(key, Variable):
        return key.value
    if isinstance(key, tuple):
        return tuple(k.value if isinstance(k, Variable) else k for k in key)
    return key


def _name(x: Variable) -> str:
    return _backend.describe(x.value)


def setitem(x: Variable, key: Any, value: Any) -> None:
    """``x[key] = value`` on a leaf (copy on write); see the module docstring."""
    if x._node is not None:
        raise TypeError(
            f"anyad: cannot assign into the output of a recorded {x._node.prim.name} operation ({_name(x)}); "
            "it is part of a graph. Build the new array functionally (where, concat, stack), or assign "
            "into x.detach()")
    recording = MODE.get() != OFF
    if x.requires_grad and recording:
        raise TypeError(
            f"anyad: cannot assign into a leaf that requires grad ({_name(x)}) while recording; "
            "do it inside anyad.no_grad()")
    if isinstance(value, Variable):
        if value.requires_grad and recording:
            raise TypeError(
                "anyad: x[key] = v would drop the gradient of v (v requires grad); build the array "
                "functionally instead (where, concat, stack)")
        value = value.value
    raw = x.value
    xp = _backend.namespace_of(raw)
    k = _unwrap_key(key)
    new = xp.asarray(raw, copy=True)
    try:
        new[k] = value
    except TypeError:
        if not hasattr(new, "at"):  # immutable arrays (JAX) update functionally
            raise
        new = new.at[k].set(value)
    x.value = new


def inplace(x: Variable, other: Any, op: Callable, symbol: str) -> Variable:
    """``x op= other``; see the module docstring."""
    if x._node is None and x.requires_grad and MODE.get() != OFF:
        raise TypeError(
            f"anyad: x {symbol} y on a leaf that requires grad ({_name(x)}) while recording; do it inside "
            f"anyad.no_grad() (an optimizer step), or write x = x {symbol[:-1]} y")
    out = op(x, other)
    if not isinstance(out, Variable):
        return NotImplemented
    if x._node is not None or out._node is not None:
        return out  # a recorded result: rebind, as x = x op y
    if tuple(out.value.shape) != tuple(x.value.shape):
        raise ValueError(
            f"anyad: x {symbol} y would change the shape of x from {tuple(x.value.shape)} to "
            f"{tuple(out.value.shape)}")
    if out.value.dtype != x.value.dtype:
        raise TypeError(
            f"anyad: x {symbol} y would change the dtype of x from {_backend._dtype_name(x.value.dtype)} "
            f"to {_backend._dtype_name(out.value.dtype)}")
    x.value = out.value
    return x
