"""A load generator fast enough to outrun the server, and the harness the benches share.

Python HTTP clients (httpx, aiohttp) spend more CPU per request than the server under test,
so they measure themselves. This client is a bare `asyncio.Protocol` on a keep-alive TCP
connection: requests are bytes prepared before the clock starts (each one a signed webhook
with its own wamid), each connection has one request in flight, and a response is parsed
only as far as its status line and Content-Length. There are no coroutines on the hot path:
a completed response writes the connection's next request from inside `data_received`.
Latency is taken with `time.perf_counter_ns` (CLOCK_MONOTONIC on Linux, so comparable across
the processes of one machine).

Two disciplines:
- closed loop (`ClosedLoop`): N connections, each sends its next request as soon as the last
  is answered; measures throughput and latency at a given concurrency;
- open loop (`OpenLoopClient`): requests are submitted at scheduled times and latency runs from
  the scheduled time, so a slow server shows up as latency instead of a slower sender
  (no coordinated omission).

`run_generators` runs the closed loop in several processes (each with its share of the
connections) and merges their latencies.

The harness part: free ports, spawning and stopping the processes under test, waiting until
they answer, a Mitra environment (generated secrets, a database, migrated) and a CPU meter
that reads /proc to say which processes used the cores during a run.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import contextlib
import ipaddress
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson

from mitra.whatsapp import envelopes
from mitra.whatsapp.signature import HEADER, sign

LOOPBACK = "127.0.0.1"
WEBHOOK_PATH = "/webhooks/whatsapp"  # mitra.web.app.WEBHOOK_PATH, without importing the app


# ---- requests ---------------------------------------------------------------------------


def http_request(
    host: str, port: int, path: str, body: bytes, headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """The bytes of one HTTP/1.1 POST with a Content-Length (the connection is kept alive)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def http_get(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("latin-1")


@dataclass(frozen=True)
class WebhookSpec:
    """What the signed webhooks look like: whose secret, which number, how many citizens.

    `run_id` (three digits) keeps the citizens and wamids of one run apart from another's.
    """

    app_secret: str
    phone_number_id: str
    citizens: int = 5000
    run_id: int = 100

    def wa_id(self, citizen: int) -> str:
        # 91 + 10 digits, like an Indian mobile number: the run, then the citizen.
        return f"91{self.run_id:03d}{citizen:07d}"

    def wamid(self, index: int) -> str:
        return f"wamid.HBgMBENCH{self.run_id:03d}{index:010d}"


def new_run_id() -> int:
    return 100 + int.from_bytes(os.urandom(2), "big") % 900


TEXTS = ("Hi", "menu", "I need a caste certificate", "help", "నమస్తే", "Water supply complaint")


def webhook_body(
    spec: WebhookSpec, citizen: int, index: int, text: str, *, timestamp: int | None = None
) -> bytes:
    """A text message from citizen `citizen` with the wamid of `index`, as Meta sends it."""
    payload = envelopes.text_envelope(
        spec.wa_id(citizen),
        text,
        phone_number_id=spec.phone_number_id,
        name=f"Citizen {citizen}",
        wamid=spec.wamid(index),
        timestamp=timestamp,
    )
    return orjson.dumps(payload)


def signed_request(host: str, port: int, path: str, body: bytes, app_secret: str) -> bytes:
    return http_request(
        host,
        port,
        path,
        body,
        (
            ("User-Agent", "facebookexternalua"),
            ("Content-Type", "application/json"),
            (HEADER, sign(body, app_secret)),
        ),
    )


def build_webhook_requests(
    host: str, port: int, path: str, spec: WebhookSpec, start: int, count: int
) -> list[bytes]:
    """Requests `start` … `start + count - 1`: request i comes from citizen i mod citizens."""
    now = int(time.time())
    return [
        signed_request(
            host,
            port,
            path,
            webhook_body(spec, i % spec.citizens, i, TEXTS[i % len(TEXTS)], timestamp=now),
            spec.app_secret,
        )
        for i in range(start, start + count)
    ]


# ---- the client -------------------------------------------------------------------------


class ProtocolError(Exception):
    """The server answered something this client does not parse (e.g. chunked)."""


def parse_head(head: bytes) -> tuple[int, int]:
    """(status, content length) of a response head (status line and headers, no blank line)."""
    if not head.startswith(b"HTTP/1.") or len(head) < 12:
        raise ProtocolError(f"not an HTTP/1.x response: {head[:40]!r}")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        if b"\r\ntransfer-encoding:" in lower:
            raise ProtocolError("chunked responses are not supported")
        return status, 0
    end = lower.find(b"\r\n", at + 2)
    return status, int(lower[at + 17 : end if end >= 0 else len(lower)].strip())


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, owner: _Pool) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.started_ns = 0
        self.busy = False
        self.closed = False
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, request: bytes, started_ns: int) -> None:
        assert self.transport is not None
        self.busy = True
        self.started_ns = started_ns
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while self.busy:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                status, length = parse_head(bytes(buf[:end]))
            except (ProtocolError, ValueError):
                self.busy = False
                self.owner._failed(self)
                if self.transport is not None:
                    self.transport.close()
                return
            total = end + 4 + length
            if len(buf) < total:
                return
            del buf[:total]
            self.busy = False
            self.owner._answered(self, status, time.perf_counter_ns())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        was_busy = self.busy
        if was_busy:
            self.busy = False
            self.owner._failed(self)
        self.owner._lost(self, was_busy)


