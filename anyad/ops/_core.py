"""How a primitive runs: dispatch on Variables or raw arrays, and recording.

Every public function of :mod:`anyad.ops` is a :class:`~anyad.graph.Primitive`
applied through one of the entry points here:

* :func:`unary_function` / :func:`binary_function` make the elementwise
  functions (the hot path: no per-call allocation beyond the result);
* :func:`apply` runs any primitive with non-array parameters (axis, shape, ...).

Given raw arrays only, a function calls the kernel and returns a raw array (this
is how VJP rules run when no graph is being built). Given a Variable, it returns
a Variable, and records a :class:`~anyad.graph.Node` when recording is on.
"""

from __future__ import annotations

from typing import Any, Callable
from weakref import ref as _weakref

from .. import _backend
from .._backend import check_same_backend, current_backend, explain_failure, namespace_of
from .._saves import META, VALUE, meta_of
from .._state import AUTO, OFF, TRACK, current as _state
from ..graph import Node, OpType, Primitive, next_seq as _next_seq, pack_saved
from ..variable import make_node
from ..variable import Variable

__all__ = ["unary_function", "binary_function", "apply", "unbroadcast", "Primitive"]

_SCALARS = frozenset((bool, int, float, complex))
_REAL_SCALARS = frozenset((bool, int, float))
_NS = _backend._NS_BY_TYPE
_new_node = Node.__new__
_new_var = Variable.__new__
_compatible_pairs: set = set()


def _record(prim: Primitive, params: tuple, values: tuple, out: Any, other: dict | None, mode: int) -> Variable:
    """Wrap ``out`` as the output of a new node (the recording path)."""
    v = _new_var(Variable)
    v.value = out
    v._node = make_node(prim, params, values, out, other, mode)
    v.grad = None
    v.requires_grad = True
    if mode == TRACK:
        _track(params, v)
    return v


def _track(params: tuple, v: Variable) -> None:
    """GradientTracker: each input Variable lists the operation (``param_to``),
    and the operation its input Variables (weakly)."""
    op = v.result_of
    op._track = tuple(_weakref(p) if isinstance(p, Variable) else None for p in params)
    for p in params:
        if isinstance(p, Variable):
            p.add_param_to(op)


def _plan(prim: Primitive, mask: int) -> tuple:
    """``(keep output, code of input 0, code of input 1)`` for an elementwise
    primitive whose Variable operands are ``mask`` (the hot paths' form of
    ``prim.saves_for(mask)``)."""
    sv = prim.saves_for(mask)
    return (sv.out, sv.code(0), sv.code(1))


def _constant(out: Any) -> Variable:
    v = _new_var(Variable)
    v.value = out
    v._node = None
    v.grad = None
    v.requires_grad = False
    return v


def _raw_namespace(name: str, values: tuple) -> tuple[Any, tuple]:
    """Namespace of raw operands (slow path: mixed types, lists, all scalars)."""
    xp = None
    for v in values:
        if type(v) not in _SCALARS and not isinstance(v, (list, tuple)) and v is not None:
            xp = namespace_of(v)
            break
    if xp is None:  # only Python data: the current backend makes arrays
        be = current_backend()
        return be.xp, tuple(be.asarray(v) if v is not None else v for v in values)
    check_same_backend(name, tuple(v for v in values if not isinstance(v, (list, tuple))))
    if any(isinstance(v, (list, tuple)) for v in values):
        ref = next(v for v in values if type(v) not in _SCALARS and not isinstance(v, (list, tuple)))
        dev = _backend.device_of(ref)
        values = tuple(xp.asarray(v, device=dev) if isinstance(v, (list, tuple)) else v for v in values)
    return xp, values


