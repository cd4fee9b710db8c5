"""The computation graph: primitives, nodes, and the one walk over them.

A recorded value is a :class:`~anyad.Variable` (the user's handle: its array
and a reference to the :class:`Node` that produced it; :mod:`anyad.variable`).
A node holds the primitive, its parents (the nodes, or leaf Variables, its
inputs came from), non-array parameters, and exactly the values its
primitive's rules read (``Primitive.saves``): nothing else. A Variable the
user drops is freed even while the graph behind it is still needed; a graph
holds no reference cycle, so it is freed by reference counting alone.

:func:`toposort` is the one walk: backprop (:mod:`anyad.backprop`), forward
mode, the compiled-program builder and the cache key all use it. This module
knows nothing of Variables beyond their ``_node`` and ``requires_grad``.
"""

from __future__ import annotations

import enum
import itertools
import operator
from typing import Any, Callable, Sequence

from ._saves import Meta, Saves, derive_saves

__all__ = ["OpType", "Primitive", "Node", "PRIMITIVES", "Saves", "toposort", "vertex", "GraphFreedError"]


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
    PINV = 85
    TO_BACKEND = 86
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
    # convolution (anyad.ops.conv)
    CONV = 120
    PATCHES = 121
    FOLD = 122
    # special functions (anyad.ops.special, special_logistic, special_gamma)
    ERFC = 200
    ERFINV = 201
    ERFCINV = 202
    NDTR = 203
    LOG_NDTR = 204
    NDTRI = 205
    EXPIT = 206
    LOGIT = 207
    LOG_EXPIT = 208
    SOFTPLUS = 209
    SINC = 210
    ENTR = 211
    XLOGY = 212
    XLOG1PY = 213
    REL_ENTR = 214
    KL_DIV = 215
    GAMMALN = 216
    DIGAMMA = 217
    POLYGAMMA = 218
    I0 = 219
    I0E = 220
    I1 = 221
    I1E = 222
    # incomplete beta and gamma functions (anyad.ops.special_incomplete)
    BETALN = 223
    BETAINC = 224
    BETAINCC = 225
    STDTR = 226
    GAMMAINC = 227
    GAMMAINCC = 228


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
    holomorphic : bool
        The rules are written as for real values, ``g * f'(x)`` (the default;
        true of every rule of a holomorphic function, and of every linear rule
        with real coefficients). Where the cotangent is complex, the engine
        applies them in PyTorch's convention, ``conj(rule(conj(g)))``, so that
        ``g * conj(f'(z))`` reaches the input. False for rules written in that
        convention already (``conj``, ``real``, ``imag``, the FFTs, user rules).
    vjp : callable, optional
        A joint rule instead of per-input ones (``vjps=()``):
        ``vjp(g, needed, ans, *inputs, **params)`` returns one gradient per
        input (``None`` where ``needed[i]`` is false), from one call: for
        primitives whose gradients share work (a recomputed checkpoint, a
        user's custom rule). Such a primitive declares ``saves``.

    Its batching rule for :func:`anyad.vmap`, ``batch``, is attached by
    :mod:`anyad.ops.batching` (the elementwise ones where they are declared).
    ``raw_vjps``, where a module sets it, is ``(vjps, raw)``: ``raw`` the same
    rules written for raw arrays of one library only (``g * b`` for
    ``multiply(g, b)``: on raw arrays an operator is the primitive's own
    forward, without a function call's dispatch). A plain backward pass calls
    ``raw`` while ``vjps`` is still the tuple they were written for (rules
    replaced later are never shadowed); every other use calls ``vjps``.
    ``None`` (the default): ``vjps`` everywhere.
    """

    __slots__ = ("name", "op_type", "fwd", "vjps", "vjp", "broadcasts", "jvp", "declared", "_saves",
                 "_by_mask", "holomorphic", "batch", "raw_vjps")

    def __init__(self, name: str, op_type: OpType | None, fwd: Callable, vjps: Any, broadcasts: bool = False,
                 saves: Saves | None = None, vjp: Callable | None = None, register: bool = True,
                 holomorphic: bool = True):
        self.name = name
        self.op_type = op_type
        self.fwd = fwd
        self.vjps = vjps
        self.raw_vjps = None
        self.vjp = vjp
        self.holomorphic = holomorphic
        self.broadcasts = broadcasts
        self.jvp = None  # forward-mode rule, filled in where one is defined
        self.batch = None  # batching rule (anyad.vmap), filled in by anyad.ops.batching
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
        >>> # codes: 0 none, 1 shape, 2 value
        >>> PRIMITIVES[OpType.MUL].saves          # both inputs
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
    seq : int
        Its place in recording order (:func:`next_seq`): a node is recorded
        after every node it reads, so sorting by ``seq`` is a topological
        order (torch's ``sequence_nr``).
    """

    __slots__ = ("prim", "edges", "kw", "shape", "dtype", "meta", "unpack", "seq", "__weakref__")

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

#: the next node's place in recording order (one counter for every thread:
#: a node read by another thread's recording is still older than its readers)
next_seq = itertools.count().__next__
_seq_of = operator.attrgetter("seq")


def out_meta(node: Node) -> tuple:
    """``(shape, dtype)`` of ``node``'s output, or ``(None, None)`` for an
    elementwise node whose output is shaped like each of its array inputs."""
    return getattr(node, "shape", None), getattr(node, "dtype", None)


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


# ----------------------------------------------------------------------------
# Backprop
# ----------------------------------------------------------------------------


KEEP = 4  #: for make_node: keep every value (hand-built nodes; compiled programs read them all)
_SCALARS = frozenset((bool, int, float, complex))
class _Every:
    """The type of :data:`EVERY` (a readable repr in signatures)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "EVERY"


EVERY = _Every()  #: toposort: keep every vertex reached


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


def toposort(roots: Sequence[Any], wanted: Any = EVERY, stop: Any = None,
             parents: Callable[[Node], Sequence[Any]] | None = None) -> tuple[list, set]:
    """The one walk of the graph: the vertices (nodes and leaf Variables)
    reachable from ``roots``, inputs before their consumers, that lie on a path
    to a vertex of ``wanted``; and the same as a set.

    ``wanted`` is a set of vertices, :data:`EVERY` (every vertex reached), or
    ``None`` for the leaves that require grad (what ``Variable.backward``
    accumulates into). An iterative walk (a 10**6-operation chain needs no
    recursion) visits each vertex once; the nodes reached are then sorted by
    :attr:`Node.seq` (recording order is a topological order), and one pass
    in that order keeps those on a path to ``wanted``. The walk does not go
    past the vertices in ``stop``. ``parents(node)``, when given, replaces the
    node's own parents (the program builder follows more edges, and fewer).
    """
    if parents is not None:
        return _toposort_by(roots, parents, stop)
    every = wanted is EVERY
    # every vertex reached, each once; the nodes then in recording order (a topological one)
    nodes: list = []
    leaves: list = []
    seen = set(roots)
    stack = list(seen)
    pop, push, see = stack.pop, stack.append, seen.add
    while stack:
        v = pop()
        if type(v) is not Node or (stop is not None and v in stop):
            leaves.append(v)
            continue
        e = v.edges
        if e is None:
            raise _freed(v)
        nodes.append(v)
        for p in e[:len(e) >> 1]:
            if p is not None and p not in seen:
                see(p)
                push(p)
    nodes.sort(key=_seq_of)
    order: list = []
    needed: set = set()
    for v in leaves:
        if every or (v.requires_grad and v._node is None if wanted is None else v in wanted):
            needed.add(v)
            order.append(v)
    add, append = needed.add, order.append
    for v in nodes:
        if every or (wanted is not None and v in wanted):
            add(v)
            append(v)
            continue
        e = v.edges
        for p in e[:len(e) >> 1]:
            if p is not None and p in needed:
                add(v)
                append(v)
                break
    return order, needed


def _toposort_by(roots: Sequence[Any], parents: Callable[[Node], Sequence[Any]], stop: Any) -> tuple[list, set]:
    """:func:`toposort` of every vertex reached, with the edges ``parents`` gives."""
    order: list = []
    state: dict = {}
    stack = list(reversed(roots))
    while stack:
        v = stack.pop()
        s = state.get(v)
        if s == 2:
            continue
        if type(v) is not Node or (stop is not None and v in stop):
            state[v] = 2
            order.append(v)
            continue
        if s is None:
            if v.edges is None:
                raise _freed(v)
            state[v] = 1
            stack.append(v)
            stack.extend(p for p in reversed(parents(v)) if p not in state)
            continue
        state[v] = 2
        order.append(v)
    return order, set(order)
