"""Carrying out the department calls the engine asked for (its `Effect`s).

A call is claimed (`running`), made over HTTP through the department client, and its answer
written back as an inbound event `effect:<id>` for the same citizen in one transaction with
marking the call done — so the conversation continues in the citizen's order, exactly once.
Calls are reads; one whose worker died while running is simply made again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg

from mitra import media
from mitra.cases.desk import CaseDesk
from mitra.catalogue.schema import MEDIA_OPERATIONS
from mitra.config import Settings
from mitra.conversation.engine import EffectResult
from mitra.crypto import FieldCipher
from mitra.departments.gazetteer import Gazetteer
from mitra.inbox.process import EFFECT_KIND
from mitra.inbox.split import INBOUND_CHANNEL
from mitra.jobs.platform_calls import NotMitras, PlatformLookupError, answer, is_platform
from mitra.whatsapp.graph import GraphClient

log = logging.getLogger(__name__)

# (department, operation, args) → the department's JSON answer; raises an error that has a
# `kind` attribute (not_found, invalid, unavailable, unauthorized) when there is no answer.
Caller = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Call:
    id: str
    citizen_id: int
    department: str
    operation: str
    args: dict[str, Any]


def claim_calls(conn: psycopg.Connection[Any], cipher: FieldCipher, batch: int = 16) -> list[Call]:
    with conn.transaction():
        rows = conn.execute(
            "UPDATE effects SET status = 'running', claimed_at = now(), attempts = attempts + 1"
            " WHERE id IN (SELECT id FROM effects WHERE status = 'queued' AND not_before <= now()"
            "   ORDER BY not_before LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING id, citizen_id, department, operation, args_enc",
            (batch,),
        ).fetchall()
    return [
        Call(
            r["id"],
            r["citizen_id"],
            r["department"],
            r["operation"],
            orjson.loads(cipher.decrypt(bytes(r["args_enc"]), context=b"effect_args")),
        )
        for r in rows
    ]


async def make_calls(calls: list[Call], caller: Caller) -> list[tuple[Call, EffectResult]]:
    async def one(call: Call) -> tuple[Call, EffectResult]:
        try:
            args = {**call.args, "_key": call.id} if call.operation == "hold" else call.args
            data = await caller(call.department, call.operation, args)
        except Exception as exc:
            kind = getattr(exc, "kind", None) or "unavailable"
            if kind == "unavailable":
                log.warning(
                    "%s %s: department unavailable: %s", call.department, call.operation, exc
                )
            return call, EffectResult(call.id, ok=False, error=str(kind))
        return call, EffectResult(call.id, ok=True, data=data)

    return list(await asyncio.gather(*(one(c) for c in calls)))


def record_results(
    conn: psycopg.Connection[Any], cipher: FieldCipher, results: list[tuple[Call, EffectResult]]
) -> None:
    if not results:
        return
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO inbound_events (citizen_id, wamid, kind, sent_at, payload_enc)"
            " VALUES (%s, %s, %s, now(), %s) ON CONFLICT (wamid) DO NOTHING",
            [
                (
                    call.citizen_id,
                    f"effect:{call.id}",
                    EFFECT_KIND,
                    cipher.encrypt(orjson.dumps(result.to_dict()), context=b"inbound_event"),
                )
                for call, result in results
            ],
        )
        cur.execute(
            "UPDATE effects SET status = 'done', done_at = now(),"
            " error = v.error FROM unnest(%s::text[], %s::text[]) AS v(id, error)"
            " WHERE effects.id = v.id",
            ([c.id for c, _ in results], [r.error for _, r in results]),
        )
        cur.execute(
            "UPDATE citizens SET has_pending = true, pending_since = coalesce(pending_since, now())"
            " WHERE id = ANY(%s)",
            (sorted({c.citizen_id for c, _ in results}),),
        )
        cur.execute(f"SELECT pg_notify('{INBOUND_CHANNEL}', '')")


def requeue_stuck_calls(conn: psycopg.Connection[Any], older_than: timedelta) -> int:
    with conn.transaction():
        rows = conn.execute(
            "UPDATE effects SET status = 'queued' WHERE status = 'running'"
            " AND claimed_at < now() - make_interval(secs => %s) RETURNING id",
            (older_than.total_seconds(),),
        ).fetchall()
    return len(rows)


async def run_round(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    caller: Caller,
    desk: CaseDesk | None = None,
    graph: GraphClient | None = None,
    now: Callable[[], datetime] | None = None,
) -> int:
    """Claim a batch of calls and make them concurrently, recording each answer as soon as it
    arrives: one slow department must not hold up the answers of the others."""
    calls = await asyncio.to_thread(claim_calls, conn, cipher)
    if not calls:
        return 0
    lock = asyncio.Lock()  # one connection: record one answer at a time

    async def one(call: Call) -> None:
        if call.operation in MEDIA_OPERATIONS:
            kept = await fetch_media(conn, cipher, graph, call, lock)
            async with lock:
                await asyncio.to_thread(record_results, conn, cipher, [kept])
            return
        mitras = call.operation in ("application", "grievance") and desk is not None
        if is_platform(call.operation) or mitras:
            async with lock:
                moment = now() if now is not None else None
                result = await asyncio.to_thread(_platform, conn, cipher, call, desk, moment)
                if result is not None:
                    await asyncio.to_thread(record_results, conn, cipher, [result])
                    return
            # An application Mitra holds no case for: the department's.
        [result] = await make_calls([call], caller)
        async with lock:
            await asyncio.to_thread(record_results, conn, cipher, [result])

    await asyncio.gather(*(one(c) for c in calls))
    return len(calls)


async def fetch_media(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    graph: GraphClient | None,
    call: Call,
    lock: asyncio.Lock,
) -> tuple[Call, EffectResult]:
    """Fetch what the citizen sent from the Graph API while its URL is fresh, check it and keep
    it (encrypted); the answer is its row id, or why it could not be kept."""
    if graph is None:
        return call, EffectResult(call.id, ok=False, error="unavailable")
    try:
        fetched = await media.fetch(
            graph, str(call.args.get("media_id")), expected_sha256=call.args.get("sha256") or None
        )
    except media.MediaError as exc:
        log.info("media %s refused: %s", call.id, exc.kind)
        return call, EffectResult(call.id, ok=False, error=exc.kind)
    if call.args.get("kind") and fetched.kind != call.args["kind"]:
        return call, EffectResult(call.id, ok=False, error="wrong_type")

    def keep() -> dict[str, Any]:
        with conn.transaction():
            return media.store(conn, cipher, call.citizen_id, fetched)

    async with lock:
        kept = await asyncio.to_thread(keep)
    return call, EffectResult(call.id, ok=True, data=kept)


def _platform(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    call: Call,
    desk: CaseDesk | None,
    now: datetime | None = None,
) -> tuple[Call, EffectResult] | None:
    """Answer from Mitra's own records; None for an application reference that is not a
    Mitra case (its department answers)."""
    try:
        with conn.transaction():
            data = answer(
                conn,
                cipher,
                call.citizen_id,
                call.operation,
                call.args,
                effect_id=call.id,
                desk=desk,
                department=call.department,
                now=now,
            )
    except NotMitras:
        return None
    except PlatformLookupError as exc:
        return call, EffectResult(call.id, ok=False, error=exc.kind)
    return call, EffectResult(call.id, ok=True, data=data)


def client_caller(client: Any) -> Caller:
    """A Caller over `mitra.departments.client.DepartmentClient`: the catalogue's operation
    names and arguments mapped onto the adapter contract. The client routes each call to the
    department that answers it (by identifier or topic), whatever service asked."""

    gazetteer = Gazetteer(client)

    async def call(department: str, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        a = {k: v for k, v in args.items() if v not in (None, "")}
        result: dict[str, Any]
        if operation == "places_named":
            result = await gazetteer.search(str(a.get("text") or ""))
        elif operation == "account":
            result = await client.account(a["kind"], a["number"])
        elif operation == "application":
            result = await client.application(a["reference"])
        elif operation == "grievance":
            result = await client.grievance(a["reference"])
        elif operation == "document":
            kind, identifier = a.pop("kind"), a.pop("identifier")
            result = await client.document(kind, identifier, **a)
        elif operation == "nearest":
            result = await client.nearest(
                a["type"], float(a["lat"]), float(a["lon"]), int(a.get("limit", 3))
            )
        elif operation == "place":
            result = await client.place(a["type"], a["id"])
        elif operation == "info":
            topic = a.pop("topic")
            if "from" in a:
                a["from_"] = a.pop("from")
            result = await client.info(topic, **a)
        elif operation == "locate":
            result = await client.locate(float(a["lat"]), float(a["lon"]))
        elif operation == "inventory":
            result = await client.inventory(department, a["kind"], a["id"], a["date"])
        elif operation == "inventory_list":
            kind, day = a.pop("kind"), a.pop("date")
            if "from" in a:
                a["from_"] = a.pop("from")
            result = await client.inventory_list(kind, day, **a)
        elif operation == "hold":
            # The effect id is the idempotency key: a retried call never holds twice.
            item = {"kind": a["kind"], "id": a["id"], "date": a["date"]}
            result = await client.hold(
                department, {"item": item, "quantity": int(a.get("quantity") or 1)}, a["_key"]
            )
        else:
            raise ValueError(f"unknown operation {operation}")
        return result

    return call


def client_from_settings(settings: Settings) -> Any:
    """The department client for this deployment: the sandbox under MITRA_PUBLIC_URL/sandbox,
    or the departments named by MITRA_DEPARTMENT_<CODE>_URL and _TOKEN."""
    import os

    from mitra.departments.client import DepartmentClient, endpoints_from_environ

    if settings.departments == "sandbox":
        from mitra.departments.sandbox import sandbox_endpoints

        return DepartmentClient(sandbox_endpoints(settings.public_url + "/sandbox"))
    return DepartmentClient(endpoints_from_environ(os.environ))
