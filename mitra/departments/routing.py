"""Which department answers an operation, from the contract's `x-mitra-routing` table.

The client asks this before every call, so a reference like `MUT-2026-000123-K` goes to
Revenue and `GRV-ENG-…` to Energy without the conversation knowing department codes; a
malformed identifier is refused here, before any HTTP.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mitra.departments.contract import contract_view
from mitra.departments.errors import DepartmentError
from mitra.departments.references import check_letter_ok

Section = Literal["admin", "accounts", "applications", "grievances", "documents", "places", "info"]
SECTIONS: tuple[Section, ...] = (
    "admin",
    "accounts",
    "applications",
    "grievances",
    "documents",
    "places",
    "info",
)

# ECMAScript named groups `(?<name>…)` are written `(?P<name>…)` in Python.
_ECMA_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(_ECMA_NAMED_GROUP.sub("(?P<", pattern))


@dataclass(frozen=True)
class Route:
    section: Section
    name: str
    departments: tuple[str, ...]
    pattern: re.Pattern[str] | None
    example: str | None
    params: tuple[str, ...]

    def matches(self, identifier: str) -> bool:
        return self.pattern is None or self.pattern.fullmatch(identifier) is not None

    def department_for(self, identifier: str | None) -> str:
        """The department that holds `identifier` (named by it, or the first listed)."""
        if identifier is not None and self.pattern is not None:
            match = self.pattern.fullmatch(identifier)
            if match is not None and "department" in match.groupdict():
                return match.group("department")
        return self.departments[0]


class Routing:
    """The routing table: a `Route` per (section, name)."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self._routes: dict[Section, dict[str, Route]] = {section: {} for section in SECTIONS}
        for section in SECTIONS:
            entries = table.get(section, {})
            if section == "admin":
                entries = {"admin": entries}
            for name, entry in entries.items():
                pattern = entry.get("pattern")
                self._routes[section][str(name)] = Route(
                    section=section,
                    name=str(name),
                    departments=tuple(entry["departments"]),
                    pattern=compile_pattern(pattern) if pattern else None,
                    example=entry.get("example"),
                    params=tuple(entry.get("params", ())),
                )

    @classmethod
    def from_contract(cls, contract: Mapping[str, Any] | None = None) -> Routing:
        document = contract if contract is not None else contract_view()
        return cls(document["x-mitra-routing"])

    def routes(self, section: Section) -> dict[str, Route]:
        return dict(self._routes[section])

    def route(self, section: Section, name: str) -> Route:
        try:
            return self._routes[section][name]
        except KeyError:
            raise DepartmentError(
                "invalid", f"no department answers {section} of kind {name!r}", code="unknown_kind"
            ) from None

    def served_by(self, department: str) -> dict[Section, list[str]]:
        """What `department` implements, section by section (its health `operations`)."""
        return {
            section: [name for name, r in routes.items() if department in r.departments]
            for section, routes in self._routes.items()
        }

    def checked(self, section: Section, name: str, identifier: str) -> Route:
        """The route for `identifier`, refusing one that does not fit its pattern."""
        route = self.route(section, name)
        if not route.matches(identifier):
            raise DepartmentError(
                "invalid",
                f"{section} identifier does not match the {name} pattern",
                code="malformed_identifier",
            )
        if not check_letter_ok(identifier):
            raise DepartmentError("invalid", "wrong check letter", code="bad_check_letter")
        return route

    def reference_route(
        self, section: Literal["applications", "grievances"], reference: str
    ) -> Route:
        """The route whose pattern a reference fits (references carry their kind)."""
        for route in self._routes[section].values():
            if route.matches(reference):
                if not check_letter_ok(reference):
                    raise DepartmentError("invalid", "wrong check letter", code="bad_check_letter")
                return route
        raise DepartmentError(
            "invalid",
            f"not a reference any department issues ({section})",
            code="malformed_identifier",
        )


@functools.cache
def default_routing() -> Routing:
    return Routing.from_contract()


def normalise_reference(text: str) -> str:
    """What a citizen typed, as a reference: trimmed, upper-case, no inner spaces."""
    return re.sub(r"\s+", "", text).upper()


def normalise_identifier(text: str) -> str:
    """An account or document identifier: no spaces, upper-case, `/` written as `-`."""
    return re.sub(r"\s+", "", text).upper().replace("/", "-")
