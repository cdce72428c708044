"""The fake WisGate's models: the /v1/models listing, served models, derived ones, transparency."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pybase64
import pytest
from PIL import Image

from tests.fakes import image_rules
from tests.fakes.images import make_image
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
FLARE = "gpt-image-2.5-flare"
BUILT_IN = ["dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-2"]
TRANSPARENCY_REFUSED = {
    "error": {
        "message": "Transparent background is not supported for this model.",
        "type": "invalid_request_error",
        "param": "background",
        "code": "invalid_value",
    }
}


def not_found(model: str) -> dict[str, Any]:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


@pytest.fixture
async def fake() -> AsyncIterator[FakeWisGate]:
    async with FakeWisGate(api_key=TEST_API_KEY, noisy=False) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def listing(
    fake: FakeWisGate, session: aiohttp.ClientSession, headers: dict[str, str] = AUTH
) -> tuple[int, bytes]:
    async with session.get(f"{fake.base_url}/models", headers=headers) as response:
        return response.status, await response.read()


async def listed(fake: FakeWisGate, session: aiohttp.ClientSession) -> list[str]:
    status, body = await listing(fake, session)
    assert status == 200
    document = orjson.loads(body)
    assert document["object"] == "list"
    for entry in document["data"]:
        assert entry == {"id": entry["id"], "object": "model", "created": 0, "owned_by": "wisgate"}
    return [entry["id"] for entry in document["data"]]


async def generate(
    fake: FakeWisGate, session: aiohttp.ClientSession, **body: Any
) -> tuple[int, dict[str, Any]]:
    payload = {"model": "gpt-image-2", "prompt": "a fox", "size": "1024x1024", **body}
    url = f"{fake.base_url}/images/generations"
    async with session.post(url, json=payload, headers=AUTH) as response:
        return response.status, await response.json()


async def edit(
    fake: FakeWisGate, session: aiohttp.ClientSession, **fields: str
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData()
    for name, value in {"model": "gpt-image-2", "prompt": "a fox", **fields}.items():
        form.add_field(name, value)
    form.add_field("image", make_image(64, 64), filename="in.png", content_type="image/png")
    url = f"{fake.base_url}/images/edits"
    async with session.post(url, data=form, headers=AUTH) as response:
        return response.status, await response.json()


def decoded(answer: dict[str, Any]) -> Image.Image:
    return Image.open(io.BytesIO(pybase64.b64decode(answer["data"][0]["b64_json"])))


# --- the listing --------------------------------------------------------------------------


async def test_listing_serves_every_model_with_rules_by_default(
    fake: FakeWisGate, session: aiohttp.ClientSession
) -> None:
    assert fake.served == image_rules.KNOWN_MODELS
    assert await listed(fake, session) == BUILT_IN
    record = fake.listings[-1]
    assert (record.method, record.path, record.authorized) == ("GET", "/v1/models", True)
    assert "Authorization" not in record.headers and "authorization" not in record.headers


async def test_listing_needs_the_key_and_records_the_attempt(
    fake: FakeWisGate, session: aiohttp.ClientSession
) -> None:
    status, body = await listing(fake, session, {"Authorization": "Bearer sk-wrong"})
    assert status == 401 and orjson.loads(body)["error"]["code"] == "invalid_api_key"
    assert [(r.path, r.authorized) for r in fake.listings] == [("/v1/models", False)]


async def test_serve_replaces_withdraw_removes_add_model_adds(
    fake: FakeWisGate, session: aiohttp.ClientSession
) -> None:
    fake.serve("gpt-image-2")
    assert await listed(fake, session) == ["gpt-image-2"]
    fake.add_model(FLARE, like="gpt-image-2", transparent=True)
    assert await listed(fake, session) == ["gpt-image-2", FLARE]
    fake.withdraw("gpt-image-2")
    assert fake.served == {FLARE}
    assert await listed(fake, session) == [FLARE]
    fake.serve()
    assert await listed(fake, session) == []
    # A listed model the fake has no rules for (say, a chat model) is still refused.
    fake.serve("gpt-4o", "gpt-image-1")
    assert await listed(fake, session) == ["gpt-4o", "gpt-image-1"]
    assert await generate(fake, session, model="gpt-4o") == (404, not_found("gpt-4o"))


async def test_served_can_be_given_up_front_and_add_model_serves_by_default(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeWisGate(api_key=TEST_API_KEY, noisy=False, served=["gpt-image-1"]) as fake:
        assert await listed(fake, session) == ["gpt-image-1"]
    async with FakeWisGate(api_key=TEST_API_KEY, noisy=False) as fake:
        fake.add_model(FLARE, like="gpt-image-2", transparent=True)
        assert await listed(fake, session) == [*BUILT_IN, FLARE]


@pytest.mark.parametrize(
    ("mode", "status"), [("error", 500), ("malformed", 200), ("missing", 404), ("shapeless", 200)]
)
async def test_the_listing_can_be_made_unusable(
    fake: FakeWisGate, session: aiohttp.ClientSession, mode: Any, status: int
) -> None:
    fake.models_listing = mode
    got, body = await listing(fake, session)
    assert got == status
    if mode == "malformed":
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(body)
    elif mode == "shapeless":
        assert "data" not in orjson.loads(body)
    else:
        assert "error" in orjson.loads(body)
    assert fake.listings[-1].path == "/v1/models" and fake.listings[-1].authorized
    # Image requests are not affected.
    assert (await generate(fake, session))[0] == 200
    fake.models_listing = "ok"
    assert await listed(fake, session) == BUILT_IN


async def test_the_listing_leaves_queued_faults_to_image_requests(
    fake: FakeWisGate, session: aiohttp.ClientSession
) -> None:
    fake.fail("server_error")
    assert await listed(fake, session) == BUILT_IN
    assert (await generate(fake, session))[0] == 500
    assert (await generate(fake, session))[0] == 200


# --- served models and their rules --------------------------------------------------------


async def test_an_unserved_model_is_404_before_any_other_rule(
    fake: FakeWisGate, session: aiohttp.ClientSession
) -> None:
    fake.withdraw("gpt-image-1")
    # Even a request that breaks other rules (n, size) hears about the model first.
    answer = await generate(fake, session, model="gpt-image-1", n=99, size="7x7")
    assert answer == (404, not_found("gpt-image-1"))
    assert await edit(fake, session, model="gpt-image-1", n="99") == (404, not_found("gpt-image-1"))
    assert await generate(fake, session, model="gpt-image-9") == (404, not_found("gpt-image-9"))
    assert await edit(fake, session, model=FLARE) == (404, not_found(FLARE))
    assert [r.path for r in fake.requests] == [
        "/v1/images/generations",
        "/v1/images/edits",
        "/v1/images/generations",
        "/v1/images/edits",
    ]


async def test_gpt_image_2_refuses_a_transparent_background(
    fake: FakeWisGate, session: aiohttp.ClientSession
) -> None:
    answer = await generate(fake, session, background="transparent", output_format="png")
    assert answer == (400, TRANSPARENCY_REFUSED)
    assert await edit(fake, session, background="transparent") == (400, TRANSPARENCY_REFUSED)
    assert (await generate(fake, session, background="opaque"))[0] == 200


async def test_a_derived_model_is_served_with_its_own_rules(
    fake: FakeWisGate, session: aiohttp.ClientSession
) -> None:
    rules = fake.add_model(FLARE, like="gpt-image-2", transparent=True)
    assert rules.transparent and rules.any_size and rules == fake.rules.rules(FLARE)
    status, answer = await generate(
        fake, session, model=FLARE, background="transparent", output_format="png"
    )
    assert status == 200 and answer["background"] == "transparent"
    assert decoded(answer).mode == "RGBA"
    status, answer = await edit(
        fake, session, model=FLARE, background="transparent", output_format="webp"
    )
    assert status == 200 and answer["background"] == "transparent"
    # Otherwise like gpt-image-2: free sizes, no input_fidelity, png/webp for transparency.
    assert (await generate(fake, session, model=FLARE, size="3840x2160"))[0] == 200
    status, answer = await edit(fake, session, model=FLARE, input_fidelity="high")
    assert (status, answer["error"]["param"]) == (400, "input_fidelity")
    status, answer = await generate(
        fake, session, model=FLARE, background="transparent", output_format="jpeg"
    )
    assert (status, answer["error"]["param"]) == (400, "background")
    # The module's default rules (the property tests' ones) never saw it.
    assert FLARE not in image_rules.DEFAULT_REGISTRY


async def test_each_fake_keeps_its_models_to_itself(session: aiohttp.ClientSession) -> None:
    async with (
        FakeWisGate(api_key=TEST_API_KEY, noisy=False) as first,
        FakeWisGate(api_key=TEST_API_KEY, noisy=False) as second,
    ):
        first.add_model(FLARE, like="gpt-image-2", transparent=True)
        first.rules.derive("gpt-image-2", like="gpt-image-2", transparent=True)
        assert (await generate(first, session, background="transparent"))[0] == 200
        assert await generate(second, session, background="transparent") == (
            400,
            TRANSPARENCY_REFUSED,
        )
        assert await generate(second, session, model=FLARE) == (404, not_found(FLARE))
        assert await listed(second, session) == BUILT_IN
