"""A document's facts drawn as a bilingual A4 PDF, sealed with placeholders for signing.

`render_pdf(facts)` lays out an Andhra Pradesh certificate or letter: the state header, the
department and issuing office, the title in Telugu and English, the reference and issue
date, the facts as label/value rows (each label in both languages), the validity, the
issuing officer, a QR code of the verification URL with the document id under it, and a
footer telling the reader where to verify. Telugu is shaped by HarfBuzz (conjuncts, vowel
signs); mixed-script text falls back between Noto Sans and Noto Sans Telugu, shipped in
`fonts/` under the SIL Open Font License.

The PDF also carries the canonical facts (as the attachment `mitra-facts.json` and in the
Info dictionary) and zeroed digest and signature placeholders: see `container`. Signing is
`signing.sign_pdf`; `signing.render_signed` does both.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import segno
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import TTFFont
from fpdf.output import OutputProducer, PDFInfo
from fpdf.syntax import PDFString

from mitra.documents.container import EMPTY_DIGEST, EMPTY_SIGNATURE
from mitra.documents.labels import labels
from mitra.documents.model import Bilingual, DocumentFacts, canonical_bytes

FONTS_DIR = Path(__file__).parent / "fonts"
LATIN = "NotoSans"
TELUGU = "NotoSansTelugu"
FACTS_ATTACHMENT = "mitra-facts.json"
IST = timezone(timedelta(hours=5, minutes=30), "IST")

# Colours (RGB) and geometry (mm) of the page.
NAVY = (16, 42, 84)
INK = (25, 25, 25)
MUTED = (95, 95, 95)
GREEN = (18, 110, 56)
LABEL_FILL = (236, 241, 247)
RULE = (170, 180, 195)
MARGIN = 16.0
PAGE_WIDTH = 210.0
PAGE_HEIGHT = 297.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
LABEL_WIDTH = 66.0
CELL_PADDING = 2.2
QR_SIZE = 32.0
QR_QUIET_ZONE = 4.0
SIGNATURE_BLOCK_HEIGHT = 50.0
FOOTER_HEIGHT = 16.0
CONTINUATION_HEADER = 6.0


def render_pdf(facts: DocumentFacts) -> bytes:
    """The unsigned PDF: complete, with the digest and signature placeholders zeroed."""
    pdf = _CertificatePDF(facts)
    pdf.draw()
    return bytes(pdf.output(output_producer_class=_SealedOutputProducer))


@functools.lru_cache(maxsize=256)
def qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code drawn for this URL: rows of modules, True for dark, no quiet zone."""
    code = segno.make_qr(url, error="m")
    return tuple(tuple(bool(module) for module in row) for row in code.matrix)


def format_date(day: date) -> str:
    """Dates as Andhra Pradesh documents print them: 10-02-2026."""
    return day.strftime("%d-%m-%Y")


def is_telugu(text: str) -> bool:
    return any("\u0c00" <= char <= "\u0c7f" for char in text)


@dataclass(frozen=True, slots=True)
class _Run:
    """One paragraph in one style."""

    text: str
    size: float
    bold: bool = False
    color: tuple[int, int, int] = INK

    @property
    def line_height(self) -> float:
        # Telugu stacks marks above and conjuncts below the base: it needs more leading.
        return self.size * 0.3528 * (1.65 if is_telugu(self.text) else 1.4)


