"""The workloads: each defines its data (fixed seed), its hand-written numpy
forward and backward (the reference and the floor), and how its work is counted.

Every implementation of a workload returns the same list of outputs (named by
``Workload.outputs``), which the harness checks against :meth:`Workload.reference`
computed in float64 before it times anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Data", "Workload", "WORKLOADS", "get"]


@dataclass
class Data:
    """Inputs of one workload instance, as numpy arrays.

    ``params`` are the differentiated inputs, in order; ``consts`` the others;
    ``dims`` the sizes (for op and flop counts).
    """

    params: list
    consts: dict
    dims: dict = field(default_factory=dict)

    def astype(self, dtype: Any) -> "Data":
        """A copy with every floating array converted to ``dtype``."""
        def conv(a: np.ndarray) -> np.ndarray:
            return a.astype(dtype) if a.dtype.kind == "f" else a
        return Data([conv(p) for p in self.params], {k: conv(v) for k, v in self.consts.items()}, self.dims)


class Workload:
    """Base class: subclasses fill in the sizes and the hand-written math."""

    name = ""
    title = ""
    dtype = "float64"
    metric = "gflops"  # or "us_per_op" (per recorded primitive op) or "us_per_step"
    outputs: tuple = ()
    sizes: dict = {}  # {"full": {...}, "quick": {...}}
    repeat = 20  # default timed repeats of a full run
    rtol = {"float32": 2e-4, "float64": 1e-8}  # normwise tolerance of the check

    def make_data(self, quick: bool = False, seed: int = 0) -> Data:
        dims = dict(self.sizes["quick" if quick else "full"])
        return self._make(np.random.default_rng(seed), dims)

    def _make(self, rng: np.random.Generator, dims: dict) -> Data:
        raise NotImplementedError

    def reference(self, xp: Any, data: Data) -> list:
        """The hand-written forward and backward; ``xp`` is numpy or cupy."""
        raise NotImplementedError

    def flops(self, dims: dict) -> float | None:
        """Floating-point operations of the hand-written step (matmuls only)."""
        return None

    def ops(self, dims: dict) -> int | None:
        """Recorded primitive operations per step (for µs per op)."""
        return None

    def units(self, dims: dict) -> int | None:
        """How many units ``us_per_step`` divides by (training steps for xor)."""
        return None

    def describe(self, dims: dict) -> str:
        return ", ".join(f"{k}={v}" for k, v in dims.items())


def _registry() -> dict:
    from . import (attention, cnn, deep, hvp, jacobian, matmul_chain, mlp, per_sample_grads, smallops,
                   transformer, xor)

    mods = (mlp, matmul_chain, attention, cnn, transformer, smallops, hvp, deep, xor, per_sample_grads,
            jacobian)
    return {m.WORKLOAD.name: m.WORKLOAD for m in mods}


WORKLOADS: dict = _registry()


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise SystemExit(f"benchmarks: unknown workload {name!r}; "
                         f"choose from {', '.join(WORKLOADS)}") from None
