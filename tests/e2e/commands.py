"""`python -m bot ...` in a process of its own, as an owner runs it, against the loopback fakes.

The child gets a clean environment (none of the developer's variables): PATH, HOME and LANG,
the repository on PYTHONPATH, and what the test passes. DISCORD_API_URL and WISGATE_BASE_URL
point it at the fakes; nothing it does reaches the internet.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Finished:
    """A finished command: exit code and what it printed."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """Both streams, for assertion messages and searches."""
        return self.out + self.err


def clean_env(**env: str) -> dict[str, str]:
    """The child's whole environment: the basics, the repository, and `env`."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
    return {**base, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **env}


async def start_command(cwd: Path, *args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """Start `python -m bot ARGS` in `cwd` with clean_env(**env); stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=clean_env(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_command(cwd: Path, *args: str, env: dict[str, str], within: float = 60.0) -> Finished:
    """Run `python -m bot ARGS` to its end."""
    return await finish(await start_command(cwd, *args, env=env), within)


async def interrupt(process: asyncio.subprocess.Process, within: float = 30.0) -> Finished:
    """Ctrl+C (SIGINT) as an owner stops the bot; wait for it to end."""
    process.send_signal(signal.SIGINT)
    return await finish(process, within)


async def finish(process: asyncio.subprocess.Process, within: float) -> Finished:
    """Wait for the process to end (killed after `within` s) and collect what it printed."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())
