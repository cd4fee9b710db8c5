"""The computation graph: primitives, nodes, recording state, backprop.

A recorded value is a :class:`~anyad.Variable` (the user's handle: its array
and a reference to the :class:`Node` that produced it). A node holds the
primitive, its parents (the nodes, or leaf Variables, its inputs came from),
non-array parameters, the output's shape and dtype, and exactly the values
its primitive's rules read (``Primitive.saves``): nothing else. A Variable the
user drops is freed even while the graph behind it is still needed; a graph
holds no reference cycle, so it is freed by reference counting alone.
:class:`Operation` is the public view of a node.

:func:`backprop` is a pure function from targets, seeds and sources to gradients;
every public face (GradientTracker, Graph, ``Variable.backward``, the functional
transforms) is a thin layer over it.
"""

from __future__ import annotations

import contextvars
import enum
import weakref
from typing import Any, Callable, Sequence

from ._saves import KEEP_ALL, META, VALUE, Meta, Saves, derive_saves, meta_of
from ._state import ALL, AUTO, OFF, TRACK, current, recording, saved_values_hooks  # noqa: F401
from ._state import pop as _pop_state, push as _push_state

__all__ = ["OpType", "Primitive", "Node", "Operation", "backprop", "PRIMITIVES", "Saves"]


class OpType(enum.Enum):
    """Every primitive operation anyad records.

    The first seven members keep the numbering of the GradientTracker reference
    design; the rest are anyad's other primitives.
    """

    ADD = 0
    SUB = 1
    MUL = 2
    DIV = 3
    MATMUL = 4
    POWER = 5
    NOOP = 6
    NEGATIVE = 7
    POSITIVE = 8
    ABS = 9
    EXP = 10
    EXPM1 = 11
    LOG = 12
    LOG1P = 13
    LOG2 = 14
    LOG10 = 15
    SQRT = 16
    SQUARE = 17
    SIN = 18
    COS = 19
    TAN = 20
    ASIN = 21
    ACOS = 22
    ATAN = 23
    ATAN2 = 24
    SINH = 25
    COSH = 26
    TANH = 27
    ASINH = 28
    ACOSH = 29
    ATANH = 30
    MAXIMUM = 31
    MINIMUM = 32
    CLIP = 33
    WHERE = 34
    SIGN = 35
    FLOOR = 36
    CEIL = 37
    ROUND = 38
    TRUNC = 39
    SUM = 40
    MEAN = 41
    PROD = 42
    MAX = 43
    MIN = 44
    CUMULATIVE_SUM = 45
    MATRIX_TRANSPOSE = 46
    RESHAPE = 47
    PERMUTE_DIMS = 48
    EXPAND_DIMS = 49
    SQUEEZE = 50
    BROADCAST_TO = 51
    CONCAT = 52
    STACK = 53
    FLIP = 54
    MOVEAXIS = 55
    ROLL = 56
    GETITEM = 57
    TAKE = 58
    SCATTER_ADD = 59
    ASTYPE = 60
    ERF = 61
    CUSTOM = 62
    INV = 63
    SOLVE = 64
    SLOGDET = 65
    CHOLESKY = 66
    EIGH = 67
    SVD = 68
    QR = 69
    TRIL = 70
    TRIU = 71
    SORT = 72
    CUMULATIVE_PROD = 73
    REAL = 74
    IMAG = 75
    CONJ = 76
    FFT = 77
    TO_DEVICE = 78
    TAKE_ALONG_AXIS = 79
    DET = 80
    INDEX_ADD = 81
    LOGSUMEXP = 82
    SOFTMAX = 83
    SETITEM = 84
    # the Array API namespace's primitives (anyad.ops.elementwise_extra, linalg_extra, fft)
    HYPOT = 100
    LOGADDEXP = 101
    COPYSIGN = 102
    REMAINDER = 103
    RFFT = 104
    IRFFT = 105
    EIGVALSH = 106
    SVDVALS = 107
    I_TIMES = 108
    AS_COMPLEX = 109


