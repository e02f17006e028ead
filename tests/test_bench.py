"""`mitra bench`: the load generator is correct (every request sent once, every response read,
latency counted once per request), and a tiny run of each bench gives a sane report.

Correctness only: no timing thresholds here.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
import pytest
import typer
from typer.testing import CliRunner

from mitra.bench.cli import register
from mitra.bench.ingest import _target as ingest_target
from mitra.bench.loadgen import (
    LOOPBACK,
    WEBHOOK_PATH,
    OpenLoopClient,
    ProtocolError,
    WebhookSpec,
    build_webhook_requests,
    is_loopback,
    latency_summary,
    parse_head,
    percentile_ms,
    run_closed_loop,
    run_generators,
)
from mitra.store.embedded import create_database
from mitra.whatsapp.signature import signature_matches

SECRET = "bench-test-secret"
SPEC = WebhookSpec(SECRET, "106540352242922", citizens=7, run_id=123)


@dataclass
class TinyServer:
    """An HTTP/1.1 keep-alive server that records every request body and answers each in two
    writes (head, then body), so the client has to put responses back together."""

    port: int = 0
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0
    status_for: Any = None  # body -> status; 200 by default


async def _serve(
    server: TinyServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    server.connections += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            server.bodies.append(body)
            status = server.status_for(body) if server.status_for else 200
            reply = b'{"ok":true}' if status == 200 else b'{"error":"no"}'
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"Content-Length: {len(reply)}\r\n\r\n".encode()
            )
            await writer.drain()
            await asyncio.sleep(0)
            writer.write(reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def tiny_server() -> AsyncIterator[TinyServer]:
    state = TinyServer()
    server = await asyncio.start_server(lambda r, w: _serve(state, r, w), LOOPBACK, 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


def _wamid(body: bytes) -> str:
    return str(orjson.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"])


def test_parse_head_reads_status_and_length_whatever_the_case() -> None:
    assert parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 0") == (200, 0)
    assert parse_head(b"HTTP/1.1 503 X\r\nServer: u\r\nContent-Length: 42\r\nA: b") == (503, 42)
    assert parse_head(b"HTTP/1.1 204 No Content\r\ndate: now") == (204, 0)
    with pytest.raises(ProtocolError):
        parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked")
    with pytest.raises(ProtocolError):
        parse_head(b"SSH-2.0-OpenSSH")


def test_webhook_requests_are_signed_and_each_has_its_own_wamid() -> None:
    requests = build_webhook_requests(LOOPBACK, 1, WEBHOOK_PATH, SPEC, start=10, count=30)
    wamids, senders = [], []
    for raw in requests:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0] == f"POST {WEBHOOK_PATH} HTTP/1.1"
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        assert int(headers["content-length"]) == len(body)
        assert signature_matches(body, headers["x-hub-signature-256"], SECRET)
        assert not signature_matches(body, headers["x-hub-signature-256"], "another secret")
        payload = orjson.loads(body)
        assert payload["object"] == "whatsapp_business_account"
        wamids.append(_wamid(body))
        senders.append(payload["entry"][0]["changes"][0]["value"]["messages"][0]["from"])
    assert len(set(wamids)) == 30
    assert set(senders) == {SPEC.wa_id(i) for i in range(SPEC.citizens)}
    assert all(len(s) == 12 and s.startswith("91") for s in senders)


def test_percentiles_are_nearest_rank() -> None:
    ms = [i * 1_000_000 for i in range(1, 101)]  # 1 … 100 ms
    assert percentile_ms(ms, 50) == 50.0
    assert percentile_ms(ms, 99) == 99.0
    assert percentile_ms(ms, 100) == 100.0
    assert percentile_ms([], 50) is None
    assert latency_summary([3_000_000, 1_000_000, 2_000_000])["max_ms"] == 3.0


def test_only_this_machine_is_a_target() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.org")
    assert ingest_target("http://127.0.0.1:8000") == (LOOPBACK, 8000, WEBHOOK_PATH)
    assert ingest_target("http://localhost:9/hooks") == ("localhost", 9, "/hooks")
    with pytest.raises(ValueError, match="this machine"):
        ingest_target("http://192.168.1.20:8000")


async def test_closed_loop_sends_each_request_once_and_reads_each_answer(
    tiny_server: TinyServer,
) -> None:
    requests = build_webhook_requests(LOOPBACK, tiny_server.port, WEBHOOK_PATH, SPEC, 0, 500)
    rejected = {_wamid(r.partition(b"\r\n\r\n")[2]) for r in requests[::10]}
    tiny_server.status_for = lambda body: 503 if _wamid(body) in rejected else 200

    result = await run_closed_loop(LOOPBACK, tiny_server.port, requests, concurrency=8)

    sent = Counter(_wamid(b) for b in tiny_server.bodies)
    assert len(sent) == 500 and set(sent.values()) == {1}
    assert tiny_server.connections == 8
    assert result.statuses == {200: 450, 503: 50}
    assert result.ok == 450 and result.errors == 0 and not result.timed_out
    assert len(result.latencies_ns) == 500 and min(result.latencies_ns) > 0
    assert result.throughput > 0 and result.elapsed_s > 0


async def test_open_loop_latency_runs_from_the_scheduled_time(tiny_server: TinyServer) -> None:
    client = OpenLoopClient(LOOPBACK, tiny_server.port, connections=2)
    await client.connect()
    try:
        requests = build_webhook_requests(LOOPBACK, tiny_server.port, WEBHOOK_PATH, SPEC, 0, 20)
        # Scheduled 50 ms ago: every latency includes those 50 ms; more requests than
        # connections: the rest wait for a free connection.
        scheduled = time.perf_counter_ns() - 50_000_000
        for r in requests:
            client.submit(r, scheduled)
        assert client.backlog == 18
        assert await client.drain(10.0)
    finally:
        client.close()
    assert client.answered == client.submitted == 20 and client.backlog == 0
    assert min(client.result.latencies_ns) >= 50_000_000
    assert len({_wamid(b) for b in tiny_server.bodies}) == 20


async def test_generator_processes_share_the_requests_and_merge_latencies(
    tiny_server: TinyServer,
) -> None:
    started: list[list[int]] = []
    run = await run_generators(
        LOOPBACK,
        tiny_server.port,
        WEBHOOK_PATH,
        SPEC,
        start=100,
        count=301,
        concurrency=5,
        processes=2,
        time_limit=60,
        on_start=started.append,
    )
    assert len(run.pids) == 2 and started == [run.pids]
    assert run.result.completed == 301 and run.result.statuses == {200: 301}
    wamids = {_wamid(b) for b in tiny_server.bodies}
    assert wamids == {SPEC.wamid(i) for i in range(100, 401)}
    assert run.result.cpu_seconds > 0


# ---- tiny runs of the benches (spawn PostgreSQL clients, uvicorn and workers) -----------


@pytest.fixture
def bench_database(pg_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"mitra_bench_test_{os.getpid()}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    url = create_database(pg_admin_url, name)
    monkeypatch.setenv("MITRA_DATABASE_URL", url)
    yield url


def _bench(*args: str) -> dict[str, Any]:
    app = typer.Typer()
    bench = typer.Typer()
    app.add_typer(bench, name="bench")
    register(bench)
    result = CliRunner().invoke(app, ["bench", *args, "--json"])
    assert result.exit_code == 0, result.output
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


@pytest.mark.slow
def test_a_tiny_ingest_run_reports_both_endpoints(bench_database: str) -> None:
    report = _bench("ingest", "--requests", "200", "--warmup", "20", "--concurrency", "8")

    assert report["bench"] == "ingest"
    for name in ("bare", "mitra"):
        figures = report[name]
        assert figures["requests"] == figures["answered"] == figures["ok"] == 200
        assert figures["statuses"] == {"200": 200} and figures["errors"] == 0
        assert figures["throughput_rps"] > 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
        assert figures["cpu_cores"]["generator"] >= 0
    assert report["ratio_to_bare"] > 0
    assert set(report["targets"]) == {
        "throughput >= 8000/s",
        "p99 <= 25 ms",
        ">= 0.4 of bare",
    }
    with psycopg.connect(bench_database) as conn:
        stored = conn.execute("SELECT count(*) FROM webhook_deliveries").fetchone()
    assert stored is not None and stored[0] == 220  # warm-up and measured: all committed


@pytest.mark.slow
def test_a_tiny_e2e_run_answers_every_message(bench_database: str) -> None:
    report = _bench(
        "e2e",
        *("--citizens", "10", "--warmup-rate", "100"),
        *("--latency-rate", "40", "--latency-seconds", "1"),
        *("--max-rate", "80", "--max-seconds", "1"),
        *("--drain-timeout", "30"),
    )

    assert report["bench"] == "e2e"
    assert "past consent" in report["measured_reply"]
    phases = {p["name"]: p for p in report["phases"]}
    assert list(phases) == ["warm-up: Hi", "warm-up: language", "latency", "sustained"]
    assert phases["warm-up: Hi"]["sent"] == phases["warm-up: language"]["sent"] == 10
    assert phases["latency"]["sent"] == 40 and phases["sustained"]["sent"] == 80
    for p in phases.values():
        assert p["replies"] == p["sent"] == p["acked"] and p["missing"] == 0
        assert p["ack_failures"] == 0
        assert 0 < p["p50_ms"] <= p["p99_ms"] <= p["max_ms"]
    assert report["unexpected_replies"] == 0
    fake = report["fake_graph"]
    assert fake["accepted"] == 140 and fake["rejected"] == {}
    assert set(report["targets"]) == {
        "sustained >= 1000 replies/s",
        "p99 <= 250 ms at the latency rate",
    }


@pytest.mark.slow
def test_a_tiny_realistic_e2e_run_answers_every_message_including_lookups(
    bench_database: str,
) -> None:
    report = _bench(
        "e2e",
        *("--citizens", "10", "--warmup-rate", "100", "--mix", "realistic"),
        *("--latency-rate", "30", "--latency-seconds", "2"),
        *("--max-rate", "30", "--max-seconds", "1"),
        *("--drain-timeout", "30"),
    )
    assert "status lookup" in report["measured_reply"]
    for p in report["phases"]:
        assert p["replies"] == p["sent"] and p["missing"] == 0
    assert report["unexpected_replies"] == 0


@pytest.mark.slow
def test_a_tiny_grievances_run_registers_finds_and_escalates(bench_database: str) -> None:
    report = _bench("grievances", "--existing", "500", "--registered", "20", "--lookups", "40")
    assert report["bench"] == "grievances" and report["existing"] == 500
    # Half the look-ups are next to a grievance just registered: all of those find it.
    assert report["similar_found"] >= 0.5
    assert report["escalated"] == 20  # every registered one was overdue and climbed a level
    assert 0 < report["register_p50_ms"] <= report["register_p95_ms"]
