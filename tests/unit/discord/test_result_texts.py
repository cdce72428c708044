"""Result buttons, the pure parts: custom ids, options rebuilt from a job row, the Details embed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from bot.core.catalogue import Catalogue, RawOptions
from bot.core.profile_files import builtin_profiles
from bot.discord.result_buttons import RESULT_BUTTONS, result_view
from bot.discord.result_texts import (
    DETAILS_PROMPT_MAX,
    can_edit_results,
    can_reroll,
    details,
    edit_model,
    edit_options,
    reroll_options,
    source_job,
)
from bot.images.fitting import file_name
from bot.ledger.facade import JobRecord

CREATED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def record(**changes: Any) -> JobRecord:
    """A delivered job row; `params` and any column can be replaced."""
    fields: dict[str, Any] = {
        "id": 42,
        "user_id": 1001,
        "guild_id": 5,
        "channel_id": 7,
        "kind": "generate",
        "model": "gpt-image-1",
        "size": "1536x1024",
        "quality": "low",
        "params": {
            "prompt": "a lighthouse at dusk",
            "size": "1536x1024",
            "quality": "low",
            "n": 2,
            "background": "opaque",
            "output_format": "jpeg",
            "output_compression": 90,
        },
        "status": "succeeded",
        "images_asked": 2,
        "images_held": 2,
        "images_charged": 2,
        "cost_held_micros": 50_000,
        "cost_charged_micros": 22_000,
        "cost_actual_micros": 22_000,
        "error": None,
        "result_channel_id": 7,
        "result_message_id": 99,
        "created_at": CREATED,
        "started_at": CREATED + timedelta(seconds=2),
        "ended_at": CREATED + timedelta(seconds=47),
    }
    fields.update(changes)
    return JobRecord(**fields)


def test_every_button_round_trips_its_job_id_through_the_custom_id() -> None:
    view = result_view(1234567890123)
    ids = [item.custom_id for item in view.children if isinstance(item, discord.ui.DynamicItem)]
    assert ids == [
        "result:reroll:1234567890123",
        "result:edit:1234567890123",
        "result:details:1234567890123",
        "result:delete:1234567890123",
    ]
    assert view.timeout is None and all(len(cid) <= 100 for cid in ids)
    for button, custom_id in zip(RESULT_BUTTONS, ids, strict=True):
        match = button.__discord_ui_compiled_template__.fullmatch(custom_id)
        assert match is not None and int(match["job"]) == 1234567890123
        # No button answers another's id: discord.py runs every class whose template matches.
        others = [b for b in RESULT_BUTTONS if b is not button]
        assert not any(b.__discord_ui_compiled_template__.fullmatch(custom_id) for b in others)


def test_reroll_asks_for_exactly_what_the_job_sent() -> None:
    assert reroll_options(record()) == RawOptions(
        prompt="a lighthouse at dusk",
        model="gpt-image-1",
        size="1536x1024",
        quality="low",
        n=2,
        background="opaque",
        output_format="jpeg",
        output_compression=90,
    )


def test_reroll_ignores_malformed_stored_values() -> None:
    row = record(params={"prompt": "x", "n": True, "size": 12, "output_compression": "90"})
    options = reroll_options(row)
    assert (options.n, options.size, options.output_compression) == (None, None, None)


def test_edit_keeps_the_model_and_its_options_but_asks_for_one_image() -> None:
    catalogue = Catalogue(builtin_profiles(), ["gpt-image-1", "dall-e-3"], "gpt-image-1")
    options = edit_options(catalogue, record(), "make it snow")
    assert options == RawOptions(
        prompt="make it snow",
        model="gpt-image-1",
        n=1,
        size="1536x1024",
        quality="low",
        background="opaque",
    )


def test_edit_of_a_model_that_cannot_edit_moves_to_an_editor_with_the_prompt_only() -> None:
    catalogue = Catalogue(
        builtin_profiles(), ["dall-e-3", "gpt-image-2", "gpt-image-1"], "dall-e-3"
    )
    row = record(model="dall-e-3", params={"prompt": "p", "size": "1792x1024", "style": "vivid"})
    assert edit_options(catalogue, row, "q") == RawOptions(prompt="q", model="gpt-image-2", n=1)
    assert edit_model(
        Catalogue(builtin_profiles(), ["gpt-image-1", "dall-e-3"], "gpt-image-1"), "dall-e-3"
    ) == ("gpt-image-1")
    # No editor enabled: the job's model, which the catalogue then refuses in its own words.
    assert (
        edit_model(Catalogue(builtin_profiles(), ["dall-e-3"], "dall-e-3"), "dall-e-3")
        == "dall-e-3"
    )


@pytest.mark.parametrize("kind", ["generate", "edit"])
@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_source_job_reads_the_names_delivery_gives(kind: Any, fmt: str) -> None:
    assert source_job(file_name(kind, 314, 3, fmt)) == 314


@pytest.mark.parametrize(
    "name", ["cat.png", "imagine-12.png", "imagine-x-1.png", "imagine-12-1.gif", "edit-1-1.png.exe"]
)
def test_source_job_refuses_other_names(name: str) -> None:
    assert source_job(name) is None


def test_details_show_prompt_parameters_cost_timings_and_job_id() -> None:
    answer = details(record(), revised="A detailed rendering", cost=True)
    embed = answer.embed
    assert answer.prompt_file is None
    assert embed.description == "a lighthouse at dusk"
    assert "42" in (embed.title or "") and "Job 42" in (embed.footer.text or "")
    fields = {field.name: field.value for field in embed.fields}
    assert fields["Model"] == "gpt-image-1" and fields["Size"] == "1536x1024"
    assert fields["Images"] == "2 of 2" and fields["Compression"] == "90"
    assert fields["Cost"] == "$0.022"
    assert answer.content == (
        "To make it again:\n```\n/imagine prompt:a lighthouse at dusk model:gpt-image-1 "
        "size:1536x1024 quality:low count:2 background:opaque format:jpeg\n```"
    )
    assert fields["Revised prompt"] == "A detailed rendering"
    assert fields["Requested by"] == "<@1001>"
    timings = fields["Timings"] or ""
    assert f"<t:{int(CREATED.timestamp())}:f>" in timings
    assert "queued 2 s" in timings and "took 45 s" in timings


def test_a_long_prompt_is_shortened_in_the_embed_and_attached_whole() -> None:
    prompt = "🌊 waves and *stars* " * 1000  # 20,000 characters, with markdown to escape
    answer = details(record(params={"prompt": prompt}), revised="r" * 5000)
    embed = answer.embed
    assert embed.description is not None and embed.description.endswith("…")
    assert len(embed.description) <= DETAILS_PROMPT_MAX
    assert len(embed) <= 6000  # Discord's total for one message's embeds
    assert answer.prompt_file is not None
    assert answer.prompt_file.filename == "prompt-42.txt"
    assert answer.prompt_file.fp.read().decode() == prompt
    assert "attached" in (embed.footer.text or "")


def test_member_text_in_details_cannot_ping_or_format() -> None:
    row = record(params={"prompt": "@everyone **bold**", "inputs": ["@here.png"]})
    embed = details(row).embed
    assert "@everyone" not in (embed.description or "")
    assert "\\*\\*bold\\*\\*" in (embed.description or "")
    inputs = next(field.value for field in embed.fields if field.name == "Input images")
    assert inputs is not None and not re.search(r"@here", inputs)


def test_refunded_jobs_say_so() -> None:
    row = record(
        status="failed",
        images_charged=0,
        cost_charged_micros=0,
        cost_actual_micros=0,
        ended_at=None,
    )
    fields = {field.name: field.value for field in details(row, cost=True).embed.fields}
    assert fields["Status"] == "failed, refunded" and fields["Cost"] == "$0.000"


def test_a_usage_cost_above_the_hold_is_shown_beside_the_charge() -> None:
    row = record(cost_charged_micros=50_000, cost_actual_micros=61_000)
    fields = {field.name: field.value for field in details(row, cost=True).embed.fields}
    assert fields["Cost"] == "$0.050 (usage priced at $0.061)"


def test_details_show_dollars_only_when_asked_to() -> None:
    # Members count images: the cost is for moderators (show_details decides who is one).
    answer = details(record())
    assert "Cost" not in {field.name for field in answer.embed.fields}
    assert "$" not in str(answer.embed.to_dict()) and "$" not in answer.content


def test_details_give_the_size_and_quality_made_not_the_shortcut_asked() -> None:
    # The ledger records what was used: an aspect's size, the quality WisGate picked for auto.
    row = record(
        size="1536x864",
        quality="high",
        params={"prompt": "a fox", "n": 2, "output_format": "png", "quality": "auto"},
    )
    answer = details(row)
    fields = {field.name: field.value for field in answer.embed.fields}
    assert (fields["Size"], fields["Quality"]) == ("1536x864", "high")
    assert answer.content.split("\n")[2] == (
        "/imagine prompt:a fox model:gpt-image-1 size:1536x864 quality:high count:2 format:png"
    )
    # Nothing known (auto, no report): no quality claimed, none in the line.
    row = record(size=None, quality="auto", params={"prompt": "a fox", "quality": "auto"})
    fields = {field.name: field.value for field in details(row).embed.fields}
    assert "Quality" not in fields and "Size" not in fields


def test_the_command_line_of_an_edit_a_private_job_and_a_prompt_too_long_to_type() -> None:
    row = record(
        kind="edit",
        params={"prompt": "add\na ```hat```", "private": True, "inputs": ["cat.png"], "n": 1},
    )
    answer = details(row)
    head, fence, line, end = answer.content.split("\n")
    assert head == "To make it again, attach the same images:" and fence == end == "```"
    # One line (options hold no newline), and no run of backticks to close the block.
    assert line == (
        "/edit prompt:add a `\u200b`\u200b`hat`\u200b`\u200b` model:gpt-image-1 size:1536x1024 "
        "quality:low private:True"
    )
    long = record(params={"prompt": "waves " * 1000})
    answer = details(long)
    assert answer.content.split("\n")[2] == (
        "/imagine-file prompt_file:prompt-42.txt model:gpt-image-1 size:1536x1024 quality:low"
    )
    assert "attach the prompt file below" in answer.content
    assert answer.prompt_file is not None and answer.prompt_file.filename == "prompt-42.txt"
    assert len(answer.content) <= 2000
    # Just under the content limit however many backticks the prompt holds.
    ticks = details(record(params={"prompt": "`" * 1800}))
    assert len(ticks.content.encode("utf-16-le")) // 2 <= 2000


def test_reroll_is_offered_only_where_it_can_work() -> None:
    assert can_reroll("generate", {"prompt": "p"})
    assert can_reroll("edit", {"inputs": ["imagine-1-0.png"], "sources": [[1, 0]]})
    assert not can_reroll("edit", {"inputs": ["cat.png"]})  # an upload: not kept
    assert not can_reroll("edit", {"inputs": ["a.png", "b.png"], "sources": [[1, 0], None]})
    assert not can_reroll("edit", {"inputs": ["a.png"], "sources": [[1, 0]], "mask": "m.png"})
    assert not can_reroll("edit", {"inputs": ["a.png"], "sources": [[True, 0]]})
    view = result_view(7, reroll=False)
    ids = [item.custom_id for item in view.children if isinstance(item, discord.ui.DynamicItem)]
    assert ids == ["result:edit:7", "result:details:7", "result:delete:7"]
    no_edit = result_view(7, edit=False)
    assert "result:edit:7" not in [getattr(item, "custom_id", None) for item in no_edit.children]
    assert can_edit_results(Catalogue(builtin_profiles(), ["gpt-image-1"], "gpt-image-1"))
    assert not can_edit_results(Catalogue(builtin_profiles(), ["dall-e-3"], "dall-e-3"))
