"""Turning department results into text a citizen reads, in their language.

Generic by shape, never by department: a result with `history` renders as a status timeline,
one with `places` as a list of nearby offices, one with `fields` as labelled lines. The
adapter contract (mitra/departments/contract/openapi.yaml) defines these shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from mitra.conversation.locale import strings
from mitra.whatsapp import limits


def localized(value: Any, lang: str) -> str:
    """A bilingual {"en": …, "te": …} value in `lang`; a named thing ({"name": {…}}) by its
    name; an address ({"village"|"ward", "mandal", "district"}) as a line; else as text."""
    if isinstance(value, dict):
        if "en" in value or "te" in value:
            return str(value.get(lang) or value.get("en") or value.get("te") or "")
        if "name" in value:
            return localized(value["name"], lang)
        parts = [
            localized(value[k], lang)
            for k in ("village", "ward", "mandal", "district")
            if value.get(k)
        ]
        return ", ".join(dict.fromkeys(p for p in parts if p))
    return "" if value is None else str(value)


def _keyed(table: str, value: Any, lang: str) -> str:
    if value is None or value == "":
        return ""  # a missing value stays missing, so its labelled line is left out
    labels: dict[str, str] = strings(lang).get(table) or {}
    return labels.get(str(value), str(value).replace("_", " "))


def money(paise: Any) -> str:
    """Integer paise → ₹1,23,456.50 (Indian digit grouping)."""
    try:
        amount = int(paise)
    except (TypeError, ValueError):
        return str(paise)
    rupees, p = divmod(abs(amount), 100)
    digits = str(rupees)
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        digits = ",".join([*groups, tail])
    sign = "-" if amount < 0 else ""
    return f"{sign}₹{digits}" + (f".{p:02d}" if p else "")


def day(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.strftime("%d-%m-%Y")
    text = str(value or "")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%d-%m-%Y")
    except ValueError:
        return text


def clock(value: Any) -> str:
    """An ISO time → HH:MM (the time of day as the department gave it)."""
    text = str(value or "")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%H:%M")
    except ValueError:
        return text


def status_label(value: Any, lang: str) -> str:
    return _keyed("statuses", value, lang)


def distance(metres: Any) -> str:
    try:
        m = float(metres)
    except (TypeError, ValueError):
        return ""
    return f"{m / 1000:.1f} km" if m >= 1000 else f"{int(m)} m"


FILTERS: dict[str, Callable[[Any, str], str]] = {
    "money": lambda v, lang: money(v),
    "date": lambda v, lang: day(v),
    "status": status_label,
    "name": localized,
    "distance": lambda v, lang: distance(v),
    "note": lambda v, lang: _keyed("notes", v, lang),
    "step": lambda v, lang: _keyed("next_steps", v, lang),
    "time": lambda v, lang: clock(v),
    "word": lambda v, lang: _keyed("words", v, lang),
}


def format_value(value: Any, filter_name: str | None, lang: str) -> str:
    if filter_name is not None:
        f = FILTERS.get(filter_name)
        if f is not None:
            return f(value, lang)
    return localized(value, lang)


def _history(result: dict[str, Any], lang: str) -> list[str]:
    lines = []
    for h in result.get("history") or []:
        office = localized(h.get("office"), lang)
        line = f"• {day(h.get('at'))} — {status_label(h.get('status'), lang)}"
        if office:
            line += f" ({office})"
        if h.get("note"):
            line += f": {_keyed('notes', h['note'], lang)}"
        lines.append(line)
    return lines


def _places(result: dict[str, Any], lang: str) -> list[str]:
    lines = []
    for i, p in enumerate(result.get("places") or [], 1):
        line = f"{i}. {localized(p.get('name'), lang)}"
        if p.get("distance_m") is not None:
            line += f" — {distance(p['distance_m'])}"
        for key in ("address", "timings", "phone"):
            if p.get(key):
                line += f"\n   {localized(p[key], lang)}"
        lines.append(line)
    return lines


def _fields(result: dict[str, Any], lang: str) -> list[str]:
    lines = []
    for f in result.get("fields") or []:
        value = f.get("value")
        kind = f.get("type")
        shown = format_value(
            value, {"money": "money", "date": "date", "status": "status"}.get(kind or ""), lang
        )
        lines.append(f"{localized(f.get('label'), lang)}: {shown}")
    return lines


def _items(result: dict[str, Any], lang: str) -> list[str]:
    lines = []
    for item in result.get("items") or []:
        line = f"• {localized(item.get('title'), lang)}"
        detail = localized(item.get("detail"), lang)
        if detail:
            line += f" — {detail}"
        lines.append(line)
    return lines


RENDERERS: dict[str, Callable[[dict[str, Any], str], list[str]]] = {
    "history": _history,
    "places": _places,
    "fields": _fields,
    "items": _items,
}


def show(render_name: str | None, text: str | None, context: dict[str, Any], lang: str) -> str:
    """The text of a show step: the step's own text (already filled), then the rendered
    result (`render` is "<renderer>" or "<renderer>:<result name>", default result "result")."""
    parts = [text] if text else []
    if render_name:
        kind, _, source = render_name.partition(":")
        result = context.get(source or "result") or {}
        renderer = RENDERERS.get(kind)
        if renderer is not None and isinstance(result, dict):
            parts.append("\n".join(renderer(result, lang)))
    body = "\n\n".join(p for p in parts if p)
    return body[: limits.TEXT_BODY]
