"""Dask: forward and backward build task graphs and never compute; gradients
keep their input's chunks and match numpy; a LocalCluster runs them."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad

from conftest import backprop_to_second_order
from primitive_cases import CASES, INDEX_CASES

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")


def _chunked(data, chunks=2):
    return da.from_array(np.asarray(data), chunks=chunks)


class ComputeCalled(AssertionError):
    pass


def _refuse(dsk, keys, **kwargs):
    raise ComputeCalled(f"dask was asked to compute {keys!r}")


@pytest.fixture
def no_compute():
    """Any compute (``.compute()``, ``float()``, ``bool()``, ``np.asarray``) raises."""
    with dask.config.set(scheduler=_refuse):
        yield


def test_the_guard_catches_a_compute(no_compute):
    x = _chunked([1.0, 2.0])
    with pytest.raises(ComputeCalled):
        float(x.sum())
    with pytest.raises(ComputeCalled):
        np.asarray(x)
    with pytest.raises(ComputeCalled):
        bool(x[0] > 0)


LAZY_CASES = [c for c in CASES if c.name != "getitem_bool_mask"]


def _inputs(case, dtype="float64"):
    rng = np.random.default_rng(0)
    return [_chunked(g(rng, s).astype(dtype)) for g, s in zip(case.gens, case.shapes)]


@pytest.mark.parametrize("case", LAZY_CASES, ids=[c.id for c in LAZY_CASES])
def test_forward_backward_and_second_order_never_compute(case, no_compute):
    inputs = _inputs(case)
    xs = [ad.Variable(x, requires_grad=True) for x in inputs]
    grads = backprop_to_second_order(case.f(*xs), xs)
    for g, x in zip(grads, inputs):
        if g is not None:
            assert isinstance(g.value, da.Array)
            assert g.shape == x.shape


def _api_cases():
    try:
        from test_array_api_ops import CASES as API_CASES
    except ImportError:  # pragma: no cover - that module is optional here
        return []
    return API_CASES


@pytest.mark.parametrize("case", _api_cases(), ids=[c.id for c in _api_cases()])
def test_array_api_functions_never_compute_either(case, no_compute):
    """The Array API namespace's functions (linear algebra, FFT, sorting, ...)."""
    from conftest import BackendCase

    be = BackendCase("dask", ad.use("dask").backend.xp)
    ad.use("numpy")
    f, inputs = case.make(be, "float64", np.random.default_rng(0))
    xs = [ad.Variable(x, requires_grad=True) if x.dtype.kind == "f" else x for x in inputs]
    out = f(*xs)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
            if isinstance(o, ad.Variable) and o.requires_grad]
    if not outs:
        return
    total = ad.sum(outs[0]) if len(outs) == 1 else ad.sum(ad.stack([ad.sum(o) for o in outs]))
    sources = [x for x in xs if isinstance(x, ad.Variable)]
    grads = ad.backprop([total], [None], sources, create_graph=case.second_order)
    for g, x in zip(grads, sources):
        if g is not None:
            assert isinstance(g.value if isinstance(g, ad.Variable) else g, da.Array)


@pytest.mark.parametrize("name,f,shape,index", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_integer_index_gradients_never_compute(name, f, shape, index, no_compute):
    x = ad.Variable(_chunked(np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape)), requires_grad=True)
    i = _chunked(np.array(index))
    (g,) = ad.backprop([ad.sum(f(x, i) ** 2)], [None], [x], create_graph=True)
    (gg,) = ad.backprop([ad.sum(g * g)], [None], [x])
    assert isinstance(gg, da.Array) and gg.chunks == x.value.chunks


# these cases multiply x by a flipped or rolled x: the forward itself meets two
# chunkings, and dask works on their common refinement from there on
REFINED = {"flip", "roll"}


def _boundaries(chunks):
    return [set(np.cumsum(c)) for c in chunks]


@pytest.mark.parametrize("case", LAZY_CASES, ids=[c.id for c in LAZY_CASES])
def test_gradients_keep_their_input_chunks(case):
    inputs = _inputs(case)
    xs = [ad.Variable(x, requires_grad=True) for x in inputs]
    grads = ad.backprop([ad.sum(case.f(*xs))], [None], xs)
    for g, x in zip(grads, inputs):
        if g is None:
            continue
        if case.name in REFINED:
            assert all(gb >= xb for gb, xb in zip(_boundaries(g.chunks), _boundaries(x.chunks)))
        else:
            assert g.chunks == x.chunks, f"{case.name}: gradient chunks {g.chunks}, input chunks {x.chunks}"


def _logistic_loss(w, b, X, y):
    z = X @ w + b
    # log(1 + exp(-y z)), stable on both sides
    t = -y * z
    return ad.mean(ad.maximum(t, 0.0) + ad.log1p(ad.exp(-ad.abs(t))))


