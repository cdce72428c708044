"""The base of every error whose text is meant for the member who asked."""

from __future__ import annotations


class BotError(Exception):
    """An error carrying a message that is safe and useful to show a Discord member."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class InvalidRequest(BotError):
    """The member's options or files cannot be sent as they are; the message says what to change."""

    def __init__(self, user_message: str, *, field: str | None = None) -> None:
        super().__init__(user_message)
        self.field = field
