"""Matrix-free linear solvers written against the array namespace.

``cg`` (conjugate gradient, for symmetric positive definite operators) and
``gmres`` (restarted GMRES, for general nonsingular ones) solve ``A x = b``
given only ``matvec(v) = A v``. They run on raw arrays of any backend
(NumPy, CuPy, torch, array_api_strict, dask, JAX) through their namespace, and
never synchronise with the host: they run a fixed number of iterations, and a
device-side mask freezes the iterate once the relative residual is below
``tol`` (the Givens rotations and back substitution of GMRES are 0-d array
operations on the device too). :func:`residual` gives the relative residual
for a caller that wants to check convergence on the host.

They are what :func:`anyad.implicit_root` solves with; they are not
differentiated themselves (the implicit rules differentiate the solution).

Examples
--------
>>> import numpy as np
>>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
>>> x = cg(lambda v: A @ v, np.array([1.0, 2.0]))
>>> bool(np.allclose(A @ x, [1.0, 2.0]))
True
>>> B = np.array([[0.0, 1.0], [-2.0, 3.0]])
>>> bool(np.allclose(B @ gmres(lambda v: B @ v, np.array([1.0, 1.0])), 1.0))
True
"""

from __future__ import annotations

from typing import Any, Callable

from ._backend import namespace_of

__all__ = ["cg", "gmres", "residual", "default_tol"]


def default_tol(b: Any) -> float:
    """The default relative tolerance for ``b``'s dtype: 1e-12 in float64,
    1e-6 in float32 (and float16)."""
    xp = namespace_of(b)
    return 1e-12 if b.dtype == xp.float64 else 1e-6


def _dot(xp: Any, a: Any, b: Any) -> Any:
    return xp.sum(a * b)


def _size(b: Any) -> int:
    n = 1
    for d in b.shape:
        n *= int(d)
    return n


def cg(matvec: Callable, b: Any, x0: Any = None, *, tol: float | None = None,
       maxiter: int | None = None) -> Any:
    """Solve ``A x = b`` for a symmetric positive definite ``A`` by conjugate
    gradients: ``maxiter`` iterations (default: ``b``'s size, where CG is exact
    in exact arithmetic, plus 10) with the iterate frozen on the device once
    ``|r| <= tol |b|``."""
    xp = namespace_of(b)
    tol = default_tol(b) if tol is None else tol
    maxiter = _size(b) + 10 if maxiter is None else maxiter
    x = xp.zeros_like(b) if x0 is None else x0
    r = b - matvec(x) if x0 is not None else b
    p = r
    rs = _dot(xp, r, r)
    stop = (tol * tol) * _dot(xp, b, b)
    one = xp.ones_like(rs)
    for _ in range(maxiter):
        active = rs > stop
        ap = matvec(p)
        pap = _dot(xp, p, ap)
        alpha = xp.where(active, rs / xp.where(pap != 0, pap, one), 0 * one)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = _dot(xp, r, r)
        beta = xp.where(active, rs_new / xp.where(rs != 0, rs, one), 0 * one)
        p = xp.where(active, r + beta * p, p)
        rs = xp.where(active, rs_new, rs)
    return x


def gmres(matvec: Callable, b: Any, x0: Any = None, *, tol: float | None = None,
          maxiter: int | None = None, restart: int = 100) -> Any:
    """Solve ``A x = b`` for a general nonsingular ``A`` by restarted GMRES:
    cycles of ``min(restart, size)`` Arnoldi steps (modified Gram-Schmidt,
    Givens rotations on 0-d device arrays), ``maxiter`` matrix-vector
    products in all (default: two full cycles where ``b``'s size is at most
    ``restart``, else twice the size plus 10), a cycle's update skipped on
    the device once ``|r| <= tol |b|``."""
    xp = namespace_of(b)
    tol = default_tol(b) if tol is None else tol
    n = _size(b)
    m = max(1, min(restart, n))
    if maxiter is None:  # two full cycles where one holds the whole Krylov space
        maxiter = 2 * m if m == n else 2 * n + 10
    cycles = max(1, -(-maxiter // m))
    x = xp.zeros_like(b) if x0 is None else x0
    bnorm = xp.sqrt(_dot(xp, b, b))
    for _ in range(cycles):
        r = b - matvec(x)
        beta = xp.sqrt(_dot(xp, r, r))
        active = beta > tol * bnorm
        x = x + xp.astype(active, b.dtype) * _cycle(xp, matvec, r, beta, m)
    return x


def _safe(xp: Any, d: Any) -> Any:
    return xp.where(d != 0, d, xp.ones_like(d))


def _cycle(xp: Any, matvec: Callable, r: Any, beta: Any, m: int) -> Any:
    """One GMRES cycle from residual ``r`` (norm ``beta``): the correction.
    Arnoldi by classical Gram-Schmidt applied twice (four matrix products a
    step), the small least-squares problem by Givens rotations of 0-d arrays."""
    shape = tuple(r.shape)
    zero = 0 * beta
    breakdown = 1e-13 if beta.dtype == xp.float64 else 1e-5
    vs = [xp.reshape(r / _safe(xp, beta), (-1,))]
    cs: list = []
    sn: list = []
    h_cols: list = []  # rotated columns of H (upper triangular R)
    g = [beta]
    for j in range(m):
        w = xp.reshape(matvec(xp.reshape(vs[j], shape)), (-1,))
        wnorm = xp.sqrt(_dot(xp, w, w))
        basis = xp.stack(vs)  # (j + 1, n)
        hv = xp.matmul(basis, w)
        w = w - xp.matmul(hv, basis)
        h2 = xp.matmul(basis, w)  # the second pass keeps the basis orthogonal
        w = w - xp.matmul(h2, basis)
        hv = hv + h2
        hnext = xp.sqrt(_dot(xp, w, w))
        # a (happy) breakdown: what is left of w is rounding noise, not a new direction
        hnext = xp.where(hnext > breakdown * wnorm, hnext, zero)
        vs.append(w * xp.where(hnext != 0, 1 / _safe(xp, hnext), zero))
        h = [hv[i] for i in range(j + 1)]
        for i in range(j):  # earlier rotations
            a, c = h[i], h[i + 1]
            h[i], h[i + 1] = cs[i] * a + sn[i] * c, -sn[i] * a + cs[i] * c
        a, c = h[j], hnext
        rho = xp.sqrt(a * a + c * c)
        ok = rho != 0
        cj = xp.where(ok, a / _safe(xp, rho), 1.0 + zero)
        sj = xp.where(ok, c / _safe(xp, rho), zero)
        cs.append(cj)
        sn.append(sj)
        h[j] = rho
        g.append(-sj * g[j])
        g[j] = cj * g[j]
        h_cols.append(h)
    y = [zero] * m  # back substitution R y = g
    for i in range(m - 1, -1, -1):
        s = g[i]
        for k in range(i + 1, m):
            s = s - h_cols[k][i] * y[k]
        rii = h_cols[i][i]
        y[i] = xp.where(rii != 0, s / _safe(xp, rii), zero)
    coef = xp.stack(y)
    return xp.reshape(xp.matmul(coef, xp.stack(vs[:m])), shape)


def residual(matvec: Callable, x: Any, b: Any) -> Any:
    """``|A x - b| / |b|`` as a 0-d array on the device (``|A x|`` where ``b`` is zero)."""
    xp = namespace_of(b)
    r = matvec(x) - b
    rn = xp.sqrt(_dot(xp, r, r))
    bn = xp.sqrt(_dot(xp, b, b))
    return rn / xp.where(bn != 0, bn, xp.ones_like(bn))
