"""The JSON encoding of saved programs (:mod:`anyad.lowered`): values, trees, constants, primitives.

Every value is plain JSON where JSON is exact, and a one-key object otherwise:

=====================  ===============================================
Python                 JSON
=====================  ===============================================
None, bool, int, str   ``null``, ``true``/``false``, a number, a string
float                  a number (Python's shortest exact repr); nan,
                       ±inf and -0.0 as ``{"float": float.hex(x)}``
complex                ``{"complex": [re, im]}`` (floats as above)
tuple, list            ``{"tuple": [...]}``, ``[...]``
dict                   ``{"dict": [[key, value], ...]}`` (order kept)
slice, Ellipsis        ``{"slice": [start, stop, step]}``, ``{"ellipsis": null}``
a dtype                ``{"dtype": "float32"}`` (the standard's names)
an array in a key      ``{"hole": i}``: the ``i``-th array operand
TakeKey(indices, ax)   ``{"take_key": [indices, ax]}``
=====================  ===============================================

Constant arrays are ``{"shape": [...], "dtype": "float32", "npy": <base64>}``:
the bytes of NumPy's ``.npy`` format (``numpy.lib.format``, read back with
``allow_pickle=False``), so every bit (nan payloads, -0.0, subnormals) survives.
"""

from __future__ import annotations

import base64
import math
import sys
import types
from typing import Any

from . import _backend
from .backends.scatter import TakeKey
from ._program import _Hole, _is_array
from ._pytree import TreeDef
from .graph import PRIMITIVES, Primitive

__all__ = ["DType", "encode", "decode", "encode_tree", "decode_tree", "encode_array", "decode_array",
           "normalise_dtypes", "resolve_dtypes", "primitive_named", "Unsavable"]

DTYPE_NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float16", "bfloat16", "float32", "float64", "complex64", "complex128")


class Unsavable(TypeError):
    """A part of a program that the saved format cannot hold."""


class DType:
    """A dtype by its standard name, resolved in the namespace a program runs in."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __eq__(self, other: object) -> bool:
        return type(other) is DType and other.name == self.name

    def __hash__(self) -> int:
        return hash(("DType", self.name))

    def __repr__(self) -> str:
        return self.name


_NAMES: dict = {}  # dtype object -> name (numpy's dtype.name costs microseconds; a call checks every array)


def dtype_name(dtype: Any) -> str:
    """``"float32"`` for any library's float32 dtype object."""
    key = (type(dtype), dtype)  # the type first: no comparison across libraries
    try:
        return _NAMES[key]
    except KeyError:
        name = _NAMES[key] = _backend._dtype_name(dtype)
        return name
    except TypeError:  # unhashable
        return _backend._dtype_name(dtype)


# ----------------------------------------------------------------------------
# dtypes inside parameters: by name while lowered, the namespace's own when run
# ----------------------------------------------------------------------------


def _as_dtype(obj: Any, xp: Any) -> DType | None:
    if xp is None:
        return None
    for name in DTYPE_NAMES:
        try:
            if obj is _backend.resolve_dtype(xp, name) or bool(_backend.resolve_dtype(xp, name) == obj):
                return DType(name)
        except Exception:  # noqa: BLE001  (any object: a dtype only if it compares equal to one)
            continue
    return None


def normalise_dtypes(obj: Any, xp: Any) -> Any:
    """``obj`` (a parameter template) with every dtype object of ``xp`` replaced by a :class:`DType`."""
    t = type(obj)
    if t is tuple or t is list:
        return t(normalise_dtypes(o, xp) for o in obj)
    if t is dict:
        return {k: normalise_dtypes(o, xp) for k, o in obj.items()}
    if obj is None or obj is Ellipsis or t in (bool, int, float, complex, str, slice, _Hole, TakeKey, DType):
        return obj
    d = _as_dtype(obj, xp)
    return obj if d is None else d


def resolve_dtypes(obj: Any, xp: Any) -> Any:
    """``obj`` with every :class:`DType` replaced by ``xp``'s dtype of that name."""
    t = type(obj)
    if t is DType:
        return _backend.resolve_dtype(xp, obj.name)
    if t is tuple or t is list:
        return t(resolve_dtypes(o, xp) for o in obj)
    if t is dict:
        return {k: resolve_dtypes(o, xp) for k, o in obj.items()}
    return obj


def has_dtypes(obj: Any) -> bool:
    t = type(obj)
    if t is DType:
        return True
    if t is tuple or t is list:
        return any(has_dtypes(o) for o in obj)
    if t is dict:
        return any(has_dtypes(o) for o in obj.values())
    return False


# ----------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------


def _float(x: float) -> Any:
    if math.isfinite(x) and not (x == 0.0 and math.copysign(1.0, x) < 0):
        return x
    return {"float": x.hex()}


def encode(obj: Any, what: str) -> Any:
    """The JSON form of a parameter or static value; :class:`Unsavable` naming
    ``what`` for anything else (a device, a function, an array)."""
    t = type(obj)
    if obj is None or t is bool or t is int or t is str:
        return obj
    if t is float:
        return _float(obj)
    if t is complex:
        return {"complex": [_float(obj.real), _float(obj.imag)]}
    if t is list:
        return [encode(o, what) for o in obj]
    if isinstance(obj, tuple) and not hasattr(t, "_fields"):  # tuples and torch.Size
        return {"tuple": [encode(o, what) for o in obj]}
    if t is dict:
        return {"dict": [[encode(k, what), encode(v, what)] for k, v in obj.items()]}
    if t is slice:
        return {"slice": [encode(obj.start, what), encode(obj.stop, what), encode(obj.step, what)]}
    if obj is Ellipsis:
        return {"ellipsis": None}
    if t is DType:
        return {"dtype": obj.name}
    if t is _Hole:
        return {"hole": obj.i}
    if t is TakeKey:
        return {"take_key": [encode(obj.indices, what), obj.axis]}
    if hasattr(obj, "__index__") and not _is_array(obj):  # a numpy integer scalar type's instance
        return int(obj.__index__())
    kind = "an array" if _is_array(obj) else f"a {t.__module__}.{t.__qualname__}"
    raise Unsavable(f"{what} holds {kind} ({obj!r:.60}): the saved format holds numbers, strings, "
                    "None, slices, Ellipsis, dtypes and tuples, lists and dicts of them")


