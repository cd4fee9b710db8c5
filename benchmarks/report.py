"""Results: ratios to the floor, rates, the performance targets, and their renderings
(terminal table, Markdown, JSON)."""

from __future__ import annotations

import json
import math
import re
import shlex
import statistics
from typing import Any

__all__ = ["TARGETS", "derive", "terminal", "markdown", "write_json", "portable_command"]

FLOOR = "floor (hand-written)"

#: (workload, numerator, denominator, at most, what is asked[, kind]); a tuple of
#: numerators: the first one present in the run. kind "time" (the default): a
#: ratio of medians; "memory": a ratio of peak memory growths; "us_per_op": the
#: numerator's own microseconds per recorded op (no denominator).
TARGETS = [
    ("mlp", "anyad eager [numpy]", f"{FLOOR} [numpy]", 1.05, "mlp: anyad eager <= 1.05x the floor"),
    ("mlp", "anyad eager [numpy]", "torch eager [torch]", 1.0, "mlp: anyad eager ahead of torch eager"),
    ("matmul_chain", "anyad eager [numpy]", f"{FLOOR} [numpy]", 1.05,
     "matmul_chain: anyad eager <= 1.05x the floor"),
    ("matmul_chain", "anyad eager [numpy]", "torch eager [torch]", 1.0,
     "matmul_chain: anyad eager ahead of torch eager"),
    ("deep", "anyad eager [numpy]", "torch eager [torch]", 0.5, "deep: anyad eager <= 0.5x torch eager per op"),
    ("smallops", "anyad eager [numpy]", "torch eager [torch]", 0.6,
     "smallops: anyad eager <= 0.6x torch eager per op"),
    ("smallops", "anyad jit [numpy]", None, 1.0, "smallops: compiled replay <= 1 us per op", "us_per_op"),
    ("deep", "anyad jit [numpy]", None, 1.0, "deep: compiled replay <= 1 us per op", "us_per_op"),
    ("hvp", "anyad jit [numpy]", "jax jit [jax]", 1.0, "hvp: compiled replay ahead of jax.jit"),
    ("mlp", "anyad eager [torch]", "torch eager [torch]", 1.1, "mlp: anyad on torch <= 1.1x torch eager"),
    ("matmul_chain", "anyad eager [torch]", "torch eager [torch]", 1.1,
     "matmul_chain: anyad on torch <= 1.1x torch eager"),
    ("attention", "anyad eager [torch]", "torch eager [torch]", 1.1,
     "attention: anyad on torch <= 1.1x torch eager"),
    ("smallops", "anyad eager [torch]", "torch eager [torch]", 1.2,
     "smallops: anyad on torch <= 1.2x torch eager"),
    ("mlp", "anyad eager [numpy]", "torch eager [torch]", 1.1, "mlp: peak memory <= 1.1x torch eager", "memory"),
    ("matmul_chain", "anyad eager [numpy]", "torch eager [torch]", 1.1,
     "matmul_chain: peak memory <= 1.1x torch eager", "memory"),
    ("attention", "anyad eager [numpy]", "torch eager [torch]", 1.1,
     "attention: peak memory <= 1.1x torch eager", "memory"),
    ("transformer", "anyad eager [numpy]", "torch eager [torch]", 1.2,
     "transformer: anyad on numpy <= 1.2x torch eager"),
    ("transformer", "anyad eager [numpy]", "torch eager [torch]", 1.1,
     "transformer: peak memory <= 1.1x torch eager", "memory"),
    ("cnn", "anyad eager [numpy]", "torch eager [torch]", 1.2, "cnn: anyad on numpy <= 1.2x torch eager"),
    ("cnn", "anyad eager [numpy]", "torch eager [torch]", 1.1, "cnn: peak memory <= 1.1x torch eager", "memory"),
    ("xor", ("anyad Tensor/Graph [numpy]", "anyad eager [numpy]"), "python-autodiff [numpy]", 0.5,
     "xor: the same program with anyad <= 0.5x python-autodiff"),
    ("per_sample_grads", "anyad vmap [numpy]", "torch.func vmap [torch]", 1.5,
     "per_sample_grads: anyad vmap(grad) <= 1.5x torch.func eager"),
    ("per_sample_grads", "anyad vmap [numpy]", "anyad loop [numpy]", 0.05,
     "per_sample_grads: anyad vmap >= 20x faster than the loop (<= 0.05x)"),
    ("jacobian", "anyad jacrev [numpy]", "torch.func jacrev [torch]", 1.5,
     "jacobian: anyad jacrev <= 1.5x torch.func.jacrev eager"),
    ("jacobian", "anyad jacrev [numpy]", "anyad vjp loop [numpy]", 0.05,
     "jacobian: anyad jacrev >= 20x faster than the vjp loop (<= 0.05x)"),
]


