"""Members' defaults in the ledger, on both backends: set, replaced, cleared, kept apart per
member, and bounded by the table itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.member_defaults import MemberDefaults
from bot.core.prices import default_prices
from bot.ledger.facade import Ledger
from bot.ledger.settings import LedgerSettings
from bot.ledger.store import Store
from tests.places import rows
from tests.unit.ledger.support import Clock

START = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
ALICE, BOB = 111, 222


@pytest.fixture
def settings(store: Store) -> LedgerSettings:
    ledger = Ledger(store, default_daily_images=5, prices=default_prices(), clock=Clock(START))
    return LedgerSettings(ledger)


async def test_defaults_are_set_replaced_and_cleared(settings: LedgerSettings) -> None:
    assert await settings.defaults(ALICE) == MemberDefaults()
    await settings.set_default(ALICE, "model", "dall-e-3")
    await settings.set_default(ALICE, "size", "1792x1024")
    await settings.set_default(ALICE, "n", "1")
    after = await settings.set_default(ALICE, "private", "1")
    assert after == MemberDefaults(model="dall-e-3", size="1792x1024", n=1, private=True)
    assert await settings.defaults(ALICE) == after
    replaced = await settings.set_default(ALICE, "model", "gpt-image-1")
    assert replaced.model == "gpt-image-1" and replaced.size == "1792x1024"
    cleared = await settings.set_default(ALICE, "size", None)
    assert cleared == MemberDefaults(model="gpt-image-1", n=1, private=True)
    await settings.set_default(ALICE, "style", None)  # clearing nothing is fine
    assert await settings.defaults(BOB) == MemberDefaults()  # each member's own


async def test_one_row_per_default_with_its_time(settings: LedgerSettings, store: Store) -> None:
    await settings.set_default(ALICE, "quality", "high")
    await settings.set_default(ALICE, "quality", "low")
    await settings.set_default(BOB, "quality", "medium")
    found = await rows(
        store, "SELECT user_id, name, value, updated_at FROM member_settings ORDER BY user_id"
    )
    assert [row[:3] for row in found] == [(ALICE, "quality", "low"), (BOB, "quality", "medium")]
    assert all(str(row[3]).startswith("2025-03-14T12:00:00") for row in found)


@pytest.mark.parametrize(
    ("name", "value"), [("background", "opaque"), ("size", "x" * 65), ("size", "")]
)
async def test_the_ledger_refuses_what_is_not_a_default(
    settings: LedgerSettings, name: str, value: str
) -> None:
    with pytest.raises(ValueError):
        await settings.set_default(ALICE, name, value)  # type: ignore[arg-type]
    assert await settings.defaults(ALICE) == MemberDefaults()


@pytest.mark.parametrize(
    ("name", "value"), [("background", "opaque"), ("size", "x" * 65), ("size", "")]
)
async def test_the_table_itself_bounds_what_is_stored(store: Store, name: str, value: str) -> None:
    async def body(tx: object) -> None:
        await tx.run(  # type: ignore[attr-defined]
            "INSERT INTO member_settings (user_id, name, value, updated_at) VALUES (?, ?, ?, ?)",
            ALICE, name, value, START.isoformat(),
        )  # fmt: skip

    with pytest.raises(Exception, match=r"(?i)check"):
        await store.transaction(body)
    assert await rows(store, "SELECT name FROM member_settings") == []
