"""`mitra officer …`: console accounts from a shell (an administrator's first account, a
forgotten password, someone who left)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from mitra.console import accounts
from mitra.console.accounts import AuthError

T = TypeVar("T")
officer_app = typer.Typer(help="Officers' console accounts.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _run(work: Callable[[psycopg.Connection[Any], Any], T]) -> T:
    from mitra.cases.cli import _desk

    with _desk() as (conn, desk):
        try:
            with conn.transaction():
                return work(conn, desk.cipher)
        except AuthError as exc:
            err.print(f"[bold red]refused:[/] {exc}")
            raise typer.Exit(1) from None


@officer_app.command("create")
def create(
    username: str,
    name: Annotated[str, typer.Option(help="The officer's name, as shown in the console.")],
    role: Annotated[str, typer.Option(help="admin, head, officer or auditor.")],
    department: Annotated[str | None, typer.Option(help="REV, MUN … (heads, officers).")] = None,
    district: Annotated[str | None, typer.Option(help="A district code (officers).")] = None,
    mandal: Annotated[str | None, typer.Option(help="A mandal code (officers).")] = None,
    office: Annotated[str | None, typer.Option(help="An office id (officers).")] = None,
) -> None:
    """Create an account with a temporary password, printed once: hand it over in person."""
    password = accounts.new_password()
    officer = _run(
        lambda conn, _: accounts.create(
            conn,
            username,
            name,
            role,
            password,
            department=department,
            district=district,
            mandal=mandal,
            office_id=office,
        )
    )
    console.print(f"{officer.username} ({officer.role}) created. Temporary password: {password}")


@officer_app.command("reset")
def reset(username: str) -> None:
    """A new temporary password (signs the officer out everywhere, lifts a lock)."""
    password = accounts.new_password()
    _run(lambda conn, _: accounts.reset_password(conn, username, password))
    console.print(f"{username}: new temporary password {password}")


@officer_app.command("disable")
def disable(username: str) -> None:
    """No more sign-ins; open sessions end now."""
    _run(lambda conn, _: accounts.disable(conn, username))
    console.print(f"{username} disabled.")


@officer_app.command("totp")
def totp(username: str) -> None:
    """Turn on the second factor: put the printed URI in an authenticator app."""
    uri = _run(lambda conn, cipher: accounts.enable_totp(conn, cipher, username))
    console.print(uri)


@officer_app.command("list")
def list_officers() -> None:
    rows = _run(lambda conn, _: accounts.listing(conn))
    table = Table("username", "name", "role", "scope", "2FA", "status", "last sign-in")
    for r in rows:
        scope = " ".join(
            filter(None, [r["department"], r["district"], r["mandal"], r["office_id"]])
        )
        table.add_row(
            r["username"],
            r["display_name"],
            r["role"],
            scope or "state",
            "yes" if r["totp"] else "no",
            "disabled" if r["disabled_at"] else "active",
            r["last_login_at"].isoformat()[:16] if r["last_login_at"] else "",
        )
    console.print(table)
