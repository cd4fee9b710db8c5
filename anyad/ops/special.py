"""Special functions the Array API standard lacks: ``erf``.

The forward kernel is chosen per backend in one place
(:func:`anyad.backends.special.erf_kernel`: torch, CuPy, JAX and SciPy have
their own; every other namespace gets a portable double-precision
implementation written with the namespace). The VJP is composed from anyad's
own functions, so derivatives of every order follow.
"""

from __future__ import annotations

import math
from typing import Any

from ..backends.special import erf_kernel
from ..graph import OpType
from ._core import unary_function
from .elementwise import exp, multiply, negative, square

__all__ = ["erf"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


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
