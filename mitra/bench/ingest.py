"""`mitra bench ingest`: how many signed webhooks a second Mitra acknowledges, and how fast.

In one run, with the same generator, the same requests and the same server settings:
1. a bare endpoint (`bare_app`: read the body, answer 200) under uvicorn — the ceiling of
   uvicorn plus this generator on this machine; it also shows whether the generator can
   outrun Mitra (if the bare endpoint is much faster than Mitra, it does);
2. Mitra's webhook (`mitra serve`, spawned against a fresh migrated database; or an already
   running server given with --url), which checks the signature and the envelope, encrypts
   and commits every body before answering.

Each endpoint gets a short warm-up, then the measured requests: closed loop, `concurrency`
connections, one request in flight on each; every request a distinct wamid from one of
`citizens` citizens. Reported: acknowledgements per second, latency percentiles, non-2xx
answers, and the cores each process group used (from /proc).
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from mitra.bench.loadgen import (
    LOOPBACK,
    WEBHOOK_PATH,
    CpuMeter,
    LoadResult,
    PySpy,
    Spawned,
    WebhookSpec,
    event_loop_factory,
    free_port,
    is_loopback,
    latency_summary,
    mitra_environment,
    new_run_id,
    other_cores,
    run_generators,
    spawn,
    stop,
    wait_ready,
)

TARGET_RPS = 8000.0
TARGET_P99_MS = 25.0
TARGET_RATIO = 0.4

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The bare endpoint: read the whole body, answer 200 with no content. Nothing else."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
    b"".join(chunks)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})


@dataclass(frozen=True)
class IngestConfig:
    url: str | None = None  # a running `mitra serve` (its webhook URL); None: spawn one
    requests: int = 40_000
    concurrency: int = 64
    citizens: int = 5000
    workers: int = 1  # web processes (mitra serve --workers, and the bare endpoint's)
    generators: int = 1  # load generator processes
    warmup: int = 2000  # requests to each endpoint before measuring
    bare: bool = True
    timeout: float = 300.0  # seconds, per measured run
    profile_dir: str | None = None  # py-spy profiles of Mitra's server during its run


@dataclass
class EndpointFigures:
    name: str
    requests: int
    answered: int
    ok: int
    errors: int  # connections dropped mid-request, unparseable answers
    statuses: dict[str, int]
    elapsed_s: float
    throughput_rps: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    cpu_cores: dict[str, float]  # cores used per process group during the measured run
    timed_out: bool = False

    @classmethod
    def of(cls, name: str, requests: int, r: LoadResult, cpu: dict[str, float]) -> EndpointFigures:
        ok_latencies = r.latencies_ns
        return cls(
            name=name,
            requests=requests,
            answered=r.completed,
            ok=r.ok,
            errors=r.errors,
            statuses={str(k): v for k, v in sorted(r.statuses.items())},
            elapsed_s=round(r.elapsed_s, 3),
            throughput_rps=round(r.throughput, 1),
            **{
                k: (round(v, 3) if v is not None else None)
                for k, v in latency_summary(ok_latencies).items()
            },
            cpu_cores=cpu,
            timed_out=r.timed_out,
        )


@dataclass
class IngestReport:
    config: dict[str, Any]
    environment: dict[str, Any]
    bare: EndpointFigures | None = None
    mitra: EndpointFigures | None = None
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.bare is None or self.mitra is None or self.bare.throughput_rps <= 0:
            return None
        return round(self.mitra.throughput_rps / self.bare.throughput_rps, 3)

    def targets(self) -> dict[str, bool | None]:
        """Each target met or not (None: not measured). Nothing is met unless every measured
        request was acknowledged with a 2xx."""
        m = self.mitra
        if m is None:
            return dict.fromkeys(self._target_names())
        complete = m.ok == m.requests and not m.timed_out
        rps, p99, ratio = self._target_names()
        return {
            rps: complete and m.throughput_rps >= TARGET_RPS,
            p99: None if m.p99_ms is None else complete and m.p99_ms <= TARGET_P99_MS,
            ratio: None if self.ratio is None else complete and self.ratio >= TARGET_RATIO,
        }

    @staticmethod
    def _target_names() -> tuple[str, str, str]:
        return (
            f"throughput >= {TARGET_RPS:.0f}/s",
            f"p99 <= {TARGET_P99_MS:.0f} ms",
            f">= {TARGET_RATIO} of bare",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "bench": "ingest",
            "config": self.config,
            "environment": self.environment,
            "bare": asdict(self.bare) if self.bare else None,
            "mitra": asdict(self.mitra) if self.mitra else None,
            "ratio_to_bare": self.ratio,
            "targets": self.targets(),
            "notes": self.notes,
            "profiles": self.profiles,
        }


def environment_facts() -> dict[str, Any]:
    def has(module: str) -> bool:
        try:
            __import__(module)
        except ImportError:
            return False
        return True

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "uvloop": has("uvloop"),
        "httptools": has("httptools"),
    }


def _target(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"--url must be an http:// URL, got {url!r}")
    if not is_loopback(parts.hostname):
        raise ValueError("--url must point at this machine (127.0.0.1, localhost or ::1)")
    path = parts.path if parts.path not in ("", "/") else WEBHOOK_PATH
    return parts.hostname, parts.port or 80, path


async def _measure(
    name: str,
    host: str,
    port: int,
    path: str,
    spec: WebhookSpec,
    config: IngestConfig,
    *,
    start: int,
    server_pid: int | None,
    pg_groups: tuple[dict[str, list[int]], dict[str, str]],
    progress: Progress | None,
    profiler: PySpy | None = None,
) -> tuple[EndpointFigures, int]:
    """Warm up, then the measured run; returns the figures and the next free request index."""
    if config.warmup > 0:
        await run_generators(
            host,
            port,
            path,
            spec,
            start=start,
            count=config.warmup,
            concurrency=config.concurrency,
            processes=config.generators,
            time_limit=config.timeout,
        )
        start += config.warmup
    task = progress.add_task(f"{name}", total=config.requests) if progress else None
    pg_roots, pg_by_name = pg_groups
    meter = CpuMeter(by_name=pg_by_name)
    cpu: dict[str, float] = {}

    def on_start(pids: list[int]) -> None:
        roots = dict(pg_roots)
        if server_pid is not None:
            roots["server"] = [server_pid]
            if profiler is not None:
                profiler.start("mitra serve", server_pid)
        meter.start(roots)

    def on_finish() -> None:
        cpu.update(meter.stop())
        if profiler is not None:
            profiler.stop()

    def on_progress(done: int) -> None:
        if progress is not None and task is not None:
            progress.update(task, completed=done)

    run = await run_generators(
        host,
        port,
        path,
        spec,
        start=start,
        count=config.requests,
        concurrency=config.concurrency,
        processes=config.generators,
        time_limit=config.timeout,
        on_progress=on_progress,
        on_start=on_start,
        on_finish=on_finish,
    )
    # The generators measure their own CPU (they have exited by now).
    cpu["generator"] = round(run.result.cpu_seconds / run.result.elapsed_s, 2)
    other = other_cores(cpu, ("server", "generator", "postgres"))
    if other is not None:
        cpu["other"] = other
    return EndpointFigures.of(name, config.requests, run.result, cpu), start + config.requests


async def run_ingest(config: IngestConfig, progress: Progress | None = None) -> IngestReport:
    """Run the bench (see the module's docstring); every process it starts is stopped."""
    report = IngestReport(config=asdict(config), environment=environment_facts())
    spawned: list[Spawned] = []
    index = 0
    profiler = PySpy(Path(config.profile_dir)) if config.profile_dir else None

    async def measure(
        name: str,
        target: tuple[str, int, str],
        spec: WebhookSpec,
        server_pid: int | None,
        pg_groups: tuple[dict[str, list[int]], dict[str, str]],
        profile: bool = False,
    ) -> EndpointFigures:
        nonlocal index
        host, port, path = target
        figures, index = await _measure(
            name,
            host,
            port,
            path,
            spec,
            config,
            start=index,
            server_pid=server_pid,
            pg_groups=pg_groups,
            progress=progress,
            profiler=profiler if profile else None,
        )
        return figures

    async def serve_and_measure(
        name: str,
        argv: list[str],
        ready_path: str,
        port: int,
        spec: WebhookSpec,
        env: dict[str, str],
        log_dir: Path,
        pg_groups: tuple[dict[str, list[int]], dict[str, str]],
        profile: bool = False,
    ) -> EndpointFigures:
        proc = spawn(name, argv, env, log_dir)
        spawned.append(proc)
        try:
            await wait_ready(proc, LOOPBACK, port, ready_path)
            target = (LOOPBACK, port, WEBHOOK_PATH)
            figures = await measure(name, target, spec, proc.pid, pg_groups, profile)
            if proc.warnings():
                report.notes.append(f"{name} logged {proc.warnings()} warnings or errors.")
            return figures
        finally:
            stop(proc)

    def bare_argv(port: int) -> list[str]:
        # The same server settings as `mitra serve`: uvicorn's defaults (uvloop and httptools
        # when installed), no access log.
        return [
            *(sys.executable, "-m", "uvicorn", "mitra.bench.ingest:bare_app"),
            *("--host", LOOPBACK, "--port", str(port), "--workers", str(config.workers)),
            *("--log-level", "warning", "--no-access-log"),
        ]

    try:
        if config.url is not None:
            target = _target(config.url)
            secret = os.environ.get("MITRA_WHATSAPP_APP_SECRET")
            if not secret:
                raise ValueError("set MITRA_WHATSAPP_APP_SECRET (the server's) to sign for --url")
            from mitra.runtime import DEMO_PHONE_NUMBER_ID

            spec = WebhookSpec(
                secret,
                os.environ.get("MITRA_WHATSAPP_PHONE_NUMBER_ID", DEMO_PHONE_NUMBER_ID),
                config.citizens,
                new_run_id(),
            )
            by_name: tuple[dict[str, list[int]], dict[str, str]] = ({}, {"postgres": "postgres"})
            log_dir = Path(tempfile.mkdtemp(prefix="mitra-bench-"))
            try:
                if config.bare:
                    port = free_port()
                    report.bare = await serve_and_measure(
                        "bare endpoint",
                        bare_argv(port),
                        "/",
                        port,
                        spec,
                        dict(os.environ),
                        log_dir,
                        by_name,
                    )
                report.mitra = await measure(f"mitra {config.url}", target, spec, None, by_name)
            finally:
                shutil.rmtree(log_dir, ignore_errors=True)
            report.notes.append("Mitra was already running: its CPU is not counted as server.")
            return report

        port = free_port()
        with mitra_environment(f"http://{LOOPBACK}:{port}") as menv:
            spec = WebhookSpec(
                menv.env["MITRA_WHATSAPP_APP_SECRET"],
                menv.env["MITRA_WHATSAPP_PHONE_NUMBER_ID"],
                config.citizens,
                new_run_id(),
            )
            if not menv.embedded:
                report.notes.append("Database: MITRA_DATABASE_URL (not an embedded PostgreSQL).")
            groups = menv.cpu_groups()
            if config.bare:
                bare_port = free_port()
                report.bare = await serve_and_measure(
                    "bare endpoint",
                    bare_argv(bare_port),
                    "/",
                    bare_port,
                    spec,
                    menv.env,
                    menv.data_dir,
                    groups,
                )
            serve_argv = [
                *(sys.executable, "-m", "mitra", "serve"),
                *("--host", LOOPBACK, "--port", str(port), "--workers", str(config.workers)),
            ]
            report.mitra = await serve_and_measure(
                "mitra webhook",
                serve_argv,
                "/healthz",
                port,
                spec,
                menv.env,
                menv.data_dir,
                groups,
                profile=True,
            )
        if profiler is not None:
            report.profiles = profiler.summary()
        return report
    finally:
        for proc in spawned:
            stop(proc)


def run_ingest_sync(config: IngestConfig, progress: Progress | None = None) -> IngestReport:
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(run_ingest(config, progress))


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def print_ingest_report(console: Console, report: IngestReport) -> None:
    table = Table(
        title="Webhook ingest (closed loop)",
        caption="CPU: cores used during the measured run by the server, the load generator,"
        " PostgreSQL, other processes (noise) and the whole machine.",
    )
    table.add_column("endpoint")
    table.add_column("acks/s", justify="right")
    for name in ("p50", "p90", "p99", "max"):
        table.add_column(f"{name} ms", justify="right")
    table.add_column("ok", justify="right")
    for name in ("server", "gen", "pg", "other", "all"):
        table.add_column(f"CPU {name}", justify="right")
    for figures in (report.bare, report.mitra):
        if figures is None:
            continue
        cpu = figures.cpu_cores
        table.add_row(
            figures.name,
            f"{figures.throughput_rps:,.0f}",
            _ms(figures.p50_ms),
            _ms(figures.p90_ms),
            _ms(figures.p99_ms),
            _ms(figures.max_ms),
            f"{figures.ok:,}" + (" (timed out)" if figures.timed_out else ""),
            *(
                f"{cpu[k]:.2f}" if k in cpu else "—"
                for k in ("server", "generator", "postgres", "other", "machine")
            ),
        )
    console.print(table)
    c = report.config
    console.print(
        f"{c['requests']:,} requests after {c['warmup']:,} warm-up, concurrency {c['concurrency']},"
        f" {c['citizens']:,} citizens, {c['workers']} web process(es),"
        f" {c['generators']} generator process(es); {report.environment['cpus']} CPUs,"
        f" uvloop={report.environment['uvloop']}, httptools={report.environment['httptools']}."
    )
    if report.bare is not None:
        gen = report.bare.cpu_cores.get("generator")
        console.print(
            f"Generator ceiling on this machine (vs the bare endpoint):"
            f" {report.bare.throughput_rps:,.0f} requests/s"
            + (f", the generator using {gen:.2f} cores." if gen is not None else ".")
        )
    if report.ratio is not None:
        console.print(f"Mitra / bare endpoint: [bold]{report.ratio:.2f}[/]")
    for name, met in report.targets().items():
        if met is not None:
            console.print(f"  target {name}: " + ("[green]met[/]" if met else "[red]not met[/]"))
    for figures in (report.bare, report.mitra):
        if figures is not None and (figures.ok < figures.requests):
            others = {k: v for k, v in figures.statuses.items() if not k.startswith("2")}
            console.print(
                f"[yellow]{figures.name}: {figures.requests - figures.ok} not acknowledged"
                f" (statuses {others}, dropped {figures.errors})[/]"
            )
    for note in report.notes:
        console.print(note)
    print_profiles(console, report.profiles)


def print_profiles(console: Console, profiles: dict[str, Any]) -> None:
    """Where each profiled process spent its samples (py-spy, --profile)."""
    for label, profile in profiles.items():
        table = Table(
            title=f"Profile of {label}: {profile['samples']:,} samples ({profile['file']})",
            show_lines=False,
        )
        table.add_column("self %", justify="right")
        table.add_column("frame (own time)")
        table.add_column("in/under %", justify="right")
        table.add_column("Mitra function")
        own, mitra = profile["self"], profile["mitra"]
        for i in range(max(len(own), len(mitra))):
            a = own[i] if i < len(own) else ("", "")
            b = mitra[i] if i < len(mitra) else ("", "")
            table.add_row(str(a[0]), str(a[1]), str(b[0]), str(b[1]))
        console.print(table)
