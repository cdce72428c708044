"""Typed errors of the WisGate client, each with the text a Discord member reads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from bot.core.errors import BotError
from bot.i18n import N_, _

# Upstream error texts are logged and may be shown; keep them short.
_MAX_MESSAGE = 300
_MAX_PLAIN_BODY = 200
_REDACTED = "[redacted]"
# A gateway may echo credentials that are not our configured key (another account's key, an
# Authorization header): hide anything shaped like a bearer token or an OpenAI-style key. No
# word boundary before `sk-`: a key glued to other text is still a key (`disk-...` may suffer).
_BEARER = re.compile(r"\b(bearer)\s+[A-Za-z0-9._~+/-]+=*", re.IGNORECASE)
_SK_KEY = re.compile(r"sk-[A-Za-z0-9_-]{8,}")
_CONTENT_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
_STREAM_PARAMS = frozenset({"stream", "partial_images"})


class WisGateError(BotError):
    """An error from the image API (or on the way to it), safe to log and to show."""

    user_text: ClassVar[str] = N_(
        "The image service failed to answer. Nothing was charged; try again."
    )

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(_(self.user_text))  # made in the job's task: the member's language
        self.status = status
        self.code = code
        self.param = param
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} (status={self.status}, code={self.code})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"param={self.param!r}, message={self.message!r})"
        )


class BadRequest(WisGateError):
    """The API refused the request's parameters (a 4xx that no other class describes)."""

    user_text = N_(
        "The image service refused these options. Try a different size, format or prompt; "
        "nothing was charged."
    )

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        # The API's own reason usually says which option is wrong; it carries no secrets.
        self.user_message = _("{problem}\nThe service said: {message}").format(
            problem=_(self.user_text), message=message
        )


class ContentRejected(WisGateError):
    """The prompt or an input image was blocked by the safety system."""

    user_text = N_(
        "The image service's safety system blocked this request. Rephrase the prompt or use "
        "different images; nothing was charged."
    )


class AuthenticationFailed(WisGateError):
    """The API key was refused (401/403): only the bot's owner can fix this."""

    user_text = N_(
        "The bot cannot sign in to the image service right now. The bot owner has to check "
        "its API key; nothing was charged."
    )


class UpstreamQuotaExhausted(WisGateError):
    """The bot's WisGate account is out of credit (402, or 429 insufficient_quota)."""

    user_text = N_(
        "The bot's image service account has run out of credit. The bot owner has to top it "
        "up; nothing was charged."
    )


class RateLimited(WisGateError):
    """The API kept answering 429 (rate limit) after every retry."""

    user_text = N_(
        "The image service is busy right now. Try again in a minute; nothing was charged."
    )


class UnknownModel(WisGateError):
    """The API does not know (or no longer offers) the requested model."""

    user_text = N_(
        "The image service does not offer this model (any more). Pick another model, or ask a "
        "moderator to update the bot's model list; nothing was charged."
    )


class ServerError(WisGateError):
    """The API failed (5xx after retries, or the connection broke while the answer arrived)."""

    user_text = N_(
        "The image service had a problem and did not deliver the image. Try again later; "
        "nothing was charged."
    )


class RequestTimedOut(WisGateError):
    """No complete answer arrived in time; the request is not retried (it may be billed)."""

    user_text = N_(
        "The image service took too long to answer. Try again, perhaps with a smaller size "
        "or lower quality; nothing was charged."
    )


class MalformedResponse(WisGateError):
    """The API answered something that is not a usable image result."""

    user_text = N_(
        "The image service sent back something that is not a usable image. Try again; "
        "nothing was charged."
    )


def redact(text: str, secret: str) -> str:
    """Upstream text without the API key, bearer tokens or anything shaped like an `sk-` key."""
    if secret:
        text = text.replace(secret, _REDACTED)
    text = _BEARER.sub(rf"\1 {_REDACTED}", text)
    return _SK_KEY.sub(_REDACTED, text)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scrub(text: str, secret: str) -> str:
    """Redact upstream text, then shorten it (the other way round could cut a key in half)."""
    return _shorten(redact(text, secret), _MAX_MESSAGE)


def error_fields(body: bytes) -> tuple[str | None, str | None, str | None, str | None]:
    """Message, code, param and type from an OpenAI-style error body (all None if absent)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None, None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, str):
        return error, None, None, None
    if not isinstance(error, Mapping):
        return None, None, None, None
    get = error.get
    return _text(get("message")), _text(get("code")), _text(get("param")), _text(get("type"))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def error_from_response(status: int, body: bytes, *, secret: str) -> WisGateError:
    """Classify an HTTP error answer into one of the typed errors."""
    message, code, param, kind = error_fields(body)
    if message is None:
        # Redact the whole body before cutting it: a key straddling the cut would keep its head.
        plain = redact(body.decode("utf-8", "replace"), secret).strip()
        message = _shorten(plain, _MAX_PLAIN_BODY) or f"HTTP {status}"
    text = scrub(message, secret)
    # code and param are upstream text too, shown in logs and in jobs.error.
    code, param = _scrubbed(code or kind, secret), _scrubbed(param, secret)
    cls = _class_for(status, code, param)
    return cls(text, status=status, code=code, param=param)


def error_from_event(event: Mapping[str, Any], *, secret: str) -> WisGateError:
    """Classify an `error` event that arrived inside a stream (after a 200)."""
    error = event.get("error")
    details: Mapping[str, Any] = error if isinstance(error, Mapping) else event
    code = _scrubbed(_text(details.get("code")) or _text(details.get("type")), secret)
    text = scrub(_text(details.get("message")) or "error event in stream", secret)
    cls = ContentRejected if code in _CONTENT_CODES else ServerError
    return cls(text, code=code, param=_scrubbed(_text(details.get("param")), secret))


def _scrubbed(value: str | None, secret: str) -> str | None:
    return None if value is None else scrub(value, secret)


def _class_for(status: int, code: str | None, param: str | None) -> type[WisGateError]:
    if status in (401, 403):
        return AuthenticationFailed
    if status == 402 or (status == 429 and code == "insufficient_quota"):
        return UpstreamQuotaExhausted
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    if code in _CONTENT_CODES:
        return ContentRejected
    if code == "model_not_found" or (status == 400 and param == "model"):
        return UnknownModel
    return BadRequest


def rejects_streaming(error: WisGateError) -> bool:
    """Whether a 400 says the gateway does not accept `stream` / `partial_images`."""
    if type(error) is not BadRequest or error.status not in (400, 422):
        return False
    if error.param in _STREAM_PARAMS:
        return True
    lowered = error.message.lower()
    return "stream" in lowered or "partial_images" in lowered
