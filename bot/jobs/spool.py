"""Input images of queued jobs: in memory up to a budget, beyond it in temporary files.

A queued /edit may wait up to MAX_QUEUE_WAIT (10 minutes) holding all its input images. The
first `budget` bytes of queued inputs stay in memory; a job whose inputs would pass it writes
them to files in `directory` and reads them back when it leaves the queue to run (running
jobs are already bounded by MAX_CONCURRENT_JOBS). Files are removed as soon as they are read
back or the job ends, and every file left by an earlier process is removed at start.

Alone on SQLite the process owns the whole folder. Several processes on one PostgreSQL
database may share it (one machine, one DATABASE_PATH): each then spools in a folder of its own
named after its lease's owner (`process_folder`) and clears only that one at start; a
process's folder goes once its lease is taken (bot/discord/takeover.py), so a starting process
never deletes a live one's inputs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, unquote

from bot.core.models import ImageRequest, InputImage

log = logging.getLogger(__name__)


class InputSpool:
    """Keeps queued jobs' input bytes within a memory budget, the rest on disk."""

    def __init__(self, directory: Path, budget: int) -> None:
        self.directory = directory
        self.budget = budget
        self.in_memory = 0  # input bytes of queued jobs held in memory
        self._sizes: dict[int, int] = {}  # job id -> its bytes counted in in_memory
        self._files: dict[int, list[Path]] = {}  # job id -> its spooled files

    def clear(self) -> None:
        """Remove what an earlier process left (its jobs were refunded or charged by now)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    async def keep(self, job_id: int, request: ImageRequest) -> ImageRequest:
        """The request to queue: as it is within the budget, else with its images on disk."""
        inputs = _inputs(request)
        size = sum(len(image.data) for image in inputs)
        if not size:
            return request
        if self.in_memory + size <= self.budget:
            self.in_memory += size
            self._sizes[job_id] = size
            return request
        paths = await asyncio.to_thread(self._write, job_id, inputs)
        self._files[job_id] = paths
        log.info("job %d: %d bytes of input images wait on disk", job_id, size)
        spooled = iter(
            replace(image, data=b"", spooled=path)
            for image, path in zip(inputs, paths, strict=True)
        )
        images = tuple(next(spooled) for _ in request.images)
        mask = next(spooled) if request.mask is not None else None
        return replace(request, images=images, mask=mask)

    async def restore(self, job_id: int, request: ImageRequest) -> ImageRequest:
        """The request to run: its images back in memory, its memory no longer counted as queued."""
        self._uncount(job_id)
        if not any(image.spooled for image in _inputs(request)):
            return request
        images = tuple([await _read(image) for image in request.images])
        mask = await _read(request.mask) if request.mask is not None else None
        self.discard(job_id)
        return replace(request, images=images, mask=mask)

    def discard(self, job_id: int) -> None:
        """Forget a job that ended (or left the queue): its count and its files."""
        self._uncount(job_id)
        for path in self._files.pop(job_id, []):
            path.unlink(missing_ok=True)

    def _uncount(self, job_id: int) -> None:
        self.in_memory -= self._sizes.pop(job_id, 0)

    def _write(self, job_id: int, inputs: list[InputImage]) -> list[Path]:
        self.directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for number, image in enumerate(inputs):
            path = self.directory / f"{job_id}-{number}-{secrets.token_hex(4)}.bin"
            path.write_bytes(image.data)
            paths.append(path)
        return paths


def process_folder(root: Path, owner: str) -> Path:
    """The spool folder of the process `owner` among several sharing `root`."""
    # Quoted: an owner is "host:pid:token", and ':' is no part of a folder name on Windows.
    return root / quote(owner, safe="")


def folder_owners(root: Path) -> list[str]:
    """The owners of the process folders under `root` (none if it does not exist)."""
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return []
    return sorted(unquote(entry.name) for entry in entries if entry.is_dir())


def remove_folders(root: Path, owners: list[str]) -> None:
    """Remove these processes' folders and what is in them (their jobs ended elsewhere)."""
    for owner in owners:
        shutil.rmtree(process_folder(root, owner), ignore_errors=True)


def _inputs(request: ImageRequest) -> list[InputImage]:
    return [*request.images, *([request.mask] if request.mask is not None else [])]


async def _read(image: InputImage) -> InputImage:
    if image.spooled is None:
        return image
    data = await asyncio.to_thread(image.spooled.read_bytes)
    return replace(image, data=data, spooled=None)
