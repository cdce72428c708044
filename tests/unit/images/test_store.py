"""The result store: round trips, keys, atomic replacement, retention, and hostile folders."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bot.core.models import GeneratedImage, ImageFormat, Usage
from bot.images.spares import SPARE_FOLDER
from bot.images.store import ResultStore, StoredResult
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
def store(tmp_path: Path, clock: FakeClock) -> Iterator[ResultStore]:
    kept = ResultStore(tmp_path / "results", keep_days=7, max_bytes=10_000_000, clock=clock)
    yield kept
    kept.close()


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
    """What the folder holds, but the store's spare files (tests/unit/images/test_spares.py)."""
    return {path.name for path in folder.iterdir()} - {SPARE_FOLDER}


def rewrite_manifest(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "manifest.json"
    document = orjson.loads(path.read_bytes())
    change(document)
    path.write_bytes(orjson.dumps(document))


# -- round trips -------------------------------------------------------------------------------


async def test_round_trip_keeps_images_in_order_with_usage_and_prompts(
    store: ResultStore,
) -> None:
    images = [image("png", seed=1, prompt="a fox"), image("jpeg", seed=2), image("webp", seed=3)]
    await store.save(7, KEY, images, USAGE)
    kept = await store.load(7, KEY)
    assert kept == StoredResult(7, tuple(images), USAGE)
    assert store.has(7, KEY)
    folder = store.root / "7"
    assert len(names(folder)) == 4 and "manifest.json" in names(folder)


async def test_without_usage_or_sizes(store: ResultStore) -> None:
    await store.save(8, KEY, [image(sized=False)], None)
    kept = await store.load(8, KEY)
    assert kept is not None and kept.usage is None and kept.images[0].width is None


async def test_absent_and_other_keys_find_nothing(store: ResultStore) -> None:
    assert await store.load(1, KEY) is None and not store.has(1, KEY)
    await store.save(1, KEY, [image()], USAGE)
    assert await store.load(1, "another database's job 1") is None
    assert not store.has(1, "another database's job 1")


async def test_a_second_save_replaces_the_first_and_leaves_no_stray_files(
    store: ResultStore,
) -> None:
    await store.save(3, KEY, [image(seed=1), image(seed=2)], USAGE)
    await store.save(3, KEY, [image("jpeg", seed=3)], None)
    kept = await store.load(3, KEY)
    assert kept is not None and [i.format for i in kept.images] == ["jpeg"] and kept.usage is None
    assert len(names(store.root / "3")) == 2


async def test_replace_keeps_usage_and_save_time_and_swaps_the_images(
    store: ResultStore, clock: FakeClock
) -> None:
    await store.save(4, KEY, [image("png", seed=1)], USAGE)
    clock.now += 6 * DAY
    assert await store.replace(4, KEY, [image("jpeg", seed=9)])
    kept = await store.load(4, KEY)
    assert kept is not None and kept.usage == USAGE and kept.images[0].format == "jpeg"
    clock.now += 2 * DAY  # retention counts from the first save: now past 7 days
    assert await store.load(4, KEY) is None


async def test_replace_of_nothing_keeps_nothing(store: ResultStore) -> None:
    assert not await store.replace(5, KEY, [image()])
    await store.save(5, KEY, [image()], None)
    assert not await store.replace(5, "another key", [image("jpeg")])
    assert not (store.root / "6").exists()


async def test_remove_forgets_the_result(store: ResultStore) -> None:
    await store.save(9, KEY, [image()], USAGE)
    await store.remove(9)
    await store.remove(9)  # nothing kept is fine
    assert await store.load(9, KEY) is None and not (store.root / "9").exists()


@pytest.mark.parametrize(
    "images",
    [[], [GeneratedImage(b"", "png")], [GeneratedImage(b"x", "gif")]],  # type: ignore[arg-type]
)
async def test_what_could_not_load_back_is_refused(
    store: ResultStore, images: list[GeneratedImage]
) -> None:
    with pytest.raises(ValueError):
        await store.save(2, KEY, images, None)
    assert not (store.root / "2").exists()


# -- retention --------------------------------------------------------------------------------


async def test_expired_results_are_absent_before_prune_and_removed_by_it(
    store: ResultStore, clock: FakeClock
) -> None:
    await store.save(1, KEY, [image()], None)
    clock.now += 3 * DAY
    await store.save(2, KEY, [image()], None)
    clock.now += 5 * DAY  # job 1 is 8 days old, job 2 is 5
    assert await store.load(1, KEY) is None and not store.has(1, KEY)
    assert (store.root / "1").exists()
    report = await store.prune()
    assert (report.removed, report.kept) == (1, 1)
    assert names(store.root) == {"2"}


async def test_over_the_cap_delivered_results_go_before_waiting_ones_oldest_first(
    tmp_path: Path, clock: FakeClock
) -> None:
    filling = ResultStore(tmp_path / "r", keep_days=7, max_bytes=10**9, clock=clock)
    for job_id in (1, 2, 3, 4, 5):
        await filling.save(job_id, KEY, [image(seed=job_id)], None)
        clock.now += 1
    one = filling.size_bytes() // 5  # each result alike: one image and its manifest
    filling.close()
    store = ResultStore(tmp_path / "r", keep_days=7, max_bytes=3 * one + one // 2, clock=clock)
    report = await store.prune(waiting={1, 2})
    assert names(store.root) == {"1", "2", "5"}  # 3 and 4: the oldest delivered ones
    assert report.removed == 2 and report.kept_bytes <= 3 * one + one // 2
    store.close()


async def test_a_result_over_the_cap_alone_is_still_saved(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r", keep_days=7, max_bytes=10)
    await store.save(1, KEY, [image()], None)
    assert await store.load(1, KEY) is not None
    await store.prune(waiting={1})
    assert not (tmp_path / "r" / "1").exists()  # the next prune still keeps the cap
    store.close()


# -- what is on disk is not trusted -----------------------------------------------------------


async def test_a_stop_mid_save_leaves_the_old_result_and_prune_clears_the_rest(
    store: ResultStore,
) -> None:
    await store.save(6, KEY, [image(seed=1)], USAGE)
    folder = store.root / "6"
    # What a stop between the new images and the manifest's swap leaves behind:
    (folder / "0-0123abcd.png").write_bytes(b"half of a new image")
    (folder / ".manifest.json.ab12cd34").write_bytes(b'{"key": ')
    kept = await store.load(6, KEY)
    assert kept is not None and kept.images[0].data == image(seed=1).data
    report = await store.prune()
    assert report.removed == 0 and len(names(folder)) == 2  # stray files gone, result kept
    # A first save stopped before its manifest: a folder without one is removed.
    (store.root / "7").mkdir()
    (store.root / "7" / "0-0123abcd.png").write_bytes(b"x")
    assert (await store.prune()).removed == 1 and not (store.root / "7").exists()


@pytest.mark.parametrize(
    "lie",
    [
        lambda m: m["images"][0].update(file="../../etc/passwd"),
        lambda m: m["images"][0].update(file="0-0123abcd.exe"),
        lambda m: m["images"][0].update(format="gif"),
        lambda m: m["images"][0].update(size=-1),
        lambda m: m["images"][0].update(size=3),
        lambda m: m["images"][0].update(width="wide"),
        lambda m: m.update(usage=[1, "two", 3]),
        lambda m: m.update(images=[]),
        lambda m: m.update(saved_at="yesterday"),
    ],
)
async def test_a_manifest_that_lies_is_refused_and_pruned(
    store: ResultStore, lie: Callable[[dict[str, Any]], None]
) -> None:
    await store.save(11, KEY, [image()], USAGE)
    rewrite_manifest(store.root / "11", lie)
    assert await store.load(11, KEY) is None and not store.has(11, KEY)
    assert (await store.prune()).removed == 1


async def test_a_truncated_manifest_or_a_missing_image_is_refused(store: ResultStore) -> None:
    await store.save(12, KEY, [image()], None)
    await store.save(13, KEY, [image()], None)
    (store.root / "12" / "manifest.json").write_bytes(b'{"key": "')
    [picture] = [p for p in (store.root / "13").iterdir() if p.suffix == ".png"]
    picture.unlink()
    assert await store.load(12, KEY) is None and await store.load(13, KEY) is None


async def test_an_image_that_is_a_link_is_not_followed(tmp_path: Path, store: ResultStore) -> None:
    await store.save(14, KEY, [image()], None)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for members")
    [picture] = [p for p in (store.root / "14").iterdir() if p.suffix == ".png"]
    picture.unlink()
    os.symlink(secret, picture)
    assert await store.load(14, KEY) is None


async def test_foreign_files_and_folders_are_left_alone_and_not_counted(
    store: ResultStore, clock: FakeClock
) -> None:
    store.root.mkdir(parents=True)
    for name in ("notes.txt", "007", "backup"):
        target = store.root / name
        target.mkdir() if name != "notes.txt" else target.write_text("mine")
    await store.save(1, KEY, [image()], None)
    clock.now += 30 * DAY
    await store.prune()
    assert names(store.root) == {"notes.txt", "007", "backup"}
    assert store.size_bytes() == 0


async def test_operations_run_in_the_order_asked(store: ResultStore) -> None:
    saves = [store.save(20, KEY, [image(seed=n)], None) for n in range(8)]
    loads = [store.load(20, KEY) for _ in range(8)]
    *_, last = await asyncio.gather(*saves, store.prune(), *loads)
    assert last is not None and last.images[0].data == image(seed=7).data
    assert len(names(store.root / "20")) == 2


def test_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ResultStore(tmp_path, keep_days=0, max_bytes=1)
    with pytest.raises(ValueError):
        ResultStore(tmp_path, keep_days=1, max_bytes=-1)
