"""Console sessions: a random token in a cookie (HttpOnly, SameSite=Strict, Secure over
HTTPS); only its SHA-256 is stored, so a copy of the database signs no one in. Each session
has its CSRF token, which every form must send back. Sessions end after 30 idle minutes or
12 hours, whichever comes first."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from mitra.console.accounts import Officer, by_id

COOKIE = "mitra_console"
IDLE = timedelta(minutes=30)
LONGEST = timedelta(hours=12)


@dataclass(frozen=True)
class Signed:
    officer: Officer
    csrf: str


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def start(
    conn: psycopg.Connection[Any], officer: Officer, ip: str | None, now: datetime | None = None
) -> str:
    """A new session; returns the cookie's token."""
    moment = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO officer_sessions (token_hash, officer_id, csrf_token, ip, created_at,"
        " last_seen_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (_hash(token), officer.id, secrets.token_urlsafe(24), ip, moment, moment, moment + LONGEST),
    )
    return token


def current(
    conn: psycopg.Connection[Any], token: str | None, now: datetime | None = None
) -> Signed | None:
    """The signed-in officer behind a cookie, or None (and an expired session is removed)."""
    if not token:
        return None
    moment = now or datetime.now(UTC)
    row = conn.execute(
        "SELECT officer_id, csrf_token, last_seen_at, expires_at FROM officer_sessions"
        " WHERE token_hash = %s",
        (_hash(token),),
    ).fetchone()
    if row is None:
        return None
    if row["expires_at"] <= moment or row["last_seen_at"] + IDLE <= moment:
        conn.execute("DELETE FROM officer_sessions WHERE token_hash = %s", (_hash(token),))
        return None
    officer = by_id(conn, row["officer_id"])
    if officer is None:
        return None
    conn.execute(
        "UPDATE officer_sessions SET last_seen_at = %s WHERE token_hash = %s",
        (moment, _hash(token)),
    )
    return Signed(officer, row["csrf_token"])


def end(conn: psycopg.Connection[Any], token: str | None) -> None:
    if token:
        conn.execute("DELETE FROM officer_sessions WHERE token_hash = %s", (_hash(token),))


def csrf_ok(signed: Signed, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(signed.csrf, sent or "")
