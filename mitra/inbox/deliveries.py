"""Making webhook bodies durable, many requests to one commit.

Each webhook request hands its (encrypted) raw body to `DeliveryWriter.store` and waits. A few
writer tasks take whatever has accumulated, insert it in one statement, commit, and only then
release the waiting requests, which answer 200. Under load this turns thousands of commits a
second into a few hundred, which is what lets one PostgreSQL keep up with Meta's webhook rate
(docs/decisions/0001-inbox-is-the-queue.md). A failed commit fails every request in the batch,
so Meta retries them: nothing is acknowledged that is not on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "mitra_deliveries"
# One statement (one round trip): insert the batch and wake the splitters.
INSERT = (
    "WITH stored AS (INSERT INTO webhook_deliveries (body_enc) SELECT unnest(%b::bytea[])"
    f" RETURNING 1) SELECT pg_notify('{NOTIFY_CHANNEL}', count(*)::text) FROM stored"
)


class DeliveryWriter:
    def __init__(
        self, pool: AsyncConnectionPool, *, writers: int = 3, max_batch: int = 512
    ) -> None:
        self._pool = pool
        self._queue: asyncio.Queue[tuple[bytes, asyncio.Future[None]]] = asyncio.Queue()
        self._writers = writers
        self._max_batch = max_batch
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run()) for _ in range(self._writers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def store(self, body_enc: bytes) -> None:
        """Return once `body_enc` is committed; raise if it could not be."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((body_enc, done))
        await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                async with self._pool.connection() as conn:
                    await conn.execute(INSERT, ([body for body, _ in batch],))
                    await conn.commit()
            except Exception as exc:
                log.exception("could not store %d webhook deliveries", len(batch))
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
