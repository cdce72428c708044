"""What /quota-admin says about spend, limits, blocks and jobs: exact texts for cases the
end-to-end tests do not reach."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.discord.moderator_texts import job_embed, policy_embed, report_text, top_text
from bot.discord.quota_texts import change_text, status_text
from bot.discord.wording import member_text
from bot.ledger.facade import JobRecord, MemberBlocked, MemberStatus
from bot.ledger.report_sql import (
    JobDetail,
    Leaderboard,
    MonthReport,
    PolicyEntry,
    PolicyPage,
    TopMember,
)

WHEN = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)
STAMP = int(WHEN.timestamp())


def test_top_text_ranks_members_and_states_the_budget() -> None:
    board = Leaderboard([TopMember(7, 5, 200_000), TopMember(8, 1, 0)], 2, 6, 200_000)
    assert top_text(board, "day", "2025-06", 3.0, 10.0).split("\n") == [
        "**Top members today** (UTC day):",
        "1. <@7>: 5 images, $0.20",
        "2. <@8>: 1 image, $0.00",
        "This month the server has spent $3.00 of its $10.00 budget.",
    ]


def test_top_text_of_a_month_sums_the_members_left_out() -> None:
    board = Leaderboard([TopMember(7, 5, 200_000)], 3, 8, 290_000)
    assert top_text(board, "month", "2025-06", 0.29, None).split("\n") == [
        "**Top members this month** (June 2025, UTC):",
        "1. <@7>: 5 images, $0.20",
        "… and 2 more members: 3 images, $0.090",
        "In all this month: 8 images, $0.29 by 3 members.",
        "This month the server has spent $0.29.",
    ]
    empty = Leaderboard([], 0, 0, 0)
    assert top_text(empty, "month", "2025-06", 0, 5.0) == (
        "Nobody has made images here this month.\n"
        "This month the server has spent $0.00 of its $5.00 budget."
    )


def test_timed_blocks_say_until_when_everywhere() -> None:
    until = WHEN + timedelta(days=1)
    value = {"reason": "@here flood", "until": until.isoformat()}
    stamp = int(until.timestamp())
    assert change_text("block", 5, None, value, bot_default=20) == (
        f"<@5>: not blocked → blocked until <t:{stamp}:f> (@\u200bhere flood)"
    )
    assert change_text("unblock", 5, value, None, bot_default=20).endswith("→ not blocked")
    status = MemberStatus(
        user_id=1, guild_id=2, day="2025-06-30", limit=10, limit_source="role", granted=0,
        used=0, held=0, resets_at=WHEN, month_spend_micros=0, guild_month_spend_micros=0,
        guild_budget_micros=None, blocked=True, block_reason="flood", blocked_until=until,
    )  # fmt: skip
    assert status_text(status, who="<@1>").startswith(
        f"<@1> is blocked from making images here until <t:{stamp}:f>. Reason: flood\n"
    )
    assert status_text(replace(status, blocked_until=None), who="<@1>").startswith(
        "<@1> is blocked from making images here. Reason: flood\n"
    )
    assert member_text(MemberBlocked("flood", until=until)) == (
        f"A moderator has blocked you from making images in this server until <t:{stamp}:f>. "
        "Reason: flood"
    )


def test_the_list_groups_limits_and_blocks() -> None:
    page = PolicyPage(
        [
            PolicyEntry("member_limit", 5, images=1),
            PolicyEntry("role_limit", 6, images=30),
            PolicyEntry("block", 7, reason="**spam**", since=WHEN, until=None, by=9),
            PolicyEntry("block", 8, reason=None, since=WHEN, until=WHEN, by=9),
        ],
        has_more=True,
        counts={"member_limit": 11, "role_limit": 1, "block": 2},
    )
    assert policy_embed(page, first=False).description == "\n".join(
        [
            "Member limits: 11 · role limits: 1 · blocks in force: 2",
            "\n**Member limits**",
            "<@5>: 1 image a day",
            "\n**Role limits**",
            "<@&6>: 30 images a day",
            "\n**Blocks**",
            f"<@7>: until unblocked, by <@9> <t:{STAMP}:d> — \\*\\*spam\\*\\*",
            f"<@8>: until <t:{STAMP}:f> (<t:{STAMP}:R>), by <@9> <t:{STAMP}:d>",
        ]
    )
    empty = PolicyPage([], False, {"member_limit": 0, "role_limit": 0, "block": 0})
    assert "everyone has the server default" in str(policy_embed(empty, first=True).description)


def record(**fields: Any) -> JobRecord:
    base = JobRecord(
        id=4, user_id=1, guild_id=2, channel_id=3, kind="generate", model="gpt-image-1",
        size="1024x1024", quality="low", params={"prompt": "a **cat** @everyone"},
        status="failed", images_asked=2, images_held=0, images_charged=0, cost_held_micros=0,
        cost_charged_micros=0, cost_actual_micros=0, error="Your request was rejected.",
        result_channel_id=None, result_message_id=None, created_at=WHEN, started_at=WHEN,
        ended_at=WHEN,
    )  # fmt: skip
    return replace(base, **fields)


def test_a_job_shows_its_failure_kind_words_cost_times_and_inert_prompt() -> None:
    embed = job_embed(JobDetail(record(), "ContentRejected"))
    assert embed.title == "Job #4"
    assert str(embed.description).split("\n") == [
        "Member: <@1> in <#3>",
        "Request: /imagine · gpt-image-1 · 1024x1024 · low",
        "Outcome: failed, refunded",
        "Images: 2 asked, 0 made, 0 delivered",
        "Cost: $0.00 charged",
        "Failure: ContentRejected — Your request was rejected.",
        f"Times: asked <t:{STAMP}:f>, started <t:{STAMP}:T>, ended <t:{STAMP}:T>",
        "Prompt:",
        ">>> a \\*\\*cat\\*\\* @\u200beveryone",
    ]
    made = record(
        status="succeeded", images_charged=2, images_sent=2, cost_charged_micros=80_000,
        cost_actual_micros=95_000, error=None, delivery="delivered", delivered_at=WHEN,
        result_channel_id=3, result_message_id=77, params={"prompt": "p", "private": True},
    )  # fmt: skip
    lines = str(job_embed(JobDetail(made, None)).description).split("\n")
    assert "Request: /imagine · gpt-image-1 · 1024x1024 · low · private" in lines
    assert "Cost: $0.080 charged (WisGate's usage said $0.095; the hold capped it)" in lines
    assert not any(line.startswith(("Failure", "Result")) for line in lines)  # private: no link
    public = replace(made, params={"prompt": "p"})
    assert "Result: [open the message](https://discord.com/channels/2/3/77)" in str(
        job_embed(JobDetail(public, None)).description
    )
    held = record(status="queued", cost_held_micros=40_000, error=None, ended_at=None)
    assert "Cost: up to $0.040 held" in str(job_embed(JobDetail(held, None)).description)


def test_the_report_text_names_the_budget_share_and_busiest_day() -> None:
    daily = (0, 30_000, 0, 120_000, *([0] * 26))
    board = Leaderboard([TopMember(7, 3, 120_000), TopMember(8, 1, 30_000)], 2, 4, 150_000)
    report = MonthReport("2025-06", daily, 150_000, 1_000_000, board)
    assert report_text(report).split("\n")[:3] == [
        "Spent in June 2025 (UTC): $0.15 of the $1.00 budget (15%).",
        "Busiest day: June 4, $0.12.",
        "Top members: <@7> $0.12, <@8> $0.030.",
    ]