class Primitive:
    """One differentiable operation: a forward kernel and its rules, side by side.

    Parameters
    ----------
    name : str
        The public name (``"sin"``), used in error messages.
    op_type : OpType
        Its :class:`OpType` member.
    fwd : callable
        ``fwd(xp, *values, **params)``: the kernel, written with the namespace
        ``xp`` of the arrays.
    vjps : tuple of callables or None
        One rule per positional input, ``vjp(g, ans, *inputs, **params)``,
        returning the gradient for that input (``None`` entries for inputs that
        are never differentiable). ``vjps=None`` marks a non-differentiable
        primitive (comparisons): its results are never recorded. Rules are
        written with anyad's own functions, so they run on raw arrays when no
        graph is being built and record when one is (higher order for free).
    broadcasts : bool
        The inputs broadcast against each other; the engine sums each
        gradient back to its input's shape (:func:`anyad.ops.unbroadcast`).
    saves : Saves, optional
        What a node of this primitive keeps for its rules: the output, each
        input's value or only its shape and dtype, or nothing. A rule is given
        ``None`` for what is not kept. By default it is read off the rules'
        code (:func:`anyad._saves.derive_saves`); see :attr:`saves`.
    vjp : callable, optional
        A joint rule instead of per-input ones (``vjps=()``):
        ``vjp(g, needed, ans, *inputs, **params)`` returns one gradient per
        input (``None`` where ``needed[i]`` is false), from one call: for
        primitives whose gradients share work (a recomputed checkpoint, a
        user's custom rule). Such a primitive declares ``saves``.
    """

    __slots__ = ("name", "op_type", "fwd", "vjps", "vjp", "broadcasts", "jvp", "declared", "_saves",
                 "_by_mask")

    def __init__(self, name: str, op_type: OpType | None, fwd: Callable, vjps: Any, broadcasts: bool = False,
                 saves: Saves | None = None, vjp: Callable | None = None, register: bool = True):
        self.name = name
        self.op_type = op_type
        self.fwd = fwd
        self.vjps = vjps
        self.vjp = vjp
        self.broadcasts = broadcasts
        self.jvp = None  # forward-mode rule, filled in where one is defined
        self.declared = saves
        self._saves = saves
        self._by_mask: dict = {}
        if register:
            PRIMITIVES[op_type] = self

    @property
    def saves(self) -> Saves:
        """What a node of this primitive keeps: the declared :class:`Saves`, or
        what the VJP and JVP rules read (derived once, on first use).

        Examples
        --------
        >>> from anyad import OpType
        >>> PRIMITIVES[OpType.EXP].saves          # the output only
        Saves(out=True, inputs=(0,), rest=0)
        >>> PRIMITIVES[OpType.MUL].saves          # both inputs (codes: 0 none, 1 shape, 2 value)
        Saves(out=False, inputs=(2, 2), rest=0)
        >>> PRIMITIVES[OpType.MUL].saves_for(1)   # x * 2.0: only the 2.0
        Saves(out=False, inputs=(0, 2), rest=0)
        >>> PRIMITIVES[OpType.SUM].saves          # the input's shape and dtype
        Saves(out=False, inputs=(1,), rest=0)
        """
        s = self._saves
        if s is None:
            s = self._saves = self.saves_for(-1)
        return s

    def saves_for(self, mask: int) -> Saves:
        """What a node keeps when only the inputs in ``mask`` (bit ``i`` for
        input ``i``) are Variables: an operand that is not a Variable never
        needs its gradient, so what only its rule reads is not kept
        (``x / 2.0`` keeps nothing, ``x / y`` keeps ``y`` and the output)."""
        s = self._by_mask.get(mask)
        if s is None:
            s = self.declared or derive_saves(self.vjps, self.jvp, getattr(self.jvp, "reads_like_vjps", False),
                                              mask)
            self._by_mask[mask] = s
        return s

    def rules_changed(self) -> None:
        """Forget the derived :attr:`saves` (call after replacing ``vjps`` or ``jvp``)."""
        self._saves = self.declared
        self._by_mask = {}

    def __repr__(self) -> str:
        return f"<anyad primitive {self.name}>"


PRIMITIVES: dict[OpType, Primitive] = {}


