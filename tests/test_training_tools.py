"""The training-loop tools against torch, on every backend of the matrix:
RMSprop, Adagrad and LBFGS trajectories (float64, to ~1e-10), step(closure),
zero_grad(set_to_none=...), clip_grad_norm_ / clip_grad_value_ (no host
synchronisation), ModuleList / ModuleDict / apply / requires_grad_, float32
parameters by default and the dtype error, manual_seed."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad import nn, optim

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
W0, B0 = RNG.normal(size=(3, 4)), RNG.normal(size=3)
XS = [RNG.normal(size=(5, 4)) for _ in range(4)]


def ours_loss(w, b, x):
    return ad.sum(ad.tanh(ad.matmul(x, w.mT) + b) ** 2) + 0.1 * ad.sum(w * w * w * w)


def torch_loss(w, b, x):
    return (torch.tanh(torch.tensor(x) @ w.T + b) ** 2).sum() + 0.1 * (w * w * w * w).sum()


def params(be):
    return nn.Parameter(be.array(W0.copy())), nn.Parameter(be.array(B0.copy()))  # updated in place


def torch_params():
    return torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)


def close(be, ours, theirs, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(be.to_numpy(ours), theirs.detach().numpy(), rtol=rtol, atol=atol)


def run_both(be, make_ours, make_theirs, steps=15):
    w, b = params(be)
    tw, tb = torch_params()
    opt, topt = make_ours([w, b]), make_theirs([tw, tb])
    xs = [be.array(x) for x in XS]
    for i in range(steps):
        opt.zero_grad()
        ours_loss(w, b, xs[i % 4]).backward()
        opt.step()
        topt.zero_grad()
        torch_loss(tw, tb, XS[i % 4]).backward()
        topt.step()
    close(be, w, tw)
    close(be, b, tb)
    assert str(ad._backend.device_of(w.value)) == str(ad._backend.device_of(be.array(W0)))
    assert w.dtype == be.array(W0).dtype
    return opt


RMSPROP = [dict(lr=0.01), dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1),
           dict(lr=0.005, momentum=0.9), dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.01)]
ADAGRAD = [dict(lr=0.1), dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-8)]


@pytest.mark.parametrize("kw", RMSPROP, ids=[str(k) for k in RMSPROP])
def test_rmsprop_matches_torch(be, kw):
    opt = run_both(be, lambda p: optim.RMSprop(p, **kw), lambda p: torch.optim.RMSprop(p, **kw))
    assert opt.state_dict()["param_groups.0.alpha"] == kw.get("alpha", 0.99)


@pytest.mark.parametrize("kw", ADAGRAD, ids=[str(k) for k in ADAGRAD])
def test_adagrad_matches_torch(be, kw):
    run_both(be, lambda p: optim.Adagrad(p, **kw), lambda p: torch.optim.Adagrad(p, **kw))


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size", [100, 3])
def test_lbfgs_matches_torch(be, line_search, history_size):
    if be.name == "dask":
        pytest.skip("dask recomputes the lazy parameter history at each of L-BFGS's host reads (minutes)")
    w, b = params(be)
    tw, tb = torch_params()
    # near the minimum the directions are made of rounding noise (a sum here, torch's BLAS dot
    # there), which L-BFGS amplifies: 4 iterations per step stay away from it (1e-13 apart)
    kw = dict(lr=1.0, max_iter=4, history_size=history_size,
              line_search_fn=line_search)
    opt, topt = optim.LBFGS([w, b], **kw), torch.optim.LBFGS([tw, tb], **kw)
    target, ttarget = be.array(np.linspace(-1, 1, 12).reshape(3, 4)), torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(3, 4)
    for i in range(4):
        x = be.array(XS[i % 4])

        def closure():
            opt.zero_grad()
            loss = ours_loss(w, b, x) + ad.sum((w - target) ** 2) + ad.sum(b * b)
            loss.backward()
            return loss

        def tclosure():
            topt.zero_grad()
            loss = torch_loss(tw, tb, XS[i % 4]) + ((tw - ttarget) ** 2).sum() + (tb * tb).sum()
            loss.backward()
            return loss

        ours, theirs = opt.step(closure), topt.step(tclosure)
        assert float(ours) == pytest.approx(theirs.item(), rel=1e-10)
        close(be, w, tw)
        close(be, b, tb)
    tstate, state = topt.state[topt._params[0]], opt.state[w]
    assert (state["func_evals"], state["n_iter"]) == (tstate["func_evals"], tstate["n_iter"])


def test_lbfgs_needs_a_closure_and_one_group():
    w = nn.Parameter([1.0])
    with pytest.raises(ValueError, match="closure"):
        optim.LBFGS([w]).step()
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([w], line_search_fn="armijo")


def test_step_with_a_closure_returns_its_loss_as_torch(be):
    w, b = params(be)
    tw, tb = torch_params()
    opt, topt = optim.SGD([w, b], lr=0.1, momentum=0.9), torch.optim.SGD([tw, tb], lr=0.1, momentum=0.9)
    x = be.array(XS[0])
    for _ in range(3):
        def closure():
            opt.zero_grad()
            loss = ours_loss(w, b, x)
            loss.backward()
            return loss

        def tclosure():
            topt.zero_grad()
            loss = torch_loss(tw, tb, XS[0])
            loss.backward()
            return loss

        assert float(opt.step(closure)) == pytest.approx(topt.step(tclosure).item(), rel=1e-12)
    close(be, w, tw)
    assert opt.step() is None


def test_zero_grad_set_to_none_and_zeros(be):
    w, b = params(be)
    tw, tb = torch_params()
    opt, topt = optim.SGD([w, b], lr=0.1), torch.optim.SGD([tw, tb], lr=0.1)
    x = be.array(XS[1])
    ours_loss(w, b, x).backward()
    torch_loss(tw, tb, XS[1]).backward()
    opt.zero_grad(set_to_none=False)
    topt.zero_grad(set_to_none=False)
    assert be.to_numpy(w.grad).tolist() == tw.grad.numpy().tolist()  # all zeros, the shape kept
    assert w.grad.dtype == w.value.dtype
    assert str(ad._backend.device_of(w.grad)) == str(ad._backend.device_of(w.value))
    ours_loss(w, b, x).backward()  # accumulates onto the zeros: the fresh gradient
    torch_loss(tw, tb, XS[1]).backward()
    close(be, w.grad, tw.grad)
    opt.zero_grad()
    topt.zero_grad()
    assert w.grad is None and tw.grad is None
    opt.zero_grad(set_to_none=False)  # a parameter without a gradient keeps None, as in torch
    assert w.grad is None


def test_module_zero_grad_set_to_none(be):
    net = nn.Linear(4, 3, rng=0, backend=be.xp, device=be.device)
    ad.sum(net(be.array(XS[0], "float32"))).backward()
    net.zero_grad(set_to_none=False)
    assert all(float(be.xp.sum(be.xp.abs(p.grad))) == 0.0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ---------------------------------------------------------------------------
# gradient clipping
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(be, norm_type, max_norm):
    w, b = params(be)
    tw, tb = torch_params()
    x = be.array(XS[2])
    ours_loss(w, b, x).backward()
    torch_loss(tw, tb, XS[2]).backward()
    total = nn.utils.clip_grad_norm_([w, b], max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_([tw, tb], max_norm, norm_type)
    assert float(total) == pytest.approx(ttotal.item(), rel=1e-12)
    close(be, w.grad, tw.grad, rtol=1e-12)
    close(be, b.grad, tb.grad, rtol=1e-12)


def test_clip_grad_norm_keeps_float32_and_never_reads_the_device(no_host_sync):
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    w = nn.Parameter(strict.asarray(W0, dtype=strict.float32, device=dev))
    ad.sum(w * w * 10.0).backward()
    total = nn.utils.clip_grad_norm_(w, 1.0)
    nn.utils.clip_grad_value_([w], 0.1)
    assert total.device == dev and total.dtype == strict.float32
    assert w.grad.device == dev and w.grad.dtype == strict.float32


def test_clip_grad_value_matches_torch(be):
    w, b = params(be)
    tw, tb = torch_params()
    ours_loss(w, b, be.array(XS[3])).backward()
    torch_loss(tw, tb, XS[3]).backward()
    nn.utils.clip_grad_value_([w, b], 0.3)
    torch.nn.utils.clip_grad_value_([tw, tb], 0.3)
    close(be, w.grad, tw.grad, rtol=1e-12)
    close(be, b.grad, tb.grad, rtol=1e-12)
    g = np.concatenate([be.to_numpy(w.grad).ravel(), be.to_numpy(b.grad).ravel()])
    assert np.abs(g).max() == 0.3 and (np.abs(g) == 0.3).sum() >= 2  # some were clipped, to exactly 0.3


def test_clip_grad_norm_of_differentiable_gradients_and_of_none():
    w = nn.Parameter([3.0, 4.0])
    loss = ad.sum(w * w)
    loss.backward(create_graph=True)
    assert isinstance(w.grad, ad.Variable)
    total = nn.utils.clip_grad_norm_([w], 1.0)
    assert float(total) == pytest.approx(10.0) and isinstance(w.grad, ad.Variable)
    np.testing.assert_allclose(w.grad.value, [0.6, 0.8], rtol=1e-6)
    assert nn.utils.clip_grad_norm_([nn.Parameter([1.0])], 1.0) == 0.0
    with pytest.raises(RuntimeError, match="nan"):
        v = nn.Parameter([1.0])
        v.grad = np.array([np.nan])
        nn.utils.clip_grad_norm_([v], 1.0, error_if_nonfinite=True)


# ---------------------------------------------------------------------------
# containers, apply, requires_grad_
# ---------------------------------------------------------------------------


def test_module_list_and_dict_register_like_torch():
    ours = nn.ModuleList([nn.Linear(2, 3, rng=0), nn.Linear(3, 1, rng=1)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 3), torch.nn.Linear(3, 1)])
    ours.insert(1, nn.ReLU())
    theirs.insert(1, torch.nn.ReLU())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    del ours[0]
    del theirs[0]
    assert list(ours.state_dict()) == list(theirs.state_dict()) and len(ours) == len(theirs) == 2
    ours[0] = nn.Linear(5, 5, rng=2)
    theirs[0] = torch.nn.Linear(5, 5)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert isinstance(ours[1:], nn.ModuleList) and len(ours[1:]) == 1
    heads = nn.ModuleDict({"a": nn.Linear(2, 2, rng=0)})
    theads = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2)})
    heads["b"] = nn.ModuleList([nn.Linear(2, 1, rng=1)])
    theads["b"] = torch.nn.ModuleList([torch.nn.Linear(2, 1)])
    assert list(heads.state_dict()) == list(theads.state_dict())
    assert heads.pop("a") is not None and list(heads) == ["b"]
    with pytest.raises(KeyError, match="'.'"):
        heads["x.y"] = nn.ReLU()
    with pytest.raises(TypeError, match="Module"):
        nn.ModuleList([lambda x: x])
    lin = nn.Linear(2, 2, rng=0)
    heads.update([("c", lin)])
    heads.to(dtype="float64")
    assert lin.weight.dtype == np.float64


def test_apply_visits_children_first_as_torch():
    seen, tseen = [], []
    net = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Sequential(nn.ReLU(), nn.Linear(3, 1, rng=1)))
    tnet = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 1)))
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    tnet.apply(lambda m: tseen.append(type(m).__name__))
    assert seen == tseen


def test_requires_grad_freezes_parameters():
    net = nn.MLP([2, 4, 1], rng=0)
    net[0].requires_grad_(False)
    x = np.ones((3, 2), dtype=np.float32)
    ad.sum(net(x)).backward()
    assert net[0].weight.grad is None and net[2].weight.grad is not None
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


# ---------------------------------------------------------------------------
# parameter dtype
# ---------------------------------------------------------------------------


def test_layers_make_float32_parameters_on_every_backend(be):
    lin = nn.Linear(4, 3, rng=0, backend=be.xp, device=be.device)
    ln = nn.LayerNorm(3, backend=be.xp, device=be.device)
    emb = nn.Embedding(5, 2, rng=0, backend=be.xp, device=be.device)
    for p in [*lin.parameters(), *ln.parameters(), *emb.parameters()]:
        assert p.dtype == be.xp.float32
    x = be.array(XS[0], "float32")
    y = ln(lin(x))
    assert y.dtype == be.xp.float32  # no promotion on the way
    with pytest.raises(TypeError, match=r"anyad.nn.Linear: the input is .*float64.* parameters are .*float32"):
        lin(be.array(XS[0]))
    with pytest.raises(TypeError, match="anyad.nn.LayerNorm"):
        ln(be.array(XS[0][:, :3]))
    assert lin.to(dtype="float64")(be.array(XS[0])).dtype == be.xp.float64


def test_set_default_dtype_is_process_wide_and_checked():
    assert ad.get_default_dtype() == "float32"
    try:
        ad.set_default_dtype(torch.float64)
        assert ad.get_default_dtype() == "float64"
        assert nn.Linear(2, 2, rng=0).weight.dtype == np.float64
        assert nn.init.xavier_uniform((3, 2), rng=0).dtype == np.float64
        with ad.use("array_api_strict"):
            import array_api_strict as strict

            assert nn.LayerNorm(2).weight.dtype == strict.float64
        ad.set_default_dtype(np.float32)
        assert nn.MLP([2, 2], rng=0)[0].bias.dtype == np.float32
        with pytest.raises(ValueError, match="floating dtype"):
            ad.set_default_dtype("int32")
    finally:
        ad.set_default_dtype("float32")
    assert ad.Variable([1.0]).dtype == np.float64  # arrays from Python data keep the backend's default


def test_manual_seed_makes_default_initialisation_reproducible(be):
    ad.manual_seed(3)
    a = nn.Linear(3, 2, backend=be.xp, device=be.device)
    ad.manual_seed(3)
    b = nn.Linear(3, 2, backend=be.xp, device=be.device)
    c = nn.Linear(3, 2, backend=be.xp, device=be.device)
    assert be.to_numpy(a.weight).tolist() == be.to_numpy(b.weight).tolist()
    assert be.to_numpy(b.weight).tolist() != be.to_numpy(c.weight).tolist()
    assert str(a.weight.device) == str(ad._backend.device_of(be.array([1.0])))
    with pytest.raises(ValueError):
        ad.manual_seed(-1)


# ---------------------------------------------------------------------------
# optimizer checkpoints
# ---------------------------------------------------------------------------


def _closure(opt, w, b, x):
    def closure():
        opt.zero_grad()
        loss = ours_loss(w, b, x)
        loss.backward()
        return loss

    return closure


@pytest.mark.parametrize("make", [lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
                                  lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01),
                                  lambda p: optim.LBFGS(p, max_iter=3, line_search_fn="strong_wolfe")],
                         ids=["rmsprop", "adagrad", "lbfgs"])
def test_state_dict_through_a_file_resumes_on_another_backend(tmp_path, make):
    """Three steps, save (anyad.save), load onto array_api_strict's device1, three more steps on
    both: the same parameters as the uninterrupted run."""
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    w, b = nn.Parameter(W0.copy()), nn.Parameter(B0.copy())
    opt = make([w, b])
    for i in range(3):
        opt.step(_closure(opt, w, b, XS[i]))
    ad.save(opt.state_dict(), tmp_path / "opt.npz")
    w2 = nn.Parameter(strict.asarray(w.value, device=dev))
    b2 = nn.Parameter(strict.asarray(b.value, device=dev))
    opt2 = make([w2, b2])
    opt2.load_state_dict(ad.load(tmp_path / "opt.npz", backend="array_api_strict", device=dev))
    for i in range(3, 6):
        opt.step(_closure(opt, w, b, XS[i % 4]))
        x = strict.asarray(XS[i % 4], device=dev)
        opt2.step(_closure(opt2, w2, b2, x))
    np.testing.assert_allclose(ad._backend.to_numpy(w2.value), w.value, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ad._backend.to_numpy(b2.value), b.value, rtol=1e-12, atol=1e-15)
