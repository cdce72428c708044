"""Files written ahead for the results store, so that keeping a result reuses resident pages.

Keeping a job's images is on its path between WisGate's answer and the charge. Written into
new files, the images need fresh page cache, and on a VM whose host takes freed memory back
(free page reporting, ballooning: the 2-core bench VM) every fresh page is a fault on the
host: ~5 ms for a 2 MB PNG, the largest step the bot adds to a job (bench/burst.py). A file
written ahead with zeros, off that path on its own thread, and then overwritten in place
costs ~0.5 ms: its pages are already there. In bench/burst.py (200 jobs, December 2026, the
same code with spare_bytes=0 against the default, two runs of two rounds each), the store's
save p50 was 10.7-13.8 ms without spares and 2.0-4.5 ms with them, and the bot's pipeline
overhead p50 2.0-2.35x the floor's without, 1.1-1.5x with. The price: up to `budget` bytes
of disk beside RESULTS_MAX_MB, and every image's bytes written twice (zeros, then the image).

A spare is claimed by renaming it to the image's final path (atomic: two takers, even in two
processes sharing RESULTS_DIR, never get the same one), then overwritten and cut to size. A
stop in between leaves a file no manifest names, which the store's next prune removes. The
spares live in `.spare/` under the store's root, at most `budget` bytes of them (they are
not results: not counted, never pruned); half-written ones are staged under another name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import stat
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

SPARE_FOLDER = ".spare"
SPARE_BYTES = 32 * 1024 * 1024  # the store's default: 16 spares of a 2 MB PNG
MAX_SPARES = 16  # a burst's first answers come together: up to MAX_CONCURRENT_JOBS at once
_ROUND = 64 * 1024  # spare sizes are rounded up to this
_STALE = 60.0  # seconds after which a staged spare is one a stop left behind
_SPARE = re.compile(r"spare-[0-9a-f]{16}")
_ZEROS = bytes(1024 * 1024)
_WRITE_FLAGS = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
_UID = os.getuid() if hasattr(os, "getuid") else 0


class SpareFiles:
    """Zero-filled files in `folder`, taken one per image by `take`, topped up by `refill` (on
    the caller's thread) or `refill_soon` (on the spares' own thread)."""

    def __init__(self, folder: Path, *, budget: int) -> None:
        self.folder = folder
        self.budget = budget
        self._thread = ThreadPoolExecutor(
            1, thread_name_prefix="results-spares", initializer=_yield_to_jobs
        )
        self._asked = False

    def refill_soon(self, size: int) -> None:
        """Ask for a refill on the spares' thread, unless one is waiting to begin already."""
        if self._asked:
            return  # the waiting one counts the spares when it begins: it tops up for both
        self._asked = True
        self._thread.submit(self._refill_when_asked, size)

    def close(self) -> None:
        """Stop the spares' thread after the refill under way (one waiting is dropped)."""
        self._thread.shutdown(wait=True, cancel_futures=True)

    def asked_done(self) -> Future[None]:
        """Done once every refill asked so far has ended (its one thread takes them in turn)."""
        return self._thread.submit(lambda: None)

    def _refill_when_asked(self, size: int) -> None:
        self._asked = False
        self.refill(size)

    def take(self, destination: Path, data: bytes) -> bool:
        """Write `data` to `destination` over a claimed spare; False if none could be used (then
        nothing is left at `destination` and the caller writes a new file)."""
        for name in self._spares():
            try:
                os.replace(self.folder / name, destination)  # the claim
            except FileNotFoundError:
                continue  # taken by another process first
            except OSError:
                return False
            try:
                _overwrite(destination, data)
            except OSError as error:
                log.warning("results store: a spare file could not be used (%s)", error)
                destination.unlink(missing_ok=True)
                return False
            return True
        return False

    def refill(self, size: int) -> None:
        """Write spares of at least `size` bytes until the budget's share is there."""
        size = max(_ROUND, -(-size // _ROUND) * _ROUND)
        wanted = min(MAX_SPARES, self.budget // size)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._drop_stale()
            for _ in range(wanted - len(self._spares())):
                self._write_spare(size)
        except OSError as error:
            log.warning("results store: could not write spare files (%s)", error)

    def _spares(self) -> list[str]:
        try:
            return [name for name in os.listdir(self.folder) if _SPARE.fullmatch(name)]
        except FileNotFoundError:
            return []

    def _write_spare(self, size: int) -> None:
        token = secrets.token_hex(8)
        staged = self.folder / f".staged-{token}"
        try:
            with staged.open("xb") as file:
                zeros = memoryview(_ZEROS)
                for start in range(0, size, len(_ZEROS)):
                    file.write(zeros[: size - start])
            os.replace(staged, self.folder / f"spare-{token}")  # whole before it can be taken
        except OSError:
            staged.unlink(missing_ok=True)  # a full disk: give the room back at once
            raise

    def _drop_stale(self) -> None:
        now = time.time()
        for path in self.folder.iterdir():
            if path.name.startswith(".staged-") and now - path.lstat().st_mtime > _STALE:
                path.unlink(missing_ok=True)


def _yield_to_jobs() -> None:
    """Lowest CPU priority for the calling thread (Linux sets it per thread): writing spares
    ahead must not slow the jobs' own steps. Left as it is where that cannot be done."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _overwrite(path: Path, data: bytes) -> None:
    """Write data over the start of the file at path, cut to its size: only a regular file of
    ours with no other name (never through a link, never into a file hard-linked elsewhere)."""
    fd = os.open(path, _WRITE_FLAGS)
    with os.fdopen(fd, "wb") as file:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1 or found.st_uid != _UID:
            raise OSError(f"{path.name} is not a spare file of ours")
        file.write(data)
        file.truncate(len(data))
