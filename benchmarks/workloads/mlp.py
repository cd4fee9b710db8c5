"""``mlp``: 784-1024-1024-10, tanh, batch 256, float32, mean softmax cross-entropy.

One step: the forward pass and the gradients of all six parameters. Labels are
one-hot rows ``Y`` (so every library computes the same loss without integer
indexing): ``loss = mean over rows of -sum(Y * log_softmax(h2 @ W3 + b3))``.
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload


class MLP(Workload):
    name = "mlp"
    title = "MLP 784-1024-1024-10, tanh, batch 256, float32"
    dtype = "float32"
    metric = "gflops"
    outputs = ("loss", "dW1", "db1", "dW2", "db2", "dW3", "db3")
    sizes = {"full": {"batch": 256, "n_in": 784, "hidden": 1024, "n_out": 10},
             "quick": {"batch": 16, "n_in": 24, "hidden": 32, "n_out": 10}}
    repeat = 20

    def _make(self, rng, d):
        b, i, h, o = d["batch"], d["n_in"], d["hidden"], d["n_out"]
        X = rng.standard_normal((b, i))
        labels = rng.integers(0, o, size=b)
        Y = np.zeros((b, o))
        Y[np.arange(b), labels] = 1.0
        params = [rng.standard_normal((i, h)) / np.sqrt(i), np.full(h, 0.01),
                  rng.standard_normal((h, h)) / np.sqrt(h), np.full(h, -0.01),
                  rng.standard_normal((h, o)) / np.sqrt(h), np.zeros(o)]
        return Data(params, {"X": X, "Y": Y}, d).astype(self.dtype)

    def reference(self, xp, data):
        W1, b1, W2, b2, W3, b3 = data.params
        X, Y = data.consts["X"], data.consts["Y"]
        n = X.shape[0]
        h1 = xp.tanh(X @ W1 + b1)
        h2 = xp.tanh(h1 @ W2 + b2)
        z = h2 @ W3 + b3
        zs = z - z.max(axis=1, keepdims=True)
        e = xp.exp(zs)
        s = e.sum(axis=1, keepdims=True)
        loss = -(Y * (zs - xp.log(s))).sum() / n
        dz = (e / s - Y) / n  # rows of Y sum to 1
        dW3 = h2.T @ dz
        db3 = dz.sum(axis=0)
        da2 = (dz @ W3.T) * (1 - h2 * h2)
        dW2 = h1.T @ da2
        db2 = da2.sum(axis=0)
        da1 = (da2 @ W2.T) * (1 - h1 * h1)
        dW1 = X.T @ da1
        db1 = da1.sum(axis=0)
        return [loss, dW1, db1, dW2, db2, dW3, db3]

    def flops(self, d):
        b, i, h, o = d["batch"], d["n_in"], d["hidden"], d["n_out"]
        fwd = 2 * b * (i * h + h * h + h * o)
        bwd = 2 * b * (i * h + 2 * h * h + 2 * h * o)  # no gradient for X
        return float(fwd + bwd)


WORKLOAD = MLP()
