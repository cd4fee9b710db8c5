"""JAX: ``jax.jit`` of the gradient function, and the same function run eagerly
(op by op). float64 is enabled (``jax_enable_x64``) so the float64 workloads
stay float64; float32 inputs stay float32. Every step waits for its results
(``block_until_ready``): JAX dispatches asynchronously.
"""

from __future__ import annotations

import math

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from . import Impl, NotApplicable  # noqa: E402

LR = 0.01


def _mlp(d):
    X, Y = d.consts["X"], d.consts["Y"]
    n = X.shape[0]

    def loss(ps, X, Y):
        W1, b1, W2, b2, W3, b3 = ps
        h1 = jnp.tanh(X @ W1 + b1)
        h2 = jnp.tanh(h1 @ W2 + b2)
        return -jnp.sum(Y * jax.nn.log_softmax(h2 @ W3 + b3, axis=1)) / n

    return jax.value_and_grad(loss), (X, Y)


def _matmul_chain(d):
    def loss(Ws, X):
        h = X
        for W in Ws:
            h = jnp.tanh(W @ h)
        return jnp.sum(h)

    return jax.value_and_grad(loss), (d.consts["X"],)


def _attention(d):
    S, D = d.consts["x"].shape
    H = d.dims["heads"]
    dh = D // H
    scale = 1.0 / math.sqrt(dh)

    def split(a):
        return a.reshape(S, H, dh).transpose(1, 0, 2)

    def loss(ps, x):
        Wq, Wk, Wv, Wo, W1, b1, W2, b2 = ps
        q, k, v = split(x @ Wq), split(x @ Wk), split(x @ Wv)
        p = jax.nn.softmax((q @ k.swapaxes(-1, -2)) * scale, axis=-1)
        h = (p @ v).transpose(1, 0, 2).reshape(S, D) @ Wo + x
        out = h + jnp.tanh(h @ W1 + b1) @ W2 + b2
        return jnp.mean(out * out)

    return jax.value_and_grad(loss), (d.consts["x"],)


def _smallops(d):
    steps = d.dims["steps"]

    def loss(ps):
        y = ps[0]
        for _ in range(steps):
            y = jnp.sin(y) * 1.01 + 0.1 * y
        return jnp.sum(y)

    return jax.value_and_grad(loss), ()


def _deep(d, jit):
    steps = d.dims["steps"]

    def body(i, y):
        return y * 1.0001 + 0.0001

    def loss(ps):
        if jit:  # an unrolled 20,000-step trace takes XLA minutes to compile: a loop op instead
            y = jax.lax.fori_loop(0, steps, body, ps[0])
        else:
            y = ps[0]
            for _ in range(steps):
                y = y * 1.0001 + 0.0001
        return jnp.sum(y)

    return jax.value_and_grad(loss), ()


def _value_and_grad_step(vg, params, consts, jit):
    f = jax.jit(vg) if jit else vg
    params = [jnp.asarray(p) for p in params]
    consts = tuple(jnp.asarray(c) for c in consts)

    def step():
        value, grads = jax.block_until_ready(f(params, *consts))
        return [value, *grads]

    return step


def _hvp(d, jit):
    def f(x, A):
        return jnp.sum(jnp.tanh(A @ x) ** 2)

    def hvp(x, v, A):  # forward over reverse, JAX's recommended HVP
        return jax.jvp(lambda x: jax.grad(f)(x, A), (x,), (v,))[1]

    g = jax.jit(hvp) if jit else hvp
    x, v, A = (jnp.asarray(a) for a in (d.params[0], d.consts["v"], d.consts["A"]))
    return lambda: [jax.block_until_ready(g(x, v, A))]


def _xor(d, jit):
    X = [jnp.asarray(x) for x in d.consts["X"]]
    Y = [jnp.asarray(y) for y in d.consts["Y"]]
    epochs = d.dims["epochs"]

    def error(ps, x, y):
        W1, B1, W2, B2 = ps
        return jnp.sum((y - (W2 @ jnp.tanh(W1 @ x + B1) + B2)) ** 2)

    def update(ps, x, y):
        return [p - LR * g for p, g in zip(ps, jax.grad(error)(ps, x, y))]

    upd = jax.jit(update) if jit else update
    init = [jnp.asarray(p) for p in d.params]

    def step():
        ps = init
        for _ in range(epochs):
            for x, y in zip(X, Y):
                ps = upd(ps, x, y)
        return jax.block_until_ready(ps)

    return step


def _per_sample_grads(d, jit):
    def loss(ps, x, y):
        W1, b1, W2, b2 = ps
        z = W2 @ jnp.tanh(W1 @ x + b1) + b2
        return jax.nn.logsumexp(z) - jnp.sum(y * z)

    f = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))
    f = jax.jit(f) if jit else f
    ps = [jnp.asarray(p) for p in d.params]
    X, Y = jnp.asarray(d.consts["X"]), jnp.asarray(d.consts["Y"])
    return lambda: list(jax.block_until_ready(f(ps, X, Y)))


def _jacobian(d, jit):
    def f(x, W1, b1, W2, b2):
        return jnp.tanh(W2 @ jnp.tanh(W1 @ x + b1) + b2)

    jac = jax.jit(jax.jacrev(f)) if jit else jax.jacrev(f)
    x = jnp.asarray(d.params[0])
    consts = [jnp.asarray(d.consts[k]) for k in ("W1", "b1", "W2", "b2")]
    return lambda: [jax.block_until_ready(jac(x, *consts))]


def _build(name, jit):
    def build(d):
        if name == "per_sample_grads":
            return _per_sample_grads(d, jit)
        if name == "jacobian":
            return _jacobian(d, jit)
        if name == "hvp":
            return _hvp(d, jit)
        if name == "xor":
            return _xor(d, jit)
        if name == "deep":
            vg, consts = _deep(d, jit)
        else:
            vg, consts = {"mlp": _mlp, "matmul_chain": _matmul_chain, "attention": _attention,
                          "smallops": _smallops}[name](d)
        return _value_and_grad_step(vg, d.params, consts, jit)
    return build


def implementations(workload, backends):
    if workload.name in ("cnn", "transformer"):
        raise NotApplicable(f"jax: the {workload.name} workload is not written for jax yet")
    if "jax" not in backends:
        return []
    name = workload.name
    notes = {"hvp": "forward over reverse (jvp of grad)", "deep": "",
             "per_sample_grads": "jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))", "jacobian": "jax.jacrev"}
    jit_note = ("lax.fori_loop (the unrolled chain does not compile in reasonable time)"
                if name == "deep" else "")
    skip = ("not run on deep: op-by-op dispatch under jax.grad costs about 2 ms per op here, "
            "minutes per step" if name == "deep" else "")
    return [Impl("jax jit", "jax", _build(name, True), np.asarray, note=jit_note or notes.get(name, "")),
            Impl("jax eager", "jax", _build(name, False), np.asarray, note=notes.get(name, ""), skip=skip)]
