"""The NumPy replay binds operators to their ufuncs and Python-number operands
to 0-d arrays once (anyad.backends.replay): the values must stay those of
the eager computation bit for bit, in every dtype, with hostile operands."""

from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest

import anyad
from anyad.backends.replay import binary_ufunc, number_operand

OPS = {
    "add": (lambda x, c: x + c, lambda x, c: c + x),
    "sub": (lambda x, c: x - c, lambda x, c: c - x),
    "mul": (lambda x, c: x * c, lambda x, c: c * x),
    "div": (lambda x, c: x / c, lambda x, c: c / x),
}
NUMBERS = [1.01, 0.1, -0.0, 3, -7, 70000, 1e-320, float("inf"), float("nan"), 2.0 ** 60]
HOSTILE = np.array([0.0, -0.0, 1.0, -2.5, np.inf, -np.inf, np.nan, 1e-310, 3e38, 6e4])


def _program(f):
    return list(f._cache.values())[0].program


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("c", NUMBERS, ids=repr)
def test_values_bit_for_bit(dtype, op, c):
    with np.errstate(over="ignore"):
        x = HOSTILE.astype(dtype)
    for fwd in OPS[op]:
        def f(v, fwd=fwd):
            return fwd(v * 1.0, c)  # one recorded op on a traced value, then the number
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            jf = anyad.jit(f)
            jf(x)  # trace
            got = jf(x)  # replay
            want = fwd(x * 1.0, c)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradient_replay_equals_eager(dtype):
    def f(x):
        y = x
        for _ in range(5):
            y = anyad.sin(y) * 1.01 + 0.1 * y - 3 / (y * y + 2)
        return anyad.sum(y)

    x = np.linspace(-0.5, 1.0, 16).astype(dtype)
    vg = anyad.jit(anyad.value_and_grad(f))
    vg(x)
    v, g = vg(x)
    v0, g0 = anyad.value_and_grad(f)(x)
    assert g.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(g, g0)
    assert v == v0
    program = _program(vg)
    kernels = [k for k, *_ in program.code]
    assert np.multiply in kernels and operator.mul not in kernels  # the binding took place
    zero_d = [s for s in program.template if isinstance(s, np.ndarray) and s.ndim == 0]
    assert zero_d and all(s.dtype == np.dtype(dtype) for s in zero_d)


def test_integer_array_with_float_number_promotes_as_numpy_does():
    def f(i, x):
        return (i * 1.5) + x

    i = np.arange(4, dtype=np.int32)
    x = np.ones(4)
    jf = anyad.jit(f)
    jf(i, x)
    got = jf(i, x)
    np.testing.assert_array_equal(got, i * 1.5 + x)
    assert got.dtype == np.float64


def test_other_backends_keep_their_operators():
    torch = pytest.importorskip("torch")
    f = anyad.jit(lambda x: x * 1.01 + 0.5)
    x = torch.linspace(0, 1, 5, dtype=torch.float64)
    f(x)
    got = f(x)
    assert torch.equal(got, x * 1.01 + 0.5)
    kernels = [k for k, *_ in _program(f).code]
    assert operator.mul in kernels and np.multiply not in kernels
    assert binary_ufunc(object(), operator.mul) is None  # a namespace that is not NumPy's


def test_number_operand_refuses_what_numpy_would_not_convert_silently():
    assert number_operand(1e300, np.dtype(np.float32)) is None  # overflows float32
    assert number_operand(2 ** 80, np.dtype(np.float64)) is None  # not exactly an integer of float64
    assert number_operand(1.5, np.dtype(np.int64)) is None  # not a floating dtype
    assert number_operand(True, np.dtype(np.float64)) is None
    assert number_operand(1j, np.dtype(np.complex128)) is None
    c = number_operand(0.1, np.dtype(np.float32))
    assert c.dtype == np.float32 and c.ndim == 0 and c == np.float32(0.1)
    assert np.isnan(number_operand(float("nan"), np.dtype(np.float16)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_empty_arrays_replay_as_eager(dtype):
    def f(x):
        return anyad.sum(anyad.sin(x) * 1.01 + 0.1 * x - 2 / (x * x + 1.0))

    x = np.zeros((0, 4), dtype=dtype)
    vg = anyad.jit(anyad.value_and_grad(f))
    vg(x)
    v, g = vg(x)
    v0, g0 = anyad.value_and_grad(f)(x)
    assert v == v0 == 0 and g.shape == g0.shape == (0, 4) and g.dtype == g0.dtype
