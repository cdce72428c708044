"""The floor of bench/burst.py's pipeline overhead: the least work one /imagine job needs.

bench/burst_bot.py runs it (BENCH_FLOOR=1) in its own process, on the same fakes and the same
burst as the production bot. Its /imagine defers, waits for one of MAX_CONCURRENT_JOBS slots
(one FIFO semaphore, held for the WisGate call as the runner holds its slot), posts the prompt
to WisGate's /images/generations, reads the answer, joins, parses and decodes it on one worker
thread started up front (off the loop, as the bot must), and edits the original response with
the PNG as received (multipart, through discord.py as the bot does). Nothing else: no ledger,
no results store, no status edits, no embed or buttons. What is not work per job is the bot's
own (bot/app.py, bot/images/memory.py): glibc's malloc thresholds (burst_bot.py sets them for
both), a 2 MiB read buffer toward WisGate, 32 connections toward Discord; without them this
floor was slower than the bot.

Each job's stages are logged as the runner logs them (queued_s, upstream_s, delivery_s, with
`extra={"job": ...}` on the logger FLOOR_LOG), so bench/burst.py reads both overheads the same
way: from having a slot to the images uploaded, minus the upstream delay.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import discord
import orjson
import pybase64
from discord import app_commands
from discord.ext import commands

from bot.app import DISCORD_CONNECTIONS, WISGATE_READ_BUFFER

FLOOR_LOG = "bench.floor"
log = logging.getLogger(FLOOR_LOG)


def decode_answer(chunks: list[bytes]) -> bytes:
    """The first image of a JSON images answer read in chunks: join, orjson, then base64
    (run on the worker; the join there too, as bot/wisgate/stream.py's parse_chunks)."""
    payload = orjson.loads(b"".join(chunks))
    b64 = payload["data"][0]["b64_json"]
    return bytes(pybase64.b64decode(b64, validate=True))


class FloorBot(commands.Bot):
    """A discord.py bot doing only the necessary work per /imagine job."""

    def __init__(self, guild_id: int, *, base_url: str, api_key: str, cap: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
            connector=aiohttp.TCPConnector(limit=DISCORD_CONNECTIONS),
        )
        self.guild_id = guild_id
        self._url = base_url.rstrip("/") + "/images/generations"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._slots = asyncio.Semaphore(cap)
        self._ids = itertools.count(1)
        self._decoder = ThreadPoolExecutor(1, thread_name_prefix="floor-decoder")
        self._session: aiohttp.ClientSession | None = None
        self._jobs: set[asyncio.Task[None]] = set()

    async def setup_hook(self) -> None:
        """Open the WisGate session, start the decoder thread, register /imagine."""
        self._session = aiohttp.ClientSession(read_bufsize=WISGATE_READ_BUFFER)
        # Started now, as the bot's decoder thread is (bot/wisgate/decoder.py).
        await asyncio.wrap_future(self._decoder.submit(lambda: None))

        @app_commands.command(name="imagine")
        async def imagine(interaction: discord.Interaction, prompt: str) -> None:
            """Defer, then run the job."""
            await interaction.response.defer(thinking=True)
            job = asyncio.create_task(self._job(interaction, prompt))
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)
            await job

        guild = discord.Object(self.guild_id)
        self.tree.add_command(imagine, guild=guild)
        await self.tree.sync(guild=guild)

    async def close(self) -> None:
        """Let the jobs under way end (the fake may count an upload before the job logs it, as
        the runner's close lets its jobs end), then close the session and the decoder."""
        if self._jobs:
            await asyncio.wait(set(self._jobs), timeout=30)
        if self._session is not None:
            await self._session.close()
        self._decoder.shutdown(wait=False)
        await super().close()

    async def _job(self, interaction: discord.Interaction, prompt: str) -> None:
        submitted = time.monotonic()
        job_id = next(self._ids)
        # The slot covers the WisGate call only, as the runner's does (bot/jobs/runner.py
        # releases it once the answer is decoded): the next job's call overlaps this upload.
        async with self._slots:
            started = time.monotonic()
            png = await self._generate(prompt)
        answered = time.monotonic()
        file = discord.File(io.BytesIO(png), filename=f"imagine-{job_id}-1.png")
        await interaction.edit_original_response(attachments=[file])
        file.fp.close()
        delivered = time.monotonic()
        fields = {
            "job_id": job_id,
            "queued_s": round(started - submitted, 4),
            "upstream_s": round(answered - started, 4),
            "delivery_s": round(delivered - answered, 4),
        }
        log.info("floor job %d done", job_id, extra={"job": fields})

    async def _generate(self, prompt: str) -> bytes:
        """POST the generation, read the answer, decode it on the worker thread."""
        assert self._session is not None
        body = orjson.dumps({"model": "gpt-image-1", "prompt": prompt, "n": 1})
        async with self._session.post(self._url, data=body, headers=self._headers) as response:
            response.raise_for_status()
            answer = [chunk async for chunk in response.content.iter_any()]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._decoder, decode_answer, answer)
