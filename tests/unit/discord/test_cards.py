"""The result card (the embed under delivered images): what it may claim, and to whom."""

from __future__ import annotations

from bot.core.models import GeneratedImage, ImageRequest, ImageResult
from bot.discord.texts import remaining_note, result_embed


def made() -> ImageResult:
    return ImageResult((GeneratedImage(b"x", "png"),))


def test_a_dalle_card_shows_the_quality_it_drew_at_never_auto() -> None:
    asked = ImageRequest("generate", "dall-e-3", "p")
    fields = {f.name: f.value for f in result_embed(asked, elapsed=3, result=made()).fields}
    assert (fields["Size"], fields["Quality"]) == ("1024×1024", "standard")


def test_a_public_card_has_no_count_left_and_a_private_one_may() -> None:
    asked = ImageRequest("generate", "dall-e-3", "p")
    public = result_embed(asked, elapsed=3, result=made())
    assert "Left today" not in {f.name for f in public.fields}
    private = result_embed(asked, elapsed=3, result=made(), remaining_today=4)
    assert {f.name: f.value for f in private.fields}["Left today"] == "4 images"
    assert remaining_note(4) == "You can make 4 more images today."
    assert remaining_note(1) == "You can make 1 more image today."
    assert remaining_note(0) == "That was the last of your images for today."
