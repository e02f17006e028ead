"""Finding a place by the name a citizen types ("Tenali ward 3", "తిమ్మాపురం", "near the bus
stand, Vemulapalli") in the state's administrative data: every district's mandals with their
villages and wards, read once through the adapter contract (`/v1/admin/…`) and kept for a day.

A village name is often shared by several districts, so the answer is a short list to pick
from, best first: the whole text naming a place, then a place named inside the text, then a
near spelling (rapidfuzz, as the service search uses, for "Vemulapali").
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from mitra.departments.errors import DepartmentError

REFRESH_SECONDS = 24 * 3600
MAX_PLACES = 9


def normalise(text: str) -> str:
    """Case-folded words; punctuation and symbols are spaces. (Not a \\w split: Telugu's
    vowel signs are combining marks, which \\w does not match.)"""
    text = unicodedata.normalize("NFC", text).casefold()
    spaced = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in text)
    return " ".join(spaced.split())


@dataclass(frozen=True)
class Entry:
    names: tuple[str, ...]  # normalised, every language
    place: dict[str, Any]  # {code, name, kind, mandal, district, location}


class Gazetteer:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._entries: list[Entry] = []
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def _load(self) -> list[Entry]:
        async with self._lock:
            if self._entries and time.monotonic() - self._loaded_at < REFRESH_SECONDS:
                return self._entries
            entries: list[Entry] = []
            districts = (await self._client.districts())["districts"]
            for district in districts:
                named_district = {"code": district["code"], "name": district["name"]}
                mandals = (await self._client.mandals(district["code"]))["mandals"]
                for mandal in mandals:
                    named_mandal = {"code": mandal["code"], "name": mandal["name"]}
                    for kind in ("villages", "wards"):
                        for locality in mandal[kind]:
                            entries.append(
                                Entry(
                                    tuple(normalise(n) for n in locality["name"].values()),
                                    {
                                        "code": locality["code"],
                                        "name": locality["name"],
                                        "kind": kind[:-1],
                                        "mandal": named_mandal,
                                        "district": named_district,
                                        "location": locality["location"],
                                    },
                                )
                            )
                    entries.append(
                        Entry(
                            tuple(normalise(n) for n in mandal["name"].values()),
                            {
                                "code": mandal["code"],
                                "name": mandal["name"],
                                "kind": "mandal",
                                "mandal": named_mandal,
                                "district": named_district,
                                "location": mandal["location"],
                            },
                        )
                    )
            self._entries, self._loaded_at = entries, time.monotonic()
            return entries

    async def places(self) -> list[dict[str, Any]]:
        """Every village, ward and mandal: {code, name, kind, mandal, district, location}."""
        return [e.place for e in await self._load()]

    async def search(self, text: str) -> dict[str, Any]:
        """{places: [...]} best first, or DepartmentError(not_found)."""
        wanted = normalise(text)
        if len(wanted) < 3:
            raise DepartmentError("not_found", "too short to search")
        entries = await self._load()
        scored: list[tuple[float, str, dict[str, Any]]] = []
        padded = f" {wanted} "
        for e in entries:
            score = 0.0
            for name in e.names:
                if name == wanted:
                    score = max(score, 3.0)
                elif f" {name} " in padded:
                    score = max(score, 2.0 + len(name) / 100)  # longer names inside win
                elif name.startswith(wanted) and len(wanted) >= 4:
                    score = max(score, 1.5)
                else:
                    ratio = fuzz.ratio(wanted, name) / 100
                    if ratio >= 0.85:
                        score = max(score, ratio)
            if score:
                scored.append((score, e.place["code"], e.place))
        if not scored:
            raise DepartmentError("not_found", "no such place")
        scored.sort(key=lambda x: (-x[0], x[1]))
        best = scored[0][0]
        places = [p for s, _, p in scored if s >= min(best, 2.0) or s == best]
        return {"places": places[:MAX_PLACES]}
