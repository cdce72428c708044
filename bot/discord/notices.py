"""Messages the bot sends on its own: budget alerts, moderation reports, cap alerts to a
server's log channel, and restart notices to members; in one place, wired by bot/app.py.

None of these answers an interaction, so each finds its channel itself, checks that the
channel belongs to the guild the news is about (one guild's quotas never show in another),
and gives up quietly (with a log line) when Discord refuses: a notice must never break a job
or a command. The runner calls `settled` and `refunded` after each job (bot.jobs.job.JobEvents).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

import discord

from bot.core.errors import BotError
from bot.discord.language import guild_locale
from bot.discord.notice_texts import (
    account_alert_text,
    budget_alert_text,
    cap_alert_text,
    rejection_report_text,
    restart_text,
)
from bot.discord.replies import NO_PINGS
from bot.i18n import speaking
from bot.ledger.facade import CapReached, JobRecord, JobSpec, Ledger, Settlement
from bot.ledger.moderation import LedgerModeration
from bot.wisgate.errors import AuthenticationFailed, ContentRejected, UpstreamQuotaExhausted

log = logging.getLogger(__name__)

# Tells members of refunds on their own interactions where it can (bot/discord/interrupted.py);
# returns the jobs whose members it told, and marked so.
AnswerFirst = Callable[[Sequence[JobRecord]], Awaitable[set[int]]]


class Notices:
    """The bot's own messages, through `client`; the ledger says where and whether to send."""

    def __init__(
        self, client: discord.Client, ledger: Ledger, moderation: LedgerModeration
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._moderation = moderation
        self.restart_task: asyncio.Task[None] | None = None  # restart notices being sent

    async def guild_channel(self, guild_id: int, channel_id: int) -> discord.abc.Messageable | None:
        """The channel or thread `channel_id` if it belongs to guild `guild_id`, else None."""
        guild = self._client.get_guild(guild_id)
        found: object = guild.get_channel_or_thread(channel_id) if guild is not None else None
        if found is None:
            try:
                found = await self._client.fetch_channel(channel_id)
            except discord.HTTPException as error:
                log.info("channel %d is out of reach: %s", channel_id, error.status)
                return None
        owner = getattr(found, "guild", None)
        if owner is None or owner.id != guild_id or not isinstance(found, discord.abc.Messageable):
            return None
        return found

    def locale_of(self, guild_id: int | None) -> str | None:
        """The language of a server's messages that answer no interaction (its log channel, a
        notice in its channel): the server's preferred locale; None (English) if unknown."""
        if guild_id is None:
            return None
        return guild_locale(self._client.get_guild(guild_id))

    async def post_to_log(self, guild_id: int, text: str) -> bool:
        """Post `text` to the guild's log channel, if it has one; True if it was posted."""
        config = await self._moderation.guild_config(guild_id)
        if config.log_channel_id is None:
            return False
        channel = await self.guild_channel(guild_id, config.log_channel_id)
        if channel is None:
            log.warning("guild %d: log channel %d not found", guild_id, config.log_channel_id)
            return False
        try:
            await channel.send(text[:2000], allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            log.warning("guild %d: cannot post to the log channel: %s", guild_id, error.status)
            return False
        return True

    async def settled(self, spec: JobSpec, settlement: Settlement) -> None:
        """After a charge: the 80% budget alert (the ledger flags it once a month)."""
        guild_id = spec.requester.guild_id
        if not settlement.budget_alert or guild_id is None:
            return
        with speaking(self.locale_of(guild_id)):
            text = budget_alert_text(settlement, self._ledger.now())
        if not await self.post_to_log(guild_id, text):
            log.warning(
                "guild %d reached 80%% of its budget; no log channel took the alert", guild_id
            )

    async def refunded(self, spec: JobSpec, error: BotError) -> None:
        """After a refund: report a member's third safety rejection within an hour; tell the
        log channel once when WisGate refuses the key or its credit is gone."""
        guild_id = spec.requester.guild_id
        if isinstance(error, UpstreamQuotaExhausted | AuthenticationFailed):
            await self._account_trouble(error, guild_id)
            return
        if not isinstance(error, ContentRejected) or guild_id is None:
            return  # DMs and user installs have no log channel to report to
        report = await self._moderation.rejection_report(guild_id, spec.requester.user_id)
        if report is None:
            return
        with speaking(self.locale_of(guild_id)):
            text = rejection_report_text(report)
        if not await self.post_to_log(guild_id, text):
            log.warning(
                "guild %d: member %d reached %d rejections; no log channel took the report",
                guild_id,
                report.user_id,
                report.rejections,
            )

    async def _account_trouble(
        self, error: UpstreamQuotaExhausted | AuthenticationFailed, guild_id: int | None
    ) -> None:
        """The bot's WisGate account cannot serve anyone: the owner must act. Once an hour
        per server (and in the log)."""
        kind = "upstream_credit" if isinstance(error, UpstreamQuotaExhausted) else "upstream_key"
        hour = self._ledger.now().strftime("%Y-%m-%dT%H")
        if not await self._ledger.first_alert(kind, hour, guild_id):
            return
        log.error("WisGate %s: %s", "has no credit left" if kind == "upstream_credit"
                  else "refused the API key", error)  # fmt: skip
        if guild_id is not None:
            with speaking(self.locale_of(guild_id)):
                text = account_alert_text(kind)
            await self.post_to_log(guild_id, text)

    async def cap_reached(self, error: CapReached, guild_id: int | None) -> None:
        """One of the owner's caps refused a request: tell the log and the log channel, once
        per period and server. A courtesy: the member's refusal goes out whatever happens."""
        try:
            if not await self._ledger.first_cap_alert(error, guild_id):
                return
            log.warning(
                "operator cap %s reached for %s (guild %s): requests are refused until it resets",
                error.cap,
                error.period,
                guild_id,
            )
            if guild_id is not None:
                with speaking(self.locale_of(guild_id)):
                    text = cap_alert_text(error)
                await self.post_to_log(guild_id, text)
        except Exception:
            log.exception("could not report that cap %s was reached", error.cap)

    def start_restart_notices(
        self, records: Sequence[JobRecord], answer_first: AnswerFirst | None = None
    ) -> None:
        """Tell the members of these refunds, in the background: through `answer_first` on
        their interactions where it can, else (once connected) by a notice; after the round
        already under way, if any (one round at a time), without waiting for it here."""
        self.restart_task = asyncio.create_task(
            self._after(self.restart_task, records, answer_first), name="restart-notices"
        )

    async def _after(
        self,
        previous: asyncio.Task[None] | None,
        records: Sequence[JobRecord],
        answer_first: AnswerFirst | None,
    ) -> None:
        if previous is not None and not previous.done():
            try:
                await asyncio.wait({previous})
            except asyncio.CancelledError:
                previous.cancel()  # close() cancels the newest round: the older ones end too
                raise
        await self._restart(records, answer_first)

    async def _restart(
        self, records: Sequence[JobRecord], answer_first: AnswerFirst | None
    ) -> None:
        """Tell each member whose jobs were refunded by a restart and not told on the
        interaction: in the job's channel, else by DM. Each group is marked sent in the ledger
        once tried, so a process stopped before then leaves it owed to the next start (told
        twice at worst, never not at all).

        With several processes, the jobs' lease is the claim: right before telling, the ledger
        says which are still this process's (`notices_held`); one that stalled past its lease
        while telling leaves the rest to the survivor that took them, instead of both telling."""
        records = await self._held(records)
        answered: set[int] = set()
        if answer_first is not None and records:
            try:
                # Before the gateway is up: the webhooks need none, and their tokens run out.
                answered = await answer_first(records)
            except Exception:
                log.exception("answering interrupted requests failed; notices tell the members")
        await self._client.wait_until_ready()
        groups: dict[tuple[int, int | None, int | None], list[JobRecord]] = defaultdict(list)
        for record in records:
            if record.id not in answered:
                groups[(record.user_id, record.guild_id, record.channel_id)].append(record)
        told = 0
        for group in groups.values():
            try:
                group = await self._held(group)
            except Exception:
                # Left owed, unmarked: the next start or takeover tells them.
                log.exception("could not check restart notice for member %d", group[0].user_id)
                continue
            if not group:
                continue  # told already, or another process's now
            try:
                if await self._tell_in_channel(group) or await self._tell_by_dm(group):
                    told += 1
            except Exception:
                # One member's odd channel must not stop the others' notices.
                log.exception("restart notice for member %d failed", group[0].user_id)
            await self._ledger.notices_sent([record.id for record in group])
        log.info("restart notices: %d of %d member(s) told", told, len(groups))

    async def _held(self, records: Sequence[JobRecord]) -> list[JobRecord]:
        """Those of these records whose member this process may tell now (see _restart)."""
        held = await self._ledger.notices_held([record.id for record in records])
        if len(held) < len(records):
            log.info("%d restart notice(s) no longer ours to send", len(records) - len(held))
        return [record for record in records if record.id in held]

    async def _tell_in_channel(self, records: Sequence[JobRecord]) -> bool:
        first = records[0]
        if first.guild_id is None or first.channel_id is None or first.params.get("private"):
            return False
        channel = await self.guild_channel(first.guild_id, first.channel_id)
        if channel is None:
            return False
        # Addressed to one member who is not watching: their mention alone may ping them.
        mention = discord.AllowedMentions(
            everyone=False, users=[discord.Object(first.user_id)], roles=False
        )
        try:
            with speaking(self.locale_of(first.guild_id)):
                text = restart_text(records, in_channel=True)
            await channel.send(text, allowed_mentions=mention)
        except discord.HTTPException as error:
            log.info("restart notice refused in channel %d: %s", first.channel_id, error.status)
            return False
        return True

    async def _tell_by_dm(self, records: Sequence[JobRecord]) -> bool:
        user_id = records[0].user_id
        try:
            user = self._client.get_user(user_id) or await self._client.fetch_user(user_id)
            # A DM answers no server's channel: the language of the server it was asked in.
            with speaking(self.locale_of(records[0].guild_id)):
                text = restart_text(records, in_channel=False)
            await user.send(text, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            log.warning("could not tell member %d about a refund: %s", user_id, error.status)
            return False
        return True
