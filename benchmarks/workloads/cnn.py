"""``cnn``: a small convolutional classifier, batch 64 of 3x32x32 images, float32.

    h1 = maxpool2(relu(conv3x3(x, W1, padding 1) + b1))     3 -> 16 channels, 32 -> 16
    h2 = maxpool2(relu(conv3x3(h1, W2, padding 1) + b2))    16 -> 32 channels, 16 -> 8
    loss = mean cross-entropy(flatten(h2) @ W3 + b3, labels) 2048 -> 10 classes

One step: the loss and the gradients of the six parameters. The floor is
written by hand: each convolution an im2col (a strided window view) and one
matrix product, its input gradient the 9 shifted adds of col2im.
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload


def _windows(xp, a, k):
    """``(N, C, H, W)`` (already padded) -> ``(N, H-k+1, W-k+1, C, k, k)`` views."""
    v = xp.lib.stride_tricks.sliding_window_view(a, (k, k), axis=(2, 3))
    return v.transpose(0, 2, 3, 1, 4, 5)


def _conv(xp, x, W, b):
    n, c, h, w = x.shape
    o, _, k, _ = W.shape
    p = k // 2
    xp_ = xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = _windows(xp, xp_, k).reshape(n * h * w, c * k * k)
    out = cols @ W.reshape(o, c * k * k).T + b
    return out.reshape(n, h, w, o).transpose(0, 3, 1, 2), cols


def _conv_back(xp, dout, cols, W, x_shape):
    n, c, h, w = x_shape
    o, _, k, _ = W.shape
    p = k // 2
    d = dout.transpose(0, 2, 3, 1).reshape(n * h * w, o)
    dW = (d.T @ cols).reshape(W.shape)
    db = d.sum(axis=0)
    dcols = (d @ W.reshape(o, c * k * k)).reshape(n, h, w, c, k, k)
    dx = xp.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dout.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, :, i:i + h, j:j + w] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dx[:, :, p:p + h, p:p + w], dW, db


def _pool(xp, y):
    n, c, h, w = y.shape
    r = y.reshape(n, c, h // 2, 2, w // 2, 2)
    m = r.max(axis=(3, 5))
    return m, r


def _pool_back(xp, dm, m, r):
    """The gradient goes to the first maximum of each window (row-major), as torch's."""
    n, c, h2, _, w2, _ = r.shape
    win = r.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h2, w2, 4)
    first = win.argmax(axis=-1)
    onehot = (xp.arange(4) == first[..., None]).astype(dm.dtype)
    g = (onehot * dm[..., None]).reshape(n, c, h2, w2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return g.reshape(n, c, h2 * 2, w2 * 2)


class CNN(Workload):
    name = "cnn"
    title = "2 conv3x3 + relu + maxpool2, linear, cross-entropy; batch 64 of 3x32x32, float32"
    dtype = "float32"
    metric = "gflops"
    outputs = ("loss", "dW1", "db1", "dW2", "db2", "dW3", "db3")
    sizes = {"full": {"batch": 64, "size": 32, "c1": 16, "c2": 32, "classes": 10},
             "quick": {"batch": 4, "size": 8, "c1": 4, "c2": 6, "classes": 3}}
    repeat = 15

    def _make(self, rng, d):
        n, s, c1, c2, k = d["batch"], d["size"], d["c1"], d["c2"], d["classes"]
        feat = c2 * (s // 4) ** 2

        def he(shape, fan_in):
            return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)

        params = [he((c1, 3, 3, 3), 27), np.full(c1, 0.01), he((c2, c1, 3, 3), 9 * c1), np.full(c2, 0.01),
                  he((feat, k), feat) * 0.5, np.zeros(k)]
        consts = {"x": rng.standard_normal((n, 3, s, s)), "labels": rng.integers(0, k, n)}
        return Data(params, consts, d).astype(self.dtype)  # the labels stay integers

    def reference(self, xp, data):
        W1, b1, W2, b2, W3, b3 = data.params
        x, labels = data.consts["x"], data.consts["labels"]
        n = x.shape[0]
        z1, cols1 = _conv(xp, x, W1, b1)
        a1 = xp.maximum(z1, 0)
        h1, r1 = _pool(xp, a1)
        z2, cols2 = _conv(xp, h1, W2, b2)
        a2 = xp.maximum(z2, 0)
        h2, r2 = _pool(xp, a2)
        flat = h2.reshape(n, -1)
        logits = flat @ W3 + b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        loss = -logp[xp.arange(n), labels].mean()
        dlogits = xp.exp(logp)
        dlogits[xp.arange(n), labels] -= 1
        dlogits /= n
        dW3 = flat.T @ dlogits
        db3 = dlogits.sum(axis=0)
        dh2 = (dlogits @ W3.T).reshape(h2.shape)
        dz2 = _pool_back(xp, dh2, h2, r2) * (z2 > 0)
        dh1, dW2, db2 = _conv_back(xp, dz2, cols2, W2, h1.shape)
        dz1 = _pool_back(xp, dh1, h1, r1) * (z1 > 0)
        _, dW1, db1 = _conv_back(xp, dz1, cols1, W1, x.shape)
        return [loss, dW1, db1, dW2, db2, dW3, db3]

    def flops(self, d):
        n, s, c1, c2, k = d["batch"], d["size"], d["c1"], d["c2"], d["classes"]
        conv1 = 2 * n * s * s * c1 * 27
        conv2 = 2 * n * (s // 2) ** 2 * c2 * c1 * 9
        lin = 2 * n * c2 * (s // 4) ** 2 * k
        return float(3 * (conv1 + conv2 + lin) - conv1)  # forward, dW, dx (no dx for the input)


WORKLOAD = CNN()
