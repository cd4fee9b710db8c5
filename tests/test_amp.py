"""Mixed precision: autocast's dtype policy on every backend (matmul, linear and
convolutions in float16, reductions and losses in float32, gradients of float32
parameters in float32, float64 untouched, backward at the recorded precision),
values against float32, and GradScaler's scale and skipped steps against
torch.amp.GradScaler on the same sequence of gradients."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad import nn
from anyad.nn import functional as F


def _name(dt):
    return str(dt).rsplit(".", 1)[-1]


def test_autocast_policy_on_every_backend(be):
    if be.name == "dask":
        pytest.skip("float16 matmul on dask chunks is not what autocast is for")
    rng = np.random.default_rng(0)
    x = be.array(rng.normal(size=(4, 3)), "float32")
    w = ad.Variable(be.array(rng.normal(size=(2, 3)), "float32"), requires_grad=True)
    b = ad.Variable(be.array(rng.normal(size=(2,)), "float32"), requires_grad=True)
    if not hasattr(be.xp, "float16"):  # array_api_strict: the standard has no float16
        with pytest.raises(TypeError, match="autocast: array_api_strict arrays have no float16"):
            with ad.amp.autocast(dtype="float16"):
                F.linear(x, w, b)
        return
    with ad.amp.autocast(dtype="float16"):
        h = F.linear(x, w, b)
        p = F.softmax(h, axis=-1)
        loss = ad.mean(p * p) + ad.sum(h) * 0.0
    assert _name(h.dtype) == "float16"
    assert _name(p.dtype) == "float32" and _name(loss.dtype) == "float32"
    loss.backward()  # outside the block: every rule at its recorded precision
    assert _name(w.grad.dtype) == "float32" and _name(b.grad.dtype) == "float32"
    w32 = ad.Variable(w.value, requires_grad=True)
    b32 = ad.Variable(b.value, requires_grad=True)
    p32 = F.softmax(F.linear(x, w32, b32), axis=-1)
    ad.mean(p32 * p32).backward()
    np.testing.assert_allclose(be.to_numpy(w.grad), be.to_numpy(w32.grad), rtol=2e-2, atol=2e-3)


def test_float64_and_outside_the_block_are_unchanged():
    x = ad.Variable(np.ones((2, 2)), requires_grad=True)
    with ad.amp.autocast():
        y = x @ x
        with ad.amp.autocast(enabled=False):
            z = ad.Variable(np.ones((2, 2), dtype="float32")) @ np.ones((2, 2), dtype="float32")
    assert y.dtype == np.float64 and z.dtype == np.float32
    assert (ad.Variable(np.ones((2, 2), dtype="float32")) @ np.ones((2, 2), dtype="float32")).dtype == np.float32


def test_backward_inside_the_block_keeps_the_recorded_precision():
    w = ad.Variable(np.ones((3, 2), dtype="float32"), requires_grad=True)
    with ad.amp.autocast():
        loss = ad.sum(F.softmax(np.ones((4, 3), dtype="float32") @ w, axis=-1) ** 2)
        loss.backward()
    assert w.grad.dtype == np.float32


def test_layers_and_convolutions_under_autocast():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, rng=0), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3, rng=1))
    x = np.random.default_rng(0).normal(size=(2, 1, 4, 4)).astype("float32")
    y = np.array([0, 2])
    with ad.amp.autocast(dtype="float16"):
        logits = net(x)
        loss = F.cross_entropy(logits, y)
    assert logits.dtype == np.float16 and loss.dtype == np.float32
    loss.backward()
    for p in net.parameters():
        assert p.grad.dtype == np.float32
    ref = F.cross_entropy(net(x), y)
    np.testing.assert_allclose(float(loss), float(ref), rtol=5e-3)


def test_bfloat16_where_the_library_has_it():
    torch = pytest.importorskip("torch")
    w = ad.Variable(torch.ones(3, 2), requires_grad=True)
    with ad.amp.autocast(dtype="bfloat16"):
        h = torch.ones(4, 3) @ w
    assert h.dtype == torch.bfloat16
    ad.sum(h).backward()
    assert w.grad.dtype == torch.float32
    with pytest.raises(ValueError, match="dtype must be one of float16, bfloat16"):
        ad.amp.autocast(dtype="float32")


def test_grad_scaler_matches_torch_step_for_step():
    torch = pytest.importorskip("torch")
    grads = [1.0, 2.0, float("inf"), 0.5, 1.0, float("nan"), 1.0, 1.0, 1.0, 1.0]
    w = ad.Variable(np.zeros(1, dtype="float32"), requires_grad=True)
    opt = ad.optim.SGD([w], lr=0.1)
    scaler = ad.amp.GradScaler(init_scale=8.0, growth_interval=3)
    tw = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.1)
    tscaler = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=3)
    for g in grads:
        scaler.scale(ad.sum(w * np.float32(g))).backward()
        taken = scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        tscaler.scale((tw * g).sum()).backward()
        tscaler.step(topt)
        tscaler.update()
        topt.zero_grad()
        assert scaler.get_scale() == tscaler.get_scale(), g
        assert taken == np.isfinite(g)
        np.testing.assert_allclose(w.value, tw.detach().numpy(), rtol=1e-6)
    state = scaler.state_dict()
    other = ad.amp.GradScaler()
    other.load_state_dict(state)
    assert other.get_scale() == scaler.get_scale()


def test_grad_scaler_keeps_small_float16_gradients():
    """A gradient of 1e-8 through a float16 matmul flushes to zero unscaled
    (float16's smallest subnormal is 6e-8); scaled, it survives."""
    x = np.ones((1, 1), dtype="float32")
    w = ad.Variable(np.ones((1, 1), dtype="float32"), requires_grad=True)
    with ad.amp.autocast():
        loss = ad.sum(x @ w) * 1e-8  # the sum casts up: the loss is float32
    assert loss.dtype == np.float32
    loss.backward()
    assert float(w.grad[0, 0]) == 0.0
    w.grad = None
    scaler = ad.amp.GradScaler()
    with ad.amp.autocast():
        loss = ad.sum(x @ w) * 1e-8
    scaler.scale(loss).backward()
    scaler.unscale_(ad.optim.SGD([w], lr=0.0))
    np.testing.assert_allclose(w.grad, [[1e-8]], rtol=1e-2)


def test_a_float16_training_loop_with_the_scaler_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) > 0).astype(np.int64)
    net = nn.MLP([4, 16, 2], rng=0)
    opt = ad.optim.Adam(net.parameters(), lr=0.05)
    scaler = ad.amp.GradScaler()
    first = None
    for _ in range(60):
        with ad.amp.autocast():
            loss = F.cross_entropy(net(x), y)
        first = float(loss) if first is None else first
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    assert float(loss) < 0.3 * first
