"""The REST plumbing of the fake: recording, injected faults, auth and schema checks, errors."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from tests.fakes.discord import spec as discord_spec
from tests.fakes.discord.model import RecordedRequest, UploadedFile, Violation
from tests.fakes.discord.state import FakeState

API_PREFIX = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RECORD_KEY = web.RequestKey("record", RecordedRequest)
# Discord's own messages for the codes the fake answers with.
ERROR_MESSAGES = {
    0: "Not Found",
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10007: "Unknown Member",
    10008: "Unknown Message",
    10013: "Unknown User",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    10063: "Unknown application command",
    40005: "Request entity too large",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50006: "Cannot send an empty message",
    50007: "Cannot send messages to this user",
    50005: "Cannot edit a message authored by another user",
    50013: "Missing Permissions",
    50035: "Invalid Form Body",
    50109: "The request body contains invalid JSON.",
}


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with `Content-Type: application/json` exactly: discord.py reads nothing else as JSON."""
    response = web.Response(body=orjson.dumps(data), status=status, headers=headers)
    response.content_type = "application/json"
    return response


def error(status: int, code: int, errors: dict[str, Any] | None = None) -> web.Response:
    """A Discord error answer: `{"code", "message", "errors"?}`."""
    body: dict[str, Any] = {"code": code, "message": ERROR_MESSAGES.get(code, "Error")}
    if errors:
        body["errors"] = errors
    return json_response(body, status)


def form_error(field_name: str, code: str, message: str) -> web.Response:
    """400 / 50035 Invalid Form Body, pointing at one field."""
    return error(400, 50035, {field_name: {"_errors": [{"code": code, "message": message}]}})


@dataclass
class FaultRule:
    """Answer the next `count` requests matching `method` and `path` (a regex) with `status`."""

    method: str
    path: re.Pattern[str]
    status: int
    code: int | None = None
    retry_after: float | None = None
    is_global: bool = False
    count: int = 1
    uploads_only: bool = False  # only requests carrying files (a 413 answers uploads alone)
    hits: list[RecordedRequest] = field(default_factory=list)

    def matches(self, record: RecordedRequest) -> bool:
        """Whether this rule applies to the request."""
        method_ok = self.method in ("*", record.method)
        files_ok = bool(record.files) or not self.uploads_only
        return self.count > 0 and method_ok and files_ok and bool(self.path.search(record.path))

    def response(self) -> web.Response:
        """The injected answer; 429s carry what discord.py reads (body + headers + Via)."""
        if self.status != 429:
            code = self.code if self.code is not None else 0
            return (
                error(self.status, code)
                if code
                else json_response({"message": "fault", "code": 0}, self.status)
            )
        retry = 0.05 if self.retry_after is None else self.retry_after
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry,
            "global": self.is_global,
        }
        if self.code is not None:
            body["code"] = self.code
        headers = {
            # Without Via, discord.py takes a 429 for a Cloudflare ban and gives up.
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry:.3f}",
            "X-RateLimit-Bucket": "fakebucket",
            "X-RateLimit-Scope": "global" if self.is_global else "user",
        }
        if self.is_global:
            headers["X-RateLimit-Global"] = "true"
        return json_response(body, 429, headers)


def make_middleware(state: FakeState, faults: list[FaultRule]) -> Middleware:
    """The middleware every /api/v10 request goes through, in Discord's order of checks."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        record = await _record(state, request)
        request[RECORD_KEY] = record
        try:
            refusal = _fault(faults, record) or _auth(state, request, record)
            if refusal is None and state.schema_check == "inline":
                refusal = _check_schema(state, record)
            elif refusal is None:
                state.unchecked.append(record)  # the same requests inline would check
            response = refusal or await handler(request)
            record.status = response.status
            if isinstance(response, web.Response) and response.content_type == "application/json":
                record.response = (
                    orjson.loads(response.body) if isinstance(response.body, bytes) else None
                )
            return response
        finally:
            await state.notify()

    return middleware


async def _record(state: FakeState, request: web.Request) -> RecordedRequest:
    body: Any = None
    files: list[UploadedFile] = []
    if request.content_type.startswith("multipart/"):
        body, files = await _read_multipart(request)
    elif request.can_read_body:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = _BadJson(raw)
    record = RecordedRequest(
        index=len(state.requests),
        method=request.method,
        path=request.path[len(API_PREFIX) :],
        query=dict(request.query),
        json=body,
        files=files,
        at=state.now(),
        headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
        interaction_id=_interaction_of(state, request),
    )
    state.requests.append(record)
    if record.interaction_id is not None:
        state.requests_by_interaction.setdefault(record.interaction_id, []).append(record)
    return record


class _BadJson(bytes):
    """A body that is not JSON (kept so the schema check can answer 50109)."""


async def _read_multipart(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    reader = await request.multipart()
    payload: Any = None
    files: list[UploadedFile] = []
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader):
            continue
        data = bytes(await part.read(decode=True))
        if part.filename is None and part.name == "payload_json":
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                payload = _BadJson(data)
            continue
        content_type = part.headers.get("Content-Type", "application/octet-stream")
        files.append(UploadedFile(part.name or "", part.filename or "", content_type, data))
    return payload, files


def _interaction_of(state: FakeState, request: web.Request) -> int | None:
    """The interaction a request belongs to: by id for callbacks, by token for webhooks."""
    info = request.match_info
    if "interaction_id" in info:
        try:
            return int(info["interaction_id"])
        except ValueError:
            return None
    token = info.get("token")
    interaction = state.tokens.get(token) if token else None
    return interaction.id if interaction else None


def _fault(faults: list[FaultRule], record: RecordedRequest) -> web.Response | None:
    for rule in faults:
        if rule.matches(record):
            rule.count -= 1
            rule.hits.append(record)
            return rule.response()
    return None


def _auth(state: FakeState, request: web.Request, record: RecordedRequest) -> web.Response | None:
    # Interaction callbacks and webhooks are authenticated by their token, not the bot's.
    if state.token is None or record.path.startswith(("/interactions/", "/webhooks/")):
        return None
    if request.headers.get("Authorization") != f"Bot {state.token}":
        return json_response({"message": "401: Unauthorized", "code": 0}, 401)
    return None


def check_later(state: FakeState) -> list[Violation]:
    """Check the bodies recorded unchecked (schema_check "later"); return the new violations."""
    before = len(state.violations)
    records, state.unchecked = state.unchecked, []
    for record in records:
        _check_schema(state, record)
    return state.violations[before:]


def _check_schema(state: FakeState, record: RecordedRequest) -> web.Response | None:
    if isinstance(record.json, _BadJson):
        state.violations.append(Violation(record, "json", ["body is not valid JSON"]))
        return error(400, 50109)
    operation = discord_spec.find_operation(record.method, record.path)
    if operation is None:
        return None
    problems = operation.validate(record.json)
    if not problems:
        return None
    state.violations.append(Violation(record, operation.operation_id, problems))
    return error(400, 50035, discord_spec.error_fields(problems))


def body_of(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (or multipart payload_json); {} when there is none."""
    body = request[RECORD_KEY].json
    return body if isinstance(body, dict) else {}


def files_of(request: web.Request) -> list[UploadedFile]:
    """The request's uploaded files, in part order."""
    return request[RECORD_KEY].files
