"""The SLA clock, run by the worker: remind the office before a case falls due, and when it
is overdue, raise it to the next office up the ladder (secretariat → mandal → district) with a
fresh, shorter clock there; at the top of the ladder it is recorded as breached.

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
from mitra.cases.store import SLA_CLOCK, _event


@dataclass(frozen=True)
class SlaPolicy:
    remind_before: timedelta = timedelta(days=2)
    # Days a raised case gets at the next office: a third of the service's SLA, at least 2.
    escalated_fraction: float = 1 / 3
    escalated_minimum: timedelta = timedelta(days=2)


@dataclass
class SlaRound:
    reminded: int = 0
    escalated: int = 0
    breached: int = 0


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
            "SELECT id, reference, department, service, service_version, citizen_id, offices,"
            " level, office_id, status, sla_days, due_at, reminded_at, escalated_at FROM cases"
            " WHERE status = ANY(%s) AND due_at <= %s"
            " AND (reminded_at IS NULL OR due_at <= %s)"
            " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (list(OPEN), now + policy.remind_before, now, batch),
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
                level = case["level"] + 1
                office = ladder[level]
                grace = max(
                    timedelta(days=case["sla_days"] * policy.escalated_fraction),
                    policy.escalated_minimum,
                )
                conn.execute(
                    "UPDATE cases SET level = %s, office_id = %s, due_at = %s,"
                    " escalated_at = %s, reminded_at = NULL, updated_at = %s WHERE id = %s",
                    (level, office["id"], now + grace, now, now, case["id"]),
                )
                _event(
                    conn,
                    case["id"],
                    "escalate",
                    case["status"],
                    case["status"],
                    SLA_CLOCK,
                    office["id"],
                    f"overdue at {ladder[level - 1]['id']}",
                    now,
                )
                case.update(level=level, office_id=office["id"])
                notifier.push(conn, case, "escalate", None, now)
                result.escalated += 1
            else:
                # Top of the ladder: record the breach once, and stop looking at it until the
                # office acts (its due date moves a week on, so the breach is seen again).
                conn.execute(
                    "UPDATE cases SET due_at = %s, escalated_at = %s, reminded_at = %s"
                    " WHERE id = %s",
                    (now + timedelta(days=7), now, now, case["id"]),
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
    return result
