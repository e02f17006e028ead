"""The audit trail: who did what, when and from where — every sign-in attempt and every
officer action through the console. (The tamper-evident chain of a later issue builds on
these rows.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import psycopg


def record(
    conn: psycopg.Connection[Any],
    actor: str,
    action: str,
    target: str | None,
    ip: str | None,
    details: dict[str, Any] | None,
    *,
    at: datetime | None = None,
) -> None:
    """In the caller's transaction: an action and its trail commit together."""
    conn.execute(
        "INSERT INTO audit_events (at, actor, action, target, ip, details)"
        " VALUES (coalesce(%s, now()), %s, %s, %s, %s, %s)",
        (
            at,
            actor[:200],
            action,
            (target or "")[:200] or None,
            ip,
            orjson.dumps(details).decode() if details else None,
        ),
    )


def search(
    conn: psycopg.Connection[Any],
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    clauses, params = ["true"], []
    for column, value in (("actor", actor), ("action", action), ("target", target)):
        if value:
            clauses.append(f"{column} ILIKE %s")
            params.append(f"%{value}%")
    rows = conn.execute(
        "SELECT at, actor, action, target, ip, details FROM audit_events WHERE "
        + " AND ".join(clauses)
        + " ORDER BY id DESC LIMIT %s",
        [*params, limit],
    ).fetchall()
    return [dict(r) for r in rows]
