"""anyad.optim.compile_step: a compiled training step gives the eager loop's parameters, optimizer state
and gradients (float64, to 1e-12), with schedules and dropout, without retracing every step."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad import nn, optim
from anyad.nn import functional as F

STEPS = 6
DATA = np.random.default_rng(0)
XS = [DATA.normal(size=(16, 5)) for _ in range(STEPS)]
YS = [DATA.integers(0, 3, size=16) for _ in range(STEPS)]

OPTIMIZERS = {
    "sgd-momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "sgd-nesterov-wd": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-2),
    "sgd-dampening": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3),
    "adam": lambda ps: optim.Adam(ps, lr=1e-2),
    "adam-amsgrad-wd": lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-3, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2),
    "rmsprop-centered-momentum": lambda ps: optim.RMSprop(ps, lr=1e-2, centered=True, momentum=0.5),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
}


def make(opt_name, dropout=0.0, seed=0):
    model = nn.MLP([5, 7, 3], activation="tanh", dropout=dropout, rng=seed, dtype="float64")
    return model, OPTIMIZERS[opt_name](model.parameters())


def loss_of(model):
    def loss_fn(x, y):
        return F.cross_entropy(model(x), y)
    return loss_fn


def eager_step(model, opt, x, y):
    loss = loss_of(model)(x, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.value


def assert_same(m1, o1, m2, o2, rtol=1e-12):
    for (k, p), q in zip(m1.named_parameters(), m2.parameters()):
        np.testing.assert_allclose(p.value, q.value, rtol=rtol, atol=rtol, err_msg=k)
        np.testing.assert_allclose(p.grad, q.grad, rtol=rtol, atol=rtol, err_msg=k)
    s1, s2 = o1.state_dict(), o2.state_dict()
    assert sorted(s1) == sorted(s2)
    for k in s1:
        np.testing.assert_allclose(s1[k], s2[k], rtol=rtol, atol=rtol, err_msg=k)


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_equals_the_eager_loop(opt_name):
    m1, o1 = make(opt_name)
    m2, o2 = make(opt_name)
    step = optim.compile_step(loss_of(m2), o2)
    for x, y in zip(XS, YS):
        l1 = eager_step(m1, o1, x, y)
        l2 = step(x, y)
        assert float(l2) == pytest.approx(float(l1), rel=1e-13)
        assert_same(m1, o1, m2, o2)
    # before and after the optimizer has state (amsgrad: its first max is the second moment itself)
    assert step.traces == (3 if "amsgrad" in opt_name else 2)
    # and the weights did move
    assert not np.allclose(m2[0].weight.value, make(opt_name)[0][0].weight.value)


def test_schedules_change_hyperparameters_without_retracing():
    m1, o1 = make("adam")
    m2, o2 = make("adam")
    s1 = optim.OneCycleLR(o1, max_lr=0.05, total_steps=3 * STEPS)  # cycles lr and beta1
    s2 = optim.OneCycleLR(o2, max_lr=0.05, total_steps=3 * STEPS)
    step = optim.compile_step(loss_of(m2), o2)
    for _ in range(3):
        for x, y in zip(XS, YS):
            eager_step(m1, o1, x, y)
            s1.step()
            step(x, y)
            s2.step()
            assert_same(m1, o1, m2, o2)
    assert step.traces == 2


def test_dropout_draws_anew_each_step_as_the_eager_loop_does():
    m1, o1 = make("sgd-momentum", dropout=0.4, seed=3)
    m2, o2 = make("sgd-momentum", dropout=0.4, seed=3)
    m3, o3 = make("sgd-momentum", dropout=0.0, seed=3)
    step = optim.compile_step(loss_of(m2), o2, model=m2)
    losses = []
    for x, y in zip(XS, YS):
        eager_step(m1, o1, x, y)
        losses.append(float(step(x, y)))
        assert_same(m1, o1, m2, o2)
    assert step.traces <= 3  # a first trace finds the draws, then one per state structure
    # the masks differ from step to step (a frozen mask would repeat): same batch, different losses
    a, b = float(step(XS[0], YS[0])), float(step(XS[0], YS[0]))
    assert a != b
    eager_step(m1, o1, XS[0], YS[0])
    eager_step(m1, o1, XS[0], YS[0])
    assert_same(m1, o1, m2, o2)
    # eval mode (keyed by the model's flags): no dropout, the eager eval-mode step
    m2.eval()
    m1.eval()
    for x, y in zip(XS, YS):
        eager_step(m1, o1, x, y)
        step(x, y)
        assert_same(m1, o1, m2, o2)
    del m3, o3


def test_new_batch_shape_traces_once_more_and_mixing_eager_steps():
    m1, o1 = make("adam")
    m2, o2 = make("adam")
    step = optim.compile_step(loss_of(m2), o2)
    for i, (x, y) in enumerate(zip(XS, YS)):
        x, y = (x[:9], y[:9]) if i % 2 else (x, y)
        eager_step(m1, o1, x, y)
        if i == 3:
            eager_step(m2, o2, x, y)  # an eager step in between: state and parameters stay in sync
        else:
            step(x, y)
        assert_same(m1, o1, m2, o2)
    assert step.traces == 3  # 16 rows: 2 (state, no state); 9 rows: 1


def test_frozen_and_unused_parameters():
    model = nn.MLP([5, 7, 3], activation="tanh", rng=0, dtype="float64")
    spare = nn.Parameter(np.ones(3))
    opt = optim.Adam(list(model.parameters()) + [spare], lr=1e-2)
    model[0].bias.requires_grad_(False)  # frozen after the optimizer took it
    twin = nn.MLP([5, 7, 3], activation="tanh", rng=0, dtype="float64")
    twin_spare = nn.Parameter(np.ones(3))
    twin_opt = optim.Adam(list(twin.parameters()) + [twin_spare], lr=1e-2)
    twin[0].bias.requires_grad_(False)
    step = optim.compile_step(loss_of(model), opt)
    bias = np.array(model[0].bias.value)
    for x, y in zip(XS, YS):
        step(x, y)
        eager_step(twin, twin_opt, x, y)
    np.testing.assert_array_equal(model[0].bias.value, bias)
    np.testing.assert_array_equal(spare.value, np.ones(3))
    assert spare.grad is None and spare not in opt.state
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-12)


def test_float32():
    m1 = nn.MLP([5, 7, 3], rng=0)
    m2 = nn.MLP([5, 7, 3], rng=0)
    o1, o2 = optim.Adam(m1.parameters(), lr=1e-2), optim.Adam(m2.parameters(), lr=1e-2)
    step = optim.compile_step(loss_of(m2), o2)
    for x, y in zip(XS, YS):
        x = x.astype(np.float32)
        eager_step(m1, o1, x, y)
        loss = step(x, y)
        assert loss.dtype == np.float32
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert q.dtype == np.float32
        np.testing.assert_allclose(p.value, q.value, rtol=1e-5, atol=1e-6)


def test_refusals():
    model, opt = make("adam")
    with pytest.raises(TypeError, match="LBFGS calls its closure"):
        optim.compile_step(loss_of(model), optim.LBFGS(model.parameters()))
    bad = optim.compile_step(lambda x, y: model(x), opt)
    with pytest.raises(ValueError, match="must return a scalar"):
        bad(XS[0], YS[0])
    bn = nn.Sequential(nn.Linear(5, 4, rng=0, dtype="float64"), nn.BatchNorm1d(4, dtype="float64"))
    bn_step = optim.compile_step(lambda x: ad.sum(bn(x) ** 2), optim.SGD(bn.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="running statistics inside anyad.jit"):
        bn_step(XS[0])
    w = np.array(model[0].weight.value)
    np.testing.assert_array_equal(model[0].weight.value, w)


def test_random_draws_under_plain_jit_raise():
    rng = ad.random.default_rng(0)
    f = ad.jit(lambda x: F.dropout(x, 0.5, rng))
    with pytest.raises(ad.TracingError, match="bernoulli\\(\\) while anyad.jit traces"):
        f(np.ones(4))


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_jit_reads_new_integer_labels(loss):
    """The labels' one-hot was computed on the raw array and frozen into the program (every replay
    used the first batch's labels)."""
    fn = {"cross_entropy": F.cross_entropy,
          "nll_loss": lambda x, y: F.nll_loss(F.log_softmax(x, axis=-1), y)}[loss]
    g = ad.jit(fn)
    for x, y in zip(XS, YS):
        assert float(g(x[:, :3], y)) == pytest.approx(float(fn(x[:, :3], y)), rel=1e-14)
    assert g.traces == 1


