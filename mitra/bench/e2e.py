"""`mitra bench e2e`: citizens' messages answered end to end, at a fixed offered load.

The bench spawns, against a fresh migrated database (or MITRA_DATABASE_URL):
- the fake Graph API (`mitra.whatsapp.fake_graph`, throughput limit lifted, status reports
  on: every accepted reply comes back to the webhook as sent, delivered and read), wrapped in
  a recorder that notes when each message reached it and for whom;
- `mitra serve` (the webhook) and `mitra worker` (split, process, send), pointed at the fake.

Then it plays citizens (open loop: a request goes out at its scheduled time whatever the
server is doing, and latency runs from that time) in phases:
1. warm-up: every citizen says "Hi" and taps "English" (so the measured messages come from
   citizens past consent and get the menu or the help text), unless `--no-warmup`, in which
   case every measured message is a "Hi" answered by the consent prompt;
2. latency: `latency_rate` messages/s for `latency_seconds`;
3. sustained: `max_rate` messages/s for `max_seconds`; reports the replies/s reached while
   sending and the backlog left when sending stopped.

Every message gets exactly one reply and a citizen's replies leave in the order of their
messages, so the k-th reply to a citizen answers the citizen's k-th message: that is how a
reply is matched to its message. Arrival times are taken with `perf_counter_ns` in the fake's
process (CLOCK_MONOTONIC: the same clock as the bench's).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from mitra.bench.ingest import environment_facts, print_profiles
from mitra.bench.loadgen import (
    LOOPBACK,
    WEBHOOK_PATH,
    CpuMeter,
    MitraEnvironment,
    OpenLoopClient,
    PySpy,
    Spawned,
    WebhookSpec,
    event_loop_factory,
    free_port,
    latency_summary,
    mitra_environment,
    new_run_id,
    other_cores,
    signed_request,
    spawn,
    stop,
    wait_ready,
)
from mitra.whatsapp import envelopes

TARGET_SUSTAINED = 1000.0
TARGET_P99_MS = 250.0
ARRIVALS_PATH = "/_bench/arrivals"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# ---- the fake Graph API, recording arrivals (runs in its own process) -------------------


class ArrivalRecorder:
    """ASGI middleware in front of the fake: notes (recipient, perf_counter_ns) of every
    message the fake accepts, and serves them at GET /_bench/arrivals?since=N."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.arrivals: list[tuple[str, int]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == ARRIVALS_PATH:
            query = parse_qs(scope.get("query_string", b"").decode())
            since = int(query.get("since", ["0"])[0])
            await _send_bytes(send, orjson.dumps(self.arrivals[since:]))
            return
        if scope["method"] != "POST" or not path.endswith("/messages"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        arrived = time.perf_counter_ns()
        replayed = False
        status = 0

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, replay, capture)
        if status == 200:
            try:
                to = orjson.loads(body).get("to")
            except (orjson.JSONDecodeError, AttributeError):
                to = None
            if isinstance(to, str):  # not a mark-as-read
                self.arrivals.append((re.sub(r"\D", "", to), arrived))


