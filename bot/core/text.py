"""Text for people, cut safely: within Discord's UTF-16 limits, never inside a character.

Pure functions with no Discord import: the images layer names files with them, the Discord
layer words messages with them.
"""

from __future__ import annotations

import unicodedata

from bot.i18n import _

_ZWJ = "\u200d"


def shorten(text: str, limit: int, *, placeholder: str = "…") -> str:
    """`text` in at most `limit` UTF-16 units, cut between characters and marked with `…`."""
    text = fix_surrogates(text)
    if _units(text) <= limit:
        return text
    room = limit - _units(placeholder)
    used = 0
    cut = len(text)
    for position, char in enumerate(text):
        used += _units(char)
        if used > room:
            cut = position
            break
    head = text[: _cluster_start(text, cut)].rstrip()
    if (len(head) - len(head.rstrip("\\"))) % 2:
        head = head[:-1]  # a lone trailing backslash would escape the placeholder
    return head + placeholder


def format_duration(seconds: float) -> str:
    """`12 s`, `4 min 05 s`, `1 h 02 min`."""
    whole = max(0, int(seconds))
    if whole < 60:
        return seconds_text(whole)
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return _("{minutes} min {seconds} s").format(minutes=minutes, seconds=f"{secs:02d}")
    hours, minutes = divmod(minutes, 60)
    return hours_text(hours, minutes)


def seconds_text(seconds: int) -> str:
    """`12 s` in the language being spoken."""
    return _("{seconds} s").format(seconds=seconds)


def minutes_text(minutes: int) -> str:
    """`4 min` in the language being spoken."""
    return _("{minutes} min").format(minutes=minutes)


def hours_text(hours: int, minutes: int) -> str:
    """`1 h 05 min` in the language being spoken."""
    return _("{hours} h {minutes} min").format(hours=hours, minutes=f"{minutes:02d}")


def _units(text: str) -> int:
    """Length in UTF-16 code units: astral characters (most emoji) count twice."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def fix_surrogates(text: str) -> str:
    """Join escaped surrogate pairs and replace lone surrogates, which cannot be sent."""
    if not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _extends(char: str) -> bool:
    """Joins the previous character: combining marks, variation selectors, skin tones, tags."""
    point = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char == _ZWJ
        or 0xFE00 <= point <= 0xFE0F
        or 0x1F3FB <= point <= 0x1F3FF
        or 0xE0020 <= point <= 0xE007F
        or 0xE0100 <= point <= 0xE01EF
    )


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _cluster_start(text: str, cut: int) -> int:
    """Move a cut back to the start of the character cluster it would split (emoji, accents)."""
    while 0 < cut < len(text) and (_extends(text[cut]) or text[cut - 1] == _ZWJ):
        cut -= 1
    if 0 < cut < len(text) and _regional(text[cut]):
        before = cut
        while before > 0 and _regional(text[before - 1]):
            before -= 1
        if (cut - before) % 2:  # an odd number of flags letters before: mid-flag
            cut -= 1
    return cut
