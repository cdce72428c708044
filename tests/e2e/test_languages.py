"""The member's language end to end: a delivered result, a refusal at the daily limit and
/quota answered in German and Japanese (interaction.locale), English for a locale without a
catalog; a job's progress lines and an upstream failure's refund in its member's language, the
log channel's notices in the server's (its preferred locale); the synced commands carry
description_localizations for every command and option (the fake checks the payload against
Discord's schema, and the locales against Discord's list).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.harness import World, running_bot
from tests.e2e.quota_world import Staff, ask, log_texts, private_reply
from tests.fakes.discord import FakeDiscord, FakeGuild, FakeInteraction, FakeUser
from tests.fakes.discord.inject import walk_components

SHIPPED_DISCORD_LOCALES = {"de", "es-ES", "es-419", "fr", "pt-BR", "ja", "zh-CN"}
# What each language reads (from the shipped catalogs) where English reads the key.
EXPECTED: dict[str, dict[str, str]] = {
    "de": {
        "title": "🎨 Erstellt",
        "model": "Modell",
        "reroll": "Neu würfeln",
        "details": "Details",
        "refusal": "Du hast heute dein 1 Bild schon genutzt.",
        "quota": "Du hast heute 1 von deinen 1 Bild genutzt",
    },
    "ja": {
        "title": "🎨 生成しました",
        "model": "モデル",
        "reroll": "再生成",
        "details": "詳細",
        "refusal": "今日の画像1枚をすべて使いました。",
        "quota": "今日は画像1枚のうち1枚を使いました",
    },
    "it": {  # Discord sends Italian; no catalog: English
        "title": "🎨 Imagined",
        "model": "Model",
        "reroll": "Re-roll",
        "details": "Details",
        "refusal": "You have used all 1 of your images today.",
        "quota": "You have used 1 of your 1 image today",
    },
}


def _shown(world: World, handle: FakeInteraction) -> list[Any]:
    return [m for m in world.discord.messages_for(handle) if not m.deleted and not m.loading]


async def _one_language(world: World, member: FakeUser, locale: str) -> None:
    words = EXPECTED[locale]
    made = await world.slash("imagine", {"prompt": "a lighthouse"}, user=member, locale=locale)
    await world.idle()
    [result] = [m for m in _shown(world, made) if m.attachments]
    [embed] = result.embeds
    assert embed["title"] == words["title"]
    assert words["model"] in [field["name"] for field in embed["fields"]]
    labels = [c.get("label") for c in walk_components(result.components) if c.get("type") == 2]
    assert words["reroll"] in labels and words["details"] in labels, labels

    refused = await world.slash("imagine", {"prompt": "again"}, user=member, locale=locale)
    await world.idle()
    [refusal] = _shown(world, refused)
    assert refusal.ephemeral and refusal.content.startswith(words["refusal"]), refusal.content
    assert "<t:" in refusal.content  # Discord localises the reset time itself

    quota = await world.slash("quota", {}, user=member, locale=locale)
    await world.idle()
    [answer] = _shown(world, quota)
    assert words["quota"] in answer.content, answer.content


async def test_results_refusals_and_quota_speak_the_members_language(tmp_path: Path) -> None:
    async with running_bot(tmp_path, daily_image_limit=1) as world:
        carol = world.discord.add_user("carol")
        world.guild.add_member(carol)
        for member, locale in ((world.alice, "de"), (world.bob, "ja"), (carol, "it")):
            await _one_language(world, member, locale)


async def test_synced_commands_carry_every_description_in_every_shipped_locale(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as world:
        synced = world.discord.guild_commands(world.guild.id)
        assert synced and world.discord.violations == []
        missing: list[str] = []

        def check(item: dict[str, Any], where: str) -> None:
            names = set((item.get("description_localizations") or {}).keys())
            if SHIPPED_DISCORD_LOCALES - names:
                missing.append(f"{where}: {sorted(SHIPPED_DISCORD_LOCALES - names)}")
            assert not item.get("name_localizations"), where  # names are typed: English
            for option in item.get("options") or []:
                check(option, f"{where} {option['name']}")
                for choice in option.get("choices") or []:
                    # A choice reading the same as in English ("portrait (2:3)" in French)
                    # carries no localization: Discord shows the English one.
                    if not {"de", "ja"} <= set(choice.get("name_localizations") or {}):
                        missing.append(f"{where} {option['name']} choice {choice['name']}")

        for command in synced:
            if command.get("type", 1) == 1:
                check(command, "/" + command["name"])
            else:  # a message menu: no description; its name is shown, not typed
                assert set(command["name_localizations"]) == SHIPPED_DISCORD_LOCALES
        assert missing == [], missing
        imagine = next(c for c in synced if c["name"] == "imagine")
        assert imagine["description_localizations"]["ja"] == "説明文から画像を作成します。"
        aspect = next(o for o in imagine["options"] if o["name"] == "aspect")
        wide = next(c for c in aspect["choices"] if c["value"] == "wide")
        assert wide["name_localizations"]["de"] == "breit (16:9)"
        assert json.dumps(synced)  # what was registered is plain JSON


class _JapaneseServer(Staff):
    """Staff and a log channel, on a server whose preferred locale is Japanese."""

    def __call__(self, fake: FakeDiscord, guild: FakeGuild) -> None:
        super().__call__(fake, guild)
        guild.locale = "ja"


def _status(handle: FakeInteraction) -> str:
    return handle.original.content if handle.original is not None else ""


async def test_progress_failures_and_the_servers_notices_speak_their_language(
    tmp_path: Path,
) -> None:
    """A job speaks its member's language to the end (its task and reporter): the generating
    and queued lines, an upstream failure's refund; the log channel speaks the server's."""
    staff = _JapaneseServer()
    settings = {"max_concurrent_jobs": 1, "streaming_previews": "off"}
    async with running_bot(tmp_path, setup=staff, **settings) as world:
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=staff.admin)
        world.wisgate.fail("slow", delay=6.5)  # holds the one slot past the first status edits
        world.wisgate.fail("moderation_blocked")
        held = await world.slash("imagine", {"prompt": "a held sunrise"}, locale="de")
        queued = await world.slash("imagine", {"prompt": "behind"}, user=world.bob, locale="ja")
        await world.discord.wait_for(
            lambda: (
                _status(held).startswith("🎨 Wird erstellt… ")
                and _status(queued).startswith("⏳ 順番待ち — 1番目 · ")
            ),
            within=8.0,
            what="the generating line in German and the queued line in Japanese",
        )
        await world.idle()
        refused = private_reply(world, queued)
        assert refused.startswith("画像サービスの安全システムがこのリクエストをブロックしました。")
        assert "料金はかかっていません" in refused

        world.wisgate.fail("insufficient_quota")
        broke = await world.slash("imagine", {"prompt": "no credit"}, locale="de")
        await world.idle()
        told = private_reply(world, broke)
        assert told.startswith("Das Konto des Bots beim Bilddienst hat kein Guthaben mehr."), told
        [alert] = [text for text in log_texts(world, staff.log) if "WisGate" in text]
        assert alert.startswith("**画像サービス:** ボットの WisGate アカウントのクレジット"), alert
        rows = world.rows("SELECT status, images_charged FROM jobs ORDER BY id")
        assert rows == [("succeeded", 1), ("failed", 0), ("failed", 0)]


async def test_moderator_replies_speak_the_moderators_language_and_the_log_the_servers(
    tmp_path: Path,
) -> None:
    """/quota-admin answers a German moderator in German (money the German way); the log
    channel's note of the same change speaks the server's Japanese."""
    staff = _JapaneseServer()
    async with running_bot(tmp_path, setup=staff) as world:
        await ask(world, "quota-admin settings", {"log_channel": staff.log}, user=staff.admin)

        async def mod(name: str, options: dict[str, Any]) -> str:
            return await ask(world, f"quota-admin {name}", options, user=staff.admin, locale="de")

        bob = f"<@{world.bob.id}>"
        granted = await mod("grant", {"member": world.bob, "images": 2})
        assert granted.startswith(f"Zusätzliche Bilder für {bob} heute: 0 → 2\n"), granted
        assert "Das Mitglied kann heute noch " in granted
        [note] = [text for text in log_texts(world, staff.log) if "0 → 2" in text]
        assert note.startswith(f"<@{staff.admin.id}> による割り当ての変更：\n"), note

        budget = await mod("budget", {"usd": 1234.5})
        assert budget.startswith("Monatliches Bildbudget: keine → 1.234,50\u00a0$\n"), budget
        shown = await mod("show", {"member": world.bob})
        assert shown.startswith(f"{bob} kann heute noch **"), shown
        assert "Tageslimit: " in shown
        top = await mod("top", {"period": "month"})
        assert (
            "Diesen Monat hat der Server 0,00\u00a0$ von seinem Budget von 1.234,50\u00a0$" in top
        )


async def test_an_option_refusal_speaks_the_members_language(tmp_path: Path) -> None:
    """A size that is not a size is refused at once, privately, in Japanese; nothing charged."""
    async with running_bot(tmp_path) as world:
        handle = await world.slash(
            "imagine", {"prompt": "a fox", "size": "banana"}, user=world.bob, locale="ja"
        )
        await world.idle()
        refused = private_reply(world, handle)
        assert refused.startswith("banana はサイズではありません。幅x高さ（例：1536x864）"), refused
        assert world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]


async def test_a_prompt_file_refusal_speaks_the_members_language(tmp_path: Path) -> None:
    """A prompt file longer than the model takes is refused in German, numbers German too."""
    async with running_bot(tmp_path) as world:
        upload = ("long.txt", b"x" * 4_500, "text/plain")
        handle = await world.slash(
            "imagine-file", {"model": "dall-e-3", "prompt_file": upload}, locale="de"
        )
        await world.idle()
        refused = private_reply(world, handle)
        assert refused.startswith(
            "`long.txt` enthält 4.500 Zeichen, dall-e-3 nimmt aber höchstens 4.000: Kürze um 500."
        ), refused
        assert world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]


async def test_a_free_size_refusal_speaks_the_members_language(tmp_path: Path) -> None:
    """A free size over the pixel bound is refused in German with the rule's exact number
    written the German way, and a size that fits suggested; nothing charged."""
    async with running_bot(tmp_path) as world:
        handle = await world.slash(
            "imagine",
            {"prompt": "a fox", "model": "gpt-image-2", "size": "3840x3840"},
            user=world.bob,
            locale="de",
        )
        await world.idle()
        refused = private_reply(world, handle)
        assert refused.startswith(
            "Größe 3840x3840 geht nicht: Sie darf höchstens 8.294.400 Pixel haben. "
            "Versuch es mit 2880x2880."
        ), refused
        assert world.rows("SELECT COUNT(*) FROM jobs") == [(0,)]


async def test_a_moderators_out_of_range_values_speak_the_moderators_language(
    tmp_path: Path,
) -> None:
    """A daily limit above the owner's ceiling and a blocked term with `*` inside are refused
    in the German moderator's language; a Japanese moderator reads the ceiling in Japanese."""
    staff = Staff()
    async with running_bot(tmp_path, setup=staff, max_daily_images=50) as world:

        async def mod(name: str, options: dict[str, Any], locale: str) -> str:
            return await ask(world, f"quota-admin {name}", options, user=staff.admin, locale=locale)

        capped = await mod("default", {"images": 100000}, "de")
        assert capped == (
            "Der Betreiber des Bots begrenzt Tageslimits auf 50 Bilder: Wähle 50 oder weniger."
        ), capped
        assert (await mod("default", {"images": 1000}, "ja")).startswith(
            "ボットの管理者が1日の上限を50枚までに制限しています。"
        )
        wild = await mod("terms add", {"term": "c*t"}, "de")
        assert (
            wild
            == "Setz `*` nur an den Anfang oder das Ende eines Begriffs (etwa `cat*` oder `*cat*`)."
        ), wild
        assert world.rows("SELECT COUNT(*) FROM blocked_terms") == [(0,)]