async def _send_bytes(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def fake_graph_main() -> None:
    """Entry of the fake's process: settings from MITRA_WHATSAPP_* and MITRA_BENCH_*."""
    import uvicorn

    from mitra.whatsapp.fake_graph import FakeGraphConfig, create_fake_graph_app

    fake = create_fake_graph_app(
        FakeGraphConfig(
            phone_number_id=os.environ["MITRA_WHATSAPP_PHONE_NUMBER_ID"],
            access_token=os.environ["MITRA_WHATSAPP_ACCESS_TOKEN"],
            app_secret=os.environ["MITRA_WHATSAPP_APP_SECRET"],
            webhook_url=os.environ["MITRA_BENCH_WEBHOOK_URL"],
            rate=1_000_000.0,  # no 130429: the bench measures Mitra, not Meta's limit
            report_read=True,
        )
    )
    uvicorn.run(
        ArrivalRecorder(fake.app),
        host=LOOPBACK,
        port=int(os.environ["MITRA_BENCH_FAKE_PORT"]),
        log_level="warning",
        access_log=False,
    )


# ---- matching replies to messages -------------------------------------------------------


@dataclass
class _Phase:
    name: str
    sent: int = 0
    replies: list[tuple[int, int]] = field(default_factory=list)  # (arrival ns, latency ns)
    started_ns: int = 0
    send_end_ns: int = 0


class ReplyTracker:
    """The k-th reply to a citizen answers the citizen's k-th message."""

    def __init__(self, spec: WebhookSpec) -> None:
        self.index = {spec.wa_id(i): i for i in range(spec.citizens)}
        self.sends: list[list[tuple[int, int]]] = [[] for _ in range(spec.citizens)]
        self.received = [0] * spec.citizens
        self.phases: list[_Phase] = []
        self.unexpected = 0  # replies beyond the messages sent (or to unknown recipients)

    def phase(self, name: str) -> int:
        self.phases.append(_Phase(name))
        return len(self.phases) - 1

    def sent(self, citizen: int, scheduled_ns: int, phase: int) -> None:
        self.sends[citizen].append((scheduled_ns, phase))
        self.phases[phase].sent += 1

    def arrived(self, to: str, at_ns: int) -> None:
        citizen = self.index.get(to)
        if citizen is None:
            self.unexpected += 1
            return
        k = self.received[citizen]
        self.received[citizen] = k + 1
        if k >= len(self.sends[citizen]):
            self.unexpected += 1
            return
        scheduled, phase = self.sends[citizen][k]
        self.phases[phase].replies.append((at_ns, at_ns - scheduled))


# ---- figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class E2EConfig:
    citizens: int = 5000
    workers: int = 1  # web processes (mitra serve --workers)
    worker_processes: int = 1  # `mitra worker` processes
    processors: int = 2  # mitra worker --processors
    send_rate: float = 2000.0  # MITRA_SEND_RATE
    latency_rate: float = 300.0
    latency_seconds: float = 20.0
    max_rate: float = 1000.0
    max_seconds: float = 20.0
    warmup: bool = True
    warmup_rate: float = 500.0
    connections: int = 32
    drain_timeout: float = 60.0
    profile_dir: str | None = None  # py-spy profiles of every process in the sustained phase
    mix: str = "menu"  # "menu", "realistic" (see REALISTIC_MIX) or "bookings" (BOOKING_MIX)


# One citizen's messages in order, each answered by exactly one reply: the menu, a service by
# its code, a status lookup against the sandbox Energy department (an effect and its answer),
# a typed search, the lookup again, help.
REALISTIC_MIX = (
    "menu",
    "ENG-06",
    "ENG-2026-000123-K",
    "new connection status",
    "ENG-2026-000123-K",
    "help",
)


# A booking-heavy mix: each citizen books a Srisailam sheeghra darshan (END-01) — the day
# (spread over the next 59 days, so holds never run out), the second darshan of the live
# inventory list, one person (a hold at the sandbox Endowments department), yes (a payment
# link from the sandbox gateway). Every message is answered by exactly one reply; nobody pays.
BOOKING_MIX = ("END-01", "{day}", "2", "1", "yes")
IST = timezone(timedelta(hours=5, minutes=30))


@dataclass
class PhaseFigures:
    name: str
    offered_rate: float
    duration_s: float
    sent: int
    acked: int  # webhooks answered 200
    ack_failures: int
    replies: int
    missing: int  # messages without a reply when the bench stopped waiting
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    ack_p50_ms: float | None
    ack_p99_ms: float | None
    replies_per_s: float  # replies arriving per second while sending (after the ramp)
    backlog_at_send_end: int  # messages sent but not yet answered when sending stopped
    drain_s: float | None  # from the end of sending to the last reply
    db_backlog: dict[str, int]  # at the end of sending
    cpu_cores: dict[str, float]


@dataclass
class E2EReport:
    config: dict[str, Any]
    environment: dict[str, Any]
    measured_reply: str
    phases: list[PhaseFigures] = field(default_factory=list)
    fake_graph: dict[str, Any] = field(default_factory=dict)
    unexpected_replies: int = 0
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, Any] = field(default_factory=dict)

    def phase(self, name: str) -> PhaseFigures | None:
        return next((p for p in self.phases if p.name == name), None)

    def targets(self) -> dict[str, bool | None]:
        latency, sustained = self.phase("latency"), self.phase("sustained")
        return {
            f"sustained >= {TARGET_SUSTAINED:.0f} replies/s": None
            if sustained is None
            else sustained.replies_per_s >= TARGET_SUSTAINED
            and sustained.backlog_at_send_end < sustained.offered_rate,
            f"p99 <= {TARGET_P99_MS:.0f} ms at the latency rate": None
            if latency is None or latency.p99_ms is None
            else latency.p99_ms <= TARGET_P99_MS and latency.missing == 0,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "bench": "e2e",
            "config": self.config,
            "environment": self.environment,
            "measured_reply": self.measured_reply,
            "phases": [asdict(p) for p in self.phases],
            "fake_graph": self.fake_graph,
            "unexpected_replies": self.unexpected_replies,
            "targets": self.targets(),
            "notes": self.notes,
            "profiles": self.profiles,
        }


