"""Real `mitra` processes for the slow tests (tests/test_processes.py).

`Cluster` runs the fake Graph API (`mitra fake-graph`), the web app (`mitra serve`) and any
number of `mitra worker`s as child processes on free 127.0.0.1 ports, each in its own process
group with its output in a file. It waits until they answer, kills them as a crash would
(SIGKILL), restarts them, and stops every one of them at teardown. `Load` posts signed webhooks
straight to `mitra serve`, as Meta would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from mitra.whatsapp import envelopes
from mitra.whatsapp.signature import HEADER, sign

try:  # the repository root is importable (`python -m pytest`, or a configured pythonpath)
    from tests.conftest import (
        ACCESS_TOKEN,
        APP_SECRET,
        KEY,
        LOOKUP_KEY,
        PHONE_NUMBER_ID,
        TABLES,
        VERIFY_TOKEN,
    )
except ModuleNotFoundError:  # plain `pytest`: only tests/ is on sys.path
    from conftest import (  # type: ignore[no-redef]
        ACCESS_TOKEN,
        APP_SECRET,
        KEY,
        LOOKUP_KEY,
        PHONE_NUMBER_ID,
        TABLES,
        VERIFY_TOKEN,
    )

REPO = Path(__file__).resolve().parents[1]
WEBHOOK_PATH = "/webhooks/whatsapp"
TRUNCATE = f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"


def free_ports(n: int) -> list[int]:
    """`n` distinct free TCP ports on 127.0.0.1 (all held open until all are chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def child_env(
    database_url: str, *, serve_port: int, fake_port: int, data_dir: Path
) -> dict[str, str]:
    """The environment of every child: this one without MITRA_*, plus the test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITRA_")}
    env.update(
        MITRA_DATABASE_URL=database_url,
        MITRA_DATA_DIR=str(data_dir),
        MITRA_WHATSAPP_APP_SECRET=APP_SECRET,
        MITRA_WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        MITRA_WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        MITRA_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        MITRA_ENCRYPTION_KEYS=KEY,
        MITRA_LOOKUP_KEY=LOOKUP_KEY,
        MITRA_GRAPH_API_URL=f"http://127.0.0.1:{fake_port}",
        MITRA_PUBLIC_URL=f"http://127.0.0.1:{serve_port}",
        MITRA_SEND_RATE="1000",
        MITRA_CITIZEN_INTERVAL="0",
        MITRA_SEND_IN_DOUBT_AFTER="3",
        MITRA_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


async def eventually(
    check: Callable[[], Awaitable[bool]],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    detail: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Poll `check` until it is true; fail naming `what` (and `detail()`) at the deadline."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            extra = f": {await detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        await asyncio.sleep(interval)


@dataclass
class Proc:
    """One child process; `generation` numbers its restarts (each gets its own log file)."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    popen: subprocess.Popen[bytes] | None = None
    generation: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def log(self) -> Path:
        return self.logs[-1]

    @property
    def app_name(self) -> str:
        """The application_name its database connections carry (PGAPPNAME)."""
        return f"{self.name}-{self.generation}"

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> Proc:
        assert not self.running(), f"{self.name} is already running"
        self.generation += 1
        path = self.log_dir / f"{self.app_name}.log"
        self.logs.append(path)
        with path.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "mitra", *self.args],
                env={**self.env, "PGAPPNAME": self.app_name},
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as a whole
            )
        return self

    def kill9(self) -> None:
        """Crash it: SIGKILL, no chance to clean up."""
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
        if self.popen is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The group may outlive its leader (it should not: no command here forks).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def report(self, tail: int = 40) -> str:
        """Interesting lines and the tail of every log this process wrote."""
        parts = []
        for path in self.logs:
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            notable = [
                ln
                for ln in lines
                if any(w in ln for w in ("ERROR", "Traceback", "Error", "WARNING"))
            ][:30]
            parts.append(
                f"--- {path.name}: {len(lines)} lines; notable:\n"
                + "\n".join(notable)
                + f"\n--- last {tail} lines:\n"
                + "\n".join(lines[-tail:])
            )
        return "\n".join(parts)


