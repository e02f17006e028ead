"""What a document says: its facts, and the canonical bytes that are signed.

The canonical form of a document's facts (`canonical_bytes`) is UTF-8 JSON with the keys of
every object sorted, no whitespace between tokens, non-ASCII characters written as themselves
(not `\\u` escapes), and dates as `YYYY-MM-DD` strings. Every value is a string, `null` or a
nested object/array of them, so this is the same byte string RFC 8785 (JCS) would produce.
The object's keys are exactly:

    {"department": {"code": str, "name": {"en": str, "te": str}},
     "document_id": str,
     "facts": [{"label": {"en": str, "te": str}, "value": {"en": str, "te": str} | str}, ...],
     "holder_name": str,
     "issued_on": "YYYY-MM-DD",
     "key_id": str,
     "kind": str,
     "office": {"id": str, "name": {"en": str, "te": str}},
     "officer": {"designation": {"en": str, "te": str}, "name": str},
     "reference": str,
     "title": {"en": str, "te": str},
     "valid_until": "YYYY-MM-DD" | null,
     "verify_url": str}

`facts` keeps the order in which the rows are printed. Strings are signed exactly as given
(no Unicode normalisation). docs/verify-a-document.md repeats this for people checking a
document without Mitra.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

DOCUMENT_ID_PREFIX = "D"


def new_document_id() -> str:
    """An opaque, unguessable document id: "D" and 20 base32 characters (100 random bits)."""
    return DOCUMENT_ID_PREFIX + base64.b32encode(secrets.token_bytes(13)).decode("ascii")[:20]


@dataclass(frozen=True, slots=True)
class Bilingual:
    """The same words in English and in Telugu."""

    en: str
    te: str


@dataclass(frozen=True, slots=True)
class Fact:
    """One printed row: a bilingual label and its value, bilingual or the same in both."""

    label: Bilingual
    value: Bilingual | str


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: Bilingual


@dataclass(frozen=True, slots=True)
class Office:
    id: str
    name: Bilingual


@dataclass(frozen=True, slots=True)
class Officer:
    name: str
    designation: Bilingual


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """Everything a certificate or letter states; all of it is signed.

    `reference` is the case reference (REV-2026-500001-K); `document_id` names this document
    and is what the QR code and the verification URL carry. `valid_until` None means valid for
    life. `key_id` names the signing key (see `mitra.documents.signing`).
    """

    document_id: str
    kind: str
    title: Bilingual
    reference: str
    holder_name: str
    facts: Sequence[Fact]
    department: Department
    office: Office
    officer: Officer
    issued_on: date
    valid_until: date | None
    verify_url: str
    key_id: str

    def __post_init__(self) -> None:
        # Any sequence of rows is accepted; a tuple is kept so the value stays immutable.
        object.__setattr__(self, "facts", tuple(self.facts))
        if self.valid_until is not None and self.valid_until < self.issued_on:
            raise ValueError("valid_until is before issued_on")

    def to_dict(self) -> dict[str, Any]:
        """The facts as plain JSON-ready data, in the canonical shape."""
        return _to_dict(self)


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """Any JSON object in Mitra's canonical form (see the module docstring)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def canonical_bytes(facts: DocumentFacts) -> bytes:
    """The bytes that are signed for these facts."""
    return canonical_json(_to_dict(facts))


def facts_from_dict(data: Mapping[str, Any]) -> DocumentFacts:
    """Rebuild `DocumentFacts` from its canonical dict; ValueError if it is not that shape."""
    if not isinstance(data, Mapping) or set(data) != _KEYS:
        raise ValueError("not a document's facts: wrong keys")
    try:
        return DocumentFacts(
            document_id=_str(data["document_id"]),
            kind=_str(data["kind"]),
            title=_bilingual(data["title"]),
            reference=_str(data["reference"]),
            holder_name=_str(data["holder_name"]),
            facts=tuple(_fact(row) for row in _list(data["facts"])),
            department=Department(
                code=_str(data["department"]["code"]),
                name=_bilingual(data["department"]["name"]),
            ),
            office=Office(id=_str(data["office"]["id"]), name=_bilingual(data["office"]["name"])),
            officer=Officer(
                name=_str(data["officer"]["name"]),
                designation=_bilingual(data["officer"]["designation"]),
            ),
            issued_on=date.fromisoformat(_str(data["issued_on"])),
            valid_until=(
                None
                if data["valid_until"] is None
                else date.fromisoformat(_str(data["valid_until"]))
            ),
            verify_url=_str(data["verify_url"]),
            key_id=_str(data["key_id"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a document's facts: {error!r}") from error


_KEYS = frozenset(
    {
        "department",
        "document_id",
        "facts",
        "holder_name",
        "issued_on",
        "key_id",
        "kind",
        "office",
        "officer",
        "reference",
        "title",
        "valid_until",
        "verify_url",
    }
)


def _to_dict(facts: DocumentFacts) -> dict[str, Any]:
    return {
        "department": {
            "code": facts.department.code,
            "name": _bilingual_dict(facts.department.name),
        },
        "document_id": facts.document_id,
        "facts": [
            {
                "label": _bilingual_dict(row.label),
                "value": row.value if isinstance(row.value, str) else _bilingual_dict(row.value),
            }
            for row in facts.facts
        ],
        "holder_name": facts.holder_name,
        "issued_on": facts.issued_on.isoformat(),
        "key_id": facts.key_id,
        "kind": facts.kind,
        "office": {"id": facts.office.id, "name": _bilingual_dict(facts.office.name)},
        "officer": {
            "designation": _bilingual_dict(facts.officer.designation),
            "name": facts.officer.name,
        },
        "reference": facts.reference,
        "title": _bilingual_dict(facts.title),
        "valid_until": None if facts.valid_until is None else facts.valid_until.isoformat(),
        "verify_url": facts.verify_url,
    }


def _bilingual_dict(text: Bilingual) -> dict[str, str]:
    return {"en": text.en, "te": text.te}


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _list(value: Any) -> Iterable[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _bilingual(value: Any) -> Bilingual:
    if not isinstance(value, Mapping) or set(value) != {"en", "te"}:
        raise TypeError(f"expected {{en, te}}, got {value!r}")
    return Bilingual(en=_str(value["en"]), te=_str(value["te"]))


def _fact(row: Any) -> Fact:
    if not isinstance(row, Mapping) or set(row) != {"label", "value"}:
        raise TypeError(f"expected {{label, value}}, got {row!r}")
    value = row["value"]
    return Fact(
        label=_bilingual(row["label"]), value=value if isinstance(value, str) else _bilingual(value)
    )
