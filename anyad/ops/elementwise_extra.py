"""More elementwise functions of the Array API standard: hypot, logaddexp,
copysign, remainder, real, imag, conj (primitives), reciprocal (composed), and
floor_divide, signbit, nextafter and the bitwise functions (not differentiable).

Complex values: the cotangent of a complex array ``z = x + iy`` is
``dL/dx + i dL/dy`` (the convention of PyTorch's ``.grad``). ``real``,
``imag``, ``conj`` and ``abs`` carry gradients between real and complex
arrays with rules written in that convention; every other rule is written as
for real values, and the engine conjugates around it where the cotangent is
complex (``Primitive.holomorphic``), which sets ``Primitive.conjugate`` here.
"""

from __future__ import annotations

import math
from typing import Any

from ..graph import OpType, Primitive
from ..variable import Variable
from ._core import apply, binary_function, unary_function
from .elementwise import function_doc
from ._helpers import is_complex
from .creation import ones_like
from .elementwise import abs as _abs, sgn
from .elementwise import (abs, add, divide, equal, exp, greater_equal, isinf, logical_and, multiply, negative, sign,
                          subtract, where)
from .manipulation import astype

__all__ = [
    "hypot", "logaddexp", "copysign", "remainder", "floor_divide", "reciprocal", "real", "imag",
    "conj", "signbit", "nextafter", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_invert",
    "bitwise_left_shift", "bitwise_right_shift",
]


def _doc(summary: str, example: str, args: str = "x1, x2") -> str:
    return function_doc(summary, example, args)


def _hypot_share(g: Any, ans: Any, a: Any) -> Any:
    # d hypot / d a = a / hypot; at the origin the subgradient 0 (not 0/0)
    if isinstance(a, (int, float)):
        return multiply(g, divide(a, where(equal(ans, 0), 1.0, ans)))
    return multiply(g, divide(a, where(equal(ans, 0), ones_like(ans), ans)))


hypot = binary_function(
    "hypot", OpType.HYPOT, lambda xp, a, b: xp.hypot(a, b),
    lambda g, ans, a, b: _hypot_share(g, ans, a),
    lambda g, ans, a, b: _hypot_share(g, ans, b),
    _doc("``sqrt(x1**2 + x2**2)`` elementwise, without overflow; its gradient at the origin is 0.",
         "    >>> ad.hypot(ad.Variable([3.0]), 4.0)\n    Variable([5.])"),
)

def _logaddexp_share(a: Any, b: Any) -> Any:
    """d logaddexp(a, b) / da = sigmoid(a - b), computed without overflow and
    exactly at ties (0.5, also for huge or infinite equal arguments), rather
    than as exp(a - ans), which rounds to 1 at both arguments of 1e16.

    ``a - b`` itself is kept at finite ties (it is 0 there, and its derivative
    carries the second derivative sigmoid' = 1/4); each branch of the stable
    sigmoid reads only its own sign of ``d``, so no branch overflows."""
    arr = b if isinstance(a, (int, float)) else a  # at ties either one
    inf_tie = logical_and(equal(a, b), isinf(arr))
    d = subtract(where(inf_tie, 0.0, a), where(inf_tie, 0.0, b))  # no inf - inf
    pos = greater_equal(d, 0)
    ep = exp(negative(where(pos, d, 0.0)))  # in (0, 1]
    en = exp(where(pos, 0.0, d))  # in (0, 1]
    return where(pos, divide(1.0, add(ep, 1.0)), divide(en, add(en, 1.0)))


logaddexp = binary_function(
    "logaddexp", OpType.LOGADDEXP, lambda xp, a, b: xp.logaddexp(a, b),
    lambda g, ans, a, b: multiply(g, _logaddexp_share(a, b)),
    lambda g, ans, a, b: multiply(g, _logaddexp_share(b, a)),
    _doc("``log(exp(x1) + exp(x2))`` elementwise, without overflow.",
         "    >>> ad.logaddexp(ad.Variable([0.0]), 0.0)\n    Variable([0.69314718])"),
)


