"""Driving a service's example conversations through the engine (`mitra catalog test` and the
test suite). Department calls go to a real adapter (the sandbox, over HTTP) through `caller`.

A tap must name an id the bot actually offered in its previous replies: an example that taps
a button that was never shown fails, as it would for a citizen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import orjson

from mitra.cases import grievances
from mitra.cases.chat import my_requests
from mitra.cases.lifecycle import GRIEVANCE_OPEN, CaseError, check
from mitra.cases.store import (
    IST,
    SERIAL_START,
    Submitted,
    applicant_of,
    ist_day,
    plan_case,
)
from mitra.cases.views import application_view
from mitra.catalogue.loader import Catalogue
from mitra.catalogue.schema import Example, Service, Turn
from mitra.conversation.engine import EffectResult, Session, handle
from mitra.departments.references import make_reference
from mitra.departments.sandbox.timeline import AS_OF
from mitra.identity import DeskEkycProvider, EkycDesk, EkycProvider
from mitra.jobs.department_calls import Call, Caller, make_calls
from mitra.jobs.identity_calls import run_transient
from mitra.jobs.platform_calls import is_platform, matches, summarise_lookups, texts_of
from mitra.whatsapp.events import Choice, InboundMessage, Location, Media, Sender, Text
from mitra.whatsapp.messages import OutboundMessage, validate

TESTER = Sender(user_id=None, wa_id="919999900000", profile_name="Catalogue test")
MAX_CHAINED_CALLS = 5
# Examples are conversations on the sandbox's day (its records are as of then), so reference
# numbers and expected dates in them do not change with the calendar.
EXAMPLE_NOW = datetime.combine(AS_OF, time(11, 0), tzinfo=IST)


@dataclass
class ExampleOutcome:
    service: str
    example: str
    language: str
    failures: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def reply_text(m: OutboundMessage) -> str:
    """Everything a citizen can read in a message: body, header, footer, options."""
    p = m.payload
    if p.get("type") == "text":
        return str(p["text"]["body"])
    inter = p.get("interactive") or {}
    parts = [str((inter.get("body") or {}).get("text", ""))]
    parts += [title for _, title in offered(m)]
    if inter.get("type") == "cta_url":  # a link button: its words are read too
        parts.append(str(inter["action"]["parameters"]["display_text"]))
    return "\n".join(parts)


def offered(m: OutboundMessage) -> list[tuple[str, str]]:
    inter = m.payload.get("interactive") or {}
    action = inter.get("action") or {}
    if inter.get("type") == "button":
        return [(b["reply"]["id"], b["reply"]["title"]) for b in action.get("buttons", [])]
    if inter.get("type") == "list":
        return [(r["id"], r["title"]) for s in action.get("sections", []) for r in s["rows"]]
    return []


def _event(turn: Turn, offers: dict[str, str], now: datetime) -> InboundMessage:
    if turn.citizen is not None:
        return InboundMessage("wamid.example", TESTER, now, "text", Text(turn.citizen), None)
    if turn.tap is not None:
        return InboundMessage(
            "wamid.example",
            TESTER,
            now,
            "interactive",
            Choice(turn.tap, offers.get(turn.tap, turn.tap), None, "list"),
            None,
        )
    if turn.media is not None:
        mime = {"image": "image/jpeg", "audio": "audio/ogg; codecs=opus"}.get(
            turn.media, "application/pdf"
        )
        # The media id says what the examples' Graph API will answer when it is fetched.
        media_id = f"example-{turn.media}-{turn.media_problem or 'ok'}"
        return InboundMessage(
            "wamid.example",
            TESTER,
            now,
            turn.media,
            Media(media_id, mime, None, None, None, turn.media == "audio", turn.media),
            None,
        )
    assert turn.location is not None
    lat, lon = turn.location
    return InboundMessage(
        "wamid.example", TESTER, now, "location", Location(lat, lon, None, None), None
    )


class ExampleCases:
    """Mitra's cases for one example, in memory: the same numbering, routing, lifecycle and
    views as mitra.cases.store, without a database (the WhatsApp-path tests use the real one)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.cases: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.names: dict[str, str] = {}
        self.serial = SERIAL_START
        self.media = 0  # media kept in this example

    def submit(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        service = self.catalogue.service(str(args["service"]), int(args["version"]))
        if service is None:
            raise CaseError("invalid", "no such service")
        area = orjson.loads(args.get("area") or "{}")
        plan = plan_case(service, str(args.get("department") or "") or None, area, now)
        offices = plan.offices
        self.serial += 1
        reference = make_reference(plan.prefix, now.astimezone(IST).year, self.serial)
        self.cases[reference] = {
            "id": self.serial,
            "reference": reference,
            "department": plan.department,
            "service": service.code,
            "service_version": service.version,
            "pattern": service.pattern,
            "offices": offices,
            "level": 0,
            "office_id": offices[0]["id"],
            "status": plan.status,
            "question": None,
            "reason": None,
            "due_at": plan.due,
            "created_at": now,
            "updated_at": now,
            "document_id": None,
            "district_code": (area.get("district") or {}).get("code"),
            "mandal_code": (area.get("mandal") or {}).get("code"),
            "priority": service.grievance.priority if service.grievance else None,
            "cell": plan.cell,
            "reports": 1,
            "resolution": None,
            "rating": None,
        }
        self.events[reference] = [self._event("submit", plan.status, offices[0]["id"], now)]
        answers = orjson.loads(args.get("answers") or "{}")
        self.names[reference] = str(applicant_of(answers, TESTER.profile_name).get("name") or "")
        return Submitted(
            reference,
            plan.status,
            ist_day(plan.due).isoformat(),
            offices[0],
            plan.sla_days,
            plan.due.astimezone(IST).isoformat(),
            service.grievance.priority if service.grievance else None,
        ).as_result()

    def similar(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Like grievances.similar, over this example's grievances (one citizen reporting the
        same problem twice sees the offer to join)."""
        try:
            cell = (round(float(args["lat"]) * 1000), round(float(args["lon"]) * 1000))
        except (KeyError, ValueError):
            raise CaseError("invalid", "no position") from None
        for case in self.cases.values():
            near = case["cell"] and all(
                abs(a - b) <= grievances.NEARBY_CELLS
                for a, b in zip(case["cell"], cell, strict=True)
            )
            if case["service"] == args.get("service") and case["status"] in GRIEVANCE_OPEN and near:
                return {
                    "found": "yes",
                    "reference": case["reference"],
                    "status": case["status"],
                    "registered_at": case["created_at"].astimezone(IST).isoformat(),
                    "distance_m": grievances._metres(cell, case["cell"]),
                    "reports": case["reports"],
                }
        return {"found": "no"}

    def grievance(self, reference: str) -> dict[str, Any] | None:
        case = self.cases.get(reference.strip().upper())
        if case is None or case["pattern"] != "grievance":
            return None
        service = self.catalogue.service(case["service"], case["service_version"])
        return grievances.grievance_view(case, self.events[case["reference"]], service)

    @staticmethod
    def _event(action: str, status: str, office_id: str, now: datetime) -> dict[str, Any]:
        return {"at": now, "action": action, "to_status": status, "office_id": office_id}

    def view(self, reference: str) -> dict[str, Any] | None:
        case = self.cases.get(reference.strip().upper())
        if case is None:
            return None
        service = self.catalogue.service(case["service"], case["service_version"])
        return application_view(
            case, self.events[case["reference"]], service, self.names[case["reference"]]
        )

    def act(self, reference: str, action: str, now: datetime) -> dict[str, Any]:
        case = self.cases.get(reference.strip().upper())
        if case is None:
            raise CaseError("not_found", "no such case")
        rule = check(action, case["status"], "citizen", None)
        case.update(status=rule.target, updated_at=now)
        self.events[case["reference"]].append(
            self._event(action, rule.target, case["office_id"], now)
        )
        view = self.view(reference)
        assert view is not None
        return view

    def mine(self) -> list[dict[str, Any]]:
        out = []
        for case in reversed(self.cases.values()):
            service = self.catalogue.service(case["service"], case["service_version"])
            out.append(
                {
                    "reference": case["reference"],
                    "what": {"en": service.title.en, "te": service.title.te} if service else {},
                    "status": case["status"],
                    "at": case["updated_at"].isoformat(),
                    "expected_by": ist_day(case["due_at"]).isoformat(),
                }
            )
        return out


def _case_answer(
    cases: ExampleCases, effect_id: str, operation: str, args: dict[str, Any], now: datetime
) -> EffectResult:
    try:
        if operation == "submit_case":
            return EffectResult(effect_id, True, cases.submit(args, now))
        if operation == "withdraw_case":
            return EffectResult(effect_id, True, cases.act(str(args["reference"]), "withdraw", now))
        if operation == "answer_case":
            return EffectResult(effect_id, True, cases.act(str(args["reference"]), "answer", now))
        if operation == "similar_grievances":
            return EffectResult(effect_id, True, cases.similar(args, now))
        if operation == "join_grievance":
            # Joining one's own grievance changes nothing (the real store says the same).
            found = cases.grievance(str(args.get("reference") or ""))
            if found is None or found["status"] not in GRIEVANCE_OPEN:
                raise CaseError("not_found", "no open grievance")
            return EffectResult(effect_id, True, found)
        if operation == "my_grievances":
            mine = [
                {"reference": c["reference"], "what": c["what"], "status": c["status"], "own": True}
                for c in cases.mine()
                if c["reference"].startswith("GRV-")
            ]
            return EffectResult(
                effect_id,
                True,
                {"grievances": mine, "resolved": [g for g in mine if g["status"] == "resolved"]},
            )
        if operation == "rate_grievance":
            raise CaseError("not_found", "nothing is resolved in an example")
    except CaseError as exc:
        return EffectResult(
            effect_id,
            False,
            error="not_found" if exc.kind in ("not_found", "illegal") else "invalid",
        )
    return EffectResult(effect_id, False, error="not_found")  # send_document: none issued here


def _payment_answer(
    cases: ExampleCases, effect_id: str, args: dict[str, Any], now: datetime
) -> EffectResult:
    """A payment link as the sandbox gateway would make it (no money moves in examples)."""
    hold = orjson.loads(args.get("hold") or "{}") or {}
    try:
        amount = int(hold.get("amount_paise") or args.get("amount") or 0)
    except ValueError:
        amount = 0
    free = args.get("purpose") == "booking" and amount == 0
    if amount <= 0 and not free:
        return EffectResult(effect_id, False, error="invalid")
    cases.serial += 1
    reference = make_reference("PAY", now.astimezone(IST).year, cases.serial)
    expires = now + timedelta(minutes=15)
    return EffectResult(
        effect_id,
        True,
        {
            "reference": reference,
            "url": "" if free else f"https://pay.example.invalid/pay/{reference}",
            "amount_paise": amount,
            "expires_at": expires.isoformat(),
        },
    )


def _platform_answer(
    effect_id: str,
    operation: str,
    args: dict[str, Any],
    said: list[str],
    looked_up: list[tuple[str, dict[str, Any], dict[str, Any], str]],
    cases: ExampleCases,
    now: datetime,
) -> EffectResult:
    """Mitra's own records for an example: a fixed record for my_data, and for
    verify_message what the bot said earlier in this example (the WhatsApp-path test reads
    the real database instead)."""
    if operation == "my_data":
        return EffectResult(
            effect_id,
            True,
            {
                "phone": "+91 XXXXXX0000",
                "name": TESTER.profile_name,
                "since": "2026-11-01T10:00:00+05:30",
                "consent_at": "2026-11-01T10:00:00+05:30",
                "messages": 3,
                "replies": 3,
                "lookups": 0,
                "language": {"en": "English", "te": "ఇంగ్లీష్"},
            },
        )
    if operation in (
        "submit_case",
        "withdraw_case",
        "answer_case",
        "send_document",
        "similar_grievances",
        "join_grievance",
        "my_grievances",
        "rate_grievance",
    ):
        return _case_answer(cases, effect_id, operation, args, now)
    if operation == "fetch_media":
        # The examples' Graph API: the media id says whether the file can be kept.
        problem = str(args.get("media_id") or "").rsplit("-", 1)[-1]
        if problem != "ok":
            return EffectResult(effect_id, False, error=problem)
        cases.media += 1
        return EffectResult(
            effect_id, True, {"stored": cases.media, "kind": args.get("kind"), "size": 48_213}
        )
    if operation == "create_payment":
        return _payment_answer(cases, effect_id, args, now)
    if operation == "open_handover":
        return EffectResult(
            effect_id, True, {"id": 1, "department": args.get("department"), "status": "waiting"}
        )
    if operation == "close_handover":
        return EffectResult(effect_id, True, {"closed": True})
    if operation == "my_bookings":
        # Examples cannot pay (no gateway callback here): nobody has a confirmed booking.
        return EffectResult(effect_id, True, {"bookings": [], "has_bookings": "no"})
    if operation == "cancel_booking":
        return EffectResult(effect_id, False, error="not_found")
    if operation in ("my_requests", "my_documents"):
        kinds = ("application", "grievance") if operation == "my_requests" else ("document",)
        mine = [(a, d, at) for op, a, d, at in reversed(looked_up) if op in kinds]
        if operation == "my_documents":
            return EffectResult(
                effect_id,
                True,
                {"documents": summarise_lookups(mine), "issued": [], "has_issued": "no"},
            )
        return EffectResult(effect_id, True, my_requests(cases.mine(), summarise_lookups(mine)))
    if operation == "verify_message":
        sent = matches(str(args.get("text") or ""), said)
        return EffectResult(effect_id, True, {"sent": "yes" if sent else "no", "at": None})
    return EffectResult(effect_id, False, error="invalid")


async def run_example(
    service: Service,
    example: Example,
    catalogue: Catalogue,
    caller: Caller,
    ekyc: EkycProvider | None = None,
) -> ExampleOutcome:
    outcome = ExampleOutcome(service.code, example.name, example.language)
    now = EXAMPLE_NOW
    cases = ExampleCases(catalogue)
    identity = ekyc if ekyc is not None else DeskEkycProvider(EkycDesk())
    session = Session(language=example.language, consented=True, state="menu")
    offers: dict[str, str] = {}
    said_so_far: list[str] = []  # what the bot said in this example, for verify_message
    looked_up: list[tuple[str, dict[str, Any], dict[str, Any], str]] = []  # for my_requests
    for i, turn in enumerate(example.turns, 1):
        if turn.tap is not None and turn.tap not in offers:
            outcome.failures.append(f"turn {i}: taps {turn.tap!r}, which the bot did not offer")
            break
        outcome.transcript.append(
            f"citizen: {turn.citizen or turn.tap or turn.location or f'[{turn.media}]'}"
        )
        replies: list[OutboundMessage] = []
        event: InboundMessage | EffectResult = _event(turn, offers, now)
        for _ in range(MAX_CHAINED_CALLS + 1):
            try:
                t = handle(session, event, now, catalogue=catalogue)
            except Exception as exc:  # a builder refusing a payload is a catalogue bug
                outcome.failures.append(f"turn {i}: the engine failed: {exc}")
                return outcome
            session = t.session
            replies.extend(t.replies)
            if t.transient:
                event = run_transient(identity, t.transient[0])
                continue
            if not t.effects:
                break
            effect = t.effects[0]
            own_case = (
                cases.view(str(effect.args.get("reference") or ""))
                if effect.operation == "application"
                else cases.grievance(str(effect.args.get("reference") or ""))
                if effect.operation == "grievance"
                else None
            )
            if own_case is not None:
                event = EffectResult(effect.id, True, own_case)
            elif is_platform(effect.operation) or effect.operation == "fetch_media":
                event = _platform_answer(
                    effect.id,
                    effect.operation,
                    dict(effect.args),
                    said_so_far,
                    looked_up,
                    cases,
                    now,
                )
            else:
                [(_, answered)] = await make_calls(
                    [Call(effect.id, 0, effect.department, effect.operation, dict(effect.args))],
                    caller,
                )
                if answered.ok:
                    looked_up.append(
                        (effect.operation, dict(effect.args), answered.data or {}, now.isoformat())
                    )
                event = answered
        offers = {k: v for m in replies for k, v in offered(m)}
        said_so_far += [text for m in replies for text in texts_of(m.payload)]
        said = "\n".join(reply_text(m) for m in replies)
        outcome.transcript.append("bot: " + said.replace("\n", " / "))
        for m in replies:
            try:
                validate(m.payload)
            except ValueError as exc:
                outcome.failures.append(f"turn {i}: invalid WhatsApp payload: {exc}")
        for expected in turn.expect:
            if expected.casefold() not in said.casefold():
                outcome.failures.append(f"turn {i}: expected {expected!r} in the reply")
        for choice in turn.expect_choices:
            if choice not in offers:
                outcome.failures.append(f"turn {i}: expected the choice {choice!r} to be offered")
        if not replies:
            outcome.failures.append(f"turn {i}: the bot said nothing")
    return outcome


def example_sandbox() -> Any:
    """The sandbox departments on the examples' day (EXAMPLE_NOW): holds, live answers and
    "tomorrow" all agree with the engine's clock."""
    from mitra.departments.sandbox import create_sandbox_app

    return create_sandbox_app(clock=lambda: EXAMPLE_NOW)


async def run_examples(
    catalogue: Catalogue, caller: Caller, codes: list[str] | None = None
) -> list[ExampleOutcome]:
    results = []
    for service in catalogue.current.values():
        if codes and service.code not in codes:
            continue
        for example in service.examples:
            results.append(await run_example(service, example, catalogue, caller))
    return results


__all__ = [
    "ExampleOutcome",
    "example_sandbox",
    "offered",
    "reply_text",
    "run_example",
    "run_examples",
]
