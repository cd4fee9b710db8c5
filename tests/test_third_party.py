"""SciPy, scikit-learn and array-api-extra code differentiated through anyad
(``python -m benchmarks.third_party``), on NumPy arrays and on array_api_strict's
fake GPU device: every gradient is checked against central differences of the
same third-party code on NumPy and against torch running it on tensors.

No case may give a wrong gradient without an error; every case gives the right
one except those listed in KNOWN, which must fail the way they are listed
(loudly, with the message's key words), or start working.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("scipy")
pytest.importorskip("sklearn")
pytest.importorskip("array_api_extra")

ROOT = Path(__file__).resolve().parents[1]

_CONVERTS = "cannot convert a Variable that requires grad"
_LEFT = "left the namespace"
#: name -> (status, key words of the message, why): the cases anyad cannot differentiate
KNOWN = {
    "stats.ttest_ind(equal_var=False).pvalue": (
        "raises", "derivative with respect to its argument 'df'",
        "Welch's degrees of freedom depend on the data; d stdtr / d df has no closed form and is refused"),
    "special.chdtrc(3.0, x)": (
        "raises", "different array libraries",
        "device1 only: SciPy's chdtrc calls xp.isnan(3.0) on the Python number, which anyad makes on the "
        "default backend (NumPy); scipy.stats passes df as an array, which works"),
    "stats.norm.logpdf": ("raises", _CONVERTS, "scipy.stats distributions have no Array API path"),
    "integrate.simpson": ("raises", _CONVERTS, "SciPy's simpson converts with np.asarray"),
    "fft.dct": ("raises", _CONVERTS, "NumPy only in SciPy"),
    "fft.dst": ("raises", _CONVERTS, "NumPy only in SciPy"),
    "signal.detrend": ("raises", _CONVERTS, "NumPy only in SciPy"),
    "signal.convolve": ("raises", _CONVERTS, "NumPy only in SciPy (fftconvolve is not)"),
    "signal.correlate": ("raises", _CONVERTS, "NumPy only in SciPy"),
    **{f"metrics.{m}": ("raises", _LEFT, "scikit-learn returns float(...)") for m in (
        "mean_squared_error", "mean_absolute_error", "r2_score", "explained_variance_score",
        "mean_tweedie_deviance(power=0)", "mean_pinball_loss", "log_loss")},
}
#: on the fake device, a conversion may be refused by array_api_strict itself
DEVICE_WORDS = ("Can't convert array", "Unsupported device")


@pytest.fixture(scope="module", params=["numpy", "device1"])
def sweep(request, tmp_path_factory):
    if request.param == "device1":
        pytest.importorskip("array_api_strict")
    out = tmp_path_factory.mktemp("third_party") / f"{request.param}.json"
    env = dict(os.environ, SCIPY_ARRAY_API="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.third_party", "--backend", request.param,
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return request.param, json.loads(out.read_text()), proc


def test_no_case_gives_a_wrong_gradient_without_an_error(sweep):
    backend, records, proc = sweep
    wrong = [(r["name"], r.get("why")) for r in records if r["status"] == "WRONG"]
    assert wrong == [], wrong
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_every_case_is_right_or_fails_as_listed(sweep):
    backend, records, _ = sweep
    assert len(records) >= 120
    problems = []
    for r in records:
        if r["status"] == "correct":
            continue
        known = KNOWN.get(r["name"])
        message = r.get("error", "") + r.get("why", "")
        if known is None:
            problems.append((r["name"], r["status"], message[:200]))
        elif r["status"] != known[0] or not (known[1] in message or backend == "device1"
                                            and any(w in message for w in DEVICE_WORDS)):
            problems.append((r["name"], r["status"], message[:200], "expected", known[:2]))
    assert problems == [], problems


def test_at_least_85_percent_of_the_checkable_cases_differentiate(sweep):
    _, records, _ = sweep
    checkable = [r for r in records if r["status"] != "unchecked"]
    correct = [r for r in checkable if r["status"] == "correct"]
    assert len(correct) >= 0.85 * len(checkable), (len(correct), len(checkable))


def test_the_references_are_independent(sweep):
    """Most cases are checked against both central differences and torch."""
    _, records, _ = sweep
    both = [r for r in records if set(r.get("checked_against", ())) == {"finite differences", "torch"}]
    if pytest.importorskip("torch"):
        assert len(both) >= 80