def _copysign_vjp(g: Any, ans: Any, a: Any, b: Any) -> Any:
    # copysign(a, b) = |a| * s(b), s(b) = -1 where b's sign bit is set: d/da = sign(a) * s(b)
    if isinstance(b, (int, float)):
        s = math.copysign(1.0, b)
    else:
        s = subtract(1.0, multiply(astype(signbit(b), g.dtype), 2.0))
    return multiply(g, multiply(sign(a), s))


copysign = binary_function(
    "copysign", OpType.COPYSIGN, lambda xp, a, b: xp.copysign(a, b),
    _copysign_vjp, None,
    _doc("The magnitude of ``x1`` with the sign of ``x2``; differentiable in ``x1``.",
         "    >>> ad.copysign(ad.Variable([2.0, 3.0]), -1.0)\n    Variable([-2. -3.])"),
)

remainder = binary_function(
    "remainder", OpType.REMAINDER, lambda xp, a, b: xp.remainder(a, b),
    lambda g, ans, a, b: g,
    lambda g, ans, a, b: negative(multiply(g, floor_divide(a, b))),
    _doc("``x1 - floor(x1 / x2) * x2`` elementwise (the sign of ``x2``), as Python's ``%``.",
         "    >>> ad.remainder(ad.Variable([5.0, -5.0]), 3.0)\n    Variable([2. 1.])"),
)


def _real_vjp(g: Any, ans: Any, z: Any) -> Any:
    return g if g.dtype == z.dtype else apply(_AS_COMPLEX, (g,), {"dtype": z.dtype})


def _imag_vjp(g: Any, ans: Any, z: Any) -> Any:
    return apply(_I_TIMES, (g,), {"dtype": z.dtype})


# ``i * g`` for a real g, as a complex array: the rule of imag. Its own cotangent
# rule is imag again (multiply's rule, g * b, would need conj(b) for complex b).
_I_TIMES = Primitive("i_times", OpType.I_TIMES, lambda xp, g, dtype: xp.astype(g, dtype) * 1j,
                     (lambda h, ans, g, dtype: imag(h),))
_I_TIMES.jvp = lambda ts, ans, g, dtype: apply(_I_TIMES, (ts[0],), {"dtype": dtype})

# ``g + 0i`` for a real g: the rule of real; its own rule takes the real part back
_AS_COMPLEX = Primitive("as_complex", OpType.AS_COMPLEX, lambda xp, g, dtype: xp.astype(g, dtype),
                        (lambda h, ans, g, dtype: real(h),))
_AS_COMPLEX.jvp = lambda ts, ans, g, dtype: apply(_AS_COMPLEX, (ts[0],), {"dtype": dtype})


def as_complex(x: Any) -> Any:
    """A real floating ``x`` as the complex dtype of its precision (``x`` itself
    when complex); differentiable, the gradient is the real part of the cotangent.

    Examples
    --------
    >>> import anyad as ad
    >>> from anyad.ops.elementwise_extra import as_complex
    >>> as_complex(ad.Variable([1.0])).dtype
    dtype('complex128')
    """
    from .._backend import namespace_of

    r = x.value if isinstance(x, Variable) else x
    xp = namespace_of(r)
    if xp.isdtype(r.dtype, "complex floating"):
        return x
    return apply(_AS_COMPLEX, (x,), {"dtype": xp.result_type(r.dtype, xp.complex64)})


real = unary_function(
    "real", OpType.REAL, lambda xp, x: xp.real(x), _real_vjp,
    _doc("The real part of ``x`` (``x`` itself for a real array).",
         "    >>> ad.real(ad.Variable([1.0, 2.0]))\n    Variable([1. 2.])", "x"),
)

imag = unary_function(
    "imag", OpType.IMAG, lambda xp, x: xp.imag(x), _imag_vjp,
    _doc("The imaginary part of a complex ``x``.",
         "    >>> import numpy as np\n"
         "    >>> ad.imag(ad.Variable(np.array([1.0 + 2.0j])))\n    Variable([2.])",
         "x"),
)

conj = unary_function(
    "conj", OpType.CONJ, lambda xp, x: xp.conj(x), lambda g, ans, z: conj(g),
    _doc("The complex conjugate of ``x`` (``x`` itself for a real array).",
         "    >>> import numpy as np\n    >>> ad.conj(ad.Variable(np.array([1.0 + 2.0j])))\n"
         "    Variable([1.-2.j])", "x"),
)


