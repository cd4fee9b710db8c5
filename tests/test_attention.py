"""Attention against torch: scaled_dot_product_attention (masks, causal, scale,
broadcast batch axes), MultiheadAttention and TransformerEncoderLayer with a
torch module's weights loaded (values and every parameter's gradient, float64
and float32, batch_first or not, masks), second order, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad import nn
from anyad.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _rand(shape, seed, dtype="float64"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _tol(dtype):
    return {"rtol": 1e-10, "atol": 1e-12} if dtype == "float64" else {"rtol": 2e-4, "atol": 2e-5}


MASKS = {
    "none": None,
    "bool": np.array([[True, False, True, True, False], [True, True, True, False, True],
                      [False, True, True, True, True]]),
    "float": _rand((3, 5), 9),
}


@pytest.mark.parametrize("mask", sorted(MASKS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scaled_dot_product_attention_matches_torch(be, mask, dtype):
    q, k, v = _rand((2, 2, 3, 4), 0, dtype), _rand((2, 2, 5, 4), 1, dtype), _rand((2, 2, 5, 6), 2, dtype)
    m = MASKS[mask]
    w = _rand((2, 2, 3, 6), 3, dtype)
    args = [ad.Variable(be.array(a, dtype), requires_grad=True) for a in (q, k, v)]
    am = None if m is None else be.array(m, "bool" if m.dtype == bool else dtype)
    out = F.scaled_dot_product_attention(*args, attn_mask=am, scale=0.3)
    ad.sum(out * be.array(w, dtype)).backward()
    targs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    tm = None if m is None else torch.tensor(m if m.dtype == bool else m.astype(dtype))
    tout = TF.scaled_dot_product_attention(*targs, attn_mask=tm, scale=0.3)
    (tout * torch.tensor(w)).sum().backward()
    assert out.dtype == args[0].dtype
    np.testing.assert_allclose(be.to_numpy(out.value), tout.detach().numpy(), **_tol(dtype))
    for a, t in zip(args, targs):
        np.testing.assert_allclose(be.to_numpy(a.grad), t.grad.numpy(), **_tol(dtype))


def test_causal_attention_matches_torch_and_is_twice_differentiable():
    q, k, v = _rand((3, 4, 2), 0), _rand((3, 4, 2), 1), _rand((3, 4, 2), 2)
    out = F.scaled_dot_product_attention(ad.asarray(q), ad.asarray(k), ad.asarray(v), is_causal=True)
    ref = TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), is_causal=True)
    np.testing.assert_allclose(np.asarray(out), ref.numpy(), rtol=1e-12)
    f = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)  # noqa: E731
    assert ad.gradgradcheck(f, [q[:1, :3], k[:1, :3], v[:1, :3]])
    assert ad.gradcheck(f, [q[:1, :3], k[:1, :3], v[:1, :3]])


def test_attention_dropout_is_drawn_by_the_generator():
    q = ad.Variable(_rand((1, 4, 3), 0), requires_grad=True)
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, rng=ad.random.default_rng(1))
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, rng=ad.random.default_rng(1))
    np.testing.assert_array_equal(a.value, b.value)
    with pytest.raises(ValueError, match="dropout_p > 0 needs a generator"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)


def _copy_state(anyad_module, torch_module):
    state = {k: v.detach().numpy() for k, v in torch_module.state_dict().items()}
    anyad_module.load_state_dict(state)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_multihead_attention_matches_torch(batch_first, dtype):
    tdt = getattr(torch, dtype)
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=tdt)
    am = nn.MultiheadAttention(8, 2, batch_first=batch_first, rng=0, dtype=dtype)
    assert sorted(am.state_dict()) == sorted(tm.state_dict())
    _copy_state(am, tm)
    shape = (3, 5, 8) if batch_first else (5, 3, 8)
    x, kv = _rand(shape, 0, dtype), _rand(shape, 1, dtype)
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)
    padding = np.zeros((3, 5), dtype=bool)
    padding[1, -2:] = True
    w = _rand(shape, 2, dtype)
    xa, kva = ad.Variable(x, requires_grad=True), ad.Variable(kv, requires_grad=True)
    out, weights = am(xa, kva, kva, attn_mask=mask, key_padding_mask=padding)
    (ad.sum(out * w) + ad.sum(weights)).backward()
    xt, kvt = torch.tensor(x, requires_grad=True), torch.tensor(kv, requires_grad=True)
    tout, tweights = tm(xt, kvt, kvt, attn_mask=torch.tensor(mask), key_padding_mask=torch.tensor(padding))
    ((tout * torch.tensor(w)).sum() + tweights.sum()).backward()
    tol = _tol(dtype)
    np.testing.assert_allclose(out.value, tout.detach().numpy(), **tol)
    np.testing.assert_allclose(weights.value, tweights.detach().numpy(), **tol)
    np.testing.assert_allclose(xa.grad, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(kva.grad, kvt.grad.numpy(), **tol)
    for name, p in am.named_parameters():
        tp = dict(tm.named_parameters())[name]
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), **tol)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_layer_matches_torch(norm_first, activation):
    tl = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=activation,
                                          batch_first=True, norm_first=norm_first, dtype=torch.float64)
    al = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=activation,
                                    batch_first=True, norm_first=norm_first, rng=0, dtype="float64")
    assert sorted(al.state_dict()) == sorted(tl.state_dict())
    _copy_state(al, tl)
    x = _rand((2, 4, 8), 0)
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)
    xa = ad.Variable(x, requires_grad=True)
    out = al(xa, src_mask=causal)
    ad.sum(out ** 2).backward()
    xt = torch.tensor(x, requires_grad=True)
    tout = tl(xt, src_mask=torch.tensor(causal))
    (tout ** 2).sum().backward()
    np.testing.assert_allclose(out.value, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xa.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in al.named_parameters():
        np.testing.assert_allclose(p.grad, dict(tl.named_parameters())[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


def test_layers_train_on_device1_without_touching_the_host(no_host_sync):
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.1, batch_first=True, rng=0,
                                       backend="array_api_strict", device=dev)
    x = strict.asarray(_rand((2, 3, 4), 0, "float32"), device=dev)
    loss = ad.mean(layer(x) ** 2)
    loss.backward()
    assert all(p.grad is not None and repr(p.grad.device) == repr(dev) for p in layer.parameters())


def test_bad_input_names_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match="embed_dim=10 must be a positive multiple of num_heads=3"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2, batch_first=True, rng=0)
    with pytest.raises(ValueError, match=r"MultiheadAttention: query has shape \(3, 5, 6\).*8 features"):
        x = ad.Variable(np.ones((3, 5, 6), dtype="float32"))
        mha(x, x, x)
    with pytest.raises(ValueError, match=r"query \(2, 3\), key \(2, 4\) and value \(4, 2\)"):
        F.scaled_dot_product_attention(np.ones((2, 3)), np.ones((2, 4)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="activation must be"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
