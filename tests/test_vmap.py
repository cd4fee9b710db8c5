"""anyad.vmap against a Python loop over the examples.

Every check compares the vmapped function with the stack of its per-example
results (the loop runs the ordinary engine, with no tracing and no batching
rule): the values, ``grad`` of a scalar loss of the vmapped output w.r.t. the
batched and unbatched inputs (against ``grad`` of the loop), and ``vmap`` of
``grad`` (per-example gradients, against the loop of ``grad``).
"""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad._pytree import tree_flatten, tree_unflatten

from conftest import BACKENDS, BackendCase
from primitive_cases import CASES

NUMPY = [b for b in BACKENDS if b.name == "numpy"]
NP = BackendCase("numpy", np)  # for the error tests, whatever the backend matrix
OTHERS = [b for b in BACKENDS if b.name in ("strict", "strict-device1", "torch")]
TOL = {"float64": dict(rtol=1e-10, atol=1e-11), "float32": dict(rtol=2e-4, atol=2e-5)}


# ----------------------------------------------------------------------------
# The loop: the reference every test compares with
# ----------------------------------------------------------------------------


def _rank(x):
    return len(tuple((x.value if isinstance(x, ad.Variable) else x).shape))


def _spec_leaves(spec, tree):
    """``spec`` (a prefix of ``tree``) as one axis per leaf of ``tree``."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(tree_flatten(tree)[0])
    if isinstance(spec, dict):
        return [a for k in sorted(spec) for a in _spec_leaves(spec[k], tree[k])]
    return [a for s, t in zip(spec, tree) for a in _spec_leaves(s, t)]


def _example(x, axis, i):
    if axis is None:
        return x
    return x[(slice(None),) * (axis % _rank(x)) + (i,) + (Ellipsis,)]


def _size(args, in_axes):
    leaves = tree_flatten(args)[0]
    axes = _spec_leaves(tuple(in_axes) if isinstance(in_axes, list) else in_axes, args)
    for x, a in zip(leaves, axes):
        if a is not None:
            return tuple((x.value if isinstance(x, ad.Variable) else x).shape)[a]
    return None


def loop(f, in_axes=0, out_axes=0, axis_size=None):
    """vmap's meaning, written as a Python loop and a stack."""

    def looped(*args):
        leaves, treedef = tree_flatten(args)
        axes = _spec_leaves(in_axes if not isinstance(in_axes, int) and in_axes is not None else
                            (in_axes,) * len(args), args)
        size = axis_size if axis_size is not None else _size(args, in_axes)
        outs = [f(*tree_unflatten(treedef, [_example(x, a, i) for x, a in zip(leaves, axes)]))
                for i in range(size)]
        flat = [tree_flatten(o)[0] for o in outs]
        out_def = tree_flatten(outs[0])[1]
        oaxes = _spec_leaves(out_axes, outs[0])
        res = []
        for k, ax in enumerate(oaxes):
            if ax is None:
                res.append(flat[0][k])
            else:
                per = [fl[k] for fl in flat]
                res.append(ad.stack([ad.Variable(p) if not isinstance(p, ad.Variable) else p for p in per],
                                    axis=ax))
        return tree_unflatten(out_def, res)

    return looped


def to_np(be, x):
    return be.to_numpy(x)


def _float(x):
    v = x.value if isinstance(x, ad.Variable) else x
    return str(v.dtype).rsplit(".", 1)[-1] in ("float32", "float64")


def close(be, got, want, dtype="float64", what=""):
    gl, gd = tree_flatten(got)
    wl, wd = tree_flatten(want)
    assert gd == wd, f"{what}: structure {gd} != {wd}"
    for k, (g, w) in enumerate(zip(gl, wl)):
        gv = g.value if isinstance(g, ad.Variable) else g
        wv = w.value if isinstance(w, ad.Variable) else w
        assert type(gv) is type(wv), f"{what} leaf {k}: {type(gv)} is not {type(wv)}"
        assert gv.dtype == wv.dtype, f"{what} leaf {k}: dtype {gv.dtype} != {wv.dtype}"
        gn, wn = to_np(be, gv), to_np(be, wv)
        assert gn.shape == wn.shape, f"{what} leaf {k}: shape {gn.shape} != {wn.shape}"
        if gn.dtype.kind in "fc":
            np.testing.assert_allclose(gn, wn, err_msg=f"{what} leaf {k}", **TOL[dtype])
        else:
            np.testing.assert_array_equal(gn, wn, err_msg=f"{what} leaf {k}")


def _weights(be, out, dtype, seed):
    rng = np.random.default_rng(seed)
    return [be.array(rng.normal(size=tuple((o.value if isinstance(o, ad.Variable) else o).shape)), dtype)
            for o in tree_flatten(out)[0]]


def _loss(g, ws):
    def loss(*args):
        leaves = [o for o in tree_flatten(g(*args))[0]]
        total = 0.0
        for o, w in zip(leaves, ws):
            if _float(o):
                total = total + ad.sum(o * w)
        return total

    return loss


def check(be, f, args, in_axes=0, out_axes=0, axis_size=None, chunk_size=None, dtype="float64",
          grads=True, per_example=True, seed=1):
    """vmap(f) against the loop: values, grad(vmap(f)), vmap(grad(f))."""
    vf = ad.vmap(f, in_axes=in_axes, out_axes=out_axes, axis_size=axis_size, chunk_size=chunk_size)
    lf = loop(f, in_axes=in_axes, out_axes=out_axes, axis_size=axis_size)
    got, want = vf(*args), lf(*args)
    close(be, got, want, dtype, "value")
    if not any(isinstance(a, ad.Variable) for a in tree_flatten(args)[0]):  # arrays in, arrays out
        assert not any(isinstance(o, ad.Variable) for o in tree_flatten(got)[0]), "vmap returned a Variable"
    diff = [k for k, a in enumerate(args) if all(_float(x) for x in tree_flatten(a)[0])
            and tree_flatten(a)[0]]
    if not grads or not diff or not any(_float(o) for o in tree_flatten(want)[0]):
        return got
    ws = _weights(be, want, dtype, seed)
    argnums = tuple(diff)
    close(be, ad.grad(_loss(vf, ws), argnums=argnums)(*args),
          ad.grad(_loss(lf, ws), argnums=argnums)(*args), dtype, "grad(vmap(f))")
    if not per_example or out_axes != 0:
        return got
    # per-example gradients: one example's output weighted by fixed weights
    one = lf(*args)
    wpe = [be.array(np.random.default_rng(seed + 1).normal(
        size=tuple((o.value if isinstance(o, ad.Variable) else o).shape)[1:]), dtype)
        for o in tree_flatten(one)[0]]
    g1 = ad.grad(_loss(f, wpe), argnums=argnums)
    per = ad.vmap(g1, in_axes=in_axes, axis_size=axis_size)(*args)
    close(be, per, loop(g1, in_axes=in_axes, axis_size=axis_size)(*args), dtype, "vmap(grad(f))")
    return got


def batched_inputs(be, case, B=3, dtype="float64", seed=0):
    """The case's inputs with a batch of B examples in front."""
    rng = np.random.default_rng(seed)
    return [be.array(np.stack([g(rng, s) for _ in range(B)]), dtype) for g, s in zip(case.gens, case.shapes)]


def _empty(x, axis):
    if axis is None:
        return x
    return x[(slice(None),) * (axis % _rank(x)) + (slice(0, 0),) + (Ellipsis,)]


def check_empty(be, f, args, in_axes=0, out_axes=0):
    """B = 0: the outputs are empty along the batch axis, with the per-example
    shapes and dtypes of a non-empty batch; grad(vmap(f)) gives empty gradients."""
    leaves, treedef = tree_flatten(tuple(args))
    axes = _spec_leaves(in_axes if not isinstance(in_axes, int) and in_axes is not None else
                        (in_axes,) * len(args), tuple(args))
    empty = tree_unflatten(treedef, [_empty(x, a) for x, a in zip(leaves, axes)])
    vf = ad.vmap(f, in_axes=in_axes, out_axes=out_axes)
    full, got = tree_flatten(vf(*args))[0], tree_flatten(vf(*empty))[0]
    oaxes = _spec_leaves(out_axes, vf(*args))
    for g, w, ax in zip(got, full, oaxes):
        want = list(w.shape)
        if ax is not None:
            want[ax] = 0
        assert tuple(g.shape) == tuple(want) and g.dtype == w.dtype, (g.shape, g.dtype, want, w.dtype)
    diff = [k for k, a in enumerate(empty) if all(_float(x) for x in tree_flatten(a)[0])]
    if diff and any(_float(o) for o in full):
        gs = ad.grad(_loss(vf, [0.0] * len(full)), argnums=tuple(diff))(*empty)
        for g, k in zip(gs, diff):
            for gl, al in zip(tree_flatten(g)[0], tree_flatten(empty[k])[0]):
                assert tuple(gl.shape) == tuple(al.shape)



# ----------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------

B = 3


def A(be, shape, kind="f", dtype="float64", seed=0):
    """A test array of ``shape`` on ``be``: ``kind`` f (uniform), pos, int, idx<n>, bool, spd, cond."""
    rng = np.random.default_rng(seed)
    if kind == "f":
        return be.array(rng.uniform(-1.5, 1.5, size=shape), dtype)
    if kind == "pos":
        return be.array(rng.uniform(0.3, 2.0, size=shape), dtype)
    if kind == "int":
        return be.array(rng.integers(-5, 6, size=shape), "int64")
    if kind == "nz":
        return be.array(rng.integers(1, 6, size=shape), "int64")
    if kind.startswith("idx"):
        return be.array(rng.integers(0, int(kind[3:]), size=shape), "int64")
    if kind == "bool":
        return be.array(rng.random(shape) > 0.5, "bool")
    if kind == "spd":  # symmetric positive definite, well separated eigenvalues
        m = rng.normal(size=shape)
        n = shape[-1]
        return be.array(m @ np.swapaxes(m, -1, -2) + np.diag(np.arange(1.0, n + 1)) * 2.0, dtype)
    if kind == "cond":  # well conditioned square
        return be.array(rng.normal(size=shape) + 3.0 * np.eye(shape[-1]), dtype)
    if kind == "distinct":
        n = int(np.prod(shape))
        return be.array(rng.permutation(np.arange(n) * 0.37 - n * 0.15).reshape(shape), dtype)
    raise ValueError(kind)


def I(be, *values):
    return be.array(np.array(values), "int64")


def M(be, values):
    return be.array(np.array(values, dtype=bool), "bool")


def example0(x):
    return x[0, ...]


# ----------------------------------------------------------------------------
# 1. The differentiable primitives of tests/primitive_cases.py
# ----------------------------------------------------------------------------


def _case_variants(case):
    yield 0
    if len(case.shapes) == 2:
        yield (0, None)
        yield (None, 0)


CASE_PARAMS = [pytest.param(c, ia, id=f"{c.name}-{ia}") for c in CASES for ia in _case_variants(c)]


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("case,in_axes", CASE_PARAMS)
def test_primitive_cases(be, case, in_axes):
    args = batched_inputs(be, case, B)
    if isinstance(in_axes, tuple):
        args = [x if a == 0 else example0(x) for x, a in zip(args, in_axes)]
    if case.name == "getitem_bool_mask":  # a mask computed from the example: shape depends on values
        from anyad.ops.batching import BatchingError

        with pytest.raises(BatchingError, match="boolean mask that differs between examples"):
            ad.vmap(case.f)(*args)
        return
    check(be, case.f, args, in_axes=in_axes)


# ----------------------------------------------------------------------------
# 2. Everything else, by family: (f, args, in_axes) made on a backend
# ----------------------------------------------------------------------------

xa = pytest.importorskip("anyad.array_api")
F = ad.nn.functional
sp = ad.special


def _sx(key):
    """x[key] = v inside f (a copy first: x may be an input)."""

    def f(x, v):
        x = x * 1.0
        x[key] = v
        return x * x

    return f