class _CertificatePDF(FPDF):
    def __init__(self, facts: DocumentFacts) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.facts = facts
        self.words = labels()
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(False)
        for key, font in _fresh_fonts().items():
            self.fonts[key] = font
        self.set_fallback_fonts([TELUGU, LATIN])
        self.set_text_shaping(True)
        self.set_creation_date(datetime.combine(facts.issued_on, time(0, 0), IST))
        self.set_title(f"{facts.title.en} {facts.reference}")
        self.set_author(f"{facts.office.name.en}, {self.words['state'].en}")
        self.set_subject(f"Mitra document {facts.document_id}")
        self.set_creator("Mitra")
        self.set_lang("en-IN")
        self.embed_file(
            bytes=canonical_bytes(facts),
            basename=FACTS_ATTACHMENT,
            desc="The signed facts of this document (Mitra canonical JSON)",
            mime_type="application/json",
            modification_date=datetime.combine(facts.issued_on, time(0, 0), IST),
            compress=True,
        )

    # Every page: a double frame and the verification footer.
    def header(self) -> None:
        self.set_draw_color(*NAVY)
        self.set_line_width(0.8)
        self.rect(7, 7, PAGE_WIDTH - 14, PAGE_HEIGHT - 14)
        self.set_line_width(0.25)
        self.rect(9, 9, PAGE_WIDTH - 18, PAGE_HEIGHT - 18)
        if self.page > 1:
            title, page = self.facts.title, self.words["page"]
            continued = (
                f"{title.en} / {title.te}  ·  {self.facts.reference}  ·  "
                f"{page.en} {self.page} / {page.te} {self.page}"
            )
            self._write(MARGIN, MARGIN - 3, CONTENT_WIDTH, _Run(continued, 8, color=MUTED), "C")

    def footer(self) -> None:
        url = self.facts.verify_url
        footer = self.words["verify_footer"]
        top = PAGE_HEIGHT - MARGIN - FOOTER_HEIGHT + 2
        self._rule(top)
        y = top + 1.5
        y = self._write(MARGIN, y, CONTENT_WIDTH, _Run(footer.en.format(url=url), 7.5), "C")
        self._write(MARGIN, y, CONTENT_WIDTH, _Run(footer.te.format(url=url), 7.5), "C")

    def draw(self) -> None:
        self.add_page()
        y = self._draw_heading(MARGIN)
        y = self._draw_reference_strip(y + 4)
        y = self._draw_rows(y + 5)
        self._draw_signature_block(y + 6)

    def _draw_heading(self, y: float) -> float:
        facts, state = self.facts, self.words["state"]
        y = self._write(MARGIN, y, CONTENT_WIDTH, _Run(state.te, 15, True, NAVY), "C")
        y = self._write(MARGIN, y, CONTENT_WIDTH, _Run(state.en.upper(), 13, True, NAVY), "C")
        department = facts.department.name
        y = self._write(
            MARGIN, y + 1, CONTENT_WIDTH, _Run(f"{department.te}  |  {department.en}", 10.5), "C"
        )
        office = facts.office.name
        y = self._write(MARGIN, y, CONTENT_WIDTH, _Run(f"{office.te}  |  {office.en}", 9.5), "C")
        self._rule(y + 3)
        y = self._write(MARGIN, y + 6, CONTENT_WIDTH, _Run(facts.title.te, 17, True, NAVY), "C")
        return self._write(
            MARGIN, y, CONTENT_WIDTH, _Run(facts.title.en.upper(), 15, True, NAVY), "C"
        )

    def _draw_reference_strip(self, y: float) -> float:
        half = CONTENT_WIDTH / 2
        reference, issued_on = self.words["reference"], self.words["issued_on"]
        left = self._write(
            MARGIN, y, half, _Run(f"{reference.en} / {reference.te}", 8.5, color=MUTED), "L"
        )
        left = self._write(MARGIN, left, half, _Run(self.facts.reference, 11, True), "L")
        right = self._write(
            MARGIN + half, y, half, _Run(f"{issued_on.en} / {issued_on.te}", 8.5, color=MUTED), "R"
        )
        right = self._write(
            MARGIN + half, right, half, _Run(format_date(self.facts.issued_on), 11, True), "R"
        )
        return max(left, right)

    def _rows(self) -> Iterator[tuple[Bilingual, Bilingual | str]]:
        yield self.words["holder_name"], self.facts.holder_name
        for row in self.facts.facts:
            yield row.label, row.value
        if self.facts.valid_until is None:
            validity: Bilingual | str = self.words["valid_for_life"]
        else:
            until, day = self.words["valid_until"], format_date(self.facts.valid_until)
            validity = Bilingual(en=until.en.format(date=day), te=until.te.format(date=day))
        yield self.words["validity"], validity

    def _draw_rows(self, y: float) -> float:
        value_width = CONTENT_WIDTH - LABEL_WIDTH
        inner = 2 * CELL_PADDING
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        for label, value in self._rows():
            label_runs = [_Run(label.en, 9.5), _Run(label.te, 9, color=MUTED)]
            if isinstance(value, str):
                value_runs = [_Run(value, 10.5, True)]
            elif value.en == value.te:
                value_runs = [_Run(value.en, 10.5, True)]
            else:
                value_runs = [_Run(value.en, 10.5, True), _Run(value.te, 10.5, True)]
            height = inner + max(
                self._height(LABEL_WIDTH - inner, label_runs),
                self._height(value_width - inner, value_runs),
            )
            if y + height > self._content_bottom():
                self.add_page()
                y = MARGIN + CONTINUATION_HEADER
                self.set_draw_color(*RULE)
                self.set_line_width(0.2)
            self.set_fill_color(*LABEL_FILL)
            self.rect(MARGIN, y, LABEL_WIDTH, height, style="DF")
            self.rect(MARGIN + LABEL_WIDTH, y, value_width, height, style="D")
            self._write_runs(
                MARGIN + CELL_PADDING, y + CELL_PADDING, LABEL_WIDTH - inner, label_runs
            )
            self._write_runs(
                MARGIN + LABEL_WIDTH + CELL_PADDING,
                y + CELL_PADDING,
                value_width - inner,
                value_runs,
            )
            y += height
        return y

    def _draw_signature_block(self, y: float) -> None:
        if y + SIGNATURE_BLOCK_HEIGHT > self._content_bottom():
            self.add_page()
        # The block sits at the foot of the page, above the footer.
        y = self._content_bottom() - SIGNATURE_BLOCK_HEIGHT
        facts = self.facts
        self._draw_qr(MARGIN, y, QR_SIZE, facts.verify_url)
        # Keep the QR code's quiet zone (about four modules) free of text.
        below = y + QR_SIZE + QR_QUIET_ZONE
        scan, document_id = self.words["scan_to_verify"], self.words["document_id"]
        below = self._write(MARGIN, below, 90, _Run(f"{scan.en} / {scan.te}", 7.5), "L")
        below = self._write(
            MARGIN, below, 90, _Run(f"{document_id.en} / {document_id.te}", 7.5, color=MUTED), "L"
        )
        self._write(MARGIN, below, 90, _Run(facts.document_id, 9.5, True), "L")

        x, width = MARGIN + CONTENT_WIDTH - 95, 95.0
        signed = self.words["digitally_signed"]
        block = y + 6
        block = self._write(
            x, block, width, _Run(f"{signed.en} / {signed.te}", 8, True, GREEN), "R"
        )
        block = self._write(x, block + 1, width, _Run(facts.officer.name, 12, True), "R")
        block = self._write(x, block, width, _Run(facts.officer.designation.en, 9.5), "R")
        block = self._write(x, block, width, _Run(facts.officer.designation.te, 9.5), "R")
        block = self._write(x, block, width, _Run(facts.office.name.en, 8.5, color=MUTED), "R")
        self._write(x, block, width, _Run(facts.office.name.te, 8.5, color=MUTED), "R")

    def _draw_qr(self, x: float, y: float, size: float, url: str) -> None:
        matrix = qr_matrix(url)
        module = size / len(matrix)
        self.set_fill_color(0, 0, 0)
        # One rectangle per horizontal run of dark modules; a hair taller than a module so
        # viewers do not show seams between rows.
        for row_index, row in enumerate(matrix):
            column = 0
            while column < len(row):
                if not row[column]:
                    column += 1
                    continue
                start = column
                while column < len(row) and row[column]:
                    column += 1
                self.rect(
                    x + start * module,
                    y + row_index * module,
                    (column - start) * module,
                    module + 0.02,
                    style="F",
                )

    def _content_bottom(self) -> float:
        return PAGE_HEIGHT - MARGIN - FOOTER_HEIGHT

    def _rule(self, y: float) -> None:
        self.set_draw_color(*RULE)
        self.set_line_width(0.3)
        self.line(MARGIN, y, MARGIN + CONTENT_WIDTH, y)

    def _use(self, run: _Run) -> None:
        self.set_font(TELUGU if is_telugu(run.text) else LATIN, "B" if run.bold else "", run.size)
        self.set_text_color(*run.color)

    def _height(self, width: float, runs: list[_Run]) -> float:
        total = 0.0
        for run in runs:
            self._use(run)
            total += len(self._wrap(run.text, width)) * run.line_height
        return total

    def _write_runs(self, x: float, y: float, width: float, runs: list[_Run]) -> float:
        for run in runs:
            y = self._write(x, y, width, run, "L")
        return y

    def _write(self, x: float, y: float, width: float, run: _Run, align: str) -> float:
        """Writes one wrapped paragraph at (x, y); returns the y below it."""
        self._use(run)
        for line in self._wrap(run.text, width):
            self.set_xy(x, y)
            self.cell(width, run.line_height, line, align=align)
            y += run.line_height
        return y

    def _wrap(self, text: str, width: float) -> list[str]:
        """Greedy word wrap in the current font.

        fpdf2's multi_cell re-shapes a line for every character it adds, which made wrapping
        most of the rendering time; words are shaped once each here.
        """
        available = width - 2 * self.c_margin
        if self.get_string_width(text) <= available:
            return [text]
        space = self.get_string_width(" ")
        lines: list[str] = []
        line: list[str] = []
        line_width = 0.0
        for word in text.split():
            for piece in self._pieces(word, available):
                piece_width = self.get_string_width(piece)
                if line and line_width + space + piece_width > available:
                    lines.append(" ".join(line))
                    line, line_width = [], 0.0
                line_width += (space if line else 0.0) + piece_width
                line.append(piece)
        if line:
            lines.append(" ".join(line))
        return lines

    def _pieces(self, word: str, available: float) -> Iterator[str]:
        """The word, or, if it is Latin and wider than a line (a long URL), its line-wide parts."""
        if is_telugu(word) or self.get_string_width(word) <= available:
            yield word
            return
        piece = ""
        for char in word:
            if piece and self.get_string_width(piece + char) > available:
                yield piece
                piece = ""
            piece += char
        yield piece


