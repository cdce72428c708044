"""Prompt files: declared type and size before the download, then UTF-8 text within limits."""

from __future__ import annotations

import pytest

from bot.core.errors import InvalidRequest
from bot.core.input_files import DeclaredFile
from bot.core.profile_files import builtin_profiles
from bot.core.prompt_files import check_declared, decode, max_file_bytes, one_prompt

MODELS = builtin_profiles()
GPT, DALLE3 = MODELS["gpt-image-2"], MODELS["dall-e-3"]


def declared(content_type: str | None, size: int = 100, name: str = "p.txt") -> DeclaredFile:
    return DeclaredFile(name, content_type, size, None, None)


@pytest.mark.parametrize(
    "content_type", [None, "", "text/plain", "text/plain; charset=utf-8", "TEXT/PLAIN"]
)
def test_plain_text_or_no_declared_type_is_accepted(content_type: str | None) -> None:
    check_declared(declared(content_type), GPT)


@pytest.mark.parametrize("content_type", ["text/markdown", "application/pdf", "image/png"])
def test_other_declared_types_are_refused(content_type: str) -> None:
    with pytest.raises(InvalidRequest, match="not a plain-text file"):
        check_declared(declared(content_type), GPT)


def test_the_size_cap_is_four_bytes_a_character_of_the_model_limit() -> None:
    assert max_file_bytes(GPT) == 4 * 32_000 + 3
    check_declared(declared("text/plain", max_file_bytes(GPT)), GPT)
    with pytest.raises(InvalidRequest, match="too big for a prompt: dall-e-3 takes at most 4,000"):
        check_declared(declared("text/plain", max_file_bytes(DALLE3) + 1), DALLE3)


def test_decode_drops_a_bom_and_surrounding_whitespace_only() -> None:
    text = "line one\r\n  line two — ünïcode 猫"
    assert decode(b"\xef\xbb\xbf" + f"\n{text}\n\n".encode(), "p.txt", GPT) == text


def test_the_limit_counts_characters_not_bytes() -> None:
    assert decode(("猫" * 4_000).encode(), "p.txt", DALLE3) == "猫" * 4_000
    with pytest.raises(InvalidRequest, match=r"4,001 characters .* shorten it by 1"):
        decode(("猫" * 4_001).encode(), "p.txt", DALLE3)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"caf\xe9", "not UTF-8 text"),
        (b"\xef\xbb\xbf", "is empty"),
        (b"", "is empty"),
        (b"ok\x00", "does not look like text"),
    ],
)
def test_bad_bytes_are_refused(data: bytes, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        decode(data, "p.txt", GPT)


def test_names_are_shown_inert() -> None:
    with pytest.raises(InvalidRequest, match=r"`we'ird\.txt` is empty"):
        decode(b"", "we`ird.txt", GPT)


@pytest.mark.parametrize(
    ("prompt", "has_file", "words"),
    [("a cat", True, "not both"), ("", False, "Write a prompt"), ("  ", False, "Write a prompt")],
)
def test_exactly_one_prompt_source(prompt: str, has_file: bool, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        one_prompt(prompt, has_file)
    one_prompt("a cat", False)
    one_prompt("", True)
