"""What a member may expect while waiting (issue 17, item 9): the queued line's estimated wait
and the generating line's usual range, both from the jobs this bot ran lately.

One slot (MAX_CONCURRENT_JOBS=1), so the fake WisGate's delays are the calls' durations and
the jobs behind a held one really queue; the status lines are read as Discord shows them.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.core.models import ImageRequest
from bot.discord.texts import rough_duration, usual_range
from tests.e2e.harness import World, running_bot
from tests.fakes.discord import FakeInteraction

# Seconds at WisGate. The first outlasts the first status edits (5 s after the defer), so
# lines are shown while nothing is known yet; then p25-p75 is about 1.1-3.6 s, the median 1.2.
WARM_UP = (6.0, 1.0, 1.2)


def status(handle: FakeInteraction) -> str:
    """The job's status message as it reads now."""
    return handle.original.content if handle.original is not None else ""


def contents(world: World, handle: FakeInteraction) -> list[str]:
    """The content of every edit the bot made of the job's message."""
    return [
        str(request.json.get("content") or "")
        for request in world.discord.requests_for(handle)
        if request.method == "PATCH" and "@original" in request.path and request.json
    ]


async def test_queued_and_generating_lines_say_what_recent_jobs_took(tmp_path: Path) -> None:
    async with running_bot(tmp_path, max_concurrent_jobs=1, streaming_previews="off") as world:
        for delay in WARM_UP:
            world.wisgate.fail("slow", delay=delay)
        warm_up = [
            await world.slash("imagine", {"prompt": f"warm-up {k}"}, user=user)
            for k, user in enumerate((world.alice, world.bob, world.alice))
        ]
        await world.idle(within=20)
        # Nothing was known while they ran: their lines said no estimate, none made up.
        shown = [text for handle in warm_up for text in contents(world, handle)]
        assert any(text.startswith("🎨 Generating…") for text in shown), shown
        assert any(text.startswith("⏳ Queued — position") for text in shown), shown
        assert not any("about" in text or "usually" in text for text in shown), shown

        world.wisgate.fail("slow", delay=7.0)  # holds the slot past everyone's first edit
        held = await world.slash("imagine", {"prompt": "a held sunrise"})
        first = await world.slash("imagine", {"prompt": "first in line"}, user=world.bob)
        second = await world.slash("imagine", {"prompt": "second in line"})
        await world.discord.wait_for(
            lambda: "starts in about" in status(second) and "usually" in status(held),
            within=8.0,
            what="the queued and generating lines with their expectations",
        )
        # The range of the calls for this model and quality, the median of all calls.
        durations = world.bot.runner.durations
        typical = durations.typical(ImageRequest("generate", world.settings.default_model, "p"))
        median = durations.wait(1, 1)
        assert typical is not None and 1.0 <= typical.low < 2.0 and 3.5 <= typical.high < 4.5
        assert median is not None and 1.2 <= median < 2.0
        assert re.fullmatch(r"🎨 Generating… \d+ s · usually \d+–\d+ s", status(held))
        assert status(held).endswith(usual_range(typical))
        # One slot frees about every median: one place ahead, about one median; two, two.
        assert re.fullmatch(
            r"⏳ Queued — position 1 · \d+ s · starts in about \d+ s", status(first)
        )
        assert status(first).endswith(f"starts in about {rough_duration(median)}")
        assert status(second).endswith(f"starts in about {rough_duration(2 * median)}")
        assert "position 2" in status(second)
        await world.idle(within=20)
        assert [row[0] for row in world.rows("SELECT status FROM jobs")] == ["succeeded"] * 6
