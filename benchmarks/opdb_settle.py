"""Settling a disagreement between anyad and torch by finite differences, for
:mod:`benchmarks.opdb_crosscheck`.

At the entries where the two disagree most, central differences in float64 decide
which is right; one-sided differences at two step sizes tell a non-differentiable
point (a kink or a jump: ``convention``) from curvature.

>>> _verdict(1.0, 2.0, 1.0, (1.0, 1.0), False)
'torch_wrong'
"""

from __future__ import annotations

from typing import Any

import numpy as np

RANK = {"match": 0, "torch_raises": 1, "anyad_raises": 2, "torch_wrong": 3, "convention": 4, "MISMATCH": 5}


def _close(a: Any, r: Any, rtol: float = 1e-6, atol: float = 1e-7) -> bool:
    a, r = np.asarray(a), np.asarray(r)
    if a.shape != r.shape:
        return False
    if a.size == 0:
        return True
    if a.dtype.kind not in "fc" or r.dtype.kind not in "fc":
        return bool(np.array_equal(a, r))
    a, r = a.astype(np.complex128), r.astype(np.complex128)
    fin = np.isfinite(r)
    scale = max(1.0, float(np.max(np.abs(r[fin]))) if fin.any() else 1.0)
    nan_a, nan_r = np.isnan(a.real) | np.isnan(a.imag), np.isnan(r.real) | np.isnan(r.imag)
    same = (nan_a & nan_r) | (a == r)
    ok = same | (np.abs(a - r) <= atol * scale + rtol * np.abs(r))
    return bool(ok.all())


def _kink(fd: Any, h: float) -> tuple[Any, Any, bool]:
    """Central difference, one-sided pair, and whether the one-sided differences disagree
    at two step sizes (a non-differentiable point rather than curvature)."""
    f0 = fd(0.0)
    r1, l1 = (fd(h) - f0) / h, (f0 - fd(-h)) / h
    r2, l2 = (fd(h / 16) - f0) / (h / 16), (f0 - fd(-h / 16)) / (h / 16)
    central = (fd(h) - fd(-h)) / (2 * h)
    d1, d2 = np.abs(r1 - l1), np.abs(r2 - l2)
    tol = 1e-4 * np.maximum(1.0, np.abs(central))
    kink = (d2 > tol) & ~(d2 < 0.25 * d1)
    # a jump: the differences grow as the step shrinks instead of settling
    kink = kink | (np.abs(r2 + l2 - 2 * central) > 1e3 * tol)
    kink = kink | ~np.isfinite(r2) | ~np.isfinite(l2)
    return central, (np.minimum(r2, l2), np.maximum(r2, l2)), kink


def _verdict(av: Any, tv: Any, central: Any, hull: tuple, kink: Any) -> str:
    ok_a = _close(av, central, 1e-4, 1e-5)
    ok_t = _close(tv, central, 1e-4, 1e-5)
    if np.any(kink):
        lo, hi = hull
        inside = np.all(((np.real(av) >= lo - 1e-4 * (1 + np.abs(lo))) & (np.real(av) <= hi + 1e-4 * (1 + np.abs(hi))))
                        | ~np.isfinite(lo) | ~np.isfinite(hi) | ~np.isfinite(np.real(av)))
        jump = np.any(np.abs(np.asarray(hull)) > 1e5)
        return "convention" if inside or ok_a or jump else "MISMATCH"
    if ok_a and ok_t:
        return "match"  # they differ by less than the differences can resolve
    if ok_a:
        return "torch_wrong"
    return "MISMATCH"


