"""Typed settings: the only place the environment is read."""

from __future__ import annotations

import ipaddress
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core import hosts

# Peers whose X-Real-IP / X-Forwarded-Proto are believed: our own nginx, on loopback.
DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")

DEFAULT_RESULT_URL_HOSTS = (
    # Volcengine object storage domains that Ark and Visual result URLs point at.
    "*.volces.com",
    "*.volccdn.com",
    "*.volcengine.com",
    "*.volcengineapi.com",
    "*.byteimg.com",
    "*.bytedanceapi.com",
)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # A model-level error would otherwise print every input, the secrets among them.
        hide_input_in_errors=True,
    )

    # --- credentials (never echoed) -----------------------------------------------------------
    ark_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("ARK_API_KEY"))
    volcengine_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("VOLCENGINE_ACCESS_KEY", "VOLC_ACCESSKEY")
    )
    volcengine_secret_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("VOLCENGINE_SECRET_KEY", "VOLC_SECRETKEY")
    )
    volcengine_region: str = Field(default="cn-north-1", validation_alias=AliasChoices("VOLCENGINE_REGION"))

    # --- upstream endpoints ------------------------------------------------------------------
    ark_base_url: str = Field(
        default="https://ark.cn-beijing.volces.com/api/v3", validation_alias=AliasChoices("ARK_BASE_URL")
    )
    visual_base_url: str = Field(
        default="https://visual.volcengineapi.com", validation_alias=AliasChoices("VISUAL_BASE_URL")
    )
    ark_extra_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("ARK_EXTRA_MODELS")
    )
    result_url_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RESULT_URL_HOSTS), validation_alias=AliasChoices("RESULT_URL_HOSTS")
    )
    # Hosts webhook endpoints may be on (the same rules as RESULT_URL_HOSTS: host, host:port or
    # *.domain); empty: no webhook can be added. Requests to anything else are never made.
    webhook_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("WEBHOOK_HOSTS")
    )
    # Seconds; generation can take minutes upstream (groups, 4K).
    upstream_connect_timeout: float = Field(default=10.0, validation_alias=AliasChoices("UPSTREAM_CONNECT_TIMEOUT"))
    upstream_read_timeout: float = Field(default=300.0, validation_alias=AliasChoices("UPSTREAM_READ_TIMEOUT"))
    # One whole exchange (request, answer headers and the complete body or stream), whatever the
    # upstream drips: the read timeout alone resets on every byte. Groups of 15 4K images stream
    # for a few minutes at most; 10 min leaves room.
    upstream_total_timeout: float = Field(default=600.0, gt=0, validation_alias=AliasChoices("UPSTREAM_TOTAL_TIMEOUT"))
    # The largest JSON answer read from an upstream (Visual returns images as base64 in JSON).
    upstream_max_response_mb: float = Field(default=100.0, gt=0, validation_alias=AliasChoices("UPSTREAM_MAX_RESPONSE_MB"))
    upstream_max_attempts: int = Field(default=4, ge=1, le=10, validation_alias=AliasChoices("UPSTREAM_MAX_ATTEMPTS"))
    # Scales every backoff delay; tests set it to 0 so retries do not sleep.
    retry_backoff_scale: float = Field(default=1.0, ge=0, validation_alias=AliasChoices("RETRY_BACKOFF_SCALE"))
    visual_poll_interval: float = Field(default=2.0, ge=0, validation_alias=AliasChoices("VISUAL_POLL_INTERVAL"))
    visual_poll_deadline: float = Field(default=600.0, gt=0, validation_alias=AliasChoices("VISUAL_POLL_DEADLINE"))

    # --- storage and database ----------------------------------------------------------------
    data_dir: Path = Field(default=Path("./data"), validation_alias=AliasChoices("DATA_DIR"))
    output_dir_override: Path | None = Field(default=None, validation_alias=AliasChoices("OUTPUT_DIR"))
    database_url_override: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))
    max_upload_mb: float = Field(default=10.0, gt=0, validation_alias=AliasChoices("MAX_UPLOAD_MB"))
    max_image_pixels: int = Field(default=36_000_000, gt=0, validation_alias=AliasChoices("MAX_IMAGE_PIXELS"))
    min_free_disk_mb: float = Field(default=100.0, ge=0, validation_alias=AliasChoices("MIN_FREE_DISK_MB"))
    # Kept as a file next to the SQLite database and given back when the volume is full, so that
    # deleting history (which needs a few free blocks) still works there (app.storage.reserve).
    disk_reserve_mb: float = Field(default=16.0, ge=0, validation_alias=AliasChoices("DISK_RESERVE_MB"))
    # Seconds between housekeeping rounds: stale tmp files removed, the disk reserve made again.
    housekeeping_interval_seconds: float = Field(
        default=60.0, gt=0, validation_alias=AliasChoices("HOUSEKEEPING_INTERVAL_SECONDS")
    )
    # SQLite connections that serve reads at once. Prompt searches scan with the GIL released, one
    # CPU each: more of them than cores only starves the event loop (bench/health_under_load.py).
    sqlite_read_connections: int = Field(
        default=3, ge=1, le=64, validation_alias=AliasChoices("SQLITE_READ_CONNECTIONS")
    )

    # Where images live: "local" (DATA_DIR/output, served by nginx) or "s3" (any S3-compatible
    # object storage: Volcengine TOS, MinIO, AWS S3; browsers get short-lived presigned URLs).
    storage_backend: Literal["local", "s3"] = Field(default="local", validation_alias=AliasChoices("STORAGE_BACKEND"))
    # e.g. https://tos-s3-cn-beijing.volces.com (TOS's S3 endpoint), http://minio:9000
    s3_endpoint: str | None = Field(default=None, validation_alias=AliasChoices("S3_ENDPOINT"))
    s3_bucket: str | None = Field(default=None, validation_alias=AliasChoices("S3_BUCKET"))
    s3_region: str = Field(default="us-east-1", validation_alias=AliasChoices("S3_REGION"))
    s3_access_key_id: SecretStr | None = Field(default=None, validation_alias=AliasChoices("S3_ACCESS_KEY_ID"))
    s3_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("S3_SECRET_ACCESS_KEY")
    )
    # Key prefix inside the bucket, so one bucket can hold several installs.
    s3_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_./-]*$", validation_alias=AliasChoices("S3_PREFIX"))
    # "virtual" (bucket.endpoint-host: TOS and AWS want it) or "path" (endpoint/bucket: MinIO).
    s3_addressing_style: Literal["path", "virtual"] = Field(
        default="virtual", validation_alias=AliasChoices("S3_ADDRESSING_STYLE")
    )
    # Lifetime of the presigned URLs images are served by (a redirect after the access check).
    s3_presign_seconds: int = Field(default=300, ge=10, le=3600, validation_alias=AliasChoices("S3_PRESIGN_SECONDS"))

    # --- jobs ----------------------------------------------------------------------------------
    max_concurrent_jobs: int = Field(default=16, ge=1, le=10_000, validation_alias=AliasChoices("MAX_CONCURRENT_JOBS"))
    # Fixed caps of parallel jobs per provider (unset: the adaptive limits below decide). Set one
    # only to hold the account below what it could do: it is also the adaptive ceiling.
    visual_max_concurrency: int | None = Field(
        default=None, ge=1, validation_alias=AliasChoices("VISUAL_MAX_CONCURRENCY")
    )
    ark_max_concurrency: int | None = Field(default=None, ge=1, validation_alias=AliasChoices("ARK_MAX_CONCURRENCY"))
    # Upstream calls in flight per model: start here, then grow while calls succeed and back off on
    # throttling (app.providers.limits). ADAPTIVE_CONCURRENCY=false keeps them at the start value.
    adaptive_concurrency: bool = Field(default=True, validation_alias=AliasChoices("ADAPTIVE_CONCURRENCY"))
    ark_initial_concurrency: int = Field(
        default=8, ge=1, le=1000, validation_alias=AliasChoices("ARK_INITIAL_CONCURRENCY")
    )
    visual_initial_concurrency: int = Field(
        default=2, ge=1, le=1000, validation_alias=AliasChoices("VISUAL_INITIAL_CONCURRENCY")
    )
    upstream_max_concurrency: int = Field(
        default=64, ge=1, le=10_000, validation_alias=AliasChoices("UPSTREAM_MAX_CONCURRENCY")
    )
    # The account's Ark images-per-minute limit (per model), when known: calls are paced to it.
    ark_images_per_minute: float | None = Field(
        default=None, gt=0, validation_alias=AliasChoices("ARK_IMAGES_PER_MINUTE")
    )
    max_job_attempts: int = Field(default=3, ge=1, le=20, validation_alias=AliasChoices("MAX_JOB_ATTEMPTS"))
    job_lease_seconds: float = Field(default=30.0, gt=0, validation_alias=AliasChoices("JOB_LEASE_SECONDS"))
    # A whole job (every retry, poll and download included) ends by then, as failed and retryable.
    job_timeout: float = Field(default=1800.0, gt=0, validation_alias=AliasChoices("JOB_TIMEOUT"))
    run_worker: bool = Field(default=True, validation_alias=AliasChoices("RUN_WORKER"))
    # Worker processes for image work (decode, thumbnail, metadata, writes), started on first use;
    # 0 runs it on threads of the API process (one core with the event loop: GIL).
    image_processes: int = Field(
        default_factory=lambda: min(4, os.cpu_count() or 1), ge=0, le=64,
        validation_alias=AliasChoices("IMAGE_PROCESSES"),
    )

    # --- spend -----------------------------------------------------------------------------------
    # Caps in CNY (unset = none). Values saved in Settings (the database) win over these.
    budget_daily_cny: float | None = Field(default=None, ge=0, validation_alias=AliasChoices("BUDGET_DAILY_CNY"))
    budget_monthly_cny: float | None = Field(default=None, ge=0, validation_alias=AliasChoices("BUDGET_MONTHLY_CNY"))
    # Days and months of the usage figures and budgets follow this time zone (Volcengine bills in
    # Beijing time).
    billing_timezone: str = Field(default="Asia/Shanghai", validation_alias=AliasChoices("BILLING_TIMEZONE"))
    # A TOML or JSON file laid over the shipped model catalogue (app/providers/catalog/models.toml):
    # adds models or overrides fields of known ones.
    models_file: Path | None = Field(default=None, validation_alias=AliasChoices("MODELS_FILE"))
    # A TOML or JSON file laid over the shipped price table (app/billing/prices.toml).
    prices_file: Path | None = Field(default=None, validation_alias=AliasChoices("PRICES_FILE"))

    # --- HTTP / security -------------------------------------------------------------------------
    # The first admin's password (ADMIN_PASSWORD; APP_PASSWORD, its older name, still works). Unset:
    # no sign-in at all, everyone who reaches the port is that one admin (a loopback-only install).
    app_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ADMIN_PASSWORD", "APP_PASSWORD")
    )
    # The first admin's user name (members sign in with theirs; the admin may still give only the password).
    admin_username: str = Field(
        default="admin", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$",
        validation_alias=AliasChoices("ADMIN_USERNAME"),
    )
    # How long POST /v1/images/* waits for its task before answering 504 (the task keeps running
    # and stays in the history). nginx gives /v1/ 30 s more than this.
    openai_wait_seconds: float = Field(default=300.0, gt=0, le=3600, validation_alias=AliasChoices("OPENAI_WAIT_SECONDS"))
    # How long an image URL returned by /v1/images/* opens without a session.
    signed_url_seconds: int = Field(default=3600, ge=60, le=7 * 86400, validation_alias=AliasChoices("SIGNED_URL_SECONDS"))
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("CORS_ORIGINS")
    )
    # Host names the studio answers to (app/core/hosts.py); empty = loopback + this machine's names.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("ALLOWED_HOSTS")
    )
    # Addresses (or networks) of the proxies whose X-Real-IP names the client; nobody else's does.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_TRUSTED_PROXIES), validation_alias=AliasChoices("TRUSTED_PROXIES")
    )
    # A TLS reverse proxy in front of nginx (Caddy, ...): nginx believes the client address
    # (X-Forwarded-For) and scheme (X-Forwarded-Proto) it reports, and no one else's. Empty: none.
    front_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("FRONT_PROXIES")
    )
    # Wrong secrets (password at login, Bearer header, session cookie) per minute: per client, and
    # from everyone together. Above either, secrets are not even checked until the window moves on.
    auth_failures_per_minute: int = Field(default=5, ge=1, validation_alias=AliasChoices("AUTH_FAILURES_PER_MINUTE"))
    auth_failures_global_per_minute: int = Field(
        default=30, ge=1, validation_alias=AliasChoices("AUTH_FAILURES_GLOBAL_PER_MINUTE")
    )
    generation_rate_limit_per_minute: int = Field(
        default=120, ge=0, validation_alias=AliasChoices("GENERATION_RATE_LIMIT_PER_MINUTE")
    )
    serve_images: bool = Field(default=True, validation_alias=AliasChoices("SERVE_IMAGES"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL")
    )
    default_model: str | None = Field(default=None, validation_alias=AliasChoices("DEFAULT_MODEL"))

    @field_validator(
        "ark_extra_models", "result_url_hosts", "webhook_hosts", "cors_origins", "allowed_hosts", "trusted_proxies", "front_proxies",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        try:
            names = hosts.unique(hosts.normalize_entry(entry) for entry in value)
        except ValueError as exc:
            # Checked strictly: the list is also written into nginx's config.
            raise ValueError(f"ALLOWED_HOSTS: {exc}") from None
        return [hosts.ANY] if hosts.ANY in names else names

    @field_validator("front_proxies")
    @classmethod
    def _front_networks(cls, value: list[str]) -> list[str]:
        try:
            # Strict: the list is written into nginx's config as given, so it must be exact.
            return [str(ipaddress.ip_network(entry.strip("[]"), strict=True)) for entry in value]
        except ValueError as exc:
            raise ValueError(f"FRONT_PROXIES: {exc} (addresses or networks, e.g. 172.31.240.10)") from None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        try:
            return [str(ipaddress.ip_network(entry.strip("[]"), strict=False)) for entry in value]
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {exc} (addresses or networks, e.g. 10.0.0.0/8)") from None

    @field_validator(
        "output_dir_override", "database_url_override", "default_model", "budget_daily_cny", "budget_monthly_cny",
        "prices_file", "models_file", mode="before",
    )
    @classmethod
    def _blank_setting_is_unset(cls, value: object) -> object:
        # `OUTPUT_DIR=` in a .env means "not set", not "the current directory".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("billing_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "ark_api_key", "volcengine_access_key", "volcengine_secret_key", "app_password", "s3_access_key_id",
        "s3_secret_access_key", "s3_endpoint", "s3_bucket", mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # `.env.example` ships empty assignments and placeholders; neither is a credential.
        if isinstance(value, str):
            stripped = value.strip()
            if not stripped or stripped.lower() in {"changeme", "your_api_key", "your-api-key", "xxx"}:
                return None
            return stripped
        return value

    @model_validator(mode="after")
    def _s3_complete(self) -> Settings:
        if self.storage_backend != "s3":
            return self
        missing = [
            name
            for name, value in (
                ("S3_ENDPOINT", self.s3_endpoint),
                ("S3_BUCKET", self.s3_bucket),
                ("S3_ACCESS_KEY_ID", self.s3_access_key_id),
                ("S3_SECRET_ACCESS_KEY", self.s3_secret_access_key),
            )
            if value is None
        ]
        if missing:
            raise ValueError(f"STORAGE_BACKEND=s3 needs {', '.join(missing)}")
        parts = urlsplit(self.s3_endpoint or "")
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("S3_ENDPOINT must be an http:// or https:// URL, e.g. https://tos-s3-cn-beijing.volces.com")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", self.s3_bucket or ""):
            raise ValueError("S3_BUCKET must be a bucket name: 3-63 lower-case letters, digits, dots and hyphens")
        if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", parts.netloc):
            raise ValueError("S3_ENDPOINT must name a host (and port) only, without credentials")
        return self

    # --- derived ---------------------------------------------------------------------------------
    @cached_property
    def output_dir(self) -> Path:
        return (self.output_dir_override or self.data_dir / "output").resolve()

    @cached_property
    def uploads_dir(self) -> Path:
        return (self.data_dir / "uploads").resolve()

    @cached_property
    def database_url(self) -> str:
        if self.database_url_override:
            url = self.database_url_override
            # Users paste sync URLs; the app runs async drivers.
            if url.startswith("postgres://"):
                url = "postgresql+asyncpg://" + url[len("postgres://") :]
            elif url.startswith("postgresql://"):
                url = "postgresql+asyncpg://" + url[len("postgresql://") :]
            elif url.startswith("sqlite:///"):
                url = "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'app.db').resolve()}"

    @cached_property
    def disk_reserve_path(self) -> Path | None:
        """Where the disk reserve lives: beside the SQLite database (PostgreSQL keeps its own disk)."""
        prefix = "sqlite+aiosqlite:///"
        if self.storage_backend == "s3":
            return None  # images do not fill the volume; see app.storage.reserve
        if not self.database_url.startswith(prefix):
            return None
        database = self.database_url[len(prefix) :]
        if not database or database.startswith(":memory:"):
            return None
        return Path(database).resolve().parent / ".disk-reserve"

    @property
    def disk_reserve_bytes(self) -> int:
        return int(self.disk_reserve_mb * 1024 * 1024)

    @property
    def allowed_hosts_given(self) -> bool:
        return bool(self.allowed_hosts)

    @cached_property
    def allowed_host_names(self) -> tuple[str, ...]:
        """The loopback names and ALLOWED_HOSTS, or when unset the default list (loopback and this
        machine's names). Loopback is always answered: health checks and `make run` ask there, and
        no page elsewhere can make a browser send it."""
        if hosts.ANY in self.allowed_hosts:
            return (hosts.ANY,)
        if self.allowed_hosts:
            return tuple(hosts.unique([*hosts.LOOPBACK_HOSTS, *self.allowed_hosts]))
        return tuple(hosts.default_allowed_hosts())

    @cached_property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(entry) for entry in self.trusted_proxies)

    @cached_property
    def image_origin(self) -> str:
        """scheme://host[:port] of the presigned URLs images are served by (STORAGE_BACKEND=s3),
        else "" (images come from this origin)."""
        if self.storage_backend != "s3" or not self.s3_endpoint or not self.s3_bucket:
            return ""
        parts = urlsplit(self.s3_endpoint)
        host = parts.netloc
        if self.s3_addressing_style == "virtual":
            host = f"{self.s3_bucket}.{host}"
        return f"{parts.scheme}://{host}"

    @property
    def ark_configured(self) -> bool:
        return self.ark_api_key is not None

    @property
    def visual_configured(self) -> bool:
        return self.volcengine_access_key is not None and self.volcengine_secret_key is not None

    @property
    def upstream_max_response_bytes(self) -> int:
        return int(self.upstream_max_response_mb * 1024 * 1024)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log filter that masks them."""
        values = [
            self.ark_api_key, self.volcengine_access_key, self.volcengine_secret_key, self.app_password,
            self.s3_access_key_id, self.s3_secret_access_key,
        ]
        return [v.get_secret_value() for v in values if v is not None]

    @property
    def min_free_bytes(self) -> int:
        return int(self.min_free_disk_mb * 1024 * 1024)

    @property
    def provider_concurrency(self) -> dict[str, int | None]:
        """Parallel jobs each provider may run (None: only MAX_CONCURRENT_JOBS applies).

        The one table of providers and their caps: the worker enforces it, the catalogue shows it.
        """
        return {"demo": None, "ark": self.ark_max_concurrency, "visual": self.visual_max_concurrency}
