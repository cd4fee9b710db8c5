"""Convolutions, transposed convolutions, pad, unfold and fold against torch.nn.functional:
values, gradients of every input and second order, on every backend, float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.graph import OpType, PRIMITIVES
from anyad.testing import gradcheck, gradgradcheck
from torch_check import check

torch = pytest.importorskip("torch")
F = ad.nn.functional
TF = torch.nn.functional

# (name, x shape, weight shape, bias?, keywords)
CONV = [
    ("conv1d", (2, 4, 9), (6, 2, 3), True, dict(stride=2, padding=1, groups=2)),
    ("conv2d", (2, 3, 7, 6), (4, 3, 3, 2), True, dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2))),
    ("conv2d", (2, 2, 5, 6), (3, 2, 4, 2), False, dict(padding="same", dilation=(1, 2))),
    ("conv2d", (1, 2, 5, 5), (2, 2, 1, 1), True, dict(stride=3, padding="valid")),
    ("conv2d", (0, 2, 4, 4), (3, 2, 3, 3), True, dict(padding=1)),
    ("conv3d", (1, 2, 4, 5, 3), (2, 1, 2, 3, 2), True, dict(padding=(1, 0, 1), groups=2)),
]
TRANSPOSED = [
    ("conv_transpose1d", (2, 4, 5), (4, 3, 3), True, dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("conv_transpose2d", (2, 2, 4, 3), (2, 3, 3, 2), True,
     dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 2))),
    ("conv_transpose2d", (1, 3, 3, 3), (3, 1, 2, 2), False, dict(stride=3, groups=3)),
]


def _ids(cases):
    return [f"{c[0]}-{'x'.join(map(str, c[1]))}-{i}" for i, c in enumerate(cases)]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CONV + TRANSPOSED, ids=_ids(CONV + TRANSPOSED))
def test_matches_torch(be, dtype, case):
    name, xs, ws, bias, kw = case
    rng = np.random.default_rng(1)
    out_channels = ws[0] if "transpose" not in name else ws[1] * kw.get("groups", 1)
    arrays = [rng.normal(size=xs), rng.normal(size=ws)] + ([rng.normal(size=(out_channels,))] if bias else [])
    fa, ft = getattr(F, name), getattr(TF, name)
    if be.name == "dask" and 0 in xs:  # empty inputs on dask: a clear error, not a wrong shape
        with pytest.raises(NotImplementedError, match="empty .* lazy backend"):
            fa(*[be.array(a, dtype) for a in arrays], **kw)
        return
    check(be, dtype, lambda *a: fa(*a, **kw), lambda *a: ft(*a, **kw), arrays, second=xs[0] > 0)


def test_unbatched_input_as_torch(be):
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(3, 6, 5)), rng.normal(size=(2, 3, 3, 3))
    check(be, "float64", lambda a, b: F.conv2d(a, b, padding=1), lambda a, b: TF.conv2d(a, b, padding=1),
          [x, w])


@pytest.mark.parametrize("kw", [dict(kernel_size=2, stride=1),
                                dict(kernel_size=(2, 3), padding=1, stride=(2, 1), dilation=(1, 2))])
def test_unfold_fold_match_torch(be, kw):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 5, 6))
    check(be, "float64", lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), [x])
    cols = TF.unfold(torch.tensor(x), **kw).numpy()
    check(be, "float64", lambda a: F.fold(a, (5, 6), **kw), lambda a: TF.fold(a, (5, 6), **kw), [cols])


@pytest.mark.parametrize("mode,widths", [("constant", (1, 2, 0, 1)), ("constant", (-1, 2)),
                                         ("reflect", (2, 1, 1, 2)), ("replicate", (3, 0, 1, 1)),
                                         ("circular", (2, 1, 1, 2))])
def test_pad_matches_torch(be, mode, widths):
    x = np.random.default_rng(4).normal(size=(2, 2, 4, 5))
    kw = dict(mode=mode) if mode != "constant" else dict(value=0.5)
    check(be, "float64", lambda a: F.pad(a, widths, **kw), lambda a: TF.pad(a, widths, **kw), [x])


@pytest.mark.parametrize("case", [CONV[0], CONV[1], CONV[2], TRANSPOSED[0]], ids=lambda c: c[0])
def test_a_few_samples_at_a_time_match_torch(be, monkeypatch, case):
    """Forward and backward make the batch's windows a few samples at a time: with a
    budget of one element every sample is its own piece (at most 8 pieces, so 2 or
    3 samples each); values, gradients and second order are torch's."""
    from anyad.backends import conv as kernels

    monkeypatch.setattr(kernels, "WINDOW_ELEMENTS", 1)
    monkeypatch.setattr(kernels, "MAX_PIECES", 3)
    assert kernels.batch_pieces(7, 10) == [(0, 3), (3, 6), (6, 7)]
    name, xs, ws, bias, kw = case
    xs = (7,) + tuple(xs[1:])
    rng = np.random.default_rng(12)
    out_channels = ws[0] if "transpose" not in name else ws[1] * kw.get("groups", 1)
    arrays = [rng.normal(size=xs), rng.normal(size=ws)] + ([rng.normal(size=(out_channels,))] if bias else [])
    fa, ft = getattr(F, name), getattr(TF, name)
    check(be, "float64", lambda *a: fa(*a, **kw), lambda *a: ft(*a, **kw), arrays)


