"""L-BFGS, torch.optim.LBFGS's algorithm (with its optional strong-Wolfe line search).

The parameters are seen as one flat vector (their arrays concatenated on their
common backend and device); the two-loop recursion, the search directions and
the history stay there. L-BFGS decides on scalars (has the gradient vanished,
did the loss change, the line-search conditions), so each iteration reads a
few numbers on the host: unlike the first-order optimizers, a step
synchronises with the device, as in torch. On dask each of those reads
recomputes the whole lazy history of the parameters, so L-BFGS there is slow
(minutes for a few steps); persist the parameters between steps, or use
another backend.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

from .. import _backend
from ..backends import transfer
from ..variable import Variable
from .optimizer import Optimizer, _python_value

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    """Limited-memory BFGS (Nocedal & Wright, algorithm 7.4), as torch.optim.LBFGS.

    ``step(closure)`` runs up to ``max_iter`` iterations; the closure must zero
    the gradients, compute the loss, call ``backward`` and return the loss.
    ``line_search_fn="strong_wolfe"`` picks each step length by torch's
    strong-Wolfe search (cubic interpolation); without it the step is ``lr``
    (the first one scaled by ``min(1, 1 / sum|g|)``). One parameter group.

    Parameters
    ----------
    lr : float
        Step length (default 1).
    max_iter : int
        Iterations per :meth:`step` (default 20).
    max_eval : int, optional
        Closure evaluations per step (default ``max_iter * 5 // 4``).
    tolerance_grad, tolerance_change : float
        Stop when ``max|g| <= tolerance_grad``, or when the step or the loss
        change by less than ``tolerance_change``.
    history_size : int
        Correction pairs kept (default 100).
    line_search_fn : None or "strong_wolfe"

    Examples
    --------
    >>> import anyad as ad
    >>> w = ad.nn.Parameter([-1.5, 2.0])
    >>> opt = ad.optim.LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     x, y = w[0], w[1]
    ...     loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2   # Rosenbrock
    ...     loss.backward()
    ...     return loss
    >>> for _ in range(5):
    ...     _ = opt.step(closure)
    >>> [round(v, 4) for v in w.value.tolist()]
    [1.0, 1.0]
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        if lr <= 0:
            raise ValueError(f"anyad.optim.LBFGS: lr must be positive, got {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"anyad.optim.LBFGS: line_search_fn must be None or 'strong_wolfe', "
                             f"got {line_search_fn!r}")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                                  "history_size": history_size, "line_search_fn": line_search_fn})
        if len(self.param_groups) != 1:
            raise ValueError("anyad.optim.LBFGS: one parameter group only (as in torch)")

    # -- the flat view ------------------------------------------------------------
    def _flat_grad(self) -> Any:
        parts = []
        for p in self._params():
            raw, g = p.value, p.grad
            xp = _backend.namespace_of(raw)
            if g is None:
                g = xp.zeros_like(raw)
            elif isinstance(g, Variable):
                g = g.value
            if g.dtype != raw.dtype:
                g = xp.astype(g, raw.dtype)
            parts.append(xp.reshape(g, (-1,)))
        return _concat(parts)

    def _flat_params(self) -> Any:
        return _concat([_backend.namespace_of(p.value).reshape(p.value, (-1,)) for p in self._params()])

    def _set_flat(self, flat: Any) -> None:
        offset = 0
        for p in self._params():
            raw = p.value
            xp = _backend.namespace_of(raw)
            n = math.prod(raw.shape)
            new = xp.reshape(flat[offset:offset + n], raw.shape)
            offset += n
            if not transfer.assign(raw, new):
                p.value = new

    def _add(self, x: Any, t: float, d: Any) -> None:
        self._set_flat(x + t * d)

    # -- one step -------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the closure's first loss."""
        if closure is None:
            raise ValueError("anyad.optim.LBFGS.step needs a closure that computes the loss and calls backward()")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change, history = group["tolerance_grad"], group["tolerance_change"], group["history_size"]
        state = self.state.setdefault(self._params()[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        xp = _backend.namespace_of(g)
        if _max_abs(xp, g) <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_g = state.get("H_diag"), state.get("prev_flat_grad")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_stps, ro, h_diag = -g, [], [], [], 1.0
            else:
                y, s = g - prev_g, d * t
                ys = _dot(xp, y, s)
                if ys > 1e-10:
                    if len(old_dirs) == history:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / _dot(xp, y, y)
                d = _two_loop(xp, g, old_dirs, old_stps, ro, h_diag)
            prev_g, prev_loss = g, loss
            t = min(1.0, 1.0 / float(xp.sum(xp.abs(g)))) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(xp, g, d)
            if gtd > -tol_change:
                break
            if group["line_search_fn"] is not None:
                x0 = self._flat_params()

                def directional(x: Any, step: float, direction: Any) -> tuple:
                    self._add(x, step, direction)
                    value = float(closure())
                    grad = self._flat_grad()
                    self._set_flat(x)
                    return value, grad

                loss, g, t, ls_evals = _strong_wolfe(xp, directional, x0, t, d, loss, g, gtd)
                self._add(x0, t, d)
                opt_cond = _max_abs(xp, g) <= tol_grad
            else:
                self._add(self._flat_params(), t, d)
                ls_evals = 0
                opt_cond = False
                if n_iter != max_iter:
                    loss = float(closure())
                    g = self._flat_grad()
                    opt_cond = _max_abs(xp, g) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if _max_abs(xp, d * t) <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_g, prev_loss=prev_loss if n_iter else state.get("prev_loss"))
        return orig_loss

    # -- checkpoints: the history lists as stacked arrays, numbers as numbers ----------------
    _LISTS = ("old_dirs", "old_stps")

    def state_dict(self) -> dict:
        """Hyperparameters and the whole search state (direction, step, history, counters), flat
        as :meth:`Optimizer.state_dict` and savable with :func:`anyad.save`: ``old_dirs`` and
        ``old_stps`` as ``(k, n)`` arrays, ``ro`` as a ``(k,)`` array (``line_search_fn``, a
        string, is left to the constructor)."""
        out = {k: v for k, v in super().state_dict().items()
               if k.startswith("param_groups.") and not k.endswith(".line_search_fn")}
        s = self.state.get(self._params()[0], {})
        for name, v in s.items():
            if name in self._LISTS or name == "ro":
                d = s["d"]
                xp = _backend.namespace_of(d)
                if name == "ro":
                    v = xp.asarray(v, dtype=d.dtype, device=_backend.device_of(d))
                else:
                    v = xp.stack(v) if v else xp.zeros((0, d.shape[0]), dtype=d.dtype, device=_backend.device_of(d))
            out[f"state.0.{name}"] = v
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` saved (arrays onto the parameters' backend and device)."""
        ref = self._params()[0].value
        xp = _backend.namespace_of(ref)
        be = _backend.Backend(_backend.backend_name(xp), xp)
        s = self.state.setdefault(self._params()[0], {})
        for key, v in state_dict.items():
            kind, _, name = key.split(".", 2)
            if kind == "param_groups":
                self.param_groups[0][name] = _python_value(v, self.param_groups[0].get(name))
            elif name == "ro":
                s[name] = [float(x) for x in transfer.to_host(v).tolist()] if hasattr(v, "shape") else list(v)
            elif name in ("d", "prev_flat_grad") + self._LISTS:
                v = transfer.convert(v, be, _backend.device_of(ref), ref.dtype)
                s[name] = [v[i, ...] for i in range(v.shape[0])] if name in self._LISTS else v
            else:
                v = _python_value(v, 0)
                s[name] = int(v) if name in ("n_iter", "func_evals") else float(v)


def _concat(parts: list) -> Any:
    """One new vector (never a view of a parameter, which the steps overwrite in place)."""
    xp = _backend.namespace_of(parts[0])
    return xp.asarray(parts[0], copy=True) if len(parts) == 1 else xp.concat(parts)


def _dot(xp: Any, a: Any, b: Any) -> float:
    return float(xp.sum(a * b))


def _max_abs(xp: Any, a: Any) -> float:
    return float(xp.max(xp.abs(a))) if a.shape[0] else 0.0


def _two_loop(xp: Any, g: Any, dirs: list, stps: list, ro: list, h_diag: float) -> Any:
    """The direction ``-H g`` from the correction pairs (Nocedal & Wright, algorithm 7.4)."""
    q = -g
    al = [0.0] * len(dirs)
    for i in range(len(dirs) - 1, -1, -1):
        al[i] = _dot(xp, stps[i], q) * ro[i]
        q = q - al[i] * dirs[i]
    r = q * h_diag
    for i in range(len(dirs)):
        be_i = _dot(xp, dirs[i], r) * ro[i]
        r = r + (al[i] - be_i) * stps[i]
    return r


def _cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                       bounds: tuple | None = None) -> float:
    """The minimiser of the cubic through two points with their slopes, clipped to ``bounds``."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(pos, lo), hi)
    return (lo + hi) / 2.0


def _strong_wolfe(xp: Any, obj: Callable, x: Any, t: float, d: Any, f: float, g: Any, gtd: float,
                  c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9, max_ls: int = 25) -> tuple:
    """torch's strong-Wolfe line search: bracket, then zoom. Returns ``(f, g, t, evaluations)``."""
    d_norm = _max_abs(xp, d)
    f_new, g_new = obj(x, t, d)
    evals, gtd_new = 1, _dot(xp, g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, ls_iter = False, 0
    bracket_gtd: list = []
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [
                gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g, done = [t], [f_new], [g_new], True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [
                gtd_prev, gtd_new]
            break
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        t, t_prev = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (min_step, max_step)), t
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = obj(x, t, d)
        evals, gtd_new = evals + 1, _dot(xp, g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    insuf_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj(x, t, d)
        evals, gtd_new = evals + 1, _dot(xp, g_new, d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals
