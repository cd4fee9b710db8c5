"""The python-autodiff face: :class:`Tensor` and :class:`Graph`.

Programs written for the python-autodiff library (``import autodiff as ad``)
run with ``import anyad as ad`` instead: a :class:`Tensor` records every
operation (no tracker needed), NumPy's functions and ufuncs apply to it
(``np.tanh(t)``, ``np.matmul(W, x)``), and :meth:`Graph.gradient` returns
derivatives of any order as arrays of the backend in use (:func:`anyad.use`).

What python-autodiff gets wrong, anyad does not: float32 stays float32; a
broadcast operand gets a gradient of its own shape; indexing has a correct
gradient; and a Graph never answers from a stale cache (every gradient is
computed from the graph ``dy`` was built with).

The results of operations are plain :class:`~anyad.Variable` objects; the
members python-autodiff programs use on them (``_i``, ``shape``, ``dtype``,
``T``, ``copy``, indexing, iteration) exist there too.

Examples
--------
>>> import anyad as ad
>>> a = ad.Tensor([1, 2, 3, 4])
>>> b = a ** 2
>>> graph = ad.Graph()
>>> graph.add_variables(a)
>>> graph.gradient(b, [a])
[array([2., 4., 6., 8.], dtype=float32)]
"""

from __future__ import annotations

import weakref
from typing import Any, Sequence

from . import _backend
from ._backend import current_backend, namespace_of, resolve_dtype
from .compile import GradientCache
from .backprop import backprop
from ._state import tracer as _tracer
from .variable import Variable, _check_differentiable_dtype

__all__ = ["Tensor", "Graph"]


def _dtype_for(xp: Any, dtype: Any) -> Any:
    """``xp``'s dtype for a NumPy-style spelling (``"float32"``, ``"f8"``,
    ``np.float64``, ``float``); a backend dtype object is passed through."""
    if dtype is None:
        return None
    if isinstance(dtype, str) or isinstance(dtype, type) or type(dtype).__module__.startswith("numpy"):
        import numpy as np  # python-autodiff spells dtypes the NumPy way

        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = dtype if isinstance(dtype, str) else getattr(dtype, "__name__", str(dtype))
        return resolve_dtype(xp, name)
    return dtype


def _converted(data: Any, dtype: Any) -> Any:
    """A new array of the current backend holding ``data`` (always a copy)."""
    if isinstance(data, Variable):
        data = data.value
    be = current_backend()
    xp = be.xp
    dt = _dtype_for(xp, dtype)
    try:
        src = namespace_of(data)
    except TypeError:
        src = None
    if src is None:  # Python data (or a foreign object numpy can read)
        try:
            return be.asarray(data, dtype=dt)
        except (TypeError, ValueError):
            data = _backend.to_numpy(data)
            src = namespace_of(data)
    if src is not xp:  # another library's array: through the host
        data = _backend.to_numpy(data)
    kw = {"dtype": dt, "copy": True}
    if be.device is not None:
        kw["device"] = be.device
    elif src is xp:
        kw["device"] = _backend.device_of(data)
    return xp.asarray(data, **kw)


def _new_tensor(value: Any, requires_grad: bool) -> "Tensor":
    t = Tensor.__new__(Tensor)
    Variable.__init__(t, value)
    t.requires_grad = requires_grad
    return t


