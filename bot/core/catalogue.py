"""The models members may use now, and every rule a member's options and files must pass: a
valid ImageRequest, or an InvalidRequest saying what to change, before anything costs anything.

A model is available when the operator enabled it, it has a profile, and the gateway lists it
(when the gateway gives no usable listing, the configured list stands). A model WisGate says
it does not know (404 model_not_found) is unavailable until a later listing shows it again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bot.core.aspects import parse_ratio, size_for_ratio
from bot.core.errors import or_list, refuse, shown
from bot.core.input_files import (
    DeclaredFile,
    UploadedFile,
    check_declared,
    check_declared_format,
    check_input,
    check_mask,
    check_square,
    mask_mismatch,
)
from bot.core.models import ImageRequest, JobKind
from bot.core.option_rules import Rules
from bot.core.prices import PriceTable, load_prices
from bot.core.profile_files import load_profiles
from bot.core.profiles import (
    SMALL_MAX_BYTES,
    ModelProfile,
    fits_free_size,
    parse_size,
    suggest_size,
)
from bot.i18n import _

log = logging.getLogger(__name__)

MAX_CHOICES = 25  # Discord's cap on autocomplete choices


@dataclass
class RawOptions:
    """The options exactly as a Discord command gives them; None means not given.

    Fields keep the API's names (`n`, `output_format`); the commands show them as `count` and
    `format` (cogs/_options.py).
    """

    prompt: str
    model: str | None = None
    size: str | None = None
    quality: str | None = None
    n: int | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    style: str | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    aspect: str | None = None  # a named shape (square, wide...): the model's size for it


def load_models(
    models_file: Path | None,
    enabled: Sequence[str] | None,
    default: str,
    prices_file: Path | None = None,
) -> tuple[Catalogue, PriceTable]:
    """The model profiles (built in, then MODELS_FILE), the catalogue of the enabled ones, and
    their prices (then PRICES_FILE). Raises ModelsFileError, CatalogueError or PriceFileError,
    each one readable paragraph."""
    profiles = load_profiles(models_file)
    return Catalogue(profiles, enabled, default), load_prices(prices_file, profiles)


class CatalogueError(ValueError):
    """The enabled models or the default do not match the profiles (a configuration error)."""


class Catalogue:
    """The models members may use now, and the checks of a request against its model."""

    def __init__(
        self, profiles: Mapping[str, ModelProfile], enabled: Sequence[str] | None, default: str
    ) -> None:
        names = list(enabled) if enabled is not None else [
            name for name, profile in profiles.items() if profile.enabled
        ]  # fmt: skip
        unknown = [name for name in names if name not in profiles]
        if unknown:
            raise CatalogueError(
                f"ENABLED_MODELS names {', '.join(unknown)}, which no profile describes: add "
                f"them to MODELS_FILE or choose among {', '.join(profiles)}"
            )
        if not names:
            raise CatalogueError("no model is enabled: check ENABLED_MODELS and MODELS_FILE")
        if default not in names:
            raise CatalogueError(f"DEFAULT_MODEL {default} is not enabled ({', '.join(names)})")
        self.profiles = dict(profiles)
        self.enabled: tuple[str, ...] = tuple(dict.fromkeys(names))
        self.configured_default = default
        self.listed: frozenset[str] | None = None  # the gateway's listing; None: none usable
        self.unavailable: set[str] = set()  # said model_not_found since the last listing
        self.unprofiled: frozenset[str] = frozenset()  # listed by the gateway, no profile here
        self._said_default: str | None = None

    # -- what members may use now ---------------------------------------------------------

    @property
    def available(self) -> tuple[str, ...]:
        """Enabled, profiled, listed by the gateway (if it lists), not refused since."""
        return tuple(
            name
            for name in self.enabled
            if (self.listed is None or name in self.listed) and name not in self.unavailable
        )

    @property
    def default(self) -> str:
        """The configured default if available, else the first available model (logged once)."""
        available = self.available
        if self.configured_default in available or not available:
            return self.configured_default
        if self._said_default != available[0]:
            self._said_default = available[0]
            log.warning(
                "default model %s is unavailable: %s serves instead",
                self.configured_default,
                available[0],
            )
        return available[0]

    def update_listing(self, listed: Collection[str] | None) -> None:
        """What the gateway serves now (None: no usable listing, the configured list stands)."""
        self.listed = None if listed is None else frozenset(listed)
        self.unavailable -= set(listed or ())
        if listed is None:
            return
        unprofiled = frozenset(name for name in listed if name not in self.profiles)
        for name in sorted(unprofiled - self.unprofiled):
            log.info(
                "WisGate serves %s, which has no profile here: add it to MODELS_FILE (like = "
                '"gpt-image-2", for example) to offer it',
                name,
            )
        self.unprofiled = unprofiled
        missing = [name for name in self.enabled if name not in listed]
        if missing:
            log.warning("WisGate does not list %s: not offered until it does", ", ".join(missing))

    def mark_unavailable(self, name: str) -> None:
        """WisGate said it does not know this model: stop offering it until it is listed."""
        if name not in self.unavailable:
            self.unavailable.add(name)
            log.warning("WisGate does not know model %s: unavailable until listed again", name)

    def spec(self, name: str) -> ModelProfile:
        """The profile of an available model; refuses any other name."""
        available = self.available
        if name not in available:
            choose = or_list(available) if available else _("none is available right now")
            refuse(
                "model",
                _("Model {model} is not available here: choose {choices}.").format(
                    model=shown(name), choices=choose
                ),
            )
        return self.profiles[name]

    def model_choices(self, typed: str, *, edits: bool = False) -> list[tuple[str, str]]:
        """Autocomplete for the model option: (name, summary) of available models matching."""
        text = typed.strip().lower()
        found = [
            (name, self.profiles[name].summary())
            for name in self.available
            if text in name.lower() and (not edits or self.profiles[name].can_edit)
        ]
        return found[:MAX_CHOICES]

    def size_choices(self, model: str | None, typed: str) -> list[str]:
        """Autocomplete for the size option: the model's sizes matching what was typed (for a
        typed ratio like 16:9, the size the model makes for it)."""
        spec = self._profile_or_default(model)
        text = typed.strip().lower()
        choices = [size for size in spec.sizes if text in size]
        ratio = parse_ratio(text)
        shaped = size_for_ratio(spec, ratio) if ratio is not None else None
        if shaped is not None:
            choices = [shaped]
        parsed = parse_size(text) if spec.free_size is not None else None
        if parsed is not None and spec.free_size is not None:
            exact = f"{parsed[0]}x{parsed[1]}"
            fine = fits_free_size(spec.free_size, *parsed)
            offer = exact if fine else suggest_size(spec.free_size, *parsed)
            if offer is not None and offer not in choices:
                choices.insert(0, offer)
        return choices[:MAX_CHOICES]

    def quality_choices(self, model: str | None, typed: str) -> list[str]:
        """Autocomplete for the quality option: the model's qualities matching what was typed."""
        text = typed.strip().lower()
        return [quality for quality in self._profile_or_default(model).qualities if text in quality]

    def _profile_or_default(self, model: str | None) -> ModelProfile:
        available = self.available
        return self.profiles[model if model in available else self.default]

    # -- the checks -------------------------------------------------------------------------

    def precheck(
        self,
        options: RawOptions,
        *,
        kind: JobKind,
        files: Sequence[DeclaredFile] = (),
        mask: DeclaredFile | None = None,
    ) -> ImageRequest:
        """Every option rule plus what Discord's attachment metadata already tells; pure, fast.

        Returns the request the options make, without images (the ledger's checks need it
        before anything is downloaded).
        """
        request = self._options(options, kind)
        spec = self.profiles[request.model]
        self._rules(spec).counts(kind, len(files), mask is not None)
        edit = spec.edit
        for declared in files:
            check_declared(declared, edit.max_bytes if edit else SMALL_MAX_BYTES, "image")
            check_declared_format(spec, declared)
            if edit and edit.square and declared.width is not None and declared.height is not None:
                check_square(spec, declared.filename, declared.width, declared.height)
        if mask is not None:
            check_declared(mask, SMALL_MAX_BYTES, "mask")
            mask_dims, first_dims = (mask.width, mask.height), (files[0].width, files[0].height)
            if None not in (*mask_dims, *first_dims) and mask_dims != first_dims:
                mask_mismatch(mask_dims, first_dims)
        return request

    def validate(
        self,
        options: RawOptions,
        *,
        kind: JobKind,
        images: Sequence[UploadedFile] = (),
        mask: UploadedFile | None = None,
    ) -> ImageRequest:
        """Check options and sniff each file's bytes with Pillow into an ImageRequest.

        Synchronous CPU work (full image decodes): async callers run it on a thread.
        """
        request = self._options(options, kind)
        spec = self.profiles[request.model]
        self._rules(spec).counts(kind, len(images), mask is not None)
        inputs = tuple(check_input(spec, upload) for upload in images)
        sniffed_mask = check_mask(mask, inputs[0]) if mask is not None else None
        return replace(request, images=inputs, mask=sniffed_mask)

    def _rules(self, spec: ModelProfile) -> Rules:
        return Rules(spec, [self.profiles[name] for name in self.available])

    def _options(self, options: RawOptions, kind: JobKind) -> ImageRequest:
        spec = self.spec(self.default if options.model is None else options.model)
        if kind == "edit" and not spec.can_edit:
            editors = [name for name in self.available if self.profiles[name].can_edit]
            if editors:
                text = _("{model} cannot edit images: choose {editors} for /edit.")
            else:
                text = _("{model} cannot edit images: no model here can.")
            refuse("model", text.format(model=spec.name, editors=or_list(editors)))
        rules = self._rules(spec)
        # Checked in the order a member reads the options: the first complaint comes first.
        prompt, n, size = (
            rules.prompt(options.prompt),
            rules.count(options.n),
            rules.size(options.size, options.aspect),
        )
        quality = rules.choice("quality", options.quality, spec.qualities)
        style = rules.style(options.style)
        output_format, compression = rules.output(options.output_format, options.output_compression)
        return ImageRequest(
            kind=kind,
            model=spec.name,
            prompt=prompt,
            n=n,
            size=size,
            quality=quality,
            style=style,
            background=rules.background(options.background, output_format),
            output_format=output_format,
            output_compression=compression,
            moderation=rules.moderation(options.moderation, kind),
            input_fidelity=rules.fidelity(options.input_fidelity, kind),
            profile=spec,
        )
