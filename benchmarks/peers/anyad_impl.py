"""anyad: eager (Variables recorded, then :func:`anyad.backprop`) and compiled
replay (``anyad.jit``, when the installed anyad has it), on every backend present.

The programs are written once with anyad's functions; each backend gets the
same numpy data converted to its own arrays. array_api_strict is run for
correctness only (it is a reference implementation, never fast).
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any, Callable

import anyad as ad

from ..workloads.xor import tensor_graph_program
from . import Impl

LR = 0.01


# --------------------------------------------------------------------------
# backends
# --------------------------------------------------------------------------

def available_backends(wanted: set) -> list:
    """The anyad backends both wanted and usable here, in table order."""
    from ..machine import cupy_available, torch_cuda_available

    out = []
    for name in ("numpy", "torch", "torch-cuda", "cupy", "array_api_strict"):
        if name not in wanted:
            continue
        if name.startswith("torch") and importlib.util.find_spec("torch") is None:
            continue
        if name == "torch-cuda" and not torch_cuda_available():
            continue
        if name == "cupy" and not cupy_available():
            continue
        if name == "array_api_strict" and importlib.util.find_spec("array_api_strict") is None:
            continue
        out.append(name)
    return out


def converter(backend: str) -> Callable:
    """numpy array -> an array of ``backend`` (same dtype)."""
    if backend == "numpy":
        return lambda a: a
    if backend in ("torch", "torch-cuda"):
        import torch

        device = "cuda" if backend == "torch-cuda" else "cpu"
        return lambda a: torch.asarray(a.copy(), device=device)
    if backend == "cupy":
        import cupy

        return cupy.asarray
    if backend == "array_api_strict":
        import array_api_strict

        return array_api_strict.asarray
    raise ValueError(f"benchmarks: unknown anyad backend {backend!r}")


class _Lazy:
    """``converter(backend)``, made on first use (a numpy-only run never imports torch)."""

    def __init__(self, backend: str):
        self.backend = backend
        self.conv = None

    def __call__(self, a: Any) -> Any:
        if self.conv is None:
            self.conv = converter(self.backend)
        return self.conv(a)


def to_numpy(x: Any) -> Any:
    return ad._backend.to_numpy(x.value if isinstance(x, ad.Variable) else x)


# --------------------------------------------------------------------------
# the programs: f(*params) -> scalar Variable, written with anyad's functions
# --------------------------------------------------------------------------

def mlp_loss(c: dict) -> Callable:
    X, Y = c["X"], c["Y"]
    n = X.shape[0]

    def f(W1, b1, W2, b2, W3, b3):
        h1 = ad.tanh(ad.matmul(X, W1) + b1)
        h2 = ad.tanh(h1 @ W2 + b2)
        z = h2 @ W3 + b3
        return ad.sum((ad.logsumexp(z, axis=1, keepdims=True) - z) * Y) / n

    return f


def matmul_chain_loss(c: dict) -> Callable:
    X = c["X"]

    def f(*Ws):
        h = X
        for W in Ws:
            h = ad.tanh(ad.matmul(W, h))
        return ad.sum(h)

    return f


def attention_loss(c: dict, dims: dict) -> Callable:
    x = c["x"]
    S, D = x.shape
    H = dims["heads"]
    dh = D // H
    scale = 1.0 / math.sqrt(dh)

    def split(a):
        return ad.permute_dims(ad.reshape(a, (S, H, dh)), (1, 0, 2))

    def merge(a):
        return ad.reshape(ad.permute_dims(a, (1, 0, 2)), (S, D))

    def f(Wq, Wk, Wv, Wo, W1, b1, W2, b2):
        q, k, v = split(ad.matmul(x, Wq)), split(ad.matmul(x, Wk)), split(ad.matmul(x, Wv))
        s = (q @ ad.matrix_transpose(k)) * scale
        p = ad.nn.functional.softmax(s, axis=-1)  # as torch.softmax and jax.nn.softmax
        h = merge(p @ v) @ Wo + x
        out = h + ad.tanh(h @ W1 + b1) @ W2 + b2
        return ad.mean(out * out)

    return f


def cnn_loss(c: dict, dims: dict) -> Callable:
    x, labels = c["x"], c["labels"]
    F = ad.nn.functional

    def f(W1, b1, W2, b2, W3, b3):
        h = F.max_pool2d(F.relu(F.conv2d(x, W1, b1, padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, W2, b2, padding=1)), 2)
        logits = ad.reshape(h, (h.shape[0], -1)) @ W3 + b3
        return F.cross_entropy(logits, labels)

    return f


def transformer_loss(c: dict, dims: dict) -> Callable:
    """``anyad.nn.TransformerEncoderLayer`` run on the given parameters (``functional_call``)."""
    from ..workloads.transformer import NAMES

    x, target = c["x"], c["target"]
    D = x.shape[-1]
    dtype = ad.nn.init.dtype_name(x.dtype)
    layer = ad.nn.TransformerEncoderLayer(D, dims["heads"], dims["ff"], dropout=0.0, batch_first=True,
                                          dtype=dtype, rng=0)

    def f(*params):
        out = ad.nn.functional_call(layer, dict(zip(NAMES, params)), (x,))
        return ad.nn.functional.mse_loss(out, target)

    return f


def smallops_loss(c: dict, dims: dict) -> Callable:
    steps = dims["steps"]

    def f(x):
        y = x
        for _ in range(steps):
            y = ad.sin(y) * 1.01 + 0.1 * y
        return ad.sum(y)

    return f


def deep_loss(c: dict, dims: dict) -> Callable:
    steps = dims["steps"]

    def f(x):
        y = x
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        return ad.sum(y)

    return f


def hvp_f(c: dict) -> Callable:
    A = c["A"]

    def f(x):
        return ad.sum(ad.tanh(ad.matmul(A, x)) ** 2)

    return f


LOSSES = {
    "mlp": lambda c, d: mlp_loss(c),
    "matmul_chain": lambda c, d: matmul_chain_loss(c),
    "attention": attention_loss,
    "cnn": cnn_loss,
    "transformer": transformer_loss,
    "smallops": smallops_loss,
    "deep": deep_loss,
}


# --------------------------------------------------------------------------
# eager
# --------------------------------------------------------------------------

def _consts(data, conv) -> dict:
    return {k: conv(v) for k, v in data.consts.items()}


def backprop_value_and_grad(name: str, data, conv) -> Callable:
    """The core path: leaf Variables that require grad, the program, then backprop."""
    f = LOSSES[name](_consts(data, conv), data.dims)
    params = [ad.Variable(conv(p), requires_grad=True) for p in data.params]

    def step():
        out = f(*params)
        grads = ad.backprop([out], [None], params, retain_graph=False)
        return [out.value, *grads]

    return step


def functional_value_and_grad(name: str, data, conv) -> Callable:
    """``anyad.value_and_grad(f, argnums=all)`` on raw arrays."""
    f = LOSSES[name](_consts(data, conv), data.dims)
    params = [conv(p) for p in data.params]
    vg = ad.value_and_grad(f, argnums=tuple(range(len(params))))

    def step():
        value, grads = vg(*params)
        return [value, *grads]

    return step


def backprop_hvp(data, conv) -> Callable:
    """Reverse over reverse with the core: a gradient with create_graph, then its VJP with v."""
    c = _consts(data, conv)
    f = hvp_f(c)
    v = c["v"]
    x = ad.Variable(conv(data.params[0]), requires_grad=True)

    def step():
        (g,) = ad.backprop([f(x)], [None], [x], create_graph=True)
        (hv,) = ad.backprop([g], [v], [x], retain_graph=False)  # v^T H = H v
        return [hv]

    return step


def functional_hvp(data, conv) -> Callable:
    """``anyad.hvp``: forward over reverse."""
    c = _consts(data, conv)
    f = hvp_f(c)
    x, v = conv(data.params[0]), c["v"]
    return lambda: [ad.hvp(f, x, v)]


def _xor_data(data, conv):
    return ([conv(p) for p in data.params], [conv(x) for x in data.consts["X"]],
            [conv(y) for y in data.consts["Y"]], data.dims["epochs"])


def xor_error(W1, B1, W2, B2, x, y):
    return ad.sum(ad.subtract(y, W2 @ ad.tanh(W1 @ x + B1) + B2) ** 2)


def backprop_xor(data, conv) -> Callable:
    init, X, Y, epochs = _xor_data(data, conv)

    def step():
        W1, B1, W2, B2 = init
        for _ in range(epochs):
            for x, y in zip(X, Y):
                ps = [ad.Variable(p, requires_grad=True) for p in (W1, B1, W2, B2)]
                E = ad.subtract(y, ps[2] @ ad.tanh(ad.matmul(ps[0], x) + ps[1]) + ps[3]) ** 2
                g1, gb1, g2, gb2 = ad.backprop([E], [None], ps, retain_graph=False)
                W1, B1, W2, B2 = W1 - LR * g1, B1 - LR * gb1, W2 - LR * g2, B2 - LR * gb2
        return [W1, B1, W2, B2]

    return step


def functional_xor(data, conv) -> Callable:
    init, X, Y, epochs = _xor_data(data, conv)
    g = ad.grad(xor_error, argnums=(0, 1, 2, 3))

    def step():
        ps = init
        for _ in range(epochs):
            for x, y in zip(X, Y):
                ps = [p - LR * gp for p, gp in zip(ps, g(*ps, x, y))]
        return ps

    return step


def tensor_graph_xor(data, conv) -> Callable:
    """The python-autodiff XOR program as written, with ``ad = anyad`` (numpy backend)."""
    return tensor_graph_program(ad, data)


def _backprop_builder(name: str) -> Callable:
    if name == "hvp":
        return backprop_hvp
    if name == "xor":
        return backprop_xor
    return lambda data, conv: backprop_value_and_grad(name, data, conv)


def _functional_builder(name: str) -> Callable | None:
    if not hasattr(ad, "value_and_grad"):
        return None
    if name == "hvp":
        return functional_hvp if hasattr(ad, "hvp") else None
    if name == "xor":
        return functional_xor
    return lambda data, conv: functional_value_and_grad(name, data, conv)


# --------------------------------------------------------------------------
# the implementations
# --------------------------------------------------------------------------

NOTES = {
    "anyad eager": "anyad.value_and_grad (anyad.hvp: forward over reverse; anyad.grad per sample for xor)",
    "anyad backprop": "the core: Variable(requires_grad=True), then anyad.backprop "
                      "(hvp: reverse over reverse)",
}


def implementations(workload, backends):
    from . import anyad_jit, anyad_transforms

    name = workload.name
    if name in anyad_transforms.WORKLOADS:  # vmap(grad), jacrev, jacfwd and their loops
        return anyad_transforms.implementations(workload, backends)
    functional = _functional_builder(name)
    impls = []
    for be in available_backends(backends):
        conv = _Lazy(be)
        device = "cuda" if be in ("cupy", "torch-cuda") else "cpu"
        timed = be != "array_api_strict"
        note = "" if timed else "correctness only: array_api_strict is a reference library"
        eager = functional or _backprop_builder(name)
        impls.append(Impl("anyad eager", be, (lambda data, b=eager, c=conv: b(data, c)), to_numpy,
                          timed=timed, device=device,
                          note=note or NOTES["anyad eager" if functional else "anyad backprop"]))
        if functional and be == "numpy":  # the core path beside the functional face
            b = _backprop_builder(name)
            impls.append(Impl("anyad backprop", be, (lambda data, b=b, c=conv: b(data, c)), to_numpy,
                              note=NOTES["anyad backprop"]))
        if name == "xor" and be == "numpy" and hasattr(ad, "Tensor") and hasattr(ad, "Graph"):
            impls.append(Impl("anyad Tensor/Graph", be, (lambda data, c=conv: tensor_graph_xor(data, c)),
                              to_numpy, note="the python-autodiff program as written, import anyad as ad"))
        impls.extend(anyad_jit.implementations(workload, be, conv, device, timed))
    return impls
