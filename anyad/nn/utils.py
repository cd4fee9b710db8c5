"""Gradient clipping, as torch.nn.utils: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both work on the gradients' own arrays with their namespace, on the device,
and never read a value on the host: the norm comes back as a 0-d array, and
the scale ``min(1, max_norm / (norm + 1e-6))`` is applied as a device-side
factor (multiplying by 1 when the norm is already small), so there is no
branch on the norm. Each ``.grad`` is replaced by the clipped one (raw arrays
stay raw, differentiable gradients from ``create_graph=True`` stay Variables).
"""

from __future__ import annotations

from typing import Any, Iterable

from .. import _backend
from ..ops import clip as _clip
from ..variable import Variable

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm"]


def _with_grads(parameters: Any) -> list:
    ps = [parameters] if isinstance(parameters, Variable) else list(parameters)
    return [p for p in ps if p.grad is not None]


def _raw(g: Any) -> Any:
    return g.value if isinstance(g, Variable) else g


def _norm(xp: Any, g: Any, norm_type: float) -> Any:
    """The ``norm_type``-norm of all of ``g``'s elements (16-bit floats summed in float32)."""
    if norm_type == float("inf"):
        return xp.max(xp.abs(g))
    if xp.finfo(g.dtype).bits < 32:
        g = xp.astype(g, xp.float32)
    if norm_type == 2.0:
        return xp.sqrt(xp.sum(g * g))
    if norm_type == 1.0:
        return xp.sum(xp.abs(g))
    return xp.sum(xp.abs(g) ** norm_type) ** (1.0 / norm_type)


def get_total_norm(grads: Iterable[Any], norm_type: float = 2.0) -> Any:
    """The norm of the gradients taken together as one vector (a 0-d array on their device).

    Examples
    --------
    >>> import numpy as np
    >>> float(get_total_norm([np.array([3.0]), np.array([[4.0]])]))
    5.0
    """
    grads = list(grads)  # Variables stay Variables: recorded, so anyad.jit recomputes the norm
    if not grads:
        raise ValueError("anyad.nn.utils.get_total_norm: no gradients")
    norm_type = float(norm_type)
    xp = _backend.namespace_of(grads[0])
    norms = [_norm(xp, g, norm_type) for g in grads]
    dtype = xp.result_type(*norms)
    norms = xp.stack([xp.astype(n, dtype) for n in norms])
    return _norm(xp, norms, norm_type) if len(grads) > 1 else norms[0]


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Any = None) -> Any:
    """Scale the gradients of ``parameters`` together so their total norm is at most ``max_norm``.

    Parameters
    ----------
    parameters : Variable or iterable of Variable
        Those without a gradient are skipped.
    max_norm : float
    norm_type : float
        The p of the p-norm (``float("inf")`` for the largest absolute value).
    error_if_nonfinite : bool
        Raise when the norm is NaN or infinite; this reads it on the host (a
        synchronisation), so it is off by default.
    foreach : ignored
        Accepted for torch's signature.

    Returns
    -------
    array
        The total norm before clipping, a 0-d array on the gradients' device
        (``0.0`` when no parameter has a gradient).

    Examples
    --------
    >>> import anyad as ad
    >>> w = ad.nn.Parameter([1.0, 2.0])
    >>> ad.sum(w * ad.Variable([3.0, 4.0])).backward()
    >>> float(ad.nn.utils.clip_grad_norm_([w], max_norm=1.0))
    5.0
    >>> w.grad.round(6)
    array([0.6, 0.8])
    """
    params = _with_grads(parameters)
    if not params:
        return 0.0
    total = get_total_norm([p.grad for p in params], norm_type)
    if error_if_nonfinite:
        value = float(total)
        if value != value or value in (float("inf"), float("-inf")):
            raise RuntimeError(f"anyad.nn.utils.clip_grad_norm_: the total {norm_type}-norm of the gradients is "
                               f"{value}; pass error_if_nonfinite=False to clip anyway")
    xp = _backend.namespace_of(total)
    coef = xp.minimum(float(max_norm) / (total + 1e-6), xp.ones_like(total))
    for p in params:
        g = p.grad
        p.grad = g * xp.astype(coef, _raw(g).dtype)
    return total


def clip_grad_value_(parameters: Any, clip_value: float, foreach: Any = None) -> None:
    """Clip every gradient element of ``parameters`` to ``[-clip_value, clip_value]``.

    Examples
    --------
    >>> import anyad as ad
    >>> w = ad.nn.Parameter([1.0, 2.0])
    >>> ad.sum(w * ad.Variable([-3.0, 0.5])).backward()
    >>> ad.nn.utils.clip_grad_value_(w, 1.0)
    >>> w.grad
    array([-1. ,  0.5])
    """
    c = float(clip_value)
    for p in _with_grads(parameters):
        g = p.grad
        if isinstance(g, Variable):
            p.grad = _clip(g, -c, c)
        else:
            p.grad = _backend.namespace_of(g).clip(g, -c, c)