def _adjudicate_scalar(a: list, t: list, scalar_fn: Any, xs: list, case: Any, what: str) -> str:
    """Finite differences of a scalar function (the loss, or the gradient dot v) at the entries
    where anyad's and torch's gradients differ most (real and imaginary parts)."""
    if scalar_fn is None:
        case.notes.append(f"{what}: values differ (no differences available)")
        return "MISMATCH"
    verdicts = []
    base = scalar_fn(xs)
    base_finite = bool(np.all(np.isfinite(base))) and not case.nonfinite_out
    for k, (ak, tk) in enumerate(zip(a, t)):
        ak, tk = np.asarray(ak), np.asarray(tk)
        if ak.shape != tk.shape:
            case.notes.append(f"{what}: input {k} gradient shape {ak.shape}, torch {tk.shape}")
            return "MISMATCH"
        err = np.array(np.abs(np.nan_to_num(ak - tk, nan=np.inf)), dtype=np.float64)
        err[(ak == tk) | (np.isnan(ak) & np.isnan(tk))] = 0
        for flat in np.argsort(err.reshape(-1))[::-1][:4]:
            if err.reshape(-1)[flat] == 0 or _close(ak.reshape(-1)[flat], tk.reshape(-1)[flat]):
                continue
            idx = tuple(int(i) for i in np.unravel_index(flat, ak.shape))
            parts = [1.0, 1j] if ak.dtype.kind == "c" else [1.0]
            for p in parts:
                def fd(h: float, k: int = k, idx: Any = idx, p: complex = p) -> float:
                    x2 = [x.copy() for x in xs]
                    x2[k][idx] += h * p if x2[k].dtype.kind == "c" else h
                    return float(np.sum(scalar_fn(x2) - base)) if h else 0.0
                pick = np.real if p == 1.0 else np.imag
                if not np.isfinite(xs[k][idx]):
                    verdicts.append("convention")
                    case.notes.append(f"{what}: input {k}{list(idx)}: anyad {pick(ak[idx]):.6g}, torch "
                                      f"{pick(tk[idx]):.6g} at a non-finite input")
                    continue
                h = 1e-6 * max(1.0, abs(xs[k][idx]))
                central, hull, kink = _kink(fd, h)
                v = _verdict(pick(ak[idx]), pick(tk[idx]), central, hull, kink)
                if v == "MISMATCH" and not base_finite and central == 0 and not np.any(hull):
                    v = "convention"  # the entry only reaches outputs that are NaN or infinite
                    kink = "non-finite outputs"
                verdicts.append(v)
                if v != "match":
                    case.notes.append(f"{what}: input {k}{list(idx)}{'' if p == 1.0 else ' imag'}: anyad "
                                      f"{pick(ak[idx]):.6g}, torch {pick(tk[idx]):.6g}, differences {central:.6g}"
                                      f"{' (' + kink + ')' if isinstance(kink, str) else ' (one-sided differ)' if kink else ''}")
    return max(verdicts, key=RANK.get, default="match")


def _adjudicate(a_t: list, t_t: list, f_dir: Any, case: Any, what: str) -> str:
    h = 1e-6 * max(1.0, max((float(np.max(np.abs(x))) for x in (lv.numpy() for lv in case.leaves) if x.size), default=1.0))
    base = [np.asarray(o) for o in f_dir(0.0)]
    cache: dict = {}

    def fd_k(k: int) -> Any:
        def fd(s: float) -> Any:
            if s not in cache:
                cache[s] = [np.asarray(o) for o in f_dir(s)]
            return cache[s][k] if s else base[k]
        return fd

    verdicts = []
    for k, (ak, tk) in enumerate(zip(a_t, t_t)):
        if _close(ak, tk):
            continue
        if np.shape(ak) != np.shape(tk):
            case.notes.append(f"{what}: output {k} shape {np.shape(ak)}, torch {np.shape(tk)}")
            return "MISMATCH"
        central, hull, kink = _kink(fd_k(k), h)
        parts = [np.real, np.imag] if np.iscomplexobj(ak) or np.iscomplexobj(tk) else [lambda z: z]
        for pick in parts:
            c = pick(central)
            lo, hi = pick(hull[0]), pick(hull[1])
            v = _verdict(pick(ak), pick(tk), c, (np.minimum(lo, hi), np.maximum(lo, hi)), kink)
            verdicts.append(v)
            if v != "match":
                worst = int(np.argmax(np.abs(np.nan_to_num(pick(ak) - pick(tk), nan=np.inf)).reshape(-1))) \
                    if np.size(ak) else 0
                av, tv, cv = (np.reshape(pick(z), -1)[worst] if np.size(z) else z for z in (ak, tk, central))
                case.notes.append(f"{what}: output {k}[{worst}]: anyad {av:.6g}, torch {tv:.6g}, differences "
                                  f"{cv:.6g}{' (one-sided differ)' if np.any(kink) else ''}")
    return max(verdicts, key=RANK.get, default="match")
