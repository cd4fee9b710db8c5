"""The incomplete beta and gamma functions: ``betaln``, ``betainc``,
``betaincc``, ``stdtr``, ``gammainc``, ``gammaincc`` (the p-values of
``scipy.stats.pearsonr``, ``ttest_1samp``, ``ttest_ind`` and the chi-squared
tests), forward per backend as in :mod:`anyad.ops.special`.

Differentiable in the integration limit (``x``, ``t``) to every order: the
derivative is the density, written with anyad's functions. The derivatives in
the shape parameters (``a``, ``b``, ``df``) have no closed form; asking for
one raises ``NotImplementedError`` naming the function and the argument
(never a silent zero). ``betaln`` is differentiable in both arguments.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .. import _backend
from ..backends.special import floating, kernel
from ..graph import OpType, Primitive
from ..variable import Variable
from ._core import apply
from .elementwise import (
    add, diagonal_jvp, divide, exp, greater, isinf, less, log, log1p, logical_and, multiply, negative, subtract,
    where,
)
from .special_gamma import digamma, gammaln
from .special_logistic import xlog1py, xlogy

__all__ = ["betaln", "betainc", "betaincc", "stdtr", "fdtr", "fdtrc", "gammainc", "gammaincc"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_NUMBERS = frozenset((bool, int, float))  # exact types: a NumPy scalar is an array here


def _fwd(name: str) -> Callable:
    """The forward of ``name``: the backend's kernel on floating arrays, in their result dtype."""

    def fwd(xp: Any, *args: Any) -> Any:
        args = tuple(floating(xp, a) for a in args)
        want = xp.result_type(*args)
        out = kernel(xp, name)(*args)
        return out if out.dtype == want else xp.astype(out, want)

    fwd.__name__ = f"{name}_fwd"
    return fwd


def _operands(args: tuple) -> tuple:
    """Python numbers as arrays like the first array operand (its floating dtype
    and device), so the kernels and rules never see one."""
    ref = next((a for a in args if type(a) not in _NUMBERS), None)
    if ref is None:
        return args
    r = ref.value if isinstance(ref, Variable) else ref
    xp = _backend.namespace_of(r)
    dt = r.dtype if xp.isdtype(r.dtype, "real floating") else xp.float64
    dev = _backend.device_of(r)
    return tuple(xp.asarray(float(a), dtype=dt, device=dev) if type(a) in _NUMBERS else a for a in args)


def _refuse(name: str, arg: str, position: int, arity: int) -> Callable:
    """The rule of a shape parameter: raise, naming the function and the argument."""

    def rule(g: Any, ans: Any, *inputs: Any) -> Any:
        raise NotImplementedError(
            f"anyad.special.{name}: the derivative with respect to its argument {arg!r} (argument "
            f"{position + 1} of {arity}) is not implemented; only the derivative in the last argument "
            f"is. Pass {arg!r} as a constant (an array, a number, or anyad.stop_gradient(...) of a "
            "Variable), or differentiate it with finite differences")

    rule.__name__ = f"{name}_d{arg}_refused"
    return rule


def _declare(name: str, op_type: OpType, vjps: tuple) -> Primitive:
    prim = Primitive(name, op_type, _fwd(name), vjps, broadcasts=True)
    prim.jvp = diagonal_jvp(prim)
    return prim


# -- betaln -------------------------------------------------------------------------


