"""Interaction callbacks and followup webhooks: acknowledgement rules, visibility, deadlines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from tests.fakes.discord.http import API_PREFIX, body_of, error, files_of, form_error, json_response
from tests.fakes.discord.messages import apply_body, check_limits, create_message
from tests.fakes.discord.model import EPHEMERAL, FakeInteraction, FakeMessage, UploadedFile
from tests.fakes.discord.state import FakeState

APPLICATION_COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
# Which callback types Discord accepts for each interaction type.
ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {4, 5, 9},
    COMPONENT: {4, 5, 6, 7, 9},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}
Callback = Callable[[FakeInteraction, dict[str, Any], Sequence[UploadedFile]], dict[str, Any]]


class InteractionRoutes:
    """POST /interactions/{id}/{token}/callback and the /webhooks/{app}/{token} followups."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self._handlers: dict[int, Callback] = {
            4: self._respond,
            5: self._defer,
            6: self._defer_update,
            7: self._update,
            8: self._autocomplete,
            9: self._modal,
        }

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Register the routes."""
        base = f"{API_PREFIX}/webhooks/{{app_id}}/{{token}}"
        router.add_post(
            f"{API_PREFIX}/interactions/{{interaction_id}}/{{token}}/callback", self.callback
        )
        router.add_post(base, self.execute)
        router.add_get(base + "/messages/{message_id}", self.get_message)
        router.add_patch(base + "/messages/{message_id}", self.edit_message)
        router.add_delete(base + "/messages/{message_id}", self.delete_message)

    async def callback(self, request: web.Request) -> web.Response:
        """The acknowledgement: exactly once, within the callback window."""
        found = self.state.interactions.get(_int(request.match_info["interaction_id"]))
        if found is None or found.token != request.match_info["token"]:
            return error(404, 10062)
        body, files = body_of(request), files_of(request)
        kind: Any = body.get("type")
        data = body.get("data") or {}
        refusal = self._refusal(found, kind, data, files)
        if refusal is not None:
            return refusal
        resource = self._handlers[kind](found, data, files)
        found.ack_type = kind
        found.acked_at = self.state.now()
        return json_response({"interaction": _callback_info(found), "resource": resource})

    def _refusal(
        self, found: FakeInteraction, kind: Any, data: dict[str, Any], files: Sequence[UploadedFile]
    ) -> web.Response | None:
        """Discord's answer when this callback cannot be accepted, in Discord's order."""
        if found.acknowledged:
            return error(400, 40060)
        late = self.state.now() - found.created_at > self.state.callback_window
        if late or not self.state.token_alive(found):
            return error(404, 10062)
        if kind not in ALLOWED_CALLBACKS.get(found.type, set()):
            message = f"callback type {kind} is not valid for interaction type {found.type}"
            return form_error("type", "INTERACTION_CALLBACK_TYPE_INVALID", message)
        if kind in (6, 7) and found.source_message is None:
            return form_error("type", "INTERACTION_CALLBACK_TYPE_INVALID", "no message to update")
        if kind in (4, 7):
            return check_limits(data, files, found.attachment_size_limit, creating=kind == 4)
        return None

    def _respond(
        self, found: FakeInteraction, data: dict[str, Any], files: Sequence[UploadedFile]
    ) -> dict[str, Any]:
        found.original = self._new_message(found, data, files, kind="response")
        return {"type": 4, "message": found.original.payload()}

    def _defer(
        self, found: FakeInteraction, data: dict[str, Any], files: Sequence[UploadedFile]
    ) -> dict[str, Any]:
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        found.defer_ephemeral = ephemeral
        found.original = self._new_message(found, {}, (), kind="response")
        found.original.ephemeral = ephemeral
        found.original.loading = True
        return {"type": 5}

    def _defer_update(
        self, found: FakeInteraction, data: dict[str, Any], files: Sequence[UploadedFile]
    ) -> dict[str, Any]:
        found.original = found.source_message
        return {"type": 6}

    def _update(
        self, found: FakeInteraction, data: dict[str, Any], files: Sequence[UploadedFile]
    ) -> dict[str, Any]:
        message = found.source_message
        assert message is not None  # checked by callback()
        apply_body(self.state, message, data, files)
        found.original = message
        return {"type": 7, "message": message.payload()}

    def _autocomplete(
        self, found: FakeInteraction, data: dict[str, Any], files: Sequence[UploadedFile]
    ) -> dict[str, Any]:
        found.choices = list(data.get("choices") or [])
        return {"type": 8}

    def _modal(
        self, found: FakeInteraction, data: dict[str, Any], files: Sequence[UploadedFile]
    ) -> dict[str, Any]:
        found.modal = data
        return {"type": 9}

    def _new_message(
        self,
        found: FakeInteraction,
        body: dict[str, Any],
        files: Sequence[UploadedFile],
        *,
        kind: str,
    ) -> FakeMessage:
        return create_message(
            self.state,
            channel_id=found.channel_id,
            author=self.state.bot_user,
            body=body,
            files=files,
            kind=kind,
            guild_id=found.guild_id,
            interaction_id=found.id,
            invoker_id=found.user.id,
            webhook_id=self.state.application_id,
        )

    async def execute(self, request: web.Request) -> web.StreamResponse:
        """A followup. The first one after a defer *is* the deferred response, same visibility."""
        found = self._interaction(request)
        if isinstance(found, web.Response):
            return found
        if found.ack_type not in (4, 5, 6, 7):
            return error(404, 10015)
        body, files = body_of(request), files_of(request)
        problem = check_limits(body, files, found.attachment_size_limit, creating=True)
        if problem is not None:
            return problem
        original = found.original
        if (
            found.ack_type == 5
            and original is not None
            and original.loading
            and not original.deleted
        ):
            # Discord ignores this followup's flags: it resolves the loading message in place.
            original.requested_ephemeral = bool(int(body.get("flags") or 0) & EPHEMERAL)
            apply_body(self.state, original, body, files, editing=False)
            original.loading = False
            message = original
        else:
            message = self._new_message(found, body, files, kind="followup")
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(message.payload())
        return web.Response(status=204)

    async def get_message(self, request: web.Request) -> web.Response:
        """GET @original or a followup."""
        found = self._message(request)
        return found if isinstance(found, web.Response) else json_response(found[1].payload())

    async def edit_message(self, request: web.Request) -> web.Response:
        """PATCH @original or a followup; editing a loading message resolves it, same visibility."""
        found = self._message(request)
        if isinstance(found, web.Response):
            return found
        interaction, message = found
        body, files = body_of(request), files_of(request)
        problem = check_limits(body, files, interaction.attachment_size_limit, creating=False)
        if problem is not None:
            return problem
        apply_body(self.state, message, body, files)
        message.loading = False
        return json_response(message.payload())

    async def delete_message(self, request: web.Request) -> web.Response:
        """DELETE @original or a followup (kept by the fake, marked deleted)."""
        found = self._message(request)
        if isinstance(found, web.Response):
            return found
        found[1].deleted = True
        return web.Response(status=204)

    def _interaction(self, request: web.Request) -> FakeInteraction | web.Response:
        found = self.state.tokens.get(request.match_info["token"])
        app_ok = _int(request.match_info["app_id"]) == self.state.application_id
        if found is None or not app_ok or not self.state.token_alive(found):
            return error(404, 10015)
        return found

    def _message(self, request: web.Request) -> tuple[FakeInteraction, FakeMessage] | web.Response:
        found = self._interaction(request)
        if isinstance(found, web.Response):
            return found
        wanted = request.match_info["message_id"]
        if wanted == "@original":
            message = found.original
        else:
            message = self.state.messages.get(_int(wanted))
            if message is not None and message.interaction_id != found.id:
                message = None
        if message is None or message.deleted:
            return error(404, 10008)
        return found, message


def _callback_info(found: FakeInteraction) -> dict[str, Any]:
    info: dict[str, Any] = {"id": str(found.id), "type": found.type}
    if found.original is not None:
        info["response_message_id"] = str(found.original.id)
        info["response_message_loading"] = found.original.loading
        info["response_message_ephemeral"] = found.original.ephemeral
    return info


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1
