"""Elementwise primitives: each forward kernel beside its VJP rules.

Rules have the signature ``rule(g, ans, *inputs)`` and are written with anyad's
own functions, so they run on raw arrays in a plain backward pass and record
when a derivative graph is built (``create_graph=True``). The hottest ones also
have raw-array forms (``Primitive.raw_vjps``, at the end of this module) that a
plain backward pass calls instead: the same operations with Python's operators.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..graph import OpType, Primitive
from ._core import apply, binary_function, unary_function
from ._helpers import is_complex, one_minus, scaled
from .creation import zeros_like

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def function_doc(summary: str, example: str, args: str = "x") -> str:
    """The docstring of an elementwise function: parameters, returns, example."""
    params = "\n".join(f"    {a} : Variable, array or Python scalar" for a in args.split(", "))
    return f"""{summary}

    Parameters
    ----------
{params}

    Returns
    -------
    Variable or array
        A Variable when an input is one (recorded when recording is on),
        otherwise an array of the inputs' namespace.

    Examples
    --------
    >>> import anyad as ad
{example}
    """


def _unary(name: str, op_type: OpType, fwd, vjp, summary: str, example: str):
    return unary_function(name, op_type, fwd, vjp, function_doc(summary, example))


def _binary(name: str, op_type: OpType, fwd, vjp1, vjp2, summary: str, example: str):
    return binary_function(name, op_type, fwd, vjp1, vjp2, function_doc(summary, example, "x1, x2"))


def _predicate(name: str, fwd, summary: str, arity: int = 2):
    """A non-differentiable elementwise function (comparisons, logic, tests)."""
    doc = f"""{summary} Not differentiable: the result is never recorded.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.{name}({'ad.Variable([1.0, 2.0]), 1.5' if arity == 2 else 'ad.Variable([1.0, 2.0])'}).value.dtype
    dtype('bool')
    """
    if arity == 1:
        return unary_function(name, OpType.NOOP, fwd, None, doc)
    return binary_function(name, OpType.NOOP, fwd, None, None, doc, differentiable=False)


# ---------------------------------------------------------------------------
# arithmetic
# ---------------------------------------------------------------------------

add = _binary(
    "add", OpType.ADD, lambda xp, a, b: a + b,
    lambda g, ans, a, b: g,
    lambda g, ans, a, b: g,
    "Elementwise sum ``x1 + x2``, with broadcasting.",
    "    >>> ad.add(ad.Variable([1.0, 2.0]), 3.0)\n    Variable([4. 5.])",
)

subtract = _binary(
    "subtract", OpType.SUB, lambda xp, a, b: a - b,
    lambda g, ans, a, b: g,
    lambda g, ans, a, b: negative(g),
    "Elementwise difference ``x1 - x2``, with broadcasting.",
    "    >>> ad.subtract(ad.Variable([1.0, 2.0]), 3.0)\n    Variable([-2. -1.])",
)

multiply = _binary(
    "multiply", OpType.MUL, lambda xp, a, b: a * b,
    lambda g, ans, a, b: multiply(g, b),
    lambda g, ans, a, b: multiply(g, a),
    "Elementwise product ``x1 * x2``, with broadcasting.",
    "    >>> ad.multiply(ad.Variable([1.0, 2.0]), 3.0)\n    Variable([3. 6.])",
)

divide = _binary(
    "divide", OpType.DIV, lambda xp, a, b: a / b,
    lambda g, ans, a, b: divide(g, b),
    lambda g, ans, a, b: negative(divide(multiply(g, ans), b)),
    "Elementwise true division ``x1 / x2``, with broadcasting.",
    "    >>> ad.divide(ad.Variable([1.0, 2.0]), 4.0)\n    Variable([0.25 0.5 ])",
)


def _pow_vjp_base(g: Any, ans: Any, a: Any, b: Any) -> Any:
    if isinstance(b, (int, float)):
        if b == 0:
            return multiply(g, 0.0)
        return multiply(g, multiply(pow(a, b - 1), b))
    # b a^(b-1); at a == b == 0 the derivative is 0 (not 0 * inf): the base is
    # replaced there by 1, and nowhere else, so that d/db (b a^(b-1)) = a^(b-1) + ...
    # stays right at b == 0 (1/a; the exponent must not be frozen there)
    both_zero = logical_and(equal(a, 0), equal(b, 0))
    return multiply(g, multiply(b, pow(where(both_zero, 1.0, a), subtract(b, 1))))


def _pow_vjp_exponent(g: Any, ans: Any, a: Any, b: Any) -> Any:
    # a ** b * log(a); where a == 0 the product is 0 (b > 0), not nan
    if isinstance(a, (int, float)):
        return multiply(g, multiply(ans, math.log(a) if a > 0 else math.nan))
    safe = where(equal(a, 0), 1.0, a)
    return multiply(g, multiply(ans, log(safe)))


pow = _binary(
    "pow", OpType.POWER, lambda xp, a, b: a ** b,
    _pow_vjp_base, _pow_vjp_exponent,
    "Elementwise power ``x1 ** x2``; both the base and the exponent are differentiable.",
    "    >>> x = ad.Variable([2.0, 5.0], requires_grad=True)\n"
    "    >>> (x ** 3).sum().backward()\n    >>> x.grad\n    array([12., 75.])",
)

negative = _unary(
    "negative", OpType.NEGATIVE, lambda xp, x: -x, lambda g, ans, x: negative(g),
    "Elementwise ``-x``.", "    >>> ad.negative(ad.Variable([1.0, -2.0]))\n    Variable([-1.  2.])",
)

positive = _unary(
    "positive", OpType.POSITIVE, lambda xp, x: +x, lambda g, ans, x: g,
    "Elementwise ``+x``.", "    >>> ad.positive(ad.Variable([1.0, -2.0]))\n    Variable([ 1. -2.])",
)

abs = _unary(
    "abs", OpType.ABS, lambda xp, x: xp.abs(x), lambda g, ans, x: multiply(g, sgn(x)),
    "Elementwise absolute value; its derivative at 0 is taken as 0.",
    "    >>> ad.abs(ad.Variable([1.0, -2.0]))\n    Variable([1. 2.])",
)

square = _unary(
    "square", OpType.SQUARE, lambda xp, x: x * x, lambda g, ans, x: multiply(g, multiply(x, 2.0)),
    "Elementwise ``x * x``.", "    >>> ad.square(ad.Variable([3.0]))\n    Variable([9.])",
)

sqrt = _unary(
    "sqrt", OpType.SQRT, lambda xp, x: xp.sqrt(x), lambda g, ans, x: divide(g, multiply(ans, 2.0)),
    "Elementwise square root.", "    >>> ad.sqrt(ad.Variable([4.0]))\n    Variable([2.])",
)

# ---------------------------------------------------------------------------
# exponentials and logarithms
# ---------------------------------------------------------------------------

exp = _unary(
    "exp", OpType.EXP, lambda xp, x: xp.exp(x), lambda g, ans, x: multiply(g, ans),
    "Elementwise exponential.", "    >>> ad.exp(ad.Variable([0.0]))\n    Variable([1.])",
)

expm1 = _unary(
    "expm1", OpType.EXPM1, lambda xp, x: xp.expm1(x), lambda g, ans, x: multiply(g, add(ans, 1.0)),
    "Elementwise ``exp(x) - 1``, accurate near 0.",
    "    >>> ad.expm1(ad.Variable([0.0]))\n    Variable([0.])",
)

log = _unary(
    "log", OpType.LOG, lambda xp, x: xp.log(x), lambda g, ans, x: divide(g, x),
    "Elementwise natural logarithm.", "    >>> ad.log(ad.Variable([1.0]))\n    Variable([0.])",
)

log1p = _unary(
    "log1p", OpType.LOG1P, lambda xp, x: xp.log1p(x), lambda g, ans, x: divide(g, add(x, 1.0)),
    "Elementwise ``log(1 + x)``, accurate near 0.",
    "    >>> ad.log1p(ad.Variable([0.0]))\n    Variable([0.])",
)

log2 = _unary(
    "log2", OpType.LOG2, lambda xp, x: xp.log2(x), lambda g, ans, x: divide(g, multiply(x, _LN2)),
    "Elementwise base-2 logarithm.", "    >>> ad.log2(ad.Variable([8.0]))\n    Variable([3.])",
)

log10 = _unary(
    "log10", OpType.LOG10, lambda xp, x: xp.log10(x), lambda g, ans, x: divide(g, multiply(x, _LN10)),
    "Elementwise base-10 logarithm.", "    >>> ad.log10(ad.Variable([100.0]))\n    Variable([2.])",
)

# ---------------------------------------------------------------------------
# trigonometric and hyperbolic
# ---------------------------------------------------------------------------

sin = _unary(
    "sin", OpType.SIN, lambda xp, x: xp.sin(x), lambda g, ans, x: multiply(g, cos(x)),
    "Elementwise sine.",
    "    >>> x = ad.Variable([0.0], requires_grad=True)\n"
    "    >>> ad.sin(x).backward()\n    >>> x.grad\n    array([1.])",
)

cos = _unary(
    "cos", OpType.COS, lambda xp, x: xp.cos(x), lambda g, ans, x: negative(multiply(g, sin(x))),
    "Elementwise cosine.", "    >>> ad.cos(ad.Variable([0.0]))\n    Variable([1.])",
)

tan = _unary(
    "tan", OpType.TAN, lambda xp, x: xp.tan(x),
    lambda g, ans, x: multiply(g, add(multiply(ans, ans), 1.0)),
    "Elementwise tangent.", "    >>> ad.tan(ad.Variable([0.0]))\n    Variable([0.])",
)

asin = _unary(
    "asin", OpType.ASIN, lambda xp, x: xp.asin(x),
    lambda g, ans, x: divide(g, sqrt(subtract(1.0, multiply(x, x)))),
    "Elementwise inverse sine.", "    >>> ad.asin(ad.Variable([0.0]))\n    Variable([0.])",
)

acos = _unary(
    "acos", OpType.ACOS, lambda xp, x: xp.acos(x),
    lambda g, ans, x: negative(divide(g, sqrt(subtract(1.0, multiply(x, x))))),
    "Elementwise inverse cosine.", "    >>> ad.acos(ad.Variable([1.0]))\n    Variable([0.])",
)

atan = _unary(
    "atan", OpType.ATAN, lambda xp, x: xp.atan(x),
    lambda g, ans, x: divide(g, add(multiply(x, x), 1.0)),
    "Elementwise inverse tangent.", "    >>> ad.atan(ad.Variable([0.0]))\n    Variable([0.])",
)

atan2 = _binary(
    "atan2", OpType.ATAN2, lambda xp, a, b: xp.atan2(a, b),
    lambda g, ans, a, b: divide(multiply(g, b), add(multiply(a, a), multiply(b, b))),
    lambda g, ans, a, b: negative(divide(multiply(g, a), add(multiply(a, a), multiply(b, b)))),
    "Elementwise angle of the point ``(x2, x1)``: ``atan(x1 / x2)`` in the right quadrant.",
    "    >>> ad.atan2(ad.Variable([0.0]), 1.0)\n    Variable([0.])",
)

sinh = _unary(
    "sinh", OpType.SINH, lambda xp, x: xp.sinh(x), lambda g, ans, x: multiply(g, cosh(x)),
    "Elementwise hyperbolic sine.", "    >>> ad.sinh(ad.Variable([0.0]))\n    Variable([0.])",
)

cosh = _unary(
    "cosh", OpType.COSH, lambda xp, x: xp.cosh(x), lambda g, ans, x: multiply(g, sinh(x)),
    "Elementwise hyperbolic cosine.", "    >>> ad.cosh(ad.Variable([0.0]))\n    Variable([1.])",
)

tanh = _unary(
    "tanh", OpType.TANH, lambda xp, x: xp.tanh(x),
    lambda g, ans, x: scaled(one_minus(multiply(ans, ans)), g),  # no temporary beyond the result
    "Elementwise hyperbolic tangent.", "    >>> ad.tanh(ad.Variable([0.0]))\n    Variable([0.])",
)

asinh = _unary(
    "asinh", OpType.ASINH, lambda xp, x: xp.asinh(x),
    lambda g, ans, x: divide(g, sqrt(add(multiply(x, x), 1.0))),
    "Elementwise inverse hyperbolic sine.", "    >>> ad.asinh(ad.Variable([0.0]))\n    Variable([0.])",
)

acosh = _unary(
    "acosh", OpType.ACOSH, lambda xp, x: xp.acosh(x),
    # sqrt(x - 1) sqrt(x + 1), not sqrt(x^2 - 1): the same for real x >= 1 (without overflow
    # at large x), and the principal branch's derivative for complex x with a negative real part
    lambda g, ans, x: divide(g, multiply(sqrt(subtract(x, 1.0)), sqrt(add(x, 1.0)))),
    "Elementwise inverse hyperbolic cosine.", "    >>> ad.acosh(ad.Variable([1.0]))\n    Variable([0.])",
)

atanh = _unary(
    "atanh", OpType.ATANH, lambda xp, x: xp.atanh(x),
    lambda g, ans, x: divide(g, subtract(1.0, multiply(x, x))),
    "Elementwise inverse hyperbolic tangent.", "    >>> ad.atanh(ad.Variable([0.0]))\n    Variable([0.])",
)

# ---------------------------------------------------------------------------
# piecewise: maximum, minimum, clip, where, and zero-gradient rounding
# ---------------------------------------------------------------------------


def _share(g: Any, a: Any, b: Any, wins: Any) -> Any:
    """g where ``wins(a, b)``, half of g on ties, 0 elsewhere."""
    dt = g.dtype
    w = add(astype(wins(a, b), dt), multiply(astype(equal(a, b), dt), 0.5))
    return multiply(g, w)


maximum = _binary(
    "maximum", OpType.MAXIMUM, lambda xp, a, b: xp.maximum(a, b),
    lambda g, ans, a, b: _share(g, a, b, greater),
    lambda g, ans, a, b: _share(g, b, a, greater),
    "Elementwise maximum; on ties the gradient is shared equally.",
    "    >>> ad.maximum(ad.Variable([1.0, 4.0]), 2.0)\n    Variable([2. 4.])",
)

minimum = _binary(
    "minimum", OpType.MINIMUM, lambda xp, a, b: xp.minimum(a, b),
    lambda g, ans, a, b: _share(g, a, b, less),
    lambda g, ans, a, b: _share(g, b, a, less),
    "Elementwise minimum; on ties the gradient is shared equally.",
    "    >>> ad.minimum(ad.Variable([1.0, 4.0]), 2.0)\n    Variable([1. 2.])",
)


def _where_true(g: Any, ans: Any, c: Any, a: Any, b: Any) -> Any:
    return where(c, g, 0.0)  # a Python 0: no array of zeros to allocate


def _where_false(g: Any, ans: Any, c: Any, a: Any, b: Any) -> Any:
    return where(c, 0.0, g)


_WHERE = Primitive("where", OpType.WHERE, lambda xp, c, a, b: xp.where(c, a, b),
                   (None, _where_true, _where_false), broadcasts=True)


def where(condition: Any, x1: Any, x2: Any, /) -> Any:
    """Elements of ``x1`` where ``condition`` holds, else of ``x2`` (broadcasting).

    The gradient flows to ``x1`` where the condition holds and to ``x2``
    elsewhere; the condition (a boolean array or Variable) is not differentiable.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([-1.0, 2.0])
    >>> ad.where(x > 0, x, 0.0)
    Variable([0. 2.])
    """
    return apply(_WHERE, (condition, x1, x2))


def _clip_vjp(g: Any, ans: Any, x: Any, *, min: Any = None, max: Any = None) -> Any:
    inside = None
    if min is not None:
        inside = greater_equal(x, min)
    if max is not None:
        upper = less_equal(x, max)
        inside = upper if inside is None else logical_and(inside, upper)
    return where(inside, g, 0.0)


_CLIP = Primitive("clip", OpType.CLIP, lambda xp, x, min=None, max=None: xp.clip(x, min=min, max=max),
                  (_clip_vjp,))


def clip(x: Any, /, min: Any = None, max: Any = None) -> Any:
    """Clamp ``x`` to ``[min, max]``; the gradient is 1 inside, 0 outside.

    Bounds that are Variables are differentiable too (the clip is then composed
    from :func:`where`): a bound gets the gradient where it is the output. At
    ``x == min`` or ``x == max`` the gradient goes to ``x``, whatever the bounds
    are; where ``min > max`` the output is ``max`` (as in numpy and torch).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.clip(ad.Variable([-2.0, 0.5, 3.0]), min=-1.0, max=1.0)
    Variable([-1.   0.5  1. ])
    """
    from ..variable import Variable

    if isinstance(min, Variable) or isinstance(max, Variable):
        # not maximum/minimum: those share the gradient at ties, a clip passes it to x
        out = x if min is None else where(less(x, min), min, x)
        return out if max is None else where(greater(out, max), max, out)
    return apply(_CLIP, (x,), {"min": min, "max": max})


def _zero_grad(g: Any, ans: Any, x: Any) -> Any:
    return zeros_like(g)


def _sign_vjp(g: Any, ans: Any, x: Any) -> Any:
    # real: piecewise constant, 0. complex: sign(z) = z / |z|, whose gradient (PyTorch's
    # convention, as torch.sgn) is (g - Re(g conj(w)) w) / |z|, and 0 at 0
    if not is_complex(x):
        return zeros_like(g)
    from .elementwise_extra import conj, real

    magnitude = abs(x)
    zero = equal(magnitude, 0.0)
    return where(zero, 0.0, divide(subtract(g, multiply(real(multiply(g, conj(ans))), ans)),
                                   where(zero, 1.0, magnitude)))


sign = _unary("sign", OpType.SIGN, lambda xp, x: xp.sign(x), _sign_vjp,
              "Elementwise sign (-1, 0 or 1); its gradient is 0. For a complex ``z``, ``z / |z|``\n"
              "    (differentiable, as ``torch.sgn``).",
              "    >>> ad.sign(ad.Variable([-2.0, 0.0, 3.0]))\n    Variable([-1.  0.  1.])")
floor = _unary("floor", OpType.FLOOR, lambda xp, x: xp.floor(x), _zero_grad,
               "Elementwise floor; its gradient is 0.",
               "    >>> ad.floor(ad.Variable([1.5]))\n    Variable([1.])")
ceil = _unary("ceil", OpType.CEIL, lambda xp, x: xp.ceil(x), _zero_grad,
              "Elementwise ceiling; its gradient is 0.",
              "    >>> ad.ceil(ad.Variable([1.5]))\n    Variable([2.])")
round = _unary("round", OpType.ROUND, lambda xp, x: xp.round(x), _zero_grad,
               "Elementwise rounding to the nearest integer (half to even); its gradient is 0.",
               "    >>> ad.round(ad.Variable([1.4]))\n    Variable([1.])")
trunc = _unary("trunc", OpType.TRUNC, lambda xp, x: xp.trunc(x), _zero_grad,
               "Elementwise truncation towards 0; its gradient is 0.",
               "    >>> ad.trunc(ad.Variable([-1.5]))\n    Variable([-1.])")

# ---------------------------------------------------------------------------
# comparisons and logic (never recorded)
# ---------------------------------------------------------------------------

equal = _predicate("equal", lambda xp, a, b: a == b, "Elementwise ``x1 == x2``.")
not_equal = _predicate("not_equal", lambda xp, a, b: a != b, "Elementwise ``x1 != x2``.")
less = _predicate("less", lambda xp, a, b: a < b, "Elementwise ``x1 < x2``.")
less_equal = _predicate("less_equal", lambda xp, a, b: a <= b, "Elementwise ``x1 <= x2``.")
greater = _predicate("greater", lambda xp, a, b: a > b, "Elementwise ``x1 > x2``.")
greater_equal = _predicate("greater_equal", lambda xp, a, b: a >= b, "Elementwise ``x1 >= x2``.")
logical_and = _predicate("logical_and", lambda xp, a, b: xp.logical_and(a, b), "Elementwise logical and.")
logical_or = _predicate("logical_or", lambda xp, a, b: xp.logical_or(a, b), "Elementwise logical or.")
logical_xor = _predicate("logical_xor", lambda xp, a, b: xp.logical_xor(a, b), "Elementwise logical exclusive or.")
logical_not = _predicate("logical_not", lambda xp, x: xp.logical_not(x), "Elementwise logical not.", arity=1)
isnan = _predicate("isnan", lambda xp, x: xp.isnan(x), "Elementwise test for NaN.", arity=1)
isinf = _predicate("isinf", lambda xp, x: xp.isinf(x), "Elementwise test for infinity.", arity=1)
isfinite = _predicate("isfinite", lambda xp, x: xp.isfinite(x), "Elementwise test for finiteness.", arity=1)

# ---------------------------------------------------------------------------
# forward mode of the elementwise primitives
# ---------------------------------------------------------------------------


def sgn(x: Any) -> Any:
    """``sign(x)`` for a real ``x`` (the derivative of ``abs``, 0 at 0); for a
    complex ``z``, ``z / |z|`` (0 at 0), differentiable, as the second derivative
    of ``|z|`` needs (``sign`` itself has no derivative)."""
    if is_complex(x):
        magnitude = abs(x)
        return divide(x, where(equal(magnitude, 0.0), 1.0, magnitude))
    return sign(x)


def diagonal_jvp(prim: Any) -> Any:
    """The JVP rule of an elementwise primitive, from its VJP rules.

    An elementwise operation has a diagonal Jacobian per input, which is its
    own transpose, so each VJP rule applied to a tangent (instead of a
    cotangent) is that input's contribution to the output tangent. Broadcast
    tangents are handled by the rules' own broadcasting (and the sweep
    broadcasts a tangent to the output shape when a rule returns it smaller).
    """
    vjps = prim.vjps
    if len(vjps) == 1:  # the common case, without the loop
        (rule0,) = vjps

        def jvp(tangents: Sequence[Any], ans: Any, x: Any, **params: Any) -> Any:
            return rule0(tangents[0], ans, x, **params) if params else rule0(tangents[0], ans, x)

    elif len(vjps) == 2:
        rule0, rule1 = vjps

        def jvp(tangents: Sequence[Any], ans: Any, a: Any, b: Any, **params: Any) -> Any:
            t0, t1 = tangents
            if t1 is None or rule1 is None:
                return rule0(t0, ans, a, b, **params)
            d1 = rule1(t1, ans, a, b, **params)
            if t0 is None or rule0 is None:
                return d1
            return add(rule0(t0, ans, a, b, **params), d1)

    else:

        def jvp(tangents: Sequence[Any], ans: Any, *inputs: Any, **params: Any) -> Any:
            out = None
            for rule, t in zip(vjps, tangents):
                if t is None or rule is None:
                    continue
                d = rule(t, ans, *inputs, **params) if params else rule(t, ans, *inputs)
                out = d if out is None else add(out, d)
            return out

    jvp.__name__ = f"{prim.name}_jvp"
    jvp.reads_like_vjps = True  # what it reads is what the VJP rules read (anyad._saves)
    return jvp



# ---------------------------------------------------------------------------
# forward mode: an elementwise primitive's Jacobian is diagonal (its own
# transpose), so its JVP rule is its VJP rules applied to the tangents
# ---------------------------------------------------------------------------


for _p in (add.primitive, subtract.primitive, multiply.primitive, divide.primitive, pow.primitive,
           negative.primitive, positive.primitive, abs.primitive, square.primitive, sqrt.primitive,
           exp.primitive, expm1.primitive, log.primitive, log1p.primitive, log2.primitive,
           log10.primitive, sin.primitive, cos.primitive, tan.primitive, asin.primitive,
           acos.primitive, atan.primitive, atan2.primitive, sinh.primitive, cosh.primitive,
           tanh.primitive, asinh.primitive, acosh.primitive, atanh.primitive, maximum.primitive,
           minimum.primitive, _WHERE, _CLIP, sign.primitive, floor.primitive, ceil.primitive,
           round.primitive, trunc.primitive):
    _p.jvp = diagonal_jvp(_p)
del _p
sign.primitive.holomorphic = False  # its complex rule is written in PyTorch's convention


def astype(*args, **kwargs):
    """:func:`anyad.astype` (the manipulation family's, which imports this one: found when first called)."""
    from .manipulation import astype as function

    return function(*args, **kwargs)


# ---------------------------------------------------------------------------
# raw-array forms of the hottest rules (Primitive.raw_vjps)
# ---------------------------------------------------------------------------
# A plain backward pass calls these on raw arrays of one library, where an
# operator is exactly the primitive's forward (``multiply``'s is ``a * b``):
# the same kernels as ``vjps`` in the same order, without the dispatch of an
# anyad function call (about 0.25 us each, a third of a small op's backward).
# tests/test_raw_rules.py checks each against its ``vjps`` bit for bit.

def _raw(function: Any, *rules: Any) -> None:
    prim = function.primitive
    prim.raw_vjps = (prim.vjps, rules)  # used only while prim.vjps is still this tuple


_raw(add, lambda g, ans, a, b: g, lambda g, ans, a, b: g)
_raw(subtract, lambda g, ans, a, b: g, lambda g, ans, a, b: -g)
_raw(multiply, lambda g, ans, a, b: g * b, lambda g, ans, a, b: g * a)
_raw(divide, lambda g, ans, a, b: g / b, lambda g, ans, a, b: -(g * ans / b))
_raw(negative, lambda g, ans, x: -g)
_raw(sqrt, lambda g, ans, x: g / (ans * 2.0))
_raw(exp, lambda g, ans, x: g * ans)
_raw(log, lambda g, ans, x: g / x)
_raw(sin, lambda g, ans, x: g * cos(x))
_raw(cos, lambda g, ans, x: -(g * sin(x)))
