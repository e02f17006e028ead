"""Cases in PostgreSQL: submitting, reading and acting on them, each in the caller's
transaction, with the status push to the citizen queued in that same transaction (so a
decision and its message commit together, invariant 4).

Every read and write takes a `Scope`: an officer or a department key only ever sees its own
department (and jurisdiction); a case outside the scope does not exist for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import psycopg

from mitra.cases.lifecycle import OPEN, ActorKind, CaseError, check
from mitra.catalogue.loader import Catalogue
from mitra.catalogue.schema import Service
from mitra.crypto import FieldCipher
from mitra.departments.references import make_reference

IST = timezone(timedelta(hours=5, minutes=30), "IST")
SERIAL_START = 500_000  # below this, numbers belong to department systems' own past records
DEFAULT_SLA_DAYS = 15


@dataclass(frozen=True)
class Actor:
    """Who acts: an officer (named on what they sign), a department system's API key, the
    citizen, or Mitra itself. `via` names the key an officer's decision arrived through."""

    kind: ActorKind
    name: str = ""
    via: str = ""

    @property
    def label(self) -> str:
        label = self.kind if not self.name else f"{self.kind}:{self.name}"
        return f"{label} via {self.via}" if self.via else label


CITIZEN = Actor("citizen")
SLA_CLOCK = Actor("system", "sla")


@dataclass(frozen=True)
class Scope:
    """What a reader may see: one department (None: all), optionally one district, mandal or
    office. Administrators have `Scope()`."""

    department: str | None = None
    district: str | None = None
    mandal: str | None = None
    office_id: str | None = None

    def where(self, alias: str = "c") -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("department", self.department),
            ("district_code", self.district),
            ("mandal_code", self.mandal),
            ("office_id", self.office_id),
        ):
            if value is not None:
                clauses.append(f"{alias}.{column} = %s")
                params.append(value)
        return (" AND ".join(clauses) or "true"), params


EVERYTHING = Scope()


@dataclass
class Submitted:
    """What the chat tells the citizen after submitting."""

    reference: str
    status: str
    expected_by: str
    office: dict[str, Any]
    sla_days: int
    due_at: str = ""  # in Indian time: grievances are due by the hour
    priority: str | None = None

    def as_result(self) -> dict[str, Any]:
        result = {
            "reference": self.reference,
            "status": self.status,
            "expected_by": self.expected_by,
            "office": self.office,
            "sla_days": self.sla_days,
            "due_at": self.due_at,
        }
        if self.priority is not None:
            result["priority"] = self.priority
        return result


CELL = 1000  # grievance positions are kept as round(degrees × CELL): cells of about 110 m


def cell_of(area: dict[str, Any]) -> tuple[int, int] | None:
    where = area.get("location") or {}
    try:
        return round(float(where["lat"]) * CELL), round(float(where["lon"]) * CELL)
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Plan:
    """Where a new case goes and when it is due (store.submit, and the examples driver)."""

    department: str
    prefix: str
    offices: list[dict[str, Any]]
    status: str
    sla_days: int
    sla_hours: int | None
    due: datetime
    cell: tuple[int, int] | None