def portable_command(command: str | list) -> str:
    """The command line of a run as a report shows it: file arguments by their
    names only, so no page shows the folders of the machine it ran on.

    >>> portable_command("python -m benchmarks --json /home/me/run/b.json --plot=/tmp/b.png -w xor")
    'python -m benchmarks --json b.json --plot=b.png -w xor'
    >>> portable_command("python -m benchmarks --peer-python jax=../venvs/jax/bin/python")
    'python -m benchmarks --peer-python jax=python'
    """
    # (a stored string: Windows separators read as '/', so shlex keeps them)
    words = shlex.split(command.replace("\\", "/")) if isinstance(command, str) else list(command)
    out = []
    for word in words:
        flag, eq, value = word.partition("=") if "=" in word else ("", "", word)  # --flag=PATH, NAME=PATH
        if eq and ("/" in flag or "\\" in flag):  # an "=" inside a path: the whole word is the path
            flag, eq, value = "", "", word
        if "/" in value or "\\" in value:  # a path, on any system: keep its last part
            value = re.split(r"[/\\]", value.rstrip("/\\"))[-1] or value
        out.append(f"{flag}{eq}{value}" if eq else value)
    return " ".join(shlex.quote(w) if w and " " in w else w for w in out)


def _floor_for(results: list, res: dict) -> dict | None:
    by_key = {r["key"]: r for r in results}
    if res["device"] == "cuda" and f"{FLOOR} [cupy]" in by_key:
        return by_key[f"{FLOOR} [cupy]"]
    return by_key.get(f"{FLOOR} [numpy]")


def derive(out: dict, clock: str = "wall") -> None:
    """Add ratios to the floor, rates and the targets to a run's report, in place.

    ``clock="cpu"`` takes the ratios (and rates) from the CPU-time medians.
    """
    field = "cpu_median_s" if clock == "cpu" else "median_s"
    out["clock"] = clock
    for w in out["workloads"]:
        for res in w["results"]:
            med = res.get(field)
            floor = _floor_for(w["results"], res)
            fmed = floor.get(field) if floor else None
            res["ratio_to_floor"] = med / fmed if med and fmed else None
            res["floor"] = floor["key"] if floor else None
            res["gflops"] = w["flops"] / med / 1e9 if med and w["flops"] else None
            res["us_per_op"] = med / w["ops"] * 1e6 if med and w["ops"] else None
            res["us_per_step"] = med / w["units"] * 1e6 if med and w["units"] else None
    targets = []
    index = {(w["workload"], r["key"]): r for w in out["workloads"] for r in w["results"]}
    for wname, nums, den, limit, what, *kind in TARGETS:
        kind = kind[0] if kind else "time"
        nums = (nums,) if isinstance(nums, str) else nums
        num = next((n for n in nums if (wname, n) in index), nums[0])
        a, b = index.get((wname, num)), index.get((wname, den))
        ratio = None
        if kind == "us_per_op":
            ratio = a.get("us_per_op") if a else None
        else:
            f = "peak_bytes" if kind == "memory" else field
            if a and b and a.get(f) and b.get(f):
                ratio = a[f] / b[f]
        targets.append({"target": what, "workload": wname, "numerator": num, "denominator": den,
                        "kind": kind, "at_most": limit, "ratio": ratio,
                        "met": None if ratio is None else bool(ratio <= limit)})
    out["targets"] = targets


