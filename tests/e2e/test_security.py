"""Security end to end: secrets stay secret, member text is kept verbatim and pings nobody."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import running_bot
from tests.secrets_guard import SecretLeakHandler, find_secrets

WRONG_KEY = "sk-wrong-key-also-secret"
NASTY = (
    '\'; DROP TABLE jobs; -- "quoted" @everyone @here <@&123456789> <@987654321> '
    "**bold** __under__ `code` ||spoiler|| [link](https://example.com) \\ %s {0}"
)


async def test_a_refused_key_never_reaches_members_logs_or_rows(tmp_path: Path) -> None:
    # The fake WisGate echoes the presented key in its 401 message, as some gateways do.
    async with running_bot(tmp_path, wisgate_api_key=WRONG_KEY) as world:
        handle = await world.slash("imagine", {"prompt": "a cat"})
        await world.idle()
        texts = [m.content for m in world.discord.messages_for(handle)]
        assert any("cannot sign in to the image service" in text for text in texts)
        assert not find_secrets(" ".join(texts))
        [(status, error)] = world.rows("SELECT status, error FROM jobs")
        assert status == "failed" and "AuthenticationFailed" in error
        # harness teardown: no secret in anything sent to Discord nor in any database row;
        # conftest: no secret in any log line of this test.


def test_the_guard_notices_a_secret_in_a_log_line() -> None:
    handler = SecretLeakHandler()
    log = logging.getLogger("tests.guard")
    log.addHandler(handler)
    log.propagate = False  # this leak is on purpose: keep it from the suite-wide guard
    try:
        log.debug("harmless")
        log.debug("calling with %s", WRONG_KEY)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert len(handler.leaks) == 1 and WRONG_KEY in handler.leaks[0]


def _message_payloads(world: Any) -> list[dict[str, Any]]:
    """Every message body the bot sent (responses, followups, edits, channel messages)."""
    bodies = []
    for request in world.discord.requests:
        body = request.json
        if isinstance(body, dict) and body.get("type") in (4, 7):
            body = body.get("data") or {}
        if isinstance(body, dict) and ("content" in body or "embeds" in body):
            bodies.append(body)
    return bodies


@pytest.mark.parametrize("private", [False, True])
async def test_member_text_is_stored_verbatim_and_pings_nobody(
    tmp_path: Path, private: bool
) -> None:
    async with running_bot(tmp_path) as world:
        await world.slash("imagine", {"prompt": NASTY, "private": private})
        await world.idle()
        [(params,)] = world.rows("SELECT params FROM jobs")
        assert json.loads(params)["prompt"] == NASTY  # stored verbatim, no SQL harm
        assert world.rows("SELECT COUNT(*) FROM jobs") == [(1,)]
        [request] = world.wisgate.requests
        assert request.json is not None and request.json["prompt"] == NASTY
        bodies = _message_payloads(world)
        assert bodies
        for body in bodies:
            mentions = body.get("allowed_mentions")
            assert mentions is not None and mentions.get("parse") == [], body
            assert not mentions.get("roles") and not mentions.get("users"), body
        embed = next(b for b in bodies if b.get("embeds"))["embeds"][0]
        description = embed["description"]
        assert "@everyone" not in description and "@here" not in description
        assert "**bold**" not in description  # markdown is shown, not applied
        assert "bold" in description and "DROP TABLE jobs" in description


async def test_block_reason_is_stored_verbatim_and_echoed_without_pings(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        moderator = world.discord.add_user("mod")
        world.guild.add_member(moderator, roles=[world.guild.add_role("Mods", 1 << 5)])
        handle = await world.slash(
            "quota-admin block", {"member": world.bob, "reason": NASTY}, user=moderator
        )
        await world.idle()
        [(reason,)] = world.rows("SELECT block_reason FROM member_policies")
        assert reason == NASTY
        [reply] = world.discord.messages_for(handle)
        assert reply.ephemeral
        for body in _message_payloads(world):
            assert body["allowed_mentions"]["parse"] == [], body
