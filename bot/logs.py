"""Logging set-up: readable text lines, or one JSON object per line for log collectors."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Fields a caller may attach with `extra=`: kept as objects in JSON lines (the runner's
# per-job line carries {"job": {job_id, member, guild, model, kind, outcome, timings}}).
STRUCTURED_EXTRAS = ("job",)
# An interaction's token lets anyone answer, edit and follow up as the bot for 15 minutes, and
# a webhook's token is its whole credential. discord.py puts them in request URLs it logs (at
# DEBUG, and in its 429 warnings) and in the raw gateway events it logs at DEBUG.
_TOKEN_IN_URL = re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/?#\s'\"]+")
_TOKEN_FIELD = re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+""")
REDACTED = "[redacted]"


def redact_tokens(text: str) -> str:
    """`text` without interaction or webhook tokens (in URLs or as a `token` field)."""
    text = _TOKEN_IN_URL.sub(rf"\g<1>{REDACTED}", text)
    return _TOKEN_FIELD.sub(rf"\g<1>{REDACTED}", text)


class TokenFilter(logging.Filter):
    """Rewrites every record so no formatter can show a token: message, args and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        # Merge the args first: a token may arrive in an argument (discord.py passes the URL).
        record.msg = redact_tokens(_message(record))
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set (JsonFormatter does too).
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_tokens(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_tokens(record.stack_info)
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a broken log call: show its parts (redacted) rather than raise here
        return f"{record.msg} {record.args!r}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, structured extras, error."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in STRUCTURED_EXTRAS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["error"] = record.exc_text or self.formatException(record.exc_info)
        # default=str: an extra that JSON cannot hold is shown, never a lost log line.
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str, fmt: LogFormat = "text", discord_level: str = "INFO") -> None:
    """Send logs to stderr as text or JSON lines: ours at `level`, discord.py's at its own."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(TokenFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # LOG_LEVEL=DEBUG is for our code; discord.py's DEBUG (every request and gateway event)
    # only when DISCORD_LOG_LEVEL asks for it.
    logging.getLogger("discord").setLevel(discord_level)
