"""Lookups Mitra answers from its own records: only ever about the citizen who asks."""

from __future__ import annotations

from typing import Any

import pytest

from mitra.jobs.platform_calls import PlatformLookupError, matches, my_data, verify_message
from mitra.outbox.queue import enqueue
from mitra.whatsapp import messages


def citizen(db: Any, cipher: Any, wa_id: str, name: str) -> int:
    row = db.execute(
        "INSERT INTO citizens (wa_id_hash, wa_id_enc, profile_name_enc, language, consent_at)"
        " VALUES (%s, %s, %s, 'te', now()) RETURNING id",
        (
            cipher.lookup_hash(wa_id, kind="wa_id"),
            cipher.encrypt(wa_id, context=b"wa_id"),
            cipher.encrypt(name, context=b"profile_name"),
        ),
    ).fetchone()
    db.commit()
    return int(row["id"])


def sent(db: Any, cipher: Any, citizen_id: int, text: str) -> None:
    enqueue(db, cipher, [(citizen_id, messages.text(text), None)])
    db.execute("UPDATE outbound_messages SET status = 'read', sent_at = now()")
    db.commit()


def test_my_data_shows_the_citizen_their_own_record_with_the_number_masked(
    db: Any, cipher: Any
) -> None:
    lakshmi = citizen(db, cipher, "919876543210", "Lakshmi")
    data = my_data(db, cipher, lakshmi)
    assert data["phone"] == "+91 XXXXXX3210"
    assert data["name"] == "Lakshmi"
    assert data["language"] == {"en": "Telugu", "te": "తెలుగు"}
    with pytest.raises(PlatformLookupError):
        my_data(db, cipher, 999_999)


def test_verify_finds_only_what_this_number_sent_to_this_citizen(db: Any, cipher: Any) -> None:
    lakshmi = citizen(db, cipher, "919876543210", "Lakshmi")
    ravi = citizen(db, cipher, "919849012345", "Ravi")
    sent(db, cipher, ravi, "Your water supply will be interrupted on Friday from 10 am to 2 pm.")
    # Ravi's message is real, but it was not sent to Lakshmi.
    forwarded = "Your water supply will be interrupted on Friday from 10 am to 2 pm."
    assert verify_message(db, cipher, ravi, forwarded)["sent"] == "yes"
    assert verify_message(db, cipher, lakshmi, forwarded)["sent"] == "no"


def test_a_forwarded_part_must_be_long_enough_to_count() -> None:
    ours = ["Your water supply will be interrupted on Friday from 10 am to 2 pm."]
    assert matches("  your WATER supply will be interrupted on friday ", ours)
    assert not matches("water", ours)
    assert not matches("Pay your water bill at bit.ly/x to avoid disconnection", ours)
