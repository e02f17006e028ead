"""The SLA clock, run by the worker: remind the office before a case falls due, and when it
is overdue, raise it to the next office up the ladder (secretariat → mandal → district) with a
fresh, shorter clock there; at the top of the ladder it is recorded as breached.

Grievances run on hours, not days: a fallen live wire is due in hours, and its reminder and
escalation come as fast. A resolved grievance the citizen neither rated nor reopened within
the reopen period is closed by the clock.

Each round takes a batch of due cases with `FOR UPDATE SKIP LOCKED`, so several workers share
the work and a case is never escalated twice for the same deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from mitra.cases.lifecycle import OPEN
from mitra.cases.notify import Notifier
from mitra.cases.store import SLA_CLOCK, Actor, _event, act


@dataclass(frozen=True)
class SlaPolicy:
    # Remind this long before the due time (or half-way through a short clock, if sooner).
    remind_before: timedelta = timedelta(days=2)
    # Time a raised case gets at the next office: a third of its clock, at least 2 days (or
    # its whole clock, when that is shorter: an emergency stays an emergency).
    escalated_fraction: float = 1 / 3
    escalated_minimum: timedelta = timedelta(days=2)
    # How long a citizen may reopen a resolved grievance; after it, the clock closes it.
    reopen_within: timedelta = timedelta(days=7)


@dataclass
class SlaRound:
    reminded: int = 0
    escalated: int = 0
    breached: int = 0
    closed: int = 0


def clock_of(case: dict[str, Any]) -> timedelta:
    return timedelta(hours=case["sla_hours"] or case["sla_days"] * 24)


def run_round(
    conn: psycopg.Connection[Any],
    notifier: Notifier,
    now: datetime,
    policy: SlaPolicy = SlaPolicy(),
    batch: int = 200,
) -> SlaRound:
    """One pass of the clock at `now` (a parameter, so tests move time). Commits."""
    result = SlaRound()
    with conn.transaction():
        due = conn.execute(
            "SELECT id, reference, department, service, service_version, pattern, citizen_id,"
            " offices, level, office_id, status, sla_days, sla_hours, due_at, reminded_at,"
            " escalated_at FROM cases"
            " WHERE status = ANY(%s)"
            " AND due_at <= %s::timestamptz + LEAST(make_interval(secs => %s),"
            "   make_interval(hours => COALESCE(sla_hours, sla_days * 24)) / 2)"
            " AND (reminded_at IS NULL OR due_at <= %s)"
            " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (list(OPEN), now, policy.remind_before.total_seconds(), now, batch),
        ).fetchall()
        for row in due:
            case = dict(row)
            if case["due_at"] > now:
                # Coming due: remind the office once (the console shows reminders).
                conn.execute("UPDATE cases SET reminded_at = %s WHERE id = %s", (now, case["id"]))
                _event(
                    conn,
                    case["id"],
                    "remind",
                    case["status"],
                    case["status"],
                    SLA_CLOCK,
                    case["office_id"],
                    f"due {case['due_at'].date().isoformat()}",
                    now,
                )
                result.reminded += 1
                continue
            ladder = case["offices"]
            if case["level"] + 1 < len(ladder):
                note = f"overdue at {ladder[case['level']]['id']}"
                raise_case(conn, notifier, case, SLA_CLOCK, note, now, policy)
                result.escalated += 1
            else:
                # Top of the ladder: record the breach once, and stop looking at it until the
                # office acts (its due date moves a week on, so the breach is seen again).
                conn.execute(
                    "UPDATE cases SET due_at = %s, escalated_at = %s, reminded_at = %s"
                    " WHERE id = %s",
                    (now + min(timedelta(days=7), clock_of(case)), now, now, case["id"]),
                )
                _event(
                    conn,
                    case["id"],
                    "breach",
                    case["status"],
                    case["status"],
                    SLA_CLOCK,
                    case["office_id"],
                    "overdue at the top of the ladder",
                    now,
                )
                result.breached += 1
        result.closed = _close_unrated(conn, notifier, now, policy.reopen_within, batch)
    return result


def raise_case(
    conn: psycopg.Connection[Any],
    notifier: Notifier,
    case: dict[str, Any],
    actor: Actor,
    note: str,
    now: datetime,
    policy: SlaPolicy = SlaPolicy(),
) -> None:
    """Move a case (locked by the caller) to the next office up its ladder, with a fresh,
    shorter clock there, and tell the citizen. The clock does it when a case is overdue; an
    officer may do it sooner (mitra.cases.actions.escalate)."""
    ladder = case["offices"]
    level = case["level"] + 1
    office = ladder[level]
    clock = clock_of(case)
    grace = max(clock * policy.escalated_fraction, min(policy.escalated_minimum, clock))
    conn.execute(
        "UPDATE cases SET level = %s, office_id = %s, due_at = %s,"
        " escalated_at = %s, reminded_at = NULL, updated_at = %s WHERE id = %s",
        (level, office["id"], now + grace, now, now, case["id"]),
    )
    _event(
        conn, case["id"], "escalate", case["status"], case["status"], actor, office["id"], note, now
    )
    case.update(level=level, office_id=office["id"], due_at=now + grace)
    notifier.push(conn, case, "escalate", None, now)


def _close_unrated(
    conn: psycopg.Connection[Any],
    notifier: Notifier,
    now: datetime,
    within: timedelta,
    batch: int,
) -> int:
    """Resolved grievances nobody rated or reopened in time: closed, as resolved."""
    rows = conn.execute(
        "SELECT reference FROM cases WHERE status = 'resolved' AND resolved_at < %s"
        " ORDER BY resolved_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (now - within, batch),
    ).fetchall()
    for row in rows:
        act(conn, row["reference"], "close", SLA_CLOCK, now=now, after=notifier.after)
    return len(rows)
