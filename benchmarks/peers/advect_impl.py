"""advect (https://pypi.org/project/advect/, Python >= 3.12): autodiff of plain
numpy code. Two implementations, both on numpy arrays:

* ``advect eager``: ``advect.value_and_grad(loss)`` (and ``hvp``, ``jacobian``),
  which traces the Python function from the concrete inputs on every call;
* ``advect staged``: ``advect.stage(loss, *examples)`` traced once into a
  ``StagedProgram`` at build time, then ``advect.value_and_grad`` of that
  program (``vjp_program`` for the Hessian-vector and Jacobian products), a
  prebuilt derivative program that runs without retracing.

advect needs Python >= 3.12, so it usually runs in an interpreter of its own:
``python -m benchmarks --peer-python advect=/path/to/python3.12``. This module
imports only numpy and advect there. advect has no vmap: the per-sample
gradients are a Python loop over examples (as "torch loop"), and the staged
Jacobian is one program of n stacked pullbacks (reverse mode, row by row).
Staging has no abstract rule for ``swapaxes``, ``pad`` or ``ndarray.transpose``,
so the programs use ``matrix_transpose``, ``concatenate`` and ``np.transpose``.
"""

from __future__ import annotations

import math

import advect as ad
import numpy as np

from . import Impl, NotApplicable

LR = 0.01


class _Numpy:
    """numpy, with ``swapaxes`` of the last two axes spelled as ``matrix_transpose``
    (which advect can stage), for the transformer workload's shared ``forward``."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def swapaxes(a, i, j):
        if {i, j} != {-1, -2}:
            raise NotImplementedError("advect_impl: swapaxes of the last two axes only")
        return np.matrix_transpose(a)


def _logsumexp(z, axis):
    m = np.max(z, axis=axis, keepdims=True)  # its gradient cancels (stop_gradient does not stage)
    return m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


def _value_and_grad(loss, params, consts, staged):
    """A step returning ``[value, *grads]`` of ``loss(params, *consts)`` in ``params`` (a tuple)."""
    params, consts = tuple(params), tuple(consts)
    if staged:
        vg = ad.value_and_grad(ad.stage(loss, params, *consts), argnums=0)
    else:
        vg = ad.value_and_grad(loss, argnums=0)

    def step():
        value, grads = vg(params, *consts)
        return [value, *grads]

    return step


def mlp(d, staged):
    n = d.consts["X"].shape[0]

    def loss(ps, X, Y):
        W1, b1, W2, b2, W3, b3 = ps
        h1 = np.tanh(X @ W1 + b1)
        h2 = np.tanh(h1 @ W2 + b2)
        z = h2 @ W3 + b3
        return -np.sum(Y * (z - _logsumexp(z, 1))) / n

    return _value_and_grad(loss, d.params, (d.consts["X"], d.consts["Y"]), staged)


def matmul_chain(d, staged):
    def loss(Ws, X):
        h = X
        for W in Ws:
            h = np.tanh(W @ h)
        return np.sum(h)

    return _value_and_grad(loss, d.params, (d.consts["X"],), staged)


def attention(d, staged):
    S, D = d.consts["x"].shape
    H = d.dims["heads"]
    dh = D // H
    scale = 1.0 / math.sqrt(dh)

    def split(a):
        return np.transpose(np.reshape(a, (S, H, dh)), (1, 0, 2))

    def loss(ps, x):
        Wq, Wk, Wv, Wo, W1, b1, W2, b2 = ps
        q, k, v = split(x @ Wq), split(x @ Wk), split(x @ Wv)
        s = (q @ np.matrix_transpose(k)) * scale
        p = np.exp(s - _logsumexp(s, -1))
        h = np.reshape(np.transpose(p @ v, (1, 0, 2)), (S, D)) @ Wo + x
        out = h + np.tanh(h @ W1 + b1) @ W2 + b2
        return np.mean(out * out)

    return _value_and_grad(loss, d.params, (d.consts["x"],), staged)


def smallops(d, staged):
    steps = d.dims["steps"]

    def loss(ps):
        y = ps[0]
        for _ in range(steps):
            y = np.sin(y) * 1.01 + 0.1 * y
        return np.sum(y)

    return _value_and_grad(loss, d.params, (), staged)


def deep(d, staged):
    steps = d.dims["steps"]

    def loss(ps):
        y = ps[0]
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        return np.sum(y)

    return _value_and_grad(loss, d.params, (), staged)


def hvp(d, staged):
    A, v = d.consts["A"], d.consts["v"]
    x = d.params[0]

    def f(x, A):
        return np.sum(np.tanh(A @ x) ** 2)

    if staged:  # reverse over reverse: the pullback of the staged gradient program, v^T H = H v
        hv = ad.vjp_program(ad.grad(ad.stage(f, x, A)), argnums=0)
        return lambda: [hv(x, A, cotangent=v)]
    h = ad.hvp(f, argnums=0)  # advect's own choice of nesting, traced on every call

    def step():
        _, product = h(x, A, vectors=v)
        return [product]

    return step


def xor(d, staged):
    X, Y = list(d.consts["X"]), list(d.consts["Y"])
    epochs = d.dims["epochs"]
    init = tuple(d.params)

    def error(ps, x, y):
        W1, B1, W2, B2 = ps
        return np.sum((y - (W2 @ np.tanh(W1 @ x + B1) + B2)) ** 2)

    g = ad.grad(ad.stage(error, init, X[0], Y[0]) if staged else error, argnums=0)

    def step():
        ps = init
        for _ in range(epochs):
            for x, y in zip(X, Y):
                ps = tuple(p - LR * gp for p, gp in zip(ps, g(ps, x, y)))
        return list(ps)

    return step


def _conv3x3(x, W, b):
    """3x3 convolution, padding 1: nine shifted slices (im2col) and one matrix product."""
    n, c, h, w = x.shape
    o = W.shape[0]
    zr = np.zeros((n, c, 1, w), dtype=x.dtype)
    xp = np.concatenate([zr, x, zr], axis=2)
    zc = np.zeros((n, c, h + 2, 1), dtype=x.dtype)
    xp = np.concatenate([zc, xp, zc], axis=3)
    patches = np.stack([xp[:, :, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=2)
    cols = np.reshape(np.transpose(patches, (0, 3, 4, 1, 2)), (n * h * w, c * 9))
    out = cols @ np.matrix_transpose(np.reshape(W, (o, c * 9))) + b
    return np.transpose(np.reshape(out, (n, h, w, o)), (0, 3, 1, 2))


def _pool2(y):
    n, c, h, w = y.shape
    return np.max(np.reshape(y, (n, c, h // 2, 2, w // 2, 2)), axis=(3, 5))


def cnn(d, staged):
    def loss(ps, x, labels):
        W1, b1, W2, b2, W3, b3 = ps
        h = _pool2(np.maximum(_conv3x3(x, W1, b1), 0.0))
        h = _pool2(np.maximum(_conv3x3(h, W2, b2), 0.0))
        z = np.reshape(h, (h.shape[0], -1)) @ W3 + b3
        logp = z - _logsumexp(z, 1)
        return -np.mean(np.take_along_axis(logp, labels, axis=1))

    labels = d.consts["labels"].reshape(-1, 1)
    return _value_and_grad(loss, d.params, (d.consts["x"], labels), staged)


def transformer(d, staged):
    """The workload's own forward (written for any numpy-like module) with numpy."""
    from ..workloads.transformer import forward

    heads = d.dims["heads"]
    xp = _Numpy()

    def loss(ps, x, target):
        return forward(xp, ps, x, target, heads)

    return _value_and_grad(loss, d.params, (d.consts["x"], d.consts["target"]), staged)


