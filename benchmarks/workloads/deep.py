"""``deep``: a 20,000-step chain y = y * 1.0001 + 0.0001 on a 16-element float64
vector; the value ``sum(y)`` and its gradient with respect to x.

Reported in µs per recorded op (2 per step, plus the sum) and peak memory: it
measures how a library records and walks a very deep graph.
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload


class Deep(Workload):
    name = "deep"
    title = "20,000-step chain y = y * 1.0001 + 0.0001, 16 float64"
    dtype = "float64"
    metric = "us_per_op"
    outputs = ("value", "dx")
    sizes = {"full": {"n": 16, "steps": 20000}, "quick": {"n": 16, "steps": 300}}
    repeat = 10
    rtol = {"float32": 2e-4, "float64": 1e-9}

    def _make(self, rng, d):
        return Data([np.linspace(-0.5, 1.0, d["n"])], {}, d)

    def reference(self, xp, data):
        (x,) = data.params
        y = x
        steps = data.dims["steps"]
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        value = y.sum()
        g = xp.ones_like(y)
        for _ in range(steps):  # reverse accumulation, one multiply per step
            g = g * 1.0001
        return [value, g]

    def ops(self, d):
        return 2 * d["steps"] + 1


WORKLOAD = Deep()
