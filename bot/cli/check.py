"""`python -m bot check`: every input the bot needs, one line each, and the invite link.

It reads and asks, and changes nothing: it may run beside a live bot, so it inspects the
database read-only (the bot creates and migrates it at start) and touches no job, notice or
interaction token. Each step runs even when an earlier one failed, so one run names every
problem; any failure makes the exit code 1.
"""

from __future__ import annotations

import sys

import aiohttp

from bot.cli.models import model_lines
from bot.config import Settings
from bot.core.catalogue import Catalogue, CatalogueError, load_models
from bot.core.prices import PriceFileError
from bot.core.profile_files import ModelsFileError
from bot.discord.identity import LoginProblem, read_identity
from bot.discord.invite import invite_url, permission_names
from bot.ledger.database import DatabaseError
from bot.ledger.inspect import DatabaseState, inspect_database
from bot.wisgate.client import WisGateClient
from bot.wisgate.errors import AuthenticationFailed, RequestTimedOut, ServerError, WisGateError

CHECK_TIMEOUT = 30.0


def _say(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


async def run_check(settings: Settings) -> int:
    """Check what the bot needs to run; print one line per step; return the exit code."""
    catalogue = _check_models_file(settings)
    database_ok = await _check_database(settings)
    discord_ok = await _check_discord(settings)
    wisgate_ok, listed = await _check_wisgate(settings)
    if catalogue is not None and wisgate_ok:
        catalogue.update_listing(listed or None)
        _check_models(catalogue)
    ok = catalogue is not None and database_ok and discord_ok and wisgate_ok
    return 0 if ok else 1


def _check_models_file(settings: Settings) -> Catalogue | None:
    """The models (MODELS_FILE, ENABLED_MODELS, DEFAULT_MODEL) and prices (PRICES_FILE)."""
    try:
        catalogue, _ = load_models(
            settings.models_file,
            settings.enabled_models,
            settings.default_model,
            settings.prices_file,
        )
    except (ModelsFileError, CatalogueError, PriceFileError) as error:
        _say(f"settings: FAILED: {error}")
        return None
    _say(
        f"settings: ok (models {', '.join(catalogue.enabled)}; "
        f"default {catalogue.configured_default})"
    )
    return catalogue


async def _check_database(settings: Settings) -> bool:
    try:
        state = await inspect_database(settings.database_path, settings.postgres_url)
    except DatabaseError as error:
        _say(f"database: FAILED: {error}")  # each says what to do
        return False
    except OSError as error:  # the path itself is out of reach (a folder we may not enter)
        _say(f"database: FAILED: {error}; set DATABASE_PATH to a file this user can write")
        return False
    _say(f"database: ok ({_database_words(state)})")
    return True


def _database_words(state: DatabaseState) -> str:
    if state.postgres:
        return _postgres_words(state)
    if not state.exists:
        return f"{state.where} is created at the first start, schema version {state.latest}"
    if state.pending:
        return (
            f"{state.where}, schema version {state.version}; the next start applies "
            f"{state.pending} migration(s), which apply cleanly to a copy: back it up first"
        )
    return f"{state.where}, schema version {state.version}"


def _postgres_words(state: DatabaseState) -> str:
    where = f"PostgreSQL at {state.where}"
    if not state.exists:
        return f"{where}, empty: the first start builds schema version {state.latest}"
    if state.pending:
        return (
            f"{where}, schema version {state.version}; the next start applies "
            f"{state.pending} migration(s): back it up first (pg_dump)"
        )
    return f"{where}, schema version {state.version}"


async def _check_discord(settings: Settings) -> bool:
    """The token, as login sends it; the invite link with the scopes and permissions."""
    token = settings.discord_token.get_secret_value()
    try:
        me = await read_identity(token, settings.discord_api_url, CHECK_TIMEOUT)
    except LoginProblem as problem:
        _say(f"discord: FAILED: {problem}")
        return False
    _say(f"discord: ok (DISCORD_TOKEN logs in as {me.name}, application {me.application_id})")
    _say(f"invite: {invite_url(me.application_id)}")
    _say(
        "invite: open that link to add the bot to your server, with its slash commands and "
        f"these permissions: {', '.join(permission_names())}"
    )
    if me.public and not settings.allowed_guilds:
        _say(
            "discord: note: Public Bot is on, so anyone with the link can add the bot and "
            "spend on your WisGate key (within the caps). Untick it in the Developer Portal "
            "(Bot -> Public Bot), or set ALLOWED_GUILDS."
        )
    return True


def _check_models(catalogue: Catalogue) -> None:
    """The models' verdicts: which members may use, which WisGate does not list."""
    available = catalogue.available
    if catalogue.listed is None:
        _say("models: WisGate gave no usable model list; the configured models stand")
    _say(f"models: {len(available)} available ({', '.join(available) or 'none'})")
    for line in model_lines(catalogue):
        if ": enabled yes, listed no" in line or "no profile" in line:
            _say(f"models: note: {line}")


async def _check_wisgate(settings: Settings) -> tuple[bool, list[str] | None]:
    """One authenticated call (the model list): whether it passed, and the list if usable."""
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
            return False, None
        except (ServerError, RequestTimedOut) as error:
            if error.status is None:  # no answer at all: the network, DNS or the URL
                _say(
                    f"wisgate: FAILED: {base} could not be reached ({error.message}). Check "
                    "this machine's network connection and DNS, and WISGATE_BASE_URL."
                )
            else:
                _say(f"wisgate: FAILED: {base} answered: {error}")
            return False, None
        except WisGateError as error:
            # It answered, and not with a refused key: only its model list is unusable.
            _say(f"wisgate: ok ({base} answered; its model list is unusable: {error})")
            return True, None
    _say(f"wisgate: ok ({base} accepted the key; {len(models)} models)")
    return True, models
