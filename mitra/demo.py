"""`mitra demo`: everything in one process, ready for a first message."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Any

import uvicorn
from rich.console import Console
from rich.panel import Panel

from mitra.config import ConfigError, Settings, load_settings
from mitra.web.app import WEBHOOK_PATH

console = Console()


def fake_graph_for(settings: Settings) -> Any:
    """The fake Graph API wired to this deployment's own webhook."""
    from mitra.whatsapp.fake_graph import FakeGraphConfig, create_fake_graph_app

    return create_fake_graph_app(
        FakeGraphConfig(
            phone_number_id=settings.whatsapp_phone_number_id,
            access_token=settings.whatsapp_access_token,
            app_secret=settings.whatsapp_app_secret,
            webhook_url=settings.public_url + WEBHOOK_PATH,
            rate=settings.send_rate,
            # Media URLs must carry the /fake-graph prefix it is mounted under.
            public_url=settings.graph_api_url,
        )
    )


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the demo stops server and worker together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def run_demo(host: str, port: int) -> None:
    from mitra.runtime import apply_demo_defaults, database, default_data_dir
    from mitra.store.migrate import migrate

    public_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    data_dir = default_data_dir()
    apply_demo_defaults(data_dir, public_url)
    try:
        settings = load_settings()
    except ConfigError as exc:
        console.print(f"[bold red]Configuration error:[/] {exc}")
        raise SystemExit(2) from None
    with contextlib.ExitStack() as stack:
        with console.status("Starting the embedded PostgreSQL and migrating…"):
            settings = stack.enter_context(database(settings))
            migrate(settings)
        asyncio.run(_serve_all(settings, host, port))


async def _serve_all(settings: Settings, host: str, port: int) -> None:
    from mitra.jobs.worker import Worker
    from mitra.web.app import create_web

    fake = fake_graph_for(settings) if settings.fake_graph else None
    app = create_web(settings, fake_graph=fake).asgi
    server = _QuietServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,  # a browser's open stream must not hold Ctrl+C
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.05)
    if serving.done():
        await serving
        return
    worker = asyncio.create_task(Worker(settings).run(stop))
    admin = await asyncio.to_thread(_demo_admin, settings)
    _print_welcome(settings, admin)
    await stop.wait()
    _end_event_streams()
    server.should_exit = True
    await asyncio.gather(serving, worker, return_exceptions=True)


def _end_event_streams() -> None:
    """Close the simulator's open event streams (an open /simulator page, a `mitra chat`):
    sse-starlette ends them only when told, and uvicorn waits for them before it exits."""
    from sse_starlette.sse import AppStatus

    AppStatus.should_exit = True


def _demo_admin(settings: Settings) -> tuple[str, str]:
    """The demo's console administrator: made on the first run, its temporary password kept
    (owner-only) in the data directory so a restart can say it again."""
    from mitra.console import accounts
    from mitra.store.db import connect

    kept = settings.data_dir / "console-admin.txt"
    with connect(settings) as conn, conn.transaction():
        if accounts.find(conn, "admin") is None:
            password = accounts.new_password()
            accounts.create(conn, "admin", "Demo Administrator", "admin", password)
            kept.write_text(password)
            kept.chmod(0o600)
    return "admin", kept.read_text().strip() if kept.exists() else "(see mitra officer reset)"


def _print_welcome(settings: Settings, admin: tuple[str, str] | None = None) -> None:
    base = settings.public_url
    fake = f"{base}/fake-graph"
    lines = [
        f"Webhook        {base}{WEBHOOK_PATH}",
        f"Health         {base}/healthz",
        f"API docs       {base}/api/docs",
        f"Data           {settings.data_dir}",
    ]
    if admin is not None:
        lines.append(f"Console        {base}/console  ({admin[0]} / {admin[1]}, first sign-in)")
    if settings.fake_graph:
        lines.append(f"Simulator      {base}/simulator  (WhatsApp as citizens see it)")
        lines.append(f"Fake WhatsApp  {fake}")
    console.print(Panel("\n".join(lines), title="Mitra demo is running", expand=False))
    if settings.fake_graph:
        say = '{"wa_id": "919876543210", "name": "Lakshmi", "text": "Hi"}'
        for line in (
            "Chat as a citizen in the browser (above) or in this terminal: mitra chat",
            "Or say Hi as a citizen with curl:",
            f"  curl -s -X POST {fake}/_fake/simulate"
            f" -H 'content-type: application/json' -d '{say}'",
            "See what Mitra answered:",
            f"  curl -s '{fake}/_fake/messages?to=919876543210'",
        ):
            console.print(line, soft_wrap=True, highlight=False, markup=False)
    console.print("Press Ctrl+C to stop.")
