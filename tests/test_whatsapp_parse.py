"""Webhook envelopes of real shape (tests/fixtures/webhooks/) → events, and back from storage.

Adding a payload shape means adding a fixture file and its expected events below; the
parametrised tests pick it up.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mitra.whatsapp import envelopes
from mitra.whatsapp.events import (
    Body,
    Choice,
    FlowReply,
    InboundMessage,
    Location,
    Media,
    Order,
    Reaction,
    Sender,
    SharedContacts,
    StatusUpdate,
    Text,
    Unsupported,
    Update,
    event_from_dict,
    event_to_dict,
)
from mitra.whatsapp.parse import MalformedWebhook, parse_envelope

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))

RAVI = Sender(user_id="IN.1410018717833190", wa_id="919876543210", profile_name="రవి కుమార్")
OUR_WAMID = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQjA1RkQ2QUVFMEQ4QjM5NkY1AA=="
CALLBACK = "outbox:7f3c2a1e-5b9d-4c8e-a1f2-0d6e9b3c4a5f"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def from_ravi(
    suffix: str, unix: int, kind: str, body: Body, context: str | None = None
) -> InboundMessage:
    return InboundMessage(
        wamid=f"wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgg{suffix}",
        sender=RAVI,
        sent_at=at(unix),
        kind=kind,
        body=body,
        context_wamid=context,
    )


def status(state: str, unix: int, errors: list[dict[str, Any]] | None = None) -> StatusUpdate:
    return StatusUpdate(
        wamid=OUR_WAMID,
        status=state,
        at=at(unix),
        recipient_id="919876543210",
        callback_data=CALLBACK,
        errors=errors or [],
    )


EXPECTED: dict[str, list[Update]] = {
    "text.json": [from_ravi("TEXT", 1760000000, "text", Text("నమస్కారం, ఆదాయ ధృవీకరణ పత్రం కావాలి"))],
    "interactive_list_reply.json": [
        from_ravi(
            "INTERACTIVELISTREPLY",
            1760000010,
            "interactive",
            Choice("svc.income_certificate", "ఆదాయ ధృవీకరణ", "Revenue department, 7 days", "list"),
            context=OUR_WAMID,
        )
    ],
    "interactive_button_reply.json": [
        from_ravi(
            "INTERACTIVEBUTTONREPLY",
            1760000020,
            "interactive",
            Choice("lang.te", "తెలుగు", None, "button"),
            context=OUR_WAMID,
        )
    ],
    "interactive_nfm_reply.json": [
        from_ravi(
            "INTERACTIVENFMREPLY",
            1760000030,
            "interactive",
            FlowReply(
                name="flow",
                body="Sent",
                response={
                    "flow_token": "ft.8f14e45fceea167a",
                    "applicant_name": "రవి కుమార్",
                    "village": "Kondapur",
                    "annual_income": "96000",
                },
            ),
            context=OUR_WAMID,
        )
    ],
    "interactive_unreadable.json": [
        InboundMessage(
            wamid="wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggUNREADABLE",
            sender=RAVI,
            sent_at=at(1760000155),
            kind="interactive",
            body=Unsupported(
                "interactive",
                [
                    {
                        "code": 131000,
                        "title": "Something went wrong",
                        "message": "Something went wrong",
                        "error_data": {"details": "Unsupported webhook payload"},
                    }
                ],
            ),
            context_wamid=OUR_WAMID,
        )
    ],
    "button.json": [
        from_ravi(
            "BUTTON",
            1760000040,
            "button",
            Choice("appointment.confirm", "Confirm", None, "template_button"),
            context=OUR_WAMID,
        )
    ],
    "location.json": [
        from_ravi(
            "LOCATION",
            1760000050,
            "location",
            Location(
                17.385044, 78.486671, "Mandal Revenue Office", "Abids, Hyderabad, Telangana 500001"
            ),
        )
    ],
    "image.json": [
        from_ravi(
            "IMAGE",
            1760000060,
            "image",
            Media(
                media_id="1043298756381245",
                mime_type="image/jpeg",
                sha256="4Jk0cQZt3b4xVq2M3cQv7yQy2wO1xk3m1n8Q1c2b3d4=",
                caption="ration card photo",
                filename=None,
                voice=False,
                media_kind="image",
            ),
        )
    ],
    "document.json": [
        from_ravi(
            "DOCUMENT",
            1760000070,
            "document",
            Media(
                media_id="1287366245018372",
                mime_type="application/pdf",
                sha256="grwfwe/ZPx0wAbdfbdeFUNItPZ0RylL8gGUvdt3YFqc18SY=",
                caption="Aadhaar",
                filename="aadhaar.pdf",
                voice=False,
                media_kind="document",
            ),
        )
    ],
    "audio_voice.json": [
        from_ravi(
            "AUDIOVOICE",
            1760000080,
            "audio",
            Media(
                media_id="2034986512093845",
                mime_type="audio/ogg; codecs=opus",
                sha256="m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=",
                caption=None,
                filename=None,
                voice=True,
                media_kind="audio",
            ),
        )
    ],
    "video.json": [
        from_ravi(
            "VIDEO",
            1760000090,
            "video",
            Media(
                media_id="884512093846512",
                mime_type="video/mp4",
                sha256="Jh+2ij6PzUv/J2y+grrtegr/ZMzRxkEPwc24Oyib4s03w9Jc=",
                caption="the broken culvert",
                filename=None,
                voice=False,
                media_kind="video",
            ),
        )
    ],
    "sticker.json": [
        from_ravi(
            "STICKER",
            1760000100,
            "sticker",
            Media(
                media_id="1593574862014785",
                mime_type="image/webp",
                sha256="OmT4nhjUhCMIPNmj7eeOZeCYjTXkLxoOv85OMCFwSuc=",
                caption=None,
                filename=None,
                voice=False,
                media_kind="sticker",
            ),
        )
    ],
    "reaction.json": [from_ravi("REACTION", 1760000110, "reaction", Reaction("🙏", OUR_WAMID))],
    "contacts.json": [from_ravi("CONTACTS", 1760000120, "contacts", SharedContacts(2))],
    "order.json": [from_ravi("ORDER", 1760000130, "order", Order("354160437058781", 2))],
    "system.json": [
        InboundMessage(
            wamid="wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggSYSTEM",
            sender=Sender(user_id=None, wa_id="919876543210", profile_name=None),
            sent_at=at(1760000140),
            kind="system",
            body=Unsupported("system", []),
            context_wamid=None,
        )
    ],
    "system_user_id_change.json": [
        InboundMessage(
            wamid="wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggSYSTEMUID",
            # No `from` and no contact: filed under the user id we knew.
            sender=Sender(user_id="IN.1410018717833190", wa_id=None, profile_name=None),
            sent_at=at(1760000145),
            kind="system",
            body=Unsupported("system", []),
            context_wamid=None,
        )
    ],
    "unsupported.json": [
        from_ravi(
            "UNSUPPORTED",
            1760000150,
            "unsupported",
            Unsupported(
                "unsupported",
                [
                    {
                        "code": 131051,
                        "title": "Message type unknown",
                        "message": "Message type unknown",
                        "error_data": {"details": "Message type is currently not supported."},
                    }
                ],
            ),
        )
    ],
    "bsuid_only.json": [
        InboundMessage(
            wamid="wamid.HBgSSU4uNTU2Njc3ODg5OTAwMTEyMhUCABIYIEJTVUlE",
            sender=Sender(user_id="IN.5566778899001122", wa_id=None, profile_name="kavya.te"),
            sent_at=at(1760000160),
            kind="text",
            body=Text("Hi"),
            context_wamid=None,
        )
    ],
    "status_sent.json": [status("sent", 1760000200)],
    "status_delivered.json": [status("delivered", 1760000201)],
    "status_read.json": [status("read", 1760000205)],
    "status_failed.json": [
        status(
            "failed",
            1760000202,
            [
                {
                    "code": 131026,
                    "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."},
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                }
            ],
        )
    ],
    "non_messages_field.json": [],
}
# Checked in detail by test_a_batch_yields_every_update_in_order.
EXPECTED_ELSEWHERE = {"batch.json"}


def test_every_fixture_has_expected_events() -> None:
    names = {path.name for path in FIXTURE_FILES}
    assert names == set(EXPECTED) | EXPECTED_ELSEWHERE


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_into_the_expected_events(name: str) -> None:
    assert parse_envelope(load(name)) == EXPECTED[name]


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_survives_storage(path: Path) -> None:
    """event_from_dict(event_to_dict(ev)) == ev, through real JSON text."""
    for event in parse_envelope(json.loads(path.read_text(encoding="utf-8"))):
        stored = json.dumps(event_to_dict(event), ensure_ascii=False)
        assert event_from_dict(json.loads(stored)) == event


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_yields_utc_times_and_keyed_senders(path: Path) -> None:
    for event in parse_envelope(json.loads(path.read_text(encoding="utf-8"))):
        if isinstance(event, InboundMessage):
            assert event.sent_at.utcoffset() is not None
            assert event.sent_at.utcoffset() == UTC.utcoffset(None)
            assert event.sender.key.startswith(("user:", "wa:"))
        else:
            assert event.at.utcoffset() == UTC.utcoffset(None)


def test_a_batch_yields_every_update_in_order() -> None:
    updates = parse_envelope(load("batch.json"))
    # 2 entries: (3 messages, 3 statuses, an account_update change) and (2 messages, 2 statuses).
    assert len(updates) == 10
    assert [(type(u).__name__, u.wamid) for u in updates] == [
        ("InboundMessage", "wamid.BATCH01"),
        ("InboundMessage", "wamid.BATCH02"),
        ("InboundMessage", "wamid.BATCH03"),
        ("StatusUpdate", "wamid.OUT01"),
        ("StatusUpdate", "wamid.OUT01"),
        ("StatusUpdate", "wamid.OUT02"),
        ("InboundMessage", "wamid.BATCH04"),
        ("InboundMessage", "wamid.BATCH05"),
        ("StatusUpdate", "wamid.OUT03"),
        ("StatusUpdate", "wamid.OUT03"),
    ]
    messages = [u for u in updates if isinstance(u, InboundMessage)]
    # Each message is matched with its own contact, also when one change holds two citizens.
    assert [m.sender.key for m in messages] == [
        "user:IN.1410018717833190",
        "user:IN.2267001122334455",
        "user:IN.1410018717833190",
        "user:IN.2267001122334455",
        "user:IN.2267001122334455",
    ]
    assert [m.sender.profile_name for m in messages[:2]] == ["రవి కుమార్", "Lakshmi"]
    assert messages[3].body == Text("ధన్యవాదాలు")
    statuses = [u for u in updates if isinstance(u, StatusUpdate)]
    assert [s.status for s in statuses] == ["sent", "delivered", "read", "sent", "failed"]
    assert statuses[-1].callback_data == "outbox:3"
    assert statuses[-1].errors[0]["code"] == 131047


def test_a_thousand_updates_in_one_post() -> None:
    values = [
        envelopes.messages_value(
            [envelopes.contact(f"9190000{n:05d}", f"Citizen {n}")],
            [envelopes.message("text", {"body": f"#{n}"}, wa_id=f"9190000{n:05d}")],
            phone_number_id="106540352242922",
        )
        for n in range(500)
    ]
    values += [
        envelopes.statuses_value(
            [envelopes.status(envelopes.new_wamid(), "delivered", recipient_id="919876543210")],
            phone_number_id="106540352242922",
        )
        for _ in range(500)
    ]
    updates = parse_envelope(envelopes.envelope(values))
    assert len(updates) == 1000
    first = updates[0]
    assert isinstance(first, InboundMessage)
    assert first.body == Text("#0")
    assert first.sender == Sender(user_id=None, wa_id="919000000000", profile_name="Citizen 0")


def test_the_project_envelope_builder_parses() -> None:
    body = envelopes.text_envelope(
        "919876543210",
        "హాయ్",
        phone_number_id="106540352242922",
        wamid="wamid.X",
        timestamp=1760000000,
        user_id="IN.1410018717833190",
    )
    assert parse_envelope(body) == [
        InboundMessage(
            wamid="wamid.X",
            sender=Sender("IN.1410018717833190", "919876543210", "Citizen"),
            sent_at=at(1760000000),
            kind="text",
            body=Text("హాయ్"),
            context_wamid=None,
        )
    ]


# --- senders --------------------------------------------------------------------------------


def single_message(message: dict[str, Any], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    return envelopes.envelope(
        [envelopes.messages_value(contacts, [message], phone_number_id="106540352242922")]
    )


def test_a_username_only_citizen_is_known_by_the_one_contact() -> None:
    message = {"id": "wamid.U", "timestamp": "1760000000", "type": "text", "text": {"body": "Hi"}}
    contact = {"profile": {"name": "kavya.te"}, "user_id": "IN.5566778899001122"}
    [event] = parse_envelope(single_message(message, [contact]))
    assert isinstance(event, InboundMessage)
    assert event.sender == Sender("IN.5566778899001122", None, "kavya.te")
    assert event.sender.key == "user:IN.5566778899001122"


def test_a_sender_without_a_contact_keeps_its_phone_number() -> None:
    message = envelopes.message("text", {"body": "Hi"}, wa_id="919876543210", timestamp=1)
    [event] = parse_envelope(single_message(message, []))
    assert isinstance(event, InboundMessage)
    assert event.sender == Sender(None, "919876543210", None)
    assert event.sender.key == "wa:919876543210"


def test_sender_key_prefers_the_user_id() -> None:
    assert Sender("IN.1", "9198", None).key == "user:IN.1"
    assert Sender(None, "9198", None).key == "wa:9198"
    with pytest.raises(ValueError, match="neither"):
        _ = Sender(None, None, "Nobody").key


# --- what never raises ----------------------------------------------------------------------


def test_unknown_message_types_become_unsupported() -> None:
    message = envelopes.message("hologram", {"depth": 3}, wa_id="919876543210", timestamp=1)
    [event] = parse_envelope(single_message(message, []))
    assert isinstance(event, InboundMessage)
    assert event.kind == "hologram"
    assert event.body == Unsupported("hologram", [])


def test_unknown_interactive_replies_become_unsupported() -> None:
    body = {"type": "payment_method", "payment_method": {"id": "x"}}
    message = envelopes.message("interactive", body, wa_id="919876543210", timestamp=1)
    [event] = parse_envelope(single_message(message, []))
    assert isinstance(event, InboundMessage)
    assert event.body == Unsupported("interactive", [])


def test_a_removed_reaction_has_no_emoji() -> None:
    body = {"message_id": OUR_WAMID, "emoji": ""}
    message = envelopes.message("reaction", body, wa_id="919876543210", timestamp=1)
    [event] = parse_envelope(single_message(message, []))
    assert isinstance(event, InboundMessage)
    assert event.body == Reaction(None, OUR_WAMID)


def test_changes_of_other_fields_yield_nothing_even_with_odd_values() -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "account_alerts", "value": ["anything"]}]}],
    }
    assert parse_envelope(body) == []


def test_parsing_does_not_change_the_envelope() -> None:
    body = load("batch.json")
    before = copy.deepcopy(body)
    parse_envelope(body)
    assert body == before


# --- what is malformed ----------------------------------------------------------------------


def with_message(**changes: Any) -> dict[str, Any]:
    """The text fixture with its one message's keys replaced (a value of None removes a key)."""
    body = load("text.json")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    return body


