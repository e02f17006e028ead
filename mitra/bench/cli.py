"""The `mitra bench` commands. `register(bench_app)` adds them to the `bench` sub-app.

Heavy imports happen inside the commands, so `mitra --help` stays fast.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        refresh_per_second=4,
        transient=True,
    )


def _consoles(as_json: bool) -> tuple[Console, Console]:
    """(where tables and progress go, where errors go): stderr for both with --json, so
    stdout carries nothing but the JSON."""
    err = Console(stderr=True)
    return (err if as_json else Console()), err


def _emit(as_json: bool, figures: dict[str, Any]) -> None:
    if as_json:
        typer.echo(json.dumps(figures, indent=2))


def ingest(
    url: Annotated[
        str | None,
        typer.Option(
            help="Benchmark a running `mitra serve` (its base or webhook URL, on this machine)"
            " instead of starting one. Signs with MITRA_WHATSAPP_APP_SECRET."
        ),
    ] = None,
    requests: Annotated[int, typer.Option(min=1, help="Measured requests per endpoint.")] = 40_000,
    concurrency: Annotated[int, typer.Option(min=1, help="Connections, one request each.")] = 64,
    citizens: Annotated[int, typer.Option(min=1, help="Distinct senders.")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Web processes (mitra serve --workers).")] = 1,
    generators: Annotated[int, typer.Option(min=1, help="Load generator processes.")] = 1,
    warmup: Annotated[int, typer.Option(min=0, help="Unmeasured requests first.")] = 2000,
    bare: Annotated[
        bool, typer.Option(help="Also measure the bare endpoint (read the body, answer 200).")
    ] = True,
    profile: Annotated[
        str | None,
        typer.Option(help="Record py-spy profiles of Mitra's server into this directory."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Webhook ingest: signed webhooks acknowledged per second, p50/p99 latency, side by side
    with a bare endpoint under the same server and the same load generator."""
    from mitra.bench.ingest import IngestConfig, print_ingest_report, run_ingest_sync

    out, err = _consoles(as_json)
    config = IngestConfig(
        url=url,
        requests=requests,
        concurrency=concurrency,
        citizens=citizens,
        workers=workers,
        generators=generators,
        warmup=warmup,
        bare=bare,
        profile_dir=profile,
    )
    try:
        with _progress(out) as progress:
            report = run_ingest_sync(config, progress)
    except (ValueError, RuntimeError) as exc:
        err.print(f"[bold red]Bench failed:[/] {exc}")
        raise typer.Exit(1) from None
    print_ingest_report(out, report)
    _emit(as_json, report.to_json())


def e2e(
    citizens: Annotated[int, typer.Option(min=1, help="Distinct citizens.")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Web processes (mitra serve --workers).")] = 1,
    worker_processes: Annotated[int, typer.Option(min=1, help="`mitra worker` processes.")] = 1,
    processors: Annotated[int, typer.Option(min=1, help="mitra worker --processors.")] = 2,
    send_rate: Annotated[float, typer.Option(min=1, help="MITRA_SEND_RATE for the run.")] = 2000.0,
    latency_rate: Annotated[
        float, typer.Option(min=1, help="Messages/s offered in the latency phase.")
    ] = 300.0,
    latency_seconds: Annotated[float, typer.Option(min=0.1, help="Latency phase length.")] = 20.0,
    max_rate: Annotated[
        float, typer.Option(min=1, help="Messages/s offered in the sustained phase.")
    ] = 1000.0,
    max_seconds: Annotated[float, typer.Option(min=0.1, help="Sustained phase length.")] = 20.0,
    warmup: Annotated[
        bool,
        typer.Option(
            help="Take every citizen past consent first (Hi, then a language);"
            " --no-warmup measures the consent reply to Hi instead."
        ),
    ] = True,
    warmup_rate: Annotated[float, typer.Option(min=1, help="Messages/s in the warm-up.")] = 500.0,
    connections: Annotated[int, typer.Option(min=1, help="Webhook connections.")] = 32,
    drain_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the last replies of a phase.")
    ] = 60.0,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Record py-spy profiles of every process in the sustained phase into this"
            " directory."
        ),
    ] = None,
    mix: Annotated[
        str,
        typer.Option(
            help="What citizens send: 'menu' (menu and help, no department), 'realistic'"
            " (menu, a service code, search, a status lookup against the sandbox departments)"
            " or 'bookings' (a darshan booking: live inventory, a hold, a payment link)."
        ),
    ] = "menu",
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """End to end: citizens' messages answered (webhook in → reply at the Graph API), reply
    latency at a fixed offered load and the reply rate sustained at a higher one."""
    from mitra.bench.e2e import E2EConfig, print_e2e_report, run_e2e_sync

    out, err = _consoles(as_json)
    config = E2EConfig(
        citizens=citizens,
        workers=workers,
        worker_processes=worker_processes,
        processors=processors,
        send_rate=send_rate,
        latency_rate=latency_rate,
        latency_seconds=latency_seconds,
        max_rate=max_rate,
        max_seconds=max_seconds,
        warmup=warmup,
        warmup_rate=warmup_rate,
        connections=connections,
        drain_timeout=drain_timeout,
        profile_dir=profile,
        mix=mix,
    )
    try:
        with _progress(out) as progress:
            report = run_e2e_sync(config, progress)
    except (ValueError, RuntimeError) as exc:
        err.print(f"[bold red]Bench failed:[/] {exc}")
        raise typer.Exit(1) from None
    print_e2e_report(out, report)
    _emit(as_json, report.to_json())


def documents(
    count: Annotated[int, typer.Option(min=1, help="Certificates to render.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Issuing documents: render + sign and offline verification of bilingual certificates
    (the work an approval does in its transaction)."""
    from mitra.bench.documents import print_documents_report, run_documents

    out, _ = _consoles(as_json)
    with _progress(out) as progress:
        report = run_documents(count, progress)
    print_documents_report(out, report)
    _emit(as_json, report.to_json())


def grievances(
    existing: Annotated[
        int, typer.Option(min=0, help="Grievances already in the database, spread over the state.")
    ] = 200_000,
    registered: Annotated[int, typer.Option(min=1, help="Grievances to register.")] = 1000,
    lookups: Annotated[int, typer.Option(min=1, help='"Already reported?" look-ups.')] = 2000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Grievances at scale: registering one, the "already reported nearby?" look-up, and the
    SLA clock escalating a backlog."""
    from mitra.bench.grievances import print_grievances_report, run_grievances

    out, _ = _consoles(as_json)
    with _progress(out) as progress:
        report = run_grievances(existing, registered, lookups, progress)
    print_grievances_report(out, report)
    _emit(as_json, report.to_json())


def register(bench_app: typer.Typer) -> None:
    """Add `ingest`, `e2e`, `documents` and `grievances` to the `mitra bench` sub-app."""
    bench_app.command("ingest")(ingest)
    bench_app.command("e2e")(e2e)
    bench_app.command("documents")(documents)
    bench_app.command("grievances")(grievances)