def _setitem_idx(x, i, v):
    x = x * 1.0
    x[i] = v
    return x * x


def _incomplete(a, b, x):
    """The incomplete beta and gamma functions (derivatives in x only)."""
    return (sp.betainc(a, b, x) + sp.betaincc(a, b, x) + sp.gammainc(a, x) + sp.gammaincc(a, x)
            + sp.stdtr(a * 3.0, x - 0.5))


def _ranks(be):
    """Matrices of ranks 3, 2 and 0 (a value frozen at the traced example would show)."""
    m = np.random.default_rng(0).normal(size=(B, 4, 3))
    m[1, :, 2] = m[1, :, 0]
    m[2] = 0.0
    return be.array(m)


def _sorted_rows(be):
    return be.array(np.sort(np.random.default_rng(2).uniform(-1.5, 1.5, size=(B, 6)), axis=1))


OPS = {
    # comparisons, integer and boolean results
    "greater": lambda be: (lambda a, b: a > b, [A(be, (B, 4, 5)), A(be, (B, 4, 5), seed=1)]),
    "equal_mask_mul": lambda be: (lambda a: ad.astype(a == a[0, 0], a.dtype) * a, [A(be, (B, 4, 5))]),
    "where_masks": lambda be: (lambda a, b: ad.where(a > b, a, b * 2.0), [A(be, (B, 4, 5)), A(be, (B, 5), seed=1)]),
    "where_scalar": lambda be: (lambda a: ad.where(a > 0.0, a, 0.0), [A(be, (B, 4, 5))]),
    "where_const_mask": lambda be: (lambda a: ad.where(M(be, [1, 0, 1, 1, 0]), a, -a), [A(be, (B, 4, 5))]),
    "argmax_none": lambda be: (lambda a: xa.argmax(a), [A(be, (B, 4, 5), "distinct")]),
    "argmax_axis_keepdims": lambda be: (lambda a: xa.argmax(a, axis=1, keepdims=True), [A(be, (B, 4, 5), "distinct")]),
    "argmin_none_keepdims": lambda be: (lambda a: xa.argmin(a, keepdims=True), [A(be, (B, 4, 5), "distinct")]),
    "argmin_neg_axis": lambda be: (lambda a: xa.argmin(a, axis=-2), [A(be, (B, 4, 5), "distinct")]),
    "sort_axis0": lambda be: (lambda a: ad.sort(a, axis=0), [A(be, (B, 4, 5), "distinct")]),
    "sort_descending": lambda be: (lambda a: ad.sort(a, descending=True), [A(be, (B, 4, 5), "distinct")]),
    "argsort": lambda be: (lambda a: ad.argsort(a, axis=0), [A(be, (B, 4, 5), "distinct")]),
    "all_axis": lambda be: (lambda a: xa.all(a > 0.0, axis=1), [A(be, (B, 4, 5))]),
    "any_none": lambda be: (lambda a: xa.any(a > 1.0), [A(be, (B, 4, 5))]),
    "count_nonzero": lambda be: (lambda a: xa.count_nonzero(a > 0.0, axis=(0, 1)), [A(be, (B, 4, 5))]),
    "isin": lambda be: (lambda a, b: xa.isin(a, b), [A(be, (B, 4, 5), "int"), I(be, 1, 2, 3)], (0, None)),
    "isin_batched_set": lambda be: (lambda a, b: xa.isin(a, b), [A(be, (B, 4, 5), "int"), A(be, (B, 3), "int", seed=1)]),
    "isin_invert_set_only": lambda be: (lambda a, b: xa.isin(a, b, invert=True),
                                        [A(be, (4, 5), "int"), A(be, (B, 3), "int", seed=1)], (None, 0)),
    "floor_divide_int": lambda be: (lambda a, b: a // b, [A(be, (B, 4, 5), "int"), A(be, (B, 5), "nz", seed=1)]),
    "floor_divide_float": lambda be: (lambda a, b: ad.floor_divide(a, b) * a, [A(be, (B, 4, 5)), A(be, (B, 4, 5), "pos", seed=1)]),
    "remainder": lambda be: (lambda a, b: ad.remainder(a, b), [A(be, (B, 4, 5)), A(be, (B, 4, 5), "pos", seed=1)]),
    "bitwise_and_or_xor": lambda be: (lambda a, b: (a & b) | ad.bitwise_xor(a, b),
                                      [A(be, (B, 4, 5), "int"), A(be, (4, 5), "int", seed=1)], (0, None)),
    "bitwise_invert_shift": lambda be: (lambda a, b: ad.bitwise_left_shift(~a, b),
                                        [A(be, (B, 4, 5), "int"), A(be, (B, 4, 5), "idx3", seed=1)]),
    "integer_arithmetic": lambda be: (lambda a: a * a + 3, [A(be, (B, 4, 5), "int")]),
    "logical": lambda be: (lambda a, b: ad.logical_and(a > 0.0, ad.logical_not(b > 0.0)),
                           [A(be, (B, 4, 5)), A(be, (B, 4, 5), seed=1)]),
    "isnan_signbit": lambda be: (lambda a: ad.logical_or(ad.isnan(a), ad.signbit(a)), [A(be, (B, 4, 5))]),
    # manipulation
    "cumulative_sum_none_1d": lambda be: (lambda a: ad.cumulative_sum(a), [A(be, (B, 5))]),
    "cumulative_prod_neg": lambda be: (lambda a: ad.cumulative_prod(a, axis=-1), [A(be, (B, 4, 5))]),
    "cumulative_prod_initial": lambda be: (lambda a: ad.cumulative_prod(a, axis=0, include_initial=True),
                                           [A(be, (B, 4, 5))]),
    "flip_none": lambda be: (lambda a: ad.flip(a), [A(be, (B, 4, 5))]),
    "flip_axes": lambda be: (lambda a: ad.flip(a, axis=(0, -1)), [A(be, (B, 4, 5))]),
    "roll_none": lambda be: (lambda a: ad.roll(a, 3), [A(be, (B, 4, 5))]),
    "roll_axes": lambda be: (lambda a: ad.roll(a, (1, -2), axis=(0, 1)), [A(be, (B, 4, 5))]),
    "expand_dims_neg": lambda be: (lambda a: ad.expand_dims(a, axis=-1), [A(be, (B, 4, 5))]),
    "expand_dims_several": lambda be: (lambda a: xa.expand_dims(a, axis=(0, -1)), [A(be, (B, 4, 5))]),
    "squeeze_neg": lambda be: (lambda a: ad.squeeze(a[:, :1], axis=-1), [A(be, (B, 4, 5))]),
    "moveaxis": lambda be: (lambda a: ad.moveaxis(a, -1, 0), [A(be, (B, 4, 5))]),
    "permute_dims": lambda be: (lambda a: ad.permute_dims(a, (1, 0)), [A(be, (B, 4, 5))]),
    "reshape_minus1": lambda be: (lambda a: ad.reshape(a, (-1,)), [A(be, (B, 4, 5))]),
    "reshape_minus1_middle": lambda be: (lambda a: ad.reshape(a, (2, -1, 5)), [A(be, (B, 4, 5))]),
    "concat_none": lambda be: (lambda a, b: ad.concat([a, b], axis=None), [A(be, (B, 4, 5)), A(be, (B, 3), seed=1)]),
    "concat_neg": lambda be: (lambda a, b: ad.concat([a, b], axis=-1), [A(be, (B, 4, 5)), A(be, (4, 2), seed=1)],
                              (0, None)),
    "stack_neg": lambda be: (lambda a, b: ad.stack([a, b], axis=-1), [A(be, (B, 4, 5)), A(be, (B, 4, 5), seed=1)]),
    "stack_0": lambda be: (lambda a, b: ad.stack([a, b]), [A(be, (4, 5)), A(be, (B, 4, 5), seed=1)], (None, 0)),
    "tile": lambda be: (lambda a: ad.tile(a, (2, 1, 3)), [A(be, (B, 4, 5))]),
    "repeat_none": lambda be: (lambda a: ad.repeat(a, 2), [A(be, (B, 4, 5))]),
    "unstack": lambda be: (lambda a: ad.unstack(a, axis=-1), [A(be, (B, 4, 5))]),
    "broadcast_arrays": lambda be: (lambda a, b: xa.broadcast_arrays(a, b), [A(be, (B, 4, 1)), A(be, (B, 5), seed=1)]),
    "diff": lambda be: (lambda a: ad.diff(a, axis=-1), [A(be, (B, 4, 5))]),
    "tril_neg": lambda be: (lambda a: ad.tril(a, k=-1), [A(be, (B, 4, 5))]),
    "astype_float32": lambda be: (lambda a: ad.astype(a, xa.float32) * 2.0, [A(be, (B, 4, 5))]),
    "clip_array_bounds": lambda be: (lambda a, b: ad.clip(a, min=b, max=2.0), [A(be, (B, 4, 5)), A(be, (B, 5), seed=1)]),
    "clip_array_min_only": lambda be: (lambda a, b: ad.clip(a, min=b), [A(be, (B, 4, 5)), A(be, (5,), seed=1)],
                                       (0, None)),
    # reductions
    "max_none": lambda be: (lambda a: ad.max(a), [A(be, (B, 4, 5), "distinct")]),
    "min_keepdims": lambda be: (lambda a: ad.min(a, axis=-1, keepdims=True), [A(be, (B, 4, 5), "distinct")]),
    "prod_none": lambda be: (lambda a: ad.prod(a), [A(be, (B, 2, 3))]),
    "mean_axes": lambda be: (lambda a: ad.mean(a, axis=(-1, 0)), [A(be, (B, 4, 5))]),
    "var_std": lambda be: (lambda a: ad.var(a, axis=-1) + ad.std(a, axis=0, correction=1)[0], [A(be, (B, 4, 5))]),
    "logsumexp_neg": lambda be: (lambda a: ad.logsumexp(a, axis=-1), [A(be, (B, 4, 5))]),
    "softmax_axis0": lambda be: (lambda a: F.softmax(a, axis=0), [A(be, (B, 4, 5))]),
    "log_softmax": lambda be: (lambda a: F.log_softmax(a), [A(be, (B, 4, 5))]),
    # fft
    "fft_complex_in": lambda be: (lambda a: ad.real(ad.fft.fft(ad.astype(a, xa.complex128))), [A(be, (B, 4, 5))]),
    "fft_n_axis": lambda be: (lambda a: ad.abs(ad.fft.fft(a, n=7, axis=0)), [A(be, (B, 4, 5))]),
    "ifft": lambda be: (lambda a: ad.imag(ad.fft.ifft(ad.astype(a, xa.complex128), axis=0)), [A(be, (B, 4, 5))]),
    "fftn_axes": lambda be: (lambda a: ad.abs(ad.fft.fftn(a, axes=(0, 1))), [A(be, (B, 4, 5))]),
    "fftn_s": lambda be: (lambda a: ad.abs(ad.fft.fftn(a, s=(3, 4))), [A(be, (B, 4, 5))]),
    "rfft": lambda be: (lambda a: ad.abs(ad.fft.rfft(a)), [A(be, (B, 4, 5))]),
    "irfft_rfft": lambda be: (lambda a: ad.fft.irfft(ad.fft.rfft(a, axis=0), axis=0), [A(be, (B, 4, 5))]),
    "rfftn_irfftn": lambda be: (lambda a: ad.fft.irfftn(ad.fft.rfftn(a)) + ad.abs(ad.fft.rfftn(a))[0, 0],
                                [A(be, (B, 4, 6))]),
    "hfft": lambda be: (lambda a: ad.fft.hfft(ad.astype(a, xa.complex128)), [A(be, (B, 4, 5))]),
    "fftshift": lambda be: (lambda a: ad.fft.fftshift(a) * ad.fft.ifftshift(a, axes=0), [A(be, (B, 4, 5))]),
    # linear algebra
    "inv": lambda be: (lambda a: ad.linalg.inv(a), [A(be, (B, 3, 3), "cond")]),
    "solve_vector": lambda be: (lambda a, b: ad.linalg.solve(a, b), [A(be, (B, 3, 3), "cond"), A(be, (B, 3), seed=1)]),
    "solve_vector_a_only": lambda be: (lambda a, b: ad.linalg.solve(a, b), [A(be, (B, 3, 3), "cond"), A(be, (3,), seed=1)],
                                       (0, None)),
    "solve_vector_b_only": lambda be: (lambda a, b: ad.linalg.solve(a, b), [A(be, (3, 3), "cond"), A(be, (B, 3), seed=1)],
                                       (None, 0)),
    "solve_matrix": lambda be: (lambda a, b: ad.linalg.solve(a, b), [A(be, (B, 3, 3), "cond"), A(be, (B, 3, 2), seed=1)]),
    "solve_matrix_b_only": lambda be: (lambda a, b: ad.linalg.solve(a, b),
                                       [A(be, (3, 3), "cond"), A(be, (B, 3, 2), seed=1)], (None, 0)),
    "det": lambda be: (lambda a: ad.linalg.det(a), [A(be, (B, 3, 3), "cond")]),
    "slogdet": lambda be: (lambda a: ad.linalg.slogdet(a), [A(be, (B, 3, 3), "cond")]),
    "cholesky": lambda be: (lambda a: ad.linalg.cholesky(a), [A(be, (B, 3, 3), "spd")]),
    "cholesky_upper": lambda be: (lambda a: ad.linalg.cholesky(a, upper=True), [A(be, (B, 3, 3), "spd")]),
    "eigh_values": lambda be: (lambda a: ad.linalg.eigh(a)[0], [A(be, (B, 3, 3), "spd")]),
    "eigh_vectors": lambda be: (lambda a: ad.abs(ad.linalg.eigh(a)[1]), [A(be, (B, 3, 3), "spd")]),
    "eigvalsh": lambda be: (lambda a: ad.linalg.eigvalsh(a), [A(be, (B, 3, 3), "spd")]),
    "svd_values": lambda be: (lambda a: ad.linalg.svd(a, full_matrices=False)[1], [A(be, (B, 4, 3))]),
    "svd_vectors": lambda be: (lambda a: ad.abs(ad.linalg.svd(a, full_matrices=False)[0]), [A(be, (B, 4, 3))]),
    "svdvals": lambda be: (lambda a: ad.linalg.svdvals(a), [A(be, (B, 4, 3))]),
    "qr": lambda be: (lambda a: ad.linalg.qr(a)[1], [A(be, (B, 4, 3))]),
    "pinv": lambda be: (lambda a: ad.linalg.pinv(a), [A(be, (B, 4, 3))]),
    "matrix_norm_fro": lambda be: (lambda a: ad.linalg.matrix_norm(a), [A(be, (B, 4, 3))]),
    "matrix_norm_nuc": lambda be: (lambda a: ad.linalg.matrix_norm(a, ord="nuc"), [A(be, (B, 4, 3))]),
    "matrix_norm_2": lambda be: (lambda a: ad.linalg.matrix_norm(a, ord=2), [A(be, (B, 4, 3))]),
    "vector_norm": lambda be: (lambda a: ad.linalg.vector_norm(a, axis=-1, ord=3) + ad.linalg.vector_norm(a),
                               [A(be, (B, 4, 5))]),
    "trace_diagonal": lambda be: (lambda a: ad.linalg.trace(a) + ad.linalg.diagonal(a, offset=1)[0],
                                  [A(be, (B, 3, 3))]),
    "outer": lambda be: (lambda a, b: ad.linalg.outer(a, b), [A(be, (B, 5)), A(be, (4,), seed=1)], (0, None)),
    "cross": lambda be: (lambda a, b: ad.linalg.cross(a, b), [A(be, (B, 3)), A(be, (B, 3), seed=1)]),
    "matrix_power": lambda be: (lambda a: ad.linalg.matrix_power(a, 3), [A(be, (B, 3, 3))]),
    "matrix_rank": lambda be: (lambda a: ad.linalg.matrix_rank(a), [_ranks(be)]),
    "searchsorted": lambda be: (lambda a, v: ad.searchsorted(a, v), [_sorted_rows(be), A(be, (B, 2, 3), seed=1)]),
    "searchsorted_right_queries_unbatched": lambda be: (lambda a, v: ad.searchsorted(a, v, side="right"),
                                                        [_sorted_rows(be), A(be, (4,), seed=1)], (0, None)),
    "searchsorted_sorted_unbatched": lambda be: (lambda a, v: ad.searchsorted(a, v),
                                                 [example0(_sorted_rows(be)), A(be, (B, 2, 3), seed=1)], (None, 0)),
    "tensordot": lambda be: (lambda a, b: ad.linalg.tensordot(a, b, axes=1), [A(be, (B, 4, 4)), A(be, (B, 4, 5), seed=1)]),
    "einsum": lambda be: (lambda a, b: ad.einsum("ij,kj->ik", a, b), [A(be, (B, 4, 5)), A(be, (3, 5), seed=1)], (0, None)),
    "vecdot_axis0": lambda be: (lambda a, b: ad.vecdot(a, b, axis=0), [A(be, (B, 4, 5)), A(be, (B, 4, 5), seed=1)]),
    "matmul_vectors_both": lambda be: (lambda a, b: ad.matmul(a, b) * a, [A(be, (B, 5)), A(be, (B, 5), seed=1)]),
    "matmul_matrix_vector_both": lambda be: (lambda a, b: ad.matmul(a, b), [A(be, (B, 4, 5)), A(be, (B, 5), seed=1)]),
    "matmul_vector_matrix_both": lambda be: (lambda a, b: ad.matmul(a, b), [A(be, (B, 4)), A(be, (B, 2, 4, 5), seed=1)]),
    "matmul_matrix_unbatched_vector": lambda be: (lambda a, b: ad.matmul(a, b), [A(be, (4, 5)), A(be, (B, 5), seed=1)],
                                                  (None, 0)),
    # nn.functional
    "conv1d": lambda be: (lambda a, w: F.conv1d(a, w, padding=1), [A(be, (B, 2, 3, 8)), A(be, (4, 3, 3), seed=1)], (0, None)),
    "conv1d_filters_batched": lambda be: (lambda a, w: F.conv1d(a, w, stride=2),
                                          [A(be, (B, 2, 3, 8)), A(be, (B, 4, 3, 3), seed=1)]),
    "conv2d": lambda be: (lambda a, w: F.conv2d(a, w, padding=1, stride=2),
                          [A(be, (B, 2, 3, 6, 6)), A(be, (4, 3, 3, 3), seed=1)], (0, None)),
    "conv2d_filters_batched": lambda be: (lambda a, w: F.conv2d(a, w, dilation=2),
                                          [A(be, (B, 2, 3, 6, 6)), A(be, (B, 4, 3, 3, 3), seed=1)]),
    "conv2d_filters_only": lambda be: (lambda a, w: F.conv2d(a, w),
                                       [A(be, (2, 3, 6, 6)), A(be, (B, 4, 3, 3, 3), seed=1)], (None, 0)),
    "conv2d_groups": lambda be: (lambda a, w: F.conv2d(a, w, groups=3),
                                 [A(be, (B, 2, 3, 6, 6)), A(be, (B, 6, 1, 2, 2), seed=1)]),
    "conv_transpose1d": lambda be: (lambda a, w: F.conv_transpose1d(a, w, stride=2),
                                    [A(be, (B, 2, 3, 8)), A(be, (3, 2, 3), seed=1)], (0, None)),
    "conv_transpose2d_filters_batched": lambda be: (lambda a, w: F.conv_transpose2d(a, w),
                                                    [A(be, (B, 2, 3, 5, 5)), A(be, (B, 3, 2, 2, 2), seed=1)]),
    "max_pool1d": lambda be: (lambda a: F.max_pool1d(a, 2), [A(be, (B, 2, 3, 8), "distinct")]),
    "max_pool2d": lambda be: (lambda a: F.max_pool2d(a, 2, stride=1), [A(be, (B, 2, 3, 6, 6), "distinct")]),
    "avg_pool2d": lambda be: (lambda a: F.avg_pool2d(a, 3, padding=1), [A(be, (B, 2, 3, 6, 6))]),
    "adaptive_avg_pool2d": lambda be: (lambda a: F.adaptive_avg_pool2d(a, (2, 3)), [A(be, (B, 2, 3, 6, 6))]),
    "batch_norm": lambda be: (lambda a: F.batch_norm(a, None, None, training=True), [A(be, (B, 4, 3, 5, 5))]),
    "batch_norm_affine": lambda be: (lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True),
                                     [A(be, (B, 4, 3, 5, 5)), A(be, (B, 3), seed=1), A(be, (B, 3), seed=2)]),
    "layer_norm": lambda be: (lambda a, w: F.layer_norm(a, (5,), w), [A(be, (B, 4, 5)), A(be, (B, 5), seed=1)]),
    "group_norm": lambda be: (lambda a: F.group_norm(a, 1), [A(be, (B, 2, 3, 6, 6))]),
    "cross_entropy": lambda be: (lambda a, t: F.cross_entropy(a, t), [A(be, (B, 4, 5)), A(be, (B, 4), "idx5")]),
    "mse_loss": lambda be: (lambda a, b: F.mse_loss(a, b), [A(be, (B, 4, 5)), A(be, (4, 5), seed=1)], (0, None)),
    "activations": lambda be: (lambda a: F.relu(a) + F.sigmoid(a) + F.softplus(a) + F.tanh(a)
                               + F.gelu(a) + F.gelu(a, approximate="tanh"), [A(be, (B, 4, 5))]),
    "linear": lambda be: (lambda a, w, b: F.linear(a, w, b), [A(be, (B, 4, 5)), A(be, (3, 5), seed=1), A(be, (3,), seed=2)],
                          (0, None, None)),
    "embedding": lambda be: (lambda i, w: F.embedding(i, w), [A(be, (B, 2), "idx4"), A(be, (4, 3), seed=1)], (0, None)),
    "one_hot": lambda be: (lambda i: F.one_hot(i, 4) * 1.0, [A(be, (B, 2), "idx4")]),
    "pad": lambda be: (lambda a: F.pad(a, (1, 2)), [A(be, (B, 4, 5))]),
    "unfold": lambda be: (lambda a: F.unfold(a, 2), [A(be, (B, 2, 3, 5, 5))]),
    "interpolate": lambda be: (lambda a: F.interpolate(a, scale_factor=2), [A(be, (B, 2, 3, 4, 4))]),
    "attention": lambda be: (lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
                             [A(be, (B, 4, 5)), A(be, (B, 4, 5), seed=1), A(be, (4, 5), seed=2)], (0, 0, None)),
    "bce_with_logits": lambda be: (lambda a, t: F.binary_cross_entropy_with_logits(a, t),
                                   [A(be, (B, 4, 5)), be.array(np.random.default_rng(1).random((B, 4, 5)) > 0.5)]),
    # special functions
    "special_unary": lambda be: (lambda a: sp.gammaln(a) + sp.digamma(a) + sp.ndtri(a * 0.4) + sp.erfcinv(a * 0.4)
                                 + sp.logit(a * 0.4) + sp.entr(a) + sp.polygamma(1, a), [A(be, (B, 4, 5), "pos")]),
    "special_real_line": lambda be: (lambda a: sp.erfinv(a * 0.5) + sp.ndtr(a) + sp.log_ndtr(a) + sp.i0(a) + sp.i1(a)
                                     + sp.i0e(a) + sp.i1e(a) + sp.expit(a) + sp.log_expit(a) + sp.softplus(a)
                                     + sp.sinc(a) + sp.erfc(a) + sp.erf(a), [A(be, (B, 4, 5))]),
    "special_binary": lambda be: (lambda a, b: sp.xlogy(a, b) + sp.xlog1py(a, b) + sp.rel_entr(a, b) + sp.kl_div(a, b),
                                  [A(be, (B, 4, 5), "pos"), A(be, (5,), "pos", seed=1)], (0, None)),
    "special_incomplete": lambda be: (lambda a, b, x: sp.betaln(a, b) + _incomplete(A(be, (4,), "pos", seed=3),
                                                                                     A(be, (4,), "pos", seed=4), x),
                                      [A(be, (B, 4), "pos"), A(be, (4,), "pos", seed=1),
                                       be.array(np.random.default_rng(2).uniform(0.1, 0.9, size=(B, 4)))],
                                      (0, None, 0)),
    "elementwise_binary_extra": lambda be: (lambda a, b: ad.hypot(a, b) + ad.logaddexp(a, b) + ad.copysign(a, b),
                                            [A(be, (B, 4, 5)), A(be, (B, 1, 5), seed=1)]),
    "complex_parts": lambda be: (lambda a: ad.real(a * 1j) + ad.imag(a * (1 + 2j)) + ad.real(ad.conj(a * 1j)),
                                 [A(be, (B, 4, 5))]),
}

