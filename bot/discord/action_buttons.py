"""The action buttons under a result, working after restarts like Re-roll: Vary, Remix, Upscale,
Zoom out and Pan, and for a result of several images a numbered button per image.

Custom ids hold ids only (Discord allows 100 characters; these stay under 45):
`act:<action>:<job id>:<image from 0>` for an action, `act:pick:<job id>:<image>` for an image's
number. A result of one image carries the actions themselves (rows 2-4 under Re-roll, Edit,
Details, Delete); one of several carries the numbers (Discord allows five rows of five
buttons: ten images times ten actions would not fit), and a number answers privately with that
image's actions. What each does lives in bot/discord/iterate.py; the classes are registered
with `add_dynamic_items` by cogs/results.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Self

import discord

from bot.core.actions import ACTIONS, ROWS, subject_of
from bot.core.errors import BotError
from bot.discord import iterate
from bot.discord.inputs import result_attachment
from bot.discord.language import SpeaksTheirLanguage
from bot.discord.replies import report_error
from bot.discord.result_access import button_job
from bot.discord.texts import EMBED_COLOUR
from bot.i18n import N_, _
from bot.i18n.numbers import number

if TYPE_CHECKING:
    from bot.discord.client import ImageBot

log = logging.getLogger(__name__)

REMIX_PROMPT_MAX = 4000  # Discord's limit for a modal text input
PER_ROW = 5  # Discord: at most five buttons in a row
_NAMES = "|".join(re.escape(name) for name in ACTIONS)
TOO_LONG_TO_REMIX = N_(
    "This prompt is longer than a form can hold ({limit} characters), so it cannot be "
    "remixed here: use /edit-file with the image and a prompt file. Nothing was charged."
)
NOTHING_TO_DO = N_(
    "No action can be done with this image on the models available now. Nothing was charged."
)


class _ImageButton(
    SpeaksTheirLanguage, discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"act:.+"
):
    """A button naming a job and one of its images (never registered itself)."""

    def __init__(self, custom_id: str, label: str, emoji: str, row: int | None) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=label, emoji=emoji, style=discord.ButtonStyle.secondary, custom_id=custom_id
        )
        super().__init__(button, row=row)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a pressed custom id (in any process)."""
        return cls.from_match(match)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        """The button its template's groups describe."""
        raise NotImplementedError


class ActionButton(
    _ImageButton,
    template=rf"act:(?P<action>{_NAMES}):(?P<job>\d{{1,20}}):(?P<image>\d{{1,2}})",
):
    """One action on one image of a job; whoever presses pays for the new job."""

    def __init__(self, action: str, job_id: int, index: int, *, row: int | None = None) -> None:
        shown = ACTIONS[action]
        custom_id = f"act:{action}:{job_id}:{index}"
        super().__init__(custom_id, _(shown.label), shown.emoji, row)
        self.action, self.job_id, self.index = action, job_id, index

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        """The action, the job and the image from the custom id."""
        return cls(match["action"], int(match["job"]), int(match["image"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Run the action (Remix: ask for the prompt first); errors are told privately."""
        try:
            if self.action == "remix":
                await _ask_remix(interaction, self.job_id, self.index)
            else:
                await iterate.act(interaction, self.job_id, self.index, self.action)
        except Exception as error:
            log.debug("action %s on job %d failed: %r", self.action, self.job_id, error)
            await report_error(interaction, error)


class PickButton(_ImageButton, template=r"act:pick:(?P<job>\d{1,20}):(?P<image>\d{1,2})"):
    """An image's number under a result of several: answers with that image's actions."""

    def __init__(self, job_id: int, index: int, *, row: int | None = None) -> None:
        label = _("Image {number}").format(number=index + 1)
        super().__init__(f"act:pick:{job_id}:{index}", label, "🖼️", row)
        self.job_id, self.index = job_id, index

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        """The job and the image from the custom id."""
        return cls(int(match["job"]), int(match["image"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Show this image's actions to whoever pressed, privately."""
        try:
            await _show_picker(interaction, self.job_id, self.index)
        except Exception as error:
            await report_error(interaction, error)


class RemixModal(SpeaksTheirLanguage, discord.ui.Modal, title="Remix this image"):
    """The prompt, prefilled, to change and send with the image."""

    def __init__(self, job_id: int, index: int, prompt: str) -> None:
        # A form left open is forgotten after 15 minutes (its interaction token's lifetime).
        super().__init__(timeout=15 * 60, title=_("Remix this image"))
        self.job_id, self.index = job_id, index
        self.prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            default=prompt,
            max_length=REMIX_PROMPT_MAX,
        )
        # A Label around the input: TextInput's own label is deprecated since discord.py 2.6.
        self.add_item(discord.ui.Label(text=_("Prompt"), component=self.prompt))

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        """Submit the remix: this image, the new prompt."""
        await iterate.act(interaction, self.job_id, self.index, "remix", prompt=self.prompt.value)

    async def on_error(  # type: ignore[override]  # Modal narrows BaseView's signature
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        """Same private error handling as every command; the form is done either way."""
        self.stop()
        await report_error(interaction, error)


def add_actions(
    view: discord.ui.View, job_id: int, index: int, actions: Collection[str], *, first_row: int
) -> None:
    """The action buttons for one image, a row per kind (ROWS), from `first_row` down."""
    row = first_row
    for names in ROWS:
        shown = [name for name in names if name in actions]
        for name in shown:
            view.add_item(ActionButton(name, job_id, index, row=row))
        row += 1 if shown else 0


def add_picks(view: discord.ui.View, job_id: int, count: int, *, first_row: int) -> None:
    """A numbered button per image, five a row (ten images: two rows)."""
    for index in range(count):
        view.add_item(PickButton(job_id, index, row=first_row + index // PER_ROW))


async def _ask_remix(interaction: discord.Interaction[ImageBot], job_id: int, index: int) -> None:
    """The form with the prompt prefilled (a form is the one answer that needs no defer)."""
    record = await button_job(interaction, job_id, picker=True)
    prompt = subject_of(record.params)
    if len(prompt) > REMIX_PROMPT_MAX:
        raise BotError(_(TOO_LONG_TO_REMIX).format(limit=number(REMIX_PROMPT_MAX)))
    await interaction.response.send_modal(RemixModal(job_id, index, prompt))


async def _show_picker(interaction: discord.Interaction[ImageBot], job_id: int, index: int) -> None:
    """Image `index`'s actions, privately, with the image itself to show which one."""
    record = await button_job(interaction, job_id)
    if index >= record.images_charged:
        raise BotError(_(iterate.NO_SUCH_IMAGE).format(number=index + 1))
    message = interaction.message
    image = result_attachment(message, record.kind, job_id, index) if message else None
    size = iterate.made_size(record, image)
    actions = iterate.offered_actions(interaction.client.catalogue, record.model, size)
    if not actions:
        raise BotError(_(NOTHING_TO_DO))
    view = discord.ui.View(timeout=None)
    add_actions(view, job_id, index, actions, first_row=0)
    title = _("Image {number} of request #{job}").format(number=index + 1, job=job_id)
    embed = discord.Embed(title=title, colour=EMBED_COLOUR)
    if image is not None:
        embed.set_image(url=image.url)
    await interaction.response.send_message(
        _(
            "What should I do with this image? Each choice makes one new image, counted in your "
            "images for today."
        ),
        embed=embed,
        view=view,
        ephemeral=True,
    )
