"""Blocked terms and moderation reports end to end: moderators' list, refusals, the log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.ledger.models import iso
from tests.e2e.harness import World, public_texts, running_bot
from tests.e2e.quota_world import Staff, ask, audit_actions, log_texts, private_reply
from tests.fakes.images import make_image


def nothing_charged(world: World) -> None:
    assert world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]
    assert world.rows("SELECT COUNT(*) FROM member_usage") == [(0,)]
    assert world.wisgate.requests == []


async def test_moderators_manage_the_list_with_audit_rows(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        admin = staff.admin
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=admin)
        text = await ask(world, "quota-admin terms add", {"term": "  Dragon "}, user=admin)
        assert text == (
            "Blocked term added: `dragon` (matches the whole word or phrase, ignoring case and "
            "accents). Prompts containing it are refused here before anything is charged."
        )
        text = await ask(world, "quota-admin terms add", {"term": "DRAGON"}, user=admin)
        assert text == "`dragon` was already blocked: nothing changed."
        text = await ask(world, "quota-admin terms add", {"term": "skull*"}, user=admin)
        assert "`skull*` (matches words starting with it" in text
        text = await ask(world, "quota-admin terms list", user=admin)
        assert text.endswith("\n`dragon`, `skull*`")
        text = await ask(world, "quota-admin terms remove", {"term": "Dragon"}, user=admin)
        assert text == "Blocked term removed: `dragon`. Prompts may contain it again."
        text = await ask(world, "quota-admin terms remove", {"term": "dragon"}, user=admin)
        assert text.startswith("`dragon` was not blocked: nothing changed.")
        text = await ask(world, "quota-admin terms add", {"term": "*"}, user=admin)
        assert "a lone `*` would block everything" in text
        assert await ask(world, "quota-admin terms list", user=admin) == (
            "Blocked terms here (1 of at most 500); `*` at a start or end matches parts of "
            "words:\n`skull*`"
        )

        actions = [row for row in audit_actions(world) if row[0].startswith("term")]
        assert actions == [
            ("term_add", world.guild.id, "null", '"dragon"', admin.id),
            ("term_add", world.guild.id, "null", '"skull*"', admin.id),
            ("term_remove", world.guild.id, '"dragon"', "null", admin.id),
        ]
        logged = [t for t in log_texts(world, staff.log) if t.startswith("Blocked terms")]
        assert logged == [
            f"Blocked terms: <@{admin.id}> added `dragon`.",
            f"Blocked terms: <@{admin.id}> added `skull*`.",
            f"Blocked terms: <@{admin.id}> removed `dragon`.",
        ]
        # A member without Manage Server or the moderator role changes nothing.
        handle = await world.slash(
            "quota-admin terms add", {"term": "fox"}, user=world.alice, check_permissions=False
        )
        await world.idle()
        assert "Only moderators" in private_reply(world, handle)
        assert world.rows("SELECT term FROM blocked_terms") == [("skull*",)]


@pytest.mark.parametrize("private", [False, True])
async def test_a_blocked_term_is_refused_before_any_charge(tmp_path: Path, private: bool) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin terms add", {"term": "dragon"}, user=staff.admin)
        await ask(world, "quota-admin terms add", {"term": "*skull*"}, user=staff.admin)
        for prompt, term in [
            ("A DRAGON at dawn", "dragon"),
            ("a ｄｒａｇóｎ, sleeping", "dragon"),  # full-width letters and an accent
            ("dra\u200bgon eggs", "dragon"),  # a zero-width space inside
            ("a knitted skullcap", "*skull*"),
        ]:
            handle = await world.slash("imagine", {"prompt": prompt, "private": private})
            await world.idle()
            text = private_reply(world, handle)
            assert text == (
                f"Your prompt contains `{term}`, a term this server's moderators have blocked. "
                "Rephrase the prompt without it and try again; nothing was charged."
            )
            assert public_texts(world, handle) == []
        nothing_charged(world)

        # /edit too, refused before the image is even downloaded.
        upload = ("in.png", make_image(256, 256), "image/png", 256, 256)
        handle = await world.slash("edit", {"prompt": "add a dragon"}, attachments=[upload])
        await world.idle()
        assert "`dragon`" in private_reply(world, handle)
        assert world.discord.downloads == []
        nothing_charged(world)

        # Whole words only: a dragonfly is fine, and it is delivered and charged as usual.
        await world.slash("imagine", {"prompt": "a dragonfly over a pond"})
        await world.idle()
        assert world.rows("SELECT status FROM jobs") == [("succeeded",)]
        assert len(world.wisgate.requests) == 1


async def test_a_blocked_term_in_a_prompt_file_is_refused(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin terms add", {"term": "red panda"}, user=staff.admin)
        text = ("a quiet forest. " * 500 + "A red\n\npanda naps.").encode()
        handle = await world.slash("imagine-file", {"prompt_file": ("p.txt", text, "text/plain")})
        await world.idle()
        assert "`red panda`" in private_reply(world, handle)
        nothing_charged(world)


async def test_terms_apply_to_their_own_server_only(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await world.bot.tree.sync()  # global commands: what Discord offers in DMs
        await ask(world, "quota-admin terms add", {"term": "dragon"}, user=staff.admin)
        await world.slash("imagine", {"prompt": "a dragon"}, in_dm=True)
        await world.idle()
        assert world.rows("SELECT guild_id, status FROM jobs") == [(0, "succeeded")]


REPORT = re.compile(
    r"^\*\*Moderation:\*\* the image service's safety system rejected (\d) requests by "
    r"<@(\d+)> within the last hour \(jobs (#\d+(?:, #\d+)*)\)\. Nothing was charged for them\."
)


def reports(world: World, staff: Staff) -> list[tuple[int, int, str]]:
    found = [REPORT.match(text) for text in log_texts(world, staff.log)]
    return [(int(m[1]), int(m[2]), m[3]) for m in found if m]


async def rejected(world: World, **where: object) -> None:
    world.wisgate.fail("moderation_blocked")
    await world.slash("imagine", {"prompt": "something the safety system refuses"}, **where)
    await world.idle()


async def test_three_rejections_in_an_hour_are_reported_once(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=staff.admin)
        await rejected(world)
        await rejected(world, user=world.bob)  # someone else's rejection counts for them only
        await rejected(world)
        assert reports(world, staff) == []
        await rejected(world)
        assert reports(world, staff) == [(3, world.alice.id, "#1, #3, #4")]
        for _ in range(3):
            await rejected(world)  # three more within the hour: no second report
        assert len(reports(world, staff)) == 1
        assert world.rows("SELECT COUNT(*), MAX(rejections) FROM moderation_reports") == [(1, 3)]
        failed = world.rows("SELECT COUNT(*) FROM jobs WHERE status = 'failed'")
        assert failed == [(7,)]
        assert world.rows("SELECT SUM(images_charged) FROM member_usage") == [(0,)]

        # An hour later (moved back in the database, as if time had passed): fresh rejections
        # are counted from scratch and reported again, once.
        earlier = iso(datetime.now(UTC) - timedelta(hours=2))
        world.rows("UPDATE jobs SET ended_at = ?", earlier)
        world.rows("UPDATE moderation_reports SET reported_at = ?", earlier)
        await rejected(world)
        await rejected(world)
        assert len(reports(world, staff)) == 1
        await rejected(world)
        assert reports(world, staff)[1] == (3, world.alice.id, "#8, #9, #10")