# examples that are scalars
SCALAR_EXAMPLES = {
    "sum": lambda be: (lambda a: ad.sum(a) + ad.mean(a, axis=()), [A(be, (B,))]),
    "max_logsumexp": lambda be: (lambda a: ad.max(a) * a + ad.logsumexp(a), [A(be, (B,))]),
    "argmax_all": lambda be: (lambda a: (xa.argmax(a), xa.all(a > 0.0)), [A(be, (B,))]),
    "getitem": lambda be: (lambda a: a[...] * a[None], [A(be, (B,))]),
    "times_vector": lambda be: (lambda a, b: a * b, [A(be, (B,)), A(be, (B, 4), seed=1)]),
    "expand_reshape_broadcast": lambda be: (lambda a: ad.broadcast_to(ad.reshape(ad.expand_dims(a, axis=0), (1, 1)),
                                                                      (2, 3)), [A(be, (B,))]),
    "stack": lambda be: (lambda a, b: ad.stack([a, b[0]]), [A(be, (B,)), A(be, (B, 4), seed=1)]),
    "index_by_scalar": lambda be: (lambda a, b: b[ad.astype(a, xa.int64)], [A(be, (B,), "pos"), A(be, (B, 4), seed=1)]),
    "setitem": lambda be: (lambda a, b: _sx((Ellipsis,))(b, a), [A(be, (B,)), A(be, (B, 4), seed=1)]),
    "dot": lambda be: (lambda b: b @ b, [A(be, (B, 4))]),
}

