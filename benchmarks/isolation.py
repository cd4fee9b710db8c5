"""``--isolation process``: every implementation's steps in a process of its own.

The harness starts a :mod:`benchmarks.worker` per implementation and workload
(one after the other: builds, checks and warm-ups never overlap), then times
one step at a time, asking the workers in a fresh random order every round.
Only one step runs at any moment; the others wait on a pipe. After each step the
harness waits until the worker that ran it is idle (:func:`wait_idle`): a BLAS or
OpenMP pool keeps its threads spinning for a while after a call (OpenBLAS up to
about 0.1 s), and on a small machine those threads would take the cores from the
next step, in whichever process it runs (a 1 ms Hessian-vector product was seen
to take 20 ms). Implementations
of a peer module named in ``--peer-python NAME=PYTHON`` are discovered and run
by that interpreter (a peer that needs another Python version, e.g. advect).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from .peers import PEERS, Impl
from .timing import interleave

__all__ = ["WorkerProcess", "run_workload", "wait_idle"]

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class WorkerProcess:
    """A :mod:`benchmarks.worker` child: ``request(dict) -> dict``."""

    def __init__(self, python: str, threads: int, memory_fix: bool = False) -> None:
        env = dict(os.environ, ANYAD_BENCH_THREADS=str(threads))
        env["PYTHONPATH"] = _HERE + os.pathsep + env.get("PYTHONPATH", "")
        if memory_fix:
            env["ANYAD_BENCH_FIX_MALLOC"] = "1"
        self.python = python
        self.proc = subprocess.Popen([python, "-m", "benchmarks.worker"], cwd=_HERE, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def request(self, req: dict) -> dict:
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError) as e:
            line, why = "", str(e)
        else:
            why = "no reply"
        if not line:
            code = self.proc.wait()
            return {"ok": False, "error": f"benchmarks: the worker process ({self.python}) exited "
                                          f"with status {code} ({why}); its stderr is above"}
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _cpu_ns(pid: int) -> int | None:
    """CPU time used so far by every thread of process ``pid``, in ns (Linux's
    per-thread schedstat); ``None`` where it cannot be read."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):  # a thread that just ended
                continue
    except OSError:
        return None
    return total


def wait_idle(pid: int, window_s: float = 0.001, busy_fraction: float = 0.1, limit_s: float = 0.5) -> float:
    """Wait until process ``pid`` uses under ``busy_fraction`` of one core over a
    ``window_s`` window (its library thread pools stopped spinning), or for
    ``limit_s`` at most; return the seconds waited (0 where the CPU time of a
    process cannot be read: no wait). The window is short because the idle gap
    itself costs the next step: after 5 ms of idleness a 0.4 ms step ran 17-27%
    slower (smallops: floor 411 -> 481 us, replay 491 -> 623 us), after 1 ms it
    ran as with no gap at all."""
    t0 = time.perf_counter()
    last = _cpu_ns(pid)
    if last is None:
        return 0.0
    while time.perf_counter() - t0 < limit_s:
        time.sleep(window_s)
        now = _cpu_ns(pid)
        if now is None or now - last < busy_fraction * window_s * 1e9:
            break
        last = now
    return time.perf_counter() - t0


def parse_peer_python(values: list | None) -> dict:
    """``["advect=/opt/py312/bin/python"]`` -> ``{"advect_impl": "/opt/py312/bin/python"}``."""
    out = {}
    for v in values or []:
        name, eq, path = v.partition("=")
        if not eq or not name or not path:
            raise SystemExit(f"benchmarks: --peer-python takes NAME=PYTHON, got {v!r}")
        module = name if name.endswith("_impl") or name in PEERS else f"{name}_impl"
        out[module] = path
    return out


def describe_peers(args: Any) -> dict:
    """Per peer module run by another interpreter: that interpreter's Python and
    library versions (the machine description covers the harness's own)."""
    out = {}
    for module, python in parse_peer_python(getattr(args, "peer_python", None)).items():
        w = WorkerProcess(python, args.threads)
        try:
            rep = w.request({"op": "describe"})
        finally:
            w.close()
        if rep.get("ok"):
            out[module] = {"python": rep["python"], "libraries": rep["libraries"]}
    return out