class Tensor(Variable):
    """A Variable that records every operation, as python-autodiff's Tensor.

    Parameters
    ----------
    data : array, Variable or Python data
        Copied into the current backend (:func:`anyad.use`): NumPy arrays,
        nested lists, numbers, or arrays of another library.
    dtype : str or dtype
        NumPy-style name (``"float32"``, the default; ``"float64"``, ``"f8"``,
        ``np.float64``) mapped to the backend's dtype, or a backend dtype.
    constant : bool
        Treat as a constant: no gradient flows to it. Tensors of an integer or
        boolean dtype are always constants.

    Attributes
    ----------
    value : array
        The wrapped array; ``_i`` is the same array under python-autodiff's
        name, kept for compatibility (assigning to ``_i`` calls :meth:`assign`).

    Notes
    -----
    Operations return plain :class:`~anyad.Variable` objects. :meth:`assign`
    and its kin rebind the value (no array is mutated), so graphs recorded
    earlier keep the values they saw.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> t = ad.Tensor(np.array([1.0, 2.0]))
    >>> t
    Tensor([1. 2.], dtype=float32)
    >>> np.tanh(t * 0.0)
    Variable([0. 0.])
    >>> t.assign_sub(np.array([0.5, 0.5]))
    Tensor([0.5 1.5], dtype=float32)
    """

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = "float32", constant: bool = False):
        value = _converted(data, dtype)
        Variable.__init__(self, value)  # a leaf around the new array
        self.requires_grad = (not constant) and namespace_of(value).isdtype(value.dtype, "real floating")

    @property
    def _i(self) -> Any:
        """The wrapped array (python-autodiff's name for ``value``, kept for compatibility)."""
        return self.value

    @_i.setter
    def _i(self, a: Any) -> None:
        self.assign(a)

    def __repr__(self) -> str:
        text = super().__repr__()[len("Variable("):-1].replace("\n" + " " * 9, "\n" + " " * 7)
        return f"Tensor({text}, dtype={_backend._dtype_name(self.dtype)})"

    def copy(self) -> "Tensor":
        """A new Tensor with a copy of the value; recorded history is not carried over.

        Examples
        --------
        >>> import anyad as ad
        >>> a = ad.Tensor([1.0])
        >>> b = a.copy()
        >>> b is a, b.value is a.value
        (False, False)
        """
        xp = namespace_of(self.value)
        t = _new_tensor(xp.asarray(self.value, copy=True), self.requires_grad)
        if _tracer() is not None:  # anyad.compile: the copy is recomputed, not frozen
            _tracer().untracked(None, (self,), (self.value,), None, t)
        return t

    def astype(self, dtype: Any) -> "Tensor":
        """Change this Tensor's dtype in place (as python-autodiff does) and return it.

        Examples
        --------
        >>> import anyad as ad
        >>> t = ad.Tensor([1.0])
        >>> t.astype("float64").dtype
        dtype('float64')
        """
        xp = namespace_of(self.value)
        dt = _dtype_for(xp, dtype)
        if self.value.dtype != dt:
            self.value = xp.astype(self.value, dt)
        if self.requires_grad and not xp.isdtype(dt, "real floating"):
            self.requires_grad = False
        return self

    def assign(self, a: Any) -> "Tensor":
        """Replace the value by ``a`` (same shape), converted to this Tensor's
        backend, device and dtype.

        Examples
        --------
        >>> import anyad as ad
        >>> t = ad.Tensor([1.0, 2.0])
        >>> t.assign(t._i * 2)
        Tensor([2. 4.], dtype=float32)
        """
        old = self.value
        a = self._own(a)
        if type(a) in (int, float, bool):
            a = namespace_of(old).full(tuple(old.shape), a, dtype=old.dtype, device=_backend.device_of(old))
        if a.shape != old.shape:
            raise ValueError(
                f"anyad.Tensor.assign: a value of shape {tuple(a.shape)} cannot replace one of shape "
                f"{tuple(old.shape)}"
            )
        if a.dtype != old.dtype:
            a = namespace_of(a).astype(a, old.dtype)
        self.value = a
        return self

    def assign_add(self, value: Any) -> "Tensor":
        """Replace the value by its sum with ``value``: ``t = t + value``."""
        return self.assign(self.value + self._own(value))

    def assign_sub(self, value: Any) -> "Tensor":
        """Replace the value by its difference with ``value``: ``t = t - value``."""
        return self.assign(self.value - self._own(value))

    def _own(self, a: Any) -> Any:
        """``a`` (a Variable, an array of any library, Python data) as an array of
        this Tensor's library and device; Python scalars are kept as they are."""
        if isinstance(a, Variable):
            a = a.value
        old = self.value
        if type(a) is type(old) or type(a) in (int, float, bool):
            return a
        xp = namespace_of(old)
        try:
            src = namespace_of(a)
        except TypeError:
            src = None
        if src is not None and src is not xp:
            a = _backend.to_numpy(a)
        return xp.asarray(a, dtype=old.dtype, device=_backend.device_of(old))

    def __setitem__(self, key: Any, value: Any) -> None:
        """Set elements (python-autodiff's ``t[key] = value``). On a Tensor of
        your own (a leaf) the value is rebound to an updated copy, so recorded
        graphs keep what they saw; on the result of an operation the write is
        recorded and differentiated, as for any Variable."""
        if self._node is not None:
            Variable.__setitem__(self, key, value)
            return
        xp = namespace_of(self.value)
        new = xp.asarray(self.value, copy=True)
        if isinstance(key, Variable):
            key = key.value
        new[key] = value.value if isinstance(value, Variable) else value
        self.value = new


