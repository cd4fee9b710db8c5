"""Timing one step: wall clock on the CPU, CUDA events on a GPU.

Before every timed step the garbage left by earlier steps is collected, so no
implementation pays for another's garbage; the collector stays enabled inside
the step (a library that creates many Python objects pays for them, as its
users do). The harness freezes (``gc.freeze``) everything alive before timing,
so these collections only walk the objects the steps create.

Beside the wall time, the CPU time of the whole process (every thread) is kept
for each CPU step: on a shared machine it is much less disturbed by other
processes than the wall time is (``--clock cpu`` takes the ratios from it).
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from typing import Any, Callable

__all__ = ["timer_for", "summarize", "interleave"]


class CpuTimer:
    """``time.perf_counter`` around the step (the step itself waits for its results)."""

    method = "perf_counter"

    def __init__(self) -> None:
        self.last_cpu: float | None = None

    def __call__(self, step: Callable[[], Any]) -> tuple[float, Any]:
        gc.collect()
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = step()
        t1 = time.perf_counter()
        self.last_cpu = time.process_time() - c0  # every thread of the process
        return t1 - t0, out


class TorchCudaTimer:
    """CUDA events recorded on torch's current stream around the step."""

    method = "cuda events (torch)"
    last_cpu = None

    def __init__(self) -> None:
        import torch

        self.cuda = torch.cuda
        self.start = torch.cuda.Event(enable_timing=True)
        self.end = torch.cuda.Event(enable_timing=True)

    def __call__(self, step: Callable[[], Any]) -> tuple[float, Any]:
        gc.collect()
        self.cuda.synchronize()  # nothing queued by earlier work is counted
        self.start.record()
        out = step()
        self.end.record()
        self.end.synchronize()
        return self.start.elapsed_time(self.end) / 1e3, out


class CupyTimer:
    """CUDA events recorded on CuPy's current stream around the step."""

    method = "cuda events (cupy)"
    last_cpu = None

    def __init__(self) -> None:
        import cupy

        self.cupy = cupy
        self.start = cupy.cuda.Event()
        self.end = cupy.cuda.Event()

    def __call__(self, step: Callable[[], Any]) -> tuple[float, Any]:
        gc.collect()
        self.cupy.cuda.Device().synchronize()
        self.start.record()
        out = step()
        self.end.record()
        self.end.synchronize()
        return self.cupy.cuda.get_elapsed_time(self.start, self.end) / 1e3, out


def timer_for(impl: Any) -> Any:
    """The timer an implementation is measured with."""
    if impl.device != "cuda":
        return CpuTimer()
    if impl.backend.startswith("torch"):
        return TorchCudaTimer()
    return CupyTimer()


def summarize(times: list, cpu_times: list) -> dict:
    """Median, min, max (seconds) of the repeats' wall times, and the median CPU time."""
    out = {"median_s": None, "min_s": None, "max_s": None, "cpu_median_s": None}
    if times:
        out.update(median_s=statistics.median(times), min_s=min(times), max_s=max(times))
    cpu = [c for c in cpu_times if c is not None]
    if cpu:
        out["cpu_median_s"] = statistics.median(cpu)
    return out


def interleave(entries: list, seed: int, take: Callable[[dict], tuple]) -> None:
    """Time every entry up to its ``"quota"`` of steps, one step each per round, in
    a fresh (seeded) random order every round: no one always runs first, and no one
    always runs right after the same neighbour (a BLAS pool still spinning after a
    step slows whichever step follows it on a small machine; a rotation would pin
    that cost on one implementation). ``take(entry)`` runs one step and returns its
    ``(wall, cpu)`` seconds, appended to the entry's ``"times"`` and ``"cpu"``."""
    shuffle = random.Random(seed).shuffle
    for _ in range(max((e["quota"] for e in entries), default=0)):
        order = list(entries)
        shuffle(order)
        for e in order:
            if len(e["times"]) < e["quota"]:
                t, cpu = take(e)
                e["times"].append(t)
                e["cpu"].append(cpu)
