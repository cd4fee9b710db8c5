"""Reusable compiled computations: :func:`jit` and :class:`GradientCache`.

Both turn a recorded graph into a flat :class:`~anyad._program.Program` of
kernel calls over slots, cache it under a key that covers everything that
changes the computation, and replay it on new values with no Variable or
Operation built.

* :func:`jit` traces a function once per input signature (pytree structure,
  shapes, dtypes, backend, device, static arguments by value) and replays the
  program on later calls. Gradients taken inside (``jit(value_and_grad(f))``)
  are part of the program.
* :class:`GradientCache` compiles the backward of ``d(dy)/d(dxs)`` and keys it
  by the structure of ``dy``'s graph, so a training loop that rebuilds a
  same-shaped graph every step replays one program, and a different graph
  never hits a stale entry. :meth:`anyad.Graph.gradient` uses one.

While a program is built, a tracer (the context variable
:mod:`anyad._state`) records the operations the engine otherwise
leaves unrecorded (comparisons, casts to integers, ``stop_gradient``,
``no_grad`` blocks), so that their results are recomputed on replay rather than
frozen; and under :func:`jit` it refuses to hand a value that depends on the
inputs to Python (``bool(v)``, ``float(v)``): such control flow cannot be
compiled, and raises :class:`TracingError` instead of baking one branch in.
"""

from __future__ import annotations

import collections
import functools
import operator
from typing import Any, Callable, Sequence

from . import _backend
from ._program import Uncompilable, _allocate, _is_array, build_program, flatten_graph
from ._pytree import tree_flatten, tree_map, tree_unflatten
from ._tracing import Recorder, Tracer, TracingError, array_key, freeze, tracing
from ._saves import Meta
from ._state import ALL, AUTO, OFF, mode as _mode, recording, tracer as _tracer
from .backprop import backprop
from .graph import Node, out_meta, toposort, vertex
from .variable import Variable, wrap

__all__ = ["jit", "GradientCache", "TracingError"]

_SCALARS = frozenset((bool, int, float, complex))


# ----------------------------------------------------------------------------
# jit
# ----------------------------------------------------------------------------


def _is_dynamic(leaf: Any) -> bool:
    """An argument leaf traced as an input (arrays, Variables), not a static value."""
    return isinstance(leaf, Variable) or _is_array(leaf)


class _Entry:
    """One traced signature: its program and how to rebuild the outputs."""

    __slots__ = ("program", "graph", "out_def", "statics", "live_keys")