class Node:
    """One recorded application of a primitive.

    Attributes
    ----------
    prim : Primitive
    edges : tuple or None
        ``(*parents, output, *inputs)`` in one tuple (one object per node: a
        long graph is that much lighter for the garbage collector), ``None``
        once the node has been released by a backward pass that did not
        retain the graph. :attr:`parents` and :attr:`saved` are its two halves.
    kw : dict or None
        Non-array parameters.
    shape, dtype
        The output's; left unset (read them with :func:`out_meta`) for an
        elementwise primitive whose output has the shape and dtype of each
        array input (no ``meta``): the hot paths skip reading them.
    meta : tuple or None
        For broadcasting primitives: per input, ``(shape, dtype)`` where it
        differs from the output's (its gradient is summed back and cast).
    unpack : callable or None
        The ``unpack`` of the :func:`anyad.saved_values_hooks` the node was
        recorded under (its saved half then holds what ``pack`` returned).
    """

    __slots__ = ("prim", "edges", "kw", "shape", "dtype", "meta", "unpack", "__weakref__")

    @property
    def parents(self) -> tuple | None:
        """One entry per positional input: the :class:`Node` that produced it,
        the leaf :class:`~anyad.Variable` it was (as it was when recorded), or
        ``None`` for an operand that is not a Variable."""
        e = self.edges
        return None if e is None else e[:len(e) >> 1]

    @property
    def saved(self) -> tuple | None:
        """``(output, *inputs)``: what the rules read (``Primitive.saves``);
        ``None`` for what is not kept, a :class:`~anyad._saves.Meta` for an
        input of which only the shape and dtype are kept. Values of leaves and
        of operands that are not Variables are always kept (they are alive
        anyway, and a compiled program reads them). Packed by hooks, if any."""
        e = self.edges
        return None if e is None else e[len(e) >> 1:]

    def values(self) -> tuple:
        """:attr:`saved` as the rules get it (unpacked when hooks packed it)."""
        e = self.edges
        if e is None:
            raise _freed(self)
        saved = e[len(e) >> 1:]
        unpack = self.unpack
        if unpack is None:
            return saved
        return tuple(x if x is None or type(x) is Meta or type(x) in _SCALARS else unpack(x) for x in saved)

    def release(self) -> None:
        """Free what the node keeps (a backward pass that does not retain the graph)."""
        self.edges = None

    def __repr__(self) -> str:
        return f"<anyad Node {self.prim.name}>"


_new_node = Node.__new__


def out_meta(node: Node) -> tuple:
    """``(shape, dtype)`` of ``node``'s output, or ``(None, None)`` for an
    elementwise node whose output is shaped like each of its array inputs."""
    return getattr(node, "shape", None), getattr(node, "dtype", None)


def make_node(prim: Primitive, args: Sequence[Any], values: Sequence[Any], out: Any, kw: dict | None,
              mode: int) -> Node:
    """A node for ``out = prim(*args)``: ``args`` as given (Variables or raw
    operands), ``values`` the raw operands the kernel saw. Keeps what
    ``prim.saves`` declares (everything in :data:`KEEP` mode)."""
    node = _new_node(Node)
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


def _broadcast_meta(values: Sequence[Any], out: Any) -> tuple | None:
    """Per input, ``(shape, dtype)`` where it differs from ``out``'s, or None."""
    oshape, odtype = out.shape, out.dtype
    meta = None
    for i, x in enumerate(values):
        if type(x) in _SCALARS or x is None or not hasattr(x, "shape"):
            continue
        shape = x.shape
        if shape != oshape or x.dtype != odtype:
            if meta is None:
                meta = [None] * len(values)
            meta[i] = (tuple(shape), x.dtype)
    return None if meta is None else tuple(meta)


def pack_saved(saved: Sequence[Any], hooks: tuple) -> tuple[tuple, Callable]:
    """``saved`` through the ``pack`` of ``hooks`` (Python scalars and shape
    records as they are), and the ``unpack`` that brings them back."""
    pack, unpack = hooks
    return tuple(x if x is None or type(x) is Meta or type(x) in _SCALARS else pack(x) for x in saved), unpack


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


# ----------------------------------------------------------------------------
# Backprop
# ----------------------------------------------------------------------------


KEEP = 4  #: for make_node: keep every value (hand-built nodes; compiled programs read them all)
_SCALARS = frozenset((bool, int, float, complex))
EVERY = object()  #: toposort: keep every vertex reached


class GraphFreedError(RuntimeError):
    """Backprop reached an operation whose saved values were already freed."""