def discover(workload: Any, backends: set, args: Any) -> tuple[list, dict]:
    """The implementations to run, each with the interpreter that runs it."""
    from .harness import implementations_for

    remote = parse_peer_python(getattr(args, "peer_python", None))
    local_modules = tuple(m for m in PEERS if m not in remote)
    impls, skipped = implementations_for(workload, backends, args.impl, local_modules)
    found = [(impl, sys.executable) for impl in impls]
    for module, python in remote.items():
        w = WorkerProcess(python, args.threads)
        try:
            rep = w.request({"op": "discover", "workload": workload.name, "module": module,
                             "backends": sorted(backends), "impl": args.impl})
        finally:
            w.close()
        if not rep["ok"]:
            skipped[module] = f"{rep['error']} (in {python})"
            continue
        skipped.update(rep["skipped"])
        for rec in rep["impls"]:
            impl = Impl(rec["name"], rec["backend"], build=None, to_numpy=None, timed=rec["timed"],
                        device=rec["device"], note=rec["note"], module=rec["module"])
            found.append((impl, python))
    return found, skipped


def run_workload(workload: Any, args: Any, backends: set, log: Any) -> tuple[list, list, dict]:
    """Check, warm up and time every implementation of ``workload``, each in its
    own worker process. Returns ``(entries, failures, skipped)`` as the harness
    reports them."""
    found, skipped = discover(workload, backends, args)
    repeat = args.repeat or (1 if args.quick else workload.repeat)
    entries, failures = [], []
    try:
        for impl, python in found:
            w = WorkerProcess(python, args.threads, memory_fix=args.memory == "inline")
            rep = w.request({"op": "init", "workload": workload.name, "module": impl.module, "key": impl.key,
                             "backends": sorted(backends), "quick": args.quick, "seed": args.seed,
                             "threads": args.threads, "warmup": args.warmup if impl.timed else 0,
                             "budget": args.budget, "repeat": repeat})
            if not rep["ok"]:
                w.close()
                log(f"   {impl.key:<36} FAILED: {rep['error']}")
                failures.append({"workload": workload.name, "key": impl.key, "impl": impl.name,
                                 "backend": impl.backend, "error": rep["error"],
                                 "traceback": rep.get("traceback", "")})
                continue
            log(f"   {impl.key:<36} checked (max normwise error {rep['max_error']:.1e}), first step "
                f"{rep['first_step_s'] * 1e3:.1f} ms (process {rep['pid']})")
            if not impl.timed:
                w.close()
            entries.append({"impl": impl, "worker": w, "times": [], "cpu": [], "checked": True,
                            "max_error": rep["max_error"], "first_step_s": rep["first_step_s"],
                            "build_s": rep["build_s"], "timer_method": rep["timer"],
                            "threads_set": rep["threads_set"], "quota": rep["quota"], "python": python,
                            "pid": rep["pid"]})
        timed = [e for e in entries if e["impl"].timed]
        def take(e: dict) -> tuple:
            rep = e["worker"].request({"op": "step"})
            if not rep["ok"]:
                raise RuntimeError(f"benchmarks: {workload.name} / {e['impl'].key}: {rep['error']}")
            e.setdefault("settle", []).append(wait_idle(e["pid"]))  # its pools stop spinning first
            return rep["t"], rep["cpu"]

        interleave(timed, args.seed, take)
        for e in timed:
            if args.memory == "inline":
                rep = e["worker"].request({"op": "memory"})
                e["memory"] = rep if rep["ok"] else {"error": rep["error"]}
            if args.profile:
                e["worker"].request({"op": "profile", "workload": workload.name, "dir": args.profile,
                                     "steps": args.profile_steps})
    finally:
        for e in entries:
            e["worker"].close()
    return entries, failures, skipped
