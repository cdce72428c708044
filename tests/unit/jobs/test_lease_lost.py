"""A process that stalls past its lease mid-generation (issue 19): a survivor takes its job and
ends it; when the stalled process resumes, its runner neither charges nor delivers the job and
posts nothing to the member (the survivor answers them), and stops its status edits. The real
ledger and leases on PostgreSQL, the runner of the stalled process with a WisGate that waits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.core.catalogue import Catalogue
from bot.core.models import GeneratedImage, ImageRequest, ImageResult
from bot.core.profile_files import builtin_profiles
from bot.images.store import ResultStore
from bot.jobs.job import Delivered, Job
from bot.jobs.recovery import recover
from bot.jobs.runner import Runner
from bot.jobs.spool import InputSpool
from tests.leased import fox_spec, leased_database
from tests.postgres import PostgresServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class StalledWisGate:
    """Answers once `go` is set: the stall, during which the lease runs out."""

    pacer = None

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.go = asyncio.Event()

    async def generate(self, request: ImageRequest, *, on_partial: Any = None) -> ImageResult:
        self.asked.set()
        await self.go.wait()
        return ImageResult((GeneratedImage(PNG, "png", 1024, 1024),))

    edit = generate


class Reporter:
    """Records what the runner would have said to the member."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self.abandoned = False

    def progress(self, stage: str, position: int | None, **_: object) -> None:
        pass

    async def preview(self, image: GeneratedImage, index: int) -> None:
        self.said.append("preview")

    async def deliver(
        self, job_id: int, request: ImageRequest, result: ImageResult, remaining: int | None
    ) -> Delivered:
        self.said.append(f"delivered {len(result.images)}")
        return Delivered(len(result.images), 1, 2)

    async def waiting(self, job_id: int) -> None:
        self.said.append("waiting")

    async def fail(self, text: str) -> None:
        self.said.append(f"failed: {text}")

    async def abandon(self) -> None:
        self.abandoned = True


async def test_a_job_taken_mid_generation_is_neither_charged_nor_delivered_by_the_stalled(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    async with leased_database(postgres_server) as db:
        stalled, survivor = db.ledger("stalled"), db.ledger("survivor")
        results = ResultStore(tmp_path / "results", keep_days=1, max_bytes=10**8)
        wisgate = StalledWisGate()
        runner = Runner(
            wisgate=wisgate,  # type: ignore[arg-type]
            ledger=stalled,
            results=results,
            spool=InputSpool(tmp_path / "spool", 10**6),
            catalogue=Catalogue(builtin_profiles(), ["gpt-image-1"], "gpt-image-1"),
            max_concurrent=2,
        )
        try:
            await db.leases("stalled").register()
            reporter = Reporter()
            request = ImageRequest("generate", "gpt-image-1", "a red fox", 1, "1024x1024", "low")
            job_id = (await runner.submit(Job(fox_spec(), request, reporter))).job_id
            await asyncio.wait_for(wisgate.asked.wait(), 5)

            # The stalled process misses its heartbeats; a survivor takes and ends its job
            # (nothing kept yet: refunded, the member told by the survivor).
            await db.stop_heartbeat("stalled")
            leases = db.leases("survivor")
            await leases.register()
            assert await leases.reclaim() == [job_id]
            await recover(survivor, results, [job_id])
            ended = await survivor.job(job_id)
            assert ended is not None and ended.status == "interrupted"

            # The stalled process resumes: WisGate answers, its runner keeps and settles...
            wisgate.go.set()
            for _ in range(200):
                if runner.in_flight == 0:
                    break
                await asyncio.sleep(0.025)
            assert runner.in_flight == 0

            # ...which changes nothing, so it posts nothing and leaves the message alone.
            assert reporter.said == []
            assert reporter.abandoned
            record = await stalled.job(job_id)
            assert record is not None
            assert record.status == "interrupted"
            assert record.images_charged == 0 and record.cost_charged_micros == 0
        finally:
            await runner.close(grace=1.0)
            results.close()
