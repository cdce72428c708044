"""What a job's images were made at: the answer's report, the pixels, the request, the default."""

from __future__ import annotations

from bot.core.models import GeneratedImage, ImageRequest, ImageResult
from bot.core.used import Used, used_settings


def made(width: int | None = None, height: int | None = None, **report: str) -> ImageResult:
    return ImageResult((GeneratedImage(b"x", "png", width, height),), **report)  # type: ignore[arg-type]


def test_the_answers_report_comes_first_then_the_pixels_then_the_request() -> None:
    asked = ImageRequest("generate", "gpt-image-2", "p", size="auto", quality="auto")
    assert used_settings(asked, made(1536, 1024, size="1024x1536", quality="high")) == Used(
        "1024x1536", "high"
    )
    assert used_settings(asked, made(1536, 1024)) == Used("1536x1024", None)
    exact = ImageRequest("generate", "gpt-image-2", "p", size="1536x864", quality="low")
    assert used_settings(exact, None) == Used("1536x864", "low")


def test_a_dalle_request_of_nothing_was_made_at_the_models_defaults() -> None:
    asked = ImageRequest("generate", "dall-e-3", "p")
    assert used_settings(asked, made()) == Used("1024x1024", "standard")
    assert used_settings(ImageRequest("generate", "dall-e-2", "p"), None).quality == "standard"
