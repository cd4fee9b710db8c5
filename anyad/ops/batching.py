"""Batching rules: how each primitive runs on a batch of its inputs (for :func:`anyad.vmap`).

A rule is ``rule(size, prim, args, batched, params) -> (out, out_batched)``:

* ``args`` are the primitive's positional inputs (Variables, arrays or Python
  scalars); ``batched[i]`` says whether ``args[i]`` carries the batch on its
  axis 0 (of length ``size``) in front of its per-example shape;
* ``params`` are its keyword parameters, where an array that carries the batch
  is wrapped in :class:`Batched`;
* it returns the batched output (batch on axis 0) and True, or an unbatched
  output and False.

A rule is only called when some input carries the batch. Every rule is written
with anyad's own functions (``apply``, ``reshape``, ...), so the batched
computation records like any other: gradients of a vmapped function, and
vmaps of gradients, compose.

The rules are attached to the primitives (``Primitive.batch``) here, in one
table; the elementwise primitives get theirs where they are declared
(:mod:`anyad.ops._core`).
"""

from __future__ import annotations

from typing import Any, Callable

from .. import _backend
from ..backends.scatter import TakeKey
from ..graph import PRIMITIVES, OpType, Primitive
from .._state import current as _state
from ..variable import Variable
from ._core import apply
from . import conv as _conv_ops  # noqa: F401  (these modules' primitives get rules here)
from . import special_gamma as _special_gamma, special_incomplete as _special_incomplete  # noqa: F401

from . import linalg_composed as _linalg_composed, sorting as _sorting
from .manipulation import astype, broadcast_to, permute_dims, reshape

__all__ = ["Batched", "BatchingError", "elementwise", "reduction", "set_rule"]


class BatchingError(NotImplementedError):
    """A primitive has no batching rule for the way its inputs carry the batch."""


