"""The result store: round trips, keys, atomic replacement, retention, and hostile folders."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import bot.result_store as result_store
from bot.result_store import ResultStore, StoredResult
from bot.types import GeneratedImage, ImageFormat, Usage
from tests.fakes.images import make_image

DAY = 86_400.0
KEY = "user=42;created=2026-12-05T08:00:00"
USAGE = Usage(input_text_tokens=12, input_image_tokens=0, output_tokens=4160)
BOUND = 1.0  # seconds: every test here is far faster; a slow one means something blocks


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"the test took {elapsed:.2f} s"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> ResultStore:
    return ResultStore(tmp_path / "results", keep_days=7, max_bytes=10_000_000, clock=clock)


def image(
    fmt: ImageFormat = "png", *, seed: int = 0, prompt: str | None = None, sized: bool = True
) -> GeneratedImage:
    return GeneratedImage(
        data=make_image(16, 16, fmt, seed=seed),
        format=fmt,
        width=16 if sized else None,
        height=16 if sized else None,
        revised_prompt=prompt,
    )


def names(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


def temp_folders(root: Path) -> list[str]:
    return [name for name in names(root) if name.startswith(".tmp-")]


def rewrite_manifest(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "manifest.json"
    document = orjson.loads(path.read_bytes())
    change(document)
    path.write_bytes(orjson.dumps(document))


# -- round trips -------------------------------------------------------------------------------


async def test_round_trip_keeps_images_in_order_with_usage_and_prompts(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = tmp_path / "deep" / "results"  # parents created too
    store = ResultStore(root, keep_days=7, max_bytes=10_000_000, clock=clock)
    images = [
        image("png", seed=1, prompt="a red fox, watercolour"),
        image("jpeg", seed=2, sized=False),
        image("webp", seed=3, prompt="ünïcödé ✓ prompt"),
    ]

    await store.save(7, KEY, images, USAGE)

    assert names(root / "7") == {"1.png", "2.jpg", "3.webp", "manifest.json"}
    assert store.has(7, KEY)
    assert await store.load(7, KEY) == StoredResult(job_id=7, images=tuple(images), usage=USAGE)
    loaded = await store.load(7, KEY)
    assert loaded is not None
    assert [kept.data for kept in loaded.images] == [kept.data for kept in images]
    on_disk = sum(path.stat().st_size for path in (root / "7").iterdir())
    assert store.size_bytes() == on_disk
    assert temp_folders(root) == []


async def test_round_trip_without_usage(store: ResultStore) -> None:
    await store.save(0, KEY, [image()], None)

    loaded = await store.load(0, KEY)

    assert loaded is not None and loaded.usage is None and loaded.images == (image(),)


async def test_absent_job_is_none(store: ResultStore) -> None:
    assert await store.load(5, KEY) is None
    assert not store.has(5, KEY)
    await store.remove(5)  # nothing kept is fine


async def test_a_different_key_finds_nothing(store: ResultStore) -> None:
    await store.save(3, KEY, [image()], USAGE)

    assert await store.load(3, "user=43;created=2026-12-05T08:00:00") is None
    assert not store.has(3, "user=43;created=2026-12-05T08:00:00")
    assert not await store.replace(3, "another", [image("jpeg")])
    assert await store.load(3, KEY) == StoredResult(3, (image(),), USAGE)


async def test_save_replaces_an_existing_folder(store: ResultStore) -> None:
    await store.save(3, "old key", [image("png", seed=1), image("png", seed=2)], USAGE)
    newer = Usage(input_text_tokens=1, input_image_tokens=2, output_tokens=3)

    await store.save(3, KEY, [image("jpeg", seed=5)], newer)

    assert await store.load(3, KEY) == StoredResult(3, (image("jpeg", seed=5),), newer)
    assert await store.load(3, "old key") is None
    assert names(store.root / "3") == {"1.jpg", "manifest.json"}
    assert temp_folders(store.root) == []


async def test_replace_keeps_usage_and_save_time_and_swaps_bytes_and_formats(
    store: ResultStore, clock: FakeClock
) -> None:
    await store.save(9, KEY, [image("png", seed=1), image("png", seed=2, prompt="kept")], USAGE)
    clock.now += 6 * DAY
    smaller = [image("jpeg", seed=1), image("webp", seed=2, prompt="kept")]

    assert await store.replace(9, KEY, smaller)

    assert await store.load(9, KEY) == StoredResult(9, tuple(smaller), USAGE)
    assert names(store.root / "9") == {"1.jpg", "2.webp", "manifest.json"}
    assert temp_folders(store.root) == []
    # Retention still counts from the first save, when the job was charged.
    clock.now += 1.5 * DAY
    assert not store.has(9, KEY)


async def test_replace_of_nothing_keeps_nothing(store: ResultStore) -> None:
    assert not await store.replace(4, KEY, [image()])

    assert not (store.root / "4").exists()
    assert temp_folders(store.root) == []


async def test_remove_forgets_the_result(store: ResultStore) -> None:
    await store.save(2, KEY, [image()], USAGE)

    await store.remove(2)

    assert not store.has(2, KEY)
    assert await store.load(2, KEY) is None
    assert names(store.root) == set()


@pytest.mark.parametrize(
    "images",
    [
        [],
        [GeneratedImage(data=b"GIF89a", format="gif")],  # type: ignore[arg-type]
        [GeneratedImage(data=make_image(8, 8), format="png", width=0)],
        [GeneratedImage(data=b"", format="png")],
    ],
    ids=["no images", "gif", "zero width", "empty data"],
)
async def test_a_result_that_could_not_load_back_is_refused(
    store: ResultStore, images: list[GeneratedImage]
) -> None:
    with pytest.raises(ValueError):
        await store.save(1, KEY, images, USAGE)

    assert names(store.root) == set()


async def test_negative_usage_and_job_ids_are_refused(store: ResultStore) -> None:
    with pytest.raises(ValueError):
        await store.save(1, KEY, [image()], Usage(output_tokens=-1))
    with pytest.raises(ValueError):
        await store.save(-1, KEY, [image()], USAGE)
    assert names(store.root) == set()


# -- retention -----------------------------------------------------------------------------------


async def test_expired_results_are_absent_before_prune_and_removed_by_it(
    store: ResultStore, clock: FakeClock
) -> None:
    await store.save(1, KEY, [image(seed=1)], USAGE)
    clock.now += 3 * DAY
    await store.save(2, KEY, [image(seed=2)], USAGE)
    clock.now += 4 * DAY - 1  # job 1 is a second short of 7 days old

    assert store.has(1, KEY)
    clock.now += 2
    assert not store.has(1, KEY)
    assert await store.load(1, KEY) is None
    assert (store.root / "1").is_dir()  # still on disk until a prune
    size_of_1 = sum(path.stat().st_size for path in (store.root / "1").iterdir())

    report = await store.prune()

    assert not (store.root / "1").exists()
    assert report.removed == 1
    assert report.removed_bytes == size_of_1
    assert report.kept == 1
    assert report.kept_bytes == store.size_bytes()
    assert await store.load(2, KEY) is not None


async def test_over_the_cap_delivered_results_go_before_waiting_ones_oldest_first(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = tmp_path / "results"
    roomy = ResultStore(root, keep_days=7, max_bytes=10_000_000, clock=clock)
    sizes = {}
    for job in (1, 2, 3, 4):  # saved in this order: 1 is the oldest
        before = roomy.size_bytes()
        await roomy.save(job, KEY, [image(seed=job)], USAGE)
        sizes[job] = roomy.size_bytes() - before
        clock.now += 60
    waiting = {1, 3}

    # Room for two: both delivered ones go, newest (4) too, before any waiting one.
    capped = ResultStore(root, keep_days=7, max_bytes=sizes[1] + sizes[3], clock=clock)
    report = await capped.prune(waiting=waiting)

    assert names(root) == {"1", "3"}
    assert report.removed == 2
    assert report.removed_bytes == sizes[2] + sizes[4]
    assert report.kept_bytes == sizes[1] + sizes[3] == capped.size_bytes()

    # Room for one: then the oldest waiting one goes.
    tighter = ResultStore(root, keep_days=7, max_bytes=sizes[3], clock=clock)
    report = await tighter.prune(waiting=waiting)

    assert names(root) == {"3"}
    assert (report.removed, report.kept) == (1, 1)


async def test_a_result_over_the_cap_alone_is_still_saved(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = ResultStore(tmp_path, keep_days=7, max_bytes=10, clock=clock)

    with caplog.at_level(logging.WARNING, logger="bot.result_store"):
        await store.save(1, KEY, [image()], USAGE)

    assert "over the store's cap" in caplog.text
    assert await store.load(1, KEY) is not None
    report = await store.prune(waiting={1})  # over the cap: even a waiting one goes
    assert report.removed == 1 and report.kept_bytes == 0


# -- crashes and hostile folders ---------------------------------------------------------------


async def test_leftovers_of_interrupted_saves_are_removed(store: ResultStore) -> None:
    await store.save(6, KEY, [image()], USAGE)
    root = store.root
    half = root / ".tmp-5-0123456789abcdef"  # crashed mid-write: no manifest yet
    half.mkdir()
    (half / "1.png").write_bytes(make_image(16, 16)[:40])
    displaced = root / ".tmp-6-0123456789abcdef-old"  # crashed after the swap
    displaced.mkdir()
    (displaced / "1.png").write_bytes(make_image(16, 16))
    (root / ".tmp-junk").mkdir()

    assert await store.load(5, KEY) is None
    report = await store.prune()

    assert names(root) == {"6"}
    assert report.removed == 3
    assert report.removed_bytes == 40 + len(make_image(16, 16))
    assert await store.load(6, KEY) is not None


async def test_a_complete_save_caught_between_its_renames_is_recovered(
    store: ResultStore,
) -> None:
    await store.save(8, KEY, [image(seed=8)], USAGE)
    # As if the bot died after moving the old folder aside, before renaming the new one in.
    os.rename(store.root / "8", store.root / ".tmp-8-0123456789abcdef")
    assert not store.has(8, KEY)

    report = await store.prune()

    assert report.removed == 0 and report.kept == 1
    assert await store.load(8, KEY) == StoredResult(8, (image(seed=8),), USAGE)


async def test_a_staged_folder_never_overrides_the_live_one(store: ResultStore) -> None:
    await store.save(8, KEY, [image(seed=1)], USAGE)
    os.rename(store.root / "8", store.root / ".tmp-8-0123456789abcdef")
    await store.save(8, KEY, [image(seed=2)], USAGE)

    await store.prune()

    assert names(store.root) == {"8"}
    assert await store.load(8, KEY) == StoredResult(8, (image(seed=2),), USAGE)


async def test_remove_also_drops_a_recoverable_leftover(store: ResultStore) -> None:
    await store.save(8, KEY, [image()], USAGE)
    os.rename(store.root / "8", store.root / ".tmp-8-0123456789abcdef")

    await store.remove(8)
    await store.prune()

    assert names(store.root) == set()


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda document: document.__setitem__(field, value)


def _set_image(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda document: document["images"][0].__setitem__(field, value)


LIES: dict[str, Callable[[dict[str, Any]], None]] = {
    "traversal": _set_image("file", "../../etc/passwd"),
    "absolute path": _set_image("file", "/etc/passwd"),
    "manifest as image": _set_image("file", "manifest.json"),
    "wrong extension": _set_image("file", "1.jpg"),
    "exe format": lambda d: d["images"][0].update(format="exe", file="1.exe"),
    "bool width": _set_image("width", True),
    "string height": _set_image("height", "16"),
    "prompt not text": _set_image("revised_prompt", 5),
    "no images": _set("images", []),
    "images not a list": _set("images", {"1": "1.png"}),
    "key not text": _set("key", 42),
    "another job": _set("job_id", 99),
    "future version": _set("version", 2),
    "save time not a number": _set("saved_at", "yesterday"),
    "negative tokens": lambda d: d["usage"].update(output_tokens=-5),
    "usage not an object": _set("usage", [1, 2, 3]),
}


@pytest.mark.parametrize("lie", LIES.values(), ids=LIES.keys())
async def test_a_manifest_that_lies_is_refused_and_pruned(
    tmp_path: Path, clock: FakeClock, lie: Callable[[dict[str, Any]], None]
) -> None:
    store = ResultStore(tmp_path / "a" / "b", keep_days=7, max_bytes=10_000_000, clock=clock)
    # Where "../../etc/passwd" leads from the job folder, as long as the image it replaces.
    secret = store.root.parent / "etc" / "passwd"
    secret.parent.mkdir()
    secret.write_bytes(b"r" * len(image().data))
    await store.save(7, KEY, [image()], USAGE)
    rewrite_manifest(store.root / "7", lie)

    assert await store.load(7, KEY) is None
    assert not store.has(7, KEY)
    assert not await store.replace(7, KEY, [image("jpeg")])
    report = await store.prune()

    assert report.removed == 1
    assert names(store.root) == set()
    assert secret.read_bytes() == b"r" * len(image().data)


@pytest.mark.parametrize(
    "damage",
    [
        lambda folder: (folder / "manifest.json").write_bytes(
            (folder / "manifest.json").read_bytes()[:25]
        ),
        lambda folder: (folder / "manifest.json").write_bytes(b"[1, 2]"),
        lambda folder: (folder / "manifest.json").unlink(),
        lambda folder: (folder / "1.png").unlink(),
        lambda folder: (folder / "1.png").write_bytes(b"\x89PNG"),
        lambda folder: rewrite_manifest(folder, _set_image("size", 3)),
    ],
    ids=[
        "truncated json",
        "not an object",
        "no manifest",
        "image missing",
        "image truncated",
        "size differs",
    ],
)
async def test_a_damaged_folder_is_refused_and_pruned(
    store: ResultStore, damage: Callable[[Path], object]
) -> None:
    await store.save(7, KEY, [image()], USAGE)
    damage(store.root / "7")

    assert await store.load(7, KEY) is None
    assert not store.has(7, KEY)
    assert (await store.prune()).removed == 1
    assert names(store.root) == set()


async def test_an_image_that_is_a_link_is_not_followed(tmp_path: Path, store: ResultStore) -> None:
    await store.save(7, KEY, [image()], USAGE)
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"x" * len(image().data))  # same size, so only the link gives it away
    (store.root / "7" / "1.png").unlink()
    try:
        (store.root / "7" / "1.png").symlink_to(outside)
    except OSError:
        pytest.skip("no symbolic links here")

    assert await store.load(7, KEY) is None
    assert not store.has(7, KEY)
    await store.prune()
    assert outside.read_bytes() == b"x" * len(image().data)


async def test_foreign_files_and_folders_are_left_alone_and_not_counted(
    store: ResultStore,
) -> None:
    root = store.root
    (root / "notes.txt").write_text("the operator's")
    (root / "other").mkdir()
    (root / "other" / "big.bin").write_bytes(b"x" * 5000)
    (root / "0042").mkdir()  # digits, but not how the store names job 42
    (root / "0042" / "manifest.json").write_text("{}")
    (root / ".cache").mkdir()
    await store.save(1, KEY, [image()], USAGE)
    ours = store.size_bytes()

    assert ours == sum(path.stat().st_size for path in (root / "1").iterdir())
    tiny = ResultStore(root, keep_days=7, max_bytes=0)
    report = await tiny.prune()

    assert report.removed_bytes == ours and report.kept_bytes == 0
    assert names(root) == {"notes.txt", "other", "0042", ".cache"}
    assert (root / "other" / "big.bin").stat().st_size == 5000


# -- concurrency -----------------------------------------------------------------------------------


async def test_a_prune_leaves_a_save_in_progress_alone(
    store: ResultStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    writing, release = threading.Event(), threading.Event()
    write_images = result_store._write_images

    def slow_write(*args: Any) -> None:
        writing.set()
        release.wait(BOUND)
        write_images(*args)

    monkeypatch.setattr(result_store, "_write_images", slow_write)
    saving = asyncio.create_task(store.save(1, KEY, [image()], USAGE))
    try:
        assert await asyncio.to_thread(writing.wait, BOUND / 2)
        assert len(temp_folders(store.root)) == 1

        report = await store.prune()

        assert report.removed == 0
        assert len(temp_folders(store.root)) == 1
    finally:
        release.set()
        await saving
    assert await store.load(1, KEY) == StoredResult(1, (image(),), USAGE)
    assert temp_folders(store.root) == []


async def test_concurrent_saves_loads_and_prunes_stay_consistent(store: ResultStore) -> None:
    versions = [[image(seed=seed)] for seed in range(6)]

    results = await asyncio.gather(
        *(store.save(1, KEY, images, USAGE) for images in versions),
        *(store.save(job, KEY, [image(seed=job)], None) for job in range(2, 8)),
        store.prune(waiting={1}),
        store.load(1, KEY),
        store.prune(),
    )

    loaded = results[-2]
    assert loaded is None or isinstance(loaded, StoredResult)
    final = await store.load(1, KEY)
    assert final is not None and [final.images[0]] in versions
    for job in range(2, 8):
        assert await store.load(job, KEY) == StoredResult(job, (image(seed=job),), None)
    assert temp_folders(store.root) == []


def test_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ResultStore(tmp_path, keep_days=0, max_bytes=1)
    with pytest.raises(ValueError):
        ResultStore(tmp_path, keep_days=float("nan"), max_bytes=1)
    with pytest.raises(ValueError):
        ResultStore(tmp_path, keep_days=1, max_bytes=-1)
