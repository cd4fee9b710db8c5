"""Variable: one array of any Array API namespace, and the node that produced it.

The core's data: :class:`Variable` (the user's handle), :func:`make_node`
(what a recorded operation keeps), :func:`attach` and :class:`Operation` (the
public view of a node). A Variable owns no numerics: its operators are
installed by :mod:`anyad.ops` (each one an anyad function, which calls the
kernel of the array's own namespace), its ``backward`` by
:mod:`anyad.backprop`, and its Array API and NumPy protocols by
:mod:`anyad.array_api` and :mod:`anyad._numpy_interop`: imports point down.
"""

from __future__ import annotations

import weakref
from typing import Any, Sequence

from . import _backend
from ._backend import current_backend, namespace_of, resolve_dtype
from ._saves import META, VALUE, Meta, meta_of
from ._state import AUTO, current, tracer as _tracer
from .graph import KEEP, PRIMITIVES, Node, OpType, Primitive, _broadcast_meta, next_seq as _next_seq, pack_saved

__all__ = ["Variable", "wrap", "make_node", "attach", "Operation"]

_weakref = weakref.ref

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
    requires_grad : bool
        Whether operations on this Variable are recorded (set it with
        :meth:`requires_grad_`).
    grad : array or None
        The gradient accumulated by :meth:`backward` (an array of the same
        library, shape and dtype; ``None`` until a backward pass reaches it).

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
            value = _from_python(value, dtype)
        elif dtype is not None:
            dtype = resolve_dtype(xp, dtype)
            if value.dtype != dtype:
                value = xp.astype(value, dtype)
        refuse_object_arrays(value, "Variable")
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

    # -- array attributes -------------------------------------------------
    @property
    def shape(self) -> tuple:
        """The length of each axis, a tuple of ints (``()`` for a scalar)."""
        return tuple(self.value.shape)

    @property
    def dtype(self) -> Any:
        """The element type: the wrapped library's dtype object (``float64``,
        ``torch.float32``, ...)."""
        return self.value.dtype

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.value.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        n = 1
        for d in self.value.shape:
            n *= d
        return n

    @property
    def device(self) -> Any:
        """The device of the wrapped array, in its library's terms (``"cpu"``,
        a ``torch.device``, a CuPy ``Device``)."""
        return _backend.device_of(self.value)

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
        """The value as nested Python lists of numbers (copied to the host).

        Examples
        --------
        >>> Variable([[1.0, 2.0]]).tolist()
        [[1.0, 2.0]]
        """
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

    def __dlpack__(self, /, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
                   copy: bool | None = None) -> Any:
        kw = {k: v for k, v in (("stream", stream), ("max_version", max_version), ("dl_device", dl_device),
                                ("copy", copy)) if v is not None}
        return self.value.__dlpack__(**kw)

    def __dlpack_device__(self) -> tuple:
        return self.value.__dlpack_device__()


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


_NOT_DATA = (str, bytes, bytearray, dict, set, frozenset, type(None))


def _from_python(data: Any, dtype: Any) -> Any:
    """An array of the current backend from Python data: numbers or nested
    lists of them; anything else (text, None, a dict) is refused with one
    message on every backend."""
    if isinstance(data, _NOT_DATA):
        raise _not_numeric(data)
    try:
        value = current_backend().asarray(data, dtype=dtype)
    except Exception as e:
        bad = _first_non_numeric(data)
        if bad is None:
            raise
        raise _not_numeric(bad) from e
    if getattr(value.dtype, "kind", None) in ("U", "S", "V", "M", "m"):  # NumPy's text, void, dates
        raise _not_numeric(_first_non_numeric(data) or data)
    return value


def _first_non_numeric(data: Any) -> Any:
    """The first element of nested lists that is neither a number nor an array (None if none)."""
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(reversed(x))
        elif not isinstance(x, (bool, int, float, complex)) and not hasattr(x, "dtype"):
            return x
        elif getattr(getattr(x, "dtype", None), "kind", None) in ("U", "S", "V", "M", "m", "O"):
            return x
    return None


def _not_numeric(bad: Any) -> TypeError:
    return TypeError(
        f"anyad.Variable: the data must be numbers (bool, int, float, complex), nested lists of numbers, or "
        f"a numeric array; got {type(bad).__name__} {bad!r:.60}")


def refuse_object_arrays(value: Any, what: str) -> None:
    """An array of Python objects (of Variables, say), of text or of dates is no
    numeric array: refuse it."""
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind in ("U", "S", "V", "M", "m"):
        raise TypeError(f"anyad.{what}: {_backend.describe(value)} is not a numeric array (text, dates and "
                        "records cannot be differentiated); convert it to numbers first")
    if kind == "O":
        raise TypeError(
            f"anyad.{what}: an array of Python objects (dtype=object) is not a numeric array; an array of "
            "Variables must be built with anyad.stack (or the namespace's asarray of a list of Variables), "
            "which keeps their gradients")


def _check_differentiable_dtype(value: Any, what: str) -> None:
    if not _backend.is_floating(value):
        raise TypeError(
            f"anyad.{what}: only floating-point (real or complex) Variables can be differentiated, got "
            f"{_backend.describe(value)}; create it with a floating dtype, e.g. "
            "Variable(x, dtype='float64')"
        )


