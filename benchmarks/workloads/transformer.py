"""``transformer``: one transformer encoder layer as torch.nn.TransformerEncoderLayer
builds it (post-norm, ReLU, no dropout, batch first), batch 16 of 64 tokens,
d_model 128, 4 heads, feed-forward 512, float32.

    a = softmax(q k^T / sqrt(32)) v per head, q, k, v = x Win^T + bin
    h = layer_norm(x + a Wo^T + bo)                     norm1
    out = layer_norm(h + relu(h W1^T + b1) W2^T + b2)   norm2
    loss = mean((out - target)^2)

One step: the loss and the gradients of the layer's twelve parameters, in
torch's order (``named_parameters()``). The floor is written by hand: the
attention's softmax backward, layer norm's backward and the rest in numpy,
every projection one matrix product over all tokens.
"""

from __future__ import annotations

import numpy as np

from . import Data, Workload

#: the parameters, as torch.nn.TransformerEncoderLayer names them
NAMES = ("self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
         "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
         "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias")
EPS = 1e-5


def _layer_norm(xp, z, g, b):
    mu = z.mean(axis=-1, keepdims=True)
    c = z - mu
    inv = 1.0 / xp.sqrt((c * c).mean(axis=-1, keepdims=True) + EPS)
    n = c * inv
    return n * g + b, n, inv


def _layer_norm_back(dy, n, inv, g):
    """d loss / d z of ``y = g * (z - mean) * inv + b`` (rows: tokens), and the gradients of g and b."""
    dn = dy * g
    dz = inv * (dn - dn.mean(axis=-1, keepdims=True) - n * (dn * n).mean(axis=-1, keepdims=True))
    return dz, (dy * n).sum(axis=0), dy.sum(axis=0)


def forward(xp, params, x, target, heads):
    """The loss alone, written with ``xp`` (numpy, or autograd.numpy for HIPS autograd)."""
    Win, bin_, Wo, bo, W1, b1, W2, b2, g1, be1, g2, be2 = params
    B, S, D = x.shape
    dh = D // heads
    qkv = xp.matmul(x, xp.transpose(Win)) + bin_

    def split(a):
        return xp.transpose(xp.reshape(a, (B, S, heads, dh)), (0, 2, 1, 3))

    q, k, v = (split(qkv[..., i * D:(i + 1) * D]) for i in range(3))
    s = xp.matmul(q, xp.swapaxes(k, -1, -2)) / float(np.sqrt(dh))  # a Python float: no float64
    e = xp.exp(s - xp.max(s, axis=-1, keepdims=True))
    p = e / xp.sum(e, axis=-1, keepdims=True)
    a = xp.reshape(xp.transpose(xp.matmul(p, v), (0, 2, 1, 3)), (B, S, D))

    def norm(z, g, b):
        mu = xp.mean(z, axis=-1, keepdims=True)
        var = xp.mean((z - mu) ** 2, axis=-1, keepdims=True)
        return (z - mu) / xp.sqrt(var + EPS) * g + b

    def linear(z, W, b):
        return xp.matmul(z, xp.transpose(W)) + b

    h = norm(x + linear(a, Wo, bo), g1, be1)
    out = norm(h + linear(xp.maximum(linear(h, W1, b1), 0.0), W2, b2), g2, be2)
    return xp.mean((out - target) ** 2)


