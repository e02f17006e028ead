"""Outbound messages: builders that refuse anything WhatsApp would refuse.

Every builder returns an `OutboundMessage` whose payload is the type-specific part of a Graph
`POST /{phone_number_id}/messages` body, already checked by `validate`. Nothing is ever
shortened to fit: an over-limit string raises `LimitExceeded`, so the catalogue author (or the
code) that produced it gets fixed, and a citizen never reads a title cut in the middle of a
Telugu syllable.

`validate` checks any request body of the shapes built here (with or without the
`messaging_product`/`to` envelope); the fake Graph API uses it to reject what Meta would reject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from mitra.whatsapp import limits

# (?) BSUID addressing; keep configurable. Meta's field for sending to a business-scoped user
# id (when no phone number is known) is not confirmed on its own pages.
RECIPIENT_FIELD: Final = "recipient"

_TEMPLATE_NAME = re.compile(r"[a-z0-9_]+")
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")
_SHOWN_CHARS = 48  # how much of an offending value an error message quotes


class LimitExceeded(ValueError):
    """An outbound message WhatsApp would reject; the message names the field and the limit."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        limit: int | None = None,
        actual: int | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.limit = limit
        self.actual = actual


@dataclass(frozen=True)
class OutboundMessage:
    """`kind` is WhatsApp's `type`; `payload` the request body without the addressing keys."""

    kind: str
    payload: dict[str, Any]


# --- builders -------------------------------------------------------------------------------


def text(body: str, preview_url: bool = False) -> OutboundMessage:
    return _built("text", {"body": body, "preview_url": preview_url})


def reply_buttons(
    body: str,
    buttons: Sequence[tuple[str, str]],
    header: str | None = None,
    footer: str | None = None,
) -> OutboundMessage:
    """Up to three tappable buttons; `buttons` are (id, title) pairs."""
    action = {
        "buttons": [
            {"type": "reply", "reply": {"id": button_id, "title": title}}
            for button_id, title in buttons
        ]
    }
    return _interactive("button", body, action, header, footer)


def list_message(
    body: str,
    button: str,
    sections: Sequence[tuple[str | None, Sequence[tuple[str, str, str | None]]]],
    header: str | None = None,
    footer: str | None = None,
) -> OutboundMessage:
    """A menu behind `button`; `sections` are (title, rows), rows are (id, title, description)."""
    built_sections: list[dict[str, Any]] = []
    for section_title, rows in sections:
        section: dict[str, Any] = {}
        if section_title is not None:
            section["title"] = section_title
        built_rows: list[dict[str, str]] = []
        for row_id, row_title, description in rows:
            row = {"id": row_id, "title": row_title}
            if description is not None:
                row["description"] = description
            built_rows.append(row)
        section["rows"] = built_rows
        built_sections.append(section)
    action = {"button": button, "sections": built_sections}
    return _interactive("list", body, action, header, footer)


def cta_url(
    body: str,
    display_text: str,
    url: str,
    header: str | None = None,
    footer: str | None = None,
) -> OutboundMessage:
    """A link button. Tapping it sends no webhook."""
    action = {"name": "cta_url", "parameters": {"display_text": display_text, "url": url}}
    return _interactive("cta_url", body, action, header, footer)


def location_request(body: str) -> OutboundMessage:
    return _interactive("location_request_message", body, {"name": "send_location"}, None, None)


def document(
    *,
    link: str | None = None,
    media_id: str | None = None,
    filename: str | None = None,
    caption: str | None = None,
) -> OutboundMessage:
    obj = _media_ref(link, media_id)
    if filename is not None:
        obj["filename"] = filename
    if caption is not None:
        obj["caption"] = caption
    return _built("document", obj)


def image(
    *, link: str | None = None, media_id: str | None = None, caption: str | None = None
) -> OutboundMessage:
    obj = _media_ref(link, media_id)
    if caption is not None:
        obj["caption"] = caption
    return _built("image", obj)


def location(
    latitude: float, longitude: float, name: str | None = None, address: str | None = None
) -> OutboundMessage:
    obj: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name is not None:
        obj["name"] = name
    if address is not None:
        obj["address"] = address
    return _built("location", obj)


