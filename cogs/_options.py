"""Option choices shared by /imagine and /edit (not a cog: imported by the cogs)."""

from __future__ import annotations

from discord import Interaction
from discord.app_commands import Choice

from bot.discord.client import ImageBot

BACKGROUNDS = [Choice(name=name, value=name) for name in ("auto", "opaque", "transparent")]
FORMATS = [Choice(name=name, value=name) for name in ("png", "jpeg", "webp")]
STYLES = [Choice(name=name, value=name) for name in ("vivid", "natural")]
PROMPT_MAX = 6000  # Discord's limit for a string option; models allow more via prompt files
CHOICE_NAME_MAX = 100  # Discord's limit for a choice's name


async def suggest_models(interaction: Interaction[ImageBot], current: str) -> list[Choice[str]]:
    """Autocomplete for `model`: the models available now, with what each can do.

    Not fixed choices: those are frozen when commands sync, while models come and go with
    the gateway's listing. A typed name outside these is refused before the defer.
    """
    edits = interaction.command is not None and interaction.command.name != "imagine"
    found = interaction.client.catalogue.model_choices(current, edits=edits)
    return [Choice(name=_label(name, summary), value=name) for name, summary in found]


def _label(name: str, summary: str) -> str:
    label = f"{name}: {summary}" if summary else name
    return label if len(label) <= CHOICE_NAME_MAX else label[: CHOICE_NAME_MAX - 1] + "…"


async def suggest_qualities(interaction: Interaction[ImageBot], current: str) -> list[Choice[str]]:
    """Autocomplete for `quality`: the chosen model's qualities."""
    model = getattr(interaction.namespace, "model", None)
    qualities = interaction.client.catalogue.quality_choices(model, current)
    return [Choice(name=quality, value=quality) for quality in qualities]


async def suggest_sizes(interaction: Interaction[ImageBot], current: str) -> list[Choice[str]]:
    """Autocomplete for `size`: the chosen model's sizes (free sizes where it takes them)."""
    model = getattr(interaction.namespace, "model", None)
    sizes = interaction.client.catalogue.size_choices(model, current)
    return [Choice(name=size, value=size) for size in sizes]
