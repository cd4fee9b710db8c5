"""The computation graph: primitives, recorded operations, recording state, backprop.

A recorded value is a :class:`~anyad.Variable` that carries its node itself:
``_prim`` (the :class:`Primitive`), ``_args`` (its inputs, Variables or raw
constants, followed by the raw values the kernel saw, in one tuple) and ``_kw``
(non-array parameters); nothing else is retained. One object per operation and
no reference cycle, so a graph is freed by reference counting alone as soon as
its outputs are dropped. :class:`Operation` is the public view of a node.

:func:`backprop` is a pure function from targets, seeds and sources to gradients;
every public face (GradientTracker, Graph, ``Variable.backward``, the functional
transforms) is a thin layer over it.
"""

from __future__ import annotations

import contextvars
import enum
import weakref
from typing import Any, Callable, Sequence

__all__ = ["OpType", "Primitive", "Operation", "backprop", "PRIMITIVES"]


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
    """One differentiable operation: a forward kernel and its VJP rules, side by side.

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
    """

    __slots__ = ("name", "op_type", "fwd", "vjps", "broadcasts", "jvp")

    def __init__(self, name: str, op_type: OpType, fwd: Callable, vjps: Any, broadcasts: bool = False):
        self.name = name
        self.op_type = op_type
        self.fwd = fwd
        self.vjps = vjps
        self.broadcasts = broadcasts
        self.jvp = None  # forward-mode rule, filled in where one is defined
        PRIMITIVES[op_type] = self

    def __repr__(self) -> str:
        return f"<anyad primitive {self.name}>"


PRIMITIVES: dict[OpType, Primitive] = {}


