"""`mitra catalog lint`: what the schema cannot check. Every problem names the service and
the field; an empty list means the catalogue is fit to serve."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from mitra.catalogue.loader import Catalogue
from mitra.catalogue.schema import (
    LANGUAGES,
    PLATFORM_OPERATIONS,
    AskStep,
    ChooseStep,
    ConfirmStep,
    IdentifyStep,
    LocationStep,
    LookupStep,
    MediaStep,
    OfficerStep,
    PayStep,
    Service,
    ShowStep,
    SubmitStep,
    Text,
)
from mitra.whatsapp import limits

OPERATIONS = {
    "account",
    "application",
    "grievance",
    "document",
    "nearest",
    "place",
    "info",
    "locate",
    "hold",
    "inventory",
    "inventory_list",
    "places_named",
    *PLATFORM_OPERATIONS,
}
# Operations Mitra answers itself from the contract's administrative data (any department).
ADMIN_DATA = {"places_named"}
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)(?:\.[a-z0-9_.]+)?(?:\|([a-z_]+))?\}")
FILTERS = {"money", "date", "status", "name", "distance", "note", "step", "time", "word"}


def _texts(service: Service) -> Iterable[tuple[str, Text, int]]:
    """(where, text, limit) for every citizen-facing string of a service."""
    yield "title", service.title, limits.ROW_TITLE
    yield "description", service.description, limits.ROW_DESCRIPTION
    for step in service.steps:
        where = f"steps.{step.id}"
        if isinstance(step, (ChooseStep, ConfirmStep, LocationStep)):
            yield f"{where}.prompt", step.prompt, limits.INTERACTIVE_BODY
        elif isinstance(step, (AskStep, MediaStep)):
            yield f"{where}.prompt", step.prompt, limits.TEXT_BODY
        if isinstance(step, AskStep):
            yield f"{where}.invalid", step.invalid, limits.TEXT_BODY
        if isinstance(step, PayStep):
            yield f"{where}.prompt", step.prompt, limits.INTERACTIVE_BODY
            yield f"{where}.button", step.button, limits.BUTTON_TITLE
        if isinstance(step, ChooseStep):
            as_buttons = len(step.options) <= limits.REPLY_BUTTONS_MAX
            for o in step.options:
                yield (
                    f"{where}.options.{o.id}.title",
                    o.title,
                    (limits.BUTTON_TITLE if as_buttons else limits.ROW_TITLE),
                )
                if o.description:
                    yield (
                        f"{where}.options.{o.id}.description",
                        o.description,
                        limits.ROW_DESCRIPTION,
                    )
            if step.button:
                yield f"{where}.button", step.button, limits.LIST_BUTTON
        if isinstance(step, LookupStep) and step.not_found:
            yield f"{where}.not_found", step.not_found, limits.TEXT_BODY
        if isinstance(step, ShowStep) and step.text:
            yield f"{where}.text", step.text, limits.INTERACTIVE_BODY
        if isinstance(step, ShowStep) and step.item:
            yield f"{where}.item", step.item, limits.ROW_DESCRIPTION * 4
        if isinstance(step, ShowStep) and step.empty:
            yield f"{where}.empty", step.empty, limits.INTERACTIVE_BODY


def lint_service(
    service: Service, *, operations_of: Callable[[str], set[str]] | None = None
) -> list[str]:
    problems: list[str] = []
    code = service.code
    for where, text, limit in _texts(service):
        for lang in LANGUAGES:
            value = text(lang)
            if not value.strip():
                problems.append(f"{code} {where}: empty in {lang}")
            elif len(value) > limit:
                problems.append(f"{code} {where}: {len(value)} characters in {lang}, limit {limit}")
            for match in _PLACEHOLDER.finditer(value):
                if match.group(2) and match.group(2) not in FILTERS:
                    problems.append(f"{code} {where}: unknown filter |{match.group(2)}")
        placeholders = {lang: sorted(set(_PLACEHOLDER.findall(text(lang)))) for lang in LANGUAGES}
        if placeholders["en"] != placeholders["te"]:
            problems.append(f"{code} {where}: placeholders differ between languages")
    if service.title.en == service.title.te:
        problems.append(f"{code} title: the Telugu title is the English one")
    if not any(ch >= "\u0c00" and ch <= "\u0c7f" for ch in service.title.te):
        problems.append(f"{code} title: the Telugu title has no Telugu script")
    for step in service.steps:
        if isinstance(step, LookupStep):
            if step.operation not in OPERATIONS:
                problems.append(f"{code} steps.{step.id}: unknown operation {step.operation}")
            elif (
                operations_of is not None
                and step.operation not in PLATFORM_OPERATIONS
                and step.operation not in ADMIN_DATA
                and step.operation not in operations_of(service.department)
            ):
                problems.append(
                    f"{code} steps.{step.id}: {service.department} has no {step.operation}"
                )
    problems.extend(_lint_case(service))
    languages = {e.language for e in service.examples}
    for lang in LANGUAGES:
        if lang not in languages:
            problems.append(f"{code} examples: none in {lang}")
    return problems


def _case_prefixes() -> set[str]:
    """Reference prefixes the contract routes to a department (`PFX-YYYY-NNNNNN-C`)."""
    from mitra.departments.routing import Routing

    prefixes = set()
    for route in Routing.from_contract().routes("applications").values():
        if route.example and re.fullmatch(r"[A-Z]{3}-\d{4}-\d{6}-[A-Z]", route.example):
            prefixes.add(route.example[:3])
    return prefixes


def _routable(prefix: str) -> bool:
    """Would a status look-up find a reference with this prefix? (Mitra's first number.)"""
    from mitra.departments.references import make_reference
    from mitra.departments.routing import Routing

    if prefix in _case_prefixes():
        return True
    reference = make_reference(prefix, 2026, 500001)
    return any(r.matches(reference) for r in Routing.from_contract().routes("grievances").values())


def _lint_case(service: Service) -> list[str]:
    """Applications and certificates: numbered, routed, on a clock, and (certificates) issued
    to a verified person."""
    code = service.code
    problems: list[str] = []
    submits = [s for s in service.steps if isinstance(s, SubmitStep)]
    # Applications are submitted; the exceptions act on something already there: answering
    # an officer about an application (GEN-15), talking to one (GEN-12).
    acts_otherwise = any(
        isinstance(s, OfficerStep)
        or (isinstance(s, LookupStep) and s.operation in ("answer_case", "rate_grievance"))
        for s in service.steps
    )
    if service.pattern in ("certificate", "application") and not acts_otherwise:
        if not submits:
            problems.append(f"{code}: a {service.pattern} needs a submit step")
    if submits:
        if service.case_prefix is None:
            problems.append(f"{code}: a service that submits needs case_prefix")
        elif not _routable(service.case_prefix):
            problems.append(
                f"{code} case_prefix: {service.case_prefix} is not an application kind in the"
                " contract's x-mitra-routing, so status look-ups could not find it"
            )
        if service.sla_days is None and service.grievance is None:
            problems.append(f"{code}: a service that submits needs sla_days")
        areas = {s.save_as for s in service.steps if isinstance(s, LookupStep)}
        for step in submits:
            if step.area not in areas:
                problems.append(
                    f"{code} steps.{step.id}: area {step.area!r} is not saved by a lookup"
                )
    if service.pattern == "grievance" and service.grievance is None and submits:
        problems.append(f"{code}: a grievance that submits needs a `grievance:` block")
    if service.pattern == "certificate":
        if not any(isinstance(s, IdentifyStep) for s in service.steps):
            problems.append(f"{code}: a certificate needs an identify step (identity step-up)")
        if service.document is None:
            problems.append(f"{code}: a certificate needs a document")
    if service.document is not None:
        for fact in service.document.facts:
            for lang in LANGUAGES:
                for match in _PLACEHOLDER.finditer(fact.value(lang)):
                    if match.group(2) and match.group(2) not in FILTERS:
                        problems.append(f"{code} document: unknown filter |{match.group(2)}")
    return problems


def lint_catalogue(
    catalogue: Catalogue, *, operations_of: Callable[[str], set[str]] | None = None
) -> list[str]:
    problems: list[str] = []
    for d in catalogue.departments:
        for where, text, limit in (
            ("name", d.name, limits.ROW_TITLE),
            ("description", d.description, limits.ROW_DESCRIPTION),
        ):
            for lang in LANGUAGES:
                if len(text(lang)) > limit:
                    problems.append(
                        f"department {d.code} {where}: {len(text(lang))} > {limit} chars in {lang}"
                    )
    for service in catalogue.versions.values():
        problems.extend(lint_service(service, operations_of=operations_of))
    return problems