def _example_loss(ps, x, y):
    W1, b1, W2, b2 = ps
    z = W2 @ np.tanh(W1 @ x + b1) + b2
    return _logsumexp(z, 0)[0] - np.sum(y * z)


def per_sample_grads(d, staged):
    """One gradient per example in a Python loop (advect has no vmap), stacked."""
    ps, X, Y = tuple(d.params), d.consts["X"], d.consts["Y"]
    g = ad.grad(ad.stage(_example_loss, ps, X[0], Y[0]) if staged else _example_loss, argnums=0)

    def step():
        per = [g(ps, X[i], Y[i]) for i in range(X.shape[0])]
        return [np.stack([p[k] for p in per]) for k in range(4)]

    return step


def jacobian(d, staged):
    x = d.params[0]
    consts = tuple(d.consts[k] for k in ("W1", "b1", "W2", "b2"))

    def f(x, W1, b1, W2, b2):
        return np.tanh(W2 @ np.tanh(W1 @ x + b1) + b2)

    if not staged:
        jac = ad.jacobian(f, argnums=0)
        return lambda: [jac(x, *consts)]
    # reverse mode without vmap: one staged program of the n pullbacks of the basis rows
    pull = ad.vjp_program(ad.stage(f, x, *consts), argnums=0)
    eye = np.eye(x.shape[0], dtype=x.dtype)

    def jac_rows(x, W1, b1, W2, b2, E):
        return np.stack([pull(x, W1, b1, W2, b2, cotangent=E[i]) for i in range(E.shape[0])])

    jac = ad.stage(jac_rows, x, *consts, eye)
    return lambda: [jac(x, *consts, eye)]


BUILDERS = {"mlp": mlp, "matmul_chain": matmul_chain, "attention": attention, "cnn": cnn,
            "transformer": transformer, "smallops": smallops, "deep": deep, "hvp": hvp, "xor": xor,
            "per_sample_grads": per_sample_grads, "jacobian": jacobian}

NOTES = {
    "hvp": ("advect.hvp", "vjp_program of the staged gradient (reverse over reverse)"),
    "per_sample_grads": ("advect.grad per example in a Python loop (no vmap), stacked",
                         "staged per-example gradient program in a Python loop (no vmap), stacked"),
    "jacobian": ("advect.jacobian", "one staged program of n vjp_program pullbacks (reverse, row by row)"),
    "xor": ("", "staged gradient program, numpy update"),
    "cnn": ("conv as 9 shifted slices and a matmul, pool as reshape+max",
            "conv as 9 shifted slices and a matmul, pool as reshape+max"),
}


def implementations(workload, backends):
    if workload.name not in BUILDERS:
        raise NotApplicable(f"advect: the {workload.name} workload is not written for advect")
    if "numpy" not in backends:
        return []
    build = BUILDERS[workload.name]
    eager_note, staged_note = NOTES.get(workload.name, ("", ""))
    return [Impl("advect eager", "numpy", lambda d: build(d, False), np.asarray, note=eager_note),
            Impl("advect staged", "numpy", lambda d: build(d, True), np.asarray, note=staged_note)]