@dataclass
class LoadResult:
    """What one run measured. Latencies are nanoseconds, in completion order."""

    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    started_ns: int = 0
    finished_ns: int = 0
    cpu_seconds: float = 0.0  # the generator's own CPU during the run
    timed_out: bool = False

    @property
    def completed(self) -> int:
        return len(self.latencies_ns)

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def elapsed_s(self) -> float:
        return max(1e-9, (self.finished_ns - self.started_ns) / 1e9)

    @property
    def throughput(self) -> float:
        """Answered requests per second (any status)."""
        return self.completed / self.elapsed_s

    def to_wire(self) -> dict[str, Any]:
        return {
            "latencies": base64.b64encode(self.latencies_ns.tobytes()).decode(),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "errors": self.errors,
            "started_ns": self.started_ns,
            "finished_ns": self.finished_ns,
            "cpu_seconds": self.cpu_seconds,
            "timed_out": self.timed_out,
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> LoadResult:
        latencies = array("q")
        latencies.frombytes(base64.b64decode(wire["latencies"]))
        return cls(
            latencies_ns=latencies,
            statuses={int(k): int(v) for k, v in wire["statuses"].items()},
            errors=int(wire["errors"]),
            started_ns=int(wire["started_ns"]),
            finished_ns=int(wire["finished_ns"]),
            cpu_seconds=float(wire["cpu_seconds"]),
            timed_out=bool(wire["timed_out"]),
        )

    @classmethod
    def merge(cls, results: Sequence[LoadResult]) -> LoadResult:
        merged = cls()
        for r in results:
            merged.latencies_ns.extend(r.latencies_ns)
            for status, n in r.statuses.items():
                merged.statuses[status] = merged.statuses.get(status, 0) + n
            merged.errors += r.errors
            merged.cpu_seconds += r.cpu_seconds
            merged.timed_out = merged.timed_out or r.timed_out
        if results:
            merged.started_ns = min(r.started_ns for r in results)
            merged.finished_ns = max(r.finished_ns for r in results)
        return merged


def _cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Pool(abc.ABC):
    """Connections to one server, reopened when the server closes one (bounded)."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        self.host = host
        self.port = port
        self.size = connections
        self.conns: list[_Connection] = []
        self.result = LoadResult()
        self._reconnects_left = 4 * connections + 16
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        opened = await asyncio.gather(
            *(
                loop.create_connection(lambda: _Connection(self), self.host, self.port)
                for _ in range(self.size)
            )
        )
        self.conns = [protocol for _, protocol in opened]

    def close(self) -> None:
        self._closing = True
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()

    # Called by the connections.
    def _answered(self, conn: _Connection, status: int, now_ns: int) -> None:
        result = self.result
        result.latencies_ns.append(now_ns - conn.started_ns)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        self._next(conn, now_ns)

    def _failed(self, conn: _Connection) -> None:
        self.result.errors += 1

    def _lost(self, conn: _Connection, was_busy: bool) -> None:
        """Reopen a closed connection: always after an idle close (keep-alive timeout), a
        bounded number of times after one that dropped a request."""
        if self._closing:
            return
        if conn in self.conns:
            self.conns.remove(conn)
        if was_busy:
            if self._reconnects_left <= 0:
                self._idle_forever(conn)
                return
            self._reconnects_left -= 1
        task = asyncio.get_running_loop().create_task(self._reopen())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reopen(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _Connection(self), self.host, self.port)
        except OSError:
            self._idle_forever(None)
            return
        if self._closing:
            assert conn.transport is not None
            conn.transport.close()
            return
        self.conns.append(conn)
        self._next(conn, time.perf_counter_ns())

    @abc.abstractmethod
    def _next(self, conn: _Connection, now_ns: int) -> None:
        """Send this connection's next request, or park it."""

    @abc.abstractmethod
    def _idle_forever(self, conn: _Connection | None) -> None:
        """Account for a connection that will send nothing more."""


class ClosedLoop(_Pool):
    """`connect()`, then `run(requests)`: every connection sends its next request as soon as
    the last one is answered, until every request is answered (or the timeout)."""

    def __init__(self, host: str, port: int, concurrency: int) -> None:
        super().__init__(host, port, concurrency)
        self._requests: Sequence[bytes] = ()
        self._index = 0
        self._done: asyncio.Future[None] | None = None

    @property
    def completed(self) -> int:
        return self.result.completed + self.result.errors

    async def run(self, requests: Sequence[bytes], *, time_limit: float = 300.0) -> LoadResult:
        loop = asyncio.get_running_loop()
        self._requests = requests
        self._index = 0
        self._done = loop.create_future()
        self.result = LoadResult()
        if not requests:
            return self.result
        cpu = _cpu_now()
        self.result.started_ns = start = time.perf_counter_ns()
        for conn in list(self.conns):
            self._next(conn, start)
        try:
            await asyncio.wait_for(asyncio.shield(self._done), time_limit)
        except TimeoutError:
            self.result.timed_out = True
        if self.result.timed_out or not self.result.finished_ns:
            self.result.finished_ns = time.perf_counter_ns()
        self.result.cpu_seconds = _cpu_now() - cpu
        return self.result

    def _next(self, conn: _Connection, now_ns: int) -> None:
        if self._index < len(self._requests) and not conn.closed:
            request = self._requests[self._index]
            self._index += 1
            conn.send(request, now_ns)
        self._check_done()

    def _failed(self, conn: _Connection) -> None:
        super()._failed(conn)
        self._check_done()

    def _idle_forever(self, conn: _Connection | None) -> None:
        if not self.conns and self._done is not None and not self._done.done():
            self._done.set_result(None)  # nothing left to send on

    def _check_done(self) -> None:
        if (
            self._done is not None
            and not self._done.done()
            and self.completed >= len(self._requests)
        ):
            self.result.finished_ns = time.perf_counter_ns()
            self._done.set_result(None)


async def run_closed_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    *,
    time_limit: float = 300.0,
) -> LoadResult:
    """Connect `concurrency` connections, send every request, close; see `ClosedLoop`."""
    client = ClosedLoop(host, port, max(1, min(concurrency, len(requests) or 1)))
    await client.connect()
    try:
        return await client.run(requests, time_limit=time_limit)
    finally:
        client.close()


