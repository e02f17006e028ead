"""`mitra worker`: split deliveries, process citizens' events, send the outbox.

Any number of worker processes may run against one database, on any number of machines:
every step claims its work with row locks (`SKIP LOCKED`) or an advisory lock, so workers
never do the same work twice and never wait on each other for long. PostgreSQL's
LISTEN/NOTIFY wakes the loops as soon as there is work; a one-second poll is the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from mitra import handover
from mitra.cases.delivery import DOCUMENTS_CHANNEL, deliver_images_round, deliver_round
from mitra.cases.desk import CaseDesk
from mitra.cases.sla import SlaPolicy
from mitra.cases.sla import run_round as sla_round
from mitra.config import Settings
from mitra.crypto import FieldCipher
from mitra.inbox.deliveries import NOTIFY_CHANNEL as DELIVERIES_CHANNEL
from mitra.inbox.process import EFFECTS_CHANNEL, process_pending
from mitra.inbox.split import INBOUND_CHANNEL, split_isolating_failures
from mitra.jobs.department_calls import (
    client_caller,
    client_from_settings,
    requeue_stuck_calls,
    run_round,
)
from mitra.jobs.identity_calls import provider_from_settings
from mitra.outbox.queue import OUTBOX_CHANNEL
from mitra.outbox.sender import SenderPolicy, requeue_in_doubt, send_round
from mitra.payments.fulfil import Fulfiller
from mitra.payments.reconcile import reconcile_round
from mitra.payments.store import PAYMENTS_CHANNEL
from mitra.store.db import connect
from mitra.web.app import cipher_for
from mitra.whatsapp.graph import GraphClient, default_http_clients

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
IN_DOUBT_CHECK_SECONDS = 5.0
RECONCILE_SECONDS = 30.0
# Concurrent department-call loops: a slow department holds up only the loop waiting on it.
DEPARTMENT_CALL_LOOPS = 4


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class WorkerCounters:
    deliveries: int = 0
    events: int = 0
    replies: int = 0
    sent: int = 0


class Worker:
    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        departments: Any = None,
        now: Callable[[], datetime] = utcnow,
        processors: int = 2,
        senders: int = 4,
        ekyc: Any = None,
        sla_now: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.cipher: FieldCipher = cipher_for(settings)
        self.now = now
        self.processors = processors
        # Several send loops overlap one round's HTTP with the next round's claim; they share
        # the number's rate bucket in PostgreSQL and never claim the same citizen.
        self.senders = senders
        self._http = http
        self._departments = departments  # a DepartmentClient; built from settings if None
        self.desk = CaseDesk.from_settings(settings, self.cipher)
        self.ekyc = ekyc if ekyc is not None else provider_from_settings(settings)
        self.sla_now = sla_now or now
        self.sla_policy = SlaPolicy(
            remind_before=timedelta(days=settings.sla_remind_days),
            reopen_within=timedelta(days=settings.grievance_reopen_days),
        )
        self.counters = WorkerCounters()
        self._wake: dict[str, list[asyncio.Event]] = {
            EFFECTS_CHANNEL: [],
            DELIVERIES_CHANNEL: [],
            INBOUND_CHANNEL: [],
            OUTBOX_CHANNEL: [],
            DOCUMENTS_CHANNEL: [],
            PAYMENTS_CHANNEL: [],
        }
        self.policy = SenderPolicy(
            send_rate=settings.send_rate,
            citizen_burst=settings.citizen_burst,
            citizen_interval=settings.citizen_interval,
            in_doubt_after=timedelta(seconds=settings.send_in_doubt_after),
        )

    def _event(self, channel: str) -> asyncio.Event:
        event = asyncio.Event()
        self._wake[channel].append(event)
        return event

    async def _listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                aconn = await psycopg.AsyncConnection.connect(
                    self.settings.libpq_url, autocommit=True
                )
                async with aconn:
                    for channel in self._wake:
                        await aconn.execute(f"LISTEN {channel}")
                    async for note in aconn.notifies():
                        for event in self._wake.get(note.channel, []):
                            event.set()
                        if stop.is_set():
                            break
            except (psycopg.OperationalError, OSError) as exc:
                log.warning("LISTEN connection lost (%s); polling until it is back", exc)
                await asyncio.sleep(1)

    async def _loop(
        self,
        name: str,
        stop: asyncio.Event,
        wake: asyncio.Event | None,
        step: Callable[[psycopg.Connection[Any]], Awaitable[bool]],
    ) -> None:
        """Run `step` while it finds work; otherwise sleep until woken or the poll interval."""
        conn: psycopg.Connection[Any] | None = None
        while not stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = await asyncio.to_thread(connect, self.settings, autocommit=True)
                if wake is not None:
                    wake.clear()
                busy = await step(conn)  # type: ignore[arg-type]
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
                # The step's transaction was rolled back whole; doing it again is safe.
                log.warning("%s: transaction conflict (%s); retrying", name, type(exc).__name__)
                busy = True
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning("%s: database connection problem (%s); reconnecting", name, exc)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                conn = None
                busy = False
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("%s: step failed; retrying", name)
                if conn is not None and not conn.closed:
                    with contextlib.suppress(Exception):
                        conn.rollback()
                busy = False
                await asyncio.sleep(0.5)
            if busy:
                continue
            waiters = [asyncio.ensure_future(stop.wait())]
            if wake is not None:
                waiters.append(asyncio.ensure_future(wake.wait()))
            try:
                await asyncio.wait(
                    waiters, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter in waiters:
                    waiter.cancel()
        if conn is not None:
            conn.close()

    async def run(self, stop: asyncio.Event) -> None:
        clients = [self._http] if self._http is not None else default_http_clients()
        graph = GraphClient(
            self.settings.graph_api_url,
            self.settings.whatsapp_access_token,
            self.settings.whatsapp_phone_number_id,
            clients,
        )
        stale_after = timedelta(seconds=self.settings.stale_message_age)
        idle_timeout = timedelta(seconds=self.settings.session_idle_timeout)

        async def split(conn: psycopg.Connection[Any]) -> bool:
            r = await asyncio.to_thread(split_isolating_failures, conn, self.cipher)
            self.counters.deliveries += r.deliveries
            return r.deliveries > 0

        async def process(conn: psycopg.Connection[Any]) -> bool:
            r = await asyncio.to_thread(
                process_pending,
                conn,
                self.cipher,
                now=self.now,
                stale_after=stale_after,
                idle_timeout=idle_timeout,
                ekyc=self.ekyc,
            )
            self.counters.events += r.events
            self.counters.replies += r.replies
            return r.citizens > 0

        async def send(conn: psycopg.Connection[Any]) -> bool:
            r = await send_round(conn, self.cipher, graph, self.policy)
            self.counters.sent += r.sent
            if r.tokens == 0:
                await asyncio.sleep(min(0.05, 1.0 / self.policy.send_rate))
                return False
            return r.claimed > 0

        departments = self._departments or client_from_settings(self.settings)
        caller = client_caller(departments)
        call_timeout = timedelta(seconds=self.settings.department_call_timeout)

        async def call_departments(conn: psycopg.Connection[Any]) -> bool:
            return await run_round(conn, self.cipher, caller, self.desk, graph, self.now) > 0

        async def documents(conn: psycopg.Connection[Any]) -> bool:
            documents = await deliver_round(conn, self.cipher, graph)
            images = await deliver_images_round(conn, self.cipher, graph)
            return documents + images > 0

        fulfiller = (
            Fulfiller(self.desk, self.desk.gateway, departments)
            if self.desk.gateway is not None
            else None
        )
        reconcile_after = timedelta(seconds=self.settings.payment_reconcile_after)

        async def payments(conn: psycopg.Connection[Any]) -> bool:
            if fulfiller is None:
                await asyncio.sleep(POLL_SECONDS * 30)
                return False
            return await fulfiller.round(conn) > 0

        async def reconcile(conn: psycopg.Connection[Any]) -> bool:
            if self.desk.gateway is not None:
                await asyncio.to_thread(reconcile_round, conn, self.desk.gateway, reconcile_after)
            await asyncio.sleep(RECONCILE_SECONDS)
            return False

        handover_idle = timedelta(seconds=self.settings.handover_timeout)

        async def handovers(conn: psycopg.Connection[Any]) -> bool:
            await asyncio.to_thread(handover.time_out, conn, self.cipher, handover_idle)
            await asyncio.sleep(IN_DOUBT_CHECK_SECONDS * 6)
            return False

        async def sla(conn: psycopg.Connection[Any]) -> bool:
            await asyncio.to_thread(
                sla_round, conn, self.desk.notifier, self.sla_now(), self.sla_policy
            )
            await asyncio.sleep(self.settings.sla_interval)
            return False

        async def stuck_calls(conn: psycopg.Connection[Any]) -> bool:
            await asyncio.to_thread(requeue_stuck_calls, conn, call_timeout)
            await asyncio.sleep(IN_DOUBT_CHECK_SECONDS)
            return False

        async def in_doubt(conn: psycopg.Connection[Any]) -> bool:
            await asyncio.to_thread(requeue_in_doubt, conn, self.policy.in_doubt_after)
            await asyncio.sleep(IN_DOUBT_CHECK_SECONDS)
            return False

        tasks = [
            asyncio.create_task(self._listen(stop)),
            asyncio.create_task(self._loop("split", stop, self._event(DELIVERIES_CHANNEL), split)),
            *(
                asyncio.create_task(
                    self._loop(f"process-{i}", stop, self._event(INBOUND_CHANNEL), process)
                )
                for i in range(self.processors)
            ),
            *(
                asyncio.create_task(
                    self._loop(f"send-{i}", stop, self._event(OUTBOX_CHANNEL), send)
                )
                for i in range(self.senders)
            ),
            asyncio.create_task(self._loop("in-doubt", stop, None, in_doubt)),
            *(
                asyncio.create_task(
                    self._loop(
                        f"departments-{i}", stop, self._event(EFFECTS_CHANNEL), call_departments
                    )
                )
                for i in range(DEPARTMENT_CALL_LOOPS)
            ),
            asyncio.create_task(self._loop("stuck-calls", stop, None, stuck_calls)),
            asyncio.create_task(
                self._loop("documents", stop, self._event(DOCUMENTS_CHANNEL), documents)
            ),
            asyncio.create_task(self._loop("sla", stop, None, sla)),
            asyncio.create_task(
                self._loop("payments", stop, self._event(PAYMENTS_CHANNEL), payments)
            ),
            asyncio.create_task(self._loop("reconcile", stop, None, reconcile)),
            asyncio.create_task(self._loop("handovers", stop, None, handovers)),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self._http is None:
                for client in clients:
                    await client.aclose()
            if self._departments is None:
                await departments.aclose()
