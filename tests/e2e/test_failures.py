"""Upstream failures end to end: friendly private text, a refund, nothing left running."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import World, public_texts, running_bot


async def expect_refund(world: World, words: str, status: str = "failed") -> None:
    """One job, refunded, holding nothing; the member alone was told, in plain words."""
    await world.idle()
    [(row_status, delivered, charged, error)] = world.rows(
        "SELECT status, images_charged, cost_charged_micros, error FROM jobs"
    )
    assert (row_status, delivered, charged) == (status, 0, 0), error
    [handle] = world.handles
    texts = [m.content for m in world.visible(handle, world.alice) if m.ephemeral]
    assert any(words in text for text in texts), texts
    assert all("nothing was charged" in text.lower() for text in texts)
    assert public_texts(world, handle) == []
    status_row = world.rows(
        "SELECT SUM(images_held) FROM jobs WHERE status IN ('queued','running')"
    )
    assert status_row == [(None,)]


@pytest.mark.parametrize("private", [False, True])
async def test_moderation_rejection_is_explained_and_refunded(
    tmp_path: Path, private: bool
) -> None:
    async with running_bot(tmp_path) as world:
        world.wisgate.fail("moderation_blocked")
        await world.slash("imagine", {"prompt": "something forbidden", "private": private})
        await expect_refund(world, "safety system")
        assert len(world.wisgate.requests) == 1  # a 400 is never retried


async def test_rate_limit_waits_without_spending_retries(tmp_path: Path) -> None:
    async with running_bot(tmp_path, max_retries=0) as world:
        world.wisgate.fail("rate_limit", times=3, retry_after="0.1")
        await world.slash("imagine", {"prompt": "a lighthouse"})
        await world.idle()
        assert world.rows("SELECT status, images_charged FROM jobs") == [("succeeded", 1)]
        assert len(world.wisgate.requests) == 4  # three waits, no retry budget spent


async def test_rate_limit_outlasting_the_queue_wait_is_refunded(tmp_path: Path) -> None:
    async with running_bot(tmp_path, max_queue_wait=1.0) as world:
        world.wisgate.fail("rate_limit", times=100, retry_after="0.4")
        await world.slash("imagine", {"prompt": "a lighthouse"})
        await expect_refund(world, "waited more than", status="expired")
        assert len(world.wisgate.requests) <= 3  # one call per pause, not a retry storm


async def test_timeout_is_not_retried_and_is_refunded(tmp_path: Path) -> None:
    async with running_bot(tmp_path, request_timeout=0.5) as world:
        world.wisgate.fail("slow", delay=2.0)
        await world.slash("imagine", {"prompt": "a slow painting"})
        await expect_refund(world, "took too long")
        assert len(world.wisgate.requests) == 1  # may have been billed upstream: never retried


async def test_unknown_model_upstream_becomes_a_clear_message(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as world:
        world.wisgate.fail("unknown_model")
        await world.slash("imagine", {"prompt": "a cat", "model": "gpt-image-1"})
        await expect_refund(world, "does not offer this model")