class Cluster:
    """The fake Graph API, `mitra serve` and workers, all against `database_url`."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.database_url = database_url
        self.tmp = tmp
        self.serve_port, self.fake_port = free_ports(2)
        self.env = child_env(
            database_url, serve_port=self.serve_port, fake_port=self.fake_port, data_dir=tmp
        )
        self.serve_url = f"http://127.0.0.1:{self.serve_port}"
        self.fake_url = f"http://127.0.0.1:{self.fake_port}"
        self.procs: list[Proc] = []
        self.http = httpx.AsyncClient(timeout=10.0)

    def _proc(self, name: str, args: list[str], **env: str) -> Proc:
        proc = Proc(name, args, {**self.env, **env}, self.tmp)
        self.procs.append(proc)
        return proc

    def fake(self) -> Proc:
        return self._proc(
            "fake",
            [
                "fake-graph",
                "--port",
                str(self.fake_port),
                "--webhook-url",
                f"{self.serve_url}{WEBHOOK_PATH}",
                "--rate",
                "5000",
            ],
        ).start()

    def serve(self) -> Proc:
        return self._proc("serve", ["serve", "--port", str(self.serve_port)]).start()

    def worker(self, name: str = "worker", **env: str) -> Proc:
        return self._proc(name, ["worker"], **env).start()

    async def _answers(self, proc: Proc, url: str, timeout: float) -> None:
        async def up() -> bool:
            if not proc.running():
                raise AssertionError(f"{proc.name} exited early:\n{proc.report()}")
            try:
                return (await self.http.get(url, timeout=2.0)).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(up, timeout=timeout, what=f"{proc.name} to answer {url}")

    async def wait_serve(self, proc: Proc, timeout: float = 30.0) -> None:
        await self._answers(proc, f"{self.serve_url}/healthz", timeout)

    async def wait_fake(self, proc: Proc, timeout: float = 30.0) -> None:
        await self._answers(proc, f"{self.fake_url}/_fake/stats", timeout)

    async def fake_messages(self) -> list[dict[str, Any]]:
        """Every message the fake accepted, oldest first."""
        response = await self.http.get(f"{self.fake_url}/_fake/messages", timeout=30.0)
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages

    async def fake_stats(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.fake_url}/_fake/stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    def report(self) -> str:
        return "\n".join(p.report() for p in self.procs)

    async def aclose(self) -> None:
        for proc in self.procs:
            proc.stop()
        await self.http.aclose()


# ---- load: signed webhooks, as Meta posts them -------------------------------------------


def text_message(wa_id: str, text: str) -> tuple[str, dict[str, Any]]:
    """(wamid, envelope) of a citizen's text."""
    wamid = envelopes.new_wamid()
    return wamid, envelopes.text_envelope(wa_id, text, phone_number_id=PHONE_NUMBER_ID, wamid=wamid)


def button_tap(wa_id: str, reply_id: str, title: str) -> tuple[str, dict[str, Any]]:
    """(wamid, envelope) of a citizen tapping one of our reply buttons."""
    wamid = envelopes.new_wamid()
    body = envelopes.interactive_reply_body(reply_id, title, list_reply=False)
    value = envelopes.messages_value(
        [envelopes.contact(wa_id, "Citizen")],
        [envelopes.message("interactive", body, wa_id=wa_id, wamid=wamid)],
        phone_number_id=PHONE_NUMBER_ID,
    )
    return wamid, envelopes.envelope([value])


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    return body, {HEADER: sign(body, APP_SECRET), "Content-Type": "application/json"}


# (k, build): the citizen's k-th message (from 0), built for a wa_id as (wamid, envelope).
Step = tuple[int, Callable[[str], tuple[str, dict[str, Any]]]]


@dataclass
class Load:
    """Posts citizens' messages to `mitra serve`; remembers what was acknowledged (200)."""

    serve_url: str
    concurrency: int = 16
    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # wamid -> (wa_id, k)
    order: dict[str, list[str]] = field(default_factory=dict)  # wa_id -> acked wamids

    async def post(
        self, http: httpx.AsyncClient, wa_id: str, k: int, message: tuple[str, dict[str, Any]]
    ) -> None:
        wamid, payload = message
        body, headers = signed(payload)
        response = await http.post(WEBHOOK_PATH, content=body, headers=headers)
        assert response.status_code == 200, f"webhook answered {response.status_code}"
        self.acked[wamid] = (wa_id, k)
        self.order.setdefault(wa_id, []).append(wamid)

    async def run(self, citizens: list[str], steps: list[Step], *, timeout: float) -> None:
        """Each citizen posts `steps` in order, each after the previous one's 200; up to
        `concurrency` citizens at once, all within `timeout` seconds."""
        gate = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(base_url=self.serve_url, timeout=10.0, limits=limits) as http:

            async def citizen(wa_id: str) -> None:
                async with gate:
                    for k, build in steps:
                        await self.post(http, wa_id, k, build(wa_id))

            async with asyncio.timeout(timeout):
                await asyncio.gather(*(citizen(wa) for wa in citizens))
