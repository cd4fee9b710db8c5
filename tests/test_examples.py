"""The python-autodiff programs of examples/ run (quickly) and compute the right thing:
the first program, the derivative plot, and the XOR network on numpy, torch
and array_api_strict."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_first_program():
    assert run(str(EXAMPLES / "first_program.py")).strip() == "[array([2., 4., 6., 8.], dtype=float32)]"


def test_derivative_plot_curves_are_successive_derivatives(tmp_path, monkeypatch):
    """The PNG is written, and each plotted derivative matches central
    differences of the curve before it."""
    pytest.importorskip("matplotlib")
    plot = load("derivative_plot")
    curves = []
    draw = plot.plt.plot
    monkeypatch.setattr(plot.plt, "plot", lambda y, *a, **k: (curves.append(np.asarray(y)), draw(y, *a, **k)))
    out = tmp_path / "img" / "derivatives.png"
    plot.main(["--out", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    x = np.arange(-2, 2, 0.01)
    assert len(curves) == 4
    np.testing.assert_allclose(curves[0], np.sin(x ** 2 * np.tanh(x)), rtol=1e-12)
    for k in (1, 2, 3):
        central = (curves[k - 1][2:] - curves[k - 1][:-2]) / 0.02
        scale = np.abs(curves[k]).max()
        np.testing.assert_allclose(curves[k][1:-1], central, atol=2e-3 * scale)


def test_xor_script():
    out = run(str(EXAMPLES / "xor.py"), "--epochs", "3")
    assert "backend numpy, 3 epochs: mean squared error" in out


@pytest.mark.parametrize("backend", ["numpy", "torch", "array_api_strict"])
def test_xor_program_on_each_backend(backend, capsys):
    if backend != "numpy":
        pytest.importorskip(backend)
    xor = load("xor")
    predictions, loss = xor.main(["--backend", backend, "--epochs", "3"])
    assert len(predictions) == 4 and np.isfinite(loss)
    assert f"backend {backend}, 3 epochs: mean squared error" in capsys.readouterr().out


def test_xor_learns_and_backends_agree():
    xor = load("xor")
    predictions, loss = xor.main(["--epochs", "100", "--seed", "1"])
    assert loss < 1e-2
    assert [round(p) for p in predictions] == [0, 1, 1, 0]
    for backend in ("torch", "array_api_strict"):
        pytest.importorskip(backend)
        other, _ = xor.main(["--epochs", "5", "--seed", "1", "--backend", backend])
        same, _ = xor.main(["--epochs", "5", "--seed", "1"])
        np.testing.assert_allclose(other, same, rtol=1e-10)


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_char_transformer_learns(backend, capsys):
    """A few dozen steps of the character-level transformer beat a uniform guess by far."""
    if backend == "array_api_strict":
        pytest.importorskip("array_api_strict")
    example = load("train_char_transformer")
    val = example.main(["--backend", backend, "--steps", "40", "--layers", "1", "--width", "32",
                        "--log-every", "20"])
    out = capsys.readouterr().out
    uniform = float(out.split("uniform guess: loss ")[1].split()[0])
    assert val < uniform - 1.0, out
    assert "sample: " in out
