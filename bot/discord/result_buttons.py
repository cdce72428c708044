"""Result buttons that outlive restarts: Re-roll, Edit, Details and Delete under delivered images,
and below them the actions (bot/discord/action_buttons.py).

Each button is a `discord.ui.DynamicItem` whose custom id holds only the job id
(`result:<action>:<job id>`); everything else is read back from the jobs table when it is
pressed, so a message sent by an earlier process works the same in this one. The bot
registers the classes with `add_dynamic_items` (cogs/results.py); the reporter attaches
`result_view(job_id, **shown_buttons(interaction))` to the first message of every delivery:
the buttons that can work for that job (no Re-roll for an edit of uploads, which are not kept).

What each button does lives in bot/discord/result_actions.py.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.core.models import GeneratedImage, ImageRequest
from bot.discord import result_actions
from bot.discord.action_buttons import add_actions, add_picks
from bot.discord.iterate import offered_actions
from bot.discord.job_buttons import JobButton
from bot.discord.language import SpeaksTheirLanguage
from bot.discord.replies import report_error
from bot.discord.result_texts import REROLL_KEY, can_edit_results
from bot.i18n import N_, _

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

EDIT_PROMPT_MAX = 4000  # Discord's limit for a modal text input
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")


class ResultButton(JobButton, template=r"result:\w+:\d+"):
    """One result button; subclasses name the action, label and style (never registered)."""

    area = "result"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Run the action; a BotError (or anything unexpected) is told to the member privately."""
        try:
            await self.act(interaction)
        except Exception as error:
            log.debug("result button %s on job %d failed: %r", self.action, self.job_id, error)
            await report_error(interaction, error)

    async def act(self, interaction: discord.Interaction[Any]) -> None:
        """What pressing the button does."""
        raise NotImplementedError


class RerollButton(ResultButton, template=r"result:reroll:(?P<job>\d{1,20})"):
    """The same parameters again: a new job, charged to whoever presses."""

    action, label, emoji = "reroll", N_("Re-roll"), "🎲"

    async def act(self, interaction: discord.Interaction[Any]) -> None:
        """Submit the job's parameters again."""
        await result_actions.reroll(interaction, self.job_id)


class EditButton(ResultButton, template=r"result:edit:(?P<job>\d{1,20})"):
    """A new prompt applied to this result image (an edit job)."""

    action, label, emoji = "edit", N_("Edit"), "🖌️"

    async def act(self, interaction: discord.Interaction[Any]) -> None:
        """Ask for the prompt (a modal is the only answer that needs no defer)."""
        message = interaction.message
        files = message.attachments if message else []
        # Its place among the message's files is the image's number in the job (from 0).
        images = [(place, item) for place, item in enumerate(files) if _is_image(item)]
        if message is None or not images:
            await report_error(interaction, result_actions.NothingToEdit())
            return
        modal = EditResultModal(self.job_id, images, private=message.flags.ephemeral)
        await interaction.response.send_modal(modal)


class DetailsButton(ResultButton, template=r"result:details:(?P<job>\d{1,20})"):
    """Everything about the job, shown only to whoever presses."""

    action, label, emoji = "details", N_("Details"), "ℹ️"

    async def act(self, interaction: discord.Interaction[Any]) -> None:
        """Show the details privately."""
        await result_actions.show_details(interaction, self.job_id)


