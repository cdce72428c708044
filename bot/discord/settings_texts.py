"""What members read about their defaults (/settings): the summary, the menus' words, and the
note on a request that skipped a default that no longer fits."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.member_defaults import SETTINGS, MemberDefaults, Setting, Skipped
from bot.i18n import N_, _

# The settings as members know the options (`count` and `format`, as the commands show them).
LABELS: dict[Setting, str] = {
    "model": "model",
    "size": "size",
    "quality": "quality",
    "n": "count",
    "output_format": "format",
    "style": "style",
    "private": "private",
}
NOT_YOURS = N_("These are another member's settings: use /settings to change yours.")
CLEAR = N_("No default")
PICK_PLACEHOLDER = N_("Choose a setting to change")
VALUE_PLACEHOLDER = N_("Your default {setting}")
SAVED = N_("Saved: your default {setting} is now {value}.")
CLEARED = N_("Saved: you have no default {setting} now.")
_SKIPPED = {
    "does_not_fit": N_(
        "Your default {setting} {value} does not fit {model}: skipped, the model's default "
        "was used."
    ),
    "unavailable": N_(
        "Your default model {value} is not available now: skipped, {model} was used."
    ),
    "cannot_edit": N_("Your default model {value} cannot edit images: skipped, {model} was used."),
}


def shown_value(setting: Setting, value: object) -> str:
    """A default's value as members read it (private: on or off)."""
    if setting == "private" or isinstance(value, bool):
        return _("on") if value in (True, "1") else _("off")
    return str(value)


def skipped_note(skipped: Sequence[Skipped]) -> str:
    """The request's note on the defaults it left out, one line each, and where to change them."""
    lines = [
        _(_SKIPPED[item.reason]).format(
            setting=LABELS[item.setting],
            value=shown_value(item.setting, item.value),
            model=item.model,
        )
        for item in skipped
    ]
    lines.append(_("Change your defaults with /settings."))
    return "\n".join(lines)


def summary(defaults: MemberDefaults, unfit: Sequence[Setting], model: str) -> str:
    """The /settings message: each default (or none), those that do not fit marked."""
    lines = [
        _(
            "**Your defaults**, used when you leave an option unset in /imagine and /edit (an "
            "option you give always wins):"
        )
    ]
    for setting in SETTINGS:
        value = defaults.get(setting)
        line = f"{LABELS[setting]}: " + (
            _("not set") if value is None else f"`{shown_value(setting, value)}`"
        )
        if setting in unfit:
            line += " — " + (
                _("not available now: skipped")
                if setting == "model"
                else _("does not fit {model} now: skipped").format(model=model)
            )
        lines.append(line)
    lines.append(_("Choose a setting, then its value. Changing them costs nothing."))
    return "\n".join(lines)
