"""Memory tools: activation recomputation and offloading what a graph keeps.

Both are built on :func:`anyad.saved_values_hooks`, which sees every value a
node keeps for its rules:

* :func:`checkpoint` (``jax.checkpoint``, ``torch.utils.checkpoint``) keeps
  none of the values the nodes inside a function record, only the function's
  inputs, and recomputes the inside once when backward first needs a value;
* :func:`save_on_host` moves every kept value to host memory (NumPy) and back
  to its library and device when a rule reads it.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from . import _backend
from ._state import OFF, current, recording, saved_values_hooks

__all__ = ["checkpoint", "save_on_host"]


class _Frame:
    """One call of a checkpointed function: what it needs to run again, and
    the values it records when it does."""

    __slots__ = ("fn", "args", "kwargs", "mode", "shapes", "recomputed", "name")

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, mode: int, name: str):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.mode = mode
        self.name = name
        self.shapes: list = []  # (shape, dtype) of each value the first run kept, in order
        self.recomputed: list | None = None

    def pack(self, x: Any) -> "_Ref":
        self.shapes.append((tuple(x.shape), x.dtype))
        return _Ref(self, len(self.shapes) - 1)

    def value(self, i: int) -> Any:
        if self.recomputed is None:
            self._recompute()
        return self.recomputed[i]

    def _recompute(self) -> None:
        kept: list = []

        def keep(x: Any) -> Any:
            kept.append(x)
            return x

        # the same recording mode as the first run, so the same nodes keep the same values
        with recording(self.mode), saved_values_hooks(keep, _identity):
            self.fn(*self.args, **self.kwargs)
        got = [(tuple(x.shape), x.dtype) for x in kept]
        if got != self.shapes:
            raise RuntimeError(
                f"anyad.checkpoint: running {self.name} again recorded {len(got)} values where the first "
                f"run recorded {len(self.shapes)} (or of other shapes or dtypes): a checkpointed function "
                "must do the same operations when it runs again (no Python state that changes between "
                "calls, no random draws from a generator that advanced: pass such values in as arguments)")
        self.recomputed = kept


class _Ref:
    """What a node inside a checkpoint keeps instead of a value: where to find it."""

    __slots__ = ("frame", "index")

    def __init__(self, frame: _Frame, index: int):
        self.frame = frame
        self.index = index


def _identity(x: Any) -> Any:
    return x


def _unpack(ref: _Ref) -> Any:
    return ref.frame.value(ref.index)


def checkpoint(fn: Callable) -> Callable:
    """Recompute ``fn``'s inside during backward instead of keeping it.

    The wrapped function returns what ``fn`` returns and records the same
    graph, but the nodes inside keep none of their values: only ``fn``'s inputs
    (and what it reads from outside, such as a layer's parameters) stay
    alive. When backward first needs one of those values, ``fn`` runs again
    once, on the same inputs, and the values it records are used. Gradients are
    identical; peak memory drops to the inputs of each checkpointed call plus
    the inside of one call at a time. It works for any outputs (pytrees,
    several arrays), nested, at any order (``create_graph``), in forward mode,
    and under :func:`anyad.jit` (where it is inlined: a compiled program
    already reuses memory).

    ``fn`` must do the same operations when it runs again: a random draw inside
    draws again (pass random masks in as arguments), and Python state that
    changes between calls is an error when the recorded values no longer
    match.

    Parameters
    ----------
    fn : callable
        A function of Variables (and anything else).

    Returns
    -------
    callable
        ``fn``, checkpointed.

    Examples
    --------
    >>> import anyad as ad
    >>> layer = ad.checkpoint(lambda h, w: ad.tanh(h @ w))
    >>> w = ad.Variable([[0.5, -1.0], [1.5, 0.25]], requires_grad=True)
    >>> h = ad.Variable([[1.0, 2.0]])
    >>> for _ in range(3):
    ...     h = layer(h, w)
    >>> ad.sum(h).backward()
    >>> w.grad.round(6)
    array([[-0.889835, -0.916627],
           [ 0.177563, -2.802502]])
    """
    if not callable(fn):
        raise TypeError(f"anyad.checkpoint: expected a function, got {type(fn).__name__}")
    name = getattr(fn, "__name__", "the function")

    @functools.wraps(fn)
    def checkpointed(*args: Any, **kwargs: Any) -> Any:
        st = current()
        mode = st.mode
        if mode == OFF or st.tracer is not None:  # nothing recorded, or a program is built
            return fn(*args, **kwargs)
        frame = _Frame(fn, args, kwargs, mode, name)
        with saved_values_hooks(frame.pack, _unpack):
            return fn(*args, **kwargs)

    return checkpointed


def save_on_host(copy_host_arrays: bool = False) -> saved_values_hooks:
    """Keep every value a graph saves in host memory (NumPy), and bring it back
    to its library and device when a rule reads it.

    The CuPy case: activations saved for backward leave GPU memory during the
    forward pass and come back during backward, trading transfer time for
    device memory. Arrays already on the host are kept as they are (or copied,
    with ``copy_host_arrays``); dask arrays, which hold no data, are kept as
    they are. The transfers are synchronous.

    Returns
    -------
    saved_values_hooks
        A context manager: graphs recorded inside it keep their values on the host.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([1.0, 2.0], requires_grad=True)
    >>> with ad.save_on_host():
    ...     y = ad.sum(ad.exp(x) * x)
    >>> y.backward()
    >>> x.grad.round(6)
    array([ 5.436564, 22.167168])
    """
    def pack(x: Any) -> Any:
        mod = type(x).__module__
        if mod == "numpy" or mod.startswith("dask"):
            return x.copy() if copy_host_arrays and mod == "numpy" else x
        xp = _backend.namespace_of(x)
        return _OnHost(_backend.to_numpy(x), xp, _backend.device_of(x), x.dtype)

    return saved_values_hooks(pack, _from_host)


class _OnHost:
    """A value moved to the host, and where it came from."""

    __slots__ = ("host", "xp", "device", "dtype")

    def __init__(self, host: Any, xp: Any, device: Any, dtype: Any):
        self.host = host
        self.xp = xp
        self.device = device
        self.dtype = dtype


def _from_host(packed: Any) -> Any:
    if type(packed) is not _OnHost:
        return packed
    return packed.xp.asarray(packed.host, dtype=packed.dtype, device=packed.device)
