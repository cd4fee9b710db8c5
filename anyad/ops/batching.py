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
(:mod:`anyad.ops._core`). The indexing rules live in
:mod:`anyad.ops._batching_index`, the helpers all rules share in
:mod:`anyad.ops._batching_base`.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import _backend
from ..graph import PRIMITIVES, OpType, Primitive
from ._batching_base import (  # noqa: F401  (Batched, BatchingError: re-exported)
    Batched, BatchingError, _axis, _flat, _pe_ndim, _raw, _refuse_batched_params, _seen, _shape, batch_of,
    lift, shift_axes,
)
from ._batching_index import _getitem, _index_add, _setitem
from ._core import apply
from . import conv as _conv_ops  # noqa: F401  (these modules' primitives get rules here)
from . import special_gamma as _special_gamma, special_incomplete as _special_incomplete  # noqa: F401

from . import linalg_composed as _linalg_composed, sorting as _sorting
from .manipulation import astype, broadcast_to, permute_dims, reshape

__all__ = ["Batched", "BatchingError", "elementwise", "reduction", "set_rule"]


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
