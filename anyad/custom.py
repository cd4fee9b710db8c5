"""Custom differentiable functions: your kernel, your derivative rule.

``@anyad.custom_vjp`` turns a function of raw arrays (a fused kernel: a CuPy
``ElementwiseKernel``, a torch or numpy routine, anything returning one array
of the inputs' library) into an anyad primitive, and ``defvjp`` gives it its
reverse-mode rule::

    @anyad.custom_vjp
    def f(x, y):                  # raw arrays in, one raw array out
        return fused_kernel(x, y)

    @f.defvjp
    def f_vjp(g, ans, x, y):      # cotangent, output, inputs (+ keyword params)
        return g * y, g * x       # one gradient per positional input (None: none)

The rule receives the cotangent ``g``, the output ``ans`` and the inputs,
exactly like anyad's own primitives, and is called once per backward pass of
the operation. Written with anyad functions (or other custom functions), it is
differentiable itself: derivatives of any order then follow, on raw arrays in a
plain backward pass and on Variables when a derivative graph is built. A rule
that computes with raw kernels only serves first order; asking it for more
raises an error instead of returning a silently wrong derivative.

Forward mode (``jvp``, ``jacfwd``, ``hessian``) uses the rule given with
``defjvp``, ``jvp(tangents, ans, *inputs) -> output tangent``; without one,
it is derived from the VJP rule (which must then be written with anyad functions).

Keyword arguments of the function are passed to the kernel and the rules, and
are never differentiated; so are positional arguments that are not floating
arrays (Python numbers, integer index arrays).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from ._saves import KEEP_ALL
from .graph import OpType, Primitive
from .ops._core import apply
from .ops.batching import example_loop
from .variable import Variable

__all__ = ["custom_vjp"]

class custom_vjp:
    """Make ``fun`` a differentiable anyad function with a user-given rule.

    Parameters
    ----------
    fun : callable
        ``fun(*arrays, **params) -> array``: the kernel. It is called with raw
        arrays (Variables unwrapped) and must return one array of their library.

    Examples
    --------
    A "fused" kernel (numpy's ``logaddexp`` here; a CuPy ``ElementwiseKernel``
    the same way) with its rule written in anyad functions, so that second
    derivatives work too:

    >>> import numpy as np
    >>> import anyad as ad
    >>> @ad.custom_vjp
    ... def softplus(x):
    ...     return np.logaddexp(0.0, x)
    >>> @softplus.defvjp
    ... def softplus_vjp(g, ans, x):
    ...     return g / (1.0 + ad.exp(-x))
    >>> x = np.array([0.0, 2.0])
    >>> ad.grad(lambda x: ad.sum(softplus(x)))(x)
    array([0.5       , 0.88079708])
    >>> ad.grad(ad.grad(lambda x: softplus(x)))(np.array(0.0))
    np.float64(0.25)
    """

    def __init__(self, fun: Callable):
        if not callable(fun):
            raise TypeError(f"anyad.custom_vjp: expected a function, got {type(fun).__name__}")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.vjp_rule: Callable | None = None
        self.jvp_rule: Callable | None = None
        name = getattr(fun, "__name__", "custom")
        # not registered by OpType: one per function; gradients summed back to broadcast
        # inputs' shapes by the engine; everything kept (the user's rule may read anything)
        self.primitive = Primitive(name, OpType.CUSTOM, self._forward, None, broadcasts=True,
                                   saves=KEEP_ALL, register=False, holomorphic=False)
        self.primitive.batch = example_loop  # under vmap: once per example, with these rules

    # -- declaring rules ------------------------------------------------------
    def defvjp(self, rule: Callable) -> Callable:
        """Set the reverse-mode rule ``rule(g, ans, *inputs, **params)``.

        It returns one gradient per positional input (a tuple; a single value
        for a one-input function), each shaped like its input or like the
        output (the engine sums broadcast axes back), or ``None`` for an input
        that gets no gradient. Returns ``rule``, so it can be used as a decorator.
        """
        if not callable(rule):
            raise TypeError(f"anyad.custom_vjp.defvjp: expected a function, got {type(rule).__name__}")
        self.vjp_rule = rule
        self.primitive.vjps = ()
        self.primitive.vjp = functools.partial(_joint_vjp, self)
        return rule

    def defjvp(self, rule: Callable) -> Callable:
        """Set the forward-mode rule ``rule(tangents, ans, *inputs, **params)``.

        ``tangents`` holds one tangent per positional input (``None`` for an
        input without one); the rule returns the output's tangent. Returns
        ``rule``, so it can be used as a decorator.

        Examples
        --------
        >>> import numpy as np
        >>> import anyad as ad
        >>> @ad.custom_vjp
        ... def cube(x):
        ...     return x * x * x
        >>> _ = cube.defvjp(lambda g, ans, x: g * 3.0 * x * x)
        >>> _ = cube.defjvp(lambda ts, ans, x: ts[0] * 3.0 * x * x)
        >>> ad.jvp(cube, (np.array([2.0]),), (np.array([1.0]),))
        (array([8.]), array([12.]))
        """
        if not callable(rule):
            raise TypeError(f"anyad.custom_vjp.defjvp: expected a function, got {type(rule).__name__}")
        self.jvp_rule = rule
        self.primitive.jvp = functools.partial(_call_jvp, self)
        return rule

    # -- running ---------------------------------------------------------------
    def __call__(self, *args: Any, **params: Any) -> Any:
        if self.vjp_rule is None and any(isinstance(a, Variable) and a.requires_grad for a in args):
            raise TypeError(f"anyad.custom_vjp: {self.primitive.name} has no derivative rule yet; "
                            f"give it one with @{self.primitive.name}.defvjp")
        return apply(self.primitive, args, params)

    def _forward(self, xp: Any, *values: Any, **params: Any) -> Any:
        out = self.fun(*values, **params)
        if not (hasattr(out, "shape") and hasattr(out, "dtype")):
            raise TypeError(
                f"anyad.custom_vjp: {self.primitive.name} must return one array of its inputs' library, "
                f"got {type(out).__name__}"
            )
        return out

    def __repr__(self) -> str:
        return f"<anyad custom function {self.primitive.name}>"


def _joint_vjp(cf: custom_vjp, g: Any, needed: tuple, ans: Any, *inputs: Any, **params: Any) -> list:
    """The engine's joint rule: one call of the user's rule per backward pass of the operation."""
    return _run_vjp(cf, g, ans, inputs, params)


def _run_vjp(cf: custom_vjp, g: Any, ans: Any, inputs: tuple, params: dict) -> list:
    name = cf.primitive.name
    res = cf.vjp_rule(g, ans, *inputs, **params)
    n = len(inputs)
    if n == 1 and not isinstance(res, (tuple, list)):
        res = (res,)
    if not isinstance(res, (tuple, list)) or len(res) != n:
        got = f"{len(res)} values" if isinstance(res, (tuple, list)) else type(res).__name__
        raise ValueError(f"anyad.custom_vjp: the rule of {name} must return {n} gradient(s), one per "
                         f"positional input, got {got}")
    building = isinstance(g, Variable)
    oshape = tuple(ans.shape)
    out = []
    for k, (r, x) in enumerate(zip(res, inputs)):
        if r is not None:
            if building and not isinstance(r, Variable):
                raise TypeError(
                    f"anyad.custom_vjp: the rule of {name} returned a raw array for input {k} while a "
                    "derivative graph is being built (a higher-order derivative, or forward mode derived "
                    "from this rule); write the rule with anyad functions (or other custom functions) to "
                    f"differentiate through it, or give forward mode its own rule with {name}.defjvp"
                )
            rshape = tuple(r.shape)
            xshape = tuple(getattr(x, "shape", ()))
            if rshape != xshape and rshape != oshape:
                raise ValueError(f"anyad.custom_vjp: the rule of {name} returned shape {rshape} for "
                                 f"input {k}, which has shape {xshape} (the output has {oshape})")
        out.append(r)
    return out


def _call_jvp(cf: custom_vjp, tangents: Any, ans: Any, *inputs: Any, **params: Any) -> Any:
    t = cf.jvp_rule(tuple(tangents), ans, *inputs, **params)
    building = any(isinstance(x, Variable) for x in (*tangents, *inputs))
    if building and t is not None and not isinstance(t, Variable):
        raise TypeError(
            f"anyad.custom_vjp: the jvp rule of {cf.primitive.name} returned a raw array while a "
            "derivative graph is being built; write it with anyad functions to differentiate through it"
        )
    return t
