"""The fair queue end to end: round-robin across members, Cancel, expiry, restarts.

The first job of each test is held at the fake WisGate (a `slow` fault) so that the jobs
behind it really queue; the order in which WisGate received the rest is the queue's order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import BotError
from bot.discord.queue_buttons import NOT_YOURS, TOO_LATE
from bot.ledger.facade import JobSpec
from tests.e2e.harness import World, public_texts, running_bot
from tests.fakes.discord import FakeInteraction, FakeUser
from tests.fakes.discord.inject import walk_components

CANCEL = "queue:cancel:"


def prompts(world: World) -> list[str]:
    """The prompts WisGate received, in the order its requests arrived."""
    return [str((request.json or {}).get("prompt")) for request in world.wisgate.requests]


def cancel_id(handle: FakeInteraction) -> str | None:
    """The custom id of the Cancel button on the job's status message, if it shows one."""
    message = handle.original
    if message is None or message.deleted:
        return None
    ids = [str(c.get("custom_id")) for c in walk_components(message.components)]
    return next((i for i in ids if i.startswith(CANCEL)), None)


async def cancel_shown(world: World, handle: FakeInteraction) -> str:
    """Wait for the status message's first queued edit (position and Cancel); its custom id."""
    await world.discord.wait_for(
        lambda: cancel_id(handle) is not None, within=12.0, what="the Cancel button"
    )
    custom_id = cancel_id(handle)
    assert custom_id is not None and handle.original is not None
    assert "Queued — position 1" in handle.original.content
    return custom_id


async def press(world: World, handle: FakeInteraction, user: FakeUser) -> FakeInteraction:
    """Press the Cancel button of `handle`'s status message as `user`; wait for the ack."""
    custom_id = cancel_id(handle)
    assert custom_id is not None and handle.original is not None
    button = await world.discord.inject_component(handle.original, custom_id, user=user)
    world.handles.append(button)
    await world.discord.wait_acknowledged(button, within=3.0)
    return button


async def queue_job(
    world: World, prompt: str, options: dict[str, object] | None = None, **kw: object
) -> FakeInteraction:
    """A /imagine whose job is in the ledger before the next is sent: the tests' order. (On
    PostgreSQL two reservations at once may commit in either order, and the line follows
    them: the cancel test once saw the third request at position 2.)"""
    before = len(job_rows(world))
    handle = await world.slash("imagine", {"prompt": prompt, **(options or {})}, **kw)
    await world.discord.wait_for(
        lambda: len(job_rows(world)) > before, within=3.0, what=f"{prompt}'s job to be reserved"
    )
    return handle


def status(handle: FakeInteraction) -> str:
    """The job's status message as it reads now."""
    return handle.original.content if handle.original is not None else ""


def private_texts(world: World, handle: FakeInteraction, user: FakeUser) -> list[str]:
    """What this interaction showed `user` alone."""
    return [m.content for m in world.visible(handle, user) if m.ephemeral and not m.loading]


def job_rows(world: World) -> list[tuple[int, str, int]]:
    """(id, status, images held) of every job, oldest first."""
    return [
        (row[0], row[1], row[2])
        for row in world.rows("SELECT id, status, images_held FROM jobs ORDER BY id")
    ]


@pytest.mark.parametrize(
    ("caps", "what"),
    [
        ({"max_concurrent_jobs": 1}, "round-robin: one slot, B goes right after A's first"),
        ({"max_concurrent_jobs": 8}, "member cap: A holds two slots, B takes a third"),
    ],
)
async def test_a_members_burst_does_not_starve_another_member(
    tmp_path: Path, caps: dict[str, int], what: str
) -> None:
    async with running_bot(tmp_path, max_jobs_per_member=2, **caps) as world:
        # The first two requests hold their slots while everything else queues (one by one:
        # the line's order is the test's).
        world.wisgate.fail("slow", delay=2.0, times=2)
        world.wisgate.latency = 0.2
        for k in range(1, 7):
            await queue_job(world, f"a{k}")
        await queue_job(world, "b1", user=world.bob)
        await world.idle(within=30)
        order = prompts(world)
        assert sorted(order) == ["a1", "a2", "a3", "a4", "a5", "a6", "b1"], what
        assert order.index("b1") < order.index("a3"), (what, order)
        assert [p for p in order if p != "b1"] == [f"a{k}" for k in range(1, 7)]  # A's order
        if caps["max_concurrent_jobs"] == 1:
            assert order[:3] == ["a1", "b1", "a2"], order
        assert [row[1] for row in job_rows(world)] == ["succeeded"] * 7
        if caps["max_concurrent_jobs"] == 8:
            # a3 waited for one of A's two slots although six global slots were free.
            first, third = world.wisgate.requests[0], world.wisgate.requests[order.index("a3")]
            assert third.time - first.time >= 0.2


