"""`mitra catalog lint | list | show CODE | test [CODE]`, each with --json for machines."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

catalog_app = typer.Typer(
    help="The service catalogue: check, list, show, test.", no_args_is_help=True
)
console = Console()
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


def _catalogue() -> Any:
    from mitra.catalogue.loader import CatalogueError, load_catalogue

    try:
        return load_catalogue()
    except CatalogueError as exc:
        Console(stderr=True).print(f"[bold red]The catalogue does not load:[/] {exc}")
        raise typer.Exit(1) from None


def _operations_of() -> Any:
    from mitra.departments.contract import load_contract  # the adapter contract

    contract = load_contract()
    paths = list(contract.get("paths", {}))
    served = {
        "account": "/v1/accounts/",
        "application": "/v1/applications/",
        "grievance": "/v1/grievances/",
        "document": "/v1/documents/",
        "nearest": "/v1/places/nearest",
        "place": "/v1/places/{type}",
        "info": "/v1/info/",
        "locate": "/v1/admin/locate",
        "inventory": "/v1/inventory/{kind}/{id}",
        "inventory_list": "/v1/inventory/{kind}",
        "hold": "/v1/holds",
    }
    available = {op for op, prefix in served.items() if any(p.startswith(prefix) for p in paths)}
    return lambda department: available


@catalog_app.command("lint")
def lint(as_json: AsJson = False) -> None:
    """Check the catalogue: schema, every string in every language, WhatsApp's limits in every
    language, referenced adapter operations, examples in every language."""
    from mitra.catalogue.lint import lint_catalogue

    catalogue = _catalogue()
    problems = lint_catalogue(catalogue, operations_of=_operations_of())
    if as_json:
        print(
            json.dumps(
                {"services": len(catalogue.versions), "problems": problems}, ensure_ascii=False
            )
        )
    else:
        for p in problems:
            console.print(f"[red]✗[/] {p}", highlight=False)
        colour = "red" if problems else "green"
        console.print(
            f"[{colour}]{len(problems)} problems[/] in {len(catalogue.versions)} service versions"
        )
    if problems:
        raise typer.Exit(1)


@catalog_app.command("list")
def list_services(
    department: Annotated[str | None, typer.Option(help="Only this department (e.g. REV).")] = None,
    as_json: AsJson = False,
) -> None:
    """List the current services."""
    catalogue = _catalogue()
    services = [
        s for s in catalogue.current.values() if not department or s.department == department
    ]
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "code": s.code,
                        "version": s.version,
                        "department": s.department,
                        "pattern": s.pattern,
                        "title": s.title.model_dump(),
                        "enabled": s.enabled,
                    }
                    for s in services
                ],
                ensure_ascii=False,
            )
        )
        return
    table = Table("code", "v", "pattern", "English", "తెలుగు", "examples")
    for s in services:
        table.add_row(
            s.code, str(s.version), s.pattern, s.title.en, s.title.te, str(len(s.examples))
        )
    console.print(table)
    console.print(f"{len(services)} services")


@catalog_app.command("show")
def show(code: str, as_json: AsJson = False) -> None:
    """Show one service: its definition and example conversations."""
    service = _catalogue().service(code)
    if service is None:
        Console(stderr=True).print(f"[red]No service {code}[/]")
        raise typer.Exit(1)
    data = service.model_dump(mode="json", by_alias=True, exclude_none=True)
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    import yaml

    console.print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), highlight=False)


@catalog_app.command("test")
def test(
    code: Annotated[str | None, typer.Argument(help="One service (default: all).")] = None,
    as_json: AsJson = False,
) -> None:
    """Drive every service's example conversations through the engine against the sandbox
    department systems; pass/fail per service and language."""
    outcomes = asyncio.run(_run_examples([code.upper()] if code else None, quiet=as_json))
    failed = [o for o in outcomes if not o.passed]
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "service": o.service,
                        "example": o.example,
                        "language": o.language,
                        "passed": o.passed,
                        "failures": o.failures,
                    }
                    for o in outcomes
                ],
                ensure_ascii=False,
            )
        )
    else:
        table = Table("service", "language", "example", "result")
        for o in outcomes:
            result = "[green]pass[/]" if o.passed else "[red]FAIL[/] " + "; ".join(o.failures)
            table.add_row(o.service, o.language, o.example, result)
        console.print(table)
        console.print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed or not outcomes:
        raise typer.Exit(1)


async def _run_examples(codes: list[str] | None, *, quiet: bool) -> list[Any]:
    from mitra.catalogue.examples import example_sandbox, run_example
    from mitra.departments.sandbox_client import sandbox_client
    from mitra.jobs.department_calls import client_caller

    catalogue = _catalogue()
    services = [s for s in catalogue.current.values() if not codes or s.code in codes]
    work = [(s, e) for s in services for e in s.examples]
    outcomes = []
    async with sandbox_client(example_sandbox()) as client:
        caller = client_caller(client)
        with Progress(console=console, transient=True, disable=quiet) as progress:
            task = progress.add_task("example conversations", total=len(work))
            for service, example in work:
                outcomes.append(await run_example(service, example, catalogue, caller))
                progress.advance(task)
    return outcomes
