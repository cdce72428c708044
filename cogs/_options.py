"""Options shared by /imagine, /imagine-file, /edit and /edit-file (not a cog: imported by the
cogs): members' names and plain descriptions, fixed choices, and the autocompletes.

The callbacks' parameters keep the API's names (`n`, `output_format`), as the catalogue, the
ledger and the WisGate payload do; RENAMES shows them to members as `count` and `format`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from discord import Interaction, app_commands
from discord.app_commands import Choice, locale_str

from bot.core.aspects import ASPECTS
from bot.discord.client import ImageBot
from bot.i18n import N_

PROMPT_MAX = 6000  # Discord's limit for a string option; models allow more via prompt files
CHOICE_NAME_MAX = 100  # Discord's limit for a choice's name
EDIT_COMMANDS = frozenset({"edit", "edit-file"})
Callback = TypeVar("Callback", bound=Callable[..., Any])

RENAMES = {"n": "count", "output_format": "format"}
# The aspects' words, translated (with the ratio after them) by bot/discord/language.py.
ASPECT_WORDS = {
    "square": N_("square"),
    "portrait": N_("portrait"),
    "landscape": N_("landscape"),
    "wide": N_("wide"),
    "tall": N_("tall"),
}
ASPECT_CHOICES = [
    Choice(
        name=locale_str(
            f"{name} ({width}:{height})", aspect=ASPECT_WORDS[name], ratio=f"{width}:{height}"
        ),
        value=name,
    )
    for name, (width, height) in ASPECTS.items()
]
BACKGROUNDS = [
    Choice(name=N_("auto (the model decides)"), value="auto"),
    Choice(name=N_("opaque (a solid background)"), value="opaque"),
    Choice(name=N_("transparent (a cut-out)"), value="transparent"),
]
FORMATS = [
    Choice(name=N_("png (sharpest, largest files)"), value="png"),
    Choice(name=N_("jpeg (smallest files)"), value="jpeg"),
    Choice(name=N_("webp (small files)"), value="webp"),
]
STYLES = [
    Choice(name=N_("vivid (dramatic, hyper-real)"), value="vivid"),
    Choice(name=N_("natural (more realistic)"), value="natural"),
]

# What members read under each option (Discord allows 100 characters), by parameter name.
PROMPT_FILE = N_("A UTF-8 .txt file holding your prompt, for prompts over 6,000 characters")
DESCRIPTIONS = dict(
    model=N_("Which image model: the list says what each one can do"),
    aspect=N_("Picture shape: square, portrait, landscape, wide (16:9) or tall (9:16)"),
    size=N_("Exact size like 1536x1024, or a ratio like 16:9 (suggestions follow the model)"),
    quality=N_("Quality: the choices follow the model (higher takes longer)"),
    n=N_("How many images to make (some models make one at a time)"),
    background=N_("Transparent or solid background (only some models)"),
    output_format=N_("File type of the images (only some models)"),
    style=N_("Vivid or natural look (only some models)"),
    private=N_("Only you see the result"),
)
EDIT_DESCRIPTIONS = dict(
    {name: text for name, text in DESCRIPTIONS.items() if name != "style"},  # no edit has one
    image=N_("The image to edit"),
    image2=N_("A second image, to combine with the first"),
    image3=N_("A third image"),
    image4=N_("A fourth image"),
    mask=N_("A PNG the size of the first image: its transparent part marks where to change"),
    model=N_("Which image model: the list shows those that can edit"),
)


def image_options(*, edit: bool = False) -> Callable[[Callback], Callback]:
    """Everything the image commands' shared options need: members' names, descriptions, fixed
    choices, autocompletes, and the places the commands work (servers, DMs, user installs)."""

    def apply(callback: Callback) -> Callback:
        choices: dict[str, list[Choice[str]]] = dict(
            aspect=ASPECT_CHOICES, background=BACKGROUNDS, output_format=FORMATS
        )
        if not edit:
            choices["style"] = STYLES
        decorators = [
            app_commands.describe(**(EDIT_DESCRIPTIONS if edit else DESCRIPTIONS)),
            app_commands.rename(**RENAMES),
            app_commands.choices(**choices),
            app_commands.autocomplete(
                model=suggest_models, size=suggest_sizes, quality=suggest_qualities
            ),
            app_commands.allowed_installs(guilds=True, users=True),
            app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True),
        ]
        for decorator in decorators:
            callback = decorator(callback)
        return callback

    return apply


async def suggest_models(interaction: Interaction[ImageBot], current: str) -> list[Choice[str]]:
    """Autocomplete for `model`: the models available now, with what each can do.

    Not fixed choices: those are frozen when commands sync, while models come and go with
    the gateway's listing. A typed name outside these is refused before the defer.
    """
    edits = interaction.command is not None and interaction.command.name in EDIT_COMMANDS
    found = interaction.client.catalogue.model_choices(current, edits=edits)
    return [Choice(name=_label(name, summary), value=name) for name, summary in found]


def _label(name: str, summary: str) -> str:
    label = f"{name}: {summary}" if summary else name
    return label if len(label) <= CHOICE_NAME_MAX else label[: CHOICE_NAME_MAX - 1] + "…"


async def suggest_qualities(interaction: Interaction[ImageBot], current: str) -> list[Choice[str]]:
    """Autocomplete for `quality`: the chosen model's qualities (the default model's if none)."""
    model = getattr(interaction.namespace, "model", None)
    qualities = interaction.client.catalogue.quality_choices(model, current)
    return [Choice(name=quality, value=quality) for quality in qualities]


async def suggest_sizes(interaction: Interaction[ImageBot], current: str) -> list[Choice[str]]:
    """Autocomplete for `size`: the chosen model's sizes (free sizes where it takes them, and
    the size for a typed ratio like 16:9)."""
    model = getattr(interaction.namespace, "model", None)
    sizes = interaction.client.catalogue.size_choices(model, current)
    return [Choice(name=size, value=size) for size in sizes]
