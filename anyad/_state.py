"""Recording state: one context variable, thread- and async-safe.

The state is an immutable :class:`State`: the recording ``mode``, the tracer
of :mod:`anyad.compile` while a program is built (else ``None``), the
``(pack, unpack)`` hooks of :func:`anyad.saved_values_hooks` (else ``None``),
and whether :func:`anyad.debug_checks` asked for checks that read device data.
The recording hot path reads it with one context-variable lookup. Context
managers replace it for their block and restore it after; nothing lives in a
module-level flag, so threads and asyncio tasks each see their own.
"""

from __future__ import annotations

import contextvars
from typing import Any, Callable

__all__ = ["AUTO", "ALL", "TRACK", "OFF", "State", "current", "mode", "tracer", "recording", "tracing",
           "saved_values_hooks", "debug_checks", "push", "pop", "autocast_dtype", "push_autocast", "pop_autocast"]

AUTO = 0  #: record an operation when one of its inputs requires grad
ALL = 1  #: record every operation on Variables (higher-order backprop)
TRACK = 2  #: record everything, and keep ``param_to`` links (GradientTracker)
OFF = 3  #: record nothing (no_grad)


class State:
    """The recording mode, the program tracer, the saved-value hooks and the debug checks in force."""

    __slots__ = ("mode", "tracer", "hooks", "debug")

    def __init__(self, mode: int = AUTO, tracer: Any = None, hooks: tuple | None = None, debug: bool = False):
        self.mode = mode
        self.tracer = tracer
        self.hooks = hooks
        self.debug = debug

    def __repr__(self) -> str:
        return f"State(mode={self.mode}, tracer={self.tracer!r}, hooks={self.hooks!r}, debug={self.debug})"


_STATE: contextvars.ContextVar[State] = contextvars.ContextVar("anyad_state", default=State())

#: the state in force (the hot path binds this once)
current = _STATE.get


def mode() -> int:
    """The recording mode in force."""
    return _STATE.get().mode


def tracer() -> Any:
    """The tracer of :mod:`anyad.compile` while a program is built, else None."""
    return _STATE.get().tracer


def push(mode: int | None = None, tracer: Any = ..., hooks: Any = ..., debug: Any = ...) -> contextvars.Token:
    """Replace parts of the state; returns the token :func:`pop` restores."""
    st = _STATE.get()
    return _STATE.set(State(st.mode if mode is None else mode, st.tracer if tracer is ... else tracer,
                            st.hooks if hooks is ... else hooks, st.debug if debug is ... else debug))


def pop(token: contextvars.Token) -> None:
    """Restore the state from before the :func:`push` that gave ``token``."""
    _STATE.reset(token)


class _Block:
    """A context manager that replaces part of the state for its block."""

    __slots__ = ("_token",)

    def _push(self) -> contextvars.Token:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self._token = self._push()
        return self

    def __exit__(self, *exc: object) -> None:
        _STATE.reset(self._token)


class recording(_Block):
    """Context manager setting the recording mode for the current context."""

    __slots__ = ("mode",)

    def __init__(self, mode: int):
        self.mode = mode

    def _push(self) -> contextvars.Token:
        return push(mode=self.mode)


class tracing(_Block):
    """Context manager installing a tracer (:mod:`anyad._tracing`)."""

    __slots__ = ("tracer",)

    def __init__(self, tracer: Any):
        self.tracer = tracer

    def _push(self) -> contextvars.Token:
        return push(tracer=self.tracer)

    def __enter__(self) -> Any:
        super().__enter__()
        return self.tracer


class saved_values_hooks(_Block):
    """Context manager: every value a node saves while it is active goes
    through ``pack``, and comes back through ``unpack`` when a rule reads it.

    As ``torch.autograd.graph.saved_tensors_hooks``: with it, saved
    activations can be moved to the host, compressed, or logged
    (:func:`anyad.save_on_host` and :func:`anyad.checkpoint` are built on it).
    ``pack`` receives a raw array and may return anything; ``unpack`` receives
    what ``pack`` returned and must return an array equal to the one packed.
    Python scalars and shape-only records are not packed. The innermost block
    wins.

    Examples
    --------
    >>> import anyad as ad
    >>> packed = []
    >>> def pack(x):
    ...     packed.append(x.shape)
    ...     return x.copy()
    >>> x = ad.Variable([1.0, 2.0], requires_grad=True)
    >>> with ad.saved_values_hooks(pack, lambda x: x):
    ...     y = ad.sum(ad.sin(x) * x)
    >>> y.backward()
    >>> x.grad
    array([1.38177329, 0.07700375])
    >>> packed        # sin keeps its input, multiply both of its inputs
    [(2,), (2,), (2,)]
    """

    __slots__ = ("hooks",)

    def __init__(self, pack: Callable[[Any], Any], unpack: Callable[[Any], Any]):
        if not callable(pack) or not callable(unpack):
            raise TypeError("anyad.saved_values_hooks: pack and unpack must be functions")
        self.hooks = (pack, unpack)

    def _push(self) -> contextvars.Token:
        return push(hooks=self.hooks)


class debug_checks(_Block):
    """Context manager: checks that must read data on a device, and so
    synchronise with it, run inside the block (outside it they run only where
    the data is in host memory). Today: class labels in range in
    ``cross_entropy`` and ``nll_loss``.

    Examples
    --------
    >>> import anyad as ad
    >>> import array_api_strict as xp
    >>> logits = ad.Variable(xp.zeros((2, 3), device=xp.Device("device1")))
    >>> labels = xp.asarray([0, 7], device=xp.Device("device1"))
    >>> with ad.debug_checks():
    ...     ad.nn.functional.cross_entropy(logits, labels)
    Traceback (most recent call last):
    ...
    IndexError: anyad.nn.functional.cross_entropy: class label 7 is out of range
    for 3 classes
    """

    __slots__ = ()

    def _push(self) -> contextvars.Token:
        return push(debug=True)


# -- mixed precision (anyad.amp.autocast) ------------------------------------------
# Apart from State: read only by the operations it changes (matmul, conv, the
# reductions), never on the recording hot path.
_AUTOCAST: contextvars.ContextVar[str | None] = contextvars.ContextVar("anyad_autocast", default=None)

#: the low-precision dtype name of the innermost ``anyad.amp.autocast`` block, else None
autocast_dtype = _AUTOCAST.get


def push_autocast(dtype: str | None) -> contextvars.Token:
    """Enter an autocast block (``None``: disabled inside it)."""
    return _AUTOCAST.set(dtype)


def pop_autocast(token: contextvars.Token) -> None:
    """Leave the autocast block that :func:`push_autocast` gave ``token``."""
    _AUTOCAST.reset(token)
