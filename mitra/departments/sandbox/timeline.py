"""The sandbox's calendar: its records are as of `AS_OF`, in Indian Standard Time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
AS_OF = date(2026, 11, 16)


def at(day: date, hour: int = 10, minute: int = 0) -> str:
    """An ISO 8601 time on `day` in IST: `2026-11-03T10:15:00+05:30`."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=IST).isoformat()


def month_start(day: date, months_back: int = 0) -> date:
    """The first day of the month `months_back` months before `day`'s month."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def financial_year(day: date) -> str:
    """`2026-27` for any day from April 2026 to March 2027."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"
