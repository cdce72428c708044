"""A loopback fake of WisGate's image API: JSON, multipart, SSE, real images, fault switches.

    async with FakeWisGate() as fake:
        client = WisGateClient(session, base_url=fake.base_url, api_key=SecretStr(TEST_API_KEY))
        fake.fail("rate_limit", times=2, retry_after="0")

Models: each fake has its own rules (`fake.rules`, the four built-in models to start with) and
serves every model it has rules for unless told otherwise. `GET /v1/models` lists what it serves;
a generation or edit naming any other model gets the API's 404 model_not_found.

        fake.add_model("gpt-image-2.5-flare", like="gpt-image-2", transparent=True)
        fake.serve("gpt-image-2", "gpt-image-2.5-flare")   # replace the served set
        fake.withdraw("gpt-image-2")                        # stop serving one
        fake.models_listing = "error"                       # or "malformed", "missing"

`bench/client.py` runs one in a subprocess with a precomputed answer (`fixed_body`).

Calls at once: `in_flight` counts the image calls being answered (from the request's arrival
until its handler ends, or its connection is lost), `max_in_flight` the most seen; with
`cap_in_flight(n)` each call that arrives with n already in flight is recorded in `over_cap`
(a client's cap on concurrent calls was broken: the test fails on it). Each recorded call's
`ended` says when it ended, so a test can count overlaps of its own (per member, per guild).
"""

from __future__ import annotations

import asyncio
import collections
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import pybase64
from aiohttp import web
from aiohttp.multipart import BodyPartReader

from tests.fakes import image_rules
from tests.fakes.image_rules import FilePart, ModelRegistry, RuleViolation
from tests.fakes.images import make_image

TEST_API_KEY = "sk-test-0123456789abcdef"
FaultKind = Literal[
    "rate_limit", "server_error", "insufficient_quota", "drop", "slow", "reset", "malformed_json",
    "empty_data", "moderation_blocked", "unknown_model", "url", "reject_stream", "ignore_stream",
    "stream_error",
]  # fmt: skip
DownloadMode = Literal["normal", "chunked", "endless"]
# How GET /v1/models answers: the served models, or a listing the client cannot use.
ModelsListing = Literal["ok", "error", "malformed", "missing", "shapeless"]

# Error answers: status, message, type, code, param. The first three come before validation.
_ERRORS: dict[str, tuple[int, str, str, str | None, str | None]] = {
    "rate_limit": (429, "Rate limit reached.", "requests", "rate_limit_exceeded", None),
    "insufficient_quota": (
        429, "You exceeded your current quota.", "insufficient_quota", "insufficient_quota", None
    ),
    "server_error": (500, "The server had an error.", "server_error", None, None),
    "moderation_blocked": (
        400, "Rejected by the safety system.", "image_generation_user_error",
        "moderation_blocked", None,
    ),
    "unknown_model": (
        404, "The model does not exist or you do not have access to it.",
        "invalid_request_error", "model_not_found", None,
    ),
    "reject_stream": (
        400, "Unknown parameter: 'stream'.", "invalid_request_error", "unknown_parameter", "stream"
    ),
}  # fmt: skip
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_EARLY = frozenset({"rate_limit", "insufficient_quota", "server_error", "drop", "slow"})


@dataclass(frozen=True)
class Fault:
    """One queued misbehaviour; the next API request consumes it."""

    kind: FaultKind
    status: int = 0
    retry_after: str | None = None
    delay: float = 0.0
    download: DownloadMode = "normal"
    prompt_contains: str | None = None  # only for requests whose prompt contains this


@dataclass
class RecordedRequest:
    """What the fake received: path, headers without Authorization, and the parsed body."""

    method: str
    path: str
    headers: dict[str, str]
    time: float
    authorized: bool
    json: dict[str, Any] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    files: list[FilePart] = field(default_factory=list)
    ended: float | None = None  # monotonic time its handler ended (image calls only)


@dataclass
class DownloadRecord:
    """One GET of an image URL the fake handed out."""

    path: str
    authorization_sent: bool
    bytes_sent: int = 0
    completed: bool = False


