"""Async client for WisGate's OpenAI-compatible image API: the only code speaking HTTP to it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import aiohttp
import orjson
from pydantic import SecretStr

from bot.core.models import GeneratedImage, ImageRequest, ImageResult
from bot.core.profile_files import profile_for
from bot.wisgate.errors import (
    BadRequest,
    MalformedResponse,
    error_from_event,
    rejects_streaming,
)
from bot.wisgate.pacer import Pacer
from bot.wisgate.payload import edit_fields, edit_files, generation_body
from bot.wisgate.stream import (
    ParsedResult,
    PendingUrl,
    SseError,
    decode_event,
    iter_events,
    parse_chunks,
)
from bot.wisgate.transport import Transport

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
D = TypeVar("D")
StreamingMode = Literal["auto", "on", "off"]
PartialCallback = Callable[[GeneratedImage, int], Awaitable[None]]
DataFactory = Callable[[bool], Any]

# Payloads above this are parsed and decoded in a thread; below it the hop costs more than it saves.
_THREAD_THRESHOLD = 64 * 1024


class WisGateClient(Transport):
    """Calls /images/generations, /images/edits and /models with retries and typed errors."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr,
        timeout: float = 600.0,
        max_retries: int = 3,
        streaming: StreamingMode = "auto",
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        max_download_bytes: int = 60 * 1024 * 1024,
        download_schemes: frozenset[str] = frozenset({"https"}),
        partial_images: int = 2,
        decoder: Executor | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        if streaming not in ("auto", "on", "off"):
            raise ValueError("streaming must be 'auto', 'on' or 'off'")
        super().__init__(
            session,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_download_bytes=max_download_bytes,
            download_schemes=download_schemes,
            pacer=pacer,
        )
        self._streaming: StreamingMode = streaming
        self._stream_supported = True
        self._partial_images = partial_images
        # Where answers are parsed and decoded (bot.wisgate.decoder); None: asyncio's default pool.
        self._decoder = decoder

    @classmethod
    def from_settings(
        cls, session: aiohttp.ClientSession, settings: Settings, **overrides: Any
    ) -> WisGateClient:
        """Build a client from the bot's Settings (overrides win, e.g. backoff in tests)."""
        options: dict[str, Any] = {
            "base_url": settings.wisgate_base_url,
            "api_key": settings.wisgate_api_key,
            "timeout": settings.request_timeout,
            "max_retries": settings.max_retries,
            "streaming": settings.streaming_previews,
        }
        options.update(overrides)
        return cls(session, **options)

    def __repr__(self) -> str:
        return (
            f"WisGateClient(base_url={self._base_url!r}, streaming={self._streaming!r}, "
            f"max_retries={self._max_retries}, timeout={self._timeout})"
        )

    @property
    def streaming_supported(self) -> bool:
        """False once the gateway showed (in auto mode) that it does not stream."""
        return self._stream_supported

    async def generate(
        self, request: ImageRequest, *, on_partial: PartialCallback | None = None
    ) -> ImageResult:
        """Create images from a prompt (POST /images/generations)."""

        def make(stream: bool) -> bytes:
            body = generation_body(request, stream=stream, partial_images=self._partial_images)
            return orjson.dumps(body)

        return await self._images("/images/generations", make, request, on_partial)

    async def edit(
        self, request: ImageRequest, *, on_partial: PartialCallback | None = None
    ) -> ImageResult:
        """Edit or combine uploaded images (POST /images/edits, multipart)."""

        def make(stream: bool) -> aiohttp.FormData:
            # A FormData is consumed by sending it: every attempt builds a fresh one.
            form = aiohttp.FormData()
            fields = edit_fields(request, stream=stream, partial_images=self._partial_images)
            for name, value in fields:
                form.add_field(name, value)
            for name, image in edit_files(request):
                form.add_field(
                    name, image.data, filename=image.filename, content_type=image.content_type
                )
            return form

        return await self._images("/images/edits", make, request, on_partial)

    async def check(self) -> list[str]:
        """List the model ids the key may use (GET /models): a cheap authenticated call."""

        async def read(response: aiohttp.ClientResponse) -> list[str]:
            try:
                payload = orjson.loads(await response.read())
                return [str(item["id"]) for item in payload["data"]]
            except (orjson.JSONDecodeError, KeyError, TypeError) as error:
                raise MalformedResponse(f"unreadable model list ({type(error).__name__})") from None

        return await self._request("GET", "/models", None, read)

    # -- one image call -------------------------------------------------------------------

    def partial_images_for(self, request: ImageRequest) -> int:
        """Partial images a call for this request would stream, and be billed for (its hold
        must cover them): none unless it streams."""
        return self._partial_images if self._may_stream(request) else 0

    def _may_stream(self, request: ImageRequest) -> bool:
        # Several images in one stream would make usage per completed event ambiguous.
        if request.n != 1 or not profile_for(request).takes("partial_images"):
            return False
        return self._streaming == "on" or (self._streaming == "auto" and self._stream_supported)

    def _wants_stream(self, request: ImageRequest, on_partial: PartialCallback | None) -> bool:
        return on_partial is not None and self._may_stream(request)

    async def _images(
        self,
        path: str,
        make: DataFactory,
        request: ImageRequest,
        on_partial: PartialCallback | None,
    ) -> ImageResult:
        stream = self._wants_stream(request, on_partial)
        try:
            parsed = await self._image_request(path, make, stream, on_partial)
        except BadRequest as error:
            if not (stream and rejects_streaming(error)):
                raise
            self._streaming_unavailable("rejected the stream parameter")
            parsed = await self._image_request(path, make, False, None)
        return await self._finish(parsed)

    async def _image_request(
        self, path: str, make: DataFactory, stream: bool, on_partial: PartialCallback | None
    ) -> ParsedResult:
        async def read(response: aiohttp.ClientResponse) -> ParsedResult:
            if stream and response.content_type == "text/event-stream":
                return await self._read_stream(response, on_partial)
            # The chunks are joined in the worker thread, not here: a multi-megabyte join into
            # fresh memory took milliseconds of the event loop per answer (see parse_chunks).
            chunks = [chunk async for chunk in response.content.iter_any()]
            size = sum(len(chunk) for chunk in chunks)
            parsed = await self._off_loop(parse_chunks, chunks, size=size)
            if stream:
                self._streaming_unavailable("answered plain JSON to a stream request")
            return parsed

        accept = "text/event-stream, application/json" if stream else "application/json"
        return await self._request("POST", path, lambda: make(stream), read, accept=accept)

    async def _off_loop(self, func: Callable[[D], T], data: D, *, size: int) -> T:
        """Run CPU-heavy decoding in a thread when the payload is large enough to matter."""
        if size < _THREAD_THRESHOLD:
            return func(data)
        return await asyncio.get_running_loop().run_in_executor(self._decoder, func, data)

    def _streaming_unavailable(self, why: str) -> None:
        if self._streaming == "auto" and self._stream_supported:
            log.info("WisGate %s; streaming previews are off for this client", why)
            self._stream_supported = False

    async def _read_stream(
        self, response: aiohttp.ClientResponse, on_partial: PartialCallback | None
    ) -> ParsedResult:
        result = ParsedResult()
        events = iter_events(response.content.iter_any(), max_event_bytes=self._max_download)
        try:
            async for event in events:
                if event.data.strip() == b"[DONE]":
                    continue
                payload, image = await self._off_loop(
                    decode_event, event.data, size=len(event.data)
                )
                kind = str(payload.get("type") or event.event or "")
                if kind == "error" or "error" in payload:
                    raise error_from_event(payload, secret=self._secret())
                if kind.endswith(".partial_image") and image is not None:
                    await self._partial(on_partial, image, payload.get("partial_image_index"))
                elif kind.endswith(".completed") and image is not None:
                    result.items.append(image)
                    result.update(payload)
        except SseError as error:
            raise MalformedResponse(f"bad event stream: {error}") from None
        if not result.items:
            raise MalformedResponse("the event stream ended without a completed image")
        return result

    async def _partial(
        self, on_partial: PartialCallback | None, image: GeneratedImage, index: Any
    ) -> None:
        if on_partial is None:
            return
        try:
            await on_partial(image, index if isinstance(index, int) else 0)
        except Exception:
            # A failed preview must not cost the member the finished image.
            log.exception("partial image callback failed; continuing without this preview")

    async def _finish(self, parsed: ParsedResult) -> ImageResult:
        urls = [item for item in parsed.items if isinstance(item, PendingUrl)]
        downloaded = iter(await asyncio.gather(*(self._download(url) for url in urls)))
        images = tuple(
            item if isinstance(item, GeneratedImage) else next(downloaded) for item in parsed.items
        )
        return parsed.to_result(images)
