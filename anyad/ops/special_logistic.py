"""Special functions of the logistic and entropy families: ``expit``, ``logit``,
``log_expit``, ``softplus``, ``sinc``, ``entr``, ``xlogy``, ``xlog1py``,
``rel_entr``, ``kl_div`` (forward per backend and rules as in
:mod:`anyad.ops.special`).

At points where a function is not differentiable the rules return a stated
value instead of NaN (``docs/conventions.md``, "Special functions").
"""

from __future__ import annotations

import math
from typing import Any

from ..graph import OpType
from .creation import zeros_like
from .elementwise import (
    abs, add, cos, divide, equal, greater, less, less_equal, log, log1p, logical_and, multiply, negative,
    subtract, where,
)
from .special import special_binary, special_unary

__all__ = ["expit", "logit", "log_expit", "softplus", "sinc", "entr", "xlogy", "xlog1py", "rel_entr",
           "kl_div"]


def _expit_vjp(g: Any, ans: Any, x: Any) -> Any:
    # expit(x) * expit(-x): no 1 - expit(x) rounding to 0 in the right tail
    return multiply(g, multiply(ans, expit(negative(x))))


expit = special_unary(
    "expit", OpType.EXPIT, _expit_vjp,
    "The logistic sigmoid ``1 / (1 + exp(-x))``; derivative ``expit(x) expit(-x)``.",
    "    >>> ad.special.expit(ad.Variable([0.0, 2.0]))\n    Variable([0.5        0.88079708])",
)

logit = special_unary(
    "logit", OpType.LOGIT, lambda g, ans, x: divide(g, multiply(x, subtract(1.0, x))),
    "``log(p / (1 - p))``, the inverse of ``expit`` (``-inf`` at 0, ``inf`` at 1, NaN outside "
    "``[0, 1]``); derivative ``1 / (p (1 - p))``.",
    "    >>> ad.special.logit(ad.Variable([0.5, 0.9]))\n    Variable([0.         2.19722458])",
)

log_expit = special_unary(
    "log_expit", OpType.LOG_EXPIT, lambda g, ans, x: multiply(g, expit(negative(x))),
    "``log(expit(x)) = -softplus(-x)``, without overflow; derivative ``expit(-x)``.",
    "    >>> ad.special.log_expit(ad.Variable([0.0, -100.0]))\n    Variable([  -0.69314718 -100.        ])",
)

softplus = special_unary(
    "softplus", OpType.SOFTPLUS, lambda g, ans, x: multiply(g, expit(x)),
    "``log(1 + exp(x))`` without overflow (SciPy's ``softplus``); derivative ``expit(x)``.",
    "    >>> ad.special.softplus(ad.Variable([0.0, 100.0]))\n    Variable([  0.69314718 100.        ])",
)

# sinc'(x) = sum_{k>=1} (-1)^k pi^(2k) 2k x^(2k-1) / (2k+1)!, used for |x| < 0.1 (8 terms: to
# double precision there, and every derivative at 0 right, where the quotient is 0/0)
_SINC_SERIES = tuple((-1) ** k * math.pi ** (2 * k) * 2 * k / math.factorial(2 * k + 1) for k in range(1, 9))
_SINC_SMALL = 0.1


def _sinc_vjp(g: Any, ans: Any, x: Any) -> Any:
    small = less(abs(x), _SINC_SMALL)
    u = multiply(x, x)
    poly = _SINC_SERIES[-1]
    for c in reversed(_SINC_SERIES[:-1]):
        poly = add(multiply(poly, u), c)
    xs = where(small, 1.0, x)
    far = divide(subtract(cos(multiply(xs, math.pi)), sinc(xs)), xs)
    return multiply(g, where(small, multiply(poly, x), far))


sinc = special_unary(
    "sinc", OpType.SINC, _sinc_vjp,
    "The normalised sinc ``sin(pi x) / (pi x)``, 1 at 0; derivative ``(cos(pi x) - sinc(x)) / x`` "
    "(a series near 0).",
    "    >>> ad.special.sinc(ad.Variable([0.0, 0.5]))\n    Variable([1.         0.63661977])",
)


def _entr_vjp(g: Any, ans: Any, x: Any) -> Any:
    # -(log x + 1) for x >= 0 (inf at 0); 0 below, where the value is the constant -inf
    below = less(x, 0.0)
    return multiply(g, where(below, zeros_like(x), negative(add(log(where(below, 1.0, x)), 1.0))))


entr = special_unary(
    "entr", OpType.ENTR, _entr_vjp,
    "The elementwise entropy ``-x log x`` (0 at 0, ``-inf`` below); derivative ``-(log x + 1)``.",
    "    >>> ad.special.entr(ad.Variable([0.0, 0.5]))\n    Variable([0.         0.34657359])",
)


