"""`verify FILE --keys KEYS.json | --keys-url URL`: is this PDF a genuine Mitra document?

`verify_command` prints the verdict and returns the exit code (0 genuine, 1 anything else);
`mitra verify` (mitra/cli.py) is its command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from mitra.documents.labels import verdict
from mitra.documents.signing import PublicKeys
from mitra.documents.verify import Verification, verify_pdf

KEYS_TIMEOUT_SECONDS = 10.0


class KeysUnavailable(Exception):
    """The published keys could not be read."""


def load_keys(keys: Path | None = None, keys_url: str | None = None) -> PublicKeys:
    """The published key set, from a file or fetched from a URL."""
    try:
        if keys is not None and keys_url is None:
            return PublicKeys.from_json(keys.read_bytes())
        if keys_url is not None and keys is None:
            response = httpx.get(keys_url, timeout=KEYS_TIMEOUT_SECONDS, follow_redirects=True)
            response.raise_for_status()
            return PublicKeys.from_json(response.content)
    except (OSError, ValueError, httpx.HTTPError) as error:
        raise KeysUnavailable(f"could not read the published keys: {error}") from error
    raise KeysUnavailable("give the published keys: --keys FILE or --keys-url URL (one of them)")


def verify_command(
    path: Path,
    keys: Path | None = None,
    keys_url: str | None = None,
    *,
    as_json: bool = False,
    console: Console | None = None,
) -> int:
    """Verify the PDF at `path`, print the verdict, return the exit code (0 genuine, else 1)."""
    out = console or Console()
    try:
        key_set = load_keys(keys, keys_url)
        data = path.read_bytes()
    except (KeysUnavailable, OSError) as error:
        out.print(f"[bold red]Cannot verify:[/] {error}")
        return 1
    result = verify_pdf(data, key_set)
    if as_json:
        out.print_json(json.dumps(_as_dict(result), ensure_ascii=False))
    elif result.ok:
        _print_genuine(out, path, result)
    else:
        _print_not_valid(out, path, result)
    return 0 if result.ok else 1


def _print_genuine(out: Console, path: Path, result: Verification) -> None:
    facts: dict[str, Any] = result.facts or {}
    words = verdict(result.reason)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Document", f"{facts['title']['en']} / {facts['title']['te']}")
    table.add_row("Document ID", str(result.document_id))
    table.add_row("Reference", facts["reference"])
    table.add_row("Name", facts["holder_name"])
    for row in facts["facts"]:
        value = row["value"] if isinstance(row["value"], str) else row["value"]["en"]
        table.add_row(row["label"]["en"], value)
    table.add_row("Issued on", facts["issued_on"])
    table.add_row("Valid until", facts["valid_until"] or "valid for life")
    officer = facts["officer"]
    table.add_row("Issued by", f"{officer['name']}, {officer['designation']['en']}")
    table.add_row("Office", facts["office"]["name"]["en"])
    table.add_row("Department", facts["department"]["name"]["en"])
    table.add_row("Signing key", str(result.key_id))
    out.print(
        Panel(
            table,
            title="[bold green]GENUINE[/]",
            subtitle=str(path),
            border_style="green",
        )
    )
    out.print(f"[green]{words.en}[/]")
    out.print(f"[green]{words.te}[/]")


def _print_not_valid(out: Console, path: Path, result: Verification) -> None:
    words = verdict(result.reason)
    lines = [f"[bold]{words.en}[/]", words.te, f"reason: {result.reason}"]
    if result.document_id:
        lines.append(
            f"The file claims to be document {result.document_id}; do not rely on what it says."
        )
    out.print(
        Panel(
            "\n".join(lines),
            title="[bold red]NOT VALID[/]",
            subtitle=str(path),
            border_style="red",
        )
    )


def _as_dict(result: Verification) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "reason": result.reason,
        "document_id": result.document_id,
        "key_id": result.key_id,
        "pdf_sha256": result.pdf_sha256,
        "facts": result.facts,
    }