def _pair_namespace(name: str, a: Any, b: Any) -> tuple[Any, Any, Any]:
    """Namespace for two raw operands; checks that they come from one library.

    The binary functions inline the fast cases of this lookup; this is the
    general path (first sight of a type pair, Python data, mixed libraries).
    """
    ta, tb = type(a), type(b)
    if ta is tb or tb in _SCALARS:
        xp = _NS.get(ta)
    elif ta in _SCALARS:
        xp = _NS.get(tb)
    elif (ta, tb) in _compatible_pairs:
        xp = _NS.get(ta)
    else:
        xp = None
    if xp is not None:
        return xp, a, b
    xp, (a, b) = _raw_namespace(name, (a, b))
    ta, tb = type(a), type(b)
    if ta is not tb and ta not in _SCALARS and tb not in _SCALARS:
        _compatible_pairs.add((ta, tb))
    return xp, a, b


def _elementwise_batch(size: int, prim: Primitive, args: tuple, batched: tuple, params: Any) -> tuple:
    """The batching rule of the elementwise primitives (:func:`anyad.ops.batching.elementwise`)."""
    from .batching import elementwise

    return elementwise(size, prim, args, batched, params)


def unary_function(name: str, op_type: OpType, fwd: Callable, vjp: Callable | None, doc: str = "") -> Callable:
    """Declare an elementwise primitive of one argument and return its public function."""
    prim = Primitive(name, op_type, fwd, None if vjp is None else (vjp,))
    prim.batch = _elementwise_batch
    differentiable = vjp is not None
    plan = None

    def _unary_plan() -> tuple:
        nonlocal plan
        plan = _plan(prim, 1)
        return plan

    def function(x: Any, /) -> Any:
        if isinstance(x, Variable):
            xv = x.value
            xp = _NS.get(type(xv)) or namespace_of(xv)
            try:
                out = fwd(xp, xv)
            except Exception as e:
                raise explain_failure(name, (xv,), e) from e
            v = _new_var(Variable)
            v.value = out
            v.grad = None
            st = _state()
            mode = st.mode
            if differentiable and mode != OFF and (mode != AUTO or x.requires_grad):
                node = _new_node(Node)
                node.seq = _next_seq()
                node.prim = prim
                node.kw = None  # shape and dtype left unset: elementwise, the input's (see Node)
                node.meta = None
                p = x._node
                keep_out, code, _ = plan or _unary_plan()
                if mode != AUTO and st.tracer is not None:  # a program is built: keep everything
                    keep_out, code = True, VALUE
                    st.tracer.recorded(node, out)
                if p is None:  # a leaf: its value is alive anyway
                    p, k = x, xv
                else:
                    k = xv if code == VALUE else (meta_of(xv) if code == META else None)
                hooks = st.hooks
                if hooks is None:
                    node.unpack = None
                    node.edges = (p, out if keep_out else None, k)
                else:
                    saved, node.unpack = pack_saved((out if keep_out else None, k), hooks)
                    node.edges = (p, *saved)
                v._node = node
                v.requires_grad = True
                if mode == TRACK:
                    _track((x,), v)
            else:
                v._node = None
                v.requires_grad = False
                if mode != AUTO and st.tracer is not None:  # anyad.compile records it
                    st.tracer.untracked(prim, (x,), (xv,), None, v)
            return v
        xp = _NS.get(type(x))
        if xp is None:
            xp, (x,) = _raw_namespace(name, (x,))
        try:
            return fwd(xp, x)
        except Exception as e:
            raise explain_failure(name, (x,), e) from e

    function.__name__ = function.__qualname__ = name
    function.__module__ = "anyad"
    function.__doc__ = doc
    function.primitive = prim  # type: ignore[attr-defined]
    return function


