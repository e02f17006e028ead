"""Meta's webhook envelopes → Mitra's events (`mitra.whatsapp.events`).

Runs for thousands of updates a second, so it is plain dict access and no validation library.
A structural fault (wrong types, a message without `id`, a timestamp that is not a number)
raises `MalformedWebhook`; a message type we do not know never does: it becomes `Unsupported`.
Changes of other fields than `messages` (template status, account updates, …) yield nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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
)

Json = dict[str, Any]


class MalformedWebhook(ValueError):
    """The body is not a WhatsApp webhook envelope we can read; the message says why."""


def parse_envelope(body: Any) -> list[Update]:
    """Every message and status in `body` (one POST, up to 1,000 updates), in order."""
    if not isinstance(body, dict):
        raise MalformedWebhook(f"envelope is a {type(body).__name__}, not an object")
    if body.get("object") != "whatsapp_business_account":
        raise MalformedWebhook(f"object is {body.get('object')!r}, not 'whatsapp_business_account'")
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise MalformedWebhook("entry is not a list")
    updates: list[Update] = []
    for e, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise MalformedWebhook(f"entry[{e}] is not an object")
        changes = entry.get("changes")
        if not isinstance(changes, list):
            raise MalformedWebhook(f"entry[{e}].changes is not a list")
        for c, change in enumerate(changes):
            where = f"entry[{e}].changes[{c}]"
            if not isinstance(change, dict):
                raise MalformedWebhook(f"{where} is not an object")
            field = change.get("field")
            if not isinstance(field, str):
                raise MalformedWebhook(f"{where} has no field")
            if "value" not in change:
                raise MalformedWebhook(f"{where} has no value")
            if field != "messages":
                continue
            value = change["value"]
            if not isinstance(value, dict):
                raise MalformedWebhook(f"{where}.value is not an object")
            _parse_value(value, f"{where}.value", updates)
    return updates


def _parse_value(value: Json, where: str, updates: list[Update]) -> None:
    contacts = _objects(value, "contacts", where)
    messages = _objects(value, "messages", where)
    statuses = _objects(value, "statuses", where)
    if messages:
        by_wa_id: dict[str, Json] = {}
        by_user_id: dict[str, Json] = {}
        for i, contact in enumerate(contacts):
            wa_id = _optional_str(contact, "wa_id", f"{where}.contacts[{i}]")
            user_id = _optional_str(contact, "user_id", f"{where}.contacts[{i}]")
            if wa_id:
                by_wa_id[wa_id] = contact
            if user_id:
                by_user_id[user_id] = contact
        # Some payloads (an interactive Meta could not render) carry the errors on the value.
        value_errors = _errors(value, where)
        for i, message in enumerate(messages):
            updates.append(
                _message(
                    message, f"{where}.messages[{i}]", contacts, by_wa_id, by_user_id, value_errors
                )
            )
    for i, status in enumerate(statuses):
        updates.append(_status(status, f"{where}.statuses[{i}]"))


def _message(
    m: Json,
    where: str,
    contacts: list[Json],
    by_wa_id: dict[str, Json],
    by_user_id: dict[str, Json],
    value_errors: list[Json],
) -> InboundMessage:
    wamid = _required_str(m, "id", where)
    sent_at = _timestamp(m.get("timestamp"), where)
    kind = _required_str(m, "type", where)
    context = m.get("context")
    context_wamid = None
    if context is not None:
        if not isinstance(context, dict):
            raise MalformedWebhook(f"{where}.context is not an object")
        context_wamid = _optional_str(context, "id", f"{where}.context")
    parser = _BODY_PARSERS.get(kind)
    body = parser(m, where) if parser is not None else None
    if body is None:
        body = Unsupported(kind, _errors(m, where) or value_errors)
    return InboundMessage(
        wamid=wamid,
        sender=_sender(m, where, kind, contacts, by_wa_id, by_user_id),
        sent_at=sent_at,
        kind=kind,
        body=body,
        context_wamid=context_wamid,
    )


def _sender(
    m: Json,
    where: str,
    kind: str,
    contacts: list[Json],
    by_wa_id: dict[str, Json],
    by_user_id: dict[str, Json],
) -> Sender:
    wa_id = _optional_str(m, "from", where)
    user_id = _optional_str(m, "from_user_id", where)
    contact = None
    if user_id:
        contact = by_user_id.get(user_id)
    if contact is None and wa_id:
        contact = by_wa_id.get(wa_id)
    if not wa_id and not user_id:
        if len(contacts) == 1:
            # A username-only citizen's message may carry no id; the one contact is its sender.
            contact = contacts[0]
        elif kind == "system" and isinstance(m.get("system"), dict):
            # `user_changed_user_id` names nobody else; file it under the id we knew.
            system = m["system"]
            user_id = _optional_str(system, "previous_user_id", where) or _optional_str(
                system, "user_id", where
            )
    profile_name = None
    if contact is not None:
        user_id = user_id or contact.get("user_id")
        wa_id = wa_id or contact.get("wa_id")
        profile = contact.get("profile")
        if isinstance(profile, dict):
            profile_name = _optional_str(profile, "name", f"{where} contact profile") or None
    if not user_id and not wa_id:
        raise MalformedWebhook(f"{where}: message has no sender and no matching contact")
    return Sender(user_id=user_id or None, wa_id=wa_id or None, profile_name=profile_name)


def _status(s: Json, where: str) -> StatusUpdate:
    recipient_id = _optional_str(s, "recipient_id", where)
    if recipient_id is None:
        recipient_id = _optional_str(s, "recipient_user_id", where)
    return StatusUpdate(
        wamid=_required_str(s, "id", where),
        status=_required_str(s, "status", where),
        at=_timestamp(s.get("timestamp"), where),
        recipient_id=recipient_id,
        callback_data=_optional_str(s, "biz_opaque_callback_data", where),
        errors=_errors(s, where),
    )


# --- message bodies: each returns None when the message lacks its type's object -------------


def _text(m: Json, where: str) -> Body | None:
    obj = _type_object(m, "text", where)
    return None if obj is None else Text(_required_str(obj, "body", f"{where}.text"))


def _interactive(m: Json, where: str) -> Body | None:
    obj = _type_object(m, "interactive", where)
    if obj is None:
        return None
    where = f"{where}.interactive"
    reply_type = obj.get("type")
    if reply_type in ("list_reply", "button_reply"):
        reply = _type_object(obj, reply_type, where)
        if reply is None:
            return None
        where = f"{where}.{reply_type}"
        return Choice(
            id=_required_str(reply, "id", where),
            title=_required_str(reply, "title", where),
            description=_optional_str(reply, "description", where),
            source="list" if reply_type == "list_reply" else "button",
        )
    if reply_type == "nfm_reply":
        reply = _type_object(obj, "nfm_reply", where)
        if reply is None:
            return None
        where = f"{where}.nfm_reply"
        try:
            response = json.loads(_required_str(reply, "response_json", where))
        except json.JSONDecodeError as exc:
            raise MalformedWebhook(f"{where}.response_json is not JSON: {exc}") from None
        if not isinstance(response, dict):
            raise MalformedWebhook(f"{where}.response_json is not a JSON object")
        return FlowReply(
            name=_optional_str(reply, "name", where),
            body=_optional_str(reply, "body", where),
            response=response,
        )
    return None


def _button(m: Json, where: str) -> Body | None:
    obj = _type_object(m, "button", where)
    if obj is None:
        return None
    payload = _required_str(obj, "payload", f"{where}.button")
    title = _optional_str(obj, "text", f"{where}.button")
    return Choice(id=payload, title=title or payload, description=None, source="template_button")


def _location(m: Json, where: str) -> Body | None:
    obj = _type_object(m, "location", where)
    if obj is None:
        return None
    where = f"{where}.location"
    return Location(
        latitude=_number(obj, "latitude", where),
        longitude=_number(obj, "longitude", where),
        name=_optional_str(obj, "name", where),
        address=_optional_str(obj, "address", where),
    )


def _media(m: Json, where: str) -> Body | None:
    kind: str = m["type"]
    obj = _type_object(m, kind, where)
    if obj is None:
        return None
    where = f"{where}.{kind}"
    voice = obj.get("voice", False)
    if not isinstance(voice, bool):
        raise MalformedWebhook(f"{where}.voice is not true or false")
    return Media(
        media_id=_required_str(obj, "id", where),
        mime_type=_optional_str(obj, "mime_type", where) or "application/octet-stream",
        sha256=_optional_str(obj, "sha256", where),
        caption=_optional_str(obj, "caption", where),
        filename=_optional_str(obj, "filename", where),
        voice=voice,
        media_kind=kind,
    )


def _reaction(m: Json, where: str) -> Body | None:
    obj = _type_object(m, "reaction", where)
    if obj is None:
        return None
    return Reaction(
        # An empty or absent emoji means the citizen removed the reaction.
        emoji=_optional_str(obj, "emoji", f"{where}.reaction") or None,
        to_wamid=_optional_str(obj, "message_id", f"{where}.reaction"),
    )


def _contacts(m: Json, where: str) -> Body | None:
    shared = m.get("contacts")
    if shared is None:
        return None
    if not isinstance(shared, list):
        raise MalformedWebhook(f"{where}.contacts is not a list")
    return SharedContacts(count=len(shared))


def _order(m: Json, where: str) -> Body | None:
    obj = _type_object(m, "order", where)
    if obj is None:
        return None
    items = obj.get("product_items", [])
    if not isinstance(items, list):
        raise MalformedWebhook(f"{where}.order.product_items is not a list")
    return Order(
        catalog_id=_optional_str(obj, "catalog_id", f"{where}.order"), item_count=len(items)
    )


_MEDIA_KINDS = ("image", "document", "audio", "video", "sticker")
_BODY_PARSERS: dict[str, Callable[[Json, str], Body | None]] = {
    "text": _text,
    "interactive": _interactive,
    "button": _button,
    "location": _location,
    "reaction": _reaction,
    "contacts": _contacts,
    "order": _order,
    **dict.fromkeys(_MEDIA_KINDS, _media),
}


# --- plain dict access with a reason when it fails ------------------------------------------


def _objects(value: Json, key: str, where: str) -> list[Json]:
    items = value.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise MalformedWebhook(f"{where}.{key} is not a list")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedWebhook(f"{where}.{key}[{i}] is not an object")
    return items


def _type_object(obj: Json, key: str, where: str) -> Json | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise MalformedWebhook(f"{where}.{key} is not an object")


def _required_str(obj: Json, key: str, where: str) -> str:
    value = obj.get(key)
    if isinstance(value, str) and value:
        return value
    problem = "missing" if value is None or value == "" else "not a string"
    raise MalformedWebhook(f"{where}: {key} is {problem}")


def _optional_str(obj: Json, key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise MalformedWebhook(f"{where}: {key} is not a string")


def _number(obj: Json, key: str, where: str) -> float:
    value = obj.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise MalformedWebhook(f"{where}: {key} is not a number")


def _errors(obj: Json, where: str) -> list[Json]:
    errors = obj.get("errors")
    if errors is None:
        return []
    if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
        raise MalformedWebhook(f"{where}: errors is not a list of objects")
    return errors


def _timestamp(value: Any, where: str) -> datetime:
    """Meta's unix seconds (a string of digits) as an aware UTC datetime."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        seconds = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        seconds = value
    else:
        raise MalformedWebhook(f"{where}: timestamp {value!r} is not unix seconds")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedWebhook(f"{where}: timestamp {value!r} is out of range") from None
