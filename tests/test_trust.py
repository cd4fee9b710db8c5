"""Answers that used to be silently wrong (issue "Gradients you can trust"):
each test failed before its fix. References: closed forms, central
differences, and torch where it is installed."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.nn import functional as F


def _sigmoid(d):
    return np.exp(-np.logaddexp(0.0, -d))


@pytest.mark.parametrize("a, b, da, db", [
    (1e16, 1e16, 0.5, 0.5),  # were 1 and 1: exp(a - ans) with ans rounded to a
    (1e15, 1e15, 0.5, 0.5),  # were 0.47
    (np.inf, -np.inf, 1.0, 0.0),  # were nan and 0
    (-np.inf, np.inf, 0.0, 1.0),
    (np.inf, np.inf, 0.5, 0.5),
    (-800.0, 0.0, _sigmoid(-800.0), _sigmoid(800.0)),
    (1.0, 2.0, _sigmoid(-1.0), _sigmoid(1.0)),
])
def test_logaddexp_partials_at_ties_infinities_and_huge_values(a, b, da, db):
    ga, gb = ad.grad(lambda x, y: ad.logaddexp(x, y), argnums=(0, 1))(np.array(a), np.array(b))
    np.testing.assert_allclose([ga, gb], [da, db], rtol=1e-15, atol=0)


def test_logaddexp_second_order():
    assert ad.gradgradcheck(lambda x, y: ad.logaddexp(x, y), [np.array([0.3, -2.0]), np.array([1.1, -2.5])])


def test_reductions_over_an_empty_axis():
    x = ad.Variable(np.zeros((3, 0)), requires_grad=True)
    lse = ad.logsumexp(x, axis=1)
    np.testing.assert_array_equal(lse.value, [-np.inf] * 3)  # log of an empty sum
    np.testing.assert_array_equal(ad.logsumexp(x, axis=1, keepdims=True).value.shape, (3, 1))
    assert F.softmax(x, axis=1).shape == (3, 0)
    assert F.log_softmax(x, axis=1).shape == (3, 0)
    ad.sum(ad.logsumexp(x * 2.0, axis=1)).backward()
    assert x.grad.shape == (3, 0)


@pytest.mark.parametrize("fn", ["unique_values", "unique_counts", "unique_inverse", "unique_all"])
def test_unique_values_are_differentiable(fn, be):
    if fn == "unique_all" and be.name == "torch":
        pytest.skip("array-api-compat has no unique_all for torch (pytorch/pytorch#36748)")
    if be.name == "dask":
        pytest.skip("dask leaves the number of unique values unknown")
    xp_ = ad.Variable(be.array([0.0])).__array_namespace__()
    get = (lambda r: r) if fn == "unique_values" else (lambda r: r.values)
    # distinct elements: the gradient is the inverse permutation of the weights
    x = ad.Variable(be.array([3.0, 1.0, 2.0]), requires_grad=True)
    ad.sum(get(getattr(xp_, fn)(x)) * be.array([10.0, 20.0, 30.0])).backward()
    np.testing.assert_array_equal(be.to_numpy(x.grad), [30.0, 10.0, 20.0])  # was [0, 0, 0]
    # ties: equal elements share their value's gradient equally
    y = ad.Variable(be.array([2.0, 5.0, 2.0, 2.0]), requires_grad=True)
    ad.sum(get(getattr(xp_, fn)(y)) * be.array([3.0, 7.0])).backward()
    np.testing.assert_array_equal(be.to_numpy(y.grad), [1.0, 7.0, 1.0, 1.0])


def test_set_operations_built_on_unique_differentiate():
    """union1d-style code: unique of a concatenation."""
    a = ad.Variable([4.0, 1.0], requires_grad=True)
    b = ad.Variable([2.0], requires_grad=True)
    xp_ = a.__array_namespace__()
    u = xp_.unique_values(xp_.concat([a, b]))
    ad.sum(u * u).backward()
    np.testing.assert_array_equal(a.grad, [8.0, 2.0])
    np.testing.assert_array_equal(b.grad, [4.0])


@pytest.mark.parametrize("x0, axis", [
    (np.array([0.0, 0.0, 2.0, 3.0]), None),
    (np.array([[0.0, 2.0, 0.0], [1.5, 0.0, 0.0]]), 1),
    (np.array([[0.0, 2.0, 0.5], [1.0, 0.0, 0.0], [0.0, 3.0, 0.0]]), 0),
])
def test_prod_second_derivatives_with_several_zeros(x0, axis):
    """The Hessian of prod([0, 0, 2, 3]) was all zeros; H[0, 1] is 6."""
    f = (lambda x: ad.prod(x)) if axis is None else (lambda x: ad.sum(ad.prod(x, axis=axis)))
    if axis is None:
        np.testing.assert_array_equal(ad.hessian(f)(x0), [[0, 6, 0, 0], [6, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert ad.gradcheck(lambda x: ad.prod(x, axis=axis), [x0])
    assert ad.gradgradcheck(lambda x: ad.prod(x, axis=axis), [x0])


def _cumprod_hessian(x, w):
    """The exact Hessian of sum_j w_j prod_{k<=j} x_k: H[a, b] (a != b) is
    sum_{j >= max(a, b)} w_j prod_{k <= j, k not in (a, b)} x_k."""
    n = len(x)
    h = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a != b:
                h[a, b] = sum(w[j] * np.prod([x[k] for k in range(j + 1) if k not in (a, b)])
                              for j in range(max(a, b), n))
    return h


@pytest.mark.parametrize("x0", [[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 0.0, 2.0, 3.0], [0.0, 1.5, 0.0, 0.0, 2.0],
                                [1.5, -2.0, 0.5, 3.0, 0.7]])
def test_cumulative_prod_second_derivatives_at_zeros(be, x0):
    """The Hessian was asymmetric with two zeros in a slice (H[1, 3] = 36, H[3, 1] = 0):
    the rule zeroed the partials of every zero after the first."""
    x0 = np.array(x0)
    w = np.arange(1.0, len(x0) + 1.0)
    f = lambda x: ad.sum(ad.cumulative_prod(x) * be.array(w))  # noqa: E731
    np.testing.assert_allclose(be.to_numpy(ad.hessian(f)(be.array(x0))), _cumprod_hessian(x0, w), atol=1e-12)
    for initial in (False, True):
        g = lambda x: ad.cumulative_prod(x, axis=1, include_initial=initial)  # noqa: E731
        assert ad.gradgradcheck(g, [be.array(np.stack([x0, x0[::-1]]))])


def test_pow_mixed_derivative_at_a_zero_exponent():
    mixed = ad.grad(lambda a, b: ad.grad(lambda a: a ** b)(a), argnums=1)
    for a in (2.0, 0.5, 3.0):
        np.testing.assert_allclose(mixed(np.array(a), np.array(0.0)), 1.0 / a, rtol=1e-15)  # was a
    assert ad.gradgradcheck(lambda a, b: a ** b, [np.array([1.5, 0.7]), np.array([0.0, 0.0])])


def _low_rank(x, y):
    return ad.pinv(x @ y)


@pytest.mark.parametrize("name, fn, args", [
    ("identity", ad.pinv, [np.eye(3)]),
    ("orthogonal", ad.pinv, [np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))[0]]),
    ("rank 2 of 3, singular values 2 and 2", _low_rank,
     [np.sqrt(2.0) * np.eye(3, 2), np.sqrt(2.0) * np.eye(2, 3)]),
    ("tall, batched", ad.pinv, [np.random.default_rng(4).normal(size=(2, 4, 3))]),
])
def test_pinv_at_repeated_singular_values(name, fn, args):
    """Were NaN at the identity and orthogonal matrices, wrong at repeated non-zero
    singular values (the rule went through the SVD's 1 / (s_j^2 - s_i^2)); the
    rank-2 case is differentiated along rank-2 matrices (x @ y), where pinv is smooth."""
    assert ad.gradcheck(fn, args)
    assert ad.gradgradcheck(fn, args)


def test_pinv_of_empty_matrices():
    for shape in ((0, 0), (0, 3, 3), (2, 0, 3)):
        x = ad.Variable(np.zeros(shape), requires_grad=True)
        y = ad.pinv(x)
        assert y.shape == shape[:-2] + (shape[-1], shape[-2])
        ad.sum(y).backward()
        assert x.grad.shape == shape


@pytest.mark.parametrize("fn", [lambda a: ad.svd(a).S, lambda a: ad.svd(a).U, lambda a: ad.qr(a).R, ad.svdvals,
                                lambda a: ad.pinv(a)])
def test_decompositions_of_an_empty_batch_record_and_differentiate(fn):
    x = ad.Variable(np.zeros((0, 3, 3)), requires_grad=True)
    ad.sum(fn(x)).backward()  # raised "cannot reshape array of size 0" while recording
    assert x.grad.shape == (0, 3, 3)
    g = ad.grad(lambda a: ad.sum(ad.grad(lambda b: ad.sum(fn(b) * fn(b)))(a)))(np.zeros((0, 3, 3)))
    assert g.shape == (0, 3, 3)


def test_relu_keeps_nan():
    x = ad.Variable([np.nan, -1.0, 2.0], requires_grad=True)
    y = F.relu(x)
    assert np.isnan(y.value[0]) and y.value[1] == 0.0 and y.value[2] == 2.0
    np.testing.assert_array_equal(np.isnan(ad.maximum(x, 0.0).value), np.isnan(y.value))


@pytest.mark.parametrize("join", [lambda xs: ad.concat(xs), lambda xs: ad.stack(xs), lambda xs: ad.concat(xs, axis=None)])
def test_joining_float32_with_float64_keeps_each_inputs_gradient_dtype(join):
    a = ad.Variable(np.ones(2, np.float32), requires_grad=True)
    b = ad.Variable(np.ones(2, np.float64), requires_grad=True)
    ad.sum(join([a, b]) * 3.0).backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])


def test_losses_refuse_shapes_that_would_broadcast():
    pred, target = ad.Variable(np.zeros((4, 1))), ad.Variable(np.zeros(4))
    with pytest.raises(ValueError, match=r"mse_loss: the input has shape \(4, 1\) and the target \(4,\)"):
        F.mse_loss(pred, target)  # was 0.0 here, and 2.5 for perfect predictions of 0..3
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits"):
        F.binary_cross_entropy_with_logits(pred, target)
    with pytest.raises(ValueError, match="class labels must have the logits' shape"):
        F.cross_entropy(ad.Variable(np.zeros((4, 3))), np.zeros((4, 1), dtype=np.int64))


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
@pytest.mark.parametrize("labels", [[0, 3], [-1, 0]])
def test_class_labels_out_of_range_are_an_error_on_the_host(loss, labels):
    with pytest.raises(IndexError, match="out of range for 3 classes"):
        loss(ad.Variable(np.zeros((2, 3))), np.array(labels))


def test_device_labels_are_read_only_inside_debug_checks(no_host_sync):
    import array_api_strict as xps

    dev = xps.Device("device1")
    logits = ad.Variable(xps.zeros((2, 3), dtype=xps.float64, device=dev))
    labels = xps.asarray([0, 7], device=dev)
    F.cross_entropy(logits, labels)  # not read: no host synchronisation, no check


def test_debug_checks_read_device_labels():
    xps = pytest.importorskip("array_api_strict")
    dev = xps.Device("device1")
    logits = ad.Variable(xps.zeros((2, 3), dtype=xps.float64, device=dev))
    with ad.debug_checks():
        with pytest.raises(IndexError, match="class label 7 is out of range"):
            F.cross_entropy(logits, xps.asarray([0, 7], device=dev))
        with pytest.raises(IndexError, match="class label -1"):
            F.nll_loss(logits, xps.asarray([-1, 0], device=dev))
        F.cross_entropy(logits, xps.asarray([0, 2], device=dev))  # in range


def test_torch_class_labels_on_the_cpu_are_checked_too():
    torch = pytest.importorskip("torch")
    with pytest.raises(IndexError, match="out of range"):
        F.cross_entropy(ad.Variable(torch.zeros((2, 3), dtype=torch.float64)), torch.tensor([0, 5]))


def _bce_reference(x, t):
    return np.mean(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))))


def _central(f, args, k, eps=1e-6):
    g = np.zeros_like(args[k])
    for i in np.ndindex(g.shape):
        p = [a.copy() for a in args]
        m = [a.copy() for a in args]
        p[k][i] += eps
        m[k][i] -= eps
        g[i] = (f(*p) - f(*m)) / (2 * eps)
    return g


def test_loss_targets_get_their_gradient():
    rng = np.random.default_rng(0)
    x0, t0 = rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))
    gx, gt = ad.grad(lambda x, t: F.binary_cross_entropy_with_logits(x, t), argnums=(0, 1))(x0, t0)
    np.testing.assert_allclose(gt, _central(_bce_reference, [x0, t0], 1), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gx, _central(_bce_reference, [x0, t0], 0), rtol=1e-6, atol=1e-9)

    def ce_reference(z, p):
        lse = np.log(np.sum(np.exp(z), axis=-1))
        return np.mean(lse * p.sum(-1) - np.sum(z * p, axis=-1))

    p0 = rng.dirichlet(np.ones(4), size=3)
    gz, gp = ad.grad(lambda z, p: F.cross_entropy(z, p), argnums=(0, 1))(x0, p0)
    np.testing.assert_allclose(gp, _central(ce_reference, [x0, p0], 1), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gz, _central(ce_reference, [x0, p0], 0), rtol=1e-6, atol=1e-9)


def test_loss_second_derivative_keeps_the_cross_term():
    """d/dt of dL/dx (the mixed second derivative of BCE is -1/n per element)."""
    rng = np.random.default_rng(1)
    x0, t0 = rng.normal(size=5), rng.uniform(size=5)

    def dl_dx_dot_v(x, t):
        (g,) = ad.backprop([F.binary_cross_entropy_with_logits(x, t)], [None], [x], create_graph=True)
        return ad.sum(g)

    mixed = ad.grad(dl_dx_dot_v, argnums=1)(x0, t0)
    np.testing.assert_allclose(mixed, -np.ones(5) / 5, rtol=1e-12)
    assert ad.gradgradcheck(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"), [x0, t0])


def test_loss_target_gradients_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x0, t0 = rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))
    xt, tt = torch.tensor(x0, requires_grad=True), torch.tensor(t0, requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(xt, tt).backward()
    gx, gt = ad.grad(lambda x, t: F.binary_cross_entropy_with_logits(x, t), argnums=(0, 1))(x0, t0)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gt, tt.grad.numpy(), rtol=1e-12)
    p0 = rng.dirichlet(np.ones(4), size=3)
    zt, pt = torch.tensor(x0, requires_grad=True), torch.tensor(p0, requires_grad=True)
    torch.nn.functional.cross_entropy(zt, pt).backward()
    gz, gp = ad.grad(lambda z, p: F.cross_entropy(z, p), argnums=(0, 1))(x0, p0)
    np.testing.assert_allclose(gz, zt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gp, pt.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------------------
# complex intermediate values (real leaves): PyTorch's convention
# ---------------------------------------------------------------------------

def _complex_programs(m):
    """Real in, real out, complex in between; ``m`` is anyad or torch (the few
    functions that differ in name are looked up in both)."""
    exp, log, sqrt, sin, cos, tanh = m.exp, m.log, m.sqrt, m.sin, m.cos, m.tanh
    real, imag, conj, absolute = m.real, m.imag, m.conj, m.abs
    return {
        "imag(b * 1j)": lambda x: imag(x * 1j),
        "abs(x * (3+4j))": lambda x: absolute(x * (3 + 4j)),
        "imag(exp(1j x))": lambda x: imag(exp(1j * x)),
        "real(z * z / (z + 2))": lambda x: real((x + 0.5j) * (x + 0.5j) / (x + 0.5j + 2.0)),
        "abs(log(z)) + imag(sqrt(z))": lambda x: absolute(log(x + 1.5j)) + imag(sqrt(x - 0.3j)),
        "real(sin(z) * conj(cos(z)))": lambda x: real(sin(x * (1 + 1j)) * conj(cos(x - 2j))),
        "abs(tanh(z)) ** 2": lambda x: absolute(tanh(0.3 * x + 0.2j)) ** 2,
        "real(z ** (0.5 + 1j))": lambda x: real((x + 2.0 + 1j) ** (0.5 + 1j)),
        "imag(z * w) with w complex data": lambda x: imag(x * (x * 1j + 1.0)),
        "imag(sign(z)) + real(sign(w))": lambda x: imag(m.sgn(x * (1 + 2j) + 0.5j) if m.__name__ == "torch"
                                                        else m.sign(x * (1 + 2j) + 0.5j))
        + real(m.sgn(x * (2 - 1j) - 1j) if m.__name__ == "torch" else m.sign(x * (2 - 1j) - 1j)),
    }


@pytest.mark.parametrize("name", list(_complex_programs(ad)))
def test_complex_intermediates_match_torch(name):
    torch = pytest.importorskip("torch")
    x0 = np.array([0.7, -1.3, 2.1])
    f = _complex_programs(ad)[name]
    got = ad.grad(lambda x: ad.sum(f(x)))(x0)
    xt = torch.tensor(x0, requires_grad=True)
    _complex_programs(torch)[name](xt).sum().backward()
    np.testing.assert_allclose(got, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_complex_intermediates_through_matmul_and_fft_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    a0, b0 = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    c = rng.normal(size=(4, 2)) + 1j * rng.normal(size=(4, 2))

    def f(m, a, b):
        z = (a * (1 + 2j)) @ (b + m.asarray(c) if m is not torch else b + torch.tensor(c))
        return m.abs(m.fft.fft(z, axis=0) if m is not torch else torch.fft.fft(z, dim=0)).sum()

    ga, gb = ad.grad(lambda a, b: f(ad, a, b), argnums=(0, 1))(a0, b0)
    at, bt = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    f(torch, at, bt).backward()
    np.testing.assert_allclose(ga, at.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-12)


def test_complex_matrices_through_pinv_are_an_error_not_a_wrong_gradient():
    with pytest.raises(NotImplementedError, match="pinv: gradients through complex matrices"):
        ad.grad(lambda a: ad.sum(ad.abs(ad.pinv(a * (1 + 1j)))))(np.eye(2))
    np.testing.assert_allclose(ad.pinv(ad.Variable(np.eye(2) * (1 + 1j))).value, np.eye(2) * (0.5 - 0.5j))


def test_complex_intermediates_match_central_differences():
    x0 = np.array([0.7, -1.3, 2.1])
    for name, f in _complex_programs(ad).items():
        assert ad.gradcheck(f, [x0]), name
        assert ad.gradgradcheck(f, [x0]), name


# ---------------------------------------------------------------------------
# complex leaves
# ---------------------------------------------------------------------------

Z0 = np.array([[0.5 + 1.0j, -1.2 + 0.3j, 0.7 - 0.8j], [0.2 - 1.1j, 1.4 + 0.6j, -0.4 - 0.5j]])
W0 = np.array([[0.3 - 0.2j, 1.1 + 0.4j], [-0.6 + 0.9j, 0.5 + 0.5j], [0.8 - 0.3j, -0.2 - 1.0j]])

COMPLEX_FUNCTIONS = {  # name -> (anyad function, torch function) of one complex array
    "multiply": (lambda z: z * (z + 1.0j), lambda z: z * (z + 1.0j)),
    "divide": (lambda z: (z + 1.0) / (z - 3.0j), lambda z: (z + 1.0) / (z - 3.0j)),
    "pow": (lambda z: (z + 2.0) ** (1.5 - 0.5j), lambda z: (z + 2.0) ** (1.5 - 0.5j)),
    "exp": (ad.exp, lambda z: z.exp()), "log": (ad.log, lambda z: z.log()),
    "sqrt": (ad.sqrt, lambda z: z.sqrt()), "square": (ad.square, lambda z: z.square()),
    "sin": (ad.sin, lambda z: z.sin()), "cos": (ad.cos, lambda z: z.cos()),
    "tan": (ad.tan, lambda z: z.tan()), "sinh": (ad.sinh, lambda z: z.sinh()),
    "cosh": (ad.cosh, lambda z: z.cosh()), "tanh": (ad.tanh, lambda z: z.tanh()),
    "expm1": (ad.expm1, lambda z: z.expm1()), "log1p": (ad.log1p, lambda z: z.log1p()),
    "abs": (ad.abs, lambda z: z.abs()), "real": (ad.real, lambda z: z.real),
    "imag": (ad.imag, lambda z: z.imag), "conj": (ad.conj, lambda z: z.conj()),
    "sign": (ad.sign, lambda z: z.sgn()),
    "sum": (lambda z: ad.sum(z * z, axis=1), lambda z: (z * z).sum(dim=1)),
    "mean": (lambda z: ad.mean(ad.exp(z), axis=0), lambda z: z.exp().mean(dim=0)),
    "prod": (lambda z: ad.prod(z, axis=1), lambda z: z.prod(dim=1)),
    "reshape_getitem": (lambda z: ad.reshape(z, (3, 2))[1:, ...] * z[0, 0],
                        lambda z: z.reshape(3, 2)[1:] * z[0, 0]),
    "matmul": (lambda z: z @ ad.asarray(W0), lambda z: z @ __import__("torch").tensor(W0)),
    "concat": (lambda z: ad.concat([z, z * 2.0j], axis=0), lambda z: __import__("torch").cat([z, z * 2.0j], 0)),
    # the holomorphic linear-algebra functions, on the square z @ W0 + 2
    "inv": (lambda z: ad.inv(z @ ad.asarray(W0) + 2.0),
            lambda z: __import__("torch").linalg.inv(z @ __import__("torch").tensor(W0) + 2.0)),
    "solve": (lambda z: ad.solve(z @ ad.asarray(W0) + 2.0, z),
              lambda z: __import__("torch").linalg.solve(z @ __import__("torch").tensor(W0) + 2.0, z)),
    "det": (lambda z: ad.det(z @ ad.asarray(W0) + 2.0),
            lambda z: __import__("torch").linalg.det(z @ __import__("torch").tensor(W0) + 2.0)),
}


def _as_real_loss(out, m):
    """A real scalar from a complex or real output: sum of |out|^2 and of real(out)."""
    if m is ad:
        return ad.sum(ad.real(out * ad.conj(out))) + ad.sum(ad.real(out))
    return (out * out.conj()).real.sum() + out.real.sum()


@pytest.mark.parametrize("name", sorted(COMPLEX_FUNCTIONS))
def test_complex_leaves_match_torch(name):
    torch = pytest.importorskip("torch")
    fa, ft = COMPLEX_FUNCTIONS[name]
    got = ad.grad(lambda z: _as_real_loss(fa(z), ad))(Z0)
    zt = torch.tensor(Z0, requires_grad=True)
    _as_real_loss(ft(zt), torch).backward()
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got, zt.grad.resolve_conj().numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name", sorted(COMPLEX_FUNCTIONS))
def test_complex_leaves_against_central_differences(name):
    fa, _ = COMPLEX_FUNCTIONS[name]
    assert ad.gradcheck(fa, [Z0])  # reverse mode, and forward mode along a complex tangent
    assert ad.gradgradcheck(fa, [Z0])


def test_jacobians_of_complex_inputs():
    z0 = np.array([0.5 + 1j, -1.2 + 0.3j])
    np.testing.assert_allclose(ad.jacrev(lambda z: ad.abs(z) ** 2)(z0), np.diag(2 * z0))  # rows: gradients
    with pytest.raises(NotImplementedError, match="jacfwd: input 0 is complex"):
        ad.jacfwd(lambda z: ad.abs(z) ** 2)(z0)
    with pytest.raises(NotImplementedError, match="jacfwd"):
        ad.hessian(lambda z: ad.sum(ad.abs(z) ** 2))(z0)


def test_complex_leaf_descent_convention():
    """For L = |z|^2 the gradient is 2z, so z - lr * grad descends."""
    z = ad.Variable(np.array([3.0 + 4.0j]), requires_grad=True)
    ad.sum(ad.abs(z) ** 2).backward()
    np.testing.assert_allclose(z.grad, [6.0 + 8.0j])


def test_complex_leaves_through_linalg_decompositions_are_an_error():
    z = ad.Variable(np.eye(2) * (1 + 1j), requires_grad=True)
    for f in (ad.pinv, ad.cholesky, lambda a: ad.slogdet(a).logabsdet, lambda a: ad.svd(a).S,
              lambda a: ad.qr(a).R, lambda a: ad.eigh(a).eigenvalues):
        with pytest.raises(NotImplementedError, match="complex matrices"):
            f(z)


def test_complex_leaves_in_float32_stay_complex64():
    z = ad.Variable(Z0.astype(np.complex64), requires_grad=True)
    ad.sum(ad.abs(ad.exp(z)) ** 2).backward()
    assert z.grad.dtype == np.complex64


# ---------------------------------------------------------------------------
# anyad.jit: integer and boolean values computed from the inputs are recomputed
# on every replay, never frozen from the trace
# ---------------------------------------------------------------------------

_XP = ad.Variable(np.ones(2)).__array_namespace__()
JIT_INDEX_PROGRAMS = {
    "x[argmax(x)]": lambda x: x[_XP.argmax(x)] * 2.0,
    "x[argmin(x)]": lambda x: x[_XP.argmin(x)] * 2.0,
    "take(x, argsort(x)[-1:])": lambda x: ad.take(x, ad.argsort(x)[-1:]) * 2.0,
    "where(all(x > 1.5), x, -x)": lambda x: ad.where(_XP.all(x > 1.5), x, -x),
    "where(any(x > 4), x, -x)": lambda x: ad.where(_XP.any(x > 4.0), x, -x),
    "x * count_nonzero(x > 2.5)": lambda x: x * _XP.astype(_XP.count_nonzero(x > 2.5), x.dtype),
    "where(isin(x, [5]), x, 0)": lambda x: ad.where(_XP.isin(x, _XP.asarray([5.0])), x, 0.0),
}


@pytest.mark.parametrize("name", sorted(JIT_INDEX_PROGRAMS))
def test_jit_recomputes_integer_and_boolean_intermediates(name):
    """These replayed the first input's index or mask: x[argmax(x)] gave 6 for [5, 3, 2]."""
    f = JIT_INDEX_PROGRAMS[name]
    compiled = ad.jit(f)
    compiled(np.array([1.0, 3.0, 2.0]))  # traced here
    for x in ([5.0, 3.0, 2.0], [2.0, 1.0, 9.0], [0.5, 0.25, 0.125]):
        np.testing.assert_array_equal(np.asarray(compiled(np.array(x))), np.asarray(f(np.array(x))), err_msg=name)
    g = ad.jit(ad.grad(lambda x: ad.sum(f(x))))
    g(np.array([1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g(np.array([5.0, 3.0, 2.0])), ad.grad(lambda x: ad.sum(f(x)))(np.array([5.0, 3.0, 2.0])))


def test_jit_refuses_results_whose_shape_depends_on_the_values():
    for f in (lambda x: _XP.nonzero(x > 2.0)[0] * 1.0, lambda x: ad.sum(_XP.unique_values(x))):
        with pytest.raises(ad.TracingError, match="shape depends on the values"):
            ad.jit(f)(np.array([1.0, 3.0, 2.0]))


def test_take_along_axis_of_empty_arrays_differentiates(be):
    """The adjoint's scatter failed on array_api_strict for an empty selection."""
    for shape, ishape in (((0, 3), (0, 2)), ((2, 3), (2, 0))):
        x = ad.Variable(be.array(np.zeros(shape)), requires_grad=True)
        idx = be.array(np.zeros(ishape), "int64")
        ad.sum(ad.take_along_axis(x, idx, axis=1)).backward()
        assert tuple(x.grad.shape) == shape
        np.testing.assert_array_equal(be.to_numpy(x.grad), np.zeros(shape))


def test_torch_results_with_a_lazy_conjugate_convert_to_numpy():
    torch = pytest.importorskip("torch")
    x = ad.fft.ihfft(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    np.testing.assert_allclose(ad._backend.to_numpy(x), np.fft.ihfft([1.0, 2.0, 3.0, 4.0]), rtol=1e-15)


def test_diff_with_n_zero_is_the_input_as_numpy_and_torch():
    x = ad.Variable([1.0, 4.0, 9.0], requires_grad=True)
    y = ad.diff(x, n=0, prepend=ad.asarray([0.0]), append=ad.asarray([2.0]))
    np.testing.assert_array_equal(y.value, np.diff([1.0, 4.0, 9.0], n=0, prepend=[0.0], append=[2.0]))


def test_forward_mode_of_cumulative_prod_on_empty_complex_input():
    x = np.zeros((0,), dtype=complex)
    out, t = ad.jvp(lambda v: ad.cumulative_prod(v, axis=-1), (x,), (np.ones_like(x),))
    assert out.shape == (0,) and (t is None or tuple(t.shape) == (0,))
