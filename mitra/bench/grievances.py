"""`mitra bench grievances`: what grievances cost when the state already holds many of them —
registering one (numbering, routing, encryption, its event), the "already reported nearby?"
look-up every grievance conversation makes, and the SLA clock escalating a backlog of overdue
ones — against a fresh migrated database (embedded PostgreSQL, or MITRA_DATABASE_URL)."""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from mitra.bench.loadgen import mitra_environment
from mitra.cases import grievances, store
from mitra.cases.desk import CaseDesk
from mitra.cases.sla import run_round
from mitra.catalogue.loader import default_catalogue
from mitra.web.app import cipher_for

# Andhra Pradesh, roughly: where the existing grievances are spread.
SOUTH, NORTH, WEST, EAST = 12.6, 19.9, 76.7, 84.8
LADDER = [
    {"type": "village_secretariat", "id": "VS-1", "name": {"en": "Secretariat", "te": "సచివాలయం"}},
    {"type": "municipal_office", "id": "MO-1", "name": {"en": "Municipality", "te": "పురపాలిక"}},
]


@dataclass
class GrievancesReport:
    existing: int
    registered: int
    register_p50_ms: float
    register_p95_ms: float
    similar_p50_ms: float
    similar_p95_ms: float
    similar_found: float  # share of look-ups that found one nearby
    escalated: int
    escalations_per_second: float

    def to_json(self) -> dict[str, Any]:
        return {"bench": "grievances", **asdict(self)}


def _ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def run_grievances(
    existing: int, registered: int, lookups: int, progress: Progress | None = None
) -> GrievancesReport:
    rng = random.Random(6)
    catalogue = default_catalogue()
    codes = sorted(s.code for s in catalogue.current.values() if s.grievance is not None)
    with mitra_environment("http://127.0.0.1:9") as menv:
        cipher = cipher_for(menv.settings)
        desk = CaseDesk.create(cipher, catalogue=catalogue)
        with psycopg.connect(menv.database_url, row_factory=dict_row) as conn:
            row = conn.execute(
                "INSERT INTO citizens (wa_id_hash, language) VALUES (%s, 'te') RETURNING id",
                (b"bench",),
            ).fetchone()
            assert row is not None
            citizen = row["id"]
            blob = cipher.encrypt(orjson.dumps({"answers": {}}), context=b"case_answers")
            who = cipher.encrypt(orjson.dumps({"name": "Bench"}), context=b"case_applicant")
            now = datetime.now(UTC)
            task = progress.add_task("existing grievances", total=existing) if progress else None
            batch = 20_000
            for start in range(0, existing, batch):
                n = min(batch, existing - start)
                # The state's backlog, spread over the map and the last 60 days, in bulk.
                conn.execute(
                    "INSERT INTO cases (reference, department, service, service_version, pattern,"
                    " citizen_id, answers_enc, applicant_enc, offices, office_id, status,"
                    " sla_days, sla_hours, due_at, created_at, updated_at, priority, cell_lat,"
                    " cell_lon)"
                    " SELECT 'GRV-BEN-' || (%s + g), 'MUN', (%s::text[])[1 + (g %% %s)], 1,"
                    " 'grievance', %s, %s, %s, %s, 'VS-1', 'registered', 7, 168,"
                    " %s::timestamptz + make_interval(days => 30),"
                    " %s::timestamptz - make_interval(secs => random() * 60 * 86400),"
                    " %s, 'normal', round((%s + random() * %s) * 1000)::int,"
                    " round((%s + random() * %s) * 1000)::int FROM generate_series(1, %s) g",
                    (
                        start,
                        codes,
                        len(codes),
                        citizen,
                        blob,
                        who,
                        orjson.dumps(LADDER).decode(),
                        now,
                        now,
                        now,
                        SOUTH,
                        NORTH - SOUTH,
                        WEST,
                        EAST - WEST,
                        n,
                    ),
                )
                conn.commit()
                if progress and task is not None:
                    progress.advance(task, n)
            conn.execute("ANALYZE cases")
            conn.commit()

            def point() -> tuple[float, float]:
                return rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST)

            task = progress.add_task("register", total=registered) if progress else None
            register: list[float] = []
            made: list[tuple[str, float, float]] = []
            for i in range(registered):
                lat, lon = point()
                code = codes[i % len(codes)]
                service = catalogue.service(code)
                assert service is not None
                area = {
                    "location": {"lat": lat, "lon": lon},
                    "district": {"code": "BEN"},
                    "mandal": {"code": "BEN01"},
                    "offices": {service.department: LADDER, "MUN": LADDER},
                }
                began = time.perf_counter()
                with conn.transaction():
                    store.submit(
                        conn,
                        cipher,
                        citizen_id=citizen,
                        effect_id=f"bench-{i}",
                        service=service,
                        language="te",
                        answers={"describe": "bench", "photos": 0},
                        choices={},
                        area=area,
                        profile_name=None,
                        now=now,
                        department="MUN" if service.department == "GEN" else None,
                    )
                register.append(time.perf_counter() - began)
                made.append((code, lat, lon))
                if progress and task is not None:
                    progress.advance(task)

            task = progress.add_task("already reported?", total=lookups) if progress else None
            similar: list[float] = []
            found = 0
            for i in range(lookups):
                if i % 2 and made:  # half of them next to one just registered
                    code, lat, lon = made[rng.randrange(len(made))]
                    lat, lon = lat + 0.001, lon - 0.001
                else:
                    code, (lat, lon) = codes[rng.randrange(len(codes))], point()
                began = time.perf_counter()
                answer = grievances.similar(conn, code, lat, lon, now)
                similar.append(time.perf_counter() - began)
                found += answer["found"] == "yes"
                if progress and task is not None:
                    progress.advance(task)
            conn.commit()

            # The clock: every grievance registered above is overdue at once.
            longest = max(s.grievance.sla_hours for s in catalogue.current.values() if s.grievance)
            escalate_at = now + timedelta(hours=longest + 1)
            began = time.perf_counter()
            escalated = 0
            while True:
                round_ = run_round(conn, desk.notifier, escalate_at, batch=200)
                escalated += round_.escalated
                if round_.escalated == 0:
                    break
            took = time.perf_counter() - began
    return GrievancesReport(
        existing=existing,
        registered=registered,
        register_p50_ms=round(statistics.median(register) * 1000, 2),
        register_p95_ms=_ms(register, 0.95),
        similar_p50_ms=round(statistics.median(similar) * 1000, 2),
        similar_p95_ms=_ms(similar, 0.95),
        similar_found=round(found / max(1, lookups), 3),
        escalated=escalated,
        escalations_per_second=round(escalated / took, 1) if took else 0.0,
    )


def print_grievances_report(console: Console, report: GrievancesReport) -> None:
    table = Table(title=f"Grievances, with {report.existing:,} already in the database")
    table.add_column("what")
    table.add_column("p50", justify="right")
    table.add_column("p95", justify="right")
    table.add_row(
        f"register one ({report.registered})",
        f"{report.register_p50_ms} ms",
        f"{report.register_p95_ms} ms",
    )
    table.add_row(
        f"already reported nearby? ({report.similar_found:.0%} found)",
        f"{report.similar_p50_ms} ms",
        f"{report.similar_p95_ms} ms",
    )
    console.print(table)
    console.print(
        f"SLA clock: {report.escalated} overdue grievances escalated,"
        f" {report.escalations_per_second}/s"
    )
