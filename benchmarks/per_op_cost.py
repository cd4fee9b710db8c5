"""Per-op cost of recording and differentiating: anyad (numpy) beside torch eager.

The workload is the ``smallops`` chain: x a 16-element float64 vector, then 100
times ``y = sin(y) * 1.01 + 0.1 * y`` (4 recorded ops per step), then the
gradient of ``sum(y)`` with respect to x. Reported: microseconds per recorded
op for the forward (recording) and the backward, median of repeats, both
libraries in the same process, interleaved.

Run: ``python benchmarks/per_op_cost.py [--repeat 30]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import anyad as ad

STEPS = 100
OPS = 4 * STEPS + 1  # + the final sum


def anyad_step(x0: np.ndarray) -> tuple[float, float]:
    t0 = time.perf_counter()
    x = ad.Variable(x0, requires_grad=True)
    y = x
    for _ in range(STEPS):
        y = ad.sin(y) * 1.01 + 0.1 * y
    s = ad.sum(y)
    t1 = time.perf_counter()
    s.backward()
    t2 = time.perf_counter()
    assert x.grad is not None
    return t1 - t0, t2 - t1


def torch_step(x0: np.ndarray) -> tuple[float, float]:
    import torch

    t0 = time.perf_counter()
    x = torch.tensor(x0, requires_grad=True)
    y = x
    for _ in range(STEPS):
        y = torch.sin(y) * 1.01 + 0.1 * y
    s = y.sum()
    t1 = time.perf_counter()
    s.backward()
    t2 = time.perf_counter()
    assert x.grad is not None
    return t1 - t0, t2 - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    x0 = np.linspace(-1.0, 1.0, 16)
    impls = {"anyad (numpy)": anyad_step}
    try:
        import torch

        torch.set_num_threads(1)
        impls["torch eager"] = torch_step
    except ImportError:
        print("torch is not installed: anyad only")
    times: dict[str, list] = {k: [] for k in impls}
    for _ in range(3):  # warm-up
        for f in impls.values():
            f(x0)
    for _ in range(args.repeat):
        for k, f in impls.items():  # interleaved, so drift hits all alike
            times[k].append(f(x0))
    print(f"smallops: {STEPS} steps x 4 ops + sum = {OPS} recorded ops, 16-element float64")
    print(f"{'implementation':<16}{'forward us/op':>15}{'backward us/op':>16}{'total us/op':>13}")
    totals = {}
    for k, ts in times.items():
        fwd = statistics.median(t[0] for t in ts) / OPS * 1e6
        bwd = statistics.median(t[1] for t in ts) / OPS * 1e6
        totals[k] = fwd + bwd
        print(f"{k:<16}{fwd:>15.2f}{bwd:>16.2f}{fwd + bwd:>13.2f}")
    if len(totals) == 2:
        a, t = totals.values()
        print(f"ratio anyad / torch (total per op): {a / t:.2f}")


if __name__ == "__main__":
    main()
