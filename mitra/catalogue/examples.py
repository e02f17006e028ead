"""Driving a service's example conversations through the engine (`mitra catalog test` and the
test suite). Department calls go to a real adapter (the sandbox, over HTTP) through `caller`.

A tap must name an id the bot actually offered in its previous replies: an example that taps
a button that was never shown fails, as it would for a citizen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mitra.catalogue.loader import Catalogue
from mitra.catalogue.schema import Example, Service, Turn
from mitra.conversation.engine import EffectResult, Session, handle
from mitra.jobs.department_calls import Call, Caller, make_calls
from mitra.jobs.platform_calls import is_platform, matches, summarise_lookups, texts_of
from mitra.whatsapp.events import Choice, InboundMessage, Location, Sender, Text
from mitra.whatsapp.messages import OutboundMessage, validate

TESTER = Sender(user_id=None, wa_id="919999900000", profile_name="Catalogue test")
MAX_CHAINED_CALLS = 5


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
    assert turn.location is not None
    lat, lon = turn.location
    return InboundMessage(
        "wamid.example", TESTER, now, "location", Location(lat, lon, None, None), None
    )


def _platform_answer(
    effect_id: str,
    operation: str,
    args: dict[str, Any],
    said: list[str],
    looked_up: list[tuple[str, dict[str, Any], dict[str, Any], str]],
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
    if operation in ("my_requests", "my_documents"):
        key, kinds = (
            ("requests", ("application", "grievance"))
            if operation == "my_requests"
            else ("documents", ("document",))
        )
        mine = [(a, d, at) for op, a, d, at in reversed(looked_up) if op in kinds]
        return EffectResult(effect_id, True, {key: summarise_lookups(mine)})
    if operation == "verify_message":
        sent = matches(str(args.get("text") or ""), said)
        return EffectResult(effect_id, True, {"sent": "yes" if sent else "no", "at": None})
    return EffectResult(effect_id, False, error="invalid")


async def run_example(
    service: Service, example: Example, catalogue: Catalogue, caller: Caller
) -> ExampleOutcome:
    outcome = ExampleOutcome(service.code, example.name, example.language)
    now = datetime.now(UTC)
    session = Session(language=example.language, consented=True, state="menu")
    offers: dict[str, str] = {}
    said_so_far: list[str] = []  # what the bot said in this example, for verify_message
    looked_up: list[tuple[str, dict[str, Any], dict[str, Any], str]] = []  # for my_requests
    for i, turn in enumerate(example.turns, 1):
        if turn.tap is not None and turn.tap not in offers:
            outcome.failures.append(f"turn {i}: taps {turn.tap!r}, which the bot did not offer")
            break
        outcome.transcript.append(f"citizen: {turn.citizen or turn.tap or turn.location}")
        replies: list[OutboundMessage] = []
        event: InboundMessage | EffectResult = _event(turn, offers, now)
        for _ in range(MAX_CHAINED_CALLS + 1):
            t = handle(session, event, now, catalogue=catalogue)
            session = t.session
            replies.extend(t.replies)
            if not t.effects:
                break
            effect = t.effects[0]
            if is_platform(effect.operation):
                event = _platform_answer(
                    effect.id, effect.operation, dict(effect.args), said_so_far, looked_up
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


__all__ = ["ExampleOutcome", "offered", "reply_text", "run_example", "run_examples"]
