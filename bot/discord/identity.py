"""Who DISCORD_TOKEN logs in as, asked the way discord.py's login asks, and the owner's words
for what goes wrong: a refused token, Discord out of reach.

Free of discord.py, so `python -m bot check` (bot.cli may not import it) can use it: two plain
GETs, through DISCORD_API_URL when a REST proxy (or a test's fake) stands in for Discord.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl

DISCORD_API = "https://discord.com/api/v10"  # discord.py's own Route.BASE
# Discord asks for this shape (DiscordBot (url, version)) and may refuse other agents.
USER_AGENT = "DiscordBot (https://github.com/Rapptz/discord.py, 2.7)"

TOKEN_REFUSED = (
    "Discord refused DISCORD_TOKEN (401 Unauthorized): it is mistyped, or the token was reset "
    "since. In the Discord Developer Portal (https://discord.com/developers/applications) open "
    "your application, then Bot -> Reset Token; put the new token in .env as DISCORD_TOKEN and "
    "run `python -m bot check`."
)


class LoginProblem(Exception):
    """Discord could not be logged in to; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class BotIdentity:
    """Who the token logs in as, and whether anyone may add the bot (Public Bot)."""

    name: str
    application_id: int
    public: bool


def unreachable(api_url: str | None, error: BaseException) -> str:
    """Why Discord could not be reached, in the owner's words (the error names the host)."""
    base = api_url or DISCORD_API
    if isinstance(error, TimeoutError):
        cause = "it did not answer in time"
    elif isinstance(error, aiohttp.ClientConnectorError) and isinstance(
        error.os_error, socket.gaierror
    ):
        cause = f"DNS cannot find {yarl.URL(base).host}: {error.os_error.strerror}"
    else:
        cause = str(error) or type(error).__name__
    where = "DISCORD_API_URL" if api_url else "this machine's network connection and DNS"
    return f"Discord could not be reached at {base} ({cause}). Check {where}, then try again."


async def read_identity(token: str, api_url: str | None, within: float) -> BotIdentity:
    """The bot the token belongs to (GET /users/@me, then its application), or LoginProblem
    (one line) when the token is refused, Discord is out of reach or answers oddly."""
    base = api_url or DISCORD_API
    headers = {"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}
    timeout = aiohttp.ClientTimeout(total=within)
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            user = await _get(session, f"{base}/users/@me")
            application = await _get(session, f"{base}/oauth2/applications/@me")
        return BotIdentity(
            name=str(user["username"]),
            application_id=int(application["id"]),
            public=bool(application.get("bot_public", True)),
        )
    except (aiohttp.ClientError, TimeoutError) as error:
        raise LoginProblem(unreachable(api_url, error)) from None
    except (KeyError, TypeError, ValueError):  # JSON errors are ValueErrors
        raise LoginProblem(f"Discord's answer at {base} lacks the bot's user or id") from None


async def _get(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as response:
        if response.status == 401:
            raise LoginProblem(TOKEN_REFUSED)
        if response.status >= 400:
            # Discord's error bodies are short and carry no credentials.
            text = (await response.text(errors="replace"))[:200]
            raise LoginProblem(f"Discord answered {response.status} at {url}: {text}")
        data = await response.json(content_type=None)
        if not isinstance(data, dict):
            raise TypeError("not an object")
        return data
