"""``python -m benchmarks``: run the workloads, check every implementation
against the hand-written reference, time them interleaved, measure peak
memory in child processes, and report (terminal table, JSON, PNG, Markdown).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import traceback
from typing import Any

from . import machine

__all__ = ["main", "run"]

ALL_BACKENDS = ("numpy", "torch", "torch-cuda", "cupy", "jax", "array_api_strict")


def parse_args(argv: list | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="anyad against the hand-written numpy floor and its peers, on matmul-heavy "
                    "and small-op graphs. Every implementation's outputs are checked against the "
                    "hand-written reference before it is timed; an implementation that fails its "
                    "check (or raises) is reported, not timed, and the run exits with status 1.")
    p.add_argument("--workload", "-w", action="append",
                   help="workload to run (repeatable or comma-separated; default: all). "
                        "One of: mlp, matmul_chain, attention, cnn, transformer, smallops, hvp, deep, xor, "
                        "per_sample_grads, jacobian")
    p.add_argument("--backend", "-b", action="append",
                   help="backends to run on (repeatable or comma-separated; default: all present): "
                        + ", ".join(ALL_BACKENDS) + ". The numpy floor always runs.")
    p.add_argument("--impl", "-i", action="append",
                   help="only implementations whose name contains this text (repeatable or "
                        "comma-separated, e.g. 'anyad,torch'); the floor always runs")
    p.add_argument("--repeat", "-r", type=int, help="timed repeats (default: per workload)")
    p.add_argument("--warmup", type=int, help="untimed steps after the checking step (default 2; quick 0)")
    p.add_argument("--budget", type=float, default=30.0,
                   help="seconds of timed steps per implementation and workload: a slower one gets "
                        "fewer repeats (at least 3; default %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="threads for every library (default %(default)s)")
    p.add_argument("--memory", choices=("isolated", "inline", "off"),
                   help="peak memory of one step: in a child process per implementation (isolated, "
                        "the default), in the timing process after the timed steps (inline, the "
                        "--quick default: no second import and compilation), or off")
    p.add_argument("--isolation", choices=("process", "inline"),
                   help="where each implementation's steps run: a process of its own per "
                        "implementation and workload, steps interleaved across them one at a time "
                        "(process, the default) or all in this process (inline, the --quick default)")
    p.add_argument("--peer-python", action="append", metavar="NAME=PYTHON",
                   help="run the peer module NAME (e.g. advect) with another interpreter, where "
                        "it is installed (repeatable; also ANYAD_BENCH_PEER_PYTHON, comma-separated)")
    p.add_argument("--repeat-runs", type=int, default=1, metavar="N",
                   help="repeat the whole run N times and report each target ratio's spread; a "
                        "target is met only if it holds in every run (default %(default)s)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="which median the ratios and targets use: wall time (the default) or the "
                        "process's CPU time (steadier on a loaded machine; counts every thread)")
    p.add_argument("--profile", metavar="DIR",
                   help="also run the timed implementations under cProfile (CPU-time clock): "
                        "writes DIR/<workload>__<implementation>.prof and prints the top functions")
    p.add_argument("--profile-steps", type=int, default=5, help="steps per profile (default %(default)s)")
    p.add_argument("--json", metavar="PATH", help="write the results and the machine description")
    p.add_argument("--plot", metavar="PATH", help="write a PNG bar chart of the ratios to the floor")
    p.add_argument("--markdown", metavar="PATH", help="write the tables as Markdown")
    p.add_argument("--quick", action="store_true",
                   help="CI smoke run: tiny sizes, 1 repeat, no warm-up; checks every implementation")
    p.add_argument("--seed", type=int, default=0, help="data seed (default %(default)s)")
    args = p.parse_args(argv)
    args.workload = _split(args.workload)
    args.backend = _split(args.backend)
    args.impl = _split(args.impl)
    env_peers = os.environ.get("ANYAD_BENCH_PEER_PYTHON", "")
    args.peer_python = (args.peer_python or []) + [v for v in env_peers.split(",") if v.strip()]
    if args.isolation is None:  # a peer under another interpreter runs only in a process of its own
        args.isolation = "inline" if args.quick and not args.peer_python else "process"
    elif args.isolation == "inline" and args.peer_python:
        raise SystemExit("benchmarks: --peer-python runs peers in processes of their own; it cannot "
                         "be combined with --isolation inline (leave --isolation out, or use process)")
    if args.repeat_runs < 1:
        raise SystemExit("benchmarks: --repeat-runs must be at least 1")
    if args.memory is None:
        args.memory = "inline" if args.quick else "isolated"
    if args.warmup is None:
        args.warmup = 0 if args.quick else 2
    return args


def _split(values: list | None) -> list | None:
    if not values:
        return None
    return [s.strip() for v in values for s in v.split(",") if s.strip()]


def select(args: argparse.Namespace) -> tuple[list, set]:
    from .workloads import WORKLOADS, get

    names = args.workload or list(WORKLOADS)
    backends = set(args.backend or ALL_BACKENDS)
    unknown = backends - set(ALL_BACKENDS)
    if unknown:
        raise SystemExit(f"benchmarks: unknown backend(s) {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(ALL_BACKENDS)}")
    return [get(n) for n in names], backends


def implementations_for(workload: Any, backends: set, impl_filter: list | None,
                        modules: tuple | None = None) -> tuple[list, dict]:
    """The implementations to run (the numpy floor first, always) and the skipped peers."""
    from .peers import PEERS, discover

    impls, skipped = discover(workload, backends | {"numpy"}, None, modules or PEERS)
    keep = []
    for impl in impls:
        is_floor = impl.name.startswith("floor") and impl.backend == "numpy"
        if not is_floor:
            if impl.backend not in backends:
                continue
            if impl_filter and not any(f.lower() in impl.key.lower() for f in impl_filter):
                continue
        keep.append(impl)
    return keep, skipped


def run_workload(workload: Any, args: argparse.Namespace, backends: set, log: Any) -> dict:
    """Check, warm up and time every implementation of one workload, interleaved:
    each in a process of its own (``--isolation process``) or all in this one."""
    from . import isolation, memory
    from .timing import summarize

    data = workload.make_data(quick=args.quick, seed=args.seed)
    what = f"quick sizes: {workload.describe(data.dims)}" if args.quick else workload.title
    log(f"== {workload.name}: {what}")
    if args.isolation == "process":
        entries, failures, skipped = isolation.run_workload(workload, args, backends, log)
    else:
        entries, failures, skipped = _run_inline(workload, data, args, backends, log)
    results = []
    for e in entries:
        impl = e["impl"]
        res = {"workload": workload.name, "impl": impl.name, "backend": impl.backend, "key": impl.key,
               "timed": impl.timed, "checked": e["checked"], "max_error": e["max_error"],
               "timer": e["timer_method"], "device": impl.device, "note": impl.note, "module": impl.module,
               "python": os.path.basename(e.get("python", sys.executable)),  # no folders of the machine
               "_python_path": e.get("python", sys.executable), "pid": e.get("pid", os.getpid()),
               "threads_set": e.get("threads_set"),
               "first_step_s": e["first_step_s"], "build_s": e["build_s"],
               "repeats": len(e["times"]), "times_s": e["times"], "cpu_times_s": e["cpu"],
               "settle_s": e.get("settle"),  # waits for the worker's thread pools after each step
               **summarize(e["times"], e["cpu"])}
        if "memory" in e:
            memory.record(res, e["memory"], workload.ops(data.dims))
        results.append(res)
    return {"workload": workload.name, "title": what, "dtype": workload.dtype,
            "metric": workload.metric, "dims": dict(data.dims), "flops": workload.flops(data.dims),
            "ops": workload.ops(data.dims), "units": workload.units(data.dims),
            "isolation": args.isolation, "skipped": skipped, "results": results, "failures": failures}


def _run_inline(workload: Any, data: Any, args: argparse.Namespace, backends: set, log: Any) -> tuple:
    """Every implementation in this process (``--isolation inline``, the ``--quick`` default)."""
    import numpy as np

    from . import memory
    from .check import GradientMismatch, check_outputs
    from .timing import interleave, timer_for

    reference = workload.reference(np, data.astype("float64"))
    impls, skipped = implementations_for(workload, backends, args.impl)
    entries = []
    failures = []
    for impl in impls:
        timer = timer_for(impl)
        try:
            t0 = time.perf_counter()
            step = impl.build(data)
            build_s = time.perf_counter() - t0
            first_s, out = timer(step)  # the checking step is also the first warm-up (and jit compile)
            err = check_outputs(workload, impl.key, [impl.to_numpy(o) for o in out], reference)
            del out
        except Exception as e:  # a crash or a wrong answer: reported, never timed
            why = str(e) if isinstance(e, GradientMismatch) else (
                f"benchmarks: {workload.name} / {impl.key} raised {type(e).__name__}: {e}")
            log(f"   {impl.key:<36} FAILED: {why}")
            failures.append({"workload": workload.name, "key": impl.key, "impl": impl.name,
                             "backend": impl.backend, "error": why,
                             "traceback": traceback.format_exc(limit=-8)})
            continue
        log(f"   {impl.key:<36} checked (max normwise error {err:.1e}), first step {first_s * 1e3:.1f} ms")
        entries.append({"impl": impl, "step": step, "timer": timer, "times": [], "cpu": [], "checked": True,
                        "max_error": err, "first_step_s": first_s, "build_s": build_s,
                        "timer_method": timer.method})
    # Everything alive now (libraries, data, compiled functions) is moved out of the
    # collector's reach: a full collection would otherwise walk torch's and JAX's
    # millions of objects, inside whichever step happens to trigger it.
    gc.collect()
    gc.freeze()
    timed = [e for e in entries if e["impl"].timed]
    repeat = args.repeat or (1 if args.quick else workload.repeat)
    for e in timed:
        e["quota"] = repeat
        if args.warmup:  # the first warm-up step also estimates the steady-state step time
            est, out = e["timer"](e["step"])
            del out
            # a slow implementation gets fewer repeats (never fewer than 3) and no more warm-up
            e["quota"] = max(min(repeat, int(args.budget / max(est, 1e-9))), min(3, repeat))
            e["warm"] = args.warmup - 1 if est * args.warmup < args.budget / 10 else 0
    for e in timed:
        for _ in range(e.get("warm", 0)):
            e["timer"](e["step"])
    def take(e: dict) -> tuple:
        t, out = e["timer"](e["step"])
        del out
        return t, e["timer"].last_cpu

    interleave(timed, args.seed, take)
    if args.memory == "inline":
        for e in timed:
            e["memory"] = memory.measure_step(e["step"], e["impl"])
    if args.profile:
        from .profiling import profile_steps

        for e in timed:
            profile_steps(e["step"], workload.name, e["impl"].key, args.profile, args.profile_steps,
                          log)
    for e in entries:
        e["step"] = None
    return entries, failures, skipped


def run(args: argparse.Namespace, log: Any = print) -> dict:
    """The whole run: returns the report (what ``--json`` writes)."""
    from . import isolation, memory, report

    threads = machine.apply_library_threads(args.threads)
    workloads, backends = select(args)
    t0 = time.perf_counter()
    runs = [run_workload(w, args, backends, log) for w in workloads]
    if args.memory == "isolated":
        log("== peak memory (a child process per implementation)")
        memory.measure(runs, args, log)
    description = machine.describe(args.threads)
    description["peer_interpreters"] = isolation.describe_peers(args)
    out = {"machine": description, "threads_set": threads,
           "config": {"quick": args.quick, "repeat": args.repeat, "warmup": args.warmup,
                      "isolation": args.isolation, "threads": args.threads,
                      "peer_python": sorted(isolation.parse_peer_python(args.peer_python)),
                      "budget_s": args.budget, "clock": args.clock,
                      "seed": args.seed, "memory": args.memory, "backends": sorted(backends),
                      "impl_filter": args.impl,
                      "command": report.portable_command(["python", "-m", "benchmarks", *sys.argv[1:]])},
           "workloads": runs, "elapsed_s": None}
    report.derive(out, args.clock)
    out["elapsed_s"] = time.perf_counter() - t0
    return out


def main(argv: list | None = None) -> int:
    args = parse_args(argv)
    machine.limit_threads(args.threads)  # before numpy, torch or jax is imported
    if args.memory == "inline":
        from .memory import fix_malloc

        fix_malloc()
    from . import report

    outs = []
    for k in range(args.repeat_runs):
        if args.repeat_runs > 1:
            print(f"=== run {k + 1} of {args.repeat_runs}")
        outs.append(run(args))
    out = report.combine(outs)
    print()
    print(report.terminal(out))
    if args.json:
        report.write_json(out, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        from .plot import plot

        plot(out, args.plot)
        print(f"wrote {args.plot}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report.markdown(out))
        print(f"wrote {args.markdown}")
    failures = [f for w in out["workloads"] for f in w["failures"]]
    for f in failures:
        print(f"FAILED: {f['error']}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} implementation(s) failed their check: see above", file=sys.stderr)
    return 1 if failures else 0
