"""Peak memory of one step, measured in child processes.

What is measured: the growth of the process's resident set during one step,
after a warm-up step: ``VmHWM - VmRSS`` from ``/proc/self/status``, with the
high-water mark reset just before the step (``echo 5 > /proc/self/clear_refs``,
Linux >= 4.0). Resident memory counts every allocator alike (numpy's, torch's,
XLA's), which ``tracemalloc`` does not (it sees numpy's buffers and Python
objects, not torch's or XLA's); ``ru_maxrss`` cannot be reset, so a delta of it
hides any step smaller than the import-time peak. The children run with a fixed
glibc mmap threshold (``MALLOC_MMAP_THRESHOLD_=65536``): every buffer of 64 KiB
or more is its own mapping, returned to the system when freed, so memory freed
by the warm-up step is not silently reused and a step's arrays show up in the
resident set when they are allocated. Where ``clear_refs`` cannot be written
the child falls back to ``tracemalloc`` (and says so). On a GPU the device
allocator's peak is reported as well (torch ``max_memory_allocated``; a CuPy
memory hook on its pool).

``--memory isolated`` (the default of a full run) measures each implementation
in a child process of its own, started after all the timing is done: nothing
else that run allocated is in its resident set, and its numbers cannot disturb
the timings. ``--memory inline`` (the ``--quick`` default) measures in the
timing process after the timed steps, with the same method (``mallopt`` sets the
same threshold): a smoke run then imports and compiles everything once.

A child is run as ``python -m benchmarks.memory '<json task list>'``: it prints
one JSON line per task.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from typing import Any

__all__ = ["measure", "measure_step", "record", "fix_malloc"]

_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}


def _status(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _CupyPeak:
    """A CuPy memory hook following the pool's bytes in use, and their peak."""

    def __init__(self) -> None:
        import cupy

        class Hook(cupy.cuda.MemoryHook):
            name = "anyad_bench_peak"

            def __init__(self):
                self.cur = 0
                self.peak = 0

            def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id):
                self.cur += mem_size
                self.peak = max(self.peak, self.cur)

            def free_postprocess(self, device_id, mem_size, mem_ptr, pmem_id):
                self.cur -= mem_size

        self.hook = Hook()


def fix_malloc() -> None:
    """In this process, what ``MALLOC_MMAP_THRESHOLD_=65536`` does for the children."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 65536)  # M_MMAP_THRESHOLD; also stops its adjustment
    except (OSError, AttributeError):
        pass


def record(res: dict, m: dict, ops: int | None) -> None:
    """Copy a memory measurement ``m`` into the result ``res``."""
    res["peak_bytes"] = m.get("peak_bytes")
    res["memory_method"] = m.get("method")
    if "device_peak_bytes" in m:
        res["device_peak_bytes"] = m["device_peak_bytes"]
    if "error" in m:
        res["memory_error"] = m["error"]
    if ops and res["peak_bytes"] is not None:
        res["bytes_per_op"] = res["peak_bytes"] / ops


def measure_step(step: Any, impl: Any) -> dict:
    """Peak memory growth of one call of ``step`` (already warmed up)."""
    gc.collect()
    res: dict = {}
    dev_ctx = None
    if impl.device == "cuda" and impl.backend.startswith("torch"):
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        dev_base = torch.cuda.memory_allocated()
    elif impl.device == "cuda":
        dev_ctx = _CupyPeak().hook
    base = _status("VmRSS")
    if base is not None and _reset_hwm():
        if dev_ctx is not None:
            with dev_ctx:
                out = step()
        else:
            out = step()
        res.update(method="rss high-water mark (VmHWM reset)", peak_bytes=_status("VmHWM") - base,
                   rss_before_bytes=base)
    else:
        import tracemalloc

        tracemalloc.start()
        out = step()
        res.update(method="tracemalloc (numpy and Python allocations only)",
                   peak_bytes=tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    if impl.device == "cuda" and impl.backend.startswith("torch"):
        import torch

        torch.cuda.synchronize()
        res["device_peak_bytes"] = torch.cuda.max_memory_allocated() - dev_base
    elif dev_ctx is not None:
        res["device_peak_bytes"] = dev_ctx.peak
    del out
    return res


def _child(spec: dict) -> None:
    from . import machine

    machine.limit_threads(spec["threads"])
    machine.apply_library_threads(spec["threads"])
    from .harness import ALL_BACKENDS, implementations_for
    from .workloads import get

    for wname, key, module in spec["tasks"]:
        workload = get(wname)
        data = workload.make_data(quick=spec["quick"], seed=spec["seed"])
        impls, _ = implementations_for(workload, set(ALL_BACKENDS), None, (module,))
        impl = next((i for i in impls if i.key == key), None)
        if impl is None:
            print(json.dumps({"workload": wname, "key": key, "error": "implementation not found"}),
                  flush=True)
            continue
        step = impl.build(data)
        step()  # warm-up (and compilation)
        gc.collect()
        gc.freeze()
        res = measure_step(step, impl)
        del step
        print(json.dumps({"workload": wname, "key": key, **res}), flush=True)


def _run_children(task_lists: list, spec: dict, log: Any) -> dict:
    env = dict(os.environ, **_ENV)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = here + os.pathsep + env.get("PYTHONPATH", "")
    found: dict = {}
    for python, tasks in task_lists:
        arg = json.dumps(dict(spec, tasks=tasks))
        proc = subprocess.run([python, "-m", "benchmarks.memory", arg], env=env, cwd=here,
                              capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                found[(r["workload"], r["key"])] = r
        if proc.returncode:
            tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
            for t in tasks:
                found.setdefault(tuple(t[:2]), {"error": f"child process failed: {tail[0]}"})
            log(f"   memory child failed (exit {proc.returncode}): {tail[0]}")
    return found


def measure(runs: list, args: Any, log: Any) -> None:
    """Fill ``peak_bytes`` (and ``memory_method``) into every timed result of ``runs``."""
    tasks = [(res.get("_python_path") or sys.executable, [r["workload"], res["key"], res["module"]])
             for r in runs for res in r["results"] if res["timed"]]
    spec = {"threads": args.threads, "quick": args.quick, "seed": args.seed}
    found = _run_children([(python, [t]) for python, t in tasks], spec, log)
    for r in runs:
        for res in r["results"]:
            if not res["timed"]:
                continue
            m = found.get((r["workload"], res["key"]), {"error": "no result from the child process"})
            record(res, m, r["ops"])
            if res["peak_bytes"] is not None:
                log(f"   {r['workload']:<13} {res['key']:<36} {res['peak_bytes'] / 2 ** 20:9.2f} MiB")


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
