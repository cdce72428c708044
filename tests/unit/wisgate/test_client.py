"""WisGateClient against the loopback fake: each model's answer shape, edits, /models."""

from __future__ import annotations

import io

import aiohttp
import pytest
from PIL import Image
from pydantic import SecretStr

from bot.config import Settings
from bot.core.models import ImageRequest, InputImage, Usage
from bot.wisgate.client import WisGateClient
from bot.wisgate.errors import AuthenticationFailed, BadRequest, UnknownModel
from bot.wisgate.stream import sniff_image
from tests.fakes.images import make_image, make_mask
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate, usage_for


def _pillow_size(data: bytes) -> tuple[str, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # a full decode: the bytes are a real image, not just a header
        return str(image.format), image.width, image.height


def _input(fmt: str, width: int = 1024, height: int = 1024, name: str = "in") -> InputImage:
    data = make_image(width, height, fmt, alpha=fmt != "jpeg")
    ext = "jpg" if fmt == "jpeg" else fmt
    return InputImage(data, f"{name}.{ext}", fmt, width, height, fmt != "jpeg")  # type: ignore[arg-type]


async def test_gpt_generation_returns_decoded_images_and_usage(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    prompt = "a lighthouse at dusk, oil painting"
    request = ImageRequest("generate", "gpt-image-1", prompt, n=2, size="1536x1024")

    result = await wisgate_client.generate(request)

    assert [_pillow_size(image.data) for image in result.images] == [("PNG", 1536, 1024)] * 2
    assert [(i.format, i.width, i.height) for i in result.images] == [("png", 1536, 1024)] * 2
    expected = usage_for(prompt, 0, 2)
    assert result.usage == Usage(
        expected["input_tokens_details"]["text_tokens"], 0, expected["output_tokens"]
    )
    assert (result.size, result.output_format, result.background) == ("1536x1024", "png", "opaque")
    (sent,) = fake_wisgate.requests
    assert sent.json == {"model": "gpt-image-1", "prompt": prompt, "n": 2, "size": "1536x1024"}
    assert sent.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
async def test_image_format_and_size_come_from_the_bytes(
    wisgate_client: WisGateClient, fmt: str
) -> None:
    request = ImageRequest(
        "generate",
        "gpt-image-2",
        "x",
        size="1024x1536",
        output_format=fmt,  # type: ignore[arg-type]
    )

    (image,) = (await wisgate_client.generate(request)).images

    pillow_format, width, height = _pillow_size(image.data)
    assert (pillow_format.lower(), width, height) == (fmt, 1024, 1536)
    assert (image.format, image.width, image.height) == (fmt, 1024, 1536)


@pytest.mark.parametrize(
    ("fmt", "alpha", "options"),
    [
        ("jpeg", False, {"quality": 90, "progressive": True}),
        ("webp", False, {"quality": 80}),  # VP8 (lossy)
        ("webp", False, {"lossless": True}),  # VP8L
        ("webp", True, {"quality": 80}),  # VP8X (alpha)
        ("png", True, {}),
    ],
)
def test_sniffing_reads_the_header_like_pillow(
    fmt: str, alpha: bool, options: dict[str, object]
) -> None:
    image = Image.new("RGBA" if alpha else "RGB", (333, 217), (10, 20, 30))
    buffer = io.BytesIO()
    image.save(buffer, fmt.upper(), **options)

    sniffed = sniff_image(buffer.getvalue(), None)

    assert (sniffed.format, sniffed.width, sniffed.height) == (fmt, 333, 217)


async def test_dalle3_returns_revised_prompt_and_no_usage(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    request = ImageRequest("generate", "dall-e-3", "a red fox", size="1792x1024", style="vivid")

    result = await wisgate_client.generate(request)

    (image,) = result.images
    assert image.revised_prompt == "A detailed rendering of: a red fox"
    assert _pillow_size(image.data) == ("PNG", 1792, 1024)
    assert result.usage is None
    # dall-e would answer a URL by default: the client asks for the bytes instead.
    assert fake_wisgate.requests[0].json is not None
    assert fake_wisgate.requests[0].json["response_format"] == "b64_json"


async def test_dalle2_several_small_images(wisgate_client: WisGateClient) -> None:
    request = ImageRequest("generate", "dall-e-2", "a blue cube", n=3, size="256x256")

    result = await wisgate_client.generate(request)

    assert [(i.format, i.width, i.height, i.revised_prompt) for i in result.images] == [
        ("png", 256, 256, None)
    ] * 3


async def test_edit_with_one_image_uses_field_image(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    source = _input("png", name="cat")
    request = ImageRequest("edit", "gpt-image-1", "add a hat", images=(source,), quality="low")

    result = await wisgate_client.edit(request)

    assert _pillow_size(result.images[0].data) == ("PNG", 1024, 1024)
    assert result.usage is not None and result.usage.input_image_tokens == 323
    (sent,) = fake_wisgate.requests
    assert sent.path == "/v1/images/edits"
    assert sent.fields == {"model": "gpt-image-1", "prompt": "add a hat", "quality": "low"}
    [(field, filename, content_type, data)] = [
        (f.field, f.filename, f.content_type, f.data) for f in sent.files
    ]
    assert (field, filename, content_type, data) == ("image", "cat.png", "image/png", source.data)
    assert sent.headers["Content-Type"].startswith("multipart/form-data")


async def test_edit_with_several_images_and_a_mask(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    images = (_input("png", name="a"), _input("jpeg", name="b"), _input("webp", name="c"))
    mask = InputImage(make_mask(1024, 1024), "mask.png", "png", 1024, 1024, True)
    request = ImageRequest("edit", "gpt-image-2", "merge", n=2, images=images, mask=mask)

    result = await wisgate_client.edit(request)

    assert len(result.images) == 2
    (sent,) = fake_wisgate.requests
    assert [(f.field, f.filename, f.content_type) for f in sent.files] == [
        ("image[]", "a.png", "image/png"),
        ("image[]", "b.jpg", "image/jpeg"),
        ("image[]", "c.webp", "image/webp"),
        ("mask", "mask.png", "image/png"),
    ]
    assert [f.data for f in sent.files] == [*(i.data for i in images), mask.data]
    assert "response_format" not in sent.fields
    assert sent.fields["n"] == "2"


async def test_dalle2_edit_asks_for_base64(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    source = InputImage(make_image(512, 512, "png"), "sq.png", "png", 512, 512, False)
    request = ImageRequest("edit", "dall-e-2", "make it night", size="512x512", images=(source,))

    result = await wisgate_client.edit(request)

    assert (result.images[0].width, result.images[0].height) == (512, 512)
    assert fake_wisgate.requests[0].fields["response_format"] == "b64_json"


async def test_gpt_models_never_get_response_format(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    await wisgate_client.generate(ImageRequest("generate", "gpt-image-2", "a"))
    await wisgate_client.edit(ImageRequest("edit", "gpt-image-1", "b", images=(_input("png"),)))

    generation, edit = fake_wisgate.requests
    assert generation.json is not None and "response_format" not in generation.json
    assert "response_format" not in edit.fields


async def test_rule_violation_is_a_bad_request_with_the_reason(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    # The catalogue would never let this through; the fake still must refuse it like the API.
    request = ImageRequest("generate", "gpt-image-1", "x", size="640x480")

    with pytest.raises(BadRequest) as caught:
        await wisgate_client.generate(request)

    assert caught.value.status == 400 and caught.value.param == "size"
    assert "640x480" in caught.value.user_message
    assert len(fake_wisgate.requests) == 1  # a 400 is never retried


async def test_model_the_gateway_does_not_know(
    wisgate_client: WisGateClient, fake_wisgate: FakeWisGate
) -> None:
    with pytest.raises(UnknownModel) as caught:
        await wisgate_client.generate(ImageRequest("generate", "gpt-image-9", "x"))

    assert caught.value.status == 404 and caught.value.code == "model_not_found"
    assert len(fake_wisgate.requests) == 1


async def test_check_lists_models(wisgate_client: WisGateClient, fake_wisgate: FakeWisGate) -> None:
    models = await wisgate_client.check()

    assert set(models) == {"gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2"}
    assert fake_wisgate.listings[0].path == "/v1/models" and not fake_wisgate.requests


async def test_check_with_a_wrong_key_fails_once(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> None:
    client = WisGateClient(
        wisgate_session, base_url=fake_wisgate.base_url, api_key=SecretStr("sk-wrong-key-1")
    )

    with pytest.raises(AuthenticationFailed) as caught:
        await client.check()

    assert caught.value.status == 401
    assert len(fake_wisgate.listings) == 1


async def test_from_settings_uses_the_configured_gateway(
    wisgate_session: aiohttp.ClientSession, fake_wisgate: FakeWisGate
) -> None:
    settings = Settings(
        _env_file=None,
        DISCORD_TOKEN="discord-token",
        WISGATE_API_KEY=TEST_API_KEY,
        WISGATE_BASE_URL=fake_wisgate.base_url + "/",
        MAX_RETRIES=0,
        STREAMING_PREVIEWS="off",
    )
    client = WisGateClient.from_settings(wisgate_session, settings)

    assert "gpt-image-1" in await client.check()
    assert repr(client).startswith(f"WisGateClient(base_url='{fake_wisgate.base_url}'")
    assert "streaming='off'" in repr(client)
