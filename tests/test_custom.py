"""Custom differentiable functions: a user's kernel and rule, at first and higher
order, in reverse and forward mode, on every backend; and their error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

import anyad as ad
from anyad.testing import GradcheckError, gradcheck, gradgradcheck


def _np(be, x):
    return be.to_numpy(x)


# -- a kernel written against the standard: runs on every backend ------------------


@ad.custom_vjp
def fused_softplus(x, *, beta=1.0):
    """log(1 + exp(beta x)) / beta in one stable kernel, over the array's own namespace."""
    xp = ad._backend.namespace_of(x)
    bx = x * beta
    return (xp.maximum(bx, 0.0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta


@fused_softplus.defvjp
def _fused_softplus_vjp(g, ans, x, *, beta=1.0):
    return g / (1.0 + ad.exp(-beta * x))  # anyad functions: differentiable again


def _softplus_ref(x, beta=1.0):
    return np.logaddexp(0.0, beta * x) / beta


def test_custom_function_on_every_backend(be):
    x0 = np.array([-2.0, -0.1, 0.0, 0.7, 30.0])
    x = be.array(x0)
    out = fused_softplus(x, beta=2.0)
    assert not isinstance(out, ad.Variable)  # raw in, raw out
    np.testing.assert_allclose(_np(be, out), _softplus_ref(x0, 2.0), rtol=1e-12)
    g = ad.grad(lambda x: ad.sum(fused_softplus(x, beta=2.0)))(x)
    np.testing.assert_allclose(_np(be, g), 1 / (1 + np.exp(-2 * x0)), rtol=1e-12)
    assert gradcheck(lambda x: fused_softplus(x, beta=2.0), [be.array(x0[:4])])
    assert gradgradcheck(lambda x: fused_softplus(x, beta=2.0), [be.array(x0[:4])])


def test_custom_function_float32_stays_float32(be):
    x = be.array(np.array([0.5, -1.0]), "float32")
    v = ad.Variable(x, requires_grad=True)
    ad.sum(fused_softplus(v)).backward()
    assert v.grad.dtype == x.dtype
    assert repr(ad._backend.device_of(v.grad)) == repr(ad._backend.device_of(x))


def test_higher_order_through_a_differentiable_rule(be):
    x0 = 0.3
    d = [ad.grad(lambda x: fused_softplus(x))]
    d.append(ad.grad(d[0]))
    d.append(ad.grad(d[1]))
    s = 1 / (1 + math.exp(-x0))
    expected = [s, s * (1 - s), s * (1 - s) * (1 - 2 * s)]
    for f, e in zip(d, expected):
        np.testing.assert_allclose(_np(be, f(be.array(x0))), e, rtol=1e-12)
    # forward mode, derived from the (linear in g) VJP rule
    xs = be.array(np.array([0.3, -1.2]))
    H = ad.hessian(lambda x: ad.sum(fused_softplus(x)))(xs)
    sv = 1 / (1 + np.exp(-np.array([0.3, -1.2])))
    np.testing.assert_allclose(_np(be, H), np.diag(sv * (1 - sv)), rtol=1e-12)


# -- a torch kernel, and a numpy kernel ---------------------------------------------


def test_torch_kernel_with_anyad_rule():
    torch = pytest.importorskip("torch")

    @ad.custom_vjp
    def gelu(x):
        return torch.nn.functional.gelu(x)  # torch's own fused kernel

    @gelu.defvjp
    def gelu_vjp(g, ans, x):
        cdf = 0.5 * (1.0 + ad.erf(x / math.sqrt(2.0)))
        pdf = ad.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return g * (cdf + x * pdf)

    x = torch.tensor([-1.5, -0.2, 0.0, 0.4, 2.0], dtype=torch.float64)
    assert gradcheck(gelu, [x])
    assert gradgradcheck(gelu, [x])
    tx = x.clone().requires_grad_()
    torch.nn.functional.gelu(tx).sum().backward()
    np.testing.assert_allclose(ad.grad(lambda v: ad.sum(gelu(v)))(x).numpy(), tx.grad.numpy(), rtol=1e-12)


def test_numpy_kernel_with_raw_rule_is_first_order_only():
    @ad.custom_vjp
    def cube(x):
        return np.power(x, 3)

    @cube.defvjp
    def cube_vjp(g, ans, x):  # a raw kernel backward (as a CuPy kernel would be): not differentiable
        gv = g.value if isinstance(g, ad.Variable) else g
        xv = x.value if isinstance(x, ad.Variable) else x
        return np.multiply(gv, 3 * np.square(xv))

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(ad.grad(lambda v: ad.sum(cube(v)))(x), [3.0, 12.0])
    assert gradcheck(cube, [x], check_forward=False)
    with pytest.raises(TypeError, match="cube returned a raw array for input 0 while a derivative graph"):
        ad.grad(ad.grad(lambda v: ad.sum(cube(v))))(np.array(1.0))
    with pytest.raises(TypeError, match="or forward mode derived from this rule.*cube.defjvp"):
        ad.jvp(cube, (x,), (x,))


# -- several inputs, broadcasting, one call of the joint rule -------------------------


def test_joint_rule_is_called_once_per_backward_and_broadcasts(be):
    calls = []

    @ad.custom_vjp
    def scaled_product(x, y, k):  # k: a Python number, not differentiated
        return x * y * k

    @scaled_product.defvjp
    def _vjp(g, ans, x, y, k):
        calls.append(1)
        return g * y * k, g * x * k, None  # output-shaped: the engine sums y's broadcast axes

    x0, y0 = np.arange(6.0).reshape(2, 3), np.array([1.0, -2.0, 0.5])
    grad_xy = ad.grad(lambda x, y: ad.sum(scaled_product(x, y, 3.0)), argnums=(0, 1))
    gx, gy = grad_xy(be.array(x0), be.array(y0))
    assert len(calls) == 1
    np.testing.assert_allclose(_np(be, gx), 3 * np.broadcast_to(y0, (2, 3)))
    np.testing.assert_allclose(_np(be, gy), 3 * x0.sum(axis=0))
    assert tuple(gy.shape) == (3,)
    # asked twice on a retained graph, with the same seed object, it is called again (no stale memo)
    xv, yv = ad.Variable(be.array(x0), requires_grad=True), ad.Variable(be.array(y0), requires_grad=True)
    out = ad.sum(scaled_product(xv, yv, 2.0))
    seed = be.array(np.array(1.0))
    first = ad.backprop([out], [seed], [xv, yv])
    second = ad.backprop([out], [seed], [xv, yv])
    for a, b in zip(first, second):
        np.testing.assert_allclose(_np(be, a), _np(be, b))
    only_x = ad.backprop([out], [seed], [xv])
    np.testing.assert_allclose(_np(be, only_x[0]), _np(be, first[0]))


def test_defjvp_is_used_by_forward_mode(be):
    calls = []

    @ad.custom_vjp
    def sq(x):
        return x * x

    sq.defvjp(lambda g, ans, x: g * 2.0 * x)

    @sq.defjvp
    def sq_jvp(ts, ans, x):
        calls.append(1)
        return ts[0] * 2.0 * x

    x, t = be.array(np.array([1.0, 3.0])), be.array(np.array([1.0, -1.0]))
    out, tout = ad.jvp(sq, (x,), (t,))
    np.testing.assert_allclose(_np(be, tout), [2.0, -6.0])
    assert len(calls) == 1
    np.testing.assert_allclose(_np(be, ad.jacfwd(lambda v: ad.sum(sq(v)))(x)), [2.0, 6.0])
    assert gradcheck(sq, [x]) and gradgradcheck(sq, [x])


def test_custom_rule_built_from_another_custom_function():
    """gelu' is itself a custom function, so derivatives of any order follow."""

    @ad.custom_vjp
    def tanh_k(x):
        return np.tanh(x)

    @ad.custom_vjp
    def sech2_k(x):
        return 1.0 - np.tanh(x) ** 2

    tanh_k.defvjp(lambda g, ans, x: g * sech2_k(x))
    sech2_k.defvjp(lambda g, ans, x: g * -2.0 * ans * tanh_k(x))
    x0 = 0.4
    d3 = ad.grad(ad.grad(ad.grad(lambda x: tanh_k(x))))(np.array(x0))
    t = np.tanh(x0)
    np.testing.assert_allclose(d3, -2 * (1 - t * t) * (1 - 3 * t * t), rtol=1e-12)


def test_gradcheck_catches_a_wrong_custom_rule():
    @ad.custom_vjp
    def f(x):
        return np.sin(x)

    f.defvjp(lambda g, ans, x: g * ad.sin(x))  # wrong: should be cos
    with pytest.raises(GradcheckError, match=r"reverse mode .* finite differences .* tolerance"):
        gradcheck(f, [np.array([0.3, 1.0])])


# -- errors ---------------------------------------------------------------------------


def test_custom_function_errors():
    @ad.custom_vjp
    def two(x):
        return x, x

    two.defvjp(lambda g, ans, x: g)
    with pytest.raises(TypeError, match="two must return one array"):
        two(np.ones(2))

    @ad.custom_vjp
    def norule(x):
        return x * 2.0

    np.testing.assert_allclose(norule(np.ones(2)), [2.0, 2.0])  # no rule: fine without gradients
    with pytest.raises(TypeError, match="norule has no derivative rule yet.*defvjp"):
        ad.grad(lambda x: ad.sum(norule(x)))(np.ones(2))

    @ad.custom_vjp
    def pair(x, y):
        return x * y

    pair.defvjp(lambda g, ans, x, y: g * y)  # one gradient for two inputs
    with pytest.raises(ValueError, match="pair must return 2 gradient"):
        ad.grad(lambda x: ad.sum(pair(x, x)))(np.ones(2))

    @ad.custom_vjp
    def badshape(x):
        return x * 2.0

    badshape.defvjp(lambda g, ans, x: ad.ones_like(g)[:1])
    with pytest.raises(ValueError, match=r"badshape returned shape \(1,\) for input 0"):
        ad.grad(lambda x: ad.sum(badshape(x)))(np.ones(3))
    with pytest.raises(TypeError, match="expected a function"):
        ad.custom_vjp(3)
