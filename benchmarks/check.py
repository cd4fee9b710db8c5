"""The correctness gate: every implementation's outputs against the reference.

The reference is the workload's hand-written forward and backward run in
float64 (so the float32 floor is checked too). A mismatch raises
:class:`GradientMismatch`: the harness reports it, does not time that
implementation, and exits with status 1 at the end of the run. Nothing is
timed that does not compute the right numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["GradientMismatch", "check_outputs"]


class GradientMismatch(AssertionError):
    """An implementation's outputs differ from the hand-written reference."""


def check_outputs(workload: Any, impl_key: str, outputs: list, reference: list) -> float:
    """Raise GradientMismatch unless ``outputs`` (numpy arrays) match ``reference``.

    The error measure is normwise: ``max |got - want| / max |want|`` per output,
    against ``workload.rtol[dtype]``. Shapes must be equal and the dtype that
    of the workload (float32 stays float32). Returns the largest error seen.
    """
    where = f"benchmarks: {workload.name} / {impl_key}"
    if len(outputs) != len(reference):
        raise GradientMismatch(f"{where}: returned {len(outputs)} outputs, expected {len(reference)} "
                               f"({', '.join(workload.outputs)})")
    tol = workload.rtol[workload.dtype]
    worst = 0.0
    for name, got, want in zip(workload.outputs, outputs, reference):
        got = np.asarray(got)
        want = np.asarray(want, dtype=np.float64)
        if got.shape != want.shape:
            raise GradientMismatch(f"{where}: output {name} has shape {got.shape}, expected {want.shape}")
        if got.dtype != np.dtype(workload.dtype):
            raise GradientMismatch(f"{where}: output {name} has dtype {got.dtype}, expected {workload.dtype}")
        g = got.astype(np.float64)
        if not np.all(np.isfinite(g)):
            raise GradientMismatch(f"{where}: output {name} has non-finite values")
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        err = float(np.max(np.abs(g - want))) / (scale if scale > 0 else 1.0) if want.size else 0.0
        if not err <= tol:
            raise GradientMismatch(
                f"{where}: output {name} differs from the hand-written reference: "
                f"max |error| / max |reference| = {err:.3e} > {tol:.0e}")
        worst = max(worst, err)
    return worst
