"""WisGate's rate limit, end to end: jobs wait for the key's window instead of failing.

The fake WisGate enforces an images-per-window limit as a low-tier key does (fixed windows,
429 with retry-after-ms beyond it, x-ratelimit-* headers on every image answer). Retries are
switched off (MAX_RETRIES=0), so a job that met a 429 on its own would fail: only the pacer
can deliver them all.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

import bot.wisgate.pacer
from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import Staff, ask, log_texts, private_reply
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeUser

PER_WINDOW = 4
WINDOW = 1.0
MEMBERS = 4
JOBS_EACH = 6


class Crowd:
    """The `setup=` for running_bot: more members, so the fair queue has several lines."""

    members: list[FakeUser]

    def __call__(self, fake: FakeDiscord, guild: FakeGuild) -> None:
        self.members = [fake.add_user(f"member{number}") for number in range(MEMBERS - 2)]
        for member in self.members:
            guild.add_member(member)


def throughput(world: World, images: int) -> float:
    """The share of the window's allowance used: the fewest windows these images need, over
    the windows the calls actually spanned (from the first admitted call to the last)."""
    times = [at for at, _ in world.wisgate.window_log]
    needed = (math.ceil(images / PER_WINDOW) - 1) * WINDOW
    return needed / (max(times) - min(times))


async def test_a_busy_moment_waits_for_the_window_and_everyone_is_served(
    tmp_path: Path,
) -> None:
    crowd = Crowd()
    settings = {
        "max_retries": 0,
        "max_concurrent_jobs": 8,
        "max_jobs_per_guild": 16,  # the server's cap is no bottleneck here: the key's is
        "max_jobs_per_member": JOBS_EACH,
    }
    limit = {"wisgate_setup": lambda fake: fake.rate_limit(PER_WINDOW, WINDOW)}
    async with running_bot(tmp_path, setup=crowd, **limit, **settings) as world:
        world.wisgate.latency = 0.05
        people = [world.alice, world.bob, *crowd.members]
        asks = [
            world.slash("imagine", {"prompt": f"a lantern {n}"}, user=who)
            for n in range(JOBS_EACH)
            for who in people
        ]
        await asyncio.gather(*asks)
        await world.idle(within=60.0)
        jobs = len(asks)
        assert world.rows("SELECT status, COUNT(*) FROM jobs GROUP BY status") == [
            ("succeeded", jobs)
        ]
        windows = math.ceil(jobs / PER_WINDOW)
        # The first window costs up to MAX_CONCURRENT_JOBS - PER_WINDOW 429s (the pacer starts
        # at its ceiling); after it the headers keep count and no call is sent to be refused.
        assert world.wisgate.rate_limited <= windows, world.wisgate.rate_limited
        assert sum(images for _, images in world.wisgate.window_log) == jobs
        assert throughput(world, jobs) >= 0.9
        for handle in world.handles:
            assert any(m.attachments for m in world.visible(handle, handle.user))


async def test_a_job_sent_back_by_a_429_says_why_it_waits(tmp_path: Path) -> None:
    async with running_bot(tmp_path, max_retries=0) as world:
        world.wisgate.fail("rate_limit", retry_after="1")
        handle = await world.slash("imagine", {"prompt": "a kite"})
        await world.idle()
        assert world.rows("SELECT status FROM jobs") == [("succeeded",)]
        assert world.bot.wisgate.pacer is not None and world.bot.wisgate.pacer.rate_limited == 1
        [original] = [m for m in world.discord.messages_for(handle) if m.kind == "response"]
        said = [line for line in original.history if "rate limit" in line]
        assert said and said[0].startswith("⏳ Waiting for WisGate's rate limit — position 1")


async def test_out_of_credit_refunds_once_then_refuses_before_the_defer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.wisgate.pacer, "OUT_OF_CREDIT_PAUSE", 1.5)
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=staff.admin)
        world.wisgate.fail("insufficient_quota", times=2)
        first = await world.slash("imagine", {"prompt": "a coin"})
        await world.idle()
        assert first.ack_type == 5  # deferred: nobody knew yet
        assert "run out of credit" in private_reply(world, first)
        assert len(world.wisgate.requests) == 1
        for who in (world.alice, world.bob):
            refused = await world.slash("imagine", {"prompt": "another coin"}, user=who)
            await world.idle()
            assert refused.ack_type == 4  # answered at once, privately: no defer, no call
            reply = private_reply(world, refused)
            assert "run out of credit" in reply and "nothing was charged" in reply
        assert len(world.wisgate.requests) == 1
        await asyncio.sleep(1.6)  # the pause ends: the next request is sent, and fails again
        again = await world.slash("imagine", {"prompt": "a third coin"})
        await world.idle()
        assert again.ack_type == 5 and "run out of credit" in private_reply(world, again)
        assert len(world.wisgate.requests) == 2
        alerts = [text for text in log_texts(world, staff.log) if "run out of credit" in text]
        assert len(alerts) == 1, alerts  # the log channel is told once, not per job
        await asyncio.sleep(1.6)  # topped up: jobs go through again
        await world.slash("imagine", {"prompt": "a fourth coin"})
        await world.idle()
        statuses = world.rows("SELECT status, images_charged FROM jobs ORDER BY id")
        assert statuses == [("failed", 0), ("failed", 0), ("succeeded", 1)]
