"""/imagine: a prompt (typed, or a .txt file) and the model's options in, images out."""

from __future__ import annotations

from discord import Attachment, Interaction, app_commands
from discord.app_commands import Range
from discord.ext import commands

from bot.core.catalogue import RawOptions
from bot.discord.client import ImageBot
from bot.discord.intake import submit_request
from cogs._options import (
    BACKGROUNDS,
    FORMATS,
    PROMPT_MAX,
    STYLES,
    suggest_models,
    suggest_qualities,
    suggest_sizes,
)


class Imagine(commands.Cog):
    """The /imagine command."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @app_commands.describe(
        prompt="What to draw (or attach prompt_file for a longer prompt)",
        prompt_file="A UTF-8 .txt file holding the prompt, for prompts over 6,000 characters",
        model="Image model: the list shows what each can do",
        size="Size as WIDTHxHEIGHT; suggestions follow the model",
        quality="Quality: the list follows the model",
        n="How many images (each model has its own limit)",
        background="Transparent or opaque background (GPT image models)",
        output_format="File format (GPT image models)",
        style="vivid or natural, for models with styles",
        private="Only you see the result",
    )
    @app_commands.choices(background=BACKGROUNDS, output_format=FORMATS, style=STYLES)
    @app_commands.autocomplete(model=suggest_models, size=suggest_sizes, quality=suggest_qualities)
    async def imagine(
        self,
        interaction: Interaction[ImageBot],
        prompt: Range[str, 1, PROMPT_MAX] | None = None,
        prompt_file: Attachment | None = None,
        model: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        n: Range[int, 1, 10] | None = None,
        background: str | None = None,
        output_format: str | None = None,
        style: str | None = None,
        private: bool = False,
    ) -> None:
        """Create images from a text prompt."""
        options = RawOptions(
            prompt=prompt or "",
            model=model,
            size=size,
            quality=quality,
            n=n,
            background=background,
            output_format=output_format,
            style=style,
        )
        await submit_request(
            self.bot,
            interaction,
            options,
            kind="generate",
            private=private,
            prompt_file=prompt_file,
        )


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Imagine(bot))