def plan_case(
    service: Service, department: str | None, area: dict[str, Any], now: datetime
) -> Plan:
    if service.case_prefix is None:
        raise CaseError("invalid", f"{service.code} takes no applications")
    grievance = service.grievance
    dept, prefix = service.department, service.case_prefix
    if department and department != service.department:
        # Only GEN-01's "something else" sends a grievance to a department the citizen chose.
        if grievance is None or service.department != "GEN" or not department.isalpha():
            raise CaseError("invalid", f"{service.code} cannot go to {department}")
        dept, prefix = department.upper(), f"GRV-{department.upper()}"
    offices = list((area.get("offices") or {}).get(dept) or [])
    if not offices:
        raise CaseError("invalid", f"no {dept} office covers that address")
    if grievance is not None:
        hours = grievance.sla_hours
        return Plan(
            dept,
            prefix,
            offices,
            "registered",
            max(1, -(-hours // 24)),
            hours,
            now + timedelta(hours=hours),
            cell_of(area),
        )
    days = service.sla_days or DEFAULT_SLA_DAYS
    return Plan(dept, prefix, offices, "submitted", days, None, now + timedelta(days=days), None)


def _submitted(row: dict[str, Any]) -> Submitted:
    return Submitted(
        row["reference"],
        row["status"],
        ist_day(row["due_at"]).isoformat(),
        row["offices"][row["level"]],
        row["sla_days"],
        row["due_at"].astimezone(IST).isoformat(),
        row["priority"],
    )


@dataclass
class Changed:
    """The outcome of an action: the case as it is now."""

    case: dict[str, Any]


def ist_day(moment: datetime) -> date:
    return moment.astimezone(IST).date()


def next_serial(conn: psycopg.Connection[Any], prefix: str, year: int) -> int:
    row = conn.execute(
        "INSERT INTO case_serials (prefix, year, last) VALUES (%s, %s, %s)"
        " ON CONFLICT (prefix, year) DO UPDATE SET last = case_serials.last + 1 RETURNING last",
        (prefix, year, SERIAL_START + 1),
    ).fetchone()
    assert row is not None
    return int(row["last"])


def applicant_of(answers: dict[str, Any], profile_name: str | None) -> dict[str, Any]:
    """Who applied: the name on Aadhaar when the service verified identity, else the name
    they gave, else their WhatsApp name; with the identity token and last four digits."""
    identity = next(
        (v for v in answers.values() if isinstance(v, dict) and v.get("token") and v.get("last4")),
        None,
    )
    name = (
        (identity or {}).get("name")
        or (answers.get("name") if isinstance(answers.get("name"), str) else None)
        or profile_name
        or ""
    )
    applicant: dict[str, Any] = {"name": name}
    if identity:
        applicant.update(
            {
                "identity_token": identity["token"],
                "aadhaar_last4": identity["last4"],
                "year_of_birth": identity.get("year_of_birth"),
                "gender": identity.get("gender"),
            }
        )
    return applicant


def submit(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    *,
    citizen_id: int,
    effect_id: str,
    service: Service,
    language: str,
    answers: dict[str, Any],
    choices: dict[str, Any],
    area: dict[str, Any],
    profile_name: str | None,
    now: datetime,
    department: str | None = None,
    attachments: list[int] | None = None,
) -> Submitted:
    """Number, route and store a new case. Idempotent on `effect_id` (a retried effect finds
    the case it made). A grievance is routed by where the problem is (`area`), may go to a
    `department` the citizen chose (GEN-01), and takes the media they sent (`attachments`)."""
    existing = conn.execute(
        "SELECT reference, status, due_at, offices, level, sla_days, priority FROM cases"
        " WHERE effect_id = %s",
        (effect_id,),
    ).fetchone()
    if existing is not None:
        return _submitted(existing)
    plan = plan_case(service, department, area, now)
    dept, prefix, offices, status = plan.department, plan.prefix, plan.offices, plan.status
    sla_days, sla_hours, due, cell = plan.sla_days, plan.sla_hours, plan.due, plan.cell
    grievance = service.grievance
    year = now.astimezone(IST).year
    reference = make_reference(prefix, year, next_serial(conn, prefix, year))
    locality = area.get("village") or area.get("ward") or {}
    applicant = applicant_of(answers, profile_name)
    record = {
        "answers": answers,
        "choices": choices,
        "language": language,
        "place": {k: area[k] for k in ("district", "mandal", "village", "ward") if k in area},
    }
    row = conn.execute(
        "INSERT INTO cases (reference, department, service, service_version, pattern,"
        " citizen_id, effect_id, answers_enc, applicant_enc, district_code, mandal_code,"
        " locality_code, offices, level, office_id, status, sla_days, due_at, created_at,"
        " updated_at, sla_hours, priority, cell_lat, cell_lon)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s,"
        " %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            reference,
            dept,
            service.code,
            service.version,
            service.pattern,
            citizen_id,
            effect_id,
            cipher.encrypt(orjson.dumps(record), context=b"case_answers"),
            cipher.encrypt(orjson.dumps(applicant), context=b"case_applicant"),
            (area.get("district") or {}).get("code"),
            (area.get("mandal") or {}).get("code"),
            locality.get("code"),
            orjson.dumps(offices).decode(),
            offices[0]["id"],
            status,
            sla_days,
            due,
            now,
            now,
            sla_hours,
            grievance.priority if grievance else None,
            cell[0] if cell else None,
            cell[1] if cell else None,
        ),
    ).fetchone()
    assert row is not None
    if attachments:
        # Only media this citizen sent and no case has taken yet.
        conn.execute(
            "UPDATE media SET case_id = %s WHERE id = ANY(%s) AND citizen_id = %s"
            " AND case_id IS NULL",
            (row["id"], list(attachments), citizen_id),
        )
    _event(conn, row["id"], "submit", None, status, CITIZEN, offices[0]["id"], None, now)
    return Submitted(
        reference,
        status,
        ist_day(due).isoformat(),
        offices[0],
        sla_days,
        due.astimezone(IST).isoformat(),
        grievance.priority if grievance else None,
    )


def _event(
    conn: psycopg.Connection[Any],
    case_id: int,
    action: str,
    before: str | None,
    after: str | None,
    actor: Actor,
    office_id: str | None,
    note: str | None,
    now: datetime,
) -> None:
    conn.execute(
        "INSERT INTO case_events (case_id, at, action, from_status, to_status, actor,"
        " office_id, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (case_id, now, action, before, after, actor.label, office_id, note),
    )


CASE_COLUMNS = (
    "c.id, c.reference, c.department, c.service, c.service_version, c.pattern, c.citizen_id,"
    " c.district_code, c.mandal_code, c.locality_code, c.offices, c.level, c.office_id,"
    " c.status, c.question, c.reason, c.sla_days, c.due_at, c.reminded_at, c.escalated_at,"
    " c.document_id, c.created_at, c.updated_at, c.sla_hours, c.priority, c.reports,"
    " c.resolution, c.resolved_at, c.rating, c.rated_at, c.assignee"
)


def find(
    conn: psycopg.Connection[Any],
    reference: str,
    scope: Scope = EVERYTHING,
    *,
    lock: bool = False,
    citizen_id: int | None = None,
) -> dict[str, Any] | None:
    where, params = scope.where()
    if citizen_id is not None:
        where += " AND c.citizen_id = %s"
        params.append(citizen_id)
    row = conn.execute(
        f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.reference = %s AND {where}"
        + (" FOR UPDATE" if lock else ""),
        [reference.strip().upper(), *params],
    ).fetchone()
    return dict(row) if row is not None else None


def history(conn: psycopg.Connection[Any], case_id: int) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            "SELECT at, action, from_status, to_status, actor, office_id, note FROM case_events"
            " WHERE case_id = %s ORDER BY id",
            (case_id,),
        ).fetchall()
    ]


