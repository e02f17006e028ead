"""The conversation engine's pure core: (session, event, clock) → (session, replies, effects).

No I/O: the engine never calls a department or the database. It interprets the catalogue —
services are data (mitra/catalogue) — and when a step needs a department's answer it returns
an `Effect`; the worker carries it out and the result comes back as an `EffectResult` event.
Every step transition is returned as a `Transition` for funnel analysis.

Choice ids the engine puts on buttons and list rows (and so receives back):
  lang:<code>            language (and consent on first contact)
  dept:<DEPT>            a department's services      page:<DEPT>:<n>  more of them
  svc:<CODE>             start a service              opt:<step>:<option id>  an answer
  nav:menu | nav:help | nav:retry | nav:resume | nav:notify   navigation
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import orjson

from mitra.catalogue.loader import Catalogue, default_catalogue
from mitra.catalogue.schema import (
    AskStep,
    BranchStep,
    ChooseStep,
    ConfirmStep,
    HandoverStep,
    IdentifyStep,
    LocationStep,
    LookupStep,
    MediaStep,
    OfficerStep,
    Option,
    PayStep,
    Service,
    ShowStep,
    SubmitStep,
)
from mitra.catalogue.schema import Text as SchemaText
from mitra.catalogue.search import ServiceIndex, code_in
from mitra.conversation import render
from mitra.conversation.locale import LANGUAGE_NAMES, LANGUAGES, t
from mitra.conversation.validators import Invalid, aadhaar_digits, validate_answer
from mitra.whatsapp import limits, messages
from mitra.whatsapp.events import Choice, InboundMessage, Location, Media, Reaction, Text
from mitra.whatsapp.messages import OutboundMessage

MAX_MISSES = 3
DEFAULT_IDLE = timedelta(minutes=30)
# When a department is down and the citizen asks to be told, ask it again after this long.
NOTIFY_RETRY_SECONDS = 120.0
ROWS_PER_PAGE = limits.LIST_ROWS_MAX - 1  # the tenth row is "More…"

# Typed commands, in both languages, recognised at any point (lower-cased, trimmed).
COMMANDS = {
    "menu": {"menu", "hi", "hello", "hai", "hii", "start", "మెనూ", "మెను", "నమస్తే", "నమస్కారం", "హాయ్"},
    "back": {"back", "వెనక్కి", "వెనుకకు"},
    "help": {"help", "సహాయం", "సహాయము"},
    "language": {"language", "lang", "భాష"},
    "cancel": {"cancel", "రద్దు", "రద్దు చేయి"},
    "stop": {"stop", "ఆపు", "ఆపండి"},
    "officer": {"officer", "talk to officer", "talk to an officer", "అధికారి", "అధికారితో మాట్లాడాలి"},
}
YES = {"yes", "y", "ok", "అవును", "సరే"}
NO = {"no", "n", "కాదు", "వద్దు"}


# ---- events and outputs that are the engine's own ---------------------------------------


@dataclass(frozen=True)
class EffectResult:
    """A department adapter call came back. `error` is not_found | invalid | unavailable |
    unauthorized when `ok` is false."""

    effect_id: str
    ok: bool
    data: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "effect_result",
            "effect_id": self.effect_id,
            "ok": self.ok,
            "data": self.data,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EffectResult:
        return cls(d["effect_id"], bool(d["ok"]), d.get("data"), d.get("error"))


@dataclass(frozen=True)
class Effect:
    """Call `operation` on `department`'s adapter with `args`; answer with an EffectResult."""

    id: str
    department: str
    operation: str
    args: dict[str, str]
    not_before_seconds: float = 0.0


@dataclass(frozen=True)
class Transition:
    """One step of one service, and how it went (for funnel and drop-off analysis)."""

    service: str
    version: int
    step: str
    # entered | answered | invalid | shown | looked_up | not_found | unavailable | completed
    # | abandoned
    outcome: str
    seconds: float | None = None


@dataclass(frozen=True)
class Flow:
    code: str
    version: int
    step: str
    answers: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    misses: int = 0
    waiting: str | None = None  # the effect id being waited for
    step_started: str | None = None  # ISO time the current step was entered
    trail: tuple[str, ...] = ()  # steps answered, for "back"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "version": self.version,
            "step": self.step,
            "answers": self.answers,
            "results": self.results,
            "misses": self.misses,
            "waiting": self.waiting,
            "step_started": self.step_started,
            "trail": list(self.trail),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Flow:
        return cls(
            d["code"],
            int(d["version"]),
            d["step"],
            d.get("answers") or {},
            d.get("results") or {},
            int(d.get("misses") or 0),
            d.get("waiting"),
            d.get("step_started"),
            tuple(d.get("trail") or ()),
        )


@dataclass(frozen=True)
class Session:
    language: str | None = None
    consented: bool = False
    state: str = "new"  # new | consent | menu | flow | resume
    flow: Flow | None = None
    menu: dict[str, Any] = field(default_factory=dict)  # the last list shown, for "back"
    last_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "consented": self.consented,
            "state": self.state,
            "flow": self.flow.to_dict() if self.flow else None,
            "menu": self.menu,
            "last_at": self.last_at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Session:
        if not d:
            return cls()
        flow = d.get("flow")
        return cls(
            d.get("language"),
            bool(d.get("consented")),
            d.get("state", "new"),
            Flow.from_dict(flow) if flow else None,
            d.get("menu") or {},
            d.get("last_at"),
        )


@dataclass(frozen=True)
class Turn:
    session: Session
    replies: list[OutboundMessage]
    effects: list[Effect] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    # Calls to make now, while this event is processed, and never store (identity step-up);
    # their results are handed back to the engine at once.
    transient: list[Effect] = field(default_factory=list)
    # The citizen's message held something that must not be kept (an Aadhaar number, an OTP):
    # the processor replaces its stored copy.
    redact_input: bool = False


Event = InboundMessage | EffectResult


# ---- the engine -------------------------------------------------------------------------


@dataclass
class _Out:
    """What a turn accumulates while it runs."""

    replies: list[OutboundMessage] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    transient: list[Effect] = field(default_factory=list)
    redact_input: bool = False


def handle(
    session: Session,
    event: Event,
    now: datetime,
    *,
    catalogue: Catalogue | None = None,
    idle_timeout: timedelta = DEFAULT_IDLE,
) -> Turn:
    """Decide what one event means for one citizen. Pure: same inputs, same outputs."""
    cat = catalogue or default_catalogue()
    out = _Out()
    new = _handle(session, event, now, cat, idle_timeout, out)
    if isinstance(event, InboundMessage):
        new = replace(new, last_at=now.isoformat())
    return Turn(new, out.replies, out.effects, out.transitions, out.transient, out.redact_input)


