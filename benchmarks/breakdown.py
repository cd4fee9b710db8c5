"""``python -m benchmarks.breakdown``: where anyad's time goes, in numbers that a
loaded machine disturbs little.

Every figure is the minimum over repeats of the CPU time of the calling thread
(``time.thread_time``), with one thread for every library, so other processes
on a shared machine change it much less than the wall time. Three tables:

1. per recorded op, on ``smallops`` and ``deep``: the numpy forward kernels
   alone; anyad's forward (kernels + recording); its backprop, and within it the
   topological walk; the compiled replay (the same forward and backward kernels
   with no graph); the hand-written floor;
2. on the matmul workloads: CPU time and minor page faults per step of the
   floor, anyad's core path and the compiled replay (a fault is a page of
   fresh memory the kernel must zero: the cost of memory that the allocator
   gave back to the system and takes again);
3. on ``hvp``: the ways to a Hessian-vector product, and their matmul count.

Run it before and after a change to the engine; ``python -m benchmarks`` is
the measurement of record.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import time
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _best(f: Callable, n: int, prep: Callable | None = None) -> tuple[float, int]:
    """Minimum thread CPU time of ``f`` over ``n`` calls, and the median minor faults per call."""
    ts, faults = [], []
    for _ in range(n):
        a = prep() if prep else None
        gc.collect()
        r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.thread_time()
        r = f(a) if prep else f()
        ts.append(time.thread_time() - t0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
        del r, a
    faults.sort()
    return min(ts), faults[len(faults) // 2]


def per_op(name: str, n: int) -> list:
    import numpy as np

    import anyad as ad
    from anyad import graph

    from .peers import anyad_impl, anyad_jit
    from .workloads import get

    w = get(name)
    d = w.make_data()
    ops = w.ops(d.dims)
    steps = d.dims["steps"]
    x0 = d.params[0]
    x = ad.Variable(x0, requires_grad=True)
    f = anyad_impl.LOSSES[name]({}, d.dims)
    if name == "smallops":
        def kernels():
            y = x0
            for _ in range(steps):
                y = np.sin(y) * 1.01 + 0.1 * y
            return y.sum()
    else:
        def kernels():
            y = x0
            for _ in range(steps):
                y = y * 1.0001 + 0.0001
            return y.sum()
    rows = [("numpy forward kernels alone", _best(kernels, n)[0]),
            ("anyad forward (kernels + recording)", _best(lambda: f(x), n)[0]),
            ("anyad backprop", _best(lambda y: ad.backprop([y], [None], [x], retain_graph=False), n,
                                     prep=lambda: f(x))[0])]
    rows.append(("  of which the topological walk",
                 _best(lambda y: graph.toposort([graph.vertex(y)], {x}), n, prep=lambda: f(x))[0]))
    if hasattr(ad, "jit"):
        jit = anyad_jit.jit_value_and_grad(name, d, lambda a: a)
        jit()
        rows.append(("anyad jit replay (forward + backward kernels)", _best(jit, n)[0]))
    rows.append(("floor (hand-written forward + backward)", _best(lambda: w.reference(np, d), n)[0]))
    return [(f"{name}: {k}", f"{t / ops * 1e6:.2f} us/op") for k, t in rows]


def page_faults(name: str, n: int) -> list:
    import numpy as np

    import anyad as ad

    from .peers import anyad_impl, anyad_jit
    from .workloads import get

    w = get(name)
    d = w.make_data()
    impls = {"floor": lambda: w.reference(np, d),
             "anyad backprop": anyad_impl._backprop_builder(name)(d, lambda a: a)}
    if hasattr(ad, "jit"):
        impls["anyad jit"] = anyad_jit.jit_value_and_grad(name, d, lambda a: a)
    out = []
    for k, f in impls.items():
        f()
        f()
        t, faults = _best(f, n)
        out.append((f"{name}: {k}", f"{t * 1e3:.1f} ms CPU, {faults} minor page faults per step"))
    return out


def hvp(n: int) -> list:
    import numpy as np

    import anyad as ad
    from anyad._backend import namespace_of

    from .peers import anyad_impl, anyad_jit
    from .workloads import get

    w = get("hvp")
    d = w.make_data()
    ns = namespace_of(d.consts["A"])
    calls = [0]
    orig = ns.matmul

    def counting(*a: Any, **k: Any) -> Any:
        calls[0] += 1
        return orig(*a, **k)

    impls = {"floor": lambda: w.reference(np, d),
             "anyad backprop (reverse over reverse)": anyad_impl.backprop_hvp(d, lambda a: a)}
    if hasattr(ad, "hvp"):
        impls["anyad.hvp (forward over reverse)"] = anyad_impl.functional_hvp(d, lambda a: a)
    if hasattr(ad, "jit"):
        impls["anyad jit of anyad.hvp"] = anyad_jit.jit_hvp(d, lambda a: a)
    out = []
    for k, f in impls.items():
        f()
        ns.matmul = counting
        calls[0] = 0
        f()
        count = calls[0]
        ns.matmul = orig
        t, _ = _best(f, n)
        if k == "floor":
            label = "3 by hand"
        elif "jit" in k:
            label = "not counted (the replay binds its kernels when it compiles)"
        else:
            label = f"{count} through anyad"
        out.append((f"hvp: {k}", f"{t * 1e3:.3f} ms CPU, matmuls: {label}"))
    return out


def main(argv: list | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.breakdown", description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=30, help="repeats of the small workloads (default 30)")
    args = p.parse_args(argv)
    n = args.repeat
    rows = per_op("smallops", n) + per_op("deep", max(3, n // 10))
    for name in ("mlp", "matmul_chain", "attention"):
        rows += page_faults(name, max(3, n // 5))
    rows += hvp(n)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
