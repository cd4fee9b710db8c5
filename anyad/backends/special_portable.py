"""Special functions written with an Array API namespace alone (the gamma and
Bessel families are in :mod:`anyad.backends.special_gamma`).

The fallback of :mod:`anyad.backends.special` for namespaces without their own
kernels (array_api_strict, numpy without SciPy, any other conforming library):
every function here runs the namespace's elementwise functions on the array's
own device, never converting to NumPy. Arguments are computed in their own
real floating dtype (integers in ``float64``). Largest float64 errors
measured against SciPy on dense grids (``tests/test_special_functions.py``
checks them on every backend): logistic family, ``xlogy``, ``entr`` 5e-16;
``ndtri``, ``erfinv``, ``erfcinv`` 3e-15; ``erfc`` 1e-14; ``ndtr`` and
``log_ndtr`` 2e-13 relative far in the left tail (where the rounding of
``-x/sqrt(2)`` is amplified); ``i0``, ``i0e``, ``i1``, ``i1e`` 2e-15;
``gammaln``, ``digamma``, ``polygamma`` 5e-15 relative, or absolute near
their zeros (near the poles they are closer to mpmath than SciPy is).

Methods: ``erfc`` from the series of ``erf`` below 1.5 and a continued
fraction above; ``ndtri`` from Acklam's rational approximation refined by one
Halley step (so ``erfinv`` and ``erfcinv``); ``gammaln`` by Lanczos (g = 7)
with reflection; ``digamma``/``polygamma`` by recurrence up to 20 and the
asymptotic series, reflection below 0; ``i0``/``i1`` by their power series up
to 20 and the asymptotic expansion beyond.

>>> import array_api_strict as xp
>>> ndtri(xp, xp.asarray([0.025, 0.5]))
Array([-1.95996398,  0.        ], dtype=array_api_strict.float64)
"""

from __future__ import annotations

import math
from typing import Any

from .special_erf import floating, portable_erf

__all__ = [
    "erfc", "ndtr", "log_ndtr", "ndtri", "erfinv", "erfcinv", "expit", "logit", "log_expit", "softplus",
    "xlogy", "xlog1py", "entr", "rel_entr", "kl_div", "sinc",
]

_SQRT_PI = math.sqrt(math.pi)
_SQRT2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_ERFC_SPLIT = 1.5
_FRACTION_TERMS = 100


def _keep_nan(xp: Any, x: Any, out: Any) -> Any:
    return xp.where(xp.isnan(x), x, out)


# ---------------------------------------------------------------------------
# the error-function family
# ---------------------------------------------------------------------------


def _fraction(xp: Any, f: Any) -> Any:
    """``t`` with ``erfc(f) = exp(-f^2) / (sqrt(pi) t)`` for ``f >= 1.5`` (continued fraction)."""
    t = f
    for k in range(_FRACTION_TERMS, 0, -1):
        t = f + (0.5 * k) / t
    return t


def _erfc_abs(xp: Any, a: Any) -> Any:
    """``erfc(a)`` for ``a >= 0``, to a few ulps relative (no cancellation in the tail)."""
    near = 1.0 - portable_erf(xp, xp.minimum(a, _ERFC_SPLIT))
    f = xp.maximum(a, _ERFC_SPLIT)
    far = xp.exp(-(f * f)) / (_SQRT_PI * _fraction(xp, f))
    return xp.where(a < _ERFC_SPLIT, near, far)


def erfc(xp: Any, x: Any) -> Any:
    """``1 - erf(x)``, accurate relative to its value in the right tail."""
    x = floating(xp, x)
    pos = _erfc_abs(xp, xp.abs(x))
    return _keep_nan(xp, x, xp.where(x < 0, 2.0 - pos, pos))


def ndtr(xp: Any, x: Any) -> Any:
    """The standard normal CDF, ``erfc(-x / sqrt(2)) / 2``."""
    x = floating(xp, x)
    return 0.5 * erfc(xp, -x / _SQRT2)


def log_ndtr(xp: Any, x: Any) -> Any:
    """``log(ndtr(x))`` without underflow for very negative ``x`` (the continued
    fraction's logarithm) and without rounding to 0 for large ``x`` (``log1p``)."""
    x = floating(xp, x)
    z = -x / _SQRT2
    zf = xp.maximum(z, _ERFC_SPLIT)
    tail = -(zf * zf) - xp.log(_fraction(xp, zf)) - math.log(2.0 * _SQRT_PI)
    e = _erfc_abs(xp, xp.abs(z))
    mid = xp.where(z > 0, xp.log(0.5 * e), xp.log1p(-0.5 * e))
    return _keep_nan(xp, x, xp.where(z > _ERFC_SPLIT, tail, mid))