# indexing: keys applied to one example of shape (4, 5, 6)
KEYS = {
    "int": lambda be: 1, "neg_int": lambda be: -1, "slice": lambda be: slice(1, 3),
    "neg_step": lambda be: slice(None, None, -2), "neg_step_bounds": lambda be: slice(3, 0, -1),
    "tuple_basic": lambda be: (slice(None), 2, slice(None, None, -1)),
    "none": lambda be: (None, 1, None), "ellipsis_int": lambda be: (Ellipsis, 2),
    "int_ellipsis_none": lambda be: (1, Ellipsis, None, slice(0, 2)),
    "array": lambda be: I(be, 0, 2, 3), "array_negative": lambda be: I(be, -1, 0),
    "array_2d": lambda be: be.array(np.array([[0, 1], [3, 2]]), "int64"),
    "arrays_adjacent": lambda be: (slice(None), I(be, 0, 4, 2), I(be, 1, 2, 5)),
    "arrays_apart": lambda be: (I(be, 0, 3), slice(None), I(be, 1, 5)),
    "int_slice_array": lambda be: (1, slice(None), I(be, 2, 0)),
    "slice_int_array": lambda be: (slice(None), 1, I(be, 2, 0)),
    "array_int_slice": lambda be: (I(be, 2, 1), 3, slice(1, 4)),
    "zero_d_array": lambda be: (slice(None), be.array(np.array(2), "int64")),
    "zero_d_and_array": lambda be: (be.array(np.array(2), "int64"), I(be, 1, 2)),
    "none_arrays_apart": lambda be: (None, I(be, 1, 2), slice(None), I(be, 0, 3)),
    "ellipsis_array": lambda be: (Ellipsis, I(be, 1, 2)),
    "array_ellipsis_array": lambda be: (I(be, 0, 1), Ellipsis, I(be, 1, 2)),
    "mask_after_slice": lambda be: (slice(None), M(be, [1, 0, 1, 1, 0])),
    "mask_2d_after_int": lambda be: (1, be.array(np.random.default_rng(3).random((5, 6)) > 0.5, "bool")),
    "mask_sole_2d": lambda be: be.array(np.random.default_rng(4).random((4, 5)) > 0.5, "bool"),
    "mask_sole_full": lambda be: be.array(np.random.default_rng(5).random((4, 5, 6)) > 0.5, "bool"),
    "mask_ellipsis": lambda be: (Ellipsis, M(be, [1, 0, 0, 1, 1, 0])),
    "all_arrays": lambda be: (I(be, 0, 3), I(be, 1, 4), I(be, 5, 0)),
    "arrays_and_ints": lambda be: (I(be, 0, 3), 2, I(be, 5, 0)),
}

# keys whose index arrays carry the batch (and take/take_along_axis with batched indices)
BATCHED_INDEX = {
    "first": lambda be: (lambda a, i: a[i, ...], [A(be, (B, 4, 5, 6)), A(be, (B, 2), "idx4")]),
    "second": lambda be: (lambda a, i: a[:, i], [A(be, (B, 4, 5, 6)), A(be, (B, 2), "idx4")]),
    "apart": lambda be: (lambda a, i: a[i, :, i], [A(be, (B, 4, 5, 6)), A(be, (B, 2), "idx4")]),
    "with_constant_array": lambda be: (lambda a, i: a[i, 1:3, I(be, 0, 2)[:, None]],
                                       [A(be, (B, 4, 5, 6)), A(be, (B, 2), "idx4")]),
    "x_unbatched": lambda be: (lambda a, i: a[:, i], [A(be, (4, 5, 6)), be.array(np.array([[1, 3], [3, 0], [1, 1]]), "int64")],
                               (None, 0)),
    "x_unbatched_with_int": lambda be: (lambda a, i: a[i, 2], [A(be, (4, 5, 6)), A(be, (B, 2), "idx4")], (None, 0)),
    "x_unbatched_apart": lambda be: (lambda a, i: a[i, :, i], [A(be, (4, 5, 6)), A(be, (B, 2), "idx4")], (None, 0)),
    "negative_ellipsis": lambda be: (lambda a, i: a[..., i], [A(be, (B, 4, 5, 6)), A(be, (B, 3), "int")]),
    "zero_d": lambda be: (lambda a, i: a[1, i], [A(be, (B, 4, 5, 6)), A(be, (B,), "idx5")]),
    "zero_d_x_unbatched": lambda be: (lambda a, i: a[1, :, i], [A(be, (4, 5, 6)), I(be, 2, 2, 4)], (None, 0)),  # repeats
    "all_arrays": lambda be: (lambda a, i, j: a[i, j, I(be, 1, 5)],
                              [A(be, (B, 4, 5, 6)), A(be, (B, 2), "idx4"), A(be, (2,), "idx5", seed=1)], (0, 0, None)),
    "all_arrays_x_unbatched": lambda be: (lambda a, i, j: a[i, 3, j],
                                          [A(be, (4, 5, 6)), A(be, (B, 2), "idx4"), A(be, (B, 1), "idx6", seed=1)],
                                          (None, 0, 0)),
    "argmax_index": lambda be: (lambda a: a[xa.argmax(a[:, 0, 0]), ...], [A(be, (B, 4, 5, 6), "distinct")]),
    "argmax_index_second": lambda be: (lambda a: a[:, xa.argmax(a[0, 0, :]) % 5], [A(be, (B, 4, 5, 6), "distinct")]),
    "take_axis1": lambda be: (lambda a, i: ad.take(a, i, axis=1), [A(be, (B, 4, 5, 6)), A(be, (B, 2), "idx5")]),
    "take_axis_neg_x_unbatched": lambda be: (lambda a, i: ad.take(a, i, axis=-1),
                                             [A(be, (4, 5, 6)), A(be, (B, 2), "idx6")], (None, 0)),
    "take_axis0_repeats": lambda be: (lambda a, i: ad.take(a, i, axis=0),
                                      [A(be, (B, 4, 5, 6)), be.array(np.array([[1, 1, 3]] * B), "int64")]),
    "take_1d": lambda be: (lambda a, i: ad.take(a, i), [A(be, (B, 5)), A(be, (B, 2), "idx5")]),
    "take_indices_unbatched": lambda be: (lambda a, i: ad.take(a, i, axis=2),
                                          [A(be, (B, 4, 5, 6)), I(be, 0, 5, 5)], (0, None)),
    "take_along_axis": lambda be: (lambda a, i: ad.take_along_axis(a, i, axis=1),
                                   [A(be, (B, 4, 5, 6)), A(be, (B, 4, 5, 6), "idx4")]),
    "take_along_axis_neg": lambda be: (lambda a, i: ad.take_along_axis(a, i, axis=-1),
                                       [A(be, (B, 4, 5, 6)), A(be, (B, 4, 5, 2), "idx6")]),
    "take_along_axis_x_unbatched": lambda be: (lambda a, i: ad.take_along_axis(a, i, axis=0),
                                               [A(be, (4, 5, 6)), A(be, (B, 2, 5, 6), "idx4")], (None, 0)),
    "take_along_axis_i_unbatched": lambda be: (lambda a, i: ad.take_along_axis(a, i, axis=0),
                                               [A(be, (B, 4, 5, 6)), A(be, (2, 5, 6), "idx4")], (0, None)),
    "sort_gather": lambda be: (lambda a: ad.take_along_axis(a, ad.argsort(a, axis=-1), axis=-1),
                               [A(be, (B, 4, 5, 6), "distinct")]),
    # writes
    "setitem_slice": lambda be: (_sx((slice(1, 3), Ellipsis)), [A(be, (B, 4, 5)), A(be, (B, 5), seed=1)]),
    "setitem_slice_v_unbatched": lambda be: (_sx((slice(1, 3), Ellipsis)), [A(be, (B, 4, 5)), A(be, (5,), seed=1)],
                                             (0, None)),
    "setitem_slice_x_unbatched": lambda be: (_sx((slice(1, 3), Ellipsis)), [A(be, (4, 5)), A(be, (B, 5), seed=1)],
                                             (None, 0)),
    "setitem_ints_scalar": lambda be: (_sx((1, 2)), [A(be, (B, 4, 5)), A(be, (B,), seed=1)]),
    "setitem_array_rows": lambda be: (_sx((I(be, 0, 2), slice(None))), [A(be, (B, 4, 5)), A(be, (B, 5), seed=1)]),
    "setitem_array_int": lambda be: (_sx((I(be, 0, 2), 1)), [A(be, (B, 4, 5)), A(be, (B,), seed=1)]),
    "setitem_array_columns": lambda be: (_sx((slice(None), I(be, 0, 3))), [A(be, (B, 4, 5)), A(be, (B, 4, 2), seed=1)]),
    "setitem_mask": lambda be: (_sx((slice(None), M(be, [1, 0, 1, 0, 0]))), [A(be, (B, 4, 5)), A(be, (B,), seed=1)]),
    "setitem_sole_mask": lambda be: (_sx(M(be, [1, 0, 1, 1])), [A(be, (B, 4, 5)), A(be, (B, 5), seed=1)]),
    "setitem_ellipsis": lambda be: (_sx((Ellipsis, 0)), [A(be, (B, 4, 5)), A(be, (B, 4), seed=1)]),
    "setitem_negative_step": lambda be: (_sx((slice(None, None, -2),)), [A(be, (B, 4, 5)), A(be, (B, 5), seed=1)]),
    "setitem_batched_index": lambda be: (_setitem_idx, [A(be, (B, 4, 5)), A(be, (B, 2), "idx4"), A(be, (B, 5), seed=1)]),
    "setitem_batched_index_only": lambda be: (_setitem_idx, [A(be, (4, 5)), A(be, (B, 2), "idx4"), A(be, (5,), seed=1)],
                                              (None, 0, None)),
    "setitem_batched_index_and_v": lambda be: (_setitem_idx, [A(be, (4, 5)), A(be, (B, 2), "idx4"), A(be, (B, 5), seed=1)],
                                               (None, 0, 0)),
    "index_add": lambda be: (lambda v: ad.index_add(v, (slice(None), I(be, 1, 1, 3)), (4, 5)), [A(be, (B, 4, 3))]),
    "index_add_arrays": lambda be: (lambda v: ad.index_add(v, (I(be, 1, 1, 3), I(be, 0, 0, 4)), (4, 5)),
                                    [A(be, (B, 3))]),
}