def template(
    name: str,
    language_code: str,
    body_params: Sequence[str] = (),
    button_payloads: Sequence[str] = (),
) -> OutboundMessage:
    """An approved template: the only thing that may be sent outside the 24 h window.

    `button_payloads[i]` is the payload of quick-reply button i (echoed in `button.payload`).
    """
    components: list[dict[str, Any]] = []
    if body_params:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]}
        )
    for index, payload in enumerate(button_payloads):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
    obj: dict[str, Any] = {"name": name, "language": {"code": language_code}}
    if components:
        obj["components"] = components
    return _built("template", obj)


def request_body(
    message: OutboundMessage,
    *,
    to: str | None = None,
    recipient: str | None = None,
    callback_data: str | None = None,
    reply_to_wamid: str | None = None,
) -> dict[str, Any]:
    """The full Graph request body for `message`.

    Address by phone number (`to`) when one is known; `recipient` (a business-scoped user id)
    is used only when it is not. `callback_data` comes back on every status of the message;
    `reply_to_wamid` quotes the citizen's message.
    """
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if to is not None:
        body["to"] = to
    elif recipient is not None:
        # (?) BSUID addressing; keep configurable (RECIPIENT_FIELD).
        body[RECIPIENT_FIELD] = recipient
    else:
        raise ValueError("request_body needs to= (a phone number) or recipient= (a user id)")
    body.update(message.payload)
    if callback_data is not None:
        body["biz_opaque_callback_data"] = callback_data
    if reply_to_wamid is not None:
        body["context"] = {"message_id": reply_to_wamid}
    validate(body)
    return body


