"""Silent wrong answers found by the op_db cross-check (benchmarks/opdb_crosscheck.py):
each test failed before its fix. References: closed forms, numpy's linalg, central
differences (anyad.gradcheck / gradgradcheck), and torch where it is installed."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.nn import functional as F

Z = np.array([-2.0 + 0.1j, 0.5 + 1.0j, -0.3 - 2.0j, 3.0 - 0.5j])
W = np.array([0.7 - 0.2j, -1.1 + 0.4j, 0.3 + 0.9j, -0.5 - 0.6j])


def _skip_dask(be):
    if be.name == "dask":
        pytest.skip("complex linear algebra on dask is not what this checks")


def test_vecdot_conjugates_the_first_argument(be):
    _skip_dask(be)
    x, y = Z[:2], W[:2]
    out = ad.vecdot(be.array(x, "complex128"), be.array(y, "complex128"))
    np.testing.assert_allclose(be.to_numpy(out), np.vdot(x, y))  # was sum(x * y)
    assert ad.gradcheck(lambda a, b: ad.vecdot(a, b), [x, y])
    assert ad.gradgradcheck(lambda a, b: ad.vecdot(a, b) ** 2, [x, y])


@pytest.mark.parametrize("fn", ["var", "std"])
def test_var_and_std_of_complex_values(fn, be):
    _skip_dask(be)
    ref = {"var": np.var, "std": np.std}[fn]
    out = getattr(ad, fn)(be.array(Z, "complex128"), correction=1)
    np.testing.assert_allclose(be.to_numpy(out), ref(Z, ddof=1))  # was mean((x - m)**2), complex
    # L = sum |z - m|^2 / (N - 1): its gradient (PyTorch's convention) is 2 (z - m) / (N - 1)
    g = ad.grad(lambda z: ad.var(z, correction=1))(Z)
    np.testing.assert_allclose(g, 2 * (Z - Z.mean()) / (len(Z) - 1))
    assert ad.gradcheck(lambda z: getattr(ad, fn)(z), [Z])


def test_acosh_gradient_for_complex_values_with_a_negative_real_part():
    # the principal branch's derivative is 1 / (sqrt(z - 1) sqrt(z + 1)), not 1 / sqrt(z^2 - 1)
    # (they differ in sign where Re z < 0); the gradient is w * conj(f'(z))
    deriv = 1.0 / (np.sqrt(Z - 1) * np.sqrt(Z + 1))
    g = ad.grad(lambda z: ad.sum(ad.real(ad.acosh(z) * np.conj(W))))(Z)
    np.testing.assert_allclose(g, W * np.conj(deriv))  # had the wrong sign at Z[0] and Z[2]
    _, t = ad.jvp(ad.acosh, (Z,), (W,))
    np.testing.assert_allclose(t, deriv * W)
    assert ad.gradcheck(ad.acosh, [Z]) and ad.gradgradcheck(ad.acosh, [Z])
    # real arguments: unchanged, and no overflow in x * x at huge x
    x = np.array([1.5, 3.0, 1e200])
    np.testing.assert_allclose(ad.grad(lambda v: ad.sum(ad.acosh(v)))(x), [1 / np.sqrt(1.25), 1 / np.sqrt(8), 1e-200])


def _hermitian_pd() -> np.ndarray:
    a = np.array([[2.0, 1.0 + 1.0j, 0.0], [0.5j, 1.0, -1.0], [1.0, 0.3 - 0.2j, 2.0]])
    return a @ a.conj().T + np.eye(3)


def test_hermitian_decompositions_of_complex_matrices(be):
    _skip_dask(be)
    a = _hermitian_pd()
    x = be.array(a, "complex128")
    L = np.linalg.cholesky(a)
    np.testing.assert_allclose(be.to_numpy(ad.cholesky(x)), L)  # the imaginary part was dropped
    np.testing.assert_allclose(be.to_numpy(ad.cholesky(x, upper=True)), L.conj().T)
    np.testing.assert_allclose(be.to_numpy(ad.eigvalsh(x)), np.linalg.eigvalsh(a))  # were wrong
    w, v = ad.eigh(x)
    np.testing.assert_allclose(be.to_numpy(w), np.linalg.eigvalsh(a))
    v = be.to_numpy(v)
    np.testing.assert_allclose(v @ np.diag(be.to_numpy(w)) @ v.conj().T, a, atol=1e-12)


def test_logaddexp_second_derivative_at_ties(be):
    # the first derivative was exact at ties through where(tie, 0.5, ...): a constant there,
    # so the second derivative at a tie was 0 instead of sigmoid' = 1/4
    h = ad.hessian(lambda v: ad.logaddexp(v[0], v[1]))(np.array([1.0, 1.0]))
    np.testing.assert_allclose(h, [[0.25, -0.25], [-0.25, 0.25]])
    a = be.array([1.0, -3.0, 0.5])
    b = be.array([1.0, -3.0, 2.0])
    assert ad.gradgradcheck(lambda x, y: ad.logaddexp(x, y), [a, b])


def test_logaddexp_partials_stay_exact_and_finite(be):
    a = be.array([1e16, np.inf, np.inf, -np.inf, 2.0])
    b = be.array([1e16, -np.inf, np.inf, -np.inf, -800.0])
    _, pullback = ad.vjp(ad.logaddexp, a, b)
    ga, gb = pullback(be.array([1.0] * 5))
    np.testing.assert_array_equal(be.to_numpy(ga), [0.5, 1.0, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(be.to_numpy(gb), [0.5, 0.0, 0.5, 0.5, 0.0])


def test_bce_with_logits_pos_weight_is_differentiable():
    x = np.array([[0.3, -1.2], [2.0, 0.1]])
    t = np.array([[1.0, 0.0], [0.5, 1.0]])
    pw = np.array([2.0, 0.5])

    def loss(x, t, p):
        return F.binary_cross_entropy_with_logits(x, t, pos_weight=p)

    # d/dp of mean((1 - t) x + (1 + (p - 1) t) softplus(-x)) = mean over rows of t softplus(-x)
    expect = np.sum(t * np.logaddexp(0.0, -x), axis=0) / x.size
    np.testing.assert_allclose(ad.grad(loss, argnums=2)(x, t, pw), expect)  # was [0, 0]
    assert ad.gradcheck(loss, [x, t, pw]) and ad.gradgradcheck(loss, [x, t, pw])


def test_clip_with_array_bounds_passes_the_gradient_to_x_at_ties(be):
    # at x == min or x == max the gradient goes to x, as with scalar bounds (and as torch does);
    # composed from maximum/minimum it was shared half and half with the bound
    x, lo, hi = (be.array(v) for v in ([1.0, 2.0, 3.0, -5.0], [1.0, 0.0, 3.5, 0.0], [2.0, 2.0, 3.0, -1.0]))
    w = be.array([1.0, 2.0, 3.0, 4.0])
    out = ad.clip(x, ad.Variable(lo), ad.Variable(hi))
    np.testing.assert_array_equal(be.to_numpy(out), [1.0, 2.0, 3.0, -1.0])  # min > max gives max
    gx, glo, ghi = ad.grad(lambda a, b, c: ad.sum(ad.clip(a, b, c) * w), argnums=(0, 1, 2))(x, lo, hi)
    np.testing.assert_array_equal(be.to_numpy(gx), [1.0, 2.0, 0.0, 0.0])  # was [0.5, 1, 0, 0]
    np.testing.assert_array_equal(be.to_numpy(glo), [0.0, 0.0, 0.0, 0.0])  # was [0.5, 0, 0, 0]
    np.testing.assert_array_equal(be.to_numpy(ghi), [0.0, 0.0, 3.0, 4.0])


def test_matrix_rank_of_empty_matrices(be):
    if be.name == "dask":
        pytest.skip("dask: not what this checks")
    for shape, batch in (((0, 0), ()), ((3, 0), ()), ((2, 0, 4), (2,))):
        r = ad.matrix_rank(be.array(np.zeros(shape)))  # raised numpy's "zero-size array to reduction"
        np.testing.assert_array_equal(be.to_numpy(r), np.zeros(batch, dtype=np.int64))


def test_against_torch():
    torch = pytest.importorskip("torch")
    z = torch.tensor(Z, requires_grad=True)
    w = torch.tensor(W)
    (torch.acosh(z) * w.conj()).real.sum().backward()
    np.testing.assert_allclose(ad.grad(lambda v: ad.sum(ad.real(ad.acosh(v) * np.conj(W))))(Z), z.grad.numpy())
    z.grad = None
    torch.var(z).backward()
    np.testing.assert_allclose(ad.grad(lambda v: ad.var(v, correction=1))(Z), z.grad.numpy())
    np.testing.assert_allclose(ad.vecdot(Z, W), torch.linalg.vecdot(torch.tensor(Z), w).numpy())
    a = _hermitian_pd()
    np.testing.assert_allclose(ad.cholesky(a, upper=True), torch.linalg.cholesky(torch.tensor(a), upper=True))
