"""Every learning-rate schedule against torch.optim.lr_scheduler run side by side:
the same rate sequence (and momentum sequence for OneCycleLR), the same parameter
trajectory when the schedule drives an optimizer, and state_dict/load_state_dict
resuming exactly where a run left off."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import anyad as ad
from anyad import nn, optim

torch = pytest.importorskip("torch")
TS = torch.optim.lr_scheduler

# name -> (ours, theirs, keyword arguments); both made as f(optimizer, **kw)
CASES = {
    "step": (optim.StepLR, TS.StepLR, dict(step_size=3, gamma=0.7)),
    "cosine": (optim.CosineAnnealingLR, TS.CosineAnnealingLR, dict(T_max=7, eta_min=0.01)),
    "lambda": (optim.LambdaLR, TS.LambdaLR, dict(lr_lambda=lambda e: 0.9 ** e * (1 + e % 3))),
    "linear": (optim.LinearLR, TS.LinearLR, dict(start_factor=0.2, end_factor=0.9, total_iters=6)),
    "linear-defaults": (optim.LinearLR, TS.LinearLR, dict()),
    "warm-restarts": (optim.CosineAnnealingWarmRestarts, TS.CosineAnnealingWarmRestarts,
                      dict(T_0=3, T_mult=2, eta_min=0.001)),
    "warm-restarts-1": (optim.CosineAnnealingWarmRestarts, TS.CosineAnnealingWarmRestarts, dict(T_0=4)),
    "one-cycle": (optim.OneCycleLR, TS.OneCycleLR, dict(max_lr=0.5, total_steps=25)),
    "one-cycle-linear-3": (optim.OneCycleLR, TS.OneCycleLR,
                           dict(max_lr=[0.5, 0.2], epochs=5, steps_per_epoch=5, anneal_strategy="linear",
                                three_phase=True, pct_start=0.25, div_factor=10.0)),
}
STEPS = 24


def groups(lr=0.1):
    """Two parameter groups, ours and torch's."""
    ours = [{"params": [nn.Parameter([1.0, 2.0])]}, {"params": [nn.Parameter([3.0])], "lr": lr * 3}]
    theirs = [{"params": [torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)]},
              {"params": [torch.tensor([3.0], dtype=torch.float64, requires_grad=True)], "lr": lr * 3}]
    return ours, theirs


def make(name, momentum=0.9):
    ours_cls, theirs_cls, kw = CASES[name]
    og, tg = groups()
    opt = optim.SGD(og, lr=0.1, momentum=momentum)
    topt = torch.optim.SGD(tg, lr=0.1, momentum=momentum)
    return opt, topt, ours_cls(opt, **kw), theirs_cls(topt, **kw)


def rates(opt):
    return [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name", sorted(CASES))
def test_rate_sequence_matches_torch(name):
    opt, topt, sched, tsched = make(name)
    for _ in range(STEPS):
        assert rates(opt) == pytest.approx(rates(topt), rel=1e-12, abs=1e-15)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12, abs=1e-15)
        assert [g["momentum"] for g in opt.param_groups] == pytest.approx(
            [g["momentum"] for g in topt.param_groups], rel=1e-12)
        topt.step()  # torch warns when a schedule steps before its optimizer
        sched.step()
        tsched.step()


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_resumes_the_sequence(name):
    opt, topt, sched, tsched = make(name)
    for _ in range(STEPS // 2):
        topt.step()
        sched.step()
        tsched.step()
    sd = sched.state_dict()
    tsd = tsched.state_dict()
    assert sd["last_epoch"] == tsd["last_epoch"] and sd["_last_lr"] == pytest.approx(tsd["_last_lr"])
    assert "optimizer" not in sd
    if name != "lambda":
        sd = json.loads(json.dumps(sd))  # plain Python data
    # a fresh optimizer and schedule, loaded, continue as the first run does
    opt2, _, sched2, _ = make(name)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sd)
    for _ in range(STEPS // 2):
        topt.step()
        sched.step()
        sched2.step()
        tsched.step()
        assert rates(opt2) == pytest.approx(rates(topt), rel=1e-12, abs=1e-15)
        assert rates(opt2) == rates(opt)


def test_warm_restarts_with_fractional_epochs_as_torch():
    opt, topt, sched, tsched = make("warm-restarts")
    for epoch in range(10):
        for i in range(4):
            sched.step(epoch + i / 4)
            tsched.step(epoch + i / 4)
            assert rates(opt) == pytest.approx(rates(topt), rel=1e-12, abs=1e-15)
    with pytest.raises(ValueError, match="non-negative"):
        sched.step(-1)


@pytest.mark.parametrize("second", ["cosine", "step", "warm-restarts"])
def test_sequential_warmup_then_decay_matches_torch(second):
    og, tg = groups()
    opt, topt = optim.SGD(og, lr=0.1), torch.optim.SGD(tg, lr=0.1)
    ours_cls, theirs_cls, kw = CASES[second]
    warm, twarm = optim.LinearLR(opt, start_factor=0.1, total_iters=4), TS.LinearLR(topt, start_factor=0.1,
                                                                                       total_iters=4)
    sched = optim.SequentialLR(opt, [warm, ours_cls(opt, **kw)], milestones=[4])
    tsched = TS.SequentialLR(topt, [twarm, theirs_cls(topt, **kw)], milestones=[4])
    saved = None
    for i in range(STEPS):
        assert rates(opt) == pytest.approx(rates(topt), rel=1e-12, abs=1e-15)
        topt.step()
        sched.step()
        tsched.step()
        if i == 6:
            saved = json.loads(json.dumps(sched.state_dict()))
            trail = []
        if saved is not None:
            trail.append(rates(opt))
    og2, _ = groups()
    opt2 = optim.SGD(og2, lr=0.1)
    sched2 = optim.SequentialLR(opt2, [optim.LinearLR(opt2, start_factor=0.1, total_iters=4),
                                       ours_cls(opt2, **kw)], milestones=[4])
    sched2.load_state_dict(saved)
    for expected in trail[1:]:
        sched2.step()
        assert rates(opt2) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", factor=0.5, patience=2, threshold_mode="abs",
                                             threshold=0.05, cooldown=2, min_lr=[0.02, 0.0])],
                         ids=["defaults", "max-abs-cooldown"])
