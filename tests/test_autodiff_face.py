"""The python-autodiff face: Tensor and Graph, on every backend of the matrix,
and the fixes of what python-autodiff gets wrong (float32, broadcasting,
indexing, stale cached gradients)."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad


def close(be, got, want, rtol=1e-6, atol=1e-9):
    np.testing.assert_allclose(be.to_numpy(got), want, rtol=rtol, atol=atol)


def same_place(be, arr):
    """``arr`` is an array of ``be``'s library on its device."""
    ref = be.array([0.0])
    assert ad._backend.namespace_of(arr) is ad._backend.namespace_of(ref)
    assert repr(ad._backend.device_of(arr)) == repr(ad._backend.device_of(ref))


# ---------------------------------------------------------------------------
# Tensor
# ---------------------------------------------------------------------------


def test_tensor_converts_into_the_current_backend(be):
    data = np.array([1.0, 2.0, 3.0])
    with be.use():
        t = ad.Tensor(data)
        from_list = ad.Tensor([[1, 2], [3, 4]], dtype="float64")
    same_place(be, t.value)
    same_place(be, from_list.value)
    assert ad._backend._dtype_name(t.dtype) == "float32"  # python-autodiff's default
    assert ad._backend._dtype_name(from_list.dtype) == "float64"
    assert t.shape == (3,) and from_list.shape == (2, 2)
    assert t.requires_grad and t.is_leaf
    close(be, t.value, data)
    data[0] = 100.0  # the Tensor holds a copy
    close(be, t.value, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("spelling,name", [
    ("float32", "float32"), ("float64", "float64"), ("f8", "float64"), ("double", "float64"),
    (np.float32, "float32"), (np.dtype("float64"), "float64"), (float, "float64"), ("int64", "int64"),
])
def test_tensor_dtype_spellings_map_to_the_backend(be, spelling, name):
    with be.use():
        t = ad.Tensor([1, 2], dtype=spelling)
    assert ad._backend._dtype_name(t.dtype) == name
    assert t.dtype == getattr(be.xp, name)
    assert t.requires_grad == name.startswith("float")


def test_tensor_from_another_library_and_from_a_tensor(be):
    torch = pytest.importorskip("torch")

    with be.use():
        t = ad.Tensor(torch.tensor([1.0, 2.0]), dtype="float64")
        u = ad.Tensor(t)
    same_place(be, t.value)
    assert u.value is not t.value
    close(be, u.value, [1.0, 2.0])


def test_constant_tensor_gets_no_gradient_and_records_nothing():
    a = ad.Tensor([1.0, 2.0])
    c = ad.Tensor([3.0, 4.0], constant=True)
    assert not c.requires_grad
    assert (c * c).is_leaf
    g = ad.Graph()
    grads = g.gradient(a * c, [a, c])
    np.testing.assert_array_equal(grads[0], [3.0, 4.0])
    np.testing.assert_array_equal(grads[1], [0.0, 0.0])  # python-autodiff: zeros, its shape


def test_tensor_members(be):
    with be.use():
        t = ad.Tensor(np.arange(6.0).reshape(2, 3), dtype="float64")
    assert t._i is t.value  # python-autodiff's name for the value
    assert t.T.shape == (3, 2) and t.ndim == 2 and len(t) == 2
    close(be, t.T.value, np.arange(6.0).reshape(2, 3).T)
    c = t.copy()
    assert isinstance(c, ad.Tensor) and c.value is not t.value and c.requires_grad
    close(be, c.value, be.to_numpy(t.value))
    rows = list(t)  # iteration over the first axis
    assert [r.shape for r in rows] == [(3,), (3,)]
    close(be, rows[1].value, [3.0, 4.0, 5.0])
    assert "Tensor(" in repr(t) and "float64" in repr(t)


def test_astype_is_in_place_as_in_python_autodiff(be):
    with be.use():
        t = ad.Tensor([1.5, 2.5], dtype="float64")
    assert t.astype("float32") is t
    assert t.dtype == be.xp.float32
    assert t.astype("int32").dtype == be.xp.int32 and not t.requires_grad


def test_assign_family_rebinds_the_value(be):
    with be.use():
        t = ad.Tensor([1.0, 2.0], dtype="float64")
    y = t * 3.0
    saved = y.value
    t.assign(t._i - 0.5 * t._i)  # the XOR program's update, on backend arrays
    close(be, t.value, [0.5, 1.0])
    t.assign_add(np.array([1.0, 1.0]))  # numpy data is converted to the backend
    close(be, t.value, [1.5, 2.0])
    t.assign_sub(ad.Variable(be.array([0.5, 0.5])))
    close(be, t.value, [1.0, 1.5])
    t._i = be.array([7.0, 8.0])
    close(be, t.value, [7.0, 8.0])
    same_place(be, t.value)
    assert t.dtype == be.xp.float64
    assert y.value is saved  # the earlier graph keeps what it saw
    with pytest.raises(ValueError, match=r"shape \(3,\) cannot replace one of shape \(2,\)"):
        t.assign(be.array([1.0, 2.0, 3.0]))


def test_assign_keeps_float32(be):
    with be.use():
        t = ad.Tensor([1.0, 2.0])
    t.assign(np.array([3.0, 4.0]))  # float64 numpy data into a float32 Tensor
    assert t.dtype == be.xp.float32


def test_setitem_updates_a_copy():
    t = ad.Tensor([1.0, 2.0, 3.0])
    y = t * 1.0
    old = t.value
    t[1] = 20.0
    np.testing.assert_array_equal(t.value, [1.0, 20.0, 3.0])
    np.testing.assert_array_equal(old, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(y.value, [1.0, 2.0, 3.0])


def test_results_are_variables_with_the_compat_members():
    a = ad.Tensor([1.0, 2.0])
    d = np.sin(a * a)
    assert type(d) is ad.Variable
    assert d._i is d.value and d.shape == (2,) and d.dtype == np.float32
    c = d.copy()
    assert c.is_leaf and c.value is not d.value
    np.testing.assert_array_equal(c.value, d.value)


# ---------------------------------------------------------------------------
# Graph
# ---------------------------------------------------------------------------


def test_first_program():
    a = ad.Tensor([1, 2, 3, 4])
    b = a ** 2
    graph = ad.Graph()
    graph.add_variables(a)
    gradients = graph.gradient(b, [a])
    assert isinstance(gradients, list) and len(gradients) == 1
    assert gradients[0].dtype == np.float32
    np.testing.assert_array_equal(gradients[0], [2.0, 4.0, 6.0, 8.0])


def test_gradient_returns_backend_arrays_of_each_shape(be):
    with be.use():
        w = ad.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), dtype="float64")
        b = ad.Tensor(np.array([[0.5], [0.25]]), dtype="float64")
        x = ad.Tensor(np.array([[1.0], [-1.0]]), dtype="float64", constant=True)
    g = ad.Graph()
    g.add_variables(w, b, x)
    e = np.sum((np.matmul(w, x) + b) ** 2)
    gw, gb = g.gradient(e, [w, b])
    z = np.array([[1.0, 2.0], [3.0, 4.0]]) @ np.array([[1.0], [-1.0]]) + np.array([[0.5], [0.25]])
    close(be, gw, 2 * z @ np.array([[1.0, -1.0]]))
    close(be, gb, 2 * z)
    for grad in (gw, gb):
        assert not isinstance(grad, ad.Variable)
        same_place(be, grad)