def mark_read_body(wamid: str, typing: bool = True) -> dict[str, Any]:
    """Mark the citizen's message read (blue ticks) and, optionally, show "typing…"."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
    if typing:
        body["typing_indicator"] = {"type": "text"}
    validate(body)
    return body


def _built(kind: str, obj: dict[str, Any]) -> OutboundMessage:
    payload = {"type": kind, kind: obj}
    validate(payload)
    return OutboundMessage(kind, payload)


def _interactive(
    interactive_type: str,
    body: str,
    action: dict[str, Any],
    header: str | None,
    footer: str | None,
) -> OutboundMessage:
    obj: dict[str, Any] = {"type": interactive_type}
    if header is not None:
        obj["header"] = {"type": "text", "text": header}
    obj["body"] = {"text": body}
    if footer is not None:
        obj["footer"] = {"text": footer}
    obj["action"] = action
    return _built("interactive", obj)


def _media_ref(link: str | None, media_id: str | None) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    if media_id is not None:
        obj["id"] = media_id
    if link is not None:
        obj["link"] = link
    return obj


# --- validation -----------------------------------------------------------------------------


def validate(payload: Mapping[str, Any]) -> None:
    """Raise `LimitExceeded` unless WhatsApp would accept `payload`.

    `payload` is a request body of one of the shapes built above, with or without the
    `messaging_product`/`recipient_type`/`to` envelope; a mark-read body is accepted too.
    """
    if not isinstance(payload, Mapping):
        raise LimitExceeded("outbound payload must be a JSON object")
    _check_envelope(payload)
    kind = payload.get("type")
    if kind is None and payload.get("status") == "read":
        _check_mark_read(payload)
        return
    if not isinstance(kind, str) or kind not in _CHECKS:
        raise LimitExceeded(f"unsupported message type {kind!r}", field="type")
    obj = payload.get(kind)
    if not isinstance(obj, Mapping):
        raise LimitExceeded(f"{kind} message has no {kind!r} object", field=kind)
    _CHECKS[kind](obj)


def _check_envelope(payload: Mapping[str, Any]) -> None:
    if "messaging_product" in payload and payload["messaging_product"] != "whatsapp":
        raise LimitExceeded("messaging_product must be 'whatsapp'", field="messaging_product")
    if "recipient_type" in payload and payload["recipient_type"] != "individual":
        raise LimitExceeded("recipient_type must be 'individual'", field="recipient_type")
    for key in ("to", RECIPIENT_FIELD):
        if key in payload:
            _text(key, payload[key])
    if "biz_opaque_callback_data" in payload:
        _text("biz_opaque_callback_data", payload["biz_opaque_callback_data"], limits.CALLBACK_DATA)
    if "context" in payload:
        context = _object("context", payload["context"])
        _text("context message_id", context.get("message_id"))


def _check_mark_read(payload: Mapping[str, Any]) -> None:
    _text("message_id", payload.get("message_id"))
    if "typing_indicator" in payload:
        indicator = _object("typing_indicator", payload["typing_indicator"])
        if indicator.get("type") != "text":
            raise LimitExceeded("typing_indicator type must be 'text'", field="typing_indicator")


def _check_text(obj: Mapping[str, Any]) -> None:
    _text("text body", obj.get("body"), limits.TEXT_BODY)
    if not isinstance(obj.get("preview_url", False), bool):
        raise LimitExceeded("text preview_url must be true or false", field="preview_url")


def _check_interactive(obj: Mapping[str, Any]) -> None:
    interactive_type = obj.get("type")
    if not isinstance(interactive_type, str) or interactive_type not in _INTERACTIVE_CHECKS:
        raise LimitExceeded(
            f"unsupported interactive type {interactive_type!r}", field="interactive type"
        )
    body = _object("interactive body", obj.get("body"))
    _text("interactive body", body.get("text"), limits.INTERACTIVE_BODY)
    if "header" in obj:
        _check_header(obj["header"], interactive_type)
    if "footer" in obj:
        footer = _object("footer", obj["footer"])
        _text("footer text", footer.get("text"), limits.FOOTER_TEXT)
    check = _INTERACTIVE_CHECKS[interactive_type]
    check(_object(f"{interactive_type} action", obj.get("action")))


def _check_header(value: Any, interactive_type: str) -> None:
    header = _object("header", value)
    header_type = header.get("type")
    if header_type == "text":
        _text("header text", header.get("text"), limits.HEADER_TEXT)
    elif header_type in ("image", "video", "document") and interactive_type in (
        "button",
        "cta_url",
    ):
        _check_media(f"header {header_type}", _object("header", header.get(header_type)))
    else:
        raise LimitExceeded(
            f"header type {header_type!r} is not allowed on a {interactive_type} message",
            field="header",
        )


def _check_reply_buttons(action: Mapping[str, Any]) -> None:
    buttons = _list("reply buttons", action.get("buttons"))
    _count("reply buttons", len(buttons), limits.REPLY_BUTTONS_MIN, limits.REPLY_BUTTONS_MAX)
    titles: set[str] = set()
    ids: set[str] = set()
    for value in buttons:
        button = _object("reply button", value)
        if button.get("type") != "reply":
            raise LimitExceeded("reply button type must be 'reply'", field="reply button")
        reply = _object("reply button", button.get("reply"))
        button_id = _text("reply button id", reply.get("id"), limits.BUTTON_ID)
        title = _text("reply button title", reply.get("title"), limits.BUTTON_TITLE)
        _unique("reply button id", button_id, ids)
        _unique("reply button title", title, titles)


def _check_list(action: Mapping[str, Any]) -> None:
    _text("list button", action.get("button"), limits.LIST_BUTTON)
    sections = _list("list sections", action.get("sections"))
    _count("list sections", len(sections), 1, limits.LIST_SECTIONS_MAX)
    row_ids: set[str] = set()
    total_rows = 0
    for value in sections:
        section = _object("list section", value)
        if "title" in section or len(sections) > 1:
            _text("list section title", section.get("title"), limits.SECTION_TITLE)
        rows = _list("list section rows", section.get("rows"))
        if not rows:
            raise LimitExceeded("list section has no rows", field="list section rows", actual=0)
        total_rows += len(rows)
        for row_value in rows:
            row = _object("list row", row_value)
            row_id = _text("list row id", row.get("id"), limits.ROW_ID)
            _text("list row title", row.get("title"), limits.ROW_TITLE)
            if "description" in row:
                _text("list row description", row["description"], limits.ROW_DESCRIPTION)
            _unique("list row id", row_id, row_ids)
    _count("list rows", total_rows, limits.LIST_ROWS_MIN, limits.LIST_ROWS_MAX)


def _check_cta_url(action: Mapping[str, Any]) -> None:
    if action.get("name") != "cta_url":
        raise LimitExceeded("cta_url action name must be 'cta_url'", field="cta action")
    parameters = _object("cta parameters", action.get("parameters"))
    _text("cta display text", parameters.get("display_text"), limits.CTA_DISPLAY_TEXT)
    _url("cta url", parameters.get("url"))


def _check_location_request(action: Mapping[str, Any]) -> None:
    if action.get("name") != "send_location":
        raise LimitExceeded(
            "location request action name must be 'send_location'", field="location action"
        )


def _check_media(field: str, obj: Mapping[str, Any]) -> None:
    has_id = "id" in obj
    if has_id == ("link" in obj):
        raise LimitExceeded(f"{field} needs exactly one of id and link", field=field)
    if has_id:
        _text(f"{field} id", obj["id"])
    else:
        _url(f"{field} link", obj["link"])


def _check_captioned(kind: str) -> Callable[[Mapping[str, Any]], None]:
    def check(obj: Mapping[str, Any]) -> None:
        _check_media(kind, obj)
        if "caption" in obj:
            _text(f"{kind} caption", obj["caption"], limits.CAPTION)
        if kind == "document" and "filename" in obj:
            _text("document filename", obj["filename"])

    return check


def _check_audio(obj: Mapping[str, Any]) -> None:
    _check_media("audio", obj)
    if "caption" in obj:
        raise LimitExceeded("audio messages take no caption", field="audio caption")


def _check_location(obj: Mapping[str, Any]) -> None:
    for field, bound in (("latitude", 90), ("longitude", 180)):
        value = obj.get(field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LimitExceeded(f"location {field} must be a number", field=f"location {field}")
        if not -bound <= value <= bound:
            raise LimitExceeded(
                f"location {field} {value} is outside ±{bound}", field=f"location {field}"
            )
    for field in ("name", "address"):
        if field in obj:
            _text(f"location {field}", obj[field])


def _check_template(obj: Mapping[str, Any]) -> None:
    name = _text("template name", obj.get("name"), limits.TEMPLATE_NAME)
    if not _TEMPLATE_NAME.fullmatch(name):
        raise LimitExceeded(
            f"template name {name!r} may hold only a-z, 0-9 and _", field="template name"
        )
    language = _object("template language", obj.get("language"))
    code = _text("template language code", language.get("code"))
    if not _LANGUAGE_CODE.fullmatch(code):
        raise LimitExceeded(
            f"template language code {code!r} is not a language code such as 'te' or 'en_US'",
            field="template language code",
        )
    for value in _list("template components", obj.get("components", [])):
        component = _object("template component", value)
        component_type = component.get("type")
        for parameter_value in _list("template parameters", component.get("parameters", [])):
            parameter = _object("template parameter", parameter_value)
            if component_type == "body" and parameter.get("type") == "text":
                _text("template body parameter", parameter.get("text"))
            elif component_type == "button" and parameter.get("type") == "payload":
                _text("template button payload", parameter.get("payload"))


_CHECKS: Final[dict[str, Callable[[Mapping[str, Any]], None]]] = {
    "text": _check_text,
    "interactive": _check_interactive,
    "template": _check_template,
    "document": _check_captioned("document"),
    "image": _check_captioned("image"),
    "video": _check_captioned("video"),
    "audio": _check_audio,
    "location": _check_location,
}

_INTERACTIVE_CHECKS: Final[dict[str, Callable[[Mapping[str, Any]], None]]] = {
    "button": _check_reply_buttons,
    "list": _check_list,
    "cta_url": _check_cta_url,
    "location_request_message": _check_location_request,
}


# --- small checks ---------------------------------------------------------------------------


def _text(field: str, value: Any, limit: int | None = None) -> str:
    """`value` must be a non-blank string of at most `limit` code points; returns it."""
    if not isinstance(value, str):
        problem = "is missing" if value is None else f"must be a string, not {type(value).__name__}"
        raise LimitExceeded(f"{field} {problem}", field=field, limit=limit)
    if not value.strip():
        raise LimitExceeded(f"{field} is empty", field=field, limit=limit, actual=len(value))
    if limit is not None and len(value) > limit:
        shown = value if len(value) <= _SHOWN_CHARS else value[: _SHOWN_CHARS - 1] + "…"
        raise LimitExceeded(
            f"{field} '{shown}' is {len(value)} chars, limit {limit}",
            field=field,
            limit=limit,
            actual=len(value),
        )
    return value


def _url(field: str, value: Any) -> str:
    url = _text(field, value)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LimitExceeded(f"{field} {url!r} must be an http(s) URL", field=field)
    return url


def _object(field: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise LimitExceeded(f"{field} must be an object", field=field)
    return value


def _list(field: str, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise LimitExceeded(f"{field} must be a list", field=field)
    return list(value)


def _count(field: str, count: int, low: int, high: int) -> None:
    if count < low:
        raise LimitExceeded(f"{field}: {count}, at least {low} needed", field=field, actual=count)
    if count > high:
        raise LimitExceeded(
            f"{field}: {count}, limit {high}", field=field, limit=high, actual=count
        )


def _unique(field: str, value: str, seen: set[str]) -> None:
    if value in seen:
        raise LimitExceeded(f"{field} '{value}' is used twice", field=field)
    seen.add(value)
