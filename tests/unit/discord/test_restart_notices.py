"""Restart notices go on past one member's failure: a database error while checking whether a
group is still this process's leaves that group owed (unmarked) and tells the others.

The ledger is the real one on each backend; only its `notices_held` is made to fail, for one
group. Discord is a stand-in that takes DMs: the notices' own logic is under test here."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.core.prices import default_prices
from bot.discord.notices import Notices
from bot.ledger.facade import JobSpec, Ledger, Requester
from bot.ledger.moderation import LedgerModeration
from tests.places import Place
from tests.unit.ledger.test_sent_once import dalle3

UNLUCKY, LUCKY = 222, (221, 223)  # asked in this order: the unlucky one in the middle


class FlakyLedger(Ledger):
    """Fails the per-group check of one job once, as a dropped connection would."""

    failing: int = -1

    async def notices_held(self, job_ids: list[int]) -> set[int]:
        """The real answer, except an error for the failing job's group alone."""
        if job_ids == [self.failing]:
            self.failing = -1
            raise ConnectionError("the database went away for a moment")
        return await super().notices_held(job_ids)


class Member:
    """A member who reads DMs."""

    def __init__(self) -> None:
        self.told: list[str] = []

    async def send(self, text: str, **_: Any) -> None:
        self.told.append(text)


class DmOnlyClient:
    """Ready at once; no guilds; every member takes DMs."""

    def __init__(self) -> None:
        self.members: dict[int, Member] = {}

    async def wait_until_ready(self) -> None:
        pass

    def get_guild(self, guild_id: int) -> None:
        return None

    def get_user(self, user_id: int) -> Member:
        return self.members.setdefault(user_id, Member())


def in_dm(user: int) -> JobSpec:
    """A job asked in DMs, so its notice goes by DM."""
    return replace(dalle3(user), requester=Requester(user_id=user, guild_id=None, channel_id=None))


async def test_a_failed_check_for_one_member_leaves_it_owed_and_tells_the_rest(
    place: Place,
) -> None:
    async with place.open() as store:
        ledger = FlakyLedger(store, default_daily_images=100, prices=default_prices())
        jobs = {}
        for user in (LUCKY[0], UNLUCKY, LUCKY[1]):
            jobs[user] = (await ledger.reserve(in_dm(user))).job_id
            assert await ledger.refund(jobs[user], "restarting", status="interrupted",
                                       owe_notice=True)  # fmt: skip
        client = DmOnlyClient()
        notices = Notices(client, ledger, LedgerModeration(ledger))  # type: ignore[arg-type]
        ledger.failing = jobs[UNLUCKY]

        notices.start_restart_notices(await ledger.owed_notices())
        assert notices.restart_task is not None
        await notices.restart_task

        assert all(client.get_user(user).told for user in LUCKY), "the others were not told"
        assert not client.get_user(UNLUCKY).told
        owed = [record.id for record in await ledger.owed_notices()]
        assert owed == [jobs[UNLUCKY]], "the failed member's notice must stay owed"
