"""The rendered certificate: Telugu shaped, both scripts present, the QR code scannable, the
facts attached, and fast enough to issue on demand."""

from __future__ import annotations

import logging
import re
import zlib

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import uharfbuzz as hb
import zxingcpp

from mitra.documents import (
    Bilingual,
    DocumentFacts,
    Fact,
    Signer,
    facts_from_dict,
    render_signed,
    verify_pdf,
)
from mitra.documents.model import canonical_bytes
from mitra.documents.pdf import FACTS_ATTACHMENT, FONTS_DIR, is_telugu
from tests.documents.samples import income_certificate

STATE_TELUGU = "ఆంధ్రప్రదేశ్ ప్రభుత్వం"


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text as a PDF reader extracts it.

    Glyphs that are the second part of a shaped Telugu cluster have no Unicode of their own
    (the cluster's text is on its first glyph); PDFium reports them as map errors: skip them.
    """
    texts = []
    for page in pdfium.PdfDocument(pdf):
        textpage = page.get_textpage()
        texts.append(
            "".join(
                chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, index))
                for index in range(textpage.count_chars())
                if not pdfium_c.FPDFText_HasUnicodeMapError(textpage.raw, index)
            )
        )
    return texts


def to_unicode_targets(pdf: bytes) -> list[str]:
    """Every text a glyph maps back to, from all the fonts' ToUnicode maps."""
    targets = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            stream = zlib.decompress(stream)
        except zlib.error:
            pass
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
            for target in re.findall(rb"<[0-9A-F]+> <([0-9A-F]+)>", block):
                targets.append(bytes.fromhex(target.decode()).decode("utf-16-be"))
    return targets


def test_telugu_is_shaped_into_conjunct_glyphs(certificate: bytes) -> None:
    # Shaped, one glyph stands for several code points (the below-base ర of ప్ర, the
    # conjunct of త్వ); unshaped text would map every glyph to exactly one code point.
    telugu = [text for text in to_unicode_targets(certificate) if is_telugu(text)]
    conjuncts = [text for text in telugu if len(text) > 1]
    assert "\u0c4d\u0c30" in conjuncts  # ్ర, the below-base ra of ప్ర
    assert "\u0c24\u0c4d\u0c35" in conjuncts or "\u0c4d\u0c35" in conjuncts  # త్వ


def test_the_shipped_telugu_font_forms_conjuncts() -> None:
    word = "ఆంధ్రప్రదేశ్"
    font = hb.Font(hb.Face(hb.Blob.from_file_path(str(FONTS_DIR / "NotoSansTelugu-Regular.ttf"))))
    buffer = hb.Buffer()
    buffer.add_str(word)
    buffer.guess_segment_properties()
    hb.shape(font, buffer)
    assert len(buffer.glyph_infos) < len(word)


def test_both_scripts_are_embedded_and_read_back_as_text(
    certificate: bytes, certificate_facts: DocumentFacts
) -> None:
    assert re.search(rb"/BaseFont /[A-Z]+\+NotoSansTelugu", certificate)
    assert re.search(rb"/BaseFont /[A-Z]+\+NotoSans\b", certificate)
    (text,) = page_texts(certificate)
    for expected in (
        STATE_TELUGU,
        "GOVERNMENT OF ANDHRA PRADESH",
        "ఆదాయ ధృవీకరణ పత్రం",
        "INCOME CERTIFICATE",
        certificate_facts.reference,
        certificate_facts.holder_name,
        "తండ్రి / భర్త పేరు",
        "₹1,20,000 (లక్ష ఇరవై వేల రూపాయలు మాత్రమే)",
        "Valid until 10-02-2027",
        "10-02-2027 వరకు చెల్లుతుంది",
        "10-02-2026",
        "K. Srinivasa Rao",
        certificate_facts.document_id,
        certificate_facts.verify_url,
    ):
        assert expected in text, expected


def test_mixed_script_values_render_without_missing_glyphs(
    signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    value = "Lakshmi శ్రీనివాస్, D.No. 4-12 — ₹5,000 №7"
    facts = income_certificate(
        signer.key_id, facts=(Fact(label=Bilingual(en="Note", te="గమనిక"), value=value),)
    )
    with caplog.at_level(logging.WARNING):
        pdf = render_signed(facts, signer)
    assert not [record for record in caplog.records if "missing" in record.getMessage()]
    (text,) = page_texts(pdf)
    assert value in text


def test_the_qr_code_scans_to_the_verification_url(
    certificate: bytes, certificate_facts: DocumentFacts
) -> None:
    page = pdfium.PdfDocument(certificate)[0]
    image = page.render(scale=150 / 72).to_pil()

    (code,) = zxingcpp.read_barcodes(image)

    assert code.format == zxingcpp.BarcodeFormat.QRCode
    assert code.text == certificate_facts.verify_url


def test_the_signed_facts_are_attached_for_pdf_viewers(
    certificate: bytes, certificate_facts: DocumentFacts
) -> None:
    document = pdfium.PdfDocument(certificate)
    (attachment,) = [document.get_attachment(i) for i in range(document.count_attachments())]
    assert attachment.get_name() == FACTS_ATTACHMENT
    assert bytes(attachment.get_data()) == canonical_bytes(certificate_facts)


def test_a_document_valid_for_life_says_so(signer: Signer) -> None:
    pdf = render_signed(income_certificate(signer.key_id, valid_until=None), signer)
    (text,) = page_texts(pdf)
    assert "Valid for life" in text
    assert "జీవితకాలం చెల్లుతుంది" in text


def test_a_long_document_continues_on_more_pages_and_still_verifies(signer: Signer) -> None:
    rows = tuple(
        Fact(label=Bilingual(en=f"Survey number {n}", te=f"సర్వే నంబరు {n}"), value=f"{n}/2A")
        for n in range(1, 31)
    )
    facts = income_certificate(signer.key_id, facts=rows)
    pdf = render_signed(facts, signer)

    texts = page_texts(pdf)

    assert len(texts) > 1
    assert "Survey number 30" in texts[-1]
    for number, text in enumerate(texts[1:], start=2):
        assert f"{facts.reference} · Page {number}" in " ".join(text.split())
    assert facts.document_id in texts[-1]
    assert verify_pdf(pdf, signer.public_keys()).ok


def test_rendering_is_deterministic_and_documents_share_no_glyph_state(
    certificate: bytes, signer: Signer
) -> None:
    # Fonts are parsed once per process and copied per document: a document rendered in
    # between must not leave its glyphs in the next one.
    facts = verify_pdf(certificate, signer.public_keys()).facts
    assert facts is not None
    render_signed(
        income_certificate(signer.key_id, holder_name="Zyxwv Qjkx ఙఞ ఱళ ౘౙ", reference="X-1"),
        signer,
    )
    assert render_signed(facts_from_dict(facts), signer) == certificate


def test_a_word_wider_than_its_cell_is_broken_to_fit(signer: Signer) -> None:
    link = "https://example.org/" + "a1b2c3d4" * 16
    facts = income_certificate(
        signer.key_id, facts=(Fact(label=Bilingual(en="Link", te="లింక్"), value=link),)
    )
    (text,) = page_texts(render_signed(facts, signer))
    lines = text.split("\r\n")
    assert link not in lines
    assert link in "".join(lines)
