"""Services switched off by an administrator at run time (the console's catalogue screen),
over what the YAML says. The processor asks for the catalogue as switched for each batch: one
look at a table of a few rows, and a catalogue (with its search index) built once per set of
switched-off services."""

from __future__ import annotations

from typing import Any

import psycopg

from mitra.catalogue.loader import Catalogue, default_catalogue

_BUILT: dict[frozenset[str], Catalogue] = {}


def switched_off(conn: psycopg.Connection[Any]) -> frozenset[str]:
    rows = conn.execute("SELECT code FROM service_switches WHERE NOT enabled").fetchall()
    return frozenset(r["code"] for r in rows)


def as_switched(base: Catalogue, off: frozenset[str]) -> Catalogue:
    """`base` with the services in `off` disabled (the same object when nothing is off)."""
    if not off:
        return base
    held = _BUILT.get(off)
    if held is None:
        versions = {
            key: service.model_copy(update={"enabled": False}) if key[0] in off else service
            for key, service in base.versions.items()
        }
        held = Catalogue(base.departments, versions)
        if len(_BUILT) > 32:
            _BUILT.clear()
        _BUILT[off] = held
    return held


def current(conn: psycopg.Connection[Any]) -> Catalogue:
    return as_switched(default_catalogue(), switched_off(conn))


def switch(
    conn: psycopg.Connection[Any], code: str, enabled: bool, by: str, reason: str | None
) -> None:
    conn.execute(
        "INSERT INTO service_switches (code, enabled, changed_by, changed_at, reason)"
        " VALUES (%s, %s, %s, now(), %s) ON CONFLICT (code) DO UPDATE SET"
        " enabled = EXCLUDED.enabled, changed_by = EXCLUDED.changed_by,"
        " changed_at = EXCLUDED.changed_at, reason = EXCLUDED.reason",
        (code, enabled, by, reason),
    )
