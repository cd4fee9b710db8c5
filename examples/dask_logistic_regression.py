"""Logistic regression by full-batch gradient descent on data larger than memory, with dask.

The rows are generated lazily, chunk by chunk (a seeded numpy generator per
chunk), so the data set never exists as a whole: each iteration streams it
through the workers. anyad differentiates the loss over the dask arrays
(``anyad.value_and_grad``); forward and backward are one lazy task graph, and
only the loss and the 17 gradient entries come back to the client.

Run on a local cluster (2 worker processes, a progress bar per iteration):

    python examples/dask_logistic_regression.py --rows 20000000 --iterations 3

on an existing multi-machine cluster (anyad and dask installed on every worker):

    python examples/dask_logistic_regression.py --scheduler tcp://10.0.0.5:8786

and the in-memory numpy version of the same algorithm on the same rows (``--persist``
keeps the rows in the workers' memory instead of generating them again each
iteration, when they fit):

    python examples/dask_logistic_regression.py --numpy --rows 2000000

Peak memory is reported for the client and each worker (each process's peak
resident set), and, on a local cluster, as the peak of their sum sampled every
50 ms; time per iteration is wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time

import numpy as np

import anyad as ad

FEATURES = 16


def make_block(block: int, rows: int, features: int, seed: int) -> np.ndarray:
    """Rows of one chunk: ``features`` standard normal columns, then a label in {-1, 1}
    drawn from a logistic model with known weights (``w = linspace(-1, 1)``, ``b = 0.5``)."""
    rng = np.random.default_rng([seed, block])
    x = rng.standard_normal((rows, features), dtype=np.float32)
    w_true = np.linspace(-1.0, 1.0, features, dtype=np.float32)
    logits = x @ w_true + np.float32(0.5) + rng.logistic(size=rows).astype(np.float32)
    y = np.where(logits > 0, np.float32(1.0), np.float32(-1.0))
    return np.concatenate([x, y[:, None]], axis=1)


def _chunks(rows: int, chunk_rows: int) -> list:
    return [min(chunk_rows, rows - start) for start in range(0, rows, chunk_rows)]


def dask_data(rows: int, chunk_rows: int, features: int = FEATURES, seed: int = 0):
    """``(X, y)`` as lazy dask arrays: nothing is generated until a compute."""
    import dask.array as da

    sizes = _chunks(rows, chunk_rows)

    def block(block_info=None):
        i = block_info[None]["chunk-location"][0]
        return make_block(i, sizes[i], features, seed)

    data = da.map_blocks(block, chunks=(tuple(sizes), (features + 1,)), dtype=np.float32,
                         meta=np.empty((0, 0), np.float32))
    return data[:, :features], data[:, features]


def numpy_data(rows: int, chunk_rows: int, features: int = FEATURES, seed: int = 0):
    """The same rows as :func:`dask_data`, made in memory."""
    data = np.empty((rows, features + 1), np.float32)
    start = 0
    for i, n in enumerate(_chunks(rows, chunk_rows)):
        data[start:start + n] = make_block(i, n, features, seed)
        start += n
    return data[:, :features], data[:, features]


def loss(w, b, X, y):
    """Mean logistic loss ``log(1 + exp(-y (X w + b)))``, stable for any margin."""
    t = -y * (X @ w + b)
    return ad.mean(ad.maximum(t, 0.0) + ad.log1p(ad.exp(-ad.abs(t))))


value_and_gradient = ad.value_and_grad(loss, argnums=(0, 1))


class PeakRSS:
    """Samples the resident set of this process and its children (the local
    workers) every ``interval`` seconds; ``peak`` is the largest sum seen."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:  # a process that just ended
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def max_rss_bytes() -> int:
    """This process's peak resident set (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if os.uname().sysname == "Darwin" else peak * 1024


def current_rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def run_numpy(args: argparse.Namespace) -> np.ndarray:
    before = max_rss_bytes()
    t0 = time.perf_counter()
    X, y = numpy_data(args.rows, args.chunk_rows, seed=args.seed)
    print(f"numpy: made {args.rows:,} x {FEATURES} float32 rows ({mib(X.nbytes + y.nbytes)}) "
          f"in {time.perf_counter() - t0:.1f} s")
    w, b = np.zeros(FEATURES, np.float32), np.zeros((), np.float32)
    times = []
    for it in range(args.iterations):
        t0 = time.perf_counter()
        value, (gw, gb) = value_and_gradient(w, b, X, y)
        w, b = w - args.lr * gw, b - args.lr * gb
        times.append(time.perf_counter() - t0)
        print(f"iteration {it + 1}: loss {float(value):.6f}  ({times[-1]:.2f} s)")
    later = f", {np.mean(times[1:]):.2f} s after the first" if len(times) > 1 else ""
    print(f"numpy: {np.mean(times):.2f} s per iteration (mean of {len(times)}{later}); peak memory "
          f"{mib(max_rss_bytes())} (process peak resident set; {mib(before)} before the data)")
    return np.append(w, b)


def run_dask(args: argparse.Namespace) -> np.ndarray:
    import dask.array as da
    from dask.distributed import Client, LocalCluster, progress

    if args.scheduler:
        cluster = None
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker,
                               memory_limit=args.memory_limit, dashboard_address=":0")
        client = Client(cluster)
    print(f"dask: {client} (dashboard: {client.dashboard_link})")
    X, y = dask_data(args.rows, args.chunk_rows, seed=args.seed)
    print(f"dask: {args.rows:,} x {FEATURES} float32 rows ({mib(X.nbytes + y.nbytes)}), "
          f"{X.numblocks[0]} chunks of up to {args.chunk_rows:,} rows, generated lazily")
    idle = client.run(current_rss_bytes)
    print("dask: workers' resident sets before the first iteration: " + ", ".join(mib(v) for v in idle.values()))
    if args.persist:  # when the data fits in the cluster's memory: generate it once
        X, y = client.persist([X, y])
    w, b = np.zeros(FEATURES, np.float32), np.zeros((), np.float32)
    times, build = [], []
    sampler = PeakRSS() if cluster is not None else None
    if sampler is not None:
        sampler.__enter__()
    try:
        for it in range(args.iterations):
            t0 = time.perf_counter()
            # forward and backward: a task graph, nothing computed yet
            value, (gw, gb) = value_and_gradient(da.from_array(w), da.from_array(b), X, y)
            t1 = time.perf_counter()
            futures = client.compute([value, gw, gb])
            if args.progress:
                progress(futures)
                print()
            value, gw, gb = client.gather(futures)
            w, b = w - args.lr * gw, b - args.lr * gb
            build.append(t1 - t0)
            times.append(time.perf_counter() - t0)
            print(f"iteration {it + 1}: loss {float(value):.6f}  ({times[-1]:.2f} s, "
                  f"graph built in {build[-1] * 1e3:.0f} ms)")
        workers = client.run(max_rss_bytes)
    finally:
        if sampler is not None:
            sampler.__exit__(None, None, None)
        client.close()
        if cluster is not None:
            cluster.close()
    later = f", {np.mean(times[1:]):.2f} s after the first" if len(times) > 1 else ""
    print(f"dask: {np.mean(times):.2f} s per iteration (mean of {len(times)}{later}; graph building "
          f"{np.mean(build) * 1e3:.0f} ms of it)")
    print("dask: peak memory: client " + mib(max_rss_bytes()) + "; workers "
          + ", ".join(mib(v) for v in workers.values())
          + f" (sum {mib(max_rss_bytes() + sum(workers.values()))})")
    if sampler is not None:
        print(f"dask: peak of client + workers together (sampled): {mib(sampler.peak)}; "
              f"the data set is {mib(X.nbytes + y.nbytes)}")
    return np.append(w, b)


def main(argv: list | None = None) -> np.ndarray:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=20_000_000)
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--chunk-rows", type=int, default=500_000)
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scheduler", help="address of a running dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    p.add_argument("--threads-per-worker", type=int, default=1)
    p.add_argument("--memory-limit", default="2GiB", help="per LocalCluster worker")
    p.add_argument("--numpy", action="store_true", help="run the in-memory numpy version instead")
    p.add_argument("--persist", action="store_true",
                   help="keep the generated rows in the workers' memory (only when they fit)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar per iteration (default: when the output is a terminal)")
    args = p.parse_args(argv)
    if args.progress is None:
        args.progress = sys.stdout.isatty()
    wb = run_numpy(args) if args.numpy else run_dask(args)
    print("w =", np.array2string(wb[:-1], precision=3), " b =", f"{wb[-1]:.3f}")
    return wb


if __name__ == "__main__":
    main()