def decode(obj: Any) -> Any:
    """The inverse of :func:`encode` (holes as :class:`~anyad._program._Hole`, dtypes as :class:`DType`)."""
    if isinstance(obj, list):
        return [decode(o) for o in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) != 1:
        raise ValueError(f"anyad.load_program: malformed value {obj!r:.80}")
    (tag, v), = obj.items()
    if tag == "float":
        return float.fromhex(v)
    if tag == "complex":
        return complex(decode(v[0]), decode(v[1]))
    if tag == "tuple":
        return tuple(decode(o) for o in v)
    if tag == "dict":
        return {_hashable(decode(k)): decode(x) for k, x in v}
    if tag == "slice":
        return slice(*(decode(o) for o in v))
    if tag == "ellipsis":
        return Ellipsis
    if tag == "dtype":
        if v not in DTYPE_NAMES:
            raise ValueError(f"anyad.load_program: unknown dtype {v!r}")
        return DType(v)
    if tag == "hole":
        return _Hole(int(v))
    if tag == "take_key":
        return TakeKey(decode(v[0]), int(v[1]))
    raise ValueError(f"anyad.load_program: unknown value tag {tag!r}")


def _hashable(k: Any) -> Any:
    return tuple(_hashable(o) for o in k) if isinstance(k, list) else k


def encode_tree(td: TreeDef, what: str) -> Any:
    """A pytree structure as JSON: tuples, lists, dicts (keys encoded), None and leaves."""
    kind = td.kind
    if kind == "leaf":
        return "*"
    if kind == "none":
        return None
    if kind == "namedtuple":
        raise Unsavable(f"{what} holds a namedtuple ({td.meta.__name__}): save tuples, lists and dicts")
    out: dict = {kind: [encode_tree(c, what) for c in td.children]}
    if kind == "dict":
        out["keys"] = [encode(k, what) for k in td.meta]
    return out


def decode_tree(obj: Any) -> TreeDef:
    if obj == "*":
        return TreeDef("leaf", None, (), 1)
    if obj is None:
        return TreeDef("none", None, (), 0)
    kind = "dict" if "dict" in obj else "tuple" if "tuple" in obj else "list"
    children = tuple(decode_tree(c) for c in obj[kind])
    meta = tuple(_hashable(decode(k)) for k in obj["keys"]) if kind == "dict" else None
    return TreeDef(kind, meta, children, sum(c.num_leaves for c in children))


# ----------------------------------------------------------------------------
# Constant arrays
# ----------------------------------------------------------------------------


def encode_array(value: Any, what: str) -> dict:
    """A constant array, copied to the host (:func:`anyad.backends.transfer.to_host`), as ``.npy`` bytes."""
    from .backends.host import contiguous, npy_bytes
    from .backends.transfer import to_host

    try:
        host = contiguous(to_host(value))
    except Exception as e:
        raise Unsavable(f"{what}: {_backend.describe(value)} could not be copied to the host ({e})") from None
    if host.dtype.hasobject or dtype_name(host.dtype) not in DTYPE_NAMES:
        raise Unsavable(f"{what}: a constant of dtype {host.dtype} cannot be saved")
    return {"shape": list(host.shape), "dtype": dtype_name(host.dtype),
            "npy": base64.b64encode(npy_bytes(host)).decode("ascii")}


def decode_array(obj: dict) -> Any:
    from .backends.host import from_npy_bytes

    host = from_npy_bytes(base64.b64decode(obj["npy"]))
    if list(host.shape) != list(obj["shape"]) or dtype_name(host.dtype) != obj["dtype"]:
        raise ValueError(f"anyad.load_program: a constant's data ({host.dtype} {host.shape}) does not "
                         f"match its header ({obj['dtype']} {obj['shape']})")
    return host


# ----------------------------------------------------------------------------
# Primitives by name
# ----------------------------------------------------------------------------


def _registry() -> dict:
    """Every primitive defined at the top level of an imported anyad module (or
    carried by a public function as ``.primitive``), by name; a name two different
    primitives share maps to None."""
    found: dict = {}

    def add(p: Primitive) -> None:
        q = found.get(p.name, p)
        found[p.name] = p if q is p or (q is not None and q.fwd is p.fwd) else None

    for mname, module in list(sys.modules.items()):
        if module is None or not (mname == "anyad" or mname.startswith("anyad.")):
            continue
        for v in list(vars(module).values()):
            if isinstance(v, Primitive):
                add(v)
            elif ((isinstance(v, types.FunctionType) or type(v).__module__.startswith("anyad"))
                  and isinstance(getattr(v, "primitive", None), Primitive)):
                add(v.primitive)
    for p in PRIMITIVES.values():
        add(p)
    return found


_REGISTRY: dict = {}


def primitive_named(name: str) -> Primitive | None:
    """anyad's primitive called ``name``, or None (unknown, or ambiguous)."""
    p = _REGISTRY.get(name)
    if p is None:
        _REGISTRY.clear()
        _REGISTRY.update(_registry())  # modules imported since the last look
        p = _REGISTRY.get(name)
    return p
