"""The machine: thread limits applied to every library alike, and its description.

:func:`limit_threads` must run before numpy, torch or jax are imported (it sets
the environment variables their thread pools read at start-up), and again after
(threadpoolctl for the BLAS and OpenMP pools that are already loaded).
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import os
import platform
import subprocess
import sys

__all__ = ["limit_threads", "apply_library_threads", "describe", "cupy_available", "torch_cuda_available"]

_ENV_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads(n: int) -> None:
    """Environment for ``n`` threads in every library (call before importing them)."""
    for k in _ENV_THREADS:
        os.environ[k] = str(n)
    flags = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in flags:
        # XLA:CPU runs its Eigen kernels on an intra-op pool of this size
        flags = f"{flags} --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={n}".strip()
        os.environ["XLA_FLAGS"] = flags
    if not _has_nvidia():
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("JAX_ENABLE_X64", "1")  # matmul_chain, hvp, deep are float64


def apply_library_threads(n: int) -> dict:
    """Set ``n`` threads on the libraries already imported; return what was set."""
    done: dict = {}
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
        done["threadpoolctl"] = n
    except ImportError:
        done["threadpoolctl"] = "not installed: BLAS threads set by environment only"
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)
        done["torch"] = torch.get_num_threads()
    done["env"] = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "XLA_FLAGS")}
    return done


def _has_nvidia() -> bool:
    return os.path.exists("/dev/nvidiactl")


@functools.lru_cache(maxsize=None)
def cupy_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@functools.lru_cache(maxsize=None)
def torch_cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2 ** 20, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode:
        return None
    return out.stdout.strip() + ("+uncommitted changes" if dirty.stdout.strip() else "")


def blas_info() -> list:
    """The BLAS and OpenMP libraries loaded, with their kernels and thread counts."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl is not installed"}]
    keep = ("user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads", "prefix")
    return [{k: d.get(k) for k in keep} | {"file": os.path.basename(d.get("filepath", ""))}
            for d in threadpool_info()]


def libraries() -> dict:
    """The versions of the libraries the harness and its peers use, where installed."""
    libs = {d: _version(d) for d in ("numpy", "array-api-compat", "torch", "jax", "jaxlib", "autograd",
                                     "python-autodiff", "advect", "array-api-strict", "cupy",
                                     "cupy-cuda12x", "cupy-cuda13x", "threadpoolctl", "matplotlib")}
    return {k: v for k, v in libs.items() if v is not None}


def describe(threads: int) -> dict:
    """The machine and software a run was measured on."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    libs = libraries()
    gpus = []
    if torch_cuda_available():
        import torch

        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    elif cupy_available():
        import cupy

        gpus = [cupy.cuda.runtime.getDeviceProperties(i)["name"].decode()
                for i in range(cupy.cuda.runtime.getDeviceCount())]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "cpus_usable": affinity,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "threads": threads,
        "blas": blas_info(),
        "gpus": gpus,
        "anyad": {"version": _version("anyad"), "commit": _git_commit()},
        "libraries": libs,
    }
