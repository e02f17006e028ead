"""The life of a case, as a table: which action moves which status where, and who may take it.

    submitted ─review─► in_review ─approve─► approved ─issue─► issued
        │                │   ▲  └──reject──► rejected
        │                │   └──answer (citizen)──┐
        └────return──────┴──► returned ───────────┘
    submitted / in_review / returned ─withdraw (citizen)─► withdrawn

A grievance lives by its own table (GRIEVANCE_RULES):

    registered ─start─► in_progress ─resolve─► resolved ─close (rating, or the clock)─► closed
        │                  │    ▲                 │
        │                  │    └─── reopened ◄───┘ reopen (citizen, within a period)
        └─────reject───────┴──► rejected          withdraw (citizen) while open

Escalation and reminders move a case up its office ladder without changing its status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal[
    "submitted",
    "in_review",
    "returned",
    "approved",
    "rejected",
    "issued",
    "withdrawn",
    "registered",
    "in_progress",
    "resolved",
    "reopened",
    "closed",
]
APPLICATION_STATUSES: tuple[Status, ...] = (
    "submitted",
    "in_review",
    "returned",
    "approved",
    "rejected",
    "issued",
    "withdrawn",
)
GRIEVANCE_STATUSES: tuple[Status, ...] = (
    "registered",
    "in_progress",
    "resolved",
    "reopened",
    "closed",
    "rejected",
    "withdrawn",
)
STATUSES: tuple[Status, ...] = (
    *APPLICATION_STATUSES,
    "registered",
    "in_progress",
    "resolved",
    "reopened",
    "closed",
)
GRIEVANCE_OPEN: frozenset[str] = frozenset({"registered", "in_progress", "reopened"})
# Open: the SLA clock runs and the office must act.
OPEN: frozenset[str] = frozenset({"submitted", "in_review", "returned"}) | GRIEVANCE_OPEN

ActorKind = Literal["citizen", "officer", "api", "system"]
OFFICE = frozenset({"officer", "api"})  # people and systems working for the department


@dataclass(frozen=True)
class Rule:
    sources: frozenset[str]
    target: str
    by: frozenset[str]
    needs_note: bool = False  # a reason (reject) or a question (return) is required


RULES: dict[str, Rule] = {
    "review": Rule(frozenset({"submitted"}), "in_review", OFFICE),
    "return": Rule(frozenset({"submitted", "in_review"}), "returned", OFFICE, needs_note=True),
    "answer": Rule(frozenset({"returned"}), "in_review", frozenset({"citizen"})),
    "approve": Rule(frozenset({"in_review"}), "approved", OFFICE),
    "reject": Rule(frozenset({"in_review"}), "rejected", OFFICE, needs_note=True),
    "issue": Rule(frozenset({"approved"}), "issued", OFFICE | {"system"}),
    "withdraw": Rule(OPEN, "withdrawn", frozenset({"citizen"})),
}
GRIEVANCE_RULES: dict[str, Rule] = {
    "start": Rule(frozenset({"registered", "reopened"}), "in_progress", OFFICE),
    "resolve": Rule(GRIEVANCE_OPEN, "resolved", OFFICE, needs_note=True),
    "reject": Rule(GRIEVANCE_OPEN, "rejected", OFFICE, needs_note=True),
    "reopen": Rule(frozenset({"resolved"}), "reopened", frozenset({"citizen"})),
    "close": Rule(frozenset({"resolved"}), "closed", frozenset({"citizen", "system"})),
    "withdraw": Rule(GRIEVANCE_OPEN, "withdrawn", frozenset({"citizen"})),
}
ACTIONS = tuple(RULES)


def rules_for(pattern: str) -> dict[str, Rule]:
    return GRIEVANCE_RULES if pattern == "grievance" else RULES


class CaseError(Exception):
    """An action refused: `kind` is not_found | illegal | invalid | forbidden."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def check(
    action: str, status: str, actor: ActorKind, note: str | None, pattern: str = "application"
) -> Rule:
    """The rule for `action` on a case in `status`, or CaseError saying why not."""
    rules = rules_for(pattern)
    rule = rules.get(action)
    if rule is None:
        raise CaseError("invalid", f"no action {action!r}; actions: {', '.join(rules)}")
    if actor not in rule.by:
        raise CaseError("forbidden", f"a {actor} cannot {action} a case")
    if status not in rule.sources:
        raise CaseError("illegal", f"cannot {action} a case that is {status.replace('_', ' ')}")
    if rule.needs_note and not (note and note.strip()):
        what = {"reject": "a reason", "resolve": "a note of what was done"}.get(
            action, "what information is needed"
        )
        raise CaseError("invalid", f"{action} needs {what}")
    return rule


def allowed(status: str, actor: ActorKind, pattern: str = "application") -> list[str]:
    """The actions `actor` may take on a case in `status` (the console shows these)."""
    return [a for a, r in rules_for(pattern).items() if status in r.sources and actor in r.by]
