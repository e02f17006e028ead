"""The sender: drains the outbox within Meta's limits (shared/DESIGN.md, invariant 5).

A round: take tokens from the number's shared bucket; claim queued messages (replies before
bulk) of citizens who have nothing in flight and whose pacing allows it, marking them
`sending` in one short transaction; send each citizen's messages in order, different citizens
concurrently; record the outcome of every send in one more transaction.

A message is `sending` from the claim until its outcome is recorded. If the process dies in
between, the message is *in doubt*: Meta may or may not have it. Meta's status webhook, which
echoes our `biz_opaque_callback_data`, settles most such messages (the splitter records the
wamid); those still unsettled after MITRA_SEND_IN_DOUBT_AFTER seconds are sent again, the one
place a duplicate can arise (docs/decisions/0001-inbox-is-the-queue.md).

Functions here take an autocommit connection and open their own transactions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from mitra.crypto import FieldCipher
from mitra.outbox import ratelimit
from mitra.outbox.queue import decode_payload
from mitra.whatsapp.errors import ErrorAction, backoff_seconds
from mitra.whatsapp.graph import GraphClient, GraphError
from mitra.whatsapp.messages import OutboundMessage, request_body

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "ob:"
WINDOW = timedelta(hours=24)
MAX_ATTEMPTS = 8
PER_CITIZEN_PER_ROUND = 5


@dataclass(frozen=True)
class SenderPolicy:
    send_rate: float
    citizen_burst: int
    citizen_interval: float
    in_doubt_after: timedelta
    round_size: int = 200


@dataclass
class Claim:
    citizen_id: int
    to: str | None
    recipient: str | None
    rows: list[tuple[int, str, dict[str, Any]]]  # (outbound id, kind, payload)


@dataclass
class Outcome:
    outbound_id: int
    wamid: str | None = None
    error: GraphError | None = None
    unsent: bool = False


@dataclass
class RoundResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    abandoned: int = 0
    tokens: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


def _allowance(state: dict[str, Any], now: datetime, policy: SenderPolicy) -> float:
    if policy.citizen_interval <= 0:
        return float(policy.citizen_burst)
    elapsed = max(0.0, (now - state["allowance_at"]).total_seconds())
    return float(min(policy.citizen_burst, state["allowance"] + elapsed / policy.citizen_interval))


def claim_round(
    conn: psycopg.Connection[Any], cipher: FieldCipher, policy: SenderPolicy, tokens: int
) -> tuple[list[Claim], int]:
    """Claim up to `tokens` messages; return the claims and how many were abandoned. Commits."""
    abandoned = 0
    claims: list[Claim] = []
    with conn.transaction():
        now = conn.execute("SELECT now() AS now").fetchone()["now"]  # type: ignore[index]
        # Which citizens have something due, replies before bulk. Read without locks, so it
        # is only a list of candidates: their rows are read again once the citizen is locked.
        scanned = conn.execute(
            "SELECT citizen_id FROM outbound_messages"
            " WHERE status = 'queued' AND next_attempt_at <= now()"
            " ORDER BY priority, id LIMIT %s",
            (tokens * 3,),
        ).fetchall()
        if not scanned:
            return [], 0
        candidates = list(dict.fromkeys(r["citizen_id"] for r in scanned))
        conn.execute(
            "INSERT INTO citizen_send_state (citizen_id, allowance)"
            " SELECT unnest(%s::bigint[]), %s ON CONFLICT DO NOTHING",
            (candidates, float(policy.citizen_burst)),
        )
        # One sender at a time per citizen: this lock serialises claims for a citizen.
        states = {
            r["citizen_id"]: r
            for r in conn.execute(
                "SELECT citizen_id, allowance, allowance_at, paused_until FROM citizen_send_state"
                " WHERE citizen_id = ANY(%s) ORDER BY citizen_id FOR UPDATE SKIP LOCKED",
                (candidates,),
            ).fetchall()
        }
        locked = list(states)
        in_flight = {
            r["citizen_id"]
            for r in conn.execute(
                "SELECT DISTINCT citizen_id FROM outbound_messages"
                " WHERE status = 'sending' AND citizen_id = ANY(%s)",
                (locked,),
            ).fetchall()
        }
        by_citizen: dict[int, list[dict[str, Any]]] = {}
        for row in conn.execute(
            "SELECT id, citizen_id, kind, payload_enc FROM ("
            "  SELECT id, citizen_id, kind, payload_enc, priority, row_number() OVER"
            "    (PARTITION BY citizen_id ORDER BY priority, id) AS n"
            "  FROM outbound_messages"
            "  WHERE citizen_id = ANY(%s) AND status = 'queued' AND next_attempt_at <= now()"
            ") AS due WHERE n <= %s ORDER BY citizen_id, priority, id",
            (locked, PER_CITIZEN_PER_ROUND),
        ).fetchall():
            by_citizen.setdefault(row["citizen_id"], []).append(row)
        people = {
            r["id"]: r
            for r in conn.execute(
                "SELECT id, wa_id_enc, user_id_enc, last_inbound_at, unreachable_at FROM citizens"
                " WHERE id = ANY(%s)",
                (locked,),
            ).fetchall()
        }
        claimed_ids: list[int] = []
        abandon: list[tuple[str, int]] = []
        deferred: list[tuple[float, int]] = []
        allowance_updates: list[tuple[float, int]] = []
        budget = tokens
        for citizen_id in candidates:
            if budget <= 0:
                break
            state = states.get(citizen_id)
            rows = by_citizen.get(citizen_id)
            if state is None or citizen_id in in_flight or not rows:
                continue
            if state["paused_until"] is not None and state["paused_until"] > now:
                continue
            person = people[citizen_id]
            if person["unreachable_at"] is not None:
                abandon.extend(("the citizen is not reachable on WhatsApp", r["id"]) for r in rows)
                continue
            allowance = _allowance(state, now, policy)
            if allowance < 1:
                wait = (1 - allowance) * policy.citizen_interval
                deferred.append((wait, rows[0]["id"]))
                continue
            in_window = (
                person["last_inbound_at"] is not None and now - person["last_inbound_at"] < WINDOW
            )
            take: list[tuple[int, str, dict[str, Any]]] = []
            for row in rows[: min(PER_CITIZEN_PER_ROUND, int(allowance), budget)]:
                if row["kind"] != "template" and not in_window:
                    abandon.append(("outside the 24-hour customer-service window", row["id"]))
                    continue
                take.append(
                    (row["id"], row["kind"], decode_payload(cipher, bytes(row["payload_enc"])))
                )
            if not take:
                continue
            claims.append(
                Claim(
                    citizen_id,
                    to=cipher.decrypt(bytes(person["wa_id_enc"]), context=b"wa_id")
                    if person["wa_id_enc"]
                    else None,
                    recipient=cipher.decrypt(bytes(person["user_id_enc"]), context=b"user_id")
                    if person["user_id_enc"]
                    else None,
                    rows=take,
                )
            )
            claimed_ids.extend(r[0] for r in take)
            budget -= len(take)
            allowance_updates.append((allowance - len(take), citizen_id))

        if claimed_ids:
            # No other sender can claim these (we hold the citizens' locks), but a late status
            # webhook may have settled one since we read it: claim only what is still queued.
            still_queued = {
                r["id"]
                for r in conn.execute(
                    "UPDATE outbound_messages SET status = 'sending', claimed_at = now(),"
                    " attempts = attempts + 1"
                    " WHERE id IN (SELECT id FROM outbound_messages WHERE id = ANY(%s)"
                    "   AND status = 'queued' ORDER BY id FOR UPDATE)"
                    " RETURNING id",
                    (claimed_ids,),
                ).fetchall()
            }
            if len(still_queued) != len(claimed_ids):
                for claim in claims:
                    claim.rows = [r for r in claim.rows if r[0] in still_queued]
                claims = [c for c in claims if c.rows]
        with conn.cursor() as cur:
            if allowance_updates:
                cur.executemany(
                    "UPDATE citizen_send_state SET allowance = %s, allowance_at = now()"
                    " WHERE citizen_id = %s",
                    allowance_updates,
                )
            if deferred:
                cur.executemany(
                    "UPDATE outbound_messages"
                    " SET next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                    deferred,
                )
            if abandon:
                cur.executemany(
                    "UPDATE outbound_messages SET status = 'abandoned', error_detail = %s"
                    " WHERE id = %s",
                    abandon,
                )
        abandoned = len(abandon)
    return claims, abandoned


async def send_claims(graph: GraphClient, claims: list[Claim]) -> list[Outcome]:
    """Send each citizen's messages in order; citizens concurrently."""

    async def one_citizen(claim: Claim) -> list[Outcome]:
        outcomes: list[Outcome] = []
        failed = False
        for outbound_id, kind, payload in claim.rows:
            if failed:
                outcomes.append(Outcome(outbound_id, unsent=True))
                continue
            body = request_body(
                OutboundMessage(kind, payload),
                to=claim.to,
                recipient=None if claim.to else claim.recipient,
                callback_data=f"{CALLBACK_PREFIX}{outbound_id}",
            )
            try:
                result = await graph.send(body)
            except GraphError as exc:
                outcomes.append(Outcome(outbound_id, error=exc))
                failed = True
            else:
                outcomes.append(Outcome(outbound_id, wamid=result.wamid))
        return outcomes

    results = await asyncio.gather(*(one_citizen(c) for c in claims))
    return [o for group in results for o in group]