def combine(outs: list) -> dict:
    """One report from ``--repeat-runs`` runs: the tables of the last run, and
    every target's ratio in each run (``ratios``), its median and spread; a
    target is met only if it was met in every run that measured it."""
    out = outs[-1]
    if len(outs) == 1:
        return out
    out["repeat_runs"] = len(outs)
    out["runs"] = [{"targets": o["targets"], "elapsed_s": o["elapsed_s"]} for o in outs]
    for i, t in enumerate(out["targets"]):
        ratios = [o["targets"][i]["ratio"] for o in outs]
        got = sorted(r for r in ratios if r is not None)
        t["ratios"] = ratios
        t["ratio"] = statistics.median(got) if got else None
        t["spread"] = [got[0], got[-1]] if got else None
        t["met"] = None if len(got) < len(ratios) or not got else all(r <= t["at_most"] for r in got)
    return out


def _target_ratio(t: dict) -> str:
    if t["ratio"] is None:
        return "–"
    if t.get("spread"):
        return f"{t['ratio']:.2f} ({t['spread'][0]:.2f}-{t['spread'][1]:.2f})"
    return f"{t['ratio']:.2f}"


def fmt_time(s: float | None) -> str:
    if s is None:
        return "–"
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def _rate(w: dict, r: dict) -> str:
    if w["metric"] == "gflops":
        return "–" if r["gflops"] is None else f"{r['gflops']:.1f}"
    if w["metric"] == "us_per_op":
        return "–" if r["us_per_op"] is None else f"{r['us_per_op']:.2f}"
    return "–" if r["us_per_step"] is None else f"{r['us_per_step']:.1f}"


_RATE_HEAD = {"gflops": "GFLOP/s", "us_per_op": "us/op", "us_per_step": "us/step"}


def _mib(r: dict) -> str:
    b = r.get("peak_bytes")
    if b is None:
        return "–" if not r.get("memory_error") else "error"
    return f"{b / 2 ** 20:.1f}"


def _rows(w: dict) -> list:
    rows = []
    for r in w["results"]:
        if not r["timed"]:
            rows.append([r["key"], "checked only", "", "", "", "", "", "", f"{r['max_error']:.0e}"])
            continue
        ratio = "–" if r["ratio_to_floor"] is None else f"{r['ratio_to_floor']:.2f}"
        rows.append([r["key"], fmt_time(r["median_s"]), fmt_time(r["min_s"]), fmt_time(r["max_s"]),
                     fmt_time(r.get("cpu_median_s")), ratio, _rate(w, r), _mib(r), f"{r['max_error']:.0e}"])
    return rows


def _heads(w: dict) -> list:
    return ["implementation", "median", "min", "max", "CPU", "x floor", _RATE_HEAD[w["metric"]], "peak MiB",
            "error"]


def _workload_line(w: dict) -> str:
    extra = []
    if w["flops"]:
        extra.append(f"{w['flops'] / 1e9:.3g} GFLOP per step")
    if w["ops"]:
        extra.append(f"{w['ops']} recorded ops per step")
    if w["units"]:
        extra.append(f"{w['units']} training steps per timed run")
    return f"{w['workload']}: {w['title']} ({'; '.join(extra) or w['dtype']})"


def _threads(m: dict) -> str:
    return f"{m['threads']} thread" + ("" if m["threads"] == 1 else "s")


def terminal(out: dict) -> str:
    lines = []
    m = out["machine"]
    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
                     f"{b.get('num_threads')} threads)" for b in m["blas"] if b.get("user_api") == "blas")
    lines.append(f"machine: {m['cpu']}, {m['cpus_usable']} usable CPUs, {_threads(m)} per library; "
                 f"BLAS {blas or '?'}")
    for w in out["workloads"]:
        heads, rows = _heads(w), _rows(w)
        widths = [max(len(str(x)) for x in col) for col in zip(heads, *rows)]
        lines.append("")
        lines.append(_workload_line(w))
        for row in [heads, *rows]:
            lines.append("  ".join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                                   for i, c in enumerate(row)))
        for k, why in w["skipped"].items():
            lines.append(f"  ({k}: {why})")
        for f in w["failures"]:
            lines.append(f"  FAILED {f['key']}: {f['error']}")
    lines.append("")
    if out["config"].get("quick"):
        lines.append("smoke run (--quick): tiny sizes, no warm-up; these times say "
                     "nothing about speed, so no target is judged")
        return "\n".join(lines)
    runs = out.get("repeat_runs", 1)
    lines.append(f"targets (ratios of {out['clock']}-time medians" + (
        f"; median (min-max) over {runs} runs, met only if met in every run):" if runs > 1 else
        " in this run):"))
    for t in out["targets"]:
        state = "not measured" if t["ratio"] is None else ("met" if t["met"] else "NOT met")
        lines.append(f"  {t['target']:<66} {_target_ratio(t):>17}  {state}")
    return "\n".join(lines)