class FakeWisGate:
    """An aiohttp server on 127.0.0.1 speaking the image API, with switchable faults.

    `fail(kind, times=N)` queues a fault for each of the next N API requests:
    rate_limit (429; a Retry-After header if `retry_after`), server_error (`status`, 500),
    insufficient_quota (429), drop (close before the status line), slow (`delay` s, then
    answer), reset (abort mid-body / mid-stream), malformed_json, empty_data,
    moderation_blocked (400), unknown_model (404), url (answer `url` items; `download` is
    normal, chunked or endless), reject_stream (400 unknown_parameter on `stream`),
    ignore_stream (plain JSON to a stream request), stream_error (an `error` event).
    With `prompt_contains`, only requests whose prompt contains that text take the fault (the
    others pass it by), so concurrent jobs each get their own faults, in order.
    Queued faults are for image requests: `GET /v1/models` never takes one.

    Models: `rules` (a ModelRegistry of its own) says what each model accepts; `served` (all
    models with rules unless `serve`d otherwise) is what `GET /v1/models` lists and what
    generations and edits may name; any other model gets 404 model_not_found before any other
    rule. `add_model(name, like=..., **changes)` derives rules and serves the model;
    `serve(*names)` replaces the served set (names without rules are listed, but refused like
    unknown models); `withdraw(*names)` stops serving some.
    `models_listing` makes the listing unusable: "error" (500), "malformed" (200, cut-off JSON),
    "missing" (404, as if the gateway had no such route), "shapeless" (200 JSON without `data`).
    Records: `requests` (image calls), `listings` (`GET /v1/models`), `downloads` (image URLs).
    """

    def __init__(
        self,
        *,
        api_key: str = TEST_API_KEY,
        noisy: bool = True,
        latency: float = 0.0,
        fixed_body: bytes | None = None,
        served: Iterable[str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.noisy = noisy  # noisy images compress like photos: a 1024x1024 PNG is ~2 MB
        self.latency = latency
        self.fixed_body = fixed_body  # served to every generation as is (benchmarks)
        self.requests: list[RecordedRequest] = []  # image calls (generations, edits)
        self.listings: list[RecordedRequest] = []  # GET /v1/models, apart: the bot lists often
        self.downloads: list[DownloadRecord] = []
        self.rules: ModelRegistry = image_rules.DEFAULT_REGISTRY.copy()
        self.models_listing: ModelsListing = "ok"
        # rate_limit(): images allowed per window, as a key's images-per-minute limit is.
        self.window_images: int | None = None
        self.window = 60.0
        self.rate_limited = 0  # 429 rate-limit answers the window gave
        self.window_log: list[tuple[float, int]] = []  # (time, images) of each admitted call
        self.windows_filled = 0  # windows whose whole allowance was used: the limit bound
        self._window_start = 0.0
        self._window_used = 0
        self._served: set[str] | None = None if served is None else set(served)
        self.port = 0
        self._faults: collections.deque[Fault] = collections.deque()
        self._files: dict[str, tuple[bytes, DownloadMode]] = {}
        self._b64: dict[tuple[int, int, str, bool, bool, int], str] = {}
        self._runner: web.AppRunner | None = None
        self.in_flight = 0  # image calls being answered now
        self.max_in_flight = 0
        self.in_flight_cap: int | None = None
        self.over_cap: list[str] = []  # one line per call that arrived past the cap

    @property
    def base_url(self) -> str:
        """The API base, like http://127.0.0.1:PORT/v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> FakeWisGate:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (a random free port unless one is given)."""
        app = web.Application(client_max_size=1024**3)
        app.on_response_prepare.append(self._rate_headers)
        app.router.add_post("/v1/images/generations", self._counted(self._generations))
        app.router.add_post("/v1/images/edits", self._counted(self._edits))
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/files/{name}", self._file)
        # Cancel handlers whose client went away, so a slow answer does not outlive its test.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def cap_in_flight(self, calls: int) -> None:
        """Record (in `over_cap`) every image call arriving while `calls` are in flight."""
        self.in_flight_cap = calls

    def _counted(self, handler: Handler) -> Handler:
        """The handler, counted in `in_flight` while it runs (a lost client cancels it)."""

        async def counted(request: web.Request) -> web.StreamResponse:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            cap = self.in_flight_cap
            if cap is not None and self.in_flight > cap:
                self.over_cap.append(
                    f"{self.in_flight} image calls at once (cap {cap}) at {time.monotonic():.3f}"
                )
            try:
                return await handler(request)
            finally:
                self.in_flight -= 1
                record = request.get(_RECORD)
                if record is not None:
                    record.ended = time.monotonic()

        return counted

    def rate_limit(self, images: int, window: float) -> None:
        """Allow at most `images` images per `window` seconds (fixed windows from the first
        call); beyond, 429 rate_limit_exceeded with retry-after-ms and x-ratelimit-* headers,
        which every image answer also carries."""
        self.window_images, self.window = images, window
        self._window_start, self._window_used = 0.0, 0

    def _window_left(self) -> tuple[int, float]:
        """Images left in the current window, and seconds until the next one begins."""
        now = time.monotonic()
        if self._window_start == 0.0 or now >= self._window_start + self.window:
            self._window_start, self._window_used = now, 0
        assert self.window_images is not None
        left = self.window_images - self._window_used
        return left, self._window_start + self.window - now

    def _admit_to_window(self, record: RecordedRequest) -> web.Response | None:
        """Count the call's images in the window, or refuse it with a rate-limit 429."""
        if self.window_images is None:
            return None
        raw = (record.json or {}).get("n") or record.fields.get("n") or 1
        images = int(raw)
        left, reset = self._window_left()
        if images > left:
            self.rate_limited += 1
            headers = {"retry-after-ms": str(int(reset * 1000) + 1)}
            status, message, kind, code, param = _ERRORS["rate_limit"]
            return _error(status, message, kind, code, param, headers)
        self._window_used += images
        self.windows_filled += self._window_used == self.window_images
        self.window_log.append((time.monotonic(), images))
        return None

    async def _rate_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Every image answer says where the window stands, as OpenAI's do."""
        if self.window_images is None or not request.path.startswith("/v1/images/"):
            return
        left, reset = self._window_left()
        response.headers["x-ratelimit-limit-images"] = str(self.window_images)
        response.headers["x-ratelimit-remaining-images"] = str(max(0, left))
        response.headers["x-ratelimit-reset-images"] = f"{reset:.3f}s"

    def fail(
        self,
        kind: FaultKind,
        times: int = 1,
        *,
        status: int = 0,
        retry_after: str | None = None,
        delay: float = 0.0,
        download: DownloadMode = "normal",
        prompt_contains: str | None = None,
    ) -> None:
        """Queue a fault (see the class docstring) for each of the next `times` API requests."""
        fault = Fault(kind, status, retry_after, delay, download, prompt_contains)
        self._faults.extend([fault] * times)

    @property
    def served(self) -> frozenset[str]:
        """The models this fake serves: listed by GET /v1/models, accepted by the image API."""
        return self.rules.names if self._served is None else frozenset(self._served)

    def serve(self, *names: str) -> None:
        """Serve exactly these models from now on (none, if no names)."""
        self._served = set(names)

    def withdraw(self, *names: str) -> None:
        """Stop serving these models (their rules stay, for when they come back)."""
        self._served = set(self.served) - set(names)

    def add_model(self, name: str, *, like: str, **changes: Any) -> image_rules._Rules:
        """Derive rules for `name` from `like` (see ModelRegistry.derive), serve it, return them."""
        rules = self.rules.derive(name, like=like, **changes)
        if self._served is not None:
            self._served.add(name)
        return rules

    def _take_fault(self, record: RecordedRequest) -> Fault | None:
        """The first queued fault meant for this request (by its prompt), removed from the queue."""
        prompt = str((record.json or {}).get("prompt") or record.fields.get("prompt") or "")
        for index, fault in enumerate(self._faults):
            if fault.prompt_contains is None or fault.prompt_contains in prompt:
                del self._faults[index]
                return fault
        return None

    # -- handlers -------------------------------------------------------------------------

    async def _generations(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        record = self._record(request)
        if self.fixed_body is None:
            record.json = orjson.loads(raw)
        refused, fault = await self._gate(request, record)
        if refused is not None:
            return refused
        if self.fixed_body is not None:
            return web.Response(body=self.fixed_body, content_type="application/json")
        assert record.json is not None
        try:
            self._check_served(record.json)
            self.rules.check_generation(record.json)
        except RuleViolation as violation:
            return _json(orjson.dumps(violation.body()), violation.status)
        return await self._answer(request, fault, record.json, "image_generation", 0)

    async def _edits(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.filename is None:
                record.fields[part.name or ""] = data.decode("utf-8")
            else:
                content_type = part.headers.get("Content-Type")
                record.files.append(FilePart(part.name or "", part.filename, content_type, data))
        refused, fault = await self._gate(request, record)
        if refused is not None:
            return refused
        try:
            self._check_served(record.fields)
            self.rules.check_edit(record.fields, record.files)
        except RuleViolation as violation:
            return _json(orjson.dumps(violation.body()), violation.status)
        return await self._answer(request, fault, record.fields, "image_edit", len(record.files))

    def _check_served(self, params: Mapping[str, Any]) -> None:
        model = params.get("model")
        if isinstance(model, str) and model not in self.served:
            raise image_rules.model_not_found(model)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request, into=self.listings)
        refused, _ = await self._gate(request, record, faults=False)
        if refused is not None:
            return refused
        if self.models_listing == "error":
            return _error(*_ERRORS["server_error"])
        if self.models_listing == "malformed":
            return _json(b'{"object": "list", "data": [{"id": "gpt-im', 200)
        if self.models_listing == "missing":
            message = "Invalid URL (GET /v1/models)"
            return _error(404, message, "invalid_request_error", None)
        if self.models_listing == "shapeless":
            return _json(orjson.dumps({"object": "list", "models": sorted(self.served)}), 200)
        models = [
            {"id": name, "object": "model", "created": 0, "owned_by": "wisgate"}
            for name in sorted(self.served)
        ]
        return _json(orjson.dumps({"object": "list", "data": models}), 200)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        record = DownloadRecord(request.path, "Authorization" in request.headers)
        self.downloads.append(record)
        if request.match_info["name"] not in self._files:
            return web.Response(status=404)
        data, mode = self._files[request.match_info["name"]]
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        if mode == "normal":
            response.content_length = len(data)
        await response.prepare(request)
        # `endless` keeps sending (up to 256 MiB) to show that the client stops reading early.
        limit = 256 * 1024**2 if mode == "endless" else len(data)
        while record.bytes_sent < limit:
            piece = data[record.bytes_sent % len(data) :][: 64 * 1024]
            await response.write(piece)
            record.bytes_sent += len(piece)
        await response.write_eof()
        record.completed = True
        return response

    def _record(
        self, request: web.Request, into: list[RecordedRequest] | None = None
    ) -> RecordedRequest:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        authorized = request.headers.get("Authorization") == f"Bearer {self.api_key}"
        record = RecordedRequest(
            request.method, request.path, headers, time.monotonic(), authorized
        )
        (self.requests if into is None else into).append(record)
        request[_RECORD] = record  # for _counted: when the call ended
        return record

    async def _gate(
        self, request: web.Request, record: RecordedRequest, *, faults: bool = True
    ) -> tuple[web.StreamResponse | None, Fault | None]:
        """Authentication, latency and (unless `faults` is false) the faults before validation."""
        if not record.authorized:
            # A careless gateway echoes the key it got; the client must not pass that on.
            presented = request.headers.get("Authorization", "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {presented}."
            return _error(401, message, "invalid_request_error", "invalid_api_key"), None
        refused = self._admit_to_window(record) if faults else None
        if refused is not None:
            return refused, None
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self._take_fault(record) if faults else None
        if fault is None or fault.kind not in _EARLY:
            return None, fault
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            return None, None
        if fault.kind == "drop":
            return await self._abort(request, pause=0.0), None
        status, message, kind, code, param = _ERRORS[fault.kind]
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return _error(fault.status or status, message, kind, code, param, headers), None

    async def _answer(
        self,
        request: web.Request,
        fault: Fault | None,
        body: Mapping[str, Any],
        prefix: str,
        inputs: int,
    ) -> web.StreamResponse:
        kind = fault.kind if fault is not None else None
        stream = str(body.get("stream", "")).lower() == "true"
        if kind in ("moderation_blocked", "unknown_model") or (kind == "reject_stream" and stream):
            return _error(*_ERRORS[str(kind)])
        if kind == "malformed_json":
            return _json(b'{"created": 1, "data": [{"b64_json": "iVBO', 200)
        payload = self._payload(body, inputs, fault)
        if kind == "empty_data":
            payload["data"] = []
        if stream and kind != "ignore_stream":
            return await self._stream(request, body, payload, prefix, kind)
        encoded = orjson.dumps(payload)
        if kind != "reset":
            return _json(encoded, 200)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(encoded)
        await response.prepare(request)
        await response.write(encoded[: len(encoded) // 2])
        return await self._abort(request)

    def _payload(self, body: Mapping[str, Any], inputs: int, fault: Fault | None) -> dict[str, Any]:
        model = str(body.get("model", ""))
        gpt = model.startswith("gpt-image")
        width, height = _size(body.get("size"))
        fmt = str(body.get("output_format") or "png") if gpt else "png"
        alpha = body.get("background") == "transparent" and fmt != "jpeg"
        # dall-e answers URLs unless asked for b64_json; the url fault forces them for anyone.
        urls = (fault is not None and fault.kind == "url") or (
            not gpt and body.get("response_format", "url") == "url"
        )
        items: list[dict[str, Any]] = []
        for index in range(int(body.get("n", 1))):
            # Each image of a batch differs (its colour), as real ones do: a test can tell
            # which one the bot sent back.
            b64 = self.image_b64(width, height, fmt, alpha=alpha, variant=index)
            download = fault.download if fault is not None else "normal"
            item = {"url": self._publish(b64, fmt, download)} if urls else {"b64_json": b64}
            if model == "dall-e-3":
                item["revised_prompt"] = f"A detailed rendering of: {body.get('prompt', '')}"
            items.append(item)
        payload: dict[str, Any] = {"created": int(time.time()), "data": items}
        if gpt:
            payload.update(size=f"{width}x{height}", quality=body.get("quality") or "high")
            payload.update(background="transparent" if alpha else "opaque", output_format=fmt)
            payload["usage"] = usage_for(str(body.get("prompt", "")), inputs, len(items))
        return payload

    def image_b64(
        self,
        width: int,
        height: int,
        fmt: str,
        *,
        alpha: bool = False,
        partial: int = -1,
        variant: int = 0,
    ) -> str:
        """Base64 of a real image, cached per size, format and variant (the image's place in
        its batch); partial images are flat."""
        noisy = self.noisy and partial < 0
        key = (width, height, fmt, alpha, noisy, partial, variant)
        if key not in self._b64:
            seed = partial + 1 + (1000 + variant if variant else 0)
            data = make_image(width, height, fmt, alpha=alpha, noisy=noisy, seed=seed)
            self._b64[key] = pybase64.b64encode(data).decode("ascii")
        return self._b64[key]

    def _publish(self, b64: str, fmt: str, download: DownloadMode) -> str:
        name = f"img{len(self._files)}.{fmt}"
        self._files[name] = (pybase64.b64decode(b64), download)
        return f"http://127.0.0.1:{self.port}/files/{name}"

    async def _stream(
        self,
        request: web.Request,
        body: Mapping[str, Any],
        payload: dict[str, Any],
        prefix: str,
        fault: str | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        echo = {k: payload.get(k) for k in ("size", "quality", "background", "output_format")}
        echo["created_at"] = payload["created"]
        width, height = _size(body.get("size"))
        for index in range(int(body.get("partial_images", 0))):
            partial = self.image_b64(width, height, echo["output_format"] or "png", partial=index)
            event = {"type": f"{prefix}.partial_image", "b64_json": partial, **echo}
            await _send_event(response, {**event, "partial_image_index": index})
            if fault == "reset":
                return await self._abort(request)
            if fault == "stream_error":
                blocked = {"message": "Blocked by the safety system.", "code": "moderation_blocked"}
                await _send_event(response, {"type": "error", "error": blocked})
                await response.write_eof()
                return response
        for item in payload["data"]:
            event = {"type": f"{prefix}.completed", "b64_json": item.get("b64_json"), **echo}
            await _send_event(response, {**event, "usage": payload.get("usage")})
        await response.write_eof()
        return response

    async def _abort(self, request: web.Request, pause: float = 0.05) -> web.StreamResponse:
        await asyncio.sleep(pause)  # let the client see what was sent so far arrive
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError  # nothing more can be sent on this connection


_RECORD = web.RequestKey("fake_wisgate_record", RecordedRequest)  # its RecordedRequest


def usage_for(prompt: str, inputs: int, images: int) -> dict[str, Any]:
    """Deterministic token usage: tests can compute what the client should report."""
    text, image, output = max(1, len(prompt) // 4), 323 * inputs, 1056 * images
    details = {"text_tokens": text, "image_tokens": image}
    return {"input_tokens": text + image, "input_tokens_details": details,
            "output_tokens": output, "total_tokens": text + image + output}  # fmt: skip


def _size(value: Any) -> tuple[int, int]:
    if not isinstance(value, str) or value == "auto" or "x" not in value:
        return 1024, 1024
    width, height = value.split("x", 1)
    return int(width), int(height)


def _json(body: bytes, status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _error(
    status: int,
    message: str,
    kind: str,
    code: str | None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    error = {"message": message, "type": kind, "param": param, "code": code}
    return _json(orjson.dumps({"error": error}), status, headers)


async def _send_event(response: web.StreamResponse, event: dict[str, Any]) -> None:
    await response.write(b"event: " + event["type"].encode() + b"\ndata: ")
    await response.write(orjson.dumps(event) + b"\n\n")
