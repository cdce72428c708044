"""The command line that asks for a job again, in the option names members see (Details).

Sizes and qualities are the ones the images were made at, as the ledger recorded them (the
size an `aspect` gave, the quality WisGate picked for `auto`), so the line asks for the same
picture again rather than for the same shortcut.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.text import fix_surrogates
from bot.i18n import _
from bot.ledger.facade import JobRecord

# The content of the Details answer holds the line in a code block, within Discord's 2,000.
COMMAND_MAX = 1900
_FENCE = "```"
_AUTO = "auto"
_TICKS = re.compile(r"`(?=`)")


@dataclass(frozen=True, slots=True)
class CommandLine:
    """The line, and whether its prompt must travel as the attached file (too long to type)."""

    text: str
    prompt_file: bool


def _value(value: Any) -> str | None:
    """An option's value as typed on one line, or None when it was not set."""
    if value is None or value == _AUTO or isinstance(value, bool):
        return None
    return " ".join(str(value).split())  # options are one line; runs of spaces collapse


def _options(record: JobRecord) -> list[tuple[str, str | None]]:
    """Every option but the prompt, by the names members see, in the order the command has."""
    params: Mapping[str, Any] = record.params
    count = params.get("n")
    return [
        ("model", _value(record.model)),
        ("size", _value(record.size) or _value(params.get("size"))),
        ("quality", _value(record.quality) or _value(params.get("quality"))),
        ("count", _value(count) if isinstance(count, int) and count > 1 else None),
        ("background", _value(params.get("background"))),
        ("format", _value(params.get("output_format"))),
        ("style", _value(params.get("style"))),
        ("private", "True" if params.get("private") is True else None),
    ]


def command_line(record: JobRecord, prompt: str) -> CommandLine:
    """`/imagine prompt:… model:… size:… quality:… count:… format:…` for this job; with a
    prompt too long to type, `/imagine-file prompt_file:prompt-<id>.txt …` instead."""
    command = "/imagine" if record.kind == "generate" else "/edit"
    rest = " ".join(f"{name}:{value}" for name, value in _options(record) if value is not None)
    # Backticks in a row could close the code block the line is shown in: keep them apart.
    typed = _TICKS.sub("`\u200b", fix_surrogates(_value(prompt) or ""))
    line = f"{command} prompt:{typed} {rest}".rstrip()
    if len(line.encode("utf-16-le")) // 2 <= COMMAND_MAX:  # Discord counts UTF-16 units
        return CommandLine(line, prompt_file=False)
    line = f"{command}-file prompt_file:prompt-{record.id}.txt {rest}".rstrip()
    return CommandLine(line, prompt_file=True)


def command_block(line: CommandLine, *, edit: bool) -> str:
    """The Details answer's content: how to ask again, the line in a code block to copy."""
    # Whole sentences, not pieces joined: languages order them their own way.
    if line.prompt_file and edit:
        head = _("To make it again, attach the prompt file below and the same images:")
    elif line.prompt_file:
        head = _("To make it again, attach the prompt file below:")
    elif edit:
        head = _("To make it again, attach the same images:")
    else:
        head = _("To make it again:")
    return f"{head}\n{_FENCE}\n{line.text}\n{_FENCE}"
