"""Plain data passed between the catalogue, the WisGate client, the ledger and the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.core.profiles import ImageFormat, ModelProfile

__all__ = ["ImageFormat", "JobKind"]

JobKind = Literal["generate", "edit"]


@dataclass(frozen=True, slots=True)
class InputImage:
    """An uploaded image whose bytes were sniffed (not trusted from its file name)."""

    data: bytes = field(repr=False)
    filename: str
    format: ImageFormat
    width: int
    height: int
    has_alpha: bool
    # While its job waits in the queue, the bytes may wait in this file instead (data is b"").
    spooled: Path | None = None

    @property
    def content_type(self) -> str:
        """The MIME type the API needs on the multipart part."""
        return f"image/{self.format}"


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """A validated request: every field is one the chosen model accepts; None means not sent."""

    kind: JobKind
    model: str
    prompt: str
    n: int = 1
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    background: str | None = None
    output_format: ImageFormat | None = None
    output_compression: int | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None
    # The model's profile, as the catalogue found it: the client and the fitting read what
    # the model takes from here (None only in tests that build a request by hand).
    profile: ModelProfile | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage as reported by GPT image models; what the ledger prices actual cost from."""

    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """All tokens, input and output."""
        return self.input_text_tokens + self.input_image_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One decoded image from the API."""

    data: bytes = field(repr=False)
    format: ImageFormat
    width: int | None = None
    height: int | None = None
    revised_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class ImageResult:
    """What one API call produced."""

    images: tuple[GeneratedImage, ...]
    usage: Usage | None = None
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    output_format: ImageFormat | None = None
