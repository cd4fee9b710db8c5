"""Resident memory of a training loop through the GradientTracker face.

Runs the ``mlp`` workload's step (784-1024-1024-10, batch 256, float32) 120
times, each implementation in a process of its own, and reports how far the
resident set grew above what it was after the imports and the data (the peak,
``VmHWM``, minus ``VmRSS`` before the first step). A graph that is not freed by
reference counting (a reference cycle, a list that grows across tracker
blocks) shows up here as growth over the steps; one freed as soon as its
outputs are dropped costs one step's activations and gradients.

    python -m benchmarks.tracker_rss [--steps 120]

Implementations: the hand-written NumPy step (the floor), anyad's
GradientTracker face (``with GradientTracker() as t: ...; t.gradient(loss,
params)``), ``Variable.backward``, and torch eager when it is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
IMPLS = ("numpy floor", "anyad GradientTracker", "anyad backward", "torch eager")


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _child(impl: str, steps: int) -> dict:
    import numpy as np

    from .workloads import get

    data = get("mlp").make_data()
    if impl == "numpy floor":
        def step():
            return get("mlp").reference(np, data)
    elif impl.startswith("anyad"):
        import anyad as ad

        from .peers.anyad_impl import mlp_loss

        f = mlp_loss(dict(data.consts))
        if impl == "anyad GradientTracker":
            params = [ad.Variable(p) for p in data.params]

            def step():
                with ad.GradientTracker() as tracker:
                    loss = f(*params)
                return tracker.gradient(loss, params)
        else:
            params = [ad.Variable(p, requires_grad=True) for p in data.params]

            def step():
                for p in params:
                    p.grad = None
                f(*params).backward()
                return [p.grad for p in params]
    elif impl == "torch eager":
        import torch

        torch.set_num_threads(2)
        X, Y = (torch.from_numpy(data.consts[k]) for k in ("X", "Y"))
        params = [torch.from_numpy(p).requires_grad_() for p in data.params]

        def step():
            W1, b1, W2, b2, W3, b3 = params
            h = torch.tanh(torch.tanh(X @ W1 + b1) @ W2 + b2)
            z = h @ W3 + b3
            loss = -(Y * torch.log_softmax(z, dim=1)).sum() / X.shape[0]
            return torch.autograd.grad(loss, params)
    else:
        raise ValueError(f"unknown implementation {impl!r}")
    before = _status("VmRSS")
    for _ in range(steps):
        step()
    return {"impl": impl, "growth": _status("VmHWM") - before, "after": _status("VmRSS") - before}


def measure(impl: str, steps: int) -> dict | None:
    env = dict(os.environ, **_ENV)
    cmd = [sys.executable, "-m", "benchmarks.tracker_rss", "--child", impl, "--steps", str(steps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        if "No module named 'torch'" in proc.stderr:
            return None
        raise RuntimeError(f"{impl}: {proc.stderr.strip().splitlines()[-1]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.steps)))
        return 0
    rows = [r for r in (measure(i, args.steps) for i in IMPLS) if r is not None]
    floor = rows[0]["growth"]
    print(f"mlp step x {args.steps}, each in its own process: resident set above the start of the loop")
    print(f"{'implementation':24s} {'peak MB':>8s} {'at end MB':>10s} {'x floor':>8s}")
    for r in rows:
        print(f"{r['impl']:24s} {r['growth'] / 1e6:8.1f} {r['after'] / 1e6:10.1f} {r['growth'] / floor:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
