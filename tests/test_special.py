"""The ERF primitive: values against math.erf on every backend (the portable
kernel to double precision), derivatives of order 1 and 2 against finite
differences, order 3 against the closed form, dtype and device kept."""

from __future__ import annotations

import math

import numpy as np
import pytest

import anyad as ad
from anyad.backends.special import erf_kernel, portable_erf
from anyad.testing import gradcheck, gradgradcheck

POINTS = np.concatenate([np.linspace(-6.0, 6.0, 241), [0.0, 1e-300, -1e-8, 2.4999, 2.5, 2.5001, 27.0, -40.0]])
EXACT = np.array([math.erf(v) for v in POINTS])


def test_values_match_math_erf_on_every_backend(be, dtype):
    x = be.array(POINTS, dtype)
    y = ad.erf(ad.Variable(x))
    assert y.dtype == x.dtype
    assert repr(y.device) == repr(ad._backend.device_of(x))
    got = be.to_numpy(y).astype(np.float64)
    if dtype == "float64":
        np.testing.assert_allclose(got, EXACT, rtol=4e-15, atol=1e-300)
    else:
        ref = np.array([math.erf(v) for v in POINTS.astype(np.float32).astype(np.float64)])
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-7)


def test_portable_kernel_to_double_precision():
    x = np.linspace(-8.0, 8.0, 40_001)
    exact = np.array([math.erf(v) for v in x])
    err = np.abs(portable_erf(np, x) - exact)
    assert np.max(err / np.maximum(np.abs(exact), 1e-300)) < 2e-15
    strict = pytest.importorskip("array_api_strict")
    xs = strict.asarray(x, device=strict.Device("device1"))
    ys = portable_erf(strict, xs)
    assert ys.device == strict.Device("device1")
    np.testing.assert_array_equal(np.asarray(ys.to_device(strict.Device("CPU_DEVICE"))), portable_erf(np, x))


def test_portable_kernel_special_values():
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0])
    y = portable_erf(np, x)
    assert y[0] == 1.0 and y[1] == -1.0 and np.isnan(y[2]) and y[3] == 0.0 and y[4] == 0.0
    assert portable_erf(np, np.array([1, 2])).dtype == np.float64  # integers: computed in float64


def test_backends_use_their_own_kernel():
    scipy_special = pytest.importorskip("scipy.special")
    from scipy.special import _ufuncs  # the ufunc itself (scipy.special.erf wraps it under SCIPY_ARRAY_API=1)

    assert erf_kernel(ad.current_backend().xp) is _ufuncs.erf
    torch = pytest.importorskip("torch")
    import array_api_compat.torch as ctorch

    assert erf_kernel(ctorch) is torch.special.erf
    strict = pytest.importorskip("array_api_strict")
    assert erf_kernel(strict).__name__ == "<lambda>"  # the portable path
    jax_special = pytest.importorskip("jax.scipy.special")
    import jax.numpy as jnp

    assert erf_kernel(jnp) is jax_special.erf
    np.testing.assert_allclose(np.asarray(ad.erf(jnp.asarray([0.5, -1.0]))), [math.erf(0.5), math.erf(-1.0)],
                               rtol=1e-6)


@pytest.mark.parametrize("lo,hi", [(-2.0, 2.0), (2.6, 3.5), (-3.5, -2.6)])
def test_gradients_of_order_one_and_two(be, lo, hi):
    x = be.array(np.linspace(lo, hi, 6).reshape(2, 3))
    assert gradcheck(ad.erf, [x])
    assert gradgradcheck(ad.erf, [x])


def test_third_derivative_is_the_closed_form(be):
    x0 = np.array([-1.3, -0.2, 0.4, 1.7])
    x = ad.Variable(be.array(x0), requires_grad=True)
    g1, = ad.backprop([ad.sum(ad.erf(x))], [None], [x], create_graph=True)
    g2, = ad.backprop([ad.sum(g1)], [None], [x], create_graph=True)
    g3, = ad.backprop([ad.sum(g2)], [None], [x])
    c = 2.0 / math.sqrt(math.pi)
    np.testing.assert_allclose(be.to_numpy(g1), c * np.exp(-x0 ** 2), rtol=1e-13)
    np.testing.assert_allclose(be.to_numpy(g2), -2 * x0 * c * np.exp(-x0 ** 2), rtol=1e-13)
    np.testing.assert_allclose(be.to_numpy(g3), (4 * x0 ** 2 - 2) * c * np.exp(-x0 ** 2), rtol=1e-12)


def test_float32_gradient_stays_float32(be):
    x = ad.Variable(be.array([0.5, -1.0], "float32"), requires_grad=True)
    ad.sum(ad.erf(x)).backward()
    assert x.grad.dtype == be.array([0.0], "float32").dtype


def test_erf_is_recorded_as_its_optype():
    x = ad.Variable([0.3], requires_grad=True)
    assert ad.erf(x).result_of.op_type is ad.OpType.ERF
