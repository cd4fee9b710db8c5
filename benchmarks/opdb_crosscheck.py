"""Cross-check anyad against torch on torch's operator database (op_db).

For every op_db entry that :mod:`benchmarks.opdb_table` maps to anyad, each
sample of ``op.reference_inputs`` (which include ``op.sample_inputs``) in
float64, and in complex128 where torch and the mapping allow, is run through
anyad on the numpy backend and through torch, and compared:

* ``forward``: the values;
* ``grad``: the reverse gradient of ``L = sum(Re(conj(w) * f(x)))`` for a fixed
  random ``w`` (PyTorch's complex convention, see docs/conventions.md);
* ``jvp``: forward mode (``anyad.jvp`` against ``torch.func.jvp``), where torch
  has forward AD for the op;
* ``hvp``: the gradient of ``Re(<v, grad L(x)>)`` (a Hessian-vector product),
  where torch has second derivatives for the op.

Each check gives ``match``, ``anyad_raises`` (a clear error), ``torch_raises``
(torch raises, has no such derivative, or gives NaN where anyad gives a value
at finite inputs, e.g. ``0j ** 0j``), or a disagreement, which is settled
by float64 finite differences at the entries that disagree: ``torch_wrong``
(anyad agrees with the differences), ``convention`` (the one-sided differences
differ: a non-differentiable point, where anyad follows docs/conventions.md and
torch may choose otherwise) or ``MISMATCH`` (anyad disagrees with torch and
the differences, or the values differ: a silent wrong answer). A sample's class
is its worst check's. Samples whose arguments have no anyad meaning are
``skipped``.

Run: ``python -m benchmarks.opdb_crosscheck [--ops a,b] [--json out.json]``.
The full sweep (213 operations, about 13,000 samples with torch 2.13) takes
about 200 s of CPU time on one core (3-4 minutes on an idle machine; it
prints both wall and CPU time); ``--ops`` restricts it to a comma-separated
list of op_db names (``name`` or ``name.variant``), ``--max-samples N`` to
the first N samples per operation and dtype. tests/test_opdb_crosscheck.py
runs a small subset and asserts no ``MISMATCH``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import types
import unittest
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import anyad as ad
from anyad.variable import Variable

from .opdb_settle import RANK, _adjudicate, _adjudicate_scalar, _close
from .opdb_table import TABLE, Skip



def load_op_db() -> list:
    """torch's op_db (its module imports ``expecttest``, a test-only package: stubbed if absent)."""
    try:
        import expecttest  # noqa: F401
    except ImportError:
        stub = types.ModuleType("expecttest")
        stub.TestCase = unittest.TestCase
        stub.ACCEPT = False
        sys.modules["expecttest"] = stub
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db
    return op_db


def full_name(op: Any) -> str:
    return op.name + ("." + op.variant_test_name if op.variant_test_name else "")


# ---------------------------------------------------------------- structure


def _leaves(obj: Any, out: list) -> Any:
    """Replace each floating/complex tensor in ``obj`` by a slot index (appending it to ``out``)."""
    import torch

    if isinstance(obj, torch.Tensor):
        if obj.dtype.is_floating_point or obj.dtype.is_complex:
            out.append(obj.detach().resolve_conj().resolve_neg())
            return _Slot(len(out) - 1)
        return _Const(obj.detach())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_leaves(o, out) for o in obj)
    if isinstance(obj, dict):
        return {k: _leaves(v, out) for k, v in obj.items()}
    return obj


@dataclass(frozen=True)
class _Slot:
    i: int


@dataclass(frozen=True)
class _Const:
    t: Any


def _fill(obj: Any, leaves: list, torch_side: bool) -> Any:
    if isinstance(obj, _Slot):
        return leaves[obj.i]
    if isinstance(obj, _Const):
        return obj.t if torch_side else obj.t.numpy()
    if isinstance(obj, (list, tuple)):
        return type(obj)(_fill(o, leaves, torch_side) for o in obj)
    if isinstance(obj, dict):
        return {k: _fill(v, leaves, torch_side) for k, v in obj.items()}
    return obj


def _flat_out(out: Any) -> list:
    if isinstance(out, (list, tuple)):
        return [o for x in out for o in _flat_out(x)]
    return [out]