class Compiled:
    """A function compiled by :func:`jit`: traced once per signature, replayed after.

    Attributes
    ----------
    traces : int
        How many times the function has been traced.
    """

    def __init__(self, fun: Callable, static_argnums: Sequence[int], maxsize: int = 64):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._static = tuple(static_argnums)
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._maxsize = maxsize
        self.traces = 0

    def _signature(self, args: tuple, kwargs: dict) -> tuple:
        """The cache key of a call, its array values, and whether it must run as written."""
        n = len(args)
        static = set()
        for i in self._static:
            if not -n <= i < n:
                raise ValueError(
                    f"anyad.jit: static_argnums {self._static!r} is out of range for {n} arguments")
            static.add(i % n)
        dynamic = tuple(None if i in static else a for i, a in enumerate(args))
        leaves, treedef = tree_flatten((dynamic, kwargs))
        values, parts, anyvar, record = [], [], False, False
        mode = _mode()
        seen: dict = {}
        for leaf in leaves:
            if not _is_dynamic(leaf):
                parts.append(("s", freeze(leaf, None)))
                continue
            if isinstance(leaf, Variable):
                anyvar = True
                if mode != OFF and (mode != AUTO or leaf.requires_grad):
                    record = True
                value = leaf.value
            else:
                value = leaf
            parts.append(array_key(value) + (seen.setdefault(id(value), len(values)),))
            values.append(value)
        try:
            key = (treedef, tuple(parts), tuple((i, freeze(args[i], None)) for i in sorted(static)))
        except Uncompilable as e:
            raise TypeError(f"anyad.jit: static arguments must be hashable ({e})") from None
        return key, static, leaves, treedef, values, anyvar, record

    def _entry(self, args: tuple, kwargs: dict) -> tuple:
        """The cached entry for this call (traced now if new) and the program's
        inputs; ``entry`` is None when the function must run as written."""
        key, static, leaves, treedef, values, anyvar, record = self._signature(args, kwargs)
        if record or _tracer() is not None:
            return None, None, anyvar, None
        entry = self._cache.get(key)
        if entry is not None:
            live = [v.value for v in entry.program.live]
            if all(array_key(x) == k for x, k in zip(live, entry.live_keys)):
                self._cache.move_to_end(key)
                return entry, values + live, anyvar, None
        entry, outs = self._trace(args, kwargs, static, leaves, treedef, values)
        self._cache[key] = entry
        if len(self._cache) > self._maxsize:
            self._cache.popitem(last=False)
        return entry, values + [v.value for v in entry.program.live], anyvar, outs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        entry, inputs, anyvar, outs = self._entry(args, kwargs)
        if entry is None:
            # being differentiated or traced itself: run as written, so that the
            # enclosing graph records every operation
            return self._fun(*args, **kwargs)
        if outs is None:
            outs = entry.program(inputs)
        return self._unflatten(entry, outs, anyvar)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """As a method: the instance is the first (static) argument."""
        return self if obj is None else functools.partial(self, obj)

    def cuda_graph(self, *args: Any, **kwargs: Any) -> Callable:
        """The program for the signature of ``args`` (CuPy arrays), captured as a CUDA graph.

        Returns a function taking arguments of that signature: each call copies
        them into the graph's input buffers, launches the graph and returns
        copies of its outputs. See :func:`anyad.backends.cuda_graph.capture_cuda_graph`
        for what capture needs and what it refuses (cuBLAS calls: ``matmul``).
        """
        from .backends.cuda_graph import capture_cuda_graph

        entry, inputs, anyvar, _ = self._entry(args, kwargs)
        if entry is None:
            raise TypeError("anyad.jit.cuda_graph: the arguments record (they require grad, or a "
                            "transform is running): a CUDA graph replays raw arrays only")
        names = {_backend.backend_name(_backend.namespace_of(x)) for x in inputs}
        if names != {"cupy"}:
            raise TypeError(
                f"anyad.jit.cuda_graph: CUDA graphs need CuPy arrays, got {sorted(names)} arrays")
        captured = capture_cuda_graph(entry.program, inputs)

        def replay(*args: Any, **kwargs: Any) -> Any:
            key, _, _, _, values, anyvar, _ = self._signature(args, kwargs)
            if self._cache.get(key) is not entry:
                raise ValueError("anyad.jit.cuda_graph: called with another signature than the "
                                 "one it was captured for")
            return self._unflatten(entry, captured(values + [v.value for v in entry.program.live]), anyvar)

        return replay

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        """The program for the signature of ``args`` as a :class:`~anyad.Lowered`.

        It runs on the arrays of any backend and device that match the
        signature, and saves to a file (:meth:`~anyad.Lowered.save`) that
        :func:`anyad.load_program` reads in another process. Variables among
        ``args`` are taken by value (only their shapes and dtypes matter).

        Examples
        --------
        >>> import numpy as np
        >>> import anyad as ad
        >>> lowered = ad.jit(lambda x: ad.sum(ad.sin(x))).lower(np.zeros(3))
        >>> lowered
        <anyad Lowered <lambda>(float64[3]): 2 operations>
        >>> lowered(np.array([0.0, 1.0, 2.0])).round(6)
        np.float64(1.750768)
        """
        from .lowered import Lowered

        args, kwargs = tree_map(lambda a: a.value if isinstance(a, Variable) else a, (args, kwargs))
        entry, _, _, _ = self._entry(args, kwargs)
        if entry is None:
            raise TypeError("anyad.jit.lower: cannot lower while a transform or a trace is running; "
                            "lower the function outside it")
        return Lowered._from_trace(getattr(self._fun, "__name__", "function"), (args, kwargs), entry.graph,
                                  entry.out_def, entry.statics)

    def _trace(self, args: tuple, kwargs: dict, static: set, leaves: list, treedef: Any,
               values: list) -> tuple:
        self.traces += 1
        xs = []
        k = 0
        traced_leaves = []
        for leaf in leaves:
            if _is_dynamic(leaf):
                v = wrap(values[k])
                xp = _backend.namespace_of(v.value)
                v.requires_grad = bool(xp.isdtype(v.value.dtype, "real floating"))
                xs.append(v)
                traced_leaves.append(v)
                k += 1
            else:
                traced_leaves.append(leaf)
        dynamic, kw = tree_unflatten(treedef, traced_leaves)
        call_args = tuple(args[i] if i in static else a for i, a in enumerate(dynamic))
        name = getattr(self._fun, "__name__", "the function")
        with tracing(Tracer(xs, name)) as tracer, recording(ALL):
            out = self._fun(*call_args, **kw)
        out_leaves, out_def = tree_flatten(out)
        targets, statics = [], []
        for o in out_leaves:
            if isinstance(o, Variable) or _is_array(o):
                targets.append(o)
                statics.append(None)
            else:
                targets.append(None)
                statics.append((o,))
        try:
            g = flatten_graph(targets, xs, producers=tracer.producers, live=True, fixed_shapes=True)
        except Uncompilable as e:
            raise TracingError(f"anyad.jit: {name} cannot be compiled: {e}; call it without jit") from None
        program = _allocate(g.nodes, g.order, g.outputs, g.n_inputs, g.live, g.dtypes)
        entry = _Entry()
        entry.program = program
        entry.graph = g  # the operations before slots were given: what lower() writes out
        entry.out_def = out_def
        entry.statics = statics
        entry.live_keys = [array_key(v.value) for v in program.live]
        outs = [o.value if isinstance(o, Variable) else o for o in targets]
        return entry, outs

    @staticmethod
    def _unflatten(entry: _Entry, outs: list, anyvar: bool) -> Any:
        leaves = [s[0] if s is not None else (wrap(o) if anyvar else o) for s, o in zip(entry.statics, outs)]
        return tree_unflatten(entry.out_def, leaves)


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] = ()) -> Any:
    """Compile ``fun``: trace it once per input signature, replay the program after.

    The first call with a given signature (the pytree structure of the
    arguments; each array's backend, shape, dtype and device; static
    arguments by value) runs ``fun`` on Variables, records everything computed
    from the inputs, gradients taken inside included, and flattens it into a
    program of kernel calls. Later calls with that signature replay the
    program on the new arrays: no graph is recorded, no Variable is built.

    Parameters
    ----------
    fun : callable
        A function of arrays (pytrees of arrays, Python scalars) returning a
        pytree of arrays, written with anyad functions. Usable as a decorator,
        with or without arguments.
    static_argnums : int or sequence of int
        Positional arguments passed to ``fun`` as they are and part of the
        cache key by value (they must be hashable): shapes, flags, modes.

    Returns
    -------
    callable
        The compiled function. Given raw arrays it returns raw arrays; given
        Variables, Variables (constants: to differentiate through the
        function, differentiate inside it, as ``jit(value_and_grad(f))``).

    Notes
    -----
    * Python control flow on traced values (``if x > 0``, ``float(x)``)
      raises :class:`TracingError` while tracing: use :func:`anyad.where`, or
      make the deciding argument static. Control flow on shapes is fine.
    * Python scalar arguments are static (each value traces anew).
    * Arrays and Variables the function reads from outside (closures,
      globals) are constants of the program, except Variables, whose current
      ``.value`` is read at every call (a ``Tensor`` updated with ``assign``
      is seen updated). Raw arrays taken from a traced Variable's ``.value``
      are frozen: work on Variables inside a compiled function.
    * Called on Variables that record (inside a transform, a
      GradientTracker, or on Variables that require grad), the function runs
      uncompiled so that the enclosing graph sees every operation.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> @ad.jit
    ... def loss_and_grad(w):
    ...     return ad.value_and_grad(lambda w: ad.sum(ad.sin(w) * w))(w)
    >>> value, g = loss_and_grad(np.array([1.0, 2.0]))
    >>> value, g = loss_and_grad(np.array([0.5, -1.0]))   # replayed
    >>> loss_and_grad.traces, g
    (1, array([ 0.91821682, -1.38177329]))
    """
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums)
    if not callable(fun):
        raise TypeError(f"anyad.jit: expected a function, got {type(fun).__name__}")
    return Compiled(fun, tuple(operator.index(i) for i in static_argnums))


