"""Processing each citizen's events one at a time, in order, exactly once in effect.

A processor locks a batch of citizens who have pending events (`FOR UPDATE SKIP LOCKED`, so
other processors take other citizens), runs each event through the conversation engine in
arrival order, and in the same transaction saves the new sessions, queues the replies in the
outbox and marks the events processed. A crash anywhere rolls all of it back and another
processor does it again; nothing is half-done, nothing is answered twice
(docs/decisions/0001-inbox-is-the-queue.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg

from mitra.catalogue import switches
from mitra.catalogue.loader import Catalogue
from mitra.conversation.engine import Effect, EffectResult, Session, Transition, Turn, handle
from mitra.conversation.locale import t
from mitra.crypto import FieldCipher
from mitra.jobs.identity_calls import run_transient
from mitra.outbox.queue import enqueue
from mitra.whatsapp import messages
from mitra.whatsapp.events import InboundMessage, event_from_dict
from mitra.whatsapp.messages import OutboundMessage

log = logging.getLogger(__name__)

Engine = Callable[[Session, InboundMessage | EffectResult, datetime], Turn]
EFFECT_KIND = "effect_result"
EFFECTS_CHANNEL = "mitra_effects"


@dataclass
class ProcessResult:
    citizens: int = 0
    events: int = 0
    stale: int = 0
    replies: int = 0


REDACTED = orjson.dumps({"redacted": True})
MAX_TRANSIENT_CALLS = 3


def _with_transient_calls(turn: Turn, run_engine: Engine, clock: datetime, ekyc: Any) -> Turn:
    """Make the turn's transient calls now (never stored: mitra.jobs.identity_calls) and fold
    the engine's answers to them into one turn."""
    for _ in range(MAX_TRANSIENT_CALLS):
        if not turn.transient:
            return turn
        result = run_transient(ekyc, turn.transient[0])
        following = run_engine(turn.session, result, clock)
        turn = Turn(
            following.session,
            [*turn.replies, *following.replies],
            [*turn.effects, *following.effects],
            [*turn.transitions, *following.transitions],
            following.transient,
            turn.redact_input or following.redact_input,
        )
    return turn


def load_session(cipher: FieldCipher, blob: bytes | None) -> Session:
    if blob is None:
        return Session()
    return Session.from_dict(orjson.loads(cipher.decrypt(bytes(blob), context=b"session")))


def dump_session(cipher: FieldCipher, session: Session) -> bytes:
    return cipher.encrypt(orjson.dumps(session.to_dict()).decode(), context=b"session")


