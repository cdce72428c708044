"""Typed interaction options and modal answers, built from what the bot registered or sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tests.fakes.discord.model import FakeAttachment, FakeChannel, FakeRole, FakeUser
from tests.fakes.discord.state import FakeGuild

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)
TEXT_INPUT, LABEL, ACTION_ROW = 4, 18, 1
SELECTS = {3, 5, 6, 7, 8}
MakeAttachment = Callable[[Any], FakeAttachment]


class OptionBuilder:
    """Turns `{"name": value}` into Discord's typed option list plus `resolved` data."""

    def __init__(self, guild: FakeGuild | None, make_attachment: MakeAttachment) -> None:
        self.guild = guild
        self.make_attachment = make_attachment
        self.resolved: dict[str, dict[str, Any]] = {}

    def build(
        self,
        command: dict[str, Any],
        path: Sequence[str],
        values: Mapping[str, Any],
        uploads: Sequence[Any],
        *,
        focused: str | None = None,
    ) -> list[dict[str, Any]]:
        """Options for `command` (and the subcommand `path` inside it), in declaration order."""
        definitions: list[dict[str, Any]] = command.get("options") or []
        chain: list[dict[str, Any]] = []
        for name in path:
            found = _definition(definitions, name, (SUB_COMMAND, SUB_COMMAND_GROUP))
            chain.append(found)
            definitions = found.get("options") or []
        options = self._leaf(definitions, values, uploads, focused)
        for parent in reversed(chain):
            options = [{"type": parent["type"], "name": parent["name"], "options": options}]
        return options

    def _leaf(
        self,
        definitions: list[dict[str, Any]],
        values: Mapping[str, Any],
        uploads: Sequence[Any],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {d["name"]: d for d in definitions}
        unknown = set(values) - set(by_name)
        if unknown:
            raise ValueError(
                f"options {sorted(unknown)} are not declared; declared: {sorted(by_name)}"
            )
        given = dict(values)
        # Bare uploads fill the attachment options the test did not name, in order.
        free = [
            d["name"] for d in definitions if d["type"] == ATTACHMENT and d["name"] not in given
        ]
        if len(uploads) > len(free):
            raise ValueError(
                f"{len(uploads)} attachments but only {len(free)} attachment options free"
            )
        given.update(zip(free, uploads, strict=False))
        if focused is None:
            missing = [
                d["name"] for d in definitions if d.get("required") and d["name"] not in given
            ]
            if missing:
                raise ValueError(f"required options missing: {missing}")
        return [
            self._option(d, given[d["name"]], d["name"] == focused)
            for d in definitions
            if d["name"] in given
        ]

    def _option(self, definition: dict[str, Any], value: Any, focused: bool) -> dict[str, Any]:
        kind = definition["type"]
        option: dict[str, Any] = {"type": kind, "name": definition["name"]}
        if focused:
            # Discord sends what the member has typed so far, as a string.
            option.update(value=str(value), focused=True)
            return option
        option["value"] = self._value(kind, value)
        return option

    def _value(self, kind: int, value: Any) -> Any:
        converters: dict[int, Callable[[Any], Any]] = {
            STRING: str,
            INTEGER: int,
            BOOLEAN: bool,
            NUMBER: float,
            ATTACHMENT: self._attachment,
            USER: self._user,
            CHANNEL: self._channel,
            ROLE: self._role,
            MENTIONABLE: self._mentionable,
        }
        return converters[kind](value)

    def _attachment(self, value: Any) -> str:
        attachment = self.make_attachment(value)
        self.resolved.setdefault("attachments", {})[str(attachment.id)] = attachment.payload()
        return str(attachment.id)

    def _user(self, value: FakeUser) -> str:
        self.resolved.setdefault("users", {})[str(value.id)] = value.payload()
        member = self.guild.member(value.id) if self.guild else None
        if member is not None:
            data = member.payload(self.guild.permissions_of(member.roles) if self.guild else None)
            data.pop("user")
            self.resolved.setdefault("members", {})[str(value.id)] = data
        return str(value.id)

    def _channel(self, value: FakeChannel) -> str:
        data = {**value.payload(), "permissions": "0"}
        self.resolved.setdefault("channels", {})[str(value.id)] = data
        return str(value.id)

    def _role(self, value: FakeRole) -> str:
        self.resolved.setdefault("roles", {})[str(value.id)] = value.payload()
        return str(value.id)

    def _mentionable(self, value: FakeUser | FakeRole) -> str:
        return self._role(value) if isinstance(value, FakeRole) else self._user(value)


def _definition(
    definitions: list[dict[str, Any]], name: str, kinds: tuple[int, ...]
) -> dict[str, Any]:
    for definition in definitions:
        if definition["name"] == name and definition["type"] in kinds:
            return definition
    raise ValueError(f"no subcommand {name!r}; declared: {[d['name'] for d in definitions]}")


def modal_answers(modal: dict[str, Any], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `components` of a MODAL_SUBMIT, mirroring the layout of the modal the bot sent."""
    inputs: dict[str, dict[str, Any]] = {}
    answers = [_answer(top, values, inputs) for top in modal.get("components") or []]
    unknown = set(values) - set(inputs)
    if unknown:
        raise ValueError(f"the modal has no inputs {sorted(unknown)}; it has {sorted(inputs)}")
    missing = [cid for cid, c in inputs.items() if c.get("required", True) and cid not in values]
    if missing:
        raise ValueError(f"required modal inputs missing: {missing}")
    return [a for a in answers if a is not None]


def _answer(
    component: dict[str, Any], values: Mapping[str, Any], inputs: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    kind = component.get("type")
    if kind == ACTION_ROW:
        children = [_answer(c, values, inputs) for c in component.get("components") or []]
        return {"type": ACTION_ROW, "components": [c for c in children if c is not None]}
    if kind == LABEL:
        inner = _answer(component["component"], values, inputs)
        return (
            None
            if inner is None
            else {"type": LABEL, "id": component.get("id", 0), "component": inner}
        )
    custom_id = component.get("custom_id")
    if custom_id is None:
        return None
    inputs[custom_id] = component
    if kind == TEXT_INPUT:
        return {"type": TEXT_INPUT, "custom_id": custom_id, "value": str(values.get(custom_id, ""))}
    if kind in SELECTS:
        return {"type": kind, "custom_id": custom_id, "values": list(values.get(custom_id, []))}
    return None
