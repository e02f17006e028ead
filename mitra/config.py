"""Settings: the public configuration contract (every variable is documented in the README).

Settings come from `MITRA_*` environment variables. A missing or malformed value stops
start-up with a `ConfigError` that names the variable. The demo fills in defaults for what is
not set (`mitra.demo.demo_environment`), but anything set explicitly always wins.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MITRA_"
DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v25.0"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def decode_key(text: str) -> bytes:
    """A 32-byte key written as URL-safe base64 (44 characters with padding)."""
    try:
        raw = base64.urlsafe_b64decode(
            text.strip().encode() + b"==="[: (4 - len(text.strip()) % 4) % 4]
        )
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc
    if len(raw) != 32:
        raise ValueError(f"a key must be 32 bytes of URL-safe base64, got {len(raw)} bytes")
    return raw


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str | None = None
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("mitra")))

    whatsapp_app_secret: str
    whatsapp_verify_token: str
    whatsapp_access_token: str
    whatsapp_phone_number_id: str
    graph_api_url: str = DEFAULT_GRAPH_API_URL

    send_rate: float = Field(default=80.0, gt=0, le=10_000)
    public_url: str = "http://localhost:8000"
    encryption_keys: str
    lookup_key: str

    # Tuning knobs with safe defaults (documented in the README).
    stale_message_age: int = Field(default=900, ge=1)
    citizen_burst: int = Field(default=20, ge=1)
    citizen_interval: float = Field(default=6.0, ge=0)
    send_in_doubt_after: int = Field(default=300, ge=1)
    webhook_max_bytes: int = Field(default=3 * 1024 * 1024, ge=1024)
    fake_graph: bool = False
    session_idle_timeout: int = Field(default=1800, ge=60)
    # "sandbox": serve the stand-in department systems under /sandbox and call them there;
    # otherwise each department's URL and token come from MITRA_DEPARTMENT_<CODE>_URL/_TOKEN.
    departments: str = ""
    department_call_timeout: int = Field(default=60, ge=5)

    # Documents: the Ed25519 key that signs certificates (base64 of its 32 raw bytes; `mitra
    # keys` makes one) and earlier keys' public halves still published for verification.
    document_signing_key: str | None = None
    document_previous_keys: str = ""
    # Identity step-up (Aadhaar OTP). With MITRA_DEPARTMENTS=sandbox the sandbox provider under
    # /sandbox/ekyc is used when no URL is set.
    ekyc_url: str | None = None
    ekyc_token: str | None = None
    # Payments: "sandbox" (the stand-in gateway under /sandbox/pay, as the demo uses) or
    # "razorpay" (MITRA_RAZORPAY_KEY_ID / _KEY_SECRET; callbacks signed with the webhook secret).
    payment_gateway: str = "sandbox"
    payment_gateway_url: str | None = None  # default: MITRA_PUBLIC_URL/sandbox/pay, or Razorpay's
    payment_webhook_secret: str | None = None
    razorpay_key_id: str | None = None
    razorpay_key_secret: str | None = None
    payment_link_minutes: int = Field(default=15, ge=1, le=24 * 60)
    payment_reconcile_after: int = Field(default=600, ge=30)
    # Talking to an officer: seconds without an officer's activity after which the citizen is
    # handed back to the bot.
    handover_timeout: int = Field(default=1800, ge=60)
    # The SLA clock: how often the worker looks for cases coming due (seconds), and how long
    # before the due date the office is reminded (days).
    sla_interval: int = Field(default=60, ge=1)
    sla_remind_days: int = Field(default=2, ge=0)
    # Grievances: days a citizen may reopen a resolved grievance; after them it is closed.
    grievance_reopen_days: int = Field(default=7, ge=1, le=90)

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError("must be a PostgreSQL URL (postgresql://user@host:port/db)")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _keys(cls, value: str) -> str:
        keys = [k for k in value.split(",") if k.strip()]
        if not keys:
            raise ValueError("needs at least one key")
        for key in keys:
            decode_key(key)
        return value

    @field_validator("lookup_key")
    @classmethod
    def _lookup_key(cls, value: str) -> str:
        decode_key(value)
        return value

    @field_validator("departments")
    @classmethod
    def _departments(cls, value: str) -> str:
        if value not in ("", "sandbox"):
            raise ValueError("must be 'sandbox' or empty (departments from MITRA_DEPARTMENT_*)")
        return value

    @field_validator("graph_api_url", "public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @property
    def encryption_key_bytes(self) -> list[bytes]:
        return [decode_key(k) for k in self.encryption_keys.split(",") if k.strip()]

    @property
    def lookup_key_bytes(self) -> bytes:
        return decode_key(self.lookup_key)

    @property
    def sqlalchemy_url(self) -> str:
        assert self.database_url is not None, "database_url is resolved before use"
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def libpq_url(self) -> str:
        assert self.database_url is not None, "database_url is resolved before use"
        return self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ConfigError naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
            reason = "is not set" if err["type"] == "missing" else err["msg"]
            problems.append(f"{name} {reason}")
        raise ConfigError("; ".join(problems)) from None
