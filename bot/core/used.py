"""The size and quality a job's images were actually made at: what the result card shows, the
ledger records and the charge is priced at (when the answer carries no token usage)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.models import ImageRequest, ImageResult
from bot.core.profile_files import profile_for

AUTO = "auto"  # the API picks: not a size or quality anyone can be told or charged for


@dataclass(frozen=True, slots=True)
class Used:
    """A job's size (WxH) and quality as made; None where nobody can know it."""

    size: str | None = None
    quality: str | None = None


def _known(*values: str | None) -> str | None:
    """The first value that names a real choice (not unset, not "auto")."""
    return next((value for value in values if value not in (None, AUTO)), None)


def used_settings(request: ImageRequest, result: ImageResult | None) -> Used:
    """What the answer reported, else what the images are, else what was asked, else what
    the model uses when nothing is asked (its profile's defaults)."""
    profile = profile_for(request)
    first = result.images[0] if result is not None and result.images else None
    pixels = f"{first.width}x{first.height}" if first and first.width and first.height else None
    reported = (result.size, result.quality) if result is not None else (None, None)
    return Used(
        size=_known(reported[0], pixels, request.size, profile.default_size),
        quality=_known(reported[1], request.quality, profile.default_quality),
    )
