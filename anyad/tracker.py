"""GradientTracker: the context-manager face of anyad (the reference design).

Inside ``with GradientTracker() as tracker:`` every operation on Variables is
recorded; afterwards ``tracker.gradient(target, source)`` differentiates.
"""

from __future__ import annotations

import contextvars
from typing import Any, Sequence

from ._state import TRACK, pop, push
from .backprop import backprop
from .graph import OpType
from .variable import Operation
from .variable import Variable, _check_differentiable_dtype

__all__ = ["GradientTracker"]


class GradientTracker:
    """Records the operations done on Variables in its ``with`` block, and
    computes gradients over them.

    Gradients can be asked for after the block has exited, and asked again:
    the graph lives as long as the Variables that reference it.

    Examples
    --------
    >>> with GradientTracker() as tracker:
    ...     a = Variable([2.0, 5.0])
    ...     b = Variable([1.0, 2.0])
    ...     m = Variable([1.0, 2.0])
    ...     c = a + b
    ...     d = a * b
    ...     e = c / d
    >>> tracker.gradient(e, a)
    array([-0.25, -0.04])
    >>> tracker.gradient(e, b)
    array([-1.  , -0.25])
    >>> tracker.gradient(e, m) is None
    True
    >>> with GradientTracker() as tracker:
    ...     a = Variable([[2.0, 5.0]])
    ...     b = Variable([[1.0], [2.0]])
    ...     c = a @ b
    >>> tracker.gradient(c, a)
    array([[1., 2.]])
    >>> tracker.gradient(c, b)
    array([[2.],
           [5.]])
    >>> with GradientTracker() as tracker:
    ...     a = Variable([[2.0, 5.0]])
    ...     b = a ** 3
    >>> tracker.gradient(b, a)
    array([[12., 75.]])
    """

    def __init__(self) -> None:
        self._token: contextvars.Token | None = None

    @property
    def enabled(self) -> bool:
        """True while this tracker's ``with`` block is running."""
        return self._token is not None

    def __enter__(self) -> "GradientTracker":
        if self._token is not None:
            raise RuntimeError("anyad.GradientTracker: this tracker is already active")
        self._token = push(mode=TRACK)
        return self

    def __exit__(self, *exc: object) -> None:
        pop(self._token)
        self._token = None

    def append(self, op_type: OpType, params: list, output: Variable, other_params: dict | None = None) -> None:
        """Record by hand that ``output = op_type(*params)`` (reference API).

        Examples
        --------
        >>> import anyad as ad
        >>> t = ad.GradientTracker()
        >>> a, b = ad.Variable([1.0]), ad.Variable([2.0])
        >>> c = ad.Variable(a.value * b.value)
        >>> t.append(ad.OpType.MUL, [a, b], c)
        >>> t.gradient(c, a)
        array([2.])
        """
        op = Operation(op_type, other_params)
        op.add_params(params)
        for p in params:
            if isinstance(p, Variable):
                p.add_param_to(op)
        op.add_output(output)

    def derivative(self, param: Variable, operation: Operation, seed: Any = None) -> Any:
        """The vector-Jacobian product of ``operation``'s output with respect to
        its input ``param``, for the cotangent ``seed`` (ones by default): for an
        elementwise operation, its partial derivative.

        Examples
        --------
        >>> import anyad as ad
        >>> with ad.GradientTracker() as t:
        ...     a = ad.Variable([3.0])
        ...     b = a * a
        >>> t.derivative(a, b.result_of)
        array([6.])
        """
        out = operation.output
        if out is None:
            raise ValueError("anyad.GradientTracker.derivative: the operation's output is gone")
        positions = [i for i, p in enumerate(operation.params) if p is param]
        if not positions:
            raise ValueError("anyad.GradientTracker.derivative: param is not an input of this operation")
        from ._backend import namespace_of
        from .ops._core import unbroadcast

        if seed is None:
            seed = namespace_of(out.value).ones_like(out.value)
        elif isinstance(seed, Variable):
            seed = seed.value
        kw = operation.other_params or {}
        total = None
        prim = operation.prim
        values = operation.values
        joint = None if prim.vjp is None else prim.vjp(
            seed, tuple(i in positions for i in range(len(values))), out.value, *values, **kw)
        for i in positions:  # an input used twice (a * a) gets both contributions
            g = joint[i] if joint is not None else prim.vjps[i](seed, out.value, *values, **kw)
            if operation.prim.broadcasts:
                g = unbroadcast(g, tuple(param.value.shape))
            total = g if total is None else total + g
        return total

    def gradient(
        self,
        target: Variable,
        source: Variable | Sequence[Variable],
        seed: Any = None,
        *,
        create_graph: bool = False,
    ) -> Any:
        """Gradient of ``target`` with respect to ``source``.

        Parameters
        ----------
        target : Variable
            What to differentiate. A non-scalar target gives the
            vector-Jacobian product with ``seed`` (ones by default).
        source : Variable or list of Variable
            With a list, one backward pass gives a list of gradients.
        seed : array, optional
            The cotangent of ``target``.
        create_graph : bool
            Return a Variable connected to the graph, so the gradient can be
            differentiated again.

        Returns
        -------
        array, Variable, None or list
            A backend array (a Variable with ``create_graph``), ``None`` when
            ``source`` does not influence ``target``.
        """
        single = isinstance(source, Variable)
        sources = [source] if single else list(source)
        for s in sources:
            if not isinstance(s, Variable):
                raise TypeError(f"anyad.GradientTracker.gradient: sources must be Variables, got {type(s).__name__}")
            _check_differentiable_dtype(s.value, "GradientTracker.gradient")
        if not isinstance(target, Variable):
            raise TypeError(
                f"anyad.GradientTracker.gradient: target must be a Variable, got {type(target).__name__}"
            )
        grads = backprop([target], [seed], sources, create_graph=create_graph, retain_graph=True)
        return grads[0] if single else grads
