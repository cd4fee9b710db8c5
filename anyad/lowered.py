"""Portable compiled programs: :meth:`anyad.jit(f).lower(...) <anyad.compile.Compiled.lower>`,
:meth:`Lowered.save` and :func:`load_program`.

A :class:`Lowered` is the flattened graph :func:`anyad.jit` traced for one
input signature (:class:`anyad._program.FlatGraph`), made independent of the
backend it was traced on: operations are named by primitive, dtypes in their
parameters by name, and constants are arrays converted to the caller's library
and device when it runs. Calling it builds a :class:`~anyad._program.Program`
for the namespace of the arguments (once per namespace and device) and replays
it; saving writes it as JSON (:mod:`anyad._program_json`), with no code in it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import _backend
from ._program import _CONST, _IN, _OP, _allocate, _is_array
from ._program_json import (Unsavable, decode, decode_array, decode_tree, dtype_name, encode,
                            encode_array, encode_tree, has_dtypes, normalise_dtypes, primitive_named,
                            resolve_dtypes)
from ._pytree import tree_flatten, tree_unflatten
from .backends import transfer
from .variable import Variable, wrap

__all__ = ["Lowered", "load_program", "Unsavable"]

FORMAT = "anyad.program"
VERSION = 1
_NOT_SAVED = frozenset(("to_backend", "to_device"))  # their parameters are library objects: never written


class _Spec:
    """One leaf of a signature, for messages: ``float32[3, 2]`` or a static value."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _array_text(shape: tuple, dtype: str) -> str:
    return f"{dtype}[{', '.join(str(d) for d in shape)}]"


def _leaf_text(x: Any) -> str:
    raw = x.value if isinstance(x, Variable) else x
    return _array_text(tuple(raw.shape), dtype_name(raw.dtype)) if _is_array(raw) else repr(x)


def _static_key(value: Any) -> Any:
    try:
        return ("json", json.dumps(encode(value, "a static argument")))
    except Unsavable:
        return ("object", value)


