"""A small pytree helper: nested tuples, lists, dicts and namedtuples of arrays.

The functional transforms accept and return such nests wherever JAX users
expect them. A *leaf* is anything that is not one of those containers (an
array, a Variable, a Python number); ``None`` is an empty subtree, as in JAX.
Dict keys are kept in sorted order when flattened (JAX's convention), so two
dicts with the same keys flatten alike whatever their insertion order.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["tree_flatten", "tree_unflatten", "tree_map", "tree_leaves", "TreeDef"]


class TreeDef:
    """The structure of a flattened pytree: what :func:`tree_unflatten` needs.

    ``kind`` is ``"leaf"``, ``"none"``, ``"tuple"``, ``"list"``, ``"dict"`` or
    ``"namedtuple"``; ``meta`` holds the dict keys or the namedtuple class;
    ``children`` the sub-structures; ``num_leaves`` the leaf count.
    """

    __slots__ = ("kind", "meta", "children", "num_leaves")

    def __init__(self, kind: str, meta: Any, children: tuple, num_leaves: int):
        self.kind = kind
        self.meta = meta
        self.children = children
        self.num_leaves = num_leaves

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TreeDef):
            return NotImplemented
        return (self.kind, self.meta, self.children) == (other.kind, other.meta, other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.meta, self.children))

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children))
            return "{" + inner + "}"
        if self.kind == "list":
            return "[" + inner + "]"
        if self.kind == "namedtuple":
            return f"{self.meta.__name__}({inner})"
        return "(" + inner + ("," if len(self.children) == 1 else "") + ")"


_LEAF = TreeDef("leaf", None, (), 1)
_NONE = TreeDef("none", None, (), 0)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _flatten(tree: Any, leaves: list) -> TreeDef:
    if tree is None:
        return _NONE
    t = type(tree)
    if t is tuple or t is list:
        children = tuple(_flatten(c, leaves) for c in tree)
        return TreeDef(t.__name__, None, children, sum(c.num_leaves for c in children))
    if isinstance(tree, dict):
        keys = tuple(sorted(tree, key=_key_order))
        children = tuple(_flatten(tree[k], leaves) for k in keys)
        return TreeDef("dict", keys, children, sum(c.num_leaves for c in children))
    if _is_namedtuple(tree):
        children = tuple(_flatten(c, leaves) for c in tree)
        return TreeDef("namedtuple", t, children, sum(c.num_leaves for c in children))
    leaves.append(tree)
    return _LEAF


def _key_order(k: Any) -> tuple:
    return (type(k).__name__, k) if not isinstance(k, (int, float)) else ("", k)


def tree_flatten(tree: Any) -> tuple[list, TreeDef]:
    """The leaves of ``tree`` (depth first, dict keys sorted) and its structure.

    Examples
    --------
    >>> leaves, treedef = tree_flatten({"b": 2.0, "a": (1.0, [3.0])})
    >>> leaves
    [1.0, 3.0, 2.0]
    >>> treedef
    {'a': (*, [*]), 'b': *}
    """
    leaves: list = []
    treedef = _flatten(tree, leaves)
    return leaves, treedef


def tree_unflatten(treedef: TreeDef, leaves: Any) -> Any:
    """Rebuild a tree of structure ``treedef`` from ``leaves`` (the inverse of
    :func:`tree_flatten`).

    Examples
    --------
    >>> leaves, treedef = tree_flatten((1.0, {"w": 2.0}))
    >>> tree_unflatten(treedef, [10.0, 20.0])
    (10.0, {'w': 20.0})
    """
    it = iter(leaves)
    out = _build(treedef, it)
    rest = sum(1 for _ in it)
    if rest:
        raise ValueError(f"anyad: tree_unflatten got {treedef.num_leaves + rest} leaves for a tree of "
                         f"{treedef.num_leaves}")
    return out


def _build(td: TreeDef, it: Any) -> Any:
    kind = td.kind
    if kind == "leaf":
        try:
            return next(it)
        except StopIteration:
            raise ValueError("anyad: tree_unflatten got too few leaves") from None
    if kind == "none":
        return None
    children = [_build(c, it) for c in td.children]
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    if kind == "dict":
        return dict(zip(td.meta, children))
    return td.meta(*children)  # namedtuple


def tree_leaves(tree: Any) -> list:
    """The leaves of ``tree``.

    Examples
    --------
    >>> tree_leaves([1.0, (2.0, None)])
    [1.0, 2.0]
    """
    return tree_flatten(tree)[0]


def tree_map(f: Callable, tree: Any, *rest: Any) -> Any:
    """Apply ``f`` to every leaf (and the matching leaves of ``rest``, trees of
    the same structure), keeping the structure.

    Examples
    --------
    >>> a, b = {"x": 1.0, "y": (2.0,)}, {"x": 10.0, "y": (20.0,)}
    >>> tree_map(lambda u, v: u + v, a, b)
    {'x': 11.0, 'y': (22.0,)}
    """
    leaves, td = tree_flatten(tree)
    others = []
    for r in rest:
        rl, rtd = tree_flatten(r)
        if rtd != td:
            raise ValueError(f"anyad.tree_map: tree structures differ: {td!r} and {rtd!r}")
        others.append(rl)
    return tree_unflatten(td, [f(*xs) for xs in zip(leaves, *others)])
