"""Generated images kept on disk until they are delivered, and for a while after.

The bot charges a member as soon as the image API returns images, before it delivers them to
Discord. Every generated image is saved here first, so that a result Discord did not take (an
outage, a crash, a deleted channel) can be delivered again: from a "deliver again" button, or
at the next start after a crash.

What the store promises:

- A folder per job, ``root/<job_id>/``: the images ``1.png``, ``2.jpg``, … and a
  ``manifest.json`` with the job's key, the save time, the usage and each image's metadata.
- Saving is atomic. Files are written and fsynced in a ``.tmp-*`` sibling folder that is then
  renamed into place, so a crash leaves the old result, the new one, or a ``.tmp-*`` folder;
  `ResultStore.load` never returns a half-written result. `ResultStore.prune` removes such
  leftovers, except that a complete save caught between its two renames (the job has no
  folder) is renamed into place rather than lost: the member paid for those images.
- Nothing in a job folder is trusted beyond its manifest, and the manifest is validated too:
  only the exact expected file names, only png, jpeg and webp, only regular files of the
  recorded size, never through a symbolic link.
- A result is kept `keep_days` after it was saved (an older one is absent even before a prune
  removes it), and a prune keeps the store under `max_bytes` by removing delivered results
  before those still waiting for delivery, oldest first.
- A result loads only under the key it was saved with. The caller derives the key from the
  job's database row, so a store that outlives its database, or is shared with another one
  whose job ids repeat, never hands one job's images to another.
- Files and folders in ``root`` that are neither job folders nor ``.tmp-*`` folders are left
  alone and not counted: the operator may point RESULTS_DIR at a shared folder.
- All file work runs on worker threads; the event loop only waits.

One process owns a store: its locks are in-process locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import math
import os
import re
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from bot.types import GeneratedImage, ImageFormat, Usage

log = logging.getLogger(__name__)

MANIFEST: Final = "manifest.json"
MANIFEST_VERSION: Final = 1
# A manifest holds a few prompts; anything far larger is not one of ours and is not read.
MAX_MANIFEST_BYTES: Final = 1024 * 1024
EXTENSIONS: Final[dict[ImageFormat, str]] = {"png": "png", "jpeg": "jpg", "webp": "webp"}
TEMP_PREFIX: Final = ".tmp-"
_READ_CHUNK: Final = 4 * 1024 * 1024
SECONDS_PER_DAY: Final = 86_400

_FORMATS: Final[dict[str, ImageFormat]] = {"png": "png", "jpeg": "jpeg", "webp": "webp"}
# Canonical decimal only, ASCII digits: "007" or "٣" are not job folders and are left alone.
_JOB_NAME: Final = re.compile(r"0|[1-9][0-9]*")
# A save's new folder (fullmatch); "-old" (displaced) and "-del" (being removed) never match.
_STAGED_NAME: Final = re.compile(r"\.tmp-(0|[1-9][0-9]*)-[0-9a-f]{16}")
# Opening an image never follows a link out of the folder, and never blocks on a FIFO.
_READ_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_BINARY", 0)
)


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A job's kept images, in order, and the usage the API reported."""

    job_id: int
    images: tuple[GeneratedImage, ...]
    usage: Usage | None


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune removed (job folders and leftovers of interrupted saves) and what it kept."""

    removed: int  # folders: job folders and .tmp-* leftovers
    removed_bytes: int
    kept: int  # job folders
    kept_bytes: int


class _Damaged(ValueError):
    """A job folder whose manifest or files are not what the store writes."""


@dataclass(frozen=True, slots=True)
class _Entry:
    file: str
    format: ImageFormat
    width: int | None
    height: int | None
    revised_prompt: str | None
    size: int


@dataclass(frozen=True, slots=True)
class _Manifest:
    job_id: int
    key: str
    saved_at: float
    usage: Usage | None
    entries: tuple[_Entry, ...]


@dataclass(slots=True)
class _Holders:
    lock: threading.Lock
    count: int


class _JobLocks:
    """A lock per job id, forgotten once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[int, _Holders] = {}

    @contextlib.contextmanager
    def hold(self, job_id: int) -> Iterator[None]:
        """Hold the job's lock for the block."""
        with self._guard:
            holders = self._locks.get(job_id)
            if holders is None:
                holders = self._locks[job_id] = _Holders(threading.Lock(), 0)
            holders.count += 1
        try:
            with holders.lock:
                yield
        finally:
            with self._guard:
                holders.count -= 1
                if holders.count == 0:
                    del self._locks[job_id]


