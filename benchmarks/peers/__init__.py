"""Implementations of the workloads: anyad (eager and compiled replay, on every
backend present), the hand-written numpy floor, and the peers when installed.

Each module here has ``implementations(workload, backends) -> list[Impl]`` and
raises ImportError when its library is missing (the harness then lists it as
not installed). An :class:`Impl` builds, from a workload's numpy :class:`Data`,
a ``step()`` that runs one forward and backward and returns the workload's
outputs in the library's own arrays; ``to_numpy`` reads one back.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Impl", "PEERS", "discover", "NotApplicable"]

#: peer modules, in table order
PEERS = ("numpy_floor", "anyad_impl", "torch_impl", "hips_autograd", "jax_impl", "advect_impl",
         "python_autodiff")


class NotApplicable(Exception):
    """An implementation that does not exist for this workload (with the reason)."""


@dataclass
class Impl:
    """One implementation of one workload on one backend."""

    name: str  #: e.g. "anyad eager"
    backend: str  #: e.g. "numpy", "torch", "torch-cuda", "cupy", "jax"
    build: Callable[[Any], Callable[[], list]]  #: Data -> step
    to_numpy: Callable[[Any], Any]
    timed: bool = True  #: False: checked for correctness only
    device: str = "cpu"  #: "cuda": timed with CUDA events, memory from the device allocator
    note: str = ""
    skip: str = ""  #: not run here, and why (listed in the report)
    module: str = ""  #: the peer module that made it (filled in by discover)

    @property
    def key(self) -> str:
        return f"{self.name} [{self.backend}]"


def discover(workload: Any, backends: set, impl_filter: list | None = None,
             modules: tuple = PEERS) -> tuple[list, dict]:
    """The implementations of ``workload`` available here, and the skipped ones with why."""
    impls: list = []
    skipped: dict = {}
    for mod_name in modules:
        try:
            mod = importlib.import_module(f"{__name__}.{mod_name}")
            found = mod.implementations(workload, backends)
        except ImportError as e:
            skipped[mod_name] = f"not installed ({e.name or e})"
            continue
        except NotApplicable as e:
            skipped[mod_name] = str(e)
            continue
        for impl in found:
            impl.module = mod_name
            if impl.skip:
                skipped[impl.key] = impl.skip
                continue
            if impl_filter and not any(f.lower() in impl.key.lower() for f in impl_filter):
                continue
            impls.append(impl)
    return impls, skipped
