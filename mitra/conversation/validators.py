"""Validators for typed answers. Each takes the citizen's text and returns the normalised
value to keep, or raises `Invalid`; the step's own `invalid` text is what the citizen reads.

Pure functions: no I/O, no clock except the one passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

from mitra.catalogue.schema import Validation


class Invalid(ValueError):
    """The answer does not fit; the engine re-prompts with the step's `invalid` text."""


# Verhoeff check digit tables (used by Aadhaar numbers).
_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_valid(digits: str) -> bool:
    check = 0
    for i, ch in enumerate(reversed(digits)):
        check = _D[check][_P[i % 8][int(ch)]]
    return check == 0


def _digits(text: str) -> str:
    return re.sub(r"[\s\-.]", "", text)


def _number(text: str, rule: Validation) -> str:
    cleaned = text.replace(",", "").strip()
    try:
        value = float(cleaned)
    except ValueError:
        raise Invalid("not a number") from None
    if (rule.min is not None and value < rule.min) or (rule.max is not None and value > rule.max):
        raise Invalid("out of range")
    return cleaned


def _amount(text: str, rule: Validation) -> str:
    """Rupees as typed ("₹1,500", "1500.50", "Rs 200") → integer paise, as a string."""
    cleaned = re.sub(r"(?i)^(₹|rs\.?|inr)\s*", "", text.strip()).replace(",", "").replace("/-", "")
    if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", cleaned):
        raise Invalid("not an amount")
    rupees, _, paise = cleaned.partition(".")
    value = int(rupees) * 100 + int((paise + "00")[:2])
    if (rule.min is not None and value < rule.min * 100) or (
        rule.max is not None and value > rule.max * 100
    ):
        raise Invalid("out of range")
    return str(value)


# Days said in words, from today: what people type for a booking.
RELATIVE_DAYS = {
    "today": 0,
    "tomorrow": 1,
    "day after tomorrow": 2,
    "ఈరోజు": 0,
    "ఈ రోజు": 0,
    "నేడు": 0,
    "రేపు": 1,
    "ఎల్లుండి": 2,
}


def parse_date(text: str, today: date) -> date | None:
    cleaned = " ".join(text.strip().casefold().split())
    if cleaned in RELATIVE_DAYS:
        return today + timedelta(days=RELATIVE_DAYS[cleaned])
    for fmt in ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%d-%m-%y", "%d/%m/%y"):
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


def _date(text: str, rule: Validation, today: date) -> str:
    """A date (typed as 20-11-2026, 20/11/26 …, or "today", "tomorrow", "రేపు"). `min` and
    `max` bound it in days from today: `max: 0` is never in the future (a date of birth),
    `min: 0, max: 60` a booking within two months."""
    day = parse_date(text, today)
    if day is None:
        raise Invalid("not a date")
    offset = (day - today).days
    if (rule.min is not None and offset < rule.min) or (rule.max is not None and offset > rule.max):
        raise Invalid("out of range")
    return day.isoformat()


def _mobile(text: str, rule: Validation) -> str:
    digits = _digits(text)
    digits = re.sub(r"^(\+?91|0)(?=\d{10}$)", "", digits)
    if not re.fullmatch(r"[6-9]\d{9}", digits):
        raise Invalid("not an Indian mobile number")
    return digits


def _pincode(text: str, rule: Validation) -> str:
    digits = _digits(text)
    if not re.fullmatch(r"[1-9]\d{5}", digits):
        raise Invalid("not a PIN code")
    return digits


def _pan(text: str, rule: Validation) -> str:
    """A PAN: five letters (the fourth says who holds it: P a person, C a company, T a trust
    …), four digits, a letter. Kept as given (a receipt for tax exemption prints it), but only
    ever encrypted."""
    pan = re.sub(r"\s", "", text).upper()
    if not re.fullmatch(r"[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z]", pan):
        raise Invalid("not a PAN")
    return pan


def _vehicle(text: str, rule: Validation) -> str:
    plate = re.sub(r"[\s\-]", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{1,2}[A-Z]{0,3}\d{1,4}", plate):
        raise Invalid("not a vehicle number")
    return plate


def aadhaar_digits(text: str) -> str | None:
    """The 12 digits of a well-formed Aadhaar number (Verhoeff check digit), else None."""
    digits = _digits(text)
    if not re.fullmatch(r"[2-9]\d{11}", digits) or not verhoeff_valid(digits):
        return None
    return digits


def _aadhaar(text: str, rule: Validation) -> str:
    """Checked in full, kept masked: a full Aadhaar number is never stored (invariant 7)."""
    digits = aadhaar_digits(text)
    if digits is None:
        raise Invalid("not a valid Aadhaar number")
    return "XXXX-XXXX-" + digits[-4:]


def _reference(text: str, rule: Validation) -> str:
    return text.strip()


def _text(text: str, rule: Validation) -> str:
    return text.strip()


_BY_TYPE: dict[str, Callable[[str, Validation], str]] = {
    "text": _text,
    "number": _number,
    "amount": _amount,
    "mobile": _mobile,
    "pincode": _pincode,
    "vehicle": _vehicle,
    "pan": _pan,
    "aadhaar": _aadhaar,
    "reference": _reference,
}


def validate_answer(text: str, rule: Validation, *, today: date | None = None) -> str:
    value = text.strip()
    if rule.uppercase:
        value = value.upper()
    if not value:
        raise Invalid("empty")
    if rule.min_length is not None and len(value) < rule.min_length:
        raise Invalid("too short")
    if rule.max_length is not None and len(value) > rule.max_length:
        raise Invalid("too long")
    if rule.type == "date":
        result = _date(value, rule, today or date.today())
    else:
        result = _BY_TYPE[rule.type](value, rule)
    if rule.pattern is not None and not re.fullmatch(rule.pattern, result):
        raise Invalid("does not match the expected pattern")
    return result
