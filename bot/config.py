"""Settings read from the environment and a `.env` file, with readable errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
OFF_WORDS = frozenset({"off", "none", "no"})  # a cap set to one of these is switched off
MAX_CAP_USD = Decimal(1_000_000)

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
    # Discord's REST API base; blank: Discord's own. For a REST proxy (or the tests' fake);
    # the gateway is then the one that API names (GET /gateway/bot).
    discord_api_url: str | None = Field(default=None, validation_alias="DISCORD_API_URL")
    database_path: Path = Field(default=Path("data/bot.sqlite3"), validation_alias="DATABASE_PATH")
    # postgresql://user:password@host/name: the ledger on PostgreSQL instead of DATABASE_PATH's
    # SQLite file (which then only places the results and spool folders). A secret: it may
    # carry the password.
    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    # Shards (README "Running more than one process"): every process gets the same SHARD_COUNT
    # and its own SHARD_IDS ("0,1" or "0-3"; blank: all); unset, one unsharded session.
    shard_count: int | None = Field(default=None, ge=1, validation_alias="SHARD_COUNT")
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(
        default=None, validation_alias="SHARD_IDS"
    )
    default_model: str = Field(default="gpt-image-2", validation_alias="DEFAULT_MODEL")
    # Blank: every model with a profile (built in, or from MODELS_FILE) that is not disabled.
    enabled_models: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        default=None, validation_alias="ENABLED_MODELS"
    )
    # TOML adding, changing or hiding model profiles (see models.example.toml).
    models_file: Path | None = Field(default=None, validation_alias="MODELS_FILE")
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
    # discord.py's own loggers: at DEBUG they print interaction tokens (redacted by bot.logs).
    discord_log_level: str = Field(default="INFO", validation_alias="DISCORD_LOG_LEVEL")
    streaming_previews: Literal["auto", "on", "off"] = Field(
        default="auto", validation_alias="STREAMING_PREVIEWS"
    )

    # Generated images are kept here (a folder per job) for re-delivery; blank: next to the
    # database, in a folder named results.
    results_dir: Path | None = Field(default=None, validation_alias="RESULTS_DIR")
    results_keep_days: float = Field(default=7.0, gt=0, validation_alias="RESULTS_KEEP_DAYS")
    results_max_mb: int = Field(default=2048, ge=1, validation_alias="RESULTS_MAX_MB")
    # Input images of queued jobs above this many MiB in memory wait on disk instead.
    input_memory_mb: int = Field(default=256, ge=0, validation_alias="INPUT_MEMORY_MB")

    # The operator's ceiling (bot/caps.py): whatever moderators set, the bill stays under it.
    allowed_guilds: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(), validation_alias="ALLOWED_GUILDS"
    )
    leave_other_guilds: bool = Field(default=False, validation_alias="LEAVE_OTHER_GUILDS")
    operator_daily_usd: Annotated[Decimal | None, NoDecode] = Field(
        default=Decimal(50), validation_alias="OPERATOR_DAILY_USD"
    )
    operator_monthly_usd: Annotated[Decimal | None, NoDecode] = Field(
        default=Decimal(500), validation_alias="OPERATOR_MONTHLY_USD"
    )
    account_daily_usd: Annotated[Decimal | None, NoDecode] = Field(
        default=Decimal(5), validation_alias="ACCOUNT_DAILY_USD"
    )
    personal_monthly_usd: Annotated[Decimal | None, NoDecode] = Field(
        default=Decimal(50), validation_alias="PERSONAL_MONTHLY_USD"
    )
    max_daily_images: int | None = Field(default=200, ge=0, validation_alias="MAX_DAILY_IMAGES")

    @field_validator(
        "operator_daily_usd",
        "operator_monthly_usd",
        "account_daily_usd",
        "personal_monthly_usd",
        mode="before",
    )
    @classmethod
    def _usd_or_off(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in OFF_WORDS:
            return None
        return value

    @field_validator(
        "operator_daily_usd", "operator_monthly_usd", "account_daily_usd", "personal_monthly_usd"
    )
    @classmethod
    def _usd_amount(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not (value.is_finite() and 0 <= value <= MAX_CAP_USD):
            raise ValueError(f"must be an amount in USD from 0 to {MAX_CAP_USD:,}, or off")
        return value

    @field_validator("max_daily_images", mode="before")
    @classmethod
    def _images_or_off(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in OFF_WORDS:
            return None
        return value

    @field_validator("allowed_guilds", mode="before")
    @classmethod
    def _split_guilds(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.isascii() and part.isdigit() for part in parts):
                raise ValueError("must be server ids (numbers) separated by commas")
            return tuple(int(part) for part in parts)
        return value

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

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("must start with postgresql:// (postgresql://user:pass@host/db)")
        return value

    @property
    def postgres_url(self) -> str | None:
        """DATABASE_URL's value, or None for SQLite."""
        return None if self.database_url is None else self.database_url.get_secret_value()

    @field_validator("discord_api_url")
    @classmethod
    def _discord_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (Discord's is https://discord.com/api/v10)")
        return None if value is None else value.rstrip("/")

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_shards(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        shards: list[int] = []
        for part in (p.strip() for p in value.split(",") if p.strip()):
            first, _, last = part.partition("-")
            if not first.isdigit() or (last and not last.isdigit()):
                raise ValueError("must be shard numbers, like 0,1 or 0-3")
            shards.extend(range(int(first), int(last or first) + 1))
        return tuple(shards) or None

    @field_validator("enabled_models", mode="before")
    @classmethod
    def _split_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("enabled_models")
    @classmethod
    def _some_models(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        # Which names have a profile is checked once the profiles are read (bot.app).
        if value is not None and not value:
            raise ValueError("must name at least one model")
        return None if value is None else tuple(dict.fromkeys(value))

    @field_validator("log_level", "discord_log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @property
    def results_path(self) -> Path:
        """Where generated images are kept: RESULTS_DIR, or `results` beside the database."""
        if self.results_dir is not None:
            return self.results_dir
        return self.database_path.parent / "results"

    def model_post_init(self, __context: Any) -> None:
        """Check rules that span two variables."""
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("SHARD_IDS needs SHARD_COUNT (the same in every process)")
            wrong = [shard for shard in self.shard_ids if shard >= self.shard_count]
            if wrong or len(set(self.shard_ids)) != len(self.shard_ids):
                raise ValueError(
                    f"SHARD_IDS must name distinct shards below SHARD_COUNT {self.shard_count}"
                )
        if self.enabled_models is not None and self.default_model not in self.enabled_models:
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
