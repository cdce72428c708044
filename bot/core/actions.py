"""What a member can do with a result: the actions' names, their words, and the prompt each sends.

Every action is an edit of one result image (Midjourney's vocabulary on the image API):
Vary (subtle, strong) and Upscale send the image as it is, with an instruction before the
prompt; Zoom out and Pan place it on a larger transparent canvas (bot/images/canvas.py) and
keep the prompt; Remix sends it with a prompt the member rewrote. The names are stable: they
are in custom ids of messages already sent and in the jobs' recorded lineage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.core.errors import refuse
from bot.i18n import N_, _
from bot.i18n.numbers import number

ActionKind = Literal["vary", "upscale", "outpaint", "remix"]

# The lineage a job records in its params (no schema change): the job it was made from, what
# was done to it, and the member's prompt before an action's instruction was put in front.
PARENT, ACTION, SUBJECT = "parent", "action", "subject"


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a member can do with a result image."""

    name: str  # in custom ids and params["action"]: letters, digits, "_" and "."
    label: str
    emoji: str
    kind: ActionKind
    # Outpainting: the new canvas over the original, across and down (1.5, 1.5 zooms out
    # 1.5x), and where the original sits on it (0 left or top, 0.5 centre, 1 right or bottom).
    extend: tuple[float, float] = (1.0, 1.0)
    anchor: tuple[float, float] = (0.5, 0.5)
    instruction: str = ""  # put before the prompt
    fidelity: str | None = None  # input_fidelity, where the model takes it

    @property
    def pans(self) -> bool:
        """Does it grow the picture one way only (a pan), rather than every way (a zoom)?"""
        return self.kind == "outpaint" and self.extend[0] != self.extend[1]


_SUBTLE = (
    "Make a subtle variation of this image: keep its composition, subjects, colours and "
    "framing, and change only small details."
)
_STRONG = (
    "Make a strong variation of this image: keep its subject and theme, and freely change the "
    "composition, pose, lighting and details."
)
_UPSCALE = (
    "Redraw this image at a higher resolution: keep everything exactly as it is, with sharper "
    "and finer detail."
)

ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "vary_subtle", N_("Vary (subtle)"), "🪄", "vary", instruction=_SUBTLE, fidelity="high"
        ),
        Action("vary_strong", N_("Vary (strong)"), "🌀", "vary", instruction=_STRONG),
        Action("remix", N_("Remix"), "✍️", "remix"),
        Action("upscale", N_("Upscale"), "🔍", "upscale", instruction=_UPSCALE),
        Action("zoom_1.5", N_("Zoom out 1.5x"), "🔭", "outpaint", extend=(1.5, 1.5)),
        Action("zoom_2", N_("Zoom out 2x"), "🔭", "outpaint", extend=(2.0, 2.0)),
        Action("pan_left", N_("Pan left"), "⬅️", "outpaint", extend=(1.5, 1.0), anchor=(1.0, 0.5)),
        Action("pan_right", N_("Pan right"), "➡️", "outpaint", extend=(1.5, 1.0), anchor=(0.0, 0.5)),
        Action("pan_up", N_("Pan up"), "⬆️", "outpaint", extend=(1.0, 1.5), anchor=(0.5, 1.0)),
        Action("pan_down", N_("Pan down"), "⬇️", "outpaint", extend=(1.0, 1.5), anchor=(0.5, 0.0)),
    )
}
# How they are laid out under a result: a row each (Discord: at most five buttons a row).
ROWS: tuple[tuple[str, ...], ...] = (
    ("vary_subtle", "vary_strong", "remix", "upscale"),
    ("zoom_1.5", "zoom_2"),
    ("pan_left", "pan_right", "pan_up", "pan_down"),
)
# What /history and Details call the jobs made by the older result buttons.
OTHER_WORDS = {"reroll": N_("Re-roll"), "edit": N_("Edit")}


def action_words(name: str) -> str:
    """An action's name in members' words ("Zoom out 2x"); an unknown one as it is."""
    action = ACTIONS.get(name)
    label = action.label if action is not None else OTHER_WORDS.get(name)
    return name if label is None else _(label)


def action_prompt(action: Action, subject: str, prompt_max: int) -> str:
    """The prompt an action sends: its instruction, then the member's prompt; refused (with
    what to do) when the model cannot take both."""
    if not action.instruction:
        return subject
    prompt = f"{action.instruction}\n\n{subject}"
    if len(prompt) > prompt_max:
        room = prompt_max - len(action.instruction) - 2
        text = _(
            "{action} adds an instruction to the prompt, and this prompt is too long for "
            "both (at most {room} characters here): press **Remix** and shorten it. "
            "Nothing was charged."
        )
        refuse("prompt", text.format(action=_(action.label), room=number(max(room, 0))))
    return prompt


def lineage(parent: int, action: str, subject: str | None = None) -> dict[str, Any]:
    """What a job made from a result records in its params."""
    found: dict[str, Any] = {PARENT: parent, ACTION: action}
    if subject is not None:
        found[SUBJECT] = subject
    return found


def parent_of(params: Mapping[str, Any]) -> int | None:
    """The job a job was made from (params["parent"]), or None."""
    value = params.get(PARENT)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def action_of(params: Mapping[str, Any]) -> str | None:
    """What was done to make this job from its parent (params["action"]), or None."""
    value = params.get(ACTION)
    return value if isinstance(value, str) and value else None


def subject_of(params: Mapping[str, Any]) -> str:
    """The member's prompt behind a job: before any action's instruction ('' when none)."""
    for key in (SUBJECT, "prompt"):
        value = params.get(key)
        if isinstance(value, str):
            return value
    return ""
