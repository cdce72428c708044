"""Each option's rule, read from the model's profile; a refusal says what to change.

A capability the chosen model lacks is refused naming the models (among those available) that
have it, so the member knows where to go: "background transparent only works with ...".
Refusals name the options as members see them in Discord (`count`, `format`), not the API's
parameters (`n`, `output_format`) the request keeps inside.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.aspects import ASPECTS, aspects_of, closest_size, parse_ratio, size_for_ratio
from bot.core.errors import or_list, refuse, shown
from bot.core.models import ImageFormat, JobKind
from bot.core.profiles import (
    BACKGROUNDS,
    INPUT_FIDELITIES,
    MODERATIONS,
    OUTPUT_FORMATS,
    ModelProfile,
    free_size_fault,
    parse_size,
    suggest_size,
)
from bot.core.size_texts import free_size_refusal
from bot.i18n import _
from bot.i18n.numbers import number


@dataclass(frozen=True, slots=True)
class Rules:
    """One request's rules: the chosen model, and the others available (for the messages)."""

    spec: ModelProfile
    available: Sequence[ModelProfile]

    def takers(self, has: Callable[[ModelProfile], bool]) -> str:
        """The available models with a capability, as `a, b or c` (or `no model here`)."""
        names = [profile.name for profile in self.available if has(profile)]
        return or_list(names) if names else _("no model available here")

    def only_for(self, field: str, value: object, has: Callable[[ModelProfile], bool]) -> None:
        """Refuse an option the chosen model does not take, naming the ones that do."""
        if value is not None and not has(self.spec):
            refuse(
                field,
                _("{option} only works with {models}: leave it unset for {model}.").format(
                    option=field, models=self.takers(has), model=self.spec.name
                ),
            )

    def prompt(self, prompt: str) -> str:
        """The prompt, stripped: not empty, within the model's limit."""
        spec = self.spec
        text = prompt.strip()
        if not text:
            refuse("prompt", _("Write a prompt: it cannot be empty."))
        if len(text) > spec.prompt_max:
            over = len(text) - spec.prompt_max
            refuse(
                "prompt",
                _(
                    "The prompt has {length} characters but {model} takes at most {most}: "
                    "shorten it by {over}."
                ).format(
                    length=number(len(text)),
                    model=spec.name,
                    most=number(spec.prompt_max),
                    over=number(over),
                ),
            )
        return text

    def count(self, n: int | None) -> int:
        """How many images: 1 unless asked, within the model's range."""
        spec = self.spec
        if n is None:
            return 1
        if spec.n_min <= n <= spec.n_max:
            return int(n)  # a bool is an int too; send a plain number
        if spec.n_max == 1:
            refuse(
                "count",
                _("{model} makes one image at a time: set count to 1.").format(model=spec.name),
            )
        low, high = spec.n_min, spec.n_max
        refuse(
            "count",
            _(
                "{model} makes {low} to {high} images per request: set count from {low} to {high}."
            ).format(model=spec.name, low=number(low), high=number(high)),
        )

    def size(self, size: str | None, aspect: str | None = None) -> str | None:
        """A listed size, (with a free-size rule) any WxH it allows, or the model's size for an
        aspect or a typed ratio (`16:9`), as `WxH`."""
        spec = self.spec
        if aspect is not None:
            if size is not None:
                refuse(
                    "aspect",
                    _(
                        "Choose aspect or size, not both: aspect {aspect} picks the size "
                        "for you. Leave one of them unset."
                    ).format(aspect=shown(aspect)),
                )
            return self.aspect(aspect)
        if size is None:
            return None
        ratio = parse_ratio(size)
        if ratio is not None:
            return self.ratio(ratio, size)
        parsed = parse_size(size)
        canonical = f"{parsed[0]}x{parsed[1]}" if parsed else size.strip().lower()
        if canonical in spec.sizes:
            return canonical
        choose = or_list(spec.sizes)
        if spec.free_size is None:
            refuse(
                "size",
                _("Size {size} is not available on {model}: choose {choices}.").format(
                    size=shown(size), model=spec.name, choices=choose
                ),
            )
        if parsed is None:
            refuse(
                "size",
                _(
                    "Size {size} is not a size: write WIDTHxHEIGHT (like 1536x864), a ratio "
                    "(like 16:9), or choose {choices}."
                ).format(size=shown(size), choices=choose),
            )
        fault = free_size_fault(spec.free_size, *parsed)
        if fault is not None:
            suggestion = suggest_size(spec.free_size, *parsed)
            refuse("size", free_size_refusal(canonical, spec.free_size, fault, suggestion))
        return canonical

    def aspect(self, aspect: str) -> str:
        """The model's size for a named shape (square, portrait, landscape, wide, tall)."""
        name = self.choice("aspect", aspect, tuple(ASPECTS))
        assert name is not None  # choice() returns None only for None
        size = size_for_ratio(self.spec, ASPECTS[name])
        if size is None:
            offered = aspects_of(self.spec)
            if len(offered) == 1:
                text = _(
                    "{model} cannot make {aspect} images (its only shape is {shapes}): set "
                    "aspect to {shapes}, or choose a model that makes them: {models}."
                )
            elif offered:
                text = _(
                    "{model} cannot make {aspect} images (its shapes are {shapes}): set aspect "
                    "to one of those, or choose a model that makes them: {models}."
                )
            else:
                text = _(
                    "{model} cannot make {aspect} images (it has no named shapes): leave aspect "
                    "unset, or choose a model that makes them: {models}."
                )
            takers = self.takers(lambda profile: size_for_ratio(profile, ASPECTS[name]) is not None)
            shapes = ", ".join(offered)
            refuse(
                "aspect",
                text.format(model=self.spec.name, aspect=name, shapes=shapes, models=takers),
            )
        return size

    def ratio(self, ratio: tuple[int, int], typed: str) -> str:
        """The model's size nearest a typed ratio, if close enough in shape; else a refusal."""
        size = size_for_ratio(self.spec, ratio)
        if size is not None:
            return size
        shape = shown(typed)
        closest = closest_size(self.spec, ratio)
        near = f"{closest[0]}x{closest[1]}" if closest is not None else None
        if near is not None:
            text = _(
                "{model} cannot make {shape} images (the closest it makes is {size}): set size "
                "to {size}, or choose a model that makes them: {models}."
            )
        else:
            text = _(
                "{model} cannot make {shape} images (it has no fixed sizes): leave size unset, "
                "or choose a model that makes them: {models}."
            )
        takers = self.takers(lambda profile: size_for_ratio(profile, ratio) is not None)
        refuse("size", text.format(model=self.spec.name, shape=shape, size=near, models=takers))

    def choice(self, field: str, value: str | None, allowed: Sequence[str]) -> str | None:
        """One of the allowed words (any case), or a refusal listing them."""
        if value is None:
            return None
        text = value.strip().lower()
        if text not in allowed:
            choose = or_list(allowed)
            refuse(
                field,
                _("{option} {value} is not available on {model}: choose {choices}.").format(
                    option=field, value=shown(value), model=self.spec.name, choices=choose
                ),
            )
        return text

    def style(self, style: str | None) -> str | None:
        """A style the model has (dall-e-3's vivid or natural)."""
        self.only_for("style", style, lambda profile: bool(profile.styles))
        return self.choice("style", style, self.spec.styles)

    def output(
        self, output_format: str | None, compression: int | None
    ) -> tuple[ImageFormat | None, int | None]:
        """The file format and compression, where the model lets the member choose them."""
        spec = self.spec
        self.only_for("format", output_format, lambda profile: bool(profile.output_formats))
        self.only_for(
            "output_compression", compression, lambda profile: profile.takes("output_compression")
        )
        offered = [name for name, fmt in OUTPUT_FORMATS.items() if fmt in spec.output_formats]
        name = self.choice("format", output_format, offered)
        fmt = OUTPUT_FORMATS[name] if name is not None else None
        if compression is None:
            return fmt, None
        if not 0 <= compression <= 100:
            refuse(
                "output_compression",
                _("output_compression must be 0 to 100, not {value}.").format(value=compression),
            )
        if fmt not in ("jpeg", "webp"):
            refuse(
                "output_compression",
                _(
                    "output_compression only works with jpeg or webp output: set format to jpeg "
                    "or webp, or leave output_compression unset."
                ),
            )
        return fmt, int(compression)

    def background(self, background: str | None, fmt: ImageFormat | None) -> str | None:
        """opaque, auto, or (for models that support it) transparent, then png or webp."""
        self.only_for("background", background, lambda profile: profile.takes("background"))
        value = self.choice("background", background, BACKGROUNDS)
        if value == "transparent" and not self.spec.transparent:
            takers = self.takers(lambda profile: profile.transparent)
            refuse(
                "background",
                _(
                    "{model} cannot make transparent backgrounds: choose {models} for one, or "
                    "leave background unset."
                ).format(model=self.spec.name, models=takers),
            )
        if value == "transparent" and fmt == "jpeg":
            refuse(
                "format",
                _("A transparent background needs png or webp output: set format to png or webp."),
            )
        return value

    def moderation(self, moderation: str | None, kind: JobKind) -> str | None:
        """The moderation level, for new images only (the edit endpoint has none)."""
        self.only_for("moderation", moderation, lambda profile: profile.takes("moderation"))
        if moderation is not None and kind == "edit":
            refuse(
                "moderation", _("moderation only applies to new images: leave it unset for /edit.")
            )
        return self.choice("moderation", moderation, MODERATIONS)

    def fidelity(self, fidelity: str | None, kind: JobKind) -> str | None:
        """How closely an edit keeps the input's details, where the model takes it."""
        if fidelity is not None and kind != "edit":
            refuse("input_fidelity", _("input_fidelity only applies to /edit: leave it unset."))
        self.only_for("input_fidelity", fidelity, lambda profile: profile.takes("input_fidelity"))
        return self.choice("input_fidelity", fidelity, INPUT_FIDELITIES)

    def counts(self, kind: JobKind, count: int, has_mask: bool) -> None:
        """Attachments only for /edit, at least one there, and no more than the model takes."""
        if kind == "generate":
            if count or has_mask:
                refuse("image", _("Attachments are only for /edit: use /edit to change an image."))
            return
        if count == 0:
            refuse("image", _("Attach at least one image to edit."))
        most = self.spec.edit.max_images if self.spec.edit is not None else 0
        if count > most:
            if most == 1:
                text = _("{model} takes at most 1 image per edit: attach a single image.")
            else:
                text = _("{model} takes at most {most} images per edit: remove {extra}.")
            refuse(
                "image",
                text.format(model=self.spec.name, most=number(most), extra=number(count - most)),
            )
