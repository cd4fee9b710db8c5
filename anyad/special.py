"""Differentiable special functions: ``anyad.special.erf``, ``gammaln``, ``xlogy``...

The functions of :mod:`anyad.array_api.special` (the namespace SciPy
dispatches to), gathered under the name of ``scipy.special``: error function
family, logistic family, entropies, gamma family, modified Bessel functions,
the incomplete beta and gamma functions (``betainc``, ``stdtr``,
``gammainc``...), each with rules and forward mode, on every backend.

Examples
--------
>>> import anyad as ad
>>> x = ad.Variable([0.0, 1.0], requires_grad=True)
>>> ad.sum(ad.special.expit(x)).backward()
>>> x.grad
array([0.25      , 0.19661193])
"""

from .array_api.special import (  # noqa: F401
    __all__, betainc, betaincc, betaln, digamma, entr, erf, erfc, erfcinv, erfinv, expit, fdtr, fdtrc,
    gammainc, gammaincc, gammaln, i0, i0e, i1, i1e, kl_div, log_expit, log_ndtr, logit, ndtr, ndtri,
    polygamma, psi, rel_entr, sinc, softplus, stdtr, xlog1py, xlogy,
)
