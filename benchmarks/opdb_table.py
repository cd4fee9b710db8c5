"""The mapping from torch's operator database to anyad, for :mod:`benchmarks.opdb_crosscheck`.

Each entry of :data:`TABLE` takes an op_db name (``name`` or
``name.variant``) to an *adapter*: a function called like torch's op (the
sample's input, positional args and keyword args, with tensors replaced by
anyad values or numpy constants) that computes the same thing with anyad, or
raises :class:`Skip` when the sample uses an argument with no anyad meaning.

A :class:`Spec` may also carry ``torch``: a torch-side function replacing the
op (for outputs that must be made comparable first, e.g. the sign-free parts
of a decomposition, or torch outputs anyad does not return), and
``complex``: whether complex128 samples are run.

>>> TABLE["sum"].adapter(np.arange(6.0).reshape(2, 3), dim=1, keepdim=True).shape
(2, 1)
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

import anyad as ad
import anyad.array_api as xp
import anyad.nn.functional as F
from anyad.variable import Variable

from .opdb_adapters import (
    Skip, Spec, _T, _axis, _bce_logits, _cholesky, _cross, _cross_entropy, _dtype_ok, _eigh,
    _eigvalsh, _embedding, _fft1, _fftn, _fftshift, _gelu, _layer_norm, _linalg_cross, _linear, _mT,
    _matrix_norm, _matrix_power, _matrix_rank, _mm, _mse, _ndim, _nll_loss, _no, _one_hot, _pinv,
    _plain, _qr, _shape, _softmax, _softplus, _solve, _svd, _t, _tensordot, _torch_cholesky,
    _torch_eigh, _torch_eigvalsh, _torch_svd, _trace, _vecdot, _vector_norm,
)

__all__ = ["TABLE", "Skip", "Spec"]


# ---------------------------------------------------------------- reductions


def _reduce(f: Callable, *, dtype_kw: bool = True) -> Spec:
    def adapter(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
        _dtype_ok(x, dtype)
        return f(x, axis=_axis(x, dim), keepdims=keepdim)

    return Spec(adapter)


def _reduce_all(f: Callable) -> Spec:
    def adapter(x: Any, **kwargs: Any) -> Any:
        _no(kwargs)
        return f(x)

    return Spec(adapter)


def _reduce_with_dim(f: Callable) -> Spec:
    def adapter(x: Any, dim: int, keepdim: bool = False) -> Any:
        return f(x, axis=_axis(x, dim), keepdims=keepdim)

    return Spec(adapter, torch=lambda op: lambda *a, **k: op(*a, **k)[0])


def _moment(f: Callable, unbiased_default: bool = True) -> Callable:
    def adapter(x: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
                correction: Any = None) -> Any:
        if isinstance(dim, bool):  # std(x, unbiased)
            dim, unbiased = None, dim
        c = 1 if correction is None else correction
        if unbiased is not None:
            c = 1 if unbiased else 0
        return f(x, axis=_axis(x, dim), correction=c, keepdims=keepdim)

    return adapter


def _std_mean(f: Callable) -> Callable:
    g = _moment(f)

    def adapter(x: Any, *args: Any, **kwargs: Any) -> Any:
        dim = args[0] if args and not isinstance(args[0], bool) else kwargs.get("dim")
        keep = kwargs.get("keepdim", False)
        return g(x, *args, **kwargs), ad.mean(x, axis=_axis(x, dim), keepdims=keep)

    return adapter


def _cumulative(f: Callable) -> Spec:
    def adapter(x: Any, dim: int, *, dtype: Any = None) -> Any:
        _dtype_ok(x, dtype)
        if _ndim(x) == 0:
            return f(ad.reshape(x, (1,)), axis=0)[0]
        return f(x, axis=dim)

    return Spec(adapter)


def _logsumexp(x: Any, dim: Any, keepdim: bool = False) -> Any:
    if _ndim(x) == 0:
        return ad.positive(x)  # torch: a 0-d tensor is its own logsumexp over dim 0
    return ad.logsumexp(x, axis=_axis(x, dim), keepdims=keepdim)


# ---------------------------------------------------------------- elementwise


def _binary_alpha(f: Callable, reverse: bool = False) -> Callable:
    def adapter(x: Any, y: Any, *, alpha: Any = None) -> Any:
        if alpha is not None:
            y = y * alpha if not reverse else y
            x = x * alpha if reverse else x
        return f(y, x) if reverse else f(x, y)

    return adapter


def _clamp(x: Any, min: Any = None, max: Any = None) -> Any:
    if min is None and max is None:
        raise Skip("clamp without bounds")
    if np.asarray(x.value if isinstance(x, Variable) else x).dtype.kind in "iub":
        raise Skip("integer x with floating bounds (the standard keeps x's dtype, torch promotes)")
    return ad.clip(x, min, max)


def _round(x: Any, **kwargs: Any) -> Any:
    if kwargs.get("decimals", 0):
        raise Skip("decimals")
    return ad.round(x)


def _reverse(f: Callable) -> Callable:
    def adapter(x: Any, other: Any) -> Any:
        if not hasattr(x, "shape"):
            raise Skip("a Python scalar as self")
        return f(other, x)

    return adapter


def _complex(re: Any, im: Any) -> Any:
    return ad.add(re, ad.multiply(im, 1j))


# ---------------------------------------------------------------- manipulation


def _reshape(x: Any, *shape: Any) -> Any:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return ad.reshape(x, tuple(shape))


def _expand(x: Any, *shape: Any) -> Any:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    old = _shape(x)
    lead = len(shape) - len(old)
    full = tuple(old[i - lead] if s == -1 else s for i, s in enumerate(shape))
    return ad.broadcast_to(x, full)


def _flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    s = _shape(x)
    if not s:
        return ad.reshape(x, (1,))
    a, b = start_dim % len(s), end_dim % len(s)
    return ad.reshape(x, s[:a] + (int(np.prod(s[a:b + 1])),) + s[b + 1:])


def _squeeze(x: Any, dim: Any = None) -> Any:
    s = _shape(x)
    if dim is None:
        dims = tuple(i for i, n in enumerate(s) if n == 1)
    else:
        dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        dims = tuple(d % max(len(s), 1) for d in dims if s and s[d] == 1)
    return ad.squeeze(x, axis=dims) if dims else ad.positive(x)


def _unsqueeze(x: Any, dim: int) -> Any:
    return ad.expand_dims(x, axis=dim)


def _permute(x: Any, *dims: Any) -> Any:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return ad.permute_dims(x, tuple(dims))


def _transpose(x: Any, d0: int, d1: int) -> Any:
    n = _ndim(x)
    if n == 0:
        return ad.positive(x)
    p = list(range(n))
    p[d0 % n], p[d1 % n] = p[d1 % n], p[d0 % n]
    return ad.permute_dims(x, tuple(p))


def _cat(tensors: Any, dim: int = 0) -> Any:
    kept = [t for t in tensors if _shape(t) != (0,)]  # torch skips legacy empty (0,) inputs
    return ad.concat(kept or list(tensors), axis=dim)


def _stack(tensors: Any, dim: int = 0) -> Any:
    return ad.stack(list(tensors), axis=dim)


def _flip(x: Any, dims: Any) -> Any:
    return ad.flip(x, axis=tuple(dims) if isinstance(dims, (tuple, list)) else dims)


def _roll(x: Any, shifts: Any, dims: Any = None) -> Any:
    if dims is None:
        return ad.reshape(ad.roll(ad.reshape(x, (-1,)), shift=shifts), _shape(x))
    return ad.roll(x, shift=shifts, axis=dims)


def _tile(x: Any, dims: Any) -> Any:
    return ad.tile(x, tuple(dims))


def _repeat_interleave(x: Any, repeats: Any = None, dim: Any = None, *, output_size: Any = None) -> Any:
    if repeats is None:
        raise Skip("repeat_interleave(repeats) form")
    if dim is None:
        return ad.repeat(ad.reshape(x, (-1,)), repeats, axis=0)
    return ad.repeat(x, repeats, axis=dim)


def _diagonal(x: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
    return ad.diagonal(ad.moveaxis(x, (dim1, dim2), (-2, -1)), offset=offset)


def _linalg_diagonal(x: Any, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Any:
    return _diagonal(x, offset, dim1, dim2)


def _tri(f: Callable) -> Callable:
    def adapter(x: Any, diagonal: int = 0) -> Any:
        return f(x, k=diagonal)

    return adapter


def _movedim(x: Any, source: Any, destination: Any) -> Any:
    return ad.moveaxis(x, source, destination)


def _index_select(x: Any, dim: int, index: Any) -> Any:
    if _ndim(x) == 0:
        return ad.reshape(ad.take(ad.reshape(x, (1,)), np.reshape(index, (-1,)), axis=0), ())
    return ad.take(x, np.reshape(index, (-1,)), axis=dim)


def _take(x: Any, index: Any) -> Any:
    return ad.reshape(ad.take(ad.reshape(x, (-1,)), np.reshape(index, (-1,)), axis=0), np.shape(index))


def _take_along_dim(x: Any, indices: Any, dim: Any = None) -> Any:
    if dim is None:
        return ad.take_along_axis(ad.reshape(x, (-1,)), np.reshape(indices, (-1,)), axis=0)
    return ad.take_along_axis(x, indices, axis=dim)


def _gather(x: Any, dim: int, index: Any, *, sparse_grad: bool = False) -> Any:
    if np.shape(index) != _shape(x) or _ndim(x) == 0:
        raise Skip("gather with an index of another shape")
    return ad.take_along_axis(x, np.asarray(index, dtype=np.int64), axis=dim)


def _index_add(x: Any, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:
    if _ndim(x) == 0:
        key = (np.reshape(index, (-1,)),)
        added = ad.index_add(ad.reshape(source, (-1,)) * alpha, key, (1,))
        return x + ad.reshape(added, ())
    d = dim % _ndim(x)
    key = (slice(None),) * d + (index,)
    return x + ad.index_add(source * alpha, key, _shape(x))


def _getitem(x: Any, index: Any) -> Any:
    if isinstance(index, list):
        index = np.asarray(index)
    elif isinstance(index, tuple):
        index = tuple(np.asarray(i) if isinstance(i, list) else i for i in index)
    return x[index]


def _where(x: Any, condition: Any, other: Any) -> Any:
    return ad.where(condition, x, other)


def _sort(x: Any, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
    if isinstance(dim, bool):
        dim, descending = -1, dim
    if _ndim(x) == 0:
        return ad.positive(x)
    return ad.sort(x, axis=dim, descending=descending, stable=True)


def _argsort(x: Any, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
    if not stable:
        raise Skip("unstable argsort (tied indices are unspecified)")
    return ad.argsort(x, axis=dim, descending=descending, stable=True)


def _unbind(x: Any, dim: int = 0) -> Any:
    return ad.unstack(x, axis=dim)


def _diff(x: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Any:
    return ad.diff(x, axis=dim, n=n, prepend=prepend, append=append)


def _unique(x: Any, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
            dim: Any = None) -> Any:
    if return_inverse or return_counts or dim is not None:
        raise Skip("unique with inverse/counts/dim")
    return xp.unique_values(ad.reshape(x, (-1,)))


UNARY = ["abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "conj", "cos", "cosh", "erf",
         "exp", "expm1", "floor", "imag", "isfinite", "isinf", "isnan", "log", "log10", "log1p", "log2",
         "positive", "real", "reciprocal", "sign", "signbit", "sin", "sinh", "sqrt", "square", "tan", "tanh",
         "trunc"]
BINARY = ["atan2", "copysign", "hypot", "logaddexp", "maximum", "minimum", "nextafter", "pow", "remainder",
          "floor_divide", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
          "bitwise_right_shift", "logical_and", "logical_or", "logical_xor"]

TABLE: dict[str, Spec] = {name: _plain(name) for name in UNARY}
TABLE.update({name: _plain(name, 2) for name in BINARY})
# nextafter steps by one ulp: anyad gives it no gradient (a step function), torch passes 1 to x
TABLE["nextafter"] = Spec(TABLE["nextafter"].adapter, derivatives=False)
TABLE.update({
    "neg": _plain("negative"), "sgn": _plain("sign"), "conj_physical": _plain("conj"),
    "bitwise_not": _plain("bitwise_invert"), "logical_not": _plain("logical_not"),
    "sigmoid": Spec(lambda x: F.sigmoid(x)), "round": Spec(_round),
    "add": Spec(_binary_alpha(ad.add)), "sub": Spec(_binary_alpha(ad.subtract)),
    "rsub": Spec(_binary_alpha(ad.subtract, reverse=True)), "mul": Spec(_plain("multiply", 2).adapter),
    "div.no_rounding_mode": _plain("divide", 2), "true_divide": _plain("divide", 2),
    "div.floor_rounding": Spec(lambda x, y, rounding_mode=None: ad.floor_divide(x, y)),
    "div.trunc_rounding": Spec(lambda x, y, rounding_mode=None: ad.trunc(ad.divide(x, y))),
    "max.binary": _plain("maximum", 2), "min.binary": _plain("minimum", 2),
    "eq": _plain("equal", 2), "ne": _plain("not_equal", 2), "lt": _plain("less", 2),
    "le": _plain("less_equal", 2), "gt": _plain("greater", 2), "ge": _plain("greater_equal", 2),
    "clamp": Spec(_clamp), "clamp_min": Spec(lambda x, m: ad.clip(x, m, None)),
    "clamp_max": Spec(lambda x, m: ad.clip(x, None, m)), "complex": Spec(_complex, complex=False),
    "__radd__": Spec(_reverse(operator.add)), "__rsub__": Spec(_reverse(operator.sub)),
    "__rmul__": Spec(_reverse(operator.mul)), "__rdiv__": Spec(_reverse(operator.truediv)),
    "__rpow__": Spec(_reverse(operator.pow)), "__rmod__": Spec(_reverse(operator.mod)),
    "__rmatmul__": Spec(_reverse(operator.matmul)), "__getitem__": Spec(_getitem),
    # reductions
    "sum": _reduce(ad.sum), "mean": _reduce(ad.mean), "amax": _reduce(ad.max), "amin": _reduce(ad.min),
    "prod": _reduce(ad.prod), "logsumexp": Spec(_logsumexp, complex=False),  # complex: log's branch differs
    "all": _reduce(xp.all), "any": _reduce(xp.any), "count_nonzero": _reduce(xp.count_nonzero),
    "argmax": _reduce(xp.argmax), "argmin": _reduce(xp.argmin),
    "max.reduction_no_dim": _reduce_all(ad.max), "min.reduction_no_dim": _reduce_all(ad.min),
    "max.reduction_with_dim": _reduce_with_dim(ad.max), "min.reduction_with_dim": _reduce_with_dim(ad.min),
    "std": Spec(_moment(ad.std)), "var": Spec(_moment(ad.var)), "std.unbiased": Spec(_moment(ad.std)),
    "var.unbiased": Spec(_moment(ad.var)), "std_mean": Spec(_std_mean(ad.std)),
    "var_mean": Spec(_std_mean(ad.var)), "std_mean.unbiased": Spec(_std_mean(ad.std)),
    "var_mean.unbiased": Spec(_std_mean(ad.var)),
    "cumsum": _cumulative(ad.cumulative_sum), "cumprod": _cumulative(ad.cumulative_prod),
    # manipulation
    "reshape": Spec(_reshape), "view": Spec(_reshape), "expand": Spec(_expand),
    "broadcast_to": Spec(_expand), "flatten": Spec(_flatten), "ravel": Spec(lambda x: ad.reshape(x, (-1,))),
    "squeeze": Spec(_squeeze), "squeeze.multiple": Spec(_squeeze), "unsqueeze": Spec(_unsqueeze),
    "permute": Spec(_permute), "transpose": Spec(_transpose), "movedim": Spec(_movedim),
    "T": Spec(_T), "mT": Spec(_mT), "mH": Spec(lambda x: ad.conj(ad.matrix_transpose(x))), "t": Spec(_t),
    "cat": Spec(_cat), "stack": Spec(_stack), "flip": Spec(_flip), "fliplr": Spec(lambda x: ad.flip(x, axis=1)),
    "flipud": Spec(lambda x: ad.flip(x, axis=0)), "roll": Spec(_roll), "tile": Spec(_tile),
    "repeat_interleave": Spec(_repeat_interleave), "diagonal": Spec(_diagonal),
    "linalg.diagonal": Spec(_linalg_diagonal), "tril": Spec(_tri(ad.tril)), "triu": Spec(_tri(ad.triu)),
    "index_select": Spec(_index_select), "take": Spec(_take), "take_along_dim": Spec(_take_along_dim),
    "gather": Spec(_gather), "index_add": Spec(_index_add), "where": Spec(_where),
    "sort": Spec(_sort, torch=lambda op: lambda *a, **k: op(*a, **k)[0]), "argsort": Spec(_argsort),
    "unbind": Spec(_unbind), "diff": Spec(_diff), "unique": Spec(_unique, complex=False),
    "expand_as": Spec(lambda x, y: ad.broadcast_to(x, _shape(y))),
    "reshape_as": Spec(lambda x, y: ad.reshape(x, _shape(y))),
    # linear algebra
    "matmul": _plain("matmul", 2), "mm": Spec(_mm), "bmm": Spec(_mm), "mv": Spec(_mm), "dot": Spec(_mm),
    "vdot": Spec(lambda x, y: ad.vecdot(x, y)), "outer": _plain("outer", 2), "linalg.vecdot": Spec(_vecdot),
    "cross": Spec(_cross), "linalg.cross": Spec(_linalg_cross), "tensordot": Spec(_tensordot),
    "trace": Spec(_trace), "linalg.vector_norm": Spec(_vector_norm), "linalg.matrix_norm": Spec(_matrix_norm),
    "linalg.cholesky": Spec(_cholesky, torch=_torch_cholesky), "cholesky": Spec(_cholesky, torch=_torch_cholesky), "linalg.det": _plain("det"),
    "linalg.slogdet": Spec(lambda x: tuple(ad.slogdet(x))), "linalg.inv": _plain("inv"),
    "linalg.solve": Spec(_solve), "linalg.eigh": Spec(_eigh, torch=_torch_eigh),
    "linalg.eigvalsh": Spec(_eigvalsh, torch=_torch_eigvalsh), "linalg.svd": Spec(_svd, torch=_torch_svd),
    "linalg.svdvals": Spec(lambda x, driver=None: ad.svdvals(x)), "linalg.qr": Spec(_qr),
    "linalg.pinv": Spec(_pinv),
    "linalg.pinv.singular": Spec(lambda a, b: ad.pinv(ad.matmul(a, ad.matrix_transpose(b)))), "pinverse": Spec(_pinv),
    "linalg.matrix_power": Spec(_matrix_power), "linalg.matrix_rank": Spec(_matrix_rank),
    # fft
    **{f"fft.{n}": _fft1(n) for n in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")},
    **{f"fft.{n}": _fftn(n) for n in ("fftn", "ifftn", "rfftn", "irfftn")},
    **{f"fft.{n}2": _fftn(n + "n", (-2, -1)) for n in ("fft", "ifft", "rfft", "irfft")},
    "fft.fftshift": _fftshift("fftshift"), "fft.ifftshift": _fftshift("ifftshift"),
    # nn.functional
    "nn.functional.relu": Spec(lambda x, inplace=False: F.relu(x)),
    "softmax": Spec(_softmax(F.softmax)), "log_softmax": Spec(_softmax(F.log_softmax)),
    "nn.functional.gelu": Spec(_gelu), "nn.functional.softplus": Spec(_softplus),
    "nn.functional.layer_norm": Spec(_layer_norm), "nn.functional.linear": Spec(_linear),
    "nn.functional.mse_loss": Spec(_mse), "nn.functional.cross_entropy": Spec(_cross_entropy),
    "nn.functional.nll_loss": Spec(_nll_loss),
    "nn.functional.binary_cross_entropy_with_logits": Spec(_bce_logits),
    "nn.functional.embedding": Spec(_embedding), "nn.functional.one_hot": Spec(_one_hot),
})
