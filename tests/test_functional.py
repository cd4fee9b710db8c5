"""The functional transforms: closed forms on every backend, torch.func on random
inputs, composition, pytrees, no_grad / backward / detach, and error messages."""

from __future__ import annotations

import collections
import threading

import numpy as np
import pytest

import anyad as ad
from anyad._state import ALL, recording

# torch.func's transforms warn about torch.jit.script internally (torch's own deprecation)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _np(be, x):
    return be.to_numpy(x)


def _close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=tol, atol=tol)


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# closed forms on every backend
# ---------------------------------------------------------------------------


def test_grad_closed_form(be):
    x0 = _rng().uniform(-2, 2, size=5)
    g = ad.grad(lambda x: ad.sum(ad.sin(x) * x))(be.array(x0))
    assert type(g) is type(be.array(x0))  # a backend array, not a Variable
    _close(_np(be, g), np.sin(x0) + x0 * np.cos(x0))


def test_value_and_grad_argnums_and_aux(be):
    x0, y0 = _rng(1).normal(size=3), _rng(2).normal(size=3)

    def f(x, y, scale):
        s = ad.sum(x * y) * scale
        return s, {"xy": x * y}

    vg = ad.value_and_grad(f, argnums=(0, 1), has_aux=True)
    (value, aux), (gx, gy) = vg(be.array(x0), be.array(y0), 2.0)
    _close(_np(be, value), 2 * np.dot(x0, y0))
    _close(_np(be, gx), 2 * y0)
    _close(_np(be, gy), 2 * x0)
    _close(_np(be, aux["xy"]), x0 * y0)
    assert not isinstance(aux["xy"], ad.Variable)
    g_last = ad.grad(lambda x, y: ad.sum(ad.multiply(x, y ** 2)), argnums=-1)(be.array(x0), be.array(y0))
    _close(_np(be, g_last), 2 * x0 * y0)
    g, aux = ad.grad(lambda x: (ad.sum(x ** 2), "label"), has_aux=True)(be.array(x0))
    _close(_np(be, g), 2 * x0)
    assert aux == "label"


def test_unused_input_gets_zeros(be):
    g = ad.grad(lambda x, y: ad.sum(x * 2.0), argnums=(0, 1))(be.array([1.0, 2.0]), be.array([3.0]))
    _close(_np(be, g[0]), [2.0, 2.0])
    _close(_np(be, g[1]), [0.0])
    assert repr(ad._backend.device_of(g[1])) == repr(ad._backend.device_of(be.array([3.0])))


def test_vjp_closed_form_and_reuse(be):
    A = _rng(3).normal(size=(3, 4))
    x0 = _rng(4).normal(size=4)
    Ab = be.array(A)
    out, f_vjp = ad.vjp(lambda x: ad.tanh(ad.matmul(Ab, x)), be.array(x0))
    _close(_np(be, out), np.tanh(A @ x0))
    J = (1 - np.tanh(A @ x0) ** 2)[:, None] * A
    for seed in range(2):  # the vjp function can be called again
        w = _rng(10 + seed).normal(size=3)
        (gx,) = f_vjp(be.array(w))
        _close(_np(be, gx), w @ J)


def test_vjp_of_pytree_outputs(be):
    x0 = np.array([1.0, 2.0])
    out, f_vjp = ad.vjp(lambda x: {"a": x * 3.0, "b": (ad.sum(x ** 2),)}, be.array(x0))
    (g,) = f_vjp({"a": be.array([1.0, 1.0]), "b": (be.array(2.0),)})
    _close(_np(be, g), 3.0 + 2.0 * 2 * x0)


def test_jvp_closed_form(be):
    x0, t0 = _rng(5).normal(size=4), _rng(6).normal(size=4)
    out, tout = ad.jvp(lambda x: ad.exp(x) * ad.sum(x), (be.array(x0),), (be.array(t0),))
    _close(_np(be, out), np.exp(x0) * x0.sum())
    _close(_np(be, tout), np.exp(x0) * t0 * x0.sum() + np.exp(x0) * t0.sum())