def test_gradient_of_unrelated_variable_is_zeros(be):
    with be.use():
        a = ad.Tensor([1.0, 2.0], dtype="float64")
        u = ad.Tensor([[5.0, 6.0, 7.0]], dtype="float32")
    out = ad.Graph().gradient(a * a, [a, u], 2)
    close(be, out[0], [2.0, 2.0])
    close(be, out[1], [[0.0, 0.0, 0.0]])
    assert out[1].dtype == be.xp.float32 and tuple(out[1].shape) == (1, 3)


def test_order_n_differentiates_the_sum_of_order_n_minus_1(be):
    with be.use():
        a = ad.Tensor(np.array([0.3, -0.7]), dtype="float64")
    g = ad.Graph()
    y = ad.exp(a * 2.0) * 3.0
    for n in range(1, 5):
        close(be, g.gradient(y, [a], n)[0], 3.0 * 2.0 ** n * np.exp(2.0 * np.array([0.3, -0.7])))
    # a matrix case: the order-2 derivative is the gradient of sum(order-1 derivative)
    with be.use():
        w = ad.Tensor(np.array([[0.1, 0.2], [0.3, 0.4]]), dtype="float64")
    v = np.array([1.0, 2.0])
    f = np.sum(np.tanh(w * 1.0) ** 2 * be.array(v))
    t = np.tanh(np.array([[0.1, 0.2], [0.3, 0.4]]))
    s = 1 - t ** 2
    close(be, g.gradient(f, [w], 2)[0], v * (2 * s * s - 4 * t * t * s))


def test_higher_order_asks_each_source_separately():
    x = ad.Tensor([2.0], dtype="float64")
    y = ad.Tensor([3.0], dtype="float64")
    f = x ** 3 * y ** 2
    gx, gy = ad.Graph().gradient(f, [x, y], 2)
    np.testing.assert_allclose(gx, [6 * 2.0 * 9.0])  # d2f/dx2 = 6 x y^2
    np.testing.assert_allclose(gy, [2 * 8.0])  # d2f/dy2 = 2 x^3