def record_outcomes(
    conn: psycopg.Connection[Any], claims: list[Claim], outcomes: list[Outcome], result: RoundResult
) -> None:
    """Write every send's outcome, apply back-off. Commits."""
    citizen_of = {row[0]: c.citizen_id for c in claims for row in c.rows}
    attempts = {
        r["id"]: r["attempts"]
        for r in conn.execute(
            "SELECT id, attempts FROM outbound_messages WHERE id = ANY(%s)", (list(citizen_of),)
        ).fetchall()
    }
    sent: list[tuple[str, int]] = []
    unsent: list[int] = []
    retry: list[tuple[float, int | None, int]] = []
    give_up: list[tuple[int | None, str, int]] = []
    paused_citizens: list[tuple[float, int]] = []
    unreachable: list[int] = []
    pause_number = 0.0
    for o in outcomes:
        if o.wamid is not None:
            sent.append((o.wamid, o.outbound_id))
            continue
        if o.unsent or o.error is None:
            unsent.append(o.outbound_id)
            continue
        err = o.error
        action = err.action
        n = attempts.get(o.outbound_id, 1)
        log.warning(
            "send of outbound %s failed: code %s (%s), attempt %s",
            o.outbound_id,
            err.code,
            action.name,
            n,
        )
        if action in (ErrorAction.THROTTLE_NUMBER, ErrorAction.THROTTLE_APP):
            delay = backoff_seconds(action, n)
            pause_number = max(pause_number, delay)
            retry.append((delay, err.code, o.outbound_id))
        elif action is ErrorAction.THROTTLE_CITIZEN:
            delay = backoff_seconds(action, n)
            paused_citizens.append((delay, citizen_of[o.outbound_id]))
            retry.append((delay, err.code, o.outbound_id))
        elif action is ErrorAction.TRANSIENT and n < MAX_ATTEMPTS:
            retry.append((backoff_seconds(action, n), err.code, o.outbound_id))
        else:
            if action is ErrorAction.UNDELIVERABLE:
                unreachable.append(citizen_of[o.outbound_id])
            if action in (ErrorAction.AUTH, ErrorAction.BAD_REQUEST):
                log.error("operator attention: WhatsApp refused a message (%s): %s", err.code, err)
            give_up.append((err.code, f"{action.name}: {str(err)[:400]}", o.outbound_id))

    def write() -> None:
        with conn.transaction(), conn.cursor() as cur:
            # Lock the rows in id order first, as the splitter does when it applies statuses,
            # so the two never deadlock.
            cur.execute(
                "SELECT id FROM outbound_messages WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                (sorted(citizen_of),),
            )
            _write_outcomes(cur, sent, unsent, retry, give_up, paused_citizens, unreachable)

    retry_on_conflict(write)
    if pause_number > 0:
        ratelimit.pause(conn, ratelimit.NUMBER_BUCKET, pause_number)
    result.sent += len(sent)
    result.retried += len(retry) + len(unsent)
    result.failed += len(give_up)


