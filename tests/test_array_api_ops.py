"""The primitives added for the Array API namespace (anyad.ops.elementwise_extra,
sorting, linalg_extra, linalg_composed, fft) against finite differences, at
first and second order (and forward mode, which gradcheck checks too), on every
backend of the matrix; float32 stays float32 on its device.

A backend whose namespace lacks the function skips that case, naming what is
missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import anyad as ad
from anyad.testing import gradcheck, gradgradcheck


def _spd(rng, n, batch=()):
    a = rng.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


@dataclass
class Case:
    name: str
    make: Callable  # (be, dtype, rng) -> (f, inputs)
    needs: tuple = ()  # names the backend namespace must have, e.g. "linalg.eigh"
    second_order: bool = True
    forward: bool = True

    @property
    def id(self) -> str:
        return self.name


def _f(f, *shapes, gen=None):
    """A case of ``f`` on inputs of ``shapes`` (standard normal, or ``gen(rng, shape)``)."""
    def make(be, dtype, rng):
        g = gen or (lambda r, s: r.normal(size=s))
        return f, [be.array(g(rng, s), dtype) for s in shapes]
    return make


def _with_index(f, shape, index):
    """A case of ``f(x, i)`` with a fixed integer index array on the backend."""
    def make(be, dtype, rng):
        i = be.array(np.asarray(index), "int64")
        return (lambda x: f(x, i)), [be.array(rng.normal(size=shape), dtype)]
    return make


def _with_const(f, shape, const):
    """A case of ``f(x, c)`` with a constant floating array on the backend."""
    def make(be, dtype, rng):
        c = ad.Variable(be.array(np.asarray(const), dtype))
        return (lambda x: f(x, c)), [be.array(rng.normal(size=shape), dtype)]
    return make


def _matrix(f, gen):
    def make(be, dtype, rng):
        return f, [be.array(gen(rng), dtype)]
    return make


def _signed(rng, shape):
    return rng.choice([-1, 1], shape) * rng.uniform(0.3, 2, shape)


def _spd_then_normal(rng, shape):
    return _spd(rng, 3) if shape == (3, 3) else rng.normal(size=shape)


def _svd_gauge_free(x):
    """S, and U and Vh squared: independent of the signs the SVD picks for its vectors."""
    r = ad.svd(x, full_matrices=False)
    return r.S, r.U ** 2, r.Vh ** 2


def _distinct(rng, shape):
    n = int(np.prod(shape))
    return rng.permutation(np.arange(n) * 0.37 - n * 0.15).reshape(shape)


CASES = [
    # elementwise
    Case("hypot", _f(ad.hypot, (2, 3), (3,))),
    Case("logaddexp", _f(ad.logaddexp, (2, 3), (3,))),
    Case("copysign", _f(ad.copysign, (2, 3), (3,), gen=_signed)),
    Case("remainder", _f(ad.remainder, (2, 3), (3,),
                         gen=lambda r, s: r.uniform(1.1, 1.4, s) * r.choice([1, 3], s))),
    Case("reciprocal", _f(ad.reciprocal, (2, 3), gen=lambda r, s: r.uniform(0.5, 2.0, s))),
    Case("real_imag_conj", _f(lambda x: ad.real(ad.conj(x)) * ad.real(x), (2, 3))),
    # sorting, scans, take_along_axis
    Case("take_along_axis", _with_index(lambda x, i: ad.take_along_axis(x, i, axis=1), (2, 3),
                                        [[0, 2, 2, 1], [1, 1, 0, 0]]), ("take_along_axis",)),
    Case("take_along_axis_broadcast", _with_index(lambda x, i: ad.take_along_axis(x, i, axis=0), (3, 4),
                                                  [[2], [0]]), ("take_along_axis",)),
    Case("cumulative_prod", _f(lambda x: ad.cumulative_prod(x, axis=1), (2, 4)), ("cumulative_prod",)),
    Case("cumulative_prod_initial", _f(lambda x: ad.cumulative_prod(x, axis=0, include_initial=True), (3, 2)),
         ("cumulative_prod",)),
    Case("sort", _with_const(lambda x, c: ad.multiply(ad.sort(x, axis=0, descending=True), c), (3, 2),
                             np.arange(6.0).reshape(3, 2)), ("take_along_axis",), ),
    Case("diff", _f(lambda x: ad.diff(x, n=2, axis=0, prepend=x[:1, ...]), (4, 2))),
    # linear algebra
    Case("inv", _matrix(ad.inv, lambda r: _spd(r, 3)), ("linalg.inv",)),
    Case("solve", _f(ad.solve, (3, 3), (2, 3, 2), gen=_spd_then_normal), ("linalg.solve",)),
    Case("solve_vector", _f(ad.solve, (3, 3), (3,), gen=_spd_then_normal), ("linalg.solve",)),
    Case("det", _matrix(ad.det, lambda r: r.normal(size=(2, 3, 3))), ("linalg.det", "linalg.inv")),
    Case("slogdet", _matrix(lambda x: ad.slogdet(x).logabsdet, lambda r: r.normal(size=(3, 3))),
         ("linalg.slogdet", "linalg.inv")),
    Case("cholesky", _matrix(ad.cholesky, lambda r: _spd(r, 3)), ("linalg.cholesky", "linalg.inv")),
    Case("cholesky_upper", _matrix(lambda x: ad.cholesky(x, upper=True), lambda r: _spd(r, 3)),
         ("linalg.cholesky", "linalg.inv")),
    Case("eigh", _matrix(lambda x: (lambda r: (r.eigenvalues, r.eigenvectors ** 2))(ad.eigh(x)),
                         lambda r: _spd(r, 3)), ("linalg.eigh",)),
    Case("eigvalsh", _matrix(ad.eigvalsh, lambda r: _spd(r, 3, (2,))), ("linalg.eigvalsh", "linalg.eigh")),
    Case("svd_tall", _matrix(_svd_gauge_free, lambda r: r.normal(size=(4, 3))), ("linalg.svd",)),
    Case("svd_wide", _matrix(_svd_gauge_free, lambda r: r.normal(size=(2, 4))), ("linalg.svd",)),
    Case("svdvals", _matrix(ad.svdvals, lambda r: r.normal(size=(3, 2))), ("linalg.svdvals", "linalg.svd")),
    Case("qr", _matrix(lambda x: tuple(ad.qr(x)), lambda r: r.normal(size=(4, 3))),
         ("linalg.qr", "linalg.solve")),
    Case("pinv", _matrix(ad.pinv, lambda r: r.normal(size=(3, 2))), ("linalg.pinv",)),
    Case("matrix_power", _matrix(lambda x: ad.matrix_power(x, 3), lambda r: r.normal(size=(2, 2))),
         ("linalg.matrix_power",)),
    Case("matrix_power_negative", _matrix(lambda x: ad.matrix_power(x, -2), lambda r: _spd(r, 2)),
         ("linalg.inv",)),
    Case("vector_norm", _f(lambda x: ad.vector_norm(x, axis=1), (2, 3)), ("linalg.vector_norm",)),
    Case("vector_norm_3", _f(lambda x: ad.vector_norm(x, ord=3, keepdims=True), (2, 3)),
         ("linalg.vector_norm",)),
    Case("vector_norm_inf", _f(lambda x: ad.vector_norm(x, ord=float("inf"), axis=0), (2, 3), gen=_distinct),
         ("linalg.vector_norm",)),
    Case("matrix_norm_fro", _f(ad.matrix_norm, (2, 2, 3)), ("linalg.matrix_norm",)),
    Case("matrix_norm_nuc", _f(lambda x: ad.matrix_norm(x, ord="nuc"), (2, 3)),
         ("linalg.svdvals", "linalg.svd")),
    Case("matrix_norm_2", _f(lambda x: ad.matrix_norm(x, ord=2, keepdims=True), (2, 3)),
         ("linalg.svdvals", "linalg.svd")),
    Case("matrix_norm_1", _f(lambda x: ad.matrix_norm(x, ord=1), (3, 3), gen=_distinct),
         ("linalg.matrix_norm",)),
    Case("diagonal", _f(lambda x: ad.diagonal(x, offset=-1), (2, 3, 3)), ("linalg.diagonal",)),
    Case("trace", _f(lambda x: ad.trace(x, offset=1), (3, 4)), ("linalg.trace",)),
    Case("cross", _f(ad.cross, (2, 3), (3,)), ("linalg.cross",)),
    Case("outer", _f(ad.outer, (2,), (3,))),
    # Fourier transforms (complex values inside, real inputs and outputs)
    Case("fft", _f(lambda x: ad.real(ad.fft.fft(x, n=5)) + ad.imag(ad.fft.fft(x, n=5)), (2, 4)),
         ("fft.fft",)),
    Case("ifft_ortho_crop", _f(lambda x: ad.imag(ad.fft.ifft(x, n=3, axis=0, norm="ortho")), (4, 2)),
         ("fft.ifft",)),
    Case("fftn", _f(lambda x: ad.real(ad.fft.fftn(x)) ** 2 + ad.imag(ad.fft.fftn(x)) ** 2, (3, 4)),
         ("fft.fftn",)),
    Case("rfft", _f(lambda x: ad.real(ad.fft.rfft(x)) * 2.0 + ad.imag(ad.fft.rfft(x)), (2, 6)),
         ("fft.rfft",)),
    Case("rfft_odd_padded", _f(lambda x: ad.real(ad.fft.rfft(x, n=7, norm="forward")) ** 2, (5,)),
         ("fft.rfft",)),
    # abs of a complex array: its first-order reverse rule (g * sign(z)) is right; its forward rule and
    # second order are not complex-aware yet (sign's rule is 0, and z / |z| is not constant)
    Case("rfft_abs", _f(lambda x: ad.abs(ad.fft.rfft(x)), (6,)), ("fft.rfft",), second_order=False,
         forward=False),
    Case("irfft", _with_const(lambda x, c: ad.fft.irfft(ad.multiply(ad.fft.rfft(x), c), n=6), (6,),
                              [1.0, 2.0, 0.5, 1.5]), ("fft.rfft", "fft.irfft")),
    Case("irfft_of_fft", _f(lambda x: ad.fft.irfft(ad.fft.fft(x), n=5, norm="ortho"), (4,)),
         ("fft.fft", "fft.irfft")),
    Case("rfftn", _f(lambda x: ad.imag(ad.fft.rfftn(x)), (3, 4)), ("fft.rfft", "fft.fftn")),
    Case("irfftn", _f(lambda x: ad.fft.irfftn(ad.fft.rfftn(x) * 2.0, s=(3, 4)), (3, 4)),
         ("fft.rfft", "fft.fftn", "fft.irfft", "fft.ifftn")),
    Case("hfft", _f(lambda x: ad.fft.hfft(x, n=6), (4,)), ("fft.irfft",)),
    Case("ihfft", _f(lambda x: ad.imag(ad.fft.ihfft(x)), (5,)), ("fft.rfft",)),
    Case("fftshift", _with_const(lambda x, c: ad.multiply(ad.fft.fftshift(x), c), (5,), np.arange(5.0)),
         ("fft.fftshift",)),
]


def _require(be, case):
    for need in case.needs:
        obj = be.xp
        for part in need.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                pytest.skip(f"the {be.name} namespace has no {need}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_gradcheck_float64(be, case):
    _require(be, case)
    f, inputs = case.make(be, "float64", np.random.default_rng(0))
    assert gradcheck(f, inputs, check_forward=case.forward)


SECOND_ORDER = [c for c in CASES if c.second_order]


@pytest.mark.parametrize("case", SECOND_ORDER, ids=[c.id for c in SECOND_ORDER])
def test_gradgradcheck_float64(be, case):
    _require(be, case)
    f, inputs = case.make(be, "float64", np.random.default_rng(0))
    assert gradgradcheck(f, inputs)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_float32_stays_float32_on_its_device(be, case):
    _require(be, case)
    f, inputs = case.make(be, "float32", np.random.default_rng(0))
    xs = [ad.Variable(x, requires_grad=True) for x in inputs]
    outs = f(*xs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    for o in outs:
        assert o.dtype == inputs[0].dtype, f"{case.name}: output dtype {o.dtype}"
    ad.sum(ad.stack([ad.sum(o) for o in outs])).backward()
    assert xs[0].grad is not None
    for x, raw in zip(xs, inputs):
        if x.grad is None:  # copysign: not differentiable in its second argument
            continue
        assert x.grad.dtype == raw.dtype, f"{case.name}: gradient dtype {x.grad.dtype}"
        assert tuple(x.grad.shape) == tuple(raw.shape)
        assert repr(ad._backend.device_of(x.grad)) == repr(ad._backend.device_of(raw))


def test_a_wrong_rule_is_caught():
    # the checks above can fail: a cholesky gradient missing its symmetrization is found
    import anyad.ops.linalg_extra as le

    good = le._CHOLESKY.vjps
    le._CHOLESKY.vjps = (lambda g, L, x: le.matmul(le.matrix_transpose(L), g),)
    try:
        with pytest.raises(ad.GradcheckError):
            gradcheck(ad.cholesky, [_spd(np.random.default_rng(0), 3)], check_forward=False)
    finally:
        le._CHOLESKY.vjps = good


def test_cumulative_prod_gradient_is_exact_at_zeros():
    x = ad.Variable(np.array([2.0, 0.0, 3.0, 0.0, 5.0]), requires_grad=True)
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    ad.sum(ad.cumulative_prod(x) * w).backward()
    # only the first zero has a non-zero partial: d/dx1 sum_j w_j prod_{k<=j} x_k = 2*(2 + 3*3)
    np.testing.assert_allclose(x.grad, [1.0, 22.0, 0.0, 0.0, 0.0])


def test_sort_gradient_follows_the_elements():
    x = ad.Variable(np.array([[3.0, 1.0, 2.0]]), requires_grad=True)
    ad.sum(ad.sort(x, axis=1) * np.array([1.0, 10.0, 100.0])).backward()
    np.testing.assert_array_equal(x.grad, [[100.0, 1.0, 10.0]])


def test_non_differentiable_linalg_configurations_say_so():
    x = ad.Variable(np.ones((3, 2)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        ad.svd(x)
    with pytest.raises(NotImplementedError, match="rows >= columns"):
        ad.qr(ad.Variable(np.ones((2, 3)), requires_grad=True))
    # the same calls on constants just compute
    assert ad.svd(ad.Variable(np.ones((3, 2)))).U.shape == (3, 3)


def test_eigh_symmetric_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    a = _spd(np.random.default_rng(3), 4)
    x = ad.Variable(a, requires_grad=True)
    w, v = ad.eigh(x)
    ad.sum(w * w + ad.sum(v ** 4, axis=0)).backward()
    t = torch.tensor(a, requires_grad=True)
    tw, tv = torch.linalg.eigh(t)
    (tw * tw + (tv ** 4).sum(0)).sum().backward()
    g = t.grad.numpy()
    np.testing.assert_allclose(x.grad, 0.5 * (g + g.T), rtol=1e-8, atol=1e-10)


def test_no_host_synchronisation_in_forward_backward_and_second_order(no_host_sync):
    """Every case on array_api_strict's device1 with every host conversion of its
    arrays made to raise (see tests/test_no_host_sync.py)."""
    strict = pytest.importorskip("array_api_strict")
    from conftest import BackendCase, backprop_to_second_order

    be = BackendCase("strict-device1", strict, strict.Device("device1"))
    for case in CASES:
        f, inputs = case.make(be, "float64", np.random.default_rng(0))
        xs = [ad.Variable(x, requires_grad=True) for x in inputs]
        grads = backprop_to_second_order(f(*xs), xs)
        for g in grads:
            if g is not None:
                assert g.device == be.device, case.name
