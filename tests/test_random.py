"""anyad.random: seeded draws on every backend and device, in the asked dtype,
with the right distributions, reproducible, and without host round trips on
the portable path."""

from __future__ import annotations

import math

import numpy as np
import pytest

import anyad as ad
from anyad.backends import rng as rngmod


def gen(be, seed=0):
    return ad.random.default_rng(seed, backend="numpy" if be.name == "numpy" else be.xp, device=be.device)


def _check_place(be, x, dtype_name=None):
    ref = be.array(np.zeros(1))
    assert repr(ad._backend.device_of(x)) == repr(ad._backend.device_of(ref))
    assert ad._backend.backend_name(ad._backend.namespace_of(x)) == ad._backend.backend_name(be.xp)
    if dtype_name is not None:
        assert x.dtype == getattr(be.xp, dtype_name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_draws_have_shape_dtype_and_device(be, dtype):
    g = gen(be)
    for x in (g.normal(size=(3, 4), dtype=dtype), g.uniform(-1.0, 1.0, size=(3, 4), dtype=dtype),
              g.random((3, 4), dtype=dtype), g.standard_normal((3, 4), dtype=dtype)):
        assert tuple(x.shape) == (3, 4)
        _check_place(be, x, dtype)
    m = g.bernoulli(0.3, size=(5,), dtype=dtype)
    _check_place(be, m, dtype)
    assert set(be.to_numpy(m).tolist()) <= {0.0, 1.0}


def test_integer_permutation_and_boolean_draws(be):
    g = gen(be)
    k = g.integers(2, 7, size=(1000,))
    _check_place(be, k)
    kn = be.to_numpy(k)
    assert kn.min() == 2 and kn.max() == 6 and set(kn.tolist()) == {2, 3, 4, 5, 6}
    p = g.permutation(50)
    _check_place(be, p)
    assert sorted(be.to_numpy(p).tolist()) == list(range(50))
    assert be.to_numpy(p).tolist() != list(range(50))
    b = g.bernoulli(0.5, size=(10,))
    assert be.to_numpy(b).dtype == np.bool_
    k32 = g.integers(0, 3, size=4, dtype="int32")
    _check_place(be, k32, "int32")


def test_permutation_of_an_array_and_of_a_variable(be):
    g = gen(be, 3)
    x = be.array(np.arange(12.0).reshape(6, 2))
    y = be.to_numpy(g.permutation(x))
    assert sorted(y[:, 0].tolist()) == list(np.arange(0.0, 12.0, 2.0))
    np.testing.assert_array_equal(y[:, 1] - y[:, 0], 1.0)
    v = ad.Variable(x, requires_grad=True)
    pv = g.permutation(v)
    assert isinstance(pv, ad.Variable)
    ad.sum(pv * pv).backward()
    np.testing.assert_allclose(be.to_numpy(v.grad), 2 * be.to_numpy(x))


def test_same_seed_same_numbers_other_seed_other_numbers(be):
    a = be.to_numpy(gen(be, 5).normal(size=100))
    b = be.to_numpy(gen(be, 5).normal(size=100))
    c = be.to_numpy(gen(be, 6).normal(size=100))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    g = gen(be, 5)
    first, second = be.to_numpy(g.random(50)), be.to_numpy(g.random(50))
    assert not np.allclose(first, second)  # the state advances


def test_distributions(be):
    g = gen(be, 1)
    n = 40_000
    z = be.to_numpy(g.normal(2.0, 3.0, size=n, dtype="float64"))
    assert abs(z.mean() - 2.0) < 0.1 and abs(z.std() - 3.0) < 0.1
    # fraction within one standard deviation
    assert abs(np.mean(np.abs(z - 2.0) < 3.0) - 0.6827) < 0.015
    u = be.to_numpy(g.uniform(-2.0, 4.0, size=n, dtype="float64"))
    assert u.min() >= -2.0 and u.max() < 4.0
    counts = np.histogram(u, bins=10, range=(-2, 4))[0]
    expected = n / 10
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 30  # 9 degrees of freedom: p ~ 4e-4
    m = be.to_numpy(g.bernoulli(0.2, size=n, dtype="float32"))
    assert abs(m.mean() - 0.2) < 0.015
    z32 = be.to_numpy(g.normal(size=n, dtype="float32"))
    assert z32.dtype == np.float32 and abs(z32.std() - 1.0) < 0.05


def test_bernoulli_with_an_array_of_probabilities(be):
    g = gen(be, 2)
    p = be.array(np.array([0.0, 1.0, 0.5]))
    draws = be.to_numpy(g.bernoulli(p, size=(200, 3), dtype="float64"))
    assert draws[:, 0].sum() == 0 and draws[:, 1].sum() == 200
    assert 60 < draws[:, 2].sum() < 140


def test_default_dtype_follows_the_backend():
    assert ad.random.default_rng(0, backend="numpy").normal(size=2).dtype == np.float64
    torch = pytest.importorskip("torch")
    assert ad.random.default_rng(0, backend="torch").normal(size=2).dtype == torch.float32
    with ad.use("array_api_strict"):
        import array_api_strict as xp

        assert ad.random.default_rng(0).normal(size=2).dtype == xp.float64


def test_portable_source_is_splitmix64_bit_for_bit():
    xp = pytest.importorskip("array_api_strict")
    src = rngmod.PortableSource(xp, xp.Device("device1"), seed=123)
    words = np.asarray(src.bits(8).to_device(xp.Device("CPU_DEVICE")), dtype=np.uint64).tolist()
    key = rngmod.mix64(123)
    mask = (1 << 64) - 1

    def finalise(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    assert words == [finalise((key + i * 0x9E3779B97F4A7C15) & mask) for i in range(8)]
    more = np.asarray(src.bits(2).to_device(xp.Device("CPU_DEVICE"))).tolist()
    assert more == [finalise((key + i * 0x9E3779B97F4A7C15) & mask) for i in (8, 9)]


def test_portable_draws_never_touch_the_host(no_host_sync):
    xp = pytest.importorskip("array_api_strict")
    g = ad.random.default_rng(0, backend="array_api_strict", device="device1")
    for x in (g.normal(size=(4, 3)), g.uniform(size=7, dtype="float32"), g.integers(0, 9, size=5),
              g.permutation(6), g.bernoulli(0.4, size=3, dtype="float64")):
        assert x.device == xp.Device("device1")


def test_spawn_and_to_give_deterministic_independent_generators():
    a1, a2 = ad.random.default_rng(9).spawn(2)
    b1, b2 = ad.random.default_rng(9).spawn(2)
    assert (a1.seed, a2.seed) == (b1.seed, b2.seed) and a1.seed != a2.seed
    np.testing.assert_array_equal(a1.normal(size=5), b1.normal(size=5))
    moved = ad.random.default_rng(9).to("array_api_strict", "device1")
    assert moved.backend.name == "array_api_strict" and moved.device.__class__.__name__ == "Device"
    assert moved.normal(size=2).device == moved.device


def test_jax_generator_splits_keys():
    pytest.importorskip("jax")
    import jax.numpy as jnp

    g = ad.random.default_rng(0, backend="jax")
    a, b = g.normal(size=3), g.normal(size=3)
    assert isinstance(a, type(jnp.zeros(1))) and not bool(jnp.all(a == b))
    assert g.integers(0, 4, size=100).max() <= 3
    assert sorted(np.asarray(g.permutation(5)).tolist()) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(np.asarray(ad.random.default_rng(0, backend="jax").normal(size=3)),
                                  np.asarray(a))


def test_errors_are_clear():
    g = ad.random.default_rng(0)
    with pytest.raises(ValueError, match="non-negative"):
        ad.random.Generator(-1)
    with pytest.raises(ValueError, match="empty range"):
        g.integers(3, 3)
    with pytest.raises(TypeError, match="floating"):
        g.normal(size=2, dtype="int64")
    with pytest.raises(TypeError, match="integer"):
        g.integers(0, 3, dtype="float64")
    assert ad.random.default_rng(g) is g
    assert "seed=0" in repr(g)


def test_unseeded_generators_differ():
    a = ad.random.default_rng().normal(size=4)
    b = ad.random.default_rng().normal(size=4)
    assert not np.allclose(a, b)
    assert math.isfinite(float(a.sum()))