class ResultStore:
    """Generated images on disk, a folder per job, kept `keep_days`, at most `max_bytes` in all."""

    def __init__(
        self,
        root: Path,
        *,
        keep_days: float,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (math.isfinite(keep_days) and keep_days > 0):
            raise ValueError(f"keep_days must be a positive number of days, not {keep_days!r}")
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, not {max_bytes!r}")
        self._root = Path(root)
        self._keep_seconds = keep_days * SECONDS_PER_DAY
        self._max_bytes = max_bytes
        self._clock = clock
        self._root.mkdir(parents=True, exist_ok=True)
        # Locks are threading locks taken inside the worker threads, not asyncio locks around
        # them: a cancelled caller cannot stop its thread, and must not release a lock early.
        # _commit_lock covers every rename or removal of a job folder, and all of a prune.
        self._commit_lock = threading.Lock()
        # _job_locks serialise one job's save, replace, load and remove, so a load never
        # sees a folder mid-swap.
        self._job_locks = _JobLocks()
        # Names of .tmp-* folders a save is writing right now, which a prune must not touch.
        self._staging_guard = threading.Lock()
        self._staging: set[str] = set()

    @property
    def root(self) -> Path:
        """The folder holding the job folders."""
        return self._root

    async def save(
        self, job_id: int, key: str, images: Sequence[GeneratedImage], usage: Usage | None
    ) -> None:
        """Keep a job's images and usage under `key`, replacing whatever was kept for the job.

        Raises ValueError for a result the store could not load back (no images, a format
        other than png/jpeg/webp, negative sizes or tokens) and OSError if the disk fails; in
        both cases nothing of this save is left behind. A cancelled caller does not stop the
        save: its thread runs to the end, and the result is kept.
        """
        _check_job_id(job_id)
        kept = tuple(images)
        saved_at = float(self._clock())
        await asyncio.to_thread(self._save_sync, job_id, key, kept, usage, saved_at)

    async def replace(self, job_id: int, key: str, images: Sequence[GeneratedImage]) -> bool:
        """Swap a kept result's images for re-encoded ones, keeping its usage and save time.

        Returns False, keeping nothing, when no live result is kept under `key` (absent,
        expired, with a damaged manifest, or another key's). Only the manifest must be
        sound: damaged image files are what a replacement mends.
        """
        _check_job_id(job_id)
        kept = tuple(images)
        now = self._clock()
        return await asyncio.to_thread(self._replace_sync, job_id, key, kept, now)

    async def load(self, job_id: int, key: str) -> StoredResult | None:
        """A kept result, or None if absent, expired, damaged, or saved under another key."""
        _check_job_id(job_id)
        now = self._clock()
        return await asyncio.to_thread(self._load_sync, job_id, key, now)

    def has(self, job_id: int, key: str) -> bool:
        """Whether `load` would find the result (checks the manifest and the files' sizes).

        Runs on the caller's thread: a stat per file and a small manifest read. It takes no
        lock, so it may answer False while a save of the same job swaps folders.
        """
        _check_job_id(job_id)
        folder = self._root / str(job_id)
        try:
            manifest = _read_manifest(folder, job_id)
            if not self._usable(manifest, key, self._clock()):
                return False
            _check_files(folder, manifest)
        except (OSError, _Damaged):
            return False
        return True

    async def remove(self, job_id: int) -> None:
        """Forget a job's kept result; nothing kept is fine."""
        _check_job_id(job_id)
        await asyncio.to_thread(self._remove_sync, job_id)

    async def prune(self, *, waiting: Collection[int] = ()) -> PruneReport:
        """Remove leftovers, damaged and expired results, then the oldest until under the cap.

        `waiting` holds the ids of jobs still waiting for delivery: over the cap, delivered
        results go first, waiting ones only when that is not enough.
        """
        waiting_ids = frozenset(waiting)  # a copy: the caller's set may change meanwhile
        now = self._clock()
        return await asyncio.to_thread(self._prune_sync, waiting_ids, now)

    def size_bytes(self) -> int:
        """Bytes in the job folders now (walks them on the caller's thread)."""
        return sum(_tree_size(path) for _, path in self._job_folders())

    # -- the work, on worker threads ------------------------------------------------------

    def _save_sync(
        self,
        job_id: int,
        key: str,
        images: tuple[GeneratedImage, ...],
        usage: Usage | None,
        saved_at: float,
    ) -> None:
        manifest = _Manifest(job_id, key, saved_at, usage, _entries(images))
        raw = _checked_manifest_bytes(manifest)
        total = sum(entry.size for entry in manifest.entries)
        if total > self._max_bytes:
            # Kept anyway: the job was charged, and losing its images would be worse than
            # going over the cap for a while. The next prune may remove it (delivered
            # results first, then the oldest waiting ones).
            log.warning(
                "the result of job %s (%d bytes) alone is over the store's cap of %d bytes",
                job_id,
                total,
                self._max_bytes,
            )
        with self._job_locks.hold(job_id), self._staging_folder(job_id) as staged:
            _write_images(staged, images, manifest.entries)
            _write_new(staged / MANIFEST, raw)
            _fsync_dir(staged)
            with self._commit_lock:
                self._swap_in(job_id, staged)
        log.debug("kept %d images (%d bytes) of job %s", len(images), total, job_id)

    def _replace_sync(
        self, job_id: int, key: str, images: tuple[GeneratedImage, ...], now: float
    ) -> bool:
        entries = _entries(images)
        with self._job_locks.hold(job_id), self._staging_folder(job_id) as staged:
            _write_images(staged, images, entries)
            with self._commit_lock:
                # Read under the commit lock, so a prune cannot remove the result in between.
                folder = self._root / str(job_id)
                try:
                    kept = _read_manifest(folder, job_id)
                except (OSError, _Damaged) as exc:
                    log.warning("not replacing the images of job %s: %s", job_id, exc)
                    return False
                if not self._usable(kept, key, now):
                    log.warning("not replacing the images of job %s: none kept", job_id)
                    return False
                # The save time stays: retention counts from when the job was charged.
                manifest = dataclasses.replace(kept, entries=entries)
                _write_new(staged / MANIFEST, _checked_manifest_bytes(manifest))
                _fsync_dir(staged)
                self._swap_in(job_id, staged)
        log.debug("replaced the %d kept images of job %s", len(images), job_id)
        return True

    def _load_sync(self, job_id: int, key: str, now: float) -> StoredResult | None:
        folder = self._root / str(job_id)
        with self._job_locks.hold(job_id):
            try:
                manifest = _read_manifest(folder, job_id)
                if not self._usable(manifest, key, now):
                    return None
                images = tuple(
                    GeneratedImage(
                        data=_read_regular(folder / entry.file, entry.size, exact=True),
                        format=entry.format,
                        width=entry.width,
                        height=entry.height,
                        revised_prompt=entry.revised_prompt,
                    )
                    for entry in manifest.entries
                )
            except FileNotFoundError:
                log.debug("no result kept for job %s", job_id)
                return None
            except (OSError, _Damaged) as exc:
                log.warning("the kept result of job %s is unusable: %s", job_id, exc)
                return None
        return StoredResult(job_id=job_id, images=images, usage=manifest.usage)

    def _remove_sync(self, job_id: int) -> None:
        with self._job_locks.hold(job_id), self._commit_lock:
            folder = self._root / str(job_id)
            try:
                info = os.lstat(folder)
            except FileNotFoundError:
                info = None
            if info is not None and stat.S_ISDIR(info.st_mode):
                self._discard(folder, job_id)
            elif info is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder)  # a stray file or link under the job's name; targets stay
            # A leftover of this job's interrupted save must not be recovered after this.
            for path in self._temp_folders():
                if path.name.startswith(f"{TEMP_PREFIX}{job_id}-") and not self._is_staging(path):
                    _remove_tree(path)

    def _prune_sync(self, waiting: frozenset[int], now: float) -> PruneReport:
        removed = removed_bytes = 0
        with self._commit_lock:
            for path in self._temp_folders():
                if self._is_staging(path):
                    continue
                match = _STAGED_NAME.fullmatch(path.name)
                if match is not None and self._recover(path, int(match[1]), now):
                    continue
                size = _tree_size(path)
                if _remove_tree(path):
                    log.info("removed %s, left by an interrupted save or removal", path.name)
                    removed += 1
                    removed_bytes += size

            # (waiting, saved_at, job_id, size, path): sorted, delivered and oldest come first.
            candidates: list[tuple[bool, float, int, int, Path]] = []
            for job_id, path in self._job_folders():
                size = _tree_size(path)
                try:
                    manifest = _read_manifest(path, job_id)
                    _check_files(path, manifest)
                except FileNotFoundError:
                    continue  # the folder went meanwhile (by hand): nothing to remove
                except (OSError, _Damaged) as exc:
                    reason = f"damaged ({exc})"
                else:
                    if not self._expired(manifest, now):
                        waits = job_id in waiting
                        candidates.append((waits, manifest.saved_at, job_id, size, path))
                        continue
                    reason = "expired"
                if self._discard(path, job_id):
                    log.info("removed the kept result of job %s: %s", job_id, reason)
                    removed += 1
                    removed_bytes += size

            kept_bytes = sum(candidate[3] for candidate in candidates)
            kept = len(candidates)
            for is_waiting, _, job_id, size, path in sorted(candidates):
                if kept_bytes <= self._max_bytes:
                    break
                if self._discard(path, job_id):
                    log.info(
                        "removed the kept result of job %s (%s) to stay under %d bytes",
                        job_id,
                        "waiting for delivery" if is_waiting else "delivered",
                        self._max_bytes,
                    )
                    removed += 1
                    removed_bytes += size
                    kept -= 1
                    kept_bytes -= size
        return PruneReport(
            removed=removed,
            removed_bytes=removed_bytes,
            kept=kept,
            kept_bytes=kept_bytes,
        )

    # -- helpers --------------------------------------------------------------------------

    def _usable(self, manifest: _Manifest, key: str, now: float) -> bool:
        if manifest.key != key:
            log.debug("the result kept for job %s has another key", manifest.job_id)
            return False
        if self._expired(manifest, now):
            log.debug("the result kept for job %s has expired", manifest.job_id)
            return False
        return True

    def _expired(self, manifest: _Manifest, now: float) -> bool:
        return now - manifest.saved_at > self._keep_seconds

    @contextlib.contextmanager
    def _staging_folder(self, job_id: int) -> Iterator[Path]:
        """A fresh .tmp-* folder a prune leaves alone; removed afterwards unless renamed."""
        name = f"{TEMP_PREFIX}{job_id}-{secrets.token_hex(8)}"
        path = self._root / name
        # Registered before it exists, so a prune that lists it always sees it registered.
        with self._staging_guard:
            self._staging.add(name)
        try:
            self._root.mkdir(parents=True, exist_ok=True)  # recreated if removed meanwhile
            path.mkdir()
            yield path
        finally:
            try:
                if os.path.lexists(path):  # the save failed before its rename
                    _remove_tree(path)
            finally:
                with self._staging_guard:
                    self._staging.discard(name)

    def _is_staging(self, path: Path) -> bool:
        with self._staging_guard:
            return path.name in self._staging

    def _swap_in(self, job_id: int, staged: Path) -> None:
        """Rename a complete staged folder into the job's place (holding the commit lock)."""
        live = self._root / str(job_id)
        displaced: Path | None = None
        try:
            info = os.lstat(live)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            # Directories cannot be renamed over non-empty ones: move the old one aside first.
            # A crash right here leaves the job without a folder and the new one staged, which
            # the next prune renames into place (see _recover).
            displaced = self._root / f"{TEMP_PREFIX}{job_id}-{secrets.token_hex(8)}-old"
            os.rename(live, displaced)
        elif info is not None:
            os.unlink(live)  # a stray file or link under the job's name; its target stays
        try:
            os.rename(staged, live)
        except OSError:
            if displaced is not None:
                with contextlib.suppress(OSError):
                    os.rename(displaced, live)
            raise
        _fsync_dir(self._root)
        if displaced is not None:
            _remove_tree(displaced)  # a leftover is removed by the next prune

    def _recover(self, staged: Path, job_id: int, now: float) -> bool:
        """Rename a complete staged folder of a job that has none into place."""
        live = self._root / str(job_id)
        if os.path.lexists(live):
            return False
        try:
            manifest = _read_manifest(staged, job_id)
            _check_files(staged, manifest)
        except (OSError, _Damaged):
            return False
        if self._expired(manifest, now):
            return False
        try:
            os.rename(staged, live)
        except OSError as exc:
            log.warning("could not recover the interrupted save of job %s: %s", job_id, exc)
            return False
        _fsync_dir(self._root)
        log.warning("recovered the result of job %s from an interrupted save", job_id)
        return True

    def _discard(self, folder: Path, job_id: int) -> bool:
        """Remove a job folder: renamed away first, so a crash midway leaves only a .tmp-*."""
        doomed = self._root / f"{TEMP_PREFIX}{job_id}-{secrets.token_hex(8)}-del"
        try:
            os.rename(folder, doomed)
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("could not move the result of job %s aside: %s", job_id, exc)
            return _remove_tree(folder)
        _fsync_dir(self._root)
        _remove_tree(doomed)  # the job is gone either way; a leftover goes at the next prune
        return True

    def _entries_of_root(self) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(self._root) as entries:
                return list(entries)
        except FileNotFoundError:
            return []

    def _job_folders(self) -> list[tuple[int, Path]]:
        """Real folders (not links) named by a canonical job id."""
        found: list[tuple[int, Path]] = []
        for entry in self._entries_of_root():
            if _JOB_NAME.fullmatch(entry.name) and _is_real_dir(entry):
                found.append((int(entry.name), Path(entry.path)))
        return found

    def _temp_folders(self) -> list[Path]:
        """Real folders (not links) named .tmp-*."""
        return [
            Path(entry.path)
            for entry in self._entries_of_root()
            if entry.name.startswith(TEMP_PREFIX) and _is_real_dir(entry)
        ]