def vertex(v: Any) -> Any:
    """Where ``v`` sits in the graph: the node that produced it, or the
    Variable itself for a leaf."""
    n = v._node
    return v if n is None else n


def _freed(node: Node) -> GraphFreedError:
    return GraphFreedError(
        f"anyad: backprop reached a {node.prim.name} operation whose saved values were "
        "freed by an earlier backward(); pass retain_graph=True to the first call "
        "to differentiate the same graph twice")


def toposort(roots: Sequence[Any], wanted: Any = EVERY, stop: Any = None) -> tuple[list, set]:
    """The one walk of the graph: the vertices (nodes and leaf Variables)
    reachable from ``roots``, inputs before their consumers, that lie on a path
    to a vertex of ``wanted``; and the same as a set.

    ``wanted`` is a set of vertices, :data:`EVERY` (every vertex reached), or
    ``None`` for the leaves that require grad (what ``Variable.backward``
    accumulates into). Iterative depth-first post-order (a 10**6-operation
    chain needs no recursion); each vertex is entered once and finished once.
    The walk does not go past the vertices in ``stop``.
    """
    every = wanted is EVERY
    order: list = []
    needed: set = set()
    state: dict = {}  # 1: entered, 2: finished
    stack = list(reversed(roots))
    pop, push = stack.pop, stack.append
    while stack:
        v = pop()
        s = state.get(v)
        if s == 2:
            continue
        if type(v) is not Node or (stop is not None and v in stop):
            state[v] = 2
            if every or (v.requires_grad and v._node is None if wanted is None else v in wanted):
                needed.add(v)
                order.append(v)
            continue
        if s is None:  # enter: come back after the inputs
            e = v.edges
            if e is None:
                raise _freed(v)
            state[v] = 1
            push(v)
            for p in e[:len(e) >> 1]:
                if p is not None and p not in state:
                    push(p)
            continue
        state[v] = 2  # finish: every input is finished
        if every or (wanted is not None and v in wanted):
            needed.add(v)
            order.append(v)
            continue
        e = v.edges
        for p in e[:len(e) >> 1]:
            if p is not None and p in needed:
                needed.add(v)
                order.append(v)
                break
    return order, needed


def rule_inputs(node: Node) -> tuple:
    """``(ans, *inputs)`` of ``node`` as Variables attached to the graph (the
    rules' arguments while a derivative graph is built)."""
    saved = node.values()
    out = [attach(saved[0], node)]
    for p, x in zip(node.parents, saved[1:]):
        if p is None or x is None or type(x) is Meta:
            out.append(x)
        elif type(p) is Node:
            out.append(attach(x, p))
        else:  # a leaf: itself, unless its value was replaced since
            out.append(p if p.value is x else wrap(x))
    return tuple(out)


