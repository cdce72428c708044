"""Settings: environment, .env, aliases, defaults, and readable errors that never echo secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

VARIABLES = (
    "DISCORD_TOKEN",
    "WISGATE_API_KEY",
    "WISDOM_GATE_KEY",
    "WISGATE_BASE_URL",
    "DATABASE_PATH",
    "DEFAULT_MODEL",
    "ENABLED_MODELS",
    "REQUEST_TIMEOUT",
    "MAX_RETRIES",
    "DAILY_IMAGE_LIMIT",
    "DEV_GUILD_ID",
    "LOG_LEVEL",
    "STREAMING_PREVIEWS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts with none of our variables set and an empty working folder."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret")
    monkeypatch.setenv("WISGATE_API_KEY", "wisgate-secret")
    settings = load_settings()
    assert settings.wisgate_base_url == "https://api.wisgate.ai/v1"
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.default_model == "gpt-image-2"
    assert settings.enabled_models is None  # every model with a profile
    assert settings.request_timeout == 600
    assert settings.streaming_previews == "auto"
    assert settings.dev_guild_id is None
    assert settings.discord_token.get_secret_value() == "discord-secret"
    assert "discord-secret" not in repr(settings)
    assert "wisgate-secret" not in repr(settings)


def test_dotenv_file_and_alias(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "DISCORD_TOKEN=tok\nWISDOM_GATE_KEY=alias-key\nENABLED_MODELS=gpt-image-1, dall-e-3\n"
        "DEFAULT_MODEL=dall-e-3\nDEV_GUILD_ID=1234\nLOG_LEVEL=debug\nSTREAMING_PREVIEWS=off\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.wisgate_api_key.get_secret_value() == "alias-key"
    assert settings.enabled_models == ("gpt-image-1", "dall-e-3")
    assert settings.default_model == "dall-e-3"
    assert settings.dev_guild_id == 1234
    assert settings.log_level == "DEBUG"
    assert settings.streaming_previews == "off"


def test_missing_values_name_the_variables() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "DISCORD_TOKEN is not set" in text
    assert "WISGATE_API_KEY is not set" in text
    assert ".env.example" in text
    assert "Traceback" not in text and "pydantic" not in text.lower()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("REQUEST_TIMEOUT", "-5", "REQUEST_TIMEOUT"),
        ("WISGATE_BASE_URL", "api.wisgate.ai", "WISGATE_BASE_URL must start with https://"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL must be one of"),
        ("STREAMING_PREVIEWS", "sometimes", "STREAMING_PREVIEWS"),
        ("DEFAULT_MODEL", "dall-e-2", None),
    ],
)
def test_invalid_values_are_one_paragraph(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str | None
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "tok")
    monkeypatch.setenv("WISGATE_API_KEY", "key")
    monkeypatch.setenv(name, value)
    if expected is None:
        assert load_settings().default_model == value
        return
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_default_model_must_be_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "tok")
    monkeypatch.setenv("WISGATE_API_KEY", "key")
    monkeypatch.setenv("ENABLED_MODELS", "dall-e-3")
    with pytest.raises(ConfigError, match="DEFAULT_MODEL gpt-image-2 is not in ENABLED_MODELS"):
        load_settings()


def test_blank_secret_is_refused_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "   ")
    monkeypatch.setenv("WISGATE_API_KEY", "very-secret-key")
    monkeypatch.setenv("MAX_RETRIES", "lots")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "DISCORD_TOKEN is empty" in text
    assert "MAX_RETRIES" in text
    assert "very-secret-key" not in text and "lots" not in text


REPO = Path(__file__).resolve().parents[2]


def _variable_names() -> list[str]:
    from bot.config import Settings

    names = []
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.append(str(choices[0]) if choices else str(alias))
    return names


def test_env_example_and_readme_document_every_variable() -> None:
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in _variable_names():
        assert f"\n{name}=" in example, f"{name} missing from .env.example"
        assert f"`{name}`" in readme, f"{name} missing from the README's settings table"


def test_env_example_loads_once_secrets_are_filled() -> None:
    settings = load_settings(
        _env_file=str(REPO / ".env.example"), discord_token="t", wisgate_api_key="k"
    )
    assert settings.enabled_models is None  # every model with a profile


def test_an_enabled_model_without_a_profile_is_named() -> None:
    from bot.core.catalogue import CatalogueError, load_models

    with pytest.raises(CatalogueError, match="ENABLED_MODELS names midjourney") as caught:
        load_models(None, ("gpt-image-1", "midjourney"), "gpt-image-1")
    assert "MODELS_FILE" in str(caught.value)
