"""``attention``: one transformer block, sequence 256, width 256, 4 heads, float32.

    q, k, v = x @ Wq, x @ Wk, x @ Wv        split into 4 heads of width 64
    o = softmax(q k^T / sqrt(64)) v         heads merged back
    h = x + o @ Wo                          residual
    out = h + tanh(h @ W1 + b1) @ W2 + b2   2-layer MLP (hidden 4 x width), residual
    loss = mean(out ** 2)

One step: the loss and the gradients of the eight parameters (not of x).
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload


class Attention(Workload):
    name = "attention"
    title = "transformer block, seq 256, width 256, 4 heads, float32"
    dtype = "float32"
    metric = "gflops"
    outputs = ("loss", "dWq", "dWk", "dWv", "dWo", "dW1", "db1", "dW2", "db2")
    sizes = {"full": {"seq": 256, "width": 256, "heads": 4, "hidden": 1024},
             "quick": {"seq": 12, "width": 16, "heads": 4, "hidden": 32}}
    repeat = 20

    def _make(self, rng, d):
        s, w, f = d["seq"], d["width"], d["hidden"]
        def mat(a, b):
            return rng.standard_normal((a, b)) / np.sqrt(a)
        params = [mat(w, w), mat(w, w), mat(w, w), mat(w, w),
                  mat(w, f), np.full(f, 0.01), mat(f, w), np.full(w, -0.01)]
        return Data(params, {"x": rng.standard_normal((s, w))}, d).astype(self.dtype)

    def reference(self, xp, data):
        Wq, Wk, Wv, Wo, W1, b1, W2, b2 = data.params
        x = data.consts["x"]
        S, D = x.shape
        H = data.dims["heads"]
        dh = D // H
        scale = 1.0 / float(np.sqrt(dh))

        def split(a):  # (S, D) -> (H, S, dh)
            return a.reshape(S, H, dh).transpose(1, 0, 2)

        def merge(a):  # (H, S, dh) -> (S, D)
            return a.transpose(1, 0, 2).reshape(S, D)

        qh, kh, vh = split(x @ Wq), split(x @ Wk), split(x @ Wv)
        sc = (qh @ kh.swapaxes(-1, -2)) * scale
        e = xp.exp(sc - sc.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        o = merge(p @ vh)
        h = x + o @ Wo
        u = xp.tanh(h @ W1 + b1)
        out = h + u @ W2 + b2
        n = out.size
        loss = (out * out).sum() / n
        dout = out * (2.0 / n)
        dW2 = u.T @ dout
        db2 = dout.sum(axis=0)
        dz = (dout @ W2.T) * (1 - u * u)
        dW1 = h.T @ dz
        db1 = dz.sum(axis=0)
        dh_ = dout + dz @ W1.T
        dWo = o.T @ dh_
        doh = split(dh_ @ Wo.T)
        dp = doh @ vh.swapaxes(-1, -2)
        dvh = p.swapaxes(-1, -2) @ doh
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * scale
        dqh = ds @ kh
        dkh = ds.swapaxes(-1, -2) @ qh
        dWq = x.T @ merge(dqh)
        dWk = x.T @ merge(dkh)
        dWv = x.T @ merge(dvh)
        return [loss, dWq, dWk, dWv, dWo, dW1, db1, dW2, db2]

    def flops(self, d):
        s, w, f = d["seq"], d["width"], d["hidden"]
        proj = 2 * s * w * w  # one (S, D) @ (D, D)
        att = 2 * s * s * w  # q k^T, or p v, over all heads
        mlp = 2 * s * w * f  # one MLP matmul
        fwd = 4 * proj + 2 * att + 2 * mlp
        bwd = 4 * proj + 1 * proj + 4 * att + 4 * mlp  # dW x4, dx of Wo; 4 attention; MLP dW + dx
        return float(fwd + bwd)


WORKLOAD = Attention()
