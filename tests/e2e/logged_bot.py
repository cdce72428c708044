"""The production bot in a subprocess that logs as `python -m bot` does, at DEBUG throughout.

tests/chaos/bot_process.py runs the bot in a process a test can SIGKILL, with a plain
logging set-up. Tests that search the bot's log for secrets need the production one: this
child (`python -m tests.e2e.logged_bot run`) installs bot/logs.py's (the token filter
included) at DEBUG for our code and discord.py's, then runs that module's child, whose
logging.basicConfig then leaves the handler as it is. LoggedBotProcess starts it.
"""

from __future__ import annotations

import asyncio
import os
import sys

from tests.chaos import bot_process
from tests.chaos.bot_process import ROOT, BotProcess


class LoggedBotProcess(BotProcess):
    """BotProcess whose child logs through bot/logs.py at DEBUG to `log_path`."""

    async def _spawn(self, command: str) -> asyncio.subprocess.Process:
        with self.log_path.open("ab") as log:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.e2e.logged_bot",
                command,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )


if __name__ == "__main__":
    from bot.logs import configure_logging

    configure_logging("DEBUG", "text", discord_level="DEBUG")
    sys.exit(asyncio.run(bot_process._serve(sys.argv[1])))