class OpenLoopClient(_Pool):
    """Requests go out at the times the caller submits them; a request that finds every
    connection busy waits for one, and its latency still runs from its scheduled time."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        super().__init__(host, port, connections)
        self._idle: list[_Connection] = []
        self._waiting: list[tuple[bytes, int]] = []  # a FIFO, consumed from _head
        self._head = 0
        self.submitted = 0

    async def connect(self) -> None:
        await super().connect()
        self._idle = list(self.conns)

    @property
    def answered(self) -> int:
        return self.result.completed + self.result.errors

    @property
    def backlog(self) -> int:
        """Submitted, not yet sent (every connection busy)."""
        return len(self._waiting) - self._head

    def submit(self, request: bytes, scheduled_ns: int) -> None:
        self.submitted += 1
        if self._idle:
            self._idle.pop().send(request, scheduled_ns)
        else:
            self._waiting.append((request, scheduled_ns))

    async def drain(self, time_limit: float) -> bool:
        """Wait until every submitted request is answered; False if time runs out."""
        deadline = time.monotonic() + time_limit
        while self.answered < self.submitted:
            if time.monotonic() > deadline or not self.conns:
                return False
            await asyncio.sleep(0.01)
        return True

    def _next(self, conn: _Connection, now_ns: int) -> None:
        if conn.closed:
            return
        if self._head < len(self._waiting):
            request, scheduled = self._waiting[self._head]
            self._head += 1
            if self._head > 4096 and self._head * 2 > len(self._waiting):
                del self._waiting[: self._head]
                self._head = 0
            conn.send(request, scheduled)
        else:
            self._idle.append(conn)

    def _lost(self, conn: _Connection, was_busy: bool) -> None:
        if conn in self._idle:
            self._idle.remove(conn)
        super()._lost(conn, was_busy)

    def _idle_forever(self, conn: _Connection | None) -> None:
        pass


# ---- generator processes ----------------------------------------------------------------


@dataclass(frozen=True)
class GeneratorJob:
    """One generator process's share: requests [start, start + count) on `concurrency`
    connections to host:port."""

    host: str
    port: int
    path: str
    spec: WebhookSpec
    start: int
    count: int
    concurrency: int
    timeout: float = 300.0

    def to_json(self) -> str:
        return json.dumps(
            {
                "host": self.host,
                "port": self.port,
                "path": self.path,
                "spec": {
                    "app_secret": self.spec.app_secret,
                    "phone_number_id": self.spec.phone_number_id,
                    "citizens": self.spec.citizens,
                    "run_id": self.spec.run_id,
                },
                "start": self.start,
                "count": self.count,
                "concurrency": self.concurrency,
                "timeout": self.timeout,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> GeneratorJob:
        d = json.loads(text)
        return cls(
            host=d["host"],
            port=int(d["port"]),
            path=d["path"],
            spec=WebhookSpec(**d["spec"]),
            start=int(d["start"]),
            count=int(d["count"]),
            concurrency=int(d["concurrency"]),
            timeout=float(d["timeout"]),
        )


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop when it is installed (it is, with uvicorn[standard]); asyncio's if not."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def generator_main() -> None:
    """A generator process: read a job (one JSON line) on stdin, build the requests, connect,
    print `ready`, wait for `go`, run, print `p <answered>` lines as it goes and finally
    `result <json>`. Started by `run_generators`."""
    job = GeneratorJob.from_json(sys.stdin.readline())
    requests = build_webhook_requests(job.host, job.port, job.path, job.spec, job.start, job.count)

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    async def main() -> None:
        client = ClosedLoop(job.host, job.port, max(1, min(job.concurrency, job.count)))
        await client.connect()
        say("ready")
        loop = asyncio.get_running_loop()
        go = await loop.run_in_executor(None, sys.stdin.readline)
        if go.strip() != "go":
            client.close()
            return

        async def report() -> None:
            while True:
                await asyncio.sleep(0.2)
                say(f"p {client.completed}")

        reporter = asyncio.create_task(report())
        try:
            result = await client.run(requests, time_limit=job.timeout)
        finally:
            reporter.cancel()
            client.close()
        say("result " + json.dumps(result.to_wire()))

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main())


@dataclass
class GeneratorRun:
    """What `run_generators` returns: the merged result and the generators' process ids."""

    result: LoadResult
    pids: list[int]