@pytest.mark.parametrize("jac", [ad.jacrev, ad.jacfwd, ad.jacobian], ids=["jacrev", "jacfwd", "jacobian"])
def test_jacobian_closed_form_and_layout(be, jac):
    A = _rng(7).normal(size=(2, 3, 4))
    x0 = _rng(8).normal(size=(4, 2))
    Ab = be.array(A)
    J = jac(lambda x: ad.matmul(Ab, x))(be.array(x0))  # out (2, 3, 2), in (4, 2)
    assert tuple(J.shape) == (2, 3, 2, 4, 2)
    expected = np.einsum("bik,jl->bijkl", A, np.eye(2))
    _close(_np(be, J), expected)


def test_jacobian_tall_and_wide_agree(be):
    x0 = _rng(9).normal(size=3)

    def tall(x):
        return ad.concat([ad.sin(x), x * x[0], ad.cumulative_sum(x)])

    Jr = ad.jacrev(tall)(be.array(x0))
    Jf = ad.jacfwd(tall)(be.array(x0))
    assert tuple(Jf.shape) == (9, 3)
    _close(_np(be, Jr), _np(be, Jf))
    _close(_np(be, Jf)[:3], np.diag(np.cos(x0)))


def test_hessian_and_hvp_closed_form(be):
    Q = _rng(11).normal(size=(4, 4))
    x0, v0 = _rng(12).normal(size=4), _rng(13).normal(size=4)
    Qb = be.array(Q)

    def f(x):
        return 0.5 * ad.sum(x * ad.matmul(Qb, x)) + ad.sum(x ** 3)

    H = (Q + Q.T) / 2 + np.diag(6 * x0)
    _close(_np(be, ad.hessian(f)(be.array(x0))), H)
    hv = ad.hvp(f, be.array(x0), be.array(v0))
    assert tuple(hv.shape) == (4,)
    _close(_np(be, hv), H @ v0)


def test_float32_stays_float32_on_its_device(be):
    x = be.array(_rng(14).normal(size=3), "float32")
    t = be.array(_rng(15).normal(size=3), "float32")
    dev = repr(ad._backend.device_of(x))

    def f(x):
        return ad.sum(ad.tanh(x) * 2.0)

    results = [ad.grad(f)(x), ad.jvp(lambda x: ad.tanh(x) * 2.0, (x,), (t,))[1], ad.hvp(f, x, t),
               ad.jacfwd(ad.tanh)(x), ad.jacrev(ad.tanh)(x), ad.hessian(f)(x)]
    for r in results:
        assert r.dtype == x.dtype
        assert repr(ad._backend.device_of(r)) == dev
    _close(_np(be, results[0]), 2 * (1 - np.tanh(_np(be, x).astype(np.float64)) ** 2), tol=1e-5)


# ---------------------------------------------------------------------------
# pytrees
# ---------------------------------------------------------------------------

Params = collections.namedtuple("Params", ["w", "b"])


def test_grad_of_pytrees(be):
    w0, b0, x0 = _rng(16).normal(size=(3, 2)), _rng(17).normal(size=3), _rng(18).normal(size=2)
    xb = be.array(x0)

    def loss(p):
        h = ad.matmul(p["layers"][0].w, xb) + p["layers"][0].b
        return ad.sum(ad.tanh(h)) * p["scale"][0]

    params = {"layers": [Params(be.array(w0), be.array(b0))], "scale": (be.array(2.0),)}
    g = ad.grad(loss)(params)
    assert isinstance(g, dict) and isinstance(g["layers"], list) and isinstance(g["layers"][0], Params)
    sech2 = 1 - np.tanh(w0 @ x0 + b0) ** 2
    _close(_np(be, g["layers"][0].b), 2 * sech2)
    _close(_np(be, g["layers"][0].w), 2 * np.outer(sech2, x0))
    _close(_np(be, g["scale"][0]), np.tanh(w0 @ x0 + b0).sum())


