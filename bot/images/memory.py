"""How the bot process holds memory: keep freed buffers mapped, freeze start-up objects.

Every job moves a few multi-megabyte buffers: the ~3 MB answer, the string orjson makes of
its base64, the decoded image, the upload's copy, several of them in worker threads. glibc
hands freed blocks that large back to the kernel (munmap, or trimming a heap's top), and
the next job faults the same pages in again. In bench/burst.py (8 jobs at a time, one
2 MB PNG each) that was ~1,700 page faults per job, the largest single cost on a job's
path on the 2-core VM. With both thresholds at 64 MiB, in one pair of 300-job runs: faults
per job 1,669 -> 94, pipeline overhead p50 38 -> 23 ms, WisGate parse hop p50 8.1 -> 1.2 ms,
peak RSS 123 -> 128 MiB. The mmap threshold at 32 MiB only cut the faults to ~780 per job.
An operator who sets glibc's own variables (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_)
keeps them.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import platform
from collections.abc import Callable

log = logging.getLogger(__name__)

# mallopt(3) parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Blocks below this come from the heaps and are reused; larger ones are mapped and unmapped.
# glibc before 2.35 refuses more than 32 MiB on 64-bit systems: that is the fallback.
MMAP_THRESHOLDS = (64 * 1024 * 1024, 32 * 1024 * 1024)
# Free memory at a heap's top is returned to the kernel only beyond this.
TRIM_THRESHOLD = 64 * 1024 * 1024
OPERATOR_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
OPERATOR_TUNABLES = ("glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; False where they were left as they are.

    Left alone when the C library is not glibc, or the operator set the thresholds (glibc's
    MALLOC_*_THRESHOLD_ variables or GLIBC_TUNABLES).
    """
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if any(name in os.environ for name in OPERATOR_VARIABLES) or any(
        name in tunables for name in OPERATOR_TUNABLES
    ):
        log.info("glibc malloc thresholds left as the environment sets them")
        return False
    mallopt = _mallopt()
    if mallopt is None:
        return False
    # The trim threshold only once an mmap threshold took: setting it alone would also fix
    # the mmap threshold at its 128 KiB start, which is worse than glibc's own adjustment.
    if not any(mallopt(M_MMAP_THRESHOLD, size) == 1 for size in MMAP_THRESHOLDS):
        log.info("glibc refused the malloc thresholds; freed buffers go back to the kernel")
        return False
    return mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


def freeze_startup_objects() -> int:
    """Move what start-up built (modules, the guild cache) out of the collector's scans.

    A full collection over them added 70-110 ms to a burst of 500 commands (docs/architecture.md).
    Garbage is collected first so that it is not kept forever. Returns the frozen count.
    The cost: if a later connection cannot resume, discord.py drops this first guild cache
    and the frozen copy (guilds, members and channels refer to each other) is never freed.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's mallopt, or None (musl has one that accepts nothing; others have none)."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        function = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int)
    function.restype = ctypes.c_int
    return function
