"""`python -m bot` runs the bot; `check` verifies the setup; `sync` registers commands globally;
`migrate-to-postgres` moves the SQLite ledger into PostgreSQL.

What stops a command before it runs (settings, the models file, a refused token, an unusable
database) is printed as one paragraph on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.app import StartFailed, run_bot
from bot.cli.check import run_check
from bot.cli.migrate import run_migrate_to_postgres
from bot.cli.models import run_models
from bot.cli.stats import run_stats
from bot.config import ConfigError, load_settings
from bot.core.catalogue import CatalogueError, load_models
from bot.core.prices import PriceFileError
from bot.core.profile_files import ModelsFileError
from bot.logs import configure_logging

log = logging.getLogger("bot")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=("run", "check", "sync", "stats", "models", "migrate-to-postgres"),
        help="run the bot (default), check the setup, sync slash commands globally, "
        "print today's figures from the database, the models and their availability, or copy "
        "the SQLite database (DATABASE_PATH) into an empty PostgreSQL one (DATABASE_URL)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse(argv)
    try:
        settings = load_settings()
        if args.command != "check":  # check says so as one of its lines, and goes on
            load_models(
                settings.models_file,
                settings.enabled_models,
                settings.default_model,
                settings.prices_file,
            )  # a bad models or price file stops us here, readably
    except (ConfigError, ModelsFileError, CatalogueError, PriceFileError) as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format, settings.discord_log_level)
    try:
        if args.command == "check":
            return asyncio.run(run_check(settings))
        if args.command == "stats":
            return asyncio.run(run_stats(settings))
        if args.command == "models":
            return asyncio.run(run_models(settings))
        if args.command == "migrate-to-postgres":
            return asyncio.run(run_migrate_to_postgres(settings))
        asyncio.run(run_bot(settings, sync_globally=args.command == "sync"))
    except StartFailed as error:
        print(error, file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl+C, or SIGTERM (bot.app)
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
