"""The NumPy namespace's ``where`` (a bit select, anyad/backends/select.py) gives
numpy.where's result bit for bit: dtype, shape, NaN, infinities, signed zeros,
Python numbers, broadcast and strided operands; what it does not handle falls back."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad import _backend
from anyad.backends.select import MIN_SIZE, where

N = MIN_SIZE + 7


def _same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.view(f"u{got.dtype.itemsize}"), want.view(f"u{want.dtype.itemsize}"))


def _specials(dtype, n):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(dtype)
    x[::5] = np.nan
    x[1::7] = np.inf
    x[2::7] = -np.inf
    x[3::11] = -0.0
    return x


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_bit_for_bit_as_numpy_where(dtype):
    rng = np.random.default_rng(1)
    c = rng.random(N) < 0.5
    a, b = _specials(dtype, N), -_specials(dtype, N)[::-1].copy()
    _same(where(c, a, b), np.where(c, a, b))
    for s in (0.0, -0.0, 0, 2, float("nan"), float("-inf"), 1e300):
        with np.errstate(over="ignore"):
            _same(where(c, a, s), np.where(c, a, s))
            _same(where(c, s, b), np.where(c, s, b))
    _same(where(c, 1.0, 0.0), np.where(c, 1.0, 0.0))  # two numbers: float64, as numpy


def test_broadcast_and_strided_operands():
    rng = np.random.default_rng(2)
    c = rng.random((8, 3, 4, 200)) < 0.3
    g = rng.standard_normal((8, 3, 1, 200)).astype(np.float32)  # a max pool's gradient, broadcast
    _same(where(c, g, 0.0), np.where(c, g, 0.0))
    big = rng.standard_normal((8, 3, 4, 400)).astype(np.float32)[..., ::2]  # not contiguous
    _same(where(c, big, g), np.where(c, big, g))
    ct = np.ascontiguousarray(np.swapaxes(c, 0, 3))
    ct = np.swapaxes(ct, 0, 3)  # a transposed condition
    _same(where(ct, big, 1.5), np.where(ct, big, 1.5))
    fortran = np.asfortranarray(big)
    _same(where(c, fortran, g), np.where(c, fortran, g))


@pytest.mark.parametrize("case", ["small", "int", "complex", "mixed", "cond_broadcast", "int_cond", "np_scalar"])
def test_falls_back_to_numpy_where(case):
    rng = np.random.default_rng(3)
    c = rng.random(N) < 0.5
    a = rng.standard_normal(N).astype(np.float32)
    args = {"small": (c[:100], a[:100], 0.0),
            "int": (c, np.arange(N), 0),
            "complex": (c, a.astype(np.complex64), 1j),
            "mixed": (c, a, a.astype(np.float64)),  # float64 result: a would need a cast
            "cond_broadcast": (c[:1], np.stack([a, a]), 0.0),
            "int_cond": (c.astype(np.int8), a, 0.0),
            "np_scalar": (c, a, np.float32(2.0))}[case]
    _same(where(*args), np.where(*args))


def test_numpy_backend_uses_it_and_gradients_are_unchanged():
    assert _backend.namespace_of(np.ones(1)).where is where
    rng = np.random.default_rng(4)
    x = ad.Variable(rng.standard_normal(N).astype(np.float32), requires_grad=True)
    y = ad.nn.functional.relu(x)
    _same(y.value, np.maximum(x.value, np.float32(0)))
    (g,) = ad.backprop([y], [np.full(N, 3.0, np.float32)], [x])
    _same(g, np.where(x.value > 0, np.float32(3.0), np.float32(0.0)))
