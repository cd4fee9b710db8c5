"""anyad's torch namespace calls torch directly for two tensors of one dtype:
every result (value, dtype, shape, or the error raised) must be exactly what
array-api-compat's wrapper gives, for every pair of dtypes and 0-d operands."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")
ct = pytest.importorskip("array_api_compat.torch")

from anyad.backends.torch_namespace import _BINARY, torch_namespace  # noqa: E402

DTYPES = [torch.float32, torch.float64, torch.int32, torch.int64, torch.bool, torch.uint8, torch.int8,
          torch.complex64]


def _outcome(f, a, b):
    try:
        return f(a, b), None
    except Exception as e:  # the same error type from both
        return None, type(e)


def _same(r1, r2):
    if r1 is None or r2 is None:
        return r1 is r2
    return r1.dtype == r2.dtype and r1.shape == r2.shape and torch.equal(r1, r2) or (
        r1.dtype == r2.dtype and torch.allclose(r1.to(torch.complex128), r2.to(torch.complex128), equal_nan=True))


@pytest.mark.parametrize("name", _BINARY)
def test_binary_functions_match_the_compat_wrapper(name):
    xp = torch_namespace()
    shapes = [((2, 3), (3, 2)), ((), (3,))] if name == "matmul" else [((3,), (3,)), ((), (3,)), ((2, 3), (3,))]
    for d1, d2 in itertools.product(DTYPES, DTYPES):
        for s1, s2 in shapes:
            a = (torch.arange(1, 7) % 5)[: torch.Size(s1).numel()].reshape(s1).to(d1)
            b = (torch.arange(1, 7) % 4)[: torch.Size(s2).numel()].reshape(s2).to(d2)
            (r1, e1), (r2, e2) = _outcome(getattr(ct, name), a, b), _outcome(getattr(xp, name), a, b)
            assert e1 == e2, (name, d1, d2, s1, s2)
            assert _same(r1, r2), (name, d1, d2, s1, s2)


def test_sum_matches_the_compat_wrapper():
    xp = torch_namespace()
    for axis, keepdims, dtype in itertools.product([None, 0, 1, (0, 1), ()], [False, True],
                                                   [torch.float32, torch.int32, torch.bool]):
        x = torch.arange(6).reshape(2, 3).to(dtype)
        r1, r2 = ct.sum(x, axis=axis, keepdims=keepdims), xp.sum(x, axis=axis, keepdims=keepdims)
        assert r1.dtype == r2.dtype and r1.shape == r2.shape and torch.equal(r1, r2), (axis, keepdims, dtype)


def test_matrix_transpose_matches_the_compat_wrapper():
    xp = torch_namespace()
    for shape in [(2, 3), (4, 2, 3), (1, 1)]:
        x = torch.arange(float(torch.Size(shape).numel())).reshape(shape)
        assert torch.equal(xp.matrix_transpose(x), ct.matrix_transpose(x))
    for x in (torch.ones(3), torch.tensor(1.0)):
        with pytest.raises(ValueError):
            ct.matrix_transpose(x)
        with pytest.raises(ValueError):
            xp.matrix_transpose(x)


def test_anyad_computes_on_torch_through_it():
    import anyad as ad
    from anyad._backend import namespace_of

    assert namespace_of(torch.ones(2)) is torch_namespace()
    x = ad.Variable(torch.tensor([0.5, 1.0], dtype=torch.float64), requires_grad=True)
    ad.sum(ad.sin(x) * x).backward()
    assert torch.allclose(x.grad, torch.sin(x.value) + x.value * torch.cos(x.value))
