"""Notices end to end: the 80% budget alert, refusal at 100%, and restart refunds told."""

from __future__ import annotations

from pathlib import Path

from bot.ledger.facade import JobSpec, Requester
from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import Staff, ask, log_texts, write_open_jobs
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeUser

CHEAP = {"model": "dall-e-2", "size": "256x256"}  # $0.016 an image at list price


async def imagine(world: World, n: int) -> None:
    await world.slash("imagine", {"prompt": "a pebble", "count": n, **CHEAP})
    await world.idle()


async def test_budget_alert_once_at_80_percent_and_refusal_at_100(tmp_path: Path) -> None:
    staff = Staff()
    async with running_bot(tmp_path, setup=staff) as world:
        admin = staff.admin
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=admin)
        await ask(world, "quota-admin budget", {"usd": 0.1}, user=admin)

        def alerts() -> list[str]:
            return [t for t in log_texts(world, staff.log) if "budget alert" in t]

        await imagine(world, 4)  # $0.064: 64%
        assert alerts() == []
        await imagine(world, 1)  # $0.080: 80%
        [alert] = alerts()
        assert alert.startswith(
            "**Image budget alert:** this server has spent $0.080 of its $0.10 monthly image "
            "budget (80%). When it is used up, new requests are refused until a moderator "
            "raises it with `/quota-admin budget` or the month turns <t:"
        )
        assert alert.endswith(":R>.")
        await imagine(world, 1)  # $0.096: still above 80%, no second alert
        assert len(alerts()) == 1

        before = len(world.wisgate.requests)
        handle = await world.slash("imagine", {"prompt": "one too many", **CHEAP})
        await world.idle()
        [text] = [m.content for m in world.visible(handle, world.alice) if m.ephemeral]
        # The member chose nothing dearer than the cheapest: the budget is simply reached.
        assert text.startswith("This server has reached its monthly image budget. It resets <t:")
        assert text.endswith(":R>, or a moderator can raise it.") and "$" not in text
        assert len(world.wisgate.requests) == before
        assert world.rows("SELECT held_micros, charged_micros FROM guild_spend") == [(0, 96_000)]

        text = await ask(world, "quota-admin budget", {"usd": 1}, user=admin)
        assert text == "Monthly image budget: $0.10 → $1.00\nSpent this month: $0.096."
        await imagine(world, 1)
        assert world.rows("SELECT charged_micros FROM guild_spend") == [(112_000,)]
        assert len(alerts()) == 1


class Interrupted(Staff):
    """A guild with a channel the bot cannot post in, and jobs a dead process left open."""

    ids: list[int]

    def __init__(self, database: Path) -> None:
        self.database = database

    def __call__(self, fake: FakeDiscord, guild: FakeGuild) -> None:
        """Write the open jobs before the bot starts, as the previous process left them."""
        super().__call__(fake, guild)
        people = {m.user.username: m.user for m in guild.members.values()}
        alice, bob = people["alice"], people["bob"]
        general = guild.channels[0].id
        locked = guild.add_channel("no-bot", bot_permissions=0).id
        self.ids = write_open_jobs(
            self.database,
            [
                (spec(alice, guild.id, general, "a tall lighthouse"), True),
                (spec(alice, guild.id, general, "a second one"), False),
                (spec(bob, guild.id, locked, "bob's quiet request"), True),
                (spec(alice, None, None, "a dm request"), True),
            ],
        )


def spec(user: FakeUser, guild_id: int | None, channel_id: int | None, prompt: str) -> JobSpec:
    requester = Requester(user.id, guild_id, (), channel_id)
    return JobSpec(requester, "generate", "gpt-image-1", 2, "1024x1024", "low", {"prompt": prompt})


async def test_jobs_left_running_are_refunded_and_the_members_told(tmp_path: Path) -> None:
    setup = Interrupted(tmp_path / "bot.sqlite3")
    async with running_bot(tmp_path, setup=setup) as world:
        general = world.guild.channels[0].id
        bot_id = world.discord.bot_user.id

        def notices() -> list[str]:
            channel = world.discord.channel_messages(general)
            dms = [*world.discord.dm_messages(world.alice.id)]
            dms += world.discord.dm_messages(world.bob.id)
            return [m.content for m in [*channel, *dms] if m.author.id == bot_id]

        await world.discord.wait_for(lambda: len(notices()) == 3, what="three notices")
        [in_channel] = [m for m in world.discord.channel_messages(general) if m.author.id == bot_id]
        assert in_channel.content.startswith(
            f"<@{world.alice.id}> The bot restarted before your 2 image requests (the first "
            "from <t:"
        )
        assert in_channel.content.endswith(
            "finished, so they were refunded: nothing was charged and you can ask again."
        )
        assert "lighthouse" not in in_channel.content  # prompts may be private: not in channels

        [to_bob] = [m.content for m in world.discord.dm_messages(world.bob.id)]
        assert to_bob.startswith("The bot restarted before your /imagine request from <t:")
        assert to_bob.endswith("it was refunded: nothing was charged and you can ask again.\n"
                               "> bob's quiet request")  # fmt: skip
        [to_alice] = [m.content for m in world.discord.dm_messages(world.alice.id)]
        assert to_alice.endswith("> a dm request")

        rows = world.rows("SELECT id, status, images_held, cost_held_micros FROM jobs ORDER BY id")
        assert rows == [(job_id, "interrupted", 0, 0) for job_id in setup.ids]
        assert world.rows("SELECT SUM(images_held), SUM(cost_held_micros) FROM member_usage") == [
            (0, 0)
        ]
        assert world.rows("SELECT SUM(held_micros), SUM(charged_micros) FROM guild_spend") == [
            (0, 0)
        ]
        # The member may ask again at once: nothing of theirs is held or charged.
        text = await ask(world, "quota")
        assert text.startswith("You have used 0 of your 20 images today: **20 left**.")
        assert "interrupted by a restart, refunded" in await ask(world, "history")
