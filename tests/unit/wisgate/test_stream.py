"""Streaming previews (SSE), the auto-mode fallbacks, and images answered as URLs."""

from __future__ import annotations

import io
import random

import aiohttp
import pybase64
import pytest
from PIL import Image
from pydantic import SecretStr

from bot.core.models import GeneratedImage, ImageRequest, InputImage
from bot.wisgate.client import StreamingMode, WisGateClient
from bot.wisgate.errors import ContentRejected, MalformedResponse
from bot.wisgate.stream import SseError, SseParser
from tests.fakes.images import make_image
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate

GPT = ImageRequest("generate", "gpt-image-1", "a paper boat")


class Previews:
    """Collects what the client hands to on_partial."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, GeneratedImage]] = []

    async def __call__(self, image: GeneratedImage, index: int) -> None:
        self.seen.append((index, image))


def _client(
    session: aiohttp.ClientSession,
    fake: FakeWisGate,
    streaming: StreamingMode = "auto",
    **kw: object,
) -> WisGateClient:
    return WisGateClient(
        session,
        base_url=fake.base_url,
        api_key=SecretStr(TEST_API_KEY),
        streaming=streaming,
        backoff_base=0.001,
        **kw,  # type: ignore[arg-type]
    )


def _streamed(fake: FakeWisGate) -> list[bool]:
    return [
        bool(r.json and r.json.get("stream")) or r.fields.get("stream") == "true"
        for r in fake.requests
    ]


async def test_partial_images_reach_the_callback(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    previews = Previews()

    result = await wisgate_client.generate(GPT, on_partial=previews)

    assert [index for index, _ in previews.seen] == [0, 1]
    for _, image in previews.seen:
        with Image.open(io.BytesIO(image.data)) as decoded:
            assert decoded.size == (1024, 1024)
    assert len(result.images) == 1 and result.usage is not None
    assert result.usage.output_tokens == 1056
    sent = fake_wisgate.requests[0].json
    assert sent is not None and (sent["stream"], sent["partial_images"]) == (True, 2)


async def test_a_3_mb_event_line_is_parsed(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.noisy = True  # a noisy 1536x1024 PNG: one event line of more than 3 MB
    request = ImageRequest("generate", "gpt-image-1", "noise", size="1536x1024")

    result = await wisgate_client.generate(request, on_partial=Previews())

    (image,) = result.images
    assert len(pybase64.b64encode(image.data)) > 3_000_000
    assert image.data == make_image(1536, 1024, "png", noisy=True)
    assert _streamed(fake_wisgate) == [True]


def test_sse_parser_handles_any_chunking_of_a_huge_line() -> None:
    payload = b"x" * 3_200_000
    stream = (
        b": keep-alive\r\nevent: big\r\ndata: "
        + payload
        + b"\r\n\r\ndata: a\ndata: b\n\ndata: tail"
    )
    rng = random.Random(7)
    parser = SseParser(max_event_bytes=4_000_000)
    events = []
    position = 0
    while position < len(stream):
        step = rng.choice([1, 7, 65_536, 1_000_000])
        events += parser.feed(stream[position : position + step])
        position += step
    events += parser.finish()

    assert [(e.event, len(e.data)) for e in events] == [("big", 3_200_000), (None, 3), (None, 4)]
    assert events[0].data == payload and events[1].data == b"a\nb"


def test_sse_parser_refuses_an_event_over_the_limit() -> None:
    parser = SseParser(max_event_bytes=1000)

    with pytest.raises(SseError):
        parser.feed(b"data: " + b"y" * 2000)


async def test_edits_stream_too(wisgate_client: WisGateClient, fake_wisgate: FakeWisGate) -> None:
    source = InputImage(make_image(1024, 1024, "png"), "in.png", "png", 1024, 1024, False)
    request = ImageRequest("edit", "gpt-image-1", "snow", images=(source,))
    previews = Previews()

    result = await wisgate_client.edit(request, on_partial=previews)

    assert len(previews.seen) == 2 and len(result.images) == 1
    assert fake_wisgate.requests[0].fields["stream"] == "true"


@pytest.mark.parametrize("switch", ["reject", "ignore"])
async def test_auto_mode_remembers_a_gateway_that_does_not_stream(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate, switch: str
) -> None:
    client = _client(wisgate_session, fake_wisgate, "auto")
    fake_wisgate.fail("reject_stream" if switch == "reject" else "ignore_stream")
    previews = Previews()
    assert client.partial_images_for(GPT) == 2  # a job's hold covers the previews it may get

    first = await client.generate(GPT, on_partial=previews)
    second = await client.generate(GPT, on_partial=previews)

    assert len(first.images) == len(second.images) == 1
    # reject: the stream attempt, its plain retry, then plain; ignore: answered from JSON.
    expected = [True, False, False] if switch == "reject" else [True, False]
    assert _streamed(fake_wisgate) == expected
    assert not client.streaming_supported and previews.seen == []
    assert client.partial_images_for(GPT) == 0  # it will not stream: nothing to hold for


async def test_on_mode_falls_back_per_request_but_keeps_trying(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> None:
    client = _client(wisgate_session, fake_wisgate, "on")
    fake_wisgate.fail("reject_stream")
    previews = Previews()

    await client.generate(GPT, on_partial=previews)
    await client.generate(GPT, on_partial=previews)

    assert _streamed(fake_wisgate) == [True, False, True]
    assert len(previews.seen) == 2


@pytest.mark.parametrize(
    ("mode", "request_"),
    [
        ("off", GPT),
        ("on", ImageRequest("generate", "dall-e-3", "x")),  # dall-e never streams
        ("on", ImageRequest("generate", "gpt-image-1", "x", n=2)),  # usage per event is ambiguous
    ],
)
async def test_no_stream_when_not_allowed(
    wisgate_session: aiohttp.ClientSession,
    fake_wisgate: FakeWisGate,
    mode: StreamingMode,
    request_: ImageRequest,
) -> None:
    client = _client(wisgate_session, fake_wisgate, mode)

    await client.generate(request_, on_partial=Previews())

    assert _streamed(fake_wisgate) == [False]
    assert client.partial_images_for(request_) == 0


async def test_an_error_event_in_the_stream_is_typed(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.fail("stream_error")
    previews = Previews()

    with pytest.raises(ContentRejected) as caught:
        await wisgate_client.generate(GPT, on_partial=previews)

    assert caught.value.code == "moderation_blocked"
    assert len(previews.seen) == 1 and len(fake_wisgate.requests) == 1


async def test_a_failing_preview_does_not_cost_the_image(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    async def broken(image: GeneratedImage, index: int) -> None:
        raise RuntimeError("discord is down")

    result = await wisgate_client.generate(GPT, on_partial=broken)

    assert len(result.images) == 1


async def test_http_urls_are_refused_by_default(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.fail("url")

    with pytest.raises(MalformedResponse, match="scheme 'http'"):
        await wisgate_client.generate(GPT)

    assert fake_wisgate.downloads == []  # refused before any request


@pytest.mark.parametrize("mode", ["normal", "chunked"])
async def test_url_images_are_downloaded_without_the_key(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate, mode: str
) -> None:
    client = _client(wisgate_session, fake_wisgate, download_schemes=frozenset({"http", "https"}))
    fake_wisgate.fail("url", download=mode)  # type: ignore[arg-type]
    request = ImageRequest("generate", "dall-e-3", "a fox", size="1024x1792")

    (image,) = (await client.generate(request)).images

    assert (image.format, image.width, image.height) == ("png", 1024, 1792)
    assert image.revised_prompt == "A detailed rendering of: a fox"
    assert [(d.authorization_sent, d.completed) for d in fake_wisgate.downloads] == [(False, True)]


@pytest.mark.parametrize("mode", ["normal", "endless"])
async def test_download_size_cap_is_enforced_while_reading(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate, mode: str
) -> None:
    fake_wisgate.noisy = True
    client = _client(
        wisgate_session,
        fake_wisgate,
        download_schemes=frozenset({"http"}),
        max_download_bytes=1024 * 1024,
    )
    fake_wisgate.fail("url", download=mode)  # type: ignore[arg-type]

    with pytest.raises(MalformedResponse, match="larger than"):
        await client.generate(ImageRequest("generate", "dall-e-2", "x", size="1024x1024"))

    (download,) = fake_wisgate.downloads
    if mode == "endless":  # 256 MiB without a Content-Length: the client stopped long before
        assert not download.completed and download.bytes_sent < 64 * 1024 * 1024
