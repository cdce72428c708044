"""What the quota commands and notices say: exact texts for the cases e2e tests do not reach."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.discord.notices import budget_alert_text, restart_text
from bot.discord.quota_texts import (
    change_text,
    dm_status_text,
    history_line,
    member_status_text,
    status_text,
)
from bot.ledger.facade import JobRecord, MemberStatus, Settlement

WHEN = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)
STAMP = int(WHEN.timestamp())


@pytest.mark.parametrize(
    ("action", "old", "new", "expected"),
    [
        ("member_limit", None, 1, "<@5>'s daily limit: no override → 1 image"),
        ("role_limit", 3, None, "Daily limit for <@&5>: 3 images → none"),
        ("guild_default", 0, None,
         "Server default daily limit: 0 images → the bot default (20 images)"),
        ("grant", 2, 7, "<@5>'s extra images today: 2 → 7"),
        ("reset_usage", 9, 0, "<@5>'s images used today: 9 → 0"),
        ("block", None, "**loud** <@1>",
         "<@5>: not blocked → blocked (\\*\\*loud\\*\\* <@\u200b1>)"),
        ("budget", 0.05, 12.5, "Monthly image budget: $0.050 → $12.50"),
        ("moderator_role", None, 8, "Moderator role: none → <@&8>"),
        ("log_channel", 9, None, "Log channel: <#9> → none"),
        ("term_add", None, "drag*on", "Blocked term: none → drag\\*on"),
        ("something_new", 1, 2, "something_new (5): 1 → 2"),
    ],
)  # fmt: skip
def test_change_text(action: str, old: Any, new: Any, expected: str) -> None:
    assert change_text(action, 5, old, new, bot_default=20) == expected


def record(**fields: Any) -> JobRecord:
    base = JobRecord(
        id=4, user_id=1, guild_id=2, channel_id=3, kind="edit", model="gpt-image-1",
        size="1024x1024", quality="low", params={"prompt": "x" * 200}, status="running",
        images_asked=3, images_held=3, images_charged=0, cost_held_micros=48_000,
        cost_charged_micros=0, cost_actual_micros=0, error=None, result_channel_id=None,
        result_message_id=None, created_at=WHEN, started_at=WHEN, ended_at=None,
    )  # fmt: skip
    return replace(base, **fields)


def test_history_line_of_a_job_in_progress_has_no_link_and_a_short_prompt() -> None:
    line = history_line(record())
    head, prompt = line.split("\n")
    assert head == f"**#4** <t:{STAMP}:R> · /edit · in progress · 3 images asked"
    assert prompt.startswith("> xxx") and prompt.endswith("…") and len(prompt) <= 72


def delivered(**fields: Any) -> JobRecord:
    """A delivered job: its result message recorded in channel 3, where it was asked."""
    base: dict[str, Any] = dict(
        status="succeeded", images_charged=2, cost_charged_micros=22_000, result_channel_id=3,
        result_message_id=9,
    )  # fmt: skip
    return record(**{**base, **fields})


def test_history_links_only_to_results_the_member_can_open_and_shows_no_dollars() -> None:
    public = history_line(delivered()).split("\n")[0]
    assert public.endswith(" · delivered · 2 images · [open](https://discord.com/channels/2/3/9)")
    # Delivered by DM when the channel could not take it: the link is the DM's.
    by_dm = history_line(delivered(result_channel_id=8)).split("\n")[0]
    assert by_dm.endswith("[open](https://discord.com/channels/@me/8/9)")
    # A private result in the channel was an ephemeral message: no link anyone could open.
    private = history_line(delivered(params={"prompt": "p", "private": True})).split("\n")[0]
    assert private.endswith(" · delivered · 2 images · private") and "http" not in private
    for line in (public, by_dm, private, history_line(record())):
        assert "$" not in line


def test_quota_for_a_member_counts_images_and_for_a_moderator_adds_the_budget() -> None:
    text = member_status_text(status())
    assert text.split("\n") == [
        f"You have used 4 of your 10 images today (2 more being made): **4 left**. "
        f"They reset <t:{STAMP}:R>.",
        "Your 10 images a day: from one of your roles.",
    ]
    assert "$" not in text and "quota" not in text.lower() and "limit" not in text
    moderator = member_status_text(status(granted=3, limit_source="guild"), budget=True)
    assert moderator.split("\n")[1:] == [
        "Your 10 images a day: this server's default, plus 3 extra today.",
        "This server has spent $20.00 of its $50.00 monthly image budget this month.",
    ]
    blocked = member_status_text(status(blocked=True, block_reason="spam"))
    assert blocked.startswith("A moderator has blocked you from making images here. Reason: spam")
    assert "**0 left**" in blocked
    dm = dm_status_text(status(guild_id=None, held=0))
    assert dm == (
        f"In direct messages you have used 4 of your 10 images today: **6 left**. They reset "
        f"<t:{STAMP}:R>.\nEach server gives its own images a day: use `/quota` there to see yours."
    )


def status(**fields: Any) -> MemberStatus:
    base = MemberStatus(
        user_id=1, guild_id=2, day="2025-06-30", limit=10, limit_source="role", granted=0,
        used=4, held=2, resets_at=WHEN, month_spend_micros=1_500_000,
        guild_month_spend_micros=20_000_000, guild_budget_micros=50_000_000,
    )  # fmt: skip
    return replace(base, **fields)


def test_status_text_for_a_moderator_and_for_a_blocked_member() -> None:
    text = status_text(status(), who="<@1>")
    assert text.split("\n") == [
        "<@1> can make **4 images** more today.",
        f"Used today: 4 of 10 (2 being made now); resets <t:{STAMP}:R>.",
        "Daily limit: 10 images (from a role).",
        "Their spend here this month: $1.50; the server's: $20.00 of its $50.00 monthly budget.",
    ]
    blocked = status_text(status(blocked=True, block_reason="@here spam"), who="<@1>")
    assert blocked.startswith("<@1> is blocked from making images here. Reason: @\u200bhere spam\n")


def test_budget_alert_text_gives_the_share_spent() -> None:
    settlement = Settlement(
        1, "succeeded", 1, 10, 10, True, guild_month_spend_micros=8_500_000,
        guild_budget_micros=10_000_000,
    )  # fmt: skip
    text = budget_alert_text(settlement, WHEN)
    assert "spent $8.50 of its $10.00 monthly image budget (85%)" in text
    assert text.endswith(
        f"the month turns <t:{int(datetime(2025, 7, 1, tzinfo=UTC).timestamp())}:R>."
    )


def test_restart_text_in_channels_never_quotes_prompts() -> None:
    one = [record(kind="generate", params={"prompt": "secret"})]
    assert restart_text(one, in_channel=True) == (
        f"<@1> The bot restarted before your /imagine request from <t:{STAMP}:R> finished, "
        "so it was refunded: nothing was charged and you can ask again."
    )
    many = [record(params={"prompt": f"p{k}"}) for k in range(7)]
    dm = restart_text(many, in_channel=False)
    assert dm.startswith(
        f"The bot restarted before your 7 image requests (the first from <t:{STAMP}"
    )
    assert dm.split("\n")[1:] == ["> p0", "> p1", "> p2", "> p3", "> p4"]
