"""Errors that say the right thing (issue 17), on every backend where they apply:
a value taken out of the graph, NumPy functions on Variables (routed to anyad's,
or an error naming the closest one), ``backward()`` without a seed or without a
leaf, Python data, ``nn.Linear`` and ``matmul`` shape errors, ``hessian``'s name.
Also ``anyad.einsum``, checked against ``torch.einsum`` at first and second order.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import anyad as ad
from anyad.testing import gradcheck

RNG = np.random.default_rng(17)


def _data(*shape):
    return RNG.standard_normal(shape)


# -- a value taken out of the graph ---------------------------------------------


@pytest.mark.parametrize("f", [lambda x: math.sin(x), lambda x: float(x) * 2.0, lambda x: x.item()],
                         ids=["math.sin", "float", "item"])
def test_grad_of_a_python_number_says_float_left_the_graph(be, f):
    with be.use():
        with pytest.raises(TypeError) as info:
            ad.grad(f)(be.array(0.5))
    msg = str(info.value)
    assert msg.startswith("anyad.grad: f returned a Python float")
    for words in ("outside the graph", "float(x)", "math.sin", "anyad.sin"):
        assert words in msg
    assert "must return a scalar" not in msg  # the old, misleading reason


def test_jacobian_of_a_python_number_says_the_same():
    with pytest.raises(TypeError, match=r"anyad\.jacrev: f returned a Python float .*anyad\.sin"):
        ad.jacobian(lambda x: float(x[0]))(np.array([1.0, 2.0]))


# -- NumPy functions on Variables ------------------------------------------------


def _spd(n=3):
    a = _data(n, n)
    return a @ a.T + n * np.eye(n)


# (label, numpy function of one array, input) -- each runs anyad's counterpart
ROUTED = [
    ("det", np.linalg.det, _spd()),
    ("inv", np.linalg.inv, _spd()),
    ("slogdet", lambda a: np.linalg.slogdet(a)[1], _spd()),
    ("norm", np.linalg.norm, _data(3, 4)),
    ("norm-vector", np.linalg.norm, _data(5)),
    ("norm-ord1", lambda a: np.linalg.norm(a, ord=1), _data(5)),
    ("norm-axis", lambda a: np.linalg.norm(a, axis=1), _data(3, 4)),
    ("norm-nuc", lambda a: np.linalg.norm(a, ord="nuc"), _data(3, 4)),
    ("norm-axes-keepdims", lambda a: np.linalg.norm(a, axis=(0, 2), keepdims=True), _data(2, 3, 4)),
    ("vector_norm", lambda a: np.linalg.vector_norm(a, axis=-1), _data(3, 4)),
    ("matrix_norm", np.linalg.matrix_norm, _data(2, 3, 4)),
    ("trace", np.trace, _data(3, 3)),
    ("trace-axes", lambda a: np.trace(a, offset=1, axis1=1, axis2=2), _data(3, 4, 2)),
    ("linalg.trace", np.linalg.trace, _data(2, 3, 3)),
    ("diagonal", lambda a: np.diagonal(a, axis1=0, axis2=2), _data(3, 2, 3)),
    ("diag-2d", lambda a: np.diag(a, k=-1), _data(3, 3)),
    ("diag-1d", lambda a: np.diag(a, k=1), _data(3)),
    ("diag-1d-neg", lambda a: np.diag(a, k=-2), _data(2)),
    ("einsum", lambda a: np.einsum("ij,kj->ik", a, a), _data(2, 3)),
    ("solve", lambda a: np.linalg.solve(a, np.ones(3)), _spd()),
    ("cholesky", lambda a: np.linalg.cholesky((a + a.T) / 2), _spd()),  # symmetric in every direction
    ("eigvalsh", lambda a: np.linalg.eigvalsh((a + a.T) / 2), _spd()),
    ("svdvals", lambda a: np.linalg.svd(a, compute_uv=False), _data(3, 2)),
    ("pinv", np.linalg.pinv, _data(3, 2)),
    ("matrix_power", lambda a: np.linalg.matrix_power(a, 3), _data(3, 3)),
    ("multi_dot", lambda a: np.linalg.multi_dot([a, a.T, a]), _data(2, 3)),
    ("cross", lambda a: np.cross(a, np.flip(a, axis=0)), _data(4, 3)),
    ("vdot", lambda a: np.vdot(a, a), _data(2, 3)),
    ("cumprod", np.cumprod, _data(2, 3)),
    ("cumprod-axis", lambda a: np.cumprod(a, axis=1), _data(2, 3)),
    ("diff", lambda a: np.diff(a, n=2), _data(2, 5)),
    ("sort", lambda a: np.sort(a, axis=0), _data(4, 3)),
    ("append", lambda a: np.append(a, a), _data(2, 3)),
    ("take_along_axis", lambda a: np.take_along_axis(a, np.array([[1, 0, 1]]), axis=0), _data(2, 3)),
]


@pytest.mark.parametrize("label,f,a", ROUTED, ids=[r[0] for r in ROUTED])
def test_numpy_functions_run_their_anyad_counterpart(be, label, f, a):
    if be.name == "dask" and label == "norm-nuc":
        pytest.skip("dask's svd needs chunks along one axis only; these test arrays are chunked by 2 on both")
    v = ad.Variable(be.array(a), requires_grad=True)
    out = f(v)
    assert isinstance(out, ad.Variable) and out.requires_grad, label  # the graph was kept
    np.testing.assert_allclose(be.to_numpy(out), f(a), rtol=1e-10, atol=1e-12)
    # differences of anyad's function (gradcheck hands f raw arrays: NumPy would run its own)
    assert gradcheck(lambda x: f(x if isinstance(x, ad.Variable) else ad.Variable(x)), [be.array(a)])


def test_numpy_sort_argsort_argmax_and_fft(be):
    a = _data(5)
    v = ad.Variable(be.array(a))
    np.testing.assert_array_equal(be.to_numpy(np.argsort(v)), np.argsort(a))
    assert int(be.to_numpy(np.argmax(v))) == int(np.argmax(a))
    np.testing.assert_allclose(be.to_numpy(np.fft.fft(v)), np.fft.fft(a), atol=1e-12)
    np.testing.assert_allclose(be.to_numpy(np.fft.irfft(np.fft.rfft(v), n=5)), a, atol=1e-12)
    b = _data(2, 4)
    np.testing.assert_allclose(be.to_numpy(np.fft.fft2(ad.Variable(be.array(b)))), np.fft.fft2(b), atol=1e-12)
    assert gradcheck(lambda x: ad.real(np.fft.fft(x if isinstance(x, ad.Variable) else ad.Variable(x))) ** 2,
                     [be.array(a)])


@pytest.mark.parametrize("call,closest", [
    (lambda v: np.median(v), "anyad.sort"),
    (lambda v: np.linalg.eig(v), "anyad.linalg.eigh"),
    (lambda v: np.linalg.lstsq(v, v), "anyad.linalg.pinv"),
    (lambda v: np.nanmax(v), "anyad.max"),
    (lambda v: np.fmod(v, 2.0), "anyad.remainder"),
    (lambda v: np.nancumsum(v), "anyad.cumsum"),  # no table entry: the nearest name
], ids=["median", "eig", "lstsq", "nanmax", "fmod", "nearest-name"])
def test_numpy_functions_without_counterpart_name_the_closest(be, call, closest):
    if closest == "anyad.cumsum":
        closest = "anyad.cumulative_sum"
    v = ad.Variable(be.array(_spd()), requires_grad=True)
    with pytest.raises(TypeError) as info:
        call(v)
    msg = str(info.value)
    assert "has no differentiable anyad counterpart" in msg
    assert f"the closest is {closest}" in msg
    assert ".value" in msg


def test_numpy_function_with_nothing_close_points_to_the_standard():
    with pytest.raises(TypeError, match=r"numpy\.partition has no .* Array API standard's names"):
        np.partition(ad.Variable([3.0, 1.0, 2.0], requires_grad=True), 1)


# -- anyad.einsum against torch.einsum, first and second order ---------------------

EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 2)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->ji", [(2, 3)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("i,i,i->i", [(3,), (3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("iij->ij", [(3, 3, 2)]),
    ("ab,cd->abcd", [(2, 1), (1, 3)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_matches_torch_to_second_order(be, spec, shapes):
    torch = pytest.importorskip("torch")
    data = [_data(*s) for s in shapes]
    out_np = np.einsum(spec, *data)
    w, u = _data(*out_np.shape), [_data(*s) for s in shapes]
    # torch: y = einsum, first order g_k = d sum(w y)/d x_k, second order d sum(g_0 u_0)/d x_k
    ts = [torch.tensor(d, requires_grad=True) for d in data]
    ty = torch.einsum(spec, *ts)
    tg = torch.autograd.grad((ty * torch.tensor(w)).sum(), ts, create_graph=True)
    if tg[0].requires_grad:
        t2 = torch.autograd.grad((tg[0] * torch.tensor(u[0])).sum(), ts, allow_unused=True)
    else:  # f is linear in x_0: no second derivative
        t2 = [None] * len(ts)
    xs = [ad.Variable(be.array(d), requires_grad=True) for d in data]
    y = ad.einsum(spec, *xs)
    np.testing.assert_allclose(be.to_numpy(y), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = ad.backprop([ad.sum(y * be.array(w))], [None], xs, create_graph=True)
    for gk, tk in zip(g, tg):
        np.testing.assert_allclose(be.to_numpy(gk), tk.detach().numpy(), rtol=1e-12, atol=1e-12)
    g2 = ad.backprop([ad.sum(g[0] * be.array(u[0]))], [None], xs)
    for gk, tk, d in zip(g2, t2, data):
        expect = np.zeros_like(d) if tk is None else tk.numpy()
        got = np.zeros(expect.shape) if gk is None else be.to_numpy(gk)
        np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-12)


def test_einsum_forward_mode_and_errors(be):
    a, b = be.array(_data(2, 3)), be.array(_data(3, 2))
    assert gradcheck(lambda x, y: ad.einsum("ij,jk->ik", x, y), [a, b])  # forward mode checked too
    with pytest.raises(ValueError, match=r"anyad\.einsum: index 'j' has size 3 in one operand and 2"):
        ad.einsum("ij,jk", ad.Variable(a), ad.Variable(a))
    with pytest.raises(ValueError, match=r"anyad\.einsum: operand 0 has 2 axes but 'ijk' names 3"):
        ad.einsum("ijk", ad.Variable(a))
    with pytest.raises(ValueError, match=r"the output names 'z', which no operand has"):
        ad.einsum("ij->z", ad.Variable(a))


# -- backward ---------------------------------------------------------------------


def test_backward_of_a_non_scalar_asks_for_a_seed(be):
    x = ad.Variable(be.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\) needs a seed \(torch's gradient=\).*ad\.sum\(y\)"):
        (x * x).backward()
    (x * x).backward(gradient=be.array([1.0, 10.0]))  # torch's keyword
    np.testing.assert_allclose(be.to_numpy(x.grad), [2.0, 40.0])
    x.grad = None
    ad.reshape(ad.sum(x * x), (1, 1)).backward()  # one element: the seed of ones is implied, as in torch
    np.testing.assert_allclose(be.to_numpy(x.grad), [2.0, 4.0])


def test_backward_reaching_no_leaf_warns(be):
    x = ad.Variable(be.array([1.0, 2.0]))
    with pytest.warns(UserWarning, match=r"accumulated no gradient: this Variable is a constant"):
        ad.sum(x * x).backward()
    w = ad.Variable(be.array([1.0, 2.0]), requires_grad=True)
    with pytest.warns(UserWarning, match=r"no leaf it depends on requires grad"):
        with ad.GradientTracker():
            y = ad.sum(x * 3.0)
        y.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ad.sum(w * x).backward()  # reaches w: no warning
    assert x.grad is None


# -- Python data --------------------------------------------------------------------


def test_grad_of_a_python_list_says_it_is_a_pytree(be):
    with be.use():
        with pytest.raises(TypeError) as info:
            ad.grad(lambda x: ad.sum(x ** 2))([1.0, 2.0])
    msg = str(info.value)
    for words in ("anyad.grad", "Python list of numbers", "pytree", "anyad.asarray([1.0, 2.0])"):
        assert words in msg
    with be.use():  # what the message says to do works
        np.testing.assert_allclose(be.to_numpy(ad.grad(lambda x: ad.sum(x ** 2))(ad.asarray([1.0, 2.0]))),
                                   [2.0, 4.0])


@pytest.mark.parametrize("data,culprit", [("abc", "str 'abc'"), (["a", "b"], "str 'a'"),
                                          ([[1.0], ["x"]], "str 'x'"), (None, "NoneType"),
                                          ({"a": 1}, "dict")])
def test_variable_refuses_non_numeric_data(be, data, culprit):
    with be.use():
        with pytest.raises(TypeError) as info:
            ad.Variable(data)
    assert str(info.value).startswith("anyad.Variable: the data must be numbers")
    assert culprit in str(info.value)


def test_variable_refuses_text_arrays():
    with pytest.raises(TypeError, match=r"anyad\.Variable: numpy str32 \(2,\) on cpu is not a numeric array"):
        ad.Variable(np.array(["a", "b"]))


# -- shapes: nn.Linear, matmul, hessian --------------------------------------------------


def test_linear_names_itself_in_features_and_the_input_shape(be):
    lin = ad.nn.Linear(5, 2, rng=0)
    x = be.array(np.ones((4, 3)), dtype="float32")
    with pytest.raises(ValueError) as info:  # the shape is checked first, whatever the backend
        lin(x)
    msg = str(info.value)
    for words in ("anyad.nn.Linear(in_features=5", "in_features=5", "(4, 3)"):
        assert words in msg


MATMUL_MESSAGES = [
    ((4, 3), (5, 2), "anyad.matmul: shapes (4, 3) and (5, 2) do not match: the last axis of x1 (3) must "
                     "equal the second-to-last axis of x2 (5)"),
    ((4, 3), (5,), "anyad.matmul: shapes (4, 3) and (5,) do not match: the last axis of x1 (3) must "
                   "equal the only axis of x2 (5)"),
    ((2, 4, 3), (3, 3, 2), "anyad.matmul: shapes (2, 4, 3) and (3, 3, 2) do not match: their batch "
                           "dimensions (2,) and (3,) do not broadcast"),
]


@pytest.mark.parametrize("sa,sb,message", MATMUL_MESSAGES, ids=["matrix", "vector", "batch"])
def test_matmul_error_is_one_message_on_every_backend(be, sa, sb, message):
    a, b = ad.Variable(be.array(np.ones(sa))), ad.Variable(be.array(np.ones(sb)))
    for call in (lambda: ad.matmul(a, b), lambda: a @ b, lambda: np.matmul(a, b)):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == message


def test_hessian_of_a_non_scalar_names_hessian(be):
    with pytest.raises(TypeError) as info:
        ad.hessian(lambda x: x ** 2)(be.array([1.0, 2.0]))
    assert str(info.value).startswith("anyad.hessian: f must return a scalar")
    assert "anyad.grad" not in str(info.value)
    h = ad.hessian(lambda x: x[0] ** 2 * x[1])(be.array([1.0, 3.0]))  # and it still works
    np.testing.assert_allclose(be.to_numpy(h), [[6.0, 2.0], [2.0, 0.0]])


def test_the_other_routed_numpy_functions(be):
    a = _spd()
    v = ad.Variable(be.array(a), requires_grad=True)
    w, q = np.linalg.eigh(v)
    np.testing.assert_allclose(be.to_numpy(w), np.linalg.eigvalsh(a), rtol=1e-10)
    np.testing.assert_allclose(be.to_numpy(q @ ad.matrix_transpose(q * w[None, :])), a, atol=1e-10)
    qq, r = np.linalg.qr(v)
    np.testing.assert_allclose(be.to_numpy(qq @ r), a, atol=1e-10)
    if be.name != "dask":  # dask's svd wants chunks along one axis; its matrix_rank passes compute_uv
        u, s, vh = np.linalg.svd(v, full_matrices=False)
        np.testing.assert_allclose(be.to_numpy((u * s[None, :]) @ vh), a, atol=1e-10)
        assert int(be.to_numpy(np.linalg.matrix_rank(v))) == 3
    x = ad.Variable(be.array([0.5, -1.5, 2.0]))
    assert int(be.to_numpy(np.argmin(x))) == 1
    assert bool(be.to_numpy(np.all(x > -2.0))) and not bool(be.to_numpy(np.any(x > 3.0)))
    np.testing.assert_array_equal(be.to_numpy(np.searchsorted(ad.Variable(be.array([1.0, 2.0, 3.0])),
                                                              be.array([2.5]))), [2])
    np.testing.assert_allclose(be.to_numpy(np.real(x)), [0.5, -1.5, 2.0])
    np.testing.assert_allclose(be.to_numpy(np.imag(x)), [0.0, 0.0, 0.0])
    if hasattr(np, "cumulative_sum"):
        np.testing.assert_allclose(be.to_numpy(np.cumulative_sum(x, include_initial=True)), [0, 0.5, -1, 1])
        np.testing.assert_allclose(be.to_numpy(np.cumulative_prod(x)), [0.5, -0.75, -1.5])
    b = _data(2, 4)
    vb = ad.Variable(be.array(b))
    for name in ("ifft", "hfft", "ihfft", "rfft", "fftn", "ifftn", "rfftn", "fft2", "ifft2", "rfft2",
                 "fftshift", "ifftshift"):
        got, want = getattr(np.fft, name)(vb), getattr(np.fft, name)(b)
        if np.iscomplexobj(want):  # in parts: torch's ihfft is a conjugate view, which .numpy() refuses
            got, want = ad.stack([ad.real(got), ad.imag(got)]), np.stack([want.real, want.imag])
        np.testing.assert_allclose(be.to_numpy(got), want, atol=1e-12, err_msg=name)
    c = np.fft.rfft2(b)
    for name in ("irfftn", "irfft2"):
        vc = ad.Variable(be.array(c, dtype="complex128"))
        np.testing.assert_allclose(be.to_numpy(getattr(np.fft, name)(vc, s=(2, 4), axes=(0, 1))),
                                   getattr(np.fft, name)(c, s=(2, 4), axes=(0, 1)), atol=1e-12, err_msg=name)
    assert gradcheck(lambda x: ad.real(np.fft.ifft2(x if isinstance(x, ad.Variable) else ad.Variable(x))),
                     [be.array(b)])


UFUNC_DATA = [
    (np.conjugate, [1.5, -2.0]), (np.copysign, [1.5, -2.0], [-1.0, 1.0]),
    (np.nextafter, [1.0, 2.0], [2.0, 1.0]),
    (np.signbit, [1.5, -2.0]),
]
INT_UFUNCS = [np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.left_shift, np.right_shift]


def test_the_other_routed_ufuncs(be):
    for uf, *args in UFUNC_DATA:
        got = uf(*[ad.Variable(be.array(a)) for a in args])
        np.testing.assert_array_equal(be.to_numpy(got), uf(*[np.array(a) for a in args]), err_msg=uf.__name__)
    a, b = np.array([12, 7]), np.array([3, 1])
    for uf in INT_UFUNCS:
        got = uf(ad.Variable(be.array(a, dtype="int64")), ad.Variable(be.array(b, dtype="int64")))
        np.testing.assert_array_equal(be.to_numpy(got), uf(a, b), err_msg=uf.__name__)
    inverted = np.invert(ad.Variable(be.array(a, dtype="int64")))
    np.testing.assert_array_equal(be.to_numpy(inverted), np.invert(a))
    x = ad.Variable(be.array([1.5, -2.0]), requires_grad=True)
    ad.sum(np.copysign(x, be.array([-1.0, -1.0])) + np.conjugate(x)).backward()
    np.testing.assert_allclose(be.to_numpy(x.grad), [0.0, 2.0])  # d copysign(x, -1)/dx = -sign(x)


#: NumPy functions and ufuncs whose values and gradients are checked here
#: (tests/test_numpy_interop.py counts them as tested)
ROUTED_HERE = {
    "all", "any", "append", "argmax", "argmin", "argsort", "cholesky", "cross", "cumprod", "cumulative_prod",
    "cumulative_sum", "det", "diag", "diagonal", "diff", "eigh", "eigvalsh", "einsum", "fft", "fft2", "fftn",
    "fftshift", "hfft", "ifft", "ifft2", "ifftn", "ifftshift", "ihfft", "imag", "inv", "irfft", "irfft2",
    "irfftn", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "real", "rfft",
    "rfft2", "rfftn", "searchsorted", "slogdet", "solve", "sort", "svd", "svdvals", "take_along_axis",
    "trace", "vdot", "vector_norm",
    "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift", "invert", "conjugate",
    "copysign", "nextafter", "signbit",
}
