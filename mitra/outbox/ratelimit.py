"""Token buckets in PostgreSQL, shared by every process that sends for the business number.

`take` grants up to `want` tokens at once (a sender takes a round's worth, not one per
message) so the bucket row is touched a few times a second, not once per message.
"""

from __future__ import annotations

from typing import Any

import psycopg

NUMBER_BUCKET = "number"

_TAKE = """
WITH b AS (
  SELECT least(%(burst)s, tokens + %(rate)s *
               greatest(0, extract(epoch FROM clock_timestamp() - updated_at))) AS available,
         coalesce(paused_until > clock_timestamp(), false) AS paused
  FROM rate_buckets WHERE name = %(name)s FOR UPDATE
), g AS (
  SELECT available, CASE WHEN paused THEN 0 ELSE least(%(want)s, floor(available)) END AS granted
  FROM b
)
UPDATE rate_buckets r SET tokens = g.available - g.granted, updated_at = clock_timestamp()
FROM g WHERE r.name = %(name)s RETURNING g.granted::int AS granted
"""


def take(conn: psycopg.Connection[Any], name: str, want: int, *, rate: float, burst: float) -> int:
    """Take up to `want` tokens from bucket `name` (created full on first use). Commits."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO rate_buckets (name, tokens, updated_at) VALUES (%s, %s, clock_timestamp())"
            " ON CONFLICT DO NOTHING",
            (name, burst),
        )
        row = conn.execute(
            _TAKE, {"name": name, "want": want, "rate": rate, "burst": burst}
        ).fetchone()
    return int(row["granted"]) if row else 0


def give_back(conn: psycopg.Connection[Any], name: str, tokens: int, *, burst: float) -> None:
    if tokens <= 0:
        return
    with conn.transaction():
        conn.execute(
            "UPDATE rate_buckets SET tokens = least(%s, tokens + %s) WHERE name = %s",
            (burst, tokens, name),
        )


def pause(conn: psycopg.Connection[Any], name: str, seconds: float) -> None:
    """Stop granting tokens for `seconds` (after 130429 or an app-level rate limit)."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO rate_buckets AS b (name, tokens, updated_at, paused_until)"
            " VALUES (%(name)s, 0, clock_timestamp(),"
            " clock_timestamp() + make_interval(secs => %(secs)s))"
            " ON CONFLICT (name) DO UPDATE SET tokens = 0, updated_at = clock_timestamp(),"
            " paused_until = greatest(coalesce(b.paused_until, clock_timestamp()),"
            " clock_timestamp() + make_interval(secs => %(secs)s))",
            {"name": name, "secs": seconds},
        )
