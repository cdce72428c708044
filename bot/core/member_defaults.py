"""A member's defaults (/settings): what a request uses for an option the member left unset.

Pure rules, no storage: the ledger keeps each default as a short text (bot/ledger/settings.py),
this module turns those texts into checked values and applies them to a request's options.

Two moments check a default against the catalogue:
* when it is saved (`checked_value`): a model must be available, a size, quality, count,
  format or style one the model the defaults use can take; anything else is refused and
  nothing is stored (select values are the member's to forge);
* when it is used (`apply_defaults`): models come and go with the gateway and profiles change,
  so a stored default may no longer fit the request's model. It is then skipped (the model's
  own default stands) and reported, never changed in storage. An option the member gave
  always wins over their default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Literal, get_args

from bot.core.catalogue import Catalogue, RawOptions
from bot.core.errors import InvalidRequest, refuse, shown
from bot.core.models import JobKind
from bot.core.option_rules import Rules
from bot.core.profiles import OUTPUT_FORMATS, ModelProfile
from bot.i18n import _

Setting = Literal["model", "size", "quality", "n", "output_format", "style", "private"]
SETTINGS: tuple[Setting, ...] = get_args(Setting)
# The defaults checked against the request's model, in the order members read the options.
_OPTIONS: tuple[Setting, ...] = ("size", "quality", "n", "output_format", "style")
VALUE_MAX = 64  # the longest text stored for one default (a model name, a size)
# Why a default was skipped: its model is not served now, cannot edit, or the value does not
# fit the request's model.
SkipReason = Literal["unavailable", "cannot_edit", "does_not_fit"]


@dataclass(frozen=True, slots=True)
class MemberDefaults:
    """One member's defaults; None: none set (the bot's, or the model's, default applies)."""

    model: str | None = None
    size: str | None = None
    quality: str | None = None
    n: int | None = None
    output_format: str | None = None
    style: str | None = None
    private: bool | None = None

    @classmethod
    def from_stored(cls, stored: Mapping[str, str]) -> MemberDefaults:
        """The defaults from the ledger's texts (unknown names and unreadable values ignored)."""
        values: dict[str, object] = {}
        for name, text in stored.items():
            if name not in SETTINGS or len(text) > VALUE_MAX:
                continue
            if name == "n":
                if text.isdigit():
                    values[name] = int(text)
            elif name == "private":
                values[name] = text == "1"
            else:
                values[name] = text
        return cls(**values)  # type: ignore[arg-type]

    def stored(self) -> dict[str, str]:
        """The texts the ledger keeps (only the defaults that are set)."""
        found: dict[str, str] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None:
                found[item.name] = stored_text(value)
        return found

    def get(self, setting: Setting) -> str | int | bool | None:
        """One default's value."""
        value: str | int | bool | None = getattr(self, setting)
        return value


def stored_text(value: str | int | bool) -> str:
    """A default's value as the ledger keeps it (`1`/`0` for private)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A default left out of a request, and why (worded by bot/discord/settings_texts.py)."""

    setting: Setting
    value: str
    model: str  # the model the request uses
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class Applied:
    """A request's options with the member's defaults in, and the defaults left out."""

    options: RawOptions
    private: bool
    skipped: list[Skipped] = field(default_factory=list)


def defaults_model(catalogue: Catalogue, defaults: MemberDefaults) -> ModelProfile:
    """The model the member's other defaults are for: their default model while it is
    available, else the bot's default."""
    name = defaults.model if defaults.model in catalogue.available else catalogue.default
    return catalogue.profiles[name]


def fits(catalogue: Catalogue, profile: ModelProfile, setting: Setting, value: object) -> bool:
    """Whether the model takes this value for the setting (a model: whether it is available)."""
    try:
        _check(catalogue, profile, setting, value)
    except InvalidRequest:
        return False
    return True


def checked_value(
    catalogue: Catalogue, defaults: MemberDefaults, setting: str, text: str
) -> str | int | bool:
    """A value a member chose for a default, checked against the catalogue (a model: one
    available now; the others: what the model of their defaults takes). Refuses anything else:
    the setting's name and the value come from the member's client and may be forged."""
    if setting not in SETTINGS:
        refuse("settings", _("There is no setting {name}.").format(name=shown(setting)))
    name: Setting = setting
    if len(text) > VALUE_MAX or not text.strip():
        refuse(name, _("That value cannot be a default: choose one from the list."))
    value: str | int | bool = text.strip()
    if name == "n":
        if not text.isdigit():
            refuse("count", _("count {value} is not a number.").format(value=shown(text)))
        value = int(text)
    elif name == "private":
        if text not in ("1", "0"):
            refuse("private", _("private is on or off, not {value}.").format(value=shown(text)))
        value = text == "1"
    if name == "model":
        catalogue.spec(str(value))  # refuses a model not available here
        return value
    return _check(catalogue, defaults_model(catalogue, defaults), name, value)