async def run_generators(
    host: str,
    port: int,
    path: str,
    spec: WebhookSpec,
    *,
    start: int,
    count: int,
    concurrency: int,
    processes: int = 1,
    time_limit: float = 300.0,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[list[int]], None] | None = None,
    on_finish: Callable[[], None] | None = None,
) -> GeneratorRun:
    """Run the closed loop in `processes` processes (connections and requests split evenly),
    started together once every one has built its requests and connected; merge the results.
    `on_start(pids)` is called just before they start and `on_finish()` as soon as the last
    result is in (to take CPU counters around the run)."""
    processes = max(1, min(processes, count or 1))
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    conns = [
        concurrency // processes + (1 if i < concurrency % processes else 0)
        for i in range(processes)
    ]
    children: list[asyncio.subprocess.Process] = []
    progress = [0] * processes
    try:
        offset = start
        for i in range(processes):
            job = GeneratorJob(
                host, port, path, spec, offset, shares[i], max(1, conns[i]), time_limit
            )
            offset += shares[i]
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from mitra.bench.loadgen import generator_main; generator_main()",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=64 * 1024 * 1024,
            )
            assert child.stdin is not None
            child.stdin.write(job.to_json().encode() + b"\n")
            await child.stdin.drain()
            children.append(child)

        async def line_of(child: asyncio.subprocess.Process) -> str:
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), timeout=120)
            if not line:
                assert child.stderr is not None
                err = (await child.stderr.read()).decode(errors="replace")[-2000:]
                raise RuntimeError(f"load generator process exited early: {err}")
            return line.decode().strip()

        for child in children:
            ready = await line_of(child)
            if ready != "ready":
                raise RuntimeError(f"load generator said {ready!r} instead of ready")
        if on_start is not None:
            on_start([c.pid for c in children])
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            await child.stdin.drain()

        async def follow(i: int, child: asyncio.subprocess.Process) -> LoadResult:
            while True:
                line = await line_of(child)
                if line.startswith("p "):
                    progress[i] = int(line[2:])
                    if on_progress is not None:
                        on_progress(sum(progress))
                elif line.startswith("result "):
                    return LoadResult.from_wire(json.loads(line[7:]))

        results = await asyncio.wait_for(
            asyncio.gather(*(follow(i, c) for i, c in enumerate(children))), time_limit + 60
        )
        if on_finish is not None:
            on_finish()
        if on_progress is not None:
            on_progress(sum(r.completed + r.errors for r in results))
        return GeneratorRun(LoadResult.merge(results), [c.pid for c in children])
    finally:
        for child in children:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
            await child.wait()