def binary_function(name: str, op_type: OpType, fwd: Callable, vjp1: Callable | None,
                    vjp2: Callable | None, doc: str = "", differentiable: bool = True) -> Callable:
    """Declare a broadcasting elementwise primitive of two arguments."""
    prim = Primitive(name, op_type, fwd, (vjp1, vjp2) if differentiable else None, broadcasts=True)
    prim.batch = _elementwise_batch
    plans: list = [None] * 4  # by which operands are Variables (bit 0: x1, bit 1: x2)

    def _binary_plan(mask: int) -> tuple:
        plans[mask] = p = _plan(prim, mask)
        return p

    def function(x1: Any, x2: Any, /) -> Any:
        if isinstance(x1, Variable):  # wrapped: which operands are Variables (bit 0: x1, bit 1: x2)
            a = x1.value
            rec = x1.requires_grad
            if isinstance(x2, Variable):
                b = x2.value
                rec = rec or x2.requires_grad
                wrapped = 3
            else:
                b = x2
                wrapped = 1
        elif isinstance(x2, Variable):
            a = x1
            b = x2.value
            rec = x2.requires_grad
            wrapped = 2
        else:
            a, b = x1, x2
            wrapped = 0
        # namespace of the operands (inlined fast cases of _pair_namespace)
        ta, tb = type(a), type(b)
        if ta is tb or tb in _SCALARS:
            xp = _NS.get(ta)
        elif ta in _SCALARS:
            xp = _NS.get(tb)
        else:
            xp = None
        if xp is None:
            xp, a, b = _pair_namespace(name, a, b)
        try:
            out = fwd(xp, a, b)
        except Exception as e:
            raise explain_failure(name, (a, b), e) from e
        if not wrapped:
            return out
        v = _new_var(Variable)
        v.value = out
        v.grad = None
        st = _state()
        mode = st.mode
        if differentiable and mode != OFF and (rec or mode != AUTO):
            node = _new_node(Node)
            node.seq = _next_seq()
            node.prim = prim
            node.kw = None  # shape and dtype left unset: elementwise, the inputs' broadcast (see Node)
            # parents and kept values: a leaf's and a raw operand's value always, a
            # recorded input's as the primitive declares (for the operands that are Variables)
            keep_out, c1, c2 = plans[wrapped] or _binary_plan(wrapped)
            if mode != AUTO and st.tracer is not None:  # a program is built: keep everything
                keep_out = True
                c1 = c2 = VALUE
                st.tracer.recorded(node, out)
            if wrapped & 1:
                p1 = x1._node
                if p1 is None:
                    p1, k1 = x1, a
                else:
                    k1 = a if c1 == VALUE else (meta_of(a) if c1 == META else None)
            else:
                p1, k1 = None, a
            if wrapped & 2:
                p2 = x2._node
                if p2 is None:
                    p2, k2 = x2, b
                else:
                    k2 = b if c2 == VALUE else (meta_of(b) if c2 == META else None)
            else:
                p2, k2 = None, b
            # where an operand broadcast or was promoted, its gradient is summed back and cast;
            # beside a Python number neither can happen
            tb, ta = type(b), type(a)
            if tb in _REAL_SCALARS or ta in _REAL_SCALARS:  # cannot broadcast or promote the other
                node.meta = None
            elif tb is complex or ta is complex:  # a complex number may promote a real array
                arr = b if ta is complex else a
                m = None if arr.dtype == out.dtype else (tuple(arr.shape), arr.dtype)
                node.meta = None if m is None else ((None, m) if ta is complex else (m, None))
                if m is not None:
                    node.shape, node.dtype = out.shape, out.dtype
            elif a.shape == b.shape and a.dtype is b.dtype:  # the output's shape and dtype too
                node.meta = None
            else:
                oshape, odtype = out.shape, out.dtype
                m1 = None if a.shape == oshape and (a.dtype is odtype or a.dtype == odtype) \
                    else (tuple(a.shape), a.dtype)
                m2 = None if b.shape == oshape and (b.dtype is odtype or b.dtype == odtype) \
                    else (tuple(b.shape), b.dtype)
                if m1 is not None or m2 is not None:
                    node.meta = (m1, m2)
                    node.shape, node.dtype = oshape, odtype
                else:
                    node.meta = None
            hooks = st.hooks
            if hooks is None:
                node.unpack = None
                node.edges = (p1, p2, out if keep_out else None, k1, k2)
            else:
                saved, node.unpack = pack_saved((out if keep_out else None, k1, k2), hooks)
                node.edges = (p1, p2, *saved)
            v._node = node
            v.requires_grad = True
            if mode == TRACK:
                _track((x1, x2), v)
        else:
            v._node = None
            v.requires_grad = False
            if mode != AUTO and st.tracer is not None:  # anyad.compile records it
                st.tracer.untracked(prim, (x1, x2), (a, b), None, v)
        return v

    function.__name__ = function.__qualname__ = name
    function.__module__ = "anyad"
    function.__doc__ = doc
    function.primitive = prim  # type: ignore[attr-defined]
    return function


