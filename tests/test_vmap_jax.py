"""anyad.vmap (and the batched Jacobians) against jax.vmap on the same functions.

Skipped where JAX is not installed. Each case is written twice, with anyad on
NumPy arrays and with jax.numpy, and the results compared in float64; then
anyad runs the same case on JAX arrays themselves (anyad's JAX backend).
"""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax.config.update("jax_enable_x64", True)

RNG = np.random.default_rng(0)


def _close(a, b, tol=1e-11):
    a = np.asarray(a.value if isinstance(a, ad.Variable) else a)
    np.testing.assert_allclose(a, np.asarray(b), rtol=tol, atol=tol)


def mlp_loss(lib):
    def loss(p, x, t):
        h = lib.tanh(x @ p["w1"] + p["b1"])
        z = h @ p["w2"] + p["b2"]
        return lib.log(lib.sum(lib.exp(z))) - lib.sum(z * t)
    return loss


class _Ad:
    tanh, exp, log, sum, sin, cos = ad.tanh, ad.exp, ad.log, ad.sum, ad.sin, ad.cos


PARAMS = {"w1": RNG.normal(size=(5, 7)) * 0.5, "b1": RNG.normal(size=7),
          "w2": RNG.normal(size=(7, 3)) * 0.5, "b2": RNG.normal(size=3)}
X = RNG.normal(size=(9, 5))
T = np.eye(3)[RNG.integers(0, 3, size=9)]


def _jax_tree(tree):
    return jax.tree_util.tree_map(jnp.asarray, tree)


def test_per_sample_gradients():
    ours = ad.vmap(ad.grad(mlp_loss(_Ad)), in_axes=(None, 0, 0))(PARAMS, X, T)
    theirs = jax.vmap(jax.grad(mlp_loss(jnp)), in_axes=(None, 0, 0))(_jax_tree(PARAMS), jnp.asarray(X),
                                                                      jnp.asarray(T))
    for k in PARAMS:
        _close(ours[k], theirs[k])


def test_per_sample_gradients_on_jax_arrays():
    p, x, t = _jax_tree(PARAMS), jnp.asarray(X), jnp.asarray(T)
    ours = ad.vmap(ad.grad(mlp_loss(_Ad)), in_axes=(None, 0, 0))(p, x, t)
    theirs = jax.vmap(jax.grad(mlp_loss(jnp)), in_axes=(None, 0, 0))(p, x, t)
    for k in PARAMS:
        assert isinstance(ours[k], type(theirs[k]))
        _close(ours[k], theirs[k])


@pytest.mark.parametrize("in_axes,out_axes", [(0, 0), (1, 0), (-1, 1), ((0, None), -1), ((1, 0), 0)])
def test_axes(in_axes, out_axes):
    a = RNG.normal(size=(4, 6))
    b = RNG.normal(size=(6, 4)) if in_axes == (1, 0) else RNG.normal(size=(4, 6))

    def f(lib):
        return lambda u, v: lib.sin(u) * v + lib.sum(u * v)

    if in_axes in ((0, None),):
        b = RNG.normal(size=(6,))
    ours = ad.vmap(f(_Ad), in_axes=in_axes, out_axes=out_axes)(a, b)
    theirs = jax.vmap(f(jnp), in_axes=in_axes, out_axes=out_axes)(jnp.asarray(a), jnp.asarray(b))
    _close(ours, theirs)


def test_nested_with_matmul_and_reductions():
    a = RNG.normal(size=(3, 4, 5, 2))
    m = RNG.normal(size=(2, 2))

    def f(lib):
        return lambda u: lib.sum(lib.exp(u @ m) * u, axis=0) / (1.0 + lib.sum(u * u))

    ours = ad.vmap(ad.vmap(f(_Ad)), in_axes=1, out_axes=-1)(a)
    theirs = jax.vmap(jax.vmap(f(jnp)), in_axes=1, out_axes=-1)(jnp.asarray(a))
    _close(ours, theirs)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd", "hessian"])
def test_batched_jacobians(transform):
    x = RNG.normal(size=6)
    w = RNG.normal(size=(6, 6))

    def f(lib, scalar):
        def g(u):
            y = lib.tanh(w @ u) * lib.sin(u)
            return lib.sum(y * y) if scalar else y
        return g

    scalar = transform == "hessian"
    ours = getattr(ad, transform)(f(_Ad, scalar))(x)
    theirs = getattr(jax, transform)(f(jnp, scalar))(jnp.asarray(x))
    _close(ours, theirs)


def test_vmap_of_jacobian_and_jit():
    xs = RNG.normal(size=(5, 4))

    def f(lib):
        return lambda u: lib.sin(u) * lib.sum(u ** 2)

    ours = ad.jit(ad.vmap(ad.jacrev(f(_Ad))))(xs)
    theirs = jax.jit(jax.vmap(jax.jacrev(f(jnp))))(jnp.asarray(xs))
    _close(ours, theirs)


def test_indexing_with_batched_indices():
    table = RNG.normal(size=(10, 3))
    idx = RNG.integers(0, 10, size=(4, 6))

    ours = ad.vmap(ad.grad(lambda W, i: ad.sum(W[i] ** 2)), in_axes=(None, 0))(ad.Variable(table), idx)
    theirs = jax.vmap(jax.grad(lambda W, i: jnp.sum(W[i] ** 2)), in_axes=(None, 0))(jnp.asarray(table),
                                                                                    jnp.asarray(idx))
    _close(ours, theirs)
