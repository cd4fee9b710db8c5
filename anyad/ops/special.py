"""Special functions the Array API standard lacks: the error-function family
(``erf``, ``erfc``, ``erfinv``, ``erfcinv``, ``ndtr``, ``log_ndtr``, ``ndtri``),
and the helpers of :mod:`anyad.ops.special_logistic` and
:mod:`anyad.ops.special_gamma`.

Each forward kernel is chosen per backend in one place
(:func:`anyad.backends.special.kernel`: SciPy for numpy, ``torch.special``,
CuPy, JAX, chunkwise for dask, and a portable implementation written with the
namespace for every other one). Integer inputs are computed in ``float64``;
floating inputs keep their dtype. The VJPs are composed from anyad's own
functions, so derivatives of every order follow; forward mode applies them to
tangents (an elementwise Jacobian is diagonal).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .. import _backend
from ..backends.special import erf_kernel, floating, kernel
from ..graph import OpType
from ..variable import Variable
from ._core import binary_function, unary_function
from .elementwise import diagonal_jvp, exp, function_doc, multiply, negative, square, subtract

__all__ = ["erf", "erfc", "erfinv", "erfcinv", "ndtr", "log_ndtr", "ndtri"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def unary_fwd(name: str) -> Callable:
    """The forward of special function ``name``: the backend's kernel, on a
    floating input, giving the input's dtype (a kernel that widens is cast back)."""

    def fwd(xp: Any, x: Any) -> Any:
        x = floating(xp, x)
        out = kernel(xp, name)(x)
        return out if out.dtype == x.dtype else xp.astype(out, x.dtype)

    fwd.__name__ = f"{name}_fwd"
    return fwd


def binary_fwd(name: str) -> Callable:
    """The forward of two-argument special function ``name`` (see :func:`unary_fwd`)."""

    def fwd(xp: Any, a: Any, b: Any) -> Any:
        a = a if isinstance(a, (int, float)) else floating(xp, a)
        b = b if isinstance(b, (int, float)) else floating(xp, b)
        out = kernel(xp, name)(a, b)
        want = b.dtype if isinstance(a, (int, float)) else (
            a.dtype if isinstance(b, (int, float)) else xp.result_type(a, b))
        return out if out.dtype == want else xp.astype(out, want)

    fwd.__name__ = f"{name}_fwd"
    return fwd


def special_unary(name: str, op_type: OpType, vjp: Callable, summary: str, example: str) -> Callable:
    """Declare a one-argument special function (forward per backend, VJP, JVP)."""
    fn = unary_function(name, op_type, unary_fwd(name), vjp, function_doc(summary, example))
    fn.primitive.jvp = diagonal_jvp(fn.primitive)
    fn.__module__ = "anyad.special"  # where it is public (the API reference resolves it there)
    return fn


def special_binary(name: str, op_type: OpType, vjp1: Callable, vjp2: Callable, summary: str,
                   example: str) -> Callable:
    """Declare a two-argument special function; a Python number operand becomes an
    array of the other operand's dtype and device (so the rules never see one)."""
    prim_fn = binary_function(name, op_type, binary_fwd(name), vjp1, vjp2,
                              function_doc(summary, example, "x, y"))
    prim_fn.primitive.jvp = diagonal_jvp(prim_fn.primitive)

    def function(x: Any, y: Any, /) -> Any:
        return prim_fn(*_operands(x, y))

    function.__name__ = function.__qualname__ = name
    function.__module__ = "anyad.special"
    function.__doc__ = prim_fn.__doc__
    function.primitive = prim_fn.primitive  # type: ignore[attr-defined]
    return function


def _operands(x: Any, y: Any) -> tuple[Any, Any]:
    """Python numbers as arrays like the other operand (floating, same device)."""
    sx, sy = isinstance(x, (int, float)), isinstance(y, (int, float))
    if sx == sy:
        return x, y
    ref = y if sx else x
    r = ref.value if isinstance(ref, Variable) else ref
    xp = _backend.namespace_of(r)
    dt = r.dtype if xp.isdtype(r.dtype, "real floating") else xp.float64
    num = xp.asarray(float(x if sx else y), dtype=dt, device=_backend.device_of(r))
    return (num, y) if sx else (x, num)