# ----------------------------------------------------------------------------
# GradientCache
# ----------------------------------------------------------------------------


def _scalar_key(u: Any) -> Any:
    """A Python scalar operand in a key, tagged by its type (never equal to an
    input position, nor 2 to 2.0); floats by value, nan and -0.0 by their bits."""
    if type(u) is float and (u != u or u == 0.0):
        return ("f", u.hex())
    return (type(u), u)


def _structure(dy: Variable, dxs: Sequence[Variable], seed: Any, objs: list | None = None) -> tuple:
    """The structural key of ``d(dy)/d(dxs)`` and the arrays a compiled
    backward reads, from one walk of the graph (``objs``, when given, gets the
    Variables and arrays those values come from, for building a program).

    Only the part of the graph between the ``dxs`` and ``dy`` shapes the
    backward, and a backward reads only what its nodes keep: each node of that
    part is keyed (inputs first) by its primitive, parameters, the positions
    of its inputs in the part, what it keeps (arrays by type, shape, dtype and
    device, scalars by value), and its output's shape and dtype; the arrays it
    keeps are the program's inputs.
    """
    wanted = {vertex(d) for d in dxs}
    order, needed = toposort([vertex(dy)], wanted)
    key: list = []
    values: list = []  # what the program reads, in order
    pos: dict = {}
    raw_pos: dict = {}
    add_key, add_value = key.append, values.append
    for k, v in enumerate(order):
        pos[v] = k
        if type(v) is not Node:  # a leaf source
            add_value(v.value)
            if objs is not None:
                objs.append(v)
            add_key(array_key(v.value))
            continue
        refs = tuple(pos.get(p, -1) if p is not None else -2 for p in v.parents)
        kept = []
        for x in v.values():
            if x is None:
                kept.append(None)
            elif type(x) is Meta:
                kept.append(("m", x.shape, x.dtype))
            elif type(x) in _SCALARS:
                kept.append(_scalar_key(x))
            elif _is_array(x):
                j = raw_pos.get(id(x))
                if j is None:
                    j = raw_pos[id(x)] = len(values)
                    add_value(x)
                    if objs is not None:
                        objs.append(x)
                kept.append(("a", j, array_key(x)))
            else:  # Python data
                kept.append(("p", freeze(x, None)))
        kw = v.kw
        if kw:
            arrays: list = []
            fk = freeze(kw, arrays)
            if arrays:
                idx = []
                for a in arrays:
                    j = raw_pos.get(id(a))
                    if j is None:
                        j = raw_pos[id(a)] = len(values)
                        add_value(a)
                        if objs is not None:
                            objs.append(a)
                    idx.append(j)
                fk = (fk, tuple(idx))
        else:
            fk = None
        shape, dtype = out_meta(v)
        add_key((v.prim, refs, tuple(kept), fk, None if shape is None else tuple(shape), dtype, v.meta))
    key.append(tuple(pos.get(vertex(d), -1) for d in dxs))
    if seed is not None:
        s = seed.value if isinstance(seed, Variable) else seed
        key.append(("seed", array_key(s)))
        values.append(s)
        if objs is not None:
            objs.append(s)
    return tuple(key), values, needed, vertex(dy) in needed


