"""Real processes, real HTTP on 127.0.0.1: `mitra serve`, `mitra worker`s and the fake Graph
API (`mitra fake-graph`) against one PostgreSQL.

- Crashes: workers and the web process are killed with SIGKILL under load and restarted;
  every acknowledged message is still answered exactly once (no loss, no duplicate reply).
- Concurrency: two workers share the load; each citizen's replies reach WhatsApp in the order
  of the citizen's messages, each exactly once.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

try:  # the repository root is importable (`python -m pytest`, or a configured pythonpath)
    from tests.processes import TRUNCATE, Cluster, Load, Proc, Step, button_tap, eventually
    from tests.processes import text_message as text
except ModuleNotFoundError:  # plain `pytest`: only tests/ is on sys.path
    from processes import (  # type: ignore[no-redef]
        TRUNCATE,
        Cluster,
        Load,
        Proc,
        Step,
        button_tap,
        eventually,
    )
    from processes import text_message as text  # type: ignore[no-redef]

Pg = psycopg.AsyncConnection[dict[str, Any]]


def say(words: str) -> Callable[[str], tuple[str, dict[str, Any]]]:
    return lambda wa: text(wa, words)


def tap_english(wa: str) -> tuple[str, dict[str, Any]]:
    return button_tap(wa, "lang:en", "English")


def shape(body: dict[str, Any]) -> str:
    """What a reply is: "text", or the interactive kind ("button", "list")."""
    if body.get("type") == "interactive":
        return str(body["interactive"]["type"])
    return str(body.get("type"))


@pytest.fixture
async def pg(migrated_url: str) -> AsyncIterator[Pg]:
    """A connection to the emptied test database."""
    conn = await psycopg.AsyncConnection.connect(
        migrated_url, autocommit=True, row_factory=dict_row
    )
    async with conn:
        await conn.execute(TRUNCATE)
        yield conn


@pytest.fixture
async def cluster(pg: Pg, migrated_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    c = Cluster(migrated_url, tmp_path)
    try:
        yield c
    finally:
        await c.aclose()
        # Captured output: pytest shows it only when the test fails.
        print(f"logs in {tmp_path}\n{c.report()}")


async def one(pg: Pg, sql: str, params: Any = None) -> dict[str, Any]:
    row = await (await pg.execute(sql, params)).fetchone()
    assert row is not None
    return row


async def backlog(pg: Pg) -> dict[str, int]:
    """Work not done yet, at each stage of the pipeline."""
    return await one(
        pg,
        "SELECT"
        " (SELECT count(*) FROM webhook_deliveries WHERE split_at IS NULL) AS unsplit,"
        " (SELECT count(*) FROM inbound_events) AS events,"
        " (SELECT count(*) FROM inbound_events WHERE processed_at IS NULL) AS unprocessed,"
        " (SELECT count(*) FROM outbound_messages WHERE status = 'queued') AS queued,"
        " (SELECT count(*) FROM outbound_messages WHERE status = 'sending') AS sending,"
        " (SELECT count(*) FROM outbound_messages) AS outbound",
    )


def pending(b: dict[str, int]) -> int:
    return b["unsplit"] + b["unprocessed"] + b["queued"] + b["sending"]


async def settle(pg: Pg, load: Load, timeout: float) -> None:
    """Until every acknowledged message is an event, every event is processed and nothing
    is left to send."""

    async def done() -> bool:
        b = await backlog(pg)
        return b["events"] >= len(load.acked) and pending(b) == 0

    async def detail() -> object:
        return {"acked": len(load.acked), **await backlog(pg)}

    await eventually(done, timeout=timeout, what="the pipeline to settle", detail=detail)


async def check_exactly_once(
    pg: Pg, cluster: Cluster, load: Load, expected: list[str]
) -> dict[str, list[tuple[int, int]]]:
    """Every acknowledged message is one event, answered by one reply that reached the fake
    exactly once, to its sender, of the expected shape. Returns, per citizen, the
    (event id, k) of the reply behind each message the fake recorded, in the fake's order."""
    events = await (
        await pg.execute("SELECT id, wamid, outcome FROM inbound_events ORDER BY id")
    ).fetchall()
    wamids = Counter(e["wamid"] for e in events)
    assert not {w: n for w, n in wamids.items() if n > 1}, "a message became two events"
    lost = set(load.acked) - set(wamids)
    assert not lost, f"{len(lost)} acknowledged messages never became events"
    assert set(wamids) == set(load.acked)
    outcomes = Counter(e["outcome"] for e in events)
    assert outcomes == {"answered": len(load.acked)}, outcomes

    outbound = await (
        await pg.execute(
            "SELECT id, in_reply_to, status, attempts, claimed_at, sent_at"
            " FROM outbound_messages ORDER BY id"
        )
    ).fetchall()
    replies_per_event = Counter(o["in_reply_to"] for o in outbound)
    event_ids = {e["id"] for e in events}
    assert set(replies_per_event) == event_ids, "an event without a reply, or a stray reply"
    assert set(replies_per_event.values()) == {1}, "an event answered more than once"
    statuses = Counter(o["status"] for o in outbound)
    assert set(statuses) <= {"sent", "delivered", "read"}, statuses

    sent = await cluster.fake_messages()
    at_fake = Counter(int(m["callback_data"].removeprefix("ob:")) for m in sent)
    duplicated = {i: n for i, n in at_fake.items() if n > 1}
    if duplicated:
        # Say how: claimed twice (attempts) within MITRA_SEND_IN_DOUBT_AFTER is not a crash.
        rows = [{k: str(v) for k, v in o.items()} for o in outbound if o["id"] in duplicated]
        times = {i: [m["at"] for m in sent if m["callback_data"] == f"ob:{i}"] for i in duplicated}
        raise AssertionError(
            f"replies sent more than once (outbound id: times): {duplicated};"
            f" rows: {rows}; accepted by the fake at: {times}"
        )
    missing = {o["id"] for o in outbound} - set(at_fake)
    assert not missing, f"{len(missing)} replies never reached WhatsApp: {sorted(missing)[:20]}"
    assert set(at_fake) == {o["id"] for o in outbound}
    assert len(sent) == len(outbound)

    reply_to = {o["id"]: o["in_reply_to"] for o in outbound}
    wamid_of = {e["id"]: e["wamid"] for e in events}
    seen: dict[str, list[tuple[int, int]]] = {}
    for m in sent:
        event_id = reply_to[int(m["callback_data"].removeprefix("ob:"))]
        wa, k = load.acked[wamid_of[event_id]]
        assert m["to"] == wa, "a reply went to someone else"
        assert shape(m["body"]) == expected[k], (wa, k, m["body"])
        seen.setdefault(wa, []).append((event_id, k))

    stats = await cluster.fake_stats()
    invalid = {c: n for c, n in stats["rejected"].items() if c in ("100", "131009")}
    assert not invalid, f"Mitra sent invalid payloads: {invalid}"
    return seen