# Acklam's rational approximation of the normal quantile (relative error 1.2e-9)
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
      -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
      -1.328068155288572e+01, 1.0)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
      4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00, 1.0)
_P_LOW = 0.02425


def _horner(coefs: tuple, t: Any) -> Any:
    out = coefs[0]
    for c in coefs[1:]:
        out = out * t + c
    return out


def ndtri(xp: Any, p: Any) -> Any:
    """The standard normal quantile: Acklam's approximation and one Halley step.

    The step compares ``p`` with ``ndtr`` on the side where both are small
    (``1 - p`` is exact for ``p >= 1/2``), so both tails keep full precision.
    """
    p = floating(xp, p)
    inside = (p > 0) & (p < 1)
    ps = xp.where(inside, p, 0.5)
    upper = ps > 0.5
    side = xp.where(upper, 1.0 - ps, ps)  # the tail probability, exact
    q = ps - 0.5
    r = q * q
    central = _horner(_A, r) * q / _horner(_B, r)
    s = xp.sqrt(-2.0 * xp.log(side))
    tail = _horner(_C, s) / _horner(_D, s)
    x = xp.where(side < _P_LOW, xp.where(upper, -tail, tail), central)
    # one Halley step on ndtr(x) = p, written on the small side
    c = 0.5 * erfc(xp, xp.where(upper, x, -x) / _SQRT2)  # ndtr(-x) above 1/2, ndtr(x) below
    e = xp.where(upper, side - c, c - side)  # ndtr(x) - p, in the tails
    mid = xp.abs(q) < 0.25  # near 1/2: from erf and the exact p - 1/2, relative to x
    e = xp.where(mid, 0.5 * portable_erf(xp, xp.where(mid, x, 0.0) / _SQRT2) - q, e)
    pdf = xp.exp(-0.5 * (x * x)) / _SQRT_2PI
    u = e / xp.where(pdf > 0, pdf, 1.0)
    refined = x - u / (1.0 + 0.5 * x * u)
    x = xp.where(pdf > 0, refined, x)
    out = xp.where(p == 0, -math.inf, xp.where(p == 1, math.inf, xp.full_like(p, math.nan)))
    return xp.where(inside, x, out)


def erfcinv(xp: Any, y: Any) -> Any:
    """The inverse of ``erfc`` on ``[0, 2]``: ``-ndtri(y / 2) / sqrt(2)``."""
    y = floating(xp, y)
    return -ndtri(xp, 0.5 * y) / _SQRT2


def erfinv(xp: Any, y: Any) -> Any:
    """The inverse of ``erf`` on ``[-1, 1]``: from ``erfcinv(1 - |y|)`` beyond 1/2,
    and below from a first guess refined by a Halley step on ``erf``
    (relative precision down to the smallest ``y``)."""
    y = floating(xp, y)
    a = xp.abs(y)
    big = a > 0.5
    far = erfcinv(xp, xp.where(big, 1.0 - a, 0.5))
    small = xp.where(big, 0.0, a)
    x0 = xp.where(small < 1e-3, (0.5 * _SQRT_PI) * small * (1.0 + (math.pi / 12.0) * small * small),
                  ndtri(xp, xp.where(small < 1e-3, 0.75, 0.5 * small + 0.5)) / _SQRT2)
    e = portable_erf(xp, x0) - small
    d = e / (2.0 / _SQRT_PI * xp.exp(-(x0 * x0)))
    near = x0 - d / (1.0 + x0 * d)
    out = xp.where(big, far, near)
    out = xp.where(a > 1, math.nan, out)
    return _keep_nan(xp, y, xp.where(y < 0, -out, out))


# ---------------------------------------------------------------------------
# the logistic family
# ---------------------------------------------------------------------------


def expit(xp: Any, x: Any) -> Any:
    """``1 / (1 + exp(-x))`` without overflow."""
    x = floating(xp, x)
    e = xp.exp(-xp.abs(x))
    return _keep_nan(xp, x, xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))