def _make(table, name, be):
    spec = table[name](be)
    return spec if len(spec) == 3 else (spec[0], spec[1], 0)


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("name", sorted(OPS))
def test_ops(be, name):
    f, args, in_axes = _make(OPS, name, be)
    check(be, f, args, in_axes=in_axes)


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("name", sorted(SCALAR_EXAMPLES))
def test_scalar_examples(be, name):
    f, args, in_axes = _make(SCALAR_EXAMPLES, name, be)
    check(be, f, args, in_axes=in_axes)


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("name", sorted(KEYS))
def test_getitem_keys(be, name):
    key = KEYS[name](be)
    check(be, lambda a: a[key], [A(be, (B, 4, 5, 6))])
    check(be, lambda a: ad.sin(a)[key] * 2.0, [A(be, (4, 5, 6)), ], in_axes=None, axis_size=2)
    check(be, lambda a, b: (a * b)[key], [A(be, (B, 4, 5, 6)), A(be, (4, 5, 6), seed=1)], in_axes=(0, None))
    check(be, lambda a: a[key], [A(be, (4, B, 5, 6))], in_axes=1)  # the batch inside the indexed axes


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("name", sorted(BATCHED_INDEX))
def test_batched_indices_and_writes(be, name):
    f, args, in_axes = _make(BATCHED_INDEX, name, be)
    check(be, f, args, in_axes=in_axes)


@pytest.mark.parametrize("be", NUMPY + [b for b in OTHERS if b.name == "torch"], ids=str)
@pytest.mark.parametrize("rows", [[[1, 1], [0, 2], [3, 3]], [[0, 2], [1, 1], [3, 3]]])
def test_setitem_repeated_per_example_indices(be, rows):
    """x[i] = v with an index repeated in some examples only: the write x keeps
    gets the gradient, per example (the kept-writes mask was computed once, from
    the traced example, and frozen into vmap's and jit's programs)."""
    x, v = A(be, (B, 4, 5)), A(be, (B, 2, 5), seed=1)
    i = be.array(np.array(rows), "int64")
    check(be, _setitem_idx, [x, i, v])
    check(be, _setitem_idx, [example0(x), i, v], in_axes=(None, 0, 0))
    check(be, _setitem_idx, [example0(x), i, example0(v)], in_axes=(None, 0, None))
    x0 = example0(x)

    def f(v, i):
        y = ad.Variable(x0) * 1.0
        y[i] = v
        return ad.sum(y * x0)

    jg = ad.jit(ad.grad(f))
    for k in range(B):
        close(be, jg(example0(v), i[k, ...]), ad.grad(f)(example0(v), i[k, ...]), what=f"jit(grad) index {k}")


FWD_CASES = [c for c in CASES if c.name != "getitem_bool_mask"]


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("case", FWD_CASES, ids=lambda c: c.name)
def test_primitive_cases_forward_mode(be, case):
    """vmap of jvp, jacfwd and hessian (forward over reverse) against the loop:
    every primitive's JVP rule batched (comparisons recorded for the replay carry
    no tangent: jit/vmap of a jvp through where/maximum/clip used to crash)."""
    xs = batched_inputs(be, case, 2)
    w = be.array(np.random.default_rng(3).normal(size=np.shape(case.f(*[example0(x) for x in xs]))), "float64")
    tangents = [A(be, tuple(x.shape), seed=7 + k) for k, x in enumerate(xs)]

    def tangent_out(*a):
        n = len(a) // 2
        return ad.jvp(case.f, a[:n], a[n:])[1]

    close(be, ad.vmap(tangent_out)(*xs, *tangents), loop(tangent_out)(*xs, *tangents), what="vmap(jvp)")
    jf = ad.jacfwd(case.f, argnums=0)
    close(be, ad.vmap(jf)(*xs), loop(jf)(*xs), what="vmap(jacfwd)")
    h = ad.hessian(lambda *a: ad.sum(case.f(*a) * w), argnums=0)
    close(be, ad.vmap(h)(*xs), loop(h)(*xs), what="vmap(hessian)")
    close(be, ad.jit(h)(*[example0(x) for x in xs]), h(*[example0(x) for x in xs]), what="jit(hessian)")


@pytest.mark.parametrize("be", NUMPY + OTHERS, ids=str)
def test_integer_results_are_recomputed_not_frozen(be):
    """matrix_rank and searchsorted under jit: recomputed for each call (they were
    computed on raw arrays, outside the graph, and frozen at the traced call's value)."""
    ranks, rows = _ranks(be), _sorted_rows(be)
    rank = ad.jit(lambda m: ad.linalg.matrix_rank(m))
    ss = ad.jit(lambda a, v: ad.searchsorted(a, v))
    q = A(be, (4,), seed=1)
    for k in range(B):
        close(be, rank(ranks[k, ...]), ad.linalg.matrix_rank(ranks[k, ...]), what=f"jit matrix_rank {k}")
        close(be, ss(rows[k, ...], q), ad.searchsorted(rows[k, ...], q), what=f"jit searchsorted {k}")


# ----------------------------------------------------------------------------
# 3. in_axes / out_axes / axis_size / chunk_size / batch sizes
# ----------------------------------------------------------------------------


def _f3(a, b, c):
    """Three arguments, two outputs: an elementwise mix, a reduction and a matmul."""
    w = c * 0.0 + 1.5
    return ad.sum(ad.sin(a) * b, axis=0) + c * w, ad.matmul(a, c)


def _args3(be, n=4, dtype="float64"):
    # a: (n, 3, 5) batch first; b: (3, n, 5) batch in the middle; c: (5, n) batch last
    return [A(be, (n, 3, 5), dtype=dtype), A(be, (3, n, 5), dtype=dtype, seed=1), A(be, (5, n), dtype=dtype, seed=2)]


def _tree_fn(d, c):
    return {"p": d["u"] * c[0], "q": ad.sum(d["v"][1, ...]) * c[1]}


AXES = {
    "mixed": dict(in_axes=(0, 1, -1)),
    "list": dict(in_axes=[0, 1, 1]),
    "out_axes_tuple": dict(in_axes=(0, 1, -1), out_axes=(1, -1)),
    "out_axes_int_neg": dict(in_axes=(0, 1, -1), out_axes=-1),
    "axis_size_matches": dict(in_axes=(0, 1, -1), axis_size=4),
    "chunk_not_divisible": dict(in_axes=(0, 1, -1), chunk_size=3),
    "chunk_divisible": dict(in_axes=(0, 1, -1), chunk_size=2),
    "chunk_one": dict(in_axes=(0, 1, -1), chunk_size=1),
    "chunk_larger_than_batch": dict(in_axes=(0, 1, -1), chunk_size=10),
}


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("name", sorted(AXES))
def test_axes(be, name):
    check(be, _f3, _args3(be), **AXES[name])


@pytest.mark.parametrize("be", NUMPY, ids=str)
def test_unbatched_arguments_and_outputs(be):
    a, b, c = _args3(be)
    check(be, _f3, [a, b[:, 0, ...], c], in_axes=(0, None, 1))
    both = lambda x, y: (x * 2.0, ad.sum(y * y))  # the second output does not depend on the batch
    check(be, both, [a, c[:, 0, ...]], in_axes=(0, None), out_axes=(0, None))
    check(be, both, [a, c[:, 0, ...]], in_axes=(0, None), out_axes=(0, None), chunk_size=3)
    check(be, both, [a, c[:, 0, ...]], in_axes=(0, None), chunk_size=3)  # repeated along the batch
    check(be, lambda x: ad.sin(x) * 2.0, [c[:, 0, ...]], in_axes=None, axis_size=3)  # nothing mapped
    check(be, lambda x: ad.sin(x) * 2.0, [c[:, 0, ...]], in_axes=(None,), axis_size=2, out_axes=-1)


@pytest.mark.parametrize("be", NUMPY, ids=str)
def test_pytrees(be):
    a, b, c = _args3(be)
    check(be, _tree_fn, [{"u": a, "v": b}, (c, a)], in_axes=({"u": 0, "v": 1}, (1, 0)))
    check(be, _tree_fn, [{"u": a, "v": a}, (a, a)], in_axes=(0, 0))  # a prefix: one axis per argument
    check(be, _tree_fn, [{"u": a, "v": a}, (a[0, ...], a[0, ...])], in_axes=(0, None),
          out_axes={"p": 1, "q": 0})
    check(be, _tree_fn, [{"u": a, "v": a}, [c, c]], in_axes=({"v": 0, "u": 0}, [1, -1]))
    out = ad.vmap(lambda x, *, y: x * y)(a, y=a)  # keyword arguments are mapped over axis 0
    close(be, out, a * a)
    out = ad.vmap(lambda x: (x * 2.0, 3, None, "tag"))(a)  # Python values pass through as they are
    assert out[1:] == (3, None, "tag")
    close(be, out[0], a * 2.0)


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("name", ["first", "take_axis1", "setitem_batched_index", "argmax_index"])
def test_batch_of_one(be, name):
    f, args, in_axes = _make(BATCHED_INDEX, name, be)
    check(be, f, [x[:1, ...] if (in_axes == 0 or in_axes[k] == 0) else x for k, x in enumerate(args)],
          in_axes=in_axes)
    check(be, _f3, _args3(be, n=1), in_axes=(0, 1, -1))


EMPTY_OK = ["greater", "argmax_none", "isin_batched_set", "reshape_minus1", "reshape_minus1_middle", "repeat_none",
            "concat_none", "roll_none", "outer", "conv1d_filters_batched", "conv2d_filters_only", "conv_transpose1d",
            "max_pool2d", "group_norm", "embedding", "cumulative_sum_none_1d", "sort_axis0", "qr", "fft_n_axis",
            "cross_entropy", "attention", "matmul_vectors_both", "einsum"]


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("name", EMPTY_OK)
def test_empty_batch(be, name):
    f, args, in_axes = _make(OPS, name, be)
    check_empty(be, f, args, in_axes=in_axes)


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("name", ["first", "take_axis1", "setitem_batched_index", "argmax_index", "x_unbatched",
                                  "take_along_axis"])
def test_empty_batch_indexing(be, name):
    f, args, in_axes = _make(BATCHED_INDEX, name, be)
    check_empty(be, f, args, in_axes=in_axes)


@pytest.mark.xfail(strict=True, reason="anyad/vmap.py: an empty batch is traced on an example of zeros "
                   "(_Batch.example), on which inv/solve/cholesky raise LinAlgError: vmap of a linear solve "
                   "fails for B = 0 instead of returning an empty result")
@pytest.mark.parametrize("be", NUMPY, ids=str)
def test_empty_batch_linalg(be):
    f, args, in_axes = _make(OPS, "solve_matrix", be)
    check_empty(be, f, args, in_axes=in_axes)