# -- the manifest -----------------------------------------------------------------------------


def _check_job_id(job_id: int) -> None:
    if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id < 0:
        raise ValueError(f"a job id is a non-negative integer, not {job_id!r}")


def _entries(images: tuple[GeneratedImage, ...]) -> tuple[_Entry, ...]:
    """The manifest entries of images to keep, checked by the same rules a load applies."""
    if not images:
        raise ValueError("a result to keep has at least one image")
    entries = []
    for index, image in enumerate(images, 1):
        extension = EXTENSIONS.get(image.format) if isinstance(image.format, str) else None
        record = {
            "file": f"{index}.{extension}",
            "format": image.format,
            "width": image.width,
            "height": image.height,
            "revised_prompt": image.revised_prompt,
            "size": len(image.data),
        }
        try:
            entries.append(_parse_entry(index, record))
        except _Damaged as exc:
            raise ValueError(f"cannot keep image {index}: {exc}") from None
    return tuple(entries)


def _checked_manifest_bytes(manifest: _Manifest) -> bytes:
    """The manifest's JSON, parsed back so a save never writes what a load would refuse."""
    usage = manifest.usage
    document = {
        "version": MANIFEST_VERSION,
        "job_id": manifest.job_id,
        "key": manifest.key,
        "saved_at": manifest.saved_at,
        "usage": None
        if usage is None
        else {
            "input_text_tokens": usage.input_text_tokens,
            "input_image_tokens": usage.input_image_tokens,
            "output_tokens": usage.output_tokens,
        },
        "images": [
            {
                "file": entry.file,
                "format": entry.format,
                "width": entry.width,
                "height": entry.height,
                "revised_prompt": entry.revised_prompt,
                "size": entry.size,
            }
            for entry in manifest.entries
        ],
    }
    try:
        raw = orjson.dumps(document, option=orjson.OPT_INDENT_2)
        _parse_manifest(raw, manifest.job_id)
    except (orjson.JSONEncodeError, _Damaged) as exc:
        raise ValueError(f"cannot keep the result of job {manifest.job_id}: {exc}") from None
    return raw


