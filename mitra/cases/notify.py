"""Telling the citizen when their case changes, in their language, in the same transaction as
the change: a free-form message inside WhatsApp's 24-hour window, an approved template
outside it. Approval issues the document here too, so "approved" and the certificate arrive as
one message and one PDF."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from mitra.cases import store
from mitra.cases.delivery import deliver
from mitra.cases.store import Actor
from mitra.catalogue.loader import Catalogue
from mitra.conversation.locale import t
from mitra.conversation.render import localized, status_label
from mitra.crypto import FieldCipher
from mitra.outbox.queue import PRIORITY_NOTIFICATION, enqueue
from mitra.whatsapp import messages
from mitra.whatsapp.messages import OutboundMessage
from mitra.whatsapp.templates import TemplateRegistry, load_registry

WINDOW = timedelta(hours=24) - timedelta(minutes=10)  # leave time for the queue
ANSWER_SERVICE = "GEN-15"  # "answer the officer's question", started about one case
RATE_SERVICE = "GEN-11"  # "rate it, or reopen it", started about one grievance
GRIEVANCE_PUSH = {
    "start": "grievance_push_in_progress",
    "resolve": "grievance_push_resolved",
    "reject": "grievance_push_rejected",
    "escalate": "grievance_push_escalated",
    "reopen": "grievance_push_reopened",
    "close": "grievance_push_closed",
}

# Issues the case's document: (conn, case, actor, now) → document id, or None if the service
# issues none. mitra.cases.issue.Issuer implements it.
IssueDocument = Callable[[psycopg.Connection[Any], dict[str, Any], Actor, datetime], str | None]


@dataclass
class Notifier:
    cipher: FieldCipher
    catalogue: Catalogue
    issue_document: IssueDocument | None = None
    templates: TemplateRegistry | None = None
    reopen_days: int = 7  # said in the "resolved" push; the SLA policy enforces it

    def __post_init__(self) -> None:
        if self.templates is None:
            self.templates = load_registry()

    def after(
        self,
        conn: psycopg.Connection[Any],
        case: dict[str, Any],
        action: str,
        actor: Actor,
        note: str | None,
        now: datetime,
    ) -> None:
        """Called by store.act inside its transaction."""
        if case["pattern"] == "grievance":
            # The clock closing an unrated grievance says nothing; everything else is told.
            if action in GRIEVANCE_PUSH and not (action == "close" and actor.kind == "system"):
                self.push(conn, case, action, note, now)
            return
        if action == "approve" and self.issue_document is not None:
            document_id = self.issue_document(conn, case, actor, now)
            if document_id is not None:
                store.act(conn, case["reference"], "issue", Actor("system", "documents"), now=now)
                case["status"] = "issued"
                case["document_id"] = document_id
                self.push(conn, case, "issue", note, now)
                deliver(conn, document_id, case["citizen_id"])
                return
        if action in ("review", "return", "approve", "reject", "escalate"):
            self.push(conn, case, action, note, now)

    def push(
        self,
        conn: psycopg.Connection[Any],
        case: dict[str, Any],
        action: str,
        note: str | None,
        now: datetime,
    ) -> None:
        """Tell the citizen (and, for a grievance, everyone who joined it)."""
        recipients = [case["citizen_id"]]
        if case["pattern"] == "grievance":
            recipients += [
                r["citizen_id"]
                for r in conn.execute(
                    "SELECT citizen_id FROM case_followers WHERE case_id = %s ORDER BY joined_at",
                    (case["id"],),
                ).fetchall()
            ]
        for citizen_id in recipients:
            person = conn.execute(
                "SELECT language, last_inbound_at, unreachable_at FROM citizens WHERE id = %s",
                (citizen_id,),
            ).fetchone()
            if person is None or person["unreachable_at"] is not None:
                continue
            lang = person["language"] or "te"
            in_window = person["last_inbound_at"] is not None and (
                now - person["last_inbound_at"] < WINDOW
            )
            owner = citizen_id == case["citizen_id"]
            message = (
                self.free_form(case, action, note, lang, owner=owner)
                if in_window
                else self.template(case, action, note, lang)
            )
            enqueue(
                conn, self.cipher, [(citizen_id, message, None)], priority=PRIORITY_NOTIFICATION
            )

    def _names(self, case: dict[str, Any], lang: str) -> dict[str, str]:
        service = store.service_of(self.catalogue, case)
        offices = {o["id"]: o for o in case["offices"]}
        office = offices.get(case["office_id"]) or case["offices"][0]
        document = (
            service.document.title(lang)
            if service is not None and service.document is not None
            else (service.title(lang) if service else case["service"])
        )
        return {
            "reference": case["reference"],
            "service": service.title(lang) if service else case["service"],
            "office": localized(office.get("name"), lang),
            "document": document,
        }

    def free_form(
        self, case: dict[str, Any], action: str, note: str | None, lang: str, owner: bool = True
    ) -> OutboundMessage:
        names = self._names(case, lang)
        if case["pattern"] == "grievance":
            body = t(
                lang,
                GRIEVANCE_PUSH[action],
                note=note or "",
                reason=note or "",
                days=str(self.reopen_days),
                **names,
            )
            if action == "resolve" and owner:
                # The one who registered it rates it, or reopens it if it is not fixed.
                button = (
                    f"svc:{RATE_SERVICE}:{case['reference']}",
                    t(lang, "grievance_push_rate_button"),
                )
                return messages.reply_buttons(body[:1024], [button])
            return messages.text(body)
        key = {
            "review": "case_push_in_review",
            "return": "case_push_returned",
            "approve": "case_push_approved",
            "reject": "case_push_rejected",
            "issue": "case_push_issued",
            "escalate": "case_push_escalated",
        }[action]
        body = t(lang, key, question=note or "", reason=note or "", **names)
        if action == "return":
            return messages.reply_buttons(
                body,
                [
                    (
                        f"svc:{ANSWER_SERVICE}:{case['reference']}",
                        t(lang, "case_push_answer_button"),
                    )
                ],
            )
        return messages.text(body)

    def template(
        self, case: dict[str, Any], action: str, note: str | None, lang: str
    ) -> OutboundMessage:
        assert self.templates is not None
        names = self._names(case, lang)
        if action == "return":
            return self.templates.build(
                "case_returned_for_information",
                lang,
                {
                    "reference": names["reference"],
                    "service": names["service"],
                    "information_needed": " ".join((note or "").split())[:600],
                },
            )
        if action == "issue":
            return self.templates.build(
                "document_issued",
                lang,
                {"document": names["document"], "reference": names["reference"]},
            )
        said = " ".join((note or "").split())[:500]
        if case["pattern"] == "grievance":
            step = {
                "resolve": f"{said} {t(lang, 'grievance_next_rate')}".strip(),
                "reject": said or t(lang, "case_next_wait"),
                "escalate": t(lang, "case_next_escalated", office=names["office"]),
            }.get(action, t(lang, "case_next_wait"))
            return self.templates.build(
                "case_status_update",
                lang,
                {
                    "reference": names["reference"],
                    "service": names["service"],
                    "status": status_label(case["status"], lang),
                    "next_step": step,
                },
            )
        next_step = {
            "review": t(lang, "case_next_wait"),
            "approve": t(lang, "case_next_wait"),
            "reject": " ".join((note or "").split())[:600] or t(lang, "case_next_wait"),
            "escalate": t(lang, "case_next_escalated", office=names["office"]),
        }[action]
        return self.templates.build(
            "case_status_update",
            lang,
            {
                "reference": names["reference"],
                "service": names["service"],
                "status": status_label(case["status"], lang),
                "next_step": next_step,
            },
        )