def backprop(
    targets: Sequence[Any],
    seeds: Sequence[Any],
    sources: Sequence[Any] | None,
    *,
    create_graph: bool = False,
    retain_graph: bool = True,
) -> list:
    """Reverse-mode accumulation: gradients of ``targets`` with respect to ``sources``.

    Parameters
    ----------
    targets : sequence of Variable
        The outputs to differentiate.
    seeds : sequence
        One cotangent per target (raw array, Variable, or ``None`` for ones).
    sources : sequence of Variable, or None
        The inputs to differentiate with respect to. ``None`` means every leaf
        that requires grad (what :meth:`Variable.backward` accumulates).
    create_graph : bool
        Build the graph of the derivative itself (the rules then run on
        Variables and record), so the result can be differentiated again.
    retain_graph : bool
        Keep the graph's saved values after use. When False, every operation
        used is released as soon as it has been consumed.

    Returns
    -------
    list
        One gradient per source (``None`` where a source does not influence the
        targets); raw arrays, or Variables when ``create_graph``. When
        ``sources`` is None, a list of ``(leaf, gradient)`` pairs.
    """
    tracer = current().tracer
    if not create_graph and tracer is not None:  # anyad.jit: raw gradients would be constants
        tracer.plain_backprop(targets)
    wanted = None if sources is None else {vertex(s) for s in sources}
    roots = [vertex(t) for t in targets]
    order, needed = toposort(roots, wanted)

    grads: dict = {}
    for t, r, s in zip(targets, roots, seeds):
        if r not in needed:
            continue
        if s is None:
            tv = t.value
            s = _namespace(tv).ones_like(tv)
        if create_graph:
            s = s if isinstance(s, Variable) else wrap(s)
        elif isinstance(s, Variable):
            s = s.value
        grads[r] = s if r not in grads else grads[r] + s

    found: dict = {}
    mode_token = _push_state(mode=ALL) if create_graph else None
    pop, get = grads.pop, grads.get
    try:
        for v in reversed(order):
            g = pop(v, None)
            if g is None:
                continue
            if type(v) is not Node:
                found[v] = g
                continue
            if wanted is not None and v in wanted:
                found[v] = g
            prim = v.prim
            e = v.edges
            n = len(e) >> 1
            kw = v.kw
            if n == 1 and not create_graph and v.unpack is None and prim.vjp is None and v.meta is None:
                # the common case without slices: one input, raw values
                rule = prim.vjps[0]
                p = e[0]
                if rule is not None and p in needed:
                    gu = rule(g, e[1], e[2], **kw) if kw else rule(g, e[1], e[2])
                    if gu is not None:
                        prev = get(p)
                        grads[p] = gu if prev is None else prev + gu
            elif n == 2 and not create_graph and v.unpack is None and prim.vjp is None:
                # two inputs, raw values (elementwise arithmetic): no slices, no call
                vjps = prim.vjps
                meta = v.meta
                for i in (0, 1):
                    p = e[i]
                    if p is None or p not in needed:
                        continue
                    rule = vjps[i]
                    if rule is None:
                        continue
                    gu = rule(g, e[2], e[3], e[4], **kw) if kw else rule(g, e[2], e[3], e[4])
                    if gu is None:
                        continue
                    if meta is not None and meta[i] is not None:  # broadcast or promoted
                        gu = _to_input(gu, meta[i])
                    prev = get(p)
                    grads[p] = gu if prev is None else prev + gu
            else:
                _push_to_inputs(v, e, n, g, kw, needed, grads, create_graph)
            if not retain_graph:
                v.release()
    finally:
        if mode_token is not None:
            _pop_state(mode_token)

    if sources is None:
        return [(leaf, g) for leaf, g in found.items() if leaf._node is None]
    return [found.get(vertex(s)) for s in sources]


def _push_to_inputs(v: Node, e: tuple, n: int, g: Any, kw: dict | None, needed: set, grads: dict,
                    create_graph: bool) -> None:
    """Run ``v``'s rules for the inputs that need a gradient, and accumulate."""
    prim = v.prim
    meta = v.meta
    # a rule gets (ans, *inputs): Variables on the graph when building one, else raw values
    if create_graph:
        args = rule_inputs(v)
    elif v.unpack is None:
        args = e[n:]
    else:
        args = v.values()
    joint = prim.vjp
    if joint is not None:
        flags = tuple(p is not None and p in needed for p in e[:n])
        joint_grads = joint(g, flags, *args, **kw) if kw else joint(g, flags, *args)
    vjps = prim.vjps
    get = grads.get
    for i in range(n):
        p = e[i]
        if p is None or p not in needed:
            continue
        if joint is not None:
            gu = joint_grads[i]
        else:
            rule = vjps[i]
            if rule is None:
                continue
            gu = rule(g, *args, **kw) if kw else rule(g, *args)
        if gu is None:
            continue
        if meta is not None and meta[i] is not None:  # broadcast or promoted
            gu = _to_input(gu, meta[i])
        prev = get(p)
        grads[p] = gu if prev is None else prev + gu


def _to_input(gu: Any, meta: tuple) -> Any:
    """A gradient summed back over the axes its input was broadcast along, and
    cast to the input's dtype (``meta``: the input's shape and dtype)."""
    shape, dtype = meta
    if tuple(gu.shape) != shape:
        gu = unbroadcast(gu, shape)
    if gu.dtype != dtype:
        gu = astype(gu, dtype)
    return gu


# Bound last: these modules import this one (variable.py imports it at its end).
from ._backend import namespace_of as _namespace  # noqa: E402
from .variable import Variable, wrap  # noqa: E402
from .ops._core import unbroadcast  # noqa: E402
from .ops.manipulation import astype  # noqa: E402

_new_var = Variable.__new__
