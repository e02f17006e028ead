"""The dashboard's figures for an officer's scope, drawn as SVG on the server: no chart
library, no script, nothing fetched from anywhere (the state's network may be closed), and
every label escaped.

Charts: applications and grievances by status; the services most used; open cases on time
and overdue by office; grievance ratings by office; cases submitted per day; and, for the
state or a department, messages per hour and the step-by-step drop-off of the busiest
service (from the engine's records)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from markupsafe import Markup, escape

from mitra.cases import grievances
from mitra.cases.lifecycle import OPEN
from mitra.cases.store import Scope
from mitra.catalogue.loader import Catalogue

BAR = 22  # pixels per bar
WIDTH = 640
LABEL = 230  # pixels for the labels on the left
COLOURS = ("#0b5d3b", "#a4161a")


@dataclass(frozen=True)
class Chart:
    id: str
    title: str  # English; the page translates it
    svg: Markup
    empty: bool
    subtitle: str = ""


def bars(
    chart_id: str,
    title: str,
    rows: list[tuple[str, list[float]]],
    *,
    legend: tuple[str, ...] = (),
    unit: str = "",
) -> Chart:
    """Horizontal bars, one row per label; several values in a row are stacked."""
    if not rows:
        return Chart(chart_id, title, Markup(""), True)
    most = max(sum(values) for _, values in rows) or 1
    span = WIDTH - LABEL - 60
    height = BAR * len(rows) + (24 if legend else 8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}"'
        f' width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" class="chart">'
    ]
    for i, (label, values) in enumerate(rows):
        y = i * BAR + 4
        parts.append(
            f'<text x="{LABEL - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{escape(label[:34])}</text>"
        )
        x = float(LABEL)
        for j, value in enumerate(values):
            w = span * value / most
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR - 6}"'
                    f' fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(label)}:'
                    f" {value:g}{escape(unit)}</title></rect>"
                )
            x += w
        total = sum(values)
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + 14}" font-size="12">{total:g}{escape(unit)}</text>'
        )
    for j, name in enumerate(legend):
        x = LABEL + j * 120
        y = BAR * len(rows) + 8
        parts.append(
            f'<rect x="{x}" y="{y}" width="10" height="10" fill="{COLOURS[j % len(COLOURS)]}"/>'
            f'<text x="{x + 14}" y="{y + 9}" font-size="12">{escape(name)}</text>'
        )
    parts.append("</svg>")
    # Every text in it went through escape() above: the markup is ours.
    return Chart(chart_id, title, Markup("".join(parts)), False)  # noqa: S704


def figures(
    conn: psycopg.Connection[Any],
    scope: Scope,
    catalogue: Catalogue,
    _: Callable[[str], str] = str,
) -> list[Chart]:
    """The charts for `scope`; `_` translates the words drawn inside them."""
    where, params = scope.where()
    by_status = conn.execute(
        f"SELECT c.status, count(*) AS n FROM cases c WHERE {where} GROUP BY 1 ORDER BY 2 DESC",
        params,
    ).fetchall()
    by_service = conn.execute(
        f"SELECT c.service, count(*) AS n FROM cases c WHERE {where}"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
        params,
    ).fetchall()
    sla = conn.execute(
        f"SELECT c.office_id, count(*) FILTER (WHERE c.due_at >= now()) AS on_time,"
        f" count(*) FILTER (WHERE c.due_at < now()) AS overdue FROM cases c"
        f" WHERE {where} AND c.status = ANY(%s) GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 15",
        [*params, list(OPEN)],
    ).fetchall()
    breaches = conn.execute(
        f"SELECT e.office_id, count(*) AS n FROM case_events e JOIN cases c ON c.id = e.case_id"
        f" WHERE {where} AND e.action = 'breach' AND e.at > now() - interval '30 days'"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 15",
        params,
    ).fetchall()
    per_day = conn.execute(
        f"SELECT to_char(c.created_at AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD') AS day,"
        f" count(*) AS n FROM cases c WHERE {where}"
        " AND c.created_at > now() - interval '14 days' GROUP BY 1 ORDER BY 1",
        params,
    ).fetchall()
    ratings = [r for r in grievances.office_ratings(conn, scope) if r["rated"]]

    def title_of(code: str) -> str:
        service = catalogue.service(code)
        return f"{code} {service.title.en}" if service else code

    charts = [
        bars(
            "by-status",
            "Applications and grievances by status",
            [(_(r["status"].replace("_", " ")), [r["n"]]) for r in by_status],
        ),
        bars(
            "by-service",
            "Services used most",
            [(title_of(r["service"]), [r["n"]]) for r in by_service],
        ),
        bars(
            "sla",
            "Open cases by office: on time and overdue",
            [(r["office_id"], [r["on_time"], r["overdue"]]) for r in sla],
            legend=(_("on time"), _("overdue")),
        ),
        bars(
            "breaches",
            "SLA breaches by office (last 30 days)",
            [(r["office_id"] or "", [r["n"]]) for r in breaches],
        ),
        bars(
            "ratings",
            "Grievance ratings by office (average of 5)",
            [(f"{r['office_id']} ({r['rated']})", [round(r["average"] or 0, 2)]) for r in ratings],
        ),
        bars(
            "per-day", "Submitted per day (last 14 days)", [(r["day"], [r["n"]]) for r in per_day]
        ),
    ]
    if scope.department is None:
        departments = conn.execute(
            f"SELECT c.department, count(*) FILTER (WHERE c.status = ANY(%s)) AS open,"
            f" count(*) FILTER (WHERE NOT c.status = ANY(%s)) AS done FROM cases c"
            f" WHERE {where} GROUP BY 1 ORDER BY 1",
            [list(OPEN), list(OPEN), *params],
        ).fetchall()
        charts.insert(
            1,
            bars(
                "by-department",
                "By department",
                [(r["department"], [r["open"], r["done"]]) for r in departments],
                legend=(_("open"), _("decided or closed")),
            ),
        )
    if scope.district is None and scope.mandal is None and scope.office_id is None:
        charts += _engine_charts(conn, scope, catalogue)
    return charts


def _engine_charts(
    conn: psycopg.Connection[Any], scope: Scope, catalogue: Catalogue
) -> list[Chart]:
    """Messages per hour (the state) and the busiest service's funnel (state or department):
    the engine's records are not tied to an office."""
    out: list[Chart] = []
    if scope.department is None:
        hours = conn.execute(
            "SELECT to_char(received_at AT TIME ZONE 'Asia/Kolkata', 'DD Mon HH24:00') AS hour,"
            " min(received_at) AS at, count(*) AS n FROM inbound_events"
            " WHERE received_at > now() - interval '24 hours' GROUP BY 1 ORDER BY 2"
        ).fetchall()
        out.append(
            bars(
                "per-hour",
                "Messages per hour (last 24 hours)",
                [(r["hour"], [r["n"]]) for r in hours],
            )
        )
    codes = [
        s.code
        for s in catalogue.current.values()
        if scope.department is None or s.department == scope.department
    ]
    busiest = conn.execute(
        "SELECT service FROM conversation_steps WHERE service = ANY(%s) AND outcome = 'entered'"
        " AND at > now() - interval '30 days' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
        (codes,),
    ).fetchone()
    if busiest is not None:
        service = catalogue.service(busiest["service"])
        order = [s.id for s in service.steps] if service else []
        steps = conn.execute(
            "SELECT step, count(*) FILTER (WHERE outcome = 'entered') AS entered FROM"
            " conversation_steps WHERE service = %s AND at > now() - interval '30 days'"
            " GROUP BY 1",
            (busiest["service"],),
        ).fetchall()
        counts = {r["step"]: r["entered"] for r in steps if r["entered"]}
        rows = [(step, [counts[step]]) for step in order if step in counts]
        funnel = bars("funnel", "Where citizens stop (reached each step, last 30 days)", rows)
        out.append(replace(funnel, subtitle=busiest["service"]))
    return out