CRASH_STEPS: list[Step] = [(0, say("Hi")), (1, tap_english), (2, say("menu")), (3, say("help"))]
CRASH_SHAPES = ["button", "list", "list", "text"]  # consent, menu, menu, help


@pytest.mark.slow
async def test_killed_workers_and_web_process_lose_nothing_and_answer_once(
    cluster: Cluster, pg: Pg
) -> None:
    seed = int(os.environ.get("MITRA_TEST_SEED", time.time_ns() % 10**6))
    print(f"random seed {seed} (MITRA_TEST_SEED to repeat)")
    rng = random.Random(seed)
    # Sending at 60/s, a batch's 300 replies take five seconds to leave: there is work in
    # progress at every crash point, however fast the machine and however long a restarted
    # worker takes to start.
    fake, serve, worker = cluster.fake(), cluster.serve(), cluster.worker(MITRA_SEND_RATE="60")
    await asyncio.gather(cluster.wait_fake(fake), cluster.wait_serve(serve))

    citizens = [f"9197{i:08d}" for i in range(150)]
    load = Load(cluster.serve_url, concurrency=16)
    crashes: list[tuple[str, dict[str, int]]] = []  # (what, backlog at that moment)
    last_worker_kill = 0.0

    async def has_sent() -> bool:
        return (await cluster.fake_stats())["accepted"] > 0

    async def crash_worker(after_acked: int) -> None:
        """Once `after_acked` posts are acknowledged and there is work in progress,
        SIGKILL the worker and start another."""
        nonlocal last_worker_kill

        async def ready() -> bool:
            return len(load.acked) >= after_acked and pending(await backlog(pg)) > 0

        await eventually(ready, timeout=30, what=f"{after_acked} posts and work in progress")
        await asyncio.sleep(rng.uniform(0, 0.25))
        state = await backlog(pg)
        worker.kill9()
        last_worker_kill = time.time()
        crashes.append(("worker", state))
        worker.start()

    async def crash_twice() -> None:
        await eventually(has_sent, timeout=30, what="the first replies")
        total = len(citizens) * 2
        await crash_worker(int(total * rng.uniform(0.15, 0.35)))
        accepted = (await cluster.fake_stats())["accepted"]

        async def new_worker_sends() -> bool:
            return (await cluster.fake_stats())["accepted"] > accepted

        await eventually(new_worker_sends, timeout=30, what="the restarted worker to send")
        await crash_worker(int(total * rng.uniform(0.55, 0.85)))

    # Batch 1: "Hi", then the tap on English; the worker is killed twice meanwhile.
    crasher = asyncio.create_task(crash_twice())
    await load.run(citizens, CRASH_STEPS[:2], timeout=40)
    await asyncio.wait_for(crasher, timeout=40)

    # Kill the web process between batches, but only once whatever the killed workers had
    # handed to WhatsApp has had its status webhook acknowledged: a message in doubt whose
    # status is also lost would rightly be sent twice (MITRA_SEND_IN_DOUBT_AFTER). So: a
    # while after the last crash, and when every send older than half a second has its
    # statuses in.
    async def statuses_in() -> bool:
        if time.time() < last_worker_kill + 1.5:
            return False
        sent = await cluster.fake_messages()
        horizon = time.time() - 0.5
        return all(m["statuses"] for m in sent if m["at"] <= horizon)

    await eventually(statuses_in, timeout=20, what="statuses of in-doubt sends", interval=0.3)
    crashes.append(("serve", await backlog(pg)))
    serve.kill9()
    serve.start()
    await cluster.wait_serve(serve)

    # Batch 2: "menu" and "help"; one more worker crash.
    batch_2 = len(citizens) * 2
    crasher = asyncio.create_task(
        crash_worker(len(load.acked) + int(batch_2 * rng.uniform(0.2, 0.7)))
    )
    await load.run(citizens, CRASH_STEPS[2:], timeout=40)
    await asyncio.wait_for(crasher, timeout=40)

    assert len(load.acked) == len(citizens) * len(CRASH_STEPS)
    await settle(pg, load, timeout=60)
    print("crashes (what, backlog):", crashes)
    worker_crashes = [state for what, state in crashes if what == "worker"]
    assert len(worker_crashes) >= 2 and all(pending(s) > 0 for s in worker_crashes)

    await check_exactly_once(pg, cluster, load, CRASH_SHAPES)
    assert worker.running() and serve.running() and fake.running()


