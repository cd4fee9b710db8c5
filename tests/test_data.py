"""anyad.data.DataLoader on every backend: each sample once per epoch, in batches of
the asked size (drop_last honoured), a new order each epoch, the same orders again
with the same seed, batches on the data's device, and no host synchronisation."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.data import DataLoader

N = 11


def data(be):
    x = be.array(np.arange(2 * N, dtype=np.float64).reshape(N, 2))
    y = be.array(np.arange(N), dtype="int64")
    return x, y


def epoch_labels(be, loader):
    return [be.to_numpy(yb).tolist() for _, yb in loader]


@pytest.mark.parametrize("batch_size,drop_last", [(4, False), (4, True), (1, False), (11, True), (20, False)])
def test_every_sample_once_per_epoch(be, batch_size, drop_last):
    x, y = data(be)
    loader = DataLoader((x, y), batch_size=batch_size, shuffle=True, drop_last=drop_last, generator=0)
    full = N // batch_size
    assert len(loader) == (full if drop_last else -(-N // batch_size))
    for _ in range(3):
        seen = []
        for xb, yb in loader:
            xb, yb = be.to_numpy(xb), be.to_numpy(yb)
            assert xb.shape[0] == yb.shape[0] <= batch_size
            assert (xb[:, 0] == 2 * yb).all()  # rows stay paired
            seen.extend(yb.tolist())
        if drop_last:
            assert len(seen) == full * batch_size and len(set(seen)) == len(seen)
        else:
            assert sorted(seen) == list(range(N))


def test_shuffle_is_reproducible_with_a_seed_and_changes_per_epoch(be):
    x, y = data(be)
    a = DataLoader((x, y), batch_size=3, shuffle=True, generator=5)
    b = DataLoader((x, y), batch_size=3, shuffle=True, generator=5)
    first = [epoch_labels(be, a) for _ in range(3)]
    assert first == [epoch_labels(be, b) for _ in range(3)]
    assert first[0] != first[1] or first[1] != first[2]  # a new order each epoch
    gen = ad.random.default_rng(5, backend=be.xp, device=be.device)
    c = DataLoader((x, y), batch_size=3, shuffle=True, generator=gen)
    assert epoch_labels(be, c) == first[0]  # a seed is a generator made there
    ad.manual_seed(1)
    d1 = epoch_labels(be, DataLoader((x, y), batch_size=3, shuffle=True))
    ad.manual_seed(1)
    assert epoch_labels(be, DataLoader((x, y), batch_size=3, shuffle=True)) == d1


def test_without_shuffle_batches_are_in_order(be):
    x, y = data(be)
    loader = DataLoader({"x": x, "y": y}, batch_size=4)
    batches = list(loader)
    assert [be.to_numpy(b["y"]).tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    assert loader.generator is None


def test_batches_stay_on_the_device_and_never_reach_the_host(no_host_sync):
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    x = strict.asarray(np.ones((9, 3)), dtype=strict.float32, device=dev)
    y = strict.asarray(np.arange(9), device=dev)
    net = ad.nn.Linear(3, 2, rng=0, backend="array_api_strict", device=dev)
    opt = ad.optim.SGD(net.parameters(), lr=0.1)
    for xb, yb in DataLoader([x, y], batch_size=4, shuffle=True, generator=0):
        assert xb.device == dev and yb.device == dev and xb.dtype == strict.float32
        loss = ad.nn.functional.cross_entropy(net(xb), yb % 2)
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_variables_and_single_arrays(be):
    x, _ = data(be)
    v = ad.Variable(x, requires_grad=True)
    batches = list(DataLoader(v, batch_size=5, shuffle=True, generator=0))
    assert all(isinstance(b, ad.Variable) for b in batches)
    ad.sum(batches[0]).backward()
    assert float(be.to_numpy(v.grad).sum()) == 10.0  # 5 rows of 2 picked once each


def test_bad_input_is_refused():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="different lengths"):
        DataLoader((x, np.zeros(3)))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(x, batch_size=0)
    with pytest.raises(ValueError, match="first axis"):
        DataLoader((x, 3.0))
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(ValueError, match="different places"):
        DataLoader((x, strict.zeros(4)))
    with pytest.raises(ValueError, match="generator draws on"):
        DataLoader(x, shuffle=True, generator=ad.random.default_rng(0, backend="array_api_strict"))
