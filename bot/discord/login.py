"""Logging the bot in through discord.py: DISCORD_API_URL followed, and one paragraph for the
owner instead of a traceback when the token is refused or Discord cannot be reached."""

from __future__ import annotations

import aiohttp
import discord
import yarl

from bot.discord.identity import TOKEN_REFUSED, LoginProblem, unreachable


async def log_in(client: discord.Client, token: str, api_url: str | None) -> None:
    """Log `client` in (which runs its setup_hook) through `api_url`, or raise LoginProblem."""
    if api_url is not None:
        discord.http.Route.BASE = api_url  # one process, one bot: the class-wide base is ours
    try:
        await client.login(token)
        if api_url is not None:
            # discord.py's default gateway is Discord's; the API standing in names its own.
            _, gateway, _ = await client.http.get_bot_gateway()
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    except discord.LoginFailure:
        raise LoginProblem(f"The bot did not start. {TOKEN_REFUSED}") from None
    except (aiohttp.ClientConnectionError, TimeoutError) as error:
        raise LoginProblem(f"The bot did not start. {unreachable(api_url, error)}") from None


async def stay_connected(client: discord.Client) -> None:
    """Hold the gateway connection until the bot closes; LoginProblem when Discord drops the
    token meanwhile (reset in the Developer Portal while the bot ran: close code 4004)."""
    try:
        await client.connect()
    except discord.ConnectionClosed as closed:
        if closed.code != 4004:
            raise
        raise LoginProblem(f"The bot stopped. {TOKEN_REFUSED}") from None