FONT_FILES = (
    (LATIN, "", "NotoSans-Regular.ttf"),
    (LATIN, "B", "NotoSans-Bold.ttf"),
    (TELUGU, "", "NotoSansTelugu-Regular.ttf"),
    (TELUGU, "B", "NotoSansTelugu-Bold.ttf"),
)


@functools.lru_cache(maxsize=1)
def _parsed_fonts() -> dict[str, TTFFont]:
    """The fonts as fpdf2's add_font parses them (cmap, metrics): once per process."""
    loader = FPDF()
    for family, style, file in FONT_FILES:
        loader.add_font(family, style, str(FONTS_DIR / file))
    return {key: font for key, font in loader.fonts.items() if isinstance(font, TTFFont)}


def _fresh_fonts() -> dict[str, TTFFont]:
    """Per-document copies of the parsed fonts: ~2 ms instead of ~17 ms for add_font.

    The parsed metrics are shared (fpdf2's own TTFFont.__deepcopy__ shares them); what one
    document changes is its own: the subset of glyphs it uses, and the fontTools font that
    fpdf2 subsets in place when it writes the file, opened afresh (lazily) for each document.
    """
    fonts = {}
    for key, parsed in _parsed_fonts().items():
        font = copy.deepcopy(parsed)
        font.ttfont = ttLib.TTFont(font.ttffile, recalcTimestamp=False, lazy=True)
        font.ttfont.setGlyphOrder(parsed.ttfont.getGlyphOrder())
        font.subset.font = font
        _lighten_for_embedding(font)
        fonts[key] = font
    return fonts


