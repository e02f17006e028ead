"""The engine's behaviour, read as chats, on a small fixture catalogue and a fake department.
No database, no HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mitra.catalogue.examples import offered, reply_text
from mitra.catalogue.loader import load_catalogue
from mitra.conversation.engine import EffectResult, Session, Turn, handle
from mitra.whatsapp.events import Choice, InboundMessage, Location, Media, Sender, Text
from mitra.whatsapp.messages import validate

CATALOGUE = load_catalogue(Path(__file__).parent / "fixtures" / "engine_catalogue")
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
ME = Sender(user_id=None, wa_id="919876543210", profile_name="Lakshmi")
APPLICATION = {
    "status": "in_review",
    "expected_by": "2026-12-05",
    "history": [
        {
            "status": "submitted",
            "at": "2026-11-20T10:00:00+05:30",
            "office": {"en": "Tenali", "te": "తెనాలి"},
        },
        {"status": "in_review", "at": "2026-11-22T11:00:00+05:30"},
    ],
}


class Chat:
    """A citizen talking to the engine; department calls answered by `department`."""

    def __init__(self, language: str = "en", department: Any = None) -> None:
        self.session = Session(language=language, consented=True, state="menu")
        self.now = T0
        self.department = department or (lambda op, args: ("ok", APPLICATION))
        self.effects_seen: list[Any] = []
        self.transitions: list[Any] = []

    def _run(self, event: Any) -> list[str]:
        texts: list[str] = []
        while True:
            turn: Turn = handle(self.session, event, self.now, catalogue=CATALOGUE)
            self.session = turn.session
            self.transitions += turn.transitions
            for m in turn.replies:
                validate(m.payload)  # every reply is valid WhatsApp
                texts.append(reply_text(m))
                self.last_offers = offered(m)
            if not turn.effects:
                return texts
            [effect] = turn.effects
            self.effects_seen.append(effect)
            kind, data = self.department(effect.operation, effect.args)
            event = EffectResult(
                effect.id,
                ok=kind == "ok",
                data=data if kind == "ok" else None,
                error=None if kind == "ok" else kind,
            )

    def says(self, text: str) -> str:
        return "\n".join(self._run(InboundMessage("w", ME, self.now, "text", Text(text), None)))

    def taps(self, choice_id: str) -> str:
        return "\n".join(
            self._run(
                InboundMessage(
                    "w",
                    ME,
                    self.now,
                    "interactive",
                    Choice(choice_id, choice_id, None, "list"),
                    None,
                )
            )
        )

    def sends(self, body: Any) -> str:
        return "\n".join(self._run(InboundMessage("w", ME, self.now, "x", body, None)))


def test_a_status_check_from_service_code_to_answer() -> None:
    chat = Chat()
    assert "application number" in chat.says("ENG-06")
    answer = chat.says("eng-2026-000123-k")
    assert "ENG-2026-000123-K: Under review" in answer
    assert "05-12-2026" in answer and "Tenali" in answer
    assert chat.effects_seen[0].args == {"reference": "ENG-2026-000123-K"}
    assert chat.session.flow is None
    outcomes = [(t.step, t.outcome) for t in chat.transitions]
    assert ("reference", "answered") in outcomes and ("status", "completed") in outcomes


def test_the_same_check_in_telugu() -> None:
    chat = Chat("te")
    assert "దరఖాస్తు సంఖ్య" in chat.says("ENG-06")
    assert "పరిశీలనలో ఉంది" in chat.says("ENG-2026-000123-K")


def test_an_invalid_answer_is_re_prompted_and_three_misses_offer_help() -> None:
    chat = Chat()
    chat.says("ENG-06")
    assert "It looks like ENG-2026-000123-K" in chat.says("my number is 42")
    chat.says("still wrong")
    third = chat.says("no idea")
    assert "try again" in third.lower() and "Main menu" in third
    assert "application number" in chat.taps("nav:retry")


def test_not_found_goes_back_to_the_question() -> None:
    chat = Chat(department=lambda op, args: ("not_found", None))
    chat.says("ENG-06")
    reply = chat.says("ENG-2026-000999-Z")
    assert "No application ENG-2026-000999-Z was found." in reply
    assert "Send your application number" in reply


def test_a_department_that_is_down_keeps_the_answers_and_offers_to_notify() -> None:
    calls = []

    def down(op: str, args: dict[str, str]) -> tuple[str, Any]:
        calls.append(args)
        return ("unavailable", None) if len(calls) == 1 else ("ok", APPLICATION)

    chat = Chat(department=down)
    chat.says("ENG-06")
    reply = chat.says("ENG-2026-000123-K")
    assert "not answering right now" in reply and "Notify me" in reply
    later = chat.taps("nav:notify")
    assert chat.effects_seen[-1].not_before_seconds > 0
    assert "Under review" in later  # the department answered the retry
    assert calls[1] == {"reference": "ENG-2026-000123-K"}


def test_choices_tapped_or_typed_by_number() -> None:
    items = {
        "items": [{"title": {"en": "Feeder 11kV Tenali", "te": "ఫీడర్ తెనాలి"}, "detail": "10:00–14:00"}]
    }
    chat = Chat(department=lambda op, args: ("ok", items))
    chat.says("ENG-19")
    assert "Feeder 11kV Tenali" in chat.says("1")
    assert chat.effects_seen[0].args == {"topic": "planned_outages", "district": "GNT"}
    chat.says("ENG-19")
    assert "Feeder" in chat.taps("opt:district:KRI")
    assert chat.effects_seen[1].args["district"] == "KRI"


def test_media_or_location_where_text_was_asked_gets_a_sensible_answer() -> None:
    chat = Chat()
    chat.says("ENG-06")
    assert "Please type your answer" in chat.sends(Location(16.3, 80.4, None, None))
    photo = Media("m1", "image/jpeg", None, None, None, False, "image")
    assert "Please type your answer" in chat.sends(photo)
    assert chat.session.flow is not None and chat.session.flow.step == "reference"


def test_back_cancel_and_menu_work_inside_a_service() -> None:
    chat = Chat()
    chat.says("ENG-19")
    # back from the first question leaves the service for its department's list
    assert "Electricity: choose a service" in chat.says("back")
    assert chat.session.flow is None
    chat.says("ENG-06")
    assert "Cancelled" in chat.says("cancel")
    assert chat.session.flow is None
    assert "Revenue" in chat.says("menu")


def test_a_tap_on_an_old_menu_re_prompts_where_the_citizen_is() -> None:
    chat = Chat()
    chat.says("ENG-06")
    assert "application number" in chat.taps("opt:district:GNT")


def test_departments_with_many_services_are_paged_with_more() -> None:
    chat = Chat()
    first = chat.taps("dept:REV")
    ids = [i for i, _ in chat.last_offers]
    assert len(ids) == 10 and ids[-1] == "page:REV:1" and "More" in first
    chat.taps("page:REV:1")
    assert [i for i, _ in chat.last_offers] == ["svc:REV-10", "svc:REV-11", "svc:REV-12"]


def test_an_idle_citizen_is_offered_to_continue_where_they_left_off() -> None:
    chat = Chat()
    chat.says("ENG-06")
    chat.now = T0 + timedelta(hours=2)
    offer = chat.says("hello?")
    assert "Continue" in offer and "New connection status" in offer
    assert "application number" in chat.taps("nav:resume")


def test_a_conversation_finishes_on_the_version_it_started_on() -> None:
    chat = Chat()
    chat.session = replace(chat.session, state="flow")
    from mitra.conversation.engine import Flow

    chat.session = replace(chat.session, flow=Flow("ENG-06", 1, "reference"))
    assert "Old version finished for 42" in chat.says("42")


def test_consent_comes_first_and_the_language_choice_is_remembered() -> None:
    chat = Chat()
    chat.session = Session()
    first = chat.says("ENG-06")
    assert "DPDP" in first
    assert chat.session.consented is False
    menu = chat.taps("lang:te")
    assert "రెవెన్యూ" in menu and chat.session.language == "te"


@pytest.mark.parametrize(
    "word", ["menu", "మెనూ", "help", "సహాయం", "language", "భాష", "officer", "అధికారి"]
)
def test_global_commands_in_both_languages_answer(word: str) -> None:
    chat = Chat()
    chat.says("ENG-06")
    assert chat.says(word)


def test_long_option_lists_are_paged_never_cut_off() -> None:
    chat = Chat()
    chat.says("ENG-22")
    ids = [i for i, _ in chat.last_offers]
    assert len(ids) == 10 and ids[-1] == "opt:town:__more__:1"
    chat.taps("opt:town:__more__:1")
    assert [i for i, _ in chat.last_offers] == ["opt:town:KDP", "opt:town:ONG", "opt:town:SKL"]
    assert "You chose SKL" in chat.taps("opt:town:SKL")


def test_a_list_in_a_result_is_shown_one_line_per_element_in_the_citizens_language() -> None:
    outages = {
        "data": {
            "outages": [
                {
                    "starts_at": "2026-12-04T14:00:00+05:30",
                    "ends_at": "2026-12-04T17:00:00+05:30",
                    "mandal": {"name": {"en": "Mangalagiri", "te": "మంగళగిరి"}},
                    "reason": "line_work",
                }
            ]
        }
    }
    chat = Chat("te", department=lambda op, args: ("ok", outages))
    assert "04-12-2026 14:00–17:00 మంగళగిరి: లైన్ పనులు" in chat.says("ENG-24")
    empty = Chat(department=lambda op, args: ("ok", {"data": {"outages": []}}))
    assert "No cuts planned." in empty.says("ENG-24")


def test_a_labelled_line_with_no_value_is_left_out() -> None:
    decided = {**APPLICATION, "status": "approved", "expected_by": None}
    chat = Chat(department=lambda op, args: ("ok", decided))
    chat.says("ENG-06")
    answer = chat.says("ENG-2026-000123-K")
    assert "Approved" in answer and "Expected by" not in answer


def test_a_show_step_can_end_the_service_so_a_revoked_certificate_is_never_called_genuine() -> None:
    from mitra.catalogue.loader import default_catalogue

    revoked = {
        "title": {"en": "Income certificate", "te": "ఆదాయ ధృవీకరణ పత్రం"},
        "data": {"status": "revoked"},
    }
    session = Session(language="en", consented=True, state="menu")
    texts: list[str] = []
    event: Any = InboundMessage("w", ME, T0, "text", Text("GEN-05"), None)
    for typed in ("GEN-05", "INC-TPT-2026-000123"):
        event = InboundMessage("w", ME, T0, "text", Text(typed), None)
        turn = handle(session, event, T0, catalogue=default_catalogue())
        session = turn.session
        for effect in turn.effects:
            turn = handle(
                session, EffectResult(effect.id, True, revoked), T0, catalogue=default_catalogue()
            )
            session = turn.session
        texts += [reply_text(m) for m in turn.replies]
    assert "REVOKED" in texts[-1]
    assert not any("Genuine" in t for t in texts)
    assert session.flow is None


def test_dates_in_words_and_bounds_are_read_from_the_citizens_today() -> None:
    from datetime import date

    from mitra.catalogue.schema import Validation
    from mitra.conversation.validators import Invalid, validate_answer

    today = date(2026, 11, 29)
    booking = Validation(type="date", min=0, max=60)
    assert validate_answer("tomorrow", booking, today=today) == "2026-11-30"
    assert validate_answer("రేపు", booking, today=today) == "2026-11-30"
    assert validate_answer("ఎల్లుండి", booking, today=today) == "2026-12-01"
    assert validate_answer("Day after  tomorrow", booking, today=today) == "2026-12-01"
    for too_early_or_late in ("28-11-2026", "01-03-2027"):
        with pytest.raises(Invalid):
            validate_answer(too_early_or_late, booking, today=today)
    birth = Validation(type="date", max=0)
    assert validate_answer("15/08/1990", birth, today=today) == "1990-08-15"
    with pytest.raises(Invalid):
        validate_answer("tomorrow", birth, today=today)


def test_going_back_forgets_the_answer_so_an_abandoned_path_leaves_nothing_behind() -> None:
    from mitra.catalogue.loader import default_catalogue

    cat = default_catalogue()
    now = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
    sender = Sender(user_id=None, wa_id="919800000001", profile_name="Devotee")
    session = Session(language="en", consented=True, state="menu")

    def send(session: Session, text: str | None = None, tap: str | None = None) -> Session:
        body: Any = Text(text) if text is not None else Choice(tap or "", tap or "", None, "button")
        kind = "text" if text is not None else "interactive"
        return handle(
            session, InboundMessage("wamid.x", sender, now, kind, body, None), now, catalogue=cat
        ).session

    for text, tap in (
        ("END-22", None),
        (None, "opt:temple:annavaram"),
        ("501", None),
        (None, "opt:exemption:80g"),
        ("ABCPK1234F", None),
    ):
        session = send(session, text, tap)
    assert session.flow is not None and session.flow.answers["pan"] == "ABCPK1234F"
    session = send(session, "back")  # to the PAN
    session = send(session, "back")  # to the 80G question
    session = send(session, tap="opt:exemption:none")
    assert session.flow is not None and session.flow.step == "sure"
    assert "pan" not in session.flow.answers
    assert session.flow.results["choices"]["exemption"]["en"] == "No"