def _handle(
    s: Session, event: Event, now: datetime, cat: Catalogue, idle: timedelta, out: _Out
) -> Session:
    if s.state == "handover":
        return _in_handover(s, event, cat, out)
    if isinstance(event, EffectResult):
        return _effect_result(s, event, now, cat, out)

    body = event.body
    if isinstance(body, Reaction):
        return s  # a reaction to one of our messages needs no answer
    chosen = body.id if isinstance(body, Choice) else None

    if chosen and chosen.startswith("lang:") and chosen[5:] in LANGUAGES:
        s = replace(s, language=chosen[5:], consented=True)
        if s.flow is not None and s.state == "flow":
            return _prompt_current(s, now, cat, out)
        return _main_menu(s, out, cat)
    if not s.consented or s.language is None:
        out.replies.append(consent_prompt())
        return replace(s, state="consent")
    lang = s.language

    # Back after a long pause: offer to continue where they left off.
    if (
        s.flow is not None
        and s.state == "flow"
        and s.last_at is not None
        and now - datetime.fromisoformat(s.last_at) > idle
        and not chosen
    ):
        service = cat.service(s.flow.code, s.flow.version)
        if service is not None:
            out.replies.append(
                messages.reply_buttons(
                    t(lang, "resume_body", service=service.title(lang)),
                    [("nav:resume", t(lang, "resume_continue")), ("nav:menu", t(lang, "nav_menu"))],
                )
            )
            return replace(s, state="resume")

    if isinstance(body, Text):
        command = command_of(body.text)
        if command is not None:
            return _command(s, command, now, cat, out)
        code = code_in(body.text)
        if code is not None and cat.service(code) is not None and not _expects_text(s, cat):
            return _start(s, code, now, cat, out)

    if chosen is not None:
        return _choice(s, chosen, body, now, cat, out)

    if s.flow is not None and s.state in ("flow", "resume"):
        return _answer(replace(s, state="flow"), body, now, cat, out)

    if isinstance(body, Text):
        return _search(s, body.text, cat, out)
    out.replies.append(messages.text(t(lang, "unsupported")))
    return s


def command_of(text: str) -> str | None:
    word = " ".join(text.strip().lower().strip("!.?").split())
    for command, words in COMMANDS.items():
        if word in words:
            return command
    return None


def consent_prompt() -> OutboundMessage:
    return _language_buttons(t("te", "consent") + "\n\n" + t("en", "consent"))


def _language_buttons(body: str) -> OutboundMessage:
    return messages.reply_buttons(
        body, [(f"lang:{code}", LANGUAGE_NAMES[code]) for code in LANGUAGES]
    )


def _expects_text(s: Session, cat: Catalogue) -> bool:
    """Inside an ask step a typed code-like answer is an answer, not a jump."""
    if s.flow is None or s.state != "flow" or s.flow.waiting:
        return False
    service = cat.service(s.flow.code, s.flow.version)
    return service is not None and isinstance(service.step(s.flow.step), (AskStep, IdentifyStep))


# ---- menus and search -------------------------------------------------------------------


def _main_menu(s: Session, out: _Out, cat: Catalogue) -> Session:
    lang = s.language or "te"
    rows = [(f"dept:{d.code}", d.name(lang), d.description(lang)) for d in cat.departments]
    out.replies.append(
        messages.list_message(
            t(lang, "menu_body"), t(lang, "menu_button"), [(t(lang, "menu_section"), rows)]
        )
    )
    return replace(s, state="menu", flow=None, menu={"kind": "departments"})


def _abandon(s: Session, out: _Out) -> None:
    if s.flow is not None:
        out.transitions.append(Transition(s.flow.code, s.flow.version, s.flow.step, "abandoned"))


def _paged_rows(
    services: Sequence[Service], lang: str, page: int, more_id: str
) -> list[tuple[str, str, str | None]]:
    start = page * ROWS_PER_PAGE
    chunk = services[start : start + ROWS_PER_PAGE]
    rows: list[tuple[str, str, str | None]] = [
        (f"svc:{svc.code}", svc.title(lang), svc.description(lang)) for svc in chunk
    ]
    if start + ROWS_PER_PAGE < len(services):
        rows.append((more_id, t(lang, "more_title"), t(lang, "more_description")))
    return rows