def _lighten_for_embedding(font: TTFFont) -> None:
    """Halve the time fpdf2 takes to embed a font subset.

    HarfBuzz shapes text from the font file itself; fontTools' copy of the font (`ttfont`) is
    only used to write the embedded subset, from which fpdf2 drops the layout tables anyway,
    so decompiling them there is wasted. Unchanged glyph outlines keep their stored bounds.
    """
    ttfont = font.ttfont
    for tag in ("GSUB", "GPOS", "GDEF"):
        if tag in ttfont:
            del ttfont[tag]
    ttfont.recalcBBoxes = False


class _HexString:
    """A PDF hex string of raw bytes, as fpdf2's object serialiser expects."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def serialize(self, *_args: Any, **_kwargs: Any) -> str:
        return f"<{self.data.hex()}>"


class _SealedOutputProducer(OutputProducer):
    """fpdf2's producer, with the Mitra entries added to the Info dictionary."""

    fpdf: _CertificatePDF

    def _add_info(self) -> PDFInfo:
        info = super()._add_info()
        # fpdf2 writes each public attribute as /CamelCase: /MitraFacts, /MitraDigest, …
        for name, value in (
            ("mitra_facts", _HexString(canonical_bytes(self.fpdf.facts))),
            ("mitra_digest", PDFString(EMPTY_DIGEST)),
            ("mitra_signature", PDFString(EMPTY_SIGNATURE)),
        ):
            setattr(info, name, value)
        return info
