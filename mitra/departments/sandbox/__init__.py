"""Stand-in department systems with realistic Andhra Pradesh data, served over the adapter
contract, so the demo and the tests exercise the production client and code path.

    app = create_sandbox_app()                  # mount anywhere; departments at /{CODE}/v1/…
    client = DepartmentClient(sandbox_endpoints("http://sandbox"), transport=ASGITransport(app))
"""

from __future__ import annotations

from mitra.departments.client import DepartmentEndpoint
from mitra.departments.sandbox.app import (
    DEFAULT_TOKENS,
    DEPARTMENTS,
    create_sandbox_app,
    serve_sandbox,
)
from mitra.departments.sandbox.samples import samples, samples_table

__all__ = [
    "DEFAULT_TOKENS",
    "DEPARTMENTS",
    "create_sandbox_app",
    "samples",
    "samples_table",
    "sandbox_endpoints",
    "serve_sandbox",
]


def sandbox_endpoints(
    base_url: str, tokens: dict[str, str] | None = None
) -> list[DepartmentEndpoint]:
    """An endpoint per department for a sandbox at `base_url` (e.g. `http://localhost:8090`
    or `http://localhost:8000/sandbox` where the lead mounts it)."""
    tokens = dict(DEFAULT_TOKENS if tokens is None else tokens)
    base = base_url.rstrip("/")
    return [DepartmentEndpoint(code, f"{base}/{code}", token) for code, token in tokens.items()]
