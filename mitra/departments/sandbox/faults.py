"""Trouble on demand, so tests and demos can see Mitra cope with a department that is slow,
down or failing: `POST /_sandbox/faults {"department": "ENG", "mode": "down", "count": 3}`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

FaultMode = Literal["slow", "down", "error"]


@dataclass
class Fault:
    department: str | None  # None: every department
    mode: FaultMode
    seconds: float  # how long a `slow` fault delays each answer
    remaining: int | None  # requests still to affect; None: until cleared

    def record(self) -> dict[str, object]:
        return asdict(self)


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self, department: str | None = None) -> None:
        self._faults = [
            f for f in self._faults if department is not None and f.department != department
        ]

    def active(self) -> list[Fault]:
        return list(self._faults)

    def take(self, department: str) -> Fault | None:
        """The fault that applies to this request, if any (using up one of its count)."""
        for fault in self._faults:
            if fault.department in (None, department):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None