def test_jvp_and_jacobian_of_pytrees(be):
    x0, y0 = np.array([1.0, 2.0]), np.array([3.0])

    def f(args):
        x, y = args["x"], args["y"]
        return (x * y, ad.sum(x) + y)

    primals = ({"x": be.array(x0), "y": be.array(y0)},)
    tangents = ({"x": be.array([1.0, 0.0]), "y": be.array([1.0])},)
    out, tout = ad.jvp(f, primals, tangents)
    _close(_np(be, tout[0]), [1 * 3 + 1 * 1, 0 * 3 + 2 * 1])
    _close(_np(be, tout[1]), [2.0])
    J = ad.jacfwd(f)(primals[0])  # a tree of the output's structure with leaves of the input's
    Jr = ad.jacrev(f)(primals[0])
    for tree in (J, Jr):
        _close(_np(be, tree[0]["x"]), np.diag([3.0, 3.0]))
        _close(_np(be, tree[0]["y"]), [[1.0], [2.0]])
        _close(_np(be, tree[1]["x"]), [[1.0, 1.0]])


# ---------------------------------------------------------------------------
# against torch.func on random inputs
# ---------------------------------------------------------------------------

CASES = {
    "mlp": (lambda ad_, x, w: ad_.sum(ad_.tanh(ad_.matmul(w, x)) ** 2),
            lambda tr, x, w: (tr.tanh(w @ x) ** 2).sum(), (4,), (3, 4)),
    "logsumexp": (lambda ad_, x, w: ad_.logsumexp(x * w[0, :], axis=0),
                  lambda tr, x, w: tr.logsumexp(x * w[0], dim=0), (5,), (2, 5)),
    "elementwise": (lambda ad_, x, w: ad_.sum(ad_.exp(ad_.sin(x) * w) / (1.0 + x * x)),
                    lambda tr, x, w: (tr.exp(tr.sin(x) * w) / (1.0 + x * x)).sum(), (3,), (3,)),
    "reductions": (lambda ad_, x, w: ad_.sum(ad_.prod(ad_.reshape(x, (2, 3)) + w, axis=1) * ad_.mean(x)),
                   lambda tr, x, w: ((x.reshape(2, 3) + w).prod(dim=1) * x.mean()).sum(), (6,), (3,)),
}


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name", list(CASES))
def test_against_torch_func(be, name):
    torch = _torch()
    from torch import func as tf

    f_ad, f_t, sx, sw = CASES[name]
    rng = _rng(hash(name) % 1000)
    x0, w0, v0 = rng.uniform(0.2, 1.2, size=sx), rng.uniform(-1, 1, size=sw), rng.normal(size=sx)
    xb, wb, vb = be.array(x0), be.array(w0), be.array(v0)
    tx, tw, tv = torch.tensor(x0), torch.tensor(w0), torch.tensor(v0)
    fa = lambda x, w: f_ad(ad, x, w)  # noqa: E731
    ft = lambda x, w: f_t(torch, x, w)  # noqa: E731

    ga, gw = ad.grad(fa, argnums=(0, 1))(xb, wb)
    ta, tw_ = tf.grad(ft, argnums=(0, 1))(tx, tw)
    _close(_np(be, ga), ta.numpy())
    _close(_np(be, gw), tw_.numpy())
    _close(_np(be, ad.hessian(fa)(xb, wb)), tf.hessian(ft)(tx, tw).numpy())
    _close(_np(be, ad.hvp(lambda x: fa(x, wb), xb, vb)), tf.hessian(ft)(tx, tw).numpy() @ v0)
    out, tout = ad.jvp(lambda x: fa(x, wb), (xb,), (vb,))
    t_out, t_tout = tf.jvp(lambda x: ft(x, tw), (tx,), (tv,))
    _close(_np(be, out), t_out.numpy())
    _close(_np(be, tout), t_tout.numpy())
    # a vector function: the gradient itself (Jacobian = Hessian) and vjp
    gfa = ad.grad(fa)
    gft = tf.grad(ft)
    _close(_np(be, ad.jacrev(gfa)(xb, wb)), tf.jacrev(gft)(tx, tw).numpy())
    _close(_np(be, ad.jacfwd(gfa)(xb, wb)), tf.jacfwd(gft)(tx, tw).numpy())
    _, vjp_a = ad.vjp(lambda x: gfa(x, wb), xb)
    _, vjp_t = tf.vjp(lambda x: gft(x, tw), tx)
    _close(_np(be, vjp_a(vb)[0]), vjp_t(tv)[0].numpy())


# ---------------------------------------------------------------------------
# composition
# ---------------------------------------------------------------------------


