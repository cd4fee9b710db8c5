"""Tracers: what the engine asks while :mod:`anyad.compile` builds a program.

The recording state (:mod:`anyad._state`) holds one of these while
a program is being built. The engine calls it only on paths that record
nothing (a non-differentiable operation, a ``no_grad`` block, ``detach``,
``stop_gradient``, a cast to an integer dtype), where it records the
operation anyway, with a rule-less twin of its primitive, so the program
recomputes the result instead of freezing the traced value; and where a
Variable would hand a value to Python (``bool(v)``, ``float(v)``), where the
:func:`anyad.jit` tracer refuses one that depends on the inputs.

Also here: the keys of compiled programs (:func:`freeze`, :func:`array_key`).
"""

from __future__ import annotations

from typing import Any, Sequence

from . import _backend
from .backends.scatter import TakeKey
from ._program import Uncompilable, _is_array, identity
from ._saves import KEEP_ALL
from .graph import KEEP, Primitive, toposort, vertex
from .variable import make_node
from ._state import tracing  # noqa: F401  (re-exported: the context manager installing a tracer)
from .variable import Variable

__all__ = ["TracingError", "Recorder", "Tracer", "tracing", "freeze", "array_key"]


class TracingError(TypeError):
    """A traced function handed a value that depends on its inputs to Python."""


# ----------------------------------------------------------------------------
# Tracers: what the engine calls while a program is being built
# ----------------------------------------------------------------------------


def _no_gradients(g: Any, needed: tuple, *args: Any, **params: Any) -> tuple:
    """The joint rule of an operation recorded only to be replayed: no gradient for any input."""
    return (None,) * len(needed)


def _passed_on(size: int, prim: Primitive, args: tuple, batched: tuple, params: Any) -> tuple:
    """The batching rule of a value passed on unchanged (``stop_gradient``)."""
    from .ops._core import apply

    return apply(prim, args, params), True


_SHADOWS: dict = {}  # primitive -> its rule-less twin (a memo of immutable objects)


def _no_tangent(*args: Any, **kwargs: Any) -> None:
    return None


def _shadow(prim: Primitive | None) -> Primitive:
    """The twin of ``prim`` with the same forward and no derivative rules (not
    registered in PRIMITIVES): what a tracer records for an operation the
    engine leaves unrecorded. ``None`` stands for passing a value on unchanged."""
    s = _SHADOWS.get(prim)
    if s is None:
        s = Primitive.__new__(Primitive)
        s.name = "stop_gradient" if prim is None else prim.name
        s.op_type = None if prim is None else prim.op_type
        s.fwd = identity if prim is None else prim.fwd
        s.vjps = ()
        s.raw_vjps = None
        s.vjp = _no_gradients
        s.holomorphic = False
        s.broadcasts = False
        s.jvp = _no_tangent
        s.batch = _passed_on if prim is None else prim.batch
        s.declared = s._saves = KEEP_ALL
        s._by_mask = {}
        _SHADOWS[prim] = s
    return s


class Recorder:
    """Active while a derivative program is built from a graph (GradientCache)."""

    __slots__ = ("producers",)

    def __init__(self) -> None:
        self.producers: dict = {}  # id(value) -> the Variable recorded for it

    def untracked(self, prim: Primitive | None, params: tuple, values: tuple, kw: dict | None,
                  out: Variable) -> None:
        """``out`` was computed from ``params`` without being recorded: record it
        (with no derivative rules: no gradient flows through it, as before)."""
        out._node = node = make_node(_shadow(prim), params, values, out.value, kw, KEEP)
        out._view = None
        self.producers[id(out.value)] = node

    def leaf_of(self, v: Variable, src: Variable, dtype: Any, requires_grad: bool) -> None:
        """``Variable(src, dtype)``: a new leaf made from a Variable's value."""
        from .ops.manipulation import _ASTYPE

        Variable.__init__(v, src.value, dtype, requires_grad)
        if v.value is src.value:
            self.untracked(None, (src,), (src.value,), None, v)
        else:
            self.untracked(_ASTYPE, (src,), (src.value,), {"dtype": v.value.dtype}, v)

    def concrete(self, v: Variable, what: str) -> None:
        pass

    def recorded(self, node: Any, out: Any) -> None:
        """A recorded operation made ``out`` (only :class:`Tracer` keeps track)."""

    def plain_backprop(self, targets: Sequence[Any]) -> None:
        pass