DB_BACKLOG = """
SELECT (SELECT count(*) FROM webhook_deliveries WHERE split_at IS NULL) AS unsplit_deliveries,
       (SELECT count(*) FROM inbound_events WHERE processed_at IS NULL) AS unprocessed_events,
       (SELECT count(*) FROM outbound_messages WHERE status IN ('queued', 'sending'))
         AS unsent_replies
"""


def _db_backlog(url: str) -> dict[str, int]:
    import psycopg
    from psycopg.rows import dict_row

    try:
        with psycopg.connect(url, row_factory=dict_row, connect_timeout=5) as conn:
            row = conn.execute(DB_BACKLOG).fetchone()
    except psycopg.Error:
        return {}
    return {k: int(v) for k, v in (row or {}).items()}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


# ---- the run ----------------------------------------------------------------------------


class _Bench:
    def __init__(
        self,
        config: E2EConfig,
        menv: MitraEnvironment,
        spec: WebhookSpec,
        client: OpenLoopClient,
        fake_url: str,
        processes: dict[str, Spawned],
        progress: Progress | None,
        profiler: PySpy | None = None,
    ) -> None:
        self.config = config
        self.profiler = profiler
        self.menv = menv
        self.spec = spec
        self.client = client
        self.fake_url = fake_url
        self.processes = processes
        self.progress = progress
        self.tracker = ReplyTracker(spec)
        self.next_message = 0  # global message counter: citizen = counter mod citizens
        self.per_citizen: dict[int, int] = {}  # messages each citizen has been given
        self.next_wamid = 0
        self._seen = 0

    async def poll_arrivals(self, http: httpx.AsyncClient) -> None:
        while True:
            await self.fetch_arrivals(http)
            await asyncio.sleep(0.1)

    async def fetch_arrivals(self, http: httpx.AsyncClient) -> None:
        try:
            response = await http.get(f"{self.fake_url}{ARRIVALS_PATH}?since={self._seen}")
        except httpx.HTTPError:
            return
        for to, at in orjson.loads(response.content):
            self.tracker.arrived(to, at)
            self._seen += 1

    def request(self, citizen: int, kind: str) -> bytes:
        wa_id = self.spec.wa_id(citizen)
        wamid = self.spec.wamid(self.next_wamid)
        self.next_wamid += 1
        now = int(time.time())
        if kind == "tap":
            message = envelopes.message(
                "interactive",
                envelopes.interactive_reply_body("lang:en", "English", list_reply=False),
                wa_id=wa_id,
                wamid=wamid,
                timestamp=now,
            )
            payload = envelopes.envelope(
                [
                    envelopes.messages_value(
                        [envelopes.contact(wa_id, f"Citizen {citizen}")],
                        [message],
                        phone_number_id=self.spec.phone_number_id,
                    )
                ]
            )
        else:
            if kind == "{day}":
                day = datetime.now(IST).date() + timedelta(days=1 + citizen % 59)
                kind = day.strftime("%d-%m-%Y")
            payload = envelopes.text_envelope(
                wa_id,
                kind,
                phone_number_id=self.spec.phone_number_id,
                name=f"Citizen {citizen}",
                wamid=wamid,
                timestamp=now,
            )
        return signed_request(
            LOOPBACK, self.client.port, WEBHOOK_PATH, orjson.dumps(payload), self.spec.app_secret
        )

    async def offer(
        self, phase: int, rate: float, messages: list[tuple[int, bytes]], task: TaskID | None
    ) -> None:
        """Send `messages` (citizen, request) open loop at `rate` per second."""
        interval = 1e9 / rate
        record = self.tracker.phases[phase]
        t0 = time.perf_counter_ns() + 5_000_000
        record.started_ns = t0
        i = 0
        while i < len(messages):
            now = time.perf_counter_ns()
            due = t0 + int(i * interval)
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                continue
            while i < len(messages) and t0 + int(i * interval) <= now:
                citizen, request = messages[i]
                scheduled = t0 + int(i * interval)
                self.tracker.sent(citizen, scheduled, phase)
                self.client.submit(request, scheduled)
                i += 1
            if self.progress is not None and task is not None:
                self.progress.update(task, completed=i)
        record.send_end_ns = max(time.perf_counter_ns(), t0 + int(len(messages) * interval))

    def measured_texts(self) -> tuple[str, ...]:
        if not self.config.warmup:
            return ("Hi",)
        if self.config.mix == "bookings":
            return BOOKING_MIX
        return REALISTIC_MIX if self.config.mix == "realistic" else ("menu", "help")

    def build(self, count: int, kinds: tuple[str, ...]) -> list[tuple[int, bytes]]:
        """Messages round robin over citizens; each citizen goes through `kinds` in order."""
        out = []
        for _ in range(count):
            citizen = self.next_message % self.spec.citizens
            self.next_message += 1
            n = self.per_citizen.get(citizen, 0)
            self.per_citizen[citizen] = n + 1
            out.append((citizen, self.request(citizen, kinds[n % len(kinds)])))
        return out

    async def wait_replies(self, phase: int, time_limit: float, task: TaskID | None) -> bool:
        record = self.tracker.phases[phase]
        deadline = time.monotonic() + time_limit
        while len(record.replies) < record.sent:
            if self.progress is not None and task is not None:
                self.progress.update(task, completed=len(record.replies))
            if time.monotonic() > deadline:
                return False
            for spawned in self.processes.values():
                if spawned.process.poll() is not None:
                    raise RuntimeError(
                        f"{spawned.name} exited with {spawned.process.returncode}:\n"
                        f"{spawned.log_tail()}"
                    )
            await asyncio.sleep(0.05)
        if self.progress is not None and task is not None:
            self.progress.update(task, completed=len(record.replies))
        return True

    def _meter(self) -> CpuMeter:
        pg_roots, pg_by_name = self.menv.cpu_groups()
        meter = CpuMeter(by_name=pg_by_name)
        roots = dict(pg_roots)
        roots["serve"] = [self.processes["serve"].pid]
        roots["worker"] = [p.pid for n, p in self.processes.items() if n.startswith("worker")]
        roots["fake graph"] = [self.processes["fake-graph"].pid]
        meter.start(roots)
        return meter

    async def run_phase(
        self, name: str, rate: float, seconds: float, kinds: tuple[str, ...]
    ) -> PhaseFigures:
        count = max(1, round(rate * seconds))
        return await self.run_messages(name, rate, self.build(count, kinds))

    async def run_messages(
        self, name: str, rate: float, messages: list[tuple[int, bytes]], *, drain: float = 0.0
    ) -> PhaseFigures:
        phase = self.tracker.phase(name)
        record = self.tracker.phases[phase]
        acks_before = self.client.result.completed
        ack_lat_before = len(self.client.result.latencies_ns)
        ok_before = self.client.result.ok
        errors_before = self.client.result.errors
        sending = replying = None
        if self.progress is not None:
            sending = self.progress.add_task(f"{name}: sent", total=len(messages))
            replying = self.progress.add_task(f"{name}: replied", total=len(messages))
        profiler = self.profiler if name == "sustained" else None
        if profiler is not None:
            for label, spawned in self.processes.items():
                profiler.start(label, spawned.pid)
        meter = self._meter()
        cpu_self = _own_cpu()
        ticker = asyncio.create_task(self._tick(phase, replying))
        try:
            await self.offer(phase, rate, messages, sending)
            end = time.perf_counter_ns()
            if profiler is not None:
                await asyncio.to_thread(profiler.stop)
            replied_at_end = sum(1 for at, _ in record.replies if at <= record.send_end_ns)
            db = await asyncio.to_thread(_db_backlog, self.menv.database_url)
            cpu = meter.stop()
            cpu["bench"] = round(
                (_own_cpu() - cpu_self) / max(1e-9, (end - record.started_ns) / 1e9), 2
            )
            other = other_cores(cpu, ("postgres", "serve", "worker", "fake graph", "bench"))
            if other is not None:
                cpu["other"] = other
            await self.client.drain(30.0)
            await self.wait_replies(phase, drain or self.config.drain_timeout, replying)
        finally:
            ticker.cancel()
        return self._figures(
            record,
            rate,
            replied_at_end,
            db,
            cpu,
            acks=self.client.result.completed - acks_before,
            ok=self.client.result.ok - ok_before,
            errors=self.client.result.errors - errors_before,
            ack_latencies=self.client.result.latencies_ns[ack_lat_before:],
        )

    async def _tick(self, phase: int, task: TaskID | None) -> None:
        record = self.tracker.phases[phase]
        while True:
            if self.progress is not None and task is not None:
                self.progress.update(task, completed=len(record.replies))
            await asyncio.sleep(0.2)

    def _figures(
        self,
        record: _Phase,
        rate: float,
        replied_at_end: int,
        db: dict[str, int],
        cpu: dict[str, float],
        *,
        acks: int,
        ok: int,
        errors: int,
        ack_latencies: Any,
    ) -> PhaseFigures:
        duration = (record.send_end_ns - record.started_ns) / 1e9
        ramp = min(5.0, duration / 4)
        window_start = record.started_ns + int(ramp * 1e9)
        in_window = sum(1 for at, _ in record.replies if window_start <= at <= record.send_end_ns)
        window = max(1e-9, (record.send_end_ns - window_start) / 1e9)
        latencies = [lat for _, lat in record.replies]
        summary = latency_summary(latencies)
        acks_summary = latency_summary(list(ack_latencies))
        last = max((at for at, _ in record.replies), default=None)
        return PhaseFigures(
            name=record.name,
            offered_rate=rate,
            duration_s=round(duration, 3),
            sent=record.sent,
            acked=ok,
            ack_failures=(acks - ok) + errors,
            replies=len(record.replies),
            missing=record.sent - len(record.replies),
            p50_ms=_round(summary["p50_ms"]),
            p90_ms=_round(summary["p90_ms"]),
            p99_ms=_round(summary["p99_ms"]),
            max_ms=_round(summary["max_ms"]),
            ack_p50_ms=_round(acks_summary["p50_ms"]),
            ack_p99_ms=_round(acks_summary["p99_ms"]),
            replies_per_s=round(in_window / window, 1),
            backlog_at_send_end=record.sent - replied_at_end,
            drain_s=None if last is None else round(max(0.0, (last - record.send_end_ns) / 1e9), 3),
            db_backlog=db,
            cpu_cores=cpu,
        )

    async def warm_up(self) -> list[PhaseFigures]:
        """Every citizen says Hi (answered by the consent prompt), then taps English
        (answered by the menu). The taps go out only once every Hi is acknowledged, i.e.
        stored, so each citizen's two messages are answered in that order."""
        n = self.spec.citizens
        rate = self.config.warmup_rate
        his = [(c, self.request(c, "Hi")) for c in range(n)]
        hi = await self.run_messages("warm-up: Hi", rate, his, drain=0.001)
        taps = [(c, self.request(c, "tap")) for c in range(n)]
        # Both warm-up phases' replies may take a while: the budget grows with the citizens.
        tap = await self.run_messages(
            "warm-up: language", rate, taps, drain=self.config.drain_timeout + 2 * n / 50
        )
        # The Hi phase's replies kept arriving after its figures were taken: count them now.
        record = self.tracker.phases[-2]
        latencies = latency_summary([lat for _, lat in record.replies])
        hi.replies = len(record.replies)
        hi.missing = record.sent - hi.replies
        hi.p50_ms, hi.p90_ms = _round(latencies["p50_ms"]), _round(latencies["p90_ms"])
        hi.p99_ms, hi.max_ms = _round(latencies["p99_ms"]), _round(latencies["max_ms"])
        last = max((at for at, _ in record.replies), default=None)
        hi.drain_s = None if last is None else round(max(0.0, (last - record.send_end_ns) / 1e9), 3)
        return [hi, tap]


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_e2e(config: E2EConfig, progress: Progress | None = None) -> E2EReport:
    """Run the bench (see the module's docstring); every process it starts is stopped."""
    report = E2EReport(
        config=asdict(config),
        environment=environment_facts(),
        measured_reply=(
            "a realistic mix (menu, service code, search, a status lookup against the sandbox"
            " Energy department) of citizens past consent"
            if config.mix == "realistic"
            else "a booking mix (END-01: the day, a darshan from the live inventory, a hold at"
            " the sandbox Endowments department, a payment link from the sandbox gateway)"
            if config.mix == "bookings"
            else "the main menu or the help text (citizens past consent)"
        )
        if config.warmup
        else "the consent prompt (new citizens saying Hi)",
    )
    serve_port, fake_port = free_port(), free_port()
    fake_url = f"http://{LOOPBACK}:{fake_port}"
    extra = {
        "MITRA_GRAPH_API_URL": fake_url,
        "MITRA_SEND_RATE": str(config.send_rate),
        "MITRA_CITIZEN_INTERVAL": "0",
    }
    processes: dict[str, Spawned] = {}
    with mitra_environment(f"http://{LOOPBACK}:{serve_port}", extra) as menv:
        if not menv.embedded:
            report.notes.append("Database: MITRA_DATABASE_URL (not an embedded PostgreSQL).")
        env = {
            **menv.env,
            "MITRA_DEPARTMENTS": "sandbox",
            "MITRA_PAYMENT_WEBHOOK_SECRET": menv.env.get("MITRA_PAYMENT_WEBHOOK_SECRET")
            or "bench-payment-secret",
        }
        python = sys.executable
        try:
            processes["fake-graph"] = spawn(
                "fake-graph",
                [python, "-c", "from mitra.bench.e2e import fake_graph_main; fake_graph_main()"],
                {
                    **env,
                    "MITRA_BENCH_FAKE_PORT": str(fake_port),
                    "MITRA_BENCH_WEBHOOK_URL": f"http://{LOOPBACK}:{serve_port}{WEBHOOK_PATH}",
                },
                menv.data_dir,
            )
            processes["serve"] = spawn(
                "serve",
                [
                    *(python, "-m", "mitra", "serve", "--host", LOOPBACK),
                    *("--port", str(serve_port), "--workers", str(config.workers)),
                ],
                env,
                menv.data_dir,
            )
            for i in range(config.worker_processes):
                processes[f"worker-{i}"] = spawn(
                    f"worker-{i}",
                    [python, "-m", "mitra", "worker", "--processors", str(config.processors)],
                    env,
                    menv.data_dir,
                )
            await wait_ready(processes["fake-graph"], LOOPBACK, fake_port, ARRIVALS_PATH)
            await wait_ready(processes["serve"], LOOPBACK, serve_port, "/healthz")

            spec = WebhookSpec(
                env["MITRA_WHATSAPP_APP_SECRET"],
                env["MITRA_WHATSAPP_PHONE_NUMBER_ID"],
                config.citizens,
                new_run_id(),
            )
            client = OpenLoopClient(LOOPBACK, serve_port, config.connections)
            await client.connect()
            profiler = PySpy(Path(config.profile_dir)) if config.profile_dir else None
            bench = _Bench(config, menv, spec, client, fake_url, processes, progress, profiler)
            async with httpx.AsyncClient(timeout=10.0) as http:
                poller = asyncio.create_task(bench.poll_arrivals(http))
                try:
                    if config.warmup:
                        report.phases.extend(await bench.warm_up())
                    texts = bench.measured_texts()
                    report.phases.append(
                        await bench.run_phase(
                            "latency", config.latency_rate, config.latency_seconds, texts
                        )
                    )
                    report.phases.append(
                        await bench.run_phase(
                            "sustained", config.max_rate, config.max_seconds, texts
                        )
                    )
                finally:
                    poller.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await poller
                    client.close()
                await bench.fetch_arrivals(http)
                stats = await http.get(f"{fake_url}/_fake/stats")
                report.fake_graph = stats.json()
            report.unexpected_replies = bench.tracker.unexpected
            if profiler is not None:
                report.profiles = profiler.summary()
            for spawned in processes.values():
                if spawned.warnings():
                    report.notes.append(f"{spawned.name} logged {spawned.warnings()} warnings.")
        finally:
            for spawned in processes.values():
                stop(spawned)
    return report


