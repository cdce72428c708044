"""Logging set-up: readable text lines, or one JSON object per line for log collectors."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Fields a caller may attach with `extra=`: kept as objects in JSON lines (the runner's
# per-job line carries {"job": {job_id, member, guild, model, kind, outcome, timings}}).
STRUCTURED_EXTRAS = ("job",)


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
            line["error"] = self.formatException(record.exc_info)
        # default=str: an extra that JSON cannot hold is shown, never a lost log line.
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str, fmt: LogFormat = "text") -> None:
    """Send the bot's logs to stderr at `level`, as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
