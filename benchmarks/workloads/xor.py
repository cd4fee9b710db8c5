"""``xor``: the python-autodiff XOR program, trained from fixed weights.

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


def tensor_graph_program(ad, data) -> object:
    """One timed step for a library with the Tensor/Graph face (``ad`` is
    ``anyad`` or python-autodiff's ``autodiff``): the README's XOR program as
    written, from ``data``'s fixed weights; returns the final weights."""
    w1, b1, w2, b2 = data.params
    X_data, Y_data = data.consts["X"], data.consts["Y"]
    epochs = data.dims["epochs"]

    def step():
        g = ad.Graph()
        X = ad.Tensor(X_data, dtype="float64")
        Y = ad.Tensor(Y_data, dtype="float64")
        W1 = ad.Tensor(w1, dtype="float64")
        B1 = ad.Tensor(b1, dtype="float64")
        W2 = ad.Tensor(w2, dtype="float64")
        B2 = ad.Tensor(b2, dtype="float64")

        def forward(x):
            Z1 = np.matmul(W1, x) + B1
            A1 = np.tanh(Z1)
            Z2 = np.matmul(W2, A1) + B2
            return Z2

        for i in range(epochs):
            for x, y in zip(X, Y):
                parameters = [W1, B1, W2, B2]
                g.add_variables(*parameters, x, y)
                Z2 = forward(x)
                E = (y - Z2) ** 2
                for param, gradient in zip(parameters, g.gradient(E, parameters)):
                    param.assign(param._i - (LR * gradient))
        return [W1._i, B1._i, W2._i, B2._i]

    return step


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