def make_node(prim: Primitive, args: Sequence[Any], values: Sequence[Any], out: Any, kw: dict | None,
              mode: int) -> Node:
    """A node for ``out = prim(*args)``: ``args`` as given (Variables or raw
    operands), ``values`` the raw operands the kernel saw. Keeps what
    ``prim.saves`` declares (everything in :data:`KEEP` mode)."""
    node = _new_node(Node)
    node.seq = _next_seq()
    node.prim = prim
    node.kw = kw
    node.shape = out.shape
    node.dtype = out.dtype
    parents = []
    # while a program is built from the graph (anyad.jit, GradientCache) nodes keep everything
    st = current()
    keep_all = mode == KEEP or (mode != AUTO and st.tracer is not None)
    mask = 0
    for i, a in enumerate(args):
        if isinstance(a, Variable):
            mask |= 1 << i
    sv = prim.saves_for(mask)
    saved = [out if (keep_all or sv.out) else None]
    ins = sv.inputs
    n_named = len(ins)
    for i, a in enumerate(args):
        x = values[i]
        if isinstance(a, Variable):
            p = a._node
            if p is None:
                parents.append(a)
                saved.append(x)
                continue
            parents.append(p)
            code = VALUE if keep_all else (ins[i] if i < n_named else sv.rest)
            saved.append(x if code == VALUE else (meta_of(x) if code == META else None))
        else:
            parents.append(None)
            saved.append(x)
    node.meta = _broadcast_meta(values, out) if prim.broadcasts else None
    hooks = st.hooks
    if hooks is None:
        node.unpack = None
    else:
        saved, node.unpack = pack_saved(saved, hooks)
    node.edges = (*parents, *saved)
    return node


class Operation:
    """A recorded application of a primitive: the public view of a :class:`Node`.

    Made on demand by :attr:`Variable.result_of`. The GradientTracker
    reference API (``Operation(op_type, other_params)``, ``add_params``,
    ``add_output``, ``op_type``, ``other_params``, ``params``) is kept, so graphs
    can also be built by hand with :meth:`anyad.GradientTracker.append`.

    Examples
    --------
    >>> import anyad
    >>> op = anyad.Operation(anyad.OpType.ADD)
    >>> op == anyad.OpType.ADD
    True
    """

    # _track: inside a GradientTracker, weak references to the input Variables
    __slots__ = ("prim", "node", "other_params", "_out", "_params", "_track", "__weakref__")

    def __init__(self, op_type: OpType, other_params: dict | None = None):
        try:
            self.prim = PRIMITIVES[op_type]
        except KeyError:
            raise ValueError(f"anyad.Operation: {op_type!r} is not a recordable primitive") from None
        self.node = None
        self._params = ()
        self._track = None
        self.other_params = other_params or None
        self._out = None

    @property
    def op_type(self) -> OpType:
        """The :class:`OpType` of this operation."""
        return self.prim.op_type

    @property
    def params(self) -> tuple:
        """The inputs: Variables, or raw constants. An input Variable that no
        longer exists is stood for by a new one holding the saved value."""
        node = self.node
        if node is None or self._params is not None:
            return self._params or ()
        if node.edges is None:
            return ()
        track = self._track
        out = []
        for i, (p, x) in enumerate(zip(node.parents, node.values()[1:])):
            v = track[i]() if track is not None and track[i] is not None else None
            if v is None:
                v = x if p is None else (p if type(p) is not Node else attach(x, p))
            out.append(v)
        return tuple(out)

    @property
    def values(self) -> tuple:
        """The raw arrays (or scalars) the kernel saw, where the node keeps them
        (``None`` or a shape-only record where its rules do not read them)."""
        node = self.node
        if node is None:
            return tuple(getattr(p, "value", p) for p in self._params or ())
        if node.edges is None:
            return ()
        return node.values()[1:]

    @property
    def output(self) -> Any:
        """The Variable this operation produced (held weakly), or ``None``."""
        return None if self._out is None else self._out()

    def add_params(self, params: Sequence[Any]) -> None:
        """Set the input Variables (reference API)."""
        self._params = tuple(params)

    def add_output(self, output: Any) -> None:
        """Set the output Variable (reference API); it is held weakly."""
        params = self._params or ()
        values = tuple(getattr(p, "value", p) for p in params)
        node = make_node(self.prim, params, values, output.value, self.other_params, KEEP)
        self._track = tuple(weakref.ref(p) if isinstance(p, Variable) else None for p in params)
        self.node = node
        self._params = None
        self._out = weakref.ref(output)
        output._node = node
        output._view = self
        output.requires_grad = True

    def __eq__(self, value: object) -> bool:
        if isinstance(value, OpType):
            return self.prim.op_type is value
        return self is value

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Operation({self.op_type.name})"


def attach(value: Any, node: Node) -> Any:
    """A new Variable for ``value``, the output of ``node`` (a rule's input while
    a derivative graph is built). ``None`` and shape records pass through."""
    if value is None or type(value) is Meta:
        return value
    v = _new_var(Variable)
    v.value = value
    v._node = node
    v.grad = None
    v.requires_grad = True
    return v


_new_operation = Operation.__new__
_new_node = Node.__new__
_new_var = Variable.__new__
