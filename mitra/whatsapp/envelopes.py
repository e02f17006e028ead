"""Builders for inbound webhook envelopes of real shape (as Meta sends them).

Used by the fake Graph API (to simulate citizens and to report statuses), by the tests and by
the benchmark. The shapes follow shared/WHATSAPP.md and pywa's recorded fixtures.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

DEFAULT_WABA_ID = "102290129340398"
DEFAULT_DISPLAY_NUMBER = "15550783881"


def new_wamid() -> str:
    return "wamid." + uuid.uuid4().hex.upper()


def envelope(values: list[dict[str, Any]], *, waba_id: str = DEFAULT_WABA_ID) -> dict[str, Any]:
    """One POST body: one entry, one `messages` change per value."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": v} for v in values]}],
    }


def _metadata(phone_number_id: str, display_phone_number: str) -> dict[str, str]:
    return {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}


def contact(
    wa_id: str | None, name: str | None = None, user_id: str | None = None
) -> dict[str, Any]:
    c: dict[str, Any] = {"profile": {"name": name or ""}}
    if wa_id is not None:
        c["wa_id"] = wa_id
    if user_id is not None:
        c["user_id"] = user_id
    return c


def message(
    kind: str,
    body: dict[str, Any],
    *,
    wa_id: str | None,
    wamid: str | None = None,
    timestamp: int | None = None,
    context_wamid: str | None = None,
) -> dict[str, Any]:
    """One element of `messages[]`: `kind` is the WhatsApp type, `body` its object."""
    m: dict[str, Any] = {
        "id": wamid or new_wamid(),
        "timestamp": str(int(timestamp if timestamp is not None else time.time())),
        "type": kind,
    }
    if wa_id is not None:
        m["from"] = wa_id
    if context_wamid:
        m["context"] = {"from": DEFAULT_DISPLAY_NUMBER, "id": context_wamid}
    m[kind] = body
    return m


def messages_value(
    contacts: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    *,
    phone_number_id: str,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": _metadata(phone_number_id, display_phone_number),
        "contacts": contacts,
        "messages": messages,
    }


def text_envelope(
    wa_id: str,
    text: str,
    *,
    phone_number_id: str,
    name: str = "Citizen",
    wamid: str | None = None,
    timestamp: int | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """The commonest update: one citizen sends one text."""
    return envelope(
        [
            messages_value(
                [contact(wa_id, name, user_id)],
                [message("text", {"body": text}, wa_id=wa_id, wamid=wamid, timestamp=timestamp)],
                phone_number_id=phone_number_id,
            )
        ]
    )


def interactive_reply_body(reply_id: str, title: str, *, list_reply: bool) -> dict[str, Any]:
    if list_reply:
        return {"type": "list_reply", "list_reply": {"id": reply_id, "title": title}}
    return {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}


def status(
    wamid: str,
    state: str,
    *,
    recipient_id: str,
    timestamp: int | None = None,
    callback_data: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(int(timestamp if timestamp is not None else time.time())),
        "recipient_id": recipient_id,
    }
    if callback_data is not None:
        s["biz_opaque_callback_data"] = callback_data
    if state == "sent":
        s["conversation"] = {"id": uuid.uuid4().hex, "origin": {"type": "service"}}
        s["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
    if errors:
        s["errors"] = errors
    return s


def statuses_value(
    statuses: list[dict[str, Any]],
    *,
    phone_number_id: str,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": _metadata(phone_number_id, display_phone_number),
        "statuses": statuses,
    }
