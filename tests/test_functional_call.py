"""anyad.nn.functional_call against torch.func.functional_call, and with grad, value_and_grad and jit;
Module.to with torch-style device strings."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad import nn
from anyad.nn import functional as F
from anyad.nn import functional_call

torch = pytest.importorskip("torch")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 5, rng=0, dtype="float64"), nn.Tanh())
        self.head = nn.Linear(5, 2, rng=1, dtype="float64")

    def forward(self, x, scale=1.0):
        return self.head(self.body(x)) * scale


def torch_net(net):
    t = torch.nn.ModuleDict({"body": torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh()),
                             "head": torch.nn.Linear(5, 2)}).double()
    t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in net.state_dict().items()})

    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = t["body"], t["head"]

        def forward(self, x, scale=1.0):
            return self.head(self.body(x)) * scale

    return T()


def new_params(net, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=p.shape) for k, p in net.named_parameters()}


def snapshot(net):
    return {k: np.array(v) for k, v in net.state_dict().items()}


X = np.random.default_rng(5).normal(size=(4, 3))


def test_matches_torch_output_and_gradients():
    net = Net()
    tnet = torch_net(net)
    params = new_params(net, 0)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    out = functional_call(net, params, (X,), {"scale": 2.0})
    tout = torch.func.functional_call(tnet, tparams, (torch.from_numpy(X),), {"scale": 2.0})
    np.testing.assert_allclose(out.value, tout.detach().numpy(), rtol=1e-13, atol=1e-14)

    def loss(p):
        return ad.sum(ad.sin(functional_call(net, p, X)))

    value, grads = ad.value_and_grad(loss)(params)
    tvalue = torch.sin(torch.func.functional_call(tnet, tparams, (torch.from_numpy(X),))).sum()
    tgrads = dict(zip(tparams, torch.autograd.grad(tvalue, list(tparams.values()))))
    assert float(value) == pytest.approx(tvalue.item(), rel=1e-13)
    assert sorted(grads) == sorted(params)
    for k in params:
        np.testing.assert_allclose(grads[k], tgrads[k].numpy(), rtol=1e-12, atol=1e-14)
    # the gradient is with respect to the given values, not the module's own
    own = ad.grad(loss)({k: p.value for k, p in net.named_parameters()})
    assert not np.allclose(own["head.weight"], grads["head.weight"])


def test_second_order_against_torch():
    net = Net()
    tnet = torch_net(net)
    params = new_params(net, 1)
    w = params["head.weight"]

    def f(wh):
        return ad.sum(functional_call(net, {"head.weight": wh}, X) ** 3)

    hess = ad.hessian(f)(w)
    tf = lambda wh: (torch.func.functional_call(tnet, {"head.weight": wh}, (torch.from_numpy(X),)) ** 3).sum()
    thess = torch.autograd.functional.hessian(tf, torch.from_numpy(w))
    np.testing.assert_allclose(hess, thess.numpy(), rtol=1e-11, atol=1e-12)


def test_module_untouched_after_the_call_and_after_an_error():
    net = Net()
    before = snapshot(net)
    ids = {k: id(p) for k, p in net.named_parameters()}
    functional_call(net, new_params(net, 2), X)
    with pytest.raises(Exception):
        functional_call(net, new_params(net, 3), np.ones((4, 7)))  # wrong width: the layer raises
    after = snapshot(net)
    assert {k: id(p) for k, p in net.named_parameters()} == ids
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    np.testing.assert_allclose(net(X).value, torch_net(net)(torch.from_numpy(X)).detach().numpy(), rtol=1e-13)


def test_partial_dict_keeps_the_module_values():
    net = Net()
    tnet = torch_net(net)
    part = {"body.0.bias": np.full(5, 0.3)}
    out = functional_call(net, part, X)
    tout = torch.func.functional_call(tnet, {k: torch.from_numpy(v) for k, v in part.items()},
                                      (torch.from_numpy(X),))
    np.testing.assert_allclose(out.value, tout.detach().numpy(), rtol=1e-13)
    # only the given parameter gets a gradient through the dict; the rest stay the module's
    g = ad.grad(lambda p: ad.sum(functional_call(net, p, X)))(part)
    assert list(g) == ["body.0.bias"]


def test_several_dicts_and_duplicates():
    net = Net()
    p = new_params(net, 4)
    a = {k: v for k, v in p.items() if k.startswith("body")}
    b = {k: v for k, v in p.items() if k.startswith("head")}
    np.testing.assert_array_equal(functional_call(net, (a, b), X).value, functional_call(net, p, X).value)
    with pytest.raises(ValueError, match="appears in more than one dict"):
        functional_call(net, (a, a), X)


def test_unknown_and_missing_names_raise_clearly():
    net = Net()
    with pytest.raises(KeyError, match=r"\['head.weigth'\] are not parameters.*did you mean \['head.weight'\]"):
        functional_call(net, {"head.weigth": np.zeros((2, 5))}, X)
    with pytest.raises(KeyError, match=r"strict=True\): no value for \['body.0.weight'"):
        functional_call(net, {"head.weight": np.zeros((2, 5))}, X, strict=True)
    with pytest.raises(TypeError, match="expected an anyad.nn.Module"):
        functional_call(lambda x: x, {}, X)
    snap = snapshot(net)
    for k, v in snapshot(net).items():
        np.testing.assert_array_equal(v, snap[k])


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 4, bias=False, rng=0, dtype="float64")
        self.dec = nn.Linear(4, 4, bias=False, rng=1, dtype="float64")
        self.dec.weight = self.enc.weight  # tied
        self.again = self.enc  # a shared sub-module

    def forward(self, x):
        return self.dec(ad.tanh(self.again(self.enc(x))))


def torch_tied():
    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(4, 4, bias=False).double()
            self.dec = torch.nn.Linear(4, 4, bias=False).double()
            self.dec.weight = self.enc.weight
            self.again = self.enc

        def forward(self, x):
            return self.dec(torch.tanh(self.again(self.enc(x))))

    return T()


@pytest.mark.parametrize("name", ["enc.weight", "dec.weight", "again.weight"])
def test_tied_weights_take_the_value_under_every_name(name):
    m, t = Tied(), torch_tied()
    assert [k for k, _ in m.named_parameters()] == ["enc.weight"]
    w = np.random.default_rng(0).normal(size=(4, 4))
    x = np.random.default_rng(1).normal(size=(3, 4))
    out = functional_call(m, {name: w}, x)
    tout = torch.func.functional_call(t, {name: torch.from_numpy(w)}, (torch.from_numpy(x),))
    np.testing.assert_allclose(out.value, tout.detach().numpy(), rtol=1e-13)
    def f(w):
        return ad.sum(functional_call(m, {name: w}, x) ** 2)

    g = ad.grad(f)(w)
    fd = np.zeros_like(w)  # central differences: every use of the tied weight moves together
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = 1e-6
        fd[i] = (float(f(w + e)) - float(f(w - e))) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)
    assert m.dec.weight is m.enc.weight and isinstance(m.enc.weight, nn.Parameter)


def test_tied_weights_given_two_values_or_untied():
    m = Tied()
    x = np.ones((2, 4))
    w1, w2 = np.eye(4), 2 * np.eye(4)
    with pytest.raises(ValueError, match="'enc.weight' and 'dec.weight' are the same \\(tied\\) parameter"):
        functional_call(m, {"enc.weight": w1, "dec.weight": w2}, x)
    # untied: only the named use changes (enc and again share a module, so they change together)
    out = functional_call(m, {"enc.weight": w1, "dec.weight": w2}, x, tie_weights=False)
    np.testing.assert_allclose(out.value, 2 * np.tanh(x), rtol=1e-14)
    assert m.dec.weight is m.enc.weight


def test_buffers_eval_mode_and_training_updates_the_given_arrays():
    bn = nn.BatchNorm1d(3, dtype="float64")
    x = np.random.default_rng(0).normal(size=(8, 3))
    mean, var = np.full(3, 0.5), np.full(3, 4.0)
    bn.eval()
    out = functional_call(bn, {"running_mean": mean, "running_var": var}, x)
    np.testing.assert_allclose(out.value, (x - 0.5) / np.sqrt(4.0 + 1e-5), rtol=1e-13)
    bn.train()
    own_mean = np.array(bn.running_mean)
    functional_call(bn, {"running_mean": mean, "running_var": var}, x)
    np.testing.assert_allclose(mean, 0.9 * 0.5 + 0.1 * x.mean(axis=0), rtol=1e-13)
    np.testing.assert_array_equal(bn.running_mean, own_mean)


def test_jit_replays_with_new_parameter_values():
    net = Net()
    f = ad.jit(lambda p, x: functional_call(net, p, x))
    for seed in range(4):
        p = new_params(net, seed)
        np.testing.assert_allclose(f(p, X), functional_call(net, p, X).value, rtol=1e-14)
    assert f.traces == 1
    # jit of value_and_grad through functional_call: gradients follow the new values too
    def loss(p, x):
        return ad.mean(functional_call(net, p, x) ** 2)

    vg = ad.jit(ad.value_and_grad(loss))
    for seed in range(3):
        p = new_params(net, 10 + seed)
        value, grads = vg(p, X)
        evalue, egrads = ad.value_and_grad(loss)(p, X)
        assert float(value) == pytest.approx(float(evalue), rel=1e-14)
        for k in p:
            np.testing.assert_allclose(grads[k], egrads[k], rtol=1e-13)
    assert vg.traces == 1


def test_jit_partial_dict_reads_the_module_current_values():
    net = Net()
    f = ad.jit(lambda p, x: functional_call(net, p, x))
    p = {"head.weight": np.ones((2, 5))}
    f(p, X)
    net.body[0].weight.value[...] = 0.25  # a module parameter not in the dict, changed in place
    net.head.bias.value = np.array([1.0, -1.0])  # ... and one rebound
    np.testing.assert_allclose(f(p, X), functional_call(net, p, X).value, rtol=1e-14)
    assert f.traces == 1


def test_float32_model():
    net = nn.MLP([3, 4, 2], rng=0)
    p = {k: v.value * 2 for k, v in net.named_parameters()}
    x = X.astype(np.float32)
    out = functional_call(net, p, x)
    assert out.dtype == np.float32
    g = ad.grad(lambda p: ad.sum(F.gelu(functional_call(net, p, x))))(p)
    assert all(v.dtype == np.float32 for v in g.values())


def test_to_with_a_device_string():
    lin = nn.Linear(2, 2, rng=0)
    assert lin.to("cpu") is lin and type(lin.weight.value) is np.ndarray
    tl = nn.Linear(2, 2, rng=0).to("torch")
    tl.to("cpu")
    assert isinstance(tl.weight.value, torch.Tensor) and tl.weight.value.device.type == "cpu"
    back = nn.Linear(2, 2, rng=0).to("array_api_strict", "device1").to("cpu")
    assert str(back.weight.device) == "array_api_strict.Device('CPU_DEVICE')"
    with pytest.raises(ValueError, match="array_api_strict has no CUDA device"):
        nn.Linear(2, 2).to("array_api_strict").to("cuda")
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(Exception, match="cupy"):
            nn.Linear(2, 2).to("cuda")


@pytest.mark.skipif(not hasattr(ad, "vmap"), reason="anyad.vmap not in this version")
def test_vmap_ensembles_and_per_sample_gradients():
    net = Net()
    rng = np.random.default_rng(7)
    stacked = {k: rng.normal(size=(3,) + tuple(p.shape)) for k, p in net.named_parameters()}
    out = ad.vmap(lambda p: functional_call(net, p, X))(stacked)  # three models at once
    for i in range(3):
        one = functional_call(net, {k: v[i] for k, v in stacked.items()}, X)
        np.testing.assert_allclose(getattr(out, "value", out)[i], one.value, rtol=1e-13)
    params = {k: p.value for k, p in net.named_parameters()}

    def loss(p, xi):
        return ad.sum(functional_call(net, p, xi[None]) ** 2)

    per = ad.vmap(ad.grad(loss), in_axes=(None, 0))(params, X)  # a gradient per sample
    for i in range(X.shape[0]):
        gi = ad.grad(loss)(params, X[i])
        for k in params:
            np.testing.assert_allclose(getattr(per[k], "value", per[k])[i], gi[k], rtol=1e-12, atol=1e-14)
