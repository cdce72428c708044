"""A job on its way through the runner, and how it speaks to the member (the Reporter)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.core.errors import BotError
from bot.core.models import GeneratedImage, ImageRequest, ImageResult
from bot.jobs.durations import Typical
from bot.ledger.facade import JobSpec, Settlement

Stage = Literal["queued", "generating"]


class JobEvents(Protocol):
    """What else happens when a job ends (the Discord layer's notices); never fails a job."""

    async def settled(self, spec: JobSpec, settlement: Settlement) -> None:
        """After every charge (budget alerts)."""

    async def refunded(self, spec: JobSpec, error: BotError) -> None:
        """After a refund a BotError caused (e.g. ContentRejected: moderation reports)."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """What reached the member: how many images, and the first message holding them.

    `reencoded` holds the images as sent when any had to be re-encoded to fit Discord's
    upload limit: the store keeps those, so a later delivery need not encode them again.
    """

    images: int
    channel_id: int | None = None
    message_id: int | None = None
    reencoded: tuple[GeneratedImage, ...] = ()


class Reporter(Protocol):
    """How a job speaks to the member (implemented over a Discord interaction)."""

    def progress(
        self,
        stage: Stage,
        position: int | None,
        *,
        job_id: int | None = None,
        wait: float | None = None,
        typical: Typical | None = None,
    ) -> None:
        """The job moved: queued at a position (about `wait` s from a slot), or generating
        (usually taking `typical`); recorded, shown when due. None: nothing known to say."""

    async def preview(self, image: GeneratedImage, index: int) -> None:
        """A partial image arrived while streaming."""

    async def deliver(
        self, job_id: int, request: ImageRequest, result: ImageResult, remaining: int | None
    ) -> Delivered:
        """Send the images; return how many the member actually received."""

    async def waiting(self, job_id: int) -> None:
        """Tell the member their (charged) images could not be posted and wait for them."""

    async def fail(self, text: str) -> None:
        """Tell the member, privately, that the job failed and was refunded."""

    async def abandon(self) -> None:
        """Another process answers for this job now (it took this one's lease): stop editing
        the status message and say nothing, leaving the message to it."""


@dataclass(slots=True)
class JobTimes:
    """When a job passed each stage (runner clock); what the structured log line reports."""

    submitted: float
    started: float | None = None  # admitted by the queue
    left: float | None = None  # left the queue unstarted (cancelled, expired, interrupted)
    answered: float | None = None
    delivered: float | None = None

    def durations(self, now: float) -> dict[str, float]:
        """Seconds spent queued, waiting on WisGate, delivering, and in total."""
        spans = {"total_s": now - self.submitted}
        if self.left is not None:
            spans["queued_s"] = self.left - self.submitted
        if self.started is not None:
            spans["queued_s"] = self.started - self.submitted
            if self.answered is not None:
                spans["upstream_s"] = self.answered - self.started
                if self.delivered is not None:
                    spans["delivery_s"] = self.delivered - self.answered
        return {key: round(value, 4) for key, value in spans.items()}


@dataclass(slots=True)
class Job:
    """One member's request on its way through the runner."""

    spec: JobSpec
    request: ImageRequest
    reporter: Reporter
