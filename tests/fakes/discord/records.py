"""What the fake saw and holds (requests, violations, messages) and ways to wait for it."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from typing import Any

from tests.fakes.discord.gateway import Gateway
from tests.fakes.discord.http import check_later
from tests.fakes.discord.model import (
    FakeAttachment,
    FakeInteraction,
    FakeMessage,
    RecordedRequest,
    Violation,
)
from tests.fakes.discord.state import FakeState


class RecordsMixin:
    """The read side of FakeDiscord: records, messages, and waiting for the bot."""

    state: FakeState
    gateway: Gateway

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request, in arrival order."""
        return self.state.requests

    @property
    def violations(self) -> list[Violation]:
        """Requests whose body failed Discord's schema: answered 400/50035 when checked inline;
        with schema_check="later", added by check_schemas_later() (they were answered)."""
        return self.state.violations

    def check_schemas_later(self) -> list[Violation]:
        """With schema_check="later": check the bodies answered unchecked; the new violations."""
        return check_later(self.state)

    @property
    def unhandled(self) -> list[RecordedRequest]:
        """Requests to routes the fake does not implement (answered 404)."""
        return self.state.unhandled

    @property
    def downloads(self) -> list[tuple[FakeAttachment, float]]:
        """CDN downloads: (attachment, time)."""
        return self.state.downloads

    @property
    def global_commands(self) -> list[dict[str, Any]]:
        """Registered global commands."""
        return self.state.global_commands

    def guild_commands(self, guild_id: int) -> list[dict[str, Any]]:
        """Commands registered to a guild."""
        return self.state.guild_commands.get(guild_id, [])

    def requests_for(self, interaction: FakeInteraction) -> list[RecordedRequest]:
        """Requests carrying this interaction's id or token, in order."""
        return list(self.state.requests_by_interaction.get(interaction.id, ()))

    def first_request_for(self, interaction: FakeInteraction) -> RecordedRequest:
        """The first of them (should be the acknowledgement)."""
        found = self.requests_for(interaction)
        if not found:
            raise AssertionError(f"no request for interaction {interaction.id}\n{self.describe()}")
        return found[0]

    def messages_for(self, interaction: FakeInteraction) -> list[FakeMessage]:
        """Messages created by this interaction's response and followups, oldest first."""
        return [m for m in self.state.messages.values() if m.interaction_id == interaction.id]

    def channel_messages(self, channel_id: int) -> list[FakeMessage]:
        """Every message in a channel, ephemeral and deleted ones included (check the flags)."""
        return self.state.messages_in(channel_id)

    def dm_messages(self, user_id: int) -> list[FakeMessage]:
        """Messages in the bot's DM channel with this user."""
        user = self.state.users[user_id]
        return self.state.messages_in(self.state.dm_channel(user).id)

    def describe(self) -> str:
        """A readable log of requests, violations and unhandled routes, for failure messages."""
        lines = ["requests:", *(f"  {r}" for r in self.state.requests)]
        lines += ["violations:", *(f"  {v}" for v in self.state.violations)]
        lines += ["unhandled:", *(f"  {r}" for r in self.state.unhandled)]
        return "\n".join(lines)

    async def wait_for(
        self, predicate: Callable[[], bool], *, within: float = 5.0, what: str = ""
    ) -> None:
        """Wait until `predicate()` holds: checked after each request and frame, and every 10 ms."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with self.state.changed:
            while not predicate():
                left = deadline - loop.time()
                if left <= 0:
                    label = what or getattr(predicate, "__name__", "condition")
                    raise AssertionError(
                        f"timed out after {within}s waiting for {label}\n{self.describe()}"
                    )
                # Polling too: predicates may read the bot's state, which changes between requests.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.state.changed.wait(), min(left, 0.01))

    async def wait_until_connected(self, *, within: float = 5.0) -> None:
        """Wait until a bot has identified and its socket is open."""
        gateway = self.gateway
        await self.wait_for(
            lambda: gateway.session is not None and gateway.session.connected, within=within
        )

    async def wait_for_request(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        interaction: FakeInteraction | None = None,
        status: int | None = None,
        within: float = 5.0,
    ) -> RecordedRequest:
        """The first answered request matching every filter given (path is a regex)."""
        pattern = re.compile(path) if path else None

        def wanted(r: RecordedRequest) -> bool:
            return (
                r.status != 0
                and (method is None or r.method == method.upper())
                and (pattern is None or pattern.search(r.path) is not None)
                and (interaction is None or r.interaction_id == interaction.id)
                and (status is None or r.status == status)
            )

        def match() -> RecordedRequest | None:
            records = (
                self.state.requests
                if interaction is None
                else self.state.requests_by_interaction.get(interaction.id, ())
            )
            return next((r for r in records if wanted(r)), None)

        await self.wait_for(lambda: match() is not None, within=within, what=f"{method} {path}")
        found = match()
        assert found is not None
        return found

    async def wait_acknowledged(self, interaction: FakeInteraction, *, within: float = 5.0) -> None:
        """Wait until the interaction's callback was accepted."""
        await self.wait_for(
            lambda: interaction.acknowledged, within=within, what=f"ack of {interaction.id}"
        )