class Tracer(Recorder):
    """Active while :func:`jit` traces a function on its input Variables."""

    __slots__ = ("inputs", "name", "transform")

    def __init__(self, inputs: Sequence[Variable], name: str, transform: str = "anyad.jit") -> None:
        super().__init__()
        self.inputs = set(inputs)
        self.name = name
        self.transform = transform
        for x in inputs:  # an index array taken from an input is read from it
            self.producers[id(x.value)] = vertex(x)

    def recorded(self, node: Any, out: Any) -> None:
        """``out`` was made by the recorded ``node``: an operation that takes ``out``
        as a raw array (an index, a mask) reads it from ``node`` on replay, not as a
        constant frozen from the trace."""
        self.producers.setdefault(id(out), node)

    def _depends(self, v: Variable) -> bool:
        inputs = {vertex(x) for x in self.inputs}
        _, reached = toposort([vertex(v)], inputs, stop=inputs)
        return bool(reached & inputs)

    def concrete(self, v: Variable, what: str) -> None:
        if self._depends(v):
            raise TracingError(
                f"{self.transform}: {what} of a Variable that depends on the inputs of {self.name} "
                f"({_backend.describe(v.value)}) while it is being traced: Python control flow on "
                "traced values cannot be traced (one branch would be frozen into the program). "
                "Use anyad.where(...) for a data-dependent choice, "
                + ("pass the value as a static argument (static_argnums), or call the function without jit"
                   if self.transform == "anyad.jit" else f"or call the function without {self.transform}")
            )

    def plain_backprop(self, targets: Sequence[Any]) -> None:
        raise TracingError(
            f"{self.transform}: a gradient computed as raw arrays (create_graph=False: Variable.backward, "
            f"GradientTracker.gradient, Graph.gradient, or a transform under no_grad) inside {self.name} "
            "would be frozen into the program as a constant. Inside a compiled function, take "
            "gradients with anyad.grad / value_and_grad / vjp, or backprop(..., create_graph=True)"
        )


# ----------------------------------------------------------------------------
# Keys: parameters by value, arrays by (type, shape, dtype, device)
# ----------------------------------------------------------------------------


def array_key(x: Any) -> tuple:
    t = type(x)
    if t.__module__ == "numpy":  # numpy arrays and scalars are always on the CPU
        return (t, x.shape, x.dtype)
    return (t, tuple(x.shape), x.dtype, _backend.device_of(x))


def freeze(obj: Any, arrays: list | None) -> Any:
    """A hashable stand-in for a parameter, equal only for equal parameters.

    Floats go by their exact bits (``-0.0`` and ``nan`` included); arrays by
    type, shape, dtype and device, appended to ``arrays`` (their values are
    program inputs); ``arrays=None`` refuses arrays."""
    t = type(obj)
    if t is float:
        return ("f", obj.hex())
    if t is int or t is bool or t is str or obj is None or obj is Ellipsis:
        return (t, obj)
    if t is tuple or t is list:
        return (t, tuple(freeze(o, arrays) for o in obj))
    if t is dict:
        return (dict, tuple((k, freeze(v, arrays)) for k, v in obj.items()))
    if t is slice:
        return (slice, freeze(obj.start, arrays), freeze(obj.stop, arrays), freeze(obj.step, arrays))
    if t is complex:
        return ("c", obj.real.hex(), obj.imag.hex())
    if t is TakeKey:
        return (t, freeze(obj.indices, arrays), obj.axis)
    if isinstance(obj, Variable) or _is_array(obj):
        if arrays is None:
            raise Uncompilable("an array where a static value is expected")
        value = obj.value if isinstance(obj, Variable) else obj
        arrays.append(value)
        return ("a", array_key(value))
    try:
        hash(obj)
    except TypeError:
        raise Uncompilable(f"an unhashable parameter of type {t.__name__}") from None
    return ("o", t, obj)  # dtypes, devices, functions: equal or identical
