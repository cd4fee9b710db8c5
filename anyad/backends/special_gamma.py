"""The gamma and Bessel families written with an Array API namespace alone:
``gammaln``, ``digamma``, ``polygamma``, ``i0``, ``i0e``, ``i1``, ``i1e``.

The fallback of :mod:`anyad.backends.special` (see
:mod:`anyad.backends.special_portable` for the rest and the accuracy).

>>> import array_api_strict as xp
>>> gammaln(xp, xp.asarray([0.5, 4.0]))
Array([0.57236494, 1.79175947], dtype=array_api_strict.float64)
>>> polygamma(xp, 1, xp.asarray([1.0]))   # pi^2 / 6
Array([1.64493407], dtype=array_api_strict.float64)
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from .special_erf import floating

__all__ = ["gammaln", "digamma", "polygamma", "i0", "i0e", "i1", "i1e"]

# Lanczos, g = 7, 9 terms (relative error of gamma about 1e-15 for z >= 1/2)
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
# B_2, B_4, ..., B_20
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
              -174611 / 330)
_SHIFT = 20  # below, the recurrence carries the argument up to where the asymptotic series is exact
_BESSEL_SPLIT = 20.0
_SERIES_TERMS = 50
_ASYMPTOTIC_TERMS = 26


def _reduced(xp: Any, x: Any) -> Any:
    """``x - round(x)``: ``sin(pi x)`` and ``tan(pi x)`` up to sign, exactly 0 at integers."""
    return x - xp.round(x)


def gammaln(xp: Any, x: Any) -> Any:
    """``log|Gamma(x)|``: Lanczos for ``x >= 1/2``, reflection below; ``inf`` at
    the poles (0 and the negative integers) and at ``+-inf``."""
    x = floating(xp, x)
    low = x < 0.5
    z = xp.where(low, 1.0 - x, x) - 1.0
    z = xp.where(xp.isfinite(z), z, 1.0)
    a = _LANCZOS[0]
    for i in range(1, len(_LANCZOS)):
        a = a + _LANCZOS[i] / (z + i)
    t = z + 7.5
    big = _HALF_LOG_2PI + (z + 0.5) * xp.log(t) - t + xp.log(a)
    s = xp.abs(xp.sin(math.pi * _reduced(xp, xp.where(xp.isfinite(x), x, 0.5))))
    out = xp.where(low, math.log(math.pi) - xp.log(s) - big, big)
    return xp.where(xp.isinf(x), math.inf, xp.where(xp.isnan(x), x, out))


@lru_cache(maxsize=None)
def _asymptotic(n: int) -> tuple:
    """``(log-term?, [(coefficient, power), ...])`` of psi^(n)(y) for large ``y``."""
    if n == 0:
        return tuple((-b / (2 * k), 2 * k) for k, b in enumerate(_BERNOULLI, 1)) + ((-0.5, 1),)
    sign = (-1) ** (n + 1)
    terms = [(sign * math.factorial(n - 1), n), (sign * math.factorial(n) / 2, n + 1)]
    for k, b in enumerate(_BERNOULLI, 1):
        terms.append((sign * b * math.factorial(2 * k + n - 1) / math.factorial(2 * k), 2 * k + n))
    return tuple(terms)


def _psi_n_large(xp: Any, n: int, y: Any) -> Any:
    """psi^(n)(y) for ``y >= 20`` by the asymptotic series (inverse powers, Horner-free: few terms)."""
    r = 1.0 / y
    out = xp.log(y) if n == 0 else 0.0
    for c, p in _asymptotic(n):
        out = out + c * r ** p
    return out


@lru_cache(maxsize=None)
def _cot_derivative(n: int) -> tuple:
    """Coefficients (lowest first) of P_n with d^n/dx^n cot(pi x) = P_n(cot(pi x))."""
    p = [0.0, 1.0]
    for _ in range(n):
        dp = [i * p[i] for i in range(1, len(p))] + [0.0]
        # -pi (1 + u^2) P'(u)
        q = [0.0] * (len(dp) + 2)
        for i, c in enumerate(dp):
            q[i] += -math.pi * c
            q[i + 2] += -math.pi * c
        while len(q) > 1 and q[-1] == 0.0:
            q.pop()
        p = q
    return tuple(p)


def _polygamma_nonnegative(xp: Any, n: int, x: Any) -> Any:
    small = x < _SHIFT
    xs = xp.where(small, x, 1.0)
    s = 0.0
    for k in range(_SHIFT):
        s = s + 1.0 / (xs + k) ** (n + 1)
    big = _psi_n_large(xp, n, xp.where(small, x + _SHIFT, x))
    return big - xp.where(small, (-1) ** n * math.factorial(n) * s, 0.0)


def polygamma(xp: Any, n: int, x: Any) -> Any:
    """The ``n``-th derivative of ``digamma`` (``n = 0``: digamma itself), any ``n >= 0``.

    Below 0 by reflection, ``psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi P_n(cot(pi x))``.
    At the negative integers and ``-inf``, as SciPy: NaN for digamma, ``inf``
    for the odd orders, ``-inf`` for the even ones; at 0, the sign of
    ``-1/x^(n+1)``.
    """
    x = floating(xp, x)
    neg = x < 0
    finite = xp.isfinite(x)
    pos = _polygamma_nonnegative(xp, n, xp.where(neg | ~finite, 1.0 - xp.where(finite, x, 0.0), x))
    r = _reduced(xp, xp.where(finite, x, 0.5))
    c = 1.0 / xp.tan(math.pi * xp.where(r == 0, 0.5, r))
    poly = 0.0
    for coef in reversed(_cot_derivative(n)):
        poly = poly * c + coef
    reflected = (-1) ** n * pos - math.pi * poly
    pole = neg & (r == 0)
    at_pole = math.nan if n == 0 else (math.inf if n % 2 else -math.inf)
    out = xp.where(neg, xp.where(pole, at_pole, reflected), pos)
    at_inf = xp.where(x > 0, math.inf if n == 0 else 0.0, xp.full_like(x, at_pole))
    return xp.where(xp.isnan(x), x, xp.where(finite, out, at_inf))


def digamma(xp: Any, x: Any) -> Any:
    """``d/dx log Gamma(x)`` (:func:`polygamma` of order 0)."""
    return polygamma(xp, 0, x)


# ---------------------------------------------------------------------------
# modified Bessel functions of the first kind, orders 0 and 1
# ---------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _hankel(order: int) -> tuple:
    """``a_k`` with ``I_nu(x) ~ e^x / sqrt(2 pi x) * sum (-1)^k a_k / x^k``."""
    mu = 4.0 * order * order
    a, out = 1.0, [1.0]
    for k in range(1, _ASYMPTOTIC_TERMS):
        a *= (mu - (2 * k - 1) ** 2) / (k * 8.0)
        out.append((-1) ** k * a)
    return tuple(out)


def _bessel(xp: Any, order: int, x: Any, scaled: bool) -> Any:
    """``I_order(x)`` (times ``exp(-|x|)`` when ``scaled``)."""
    x = floating(xp, x)
    ax = xp.abs(x)
    s = xp.minimum(ax, _BESSEL_SPLIT)
    y = 0.25 * s * s
    p = 1.0
    for k in range(_SERIES_TERMS, 0, -1):
        p = 1.0 + p * y / (k * (k + order))
    near = p if order == 0 else 0.5 * s * p
    if scaled:
        near = near * xp.exp(-s)
    f = xp.where(ax > _BESSEL_SPLIT, ax, 2.0 * _BESSEL_SPLIT)
    r = 1.0 / f
    q = 0.0
    for a in reversed(_hankel(order)):
        q = q * r + a
    far = q / xp.sqrt((2.0 * math.pi) * f)
    if not scaled:  # in two halves: finite up to the largest finite value
        h = xp.exp(0.5 * f)
        far = far * h * h
    out = xp.where(ax > _BESSEL_SPLIT, far, near)
    at_inf = 0.0 if scaled else math.inf
    out = xp.where(xp.isinf(x), at_inf, out)
    if order == 1:
        out = xp.where(x < 0, -out, out)
    return xp.where(xp.isnan(x), x, out)


def i0(xp: Any, x: Any) -> Any:
    """The modified Bessel function ``I_0``."""
    return _bessel(xp, 0, x, False)


def i0e(xp: Any, x: Any) -> Any:
    """``exp(-|x|) I_0(x)``."""
    return _bessel(xp, 0, x, True)


def i1(xp: Any, x: Any) -> Any:
    """The modified Bessel function ``I_1``."""
    return _bessel(xp, 1, x, False)


def i1e(xp: Any, x: Any) -> Any:
    """``exp(-|x|) I_1(x)``."""
    return _bessel(xp, 1, x, True)