def process_pending(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    *,
    now: Callable[[], datetime],
    stale_after: timedelta,
    batch: int = 100,
    engine: Engine | None = None,
    idle_timeout: timedelta | None = None,
    ekyc: Any = None,
) -> ProcessResult:
    """Process the pending events of up to `batch` citizens in one transaction. Commits."""
    result = ProcessResult()
    if engine is not None:
        run_engine = engine
    else:
        idle = idle_timeout or timedelta(minutes=30)

        def run_engine(
            session: Session, event: InboundMessage | EffectResult, now: datetime
        ) -> Turn:
            return handle(session, event, now, catalogue=switched[0], idle_timeout=idle)

    switched: list[Catalogue | None] = [None]  # the catalogue as an administrator switched it

    with conn.transaction():
        citizens = conn.execute(
            "SELECT id, session_enc FROM citizens WHERE has_pending"
            " ORDER BY pending_since LIMIT %s FOR UPDATE SKIP LOCKED",
            (batch,),
        ).fetchall()
        if not citizens:
            return result
        switched[0] = switches.current(conn)
        ids = [c["id"] for c in citizens]
        events = conn.execute(
            "SELECT id, citizen_id, kind, sent_at, payload_enc FROM inbound_events"
            " WHERE citizen_id = ANY(%s) AND processed_at IS NULL ORDER BY citizen_id, id",
            (ids,),
        ).fetchall()
        by_citizen: dict[int, list[dict[str, Any]]] = {}
        for e in events:
            by_citizen.setdefault(e["citizen_id"], []).append(e)

        clock = now()
        outcomes: list[tuple[int, str]] = []
        replies: list[tuple[int, OutboundMessage, int | None]] = []
        effects: list[tuple[int, Effect]] = []
        transitions: list[Transition] = []
        updates: list[tuple[bytes, str | None, bool, int]] = []
        redacted: list[int] = []
        for citizen in citizens:
            session = load_session(cipher, citizen["session_enc"])
            for e in by_citizen.get(citizen["id"], []):
                own = e["kind"] == EFFECT_KIND
                if not own and clock - e["sent_at"] > stale_after:
                    # Meta replaying after an outage: recorded, not answered one by one.
                    outcomes.append((e["id"], "stale"))
                    result.stale += 1
                    continue
                data = orjson.loads(
                    cipher.decrypt(bytes(e["payload_enc"]), context=b"inbound_event")
                )
                event: InboundMessage | EffectResult
                if own:
                    event = EffectResult.from_dict(data)
                else:
                    parsed = event_from_dict(data)
                    assert isinstance(parsed, InboundMessage)
                    event = parsed
                try:
                    turn = run_engine(session, event, clock)
                    turn = _with_transient_calls(turn, run_engine, clock, ekyc)
                except Exception:
                    # A bug must not block this citizen's queue nor reach them as a trace.
                    log.exception("engine failed on event %s", e["id"])
                    outcomes.append((e["id"], "error"))
                    apology = messages.text(t(session.language or "te", "something_wrong"))
                    replies.append((citizen["id"], apology, e["id"]))
                    continue
                session = turn.session
                if turn.redact_input:
                    redacted.append(e["id"])
                replies.extend((citizen["id"], r, e["id"]) for r in turn.replies)
                effects.extend((citizen["id"], effect) for effect in turn.effects)
                transitions.extend(turn.transitions)
                outcomes.append((e["id"], "answered" if turn.replies else "handled"))
                result.events += 1
            updates.append(
                (dump_session(cipher, session), session.language, session.consented, citizen["id"])
            )

        enqueue(conn, cipher, replies)
        with conn.cursor() as cur:
            if effects:
                cur.executemany(
                    "INSERT INTO effects (id, citizen_id, department, operation, args_enc,"
                    " not_before) VALUES (%s, %s, %s, %s, %s,"
                    " now() + make_interval(secs => %s))",
                    [
                        (
                            effect.id,
                            citizen_id,
                            effect.department,
                            effect.operation,
                            cipher.encrypt(orjson.dumps(effect.args), context=b"effect_args"),
                            effect.not_before_seconds,
                        )
                        for citizen_id, effect in effects
                    ],
                )
                cur.execute(f"SELECT pg_notify('{EFFECTS_CHANNEL}', '')")
            if transitions:
                cur.executemany(
                    "INSERT INTO conversation_steps (service, version, step, outcome, seconds)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    [(x.service, x.version, x.step, x.outcome, x.seconds) for x in transitions],
                )
            cur.executemany(
                "UPDATE inbound_events SET processed_at = now(), outcome = %s WHERE id = %s",
                [(outcome, event_id) for event_id, outcome in outcomes],
            )
            if redacted:
                # An Aadhaar number or OTP: the stored message is replaced, not kept.
                cur.executemany(
                    "UPDATE inbound_events SET payload_enc = %s WHERE id = %s",
                    [
                        (cipher.encrypt(REDACTED, context=b"inbound_event"), event_id)
                        for event_id in redacted
                    ],
                )
            cur.executemany(
                "UPDATE citizens SET session_enc = %s, language = %s,"
                " consent_at = CASE WHEN %s THEN coalesce(consent_at, now()) ELSE NULL END,"
                " has_pending = false, pending_since = NULL WHERE id = %s",
                [(s, lang, consented, cid) for s, lang, consented, cid in updates],
            )
        result.citizens = len(citizens)
        result.replies = len(replies)
    return result
