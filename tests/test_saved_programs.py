"""Portable compiled programs: ``jit(f).lower(...)``, ``Lowered.save``, ``anyad.load_program``.

The programs are lowered and saved here, then loaded and run in another
Python process (which never sees the functions) on numpy, torch and
array_api_strict's ``Device("device1")``; its results are compared with the
eager results computed here, and the gradient program with torch autograd.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import anyad as ad
from anyad._program_json import _registry
from anyad._pytree import tree_flatten

ROOT = Path(__file__).resolve().parent.parent
HAS_TORCH = importlib.util.find_spec("torch") is not None
# the hostile-float case divides by zero and multiplies inf by zero on purpose
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# hostile floats: in a constant array, and as Python scalars in parameters and operands
HOSTILE = np.array([np.nan, -0.0, np.inf, -np.inf, 5e-324, -1.5, 0.0, 1e308])


def _mlp_forward():
    ad.manual_seed(0)
    model = ad.nn.Sequential(ad.nn.Linear(4, 8), ad.nn.Tanh(), ad.nn.Linear(8, 3))
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    return (lambda x: ad.nn.functional.softmax(model(x), axis=-1)), (x,), {}


def _loss(params, x, y):
    h = ad.tanh(x @ params["w1"] + params["b1"])
    return ad.mean((h @ params["w2"] - y) ** 2)


def _loss_args():
    rng = np.random.default_rng(2)
    params = {"w1": rng.normal(size=(4, 6)), "b1": rng.normal(size=6), "w2": rng.normal(size=(6,))}
    return params, rng.normal(size=(7, 4)), rng.normal(size=7)


def _value_and_grad():
    return ad.value_and_grad(_loss), _loss_args(), {}


def _indexing():
    idx = np.array([2, 0, 2, 1])

    def f(x, i):
        a = ad.flip(x[1:, ::2], axis=1)
        b = x[..., None, 1]
        c = x[idx, idx + 1]  # constant index arrays (repeated entries)
        d = x[i, -1]  # an index array given as an argument
        e = ad.take(x, i, axis=1)
        return a * 2.0, b, ad.sum(c, axis=0) + ad.sum(d), e[-1, :]

    x = np.arange(12.0).reshape(3, 4) - 5.0
    return f, (x, np.array([0, 2, 2])), {}


def _reductions():
    def f(x):
        return (ad.sum(x, axis=(0, 2), keepdims=True), ad.mean(x, axis=1), ad.max(x, axis=-1),
                ad.min(x), ad.prod(x[0, ...], axis=0), ad.logsumexp(x, axis=1),
                ad.nn.functional.softmax(x, axis=0), ad.cumulative_sum(x, axis=2))

    return f, (np.random.default_rng(3).normal(size=(2, 3, 4)),), {}


def _where_compare():
    def f(x, y, *, scale):
        m = (x > y) & ~ad.isnan(x)
        z = ad.where(m, x * scale, ad.maximum(y, -0.0))
        return {"z": ad.clip(z, min=-0.5, max=math.inf), "eq": x == y, "abs": ad.abs(x - y) <= 0.25,
                "n": ad.sum(ad.astype(m, "int32"))}

    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    x[0, 0] = np.nan
    y[1, 1] = x[1, 1]
    return f, (x, y), {"scale": 3.0}


def _matmul_shapes():
    w = np.random.default_rng(5).normal(size=(4, 3))

    def f(x):
        h = ad.matrix_transpose(x @ w)  # a constant weight
        s = ad.stack([h, -h], axis=0)
        return ad.reshape(ad.permute_dims(s, (2, 0, 1)), (-1, 3)), ad.concat([h, h * h], axis=0) @ x

    return f, (np.random.default_rng(6).normal(size=(3, 4)),), {}


def _conv():
    ad.manual_seed(1)
    model = ad.nn.Sequential(ad.nn.Conv2d(2, 3, 3, padding=1), ad.nn.ReLU(), ad.nn.MaxPool2d(2),
                             ad.nn.Flatten(), ad.nn.Linear(12, 2))
    x = np.random.default_rng(7).normal(size=(2, 2, 4, 4)).astype(np.float32)
    return (lambda x: model(x)), (x,), {}


def _gradients_through_gathers_and_conv():
    idx = np.array([0, 2, 2, 1])

    def loss(x, w, i):
        picked = ad.sum(x[idx, 1] ** 2) + ad.sum(ad.take(x, i, axis=1) * 3.0) + ad.sum(x[1:, ::2])
        y = ad.nn.functional.conv2d(ad.reshape(x, (1, 1, 3, 4)), w, padding=1)
        return picked + ad.sum(ad.nn.functional.max_pool2d(y, 2) ** 2)

    rng = np.random.default_rng(8)
    return (ad.value_and_grad(loss, argnums=(0, 1)),
            (rng.normal(size=(3, 4)), rng.normal(size=(2, 1, 3, 3)), np.array([3, 0, 3])), {})


def _hostile():
    def f(x, n):
        y = ad.clip(x, min=-0.0, max=math.inf) * -0.0 + HOSTILE
        z = ad.where(x > -0.0, x ** n, math.nan)
        w = ad.abs(x) * -0.0  # -0.0 where |x| is finite: only if the scalar kept its sign
        return y, z, w, 1.0 / (x * 0.0 - 0.0), ad.sum(x * 1e-300), (n, -0.0, None, [math.inf])

    return f, (HOSTILE.copy(), 3), {}


CASES = {"mlp_forward": _mlp_forward, "value_and_grad": _value_and_grad, "indexing": _indexing,
         "reductions": _reductions, "where_compare": _where_compare, "matmul_shapes": _matmul_shapes,
         "conv": _conv, "gather_conv_grad": _gradients_through_gathers_and_conv, "hostile_floats": _hostile}

# The loading process: reads each program and its arguments, runs it on each
# backend, writes the outputs' leaves (on the host) and structure.
CHILD = r"""
import json, sys
import numpy as np
import anyad as ad
from anyad._pytree import tree_flatten, tree_unflatten
import array_api_strict as xps

