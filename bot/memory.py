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
import ctypes.util
import gc
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)

# mallopt(3) parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Blocks below this come from the heap and are reused; larger ones are mapped and unmapped.
MMAP_THRESHOLD = 64 * 1024 * 1024
# Free memory at a heap's top is returned to the kernel only beyond this.
TRIM_THRESHOLD = 64 * 1024 * 1024
OPERATOR_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; False where they were left as they are.

    Left alone when the C library is not glibc (no mallopt) or the operator set glibc's
    own environment variables.
    """
    if any(name in os.environ for name in OPERATOR_VARIABLES):
        log.info("glibc malloc thresholds left as the environment sets them")
        return False
    mallopt = _mallopt()
    if mallopt is None:
        return False
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    done = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and done
    if not done:
        log.info("glibc refused the malloc thresholds; freed buffers go back to the kernel")
    return done


def freeze_startup_objects() -> int:
    """Move what start-up built (modules, the guild cache) out of the collector's scans.

    A full collection over them added 70-110 ms to a burst of 500 commands (DESIGN.md).
    Garbage is collected first so that it is not kept forever. Returns the frozen count.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _mallopt() -> Callable[[int, int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int)
    function.restype = ctypes.c_int
    return function
