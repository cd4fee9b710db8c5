"""Forward mode: tangents pushed through a recorded graph by per-primitive JVP rules.

A primitive's forward-mode rule sits beside its forward kernel and VJP rules
(``prim.jvp``, set in the family modules of :mod:`anyad.ops`)::

    jvp(tangents, ans, *inputs, **params) -> tangent of the output

``tangents`` holds one tangent per positional input (``None`` where the input
carries none). Like VJP rules, JVP rules are written with anyad's own
functions: on raw arrays they compute raw tangents (the fast path); given
Variables (``create_graph=True``) they record, so forward mode composes with
reverse mode and with itself (``jacfwd(grad(f))``, ``jvp`` of a ``jvp``).

How it runs: the function is evaluated once, recording its graph as reverse
mode does; :class:`ForwardSweep` then visits, inputs first, only the operations
that depend on the inputs, applying one rule per operation. The cost is one
recorded forward pass plus one rule per operation (the figure is in
``benchmarks/forward_mode_cost.py``). A primitive without a JVP rule still
works: its rule is derived by transposing its (linear in ``g``) VJP rules,
at a few times the cost of that one operation.
"""

from __future__ import annotations

from typing import Any, Sequence

from ._backend import device_of as _device, namespace_of as _namespace
from ._state import ALL, recording
from .backprop import backprop, rule_gradients, rule_inputs
from .graph import GraphFreedError, Node, out_meta, toposort, vertex
from .ops._core import unbroadcast
from .ops._helpers import is_complex
from .ops.elementwise import add, multiply
from .ops.elementwise_extra import conj
from .ops.manipulation import astype, broadcast_to
from .ops.reductions import sum as reduce_sum
from .variable import Variable, wrap

__all__ = ["ForwardSweep"]


# ----------------------------------------------------------------------------
# The sweep
# ----------------------------------------------------------------------------


def _forward_order(targets: Sequence[Any], inputs: Sequence[Any]) -> tuple[list, set]:
    """The nodes between ``inputs`` and ``targets`` that depend on an input,
    inputs' consumers first (the walk stops at the inputs, so an enclosing
    graph is never visited); and the set of those nodes with the inputs'
    vertices."""
    starts = {vertex(x) for x in inputs}
    roots = [vertex(t) for t in targets if isinstance(t, Variable)]
    order, live = toposort(roots, starts, stop=starts)
    return [v for v in order if v not in starts], live


class ForwardSweep:
    """Forward-mode differentiation of a recorded graph.

    Parameters
    ----------
    targets : sequence
        The outputs (Variables; anything else has a zero tangent).
    inputs : sequence of Variable
        The Variables the tangents are given for.
    create_graph : bool
        Run the rules on Variables and record them, so the tangents can be
        differentiated again (nested transforms).
    free : bool
        For a graph private to the caller (what :func:`anyad.jvp` records):
        release each node as soon as it is swept, and each tangent with the
        last node that reads it (as a backward pass with
        ``retain_graph=False`` does), so peak memory stays that of the recorded
        forward pass. The sweep then runs once.

    The topological order is computed once; :meth:`run` can be called with
    many tangents (one per column of a forward-mode Jacobian) unless ``free``.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> x = ad.Variable(np.array([0.0, 1.0]), requires_grad=True)
    >>> y = ad.sin(x) * x
    >>> ForwardSweep([y], [x]).run([np.ones(2)])[0]
    array([0.        , 1.38177329])
    """

    def __init__(self, targets: Sequence[Any], inputs: Sequence[Any], *, create_graph: bool = False,
                 free: bool = False):
        self.targets = list(targets)
        self.inputs = list(inputs)
        self.create_graph = create_graph
        self.free = free
        order, live = _forward_order(self.targets, self.inputs)
        self.order: list | None = order
        self._live = live

    def run(self, tangents: Sequence[Any]) -> list:
        """The tangents of the targets for the input ``tangents`` (aligned with
        the inputs; ``None`` for a zero tangent). A target that does not depend
        on the inputs gets ``None``."""
        order = self.order
        if order is None:
            raise RuntimeError("anyad.ForwardSweep: a sweep made with free=True runs once")
        free = self.free
        if free:
            self.order = None
        create = self.create_graph
        tan = _seed_tangents(self.inputs, tangents, create)
        if free:  # a tangent is dropped after its last reader
            last: dict = {}
            for k, node in enumerate(order):
                for p in node.parents:
                    if p is not None:
                        last[p] = k
            for t in self.targets:
                if isinstance(t, Variable):
                    last[vertex(t)] = len(order)
        get = tan.get
        token = recording(ALL).__enter__() if create else None
        try:
            for k in range(len(order)):
                node = order[k]
                parents = node.parents
                if parents is None:
                    raise GraphFreedError(f"anyad.jvp: the {node.prim.name} operation's saved values "
                                          "were freed")
                ts = tuple([None if p is None else get(p) for p in parents])
                t = _apply_rule(node, ts, create)
                if t is not None:
                    tan[node] = t
                if free:
                    order[k] = None
                    node.release()
                    for p in parents:
                        if p is not None and last.get(p) == k:
                            tan.pop(p, None)
        finally:
            if token is not None:
                token.__exit__(None, None, None)
        return [get(vertex(t)) if isinstance(t, Variable) else None for t in self.targets]