def test_grad_of_grad_closed_forms(be):
    x = be.array(1.5)
    f = lambda x: x ** 4  # noqa: E731
    _close(_np(be, ad.grad(f)(x)), 4 * 1.5 ** 3)
    _close(_np(be, ad.grad(ad.grad(f))(x)), 12 * 1.5 ** 2)
    _close(_np(be, ad.grad(ad.grad(ad.grad(f)))(x)), 24 * 1.5)
    _close(_np(be, ad.grad(ad.grad(ad.grad(ad.grad(f))))(x)), 24.0)
    g = lambda x: ad.sin(x) * ad.exp(x)  # noqa: E731
    d3 = ad.grad(ad.grad(ad.grad(g)))(be.array(0.7))
    _close(_np(be, d3), 2 * np.exp(0.7) * (np.cos(0.7) - np.sin(0.7)))


def test_jacobian_of_grad_is_the_hessian(be):
    x0 = _rng(19).normal(size=3)
    f = lambda x: ad.sum(ad.exp(x[0] * x) * ad.cos(x))  # noqa: E731
    xb = be.array(x0)
    H_rev = ad.jacobian(ad.grad(f))(xb)
    H_fwd = ad.jacfwd(ad.grad(f))(xb)
    H = ad.hessian(f)(xb)
    _close(_np(be, H_rev), _np(be, H))
    _close(_np(be, H_fwd), _np(be, H))
    _close(_np(be, H), _np(be, H).T)
    # third order, both ways
    T1 = ad.jacfwd(ad.hessian(f))(xb)
    T2 = ad.jacrev(ad.jacrev(ad.grad(f)))(xb)
    assert tuple(T1.shape) == (3, 3, 3)
    _close(_np(be, T1), _np(be, T2), tol=1e-9)


def test_forward_and_reverse_mix(be):
    x0, v0 = _rng(20).normal(size=3), _rng(21).normal(size=3)
    f = lambda x: ad.sum(ad.tanh(x) ** 3)  # noqa: E731
    xb, vb = be.array(x0), be.array(v0)
    H = _np(be, ad.hessian(f)(xb))
    # reverse over forward: the gradient of the directional derivative
    rof = ad.grad(lambda x: ad.jvp(f, (x,), (vb,))[1])(xb)
    _close(_np(be, rof), H @ v0)
    # forward over forward: second directional derivative
    fof = ad.jvp(lambda x: ad.jvp(f, (x,), (vb,))[1], (xb,), (vb,))[1]
    _close(_np(be, fof), v0 @ H @ v0)
    # vjp over jvp and jvp over vjp
    _, back = ad.vjp(lambda x: ad.jvp(ad.tanh, (x,), (vb,))[1], xb)
    t = np.tanh(x0)
    _close(_np(be, back(be.array(np.ones(3)))[0]), -2 * t * (1 - t ** 2) * v0)


def test_closure_over_outer_variable_no_perturbation_confusion(be):
    # d/dx [x * d/dy (x + y)] = 1 (JAX's perturbation-confusion example)
    out = ad.grad(lambda x: x * ad.grad(lambda y: x + y)(be.array(2.0)))(be.array(3.0))
    _close(_np(be, out), 1.0)
    # d/dw of sum(grad_y sum(w * y * y)) = 2 * y
    y0 = np.array([1.0, 2.0])
    g = ad.grad(lambda w: ad.sum(ad.grad(lambda y: ad.sum(w * y * y))(be.array(y0))))(be.array([3.0, 4.0]))
    _close(_np(be, g), 2 * y0)


def test_transform_inside_recording_returns_recorded_variables(be):
    """What anyad.jit tracing does: record everything, then differentiate the trace."""
    x = ad.Variable(be.array([0.5, 1.0]))
    with recording(ALL):
        value, g = ad.value_and_grad(lambda x: ad.sum(ad.sin(x) * x))(x)
    assert isinstance(value, ad.Variable) and isinstance(g, ad.Variable)
    assert not g.is_leaf  # the gradient is itself a graph over x
    # differentiating the recorded gradient gives the Hessian diagonal
    x2 = ad.Variable(be.array([0.5, 1.0]), requires_grad=True)
    with recording(ALL):
        g2 = ad.grad(lambda x: ad.sum(ad.sin(x) * x))(x2)
    ad.sum(g2).backward()
    x0 = np.array([0.5, 1.0])
    _close(_np(be, x2.grad), 2 * np.cos(x0) - x0 * np.sin(x0))