def test_central_differences_first_and_second_order():
    """Independent of torch: the conv primitive's rules against central differences."""
    rng = np.random.default_rng(5)
    x, w, b = rng.normal(size=(1, 2, 5, 4)), rng.normal(size=(2, 1, 2, 3)), rng.normal(size=(2,))

    def f(x, w, b):
        return F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2) ** 2

    assert gradcheck(f, [x, w, b])
    assert gradgradcheck(f, [x, w, b])
    assert gradcheck(lambda y, w: F.conv_transpose2d(y, w, stride=2, output_padding=1) ** 2,
                     [rng.normal(size=(1, 2, 3, 2)), rng.normal(size=(2, 1, 2, 2))])


def test_forward_mode_matches_reverse(be):
    rng = np.random.default_rng(6)
    x, w = be.array(rng.normal(size=(2, 2, 5, 5))), be.array(rng.normal(size=(3, 2, 3, 3)))
    tx, tw = be.array(rng.normal(size=(2, 2, 5, 5))), be.array(rng.normal(size=(3, 2, 3, 3)))
    f = lambda a, b: F.conv2d(a, b, stride=2, padding=1)  # noqa: E731
    _, tout = ad.jvp(f, (x, w), (tx, tw))
    c = be.array(rng.normal(size=tuple(tout.shape)))
    gx, gw = ad.vjp(f, x, w)[1](c)
    lhs = float(np.sum(be.to_numpy(tout) * be.to_numpy(c)))
    rhs = float(np.sum(be.to_numpy(gx) * be.to_numpy(tx)) + np.sum(be.to_numpy(gw) * be.to_numpy(tw)))
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_nodes_keep_inputs_not_windows():
    """conv keeps its two inputs; patches keeps only the input's shape (not K copies)."""
    conv, patches = PRIMITIVES[OpType.CONV], PRIMITIVES[OpType.PATCHES]
    assert conv.saves.out is False and tuple(conv.saves.inputs) == (2, 2)
    assert patches.saves.out is False and tuple(patches.saves.inputs) == (1,)


def test_mixed_dtypes_raise_instead_of_promoting():
    with pytest.raises(TypeError, match="conv2d: the input is float32 and the weight float64"):
        F.conv2d(np.ones((1, 1, 5, 5), dtype=np.float32), np.ones((2, 1, 3, 3)))


@pytest.mark.parametrize("call,match", [
    (lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((2, 4, 3, 3))), r"conv2d.*3 channels.*\(2, 4, 3, 3\)"),
    (lambda: F.conv2d(np.ones((1, 2, 2, 2)), np.ones((2, 2, 3, 3))), r"conv2d.*larger than the padded input"),
    (lambda: F.conv2d(np.ones((2, 5, 5)), np.ones((2, 2, 3, 3))), None),  # unbatched: fine
    (lambda: F.conv2d(np.ones((5, 5)), np.ones((2, 1, 3, 3))), r"conv2d.*4 axes.*\(5, 5\)"),
    (lambda: F.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), stride=1.5), r"conv2d: stride.*1\.5"),
    (lambda: F.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), stride=2, padding="same"), "stride 1"),
    (lambda: F.conv1d(np.ones((1, 4, 5)), np.ones((2, 2, 3)), groups=3), "groups=3"),
    (lambda: F.max_pool2d(np.ones((1, 1, 2, 2)), 3), r"max_pool2d.*larger than the padded input"),
    (lambda: F.avg_pool2d(np.ones((1, 1, 4, 4)), 2, stride=0), r"avg_pool2d: stride must be >= 1"),
])
def test_bad_input_names_the_operation(call, match):
    if match is None:
        call()
        return
    with pytest.raises(ValueError, match=match):
        call()
