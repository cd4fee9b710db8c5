"""GPU check: the core tests and one training epoch on CuPy, when a CUDA device is there.

When ``cupy`` imports and sees a CUDA device, this

1. runs the test suite on the CuPy leg of the backend matrix
   (``ANYAD_TEST_BACKENDS=cupy python -m pytest tests``), and
2. trains the digits MLP of ``examples/train_digits.py`` for one epoch on CuPy,
   timing every step with CUDA events (so the time is the device's, with the
   device synchronised), and reports milliseconds per step.

Without CuPy or without a CUDA device it says so plainly and exits 0. The
epoch timing also runs on the CPU for comparison (``--backend numpy`` or
``torch``; host timers, those backends being synchronous).

Run: ``python benchmarks/gpu_check.py [--skip-tests] [--backend cupy] [--device 0] [--epochs 1]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gpu_status() -> tuple[bool, str]:
    """Whether CuPy sees a CUDA device, and a sentence saying what was found."""
    try:
        import cupy
    except ImportError:
        return False, 'CuPy is not installed (pip install "anyad[cuda12]" or "anyad[cuda13]")'
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # the CUDA driver is missing or broken
        return False, f"CuPy is installed but CUDA is not usable ({e})"
    if count == 0:
        return False, "CuPy is installed but no CUDA device is visible"
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return True, f"{count} CUDA device(s); device 0 is {name}"


class StepTimer:
    """Milliseconds of one step, measured where the work runs: CUDA events on CuPy
    and torch CUDA (recorded on the stream, then synchronised), a host clock elsewhere."""

    def __init__(self, backend: str, device=None):
        self.kind = "host"
        if backend == "cupy":
            import cupy

            self._new_event, self.kind = cupy.cuda.Event, "cuda-events"
            self._elapsed = cupy.cuda.get_elapsed_time
        elif backend == "torch" and device is not None and str(device).startswith("cuda"):
            import torch

            self._new_event, self.kind = (lambda: torch.cuda.Event(enable_timing=True)), "cuda-events"
            self._elapsed = lambda a, b: a.elapsed_time(b)

    def __call__(self, fn):
        if self.kind == "host":
            start = time.perf_counter()
            out = fn()
            return out, 1000.0 * (time.perf_counter() - start)
        start, end = self._new_event(), self._new_event()
        start.record()
        out = fn()
        end.record()
        end.synchronize()
        return out, self._elapsed(start, end)


def run_tests() -> int:
    """The suite on the CuPy leg of the matrix; returns pytest's exit status."""
    env = dict(os.environ, ANYAD_TEST_BACKENDS="cupy")
    cmd = [sys.executable, "-m", "pytest", "-q", "tests", "-p", "no:cacheprovider"]
    print("$ ANYAD_TEST_BACKENDS=cupy " + " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd, env=env, cwd=ROOT)


def time_training(backend: str, device, epochs: int, seed: int, batch_size: int = 64, threads: int = 1) -> dict:
    """Train the digits MLP for ``epochs`` on ``backend``; time every step."""
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import train_digits as td

    with td.limit_threads(threads, backend):  # host-side BLAS: one thread suits these small matrices
        return _time_training(td, backend, device, epochs, seed, batch_size)


def _time_training(td, backend: str, device, epochs: int, seed: int, batch_size: int) -> dict:
    x_train, x_test, y_train, y_test = td.load_data(seed)
    x_train, x_test = td.standardise(x_train, x_test)
    x_train, x_test, y_train, y_test = td.to_backend((x_train, x_test, y_train, y_test), backend, device, "float32")
    model, optimizer, schedule, rng = td.build(backend, device, seed, "float32", 128, 3e-3, max(epochs, 1), 0.2)
    timer = StepTimer(backend, device)
    import array_api_compat

    xp = array_api_compat.array_namespace(x_train)
    n = x_train.shape[0]
    for idx in list(td.batches(rng, n, batch_size))[:3]:  # warm-up: kernel compilation, allocator
        timer(lambda: td.train_step(model, optimizer, xp.take(x_train, idx, axis=0), xp.take(y_train, idx, axis=0)))
    times = []
    wall = time.perf_counter()
    for _ in range(epochs):
        for idx in td.batches(rng, n, batch_size):
            xb, yb = xp.take(x_train, idx, axis=0), xp.take(y_train, idx, axis=0)
            _, ms = timer(lambda: td.train_step(model, optimizer, xb, yb))
            times.append(ms)
        schedule.step()
    wall = time.perf_counter() - wall
    _, accuracy = td.evaluate(model, x_test, y_test)
    return {"steps": len(times), "median_ms": statistics.median(times), "mean_ms": statistics.fmean(times),
            "min_ms": min(times), "wall_s": wall, "accuracy": float(accuracy), "timer": timer.kind}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cupy", help="cupy (default); numpy or torch for a CPU comparison")
    parser.add_argument("--device", default=None)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for BLAS/OpenMP (default 1)")
    parser.add_argument("--skip-tests", action="store_true", help="only time the training epoch")
    args = parser.parse_args(argv)

    status = 0
    if args.backend == "cupy":
        ok, what = gpu_status()
        if not ok:
            print(f"No GPU here: {what}. Nothing to check on CuPy; the CPU backends are covered by pytest.")
            return 0
        print(f"GPU: {what}")
        if not args.skip_tests:
            status = run_tests()
            print(f"tests on CuPy: {'passed' if status == 0 else f'FAILED (exit status {status})'}", flush=True)
    r = time_training(args.backend, args.device, args.epochs, args.seed, threads=args.threads)
    print(f"digits MLP on {args.backend}: {r['steps']} steps, {r['median_ms']:.3f} ms per step (median; "
          f"mean {r['mean_ms']:.3f}, min {r['min_ms']:.3f}; timed with {r['timer']}), {r['wall_s']:.2f} s wall, "
          f"test accuracy {100 * r['accuracy']:.2f}% after {args.epochs} epoch(s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