class Transformer(Workload):
    name = "transformer"
    title = "transformer encoder layer (post-norm), batch 16, seq 64, d_model 128, 4 heads, float32"
    dtype = "float32"
    metric = "gflops"
    outputs = ("loss",) + tuple("d" + n for n in NAMES)
    sizes = {"full": {"batch": 16, "seq": 64, "d_model": 128, "heads": 4, "ff": 512},
             "quick": {"batch": 2, "seq": 6, "d_model": 16, "heads": 4, "ff": 32}}
    repeat = 15

    def _make(self, rng, d):
        B, S, D, F = d["batch"], d["seq"], d["d_model"], d["ff"]

        def mat(a, b):
            return rng.standard_normal((a, b)) / np.sqrt(b)

        def vec(n, scale=0.1, center=0.0):
            return center + scale * rng.standard_normal(n)

        params = [mat(3 * D, D), vec(3 * D), mat(D, D), vec(D), mat(F, D), vec(F), mat(D, F), vec(D),
                  vec(D, center=1.0), vec(D), vec(D, center=1.0), vec(D)]
        consts = {"x": rng.standard_normal((B, S, D)), "target": rng.standard_normal((B, S, D))}
        return Data(params, consts, d).astype(self.dtype)

    def reference(self, xp, data):
        """Tokens as the rows of (B*S, ·) matrices, so every projection is one matrix
        product; only the attention is batched over (batch, head)."""
        Win, bin_, Wo, bo, W1, b1, W2, b2, g1, be1, g2, be2 = data.params
        B, S, D = data.consts["x"].shape
        x = data.consts["x"].reshape(B * S, D)
        target = data.consts["target"].reshape(B * S, D)
        H = data.dims["heads"]
        dh = D // H
        scale = 1.0 / float(np.sqrt(dh))

        def split(a):  # (B*S, D) -> (B, H, S, dh)
            return a.reshape(B, S, H, dh).transpose(0, 2, 1, 3)

        def merge(a):  # (B, H, S, dh) -> (B*S, D)
            return a.transpose(0, 2, 1, 3).reshape(B * S, D)

        qkv = x @ Win.T + bin_
        q, k, v = split(qkv[:, :D]), split(qkv[:, D:2 * D]), split(qkv[:, 2 * D:])
        sc = (q @ k.transpose(0, 1, 3, 2)) * scale
        e = xp.exp(sc - sc.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        a = merge(p @ v)
        h, n1, inv1 = _layer_norm(xp, x + a @ Wo.T + bo, g1, be1)
        u = h @ W1.T + b1
        r = xp.maximum(u, 0)
        out, n2, inv2 = _layer_norm(xp, h + r @ W2.T + b2, g2, be2)
        diff = out - target
        N = diff.size
        loss = (diff * diff).sum() / N
        dz2, dg2, dbe2 = _layer_norm_back(diff * (2.0 / N), n2, inv2, g2)
        dW2 = dz2.T @ r
        db2 = dz2.sum(axis=0)
        du = (dz2 @ W2) * (u > 0)
        dW1 = du.T @ h
        db1 = du.sum(axis=0)
        dz1, dg1, dbe1 = _layer_norm_back(dz2 + du @ W1, n1, inv1, g1)
        dWo = dz1.T @ a
        dbo = dz1.sum(axis=0)
        do = split(dz1 @ Wo)
        dp = do @ v.transpose(0, 1, 3, 2)
        dv = p.transpose(0, 1, 3, 2) @ do
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * scale
        dq = ds @ k
        dk = ds.transpose(0, 1, 3, 2) @ q
        dqkv = xp.concatenate([merge(dq), merge(dk), merge(dv)], axis=-1)
        dWin = dqkv.T @ x
        dbin = dqkv.sum(axis=0)
        return [loss, dWin, dbin, dWo, dbo, dW1, db1, dW2, db2, dg1, dbe1, dg2, dbe2]

    def flops(self, d):
        B, S, D, F, = d["batch"], d["seq"], d["d_model"], d["ff"]
        tokens = B * S
        proj = 2 * tokens * D * (3 * D + D)  # in_proj and out_proj
        att = 2 * 2 * B * S * S * D  # q k^T and p v over all heads
        ffn = 2 * 2 * tokens * D * F
        # backward: weight gradients of every product, input gradients of all but the in_proj
        bwd = proj + (2 * tokens * D * D) + 2 * att + 2 * ffn
        return float(proj + att + ffn + bwd)


WORKLOAD = Transformer()