def _parse_manifest(raw: bytes, job_id: int) -> _Manifest:
    """A manifest's content, validated field by field; _Damaged if anything is off."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _Damaged("the manifest is not JSON") from None
    if not isinstance(document, dict):
        raise _Damaged("the manifest is not a JSON object")
    if _integer(document.get("version"), "version", minimum=0) != MANIFEST_VERSION:
        raise _Damaged(f"unknown manifest version {_show(document.get('version'))}")
    if _integer(document.get("job_id"), "job_id", minimum=0) != job_id:
        raise _Damaged(f"the manifest is for job {_show(document.get('job_id'))}")
    key = document.get("key")
    if not isinstance(key, str):
        raise _Damaged("the key is not a string")
    saved_at = document.get("saved_at")
    if (
        isinstance(saved_at, bool)
        or not isinstance(saved_at, int | float)
        or not math.isfinite(saved_at)
    ):
        raise _Damaged(f"the save time {_show(saved_at)} is not a number")
    records = document.get("images")
    if not isinstance(records, list) or not records:
        raise _Damaged("the manifest lists no images")
    entries = tuple(_parse_entry(index, record) for index, record in enumerate(records, 1))
    return _Manifest(job_id, key, float(saved_at), _parse_usage(document.get("usage")), entries)


def _parse_usage(record: Any) -> Usage | None:
    if record is None:
        return None
    if not isinstance(record, dict):
        raise _Damaged("the usage is neither null nor an object")
    return Usage(
        input_text_tokens=_integer(record.get("input_text_tokens"), "input_text_tokens"),
        input_image_tokens=_integer(record.get("input_image_tokens"), "input_image_tokens"),
        output_tokens=_integer(record.get("output_tokens"), "output_tokens"),
    )


def _parse_entry(index: int, record: Any) -> _Entry:
    if not isinstance(record, dict):
        raise _Damaged(f"image {index} is not an object")
    raw_format = record.get("format")
    image_format = _FORMATS.get(raw_format) if isinstance(raw_format, str) else None
    if image_format is None:
        raise _Damaged(f"image {index} has format {_show(raw_format)}")
    # The only name accepted is the one the store writes: nothing can point outside the folder.
    expected = f"{index}.{EXTENSIONS[image_format]}"
    if record.get("file") != expected:
        raise _Damaged(f"image {index} is named {_show(record.get('file'))}, not {expected}")
    revised_prompt = record.get("revised_prompt")
    if revised_prompt is not None and not isinstance(revised_prompt, str):
        raise _Damaged(f"the revised prompt of image {index} is not a string")
    return _Entry(
        file=expected,
        format=image_format,
        width=_optional_integer(record.get("width"), f"the width of image {index}"),
        height=_optional_integer(record.get("height"), f"the height of image {index}"),
        revised_prompt=revised_prompt,
        size=_integer(record.get("size"), f"the size of image {index}", minimum=1),
    )


def _integer(value: Any, what: str, *, minimum: int = 0) -> int:
    # bool is an int to Python, never to us.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _Damaged(f"{what} {_show(value)} is not an integer of at least {minimum}")
    return value


def _optional_integer(value: Any, what: str) -> int | None:
    return None if value is None else _integer(value, what, minimum=1)


def _show(value: Any) -> str:
    """A short repr for logs: a hostile manifest does not get to flood them."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- files ------------------------------------------------------------------------------------


