"""Test harness: a real PostgreSQL built by the real migrations.

`MITRA_TEST_DATABASE_URL` (a server URL; a fresh database is created on it) if set, else an
embedded PostgreSQL in a temporary directory. Each test starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from mitra.config import Settings, load_settings
from mitra.crypto import FieldCipher, generate_key
from mitra.documents.signing import generate_private_key_b64
from mitra.store.embedded import create_database, start_embedded_postgres

TABLES = (
    "audit_events",
    "officer_sessions",
    "officers",
    "media_deliveries",
    "case_followers",
    "media",
    "handovers",
    "bookings",
    "refunds",
    "payment_events",
    "payments",
    "api_keys",
    "document_deliveries",
    "documents",
    "case_events",
    "cases",
    "case_serials",
    "conversation_steps",
    "effects",
    "message_statuses",
    "outbound_messages",
    "inbound_events",
    "webhook_deliveries",
    "citizen_send_state",
    "citizens",
    "rate_buckets",
)

PHONE_NUMBER_ID = "106540352242922"
SIGNING_KEY = generate_private_key_b64()
PAYMENT_SECRET = "test-payment-webhook-secret"
APP_SECRET = "test-app-secret"
ACCESS_TOKEN = "test-access-token"
VERIFY_TOKEN = "test-verify-token"
KEY = generate_key()
LOOKUP_KEY = generate_key()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    configured = os.environ.get("MITRA_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    tmp = Path(tempfile.mkdtemp(prefix="mitra-test-pg-"))
    url, handle = start_embedded_postgres(tmp)
    try:
        yield url
    finally:
        handle.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str) -> str:
    name = f"mitra_test_{os.getpid()}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    url = create_database(pg_admin_url, name)
    return url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_access_token": ACCESS_TOKEN,
        "whatsapp_phone_number_id": PHONE_NUMBER_ID,
        "encryption_keys": KEY,
        "lookup_key": LOOKUP_KEY,
        "graph_api_url": "http://fake-graph.test",
        "public_url": "http://mitra.test",
        "data_dir": tempfile.gettempdir(),
        "document_signing_key": SIGNING_KEY,
        "payment_webhook_secret": PAYMENT_SECRET,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(scope="session")
def migrated_url(database_url: str) -> str:
    from mitra.store.migrate import migrate

    migrate(make_settings(database_url))
    return database_url


@pytest.fixture
def settings(migrated_url: str) -> Settings:
    return make_settings(migrated_url)


@pytest.fixture
def cipher(settings: Settings) -> FieldCipher:
    return FieldCipher(settings.encryption_key_bytes, settings.lookup_key_bytes)


@pytest.fixture
def db(migrated_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A connection to an emptied database."""
    with psycopg.connect(migrated_url, row_factory=dict_row) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        conn.commit()
        yield conn


@pytest.fixture
async def mitra_app(settings: Settings, db: Any) -> AsyncIterator[Any]:
    """The real ASGI entry point (the webhook fast path in front of the FastAPI app), with the
    app's lifespan running (pool, delivery writer)."""
    from mitra.web.app import create_web

    web = create_web(settings)
    async with web.app.router.lifespan_context(web.app):
        yield web.asgi
