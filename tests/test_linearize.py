"""linearize (a reusable JVP: f runs once) and linear_transpose (the transpose
of a linear f, checked for linearity): against jvp / vjp / closed forms on
every backend, torch.func.linearize where torch is present, composition
(second order), pytrees, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad

# torch.func's transforms warn about torch.jit.script and fx internally (torch's own warnings)
pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Attempted to insert a get_attr Node:UserWarning")]


def _close(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=tol, atol=tol)


def _f(x, y):
    return ad.sin(x) * y + ad.matmul(ad.reshape(x, (1, 3)), ad.reshape(y, (3, 1)))[0, 0]


def test_linearize_matches_jvp_and_runs_f_once(be):
    rng = np.random.default_rng(0)
    x, y = be.array(rng.standard_normal(3)), be.array(rng.standard_normal(3))
    calls = []

    def f(x, y):
        calls.append(1)
        return _f(x, y)

    out, f_jvp = ad.linearize(f, x, y)
    _close(be.to_numpy(out), be.to_numpy(_f(x, y)))
    for k in range(4):
        tx, ty = be.array(rng.standard_normal(3)), be.array(rng.standard_normal(3))
        t = f_jvp(tx, ty)
        assert type(t) is type(x)
        _close(be.to_numpy(t), be.to_numpy(ad.jvp(_f, (x, y), (tx, ty))[1]))
    assert len(calls) == 1  # f ran once, however many times f_jvp was called
    # closed form: d/dx = cos(x) y + y (outer), d/dy = sin(x) + x
    xn, yn, e0 = be.to_numpy(x), be.to_numpy(y), np.eye(3)[0]
    _close(be.to_numpy(f_jvp(be.array(e0), be.array(np.zeros(3)))), np.cos(xn) * yn * e0 + yn[0])


def test_linearize_vs_torch_func():
    torch = pytest.importorskip("torch")
    func = pytest.importorskip("torch.func")
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    t = torch.linspace(0.5, 2, 5, dtype=torch.float64)
    _, ref = func.linearize(lambda x: torch.tanh(x) * x.sum(), x)
    _, ours = ad.linearize(lambda x: ad.tanh(x) * ad.sum(x), x)
    _close(ours(t).numpy(), ref(t).numpy())


def test_linearize_second_order(be):
    """grad through jvp_fn: the recorded graph's rules record when nested."""
    x0 = be.array([0.3, -0.7, 1.1])
    t = be.array([1.0, 2.0, -1.0])

    def via_linearize(x):
        return ad.sum(ad.linearize(lambda x: ad.exp(x) * ad.sum(x * x), x)[1](t))

    def via_jvp(x):
        return ad.sum(ad.jvp(lambda x: ad.exp(x) * ad.sum(x * x), (x,), (t,))[1])

    _close(be.to_numpy(ad.grad(via_linearize)(x0)), be.to_numpy(ad.grad(via_jvp)(x0)))
    _close(be.to_numpy(ad.hessian(via_linearize)(x0)), be.to_numpy(ad.hessian(via_jvp)(x0)), 1e-10)
    # differentiating jvp_fn's output with respect to the tangent: the Jacobian itself
    _, f_jvp = ad.linearize(lambda x: ad.exp(x) * ad.sum(x * x), x0)
    _close(be.to_numpy(ad.jacrev(f_jvp)(t)),
           be.to_numpy(ad.jacrev(lambda x: ad.exp(x) * ad.sum(x * x))(x0)))


def test_linearize_pytrees_and_aux():
    p = {"w": np.array([1.0, 2.0]), "b": np.array(0.5)}
    out, f_jvp, aux = ad.linearize(lambda p: ({"y": p["w"] * p["b"]}, "aux"), p, has_aux=True)
    assert aux == "aux"
    t = f_jvp({"w": np.array([1.0, 0.0]), "b": np.array(1.0)})
    _close(t["y"], [0.5 + 1.0, 2.0])


def test_linearize_bad_tangents():
    _, f_jvp = ad.linearize(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(2,\), its primal \(3,\)"):
        f_jvp(np.ones(2))
    with pytest.raises(TypeError, match="tangent 0 is numpy float32"):
        f_jvp(np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="one tangent per primal"):
        f_jvp(np.ones(3), np.ones(3))


# ---------------------------------------------------------------------------
# linear_transpose
# ---------------------------------------------------------------------------


def test_linear_transpose_is_the_adjoint(be):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 3))
    Ab = be.array(A)

    def f(x, y):  # linear in (x, y) jointly
        return ad.matmul(Ab, x) * 2.0 - ad.concat([y, ad.sum(y, keepdims=True)])

    f_t = ad.linear_transpose(f, be.array(np.zeros(3)), be.array(np.zeros(3)))
    c = rng.standard_normal(4)
    gx, gy = f_t(be.array(c))
    _close(be.to_numpy(gx), 2 * A.T @ c)
    _close(be.to_numpy(gy), -(c[:3] + c[3]))
    # <f_t(c), t> == <c, f(t)> for random t
    tx, ty = rng.standard_normal(3), rng.standard_normal(3)
    lhs = be.to_numpy(gx) @ tx + be.to_numpy(gy) @ ty
    _close(lhs, c @ be.to_numpy(f(be.array(tx), be.array(ty))))


@pytest.mark.parametrize("f, what", [
    (lambda x: x * x, "multiply with inputs-dependent operands at positions [0, 1]"),
    (lambda x: x + 1.0, "f is affine, not linear"),
    (lambda x: ad.exp(x), "it applies exp"),
    (lambda x: ad.matmul(ad.reshape(x, (2, 1)), ad.reshape(x, (1, 2))), "matmul"),
])
def test_linear_transpose_refuses_nonlinear(f, what):
    with pytest.raises(ValueError, match=r"anyad.linear_transpose: f is not linear .*" + what.replace("[", r"\[")
                       .replace("]", r"\]")):
        ad.linear_transpose(f, np.zeros(2))


def test_linear_transpose_closure_may_be_nonlinear():
    """Only the dependence on the primals counts: A = exp(B) is a constant."""
    B = np.array([[0.0, 1.0], [2.0, 0.5]])
    f_t = ad.linear_transpose(lambda x: ad.matmul(ad.exp(B), x) / 3.0, np.zeros(2))
    _close(f_t(np.array([1.0, -1.0]))[0], np.exp(B).T @ np.array([1.0, -1.0]) / 3.0)


def test_linear_transpose_bad_cotangent():
    f_t = ad.linear_transpose(lambda x: x * 2.0, np.zeros(2))
    with pytest.raises(ValueError, match=r"cotangent 0 has shape \(3,\), the output has shape \(2,\)"):
        f_t(np.ones(3))
