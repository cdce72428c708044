"""Play a chaos plan: the fakes here, the production bot in a subprocess killed on schedule.

The driver injects each planned interaction (pausing while the bot is down: Discord would not
deliver to a dead bot either), queues the job's WisGate faults under its prompt's tag, arms
its Discord faults on its webhook token, SIGKILLs the bot where the plan says once a job is
running, starts it again on the same database, and at the end waits for quiet and stops the
bot with SIGTERM. It records what it did (Run) for tests/chaos/invariants.py.

The driver is written for `shards` processes, one shard each, each guild on one of them
(member n's guild is guilds[n % shards]); this one runs one, on SQLite. tests/chaos/fleet.py
runs three on PostgreSQL and kills one without a restart.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.chaos.bot_process import API_VAR, GATEWAY_VAR, BotProcess
from tests.chaos.database import Database
from tests.chaos.plan import (
    DAILY_LIMIT,
    GRANTS,
    LIMIT_OVERRIDES,
    MEMBERS,
    REQUEST_TIMEOUT,
    JobPlan,
    Kill,
    Plan,
)
from tests.chaos.records import (
    Epoch,
    Injected,
    Run,
    db_rows,
    prompt_of,
    tag_index,
)
from tests.e2e.quota_world import Staff
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction
from tests.fakes.images import make_image
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.secrets_guard import DISCORD_TOKEN

EDIT_INPUT = ("input.png", make_image(64, 64, "png"), "image/png", 64, 64)
# The caps toward WisGate the bot is given: in total (across processes), per guild, per member.
MAX_CONCURRENT_JOBS, MAX_JOBS_PER_GUILD, MAX_JOBS_PER_MEMBER = 8, 6, 2


def bot_env(
    fake: FakeDiscord, api: FakeWisGate, guild: FakeGuild, database: Path
) -> dict[str, str]:
    """The bot's environment: production settings pointed at the fakes."""
    return {
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "WISGATE_API_KEY": TEST_API_KEY,
        "WISGATE_BASE_URL": api.base_url,
        "DATABASE_PATH": str(database),
        "DEV_GUILD_ID": str(guild.id),
        "ENABLED_MODELS": "gpt-image-1,dall-e-2",
        "DEFAULT_MODEL": "gpt-image-1",
        "DAILY_IMAGE_LIMIT": str(DAILY_LIMIT),
        "REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
        "MAX_RETRIES": "3",
        "MAX_CONCURRENT_JOBS": str(MAX_CONCURRENT_JOBS),
        "MAX_JOBS_PER_GUILD": str(MAX_JOBS_PER_GUILD),
        "MAX_JOBS_PER_MEMBER": str(MAX_JOBS_PER_MEMBER),
        "MAX_QUEUE_WAIT": "8",
        "STREAMING_PREVIEWS": "auto",
        "LOG_LEVEL": "INFO",
        # The owner's caps are tested end to end (tests/e2e/test_bill.py); here the server's
        # budget and members' limits are what refuses.
        "OPERATOR_DAILY_USD": "off",
        "OPERATOR_MONTHLY_USD": "off",
        "ACCOUNT_DAILY_USD": "off",
        "PERSONAL_MONTHLY_USD": "off",
        API_VAR: fake.api_url,
        GATEWAY_VAR: fake.gateway.url,
    }


