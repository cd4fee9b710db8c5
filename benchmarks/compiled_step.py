"""A compiled training step (``anyad.optim.compile_step``) against the eager loop.

The model of ``examples/train_digits.py`` (MLP 64-128-128-10, ReLU, dropout
0.2, float32, Adam, batches of 64 with integer labels), on random data of
the digits' shape. One step is forward, cross-entropy, backward and the
optimizer's update; the eager step is ``zero_grad``, ``backward``, ``step``.
Both run in one process, interleaved in rounds of ``--steps`` steps (median
over ``--repeat`` rounds, minimum in brackets), so load hits both alike; the
two models start equal and stay equal (checked at the end).

Run: ``python benchmarks/compiled_step.py [--repeat 15] [--steps 50] [--threads 1]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    import anyad as ad
    from anyad import nn, optim
    from anyad.nn import functional as F

    gen = np.random.default_rng(0)
    n_batches = 8
    xs = [gen.normal(size=(args.batch, 64)).astype(np.float32) for _ in range(n_batches)]
    ys = [gen.integers(0, 10, size=args.batch) for _ in range(n_batches)]

    def build():
        model = nn.MLP([64, 128, 128, 10], activation="relu", dropout=args.dropout, rng=0, dtype="float32")
        return model, optim.Adam(model.parameters(), lr=1e-3)

    m_eager, o_eager = build()
    m_comp, o_comp = build()

    def eager_step(x, y):
        loss = F.cross_entropy(m_eager(x), y)
        o_eager.zero_grad()
        loss.backward()
        o_eager.step()
        return loss

    step = optim.compile_step(lambda x, y: F.cross_entropy(m_comp(x), y), o_comp, model=m_comp)

    def run(fn, k):
        t0 = time.perf_counter()
        for i in range(args.steps):
            fn(xs[(k + i) % n_batches], ys[(k + i) % n_batches])
        return (time.perf_counter() - t0) / args.steps

    for _ in range(3):  # warm up (and trace)
        run(eager_step, 0)
        run(step, 0)
    times: dict = {"eager": [], "compiled": []}
    for r in range(args.repeat):
        order = [("eager", eager_step), ("compiled", step)]
        if r % 2:
            order.reverse()
        for name, fn in order:
            times[name].append(run(fn, r))
    for p, q in zip(m_eager.parameters(), m_comp.parameters()):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-4, atol=1e-5)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"MLP 64-128-128-10, dropout {args.dropout}, float32, Adam, batch {args.batch}, "
          f"{args.threads} BLAS thread(s), {args.repeat} rounds of {args.steps} steps, one process")
    for k, v in times.items():
        print(f"  {k:9s} {1e6 * med[k]:8.1f} us/step  (min {1e6 * min(v):.1f})")
    print(f"  compiled / eager: {med['compiled'] / med['eager']:.3f}  (traces: {step.traces})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
