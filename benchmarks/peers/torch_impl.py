"""torch eager: the same programs with torch tensors and ``torch.autograd.grad``
(on the CPU, and on CUDA when torch sees a GPU)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import Impl

LR = 0.01


def _mk(dev):
    return lambda a: torch.asarray(a.copy(), device=dev)


def _value_and_grad(loss_fn, params):
    def step():
        loss = loss_fn(*params)
        grads = torch.autograd.grad(loss, params)
        return [loss.detach(), *grads]
    return step


def mlp(d, dev):
    T = _mk(dev)
    X, Y = T(d.consts["X"]), T(d.consts["Y"])
    params = [T(p).requires_grad_() for p in d.params]

    def loss(W1, b1, W2, b2, W3, b3):
        h1 = torch.tanh(X @ W1 + b1)
        h2 = torch.tanh(h1 @ W2 + b2)
        return F.cross_entropy(h2 @ W3 + b3, Y)  # class-probability targets: the same mean loss

    return _value_and_grad(loss, params)


def matmul_chain(d, dev):
    T = _mk(dev)
    X = T(d.consts["X"])
    params = [T(p).requires_grad_() for p in d.params]

    def loss(*Ws):
        h = X
        for W in Ws:
            h = torch.tanh(W @ h)
        return h.sum()

    return _value_and_grad(loss, params)


def attention(d, dev):
    T = _mk(dev)
    x = T(d.consts["x"])
    S, D = x.shape
    H = d.dims["heads"]
    dh = D // H
    scale = 1.0 / math.sqrt(dh)
    params = [T(p).requires_grad_() for p in d.params]

    def split(a):
        return a.reshape(S, H, dh).transpose(0, 1)

    def loss(Wq, Wk, Wv, Wo, W1, b1, W2, b2):
        q, k, v = split(x @ Wq), split(x @ Wk), split(x @ Wv)
        p = torch.softmax((q @ k.transpose(-1, -2)) * scale, dim=-1)
        h = (p @ v).transpose(0, 1).reshape(S, D) @ Wo + x
        out = h + torch.tanh(h @ W1 + b1) @ W2 + b2
        return (out * out).mean()

    return _value_and_grad(loss, params)


def smallops(d, dev):
    x = _mk(dev)(d.params[0]).requires_grad_()
    steps = d.dims["steps"]

    def loss(x):
        y = x
        for _ in range(steps):
            y = torch.sin(y) * 1.01 + 0.1 * y
        return y.sum()

    return _value_and_grad(loss, [x])


def deep(d, dev):
    x = _mk(dev)(d.params[0]).requires_grad_()
    steps = d.dims["steps"]

    def loss(x):
        y = x
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        return y.sum()

    return _value_and_grad(loss, [x])


def hvp(d, dev):
    T = _mk(dev)
    A, v = T(d.consts["A"]), T(d.consts["v"])
    x = T(d.params[0]).requires_grad_()

    def step():
        f = (torch.tanh(A @ x) ** 2).sum()
        (g,) = torch.autograd.grad(f, x, create_graph=True)
        (hv,) = torch.autograd.grad(g, x, grad_outputs=v)  # double backward: v^T H
        return [hv]

    return step


def xor(d, dev):
    T = _mk(dev)
    init = [T(p) for p in d.params]
    X = [T(x) for x in d.consts["X"]]
    Y = [T(y) for y in d.consts["Y"]]
    epochs = d.dims["epochs"]

    def step():
        ps = [p.clone().requires_grad_() for p in init]
        W1, B1, W2, B2 = ps
        for _ in range(epochs):
            for x, y in zip(X, Y):
                E = (y - (W2 @ torch.tanh(W1 @ x + B1) + B2)) ** 2
                grads = torch.autograd.grad(E, ps)
                with torch.no_grad():
                    for p, g in zip(ps, grads):
                        p.sub_(LR * g)
        return [p.detach() for p in ps]

    return step


def cnn(d, dev):
    T = _mk(dev)
    x, labels = T(d.consts["x"]), T(d.consts["labels"])
    params = [T(p).requires_grad_() for p in d.params]

    def loss(W1, b1, W2, b2, W3, b3):
        h = F.max_pool2d(F.relu(F.conv2d(x, W1, b1, padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, W2, b2, padding=1)), 2)
        return F.cross_entropy(h.flatten(1) @ W3 + b3, labels)

    return _value_and_grad(loss, params)


def transformer(d, dev):
    """``torch.nn.TransformerEncoderLayer`` run on the given parameters (``torch.func.functional_call``)."""
    from ..workloads.transformer import NAMES

    T = _mk(dev)
    x, target = T(d.consts["x"]), T(d.consts["target"])
    D = x.shape[-1]
    layer = torch.nn.TransformerEncoderLayer(D, d.dims["heads"], d.dims["ff"], dropout=0.0, batch_first=True,
                                             device=dev, dtype=x.dtype)
    params = [T(p).requires_grad_() for p in d.params]

    def loss(*ps):
        out = torch.func.functional_call(layer, dict(zip(NAMES, ps)), (x,))
        return F.mse_loss(out, target)

    return _value_and_grad(loss, params)


def _psg_tensors(d, dev):
    T = _mk(dev)
    return [T(p) for p in d.params], T(d.consts["X"]), T(d.consts["Y"])


def _example_loss(W1, b1, W2, b2, x, y):
    z = W2 @ torch.tanh(W1 @ x + b1) + b2
    return torch.logsumexp(z, 0) - (y * z).sum()


def per_sample_grads_vmap(d, dev):
    """``torch.func.vmap(torch.func.grad(loss))`` of an ``nn.Sequential`` through ``functional_call``."""
    params, X, Y = _psg_tensors(d, dev)
    hidden, n_in = params[0].shape
    model = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.Tanh(),
                                torch.nn.Linear(hidden, params[2].shape[0])).to(device=dev, dtype=X.dtype)
    names = ("0.weight", "0.bias", "2.weight", "2.bias")

    def loss(ps, x, y):
        z = torch.func.functional_call(model, ps, (x,))
        return torch.logsumexp(z, 0) - (y * z).sum()

    f = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))
    ps = dict(zip(names, params))

    def step():
        g = f(ps, X, Y)
        return [g[k] for k in names]

    return step


def per_sample_grads_loop(d, dev):
    """``torch.autograd.grad`` of each example's loss in a Python loop, stacked."""
    params, X, Y = _psg_tensors(d, dev)
    params = [p.requires_grad_() for p in params]

    def step():
        per = [torch.autograd.grad(_example_loss(*params, X[i], Y[i]), params) for i in range(X.shape[0])]
        return [torch.stack([p[k] for p in per]) for k in range(4)]

    return step


