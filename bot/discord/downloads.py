"""Download a member's attachment: only from Discord's CDN, never more than Discord declared."""

from __future__ import annotations

import logging

import aiohttp
import discord
import yarl

from bot.core.errors import InvalidRequest
from bot.i18n import _

log = logging.getLogger(__name__)

DISCORD_CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
CHUNK = 256 * 1024
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=15)


def attachment_hosts() -> frozenset[str]:
    """Discord's CDN, plus the host of the Discord API we talk to (a proxy, or a test fake)."""
    api_host = yarl.URL(discord.http.Route.BASE).host
    return DISCORD_CDN_HOSTS | ({api_host} if api_host else set())


async def read_attachment(
    session: aiohttp.ClientSession,
    url: str,
    *,
    filename: str,
    declared_size: int,
    hosts: frozenset[str] | None = None,
) -> bytes:
    """The attachment's bytes, refusing other hosts and any byte beyond the declared size."""
    target = yarl.URL(url)
    allowed = attachment_hosts() if hosts is None else hosts
    if target.host not in allowed or target.scheme not in ("https", "http"):
        log.warning("refused to download an attachment from %s", target.host)
        raise InvalidRequest(
            _("{name} is not a Discord attachment I can download.").format(name=filename)
        )
    if target.scheme == "http" and target.host in DISCORD_CDN_HOSTS:
        target = target.with_scheme("https")
    try:
        # No redirects: a hop could lead off Discord's hosts, and Discord's CDN never redirects.
        async with session.get(target, timeout=DOWNLOAD_TIMEOUT, allow_redirects=False) as response:
            if 300 <= response.status < 400:
                log.warning("refused a redirect (HTTP %d) from %s", response.status, target.host)
            if response.status != 200:
                raise InvalidRequest(
                    _(
                        "I could not download {name} from Discord (HTTP {status}). Upload it "
                        "again and retry."
                    ).format(name=filename, status=response.status)
                )
            return await _read_capped(response, filename, declared_size)
    except (aiohttp.ClientError, TimeoutError):
        raise InvalidRequest(
            _("I could not download {name} from Discord. Upload it again and retry.").format(
                name=filename
            )
        ) from None


async def _read_capped(response: aiohttp.ClientResponse, filename: str, limit: int) -> bytes:
    too_big = InvalidRequest(
        _("{name} is larger than Discord said it was; upload it again.").format(name=filename),
        field="image",
    )
    if response.content_length is not None and response.content_length > limit:
        raise too_big
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.content.iter_chunked(CHUNK):
        received += len(chunk)
        if received > limit:
            # Stop reading at once: a lying server could otherwise fill our memory.
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)