class Driver:
    """Runs one plan against fresh fakes and bot processes; see the module docstring."""

    shards = 1  # bot processes, one shard each
    cap = MAX_CONCURRENT_JOBS  # the bots' cap on jobs at once, which the fake WisGate checks

    def __init__(self, plan: Plan, folder: Path) -> None:
        self.plan = plan
        self.folder = folder
        self._expire: dict[int, FakeInteraction] = {}  # job index -> interaction to expire
        self._seen_wisgate = 0
        self._run: Run | None = None
        self._bots: list[BotProcess] = []  # bot n holds shard n

    async def run(self) -> Run:
        """Play the plan; the fakes stay readable in the returned Run after they closed."""
        async with self.world() as run:
            await self._moderate(run)
            kills, faults = list(self.plan.kills), list(self.plan.channel_faults)
            for job in self.plan.jobs:
                await asyncio.sleep(job.gap)
                while faults and faults[0].after <= job.index:
                    fault = faults.pop(0)
                    path = r"^/channels/\d+/messages$"
                    run.discord.fail_next("POST", path, fault.status, count=fault.count)
                if not self.serves(job):
                    continue  # its shard's process is dead: Discord would deliver it to no one
                await self.inject(job)
                # Due, and a job is running (quotas may have stopped them all): kill now.
                if kills and kills[0].after <= job.index and await self._ready_to_kill(kills[0]):
                    await self.kill(kills.pop(0).harsh)
            for kill in kills:  # due after the last job: whatever is still in flight
                await running(run, 5.0, pid=self._victim().pid)
                await self.kill(kill.harsh)
            await self.finish()
        return run

    @asynccontextmanager
    async def world(self) -> AsyncIterator[Run]:
        """The fakes, a guild per shard with two channels and staff, MEMBERS members shared
        out among them; the bot processes started."""
        shards = self.shards
        async with (
            FakeDiscord(
                token=DISCORD_TOKEN, patch=False, shards=shards, max_concurrency=shards
            ) as fake,
            FakeWisGate(api_key=TEST_API_KEY, noisy=False, latency=0.1) as api,
        ):
            if self.plan.window is not None:
                api.rate_limit(*self.plan.window)
            api.cap_in_flight(self.cap)  # the run fails past it (fleet_checks.py)
            guilds = [
                fake.add_guild("Chaos", channels=("general", "art"), shard=n) for n in range(shards)
            ]
            members = [guilds[n % shards].add_member(f"member{n:02d}").user for n in range(MEMBERS)]
            staff = [Staff() for _ in guilds]
            for one, guild in zip(staff, guilds, strict=True):
                one(fake, guild)  # an admin and a log channel
            database = await self._database()
            run = Run(
                self.plan, fake, api, guilds, members, staff, database,
                self.folder / "results", self.folder / "bot.log",
            )  # fmt: skip
            self._run = run
            self._bots = [BotProcess(self._env(run, n), run.log) for n in range(shards)]
            watcher = asyncio.create_task(self._expire_tokens(run))
            try:
                await self._bots[0].sync()  # global commands, once: all Discord offers in DMs
                await self._start()
                yield run
            finally:
                watcher.cancel()
                for bot in self._bots:
                    await bot.close()
                database.close()

    async def _database(self) -> Database:
        """The bot's database: here a SQLite file."""
        return Database(self.folder / "bot.sqlite3")

    def _env(self, run: Run, shard: int) -> dict[str, str]:
        """Bot process `shard`'s environment."""
        return bot_env(run.discord, run.wisgate, run.guilds[0], run.database.path)

    def serves(self, job: JobPlan) -> bool:
        """Whether a live process holds the job's shard (here, one process, always restarted)."""
        return True

    def receiver(self, job: JobPlan) -> int:
        """The epoch (process) that receives the job's interaction."""
        assert self._run is not None
        return len(self._run.epochs) - 1

    def _victim(self) -> Epoch:
        """The process the next kill hits: here, the one running."""
        assert self._run is not None
        return self._run.epochs[-1]

    async def _start(self, *, notices: bool = True) -> None:
        """Start the bot processes not running; with `notices`, wait until their restart
        notices were sent."""
        assert self._run is not None
        idle = [bot for bot in self._bots if bot.process is None]
        await asyncio.gather(*(bot.start() for bot in idle))
        for bot in idle:
            assert bot.process is not None
            self._run.epochs.append(Epoch(bot.process.pid, len(self._run.discord.requests)))
        if notices:
            await asyncio.gather(*(bot.notices_sent() for bot in idle))

    async def _moderate(self, run: Run) -> None:
        """In each guild a moderator sets the log channel (budget alerts, moderation reports)
        and the budget, and its members' limits and grants, as in real use."""
        for guild, staff in zip(run.guilds, run.staff, strict=True):
            commands: list[tuple[str, dict[str, Any]]] = [
                ("settings", {"log_channel": staff.log}),
                ("budget", {"usd": self.plan.budget_usd}),
            ]
            for member, images in LIMIT_OVERRIDES.items():
                if run.guild_of(member) is guild:
                    commands.append(("limit", {"member": run.members[member], "images": images}))
            for member, images in GRANTS.items():
                if run.guild_of(member) is guild:
                    commands.append(("grant", {"member": run.members[member], "images": images}))
            for name, options in commands:
                handle = await run.discord.inject_slash(
                    f"quota-admin {name}", options, user=staff.admin, guild_id=guild.id
                )
                await run.discord.wait_for(
                    lambda h=handle: _answered(run.discord, h),
                    within=10,
                    what=f"/quota-admin {name}",
                )

    async def inject(self, job: JobPlan) -> Injected:
        """Arm the job's faults and inject its interaction."""
        run = self._run
        assert run is not None
        self._arm_wisgate(run.wisgate, job)
        user = run.members[job.member]
        where: dict[str, Any] = {"user": user}
        if job.in_dm:
            where["in_dm"] = True
        else:
            guild = run.guild_of(job.member)
            where.update(guild_id=guild.id, channel_id=guild.channels[job.channel].id)
        files = [EDIT_INPUT] if job.command == "edit" else []
        handle = await run.discord.inject_slash(
            job.command, job.options, attachments=files, **where
        )
        self._arm_discord(run, job, handle)
        item = Injected(job, handle, self.receiver(job))
        run.injected.append(item)
        return item

    def _arm_wisgate(self, api: FakeWisGate, job: JobPlan) -> None:
        for fault in job.wisgate:
            api.fail(
                fault.kind,
                status=fault.status,
                retry_after=fault.retry_after,
                delay=fault.delay,
                prompt_contains=job.tag,
            )

    def _arm_discord(self, run: Run, job: JobPlan, handle: FakeInteraction) -> None:
        # No await since the injection: the bot cannot have used the token yet.
        webhook = rf"^/webhooks/\d+/{re.escape(handle.token)}(/|$)"
        for fault in job.discord:
            if fault.kind == "expired_token":
                self._expire[job.index] = handle  # once its WisGate call is under way
            elif fault.kind == "too_large":
                run.discord.fail_next("*", webhook, 413, code=40005, uploads_only=True)
            else:
                retry = fault.retry_after if fault.status == 429 else None
                run.discord.fail_next(
                    "*", webhook, fault.status, retry_after=retry, count=fault.count
                )

    async def _expire_tokens(self, run: Run) -> None:
        """Expire a token when its job's WisGate call arrives: the job is past its hold, so
        delivery and any failure notice must find another way (channel, DM)."""
        while True:
            await asyncio.sleep(0.02)
            requests = run.wisgate.requests
            for record in requests[self._seen_wisgate :]:
                index = tag_index(prompt_of(record))
                if index is not None and index in self._expire:
                    run.discord.expire_token(self._expire.pop(index))
            self._seen_wisgate = len(requests)

    async def _ready_to_kill(self, kill: Kill) -> bool:
        """A job of the victim is running; for a gentle kill, every interaction it received
        so far was admitted too."""
        run = self._run
        assert run is not None
        victim = self._victim()
        if kill.harsh:
            return await running(run, 0.3, pid=victim.pid)
        mine = [i for i in run.injected if run.epochs[i.epoch] is victim]
        if not await _wait(lambda: _all_admitted(run, mine), within=3.0):
            return True  # one hangs unanswered: kill anyway, the checks will name it
        return _open_jobs(run.database, "running", pid=victim.pid) > 0

    async def kill(self, harsh: bool) -> None:
        """The plan's kill: here, SIGKILL and a restart on the same database."""
        await self.kill_and_restart(harsh)

    async def kill_and_restart(self, harsh: bool, *, notices: bool = True) -> None:
        """SIGKILL the bot now and start it again on the same database (see _start)."""
        await self._kill(self._victim(), harsh)
        await self._start(notices=notices)

    async def _kill(self, epoch: Epoch, harsh: bool) -> None:
        """SIGKILL this process now, noting what it left."""
        run = self._run
        assert run is not None
        epoch.open_at_kill = _open_jobs(run.database, "queued", "running", pid=epoch.pid)
        epoch.killed_at, epoch.harsh = run.discord.state.now(), harsh
        epoch.killed_request = len(run.discord.requests)
        bot = next(b for b in self._bots if b.process is not None and b.process.pid == epoch.pid)
        await bot.kill()

    async def finish(self, within: float = 30.0, quiet: float = 1.0) -> None:
        """Wait until every job ended, every live interaction was answered, and Discord has
        heard nothing from the bot for `quiet` seconds; then stop the bots with SIGTERM."""
        run = self._run
        assert run is not None
        live = [i for i in run.injected if run.epochs[i.epoch].killed_at is None]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        count, since = -1, loop.time()
        while loop.time() < deadline:  # not quiet in time: the checks report what is open
            if len(run.discord.requests) != count:
                count, since = len(run.discord.requests), loop.time()
            settled = _open_jobs(run.database, "queued", "running") == 0 and not _sending(run)
            if settled and _all_admitted(run, live) and loop.time() - since >= quiet:
                break
            await asyncio.sleep(0.05)
        alive = [bot for bot in self._bots if bot.process is not None]
        codes = await asyncio.gather(*(bot.stop() for bot in alive))
        run.exit_code = next((code for code in codes if code), 0)


