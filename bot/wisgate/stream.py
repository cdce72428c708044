"""Decoding what the image API sends: server-sent events, JSON results and image bytes.

aiohttp's `readline()` refuses lines longer than its read buffer, and one image event is a
single line of several megabytes of base64, so the client feeds raw chunks to SseParser.
Apart from iter_events everything here is synchronous; the client runs the heavy parts in a thread.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import pybase64

from bot.core.models import GeneratedImage, ImageFormat, ImageResult, Usage
from bot.wisgate.errors import MalformedResponse


class SseError(ValueError):
    """The stream is not valid server-sent events (or an event is larger than allowed)."""


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event: its `event:` name (if any) and its `data:` lines joined by \\n."""

    event: str | None
    data: bytes = field(repr=False)


class SseParser:
    """Incremental parser: feed() chunks as they arrive, finish() at end of stream."""

    def __init__(self, *, max_event_bytes: int) -> None:
        self._max = max_event_bytes
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer known to hold no newline: never rescan them
        self._event: str | None = None
        self._data: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Consume a chunk; return the events it completed."""
        self._buffer += chunk
        events: list[SseEvent] = []
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline < 0:
                self._scanned = len(self._buffer)
                if self._size + self._scanned > self._max:
                    raise SseError(f"event larger than {self._max} bytes")
                return events
            line = bytes(self._buffer[:newline])
            # Deleting a prefix of a bytearray is cheap in CPython (it moves a start pointer).
            del self._buffer[: newline + 1]
            self._scanned = 0
            event = self._line(line.removesuffix(b"\r"))
            if event is not None:
                events.append(event)

    def finish(self) -> list[SseEvent]:
        """Flush a last line and event that the server did not terminate with a blank line."""
        events: list[SseEvent] = []
        if self._buffer:
            line = bytes(self._buffer).removesuffix(b"\r")
            self._buffer.clear()
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._line(b"")
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: bytes) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(b":"):
            return None  # a comment / keep-alive
        name, _, value = line.partition(b":")
        value = value.removeprefix(b" ")
        if name == b"data":
            self._data.append(value)
            self._size += len(value)
            if self._size > self._max:
                raise SseError(f"event larger than {self._max} bytes")
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        return None  # `id` and `retry` mean nothing for a one-shot request

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._event = None
            return None
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        event = SseEvent(self._event, data)
        self._event, self._data, self._size = None, [], 0
        return event


async def iter_events(
    chunks: AsyncIterable[bytes], *, max_event_bytes: int
) -> AsyncIterator[SseEvent]:
    """Yield the events of a stream of byte chunks (for example `response.content.iter_any()`)."""
    parser = SseParser(max_event_bytes=max_event_bytes)
    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield event
    for event in parser.finish():
        yield event


# -- what the API sends back: JSON results, stream events, image bytes ----------------------


@dataclass(frozen=True, slots=True)
class PendingUrl:
    """An image the API answered as a URL: the client still has to download it."""

    url: str = field(repr=False)  # signed URLs are credentials of a sort: keep them out of logs
    revised_prompt: str | None = None


@dataclass(slots=True)
class ParsedResult:
    """A decoded answer whose URL items (if any) are not downloaded yet."""

    items: list[GeneratedImage | PendingUrl] = field(default_factory=list)
    usage: Usage | None = None
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    output_format: ImageFormat | None = None

    def update(self, payload: Mapping[str, Any]) -> None:
        """Take usage and the echoed settings from a response body or a completed event."""
        self.usage = parse_usage(payload.get("usage")) or self.usage
        self.size = _str(payload.get("size")) or self.size
        self.quality = _str(payload.get("quality")) or self.quality
        self.background = _str(payload.get("background")) or self.background
        self.output_format = _format(payload.get("output_format")) or self.output_format

    def to_result(self, images: tuple[GeneratedImage, ...]) -> ImageResult:
        """The final result once every item is an image."""
        return ImageResult(
            images=images,
            usage=self.usage,
            size=self.size,
            quality=self.quality,
            background=self.background,
            output_format=self.output_format,
        )


def parse_chunks(chunks: list[bytes]) -> ParsedResult:
    """Join a JSON images response read in chunks, then parse it (CPU-heavy: run in a thread).

    The join is here, in the thread: bytes.join copies without holding the GIL beyond 1 MiB,
    and a first copy into fresh memory costs page faults, which held up the event loop.
    """
    return parse_result(b"".join(chunks))


def parse_result(body: bytes) -> ParsedResult:
    """Parse a JSON images response and decode its base64 images (CPU-heavy: run in a thread)."""
    payload = _json_object(body, "the answer is not valid JSON")
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise MalformedResponse("the answer holds no images", code="empty_data")
    result = ParsedResult()
    result.update(payload)
    for item in data:
        if not isinstance(item, dict):
            raise MalformedResponse("an image entry is not an object")
        revised = _str(item.get("revised_prompt"))
        b64, url = item.get("b64_json"), item.get("url")
        if isinstance(b64, str) and b64:
            result.items.append(decode_image(b64, revised))
        elif isinstance(url, str) and url:
            result.items.append(PendingUrl(url, revised))
        else:
            raise MalformedResponse("an image entry has neither b64_json nor url")
    return result


def decode_event(data: bytes) -> tuple[dict[str, Any], GeneratedImage | None]:
    """Parse one stream event; its image (if any) is decoded and removed from the dict."""
    payload = _json_object(data, "a stream event is not valid JSON")
    b64 = payload.pop("b64_json", None)
    image = decode_image(b64, None) if isinstance(b64, str) and b64 else None
    return payload, image


def decode_image(b64: str, revised_prompt: str | None) -> GeneratedImage:
    """Decode strict base64 and identify the image inside."""
    try:
        data = pybase64.b64decode(b64, validate=True)
    except (ValueError, TypeError):
        raise MalformedResponse("image data is not valid base64", code="bad_base64") from None
    return sniff_image(data, revised_prompt)


def sniff_image(data: bytes, revised_prompt: str | None) -> GeneratedImage:
    """Identify PNG/JPEG/WebP bytes and read their size from the header (no full decode)."""
    width: int | None = None
    height: int | None = None
    fmt: ImageFormat
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        fmt = "png"
        if data[12:16] == b"IHDR" and len(data) >= 24:
            width, height = struct.unpack(">II", data[16:24])
    elif data.startswith(b"\xff\xd8\xff"):
        fmt = "jpeg"
        width, height = _jpeg_size(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        fmt = "webp"
        width, height = _webp_size(data)
    else:
        raise MalformedResponse("the image bytes are not PNG, JPEG or WebP", code="not_an_image")
    return GeneratedImage(data, fmt, width, height, revised_prompt)


def _jpeg_size(data: bytes) -> tuple[int | None, int | None]:
    index = 2
    while index + 9 <= len(data):
        if data[index] != 0xFF:
            break
        marker = data[index + 1]
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:
            index += 1 if marker == 0xFF else 2  # fill byte, or a marker without a length
            continue
        # Start-of-frame markers (not DHT C4, JPG C8, DAC CC) carry height then width.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + int.from_bytes(data[index + 2 : index + 4], "big")
    return None, None


def _webp_size(data: bytes) -> tuple[int | None, int | None]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and len(data) >= 30:
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        return width, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None, None


def parse_usage(raw: Any) -> Usage | None:
    """Token usage of GPT image models; None when the answer has none (dall-e)."""
    if not isinstance(raw, dict):
        return None
    details = raw.get("input_tokens_details")
    if isinstance(details, dict):
        text, image = _int(details.get("text_tokens")), _int(details.get("image_tokens"))
    else:
        # No breakdown: count the input as text, the cheaper kind, so members are not overcharged.
        text, image = _int(raw.get("input_tokens")), 0
    return Usage(text, image, _int(raw.get("output_tokens")))


def _json_object(data: bytes, complaint: str) -> dict[str, Any]:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise MalformedResponse(complaint, code="bad_json") from None
    if not isinstance(payload, dict):
        raise MalformedResponse(complaint, code="bad_json")
    return payload


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


_FORMATS: dict[str, ImageFormat] = {"png": "png", "jpeg": "jpeg", "webp": "webp"}


def _format(value: Any) -> ImageFormat | None:
    return _FORMATS.get(value) if isinstance(value, str) else None