def _read_manifest(folder: Path, job_id: int) -> _Manifest:
    """The validated manifest of a real folder; FileNotFoundError if there is no folder."""
    if not stat.S_ISDIR(os.lstat(folder).st_mode):
        raise _Damaged("not a folder")
    try:
        raw = _read_regular(folder / MANIFEST, MAX_MANIFEST_BYTES, exact=False)
    except FileNotFoundError:
        raise _Damaged("no manifest") from None
    return _parse_manifest(raw, job_id)


def _check_files(folder: Path, manifest: _Manifest) -> None:
    """Every image is a regular file of the recorded size (a stat each, no read)."""
    for entry in manifest.entries:
        try:
            info = os.lstat(folder / entry.file)
        except FileNotFoundError:
            raise _Damaged(f"{entry.file} is missing") from None
        if not stat.S_ISREG(info.st_mode) or info.st_size != entry.size:
            raise _Damaged(f"{entry.file} is not the file that was saved")


def _read_regular(path: Path, size: int, *, exact: bool) -> bytes:
    """A regular file's bytes: exactly `size` of them, or at most `size` unless `exact`."""
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Damaged(f"{path.name} is not a regular file")
        if info.st_size > size or (exact and info.st_size != size):
            raise _Damaged(f"{path.name} is {info.st_size} bytes, expected {size}")
        chunks = []
        remaining = size + 1  # one byte more than allowed tells a file that grew meanwhile
        while remaining > 0:
            chunk = os.read(fd, min(remaining, _READ_CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > size or (exact and len(data) != size):
        raise _Damaged(f"{path.name} changed size while read")
    return data


def _write_images(
    folder: Path, images: tuple[GeneratedImage, ...], entries: tuple[_Entry, ...]
) -> None:
    for image, entry in zip(images, entries, strict=True):
        _write_new(folder / entry.file, image.data)


def _write_new(path: Path, data: bytes) -> None:
    """Create a file with `data`, flushed to the disk before returning."""
    with open(path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _fsync_dir(path: Path) -> None:
    """Make the folder's entries (created or renamed files) durable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except PermissionError:
        return  # Windows cannot open a folder; its renames are as durable as it makes them
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems cannot fsync a folder; the data itself was already fsynced.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _tree_size(path: Path) -> int:
    """Bytes of the regular files under `path`, links not followed; 0 where unreadable."""
    total = 0
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        total += _tree_size(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
    except OSError:
        return total
    return total


def _remove_tree(path: Path) -> bool:
    """Remove a folder and everything in it; False (logged) if it could not be."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
        return False
    return True
