"""NumPy's protocols on Variables: every mapped ufunc and function gives
NumPy's value and a correct gradient; anything unmapped is a TypeError naming
it; NumPy arrays mix with Variables of any backend."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad import _numpy_interop as interop
from anyad.testing import gradcheck, gradgradcheck
from test_error_messages import ROUTED_HERE


def real(lo=-1.5, hi=1.5):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape)


def nonzero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)


def distinct(rng, shape):
    n = int(np.prod(shape))
    return rng.permutation(np.arange(n) * 0.37 - n * 0.15).reshape(shape)


def shifted(rng, shape):
    return distinct(rng, shape) + 0.05


def away_from_int(rng, shape):
    return rng.integers(-3, 3, size=shape) + rng.uniform(0.2, 0.8, size=shape)


# (ufunc, input generators, differentiable)
UFUNC_CASES = [
    (np.add, (real(), real()), True), (np.subtract, (real(), real()), True),
    (np.multiply, (real(), real()), True), (np.divide, (real(), nonzero), True),
    (np.power, (real(0.5, 2.0), real()), True), (np.negative, (real(),), True),
    (np.positive, (real(),), True), (np.absolute, (nonzero,), True), (np.fabs, (nonzero,), True),
    (np.square, (real(),), True), (np.sqrt, (real(0.3, 2.0),), True),
    (np.reciprocal, (nonzero,), True), (np.cbrt, (nonzero,), True),
    (np.exp, (real(),), True), (np.exp2, (real(),), True), (np.expm1, (real(),), True),
    (np.log, (real(0.3, 2.0),), True), (np.log1p, (real(-0.5, 2.0),), True),
    (np.log2, (real(0.3, 2.0),), True), (np.log10, (real(0.3, 2.0),), True),
    (np.logaddexp, (distinct, shifted), True),
    (np.sin, (real(),), True), (np.cos, (real(),), True), (np.tan, (real(-1.0, 1.0),), True),
    (np.arcsin, (real(-0.8, 0.8),), True), (np.arccos, (real(-0.8, 0.8),), True),
    (np.arctan, (real(),), True), (np.arctan2, (nonzero, nonzero), True),
    (np.hypot, (nonzero, nonzero), True), (np.deg2rad, (real(),), True), (np.radians, (real(),), True),
    (np.rad2deg, (real(),), True), (np.degrees, (real(),), True),
    (np.sinh, (real(),), True), (np.cosh, (real(),), True), (np.tanh, (real(),), True),
    (np.arcsinh, (real(),), True), (np.arccosh, (real(1.2, 3.0),), True),
    (np.arctanh, (real(-0.8, 0.8),), True),
    (np.remainder, (away_from_int, real(1.5, 2.5)), True), (np.floor_divide, (away_from_int, real(1.5, 2.5)), False),
    (np.maximum, (distinct, shifted), True), (np.minimum, (distinct, shifted), True),
    (np.sign, (nonzero,), True), (np.floor, (away_from_int,), True), (np.ceil, (away_from_int,), True),
    (np.rint, (away_from_int,), True), (np.trunc, (away_from_int,), True),
    (np.equal, (distinct, distinct), False), (np.not_equal, (distinct, shifted), False),
    (np.less, (distinct, shifted), False), (np.less_equal, (distinct, shifted), False),
    (np.greater, (distinct, shifted), False), (np.greater_equal, (distinct, shifted), False),
    (np.isnan, (real(),), False), (np.isinf, (real(),), False), (np.isfinite, (real(),), False),
]


def _inputs(gens, shape=(2, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [g(rng, shape) for g in gens]


def test_every_mapped_ufunc_is_tested():
    tested = {c[0] for c in UFUNC_CASES} | {np.matmul, np.vecdot, np.logical_and, np.logical_or,
                                           np.logical_xor, np.logical_not}
    tested |= {u for u in interop.UFUNCS if u.__name__ in ROUTED_HERE}  # in test_error_messages.py
    assert set(interop.UFUNCS) <= tested


@pytest.mark.parametrize("ufunc,gens,diff", UFUNC_CASES, ids=[c[0].__name__ for c in UFUNC_CASES])
def test_ufunc_value_and_gradient(ufunc, gens, diff):
    xs = _inputs(gens)
    out = ufunc(*[ad.Variable(x) for x in xs])
    assert isinstance(out, ad.Variable)
    np.testing.assert_allclose(out.value, ufunc(*xs), rtol=1e-12)
    if diff:
        assert gradcheck(lambda *v: ufunc(*v), xs)
        if ufunc not in (np.sign, np.floor, np.ceil, np.rint, np.trunc):
            assert gradgradcheck(lambda *v: ufunc(*v), xs)
    else:
        assert out.is_leaf and not out.requires_grad


@pytest.mark.parametrize("ufunc,gens,diff", UFUNC_CASES, ids=[c[0].__name__ for c in UFUNC_CASES])
def test_ufunc_on_every_backend(be, ufunc, gens, diff):
    xs = _inputs(gens)
    vs = [ad.Variable(be.array(x), requires_grad=diff) for x in xs]
    out = ufunc(*vs)
    got = be.to_numpy(out)
    np.testing.assert_allclose(got, ufunc(*xs), rtol=1e-12, atol=1e-12)
    assert ad._backend.namespace_of(out.value) is ad._backend.namespace_of(vs[0].value)
    if diff:
        ad.sum(out).backward()
        assert all(tuple(v.grad.shape) == tuple(x.shape) for v, x in zip(vs, xs))


def test_float32_stays_float32():
    x = ad.Variable(np.array([0.5, 1.0], dtype=np.float32), requires_grad=True)
    for out in (np.sin(x), np.multiply(x, 2.0), np.power(x, 3), np.mean(x), np.exp2(x), np.cbrt(x),
                np.hypot(x, 1.0), np.logaddexp(x, 0.0), np.deg2rad(x), np.reciprocal(x)):
        assert out.dtype == np.float32, out
        x.grad = None
        ad.sum(out).backward()
        assert x.grad.dtype == np.float32


def test_matmul_vecdot_and_logical():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    assert gradcheck(lambda x, y: np.matmul(x, y), [a, b])
    assert gradcheck(lambda x, y: np.vecdot(x, y), [a, rng.normal(size=3)])
    assert gradcheck(lambda x, y: np.vecdot(x, y, axis=0), [a, rng.normal(size=(2, 1))])
    t, f = ad.Variable(np.array([True, False])), ad.Variable(np.array([True, True]))
    np.testing.assert_array_equal(np.logical_and(t, f).value, [True, False])
    np.testing.assert_array_equal(np.logical_or(t, f).value, [True, True])
    np.testing.assert_array_equal(np.logical_xor(t, f).value, [False, True])
    np.testing.assert_array_equal(np.logical_not(t).value, [False, True])


def test_ufunc_methods():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4))
    v = ad.Variable(x)
    np.testing.assert_allclose(np.add.reduce(v).value, np.add.reduce(x))  # NumPy's default axis 0
    np.testing.assert_allclose(np.multiply.reduce(v, axis=1, keepdims=True).value,
                               np.multiply.reduce(x, axis=1, keepdims=True))
    np.testing.assert_allclose(np.maximum.reduce(v, axis=None).value, np.maximum.reduce(x, axis=None))
    np.testing.assert_allclose(np.minimum.reduce(v, 1).value, np.minimum.reduce(x, 1))
    np.testing.assert_allclose(np.add.accumulate(v, axis=1).value, np.add.accumulate(x, axis=1))
    np.testing.assert_allclose(np.multiply.outer(v[0], v[1, :2]).value, np.multiply.outer(x[0], x[1, :2]))
    assert gradcheck(lambda a: np.add.reduce(a * a, axis=1), [x])
    assert gradcheck(lambda a: np.add.accumulate(a, axis=0), [x])
    assert gradcheck(lambda a, b: np.subtract.outer(a, b), [x[0], x[1]])


@pytest.mark.parametrize("call,name", [
    (lambda v: np.add.at(v, [0], 1.0), "numpy.add.at"),
    (lambda v: np.subtract.reduce(v), "numpy.subtract.reduce"),
    (lambda v: np.add.reduceat(v, [0]), "numpy.add.reduceat"),
    (lambda v: np.fmod(v, 2.0), "numpy.fmod"),
    (lambda v: np.gcd(v, v), "numpy.gcd"),
    (lambda v: np.linalg.eig(v), "numpy.linalg.eig"),
    (lambda v: np.median(v), "numpy.median"),
    (lambda v: np.partition(v, 1), "numpy.partition"),
    (lambda v: np.nanmax(v), "numpy.nanmax"),
])
def test_unsupported_is_a_type_error_naming_it(call, name):
    v = ad.Variable(np.ones((2, 2)), requires_grad=True)
    pattern = name.replace(".", r"\.") + " has no differentiable anyad counterpart"
    with pytest.raises(TypeError, match=pattern):
        call(v)


def test_host_conversion_of_a_variable_in_a_graph_is_refused():
    """np.asarray (which SciPy's fallbacks call) would drop the gradient: it
    raises, naming what to do; a constant converts to its value."""
    x = ad.Variable([1.0, 2.0], requires_grad=True)
    for convert in (np.asarray, lambda v: np.asarray(v, dtype=np.float64), np.array,
                    lambda v: np.array([v[0], v[1]])):
        with pytest.raises(TypeError, match=r"requires grad .*detach\(\)"):
            convert(x * x)
        with pytest.raises(TypeError, match="requires grad"):
            convert(x)
    np.testing.assert_array_equal(np.asarray(ad.Variable([1.0, 2.0])), [1.0, 2.0])
    np.testing.assert_array_equal(np.asarray((x * x).detach()), [1.0, 4.0])
    with ad.GradientTracker():
        tracked = ad.Variable([1.0]) * 2.0
    with pytest.raises(TypeError, match="requires grad"):
        np.asarray(tracked)
    # the loss of the issue: a host round trip inside a loss no longer gives [1, 4]
    with pytest.raises(TypeError, match="requires grad"):
        ad.grad(lambda v: ad.sum(ad.asarray(np.asarray(v * v, dtype=np.float64)) * v))(np.array([1.0, 2.0]))


def test_object_arrays_of_variables_are_refused():
    x = ad.Variable([1.0, 2.0], requires_grad=True)
    objects = np.empty(2, dtype=object)
    objects[0], objects[1] = x[0], x[1]
    with pytest.raises(TypeError, match="dtype=object"):
        ad.Variable(objects)
    with pytest.raises(TypeError, match="dtype=object"):
        ad.asarray(objects)
    with pytest.raises(TypeError, match="dtype=object"):
        x.__array_namespace__().asarray(objects)
    stacked = x.__array_namespace__().asarray([x[1], x[0]])  # a list of Variables: stacked, differentiably
    ad.sum(stacked * np.array([1.0, 3.0])).backward()
    np.testing.assert_array_equal(x.grad, [3.0, 1.0])


def test_ndarray_remainder_and_floor_divide_with_a_variable():
    x = ad.Variable([2.0, 3.0], requires_grad=True)
    r = np.array([5.0, 7.0]) % x
    q = np.array([5.0, 7.0]) // x
    np.testing.assert_array_equal(r.value, [1.0, 1.0])
    np.testing.assert_array_equal(q.value, [2.0, 2.0])
    ad.sum(r).backward()
    np.testing.assert_array_equal(x.grad, [-2.0, -2.0])  # d/dy (a - floor(a/y) y) = -floor(a/y)


def test_no_silent_conversion():
    v = ad.Variable(np.ones(2), requires_grad=True)
    a = np.zeros(2)
    with pytest.raises(TypeError, match=r"numpy\.add\(\.\.\., out=\.\.\.\) cannot write into an array"):
        a += v
    with pytest.raises(TypeError, match="out="):
        np.sin(v, out=np.zeros(2))
    with pytest.raises(TypeError, match="does not support the argument where="):
        np.sin(v, where=np.array([True, False]))
    with pytest.raises(TypeError, match="does not support where="):
        np.sum(v, where=np.array([True, False]))
    with pytest.raises(TypeError, match="with one argument"):
        np.where(v > 0)
    out = np.add(v, 1.0, casting="same_kind")  # options at their defaults are accepted
    assert out.requires_grad


X = np.arange(1.0, 7.0).reshape(2, 3) / 7.0
FUNCTION_CASES = [
    ("sum", lambda m, x: m.sum(x, axis=1)), ("sum_keepdims", lambda m, x: m.sum(x, 0, keepdims=True)),
    ("sum_dtype", lambda m, x: m.sum(x, dtype=np.float32)),
    ("prod", lambda m, x: m.prod(x, axis=0)), ("mean", lambda m, x: m.mean(x)),
    ("max", lambda m, x: m.max(x, axis=1)), ("amax", lambda m, x: m.amax(x)),
    ("min", lambda m, x: m.min(x, axis=0)), ("amin", lambda m, x: m.amin(x, keepdims=True)),
    ("var", lambda m, x: m.var(x, axis=1, ddof=1)), ("std", lambda m, x: m.std(x)),
    ("cumsum", lambda m, x: m.cumsum(x)), ("cumsum_axis", lambda m, x: m.cumsum(x, axis=1)),
    ("transpose", lambda m, x: m.transpose(x)), ("transpose_axes", lambda m, x: m.transpose(x, (1, 0))),
    ("permute_dims", lambda m, x: m.permute_dims(x, (1, 0))), ("swapaxes", lambda m, x: m.swapaxes(x, 0, 1)),
    ("reshape", lambda m, x: m.reshape(x, (3, 2))), ("reshape_int", lambda m, x: m.reshape(x, -1)),
    ("ravel", lambda m, x: m.ravel(x)),
    ("squeeze", lambda m, x: m.squeeze(m.reshape(x, (1, 2, 1, 3)))),
    ("expand_dims", lambda m, x: m.expand_dims(x, (0, 3))),
    ("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 2, 3))),
    ("concatenate", lambda m, x: m.concatenate([x, x * 2.0], axis=1)),
    ("concatenate_none", lambda m, x: m.concatenate((x, x), axis=None)),
    ("concat", lambda m, x: m.concat([x, x])),
    ("stack", lambda m, x: m.stack([x, x + 1.0], axis=2)), ("vstack", lambda m, x: m.vstack([x, x[0]])),
    ("hstack", lambda m, x: m.hstack([x, x])), ("hstack_1d", lambda m, x: m.hstack([x[0], x[1]])),
    ("atleast_2d", lambda m, x: m.atleast_2d(x[0])), ("atleast_3d", lambda m, x: m.atleast_3d(x)),
    ("atleast_1d", lambda m, x: m.atleast_1d(m.sum(x))),
    ("dot_2d", lambda m, x: m.dot(x, m.transpose(x))), ("dot_1d", lambda m, x: m.dot(x[0], x[1])),
    ("dot_nd", lambda m, x: m.dot(m.reshape(x, (1, 2, 3)), m.reshape(x, (2, 3, 1)))),
    ("dot_scalar", lambda m, x: m.dot(x, 2.0)), ("dot_matrix_vector", lambda m, x: m.dot(x, x[0])),
    ("outer", lambda m, x: m.outer(x[0], x[1])), ("inner", lambda m, x: m.inner(x, x)),
    ("tensordot", lambda m, x: m.tensordot(x, x, axes=([1], [1]))),
    ("where", lambda m, x: m.where(x > 0.4, x, x * x)), ("clip", lambda m, x: m.clip(x, 0.2, 0.7)),
    ("clip_keywords", lambda m, x: m.clip(x, min=0.3)),
    ("flip", lambda m, x: m.flip(x, axis=1)), ("fliplr", lambda m, x: m.fliplr(x)),
    ("flipud", lambda m, x: m.flipud(x)), ("moveaxis", lambda m, x: m.moveaxis(x, 0, 1)),
    ("roll", lambda m, x: m.roll(x, 1, axis=1)), ("roll_flat", lambda m, x: m.roll(x, 2)),
    ("repeat", lambda m, x: m.repeat(x, 2, axis=0)), ("tile", lambda m, x: m.tile(x, (2, 1))),
    ("tile_int", lambda m, x: m.tile(x, 2)), ("tril", lambda m, x: m.tril(x)),
    ("triu", lambda m, x: m.triu(x, 1)),
    ("take", lambda m, x: m.take(x, np.array([2, 0, 2]), axis=1)),
    ("take_flat", lambda m, x: m.take(x, [5, 1])),
    ("round", lambda m, x: m.round(x * 10.0) * x), ("around", lambda m, x: m.around(x, 1) * x),
    ("copy", lambda m, x: m.copy(x)), ("astype", lambda m, x: m.astype(x, np.float32)),
    ("matrix_transpose", lambda m, x: m.matrix_transpose(x)),
    ("linalg_matmul", lambda m, x: m.linalg.matmul(x, m.transpose(x))),
    ("linalg_matrix_transpose", lambda m, x: m.linalg.matrix_transpose(x)),
    ("linalg_vecdot", lambda m, x: m.linalg.vecdot(x, x)),
    ("linalg_tensordot", lambda m, x: m.linalg.tensordot(x, x, axes=2)),
    ("linalg_outer", lambda m, x: m.linalg.outer(x[0], x[1])),
]


@pytest.mark.parametrize("name,f", FUNCTION_CASES, ids=[c[0] for c in FUNCTION_CASES])
def test_function_value_and_gradient(name, f):
    out = f(np, ad.Variable(X, requires_grad=True))
    assert isinstance(out, ad.Variable) and out.requires_grad
    want = f(np, X)
    np.testing.assert_allclose(out.value, want, rtol=1e-6)
    assert out.dtype == want.dtype
    if want.dtype == np.float32:  # a cast to float32 inside: finite differences at float32 precision
        assert gradcheck(lambda v: f(np, v), [X], eps=1e-3, atol=1e-3, rtol=1e-3)
    else:
        assert gradcheck(lambda v: f(np, v), [X])


def test_unstack_and_like_functions_and_sizes():
    v = ad.Variable(X, requires_grad=True)
    rows = np.unstack(v, axis=0)
    assert len(rows) == 2 and rows[1].requires_grad
    np.testing.assert_array_equal(rows[1].value, X[1])
    for f, want in ((np.zeros_like, np.zeros_like(X)), (np.ones_like, np.ones_like(X)),
                    (lambda a: np.full_like(a, 3.0), np.full_like(X, 3.0)),
                    (lambda a: np.zeros_like(a, dtype="float32"), np.zeros_like(X, dtype="float32"))):
        out = f(v)
        assert isinstance(out, ad.Variable) and not out.requires_grad
        np.testing.assert_array_equal(out.value, want)
        assert out.dtype == want.dtype
    assert np.empty_like(v).shape == X.shape
    assert np.shape(v) == (2, 3) and np.ndim(v) == 2 and np.size(v) == 6 and np.size(v, 1) == 3


FUNCTION_IDS = {c[0] for c in FUNCTION_CASES} | {"unstack", "zeros_like", "ones_like", "full_like",
                                                 "empty_like", "shape", "ndim", "size"}


def test_every_mapped_function_is_tested():
    names = {f.__name__ for f in interop.FUNCTIONS}
    covered = {n.split("_keepdims")[0] for n in FUNCTION_IDS}
    covered |= {n.replace("linalg_", "") for n in FUNCTION_IDS}
    covered |= {n.rsplit("_", 1)[0] for n in FUNCTION_IDS}
    covered |= ROUTED_HERE  # linear algebra, sorting, einsum, fft: tests/test_error_messages.py
    assert names <= covered, names - covered


def test_mixed_numpy_arrays_and_variables_on_every_backend(be):
    """The XOR program's np.matmul(W1, x) with x a numpy array or a Variable."""
    rng = np.random.default_rng(2)
    w, x, b = rng.normal(size=(4, 2)), rng.normal(size=(2, 1)), rng.normal(size=(4, 1))
    with be.use():
        W = ad.Tensor(w, dtype="float64")
        B = ad.Tensor(b, dtype="float64")
    for xin in (x, ad.Variable(be.array(x))):
        z = np.tanh(np.matmul(W, xin) + B)
        assert ad._backend.namespace_of(z.value) is ad._backend.namespace_of(W.value)
        np.testing.assert_allclose(be.to_numpy(z), np.tanh(w @ x + b), rtol=1e-12)
        gw, gb = ad.Graph().gradient(z, [W, B])
        s = 1 - np.tanh(w @ x + b) ** 2
        np.testing.assert_allclose(be.to_numpy(gw), s @ x.T, rtol=1e-12)
        np.testing.assert_allclose(be.to_numpy(gb), s, rtol=1e-12)
    # a numpy array on the left goes through the ufunc protocol too
    left = x.T + ad.Variable(be.array(x.T), requires_grad=True)
    assert isinstance(left, ad.Variable) and left.requires_grad
    np.testing.assert_allclose(be.to_numpy(left), 2 * x.T)
    both = np.concatenate([ad.Variable(be.array(x)), x])
    np.testing.assert_allclose(be.to_numpy(both), np.concatenate([x, x]))
    stacked = np.stack([x, ad.Variable(be.array(x))], axis=0)
    assert stacked.shape == (2, 2, 1)


def test_protocols_stay_off_variable_operators(monkeypatch):
    """Variable's own operators and anyad's functions never go through the hooks."""
    def refuse(*args, **kwargs):
        raise AssertionError("the NumPy protocol was used")

    monkeypatch.setattr(interop, "array_ufunc", refuse)
    monkeypatch.setattr(interop, "array_function", refuse)
    v = ad.Variable(np.array([1.0, 2.0]), requires_grad=True)
    y = ad.sum(ad.sin(v * v + 1.0) / (3.0 - v) @ v) ** 2
    y.backward()
    assert v.grad.shape == (2,)
    with pytest.raises(AssertionError, match="protocol was used"):
        np.sin(v)


class _FakeCupyUfunc:
    """Stands in for a cupy.ufunc: CuPy names its ufuncs ``cupy_<numpy name>``."""

    def __init__(self, name):
        self.name = name


def test_cupy_elementwise_override_dispatches_by_name():
    v = ad.Variable(np.array([0.5, 1.0]), requires_grad=True)
    out = v.__cupy_override_elementwise_kernel__(_FakeCupyUfunc("cupy_sin"), v)
    assert out.requires_grad
    np.testing.assert_allclose(out.value, np.sin([0.5, 1.0]))
    both = v.__cupy_override_elementwise_kernel__(_FakeCupyUfunc("cupy_true_divide"), v, 2.0)
    np.testing.assert_allclose(both.value, [0.25, 0.5])
    with pytest.raises(TypeError, match="cupy kernel cupy_fmod has no differentiable"):
        v.__cupy_override_elementwise_kernel__(_FakeCupyUfunc("cupy_fmod"), v, 2.0)
    with pytest.raises(TypeError, match="out="):
        v.__cupy_override_elementwise_kernel__(_FakeCupyUfunc("cupy_sin"), v, out=v)
