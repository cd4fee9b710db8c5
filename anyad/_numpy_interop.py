"""NumPy's override protocols on Variables: ``np.sin(v)``, ``np.sum(v)``,
``np.matmul(W, x)`` run anyad's differentiable functions.

* ``__array_ufunc__`` (NEP 13) maps every NumPy ufunc with an anyad
  counterpart (:data:`UFUNCS`), for ``__call__``, and for the ``reduce``,
  ``accumulate`` and ``outer`` methods where anyad has the matching function.
* ``__array_function__`` (NEP 18) maps the NumPy functions with an anyad
  counterpart (:data:`FUNCTIONS`), with NumPy's signatures.
* ``__cupy_override_elementwise_kernel__``, CuPy's own hook, sends
  ``cupy.sin(v)`` & co. through the same ufunc table (CuPy calls it instead
  of ``__array_ufunc__``; written to CuPy's protocol, untested without a GPU).

Anything else raises a :class:`TypeError` naming the ufunc or function: a
Variable never silently becomes a plain array (it has no ``__array__``), so a
graph is never dropped. NumPy arrays mixed with Variables of another backend
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

from typing import Any, Callable

import numpy as np

from . import _backend
from . import ops as _ops
from .variable import Variable

__all__ = ["array_ufunc", "array_function", "cupy_elementwise", "UFUNCS", "FUNCTIONS"]

_NUMPY_TYPES = (np.ndarray, np.generic)
_NOVALUE = getattr(np, "_NoValue", None)


def _names_it(what: str, hint: str = "") -> TypeError:
    return TypeError(
        f"anyad: {what} has no differentiable anyad counterpart for Variables{hint}; "
        "use the anyad function of that name where there is one, or .value for a plain "
        "(non-differentiable) array"
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
            return xp.asarray(a, device=dev)
        if isinstance(a, list):
            return [move(b) for b in a]
        if isinstance(a, tuple):
            return tuple(move(b) for b in a)
        return a

    return tuple(move(a) for a in args)


_MAYBE_FOREIGN = (np.ndarray, np.generic, list, tuple)


def _needs_conversion(args: tuple) -> bool:
    for a in args:
        if isinstance(a, _MAYBE_FOREIGN):
            return True
    return False


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
    np.maximum: _ops.maximum, np.minimum: _ops.minimum, np.sign: _ops.sign, np.floor: _ops.floor,
    np.ceil: _ops.ceil, np.rint: _ops.round, np.trunc: _ops.trunc,
    np.matmul: _ops.matmul, np.vecdot: _vecdot,
    np.equal: _ops.equal, np.not_equal: _ops.not_equal, np.less: _ops.less, np.less_equal: _ops.less_equal,
    np.greater: _ops.greater, np.greater_equal: _ops.greater_equal, np.logical_and: _ops.logical_and,
    np.logical_or: _ops.logical_or, np.logical_xor: _ops.logical_xor, np.logical_not: _ops.logical_not,
    np.isnan: _ops.isnan, np.isinf: _ops.isinf, np.isfinite: _ops.isfinite,
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
            return f(*(_convert(inputs) if _needs_conversion(inputs) else inputs))
        name = getattr(ufunc, "__name__", repr(ufunc))
        if f is None:
            f = _BY_NAME.get(name)
            if f is None:
                raise _names_it(f"numpy.{name}")
        if kwargs:
            kwargs = _check_kwargs(f"numpy.{name}", kwargs, ("axis",) if f is _vecdot else ())
        if _needs_conversion(inputs):
            inputs = _convert(inputs)
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
        a, b = _convert(inputs) if _needs_conversion(inputs) else inputs
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
# functions (NEP 18), with NumPy's signatures
# ---------------------------------------------------------------------------


def _unsupported(label: str, **given: Any) -> None:
    for k, v in given.items():
        if v is not None and v is not _NOVALUE and v is not False:
            raise TypeError(f"anyad: {label} does not support {k}= on Variables")


def _cast(a: Any, dtype: Any) -> Any:
    return a if dtype is None else _ops.astype(a, _numpy_dtype_name(dtype))


def _numpy_dtype_name(dtype: Any) -> Any:
    try:
        return np.dtype(dtype).name
    except TypeError:
        return dtype


def _sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=_NOVALUE):
    _unsupported("numpy.sum", out=out, initial=initial, where=where)
    return _ops.sum(_cast(a, dtype), axis=axis, keepdims=keepdims)


def _prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NOVALUE, where=_NOVALUE):
    _unsupported("numpy.prod", out=out, initial=initial, where=where)
    return _ops.prod(_cast(a, dtype), axis=axis, keepdims=keepdims)


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=_NOVALUE):
    _unsupported("numpy.mean", out=out, where=where)
    return _ops.mean(_cast(a, dtype), axis=axis, keepdims=keepdims)


def _extremum(f: Callable, label: str) -> Callable:
    def reduce(a, axis=None, out=None, keepdims=False, initial=_NOVALUE, where=_NOVALUE):
        _unsupported(label, out=out, initial=initial, where=where)
        return f(a, axis=axis, keepdims=keepdims)

    return reduce


def _moment(f: Callable, label: str) -> Callable:
    def moment(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=_NOVALUE,
               mean=_NOVALUE, correction=_NOVALUE):
        _unsupported(label, out=out, where=where, mean=mean)
        corr = ddof if correction is _NOVALUE else correction
        return f(_cast(a, dtype), axis=axis, correction=corr, keepdims=keepdims)

    return moment


def _cumsum(a, axis=None, dtype=None, out=None):
    _unsupported("numpy.cumsum", out=out)
    a = _cast(a, dtype)
    if axis is None:
        a, axis = _ops.reshape(a, (-1,)), 0
    return _ops.cumulative_sum(a, axis=axis)


def _ndim(a: Any) -> int:
    return len(getattr(a, "shape", ()))


def _transpose(a, axes=None):
    return _ops.permute_dims(a, tuple(range(_ndim(a) - 1, -1, -1)) if axes is None else tuple(axes))


def _swapaxes(a, axis1, axis2):
    order = list(range(_ndim(a)))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return _ops.permute_dims(a, tuple(order))


def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise TypeError("anyad: numpy.reshape supports order='C' only on Variables")
    shape = newshape if shape is None else shape
    return _ops.reshape(a, (shape,) if isinstance(shape, int) else tuple(shape))


def _ravel(a, order="C"):
    return _reshape(a, (-1,), order)


def _squeeze(a, axis=None):
    if axis is None:
        axis = tuple(i for i, d in enumerate(a.shape) if d == 1)
    return _ops.squeeze(a, axis=axis)


def _expand_dims(a, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = _ndim(a) + len(axes)
    for ax in sorted(x % nd for x in axes):
        a = _ops.expand_dims(a, axis=ax)
    return a


def _broadcast_to(array, shape, subok=False):
    return _ops.broadcast_to(array, (shape,) if isinstance(shape, int) else tuple(shape))


def _concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _unsupported("numpy.concatenate", out=out)
    return _ops.concat([_cast(a, dtype) for a in arrays], axis=axis)


def _stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _unsupported("numpy.stack", out=out)
    return _ops.stack([_cast(a, dtype) for a in arrays], axis=axis)


def _atleast(n: int) -> Callable:
    def atleast(*arys):
        out = []
        for a in arys:
            nd = _ndim(a)
            if nd < n:
                shape = tuple(getattr(a, "shape", ()))
                if n == 2 and nd == 1:
                    shape = (1,) + shape
                elif n == 3 and nd == 1:
                    shape = (1,) + shape + (1,)
                elif n == 3 and nd == 2:
                    shape = shape + (1,)
                else:
                    shape = (1,) * n
                a = _ops.reshape(a, shape)
            out.append(a)
        return out[0] if len(out) == 1 else tuple(out)

    return atleast


_atleast_1d, _atleast_2d, _atleast_3d = _atleast(1), _atleast(2), _atleast(3)


def _vstack(tup, *, dtype=None, casting="same_kind"):
    return _ops.concat([_cast(_atleast_2d(a), dtype) for a in tup], axis=0)


def _hstack(tup, *, dtype=None, casting="same_kind"):
    arrs = [_cast(_atleast_1d(a), dtype) for a in tup]
    return _ops.concat(arrs, axis=0 if _ndim(arrs[0]) == 1 else 1)


def _dot(a, b, out=None):
    _unsupported("numpy.dot", out=out)
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return _ops.multiply(a, b)
    if na <= 2 and nb <= 2:
        return _ops.matmul(a, b)
    return _ops.tensordot(a, b, axes=([na - 1], [0 if nb == 1 else nb - 2]))


def _outer(a, b, out=None):
    _unsupported("numpy.outer", out=out)
    return _ops.multiply(_ops.reshape(a, (-1, 1)), _ops.reshape(b, (1, -1)))


def _inner(a, b):
    if _ndim(a) == 0 or _ndim(b) == 0:
        return _ops.multiply(a, b)
    return _ops.tensordot(a, b, axes=([_ndim(a) - 1], [_ndim(b) - 1]))


def _tensordot(a, b, axes=2):
    return _ops.tensordot(a, b, axes=axes)


def _where(condition, x=_NOVALUE, y=_NOVALUE):
    if x is _NOVALUE or y is _NOVALUE:
        raise TypeError("anyad: numpy.where(condition) with one argument (indices) is not differentiable; "
                        "use numpy.where on .value, or the three-argument form")
    return _ops.where(condition, x, y)


def _clip(a, a_min=_NOVALUE, a_max=_NOVALUE, out=None, *, min=_NOVALUE, max=_NOVALUE, **kwargs):
    _unsupported("numpy.clip", out=out)
    if kwargs:
        _check_kwargs("numpy.clip", kwargs)
    lo = a_min if a_min is not _NOVALUE else (None if min is _NOVALUE else min)
    hi = a_max if a_max is not _NOVALUE else (None if max is _NOVALUE else max)
    return _ops.clip(a, min=lo, max=hi)


def _flip(m, axis=None):
    return _ops.flip(m, axis=axis)


def _moveaxis(a, source, destination):
    return _ops.moveaxis(a, source, destination)


def _roll(a, shift, axis=None):
    if axis is None:
        return _ops.reshape(_ops.roll(_ops.reshape(a, (-1,)), shift, axis=0), tuple(a.shape))
    return _ops.roll(a, shift, axis=axis)


def _repeat(a, repeats, axis=None):
    return _ops.repeat(a, repeats, axis=axis)


def _tile(A, reps):
    return _ops.tile(A, (reps,) if isinstance(reps, int) else tuple(reps))


def _tri(f: Callable) -> Callable:
    def tri(m, k=0):
        return f(m, k=k)

    return tri


def _take(a, indices, axis=None, out=None, mode="raise"):
    _unsupported("numpy.take", out=out)
    if mode != "raise":
        raise TypeError("anyad: numpy.take supports mode='raise' only on Variables")
    if axis is None:
        a, axis = _ops.reshape(a, (-1,)), 0
    return _ops.take(a, indices, axis=axis)


def _round(a, decimals=0, out=None):
    _unsupported("numpy.round", out=out)
    if decimals == 0:
        return _ops.round(a)
    scale = 10.0 ** decimals
    return _ops.divide(_ops.round(_ops.multiply(a, scale)), scale)


def _like(f: Callable, label: str) -> Callable:
    def like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
        _check_like(label, order, shape)
        return f(a, dtype=None if dtype is None else _numpy_dtype_name(dtype))

    return like


def _check_like(label: str, order: str, shape: Any) -> None:
    if shape is not None or order not in ("K", "C"):
        raise TypeError(f"anyad: {label} supports neither shape= nor order= on Variables")


def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    _check_like("numpy.full_like", order, shape)
    return _ops.full_like(a, fill_value, dtype=None if dtype is None else _numpy_dtype_name(dtype))


def _shape(a):
    return tuple(a.shape)


def _size(a, axis=None):
    if axis is not None:
        return a.shape[axis]
    n = 1
    for d in a.shape:
        n *= d
    return n


def _copy(a, order="K", subok=False):
    return _ops.positive(a)


def _astype(x, dtype, /, *, copy=True, device=None):
    return _ops.astype(x, _numpy_dtype_name(dtype))


def _unstack(x, /, *, axis=0):
    return _ops.unstack(x, axis=axis)


#: NumPy function -> implementation with NumPy's signature
FUNCTIONS: dict = {
    np.sum: _sum, np.prod: _prod, np.mean: _mean,
    np.max: _extremum(_ops.max, "numpy.max"), np.amax: _extremum(_ops.max, "numpy.amax"),
    np.min: _extremum(_ops.min, "numpy.min"), np.amin: _extremum(_ops.min, "numpy.amin"),
    np.var: _moment(_ops.var, "numpy.var"), np.std: _moment(_ops.std, "numpy.std"), np.cumsum: _cumsum,
    np.transpose: _transpose, np.swapaxes: _swapaxes, np.reshape: _reshape, np.ravel: _ravel,
    np.squeeze: _squeeze, np.expand_dims: _expand_dims, np.broadcast_to: _broadcast_to,
    np.concatenate: _concatenate, np.stack: _stack, np.vstack: _vstack, np.hstack: _hstack,
    np.atleast_1d: _atleast_1d, np.atleast_2d: _atleast_2d, np.atleast_3d: _atleast_3d,
    np.dot: _dot, np.outer: _outer, np.inner: _inner, np.tensordot: _tensordot,
    np.where: _where, np.clip: _clip, np.flip: _flip, np.fliplr: lambda m: _ops.flip(m, axis=1),
    np.flipud: lambda m: _ops.flip(m, axis=0), np.moveaxis: _moveaxis, np.roll: _roll,
    np.repeat: _repeat, np.tile: _tile, np.tril: _tri(_ops.tril), np.triu: _tri(_ops.triu),
    np.take: _take, np.round: _round, np.around: _round,
    np.zeros_like: _like(_ops.zeros_like, "numpy.zeros_like"),
    np.ones_like: _like(_ops.ones_like, "numpy.ones_like"),
    np.empty_like: _like(_ops.empty_like, "numpy.empty_like"), np.full_like: _full_like,
    np.shape: _shape, np.ndim: _ndim, np.size: _size, np.copy: _copy,
}
for _name, _impl in (("permute_dims", _transpose), ("concat", _concatenate), ("astype", _astype),
                     ("unstack", _unstack), ("matrix_transpose", _ops.matrix_transpose)):
    if hasattr(np, _name):  # NumPy >= 2.0 / 2.1 names
        FUNCTIONS[getattr(np, _name)] = _impl
for _name, _impl in (("matrix_transpose", _ops.matrix_transpose), ("matmul", _ops.matmul),
                     ("vecdot", _vecdot), ("tensordot", _tensordot), ("outer", _outer)):
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
    >>> np.linalg.svd(ad.Variable([[1.0]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: anyad: numpy.linalg.svd has no differentiable anyad counterpart for Variables; ...
    """
    impl = FUNCTIONS.get(func)
    if impl is None:
        module = getattr(func, "__module__", None) or "numpy"
        raise _names_it(f"{module}.{getattr(func, '__name__', func)}")
    if _needs_conversion(args):
        args = _convert(args)
    return impl(*args, **kwargs)