def run_e2e_sync(config: E2EConfig, progress: Progress | None = None) -> E2EReport:
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(run_e2e(config, progress))


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.1f}"


def print_e2e_report(console: Console, report: E2EReport) -> None:
    table = Table(title="End to end: webhook in → reply at the Graph API (open loop)")
    for name, justify in (
        ("phase", "left"),
        ("offered/s", "right"),
        ("sent", "right"),
        ("replies", "right"),
        ("replies/s", "right"),
        ("p50 ms", "right"),
        ("p90 ms", "right"),
        ("p99 ms", "right"),
        ("max ms", "right"),
        ("backlog at end", "right"),
        ("drain s", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for p in report.phases:
        table.add_row(
            p.name,
            f"{p.offered_rate:,.0f}",
            f"{p.sent:,}",
            f"{p.replies:,}" + (f" ({p.missing:,} missing)" if p.missing else ""),
            f"{p.replies_per_s:,.0f}",
            _ms(p.p50_ms),
            _ms(p.p90_ms),
            _ms(p.p99_ms),
            _ms(p.max_ms),
            f"{p.backlog_at_send_end:,}",
            "—" if p.drain_s is None else f"{p.drain_s:.1f}",
        )
    console.print(table)

    cpu = Table(title="Cores used while sending, and the backlog in the database at the end")
    groups = ("serve", "worker", "postgres", "fake graph", "bench", "other", "machine")
    cpu.add_column("phase")
    for g in groups:
        cpu.add_column(g, justify="right")
    cpu.add_column("webhook acks p50/p99 ms", justify="right")
    cpu.add_column("unsplit · unprocessed · unsent", justify="right")
    for p in report.phases:
        db = p.db_backlog
        cpu.add_row(
            p.name,
            *(f"{p.cpu_cores[g]:.2f}" if g in p.cpu_cores else "—" for g in groups),
            f"{_ms(p.ack_p50_ms)} / {_ms(p.ack_p99_ms)}",
            " · ".join(
                str(db.get(k, "—"))
                for k in ("unsplit_deliveries", "unprocessed_events", "unsent_replies")
            ),
        )
    console.print(cpu)
    c = report.config
    console.print(
        f"Measured reply: {report.measured_reply}. {c['citizens']:,} citizens,"
        f" {c['workers']} web process(es), {c['worker_processes']} worker process(es) with"
        f" {c['processors']} processors, MITRA_SEND_RATE={c['send_rate']:g},"
        f" {report.environment['cpus']} CPUs. Latency runs from each message's scheduled send"
        " time to its reply reaching the fake Graph API."
    )
    fake = report.fake_graph
    if fake:
        console.print(
            f"Fake Graph API: {fake.get('accepted', 0):,} messages accepted,"
            f" rejected {fake.get('rejected') or 'none'}, {fake.get('statuses_posted', 0):,}"
            f" statuses posted to the webhook ({fake.get('statuses_dropped', 0)} dropped)."
        )
    if report.unexpected_replies:
        console.print(f"[yellow]{report.unexpected_replies} replies matched no message.[/]")
    for name, met in report.targets().items():
        if met is not None:
            console.print(f"  target {name}: " + ("[green]met[/]" if met else "[red]not met[/]"))
    for note in report.notes:
        console.print(note)
    print_profiles(console, report.profiles)