async def test_cancel_refunds_before_any_request_and_only_the_requester_may(
    tmp_path: Path,
) -> None:
    """Places shown and updated; Cancel refused to others, refunded for the requester; once a
    job generates, its Cancel goes away (or, if Discord refused that edit, says too late)."""
    async with running_bot(tmp_path, max_concurrent_jobs=1) as world:
        world.wisgate.fail("slow", delay=11.5)  # past the queued jobs' second status edit
        world.wisgate.fail("slow", delay=1.5, times=2)  # third and fourth: watch them generate
        await queue_job(world, "first")
        second, third, fourth = [await queue_job(world, n) for n in ("second", "third", "fourth")]
        await cancel_shown(world, second)
        await world.discord.wait_for(lambda: "position 3" in status(fourth), within=3.0)
        assert "position 2" in status(third) and cancel_id(third) and cancel_id(fourth)
        ids = [row[0] for row in job_rows(world)]
        assert job_rows(world)[1] == (ids[1], "queued", 1)

        refused = await press(world, second, world.bob)
        assert private_texts(world, refused, world.bob) == [NOT_YOURS]
        assert private_texts(world, refused, world.alice) == []  # bob's alone
        assert job_rows(world)[1] == (ids[1], "queued", 1)  # untouched

        await press(world, second, world.alice)
        await world.discord.wait_for(lambda: job_rows(world)[1][1] == "cancelled", within=3.0)
        assert job_rows(world)[1] == (ids[1], "cancelled", 0)  # refunded at once
        await world.discord.wait_for(
            lambda: any(
                "Cancelled" in text and "nothing was charged" in text
                for text in private_texts(world, second, world.alice)
            ),
            within=3.0,
            what="the member to be told",
        )
        await world.discord.wait_for(lambda: public_texts(world, second) == [], within=3.0)

        # Everyone behind moves up at the next edit.
        await world.discord.wait_for(lambda: "position 1" in status(third), within=7.0)
        await world.discord.wait_for(lambda: "position 2" in status(fourth), within=1.0)
        # The third starts; Discord refuses the edit that would take its Cancel away.
        world.discord.fail_next("PATCH", rf"/{third.token}/messages/@original", 404, code=10015)
        await world.discord.wait_for(lambda: len(world.wisgate.requests) == 2, within=4.0)
        assert world.bot.runner.cancel(ids[2], world.alice.id) == "started"
        late = await press(world, third, world.alice)
        assert private_texts(world, late, world.alice) == [TOO_LATE]
        # The fourth starts: its Cancel goes away at once.
        await world.discord.wait_for(lambda: len(world.wisgate.requests) == 3, within=4.0)
        await world.discord.wait_for(lambda: cancel_id(fourth) is None, within=1.0)
        assert "Generating" in status(fourth)
        await world.idle(within=15)
        # The cancelled job never reached WisGate; the others ran in order.
        assert prompts(world) == ["first", "third", "fourth"]
        statuses = [row[1] for row in job_rows(world)]
        assert statuses == ["succeeded", "cancelled", "succeeded", "succeeded"]


async def test_a_job_waiting_too_long_expires_refunded_and_told(tmp_path: Path) -> None:
    async with running_bot(tmp_path, max_concurrent_jobs=1, max_queue_wait=1.0) as world:
        world.wisgate.fail("slow", delay=2.5)
        await queue_job(world, "first")
        waiting = await queue_job(world, "second")
        await world.idle(within=15)
        assert [row[1:] for row in job_rows(world)] == [("succeeded", 0), ("expired", 0)]
        assert prompts(world) == ["first"]
        texts = private_texts(world, waiting, world.alice)
        assert any("waited more than 1 s" in t and "Nothing was charged" in t for t in texts)
        [(error,)] = world.rows("SELECT error FROM jobs WHERE status = 'expired'")
        assert "QueueExpired" in error


async def test_cancel_on_a_message_from_before_a_restart_answers(tmp_path: Path) -> None:
    """The button is routed by its custom id in a new process, which reads the job back."""
    async with running_bot(tmp_path, max_concurrent_jobs=1) as world:
        world.wisgate.fail("slow", delay=6.0)
        await queue_job(world, "first")
        queued = await queue_job(world, "second", options={"private": True})
        await cancel_shown(world, queued)
        # Shutting down refunds the queued job; if Discord cannot take the news in place
        # (here a 404 on the edit), the old message keeps its button and the member a DM.
        world.discord.fail_next("PATCH", r"/messages/@original", 404, code=10015, count=5)
        await world.restart()
        assert [row[1] for row in job_rows(world)] == ["succeeded", "interrupted"]
        assert any("restarted" in m.content for m in world.discord.dm_messages(world.alice.id))

        refused = await press(world, queued, world.bob)
        assert private_texts(world, refused, world.bob) == [NOT_YOURS]
        answered = await press(world, queued, world.alice)
        [text] = private_texts(world, answered, world.alice)
        assert text.startswith("Nothing to cancel") and "restart" in text
        await world.idle()
        assert prompts(world) == ["first"]


async def test_the_refunded_event_gets_the_error_and_cannot_fail_the_job(tmp_path: Path) -> None:
    """The runner's `refunded` event (the bot's notices): awaited after a BotError refund; if
    it raises, the job still ends refunded and told."""
    seen: list[tuple[int, str]] = []

    async def hook(spec: JobSpec, error: BotError) -> None:
        seen.append((spec.requester.user_id, type(error).__name__))
        raise RuntimeError("the hook broke")

    async with running_bot(tmp_path, max_concurrent_jobs=1, max_queue_wait=0.5) as world:
        world.bot.notices.refunded = hook  # type: ignore[method-assign]
        world.wisgate.fail("moderation_blocked")
        rejected = await world.slash("imagine", {"prompt": "something forbidden"})
        await world.idle()
        world.wisgate.fail("slow", delay=1.5)
        await queue_job(world, "first")
        await queue_job(world, "second", user=world.bob)
        await world.idle(within=10)
        assert seen == [(world.alice.id, "ContentRejected"), (world.bob.id, "QueueExpired")]
        statuses = [row[1] for row in job_rows(world)]
        assert statuses == ["failed", "succeeded", "expired"]
        assert any("safety" in text for text in private_texts(world, rejected, world.alice))
