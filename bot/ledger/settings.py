"""Members' defaults (/settings) in the ledger's database: read, set and cleared, each one
transaction, on either backend (the SQL is the house's, bot/ledger/store.py).

What a default may hold is checked before it gets here (bot/core/member_defaults.py) and
bounded again by the table (migrations/*/0009_member_settings.sql): seven names at most per
member, 64 characters each. Nothing here decides whether a default fits a model.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from bot.core.member_defaults import SETTINGS, VALUE_MAX, MemberDefaults, Setting
from bot.ledger.base import LedgerBase
from bot.ledger.models import iso
from bot.ledger.store import Tx


async def load(tx: Tx, user_id: int) -> MemberDefaults:
    """The member's defaults as stored."""
    rows = await tx.all("SELECT name, value FROM member_settings WHERE user_id = ?", user_id)
    return MemberDefaults.from_stored({str(name): str(value) for name, value in rows})


async def put(
    tx: Tx, user_id: int, setting: Setting, value: str | None, now: datetime
) -> MemberDefaults:
    """Set one default (None clears it); the member's defaults after the change."""
    if setting not in SETTINGS or (value is not None and not 1 <= len(value) <= VALUE_MAX):
        raise ValueError(f"not a storable default: {setting}")
    if value is None:
        await tx.run("DELETE FROM member_settings WHERE user_id = ? AND name = ?", user_id, setting)
    else:
        await tx.run(
            "INSERT INTO member_settings (user_id, name, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            user_id, setting, value, iso(now),
        )  # fmt: skip
    return await load(tx, user_id)


class LedgerSettings:
    """Members' defaults over the ledger's store (built from the bot's Ledger)."""

    def __init__(self, ledger: LedgerBase) -> None:
        self._ledger = ledger

    async def defaults(self, user_id: int) -> MemberDefaults:
        """The member's defaults (none set: every field None)."""
        return await self._ledger.transaction(partial(load, user_id=user_id), write=False)

    async def set_default(
        self, user_id: int, setting: Setting, value: str | None
    ) -> MemberDefaults:
        """Store one default, already checked (None clears it); the defaults after it."""
        body = partial(put, user_id=user_id, setting=setting, value=value, now=self._ledger.now())
        return await self._ledger.transaction(body)
