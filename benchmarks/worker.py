"""One implementation of one workload, in a process of its own.

The harness (``--isolation process``, the default of a full run) starts one
worker per implementation and workload, ``python -m benchmarks.worker``, with
the same thread settings for all (the environment :func:`machine.limit_threads`
wrote, and :func:`machine.apply_library_threads` once the libraries are
loaded). It then asks the workers for one timed step at a time, in a fresh
order every round, so drift on the machine hits every implementation alike,
while no two steps ever run at the same time. A library's thread pool that keeps
spinning after its step (OpenMP, OpenBLAS) then idles in its own process
instead of slowing whichever step runs next in a shared one.

The protocol is one JSON object per line: requests on stdin, replies on the
process's original stdout (anything a library prints goes to stderr). A worker
started with another interpreter (``--peer-python``) needs only this package
on its path, not anyad, unless it runs anyad.

Requests: ``{"op": "discover", ...}`` lists the implementations a peer module
has here; ``{"op": "describe"}`` gives this interpreter's Python and library
versions; ``{"op": "init", ...}`` builds, checks against the float64
reference and warms up one of them; ``{"op": "step"}`` times one step;
``{"op": "profile", ...}``, ``{"op": "memory"}``; ``{"op": "quit"}``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
from typing import Any

__all__ = ["serve"]


def _impl_record(impl: Any) -> dict:
    return {"name": impl.name, "backend": impl.backend, "key": impl.key, "timed": impl.timed,
            "device": impl.device, "note": impl.note, "skip": impl.skip, "module": impl.module}


class _Worker:
    def __init__(self, log: Any) -> None:
        self.log = log
        self.step = None
        self.timer = None
        self.impl = None

    def discover(self, req: dict) -> dict:
        from .harness import implementations_for
        from .workloads import get

        impls, skipped = implementations_for(get(req["workload"]), set(req["backends"]), req.get("impl"),
                                             (req["module"],))
        return {"ok": True, "impls": [_impl_record(i) for i in impls], "skipped": skipped}

    def describe(self, req: dict) -> dict:
        import platform

        from .machine import libraries

        return {"ok": True, "python": platform.python_version(), "libraries": libraries()}

    def init(self, req: dict) -> dict:
        import numpy as np

        from . import machine
        from .check import GradientMismatch, check_outputs
        from .harness import implementations_for
        from .timing import timer_for
        from .workloads import get

        workload = get(req["workload"])
        data = workload.make_data(quick=req["quick"], seed=req["seed"])
        reference = workload.reference(np, data.astype("float64"))
        impls, _ = implementations_for(workload, set(req["backends"]), None, (req["module"],))
        impl = next((i for i in impls if i.key == req["key"]), None)
        if impl is None:
            return {"ok": False, "error": f"benchmarks: {req['key']} not found in {req['module']}"}
        self.impl = impl
        self.timer = timer = timer_for(impl)
        try:
            t0 = time.perf_counter()
            self.step = impl.build(data)
            build_s = time.perf_counter() - t0
            first_s, out = timer(self.step)  # the checking step is also the first warm-up
            err = check_outputs(workload, impl.key, [impl.to_numpy(o) for o in out], reference)
            del out
        except Exception as e:  # a crash or a wrong answer: reported, never timed
            why = str(e) if isinstance(e, GradientMismatch) else (
                f"benchmarks: {workload.name} / {impl.key} raised {type(e).__name__}: {e}")
            return {"ok": False, "error": why, "traceback": traceback.format_exc(limit=-8)}
        threads = machine.apply_library_threads(req["threads"])  # the libraries are loaded now
        reply = {"ok": True, "max_error": err, "first_step_s": first_s, "build_s": build_s,
                 "timer": timer.method, "threads_set": threads, "pid": os.getpid()}
        quota, warm = req["repeat"], 0
        if impl.timed and req["warmup"]:  # the first warm-up step also estimates the step time
            est, out = timer(self.step)
            del out
            quota = max(min(quota, int(req["budget"] / max(est, 1e-9))), min(3, quota))
            warm = req["warmup"] - 1 if est * req["warmup"] < req["budget"] / 10 else 0
        for _ in range(warm):
            timer(self.step)
        # everything alive now is moved out of the collector's reach (see timing.py)
        gc.collect()
        gc.freeze()
        reply["quota"] = quota
        return reply

    def time_step(self, req: dict) -> dict:
        t, out = self.timer(self.step)
        del out
        return {"ok": True, "t": t, "cpu": self.timer.last_cpu}

    def memory(self, req: dict) -> dict:
        from .memory import measure_step

        return {"ok": True, **measure_step(self.step, self.impl)}

    def profile(self, req: dict) -> dict:
        from .profiling import profile_steps

        path = profile_steps(self.step, req["workload"], self.impl.key, req["dir"], req["steps"], self.log)
        return {"ok": True, "path": path}


def serve(stdin: Any, reply_to: Any, log: Any) -> None:
    """Answer requests from ``stdin`` until ``quit`` (or end of input)."""
    worker = _Worker(log)
    ops = {"discover": worker.discover, "describe": worker.describe, "init": worker.init,
           "step": worker.time_step, "memory": worker.memory, "profile": worker.profile}
    for line in stdin:
        req = json.loads(line)
        if req["op"] == "quit":
            break
        try:
            reply = ops[req["op"]](req)
        except ImportError as e:
            reply = {"ok": False, "error": f"not installed ({e.name or e})", "import_error": True}
        except Exception as e:
            reply = {"ok": False, "error": f"benchmarks.worker: {req['op']} raised {type(e).__name__}: {e}",
                     "traceback": traceback.format_exc(limit=-8)}
        reply_to.write(json.dumps(reply) + "\n")
        reply_to.flush()


def main() -> None:
    # the protocol keeps the original stdout; whatever the libraries print goes to stderr
    reply_to = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    threads = int(os.environ.get("ANYAD_BENCH_THREADS", "0"))
    if threads:
        from . import machine

        machine.limit_threads(threads)  # before numpy, torch or jax is imported
    if os.environ.get("ANYAD_BENCH_FIX_MALLOC"):
        from .memory import fix_malloc

        fix_malloc()
    serve(sys.stdin, reply_to, lambda msg: print(msg, file=sys.stderr, flush=True))


if __name__ == "__main__":
    main()