class Operation:
    """A recorded application of a primitive: one node of the graph.

    The engine stores a node's fields on its output Variable itself (one object
    per operation, no reference cycle); an Operation is the public view of
    them, made on demand by :attr:`Variable.result_of`. The GradientTracker
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

    __slots__ = ("prim", "_args", "other_params", "_out")

    def __init__(self, op_type: OpType, other_params: dict | None = None):
        try:
            self.prim = PRIMITIVES[op_type]
        except KeyError:
            raise ValueError(f"anyad.Operation: {op_type!r} is not a recordable primitive") from None
        self._args = ()
        self.other_params = other_params or None
        self._out = None

    @property
    def op_type(self) -> OpType:
        """The :class:`OpType` of this operation."""
        return self.prim.op_type

    @property
    def params(self) -> tuple:
        """The inputs: Variables, or raw constants."""
        args = self._args
        return () if args is None else args[: len(args) >> 1]

    @property
    def values(self) -> tuple:
        """The raw arrays (or scalars) the kernel saw."""
        args = self._args
        return () if args is None else args[len(args) >> 1:]

    @property
    def output(self) -> Any:
        """The Variable this operation produced (held weakly), or ``None``."""
        return None if self._out is None else self._out()

    def add_params(self, params: Sequence[Any]) -> None:
        """Set the input Variables (reference API)."""
        params = tuple(params)
        self._args = params + tuple(getattr(p, "value", p) for p in params)
        out = self.output
        if out is not None:
            out._args = self._args

    def add_output(self, output: Any) -> None:
        """Set the output Variable (reference API); it is held weakly."""
        self._out = weakref.ref(output)
        output._prim = self.prim
        output._args = self._args
        output._kw = self.other_params
        output._view = self
        output.requires_grad = True

    def __eq__(self, value: object) -> bool:
        if isinstance(value, OpType):
            return self.prim.op_type is value
        return self is value

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Operation({self.op_type.name})"


# ----------------------------------------------------------------------------
# Recording state: one context variable (thread- and async-safe)
# ----------------------------------------------------------------------------

AUTO = 0  #: record an operation when one of its inputs requires grad
ALL = 1  #: record every operation on Variables (higher-order backprop)
TRACK = 2  #: record everything, and keep ``param_to`` links (GradientTracker)
OFF = 3  #: record nothing (no_grad)

MODE: contextvars.ContextVar[int] = contextvars.ContextVar("anyad_recording", default=AUTO)


class recording:
    """Context manager setting the recording mode for the current context."""

    __slots__ = ("mode", "_token")

    def __init__(self, mode: int):
        self.mode = mode
        self._token = None

    def __enter__(self) -> "recording":
        self._token = MODE.set(self.mode)
        return self

    def __exit__(self, *exc: object) -> None:
        MODE.reset(self._token)


# ----------------------------------------------------------------------------
# Backprop
# ----------------------------------------------------------------------------


_REAL_SCALARS = frozenset((bool, int, float))


class GraphFreedError(RuntimeError):
    """Backprop reached an operation whose saved values were already freed."""


def _needed_in_order(targets: Sequence[Any], wanted: set | None, Variable: type) -> tuple[list, set]:
    """The Variables reachable from ``targets`` that lie on a path to a wanted
    source (``wanted=None``: to a leaf that requires grad), inputs before their
    consumers, and the same as a set.

    Iterative depth-first post-order (a 10**6-operation chain needs no
    recursion); each node is entered once and finished once.
    """
    order: list = []
    needed: set = set()
    state: dict = {}  # 1: entered, 2: finished
    stack = list(reversed(targets))
    pop, push = stack.pop, stack.append
    while stack:
        v = pop()
        s = state.get(v)
        if s == 2:
            continue
        prim = v._prim
        if s is None:  # enter: come back after the inputs
            state[v] = 1
            push(v)
            if prim is not None:
                args = v._args
                if args is None:
                    raise GraphFreedError(
                        f"anyad: backprop reached a {prim.name} operation whose saved values were "
                        "freed by an earlier backward(); pass retain_graph=True to the first call "
                        "to differentiate the same graph twice"
                    )
                for u in args:
                    if isinstance(u, Variable) and u not in state:
                        push(u)
            continue
        state[v] = 2  # finish: every input is finished
        if wanted is None:
            need = prim is None and v.requires_grad
        else:
            need = v in wanted
        if not need and prim is not None:
            for u in v._args:
                if isinstance(u, Variable) and u in needed:
                    need = True
                    break
        if need:
            needed.add(v)
            order.append(v)
    return order, needed


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
    if not create_graph and TRACING.get() is not None:  # anyad.jit: raw gradients would be constants
        TRACING.get().plain_backprop(targets)
    wanted = None if sources is None else set(sources)
    order, needed = _needed_in_order(targets, wanted, Variable)

    grads: dict = {}
    for t, s in zip(targets, seeds):
        if t not in needed:
            continue
        if s is None:
            tv = t.value
            s = _namespace(tv).ones_like(tv)
        if create_graph:
            s = s if isinstance(s, Variable) else wrap(s)
        elif isinstance(s, Variable):
            s = s.value
        grads[t] = s if t not in grads else grads[t] + s

    found: dict = {}
    mode_token = MODE.set(ALL) if create_graph else None
    pop, get = grads.pop, grads.get
    try:
        for v in reversed(order):
            g = pop(v, None)
            if g is None:
                continue
            prim = v._prim
            if prim is None or (wanted is not None and v in wanted):
                found[v] = g
                if prim is None:
                    continue
            vjps = prim.vjps
            both = v._args
            kw = v._kw
            n = len(both) >> 1
            # a rule gets the inputs themselves when building a graph, else the raw values
            # (both = inputs + values); positions are read directly: no slices per node
            if create_graph:
                ans, k = v, 0
            else:
                ans, k = v.value, n
            for i in range(n):
                u = both[i]
                if not isinstance(u, Variable) or u not in needed:
                    continue
                rule = vjps[i]
                if rule is None:
                    continue
                if n == 1:
                    gu = rule(g, ans, both[k], **kw) if kw else rule(g, ans, both[k])
                elif n == 2:
                    gu = rule(g, ans, both[k], both[k + 1], **kw) if kw else rule(g, ans, both[k], both[k + 1])
                else:
                    gu = rule(g, ans, *both[k:k + n], **kw) if kw else rule(g, ans, *both[k:k + n])
                if gu is None:
                    continue
                # sum back over broadcast axes and keep the input's dtype; a Python number
                # beside it changes neither (``y * 1.0001``: no check needed)
                if prim.broadcasts and (n != 2 or type(both[k + 1 - i]) not in _REAL_SCALARS):
                    uv = u.value
                    if gu.shape != uv.shape:
                        gu = unbroadcast(gu, tuple(uv.shape))
                    if gu.dtype != uv.dtype:
                        gu = astype(gu, uv.dtype)
                prev = get(u)
                grads[u] = gu if prev is None else prev + gu
            if not retain_graph:
                v._args = None
    finally:
        if mode_token is not None:
            MODE.reset(mode_token)

    if sources is None:
        return [(leaf, g) for leaf, g in found.items() if leaf._prim is None]
    return [found.get(s) for s in sources]


# Bound last: these modules import this one (variable.py imports it at its end).
from ._backend import namespace_of as _namespace  # noqa: E402
from .variable import TRACING, Variable, wrap  # noqa: E402
from .ops._core import unbroadcast  # noqa: E402
from .ops.manipulation import astype  # noqa: E402
