"""``jacobian``: the full 256x256 Jacobian of f(x) = tanh(W2 tanh(W1 x + b1) + b2),
x of 256 elements, float64.

By hand (the floor): with t1 = tanh(W1 x + b1) and t2 = f(x),
J = diag(1 - t2^2) W2 diag(1 - t1^2) W1: one 256x256 matrix product. Autodiff
libraries build it row by row (reverse mode: one vector-Jacobian product per
output) or column by column (forward mode: one Jacobian-vector product per
input), batched in one pass (``jacrev``/``jacfwd`` over vmap) or in a Python loop.
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload


class Jacobian(Workload):
    name = "jacobian"
    title = "Jacobian of tanh(W2 tanh(W1 x + b1) + b2), 256 -> 256, float64"
    dtype = "float64"
    metric = "gflops"
    outputs = ("J",)
    sizes = {"full": {"n": 256}, "quick": {"n": 7}}
    repeat = 20

    def _make(self, rng, d):
        n = d["n"]
        consts = {"W1": rng.standard_normal((n, n)) / np.sqrt(n), "b1": 0.1 * rng.standard_normal(n),
                  "W2": rng.standard_normal((n, n)) / np.sqrt(n), "b2": 0.1 * rng.standard_normal(n)}
        return Data([rng.standard_normal(n)], consts, d)

    def reference(self, xp, data):
        (x,) = data.params
        W1, b1, W2, b2 = (data.consts[k] for k in ("W1", "b1", "W2", "b2"))
        t1 = xp.tanh(W1 @ x + b1)
        t2 = xp.tanh(W2 @ t1 + b2)
        return [((1 - t2 * t2)[:, None] * W2) @ ((1 - t1 * t1)[:, None] * W1)]

    def flops(self, d):
        return float(2 * d["n"] ** 3)  # the one matrix product of the hand-written Jacobian


WORKLOAD = Jacobian()
