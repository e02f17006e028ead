"""`verify FILE --keys … | --keys-url …`: a clear verdict and an exit code."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mitra.cli import app
from mitra.documents import DocumentFacts, Signer
from mitra.documents.cli import verify_command


def run(path: Path, **keys: object) -> tuple[int, str]:
    output = io.StringIO()
    console = Console(file=output, width=120, color_system=None)
    code = verify_command(path, console=console, **keys)  # type: ignore[arg-type]
    return code, output.getvalue()


@pytest.fixture
def keys_file(tmp_path: Path, signer: Signer) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(signer.public_keys().to_json())
    return path


@pytest.fixture
def genuine_file(tmp_path: Path, certificate: bytes) -> Path:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(certificate)
    return path


@pytest.fixture
def tampered_file(tmp_path: Path, certificate: bytes) -> Path:
    path = tmp_path / "tampered.pdf"
    changed = bytearray(certificate)
    changed[len(changed) // 2] ^= 1
    path.write_bytes(bytes(changed))
    return path


@pytest.fixture
def keys_url(signer: Signer) -> Iterator[str]:
    body = signer.public_keys().to_json().encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/verify/keys.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/verify/keys.json"
    finally:
        server.shutdown()
        server.server_close()


def test_a_genuine_document_is_green_with_its_facts(
    genuine_file: Path, keys_file: Path, certificate_facts: DocumentFacts
) -> None:
    code, output = run(genuine_file, keys=keys_file)

    assert code == 0
    assert "GENUINE" in output
    for expected in (
        certificate_facts.document_id,
        certificate_facts.holder_name,
        certificate_facts.reference,
        "Income Certificate",
        "₹1,20,000 (Rupees one lakh twenty thousand only)",
        "2027-02-10",
        "K. Srinivasa Rao, Tahsildar",
    ):
        assert expected in output, expected


def test_a_tampered_document_is_not_valid_with_its_reason(
    tampered_file: Path, keys_file: Path
) -> None:
    code, output = run(tampered_file, keys=keys_file)

    assert code == 1
    assert "NOT VALID" in output
    assert "reason: tampered" in output
    assert "changed after it was signed" in output
    assert "GENUINE" not in output


def test_the_keys_can_be_fetched_from_a_url(genuine_file: Path, keys_url: str) -> None:
    code, output = run(genuine_file, keys_url=keys_url)
    assert (code, "GENUINE" in output) == (0, True)


def test_keys_that_cannot_be_read_stop_with_a_message(genuine_file: Path, tmp_path: Path) -> None:
    missing = run(genuine_file, keys=tmp_path / "nowhere.json")
    neither = run(genuine_file)
    unreachable = run(genuine_file, keys_url="http://127.0.0.1:9/keys.json")

    for code, output in (missing, neither, unreachable):
        assert code == 1
        assert "Cannot verify" in output


def test_the_typer_command_exits_with_the_verdict(
    genuine_file: Path, tampered_file: Path, keys_file: Path
) -> None:
    runner = CliRunner()

    genuine = runner.invoke(app, ["verify", str(genuine_file), "--keys", str(keys_file)])
    tampered = runner.invoke(
        app, ["verify", str(tampered_file), "--keys", str(keys_file), "--json"]
    )

    assert genuine.exit_code == 0, genuine.output
    assert tampered.exit_code == 1
    verdict = json.loads(tampered.output)
    assert (verdict["ok"], verdict["reason"]) == (False, "tampered")
