"""Variable: one array of any Array API namespace, with operators that record.

A Variable owns no numerics: every operator calls an anyad function
(:mod:`anyad.ops`), which calls the kernel of the array's own namespace.
"""

from __future__ import annotations

import functools
from typing import Any

from . import _backend
from ._backend import current_backend, namespace_of, resolve_dtype
from ._state import tracer as _tracer

__all__ = ["Variable", "wrap"]

# The tracer of anyad.compile while it turns a computation into a program (else
# None; anyad._state). The engine asks it only on paths that record nothing (a
# non-differentiable operation, no_grad) and where a Variable would hand a
# concrete value to Python (bool(v), float(v)).


class Variable:
    """An n-dimensional array that records the operations applied to it.

    Parameters
    ----------
    value : array or Python data
        An array of any supported library (kept as it is: same namespace, same
        device, no copy) or Python data (a number, nested lists), converted
        with the current backend (:func:`anyad.use`).
    dtype : str or dtype, optional
        Convert to this dtype (``"float32"`` or the backend's dtype object).
    requires_grad : bool
        Record every operation on this Variable, and accumulate ``.grad`` in
        :meth:`backward`. Only floating-point Variables can require grad.

    Attributes
    ----------
    value : array
        The wrapped array.
    result_of : Operation or None
        The operation that produced this Variable (``None`` for a leaf).
    grad : array or None
        The gradient accumulated by :meth:`backward`.

    Examples
    --------
    >>> Variable(5.0)
    Variable(5.0)
    >>> Variable([5.0, 2.9])
    Variable([5.  2.9])
    >>> Variable([5.0, 2.9]) + Variable([1.0, 5.5])
    Variable([6.  8.4])
    >>> Variable([[8.0, 10.0]])
    Variable([[ 8. 10.]])
    """

    # _node: the Node that produced this Variable (None for a leaf; see anyad.graph);
    # _view: its Operation view, made on demand; _param_to: weak references to the
    # operations a GradientTracker recorded on it. The last two are rarely set:
    # the hot paths leave them unset, and their readers default to None.
    __slots__ = ("value", "requires_grad", "grad", "_node", "_view", "_param_to", "__weakref__")

    # numpy hands mixed operations to our reflected operators and ufunc protocol
    __array_priority__ = 1000.0

    def __init__(self, value: Any, dtype: Any = None, requires_grad: bool = False):
        if isinstance(value, Variable):
            if _tracer() is not None:  # a compiled program must see where it came from
                _tracer().leaf_of(self, value, dtype, requires_grad)
                return
            value = value.value
        try:
            xp = namespace_of(value)
        except TypeError:
            xp = None
        if xp is None:  # Python data: the current backend makes the array
            value = current_backend().asarray(value, dtype=dtype)
        elif dtype is not None:
            dtype = resolve_dtype(xp, dtype)
            if value.dtype != dtype:
                value = xp.astype(value, dtype)
        self.value = value
        self._node = None
        self.grad = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()

    # -- graph ------------------------------------------------------------
    @property
    def result_of(self) -> Any:
        """The :class:`~anyad.Operation` that produced this Variable, or None."""
        node = self._node
        if node is None:
            return None
        view = getattr(self, "_view", None)
        if view is None or view.node is not node:
            view = _new_operation(Operation)
            view.prim = node.prim
            view.node = node
            view._params = None
            view._track = None
            view.other_params = node.kw
            view._out = _weakref(self)
            self._view = view
        return view

    @property
    def _op(self) -> Any:
        """The node as an :class:`~anyad.Operation` view (``None`` for a leaf).

        Setting it to None makes this Variable a leaf; setting an Operation
        makes this Variable its output.
        """
        return self.result_of

    @_op.setter
    def _op(self, op: Any) -> None:
        if op is None:
            self._node = None
            self._view = None
        else:
            op.add_output(self)

    @property
    def param_to(self) -> list:
        """Operations recorded by a :class:`~anyad.GradientTracker` that use this
        Variable (those whose output still exists)."""
        refs = getattr(self, "_param_to", None)
        if refs is None:
            return []
        ops = (r() for r in refs)
        return [op for op in ops if op is not None]

    def add_result_of(self, result_of: Any) -> None:
        """Mark this Variable as the output of ``result_of`` (reference API)."""
        result_of.add_output(self)

    def add_param_to(self, param_to: Any) -> None:
        """Record that ``param_to`` takes this Variable as input (reference API).

        Held weakly: an operation whose output is gone drops out of the list."""
        refs = getattr(self, "_param_to", None)
        if refs is None:
            refs = self._param_to = []
        refs.append(_weakref(param_to))
        if len(refs) >= 64 and (len(refs) & (len(refs) - 1)) == 0:  # at powers of two: drop the dead
            refs[:] = [r for r in refs if r() is not None]

    @property
    def is_leaf(self) -> bool:
        """True when no recorded operation produced this Variable."""
        return self._node is None

    def requires_grad_(self, requires_grad: bool = True) -> "Variable":
        """Set ``requires_grad`` in place (floating dtypes only) and return self."""
        if requires_grad:
            _check_differentiable_dtype(self.value, "requires_grad")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Variable":
        """A new leaf Variable sharing this value, cut from the graph."""
        v = wrap(self.value)
        if _tracer() is not None:
            _tracer().untracked(None, (self,), (self.value,), None, v)
        return v

    def backward(self, seed: Any = None, *, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Parameters
        ----------
        seed : array, optional
            The cotangent (default: ones, i.e. the gradient of ``sum(self)``).
        retain_graph : bool
            Keep the graph for another backward (default: free it as it is used).
        create_graph : bool
            Make ``.grad`` a differentiable Variable.

        Examples
        --------
        >>> x = Variable([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([2., 4.])
        """
        pairs = backprop([self], [seed], None, create_graph=create_graph,
                         retain_graph=retain_graph or create_graph)
        for leaf, g in pairs:
            if g is None:
                continue
            leaf.grad = g if leaf.grad is None else leaf.grad + g

    # -- array attributes -------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)

    @property
    def dtype(self) -> Any:
        return self.value.dtype

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def size(self) -> int:
        n = 1
        for d in self.value.shape:
            n *= d
        return n

    @property
    def device(self) -> Any:
        return _backend.device_of(self.value)

    @property
    def T(self) -> "Variable":
        """All axes reversed (for a matrix, its transpose)."""
        return permute_dims(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> "Variable":
        """Transpose of the last two axes."""
        return matrix_transpose(self)

    @property
    def _i(self) -> Any:
        """The wrapped array: the name python-autodiff gives ``value``, kept for
        compatibility with programs written for it (prefer ``value``)."""
        return self.value

    def copy(self) -> "Variable":
        """A new leaf holding a copy of the value, cut from the graph (it requires
        grad when this Variable does), as python-autodiff's ``copy``."""
        xp = namespace_of(self.value)
        v = wrap(xp.asarray(self.value, copy=True))
        if _tracer() is not None:  # anyad.compile: the copy is recomputed, not frozen
            _tracer().untracked(None, (self,), (self.value,), None, v)
        v.requires_grad = self.requires_grad
        return v

    def to_ndarray(self) -> Any:
        """The value as a host numpy array (copied from the device if needed)."""
        if _tracer() is not None:
            _tracer().concrete(self, "to_ndarray()")
        return _backend.to_numpy(self.value)

    def numpy(self) -> Any:
        """Alias of :meth:`to_ndarray`."""
        if _tracer() is not None:
            _tracer().concrete(self, "numpy()")
        return _backend.to_numpy(self.value)

    def item(self) -> Any:
        """The single element as a Python number (a host synchronisation)."""
        if _tracer() is not None:
            _tracer().concrete(self, "item()")
        return self.value.item() if hasattr(self.value, "item") else float(self.value)

    def tolist(self) -> Any:
        return self.to_ndarray().tolist()

    def __len__(self) -> int:
        return self.value.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i, ...]  # the trailing ellipsis: the standard's form of x[i] for any ndim

    # Python values from a Variable: under anyad.jit tracing, one that depends
    # on the traced inputs cannot be compiled (the tracer raises TracingError)
    def __bool__(self) -> bool:
        if _tracer() is not None:
            _tracer().concrete(self, "bool()")
        return bool(self.value)

    def __float__(self) -> float:
        if _tracer() is not None:
            _tracer().concrete(self, "float()")
        return float(self.value)

    def __int__(self) -> int:
        if _tracer() is not None:
            _tracer().concrete(self, "int()")
        return int(self.value)

    def __index__(self) -> int:
        if _tracer() is not None:
            _tracer().concrete(self, "__index__()")
        return self.value.__index__()

    def __complex__(self) -> complex:
        if _tracer() is not None:
            _tracer().concrete(self, "complex()")
        return complex(self.value)

    def __repr__(self) -> str:
        v = self.value
        text = str(v) if _backend.backend_name(namespace_of(v)) == "numpy" else repr(v)
        if "\n" in text:
            text = text.replace("\n", "\n" + " " * 9)
        return f"Variable({text})"

    __hash__ = object.__hash__

    # -- operators (each one anyad function; see anyad.ops) ----------------
    # __add__, __sub__, __mul__, __truediv__, __pow__ and __matmul__ are the
    # anyad functions themselves, bound at the end of this module (one call less
    # per operation); the reflected operators swap the operands.
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

    # -- the Array API array object (anyad.array_api) -------------------------
    # Assignment and in-place operators never overwrite an array a graph may
    # have saved: see anyad.array_api._mutation for what is allowed and why.
    def __setitem__(self, key: Any, value: Any) -> None:
        _mutation().setitem(self, key, value)

    def __iadd__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, add, "+=")

    def __isub__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, subtract, "-=")

    def __imul__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, multiply, "*=")

    def __itruediv__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, divide, "/=")

    def __ifloordiv__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, floor_divide, "//=")

    def __imod__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, remainder, "%=")

    def __ipow__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, pow, "**=")

    def __imatmul__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, matmul, "@=")

    def __iand__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, bitwise_and, "&=")

    def __ior__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, bitwise_or, "|=")

    def __ixor__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, bitwise_xor, "^=")

    def __ilshift__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, bitwise_left_shift, "<<=")

    def __irshift__(self, other: Any) -> Any:
        return _mutation().inplace(self, other, bitwise_right_shift, ">>=")

    def __array_namespace__(self, /, *, api_version: str | None = None) -> Any:
        """The differentiable Array API namespace of this Variable (:mod:`anyad.array_api`,
        bound to the Variable's backend and device when they are not the current ones).

        Examples
        --------
        >>> from array_api_compat import array_namespace
        >>> array_namespace(Variable([1.0])).__name__
        'anyad.array_api'
        """
        from .array_api import namespace_for

        return namespace_for(self.value, api_version)

    def to_device(self, device: Any, /, *, stream: Any = None) -> "Variable":
        """This Variable on ``device`` of its own library (differentiable).

        Examples
        --------
        >>> Variable([1.0]).to_device("cpu").device
        'cpu'
        """
        return to_device(self, device)

    def __dlpack__(self, /, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
                   copy: bool | None = None) -> Any:
        kw = {k: v for k, v in (("stream", stream), ("max_version", max_version), ("dl_device", dl_device),
                                ("copy", copy)) if v is not None}
        return self.value.__dlpack__(**kw)

    def __dlpack_device__(self) -> tuple:
        return self.value.__dlpack_device__()

    # -- NumPy / CuPy protocols (anyad._numpy_interop): np.sin(v), np.sum(v) --
    # Only NumPy and CuPy call these; Variable's own operators never do.
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _interop().array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        return _interop().array_function(func, types, args, kwargs)

    def __cupy_override_elementwise_kernel__(self, kernel: Any, *args: Any, **kwargs: Any) -> Any:
        return _interop().cupy_elementwise(kernel, args, kwargs)

    # -- methods mirroring module functions ----------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False) -> Any:
        return sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Any:
        return mean(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> Any:
        return prod(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Any:
        return max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Any:
        return min(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Any:
        return var(self, axis=axis, correction=correction, keepdims=keepdims)

    def std(self, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Any:
        return std(self, axis=axis, correction=correction, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Any:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)

    def astype(self, dtype: Any) -> Any:
        return astype(self, dtype)

    def exp(self) -> Any:
        return exp(self)

    def log(self) -> Any:
        return log(self)

    def tanh(self) -> Any:
        return tanh(self)

    def sqrt(self) -> Any:
        return sqrt(self)


@functools.cache
def _interop() -> Any:
    """anyad._numpy_interop, imported on the first NumPy protocol call (it imports numpy)."""
    from . import _numpy_interop

    return _numpy_interop


def wrap(value: Any, op: Any = None) -> Variable:
    """Make a Variable around a raw array without checks (the engine's constructor)."""
    v = Variable.__new__(Variable)
    v.value = value
    v._node = None
    v.grad = None
    v.requires_grad = False
    if op is not None:
        op.add_output(v)
    return v


def _check_differentiable_dtype(value: Any, what: str) -> None:
    if not _backend.is_real_floating(value):
        raise TypeError(
            f"anyad.{what}: only real floating-point Variables can be differentiated, got "
            f"{_backend.describe(value)}; create it with a floating dtype, e.g. "
            "Variable(x, dtype='float64')"
        )


from weakref import ref as _weakref  # noqa: E402

from .graph import Operation, backprop  # noqa: E402

_new_operation = Operation.__new__

# Operators resolve these names when called; they are bound once the ops exist.
from .ops.elementwise import (  # noqa: E402
    abs,
    add,
    divide,
    equal,
    exp,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    multiply,
    negative,
    not_equal,
    positive,
    pow,
    sqrt,
    subtract,
    tanh,
)
from .ops.elementwise_extra import (  # noqa: E402
    bitwise_and,
    bitwise_invert,
    bitwise_left_shift,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    floor_divide,
    remainder,
)
from .ops.indexing import getitem  # noqa: E402
from .ops.linalg import matmul, matrix_transpose  # noqa: E402
from .ops.manipulation import astype, permute_dims, reshape, to_device  # noqa: E402
from .ops.reductions import max, mean, min, prod, std, sum, var  # noqa: E402


def _mutation() -> Any:
    from .array_api import _mutation as m

    return m


Variable.__add__ = add
Variable.__sub__ = subtract
Variable.__mul__ = multiply
Variable.__truediv__ = divide
Variable.__pow__ = pow
Variable.__matmul__ = matmul
