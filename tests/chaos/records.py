"""What a chaos run recorded for its checks (tests/chaos/invariants.py): the fakes, the
database, each bot process (epoch) and what it was sent, and helpers to read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.database import Database
from tests.chaos.plan import TAG, JobPlan, Plan
from tests.e2e.quota_world import Staff
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction, FakeUser
from tests.fakes.wisgate import FakeWisGate, RecordedRequest


@dataclass
class Injected:
    """A planned job as injected: its interaction and the bot process (epoch) it went to."""

    job: JobPlan
    handle: FakeInteraction
    epoch: int


@dataclass
class Epoch:
    """One bot process: its pid, and (on the fake's clock) when it was killed."""

    pid: int
    first_request: int  # index of the first fake Discord request after it was ready
    killed_at: float | None = None
    harsh: bool = False
    open_at_kill: int = 0  # its jobs queued or running in the database when it was killed
    killed_request: int | None = None  # fake Discord requests before the kill


@dataclass
class Takeover:
    """A process killed for good: its jobs open at the kill (queued, running, to deliver or
    owed a notice), and how long after the kill a survivor had ended them."""

    pid: int
    jobs: list[int]
    ended_after: float | None = None  # s until none was queued or running
    cleared_after: float | None = None  # s until none was left to deliver or to tell either


@dataclass
class Run:
    """Everything the checks need."""

    plan: Plan
    discord: FakeDiscord
    wisgate: FakeWisGate
    guilds: list[FakeGuild]  # one per shard
    members: list[FakeUser]
    staff: list[Staff]  # each guild's
    database: Database
    results: Path  # RESULTS_DIR
    log: Path  # every process's stderr
    injected: list[Injected] = field(default_factory=list)
    epochs: list[Epoch] = field(default_factory=list)
    exit_code: int | None = None  # the first non-zero exit code of the processes stopped
    # Jobs a survivor took from a killed process (tests/chaos/fleet.py): id -> old owner.
    taken: dict[int, str] = field(default_factory=dict)
    takeovers: list[Takeover] = field(default_factory=list)
    owner_daily_usd: float | None = None  # OPERATOR_DAILY_USD, when not off

    def guild_of(self, member: int) -> FakeGuild:
        """The guild where member n asks (in DMs: the guild it shares with the bot)."""
        return self.guilds[member % len(self.guilds)]


def prompt_of(record: RecordedRequest) -> str:
    """The prompt of a WisGate request (JSON body or multipart field)."""
    return str((record.json or {}).get("prompt") or record.fields.get("prompt") or "")


def tag_index(text: str) -> int | None:
    """The planned job index in a prompt, if it carries a tag."""
    found = TAG.search(text)
    return int(found.group(1)) if found else None


def db_rows(database: Database, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the bot's database from this process."""
    return database.rows(sql, *args)
