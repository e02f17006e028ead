"""The standalone check in docs/verify-a-document.md works, with nothing but `cryptography`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from mitra.documents import DocumentFacts, Signer, render_signed
from mitra.documents.container import find_seal, with_seal_values
from tests.documents.samples import income_certificate

DOC = Path(__file__).parents[2] / "docs" / "verify-a-document.md"


def documented_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (script,) = blocks
    return str(script)


@pytest.fixture(scope="module")
def check() -> Any:
    namespace: dict[str, Any] = {"__name__": "documented_check"}
    exec(compile(documented_script(), str(DOC), "exec"), namespace)  # noqa: S102
    return namespace["check"]


def test_the_documented_script_is_short() -> None:
    assert len(documented_script().strip().splitlines()) <= 40


def test_it_accepts_a_genuine_document_and_returns_its_facts(
    check: Any, certificate: bytes, certificate_facts: DocumentFacts, signer: Signer
) -> None:
    assert check(certificate, signer.public_keys().to_dict()) == certificate_facts.to_dict()


def test_it_rejects_a_changed_byte(check: Any, certificate: bytes, signer: Signer) -> None:
    changed = bytearray(certificate)
    changed[len(changed) // 2] ^= 1
    with pytest.raises(ValueError, match="changed after it was signed"):
        check(bytes(changed), signer.public_keys().to_dict())


def test_it_rejects_a_changed_signature(check: Any, certificate: bytes, signer: Signer) -> None:
    seal = find_seal(certificate)
    forged = with_seal_values(certificate, seal, seal.digest, "ab" * 64)
    with pytest.raises(InvalidSignature):
        check(forged, signer.public_keys().to_dict())


def test_it_rejects_an_unpublished_key(check: Any, signer: Signer, other_signer: Signer) -> None:
    forged = render_signed(income_certificate(other_signer.key_id), other_signer)
    with pytest.raises(ValueError, match="not a published key"):
        check(forged, signer.public_keys().to_dict())


def test_it_rejects_a_pdf_without_a_seal(check: Any, signer: Signer) -> None:
    with pytest.raises(ValueError, match="no single Mitra seal"):
        check(b"%PDF-1.4\n%%EOF\n", signer.public_keys().to_dict())


def test_it_runs_as_a_command(tmp_path: Path, certificate: bytes, signer: Signer) -> None:
    script, pdf, keys = tmp_path / "check.py", tmp_path / "c.pdf", tmp_path / "keys.json"
    script.write_text(documented_script(), encoding="utf-8")
    pdf.write_bytes(certificate)
    keys.write_text(signer.public_keys().to_json())

    done = subprocess.run(
        [sys.executable, str(script), str(pdf), str(keys)],
        capture_output=True,
        text=True,
        check=True,
    )

    assert json.loads(done.stdout)["key_id"] == signer.key_id
