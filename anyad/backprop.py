"""Backprop: one pure function from targets, seeds and sources to gradients.

Every public face (GradientTracker, Graph, ``Variable.backward``, the
functional transforms) is a thin layer over :func:`backprop`. It walks the
graph once (:func:`anyad.graph.toposort`), then runs each node's rules in
reverse order on what the node kept: raw arrays in a plain backward pass,
Variables attached to the graph (:func:`rule_inputs`) when a derivative graph
is built, so that derivatives of any order follow. Gradients are accumulated
per node and dropped once the node is consumed; with ``retain_graph=False``
each node releases what it kept as soon as its rules have run.

Where an input was broadcast or promoted, its gradient is summed back and cast
by ``Primitive.to_input``, which the ops layer installs (the core calls no
array function of its own).
"""

from __future__ import annotations

from typing import Any, Sequence

from ._backend import isdtype_cached, namespace_of as _namespace
from ._saves import Meta
from ._state import ALL, autocast_dtype, current, pop_autocast, push_autocast
from ._state import pop as _pop_state, push as _push_state
from .graph import Node, toposort, vertex
from .variable import Variable, attach, wrap

__all__ = ["backprop", "rule_inputs", "rule_gradients"]


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
    if autocast_dtype() is not None:  # inside anyad.amp.autocast: rules keep their recorded precision
        token = push_autocast(None)
        try:
            return backprop(targets, seeds, sources, create_graph=create_graph, retain_graph=retain_graph)
        finally:
            pop_autocast(token)
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
    last_dtype, last_complex = None, False
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
            # a complex cotangent through rules written as for real values: PyTorch's convention
            dt = g.dtype
            if dt is not last_dtype:  # one dtype lookup per run of same-dtype nodes
                last_dtype, last_complex = dt, _is_complex(g)
            flip = last_complex and prim.holomorphic
            if flip:
                _push_to_inputs(v, e, n, g, kw, needed, grads, create_graph, True)
            elif n == 1 and not create_graph and v.unpack is None and prim.vjp is None and v.meta is None:
                # the common case without slices: one input, raw values (raw_vjps: see Primitive)
                raw = prim.raw_vjps
                rule = (raw[1] if raw is not None and raw[0] is prim.vjps else prim.vjps)[0]
                p = e[0]
                if rule is not None and p in needed:
                    gu = rule(g, e[1], e[2], **kw) if kw else rule(g, e[1], e[2])
                    if gu is not None:
                        prev = get(p)
                        grads[p] = gu if prev is None else prev + gu
            elif n == 2 and not create_graph and v.unpack is None and prim.vjp is None:
                # two inputs, raw values (elementwise arithmetic): no slices, no call
                raw = prim.raw_vjps
                vjps = raw[1] if raw is not None and raw[0] is prim.vjps else prim.vjps
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
                        gu = prim.to_input(gu, meta[i])
                    prev = get(p)
                    grads[p] = gu if prev is None else prev + gu
            else:
                _push_to_inputs(v, e, n, g, kw, needed, grads, create_graph, False)
            if not retain_graph:
                v.edges = None  # Node.release(), inline: what the node kept goes now
    finally:
        if mode_token is not None:
            _pop_state(mode_token)

    if sources is None:
        return [(leaf, g) for leaf, g in found.items() if leaf._node is None]
    return [found.get(vertex(s)) for s in sources]


def _push_to_inputs(v: Node, e: tuple, n: int, g: Any, kw: dict | None, needed: set, grads: dict,
                    create_graph: bool, flip: bool) -> None:
    """Run ``v``'s rules for the inputs that need a gradient, and accumulate.
    With ``flip`` (a complex cotangent, rules written as for real values) the
    rules get ``conj(g)`` and their results are conjugated back: each input
    receives ``g * conj(f'(z))``, the gradient of PyTorch's convention."""
    prim = v.prim
    if flip:
        g = prim.conjugate(g)
    meta = v.meta
    # a rule gets (ans, *inputs): Variables on the graph when building one, else raw values
    if create_graph:
        args = rule_inputs(v)
    elif v.unpack is None:
        args = e[n:]
    else:
        args = v.values()
    parents = e[:n]
    wanted = [p is not None and p in needed for p in parents]
    get = grads.get
    for i, gu in enumerate(rule_gradients(prim, g, wanted, args, kw)):
        if gu is None:
            continue
        if flip:
            gu = prim.conjugate(gu)
        if meta is not None and meta[i] is not None:  # broadcast or promoted
            gu = prim.to_input(gu, meta[i])
        p = parents[i]
        prev = get(p)
        grads[p] = gu if prev is None else prev + gu