def test_transform_under_gradient_tracker(be):
    with ad.GradientTracker() as tracker:
        x = ad.Variable(be.array([1.0, 2.0]))
        g = ad.grad(lambda x: ad.sum(x ** 3))(x)
        s = ad.sum(g)
    _close(_np(be, g), 3 * np.array([1.0, 2.0]) ** 2)
    _close(_np(be, tracker.gradient(s, x)), 6 * np.array([1.0, 2.0]))


def test_jit_of_value_and_grad():
    if not hasattr(ad, "jit"):
        pytest.skip("anyad.jit is not built yet")
    f = lambda x: ad.sum(ad.tanh(x) ** 2)  # noqa: E731
    jf = ad.jit(ad.value_and_grad(f))
    for seed in range(3):  # replays on new values
        x0 = _rng(seed).normal(size=4)
        value, g = jf(x0)
        _close(np.asarray(value), np.sum(np.tanh(x0) ** 2))
        _close(np.asarray(g), 2 * np.tanh(x0) * (1 - np.tanh(x0) ** 2))


# ---------------------------------------------------------------------------
# no_grad, stop_gradient, detach, Variable.backward
# ---------------------------------------------------------------------------


def test_no_grad_context_and_decorators(be):
    x = ad.Variable(be.array([1.0, 2.0]), requires_grad=True)
    with ad.no_grad():
        y = x * 2.0
        with ad.no_grad():  # reentrant
            z = x * 3.0
        w = ad.sin(x)
    assert y.is_leaf and not y.requires_grad and z.is_leaf and w.is_leaf
    assert not (x * 2.0).is_leaf  # recording is back

    @ad.no_grad
    def plain(v):
        return v * 2.0

    @ad.no_grad()
    def called(v):
        return v * 2.0

    assert plain(x).is_leaf and called(x).is_leaf
    assert plain.__name__ == "plain"
    # transforms inside no_grad still differentiate their own function
    with ad.no_grad():
        g = ad.grad(lambda v: ad.sum(v * v))(be.array([1.0, 3.0]))
    _close(_np(be, g), [2.0, 6.0])


def test_no_grad_is_local_to_a_thread():
    x = ad.Variable([1.0], requires_grad=True)
    seen = {}
    inside, done = threading.Event(), threading.Event()

    def other():
        inside.wait()
        seen["other"] = (x * 2.0).is_leaf
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with ad.no_grad():
        inside.set()
        done.wait()
        seen["here"] = (x * 2.0).is_leaf
    t.join()
    assert seen == {"other": False, "here": True}


def test_stop_gradient_and_detach(be):
    x0 = np.array([2.0, 3.0])
    g = ad.grad(lambda x: ad.sum(x * ad.stop_gradient(x)))(be.array(x0))
    _close(_np(be, g), x0)
    x = ad.Variable(be.array(x0), requires_grad=True)
    d = (x * 2.0).detach()
    assert d.is_leaf and not d.requires_grad
    _close(_np(be, d), 2 * x0)
    ad.sum(x * d).backward()
    _close(_np(be, x.grad), 2 * x0)


def test_backward_accumulates_on_leaves_that_require_grad(be):
    x = ad.Variable(be.array([1.0, 2.0]), requires_grad=True)
    c = ad.Variable(be.array([5.0, 7.0]))  # does not require grad
    ad.sum(x * x * c).backward()
    _close(_np(be, x.grad), [10.0, 28.0])
    assert c.grad is None
    ad.sum(x * 3.0).backward()  # accumulates
    _close(_np(be, x.grad), [13.0, 31.0])
    x.grad = None
    (x * x).backward(be.array([1.0, -1.0]))  # explicit seed
    _close(_np(be, x.grad), [2.0, -4.0])
    assert not isinstance(x.grad, ad.Variable)
    # the graph is freed after backward unless retained
    y = ad.sum(ad.sin(x))
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(ad.GraphFreedError):
        y.backward()