def _network(w1, w2, X):
    h = ad.tanh(X @ w1)
    out = ad.logsumexp(h @ w2, axis=1)
    return ad.sum(out * out) + ad.var(h, axis=0).sum()


def test_gradients_match_numpy_to_1e_10_in_float64():
    rng = np.random.default_rng(42)
    n, d = 37, 5
    X = rng.normal(size=(n, d))
    y = np.where(rng.uniform(size=n) > 0.5, 1.0, -1.0)
    w, b = rng.normal(size=d), rng.normal(size=())
    w1, w2 = rng.normal(size=(d, 4)), rng.normal(size=(4, 3))

    def grads(backend_array):
        args = [ad.Variable(backend_array(a), requires_grad=True) for a in (w, b, w1, w2)]
        Xb, yb = backend_array(X), backend_array(y)
        loss = _logistic_loss(args[0], args[1], Xb, yb) + _network(args[2], args[3], Xb)
        return loss, ad.backprop([loss], [None], args)

    loss_np, g_np = grads(lambda a: a)
    with dask.config.set(scheduler="synchronous"):
        loss_da, g_da = grads(lambda a: _chunked(a, chunks=8) if a.ndim else da.from_array(a))
        assert all(isinstance(g, da.Array) for g in g_da)
        (loss_c, *g_c) = dask.compute(loss_da.value, *g_da)
    np.testing.assert_allclose(loss_c, loss_np.value, rtol=1e-10, atol=1e-10)
    for a, b_ in zip(g_c, g_np):
        np.testing.assert_allclose(a, b_, rtol=1e-10, atol=1e-10)


def test_matmul_gradients_follow_the_operands_chunks():
    X = ad.Variable(_chunked(np.ones((10, 6)), chunks=(3, 2)), requires_grad=True)
    W = ad.Variable(_chunked(np.ones((6, 4)), chunks=(2, 4)), requires_grad=True)
    gX, gW = ad.backprop([ad.sum(ad.tanh(X @ W))], [None], [X, W])
    assert gX.chunks == X.value.chunks and gW.chunks == W.value.chunks
    assert gX.chunks != ((10,), (6,))  # not one chunk


def test_mean_of_a_large_array_keeps_many_chunks(no_compute):
    x = ad.Variable(da.ones((4_000_000,), chunks=250_000, dtype="float32"), requires_grad=True)
    (g,) = ad.backprop([ad.mean(ad.exp(x))], [None], [x])
    assert g.dtype == np.float32 and g.chunks == x.value.chunks and len(g.chunks[0]) == 16