def test_jit_embedding_reads_new_indices():
    emb = nn.Embedding(10, 4, rng=0, dtype="float64")
    g = ad.jit(lambda i: emb(i))
    for k in range(3):
        idx = np.array([k, k + 1, 9 - k])
        np.testing.assert_array_equal(g(idx), emb.weight.value[idx])


@pytest.mark.parametrize("backend,device", [("torch", None), ("array_api_strict", "device1")])
def test_other_backends(backend, device):
    pytest.importorskip(backend)
    m1, o1 = make("adam", dropout=0.3, seed=1)
    m2, o2 = make("adam", dropout=0.3, seed=1)
    for m in (m1, m2):
        m.to(backend, device)
    o1, o2 = OPTIMIZERS["adam"](m1.parameters()), OPTIMIZERS["adam"](m2.parameters())
    step = optim.compile_step(loss_of(m2), o2, model=m2)
    for x, y in zip(XS, YS):
        x, y = ad.to_backend(x, backend, device), ad.to_backend(y, backend, device)
        eager_step(m1, o1, x, y)
        loss = step(x, y)
        assert type(loss).__module__.startswith(backend)  # the loss stays on the backend and device
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert q.device == p.device
        np.testing.assert_allclose(ad._backend.to_numpy(q.value), ad._backend.to_numpy(p.value), rtol=1e-12)