def _department_menu(s: Session, dept: str, page: int, cat: Catalogue, out: _Out) -> Session:
    lang = s.language or "te"
    department = cat.department(dept)
    services = [svc for svc in cat.services_of(dept) if svc.enabled]
    if department is None or not services:
        return _main_menu(s, out, cat)
    page = max(0, min(page, (len(services) - 1) // ROWS_PER_PAGE))
    rows = _paged_rows(services, lang, page, f"page:{dept}:{page + 1}")
    out.replies.append(
        messages.list_message(
            t(lang, "department_body", department=department.name(lang)),
            t(lang, "services_button"),
            [(department.name(lang)[: limits.SECTION_TITLE], rows)],
        )
    )
    return replace(
        s, state="menu", flow=None, menu={"kind": "department", "department": dept, "page": page}
    )


_INDEXES: dict[int, tuple[Catalogue, ServiceIndex]] = {}


def index_for(cat: Catalogue) -> ServiceIndex:
    """The search index of a catalogue, built once (catalogues are not changed in place)."""
    held = _INDEXES.get(id(cat))
    if held is None or held[0] is not cat:
        held = (cat, ServiceIndex(cat))
        _INDEXES[id(cat)] = held
    return held[1]


def _search(s: Session, query: str, cat: Catalogue, out: _Out) -> Session:
    lang = s.language or "te"
    matches = index_for(cat).search(query, lang, limit=ROWS_PER_PAGE)
    shown = query.strip()[:40]
    if not matches:
        out.replies.append(messages.text(t(lang, "search_none", query=shown)))
        return s
    if len(matches) == 1 or matches[0].score - matches[1].score >= 15:
        return _start(s, matches[0].service.code, None, cat, out)
    rows = [
        (f"svc:{m.service.code}", m.service.title(lang), m.service.description(lang))
        for m in matches
    ]
    out.replies.append(
        messages.list_message(
            t(lang, "search_body", query=shown), t(lang, "search_button"), [(None, rows)]
        )
    )
    return replace(s, state="menu", menu={"kind": "search", "query": shown})


# ---- commands and taps ------------------------------------------------------------------


def _command(s: Session, command: str, now: datetime, cat: Catalogue, out: _Out) -> Session:
    lang = s.language or "te"
    if command == "menu":
        _abandon(s, out)
        return _main_menu(s, out, cat)
    if command == "help":
        out.replies.append(messages.text(t(lang, "help")))
        return s
    if command == "language":
        out.replies.append(_language_buttons(t(lang, "language_body")))
        return s
    if command == "stop":
        _abandon(s, out)
        out.replies.append(messages.text(t(lang, "stopped")))
        return Session(language=lang)
    if command == "cancel":
        _abandon(s, out)
        out.replies.append(messages.text(t(lang, "cancelled")))
        return _main_menu(s, out, cat)
    if command == "officer":
        _abandon(s, out)
        if cat.service(OFFICER_SERVICE) is None:
            out.replies.append(messages.text(t(lang, "officer")))
            return s
        return _start(replace(s, flow=None), OFFICER_SERVICE, now, cat, out)
    # back: one step back inside a service, else one menu up
    if s.flow is not None and s.flow.trail:
        flow = s.flow
        previous = flow.trail[-1]
        # The step is asked again: its answer (and the option chosen) is forgotten, so an
        # answer from a path the citizen then leaves never reaches a summary or a receipt.
        results = dict(flow.results)
        for key in ("choices", "picked"):
            if isinstance(results.get(key), dict):
                results[key] = {k: v for k, v in results[key].items() if k != previous}
        flow = replace(
            flow,
            step=previous,
            trail=flow.trail[:-1],
            waiting=None,
            misses=0,
            answers={k: v for k, v in flow.answers.items() if k != previous},
            results=results,
        )
        return _prompt_current(replace(s, flow=flow, state="flow"), now, cat, out)
    if s.menu.get("kind") == "department" or s.flow is not None:
        _abandon(s, out)
        dept = s.menu.get("department") or (s.flow.code[:3] if s.flow else None)
        if s.flow is not None and dept:
            return _department_menu(replace(s, flow=None), dept, 0, cat, out)
    return _main_menu(s, out, cat)


def _choice(
    s: Session, chosen: str, body: Any, now: datetime, cat: Catalogue, out: _Out
) -> Session:
    lang = s.language or "te"
    if chosen == "nav:menu":
        _abandon(s, out)
        return _main_menu(s, out, cat)
    if chosen == "nav:help":
        out.replies.append(messages.text(t(lang, "help")))
        return s
    if chosen in ("nav:resume", "nav:retry") and s.flow is not None:
        flow = replace(s.flow, misses=0)
        return _prompt_current(replace(s, state="flow", flow=flow), now, cat, out)
    if chosen == "nav:notify" and s.flow is not None and s.flow.waiting is None:
        return _notify_later(s, now, cat, out)
    if chosen.startswith("dept:"):
        _abandon(s, out)
        return _department_menu(s, chosen[5:], 0, cat, out)
    if chosen.startswith("page:"):
        _, dept, page = chosen.split(":", 2)
        return _department_menu(s, dept, int(page) if page.isdigit() else 0, cat, out)
    if chosen.startswith("svc:"):
        # `svc:CODE` starts a service; `svc:CODE:REF` starts it about reference REF (a button
        # in a status push: "answer the officer's question about REV-2026-500001-K").
        _abandon(s, out)
        code, _, reference = chosen[4:].partition(":")
        return _start(s, code, now, cat, out, seed={"reference": reference} if reference else None)
    if chosen.startswith("opt:") and s.flow is not None:
        return _answer(replace(s, state="flow"), body, now, cat, out)
    # A tap on an old message: show where they are now.
    if s.flow is not None:
        return _prompt_current(replace(s, state="flow"), now, cat, out)
    return _main_menu(s, out, cat)


# ---- running a service ------------------------------------------------------------------


def _start(
    s: Session,
    code: str,
    now: datetime | None,
    cat: Catalogue,
    out: _Out,
    seed: dict[str, Any] | None = None,
) -> Session:
    lang = s.language or "te"
    service = cat.service(code)
    if service is None:
        return _main_menu(s, out, cat)
    if not service.enabled:
        out.replies.append(messages.text(t(lang, "service_disabled", service=service.title(lang))))
        return s
    answers = dict(seed or {})
    first = next((st.id for st in service.steps if st.id not in answers), service.steps[0].id)
    flow = Flow(service.code, service.version, first, answers=answers)
    return _run(replace(s, state="flow", flow=flow), service, now, cat, out)


def _next_step_id(service: Service, step_id: str) -> str | None:
    ids = [st.id for st in service.steps]
    i = ids.index(step_id)
    return ids[i + 1] if i + 1 < len(ids) else None


def _enter(flow: Flow, step_id: str, now: datetime | None) -> Flow:
    return replace(flow, step=step_id, misses=0, step_started=now.isoformat() if now else None)


def _seconds_in_step(flow: Flow, now: datetime | None) -> float | None:
    if flow.step_started is None or now is None:
        return None
    return max(0.0, (now - datetime.fromisoformat(flow.step_started)).total_seconds())


def _run(s: Session, service: Service, now: datetime | None, cat: Catalogue, out: _Out) -> Session:
    """Execute steps from the flow's current one until a step needs the citizen or a
    department; stop there."""
    assert s.flow is not None
    lang = s.language or "te"
    flow = _enter(s.flow, s.flow.step, now)
    for _ in range(len(service.steps) + 5):  # bounded: branches cannot loop forever
        step = service.step(flow.step)
        out.transitions.append(Transition(service.code, service.version, step.id, "entered"))
        if isinstance(step, ChooseStep) and step.options_from is not None:
            if not _options(step, flow, lang):
                text = fill(step.empty(lang), flow, lang) if step.empty else t(lang, "not_found")
                out.replies.append(_final(text, lang))
                out.transitions.append(Transition(service.code, service.version, step.id, "shown"))
                return replace(s, flow=None, state="menu")
        if isinstance(step, IdentifyStep):
            out.replies.append(_identify_prompt(step, flow, lang))
            flow = replace(flow, results={**flow.results, KYC: {"phase": "aadhaar"}})
            return replace(s, flow=flow, state="flow")
        if isinstance(step, (AskStep, ChooseStep, LocationStep, MediaStep, ConfirmStep)):
            out.replies.append(_prompt(step, flow, lang))
            return replace(s, flow=flow, state="flow")
        call = _call_of(service, step, flow, lang)
        if call is not None:
            effect = Effect(uuid.uuid4().hex, service.department, *call)
            out.effects.append(effect)
            return replace(s, flow=replace(flow, waiting=effect.id), state="flow")
        if isinstance(step, HandoverStep):
            out.transitions.append(Transition(service.code, service.version, step.id, "completed"))
            code = fill(step.service, flow, lang) if "{" in step.service else step.service
            return _start(replace(s, flow=None), code, now, cat, out)
        if isinstance(step, ShowStep):
            own = fill(step.text(lang), flow, lang) if step.text else None
            text = render.show(step.render, own, _context(flow), lang)
            if step.each and step.item:
                lines = _each(step, flow, lang)
                text = "\n\n".join(p for p in (text, lines) if p)[: limits.TEXT_BODY]
            following = (
                None if step.next == "end" else (step.next or _next_step_id(service, step.id))
            )
            out.transitions.append(Transition(service.code, service.version, step.id, "shown"))
            if following is None:
                out.replies.append(_final(text, lang))
                out.transitions.append(
                    Transition(service.code, service.version, step.id, "completed")
                )
                return replace(s, flow=None, state="menu")
            out.replies.append(messages.text(text[: limits.TEXT_BODY]))
            flow = _enter(flow, following, now)
            continue
        if isinstance(step, BranchStep):
            found = lookup_path(_context(flow), step.on)
            value = "" if found is None else str(found)  # 0 is "0", not "nothing"
            target = step.cases.get(value, step.default)
            if target is None:
                target = _next_step_id(service, step.id)
                if target is None:
                    return replace(s, flow=None, state="menu")
            flow = _enter(flow, target, now)
            continue
    raise RuntimeError(f"{service.code}: steps do not reach a stopping point")


def _call_of(
    service: Service, step: Any, flow: Flow, lang: str
) -> tuple[str, dict[str, str]] | None:
    """The (operation, arguments) of a step that calls out (a department or Mitra's own
    records), or None for a step that does not."""
    if isinstance(step, LookupStep):
        return step.operation, {k: fill(v, flow, lang) for k, v in step.args.items()}
    if isinstance(step, OfficerStep):
        return "open_handover", {"department": fill(step.department, flow, lang)}
    if isinstance(step, PayStep):
        return "create_payment", _payment(service, step, flow, lang)
    if isinstance(step, SubmitStep):
        return "submit_case", _submission(service, step, flow, lang)
    return None


def _final(text: str, lang: str) -> OutboundMessage:
    """The last message of a service, with a way back to the menu."""
    if len(text) <= limits.INTERACTIVE_BODY:
        return messages.reply_buttons(text, [("nav:menu", t(lang, "nav_menu"))])
    return messages.text(text[: limits.TEXT_BODY])


def _prompt(step: Any, flow: Flow, lang: str) -> OutboundMessage:
    prompt = fill(step.prompt(lang), flow, lang)
    if isinstance(step, ChooseStep):
        return _options_message(prompt, step, _options(step, flow, lang), lang)
    if isinstance(step, ConfirmStep):
        return messages.reply_buttons(
            prompt,
            [
                (f"opt:{step.id}:yes", t(lang, "confirm_yes")),
                (f"opt:{step.id}:no", t(lang, "confirm_no")),
            ],
        )
    if isinstance(step, LocationStep):
        return messages.location_request(prompt)
    if isinstance(step, MediaStep) and step.optional:
        return messages.reply_buttons(prompt, [(f"opt:{step.id}:done", t(lang, "media_skip"))])
    return messages.text(prompt)


MORE_OPTIONS = "__more__"
MAX_DYNAMIC_OPTIONS = 30


def _options(step: ChooseStep, flow: Flow, lang: str) -> list[Option]:
    """The step's options: fixed, or made from each element of a list in a result."""
    if step.options_from is None:
        return list(step.options)
    assert step.option_id is not None and step.option_title is not None
    elements = lookup_path(_context(flow), step.options_from)
    if not isinstance(elements, list):
        return []
    made: list[Option] = []
    for element in elements[:MAX_DYNAMIC_OPTIONS]:
        option_id = fill(step.option_id, flow, lang, item=element)[:100]
        title = _fit(fill(step.option_title(lang), flow, lang, item=element), limits.ROW_TITLE)
        description = (
            _fit(
                fill(step.option_description(lang), flow, lang, item=element),
                limits.ROW_DESCRIPTION,
            )
            if step.option_description
            else ""
        )
        if option_id:
            made.append(
                Option(
                    id=option_id,
                    title=SchemaText(en=title, te=title),
                    description=SchemaText(en=description, te=description) if description else None,
                )
            )
    return made


def _element_for(step: ChooseStep, flow: Flow, lang: str, option_id: str) -> Any:
    assert step.option_id is not None
    elements = lookup_path(_context(flow), step.options_from or "")
    for element in elements if isinstance(elements, list) else []:
        if fill(step.option_id, flow, lang, item=element)[:100] == option_id:
            return element
    return None


def _fit(text: str, limit: int) -> str:
    """Data-made titles (a document's name, a bus's route) shortened at a word, visibly."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut + "…"


def _options_message(
    prompt: str, step: ChooseStep, opts: list[Option], lang: str, page: int = 0
) -> OutboundMessage:
    """Up to three short options as buttons; otherwise a list, paged nine at a time with a
    "More…" row (never cut off)."""
    # Options made from data keep their descriptions (a document's number and status), which
    # buttons cannot show: they are always a list.
    if (
        len(opts) <= limits.REPLY_BUTTONS_MAX
        and step.options_from is None
        and all(len(o.title(lang)) <= limits.BUTTON_TITLE for o in opts)
    ):
        return messages.reply_buttons(
            prompt, [(f"opt:{step.id}:{o.id}", o.title(lang)) for o in opts]
        )
    per_page = limits.LIST_ROWS_MAX if len(opts) <= limits.LIST_ROWS_MAX else ROWS_PER_PAGE
    start = page * per_page
    rows: list[tuple[str, str, str | None]] = [
        (f"opt:{step.id}:{o.id}", o.title(lang), o.description(lang) if o.description else None)
        for o in opts[start : start + per_page]
    ]
    if start + per_page < len(opts):
        rows.append(
            (
                f"opt:{step.id}:{MORE_OPTIONS}:{page + 1}",
                t(lang, "more_title"),
                t(lang, "more_options"),
            )
        )
    button = step.button(lang) if step.button else t(lang, "list_button")
    return messages.list_message(prompt, button, [(None, rows)])


def _prompt_current(s: Session, now: datetime, cat: Catalogue, out: _Out) -> Session:
    assert s.flow is not None
    service = cat.service(s.flow.code, s.flow.version)
    if service is None:
        return _main_menu(s, out, cat)
    if s.flow.waiting:
        out.replies.append(messages.text(t(s.language or "te", "still_checking")))
        return s
    return _run(replace(s, state="flow"), service, now, cat, out)


def _answer(s: Session, body: Any, now: datetime, cat: Catalogue, out: _Out) -> Session:
    assert s.flow is not None
    lang = s.language or "te"
    flow = s.flow
    service = cat.service(flow.code, flow.version)
    if service is None:  # the version it started on is gone: start again on the current one
        return _start(replace(s, flow=None), flow.code, now, cat, out)
    step = service.step(flow.step)
    if flow.waiting and isinstance(step, MediaStep) and _is_media(body, step.accept):
        # Several photos sent at once: each is fetched; the step goes on when all are in.
        return _fetch_media(s, service, step, body, out)
    if flow.waiting:
        receiving = bool(flow.results.get(FETCHING))
        out.replies.append(
            messages.text(t(lang, "media_receiving" if receiving else "still_checking"))
        )
        return s
    if isinstance(step, IdentifyStep):
        return _identify_answer(s, service, step, body, now, cat, out)
    value: Any = None
    problem: str | None = None
    if isinstance(step, AskStep) and step.voice and _is_media(body, ["audio"]):
        return _fetch_media(s, service, step, body, out)
    if isinstance(step, MediaStep) and _is_media(body, step.accept):
        return _fetch_media(s, service, step, body, out)
    if isinstance(step, AskStep):
        if isinstance(body, Text):
            try:
                value = validate_answer(body.text, step.validate_as, today=_local_day(now))
            except Invalid:
                problem = step.invalid(lang)
        else:
            problem = t(lang, "text_expected") + "\n\n" + fill(step.prompt(lang), flow, lang)
    elif isinstance(step, ChooseStep):
        more = f"opt:{step.id}:{MORE_OPTIONS}:"
        if isinstance(body, Choice) and body.id.startswith(more):
            page = body.id[len(more) :]
            prompt = fill(step.prompt(lang), flow, lang)
            out.replies.append(
                _options_message(
                    prompt,
                    step,
                    _options(step, flow, lang),
                    lang,
                    int(page) if page.isdigit() else 0,
                )
            )
            return s
        option = _option_for(step, _options(step, flow, lang), body, lang)
        if option is not None:
            value = option.id
            # Its title, for summaries and documents: {choices.<step>|name}.
            chosen_titles = {**flow.results.get("choices", {})}
            chosen_titles[step.id] = {"en": option.title.en, "te": option.title.te}
            results = {**flow.results, "choices": chosen_titles}
            if step.options_from is not None:
                # An option made from data: the whole element, for what follows
                # ({picked.<step>.refund}, {picked.<step>.date} …).
                element = _element_for(step, flow, lang, option.id)
                results["picked"] = {**flow.results.get("picked", {}), step.id: element}
            flow = replace(flow, results=results)
        else:
            problem = t(lang, "choose_expected")
    elif isinstance(step, ConfirmStep):
        yes = _yes_no(body, step.id)
        if yes is None:
            problem = t(lang, "choose_expected")
        else:
            value = "yes" if yes else "no"
    elif isinstance(step, LocationStep):
        if isinstance(body, Location):
            value = {"kind": "pin", "latitude": body.latitude, "longitude": body.longitude}
        elif step.typed and isinstance(body, Text) and len(body.text.strip()) >= 3:
            value = {"kind": "text", "text": " ".join(body.text.split())[:100]}
        else:
            problem = t(lang, "location_or_place_expected" if step.typed else "location_expected")
    elif isinstance(step, MediaStep):
        kept = len(_attachments(flow, step.id))
        if _is_done(body, step) and (kept > 0 or step.optional):
            value = kept
        else:
            problem = t(lang, "media_expected")
    else:
        problem = t(lang, "not_understood")

    if problem is not None:
        out.transitions.append(Transition(service.code, service.version, step.id, "invalid"))
        misses = flow.misses + 1
        s = replace(s, flow=replace(flow, misses=misses))
        if misses >= MAX_MISSES:
            out.replies.append(
                messages.reply_buttons(
                    t(lang, "too_many_misses"),
                    [
                        ("nav:retry", t(lang, "try_again")),
                        ("nav:help", t(lang, "help_button")),
                        ("nav:menu", t(lang, "nav_menu")),
                    ],
                )
            )
        else:
            reply = _prompt(step, flow, lang) if not isinstance(step, AskStep) else None
            out.replies.append(messages.text(problem))
            if reply is not None and not isinstance(step, (LocationStep, MediaStep)):
                out.replies.append(reply)
        return s

    return _advance(s, service, step, flow, value, now, cat, out)


def _advance(
    s: Session,
    service: Service,
    step: Any,
    flow: Flow,
    value: Any,
    now: datetime | None,
    cat: Catalogue,
    out: _Out,
) -> Session:
    """The step is answered with `value`: record it and run on to the next one."""
    lang = s.language or "te"
    out.transitions.append(
        Transition(service.code, service.version, step.id, "answered", _seconds_in_step(flow, now))
    )
    answers = {**flow.answers, step.id: value}
    following = _next_step_id(service, step.id)
    if isinstance(step, ConfirmStep) and value == "no":
        out.replies.append(messages.text(t(lang, "cancelled")))
        out.transitions.append(Transition(service.code, service.version, step.id, "abandoned"))
        return _main_menu(replace(s, flow=None), out, cat)
    if following is None:
        out.transitions.append(Transition(service.code, service.version, step.id, "completed"))
        return replace(s, flow=None, state="menu")
    flow = replace(flow, answers=answers, step=following, trail=(*flow.trail, step.id))
    return _run(replace(s, flow=flow), service, now, cat, out)


def _option_for(step: ChooseStep, options: list[Option], body: Any, lang: str) -> Option | None:
    if isinstance(body, Choice):
        prefix = f"opt:{step.id}:"
        if body.id.startswith(prefix):
            return next((o for o in options if o.id == body.id[len(prefix) :]), None)
        return None
    if isinstance(body, Text):
        typed = body.text.strip().casefold()
        if typed.isdigit() and 1 <= int(typed) <= len(options):
            return options[int(typed) - 1]
        for o in options:
            if typed in (o.title.en.casefold(), o.title.te.casefold(), o.id.casefold()):
                return o
    return None


def _yes_no(body: Any, step_id: str) -> bool | None:
    if isinstance(body, Choice) and body.id.startswith(f"opt:{step_id}:"):
        return body.id.endswith(":yes")
    if isinstance(body, Text):
        word = body.text.strip().casefold()
        if word in YES:
            return True
        if word in NO:
            return False
    return None


# ---- department results -----------------------------------------------------------------


def _effect_result(
    s: Session, result: EffectResult, now: datetime, cat: Catalogue, out: _Out
) -> Session:
    flow = s.flow
    fetching = flow is not None and result.effect_id in flow.results.get(FETCHING, ())
    if flow is None or (flow.waiting != result.effect_id and not fetching):
        return s  # an answer nobody is waiting for any more (the citizen moved on)
    service = cat.service(flow.code, flow.version)
    if service is None:
        return replace(s, flow=None)
    lang = s.language or "te"
    step = service.step(flow.step)
    flow = replace(flow, waiting=None)
    if isinstance(step, IdentifyStep):
        return _identify_result(replace(s, flow=flow), service, step, result, now, cat, out)
    if isinstance(step, OfficerStep):
        return _handover_opened(s, service, step, result, cat, out)
    if isinstance(step, (MediaStep, AskStep)):
        return _media_fetched(replace(s, flow=flow), service, step, result, now, cat, out)
    assert isinstance(step, (LookupStep, SubmitStep, PayStep))
    if result.ok and isinstance(step, PayStep):
        # The link goes out as a button; the receipt follows when the gateway confirms.
        out.transitions.append(Transition(service.code, service.version, step.id, "completed"))
        flow = replace(flow, results={**flow.results, step.save_as: result.data or {}})
        url = str((result.data or {}).get("url") or "")
        if not url:  # nothing to pay (a free darshan): the booking is being confirmed
            out.replies.append(_final(t(lang, "booking_free"), lang))
        else:
            out.replies.append(
                messages.cta_url(fill(step.prompt(lang), flow, lang), step.button(lang), url)
            )
        return replace(s, flow=None, state="menu")
    if result.ok:
        out.transitions.append(
            Transition(
                service.code, service.version, step.id, "looked_up", _seconds_in_step(flow, now)
            )
        )
        flow = replace(flow, results={**flow.results, step.save_as: result.data or {}})
        following = _next_step_id(service, step.id)
        if following is None:
            return replace(s, flow=None, state="menu")
        flow = replace(flow, step=following)
        return _run(replace(s, flow=flow, state="flow"), service, now, cat, out)
    if result.error in ("not_found", "invalid", "sold_out", "expired", "conflict"):
        out.transitions.append(Transition(service.code, service.version, step.id, "not_found"))
        if isinstance(step, (SubmitStep, PayStep)):
            # Mitra refused the application itself (a bug or a catalogue error): say so plainly.
            out.replies.append(_final(t(lang, "something_wrong"), lang))
            return replace(s, flow=None, state="menu")
        text = fill(step.not_found(lang), flow, lang) if step.not_found else t(lang, "not_found")
        out.replies.append(messages.text(text))
        if step.retry_step:
            flow = replace(
                flow,
                step=step.retry_step,
                trail=tuple(x for x in flow.trail if x != step.retry_step),
            )
            return _run(replace(s, flow=flow, state="flow"), service, now, cat, out)
        out.replies.append(_final(t(lang, "help"), lang))
        return replace(s, flow=None, state="menu")
    # unavailable / unauthorized: the department is down; keep what they entered.
    out.transitions.append(Transition(service.code, service.version, step.id, "unavailable"))
    department = cat.department(service.department)
    name = department.name(lang) if department else service.department
    out.replies.append(
        messages.reply_buttons(
            t(lang, "department_down", department=name),
            [("nav:notify", t(lang, "notify_me")), ("nav:menu", t(lang, "nav_menu"))],
        )
    )
    return replace(s, flow=flow, state="flow")


def _notify_later(s: Session, now: datetime, cat: Catalogue, out: _Out) -> Session:
    """Ask the department again later and answer when it does."""
    assert s.flow is not None
    service = cat.service(s.flow.code, s.flow.version)
    lang = s.language or "te"
    if service is None:
        return _main_menu(s, out, cat)
    step = service.step(s.flow.step)
    call = _call_of(service, step, s.flow, lang)
    if call is None:
        return _prompt_current(s, now, cat, out)
    effect = Effect(
        uuid.uuid4().hex, service.department, *call, not_before_seconds=NOTIFY_RETRY_SECONDS
    )
    out.effects.append(effect)
    out.replies.append(messages.text(t(lang, "will_notify")))
    return replace(s, flow=replace(s.flow, waiting=effect.id), state="flow")


IST = timezone(timedelta(hours=5, minutes=30), "IST")


def _local_day(now: datetime) -> date:
    """The citizen's "today" (Andhra Pradesh is on Indian time)."""
    return now.astimezone(IST).date()


# ---- talking to an officer --------------------------------------------------------------

OFFICER_SERVICE = "GEN-12"
LEAVE_HANDOVER = {"menu", "stop"}


def _handover_opened(
    s: Session,
    service: Service,
    step: OfficerStep,
    result: EffectResult,
    cat: Catalogue,
    out: _Out,
) -> Session:
    assert s.flow is not None
    lang = s.language or "te"
    if not result.ok:
        out.replies.append(_final(t(lang, "handover_unavailable"), lang))
        return replace(s, flow=None, state="menu")
    data = result.data or {}
    out.transitions.append(Transition(service.code, service.version, step.id, "completed"))
    out.replies.append(messages.text(fill(step.prompt(lang), s.flow, lang)))
    return replace(
        s,
        flow=None,
        state="handover",
        menu={"kind": "handover", "id": data.get("id"), "department": data.get("department")},
    )


def _in_handover(s: Session, event: Event, cat: Catalogue, out: _Out) -> Session:
    """An officer has this citizen: the bot says nothing — unless the officer (or the clock)
    hands them back, or they ask for the menu (or to stop)."""
    lang = s.language or "te"
    handover = s.menu.get("id")
    if isinstance(event, EffectResult):
        if event.effect_id == f"handover:{handover}":
            timed_out = (event.data or {}).get("by") == "timeout"
            out.replies.append(
                messages.text(t(lang, "handover_timeout" if timed_out else "handover_back"))
            )
            return _main_menu(replace(s, state="menu"), out, cat)
        return s  # an answer to something from before the handover: nobody asks now
    body = event.body
    word = command_of(body.text) if isinstance(body, Text) else None
    if isinstance(body, Choice) and body.id == "nav:menu":
        word = "menu"
    if word not in LEAVE_HANDOVER:
        return s  # for the officer: stored with the conversation, answered by a person
    out.effects.append(
        Effect(uuid.uuid4().hex, "GEN", "close_handover", {"id": str(handover or "")})
    )
    if word == "stop":
        out.replies.append(messages.text(t(lang, "stopped")))
        return Session(language=lang)
    out.replies.append(messages.text(t(lang, "handover_left")))
    return _main_menu(replace(s, state="menu"), out, cat)


# ---- identity step-up -------------------------------------------------------------------

KYC = "_kyc"  # results key of the step-up in progress: phase, the provider's txn, masked mobile
OTP = re.compile(r"^\d{6}$")


def _identify_prompt(step: IdentifyStep, flow: Flow, lang: str) -> OutboundMessage:
    reason = fill(step.reason(lang), flow, lang) + "\n\n" if step.reason else ""
    return messages.text(reason + t(lang, "kyc_ask_aadhaar"))


def _identify_answer(
    s: Session,
    service: Service,
    step: IdentifyStep,
    body: Any,
    now: datetime,
    cat: Catalogue,
    out: _Out,
) -> Session:
    """An Aadhaar number or an OTP arrived. Either way the message is not kept."""
    assert s.flow is not None
    flow = s.flow
    lang = s.language or "te"
    out.redact_input = True
    state = flow.results.get(KYC) or {"phase": "aadhaar"}
    typed = body.text if isinstance(body, Text) else ""
    call: Effect | None = None
    problem: str | None = None
    if state["phase"] == "otp":
        code = "".join(typed.split())
        if OTP.match(code):
            call = Effect(
                uuid.uuid4().hex, "GEN", "ekyc_verify", {"txn_id": state["txn"], "otp": code}
            )
        else:
            problem = t(lang, "kyc_otp_invalid")
    else:
        digits = aadhaar_digits(typed)
        if digits is not None:
            call = Effect(uuid.uuid4().hex, "GEN", "ekyc_start", {"aadhaar": digits})
        else:
            problem = t(lang, "kyc_aadhaar_invalid")
    if call is None:
        out.transitions.append(Transition(service.code, service.version, step.id, "invalid"))
        out.replies.append(messages.text(problem or t(lang, "not_understood")))
        return replace(s, flow=replace(flow, misses=flow.misses + 1))
    out.transient.append(call)
    return replace(s, flow=replace(flow, waiting=call.id))


def _identify_result(
    s: Session,
    service: Service,
    step: IdentifyStep,
    result: EffectResult,
    now: datetime,
    cat: Catalogue,
    out: _Out,
) -> Session:
    assert s.flow is not None
    flow = s.flow
    lang = s.language or "te"
    state = flow.results.get(KYC) or {"phase": "aadhaar"}
    data = result.data or {}
    if result.ok and state["phase"] == "aadhaar":
        state = {"phase": "otp", "txn": data.get("txn_id"), "mobile": data.get("masked_mobile")}
        out.replies.append(messages.text(t(lang, "kyc_otp_sent", mobile=state["mobile"] or "")))
        return replace(s, flow=replace(flow, results={**flow.results, KYC: state}, misses=0))
    if result.ok:
        identity = {
            "token": data.get("token"),
            "last4": data.get("last4"),
            "name": data.get("name"),
            "year_of_birth": data.get("year_of_birth"),
            "gender": data.get("gender"),
        }
        out.transitions.append(
            Transition(
                service.code, service.version, step.id, "answered", _seconds_in_step(flow, now)
            )
        )
        out.replies.append(messages.text(t(lang, "kyc_done", last4=identity["last4"] or "")))
        results = {k: v for k, v in flow.results.items() if k != KYC}
        flow = replace(
            flow,
            answers={**flow.answers, step.id: identity},
            results=results,
            trail=(*flow.trail, step.id),
        )
        following = _next_step_id(service, step.id)
        if following is None:
            return replace(s, flow=None, state="menu")
        return _run(replace(s, flow=replace(flow, step=following)), service, now, cat, out)
    error = result.error or "unavailable"
    if error == "wrong_otp":
        left = data.get("attempts_left")
        out.replies.append(
            messages.text(t(lang, "kyc_wrong_otp", left=left if left is not None else ""))
        )
        return s
    if error in ("expired", "too_many_attempts") and state["phase"] == "otp":
        out.replies.append(messages.text(t(lang, "kyc_start_again")))
        out.replies.append(messages.text(t(lang, "kyc_ask_aadhaar")))
        return replace(s, flow=replace(flow, results={**flow.results, KYC: {"phase": "aadhaar"}}))
    if error == "too_many_attempts":
        out.replies.append(_final(t(lang, "kyc_locked"), lang))
        out.transitions.append(Transition(service.code, service.version, step.id, "abandoned"))
        return replace(s, flow=None, state="menu")
    if error in ("not_found", "invalid", "invalid_aadhaar"):
        out.replies.append(messages.text(t(lang, "kyc_not_found")))
        return s
    out.transitions.append(Transition(service.code, service.version, step.id, "unavailable"))
    out.replies.append(_final(t(lang, "kyc_unavailable"), lang))
    return replace(s, flow=replace(flow, results={**flow.results, KYC: {"phase": "aadhaar"}}))


# ---- media: photos and voice notes ------------------------------------------------------

ATTACHMENTS = "attachments"  # results key: step id → the media kept for it
FETCHING = "fetching"  # results key: the fetch_media effects not answered yet
DONE_WORDS = {"done", "skip", "no", "finish", "అయింది", "చాలు", "వద్దు", "దాటవేయి"}
MEDIA_PROBLEMS = ("expired", "wrong_type", "too_large", "corrupt")


def _is_media(body: Any, accept: Sequence[str]) -> bool:
    return isinstance(body, Media) and body.media_kind in accept


def _is_done(body: Any, step: MediaStep) -> bool:
    if isinstance(body, Choice):
        return body.id == f"opt:{step.id}:done"
    return isinstance(body, Text) and body.text.strip().casefold() in DONE_WORDS


def _attachments(flow: Flow, step_id: str) -> list[dict[str, Any]]:
    return list((flow.results.get(ATTACHMENTS) or {}).get(step_id) or [])


def _fetch_media(s: Session, service: Service, step: Any, body: Media, out: _Out) -> Session:
    """Fetch what they sent now, while WhatsApp's download URL is fresh; the chat goes on when
    the worker has checked and kept it (or says why it could not)."""
    assert s.flow is not None
    effect = Effect(
        uuid.uuid4().hex,
        service.department,
        "fetch_media",
        {"media_id": body.media_id, "sha256": body.sha256 or "", "kind": body.media_kind},
    )
    out.effects.append(effect)
    pending = [*s.flow.results.get(FETCHING, ()), effect.id]
    flow = replace(s.flow, waiting=effect.id, results={**s.flow.results, FETCHING: pending})
    return replace(s, flow=flow, state="flow")


def _media_fetched(
    s: Session,
    service: Service,
    step: MediaStep | AskStep,
    result: EffectResult,
    now: datetime,
    cat: Catalogue,
    out: _Out,
) -> Session:
    assert s.flow is not None
    lang = s.language or "te"
    pending = [i for i in s.flow.results.get(FETCHING, ()) if i != result.effect_id]
    flow = replace(s.flow, results={**s.flow.results, FETCHING: pending})
    # Still fetching others sent with it: wait for the last one before answering.
    flow = replace(flow, waiting=pending[-1] if pending else None)
    kept = _attachments(flow, step.id)
    if result.ok and (isinstance(step, AskStep) or len(kept) < step.up_to):
        kept = [*kept, dict(result.data or {})]
        flow = replace(
            flow,
            results={
                **flow.results,
                ATTACHMENTS: {**(flow.results.get(ATTACHMENTS) or {}), step.id: kept},
            },
        )
    if not result.ok:
        problem = result.error if result.error in MEDIA_PROBLEMS else "unavailable"
        out.transitions.append(Transition(service.code, service.version, step.id, "invalid"))
        out.replies.append(messages.text(t(lang, f"media_{problem}")))
        if not pending and not kept:
            out.replies.append(_prompt(step, flow, lang))
            return replace(s, flow=flow)
    if pending:
        return replace(s, flow=flow)
    if isinstance(step, AskStep):
        return _advance(s, service, step, flow, t(lang, "voice_note_answer"), now, cat, out)
    if len(kept) < step.up_to:
        out.replies.append(
            messages.reply_buttons(
                t(lang, "media_kept_more", count=str(len(kept)), most=str(step.up_to)),
                [(f"opt:{step.id}:done", t(lang, "media_done"))],
            )
        )
        return replace(s, flow=flow)
    return _advance(s, service, step, flow, len(kept), now, cat, out)


# ---- applications -----------------------------------------------------------------------


def _submission(service: Service, step: SubmitStep, flow: Flow, lang: str) -> dict[str, str]:
    """What a submit_case effect carries: the service and version, every answer (with the
    titles of chosen options, for the officer and the certificate) and where the applicant
    lives. Values are JSON text: effect arguments are strings."""
    choices = flow.results.get("choices") or {}
    kept = [m for ms in (flow.results.get(ATTACHMENTS) or {}).values() for m in ms]
    return {
        "service": service.code,
        "version": str(service.version),
        "language": lang,
        "department": fill(step.department, flow, lang) if step.department else "",
        "answers": orjson.dumps(flow.answers).decode(),
        "choices": orjson.dumps(choices).decode(),
        "area": orjson.dumps(flow.results.get(step.area) or {}).decode(),
        "attachments": orjson.dumps([m["stored"] for m in kept]).decode(),
    }


def _payment(service: Service, step: PayStep, flow: Flow, lang: str) -> dict[str, str]:
    """What a create_payment effect carries: the amount and what it pays for, and the whole
    conversation (answers, chosen options, results) for the receipt. JSON text values."""
    hold = flow.results.get(step.hold) if step.hold else None
    return {
        "service": service.code,
        "version": str(service.version),
        "language": lang,
        "purpose": step.purpose,
        "amount": fill(step.amount, flow, lang),
        "description": service.title(lang),
        "account": orjson.dumps({k: fill(v, flow, lang) for k, v in step.account.items()}).decode(),
        "hold": orjson.dumps(hold or {}).decode(),
        "refund": orjson.dumps(step.refund.model_dump() if step.refund else None).decode(),
        "answers": orjson.dumps(flow.answers).decode(),
        "results": orjson.dumps({k: v for k, v in flow.results.items() if k != KYC}).decode(),
    }


# ---- placeholders -----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*)(?:\|([a-z_]+))?\}")


def _context(flow: Flow) -> dict[str, Any]:
    return {"answers": flow.answers, **flow.results}


def lookup_path(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _each(step: ShowStep, flow: Flow, lang: str) -> str:
    """One line per element of the list at `step.each`, at most what a message can hold."""
    assert step.each and step.item
    elements = lookup_path(_context(flow), step.each)
    if not isinstance(elements, list) or not elements:
        return fill(step.empty(lang), flow, lang) if step.empty else ""
    lines: list[str] = []
    size = 0
    for element in elements:
        line = fill(step.item(lang), flow, lang, item=element)
        size += len(line) + 1
        if size > limits.INTERACTIVE_BODY - 100:  # leave room for the text above
            break
        lines.append(line)
    return "\n".join(lines)


def fill(template: str, flow: Flow, lang: str, *, item: Any = None) -> str:
    """Replace {answers.x}, {result.y|money} … with values from the conversation."""
    context = _context(flow)
    if item is not None:
        context = {**context, "item": item}

    def one(match: re.Match[str]) -> str:
        value = lookup_path(context, match.group(1))
        return render.format_value(value, match.group(2), lang)

    lines = []
    for line in template.split("\n"):
        filled = _PLACEHOLDER.sub(one, line)
        # A labelled line whose every value is missing ("Expected by: ") is left out.
        if _PLACEHOLDER.search(line) and not any(
            one(m).strip() for m in _PLACEHOLDER.finditer(line)
        ):
            continue
        lines.append(filled)
    return "\n".join(lines)
