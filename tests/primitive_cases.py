"""The table of primitive cases shared by the gradient tests.

Each case is a function of Variables or arrays plus generators of numpy inputs
(inside the function's smooth domain, away from kinks and ties), with shapes
that exercise broadcasting where the primitive broadcasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import anyad as ad


def real(lo=-1.5, hi=1.5):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape)


def away_from_int(rng, shape):
    return rng.integers(-3, 3, size=shape) + rng.uniform(0.2, 0.8, size=shape)


def distinct(rng, shape):
    """Values at least 0.1 apart (no ties for max/min/sort-like rules)."""
    n = int(np.prod(shape))
    return rng.permutation(np.arange(n) * 0.37 - n * 0.15).reshape(shape)


def shifted(rng, shape):
    """Like :func:`distinct`, offset so that it never ties with it."""
    return distinct(rng, shape) + 0.05


def nonzero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)


@dataclass
class Case:
    name: str
    f: Callable
    gens: tuple
    shapes: tuple
    second_order: bool = True

    @property
    def id(self) -> str:
        return self.name

    def inputs(self, be, dtype="float64", seed=0):
        rng = np.random.default_rng(seed)
        return [be.array(g(rng, s), dtype) for g, s in zip(self.gens, self.shapes)]


def unary(name, f, gen=real(), shape=(2, 3), **kw):
    return Case(name, f, (gen,), (shape,), **kw)


def binary(name, f, g1=real(), g2=real(), s1=(2, 3), s2=(3,), **kw):
    return Case(name, f, (g1, g2), (s1, s2), **kw)


CASES = [
    # elementwise, one argument
    unary("negative", ad.negative),
    unary("positive", ad.positive),
    unary("abs", ad.abs, nonzero),
    unary("square", ad.square),
    unary("sqrt", ad.sqrt, real(0.3, 2.0)),
    unary("exp", ad.exp),
    unary("expm1", ad.expm1),
    unary("log", ad.log, real(0.3, 2.0)),
    unary("log1p", ad.log1p, real(-0.5, 2.0)),
    unary("log2", ad.log2, real(0.3, 2.0)),
    unary("log10", ad.log10, real(0.3, 2.0)),
    unary("sin", ad.sin),
    unary("cos", ad.cos),
    unary("tan", ad.tan, real(-1.0, 1.0)),
    unary("asin", ad.asin, real(-0.8, 0.8)),
    unary("acos", ad.acos, real(-0.8, 0.8)),
    unary("atan", ad.atan),
    unary("sinh", ad.sinh),
    unary("cosh", ad.cosh),
    unary("tanh", ad.tanh),
    unary("asinh", ad.asinh),
    unary("acosh", ad.acosh, real(1.2, 3.0)),
    unary("atanh", ad.atanh, real(-0.8, 0.8)),
    unary("sign", ad.sign, nonzero),
    unary("floor", ad.floor, away_from_int),
    unary("ceil", ad.ceil, away_from_int),
    unary("round", lambda x: ad.round(x) * x, away_from_int),
    unary("trunc", ad.trunc, away_from_int),
    # elementwise, two arguments (broadcasting (2, 3) with (3,))
    binary("add", ad.add),
    binary("subtract", ad.subtract),
    binary("multiply", ad.multiply),
    binary("divide", ad.divide, real(), nonzero),
    binary("pow", ad.pow, real(0.5, 2.0), real(-1.5, 1.5)),
    binary("atan2", ad.atan2, nonzero, nonzero),
    binary("maximum", ad.maximum, distinct, shifted, (2, 3), (2, 3)),
    binary("minimum", ad.minimum, distinct, shifted, (2, 3), (2, 3)),
    binary("add_broadcast_both", ad.add, real(), real(), (3, 1), (1, 4)),
    binary("operators", lambda a, b: (a * b - a / (b * b + 1.0)) ** 2 + 2.0 ** a - 1.5 * b, real(), real()),
    unary("pow_scalar_exponent", lambda x: x ** 3, real(0.5, 2.0)),
    unary("pow_scalar_base", lambda x: 2.0 ** x),
    Case("where", lambda a, b: ad.where(a > 0, a, b), (nonzero, real()), ((2, 3), (3,))),
    unary("clip", lambda x: ad.clip(x, min=-0.5, max=0.5), distinct, (2, 3)),
    binary("clip_variable_bounds", lambda x, lo: ad.clip(x, min=lo, max=2.0), distinct,
           lambda r, s: np.full(s, 0.01), (2, 3), (3,)),
    # reductions
    unary("sum", lambda x: ad.sum(x), shape=(2, 3)),
    unary("sum_axis", lambda x: ad.sum(x, axis=1), shape=(2, 3, 2)),
    unary("sum_axes_keepdims", lambda x: ad.sum(x, axis=(0, 2), keepdims=True), shape=(2, 3, 2)),
    unary("mean", lambda x: ad.mean(x, axis=-1), shape=(2, 3)),
    unary("prod", lambda x: ad.prod(x, axis=0), nonzero, (3, 2)),
    unary("max", lambda x: ad.max(x, axis=1), distinct, (2, 3)),
    unary("min", lambda x: ad.min(x), distinct, (2, 3)),
    unary("var", lambda x: ad.var(x, axis=0, correction=1), shape=(4, 2)),
    unary("std", lambda x: ad.std(x), shape=(2, 3)),
    unary("cumulative_sum", lambda x: ad.cumulative_sum(x, axis=1), shape=(2, 3)),
    unary("cumulative_sum_initial", lambda x: ad.cumulative_sum(x, axis=0, include_initial=True), shape=(3, 2)),
    unary("logsumexp", lambda x: ad.logsumexp(x, axis=1), shape=(2, 3)),
    unary("logsumexp_all", lambda x: ad.logsumexp(x), shape=(2, 3)),
    unary("logsumexp_keepdims", lambda x: ad.logsumexp(x, axis=(0, 2), keepdims=True), shape=(2, 3, 2)),
    unary("softmax", lambda x: ad.nn.functional.softmax(x, axis=1), shape=(2, 3)),
    unary("softmax_axes", lambda x: ad.nn.functional.softmax(x, axis=(0, 2)), shape=(2, 3, 2)),
    # linear algebra
    binary("matmul_2d", ad.matmul, real(), real(), (2, 3), (3, 4)),
    binary("matmul_batched_broadcast", ad.matmul, real(), real(), (2, 1, 2, 3), (3, 3, 2)),
    binary("matmul_vector_matrix", ad.matmul, real(), real(), (3,), (2, 3, 2)),
    binary("matmul_matrix_vector", ad.matmul, real(), real(), (2, 3), (3,)),
    binary("matmul_vector_vector", ad.matmul, real(), real(), (3,), (3,)),
    binary("operator_matmul", lambda a, b: a @ b, real(), real(), (1, 2), (2, 1)),
    binary("tensordot", lambda a, b: ad.tensordot(a, b, axes=([1, 2], [0, 1])), real(), real(), (2, 3, 2), (3, 2, 2)),
    binary("vecdot", ad.vecdot, real(), real(), (2, 3), (3,)),
    unary("matrix_transpose", ad.matrix_transpose, shape=(2, 2, 3)),
    unary("T", lambda x: x.T * x.T, shape=(2, 3)),
    # manipulation
    unary("reshape", lambda x: ad.reshape(x, (3, -1)), shape=(2, 3)),
    unary("permute_dims", lambda x: ad.permute_dims(x, (2, 0, 1)), shape=(2, 3, 2)),
    unary("expand_dims", lambda x: ad.expand_dims(x, axis=1) * x, shape=(2, 3)),
    unary("squeeze", lambda x: ad.squeeze(x, axis=(0, 2)), shape=(1, 3, 1)),
    unary("broadcast_to", lambda x: ad.broadcast_to(x, (2, 2, 3)), shape=(2, 1, 3)),
    binary("concat", lambda a, b: ad.concat([a, b, a], axis=1), real(), real(), (2, 3), (2, 1)),
    binary("concat_flat", lambda a, b: ad.concat([a, b], axis=None), real(), real(), (2, 3), (2,)),
    binary("stack", lambda a, b: ad.stack([a, b], axis=1), real(), real(), (2, 3), (2, 3)),
    unary("unstack", lambda x: ad.unstack(x, axis=1)[2] * 2.0, shape=(2, 3)),
    unary("flip", lambda x: ad.flip(x, axis=0) * x, shape=(3, 2)),
    unary("moveaxis", lambda x: ad.moveaxis(x, 0, -1), shape=(2, 3, 2)),
    unary("roll", lambda x: ad.roll(x, 1, axis=1) * x, shape=(2, 3)),
    unary("repeat", lambda x: ad.repeat(x, 2, axis=0), shape=(2, 3)),
    unary("tile", lambda x: ad.tile(x, (2, 1)), shape=(2, 3)),
    unary("astype", lambda x: ad.astype(x, x.dtype) * 2.0, shape=(2, 3)),
    unary("tril", lambda x: ad.tril(x, k=0), shape=(3, 3)),
    unary("triu", lambda x: ad.triu(x, k=1), shape=(3, 3)),
    # indexing
    unary("getitem_basic", lambda x: x[1:, ::2], shape=(3, 4)),
    unary("getitem_int_ellipsis", lambda x: x[..., 1] * x[0, ...][1], shape=(3, 2)),
    unary("getitem_newaxis", lambda x: x[None, :, 0], shape=(3, 2)),
    unary("getitem_bool_mask", lambda x: x[x > 0.0], nonzero, (2, 3)),
]

#: primitives whose derivative is itself an integer-array scatter (checked separately)
INDEX_CASES = [
    ("getitem_int_array_repeats", lambda x, i: x[i], (5,), [0, 0, 3, 4, 3]),
    ("take_axis0_repeats", lambda x, i: ad.take(x, i, axis=0), (4, 2), [1, 1, 3]),
    ("take_axis1", lambda x, i: ad.take(x, i, axis=1), (2, 3), [2, 0, 2]),
]


def spread(rng, shape):
    """Evenly spread over [-3.2, 3.2] with jitter: both branches of the portable erf."""
    n = int(np.prod(shape))
    return (np.linspace(-3.2, 3.2, n) + rng.uniform(-0.05, 0.05, size=n)).reshape(shape)


# special functions (anyad/ops/special.py)
CASES.append(unary("erf", ad.erf, spread, (2, 4)))