def test_reduce_on_plateau_matches_torch(kw):
    og, tg = groups()
    opt, topt = optim.SGD(og, lr=0.1), torch.optim.SGD(tg, lr=0.1)
    sched, tsched = optim.ReduceLROnPlateau(opt, **kw), TS.ReduceLROnPlateau(topt, **kw)
    metric = np.random.default_rng(0).normal(size=60).cumsum() * 0.05 + 1.0
    for i, m in enumerate(metric):
        value = ad.Variable(m) if i % 2 else float(m)  # a 0-d value or a number
        sched.step(value)
        tsched.step(float(m))
        assert rates(opt) == pytest.approx(rates(topt), rel=1e-12)
        if i == 30:
            saved = json.loads(json.dumps(sched.state_dict()))
    assert rates(opt) != [0.1, 0.3]  # it did reduce
    sched.load_state_dict(saved)
    assert sched.last_epoch == 31 and sched.num_bad_epochs == saved["num_bad_epochs"]
    with pytest.raises(ValueError, match="factor"):
        optim.ReduceLROnPlateau(opt, factor=1.5)


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_one_cycle_drives_the_same_trajectory(opt_name):
    """OneCycleLR cycles SGD's momentum or Adam's beta1 too: parameters after 30 steps agree."""
    rng = np.random.default_rng(1)
    w0, xs = rng.normal(size=(3, 2)), [rng.normal(size=(4, 3)) for _ in range(3)]
    w, tw = nn.Parameter(w0.copy()), torch.tensor(w0, requires_grad=True)
    if opt_name == "sgd":
        opt, topt = optim.SGD([w], lr=0.1, momentum=0.9), torch.optim.SGD([tw], lr=0.1, momentum=0.9)
    else:
        opt, topt = optim.Adam([w], lr=0.1), torch.optim.Adam([tw], lr=0.1)
    sched = optim.OneCycleLR(opt, max_lr=0.05, total_steps=30)
    tsched = TS.OneCycleLR(topt, max_lr=0.05, total_steps=30)
    for i in range(30):
        x = xs[i % 3]
        opt.zero_grad()
        ad.sum(ad.sin(ad.matmul(x, w)) ** 2).backward()
        opt.step()
        topt.zero_grad()
        (torch.sin(torch.tensor(x) @ tw) ** 2).sum().backward()
        topt.step()
        sched.step() if i < 29 else None
        tsched.step() if i < 29 else None
    np.testing.assert_allclose(w.value, tw.detach().numpy(), rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="total_steps"):
        for _ in range(3):
            sched.step()


def test_one_cycle_refuses_an_optimizer_without_momentum():
    opt = optim.Adagrad([nn.Parameter([1.0])])
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        optim.OneCycleLR(opt, max_lr=1.0, total_steps=4)
    sched = optim.OneCycleLR(opt, max_lr=1.0, total_steps=4, cycle_momentum=False)
    assert math.isclose(sched.get_last_lr()[0], 1.0 / 25)
