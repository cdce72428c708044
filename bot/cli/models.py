"""`python -m bot models`: every model profile, whether it is enabled, listed by WisGate and
available now, what it can do in short, and what it costs."""

from __future__ import annotations

import sys

import aiohttp

from bot.config import Settings
from bot.core.catalogue import Catalogue, load_models
from bot.core.profiles import ModelProfile
from bot.jobs.gateway import read_listing
from bot.wisgate.client import WisGateClient

LIST_TIMEOUT = 30.0


def capabilities(profile: ModelProfile) -> str:
    """What a model can do, in a few words."""
    parts = [f"n {profile.n_min}-{profile.n_max}" if profile.n_max > 1 else "one image"]
    if profile.free_size is not None:
        parts.append(f"free sizes to {profile.free_size.max_edge}px")
    else:
        parts.append(f"{len([s for s in profile.sizes if s != 'auto'])} sizes")
    if profile.edit is not None:
        parts.append(f"edits {profile.edit.max_images} image(s)")
    if profile.transparent:
        parts.append("transparent")
    if profile.output_formats:
        parts.append("/".join(profile.output_formats))
    if profile.styles:
        parts.append("styles " + "/".join(profile.styles))
    return ", ".join(parts)


def price_words(profile: ModelProfile) -> str:
    """Its prices in short: the range per image, and per million tokens."""
    parts = []
    every = [usd for row in (profile.image_prices or {}).values() for usd in row.values()]
    if every:
        parts.append(f"${min(every)}-${max(every)} an image")
    tokens = profile.token_prices
    if tokens is not None:
        parts.append(
            f"tokens ${tokens.text_input}/${tokens.image_input}/${tokens.image_output} per M"
        )
    return "; ".join(parts) or "no price"


def model_lines(catalogue: Catalogue) -> list[str]:
    """One line per profile with its verdicts (listed is "?" without a usable listing)."""
    lines = []
    for name, profile in catalogue.profiles.items():
        listed = "?" if catalogue.listed is None else ("yes" if name in catalogue.listed else "no")
        verdict = (
            f"{name}: enabled {'yes' if name in catalogue.enabled else 'no'}, listed {listed}, "
            f"available {'yes' if name in catalogue.available else 'no'}"
        )
        lines.append(f"{verdict}; {capabilities(profile)}; {price_words(profile)}")
    for name in sorted(catalogue.unprofiled):
        lines.append(f"{name}: listed by WisGate, no profile (add it to MODELS_FILE to offer it)")
    return lines


async def listed_catalogue(settings: Settings) -> Catalogue:
    """The catalogue with WisGate's listing read once (None on any failure: see read_listing)."""
    catalogue, _ = load_models(
        settings.models_file, settings.enabled_models, settings.default_model, settings.prices_file
    )
    async with aiohttp.ClientSession() as session:
        client = WisGateClient.from_settings(session, settings, max_retries=1)
        catalogue.update_listing(await read_listing(client, within=LIST_TIMEOUT))
    return catalogue


async def run_models(settings: Settings) -> int:
    """Print the table; return the exit code."""
    catalogue = await listed_catalogue(settings)
    if catalogue.listed is None:
        print("WisGate gave no usable model list: the configured models stand.", file=sys.stderr)
    for line in model_lines(catalogue):
        print(line)
    return 0