# ----------------------------------------------------------------------------
# 4. Composition: nested vmap, jit, grad w.r.t. closures, hessian, jacobians
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("be", NUMPY, ids=str)
def test_nested(be):
    x, b = A(be, (2, 3, 4)), A(be, (3, 4), seed=9)
    f = lambda a, c: ad.sum(a * c) * a + ad.cumulative_sum(c)
    vv = ad.vmap(ad.vmap(f, in_axes=(0, None)), in_axes=(1, 0))
    ll = loop(loop(f, in_axes=(0, None)), in_axes=(1, 0))
    close(be, vv(x, b), ll(x, b))
    close(be, ad.grad(lambda a, c: ad.sum(vv(a, c) ** 2), argnums=(0, 1))(x, b),
          ad.grad(lambda a, c: ad.sum(ll(a, c) ** 2), argnums=(0, 1))(x, b))
    g = lambda a: ad.cumulative_sum(a) * a[0]
    close(be, ad.vmap(ad.vmap(g, out_axes=-1), in_axes=1, out_axes=1)(x),
          loop(loop(g, out_axes=-1), in_axes=1, out_axes=1)(x))
    # per-example gradients inside a vmap of a vmap, with a batched index
    i = be.array(np.array([[0, 2, 2, 1], [1, 1, 0, 2]]), "int64")
    h = lambda a, k: ad.sum(ad.tanh(a[k]) * a)
    vg = ad.vmap(ad.vmap(ad.grad(h), in_axes=(1, 0)), in_axes=(0, 0))
    lg = loop(loop(ad.grad(h), in_axes=(1, 0)), in_axes=(0, 0))
    close(be, vg(x, i), lg(x, i))


@pytest.mark.parametrize("be", NUMPY, ids=str)
def test_jit_of_vmap_and_vmap_of_jit(be):
    jf = ad.jit(ad.vmap(_f3, in_axes=(0, 1, -1)))
    for s in range(3):  # later calls replay the program with new values
        args = [A(be, (4, 3, 5), seed=s), A(be, (3, 4, 5), seed=s + 10), A(be, (5, 4), seed=s + 20)]
        close(be, jf(*args), loop(_f3, in_axes=(0, 1, -1))(*args))
    check(be, ad.jit(_f3), _args3(be), in_axes=(0, 1, -1))
    h = lambda a: a[xa.argmax(a[:, 0, ...]), ...] * ad.sort(a, axis=0)
    jh = ad.jit(ad.vmap(h))
    for s in range(3):
        a = A(be, (B, 3, 5), "distinct", seed=s)
        close(be, jh(a), loop(h)(a))
    per = ad.grad(lambda a, k: ad.sum(ad.sin(a[k]) * a[0]))
    jg = ad.jit(ad.vmap(per))
    for s in range(2):
        a, k = A(be, (B, 4, 5), seed=s), A(be, (B, 2), "idx4", seed=s)
        close(be, jg(a, k), loop(per)(a, k))


@pytest.mark.parametrize("be", NUMPY, ids=str)
def test_gradient_of_closure_variable(be):
    x = A(be, (B, 3, 5))
    W = ad.Variable(A(be, (5, 2), seed=4), requires_grad=True)
    want = ad.grad(lambda w: ad.sum(loop(lambda a: ad.tanh(ad.matmul(a, w)))(x) ** 2))(W.value)
    out = ad.vmap(lambda a: ad.tanh(ad.matmul(a, W)))(x)
    ad.sum(out ** 2).backward()
    close(be, W.grad, want)
    W.grad = None
    out = ad.vmap(lambda a: ad.tanh(ad.matmul(a, W)), chunk_size=2)(x)
    ad.sum(out ** 2).backward()
    close(be, W.grad, want)


@pytest.mark.parametrize("be", NUMPY, ids=str)
def test_hessian_and_jacobians_under_vmap(be):
    h = lambda a: ad.sum(ad.sin(a) * a[0]) * ad.sum(a ** 3)
    check(be, ad.hessian(h), [A(be, (B, 3))])
    j = lambda a, b: ad.tanh(ad.matmul(a, b))
    check(be, ad.jacrev(j, argnums=(0, 1)), [A(be, (B, 3)), A(be, (3, 2), seed=1)], in_axes=(0, None))
    check(be, ad.jacfwd(j, argnums=(0, 1)), [A(be, (B, 3)), A(be, (B, 3, 2), seed=1)])

    def jvp_vjp(a, t):
        g = lambda x: ad.sin(x) * ad.sum(x)
        _, back = ad.vjp(g, a)
        return ad.jvp(g, (a,), (t,))[1] + back(t)[0]

    check(be, jvp_vjp, [A(be, (B, 3)), A(be, (B, 3), seed=3)])
    check(be, ad.checkpoint(lambda a: ad.sin(a) * a), [A(be, (B, 3))])


# ----------------------------------------------------------------------------
# 5. Other backends (a representative subset), float32, no host conversion
# ----------------------------------------------------------------------------

# per-example code that array_api_strict accepts (no slices beside index arrays, explicit Ellipsis)
SUBSET_OPS = ["greater", "where_masks", "argmax_none", "argmin_neg_axis", "sort_axis0", "argsort", "all_axis",
              "isin_batched_set", "floor_divide_int", "bitwise_and_or_xor", "cumulative_prod_initial", "flip_none",
              "roll_none", "expand_dims_several", "reshape_minus1", "concat_none", "stack_neg", "clip_array_bounds",
              "logsumexp_neg", "softmax_axis0", "fft_n_axis", "irfft_rfft", "solve_vector", "solve_matrix_b_only",
              "slogdet", "cholesky", "eigh_values", "svd_values", "qr", "pinv", "matrix_norm_nuc", "matrix_rank",
              "searchsorted", "conv1d_filters_batched", "conv2d", "max_pool2d", "batch_norm_affine", "layer_norm",
              "cross_entropy", "special_unary", "special_real_line", "matmul_vectors_both", "einsum"]
SUBSET_INDEX = ["all_arrays", "all_arrays_x_unbatched", "take_axis1", "take_axis_neg_x_unbatched", "take_1d",
                "take_along_axis", "take_along_axis_x_unbatched", "sort_gather", "setitem_slice",
                "setitem_slice_x_unbatched", "setitem_sole_mask", "setitem_ellipsis", "index_add_arrays"]
SUBSET_KEYS = ["ellipsis_int", "int_ellipsis_none", "mask_sole_2d", "mask_sole_full", "all_arrays", "arrays_and_ints"]
TORCH_ONLY_INDEX = ["first", "second", "apart", "with_constant_array", "x_unbatched", "zero_d", "zero_d_x_unbatched",
                    "argmax_index", "setitem_batched_index", "setitem_batched_index_and_v", "setitem_mask"]
TORCH_ONLY_KEYS = ["int", "slice", "none", "array", "array_2d", "arrays_adjacent", "int_slice_array", "slice_int_array", "array_int_slice", "zero_d_array", "zero_d_and_array",
                   "none_arrays_apart", "arrays_apart", "mask_after_slice"]


@pytest.fixture
def host_sync_refused():
    """On array_api_strict: every conversion of an array to a host value raises."""
    strict = pytest.importorskip("array_api_strict")
    array_type = type(strict.ones(1))

    def refuse(name):
        def method(self, *args, **kwargs):
            raise AssertionError(f"host synchronisation: Array.{name} called")

        return method

    with pytest.MonkeyPatch.context() as mp:
        for name in ("__bool__", "__float__", "__int__", "__complex__", "__index__", "__array__"):
            mp.setattr(array_type, name, refuse(name), raising=False)
        yield mp


def _on(be, table, name, host_sync_refused):
    f, args, in_axes = _make(table, name, be)
    vf = ad.vmap(f, in_axes=in_axes)
    if be.name.startswith("strict"):  # the vmapped run and its gradients, with host conversion refused
        out = vf(*args)
        diff = tuple(k for k, a in enumerate(args) if _float(a))
        if diff and any(_float(o) for o in tree_flatten(out)[0]):
            ws = _weights(be, out, "float64", 1)
            ad.grad(_loss(vf, ws), argnums=diff)(*args)
        host_sync_refused.undo()
    check(be, f, args, in_axes=in_axes)


@pytest.mark.parametrize("be", OTHERS, ids=str)
@pytest.mark.parametrize("name", SUBSET_OPS)
def test_backends_ops(be, name, host_sync_refused):
    _on(be, OPS, name, host_sync_refused)


@pytest.mark.parametrize("be", OTHERS, ids=str)
@pytest.mark.parametrize("name", SUBSET_INDEX)
def test_backends_indexing(be, name, host_sync_refused):
    _on(be, BATCHED_INDEX, name, host_sync_refused)


@pytest.mark.parametrize("be", OTHERS, ids=str)
@pytest.mark.parametrize("name", SUBSET_KEYS)
def test_backends_keys(be, name):
    key = KEYS[name](be)
    check(be, lambda a: a[key], [A(be, (B, 4, 5, 6))])
    check(be, lambda a, b: (a * b)[key], [A(be, (B, 4, 5, 6)), A(be, (4, 5, 6), seed=1)], in_axes=(0, None))


@pytest.mark.parametrize("be", [b for b in OTHERS if b.name == "torch"], ids=str)
@pytest.mark.parametrize("name", TORCH_ONLY_INDEX + [f"key:{k}" for k in TORCH_ONLY_KEYS])
def test_torch_indexing(be, name):
    """torch indexes an int beside index arrays as basic indexing (numpy: as one
    more index array): vmap follows each library's own per-example layout."""
    if name.startswith("key:"):
        key = KEYS[name[4:]](be)
        check(be, lambda a: a[key], [A(be, (B, 4, 5, 6))])
        check(be, lambda a: a[key], [A(be, (4, B, 5, 6))], in_axes=1)
        return
    f, args, in_axes = _make(BATCHED_INDEX, name, be)
    check(be, f, args, in_axes=in_axes)


@pytest.mark.parametrize("be", NUMPY + OTHERS, ids=str)
def test_axes_and_composition_on_backends(be):
    check(be, _f3, _args3(be), in_axes=(0, 1, -1), out_axes=(1, -1))
    check(be, _tree_fn, [{"u": _args3(be)[0], "v": _args3(be)[1]}, (_args3(be)[2], _args3(be)[0])],
          in_axes=({"u": 0, "v": 1}, (1, 0)))
    x = A(be, (2, 3, 4))
    f = lambda a, c: ad.sum(a * c) * a
    close(be, ad.vmap(ad.vmap(f, in_axes=(0, None)), in_axes=(1, 0))(x, A(be, (3, 4), seed=9)),
          loop(loop(f, in_axes=(0, None)), in_axes=(1, 0))(x, A(be, (3, 4), seed=9)))
    close(be, ad.jit(ad.vmap(_f3, in_axes=(0, 1, -1)))(*_args3(be)), loop(_f3, in_axes=(0, 1, -1))(*_args3(be)))
    check(be, ad.hessian(lambda a: ad.sum(ad.sin(a) * a[0, ...]) * ad.sum(a ** 3)), [A(be, (B, 3))])


def test_chunks_on_array_api_strict(be):
    check(be, _f3, _args3(be), in_axes=(0, 1, -1), chunk_size=3)


@pytest.mark.parametrize("be", NUMPY + [b for b in OTHERS if b.name in ("torch", "strict-device1")], ids=str)
@pytest.mark.parametrize("name", ["where_masks", "softmax_axis0", "solve_vector", "conv2d", "layer_norm",
                                  "cross_entropy", "special_real_line", "matmul_vectors_both"])
def test_float32_kept(be, name):
    f, args, in_axes = _make(OPS, name, be)
    args = [ad.astype(a, xa.float32) if _float(a) else a for a in args]
    out = check(be, f, args, in_axes=in_axes, dtype="float32")
    assert all(str(o.dtype).endswith("float32") for o in tree_flatten(out)[0] if _float(o))
    g = ad.grad(lambda *a: ad.sum(tree_flatten(ad.vmap(f, in_axes=in_axes)(*a))[0][0]))(*args)
    assert str(g.dtype).endswith("float32")


