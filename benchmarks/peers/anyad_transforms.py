"""anyad on the transform workloads (``per_sample_grads``, ``jacobian``): the
batched transforms (``vmap(grad)``, ``jacrev``, ``jacfwd``, and ``jit`` of them)
beside the Python loops they replace (``grad`` per example, ``vjp`` per row).

The batched forms run on every backend present (array_api_strict checked only);
the loops and the variants on NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable

from array_api_compat import array_namespace

import anyad as ad

from . import Impl
from .anyad_impl import _consts, _Lazy, available_backends, to_numpy

WORKLOADS = ("per_sample_grads", "jacobian")
STRICT_NOTE = "correctness only: array_api_strict is a reference library"


# --------------------------------------------------------------------------
# per_sample_grads: the loss of one example
# --------------------------------------------------------------------------

def example_loss(W1, b1, W2, b2, x, y):
    """Cross-entropy of one example (``x`` of n_in, ``y`` one-hot of n_out)."""
    z = ad.matmul(W2, ad.tanh(ad.matmul(W1, x) + b1)) + b2
    return ad.logsumexp(z) - ad.sum(y * z)


def _psg_args(data, conv) -> tuple:
    c = _consts(data, conv)
    return [conv(p) for p in data.params], c["X"], c["Y"]


def psg_vmap(data, conv) -> Callable:
    params, X, Y = _psg_args(data, conv)
    f = ad.vmap(ad.grad(example_loss, argnums=(0, 1, 2, 3)), in_axes=(None,) * 4 + (0, 0))
    return lambda: list(f(*params, X, Y))


def psg_jit(data, conv) -> Callable:
    params, X, Y = _psg_args(data, conv)
    f = ad.jit(ad.vmap(ad.grad(example_loss, argnums=(0, 1, 2, 3)), in_axes=(None,) * 4 + (0, 0)))
    return lambda: list(f(*params, X, Y))


NAMES = ("0.weight", "0.bias", "2.weight", "2.bias")


def psg_functional_call(data, conv) -> Callable:
    """An ``anyad.nn.Sequential`` run on the given parameters, as torch.func users write it."""
    params, X, Y = _psg_args(data, conv)
    _, n_in = data.params[0].shape
    hidden, n_out = data.params[2].shape[1], data.params[2].shape[0]
    model = ad.nn.Sequential(ad.nn.Linear(n_in, hidden), ad.nn.Tanh(), ad.nn.Linear(hidden, n_out))

    def loss(ps, x, y):
        z = ad.nn.functional_call(model, ps, (x,))
        return ad.logsumexp(z) - ad.sum(y * z)

    f = ad.vmap(ad.grad(loss), in_axes=(None, 0, 0))
    ps = dict(zip(NAMES, params))

    def step():
        g = f(ps, X, Y)
        return [g[k] for k in NAMES]

    return step


def psg_loop(data, conv) -> Callable:
    """The old way: ``anyad.grad`` of each example in a Python loop, then stacked."""
    params, X, Y = _psg_args(data, conv)
    g = ad.grad(example_loss, argnums=(0, 1, 2, 3))
    xp = array_namespace(X)
    n = X.shape[0]

    def step():
        per = [g(*params, X[i, ...], Y[i, ...]) for i in range(n)]
        return [xp.stack([p[k] for p in per]) for k in range(4)]

    return step


# --------------------------------------------------------------------------
# jacobian
# --------------------------------------------------------------------------

def jac_f(c: dict) -> Callable:
    W1, b1, W2, b2 = c["W1"], c["b1"], c["W2"], c["b2"]

    def f(x):
        return ad.tanh(ad.matmul(W2, ad.tanh(ad.matmul(W1, x) + b1)) + b2)

    return f


def jac_transform(transform: Callable) -> Callable:
    def build(data, conv):
        f = transform(jac_f(_consts(data, conv)))
        x = conv(data.params[0])
        return lambda: [f(x)]
    return build


def jac_vjp_loop(data, conv) -> Callable:
    """The old way: one forward, then one ``vjp`` per output row in a Python loop."""
    f = jac_f(_consts(data, conv))
    x = conv(data.params[0])
    xp = array_namespace(x)
    n = x.shape[0]
    rows = xp.eye(n, dtype=x.dtype)

    def step():
        _, pullback = ad.vjp(f, x)
        return [xp.stack([pullback(rows[i, ...])[0] for i in range(n)])]

    return step


# --------------------------------------------------------------------------
# the implementations
# --------------------------------------------------------------------------

#: name -> (builder, note, every backend (True) or NumPy only)
VARIANTS = {
    "per_sample_grads": {
        "anyad vmap": (psg_vmap, "anyad.vmap(anyad.grad(loss), in_axes=(None,) * 4 + (0, 0))", True),
        "anyad vmap functional_call": (psg_functional_call, ("anyad.vmap(anyad.grad(loss)) of "
                                                             "anyad.nn.functional_call on an nn.Sequential"),
                                       False),
        "anyad jit vmap": (psg_jit, "anyad.jit(anyad.vmap(anyad.grad(loss)))", False),
        "anyad loop": (psg_loop, "anyad.grad per example in a Python loop, stacked", False),
    },
    "jacobian": {
        "anyad jacrev": (jac_transform(ad.jacrev), "anyad.jacrev: one batched backward pass", True),
        "anyad jacfwd": (jac_transform(ad.jacfwd), "anyad.jacfwd: one batched tangent pass", False),
        "anyad jit jacrev": (jac_transform(lambda f: ad.jit(ad.jacrev(f))), "anyad.jit(anyad.jacrev(f))",
                             False),
        "anyad vjp loop": (jac_vjp_loop, "anyad.vjp once, then its pullback per row in a Python loop",
                           False),
    },
}


def implementations(workload, backends) -> list:
    impls = []
    for be in available_backends(backends):
        conv = _Lazy(be)
        device = "cuda" if be in ("cupy", "torch-cuda") else "cpu"
        timed = be != "array_api_strict"
        for name, (build, note, everywhere) in VARIANTS[workload.name].items():
            if not (everywhere or be == "numpy"):
                continue
            if "jit" in name and not hasattr(ad, "jit"):
                continue
            impls.append(Impl(name, be, (lambda data, b=build, c=conv: b(data, c)), to_numpy, timed=timed,
                              device=device,
                              note=note if timed else STRICT_NOTE))
    return impls