def reciprocal(x: Any, /) -> Any:
    """``1 / x`` elementwise (composed from :func:`anyad.divide`).

    Parameters
    ----------
    x : Variable or array
        Floating-point input.

    Returns
    -------
    Variable or array
        ``1 / x``, with the dtype of ``x``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.reciprocal(ad.Variable([2.0, 4.0]))
    Variable([0.5  0.25])
    """
    return divide(1.0, x)


def _nondiff(name: str, summary: str, example: str, arity: int = 2) -> Any:
    doc = _doc(summary + " Not differentiable: the result is never recorded.", example,
               "x1, x2" if arity == 2 else "x")
    fwd = (lambda xp, a, b: getattr(xp, name)(a, b)) if arity == 2 else (lambda xp, x: getattr(xp, name)(x))
    if arity == 1:
        return unary_function(name, OpType.NOOP, fwd, None, doc)
    return binary_function(name, OpType.NOOP, fwd, None, None, doc, differentiable=False)


floor_divide = _nondiff(
    "floor_divide", "``floor(x1 / x2)`` elementwise, as Python's ``//`` (piecewise constant).",
    "    >>> ad.floor_divide(ad.Variable([7.0, -7.0]), 2.0)\n    Variable([ 3. -4.])")
signbit = _nondiff(
    "signbit", "Whether the sign bit of ``x`` is set (True for -0.0).",
    "    >>> ad.signbit(ad.Variable([-0.0, 1.0]))\n    Variable([ True False])", 1)
nextafter = _nondiff(
    "nextafter", "The next representable value after ``x1`` towards ``x2``.",
    "    >>> ad.nextafter(ad.Variable([1.0]), 2.0).value > 1.0\n    array([ True])")
bitwise_and = _nondiff(
    "bitwise_and", "Bitwise (for booleans: logical) and.",
    "    >>> ad.bitwise_and(ad.Variable([12]), 10)\n    Variable([8])")
bitwise_or = _nondiff(
    "bitwise_or", "Bitwise (for booleans: logical) or.",
    "    >>> ad.bitwise_or(ad.Variable([12]), 10)\n    Variable([14])")
bitwise_xor = _nondiff(
    "bitwise_xor", "Bitwise (for booleans: logical) exclusive or.",
    "    >>> ad.bitwise_xor(ad.Variable([12]), 10)\n    Variable([6])")
bitwise_left_shift = _nondiff(
    "bitwise_left_shift", "Shift the bits of ``x1`` left by ``x2``.",
    "    >>> ad.bitwise_left_shift(ad.Variable([1]), 3)\n    Variable([8])")
bitwise_right_shift = _nondiff(
    "bitwise_right_shift", "Shift the bits of ``x1`` right by ``x2``.",
    "    >>> ad.bitwise_right_shift(ad.Variable([8]), 3)\n    Variable([1])")
bitwise_invert = _nondiff(
    "bitwise_invert", "Bitwise (for booleans: logical) inversion.",
    "    >>> ad.bitwise_invert(ad.Variable([True, False]))\n    Variable([False  True])", 1)


# forward mode: real, imag and conj are real-linear, so their tangent rule is the
# function itself (a rule derived by transposing the VJP would not be, for complex values)
real.primitive.jvp = lambda ts, ans, z: real(ts[0])
imag.primitive.jvp = lambda ts, ans, z: imag(ts[0])
conj.primitive.jvp = lambda ts, ans, z: conj(ts[0])


# Rules already in PyTorch's convention for complex values (the engine applies them
# as they are); every other rule is written as for real values (see Primitive.holomorphic).
for _prim in (real.primitive, imag.primitive, conj.primitive, _I_TIMES, _AS_COMPLEX):
    _prim.holomorphic = False
del _prim
Primitive.conjugate = staticmethod(conj)  # what the engine conjugates complex cotangents with


def _abs_jvp(ts: Any, ans: Any, x: Any) -> Any:
    # |z| is not holomorphic: its tangent is Re(conj(sgn z) t), which is t sign(x) for a real x
    t = ts[0]
    if is_complex(x):
        return real(multiply(conj(sgn(x)), t))
    return multiply(t, sign(x))


_abs.primitive.jvp = _abs_jvp
_abs.primitive.rules_changed()
