"""The backend matrix: every test that takes ``be`` runs on every backend present.

* numpy;
* array_api_strict on its CPU device and on ``Device("device1")``, the GPU
  proxy: arrays there refuse to mix with CPU arrays and refuse conversion to
  numpy, exactly as CuPy device arrays do;
* torch on the CPU, when installed;
* cupy, when it imports and sees a CUDA device;
* dask (numpy chunks of size 2, so multi-chunk paths run, on the synchronous
  scheduler), only when named: ``ANYAD_TEST_BACKENDS=dask``. Dask builds a
  task graph per operation (milliseconds each), so this leg takes many minutes;
  CI runs it on its own, and ``tests/test_dask.py`` (never computing, chunks,
  agreement with numpy, a LocalCluster) runs in every suite.

``ANYAD_TEST_BACKENDS=numpy,torch`` restricts the matrix (CI runs the torch
leg on its own).
"""

from __future__ import annotations

import os

# SciPy reads this once, when first imported: its Array API paths (which the
# third-party tests and the docs page on SciPy and scikit-learn use) are on
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest

import anyad


class BackendCase:
    """One backend of the matrix: makes test arrays there from numpy data."""

    def __init__(self, name: str, xp, device=None):
        self.name = name
        self.xp = xp
        self.device = device

    def array(self, data, dtype="float64"):
        data = np.asarray(data)
        dt = getattr(self.xp, dtype) if isinstance(dtype, str) else dtype
        if self.name == "cupy":
            return self.xp.asarray(data, dtype=dt)
        if self.name == "torch":
            import torch

            return torch.asarray(data.copy(), dtype=dt)
        if self.name == "dask":
            import dask.array as da

            return da.from_array(data.astype(dt), chunks=2)
        if self.device is not None:
            return self.xp.asarray(data, dtype=dt, device=self.device)
        return self.xp.asarray(data, dtype=dt)

    def use(self):
        """anyad.use(...) for this backend, as a context manager."""
        return anyad.use(self.xp if self.name != "numpy" else "numpy", device=self.device)

    def to_numpy(self, x):
        return anyad._backend.to_numpy(x.value if isinstance(x, anyad.Variable) else x)

    def __repr__(self) -> str:
        return self.name


def _cases() -> list:
    cases = [BackendCase("numpy", anyad.current_backend().xp)]
    try:
        import array_api_strict as strict

        cases.append(BackendCase("strict", strict, strict.Device("CPU_DEVICE")))
        cases.append(BackendCase("strict-device1", strict, strict.Device("device1")))
    except ImportError:
        pass
    try:
        import array_api_compat.torch as ctorch
        import torch  # noqa: F401

        cases.append(BackendCase("torch", ctorch))
    except ImportError:
        pass
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            cases.append(BackendCase("cupy", anyad._backend._load("cupy")))
    except Exception:
        pass
    only = os.environ.get("ANYAD_TEST_BACKENDS")
    keep = {s.strip() for s in only.split(",")} if only else None
    if keep is not None and "dask" in keep:
        cases.append(BackendCase("dask", anyad._backend._load("dask")))
    if keep is not None:
        cases = [c for c in cases if c.name in keep]
    return cases


BACKENDS = _cases()


@pytest.fixture(params=BACKENDS, ids=[c.name for c in BACKENDS])
def be(request) -> BackendCase:
    if request.param.name == "dask":
        import dask

        with dask.config.set(scheduler="synchronous"):
            yield request.param
        return
    yield request.param


@pytest.fixture(params=["float64", "float32"])
def dtype(request) -> str:
    return request.param


def backprop_to_second_order(outs, xs) -> list:
    """The gradients of sum(outs) w.r.t. xs, recorded; then one second-order pass
    through the first gradient that depends on xs. Returns the first-order ones."""
    outs = outs if isinstance(outs, tuple) else (outs,)
    total = anyad.sum(outs[0]) if len(outs) == 1 else anyad.sum(anyad.stack([anyad.sum(o) for o in outs]))
    grads = anyad.backprop([total], [None], xs, create_graph=True)
    second = [g for g in grads if g is not None and g.requires_grad]
    if second:
        anyad.backprop([anyad.sum(second[0] * second[0])], [None], xs)
    return grads


@pytest.fixture
def no_host_sync(monkeypatch):
    """array_api_strict arrays raise on every conversion to a host value (what
    would stall a GPU stream): bool, float, int, complex, __index__, __array__."""
    strict = pytest.importorskip("array_api_strict")
    array_type = type(strict.ones(1))

    def refuse(name):
        def method(self, *args, **kwargs):
            raise AssertionError(f"host synchronisation: Array.{name} called")

        return method

    for name in ("__bool__", "__float__", "__int__", "__complex__", "__index__", "__array__"):
        monkeypatch.setattr(array_type, name, refuse(name), raising=False)
    yield


@pytest.fixture(autouse=True)
def _restore_default_backend():
    """A plain ``anyad.use(...)`` sets the process-wide default: put it back after every test."""
    previous = anyad._backend.default_backend()
    yield
    anyad._backend.set_default_backend(previous)
