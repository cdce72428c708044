"""Turn a validated ImageRequest into the API's JSON body or multipart fields."""

from __future__ import annotations

from typing import Any

from bot.core.models import ImageRequest, InputImage
from bot.core.profile_files import profile_for


def _common_fields(request: ImageRequest, *, stream: bool, partial_images: int) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request.model, "prompt": request.prompt}
    if request.n != 1:
        body["n"] = request.n
    optional = {
        "size": request.size,
        "quality": request.quality,
        "style": request.style,
        "background": request.background,
        "output_format": request.output_format,
        "output_compression": request.output_compression,
        "moderation": request.moderation,
        "input_fidelity": request.input_fidelity,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    profile = profile_for(request)
    if stream and profile.takes("partial_images"):
        body["stream"] = True
        body["partial_images"] = partial_images
    if profile.response_format:
        # dall-e answers a 60-minute URL by default; ask for the bytes to skip a second download.
        body["response_format"] = "b64_json"
    return body


def generation_body(
    request: ImageRequest, *, stream: bool = False, partial_images: int = 2
) -> dict[str, Any]:
    """The JSON body for POST /images/generations."""
    return _common_fields(request, stream=stream, partial_images=partial_images)


def edit_fields(
    request: ImageRequest, *, stream: bool = False, partial_images: int = 2
) -> list[tuple[str, str]]:
    """The plain (non-file) multipart fields for POST /images/edits, as strings."""
    fields = _common_fields(request, stream=stream, partial_images=partial_images)
    return [(key, _form_value(value)) for key, value in fields.items()]


def edit_files(request: ImageRequest) -> list[tuple[str, InputImage]]:
    """The file parts for POST /images/edits: `image` for one input, `image[]` for several."""
    name = "image" if len(request.images) == 1 else "image[]"
    files = [(name, image) for image in request.images]
    if request.mask is not None:
        files.append(("mask", request.mask))
    return files


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
