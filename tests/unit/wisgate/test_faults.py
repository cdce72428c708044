"""What the client does with each fault the fake can inject: retries, typed errors, no leaks."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Awaitable, Callable

import aiohttp
import orjson
import pytest
from pydantic import SecretStr

from bot.core.models import ImageRequest
from bot.wisgate.client import WisGateClient
from bot.wisgate.errors import (
    AuthenticationFailed,
    ContentRejected,
    MalformedResponse,
    RateLimited,
    RequestTimedOut,
    ServerError,
    UnknownModel,
    UpstreamQuotaExhausted,
    WisGateError,
    error_from_event,
    error_from_response,
)
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate, FaultKind

GPT = ImageRequest("generate", "gpt-image-1", "a quiet harbour")


def _client(session: aiohttp.ClientSession, fake: FakeWisGate, **options: object) -> WisGateClient:
    settings: dict[str, object] = {"backoff_base": 0.001, "backoff_cap": 0.01, "max_retries": 3}
    settings.update(options)
    return WisGateClient(
        session,
        base_url=fake.base_url,
        api_key=SecretStr(TEST_API_KEY),
        **settings,  # type: ignore[arg-type]
    )


async def test_rate_limit_is_retried_until_it_passes(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.fail("rate_limit", 2, retry_after="0")

    result = await wisgate_client.generate(GPT)

    assert len(result.images) == 1
    assert len(fake_wisgate.requests) == 3


async def test_rate_limit_after_every_retry_raises_rate_limited(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> None:
    client = _client(wisgate_session, fake_wisgate, max_retries=2)
    fake_wisgate.fail("rate_limit", 5)

    with pytest.raises(RateLimited) as caught:
        await client.generate(GPT)

    assert caught.value.status == 429 and caught.value.code == "rate_limit_exceeded"
    assert len(fake_wisgate.requests) == 3  # the first attempt and two retries


async def test_a_fault_for_one_prompt_lets_the_others_pass(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.fail("moderation_blocked", prompt_contains="harbour")

    other = ImageRequest("generate", "gpt-image-1", "a busy field")
    assert len((await wisgate_client.generate(other)).images) == 1
    with pytest.raises(ContentRejected):
        await wisgate_client.generate(GPT)


async def test_retry_after_is_honoured(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> None:
    client = _client(wisgate_session, fake_wisgate, backoff_cap=5.0)
    fake_wisgate.fail("rate_limit", 1, retry_after="1")

    await client.generate(GPT)

    first, second = fake_wisgate.requests
    assert 1.0 <= second.time - first.time < 1.5  # the header's 1 s, not the 1 ms backoff


async def test_retry_after_is_capped(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> None:
    client = _client(wisgate_session, fake_wisgate, backoff_cap=0.05)
    fake_wisgate.fail("rate_limit", 1, retry_after="3600")

    await client.generate(GPT)

    first, second = fake_wisgate.requests
    assert second.time - first.time < 0.5


async def test_server_errors_are_retried(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.fail("server_error", 2, status=503)

    await wisgate_client.generate(GPT)

    assert len(fake_wisgate.requests) == 3


async def test_server_errors_after_every_retry_raise_server_error(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> None:
    client = _client(wisgate_session, fake_wisgate, max_retries=1)
    fake_wisgate.fail("server_error", 3, status=502)

    with pytest.raises(ServerError) as caught:
        await client.generate(GPT)

    assert caught.value.status == 502
    assert len(fake_wisgate.requests) == 2


async def test_disconnect_before_the_status_line_is_retried(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.fail("drop", 2)

    result = await wisgate_client.generate(GPT)

    assert len(result.images) == 1
    assert len(fake_wisgate.requests) == 3


async def test_unreachable_gateway_gives_server_error_after_retries(
    wisgate_session: aiohttp.ClientSession,
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = WisGateClient(
        wisgate_session,
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=SecretStr(TEST_API_KEY),
        max_retries=2,
        backoff_base=0.001,
    )

    with pytest.raises(ServerError, match="could not reach WisGate"):
        await client.generate(GPT)


async def test_reset_mid_body_is_not_retried(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.fail("reset", 3)

    with pytest.raises(ServerError) as caught:
        await wisgate_client.generate(GPT)

    assert caught.value.code == "connection_lost"
    assert len(fake_wisgate.requests) == 1  # the image may be billed already: no blind retry


async def test_read_timeout_is_not_retried(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> None:
    client = _client(wisgate_session, fake_wisgate, timeout=0.3)
    fake_wisgate.fail("slow", 3, delay=5.0)
    started = time.monotonic()

    with pytest.raises(RequestTimedOut):
        await client.generate(GPT)

    assert time.monotonic() - started < 1.5
    assert len(fake_wisgate.requests) == 1


async def test_slow_answer_within_the_timeout_succeeds(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.fail("slow", delay=0.2)

    result = await wisgate_client.generate(GPT)

    assert len(result.images) == 1 and len(fake_wisgate.requests) == 1


@pytest.mark.parametrize(
    ("kind", "error", "status", "code"),
    [
        ("malformed_json", MalformedResponse, None, "bad_json"),
        ("empty_data", MalformedResponse, None, "empty_data"),
        ("moderation_blocked", ContentRejected, 400, "moderation_blocked"),
        ("unknown_model", UnknownModel, 404, "model_not_found"),
        ("insufficient_quota", UpstreamQuotaExhausted, 429, "insufficient_quota"),
    ],
)
async def test_faults_that_are_never_retried(
    wisgate_client: WisGateClient,
    fake_wisgate: FakeWisGate,
    kind: FaultKind,
    error: type[WisGateError],
    status: int | None,
    code: str,
) -> None:
    fake_wisgate.fail(kind)
    fake_wisgate.fail("server_error", 5)  # would be met by any (wrong) retry

    with pytest.raises(error) as caught:
        await wisgate_client.generate(GPT)

    assert type(caught.value) is error
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.user_message == error.user_text
    assert len(fake_wisgate.requests) == 1


async def test_the_latency_setting_delays_every_answer(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    fake_wisgate.latency = 0.15
    started = time.monotonic()

    await wisgate_client.generate(GPT)
    await wisgate_client.check()

    assert time.monotonic() - started >= 0.15


async def _run_every_fault(session: aiohttp.ClientSession, fake: FakeWisGate) -> list[WisGateError]:
    client = _client(session, fake, timeout=0.3, max_retries=1, download_schemes={"https"})
    wrong = WisGateClient(session, base_url=fake.base_url, api_key=SecretStr("sk-wrong-SECRET-42"))
    switches: list[tuple[Callable[[], None], bool]] = [
        (lambda: fake.fail("rate_limit", 2, retry_after="0"), False),
        (lambda: fake.fail("server_error", 2), False),
        (lambda: fake.fail("drop", 2), False),
        (lambda: fake.fail("reset"), False),
        (lambda: fake.fail("reset"), True),
        (lambda: fake.fail("slow", delay=2.0), False),
        (lambda: fake.fail("malformed_json"), False),
        (lambda: fake.fail("empty_data"), False),
        (lambda: fake.fail("moderation_blocked"), False),
        (lambda: fake.fail("unknown_model"), False),
        (lambda: fake.fail("insufficient_quota"), False),
        (lambda: fake.fail("url"), False),
        (lambda: fake.fail("stream_error"), True),
    ]
    calls: list[Callable[[], Awaitable[object]]] = [wrong.check, lambda: wrong.generate(GPT)]
    for switch, stream in switches:
        calls.append(lambda s=switch, stream=stream: _after(s, client, stream))  # type: ignore[misc]
    errors: list[WisGateError] = []
    for call in calls:
        try:
            await call()
        except WisGateError as caught:
            errors.append(caught)
    assert len(errors) == len(calls)  # every call failed as planned
    return errors


async def _after(switch: Callable[[], None], client: WisGateClient, stream: bool) -> None:
    async def preview(image: object, index: int) -> None:
        return None

    switch()
    await client.generate(GPT, on_partial=preview if stream else None)


async def test_the_key_never_leaks(
    wisgate_session: aiohttp.ClientSession,
    fake_wisgate: FakeWisGate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    errors = await _run_every_fault(wisgate_session, fake_wisgate)

    assert {type(error) for error in errors} >= {AuthenticationFailed, ContentRejected, RateLimited}
    texts = [caplog.text, *(f"{e}{e!r}{e.user_message}{e.args}" for e in errors)]
    clients = [_client(wisgate_session, fake_wisgate), wisgate_session]
    texts += [repr(client) for client in clients]
    assert "retry 1 of 1" in caplog.text  # the logs really were captured
    assert "Incorrect API key provided: [redacted]" in " ".join(texts)
    for secret in (TEST_API_KEY, "sk-wrong-SECRET-42", "SECRET"):
        assert not [text for text in texts if secret in text]


# -- redaction happens before any cut ------------------------------------------------------

OTHER_KEY = "sk-proj-Other_Account-42abcdef"


def _leaks(text: str, *keys: str) -> list[str]:
    """Any key, or any 4+ character head of one, that shows in `text`."""
    return [key[:n] for key in keys for n in range(4, len(key) + 1) if key[:n] in text]


@pytest.mark.parametrize("key", [TEST_API_KEY, OTHER_KEY])
def test_a_key_straddling_the_plain_body_cut_is_redacted(key: str) -> None:
    body = ("x" * (200 - 6) + key + " was refused").encode()  # the cut falls inside the key

    error = error_from_response(502, body, secret=TEST_API_KEY)

    assert _leaks(f"{error}{error!r}{error.user_message}", key) == []
    assert error.message.startswith("x" * 194 + "[reda")  # redacted, then cut


@pytest.mark.parametrize("key", [TEST_API_KEY, OTHER_KEY])
def test_a_key_straddling_the_message_limit_is_redacted(key: str) -> None:
    message = "y" * (300 - 6) + key + " is not valid"
    body = orjson.dumps({"error": {"message": message, "code": "invalid_api_key"}})

    texts = [
        str(error_from_response(401, body, secret=TEST_API_KEY)),
        str(error_from_event({"error": {"message": message}}, secret=TEST_API_KEY)),
    ]

    assert _leaks(" ".join(texts), key) == []


def test_bearer_tokens_and_foreign_keys_are_redacted() -> None:
    body = (
        b"bad header: Authorization: Bearer eyJhbGciOi.J9-abc_DEF~x+y/z== from key "
        b"sk-abcdEFGH_1234-xyz; task-list stays"
    )

    error = error_from_response(400, body, secret=TEST_API_KEY)

    assert "eyJhbGciOi" not in error.message and "abcdEFGH" not in error.message
    assert "Bearer [redacted]" in error.message and "task-list stays" in error.message


def test_a_key_in_code_or_param_is_redacted_too() -> None:
    error = {"message": "bad", "code": f"bad_key_{OTHER_KEY}", "param": f"Bearer {TEST_API_KEY}"}

    errors = [
        error_from_response(400, orjson.dumps({"error": error}), secret=TEST_API_KEY),
        error_from_event({"error": error}, secret=TEST_API_KEY),
    ]

    assert _leaks(" ".join(f"{e}{e!r}" for e in errors), OTHER_KEY, TEST_API_KEY) == []
