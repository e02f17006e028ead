"""API keys for department systems and tools: `mk_<prefix>_<secret>`. Only a SHA-256 of the
whole key is stored (the secret is 256 random bits, so a plain hash is enough); the prefix is
shown in listings so a key can be recognised and revoked without revealing it."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

SCOPES = ("cases:read", "cases:write", "documents:revoke", "conversations")


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    department: str | None
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def create_key(
    conn: psycopg.Connection[Any], name: str, department: str | None, scopes: list[str]
) -> str:
    """Make a key and return it: shown once, never stored."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}")
    prefix = secrets.token_hex(4)
    key = f"mk_{prefix}_{secrets.token_urlsafe(32)}"
    conn.execute(
        "INSERT INTO api_keys (prefix, key_hash, name, department, scopes)"
        " VALUES (%s, %s, %s, %s, %s)",
        (prefix, _hash(key), name, department, orjson.dumps(sorted(scopes)).decode()),
    )
    return key


def authenticate(conn: psycopg.Connection[Any], key: str) -> ApiKey | None:
    if not key.startswith("mk_") or len(key) > 200:
        return None
    row = conn.execute(
        "UPDATE api_keys SET last_used_at = now() WHERE key_hash = %s AND revoked_at IS NULL"
        " RETURNING id, name, department, scopes",
        (_hash(key),),
    ).fetchone()
    if row is None:
        return None
    return ApiKey(row["id"], row["name"], row["department"], frozenset(row["scopes"]))


def revoke_key(conn: psycopg.Connection[Any], prefix: str) -> bool:
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE prefix = %s AND revoked_at IS NULL"
        " RETURNING id",
        (prefix,),
    ).fetchone()
    return row is not None


def list_keys(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            "SELECT prefix, name, department, scopes, created_at, last_used_at, revoked_at"
            " FROM api_keys ORDER BY id"
        ).fetchall()
    ]
