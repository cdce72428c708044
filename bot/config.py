"""Settings read from the environment and a `.env` file, with readable errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

KNOWN_MODELS = ("gpt-image-2", "gpt-image-1", "dall-e-3", "dall-e-2")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# What the member reads when a variable is missing or wrong: how to fix it, per variable.
_HOW_TO_SET = {
    "DISCORD_TOKEN": "the bot token from the Discord Developer Portal (Bot -> Reset Token)",
    "WISGATE_API_KEY": "your WisGate API key (WISDOM_GATE_KEY is accepted too)",
}


class ConfigError(Exception):
    """Settings are missing or invalid; the message is one readable paragraph."""


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
        # A blank line in .env (as in .env.example) means "use the default".
        env_ignore_empty=True,
    )

    discord_token: SecretStr = Field(validation_alias=AliasChoices("DISCORD_TOKEN"))
    wisgate_api_key: SecretStr = Field(
        validation_alias=AliasChoices("WISGATE_API_KEY", "WISDOM_GATE_KEY")
    )
    wisgate_base_url: str = Field(
        default="https://api.wisgate.ai/v1", validation_alias="WISGATE_BASE_URL"
    )
    database_path: Path = Field(default=Path("data/bot.sqlite3"), validation_alias="DATABASE_PATH")
    default_model: str = Field(default="gpt-image-2", validation_alias="DEFAULT_MODEL")
    enabled_models: Annotated[tuple[str, ...], NoDecode] = Field(
        default=KNOWN_MODELS, validation_alias="ENABLED_MODELS"
    )
    request_timeout: float = Field(default=600.0, gt=0, validation_alias="REQUEST_TIMEOUT")
    max_retries: int = Field(default=3, ge=0, le=10, validation_alias="MAX_RETRIES")
    max_concurrent_jobs: int = Field(default=8, ge=1, validation_alias="MAX_CONCURRENT_JOBS")
    max_jobs_per_member: int = Field(default=2, ge=1, validation_alias="MAX_JOBS_PER_MEMBER")
    max_jobs_per_guild: int = Field(default=4, ge=1, validation_alias="MAX_JOBS_PER_GUILD")
    # Under the interaction token's 15 minutes, so the member is told in place, not by DM.
    max_queue_wait: float = Field(default=600.0, gt=0, validation_alias="MAX_QUEUE_WAIT")
    daily_image_limit: int = Field(default=20, ge=0, validation_alias="DAILY_IMAGE_LIMIT")
    prices_file: Path | None = Field(default=None, validation_alias="PRICES_FILE")
    dev_guild_id: int | None = Field(default=None, validation_alias="DEV_GUILD_ID")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["text", "json"] = Field(default="text", validation_alias="LOG_FORMAT")
    streaming_previews: Literal["auto", "on", "off"] = Field(
        default="auto", validation_alias="STREAMING_PREVIEWS"
    )

    @field_validator("wisgate_api_key", "discord_token")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty")
        return value

    @field_validator("wisgate_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (for example https://api.wisgate.ai/v1)")
        return value.rstrip("/")

    @field_validator("enabled_models", mode="before")
    @classmethod
    def _split_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("enabled_models")
    @classmethod
    def _known_models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in KNOWN_MODELS]
        if unknown:
            raise ValueError(
                f"has unknown model(s) {', '.join(unknown)}; known: {', '.join(KNOWN_MODELS)}"
            )
        if not value:
            raise ValueError("must name at least one model")
        return tuple(dict.fromkeys(value))

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    def model_post_init(self, __context: Any) -> None:
        """Check rules that span two variables."""
        if self.default_model not in self.enabled_models:
            raise ValueError(
                f"DEFAULT_MODEL {self.default_model} is not in ENABLED_MODELS "
                f"({', '.join(self.enabled_models)})"
            )


def _variable_name(loc: tuple[int | str, ...]) -> str:
    name = str(loc[0]) if loc else "settings"
    return name.upper()


def describe_error(error: ValidationError) -> str:
    """Turn pydantic's error list into one paragraph naming each variable and how to set it."""
    parts = []
    for item in error.errors():
        name = _variable_name(item["loc"])
        if item["type"] == "missing":
            hint = _HOW_TO_SET.get(name, "a value")
            parts.append(f"{name} is not set: put {hint} in the environment or in .env")
        else:
            # Never echo the input: it may be a secret.
            message = str(item["msg"]).removeprefix("Value error, ")
            parts.append(f"{name} {message}" if name != "SETTINGS" else message)
    return (
        "The bot cannot start because its configuration needs attention: "
        + "; ".join(parts)
        + ". Copy .env.example to .env and fill it in (see the README's settings table)."
    )


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment, `.env` and overrides, or raise ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(describe_error(error)) from None