def _check(
    catalogue: Catalogue, profile: ModelProfile, setting: Setting, value: object
) -> str | int | bool:
    """The value, normalised, if the model takes it; else InvalidRequest."""
    rules = Rules(profile, [catalogue.profiles[name] for name in catalogue.available])
    if setting == "model":
        return catalogue.spec(str(value)).name
    if setting == "private":
        return bool(value)
    if setting == "n":
        if isinstance(value, bool) or not isinstance(value, int):
            refuse("count", _("count must be a number."))
        return rules.count(value)
    text = str(value)
    checks: dict[str, Callable[[], str | None]] = {
        "size": lambda: rules.size(text),
        "quality": lambda: rules.choice("quality", text, profile.qualities),
        "output_format": lambda: rules.output(text, None)[0],
        "style": lambda: rules.style(text),
    }
    checked = checks[setting]()
    if checked is None:  # pragma: no cover - each check returns a value for a value
        refuse(setting, _("That value cannot be a default: choose one from the list."))
    return checked


def apply_defaults(
    catalogue: Catalogue,
    options: RawOptions,
    defaults: MemberDefaults,
    *,
    kind: JobKind,
    private: bool | None,
) -> Applied:
    """The options with each default the member left unset filled in where it fits the
    request's model; the others skipped and listed. Options given always win; `style` is only
    for new images (/edit has no such option); a size default gives way to a given aspect.
    An explicit model the catalogue refuses leaves the options as they are: the catalogue's
    own check says what to change."""
    skipped: list[Skipped] = []
    chosen = private if private is not None else bool(defaults.private)
    model = options.model
    if model is None and defaults.model is not None:
        model = _default_model(catalogue, defaults.model, kind, skipped)
    name = model if model is not None else catalogue.default
    if name not in catalogue.available:
        return Applied(replace(options, model=model), chosen, skipped)
    profile = catalogue.profiles[name]
    given: dict[str, object] = {
        "size": options.size if options.aspect is None else options.aspect,
        "quality": options.quality,
        "n": options.n,
        "output_format": options.output_format,
        "style": options.style,
    }
    changes: dict[str, object] = {"model": model}
    for setting in _OPTIONS:
        value = defaults.get(setting)
        if value is None or given[setting] is not None:
            continue
        if setting == "style" and kind != "generate":
            continue  # /edit has no style option
        if fits(catalogue, profile, setting, value) and _goes_with(setting, value, options):
            changes[setting] = value
        else:
            skipped.append(Skipped(setting, stored_text(value), profile.name, "does_not_fit"))
    return Applied(replace(options, **changes), chosen, skipped)  # type: ignore[arg-type]


def _default_model(
    catalogue: Catalogue, model: str, kind: JobKind, skipped: list[Skipped]
) -> str | None:
    """The member's default model if it can serve this request; else None, and why not."""
    reason: SkipReason | None = None
    if model not in catalogue.available:
        reason = "unavailable"
    elif kind == "edit" and not catalogue.profiles[model].can_edit:
        reason = "cannot_edit"
    if reason is None:
        return model
    skipped.append(Skipped("model", model, catalogue.default, reason))
    return None


def _goes_with(setting: str, value: object, options: RawOptions) -> bool:
    """Whether a default agrees with the options given beside it (a transparent background
    needs png or webp: a jpeg default gives way)."""
    if setting == "output_format" and options.background == "transparent":
        return OUTPUT_FORMATS.get(str(value)) != "jpeg"
    return True


def offered(catalogue: Catalogue, defaults: MemberDefaults, setting: Setting) -> list[str]:
    """The values a select menu offers for a setting (stored texts): the models available
    now, or what the model of the member's defaults takes."""
    profile = defaults_model(catalogue, defaults)
    if setting == "model":
        return list(catalogue.available)
    if setting == "size":
        return list(profile.sizes)
    if setting == "quality":
        return list(profile.qualities)
    if setting == "n":
        return [str(n) for n in range(profile.n_min, min(profile.n_max, 25) + 1)]
    if setting == "output_format":
        return list(profile.output_formats)
    if setting == "style":
        return list(profile.styles)
    return ["1", "0"]


def not_fitting(catalogue: Catalogue, defaults: MemberDefaults) -> list[Setting]:
    """The stored defaults that the model of the defaults would not take now (shown marked
    by /settings; kept as they are)."""
    profile = defaults_model(catalogue, defaults)
    found: list[Setting] = []
    for setting in SETTINGS:
        value = defaults.get(setting)
        if value is not None and not fits(catalogue, profile, setting, value):
            found.append(setting)
    return found
