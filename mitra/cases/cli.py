"""`mitra case …`, `mitra apikey …` and `mitra document revoke`: the officers' actions from a
shell (the same functions as the REST API: mitra.cases.actions)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from mitra.cases import actions, apikeys
from mitra.cases.desk import CaseDesk
from mitra.cases.lifecycle import CaseError
from mitra.cases.store import Actor, Scope

T = TypeVar("T")
console = Console()
err = Console(stderr=True)

case_app = typer.Typer(
    help="Applications and certificates: list, show, decide.", no_args_is_help=True
)
apikey_app = typer.Typer(help="API keys for department systems.", no_args_is_help=True)
document_app = typer.Typer(help="Issued documents.", no_args_is_help=True)

Department = Annotated[
    str | None, typer.Option(help="Only this department (REV, MUN …): what an officer sees.")
]


@contextmanager
def _desk() -> Iterator[tuple[psycopg.Connection[Any], CaseDesk]]:
    from mitra.cli import _require_migrated, _settings
    from mitra.runtime import database, join_running_demo
    from mitra.store.db import connect
    from mitra.web.app import cipher_for

    join_running_demo()
    with database(_settings()) as settings:
        _require_migrated(settings)
        with connect(settings) as conn:
            yield conn, CaseDesk.from_settings(settings, cipher_for(settings))


def _run(work: Callable[[psycopg.Connection[Any], CaseDesk], T]) -> T:
    with _desk() as (conn, desk):
        try:
            with conn.transaction():
                return work(conn, desk)
        except CaseError as exc:
            err.print(f"[bold red]{exc.kind.replace('_', ' ')}:[/] {exc.message}")
            raise typer.Exit(1) from None


@case_app.command("list")
def list_cases(
    department: Department = None,
    status: Annotated[str | None, typer.Option(help="submitted, in_review, returned …")] = None,
    overdue: Annotated[bool, typer.Option(help="Only cases past their due date.")] = False,
    limit: int = 50,
) -> None:
    """The queue, soonest due first."""
    items = _run(
        lambda conn, desk: actions.queue(
            conn,
            desk,
            Scope(department=department),
            status=status,
            overdue=True if overdue else None,
            limit=limit,
        )
    )
    table = Table("reference", "service", "status", "office", "due", "")
    for c in items:
        table.add_row(
            c["reference"],
            c["service"],
            c["status"],
            c["office_id"],
            c["due_at"][:10],
            "[red]overdue[/]" if c["overdue"] else "",
        )
    console.print(table)
    console.print(f"{len(items)} cases")


@case_app.command()
def show(reference: str, department: Department = None) -> None:
    """One case: applicant, answers, history, allowed actions."""
    case = _run(lambda conn, desk: actions.detail(conn, desk, reference, Scope(department)))
    console.print(f"[bold]{case['reference']}[/] {case['service']} — {case['status']}")
    console.print(
        f"Applicant: {case['applicant']['name']} (Aadhaar …{case['applicant']['aadhaar_last4']})"
    )
    console.print(f"Office: {case['office_id']} ({case['level']}), due {case['due_at'][:10]}")
    for key, value in case["answers"].items():
        console.print(f"  {key}: {value}")
    for e in case["history"]:
        console.print(f"  {e['at'][:16]} {e['action']:<10} {e['actor']} {e['note'] or ''}")
    console.print(f"Actions: {', '.join(case['actions']) or 'none'}")


@case_app.command()
def act(
    reference: str,
    action: Annotated[
        str,
        typer.Argument(help="review, return, approve, reject; grievances: start, resolve, reject"),
    ],
    note: Annotated[
        str | None,
        typer.Option(help="The question (return), the reason (reject), what was done (resolve)."),
    ] = None,
    officer: Annotated[str, typer.Option(help="Your name, as printed on what you sign.")] = "",
    department: Department = None,
    photo: Annotated[
        Path | None, typer.Option(help="Resolving a grievance: a JPEG or PNG of it fixed.")
    ] = None,
) -> None:
    """Decide: the citizen is told in the chat, and approval issues the signed document."""
    actor = Actor("officer", officer) if officer else Actor("officer", "cli")
    after = None
    if photo is not None:
        mime = "image/png" if photo.suffix.lower() == ".png" else "image/jpeg"
        after = (mime, photo.read_bytes())
    case = _run(
        lambda conn, desk: actions.act(
            conn, desk, reference, action, actor, Scope(department), note, after
        )
    )
    console.print(f"{case['reference']}: now [bold]{case['status']}[/]")
    if case["document_id"]:
        console.print(f"Document {case['document_id']} issued.")


@case_app.command()
def sla(
    at: Annotated[
        str | None, typer.Option(help="Run the clock as if it were this ISO time (drills).")
    ] = None,
) -> None:
    """Run one round of the SLA clock now: reminders and escalations."""
    from mitra.cases.sla import run_round

    moment = datetime.fromisoformat(at) if at else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    with _desk() as (conn, desk):
        result = run_round(conn, desk.notifier, moment)
    console.print(
        f"reminded {result.reminded}, escalated {result.escalated}, breached {result.breached}"
    )


@apikey_app.command("create")
def apikey_create(
    name: str,
    department: Department = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="cases:read, cases:write, documents:revoke")
    ] = None,
) -> None:
    """Make a key. It is shown once: store it in the department system's secrets."""
    scopes = scope or ["cases:read", "cases:write"]
    try:
        key = _run(lambda conn, desk: apikeys.create_key(conn, name, department, scopes))
    except ValueError as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(key)


@apikey_app.command("list")
def apikey_list() -> None:
    table = Table("prefix", "name", "department", "scopes", "last used", "revoked")
    for k in _run(lambda conn, desk: apikeys.list_keys(conn)):
        table.add_row(
            k["prefix"],
            k["name"],
            k["department"] or "all",
            ", ".join(k["scopes"]),
            str(k["last_used_at"] or "")[:16],
            str(k["revoked_at"] or "")[:16],
        )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(prefix: str) -> None:
    if not _run(lambda conn, desk: apikeys.revoke_key(conn, prefix)):
        err.print("no such active key")
        raise typer.Exit(1)
    console.print(f"key {prefix} revoked")


@document_app.command("revoke")
def document_revoke(
    document_id: str,
    reason: Annotated[str, typer.Option(help="Why (shown on the verification page).")],
    department: Department = None,
) -> None:
    """Revoke an issued document: its verification page says so at once."""
    done = _run(
        lambda conn, desk: actions.revoke_document(
            conn, document_id, reason, Scope(department), Actor("officer", "cli")
        )
    )
    console.print(f"{done['id']} revoked at {done['revoked_at']}")