def private(cipher: FieldCipher, conn: psycopg.Connection[Any], case_id: int) -> dict[str, Any]:
    """The encrypted parts of a case: answers, chosen options' titles, language, applicant."""
    row = conn.execute(
        "SELECT answers_enc, applicant_enc FROM cases WHERE id = %s", (case_id,)
    ).fetchone()
    assert row is not None
    record = orjson.loads(cipher.decrypt(bytes(row["answers_enc"]), context=b"case_answers"))
    record["applicant"] = orjson.loads(
        cipher.decrypt(bytes(row["applicant_enc"]), context=b"case_applicant")
    )
    return dict(record)


def listing(
    conn: psycopg.Connection[Any],
    scope: Scope,
    *,
    status: str | None = None,
    service: str | None = None,
    overdue: bool | None = None,
    limit: int = 100,
    offset: int = 0,
    since: datetime | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Cases in scope, soonest due first (an officer's queue) or newest first; `since`:
    submitted from then."""
    where, params = scope.where()
    if since is not None:
        where += " AND c.created_at >= %s"
        params.append(since)
    if status is not None:
        where += " AND c.status = %s"
        params.append(status)
    if service is not None:
        where += " AND c.service = %s"
        params.append(service)
    if overdue is not None:
        where += " AND c.status = ANY(%s) AND (c.due_at < now()) = %s"
        params += [list(OPEN), overdue]
    order = "c.created_at DESC, c.id DESC" if newest_first else "c.due_at, c.id"
    rows = conn.execute(
        f"SELECT {CASE_COLUMNS} FROM cases c WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s",
        [*params, limit, offset],
    ).fetchall()
    return [dict(r) for r in rows]


# What happens after the status changes: the chat push and, on approval, the document.
AfterChange = Callable[
    [psycopg.Connection[Any], dict[str, Any], str, Actor, str | None, datetime], None
]


def act(
    conn: psycopg.Connection[Any],
    reference: str,
    action: str,
    actor: Actor,
    *,
    note: str | None = None,
    scope: Scope = EVERYTHING,
    citizen_id: int | None = None,
    now: datetime | None = None,
    after: AfterChange | None = None,
    reopen_within: timedelta | None = None,
) -> Changed:
    """Take `action` on the case, or raise CaseError (not_found, illegal, invalid, forbidden).
    Runs in the caller's transaction; the case row is locked until it commits."""
    moment = now or datetime.now(UTC)
    case = find(conn, reference, scope, lock=True, citizen_id=citizen_id)
    if case is None:
        raise CaseError("not_found", f"no case {reference.strip().upper()}")
    rule = check(action, case["status"], actor.kind, note, case["pattern"])
    clean = note.strip()[:2000] if note else None
    before = case["status"]
    updates: dict[str, Any] = {"status": rule.target, "updated_at": moment}
    if action == "return":
        updates["question"] = clean
    if action == "reject":
        updates["reason"] = clean
    if action == "answer":
        # A new clock for the office: the citizen did their part.
        updates["due_at"] = max(case["due_at"], moment + timedelta(days=2))
    if action == "resolve":
        updates.update(resolution=clean, resolved_at=moment)
    if action == "reopen":
        if reopen_within is not None and moment - case["resolved_at"] > reopen_within:
            raise CaseError("illegal", "it was resolved too long ago to reopen")
        # The office gets the case's own clock again, from now.
        updates.update(
            due_at=moment + timedelta(hours=case["sla_hours"] or case["sla_days"] * 24),
            reminded_at=None,
        )
    sets = ", ".join(f"{k} = %s" for k in updates)
    conn.execute(f"UPDATE cases SET {sets} WHERE id = %s", [*updates.values(), case["id"]])
    _event(
        conn,
        case["id"],
        action,
        before,
        rule.target,
        actor,
        case["office_id"],
        None if action == "answer" else clean,
        moment,
    )
    case.update(updates)
    if after is not None:
        after(conn, case, action, actor, clean, moment)
    return Changed(case)


def attach_document(
    conn: psycopg.Connection[Any], case: dict[str, Any], document_id: str, now: datetime
) -> None:
    conn.execute(
        "UPDATE cases SET document_id = %s, updated_at = %s WHERE id = %s",
        (document_id, now, case["id"]),
    )
    case["document_id"] = document_id


def record_answer(
    conn: psycopg.Connection[Any], cipher: FieldCipher, case_id: int, text: str, now: datetime
) -> None:
    """Keep the citizen's answer to a returned case with the (encrypted) answers."""
    record = private(cipher, conn, case_id)
    record.pop("applicant")
    record.setdefault("replies", []).append({"at": now.isoformat(), "text": text[:2000]})
    conn.execute(
        "UPDATE cases SET answers_enc = %s WHERE id = %s",
        (cipher.encrypt(orjson.dumps(record), context=b"case_answers"), case_id),
    )


def service_of(catalogue: Catalogue, case: dict[str, Any]) -> Service | None:
    return catalogue.service(case["service"], case["service_version"]) or catalogue.service(
        case["service"]
    )


__all__ = [
    "CITIZEN",
    "EVERYTHING",
    "SLA_CLOCK",
    "Actor",
    "Changed",
    "Scope",
    "Submitted",
    "act",
    "attach_document",
    "find",
    "history",
    "listing",
    "private",
    "record_answer",
    "submit",
]
