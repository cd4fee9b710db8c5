"""Cost of forward mode: ``anyad.jvp`` time over the plain forward pass, beside
reverse mode and the double-VJP construction of a JVP, and torch.func for scale.

anyad's ``jvp`` records the forward pass (as reverse mode does) and then pushes
the tangent through the recorded operations with per-primitive JVP rules
(:mod:`anyad.forward`). The double-VJP construction (``J t`` as the VJP of the
linear map ``u -> J^T u``) is timed as the alternative it replaced.

Workloads (numpy, float64, fixed seeds):

* ``smallops``: x a 16-element vector, 100 times ``y = sin(y) * 1.01 + 0.1 * y``
  (overhead-bound: 401 operations on tiny arrays);
* ``elementwise``: the same chain, 20 steps, on 200,000 elements (kernel-bound);
* ``mlp``: ``tanh(W3 @ tanh(W2 @ tanh(W1 @ X)))``, 256x256 weights, X 256x128.

Reported: the best and the median milliseconds over repeats (interleaved;
on a shared, loaded machine the best is the steadier figure), and the ratio of
the best times to the plain forward pass (anyad functions on raw arrays, no
recording; torch rows: torch's forward under no_grad).

Run: ``python -m benchmarks.forward_mode_cost [--repeat 15] [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import anyad as ad


def _chain(steps):
    def f(x):
        y = x
        for _ in range(steps):
            y = ad.sin(y) * 1.01 + 0.1 * y
        return y

    return f


def _mlp(ws):
    def f(x):
        h = x
        for w in ws:
            h = ad.tanh(ad.matmul(w, h))
        return h

    return f


def _torch_chain(steps):
    import torch

    def f(x):
        y = x
        for _ in range(steps):
            y = torch.sin(y) * 1.01 + 0.1 * y
        return y

    return f


def _torch_mlp(ws):
    import torch

    tws = [torch.as_tensor(w) for w in ws]

    def f(x):
        h = x
        for w in tws:
            h = torch.tanh(w @ h)
        return h

    return f


def workloads(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    n_el = 20_000 if quick else 200_000
    d = 64 if quick else 256
    ws = [rng.normal(size=(d, d)) / np.sqrt(d) for _ in range(3)]
    return {
        "smallops": (_chain(100), _torch_chain(100), np.linspace(-1.0, 1.0, 16)),
        "elementwise": (_chain(20), _torch_chain(20), rng.uniform(-1, 1, size=n_el)),
        "mlp": (_mlp(ws), _torch_mlp(ws), rng.normal(size=(d, d // 2))),
    }


def double_vjp_jvp(f, x, t):
    """J t as the VJP of the linear map u -> J^T u (two reverse passes)."""
    out, f_vjp = ad.vjp(f, x)
    _, back = ad.vjp(lambda u: f_vjp(u)[0], np.zeros_like(out))
    return out, back(t)[0]


def methods(f, x, t):
    ct = np.random.default_rng(1).normal(size=f(x).shape)

    def reverse():
        out, f_vjp = ad.vjp(f, x)
        return f_vjp(ct)

    def recorded():
        return f(ad.Variable(x, requires_grad=True))

    return {
        "forward": lambda: f(x),
        "recorded forward": recorded,
        "jvp": lambda: ad.jvp(f, (x,), (t,)),
        "double-vjp jvp": lambda: double_vjp_jvp(f, x, t),
        "reverse (vjp)": reverse,
    }


def torch_methods(tf, x, t):
    import torch
    from torch import func

    tx, tt = torch.as_tensor(x), torch.as_tensor(t)

    def fwd():
        with torch.no_grad():
            return tf(tx)

    return {"torch forward": fwd, "torch.func.jvp": lambda: func.jvp(tf, (tx,), (tt,))}


def check(f, x, t) -> None:
    """jvp, the double-VJP construction and reverse-mode Jacobian agree (small case)."""
    _, a = ad.jvp(f, (x,), (t,))
    _, b = double_vjp_jvp(f, x, t)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
        have_torch = True
    except ImportError:
        have_torch = False
    try:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(1)
    except ImportError:
        limits = None
    print(f"numpy {np.__version__}; BLAS and torch limited to 1 thread"
          + ("" if limits is not None else " (threadpoolctl absent: BLAS threads not limited)"))
    rows = []
    for name, (f, tf, x) in workloads(args.quick).items():
        t = np.random.default_rng(2).normal(size=x.shape)
        check(f, x, t)
        impls = methods(f, x, t)
        if have_torch:
            impls.update(torch_methods(tf, x, t))
        times: dict = {k: [] for k in impls}
        for _ in range(2):
            for fn in impls.values():
                fn()
        for _ in range(args.repeat):
            for k, fn in impls.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        best = {k: min(v) * 1e3 for k, v in times.items()}
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        rows.append((name, best, med))
    print(f"{'workload':<13}{'method':<18}{'best ms':>10}{'median ms':>11}{'x forward':>11}")
    for name, best, med in rows:
        for k, ms in best.items():
            base = best["torch forward"] if k.startswith("torch") else best["forward"]
            print(f"{name:<13}{k:<18}{ms:>10.3f}{med[k]:>11.3f}{ms / base:>11.2f}")
    print("x forward: best time over the best plain forward (anyad rows: anyad's; torch rows: torch's)")


if __name__ == "__main__":
    main()
