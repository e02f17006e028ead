"""A department client wired to an in-process sandbox: the production client and contract,
with the HTTP carried in memory (for `mitra catalog test` and the tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from mitra.departments.client import DepartmentClient
from mitra.departments.sandbox import create_sandbox_app, sandbox_endpoints

SANDBOX_BASE = "http://sandbox.test"


@asynccontextmanager
async def sandbox_client(app: Any = None) -> AsyncIterator[DepartmentClient]:
    """`app`: a sandbox app to talk to (to inject faults into it); a new one by default."""
    app = app if app is not None else create_sandbox_app()
    client = DepartmentClient(
        sandbox_endpoints(SANDBOX_BASE), transport=httpx.ASGITransport(app=app)
    )
    try:
        yield client
    finally:
        await client.aclose()
