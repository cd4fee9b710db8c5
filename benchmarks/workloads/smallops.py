"""``smallops``: x a 16-element float64 vector; 100 times y = sin(y) * 1.01 + 0.1 * y;
the value ``sum(y)`` and its gradient with respect to x.

Reported in µs per recorded primitive op (4 per step, plus the final sum), the
forward and the backward together: the per-op overhead of a library.
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload


class SmallOps(Workload):
    name = "smallops"
    title = "16-element float64 vector, 100 x (sin(y) * 1.01 + 0.1 * y)"
    dtype = "float64"
    metric = "us_per_op"
    outputs = ("value", "dx")
    sizes = {"full": {"n": 16, "steps": 100}, "quick": {"n": 16, "steps": 10}}
    repeat = 50

    def _make(self, rng, d):
        return Data([np.linspace(-0.5, 1.0, d["n"])], {}, d)

    def reference(self, xp, data):
        (x,) = data.params
        ys = []
        y = x
        for _ in range(data.dims["steps"]):
            ys.append(y)
            y = xp.sin(y) * 1.01 + 0.1 * y
        value = y.sum()
        g = xp.ones_like(y)
        for y in reversed(ys):
            g = g * (xp.cos(y) * 1.01 + 0.1)
        return [value, g]

    def ops(self, d):
        return 4 * d["steps"] + 1


WORKLOAD = SmallOps()
