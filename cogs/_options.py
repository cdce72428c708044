"""Option choices shared by /imagine and /edit (not a cog: imported by the cogs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from discord import Interaction, app_commands
from discord.app_commands import Choice

from bot.discord.client import ImageBot

QUALITIES = [
    Choice(name=name, value=name) for name in ("auto", "low", "medium", "high", "standard", "hd")
]
BACKGROUNDS = [Choice(name=name, value=name) for name in ("auto", "opaque", "transparent")]
FORMATS = [Choice(name=name, value=name) for name in ("png", "jpeg", "webp")]
STYLES = [Choice(name=name, value=name) for name in ("vivid", "natural")]
PROMPT_MAX = 6000  # Discord's limit for a string option; models allow more via prompt files


def offer_models(command: app_commands.Command[Any, ..., Any], models: Sequence[str]) -> None:
    """Make the `model` option's choices exactly the enabled models.

    Choices are normally fixed by a decorator at import time, but ours come from settings.
    The cog's command is a per-instance copy whose parameter dict is its own, so replacing
    the entry (never mutating the shared parameter object) changes this bot only.
    """
    params = command._params
    params["model"] = dataclasses.replace(
        params["model"], choices=[Choice(name=name, value=name) for name in models]
    )


async def suggest_sizes(interaction: Interaction[ImageBot], current: str) -> list[Choice[str]]:
    """Autocomplete for `size`: the chosen model's sizes (gpt-image-2 also takes free WxH)."""
    model = getattr(interaction.namespace, "model", None)
    sizes = interaction.client.catalogue.size_choices(model, current)
    return [Choice(name=size, value=size) for size in sizes]
