"""The input spool of several processes sharing one folder (issue 19): each clears only its
own at start, and a process's folder goes only once a survivor took its lease."""

from __future__ import annotations

from pathlib import Path

from bot.core.models import ImageRequest, InputImage
from bot.discord.takeover import clear_gone_spools
from bot.jobs.spool import InputSpool, folder_owners, process_folder
from tests.leased import leased_database
from tests.postgres import PostgresServer

LIVE = "machine-a:101:0f0f0f0f"
DEAD = "machine-a:202:1e1e1e1e"


INPUT = b"\x89PNG" + bytes(64)


async def spooled(root: Path, owner: str, job_id: int) -> tuple[InputSpool, ImageRequest]:
    """The spool of process `owner` with one queued edit's input on disk (no memory budget),
    and that edit as queued."""
    image = InputImage(INPUT, "in.png", "png", 16, 16, has_alpha=False)
    edit = ImageRequest(kind="edit", model="gpt-image-1", prompt="a hat", images=(image,))
    spool = InputSpool(process_folder(root, owner), budget=0)
    kept = await spool.keep(job_id, edit)
    assert kept.images[0].spooled is not None and not kept.images[0].data
    return spool, kept


def test_each_process_has_a_folder_of_its_own_named_after_its_owner(tmp_path: Path) -> None:
    owners = [LIVE, "host/with:odd%name:1:aa"]
    folders = {process_folder(tmp_path, owner) for owner in owners}
    assert len(folders) == 2 and all(folder.parent == tmp_path for folder in folders)
    assert all(":" not in folder.name and "/" not in folder.name for folder in folders)
    for folder in folders:
        folder.mkdir()
    assert folder_owners(tmp_path) == sorted(owners)
    assert folder_owners(tmp_path / "missing") == []


async def test_a_starting_process_clears_its_own_folder_not_a_live_ones(tmp_path: Path) -> None:
    live, queued = await spooled(tmp_path, LIVE, 1)
    starting = InputSpool(process_folder(tmp_path, "machine-a:303:2d2d2d2d"), budget=0)
    starting.clear()  # what bot/app.py's start_up does first
    assert list(live.directory.iterdir()), "the live process's spooled inputs were deleted"
    running = await live.restore(1, queued)
    assert running.images[0].data == INPUT


def test_alone_a_start_clears_the_whole_spool_as_before(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    (spool / "7-0-abcd.bin").parent.mkdir()
    (spool / "7-0-abcd.bin").write_bytes(b"left by a process that is gone")
    InputSpool(spool, budget=0).clear()
    assert not spool.exists()


async def test_a_process_folder_goes_once_its_lease_is_taken(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    async with leased_database(postgres_server) as db:
        for owner in (LIVE, DEAD):
            await db.leases(owner).register()
            await spooled(tmp_path, owner, 1)
        survivor = db.leases("machine-a:404:3c3c3c3c")
        await survivor.register()
        mine = InputSpool(process_folder(tmp_path, survivor.owner), budget=0)

        await db.stop_heartbeat(DEAD)
        await clear_gone_spools(mine, survivor)  # dead, but nobody took its lease yet
        assert folder_owners(tmp_path) == sorted([LIVE, DEAD])

        await survivor.reclaim()
        await clear_gone_spools(mine, survivor)
        assert folder_owners(tmp_path) == [LIVE]
        assert list(process_folder(tmp_path, LIVE).iterdir())


async def test_a_folder_whose_process_has_no_row_stays(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """A bot on another database sharing this spool folder has no row in ours: its live
    folder is not this process's to remove."""
    async with leased_database(postgres_server) as db:
        stranger = "machine-b:505:4b4b4b4b"  # leases on another database
        await spooled(tmp_path, stranger, 1)
        survivor = db.leases("machine-a:404:3c3c3c3c")
        await survivor.register()
        mine = InputSpool(process_folder(tmp_path, survivor.owner), budget=0)

        await survivor.reclaim()
        await clear_gone_spools(mine, survivor)
        assert folder_owners(tmp_path) == [stranger]
        assert list(process_folder(tmp_path, stranger).iterdir())