def with_value(**changes: Any) -> dict[str, Any]:
    body = load("text.json")
    body["entry"][0]["changes"][0]["value"].update(changes)
    return body


MALFORMED: dict[str, tuple[Any, str]] = {
    "not an object": (["whatsapp_business_account"], "envelope is a list"),
    "not JSON-object text": ("{}", "envelope is a str"),
    "nothing": (None, "envelope is a NoneType"),
    "wrong object": ({"object": "page", "entry": []}, "object is 'page'"),
    "entry not a list": (
        {"object": "whatsapp_business_account", "entry": {}},
        "entry is not a list",
    ),
    "entry missing": ({"object": "whatsapp_business_account"}, "entry is not a list"),
    "entry element not an object": (
        {"object": "whatsapp_business_account", "entry": ["x"]},
        "entry[0] is not an object",
    ),
    "changes not a list": (
        {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": None}]},
        "entry[0].changes is not a list",
    ),
    "change without field": (
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {}}]}]},
        "has no field",
    ),
    "change without value": (
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]},
        "has no value",
    ),
    "messages value not an object": (
        {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": []}]}],
        },
        "value is not an object",
    ),
    "messages not a list": (with_value(messages={"id": "x"}), "messages is not a list"),
    "message not an object": (with_value(messages=["x"]), "messages[0] is not an object"),
    "contacts not a list": (with_value(contacts="x"), "contacts is not a list"),
    "message without id": (with_message(id=None), "id is missing"),
    "message with a numeric id": (with_message(id=42), "id is not a string"),
    "message without type": (with_message(type=None), "type is missing"),
    "timestamp not a number": (with_message(timestamp="17600O0000"), "is not unix seconds"),
    "timestamp empty": (with_message(timestamp=""), "is not unix seconds"),
    "timestamp missing": (with_message(timestamp=None), "is not unix seconds"),
    "timestamp in other digits": (with_message(timestamp="١٧٦٠٠٠٠٠٠٠"), "is not unix seconds"),
    "timestamp a float string": (with_message(timestamp="1760000000.5"), "is not unix seconds"),
    "timestamp out of range": (with_message(timestamp="9" * 30), "out of range"),
    "no sender and no matching contact": (
        with_value(contacts=[], messages=[{"id": "w", "timestamp": "1", "type": "text"}]),
        "no sender and no matching contact",
    ),
    "text body not a string": (with_message(text={"body": 7}), "body is not a string"),
    "text object not an object": (with_message(text="hi"), "text is not an object"),
    "from not a string": (with_message(**{"from": 919876543210}), "from is not a string"),
    "context not an object": (with_message(context="wamid.X"), "context is not an object"),
    "location not numbers": (
        with_message(type="location", location={"latitude": "17.3", "longitude": 78.4}),
        "latitude is not a number",
    ),
    "flow response not JSON": (
        with_message(
            type="interactive",
            interactive={
                "type": "nfm_reply",
                "nfm_reply": {"name": "flow", "body": "Sent", "response_json": "{oops"},
            },
        ),
        "response_json is not JSON",
    ),
    "flow response not an object": (
        with_message(
            type="interactive",
            interactive={"type": "nfm_reply", "nfm_reply": {"response_json": "[1, 2]"}},
        ),
        "response_json is not a JSON object",
    ),
    "media without id": (
        with_message(type="image", image={"mime_type": "image/jpeg"}),
        "id is missing",
    ),
    "errors not a list": (with_message(type="unsupported", errors={"code": 1}), "errors is not"),
    "status without id": (
        with_value(messages=[], statuses=[{"status": "read", "timestamp": "1"}]),
        "statuses[0]: id is missing",
    ),
    "status with a bad timestamp": (
        with_value(messages=[], statuses=[{"id": "w", "status": "read", "timestamp": "soon"}]),
        "statuses[0]: timestamp 'soon' is not unix seconds",
    ),
}


