"""`python -m bot check`: settings, database and one authenticated WisGate call, explained."""

from __future__ import annotations

import sys

import aiohttp

from bot.config import Settings
from bot.ledger.database import DatabaseError, open_database, schema_version
from bot.wisgate.client import WisGateClient
from bot.wisgate.errors import AuthenticationFailed, WisGateError

CHECK_TIMEOUT = 30.0


def _say(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


async def run_check(settings: Settings) -> int:
    """Check what the bot needs to run; print one line per step; return the exit code."""
    _say(
        f"settings: ok (models {', '.join(settings.enabled_models)}; "
        f"default {settings.default_model})"
    )
    try:
        async with open_database(settings.database_path) as conn:
            version = await schema_version(conn)
    except (DatabaseError, OSError) as error:
        _say(f"database: FAILED at {settings.database_path}: {error}")
        return 1
    _say(f"database: ok ({settings.database_path}, schema version {version})")
    return await _check_wisgate(settings)


async def _check_wisgate(settings: Settings) -> int:
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = WisGateClient.from_settings(
            session, settings, timeout=CHECK_TIMEOUT, max_retries=1
        )
        try:
            models = await client.check()
        except AuthenticationFailed:
            _say(
                f"wisgate: FAILED: {settings.wisgate_base_url} refused the key. Check "
                "WISGATE_API_KEY (a fresh key from your WisGate dashboard)."
            )
            return 1
        except WisGateError as error:
            _say(f"wisgate: FAILED: {settings.wisgate_base_url} answered: {error}")
            return 1
    missing = [name for name in settings.enabled_models if models and name not in models]
    _say(f"wisgate: ok ({settings.wisgate_base_url} accepted the key; {len(models)} models)")
    if missing:
        _say(
            f"wisgate: note: {', '.join(missing)} not listed by /models; members choosing "
            "them may be refused (adjust ENABLED_MODELS)"
        )
    return 0
