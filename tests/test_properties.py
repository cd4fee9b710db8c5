"""Property tests (hypothesis): broadcasting shapes and random compositions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import anyad as ad
from anyad.testing import gradcheck

BINARY = [ad.add, ad.subtract, ad.multiply, lambda a, b: ad.divide(a, b * b + 1.0), ad.atan2]


@settings(max_examples=40, deadline=None, derandomize=True)  # the same examples every run
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       op=st.sampled_from(BINARY), seed=st.integers(0, 2**16))
def test_binary_gradients_have_their_input_shapes(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 1.5, size=shapes.input_shapes[0])
    b = rng.uniform(0.5, 1.5, size=shapes.input_shapes[1])
    va, vb = ad.Variable(a, requires_grad=True), ad.Variable(b, requires_grad=True)
    ad.sum(op(va, vb)).backward()
    assert va.grad.shape == a.shape and vb.grad.shape == b.shape
    assert gradcheck(op, [a, b])


UNARY = {
    "sin": (ad.sin, "sin"), "cos": (ad.cos, "cos"), "tanh": (ad.tanh, "tanh"), "exp": (ad.exp, "exp"),
    "square": (ad.square, "square"), "atan": (ad.atan, "atan"), "sinh": (ad.sinh, "sinh"),
    "log1p_sq": (lambda x: ad.log1p(x * x), lambda t, x: t.log1p(x * x)),
    "sqrt_1p_sq": (lambda x: ad.sqrt(1.0 + x * x), lambda t, x: t.sqrt(1.0 + x * x)),
}


@settings(max_examples=40, deadline=None, derandomize=True)  # the same examples every run
@given(chain=st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=6),
       values=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=5))
def test_random_compositions_match_torch_to_second_order(chain, values):
    torch = pytest.importorskip("torch")

    def apply_anyad(x):
        for name in chain:
            x = UNARY[name][0](x)
        return x

    def apply_torch(x):
        for name in chain:
            f = UNARY[name][1]
            x = getattr(torch, f)(x) if isinstance(f, str) else f(torch, x)
        return x

    x = np.asarray(values)
    v = ad.Variable(x, requires_grad=True)
    (g,) = ad.backprop([ad.sum(apply_anyad(v))], [None], [v], create_graph=True)
    (gg,) = ad.backprop([ad.sum(g)], [None], [v])
    t = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(apply_torch(t).sum(), t, create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), t)
    np.testing.assert_allclose(g.value, tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gg, tgg.numpy(), rtol=1e-9, atol=1e-11)
