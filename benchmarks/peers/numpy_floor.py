"""The floor: the workload's hand-written forward and backward, in numpy (and
in CuPy when it sees a GPU). No recording, no graph: the least work a step
needs, against which every other implementation's time is a ratio."""

from __future__ import annotations

import numpy as np

from . import Impl


def _on(xp, data):
    from ..workloads import Data

    return Data([xp.asarray(p) for p in data.params], {k: xp.asarray(v) for k, v in data.consts.items()},
                data.dims)


def implementations(workload, backends):
    impls = [Impl("floor (hand-written)", "numpy", lambda data: (lambda: workload.reference(np, data)),
                  np.asarray)]
    if "cupy" in backends:
        from ..machine import cupy_available

        if cupy_available():
            import cupy

            def build_cupy(data):
                d = _on(cupy, data)
                return lambda: workload.reference(cupy, d)

            impls.append(Impl("floor (hand-written)", "cupy", build_cupy, cupy.asnumpy, device="cuda"))
    return impls