class Lowered:
    """A function compiled for one input signature, runnable on any backend, savable.

    Made by ``anyad.jit(f).lower(*example_args)`` or read by
    :func:`load_program`. Call it as you would call ``f``: the arguments must
    match the signature it was lowered for (the pytree structure, each
    array's shape and dtype by name, and static values such as Python
    numbers by value), or a ``TypeError`` lists the expected signature. It
    runs on the arrays of any library and device given (NumPy, CuPy, torch,
    array_api_strict, dask): the constants move there on the first call
    with that library and device.

    Arrays and Variables the function reads from outside (closures, model
    parameters) are constants of a lowered program, with the values they had
    when it was lowered.

    Attributes
    ----------
    name : str
        The lowered function's name.
    signature : str
        The expected call, as ``f(float32[8, 4], 3)``.

    Examples
    --------
    >>> import numpy as np
    >>> import array_api_strict as xps
    >>> import anyad as ad
    >>> def scale(x, factor):
    ...     return {"y": x * factor, "total": ad.sum(x)}
    >>> lowered = ad.jit(scale).lower(np.ones(2), 3.0)
    >>> lowered.signature
    'scale(float64[2], 3.0)'
    >>> lowered(xps.asarray([1.0, 2.0]), 3.0)["y"]
    Array([3., 6.], dtype=array_api_strict.float64)
    """

    __slots__ = ("name", "nodes", "order", "outputs", "n_inputs", "in_tree", "in_leaves", "out_tree",
                 "out_statics", "_programs")

    @classmethod
    def _from_trace(cls, name: str, call: tuple, graph: Any, out_def: Any, statics: list) -> Lowered:
        """The :class:`Lowered` of a traced call (:meth:`anyad.compile.Compiled.lower`)."""
        self = cls.__new__(cls)
        self.name = name
        leaves, self.in_tree = tree_flatten(call)
        self.in_leaves = [("array", tuple(int(d) for d in x.shape), dtype_name(x.dtype)) if _is_array(x)
                          else ("static", x) for x in leaves]
        self.n_inputs = n = sum(1 for s in self.in_leaves if s[0] == "array")
        nodes = []
        for kind, payload in graph.nodes:
            if kind == _IN and payload >= n:  # a Variable read from outside: its value now
                kind, payload = _CONST, graph.live[payload - n].value
            elif kind == _OP:
                prim, xp, args, template, holes = payload
                payload = (prim, None, args, normalise_dtypes(template, xp) if template else template, holes)
            nodes.append((kind, payload))
        self.nodes = nodes
        self.order = list(graph.order)
        self.outputs = list(graph.outputs)
        self.out_tree = out_def
        self.out_statics = list(statics)
        self._programs = {}
        return self

    # -- the signature -----------------------------------------------------------
    @property
    def signature(self) -> str:
        specs = [_Spec(_array_text(s[1], s[2]) if s[0] == "array" else repr(s[1])) for s in self.in_leaves]
        return self._call_text(tree_unflatten(self.in_tree, specs))

    def _call_text(self, call: Any) -> str:
        args, kwargs = call if isinstance(call, tuple) and len(call) == 2 else (call, {})
        parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
        return f"{self.name}({', '.join(parts)})"

    def _check(self, args: tuple, kwargs: dict) -> tuple[list, bool]:
        """The arrays of a call (raw), and whether any was a Variable; a
        ``TypeError`` listing the signature when the call does not match it."""
        leaves, tree = tree_flatten((args, kwargs))
        problem = None
        if tree != self.in_tree:
            problem = "the arguments' structure differs"
        else:
            for i, (leaf, spec) in enumerate(zip(leaves, self.in_leaves)):
                if spec[0] == "array":
                    raw = leaf.value if isinstance(leaf, Variable) else leaf
                    if not _is_array(raw):
                        problem = f"argument leaf {i} is a {type(leaf).__name__}, not an array"
                    elif tuple(raw.shape) != spec[1] or dtype_name(raw.dtype) != spec[2]:
                        want = _array_text(spec[1], spec[2])
                        problem = f"argument leaf {i} is {_leaf_text(raw)}, not {want}"
                elif (_is_array(leaf) or isinstance(leaf, Variable)
                      or _static_key(leaf) != _static_key(spec[1])):
                    problem = f"argument leaf {i} is {leaf!r:.40}, the program was lowered for {spec[1]!r}"
                if problem:
                    break
        if problem:
            got = tree_unflatten(tree, [_Spec(_leaf_text(x)) for x in leaves])
            raise TypeError(f"anyad: the program {self.name} expects {self.signature}; called as "
                            f"{self._call_text(got)}: {problem}")
        values, anyvar = [], False
        for leaf, spec in zip(leaves, self.in_leaves):
            if spec[0] == "array":
                anyvar = anyvar or isinstance(leaf, Variable)
                values.append(leaf.value if isinstance(leaf, Variable) else leaf)
        return values, anyvar

    # -- running -----------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values, anyvar = self._check(args, kwargs)
        if values:
            first = values[0]
            xp, device = _backend.namespace_of(first), _backend.device_of(first)
            for v in values:
                if type(v) is not type(first) and _backend.namespace_of(v) is not xp:
                    raise TypeError(f"anyad: the program {self.name} was called with arrays of two libraries "
                                    f"({_backend.describe(first)} and {_backend.describe(v)}); "
                                    "convert them to one (anyad.to_backend)")
        else:
            be = _backend.current_backend()
            xp, device = be.xp, be.device
        key = (id(xp), repr(device))
        program = self._programs.get(key)
        if program is None:
            program = self._programs[key] = self._build(xp, device)
        outs = program(values)
        leaves = [s[0] if s is not None else (wrap(o) if anyvar else o)
                  for s, o in zip(self.out_statics, outs)]
        return tree_unflatten(self.out_tree, leaves)

    def _build(self, xp: Any, device: Any) -> Any:
        """The program for arrays of namespace ``xp`` on ``device``: constants moved there."""
        nodes = []
        for kind, payload in self.nodes:
            if kind == _CONST and _is_array(payload):
                payload = transfer.convert(payload, xp, device)
            elif kind == _OP:
                prim, _, args, template, holes = payload
                if template and has_dtypes(template):
                    template = resolve_dtypes(template, xp)
                payload = (prim, xp, args, template, holes)
            nodes.append([kind, payload])
        return _allocate(nodes, self.order, self.outputs, self.n_inputs, [])

    @property
    def n_operations(self) -> int:
        """How many kernel calls one run makes."""
        return len(self.order)

    def __repr__(self) -> str:
        return f"<anyad Lowered {self.signature}: {self.n_operations} operations>"

    # -- saving ------------------------------------------------------------------
    def to_json(self) -> dict:
        """The program as a JSON-ready dict (the format :meth:`save` writes)."""
        where = f"anyad.Lowered.save: {self.name}"
        nodes, constants = [], []
        for nid, (kind, payload) in enumerate(self.nodes):
            if kind == _IN:
                nodes.append({"input": payload})
            elif kind == _CONST and _is_array(payload):
                constants.append(encode_array(payload, f"{where}: constant {nid}"))
                nodes.append({"const": len(constants) - 1})
            elif kind == _CONST:
                nodes.append({"value": encode(payload, f"{where}: constant {nid}")})
            else:
                prim, _, args, template, holes = payload
                known = primitive_named(prim.name)
                if known is None or known.fwd is not prim.fwd:
                    raise Unsavable(
                        f"{where}: operation {nid} ({prim.name}) is not one of anyad's primitives (a "
                        "custom_vjp function, or a primitive made at run time whose forward is code): the "
                        "file holds no code, so it cannot be saved; write it with anyad's functions")
                what = f"{where}: the parameters of operation {nid} ({prim.name})"
                nodes.append({"op": prim.name, "args": list(args), "holes": list(holes),
                              "params": encode(template, what)})
        inputs = [{"array": {"shape": list(s[1]), "dtype": s[2]}} if s[0] == "array"
                  else {"static": encode(s[1], f"{where}: static argument leaf {i}")}
                  for i, s in enumerate(self.in_leaves)]
        results = [None if s is None else {"static": encode(s[0], f"{where}: output leaf {i}")}
                   for i, s in enumerate(self.out_statics)]
        return {"format": FORMAT, "version": VERSION, "name": self.name,
                "inputs": {"tree": encode_tree(self.in_tree, f"{where}: the arguments"), "leaves": inputs},
                "outputs": {"tree": encode_tree(self.out_tree, f"{where}: the result"), "leaves": results,
                            "nodes": list(self.outputs)},
                "nodes": nodes, "order": list(self.order), "constants": constants}

    def save(self, path: Any) -> None:
        """Write the program to ``path`` as JSON (see the guide's "Saving a
        compiled program"); constants are copied to the host on the way.

        Raises ``TypeError`` (:class:`Unsavable`), naming the operation, for
        what the format cannot hold: a custom_vjp function, a parameter that
        is a device or a library object, a constant of a dtype NumPy lacks.
        """
        text = json.dumps(self.to_json(), allow_nan=False, separators=(",", ":"))
        path = os.fspath(path)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)


