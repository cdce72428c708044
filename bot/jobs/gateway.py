"""Which models WisGate serves: its GET /models listing, read at start and every few hours.

The catalogue offers only what the gateway lists (bot/core/catalogue.py). A gateway without a
usable listing (an error, an empty or unreadable answer) leaves the configured models
standing; a refused key is logged as the error it is.
"""

from __future__ import annotations

import asyncio
import logging

from bot.core.catalogue import Catalogue
from bot.wisgate.client import WisGateClient
from bot.wisgate.errors import AuthenticationFailed, WisGateError

log = logging.getLogger(__name__)

LISTING_EVERY = 3 * 3600.0  # seconds between readings of the gateway's model list


async def read_listing(wisgate: WisGateClient, within: float = 30.0) -> list[str] | None:
    """The model ids WisGate lists, or None when it gives no usable list (within `within` s)."""
    try:
        listed = await asyncio.wait_for(wisgate.check(), within)
    except TimeoutError:
        log.warning("WisGate did not list its models in %.0f s: the configured ones stand", within)
        return None
    except AuthenticationFailed:
        log.error(
            "WisGate refused WISGATE_API_KEY while listing its models: every image request "
            "fails (and is refunded) until a valid key is in .env; confirm it with "
            "`python -m bot check`, then restart the bot"
        )
        return None
    except WisGateError as error:
        log.warning("WisGate's model list is unusable (%s): the configured models stand", error)
        return None
    if not listed:
        log.warning("WisGate lists no model: the configured models stand")
        return None
    return listed


async def follow_gateway(
    wisgate: WisGateClient, catalogue: Catalogue, every: float = LISTING_EVERY
) -> None:
    """Keep the catalogue's availability in step with the gateway's listing."""
    while True:
        await asyncio.sleep(every)
        try:
            catalogue.update_listing(await read_listing(wisgate))
        except Exception:
            log.exception("reading WisGate's model list failed; trying again later")
