"""``hvp``: the Hessian-vector product of f(x) = sum(tanh(A @ x) ** 2), A
1000x1000 float64.

By hand: with t = tanh(A x), H v = A^T ((2 - 6 t^2)(1 - t^2) * (A v)): three
matrix-vector products, the floor. Autodiff libraries differentiate twice
(reverse over reverse, or forward over reverse).
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload


class HVP(Workload):
    name = "hvp"
    title = "Hessian-vector product of sum(tanh(A @ x) ** 2), A 1000x1000 float64"
    dtype = "float64"
    metric = "gflops"
    outputs = ("Hv",)
    sizes = {"full": {"n": 1000}, "quick": {"n": 40}}
    repeat = 30

    def _make(self, rng, d):
        n = d["n"]
        return Data([rng.standard_normal(n)],
                    {"A": rng.standard_normal((n, n)) / np.sqrt(n), "v": rng.standard_normal(n)}, d)

    def reference(self, xp, data):
        (x,) = data.params
        A, v = data.consts["A"], data.consts["v"]
        t = xp.tanh(A @ x)
        t2 = t * t
        return [A.T @ ((2 - 6 * t2) * (1 - t2) * (A @ v))]

    def flops(self, d):
        return float(3 * 2 * d["n"] ** 2)


WORKLOAD = HVP()
