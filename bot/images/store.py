"""Generated images kept on disk until they are delivered, and for a while after.

The bot charges a member as soon as WisGate returns images, before it delivers them to
Discord. Every generated image is saved here first, so that a result Discord did not take
(the reply deleted, DMs closed, an outage, a stop) can be delivered again: by the member's
**Deliver again** button, or by the next start after a stop.

What the store promises:
- A folder per job, ``root/<job id>/``: its images and a ``manifest.json`` naming them, with
  the job's key, the save time, the usage and each image's metadata. A save or replace writes
  new image files first and then swaps the manifest in one atomic rename, so a stop at any
  point leaves the old result or the new one, never half of one; files no manifest names
  are removed by the next prune.
- A result loads only under the key it was saved with (bot.ledger.models.result_key: the
  job's member and creation time), so a store that outlives its database, or is shared with
  another whose job ids repeat, never hands one job's images to another.
- Nothing on disk is trusted beyond the manifest, which is checked too: file names of the
  store's own pattern only (no path can leave the folder), png/jpeg/webp only, sizes as
  recorded, no symbolic links followed.
- A result is kept `keep_days` after it was saved (an older one is absent even before a prune
  removes it); a prune keeps the store under `max_bytes`, removing delivered results before
  those still waiting for their member, oldest first. A result larger than the cap alone is
  still saved: it was charged, and losing it would be worse than passing the cap until then.
- Files in ``root`` that are not job folders are left alone (RESULTS_DIR may be shared).
- Every operation runs on the store's own thread, one after another in the order asked: the
  event loop only waits, and no two operations ever see each other half done.
- Images are written over files written ahead in ``root/.spare/`` by a second thread, at
  most `spare_bytes` of them (bot/images/spares.py: fresh page cache was a save's main cost).

Not fsynced: the ledger itself runs SQLite with synchronous=NORMAL, so a power cut may lose
its last transactions too; a stop of the process (SIGKILL included) loses nothing written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson

from bot.core.models import GeneratedImage, ImageFormat, Usage
from bot.images.spares import SPARE_BYTES, SPARE_FOLDER, SpareFiles

log = logging.getLogger(__name__)

T = TypeVar("T")
MANIFEST = "manifest.json"
DAY = 86_400.0
_EXTENSIONS: dict[ImageFormat, str] = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_FORMATS: dict[str, ImageFormat] = {"png": "png", "jpeg": "jpeg", "webp": "webp"}
_JOB_FOLDER = re.compile(r"[1-9][0-9]{0,18}")
_IMAGE_FILE = re.compile(r"[0-9]{1,3}-[0-9a-f]{8}\.(?:png|jpg|webp)")
_MAX_MANIFEST = 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A job's kept images, in order, and the usage the API reported."""

    job_id: int
    images: tuple[GeneratedImage, ...]
    usage: Usage | None


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune removed (whole results and stray files) and what it kept."""

    removed: int
    removed_bytes: int
    kept: int
    kept_bytes: int


class Damaged(ValueError):
    """A manifest or file that is not what the store writes."""


@dataclass(frozen=True, slots=True)
class _Manifest:
    key: str
    saved_at: float
    usage: Usage | None
    images: tuple[dict[str, Any], ...]  # file, format, width, height, revised_prompt, size


class ResultStore:
    """Generated images on disk, a folder per job, kept `keep_days`, at most `max_bytes` in all."""

    def __init__(
        self,
        root: Path,
        *,
        keep_days: float,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
        spare_bytes: int = SPARE_BYTES,
    ) -> None:
        if not keep_days > 0 or max_bytes < 0:
            raise ValueError("keep_days must be above 0 and max_bytes at least 0")
        self.root = root
        self._keep = keep_days * DAY
        self._max_bytes = max_bytes
        self._clock = clock
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="results")
        self._spares = SpareFiles(root / SPARE_FOLDER, budget=spare_bytes) if spare_bytes else None

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, partial(func, *args))

    async def save(
        self, job_id: int, key: str, images: Sequence[GeneratedImage], usage: Usage | None
    ) -> None:
        """Keep a job's images and usage under `key`, replacing whatever was kept for it.

        Raises ValueError for what could not be loaded back (no images, another format,
        empty data) and OSError when the disk fails.
        """
        entries = tuple(_entry(image) for image in images)
        if not entries or job_id < 1:
            raise ValueError("a result has a positive job id and at least one image")
        manifest = _Manifest(key, self._clock(), usage, entries)
        await self._run(self._write, job_id, tuple(images), manifest)
        self._refill_after(images)

    async def replace(self, job_id: int, key: str, images: Sequence[GeneratedImage]) -> bool:
        """Swap a kept result's images for re-encoded ones (usage and save time stay);
        False, keeping nothing, when no live result is kept under `key`."""
        entries = tuple(_entry(image) for image in images)
        replaced = await self._run(self._replace, job_id, key, tuple(images), entries)
        self._refill_after(images)
        return replaced

    async def load(self, job_id: int, key: str) -> StoredResult | None:
        """A kept result, or None if absent, expired, damaged, or saved under another key."""
        return await self._run(self._load, job_id, key)

    def has(self, job_id: int, key: str) -> bool:
        """Whether a live result is kept under `key` (a manifest read and a stat per file)."""
        try:
            self._live(job_id, key, check_files=True)
        except (OSError, Damaged):
            return False
        return True

    async def remove(self, job_id: int) -> None:
        """Forget a job's kept result; nothing kept is fine."""
        await self._run(shutil.rmtree, self._folder(job_id), True)

    async def prune(self, *, waiting: Collection[int] = ()) -> PruneReport:
        """Remove stray files, damaged and expired results, then the oldest until under the
        cap: delivered results first, those in `waiting` (still for their member) last."""
        return await self._run(self._prune, frozenset(waiting))

    def size_bytes(self) -> int:
        """Bytes in the job folders now."""
        return sum(_size(folder) for folder in self._job_folders())

    async def spares_written(self) -> None:
        """Wait for the spare files asked so far to be written (tests, benchmarks)."""
        if self._spares is not None:
            await asyncio.wrap_future(self._spares.asked_done())

    def close(self) -> None:
        """Stop the store's threads once their work ends (spares not yet begun are not)."""
        self._thread.shutdown(wait=True)
        if self._spares is not None:
            self._spares.close()

    def _refill_after(self, images: Sequence[GeneratedImage]) -> None:
        """Top the spares up for images like these, on their own thread (off the job's path)."""
        if self._spares is not None and images:
            self._spares.refill_soon(max(len(image.data) for image in images))

    # -- on the store's thread ------------------------------------------------------------

    def _folder(self, job_id: int) -> Path:
        if job_id < 1:
            raise ValueError("job ids are positive")
        return self.root / str(job_id)

    def _write(self, job_id: int, images: tuple[GeneratedImage, ...], manifest: _Manifest) -> None:
        folder = self._folder(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        for image, entry in zip(images, manifest.images, strict=True):
            path = folder / entry["file"]
            if self._spares is None or not self._spares.take(path, image.data):
                path.write_bytes(image.data)
        staged = folder / f".{MANIFEST}.{secrets.token_hex(4)}"
        staged.write_bytes(_dump(manifest))
        os.replace(staged, folder / MANIFEST)  # the one step that makes the new result live
        _drop_unnamed(folder, manifest)
        total = sum(int(entry["size"]) for entry in manifest.images)
        if total > self._max_bytes:
            log.warning("job %d's result (%d bytes) alone is over RESULTS_MAX_MB", job_id, total)

    def _replace(
        self, job_id: int, key: str, images: tuple[GeneratedImage, ...], entries: tuple[Any, ...]
    ) -> bool:
        try:
            kept = self._live(job_id, key, check_files=False)
        except (OSError, Damaged) as error:
            log.warning("job %d: no kept result to replace (%s)", job_id, error)
            return False
        self._write(job_id, images, _Manifest(key, kept.saved_at, kept.usage, entries))
        return True

    def _load(self, job_id: int, key: str) -> StoredResult | None:
        folder = self._folder(job_id)
        try:
            manifest = self._live(job_id, key, check_files=False)
            images = tuple(_image(folder, entry) for entry in manifest.images)
        except FileNotFoundError:
            return None
        except (OSError, Damaged) as error:
            log.warning("job %d: its kept result cannot be used (%s)", job_id, error)
            return None
        return StoredResult(job_id, images, manifest.usage)

    def _live(self, job_id: int, key: str, *, check_files: bool) -> _Manifest:
        folder = self._folder(job_id)
        manifest = _read_manifest(folder)
        if manifest.key != key:
            raise Damaged("kept under another key")
        if self._clock() - manifest.saved_at > self._keep:
            raise FileNotFoundError("expired")
        if check_files:
            _check_files(folder, manifest)
        return manifest

    def _prune(self, waiting: frozenset[int]) -> PruneReport:
        removed = removed_bytes = 0
        live: list[tuple[bool, float, int, Path]] = []  # (waiting, saved at, bytes, folder)
        for folder in self._job_folders():
            size = _size(folder)
            try:
                manifest = _read_manifest(folder)
                _check_files(folder, manifest)
                expired = self._clock() - manifest.saved_at > self._keep
            except (OSError, Damaged) as error:
                expired, why = True, f"damaged ({error})"
            else:
                why = "expired"
                if not expired:
                    removed_bytes += _drop_unnamed(folder, manifest)
                    live.append((int(folder.name) in waiting, manifest.saved_at, _size(folder),
                                 folder))  # fmt: skip
                    continue
            log.info("results store: removed job %s's result, %s", folder.name, why)
            shutil.rmtree(folder, ignore_errors=True)
            removed, removed_bytes = removed + 1, removed_bytes + size
        kept_bytes = sum(item[2] for item in live)
        live.sort()
        while live and kept_bytes > self._max_bytes:
            is_waiting, _, size, folder = live.pop(0)
            log.info("results store: removed job %s's result (%s) for room", folder.name,
                     "waiting" if is_waiting else "delivered")  # fmt: skip
            shutil.rmtree(folder, ignore_errors=True)
            removed, removed_bytes, kept_bytes = (
                removed + 1,
                removed_bytes + size,
                kept_bytes - size,
            )
        return PruneReport(removed, removed_bytes, len(live), kept_bytes)

    def _job_folders(self) -> list[Path]:
        try:
            return [
                path
                for path in self.root.iterdir()
                if _JOB_FOLDER.fullmatch(path.name) and path.is_dir() and not path.is_symlink()
            ]
        except FileNotFoundError:
            return []


def _entry(image: GeneratedImage) -> dict[str, Any]:
    """What the manifest records of one image, under a new file name of the store's pattern."""
    if image.format not in _EXTENSIONS or not image.data:
        raise ValueError("kept images are non-empty png, jpeg or webp")
    return {
        "file": f"{secrets.randbelow(1000)}-{secrets.token_hex(4)}.{_EXTENSIONS[image.format]}",
        "format": image.format,
        "width": image.width,
        "height": image.height,
        "revised_prompt": image.revised_prompt,
        "size": len(image.data),
    }


def _dump(manifest: _Manifest) -> bytes:
    usage = manifest.usage
    tokens = None if usage is None else [
        usage.input_text_tokens, usage.input_image_tokens, usage.output_tokens
    ]  # fmt: skip
    return orjson.dumps(
        {
            "key": manifest.key,
            "saved_at": manifest.saved_at,
            "usage": tokens,
            "images": list(manifest.images),
        }
    )


def _read_manifest(folder: Path) -> _Manifest:
    """The folder's manifest, checked field by field (Damaged if anything is off)."""
    raw = _read(folder / MANIFEST, _MAX_MANIFEST)
    try:
        data = orjson.loads(raw)
        images = tuple(_checked(entry) for entry in data["images"])
        tokens = data["usage"]
        usage = None if tokens is None else Usage(*(_count(value) for value in tokens[:3]))
        saved_at = data["saved_at"]
        timed = isinstance(saved_at, int | float) and not isinstance(saved_at, bool)
        if not (isinstance(data["key"], str) and timed and images):
            raise Damaged("bad key, time or images")
        return _Manifest(data["key"], float(saved_at), usage, images)
    except (orjson.JSONDecodeError, KeyError, TypeError, IndexError) as error:
        raise Damaged(f"unreadable manifest ({type(error).__name__})") from None


def _checked(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise Damaged("an image entry without a file")
    if not _IMAGE_FILE.fullmatch(entry["file"]) or entry.get("format") not in _FORMATS:
        raise Damaged(f"an image entry of an unknown shape ({entry['file'][:40]!r})")
    for field in ("width", "height"):
        if entry.get(field) is not None:
            _count(entry[field])
    revised = entry.get("revised_prompt")
    if revised is not None and not isinstance(revised, str):
        raise Damaged("a revised prompt that is not text")
    _count(entry.get("size"))
    return entry


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Damaged("a count that is not a whole number")
    return value


def _check_files(folder: Path, manifest: _Manifest) -> None:
    for entry in manifest.images:
        if os.lstat(folder / entry["file"]).st_size != entry["size"]:
            raise Damaged(f"{entry['file']} is not the size recorded")


def _image(folder: Path, entry: dict[str, Any]) -> GeneratedImage:
    data = _read(folder / entry["file"], entry["size"])
    if len(data) != entry["size"]:
        raise Damaged(f"{entry['file']} is not the size recorded")
    return GeneratedImage(
        data, _FORMATS[entry["format"]], entry["width"], entry["height"], entry["revised_prompt"]
    )


def _read(path: Path, most: int) -> bytes:
    """At most `most` bytes (plus one, to notice more), never through a link."""
    fd = os.open(path, _OPEN_FLAGS)
    with os.fdopen(fd, "rb") as file:
        return file.read(most + 1)


def _drop_unnamed(folder: Path, manifest: _Manifest) -> int:
    """Remove files of the folder that the manifest does not name (older saves); their bytes."""
    named = {entry["file"] for entry in manifest.images} | {MANIFEST}
    freed = 0
    for path in folder.iterdir():
        if path.name in named:
            continue
        freed += path.lstat().st_size
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return freed


def _size(folder: Path) -> int:
    return sum(path.lstat().st_size for path in folder.iterdir())
