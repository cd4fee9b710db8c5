"""The digits example, briefly: it learns on numpy, on array_api_strict's device1 and on
torch, its command line writes the loss curve, and the GPU check says plainly when
there is no GPU. (The full run to >= 97% is CI's main job: the README command.)"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from anyad._backend import to_numpy

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(relpath, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


td = _load("examples/train_digits.py", "train_digits")


def test_a_short_run_on_numpy_learns():
    h = td.run("numpy", epochs=6, seed=0, progress=False)
    assert h["accuracy"] > 0.9
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert all(p.dtype.name == "float32" for p in h["model"].parameters())


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_compiled_step_follows_the_eager_run(backend):
    """--compiled: the same losses and weights as the eager loop (float64, dropout on: the masks are drawn
    from the same generator in the same order), on numpy and on array_api_strict's device1."""
    device = "device1" if backend == "array_api_strict" else None
    kw = dict(epochs=2, seed=0, progress=False, dtype="float64", hidden=32)
    eager = td.run(backend, device, **kw)
    compiled = td.run(backend, device, compiled=True, **kw)
    np.testing.assert_allclose(compiled["train_loss"], eager["train_loss"], rtol=1e-12)
    for p, q in zip(eager["model"].parameters(), compiled["model"].parameters()):
        np.testing.assert_allclose(to_numpy(q.value), to_numpy(p.value), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("backend,device", [("array_api_strict", "device1"), ("torch", None)])
def test_the_same_script_runs_on_other_backends(backend, device):
    if backend == "torch":
        pytest.importorskip("torch")
    h = td.run(backend, device, epochs=2, seed=1, progress=False)
    assert h["accuracy"] > 0.8
    for p in h["model"].parameters():
        assert "float32" in str(p.dtype)
        if device is not None:
            assert "device1" in repr(p.device)


def test_command_line_writes_the_loss_curve(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "img" / "loss.png"
    assert td.main(["--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "ms per epoch" in text and str(out) in text
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_gpu_check_says_plainly_when_there_is_no_gpu():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            pytest.skip("a GPU is present: benchmarks/gpu_check.py runs the real check")
    except Exception:
        pass
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "gpu_check.py")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0
    assert done.stdout.startswith("No GPU here:")


def test_gpu_check_times_an_epoch_on_the_cpu():
    gc = _load("benchmarks/gpu_check.py", "gpu_check")
    r = gc.time_training("numpy", None, epochs=1, seed=0)
    assert r["steps"] == 23 and r["timer"] == "host" and r["median_ms"] > 0 and 0.5 < r["accuracy"] <= 1.0
