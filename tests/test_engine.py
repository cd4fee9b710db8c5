"""The backward engine: reference behaviour, graph lifetime, long chains,
threads, dtype rules and errors."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import numpy as np
import pytest

import anyad as ad
from anyad import GradientTracker, Variable


def test_reference_division_example():
    with GradientTracker() as tracker:
        a = Variable([2.0, 5.0])
        b = Variable([1.0, 2.0])
        m = Variable([1.0, 2.0])
        c = a + b
        d = a * b
        e = c / d
    np.testing.assert_allclose(tracker.gradient(e, a), [-0.25, -0.04])
    np.testing.assert_allclose(tracker.gradient(e, b), [-1.0, -0.25])
    assert tracker.gradient(e, m) is None
    # asked again, after the block, the same answer
    np.testing.assert_allclose(tracker.gradient(e, a), [-0.25, -0.04])


def test_gradient_of_a_list_of_sources_is_one_pass():
    with GradientTracker() as tracker:
        a = Variable([2.0, 5.0])
        b = Variable([1.0, 2.0])
        e = (a + b) / (a * b)
    ga, gb = tracker.gradient(e, [a, b])
    np.testing.assert_allclose(ga, [-0.25, -0.04])
    np.testing.assert_allclose(gb, [-1.0, -0.25])


def test_non_scalar_target_uses_ones_or_the_given_seed():
    with GradientTracker() as tracker:
        a = Variable([1.0, 2.0, 3.0])
        y = a * a
    np.testing.assert_allclose(tracker.gradient(y, a), [2.0, 4.0, 6.0])
    np.testing.assert_allclose(tracker.gradient(y, a, seed=np.array([1.0, 0.0, 2.0])), [2.0, 0.0, 12.0])


def test_operations_are_recorded_only_inside_the_tracker():
    a = Variable([1.0])
    assert (a * 2.0).result_of is None
    with GradientTracker():
        b = a * 2.0
    op = b.result_of
    assert op == ad.OpType.MUL and op.op_type is ad.OpType.MUL
    assert op.params[0] is a and op.output is b
    assert a.param_to == [op]
    assert b.result_of is op


def test_reference_operation_and_append_api():
    tracker = GradientTracker()
    a, b = Variable([3.0]), Variable([4.0])
    out = Variable(a.value * b.value)
    tracker.append(ad.OpType.MUL, [a, b], out)
    assert out.result_of.op_type is ad.OpType.MUL
    np.testing.assert_allclose(tracker.gradient(out, b), [3.0])
    np.testing.assert_allclose(tracker.derivative(a, out.result_of), [4.0])
    assert ad.OpType.ADD.value == 0 and ad.OpType.NOOP.value == 6


def test_gradient_with_respect_to_an_intermediate():
    x = Variable([1.0, 2.0], requires_grad=True)
    h = x * x
    y = ad.sum(ad.sin(h))
    (gh,) = ad.backprop([y], [None], [h])
    np.testing.assert_allclose(gh, np.cos([1.0, 4.0]))


def test_backward_accumulates_and_frees_the_graph():
    x = Variable([1.0, 2.0], requires_grad=True)
    y = ad.sum(x * x)
    y.backward()
    with pytest.raises(ad.GraphFreedError, match="retain_graph=True"):
        y.backward()
    z = ad.sum(x * 3.0)
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad, [2.0 + 6.0, 4.0 + 6.0])


def test_shared_subgraph_after_a_freeing_backward_is_an_error_not_a_wrong_answer():
    x = Variable([1.0], requires_grad=True)
    h = ad.exp(x)
    (h * 2.0).sum().backward()
    with pytest.raises(ad.GraphFreedError):
        (h * 3.0).sum().backward()


def test_million_op_chain_needs_no_recursion():
    x = Variable(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0000001
    (g,) = ad.backprop([y], [None], [x])
    np.testing.assert_allclose(g, [1.0000001 ** 1_000_000])
    del y
    gc.collect()


def test_memory_is_proportional_to_the_graph():
    def peak(n: int) -> int:
        gc.collect()
        tracemalloc.start()
        x = Variable(np.array([1.0]), requires_grad=True)
        y = x
        for _ in range(n):
            y = y * 1.0001 + 0.0001
        ad.backprop([y], [None], [x], retain_graph=False)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(5_000), peak(20_000)
    per_op = (large - small) / (2 * 15_000)
    assert per_op < 1200, f"{per_op:.0f} bytes per recorded op"


def test_threads_record_independently():
    results = {}
    barrier = threading.Barrier(2)

    def tracked():
        with GradientTracker():
            barrier.wait()
            v = Variable([1.0]) * 2.0
            barrier.wait()
        results["tracked"] = v.result_of is not None

    def plain():
        barrier.wait()
        v = Variable([1.0]) * 2.0
        barrier.wait()
        results["plain"] = v.result_of is not None

    threads = [threading.Thread(target=tracked), threading.Thread(target=plain)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"tracked": True, "plain": False}


def test_python_scalars_never_upcast(be):
    x = Variable(be.array([1.0, 2.0], "float32"), requires_grad=True)
    y = ad.sum(2.0 * x ** 2 + x / 3.0 - 1.0)
    assert y.dtype == x.dtype
    y.backward()
    assert x.grad.dtype == x.dtype
    np.testing.assert_allclose(be.to_numpy(x.grad), [4.0 + 1 / 3, 8.0 + 1 / 3], rtol=1e-6)


def test_mixed_precision_gradients_keep_each_input_dtype(be):
    a = Variable(be.array([1.0, 2.0], "float32"), requires_grad=True)
    b = Variable(be.array([3.0, 4.0], "float64"), requires_grad=True)
    ad.sum(a * b).backward()
    assert a.grad.dtype == a.dtype and b.grad.dtype == b.dtype


def test_integer_sources_are_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="floating"):
        Variable([1, 2], requires_grad=True)
    with GradientTracker() as t:
        i = Variable([1, 2])
        y = i * 2
    with pytest.raises(TypeError, match="int64"):
        t.gradient(y, i)
    # integer data mixes with floating Variables as constants
    x = Variable([1.0, 2.0], requires_grad=True)
    ad.sum(x * Variable([3, 4])).backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


def test_nan_and_inf_propagate():
    x = Variable([0.0, -1.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = ad.log(x)
        ad.sum(y).backward()
    v = y.value
    assert np.isneginf(v[0]) and np.isnan(v[1]) and v[2] == 0.0
    assert np.isinf(x.grad[0]) and x.grad[2] == 1.0


def test_shape_mismatch_names_the_operation_and_both_shapes(be):
    a = Variable(be.array(np.ones((2, 3))))
    b = Variable(be.array(np.ones(4)))
    with pytest.raises(ValueError) as err:
        a + b
    msg = str(err.value)
    assert "anyad.add" in msg and "(2, 3)" in msg and "(4,)" in msg
    with pytest.raises(ValueError, match=r"anyad.matmul.*\(2, 3\).*\(2, 3\)"):
        ad.matmul(a, a)


def test_mixing_libraries_names_both():
    torch = pytest.importorskip("torch")
    a = Variable(np.ones(2))
    b = Variable(torch.ones(2, dtype=torch.float64))
    with pytest.raises(ad.BackendMismatchError, match="numpy.*torch"):
        a * b


def test_mixing_devices_names_both():
    strict = pytest.importorskip("array_api_strict")
    a = Variable(strict.ones(2, device=strict.Device("CPU_DEVICE")))
    b = Variable(strict.ones(2, device=strict.Device("device1")))
    with pytest.raises(ad.BackendMismatchError, match="CPU_DEVICE.*device1"):
        a + b


def test_use_as_call_and_context_manager():
    strict = pytest.importorskip("array_api_strict")
    assert ad.current_backend().name == "numpy"
    with ad.use("array_api_strict"):
        v = Variable([1.0, 2.0])
        assert type(v.value) is type(strict.ones(1))
        # a Variable made from an array keeps that array's namespace
        assert isinstance(Variable(np.ones(2)).value, np.ndarray)
    assert ad.current_backend().name == "numpy"

    def in_thread():  # a with block in another thread is that thread's own
        with ad.use("array_api_strict"):
            assert ad.current_backend().name == "array_api_strict"

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert ad.current_backend().name == "numpy"  # (plain calls: tests/test_backend_choice.py)


def test_use_cupy_without_cuda_says_what_to_install():
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    with pytest.raises(ImportError, match=r'pip install "anyad\[cuda12\]"'):
        ad.use("cupy")


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'"):
        ad.use("tensorflow")


def test_raw_arrays_in_give_raw_arrays_out():
    x = np.array([0.0, 1.0])
    out = ad.sin(x)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, np.sin(x))


def test_comparisons_are_not_recorded_and_feed_where():
    x = Variable([-1.0, 2.0], requires_grad=True)
    mask = x > 0
    assert mask.result_of is None and not mask.requires_grad
    ad.sum(ad.where(mask, x * x, -x)).backward()
    np.testing.assert_allclose(x.grad, [-1.0, 4.0])
