"""Layers: Linear, MLP, Dropout, LayerNorm, Embedding and activation modules.

Layers with random initial values take ``rng`` (an
:class:`anyad.random.Generator`, or an int seed, or None for a fresh one):
their parameters are drawn where the generator lives. ``backend``/``device``
choose that place when no generator is given (default: the current backend of
:func:`anyad.use`); ``dtype`` defaults to float32 on every backend (as in torch;
:func:`anyad.set_default_dtype` changes it). A layer called with an input of
another dtype raises (as torch does), rather than promoting a float32 input to
float64 or quietly rounding a float64 one: convert the input
(``x.astype(...)``) or the model (``model.to(dtype=...)``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from .. import _backend
from .._state import autocast_dtype
from .. import random as _random
from ..backends import backend_for
from ..backends.transfer import same_device
from . import functional as F
from . import init
from .module import Module, Parameter, Sequential

__all__ = [
    "Linear", "MLP", "Dropout", "LayerNorm", "Embedding", "ReLU", "GELU", "Sigmoid", "Tanh", "Softplus",
    "Identity", "Flatten",
]


def generator(rng: Any, backend: Any = None, device: Any = None) -> Any:
    """The generator a layer draws from: ``rng`` itself, a new one seeded with it (an int),
    or for None the default generator of ``backend``/``device`` (:func:`anyad.manual_seed`)."""
    if isinstance(rng, _random.Generator):
        if backend is not None and backend_for(backend).name != rng.backend.name:
            raise ValueError(
                f"anyad.nn: the generator draws on {rng.backend.name}, but backend={backend!r} was asked; "
                "pass one or the other"
            )
        if device is not None and not same_device(rng.device, device):
            raise ValueError(f"anyad.nn: the generator draws on {rng.device}, but device={device!r} was asked")
        return rng
    if rng is None:  # the default generator of the place, seeded by anyad.manual_seed
        return _random.default_generator(backend, device)
    return _random.Generator(rng, backend=backend, device=device)


def _factory(dtype: Any, backend: Any, device: Any) -> tuple[Any, dict]:
    """The namespace, and the dtype/device keywords, for a layer's constant arrays."""
    be = backend_for(backend, device)
    device = be.device
    kw = {"dtype": init.parameter_dtype(be.xp, dtype)}
    if device is not None:
        kw["device"] = device
    return be.xp, kw


def check_dtype(layer: Module, x: Any, weight: Any) -> None:
    """Raise when the input's dtype is not the layer's parameter dtype (no silent promotion)."""
    if autocast_dtype() is not None:  # inside anyad.amp.autocast the operations cast what they need
        return
    raw, w = getattr(x, "value", x), weight.value
    if init.dtype_name(getattr(raw, "dtype", w.dtype)) != init.dtype_name(w.dtype):  # backends may differ
        raise TypeError(
            f"anyad.nn.{type(layer).__name__}: the input is {raw.dtype} and the parameters are {w.dtype}; "
            f"convert one to the other: x.astype(...) or model.to(dtype=...) (layers make float32 "
            f"parameters by default, see anyad.set_default_dtype)"
        )


