"""The ``special`` namespace of :mod:`anyad.array_api`: differentiable special functions.

``Variable.__array_namespace__().special`` is this module, which is where
SciPy looks (``scipy/special/_support_alternative_backends.py`` dispatches
``scipy.special.<name>`` to ``xp.special.<name>`` when ``SCIPY_ARRAY_API=1``
and ``xp`` is neither numpy, CuPy, JAX nor torch), so ``scipy.special.erf``,
``expit``, ``gammaln``, ``xlogy``... applied to Variables return Variables
with gradients. Each function runs its backend's own kernel (SciPy, torch,
CuPy, JAX) or a portable one written with the namespace (array_api_strict,
any device); see :mod:`anyad.ops.special`. ``psi`` is ``digamma``.

Examples
--------
>>> import anyad as ad
>>> from array_api_compat import array_namespace
>>> x = ad.Variable([0.5, 2.0], requires_grad=True)
>>> xp = array_namespace(x)
>>> y = xp.special.gammaln(x)
>>> xp.sum(y).backward()
>>> x.grad                      # digamma
array([-1.96351003,  0.42278434])
"""

from __future__ import annotations

from ..ops.special import erf, erfc, erfcinv, erfinv, log_ndtr, ndtr, ndtri
from ..ops.special_gamma import digamma, gammaln, i0, i0e, i1, i1e, polygamma
from ..ops.special_incomplete import betainc, betaincc, betaln, fdtr, fdtrc, gammainc, gammaincc, stdtr
from ..ops.special_logistic import (
    entr, expit, kl_div, log_expit, logit, rel_entr, sinc, softplus, xlog1py, xlogy,
)

psi = digamma

__all__ = [
    "erf", "erfc", "erfinv", "erfcinv", "ndtr", "log_ndtr", "ndtri", "expit", "logit", "log_expit",
    "softplus", "sinc", "entr", "xlogy", "xlog1py", "rel_entr", "kl_div", "gammaln", "digamma", "psi",
    "polygamma", "i0", "i0e", "i1", "i1e", "betaln", "betainc", "betaincc", "stdtr", "gammainc", "gammaincc",
    "fdtr", "fdtrc",
]
