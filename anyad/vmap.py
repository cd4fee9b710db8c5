"""``vmap``: a function of one example, run on a batch of them in one pass.

:func:`vmap` traces the function once on one example (as :func:`anyad.jit`
does: every operation recorded, gradients taken inside included), then runs
the recorded operations on the whole batch, each through its primitive's
batching rule (:mod:`anyad.ops.batching`): a matrix product of a batch of
vectors becomes one matrix product, a reduction moves its axis past the batch
axis, an index gathers each example's own elements. The batched run is made
of anyad operations, so it records like any other computation: ``grad`` of a
vmapped function, ``vmap`` of ``grad`` (per-example gradients), ``jit`` of
``vmap`` and nested ``vmap`` compose.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from . import _backend
from ._program import _CONST, _IN, Uncompilable, _fill, _is_array, flatten_graph
from ._pytree import _key_order, tree_flatten, tree_unflatten
from ._state import ALL, recording
from ._tracing import Tracer, TracingError, tracing
from .ops._core import apply
from .ops.batching import Batched, BatchingError
from .ops.indexing import getitem
from .ops.manipulation import broadcast_to, concat, moveaxis
from .variable import Variable, wrap

__all__ = ["vmap", "BatchingError"]


def _leaf_axes(spec: Any, tree: Any, where: str) -> list:
    """``in_axes``/``out_axes`` (a prefix of ``tree``'s structure) as one axis per leaf."""
    if spec is None or isinstance(spec, int):
        if isinstance(spec, bool):
            raise TypeError(f"anyad.vmap: {where}: an axis must be an int or None, got {spec!r}")
        return [spec] * len(tree_flatten(tree)[0])
    if isinstance(spec, (tuple, list)):
        if not isinstance(tree, (tuple, list)) or len(tree) != len(spec):
            kind = type(tree).__name__
            size = f" of {len(tree)}" if isinstance(tree, (tuple, list)) else ""
            raise ValueError(f"anyad.vmap: {where}: the axes {spec!r} ({len(spec)} entries) do not match "
                             f"the value's structure (a {kind}{size})")
        return [a for i, (s, t) in enumerate(zip(spec, tree)) for a in _leaf_axes(s, t, f"{where}[{i}]")]
    if isinstance(spec, dict):
        if not isinstance(tree, dict) or set(spec) != set(tree):
            raise ValueError(f"anyad.vmap: {where}: the axes' keys {sorted(spec, key=_key_order)} do not "
                             f"match the value's structure ({type(tree).__name__})")
        return [a for k in sorted(spec, key=_key_order) for a in _leaf_axes(spec[k], tree[k], f"{where}[{k!r}]")]
    raise TypeError(f"anyad.vmap: {where}: axes must be ints, None, or tuples/lists/dicts of them, "
                    f"got {type(spec).__name__}")


def _shape(x: Any) -> tuple:
    return tuple((x.value if isinstance(x, Variable) else x).shape)


def _norm_axis(axis: int, rank: int, where: str) -> int:
    if not -rank <= axis < rank:
        raise ValueError(f"anyad.vmap: {where}: axis {axis} is out of range for an array of rank {rank}")
    return axis % rank


def _is_dynamic(x: Any) -> bool:
    return isinstance(x, Variable) or _is_array(x)


class _Batch:
    """The inputs of one call, the batch axis moved to the front."""

    def __init__(self, name: str, args: tuple, kwargs: dict, in_axes: Any, axis_size: int | None):
        leaves, self.treedef = tree_flatten((args, kwargs))
        n_args = len(tree_flatten(args)[0])
        axes = _leaf_axes(tuple(in_axes) if isinstance(in_axes, list) else in_axes, args, "in_axes")
        axes += [0] * (len(leaves) - n_args)  # keyword arguments are mapped over their axis 0
        self.leaves, self.axes, self.name = leaves, axes, name
        sizes = {}
        for k, (leaf, ax) in enumerate(zip(leaves, axes)):
            if ax is None:
                continue
            where = f"argument leaf {k}" if k < n_args else f"keyword argument leaf {k - n_args}"
            if not _is_dynamic(leaf):
                raise ValueError(f"anyad.vmap: in_axes maps {where} (a {type(leaf).__name__}) over axis {ax}, "
                                 "but it is not an array; give it the axis None")
            rank = len(_shape(leaf))
            axes[k] = _norm_axis(ax, rank, f"{where} (shape {_shape(leaf)})")
            sizes[where] = _shape(leaf)[axes[k]]
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{w}: {s}" for w, s in sizes.items())
            raise ValueError(f"anyad.vmap: the mapped axes have different sizes ({listed})")
        if axis_size is not None and sizes and axis_size not in sizes.values():
            raise ValueError(f"anyad.vmap: axis_size={axis_size} but the mapped axes have size "
                             f"{next(iter(sizes.values()))}")
        if not sizes and axis_size is None:
            raise ValueError("anyad.vmap: nothing is mapped (every in_axes is None): give axis_size, or an "
                             "axis to at least one array argument")
        self.size = next(iter(sizes.values())) if sizes else axis_size
        # each mapped leaf with its batch axis first
        self.values = [moveaxis(x, ax, 0) if ax not in (None, 0) else x for x, ax in zip(leaves, axes)]

    def example(self, k: int) -> Any:
        """The raw value a trace sees for leaf ``k``: one example of a mapped leaf."""
        x = self.values[k]
        raw = x.value if isinstance(x, Variable) else x
        if self.axes[k] is None:
            return raw
        if self.size:
            return raw[0, ...]
        xp = _backend.namespace_of(raw)
        return xp.zeros(tuple(raw.shape[1:]), dtype=raw.dtype, device=_backend.device_of(raw))


def _trace(f: Callable, batch: _Batch) -> tuple:
    """Record ``f`` on one example; its flattened graph, its output structure and its inputs."""
    xs, traced_leaves, inputs = [], [], []
    for k, leaf in enumerate(batch.leaves):
        if not _is_dynamic(leaf):
            traced_leaves.append(leaf)
            continue
        v = wrap(batch.example(k))
        xp = _backend.namespace_of(v.value)
        v.requires_grad = bool(xp.isdtype(v.value.dtype, "real floating"))
        xs.append(v)
        traced_leaves.append(v)
        inputs.append((batch.values[k], batch.axes[k] is not None))
    args, kwargs = tree_unflatten(batch.treedef, traced_leaves)
    with tracing(Tracer(xs, batch.name, "anyad.vmap")) as tracer, recording(ALL):
        out = f(*args, **kwargs)
    out_leaves, out_def = tree_flatten(out)
    targets = [o if _is_dynamic(o) else None for o in out_leaves]
    try:
        graph = flatten_graph(targets, xs, producers=tracer.producers, live=True, cut=True)
    except Uncompilable as e:
        raise TracingError(f"anyad.vmap: {batch.name} cannot be batched: {e}") from None
    statics = [None if _is_dynamic(o) else (o,) for o in out_leaves]
    return graph, out_def, statics, inputs


def _live(v: Variable) -> Any:
    """A leaf the function read from outside: itself where gradients may flow
    to it (a parameter in a closure), else its current value."""
    return v if v.requires_grad else v.value


def _run(graph: Any, inputs: list, size: int) -> list:
    """Run the flattened graph on batched inputs: ``[(value, batched)]`` per output."""
    env: list = [None] * len(graph.nodes)
    n = len(inputs)
    for nid, (kind, payload) in enumerate(graph.nodes):
        if kind == _IN:
            env[nid] = inputs[payload] if payload < n else (_live(graph.live[payload - n]), False)
        elif kind == _CONST:
            env[nid] = (payload, False)
    for nid in graph.order:
        prim, _, arg_ids, template, hole_ids = graph.nodes[nid][1]
        args = tuple(env[i][0] for i in arg_ids)
        flags = tuple(env[i][1] for i in arg_ids)
        holes = [env[i] for i in hole_ids]
        if not any(flags) and not any(b for _, b in holes):
            params = _fill(template, [h for h, _ in holes]) if hole_ids else template
            env[nid] = (apply(prim, args, params), False)
            continue
        rule = prim.batch
        if rule is None:
            raise BatchingError(
                f"anyad.vmap: the operation {prim.name!r} has no batching rule; call it outside vmap, or "
                "loop over the examples")
        params = _fill(template, [Batched(h) if b else h for h, b in holes]) if hole_ids else template
        env[nid] = rule(size, prim, args, flags, dict(params) if params else {})
    return [env[o] if o >= 0 else (None, False) for o in graph.outputs]


def _place(value: Any, batched: bool, axis: int | None, size: int, where: str) -> Any:
    """An output with its batch axis at ``axis`` (an unbatched one repeated)."""
    if axis is None:
        if batched:
            raise ValueError(f"anyad.vmap: out_axes is None for {where}, but it differs between examples")
        return value
    if not batched:
        value = broadcast_to(value, (size,) + _shape(value))
    rank = len(_shape(value))
    axis = _norm_axis(axis, rank, f"out_axes of {where} (shape {_shape(value)[1:]} per example)")
    return value if axis == 0 else moveaxis(value, 0, axis)


def vmap(f: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_size: int | None = None,
         chunk_size: int | None = None) -> Callable:
    """Vectorise ``f`` over an axis of its arguments: ``f`` of one example, run on a batch.

    Parameters
    ----------
    f : callable
        A function of arrays (pytrees of arrays, Python values) written with
        anyad functions, returning a pytree of arrays.
    in_axes : int, None, or a pytree of them
        The axis of each argument that carries the batch (None: the argument
        is the same for every example). An int or None applies to every
        argument; a tuple has one entry per positional argument, each an axis
        or a pytree of axes matching that argument (a prefix of it). Keyword
        arguments are mapped over their axis 0.
    out_axes : int, None, or a pytree of them
        Where each output's batch axis goes (None: the output is the same for
        every example, which is checked).
    axis_size : int, optional
        The batch size, needed only when no argument is mapped.
    chunk_size : int, optional
        Run at most this many examples at once (bounds the memory of the
        batched intermediates); the results are concatenated.

    Returns
    -------
    callable
        The batched function.

    Notes
    -----
    ``f`` is traced on one example per call, as :func:`anyad.jit` traces:
    Python control flow on traced values raises :class:`anyad.TracingError`
    (use :func:`anyad.where`); control flow on shapes is fine. Random numbers
    cannot be drawn inside ``f`` (:class:`anyad.TracingError`): draw them
    outside, one per example, and map over them.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> x = np.arange(6.0).reshape(3, 2)
    >>> ad.vmap(lambda r: ad.sum(r * r))(x)
    array([ 1., 13., 41.])
    >>> w = np.array([1.0, -1.0])
    >>> ad.vmap(ad.grad(lambda w, r: ad.sum(w * r) ** 2), in_axes=(None, 0))(w, x)
    array([[ -0.,  -2.],
           [ -4.,  -6.],
           [ -8., -10.]])
    """
    if not callable(f):
        raise TypeError(f"anyad.vmap: expected a function, got {type(f).__name__}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"anyad.vmap: chunk_size must be a positive int, got {chunk_size!r}")
    name = getattr(f, "__name__", "the function")

    @functools.wraps(f)
    def batched(*args: Any, **kwargs: Any) -> Any:
        batch = _Batch(name, args, kwargs, in_axes, axis_size)
        graph, out_def, statics, inputs = _trace(f, batch)
        size = batch.size
        if chunk_size is None or size <= chunk_size:
            results = _run(graph, inputs, size)
        else:
            results = _chunked(graph, inputs, size, chunk_size)
        out_tree = tree_unflatten(out_def, [0] * len(statics))
        axes = _leaf_axes(out_axes if not isinstance(out_axes, list) else tuple(out_axes), out_tree, "out_axes")
        leaves = [s[0] if s is not None else _place(v, b, ax, size, f"output leaf {k}")
                  for k, (s, (v, b), ax) in enumerate(zip(statics, results, axes))]
        return tree_unflatten(out_def, leaves)

    return batched


def _chunked(graph: Any, inputs: list, size: int, chunk: int) -> list:
    parts = []
    for start in range(0, size, chunk):
        stop = min(start + chunk, size)
        sub = [(getitem(v, (slice(start, stop), Ellipsis)), True) if b else (v, False) for v, b in inputs]
        parts.append(_run(graph, sub, stop - start))
    out = []
    for k, (v0, b0) in enumerate(parts[0]):
        if v0 is None or not b0 and not any(p[k][1] for p in parts):
            out.append((v0, False))
            continue
        pieces = [p[k][0] if p[k][1] else broadcast_to(p[k][0], (p_size,) + _shape(p[k][0]))
                  for p, p_size in zip(parts, [min(chunk, size - s) for s in range(0, size, chunk)])]
        out.append((concat(pieces, axis=0), True))
    return out

