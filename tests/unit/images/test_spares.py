"""Spare files written ahead for the results store (bot/images/spares.py): saves reuse them,
each is taken once, nothing is written through a link, a stop at any point leaves nothing
wrong, and files that are not the store's are left alone."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from bot.core.models import GeneratedImage
from bot.images.spares import SPARE_FOLDER, SpareFiles
from bot.images.store import MANIFEST, ResultStore
from tests.fakes.images import make_image

KEY = "user=42;created=2026-12-05T08:00:00"
ROUND = 64 * 1024  # spare sizes are rounded up to this
ROOT = Path(__file__).resolve().parents[3]


def image(seed: int = 0) -> GeneratedImage:
    return GeneratedImage(make_image(16, 16, "png", seed=seed), "png", 16, 16)


def spare_files(root: Path) -> list[Path]:
    folder = root / SPARE_FOLDER
    return [p for p in folder.iterdir() if p.name.startswith("spare-")] if folder.exists() else []


def images_in(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.suffix == ".png"]


def new_store(root: Path, spares: int = 4) -> ResultStore:
    return ResultStore(root, keep_days=7, max_bytes=10**9, spare_bytes=spares * ROUND)


async def test_saves_write_over_spare_files_written_ahead(tmp_path: Path) -> None:
    store = new_store(tmp_path / "r")
    await store.save(1, KEY, [image(seed=1)], None)  # no spares yet: a new file
    await store.spares_written()
    assert len(spare_files(store.root)) == 4
    written_ahead = {path.stat().st_ino for path in spare_files(store.root)}
    await store.save(2, KEY, [image(seed=2), image(seed=3)], None)
    pictures = images_in(store.root / "2")
    assert {path.stat().st_ino for path in pictures} <= written_ahead  # the spares, renamed
    kept = await store.load(2, KEY)
    assert kept is not None and [i.data for i in kept.images] == [image(n).data for n in (2, 3)]
    assert {p.stat().st_size for p in pictures} == {len(image(n).data) for n in (2, 3)}  # cut
    await store.spares_written()
    assert len(spare_files(store.root)) == 4  # topped up again after the save
    # Spares are not results: not counted, and a prune leaves them.
    assert store.size_bytes() == sum(p.stat().st_size for n in (1, 2) for p in _files(store, n))
    await store.prune()
    assert len(spare_files(store.root)) == 4
    store.close()


async def test_without_spare_bytes_nothing_is_written_ahead(tmp_path: Path) -> None:
    store = new_store(tmp_path / "r", spares=0)
    await store.save(1, KEY, [image()], None)
    await store.spares_written()
    store.close()
    assert sorted(path.name for path in store.root.iterdir()) == ["1"]


def test_each_spare_is_taken_once_and_cut_to_the_data(tmp_path: Path) -> None:
    spares = SpareFiles(tmp_path / SPARE_FOLDER, budget=2 * ROUND)
    spares.refill(1000)
    assert [p.stat().st_size for p in spare_files(tmp_path)] == [ROUND] * 2
    assert spares.take(tmp_path / "a.png", b"first") and spares.take(tmp_path / "b.png", b"2nd")
    assert not spares.take(tmp_path / "c.png", b"none left")
    assert (tmp_path / "a.png").read_bytes() == b"first"
    assert (tmp_path / "b.png").read_bytes() == b"2nd"
    assert not (tmp_path / "c.png").exists()
    spares.close()


def test_a_link_among_the_spares_is_never_written_through(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"not ours")
    (tmp_path / SPARE_FOLDER).mkdir()
    os.symlink(secret, tmp_path / SPARE_FOLDER / "spare-0123456789abcdef")
    spares = SpareFiles(tmp_path / SPARE_FOLDER, budget=ROUND)
    assert not spares.take(tmp_path / "a.png", b"image")
    assert secret.read_bytes() == b"not ours" and not (tmp_path / "a.png").exists()
    spares.close()


def test_a_spare_with_another_name_elsewhere_is_never_written_into(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_bytes(bytes(ROUND))
    (tmp_path / SPARE_FOLDER).mkdir()
    os.link(other, tmp_path / SPARE_FOLDER / "spare-0123456789abcdef")
    spares = SpareFiles(tmp_path / SPARE_FOLDER, budget=ROUND)
    assert not spares.take(tmp_path / "a.png", b"image")
    assert other.read_bytes() == bytes(ROUND) and not (tmp_path / "a.png").exists()
    spares.close()


def test_refill_keeps_to_its_budget_and_drops_what_a_stop_left_staged(tmp_path: Path) -> None:
    folder = tmp_path / SPARE_FOLDER
    folder.mkdir()
    stale, fresh = folder / ".staged-0000000000000000", folder / ".staged-1111111111111111"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"under way")  # perhaps another process's, still being written
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    spares = SpareFiles(folder, budget=3 * ROUND + 100)
    spares.refill(ROUND)
    spares.refill(ROUND)
    assert len(spare_files(tmp_path)) == 3  # never more than the budget holds
    assert not stale.exists() and fresh.exists()
    spares.close()


async def test_a_stop_between_the_claim_and_the_write_leaves_nothing_wrong(tmp_path: Path) -> None:
    """A spare renamed to an image's path, not yet written (zeros, too long), with no manifest
    naming it: the old result still loads, a first save loads as nothing; prune clears both."""
    store = new_store(tmp_path / "r")
    await store.save(1, KEY, [image(seed=1)], None)
    await store.spares_written()
    claimed = spare_files(store.root)[:2]
    os.replace(claimed[0], store.root / "1" / "5-0123abcd.png")  # a replace cut short
    (store.root / "2").mkdir()
    os.replace(claimed[1], store.root / "2" / "5-4567abcd.png")  # a first save cut short
    kept = await store.load(1, KEY)
    assert kept is not None and kept.images[0].data == image(seed=1).data
    assert await store.load(2, KEY) is None and not store.has(2, KEY)
    report = await store.prune()
    assert report.removed == 1 and not (store.root / "2").exists()
    assert sorted(p.name for p in (store.root / "1").iterdir()) == sorted(
        [MANIFEST, *(p.name for p in images_in(store.root / "1") if p.name != "5-0123abcd.png")]
    )
    assert not (store.root / "1" / "5-0123abcd.png").exists()
    store.close()


async def test_files_that_are_not_the_stores_are_left_alone(tmp_path: Path) -> None:
    """RESULTS_DIR may be shared: its other files, and files in .spare/ not named as spares
    (nor staged ones), survive saves, refills and prunes."""
    root = tmp_path / "r"
    (root / SPARE_FOLDER).mkdir(parents=True)
    theirs = {
        root / "notes.txt": b"mine",
        root / "backup" / "a.png": b"an old picture",
        root / SPARE_FOLDER / "keep.me": b"someone's",
        root / SPARE_FOLDER / "spare-notours": b"not our pattern",
    }
    for path, data in theirs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    store = new_store(root)
    for job in range(1, 6):
        await store.save(job, KEY, [image(seed=job)], None)
        await store.spares_written()
    await store.prune()
    store.close()
    assert {path: path.read_bytes() for path in theirs} == theirs


async def test_a_killed_process_leaves_a_store_the_next_one_uses(tmp_path: Path) -> None:
    """SIGKILL a process saving results as fast as it can (spares refilled beside it), at
    whatever step it is in: each result the next process finds loads whole or not at all, a
    prune leaves only whole results, and saving goes on over the spares left behind."""
    root = tmp_path / "r"
    saver = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SAVER, str(root), cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    assert saver.stdout is not None
    saved = 0
    while saved < 12:  # well into saving, with spares taken and refilled
        line = await saver.stdout.readline()
        assert line, "the saving process ended early"
        saved = int(line)
    saver.send_signal(signal.SIGKILL)
    await saver.wait()
    store = new_store(root)
    jobs = sorted(int(p.name) for p in root.iterdir() if p.name.isdigit())
    assert jobs[:saved] == list(range(1, saved + 1))
    for job in jobs:
        kept = await store.load(job, KEY)
        assert kept is None or kept.images[0].data == image(seed=job).data, job
        assert job > saved or kept is not None  # those it said were saved, are
    await store.prune()
    for folder in (p for p in root.iterdir() if p.name.isdigit()):
        kept = await store.load(int(folder.name), KEY)
        assert kept is not None  # what a prune keeps is whole
        assert (
            sorted(p.name for p in folder.iterdir())
            == sorted([MANIFEST, *(p.name for p in images_in(folder))])
            and len(images_in(folder)) == 1
        )
    left = {p.name.split("-")[0] for p in (root / SPARE_FOLDER).iterdir()}
    assert left <= {"spare", ".staged"}
    await store.save(1000, KEY, [image(seed=1000)], None)
    kept = await store.load(1000, KEY)
    assert kept is not None and kept.images[0].data == image(seed=1000).data
    store.close()


def _files(store: ResultStore, job: int) -> list[Path]:
    return list((store.root / str(job)).iterdir())


_SAVER = """
import asyncio, sys
from pathlib import Path
from bot.images.store import ResultStore
from tests.unit.images.test_spares import KEY, image, new_store

async def main():
    store = new_store(Path(sys.argv[1]))
    job = 0
    while True:
        job += 1
        await store.save(job, KEY, [image(seed=job)], None)
        if job == 1:  # spares on disk before the kill, on a loaded machine too
            await store.spares_written()
        print(job, flush=True)

asyncio.run(main())
"""
