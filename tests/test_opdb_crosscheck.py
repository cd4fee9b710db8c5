"""The op_db cross-check (benchmarks/opdb_crosscheck.py) on a small subset of operations:
no silent wrong answer, and the tool itself still runs (torch's op_db API moves)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from benchmarks import opdb_crosscheck as oc  # noqa: E402

OPS = ["mul", "sin", "logaddexp", "sum", "prod", "amax", "var", "clamp", "linalg.vecdot", "linalg.det",
       "linalg.cholesky", "fft.rfft", "softmax", "nn.functional.cross_entropy", "index_add", "sort"]


def test_subset_has_no_mismatch():
    with np.errstate(all="ignore"):
        result = oc.sweep(OPS, max_samples=10)
    assert result["operations"] == len(OPS)
    assert result["samples"] > 200
    mismatches = [(r["op"], r["dtype"], r["sample"], r["notes"]) for r in result["records"]
                  if r["class"] == "MISMATCH"]
    assert mismatches == []
    # every derivative check ran somewhere and mostly matched
    checks = result["checks"]
    for what in ("forward", "grad", "jvp", "hvp"):
        assert checks.get(f"{what}:match", 0) > 100, checks
    assert oc.summary(result).startswith(f"operations mapped: {len(OPS)}")


def test_classifies_a_wrong_gradient_as_mismatch(monkeypatch):
    """A planted wrong rule (sin's gradient doubled) is caught and blamed on anyad."""
    import anyad as ad
    from benchmarks import opdb_table

    wrong = opdb_table.Spec(lambda x: ad.sin(x) + 0.5 * (ad.sin(x) - ad.stop_gradient(ad.sin(x))) * 2)
    monkeypatch.setitem(opdb_table.TABLE, "sin", wrong)
    monkeypatch.setattr(oc, "TABLE", opdb_table.TABLE)
    with np.errstate(all="ignore"):
        result = oc.sweep(["sin"], complex_=False, max_samples=12)
    classes = {r["class"] for r in result["records"] if r["shapes"] and np.prod(r["shapes"][0]) > 0}
    assert "MISMATCH" in classes
