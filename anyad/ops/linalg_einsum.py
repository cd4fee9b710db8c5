"""einsum, composed from differentiable functions: a repeated index within one
operand is a ``diagonal``, an index kept by no one later is a ``sum``, and each
pair of operands is contracted by one batched ``matmul`` between
``permute_dims``/``reshape``. It needs no rule of its own, and so has
derivatives of every order, in reverse and forward mode.

Operands are contracted left to right (no search for a cheaper order).
"""

from __future__ import annotations

from typing import Any

from .linalg import matmul
from .linalg_composed import diagonal
from .manipulation import broadcast_to, permute_dims, reshape
from .reductions import sum

__all__ = ["einsum"]


def _fail(msg: str) -> ValueError:
    return ValueError(f"anyad.einsum: {msg}")


def _labels(term: str, ndim: int, k: int) -> list:
    """The labels of one operand's axes: letters, and for ``...`` the
    integers -n .. -1 (the broadcast axes, counted from the right)."""
    if term.count("...") > 1 or "." in term.replace("...", ""):
        raise _fail(f"operand {k}: '{term}' has a malformed ellipsis")
    head, dots, tail = term.partition("...")
    for c in head + tail:
        if not c.isalpha():
            raise _fail(f"operand {k}: '{c}' in '{term}' is not a letter")
    named = len(head) + len(tail)
    if not dots:
        if named != ndim:
            raise _fail(f"operand {k} has {ndim} axes but '{term}' names {named}")
        return list(term)
    n_ell = ndim - named
    if n_ell < 0:
        raise _fail(f"operand {k} has {ndim} axes but '{term}' names {named} besides '...'")
    return list(head) + list(range(-n_ell, 0)) + list(tail)


def _parse(subscripts: str, shapes: list) -> tuple[list, list]:
    """Per-operand labels and the output's labels."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise _fail(f"'{subscripts}' names {len(terms)} operands, {len(shapes)} were given")
    ins = [_labels(t, len(s), k) for k, (t, s) in enumerate(zip(terms, shapes))]
    n_ell = max((-min([lab for lab in ls if isinstance(lab, int)], default=0) for ls in ins), default=0)
    ell = list(range(-n_ell, 0))
    if arrow:
        if rhs.count("...") > 1 or "." in rhs.replace("...", ""):
            raise _fail(f"the output '{rhs}' has a malformed ellipsis")
        head, dots, tail = rhs.partition("...")
        if not dots and n_ell:
            raise _fail(f"the output '{rhs}' must keep the operands' '...' axes (write '...' in it)")
        out = list(head) + (ell if dots else []) + list(tail)
        named = [c for c in out if isinstance(c, str)]
        for c in named:
            if not c.isalpha():
                raise _fail(f"'{c}' in the output '{rhs}' is not a letter")
            if named.count(c) > 1:
                raise _fail(f"the output '{rhs}' names '{c}' twice")
            if not any(c in ls for ls in ins):
                raise _fail(f"the output names '{c}', which no operand has")
    else:  # NumPy's implicit output: the broadcast axes, then the letters seen once, sorted
        counts: dict = {}
        for ls in ins:
            for c in ls:
                if isinstance(c, str):
                    counts[c] = counts.get(c, 0) + 1
        out = ell + sorted(c for c, n in counts.items() if n == 1)
    return ins, out


def _sizes(ins: list, shapes: list) -> dict:
    """Each label's size; 1 broadcasts against n, anything else must agree."""
    size: dict = {}
    for k, (ls, s) in enumerate(zip(ins, shapes)):
        for lab, d in zip(ls, s):
            prev = size.get(lab)
            if prev is None or prev == 1:
                size[lab] = d
            elif d != prev and d != 1:
                name = "'...'" if isinstance(lab, int) else f"'{lab}'"
                raise _fail(f"index {name} has size {prev} in one operand and {d} in operand {k} "
                            f"(shapes {[tuple(x) for x in shapes]})")
    return size


def _take_diagonals(x: Any, ls: list) -> tuple[Any, list]:
    """Collapse labels repeated within one operand to their diagonal."""
    while True:
        dup = next((c for c in ls if ls.count(c) > 1), None)
        if dup is None:
            return x, ls
        i = ls.index(dup)
        j = ls.index(dup, i + 1)
        if x.shape[i] != x.shape[j]:
            raise _fail(f"index '{dup}' repeats within an operand of shape {tuple(x.shape)}, "
                        "on axes of different sizes")
        rest = [a for a in range(len(ls)) if a not in (i, j)]
        x = diagonal(permute_dims(x, tuple(rest + [i, j])))
        ls = [ls[a] for a in rest] + [dup]