def _from_json(doc: dict) -> Lowered:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("anyad.load_program: not a saved anyad program")
    if doc.get("version") != VERSION:
        raise ValueError(f"anyad.load_program: format version {doc.get('version')!r}; this anyad reads "
                         f"version {VERSION}")
    self = Lowered.__new__(Lowered)
    self.name = str(doc["name"])
    self.in_tree = decode_tree(doc["inputs"]["tree"])
    self.in_leaves = [("array", tuple(int(d) for d in s["array"]["shape"]), str(s["array"]["dtype"]))
                      if "array" in s else ("static", decode(s["static"])) for s in doc["inputs"]["leaves"]]
    self.n_inputs = sum(1 for s in self.in_leaves if s[0] == "array")
    constants = [decode_array(c) for c in doc["constants"]]
    nodes = []
    for nid, n in enumerate(doc["nodes"]):
        if "input" in n:
            nodes.append((_IN, int(n["input"])))
        elif "const" in n:
            nodes.append((_CONST, constants[n["const"]]))
        elif "value" in n:
            nodes.append((_CONST, decode(n["value"])))
        else:
            prim = None if n["op"] in _NOT_SAVED else primitive_named(n["op"])
            if prim is None:
                raise ValueError(f"anyad.load_program: operation {nid} is {n['op']!r}, which this version of "
                                 "anyad does not have (or never writes)")
            args, holes = [int(i) for i in n["args"]], [int(i) for i in n["holes"]]
            if any(not 0 <= i < nid for i in args + holes):
                raise ValueError(f"anyad.load_program: operation {nid} ({n['op']}) reads a later node")
            nodes.append((_OP, (prim, None, args, decode(n["params"]), holes)))
    self.nodes = nodes
    self.order = [int(i) for i in doc["order"]]
    self.outputs = [int(i) for i in doc["outputs"]["nodes"]]
    self.out_tree = decode_tree(doc["outputs"]["tree"])
    self.out_statics = [None if s is None else (decode(s["static"]),) for s in doc["outputs"]["leaves"]]
    if any(nodes[i][0] != _OP for i in self.order) or any(o >= len(nodes) for o in self.outputs):
        raise ValueError("anyad.load_program: malformed program (order or outputs)")
    self._programs = {}
    return self


def load_program(path: Any) -> Lowered:
    """Read a program written by :meth:`Lowered.save`.

    The result runs on the arrays it is called with, whatever their library
    and device (the constants move there), and checks them against the
    signature it was saved with.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import anyad as ad
    >>> f = ad.jit(lambda x, n: ad.sum(x ** n))
    >>> path = os.path.join(tempfile.mkdtemp(), "cube_sum.json")
    >>> f.lower(np.zeros(3), 3).save(path)
    >>> program = ad.load_program(path)
    >>> program.signature
    '<lambda>(float64[3], 3)'
    >>> program(np.array([1.0, 2.0, 3.0]), 3)
    np.float64(36.0)
    """
    with open(os.fspath(path), encoding="utf-8") as f:
        doc = json.load(f)
    return _from_json(doc)
