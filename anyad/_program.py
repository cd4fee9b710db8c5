"""Flat programs: a recorded computation turned into kernel calls over slots.

A :class:`Program` is what :mod:`anyad.compile` caches and replays. It holds a
list of slots and a list of instructions ``(kernel, out, a, b)``: ``kernel`` is
a primitive's forward ``prim.fwd`` bound to its namespace ``xp`` and to its
parameters, ``a`` and ``b`` are the slots it reads and ``out`` the slot it
writes. Replaying calls the kernels on raw arrays: no Variable, no recording.

:func:`build_program` makes one from a recorded graph: it walks back from the
outputs (iteratively), so only what the outputs need is kept (dead code never
enters); operations on constants only are folded into constants; and slots are
allocated like registers, each value's slot being reused once its last reader
has run, so a replay holds about as many arrays at once as the widest point of
the computation, not one per operation.

Replay makes no host synchronisation and no data-dependent decision: the same
kernels run in the same order on every call, reading fixed input slots and
writing fixed output slots. That is what CUDA stream capture needs, and
:func:`anyad.backends.cuda_graph.capture_cuda_graph` does it for CuPy programs.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Sequence

from ._backend import namespace_of
from .backends.replay import binary_ufunc, number_operand
from .backends.scatter import TakeKey
from ._saves import Meta
from .graph import Node, OpType, toposort, vertex
from .variable import Variable, attach

__all__ = ["Program", "FlatGraph", "build_program", "flatten_graph", "Uncompilable"]

_SCALARS = frozenset((bool, int, float, complex))
_IN, _CONST, _OP = 0, 1, 2
_UNARY, _GATHER = -1, -2  # the ``b`` field of an instruction that is not binary


class Uncompilable(Exception):
    """The graph holds something a program cannot reproduce faithfully."""


def identity(xp: Any, x: Any) -> Any:
    """The forward of a value passed on unchanged (``stop_gradient``, ``detach``)."""
    return x


# ----------------------------------------------------------------------------
# Kernels: prim.fwd bound to xp and the parameters
# ----------------------------------------------------------------------------


def _code_key(f: Any) -> Any:
    code = getattr(f, "__code__", None)
    if code is None or f.__defaults__ or f.__kwdefaults__ or f.__closure__:
        return None
    return (code.co_code, code.co_consts, code.co_argcount, code.co_kwonlyargcount, code.co_flags)


# Forwards written exactly as these lambdas are the operator or the namespace
# function itself: binding it directly saves two Python calls per kernel. The
# match is on compiled bytecode, so a forward written any other way keeps its
# general form (functools.partial).
_OPERATORS = {
    _code_key(lambda xp, a, b: a + b): operator.add,
    _code_key(lambda xp, a, b: a - b): operator.sub,
    _code_key(lambda xp, a, b: a * b): operator.mul,
    _code_key(lambda xp, a, b: a / b): operator.truediv,
    _code_key(lambda xp, a, b: a ** b): operator.pow,
    _code_key(lambda xp, x: -x): operator.neg,
    _code_key(lambda xp, x: +x): operator.pos,
}
_XP_CALLS = (_code_key(lambda xp, x: xp.f(x)), _code_key(lambda xp, a, b: xp.f(a, b)))


def _kernel(fwd: Any, xp: Any, kw: dict | None) -> Any:
    if kw:
        return functools.partial(fwd, xp, **kw)
    key = _code_key(fwd)
    if key is not None:
        op = _OPERATORS.get(key)
        if op is not None:
            return op
        if key in _XP_CALLS:
            f = getattr(xp, fwd.__code__.co_names[0], None)
            if f is not None:
                return f
    return functools.partial(fwd, xp)


class _Hole:
    """A place in a keyword parameter where an array is read from a slot."""

    __slots__ = ("i",)

    def __init__(self, i: int):
        self.i = i


def _is_array(x: Any) -> bool:
    return type(x) not in _SCALARS and hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, type)


def _is_bool(x: Any) -> bool:
    x = x.value if isinstance(x, Variable) else x
    return namespace_of(x).isdtype(x.dtype, "bool")


def _has_arrays(obj: Any) -> bool:
    t = type(obj)
    if t is tuple or t is list:
        return any(_has_arrays(o) for o in obj)
    if t is dict:
        return any(_has_arrays(o) for o in obj.values())
    if t is TakeKey:
        return True
    return isinstance(obj, Variable) or _is_array(obj)


def _split(obj: Any, holes: list) -> Any:
    """``obj`` with each array (or Variable) inside replaced by a :class:`_Hole`."""
    t = type(obj)
    if t is tuple or t is list:
        return t(_split(o, holes) for o in obj)
    if t is dict:
        return {k: _split(o, holes) for k, o in obj.items()}
    if t is TakeKey:
        return TakeKey(_split(obj.indices, holes), obj.axis)
    if isinstance(obj, Variable) or _is_array(obj):
        holes.append(obj)
        return _Hole(len(holes) - 1)
    return obj


def _fill(obj: Any, values: list) -> Any:
    t = type(obj)
    if t is _Hole:
        return values[obj.i]
    if t is tuple or t is list:
        return t(_fill(o, values) for o in obj)
    if t is dict:
        return {k: _fill(o, values) for k, o in obj.items()}
    if t is TakeKey:
        return TakeKey(_fill(obj.indices, values), obj.axis)
    return obj


def _gather(fwd: Any, xp: Any, args: tuple, template: dict | None, holes: tuple) -> Any:
    """A kernel that reads its own slots (any arity, arrays inside parameters)."""
    if holes:
        def kernel(s: list) -> Any:
            return fwd(xp, *[s[i] for i in args], **_fill(template, [s[i] for i in holes]))
    else:
        base = functools.partial(fwd, xp, **template) if template else functools.partial(fwd, xp)

        def kernel(s: list) -> Any:
            return base(*[s[i] for i in args])
    return kernel


# ----------------------------------------------------------------------------
# The program
# ----------------------------------------------------------------------------


class Program:
    """A computation as kernel calls over slots, replayed on raw arrays.

    Call it with a sequence of arrays aligned with the inputs it was built
    for (then, for a program built with ``live=True``, the current values of
    :attr:`live`); it returns a list aligned with its outputs (``None`` where
    an output was ``None``).

    Attributes
    ----------
    code : tuple
        The instructions ``(kernel, out, a, b)``: ``s[out] = kernel(s[a], s[b])``
        when ``b >= 0``, ``kernel(s[a])`` when ``b == -1``, ``kernel(s)`` (a
        kernel that reads its own slots) when ``b == -2``.
    n_slots : int
        How many slots the replay uses: the most arrays it holds at once.
    live : list of Variable
        Leaves read at every call (``live=True``), after the inputs.
    names : tuple of str
        The primitive of each instruction (for inspection).
    """

    __slots__ = ("code", "template", "inputs", "outputs", "n_slots", "live", "names", "n_inputs")

    def __call__(self, args: Sequence[Any]) -> list:
        s = self.template.copy()
        for k, slot in self.inputs:
            s[slot] = args[k]
        for kernel, out, a, b in self.code:
            if b >= 0:
                s[out] = kernel(s[a], s[b])
            elif b == -1:
                s[out] = kernel(s[a])
            else:
                s[out] = kernel(s)
        return [None if o < 0 else s[o] for o in self.outputs]

    @property
    def n_kernels(self) -> int:
        """The number of kernel calls in one replay."""
        return len(self.code)

    def __repr__(self) -> str:
        return f"<anyad Program: {len(self.code)} kernels, {self.n_slots} slots, {len(self.outputs)} outputs>"


class FlatGraph:
    """A recorded computation flattened into operations, before slots are given.

    What :func:`build_program` allocates slots for, and what other
    interpreters of a traced function read (:func:`anyad.vmap` runs it
    with batching rules, a saved program writes it out).

    Attributes
    ----------
    nodes : list
        ``[kind, payload]`` per value: ``kind`` 0 an input (payload: its
        index), 1 a constant (the value), 2 an operation (payload:
        ``(prim, xp, arg_ids, template, hole_ids)``: the primitive, the
        namespace its kernel runs in, the node ids of its positional inputs,
        its keyword parameters with each array replaced by a hole, and the
        node ids that fill the holes in order).
    order : list of int
        The operation nodes, each after the nodes it reads.
    outputs : list of int
        The node id of each output (-1 for ``None``).
    n_inputs : int
        The inputs, then the live leaves.
    live : list of Variable
        Leaves read at every call (``live=True``), after the inputs.
    dtypes : dict
        Node id -> output dtype, for the binary operations with a Python
        number operand (the replay may bind that number once, as an array).
    """

    __slots__ = ("nodes", "order", "outputs", "n_inputs", "live", "dtypes")

    def __init__(self, nodes: list, order: list, outputs: list, n_inputs: int, live: list,
                 dtypes: dict | None = None):
        self.nodes, self.order, self.outputs, self.n_inputs, self.live = nodes, order, outputs, n_inputs, live
        self.dtypes = {} if dtypes is None else dtypes


def build_program(outputs: Sequence[Any], inputs: Sequence[Any], **options: Any) -> Program:
    """Flatten the graph that computes ``outputs`` from ``inputs`` into a
    :class:`Program` (the options are :func:`flatten_graph`'s)."""
    g = flatten_graph(outputs, inputs, **options)
    return _allocate(g.nodes, g.order, g.outputs, g.n_inputs, g.live, g.dtypes)


def flatten_graph(
    outputs: Sequence[Any],
    inputs: Sequence[Any],
    *,
    producers: dict | None = None,
    live: bool = False,
    forbidden: Any = None,
    strict: bool = False,
    fixed_shapes: bool = False,
    cut: bool = False,
) -> FlatGraph:
    """Flatten the graph that computes ``outputs`` from ``inputs`` into a :class:`FlatGraph`.

    Parameters
    ----------
    outputs : sequence
        Variables (their recorded graphs are compiled), raw arrays, Python
        scalars or ``None``.
    inputs : sequence
        What the program reads at every call, matched by identity: Variables
        (the walk stops there) and raw arrays (an operand or keyword array
        that is this very object is read from the input).
    producers : dict, optional
        ``id(array) -> Variable``: raw arrays (say an index array inside a
        ``getitem`` key) known to be the value of a recorded Variable; the
        program computes them.
    live : bool
        Leaves that are not inputs become extra inputs (:attr:`Program.live`),
        read at every call; otherwise their values are constants.
    forbidden : container of Variable, optional
        Variables the walk must not enter (it raises :class:`Uncompilable`).
    strict : bool
        Raise :class:`Uncompilable` for a raw array that is neither an input
        nor produced (it could hold data the program cannot recompute).
    fixed_shapes : bool
        Raise :class:`Uncompilable` for an operation whose output shape
        depends on the values (boolean-mask indexing): the caller keys programs
        by input shapes only.
    cut : bool
        (With ``live``.) An operation that does not depend on the inputs is not
        recomputed: its value is read as a live leaf (attached to its node, so
        gradients still flow through it), as a value computed before the
        trace began (a recorded forward pass a derivative reads) should be.
    """
    producers = producers or {}
    in_var: dict = {}
    in_arr: dict = {}
    for k, x in enumerate(inputs):
        if isinstance(x, Variable):
            in_var.setdefault(vertex(x), k)
        elif x is not None and type(x) not in _SCALARS:
            in_arr.setdefault(id(x), k)
    nodes: list = []  # [kind, payload]
    order: list = []  # op node ids, inputs before their readers
    ids: dict = {}  # vertex (graph Node or leaf Variable) -> program node id
    in_nodes: dict = {}  # input index -> node id
    const_nodes: dict = {}  # id(array) -> node id
    live_vars: list = []
    xp_of: dict = {}  # program node id -> the namespace of its value, where known
    number_dtypes: dict = {}  # op node id -> output dtype, for binary operations with a Python number

    def new(kind: int, payload: Any) -> int:
        nodes.append([kind, payload])
        return len(nodes) - 1

    def input_node(k: int) -> int:
        n = in_nodes.get(k)
        if n is None:
            n = in_nodes[k] = new(_IN, k)
            x = inputs[k] if k < len(inputs) else live_vars[k - len(inputs)]
            x = x.value if isinstance(x, Variable) else x
            if _is_array(x):
                xp_of[n] = namespace_of(x)
        return n

    def raw_node(x: Any) -> int:
        if x is None or type(x) in _SCALARS or not _is_array(x):
            key = (type(x), x.hex() if type(x) is float else x)  # one slot per distinct scalar
            try:
                n = const_nodes.get(key)
            except TypeError:  # unhashable: its own slot
                return new(_CONST, x)
            if n is None:
                n = const_nodes[key] = new(_CONST, x)
            return n
        k = in_arr.get(id(x))
        if k is not None:
            return input_node(k)
        p = producers.get(id(x))
        if p is not None:
            if p not in ids and reaching is not None and type(p) is Node and p not in reaching:
                return cut_node(p, x)
            return ids[p]
        n = const_nodes.get(id(x))
        if n is None:
            if strict:
                raise Uncompilable("a raw array computed outside the recorded graph")
            n = const_nodes[id(x)] = new(_CONST, x)
            xp_of[n] = namespace_of(x)
        return n

    def leaf_node(v: Variable) -> int:
        k = in_arr.get(id(v.value))
        if k is not None:
            return input_node(k)
        if live:
            live_vars.append(v)
            return input_node(len(inputs) + len(live_vars) - 1)
        n = new(_CONST, v.value)
        xp_of[n] = namespace_of(v.value)
        return n

    def is_input_value(x: Any) -> bool:
        """An edge whose value is itself a program input (read by identity)."""
        return x is not None and type(x) not in _SCALARS and type(x) is not Meta and id(x) in in_arr

    def holes_of(node: Node) -> list:
        kw = node.kw
        holes: list = []
        if kw and _has_arrays(kw):
            _split(kw, holes)
        return holes

    def stale_leaf(p: Any, x: Any) -> bool:
        """A leaf whose value was replaced since the node read it (a write into
        a constant): the node's input is the value it read, a constant."""
        return type(p) is not Node and p is not None and p.value is not x and _is_array(x)

    def deps(node: Node) -> list:
        saved = node.values()
        out = []
        for p, x in zip(node.parents, saved[1:]):
            if is_input_value(x) or stale_leaf(p, x):
                continue
            if p is not None:
                out.append(p)
            else:
                q = producers.get(id(x))
                if q is not None:
                    out.append(q)
        for h in holes_of(node):
            out.append(vertex(h) if isinstance(h, Variable) else producers.get(id(h)))
        return [u for u in out if u is not None]

    def edge(p: Any, x: Any) -> int:
        if is_input_value(x) or p is None or stale_leaf(p, x):
            return raw_node(x)
        if reaching is not None and p not in reaching and type(p) is Node:
            return cut_node(p, x)
        return ids[p]

    cut_ids: dict = {}

    def cut_node(p: Node, x: Any) -> int:
        """The value ``x`` of an operation that does not depend on the inputs, read as it is."""
        n = cut_ids.get(p)
        if n is None:
            if p not in differentiable:  # nothing outside needs a gradient through it: a constant
                n = cut_ids[p] = new(_CONST, x)
                xp_of[n] = namespace_of(x)
                return n
            live_vars.append(attach(x, p))
            n = cut_ids[p] = input_node(len(inputs) + len(live_vars) - 1)
        return n

    def hole_id(h: Any) -> int:
        if not isinstance(h, Variable):
            return raw_node(h)
        u = vertex(h)
        if reaching is not None and u not in reaching and type(u) is Node:
            return cut_node(u, h.value)
        return ids[u]

    def touches_input(node: Node) -> bool:
        return (any(is_input_value(x) for x in node.values()[1:])
                or any(not isinstance(h, Variable) and is_input_value(h) for h in holes_of(node)))

    def reaching_set() -> set:
        """The vertices whose values depend on the inputs."""
        roots = [vertex(o) for o in outputs if isinstance(o, Variable)]
        roots += [producers[id(o)] for o in outputs
                  if o is not None and not isinstance(o, Variable) and id(o) in producers]
        order_, _ = toposort(roots, stop=set(in_var), parents=deps)
        reach = set(in_var)
        for v in order_:
            if v in reach or (type(v) is Node and (touches_input(v) or any(d in reach for d in deps(v)))):
                reach.add(v)
            elif (v.requires_grad if type(v) is not Node else any(d in differentiable for d in deps(v))):
                differentiable.add(v)  # leads to a leaf outside that requires grad
        return reach

    differentiable: set = set()
    reaching = reaching_set() if cut else None

    def walk_deps(node: Node) -> list:
        out = deps(node)
        return out if reaching is None else [u for u in out if u in reaching or type(u) is not Node]

    def finish(node: Node) -> int:
        prim = node.prim
        saved = node.values()
        arg_ids = [edge(p, x) for p, x in zip(node.parents, saved[1:])]
        kw = node.kw
        holes: list = []
        template = _split(kw, holes) if kw and _has_arrays(kw) else kw
        hole_ids = [hole_id(h) for h in holes]
        if fixed_shapes and prim.op_type is OpType.GETITEM and any(_is_bool(h) for h in holes):
            raise Uncompilable("boolean-mask indexing: its output shape depends on the mask's values")
        if (len(arg_ids) == 1 and not kw and (prim.fwd is identity or prim.op_type is OpType.POSITIVE)
                and not (cut and prim.vjps == ())):  # a graph run again with gradients keeps stop_gradient
            return arg_ids[0]  # the same value under another name
        if saved[0] is not None and all(nodes[i][0] == _CONST for i in arg_ids + hole_ids):
            n = new(_CONST, saved[0])  # constant folding: computed once, while tracing
            xp_of[n] = namespace_of(saved[0])
            return n
        arrays = [x for x in saved if x is not None and type(x) not in _SCALARS and type(x) is not Meta
                  and _is_array(x)]
        if arrays:
            xp = namespace_of(arrays[0])
        else:  # a node that keeps no array: the namespace its inputs come from
            xp = next((xp_of[i] for i in arg_ids if i in xp_of), None)
            if xp is None:
                raise Uncompilable(f"a {prim.name} operation whose library cannot be told")
        xp_of[len(nodes)] = xp
        pid = new(_OP, (prim, xp, arg_ids, template, hole_ids))
        order.append(pid)
        if len(arg_ids) == 2 and any(type(x) in _SCALARS for x in saved[1:]):
            dtype = getattr(node, "dtype", None)
            if dtype is None:  # elementwise, no meta: the dtype of each array input
                arrays = (x for x in saved if type(x) not in _SCALARS and hasattr(x, "dtype"))
                dtype = next((x.dtype for x in arrays), None)
            if dtype is not None:
                number_dtypes[pid] = dtype
        return pid

    def visit(root: Any) -> int:
        stop = set(in_var) | set(ids)  # inputs, and what earlier outputs already compiled
        if forbidden is not None:
            stop |= set(forbidden)
        order_, _ = toposort([root], stop=stop, parents=walk_deps)
        for v in order_:
            if v in ids:
                continue
            k = in_var.get(v)
            if k is not None:
                ids[v] = input_node(k)
            elif forbidden is not None and v in forbidden:
                raise Uncompilable("the walk reached a Variable outside the program's inputs")
            elif type(v) is not Node:
                ids[v] = leaf_node(v)
            else:
                ids[v] = finish(v)
        return ids[root]

    out_ids = []
    for o in outputs:
        if o is None:
            out_ids.append(-1)
        elif isinstance(o, Variable):
            u = vertex(o)
            out_ids.append(cut_node(u, o.value) if reaching is not None and u not in reaching and type(u) is Node
                           else visit(u))
        else:
            p = producers.get(id(o))
            out_ids.append(visit(p) if p is not None and in_arr.get(id(o)) is None else raw_node(o))
    return FlatGraph(nodes, order, out_ids, len(inputs) + len(live_vars), live_vars, number_dtypes)


def _allocate(nodes: list, order: list, out_ids: list, n_inputs: int, live_vars: list,
              dtypes: dict | None = None) -> Program:
    """Give every value a slot, reusing a slot once its last reader has run.
    On NumPy a binary operator is bound to its ufunc, and a Python number
    operand of an operation in ``dtypes`` to a 0-d array of that dtype
    (:mod:`anyad.backends.replay`): the same values, less work per call."""
    end = len(order)
    last: dict = {}
    for t, nid in enumerate(order):
        _, (_, _, arg_ids, _, hole_ids) = nodes[nid]
        for a in arg_ids:
            last[a] = t
        for a in hole_ids:
            last[a] = t
    for o in out_ids:
        if o >= 0:
            last[o] = end
    slot_of: dict = {}
    free: list = []
    n_slots = 0

    def alloc() -> int:
        nonlocal n_slots
        if free:
            return free.pop()
        n_slots += 1
        return n_slots - 1

    template_items = []
    number_slots: dict = {}

    def number_slot(nid: int, dtype: Any) -> int:
        """The slot of constant ``nid`` as a 0-d array of ``dtype``, when it is a
        Python number NumPy converts so (a constant slot of its own)."""
        nonlocal n_slots
        value = nodes[nid][1]
        key = (nid, dtype)
        slot = number_slots.get(key)
        if slot is None:
            array = number_operand(value, dtype)
            if array is None:
                return slot_of[nid]
            slot = number_slots[key] = n_slots
            n_slots += 1
            template_items.append((slot, array))
        return slot

    inputs = []
    for nid, (kind, payload) in enumerate(nodes):
        if nid in last and kind == _CONST:
            slot_of[nid] = alloc()
            template_items.append((slot_of[nid], payload))
    for nid, (kind, payload) in enumerate(nodes):
        if nid in last and kind == _IN:
            slot_of[nid] = alloc()
            inputs.append((payload, slot_of[nid]))
    code = []
    names = []
    for t, nid in enumerate(order):
        prim, xp, arg_ids, template, hole_ids = nodes[nid][1]
        for a in set(arg_ids) | set(hole_ids):
            if last[a] == t and nodes[a][0] != _CONST:
                free.append(slot_of[a])
        out = slot_of[nid] = alloc()
        if nid not in last:  # never read (cannot happen for a walk from the outputs)
            free.append(out)
        a_slots = tuple(slot_of[a] for a in arg_ids)
        if not hole_ids and len(a_slots) in (1, 2):
            kernel = _kernel(prim.fwd, xp, template)
            if len(a_slots) == 2:
                ufunc = binary_ufunc(xp, kernel)
                if ufunc is not None:
                    kernel = ufunc
                    dtype = dtypes.get(nid) if dtypes else None
                    if dtype is not None:
                        a_slots = tuple(number_slot(a, dtype) if nodes[a][0] == _CONST else s_
                                        for a, s_ in zip(arg_ids, a_slots))
            code.append((kernel, out, a_slots[0], a_slots[1] if len(a_slots) == 2 else _UNARY))
        else:
            kernel = _gather(prim.fwd, xp, a_slots, template, tuple(slot_of[h] for h in hole_ids))
            code.append((kernel, out, 0, _GATHER))
        names.append(prim.name)
    program = Program.__new__(Program)
    s = [None] * n_slots
    for slot, value in template_items:
        s[slot] = value
    program.template = s
    program.code = tuple(code)
    program.inputs = tuple(inputs)
    program.outputs = tuple(slot_of[o] if o >= 0 else -1 for o in out_ids)
    program.n_slots = n_slots
    program.live = live_vars
    program.names = tuple(names)
    program.n_inputs = n_inputs
    return program