class Linear(Module):
    """``y = x @ weight.T + bias``; weight of shape ``(out_features, in_features)``.

    Both are drawn from ``U(-1/sqrt(in_features), 1/sqrt(in_features))`` (torch's
    default, which is Kaiming-uniform with ``a = sqrt(5)``); use
    :mod:`anyad.nn.init` to draw others.

    Examples
    --------
    >>> import anyad as ad
    >>> lin = ad.nn.Linear(3, 2, rng=0)
    >>> lin
    Linear(in_features=3, out_features=2, bias=True)
    >>> lin(ad.Variable([[1.0, 2.0, 3.0]], dtype="float32")).shape
    (1, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rng: Any = None,
                 dtype: Any = None, backend: Any = None, device: Any = None):
        super().__init__()
        rng = generator(rng, backend, device)
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
        self.weight = Parameter(init.uniform((out_features, in_features), -bound, bound, rng=rng, dtype=dtype))
        self.bias = Parameter(init.uniform((out_features,), -bound, bound, rng=rng, dtype=dtype)) if bias else None

    def forward(self, x: Any) -> Any:
        shape = getattr(x, "shape", None)
        if shape is not None and (len(shape) == 0 or shape[-1] != self.in_features) and \
                all(d is not None and d == d for d in shape):  # dask's unknown sizes are nan
            raise ValueError(
                f"anyad.nn.{self!r}: the input has shape {tuple(shape)}; its last axis must have "
                f"in_features={self.in_features} elements (a batch of shape (..., {self.in_features}))")
        check_dtype(self, x, self.weight)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Dropout(Module):
    """Zero elements with probability ``p`` in training mode (scaling the rest by ``1/(1-p)``);
    the identity in evaluation mode.

    The mask is drawn on the input's backend and device by ``rng`` (created
    there on first use when not given; :meth:`Module.to` moves it).

    Examples
    --------
    >>> import anyad as ad
    >>> drop = ad.nn.Dropout(0.5, rng=0)
    >>> x = ad.Variable([1.0] * 6)
    >>> sorted(set(drop(x).value.tolist()))
    [0.0, 2.0]
    >>> drop.eval()(x) is x
    True
    """

    def __init__(self, p: float = 0.5, *, rng: Any = None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"anyad.nn.Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self._seed = rng if not isinstance(rng, _random.Generator) else None
        self.rng = rng if isinstance(rng, _random.Generator) else None

    def _generator_for(self, raw: Any) -> Any:
        xp = _backend.namespace_of(raw)
        dev = _backend.device_of(raw)
        rng = self.rng
        if rng is None:
            self.rng = rng = generator(self._seed, xp, dev)
        elif rng.backend.xp is not xp or not same_device(rng.device, dev):
            raise ValueError(
                f"anyad.nn.Dropout: its generator draws on {rng.backend.name} ({rng.device}), the input is "
                f"{_backend.describe(raw)}; move the model with .to(...) or pass a generator there"
            )
        return rng

    def forward(self, x: Any) -> Any:
        if not self.training or self.p == 0.0:
            return x
        return F.dropout(x, self.p, self._generator_for(getattr(x, "value", x)), training=True)

    def _moved(self, backend: Any, device: Any) -> None:
        if self.rng is not None:
            self.rng = self.rng.to(backend, device)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the last axes (``normalized_shape``), then scale and shift.

    Examples
    --------
    >>> import anyad as ad
    >>> ln = ad.nn.LayerNorm(2)
    >>> ln(ad.Variable([[1.0, 3.0]], dtype="float32"))
    Variable([[-0.999995  0.999995]])
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, *, dtype: Any = None, backend: Any = None, device: Any = None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, float(eps)
        xp, kw = _factory(dtype, backend, device)
        self.weight = Parameter(xp.ones(shape, **kw)) if elementwise_affine else None
        self.bias = Parameter(xp.zeros(shape, **kw)) if elementwise_affine and bias else None

    def forward(self, x: Any) -> Any:
        if self.weight is not None:
            check_dtype(self, x, self.weight)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index;
    drawn from ``N(0, 1)`` as in torch.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> emb = ad.nn.Embedding(10, 3, rng=0)
    >>> emb(np.array([[1, 2], [3, 1]])).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, rng: Any = None, dtype: Any = None,
                 backend: Any = None, device: Any = None):
        super().__init__()
        rng = generator(rng, backend, device)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.weight = Parameter(init.normal((num_embeddings, embedding_dim), rng=rng, dtype=dtype))

    def forward(self, indices: Any) -> Any:
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class _Activation(Module):
    fn: Callable = staticmethod(lambda x: x)

    def forward(self, x: Any) -> Any:
        return type(self).fn(x)


class ReLU(_Activation):
    """:func:`anyad.nn.functional.relu` as a module."""

    fn = staticmethod(F.relu)


class Sigmoid(_Activation):
    """:func:`anyad.nn.functional.sigmoid` as a module."""

    fn = staticmethod(F.sigmoid)


class Tanh(_Activation):
    """``tanh`` as a module."""

    fn = staticmethod(F.tanh)


class Softplus(_Activation):
    """:func:`anyad.nn.functional.softplus` as a module."""

    fn = staticmethod(F.softplus)


class Identity(_Activation):
    """Returns its input."""


class GELU(Module):
    """:func:`anyad.nn.functional.gelu` as a module (``approximate="none"`` or ``"tanh"``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Any) -> Any:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Flatten(Module):
    """Merge the axes ``start_dim`` to ``end_dim`` into one (default: all but the batch
    axis), as ``torch.nn.Flatten``; ``start_axis`` is the older name of ``start_dim``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> a, b = np.ones((0, 2, 3)), np.ones((2, 3, 4))
    >>> ad.nn.Flatten()(a).shape, ad.nn.Flatten(0, 1)(b).shape
    ((0, 6), (6, 4))
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1, *, start_axis: int | None = None):
        super().__init__()
        self.start_dim = start_dim if start_axis is None else start_axis
        self.end_dim = end_dim

    @property
    def start_axis(self) -> int:
        return self.start_dim

    def forward(self, x: Any) -> Any:
        from ..ops import reshape

        shape = tuple(getattr(x, "value", x).shape)
        n = len(shape)
        lo, hi = self.start_dim % max(n, 1), self.end_dim % max(n, 1)
        if n == 0 or lo > hi:
            raise ValueError(f"anyad.nn.Flatten: start_dim={self.start_dim}, end_dim={self.end_dim} do not fit "
                             f"an input of shape {shape}")
        size = 1
        for d in shape[lo:hi + 1]:
            size *= d
        return reshape(x, shape[:lo] + (size,) + shape[hi + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


_ACTIVATIONS = {"relu": ReLU, "gelu": GELU, "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus,
                "identity": Identity}


class MLP(Sequential):
    """A multilayer perceptron: Linear layers of ``sizes``, an activation (and dropout)
    between them, none after the last.

    Parameters
    ----------
    sizes : sequence of int
        Input size, hidden sizes, output size: ``[64, 128, 10]`` is 64 -> 128 -> 10.
    activation : str or Module class
        ``"relu"`` (default), ``"gelu"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"``,
        or a Module class called with no arguments.
    dropout : float
        Dropout probability after each hidden activation (0: none).
    rng, dtype, backend, device, bias
        As for :class:`Linear`; the layers draw from generators spawned from ``rng``.

    Examples
    --------
    >>> import anyad as ad
    >>> net = ad.nn.MLP([4, 8, 3], rng=0)
    >>> net
    MLP(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    """

    def __init__(self, sizes: Sequence[int], activation: Any = "relu", dropout: float = 0.0, bias: bool = True,
                 *, rng: Any = None, dtype: Any = None, backend: Any = None, device: Any = None):
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"anyad.nn.MLP: sizes needs an input and an output size, got {sizes}")
        act = _ACTIVATIONS.get(activation) if isinstance(activation, str) else activation
        if act is None:
            raise ValueError(f"anyad.nn.MLP: unknown activation {activation!r}; one of {sorted(_ACTIVATIONS)}")
        rng = generator(rng, backend, device)
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.append(Linear(n_in, n_out, bias, rng=rng, dtype=dtype))
            if i < len(sizes) - 2:
                self.append(act())
                if dropout:
                    self.append(Dropout(dropout, rng=rng.spawn(1)[0]))