def test_boolean_mask_indexing_is_refused_with_a_clear_error():
    x = ad.Variable(_chunked(np.arange(6.0).reshape(2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"anyad.getitem: .*unknown.*anyad.where"):
        x[x > 2.0]
    # without a gradient the lazy selection is dask's own
    c = ad.Variable(_chunked(np.arange(6.0).reshape(2, 3)))
    with dask.config.set(scheduler="synchronous"):
        assert float(ad.sum(c[c > 2.0]).value) == 12.0
    # and where() is the lazy, differentiable way
    (g,) = ad.backprop([ad.sum(ad.where(x > 2.0, x, 0.0))], [None], [x])
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(g.compute(), [[0, 0, 0], [1, 1, 1]])


def test_indexing_dask_cannot_express_is_a_clear_error():
    x = ad.Variable(_chunked(np.arange(6.0).reshape(2, 3)), requires_grad=True)
    i = _chunked(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"anyad.getitem: .*fancy indexing.*dask float64 \(2, 3\)"):
        x[i, i]


def test_index_add_refuses_a_boolean_key():
    from anyad.backends.dask import index_add

    mask = _chunked(np.array([True, False, True]))
    with pytest.raises(ValueError, match="boolean-mask"):
        index_add(_chunked(np.ones(2)), mask, (3,), False)


@pytest.mark.parametrize("key_kind", ["dask", "numpy"])
@pytest.mark.parametrize("where", ["rows", "columns", "scalar_and_array", "sliced"])
def test_lazy_scatter_add_matches_numpy_add_at(key_kind, where):
    from anyad.backends.dask import index_add

    rng = np.random.default_rng(3)
    shape = (7, 5)
    idx = rng.integers(0, 5, size=9)
    make = (lambda a: _chunked(a, chunks=4)) if key_kind == "dask" else (lambda a: a)
    keys = {
        "rows": (make(idx),),
        "columns": (slice(None), make(idx)),
        "scalar_and_array": (2, make(idx)),
        "sliced": (slice(1, None, 2), make(idx)),
    }
    key = keys[where]
    np_key = tuple(np.asarray(k) if hasattr(k, "dtype") else k for k in key)
    values = rng.normal(size=np.zeros(shape)[np_key].shape)
    expected = np.zeros(shape)
    np.add.at(expected, np_key, values)
    with dask.config.set(scheduler=_refuse):
        out = index_add(_chunked(values, chunks=3), key, shape, True)
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_allclose(out.compute(), expected, rtol=1e-12, atol=1e-12)


def test_reshape_that_dask_refuses_goes_through_one_dimension():
    x = ad.Variable(_chunked(np.arange(6.0).reshape(2, 3)), requires_grad=True)
    y = ad.reshape(x, (3, 2))
    (g,) = ad.backprop([ad.sum(y * da.arange(6.0).reshape(3, 2))], [None], [x])
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(y.value.compute(), np.arange(6.0).reshape(3, 2))
        np.testing.assert_array_equal(g.compute(), np.arange(6.0).reshape(2, 3))
    assert g.chunks == x.value.chunks


def test_use_dask_makes_dask_arrays_and_knows_the_module():
    with ad.use("dask"):
        v = ad.Variable([1.0, 2.0])
        assert isinstance(v.value, da.Array)
        assert isinstance(ad.zeros(3).value if isinstance(ad.zeros(3), ad.Variable) else ad.zeros(3), da.Array)
    import array_api_compat.dask.array as cda

    assert ad.use(cda).backend.xp is ad.use("dask").backend.xp
    assert ad._backend.namespace_of(da.ones(2)) is ad.use("dask").backend.xp
    ad.use("numpy")


def test_seeds_and_zero_gradients_follow_the_chunks(no_compute):
    x = ad.Variable(_chunked(np.ones((5, 3)), chunks=(2, 3)), requires_grad=True)
    y = x * 3.0
    (g,) = ad.backprop([y], [None], [x])  # non-scalar target: a ones_like seed
    assert g.chunks == x.value.chunks
    z = ad.zeros_like(x)
    assert z.value.chunks == x.value.chunks


def test_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = np.where(X @ np.array([1.0, -2.0, 0.5, 0.0]) > 0, 1.0, -1.0)
    w0 = np.zeros(4)
    wn = ad.Variable(w0, requires_grad=True)
    (g_np,) = ad.backprop([_logistic_loss(wn, 0.0, X, y)], [None], [wn])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        Xd, yd = _chunked(X, chunks=(50, 4)), _chunked(y, chunks=50)
        w = ad.Variable(da.from_array(w0), requires_grad=True)
        (g,) = ad.backprop([_logistic_loss(w, 0.0, Xd, yd)], [None], [w])
        assert isinstance(g, da.Array)
        result = client.compute(g).result()
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(result, g_np, rtol=1e-12, atol=1e-14)


def _spd_batch(rng, batch, n):
    a = rng.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def test_linalg_runs_per_block_of_matrices_and_matches_numpy(no_compute):
    xp = ad.use("dask").backend.xp
    ad.use("numpy")
    rng = np.random.default_rng(5)
    spd = _spd_batch(rng, (5,), 4)
    tall = rng.normal(size=(5, 4, 3))
    A, T = _chunked(spd), _chunked(tall)  # matrix axes chunked by 2: dask's own linalg refuses these
    b = _chunked(rng.normal(size=(5, 4, 2)))
    lazy = {
        "inv": xp.linalg.inv(A), "det": xp.linalg.det(A), "cholesky": xp.linalg.cholesky(A),
        "cholesky_upper": xp.linalg.cholesky(A, upper=True), "eigvalsh": xp.linalg.eigvalsh(A),
        "eigh_w": xp.linalg.eigh(A).eigenvalues, "slogdet": xp.linalg.slogdet(A).logabsdet,
        "solve": xp.linalg.solve(A, b), "svdvals": xp.linalg.svdvals(T),
        "svd_s": xp.linalg.svd(T, full_matrices=False).S, "qr_r": xp.linalg.qr(T).R,
        "pinv": xp.linalg.pinv(T), "matrix_power": xp.linalg.matrix_power(A, 3),
    }
    for name, value in lazy.items():
        assert isinstance(value, da.Array), name
        assert len(value.chunks[0]) > 1, f"{name}: the batch axis lost its chunks"
    with dask.config.set(scheduler="synchronous"):
        got = dask.compute(lazy)[0]
    expected = {
        "inv": np.linalg.inv(spd), "det": np.linalg.det(spd), "cholesky": np.linalg.cholesky(spd),
        "cholesky_upper": np.linalg.cholesky(spd, upper=True), "eigvalsh": np.linalg.eigvalsh(spd),
        "eigh_w": np.linalg.eigh(spd).eigenvalues, "slogdet": np.linalg.slogdet(spd).logabsdet,
        "solve": np.linalg.solve(spd, b.compute(scheduler="synchronous")),
        "svdvals": np.linalg.svd(tall, compute_uv=False),
        "svd_s": np.linalg.svd(tall, full_matrices=False).S, "qr_r": np.abs(np.linalg.qr(tall).R),
        "pinv": np.linalg.pinv(tall), "matrix_power": np.linalg.matrix_power(spd, 3),
    }
    got["qr_r"] = np.abs(got["qr_r"])
    for name in lazy:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-10, err_msg=name)


def test_take_along_axis_and_cross_which_dask_lacks(no_compute):
    xp = ad.use("dask").backend.xp
    ad.use("numpy")
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 5, 3))
    i = rng.integers(0, 5, size=(4, 2, 3))
    taken = xp.take_along_axis(_chunked(x), _chunked(i), axis=1)
    crossed = xp.linalg.cross(_chunked(x), _chunked(y), axis=-1)
    assert taken.chunks[0] == (2, 2) and crossed.chunks[0] == (2, 2)
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(taken.compute(), np.take_along_axis(x, i, axis=1))
        np.testing.assert_allclose(crossed.compute(), np.cross(x, y), rtol=1e-12, atol=1e-12)