class DeleteButton(ResultButton, template=r"result:delete:(?P<job>\d{1,20})"):
    """Remove the result: the member who asked, or a moderator."""

    action, label, emoji = "delete", N_("Delete"), "🗑️"
    style = discord.ButtonStyle.danger

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Delete; its errors are handled inside, as report_error must not touch this message."""
        await result_actions.delete_result(interaction, self.job_id)


# What cogs/results.py registers with bot.add_dynamic_items, in button order.
RESULT_BUTTONS: tuple[type[ResultButton], ...] = (
    RerollButton,
    EditButton,
    DetailsButton,
    DeleteButton,
)


def result_view(
    job_id: int,
    *,
    reroll: bool = True,
    edit: bool = True,
    actions: Collection[str] = (),
    images: int = 1,
) -> discord.ui.View:
    """The buttons for a delivered job, without those that could never work: Re-roll, Edit,
    Details, Delete in the first row; below, the `actions` for its one image, or a numbered
    button per image when it has several (bot/discord/action_buttons.py).

    No timeout: the view holds only dynamic items, so discord.py keeps no per-message state
    for it, and a timeout would only unregister the classes the cog registered.
    """
    shown = {RerollButton: reroll, EditButton: edit}
    view = discord.ui.View(timeout=None)
    for button in RESULT_BUTTONS:
        if shown.get(button, True):
            item = button(job_id)
            item.row = 0
            view.add_item(item)
    if actions and images == 1:
        add_actions(view, job_id, 0, actions, first_row=1)
    elif actions:
        add_picks(view, job_id, images, first_row=1)
    return view


def shown_buttons(
    interaction: discord.Interaction[Any],
    request: ImageRequest | None = None,
    images: Sequence[GeneratedImage] = (),
) -> dict[str, Any]:
    """result_view's arguments for the job this interaction asked for: no Re-roll for an edit
    of uploads (the intake marked it: uploads are not kept), no Edit while no model edits, and
    the actions its model's editor can do for pictures of the size delivered."""
    bot: ImageBot = interaction.client
    reroll = interaction.extras.get(REROLL_KEY, True) is not False
    shown: dict[str, Any] = {"reroll": reroll, "edit": can_edit_results(bot.catalogue)}
    if request is not None and images:
        first = images[0]
        size = (first.width, first.height) if first.width and first.height else None
        shown["actions"] = offered_actions(bot.catalogue, request.model, size)
        shown["images"] = len(images)
    return shown


# The edit form's words (also the Edit images menu's, cogs/edit.py): translated per form.
EDIT_LABEL = N_("What should change?")
EDIT_PLACEHOLDER = N_("e.g. make it night time, add a lighthouse on the cliff")


class EditResultModal(SpeaksTheirLanguage, discord.ui.Modal, title="Edit this image"):
    """Asks for the new prompt (and which image, when the message holds several)."""

    def __init__(
        self, job_id: int, images: list[tuple[int, discord.Attachment]], *, private: bool
    ) -> None:
        # A modal left open is forgotten after 15 minutes (its interaction token's lifetime).
        super().__init__(timeout=15 * 60, title=_("Edit this image"))
        # Labels around the inputs: TextInput's own label is deprecated since discord.py 2.6.
        self.prompt: discord.ui.TextInput[EditResultModal] = discord.ui.TextInput(
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            max_length=EDIT_PROMPT_MAX,
            placeholder=_(EDIT_PLACEHOLDER),
        )
        self.add_item(discord.ui.Label(text=_(EDIT_LABEL), component=self.prompt))
        self.job_id = job_id
        self.images = images
        self.private = private
        self.which: discord.ui.TextInput[EditResultModal] | None = None
        if len(images) > 1:
            self.which = discord.ui.TextInput(
                custom_id="image", default="1", max_length=2, required=False
            )
            which = _("Which image (1-{count})?").format(count=len(images))
            self.add_item(discord.ui.Label(text=which, component=self.which))

    def chosen(self) -> tuple[int, discord.Attachment]:
        """The image the member picked (the first unless they named another), with its place."""
        text = (self.which.value if self.which is not None else "").strip() or "1"
        # isdigit() alone also passes "²" (which int() refuses) and "٣" (which it reads as 3).
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= len(self.images):
            raise result_actions.BadImageNumber(text, len(self.images))
        return self.images[int(text) - 1]

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        """Submit an edit job of the chosen image with the new prompt."""
        place, image = self.chosen()
        await result_actions.edit_result(
            interaction, self.job_id, self.prompt.value, image, place, private=self.private
        )

    async def on_error(  # type: ignore[override]  # Modal narrows BaseView's signature
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        """Same private error handling as every command; the modal is done either way."""
        self.stop()
        await report_error(interaction, error)


def _is_image(attachment: discord.Attachment) -> bool:
    declared = (attachment.content_type or "").split(";")[0].strip().lower()
    if declared:
        return declared in IMAGE_TYPES
    return attachment.filename.lower().endswith((".png", ".jpg", ".jpeg", ".webp"))
