"""Blocked terms: how a moderator's term and a member's prompt are compared (pure code, no SQL).

A term is stored in a readable normal form (`normalise`):

* NFKD, then combining marks (accents), format characters (zero-width spaces and joiners, soft
  hyphens), the other default-ignorable code points (Hangul fillers, variation selectors, tag
  characters), the Braille blank and control characters are dropped, then NFKC and casefold:
  `Ｃａｔ`, `CAT`, `cät`, `c\u200bat` and `c\u3164at` all read `cat`;
* runs of whitespace become one space, so `bad  word` meets the term `bad word`.

To be compared, the stored term and the prompt are both read the same further way, so that
look-alike spellings meet. A term stored under older rules is normalised again when it is
read, so old rows follow the current ones.

* Letters that merely look like a Latin letter are folded to it, in the spirit of a Unicode
  UTS #39 skeleton, with the table disarm builds from Unicode's confusables.txt: Cyrillic
  `wоrd` and Greek `wοrd` read `word`. Only non-ASCII letters and digits are folded, and only
  into letters and digits: word boundaries stay where they were, ASCII is never rewritten
  (`corn` and `com` stay apart) and scripts written without spaces keep their own letters.
  Capitals are folded both before and after casefolding, and both readings are searched:
  Greek `Η` looks like `H` while its small `η` looks like `n`, yet `ΗΛΙΟΣ` is still `ήλιος`.
* Connector punctuation (`_`, `‿`) separates words as a space does: `_word_` contains `word`.
* Three or more single letters split by single separators are also read joined up, and any
  stretch of such a run counts as a whole word: `w.o.r.d`, `w-o-r-d`, `w o r d`, `w_o_r_d` and
  `a w.o.r.d` all contain `word`. The text as written is searched too, so `a cat` and `I am`
  match exactly as before.

Matching follows Discord's own AutoMod keywords, which moderators already know:

* `cat` matches the whole word only: `a cat`, `cat's`, but not `concatenate`;
* `cat*` matches words starting with it (`catalogue`), `*cat` words ending with it (`bobcat`),
  `*cat*` anywhere (`concatenate`);
* a term in a script written without spaces (Chinese, Japanese, Thai...) matches anywhere,
  since such text has no word boundaries to look for.

Matching is linear in the prompt's length: a prompt is read at most four ways (two case
readings, each as written and joined up), and every regex is either a literal between
fixed-width lookarounds or the single-letter run below, whose backtracking gives back at most
one repetition. The cost per term is bounded by the prompt's length times the term's (at most
`MAX_TERM_CHARS`), with a substring test or a set lookup first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import NamedTuple

from disarm import normalize_confusables

from bot.core.errors import BadValue, BotError
from bot.i18n import _

MAX_TERM_CHARS = 100
MAX_TERMS_PER_GUILD = 500
WILDCARD = "*"
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing, so they
# hide inside a word. Most are Cf or Mn anyway; the Hangul fillers are letters (Lo).
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Not default-ignorable, yet drawn blank: a favourite filler for names and words.
_BLANKS = frozenset({"\u2800"})
# ASCII control characters that are not whitespace (str.split already treats \x1c-\x1f as such).
_ASCII_DROPS = {code: None for code in (*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F)}
_WORD = re.compile(r"\w+")
# Three or more one-character words split by one character each (`w.o.r.d`); `_` is no letter.
# Each repetition is exactly two characters, so when the closing lookahead fails the engine
# gives back one repetition and the next character is a separator: no catastrophic backtracking.
_SPELT = re.compile(r"(?<![^\W_])[^\W_](?:[\W_][^\W_]){2,}(?![^\W_])")
# Scripts written without spaces between words: a whole-word rule would never match there.
_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")
# A prompt meets few distinct characters; this only bounds memory against one that meets many.
_TABLE_LIMIT = 50_000


class BlockedTerm(BotError):
    """The prompt contains a term this server's moderators blocked; refused before any charge."""

    def __init__(self, term: str) -> None:
        super().__init__(
            _(
                "Your prompt contains `{term}`, a term this server's moderators have "
                "blocked. Rephrase the prompt without it and try again; nothing was charged."
            ).format(term=_shown(term))
        )
        self.term = term


class _CharTable(dict[int, str | None]):
    """A str.translate table filled in as characters are first met: the loop stays in C."""

    def __init__(self, rule: Callable[[str], str | None]) -> None:
        super().__init__()
        self._rule = rule

    def __missing__(self, code: int) -> str | None:
        value = self._rule(chr(code))
        if len(self) < _TABLE_LIMIT:
            self[code] = value
        return value


def _kept(char: str) -> str | None:
    """The character, or None when it is drawn as nothing (or is a control) and so dropped."""
    code = ord(char)
    category = unicodedata.category(char)
    if category in _DROPPED_CATEGORIES or char in _BLANKS:
        return None
    if category == "Cc" and not char.isspace():
        return None
    if any(low <= code <= high for low, high in _DEFAULT_IGNORABLE):
        return None
    return char


