"""What every benchmark sets up first: one thread per library, this checkout's code on the path,
and (where the figures are per core) the process pinned to one CPU core.

Call `single_threaded()` before numpy or torch are imported: their thread pools read the
environment once, at import.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def single_threaded() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
