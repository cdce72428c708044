"""Blocked terms: how a moderator's term and a member's prompt are compared (pure code, no SQL).

Both sides are normalised the same way, so look-alike spellings meet:

* NFKD, then combining marks (accents) and format characters (zero-width spaces and joiners,
  soft hyphens) are dropped, then NFKC and casefold: `Ｃａｔ`, `CAT`, `cät` and `c\u200bat`
  all read `cat`;
* runs of whitespace become one space, so `bad  word` meets the term `bad word`.

Matching follows Discord's own AutoMod keywords, which moderators already know:

* `cat` matches the whole word only: `a cat`, `cat's`, but not `concatenate`;
* `cat*` matches words starting with it (`catalogue`), `*cat` words ending with it (`bobcat`),
  `*cat*` anywhere (`concatenate`);
* a term in a script written without spaces (Chinese, Japanese, Thai...) matches anywhere,
  since such text has no word boundaries to look for.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from bot.errors import BotError, InvalidRequest

MAX_TERM_CHARS = 100
MAX_TERMS_PER_GUILD = 500
WILDCARD = "*"
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
_WORD = re.compile(r"\w+")
# Scripts written without spaces between words: a whole-word rule would never match there.
_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


class BlockedTerm(BotError):
    """The prompt contains a term this server's moderators blocked; refused before any charge."""

    def __init__(self, term: str) -> None:
        super().__init__(
            f"Your prompt contains `{_shown(term)}`, a term this server's moderators have "
            "blocked. Rephrase the prompt without it and try again; nothing was charged."
        )
        self.term = term


def normalise(text: str) -> str:
    """The form terms and prompts are compared in (see the module docstring)."""
    if text.isascii():
        # The common case, and a 32,000-character prompt: no per-character Python loop.
        folded = text.casefold()
    else:
        # Casefold first too: a capital may expand into letters that the small form writes as
        # marks (Greek ᾀ upper-cases to ἈΙ), and the marks are dropped next.
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        kept = "".join(c for c in decomposed if unicodedata.category(c) not in _DROPPED_CATEGORIES)
        folded = unicodedata.normalize("NFKC", kept).casefold()
    return " ".join(folded.split())


def clean_term(raw: str) -> str:
    """A moderator's term, normalised for storage; refuses what could never match sensibly."""
    term = normalise(raw)
    core = term.strip(WILDCARD).strip()
    if not core:
        raise InvalidRequest("Write a word or phrase to block (a lone `*` would block everything).")
    if WILDCARD in core:
        raise InvalidRequest(
            "Use `*` only at the start or the end of a term (like `cat*` or `*cat*`)."
        )
    if len(term) > MAX_TERM_CHARS:
        raise InvalidRequest(f"A blocked term can have at most {MAX_TERM_CHARS} characters.")
    return _rewild(term, core)


def _rewild(term: str, core: str) -> str:
    """The term with its wildcards kept and the spaces next to them dropped: `* cat` -> `*cat`."""
    left = WILDCARD if term.startswith(WILDCARD) else ""
    right = WILDCARD if term.endswith(WILDCARD) else ""
    return f"{left}{core}{right}"


def _unspaced(text: str) -> bool:
    return any(
        unicodedata.name(char, "").startswith(_UNSPACED_SCRIPTS) for char in text if ord(char) > 127
    )


@lru_cache(maxsize=4096)
def _pattern(term: str) -> tuple[str, re.Pattern[str], bool]:
    """(the literal core, a regex with the boundaries the term asks for, is it one word)."""
    core = term.strip(WILDCARD)
    whole_words = not _unspaced(core)
    left = r"(?<!\w)" if whole_words and not term.startswith(WILDCARD) else ""
    right = r"(?!\w)" if whole_words and not term.endswith(WILDCARD) else ""
    one_word = bool(left and right and _WORD.fullmatch(core))
    return core, re.compile(left + re.escape(core) + right), one_word


def find_blocked(prompt: str, terms: Iterable[str]) -> str | None:
    """The first stored term (in the order given) that the prompt contains, else None."""
    text = normalise(prompt)
    words: set[str] | None = None
    for term in terms:
        core, pattern, one_word = _pattern(term)
        if one_word:
            # Most terms are single words: one pass splits the prompt, then each is a lookup.
            words = set(_WORD.findall(text)) if words is None else words
            if core in words:
                return term
        # Otherwise a plain substring test first: far cheaper than the regex, and usually false.
        elif core in text and pattern.search(text):
            return term
    return None


def _shown(term: str) -> str:
    """A term inside `code`: printable, no backticks to break out of it."""
    return "".join(c if c.isprintable() else " " for c in term).replace("`", "'")
