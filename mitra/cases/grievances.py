"""Grievances as the chat and officers see them (docs/decisions/0008-grievances.md): is the
problem already reported nearby, join it, the citizen's view of one (the contract's
`Grievance` shape, so status services show Mitra's like a department's), rating or reopening
what an officer resolved, and how each office's resolutions are rated.

A grievance is shown to the citizen who registered it and to those who joined it, no one else.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from mitra.cases import store
from mitra.cases.lifecycle import GRIEVANCE_OPEN, CaseError
from mitra.cases.notify import Notifier
from mitra.cases.store import CELL, IST, Scope, ist_day
from mitra.cases.views import office_ref
from mitra.catalogue.loader import Catalogue
from mitra.catalogue.schema import Service
from mitra.crypto import FieldCipher

NEARBY_CELLS = 2  # ±2 cells of ~110 m: "nearby" is within about 200–300 m
RECENT = timedelta(days=30)

NOTE_OF = {
    "submit": "complaint_registered",
    "start": "work_in_progress",
    "resolve": "resolved_on_site",
    "close": "closed_after_confirmation",
    "reopen": "reopened_by_citizen",
    "escalate": "escalated",
    "join": None,
    "reject": None,
    "withdraw": "withdrawn_by_applicant",
}
NEXT_STEP = {
    "registered": "await_inspection",
    "in_progress": "await_resolution",
    "reopened": "await_resolution",
    "resolved": "rate_resolution",
    "closed": "none",
    "rejected": "none",
    "withdrawn": "none",
}


def _metres(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Distance between the centres of two cells (haversine), to the nearest 10 m."""
    lat1, lon1, lat2, lon2 = (math.radians(v / CELL) for v in (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return int(round(2 * 6_371_000 * math.asin(math.sqrt(h)), -1))


def similar(
    conn: psycopg.Connection[Any], service: str, lat: float, lon: float, now: datetime
) -> dict[str, Any]:
    """The nearest open grievance of the same category registered in the last 30 days, if
    any: {found: yes, reference, status, registered_at, distance_m, reports}."""
    cell = (round(lat * CELL), round(lon * CELL))
    rows = conn.execute(
        "SELECT reference, status, created_at, cell_lat, cell_lon, reports FROM cases"
        " WHERE service = %s AND cell_lat BETWEEN %s AND %s AND cell_lon BETWEEN %s AND %s"
        " AND status = ANY(%s) AND created_at > %s",
        (
            service,
            cell[0] - NEARBY_CELLS,
            cell[0] + NEARBY_CELLS,
            cell[1] - NEARBY_CELLS,
            cell[1] + NEARBY_CELLS,
            list(GRIEVANCE_OPEN),
            now - RECENT,
        ),
    ).fetchall()
    if not rows:
        return {"found": "no"}
    best = min(rows, key=lambda r: (_metres(cell, (r["cell_lat"], r["cell_lon"])), r["reference"]))
    return {
        "found": "yes",
        "reference": best["reference"],
        "status": best["status"],
        "registered_at": best["created_at"].astimezone(IST).isoformat(),
        "distance_m": _metres(cell, (best["cell_lat"], best["cell_lon"])),
        "reports": best["reports"],
    }


def join(
    conn: psycopg.Connection[Any], citizen_id: int, reference: str, now: datetime
) -> dict[str, Any]:
    """Add the citizen to an open grievance: they get its pushes, and it counts one more
    report. Joining twice (or one's own) changes nothing."""
    case = store.find(conn, reference, lock=True)
    if case is None or case["pattern"] != "grievance" or case["status"] not in GRIEVANCE_OPEN:
        raise CaseError("not_found", "no open grievance by that number")
    if case["citizen_id"] != citizen_id:
        added = conn.execute(
            "INSERT INTO case_followers (case_id, citizen_id, joined_at) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING case_id",
            (case["id"], citizen_id, now),
        ).fetchone()
        if added is not None:
            case["reports"] += 1
            conn.execute(
                "UPDATE cases SET reports = %s, updated_at = %s WHERE id = %s",
                (case["reports"], now, case["id"]),
            )
            store._event(
                conn,
                case["id"],
                "join",
                case["status"],
                case["status"],
                store.CITIZEN,
                case["office_id"],
                f"reported again ({case['reports']} reports)",
                now,
            )
    offices = {o["id"]: o for o in case["offices"]}
    return {
        "reference": case["reference"],
        "status": case["status"],
        "reports": case["reports"],
        "office": office_ref(offices.get(case["office_id"]) or case["offices"][0]),
    }


def visible_to(conn: psycopg.Connection[Any], case: dict[str, Any], citizen_id: int) -> bool:
    if case["citizen_id"] == citizen_id:
        return True
    return (
        conn.execute(
            "SELECT 1 FROM case_followers WHERE case_id = %s AND citizen_id = %s",
            (case["id"], citizen_id),
        ).fetchone()
        is not None
    )


def grievance_view(
    case: dict[str, Any], events: list[dict[str, Any]], service: Service | None
) -> dict[str, Any]:
    """A grievance as the contract's `Grievance` (plus Mitra's resolution and rating)."""
    offices = {o["id"]: o for o in case["offices"]}
    office = offices.get(case["office_id"]) or case["offices"][0]
    history = []
    for e in events:
        if e["action"] in ("remind", "breach"):
            continue
        entry: dict[str, Any] = {
            "status": e["to_status"] or case["status"],
            "at": e["at"].astimezone(IST).isoformat(),
            "office": office_ref(offices.get(e["office_id"] or "") or office),
            "note": NOTE_OF.get(e["action"]),
        }
        if e["action"] in ("resolve", "reject", "reopen") and e["note"]:
            entry["remark"] = e["note"]
        history.append(entry)
    title = (
        {"en": service.title.en, "te": service.title.te}
        if service
        else {"en": case["service"], "te": case["service"]}
    )
    view: dict[str, Any] = {
        "reference": case["reference"],
        "kind": "mitra_grievance",
        "department": case["department"],
        "category": case["service"],
        "category_name": title,
        "status": case["status"],
        "priority": case["priority"] or "normal",
        "registered_at": case["created_at"].astimezone(IST).isoformat(),
        "updated_at": case["updated_at"].astimezone(IST).isoformat(),
        "expected_by": ist_day(case["due_at"]).isoformat(),
        "due_at": case["due_at"].astimezone(IST).isoformat(),
        "office": office_ref(office),
        "area": {
            "district": {"code": case["district_code"]},
            "mandal": {"code": case["mandal_code"]},
        },
        "history": history,
        "next_step": NEXT_STEP.get(case["status"], "none"),
        "reports": case["reports"],
    }
    if case["resolution"] and case["status"] in ("resolved", "closed"):
        view["resolution"] = case["resolution"]
    if case["reason"] and case["status"] == "rejected":
        view["reason"] = case["reason"]
    if case["rating"] is not None:
        view["rating"] = case["rating"]
    return view


def view(
    conn: psycopg.Connection[Any], catalogue: Catalogue, case: dict[str, Any]
) -> dict[str, Any]:
    return grievance_view(case, store.history(conn, case["id"]), store.service_of(catalogue, case))


def lookup(
    conn: psycopg.Connection[Any], catalogue: Catalogue, citizen_id: int, reference: str
) -> dict[str, Any] | None:
    """The citizen's grievance; None when Mitra holds none by that number (ask the
    department); CaseError(not_found) when it is not theirs."""
    case = store.find(conn, reference)
    if case is None or case["pattern"] != "grievance":
        return None
    if not visible_to(conn, case, citizen_id):
        raise CaseError("not_found", "not this citizen's grievance")
    return view(conn, catalogue, case)


def mine(conn: psycopg.Connection[Any], catalogue: Catalogue, citizen_id: int) -> dict[str, Any]:
    """The citizen's grievances (registered or joined), newest first, and those resolved and
    waiting for their rating (GEN-11)."""
    rows = conn.execute(
        "SELECT c.reference, c.service, c.service_version, c.status, c.updated_at,"
        " c.citizen_id = %s AS own FROM cases c WHERE c.pattern = 'grievance' AND"
        " (c.citizen_id = %s OR c.id IN (SELECT case_id FROM case_followers"
        "  WHERE citizen_id = %s)) ORDER BY c.created_at DESC LIMIT 30",
        (citizen_id, citizen_id, citizen_id),
    ).fetchall()
    out = []
    for r in rows:
        service = catalogue.service(r["service"], r["service_version"]) or catalogue.service(
            r["service"]
        )
        out.append(
            {
                "reference": r["reference"],
                "what": {"en": service.title.en, "te": service.title.te}
                if service
                else {"en": r["service"], "te": r["service"]},
                "status": r["status"],
                "own": r["own"],
                "at": r["updated_at"].astimezone(IST).isoformat(),
            }
        )
    return {
        "grievances": out,
        "resolved": [g for g in out if g["status"] == "resolved" and g["own"]],
    }


def rate(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    catalogue: Catalogue,
    notifier: Notifier,
    citizen_id: int,
    args: dict[str, Any],
    reopen_within: timedelta,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The citizen who registered a resolved grievance says whether it is fixed: yes, with a
    rating of 1–5 (it closes), or no (it reopens at the office, within the reopen period)."""
    moment = now or datetime.now(UTC)
    reference = str(args.get("reference") or "")
    comment = " ".join(str(args.get("comment") or "").split())[:500]
    if comment.casefold() in ("no", "-", "none", "వద్దు", "లేదు"):
        comment = ""
    if str(args.get("fixed")) == "no":
        changed = store.act(
            conn,
            reference,
            "reopen",
            store.CITIZEN,
            note=comment or None,
            citizen_id=citizen_id,
            now=moment,
            after=notifier.after,
            reopen_within=reopen_within,
        )
        return view(conn, catalogue, changed.case)
    try:
        rating = int(str(args.get("rating") or ""))
    except ValueError:
        raise CaseError("invalid", "a rating is 1 to 5") from None
    if not 1 <= rating <= 5:
        raise CaseError("invalid", "a rating is 1 to 5")
    changed = store.act(
        conn,
        reference,
        "close",
        store.CITIZEN,
        note=f"rated {rating}/5",
        citizen_id=citizen_id,
        now=moment,
        after=notifier.after,
    )
    case = changed.case
    conn.execute(
        "UPDATE cases SET rating = %s, rated_at = %s WHERE id = %s", (rating, moment, case["id"])
    )
    case.update(rating=rating, rated_at=moment)
    if comment:
        record = store.private(cipher, conn, case["id"])
        record.pop("applicant")
        record["feedback"] = {"at": moment.isoformat(), "text": comment}
        conn.execute(
            "UPDATE cases SET answers_enc = %s WHERE id = %s",
            (cipher.encrypt(orjson.dumps(record), context=b"case_answers"), case["id"]),
        )
    return view(conn, catalogue, case)


def office_ratings(conn: psycopg.Connection[Any], scope: Scope) -> list[dict[str, Any]]:
    """Per office (where each grievance was resolved): how many grievances it resolved, how
    many were rated and their average and spread, how many were reopened, and how many
    were resolved in time."""
    where, params = scope.where()
    rows = conn.execute(
        "SELECT c.department, c.office_id, c.offices,"
        " count(*) FILTER (WHERE c.resolved_at IS NOT NULL) AS resolved,"
        " count(c.rating) AS rated, avg(c.rating)::float AS average,"
        " count(*) FILTER (WHERE c.rating = 1) AS r1, count(*) FILTER (WHERE c.rating = 2) AS r2,"
        " count(*) FILTER (WHERE c.rating = 3) AS r3, count(*) FILTER (WHERE c.rating = 4) AS r4,"
        " count(*) FILTER (WHERE c.rating = 5) AS r5,"
        " count(*) FILTER (WHERE EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id"
        "   AND e.action = 'reopen')) AS reopened,"
        " count(*) FILTER (WHERE c.resolved_at IS NOT NULL AND c.escalated_at IS NULL)"
        "   AS resolved_in_time"
        f" FROM cases c WHERE c.pattern = 'grievance' AND {where}"
        " GROUP BY c.department, c.office_id, c.offices ORDER BY c.department, c.office_id",
        params,
    ).fetchall()
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        name = next((o.get("name") for o in r["offices"] if o["id"] == r["office_id"]), None)
        key = (r["department"], r["office_id"])
        entry = merged.setdefault(
            key,
            {
                "department": r["department"],
                "office_id": r["office_id"],
                "office_name": name,
                "resolved": 0,
                "rated": 0,
                "stars": {str(i): 0 for i in range(1, 6)},
                "reopened": 0,
                "resolved_in_time": 0,
            },
        )
        entry["resolved"] += r["resolved"]
        entry["rated"] += r["rated"]
        entry["reopened"] += r["reopened"]
        entry["resolved_in_time"] += r["resolved_in_time"]
        for i in range(1, 6):
            entry["stars"][str(i)] += r[f"r{i}"]
    out = []
    for entry in merged.values():
        total = sum(int(k) * v for k, v in entry["stars"].items())
        entry["average"] = round(total / entry["rated"], 2) if entry["rated"] else None
        out.append(entry)
    return out
