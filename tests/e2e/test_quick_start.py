"""The README's quick start, followed word for word in an empty folder against the fakes.

The test reads the section's code blocks in order and does what each says: `cp`, filling in
the `.env` lines it shows, and every `python -m bot` command as a process of its own. Discord's
and WisGate's addresses come from the environment (DISCORD_API_URL and WISGATE_BASE_URL, the
fakes'), the secrets only from the `.env` the steps wrote. Installing is the one thing it
cannot do here (no network): `python3 -m venv .venv` and `pip install -e .` stand for the
interpreter running the tests, with the repository on PYTHONPATH. A README change that breaks
a step, reorders them, or adds a command this test does not know fails it.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

from bot.discord.invite import SCOPES, permission_names
from tests.e2e.commands import REPO, Finished, interrupt, run_command, start_command
from tests.e2e.test_check import invite_link
from tests.fakes.discord import FakeDiscord, FakeUser
from tests.fakes.wisgate import TEST_API_KEY, FakeWisGate
from tests.secrets_guard import DISCORD_TOKEN, find_secrets

INSTALL = ("python3 -m venv .venv", ".venv/bin/pip install -e .")
RUN_BOT = ".venv/bin/python -m bot"
ONE_COMMAND = " && ".join((*INSTALL, RUN_BOT))  # the guide: one command installs and runs
SECRETS = {"DISCORD_TOKEN": DISCORD_TOKEN, "WISGATE_API_KEY": TEST_API_KEY}
_BLOCK = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def quick_start() -> str:
    """The README's quick start section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Quick start\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def blocks(section: str) -> list[tuple[str, str]]:
    """The fenced code blocks as (language, text), in order, list indentation removed."""
    return [(lang, textwrap.dedent(body)) for _, lang, body in _BLOCK.findall(section)]


class Owner:
    """Does what the quick start says, in `folder`, against the fakes."""

    def __init__(self, folder: Path, discord_fake: FakeDiscord, wisgate_fake: FakeWisGate) -> None:
        self.folder = folder
        self.discord = discord_fake
        self.env = {
            "DISCORD_API_URL": discord_fake.api_url,
            "WISGATE_BASE_URL": wisgate_fake.base_url,
        }
        self.ran: list[str] = []
        self.outputs: dict[str, Finished] = {}

    def fill_env(self, text: str) -> None:
        """Put each line's variable into .env, as the owner types their own values in."""
        env_file = self.folder / ".env"
        content = env_file.read_text(encoding="utf-8")
        for line in text.strip().splitlines():
            name = line.split("=", 1)[0]
            assert name in SECRETS, f"the quick start asks to fill in {name}: what value?"
            assert f"\n{name}=\n" in content, f".env has no blank {name}= line to fill in"
            content = content.replace(f"\n{name}=\n", f"\n{name}={SECRETS[name]}\n")
        env_file.write_text(content, encoding="utf-8")

    async def shell(self, line: str, alice: FakeUser) -> None:
        """One command line of a ```sh block."""
        for step in line.split(" && "):
            if step in INSTALL:
                continue  # this interpreter and PYTHONPATH stand for the virtual environment
            if step == "cp .env.example .env":
                shutil.copy(self.folder / ".env.example", self.folder / ".env")
            elif step == RUN_BOT:
                await self.run(alice)
            elif step.startswith(f"{RUN_BOT} "):
                command = step.removeprefix(f"{RUN_BOT} ")
                done = await run_command(self.folder, *command.split(), env=self.env)
                assert done.code == 0, f"`{step}` failed:\n{done.text}"
                self.ran.append(command)
                self.outputs[command] = done
            else:
                raise AssertionError(f"the quick start says `{step}`: this test cannot follow it")

    async def run(self, alice: FakeUser) -> None:
        """Start the bot, ask it for a picture as a member would, stop it with Ctrl+C."""
        process = await start_command(self.folder, env=self.env)
        try:
            await self.discord.wait_until_connected(within=30)
            handle = await self.discord.inject_slash(
                "imagine", {"prompt": "a lighthouse at dawn"}, user=alice
            )
            await self.discord.wait_for(
                lambda: any(m.attachments for m in self.discord.messages_for(handle)),
                within=30,
                what="the first picture",
            )
        finally:
            done = await interrupt(process)
        assert done.code == 0, f"the bot did not stop cleanly:\n{done.text}"
        self.ran.append("run")
        self.outputs["run"] = done


async def test_the_readme_quick_start_word_for_word(tmp_path: Path) -> None:
    section = quick_start()
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    async with (
        FakeDiscord(token=DISCORD_TOKEN, patch=False) as discord_fake,
        FakeWisGate(api_key=TEST_API_KEY, noisy=False) as wisgate_fake,
    ):
        guild = discord_fake.add_guild("Our server")
        alice = discord_fake.add_user("alice")
        guild.add_member(alice)
        owner = Owner(tmp_path, discord_fake, wisgate_fake)
        for lang, text in blocks(section):
            if lang == "dotenv":
                owner.fill_env(text)
            else:
                assert lang == "sh", f"a ```{lang} block in the quick start"
                for line in text.strip().splitlines():
                    await owner.shell(line, alice)
    assert owner.ran == ["check", "sync", "run"], owner.ran  # check first, run last
    assert ONE_COMMAND in section
    check = owner.outputs["check"]
    verdicts = _step_lines(check)
    assert len(verdicts) == 4 and all(" ok (" in line for line in verdicts), check.out
    assert invite_link(check).query["scope"].split() == list(SCOPES)
    # What the README says the invite asks for is what check's link asks for.
    words = " ".join(section.split())
    for scope in SCOPES:
        assert f"`{scope}`" in words
    for name in permission_names():
        assert name in words, f"the quick start does not name the permission {name}"
    assert "invite:" in words
    for finished in owner.outputs.values():
        assert not find_secrets(finished.text), finished.text
        assert "Traceback" not in finished.text, finished.text
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for needed in ("Server Settings -> Integrations", "/quota-admin settings", "log channel"):
        assert needed in readme, f"the README does not say {needed!r}"


def _step_lines(done: Finished) -> list[str]:
    """check's verdict lines (settings, database, discord, wisgate), notes left out."""
    steps = ("settings: ", "database: ", "discord: ", "wisgate: ")
    return [
        line
        for line in done.out.splitlines()
        if line.startswith(steps) and not line.startswith("discord: note")
    ]
