"""anyad.save / anyad.load: .npz round trips from and to every backend and device,
nested dicts, dtypes, modules and optimizer state (training resumes exactly)."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

import anyad as ad
from anyad import nn, optim
from anyad.nn import functional as F


def test_round_trip_on_every_backend(be, dtype, tmp_path):
    path = tmp_path / "state.npz"
    w = be.array(np.arange(6.0).reshape(2, 3), dtype)
    k = be.array(np.array([3, 1]), "int64")
    ad.save({"w": ad.Variable(w), "k": k, "scalar": 2.5}, path)
    assert sorted(zipfile.ZipFile(path).namelist()) == ["k.npy", "scalar.npy", "w.npy"]
    back = ad.load(path, backend="numpy" if be.name == "numpy" else be.xp, device=be.device)
    assert back["w"].dtype == w.dtype and back["k"].dtype == k.dtype
    assert repr(ad._backend.device_of(back["w"])) == repr(ad._backend.device_of(w))
    np.testing.assert_array_equal(be.to_numpy(back["w"]), be.to_numpy(w))
    np.testing.assert_array_equal(be.to_numpy(back["k"]), [3, 1])
    assert float(be.to_numpy(back["scalar"])) == 2.5


def test_files_are_plain_numpy_npz(tmp_path):
    path = tmp_path / "plain.npz"
    ad.save({"a": np.array([1.0, 2.0], dtype=np.float32)}, path)
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["a"], np.array([1.0, 2.0], dtype=np.float32))
    assert not os.path.exists(str(path) + ".tmp")  # written atomically


def test_device_arrays_go_through_the_host_only_in_save(tmp_path):
    strict = pytest.importorskip("array_api_strict")
    dev = strict.Device("device1")
    x = strict.asarray([1.0, 2.0], device=dev)
    ad.save({"x": x}, tmp_path / "d.npz")
    y = ad.load(tmp_path / "d.npz", backend="array_api_strict", device="device1", dtype="float32")["x"]
    assert y.device == dev and y.dtype == strict.float32


def test_nested_dicts_come_back_nested(tmp_path):
    net = nn.MLP([3, 4, 2], rng=0, dtype="float64")
    path = tmp_path / "ckpt.npz"
    ad.save({"model": net.state_dict(), "epoch": 7}, path)
    back = ad.load(path)
    assert sorted(back) == ["epoch", "model"]
    assert sorted(back["model"]) == sorted(net.state_dict())
    assert int(back["epoch"]) == 7


def test_torch_and_device1_round_trip_into_a_module(tmp_path):
    pytest.importorskip("torch")
    src = nn.MLP([3, 5, 2], rng=0, backend="torch", dtype="float32")
    ad.save(src.state_dict(), tmp_path / "t.npz")
    dst = nn.MLP([3, 5, 2], rng=1, backend="array_api_strict", device="device1", dtype="float64")
    dst.load_state_dict(ad.load(tmp_path / "t.npz"))  # numpy arrays into device1 parameters
    for (name, p), (_, q) in zip(src.named_parameters(), dst.named_parameters()):
        assert q.dtype == ad._backend.namespace_of(q.value).float64
        np.testing.assert_allclose(q.to_ndarray(), p.to_ndarray().astype(np.float64), err_msg=name)


def test_training_resumes_exactly_from_a_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)), rng.integers(0, 3, size=16)

    def make():
        net = nn.MLP([4, 8, 3], rng=0, dtype="float64")
        return net, optim.Adam(net.parameters(), lr=0.02, amsgrad=True)

    def steps(net, opt, n):
        for _ in range(n):
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    straight, sopt = make()
    steps(straight, sopt, 10)

    first, fopt = make()
    steps(first, fopt, 4)
    ad.save({"model": first.state_dict(), "optim": fopt.state_dict()}, tmp_path / "ckpt.npz")
    resumed, ropt = make()
    ckpt = ad.load(tmp_path / "ckpt.npz")
    resumed.load_state_dict(ckpt["model"])
    ropt.load_state_dict(ckpt["optim"])
    assert ropt.param_groups[0]["betas"] == (0.9, 0.999) and ropt.param_groups[0]["amsgrad"] is True
    steps(resumed, ropt, 6)
    for (name, p), (_, q) in zip(straight.named_parameters(), resumed.named_parameters()):
        np.testing.assert_array_equal(p.value, q.value, err_msg=name)


def test_save_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="only arrays"):
        ad.save({"f": object()}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="strings"):
        ad.save({1: np.ones(1)}, tmp_path / "x.npz")
