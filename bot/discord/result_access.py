"""Who may press a result's buttons, and whose results may be used again: the checks every
result button makes on the job id its custom id carries, before anything is held or fetched.

A custom id is only sent by Discord for a component present on the message pressed, and the
bot puts a job's id only on that job's result message, or on a private picker it answered a
press on that message with (bot/discord/action_buttons.py). So the job must be the one the
ledger recorded for the pressed message, or, on a private (ephemeral) message, a job of this
server and channel; a private job's buttons are its owner's alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.core.errors import BotError
from bot.discord.result_texts import is_private
from bot.discord.servers import quota_guild_id
from bot.i18n import N_, _
from bot.ledger.facade import JobRecord

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

JOB_GONE = N_("I have no record of this request any more, so this button cannot work.")
NOT_THIS_MESSAGE = N_("This button does not belong to this message.")
PRIVATE_RESULT = N_("This result is private to the member who asked for it.")


async def button_job(
    interaction: discord.Interaction[ImageBot], job_id: int, *, picker: bool = False
) -> JobRecord:
    """The job behind a button, after checking the button may speak for it; `picker`: the
    button may also sit on a private message the bot made for that job (a picker)."""
    record = await interaction.client.ledger.job(job_id)
    if record is None:
        raise BotError(_(JOB_GONE))
    message = interaction.message
    recorded = record.result_message_id
    if message is not None and recorded not in (None, message.id):
        # Discord only sends custom ids present on the message; this is a second lock. A
        # picker sits in the result's channel (before that is recorded: in its server).
        if record.result_channel_id is not None:
            elsewhere = record.result_channel_id != interaction.channel_id
        else:
            elsewhere = record.guild_id != quota_guild_id(interaction)
        if not (picker and message.flags.ephemeral) or elsewhere:
            raise BotError(_(NOT_THIS_MESSAGE))
    if is_private(record) and interaction.user.id != record.user_id:
        raise BotError(_(PRIVATE_RESULT))
    return record


def may_reuse(interaction: discord.Interaction[Any], source: JobRecord, record: JobRecord) -> bool:
    """A member's own results always; another's only when posted publicly in this server, in a
    channel the presser can see (a button on a message proves only that message was seen)."""
    if source.user_id == interaction.user.id:
        return True
    if is_private(source) or source.guild_id is None or source.guild_id != record.guild_id:
        return False
    guild, member = interaction.guild, interaction.user
    if guild is None or guild.id != source.guild_id or not isinstance(member, discord.Member):
        return False
    channel = guild.get_channel_or_thread(source.result_channel_id or 0)
    if channel is None:
        return False
    allowed = channel.permissions_for(member)
    return allowed.view_channel and allowed.read_message_history
