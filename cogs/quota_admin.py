"""/quota-admin: moderators run the server's image economy from Discord.

Shown by default to members with Manage Server, and checked again in our code (Manage
Server, or the server's moderator role) for every subcommand, blocked terms included
(`/quota-admin terms`). Every reply is private; a change states the old and the new value,
is an audit row, and is also posted to the server's log channel when one is set (a moderator
action announced on purpose). The reading commands (top, list, job, report) live in
cogs/_quota_reports.py. Guild installs only: a server without the bot has no quotas to manage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
from discord import Interaction, app_commands
from discord.app_commands import Range
from discord.ext import commands

from bot.core.errors import InvalidRequest
from bot.core.terms import MAX_TERM_CHARS
from bot.discord.client import ImageBot
from bot.discord.permissions import NotModerator, require_moderator, role_ids
from bot.discord.quota_texts import (
    LIMIT_SOURCES,
    acknowledge,
    answer,
    change_text,
    status_text,
    usd_text,
)
from bot.discord.quota_texts import images as count_images
from bot.discord.wording import discord_timestamp
from bot.i18n import N_, _, speaking
from bot.ledger.admin import KEEP, MAX_DAILY_IMAGES, Change
from bot.ledger.models import next_month
from cogs import _quota_reports as reports
from cogs import _quota_terms as quota_terms
from cogs._quota_audit import AuditPager

Images = Range[int, 0, MAX_DAILY_IMAGES]
JobId = Range[int, 1, 2**53 - 1]  # Discord's largest integer option
Person = discord.Member | discord.User
NOT_INSTALLED = N_(
    "This server has not added the bot, so there are no quotas here to manage. "
    "A server admin can add it to this server first."
)
CLEARABLE = [
    app_commands.Choice(name="the moderator role", value="moderator_role"),
    app_commands.Choice(name="the log channel", value="log_channel"),
    app_commands.Choice(name="both", value="both"),
]


@app_commands.guild_only()
@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.default_permissions(manage_guild=True)
class QuotaAdmin(
    commands.GroupCog,
    group_name="quota-admin",
    group_description="Moderators: image quotas, budgets and the audit log",
):
    """The moderators' quota commands."""

    terms = app_commands.Group(name="terms", description="Words and phrases refused in prompts")

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.admin = bot.admin
        self.moderation = bot.moderation

    async def interaction_check(self, interaction: Interaction[Any], /) -> bool:
        """Manage Server or the server's moderator role, whatever Discord's settings say."""
        if interaction.guild_id is not None and not interaction.is_guild_integration():
            # The app installed by a member, used in a server without the bot: not ours to run.
            raise NotModerator(_(NOT_INSTALLED))
        return await require_moderator(interaction)

    def _guild(self, interaction: Interaction[ImageBot]) -> int:
        if interaction.guild_id is None:  # require_moderator already refused DMs
            raise InvalidRequest(_("Quotas can only be managed inside a server."))
        return interaction.guild_id

    def _text(self, change: Change[Any]) -> str:
        default = self.bot.ledger.default_daily_images
        return change_text(
            change.action, change.target_id, change.old, change.new, bot_default=default
        )

    async def _report(
        self, interaction: Interaction[ImageBot], changes: Sequence[Change[Any]], extra: str = ""
    ) -> bool:
        """Answer the moderator privately, then post the change to the log channel."""
        lines = [self._text(change) for change in changes]
        await answer(interaction, "\n".join(lines) + (f"\n{extra}" if extra else ""))
        if not lines:
            return False
        guild_id = self._guild(interaction)
        with speaking(self.bot.notices.locale_of(guild_id)):  # the log speaks the server's
            head = _("Quota change by {moderator}:").format(moderator=f"<@{interaction.user.id}>")
            note = "\n".join([head, *(self._text(change) for change in changes)])
        return await self.bot.notices.post_to_log(guild_id, note)

    async def _left_today(self, guild_id: int, member: Person) -> str:
        status = await self.admin.member_status(guild_id, member.id, role_ids(member))
        reset = discord_timestamp(status.resets_at)
        return _("They can make {images} more today (resets {when}).").format(
            images=count_images(status.remaining), when=reset
        )

    @app_commands.command(name="show")
    @app_commands.describe(member="Whose quota to show")
    async def show(self, interaction: Interaction[ImageBot], member: Person) -> None:
        """Show a member's quota, usage and block in this server."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        status = await self.admin.member_status(guild_id, member.id, role_ids(member))
        await answer(interaction, status_text(status, who=f"<@{member.id}>"))

    @app_commands.command(name="limit")
    @app_commands.describe(member="Whose limit", images="Images a day; leave out to clear")
    async def limit(
        self, interaction: Interaction[ImageBot], member: Person, images: Images | None = None
    ) -> None:
        """Set a member's own daily image limit (leave images out to clear it)."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        change = await self.admin.set_member_limit(interaction.user.id, guild_id, member.id, images)
        extra = ""
        if images is None:
            status = await self.admin.member_status(guild_id, member.id, role_ids(member))
            source = _(LIMIT_SOURCES[status.limit_source])
            extra = _("Their limit is now {images} a day ({source}).").format(
                images=count_images(status.limit), source=source
            )
        await self._report(interaction, [change], extra)

    @app_commands.command(name="role-limit")
    @app_commands.describe(role="The role", images="Images a day; leave out to clear")
    async def role_limit(
        self, interaction: Interaction[ImageBot], role: discord.Role, images: Images | None = None
    ) -> None:
        """Set the daily image limit for a role (members get their best role's limit)."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        change = await self.admin.set_role_limit(interaction.user.id, guild_id, role.id, images)
        await self._report(interaction, [change])

    @app_commands.command(name="default")
    @app_commands.describe(images="Images a day; leave out for the bot's default")
    async def default(
        self, interaction: Interaction[ImageBot], images: Images | None = None
    ) -> None:
        """Set this server's default daily image limit."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        change = await self.admin.set_guild_default(interaction.user.id, guild_id, images)
        await self._report(interaction, [change])

    @app_commands.command(name="grant")
    @app_commands.describe(member="Who gets them", images="Extra images, for today only")
    async def grant(
        self,
        interaction: Interaction[ImageBot],
        member: Person,
        images: Range[int, 1, MAX_DAILY_IMAGES],
    ) -> None:
        """Give a member extra images for today."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        change = await self.admin.grant(interaction.user.id, guild_id, member.id, images)
        await self._report(interaction, [change], await self._left_today(guild_id, member))

    @app_commands.command(name="reset")
    @app_commands.describe(member="Whose usage to forgive")
    async def reset(self, interaction: Interaction[ImageBot], member: Person) -> None:
        """Forgive what a member has used today."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        change = await self.admin.reset_usage(interaction.user.id, guild_id, member.id)
        await self._report(interaction, [change], await self._left_today(guild_id, member))

    @app_commands.command(name="block")
    @app_commands.describe(
        member="Who to block",
        reason="Why (the member sees this)",
        duration="How long (leave out: until unblocked)",
    )
    @app_commands.choices(duration=reports.DURATION_CHOICES)
    async def block(
        self,
        interaction: Interaction[ImageBot],
        member: Person,
        reason: Range[str, 1, 200],
        duration: str = "permanent",
    ) -> None:
        """Stop a member from making images in this server, for a while or until unblocked."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        if duration not in reports.BLOCK_DURATIONS:
            raise InvalidRequest(_("Choose a duration from the list."))
        change = await self.admin.block(
            interaction.user.id, guild_id, member.id, reason, reports.BLOCK_DURATIONS[duration]
        )
        await self._report(interaction, [change])

    @app_commands.command(name="unblock")
    @app_commands.describe(member="Who to let back in")
    async def unblock(self, interaction: Interaction[ImageBot], member: Person) -> None:
        """Let a blocked member make images again."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        change = await self.admin.unblock(interaction.user.id, guild_id, member.id)
        extra = "" if change.old is not None else _("They were not blocked: nothing changed.")
        await self._report(interaction, [change], extra)

    @app_commands.command(name="budget")
    @app_commands.describe(usd="US dollars a month for this server; 0 = no budget")
    async def budget(
        self, interaction: Interaction[ImageBot], usd: Range[float, 0, 1_000_000]
    ) -> None:
        """Set this server's monthly image budget in US dollars (0 = none)."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        change = await self.admin.set_budget(interaction.user.id, guild_id, usd)
        spent, budget = await self.admin.month_spend(guild_id)
        extra = _("Spent this month: {spent}.").format(spent=usd_text(spent))
        if budget is not None and spent >= budget:
            turns = discord_timestamp(next_month(self.bot.ledger.now()))
            extra += " " + _(
                "That is all of it: new requests are refused until it is raised or {when}."
            ).format(when=turns)
        await self._report(interaction, [change], extra)

    @app_commands.command(name="top")
    @app_commands.describe(period="Today (the default) or this month, in UTC")
    @app_commands.choices(period=reports.PERIODS)
    async def top(self, interaction: Interaction[ImageBot], period: str = "day") -> None:
        """Show the biggest image makers here today or this month, with images and dollars."""
        await reports.show_top(self.bot, interaction, self._guild(interaction), period)

    @app_commands.command(name="list")
    async def list_policies(self, interaction: Interaction[ImageBot]) -> None:
        """List this server's member limits, role limits and blocks."""
        await reports.show_list(self.bot, interaction, self._guild(interaction))

    @app_commands.command(name="job")
    @app_commands.rename(job_id="id")
    @app_commands.describe(job_id="The job's number (from a report, /history or the log)")
    async def job(self, interaction: Interaction[ImageBot], job_id: JobId) -> None:
        """Open one job of this server: prompt, member, outcome, images, cost, failure, times."""
        await reports.show_job(self.bot, interaction, self._guild(interaction), job_id)

    @app_commands.command(name="report")
    async def report(self, interaction: Interaction[ImageBot]) -> None:
        """Picture this month's spend per day against the budget, and the top members."""
        await reports.send_report(self.bot, interaction, self._guild(interaction))

    @app_commands.command(name="audit")
    @app_commands.describe(member="Only changes about this member")
    async def audit(self, interaction: Interaction[ImageBot], member: Person | None = None) -> None:
        """Page through this server's quota changes, newest first."""
        await acknowledge(interaction)
        pager = AuditPager(
            self.admin,
            guild_id=self._guild(interaction),
            owner_id=interaction.user.id,
            member_id=None if member is None else member.id,
            bot_default=self.bot.ledger.default_daily_images,
        )
        embed = await pager.render()
        pager.message = await answer(interaction, embed=embed, view=pager)

    @app_commands.command(name="settings")
    @app_commands.describe(
        moderator_role="Members with this role may use /quota-admin",
        log_channel="Where budget alerts and quota changes are posted",
        clear="Unset the moderator role, the log channel, or both",
    )
    @app_commands.choices(clear=CLEARABLE)
    async def settings(
        self,
        interaction: Interaction[ImageBot],
        moderator_role: discord.Role | None = None,
        log_channel: discord.TextChannel | None = None,
        clear: str | None = None,
    ) -> None:
        """Show or set the moderator role and the log channel."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        if moderator_role is None and log_channel is None and clear is None:
            await answer(interaction, await self._settings_text(guild_id))
            return
        role_id = _pick(moderator_role, clear in ("moderator_role", "both"), BOTH_ROLE)
        channel_id = _pick(log_channel, clear in ("log_channel", "both"), BOTH_CHANNEL)
        if moderator_role is not None and moderator_role.is_default():
            raise InvalidRequest(_("Choose a role other than @everyone as the moderator role."))
        changes = await self.admin.set_guild_settings(
            interaction.user.id, guild_id, moderator_role_id=role_id, log_channel_id=channel_id
        )
        if not await self._report(interaction, changes) and log_channel is not None:
            await interaction.followup.send(
                _("I could not post in {channel}: give me Send Messages there.").format(
                    channel=f"<#{log_channel.id}>"
                ),
                ephemeral=True,
            )

    @terms.command(name="add")
    @app_commands.describe(
        term="A word or phrase; * at its start or end also matches parts of words"
    )
    async def term_add(
        self, interaction: Interaction[ImageBot], term: Range[str, 1, MAX_TERM_CHARS]
    ) -> None:
        """Refuse prompts containing a word or phrase in this server."""
        await acknowledge(interaction)
        change = await self.moderation.add_term(interaction.user.id, self._guild(interaction), term)
        await self._report_term(interaction, change, quota_terms.added_text(change))

    @terms.command(name="remove")
    @app_commands.describe(term="The blocked word or phrase, as `/quota-admin terms list` shows it")
    async def term_remove(
        self, interaction: Interaction[ImageBot], term: Range[str, 1, MAX_TERM_CHARS]
    ) -> None:
        """Allow a blocked word or phrase in prompts again."""
        await acknowledge(interaction)
        guild_id = self._guild(interaction)
        change = await self.moderation.remove_term(interaction.user.id, guild_id, term)
        await self._report_term(interaction, change, quota_terms.removed_text(change, term))

    @terms.command(name="list")
    async def term_list(self, interaction: Interaction[ImageBot]) -> None:
        """Show the words and phrases refused in prompts here."""
        await acknowledge(interaction)
        terms = await self.moderation.terms(self._guild(interaction))
        await answer(interaction, quota_terms.list_text(terms))

    async def _report_term(
        self, interaction: Interaction[ImageBot], change: Change[str | None], text: str
    ) -> None:
        """Answer privately; post real changes (those with an audit row) to the log channel."""
        await answer(interaction, text)
        if change.audit_id:
            guild_id = self._guild(interaction)
            with speaking(self.bot.notices.locale_of(guild_id)):  # the log speaks the server's
                note = quota_terms.log_text(interaction.user.id, change)
            await self.bot.notices.post_to_log(guild_id, note)

    async def _settings_text(self, guild_id: int) -> str:
        config = await self.admin.guild_config(guild_id)
        spent, _budget = await self.admin.month_spend(guild_id)
        none = _("none")
        role = none if config.moderator_role_id is None else f"<@&{config.moderator_role_id}>"
        channel = none if config.log_channel_id is None else f"<#{config.log_channel_id}>"
        default = self.bot.ledger.default_daily_images
        limit = (
            _("{images} (the bot default)").format(images=count_images(default))
            if config.default_daily_images is None
            else count_images(config.default_daily_images)
        )
        return "\n".join(
            [
                _("Moderator role: {role} (members with Manage Server always count)").format(
                    role=role
                ),
                _("Log channel: {channel}").format(channel=channel),
                _("Server default daily limit: {limit}").format(limit=limit),
                _("Monthly budget: {budget}; spent this month: {spent}").format(
                    budget=usd_text(config.monthly_budget_usd), spent=usd_text(spent)
                ),
            ]
        )


BOTH_ROLE = N_("Either choose a moderator role or clear it, not both.")
BOTH_CHANNEL = N_("Either choose a log channel or clear it, not both.")


def _pick(value: discord.abc.Snowflake | None, clear: bool, both: str) -> Any:
    """The new id for a setting: the chosen one, None to clear it, or KEEP (`both`: the
    refusal when a value is chosen and cleared at once)."""
    if value is not None and clear:
        raise InvalidRequest(_(both))
    if clear:
        return None
    return KEEP if value is None else value.id


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(QuotaAdmin(bot))
