"""The actions' pure parts: the layout under a result within Discord's limits, custom ids that
round-trip and never match another button, prompts, Re-roll of an action, the lineage texts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import discord
import pytest

from bot.core.actions import ACTIONS, action_prompt, lineage
from bot.core.catalogue import Catalogue
from bot.core.errors import InvalidRequest
from bot.core.profile_files import builtin_profiles
from bot.discord.action_buttons import ActionButton, PickButton
from bot.discord.iterate import offered_actions
from bot.discord.lineage_texts import chain_text, made_how
from bot.discord.result_buttons import RESULT_BUTTONS, result_view
from bot.discord.result_texts import can_reroll, details, made_by_action
from tests.unit.discord.test_result_texts import record

BIGGEST_ID = 10**20 - 1  # 20 digits: the most a custom id's job part holds
EVERY = (*RESULT_BUTTONS, ActionButton, PickButton)


def rows(view: discord.ui.View) -> list[list[str]]:
    """The custom ids of a view, row by row, as Discord receives them."""
    return [[button["custom_id"] for button in row["components"]] for row in view.to_components()]


def test_one_image_gets_its_actions_in_rows_under_the_result_buttons() -> None:
    view = result_view(BIGGEST_ID, actions=tuple(ACTIONS))
    laid = rows(view)
    assert laid[0] == [
        f"result:{name}:{BIGGEST_ID}" for name in ("reroll", "edit", "details", "delete")
    ]
    assert laid[1:] == [
        [f"act:{name}:{BIGGEST_ID}:0" for name in names]
        for names in (
            ("vary_subtle", "vary_strong", "remix", "upscale"),
            ("zoom_1.5", "zoom_2"),
            ("pan_left", "pan_right", "pan_up", "pan_down"),
        )
    ]
    assert_within_discords_limits(laid)


@pytest.mark.parametrize("count", [2, 5, 6, 10])
def test_several_images_get_a_number_each(count: int) -> None:
    laid = rows(result_view(BIGGEST_ID, actions=tuple(ACTIONS), images=count))
    picks = [custom_id for row in laid[1:] for custom_id in row]
    assert picks == [f"act:pick:{BIGGEST_ID}:{index}" for index in range(count)]
    assert_within_discords_limits(laid)


def test_no_action_rows_without_actions() -> None:
    assert len(rows(result_view(7))) == 1
    assert len(rows(result_view(7, actions=(), images=4))) == 1


def assert_within_discords_limits(laid: list[list[str]]) -> None:
    """Five rows of five at most, ids of 100 characters at most, each answered by one class."""
    assert len(laid) <= 5 and all(1 <= len(row) <= 5 for row in laid)
    for custom_id in (custom_id for row in laid for custom_id in row):
        assert len(custom_id) <= 100
        matching = [
            item for item in EVERY if item.__discord_ui_compiled_template__.fullmatch(custom_id)
        ]
        assert len(matching) == 1, custom_id


def test_action_ids_round_trip_and_refuse_unknown_actions() -> None:
    template = ActionButton.__discord_ui_compiled_template__
    match = template.fullmatch("act:zoom_1.5:42:9")
    assert match is not None and (match["action"], match["job"], match["image"]) == (
        "zoom_1.5",
        "42",
        "9",
    )
    for odd in ("act:pick:42:0", "act:zoom_3:42:0", "act:zoom_1x5:42:0", "act:vary_subtle:42:100"):
        assert template.fullmatch(odd) is None, odd


def test_offered_actions_follow_the_editor_and_the_size() -> None:
    profiles = builtin_profiles()
    both = Catalogue(profiles, ["gpt-image-1", "dall-e-3"], "gpt-image-1")
    # dall-e-3 does not edit: its results are acted on by the editor available.
    assert offered_actions(both, "dall-e-3", (1792, 1024)) == offered_actions(
        both, "gpt-image-1", (1792, 1024)
    )
    assert "upscale" not in offered_actions(both, "gpt-image-1", (1024, 1024))
    assert offered_actions(both, "gpt-image-1", None) == tuple(ACTIONS)  # checked at the press
    assert offered_actions(Catalogue(profiles, ["dall-e-3"], "dall-e-3"), "dall-e-3", None) == ()


def test_an_instruction_goes_before_the_prompt_and_never_past_the_limit() -> None:
    subtle = ACTIONS["vary_subtle"]
    assert action_prompt(subtle, "a fox", 1000).endswith("\n\na fox")
    assert action_prompt(ACTIONS["zoom_2"], "a fox", 1000) == "a fox"
    with pytest.raises(InvalidRequest, match="press \\*\\*Remix\\*\\*"):
        action_prompt(subtle, "p" * 990, 1000)


def action_job(**params: Any) -> Any:
    base = {"prompt": "INSTRUCTION\n\na fox", "inputs": ["imagine-40-1.png"], "sources": [[40, 0]]}
    return record(id=42, kind="edit", size="2048x2048", params={**base, **params})


def test_reroll_runs_an_action_again_though_it_had_a_mask() -> None:
    zoomed = action_job(mask="mask.png", **lineage(40, "zoom_2"))
    assert made_by_action(zoomed.params) and can_reroll("edit", zoomed.params)
    assert not made_by_action({**zoomed.params, "action": "reroll"})
    assert not made_by_action({**zoomed.params, "sources": [[40, 0], [41, 0]]})
    assert not can_reroll("edit", {**zoomed.params, "action": "nonsense"})


def test_lineage_in_members_words() -> None:
    root = record(id=40, params={"prompt": "a fox", "private": True}, user_id=1001)
    varied = action_job(**lineage(40, "vary_subtle", "a fox"))
    assert made_how(varied) == "Vary (subtle) of #40, image 1"
    assert made_how(root) is None
    # A Re-roll of an edit keeps the edit's sources: they are not the parent's images.
    assert made_how(action_job(**lineage(41, "reroll"))) == "Re-roll of #41"
    mine = chain_text([root], varied, viewer=1001, more=False).split("\n")
    assert mine == [
        '**#40** · Imagine · 1536x1024 · "a fox"',
        '**#42** (this) · Vary (subtle) of #40, image 1 · 2048x2048 · "a fox"',
    ]
    # Another member's private prompt stays theirs; older jobs left out are marked.
    theirs = chain_text([root], varied, viewer=5, more=True).split("\n")
    assert theirs[0] == "…" and theirs[1] == "**#40** · Imagine · 1536x1024 · *private*"
    answer = details(varied, made_from="\n".join(mine))
    assert "Made with **Vary (subtle)**" in answer.content
    fields = {field.name: field.value for field in answer.embed.fields}
    assert fields["Made from"] == "\n".join(mine)
    plain = details(replace(varied, params={"prompt": "a fox"}))
    assert "Made from" not in {field.name for field in plain.embed.fields}
