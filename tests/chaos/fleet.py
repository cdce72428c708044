"""The chaos run's PostgreSQL mode (issue 19): three bot processes, one shard each, on one
database, the plan's first kill hitting one of them for good (no restart).

Each process gets its own DATABASE_PATH folder (its input spool), the one RESULTS_DIR and the
one database; there is a guild per shard (member n asks in guild n % 3) and DMs arrive on
shard 0. The kill hits process `seed % 3`; from then on Discord has no one to deliver that
shard's interactions to, so the driver skips them (their members would see "the application
did not respond", nothing held). At the kill the driver notes the dead process's open jobs
(Run.taken: the checks judge them as that process's, though a survivor now owns them) and
times how long the survivors take to end them (Run.takeovers, checked in fleet_checks.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from tests.chaos.database import Database
from tests.chaos.driver import Driver, bot_env
from tests.chaos.plan import JobPlan, Plan
from tests.chaos.records import Epoch, Run, Takeover, db_rows
from tests.postgres import PostgresServer

SHARDS = 3
# What a survivor takes from a dead process (bot/ledger/leases.py's _OPEN).
_OPEN = "(status IN ('queued', 'running') OR delivery = 'pending' OR notice_owed = 1)"


class FleetDriver(Driver):
    """Driver for SHARDS processes on PostgreSQL, one killed without a restart."""

    shards = SHARDS
    # Below what three guilds ask at their busiest (MAX_JOBS_PER_GUILD each): the cap binds.
    cap = 3
    # The owner's daily cap, the one counter every process charges: reached mid-run.
    owner_daily_usd = 1.25

    def __init__(self, plan: Plan, folder: Path, server: PostgresServer) -> None:
        super().__init__(replace(plan, kills=plan.kills[:1]), folder)
        self.server = server
        self.victim = plan.seed % SHARDS
        self._timing: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def world(self) -> AsyncIterator[Run]:
        """The driver's world, the owner's daily cap noted for the checks."""
        async with super().world() as run:
            run.owner_daily_usd = self.owner_daily_usd
            yield run

    async def _database(self) -> Database:
        return Database(self.folder / "bot.sqlite3", await self.server.new_database())

    def _env(self, run: Run, shard: int) -> dict[str, str]:
        folder = self.folder / f"shard{shard}"
        folder.mkdir(exist_ok=True)
        env = bot_env(run.discord, run.wisgate, run.guilds[0], folder / "bot.sqlite3")
        assert run.database.url is not None
        env.update(
            DATABASE_URL=run.database.url,
            RESULTS_DIR=str(run.results),
            SHARD_COUNT=str(SHARDS),
            SHARD_IDS=str(shard),
            MAX_CONCURRENT_JOBS=str(self.cap),
            OPERATOR_DAILY_USD=str(self.owner_daily_usd),
        )
        return env

    def _shard(self, job: JobPlan) -> int:
        return 0 if job.in_dm else job.member % SHARDS

    def serves(self, job: JobPlan) -> bool:
        """Whether the process holding the job's shard is alive."""
        return self._bots[self._shard(job)].process is not None

    def receiver(self, job: JobPlan) -> int:
        """The process of the job's shard (epoch n is shard n's)."""
        return self._shard(job)

    def _victim(self) -> Epoch:
        assert self._run is not None
        return self._run.epochs[self.victim]

    async def kill(self, harsh: bool) -> None:
        """SIGKILL the victim for good; note its open jobs and time the survivors' takeover."""
        run = self._run
        assert run is not None
        epoch = self._victim()
        await self._kill(epoch, harsh)
        killed = time.monotonic()
        rows = db_rows(
            run.database, f"SELECT id, owner FROM jobs WHERE owner LIKE ? AND {_OPEN}",
            f"%:{epoch.pid}:%",
        )  # fmt: skip
        taken = {int(id_): str(owner) for id_, owner in rows}
        run.taken.update(taken)
        takeover = Takeover(epoch.pid, sorted(taken))
        run.takeovers.append(takeover)
        self._timing = asyncio.create_task(self._time(run, takeover, killed))

    async def _time(self, run: Run, takeover: Takeover, killed: float) -> None:
        """Poll until the survivors ended the dead process's jobs, then told and delivered."""
        mine = set(takeover.jobs)
        while takeover.cleared_after is None:
            rows = db_rows(run.database, "SELECT id, status, delivery, notice_owed FROM jobs")
            left = [row for row in rows if row[0] in mine]
            now = time.monotonic() - killed
            if takeover.ended_after is None and all(
                status not in ("queued", "running") for _, status, _, _ in left
            ):
                takeover.ended_after = now
            if takeover.ended_after is not None and all(
                delivery != "pending" and not owed for _, _, delivery, owed in left
            ):
                takeover.cleared_after = now
            await asyncio.sleep(0.05)

    async def finish(self, within: float = 30.0, quiet: float = 1.0) -> None:
        """As the driver's, and stop timing the takeover (whatever it measured stands)."""
        await super().finish(within, quiet)
        if self._timing is not None:
            self._timing.cancel()
