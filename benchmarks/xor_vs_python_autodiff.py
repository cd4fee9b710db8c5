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


def _timed(program, lib, epochs: int, seed: int) -> tuple[float, np.ndarray]:
    np.random.seed(seed)
    t0 = time.perf_counter()
    forward, X, _ = program(lib, epochs)
    elapsed = time.perf_counter() - t0
    return elapsed / (4 * epochs), _predictions(forward, X)


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
    times: dict = {k: [] for k in libs}
    for r in range(args.repeat):
        preds = {}
        for name, lib in libs.items():  # interleaved, same seed for both
            per_step, preds[name] = _timed(program, lib, args.epochs, r)
            times[name].append(per_step)
        np.testing.assert_allclose(preds["anyad"], preds["python-autodiff"], rtol=1e-8, atol=1e-10)
    med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    ratio = med["anyad"] / med["python-autodiff"]
    print(f"XOR program (160 hidden units, float64, numpy): {args.epochs} epochs x 4 steps per run, "
          f"{args.repeat} runs each, interleaved; same predictions from both")
    print(f"{'library':<18}{'median us/step':>16}{'min us/step':>14}")
    for k, v in times.items():
        print(f"{k:<18}{med[k]:>16.1f}{min(v) * 1e6:>14.1f}")
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"ratio anyad / python-autodiff: {ratio:.3f} (target <= {TARGET}: {verdict})")
    return {"anyad_us_per_step": med["anyad"], "python_autodiff_us_per_step": med["python-autodiff"],
            "ratio": ratio}


if __name__ == "__main__":
    main()
