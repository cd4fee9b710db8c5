"""``python -m benchmarks.third_party``: differentiate through SciPy,
scikit-learn and array-api-extra with anyad, and check every gradient.

Each case is a third-party function that has an Array API code path (SciPy with
``SCIPY_ARRAY_API=1``, scikit-learn with ``array_api_dispatch=True``,
array-api-extra always). It is run on anyad Variables inside a loss
``sum(real(f(x)) * w)`` (a fixed ``w``), and the gradient is compared with
two independent references: central differences of the same third-party code
on NumPy arrays (its NumPy path), and torch running the same third-party code
on tensors. Each case ends in one class:

* ``correct``: anyad's value matches NumPy's and its gradient matches the
  differences or torch;
* ``WRONG``: anyad returned a gradient (or a value) that matches neither: a
  silent wrong answer, the worst outcome;
* ``raises``: anyad raised (the message is listed): the third-party code left
  the namespace, or anyad lacks something;
* ``NaN``: anyad's gradient holds NaN where the references are finite (seen
  where third-party code computes NaN and then overwrites it: 0 * NaN is NaN in
  the backward pass, as in torch and JAX);
* ``unchecked``: no reference could be computed.

Run it with the variables set, as a user would
(``SCIPY_ARRAY_API=1 python -m benchmarks.third_party``; the module sets it for
itself when SciPy is not imported yet). ``--json PATH`` writes the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402

__all__ = ["Case", "cases", "run_case", "main"]


@dataclass
class Case:
    """``fn(x, *consts)`` of one third-party function; ``x`` is differentiated."""

    name: str
    library: str  #: "scipy", "sklearn" or "array-api-extra"
    fn: Callable
    x0: Any
    consts: tuple = ()
    pick: Callable = field(default=lambda out: out)  #: the array output to differentiate
    note: str = ""


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _vec(n: int = 6, seed: int = 0, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return _rng(seed).uniform(lo, hi, n)


def _mat(m: int = 5, n: int = 3, seed: int = 0) -> np.ndarray:
    return _rng(seed).normal(size=(m, n))


def _scipy_cases() -> list:
    import scipy.fft as fft
    import scipy.integrate as integrate
    import scipy.signal as signal
    import scipy.special as sp
    import scipy.stats as st
    from scipy.spatial.transform import Rotation

    v, pos, prob = _vec(), _vec(lo=0.2, hi=2.0), _vec(lo=0.05, hi=0.95)
    m = _mat()
    out = [
        Case("special.logsumexp", "scipy", lambda x: sp.logsumexp(x), v),
        Case("special.logsumexp(axis=0, b)", "scipy", lambda x, b: sp.logsumexp(x, axis=0, b=b), m, (m ** 2 + 0.1,)),
        Case("special.softmax", "scipy", lambda x: sp.softmax(x), v),
        Case("special.log_softmax", "scipy", lambda x: sp.log_softmax(x), v),
        Case("stats.zscore", "scipy", lambda x: st.zscore(x), v),
        Case("stats.zmap", "scipy", lambda x, c: st.zmap(x, c), v, (_vec(seed=1),)),
        Case("stats.variation", "scipy", lambda x: st.variation(x), pos),
        Case("stats.moment(order=3)", "scipy", lambda x: st.moment(x, order=3), v),
        Case("stats.skew", "scipy", lambda x: st.skew(x), v),
        Case("stats.kurtosis", "scipy", lambda x: st.kurtosis(x), v),
        Case("stats.gmean", "scipy", lambda x: st.gmean(x), pos),
        Case("stats.hmean", "scipy", lambda x: st.hmean(x), pos),
        Case("stats.pmean(p=1.5)", "scipy", lambda x: st.pmean(x, 1.5), pos),
        Case("stats.entropy", "scipy", lambda x: st.entropy(x), pos),
        Case("stats.entropy(qk)", "scipy", lambda x, q: st.entropy(x, q), pos, (_vec(seed=2, lo=0.2, hi=2.0),)),
        Case("stats.differential_entropy", "scipy", lambda x: st.differential_entropy(x), _vec(12)),
        Case("stats.sem", "scipy", lambda x: st.sem(x), v),
        Case("stats.tmean", "scipy", lambda x: st.tmean(x), v),
        Case("stats.tvar", "scipy", lambda x: st.tvar(x), v),
        Case("stats.tstd", "scipy", lambda x: st.tstd(x), v),
        Case("stats.pearsonr", "scipy", lambda x, y: st.pearsonr(x, y).statistic, v, (_vec(seed=3),)),
        Case("stats.quantile", "scipy", lambda x: st.quantile(x, 0.3), v) if hasattr(st, "quantile") else None,
        Case("stats.norm.logpdf", "scipy", lambda x: st.norm.logpdf(x), v),
        Case("integrate.trapezoid", "scipy", lambda x: integrate.trapezoid(x), v),
        Case("integrate.simpson", "scipy", lambda x: integrate.simpson(x), v),
        Case("integrate.cumulative_trapezoid", "scipy", lambda x: integrate.cumulative_trapezoid(x), v),
        Case("integrate.cumulative_simpson", "scipy", lambda x: integrate.cumulative_simpson(x), v),
        Case("fft.fft", "scipy", lambda x: fft.fft(x), v, pick=lambda z: _abs2(z)),
        Case("fft.rfft", "scipy", lambda x: fft.rfft(x), v, pick=lambda z: _abs2(z)),
        Case("fft.irfft", "scipy", lambda x: fft.irfft(x), v),
        Case("fft.dct", "scipy", lambda x: fft.dct(x), v),
        Case("fft.dst", "scipy", lambda x: fft.dst(x), v),
        Case("fft.fftshift", "scipy", lambda x: fft.fftshift(x), v),
        Case("signal.detrend", "scipy", lambda x: signal.detrend(x), v),
        Case("signal.convolve", "scipy", lambda x, k: signal.convolve(x, k), v, (_vec(3, seed=4),)),
        Case("signal.correlate", "scipy", lambda x, k: signal.correlate(x, k), v, (_vec(3, seed=4),)),
        Case("signal.fftconvolve", "scipy", lambda x, k: signal.fftconvolve(x, k), v, (_vec(3, seed=4),)),
        Case("signal.oaconvolve", "scipy", lambda x, k: signal.oaconvolve(x, k), v, (_vec(3, seed=4),)),
        Case("fft.ifft", "scipy", lambda x: fft.ifft(x), v, pick=lambda z: _abs2(z)),
        Case("fft.fft2", "scipy", lambda x: fft.fft2(x), m, pick=lambda z: _abs2(z)),
        Case("fft.hfft", "scipy", lambda x: fft.hfft(x), v),
        Case("fft.ihfft", "scipy", lambda x: fft.ihfft(x), v, pick=lambda z: _abs2(z)),
        Case("fft.ifftshift", "scipy", lambda x: fft.ifftshift(x), v),
        Case("stats.circmean", "scipy", lambda x: st.circmean(x), v),
        Case("stats.circvar", "scipy", lambda x: st.circvar(x), v),
        Case("stats.circstd", "scipy", lambda x: st.circstd(x), v),
        Case("stats.trim_mean", "scipy", lambda x: st.trim_mean(x, 0.2), v),
        Case("stats.ttest_1samp.statistic", "scipy", lambda x: st.ttest_1samp(x, 0.1).statistic, v),
        Case("stats.describe.variance", "scipy", lambda x: st.describe(x).variance, v),
        Case("stats.iqr", "scipy", lambda x: st.iqr(x), v),
        Case("Rotation.from_rotvec.as_quat", "scipy", lambda x: Rotation.from_rotvec(x).as_quat(), _vec(3)),
        Case("Rotation.from_euler.as_matrix", "scipy",
             lambda x: Rotation.from_euler("xyz", x).as_matrix(), _vec(3)),
        Case("Rotation.from_quat.as_rotvec", "scipy",
             lambda x: Rotation.from_quat(x).as_rotvec(), _vec(4, lo=0.2, hi=0.9)),
    ]
    # p-values: the incomplete beta and gamma functions (xp.special.betainc, stdtr, fdtrc, gammaincc)
    w, v12, v24 = _vec(seed=3), _vec(12), _vec(24)
    out += [
        Case("stats.pearsonr.pvalue", "scipy", lambda x, y: st.pearsonr(x, y).pvalue, v, (w,)),
        Case("stats.ttest_1samp.pvalue", "scipy", lambda x: st.ttest_1samp(x, 0.1).pvalue, v),
        Case("stats.ttest_ind.statistic", "scipy", lambda x, y: st.ttest_ind(x, y).statistic, v, (w + 0.4,)),
        Case("stats.ttest_ind.pvalue", "scipy", lambda x, y: st.ttest_ind(x, y).pvalue, v, (w + 0.4,)),
        Case("stats.ttest_ind(equal_var=False).pvalue", "scipy",
             lambda x, y: st.ttest_ind(x, y, equal_var=False).pvalue, v, (w + 0.4,)),
        Case("stats.ttest_rel.pvalue", "scipy", lambda x, y: st.ttest_rel(x, y).pvalue, v, (w,)),
        Case("stats.f_oneway.pvalue", "scipy", lambda x, y: st.f_oneway(x, y).pvalue, v, (w,)),
        Case("stats.chisquare.pvalue", "scipy", lambda x: st.chisquare(x).pvalue, pos * 10.0),
        Case("stats.power_divergence(log-likelihood).pvalue", "scipy",
             lambda x: st.power_divergence(x, lambda_="log-likelihood").pvalue, pos * 10.0),
        Case("stats.jarque_bera.pvalue", "scipy", lambda x: st.jarque_bera(x).pvalue, v12),
        Case("stats.skewtest.pvalue", "scipy", lambda x: st.skewtest(x).pvalue, v12),
        Case("stats.normaltest.pvalue", "scipy", lambda x: st.normaltest(x).pvalue, v24),
        Case("stats.bartlett.pvalue", "scipy", lambda x, y: st.bartlett(x, y).pvalue, v, (w,)),
        # shape parameters as arrays, as scipy.stats passes them
        Case("special.betainc", "scipy", lambda x, a, b: sp.betainc(a, b, x), prob, (_full(2.0), _full(3.0))),
        Case("special.betaincc", "scipy", lambda x, a, b: sp.betaincc(a, b, x), prob, (_full(0.5), _full(4.0))),
        Case("special.betaln", "scipy", lambda x, b: sp.betaln(x, b), pos, (_full(2.5),)),
        Case("special.stdtr", "scipy", lambda x, df: sp.stdtr(df, x), v, (_full(4.0),)),
        Case("special.fdtrc", "scipy", lambda x, m, n: sp.fdtrc(m, n, x), pos, (_full(3.0), _full(5.0))),
        Case("special.gammainc", "scipy", lambda x, a: sp.gammainc(a, x), pos, (_full(2.0),)),
        Case("special.gammaincc", "scipy", lambda x, a: sp.gammaincc(a, x), pos, (_full(0.7),)),
        Case("special.chdtr", "scipy", lambda x, df: sp.chdtr(df, x), pos, (_full(3.0),)),
        Case("special.chdtrc", "scipy", lambda x, df: sp.chdtrc(df, x), pos, (_full(3.0),)),
        # a Python number for df: SciPy's chdtrc calls xp.isnan(3.0), an array of the default backend
        Case("special.chdtrc(3.0, x)", "scipy", lambda x: sp.chdtrc(3.0, x), pos),
    ]
    for name in ("erf", "erfc", "expit", "gammaln", "ndtr", "log_ndtr", "i0", "i0e", "i1", "i1e", "entr",
                 "sinc", "psi", "digamma"):
        f = getattr(sp, name, None)
        if f is not None:
            out.append(Case(f"special.{name}", "scipy", (lambda f: lambda x: f(x))(f), pos))
    for name in ("logit", "ndtri", "erfinv"):
        out.append(Case(f"special.{name}", "scipy", (lambda f: lambda x: f(x))(getattr(sp, name)),
                        prob * (0.9 if name == "erfinv" else 1.0)))
    out += [
        Case("special.log_expit", "scipy", lambda x: sp.log_expit(x), v),
        Case("special.erfcinv", "scipy", lambda x: sp.erfcinv(x), prob + 0.5),
        Case("special.xlogy", "scipy", lambda x, y: sp.xlogy(x, y), v, (pos,)),
        Case("special.xlog1py", "scipy", lambda x, y: sp.xlog1py(x, y), v, (pos,)),
        Case("special.rel_entr", "scipy", lambda x, y: sp.rel_entr(x, y), pos, (pos[::-1].copy(),)),
        Case("special.kl_div", "scipy", lambda x, y: sp.kl_div(x, y), pos, (pos[::-1].copy(),)),
        Case("special.polygamma(1)", "scipy", lambda x: sp.polygamma(1, x), pos),
    ]
    return [c for c in out if c is not None]


def _full(value: float, n: int = 6) -> np.ndarray:
    return np.full(n, value)


def _abs2(z: Any) -> Any:
    from array_api_compat import array_namespace

    xp = array_namespace(z)
    return xp.real(z) ** 2 + xp.imag(z) ** 2


def _sklearn_cases() -> list:
    import sklearn
    from sklearn import metrics
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.decomposition import PCA
    from sklearn.linear_model import Ridge
    from sklearn.metrics import pairwise
    from sklearn.preprocessing import (KernelCenterer, MaxAbsScaler, MinMaxScaler, Normalizer, StandardScaler,
                                       normalize)

    sklearn.set_config(array_api_dispatch=True)
    y, p = _vec(8, seed=5), _vec(8, seed=6)
    m, m2 = _mat(5, 3, seed=7), _mat(4, 3, seed=8)
    labels = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    proba = _vec(6, seed=9, lo=0.1, hi=0.9)
    xs = _mat(12, 3, seed=10)
    cls = np.array([0, 1, 2] * 4)
    return [
        Case("metrics.mean_squared_error", "sklearn", lambda x, t: metrics.mean_squared_error(t, x), p, (y,)),
        Case("metrics.mean_absolute_error", "sklearn", lambda x, t: metrics.mean_absolute_error(t, x), p, (y,)),
        Case("metrics.r2_score", "sklearn", lambda x, t: metrics.r2_score(t, x), p, (y,)),
        Case("metrics.explained_variance_score", "sklearn",
             lambda x, t: metrics.explained_variance_score(t, x), p, (y,)),
        Case("metrics.mean_tweedie_deviance(power=0)", "sklearn",
             lambda x, t: metrics.mean_tweedie_deviance(t, x, power=0), p, (y,)),
        Case("metrics.mean_pinball_loss", "sklearn", lambda x, t: metrics.mean_pinball_loss(t, x), p, (y,)),
        Case("metrics.log_loss", "sklearn", lambda x, t: metrics.log_loss(t, x), proba, (labels,)),
        Case("pairwise.linear_kernel", "sklearn", lambda x, b: pairwise.linear_kernel(x, b), m, (m2,)),
        Case("pairwise.polynomial_kernel", "sklearn", lambda x, b: pairwise.polynomial_kernel(x, b), m, (m2,)),
        Case("pairwise.rbf_kernel", "sklearn", lambda x, b: pairwise.rbf_kernel(x, b), m, (m2,)),
        Case("pairwise.sigmoid_kernel", "sklearn", lambda x, b: pairwise.sigmoid_kernel(x, b), m, (m2,)),
        Case("pairwise.laplacian_kernel", "sklearn", lambda x, b: pairwise.laplacian_kernel(x, b), m, (m2,)),
        Case("pairwise.chi2_kernel", "sklearn", lambda x, b: pairwise.chi2_kernel(x, b), m ** 2, (m2 ** 2,)),
        Case("pairwise.cosine_similarity", "sklearn", lambda x, b: pairwise.cosine_similarity(x, b), m, (m2,)),
        Case("pairwise.euclidean_distances", "sklearn",
             lambda x, b: pairwise.euclidean_distances(x, b), m, (m2,)),
        Case("pairwise.manhattan_distances", "sklearn",
             lambda x, b: pairwise.manhattan_distances(x, b), m, (m2,)),
        Case("pairwise.additive_chi2_kernel", "sklearn",
             lambda x, b: pairwise.additive_chi2_kernel(x, b), m ** 2, (m2 ** 2,)),
        Case("pairwise.pairwise_distances", "sklearn", lambda x, b: pairwise.pairwise_distances(x, b), m, (m2,)),
        Case("pairwise.paired_euclidean_distances", "sklearn",
             lambda x, b: pairwise.paired_euclidean_distances(x, b), m[:4], (m2,)),
        Case("preprocessing.MaxAbsScaler", "sklearn", lambda x: MaxAbsScaler().fit_transform(x), m),
        Case("preprocessing.KernelCenterer", "sklearn", lambda x: KernelCenterer().fit_transform(x @ x.T), m),
        Case("preprocessing.normalize", "sklearn", lambda x: normalize(x), m),
        Case("preprocessing.Normalizer", "sklearn", lambda x: Normalizer().fit_transform(x), m),
        Case("preprocessing.StandardScaler", "sklearn", lambda x: StandardScaler().fit_transform(x), m),
        Case("preprocessing.MinMaxScaler", "sklearn", lambda x: MinMaxScaler().fit_transform(x), m),
        Case("decomposition.PCA(svd_solver=full).fit_transform", "sklearn",
             lambda x: _abs_signless(PCA(n_components=2, svd_solver="full").fit_transform(x)), m),
        Case("linear_model.Ridge(solver=svd).fit.coef_", "sklearn",
             lambda x, t: Ridge(alpha=0.5, solver="svd").fit(x, t).coef_, m, (_vec(5, seed=11),)),
        Case("linear_model.Ridge(solver=svd).predict", "sklearn",
             lambda x, t: Ridge(alpha=0.5, solver="svd").fit(x, t).predict(x), m, (_vec(5, seed=11),)),
        Case("decomposition.PCA(covariance_eigh)", "sklearn",
             lambda x: _abs_signless(PCA(n_components=2, svd_solver="covariance_eigh").fit_transform(x)), m),
        Case("LinearDiscriminantAnalysis(svd).transform", "sklearn",
             lambda x, c: _abs_signless(LinearDiscriminantAnalysis().fit(x, c).transform(x)), xs, (cls,)),
    ]


def _abs_signless(z: Any) -> Any:
    """Sign-invariant summary of components (SVD signs are arbitrary): their squares."""
    return z * z


def _extra_cases() -> list:
    import array_api_extra as xpx

    v, m = _vec(), _mat(4, 4)
    return [
        Case("at(x)[idx].set", "array-api-extra", lambda x, y: xpx.at(x * 1.0)[1:3].set(y), v, (_vec(2, seed=12),)),
        Case("at(x)[idx].add", "array-api-extra", lambda x: xpx.at(x * 1.0)[::2].add(x[1::2] ** 2), v),
        Case("at(x)[idx].multiply", "array-api-extra", lambda x: xpx.at(x * 1.0)[:3].multiply(x[3:]), v),
        Case("at(x)[mask].set", "array-api-extra", lambda x: xpx.at(x * 1.0, x > 0).set(0.0), v),
        Case("pad", "array-api-extra", lambda x: xpx.pad(x, 2), v),
        Case("create_diagonal", "array-api-extra", lambda x: xpx.create_diagonal(x), v),
        Case("apply_where", "array-api-extra",
             lambda x: xpx.apply_where(x > 0, x, lambda a: a ** 2, lambda a: -a), v),
        # (y apart from x: where an element of x equals one of y, setdiff1d jumps)
        Case("setdiff1d", "array-api-extra", lambda x, y: xpx.setdiff1d(x, y), v, (v[:2] + 5.0,)),
        Case("union1d", "array-api-extra", lambda x, y: xpx.union1d(x, y), v, (_vec(3, seed=13),)),
        Case("cov", "array-api-extra", lambda x: xpx.cov(x), m),
        Case("kron", "array-api-extra", lambda x, y: xpx.kron(x, y), m[:2, :2].copy(), (m[2:, 2:].copy(),)),
        Case("sinc", "array-api-extra", lambda x: xpx.sinc(x), v),
        Case("nan_to_num", "array-api-extra", lambda x: xpx.nan_to_num(x), v),
        Case("nanmean", "array-api-extra", lambda x: xpx.nanmean(x), v),
        Case("nansum", "array-api-extra", lambda x: xpx.nansum(x * 2.0), v),
        Case("nanmax", "array-api-extra", lambda x: xpx.nanmax(x), v),
        Case("nanmin", "array-api-extra", lambda x: xpx.nanmin(x), v),
        Case("partition", "array-api-extra", lambda x: xpx.partition(x, 2), v),
        Case("rad2deg", "array-api-extra", lambda x: xpx.rad2deg(x), v),
        Case("angle", "array-api-extra", lambda x: xpx.angle(x * (1.0 + 2.0j)), v),
        Case("expand_dims", "array-api-extra", lambda x: xpx.expand_dims(x, axis=(0, 2)), v),
        Case("atleast_nd", "array-api-extra", lambda x: xpx.atleast_nd(x, ndim=3), v),
        Case("deg2rad", "array-api-extra", lambda x: xpx.deg2rad(x), v),
        Case("one_hot(x).T @ x", "array-api-extra",
             lambda x: xpx.one_hot(_ints_like(x), 3, dtype=x.dtype) * x[:, None], v),
    ]


def _ints_like(x: Any) -> Any:
    from array_api_compat import array_namespace

    xp = array_namespace(x)
    return xp.asarray([0, 1, 2, 0, 1, 2])


def cases() -> list:
    """Every case whose library is installed."""
    out = []
    for make in (_scipy_cases, _sklearn_cases, _extra_cases):
        try:
            out += make()
        except ImportError:
            pass
    return out


# -- running one case ---------------------------------------------------------------


def _weights(shape: tuple) -> np.ndarray:
    n = int(np.prod(shape)) if shape else 1
    return (np.cos(np.arange(n) * 0.7) + 1.5).reshape(shape)


def _numpy_loss(case: Case, x: np.ndarray) -> float:
    out = np.asarray(case.pick(case.fn(x, *case.consts)))
    return float(np.sum(np.real(out) * _weights(out.shape)))


def _central_differences(case: Case) -> np.ndarray:
    x0 = np.asarray(case.x0, dtype=np.float64)
    g = np.zeros_like(x0)
    for i in range(x0.size):
        h = 1e-6 * max(1.0, abs(x0.flat[i]))
        xp_, xm = x0.copy(), x0.copy()
        xp_.flat[i] += h
        xm.flat[i] -= h
        g.flat[i] = (_numpy_loss(case, xp_) - _numpy_loss(case, xm)) / (2 * h)
    return g


def _on_backend(a: Any, backend: str) -> Any:
    """``a`` (NumPy) as an array of ``backend``: ``numpy``, or ``device1`` (array_api_strict's
    fake GPU device: no host conversion, no mixing with host arrays, as CuPy)."""
    a = np.asarray(a)
    if backend == "numpy":
        return a
    import array_api_strict as strict

    return strict.asarray(a, device=strict.Device("device1"))


def _anyad(case: Case, backend: str = "numpy") -> tuple:
    import anyad as ad
    from anyad._backend import to_numpy

    x = ad.Variable(_on_backend(np.array(case.x0, dtype=np.float64), backend), requires_grad=True)
    consts = [ad.Variable(_on_backend(c, backend)) for c in case.consts]
    out = case.pick(case.fn(x, *consts))
    if not isinstance(out, ad.Variable):
        raise TypeError(f"the result is a {type(out).__module__}.{type(out).__name__}, not a Variable: "
                        "the third-party code left the namespace")
    w = ad.asarray(_on_backend(_weights(tuple(out.shape)), backend))
    xp = out.__array_namespace__()
    loss = ad.sum(ad.real(out) * w) if xp.isdtype(out.dtype, "complex floating") else ad.sum(out * w)
    loss.backward()
    g = x.grad
    return to_numpy(out.value), None if g is None else to_numpy(g)


def _torch(case: Case) -> np.ndarray | None:
    try:
        import torch
    except ImportError:
        return None
    x = torch.tensor(np.array(case.x0, dtype=np.float64), requires_grad=True)
    consts = [torch.as_tensor(np.asarray(c)) for c in case.consts]
    out = case.pick(case.fn(x, *consts))
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return None
    w = torch.as_tensor(_weights(tuple(out.shape)))
    (torch.real(out) * w if out.is_complex() else out * w).sum().backward()
    return None if x.grad is None else x.grad.numpy()


def _close(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=2e-5, atol=1e-7, equal_nan=True))


def run_case(case: Case, backend: str = "numpy") -> dict:
    """Run one case; return its record (``status`` one of correct, WRONG, NaN, raises, unchecked)."""
    rec = {"name": case.name, "library": case.library, "backend": backend}
    try:
        value, grad = _anyad(case, backend)
    except Exception as e:
        rec.update(status="raises", error=f"{type(e).__name__}: {str(e).splitlines()[0][:300]}",
                   where=traceback.format_exc(limit=-3).strip().splitlines()[-3:])
        return rec
    try:
        ref_value = np.asarray(case.pick(case.fn(np.array(case.x0, dtype=np.float64), *case.consts)))
    except Exception as e:  # the NumPy path itself fails: nothing to compare the value with
        ref_value = None
        rec["numpy_error"] = f"{type(e).__name__}: {e}"
    refs = {}
    if ref_value is not None:
        try:
            refs["finite differences"] = _central_differences(case)
        except Exception as e:
            rec["fd_error"] = f"{type(e).__name__}: {e}"
    try:
        t = _torch(case)
        if t is not None:
            refs["torch"] = t
    except Exception as e:
        rec["torch_error"] = f"{type(e).__name__}: {str(e)[:200]}"
    if ref_value is not None and not _close(value, ref_value):
        rec.update(status="WRONG", why="the value differs from the NumPy path's")
        return rec
    if grad is None:
        grad = np.zeros_like(np.asarray(case.x0, dtype=np.float64))
    if not refs:
        rec.update(status="unchecked", why="no reference (NumPy path and torch both failed)")
        return rec
    agree = [k for k, r in refs.items() if _close(grad, r)]
    if not agree and np.isnan(grad).any() and all(np.isfinite(r).all() for r in refs.values()):
        rec.update(status="NaN", why="NaN gradient where the references are finite (a NaN computed and "
                                     "then overwritten in the forward pass poisons the gradient)")
        return rec
    if agree:
        rec.update(status="correct", checked_against=agree)
    else:
        err = {k: float(np.max(np.abs(grad - r))) for k, r in refs.items()}
        rec.update(status="WRONG", why=f"gradient differs from {', '.join(refs)} (max abs error {err})")
    return rec


def main(argv: list | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.third_party", description=__doc__.split("\n\n")[0])
    p.add_argument("-k", help="only cases whose name contains this text")
    p.add_argument("--json", metavar="PATH", help="write the records")
    p.add_argument("--backend", choices=("numpy", "device1"), default="numpy",
                   help="the arrays inside the Variables: numpy (default) or array_api_strict's fake GPU "
                        "device 'device1' (refuses host conversion, as CuPy does)")
    args = p.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore")
    records = []
    for case in cases():
        if args.k and args.k not in case.name:
            continue
        rec = run_case(case, args.backend)
        records.append(rec)
        extra = rec.get("error") or rec.get("why") or ", ".join(rec.get("checked_against", []))
        print(f"{rec['status']:<10} {case.library:<16} {case.name:<48} {extra}", flush=True)
    by = {}
    for r in records:
        by.setdefault(r["library"], {}).setdefault(r["status"], 0)
        by[r["library"]][r["status"]] += 1
    checkable = [r for r in records if r["status"] != "unchecked"]
    correct = sum(r["status"] == "correct" for r in checkable)
    wrong = sum(r["status"] == "WRONG" for r in records)
    print()
    for lib, counts in by.items():
        print(f"{lib:<16} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"correct {correct} of {len(checkable)} checkable ({100 * correct / max(1, len(checkable)):.0f}%); "
          f"silently wrong: {wrong}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