def test_modes_are_keyed_without_model_argument():
    """The model named by the loss function (a closure variable) is found: eval() after compiling
    gives the eval-mode step, not a replay of the training-mode program."""
    m1, o1 = make("sgd-momentum", dropout=0.5, seed=4)
    m2, o2 = make("sgd-momentum", dropout=0.5, seed=4)

    def loss_fn(x, y):
        return F.cross_entropy(m2(x), y)

    step = optim.compile_step(loss_fn, o2)
    for k, (x, y) in enumerate(zip(XS, YS)):
        if k == 3:
            m1.eval()
            m2.eval()
        eager_step(m1, o1, x, y)
        step(x, y)
        assert_same(m1, o1, m2, o2)


def test_gradient_clipping_as_clip_grad_norm_():
    m1, o1 = make("sgd-momentum")
    m2, o2 = make("sgd-momentum")
    step = optim.compile_step(loss_of(m2), o2, max_grad_norm=0.05)
    for x, y in zip(XS, YS):
        loss = loss_of(m1)(x, y)
        o1.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(m1.parameters(), 0.05)
        o1.step()
        step(x, y)
        assert float(step.grad_norm) == pytest.approx(float(norm), rel=1e-13)
        assert float(norm) > 0.05  # the clipping did act
        assert_same(m1, o1, m2, o2)
    assert step.traces == 2


def test_jit_recomputes_the_total_norm():
    """get_total_norm unwrapped Variables to raw arrays: under jit the norm was frozen at the first call."""
    f = ad.jit(lambda a, b: nn.utils.get_total_norm([a, b]))
    assert float(f(np.ones(3), np.ones(2))) == pytest.approx(np.sqrt(5))
    assert float(f(2 * np.ones(3), np.ones(2))) == pytest.approx(np.sqrt(14))


def test_batch_variables_and_calls_inside_a_trace():
    m1, o1 = make("adam")
    m2, o2 = make("adam")
    step = optim.compile_step(loss_of(m2), o2)
    for x, y in zip(XS, YS):
        eager_step(m1, o1, x, y)
        step(ad.Variable(x, requires_grad=True), ad.Variable(y))  # read as data
        assert_same(m1, o1, m2, o2)
    with pytest.raises(TypeError, match="called while a function is traced"):
        ad.jit(lambda x, y: step(x, y))(XS[0], YS[0])
