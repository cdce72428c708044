"""The price table: list prices, conservative estimates, usage costs, and PRICES_FILE."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bot.core.models import Usage
from bot.core.prices import PriceFileError, default_prices, load_prices, prices_of
from bot.core.profile_files import load_profiles

# Output tokens per image that OpenAI lists for gpt-image-1 (quality, size) -> tokens.
GPT_IMAGE_1_OUTPUT_TOKENS = {
    ("low", "1024x1024"): 272,
    ("medium", "1024x1024"): 1056,
    ("high", "1024x1024"): 4160,
    ("low", "1536x1024"): 408,
    ("medium", "1536x1024"): 1584,
    ("high", "1536x1024"): 6240,
}


@pytest.mark.parametrize(
    ("model", "quality", "size", "usd"),
    [
        ("gpt-image-1", "low", "1024x1024", "0.011"),
        ("gpt-image-1", "medium", "1024x1024", "0.042"),
        ("gpt-image-1", "high", "1024x1024", "0.167"),
        ("gpt-image-1", "low", "1536x1024", "0.016"),
        ("gpt-image-1", "medium", "1024x1536", "0.063"),
        ("gpt-image-1", "high", "1536x1024", "0.25"),
        ("gpt-image-2", "high", "1024x1536", "0.25"),
        ("dall-e-3", "standard", "1024x1024", "0.04"),
        ("dall-e-3", "hd", "1024x1024", "0.08"),
        ("dall-e-3", "standard", "1792x1024", "0.08"),
        ("dall-e-3", "hd", "1024x1792", "0.12"),
        ("dall-e-2", None, "256x256", "0.016"),
        ("dall-e-2", "standard", "512x512", "0.018"),
        ("dall-e-2", None, "1024x1024", "0.02"),
    ],
)
def test_list_prices(model: str, quality: str | None, size: str, usd: str) -> None:
    assert default_prices().unit_price(model, quality, size) == Decimal(usd)


def test_automatic_quality_and_size_are_priced_at_their_dearest() -> None:
    # GPT image models pick quality and size themselves when none is sent ("auto").
    prices = default_prices()
    assert prices.unit_price("gpt-image-1", None, "1024x1024") == Decimal("0.167")
    assert prices.unit_price("gpt-image-1", "auto", "1024x1024") == Decimal("0.167")
    assert prices.unit_price("gpt-image-1", "low", "auto") == Decimal("0.016")
    assert prices.unit_price("gpt-image-2", "auto", None) == Decimal("0.25")


def test_unset_options_are_priced_at_what_the_api_uses() -> None:
    # dall-e-3 draws a standard 1024x1024 image when asked nothing: $0.04, not its dearest $0.12.
    prices = default_prices()
    assert prices.used("dall-e-3", None, None) == ("standard", "1024x1024")
    assert prices.unit_price("dall-e-3", None, None) == Decimal("0.04")
    assert prices.unit_price("dall-e-3", "hd", None) == Decimal("0.08")
    assert prices.unit_price("dall-e-3", None, "1792x1024") == Decimal("0.08")
    assert prices.unit_price("dall-e-2", None, None) == Decimal("0.02")
    assert prices.estimate("dall-e-3", None, None, 1, prompt_bytes=900).total_micros == 40_000
    assert prices.used("gpt-image-2", None, None) == ("auto", "auto")


def test_an_operators_model_prices_its_own_defaults(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        '[models."dall-e-3-hd"]\nlike = "dall-e-3"\ndefault_quality = "hd"\n'
        'default_size = "1792x1024"\n',
        encoding="utf-8",
    )
    prices = prices_of(load_profiles(path))
    assert prices.unit_price("dall-e-3-hd", None, None) == Decimal("0.12")
    assert prices.unit_price("dall-e-3", None, None) == Decimal("0.04")


def test_free_sizes_are_priced_by_area_and_never_below_a_listed_size() -> None:
    prices = default_prices()
    big = prices.unit_price("gpt-image-2", "high", "3840x2160")
    # 3840x2160 is 7.9 times the pixels of 1024x1024 (0.167) and 5.3 times 1536x1024 (0.25).
    assert big >= Decimal("0.167") * 3840 * 2160 / (1024 * 1024)
    assert big >= Decimal("0.25") * 3840 * 2160 / (1536 * 1024)
    assert big < Decimal("1.4")
    # Smaller than every listed size: still the dearest listed price, never less.
    assert prices.unit_price("gpt-image-2", "low", "512x512") == Decimal("0.016")
    assert prices.unit_price("gpt-image-2", "medium", "2048x1024") > Decimal("0.063")


def test_unknown_model_holds_the_dearest_known_price(caplog: pytest.LogCaptureFixture) -> None:
    prices = default_prices()
    assert prices.unit_price("gpt-image-9", "low", "1024x1024") == Decimal("0.167")
    assert prices.unit_price("gpt-image-9", None, None) == Decimal("0.25")
    assert "gpt-image-9" in caplog.text


def test_usage_cost_uses_each_models_token_prices() -> None:
    prices = default_prices()
    usage = Usage(input_text_tokens=100, input_image_tokens=1000, output_tokens=4160)
    # gpt-image-1: 5 / 10 / 40 USD per million = micro-USD per token.
    assert prices.usage_cost_micros("gpt-image-1", usage) == 100 * 5 + 1000 * 10 + 4160 * 40
    # gpt-image-2: 5 / 8 / 30.
    assert prices.usage_cost_micros("gpt-image-2", usage) == 100 * 5 + 1000 * 8 + 4160 * 30
    assert prices.usage_cost_micros("dall-e-3", usage) is None
    assert prices.usage_cost_micros("gpt-image-1", None) is None
    assert prices.usage_cost_micros("gpt-image-1", Usage()) is None


def test_dalle_estimate_is_exactly_the_list_price() -> None:
    estimate = default_prices().estimate("dall-e-3", "hd", "1792x1024", 1, prompt_bytes=3000)
    assert (estimate.unit_micros, estimate.total_micros) == (120_000, 120_000)
    estimate = default_prices().estimate("dall-e-2", None, "512x512", 4)
    assert (estimate.unit_micros, estimate.total_micros) == (18_000, 72_000)


@pytest.mark.parametrize(("quality", "size"), sorted(GPT_IMAGE_1_OUTPUT_TOKENS))
def test_gpt_estimate_covers_the_usage_of_listed_outputs_and_inputs(
    quality: str, size: str
) -> None:
    prices = default_prices()
    prompt = "a lighthouse in a storm, oil painting " * 50
    images, inputs = 3, 2
    for asked_quality in (quality, "auto", None):
        estimate = prices.estimate(
            "gpt-image-1",
            asked_quality,
            size,
            images,
            prompt_bytes=len(prompt.encode()),
            input_images=inputs,
            partial_images=2,
        )
        usage = Usage(
            input_text_tokens=len(prompt) // 3,  # real tokenisers: ~4 characters a token
            input_image_tokens=inputs * 6_240,  # high input fidelity, landscape
            output_tokens=images * (GPT_IMAGE_1_OUTPUT_TOKENS[(quality, size)] + 2 * 100),
        )
        actual = prices.usage_cost_micros("gpt-image-1", usage)
        assert actual is not None and actual <= estimate.total_micros


def test_no_prices_file_means_defaults() -> None:
    assert load_prices(None).unit_price("gpt-image-1", "low", "1024x1024") == Decimal("0.011")


def test_prices_file_merges_over_the_defaults_exactly(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "images": {
                    "gpt-image-2": {"low": {"1024x1024": 0.013}},
                    "my-model": {"standard": {"1024x1024": 0.05}},
                },
                "tokens": {
                    "gpt-image-2": {"image_output": 32},
                    "my-model": {"text_input": 1, "image_input": 2.5, "image_output": 3},
                },
            }
        ),
        encoding="utf-8",
    )
    prices = load_prices(path)
    assert prices.estimate("gpt-image-2", "low", "1024x1024", 1).unit_micros == 13_000
    # Unnamed entries keep their defaults.
    assert prices.unit_price("gpt-image-2", "low", "1536x1024") == Decimal("0.016")
    assert prices.unit_price("gpt-image-1", "low", "1024x1024") == Decimal("0.011")
    usage = Usage(input_text_tokens=10, input_image_tokens=10, output_tokens=10)
    assert prices.usage_cost_micros("gpt-image-2", usage) == 10 * 5 + 10 * 8 + 10 * 32
    assert prices.usage_cost_micros("my-model", usage) == 10 + 25 + 30
    assert prices.unit_price("my-model", None, None) == Decimal("0.05")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1, column 2"),
        ("[]", "the file must be a JSON object"),
        ('{"image": {}}', "unknown key(s) image"),
        ('{"images": {"gpt-image-1": {"low": {"1024x1024": "cheap"}}}}',
         'images.gpt-image-1.low.1024x1024 must be a number of USD, not "cheap"'),
        ('{"images": {"gpt-image-1": {"low": {"1024x1024": -1}}}}', "must be 0 or more"),
        ('{"images": {"gpt-image-1": {"low": {"1024x1024": true}}}}', "not true"),
        ('{"images": {"gpt-image-1": {"low": {"big": 1}}}}', "a size must look like 1024x1024"),
        ('{"images": {"gpt-image-1": {"low": {}}}}', "names no size"),
        ('{"images": {"new": {}}}', "images.new names no quality"),
        ('{"tokens": {"gpt-image-1": {"output": 1}}}', "tokens.gpt-image-1: unknown key(s)"),
        ('{"tokens": {"new": {"text_input": 1}}}', "must name image_input, image_output"),
    ],
)  # fmt: skip
def test_bad_prices_file_names_the_file_and_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PriceFileError) as caught:
        load_prices(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_prices_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(PriceFileError, match=r"PRICES_FILE .*nowhere.json cannot be read"):
        load_prices(path)
