"""Every primitive against finite differences, at first and second order, on
every backend of the matrix; float32 kept float32, gradients on the input's device."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.testing import gradcheck, gradgradcheck

from primitive_cases import CASES, INDEX_CASES


def _skip_if_inapplicable(be, case):
    if be.name == "dask" and case.name == "getitem_bool_mask":
        pytest.skip("dask leaves a boolean selection's size unknown: anyad.getitem refuses to record it "
                    "(tests/test_dask.py checks the error)")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_gradcheck_float64(be, case):
    _skip_if_inapplicable(be, case)
    assert gradcheck(case.f, case.inputs(be))


def _squared(f):
    """``f(x) ** 2``: a second derivative that is not identically zero even where
    ``f`` is linear (add, sum, reshape, getitem, ...), so the second-order check
    can fail by giving a wrong number, not only by raising."""
    def g(*xs):
        out = f(*xs)
        if isinstance(out, tuple):
            return tuple(o * o for o in out)
        return out * out

    return g


@pytest.mark.parametrize("case", [c for c in CASES if c.second_order], ids=[c.id for c in CASES if c.second_order])
def test_gradgradcheck_float64(be, case):
    _skip_if_inapplicable(be, case)
    assert gradgradcheck(case.f, case.inputs(be))
    assert gradgradcheck(_squared(case.f), case.inputs(be))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_float32_stays_float32_on_its_device(be, case):
    _skip_if_inapplicable(be, case)
    inputs = case.inputs(be, "float32")
    xs = [ad.Variable(x, requires_grad=True) for x in inputs]
    out = case.f(*xs)
    assert out.dtype == inputs[0].dtype, f"{case.name}: output dtype {out.dtype}"
    ad.sum(out).backward()
    for x, raw in zip(xs, inputs):
        if x.grad is None:
            continue
        assert x.grad.dtype == raw.dtype, f"{case.name}: gradient dtype {x.grad.dtype}"
        assert tuple(x.grad.shape) == tuple(raw.shape)
        assert repr(ad._backend.device_of(x.grad)) == repr(ad._backend.device_of(raw))
    # and the float32 gradients agree with finite differences at float32 tolerance
    assert gradcheck(case.f, inputs)


def _index_inputs(be, shape, index):
    rng = np.random.default_rng(1)
    x = be.array(rng.uniform(-1, 1, size=shape))
    i = be.array(np.array(index), dtype="int64")
    return x, i


@pytest.mark.parametrize("name,f,shape,index", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_integer_indexing_accumulates_repeats(be, name, f, shape, index):
    x, i = _index_inputs(be, shape, index)
    assert gradcheck(lambda v: f(v, i), [x])
    assert gradgradcheck(lambda v: f(v, i) ** 2, [x])


def test_repeated_index_gradient_counts(be):
    x = ad.Variable(be.array([1.0, 2.0, 3.0]), requires_grad=True)
    idx = be.array(np.array([0, 0, 2, 0]), dtype="int64")
    ad.sum(x[idx]).backward()
    np.testing.assert_array_equal(be.to_numpy(x.grad), [3.0, 0.0, 1.0])


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # log(0) of the -inf slice
def test_logsumexp_at_the_extremes(be):
    """No overflow for large inputs; a slice of only -inf gives -inf and a zero
    gradient (not nan); a single -inf entry gets no weight."""
    inf = float("inf")
    x = ad.Variable(be.array([[1000.0, 1000.0], [-inf, -inf], [0.0, -inf]]), requires_grad=True)
    y = ad.logsumexp(x, axis=1)
    np.testing.assert_allclose(be.to_numpy(y), [1000.0 + np.log(2.0), -inf, 0.0])
    ad.sum(y * be.array([1.0, 2.0, 3.0])).backward()
    np.testing.assert_allclose(be.to_numpy(x.grad), [[0.5, 0.5], [0.0, 0.0], [3.0, 0.0]], rtol=1e-12, atol=0)


def test_logsumexp_forward_mode_matches_reverse(be):
    x = be.array(np.random.default_rng(1).standard_normal((3, 4)))
    t = be.array(np.random.default_rng(2).standard_normal((3, 4)))
    f = lambda v: ad.logsumexp(v, axis=0)  # noqa: E731
    _, jvp_out = ad.jvp(f, (x,), (t,))
    _, vjp_fn = ad.vjp(f, x)
    cot = be.array(np.ones(4))
    (g,) = vjp_fn(cot)
    # <1, J t> == <J^T 1, t>
    np.testing.assert_allclose(np.sum(be.to_numpy(jvp_out)), np.sum(be.to_numpy(g) * be.to_numpy(t)), rtol=1e-10)