class GradientCache:
    """Compiled backward programs, keyed by the structure of the graph they differentiate.

    :meth:`gradient` returns what ``backprop([dy], [seed], dxs)`` returns.
    The first time a graph structure is seen, the backward is recorded
    (``backprop(..., create_graph=True)``) and flattened into a program whose
    inputs are the values of the forward graph (by position in the walk) and
    its raw array operands; later graphs of the same structure replay that
    program on their own values. The key holds every operation's primitive
    and parameters (Python scalars by value), the wiring, every shape and
    dtype, each leaf's backend and device, and which leaves are the ``dxs``.

    When most graphs turn out to be new (more misses than hits, past the
    first 16), a program is built only for a structure met before, so a
    stream of one-off graphs costs plain ``backprop`` and nothing more.

    Parameters
    ----------
    maxsize : int
        Programs kept (least recently used dropped first).

    Attributes
    ----------
    hits, misses : int
        Gradients answered by a cached program, and by the engine.

    Examples
    --------
    >>> import anyad as ad
    >>> cache = ad.GradientCache()
    >>> for step in range(3):
    ...     x = ad.Variable([1.0, 2.0 + step], requires_grad=True)
    ...     (gx,) = cache.gradient(ad.sum(x ** 2), [x])
    >>> gx, cache.hits, cache.misses
    (array([2., 8.]), 2, 1)
    >>> # another graph: no stale answer
    >>> (gx,) = cache.gradient(ad.sum(x ** 3), [x])
    >>> gx, cache.misses
    (array([ 3., 48.]), 2)
    """

    def __init__(self, maxsize: int = 128):
        self._programs: collections.OrderedDict = collections.OrderedDict()
        self._seen: collections.OrderedDict = collections.OrderedDict()  # keys met once, not built
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._programs)

    def clear(self) -> None:
        """Forget every program."""
        self._programs.clear()
        self._seen.clear()

    def gradient(self, dy: Variable, dxs: Sequence[Variable], seed: Any = None) -> list:
        """Gradients of ``dy`` (with cotangent ``seed``, ones by default) with
        respect to each of ``dxs``: raw arrays, ``None`` where ``dy`` does not
        depend on one."""
        dxs = list(dxs)
        for x in dxs:
            if not isinstance(x, Variable):
                raise TypeError(
                    f"anyad.GradientCache.gradient: dxs must be Variables, got {type(x).__name__}")
        if _tracer() is not None or not isinstance(dy, Variable):
            return backprop([dy], [seed], dxs)
        try:
            key, values, forward, reached = _structure(dy, dxs, seed)
        except Uncompilable:
            return backprop([dy], [seed], dxs)
        if not reached:
            return [None] * len(dxs)
        programs = self._programs
        program = programs.get(key)
        if program is not None:
            try:
                programs.move_to_end(key)
            except KeyError:  # dropped meanwhile by another thread: the program still runs
                pass
            if program is False:  # this structure cannot be compiled
                self.misses += 1
                return backprop([dy], [seed], dxs)
            self.hits += 1
            return program(values)
        self.misses += 1
        if self.misses > 16 and self.misses > self.hits and self._seen.pop(key, self) is self:
            self._seen[key] = None  # mostly new graphs: build on the second sighting only
            if len(self._seen) > 4 * self.maxsize:
                self._seen.popitem(last=False)
            return backprop([dy], [seed], dxs)
        objs: list = []
        _structure(dy, dxs, seed, objs)
        with tracing(Recorder()) as rec:
            grads = backprop([dy], [seed], dxs, create_graph=True)
        try:
            program = build_program(grads, objs, producers=rec.producers, forbidden=forward, strict=True)
        except Uncompilable:
            program = False
        programs[key] = program
        if len(programs) > self.maxsize:
            programs.popitem(last=False)
        return [g.value if isinstance(g, Variable) else g for g in grads]
