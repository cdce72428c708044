"""The refusals worded from data (a free size's broken rule, a moderator's bad value) in every
shipped language: every kind has its own sentence, every field is filled, numbers per locale;
and result texts that were English until issue 21's last part."""

from __future__ import annotations

from typing import get_args

import pytest

from bot.core.errors import BadValue, ValueKind
from bot.core.profiles import FreeSize, SizeFault
from bot.core.size_texts import free_size_refusal
from bot.discord.result_actions import BadImageNumber, NothingToEdit
from bot.discord.result_command import CommandLine, command_block
from bot.discord.value_texts import bad_value_text
from bot.i18n import speaking
from bot.i18n.locales import CATALOGS, ENGLISH

RULE = FreeSize(step=16, max_ratio=3.0, max_edge=3840, min_pixels=655_360, max_pixels=8_294_400)
BOUNDS: dict[str, tuple[int | None, int | None]] = {
    "daily_limit": (0, 100_000),
    "owner_ceiling": (None, 1),
    "grant": (1, 100_000),
    "block_days": (None, 366),
    "budget_usd": (0, 1_000_000),
    "term_length": (None, 100),
    "terms_full": (None, 500),
}


def _values(locale: str) -> list[str]:
    with speaking(locale):
        return [
            bad_value_text(BadValue(kind, least=BOUNDS.get(kind, (None, None))[0],
                                    most=BOUNDS.get(kind, (None, None))[1]))
            for kind in get_args(ValueKind)
        ]  # fmt: skip


def _sizes(locale: str) -> list[str]:
    with speaking(locale):
        return [free_size_refusal("4000x4000", RULE, fault, "2880x2880") for fault in SizeFault]


@pytest.mark.parametrize("locale", [ENGLISH, *CATALOGS])
def test_every_kind_is_worded_apart_and_filled_in(locale: str) -> None:
    for texts in (_values(locale), _sizes(locale)):
        assert len(set(texts)) == len(texts), texts
        assert not [text for text in texts if "{" in text or "}" in text]
    if locale != ENGLISH:
        assert not set(_values(locale)) & set(_values(ENGLISH))
        assert not set(_sizes(locale)) & set(_sizes(ENGLISH))


def test_bounds_are_written_the_locales_way() -> None:
    budget = BadValue("budget_usd", least=0, most=1_000_000)
    with speaking("de"):
        assert "1.000.000,00\u00a0$" in bad_value_text(budget)
        assert "8.294.400" in free_size_refusal("4000x4000", RULE, SizeFault.MOST_PIXELS, None)
    with speaking(ENGLISH):
        assert bad_value_text(budget) == "A budget must be between $0.00 and $1,000,000.00 a month."
        assert bad_value_text(BadValue("owner_ceiling", most=1)) == (
            "The bot's owner caps daily limits at 1 image: choose 1 or fewer."
        )
        assert free_size_refusal("4000x4000", RULE, SizeFault.RATIO, "2880x2880") == (
            "Size 4000x4000 is not allowed: its aspect ratio must be between 1:3 and 3:1. "
            "Try 2880x2880."
        )


def test_result_texts_once_english_speak_the_members_language() -> None:
    """Details' how-to-ask-again line, a result action's refusals and an image number's."""
    line = CommandLine("/edit prompt:a fox", prompt_file=True)
    with speaking("de"):
        assert command_block(line, edit=True).startswith(
            "Um es noch einmal zu erstellen, häng die Prompt-Datei unten und dieselben Bilder an:\n"
        )
        assert BadImageNumber("9", 3).user_message.startswith("Wähle eine Bildnummer von 1 bis 3")
    with speaking("ja"):
        assert NothingToEdit().user_message.startswith("このメッセージには")
    with speaking(ENGLISH):
        assert command_block(line, edit=False).startswith(
            "To make it again, attach the prompt file below:\n"
        )
