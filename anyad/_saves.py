"""What a primitive's rules read, and so what its nodes keep.

A node keeps exactly the values its primitive's rules read: the output, an
input's value, an input's metadata only (shape and dtype, as a :class:`Meta`),
or nothing. Each primitive declares this as its ``saves``; when it does not
declare it, :func:`derive_saves` reads it off the rules' own code (which of
``ans`` and the inputs each VJP and JVP rule loads, and whether it only reads
their ``shape``, ``dtype`` or ``ndim``), erring on the side of keeping: a rule
that passes an input on to another function keeps that input's value.

Codes, per input: :data:`NONE` (not kept), :data:`META` (shape and dtype),
:data:`VALUE` (the array).
"""

from __future__ import annotations

import dis
from typing import Any, Callable, Sequence

from ._backend import _RELAYOUT

__all__ = ["Meta", "meta_of", "NONE", "META", "VALUE", "Saves", "derive_saves"]

NONE, META, VALUE = 0, 1, 2

#: attributes a rule may read from an input kept as metadata only
_META_ATTRS = frozenset(("shape", "dtype", "ndim", "size"))
_LOADS = frozenset(("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF", "LOAD_CLOSURE", "LOAD_FAST_AND_CLEAR",
                    "LOAD_FAST_LOAD_FAST"))


class Meta:
    """An input that a rule reads only the shape and dtype of (its array is not kept).

    Examples
    --------
    >>> import numpy as np
    >>> m = Meta(np.zeros((2, 3), dtype=np.float32))
    >>> m.shape, m.ndim, m.size, m.dtype
    ((2, 3), 2, 6, dtype('float32'))
    """

    __slots__ = ("shape", "dtype")

    def __init__(self, x: Any):
        self.shape = tuple(x.shape)
        self.dtype = x.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self) -> str:
        return f"Meta(shape={self.shape}, dtype={self.dtype})"


def meta_of(x: Any) -> Any:
    """What a node keeps of an input whose shape and dtype only are read: a
    :class:`Meta`; the array itself where it has a layout beyond them (a dask
    array's chunks, which gradients follow; it holds no data)."""
    return x if type(x) in _RELAYOUT else Meta(x)


class Saves:
    """A primitive's declaration of what its nodes keep.

    Parameters
    ----------
    out : bool
        The output is kept (``ans`` in the rules).
    inputs : sequence of int
        One code per named positional input (:data:`NONE`, :data:`META`,
        :data:`VALUE`).
    rest : int
        The code of inputs past the named ones (variadic primitives: concat).

    Examples
    --------
    >>> Saves(out=True)
    Saves(out=True, inputs=(), rest=0)
    """

    __slots__ = ("out", "inputs", "rest")

    def __init__(self, out: bool = False, inputs: Sequence[int] = (), rest: int = NONE):
        self.out = bool(out)
        self.inputs = tuple(inputs)
        self.rest = rest

    def code(self, i: int) -> int:
        """The code of input ``i``."""
        ins = self.inputs
        return ins[i] if i < len(ins) else self.rest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Saves) and (self.out, self.inputs, self.rest) == (other.out, other.inputs, other.rest)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Saves(out={self.out}, inputs={self.inputs}, rest={self.rest})"


#: keep everything (rules that cannot be read: callable objects, partials)
KEEP_ALL = Saves(True, (), VALUE)


def _reads(fn: Callable, skip: int) -> tuple[bool, list, int] | None:
    """What ``fn(first, ans, *inputs)`` reads of ``ans`` and its inputs, from its
    bytecode; ``None`` when it cannot be read (then everything is kept)."""
    code = getattr(fn, "__code__", None)
    if code is None or getattr(fn, "__self__", None) is not None:
        return None
    n_pos = code.co_argcount
    names = code.co_varnames[:n_pos]
    varargs = code.co_varnames[n_pos] if code.co_flags & 0x04 else None
    if len(names) < skip + 1 and varargs is None:
        return None
    watched = {name: NONE for name in names[skip:]}
    if varargs is not None:
        watched[varargs] = NONE
    instructions = list(dis.get_instructions(code))
    for k, ins in enumerate(instructions):
        if ins.opname not in _LOADS:
            continue
        loaded = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
        for name in loaded:
            if name not in watched:
                continue
            nxt = instructions[k + 1] if k + 1 < len(instructions) else None
            only_meta = (ins.opname in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF") and nxt is not None
                         and nxt.opname == "LOAD_ATTR" and nxt.argval in _META_ATTRS and name != varargs)
            watched[name] = max(watched[name], META if only_meta else VALUE)
    for inner in code.co_consts:  # a nested function reading a cell: conservative, handled by LOAD_CLOSURE
        if hasattr(inner, "co_code") and set(inner.co_freevars) & set(watched):
            for name in set(inner.co_freevars) & set(watched):
                watched[name] = VALUE
    positional = names[skip:]
    if not positional:  # everything behind *args
        rest = watched[varargs]
        return rest == VALUE, [], rest
    ans = watched[positional[0]] != NONE
    inputs = [watched[name] for name in positional[1:]]
    rest = watched[varargs] if varargs is not None else NONE
    return ans, inputs, rest


def derive_saves(vjps: Any, jvp: Any, jvp_like_vjps: bool, mask: int = -1) -> Saves:
    """The union of what the VJP rules (``rule(g, ans, *inputs)``) of the
    inputs in ``mask`` (bit ``i``: input ``i`` may need a gradient; an operand
    that is not a Variable never does) and the JVP rule
    (``jvp(tangents, ans, *inputs)``) read."""
    rules: list = []
    if vjps is not None:
        if not isinstance(vjps, tuple):
            return KEEP_ALL
        rules.extend(r for i, r in enumerate(vjps) if r is not None and (mask >> i) & 1)
    if jvp is not None and not jvp_like_vjps:
        rules.append(jvp)
    out = False
    inputs: list = []
    rest = NONE
    for rule in rules:
        r = _reads(rule, 1)
        if r is None:
            return KEEP_ALL
        a, ins, rs = r
        out = out or a
        for i, c in enumerate(ins):
            if i < len(inputs):
                inputs[i] = max(inputs[i], c)
            else:
                inputs.append(max(c, rest))
        for i in range(len(ins), len(inputs)):
            inputs[i] = max(inputs[i], rs)
        rest = max(rest, rs)
    if vjps is not None:  # one code per declared input
        while len(inputs) < len(vjps):
            inputs.append(rest)
    return Saves(out, inputs, rest)