# ----------------------------------------------------------------------------
# 6. Per-sample gradients of an nn model, against torch.func
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("be", NUMPY + [b for b in OTHERS if b.name in ("torch", "strict-device1")], ids=str)
def test_per_sample_gradients_match_torch_func(be):
    torch = pytest.importorskip("torch")
    from anyad import nn

    rng = np.random.default_rng(0)
    n, d, h, k = 16, 5, 7, 3
    model = nn.Sequential(nn.Linear(d, h, dtype="float64"), nn.ReLU(), nn.Linear(h, k, dtype="float64"))
    tmodel = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, k)).double()
    names = [name for name, _ in model.named_parameters()]
    weights = {name: rng.normal(size=tuple(p.value.shape)) for name, p in model.named_parameters()}
    x, y = rng.normal(size=(n, d)), rng.integers(0, k, size=n)

    def loss(params, xi, yi):
        logits = nn.functional_call(model, params, (ad.expand_dims(xi, axis=0),))
        return F.cross_entropy(logits, ad.expand_dims(yi, axis=0))

    params = {name: be.array(w) for name, w in weights.items()}
    grads = ad.vmap(ad.grad(loss), in_axes=(None, 0, 0))(params, be.array(x), be.array(y, "int64"))

    def tloss(p, xi, yi):
        out = torch.func.functional_call(tmodel, p, (xi.unsqueeze(0),))
        return torch.nn.functional.cross_entropy(out, yi.unsqueeze(0))

    tparams = {name: torch.tensor(w) for name, w in weights.items()}
    want = torch.func.vmap(torch.func.grad(tloss), in_dims=(None, 0, 0))(tparams, torch.tensor(x), torch.tensor(y))
    assert sorted(grads) == sorted(names)
    for name in names:
        got = be.to_numpy(grads[name])
        assert got.shape == (n,) + weights[name].shape
        np.testing.assert_allclose(got, want[name].numpy(), rtol=1e-10, atol=1e-10, err_msg=name)
    # and the loop of per-example gradients, and their mean = the batch gradient
    one = ad.grad(loss)(params, be.array(x)[3, ...], be.array(y, "int64")[3, ...])
    for name in names:
        np.testing.assert_allclose(be.to_numpy(one[name]), be.to_numpy(grads[name])[3], rtol=1e-12, atol=1e-13)
    batch = ad.grad(lambda p: F.cross_entropy(nn.functional_call(model, p, (be.array(x),)), be.array(y, "int64")))(
        params)
    for name in names:
        np.testing.assert_allclose(be.to_numpy(grads[name]).mean(axis=0), be.to_numpy(batch[name]),
                                   rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------
# 7. Errors
# ----------------------------------------------------------------------------


@pytest.fixture
def xy():
    be = NP
    return A(be, (3, 4)), A(be, (3, 5), seed=1)


def test_error_in_axes_structure(xy):
    x, y = xy
    f = lambda a, b: a[0] * b[0]
    with pytest.raises(ValueError, match=r"in_axes.*\(3 entries\).*do not match.*tuple of 2"):
        ad.vmap(f, in_axes=(0, 0, 0))(x, y)
    with pytest.raises(ValueError, match=r"in_axes\[0\].*keys.*do not match"):
        ad.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": x})
    with pytest.raises(ValueError, match=r"in_axes\[1\].*do not match.*list of 2"):
        ad.vmap(lambda a, t: a * t[0], in_axes=(0, (0, 0, 0)))(x, [x, x])
    with pytest.raises(TypeError, match="an int or None"):
        ad.vmap(f, in_axes=(True, 0))(x, y)
    with pytest.raises(TypeError, match="ints, None"):
        ad.vmap(f, in_axes=("0", 0))(x, y)
    with pytest.raises(ValueError, match="not an array; give it the axis None"):
        ad.vmap(lambda a, s: a * s, in_axes=(0, 0))(x, 2.0)


def test_error_axis_out_of_range(xy):
    x, y = xy
    with pytest.raises(ValueError, match=r"argument leaf 1 \(shape \(3, 5\)\): axis 2 is out of range.*rank 2"):
        ad.vmap(lambda a, b: a[0] * b[0], in_axes=(0, 2))(x, y)
    with pytest.raises(ValueError, match=r"out_axes.*axis 3 is out of range"):
        ad.vmap(lambda a: a * 2.0, out_axes=3)(x)


def test_error_inconsistent_sizes(xy):
    x, y = xy
    with pytest.raises(ValueError, match=r"different sizes \(argument leaf 0: 3, argument leaf 1: 5\)"):
        ad.vmap(lambda a, b: a[0] * b[0], in_axes=(0, 1))(x, y)
    with pytest.raises(ValueError, match=r"axis_size=4 but the mapped axes have size 3"):
        ad.vmap(lambda a: a * 2.0, axis_size=4)(x)


def test_error_out_axes_none_for_batched_output(xy):
    x, _ = xy
    with pytest.raises(ValueError, match=r"out_axes is None for output leaf 0.*differs between examples"):
        ad.vmap(lambda a: a * 2.0, out_axes=None)(x)
    with pytest.raises(ValueError, match=r"out_axes is None for output leaf 1"):
        ad.vmap(lambda a: (ad.sum(x), a * 2.0), out_axes=(None, None))(x)


def test_error_out_axes_structure(xy):
    x, _ = xy
    with pytest.raises(ValueError, match=r"out_axes.*\(3 entries\) do not match.*tuple of 2"):
        ad.vmap(lambda a: (a, a * 2.0), out_axes=(0, 0, 0))(x)
    with pytest.raises(ValueError, match=r"out_axes.*keys.*do not match"):
        ad.vmap(lambda a: {"p": a}, out_axes={"q": 0})(x)


def test_error_nothing_mapped(xy):
    x, _ = xy
    with pytest.raises(ValueError, match=r"nothing is mapped.*give axis_size"):
        ad.vmap(lambda a: a * 2.0, in_axes=None)(x)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        ad.vmap(lambda a: a, chunk_size=0)
    with pytest.raises(TypeError, match="expected a function"):
        ad.vmap(3)


def test_error_python_control_flow(xy):
    x, _ = xy

    def f(a):
        if ad.sum(a) > 0:
            return a
        return -a

    with pytest.raises(ad.TracingError, match=r"anyad.vmap:.*depends on the inputs of f.*anyad.where"):
        ad.vmap(f)(x)
    with pytest.raises(ad.TracingError, match=r"anyad.vmap"):
        ad.vmap(lambda a: a * float(a[0]))(x)


def test_custom_vjp_inside(xy):
    """A custom_vjp function (an opaque forward) runs once per example under vmap,
    with its own rules: values, per-example gradients and gradients of the vmap;
    an empty batch has no example to run it on (BatchingError naming it)."""
    from anyad.ops.batching import BatchingError

    x, _ = xy

    @ad.custom_vjp
    def fused_softplus(v):
        return np.logaddexp(0.0, v)

    fused_softplus.defvjp(lambda g, ans, v: g / (1.0 + ad.exp(-v)))
    check(NP, lambda a: fused_softplus(a) * 2.0, [x])
    check(NP, lambda a, c: a * fused_softplus(c), [x, x[0]], in_axes=(0, None))
    np.testing.assert_allclose(ad.vmap(ad.grad(lambda a: ad.sum(fused_softplus(a) ** 2)))(x),
                               2.0 * np.logaddexp(0.0, x) / (1.0 + np.exp(-x)))
    with pytest.raises(BatchingError, match=r"fused_softplus.*empty batch"):
        ad.vmap(lambda a: fused_softplus(a) * 2.0)(x[:0])


def test_error_batched_mask(xy):
    from anyad.ops.batching import BatchingError

    x, _ = xy
    with pytest.raises(BatchingError, match=r"boolean mask that differs between examples.*anyad.where"):
        ad.vmap(lambda a: ad.sum(a[a > 0.0]))(x)
    with pytest.raises(BatchingError, match=r"boolean mask that differs between examples"):
        ad.vmap(lambda a, m: a[m], in_axes=(0, 0))(x, x > 0.0)
    np.testing.assert_allclose(ad.vmap(lambda a: ad.sum(ad.where(a > 0.0, a, 0.0)))(x), np.sum(np.maximum(x, 0), 1))


def test_error_batched_parameter_without_rule(xy):
    from anyad.ops.batching import BatchingError

    x, _ = xy
    s = NP.array(np.sort(np.random.default_rng(0).normal(size=(3, 6)), axis=1))
    order = NP.array(np.tile(np.arange(6), (3, 1)), "int64")
    with pytest.raises(BatchingError, match=r"searchsorted.*'sorter'"):
        ad.vmap(lambda a, o, q: ad.searchsorted(a, q, sorter=o))(s, order, x)


# ----------------------------------------------------------------------------
# 8. Regressions: values frozen into traced programs, transforms of vmap,
#    complex examples, random keys and writes
# ----------------------------------------------------------------------------


def test_vmap_of_grad_gives_arrays_for_arrays(xy):
    """Arrays in, arrays out, also for per-example gradients (a Variable that
    requires grad from raw inputs refuses np.asarray, np.allclose, ...)."""
    x, y = xy

    @ad.custom_vjp
    def fused_softplus(v):
        return np.logaddexp(0.0, v)

    fused_softplus.defvjp(lambda g, ans, v: g / (1.0 + ad.exp(-v)))
    for f, args in [(lambda a: ad.sum(fused_softplus(a)), (x,)), (lambda a: ad.sum(ad.sin(a) * a), (x,)),
                    (lambda a, b: ad.sum(a) * ad.sum(b * b), (x, y))]:
        got = ad.vmap(ad.grad(f))(*args)
        assert not isinstance(got, ad.Variable), "vmap(grad(f)) of arrays returned a Variable"
        if len(args) == 2:
            assert isinstance(ad.vmap(ad.value_and_grad(f))(*args)[1], np.ndarray)


def test_stop_gradient_inside_vmap(be):
    x = A(be, (B, 4))
    for f in (lambda a: a * ad.stop_gradient(a), lambda a: ad.sin(a) * ad.stop_gradient(ad.cos(a) * a)):
        check(be, f, [x])


def test_error_random_draw_inside(xy):
    x, _ = xy
    g = ad.random.default_rng(0)
    with pytest.raises(ad.TracingError, match=r"normal\(\) while anyad.vmap traces.*Draw outside"):
        ad.vmap(lambda a: a * g.normal(size=(4,)))(x)
    with pytest.raises(ad.TracingError, match=r"bernoulli\(\) while anyad.vmap traces"):
        ad.vmap(lambda a: F.dropout(a, 0.5, g, training=True))(x)
    noise = g.normal(size=(3, 4))  # drawn outside, one per example, and mapped over
    np.testing.assert_allclose(ad.vmap(lambda a, e: a * e)(x, noise), x * noise)


@pytest.mark.parametrize("be", NUMPY, ids=str)
@pytest.mark.parametrize("case", FWD_CASES, ids=lambda c: c.name)
def test_primitive_cases_transforms_of_vmap(be, case):
    """hessian, jacfwd and jvp of a vmapped function against the same of the loop:
    the batched run's recorded graph differentiated twice and in forward mode."""
    xs = batched_inputs(be, case, 2)
    w = be.array(np.random.default_rng(3).normal(size=np.shape(loop(case.f)(*xs))), "float64")
    h = lambda g: ad.hessian(lambda a, *r: ad.sum(g(a, *r) * w))
    close(be, h(ad.vmap(case.f))(*xs), h(loop(case.f))(*xs), what="hessian(vmap(f))")
    close(be, ad.jacfwd(ad.vmap(case.f))(*xs), ad.jacfwd(loop(case.f))(*xs), what="jacfwd(vmap(f))")
    t = [ad.sin(x) for x in xs]
    close(be, ad.jvp(ad.vmap(case.f), xs, t)[1], ad.jvp(loop(case.f), xs, t)[1], what="jvp(vmap(f))")


def test_index_from_an_enclosing_jit_is_not_frozen():
    """An index array of an enclosing jit trace, read by vmap's batched run (it was
    frozen into the program: the first call's rows returned for every later k)."""
    T = np.random.default_rng(0).normal(size=(2, 4, 5))
    g = ad.jit(lambda k: ad.vmap(lambda t: t[k, ...])(T))
    for k in (np.array([3, 0]), np.array([1, 2])):
        np.testing.assert_allclose(g(k), T[:, k])


def test_index_from_an_outer_vmap_is_not_frozen():
    T = np.random.default_rng(0).normal(size=(2, 4, 5))
    k = np.array([[3, 0], [1, 2]])
    np.testing.assert_allclose(ad.vmap(lambda i: ad.vmap(lambda t: t[i, ...])(T))(k),
                               np.stack([T[:, i] for i in k]))


@pytest.mark.parametrize("jac", ["jacfwd", "hessian"])
def test_jit_of_jacobian_with_a_traced_index(jac):
    """jacfwd/hessian vmap over the tangents: under jit, the traced index reaches
    vmap's batched run as a parameter (it was frozen at the first call's index)."""
    x = np.random.default_rng(0).normal(size=(4,))
    f = (lambda x, i: ad.sin(x[i])) if jac == "jacfwd" else (lambda x, i: ad.sum(ad.sin(x[i])))
    direct = getattr(ad, jac)(f)
    jitted = ad.jit(direct)
    for i in (np.array([0, 1]), np.array([3, 2])):
        np.testing.assert_allclose(jitted(x, i), direct(x, i))


@pytest.mark.parametrize("be", NUMPY + OTHERS, ids=str)
def test_traced_index_of_a_constant_array_under_jit(be):
    """take/getitem/setitem of an array captured as a constant, at an index the
    jitted function receives: recomputed per call (it was computed once)."""
    from anyad.ops.indexing import getitem, setitem

    T, T1 = A(be, (4, 5)), A(be, (4,), seed=1)
    fs = [lambda k: ad.take(T, k, axis=0), lambda k: getitem(T1, k)]
    if not be.name.startswith("strict"):  # array_api_strict has no integer-array writes
        fs.append(lambda k: setitem(T1, k, 0.0))
    for f in fs:
        g = ad.jit(f)
        for k in ([3, 0], [1, 2]):
            close(be, g(I(be, *k)), f(I(be, *k)), what=f"index {k}")


@pytest.mark.parametrize("be", NUMPY + [b for b in OTHERS if b.name == "torch"], ids=str)
def test_traced_indices_of_a_constant_array_take_along_axis(be):
    """take_along_axis of a constant array at traced indices (argsort of an input), under jit and vmap."""
    T = A(be, (4, 5))
    f = lambda s: ad.take_along_axis(T, ad.argsort(T * s, axis=1), axis=1)
    g = ad.jit(f)
    for s in (1.0, -1.0):
        sv = be.array(np.full(5, s))
        close(be, g(sv), f(sv), what=f"jit, sign {s}")
    check(be, f, [be.array(np.array([[1.0] * 5, [-1.0] * 5]))])


@pytest.mark.parametrize("be", NUMPY + [b for b in OTHERS if b.name == "torch"], ids=str)
def test_complex_examples(be):
    """Complex inputs: values, gradients of a real loss (PyTorch's convention) through
    vmap, and per-example gradients, against the loop."""
    rng = np.random.default_rng(0)
    z = be.array(rng.normal(size=(B, 4)) + 1j * rng.normal(size=(B, 4)), "complex128")
    m = be.array(rng.normal(size=(B, 4, 4)) + 1j * rng.normal(size=(B, 4, 4)) + 4 * np.eye(4), "complex128")
    for f, args in [(lambda a: ad.real(a * ad.conj(a)), [z]), (lambda mm, a: ad.abs(ad.matmul(mm, a)), [m, z]),
                    (lambda a: ad.abs(ad.fft.fft(a)), [z]), (lambda mm: ad.real(ad.linalg.inv(mm)), [m]),
                    (lambda a: ad.imag(ad.exp(a)), [z])]:
        nums = tuple(range(len(args)))
        loss = lambda g: (lambda *a: ad.sum(g(*a)))
        close(be, ad.vmap(f)(*args), loop(f)(*args), what="value")
        close(be, ad.grad(loss(ad.vmap(f)), argnums=nums)(*args), ad.grad(loss(loop(f)), argnums=nums)(*args),
              what="grad(vmap(f))")
        close(be, ad.vmap(ad.grad(loss(f), argnums=nums))(*args), loop(ad.grad(loss(f), argnums=nums))(*args),
              what="vmap(grad(f))")


def _random_key(rng, shape, n_batch):
    """A random per-example key for an array of ``shape``: ints, slices (negative
    steps too), None, one Ellipsis, constant boolean masks, integer arrays (0-d,
    1-d, 2-d; batched or not).
    Returns the parts, an index array part being ``(batched, data)``."""
    parts, used_ellipsis, dims = [], False, 0
    for _ in range(int(rng.integers(1, 4))):
        r = rng.random()
        if r < 0.2 and dims < len(shape):
            parts.append(int(rng.integers(-shape[dims], shape[dims])))
            dims += 1
        elif r < 0.4 and dims < len(shape):
            step = int(rng.integers(-2, 3)) or 1
            parts.append(slice(None, None, step) if rng.random() < 0.5 else slice(1, None, step))
            dims += 1
        elif r < 0.5:
            parts.append(None)
        elif r < 0.6 and not used_ellipsis:
            parts.append(Ellipsis)
            used_ellipsis = True
        elif r < 0.7 and dims < len(shape):  # a constant boolean mask over one or two axes
            k = int(rng.integers(1, min(2, len(shape) - dims) + 1))
            parts.append((False, rng.random(shape[dims:dims + k]) > 0.4))
            dims += k
        elif dims < len(shape):
            nd = int(rng.integers(0, 3))
            batched = bool(rng.random() < 0.5)
            size = ((n_batch,) if batched else ()) + ((2,) * nd if nd < 2 else (2, 1))
            parts.append((batched, rng.integers(-shape[dims], shape[dims], size=size)))
            dims += 1
    return parts


@pytest.mark.parametrize("be,n", [(b, {"numpy": 300, "torch": 150}.get(b.name, 200)) for b in NUMPY + OTHERS], ids=str)
def test_random_keys(be, n):
    """Random keys (seeded) against the loop: x batched on a random axis or not,
    index arrays batched or not; values, grad of vmap and vmap of grad. Keys the
    backend refuses for one example are skipped."""
    rng = np.random.default_rng(12345)
    shape, done = (4, 5, 6), 0
    for _ in range(n):
        parts = _random_key(rng, shape, B)
        arrays = [p for p in parts if isinstance(p, tuple)]
        x_batched = rng.random() < 0.7 or not any(p[0] for p in arrays)
        ax = int(rng.integers(0, 4)) if x_batched else None

        def f(x, *idx, parts=parts):
            it = iter(idx)
            return ad.sin(x)[tuple(next(it) if isinstance(p, tuple) else p for p in parts)] * 2.0

        x = A(be, shape[:ax] + (B,) + shape[ax:] if x_batched else shape, seed=int(rng.integers(100)))
        idx = [be.array(p[1], "bool" if p[1].dtype == bool else "int64") for p in arrays]
        in_axes = (ax,) + tuple(0 if p[0] else None for p in arrays)
        try:  # a key this library refuses for one example (torch: negative steps; strict: most mixes)
            one = f(_example(x, ax, 0), *[_example(i, a, 0) for i, a in zip(idx, in_axes[1:])])
            ad.grad(lambda v: ad.sum(f(v, *[_example(i, a, 0) for i, a in zip(idx, in_axes[1:])])))(
                _example(x, ax, 0))
        except (IndexError, ValueError, TypeError):
            continue
        assert one is not None
        check(be, f, [x] + idx, in_axes=in_axes)
        done += 1
    assert done >= n // 10, f"only {done} of {n} random keys were valid on {be.name}"


@pytest.mark.parametrize("be", NUMPY + OTHERS, ids=str)
def test_gradient_of_zero_d_index_keys(be):
    """x[i, j, 5] and x[i, ..., None] with 0-d index arrays: their gradient's write
    (array_api_strict has no integer-array writes, even 0-d; a None beside an index
    array was dropped from the wrong axis), plain and under vmap."""
    i, j = be.array(np.array(-1), "int64"), be.array(np.array(1), "int64")
    x = A(be, (4, 5, 6))
    keys = [((i, j, 5), (-1, 1, 5))] + ([((i, Ellipsis, None), (-1, Ellipsis, None))]
                                        if not be.name.startswith("strict") else [])
    for key, ints in keys:
        f = lambda v: ad.sin(v)[key] * 2.0
        want = np.zeros((4, 5, 6))
        want[ints[:2] if ints[1] is Ellipsis else ints] = 2.0 * np.cos(be.to_numpy(x)[ints])[..., 0] \
            if ints[-1] is None else 2.0 * np.cos(be.to_numpy(x)[ints])
        np.testing.assert_allclose(be.to_numpy(ad.grad(lambda v: ad.sum(f(v)))(x)), want, rtol=1e-12)
        check(be, f, [A(be, (B, 4, 5, 6))])
    check(be, lambda v, k: ad.sin(v)[k, j, 5], [A(be, (4, 5, 6)), be.array(np.array([3, 1, 3]), "int64")],
          in_axes=(None, 0))


@pytest.mark.parametrize("be,n", [(b, {"numpy": 200, "torch": 120}.get(b.name, 300)) for b in NUMPY + OTHERS], ids=str)
def test_random_writes(be, n):
    """x[key] = v inside f for random keys (as test_random_keys), x and v batched
    or not, v of a shape that broadcasts into the selection; against the loop."""
    rng = np.random.default_rng(54321)
    shape, done = (4, 5, 6), 0
    for t in range(n):
        parts = _random_key(rng, shape, B)
        arrays = [p for p in parts if isinstance(p, tuple)]
        x_batched, v_batched = bool(rng.random() < 0.6), bool(rng.random() < 0.6)
        ax = int(rng.integers(0, 4)) if x_batched else None

        def key_of(idx, parts=parts):
            it = iter(idx)
            return tuple(next(it) if isinstance(p, tuple) else p for p in parts)

        try:
            sel = tuple(np.zeros(shape)[key_of([p[1][0] if p[0] else p[1] for p in arrays])].shape)
        except IndexError:
            continue
        vshape = sel[int(rng.integers(0, len(sel) + 1)):]
        x = A(be, shape[:ax] + (B,) + shape[ax:] if x_batched else shape, seed=t)
        v = A(be, ((B,) if v_batched else ()) + vshape, seed=t + 1)
        idx = [be.array(p[1], "bool" if p[1].dtype == bool else "int64") for p in arrays]
        in_axes = (ax, 0 if v_batched else None) + tuple(0 if p[0] else None for p in arrays)
        if all(a is None for a in in_axes):
            continue

        def f(x, v, *idx, key_of=key_of):
            y = x * 1.0
            y[key_of(idx)] = v
            return y * y

        one = [_example(a, ia, 0) for a, ia in zip([x, v] + idx, in_axes)]
        try:  # a write this library refuses for one example
            f(*one)
            ad.grad(lambda a, b: ad.sum(f(a, b, *one[2:])), argnums=(0, 1))(*one[:2])
        except (IndexError, ValueError, TypeError, RuntimeError):
            continue
        check(be, f, [x, v] + idx, in_axes=in_axes)
        done += 1
    assert done >= n // 20, f"only {done} of {n} random writes were valid on {be.name}"
