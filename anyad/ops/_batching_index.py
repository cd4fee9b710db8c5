"""Batching rules of indexing (:mod:`anyad.ops.batching`): ``getitem``,
``setitem`` and ``index_add`` for any key, by where numpy's (or the backend's)
rules put the batch axis in the result."""

from __future__ import annotations

from typing import Any

from .. import _backend
from ..backends.scatter import TakeKey
from ..graph import Primitive
from ..variable import Variable
from ._batching_base import Batched, BatchingError, _raw, _seen, _shape, batch_of, lift
from ._core import apply
from .manipulation import broadcast_to, permute_dims, reshape

__all__ = ["getitem_rule", "setitem_rule", "index_add_rule"]



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


getitem_rule, setitem_rule, index_add_rule = _getitem, _setitem, _index_add
