"""Resolving settings into a running environment: the database (server or embedded), the demo
defaults. Shared by every CLI command so they all behave alike."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mitra.config import Settings
from mitra.crypto import generate_key
from mitra.store.embedded import create_database, start_embedded_postgres

log = logging.getLogger(__name__)

DEMO_PHONE_NUMBER_ID = "106540352242922"


def default_data_dir() -> Path:
    configured = os.environ.get("MITRA_DATA_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_data_dir("mitra"))


def demo_defaults(data_dir: Path, public_url: str) -> dict[str, str]:
    """Settings the demo fills in when they are not set: secrets generated once into the data
    directory (so a restarted demo can still read what it encrypted), the fake Graph API."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "demo-secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
    else:
        stored = {
            "MITRA_WHATSAPP_APP_SECRET": secrets.token_hex(16),
            "MITRA_WHATSAPP_VERIFY_TOKEN": secrets.token_urlsafe(16),
            "MITRA_WHATSAPP_ACCESS_TOKEN": "demo-" + secrets.token_urlsafe(24),
            "MITRA_WHATSAPP_PHONE_NUMBER_ID": DEMO_PHONE_NUMBER_ID,
            "MITRA_ENCRYPTION_KEYS": generate_key(),
            "MITRA_LOOKUP_KEY": generate_key(),
        }
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    if "MITRA_PAYMENT_WEBHOOK_SECRET" not in stored:  # a data directory from before payments
        stored["MITRA_PAYMENT_WEBHOOK_SECRET"] = secrets.token_hex(24)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    if "MITRA_DOCUMENT_SIGNING_KEY" not in stored:  # a data directory from before documents
        from mitra.documents.signing import generate_private_key_b64

        stored["MITRA_DOCUMENT_SIGNING_KEY"] = generate_private_key_b64()
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return {
        **stored,
        "MITRA_DATA_DIR": str(data_dir),
        "MITRA_PUBLIC_URL": public_url,
        "MITRA_GRAPH_API_URL": public_url + "/fake-graph",
        "MITRA_FAKE_GRAPH": "true",
        "MITRA_DEPARTMENTS": "sandbox",
        # Pacing a chatty citizen to one message in 6 s after a burst of 20 keeps Mitra under
        # WhatsApp's pair rate limit; the fake has none, and a trainer tapping through three
        # services in the simulator should not wait 6 s a reply. Real WhatsApp: 6 s.
        "MITRA_CITIZEN_INTERVAL": "1",
    }


def apply_demo_defaults(data_dir: Path, public_url: str) -> None:
    """Put demo defaults into the environment wherever a variable is not set explicitly."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "demo-public-url").write_text(public_url)
    explicit_graph = "MITRA_GRAPH_API_URL" in os.environ
    for name, value in demo_defaults(data_dir, public_url).items():
        if name in ("MITRA_FAKE_GRAPH", "MITRA_CITIZEN_INTERVAL") and explicit_graph:
            continue  # a real Graph API: no fake, and WhatsApp's own pacing
        os.environ.setdefault(name, value)


def join_running_demo() -> bool:
    """For commands run beside `mitra demo` (`mitra case …`): if MITRA_DATA_DIR holds a demo,
    use its secrets, database and public URL wherever nothing is set explicitly. A data
    directory without a demo is left alone: no secrets are ever made up here."""
    data_dir = default_data_dir()
    if not (data_dir / "demo-secrets.json").exists():
        return False
    url_file = data_dir / "demo-public-url"
    public_url = url_file.read_text().strip() if url_file.exists() else "http://localhost:8000"
    apply_demo_defaults(data_dir, os.environ.get("MITRA_PUBLIC_URL", public_url))
    return True


@contextmanager
def database(settings: Settings, *, database_name: str = "mitra") -> Iterator[Settings]:
    """Yield settings with a usable MITRA_DATABASE_URL; start an embedded PostgreSQL under the
    data directory when none is configured (and stop it on exit)."""
    if settings.database_url:
        yield settings
        return
    admin_url, handle = start_embedded_postgres(settings.data_dir)
    url = create_database(admin_url, database_name)
    os.environ["MITRA_DATABASE_URL"] = url  # child processes (uvicorn workers) inherit it
    try:
        yield settings.model_copy(update={"database_url": url})
    finally:
        _stop(handle)


def _stop(handle: Any) -> None:
    try:
        handle.cleanup()
    except Exception:  # the server may already be gone; never mask the real exit reason
        log.debug("embedded PostgreSQL cleanup failed", exc_info=True)