class Graph:
    """Computes derivatives of any order, as python-autodiff's Graph.

    Every gradient is computed from the graph that ``dy`` recorded, so asking
    for ``d(c ** 3)`` after ``d(c ** 2)`` gives the new answer, and a graph
    rebuilt each step (a training loop) always sees the current values.

    Examples
    --------
    >>> import anyad as ad
    >>> c = ad.Tensor([1.0, 2.0], dtype="float64")
    >>> g = ad.Graph()
    >>> g.add_variables(c)
    >>> g.gradient(c ** 2, [c]), g.gradient(c ** 3, [c])
    ([array([2., 4.])], [array([ 3., 12.])])
    >>> g.gradient(c ** 3, [c], 2)
    [array([ 6., 12.])]
    """

    def __init__(self) -> None:
        self._variables: dict = {}  # id -> weak reference
        self._limit = 64
        self._programs = GradientCache()  # compiled backward programs, keyed by graph structure

    @property
    def cache(self) -> GradientCache:
        """The compiled backward programs of this Graph, keyed by graph structure
        (its ``hits`` and ``misses`` count how often one was reused or built)."""
        return self._programs

    def add_variables(self, *tensors: Variable) -> None:
        """Register the Tensors (or Variables) a program differentiates with respect to.

        Kept for python-autodiff programs, which call it each step: anyad reads
        values from the recorded graph, so registering is optional and only
        weak references are kept (see :attr:`variables`).
        """
        reg = self._variables
        for t in tensors:
            if not isinstance(t, Variable):
                raise TypeError(
                    f"anyad.Graph.add_variables: expected Tensors or Variables, got {type(t).__name__}"
                )
            r = reg.get(id(t))
            if r is None or r() is not t:
                reg[id(t)] = weakref.ref(t)
        if len(reg) > self._limit:  # drop the dead (a loop adds new row Variables each step)
            live = {k: r for k, r in reg.items() if r() is not None}
            reg.clear()
            reg.update(live)
            self._limit = 2 * len(live) + 64

    @property
    def variables(self) -> list:
        """The registered Tensors and Variables that are still alive."""
        return [v for v in (r() for r in self._variables.values()) if v is not None]

    def gradient(self, dy: Variable, dxs: Sequence[Variable], n: int = 1) -> list:
        """Derivatives of order ``n`` of ``dy`` with respect to each of ``dxs``.

        Parameters
        ----------
        dy : Variable
            What to differentiate; a non-scalar ``dy`` is summed first.
        dxs : list of Variable
            The Tensors (or Variables) to differentiate with respect to.
        n : int
            The order: order ``n`` differentiates the sum of the order ``n - 1``
            derivative (for elementwise functions, the n-th derivative).

        Returns
        -------
        list of arrays
            One array of the backend per ``dx``, of its shape and dtype (zeros
            where ``dy`` does not depend on it, and for a constant Tensor).

        Examples
        --------
        >>> import anyad as ad
        >>> a = ad.Tensor([0.0, 1.0], dtype="float64")
        >>> g = ad.Graph()
        >>> [g.gradient(a ** 4, [a], k)[0] for k in (1, 2, 3, 4, 5)]
        [array([0., 4.]), array([ 0., 12.]), array([ 0., 24.]), array([24., 24.]),
         array([0., 0.])]
        """
        if isinstance(dxs, Variable):
            dxs = [dxs]
        dxs = list(dxs)
        if not isinstance(dy, Variable):
            raise TypeError(f"anyad.Graph.gradient: dy must be a Tensor or Variable, got {type(dy).__name__}")
        for x in dxs:
            if not isinstance(x, Variable):
                raise TypeError(
                    f"anyad.Graph.gradient: dxs must be Tensors or Variables, got {type(x).__name__}"
                )
            if not x.requires_grad:  # (a Variable that requires grad is floating already)
                _check_differentiable_dtype(x.value, "Graph.gradient")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"anyad.Graph.gradient: the order n must be an integer >= 1, got {n!r}")
        # a constant Tensor gets zeros, as in python-autodiff
        active = [x for x in dxs if x.requires_grad or not isinstance(x, Tensor)]
        if len(active) == len(dxs):
            grads = self._first_order(dy, dxs, create_graph=n > 1)
        else:
            found = {}
            if active:
                found = dict(zip(map(id, active), self._first_order(dy, active, create_graph=n > 1)))
            grads = [found.get(id(x)) for x in dxs]
        if n > 1:
            out = []
            for x, g in zip(dxs, grads):
                for k in range(2, n + 1):
                    if g is None:
                        break
                    g = self._first_order(g, [x], create_graph=k < n)[0]
                out.append(g)
            grads = out
        out = []
        for x, g in zip(dxs, grads):
            if g is None:
                g = namespace_of(x.value).zeros_like(x.value)
            out.append(g.value if isinstance(g, Variable) else g)
        return out

    def _first_order(self, dy: Variable, dxs: list, create_graph: bool = False) -> list:
        """Every first-order gradient this Graph computes goes through here:
        gradients of ``sum(dy)`` with respect to ``dxs`` (``None`` where ``dy``
        does not depend on one); Variables when ``create_graph``, else arrays.

        Array gradients come from a :class:`~anyad.GradientCache`: keyed by the
        structure of ``dy``'s graph (never by the identity of ``(dy, dx)``, which
        is how python-autodiff returns ``d(c ** 2)`` when asked for
        ``d(c ** 3)``), so a graph rebuilt each step replays one compiled program.
        """
        if not create_graph:
            return self._programs.gradient(dy, dxs)
        return backprop([dy], [None], dxs, create_graph=True, retain_graph=True)
