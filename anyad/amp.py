"""Mixed precision: ``autocast`` and ``GradScaler``, as ``torch.amp``.

Inside ``with anyad.amp.autocast(dtype="float16"):`` (or ``"bfloat16"`` where
the library has it: torch, JAX) the operations that gain most from low
precision run in it: ``matmul``, ``linear`` and the convolutions cast their
float32 operands (bias included) to the low dtype; the operations that need
range run in float32: ``sum``, ``mean``, ``logsumexp``, ``softmax`` and what
is built on them (``log_softmax``, the losses, ``var``, ``std``, the
normalisations) cast low-precision operands up. The casts are differentiable
operations: the gradients of float32 parameters come back in float32. float64
operands are never changed, and the layers' dtype check is relaxed inside the
block (the operations cast what they need). The backward pass runs at the
precision each operation was recorded in, whether or not it is called inside
the block.

``GradScaler`` multiplies the loss by a scale so that small float16 gradients
do not flush to zero, divides the gradients by it before the optimizer step,
skips the step when a gradient is not finite (and lowers the scale), and
raises the scale after ``growth_interval`` finite steps in a row. The
finiteness check is computed on the device; deciding whether to step reads it
once per step (one host synchronisation per step, as torch's GradScaler).

Examples
--------
>>> import anyad as ad
>>> import numpy as np
>>> w = ad.Variable(np.ones((3, 2), dtype="float32"), requires_grad=True)
>>> x = np.ones((4, 3), dtype="float32")
>>> with ad.amp.autocast(dtype="float16"):
...     h = x @ w
...     loss = ad.mean(h * h)
>>> h.dtype, loss.dtype
(dtype('float16'), dtype('float32'))
>>> loss.backward()
>>> w.grad.dtype
dtype('float32')
"""

from __future__ import annotations

import math
from typing import Any

from . import _backend, _state
from .ops import multiply
from .variable import Variable

__all__ = ["autocast", "GradScaler"]

_LOW = ("float16", "bfloat16")


def _dtype_name(dtype: Any) -> str:
    """``"float16"`` from the name, or from a library's float16 dtype object."""
    if isinstance(dtype, str):
        return dtype
    name = getattr(dtype, "name", None) or str(dtype)
    return name.rsplit(".", 1)[-1]  # torch.float16 -> float16


class autocast:
    """Run the block's ``matmul``/``linear``/convolutions in ``dtype`` and its reductions
    and losses in float32 (see :mod:`anyad.amp`). ``enabled=False`` turns an enclosing
    block off for this one. Usable as a decorator too.
    """

    def __init__(self, dtype: Any = "float16", enabled: bool = True):
        name = _dtype_name(dtype) if enabled else None
        if enabled and name not in _LOW:
            raise ValueError(f"anyad.amp.autocast: dtype must be one of {', '.join(_LOW)}, got {dtype!r}")
        self.dtype = name
        self._tokens: list = []

    def __enter__(self) -> "autocast":
        self._tokens.append(_state.push_autocast(self.dtype))
        return self

    def __exit__(self, *exc: object) -> None:
        _state.pop_autocast(self._tokens.pop())

    def __call__(self, fn: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with autocast(self.dtype or "float16", enabled=self.dtype is not None):
                return fn(*args, **kwargs)

        wrapped.__name__, wrapped.__doc__, wrapped.__wrapped__ = fn.__name__, fn.__doc__, fn
        return wrapped

    def __repr__(self) -> str:
        return f"autocast(dtype={self.dtype!r})" if self.dtype else "autocast(enabled=False)"


class GradScaler:
    """Dynamic loss scaling for low-precision training (torch's algorithm and defaults).

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> w = ad.Variable(np.ones(2, dtype="float32"), requires_grad=True)
    >>> opt = ad.optim.SGD([w], lr=0.1)
    >>> scaler = ad.amp.GradScaler()
    >>> loss = ad.sum(w * w)
    >>> scaler.scale(loss).backward()
    >>> w.grad                       # scaled by 2**16
    array([131072., 131072.], dtype=float32)
    >>> scaler.step(opt)             # unscaled, finite: the step is taken
    True
    >>> scaler.update()
    >>> w.value
    array([0.8, 0.8], dtype=float32)
    """

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True):
        if not init_scale > 0 or not growth_factor > 1 or not 0 < backoff_factor < 1 or growth_interval < 1:
            raise ValueError("anyad.amp.GradScaler: needs init_scale > 0, growth_factor > 1, "
                             "0 < backoff_factor < 1 and growth_interval >= 1")
        self._scale = float(init_scale)
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval, self.enabled = int(growth_interval), bool(enabled)
        self._growth_tracker = 0
        self._unscaled: dict = {}  # id(optimizer) -> device-side "every gradient is finite"
        self._found_inf: bool | None = None

    def get_scale(self) -> float:
        """The current scale (1.0 when disabled)."""
        return self._scale if self.enabled else 1.0

    def scale(self, outputs: Any) -> Any:
        """``outputs`` times the scale (a Variable, or a list/tuple of them)."""
        if not self.enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return multiply(outputs, self._scale)

    def unscale_(self, optimizer: Any) -> None:
        """Divide the gradients of ``optimizer``'s parameters by the scale, in place (once
        per step; call it before clipping gradients)."""
        if not self.enabled:
            return
        if id(optimizer) in self._unscaled:
            raise RuntimeError("anyad.amp.GradScaler.unscale_: already called for this optimizer since the "
                               "last update()")
        inv = 1.0 / self._scale
        finite = None
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.value if isinstance(p.grad, Variable) else p.grad
                g = g * inv
                p.grad = g
                xp = _backend.namespace_of(g)
                ok = xp.all(xp.isfinite(g))  # on the device
                finite = ok if finite is None else finite & ok
        self._unscaled[id(optimizer)] = finite

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> bool:
        """Unscale (unless done), then take ``optimizer.step()`` if every gradient is
        finite; returns whether the step was taken."""
        if not self.enabled:
            optimizer.step(*args, **kwargs)
            return True
        if id(optimizer) not in self._unscaled:
            self.unscale_(optimizer)
        finite = self._unscaled[id(optimizer)]
        ok = True if finite is None else bool(finite)  # the one read of device data per step
        self._found_inf = (self._found_inf or False) or not ok
        if ok:
            optimizer.step(*args, **kwargs)
        return ok

    def update(self, new_scale: float | None = None) -> None:
        """Adjust the scale after the step(s): back off after a non-finite gradient, grow
        after ``growth_interval`` finite steps in a row."""
        if not self.enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        elif self._found_inf:
            self._scale *= self.backoff_factor
            self._growth_tracker = 0
        elif self._found_inf is not None:
            self._growth_tracker += 1
            if self._growth_tracker == self.growth_interval:
                self._scale *= self.growth_factor
                self._growth_tracker = 0
        if not math.isfinite(self._scale):
            raise FloatingPointError("anyad.amp.GradScaler: the scale overflowed")
        self._unscaled.clear()
        self._found_inf = None

    def state_dict(self) -> dict:
        return {"scale": self._scale, "growth_factor": self.growth_factor, "backoff_factor": self.backoff_factor,
                "growth_interval": self.growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state: dict) -> None:
        self._scale = float(state["scale"])
        self.growth_factor, self.backoff_factor = float(state["growth_factor"]), float(state["backoff_factor"])
        self.growth_interval, self._growth_tracker = int(state["growth_interval"]), int(state["_growth_tracker"])

