"""One dtype vocabulary on every backend.

A ``dtype=`` argument anywhere in anyad may be

* one of the standard's names: ``"bool"``, ``"int8"`` ... ``"int64"``,
  ``"uint8"`` ... ``"uint64"``, ``"float32"``, ``"float64"``, ``"complex64"``,
  ``"complex128"``, and ``"float16"`` / ``"bfloat16"`` where the library has
  them (:data:`NAMES`);
* the library's own dtype object (``torch.float32`` for torch arrays,
  ``array_api_strict.float32``, ``np.float32`` or ``np.dtype("float32")`` for
  NumPy, CuPy, JAX and dask, whose dtypes are NumPy's);
* a NumPy dtype on any backend (it stands for its name), or Python's ``bool``.

Everything else is refused, identically on every backend, by a ``TypeError``
that lists the names: other spellings (``"float"`` is float32 in torch and
float64 in NumPy; ``"double"``, ``"half"``, ``"long"``, ``"f4"``), Python's
``float``/``int``/``complex``, another library's dtype object, and anything
that is no dtype at all (``"sin"``). A refused spelling's error names the
standard name to use instead.
"""

from __future__ import annotations

import difflib
from typing import Any

__all__ = ["NAMES", "OPTIONAL", "resolve", "names_of"]

#: the standard's dtype names, in the order error messages list them
NAMES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "float16", "bfloat16", "float32", "float64", "complex64", "complex128")
#: names that only some libraries have
OPTIONAL = ("float16", "bfloat16")

# refused spellings, and what to write instead
_INSTEAD = {
    "float": "'float32' or 'float64' ('float' is float32 in torch and float64 in NumPy)",
    "int": "'int32' or 'int64' (the width of 'int' differs between libraries)",
    "complex": "'complex64' or 'complex128'",
    "byte": "'int8' or 'uint8' ('byte' is int8 in NumPy and uint8 in torch)",
    "double": "'float64'", "single": "'float32'", "half": "'float16'", "long": "'int64'",
    "short": "'int16'", "cfloat": "'complex64'", "cdouble": "'complex128'", "bool_": "'bool'",
    "float_": "'float64'", "int_": "'int64'", "uint": "'uint64'",
}
_PYTHON_TYPES = {float: "float", int: "int", complex: "complex"}
_NUMPY_DTYPED = ("numpy", "cupy", "jax", "dask")  # libraries whose arrays carry NumPy dtypes

_TABLES: dict[int, tuple] = {}  # id(xp) -> (xp, {name: dtype}, {(type, dtype): name}): fixed facts
MEMO: dict[tuple, Any] = {}  # (id(xp), type(dtype), dtype) -> (xp, resolved dtype): fixed facts


def _table(xp: Any, library: str) -> tuple:
    entry = _TABLES.get(id(xp))
    if entry is not None and entry[0] is xp:
        return entry
    by_name, own = {}, {}
    for name in NAMES:
        obj = getattr(xp, name, None)
        if obj is None:
            continue
        by_name[name] = obj
        _add(own, obj, name)
        if library in _NUMPY_DTYPED:  # np.float32 and np.dtype("float32") are both its own
            _add(own, _numpy_dtype(obj), name)
    entry = _TABLES[id(xp)] = (xp, by_name, own)
    return entry


def _add(own: dict, obj: Any, name: str) -> None:
    try:
        own[(type(obj), obj)] = name
    except TypeError:  # unhashable: reached by name only
        pass


def _numpy_dtype(obj: Any) -> Any:
    import numpy as np

    try:
        return np.dtype(obj)
    except TypeError:
        return None


def names_of(xp: Any, library: str) -> tuple:
    """The standard's dtype names that ``xp`` offers.

    Examples
    --------
    >>> import array_api_strict as xp
    >>> names_of(xp, "array_api_strict")[-4:]
    ('float32', 'float64', 'complex64', 'complex128')
    """
    return tuple(_table(xp, library)[1])


