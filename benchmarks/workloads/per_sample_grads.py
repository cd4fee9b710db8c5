"""``per_sample_grads``: the gradient of each example's loss, separately, for a
64-128-10 tanh MLP over a batch of 256, float32.

    h = tanh(W1 x + b1),  z = W2 h + b2,  loss(x, y) = logsumexp(z) - y . z

with the weights in torch's ``nn.Linear`` layout (``W1`` is 128x64), ``y`` a
one-hot row. The outputs are the 256 gradients of every parameter, stacked
along a new first axis: what DP-SGD and influence functions need, and what
``vmap(grad(loss), in_axes=(None, 0, 0))`` computes in one batched pass
instead of 256 backward passes. By hand (the floor): with p = softmax(z),
dz = p - y, da = (W2^T dz) * (1 - h^2), the per-example gradients are the
outer products dz h^T and da x^T.
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload


class PerSampleGrads(Workload):
    name = "per_sample_grads"
    title = "per-sample gradients of an MLP 64-128-10 (tanh, cross-entropy), batch 256, float32"
    dtype = "float32"
    metric = "gflops"
    outputs = ("dW1", "db1", "dW2", "db2")  # each with a leading batch axis
    sizes = {"full": {"batch": 256, "n_in": 64, "hidden": 128, "n_out": 10},
             "quick": {"batch": 6, "n_in": 5, "hidden": 8, "n_out": 4}}
    repeat = 20

    def _make(self, rng, d):
        b, i, h, o = d["batch"], d["n_in"], d["hidden"], d["n_out"]
        X = rng.standard_normal((b, i))
        Y = np.zeros((b, o))
        Y[np.arange(b), rng.integers(0, o, size=b)] = 1.0
        params = [rng.standard_normal((h, i)) / np.sqrt(i), np.full(h, 0.01),
                  rng.standard_normal((o, h)) / np.sqrt(h), np.zeros(o)]
        return Data(params, {"X": X, "Y": Y}, d).astype(self.dtype)

    def reference(self, xp, data):
        W1, b1, W2, b2 = data.params
        X, Y = data.consts["X"], data.consts["Y"]
        h = xp.tanh(X @ W1.T + b1)
        z = h @ W2.T + b2
        e = xp.exp(z - z.max(axis=1, keepdims=True))
        dz = e / e.sum(axis=1, keepdims=True) - Y  # rows of Y sum to 1
        da = (dz @ W2) * (1 - h * h)
        return [da[:, :, None] * X[:, None, :], da, dz[:, :, None] * h[:, None, :], dz]

    def flops(self, d):
        b, i, h, o = d["batch"], d["n_in"], d["hidden"], d["n_out"]
        matmuls = 2 * b * (i * h + h * o) + 2 * b * h * o  # forward, and dz @ W2
        outer = b * (h * i + o * h)  # the per-example outer products
        return float(matmuls + outer)


WORKLOAD = PerSampleGrads()
