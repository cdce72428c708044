"""Pure pieces behind the result buttons: options rebuilt from a stored job, and the Details embed.

No network and no database here: bot/discord/result_actions.py reads the job and calls these.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import discord

from bot.core.actions import ACTIONS, action_of, action_words
from bot.core.catalogue import Catalogue, RawOptions
from bot.core.models import ImageRequest, JobKind
from bot.core.profiles import OUTPUT_FORMATS
from bot.core.text import format_duration, shorten
from bot.discord.result_command import command_block, command_line
from bot.discord.texts import (
    DESCRIPTION_EMBED_MAX,
    EMBED_COLOUR,
    FIELD_VALUE_MAX,
    REVISED_FIELD,
    safe_text,
)
from bot.discord.wording import discord_timestamp, format_usd
from bot.i18n import N_, _, every_translation
from bot.i18n.numbers import number
from bot.ledger.facade import JobRecord

# Room for the prompt in the Details embed: with every field at its longest the embed stays
# under Discord's 6,000 characters. A longer prompt comes along whole as a .txt file.
DETAILS_PROMPT_MAX = 3000
INPUTS_MAX = 300
# Interaction.extras: False when the job it asked for can never be re-rolled (see can_reroll).
REROLL_KEY = "rerollable"
# Result file names, as bot.images.fitting.file_name makes them: imagine-<job>-<k>.<ext>.
_RESULT_FILE = re.compile(r"(?:imagine|edit)-(\d{1,20})-\d{1,3}\.(?:png|jpg|webp)")
_STATUS_WORDS = {
    "succeeded": N_("delivered"),
    "failed": N_("failed, refunded"),
    "cancelled": N_("cancelled, refunded"),
    "expired": N_("expired in the queue, refunded"),
    "interrupted": N_("interrupted by a restart, refunded"),
    "queued": N_("queued"),
    "running": N_("running"),
}


def _text(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    return value if isinstance(value, str) else None


def _number(params: Mapping[str, Any], key: str) -> int | None:
    value = params.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _is_source(item: object) -> bool:
    """A recorded source (params["sources"]): [job id, image index], plain non-negative ints."""
    return (
        isinstance(item, list)
        and len(item) == 2
        and all(isinstance(part, int) and not isinstance(part, bool) for part in item)
        and item[0] > 0
        and item[1] >= 0
    )


def made_by_action(params: Mapping[str, Any]) -> bool:
    """Did an action make this job, from one result image it recorded (so Re-roll can run
    the action again: its canvas and mask are built anew from that image)?"""
    sources = params.get("sources")
    return (
        action_of(params) in ACTIONS
        and isinstance(sources, list)
        and len(sources) == 1
        and _is_source(sources[0])
    )


def can_reroll(kind: JobKind, params: Mapping[str, Any]) -> bool:
    """Can Re-roll ever work for this job? A generation, an action's job, or an edit without a
    mask whose every input was one of the bot's own results (kept by record): uploads are not
    kept."""
    if kind != "edit" or made_by_action(params):
        return True
    names, sources = params.get("inputs"), params.get("sources")
    if params.get("mask") is not None or not isinstance(names, list) or not names:
        return False
    return (
        isinstance(sources, list)
        and len(sources) == len(names)
        and all(_is_source(item) for item in sources)
    )


def can_edit_results(catalogue: Catalogue) -> bool:
    """Can the Edit button work now: does an available model edit?"""
    return any(catalogue.profiles[name].can_edit for name in catalogue.available)


def stored_prompt(record: JobRecord) -> str:
    """The prompt the job was made from ('' when the row has none)."""
    return _text(record.params, "prompt") or ""


def is_private(record: JobRecord) -> bool:
    """Was the job asked for privately (its result only the member's to see)?"""
    return record.params.get("private") is True


def reroll_options(record: JobRecord) -> RawOptions:
    """Exactly the options the job sent WisGate, so a re-roll asks for the same thing.

    The output format and compression are passed too, even when the bot chose them: they
    are part of what the member got, and being explicit they are kept as they are.
    """
    params = record.params
    return RawOptions(
        prompt=stored_prompt(record),
        model=record.model,
        size=_text(params, "size"),
        quality=_text(params, "quality"),
        n=_number(params, "n"),
        background=_text(params, "background"),
        output_format=_text(params, "output_format"),
        output_compression=_number(params, "output_compression"),
        style=_text(params, "style"),
    )


def stored_request(record: JobRecord) -> ImageRequest:
    """The request a job made, as far as delivering its kept images needs (embed, fitting)."""
    params = record.params
    fmt = _text(params, "output_format")
    return ImageRequest(
        kind=record.kind,
        model=record.model,
        prompt=stored_prompt(record),
        n=max(1, record.images_charged),
        size=_text(params, "size"),
        quality=_text(params, "quality"),
        style=_text(params, "style"),
        background=_text(params, "background"),
        output_format=OUTPUT_FORMATS.get(fmt) if fmt is not None else None,
    )


def status_words(record: JobRecord) -> str:
    """A job's state in a member's words, delivery included."""
    if record.delivery in ("pending", "waiting"):
        return _("made, waiting to be delivered")
    words = _STATUS_WORDS.get(record.status)
    return safe_text(record.status) if words is None else _(words)


def edit_model(catalogue: Catalogue, model: str) -> str:
    """The model for editing a result: the job's own if it can edit, else an available editor.

    With none available the job's model comes back, and the catalogue refuses it in its words.
    """
    available = catalogue.available
    profiles = catalogue.profiles
    if model in available and profiles[model].can_edit:
        return model
    editors = [name for name in available if profiles[name].can_edit]
    if catalogue.default in editors:
        return catalogue.default
    return editors[0] if editors else model


def edit_options(catalogue: Catalogue, record: JobRecord, prompt: str) -> RawOptions:
    """One edit of a result image with a new prompt: the job's model, size, quality, background.

    Under another model (the job's cannot edit) the job's sizes and qualities may mean
    nothing, so only the prompt goes. The output format is left to choose_output.
    """
    model = edit_model(catalogue, record.model)
    if model != record.model:
        return RawOptions(prompt=prompt, model=model, n=1)
    params = record.params
    return RawOptions(
        prompt=prompt,
        model=model,
        n=1,
        size=_text(params, "size"),
        quality=_text(params, "quality"),
        background=_text(params, "background"),
    )


def source_job(filename: str) -> int | None:
    """The job whose result file this is (`imagine-12-1.png` -> 12), or None."""
    match = _RESULT_FILE.fullmatch(filename)
    return int(match[1]) if match else None


def revised_prompt(message: discord.Message | None) -> str | None:
    """The revised prompt the result embed shows (already made safe), if any, in whichever
    language the result was sent."""
    names = every_translation(REVISED_FIELD)
    for embed in message.embeds if message is not None else []:
        for field in embed.fields:
            if field.name in names and field.value:
                return field.value
    return None


@dataclass(frozen=True, slots=True)
class Details:
    """What the Details button shows: the command line to ask again, an embed, and the whole
    prompt as a file when it does not fit."""

    content: str
    embed: discord.Embed
    prompt_file: discord.File | None


def details(
    record: JobRecord,
    *,
    revised: str | None = None,
    cost: bool = False,
    made_from: str | None = None,
) -> Details:
    """The Details answer for a job; `revised` is the safe text from the result embed, `cost`
    whether the one asking may see dollars (moderators: members count images), `made_from`
    the chain of results it was made from (bot/discord/lineage_texts.py)."""
    prompt = stored_prompt(record)
    shown = shorten(safe_text(prompt), min(DETAILS_PROMPT_MAX, DESCRIPTION_EMBED_MAX))
    line = command_line(record, prompt)
    if record.kind == "generate":
        title = _("Imagine request #{job}").format(job=record.id)
    else:
        title = _("Edit request #{job}").format(job=record.id)
    embed = discord.Embed(
        title=title,
        description=shown or _("*(no prompt stored)*"),
        colour=EMBED_COLOUR,
    )
    for name, value in _parameters(record):
        embed.add_field(name=name, value=shorten(value, FIELD_VALUE_MAX), inline=True)
    if revised:
        embed.add_field(
            name=_(REVISED_FIELD), value=shorten(revised, FIELD_VALUE_MAX), inline=False
        )
    if cost:
        embed.add_field(name=_("Cost"), value=_cost(record), inline=True)
    if made_from:
        embed.add_field(name=_("Made from"), value=made_from, inline=False)
    embed.add_field(name=_("Timings"), value=_timings(record), inline=False)
    footer = _("Job {job}").format(job=record.id)
    prompt_file = None
    if shown != safe_text(prompt) or line.prompt_file:
        footer += " · " + _("the whole prompt is attached")
        data = prompt.encode("utf-8", "replace")
        prompt_file = discord.File(io.BytesIO(data), filename=f"prompt-{record.id}.txt")
    embed.set_footer(text=footer)
    content = command_block(line, edit=record.kind == "edit")
    if made_by_action(record.params):
        # An /edit line would not make it again: its canvas and mask are built from a result.
        label = safe_text(action_words(str(action_of(record.params))))
        content = _("Made with **{action}**: press **Re-roll** on it to make it again.").format(
            action=label
        )
    return Details(content, embed, prompt_file)


def _parameters(record: JobRecord) -> list[tuple[str, str]]:
    params = record.params
    counted = _("{charged} of {asked}").format(
        charged=number(record.images_charged), asked=number(record.images_asked)
    )
    facts = [
        (_("Model"), safe_text(record.model)),
        (_("Requested by"), f"<@{record.user_id}>"),
        (_("Images"), counted),
    ]
    # The size and quality the images were made at (recorded at the charge), else as asked.
    for key, name, value in (
        ("size", N_("Size"), record.size),
        ("quality", N_("Quality"), record.quality),
    ):
        value = value or _text(params, key)
        if value is not None and value != "auto":
            facts.append((_(name), safe_text(value)))
    for key, name in (
        ("style", N_("Style")),
        ("background", N_("Background")),
        ("output_format", N_("Format")),
        ("output_compression", N_("Compression")),
    ):
        value = params.get(key)
        if value is not None:
            facts.append((_(name), safe_text(str(value))))
    inputs = params.get("inputs")
    if isinstance(inputs, list) and inputs:
        names = ", ".join(safe_text(str(name)) for name in inputs)
        facts.append((_("Input images"), shorten(names, INPUTS_MAX)))
    if isinstance(params.get("mask"), str):
        facts.append((_("Mask"), shorten(safe_text(params["mask"]), INPUTS_MAX)))
    if is_private(record):
        facts.append((_("Visibility"), _("private")))
    facts.append((_("Status"), status_words(record)))
    return facts


def _cost(record: JobRecord) -> str:
    charged = format_usd(record.cost_charged_micros)
    if record.cost_actual_micros > record.cost_charged_micros:
        # The usage cost more than the hold; the member is never charged above the hold.
        return _("{charged} (usage priced at {actual})").format(
            charged=charged, actual=format_usd(record.cost_actual_micros)
        )
    return charged


def _timings(record: JobRecord) -> str:
    lines = [_("Asked {when}").format(when=_when(record.created_at))]
    if record.started_at is not None:
        waited = (record.started_at - record.created_at).total_seconds()
        started = _("Started {when} (queued {waited})")
        lines.append(started.format(when=_when(record.started_at), waited=format_duration(waited)))
    if record.ended_at is not None:
        since = record.started_at or record.created_at
        took = (record.ended_at - since).total_seconds()
        ended = _("Ended {when} (took {took})")
        lines.append(ended.format(when=_when(record.ended_at), took=format_duration(took)))
    return "\n".join(lines)


def _when(moment: datetime) -> str:
    return discord_timestamp(moment, "f")
