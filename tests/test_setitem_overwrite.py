"""A write over every element of an array (``y[mask] = v`` with an all-true
mask, ``y[...] = v``) gives no gradient to what computed ``y``, so that
computation is not walked: a NaN computed there and thrown away (scikit-learn's
``0 / 0`` in ``StandardScaler``) no longer turns into ``0 * NaN = NaN``. The
decision is read off shapes (no host synchronisation); partial writes keep
the full rule."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad

X0 = np.random.default_rng(7).normal(size=(5, 3))
W = np.cos(np.arange(15) * 0.7).reshape(5, 3) + 1.5


def _central(f, x0, h=1e-6):
    g = np.zeros_like(x0)
    for i in range(x0.size):
        e = np.zeros(x0.size)
        e[i] = h
        e = e.reshape(x0.shape)
        g.flat[i] = (f(x0 + e) - f(x0 - e)) / (2 * h)
    return g


def _incremental_var(xp, X):
    """scikit-learn's _incremental_mean_and_var on a first fit (last counts 0), as written there."""
    n_features = X.shape[1]
    last_sample_count = xp.zeros(n_features)
    last_mean = xp.zeros(n_features)
    last_sum = last_mean * last_sample_count
    new_sum = xp.sum(X, axis=0)
    new_sample_count = xp.full((n_features,), float(X.shape[0]))
    updated_sample_count = last_sample_count + new_sample_count
    temp = X - new_sum / new_sample_count
    correction = xp.sum(temp, axis=0)
    new_unnormalized_variance = xp.sum(temp ** 2, axis=0) - correction ** 2 / new_sample_count
    last_over_new_count = last_sample_count / new_sample_count  # 0
    updated = (xp.zeros(n_features) + new_unnormalized_variance + last_over_new_count / updated_sample_count
               * (last_sum / last_over_new_count - new_sum) ** 2)  # 0 / 0: NaN
    zeros = last_sample_count == 0
    updated[zeros] = new_unnormalized_variance[zeros]
    return updated / updated_sample_count


def test_scikit_learns_overwritten_nan_gives_the_right_gradient():
    with np.errstate(all="ignore"):
        want = _central(lambda a: np.sum(_incremental_var(np, a) * W[0]), X0)
        g = ad.grad(lambda x: ad.sum(_incremental_var(ad.array_api, x) * ad.Variable(W[0])))(X0)
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-6, atol=1e-9)


def test_torch_gives_nan_on_the_same_code():
    """torch, with the same write or with torch.where, gives 0 * NaN = NaN here
    (JAX's transpose of the scatter gives zeros too, so NaN as well)."""
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as tx

    X = torch.tensor(X0, requires_grad=True)
    _incremental_var(tx, X).sum().backward()
    assert torch.isnan(X.grad).all()


@pytest.mark.parametrize("backend", ["numpy", "device1"])
def test_standard_scaler(backend):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.preprocessing import StandardScaler

    x0 = X0
    if backend == "device1":
        strict = pytest.importorskip("array_api_strict")
        x0 = strict.asarray(X0, device=strict.Device("device1"))
    x = ad.Variable(x0, requires_grad=True)
    with sklearn.config_context(array_api_dispatch=True), np.errstate(all="ignore"):
        y = StandardScaler().fit_transform(x)
    assert isinstance(y, ad.Variable)
    w = ad.asarray(W) if backend == "numpy" else ad.Variable(strict.asarray(W, device=x0.device))
    ad.sum(y * w).backward()
    got = np.asarray(x.grad) if backend == "numpy" else np.array(x.grad._array)
    want = _central(lambda a: np.sum(StandardScaler().fit_transform(a) * W), X0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def _sqrt_then_write(key, value):
    """sqrt of negative numbers (NaN, and NaN derivatives) written over at ``key``."""

    def f(x):
        y = ad.sqrt(x - 10.0)
        y[key] = value(x)
        return ad.sum(y * ad.Variable(W[0]))

    return f


def test_full_writes_are_pruned():
    x0 = np.array([1.0, 2.0, 3.0])
    for key, value in ((..., lambda x: x ** 2), (slice(None), lambda x: x ** 2),
                       (np.array([True, True, True]), lambda x: x ** 2)):
        with np.errstate(all="ignore"):
            g = ad.grad(_sqrt_then_write(key, value))(x0)
        np.testing.assert_allclose(np.asarray(g), 2 * x0 * W[0], err_msg=repr(key))


def test_partial_writes_keep_the_rule():
    """A mask with a false element, a broadcast scalar or a one-element mask (whose
    value's shape cannot tell) is not pruned: the unwritten elements keep their gradient."""
    x0 = np.array([12.0, 13.0, 14.0])

    def f(x, key, v):
        y = ad.sqrt(x - 10.0)
        y[key] = v(x)
        return ad.sum(y * ad.Variable(W[0]))

    cases = [(np.array([True, False, True]), lambda x: x[np.array([True, False, True])] ** 2),
             (np.array([True, True, True]), lambda x: 5.0),  # all written, value broadcast: no pruning
             (slice(0, 2), lambda x: x[:2] ** 2), (slice(1, None), lambda x: x[0])]
    for key, v in cases:
        g = ad.grad(lambda x: f(x, key, v))(x0)
        want = _central(lambda a: float(f(ad.Variable(a), key, v).value), x0)
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-6, err_msg=repr(key))
    one = ad.grad(lambda x: f(x[:1], np.array([False]), lambda u: u[np.array([False])] ** 2))(x0)
    # y[:1] broadcast against W[0]
    np.testing.assert_allclose(np.asarray(one), [W[0].sum() / (2 * np.sqrt(2.0)), 0.0, 0.0])


def test_higher_order_through_a_full_write():
    """Second order too: the overwritten branch (NaN derivatives here) is not walked."""
    x0 = np.array([0.3, 0.7])

    def f(x):
        y = ad.sqrt(x - 10.0)
        y[np.array([True, True])] = ad.sin(x) * x ** 3
        return ad.sum(y)

    with np.errstate(all="ignore"):
        h = ad.hessian(f)(x0)
    d2 = -np.sin(x0) * x0 ** 3 + 6 * np.cos(x0) * x0 ** 2 + 6 * np.sin(x0) * x0
    np.testing.assert_allclose(np.asarray(h), np.diag(d2), rtol=1e-12)


def test_compiled_and_batched():
    """jit (which refuses boolean masks) and vmap of the gradient through a full
    write: the same values as eager, traced and replayed."""
    f = _sqrt_then_write(..., lambda x: x ** 2)
    x0 = np.array([1.0, 2.0, 3.0])
    with np.errstate(all="ignore"):
        eager = np.asarray(ad.grad(f)(x0))
        np.testing.assert_allclose(eager, 2 * x0 * W[0])
        compiled = ad.jit(ad.grad(f))
        for x in (x0, 2 * x0):  # trace, then replay
            np.testing.assert_allclose(np.asarray(compiled(x)), 2 * x * W[0])
        f = _sqrt_then_write(np.array([True, True, True]), lambda x: x ** 2)
        batch = ad.vmap(ad.grad(f))(np.stack([x0, 2 * x0]))
    batch = np.asarray(batch.value if isinstance(batch, ad.Variable) else batch)
    np.testing.assert_allclose(batch, np.stack([eager, 4 * x0 * W[0]]))