def resolve(xp: Any, dtype: Any, library: str) -> Any:
    """``xp``'s dtype object for ``dtype`` (see the module's docstring for what is accepted).

    ``library`` is ``xp``'s short name (``"numpy"``, ``"torch"``, ...), used
    in error messages.

    Examples
    --------
    >>> import numpy as np
    >>> import array_api_strict as xp
    >>> resolve(xp, np.float32, "array_api_strict")
    array_api_strict.float32
    >>> try:
    ...     resolve(xp, "double", "array_api_strict")
    ... except TypeError as e:
    ...     print(e)
    anyad: dtype 'double' is not one of the standard's names: write 'float64'
    (the same on every backend)
    """
    key = (id(xp), type(dtype), dtype)
    try:
        hit = MEMO.get(key)
    except TypeError:  # an unhashable dtype spelling: resolved every time
        return _resolve(xp, dtype, library)
    if hit is not None and hit[0] is xp:
        return hit[1]
    out = _resolve(xp, dtype, library)
    MEMO[key] = (xp, out)
    return out


def _resolve(xp: Any, dtype: Any, library: str) -> Any:
    _, by_name, own = _table(xp, library)
    try:
        if (type(dtype), dtype) in own:
            return dtype  # the library's own dtype object
    except TypeError:
        pass
    if isinstance(dtype, str):
        name = dtype
    elif dtype is bool:
        name = "bool"
    elif isinstance(dtype, type) and dtype in _PYTHON_TYPES:
        raise TypeError(f"anyad: dtype={dtype.__name__} (the Python type) is refused: write "
                        f"{_INSTEAD[_PYTHON_TYPES[dtype]]}; the same names work on every backend")
    elif _is_numpy_dtype(dtype):
        name = _numpy_dtype(dtype).name
        if name not in NAMES:
            raise TypeError(f"anyad: dtype {name!r} is not one of the standard's dtypes; "
                            f"{_valid(xp, library)}")
    else:
        mod = (type(dtype).__module__ or "").split(".")[0]
        raise TypeError(f"anyad: dtype {dtype!r} ({mod}'s) cannot be used with {library} arrays; "
                        f"pass its name instead (e.g. 'float32'), which works on every backend, or "
                        f"{library}'s own dtype; {_valid(xp, library)}")
    found = by_name.get(name)
    if found is not None:
        return found
    raise TypeError(_unknown(xp, name, library))


def _is_numpy_dtype(dtype: Any) -> bool:
    if isinstance(dtype, type):  # np.float32, the scalar type
        return (dtype.__module__ or "").split(".")[0] in ("numpy", "ml_dtypes")
    return (type(dtype).__module__ or "").startswith("numpy")


def _unknown(xp: Any, name: str, library: str) -> str:
    if name in NAMES:
        return f"anyad: dtype {name!r} is not offered by {library}; {_valid(xp, library)}"
    instead = _INSTEAD.get(name.lower())
    if instead is None:
        code = _numpy_code(name)
        instead = None if code is None else repr(code)
    if instead is not None:
        return (f"anyad: dtype {name!r} is not one of the standard's names: write {instead} "
                "(the same on every backend)")
    close = difflib.get_close_matches(name, NAMES, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"anyad: unknown dtype {name!r}{hint}; {_valid(xp, library)}"


def _numpy_code(name: str) -> str | None:
    """The standard's name for a NumPy type code (``"f4"``, ``"<i8"``), if it is one."""
    import numpy as np

    short = name.lstrip("<>=|")
    if not short or not any(c.isdigit() for c in short) and len(short) > 1:  # not a code ("sin")
        return None
    try:
        canonical = np.dtype(name).name
    except (TypeError, ValueError, SyntaxError):
        return None
    return canonical if canonical in NAMES else None


def _valid(xp: Any, library: str) -> str:
    have = names_of(xp, library)
    missing = [n for n in OPTIONAL if n not in have]
    base = ", ".join(n for n in NAMES if n not in OPTIONAL)
    note = "" if not missing else (f" ({library} has neither)" if len(missing) == 2
                                   else f" ({library} has no {missing[0]})")
    return f"the dtype names are {base}, and float16 and bfloat16 where the library has them{note}"
