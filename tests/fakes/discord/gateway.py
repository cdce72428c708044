"""The fake gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, dispatch, RESUME.

Shards as Discord routes them: a session IDENTIFYs with `shard: [id, count]` and gets the
guilds with `(guild_id >> 22) % count == id`; a dispatch about a guild goes to that shard's
session, everything else (direct messages) to shard 0. When several sessions hold one shard
(a standby took over), the newest connected one gets it.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from tests.fakes.discord.state import FakeState

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 0, 1, 2, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11


@dataclass
class GatewaySession:
    """One identified session: its sequence numbers and every dispatch (for RESUME replay)."""

    id: str
    shard: list[int]
    seq: int = 0
    log: list[tuple[int, str]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    invalid: bool = False

    @property
    def connected(self) -> bool:
        """Whether a socket is attached and open."""
        return self.ws is not None and not self.ws.closed


class Gateway:
    """The websocket endpoint discord.py connects to (plain JSON text frames)."""

    def __init__(self, state: FakeState, heartbeat_interval: float = 41.25) -> None:
        self.state = state
        self.heartbeat_interval = heartbeat_interval
        self.url = "ws://127.0.0.1:0/"
        self.sessions: dict[str, GatewaySession] = {}
        self.session: GatewaySession | None = None
        # Frames the client sent, tokens removed: [{"op": 2, "d": {...}}, ...].
        self.received: list[dict[str, Any]] = []
        self.connections = 0
        self.identifies = 0
        self.resumes = 0
        self.replayed = 0
        # (shard id, shard count, monotonic time) of every IDENTIFY, in order.
        self.identified: list[tuple[int, int, float]] = []
        self._sockets: set[web.WebSocketResponse] = set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One websocket connection, from HELLO to close."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.connections += 1
        try:
            await self._send(ws, HELLO, {"heartbeat_interval": int(self.heartbeat_interval * 1000)})
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    await self._on_frame(ws, orjson.loads(message.data))
        finally:
            self._sockets.discard(ws)
            for session in self.sessions.values():
                if session.ws is ws:
                    session.ws = None
            await self.state.notify()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        shown = {k: v for k, v in data.items() if k != "token"} if isinstance(data, dict) else data
        self.received.append({"op": op, "d": shown})
        if op == HEARTBEAT:
            await self._send(ws, HEARTBEAT_ACK, None)
        elif op == IDENTIFY and isinstance(data, dict):
            await self._identify(ws, data)
        elif op == RESUME and isinstance(data, dict):
            await self._resume(ws, data)
        elif op == REQUEST_MEMBERS and isinstance(data, dict):
            await self._members(data)
        await self.state.notify()

    def _token_ok(self, data: dict[str, Any]) -> bool:
        return self.state.token is None or data.get("token") == self.state.token

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if not self._token_ok(data):
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = [int(part) for part in data.get("shard") or [0, 1]]
        session = GatewaySession(id=secrets.token_hex(16), shard=shard)
        session.ws = ws
        self.sessions[session.id] = session
        self.session = session
        self.identifies += 1
        self.identified.append((shard[0], shard[1], time.monotonic()))
        await self._dispatch_to(session, "READY", self._ready(session))
        for guild in self._guilds_of(session):
            await self._dispatch_to(session, "GUILD_CREATE", guild.payload())

    def _guilds_of(self, session: GatewaySession) -> list[Any]:
        """The guilds this session's shard receives."""
        shard, count = session.shard
        return [g for g in self.state.guilds.values() if shard_of(g.id, count) == shard]

    def _ready(self, session: GatewaySession) -> dict[str, Any]:
        state = self.state
        guilds = self._guilds_of(session)
        return {
            "v": 10,
            "user": {**state.bot_user.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.url,
            "application": {"id": str(state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "shard": session.shard,
            "_trace": ["fake-discord"],
        }

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.invalid or not self._token_ok(data):
            # d=false: not resumable; discord.py reconnects and IDENTIFYs afresh.
            await self._send(ws, INVALID_SESSION, False)
            return
        session.ws = ws
        self.session = session
        self.resumes += 1
        seen = int(data.get("seq") or 0)
        for seq, text in session.log:
            if seq > seen:
                self.replayed += 1
                await ws.send_str(text)
        await self._dispatch_to(session, "RESUMED", {})

    async def _members(self, data: dict[str, Any]) -> None:
        guild = self.state.guilds.get(int(data.get("guild_id") or 0))
        if guild is None or self.session is None:
            return
        session = self.session_for(guild.id)
        chunk = {
            "guild_id": str(guild.id),
            "members": [member.payload() for member in guild.members.values()],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch on the session of its guild's shard (DMs: shard 0), buffered for
        RESUME while disconnected."""
        if self.session is None:
            raise RuntimeError("no gateway session: has the bot connected and identified?")
        guild = data.get("id") if event == "GUILD_CREATE" else data.get("guild_id")
        await self._dispatch_to(self.session_for(int(guild) if guild else None), event, data)

    def session_for(self, guild_id: int | None) -> GatewaySession:
        """The session that receives this guild's events (None: a DM, shard 0): the latest
        session if connected and of that shard, else the newest connected one holding it, else
        the newest holding it (buffered for its RESUME), else the latest."""
        assert self.session is not None
        count = self.session.shard[1]
        shard = 0 if guild_id is None else shard_of(guild_id, count)
        if self.session.shard == [shard, count] and self.session.connected:
            return self.session  # the one session of an unsharded bot, as before shards
        holding = [s for s in self.sessions.values() if s.shard == [shard, count]]
        connected = [s for s in holding if s.connected]
        return (connected or holding or [self.session])[-1]

    def shards_connected(self) -> set[int]:
        """The shard ids some connected session holds."""
        return {s.shard[0] for s in self.sessions.values() if s.connected}

    async def _dispatch_to(self, session: GatewaySession, event: str, data: Any) -> None:
        session.seq += 1
        text = orjson.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data}).decode()
        session.log.append((session.seq, text))
        if session.ws is not None and not session.ws.closed:
            await session.ws.send_str(text)

    async def _send(self, ws: web.WebSocketResponse, op: int, data: Any) -> None:
        await ws.send_str(orjson.dumps({"op": op, "d": data, "s": None, "t": None}).decode())

    async def drop(self, code: int = 4000, *, resumable: bool = True) -> None:
        """Close the bot's socket; discord.py reconnects and RESUMEs (or re-IDENTIFYs)."""
        session = self.session
        if session is None or session.ws is None:
            raise RuntimeError("no connected gateway session to drop")
        session.invalid = not resumable
        await session.ws.close(code=code, message=b"dropped by the test")

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT, as Discord does before moving a session."""
        session = self.session
        if session is None or session.ws is None:
            raise RuntimeError("no connected gateway session")
        await self._send(session.ws, RECONNECT, None)

    async def close(self) -> None:
        """Close every socket (server shutdown)."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutting down")


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events on."""
    return (guild_id >> 22) % shard_count