def _np(x: Any) -> np.ndarray:
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().resolve_conj().resolve_neg().numpy()
    if isinstance(x, Variable):
        x = x.value
    return np.asarray(x)


def _inexact(a: np.ndarray) -> bool:
    return a.dtype.kind in "fc"


# ---------------------------------------------------------------- one sample


@dataclass
class Case:
    """One sample, callable on both sides with the differentiable leaves as arguments."""

    name: str
    op: Any
    spec: Any
    struct: Any
    leaves: list  # torch tensors
    rng: np.random.Generator
    torch_fn: Any = None
    checks: dict = field(default_factory=dict)
    nonfinite_out: bool = False
    notes: list = field(default_factory=list)

    def torch_call(self, *ls: Any) -> list:
        inp, args, kwargs = _fill(self.struct, list(ls), True)
        return _flat_out(self.torch_fn(inp, *args, **kwargs))

    def anyad_call(self, *ls: Any) -> list:
        inp, args, kwargs = _fill(self.struct, list(ls), False)
        return _flat_out(self.spec.adapter(inp, *args, **kwargs))

    def random_like(self, a: np.ndarray) -> np.ndarray:
        r = self.rng.uniform(-1, 1, a.shape)
        if a.dtype.kind == "c":
            r = r + 1j * self.rng.uniform(-1, 1, a.shape)
        return r.astype(a.dtype)


def _loss_np(outs: list, ws: list) -> Any:
    total = 0.0
    for o, w in zip(outs, ws):
        if w is not None:
            total = total + ad.sum(ad.real(ad.multiply(o, np.conj(w)))) if np.iscomplexobj(w) or _is_c(o) \
                else total + ad.sum(ad.multiply(o, w))
    return total


def _is_c(o: Any) -> bool:
    return _np(o).dtype.kind == "c"


def _loss_torch(outs: list, ws: list) -> Any:
    import torch

    total = 0.0
    for o, w in zip(outs, ws):
        if w is not None:
            tw = torch.from_numpy(w)
            total = total + ((o * tw.conj()).real.sum() if (o.is_complex() or tw.is_complex()) else (o * tw).sum())
    return total


def _raises(f: Any) -> tuple[Any, str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return f(), None
    except Skip:
        raise
    except Exception as e:  # noqa: BLE001 (any failure is a finding)
        return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]


def _eval_grad_torch(case: Case, ws: list, xs: list) -> list:
    import torch

    ls = [torch.from_numpy(x.copy()).requires_grad_(True) for x in xs]
    outs = case.torch_call(*ls)
    loss = _loss_torch(outs, ws)
    gs = torch.autograd.grad(loss, ls, allow_unused=True)
    return [np.zeros_like(x) if g is None else _np(g) for g, x in zip(gs, xs)]


def run_case(case: Case) -> None:
    """Fill ``case.checks`` with one class per check."""
    import torch

    xs = [_np(t).copy() for t in case.leaves]
    t_out, t_err = _raises(lambda: [_np(o) for o in case.torch_call(*[torch.from_numpy(x.copy()) for x in xs])])
    a_out, a_err = _raises(lambda: [_np(o) for o in case.anyad_call(*[x.copy() for x in xs])])
    if t_err:
        case.checks["forward"] = "torch_raises"
        case.notes.append(f"forward torch: {t_err}")
        return
    if a_err:
        case.checks["forward"] = "anyad_raises"
        case.notes.append(f"forward anyad: {a_err}")
        return
    if len(a_out) != len(t_out) or not all(_close(a, t) for a, t in zip(a_out, t_out)):
        nonfinite_in = any(x.dtype.kind in "fc" and not np.all(np.isfinite(x)) for x in xs)
        if nonfinite_in and _only_nonfinite(a_out, t_out, both=False):
            cls, why = "convention", " (only where a value is NaN or infinite, at non-finite inputs)"
        elif _only_nonfinite(a_out, t_out, both=True):
            cls, why = "torch_raises", " (only where torch's value is NaN or infinite: undefined in torch)"
        else:
            cls, why = "MISMATCH", ""
        case.checks["forward"] = cls
        case.notes.append(("forward torch: " if cls == "torch_raises" else "") + "forward values differ"
                          + _diff_note(a_out, t_out) + why)
        return
    case.checks["forward"] = "match"
    case.nonfinite_out = any(_inexact(o) and not np.all(np.isfinite(o)) for o in t_out)
    if not case.spec.derivatives:
        return
    diff = [i for i, x in enumerate(xs)]
    float_out = [k for k, o in enumerate(t_out) if _inexact(o)]
    if not diff or not float_out:
        return
    ws = [case.random_like(o) if k in float_out else None for k, o in enumerate(t_out)]
    _check_grad(case, xs, ws)
    if case.op.supports_forward_ad:
        _check_jvp(case, xs, float_out)
    if case.op.supports_gradgrad and case.checks.get("grad") == "match":
        _check_hvp(case, xs, ws)


