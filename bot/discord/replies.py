"""Answering an interaction privately, whatever state its acknowledgement is in."""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands

from bot.core.errors import BotError, our_fault
from bot.discord.wording import member_text
from bot.i18n import N_, _

log = logging.getLogger(__name__)

# Members' text never pings anyone: no @everyone, no roles, no users unless we say so.
NO_PINGS = discord.AllowedMentions.none()
PRIVATE_KEY = "private"  # Interaction.extras key: True when the defer was ephemeral
# Interaction.extras key: a note for the requester alone, sent with the result (the defaults
# their request skipped: bot/discord/intake.py).
NOTE_KEY = "note"
# What a public "thinking..." message says for the moment before it is deleted.
RESOLVED_TEXT = N_("This request could not go ahead.")


async def defer(interaction: discord.Interaction, *, private: bool) -> None:
    """Acknowledge within Discord's 3 s, remembering the defer's visibility for later replies."""
    interaction.extras[PRIVATE_KEY] = private
    await interaction.response.defer(ephemeral=private, thinking=True)


def deferred_privately(interaction: discord.Interaction) -> bool:
    """True when the interaction was deferred ephemerally by `defer`."""
    return bool(interaction.extras.get(PRIVATE_KEY, False))


async def tell_privately(interaction: discord.Interaction, text: str) -> None:
    """Show `text` to the member alone, as a response, or as an ephemeral followup.

    Discord gives the first followup after a defer the defer's visibility, whatever flags it
    carries. After a public defer we therefore resolve the loading message first (edit the
    original), send the ephemeral followup, and delete the original, so the refusal is never
    shown to the channel.
    """
    text = text[:2000]
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    if deferred_privately(interaction):
        await interaction.edit_original_response(
            content=text, embed=None, attachments=[], view=None, allowed_mentions=NO_PINGS
        )
        return
    await interaction.edit_original_response(content=_(RESOLVED_TEXT), allowed_mentions=NO_PINGS)
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    try:
        await interaction.delete_original_response()
    except discord.HTTPException as error:
        # The member already has the private explanation; a stale notice is harmless.
        log.warning("could not delete the public notice: %s", error.status)


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the member privately what went wrong; log the unexpected once with a reference."""
    if isinstance(error, BotError):
        text = member_text(error)
    elif isinstance(error, app_commands.CheckFailure):
        text = str(error) or _("You cannot use this command here.")
    else:
        reference = secrets.token_hex(4)
        command = interaction.command.qualified_name if interaction.command else "?"
        log.error("unexpected error in %s (ref %s)", command, reference, exc_info=error)
        text = our_fault(reference)
    try:
        await tell_privately(interaction, text)
    except discord.HTTPException as failure:
        log.warning("could not report an error to the member: %s", failure.status)
