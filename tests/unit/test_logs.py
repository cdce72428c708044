"""Log lines: per-job fields stay structured, errors stay on one line, tokens never show."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from bot.logs import JsonFormatter, LogFormat, configure_logging


def test_a_job_line_keeps_its_fields_as_an_object() -> None:
    job = {"job_id": 7, "member": 42, "guild": None, "outcome": "delivered 1", "queued_s": 0.5}
    record = logging.makeLogRecord(
        {
            "name": "bot.jobs.runner",
            "levelname": "INFO",
            "msg": "job %d done",
            "args": (7,),
            "job": job,
        }
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "job 7 done" and parsed["logger"] == "bot.jobs.runner"
    assert parsed["job"] == job


def test_an_exception_is_kept_inside_the_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["error"]


def test_configure_logging_json_writes_parseable_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json")
        logging.getLogger("bot.test").info("hello %s", "there", extra={"job": {"job_id": 1}})
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    [line] = stream.getvalue().splitlines()
    assert json.loads(line)["job"] == {"job_id": 1}


# -- interaction and webhook tokens never reach a log line ---------------------------------

TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpTZWNyZXRUb2tlbkZvclRlc3Rz"
FOLLOW_UP = f"https://discord.com/api/v10/webhooks/123456789012345678/{TOKEN}/messages/@original"
CALLBACK = f"https://discord.com/api/v10/interactions/987654321098765432/{TOKEN}/callback"


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Captures what configure_logging's handler writes; the loggers are restored afterwards.

    (capsys, not a patched sys.stderr: pytest swaps sys.stderr back in after fixture set-up.)
    """
    root, discord_log = logging.getLogger(), logging.getLogger("discord")
    saved = root.handlers[:], root.level, discord_log.level
    yield capsys
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    discord_log.setLevel(saved[2])


def _log_like_discord_py() -> None:
    http = logging.getLogger("discord.http")
    http.debug("%s %s with %s has returned %s", "POST", FOLLOW_UP, '{"content": "hi"}', 200)
    http.warning("We are being rate limited. %s %s responded with 429.", "POST", CALLBACK)
    gateway = {"t": "INTERACTION_CREATE", "d": {"id": "1", "token": TOKEN, "type": 2}}
    logging.getLogger("discord.gateway").debug("WebSocket Event: %s", gateway)
    logging.getLogger("discord.gateway").debug("raw: %s", json.dumps(gateway))
    try:
        raise RuntimeError(f"404, message='Not Found', url='{CALLBACK}'")
    except RuntimeError:
        logging.getLogger("bot.discord.reporter").exception("could not answer at %s", FOLLOW_UP)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_interaction_tokens_are_redacted_at_every_level(
    fmt: LogFormat, stderr: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", fmt, discord_level="DEBUG")

    _log_like_discord_py()

    out = stderr.readouterr().err
    assert TOKEN[:12] not in out
    assert "/webhooks/123456789012345678/[redacted]/messages/@original with" in out
    assert "/interactions/987654321098765432/[redacted]/callback" in out
    assert out.count("[redacted]") == 6  # two URLs, two gateway events, a message and an error
    if fmt == "json":
        lines = [json.loads(line) for line in out.splitlines()]
        assert len(lines) == 5 and "RuntimeError: 404" in lines[-1]["error"]


def test_the_discord_logger_follows_its_own_setting(stderr: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", "text")
    assert logging.getLogger("discord").level == logging.INFO
    logging.getLogger("discord.http").debug("GET %s", FOLLOW_UP)
    logging.getLogger("bot.test").debug("ours at debug")
    out = stderr.readouterr().err
    assert "ours at debug" in out and "GET" not in out

    configure_logging("INFO", "text", discord_level="WARNING")
    assert logging.getLogger("discord").level == logging.WARNING


def test_a_broken_log_call_is_still_redacted_and_does_not_raise(
    stderr: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG", "text")
    logging.getLogger("bot.test").info("two args %s %s", FOLLOW_UP)  # one missing
    out = stderr.readouterr().err
    assert TOKEN[:12] not in out and "[redacted]" in out