def _only_nonfinite(a_out: list, t_out: list, both: bool) -> bool:
    """The outputs differ only at entries where one of them (``both``: torch's) is NaN
    or infinite (complex arithmetic and NaN propagation at non-finite inputs, and complex
    overflow, differ between libraries)."""
    for a, t in zip(a_out, t_out):
        if np.shape(a) != np.shape(t) or not (_inexact(a) and _inexact(t)):
            if not _close(a, t):
                return False
            continue
        bad = ~np.isfinite(t) if both else ~(np.isfinite(a) & np.isfinite(t))
        if not _close(np.where(bad, 0, a), np.where(bad, 0, t)):
            return False
    return True


def _diff_note(a_out: list, t_out: list) -> str:
    if len(a_out) != len(t_out):
        return f": {len(a_out)} outputs, torch {len(t_out)}"
    for k, (a, t) in enumerate(zip(a_out, t_out)):
        if not _close(a, t):
            if np.shape(a) != np.shape(t):
                return f": output {k} shape {np.shape(a)}, torch {np.shape(t)}"
            return f": output {k} max |diff| {np.nanmax(np.abs(a - t)) if a.size else 0:.3g}"
    return ""


def _check_grad(case: Case, xs: list, ws: list) -> None:
    def a_loss(*ls: Any) -> Any:
        return _loss_np(case.anyad_call(*ls), ws)

    t_g, t_err = _raises(lambda: _eval_grad_torch(case, ws, xs))
    a_g, a_err = _raises(lambda: [_np(g) for g in _as_list(ad.grad(a_loss, argnums=tuple(range(len(xs))))(
        *[x.copy() for x in xs]))])
    _settle(case, "grad", a_g, a_err, t_g, t_err, lambda x: _fd_grad_fn(case, ws, x, xs), xs)


def _as_list(g: Any) -> list:
    return list(g) if isinstance(g, (tuple, list)) else [g]


def _fd_grad_fn(case: Case, ws: list, xs: list, base: list | None = None) -> np.ndarray:
    """The terms of the loss by torch (summed by the caller after differencing, so that
    huge terms elsewhere do not swamp the difference), over the output entries finite at
    the base point ``base`` (a NaN elsewhere would make every difference NaN)."""
    import torch

    with torch.no_grad():
        outs = [_np(o) for o in case.torch_call(*[torch.from_numpy(np.asarray(x)) for x in xs])]
        masks = [None] * len(outs)
        if base is not None:
            masks = [np.isfinite(_np(o)) for o in case.torch_call(*[torch.from_numpy(np.asarray(x)) for x in base])]
    terms = [np.real(o * np.conj(w)).ravel() if m is None else np.where(m, np.real(o * np.conj(w)), 0.0).ravel()
             for o, w, m in zip(outs, ws, masks) if w is not None]
    return np.concatenate(terms) if terms else np.zeros(0)