def apply(prim: Primitive, args: tuple, params: dict | None = None) -> Any:
    """Run ``prim`` on ``args`` (Variables, arrays or Python scalars) with keyword ``params``.

    Returns a raw array when no argument is a Variable, else a Variable,
    recorded when recording is on and the primitive is differentiable.
    """
    rec = False
    anyvar = False
    values = []
    for a in args:
        if isinstance(a, Variable):
            anyvar = True
            if a.requires_grad:
                rec = True
            values.append(a.value)
        else:
            values.append(a)
    values = tuple(values)
    first = values[0]
    t = type(first)
    if len(values) == 1 or all(type(v) is t or v is None or type(v) in _SCALARS for v in values[1:]):
        try:
            xp = _NS[t]
        except KeyError:
            xp, values = _raw_namespace(prim.name, values)
    else:
        xp, values = _raw_namespace(prim.name, values)
    try:
        out = prim.fwd(xp, *values, **params) if params else prim.fwd(xp, *values)
    except Exception as e:
        raise explain_failure(prim.name, values, e) from e
    if not anyvar:
        return out
    st = _state()
    mode = st.mode
    if prim.vjps is not None and mode != OFF and (rec or mode != AUTO):
        v = _record(prim, tuple(args), values, out, params or None, mode)
        if mode != AUTO and st.tracer is not None:  # an index or mask taken from it is read from it
            st.tracer.recorded(v._node, out)
        return v
    v = _constant(out)
    if mode != AUTO and st.tracer is not None:  # anyad.compile records it
        st.tracer.untracked(prim, tuple(args), values, params or None, v)
    return v


def to_input(gu: Any, meta: tuple) -> Any:
    """A gradient summed back over the axes its input was broadcast along, and
    cast to the input's dtype (``meta``: the input's shape and dtype). Installed
    as ``Primitive.to_input``, which the core's backprop calls."""
    shape, dtype = meta
    if tuple(gu.shape) != shape:
        gu = unbroadcast(gu, shape)
    if gu.dtype != dtype:
        from .manipulation import astype

        xp = namespace_of(gu.value if isinstance(gu, Variable) else gu)
        if xp.isdtype(gu.dtype, "complex floating") and not xp.isdtype(dtype, "complex floating"):
            from .elementwise_extra import real  # a real input: the real part of its gradient

            gu = real(gu)
        if gu.dtype != dtype:
            gu = astype(gu, dtype)
    return gu


Primitive.to_input = staticmethod(to_input)


def unbroadcast(g: Any, shape: tuple) -> Any:
    """Sum ``g`` down to ``shape``: undo the broadcasting of an operand.

    The one helper every broadcasting rule relies on (the engine calls it for
    primitives declared with ``broadcasts=True``).

    Examples
    --------
    >>> import numpy as np
    >>> unbroadcast(np.ones((2, 3)), (3,))
    array([2., 2., 2.])
    >>> unbroadcast(np.ones((2, 3)), (2, 1))
    array([[3.],
           [3.]])
    """
    from .manipulation import reshape
    from .reductions import sum

    gshape = tuple(g.shape)
    shape = tuple(shape)
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(shape) if d == 1 and gshape[i + lead] != 1
    )
    if axes:
        g = sum(g, axis=axes)
    if tuple(g.shape) != shape:
        g = reshape(g, shape)
    return g
