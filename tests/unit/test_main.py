"""`python -m bot` as a newcomer meets it: readable configuration errors, `stats`, JSON logs.

`check` has its own end-to-end tests (tests/e2e/test_check.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.fakes.wisgate import TEST_API_KEY
from tests.places import Place
from tests.postgres import PostgresServer

DISCORD_TOKEN = "discord-token-never-printed"
REPO = str(Path(__file__).resolve().parents[2])


async def run_bot_command(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """Run `python -m bot ARGS` in `cwd` with only `env` set among our variables."""
    base = {k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME", "LANG"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env={**base, "PYTHONPATH": REPO, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_without_a_token_it_explains_how_to_configure(tmp_path: Path) -> None:
    code, out, err = await run_bot_command(tmp_path)
    assert code == 2
    assert "DISCORD_TOKEN is not set" in err
    assert "WISGATE_API_KEY is not set" in err
    assert ".env.example" in err
    assert "Traceback" not in err and "Traceback" not in out


async def test_stats_reports_today_failures_and_spend(tmp_path: Path, place: Place) -> None:
    """On each backend: DATABASE_URL set, stats reads PostgreSQL; else the SQLite file."""
    from bot.core.prices import default_prices
    from bot.ledger.facade import JobSpec, Ledger, Requester

    path = place.path
    async with place.open() as store:
        ledger = Ledger(store, default_daily_images=10, prices=default_prices())
        alice = Requester(user_id=1, guild_id=555)
        ok = await ledger.reserve(JobSpec(alice, "generate", "dall-e-3", 1, "1024x1024", "hd"))
        await ledger.settle(ok.job_id, 1, None)
        kept = await ledger.reserve(JobSpec(alice, "generate", "dall-e-2", 2, "256x256", None))
        await ledger.settle(kept.job_id, 2, None)
        await ledger.delivered(kept.job_id, 0)  # every route failed: kept for the member
        bad = await ledger.reserve(JobSpec(alice, "generate", "dall-e-2", 2, "256x256", None))
        await ledger.refund(bad.job_id, "blocked by the safety system", failure="ContentRejected")
        dm = await ledger.reserve(
            JobSpec(Requester(user_id=2, guild_id=None), "generate", "dall-e-2", 1, None, None)
        )
        await ledger.refund(dm.job_id, "took too long", failure="RequestTimedOut")
    code, out, err = await run_bot_command(
        tmp_path,
        "stats",
        DISCORD_TOKEN=DISCORD_TOKEN,
        WISGATE_API_KEY=TEST_API_KEY,
        DATABASE_PATH=str(path),
        **({"DATABASE_URL": place.url} if place.url else {}),
    )
    assert code == 0, err
    assert "jobs on" in out and ": 4 (2 failed, 2 succeeded)" in out
    assert "images charged: 3 (0 delivered, 2 job(s) waiting for delivery)" in out
    assert "  ContentRejected: 1" in out and "  RequestTimedOut: 1" in out
    assert "  555: $0.11" in out  # dall-e-3 hd 1024x1024 $0.08, two dall-e-2 256x256
    assert "  direct messages: $0.000" in out


async def test_migrate_to_postgres_moves_the_ledger_once_and_shows_its_totals(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    from bot.ledger.opener import open_store
    from tests.unit.ledger.activity import fill

    path = tmp_path / "bot.sqlite3"
    async with open_store(path) as store:
        await fill(store)
    # The server trusts loopback: any password passes, and none may be printed.
    url = (await postgres_server.new_database()).replace("postgres@", "postgres:pa55word-x@")
    env = {"DISCORD_TOKEN": DISCORD_TOKEN, "WISGATE_API_KEY": TEST_API_KEY}
    env["DATABASE_PATH"] = str(path)

    code, out, err = await run_bot_command(tmp_path, "migrate-to-postgres", **env)
    assert code == 2 and "set DATABASE_URL" in err, err
    code, out, err = await run_bot_command(tmp_path, "migrate-to-postgres", **env, DATABASE_URL=url)
    assert code == 0, err
    assert "\njobs: 76 row(s); unit_price_micros $" in f"\n{out}"
    assert "every table's row count and money totals match" in out
    again = await run_bot_command(tmp_path, "migrate-to-postgres", **env, DATABASE_URL=url)
    assert again[0] == 1 and "is not empty" in again[2], again
    for text in (out, err, *again[1:]):
        assert "pa55word-x" not in text and "Traceback" not in text


async def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    code, out, err = await run_bot_command(
        tmp_path,
        "stats",
        DISCORD_TOKEN=DISCORD_TOKEN,
        WISGATE_API_KEY=TEST_API_KEY,
        DATABASE_PATH=str(tmp_path / "bot.sqlite3"),  # new: stats creates and migrates it
        LOG_FORMAT="json",
    )
    assert code == 0, out + err
    lines = [json.loads(line) for line in err.splitlines()]
    migrations = [line for line in lines if line["logger"] == "bot.ledger.database"]
    assert migrations and migrations[0]["message"].startswith("applying migration 0001")
    assert {"time", "level", "logger", "message"} <= set(migrations[0])


async def test_check_fails_when_no_migration_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An installation without its migrations must not pass for a working database."""
    from bot.cli.check import run_check as check
    from bot.config import load_settings
    from bot.ledger import database

    (tmp_path / "none").mkdir()
    monkeypatch.setattr(database, "MIGRATIONS", tmp_path / "none")
    settings = load_settings(
        _env_file=None,
        discord_token=DISCORD_TOKEN,
        wisgate_api_key=TEST_API_KEY,
        database_path=tmp_path / "bot.sqlite3",
        discord_api_url="http://127.0.0.1:9/api/v10",  # loopback, nothing listens: no internet
        wisgate_base_url="http://127.0.0.1:9/v1",
    )
    assert await check(settings) == 1
    out = capsys.readouterr().out
    assert "database: FAILED" in out and "no migrations found" in out