def _check_jvp(case: Case, xs: list, float_out: list) -> None:
    import torch

    ts = [case.random_like(x) for x in xs]

    def t_jvp() -> list:
        def f(*ls: Any) -> tuple:
            outs = case.torch_call(*ls)
            return tuple(outs[k] for k in float_out)
        _, tan = torch.func.jvp(f, tuple(torch.from_numpy(x.copy()) for x in xs),
                                tuple(torch.from_numpy(t) for t in ts))
        return [_np(t) for t in tan]

    def a_jvp() -> list:
        def f(*ls: Any) -> tuple:
            outs = case.anyad_call(*ls)
            return tuple(outs[k] for k in float_out)
        _, tan = ad.jvp(f, tuple(x.copy() for x in xs), tuple(ts))
        return [_np(t) for t in tan]

    t_t, t_err = _raises(t_jvp)
    a_t, a_err = _raises(a_jvp)
    if t_err or a_err:
        _settle(case, "jvp", a_t, a_err, t_t, t_err, None, xs)
        return
    if all(_close(a, t, 1e-6, 1e-7) for a, t in zip(a_t, t_t)):
        case.checks["jvp"] = "match"
        return
    # forward mode: difference f along the tangent
    def f_dir(h: float) -> list:
        with torch.no_grad():
            outs = case.torch_call(*[torch.from_numpy(np.asarray(x + h * t)) for x, t in zip(xs, ts)])
        return [_np(outs[k]) for k in float_out]

    case.checks["jvp"] = _adjudicate(a_t, t_t, f_dir, case, "jvp")


def _check_hvp(case: Case, xs: list, ws: list) -> None:
    import torch

    vs = [case.random_like(x) for x in xs]
    n = len(xs)

    def t_hvp() -> list:
        ls = [torch.from_numpy(x.copy()).requires_grad_(True) for x in xs]
        loss = _loss_torch(case.torch_call(*ls), ws)
        gs = torch.autograd.grad(loss, ls, create_graph=True, allow_unused=True)
        m = 0.0
        for g, v in zip(gs, vs):
            if g is not None and g.requires_grad:
                tv = torch.from_numpy(v)
                m = m + ((g * tv.conj()).real.sum() if g.is_complex() else (g * tv).sum())
        if not isinstance(m, torch.Tensor):
            return [np.zeros_like(x) for x in xs]
        hs = torch.autograd.grad(m, ls, allow_unused=True)
        return [np.zeros_like(x) if h is None else _np(h) for h, x in zip(hs, xs)]

    def a_hvp() -> list:
        def m(*ls: Any) -> Any:
            gs = _as_list(ad.grad(lambda *l2: _loss_np(case.anyad_call(*l2), ws), argnums=tuple(range(n)))(*ls))
            return _loss_np(gs, vs)
        return [_np(h) for h in _as_list(ad.grad(m, argnums=tuple(range(n)))(*[x.copy() for x in xs]))]

    def m_fd(x: list) -> float:
        g = _eval_grad_torch(case, ws, x)
        return np.concatenate([np.real(gi * np.conj(v)).ravel() for gi, v in zip(g, vs)])

    t_h, t_err = _raises(t_hvp)
    a_h, a_err = _raises(a_hvp)
    _settle(case, "hvp", a_h, a_err, t_h, t_err, m_fd, xs)


def _settle(case: Case, what: str, a: Any, a_err: Any, t: Any, t_err: Any, scalar_fn: Any, xs: list) -> None:
    if t_err:
        case.checks[what] = "torch_raises"
        case.notes.append(f"{what} torch: {t_err}")
        return
    if a_err:
        case.checks[what] = "anyad_raises"
        case.notes.append(f"{what} anyad: {a_err}")
        return
    if all(_close(x, y) for x, y in zip(a, t)):
        case.checks[what] = "match"
        return
    case.checks[what] = _adjudicate_scalar(a, t, scalar_fn, xs, case, what)


# ---------------------------------------------------------------- the sweep


def _samples(op: Any, dtype: Any) -> list:
    fn = op.reference_inputs if op.reference_inputs_func is not None else op.sample_inputs
    for rg in (True, False):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return list(fn("cpu", dtype, requires_grad=rg))
        except Exception:  # noqa: BLE001 (torch's generators may refuse requires_grad on int tensors)
            continue
    return []


