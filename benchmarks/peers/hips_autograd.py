"""HIPS autograd: the same programs with ``autograd.numpy`` (numpy kernels)."""

from __future__ import annotations

import math

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.scipy.special import logsumexp

from . import Impl, NotApplicable

LR = 0.01


def _value_and_grad(loss, params):
    vg = autograd.value_and_grad(loss)

    def step():
        value, grads = vg(params)
        return [value, *grads]

    return step


def mlp(d):
    X, Y = d.consts["X"], d.consts["Y"]
    n = X.shape[0]

    def loss(ps):
        W1, b1, W2, b2, W3, b3 = ps
        h1 = anp.tanh(anp.dot(X, W1) + b1)
        h2 = anp.tanh(anp.dot(h1, W2) + b2)
        z = anp.dot(h2, W3) + b3
        return anp.sum((logsumexp(z, axis=1, keepdims=True) - z) * Y) / n

    return _value_and_grad(loss, list(d.params))


def matmul_chain(d):
    X = d.consts["X"]

    def loss(Ws):
        h = X
        for W in Ws:
            h = anp.tanh(anp.dot(W, h))
        return anp.sum(h)

    return _value_and_grad(loss, list(d.params))


def attention(d):
    x = d.consts["x"]
    S, D = x.shape
    H = d.dims["heads"]
    dh = D // H
    scale = 1.0 / math.sqrt(dh)

    def split(a):
        return anp.transpose(anp.reshape(a, (S, H, dh)), (1, 0, 2))

    def loss(ps):
        Wq, Wk, Wv, Wo, W1, b1, W2, b2 = ps
        q, k, v = split(anp.dot(x, Wq)), split(anp.dot(x, Wk)), split(anp.dot(x, Wv))
        s = anp.matmul(q, anp.swapaxes(k, -1, -2)) * scale
        p = anp.exp(s - logsumexp(s, axis=-1, keepdims=True))
        o = anp.reshape(anp.transpose(anp.matmul(p, v), (1, 0, 2)), (S, D))
        h = anp.dot(o, Wo) + x
        out = h + anp.dot(anp.tanh(anp.dot(h, W1) + b1), W2) + b2
        return anp.mean(out * out)

    return _value_and_grad(loss, list(d.params))


def smallops(d):
    steps = d.dims["steps"]

    def loss(ps):
        y = ps[0]
        for _ in range(steps):
            y = anp.sin(y) * 1.01 + 0.1 * y
        return anp.sum(y)

    return _value_and_grad(loss, list(d.params))


def deep(d):
    steps = d.dims["steps"]

    def loss(ps):
        y = ps[0]
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        return anp.sum(y)

    return _value_and_grad(loss, list(d.params))


def hvp(d):
    A, v = d.consts["A"], d.consts["v"]

    def f(x):
        return anp.sum(anp.tanh(anp.dot(A, x)) ** 2)

    h = autograd.hessian_vector_product(f)  # reverse over reverse
    x = d.params[0]
    return lambda: [h(x, v)]


def xor(d):
    X, Y = list(d.consts["X"]), list(d.consts["Y"])
    epochs = d.dims["epochs"]

    def error(ps, x, y):
        W1, B1, W2, B2 = ps
        return anp.sum((y - (anp.dot(W2, anp.tanh(anp.dot(W1, x) + B1)) + B2)) ** 2)

    g = autograd.grad(error)

    def step():
        ps = list(d.params)
        for _ in range(epochs):
            for x, y in zip(X, Y):
                ps = [p - LR * gp for p, gp in zip(ps, g(ps, x, y))]
        return ps

    return step


def transformer(d):
    """The workload's own forward (written for any numpy-like module) with autograd.numpy."""
    from ..workloads.transformer import forward

    x, target, heads = d.consts["x"], d.consts["target"], d.dims["heads"]
    return _value_and_grad(lambda ps: forward(anp, ps, x, target, heads), list(d.params))


BUILDERS = {"mlp": mlp, "matmul_chain": matmul_chain, "attention": attention, "smallops": smallops,
            "deep": deep, "hvp": hvp, "xor": xor, "transformer": transformer}


def implementations(workload, backends):
    if workload.name not in BUILDERS:
        why = "it has no convolution" if workload.name == "cnn" else "not written for it"
        raise NotApplicable(f"autograd (HIPS): no {workload.name} ({why})")
    if "numpy" not in backends:
        return []
    return [Impl("autograd (HIPS)", "numpy", BUILDERS[workload.name], np.asarray)]