def logit(xp: Any, p: Any) -> Any:
    """``log(p / (1 - p))``; near 1/2 as ``log1p((2p - 1) / (1 - p))`` (exact differences)."""
    p = floating(xp, p)
    mid = (p > 0.25) & (p < 0.75)
    pm = xp.where(mid, p, 0.5)
    near = xp.log1p((2.0 * pm - 1.0) / (1.0 - pm))
    return xp.where(mid, near, xp.log(p) - xp.log1p(-p))


def log_expit(xp: Any, x: Any) -> Any:
    """``log(expit(x)) = -softplus(-x)``."""
    x = floating(xp, x)
    e = xp.log1p(xp.exp(-xp.abs(x)))
    return _keep_nan(xp, x, xp.where(x < 0, x - e, -e))


def softplus(xp: Any, x: Any) -> Any:
    """``log(1 + exp(x))`` without overflow."""
    x = floating(xp, x)
    return _keep_nan(xp, x, xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x))))


def sinc(xp: Any, x: Any) -> Any:
    """``sin(pi x) / (pi x)``, 1 at 0."""
    x = floating(xp, x)
    px = math.pi * xp.where(x == 0, 1.0, x)
    return xp.where(x == 0, 1.0, xp.sin(px) / px)


# ---------------------------------------------------------------------------
# x log y and the entropies
# ---------------------------------------------------------------------------


def _pair(xp: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """Two operands as arrays of one real floating dtype (Python scalars take the other's)."""
    if isinstance(x, (int, float)):
        y = floating(xp, y)
        x = xp.asarray(float(x), dtype=y.dtype, device=y.device)
    elif isinstance(y, (int, float)):
        x = floating(xp, x)
        y = xp.asarray(float(y), dtype=x.dtype, device=x.device)
    else:
        x, y = floating(xp, x), floating(xp, y)
        dt = xp.result_type(x, y)
        x, y = xp.astype(x, dt), xp.astype(y, dt)
    return x, y


def xlogy(xp: Any, x: Any, y: Any) -> Any:
    """``x * log(y)``, 0 where ``x == 0`` (unless ``y`` is NaN)."""
    x, y = _pair(xp, x, y)
    return xp.where((x == 0) & ~xp.isnan(y), 0.0, x * xp.log(y))


def xlog1py(xp: Any, x: Any, y: Any) -> Any:
    """``x * log1p(y)``, 0 where ``x == 0`` (unless ``y`` is NaN)."""
    x, y = _pair(xp, x, y)
    return xp.where((x == 0) & ~xp.isnan(y), 0.0, x * xp.log1p(y))


def entr(xp: Any, x: Any) -> Any:
    """``-x log x`` for ``x > 0``, 0 at 0, ``-inf`` below."""
    x = floating(xp, x)
    xs = xp.where(x > 0, x, 1.0)
    out = xp.where(x > 0, -xs * xp.log(xs), xp.where(x == 0, 0.0, xp.full_like(x, -math.inf)))
    return _keep_nan(xp, x, out)


def _x_log_x_over_y(xp: Any, x: Any, y: Any) -> Any:
    ok = (x > 0) & (y > 0)
    xs, ys = xp.where(ok, x, 1.0), xp.where(ok, y, 1.0)
    r = xs / ys
    fine = (r > 0) & xp.isfinite(r)
    return ok, xs * xp.where(fine, xp.log(xp.where(fine, r, 1.0)), xp.log(xs) - xp.log(ys))


def rel_entr(xp: Any, x: Any, y: Any) -> Any:
    """``x log(x / y)`` for positive ``x, y``; 0 where ``x == 0 <= y``; ``inf`` elsewhere."""
    x, y = _pair(xp, x, y)
    ok, v = _x_log_x_over_y(xp, x, y)
    out = xp.where(ok, v, xp.where((x == 0) & (y >= 0), 0.0, xp.full_like(v, math.inf)))
    return xp.where(xp.isnan(x) | xp.isnan(y), math.nan, out)


def kl_div(xp: Any, x: Any, y: Any) -> Any:
    """``x log(x / y) - x + y`` for positive ``x, y``; ``y`` where ``x == 0 <= y``; ``inf`` elsewhere."""
    x, y = _pair(xp, x, y)
    ok, v = _x_log_x_over_y(xp, x, y)
    out = xp.where(ok, v - x + y, xp.where((x == 0) & (y >= 0), y, math.inf))
    return xp.where(xp.isnan(x) | xp.isnan(y), math.nan, out)

