"""ModuleList and ModuleDict: modules held in a list or a dict, registered as sub-modules.

They have no ``forward`` of their own: a model iterates over them in its own
``forward``. Their modules' parameters are in ``parameters()``, ``state_dict()``
(under ``"<index>."`` or ``"<key>."``), ``to()`` and the rest, as in torch.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from .module import Module

__all__ = ["ModuleList", "ModuleDict"]


def _module(owner: Module, m: Any) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"anyad.nn.{type(owner).__name__}: expected a Module, got {type(m).__name__}")
    return m


class ModuleList(Module):
    """A list of modules, registered under ``"0"``, ``"1"``, ...

    Examples
    --------
    >>> import anyad as ad
    >>> blocks = ad.nn.ModuleList([ad.nn.Linear(4, 4, rng=i) for i in range(3)])
    >>> blocks = blocks.append(ad.nn.Linear(4, 2, rng=3))
    >>> len(blocks), len(list(blocks.parameters()))
    (4, 8)
    >>> sorted(blocks.state_dict())[:2]
    ['0.bias', '0.weight']
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self) -> list:
        return [getattr(self, n) for n in self._module_names]

    def _reset(self, mods: list) -> None:
        for name in list(self._module_names):
            delattr(self, name)
        for i, m in enumerate(mods):
            setattr(self, str(i), _module(self, m))

    def append(self, module: Module) -> "ModuleList":
        """Add ``module`` at the end; returns self."""
        setattr(self, str(len(self)), _module(self, module))
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Add each of ``modules`` at the end; returns self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before ``index``."""
        mods = self._items()
        mods.insert(index, module)
        self._reset(mods)

    def __len__(self) -> int:
        return len(self._module_names)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items())

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return ModuleList(self._items()[index])
        return self._items()[index]

    def __setitem__(self, index: int, module: Module) -> None:
        mods = self._items()
        mods[index] = module
        self._reset(mods)

    def __delitem__(self, index: Any) -> None:
        mods = self._items()
        del mods[index]
        self._reset(mods)

    def __repr__(self) -> str:
        return super().__repr__() if len(self) else "ModuleList()"


class ModuleDict(Module):
    """An ordered dict of modules, registered under their keys (strings without dots).

    Examples
    --------
    >>> import anyad as ad
    >>> heads = ad.nn.ModuleDict({"cls": ad.nn.Linear(4, 3, rng=0),
    ...                           "reg": ad.nn.Linear(4, 1, rng=1)})
    >>> list(heads.keys()), "cls" in heads
    (['cls', 'reg'], True)
    >>> [n for n, _ in heads.named_parameters()]
    ['cls.weight', 'cls.bias', 'reg.weight', 'reg.bias']
    """

    def __init__(self, modules: Any = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _check(self, key: Any) -> str:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"anyad.nn.ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        if key in self.__dict__ and key not in self._module_names or hasattr(type(self), key):
            raise KeyError(f"anyad.nn.ModuleDict: {key!r} is an attribute of ModuleDict; choose another key")
        return key

    def __getitem__(self, key: str) -> Module:
        if key not in self._module_names:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, module: Module) -> None:
        setattr(self, self._check(key), _module(self, module))

    def __delitem__(self, key: str) -> None:
        if key not in self._module_names:
            raise KeyError(key)
        delattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._module_names

    def __len__(self) -> int:
        return len(self._module_names)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._module_names))

    def keys(self) -> list:
        """The keys, in insertion order."""
        return list(self._module_names)

    def values(self) -> list:
        """The modules, in insertion order."""
        return [getattr(self, k) for k in self._module_names]

    def items(self) -> list:
        """``(key, module)`` pairs, in insertion order."""
        return [(k, getattr(self, k)) for k in self._module_names]

    def update(self, modules: Any) -> None:
        """Add (or replace) modules from a dict, a ModuleDict or ``(key, module)`` pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, m in pairs:
            self[key] = m

    def pop(self, key: str) -> Module:
        """Remove ``key`` and return its module."""
        m = self[key]
        del self[key]
        return m

    def clear(self) -> None:
        """Remove every module."""
        for key in self.keys():
            del self[key]
