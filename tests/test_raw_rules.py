"""Primitive.raw_vjps: the raw-array forms of the hottest rules, which a plain
backward pass calls instead of ``vjps``. They must give what ``vjps`` gives,
bit for bit, on every backend, in every floating dtype, on hostile values."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.graph import PRIMITIVES

RAW = sorted((p for p in PRIMITIVES.values() if p.raw_vjps is not None), key=lambda p: p.name)
HOSTILE = [0.0, -0.0, 1.0, -2.5, 0.5, np.inf, -np.inf, np.nan, 1e-310, 1e300, 3.0, 7.0]
OTHER = [1.5, -1.0, 2.0, -0.0, 0.0, 2.0, -3.0, 1.0, 4.0, 1e-300, np.nan, np.inf]


def _same(a, b, be):
    a, b = be.to_numpy(a), be.to_numpy(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)  # NaN equals NaN here
    for part in (np.real, np.imag):
        assert np.array_equal(np.signbit(part(a)), np.signbit(part(b)))


def test_the_hot_rules_have_raw_forms():
    names = {p.name for p in RAW}
    assert {"add", "subtract", "multiply", "divide", "sin", "cos", "exp", "log"} <= names
    for p in RAW:
        written_for, raw = p.raw_vjps
        assert written_for is p.vjps and len(raw) == len(p.vjps), p.name


@pytest.mark.parametrize("prim", RAW, ids=lambda p: p.name)
@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128"])
def test_raw_rules_equal_the_rules(be, prim, dtype):
    with np.errstate(all="ignore"):
        x = np.array(HOSTILE) + (0.5j * np.array(OTHER[::-1]) if dtype == "complex128" else 0)
        y = np.array(OTHER) + (0.25j if dtype == "complex128" else 0)
        g = np.linspace(-2.0, 3.0, len(HOSTILE))
        xs = [be.array(x, dtype), be.array(y, dtype)][:len(prim.vjps)]
        ans = prim.fwd(be.xp, *xs)
        gg = be.array(g, dtype)
        for i, (rule, raw) in enumerate(zip(prim.vjps, prim.raw_vjps[1])):
            _same(raw(gg, ans, *xs), rule(gg, ans, *xs), be)
            if len(xs) == 2:  # a Python number operand, either side
                for k in (0, 1):
                    args = list(xs)
                    args[k] = 1.75
                    a2 = prim.fwd(be.xp, *args)
                    _same(raw(gg, a2, *args), rule(gg, a2, *args), be)


def test_gradients_of_a_small_graph_are_unchanged_by_the_raw_forms():
    def f(x):
        y = x
        for _ in range(10):
            y = ad.sin(y) * 1.01 + 0.1 * y - ad.exp(-y) / (y * y + 2.0)
            y = ad.cos(ad.sqrt(y * y + 1.0)) - ad.log(y * y + 3.0)
        return ad.sum(y)

    x = np.linspace(-0.5, 1.0, 16)
    g_plain = ad.grad(f)(x)
    g_graph = ad.grad(lambda v: ad.grad(f)(v).sum() * 0 + f(v))(x)  # a derivative graph: vjps
    np.testing.assert_array_equal(g_plain, g_graph)


def test_rules_replaced_later_are_not_shadowed_by_the_raw_forms(monkeypatch):
    prim = ad.cos.primitive
    monkeypatch.setattr(prim, "vjps", (lambda g, ans, x: ad.multiply(g, ad.sin(x)),))  # sign flipped
    x = np.array([0.2, 0.9])
    np.testing.assert_array_equal(ad.grad(lambda v: ad.sum(ad.cos(v)))(x), np.sin(x))


@pytest.mark.parametrize("prim", RAW, ids=lambda p: p.name)
def test_raw_rules_on_empty_arrays(be, prim):
    xs = [be.array(np.zeros((0, 3))), be.array(np.ones((0, 3)))][:len(prim.vjps)]
    ans = prim.fwd(be.xp, *xs)
    g = be.array(np.zeros((0, 3)))
    for rule, raw in zip(prim.vjps, prim.raw_vjps[1]):
        _same(raw(g, ans, *xs), rule(g, ans, *xs), be)
