"""anyad.optim against torch.optim (same parameters after several steps, float64),
in-place updates where the backend allows and rebinding where it does not (JAX),
dtype and device kept, no host synchronisation, schedules against torch's."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad import nn, optim

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is the reference")

RNG = np.random.default_rng(0)
W0, B0 = RNG.normal(size=(3, 4)), RNG.normal(size=3)
XS = [RNG.normal(size=(5, 4)) for _ in range(4)]


def ours_loss(w, b, x):
    return ad.sum(ad.tanh(ad.matmul(x, w.mT) + b) ** 2) + 0.1 * ad.sum(w * w * w)


def torch_loss(w, b, x):
    return (torch.tanh(torch.tensor(x) @ w.T + b) ** 2).sum() + 0.1 * (w * w * w).sum()


def run_both(make_ours, make_theirs, steps=12, schedule=None):
    w, b = nn.Parameter(W0.copy()), nn.Parameter(B0.copy())
    tw, tb = torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)
    opt, topt = make_ours([w, b]), make_theirs([tw, tb])
    sched = tsched = None
    if schedule is not None:
        sched, tsched = schedule[0](opt), schedule[1](topt)
    for i in range(steps):
        x = XS[i % len(XS)]
        opt.zero_grad()
        loss = ours_loss(w, b, x)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = torch_loss(tw, tb, x)
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(float(loss), tloss.item(), rtol=1e-10)
        if sched is not None:
            sched.step()
            tsched.step()
            assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    np.testing.assert_allclose(w.value, tw.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.value, tb.detach().numpy(), rtol=1e-9, atol=1e-12)


SGD_CASES = [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.01),
    dict(lr=0.05, weight_decay=0.1),
]
ADAM_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
    dict(lr=0.01, amsgrad=True),
]


@needs_torch
@pytest.mark.parametrize("kw", SGD_CASES, ids=[str(k) for k in SGD_CASES])
def test_sgd_matches_torch(kw):
    run_both(lambda p: optim.SGD(p, **kw), lambda p: torch.optim.SGD(p, **kw))


@needs_torch
@pytest.mark.parametrize("kw", ADAM_CASES, ids=[str(k) for k in ADAM_CASES])
def test_adam_matches_torch(kw):
    run_both(lambda p: optim.Adam(p, **kw), lambda p: torch.optim.Adam(p, **kw), steps=15)


@needs_torch
@pytest.mark.parametrize("kw", [dict(lr=0.01), dict(lr=0.02, weight_decay=0.1, amsgrad=True)],
                         ids=["default", "decay_amsgrad"])
def test_adamw_matches_torch(kw):
    run_both(lambda p: optim.AdamW(p, **kw), lambda p: torch.optim.AdamW(p, **kw), steps=15)


@needs_torch
def test_parameter_groups_match_torch():
    run_both(lambda p: optim.SGD([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.01, "momentum": 0.5}], lr=0.05),
             lambda p: torch.optim.SGD([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.01, "momentum": 0.5}],
                                       lr=0.05))


@needs_torch
@pytest.mark.parametrize("which", ["step", "cosine"])
def test_schedules_drive_the_optimizer_like_torch(which):
    if which == "step":
        sched = (lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
                 lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5))
    else:
        sched = (lambda o: optim.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
                 lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001))
    run_both(lambda p: optim.Adam(p, lr=0.02), lambda p: torch.optim.Adam(p, lr=0.02), steps=14, schedule=sched)


@needs_torch
def test_schedule_rates_match_torch_over_many_epochs():
    for ours, theirs in [
        (lambda o: optim.StepLR(o, 4, gamma=0.3), lambda o: torch.optim.lr_scheduler.StepLR(o, 4, gamma=0.3)),
        (lambda o: optim.CosineAnnealingLR(o, 10, eta_min=0.05),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10, eta_min=0.05)),
    ]:
        o = optim.SGD([nn.Parameter([1.0])], lr=0.7)
        t = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.7)
        s, ts = ours(o), theirs(t)
        for _ in range(25):
            assert o.param_groups[0]["lr"] == pytest.approx(t.param_groups[0]["lr"], rel=1e-10, abs=1e-12)
            t.step()
            s.step()
            ts.step()


def _step_by_hand(be, make, dtype):
    p = nn.Parameter(be.array(np.array([1.0, -2.0, 0.5]), dtype))
    opt = make([p])
    before = p.value
    ad.sum(p * p).backward()
    opt.step()
    return p, before


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: optim.Adam(p, lr=0.1),
    lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.5),
], ids=["sgd", "adam", "adamw"])
def test_updates_in_place_keeping_dtype_and_device(be, dtype, make):
    p, before = _step_by_hand(be, make, dtype)
    assert p.dtype == be.array(np.zeros(1), dtype).dtype
    assert repr(p.device) == repr(ad._backend.device_of(before))
    if be.name != "dask":  # an immutable graph: rebound, not written into
        assert p.value is before  # written into the same array: every holder sees it
    x0 = np.array([1.0, -2.0, 0.5])
    got = be.to_numpy(p).astype(np.float64)
    opt_name = type(make([nn.Parameter([0.0])])).__name__
    if opt_name == "SGD":
        expected = x0 - 0.1 * 2 * x0
    elif opt_name == "Adam":
        expected = x0 - 0.1 * np.sign(x0)  # the first Adam step is lr * sign(g)
    else:
        expected = x0 * (1 - 0.05) - 0.1 * np.sign(x0)
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == "float32" else 1e-7)


def test_jax_parameters_are_rebound():
    jnp = pytest.importorskip("jax.numpy")
    p = nn.Parameter(jnp.asarray([1.0, -2.0]))
    opt = optim.Adam([p], lr=0.1)
    before = p.value
    ad.sum(p * p).backward()
    opt.step()
    assert p.value is not before and isinstance(p.value, type(before))
    np.testing.assert_allclose(np.asarray(before), [1.0, -2.0])  # the old array is untouched
    np.testing.assert_allclose(np.asarray(p.value), [0.9, -1.9], rtol=1e-6)


def test_optimizer_steps_never_touch_the_host(no_host_sync):
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    params = [nn.Parameter(strict.asarray([1.0, -2.0], device=dev)) for _ in range(3)]
    opts = [optim.SGD([params[0]], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
            optim.Adam([params[1]], lr=0.1, amsgrad=True, weight_decay=0.1), optim.AdamW([params[2]], lr=0.1)]
    sched = optim.CosineAnnealingLR(opts[1], T_max=3)
    for _ in range(3):
        for p, opt in zip(params, opts):
            opt.zero_grad()
            ad.sum(p * p * p).backward()
            opt.step()
        sched.step()
    assert all(p.device == dev for p in params)


def test_zero_grad_and_parameters_without_gradient():
    a, b = nn.Parameter([1.0]), nn.Parameter([2.0])
    opt = optim.SGD([a, b], lr=0.5)
    ad.sum(a * 3.0).backward()
    opt.step()
    assert float(a[0]) == pytest.approx(-0.5) and float(b[0]) == 2.0  # b has no gradient: untouched
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_float64_gradient_into_a_float32_parameter_is_cast():
    p = nn.Parameter(np.array([1.0], dtype=np.float32))
    p.grad = np.array([0.5])  # e.g. from float64 data
    optim.SGD([p], lr=1.0).step()
    assert p.dtype == np.float32 and float(p.value[0]) == 0.5


def test_errors_are_clear():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="leaf that requires grad"):
        optim.SGD([ad.Variable([1.0])], lr=0.1)
    w = nn.Parameter([1.0])
    with pytest.raises(ValueError, match="leaf that requires grad"):
        optim.SGD([w * 2.0], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(TypeError, match="Variables"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([w], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="step_size"):
        optim.StepLR(optim.SGD([w], lr=0.1), step_size=0)
    assert "lr=0.1" in repr(optim.SGD([w], lr=0.1))