def _folded(char: str) -> str:
    """The character as compared: its Latin look-alike, or `_` for any connector punctuation."""
    if unicodedata.category(char) == "Pc":
        return "_"
    if char.isascii() or not char.isalnum() or _unspaced(char):
        return char
    folded = normalize_confusables(char)
    # A letter folded into punctuation (`ǃ` into `!`) would move a word boundary: kept as is.
    if folded == char or not folded.isalnum():
        return char
    return folded.casefold()


_KEPT = _CharTable(_kept)
_FOLDS = _CharTable(_folded)


def normalise(text: str) -> str:
    """The form terms are stored in and prompts are read in (see the module docstring)."""
    if text.isascii():
        # The common case, and a 32,000-character prompt: no per-character Python loop.
        folded = text.casefold().translate(_ASCII_DROPS)
    else:
        # Casefold first too: a capital may expand into letters that the small form writes as
        # marks (Greek ᾀ upper-cases to ἈΙ), and the marks are dropped next.
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        folded = unicodedata.normalize("NFKC", decomposed.translate(_KEPT)).casefold()
    return " ".join(folded.split())


def clean_term(raw: str) -> str:
    """A moderator's term, normalised for storage; refuses what could never match sensibly."""
    term = normalise(raw)
    core = term.strip(WILDCARD).strip()
    if not core or not _spaced(_skeleton(core)):
        raise BadValue("term_empty")
    if WILDCARD in core:
        raise BadValue("term_wildcard")
    if len(term) > MAX_TERM_CHARS:
        raise BadValue("term_length", most=MAX_TERM_CHARS)
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


def _skeleton(text: str) -> str:
    """The text with small letters folded (the first case reading); `_` still marks connectors."""
    if text.isascii():
        return normalise(text)
    return " ".join(normalise(text).translate(_FOLDS).split())


def _spaced(text: str) -> str:
    """Connector punctuation read as the space it stands for: `_word_` is the word `word`."""
    return " ".join(text.replace("_", " ").split()) if "_" in text else text


def _readings(text: str) -> tuple[list[str], list[str]]:
    """(the text's case readings as written and joined up, the joined runs of single letters)."""
    skeletons = [_skeleton(text)]
    folded = text if text.isascii() else text.translate(_FOLDS)
    if folded != text:
        # Capitals folded before casefolding (Greek Η is H), then the small letters left over.
        capital = _skeleton(folded)
        if capital != skeletons[0]:
            skeletons.append(capital)
    runs: list[str] = []

    def joined(match: re.Match[str]) -> str:
        run = match[0]
        runs.append(run[::2])
        if not run[1::2].strip(" "):
            return run[::2]
        # Spaces beside dots are read as the gaps between words: `a r.e.d` is `a red`.
        return " ".join(piece[::2] for piece in run.split(" "))

    readings = [_spaced(skeleton) for skeleton in skeletons]
    for skeleton in skeletons:
        readings.append(_spaced(_SPELT.sub(joined, skeleton)))
    return list(dict.fromkeys(readings)), runs


class _Form(NamedTuple):
    """One reading of a term: the literal, its boundaries, and the fast paths it allows."""

    core: str
    pattern: re.Pattern[str]
    one_word: bool  # a whole single word: a lookup in the prompt's set of words
    spellable: bool  # a single word, which a run of spelt-out letters may contain anywhere


@lru_cache(maxsize=4096)
def _forms(term: str) -> tuple[_Form, ...]:
    """A stored term's readings, normalised again so that rows stored under older rules follow."""
    term = normalise(term)
    core = term.strip(WILDCARD).strip()
    if not core:
        return ()
    whole_words = not _unspaced(core)
    left = whole_words and not term.startswith(WILDCARD)
    right = r"(?!\w)" if whole_words and not term.endswith(WILDCARD) else ""
    forms: dict[str, _Form] = {}
    for reading in _readings(core)[0]:
        if reading and reading not in forms:
            spellable = bool(_WORD.fullmatch(reading))
            # The literal comes first so that the engine jumps from one occurrence to the next (a
            # leading lookbehind is tried at every position); the left boundary is then checked
            # behind it, across its fixed length.
            behind = rf"(?<!\w[\s\S]{{{len(reading)}}})" if left else ""
            pattern = re.compile(re.escape(reading) + behind + right)
            forms[reading] = _Form(reading, pattern, bool(left and right and spellable), spellable)
    return tuple(forms.values())


def find_blocked(prompt: str, terms: Iterable[str]) -> str | None:
    """The first stored term (in the order given) that the prompt contains, else None."""
    readings, spelt = _readings(prompt)
    # One text for every reading: a core has no newline, so no match spans two of them.
    text, runs = "\n".join(readings), "\n".join(spelt)
    words: set[str] | None = None
    for term in terms:
        for form in _forms(term):
            if form.one_word:
                # Most terms are single words: one pass splits the prompt, then each is a lookup.
                words = set(_WORD.findall(text)) if words is None else words
                if form.core in words:
                    return term
            # Otherwise a plain substring test first: far cheaper than the regex, and usually false.
            elif form.core in text and form.pattern.search(text):
                return term
            # Every letter of `a w.o.r.d` stands alone, so any stretch of the run is a whole word.
            if form.spellable and runs and form.core in runs:
                return term
    return None


def _shown(term: str) -> str:
    """A term inside `code`: printable, no backticks to break out of it."""
    return "".join(c if c.isprintable() else " " for c in term).replace("`", "'")
