"""What a citizen's phone shows for each message, as plain data: one reading of WhatsApp's
payloads that the web page (`static/simulator.js`) and the terminal (`terminal.py`) both draw.

A view is a dict with `kind` and what that kind needs:

    text              text
    buttons           text, buttons [{id, title}]             (reply buttons)
    list              text, button, sections [{title, rows [{id, title, description}]}]
    link              text, link {label, url}                 (a call-to-action URL button)
    location_request  text                                    ("Send location")
    image | audio | video | sticker | document
                      media {id, url, mime_type, filename, caption, size, verify_url}
                      (verify_url: where a Mitra document's QR code leads, read from
                      the document's own signed facts; what a phone's camera would open)
    location          location {latitude, longitude, name, address}
    reply             text (the title of the row or button the citizen tapped)
    template          text (the approved body, filled in), template (its name)
    unknown           text (what it was)

Every view of an interactive message may also carry `header` and `footer`. Nothing here is
HTML: the page builds its elements from these strings with `textContent`, never `innerHTML`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from mitra.whatsapp.fake_graph import ChatEvent, MediaItem

MEDIA_KINDS = ("image", "audio", "video", "sticker", "document")

MediaLookup = Callable[[str], MediaItem | None]


@functools.cache
def _templates() -> Any:
    from mitra.whatsapp.templates import load_registry

    return load_registry()


def event_json(event: ChatEvent, media_url: Callable[[str], str], media: MediaLookup) -> dict:
    """An event of the fake's transcript as the simulator sends it: messages get a `view`."""
    out: dict[str, Any] = {
        "seq": event.seq,
        "kind": event.kind,
        "wa_id": event.wa_id,
        "at": event.at,
    }
    data = event.data
    if event.kind == "out":
        out.update(wamid=data["wamid"], view=outbound_view(data["body"], media_url, media))
    elif event.kind == "in":
        out.update(
            wamid=data["wamid"],
            name=data["name"],
            view=inbound_view(data["message"], media_url, media),
        )
    elif event.kind in ("status", "typing"):
        out.update({k: v for k, v in data.items() if k in ("wamid", "state")})
    return out


def outbound_view(
    body: Mapping[str, Any], media_url: Callable[[str], str], media: MediaLookup
) -> dict[str, Any]:
    """What the citizen sees for a message Mitra sent (a Graph API /messages payload)."""
    kind = body.get("type")
    if kind == "interactive":
        return _interactive_view(body["interactive"])
    if kind == "template":
        return _template_view(body["template"])
    return _shared_view(body, media_url, media)


def inbound_view(
    message: Mapping[str, Any], media_url: Callable[[str], str], media: MediaLookup
) -> dict[str, Any]:
    """What the citizen sees of what they sent (a webhook message object)."""
    kind = message.get("type")
    if kind == "interactive":
        inner = message["interactive"]
        reply = inner.get(inner.get("type", ""), {})
        return {"kind": "reply", "text": str(reply.get("title") or reply.get("id") or "")}
    if kind == "button":
        return {"kind": "reply", "text": str(message["button"].get("text") or "")}
    return _shared_view(message, media_url, media)


def _shared_view(
    message: Mapping[str, Any], media_url: Callable[[str], str], media: MediaLookup
) -> dict[str, Any]:
    """The kinds both sides write alike: text, media and a location; anything else unknown."""
    kind = message.get("type")
    if kind == "text":
        return {"kind": "text", "text": str(message["text"]["body"])}
    if kind in MEDIA_KINDS:
        return {"kind": kind, "media": _media_view(message[kind], media_url, media)}
    if kind == "location":
        return {"kind": "location", "location": _location(message["location"])}
    return {"kind": "unknown", "text": f"({kind} message)"}


def _interactive_view(inter: Mapping[str, Any]) -> dict[str, Any]:
    itype = inter.get("type")
    action = inter.get("action") or {}
    view: dict[str, Any] = {"text": str((inter.get("body") or {}).get("text") or "")}
    header = inter.get("header")
    if isinstance(header, Mapping) and header.get("type") == "text":
        view["header"] = str(header.get("text") or "")
    footer = inter.get("footer")
    if isinstance(footer, Mapping):
        view["footer"] = str(footer.get("text") or "")
    if itype == "button":
        view.update(
            kind="buttons",
            buttons=[
                {"id": b["reply"]["id"], "title": b["reply"]["title"]} for b in action["buttons"]
            ],
        )
    elif itype == "list":
        view.update(
            kind="list",
            button=str(action.get("button") or ""),
            sections=[
                {
                    "title": str(section.get("title") or ""),
                    "rows": [
                        {
                            "id": row["id"],
                            "title": row["title"],
                            "description": str(row.get("description") or ""),
                        }
                        for row in section["rows"]
                    ],
                }
                for section in action["sections"]
            ],
        )
    elif itype == "cta_url":
        parameters = action.get("parameters") or {}
        view.update(
            kind="link",
            link={"label": str(parameters["display_text"]), "url": str(parameters["url"])},
        )
    elif itype == "location_request_message":
        view["kind"] = "location_request"
    else:
        view["kind"] = "unknown"
    return view


def _media_view(
    obj: Mapping[str, Any], media_url: Callable[[str], str], media: MediaLookup
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "caption": str(obj.get("caption") or ""),
        "filename": str(obj.get("filename") or ""),
    }
    media_id = obj.get("id")
    if isinstance(media_id, str):
        view["id"] = media_id
        item = media(media_id)
        if item is not None:
            view.update(url=media_url(media_id), mime_type=item.mime_type, size=len(item.data))
            view["filename"] = view["filename"] or item.filename or ""
            if item.mime_type == "application/pdf":
                view["verify_url"] = _qr_target(item.sha256, item.data)
        else:
            view.update(url=None, mime_type=str(obj.get("mime_type") or ""), size=None)
    else:
        view.update(url=str(obj.get("link") or "") or None, mime_type="", size=None)
    return view


@functools.lru_cache(maxsize=256)
def _qr_target(sha256: str, data: bytes) -> str | None:
    """The verification page a Mitra document's QR code encodes (its signed facts carry the
    same URL), or None for any other PDF. Cached by content: a chat replays often."""
    from mitra.documents.container import SealError, find_seal, has_seal

    if not has_seal(data):
        return None
    try:
        facts = json.loads(find_seal(data).facts_json)
    except (SealError, ValueError):
        return None
    url = facts.get("verify_url") if isinstance(facts, dict) else None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def _location(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "latitude": float(obj["latitude"]),
        "longitude": float(obj["longitude"]),
        "name": str(obj.get("name") or ""),
        "address": str(obj.get("address") or ""),
    }


def _template_view(template: Mapping[str, Any]) -> dict[str, Any]:
    """The approved body with its parameters in place, as the phone shows a template."""
    name = str(template.get("name") or "")
    language = str((template.get("language") or {}).get("code") or "")
    values = [
        str(parameter.get("text") or "")
        for component in template.get("components") or []
        if component.get("type") == "body"
        for parameter in component.get("parameters") or []
    ]
    registered = _templates().get(name)
    if registered is None or language not in registered.bodies:
        return {"kind": "template", "template": name, "text": " · ".join(values) or name}
    text = registered.bodies[language]
    for number, value in enumerate(values, start=1):
        text = text.replace("{{" + str(number) + "}}", value)
    return {"kind": "template", "template": name, "text": text}