def sweep(ops: list | None = None, complex_: bool = True, verbose: bool = False,
          max_samples: int | None = None) -> dict:
    """Run the cross-check; returns a dict with the records and the summary counts."""
    import torch

    torch.set_num_threads(1)
    records, mapped, skipped, seconds = [], set(), Counter(), Counter()
    for op in load_op_db():
        name = full_name(op)
        spec = TABLE.get(name)
        if spec is None or (ops is not None and name not in ops):
            continue
        t0 = time.process_time()
        dtypes = [torch.float64]
        if complex_ and spec.complex and torch.complex128 in op.supported_dtypes("cpu"):
            dtypes.append(torch.complex128)
        for dtype in dtypes:
            for i, s in enumerate(_samples(op, dtype)[:max_samples]):
                mapped.add(name)
                leaves: list = []
                struct = _leaves((s.input, tuple(s.args), dict(s.kwargs)), leaves)
                seed = zlib.crc32(f"{name}/{dtype}/{i}".encode())
                case = Case(name, op, spec, struct, leaves, np.random.default_rng(seed))
                case.torch_fn = spec.torch(op.op) if spec.torch else op.op
                try:
                    run_case(case)
                except Skip as e:
                    skipped[name] += 1
                    if verbose:
                        print(f"skip {name}: {e}")
                    continue
                except Exception as e:  # noqa: BLE001 (a fault of this script: recorded, not fatal)
                    case.checks["internal"] = "MISMATCH"
                    case.notes.append(f"cross-check failed: {type(e).__name__}: {e}")
                cls = max(case.checks.values(), key=RANK.get, default="match")
                records.append({"op": name, "dtype": str(dtype).replace("torch.", ""), "sample": i,
                                "shapes": [list(t.shape) for t in leaves], "class": cls,
                                "checks": dict(case.checks), "notes": case.notes})
                if verbose and cls != "match":
                    print(name, i, cls, case.notes)
        seconds[name] += time.process_time() - t0
    classes = Counter(r["class"] for r in records)
    per_check: Counter = Counter()
    for r in records:
        per_check.update(f"{k}:{v}" for k, v in r["checks"].items())
    return {"operations": len(mapped), "samples": len(records), "skipped": sum(skipped.values()),
            "classes": dict(classes), "checks": dict(sorted(per_check.items())),
            "cpu_seconds": dict(seconds.most_common()), "records": records}


def summary(result: dict) -> str:
    lines = [f"operations mapped: {result['operations']}   samples run: {result['samples']}   "
             f"samples skipped (arguments with no anyad meaning): {result['skipped']}",
             "classes: " + ", ".join(f"{k} {v}" for k, v in sorted(result["classes"].items(), key=lambda kv: RANK[kv[0]])),
             "checks:  " + ", ".join(f"{k} {v}" for k, v in result["checks"].items())]
    for cls in ("MISMATCH", "convention", "torch_wrong"):
        rows = [r for r in result["records"] if r["class"] == cls]
        if rows:
            lines.append(f"\n{cls} ({len(rows)}):")
            for r in rows:
                lines.append(f"  {r['op']} [{r['dtype']} #{r['sample']} shapes {r['shapes']}] "
                             + "; ".join(n for n in r["notes"] if "torch:" not in n and "anyad:" not in n)[:400])
    raised = Counter(f"{r['op']} {r['dtype']}: " + re.sub(r"\([^()]*\)", "(..)", n)
                     for r in result["records"] for n in r["notes"] if " anyad: " in n)
    if raised:
        lines.append(f"\nanyad raises ({sum(raised.values())} checks), by message:")
        lines += [f"  {c:4d} x {m[:200]}" for m, c in raised.most_common()]
    return "\n".join(lines)


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default=None, help="comma-separated op_db names")
    parser.add_argument("--json", default=None, help="write every record to this file")
    parser.add_argument("--no-complex", action="store_true")
    parser.add_argument("--max-samples", type=int, default=None, help="per operation and dtype")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    t0, c0 = time.perf_counter(), time.process_time()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sweep(args.ops.split(",") if args.ops else None, complex_=not args.no_complex,
                       verbose=args.verbose, max_samples=args.max_samples)
    print(summary(result))
    top = ", ".join(f"{k} {v:.0f}" for k, v in list(result["cpu_seconds"].items())[:8])
    print(f"\n{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU (slowest, CPU s: {top})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)


if __name__ == "__main__":
    main()
