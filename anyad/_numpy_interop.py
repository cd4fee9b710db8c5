"""NumPy's override protocols on Variables: ``np.sin(v)``, ``np.sum(v)``,
``np.matmul(W, x)`` run anyad's differentiable functions.

* ``__array_ufunc__`` (NEP 13) maps every NumPy ufunc with an anyad
  counterpart (:data:`UFUNCS`), for ``__call__``, and for the ``reduce``,
  ``accumulate`` and ``outer`` methods where anyad has the matching function.
* ``__array_function__`` (NEP 18) maps the NumPy functions with an anyad
  counterpart (:data:`FUNCTIONS`) to implementations with NumPy's signatures
  (:mod:`anyad._numpy_functions`).
* ``__cupy_override_elementwise_kernel__``, CuPy's own hook, sends
  ``cupy.sin(v)`` & co. through the same ufunc table (CuPy calls it instead
  of ``__array_ufunc__``; written to CuPy's protocol, untested without a GPU).

Anything else raises a :class:`TypeError` naming the ufunc or function and
the closest anyad function (:data:`_CLOSEST`, else the nearest name), and
``__array__`` (``np.asarray(v)``, which third-party code calls) refuses a
Variable that is part of a graph: a graph is never silently dropped. A
constant Variable converts to its value. NumPy arrays mixed with Variables of another backend
are copied to that backend and device first.

Only NumPy and CuPy call these hooks: Variable's own operators never pass
through this module, so they cost nothing there.

Examples
--------
>>> import numpy as np
>>> import anyad as ad
>>> x = ad.Variable([0.0, 1.0], requires_grad=True)
>>> np.sum(np.sin(x) * x).backward()
>>> x.grad
array([0.        , 1.38177329])
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from . import _backend
from . import _numpy_functions as _fn
from .array_api import _functions as _array_api
from . import ops as _ops
from ._state import tracer as _tracer
from .variable import Variable

__all__ = ["array_ufunc", "array_function", "cupy_elementwise", "UFUNCS", "FUNCTIONS"]

_NUMPY_TYPES = (np.ndarray, np.generic)


#: NumPy names without an anyad counterpart -> the closest anyad function(s)
_CLOSEST = {
    "median": "anyad.sort (the middle of the sorted values), or anyad.mean",
    "percentile": "anyad.sort (then index the sorted values)",
    "quantile": "anyad.sort (then index the sorted values)",
    "average": "anyad.mean, or ad.sum(a * w) / ad.sum(w) for weights",
    "nansum": "anyad.sum of anyad.where(anyad.isnan(x), 0.0, x)",
    "nanmean": "anyad.mean over anyad.where(anyad.isnan(x), ...)", "nanmax": "anyad.max",
    "nanmin": "anyad.min",
    "nanprod": "anyad.prod", "nanstd": "anyad.std", "nanvar": "anyad.var", "nan_to_num": "anyad.where",
    "ptp": "anyad.max(x) - anyad.min(x)", "fmod": "anyad.remainder (Python's sign convention, not C's)",
    "fmax": "anyad.maximum (which propagates NaN)", "fmin": "anyad.minimum (which propagates NaN)",
    "float_power": "anyad.pow", "logaddexp2": "anyad.logaddexp", "heaviside": "anyad.where",
    "divmod": "anyad.floor_divide and anyad.remainder", "modf": "anyad.trunc", "ldexp": "anyad.multiply",
    "sinc": "anyad.sin(pi * x) / (pi * x)", "angle": "anyad.atan2(anyad.imag(z), anyad.real(z))",
    "split": "indexing (x[a:b]) or anyad.unstack", "array_split": "indexing (x[a:b]) or anyad.unstack",
    "pad": "anyad.concat (with anyad.zeros)", "kron": "anyad.einsum", "meshgrid": "anyad.broadcast_to",
    "isclose": "a comparison of .value (a boolean result needs no gradient)",
    "allclose": "a comparison of .value (a boolean result needs no gradient)",
    "array_equal": "a comparison of .value (a boolean result needs no gradient)",
    "linalg.eig": "anyad.linalg.eigh (symmetric matrices)",
    "linalg.eigvals": "anyad.linalg.eigvalsh (symmetric matrices)",
    "linalg.lstsq": "anyad.linalg.pinv (pinv(a) @ b) or anyad.linalg.solve",
    "linalg.cond": "anyad.linalg.svdvals (the largest over the smallest)", "gradient": "anyad.diff",
    "dstack": "anyad.concat or anyad.stack", "column_stack": "anyad.stack", "logspace": "anyad.linspace",
    "isposinf": "anyad.isinf", "isneginf": "anyad.isinf", "argwhere": "anyad.array_api.nonzero",
    "flatnonzero": "anyad.array_api.nonzero", "put_along_axis": "anyad.index_add, or x[key] = v",
    "fill_diagonal": "x[key] = v on a Variable that requires no grad", "nanmedian": "anyad.sort",
    "nanpercentile": "anyad.sort", "nanquantile": "anyad.sort", "nancumsum": "anyad.cumulative_sum",
    "nancumprod": "anyad.cumulative_prod", "rot90": "anyad.flip and anyad.matrix_transpose",
    "linalg.tensorsolve": "anyad.linalg.solve (after a reshape)",
    "linalg.tensorinv": "anyad.linalg.inv (after a reshape)",
}


def _closest(what: str) -> str | None:
    """The anyad function nearest to the NumPy function ``what`` ("numpy.linalg.eig"):
    from :data:`_CLOSEST`, else one of the same name (never a guess by spelling:
    ``gradient`` is not ``stop_gradient``)."""
    name = what.rsplit(".", 1)[-1]
    key = "linalg." + name if ".linalg." in what else name
    if key in _CLOSEST:
        return _CLOSEST[key]
    if ".linalg." not in what and ".fft." not in what:
        if name in _ops.__all__:
            return f"anyad.{name}"
        if name in _array_api.__all__:
            return f"anyad.array_api.{name} (the standard's namespace)"
    return None


def _names_it(what: str, hint: str = "") -> TypeError:
    near = _closest(what)
    advice = f"the closest is {near}" if near else "see anyad's functions (the Array API standard's names)"
    return TypeError(
        f"anyad: {what} has no differentiable anyad counterpart for Variables{hint}; {advice}. "
        "For a plain (non-differentiable) array, use .value"
    )


# ---------------------------------------------------------------------------
# operands: NumPy data beside a Variable of another backend moves to it
# ---------------------------------------------------------------------------


def _reference(args: Any) -> Any:
    """The value of the first Variable in ``args`` (one level of sequences deep)."""
    for a in args:
        if isinstance(a, Variable):
            return a.value
        if isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, Variable):
                    return b.value
    return None


def _convert(args: tuple) -> tuple:
    """Copy NumPy arrays in ``args`` to the backend and device of the first
    Variable, when that backend is not NumPy (nothing to do otherwise)."""
    ref = _reference(args)
    if ref is None or isinstance(ref, np.ndarray):
        return args
    xp = _backend.namespace_of(ref)
    dev = _backend.device_of(ref)

    def move(a: Any) -> Any:
        if isinstance(a, _NUMPY_TYPES):
            try:
                return xp.asarray(a, device=dev)
            except TypeError:  # a namespace whose asarray takes no device (CuPy: the current one)
                return xp.asarray(a)
        if isinstance(a, list):
            return [move(b) for b in a]
        if isinstance(a, tuple):
            return tuple(move(b) for b in a)
        return a

    return tuple(move(a) for a in args)


_MAYBE_FOREIGN = (np.ndarray, np.generic, list, tuple)


def _operands(args: tuple) -> tuple:
    """``args``, with NumPy data moved to the first Variable's backend when that
    is not NumPy (one pass over ``args`` in the common cases)."""
    ref = None
    foreign = False
    for a in args:
        if isinstance(a, Variable):
            if ref is None:
                ref = a.value
        elif isinstance(a, _MAYBE_FOREIGN):
            foreign = True
    if not foreign or type(ref) is np.ndarray:
        return args
    return _convert(args)


# ---------------------------------------------------------------------------
# ufuncs
# ---------------------------------------------------------------------------


def _reciprocal(x: Any) -> Any:
    return _ops.divide(1.0, x)


def _cbrt(x: Any) -> Any:
    return _ops.multiply(_ops.sign(x), _ops.pow(_ops.abs(x), 1.0 / 3.0))


def _exp2(x: Any) -> Any:
    return _ops.pow(2.0, x)


def _logaddexp(a: Any, b: Any) -> Any:
    return _ops.add(_ops.maximum(a, b), _ops.log1p(_ops.exp(_ops.negative(_ops.abs(_ops.subtract(a, b))))))


def _square(x: Any) -> Any:
    # a Python number is squared in Python: anyad on two numbers would make a
    # default-dtype array, which promotes float32 operands
    return x * x if type(x) in (int, float) else _ops.multiply(x, x)


def _hypot(a: Any, b: Any) -> Any:
    return _ops.sqrt(_ops.add(_square(a), _square(b)))


def _deg2rad(x: Any) -> Any:
    return _ops.multiply(x, np.pi / 180.0)


def _rad2deg(x: Any) -> Any:
    return _ops.multiply(x, 180.0 / np.pi)


def _vecdot(a: Any, b: Any, axis: int = -1) -> Any:
    return _ops.vecdot(a, b, axis=axis)


#: NumPy ufunc -> anyad function of the same arguments
UFUNCS: dict = {
    np.add: _ops.add, np.subtract: _ops.subtract, np.multiply: _ops.multiply, np.divide: _ops.divide,
    np.power: _ops.pow, np.negative: _ops.negative, np.positive: _ops.positive,
    np.absolute: _ops.abs, np.fabs: _ops.abs, np.square: _ops.square, np.sqrt: _ops.sqrt,
    np.reciprocal: _reciprocal, np.cbrt: _cbrt,
    np.exp: _ops.exp, np.exp2: _exp2, np.expm1: _ops.expm1, np.log: _ops.log, np.log1p: _ops.log1p,
    np.log2: _ops.log2, np.log10: _ops.log10, np.logaddexp: _logaddexp,
    np.sin: _ops.sin, np.cos: _ops.cos, np.tan: _ops.tan, np.arcsin: _ops.asin, np.arccos: _ops.acos,
    np.arctan: _ops.atan, np.arctan2: _ops.atan2, np.hypot: _hypot, np.deg2rad: _deg2rad,
    np.radians: _deg2rad, np.rad2deg: _rad2deg, np.degrees: _rad2deg,
    np.sinh: _ops.sinh, np.cosh: _ops.cosh, np.tanh: _ops.tanh, np.arcsinh: _ops.asinh,
    np.arccosh: _ops.acosh, np.arctanh: _ops.atanh,
    np.remainder: _ops.remainder, np.floor_divide: _ops.floor_divide,
    np.maximum: _ops.maximum, np.minimum: _ops.minimum, np.sign: _ops.sign, np.floor: _ops.floor,
    np.ceil: _ops.ceil, np.rint: _ops.round, np.trunc: _ops.trunc,
    np.matmul: _ops.matmul, np.vecdot: _vecdot,
    np.equal: _ops.equal, np.not_equal: _ops.not_equal, np.less: _ops.less, np.less_equal: _ops.less_equal,
    np.greater: _ops.greater, np.greater_equal: _ops.greater_equal, np.logical_and: _ops.logical_and,
    np.logical_or: _ops.logical_or, np.logical_xor: _ops.logical_xor, np.logical_not: _ops.logical_not,
    np.isnan: _ops.isnan, np.isinf: _ops.isinf, np.isfinite: _ops.isfinite,
    np.conjugate: _ops.conj, np.copysign: _ops.copysign, np.nextafter: _ops.nextafter,
    np.signbit: _ops.signbit,
    np.bitwise_and: _ops.bitwise_and, np.bitwise_or: _ops.bitwise_or, np.bitwise_xor: _ops.bitwise_xor,
    np.invert: _ops.bitwise_invert, np.left_shift: _ops.bitwise_left_shift,
    np.right_shift: _ops.bitwise_right_shift,
}

#: ufunc name -> anyad function (CuPy's ufuncs are found by name: ``cupy_sin``)
_BY_NAME: dict = {uf.__name__: f for uf, f in UFUNCS.items()}
_BY_NAME["true_divide"] = _ops.divide
_BY_NAME["abs"] = _ops.abs

# ``reduce`` / ``accumulate``: ufunc name -> anyad reduction (NumPy's default axis is 0)
_REDUCE = {"add": _ops.sum, "multiply": _ops.prod, "maximum": _ops.max, "minimum": _ops.min}
_ACCUMULATE = {"add": _ops.cumulative_sum}

# keyword arguments accepted at their default value only
_DEFAULT_KW = {"where": True, "casting": "same_kind", "order": "K", "subok": True, "dtype": None,
               "signature": None}


def _check_kwargs(label: str, kwargs: dict, allowed: tuple = ()) -> dict:
    """Refuse ``out=`` and non-default ufunc options; return the ``allowed`` ones."""
    keep = {}
    for k, v in kwargs.items():
        if k in allowed:
            keep[k] = v
        elif k == "out":
            if all(o is None for o in (v if isinstance(v, tuple) else (v,))):
                continue
            raise TypeError(
                f"anyad: {label}(..., out=...) cannot write into an array: a Variable's value is "
                "immutable history; use the returned value instead (y = a + b, not out=)"
            )
        elif k in _DEFAULT_KW and (v is _DEFAULT_KW[k] or (type(v) is str and v == _DEFAULT_KW[k])):
            continue
        else:
            raise TypeError(f"anyad: {label} does not support the argument {k}={v!r} on Variables")
    return keep


def _scipy_special(ufunc: Any, name: str) -> Any:
    """anyad's counterpart of a ``scipy.special`` ufunc that SciPy applies itself
    (``log_expit``, ``erfcinv``: not dispatched to the namespace), else None."""
    sp = sys.modules.get("scipy.special")
    if sp is None or getattr(sp, name, None) is not ufunc:
        return None
    from .array_api import special

    return getattr(special, name, None)


def array_ufunc(ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
    """``Variable.__array_ufunc__``: run the anyad counterpart of ``ufunc``.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> np.maximum(ad.Variable([1.0, 4.0]), np.array([2.0, 3.0]))
    Variable([2. 4.])
    >>> np.add.reduce(ad.Variable([[1.0, 2.0], [3.0, 4.0]]))
    Variable([4. 6.])
    """
    if method == "__call__":
        f = UFUNCS.get(ufunc)
        if f is not None and not kwargs:  # the common case
            return f(*_operands(inputs))
        name = getattr(ufunc, "__name__", repr(ufunc))
        if f is None:
            f = _BY_NAME.get(name) or _scipy_special(ufunc, name)
            if f is None:
                raise _names_it(f"numpy.{name}")
        if kwargs:
            kwargs = _check_kwargs(f"numpy.{name}", kwargs, ("axis",) if f is _vecdot else ())
        inputs = _operands(inputs)
        return f(*inputs, **kwargs) if kwargs else f(*inputs)
    name = getattr(ufunc, "__name__", repr(ufunc))
    label = f"numpy.{name}.{method}"
    if method in ("reduce", "accumulate"):
        f = (_REDUCE if method == "reduce" else _ACCUMULATE).get(name)
        if f is None:
            raise _names_it(label)
        kw = _check_kwargs(label, kwargs, ("axis", "keepdims"))
        axis = kw.get("axis", 0)
        (x,) = inputs
        if method == "accumulate":
            if axis is None:
                raise TypeError(f"anyad: {label} needs an integer axis")
            return f(x, axis=axis)
        return f(x, axis=axis, keepdims=kw.get("keepdims", False))
    if method == "outer":
        f = UFUNCS.get(ufunc) or _BY_NAME.get(name)
        if f is None or len(inputs) != 2:
            raise _names_it(label)
        _check_kwargs(label, kwargs)
        a, b = _operands(inputs)
        nb = len(getattr(b, "shape", ()))
        a_shape = tuple(getattr(a, "shape", ()))
        return f(_ops.reshape(a, a_shape + (1,) * nb) if nb else a, b)
    raise _names_it(label)


def cupy_elementwise(kernel: Any, args: tuple, kwargs: dict) -> Any:
    """``Variable.__cupy_override_elementwise_kernel__``: CuPy's ufunc hook.

    CuPy calls it from ``cupy.ufunc.__call__`` (and ``ElementwiseKernel``) when
    an argument defines it; its ufuncs are named ``cupy_<numpy name>``.
    """
    name = str(getattr(kernel, "name", getattr(kernel, "__name__", kernel)))
    base = name[5:] if name.startswith("cupy_") else name
    f = _BY_NAME.get(base)
    if f is None:
        raise _names_it(f"cupy kernel {name}")
    if kwargs:
        kwargs = _check_kwargs(f"cupy.{base}", kwargs)
    return f(*args)


# ---------------------------------------------------------------------------
# functions (NEP 18): implementations with NumPy's signatures in _numpy_functions
# ---------------------------------------------------------------------------

#: NumPy function -> implementation with NumPy's signature
FUNCTIONS: dict = {
    np.sum: _fn.sum, np.prod: _fn.prod, np.mean: _fn.mean,
    np.max: _fn.extremum(_ops.max, "numpy.max"), np.amax: _fn.extremum(_ops.max, "numpy.amax"),
    np.min: _fn.extremum(_ops.min, "numpy.min"), np.amin: _fn.extremum(_ops.min, "numpy.amin"),
    np.var: _fn.moment(_ops.var, "numpy.var"), np.std: _fn.moment(_ops.std, "numpy.std"),
    np.cumsum: _fn.cumsum, np.transpose: _fn.transpose, np.swapaxes: _fn.swapaxes, np.reshape: _fn.reshape,
    np.ravel: _fn.ravel, np.squeeze: _fn.squeeze, np.expand_dims: _fn.expand_dims,
    np.broadcast_to: _fn.broadcast_to, np.concatenate: _fn.concatenate, np.stack: _fn.stack,
    np.vstack: _fn.vstack, np.hstack: _fn.hstack, np.atleast_1d: _fn.atleast_1d,
    np.atleast_2d: _fn.atleast_2d, np.atleast_3d: _fn.atleast_3d, np.dot: _fn.dot, np.outer: _fn.outer,
    np.inner: _fn.inner, np.tensordot: _fn.tensordot, np.where: _fn.where, np.clip: _fn.clip,
    np.flip: _fn.flip, np.fliplr: lambda m: _ops.flip(m, axis=1), np.flipud: lambda m: _ops.flip(m, axis=0),
    np.moveaxis: _fn.moveaxis, np.roll: _fn.roll, np.repeat: _fn.repeat, np.tile: _fn.tile,
    np.tril: _fn.tri(_ops.tril), np.triu: _fn.tri(_ops.triu), np.take: _fn.take, np.round: _fn.round,
    np.around: _fn.round, np.zeros_like: _fn.like(_ops.zeros_like, "numpy.zeros_like"),
    np.ones_like: _fn.like(_ops.ones_like, "numpy.ones_like"),
    np.empty_like: _fn.like(_ops.empty_like, "numpy.empty_like"), np.full_like: _fn.full_like,
    np.shape: _fn.shape, np.ndim: _fn._ndim, np.size: _fn.size, np.copy: _fn.copy,
    np.trace: _fn.trace, np.diagonal: _fn.diagonal, np.diag: _fn.diag, np.cross: _fn.cross, np.vdot: _fn.vdot,
    np.einsum: _fn.einsum, np.append: _fn.append, np.cumprod: _fn.cumprod, np.diff: _fn.diff,
    np.sort: _fn.sort, np.argsort: _fn.argsort, np.searchsorted: _fn.searchsorted,
    np.take_along_axis: _fn.take_along_axis, np.real: _fn.real, np.imag: _fn.imag,
    np.argmax: _fn.index_of(_array_api.argmax, "numpy.argmax"),
    np.argmin: _fn.index_of(_array_api.argmin, "numpy.argmin"),
    np.all: _fn.extremum(_array_api.all, "numpy.all"), np.any: _fn.extremum(_array_api.any, "numpy.any"),
    np.linalg.det: _ops.det, np.linalg.inv: _ops.inv, np.linalg.solve: _ops.solve,
    np.linalg.slogdet: _ops.slogdet, np.linalg.cholesky: _fn.cholesky, np.linalg.eigh: _fn.eigh,
    np.linalg.eigvalsh: _fn.eigvalsh, np.linalg.qr: _fn.qr, np.linalg.svd: _fn.svd, np.linalg.pinv: _fn.pinv,
    np.linalg.matrix_power: _ops.matrix_power, np.linalg.matrix_rank: _fn.matrix_rank,
    np.linalg.multi_dot: _fn.multi_dot, np.linalg.norm: _fn.norm,
    np.fft.fftshift: _fn.fftshift(_ops.fft.fftshift), np.fft.ifftshift: _fn.fftshift(_ops.fft.ifftshift),
}
for _name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
    FUNCTIONS[getattr(np.fft, _name)] = _fn.fft1(getattr(_ops.fft, _name))
for _name in ("fftn", "ifftn", "rfftn", "irfftn"):
    FUNCTIONS[getattr(np.fft, _name)] = _fn.fftn(getattr(_ops.fft, _name))
    FUNCTIONS[getattr(np.fft, _name[:-1] + "2")] = _fn.fftn(getattr(_ops.fft, _name), two=True)
for _name, _impl in (("permute_dims", _fn.transpose), ("concat", _fn.concatenate), ("astype", _fn.astype),
                     ("unstack", _fn.unstack), ("matrix_transpose", _ops.matrix_transpose),
                     ("cumulative_sum", _fn.cumulative(_ops.cumulative_sum, "numpy.cumulative_sum")),
                     ("cumulative_prod", _fn.cumulative(_ops.cumulative_prod, "numpy.cumulative_prod"))):
    if hasattr(np, _name):  # NumPy >= 2.0 / 2.1 names
        FUNCTIONS[getattr(np, _name)] = _impl
for _name, _impl in (("matrix_transpose", _ops.matrix_transpose), ("matmul", _ops.matmul),
                     ("vecdot", _vecdot), ("tensordot", _fn.tensordot), ("outer", _fn.outer),
                     ("vector_norm", _ops.vector_norm), ("matrix_norm", _ops.matrix_norm),
                     ("trace", _fn.linalg_trace), ("diagonal", _ops.diagonal), ("cross", _ops.cross),
                     ("svdvals", _ops.svdvals)):
    if hasattr(np.linalg, _name):
        FUNCTIONS[getattr(np.linalg, _name)] = _impl
del _name, _impl


def array_function(func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
    """``Variable.__array_function__``: run the anyad counterpart of ``func``.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> np.concatenate([ad.Variable([1.0]), np.array([2.0, 3.0])])
    Variable([1. 2. 3.])
    >>> np.linalg.det(ad.Variable([[2.0, 1.0], [1.0, 3.0]]))
    Variable(5.000000000000001)
    >>> np.linalg.eig(ad.Variable([[1.0]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: anyad: numpy.linalg.eig has no differentiable anyad counterpart
    for Variables; the closest is anyad.linalg.eigh (symmetric matrices). ...
    """
    impl = FUNCTIONS.get(func)
    if impl is None:
        module = getattr(func, "__module__", None) or "numpy"
        raise _names_it(f"{module}.{getattr(func, '__name__', func)}")
    return impl(*_operands(args), **kwargs)


def array(v: Variable, dtype: Any = None, copy: Any = None) -> Any:
    """``np.asarray(v)``: the value of a constant Variable; refused for one that
    is part of a graph, whose gradient the conversion would silently drop."""
    if v.requires_grad or v._node is not None:
        raise TypeError(
            f"anyad: cannot convert a Variable that requires grad ({_backend.describe(v.value)}) to a NumPy "
            "array: the result would carry no gradient, and a derivative through it would be silently "
            "wrong. Compute with anyad functions (or the differentiable namespace, "
            "xp = array_namespace(x), which SciPy and scikit-learn use under SCIPY_ARRAY_API=1 / "
            "array_api_dispatch=True), or convert x.detach() (or x.value) if a constant is what you want")
    tracer = _tracer()
    if tracer is not None:  # under jit or vmap: a value computed from the inputs would be frozen
        tracer.concrete(v, "np.asarray() (NumPy reading the Variable: e.g. a NumPy array indexed by it; "
                        "index an anyad Variable, or use anyad.take)")
    out = np.asarray(v.value, dtype=dtype)
    return out.copy() if copy and out is v.value else out


def install() -> None:
    """Set NumPy's and CuPy's protocols on Variable (``np.sin(v)``, ``np.sum(v)``,
    ``np.asarray(v)``): only those libraries call them; Variable's own operators
    never do."""
    Variable.__array__ = array
    Variable.__array_ufunc__ = lambda self, ufunc, method, *inputs, **kwargs: array_ufunc(
        ufunc, method, inputs, kwargs)
    Variable.__array_function__ = lambda self, func, types, args, kwargs: array_function(func, types, args, kwargs)
    Variable.__cupy_override_elementwise_kernel__ = lambda self, kernel, *args, **kwargs: cupy_elementwise(
        kernel, args, kwargs)


install()
