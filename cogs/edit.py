"""/edit (a typed prompt), /edit-file (a long prompt in a .txt file) and the **Edit images**
message menu: uploaded images plus a prompt in, images out."""

from __future__ import annotations

from collections.abc import Sequence
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
from bot.discord.language import SpeaksTheirLanguage
from bot.discord.replies import report_error
from bot.discord.result_buttons import EDIT_LABEL, EDIT_PLACEHOLDER
from bot.i18n import _
from cogs._options import PROMPT_FILE, PROMPT_MAX, image_options

MAX_MENU_IMAGES = 16


class EditPrompt(SpeaksTheirLanguage, discord.ui.Modal, title="Edit images"):
    """Asks for the prompt when editing a message's images from the context menu."""

    def __init__(self, bot: ImageBot, attachments: list[Input]) -> None:
        super().__init__(title=_("Edit images"))
        # A Label around the input: TextInput's own label is deprecated since discord.py 2.6.
        self.prompt: discord.ui.TextInput[EditPrompt] = discord.ui.TextInput(
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            max_length=4000,
            placeholder=_(EDIT_PLACEHOLDER),
        )
        self.add_item(discord.ui.Label(text=_(EDIT_LABEL), component=self.prompt))
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
    """The /edit and /edit-file commands and the Edit images message menu."""

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

    # The prompt is required, so Discord opens its field at once; a prompt longer than an
    # option may hold (6,000 characters) goes through /edit-file instead. discord.py reads each
    # command's options from its callback's parameters, so the two spell out the same ones.
    @app_commands.command(name="edit")
    @app_commands.describe(
        prompt="What to change, in your own words (for over 6,000 characters: /edit-file)"
    )
    @image_options(edit=True)
    async def edit(
        self,
        interaction: Interaction[ImageBot],
        image: discord.Attachment,
        prompt: Range[str, 1, PROMPT_MAX],
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        mask: discord.Attachment | None = None,
        model: str | None = None,
        aspect: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        n: Range[int, 1, 10] | None = None,
        background: str | None = None,
        output_format: str | None = None,
        private: bool | None = None,
    ) -> None:
        """Edit or combine uploaded images as you describe."""
        options = RawOptions(
            prompt=prompt,
            model=model,
            aspect=aspect,
            size=size,
            quality=quality,
            n=n,
            background=background,
            output_format=output_format,
        )
        await self._submit(interaction, options, (image, image2, image3, image4), mask, private)

    @app_commands.command(name="edit-file")
    @app_commands.describe(prompt_file=PROMPT_FILE)
    @image_options(edit=True)
    async def edit_file(
        self,
        interaction: Interaction[ImageBot],
        image: discord.Attachment,
        prompt_file: discord.Attachment,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        mask: discord.Attachment | None = None,
        model: str | None = None,
        aspect: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        n: Range[int, 1, 10] | None = None,
        background: str | None = None,
        output_format: str | None = None,
        private: bool | None = None,
    ) -> None:
        """Edit or combine uploaded images with a long prompt in a .txt file."""
        options = RawOptions(
            prompt="",
            model=model,
            aspect=aspect,
            size=size,
            quality=quality,
            n=n,
            background=background,
            output_format=output_format,
        )
        images = (image, image2, image3, image4)
        await self._submit(interaction, options, images, mask, private, prompt_file)

    async def _submit(
        self,
        interaction: Interaction[ImageBot],
        options: RawOptions,
        images: Sequence[discord.Attachment | None],
        mask: discord.Attachment | None,
        private: bool | None,
        prompt_file: discord.Attachment | None = None,
    ) -> None:
        """Both edit commands' one way in: the images given, in order, to the intake."""
        await submit_request(
            self.bot,
            interaction,
            options,
            kind="edit",
            private=private,
            attachments=[item for item in images if item is not None],
            mask=mask,
            prompt_file=prompt_file,
            member_defaults=True,
        )

    async def edit_menu(self, interaction: Interaction[ImageBot], message: discord.Message) -> None:
        """Edit every image attached to this message."""
        images = await inputs_of_message(self.bot, message)
        if not images:
            raise InvalidRequest(_("That message has no PNG, JPEG or WebP images to edit."))
        if len(images) > MAX_MENU_IMAGES:
            raise InvalidRequest(
                _("That message has {count} images; I can edit at most {most}.").format(
                    count=len(images), most=MAX_MENU_IMAGES
                )
            )
        await interaction.response.send_modal(EditPrompt(self.bot, images))


async def setup(bot: ImageBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Edit(bot))
