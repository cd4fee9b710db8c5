"""Derivatives of order 3 and 4 of composite functions against closed forms, on
every backend of the matrix, through each face: ``GradientTracker.gradient(...,
create_graph=True)``, ``Variable.backward(create_graph=True)`` and
``Graph.gradient(dy, dxs, n)``. (Order 2 of every primitive is checked by
gradgradcheck in test_primitives.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad

TOL = {"float64": dict(rtol=1e-9, atol=1e-9), "float32": dict(rtol=2e-4, atol=2e-4)}


def _sin_exp(x):
    return ad.sin(x) * ad.exp(x)


def _sin_exp_derivatives(x):
    e, s, c = np.exp(x), np.sin(x), np.cos(x)
    return [e * (s + c), 2 * e * c, 2 * e * (c - s), -4 * e * s]


def _tanh(x):
    return ad.tanh(x)


def _tanh_derivatives(x):
    t = np.tanh(x)
    s = 1 - t * t
    return [s, -2 * t * s, -2 * s * (1 - 3 * t * t), 8 * t * s * (2 - 3 * t * t)]


def _log1p_square(x):
    return ad.log(x * x + 1.0)


def _log1p_square_derivatives(x):
    q = 1 + x * x
    return [2 * x / q, 2 * (1 - x * x) / q ** 2, 4 * x * (x * x - 3) / q ** 3,
            -12 * (x ** 4 - 6 * x * x + 1) / q ** 4]


def _rational(x):
    return x ** 3 / (x + 2.0) - 1.0 / x


def _rational_derivatives(x):
    # x^3/(x+2) = x^2 - 2x + 4 - 8/(x+2)
    return [2 * x - 2 + 8 / (x + 2) ** 2 + 1 / x ** 2, 2 - 16 / (x + 2) ** 3 - 2 / x ** 3,
            48 / (x + 2) ** 4 + 6 / x ** 4, -192 / (x + 2) ** 5 - 24 / x ** 5]


ELEMENTWISE = [
    ("sin_exp", _sin_exp, _sin_exp_derivatives),
    ("tanh", _tanh, _tanh_derivatives),
    ("log_1_plus_square", _log1p_square, _log1p_square_derivatives),
    ("rational", _rational, _rational_derivatives),
]
POINTS = np.array([[0.3, -0.7, 1.1], [0.9, -1.3, 0.55]])


def _check(be, got, want, dtype):
    np.testing.assert_allclose(be.to_numpy(got), want, **TOL[dtype])


@pytest.mark.parametrize("name,f,derivs", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_tracker_orders_1_to_4(be, dtype, name, f, derivs):
    x = ad.Variable(be.array(POINTS, dtype))
    with ad.GradientTracker() as tracker:
        y = f(x)
    g = y
    for want in derivs(POINTS):
        g = tracker.gradient(g, x, create_graph=True)
        assert isinstance(g, ad.Variable) and g.requires_grad
        assert g.dtype == x.dtype and tuple(g.shape) == POINTS.shape
        _check(be, g, want, dtype)


@pytest.mark.parametrize("name,f,derivs", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_graph_gradient_order_n(be, dtype, name, f, derivs):
    with be.use():
        a = ad.Tensor(POINTS, dtype=dtype)
    y = f(a)
    g = ad.Graph()
    g.add_variables(a)
    for n in (3, 4):
        (got,) = g.gradient(y, [a], n)
        assert got.dtype == a.dtype
        _check(be, got, derivs(POINTS)[n - 1], dtype)


def test_backward_create_graph_third_order(be):
    x = ad.Variable(be.array(POINTS[0]), requires_grad=True)
    ad.sum(_sin_exp(x)).backward(create_graph=True)
    g1 = x.grad
    x.grad = None
    ad.sum(g1).backward(create_graph=True)
    g2 = x.grad
    x.grad = None
    ad.sum(g2).backward()
    _check(be, x.grad, _sin_exp_derivatives(POINTS[0])[2], "float64")


def test_matrix_composite_orders_1_to_4(be, dtype):
    """f(x) = sum(exp(A @ x)): the n-th derivative (of the sum of the one before)
    is A^T (r^(n-1) * exp(A @ x)) with r the row sums of A."""
    rng = np.random.default_rng(0)
    A = rng.uniform(-0.5, 0.5, size=(4, 3))
    x0 = rng.uniform(-0.5, 0.5, size=(3,))
    r = A.sum(axis=1)
    e = np.exp(A @ x0)
    x = ad.Variable(be.array(x0, dtype))
    Av = be.array(A, dtype)
    with ad.GradientTracker() as tracker:
        y = ad.sum(ad.exp(ad.matmul(Av, x)))
    g = y
    for n in range(1, 5):
        g = tracker.gradient(g, x, create_graph=True)
        _check(be, g, A.T @ (r ** (n - 1) * e), dtype)


def test_mixed_partials_two_variables(be):
    """f = sum(x^2 y^3 + sin(x y)); mixed partials of order 3 and 4."""
    x0, y0 = np.array([0.4, -1.2]), np.array([1.5, 0.3])
    x = ad.Variable(be.array(x0))
    y = ad.Variable(be.array(y0))
    with ad.GradientTracker() as t:
        f = ad.sum(x * x * y ** 3 + ad.sin(x * y))
    fx = t.gradient(f, x, create_graph=True)  # 2 x y^3 + y cos(xy)
    fxy = t.gradient(fx, y, create_graph=True)  # 6 x y^2 + cos(xy) - xy sin(xy)
    fxyy = t.gradient(fxy, y, create_graph=True)
    fxyyx = t.gradient(fxyy, x)
    p = x0 * y0
    _check(be, fxy, 6 * x0 * y0 ** 2 + np.cos(p) - p * np.sin(p), "float64")
    # d/dy: 12 x y - x sin - x sin - x p cos = 12xy - 2x sin(p) - x p cos(p)
    _check(be, fxyy, 12 * x0 * y0 - 2 * x0 * np.sin(p) - x0 * p * np.cos(p), "float64")
    # d/dx: 12 y - 2 sin(p) - 2 p cos(p) - 2 p cos(p) + p^2 sin(p)
    _check(be, fxyyx, 12 * y0 - 2 * np.sin(p) - 4 * p * np.cos(p) + p * p * np.sin(p), "float64")


def test_fourth_order_through_reductions_indexing_and_broadcasting(be):
    """f(x) = sum_i (x_i - mean(x))^4 built with a broadcast, slicing and a mean;
    directional derivatives along v, orders 1 to 4, against closed forms.

    With P = I - 11^T/n, d = P x and u = P v:
    grad f = P(4 d^3), then grad <v, .> of each: P(12 d^2 u), P(24 d u^2), P(24 u^3).
    """
    x0 = np.array([0.3, -0.2, 0.8, 0.1])
    v0 = np.array([1.0, -0.5, 0.25, 2.0])
    n = x0.size
    P = np.eye(n) - np.ones((n, n)) / n
    d, u = P @ x0, P @ v0
    want = [P @ (4 * d ** 3), P @ (12 * d ** 2 * u), P @ (24 * d * u ** 2), P @ (24 * u ** 3)]
    x = ad.Variable(be.array(x0))
    v = be.array(v0)
    with ad.GradientTracker() as t:
        diff = x[None, :] - ad.mean(x, keepdims=True)[:, None]  # (1, 4) minus (1, 1)
        f = ad.sum(diff ** 4)
    g = t.gradient(f, x, create_graph=True)
    _check(be, g, want[0], "float64")
    for k in (1, 2, 3):
        g = t.gradient(g, x, seed=v, create_graph=k < 3)
        _check(be, g, want[k], "float64")