def test_gradient_checks_its_arguments():
    a = ad.Tensor([1.0])
    g = ad.Graph()
    with pytest.raises(ValueError, match="order n must be an integer >= 1"):
        g.gradient(a * a, [a], 0)
    with pytest.raises(TypeError, match="dy must be a Tensor or Variable"):
        g.gradient(np.ones(1), [a])
    with pytest.raises(TypeError, match="dxs must be Tensors or Variables"):
        g.gradient(a * a, [np.ones(1)])
    with pytest.raises(TypeError, match=r"only floating-point \(real or complex\)"):
        g.gradient(a * a, [ad.Tensor([1], dtype="int64")])
    with pytest.raises(TypeError, match="expected Tensors or Variables"):
        g.add_variables(np.ones(1))
    assert g.gradient(a * a, a)[0][0] == 2.0  # a single Tensor is taken as [a]


def test_add_variables_holds_weak_references():
    g = ad.Graph()
    a = ad.Tensor([1.0])
    g.add_variables(a, a)
    for _ in range(50):  # as the XOR loop: new row Variables every step
        g.add_variables(*list(ad.Tensor([[1.0], [2.0]])))
    import gc

    gc.collect()
    assert g.variables == [a]


# ---------------------------------------------------------------------------
# what python-autodiff gets wrong
# ---------------------------------------------------------------------------


def test_float32_stays_float32(be):
    with be.use():
        a = ad.Tensor(np.array([0.5, 1.0, 1.5]))  # float32 by default
        w = ad.Tensor(np.ones((2, 3)) * 0.1)
    y = np.sum(np.tanh(np.matmul(w, a)) * 2.0 + np.exp(a[:2]) ** 2 / 3.0)
    assert y.dtype == be.xp.float32
    for n in (1, 2, 3):
        for grad in ad.Graph().gradient(y, [a, w], n):
            assert grad.dtype == be.xp.float32


def test_broadcast_operand_gets_a_gradient_of_its_own_shape(be):
    with be.use():
        a = ad.Tensor(np.ones((3, 1)), dtype="float64")
        b = ad.Tensor(np.ones((1, 4)) * 2.0, dtype="float64")
        c = ad.Tensor(np.ones(4), dtype="float64")
    y = a * b + c
    ga, gb, gc = ad.Graph().gradient(y, [a, b, c])
    close(be, ga, np.full((3, 1), 8.0))
    close(be, gb, np.full((1, 4), 3.0))
    close(be, gc, np.full(4, 3.0))


def test_indexing_has_correct_gradients(be):
    with be.use():
        a = ad.Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), dtype="float64")
    g = ad.Graph()
    close(be, g.gradient(a[1, 1:] ** 2, [a])[0], [[0.0, 0.0, 0.0], [0.0, 10.0, 12.0]])
    close(be, g.gradient(a[:, 0] * a[0, ...][2], [a])[0], [[3.0, 0.0, 5.0], [3.0, 0.0, 0.0]])
    idx = be.array(np.array([0, 0, 2]), dtype="int64")
    close(be, g.gradient(a[0, ...][idx], [a])[0], [[2.0, 0.0, 1.0], [0.0, 0.0, 0.0]])  # repeats add up
    rows = list(a)  # iteration is indexing too
    close(be, g.gradient(rows[0] * rows[1], [a])[0], [[4.0, 5.0, 6.0], [1.0, 2.0, 3.0]])


def test_no_stale_cached_answers():
    c = ad.Tensor([1.0, 2.0], dtype="float64")
    g = ad.Graph()
    g.add_variables(c)
    np.testing.assert_array_equal(g.gradient(c ** 2, [c])[0], [2.0, 4.0])
    np.testing.assert_array_equal(g.gradient(c ** 3, [c])[0], [3.0, 12.0])
    np.testing.assert_array_equal(g.gradient(c ** 3, [c], 2)[0], [6.0, 12.0])
    np.testing.assert_array_equal(g.gradient(c ** 2, [c], 2)[0], [2.0, 2.0])
    # the same dy asked again after the values change: a new graph, a new answer
    c.assign(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(g.gradient(c ** 2, [c])[0], [6.0, 8.0])
    # and the same Python expression object re-differentiated gives the same answer
    y = c ** 3
    first = g.gradient(y, [c])[0]
    np.testing.assert_array_equal(g.gradient(y, [c])[0], first)


def test_xor_matches_python_autodiff_step_for_step():
    """The XOR program trained by anyad and by python-autodiff from the same start."""
    autodiff = pytest.importorskip("autodiff")
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "xor.py"
    spec = importlib.util.spec_from_file_location("xor_example", path)
    xor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(xor)
    results = []
    for lib in (ad, autodiff):
        np.random.seed(3)
        forward, X, _ = xor.program(lib, epochs=3)
        results.append([np.asarray(getattr(forward(x), "_i")).ravel() for x in X])
    np.testing.assert_allclose(np.concatenate(results[0]), np.concatenate(results[1]), rtol=1e-10, atol=1e-12)
