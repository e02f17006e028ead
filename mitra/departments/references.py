"""Reference numbers shaped `PFX-YYYY-NNNNNN-C` and their check letter (see the contract).

The check letter lets Mitra refuse a mistyped reference before asking a department: it is
`ALPHABET[sum((i + 1) * d_i) mod 26]` over the ten digits of year and serial.
"""

from __future__ import annotations

import re

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CHECKED = re.compile(r"-(\d{4})-(\d{6})-([A-Z])$")


def check_letter(year: int, serial: int) -> str:
    digits = f"{year:04d}{serial:06d}"
    return ALPHABET[sum((i + 1) * int(d) for i, d in enumerate(digits)) % len(ALPHABET)]


def make_reference(prefix: str, year: int, serial: int) -> str:
    """`make_reference("REV", 2026, 123)` → `"REV-2026-000123-K"`."""
    return f"{prefix}-{year:04d}-{serial:06d}-{check_letter(year, serial)}"


def check_letter_ok(reference: str) -> bool:
    """False only for a reference that ends `-YYYY-NNNNNN-C` with the wrong letter."""
    match = _CHECKED.search(reference)
    if match is None:
        return True
    year, serial, letter = match.groups()
    return check_letter(int(year), int(serial)) == letter