class Batched:
    """A keyword parameter's array that carries the batch on its axis 0."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


def _raw(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def _shape(x: Any) -> tuple:
    return tuple(getattr(x, "shape", ()))


def _pe_ndim(x: Any, b: bool) -> int:
    """The per-example rank of ``x``."""
    return len(_shape(x)) - (1 if b else 0)


def lift(x: Any, rank: int) -> Any:
    """A batched ``x`` with axes of length 1 inserted after the batch axis, up to
    per-example rank ``rank`` (so that it broadcasts as its examples do)."""
    s = _shape(x)
    k = rank - (len(s) - 1)
    return x if k <= 0 else reshape(x, s[:1] + (1,) * k + s[1:])


def _flat(x: Any, size: int) -> Any:
    """A batched ``x`` as ``(size, elements per example)`` (no -1: the batch may be empty)."""
    n = 1
    for d in _shape(x)[1:]:
        n *= d
    return reshape(x, (size, n))


def _seen(x: Any) -> Any:
    """``x``, as a constant Variable while an enclosing program is traced (vmap inside
    jit, or inside another vmap): an indexing of raw arrays would not be recorded there,
    so an index from the enclosing trace (a key parameter) would be frozen."""
    if isinstance(x, Variable) or not hasattr(x, "shape") or _state().tracer is None:
        return x
    return Variable(x)


def batch_of(x: Any, b: bool, size: int) -> Any:
    """``x`` as a batched value (an unbatched one repeated, as a broadcast view)."""
    return x if b else broadcast_to(x, (size,) + _shape(x))


def _axis(a: int, rank: int, name: str) -> int:
    if not -rank <= a < max(rank, 1):
        raise BatchingError(f"anyad.vmap: axis {a} is out of range for {name} of a rank-{rank} value")
    return a % rank + 1 if rank else 1


def shift_axes(axis: Any, rank: int, name: str, none_means_all: bool = True) -> Any:
    """A per-example ``axis`` (int, tuple or None) as an axis of the batched value."""
    if axis is None:
        return tuple(range(1, rank + 1)) if none_means_all else None
    if isinstance(axis, tuple):
        return tuple(_axis(a, rank, name) for a in axis)
    return _axis(axis, rank, name)


def _refuse_batched_params(prim: Primitive, params: dict | None) -> None:
    if params and any(type(v) is Batched for v in params.values()):
        which = [k for k, v in params.items() if type(v) is Batched]
        raise BatchingError(f"anyad.vmap: {prim.name} has no batching rule for a batched {which[0]!r} "
                            "parameter; pass it unbatched (in_axes=None)")


# ----------------------------------------------------------------------------
# Families of rules
# ----------------------------------------------------------------------------


def elementwise(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict | None) -> tuple:
    """Elementwise primitives that broadcast their inputs: each batched input gets
    axes of length 1 after its batch axis, up to the largest per-example rank."""
    _refuse_batched_params(prim, params)
    rank = max(_pe_ndim(a, b) for a, b in zip(args, batched))
    args = tuple(lift(a, rank) if b else a for a, b in zip(args, batched))
    return apply(prim, args, params), True


def leading(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict | None) -> tuple:
    """Primitives that act on trailing axes and map over any leading ones
    (linear algebra, ``tril``): every input made batched (unbatched ones
    repeated), lifted to one rank, and passed on."""
    _refuse_batched_params(prim, params)
    rank = max(_pe_ndim(a, b) for a, b in zip(args, batched))
    args = tuple(lift(batch_of(a, b, size), rank) for a, b in zip(args, batched))
    return apply(prim, args, params), True


def reduction(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    """Reductions over ``axis`` (None: all per-example axes)."""
    _refuse_batched_params(prim, params)
    (x,) = args
    params = dict(params, axis=shift_axes(params.get("axis"), _pe_ndim(x, True), prim.name))
    return apply(prim, (x,), params), True


def _flat_reduction(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    """``argmax``/``argmin``: ``axis=None`` indexes the flattened example."""
    (x,) = args
    if params.get("axis") is not None:
        return reduction(size, prim, args, batched, params)
    rank = _pe_ndim(x, True)
    out = apply(prim, (_flat(x, size),), dict(params, axis=1, keepdims=False))
    return (reshape(out, (size,) + (1,) * rank) if params.get("keepdims") else out), True


def _along(key: str = "axis", none_means_all: bool = True) -> Callable:
    """A rule for primitives acting along the axis (or axes) in ``params[key]``."""

    def rule(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
        _refuse_batched_params(prim, params)
        (x,) = args
        rank = _pe_ndim(x, True)
        return apply(prim, (x,), dict(params, **{key: shift_axes(params[key], rank, prim.name,
                                                                  none_means_all)})), True

    return rule


def _first_axis_of_1d(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    """``cumulative_sum``/``cumulative_prod``: ``axis=None`` is allowed for one-axis examples."""
    (x,) = args
    axis = params.get("axis")
    if axis is None:
        axis = 0
    return apply(prim, (x,), dict(params, axis=shift_axes(axis, _pe_ndim(x, True), prim.name))), True


def merged(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict | None) -> tuple:
    """Primitives over ``(N, ...)`` arrays (patches, fold, pooling helpers): the
    batch axis merged into ``N`` and split off again."""
    _refuse_batched_params(prim, params)
    flat = []
    for a, b in zip(args, batched):
        a = batch_of(a, b, size)
        s = _shape(a)
        flat.append(reshape(a, (size * s[1],) + s[2:]))
    if params and "shape" in params:  # fold: the output's shape
        shape = params["shape"]
        params = dict(params, shape=(size * shape[0],) + tuple(shape[1:]))
    out = apply(prim, tuple(flat), params)
    s = _shape(out)
    n = s[0] // size if size else _shape(batch_of(args[0], batched[0], size))[1]  # the examples' N
    return reshape(out, (size, n) + s[1:]), True


# ----------------------------------------------------------------------------
# One primitive each
# ----------------------------------------------------------------------------


def _matmul(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict | None) -> tuple:
    a, b = args
    ba, bb = batched
    ra, rb = _pe_ndim(a, ba), _pe_ndim(b, bb)
    if ba and not bb and ra == 1 and rb == 2:  # vectors times one matrix: one matrix product
        return apply(prim, (a, b), params), True
    if bb and not ba and rb == 1 and ra == 2:  # one matrix times vectors: (vectors) @ A^T, not B products
        from .linalg import matrix_transpose

        return apply(prim, (b, matrix_transpose(a)), params), True
    if ra == 1 and ba:  # a batch of vectors: rows of a matrix
        a = reshape(a, (size, 1, _shape(a)[1]))
    if rb == 1 and bb:
        b = reshape(b, (size, _shape(b)[1], 1))
    rank = max(2 if ba and ra == 1 else ra, 2 if bb and rb == 1 else rb)
    out = apply(prim, (lift(a, rank) if ba else a, lift(b, rank) if bb else b), params)
    if rb == 1 and bb:
        out = _squeeze(out, -1)
    if ra == 1 and ba:  # the row axis: last once b's vector axis is gone, else next to last
        out = _squeeze(out, -1 if rb == 1 else -2)
    return out, True


def _squeeze(x: Any, axis: int) -> Any:
    s = _shape(x)
    axis %= len(s)
    return reshape(x, s[:axis] + s[axis + 1:])


def _solve(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict | None) -> tuple:
    a, b = args
    ba, bb = batched
    vector = _pe_ndim(b, bb) == 1
    if vector:
        b = reshape(b, _shape(b) + (1,))
    a, b = batch_of(a, ba, size), batch_of(b, bb, size)
    rank = max(_pe_ndim(a, True), _pe_ndim(b, True))
    out = apply(prim, (lift(a, rank), lift(b, rank)), params)
    return (_squeeze(out, -1) if vector else out), True


def _reshape(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    shape = tuple(params["shape"])
    if -1 in shape:  # resolved per example: (0, -1) is ambiguous for an empty batch
        n, known = 1, 1
        for d in _shape(args[0])[1:]:
            n *= d
        for d in shape:
            known *= d if d != -1 else 1
        shape = tuple(n // known if d == -1 and known else d for d in shape)
    return apply(prim, args, dict(params, shape=(size,) + shape)), True


def _permute(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    rank = _pe_ndim(args[0], True)
    axes = tuple(_axis(a, rank, prim.name) for a in params["axes"])
    return apply(prim, args, dict(params, axes=(0,) + axes)), True


def _expand_dims(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    rank = _pe_ndim(args[0], True) + 1
    return apply(prim, args, dict(params, axis=shift_axes(params["axis"], rank, prim.name))), True


def _broadcast_to(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    shape = tuple(params["shape"])
    return apply(prim, (lift(args[0], len(shape)),), dict(params, shape=(size,) + shape)), True


def _joined(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    """``concat``/``stack``: every input made batched; the axis moved past the batch."""
    xs = tuple(batch_of(a, b, size) for a, b in zip(args, batched))
    axis = params.get("axis")
    if axis is None:  # concat of the flattened examples
        return apply(prim, tuple(_flat(x, size) for x in xs), dict(params, axis=1)), True
    rank = _pe_ndim(xs[0], True) + (1 if prim.op_type is OpType.STACK else 0)
    return apply(prim, xs, dict(params, axis=shift_axes(axis, rank, prim.name))), True


def _roll(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    (x,) = args
    if params.get("axis") is not None:
        return _along()(size, prim, args, batched, params)
    s = _shape(x)
    out = apply(prim, (_flat(x, size),), dict(params, axis=1))
    return reshape(out, s), True


def _fft(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    rank = _pe_ndim(args[0], True)
    axes = params.get("axes")
    if axes is None:
        axes = tuple(range(-len(params["s"]), 0)) if params.get("s") is not None else tuple(range(rank))
    return apply(prim, args, dict(params, axes=shift_axes(tuple(axes), rank, prim.name))), True


def _take(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    x, idx = _seen(args[0]), args[1]
    bx, bi = batched
    rank = _pe_ndim(x, bx)
    axis = params.get("axis")
    if axis is None:  # take from the flattened example (one-axis examples only)
        axis = 0
    if not bi:
        return apply(prim, (x, idx), dict(params, axis=shift_axes(axis, rank, prim.name))), True
    # per-example indices: take_along_axis with the indices spread over the other axes
    # (portable: the standard's integer-array indexing allows no slices beside the arrays)
    from .sorting import take_along_axis

    x = batch_of(x, bx, size)
    axis = shift_axes(axis, rank, prim.name)
    s, k = _shape(x), _shape(idx)[1]
    idx = reshape(idx, (size,) + (1,) * (axis - 1) + (k,) + (1,) * (len(s) - axis - 1))
    return take_along_axis(x, broadcast_to(idx, s[:axis] + (k,) + s[axis + 1:]), axis=axis), True


def _take_along_axis(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    x, idx = (batch_of(a, b, size) for a, b in zip(args, batched))
    rank = _pe_ndim(x, True)
    return apply(prim, (x, idx), dict(params, axis=shift_axes(params["axis"], rank, prim.name))), True


def _take_along_axis_adjoint(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    g, idx = (batch_of(a, b, size) for a, b in zip(args, batched))
    shape = tuple(params["shape"])
    axis = shift_axes(params["axis"], len(shape), prim.name)
    return apply(prim, (g, idx), dict(params, shape=(size,) + shape, axis=axis)), True


def _clip(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    """``clip`` with bounds that may be batched arrays: the three broadcast together."""
    (x,) = args
    bounds = {k: params.get(k) for k in ("min", "max")}
    parts = [(x, batched[0])] + [(v.value, True) if type(v) is Batched else (v, False)
                                  for v in bounds.values()]
    rank = max(_pe_ndim(a, b) for a, b in parts if a is not None)
    lifted = [lift(a, rank) if b and a is not None else a for a, b in parts]
    return apply(prim, (lifted[0],), dict(params, min=lifted[1], max=lifted[2])), True


def _isin(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    """``isin``; with a batched test set, each element compared with its example's set."""
    if not batched[1]:
        return apply(prim, args, params), True
    from .elementwise import equal, greater
    from .reductions import sum as _sum

    a, b = batch_of(args[0], batched[0], size), _flat(args[1], size)
    rank = _pe_ndim(a, True)
    hits = equal(reshape(a, _shape(a) + (1,)), reshape(b, (size,) + (1,) * rank + _shape(b)[1:]))
    xp = _backend.namespace_of(_raw(hits))
    count = _sum(astype(hits, xp.int64), axis=-1)
    return (equal(count, 0) if params.get("invert") else greater(count, 0)), True


