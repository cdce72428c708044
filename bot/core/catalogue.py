"""The enabled models and every rule a member's options and files must pass: a valid
ImageRequest, or an InvalidRequest saying what to change, before anything costs anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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
from bot.core.models import ImageFormat, ImageRequest, JobKind
from bot.core.profiles import (
    BACKGROUNDS,
    INPUT_FIDELITIES,
    MODELS,
    MODERATIONS,
    OUTPUT_FORMATS,
    SMALL_MAX_BYTES,
    ModelSpec,
    free_size_problem,
    models_with,
    parse_size,
    suggest_size,
)

MAX_CHOICES = 25  # Discord's cap on autocomplete choices


@dataclass
class RawOptions:
    """The options exactly as a Discord command gives them; None means not given."""

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


class Catalogue:
    """The enabled models and every rule a request must pass before it costs anything."""

    def __init__(self, enabled: Sequence[str], default: str) -> None:
        unknown = [name for name in enabled if name not in MODELS]
        if unknown or not enabled:
            raise ValueError(f"unknown or no models enabled: {unknown}; known: {list(MODELS)}")
        if default not in enabled:
            raise ValueError(f"default model {default} is not enabled")
        self.enabled: tuple[str, ...] = tuple(dict.fromkeys(enabled))
        self.default = default

    def spec(self, name: str) -> ModelSpec:
        """The spec of an enabled model; refuses any other name."""
        if name not in self.enabled:
            choose = or_list(self.enabled)
            refuse("model", f"Model {shown(name)} is not available here: choose {choose}.")
        return MODELS[name]

    def size_choices(self, model: str | None, typed: str) -> list[str]:
        """Autocomplete for the size option: the model's sizes matching what was typed."""
        spec = MODELS[model if model is not None and model in self.enabled else self.default]
        text = typed.strip().lower()
        choices = [size for size in spec.sizes if text in size]
        parsed = parse_size(text) if spec.free_sizes else None
        if parsed is not None:
            exact = f"{parsed[0]}x{parsed[1]}"
            offer = exact if free_size_problem(*parsed) is None else suggest_size(*parsed)
            if offer is not None and offer not in choices:
                choices.insert(0, offer)
        return choices[:MAX_CHOICES]

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
        spec = MODELS[request.model]
        _check_counts(spec, kind, len(files), mask is not None)
        for declared in files:
            check_declared(declared, spec.edit_max_bytes, "image")
            check_declared_format(spec, declared)
            if spec.edit_square and declared.width is not None and declared.height is not None:
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

        Synchronous CPU work (full image decodes): async callers run it via `asyncio.to_thread`.
        """
        request = self._options(options, kind)
        spec = MODELS[request.model]
        _check_counts(spec, kind, len(images), mask is not None)
        inputs = tuple(check_input(spec, upload) for upload in images)
        sniffed_mask = check_mask(mask, inputs[0]) if mask is not None else None
        return replace(request, images=inputs, mask=sniffed_mask)

    def _options(self, options: RawOptions, kind: JobKind) -> ImageRequest:
        spec = self.spec(self.default if options.model is None else options.model)
        if kind == "edit" and not spec.can_edit:
            editors = [name for name in self.enabled if MODELS[name].can_edit]
            fix = f"choose {or_list(editors)} for /edit" if editors else "no enabled model can"
            refuse("model", f"{spec.name} cannot edit images: {fix}.")
        # Checked in the order a member reads the options, so the first complaint is the first one.
        prompt, n, size = (
            _prompt(spec, options.prompt),
            _count(spec, options.n),
            _size(spec, options.size),
        )
        quality = _choice(spec, "quality", options.quality, spec.qualities)
        style = _style(spec, options.style)
        output_format, compression = _output(spec, options)
        return ImageRequest(
            kind=kind,
            model=spec.name,
            prompt=prompt,
            n=n,
            size=size,
            quality=quality,
            style=style,
            background=_background(spec, options.background, output_format),
            output_format=output_format,
            output_compression=compression,
            moderation=_moderation(spec, options.moderation, kind),
            input_fidelity=_fidelity(spec, options.input_fidelity, kind),
        )


def _prompt(spec: ModelSpec, prompt: str) -> str:
    text = prompt.strip()
    if not text:
        refuse("prompt", "Write a prompt: it cannot be empty.")
    if len(text) > spec.prompt_max:
        over = len(text) - spec.prompt_max
        refuse(
            "prompt",
            f"The prompt has {len(text):,} characters but {spec.name} takes at most "
            f"{spec.prompt_max:,}: shorten it by {over:,}.",
        )
    return text


def _count(spec: ModelSpec, n: int | None) -> int:
    if n is None:
        return 1
    if spec.n_min <= n <= spec.n_max:
        return int(n)  # a bool is an int too; send a plain number
    if spec.n_max == 1:
        refuse("n", f"{spec.name} makes one image at a time: set n to 1.")
    low, high = spec.n_min, spec.n_max
    refuse(
        "n", f"{spec.name} makes {low} to {high} images per request: set n from {low} to {high}."
    )


def _size(spec: ModelSpec, size: str | None) -> str | None:
    if size is None:
        return None
    parsed = parse_size(size)
    canonical = f"{parsed[0]}x{parsed[1]}" if parsed else size.strip().lower()
    if canonical in spec.sizes:
        return canonical
    choose = or_list(spec.sizes)
    if not spec.free_sizes:
        refuse("size", f"Size {shown(size)} is not available on {spec.name}: choose {choose}.")
    if parsed is None:
        hint = f"write WIDTHxHEIGHT (like 1536x864) or choose {choose}"
        refuse("size", f"Size {shown(size)} is not a size: {hint}.")
    problem = free_size_problem(*parsed)
    if problem is not None:
        suggestion = suggest_size(*parsed)
        hint = f" (try {suggestion})" if suggestion else ""
        refuse("size", f"Size {canonical} is not allowed: {problem}{hint}.")
    return canonical


def _choice(spec: ModelSpec, field: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is None:
        return None
    text = value.strip().lower()
    if text not in allowed:
        choose = or_list(allowed)
        refuse(field, f"{field} {shown(value)} is not available on {spec.name}: choose {choose}.")
    return text


def _only_for(spec: ModelSpec, field: str, value: object, flag: str) -> None:
    if value is not None and not getattr(spec, flag):
        takers = or_list(models_with(flag))
        refuse(field, f"{field} only works with {takers}: leave it unset for {spec.name}.")


def _style(spec: ModelSpec, style: str | None) -> str | None:
    _only_for(spec, "style", style, "styles")
    return _choice(spec, "style", style, spec.styles)


def _output(spec: ModelSpec, options: RawOptions) -> tuple[ImageFormat | None, int | None]:
    _only_for(spec, "output_format", options.output_format, "gpt_extras")
    _only_for(spec, "output_compression", options.output_compression, "gpt_extras")
    name = _choice(spec, "output_format", options.output_format, tuple(OUTPUT_FORMATS))
    fmt = OUTPUT_FORMATS[name] if name is not None else None
    compression = options.output_compression
    if compression is None:
        return fmt, None
    if not 0 <= compression <= 100:
        refuse("output_compression", f"output_compression must be 0 to 100, not {compression}.")
    if fmt not in ("jpeg", "webp"):
        refuse(
            "output_compression",
            "output_compression only works with jpeg or webp output: set output_format to "
            "jpeg or webp, or leave output_compression unset.",
        )
    return fmt, int(compression)


def _background(spec: ModelSpec, background: str | None, fmt: ImageFormat | None) -> str | None:
    _only_for(spec, "background", background, "gpt_extras")
    value = _choice(spec, "background", background, BACKGROUNDS)
    if value == "transparent" and fmt == "jpeg":
        refuse(
            "output_format",
            "A transparent background needs png or webp output: set output_format to png or webp.",
        )
    return value


def _moderation(spec: ModelSpec, moderation: str | None, kind: JobKind) -> str | None:
    _only_for(spec, "moderation", moderation, "gpt_extras")
    if moderation is not None and kind == "edit":
        # The edit endpoint has no moderation parameter (OpenAI's published schema).
        refuse("moderation", "moderation only applies to new images: leave it unset for /edit.")
    return _choice(spec, "moderation", moderation, MODERATIONS)


def _fidelity(spec: ModelSpec, fidelity: str | None, kind: JobKind) -> str | None:
    if fidelity is not None and kind != "edit":
        refuse("input_fidelity", "input_fidelity only applies to /edit: leave it unset.")
    _only_for(spec, "input_fidelity", fidelity, "input_fidelity")
    return _choice(spec, "input_fidelity", fidelity, INPUT_FIDELITIES)


def _check_counts(spec: ModelSpec, kind: JobKind, count: int, has_mask: bool) -> None:
    if kind == "generate":
        if count or has_mask:
            refuse("image", "Attachments are only for /edit: use /edit to change an image.")
        return
    if count == 0:
        refuse("image", "Attach at least one image to edit.")
    most = spec.max_edit_images
    if count > most:
        fix = "attach a single image" if most == 1 else f"remove {count - most}"
        images = "image" if most == 1 else "images"
        refuse("image", f"{spec.name} takes at most {most} {images} per edit: {fix}.")
