"""Compiled programs: anyad.jit and GradientCache.

Correctness against the eager engine on every backend, cache hits and misses,
no stale answer for a different graph, retracing on a new signature, memory
released during replay, and tracing errors for data-dependent control flow.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import anyad as ad
from anyad import Variable
from anyad._program import build_program
from anyad.compile import GradientCache, TracingError, jit
from conftest import BACKENDS
from primitive_cases import CASES, INDEX_CASES

STEPS = 20


def value_and_gradient(f):
    """(f(x), df/dx) by the engine itself (backprop with create_graph)."""
    def vg(x):
        s = f(x)
        (g,) = ad.backprop([s], [None], [x], create_graph=True)
        return s, g

    return vg


def eager_value_and_grad(f, x):
    v = Variable(x, requires_grad=True)
    s = f(v)
    (g,) = ad.backprop([s], [None], [v])
    return s.value, g


def close(be, got, want, dtype="float64"):
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(be.to_numpy(got), be.to_numpy(want), rtol=tol, atol=tol)


# ----------------------------------------------------------------------------
# jit: correctness on every backend
# ----------------------------------------------------------------------------


def test_jit_replays_value_and_gradient_on_every_backend(be, dtype):
    steps = 2 if be.name == "dask" else STEPS  # dask builds and runs a task graph per op

    def chain(x):
        y = x
        for _ in range(steps):
            y = ad.sin(y) * 1.01 + 0.1 * y
        return ad.sum(y)

    f = jit(value_and_gradient(chain))
    rng = np.random.default_rng(0)
    for k in range(3):
        x = be.array(rng.uniform(-1, 1, 16), dtype)
        value, g = f(x)
        want_value, want_g = eager_value_and_grad(chain, x)
        close(be, value, want_value, dtype)
        close(be, g, want_g, dtype)
        assert type(g) is type(x) and g.dtype == x.dtype and g.shape == x.shape
    assert f.traces == 1


def test_jit_of_value_and_grad(be):
    def loss(w, x):
        return ad.sum(ad.tanh(ad.matmul(x, w)) ** 2)

    f = jit(ad.value_and_grad(loss))
    rng = np.random.default_rng(1)
    x = be.array(rng.normal(size=(4, 3)))
    for _ in range(3):
        w = be.array(rng.normal(size=(3, 2)))
        value, g = f(w, x)
        want_value, want_g = ad.value_and_grad(loss)(w, x)
        close(be, value, want_value)
        close(be, g, want_g)
    assert f.traces == 1


def test_jit_second_derivative_inside(be):
    first = ad.grad(lambda x: ad.sum(ad.sin(x) * x ** 3))
    f = jit(ad.grad(lambda x: ad.sum(first(x))))
    rng = np.random.default_rng(2)
    for _ in range(2):
        x = rng.uniform(-1, 1, 5)
        g2 = f(be.array(x))
        close(be, g2, be.array(-np.sin(x) * x ** 3 + 6 * np.cos(x) * x ** 2 + 6 * x * np.sin(x)))
    assert f.traces == 1


REPLAYABLE = [c for c in CASES if c.name != "getitem_bool_mask"]


@pytest.mark.parametrize("case", REPLAYABLE, ids=[c.id for c in REPLAYABLE])
def test_every_primitive_replays_new_values_not_traced_ones(case):
    """jit(value and gradient) and the gradient cache, each fed three sets of
    values (other signs, other ties, other winners of max/where/clip): every
    replay must equal the eager engine on those values."""
    class NP:  # numpy only: the backend matrix runs in the tests above
        @staticmethod
        def array(a, dtype="float64"):
            return np.asarray(a, dtype=dtype)

    def vg(*xs):
        y = ad.sum(case.f(*xs) ** 2)
        return y, ad.backprop([y], [None], list(xs), create_graph=True)

    f = jit(vg)
    cache = GradientCache()
    for seed in (0, 1, 2):
        arrays = case.inputs(NP, seed=seed)
        xs = [Variable(a, requires_grad=True) for a in arrays]
        y = ad.sum(case.f(*xs) ** 2)
        want = ad.backprop([y], [None], xs)
        value, grads = f(*arrays)
        np.testing.assert_allclose(value, y.value, rtol=1e-12)
        for g, w in zip(grads, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
        for g, w in zip(cache.gradient(y, xs), want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
    assert f.traces == 1
    assert (cache.hits, cache.misses) == (2, 1)


def test_jit_on_the_gpu_proxy_never_touches_the_host(monkeypatch):
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    f = jit(value_and_gradient(lambda x: ad.sum(ad.maximum(x, 0.0) * ad.exp(x))))
    f(strict.asarray(np.linspace(-1, 1, 6), device=dev))  # traced
    Array = type(strict.ones(1))

    def refuse(self, *a, **k):
        raise AssertionError("host synchronisation during replay")

    for name in ("__bool__", "__float__", "__int__", "__index__", "__array__"):
        monkeypatch.setattr(Array, name, refuse, raising=False)
    value, g = f(strict.asarray(np.linspace(-2, 2, 6), device=dev))
    assert g.device == dev and f.traces == 1
    monkeypatch.undo()
    x = np.linspace(-2, 2, 6)
    on_cpu = np.asarray(g.to_device(strict.Device("CPU_DEVICE")))
    np.testing.assert_allclose(on_cpu, (x > 0) * np.exp(x) * (1 + x))


# ----------------------------------------------------------------------------
# jit: signatures, retracing, static arguments, pytrees, closures
# ----------------------------------------------------------------------------


def test_new_shape_dtype_or_backend_retraces():
    f = jit(lambda x: ad.sum(x * x))
    f(np.ones(3))
    f(np.ones(3) * 2)
    assert f.traces == 1
    f(np.ones(4))
    assert f.traces == 2
    out = f(np.ones(4, dtype=np.float32))
    assert f.traces == 3 and out.dtype == np.float32
    torch = pytest.importorskip("torch")
    out = f(torch.ones(4, dtype=torch.float64))
    assert f.traces == 4 and isinstance(out, torch.Tensor) and float(out) == 4.0


def test_new_device_retraces():
    strict = pytest.importorskip("array_api_strict")
    f = jit(lambda x: x * 2.0)
    a = f(strict.ones(2, device=strict.Device("CPU_DEVICE")))
    b = f(strict.ones(2, device=strict.Device("device1")))
    assert f.traces == 2 and a.device != b.device and b.device == strict.Device("device1")


def test_static_arguments_are_keyed_by_value():
    f = jit(lambda x, n, mode: ad.sum(x ** n) if mode == "pow" else ad.sum(x), static_argnums=(1, 2))
    x = np.array([1.0, 2.0])
    assert f(x, 2, "pow") == 5.0 and f(x, 3, "pow") == 9.0 and f(x, 3, "sum") == 3.0
    assert f(x, 2, "pow") == 5.0 and f.traces == 3
    with pytest.raises(TypeError, match="hashable"):
        f(x, {1}, "pow")
    with pytest.raises(ValueError, match="out of range"):
        jit(lambda x: x, static_argnums=3)(x)


def test_python_scalar_arguments_are_static():
    f = jit(lambda x, c: x * c)
    np.testing.assert_allclose(f(np.ones(2), 2.0), [2.0, 2.0])
    np.testing.assert_allclose(f(np.ones(2), 3.0), [3.0, 3.0])
    np.testing.assert_allclose(f(np.ones(2), -0.0), [-0.0, -0.0])
    assert np.signbit(f(np.ones(2), -0.0)).all() and f.traces == 3


def test_pytrees_in_and_out():
    @jit
    def f(params, x):
        h = ad.tanh(x @ params["w"] + params["b"])
        return {"out": h, "norm": ad.sum(h * h)}, [x.shape[0], None]

    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3))
    for _ in range(2):
        p = {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=4)}
        out, extra = f(p, x)
        h = np.tanh(x @ p["w"] + p["b"])
        np.testing.assert_allclose(out["out"], h)
        np.testing.assert_allclose(out["norm"], np.sum(h * h))
        assert extra == [2, None]
    assert f.traces == 1
    f({"w": p["w"], "b": p["b"], "extra": p["b"]}, x)  # another structure
    assert f.traces == 2


def test_aliased_inputs_are_part_of_the_signature():
    f = jit(lambda a, b: a * 2.0 + b)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(f(x, x), [3.0, 6.0])
    np.testing.assert_allclose(f(x, np.array([0.0, 0.0])), [2.0, 4.0])
    assert f.traces == 2


def test_variables_in_give_variables_out_and_closure_variables_are_read_live():
    w = ad.Variable(np.array([1.0, 2.0]))
    f = jit(lambda x: ad.sum(x * w))
    out = f(ad.Variable(np.array([1.0, 1.0])))
    assert isinstance(out, Variable) and out.is_leaf and float(out.value) == 3.0
    w.value = np.array([10.0, 20.0])  # as Tensor.assign does
    assert float(f(np.array([1.0, 1.0]))) == 30.0 and f.traces == 1
    w.value = np.array([1.0, 1.0, 1.0])  # a new shape: retraced, not misapplied
    assert float(f(np.array([1.0, 1.0, 1.0]))) == 3.0 and f.traces == 2


def test_outputs_that_do_not_depend_on_inputs_are_constants():
    c = np.array([5.0])
    f = jit(lambda x: (x + 1.0, c * 2.0, 7, "label"))
    for k in range(2):
        a, b, n, s = f(np.array([float(k)]))
        np.testing.assert_allclose(a, [k + 1.0])
        np.testing.assert_allclose(b, [10.0])
        assert (n, s) == (7, "label")


def test_differentiating_through_a_jitted_function_runs_it_uncompiled():
    f = jit(lambda x: ad.sin(x) * x)
    g = ad.grad(lambda x: ad.sum(f(x)))(np.array([0.5, 1.0]))
    x = np.array([0.5, 1.0])
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x))
    v = Variable(x, requires_grad=True)
    ad.sum(f(v)).backward()
    np.testing.assert_allclose(v.grad, np.cos(x) * x + np.sin(x))
    assert f.traces == 0


def test_non_differentiable_steps_are_recomputed_on_replay():
    @jit
    def f(x, table):
        relu = ad.where(x > 0.0, x, 0.0)
        stopped = ad.stop_gradient(x) * x
        with ad.no_grad():
            scaled = x * 3.0
        idx = ad.astype(ad.floor(ad.abs(x)), "int64")
        picked = ad.take(table, idx, axis=0)
        detached = x.detach() + Variable(x) + x.copy() + ad.Tensor(1.0, dtype="float64").copy() * x
        return relu, stopped, scaled, picked, detached

    table = np.array([10.0, 20.0, 30.0, 40.0])
    for x in (np.array([-1.5, 0.5, 2.5]), np.array([3.5, -0.2, -2.0])):
        relu, stopped, scaled, picked, detached = f(x, table)
        np.testing.assert_allclose(relu, np.maximum(x, 0.0))
        np.testing.assert_allclose(stopped, x * x)
        np.testing.assert_allclose(scaled, 3.0 * x)
        np.testing.assert_allclose(picked, table[np.floor(np.abs(x)).astype(int)])
        np.testing.assert_allclose(detached, 4 * x)
    assert f.traces == 1


def test_index_arrays_passed_as_arguments_are_inputs():
    f = jit(value_and_gradient(lambda x: ad.sum(x[np.array([0, 0, 2])] * 2.0)))
    g = jit(lambda x, i: x[i] * 1.0)
    for i in (np.array([0, 1]), np.array([2, 2])):
        np.testing.assert_allclose(g(np.array([1.0, 2.0, 3.0]), i), np.array([1.0, 2.0, 3.0])[i])
    _, grad = f(np.zeros(3))
    np.testing.assert_allclose(grad, [4.0, 0.0, 2.0])
    assert g.traces == 1


# ----------------------------------------------------------------------------
# jit: what cannot be compiled raises while tracing
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("convert", [
    lambda v: bool(v > 0), lambda v: float(ad.sum(v)), lambda v: int(ad.sum(v)), lambda v: ad.sum(v).item(),
    lambda v: v.to_ndarray(), lambda v: range(ad.astype(ad.sum(v), "int64")),
], ids=["bool", "float", "int", "item", "to_ndarray", "index"])
def test_python_values_of_traced_variables_raise(convert):
    def f(x):
        convert(x)
        return x

    with pytest.raises(TracingError, match="control flow on traced values"):
        jit(f)(np.array([1.0, 2.0]))


def test_if_on_a_traced_value_names_the_function():
    def relu(x):
        if ad.sum(x) > 0:
            return x
        return -x

    with pytest.raises(TracingError, match="relu"):
        jit(relu)(np.array([1.0]))


def test_python_values_of_constants_are_allowed():
    c = Variable(np.array(2.0))
    f = jit(lambda x: x * float(c) if bool(c > 0) else x)
    np.testing.assert_allclose(f(np.array([1.0, 3.0])), [2.0, 6.0])


def test_raw_gradients_inside_jit_raise():
    def f(x):
        v = x * 2.0
        (g,) = ad.backprop([ad.sum(v)], [None], [x])
        return g

    with pytest.raises(TracingError, match="frozen into the program"):
        jit(f)(np.array([1.0]))


def test_boolean_mask_indexing_cannot_be_compiled():
    with pytest.raises(TracingError, match="boolean-mask"):
        jit(lambda x: x[x > 0.0])(np.array([1.0, -1.0]))


# ----------------------------------------------------------------------------
# Programs: dead code, folding, memory
# ----------------------------------------------------------------------------


def test_dead_code_never_enters_the_program():
    @jit
    def f(x):
        unused = ad.exp(x) * ad.log(x)  # noqa: F841 - dead code
        return x * 2.0 + 1.0

    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [3.0, 5.0])
    (entry,) = f._cache.values()
    assert entry.program.names == ("multiply", "add")


def test_operations_on_constants_only_are_folded():
    cache = GradientCache()
    x = Variable(np.array([1.0, 2.0]), requires_grad=True)
    cache.gradient(ad.sum(x * 3.0), [x])  # ones seed -> broadcast -> times 3: all constant
    cache.gradient(ad.sum(ad.sin(x)), [x])
    constant, sine = cache._programs.values()
    assert constant.n_kernels == 0 and sine.names == ("cos", "multiply")
    np.testing.assert_allclose(constant([x.value, x.value]), [[3.0, 3.0]])


def test_long_chain_replay_holds_few_arrays():
    n, size = 400, 20_000  # 400 arrays of 160 kB: 64 MB if none were released
    f = jit(lambda x: ad.sum(_chain(x, n)))
    x = np.linspace(0.0, 1.0, size)
    f(x)
    (entry,) = f._cache.values()
    assert entry.program.n_slots <= 3 and entry.program.n_kernels == n + 1
    tracemalloc.start()
    try:
        f(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * x.nbytes


def _chain(x, n):
    for _ in range(n):
        x = ad.sin(x)
    return x


def test_build_program_from_a_recorded_graph():
    x = Variable(np.array([1.0, 2.0]), requires_grad=True)
    y = ad.sum(ad.exp(x) * 3.0)
    prog = build_program([y, None], [x])
    out, none = prog([np.array([0.0, 1.0])])
    assert none is None
    np.testing.assert_allclose(out, 3.0 * (1.0 + np.e))
    assert "Program" in repr(prog) and prog.n_kernels == 3


# ----------------------------------------------------------------------------
# GradientCache
# ----------------------------------------------------------------------------


def _xor_step(params, x, y):
    w1, b1, w2, b2 = params
    z2 = w2 @ ad.tanh(w1 @ x + b1) + b2
    return (y - z2) ** 2


def test_a_rebuilt_same_shaped_graph_hits_after_the_first_step(be):
    rng = np.random.default_rng(4)
    data = [(np.array([[a], [b]], dtype=float), np.array([[float(a != b)]])) for a in (0, 1) for b in (0, 1)]
    values = [rng.random((8, 2)), rng.random((8, 1)), rng.random((1, 8)), rng.random((1, 1))]
    cache = GradientCache()
    for step in range(5 if be.name == "dask" else 8):
        x, y = data[step % 4]
        params = [Variable(be.array(v), requires_grad=True) for v in values]
        e = _xor_step(params, Variable(be.array(x)), Variable(be.array(y)))
        got = cache.gradient(e, params)
        want = ad.backprop([e], [None], params)
        for g, w in zip(got, want):
            close(be, g, w)
        values = [v - 0.1 * be.to_numpy(g) for v, g in zip(values, got)]
        assert (cache.hits, cache.misses) == (step, 1)


def test_a_different_graph_never_gets_a_stale_answer():
    cache = GradientCache()
    c = Variable(np.array([1.0, 2.0]), requires_grad=True)
    np.testing.assert_allclose(cache.gradient(ad.sum(c ** 2), [c])[0], [2.0, 4.0])
    np.testing.assert_allclose(cache.gradient(ad.sum(c ** 3), [c])[0], [3.0, 12.0])
    np.testing.assert_allclose(cache.gradient(ad.sum(c ** 2), [c])[0], [2.0, 4.0])
    assert (cache.hits, cache.misses) == (1, 2)
    # other parameters, other wiring, other sources: other programs
    m = Variable(np.arange(6.0).reshape(2, 3), requires_grad=True)
    g0 = cache.gradient(ad.sum(ad.sum(m, axis=0) ** 2), [m])[0]
    g1 = cache.gradient(ad.sum(ad.sum(m, axis=1) ** 2), [m])[0]
    np.testing.assert_allclose(g0, np.broadcast_to(2 * m.value.sum(0), (2, 3)))
    np.testing.assert_allclose(g1, np.broadcast_to(2 * m.value.sum(1)[:, None], (2, 3)))
    a, b = Variable(np.array([2.0]), requires_grad=True), Variable(np.array([3.0]), requires_grad=True)
    np.testing.assert_allclose(cache.gradient(a * b * b, [a, b]), [[9.0], [12.0]])
    np.testing.assert_allclose(cache.gradient(a * b * b, [b, a]), [[12.0], [9.0]])
    np.testing.assert_allclose(cache.gradient(a * a * b, [a, b]), [[12.0], [4.0]])
    assert cache.gradient(a * 2.0, [b]) == [None]


def test_scalars_are_keyed_by_their_exact_value():
    cache = GradientCache()
    x = Variable(np.array([1.0]), requires_grad=True)
    for c in (2.0, 3.0, 2, 2.0):
        (g,) = cache.gradient(ad.sum(x * c), [x])
        assert g[0] == c
    assert (cache.hits, cache.misses) == (1, 3)  # 2 and 2.0 are different constants
    with np.errstate(divide="ignore"):
        (plus,) = cache.gradient(ad.sum(x / 0.0), [x])
        (minus,) = cache.gradient(ad.sum(x / -0.0), [x])  # -0.0 == 0.0, but not here
    assert plus[0] == np.inf and minus[0] == -np.inf


def test_raw_array_operands_are_read_from_the_new_graph():
    cache = GradientCache()
    x = Variable(np.array([1.0, 2.0]), requires_grad=True)
    for a in (np.array([3.0, 4.0]), np.array([5.0, 6.0])):
        np.testing.assert_allclose(cache.gradient(ad.sum(x * a), [x])[0], a)
    a, b = np.array([1.0, 1.0]), np.array([2.0, 3.0])
    np.testing.assert_allclose(cache.gradient(ad.sum(x * a + x * a), [x])[0], [2.0, 2.0])
    np.testing.assert_allclose(cache.gradient(ad.sum(x * a + x * b), [x])[0], [3.0, 4.0])
    idx = np.array([0, 0, 1])
    np.testing.assert_allclose(cache.gradient(ad.sum(x[idx]), [x])[0], [2.0, 1.0])
    np.testing.assert_allclose(cache.gradient(ad.sum(x[np.array([1, 1, 1])]), [x])[0], [0.0, 3.0])
    assert cache.hits == 2


def test_new_shape_dtype_or_backend_misses(be):
    cache = GradientCache()
    for shape, dtype in (((2,), "float64"), ((3,), "float64"), ((3,), "float32"), ((3,), "float64")):
        x = Variable(be.array(np.ones(shape), dtype), requires_grad=True)
        (g,) = cache.gradient(ad.sum(ad.exp(x)), [x])
        close(be, g, be.array(np.e * np.ones(shape), dtype), dtype)
        assert g.dtype == x.value.dtype
    assert (cache.hits, cache.misses) == (1, 3)


def test_cache_seeds_and_intermediate_sources():
    cache = GradientCache()
    for k in (1.0, 2.0):
        x = Variable(np.array([1.0, 2.0]), requires_grad=True)
        h = x * 3.0
        y = ad.sin(h)
        gx, gh = cache.gradient(y, [x, h], seed=np.array([k, 1.0]))
        np.testing.assert_allclose(gh, np.cos(h.value) * [k, 1.0])
        np.testing.assert_allclose(gx, 3.0 * gh)
    assert cache.hits == 1


def test_a_freed_graph_raises_the_engine_error():
    cache = GradientCache()
    x = Variable(np.array([1.0]), requires_grad=True)
    y = ad.sum(ad.exp(x))
    y.backward()
    with pytest.raises(ad.GraphFreedError):
        cache.gradient(y, [x])


def test_cache_is_bounded():
    cache = GradientCache(maxsize=2)
    x = Variable(np.array([1.0]), requires_grad=True)
    for n in (2, 3, 4, 5):
        cache.gradient(ad.sum(x ** n), [x])
    assert len(cache) == 2


def test_a_value_replaced_after_recording_reads_the_values_the_graph_kept():
    """A compiled backward reads what the nodes kept, never a leaf's current
    value: replacing the value between recording and gradient (as
    Tensor.assign does) changes nothing, compiled or not."""
    cache = GradientCache()
    for step in range(3):
        w = Variable(np.array([2.0 + step]), requires_grad=True)
        y = w * 3.0
        w.value = np.array([5.0 + step])
        z = ad.sum(w * y)
        expected = (2.0 + step) * 3.0 + (5.0 + step) * 3.0  # y + 3 w_new
        np.testing.assert_allclose(cache.gradient(z, [w]), [[expected]])
        np.testing.assert_allclose(ad.backprop([z], [None], [w]), [[expected]])
    assert cache.hits == 2


def test_cuda_graph_capture_needs_cupy_arrays():
    f = jit(lambda x: x * 2.0)
    with pytest.raises(TypeError, match="CuPy"):
        f.cuda_graph(np.ones(2))


@pytest.mark.skipif(not any(b.name == "cupy" for b in BACKENDS), reason="needs CuPy and a GPU")
def test_cuda_graph_replay_matches_the_program():  # pragma: no cover - runs where a GPU is
    import cupy

    f = jit(lambda x: ad.sum(ad.sin(x) * ad.exp(x)) + x * 0.5)
    replay = f.cuda_graph(cupy.linspace(-1, 1, 8))
    for k in range(3):
        x = cupy.linspace(-1, 1, 8) * (k + 1)
        cupy.testing.assert_allclose(replay(x), f(x))


def test_sort_under_jit_recomputes_the_order_and_its_gradient():
    f = jit(lambda x: ad.sort(x))
    f(np.array([3.0, 1.0, 2.0]))
    np.testing.assert_allclose(f(np.array([1.0, 3.0, 2.0])), [1.0, 2.0, 3.0])
    weights = np.array([1.0, 10.0, 100.0])
    g = jit(ad.grad(lambda x: ad.sum(ad.sort(x) * weights)))
    np.testing.assert_allclose(g(np.array([3.0, 1.0, 2.0])), [100.0, 1.0, 10.0])
    np.testing.assert_allclose(g(np.array([1.0, 3.0, 2.0])), [1.0, 100.0, 10.0])


def test_jit_decorates_methods():
    class Model:
        def __init__(self, w):
            self.w = w

        @jit
        def apply(self, x):
            return ad.sum(x * self.w)

    a, b = Model(np.array([1.0, 2.0])), Model(np.array([3.0, 4.0]))
    assert a.apply(np.ones(2)) == 3.0 and b.apply(np.ones(2)) == 7.0 and a.apply(np.ones(2) * 2) == 6.0
    assert Model.apply.traces == 2  # one per instance (a static argument)


def test_a_stream_of_new_graphs_stops_building_programs():
    cache = GradientCache()
    x = Variable(np.array([1.0, 2.0]), requires_grad=True)
    for k in range(40):  # every graph new: each scalar is part of the key
        (g,) = cache.gradient(ad.sum(x * float(k)), [x])
        np.testing.assert_allclose(g, [k, k])
    assert cache.misses == 40 and len(cache) == 16  # built for the first 16 only
    for _ in range(2):  # a structure met twice is built after all
        (g,) = cache.gradient(ad.sum(x * 100.0), [x])
    assert len(cache) == 17 and cache.hits == 0
    np.testing.assert_allclose(cache.gradient(ad.sum(x * 100.0), [x])[0], [100.0, 100.0])
    assert cache.hits == 1


# ----------------------------------------------------------------------------
# Graph.gradient goes through a GradientCache
# ----------------------------------------------------------------------------


def test_graph_xor_loop_hits_after_its_first_step(be):
    rng = np.random.default_rng(5)
    with be.use():
        g = ad.Graph()
        X = ad.Tensor([[[0], [0]], [[0], [1]], [[1], [0]], [[1], [1]]], dtype="float64")
        Y = ad.Tensor([[0], [1], [1], [0]], dtype="float64")
        W1 = ad.Tensor(rng.random((16, 2)), dtype="float64")
        B1 = ad.Tensor(rng.random((16, 1)), dtype="float64")
        W2 = ad.Tensor(rng.random((1, 16)), dtype="float64")
        B2 = ad.Tensor(rng.random((1, 1)), dtype="float64")
        steps = 0
        for epoch in range(2):
            for x, y in zip(X, Y):
                parameters = [W1, B1, W2, B2]
                g.add_variables(*parameters, x, y)
                E = (y - (W2 @ ad.tanh(W1 @ x + B1) + B2)) ** 2
                grads = g.gradient(E, parameters)
                for gr, want in zip(grads, ad.backprop([E], [None], parameters)):
                    close(be, gr, want)
                for param, gradient in zip(parameters, grads):
                    param.assign(param._i - (0.01 * gradient))
                steps += 1
                assert (g._programs.hits, g._programs.misses) == (steps - 1, 1)


def test_graph_never_answers_d_c3_with_d_c2(be):
    with be.use():
        c = ad.Tensor([1.0, 2.0], dtype="float64")
        g = ad.Graph()
        g.add_variables(c)
        for _ in range(2):
            close(be, g.gradient(c ** 2, [c])[0], be.array([2.0, 4.0]))
            close(be, g.gradient(c ** 3, [c])[0], be.array([3.0, 12.0]))
        close(be, g.gradient(c ** 3, [c], 2)[0], be.array([6.0, 12.0]))
    assert (g._programs.hits, g._programs.misses) == (2, 3)  # the last order-2 step is a new graph


def test_a_scalar_operand_is_never_taken_for_an_input():
    cache = GradientCache()
    x = Variable(np.array([3.0]), requires_grad=True)
    t = ad.sin(x)
    np.testing.assert_allclose(cache.gradient(ad.sum(t * 1.0), [x])[0], np.cos(3.0))
    t = ad.sin(x)  # the same wiring, but the second operand is the node at position 1
    np.testing.assert_allclose(cache.gradient(ad.sum(t * t), [x])[0], 2 * np.sin(3.0) * np.cos(3.0))
    assert cache.misses == 2


@pytest.mark.parametrize("name, f, shape, index", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_index_arrays_are_read_anew_by_programs(name, f, shape, index):
    """Integer-array indexing (repeated indices: a scatter-add backward), with
    other indices on each call: read from the arguments (jit) or the new graph
    (GradientCache), never frozen."""
    rng = np.random.default_rng(6)
    compiled = jit(lambda x, i: value_and_gradient(lambda x: ad.sum(f(x, i) ** 2))(x))
    cache = GradientCache()
    for k in range(3):
        i = np.asarray(index) if k == 0 else rng.permutation(np.asarray(index))
        i = np.where(rng.random(i.shape) < 0.5, i, i[::-1]) if k == 2 else i
        x = rng.normal(size=shape)
        v = Variable(x, requires_grad=True)
        y = ad.sum(f(v, i) ** 2)
        (want,) = ad.backprop([y], [None], [v])
        np.testing.assert_allclose(cache.gradient(y, [v])[0], want, rtol=1e-12)
        value, g = compiled(x, i)
        np.testing.assert_allclose(value, y.value, rtol=1e-12)
        np.testing.assert_allclose(g, want, rtol=1e-12)
    assert compiled.traces == 1 and cache.hits == 2


def test_gradient_cache_names_bad_sources():
    with pytest.raises(TypeError, match="GradientCache.gradient: dxs must be Variables"):
        GradientCache().gradient(Variable(np.array([1.0])), [np.array([1.0])])