def _erf_vjp(g: Any, ans: Any, x: Any) -> Any:
    # d erf(x) / dx = 2 / sqrt(pi) * exp(-x^2)
    return multiply(g, multiply(exp(negative(square(x))), _TWO_OVER_SQRT_PI))


erf = unary_function(
    "erf", OpType.ERF, lambda xp, x: erf_kernel(xp)(x), _erf_vjp,
    """The error function ``erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt``, elementwise.

    Not part of the Array API standard: torch, CuPy, JAX and SciPy (for numpy)
    compute it with their own kernels; any other namespace uses a portable
    double-precision implementation written with the namespace, on the
    array's own device. The derivative is ``2/sqrt(pi) * exp(-x^2)``,
    differentiable again to any order.

    Parameters
    ----------
    x : Variable or array
        Real floating-point input.

    Returns
    -------
    Variable or array
        ``erf(x)``, with the dtype, namespace and device of ``x``.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([0.0, 1.0], requires_grad=True)
    >>> ad.erf(x)
    Variable([0.         0.84270079])
    >>> ad.sum(ad.erf(x)).backward()
    >>> x.grad
    array([1.12837917, 0.4151075 ])
    """,
)
# erf keeps no JVP rule of its own: forward mode transposes its VJP (docs/internals.md shows that path)

erfc = special_unary(
    "erfc", OpType.ERFC,
    lambda g, ans, x: multiply(g, multiply(exp(negative(square(x))), -_TWO_OVER_SQRT_PI)),
    "``1 - erf(x)``, accurate in the right tail; derivative ``-2/sqrt(pi) exp(-x^2)``.",
    "    >>> ad.special.erfc(ad.Variable([0.0, 10.0]))\n    Variable([1.00000000e+00 2.08848758e-45])",
)

erfinv = special_unary(
    "erfinv", OpType.ERFINV, lambda g, ans, x: multiply(g, multiply(exp(square(ans)), _SQRT_PI_OVER_TWO)),
    "The inverse of ``erf`` on ``[-1, 1]`` (``+-inf`` at ``+-1``, NaN outside); derivative "
    "``sqrt(pi)/2 exp(erfinv(x)^2)``.",
    "    >>> ad.special.erfinv(ad.Variable([0.0, 0.5]))\n    Variable([0.         0.47693628])",
)

erfcinv = special_unary(
    "erfcinv", OpType.ERFCINV, lambda g, ans, x: multiply(g, multiply(exp(square(ans)), -_SQRT_PI_OVER_TWO)),
    "The inverse of ``erfc`` on ``[0, 2]``; derivative ``-sqrt(pi)/2 exp(erfcinv(x)^2)``.",
    "    >>> ad.special.erfcinv(ad.Variable([1.5, 0.5]))\n    Variable([-0.47693628  0.47693628])",
)

ndtr = special_unary(
    "ndtr", OpType.NDTR,
    lambda g, ans, x: multiply(g, multiply(exp(multiply(square(x), -0.5)), 1.0 / _SQRT_2PI)),
    "The standard normal CDF; derivative the normal density ``exp(-x^2/2) / sqrt(2 pi)``.",
    "    >>> ad.special.ndtr(ad.Variable([0.0, 1.0]))\n    Variable([0.5        0.84134475])",
)

log_ndtr = special_unary(
    "log_ndtr", OpType.LOG_NDTR,
    lambda g, ans, x: multiply(g, multiply(exp(subtract(multiply(square(x), -0.5), ans)), 1.0 / _SQRT_2PI)),
    "``log(ndtr(x))``, finite far into the left tail; derivative "
    "``exp(-x^2/2 - log_ndtr(x)) / sqrt(2 pi)`` (as torch; about ``-x`` for very negative ``x``).",
    "    >>> ad.special.log_ndtr(ad.Variable([0.0, -40.0]))\n    Variable([-6.93147181e-01 -8.04608442e+02])",
)

ndtri = special_unary(
    "ndtri", OpType.NDTRI,
    lambda g, ans, x: multiply(g, multiply(exp(multiply(square(ans), 0.5)), _SQRT_2PI)),
    "The standard normal quantile, inverse of ``ndtr`` (``-inf`` at 0, ``inf`` at 1); derivative "
    "``sqrt(2 pi) exp(ndtri(x)^2 / 2)``.",
    "    >>> ad.special.ndtri(ad.Variable([0.5, 0.975]))\n    Variable([0.         1.95996398])",
)