d = sys.argv[1]
backends = {"numpy": lambda a: a,
            "strict_device1": lambda a: xps.asarray(a, device=xps.Device("device1"))}
try:
    import torch
    backends["torch"] = lambda a: torch.from_numpy(a.copy())
except ImportError:
    pass
report = {}
for name in json.loads(sys.argv[2]):
    program = ad.load_program(f"{d}/{name}.json")
    with np.load(f"{d}/{name}.args.npz", allow_pickle=False) as z:
        arrays = [z[f"a{i}"] for i in range(len(z.files))]
    out = {}
    for be, conv in backends.items():
        it = iter(arrays)
        leaves = [conv(next(it)) if s[0] == "array" else s[1] for s in program.in_leaves]
        args, kwargs = tree_unflatten(program.in_tree, leaves)
        try:
            res_leaves, tree = tree_flatten(program(*args, **kwargs))
        except Exception:
            print(f"program {name} on {be} failed", file=sys.stderr)
            raise
        kinds = []
        for i, r in enumerate(res_leaves):
            if hasattr(r, "shape"):
                if be == "strict_device1":
                    assert str(r.device) == str(xps.Device("device1")), r.device
                    r = r.to_device(xps.Device("CPU_DEVICE"))
                out[f"{be}/{i}"] = ad._backend.to_numpy(r)
                kinds.append(type(r).__module__.split(".")[0])
            else:
                kinds.append(repr(r))
        report[f"{name}/{be}"] = {"tree": repr(tree), "kinds": kinds}
    np.savez(f"{d}/{name}.out.npz", **out)
json.dump(report, open(f"{d}/report.json", "w"))
"""


def _host(x):
    return ad._backend.to_numpy(x.value if isinstance(x, ad.Variable) else x)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Lower and save every case here; load and run them in another process."""
    d = tmp_path_factory.mktemp("programs")
    eager = {}
    for name, make in CASES.items():
        fn, args, kwargs = make()
        lowered = ad.jit(fn).lower(*args, **kwargs)
        lowered.save(d / f"{name}.json")
        leaves, _ = tree_flatten((args, kwargs))
        np.savez(d / f"{name}.args.npz", **{f"a{i}": a for i, a in enumerate(x for x in leaves
                                                                            if hasattr(x, "shape"))})
        out_leaves, tree = tree_flatten(fn(*args, **kwargs))
        eager[name] = (tree, out_leaves, lowered)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(d), json.dumps(list(CASES))], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((d / "report.json").read_text())
    outs = {name: dict(np.load(d / f"{name}.out.npz", allow_pickle=False)) for name in CASES}
    return eager, report, outs