def test_backward_create_graph_gives_a_differentiable_grad(be):
    x = ad.Variable(be.array([1.0, 2.0]), requires_grad=True)
    ad.sum(x ** 3).backward(create_graph=True)
    g = x.grad
    assert isinstance(g, ad.Variable) and not g.is_leaf
    x.grad = None
    ad.sum(g).backward()
    _close(_np(be, x.grad), [6.0, 12.0])


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_errors_name_the_problem():
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"grad: f must return a scalar.*\(2,\)"):
        ad.grad(lambda x: x * 2.0)(x)
    with pytest.raises(TypeError, match="input 0 is numpy int64"):
        ad.grad(lambda x: ad.sum(x))(np.array([1, 2]))
    with pytest.raises(ValueError, match="argnums 3 is out of range for 1"):
        ad.grad(lambda x: ad.sum(x), argnums=3)(x)
    with pytest.raises(TypeError, match="has_aux=True, f must return a pair"):
        ad.grad(lambda x: ad.sum(x), has_aux=True)(x)
    with pytest.raises(ValueError, match=r"cotangent 0 has shape \(3,\), the output has shape \(2,\)"):
        ad.vjp(lambda x: x * 2.0, x)[1](np.ones(3))
    with pytest.raises(ValueError, match="structure"):
        ad.vjp(lambda x: x * 2.0, x)[1]((np.ones(2), np.ones(2)))
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(3,\), its primal \(2,\)"):
        ad.jvp(lambda x: x * 2.0, (x,), (np.ones(3),))
    with pytest.raises(TypeError, match="tangent 0 is numpy float32"):
        ad.jvp(lambda x: x * 2.0, (x,), (np.ones(2, dtype=np.float32),))
    with pytest.raises(TypeError, match="tuples"):
        ad.jvp(lambda x: x * 2.0, x, x)
    with pytest.raises(ValueError, match="structure"):
        ad.jvp(lambda x, y: x * y, (x, x), (x,))
    with pytest.raises(TypeError, match="real floating scalar"):
        ad.grad(lambda x: ad.sum(x) > 0)(x)


# ---------------------------------------------------------------------------
# functions written against the Array API standard
# ---------------------------------------------------------------------------


def _standard_lse(x):
    from array_api_compat import array_namespace

    xp = array_namespace(x)
    m = xp.max(x)
    return xp.log(xp.sum(xp.exp(x - m))) + m


def _standard_mlp(params, x):
    from array_api_compat import array_namespace

    xp = array_namespace(x, params["w1"], params["w2"])  # one namespace: x is handed in as a constant
    h = xp.tanh(xp.matmul(params["w1"], x) + params["b1"])
    return xp.sum(xp.matmul(params["w2"], h) ** 2)


def _needs_namespace():
    if not hasattr(ad.Variable, "__array_namespace__"):
        pytest.skip("anyad's Array API namespace is not present")


def test_standard_written_functions_are_differentiable(be):
    _needs_namespace()
    x0 = np.array([0.1, 0.5, -0.3])
    g = ad.grad(_standard_lse)(be.array(x0))
    _close(_np(be, g), np.exp(x0) / np.exp(x0).sum())
    H = ad.hessian(_standard_lse)(be.array(x0))
    s = np.exp(x0) / np.exp(x0).sum()
    _close(_np(be, H), np.diag(s) - np.outer(s, s))
    rng = _rng(30)
    p0 = {"w1": rng.normal(size=(4, 3)), "b1": rng.normal(size=4), "w2": rng.normal(size=(2, 4))}
    params = {k: be.array(v) for k, v in p0.items()}
    g = ad.grad(_standard_mlp)(params, be.array(x0))
    h = np.tanh(p0["w1"] @ x0 + p0["b1"])
    out = p0["w2"] @ h
    gw2 = 2 * np.outer(out, h)
    gh = 2 * p0["w2"].T @ out * (1 - h ** 2)
    _close(_np(be, g["w2"]), gw2)
    _close(_np(be, g["b1"]), gh)
    _close(_np(be, g["w1"]), np.outer(gh, x0))
    # and forward mode through the same code (a closure holds Variables: one namespace)
    const = {k: ad.Variable(v) for k, v in params.items()}
    _, t = ad.jvp(lambda x: _standard_mlp(const, x), (be.array(x0),), (be.array(np.ones(3)),))
    gx = ad.grad(_standard_mlp, argnums=1)(params, be.array(x0))
    _close(_np(be, t), _np(be, gx).sum())
