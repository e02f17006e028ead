"""The `mitra` command."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mitra.bench.cli import register as register_bench
from mitra.cases.cli import apikey_app, case_app, document_app
from mitra.catalogue.cli import catalog_app
from mitra.config import ConfigError, Settings, load_settings
from mitra.console.cli import officer_app

app = typer.Typer(
    help="Mitra: government services on WhatsApp. Run `mitra demo` to try it.",
    no_args_is_help=True,
    add_completion=False,
)
bench_app = typer.Typer(
    help="Benchmarks that print figures (throughput, latency).", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")
register_bench(bench_app)
app.add_typer(catalog_app, name="catalog")
sandbox_app = typer.Typer(help="The stand-in department systems.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(case_app, name="case")
app.add_typer(apikey_app, name="apikey")
app.add_typer(document_app, name="document")
app.add_typer(officer_app, name="officer")
console = Console()
err = Console(stderr=True)

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]


def _logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=os.environ.get("MITRA_LOG_LEVEL", level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[bold red]Configuration error:[/] {exc}")
        err.print("See the configuration table in README.md.")
        raise typer.Exit(2) from None


def _require_migrated(settings: Settings) -> None:
    from mitra.store.migrate import NotMigrated, ensure_migrated

    try:
        ensure_migrated(settings)
    except NotMigrated as exc:
        err.print(f"[bold red]Refusing to start:[/] {exc}")
        raise typer.Exit(3) from None


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="The PDF to check.", exists=True, dir_okay=False)],
    keys: Annotated[Path | None, typer.Option(help="The published keys (JSON file).")] = None,
    keys_url: Annotated[
        str | None,
        typer.Option(
            help="Where the keys are published (default MITRA_PUBLIC_URL/verify/keys.json)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Check a Mitra document offline: its signature, and that not one byte has changed."""
    from mitra.documents.cli import verify_command

    if keys is None and keys_url is None:
        public = os.environ.get("MITRA_PUBLIC_URL", "http://localhost:8000").rstrip("/")
        keys_url = public + "/verify/keys.json"
    raise typer.Exit(verify_command(path, keys, keys_url, as_json=as_json))


@app.command()
def keys() -> None:
    """Print a new document signing key (for MITRA_DOCUMENT_SIGNING_KEY; keep it secret)."""
    from mitra.documents.signing import generate_private_key_b64, load_signer

    key = generate_private_key_b64()
    err.print(
        f"key id {load_signer(key).key_id}; its public half is published at /verify/keys.json"
    )
    console.print(key)


@app.command()
def migrate() -> None:
    """Apply database migrations (MITRA_DATABASE_URL, or the embedded PostgreSQL)."""
    from mitra.runtime import database
    from mitra.store.migrate import migrate as run_migrations

    _logging("WARNING")
    with database(_settings()) as settings:
        before, after = run_migrations(settings)
    console.print(f"Database migrated: {before or 'empty'} → {after}")


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[int, typer.Option(help="Web processes to start.")] = 1,
) -> None:
    """Serve the web app: the WhatsApp webhook, /healthz (and the console and APIs).

    Stateless: run as many as you like behind a load balancer, against one database.
    """
    import uvicorn

    from mitra.runtime import database

    _logging()
    with database(_settings()) as settings:
        _require_migrated(settings)
        uvicorn.run(
            "mitra.web.asgi:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )


@app.command()
def worker(
    processors: Annotated[int, typer.Option(help="Concurrent processor loops.")] = 2,
) -> None:
    """Run background work: split webhook deliveries, answer citizens, send the outbox.

    Run as many as you like, on as many machines, against one database.
    """
    from mitra.jobs.worker import Worker
    from mitra.runtime import database

    _logging()
    with database(_settings()) as settings:
        _require_migrated(settings)
        asyncio.run(_run_until_signal(Worker(settings, processors=processors).run))


async def _run_until_signal(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(stop)


@sandbox_app.command("serve")
def sandbox_serve(host: Host = "127.0.0.1", port: Port = 8090) -> None:
    """Serve the sandbox department systems on their own (departments at /REV, /ENG, …)."""
    from mitra.departments.sandbox import serve_sandbox

    serve_sandbox(host, port)


@sandbox_app.command("samples")
def sandbox_samples() -> None:
    """Identifiers a tester can use in the demo (service numbers, references, …)."""
    from mitra.departments.sandbox import samples_table

    console.print(samples_table())


@app.command()
def demo(
    host: Host = "127.0.0.1",
    port: Port = 8000,
) -> None:
    """Everything in one process: embedded PostgreSQL, webhook, worker and a fake WhatsApp.

    Settings you set explicitly win; the rest are generated into MITRA_DATA_DIR.
    """
    from mitra.demo import run_demo

    _logging("WARNING")
    run_demo(host, port)


@app.command()
def chat(
    phone: Annotated[
        str, typer.Option(help="The simulated citizen's WhatsApp number, digits only.")
    ] = "919876543210",
    name: Annotated[str, typer.Option(help="Their WhatsApp profile name.")] = "Lakshmi",
    url: Annotated[
        str | None,
        typer.Option(help="The Mitra to talk to (default: the demo in MITRA_DATA_DIR)."),
    ] = None,
) -> None:
    """Be a citizen on WhatsApp from this terminal: talk to a running `mitra demo` (or any
    Mitra serving the fake Graph API). Choose list rows and buttons by number; /help."""
    from mitra.simulator.terminal import run_chat

    raise typer.Exit(run_chat(phone, name, url))


@app.command("fake-graph")
def fake_graph(
    host: Host = "127.0.0.1",
    port: Port = 8001,
    webhook_url: Annotated[
        str | None, typer.Option(help="Where to POST status webhooks (your Mitra's webhook).")
    ] = None,
    rate: Annotated[float, typer.Option(help="Messages per second before 130429.")] = 80.0,
) -> None:
    """Run the fake WhatsApp Graph API on its own, for anyone to point MITRA_GRAPH_API_URL at.

    Uses MITRA_WHATSAPP_PHONE_NUMBER_ID, _ACCESS_TOKEN and _APP_SECRET (to sign webhooks).
    """
    from mitra.whatsapp.fake_graph import FakeGraphConfig, serve_fake_graph

    _logging()
    missing = [
        name
        for name in (
            "MITRA_WHATSAPP_PHONE_NUMBER_ID",
            "MITRA_WHATSAPP_ACCESS_TOKEN",
            "MITRA_WHATSAPP_APP_SECRET",
        )
        if not os.environ.get(name)
    ]
    if missing:
        err.print(f"[bold red]Configuration error:[/] {', '.join(missing)} not set")
        raise typer.Exit(2)
    config = FakeGraphConfig(
        phone_number_id=os.environ["MITRA_WHATSAPP_PHONE_NUMBER_ID"],
        access_token=os.environ["MITRA_WHATSAPP_ACCESS_TOKEN"],
        app_secret=os.environ["MITRA_WHATSAPP_APP_SECRET"],
        webhook_url=webhook_url,
        rate=rate,
    )
    console.print(
        f"Fake Graph API on http://{host}:{port} (phone number id {config.phone_number_id})"
    )
    serve_fake_graph(config, host, port)


if __name__ == "__main__":  # pragma: no cover
    app()
