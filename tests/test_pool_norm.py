"""Pooling and normalisation functions, and the convolution, pooling and normalisation
layers, against torch: values, gradients of every input, second order, running
statistics and state dicts, on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from torch_check import TOL, check

torch = pytest.importorskip("torch")
F = ad.nn.functional
TF = torch.nn.functional

# (name, x shape, keywords)
POOL = [
    ("max_pool1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool1d", (1, 2, 7), dict(kernel_size=2, ceil_mode=True)),
    ("max_pool2d", (2, 2, 7, 6), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    ("max_pool2d", (1, 1, 5, 7), dict(kernel_size=2, ceil_mode=True)),
    ("max_pool2d", (0, 2, 4, 4), dict(kernel_size=2)),
    # windows that tile the input: even, odd (cropped), 3x2, 1-D
    ("max_pool2d", (2, 3, 6, 8), dict(kernel_size=2)),
    ("max_pool2d", (2, 2, 7, 5), dict(kernel_size=2)),
    ("max_pool2d", (1, 2, 6, 7), dict(kernel_size=(3, 2))),
    ("max_pool1d", (2, 2, 9), dict(kernel_size=3)),
    ("avg_pool1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False,
                                   ceil_mode=True)),
    ("avg_pool2d", (2, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool2d", (1, 2, 5, 6), dict(kernel_size=(2, 3), stride=2, padding=1, ceil_mode=True,
                                      count_include_pad=False)),
    ("avg_pool2d", (1, 1, 4, 5), dict(kernel_size=2, divisor_override=3)),
    ("adaptive_avg_pool2d", (2, 3, 7, 5), dict(output_size=(3, 2))),
    ("adaptive_avg_pool2d", (1, 2, 4, 6), dict(output_size=(None, 4))),
    ("adaptive_avg_pool1d", (2, 2, 7), dict(output_size=3)),
]


@pytest.mark.parametrize("case", POOL, ids=[f"{c[0]}-{i}" for i, c in enumerate(POOL)])
def test_pooling_matches_torch(be, dtype, case):
    name, shape, kw = case
    x = np.random.default_rng(1).normal(size=shape)
    if be.name == "dask" and 0 in shape:  # empty inputs on dask: a clear error, not a wrong shape
        with pytest.raises(NotImplementedError, match="empty .* lazy backend"):
            getattr(F, name)(be.array(x, dtype), **kw)
        return
    check(be, dtype, lambda a: getattr(F, name)(a, **kw), lambda a: getattr(TF, name)(a, **kw), [x])


INTERPOLATE = [
    ((2, 3, 5), dict(size=8, mode="nearest")),
    ((2, 3, 5), dict(scale_factor=1.7, mode="linear")),
    ((1, 2, 4, 5), dict(size=(7, 3), mode="bilinear")),
    ((1, 2, 4, 5), dict(size=(7, 3), mode="bilinear", align_corners=True)),
    ((1, 2, 4, 5), dict(scale_factor=(2, 0.5), mode="nearest")),
    ((1, 1, 2, 3, 2), dict(size=(3, 4, 5), mode="trilinear")),
]


@pytest.mark.parametrize("case", INTERPOLATE, ids=[c[1]["mode"] + str(i) for i, c in enumerate(INTERPOLATE)])
def test_interpolate_matches_torch(be, dtype, case):
    shape, kw = case
    x = np.random.default_rng(10).normal(size=shape)
    check(be, dtype, lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x])


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_as_torch(be):
    x = np.maximum(np.round(np.random.default_rng(2).normal(size=(2, 2, 6, 6))), 0.0)  # many tied zeros
    check(be, "float64", lambda a: F.max_pool2d(a, 3, stride=1), lambda a: TF.max_pool2d(a, 3, stride=1), [x])
    check(be, "float64", lambda a: F.max_pool2d(a, (3, 2)), lambda a: TF.max_pool2d(a, (3, 2)), [x])  # tiles


def test_batch_norm_matches_torch(be, dtype):
    rng = np.random.default_rng(3)
    x, w, b = rng.normal(size=(4, 3, 5, 2)), rng.normal(size=3), rng.normal(size=3)
    check(be, dtype, lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True),
          lambda a, c, d: TF.batch_norm(a, None, None, c, d, training=True), [x, w, b])
    rm, rv = np.abs(rng.normal(size=3)), np.abs(rng.normal(size=3)) + 0.5
    check(be, dtype, lambda a, c, d: F.batch_norm(a, be.array(rm, dtype), be.array(rv, dtype), c, d),
          lambda a, c, d: TF.batch_norm(a, torch.tensor(rm), torch.tensor(rv), c, d), [x, w, b])


def test_batch_norm_updates_running_statistics_in_place_as_torch(be):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 3, 4))
    rm, rv = be.array(np.zeros(3)), be.array(np.ones(3))
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(2):
        F.batch_norm(be.array(x), rm, rv, training=True, momentum=0.3)
        TF.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    np.testing.assert_allclose(be.to_numpy(rm), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(be.to_numpy(rv), trv.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape,groups", [((3, 6, 4, 5), 3), ((2, 4, 7), 2), ((1, 2, 3), 1)])
def test_group_norm_matches_torch(be, dtype, shape, groups):
    rng = np.random.default_rng(5)
    x, w, b = rng.normal(size=shape), rng.normal(size=shape[1]), rng.normal(size=shape[1])
    check(be, dtype, lambda a, c, d: F.group_norm(a, groups, c, d),
          lambda a, c, d: TF.group_norm(a, groups, c, d), [x, w, b])


@pytest.mark.parametrize("call,match", [
    (lambda: F.batch_norm(np.ones((1, 3)), None, None, training=True), "more than one value per channel"),
    (lambda: F.batch_norm(np.ones((2, 3)), np.zeros(2), np.ones(2)),
     r"running_mean of shape \(2,\).*3 channels"),
    (lambda: F.group_norm(np.ones((2, 6, 3)), 4), "num_groups=4 must divide the 6 channels"),
    (lambda: F.max_pool2d(np.ones((1, 1, 6, 6)), 2, padding=2), "at most half the kernel"),
    (lambda: F.adaptive_avg_pool2d(np.ones((1, 6, 6)), (2, 2.5)), "output_size"),
])
def test_bad_input_names_the_function(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- layers, with torch's weights copied in -------------------------------------------------------

LAYERS = [
    ("Conv2d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 7, 6)),
    ("Conv1d", (4, 6, 3), dict(groups=2, padding="same", bias=False), (2, 4, 8)),
    ("Conv2d", (2, 3, (3, 2)), dict(padding=(1, 2), padding_mode="reflect"), (1, 2, 5, 5)),
    ("Conv2d", (2, 2, 3), dict(padding=1, padding_mode="circular", dilation=1), (1, 2, 4, 5)),
    ("ConvTranspose2d", (4, 2, 3), dict(stride=2, padding=1, output_padding=1), (2, 4, 3, 3)),
    ("ConvTranspose1d", (2, 4, 3), dict(stride=3, groups=2), (2, 2, 4)),
    ("GroupNorm", (2, 4), {}, (3, 4, 5)),
    ("MaxPool2d", (2,), dict(stride=1, padding=1), (2, 3, 4, 5)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 5, 5)),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, (2, 3, 5, 7)),
]


@pytest.mark.parametrize("case", LAYERS, ids=[c[0] for c in LAYERS])
def test_layers_match_torch_with_copied_weights(be, case):
    name, args, kw, shape = case
    torch.manual_seed(0)
    tl = getattr(torch.nn, name)(*args, **kw).double()
    with torch.no_grad():
        for p in tl.parameters():
            p.add_(torch.randn_like(p))  # not the default ones and zeros
    with be.use():
        layer = getattr(ad.nn, name)(*args, **kw, **({} if "Pool" in name else dict(dtype="float64")))
    assert sorted(layer.state_dict()) == sorted(tl.state_dict())
    layer.load_state_dict(tl.state_dict())
    x = np.random.default_rng(6).normal(size=shape)
    xv = ad.Variable(be.array(x), requires_grad=True)
    y = layer(xv)
    xt = torch.tensor(x, requires_grad=True)
    yt = tl(xt)
    np.testing.assert_allclose(be.to_numpy(y), yt.detach().numpy(), **TOL["float64"])
    ad.sum(y * y).backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(be.to_numpy(xv.grad), xt.grad.numpy(), **TOL["float64"])
    for (n, p), (_, tp) in zip(layer.named_parameters(), tl.named_parameters()):
        np.testing.assert_allclose(be.to_numpy(p.grad), tp.grad.numpy(), err_msg=n, **TOL["float64"])


@pytest.mark.parametrize("name,shape,momentum", [("BatchNorm2d", (4, 3, 5, 2), 0.1),
                                                 ("BatchNorm1d", (6, 3), None),
                                                 ("BatchNorm1d", (4, 3, 5), 0.5)])
def test_batch_norm_layers_follow_torch_in_training_and_evaluation(be, name, shape, momentum):
    torch.manual_seed(0)
    tl = getattr(torch.nn, name)(3, momentum=momentum).double()
    with torch.no_grad():
        tl.weight.add_(torch.randn(3, dtype=torch.float64))
        tl.bias.add_(torch.randn(3, dtype=torch.float64))
    with be.use():
        layer = getattr(ad.nn, name)(3, momentum=momentum, dtype="float64")
    assert sorted(layer.state_dict()) == sorted(tl.state_dict())
    layer.load_state_dict(tl.state_dict())
    rng = np.random.default_rng(7)
    for step in range(3):
        x = rng.normal(size=shape) * (step + 1) + step
        xv = ad.Variable(be.array(x), requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        y, yt = layer(xv), tl(xt)
        np.testing.assert_allclose(be.to_numpy(y), yt.detach().numpy(), **TOL["float64"])
        ad.sum(y * y * y).backward()
        (yt * yt * yt).sum().backward()
        np.testing.assert_allclose(be.to_numpy(xv.grad), xt.grad.numpy(), **TOL["float64"])
        np.testing.assert_allclose(be.to_numpy(layer.weight.grad), tl.weight.grad.numpy(), **TOL["float64"])
        tl.zero_grad(), layer.zero_grad()
    for key, value in tl.state_dict().items():
        np.testing.assert_allclose(be.to_numpy(layer.state_dict()[key]), value.numpy(), err_msg=key,
                                   rtol=1e-12)
    layer.eval(), tl.eval()
    x = rng.normal(size=shape)
    np.testing.assert_allclose(be.to_numpy(layer(be.array(x))), tl(torch.tensor(x)).detach().numpy(),
                               **TOL["float64"])


def test_conv_layer_initialisation_follows_torch():
    """Shapes as torch's; weights and biases uniform within torch's bound 1/sqrt(fan_in)."""
    pairs = ((ad.nn.Conv2d(6, 8, (3, 2), groups=2, rng=0), torch.nn.Conv2d(6, 8, (3, 2), groups=2)),
             (ad.nn.ConvTranspose2d(4, 6, 3, groups=2, rng=0), torch.nn.ConvTranspose2d(4, 6, 3, groups=2)))
    for layer, tl in pairs:
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(tl.weight)
        bound = 1.0 / np.sqrt(fan_in)
        for (n, p), (_, tp) in zip(layer.named_parameters(), tl.named_parameters()):
            assert tuple(p.shape) == tuple(tp.shape), n
            v = ad._backend.to_numpy(p.value)
            assert np.abs(v).max() <= bound * (1 + 1e-6), n
            if v.size > 50:
                assert np.abs(v).max() > 0.9 * bound and abs(v.mean()) < 0.2 * bound, n


@pytest.mark.parametrize("call,error,match", [
    (lambda: ad.nn.Conv2d(3, 4, 3, dtype="float64")(np.ones((1, 2, 5, 5))), ValueError,
     r"anyad.nn.Conv2d: the input has 2 channels"),
    (lambda: ad.nn.Conv2d(3, 4, 3, dtype="float32")(np.ones((1, 3, 5, 5))), TypeError,
     r"anyad.nn.Conv2d: the input is float64"),
    (lambda: ad.nn.Conv2d(3, 4, 5, dtype="float64")(np.ones((1, 3, 4, 4))), ValueError,
     r"anyad.nn.Conv2d: the kernel \(5, 5\).*larger"),
    (lambda: ad.nn.Conv2d(3, 4, 3, stride=(1, 0.5)), ValueError, r"anyad.nn.Conv2d: stride"),
    (lambda: ad.nn.BatchNorm2d(3, dtype="float64")(np.ones((2, 3, 4))), ValueError,
     r"anyad.nn.BatchNorm2d: expected an input with 4 axes"),
    (lambda: ad.nn.MaxPool2d(2)(np.ones((2, 3))), ValueError,
     r"anyad.nn.MaxPool2d: the input must have 4 axes"),
    (lambda: ad.nn.Conv1d(4, 6, 3, groups=4), ValueError, r"anyad.nn.Conv1d: groups=4"),
])
def test_layer_errors_name_the_layer(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_compiled_max_pool_recomputes_its_choice_for_new_inputs():
    """The first-maximum mask is built from recorded operations: a replay with other
    inputs gives the eager gradient (a mask computed on the side would go stale)."""
    rng = np.random.default_rng(8)
    x, x2, w = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(4, 3, 3, 3))

    def f(x, w):
        return ad.sum(F.max_pool2d(F.conv2d(x, w, padding=1), 2, padding=1) ** 2)

    def tiled(x, w):
        return ad.sum(F.max_pool2d(F.conv2d(x, w, padding=1), 2) ** 2)

    for fun in (f, tiled):
        g = ad.grad(fun, argnums=(0, 1))
        compiled = ad.jit(g)
        compiled(x, w)
        for got, want in zip(compiled(x2, w), g(x2, w)):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12)


def test_max_pool_propagates_nan_as_torch():
    x = np.array([[[1.0, np.nan, 2.0, 3.0, np.nan, np.nan]]])
    np.testing.assert_array_equal(F.max_pool1d(x, 2), TF.max_pool1d(torch.tensor(x), 2).numpy())


@pytest.mark.parametrize("k", [2, 4, 9])
def test_first_max_is_the_first_argmax_with_ties_and_nan(be, k):
    """The mask max pooling's gradient follows: true at argmax's tap (the first largest,
    or the first NaN) of each window, once per window, on every backend."""
    from anyad.ops.conv import first_max

    rng = np.random.default_rng(11)
    cols = np.round(rng.normal(size=(3, 2, k, 5, 4)))  # many ties
    cols[0, 0, :, 0, :] = 1.0  # every tap tied
    cols[1, 1, 1:, 2, 3] = np.nan  # NaNs after a number
    cols[2, 0, k - 1, 1, 1] = np.nan  # one NaN, last
    want = np.arange(k).reshape(1, 1, k, 1, 1) == np.argmax(cols, axis=2, keepdims=True)
    got = be.to_numpy(first_max(be.array(cols)))
    assert got.dtype == np.bool_ and got.shape == cols.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got.sum(axis=2), 1)


def test_batch_norm_running_statistics_refuse_to_be_compiled():
    bn = ad.nn.BatchNorm1d(2, dtype="float64")
    with pytest.raises(ValueError, match="BatchNorm1d: updating running statistics inside anyad.jit"):
        ad.jit(lambda x: ad.sum(bn(x)))(np.ones((3, 2)))
    assert int(bn.num_batches_tracked) == 0
    bn.eval()
    assert float(ad.jit(lambda x: ad.sum(bn(x)))(np.ones((3, 2)))) == pytest.approx(6 / np.sqrt(1 + 1e-5))


def test_cnn_digits_example_learns():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from train_cnn_digits import run

    history = run(epochs=1, width=4, progress=False)
    assert history["accuracy"] > 0.7


def test_a_cnn_step_never_reads_device_values_on_the_host(no_host_sync):
    """Forward and backward of every layer here, on array_api_strict's device1, with
    every conversion to a host value refused."""
    import array_api_strict as strict

    with ad.use(strict, device=strict.Device("device1")):
        net = ad.nn.Sequential(
            ad.nn.Conv2d(2, 4, 3, padding="same", padding_mode="reflect", rng=0, dtype="float64"),
            ad.nn.BatchNorm2d(4, momentum=None, dtype="float64"), ad.nn.ReLU(),
            ad.nn.MaxPool2d(2, ceil_mode=True), ad.nn.GroupNorm(2, 4, dtype="float64"),
            ad.nn.ConvTranspose2d(4, 2, 2, stride=2, rng=0, dtype="float64"),
            ad.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), ad.nn.AdaptiveAvgPool2d(1))
        data = np.random.default_rng(9).normal(size=(3, 2, 5, 5))
        x = strict.asarray(data, device=strict.Device("device1"))
        ad.sum(net(x) ** 2).backward()
    assert all(p.grad is not None for p in net.parameters())
    assert net[1].running_mean.device == strict.Device("device1")


@pytest.mark.parametrize("args", [(), (0, 1), (1, 2), (2, -1), (-2, -1)])
def test_flatten_matches_torch_including_an_empty_batch(args):
    for shape in ((2, 3, 4, 5), (0, 3, 4, 5)):
        x = np.ones(shape)
        assert ad.nn.Flatten(*args)(x).shape == tuple(torch.nn.Flatten(*args)(torch.tensor(x)).shape)


def test_conv_layers_run_under_autocast():
    """Inside anyad.amp.autocast a conv's float16 output feeds the next layers (whose
    dtype check steps aside); float32 parameters get float32 gradients."""
    nn = ad.nn
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=0), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 4, 3, padding=1, rng=0), nn.GroupNorm(2, 4), nn.AvgPool2d(2), nn.Flatten(),
                        nn.Linear(16, 3, rng=0))
    x = np.random.default_rng(11).normal(size=(5, 1, 8, 8)).astype(np.float32)
    with ad.amp.autocast(dtype="float16"):
        loss = F.cross_entropy(net(x), np.array([0, 1, 2, 0, 1]))
    loss.backward()
    assert all(p.grad.dtype == np.float32 and np.all(np.isfinite(p.grad)) for p in net.parameters())
    assert net[1].running_mean.dtype == np.float32
