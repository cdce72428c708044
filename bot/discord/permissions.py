"""Who may run the moderator commands: Manage Server, or the guild's configured moderator role.

Discord hides `/quota-admin` from members without Manage Server (the group's
default_member_permissions), but server admins can change that in the integration settings,
and a misconfiguration there must never let a member in: so the check runs in our code too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.discord.replies import defer
from bot.i18n import N_, _

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

NOT_IN_DMS = N_("Quotas can only be managed inside a server.")
NOT_A_MODERATOR = N_(
    "Only moderators can change image quotas here: members with the Manage Server "
    "permission, or the moderator role set with `/quota-admin settings`. Nothing was changed."
)


class NotModerator(app_commands.CheckFailure):
    """The member may not use the moderator commands here; the text says who may."""


def has_manage_server(interaction: discord.Interaction[Any]) -> bool:
    """Does the member hold Manage Server (or Administrator) where the command was used?"""
    permissions = interaction.permissions
    return permissions.manage_guild or permissions.administrator


def role_ids(user: discord.abc.User) -> tuple[int, ...]:
    """The member's role ids in this guild (none outside guilds)."""
    return tuple(role.id for role in user.roles) if isinstance(user, discord.Member) else ()


async def require_moderator(interaction: discord.Interaction[ImageBot]) -> bool:
    """An app_commands check: True for moderators, otherwise raise NotModerator (shown privately).

    Members with Manage Server pass without touching the database. Anyone else is deferred
    privately first (the database read must not eat Discord's 3 s), then compared with the
    guild's moderator role.
    """
    guild_id = interaction.guild_id
    if guild_id is None:
        raise NotModerator(_(NOT_IN_DMS))
    if has_manage_server(interaction):
        return True
    roles = role_ids(interaction.user)
    if roles:
        if not interaction.response.is_done():
            await defer(interaction, private=True)
        config = await interaction.client.admin.guild_config(guild_id)
        if config.moderator_role_id is not None and config.moderator_role_id in roles:
            return True
    raise NotModerator(_(NOT_A_MODERATOR))
