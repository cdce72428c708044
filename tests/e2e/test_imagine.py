"""/imagine end to end: the production bot against fake Discord and fake WisGate."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.harness import running_bot


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2"])
async def test_imagine_delivers_images_on_every_model(tmp_path: Path, model: str) -> None:
    async with running_bot(tmp_path) as world:
        n = 1 if model == "dall-e-3" else 2
        handle = await world.slash(
            "imagine", {"prompt": "a red fox in snow", "model": model, "n": n}
        )
        await world.idle()
        first = world.discord.first_request_for(handle)
        assert first.json["type"] == 5  # the defer was the first request for it
        assert handle.ack_latency is not None and handle.ack_latency < 3.0
        [message] = [m for m in world.discord.messages_for(handle) if not m.deleted]
        assert not message.ephemeral and not message.loading
        assert len(message.attachments) == n
        for k, attachment in enumerate(message.attachments, start=1):
            assert attachment.filename.startswith("imagine-") and f"-{k}." in attachment.filename
            Image.open(io.BytesIO(attachment.data)).verify()
        embed = message.embeds[0]
        assert "a red fox in snow" in embed["description"]
        [request] = world.wisgate.requests
        assert request.json["model"] == model
        rows = world.rows("SELECT status, images_charged FROM jobs")
        assert rows == [("succeeded", n)]
