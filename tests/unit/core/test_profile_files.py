"""Model profiles from TOML: the built-in file, the operator's file on top, and its mistakes."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.core.catalogue import Catalogue, CatalogueError, load_models
from bot.core.profile_files import ModelsFileError, builtin_profiles, load_profiles
from bot.core.profiles import FreeSize

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_builtin_profiles_say_what_each_model_takes() -> None:
    profiles = builtin_profiles()
    assert list(profiles) == ["gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2"]
    two = profiles["gpt-image-2"]
    assert two.free_size == FreeSize(16, 3, 3840, 655_360, 8_294_400)
    assert not two.transparent and two.takes("partial_images") and two.edit is not None
    assert profiles["gpt-image-1"].transparent and profiles["gpt-image-1"].takes("input_fidelity")
    assert profiles["dall-e-3"].styles == ("vivid", "natural") and profiles["dall-e-3"].edit is None
    assert profiles["dall-e-2"].response_format and profiles["dall-e-2"].edit.square  # type: ignore[union-attr]
    assert two.token_prices is not None and two.token_prices.image_output == Decimal(30)
    assert profiles["dall-e-2"].image_prices == {
        "standard": {"256x256": Decimal("0.016"), "512x512": Decimal("0.018"),
                     "1024x1024": Decimal("0.02")}
    }  # fmt: skip


def test_a_model_like_another_changes_only_what_differs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[models."gpt-image-2.5-flare"]\nlike = "gpt-image-2"\ntransparent = true\n'
        'description = "transparent, any size"\n\n'
        '[models."gpt-image-2"]\ntransparent = false\nn = [1, 4]\n\n'
        '[models."dall-e-2"]\nenabled = false\n',
    )
    profiles = load_profiles(path)
    flare, two, base = profiles["gpt-image-2.5-flare"], profiles["gpt-image-2"], builtin_profiles()
    assert flare.transparent and flare.description == "transparent, any size"
    # It starts from gpt-image-2 as this file leaves it (n changed to 1-4 below).
    assert flare.free_size == base["gpt-image-2"].free_size and flare.n_max == 4
    assert flare.token_prices == base["gpt-image-2"].token_prices
    assert (two.n_max, two.sizes) == (4, base["gpt-image-2"].sizes)
    catalogue = Catalogue(profiles, None, "gpt-image-2")
    assert "dall-e-2" not in catalogue.enabled and "gpt-image-2.5-flare" in catalogue.enabled


def test_a_model_like_one_defined_later_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[models.b]\nlike = "a"\nprompt_max = 10\n\n[models.a]\nlike = "dall-e-3"\n',
    )
    profiles = load_profiles(path)
    assert profiles["b"].prompt_max == 10 and profiles["b"].styles == ("vivid", "natural")


def test_a_new_model_from_scratch(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[models.square]\nprompt_max = 4000\nn = [1, 4]\nsizes = ["1024x1024"]\n'
        'largest = "1024x1024"\nqualities = ["standard"]\noutput_formats = ["png"]\n'
        'prices = { images = { standard = { "1024x1024" = 0.05 } } }\n',
    )
    catalogue, prices = load_models(path, ("square",), "square")
    assert catalogue.spec("square").edit is None
    assert prices.estimate("square", None, "1024x1024", 2).total_micros == 100_000


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[models.x]\nlike = "gpt-image-2"\ncolour = "blue"\n', "field colour: is not a field"),
        ('[models.x]\nlike = "gpt-image-2"\nprompt_max = "long"\n', "field prompt_max"),
        ('[models.x]\nlike = "midjourney"\n', "like = 'midjourney' names no model"),
        (
            '[models.x]\nlike = "gpt-image-2"\nsizes = ["1000x1000"]\n',
            "field sizes: 1000x1000 breaks its own free_size rule: a side is not a multiple "
            "of step",
        ),
        ("[models.x]\nprompt_max = 10\n", "is new and names no `like`: it must set n, sizes"),
        ('[models.x]\nlike = "x"\n', "goes round in a circle"),
        ('[models.x]\nlike = "gpt-image-2"\nn = [0, 20]\n', "field n"),
        ('[models.x]\nlike = "dall-e-3"\ntransparent = true\n', 'needs "background" in params'),
        (
            '[models.x]\nlike = "dall-e-3"\ndefault_quality = "high"\n',
            "field default_quality: 'high' is not one of its qualities",
        ),
        (
            '[models.x]\nlike = "dall-e-3"\nsizes = ["1792x1024"]\n',
            "field default_size: '1024x1024' is not one of its sizes",
        ),
        ("[models.x\n", "is not valid TOML"),
        ("[other]\n", 'under [models."name"] tables'),
    ],
)
def test_a_bad_file_is_one_paragraph_naming_file_model_and_field(
    tmp_path: Path, text: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ModelsFileError) as caught:
        load_profiles(path)
    message = str(caught.value)
    assert message.startswith(f"MODELS_FILE {path}") and words in message, message
    assert "\n" not in message and "Traceback" not in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelsFileError, match="cannot be read"):
        load_profiles(tmp_path / "nowhere.toml")


def test_the_example_file_documents_every_field_and_its_examples_load(tmp_path: Path) -> None:
    example = REPO / "models.example.toml"
    text = example.read_text(encoding="utf-8")
    assert load_profiles(example) == builtin_profiles()  # only comments
    for field in ("like", "enabled", "description", "prompt_max", "n", "sizes", "largest",
                  "qualities", "free_size", "edit", "transparent", "output_formats", "styles",
                  "params", "response_format", "default_quality", "default_size",
                  "prices"):  # fmt: skip
        assert f"#   {field} " in text, field
    # The commented examples, uncommented, are a valid models file.
    code = re.compile(r"^# (\[models\.|[a-z_]+ = )")
    lines = [line[2:] for line in text.splitlines() if code.match(line)]
    profiles = load_profiles(write(tmp_path, "\n".join(lines)))
    assert profiles["gpt-image-2.5-flare"].transparent
    assert not profiles["dall-e-2"].enabled and profiles["my-image-model"].n_max == 4
    assert profiles["my-image-model"].default_quality == "standard"


def test_defaults_say_what_the_api_uses_when_nothing_is_asked(tmp_path: Path) -> None:
    profiles = builtin_profiles()
    assert (profiles["dall-e-3"].default_quality, profiles["dall-e-3"].default_size) == (
        "standard",
        "1024x1024",
    )
    assert profiles["gpt-image-2"].default_quality == profiles["gpt-image-2"].default_size == "auto"
    # Inherited through `like`, changed by naming them.
    path = write(tmp_path, '[models.x]\nlike = "dall-e-3"\ndefault_size = "1792x1024"\n')
    made = load_profiles(path)["x"]
    assert (made.default_quality, made.default_size) == ("standard", "1792x1024")


def test_enabled_models_and_the_default_must_have_profiles(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no profile describes"):
        load_models(None, ("gpt-image-2", "gpt-image-9"), "gpt-image-2")
    hidden = write(tmp_path, '[models."gpt-image-2"]\nenabled = false\n')
    with pytest.raises(CatalogueError, match="DEFAULT_MODEL gpt-image-2 is not enabled"):
        load_models(hidden, None, "gpt-image-2")
