"""Compiled gradients: replayed programs against the engine and the hand-written floor.

Three measurements, each interleaved in one process so that machine load hits
every contender alike (medians of ``--repeat`` rounds; minima in brackets):

1. ``smallops`` (x a 16-element float64 vector; 100 times
   ``y = sin(y) * 1.01 + 0.1 * y``; value and gradient of ``sum(y)``):
   ``anyad.jit`` replay of the value and the gradient against a hand-written
   numpy forward + backward (target: replay at most 2x the numpy time per op),
   and against the eager engine (record + backward).
2. The same graph, recorded: its gradient by the engine (``backprop``) and
   by a :class:`anyad.GradientCache` hit.
3. The XOR program of python-autodiff's README (``examples/xor.py``): one
   training step (forward, ``Graph.gradient`` of four parameters, four
   ``assign``) with the Graph's gradient cache and with plain ``backprop``.

Per op means: divided by the 401 recorded forward operations of ``smallops``,
for every contender alike (the ratios do not depend on it).

Run: ``python benchmarks/compiled_replay.py [--repeat 30] [--steps 100] [--epochs 25]``
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import statistics
import time
import types

import numpy as np

import anyad as ad
from anyad.compile import GradientCache


def chain(x, steps):
    y = x
    for _ in range(steps):
        y = ad.sin(y) * 1.01 + 0.1 * y
    return ad.sum(y)


def numpy_forward_backward(x, steps):
    """The floor: the same value and gradient, written by hand with numpy."""
    ys = []
    y = x
    for _ in range(steps):
        ys.append(y)
        y = np.sin(y) * 1.01 + 0.1 * y
    value = y.sum()
    g = np.ones_like(y)
    for y in reversed(ys):
        g = g * (np.cos(y) * 1.01 + 0.1)
    return value, g


def eager(x, steps):
    v = ad.Variable(x, requires_grad=True)
    s = chain(v, steps)
    (g,) = ad.backprop([s], [None], [v])
    return s.value, g


def summary(wall: list, cpu: list) -> tuple:
    """(median wall time, minimum wall time, median CPU time)."""
    return statistics.median(wall), min(wall), statistics.median(cpu)


def interleaved(contenders: dict, repeat: int) -> dict:
    wall = {k: [] for k in contenders}
    cpu = {k: [] for k in contenders}
    for f in contenders.values():  # warm-up (and the trace of jit)
        f()
    for _ in range(repeat):
        for k, f in contenders.items():
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            cpu[k].append(time.process_time() - c0)
            wall[k].append(time.perf_counter() - t0)
    return {k: summary(wall[k], cpu[k]) for k in contenders}


def report(title: str, res: dict, per: float, unit: str, base: str) -> None:
    """Wall-time median [minimum], CPU-time median (the machine may be shared:
    CPU time leaves out the time other processes took), and the ratios of medians."""
    print(f"\n{title}")
    print(f"  {'':<34}{'wall median':>14} {'[min]':>10} {'CPU median':>12}   ratio wall / CPU")
    bw, bc = res[base][0], res[base][2]
    for k, (med, lo, c) in res.items():
        print(f"  {k:<34}{med / per * 1e6:9.2f} {unit} [{lo / per * 1e6:8.2f}] {c / per * 1e6:7.2f} {unit}"
              f"   x{med / bw:5.2f} / x{c / bc:5.2f}")
    print(f"  (ratios against {base})")


def smallops(args) -> dict:
    steps = args.steps
    ops = 4 * steps + 1
    x = np.linspace(-0.5, 1.0, 16)

    def vg(x):
        return ad.value_and_grad(lambda x: chain(x, steps))(x)

    compiled = ad.jit(vg)
    got, want = compiled(x), numpy_forward_backward(x, steps)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10)
    np.testing.assert_allclose(compiled(x + 0.1)[1], numpy_forward_backward(x + 0.1, steps)[1], rtol=1e-10)
    (entry,) = compiled._cache.values()
    res = interleaved({
        "numpy by hand (fwd + bwd)": lambda: numpy_forward_backward(x, steps),
        "anyad.jit replay (fwd + bwd)": lambda: compiled(x),
        "anyad eager (record + backprop)": lambda: eager(x, steps),
    }, args.repeat)
    report(f"1. smallops, value and gradient: {ops} forward ops; the program runs "
           f"{entry.program.n_kernels} kernels in {entry.program.n_slots} slots", res, ops, "us/op",
           "numpy by hand (fwd + bwd)")

    v = ad.Variable(x, requires_grad=True)
    s = chain(v, steps)
    cache = GradientCache()
    cache.gradient(s, [v])
    np.testing.assert_allclose(cache.gradient(s, [v])[0], want[1], rtol=1e-10)
    res2 = interleaved({
        "backprop (uncached)": lambda: ad.backprop([s], [None], [v]),
        "GradientCache hit": lambda: cache.gradient(s, [v]),
    }, args.repeat)
    report("2. smallops, the gradient of a recorded graph (per forward op)", res2, ops, "us/op",
           "backprop (uncached)")
    floor, replay = res["numpy by hand (fwd + bwd)"], res["anyad.jit replay (fwd + bwd)"]
    plain, hit = res2["backprop (uncached)"], res2["GradientCache hit"]
    return {"replay_over_numpy": (replay[0] / floor[0], replay[2] / floor[2]),
            "cached_over_uncached": (hit[0] / plain[0], hit[2] / plain[2])}


def _xor_program():
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "xor.py"
    spec = importlib.util.spec_from_file_location("xor_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.program


class UncachedGraph(getattr(ad, "Graph", object)):
    """``anyad.Graph`` with every first-order gradient taken by plain backprop."""

    def _first_order(self, dy, dxs, create_graph=False):
        return ad.backprop([dy], [None], dxs, create_graph=create_graph, retain_graph=True)


def xor(args) -> dict:
    program = _xor_program()
    cached = types.SimpleNamespace(Tensor=ad.Tensor, Graph=ad.Graph)  # Graph.gradient caches itself
    uncached = types.SimpleNamespace(Tensor=ad.Tensor, Graph=UncachedGraph)
    results = {}
    preds = {}
    libs = {"Graph (gradient cache)": cached, "Graph (plain backprop)": uncached}
    times = {k: [] for k in libs}
    cpu = {k: [] for k in libs}
    for r in range(args.repeat // 3 + 1):
        for k, lib in libs.items():
            np.random.seed(0)
            t0, c0 = time.perf_counter(), time.process_time()
            forward, X, _ = program(lib, args.epochs)
            cpu[k].append((time.process_time() - c0) / (4 * args.epochs))
            times[k].append((time.perf_counter() - t0) / (4 * args.epochs))
            preds[k] = [float(ad._backend.to_numpy(forward(x).value).item()) for x in X]
    a, b = preds.values()
    np.testing.assert_allclose(a, b, rtol=1e-9)
    for k in libs:
        results[k] = summary(times[k], cpu[k])
    report(f"3. XOR program, one training step ({args.epochs} epochs x 4 steps per run)", results, 1.0,
           "us/step", "Graph (plain backprop)")
    cached, plain = results["Graph (gradient cache)"], results["Graph (plain backprop)"]
    return {"xor_cached_over_uncached": (cached[0] / plain[0], cached[2] / plain[2])}


def _run(args) -> dict:
    ratios = smallops(args)
    if hasattr(ad, "Graph"):
        ratios.update(xor(args))
    return ratios


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=25)
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - an optional extra (bench)
        threadpool_limits = None
    if threadpool_limits is not None:  # one BLAS thread: the same work for every contender
        with threadpool_limits(1):
            ratios = _run(args)
    else:
        ratios = _run(args)
    print("\nratios of medians (wall / CPU):")
    labels = {"replay_over_numpy": "jit replay / numpy by hand, smallops (target <= 2)",
              "cached_over_uncached": "GradientCache hit / backprop, smallops",
              "xor_cached_over_uncached": "Graph cached / uncached, XOR step"}
    for k, (w, c) in ratios.items():
        print(f"  {labels[k]:<52} {w:5.2f} / {c:5.2f}")
    return ratios


if __name__ == "__main__":
    main()
