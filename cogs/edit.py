"""/edit and the **Edit images** message menu: uploaded images plus a prompt in, images out."""

from __future__ import annotations

from typing import Any

import discord
from discord import Interaction, app_commands
from discord.app_commands import Range
from discord.ext import commands

from bot.core.catalogue import RawOptions
from bot.core.errors import InvalidRequest
from bot.discord.client import ImageBot
from bot.discord.inputs import Input, inputs_of_message
from bot.discord.intake import submit_request
from bot.discord.replies import report_error
from cogs._options import (
    BACKGROUNDS,
    FORMATS,
    PROMPT_MAX,
    suggest_models,
    suggest_qualities,
    suggest_sizes,
)

MAX_MENU_IMAGES = 16


class EditPrompt(discord.ui.Modal, title="Edit images"):
    """Asks for the prompt when editing a message's images from the context menu."""

    prompt: discord.ui.TextInput[EditPrompt] = discord.ui.TextInput(
        label="What should change?",
        custom_id="prompt",
        style=discord.TextStyle.paragraph,
        max_length=4000,
        placeholder="e.g. make it night time, add a lighthouse on the cliff",
    )

    def __init__(self, bot: ImageBot, attachments: list[Input]) -> None:
        super().__init__()
        self.bot = bot
        self.attachments = attachments

    async def on_submit(self, interaction: Interaction[Any], /) -> None:
        """Run the edit with the message's images."""
        options = RawOptions(prompt=self.prompt.value)
        await submit_request(
            self.bot,
            interaction,
            options,
            kind="edit",
            private=False,
            attachments=self.attachments,
        )

    async def on_error(  # type: ignore[override]  # Modal narrows BaseView's signature
        self, interaction: Interaction[Any], error: Exception, /
    ) -> None:
        """Same private error handling as every command."""
        await report_error(interaction, error)


class Edit(commands.Cog):
    """The /edit command and the Edit images message menu."""

    def __init__(self, bot: ImageBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(
            name="Edit images",
            callback=self.edit_menu,
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=True, private_channel=True
            ),
            allowed_installs=app_commands.AppInstallationType(guild=True, user=True),
        )

    async def cog_load(self) -> None:
        """Register the message menu (context menus cannot live inside a cog class)."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Remove the message menu again."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="edit")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    @app_commands.describe(
        image="The image to edit",
        prompt="What to change (or attach prompt_file for a longer prompt)",
        image2="A second image (composition)",
        image3="A third image",
        image4="A fourth image",
        mask="PNG whose transparent pixels mark where to edit (same size as the first image)",
        model="Image model: the list shows those that edit",
        size="Output size as WIDTHxHEIGHT",
        quality="Quality: the list follows the model",
        n="How many images",
        background="Transparent or opaque background",
        output_format="File format",
        private="Only you see the result",
        prompt_file="A UTF-8 .txt file holding the prompt, for prompts over 6,000 characters",
    )
    @app_commands.choices(background=BACKGROUNDS, output_format=FORMATS)
    @app_commands.autocomplete(model=suggest_models, size=suggest_sizes, quality=suggest_qualities)
    async def edit(
        self,
        interaction: Interaction[ImageBot],
        image: discord.Attachment,
        prompt: Range[str, 1, PROMPT_MAX] | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        mask: discord.Attachment | None = None,
        model: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        n: Range[int, 1, 10] | None = None,
        background: str | None = None,
        output_format: str | None = None,
        private: bool = False,
        # Last: attachments given without a name fill image, image2... in order.
        prompt_file: discord.Attachment | None = None,
    ) -> None:
        """Edit or combine uploaded images with a prompt."""
        options = RawOptions(
            prompt=prompt or "",
            model=model,
            size=size,
            quality=quality,
            n=n,
            background=background,
            output_format=output_format,
        )
        images = [item for item in (image, image2, image3, image4) if item is not None]
        await submit_request(
            self.bot,
            interaction,
            options,
            kind="edit",
            private=private,
            attachments=images,
            mask=mask,
            prompt_file=prompt_file,
        )

    async def edit_menu(self, interaction: Interaction[ImageBot], message: discord.Message) -> None:
        """Edit every image attached to this message."""
        images = await inputs_of_message(self.bot, message)
        if not images:
            raise InvalidRequest("That message has no PNG, JPEG or WebP images to edit.")
        if len(images) > MAX_MENU_IMAGES:
            raise InvalidRequest(
                f"That message has {len(images)} images; I can edit at most {MAX_MENU_IMAGES}."
            )
        await interaction.response.send_modal(EditPrompt(self.bot, images))


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Edit(bot))
