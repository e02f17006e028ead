"""The sender's rules: error classes steer retries, limits are shared, order per citizen."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from mitra.outbox import ratelimit
from mitra.outbox.queue import enqueue
from mitra.outbox.sender import (
    Claim,
    Outcome,
    RoundResult,
    SenderPolicy,
    claim_round,
    record_outcomes,
)
from mitra.whatsapp import messages
from mitra.whatsapp.graph import GraphError

POLICY = SenderPolicy(
    send_rate=80, citizen_burst=3, citizen_interval=6.0, in_doubt_after=timedelta(seconds=60)
)


def make_citizen(db: Any, cipher: Any, wa_id: str, *, last_inbound: str = "now()") -> int:
    row = db.execute(
        "INSERT INTO citizens (wa_id_hash, wa_id_enc, last_inbound_at)"
        f" VALUES (%s, %s, {last_inbound}) RETURNING id",
        (cipher.lookup_hash(wa_id, kind="wa_id"), cipher.encrypt(wa_id, context=b"wa_id")),
    ).fetchone()
    db.commit()
    return int(row["id"])


def queue_texts(db: Any, cipher: Any, citizen_id: int, *texts: str) -> None:
    enqueue(db, cipher, [(citizen_id, messages.text(t), None) for t in texts])
    db.commit()


def statuses(db: Any) -> list[tuple[str, int | None]]:
    rows = db.execute("SELECT status, error_code FROM outbound_messages ORDER BY id").fetchall()
    db.commit()
    return [(r["status"], r["error_code"]) for r in rows]


def error(code: int) -> GraphError:
    return GraphError("test", code=code, http_status=400)


def autocommit(settings: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.libpq_url, row_factory=dict_row, autocommit=True)


def test_a_citizens_messages_are_claimed_in_order_and_one_batch_at_a_time(
    settings: Any, db: Any, cipher: Any
) -> None:
    lakshmi = make_citizen(db, cipher, "919876543210")
    queue_texts(db, cipher, lakshmi, "one", "two")
    with autocommit(settings) as conn:
        claims, _ = claim_round(conn, cipher, POLICY, 10)
        assert [[p["text"]["body"] for _, _, p in c.rows] for c in claims] == [["one", "two"]]
        assert claims[0].to == "919876543210"
        # While those are in flight, a newer message for the same citizen is not claimed.
        queue_texts(db, cipher, lakshmi, "three")
        again, _ = claim_round(conn, cipher, POLICY, 10)
        assert again == []


def test_pacing_lets_a_burst_through_then_defers(settings: Any, db: Any, cipher: Any) -> None:
    ravi = make_citizen(db, cipher, "919849012345")
    queue_texts(db, cipher, ravi, "1", "2", "3", "4", "5")
    with autocommit(settings) as conn:
        claims, _ = claim_round(conn, cipher, POLICY, 10)
        assert len(claims[0].rows) == POLICY.citizen_burst
        record_outcomes(
            conn,
            claims,
            [Outcome(oid, wamid=f"wamid.{oid}") for oid, _, _ in claims[0].rows],
            RoundResult(),
        )
        later, _ = claim_round(conn, cipher, POLICY, 10)
        assert later == []
    row = db.execute(
        "SELECT next_attempt_at - now() AS wait FROM outbound_messages"
        " WHERE status = 'queued' ORDER BY id LIMIT 1"
    ).fetchone()
    assert timedelta(seconds=4) < row["wait"] <= timedelta(seconds=6)


def test_outside_the_24_hour_window_free_form_is_not_sent(
    settings: Any, db: Any, cipher: Any
) -> None:
    old = make_citizen(db, cipher, "919000000001", last_inbound="now() - interval '25 hours'")
    queue_texts(db, cipher, old, "hello again")
    with autocommit(settings) as conn:
        claims, abandoned = claim_round(conn, cipher, POLICY, 10)
    assert claims == [] and abandoned == 1
    assert statuses(db) == [("abandoned", None)]


@pytest.mark.parametrize(
    ("code", "status", "citizen_paused", "unreachable"),
    [
        (131056, "queued", True, False),  # pair rate limit: back off this citizen only
        (130429, "queued", False, False),  # number throughput: back off the shared bucket
        (131000, "queued", False, False),  # transient: retry with backoff
        (131026, "abandoned", False, True),  # undeliverable: never retry, mark unreachable
        (131047, "abandoned", False, False),  # outside the window: no retry of free-form
        (131009, "abandoned", False, False),  # bad parameters: a bug, alert, no retry
        (190, "abandoned", False, False),  # auth: alert the operator, no retry
    ],
)
def test_each_error_class_is_handled_as_whatsapp_md_says(
    settings: Any,
    db: Any,
    cipher: Any,
    code: int,
    status: str,
    citizen_paused: bool,
    unreachable: bool,
) -> None:
    lakshmi = make_citizen(db, cipher, "919876543210")
    queue_texts(db, cipher, lakshmi, "first", "second")
    with autocommit(settings) as conn:
        claims, _ = claim_round(conn, cipher, POLICY, 10)
        first, second = (row[0] for row in claims[0].rows)
        record_outcomes(
            conn,
            claims,
            [Outcome(first, error=error(code)), Outcome(second, unsent=True)],
            RoundResult(),
        )
    assert statuses(db) == [(status, code), ("queued", None)]
    state = db.execute("SELECT paused_until > now() AS paused FROM citizen_send_state").fetchone()
    assert bool(state["paused"]) is citizen_paused
    row = db.execute("SELECT unreachable_at IS NOT NULL AS u FROM citizens").fetchone()
    assert row["u"] is unreachable
    if code == 130429:
        bucket = db.execute("SELECT paused_until > now() AS p FROM rate_buckets").fetchone()
        assert bucket["p"]
    db.commit()


def test_the_number_bucket_is_shared_across_connections(settings: Any, db: Any) -> None:
    """Eight concurrent takers never get more than the burst plus what the rate refills."""
    rate, burst = 50.0, 50.0
    granted: list[int] = []
    lock = threading.Lock()
    started = time.monotonic()

    def taker() -> None:
        with autocommit(settings) as conn:
            for _ in range(30):
                got = ratelimit.take(conn, "test", 7, rate=rate, burst=burst)
                with lock:
                    granted.append(got)

    threads = [threading.Thread(target=taker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert sum(granted) <= burst + rate * elapsed + 1
    assert sum(granted) >= burst  # and it does grant what it has


def test_in_doubt_sends_are_settled_by_a_status_or_sent_again(
    settings: Any, db: Any, cipher: Any
) -> None:
    from mitra.outbox.sender import requeue_in_doubt

    lakshmi = make_citizen(db, cipher, "919876543210")
    queue_texts(db, cipher, lakshmi, "hello")
    with autocommit(settings) as conn:
        claim_round(conn, cipher, POLICY, 10)  # then the sender "dies": no outcome recorded
        assert requeue_in_doubt(conn, timedelta(seconds=60)) == 0  # too recent to judge
        conn.execute("UPDATE outbound_messages SET claimed_at = now() - interval '2 minutes'")
        # A delivery that came in after the claim is still waiting to be split: it may hold
        # the status saying WhatsApp took the message. Not yet.
        conn.execute(
            "INSERT INTO webhook_deliveries (received_at, body_enc)"
            " VALUES (now() - interval '1 minute', %s)",
            (b"x",),
        )
        assert requeue_in_doubt(conn, timedelta(seconds=60)) == 0
        conn.execute("UPDATE webhook_deliveries SET split_at = now()")
        assert requeue_in_doubt(conn, timedelta(seconds=60)) == 1
    assert statuses(db) == [("queued", None)]


def test_claims_are_exclusive_between_concurrent_senders(
    settings: Any, db: Any, cipher: Any
) -> None:
    ids = [make_citizen(db, cipher, f"91900000{i:04d}") for i in range(60)]
    for cid in ids:
        queue_texts(db, cipher, cid, "a", "b")
    claimed: list[list[Claim]] = []

    def sender() -> None:
        with autocommit(settings) as conn:
            for _ in range(5):
                claims, _ = claim_round(conn, cipher, POLICY, 40)
                claimed.append(claims)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_ids = [row[0] for claims in claimed for c in claims for row in c.rows]
    assert len(all_ids) == len(set(all_ids)) == 120
    citizens = [c.citizen_id for claims in claimed for c in claims]
    assert len(citizens) == len(set(citizens)) == 60


def test_replies_go_ahead_of_bulk(settings: Any, db: Any, cipher: Any) -> None:
    from mitra.outbox.queue import PRIORITY_BULK

    ids = [make_citizen(db, cipher, f"91911000{i:04d}") for i in range(5)]
    enqueue(
        db,
        cipher,
        [(cid, messages.text("flood warning"), None) for cid in ids],
        priority=PRIORITY_BULK,
    )
    db.commit()
    waiting = make_citizen(db, cipher, "919876543210")
    queue_texts(db, cipher, waiting, "your reply")
    with autocommit(settings) as conn:
        claims, _ = claim_round(conn, cipher, POLICY, 1)
    assert [c.citizen_id for c in claims] == [waiting]
