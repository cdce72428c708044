"""The link that adds the bot to a server: its scopes, and the permissions its code uses.

Answering an interaction needs no permission at all; these are for what the bot does in a
channel on its own. Plain bits, not discord.py's Permissions, so that `python -m bot check`
(which may not import discord.py) can print the link; a test compares them with discord.py's.
"""

from __future__ import annotations

from urllib.parse import urlencode

AUTHORIZE = "https://discord.com/oauth2/authorize"
# `bot` puts the bot user in the server; `applications.commands` registers its slash commands.
SCOPES = ("bot", "applications.commands")

# (bit, the name Discord's permission screens show), with what needs each.
PERMISSIONS: tuple[tuple[int, str], ...] = (
    # Everything below is refused in a channel the bot cannot see.
    (1 << 10, "View Channels"),
    # Results past the 15-minute interaction token, restart notices, the log channel.
    (1 << 11, "Send Messages"),
    # The same when the request came from a thread.
    (1 << 38, "Send Messages in Threads"),
    # Results and re-deliveries carry their card as an embed (bot/discord/sending.py).
    (1 << 14, "Embed Links"),
    # The images themselves, uploaded as files.
    (1 << 15, "Attach Files"),
    # Edit images on a result fetches its message; deleting a result finds its later parts.
    (1 << 16, "Read Message History"),
)

BOT_PERMISSIONS = sum(bit for bit, _ in PERMISSIONS)


def invite_url(application_id: int) -> str:
    """The OAuth2 link that adds the bot, with its commands and exactly the permissions above."""
    query = {"client_id": application_id, "scope": " ".join(SCOPES), "permissions": BOT_PERMISSIONS}
    return f"{AUTHORIZE}?{urlencode(query)}"


def permission_names() -> list[str]:
    """The permissions the invite asks for, as Discord shows them."""
    return [name for _, name in PERMISSIONS]
