"""The one error a department call can end in, classified for the conversation.

`kind` is what the conversation needs to tell the citizen plainly:

- `not_found` — no such account, reference, document or place ("check the number");
- `invalid` — the identifier or a parameter is malformed, or names a kind no department
  answers ("that doesn't look like a service number");
- `unavailable` — timed out, 5xx, connection refused or the circuit is open ("the electricity
  department's system is not answering right now; we'll tell you when it is back");
- `unauthorized` — our token was refused: an operator problem, shown to the citizen as
  `unavailable` but alerted.
- `conflict` — a write was refused as inconsistent: an `Idempotency-Key` reused with a
  different request, or a hold that was released ("please start again");
- `sold_out` — a hold asked for more seats, tickets or rooms than are left;
- `expired` — a hold ran out before it was confirmed; its capacity was given back.

`code` is finer-grained, for logs and metrics: the department's own error code
(`not_found`, `unsupported`, …) or one of ours (`timeout`, `connection`, `server_error`,
`circuit_open`, `not_configured`, `bad_response`, `unknown_kind`, `malformed_identifier`,
`bad_check_letter`). Messages never contain tokens or citizens' identifiers.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "not_found", "invalid", "unavailable", "unauthorized", "conflict", "sold_out", "expired"
]


class DepartmentError(Exception):
    """A department call failed; `kind` says how to explain it, `department` to whom."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        department: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.kind: ErrorKind = kind
        self.message = message
        self.department = department
        self.code = code or kind
        self.http_status = http_status
        self.retry_after = retry_after
        super().__init__(message)

    def __str__(self) -> str:
        where = f"{self.department}: " if self.department else ""
        status = f" (HTTP {self.http_status})" if self.http_status is not None else ""
        return f"{where}{self.kind}/{self.code}{status}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"DepartmentError(kind={self.kind!r}, code={self.code!r}, "
            f"department={self.department!r}, http_status={self.http_status!r})"
        )
