"""anyad.array_api: code written against the Array API standard, differentiated
on every backend; the namespace's surface; assignment and in-place semantics;
non-differentiable results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from array_api_compat import array_namespace

import anyad as ad
import anyad.array_api as xpa
from anyad._state import OFF, recording


# ---------------------------------------------------------------------------
# functions written purely against the standard
# ---------------------------------------------------------------------------

def logsumexp(x):
    xp = array_namespace(x)
    m = xp.max(x, axis=-1, keepdims=True)
    return xp.squeeze(m, axis=-1) + xp.log(xp.sum(xp.exp(x - m), axis=-1))


def mlp_loss(x, w1, b1, w2, b2, y):
    """Two layers, tanh, softmax cross-entropy: standard functions only."""
    xp = array_namespace(x, w1)
    h = xp.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    m = xp.max(logits, axis=-1, keepdims=True)
    logp = logits - m - xp.log(xp.sum(xp.exp(logits - m), axis=-1, keepdims=True))
    onehot = xp.astype(xp.reshape(y, (-1, 1)) == xp.arange(logits.shape[-1], device=x.device), logp.dtype)
    return -xp.mean(xp.sum(onehot * logp, axis=-1))


def _numpy_mlp_grads(x, w1, b1, w2, b2, y):
    h = np.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    d = (p - np.eye(w2.shape[1])[y]) / x.shape[0]
    gw2, gb2 = h.T @ d, d.sum(0)
    dh = (d @ w2.T) * (1 - h * h)
    return x.T @ dh, dh.sum(0), gw2, gb2


def test_logsumexp_against_the_standard_is_differentiable(be):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3, 5))
    x = ad.Variable(be.array(data), requires_grad=True)
    out = logsumexp(x)
    assert isinstance(out, ad.Variable) and out.shape == (3,)
    ad.sum(out).backward()
    softmax = np.exp(data - data.max(-1, keepdims=True))
    softmax /= softmax.sum(-1, keepdims=True)
    np.testing.assert_allclose(be.to_numpy(x.grad), softmax, rtol=1e-12, atol=1e-12)
    assert ad._backend.device_of(x.grad) == ad._backend.device_of(x.value)
    # second order through the same standard-only code: d/dx sum(softmax * w)
    assert ad.testing.gradgradcheck(logsumexp, [be.array(data)])


def test_two_layer_mlp_against_the_standard_is_differentiable(be):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4))
    w1, b1 = rng.normal(size=(4, 5)) * 0.5, rng.normal(size=(5,)) * 0.1
    w2, b2 = rng.normal(size=(5, 3)) * 0.5, rng.normal(size=(3,)) * 0.1
    y = rng.integers(0, 3, size=6)
    params = [ad.Variable(be.array(p), requires_grad=True) for p in (w1, b1, w2, b2)]
    loss = mlp_loss(ad.Variable(be.array(x)), *params, ad.Variable(be.array(y, "int64")))
    assert loss.shape == ()
    grads = ad.backprop([loss], [None], params)
    for got, want, p in zip(grads, _numpy_mlp_grads(x, w1, b1, w2, b2, y), params):
        np.testing.assert_allclose(be.to_numpy(got), want, rtol=1e-10, atol=1e-12)
        assert ad._backend.device_of(got) == ad._backend.device_of(p.value)


def test_functional_transforms_of_standard_code(be):
    def lse(x):  # a scalar log-sum-exp, standard functions only
        xp = array_namespace(x)
        m = xp.max(x)
        return m + xp.log(xp.sum(xp.exp(x - m)))

    data = np.array([1.0, 2.0, 3.0, 0.5])
    p = np.exp(data - data.max())
    p /= p.sum()
    g = ad.grad(lse)(be.array(data))
    assert ad._backend.device_of(g) == ad._backend.device_of(be.array(data))
    np.testing.assert_allclose(be.to_numpy(g), p, rtol=1e-12)
    h = ad.hessian(lse)(be.array(data))
    np.testing.assert_allclose(be.to_numpy(h), np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-12)


def test_mlp_gradient_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    arrays = [rng.normal(size=s) for s in ((6, 4), (4, 5), (5,), (5, 3), (3,))]
    y = rng.integers(0, 3, size=6)
    params = [ad.Variable(torch.tensor(a), requires_grad=True) for a in arrays[1:]]
    loss = mlp_loss(ad.Variable(torch.tensor(arrays[0])), *params, ad.Variable(torch.tensor(y)))
    loss.backward()
    tparams = [torch.tensor(a, requires_grad=True) for a in arrays[1:]]
    h = torch.tanh(torch.tensor(arrays[0]) @ tparams[0] + tparams[1])
    tloss = torch.nn.functional.cross_entropy(h @ tparams[2] + tparams[3], torch.tensor(y))
    tloss.backward()
    assert abs(float(loss) - float(tloss.detach())) < 1e-12
    for p, t in zip(params, tparams):
        assert isinstance(p.grad, torch.Tensor)
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_standard_code_with_creation_functions_stays_on_the_arrays_device():
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    x = ad.Variable(strict.asarray([1.0, -2.0, 3.0], device=dev), requires_grad=True)

    def f(x):
        xp = array_namespace(x)
        # creation functions of the namespace x hands out make arrays on x's device
        return xp.sum(xp.where(x > 0, x, xp.zeros_like(x)) * xp.asarray(2.0) + xp.ones(3) * x)

    f(x).backward()
    assert x.grad.device == dev
    np.testing.assert_array_equal(np.asarray(x.grad.to_device(strict.Device("CPU_DEVICE"))), [3.0, 1.0, 3.0])


# ---------------------------------------------------------------------------
# the namespace's surface
# ---------------------------------------------------------------------------

def test_array_namespace_of_a_variable_is_anyad():
    v = ad.Variable([1.0, 2.0])
    assert array_namespace(v) is xpa
    assert v.__array_namespace__(api_version="2024.12") is xpa
    with pytest.raises(ValueError, match="not supported"):
        v.__array_namespace__(api_version="1999.01")
    assert xpa.__array_api_version__ == "2025.12"


def test_constants_dtypes_and_dtype_functions():
    assert xpa.e == math.e and xpa.pi == math.pi and math.isinf(xpa.inf) and math.isnan(xpa.nan)
    assert xpa.newaxis is None
    for name in ("bool", "int8", "uint64", "float32", "float64", "complex128"):
        assert getattr(xpa, name) == getattr(np, name)
    assert xpa.isdtype(xpa.float32, "real floating") and not xpa.isdtype(xpa.int8, "real floating")
    assert xpa.isdtype(xpa.int8, ("integral", "bool"))
    fi = xpa.finfo(xpa.float32)
    assert fi.bits == 32 and isinstance(fi.eps, float) and fi.eps == float(np.finfo(np.float32).eps)
    assert xpa.finfo(xpa.asarray([1.0])).bits == 64  # an array works too
    ii = xpa.iinfo(xpa.int16)
    assert (ii.min, ii.max, ii.bits) == (-32768, 32767, 16) and isinstance(ii.max, int)
    assert xpa.result_type(xpa.float32, xpa.asarray([1], dtype=xpa.int8), 1.0) == xpa.float32
    assert xpa.can_cast(xpa.int8, xpa.int16) and not xpa.can_cast(xpa.float64, xpa.int8)
    info = xpa.__array_namespace_info__()
    assert info.default_device() == "cpu"
    assert info.default_dtypes()["real floating"] == xpa.float64
    assert "float32" in info.dtypes()


def test_dtypes_and_creation_follow_the_current_backend():
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    with ad.use(strict, device=dev):
        assert xpa.float32 == strict.float32
        z = xpa.zeros((2,), dtype=xpa.float32)
        assert isinstance(z, ad.Variable) and z.device == dev and z.dtype == strict.float32
        assert xpa.__array_namespace_info__().default_dtypes()["real floating"] == strict.float64


def test_a_variable_of_another_backend_hands_out_its_own_namespace():
    torch = pytest.importorskip("torch")
    v = ad.Variable(torch.tensor([1.0, 2.0]))
    xp = array_namespace(v)
    assert xp is not xpa and xp is array_namespace(ad.Variable(torch.tensor([3.0])))  # cached
    assert xp.float32 is torch.float32
    assert isinstance(xp.ones(2).value, torch.Tensor)
    assert xp.sin is xpa.sin  # the functions themselves are shared
    assert isinstance(xp.linalg.inv(xp.eye(2)).value, torch.Tensor)
    assert isinstance(xp.fft.fftfreq(4).value, torch.Tensor)
    assert xp.finfo(xp.float32).bits == 32


def test_array_object_attributes_and_conversions():
    v = xpa.asarray([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert (v.shape, v.ndim, v.size, v.dtype, v.device) == ((2, 3), 2, 6, np.float64, "cpu")
    assert v.mT.shape == (3, 2) and v.T.shape == (3, 2)
    assert v.to_device("cpu").device == "cpu"
    s = xpa.asarray(3.5)
    assert float(s) == 3.5 and complex(s) == 3.5 + 0j and bool(s) is True
    i = xpa.asarray(2)
    assert int(i) == 2 and [10, 20, 30][i] == 30  # __index__
    back = np.from_dlpack(v)
    np.testing.assert_array_equal(back, v.value)
    assert v.__dlpack_device__() == v.value.__dlpack_device__()
    assert xpa.from_dlpack(v).shape == (2, 3)


def test_bitwise_floordiv_and_mod_operators():
    a, b = xpa.asarray([12, 7]), xpa.asarray([10, 3])
    np.testing.assert_array_equal((a & b).value, [8, 3])
    np.testing.assert_array_equal((a | b).value, [14, 7])
    np.testing.assert_array_equal((a ^ b).value, [6, 4])
    np.testing.assert_array_equal((~a).value, [-13, -8])
    np.testing.assert_array_equal((a << 1).value, [24, 14])
    np.testing.assert_array_equal((a >> 1).value, [6, 3])
    np.testing.assert_array_equal((1 << b).value, [1024, 8])
    np.testing.assert_array_equal((a // b).value, [1, 2])
    np.testing.assert_array_equal((a % b).value, [2, 1])
    np.testing.assert_array_equal((20 % b).value, [0, 2])
    t, f = xpa.asarray([True, True]), xpa.asarray([True, False])
    np.testing.assert_array_equal((t & f).value, [True, False])
    np.testing.assert_array_equal((~f).value, [False, True])


def test_remainder_is_differentiable():
    x = ad.Variable([5.5, -5.5], requires_grad=True)
    y = ad.Variable([2.0, 2.0], requires_grad=True)
    ad.sum(x % y).backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    np.testing.assert_array_equal(y.grad, [-2.0, 3.0])  # -floor(x / y)


# ---------------------------------------------------------------------------
# assignment and in-place operators
# ---------------------------------------------------------------------------

def test_setitem_on_a_constant_copies_on_write():
    raw = np.zeros(3)
    v = ad.Variable(raw)
    w = ad.Variable([1.0, 2.0, 3.0], requires_grad=True)
    saved = v * w  # a graph saved v's value for w's gradient
    v[1] = 5.0
    v[xpa.asarray([0])] = xpa.asarray(-1.0)
    np.testing.assert_array_equal(v.value, [-1.0, 5.0, 0.0])
    np.testing.assert_array_equal(raw, [0.0, 0.0, 0.0])  # the array given was not written into
    ad.sum(saved).backward()
    np.testing.assert_array_equal(w.grad, [0.0, 0.0, 0.0])  # the graph kept the value it saw


def test_setitem_into_a_leaf_that_requires_grad_needs_no_grad():
    w = ad.Variable([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="leaf that requires grad.*no_grad"):
        w[0] = 1.0
    with recording(OFF):  # initialising a parameter
        w[0] = 7.0
    np.testing.assert_array_equal(w.value, [7.0, 2.0])
    assert w.requires_grad and w.is_leaf


def test_inplace_operators_update_the_variable_itself():
    c = ad.Variable([1.0, 2.0])
    alias = c
    c += 1.0
    assert c is alias and c.is_leaf
    np.testing.assert_array_equal(alias.value, [2.0, 3.0])
    c *= xpa.asarray([2.0, 2.0])
    np.testing.assert_array_equal(alias.value, [4.0, 6.0])
    i = xpa.asarray([7, 8])
    i //= 2
    i %= 3
    i <<= 1
    np.testing.assert_array_equal(i.value, [0, 2])
    with pytest.raises(TypeError, match="dtype"):
        i += 0.5
    with pytest.raises(ValueError, match="shape"):
        c += xpa.ones((2, 2))

    # a recorded result: x op= y updates x itself, and records (the graph stays right)
    w = ad.Variable([1.0, 2.0], requires_grad=True)
    h = w * w
    before = h
    h += w
    assert h is before and not h.is_leaf
    ad.sum(h).backward()
    np.testing.assert_array_equal(w.grad, [3.0, 5.0])

    # accumulating recorded terms into a constant: it becomes recorded, gradient kept
    acc = xpa.zeros(())
    x = ad.Variable([1.0, 2.0], requires_grad=True)
    for k in range(2):
        acc += ad.sum(x * x)
    acc.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_inplace_on_a_parameter_needs_no_grad():
    w = ad.Variable([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="no_grad"):
        w -= 0.1
    param = w
    with recording(OFF):  # an optimizer step
        w -= 0.5
    assert w is param and w.requires_grad
    np.testing.assert_array_equal(param.value, [0.5, 1.5])


# ---------------------------------------------------------------------------
# non-differentiable results
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda x: xpa.argmax(x), lambda x: xpa.argmin(x, axis=0), lambda x: xpa.argsort(x),
    lambda x: xpa.nonzero(x)[0], lambda x: xpa.unique_inverse(x).inverse_indices,
    lambda x: xpa.unique_all(x).counts,
    lambda x: xpa.count_nonzero(x), lambda x: x > 0.0, lambda x: xpa.isnan(x), lambda x: xpa.signbit(x),
    lambda x: xpa.searchsorted(xpa.sort(x), x), lambda x: xpa.all(x > 0.0), lambda x: xpa.isin(x, x),
    lambda x: xpa.floor_divide(x, 2.0), lambda x: xpa.nextafter(x, 0.0),
], ids=["argmax", "argmin", "argsort", "nonzero", "unique_inverse", "unique_counts", "count_nonzero",
        "greater", "isnan", "signbit", "searchsorted", "all", "isin", "floor_divide", "nextafter"])
def test_non_differentiable_results_are_constants(fn):
    x = ad.Variable([3.0, -1.0, 2.0, 3.0], requires_grad=True)
    out = fn(x)
    assert isinstance(out, ad.Variable)
    assert not out.requires_grad and out.is_leaf


def test_sort_values_are_differentiable_and_indices_are_not():
    x = ad.Variable([3.0, -1.0, 2.0], requires_grad=True)
    s = xpa.sort(x, descending=True)
    assert s.requires_grad
    ad.sum(s * xpa.asarray([1.0, 2.0, 3.0])).backward()
    np.testing.assert_array_equal(x.grad, [1.0, 3.0, 2.0])
    assert not xpa.argsort(x).requires_grad


def test_asarray_of_variables_is_differentiable():
    a = ad.Variable(1.0, requires_grad=True)
    b = ad.Variable(2.0, requires_grad=True)
    v = xpa.asarray([[a, b], [b, a]])
    assert v.shape == (2, 2)
    (g,) = ad.backprop([ad.sum(v * xpa.asarray([[1.0, 2.0], [3.0, 4.0]]))], [None], [a])
    assert float(g) == 5.0
    c = xpa.asarray(a, dtype=xpa.float32)
    assert c.dtype == np.float32 and c.requires_grad
    d = xpa.asarray(a, copy=True)
    assert d is not a and d.requires_grad
    with pytest.raises(ValueError, match="copy=False"):
        xpa.asarray(a, dtype=xpa.float32, copy=False)
