"""Adapters for :mod:`benchmarks.opdb_table`: the shared helpers, and the linear-algebra,
FFT and ``nn.functional`` entries (torch's argument conventions turned into anyad's).

>>> _axis(np.zeros((2, 3)), ())  # torch reduces every axis for dim=()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import anyad as ad
import anyad.nn.functional as F
from anyad.variable import Variable


class Skip(Exception):
    """The sample uses an argument that anyad's counterpart has no meaning for."""


@dataclass(frozen=True)
class Spec:
    adapter: Callable
    torch: Callable | None = None  # replaces op.op when given
    complex: bool = True
    derivatives: bool = True  # False: the derivative is a documented choice (compare values only)


def _shape(x: Any) -> tuple:
    return tuple((x.value if isinstance(x, Variable) else x).shape)


def _ndim(x: Any) -> int:
    return len(_shape(x))


def _no(kwargs: dict, *allowed: str) -> None:
    extra = [k for k in kwargs if k not in allowed]
    if extra:
        raise Skip(f"keyword(s) {extra}")


def _axis(x: Any, dim: Any) -> Any:
    """torch's ``dim`` as an Array API ``axis``: ``()`` and ``[]`` reduce every axis
    in torch, and a 0-d tensor accepts dim 0 or -1."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        return None if len(dim) == 0 else tuple(dim)
    if _ndim(x) == 0 and dim in (0, -1):
        return None
    return dim


def _dtype_ok(x: Any, dtype: Any) -> None:
    if dtype is not None and str(dtype).replace("torch.", "") != str((x.value if isinstance(x, Variable)
                                                                     else x).dtype):
        raise Skip("dtype conversion")


def _plain(name: str, nargs: int = 1) -> Spec:
    f = getattr(ad, name)

    def adapter(*args: Any, **kwargs: Any) -> Any:
        _no(kwargs)
        if len(args) != nargs:
            raise Skip(f"{len(args)} arguments")
        return f(*args)

    return Spec(adapter)


# ---------------------------------------------------------------- linear algebra


def _vecdot(x: Any, y: Any, *, dim: int = -1) -> Any:
    return ad.vecdot(x, y, axis=dim)


def _cross(x: Any, y: Any, dim: Any = None) -> Any:
    if dim is None:
        dim = next(i for i, n in enumerate(np.broadcast_shapes(_shape(x), _shape(y))) if n == 3)
    return ad.cross(x, y, axis=dim)


def _linalg_cross(x: Any, y: Any, *, dim: int = -1) -> Any:
    return ad.cross(x, y, axis=dim)


def _tensordot(x: Any, y: Any, dims: Any = 2) -> Any:
    if isinstance(dims, (list, tuple)):
        dims = tuple(tuple(d) if isinstance(d, (list, tuple)) else (d,) for d in dims)
    return ad.tensordot(x, y, axes=dims)


def _vector_norm(x: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    _dtype_ok(x, dtype)
    return ad.vector_norm(x, axis=_axis(x, dim), keepdims=keepdim, ord=ord)


def _matrix_norm(x: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *, dtype: Any = None) -> Any:
    _dtype_ok(x, dtype)
    if tuple(d % _ndim(x) for d in dim) != (_ndim(x) - 2, _ndim(x) - 1):
        x = ad.moveaxis(x, tuple(dim), (-2, -1))
        if keepdim:
            raise Skip("keepdim over moved axes")
    return ad.matrix_norm(x, keepdims=keepdim, ord=ord)


def _cholesky(x: Any, upper: bool = False, *, out: Any = None) -> Any:
    # both sides factor x + x^H: torch reads one triangle, anyad the Hermitian part, so a
    # non-symmetric perturbation would compare two different functions
    return ad.cholesky(_hermitian(x), upper=upper)


def _torch_cholesky(op: Any) -> Callable:
    return lambda x, *args, **kwargs: op(x + x.mH, *args, **kwargs)


def _hermitian(x: Any) -> Any:
    return x + ad.conj(ad.matrix_transpose(x))


def _eigh(x: Any, UPLO: str = "L") -> Any:
    w, v = ad.eigh(_hermitian(x))
    return w, ad.real(v * ad.conj(v))


def _eigvalsh(x: Any, UPLO: str = "L") -> Any:
    return ad.eigvalsh(_hermitian(x))


def _torch_eigh(op: Any) -> Callable:
    import torch

    def f(x: Any, **kwargs: Any) -> Any:
        w, v = torch.linalg.eigh(x + x.mH)
        return w, (v * v.conj()).real

    return f


def _torch_eigvalsh(op: Any) -> Callable:
    import torch
    return lambda x, **kwargs: torch.linalg.eigvalsh(x + x.mH)


def _svd(x: Any, full_matrices: bool = True, *, driver: Any = None) -> Any:
    if full_matrices and min(_shape(x)[-2:]) != max(_shape(x)[-2:]):
        raise Skip("full_matrices of a non-square matrix (the extra vectors are not unique)")
    u, s, vh = ad.svd(x, full_matrices=full_matrices)
    return ad.real(u * ad.conj(u)), s, ad.real(vh * ad.conj(vh))


def _torch_svd(op: Any) -> Callable:
    import torch

    def f(x: Any, full_matrices: bool = True, **kwargs: Any) -> Any:
        u, s, vh = torch.linalg.svd(x, full_matrices=full_matrices)
        return (u * u.conj()).real, s, (vh * vh.conj()).real

    return f


def _solve(a: Any, b: Any, *, left: bool = True) -> Any:
    if not left:
        raise Skip("left=False")
    if _ndim(b) == _ndim(a) - 1 and _ndim(b) > 1:
        raise Skip("torch's batched right-hand vectors (the Array API takes only a 1-D x2 as a vector)")
    return ad.solve(a, b)


def _pinv(x: Any, rcond: Any = None, hermitian: bool = False, *, atol: Any = None, rtol: Any = None) -> Any:
    if hermitian or atol is not None or (rcond is not None and rtol is not None):
        raise Skip("hermitian/atol")
    r = rtol if rtol is not None else rcond
    return ad.pinv(x, rtol=r)


def _matrix_rank(x: Any, *args: Any, **kwargs: Any) -> Any:
    if args or kwargs:
        raise Skip("tolerances")
    return ad.matrix_rank(x)


def _qr(x: Any, mode: str = "reduced") -> Any:
    if mode != "reduced":
        raise Skip(f"mode {mode}")
    return tuple(ad.qr(x))


def _matrix_power(x: Any, n: int) -> Any:
    return ad.matrix_power(x, n)


def _trace(x: Any) -> Any:
    return ad.trace(x)


def _mT(x: Any) -> Any:
    return ad.matrix_transpose(x)


def _T(x: Any) -> Any:
    return ad.permute_dims(x, tuple(range(_ndim(x)))[::-1])


def _t(x: Any) -> Any:
    return _T(x)


# ---------------------------------------------------------------- fft


def _norm(norm: Any) -> str:
    return "backward" if norm is None else norm


def _fft1(name: str) -> Spec:
    f = getattr(ad.fft, name)

    def adapter(x: Any, n: Any = None, dim: int = -1, norm: Any = None) -> Any:
        return f(x, n=n, axis=dim, norm=_norm(norm))

    return Spec(adapter)


def _fftn(name: str, default_axes: Any = None) -> Spec:
    f = getattr(ad.fft, name)

    def adapter(x: Any, s: Any = None, dim: Any = default_axes, norm: Any = None) -> Any:
        axes = (dim,) if isinstance(dim, int) else (tuple(dim) if dim is not None else None)
        return f(x, s=tuple(s) if s is not None else None, axes=axes, norm=_norm(norm))

    return Spec(adapter)


def _fftshift(name: str) -> Spec:
    f = getattr(ad.fft, name)

    def adapter(x: Any, dim: Any = None) -> Any:
        axes = (dim,) if isinstance(dim, int) else (tuple(dim) if dim is not None else None)
        return f(x, axes=axes)

    return Spec(adapter)


# ---------------------------------------------------------------- nn.functional


def _class_last(x: Any) -> Any:
    return ad.moveaxis(x, 1, -1) if _ndim(x) >= 2 else x


def _loss_kwargs(kwargs: dict, *extra: str) -> dict:
    _no(kwargs, "reduction", *extra)
    return {k: v for k, v in kwargs.items()}


def _cross_entropy(x: Any, target: Any, **kwargs: Any) -> Any:
    kw = _loss_kwargs(kwargs, "label_smoothing")
    probs = _ndim(target) == _ndim(x)
    out = F.cross_entropy(_class_last(x), _class_last(target) if probs else target, **kw)
    return out


def _nll_loss(x: Any, target: Any, **kwargs: Any) -> Any:
    kw = _loss_kwargs(kwargs)
    return F.nll_loss(_class_last(x), target, **kw)


def _bce_logits(x: Any, target: Any, weight: Any = None, **kwargs: Any) -> Any:
    if weight is not None:
        raise Skip("weight")
    return F.binary_cross_entropy_with_logits(x, target, **_loss_kwargs(kwargs, "pos_weight"))


def _mse(x: Any, target: Any, **kwargs: Any) -> Any:
    return F.mse_loss(x, target, **_loss_kwargs(kwargs))


def _softmax(f: Callable) -> Callable:
    def adapter(x: Any, dim: int, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs.get("dtype") is not None or kwargs.get("_stacklevel") not in (None, 3):
            raise Skip("dtype")
        if _ndim(x) == 0:
            return ad.reshape(f(ad.reshape(x, (1,)), axis=0), ())
        return f(x, axis=dim)

    return adapter


def _gelu(x: Any, approximate: str = "none") -> Any:
    return F.gelu(x, approximate=approximate)


def _softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    if beta != 1 or threshold != 20:
        raise Skip("beta/threshold")
    return F.softplus(x)


def _layer_norm(x: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    return F.layer_norm(x, tuple(normalized_shape), weight, bias, eps=eps)


def _linear(x: Any, weight: Any, bias: Any = None) -> Any:
    return F.linear(x, weight, bias)


def _embedding(weight: Any, idx: Any, **kwargs: Any) -> Any:
    _no(kwargs)
    return F.embedding(idx, weight)


def _one_hot(x: Any, num_classes: int = -1) -> Any:
    if num_classes == -1:
        raise Skip("inferred num_classes")
    return F.one_hot(x, num_classes)


def _mm(x: Any, y: Any) -> Any:
    return ad.matmul(x, y)
