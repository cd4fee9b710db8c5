"""anyad compiled replay (``anyad.jit``), when the installed anyad has it.

``anyad.jit(anyad.value_and_grad(f, argnums=all))`` traces the forward and the
backward once per input signature, then replays the flat program of kernel
calls (no Variable, no graph). The first (checking) step traces; the timed
steps replay.
"""

from __future__ import annotations

from typing import Callable

import anyad as ad

from . import Impl
from .anyad_impl import LOSSES, LR, _consts, _xor_data, hvp_f, to_numpy, xor_error


def jit_value_and_grad(name: str, data, conv) -> Callable:
    f = LOSSES[name](_consts(data, conv), data.dims)
    params = [conv(p) for p in data.params]
    vg = ad.jit(ad.value_and_grad(f, argnums=tuple(range(len(params)))))

    def step():
        value, grads = vg(*params)
        return [value, *grads]

    return step


def jit_hvp(data, conv) -> Callable:
    c = _consts(data, conv)
    f = hvp_f(c)
    h = ad.jit(lambda x, v: ad.hvp(f, x, v))
    x, v = conv(data.params[0]), c["v"]
    return lambda: [h(x, v)]


def jit_xor(data, conv) -> Callable:
    init, X, Y, epochs = _xor_data(data, conv)
    g = ad.grad(xor_error, argnums=(0, 1, 2, 3))

    @ad.jit
    def update(W1, B1, W2, B2, x, y):
        ps = (W1, B1, W2, B2)
        return [p - LR * gp for p, gp in zip(ps, g(*ps, x, y))]

    def step():
        ps = init
        for _ in range(epochs):
            for x, y in zip(X, Y):
                ps = update(*ps, x, y)
        return ps

    return step


def implementations(workload, backend, conv, device, timed):
    if not hasattr(ad, "jit"):
        return []
    name = workload.name
    if name == "hvp":
        build = jit_hvp
    elif name == "xor":
        build = jit_xor
    else:
        def build(data, conv, name=name):
            return jit_value_and_grad(name, data, conv)
    note = {"hvp": "anyad.jit(lambda x, v: anyad.hvp(f, x, v))",
            "xor": "anyad.jit of the per-sample update"}.get(name, "anyad.jit(anyad.value_and_grad(f))")
    return [Impl("anyad jit", backend, (lambda data, b=build, c=conv: b(data, c)), to_numpy, timed=timed,
                 device=device, note=note if timed else "correctness only")]
