"""`python -m bot check`: settings, database and one authenticated WisGate call, explained."""

from __future__ import annotations

import sys

import aiohttp

from bot.cli.models import model_lines
from bot.config import Settings
from bot.core.catalogue import Catalogue, load_models
from bot.ledger.database import DatabaseError, open_database, schema_version
from bot.wisgate.client import WisGateClient
from bot.wisgate.errors import AuthenticationFailed, RequestTimedOut, ServerError, WisGateError

CHECK_TIMEOUT = 30.0


def _say(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


async def run_check(settings: Settings) -> int:
    """Check what the bot needs to run; print one line per step; return the exit code."""
    catalogue, _ = load_models(
        settings.models_file, settings.enabled_models, settings.default_model, settings.prices_file
    )
    _say(
        f"settings: ok (models {', '.join(catalogue.enabled)}; "
        f"default {catalogue.configured_default})"
    )
    try:
        async with open_database(settings.database_path) as conn:
            version = await schema_version(conn)
    except (DatabaseError, OSError) as error:
        _say(f"database: FAILED at {settings.database_path}: {error}")
        return 1
    _say(f"database: ok ({settings.database_path}, schema version {version})")
    code, listed = await _check_wisgate(settings)
    if code == 0:
        catalogue.update_listing(listed or None)
        _check_models(catalogue)
    return code


def _check_models(catalogue: Catalogue) -> None:
    """The models' verdicts: which members may use, which WisGate does not list."""
    available = catalogue.available
    if catalogue.listed is None:
        _say("models: WisGate gave no usable model list; the configured models stand")
    _say(f"models: {len(available)} available ({', '.join(available) or 'none'})")
    for line in model_lines(catalogue):
        if ": enabled yes, listed no" in line or "no profile" in line:
            _say(f"models: note: {line}")


async def _check_wisgate(settings: Settings) -> tuple[int, list[str] | None]:
    """One authenticated call (the model list): the exit code, and the list if usable."""
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT)
    base = settings.wisgate_base_url
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = WisGateClient.from_settings(
            session, settings, timeout=CHECK_TIMEOUT, max_retries=1
        )
        try:
            models = await client.check()
        except AuthenticationFailed:
            _say(
                f"wisgate: FAILED: {base} refused the key. Check WISGATE_API_KEY (a fresh key "
                "from your WisGate dashboard)."
            )
            return 1, None
        except (ServerError, RequestTimedOut) as error:
            _say(f"wisgate: FAILED: {base} answered: {error}")
            return 1, None
        except WisGateError as error:
            # It answered, and not with a refused key: only its model list is unusable.
            _say(f"wisgate: ok ({base} answered; its model list is unusable: {error})")
            return 0, None
    _say(f"wisgate: ok ({base} accepted the key; {len(models)} models)")
    return 0, models