# ---- statistics -------------------------------------------------------------------------


def percentile_ms(sorted_ns: Sequence[int], q: float) -> float | None:
    """Nearest-rank percentile (q in 0…100) of sorted nanoseconds, in milliseconds."""
    if not sorted_ns:
        return None
    rank = max(1, min(len(sorted_ns), int(-(-q * len(sorted_ns) // 100))))
    return sorted_ns[rank - 1] / 1e6


def latency_summary(latencies_ns: Sequence[int]) -> dict[str, float | None]:
    ordered = sorted(latencies_ns)
    return {
        "p50_ms": percentile_ms(ordered, 50),
        "p90_ms": percentile_ms(ordered, 90),
        "p99_ms": percentile_ms(ordered, 99),
        "max_ms": ordered[-1] / 1e6 if ordered else None,
    }


# ---- processes under test ---------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class Spawned:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def warnings(self) -> int:
        """Lines logged at WARNING or above (the Mitra log format names the level)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        return sum(
            1
            for line in text.splitlines()
            if " WARNING " in line or " ERROR " in line or " CRITICAL " in line
        )


def spawn(name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path) -> Spawned:
    """Start a process in its own session (a ^C to the bench does not reach it; `stop` does),
    logging to log_dir/name.log."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            list(argv),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Spawned(name, process, log_path)


def stop(spawned: Spawned, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL to the process group if it has not exited within `timeout`."""
    process = spawned.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    # Leftovers of the group (uvicorn's worker processes) go with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def http_status(host: str, port: int, path: str, time_limit: float = 2.0) -> int | None:
    """Status of a GET, or None if nothing answers."""
    try:
        async with asyncio.timeout(time_limit):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(http_get(host, port, path))
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                return parse_head(head[:-4])[0]
            finally:
                writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError, ValueError):
        return None


async def wait_ready(
    spawned: Spawned, host: str, port: int, path: str, *, time_limit: float = 60.0
) -> None:
    """Until GET path answers 200; raise with the process's log if it exits or times out."""
    deadline = time.monotonic() + time_limit
    while True:
        if spawned.process.poll() is not None:
            raise RuntimeError(
                f"{spawned.name} exited with {spawned.process.returncode}:\n{spawned.log_tail()}"
            )
        if await http_status(host, port, path) == 200:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{spawned.name} did not answer in {time_limit:.0f}s:\n{spawned.log_tail()}"
            )
        await asyncio.sleep(0.1)


@dataclass
class MitraEnvironment:
    """Generated secrets and a migrated database, as the environment of spawned processes."""

    env: dict[str, str]  # the full environment for children (os.environ plus ours)
    settings: Any  # mitra.config.Settings with database_url resolved
    data_dir: Path
    embedded: bool  # whether the bench started its own PostgreSQL

    @property
    def database_url(self) -> str:
        return str(self.settings.libpq_url)

    def postgres_pid(self) -> int | None:
        """The embedded PostgreSQL's postmaster (its backends are its children)."""
        if not self.embedded:
            return None
        try:
            first = (self.data_dir / "postgres" / "postmaster.pid").read_text().split()[0]
        except (OSError, IndexError):
            return None
        return int(first) if first.isdigit() else None

    def cpu_groups(self) -> tuple[dict[str, list[int]], dict[str, str]]:
        """(roots, by_name) for CpuMeter: our own PostgreSQL if we started it, else every
        process named postgres."""
        pid = self.postgres_pid()
        if pid is not None:
            return {"postgres": [pid]}, {}
        return {}, {"postgres": "postgres"}


@contextlib.contextmanager
def mitra_environment(
    public_url: str, extra: dict[str, str] | None = None
) -> Iterator[MitraEnvironment]:
    """Secrets generated into a temporary MITRA_DATA_DIR, the database of MITRA_DATABASE_URL
    if set (else an embedded PostgreSQL in that directory, stopped on exit), migrated.

    The bench's own os.environ is left as it was found."""
    from mitra.config import load_settings
    from mitra.runtime import database, demo_defaults
    from mitra.store.migrate import migrate

    data_dir = Path(tempfile.mkdtemp(prefix="mitra-bench-"))
    ours = demo_defaults(data_dir, public_url)
    ours.pop("MITRA_FAKE_GRAPH", None)
    ours.update(extra or {})
    ours.setdefault("MITRA_LOG_LEVEL", "WARNING")
    configured_url = os.environ.get("MITRA_DATABASE_URL") or None
    overrides: dict[str, Any] = {
        name.removeprefix("MITRA_").lower(): value
        for name, value in ours.items()
        if name != "MITRA_LOG_LEVEL"
    }
    saved = os.environ.get("MITRA_DATABASE_URL")
    if configured_url is None:
        # The embedded server keeps a lock directory under XDG_RUNTIME_DIR, which it defaults
        # to the data directory: give it one that outlives our temporary data directory.
        runtime = Path(tempfile.gettempdir()) / f"mitra-bench-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    try:
        settings = load_settings(**overrides)
        with database(settings, database_name="mitra_bench") as resolved:
            migrate(resolved)
            assert resolved.database_url is not None
            ours["MITRA_DATABASE_URL"] = resolved.database_url
            env = {**os.environ, **ours}
            yield MitraEnvironment(env, resolved, data_dir, embedded=configured_url is None)
    finally:
        if saved is None:
            os.environ.pop("MITRA_DATABASE_URL", None)
        else:
            os.environ["MITRA_DATABASE_URL"] = saved
        shutil.rmtree(data_dir, ignore_errors=True)


# ---- where the CPU went -----------------------------------------------------------------

_TICK = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0


def _proc_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command name, CPU ticks used) for every process we can read."""
    table: dict[int, tuple[int, str, int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        open_paren, close_paren = raw.find(b"("), raw.rfind(b")")
        comm = raw[open_paren + 1 : close_paren].decode(errors="replace")
        fields = raw[close_paren + 2 :].split()
        # fields[0] is the state (field 3); ppid is field 4, utime 14, stime 15.
        table[int(entry)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]))
    return table


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    try:
        with open("/proc/stat", "rb") as f:
            first = f.readline().split()[1:]
    except OSError:
        return 0, 0
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values[:8]) - idle, sum(values[:8])


class CpuMeter:
    """Cores used by groups of processes between `start()` and `stop()`.

    A group is a set of root pids (with all their descendants) or, for `by_name`, every
    process with that command name (PostgreSQL's backends). Linux only; elsewhere it reports
    nothing. Processes that exit inside the window lose their ticks."""

    def __init__(self, by_name: dict[str, str] | None = None) -> None:
        self.roots: dict[str, list[int]] = {}
        self.by_name = by_name or {}
        self._before: dict[str, int] = {}
        self._machine_before = (0, 0)
        self._t0 = 0.0

    def _sample(self) -> dict[str, int]:
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        totals: dict[str, int] = {}
        for group, roots in self.roots.items():
            seen: set[int] = set()
            stack = list(roots)
            while stack:
                pid = stack.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                stack.extend(children.get(pid, []))
            totals[group] = sum(table[p][2] for p in seen if p in table)
        for group, comm in self.by_name.items():
            totals[group] = sum(t for _, c, t in table.values() if c == comm)
        return totals

    def start(self, roots: dict[str, list[int]]) -> None:
        self.roots = {k: list(v) for k, v in roots.items()}
        self._before = self._sample()
        self._machine_before = _machine_ticks()
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores (1.0 = one core busy the whole time) per group, and `machine` (all cores)."""
        elapsed = max(1e-6, time.monotonic() - self._t0)
        after = self._sample()
        cores = {
            group: round((after.get(group, 0) - self._before.get(group, 0)) / _TICK / elapsed, 2)
            for group in after
        }
        busy0, total0 = self._machine_before
        busy1, total1 = _machine_ticks()
        if total1 > total0:
            cores["machine"] = round((busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1), 2)
        return cores


def other_cores(cpu: dict[str, float], groups: Sequence[str]) -> float | None:
    """Cores the machine spent outside `groups` (other processes: noise in the figures)."""
    if "machine" not in cpu:
        return None
    return round(max(0.0, cpu["machine"] - sum(cpu.get(g, 0.0) for g in groups)), 2)


# ---- profiles (optional: py-spy) --------------------------------------------------------


class PySpy:
    """`py-spy record` on processes for the length of a measured run, in raw (collapsed
    stack) format under `out_dir`; `summary()` says where each process spent its samples."""

    def __init__(self, out_dir: Path) -> None:
        executable = shutil.which("py-spy")
        if executable is None:
            raise RuntimeError("--profile needs py-spy: pip install py-spy")
        self.executable = executable
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.files: dict[str, Path] = {}

    def start(self, label: str, pid: int, rate: int = 100) -> None:
        path = self.out_dir / f"{label.replace(' ', '-')}.txt"
        self.files[label] = path
        with path.with_suffix(".log").open("wb") as log:
            self.running[label] = subprocess.Popen(  # noqa: S603 - py-spy from PATH, our pid
                [
                    self.executable,
                    *("record", "--pid", str(pid), "--subprocesses", "--nonblocking"),
                    *("--rate", str(rate), "--format", "raw", "--output", str(path)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        """Ask each recorder to write its profile (SIGINT), and wait for it."""
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
        for process in self.running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.running.clear()

    def summary(self, top: int = 12) -> dict[str, dict[str, Any]]:
        return {
            label: {"file": str(path), **profile_summary(path, top)}
            for label, path in self.files.items()
            if path.exists()
        }


def profile_summary(path: Path, top: int = 12) -> dict[str, Any]:
    """From a raw py-spy profile: the frames with the most samples of their own (`self`),
    and Mitra's functions by the samples spent in or under them (`mitra`), in percent."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            if "mitra/" in frame and "mitra/cli.py" not in frame and "__main__" not in frame:
                inclusive[frame] = inclusive.get(frame, 0) + n

    def ranked(counts: dict[str, int]) -> list[tuple[float, str]]:
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [(round(100 * n / max(1, total), 1), frame) for frame, n in best]

    return {"samples": total, "self": ranked(own), "mitra": ranked(inclusive)}