def _searchsorted(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    """``searchsorted``: a batch of queries is one call; per-example sorted arrays
    (the standard's kernel takes one 1-D array) count the elements below each query."""
    x1, x2 = args
    if not batched[0]:
        return apply(prim, args, params), True
    _refuse_batched_params(prim, params)
    if params.get("sorter") is not None:
        raise BatchingError("anyad.vmap: searchsorted with a sorter has no batching rule for a batched "
                            "sorted array; sort it first (anyad.sort)")
    from .elementwise import less, less_equal
    from .reductions import sum as _sum

    x2 = batch_of(x2, batched[1], size)
    rank = _pe_ndim(x2, True)
    below = (less if params.get("side", "left") == "left" else less_equal)(
        reshape(x1, (size,) + (1,) * rank + _shape(x1)[1:]), reshape(x2, _shape(x2) + (1,)))
    return _sum(astype(below, _backend.namespace_of(_raw(below)).int64), axis=-1), True


def _conv(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    x, w = args
    bx, bw = batched
    if not bw:  # the batch joins the images
        s = _shape(x)
        out = apply(prim, (reshape(x, (size * s[1],) + s[2:]), w), params)
        o = _shape(out)
        return reshape(out, (size, s[1]) + o[1:]), True
    if not size:  # an empty batch: the shapes of filters of zeros (groups=0 has no meaning)
        raw = _raw(w)
        xp = _backend.namespace_of(raw)
        zeros = xp.zeros(_shape(w)[1:], dtype=raw.dtype, device=_backend.device_of(raw))
        return _conv(size, prim, (batch_of(x, bx, size), zeros), (True, False), params)
    # per-example filters: the batch becomes groups (as torch.func does)
    x = batch_of(x, bx, size)
    s, k = _shape(x), _shape(w)
    n, c, spatial = s[1], s[2], s[3:]
    xg = reshape(permute_dims(x, (1, 0) + tuple(range(2, len(s)))), (n, size * c) + spatial)
    wg = reshape(w, (size * k[1],) + k[2:])
    out = apply(prim, (xg, wg), dict(params, groups=size * params["groups"]))
    o = _shape(out)
    out = reshape(out, (n, size, k[1]) + o[2:])
    return permute_dims(out, (1, 0) + tuple(range(2, len(o) + 1))), True


# ----------------------------------------------------------------------------
# Indexing: where the batch axis lands, for any key
# ----------------------------------------------------------------------------


def _is_index_array(k: Any) -> bool:
    return hasattr(k, "shape") and not isinstance(k, (slice, type(None), type(Ellipsis)))


def _is_bool(k: Any) -> bool:
    k = k.value if isinstance(k, (Variable, _Shaped)) else k
    return _backend.namespace_of(k).isdtype(k.dtype, "bool")


def _axes(parts: list, rank: int, ints_basic: bool = False) -> list:
    """The axes of ``x[key]`` as labels, by numpy's rules (torch's with ``ints_basic``).

    ``parts`` is the key as ``(kind, consumed, label)``: kind ``"s"`` a slice,
    ``"n"`` None, ``"i"`` an int, ``"a"`` an index array, ``"e"`` Ellipsis;
    ``consumed`` how many axes of ``x`` it takes. A slice or None gives the
    result axis labelled ``label``; the index arrays' broadcast shape is the
    block ``"A"``, where the arrays sit if they are adjacent, else first.
    NumPy counts the ints among the index arrays when there are any, and an
    Ellipsis between two of them separates them even where it stands for no
    axis; torch (``ints_basic``) applies the ints first, as basic indexing
    (they neither join nor separate the arrays), and expands the Ellipsis first.
    """
    arrays = any(k == "a" for k, _, _ in parts)
    rest = rank - sum(c for _, c, _ in parts)
    expanded: list = []
    for k, c, label in parts:
        if k == "e":
            expanded.extend(("s", 1, ("e", j)) for j in range(rest))
            if not rest and not ints_basic:
                expanded.append(("x", 0, None))  # numpy: an empty Ellipsis still separates index arrays
        elif not (k == "i" and ints_basic):
            expanded.append((k, c, label))
    if not any(k == "e" for k, _, _ in parts):
        expanded.extend(("s", 1, ("t", j)) for j in range(rest))
    adv = [i for i, (k, _, _) in enumerate(expanded) if k == "a" or (k == "i" and arrays)]
    together = bool(adv) and adv == list(range(adv[0], adv[-1] + 1))
    labels = ["A"] if adv and not together else []
    for i, (k, _, label) in enumerate(expanded):
        if i in adv:
            if together and i == adv[0]:
                labels.append("A")
        elif k in "sn":
            labels.append(label)
    return labels


def _parts(key: tuple, ints_basic: bool = False) -> list:
    out = []
    for i, k in enumerate(key):
        if k is Ellipsis:
            out.append(("e", 0, None))
        elif k is None:
            out.append(("n", 0, ("p", i)))
        elif isinstance(k, slice):
            out.append(("s", 1, ("p", i)))
        elif _is_index_array(k) and _is_bool(k):
            out.append(("a", len(_shape(k)), None))
        elif _is_index_array(k) and not (ints_basic and not _shape(k)):
            out.append(("a", 1, None))
        else:  # an int (or, for torch, a 0-d index array: indexed as an int)
            out.append(("i", 1, None))
    return out


def _expand(labels: list, block: list) -> list:
    out: list = []
    for lab in labels:
        out.extend(block if lab == "A" else [lab])
    return out


_INTS_BASIC: dict = {}  # array type -> whether ints beside index arrays index as basic indexing (torch)


def _ints_basic(like: Any) -> bool:
    """Whether the library of ``like`` indexes ``x[0, :, idx]`` by applying the int
    first (torch: shape ``(3, 2)`` for ``x`` of shape ``(2, 3, 4)`` and two
    indices) or as one more index array (numpy: ``(2, 3)``). Probed once per
    library, on its device."""
    raw = _raw(like)
    xp = _backend.namespace_of(raw)
    known = _INTS_BASIC.get(type(raw))
    if known is None:
        dev = _backend.device_of(raw)
        try:
            z = xp.zeros((2, 3, 4), device=dev)
            known = tuple(z[0, :, xp.asarray([0, 1], device=dev)].shape) == (3, 2)
        except Exception:  # the library refuses the mix (array_api_strict): no per-example key has it
            known = False
        _INTS_BASIC[type(raw)] = known
    return known


def _batched_key(size: int, key: Any, x_batched: bool, shape: tuple, like: Any) -> tuple:
    """The key that indexes the batched ``x`` as ``key`` indexes each example
    (``shape``: x's shape; ``like``: an array of the namespace and device),
    and the permutation that brings the result to (batch, per-example layout).

    Returns ``(new_key, perm, res_rank)``: ``perm`` None when the batch axis
    already lands first; ``res_rank`` the per-example result's rank.
    """
    parts = key if isinstance(key, tuple) else (key,)
    flags = tuple(type(k) is Batched for k in parts)
    parts = tuple(k.value if type(k) is Batched else k for k in parts)
    rank = len(shape) - (1 if x_batched else 0)
    if any(f and _is_bool(k) for k, f in zip(parts, flags)):
        raise BatchingError("anyad.vmap: indexing with a boolean mask that differs between examples: the "
                            "result's shape would depend on the values; use anyad.where(mask, x, 0.0)")
    basic = _ints_basic(like)
    pe = _parts(tuple(k if not f else _Shaped(_shape(k)[1:], k) for k, f in zip(parts, flags)), basic)
    pb = _parts(parts, basic)  # the batched key's own parts (a batched index is an array there)
    ints = [len(_shape(k)) - (1 if f else 0) for k, f, (kind, _, _) in zip(parts, flags, pe)
            if kind == "a" and not _is_bool(k)]
    masks = any(_is_index_array(k) and _is_bool(k) for k in parts)
    adv = [("A", j) for j in range(max(ints + [1 if masks else 0]))]
    per_example = _expand(_axes(pe, rank, basic), adv)
    if not any(f or kind == "a" and not _is_bool(k) for k, f, (kind, _, _) in zip(parts, flags, pb)):
        # basic indexing and masks: a leading full slice keeps the batch in front
        if not x_batched:
            raise AssertionError("a key without index arrays batches nothing")
        new = (slice(None),) + parts
        full = _expand(_axes([("s", 1, "B")] + pe, rank + 1, basic), adv)
    else:
        lifted = tuple(lift(k, len(adv)) if f else k for k, f in zip(parts, flags))
        if x_batched:  # each example indexes its own row: the batch positions as an index array
            raw = _raw(like)
            xp = _backend.namespace_of(raw)
            idx = xp.arange(size, device=_backend.device_of(raw))
            new = (xp.reshape(idx, (size,) + (1,) * len(adv)),) + lifted
            full = _expand(_axes([("a", 1, None)] + pb, rank + 1, basic), ["B"] + adv)
        else:
            new = lifted
            full = _expand(_axes(pb, rank, basic), ["B"] + adv)
    consumed = sum(c for _, c, _ in _parts(new, basic))
    if consumed < len(shape) and not any(k is Ellipsis for k in new):
        new = new + (Ellipsis,)  # explicit (the standard has no implicit trailing slices)
    new = tuple(_raw(k) for k in new)  # a key holds arrays (an index computed in f is a Variable)
    perm = tuple(full.index(lab) for lab in ["B"] + per_example)
    return new, (None if perm == tuple(range(len(perm))) else perm), len(per_example)


def _sole_mask(key: Any) -> Any:
    """The boolean array of a key that is one constant mask and nothing else, else None."""
    parts = key if isinstance(key, tuple) else (key,)
    if len(parts) == 1 and type(parts[0]) is not Batched and _is_index_array(parts[0]) and _is_bool(parts[0]):
        return _raw(parts[0])  # a mask passed in as an argument is a Variable here
    return None


def _behind(k: int, rank: int) -> tuple:
    """The permutation moving axis 0 (the batch) behind the next ``k`` axes (those a mask covers)."""
    return tuple(range(1, k + 1)) + (0,) + tuple(range(k + 1, rank))


def _getitem(size: int, prim: Primitive | None, args: tuple, batched: tuple, params: dict) -> tuple:
    from .indexing import _GETITEM

    x, bx = _seen(args[0]), batched[0]
    key = params["key"]
    mask = _sole_mask(key)
    if mask is not None:  # the batch axis moved behind the masked axes: x[mask] keeps it second
        k = len(_shape(mask))
        out = apply(_GETITEM, (permute_dims(x, _behind(k, len(_shape(x)))),), dict(params, key=mask))
        return permute_dims(out, _behind(1, len(_shape(out)))), True
    if not bx and not _key_has_int_arrays(key):
        x, bx = batch_of(x, bx, size), True
    new, perm, _ = _batched_key(size, key, bx, _shape(x), x)
    # an unbatched x read by per-example indices: two examples may read one element,
    # so the gradient must accumulate (a 0-d index is no repeat within one example)
    out = apply(_GETITEM, (x,), dict(params, key=new, repeats=params.get("repeats", False) or not bx))
    return (out if perm is None else permute_dims(out, perm)), True


def _key_has_int_arrays(key: Any) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return any(_is_index_array(k.value if type(k) is Batched else k)
               and not _is_bool(k.value if type(k) is Batched else k) for k in parts)


def _inverse(perm: tuple) -> tuple:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _key_of(key: Any) -> Any:
    """A take's adjoint key (``TakeKey``) as an ordinary key."""
    if isinstance(key, TakeKey):  # its indices may carry the batch (Batched)
        return (slice(None),) * key.axis + (key.indices,)
    return key


def _index_add(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    """Zeros of ``(batch, *shape)`` with each example's values added at its key."""
    v = batch_of(_seen(args[0]), batched[0], size)
    key = params["key"]
    shape = (size,) + tuple(params["shape"])
    if isinstance(key, TakeKey) and type(key.indices) is not Batched:
        return apply(prim, (v,), dict(params, key=TakeKey(key.indices, key.axis + 1), shape=shape)), True
    if isinstance(key, TakeKey):  # per-example take indices: the adjoint of _take's take_along_axis
        from .sorting import _TAKE_ALONG_ADJOINT

        idx, axis = key.indices.value, key.axis + 1
        k = _shape(idx)[1]
        idx = reshape(idx, (size,) + (1,) * (axis - 1) + (k,) + (1,) * (len(shape) - axis - 1))
        idx = broadcast_to(idx, shape[:axis] + (k,) + shape[axis + 1:])
        return apply(_TAKE_ALONG_ADJOINT, (v, idx), {"shape": shape, "axis": axis}), True
    mask = _sole_mask(key)
    if mask is not None:  # into (*masked axes, batch, *rest), then the batch brought back in front
        k = len(_shape(mask))
        v = permute_dims(v, _behind(1, len(_shape(v))))
        out = apply(prim, (v,), dict(params, key=mask, shape=shape[1:k + 1] + (size,) + shape[k + 1:]))
        return permute_dims(out, _inverse(_behind(k, len(shape)))), True
    new, perm, res_rank = _batched_key(size, _key_of(key), True, shape, v)
    v = lift(v, res_rank)
    if perm is not None:
        v = permute_dims(v, _inverse(perm))
    # index arrays (the batch's positions at least) go through the scatter-add, not a plain
    # write: the standard has no integer-array writes (array_api_strict refuses them)
    repeats = params.get("repeats", True) or _key_has_int_arrays(new)
    return apply(prim, (v,), dict(params, key=new, shape=shape, repeats=repeats)), True


def _setitem(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict) -> tuple:
    x = batch_of(_seen(args[0]), batched[0], size)
    v = args[1]
    scalar = not batched[1] and not hasattr(v, "shape")  # a Python number: written as it is
    v = v if scalar else batch_of(v, batched[1], size)
    mask = _sole_mask(params["key"])
    if mask is not None:
        k, n = len(_shape(mask)), len(_shape(x))
        if scalar:
            out = apply(prim, (permute_dims(x, _behind(k, n)), v), dict(params, key=mask))
            return permute_dims(out, _inverse(_behind(k, n))), True
        v = permute_dims(lift(v, 1 + n - 1 - k), _behind(1, 2 + n - 1 - k))
        out = apply(prim, (permute_dims(x, _behind(k, n)), v), dict(params, key=mask))
        return permute_dims(out, _inverse(_behind(k, n))), True
    new, perm, res_rank = _batched_key(size, params["key"], True, _shape(x), x)
    if not scalar:
        v = lift(v, res_rank)
        if perm is not None:
            v = permute_dims(v, _inverse(perm))
    return apply(prim, (x, v), dict(params, key=new)), True


class _Shaped:
    """An example's index array, seen through its shape and dtype only."""

    __slots__ = ("shape", "dtype", "value")

    def __init__(self, shape: tuple, batched: Any):
        self.shape = shape
        self.value = _raw(batched)
        self.dtype = self.value.dtype


# ----------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------


def set_rule(prim: Primitive, rule: Callable) -> None:
    """Attach ``rule`` to ``prim`` (and to the rule-less twin a tracer records)."""
    prim.batch = rule


_RULES = {
    OpType.MATMUL: _matmul, OpType.SOLVE: _solve,
    OpType.SUM: reduction, OpType.MEAN: reduction, OpType.PROD: reduction, OpType.MAX: reduction,
    OpType.MIN: reduction, OpType.LOGSUMEXP: reduction,
    OpType.SOFTMAX: _along(), OpType.SORT: _along(), OpType.FLIP: _along(),
    OpType.SQUEEZE: _along(), OpType.RFFT: _along(), OpType.IRFFT: _along(),
    OpType.CUMULATIVE_SUM: _first_axis_of_1d, OpType.CUMULATIVE_PROD: _first_axis_of_1d,
    OpType.RESHAPE: _reshape, OpType.PERMUTE_DIMS: _permute, OpType.EXPAND_DIMS: _expand_dims,
    OpType.BROADCAST_TO: _broadcast_to, OpType.CONCAT: _joined, OpType.STACK: _joined,
    OpType.ROLL: _roll, OpType.FFT: _fft,
    OpType.GETITEM: _getitem, OpType.SCATTER_ADD: _index_add, OpType.SETITEM: _setitem,
    OpType.TAKE: _take, OpType.TAKE_ALONG_AXIS: _take_along_axis,
    OpType.INDEX_ADD: _take_along_axis_adjoint, OpType.CLIP: _clip,
    OpType.CONV: _conv, OpType.PATCHES: merged, OpType.FOLD: merged,
    **{op: leading for op in (OpType.MATRIX_TRANSPOSE, OpType.TRIL, OpType.TRIU, OpType.INV, OpType.DET,
                              OpType.SLOGDET, OpType.CHOLESKY, OpType.EIGH, OpType.EIGVALSH, OpType.SVD,
                              OpType.SVDVALS, OpType.QR, OpType.PINV)},
    **{op: elementwise for op in (OpType.ASTYPE, OpType.WHERE, OpType.REAL, OpType.IMAG, OpType.CONJ,
                                  OpType.TO_DEVICE, OpType.TO_BACKEND, OpType.I_TIMES, OpType.AS_COMPLEX,
                                  OpType.POLYGAMMA, OpType.BETALN, OpType.BETAINC, OpType.BETAINCC,
                                  OpType.STDTR, OpType.GAMMAINC, OpType.GAMMAINCC)},
}
for _op, _rule in _RULES.items():
    if _op in PRIMITIVES:
        set_rule(PRIMITIVES[_op], _rule)
flat_reduction = _flat_reduction
isin_rule = _isin
_conv_ops._FIRST_MAX.batch = _conv_ops._WINDOW_MAX.batch = merged
_linalg_composed._MATRIX_RANK.batch = leading
_sorting._SEARCHSORTED.batch = _searchsorted


def example_loop(size: int, prim: Primitive, args: tuple, batched: tuple, params: dict | None) -> tuple:
    """The fallback of an operation whose forward is opaque (a ``custom_vjp``
    function): run it on each example and stack the results. Correct, with the
    operation's own rules on each example; a Python loop over the batch."""
    from .indexing import getitem
    from .manipulation import stack

    _refuse_batched_params(prim, params)
    if size == 0:
        raise BatchingError(f"anyad.vmap: {prim.name} is run once per example (it has no batching rule), "
                            "and an empty batch has no example to run it on")
    outs = [apply(prim, tuple(getitem(a, (i, Ellipsis)) if b else a for a, b in zip(args, batched)), params)
            for i in range(size)]
    return stack(outs, axis=0), True
