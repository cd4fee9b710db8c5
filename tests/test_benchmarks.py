"""The benchmark harness (``python -m benchmarks``): the --quick run end to end,
and the correctness gate that stops a wrong implementation from being timed.

No timing is asserted anywhere: only that every implementation ran, matched the
hand-written reference, and was reported completely.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("mlp", "matmul_chain", "attention", "cnn", "transformer", "smallops", "hvp", "deep", "xor",
             "per_sample_grads", "jacobian")
#: the transform workloads: their implementations are the batched transforms and the loops they replace
TRANSFORMS = {"per_sample_grads": ({"anyad vmap", "anyad vmap functional_call", "anyad loop"},
                                   {"torch.func vmap", "torch loop"}),
              "jacobian": ({"anyad jacrev", "anyad jacfwd", "anyad vjp loop"},
                           {"torch.func jacrev", "torch.func jacfwd"})}

pytest.importorskip("threadpoolctl")


def _installed(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    paths = {"json": out / "bench.json", "plot": out / "bench.png", "markdown": out / "bench.md"}
    cmd = [sys.executable, "-m", "benchmarks", "--quick"] + [
        a for k, p in paths.items() for a in (f"--{k}", str(p))]
    if not _installed("matplotlib"):
        cmd = cmd[:-4] + cmd[-2:]  # no --plot
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return proc, paths


def test_quick_run_passes_and_reports_every_workload(quick_run):
    proc, paths = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(paths["json"].read_text())
    assert [w["workload"] for w in report["workloads"]] == list(WORKLOADS)
    for w in WORKLOADS:
        assert f"\n{w}: " in proc.stdout  # a table per workload
    assert "smoke run (--quick)" in proc.stdout  # labelled as such, and no target judged
    assert "NOT met" not in proc.stdout and "  met" not in proc.stdout


def test_every_implementation_matched_the_reference(quick_run):
    _, paths = quick_run
    report = json.loads(paths["json"].read_text())
    for w in report["workloads"]:
        assert w["failures"] == []
        tol = 2e-4 if w["dtype"] == "float32" else 1e-8
        for r in w["results"]:
            assert r["checked"] is True, (w["workload"], r["key"])
            assert 0.0 <= r["max_error"] <= tol, (w["workload"], r["key"], r["max_error"])


def test_every_present_implementation_ran(quick_run):
    _, paths = quick_run
    report = json.loads(paths["json"].read_text())
    expected = {"floor (hand-written) [numpy]", "anyad eager [numpy]"}
    if _installed("torch"):
        expected |= {"torch eager [torch]", "anyad eager [torch]"}
    if _installed("array_api_strict"):
        expected.add("anyad eager [array_api_strict]")
    if _installed("autograd"):
        expected.add("autograd (HIPS) [numpy]")
    if _installed("jax"):
        expected.add("jax jit [jax]")
    import anyad

    if hasattr(anyad, "jit"):
        expected.add("anyad jit [numpy]")
    for w in report["workloads"]:
        keys = {r["key"] for r in w["results"]}
        if w["workload"] in TRANSFORMS:
            continue
        here = expected - ({"autograd (HIPS) [numpy]"} if w["workload"] == "cnn" else set())  # no convolution
        assert here <= keys, (w["workload"], here - keys)
    for name, (anyad_names, torch_names) in TRANSFORMS.items():
        w = next(w for w in report["workloads"] if w["workload"] == name)
        keys = {r["key"] for r in w["results"]}
        here = {"floor (hand-written) [numpy]"} | {f"{n} [numpy]" for n in anyad_names}
        if _installed("array_api_strict"):
            here.add(f"{'anyad vmap' if name == 'per_sample_grads' else 'anyad jacrev'} [array_api_strict]")
        if hasattr(anyad, "jit"):
            here.add(f"{'anyad jit vmap' if name == 'per_sample_grads' else 'anyad jit jacrev'} [numpy]")
        if _installed("torch"):
            here |= {f"{n} [torch]" for n in torch_names}
        if _installed("jax"):
            here.add("jax jit [jax]")
        assert here <= keys, (name, here - keys)
    xor = next(w for w in report["workloads"] if w["workload"] == "xor")
    if _installed("autodiff"):
        assert "python-autodiff [numpy]" in {r["key"] for r in xor["results"]}


def test_json_is_complete(quick_run):
    _, paths = quick_run
    report = json.loads(paths["json"].read_text())
    m = report["machine"]
    for key in ("cpu", "logical_cpus", "threads", "blas", "libraries", "python", "anyad", "date"):
        assert key in m, key
    assert m["threads"] == 2
    assert "numpy" in m["libraries"]
    assert any(b.get("user_api") == "blas" for b in m["blas"])
    assert report["config"]["quick"] is True
    for w in report["workloads"]:
        assert w["metric"] in ("gflops", "us_per_op", "us_per_step")
        assert (w["flops"] or 0) > 0 or (w["ops"] or 0) > 0 or (w["units"] or 0) > 0
        floor = next(r for r in w["results"] if r["key"] == "floor (hand-written) [numpy]")
        assert floor["ratio_to_floor"] == pytest.approx(1.0)
        for r in w["results"]:
            if not r["timed"]:
                assert r["times_s"] == []
                continue
            assert r["repeats"] == 1 and len(r["times_s"]) == 1
            assert r["min_s"] <= r["median_s"] <= r["max_s"] and r["median_s"] > 0
            assert r["cpu_median_s"] is not None and r["cpu_median_s"] >= 0
            assert r["ratio_to_floor"] > 0
            rate = {"gflops": "gflops", "us_per_op": "us_per_op", "us_per_step": "us_per_step"}[w["metric"]]
            assert r[rate] > 0
            assert isinstance(r["peak_bytes"], int) and r["peak_bytes"] >= 0, (w["workload"], r["key"])
            assert r["memory_method"]
    from benchmarks.report import TARGETS

    assert len(report["targets"]) == len(TARGETS)
    for t in report["targets"]:
        assert t["ratio"] is None or t["ratio"] > 0


def test_plot_and_markdown_are_written(quick_run):
    _, paths = quick_run
    md = paths["markdown"].read_text()
    for w in WORKLOADS:
        assert f"### {w}: quick sizes: " in md  # the headings show the sizes that ran
    assert "smoke run" in md and "| target |" not in md
    if _installed("matplotlib"):
        assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_transform_targets_name_implementations_that_exist():
    """The vmap and Jacobian targets compare keys the peers really produce (a
    misspelt key would leave a target "not measured" for ever)."""
    pytest.importorskip("torch")
    from benchmarks.harness import implementations_for
    from benchmarks.report import TARGETS
    from benchmarks.workloads import get

    checked = 0
    for wname, num, den, *_ in TARGETS:
        if wname not in TRANSFORMS:
            continue
        impls, _ = implementations_for(get(wname), {"numpy", "torch"}, None)
        keys = {i.key for i in impls}
        assert num in keys and den in keys, (wname, num, den, keys)
        checked += 1
    assert checked == 4


# -- the correctness gate ------------------------------------------------------


def test_check_outputs_rejects_a_wrong_gradient():
    from benchmarks.check import GradientMismatch, check_outputs
    from benchmarks.workloads import get

    w = get("smallops")
    data = w.make_data(quick=True)
    ref = w.reference(np, data)
    assert check_outputs(w, "ref", ref, ref) == 0.0
    wrong = [ref[0], ref[1] * (1 + 1e-3)]
    with pytest.raises(GradientMismatch, match="dx differs from the hand-written reference"):
        check_outputs(w, "wrong", wrong, ref)
    with pytest.raises(GradientMismatch, match="dtype float32, expected float64"):
        check_outputs(w, "f32", [r.astype(np.float32) for r in ref], ref)
    with pytest.raises(GradientMismatch, match="shape"):
        check_outputs(w, "shape", [ref[0], ref[1][:3]], ref)
    with pytest.raises(GradientMismatch, match="returned 1 outputs"):
        check_outputs(w, "short", ref[:1], ref)


def test_a_wrong_implementation_fails_the_run(monkeypatch, capsys, tmp_path):
    """A broken implementation is reported, not timed, and the run exits with 1."""
    import anyad as ad
    from benchmarks import harness, machine
    from benchmarks.peers import anyad_impl

    def wrong_smallops(c, dims):
        def f(x):
            y = x
            for _ in range(dims["steps"]):
                y = ad.cos(y) * 1.01 + 0.1 * y  # cos, not sin: wrong value and gradient
            return ad.sum(y)
        return f

    monkeypatch.setitem(anyad_impl.LOSSES, "smallops", wrong_smallops)
    monkeypatch.setattr(machine, "limit_threads", lambda n: None)
    monkeypatch.setattr(machine, "apply_library_threads", lambda n: {})
    path = tmp_path / "out.json"
    rc = harness.main(["--quick", "-w", "smallops", "-b", "numpy", "-i", "anyad eager", "--memory", "off",
                       "--json", str(path)])
    captured = capsys.readouterr()
    assert rc == 1
    assert "FAILED: benchmarks: smallops / anyad eager [numpy]: output value differs" in captured.err
    (w,) = json.loads(path.read_text())["workloads"]
    assert [f["key"] for f in w["failures"]] == ["anyad eager [numpy]"]
    assert [r["key"] for r in w["results"]] == ["floor (hand-written) [numpy]"]  # the wrong one is not timed


# -- a process per implementation ----------------------------------------------


def _bench(args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", *args, "--json", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


def test_each_implementation_runs_in_a_process_of_its_own(tmp_path):
    """--isolation process: a worker per implementation, steps interleaved; an
    implementation of a --peer-python module is discovered and run by that
    interpreter (here the same one, under its module name)."""
    proc, report = _bench(["--quick", "--isolation", "process", "-w", "smallops", "-i", "anyad eager",
                           "-b", "numpy", "--repeat", "3", "--repeat-runs", "2",
                           "--peer-python", f"anyad_impl={sys.executable}"], tmp_path)
    (w,) = report["workloads"]
    assert w["isolation"] == "process" and w["failures"] == []
    timed = [r for r in w["results"] if r["timed"]]
    assert {r["key"] for r in timed} == {"floor (hand-written) [numpy]", "anyad eager [numpy]"}
    pids = {r["pid"] for r in timed}
    assert len(pids) == 2 and os.getpid() not in pids
    for r in timed:
        assert r["repeats"] == 3 and r["threads_set"]["env"]["OMP_NUM_THREADS"] == "2"
    assert report["config"]["peer_python"] == ["anyad_impl"]
    assert report["repeat_runs"] == 2 and len(report["runs"]) == 2
    assert "=== run 2 of 2" in proc.stdout


def test_repeat_runs_report_the_spread_and_meet_a_target_only_in_every_run():
    from benchmarks.report import combine

    def run(ratio):
        return {"targets": [{"target": "t", "at_most": 1.0, "ratio": ratio, "met": ratio <= 1.0}],
                "elapsed_s": 1.0}

    out = combine([run(0.9), run(1.2), run(0.8)])
    (t,) = out["targets"]
    assert t["ratio"] == 0.9 and t["spread"] == [0.8, 1.2] and t["ratios"] == [0.9, 1.2, 0.8]
    assert t["met"] is False
    assert combine([run(0.9), run(0.7)])["targets"][0]["met"] is True
