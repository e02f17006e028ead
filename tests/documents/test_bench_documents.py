"""`mitra bench documents` runs and reports what it measured (figures are not asserted)."""

from mitra.bench.documents import run_documents


def test_the_documents_bench_renders_signs_and_verifies() -> None:
    report = run_documents(2)
    assert report.documents == 2
    assert report.pdf_kib > 10  # a real PDF with embedded fonts
    assert report.render_sign_p50_ms > 0 and report.verify_p50_ms > 0