def _seed_tangents(inputs: Sequence[Any], tangents: Sequence[Any], create: bool) -> dict:
    tan: dict = {}
    for x, t in zip(inputs, tangents):
        if t is None:
            continue
        if not create and isinstance(t, Variable):
            t = t.value
        key = vertex(x)
        tan[key] = t if key not in tan else add(tan[key], t)
    return tan


def _apply_rule(node: Node, ts: tuple, create: bool) -> Any:
    """The tangent of ``node``'s output from its inputs' tangents ``ts``; None
    when none of them carries one."""
    for t in ts:
        if t is not None:
            break
    else:
        return None
    prim = node.prim
    args = rule_inputs(node) if create else node.values()
    kw = node.kw
    rule = prim.jvp
    if rule is None:
        t = _transposed_jvp(prim, ts, args, kw, node, create)
        if t is None:
            return None
    else:
        t = rule(ts, *args, **kw) if kw else rule(ts, *args)
        if t is None:  # an operation recorded only to be replayed (a comparison under jit/vmap): no tangent
            return None
    shape, dtype = out_meta(node)
    if shape is None:  # elementwise, every input of the output's shape and dtype
        return t
    shape = tuple(shape)
    if tuple(t.shape) != shape:
        t = broadcast_to(t, shape)
    if t.dtype != dtype:
        t = astype(t, dtype)
    return t


def _transposed_jvp(prim: Any, ts: tuple, args: tuple, kw: dict | None, node: Node, create: bool) -> Any:
    """The JVP of one operation whose primitive has no JVP rule, from its VJP
    rules: ``J t`` is the gradient of ``<J^T g, t>`` with respect to ``g``
    (VJP rules are linear in ``g``, and written with anyad functions)."""
    if prim.vjps is None:
        return None
    with recording(ALL):
        g = wrap(_zeros(node, ts))
        g.requires_grad = True
        total = None
        for gu, t in zip(rule_gradients(prim, g, [t is not None for t in ts], args, kw), ts):
            if gu is None:
                continue
            tshape = tuple(t.shape)
            if prim.broadcasts and tuple(gu.shape) != tshape:
                gu = unbroadcast(gu, tshape)
            term = reduce_sum(multiply(gu, t))
            total = term if total is None else add(total, term)
        if total is None:
            return None
        if not isinstance(total, Variable) or total._node is None:
            raise TypeError(
                f"anyad.jvp: primitive {prim.name} has no forward-mode rule, and one cannot be derived "
                "from its VJP rules because they are not written with anyad functions; give it a "
                "jvp rule (for a custom function: defjvp)"
            )
        (jt,) = backprop([total], [None], [g], create_graph=create, retain_graph=create)
        if jt is not None and is_complex(g):  # total is holomorphic in g: its gradient is conj(J t)
            jt = conj(jt)
    return jt


def _zeros(node: Node, ts: tuple) -> Any:
    """Zeros shaped like ``node``'s output, in the namespace and on the device of the tangents."""
    t = next(t for t in ts if t is not None)
    raw = t.value if isinstance(t, Variable) else t
    xp = _namespace(raw)
    shape, dtype = out_meta(node)
    if shape is None:  # elementwise: shaped like the inputs, so like their tangents
        return xp.zeros_like(raw)
    return xp.zeros(tuple(shape), dtype=dtype, device=_device(raw))
