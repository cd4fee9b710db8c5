"""The XOR program of python-autodiff's README, run by anyad and by python-autodiff 0.1.1.

Both run the very same program text (``program`` in ``examples/xor.py``, which
takes the library as its argument), from the same random start, side by side in
one process and interleaved, so machine load hits both alike. Reported: the
median time per training step (one forward, one ``Graph.gradient`` of four
parameters, four ``assign``), and the ratio anyad / python-autodiff
(target: at most 0.5). The final predictions of both are compared, so the two
timings are of the same computation.

Run: ``python benchmarks/xor_vs_python_autodiff.py [--epochs 50] [--repeat 9]``
(needs ``pip install python-autodiff==0.1.1``; it is imported as ``autodiff``).
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import statistics
import sys
import time

import numpy as np

import anyad

TARGET = 0.5


def _load_program():
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "xor.py"
    spec = importlib.util.spec_from_file_location("xor_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.program


def _predictions(forward, X) -> np.ndarray:
    return np.array([np.asarray(anyad._backend.to_numpy(forward(x)._i)).item() for x in X])


def _timed(program, lib, epochs: int, seed: int) -> tuple[float, float, np.ndarray]:
    """Wall and CPU seconds per step (CPU time is less disturbed by other processes)."""
    np.random.seed(seed)
    c0, t0 = time.process_time(), time.perf_counter()
    forward, X, _ = program(lib, epochs)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return elapsed / (4 * epochs), cpu / (4 * epochs), _predictions(forward, X)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="epochs per timed run (4 steps each)")
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per library (median reported)")
    args = parser.parse_args(argv)
    try:
        import autodiff
    except ImportError:
        sys.exit("python-autodiff is not installed: pip install python-autodiff==0.1.1")
    program = _load_program()
    libs = {"anyad": anyad, "python-autodiff": autodiff}
    for lib in libs.values():  # warm-up: imports, caches, first-call costs
        _timed(program, lib, 2, 0)
    wall: dict = {k: [] for k in libs}
    cpu: dict = {k: [] for k in libs}
    for r in range(args.repeat):
        preds = {}
        for name, lib in libs.items():  # interleaved, same seed for both
            w, c, preds[name] = _timed(program, lib, args.epochs, r)
            wall[name].append(w)
            cpu[name].append(c)
        np.testing.assert_allclose(preds["anyad"], preds["python-autodiff"], rtol=1e-8, atol=1e-10)
    med = {k: statistics.median(v) * 1e6 for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) * 1e6 for k, v in cpu.items()}
    ratio = med["anyad"] / med["python-autodiff"]
    ratio_cpu = med_cpu["anyad"] / med_cpu["python-autodiff"]
    print(f"XOR program (160 hidden units, float64, numpy): {args.epochs} epochs x 4 steps per run, "
          f"{args.repeat} runs each, interleaved; same predictions from both")
    print(f"{'library':<18}{'median us/step':>16}{'min us/step':>14}{'median CPU us/step':>20}")
    for k in libs:
        print(f"{k:<18}{med[k]:>16.1f}{min(wall[k]) * 1e6:>14.1f}{med_cpu[k]:>20.1f}")
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"ratio anyad / python-autodiff: {ratio:.3f} wall, {ratio_cpu:.3f} CPU "
          f"(target <= {TARGET} on wall time: {verdict})")
    return {"anyad_us_per_step": med["anyad"], "python_autodiff_us_per_step": med["python-autodiff"],
            "ratio": ratio, "ratio_cpu": ratio_cpu}


if __name__ == "__main__":
    main()
