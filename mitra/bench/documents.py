"""`mitra bench documents`: what issuing and checking a certificate costs on this machine —
render + sign (fpdf2 with HarfBuzz shaping, Ed25519), offline verification, and size."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from mitra.documents.model import (
    Bilingual,
    Department,
    DocumentFacts,
    Fact,
    Office,
    Officer,
    new_document_id,
)
from mitra.documents.signing import Signer, generate_private_key_b64, load_signer
from mitra.documents.verify import verify_pdf


@dataclass
class DocumentsReport:
    documents: int
    first_ms: float  # the first render in a process: imports and font loading
    render_sign_p50_ms: float
    render_sign_p95_ms: float
    render_sign_per_second: float
    verify_p50_ms: float
    pdf_kib: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sample(signer: Signer) -> DocumentFacts:
    document_id = new_document_id()
    return DocumentFacts(
        document_id=document_id,
        kind="income_certificate",
        title=Bilingual("Income Certificate", "ఆదాయ ధృవీకరణ పత్రం"),
        reference="REV-2026-500001-P",
        holder_name="Kondapalli Lakshmi Devi",
        facts=[
            Fact(Bilingual("Resident of", "నివాసం"), Bilingual("Tenali, Guntur", "తెనాలి, గుంటూరు")),
            Fact(Bilingual("Annual family income", "కుటుంబ వార్షిక ఆదాయం"), "₹72,000"),
            Fact(
                Bilingual("Main source of income", "ప్రధాన ఆదాయ వనరు"),
                Bilingual("Daily wages", "రోజువారీ కూలీ"),
            ),
            Fact(Bilingual("Purpose", "ప్రయోజనం"), Bilingual("Education", "చదువు")),
            Fact(Bilingual("Aadhaar (last 4 digits)", "ఆధార్ (చివరి 4 అంకెలు)"), "XXXX XXXX 0124"),
        ],
        department=Department("REV", Bilingual("Revenue", "రెవెన్యూ శాఖ")),
        office=Office("WS-TNL-W1", Bilingual("Ward 1 Secretariat", "వార్డు 1 సచివాలయం")),
        officer=Officer("K. Lakshmi", Bilingual("Ward Administrative Secretary", "వార్డు కార్యదర్శి")),
        issued_on=date(2026, 11, 20),
        valid_until=date(2027, 11, 20),
        verify_url=f"https://mitra.ap.gov.in/verify/{document_id}",
        key_id=signer.key_id,
    )


def run_documents(count: int, progress: Progress | None = None) -> DocumentsReport:
    from mitra.documents.signing import render_signed

    signer = load_signer(generate_private_key_b64())
    keys = signer.public_keys()
    started = time.perf_counter()
    pdf = render_signed(sample(signer), signer)
    first = time.perf_counter() - started
    renders: list[float] = []
    verifies: list[float] = []
    task = progress.add_task("render, sign, verify", total=count) if progress else None
    for _ in range(count):
        facts = sample(signer)
        t0 = time.perf_counter()
        pdf = render_signed(facts, signer)
        t1 = time.perf_counter()
        assert verify_pdf(pdf, keys).ok
        t2 = time.perf_counter()
        renders.append(t1 - t0)
        verifies.append(t2 - t1)
        if progress is not None and task is not None:
            progress.advance(task)
    renders.sort()
    return DocumentsReport(
        documents=count,
        first_ms=first * 1000,
        render_sign_p50_ms=statistics.median(renders) * 1000,
        render_sign_p95_ms=renders[int(0.95 * (len(renders) - 1))] * 1000,
        render_sign_per_second=count / sum(renders),
        verify_p50_ms=statistics.median(verifies) * 1000,
        pdf_kib=len(pdf) / 1024,
    )


def print_documents_report(console: Console, r: DocumentsReport) -> None:
    table = Table(title=f"Documents: {r.documents} income certificates, one process")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("first render (imports, fonts)", f"{r.first_ms:.0f} ms")
    table.add_row("render + sign, median", f"{r.render_sign_p50_ms:.1f} ms")
    table.add_row("render + sign, 95th percentile", f"{r.render_sign_p95_ms:.1f} ms")
    table.add_row("render + sign, per second (one core)", f"{r.render_sign_per_second:.1f}")
    table.add_row("verify offline, median", f"{r.verify_p50_ms:.2f} ms")
    table.add_row("PDF size", f"{r.pdf_kib:.0f} KiB")
    console.print(table)