@pytest.mark.parametrize(("body", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bodies_raise_with_a_reason(body: Any, reason: str) -> None:
    with pytest.raises(MalformedWebhook) as raised:
        parse_envelope(body)
    assert reason in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_the_reason_says_where() -> None:
    body = load("batch.json")
    del body["entry"][1]["changes"][0]["value"]["messages"][1]["id"]
    with pytest.raises(MalformedWebhook, match=r"^entry\[1\]\.changes\[0\]\.value\.messages\[1\]"):
        parse_envelope(body)


# --- storage --------------------------------------------------------------------------------


def test_stored_events_name_their_body_type() -> None:
    [event] = parse_envelope(load("interactive_nfm_reply.json"))
    stored = event_to_dict(event)
    assert stored["event"] == "message"
    assert stored["body_type"] == "flow_reply"
    assert stored["sent_at"] == "2025-10-09T08:53:50+00:00"
    [status_event] = parse_envelope(load("status_failed.json"))
    assert event_to_dict(status_event)["event"] == "status"


def test_reading_back_refuses_what_it_did_not_write() -> None:
    [event] = parse_envelope(load("text.json"))
    stored = event_to_dict(event)
    with pytest.raises(ValueError, match="unknown body_type"):
        event_from_dict({**stored, "body_type": "hologram"})
    with pytest.raises(ValueError, match="not a stored event"):
        event_from_dict({**stored, "event": "other"})
    with pytest.raises(ValueError, match="no time zone"):
        event_from_dict({**stored, "sent_at": "2025-10-09T08:53:50"})
