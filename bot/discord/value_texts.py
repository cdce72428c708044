"""What a moderator reads about a value the bot does not take (a limit, a grant, a block's
length, a budget, a blocked term): the ledger and the terms rules say which and the bounds
(bot.core.errors.BadValue); the words and the numbers are the moderator's language's."""

from __future__ import annotations

from bot.core.errors import BadValue
from bot.i18n import _, ngettext
from bot.i18n.numbers import MICROS, money, number


def bad_value_text(error: BadValue) -> str:
    """The refusal of a moderator's value, with its bounds written the moderator's way."""
    least, most = error.least or 0, error.most or 0
    kind = error.kind
    if kind == "daily_limit":
        text = _("A daily limit must be between {least} and {most} images.")
    elif kind == "owner_ceiling":
        text = ngettext(
            "The bot's owner caps daily limits at {most} image: choose {most} or fewer.",
            "The bot's owner caps daily limits at {most} images: choose {most} or fewer.",
            most,
        )
    elif kind == "grant":
        text = _("A grant must be between {least} and {most} images.")
    elif kind == "block_days":
        text = _("A block lasts from a minute to {most} days.")
    elif kind == "budget_usd":
        return _("A budget must be between {least} and {most} a month.").format(
            least=money(least * MICROS, plain_zero=True), most=money(most * MICROS)
        )
    elif kind == "term_empty":
        text = _("Write a word or phrase to block (a lone `*` would block everything).")
    elif kind == "term_wildcard":
        text = _("Use `*` only at the start or the end of a term (like `cat*` or `*cat*`).")
    elif kind == "term_length":
        text = _("A blocked term can have at most {most} characters.")
    elif kind == "terms_full":
        text = _(
            "This server already blocks {most} terms, the most it can: remove some first "
            "(wildcards like `cat*` cover many words at once)."
        )
    else:
        text = _("Quotas can only be managed inside a server.")
    return text.format(least=number(least), most=number(most))
