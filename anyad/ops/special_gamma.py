"""Special functions of the gamma and Bessel families: ``gammaln``, ``digamma``,
``polygamma``, ``i0``, ``i0e``, ``i1``, ``i1e`` (forward per backend and rules
as in :mod:`anyad.ops.special`).

Each derivative is the next function of the family (``gammaln' = digamma``,
``digamma' = polygamma(1)``, ``polygamma(n)' = polygamma(n + 1)``,
``i0' = i1``, ``i1' = i0 - i1/x``), so every order follows.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..backends.special import floating, kernel
from ..graph import OpType, Primitive
from ._core import apply
from .elementwise import abs, add, diagonal_jvp, divide, exp, less, multiply, negative, sign, subtract, where
from .special import special_unary

__all__ = ["gammaln", "digamma", "polygamma", "i0", "i0e", "i1", "i1e"]


gammaln = special_unary(
    "gammaln", OpType.GAMMALN, lambda g, ans, x: multiply(g, digamma(x)),
    "``log|Gamma(x)|`` (``inf`` at 0 and the negative integers); derivative ``digamma(x)``.",
    "    >>> ad.special.gammaln(ad.Variable([0.5, 4.0]))\n    Variable([0.57236494 1.79175947])",
)

digamma = special_unary(
    "digamma", OpType.DIGAMMA, lambda g, ans, x: multiply(g, polygamma(1, x)),
    "The digamma function ``psi(x) = d/dx log Gamma(x)`` (SciPy's ``psi``); derivative "
    "``polygamma(1, x)``.",
    "    >>> ad.special.digamma(ad.Variable([1.0, 2.0]))\n    Variable([-0.57721566  0.42278434])",
)


def _polygamma_fwd(xp: Any, x: Any, n: int) -> Any:
    x = floating(xp, x)
    out = kernel(xp, "polygamma")(n, x)
    return out if out.dtype == x.dtype else xp.astype(out, x.dtype)


_POLYGAMMA = Primitive("polygamma", OpType.POLYGAMMA, _polygamma_fwd,
                       (lambda g, ans, x, n: multiply(g, polygamma(n + 1, x)),))
_POLYGAMMA.jvp = diagonal_jvp(_POLYGAMMA)


def polygamma(n: int, x: Any, /) -> Any:
    """The ``n``-th derivative of :func:`digamma` (``n = 0``: digamma itself).

    Parameters
    ----------
    n : int
        The order, a Python integer ``>= 0`` (an array of orders is refused:
        reading it would be a host synchronisation).
    x : Variable, array or Python scalar
        Real floating input.

    Returns
    -------
    Variable or array
        ``psi^(n)(x)``; its derivative is ``polygamma(n + 1, x)``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.special.polygamma(1, ad.Variable([1.0]))   # pi^2 / 6
    Variable([1.64493407])
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise TypeError(f"polygamma: the order n must be a Python integer >= 0, got {n!r} "
                        f"({type(n).__name__}); for several orders call polygamma once per order")
    n = int(n)
    if n == 0:
        return digamma(x)
    return apply(_POLYGAMMA, (x,), {"n": n})


def _series(coefs: tuple, u: Any) -> Any:
    out = coefs[-1]
    for c in reversed(coefs[:-1]):
        out = add(multiply(out, u), c)
    return out


# I1(x)/x = sum_k (x^2)^k / (2 4^k k! (k+1)!), used for |x| < 1 (exact to every order at 0)
_I1_OVER_X = tuple(0.5 / (4.0 ** k * math.factorial(k) * math.factorial(k + 1)) for k in range(13))


def _i1_over_x(x: Any, scaled: bool) -> Any:
    small = less(abs(x), 1.0)
    xs = where(small, 1.0, x)
    near = _series(_I1_OVER_X, multiply(x, x))
    if scaled:
        near = multiply(near, exp(negative(abs(x))))
    return where(small, near, divide(i1e(xs) if scaled else i1(xs), xs))


i0 = special_unary(
    "i0", OpType.I0, lambda g, ans, x: multiply(g, i1(x)),
    "The modified Bessel function of the first kind of order 0; derivative ``i1(x)``.",
    "    >>> ad.special.i0(ad.Variable([0.0, 1.0]))\n    Variable([1.         1.26606588])",
)

i1 = special_unary(
    "i1", OpType.I1, lambda g, ans, x: multiply(g, subtract(i0(x), _i1_over_x(x, False))),
    "The modified Bessel function of the first kind of order 1; derivative ``i0(x) - i1(x)/x`` "
    "(1/2 at 0).",
    "    >>> ad.special.i1(ad.Variable([0.0, 1.0]))\n    Variable([0.        0.5651591])",
)

i0e = special_unary(
    "i0e", OpType.I0E, lambda g, ans, x: multiply(g, subtract(i1e(x), multiply(sign(x), ans))),
    "``exp(-|x|) i0(x)``; derivative ``i1e(x) - sign(x) i0e(x)`` (0 at the kink at 0).",
    "    >>> ad.special.i0e(ad.Variable([0.0, 1.0]))\n    Variable([1.         0.46575961])",
)

i1e = special_unary(
    "i1e", OpType.I1E,
    lambda g, ans, x: multiply(g, subtract(subtract(i0e(x), _i1_over_x(x, True)), multiply(sign(x), ans))),
    "``exp(-|x|) i1(x)``; derivative ``i0e(x) - i1e(x)/x - sign(x) i1e(x)`` (1/2 at 0).",
    "    >>> ad.special.i1e(ad.Variable([0.0, 1.0]))\n    Variable([0.         0.20791042])",
)
