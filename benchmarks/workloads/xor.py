"""``xor``: the python-autodiff XOR program (issue 3), trained from fixed weights.

A 2-160-1 tanh network, squared error, plain SGD (learning rate 0.01) over the
four XOR samples, one sample at a time, for ``epochs`` epochs. One timed step is
the whole training run from the same initial weights; the outputs are the final
weights, so every gradient along the way is checked. Reported in µs per
training step (one sample: forward, gradient of the 4 parameters, update).
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload

LR = 0.01
X_DATA = [[[0], [0]], [[0], [1]], [[1], [0]], [[1], [1]]]
Y_DATA = [[0], [1], [1], [0]]


class XOR(Workload):
    name = "xor"
    title = "python-autodiff XOR program: 2-160-1 tanh, SGD per sample"
    dtype = "float64"
    metric = "us_per_step"
    outputs = ("W1", "B1", "W2", "B2")
    sizes = {"full": {"hidden": 160, "epochs": 100}, "quick": {"hidden": 160, "epochs": 2}}
    repeat = 10
    rtol = {"float32": 2e-4, "float64": 1e-9}

    def _make(self, rng, d):
        h = d["hidden"]
        params = [rng.random((h, 2)), rng.random((h, 1)), rng.random((1, h)), rng.random((1, 1))]
        consts = {"X": np.array(X_DATA, dtype="float64"), "Y": np.array(Y_DATA, dtype="float64")}
        return Data(params, consts, d)

    def reference(self, xp, data):
        W1, B1, W2, B2 = data.params
        X, Y = data.consts["X"], data.consts["Y"]
        for _ in range(data.dims["epochs"]):
            for x, y in zip(X, Y):
                A1 = xp.tanh(W1 @ x + B1)
                Z2 = W2 @ A1 + B2
                dZ2 = -2 * (y - Z2)
                dZ1 = (W2.T @ dZ2) * (1 - A1 * A1)
                W1 = W1 - LR * (dZ1 @ x.T)
                B1 = B1 - LR * dZ1
                W2 = W2 - LR * (dZ2 @ A1.T)
                B2 = B2 - LR * dZ2
        return [W1, B1, W2, B2]

    def units(self, d):
        return 4 * d["epochs"]


WORKLOAD = XOR()