def _betaln_da(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return multiply(g, subtract(digamma(a), digamma(add(a, b))))


def _betaln_db(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return multiply(g, subtract(digamma(b), digamma(add(a, b))))


_BETALN = _declare("betaln", OpType.BETALN, (_betaln_da, _betaln_db))


def betaln(a: Any, b: Any, /) -> Any:
    """``log|B(a, b)|``, the logarithm of the beta function.

    Derivatives ``digamma(a) - digamma(a + b)`` and ``digamma(b) -
    digamma(a + b)``, to every order. The portable kernel (array_api_strict,
    torch) avoids the cancellation of three large ``gammaln`` (Stirling's
    series when an argument is 8 or more).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.special.betaln(ad.Variable([2.0, 0.5]), 3.0)  # B(2, 3) = 1/12
    Variable([-2.48490665  0.06453852])
    """
    return apply(_BETALN, _operands((a, b)))


# -- betainc, betaincc --------------------------------------------------------------


def _beta_density(a: Any, b: Any, x: Any) -> Any:
    """``x^(a-1) (1-x)^(b-1) / B(a, b)`` (``inf`` at an end where it diverges)."""
    log_kernel = add(xlogy(subtract(a, 1.0), x), xlog1py(subtract(b, 1.0), negative(x)))
    return exp(subtract(log_kernel, betaln(a, b)))


def _betainc_dx(g: Any, ans: Any, a: Any, b: Any, x: Any) -> Any:
    return multiply(g, _beta_density(a, b, x))


def _betaincc_dx(g: Any, ans: Any, a: Any, b: Any, x: Any) -> Any:
    return negative(multiply(g, _beta_density(a, b, x)))


_BETAINC = _declare("betainc", OpType.BETAINC,
                    (_refuse("betainc", "a", 0, 3), _refuse("betainc", "b", 1, 3), _betainc_dx))
_BETAINCC = _declare("betaincc", OpType.BETAINCC,
                     (_refuse("betaincc", "a", 0, 3), _refuse("betaincc", "b", 1, 3), _betaincc_dx))


def betainc(a: Any, b: Any, x: Any, /) -> Any:
    """The regularised incomplete beta function ``I_x(a, b)`` (SciPy's argument order).

    ``a, b > 0`` are shape parameters, ``0 <= x <= 1`` the limit (NaN
    outside, as SciPy). The derivative in ``x`` is the beta density
    ``x^(a-1) (1-x)^(b-1) / B(a, b)``, differentiable again; a derivative
    in ``a`` or ``b`` raises ``NotImplementedError``. The kernel is the
    backend's own (SciPy, CuPy, JAX) or a portable continued fraction
    (:mod:`anyad.backends.special_incomplete`: torch, array_api_strict).

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([0.25, 0.5], requires_grad=True)
    >>> ad.special.betainc(2.0, 3.0, x)
    Variable([0.26171875 0.6875    ])
    >>> ad.sum(ad.special.betainc(2.0, 3.0, x)).backward()
    >>> x.grad                          # 12 x (1 - x)^2
    array([1.6875, 1.5   ])
    """
    return apply(_BETAINC, _operands((a, b, x)))


def betaincc(a: Any, b: Any, x: Any, /) -> Any:
    """``1 - betainc(a, b, x)``, computed directly where it is small (a p-value).

    Derivative in ``x``: minus the beta density; in ``a`` or ``b``: raises
    ``NotImplementedError``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.special.betaincc(2.0, 3.0, ad.Variable([0.5, 0.999]))
    Variable([3.125e-01 3.997e-09])
    """
    return apply(_BETAINCC, _operands((a, b, x)))


# -- stdtr ----------------------------------------------------------------------------


def _stdtr_dt(g: Any, ans: Any, df: Any, t: Any) -> Any:
    # Student's t density; the normal density where df = inf
    inf = isinf(df)
    d = where(inf, 1.0, df)
    half = multiply(d, 0.5)
    log_t = subtract(negative(add(betaln(half, 0.5), multiply(log(d), 0.5))),
                     multiply(add(half, 0.5), log1p(divide(multiply(t, t), d))))
    log_normal = subtract(multiply(multiply(t, t), -0.5), _HALF_LOG_2PI)
    return multiply(g, exp(where(inf, log_normal, log_t)))


_STDTR = _declare("stdtr", OpType.STDTR, (_refuse("stdtr", "df", 0, 2), _stdtr_dt))


def stdtr(df: Any, t: Any, /) -> Any:
    """The CDF of Student's t distribution with ``df > 0`` degrees of freedom at ``t``.

    ``df = inf`` gives the normal CDF. The derivative in ``t`` is the t
    density, differentiable again; a derivative in ``df`` raises
    ``NotImplementedError``. ``stdtr(df, -abs(t))`` is the one-sided p-value
    of a t-test (SciPy's ``ttest_1samp``, ``ttest_ind`` call it so).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.special.stdtr(3.0, ad.Variable([-2.0, 0.0, 1.0]))
    Variable([0.06966298 0.5        0.80449889])
    """
    return apply(_STDTR, _operands((df, t)))


# -- fdtr, fdtrc (composed) ------------------------------------------------------------


def _f_dist(dfn: Any, dfd: Any, x: Any, upper: bool) -> Any:
    """``I_w(dfd/2, dfn/2)`` (``upper``) or its complement, ``w = dfd / (dfd + dfn x)``,
    from the smaller of ``w`` and ``1 - w = dfn x / (dfd + dfn x)`` (each exact)."""
    dfn, dfd, x = _operands((dfn, dfd, x))
    nx = multiply(dfn, x)
    den = add(dfd, nx)
    w, v = divide(dfd, den), divide(nx, den)  # w: 0 at x = inf, outside [0, 1] below x = 0
    low = less(w, 0.5)
    ws, vs = where(low, w, 0.5), where(low, 0.5, v)  # the branch not taken sees a harmless 1/2
    a, b = multiply(dfd, 0.5), multiply(dfn, 0.5)
    out = where(low, betainc(a, b, ws), betaincc(b, a, vs)) if upper else \
        where(low, betaincc(a, b, ws), betainc(b, a, vs))
    return where(logical_and(greater(dfn, 0.0), greater(dfd, 0.0)), out, math.nan)


def fdtr(dfn: Any, dfd: Any, x: Any, /) -> Any:
    """The CDF of the F distribution with ``dfn, dfd > 0`` degrees of freedom at ``x``.

    Composed: ``betaincc(dfd/2, dfn/2, w)``, ``w = dfd / (dfd + dfn x)``
    (``betainc(dfn/2, dfd/2, 1 - w)`` where ``w > 1/2``), so differentiable
    in ``x`` (every order); a derivative in ``dfn`` or ``dfd`` raises
    ``NotImplementedError`` (from ``betainc``).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.special.fdtr(2.0, 4.0, ad.Variable([0.0, 1.0]))    # 1 - (1 + x/2)^-2
    Variable([0.         0.55555556])
    """
    return _f_dist(dfn, dfd, x, False)


def fdtrc(dfn: Any, dfd: Any, x: Any, /) -> Any:
    """``1 - fdtr(dfn, dfd, x)``, the F test's p-value (``scipy.stats.f_oneway``).

    ``betainc(dfd/2, dfn/2, w)``, ``w = dfd / (dfd + dfn x)``; derivatives as
    :func:`fdtr`.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.special.fdtrc(2.0, 4.0, ad.Variable([0.0, 1.0]))
    Variable([1.         0.44444444])
    """
    return _f_dist(dfn, dfd, x, True)


# -- gammainc, gammaincc --------------------------------------------------------------


def _gamma_density(a: Any, x: Any) -> Any:
    """``x^(a-1) e^(-x) / Gamma(a)``."""
    return exp(subtract(subtract(xlogy(subtract(a, 1.0), x), x), gammaln(a)))


def _gammainc_dx(g: Any, ans: Any, a: Any, x: Any) -> Any:
    return multiply(g, _gamma_density(a, x))


def _gammaincc_dx(g: Any, ans: Any, a: Any, x: Any) -> Any:
    return negative(multiply(g, _gamma_density(a, x)))


_GAMMAINC = _declare("gammainc", OpType.GAMMAINC, (_refuse("gammainc", "a", 0, 2), _gammainc_dx))
_GAMMAINCC = _declare("gammaincc", OpType.GAMMAINCC,
                      (_refuse("gammaincc", "a", 0, 2), _gammaincc_dx))


def gammainc(a: Any, x: Any, /) -> Any:
    """The regularised lower incomplete gamma function ``P(a, x)``.

    The derivative in ``x`` is the gamma density ``x^(a-1) e^(-x) /
    Gamma(a)``, differentiable again; in ``a`` it raises
    ``NotImplementedError``. SciPy's ``chdtr(v, x)`` is ``gammainc(v/2, x/2)``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.special.gammainc(1.0, ad.Variable([0.0, 1.0]))    # 1 - exp(-x)
    Variable([0.         0.63212056])
    """
    return apply(_GAMMAINC, _operands((a, x)))


def gammaincc(a: Any, x: Any, /) -> Any:
    """``Q(a, x) = 1 - gammainc(a, x)``, computed directly where it is small.

    Derivative in ``x``: minus the gamma density; in ``a``: raises
    ``NotImplementedError``. SciPy's ``chdtrc(v, x)`` is
    ``gammaincc(v/2, x/2)``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.special.gammaincc(1.0, ad.Variable([0.0, 1.0]))    # exp(-x)
    Variable([1.         0.36787944])
    """
    return apply(_GAMMAINCC, _operands((a, x)))


for _f in (betaln, betainc, betaincc, stdtr, gammainc, gammaincc):
    _f.primitive = globals()["_" + _f.__name__.upper()]  # type: ignore[attr-defined]
for _f in (betaln, betainc, betaincc, stdtr, fdtr, fdtrc, gammainc, gammaincc):
    _f.__module__ = "anyad.special"
del _f
