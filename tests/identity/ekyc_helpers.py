"""Shared by the e-KYC tests: Aadhaar-shaped numbers, a clock that moves when told, and the
sandbox served by a real uvicorn on a free port."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

from mitra.conversation.validators import verhoeff_valid


def aadhaar(first11: str) -> str:
    """`first11` completed with its Verhoeff check digit: a number the sandbox has enrolled."""
    for digit in "0123456789":
        if verhoeff_valid(first11 + digit):
            return first11 + digit
    raise AssertionError("every 11 digits have exactly one Verhoeff check digit")


def broken(number: str) -> str:
    """`number` with a wrong check digit."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


class FrozenClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextlib.contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """Run `app` under uvicorn in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # log_config=None: leave logging alone, so caplog sees uvicorn's records too.
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the e-KYC sandbox did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
