"""The production bot in a process of its own, so a test can SIGKILL it and start it again.

Child side (`python -m tests.chaos.bot_process`, from the repository root): read the settings
from the environment as `python -m bot` does, point discord.py at the fake Discord named by
CHAOS_DISCORD_API and CHAOS_DISCORD_GATEWAY, and run the bot the end-to-end harness runs
(bot.app.build_bot, logged in and connected). It prints `READY` once connected, `NOTICES`
once its restart notices (if any) were sent, and closes cleanly on SIGTERM (exit code 0).
With the argument `sync` it registers the commands globally and exits, as `python -m bot
sync` does (Discord offers only global commands in DMs). Its log lines go to stderr, which
the parent sends to a file.

Parent side: BotProcess starts, kills and stops it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API_VAR, GATEWAY_VAR = "CHAOS_DISCORD_API", "CHAOS_DISCORD_GATEWAY"
# Retries of WisGate faults in milliseconds, not seconds: the test's time is bounded.
FAST_BACKOFF = {"backoff_base": 0.001, "backoff_cap": 0.05}


class BotProcess:
    """One bot process at a time, started with `env`; its stderr is appended to `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def sync(self, within: float = 30.0) -> None:
        """Register the commands globally: a process of its own, like `python -m bot sync`."""
        process = await self._spawn("sync")
        code = await asyncio.wait_for(process.wait(), within)
        assert code == 0, f"the sync process exited with {code}: {self._tail()}"

    async def start(self, within: float = 30.0) -> None:
        """Start a new process and wait until it is connected to the fake Discord."""
        assert self.process is None, "a bot process is already running"
        self.process = await self._spawn("run")
        await self._expect("READY", within)

    async def _spawn(self, command: str) -> asyncio.subprocess.Process:
        with self.log_path.open("ab") as log:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.chaos.bot_process",
                command,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )

    def _tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    async def notices_sent(self, within: float = 30.0) -> None:
        """Wait until this process has sent its restart notices (at once if it had none)."""
        await self._expect("NOTICES", within)

    async def _expect(self, word: str, within: float) -> None:
        assert self.process is not None and self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), within)
        if line.strip() != word.encode():
            raise AssertionError(f"bot process said {line!r}, not {word}; log:\n{self._tail()}")

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine loses power."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()
        self.process = None

    async def stop(self, within: float = 60.0) -> int:
        """SIGTERM, then the exit code (a clean shutdown is 0)."""
        assert self.process is not None
        self.process.terminate()
        try:
            code = await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        self.process = None
        return code

    async def close(self) -> None:
        """Kill a process still running (after a failed test)."""
        if self.process is not None and self.process.returncode is None:
            await self.kill()


def _say(word: str) -> None:
    print(word, flush=True)


async def _serve(command: str) -> int:
    import discord
    import yarl

    from bot.app import run_bot
    from bot.config import load_settings
    from tests.e2e.harness import connected_bot

    discord.http.Route.BASE = os.environ[API_VAR]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ[GATEWAY_VAR])
    settings = load_settings(_env_file=None)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if command == "sync":
        await run_bot(settings, sync_globally=True)
        return 0
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    started = time.monotonic()
    async with connected_bot(None, settings, FAST_BACKOFF) as (bot, connection):
        logging.getLogger(__name__).info("ready in %.2f s", time.monotonic() - started)
        _say("READY")
        restart = bot.notices.restart_task
        if restart is not None:
            await asyncio.wait({restart, connection}, return_when="FIRST_COMPLETED")
        _say("NOTICES")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({connection, stopping}, return_when="FIRST_COMPLETED")
        if connection.done():
            logging.getLogger(__name__).error("gateway connection ended: %r", connection)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_serve(sys.argv[1])))
