"""JSON log lines: the runner's per-job fields stay structured, errors stay on one line."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from bot.logs import JsonFormatter, configure_logging


def test_a_job_line_keeps_its_fields_as_an_object() -> None:
    job = {"job_id": 7, "member": 42, "guild": None, "outcome": "delivered 1", "queued_s": 0.5}
    record = logging.makeLogRecord(
        {"name": "bot.runner", "levelname": "INFO", "msg": "job %d done", "args": (7,), "job": job}
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "job 7 done" and parsed["logger"] == "bot.runner"
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