BACKENDS = ["numpy", "strict_device1"] + (["torch"] if HAS_TORCH else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CASES))
def test_loaded_in_another_process_matches_eager(saved, name, backend):
    eager, report, outs = saved
    tree, leaves, _ = eager[name]
    got = report[f"{name}/{backend}"]
    assert got["tree"] == repr(tree)
    for i, ref in enumerate(leaves):
        if not (isinstance(ref, ad.Variable) or hasattr(ref, "shape")):
            assert got["kinds"][i] == repr(ref)  # a Python value of the result, kept as it was
            continue
        ref = _host(ref)
        res = outs[name][f"{backend}/{i}"]
        assert got["kinds"][i] == {"strict_device1": "array_api_strict"}.get(backend, backend)
        assert res.dtype == ref.dtype and res.shape == ref.shape, (i, res.dtype, ref.dtype)
        if backend == "torch" or ref.dtype == np.float32:
            tol = 1e-5 if ref.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(res, ref, rtol=tol, atol=tol, equal_nan=True)
        else:  # the same kernels as the eager run: the same bits (nan, -0.0 and inf included)
            assert res.tobytes() == ref.tobytes(), (i, res, ref)


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_gradient_program_matches_torch_autograd(tmp_path):
    import torch

    params, x, y = _loss_args()
    ad.jit(ad.value_and_grad(_loss)).lower(params, x, y).save(tmp_path / "vg.json")
    value, grads = ad.load_program(tmp_path / "vg.json")(params, x, y)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.tanh(torch.tensor(x) @ tp["w1"] + tp["b1"])
    loss = ((h @ tp["w2"] - torch.tensor(y)) ** 2).mean()
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    assert set(grads) == set(params)
    for k in params:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_hostile_floats_survive_in_the_file(tmp_path):
    fn, args, _ = _hostile()
    ad.jit(fn).lower(*args).save(tmp_path / "h.json")
    text = (tmp_path / "h.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON: special floats are tagged
    doc = json.loads(text)
    floats = [json.dumps(n) for n in doc["nodes"]]
    assert any('"-0x0.0p+0"' in f for f in floats) and any('"inf"' in f for f in floats)
    program = ad.load_program(tmp_path / "h.json")
    got, ref = program(*args), fn(*args)
    for g, r in zip(got[:5], ref[:5]):
        assert g.tobytes() == _host(r).tobytes()
    y, w = got[0], got[2]
    assert np.isnan(y[0]) and np.isnan(y[2]) and y[3] == -np.inf and y[4] == 5e-324 and y[7] == 1e308
    assert np.signbit(w[5]) and np.signbit(w[6]) and np.isnan(w[0])
    statics = got[5]
    assert statics[0] == 3 and math.copysign(1.0, statics[1]) == -1.0 and statics[2] is None
    assert statics[3] == [math.inf]


def test_wrong_signature_lists_the_expected_one(tmp_path):
    fn, args, kwargs = _where_compare()
    ad.jit(fn).lower(*args, **kwargs).save(tmp_path / "w.json")
    program = ad.load_program(tmp_path / "w.json")
    x, y = args
    expected = "f(float64[3, 5], float64[3, 5], scale=3.0)"
    assert program.signature == expected
    bad = [((x[:2], y), {"scale": 3.0}, "float64[2, 5]"),
           ((x.astype(np.float32), y), {"scale": 3.0}, "float32[3, 5]"),
           ((x, y), {"scale": 2.0}, "scale=2.0"),
           ((x, y), {}, "structure"),
           ((x, [y]), {"scale": 3.0}, "structure"),
           ((x, 1.0), {"scale": 3.0}, "not an array")]
    for a, k, needle in bad:
        with pytest.raises(TypeError, match=r"expects f\(float64\[3, 5\]") as e:
            program(*a, **k)
        assert expected in str(e.value) and needle in str(e.value)


def test_custom_vjp_is_refused_at_save(tmp_path):
    @ad.custom_vjp
    def square(x):
        return x * x

    square.defvjp(lambda g, ans, x: 2.0 * g * x)
    lowered = ad.jit(lambda x: ad.sum(square(x))).lower(np.ones(3))
    assert lowered(np.array([1.0, 2.0, 3.0])) == 14.0  # it runs in this process
    with pytest.raises(TypeError, match=r"operation \d+ \(square\) is not one of anyad's primitives"):
        lowered.save(tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()


def test_unsavable_parameters_and_structures_are_refused(tmp_path):
    import array_api_strict as xps

    dev = xps.Device("device1")
    lowered = ad.jit(lambda x: ad.to_device(x * 2.0, dev)).lower(xps.asarray([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"operation \d+ \(to_device\).*Device"):
        lowered.save(tmp_path / "d.json")

    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")
    lowered = ad.jit(lambda x: Pair(x, x + 1.0)).lower(np.ones(2))
    with pytest.raises(TypeError, match="namedtuple"):
        lowered.save(tmp_path / "n.json")


def test_loaded_program_refuses_bad_files(tmp_path):
    ad.jit(lambda x: ad.sin(x)).lower(np.ones(2)).save(tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["nodes"][1]["op"] = "no_such_primitive"
    (tmp_path / "u.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="no_such_primitive"):
        ad.load_program(tmp_path / "u.json")
    doc["nodes"][1]["op"] = "to_backend"  # never written: its parameters are library objects
    (tmp_path / "b.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="to_backend"):
        ad.load_program(tmp_path / "b.json")
    doc["version"] = 99
    (tmp_path / "v.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="version 99"):
        ad.load_program(tmp_path / "v.json")


def test_arguments_of_two_libraries_are_refused():
    import array_api_strict as xps

    fn, args, kwargs = _where_compare()
    lowered = ad.jit(fn).lower(*args, **kwargs)
    with pytest.raises(TypeError, match="two libraries"):
        lowered(args[0], xps.asarray(args[1]), **kwargs)


def test_loaded_program_runs_on_dask(tmp_path):
    da = pytest.importorskip("dask.array")
    fn, args, _ = _conv()
    ad.jit(fn).lower(*args).save(tmp_path / "c.json")
    out = ad.load_program(tmp_path / "c.json")(da.from_array(args[0], chunks=1))
    assert isinstance(out, da.Array)
    np.testing.assert_allclose(out.compute(), _host(fn(*args)), rtol=1e-5, atol=1e-6)


def test_lowered_runs_on_other_backends_in_process():
    import array_api_strict as xps

    fn, args, _ = _matmul_shapes()
    lowered = ad.jit(fn).lower(*args)
    ref = fn(*args)
    dev = xps.Device("device1")
    got = lowered(xps.asarray(args[0], device=dev))
    for g, r in zip(got, ref):
        assert g.device == dev
        np.testing.assert_allclose(np.asarray(g.to_device(xps.Device("CPU_DEVICE"))), _host(r), rtol=1e-12)


def test_variables_read_from_outside_are_frozen_when_lowered():
    w = ad.Variable(np.array([1.0, 2.0]))
    f = ad.jit(lambda x: ad.sum(x * w))
    lowered = f.lower(np.ones(2))
    w.value = np.array([10.0, 20.0])
    assert f(np.ones(2)) == 30.0  # jit reads the current value
    assert lowered(np.ones(2)) == 3.0  # the lowered program holds the value it was lowered with


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_torch_lowered_program_saves_its_constants_through_the_host(tmp_path):
    import torch

    c = torch.tensor([1.0, -0.0, float("nan")], dtype=torch.float32)
    ad.jit(lambda x: x * c + ad.astype(x, "float64")).lower(torch.ones(3)).save(tmp_path / "t.json")
    out = ad.load_program(tmp_path / "t.json")(np.array([2.0, 3.0, 4.0], dtype=np.float32))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.array([4.0, 3.0, np.nan]))


def test_primitive_names_are_unique():
    registry = _registry()
    assert len(registry) > 100
    assert [n for n, p in registry.items() if p is None] == []  # a name two primitives share


def test_a_loaded_program_saves_to_the_same_file(tmp_path):
    for name in ("gather_conv_grad", "hostile_floats", "where_compare"):
        fn, args, kwargs = CASES[name]()
        ad.jit(fn).lower(*args, **kwargs).save(tmp_path / "a.json")
        loaded = ad.load_program(tmp_path / "a.json")
        loaded.save(tmp_path / "b.json")
        assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()
        assert repr(loaded) == repr(ad.load_program(tmp_path / "b.json"))


def test_variables_in_variables_out():
    fn, args, _ = _matmul_shapes()
    lowered = ad.jit(fn).lower(*args)
    out = lowered(ad.Variable(args[0]))
    assert all(isinstance(o, ad.Variable) and not o.requires_grad for o in out)
    np.testing.assert_allclose(out[0].value, _host(fn(*args)[0]), rtol=1e-12)