def retry_on_conflict(write: Callable[[], None], attempts: int = 5) -> None:
    """Run a transaction again if PostgreSQL aborted it for a deadlock or serialization
    conflict: what it records (a send's outcome) must not be lost to a lock race."""
    for attempt in range(1, attempts + 1):
        try:
            write()
            return
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
            if attempt == attempts:
                raise
            log.warning("transaction conflict; retrying (%d/%d)", attempt, attempts)


def _write_outcomes(
    cur: psycopg.Cursor[Any],
    sent: list[tuple[str, int]],
    unsent: list[int],
    retry: list[tuple[float, int | None, int]],
    give_up: list[tuple[int | None, str, int]],
    paused_citizens: list[tuple[float, int]],
    unreachable: list[int],
) -> None:
    if sent:
        # 'queued' too: an in-doubt re-queue may have raced a slow but successful send.
        cur.executemany(
            "UPDATE outbound_messages SET wamid = %s, sent_at = coalesce(sent_at, now()),"
            " status = CASE WHEN status IN ('sending', 'queued') THEN 'sent' ELSE status END,"
            " error_code = NULL WHERE id = %s",
            sent,
        )
    if unsent:
        cur.execute(
            "UPDATE outbound_messages SET status = 'queued', attempts = attempts - 1"
            " WHERE id = ANY(%s) AND status = 'sending'",
            (unsent,),
        )
    if retry:
        cur.executemany(
            "UPDATE outbound_messages SET status = 'queued', error_code = %s,"
            " next_attempt_at = now() + make_interval(secs => %s)"
            " WHERE id = %s AND status = 'sending'",
            [(code, delay, oid) for delay, code, oid in retry],
        )
    if give_up:
        cur.executemany(
            "UPDATE outbound_messages SET status = 'abandoned', error_code = %s,"
            " error_detail = %s, failed_at = now() WHERE id = %s AND status = 'sending'",
            give_up,
        )
    if paused_citizens:
        cur.executemany(
            "UPDATE citizen_send_state SET paused_until = now() + make_interval(secs => %s),"
            " backoff_exponent = backoff_exponent + 1 WHERE citizen_id = %s",
            paused_citizens,
        )
    if unreachable:
        cur.execute("UPDATE citizens SET unreachable_at = now() WHERE id = ANY(%s)", (unreachable,))


