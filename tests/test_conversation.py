"""The engine's pure core, read as chats: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mitra.conversation.engine import Session, handle
from mitra.conversation.locale import LANGUAGES, strings
from mitra.whatsapp.events import Choice, InboundMessage, Reaction, Sender, Text, Unsupported
from mitra.whatsapp.messages import OutboundMessage, validate

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
LAKSHMI = Sender(user_id=None, wa_id="919876543210", profile_name="Lakshmi")


def says(body: Any) -> InboundMessage:
    kind = "text" if isinstance(body, Text) else "interactive"
    return InboundMessage("wamid.X", LAKSHMI, NOW, kind, body, None)


def button(reply_id: str) -> Choice:
    return Choice(reply_id, reply_id, None, "button")


def row_titles(m: OutboundMessage) -> list[str]:
    return [r["title"] for s in m.payload["interactive"]["action"]["sections"] for r in s["rows"]]


def test_first_contact_asks_consent_in_both_languages_before_anything_else() -> None:
    turn = handle(Session(), says(Text("income certificate")), NOW)
    [consent] = turn.replies
    text = consent.payload["interactive"]["body"]["text"]
    assert "DPDP" in text and "డేటా" in text
    assert not turn.session.consented


def test_choosing_english_consents_and_shows_the_menu_in_english() -> None:
    turn = handle(Session(), says(button("lang:en")), NOW)
    assert turn.session.consented and turn.session.language == "en"
    assert "Revenue" in row_titles(turn.replies[0])


def test_global_commands_work_in_telugu() -> None:
    session = Session(language="te", consented=True, state="menu")
    assert "రెవెన్యూ" in row_titles(handle(session, says(Text("మెనూ")), NOW).replies[0])
    stopped = handle(session, says(Text("ఆపు")), NOW)
    assert not stopped.session.consented
    assert "అనుమతి" in stopped.replies[0].payload["text"]["body"]


def test_a_tap_on_an_old_menu_shows_the_current_menu() -> None:
    session = Session(language="en", consented=True, state="menu")
    turn = handle(session, says(button("svc:OLD-99")), NOW)
    assert "Revenue" in row_titles(turn.replies[0])


def test_reactions_need_no_answer_and_unknown_types_get_a_polite_one() -> None:
    session = Session(language="en", consented=True)
    assert handle(session, says(Reaction("👍", "wamid.Y")), NOW).replies == []
    [reply] = handle(session, says(Unsupported("unsupported", [])), NOW).replies
    assert "cannot read" in reply.payload["text"]["body"]


def test_every_string_exists_in_every_language_and_every_menu_is_valid() -> None:
    keys = {lang: set(strings(lang)) for lang in LANGUAGES}
    assert keys["te"] == keys["en"]
    assert set(strings("te")["statuses"]) == set(strings("en")["statuses"])
    for lang in LANGUAGES:
        session = Session(language=lang, consented=True)
        for text in ("menu", "help", "language", "what?"):
            for reply in handle(session, says(Text(text)), NOW).replies:
                validate(reply.payload)


def test_every_status_note_and_next_step_of_the_contract_has_words_in_both_languages() -> None:
    from mitra.departments.contract import load_contract

    schemas = load_contract()["components"]["schemas"]
    wanted = {
        "statuses": {
            *schemas["ApplicationStatus"]["enum"],
            *schemas["GrievanceStatus"]["enum"],
            *schemas["ParcelStatus"]["enum"],
        },
        "notes": set(schemas["NoteKey"]["enum"]),
        "next_steps": set(schemas["NextStep"]["enum"]),
    }
    for lang in LANGUAGES:
        for table, keys in wanted.items():
            missing = keys - set(strings(lang)[table])
            assert not missing, f"{lang} {table} lacks {sorted(missing)}"
