"""Prompts from a `.txt` attachment: for prompts beyond Discord's 6,000-character option limit.

Checked twice, like images: first what Discord declares (content type, size) before anything
is downloaded, then the bytes (UTF-8, not empty, within the model's prompt limit). Every
refusal says what to change; none costs anything.
"""

from __future__ import annotations

from bot.core.errors import InvalidRequest
from bot.core.input_files import DeclaredFile
from bot.core.profiles import ModelProfile
from bot.i18n import _
from bot.i18n.numbers import number

UTF8_BOM = b"\xef\xbb\xbf"
MAX_BYTES_PER_CHAR = 4  # UTF-8 needs at most four bytes for one character
KB = 1000
# Discord labels .txt uploads text/plain (often with a charset); other labels are not text.
TEXT_TYPES = frozenset({"text/plain"})
FIELD = "prompt_file"


def one_prompt(prompt: str | None, has_file: bool) -> None:
    """Exactly one of `prompt` and `prompt_file` must be given."""
    written = bool(prompt and prompt.strip())
    if written and has_file:
        raise InvalidRequest(
            _("Give the prompt either as text or as prompt_file, not both: remove one of them."),
            field=FIELD,
        )
    if not written and not has_file:
        raise InvalidRequest(
            _(
                "Write a prompt: it cannot be empty. For one longer than {most} characters, use "
                "/imagine-file or /edit-file with the prompt in a UTF-8 .txt file."
            ).format(most=number(6000)),
            field="prompt",
        )


def max_file_bytes(spec: ModelProfile) -> int:
    """The largest file that could hold a prompt the model accepts (plus a byte-order mark)."""
    return MAX_BYTES_PER_CHAR * spec.prompt_max + len(UTF8_BOM)


def check_declared(declared: DeclaredFile, spec: ModelProfile) -> None:
    """Refuse, before downloading, a file that is not text or is too big for any prompt."""
    name = _shown(declared.filename)
    content_type = (declared.content_type or "").split(";")[0].strip().lower()
    if content_type and content_type not in TEXT_TYPES:
        raise InvalidRequest(
            _(
                "{name} is not a plain-text file ({type}): save the prompt as a UTF-8 .txt file "
                "and attach that as prompt_file."
            ).format(name=name, type=_plain(content_type)),
            field=FIELD,
        )
    limit = max_file_bytes(spec)
    if declared.size > limit:
        raise InvalidRequest(
            _(
                "{name} is {size} kB, too big for a prompt: {model} takes at most {most} "
                "characters (a file of up to {limit} kB). Shorten it."
            ).format(
                name=name,
                size=_kb(declared.size),
                model=spec.name,
                most=number(spec.prompt_max),
                limit=_kb(limit),
            ),
            field=FIELD,
        )


def decode(data: bytes, filename: str, spec: ModelProfile) -> str:
    """The prompt in a downloaded file: UTF-8 (a byte-order mark is dropped), text, in limits."""
    name = _shown(filename)
    try:
        text = data.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(
            _(
                "{name} is not UTF-8 text: save it with UTF-8 encoding (most editors offer it "
                "under Save As) and attach it again."
            ).format(name=name),
            field=FIELD,
        ) from None
    if "\x00" in text:
        raise InvalidRequest(
            _("{name} does not look like text (it contains NUL bytes): attach a .txt file.").format(
                name=name
            ),
            field=FIELD,
        )
    prompt = text.strip()
    if not prompt:
        raise InvalidRequest(
            _("{name} is empty: write the prompt in it.").format(name=name), field=FIELD
        )
    if len(prompt) > spec.prompt_max:
        over = len(prompt) - spec.prompt_max
        raise InvalidRequest(
            _(
                "{name} holds {length} characters but {model} takes at most {most}: shorten it "
                "by {over}."
            ).format(
                name=name,
                length=number(len(prompt)),
                model=spec.name,
                most=number(spec.prompt_max),
                over=number(over),
            ),
            field=FIELD,
        )
    return prompt


def _kb(size: int) -> str:
    return number(size / KB, places=1)


def _plain(value: str) -> str:
    """A member's value echoed back: one line, no backticks, short."""
    text = "".join(c if c.isprintable() else " " for c in value).replace("`", "'").strip()
    return text if len(text) <= 60 else text[:59] + "…"


def _shown(filename: str) -> str:
    text = _plain(filename)
    return f"`{text}`" if text else _("The prompt file")
