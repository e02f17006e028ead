"""The command line: settings errors name the variable; unmigrated databases are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from mitra.config import ConfigError, load_settings
from mitra.store.embedded import create_database
from tests.conftest import KEY, LOOKUP_KEY

BASE_ENV = {
    "MITRA_WHATSAPP_APP_SECRET": "s",
    "MITRA_WHATSAPP_VERIFY_TOKEN": "v",
    "MITRA_WHATSAPP_ACCESS_TOKEN": "a",
    "MITRA_WHATSAPP_PHONE_NUMBER_ID": "1",
    "MITRA_ENCRYPTION_KEYS": KEY,
    "MITRA_LOOKUP_KEY": LOOKUP_KEY,
}


def run_mitra(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MITRA_")}
    return subprocess.run(
        [sys.executable, "-m", "mitra", *args],
        env={**clean, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"MITRA_SEND_RATE": "fast"}, "MITRA_SEND_RATE"),
        ({"MITRA_SEND_RATE": "-5"}, "MITRA_SEND_RATE"),
        ({"MITRA_ENCRYPTION_KEYS": "short"}, "MITRA_ENCRYPTION_KEYS"),
        ({"MITRA_DATABASE_URL": "sqlite:///x.db"}, "MITRA_DATABASE_URL"),
        ({"MITRA_GRAPH_API_URL": "graph.facebook.com"}, "MITRA_GRAPH_API_URL"),
        ({"MITRA_WHATSAPP_APP_SECRET": None}, "MITRA_WHATSAPP_APP_SECRET"),
    ],
)
def test_a_bad_setting_is_named(
    monkeypatch: Any, override: dict[str, str | None], named: str
) -> None:
    for k in list(os.environ):
        if k.startswith("MITRA_"):
            monkeypatch.delenv(k)
    for k, v in {**BASE_ENV, **override}.items():
        if v is not None:
            monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_explicit_settings_win_over_demo_defaults(monkeypatch: Any, tmp_path: Any) -> None:
    from mitra.runtime import apply_demo_defaults

    # A copy of the environment without MITRA_*: the demo's defaults land there, not in the
    # environment of the tests that follow.
    monkeypatch.setattr(
        os, "environ", {k: v for k, v in os.environ.items() if not k.startswith("MITRA_")}
    )
    monkeypatch.setenv("MITRA_SEND_RATE", "12")
    monkeypatch.setenv("MITRA_GRAPH_API_URL", "https://graph.example.test/v25.0")
    apply_demo_defaults(tmp_path, "http://127.0.0.1:9")
    s = load_settings()
    assert s.send_rate == 12
    assert s.graph_api_url == "https://graph.example.test/v25.0"
    assert s.fake_graph is False  # an explicit Graph URL means: do not serve the fake
    assert s.citizen_interval == 6  # ... and WhatsApp's real pacing
    assert (tmp_path / "demo-secrets.json").stat().st_mode & 0o077 == 0


def test_the_demo_paces_less_only_against_its_fake_whatsapp(
    monkeypatch: Any, tmp_path: Any
) -> None:
    from mitra.runtime import apply_demo_defaults

    monkeypatch.setattr(
        os, "environ", {k: v for k, v in os.environ.items() if not k.startswith("MITRA_")}
    )
    apply_demo_defaults(tmp_path, "http://127.0.0.1:9")
    s = load_settings()
    assert s.fake_graph is True and s.citizen_interval == 1


def test_serve_stops_with_a_message_naming_the_missing_variable() -> None:
    env = {k: v for k, v in BASE_ENV.items() if k != "MITRA_WHATSAPP_ACCESS_TOKEN"}
    result = run_mitra("serve", env=env)
    assert result.returncode == 2
    assert "MITRA_WHATSAPP_ACCESS_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_and_worker_refuse_an_unmigrated_database(pg_admin_url: str) -> None:
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS mitra_unmigrated")
    url = create_database(pg_admin_url, "mitra_unmigrated")
    for command in ("serve", "worker"):
        result = run_mitra(command, env={**BASE_ENV, "MITRA_DATABASE_URL": url})
        assert result.returncode == 3, result.stderr
        assert "mitra migrate" in result.stderr
    migrated = run_mitra("migrate", env={**BASE_ENV, "MITRA_DATABASE_URL": url})
    assert migrated.returncode == 0, migrated.stderr
    from mitra.store.migrate import head_revision

    assert head_revision() in migrated.stdout


def test_help_explains_every_command() -> None:
    result = run_mitra("--help", env={})
    assert result.returncode == 0
    for command in ("demo", "serve", "worker", "migrate", "bench", "fake-graph"):
        assert command in result.stdout


def test_migrations_match_the_models(settings: Any) -> None:
    """Fitness: the schema the migrations build is the schema the code declares."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from mitra.store.db import sqlalchemy_engine
    from mitra.store.models import metadata

    engine = sqlalchemy_engine(settings)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
