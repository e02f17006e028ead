"""Department systems: the adapter contract (`contract/openapi.yaml`), the one client that
calls them (`client.DepartmentClient`), and the sandbox that stands in for them."""

from __future__ import annotations

from mitra.departments.client import ClientPolicy, DepartmentClient, DepartmentEndpoint
from mitra.departments.contract import load_contract
from mitra.departments.errors import DepartmentError

__all__ = [
    "ClientPolicy",
    "DepartmentClient",
    "DepartmentEndpoint",
    "DepartmentError",
    "load_contract",
]
