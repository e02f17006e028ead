"""Outbound messages: what WhatsApp accepts is built; what it would refuse raises, never shrinks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from mitra.whatsapp import limits
from mitra.whatsapp import messages as wa
from mitra.whatsapp.messages import LimitExceeded, OutboundMessage

# A Telugu row title that looks short on screen but is 25 code points: one too many.
TELUGU_TITLE_25 = "నివాస ధృవీకరణ పత్రం కొరకు"
TELUGU_TITLE_24 = "నివాస ధృవీకరణ పత్రం కోసం"
PHONE = "919876543210"
WAMID = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggTEXT"


def test_telugu_titles_are_counted_in_code_points() -> None:
    assert len(TELUGU_TITLE_25) == 25
    assert len(TELUGU_TITLE_24) == limits.ROW_TITLE


def services_list(*rows: tuple[str, str, str | None], button: str = "Services") -> OutboundMessage:
    return wa.list_message("Which service do you need?", button, [(None, list(rows))])


def row(n: int) -> tuple[str, str, str | None]:
    return (f"svc.{n}", f"Service {n}", None)


def reply(n: int) -> dict[str, Any]:
    return {"type": "reply", "reply": {"id": f"b{n}", "title": f"Button {n}"}}


# --- valid messages, in English and Telugu --------------------------------------------------

VALID: dict[str, Callable[[], OutboundMessage]] = {
    "text en": lambda: wa.text("Your application TS-2025-0042 is approved."),
    "text te": lambda: wa.text("మీ దరఖాస్తు TS-2025-0042 ఆమోదించబడింది."),
    "text with preview": lambda: wa.text(
        "Track it at https://mitra.example/t/42", preview_url=True
    ),
    "buttons en": lambda: wa.reply_buttons(
        "Choose a language", [("lang.en", "English"), ("lang.te", "తెలుగు")]
    ),
    "buttons te with header and footer": lambda: wa.reply_buttons(
        "మీ అపాయింట్‌మెంట్ నిర్ధారించాలా?",
        [("yes", "అవును, నిర్ధారించు"), ("no", "వద్దు"), ("later", "తర్వాత")],
        header="రెవెన్యూ శాఖ సేవలు",
        footer="మిత్ర",
    ),
    "list en": lambda: wa.list_message(
        "Which certificate do you need?",
        "Certificates",
        [(None, [("svc.income", "Income certificate", "Revenue department, 7 days")])],
        header="Revenue department",
        footer="Reply 0 for the main menu",
    ),
    "list te, two sections, 24-code-point title": lambda: wa.list_message(
        "సేవను ఎంచుకోండి",
        "సేవలు",
        [
            ("ధృవీకరణ పత్రాలు", [("svc.res", TELUGU_TITLE_24, "7 రోజులు"), row(2)]),
            ("ఇతర", [("svc.more", "ఇంకా చూపించు", None)]),
        ],
    ),
    "list with ten rows in three sections": lambda: wa.list_message(
        "All services",
        "Open",
        [
            ("A", [row(n) for n in range(4)]),
            ("B", [row(n) for n in range(4, 8)]),
            ("C", [row(8), row(9)]),
        ],
    ),
    "cta_url": lambda: wa.cta_url(
        "Pay the fee of ₹35 online", "Pay ₹35", "https://pay.example.in/p/42", footer="Razorpay"
    ),
    "cta_url te": lambda: wa.cta_url("రుసుము చెల్లించండి", "చెల్లించండి", "http://pay.example.in/p/42"),
    "location request": lambda: wa.location_request("మీ గ్రామం ఎక్కడ ఉందో పంపండి"),
    "document by id": lambda: wa.document(
        media_id="1287366245018372", filename="ఆదాయ_ధృవీకరణ.pdf", caption="మీ ధృవీకరణ పత్రం"
    ),
    "document by link": lambda: wa.document(link="https://files.example.in/c/42.pdf"),
    "image": lambda: wa.image(media_id="1043298756381245", caption="Office location"),
    "image by link": lambda: wa.image(link="https://files.example.in/map.png"),
    "location": lambda: wa.location(17.385044, 78.486671, name="MRO Office", address="Abids"),
    "template te": lambda: wa.template(
        "appointment_reminder", "te", ["రవి", "12 అక్టోబర్"], ["confirm", "cancel"]
    ),
    "template without parameters": lambda: wa.template("hello_world", "en_US"),
}


@pytest.mark.parametrize("build", VALID.values(), ids=VALID.keys())
def test_valid_messages_build_and_validate(build: Callable[[], OutboundMessage]) -> None:
    message = build()
    assert message.payload["type"] == message.kind
    wa.validate(message.payload)
    wa.validate(wa.request_body(message, to=PHONE))


def test_text_payload_shape() -> None:
    assert wa.text("నమస్కారం").payload == {
        "type": "text",
        "text": {"body": "నమస్కారం", "preview_url": False},
    }


def test_reply_buttons_payload_shape() -> None:
    message = wa.reply_buttons("Confirm?", [("yes", "Yes"), ("no", "No")], footer="Mitra")
    assert message.kind == "interactive"
    assert message.payload == {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Confirm?"},
            "footer": {"text": "Mitra"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "no", "title": "No"}},
                ]
            },
        },
    }


def test_list_payload_shape_omits_missing_titles_and_descriptions() -> None:
    message = wa.list_message(
        "Pick one",
        "Services",
        [(None, [("a", "Alpha", "first"), ("b", "Beta", None)])],
        header="Revenue",
    )
    assert message.payload["interactive"] == {
        "type": "list",
        "header": {"type": "text", "text": "Revenue"},
        "body": {"text": "Pick one"},
        "action": {
            "button": "Services",
            "sections": [
                {
                    "rows": [
                        {"id": "a", "title": "Alpha", "description": "first"},
                        {"id": "b", "title": "Beta"},
                    ]
                }
            ],
        },
    }


def test_cta_url_and_location_request_shapes() -> None:
    assert wa.cta_url("Pay", "Pay now", "https://p.example/1").payload["interactive"] == {
        "type": "cta_url",
        "body": {"text": "Pay"},
        "action": {
            "name": "cta_url",
            "parameters": {"display_text": "Pay now", "url": "https://p.example/1"},
        },
    }
    assert wa.location_request("Where?").payload["interactive"] == {
        "type": "location_request_message",
        "body": {"text": "Where?"},
        "action": {"name": "send_location"},
    }


def test_media_payload_shapes() -> None:
    assert wa.document(media_id="77", filename="c.pdf", caption="Yours").payload == {
        "type": "document",
        "document": {"id": "77", "filename": "c.pdf", "caption": "Yours"},
    }
    assert wa.image(link="https://f.example/a.png").payload == {
        "type": "image",
        "image": {"link": "https://f.example/a.png"},
    }


def test_template_payload_shape() -> None:
    message = wa.template("appointment_reminder", "te", ["రవి"], ["confirm"])
    assert message.payload == {
        "type": "template",
        "template": {
            "name": "appointment_reminder",
            "language": {"code": "te"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "రవి"}]},
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "confirm"}],
                },
            ],
        },
    }
    assert "components" not in wa.template("hello_world", "en_US").payload["template"]


# --- limits: every one raises, naming the field; nothing is ever cut ------------------------


def test_telugu_row_title_of_25_code_points_is_refused_not_truncated() -> None:
    with pytest.raises(LimitExceeded) as raised:
        services_list(("svc.res", TELUGU_TITLE_25, None))
    assert str(raised.value) == f"list row title '{TELUGU_TITLE_25}' is 25 chars, limit 24"
    assert (raised.value.field, raised.value.limit, raised.value.actual) == (
        "list row title",
        24,
        25,
    )
    assert isinstance(raised.value, ValueError)


def test_text_at_the_limit_is_sent_whole() -> None:
    body = "అ" * limits.TEXT_BODY
    assert wa.text(body).payload["text"]["body"] == body


def test_long_values_are_quoted_shortened_in_the_error_only() -> None:
    with pytest.raises(LimitExceeded, match=r"text body 'x{47}…' is 4097 chars, limit 4096"):
        wa.text("x" * 4097)


OVER_LIMIT: dict[str, tuple[Callable[[], object], str]] = {
    "text body": (lambda: wa.text("a" * 4097), "text body"),
    "interactive body": (
        lambda: wa.reply_buttons("అ" * 1025, [("y", "Yes")]),
        "interactive body '",
    ),
    "list row title": (lambda: services_list(("a", "t" * 25, None)), "list row title"),
    "list row id": (lambda: services_list(("i" * 201, "Title", None)), "list row id"),
    "list row description": (
        lambda: services_list(("a", "Title", "d" * 73)),
        "list row description",
    ),
    "list section title": (
        lambda: wa.list_message("b", "Open", [("s" * 25, [row(1)]), ("Other", [row(2)])]),
        "list section title",
    ),
    "list button": (lambda: services_list(row(1), button="సేవల జాబితా చూపించండి"), "list button"),
    "header": (
        lambda: wa.reply_buttons("b", [("y", "Yes")], header="h" * 61),
        "header text",
    ),
    "footer": (
        lambda: wa.list_message("b", "Open", [(None, [row(1)])], footer="f" * 61),
        "footer text",
    ),
    "reply button title": (
        lambda: wa.reply_buttons("b", [("y", "అవును, నేను నిర్ధారిస్తున్నాను")]),
        "reply button title",
    ),
    "reply button id": (lambda: wa.reply_buttons("b", [("i" * 257, "Yes")]), "reply button id"),
    "cta display text": (
        lambda: wa.cta_url("b", "d" * 21, "https://p.example"),
        "cta display text",
    ),
    "document caption": (lambda: wa.document(media_id="1", caption="c" * 1025), "document caption"),
    "image caption": (lambda: wa.image(media_id="1", caption="c" * 1025), "image caption"),
    "template name": (lambda: wa.template("t" * 513, "te"), "template name"),
    "callback data": (
        lambda: wa.request_body(wa.text("hi"), to=PHONE, callback_data="c" * 513),
        "biz_opaque_callback_data",
    ),
}


@pytest.mark.parametrize(("build", "field"), OVER_LIMIT.values(), ids=OVER_LIMIT.keys())
def test_each_limit_raises_naming_the_field(build: Callable[[], object], field: str) -> None:
    with pytest.raises(LimitExceeded) as raised:
        build()
    assert str(raised.value).startswith(field)
    assert raised.value.limit is not None
    assert raised.value.actual is not None
    assert raised.value.actual > raised.value.limit


AT_LIMIT: dict[str, Callable[[], OutboundMessage]] = {
    "interactive body": lambda: wa.reply_buttons("అ" * 1024, [("y", "Yes")]),
    "row title, id, description": lambda: services_list(("i" * 200, "t" * 24, "d" * 72)),
    "section title, button, header, footer": lambda: wa.list_message(
        "b", "l" * 20, [("s" * 24, [row(1)]), ("x", [row(2)])], header="h" * 60, footer="f" * 60
    ),
    "button title and id": lambda: wa.reply_buttons("b", [("i" * 256, "t" * 20)]),
    "cta display text": lambda: wa.cta_url("b", "d" * 20, "https://p.example"),
    "caption": lambda: wa.image(media_id="1", caption="c" * 1024),
}


@pytest.mark.parametrize("build", AT_LIMIT.values(), ids=AT_LIMIT.keys())
def test_values_exactly_at_the_limit_pass(build: Callable[[], OutboundMessage]) -> None:
    build()


EMPTY: dict[str, Callable[[], object]] = {
    "text body": lambda: wa.text(""),
    "interactive body": lambda: wa.reply_buttons("   ", [("y", "Yes")]),
    "reply button title": lambda: wa.reply_buttons("b", [("y", "")]),
    "reply button id": lambda: wa.reply_buttons("b", [("", "Yes")]),
    "list row title": lambda: services_list(("a", "", None)),
    "list row description": lambda: services_list(("a", "A", "")),
    "list button": lambda: services_list(row(1), button=""),
    "header text": lambda: wa.reply_buttons("b", [("y", "Yes")], header=""),
    "cta display text": lambda: wa.cta_url("b", "", "https://p.example"),
    "template name": lambda: wa.template("", "te"),
    "template language code": lambda: wa.template("hello", ""),
    "template body parameter": lambda: wa.template("hello", "te", [""]),
    "template button payload": lambda: wa.template("hello", "te", (), [""]),
    "document filename": lambda: wa.document(media_id="1", filename=""),
    "message_id": lambda: wa.mark_read_body(""),
}


@pytest.mark.parametrize("build", EMPTY.values(), ids=EMPTY.keys())
def test_empty_text_where_text_is_required_raises(build: Callable[[], object]) -> None:
    with pytest.raises(LimitExceeded, match="is empty"):
        build()


# --- validate: structural rules on any payload ----------------------------------------------


def interactive(kind: str, action: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "interactive",
        "interactive": {"type": kind, "body": {"text": "Pick"}, "action": action, **extra},
    }


def list_payload(*sections: dict[str, Any]) -> dict[str, Any]:
    return interactive("list", {"button": "Open", "sections": list(sections)})


def rows(*ids: str) -> list[dict[str, str]]:
    return [{"id": i, "title": f"Title {i}"} for i in ids]


INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "11 rows": (
        list_payload({"rows": rows(*(str(n) for n in range(11)))}),
        "list rows: 11, limit 10",
    ),
    "11 rows over two sections": (
        list_payload(
            {"title": "A", "rows": rows(*(str(n) for n in range(6)))},
            {"title": "B", "rows": rows(*(str(n) for n in range(6, 11)))},
        ),
        "list rows: 11, limit 10",
    ),
    "11 sections": (
        list_payload(*({"title": f"S{n}", "rows": rows(str(n))} for n in range(11))),
        "list sections: 11, limit 10",
    ),
    "no sections": (list_payload(), "list sections: 0, at least 1"),
    "a section without rows": (list_payload({"rows": []}), "list section has no rows"),
    "untitled section among two": (
        list_payload({"title": "A", "rows": rows("1")}, {"rows": rows("2")}),
        "list section title is missing",
    ),
    "duplicate row ids across sections": (
        list_payload({"title": "A", "rows": rows("1")}, {"title": "B", "rows": rows("1")}),
        "list row id '1' is used twice",
    ),
    "4 buttons": (
        interactive("button", {"buttons": [reply(n) for n in range(4)]}),
        "reply buttons: 4, limit 3",
    ),
    "no buttons": (interactive("button", {"buttons": []}), "reply buttons: 0, at least 1"),
    "duplicate button titles": (
        interactive(
            "button",
            {
                "buttons": [
                    {"type": "reply", "reply": {"id": "a", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "b", "title": "Yes"}},
                ]
            },
        ),
        "reply button title 'Yes' is used twice",
    ),
    "duplicate button ids": (
        interactive(
            "button",
            {
                "buttons": [
                    {"type": "reply", "reply": {"id": "a", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "a", "title": "No"}},
                ]
            },
        ),
        "reply button id 'a' is used twice",
    ),
    "button of another type": (
        interactive("button", {"buttons": [{"type": "url", "reply": {"id": "a", "title": "A"}}]}),
        "reply button type must be 'reply'",
    ),
    "image header on a list": (
        interactive(
            "list",
            {"button": "Open", "sections": [{"rows": rows("1")}]},
            header={"type": "image", "image": {"id": "1"}},
        ),
        "header type 'image' is not allowed on a list message",
    ),
    "javascript url": (
        interactive(
            "cta_url",
            {"name": "cta_url", "parameters": {"display_text": "Go", "url": "javascript:alert(1)"}},
        ),
        "cta url 'javascript:alert(1)' must be an http(s) URL",
    ),
    "ftp url": (
        interactive(
            "cta_url", {"name": "cta_url", "parameters": {"display_text": "Go", "url": "ftp://x"}}
        ),
        "must be an http(s) URL",
    ),
    "unsupported interactive type": (
        interactive("carousel", {}),
        "unsupported interactive type 'carousel'",
    ),
    "missing interactive body": (
        {"type": "interactive", "interactive": {"type": "button", "action": {"buttons": []}}},
        "interactive body must be an object",
    ),
    "document with id and link": (
        {"type": "document", "document": {"id": "1", "link": "https://f.example/a.pdf"}},
        "document needs exactly one of id and link",
    ),
    "document with neither": (
        {"type": "document", "document": {"filename": "a.pdf"}},
        "document needs exactly one of id and link",
    ),
    "image with a non-http link": (
        {"type": "image", "image": {"link": "file:///etc/passwd"}},
        "image link 'file:///etc/passwd' must be an http(s) URL",
    ),
    "audio with a caption": (
        {"type": "audio", "audio": {"id": "1", "caption": "hi"}},
        "audio messages take no caption",
    ),
    "template name with capitals": (
        {"type": "template", "template": {"name": "Hello World", "language": {"code": "te"}}},
        "template name 'Hello World' may hold only",
    ),
    "template without language": (
        {"type": "template", "template": {"name": "hello"}},
        "template language must be an object",
    ),
    "template with a bad language code": (
        {"type": "template", "template": {"name": "hello", "language": {"code": "Telugu"}}},
        "template language code 'Telugu' is not a language code",
    ),
    "text body not a string": (
        {"type": "text", "text": {"body": 42}},
        "text body must be a string",
    ),
    "text without its object": ({"type": "text", "body": "hi"}, "text message has no 'text'"),
    "location out of range": (
        {"type": "location", "location": {"latitude": 91, "longitude": 78.4}},
        "location latitude 91 is outside ±90",
    ),
    "unknown type": ({"type": "carousel", "carousel": {}}, "unsupported message type 'carousel'"),
    "no type": ({"text": {"body": "hi"}}, "unsupported message type None"),
    "other messaging product": (
        {"messaging_product": "sms", "to": PHONE, "type": "text", "text": {"body": "hi"}},
        "messaging_product must be 'whatsapp'",
    ),
    "empty to": (
        {"messaging_product": "whatsapp", "to": "", "type": "text", "text": {"body": "hi"}},
        "to is empty",
    ),
    "context without message id": (
        {"type": "text", "text": {"body": "hi"}, "context": {}},
        "context message_id is missing",
    ),
}


@pytest.mark.parametrize(("payload", "reason"), INVALID.values(), ids=INVALID.keys())
def test_validate_rejects(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(LimitExceeded) as raised:
        wa.validate(payload)
    assert reason in str(raised.value)


def test_validate_rejects_a_payload_that_is_not_an_object() -> None:
    with pytest.raises(LimitExceeded, match="must be a JSON object"):
        wa.validate(["text"])  # type: ignore[arg-type]


def test_builders_refuse_what_validate_refuses() -> None:
    with pytest.raises(LimitExceeded, match="list rows: 11"):
        services_list(*(row(n) for n in range(11)))
    with pytest.raises(LimitExceeded, match="reply buttons: 4"):
        wa.reply_buttons("b", [(f"b{n}", f"B{n}") for n in range(4)])
    with pytest.raises(LimitExceeded, match="reply button title 'Yes' is used twice"):
        wa.reply_buttons("b", [("a", "Yes"), ("b", "Yes")])
    with pytest.raises(LimitExceeded, match="document needs exactly one of id and link"):
        wa.document(media_id="1", link="https://f.example/a.pdf")
    with pytest.raises(LimitExceeded, match="image needs exactly one of id and link"):
        wa.image()
    with pytest.raises(LimitExceeded, match="cta url"):
        wa.cta_url("b", "Go", "www.example.in")


# --- request bodies -------------------------------------------------------------------------


def test_request_body_addresses_a_phone_number() -> None:
    message = wa.text("నమస్కారం")
    assert wa.request_body(message, to=PHONE) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": PHONE,
        "type": "text",
        "text": {"body": "నమస్కారం", "preview_url": False},
    }


def test_request_body_addresses_a_user_id_only_when_no_phone_number_is_known() -> None:
    message = wa.text("hi")
    body = wa.request_body(message, recipient="IN.5566778899001122")
    assert body[wa.RECIPIENT_FIELD] == "IN.5566778899001122"
    assert "to" not in body
    both = wa.request_body(message, to=PHONE, recipient="IN.5566778899001122")
    assert both["to"] == PHONE
    assert wa.RECIPIENT_FIELD not in both


def test_request_body_needs_an_address() -> None:
    with pytest.raises(ValueError, match="needs to="):
        wa.request_body(wa.text("hi"))


def test_request_body_carries_callback_data_and_the_quoted_message() -> None:
    body = wa.request_body(
        wa.text("Got it"), to=PHONE, callback_data="c" * 512, reply_to_wamid=WAMID
    )
    assert body["biz_opaque_callback_data"] == "c" * 512
    assert body["context"] == {"message_id": WAMID}
    wa.validate(body)


def test_request_body_leaves_the_message_untouched() -> None:
    message = wa.reply_buttons("b", [("y", "Yes")])
    before = copy.deepcopy(message.payload)
    wa.request_body(message, to=PHONE, callback_data="outbox:1", reply_to_wamid=WAMID)
    assert message.payload == before


def test_mark_read_body() -> None:
    assert wa.mark_read_body(WAMID) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": WAMID,
        "typing_indicator": {"type": "text"},
    }
    quiet = wa.mark_read_body(WAMID, typing=False)
    assert "typing_indicator" not in quiet
    wa.validate(quiet)