def _nonzero(x: Any) -> Any:
    return logical_and(greater(abs(x), 0.0), equal(x, x))  # not 0, not NaN


def _xlogy_dx(g: Any, ans: Any, x: Any, y: Any) -> Any:
    # log(y), also at x = 0 (x log y is x times a constant there); 0 at x = y = 0
    corner = logical_and(equal(x, 0.0), equal(y, 0.0))
    return multiply(g, where(corner, 0.0, log(where(corner, 1.0, y))))


def _xlogy_dy(g: Any, ans: Any, x: Any, y: Any) -> Any:
    nz = _nonzero(x)
    return multiply(g, where(nz, divide(x, where(nz, y, 1.0)), 0.0))


xlogy = special_binary(
    "xlogy", OpType.XLOGY, _xlogy_dx, _xlogy_dy,
    "``x * log(y)``, 0 where ``x == 0`` (unless ``y`` is NaN); derivatives ``log(y)`` and ``x / y``.",
    "    >>> ad.special.xlogy(ad.Variable([0.0, 2.0]), ad.Variable([0.0, 3.0]))\n"
    "    Variable([0.         2.19722458])",
)


def _xlog1py_dx(g: Any, ans: Any, x: Any, y: Any) -> Any:
    corner = logical_and(equal(x, 0.0), equal(y, -1.0))
    return multiply(g, where(corner, 0.0, log1p(where(corner, 0.0, y))))


def _xlog1py_dy(g: Any, ans: Any, x: Any, y: Any) -> Any:
    nz = _nonzero(x)
    return multiply(g, where(nz, divide(x, add(where(nz, y, 0.0), 1.0)), 0.0))


xlog1py = special_binary(
    "xlog1py", OpType.XLOG1PY, _xlog1py_dx, _xlog1py_dy,
    "``x * log1p(y)``, 0 where ``x == 0`` (unless ``y`` is NaN); derivatives ``log1p(y)`` and "
    "``x / (1 + y)``.",
    "    >>> ad.special.xlog1py(ad.Variable([0.0, 2.0]), ad.Variable([-1.0, 1.0]))\n"
    "    Variable([0.         1.38629436])",
)


def _domain(x: Any, y: Any) -> tuple:
    """``(x > 0 and y > 0, x == 0 < y, x there, y there)`` with safe values elsewhere."""
    ok = logical_and(greater(x, 0.0), greater(y, 0.0))
    edge = logical_and(equal(x, 0.0), greater(y, 0.0))
    return ok, edge, where(ok, x, 1.0), where(ok, y, 1.0)


def _rel_entr_dx(g: Any, ans: Any, x: Any, y: Any) -> Any:
    ok, edge, xs, ys = _domain(x, y)
    d = add(log(divide(xs, ys)), 1.0)
    return multiply(g, where(ok, d, where(edge, -math.inf, zeros_like(x))))


def _rel_entr_dy(g: Any, ans: Any, x: Any, y: Any) -> Any:
    ok, edge, xs, ys = _domain(x, y)
    return multiply(g, where(ok, negative(divide(xs, ys)), 0.0))


rel_entr = special_binary(
    "rel_entr", OpType.REL_ENTR, _rel_entr_dx, _rel_entr_dy,
    "``x log(x / y)`` for positive ``x, y``, 0 where ``x == 0 <= y``, ``inf`` elsewhere; derivatives "
    "``log(x / y) + 1`` and ``-x / y`` (``-inf`` in ``x`` at ``x = 0 < y``, 0 off the domain).",
    "    >>> ad.special.rel_entr(ad.Variable([0.0, 1.0]), ad.Variable([1.0, 2.0]))\n"
    "    Variable([ 0.         -0.69314718])",
)


def _kl_div_dx(g: Any, ans: Any, x: Any, y: Any) -> Any:
    ok, edge, xs, ys = _domain(x, y)
    return multiply(g, where(ok, log(divide(xs, ys)), where(edge, -math.inf, zeros_like(x))))


def _kl_div_dy(g: Any, ans: Any, x: Any, y: Any) -> Any:
    ok, edge, xs, ys = _domain(x, y)
    at_zero = logical_and(equal(x, 0.0), less_equal(0.0, y))
    return multiply(g, where(ok, subtract(1.0, divide(xs, ys)), where(at_zero, 1.0, zeros_like(x))))


kl_div = special_binary(
    "kl_div", OpType.KL_DIV, _kl_div_dx, _kl_div_dy,
    "``x log(x / y) - x + y`` for positive ``x, y``, ``y`` where ``x == 0 <= y``, ``inf`` elsewhere; "
    "derivatives ``log(x / y)`` and ``1 - x / y``.",
    "    >>> ad.special.kl_div(ad.Variable([0.0, 1.0]), ad.Variable([1.0, 2.0]))\n"
    "    Variable([1.         0.30685282])",
)
