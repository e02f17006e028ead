"""`mitra demo` as a child process, for the tests that use Mitra as people do: the citizen
simulator in a browser and `mitra chat` in a terminal.

The demo runs on the test database (its own keys, made in a temporary data directory) on a
free port, and is stopped with Ctrl+C (SIGINT), as a person stops it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """This environment without MITRA_*, plus the test database and a fresh data directory.
    Replies are not paced per citizen (the demo's default paces a chatty conversation)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITRA_")}
    env.update(
        MITRA_DATABASE_URL=database_url,
        MITRA_DATA_DIR=str(data_dir),
        MITRA_CITIZEN_INTERVAL="0",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextlib.contextmanager
def running_demo(database_url: str, data_dir: Path, *, timeout: float = 90.0) -> Iterator[str]:
    """Start `mitra demo` and yield its base URL once /healthz answers."""
    port = free_port()
    log_path = data_dir / "demo.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # our own interpreter and module
            [sys.executable, "-m", "mitra", "demo", "--host", "127.0.0.1", "--port", str(port)],
            env=demo_env(database_url, data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"mitra demo exited: {log_path.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError(f"mitra demo did not start: {log_path.read_text()}")
                time.sleep(0.2)
            yield url
        finally:
            if proc.poll() is None:
                # Ctrl+C must stop it, even with a simulator page or `mitra chat` still open.
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    raise AssertionError("mitra demo did not stop on Ctrl+C") from None
