"""`python -m bot migrate-to-postgres`: copy the SQLite ledger (DATABASE_PATH) into the empty
PostgreSQL database at DATABASE_URL, in one transaction, and show what was checked."""

from __future__ import annotations

import sys
from decimal import Decimal

from bot.config import Settings
from bot.ledger.database import DatabaseError

NO_URL = (
    "migrate-to-postgres: set DATABASE_URL to the new, empty PostgreSQL database "
    "(postgresql://user:password@host/name); DATABASE_PATH names the SQLite file it copies"
)


def _usd(micros: int) -> str:
    # Exact to the micro-dollar: these are the totals compared, not a price for people.
    return f"${Decimal(micros).scaleb(-6):,.6f}"


async def run_migrate_to_postgres(settings: Settings) -> int:
    """Copy, print each table's rows and money totals; return the exit code."""
    url = settings.postgres_url
    if url is None:
        print(NO_URL, file=sys.stderr)
        return 2
    # Here, not at the top: the other commands of an SQLite bot never load asyncpg.
    from bot.ledger.postgres_db import shown
    from bot.ledger.transfer import migrate_to_postgres

    try:
        copies = await migrate_to_postgres(settings.database_path, url)
    except DatabaseError as error:
        print(f"migrate-to-postgres: FAILED: {error}", file=sys.stderr)
        return 1
    for copy in copies:
        money = "".join(f"; {column} {_usd(total)}" for column, total in copy.micros.items())
        print(f"{copy.name}: {copy.rows} row(s){money}")
    print(
        f"copied {settings.database_path} into PostgreSQL at {shown(url)}: every table's row "
        "count and money totals match. Keep DATABASE_URL set from now on (DATABASE_PATH's "
        "folder still holds the results); keep the SQLite file as a backup."
    )
    return 0