def test_fft_gathers_only_the_transformed_axes(no_compute):
    xp = ad.use("dask").backend.xp
    ad.use("numpy")
    rng = np.random.default_rng(6)
    data = rng.normal(size=(6, 8))
    x = _chunked(data)
    lazy = {
        "fft": xp.fft.fft(x), "rfft_axis0": xp.fft.rfft(x, n=10, axis=0), "irfft": xp.fft.irfft(x, n=6),
        "fftn": xp.fft.fftn(x), "rfftn_s": xp.fft.rfftn(x, s=(4, 6), axes=(0, 1)), "ihfft": xp.fft.ihfft(x),
    }
    assert len(lazy["fft"].chunks[0]) == 3  # the other axis keeps its chunks
    assert len(lazy["rfft_axis0"].chunks[1]) == 4
    with dask.config.set(scheduler="synchronous"):
        got = dask.compute(lazy)[0]
    expected = {
        "fft": np.fft.fft(data), "rfft_axis0": np.fft.rfft(data, n=10, axis=0), "irfft": np.fft.irfft(data, n=6),
        "fftn": np.fft.fftn(data), "rfftn_s": np.fft.rfftn(data, s=(4, 6), axes=(0, 1)),
        "ihfft": np.fft.ihfft(data),
    }
    for name in lazy:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-10, err_msg=name)


def test_linalg_gradients_stay_lazy_and_match_numpy():
    if not hasattr(ad, "cholesky") or not hasattr(ad, "eigh"):
        pytest.skip("anyad has no cholesky/eigh here")
    rng = np.random.default_rng(7)
    spd = _spd_batch(rng, (3,), 3)

    def f(a):
        return ad.sum(ad.cholesky(a) ** 2) + ad.sum(ad.eigh(a).eigenvalues ** 3)

    x = ad.Variable(spd, requires_grad=True)
    f(x).backward()
    xd = ad.Variable(_chunked(spd), requires_grad=True)
    with dask.config.set(scheduler=_refuse):
        f(xd).backward()
    assert xd.grad.chunks == xd.value.chunks
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_allclose(xd.grad.compute(), x.grad, rtol=1e-10, atol=1e-10)


def test_logistic_regression_example_agrees_with_its_numpy_version(no_compute):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "dask_logistic_regression.py"
    spec = importlib.util.spec_from_file_location("dask_logistic_regression", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    X, y = example.dask_data(1000, 300, seed=3)  # lazy: generating it would trip no_compute
    Xn, yn = example.numpy_data(1000, 300, seed=3)
    w = np.linspace(-0.5, 0.5, example.FEATURES).astype(np.float32)
    b = np.float32(0.1)
    value, (gw, gb) = example.value_and_gradient(da.from_array(w), da.from_array(b), X, y)
    assert gw.dtype == np.float32 and X.chunks[0] == (300, 300, 300, 100)
    value_n, (gw_n, gb_n) = example.value_and_gradient(w, b, Xn, yn)
    with dask.config.set(scheduler="synchronous"):
        (Xc, value, gw, gb) = dask.compute(X, value, gw, gb)
    np.testing.assert_array_equal(Xc, Xn)  # the same rows, chunk by chunk
    np.testing.assert_allclose(value, value_n, rtol=1e-5)
    np.testing.assert_allclose(gw, gw_n, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gb, gb_n, rtol=1e-4, atol=1e-6)
