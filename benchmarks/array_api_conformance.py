"""Conformance of anyad.array_api to the Python Array API standard, measured with
the official test suite (data-apis/array-api-tests).

The suite is not part of anyad: check it out somewhere (with its ``array-api``
spec submodule) and install its requirements (pytest, hypothesis, ndindex;
pytest-json-report for the per-family breakdown)::

    git clone --recursive https://github.com/data-apis/array-api-tests
    python benchmarks/array_api_conformance.py --suite array-api-tests
    python benchmarks/array_api_conformance.py --suite array-api-tests --module array_api_strict

The suite is found from ``--suite``, else ``$ARRAY_API_TESTS_DIR``, else
``../array-api-tests`` or ``../ext/array-api-tests`` next to the repository.
When none is present the script says so and exits 0 (nothing to measure).

Printed: passed / failed / skipped of the collected tests, the pass rate
(passed / collected) and the failing tests grouped by test function (family).
``--min-rate`` makes the exit status 1 below a pass rate.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def find_suite(given: str | None) -> Path | None:
    candidates = [given, os.environ.get("ARRAY_API_TESTS_DIR"),
                  ROOT.parent / "array-api-tests", ROOT.parent / "ext" / "array-api-tests"]
    for c in candidates:
        if c and (Path(c) / "array_api_tests").is_dir():
            return Path(c).resolve()
    return None


def _has_json_report() -> bool:
    try:
        import pytest_jsonreport  # noqa: F401
    except ImportError:
        return False
    return True


def run(suite: Path, module: str, max_examples: int, extra: list, version: str | None) -> dict:
    """Run the suite; return counts and the failing test ids."""
    env = dict(os.environ, ARRAY_API_TESTS_MODULE=module)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if version:
        env["ARRAY_API_TESTS_VERSION"] = version
    cmd = [sys.executable, "-m", "pytest", "array_api_tests", f"--max-examples={max_examples}", "-q",
           "-p", "no:cacheprovider", "-rfE", *extra]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        if _has_json_report():
            cmd += ["--json-report", f"--json-report-file={report}"]
        print("running:", f"ARRAY_API_TESTS_MODULE={module}", " ".join(cmd[1:]), f"(in {suite})", flush=True)
        proc = subprocess.run(cmd, cwd=suite, env=env, capture_output=True, text=True)
        if report.exists():
            data = json.loads(report.read_text())
            s = data["summary"]
            failing = [t["nodeid"] for t in data["tests"] if t["outcome"] in ("failed", "error")]
            return {"passed": s.get("passed", 0), "failed": s.get("failed", 0) + s.get("error", 0),
                    "skipped": s.get("skipped", 0), "collected": s.get("collected", s.get("total", 0)),
                    "failing": failing, "returncode": proc.returncode, "tail": proc.stdout[-2000:]}
    # no JSON report: read pytest's own summary
    out = proc.stdout
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", out.splitlines()[-1]
                                                if out.strip() else "")}
    failing = [line.split()[1] for line in out.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    passed, skipped = counts.get("passed", 0), counts.get("skipped", 0)
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    return {"passed": passed, "failed": failed, "skipped": skipped, "collected": passed + failed + skipped,
            "failing": failing, "returncode": proc.returncode, "tail": out[-2000:]}


def families(failing: list) -> list:
    """Failing tests grouped by test function (special cases by their function under test)."""
    fam: collections.Counter = collections.Counter()
    for nodeid in failing:
        name = nodeid.split("::", 1)[-1]
        func, _, param = name.partition("[")
        if func.startswith("test_") and param and "(" in param and "special_cases" in nodeid:
            func = f"{func}[{param.split('(')[0]}]"
        fam[func] += 1
    return fam.most_common()


def main(argv: list | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", help="path to an array-api-tests checkout")
    p.add_argument("--module", default="anyad.array_api", help="namespace to test (ARRAY_API_TESTS_MODULE)")
    p.add_argument("--max-examples", type=int, default=10)
    p.add_argument("--version", help="ARRAY_API_TESTS_VERSION (default: the module's own)")
    p.add_argument("--min-rate", type=float, default=None, help="exit 1 below this pass rate (percent)")
    p.add_argument("--failing-out", help="write the failing test ids to this file, one a line")
    p.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --), e.g. -k linalg")
    args = p.parse_args(argv)
    suite = find_suite(args.suite)
    if suite is None:
        print("array-api-tests not found: pass --suite PATH or set ARRAY_API_TESTS_DIR (nothing measured)")
        return 0
    res = run(suite, args.module, args.max_examples, args.pytest_args, args.version)
    total = res["collected"]
    if total == 0:
        print("the suite collected nothing; its output ends with:\n" + res["tail"])
        return 1
    rate = 100.0 * res["passed"] / total
    print(f"{args.module}: {res['passed']} passed, {res['failed']} failed, {res['skipped']} skipped "
          f"of {total} collected; pass rate {rate:.2f}% (passed / collected)")
    if args.failing_out:
        Path(args.failing_out).write_text("".join(f"{t}\n" for t in res["failing"]))
    if res["failing"]:
        print("failing families (tests):")
        for name, n in families(res["failing"]):
            print(f"  {n:4d}  {name}")
    if args.min_rate is not None and rate < args.min_rate:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