def jacobian(transform):
    def build(d, dev):
        T = _mk(dev)
        W1, b1, W2, b2 = (T(d.consts[k]) for k in ("W1", "b1", "W2", "b2"))
        x = T(d.params[0])
        jac = transform(lambda x: torch.tanh(W2 @ torch.tanh(W1 @ x + b1) + b2))
        return lambda: [jac(x)]
    return build


#: the transform workloads: name -> [(implementation, builder, note)]
TRANSFORMS = {
    "per_sample_grads": [("torch.func vmap", per_sample_grads_vmap,
                          "torch.func.vmap(torch.func.grad(loss)) through torch.func.functional_call"),
                         ("torch loop", per_sample_grads_loop,
                          "torch.autograd.grad per example in a Python loop, stacked")],
    "jacobian": [("torch.func jacrev", jacobian(torch.func.jacrev), ""),
                 ("torch.func jacfwd", jacobian(torch.func.jacfwd), "")],
}

BUILDERS = {"mlp": mlp, "matmul_chain": matmul_chain, "attention": attention, "cnn": cnn, "smallops": smallops,
            "deep": deep, "hvp": hvp, "xor": xor, "transformer": transformer}


def to_numpy(t):
    return t.detach().cpu().numpy()


def implementations(workload, backends):
    from ..machine import torch_cuda_available

    impls = []
    if workload.name in TRANSFORMS:
        for name, build, note in TRANSFORMS[workload.name]:
            if "torch" in backends:
                impls.append(Impl(name, "torch", lambda d, b=build: b(d, "cpu"), to_numpy, note=note))
            if "torch-cuda" in backends and torch_cuda_available():
                impls.append(Impl(name, "torch-cuda", lambda d, b=build: b(d, "cuda"), to_numpy,
                                  device="cuda", note=note))
        return impls
    b = BUILDERS[workload.name]
    if "torch" in backends:
        impls.append(Impl("torch eager", "torch", lambda d: b(d, "cpu"), to_numpy,
                          note="double backward" if workload.name == "hvp" else ""))
    if "torch-cuda" in backends and torch_cuda_available():
        impls.append(Impl("torch eager", "torch-cuda", lambda d: b(d, "cuda"), to_numpy, device="cuda"))
    return impls
