"""anyad.to_backend / Variable.to: moving data between libraries, differentiably.

References: closed forms, torch's autograd, and central differences (gradcheck).
"""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.testing import gradcheck, gradgradcheck

strict = pytest.importorskip("array_api_strict")


def _target(be):
    """(backend spec, device) that names ``be``'s library for to_backend."""
    return (be.xp if be.name != "numpy" else "numpy"), be.device


def test_gradient_flows_back_from_every_backend(be):
    x0 = np.array([0.3, -1.2, 2.0])
    x = ad.Variable(x0, requires_grad=True)
    spec, device = _target(be)
    y = ad.to_backend(x, spec, device)
    assert type(y.value) is type(be.array([1.0]))
    if be.device is not None:
        assert y.device == be.device
    loss = ad.sum(ad.sin(y) * y)
    loss.backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, np.cos(x0) * x0 + np.sin(x0), rtol=1e-12)


def test_gradient_flows_back_to_every_backend(be):
    x0 = np.array([0.3, -1.2, 2.0])
    x = ad.Variable(be.array(x0), requires_grad=True)
    y = x.to("numpy")
    assert isinstance(y.value, np.ndarray)
    ad.sum(ad.exp(y) * 2.0).backward()
    assert type(x.grad) is type(x.value)
    assert ad._backend.device_of(x.grad) == ad._backend.device_of(x.value)
    np.testing.assert_allclose(be.to_numpy(x.grad), 2.0 * np.exp(x0), rtol=1e-12)


def test_matches_torch_autograd_across_libraries():
    torch = pytest.importorskip("torch")
    w0 = np.array([[0.5, -1.0], [2.0, 0.1]])
    v0 = np.array([[1.0], [3.0]])
    w = ad.Variable(w0, requires_grad=True)
    loss = ad.sum(ad.tanh(w.to("torch") @ ad.Variable(torch.tensor(v0))) ** 2)
    loss.backward()
    wt = torch.tensor(w0, requires_grad=True)
    torch.sum(torch.tanh(wt @ torch.tensor(v0)) ** 2).backward()
    np.testing.assert_allclose(w.grad, wt.grad.numpy(), rtol=1e-12)


def test_first_and_second_order_against_finite_differences():
    dev = strict.Device("device1")

    def f(x):  # numpy -> strict on the fake GPU -> numpy again
        y = ad.to_backend(x, "array_api_strict", dev)
        return ad.to_backend(ad.exp(y) * y ** 2, "numpy")

    x = np.array([0.2, -0.7, 1.1])
    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])
    xv = ad.Variable(x, requires_grad=True)
    (g,) = ad.backprop([ad.sum(f(xv))], [None], [xv], create_graph=True)
    (h,) = ad.backprop([ad.sum(g)], [None], [xv])
    np.testing.assert_allclose(h, np.exp(x) * (x ** 2 + 4 * x + 2), rtol=1e-12)


def test_forward_mode():
    torch = pytest.importorskip("torch")
    x = np.array([1.0, 2.0])
    out, tangent = ad.jvp(lambda t: ad.sum(ad.to_backend(t, "torch") ** 2), (x,), (np.array([1.0, 0.5]),))
    assert isinstance(tangent, torch.Tensor)
    assert float(tangent) == pytest.approx(2 * 1.0 + 2 * 2.0 * 0.5)


def test_cpu_moves_share_memory_through_dlpack():
    torch = pytest.importorskip("torch")
    a = np.arange(4.0)
    t = ad.to_backend(a, "torch")
    assert isinstance(t, torch.Tensor) and t.data_ptr() == a.ctypes.data  # no copy at all
    back = ad.to_backend(t, "numpy")
    assert back.ctypes.data == a.ctypes.data


def test_raw_arrays_python_data_and_no_op_moves():
    torch = pytest.importorskip("torch")
    a = np.array([1.0, 2.0])
    assert ad.to_backend(a, "numpy") is a
    v = ad.Variable(a, requires_grad=True)
    assert v.to("numpy") is v  # already there: the Variable itself
    t = ad.to_backend([1.0, 2.0], "torch")  # Python data: the target library's own defaults
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    c = ad.Variable(a).to("torch")  # not requiring grad: a constant
    assert not c.requires_grad and isinstance(c.value, torch.Tensor)


def test_dtype_is_cast_and_the_gradient_comes_back_in_the_source_dtype():
    x = ad.Variable(np.array([1.0, 2.0]), requires_grad=True)
    y = ad.to_backend(x, "array_api_strict", dtype="float32")
    assert y.dtype == strict.float32
    ad.sum(y * y).backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


def test_a_device_name_as_backend_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'cuda:0' is a device.*to_device"):
        ad.Variable([1.0]).to("cuda:0")
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'"):
        ad.to_backend(np.ones(2), "tensorflow")
    with pytest.raises(TypeError, match=r"'float32' is a dtype.*astype\('float32'\)"):
        ad.Variable([1.0]).to("float32")
    with pytest.raises(TypeError, match="backend must be a library name.*got builtins.int 3"):
        ad.to_backend(np.ones(2), 3)
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"got torch.dtype torch.float32; for a dtype use x.astype"):
        ad.Variable([1.0]).to(torch.float32)
    with ad.use("torch"):  # None: the current backend
        assert isinstance(ad.to_backend(np.ones(2), None), torch.Tensor)


def test_mismatch_error_names_to_backend_and_its_advice_works():
    dev = strict.Device("device1")
    a = ad.Variable(strict.asarray([1.0, 2.0], device=dev))
    b = ad.Variable(np.array([3.0, 4.0]), requires_grad=True)
    with pytest.raises(ad.BackendMismatchError, match=r"anyad.to_backend\(x, 'array_api_strict'") as info:
        a + b
    assert "x.to(" in str(info.value) and "asarray" not in str(info.value)
    out = a + b.to("array_api_strict", dev)  # what the message says to do
    assert out.device == dev
    ad.sum(out * out).backward()
    np.testing.assert_allclose(b.grad, 2 * np.array([4.0, 6.0]))


def test_module_to_moves_a_model_across_libraries():
    torch = pytest.importorskip("torch")
    model = ad.nn.Linear(3, 2, rng=0)
    w0 = np.array(model.weight.value)
    model.to("torch")
    assert isinstance(model.weight.value, torch.Tensor)
    x = torch.ones((4, 3), dtype=model.weight.value.dtype)
    ad.sum(model(x)).backward()
    assert isinstance(model.weight.grad, torch.Tensor)
    np.testing.assert_allclose(model.weight.value.numpy(), w0)
    np.testing.assert_allclose(model.weight.grad.numpy(), np.full((2, 3), 4.0))
