"""Checking derivatives against central finite differences.

:func:`gradcheck` compares reverse mode with finite differences computed in
float64; :func:`gradgradcheck` does the same for the gradient itself (second
order). Both work on every backend: perturbations are built with the arrays'
own namespace and device, and only the final comparison is copied to the host.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from . import _backend
from .backprop import backprop
from .variable import Variable

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]

_DEFAULT_TOL = {"float64": (1e-6, 1e-4), "float32": (2e-3, 2e-2), "float16": (5e-2, 1e-1)}


class GradcheckError(AssertionError):
    """Reverse mode and finite differences disagree."""


def _dtype_name(x: Any) -> str:
    return _backend._dtype_name(x.dtype)


def _as_tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _raw(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def _random_like(xp: Any, x: Any, seed: int) -> Any:
    """Deterministic pseudo-random values in [-1, 1) with x's shape, dtype and device
    (built with the standard alone: no random module is needed)."""
    n = 1
    for d in x.shape:
        n *= d
    i = xp.astype(xp.arange(n, device=_backend.device_of(x)), xp.float64)
    v = xp.sin(i * 12.9898 + 78.233 * (seed + 1)) * 43758.5453
    v = (v - xp.floor(v)) * 2.0 - 1.0
    v = xp.reshape(v, tuple(x.shape))
    if _is_complex(x):  # an imaginary part of its own
        return xp.astype(v, x.dtype) + xp.astype(_random_like(xp, xp.real(x), seed + 7919), x.dtype) * 1j
    return xp.astype(v, x.dtype)


def _scalarize(f: Callable, cotangents: list | None, xs: Sequence[Any]) -> tuple[Any, list]:
    """``sum_k <w_k, f(xs)_k>`` for fixed random cotangents ``w_k``."""
    outs = [o for o in _as_tuple(f(*xs))]
    if cotangents is None:
        cotangents = []
        for k, o in enumerate(outs):
            ro = _raw(o)
            cotangents.append(_random_like(_backend.namespace_of(ro), ro, 1000 + k))
    from .ops import multiply, real, sum

    total = None
    for o, w in zip(outs, cotangents):
        if o is None:
            continue
        ro = _raw(o)
        wk = w if _dtype_name(ro) == _dtype_name(w) else _backend.namespace_of(w).astype(w, ro.dtype)
        # a complex output enters as Re(sum(conj(w) o)): the scalar stays real
        term = sum(real(multiply(o, _conj(wk)))) if _is_complex(ro) else sum(multiply(o, wk))
        total = term if total is None else total + term
    return total, cotangents


def gradcheck(
    f: Callable,
    inputs: Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float | None = None,
    rtol: float | None = None,
    argnums: Sequence[int] | None = None,
    check_forward: bool = True,
) -> bool:
    """Check reverse-mode (and forward-mode) derivatives of ``f`` at ``inputs``
    against central differences.

    ``f`` takes Variables or arrays and returns one array or a tuple of them.
    For random cotangents ``w`` (fixed), the gradient of ``sum(w * f(*inputs))``
    from one backward pass is compared, element by element, with central
    differences computed in float64 (inputs of other floating dtypes are cast
    for the differences; the reverse pass runs in their own dtype). With
    ``check_forward``, forward mode is checked too: :func:`anyad.jvp` along a
    random direction against the central difference of ``f`` along it, for
    every output element.

    Parameters
    ----------
    f : callable
        The function to check.
    inputs : sequence of arrays
        Where to check (arrays of any backend, or Variables).
    eps : float
        Finite-difference step.
    atol, rtol : float, optional
        Tolerances; by default chosen from the inputs' dtype.
    argnums : sequence of int, optional
        Which inputs to differentiate (default: every floating input).
    check_forward : bool
        Also check forward mode (default True).

    Returns
    -------
    bool
        True when every element agrees.

    Raises
    ------
    GradcheckError
        Naming the input (or output, for forward mode), the worst element's
        index, both values and the tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> gradcheck(lambda x: ad.sin(x) * x, [np.array([0.5, 1.0, 2.0])])
    True
    """
    raws = [_raw(x) for x in inputs]
    if argnums is None:
        argnums = [i for i, x in enumerate(raws) if _is_float(x)]
    # reverse mode, in the inputs' own dtype
    vars_ = [Variable(x, requires_grad=True) if i in argnums else x for i, x in enumerate(raws)]
    total, cotangents = _scalarize(f, None, vars_)
    if not isinstance(total, Variable):
        raise GradcheckError("anyad.gradcheck: f does not depend on its inputs")
    analytic = backprop([total], [None], [vars_[i] for i in argnums], retain_graph=False)
    # central differences in float64
    x64 = [_to64(x) for x in raws]
    w64 = [_to64(w) for w in cotangents]
    for slot, i in enumerate(argnums):
        x = x64[i]
        xp = _backend.namespace_of(x)
        n = 1
        for d in x.shape:
            n *= d
        flat = xp.reshape(x, (-1,))
        dev = _backend.device_of(x)
        idx = xp.arange(n, device=dev)
        zero = xp.zeros(n, dtype=x.dtype, device=dev)
        # a complex input: differences along the real and the imaginary part, and
        # the gradient of PyTorch's convention, dL/dx + i dL/dy
        directions = (1.0, 1j) if _is_complex(x) else (1.0,)
        numeric = []
        for j in range(n):
            value = 0.0
            for d in directions:
                step = xp.where(idx == j, xp.asarray(eps * d, dtype=x.dtype, device=dev), zero)
                args_p = list(x64)
                args_m = list(x64)
                args_p[i] = xp.reshape(flat + step, tuple(x.shape))
                args_m[i] = xp.reshape(flat - step, tuple(x.shape))
                fp, _ = _scalarize(f, w64, args_p)
                fm, _ = _scalarize(f, w64, args_m)
                value = value + d * float(_raw(fp) - _raw(fm)) / (2 * eps)
            numeric.append(value)
        _compare(analytic[slot], numeric, raws[i], i, atol, rtol, "gradcheck")
    if check_forward:
        _check_forward(f, raws, x64, list(argnums), eps, atol, rtol)
    return True


def _check_forward(f: Callable, raws: list, x64: list, argnums: list, eps: float, atol: Any, rtol: Any) -> None:
    """Forward mode: jvp along random tangents against central differences of f along them."""
    from .functional import jvp

    tangents = [_random_like(_backend.namespace_of(raws[i]), raws[i], 2000 + i) for i in argnums]

    def f_diff(*diff: Any) -> Any:
        full = list(raws)
        for i, d in zip(argnums, diff):
            full[i] = d
        return f(*full)

    outs, touts = jvp(f_diff, tuple(raws[i] for i in argnums), tuple(tangents))
    outs, touts = _as_tuple(outs), _as_tuple(touts)
    args_p, args_m = list(x64), list(x64)
    for i, t in zip(argnums, tangents):
        t64 = _to64(t)
        args_p[i] = x64[i] + eps * t64
        args_m[i] = x64[i] - eps * t64
    fp, fm = _as_tuple(f(*args_p)), _as_tuple(f(*args_m))
    for k, (o, t) in enumerate(zip(outs, touts)):
        o = _raw(o)
        if o is None or not _is_float(o):
            continue
        numeric = (_raw(fp[k]) - _raw(fm[k])) / (2 * eps)
        _compare(_raw(t), _backend.to_numpy(numeric), o, k, atol, rtol, "gradcheck", "forward mode", "output")


def gradgradcheck(
    f: Callable,
    inputs: Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float | None = None,
    rtol: float | None = None,
) -> bool:
    """Check second derivatives: :func:`gradcheck` applied to the gradient of
    ``sum(w * f(*inputs))`` (built with ``create_graph=True``).

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> gradgradcheck(lambda x: ad.exp(x) * x, [np.array([0.5, 1.0])])
    True
    """
    raws = [_raw(x) for x in inputs]
    argnums = [i for i, x in enumerate(raws) if _is_float(x)]
    _, cotangents = _scalarize(f, None, raws)

    def gradient(*xs: Any) -> tuple:
        vs = [x if isinstance(x, Variable) else Variable(x) for x in xs]
        total, _ = _scalarize(f, cotangents, vs)
        if not isinstance(total, Variable):
            return tuple(_backend.namespace_of(_raw(vs[i])).zeros_like(_raw(vs[i])) for i in argnums)
        grads = backprop([total], [None], [vs[i] for i in argnums], create_graph=True, retain_graph=True)
        return tuple(
            g if g is not None else _backend.namespace_of(_raw(vs[i])).zeros_like(_raw(vs[i]))
            for g, i in zip(grads, argnums)
        )

    from ._state import ALL, recording

    with recording(ALL):
        return gradcheck(gradient, raws, eps=eps, atol=atol, rtol=rtol, argnums=argnums)


def _is_float(x: Any) -> bool:
    if not hasattr(x, "dtype"):
        return False
    xp = _backend.namespace_of(x)
    return xp.isdtype(x.dtype, ("real floating", "complex floating"))


def _is_complex(x: Any) -> bool:
    return hasattr(x, "dtype") and _backend.namespace_of(x).isdtype(x.dtype, "complex floating")


def _conj(w: Any) -> Any:
    return _backend.namespace_of(w).conj(w) if _is_complex(w) else w


def _to64(x: Any) -> Any:
    if not _is_float(x):
        return x
    xp = _backend.namespace_of(x)
    return xp.astype(x, xp.complex128 if _is_complex(x) else xp.float64)


def _compare(analytic: Any, numeric: Any, x: Any, i: int, atol: Any, rtol: Any, what: str,
             mode: str = "reverse mode", role: str = "input") -> None:
    d_atol, d_rtol = _DEFAULT_TOL.get(_dtype_name(x), (1e-6, 1e-4))
    atol = d_atol if atol is None else atol
    rtol = d_rtol if rtol is None else rtol
    if analytic is not None:
        if _backend._dtype_name(analytic.dtype) != _dtype_name(x):
            raise GradcheckError(
                f"anyad.{what}: {mode} derivative of {role} {i} has dtype "
                f"{_backend._dtype_name(analytic.dtype)}, the {role} has {_dtype_name(x)}"
            )
        if tuple(analytic.shape) != tuple(x.shape):
            raise GradcheckError(
                f"anyad.{what}: {mode} derivative of {role} {i} has shape {tuple(analytic.shape)}, "
                f"the {role} has {tuple(x.shape)}"
            )
        if repr(_backend.device_of(analytic)) != repr(_backend.device_of(x)):
            raise GradcheckError(
                f"anyad.{what}: {mode} derivative of {role} {i} is on {_backend.device_of(analytic)}, "
                f"the {role} on {_backend.device_of(x)}"
            )
        analytic = _backend.to_numpy(analytic)  # the comparison runs on the host
    from .backends.host import worst_disagreement

    worst = worst_disagreement(analytic, numeric, tuple(x.shape), atol, rtol)
    if worst is not None:
        k, a, n, count, size = worst
        raise GradcheckError(
            f"anyad.{what}: {role} {i} ({_backend.describe(x)}): worst element at index "
            f"{k}: {mode} {a!r}, finite differences {n!r}; "
            f"tolerance atol={atol} + rtol={rtol} * "
            f"|finite difference|; {count} of {size} elements disagree"
        )
