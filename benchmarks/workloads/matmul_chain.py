"""``matmul_chain``: y = tanh(W8 @ ... tanh(W1 @ X)), 512x512 float64; the
value ``sum(y)`` and the gradients of all eight W."""

from __future__ import annotations

import numpy as np

from . import Data, Workload


class MatmulChain(Workload):
    name = "matmul_chain"
    title = "8 matmuls 512x512 with tanh, float64"
    dtype = "float64"
    metric = "gflops"
    sizes = {"full": {"depth": 8, "n": 512}, "quick": {"depth": 8, "n": 24}}
    repeat = 10

    @property
    def outputs(self):
        return ("value",) + tuple(f"dW{i + 1}" for i in range(self.sizes["full"]["depth"]))

    def _make(self, rng, d):
        n = d["n"]
        Ws = [rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(d["depth"])]
        return Data(Ws, {"X": rng.standard_normal((n, n))}, d).astype(self.dtype)

    def reference(self, xp, data):
        hs = [data.consts["X"]]
        for W in data.params:
            hs.append(xp.tanh(W @ hs[-1]))
        value = hs[-1].sum()
        g = xp.ones_like(hs[-1])
        grads = [None] * len(data.params)
        for i in range(len(data.params) - 1, -1, -1):
            h = hs[i + 1]
            da = g * (1 - h * h)
            grads[i] = da @ hs[i].T
            if i:
                g = data.params[i].T @ da
        return [value, *grads]

    def flops(self, d):
        n, k = d["n"], d["depth"]
        return float(2 * n ** 3 * (k + k + k - 1))  # forward, dW, dh (not for X)


WORKLOAD = MatmulChain()
