"""Imports point down the layers of docs/internals.md, and never in a circle.

A module may import from its own layer or a lower one, never a higher one
(anywhere in the file, function bodies included); and the imports executed at
module level form no cycle, so no module is ever imported half-initialised.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "anyad"

#: module name (or package prefix ending in ".") -> layer
LAYERS = {
    "anyad._backend": 0, "anyad.backends.": 0, "anyad._pytree": 0,
    "anyad._state": 1, "anyad._saves": 1, "anyad.graph": 1, "anyad.variable": 1, "anyad.backprop": 1,
    "anyad.ops.": 2,
    "anyad.forward": 3, "anyad._program": 3, "anyad._tracing": 3, "anyad.compile": 3, "anyad.custom": 3,
    "anyad.lowered": 3, "anyad._program_json": 3,
    "anyad.memory": 3,
    "anyad.tracker": 4, "anyad.autodiff": 4, "anyad.functional": 4, "anyad.jacobians": 4,
    "anyad.linearize": 4, "anyad.linear_solve": 4, "anyad.implicit": 4, "anyad.vmap": 4,
    "anyad.data": 5, "anyad.amp": 5, "anyad.array_api.": 5, "anyad._numpy_interop": 5, "anyad._numpy_functions": 5, "anyad.nn.": 5,
    "anyad.optim.": 5, "anyad.random": 5, "anyad.special": 5, "anyad.serialization": 5, "anyad.testing": 5, "anyad.linalg": 5,
    "anyad": 6,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer(name: str) -> int:
    best, best_len = None, -1
    for key, value in LAYERS.items():
        hit = name == key.rstrip(".") or (key.endswith(".") and name.startswith(key))
        if hit and len(key) > best_len:
            best, best_len = value, len(key)
    if best is None:
        raise KeyError(f"{name} has no layer: add it to LAYERS (and to docs/internals.md)")
    return best


def _imports(name: str) -> list[tuple[str, bool, int]]:
    """(imported anyad module, at module level, line) for every import in ``name``'s file."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = set(id(n) for n in tree.body)
    for node in tree.body:  # module-level imports inside if/try blocks count as top level too
        if isinstance(node, (ast.If, ast.Try)):
            top |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from pkg import submodule`` imports the submodule
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod for a in node.names]
        else:
            continue
        for t in targets:
            if t == "anyad" or t.startswith("anyad."):
                while t not in MODULES and "." in t:
                    t = t.rpartition(".")[0]
                out.append((t, id(node) in top, node.lineno))
    return out


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name):
    mine = layer(name)
    upward = [f"line {line}: {target} (layer {layer(target)})" for target, _, line in _imports(name)
              if layer(target) > mine]
    assert not upward, f"{name} (layer {mine}) imports from a higher layer: {upward}"


def test_module_level_imports_form_no_cycle():
    graph = {name: {t for t, top, _ in _imports(name) if top and t != name} for name in MODULES}
    # a package's __init__ importing its own submodules is how packages load, not a cycle
    for name in graph:
        graph[name] = {t for t in graph[name] if not (MODULES[name].name == "__init__.py"
                                                       and t.startswith(name + "."))}
    state: dict = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                raise AssertionError("module-level import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_every_module_has_a_layer():
    for name in MODULES:
        layer(name)