def _sum_out(x: Any, ls: list, keep: set) -> tuple[Any, list]:
    axes = tuple(a for a, c in enumerate(ls) if c not in keep)
    if not axes:
        return x, ls
    return sum(x, axis=axes), [c for c in ls if c in keep]


def _expand(x: Any, ls: list, size: dict, labels: list) -> Any:
    """``x`` broadcast where a label of ``labels`` has size 1 in it but not overall."""
    shape = tuple(x.shape)
    want = tuple(size[c] if c in labels else d for c, d in zip(ls, shape))
    return x if want == shape else broadcast_to(x, want)


def _prod(ds: Any) -> int:
    n = 1
    for d in ds:
        n *= d
    return n


def _contract(a: Any, la: list, b: Any, lb: list, keep: set, size: dict) -> tuple[Any, list]:
    """``a`` and ``b`` contracted over their shared labels that ``keep`` lacks,
    by one batched matmul: (batch, free a, summed) @ (batch, summed, free b)."""
    shared = [c for c in la if c in lb]
    a, b = _expand(a, la, size, shared), _expand(b, lb, size, shared)
    batch = [c for c in shared if c in keep]
    summed = [c for c in shared if c not in keep]
    fa = [c for c in la if c not in lb]
    fb = [c for c in lb if c not in la]
    sa, sb = dict(zip(la, a.shape)), dict(zip(lb, b.shape))
    nb, nk = _prod(sa[c] for c in batch), _prod(sa[c] for c in summed)
    ma, mb = _prod(sa[c] for c in fa), _prod(sb[c] for c in fb)
    a3 = reshape(permute_dims(a, tuple(la.index(c) for c in batch + fa + summed)), (nb, ma, nk))
    b3 = reshape(permute_dims(b, tuple(lb.index(c) for c in batch + summed + fb)), (nb, nk, mb))
    out_shape = tuple(sa[c] for c in batch + fa) + tuple(sb[c] for c in fb)
    return reshape(matmul(a3, b3), out_shape), batch + fa + fb


def einsum(subscripts: str, /, *operands: Any) -> Any:
    """Einstein summation, as ``numpy.einsum`` (explicit ``->`` or implicit
    output, ``...`` for broadcast axes, repeated indices for diagonals).

    Differentiable to any order, in reverse and forward mode: it is composed
    from ``diagonal``, ``sum``, ``permute_dims``, ``reshape`` and ``matmul``.

    Examples
    --------
    >>> import anyad as ad
    >>> a = ad.Variable([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> ad.einsum("ij,jk->ik", a, a)
    Variable([[ 7. 10.]
              [15. 22.]])
    >>> ad.einsum("ii", a)                  # the trace
    Variable(5.0)
    >>> ad.sum(ad.einsum("ij,ij->i", a, a)).backward()
    >>> a.grad
    array([[2., 4.],
           [6., 8.]])
    """
    if not isinstance(subscripts, str):
        raise TypeError("anyad.einsum: the first argument is the subscripts string, e.g. "
                        "einsum('ij,jk->ik', a, b) (the interleaved form is not supported)")
    if not operands:
        raise _fail("no operands")
    shapes = [tuple(getattr(x, "shape", ())) for x in operands]
    ins, out = _parse(subscripts, shapes)
    size = _sizes(ins, shapes)
    needed_later = [set(out)]  # needed_later[k]: labels wanted after operand k is merged
    for ls in reversed(ins[1:]):
        needed_later.insert(0, needed_later[0] | set(ls))
    acc, lacc = None, []
    for k, (x, ls) in enumerate(zip(operands, ins)):
        keep = needed_later[k] if k + 1 < len(ins) else set(out)
        x, ls = _take_diagonals(x, ls)
        others = set(lacc) | keep
        x, ls = _sum_out(x, ls, others)  # indices only this operand has, wanted by no one
        if acc is None:
            acc, lacc = x, ls
        else:
            acc, lacc = _sum_out(acc, lacc, set(ls) | keep)
            acc, lacc = _contract(acc, lacc, x, ls, keep, size)
    acc, lacc = _sum_out(acc, lacc, set(out))
    acc = _expand(acc, lacc, size, lacc)
    if lacc != out:
        acc = permute_dims(acc, tuple(lacc.index(c) for c in out))
    return acc
