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


def test_my_requests_lists_each_number_once_with_its_latest_answer_and_only_mine(
    db: Any, cipher: Any
) -> None:
    import orjson

    from mitra.jobs.platform_calls import answer

    lakshmi = citizen(db, cipher, "919876543210", "Lakshmi")
    ravi = citizen(db, cipher, "919849012345", "Ravi")

    def looked_up(who: int, effect: str, reference: str, status: str) -> None:
        db.execute(
            "INSERT INTO effects (id, citizen_id, department, operation, args_enc, status)"
            " VALUES (%s, %s, 'ENG', 'application', %s, 'done')",
            (
                effect,
                who,
                cipher.encrypt(orjson.dumps({"reference": reference}), context=b"effect_args"),
            ),
        )
        payload = {
            "event": "effect_result",
            "effect_id": effect,
            "ok": True,
            "data": {"status": status},
        }
        db.execute(
            "INSERT INTO inbound_events (citizen_id, wamid, kind, sent_at, payload_enc)"
            " VALUES (%s, %s, 'effect_result', now(), %s)",
            (
                who,
                f"effect:{effect}",
                cipher.encrypt(orjson.dumps(payload), context=b"inbound_event"),
            ),
        )
        db.commit()

    looked_up(lakshmi, "e1", "ENG-2026-000123-K", "submitted")
    looked_up(lakshmi, "e2", "ENG-2026-000123-K", "in_review")
    looked_up(ravi, "e3", "REV-2026-000123-K", "approved")
    requests = answer(db, cipher, lakshmi, "my_requests", {})["requests"]
    assert [(r["number"], r["status"]) for r in requests] == [("ENG-2026-000123-K", "in_review")]
