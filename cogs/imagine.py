"""/imagine (a typed prompt, required) and /imagine-file (a long prompt in a .txt file): a
prompt and the model's options in, images out."""

from __future__ import annotations

from discord import Attachment, Interaction, app_commands
from discord.app_commands import Range
from discord.ext import commands

from bot.core.catalogue import RawOptions
from bot.discord.client import ImageBot
from bot.discord.intake import submit_request
from cogs._options import PROMPT_FILE, PROMPT_MAX, image_options


class Imagine(commands.Cog):
    """The /imagine and /imagine-file commands."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot

    # The prompt is required, so Discord opens its field at once; a prompt longer than an
    # option may hold (6,000 characters) goes through /imagine-file instead. discord.py reads
    # each command's options from its callback's parameters, so the two spell out the same ones.
    @app_commands.command(name="imagine")
    @app_commands.describe(
        prompt="What to draw, in your own words (for over 6,000 characters: /imagine-file)"
    )
    @image_options()
    async def imagine(
        self,
        interaction: Interaction[ImageBot],
        prompt: Range[str, 1, PROMPT_MAX],
        model: str | None = None,
        aspect: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        n: Range[int, 1, 10] | None = None,
        background: str | None = None,
        output_format: str | None = None,
        style: str | None = None,
        private: bool | None = None,
    ) -> None:
        """Make images from a description."""
        options = RawOptions(
            prompt=prompt,
            model=model,
            aspect=aspect,
            size=size,
            quality=quality,
            n=n,
            background=background,
            output_format=output_format,
            style=style,
        )
        await submit_request(
            self.bot, interaction, options, kind="generate", private=private, member_defaults=True
        )

    @app_commands.command(name="imagine-file")
    @app_commands.describe(prompt_file=PROMPT_FILE)
    @image_options()
    async def imagine_file(
        self,
        interaction: Interaction[ImageBot],
        prompt_file: Attachment,
        model: str | None = None,
        aspect: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        n: Range[int, 1, 10] | None = None,
        background: str | None = None,
        output_format: str | None = None,
        style: str | None = None,
        private: bool | None = None,
    ) -> None:
        """Make images from a long prompt in a .txt file."""
        options = RawOptions(
            prompt="",
            model=model,
            aspect=aspect,
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
            member_defaults=True,
        )


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Imagine(bot))
