"""python-autodiff 0.1.1 (``import autodiff``): the XOR program of its README,
run as written (only the data is fixed). It has no other workload."""

from __future__ import annotations

import autodiff
import numpy as np

from . import Impl, NotApplicable

LR = 0.01


def xor(d):
    w1, b1, w2, b2 = d.params
    X_data, Y_data = d.consts["X"], d.consts["Y"]
    epochs = d.dims["epochs"]

    def step():
        ad = autodiff
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


def implementations(workload, backends):
    if workload.name != "xor":
        raise NotApplicable("python-autodiff: xor only")
    if "numpy" not in backends:
        return []
    return [Impl("python-autodiff", "numpy", xor, np.asarray)]
