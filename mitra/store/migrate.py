"""Apply migrations (`mitra migrate`) and refuse to start on an unmigrated database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from mitra.config import Settings
from mitra.store.db import sqlalchemy_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class NotMigrated(Exception):
    """The database is behind the code's migrations."""


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(settings: Settings) -> str | None:
    engine = sqlalchemy_engine(settings)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def migrate(settings: Settings) -> tuple[str | None, str]:
    """Upgrade to head; return (revision before, revision after)."""
    before = current_revision(settings)
    command.upgrade(alembic_config(settings), "head")
    return before, head_revision()


def ensure_migrated(settings: Settings) -> None:
    current = current_revision(settings)
    head = head_revision()
    if current != head:
        raise NotMigrated(
            f"the database is at migration {current or 'none (empty)'} but this code needs {head}; "
            "run `mitra migrate` first"
        )
