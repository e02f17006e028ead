"""Mitra's side of a simulated citizen starting again."""

from __future__ import annotations

from typing import Any

import psycopg

from mitra.crypto import FieldCipher


def reset(conn: psycopg.Connection[Any], cipher: FieldCipher, wa_id: str) -> bool:
    """Make Mitra meet this citizen afresh: no language, no consent, no service in progress,
    no officer conversation open. Their applications, grievances, payments and documents stay
    (erasing a citizen's data is a data-rights request, not a simulator button). Waits for a
    worker answering them right now (the row lock). Returns whether Mitra knew them."""
    row = conn.execute(
        "SELECT id FROM citizens WHERE wa_id_hash = %s FOR UPDATE",
        (cipher.lookup_hash(wa_id, kind="wa_id"),),
    ).fetchone()
    if row is None:
        return False
    conn.execute(
        "UPDATE citizens SET session_enc = NULL, language = NULL, consent_at = NULL WHERE id = %s",
        (row["id"],),
    )
    conn.execute(
        "UPDATE handovers SET status = 'closed', closed_at = now(), closed_by = 'reset'"
        " WHERE citizen_id = %s AND status <> 'closed'",
        (row["id"],),
    )
    return True