def _answered(fake: FakeDiscord, handle: FakeInteraction) -> bool:
    return any(m.content and not m.loading for m in fake.messages_for(handle))


def refusal_of(fake: FakeDiscord, handle: FakeInteraction) -> str | None:
    """The private answer the member alone sees (a refusal, or a failure), if any."""
    for message in fake.messages_for(handle):
        private = message.ephemeral and message.visible_to(handle.user.id)
        if private and message.content and not message.loading:
            return message.content
    return None


def _all_admitted(run: Run, injected: list[Injected]) -> bool:
    """Each interaction has a job row, or a private answer (a refusal before any hold)."""
    tags = {tag_index(str(row[0])) for row in db_rows(run.database, "SELECT params FROM jobs")}
    return all(
        i.job.index in tags or refusal_of(run.discord, i.handle) is not None for i in injected
    )


def _sending(run: Run) -> bool:
    """A charged job's delivery is still under way (or due from a restart), or a member is
    still owed a notice (a survivor's restart notice may wait out Discord's 5xx retries,
    seconds apart: quiet on Discord does not mean told)."""
    sql = "SELECT COUNT(*) FROM jobs WHERE delivery = 'pending' OR notice_owed = 1"
    return int(db_rows(run.database, sql)[0][0]) > 0


def _open_jobs(database: Database, *statuses: str, pid: int | None = None) -> int:
    """Jobs in these states (with `pid`: of that process; owners are host:pid:random)."""
    marks = ", ".join("?" for _ in statuses)
    sql = f"SELECT COUNT(*) FROM jobs WHERE status IN ({marks})"
    if pid is None:
        return int(db_rows(database, sql, *statuses)[0][0])
    return int(db_rows(database, f"{sql} AND owner LIKE ?", *statuses, f"%:{pid}:%")[0][0])


async def running(run: Run, within: float, *, pid: int | None = None) -> bool:
    """Wait up to `within` s for a job (of process `pid`) in the 'running' state; whether one
    came."""
    return await _wait(lambda: _open_jobs(run.database, "running", pid=pid) > 0, within=within)


async def _wait(predicate: Callable[[], bool], *, within: float) -> bool:
    """Poll `predicate` every 20 ms for up to `within` s; whether it came true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True
