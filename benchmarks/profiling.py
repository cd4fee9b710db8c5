"""``--profile DIR``: where an implementation's time goes, function by function.

cProfile with a CPU-time clock (``time.thread_time``: steady on a shared
machine; the work of other threads, BLAS or XLA, is not counted), over a few
steps after the timed ones. The ``.prof`` files open with ``pstats`` or
snakeviz; the top of each is printed.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import time
from typing import Any, Callable

__all__ = ["profile_steps"]


def profile_steps(step: Callable, workload: str, key: str, directory: str, n: int, log: Any,
                  top: int = 15) -> str:
    """Profile ``n`` calls of ``step``; write the stats and log the top functions."""
    os.makedirs(directory, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{workload}__{key}").strip("_")
    path = os.path.join(directory, name + ".prof")
    prof = cProfile.Profile(time.thread_time)
    prof.enable()
    for _ in range(n):
        step()
    prof.disable()
    prof.dump_stats(path)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    body = text[text.find("ncalls"):] if "ncalls" in text else text
    log(f"   profile of {workload} / {key} ({n} steps, CPU time of this thread) -> {path}")
    for line in body.rstrip().splitlines():
        log("     " + line)
    return path