ORDER_STEPS: list[Step] = [
    (0, say("Hi")),
    (1, tap_english),
    (2, say("help")),
    (3, say("menu")),
    (4, say("language")),
    (5, say("stop")),
]
ORDER_SHAPES = ["button", "list", "text", "list", "button", "text"]


@pytest.mark.slow
async def test_two_workers_answer_each_citizen_once_and_in_order(cluster: Cluster, pg: Pg) -> None:
    fake, serve = cluster.fake(), cluster.serve()
    # DEBUG makes the Graph client log each send, which tells which worker did the sending.
    workers = [cluster.worker(name, MITRA_LOG_LEVEL="DEBUG") for name in ("worker-a", "worker-b")]
    await asyncio.gather(cluster.wait_fake(fake), cluster.wait_serve(serve))

    async def connected(proc: Proc) -> bool:
        row = await one(
            pg,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = %s",
            (proc.app_name,),
        )
        return row["n"] >= 3

    for w in workers:
        await eventually(lambda w=w: connected(w), timeout=30, what=f"{w.name} to connect")

    citizens = [f"9198{i:08d}" for i in range(60)]
    load = Load(cluster.serve_url, concurrency=30)
    await load.run(citizens, ORDER_STEPS, timeout=60)
    assert len(load.acked) == len(citizens) * len(ORDER_STEPS)
    await settle(pg, load, timeout=60)

    seen = await check_exactly_once(pg, cluster, load, ORDER_SHAPES)
    for wa in citizens:
        # Events are numbered in the order the citizen sent them...
        events = await (
            await pg.execute(
                "SELECT e.wamid FROM inbound_events e WHERE e.wamid = ANY(%s) ORDER BY e.id",
                (load.order[wa],),
            )
        ).fetchall()
        assert [e["wamid"] for e in events] == load.order[wa]
        # ...and the replies reached WhatsApp in that order.
        assert [k for _, k in seen[wa]] == list(range(len(ORDER_STEPS))), (wa, seen[wa])

    sends = {w.name: w.log.read_text().count("graph POST") for w in workers}
    print("sends per worker:", sends)
    assert all(n > 0 for n in sends.values()), f"a worker did no sending: {sends}"
    assert sum(sends.values()) == len(load.acked)
    assert all(w.running() for w in workers)