def rule_gradients(prim: Any, g: Any, wanted: Sequence[bool], args: tuple, kw: dict | None) -> list:
    """What a primitive's rules give for the inputs in ``wanted`` (``None``
    elsewhere), from the cotangent ``g`` and ``args = (ans, *inputs)``: one call
    of its joint rule, or one rule per input."""
    joint = prim.vjp
    if joint is not None:
        return joint(g, tuple(wanted), *args, **kw) if kw else joint(g, tuple(wanted), *args)
    vjps = prim.vjps
    out = []
    for i, w in enumerate(wanted):
        rule = vjps[i] if w else None
        out.append(None if rule is None else (rule(g, *args, **kw) if kw else rule(g, *args)))
    return out


def backward(self: Variable, seed: Any = None, *, retain_graph: bool = False, create_graph: bool = False,
             gradient: Any = None) -> None:
    """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    Parameters
    ----------
    seed : array, optional
        The cotangent, shaped like ``self``. It may be left out only when
        ``self`` has one element (a scalar loss), as in torch: for any other
        shape a seed is required (``y.backward(seed)``, or reduce first:
        ``ad.sum(y).backward()``).
    retain_graph : bool
        Keep the graph for another backward (default: free it as it is used).
    create_graph : bool
        Make ``.grad`` a differentiable Variable.
    gradient : array, optional
        torch's name for ``seed``.

    Warns
    -----
    UserWarning
        When no leaf that requires grad is reached (nothing is accumulated),
        where torch raises.

    Examples
    --------
    >>> from anyad import Variable
    >>> x = Variable([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4.])
    >>> (x * x).backward()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: anyad: backward() of a Variable of shape (2,) needs a seed ...
    """
    if gradient is not None:
        if seed is not None:
            raise TypeError("anyad: backward() got both seed and gradient (torch's name for it); pass one")
        seed = gradient
    if seed is None:
        _check_implicit_seed(self)
    pairs = backprop([self], [seed], None, create_graph=create_graph,
                     retain_graph=retain_graph or create_graph)
    reached = False
    for leaf, g in pairs:
        if g is None:
            continue
        reached = True
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    if not reached:
        _warn_nothing_reached(self)


def _check_implicit_seed(y: Variable) -> None:
    """The seed of ones may be implied only for one element (torch's rule)."""
    shape = tuple(y.value.shape)
    n = 1
    for d in shape:
        if d is None or d != d:  # an unknown (lazy) size: nothing to check
            return
        n *= int(d)
    if n != 1:
        raise RuntimeError(
            f"anyad: backward() of a Variable of shape {shape} needs a seed (torch's gradient=): the "
            "gradient of a non-scalar is defined only against a cotangent of its shape. Reduce it to a "
            "scalar first (ad.sum(y).backward(), ad.mean(y).backward()), or pass the seed: "
            "y.backward(seed) with seed shaped like y (ones_like(y.value) gives the gradient of sum(y))")


def _warn_nothing_reached(y: Variable) -> None:
    import warnings

    if y._node is None and not y.requires_grad:
        why = ("this Variable is a constant: it does not require grad and no recorded operation made it "
               "(create its inputs with requires_grad=True, and compute outside anyad.no_grad())")
    else:
        why = ("no leaf it depends on requires grad (create the inputs with requires_grad=True; "
               "detach(), stop_gradient and .value cut the graph)")
    warnings.warn(f"anyad: backward() accumulated no gradient: {why}", UserWarning, stacklevel=3)


Variable.backward = backward


def _is_complex(x: Any) -> bool:
    return isdtype_cached(x.value if isinstance(x, Variable) else x, "complex floating")