def requeue_in_doubt(conn: psycopg.Connection[Any], older_than: timedelta) -> int:
    """Send again what was claimed long ago and never settled (the sender died). Commits.

    Not while webhook deliveries that arrived after the claim wait to be split: one of them may
    be the status that says WhatsApp took the message (a restarted worker looks for messages in
    doubt before its splitter has caught up with what arrived while it was down)."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE outbound_messages SET status = 'queued', next_attempt_at = now()"
            " WHERE status = 'sending' AND wamid IS NULL"
            " AND claimed_at < now() - make_interval(secs => %s)"
            " AND claimed_at > COALESCE((SELECT max(received_at) FROM webhook_deliveries"
            "   WHERE split_at IS NULL AND received_at < now() - interval '0.5 seconds'),"
            "   '-infinity') RETURNING id",
            (older_than.total_seconds(),),
        ).fetchall()
    if rows:
        log.warning("re-sending %d in-doubt messages (a sender died mid-send)", len(rows))
    return len(rows)


async def send_round(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    graph: GraphClient,
    policy: SenderPolicy,
    run_sync: Callable[..., Any] = asyncio.to_thread,
) -> RoundResult:
    """One round of sending; returns what happened (claimed 0 means nothing to do now)."""
    result = RoundResult()
    burst = max(1.0, policy.send_rate)
    tokens = await run_sync(
        ratelimit.take,
        conn,
        ratelimit.NUMBER_BUCKET,
        policy.round_size,
        rate=policy.send_rate,
        burst=burst,
    )
    result.tokens = tokens
    if tokens <= 0:
        return result
    claims, abandoned = await run_sync(claim_round, conn, cipher, policy, tokens)
    result.abandoned = abandoned
    claimed = sum(len(c.rows) for c in claims)
    result.claimed = claimed
    if tokens > claimed:
        await run_sync(
            ratelimit.give_back, conn, ratelimit.NUMBER_BUCKET, tokens - claimed, burst=burst
        )
    if not claims:
        return result
    outcomes = await send_claims(graph, claims)
    result.outcomes = outcomes
    await run_sync(record_outcomes, conn, claims, outcomes, result)
    return result


__all__ = [
    "Claim",
    "Outcome",
    "RoundResult",
    "SenderPolicy",
    "claim_round",
    "record_outcomes",
    "requeue_in_doubt",
    "send_claims",
    "send_round",
]