def markdown(out: dict) -> str:
    m = out["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    blas = "; ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
                     f"{b.get('num_threads')} threads, {b.get('file')})"
                     for b in m["blas"] if b.get("user_api") == "blas")
    load = ", ".join(f"{x:.2f}" for x in m["load_average"] or [])
    lines = [f"Measured {m['date']} with `{portable_command(out['config']['command'])}` "
             f"(anyad {m['anyad']['version']}, commit {m['anyad']['commit']}).", "",
             f"* CPU: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['cpus_usable']} usable), "
             f"{m['memory_gib']} GiB; load average at the end {load}",
             f"* {_threads(m)} for every library; BLAS: {blas or '?'}",
             f"* {m['os']}, Python {m['python']}; {libs}",
             *[f"* {module} in its own interpreter: Python {p['python']}; "
               + ", ".join(f"{k} {v}" for k, v in p["libraries"].items())
               for module, p in (m.get("peer_interpreters") or {}).items()],
             f"* GPUs: {', '.join(m['gpus']) or 'none'}", ""]
    lines += [f"Ratios are of {out['clock']}-time medians. Columns: median, min and max wall time per step "
              "over the repeats; CPU, the median CPU time of the whole process per step (every thread); "
              "x floor, the median's ratio to the hand-written numpy floor; peak MiB, the growth of "
              f"the resident set during one step ({out['config']['memory']} measurement); error, the "
              "largest normwise difference from the float64 reference.", ""]
    runs = out.get("repeat_runs", 1)
    if out["config"].get("quick"):
        lines += ["This is a smoke run (`--quick`: tiny sizes, no warm-up): its times "
                  "say nothing about speed, and no target is judged.", ""]
    else:
        if runs > 1:
            lines += [f"Each target's ratio is the median over {runs} whole runs, with the lowest "
                      "and highest in brackets; a target is met only if it was met in every run.", ""]
        lines += ["| target | ratio | met |", "| --- | ---: | --- |"]
        for t in out["targets"]:
            ratio = "–" if t["ratio"] is None else _target_ratio(t)
            met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
            of = f"`{t['numerator']}`" + (f" / `{t['denominator']}`" if t["denominator"] else "")
            lines.append(f"| {t['target']} ({of}) | {ratio} | {met} |")
    for w in out["workloads"]:
        lines += ["", f"### {_workload_line(w)}", ""]
        heads = _heads(w)
        lines.append("| " + " | ".join(heads) + " |")
        lines.append("| --- | " + " | ".join("---:" for _ in heads[1:]) + " |")
        for row in _rows(w):
            lines.append("| " + " | ".join(str(c) for c in row) + " |")
        notes = [f"`{r['key']}`: {r['note']}" for r in w["results"] if r["note"]]
        notes += [f"{k}: {why}" for k, why in w["skipped"].items()]
        notes += [f"**FAILED** `{f['key']}`: {f['error']}" for f in w["failures"]]
        if notes:
            lines += ["", "Notes: " + "; ".join(notes) + "."]
    return "\n".join(lines) + "\n"


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):  # keys starting with "_" are the run's own (paths of this machine)
        return {k: _clean(v) for k, v in x.items() if not (isinstance(k, str) and k.startswith("_"))}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def write_json(out: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(_clean(out), f, indent=1)
        f.write("\n")


def main(argv: list | None = None) -> None:
    """``python -m benchmarks.report RESULTS.json``: render a saved run again (table, Markdown, PNG)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.report", description=main.__doc__)
    p.add_argument("results", help="a JSON file written by python -m benchmarks --json")
    p.add_argument("--clock", choices=("wall", "cpu"), help="recompute the ratios on this clock")
    p.add_argument("--markdown", metavar="PATH")
    p.add_argument("--plot", metavar="PATH")
    args = p.parse_args(argv)
    with open(args.results) as f:
        out = json.load(f)
    derive(out, args.clock or out.get("clock", "wall"))
    print(terminal(out))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(out))
    if args.plot:
        from .plot import plot

        plot(out, args.plot)


if __name__ == "__main__":
    main()
