"""One check of an anyad function against its torch counterpart, on a backend case:
the value, the gradient of every input (recorded, and plain: the rules on raw
arrays, where backends' own kernels may run), and a second-order pass, all
compared with torch in float64 (float32 runs are held to float32 tolerances)."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad

TOL = {"float64": dict(rtol=1e-9, atol=1e-10), "float32": dict(rtol=2e-4, atol=2e-4)}


def _close(got, want, dtype, what):
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch's {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    tol = TOL[dtype]
    np.testing.assert_allclose(got, want, rtol=tol["rtol"], atol=tol["atol"] * scale, err_msg=what)


def check(be, dtype, fa, ft, arrays, *, second=True, seed=0):
    """``fa(*Variables)`` against ``ft(*torch tensors)`` for ``arrays`` (numpy data)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    xs = [ad.Variable(be.array(a, dtype), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    y = fa(*xs)
    yt = ft(*ts)
    assert type(y.value) is type(xs[0].value), "the result left the input's namespace"
    assert str(y.value.dtype).endswith(dtype), f"dtype {y.value.dtype} for {dtype} inputs"
    _close(be.to_numpy(y), yt, dtype, "forward")
    w = rng.normal(size=tuple(yt.shape))
    gs = ad.backprop([ad.sum(y * be.array(w, dtype))], [None], xs, create_graph=True)
    gts = torch.autograd.grad((yt * torch.tensor(w)).sum(), ts, create_graph=True, allow_unused=True)
    plain = ad.backprop([ad.sum(fa(*xs) * be.array(w, dtype))], [None], xs)  # rules on raw arrays
    for i, (g, p, gt) in enumerate(zip(gs, plain, gts)):
        want = torch.zeros_like(ts[i]) if gt is None else gt
        got = np.zeros(want.shape) if g is None else be.to_numpy(g)
        _close(got, want, dtype, f"gradient of input {i}")
        got = np.zeros(want.shape) if p is None else be.to_numpy(p)
        _close(got, want, dtype, f"plain gradient of input {i}")
    if not second:
        return
    vs = [rng.normal(size=np.shape(a)) for a in arrays]
    pairs = [(g, gt, v) for g, gt, v in zip(gs, gts, vs) if g is not None and gt is not None]
    s = sum(ad.sum(g * g * be.array(v, dtype)) for g, _, v in pairs)
    st = sum((gt * gt * torch.tensor(v)).sum() for _, gt, v in pairs)
    if not isinstance(s, ad.Variable) or not s.requires_grad or not st.requires_grad:
        return
    hs = ad.backprop([s], [None], xs)
    hts = torch.autograd.grad(st, ts, allow_unused=True)
    for i, (h, ht) in enumerate(zip(hs, hts)):
        want = torch.zeros_like(ts[i]) if ht is None else ht
        got = np.zeros(want.shape) if h is None else be.to_numpy(h)
        _close(got, want, dtype, f"second-order gradient of input {i}")
