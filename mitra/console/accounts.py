"""Officer accounts: who may sign in to the console, as what, over which part of the state.

Passwords are Argon2id hashes (argon2-cffi, re-hashed on sign-in when the parameters move on);
five wrong passwords lock an account for 15 minutes, and an address that keeps failing is
throttled whatever accounts it tries. A second factor (TOTP, RFC 6238, through
`cryptography`) is optional per account; its secret is encrypted like citizens' data.

Roles: `admin` (the whole state, everything), `head` (one department, state-wide), `officer`
(one department and a jurisdiction: a district, a mandal or an office), `auditor` (read-only,
the audit trail). `scope_of` turns an account into the `Scope` every query takes.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from mitra.cases.store import Scope
from mitra.console import audit
from mitra.crypto import FieldCipher

Role = Literal["admin", "head", "officer", "auditor"]
ROLES: tuple[Role, ...] = ("admin", "head", "officer", "auditor")
MAX_FAILURES = 5
LOCKED_FOR = timedelta(minutes=15)
# An address with this many failed sign-ins in THROTTLE_WINDOW is refused for a while.
THROTTLE_FAILURES = 20
THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 12

_hasher = PasswordHasher()


class AuthError(Exception):
    """`kind`: bad_credentials | locked | throttled | second_factor | invalid."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind = kind


@dataclass(frozen=True)
class Officer:
    id: int
    username: str
    display_name: str
    role: Role
    department: str | None
    district: str | None
    mandal: str | None
    office_id: str | None
    has_totp: bool
    must_change_password: bool = False

    @property
    def label(self) -> str:
        return f"officer:{self.username}"

    @property
    def can_act(self) -> bool:
        """Auditors read; everyone else may act on what their scope holds."""
        return self.role != "auditor"


def scope_of(officer: Officer) -> Scope:
    if officer.role in ("admin", "auditor"):
        return Scope()
    if officer.role == "head":
        return Scope(department=officer.department)
    return Scope(
        department=officer.department,
        district=officer.district,
        mandal=officer.mandal,
        office_id=officer.office_id,
    )


def _officer(row: dict[str, Any]) -> Officer:
    return Officer(
        row["id"],
        row["username"],
        row["display_name"],
        row["role"],
        row["department"],
        row["district"],
        row["mandal"],
        row["office_id"],
        row["totp_secret_enc"] is not None,
        row["must_change_password"],
    )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError("invalid", f"a password needs at least {MIN_PASSWORD} characters")


def new_password() -> str:
    """A temporary password to hand over in person (the officer changes it)."""
    return secrets.token_urlsafe(12)


def create(
    conn: psycopg.Connection[Any],
    username: str,
    display_name: str,
    role: str,
    password: str,
    *,
    department: str | None = None,
    district: str | None = None,
    mandal: str | None = None,
    office_id: str | None = None,
) -> Officer:
    name = username.strip().lower()
    if not name or not name.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise AuthError("invalid", "a username is letters, digits, dots, dashes or underscores")
    if role not in ROLES:
        raise AuthError("invalid", f"a role is one of {', '.join(ROLES)}")
    if role in ("head", "officer") and not department:
        raise AuthError("invalid", f"a {role} belongs to a department")
    if role == "officer" and not (district or mandal or office_id):
        raise AuthError("invalid", "an officer has a jurisdiction: a district, mandal or office")
    _check_password(password)
    row = conn.execute(
        "INSERT INTO officers (username, display_name, password_hash, role, department,"
        " district, mandal, office_id, must_change_password)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, true)"
        " ON CONFLICT (username) DO NOTHING RETURNING *",
        (
            name,
            display_name.strip(),
            _hasher.hash(password),
            role,
            department.upper() if department else None,
            district.upper() if district else None,
            mandal.upper() if mandal else None,
            office_id.upper() if office_id else None,
        ),
    ).fetchone()
    if row is None:
        raise AuthError("invalid", f"{name} already exists")
    audit.record(conn, "system", "officer_create", name, None, {"role": role})
    return _officer(row)


def find(conn: psycopg.Connection[Any], username: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM officers WHERE username = %s", (username.strip().lower(),)
    ).fetchone()
    return dict(row) if row is not None else None


def by_id(conn: psycopg.Connection[Any], officer_id: int) -> Officer | None:
    row = conn.execute(
        "SELECT * FROM officers WHERE id = %s AND disabled_at IS NULL", (officer_id,)
    ).fetchone()
    return _officer(row) if row is not None else None


def reset_password(conn: psycopg.Connection[Any], username: str, password: str) -> None:
    """A new password (and the lock lifted); the officer must change it at next sign-in."""
    _check_password(password)
    done = conn.execute(
        "UPDATE officers SET password_hash = %s, failed_logins = 0, locked_until = NULL,"
        " must_change_password = true WHERE username = %s RETURNING id",
        (_hasher.hash(password), username.strip().lower()),
    ).fetchone()
    if done is None:
        raise AuthError("invalid", f"no officer {username}")
    conn.execute("DELETE FROM officer_sessions WHERE officer_id = %s", (done["id"],))
    audit.record(conn, "system", "officer_reset", username.strip().lower(), None, None)


def disable(conn: psycopg.Connection[Any], username: str) -> None:
    """Signed out everywhere at once, and no sign-in from now on."""
    done = conn.execute(
        "UPDATE officers SET disabled_at = now() WHERE username = %s RETURNING id",
        (username.strip().lower(),),
    ).fetchone()
    if done is None:
        raise AuthError("invalid", f"no officer {username}")
    conn.execute("DELETE FROM officer_sessions WHERE officer_id = %s", (done["id"],))
    audit.record(conn, "system", "officer_disable", username.strip().lower(), None, None)


def enable_totp(
    conn: psycopg.Connection[Any], cipher: FieldCipher, username: str, issuer: str = "Mitra"
) -> str:
    """Turn on the second factor; returns the otpauth:// URI to put in an authenticator app."""
    secret = os.urandom(20)
    done = conn.execute(
        "UPDATE officers SET totp_secret_enc = %s WHERE username = %s RETURNING id",
        (cipher.encrypt(secret, context=b"officer_totp"), username.strip().lower()),
    ).fetchone()
    if done is None:
        raise AuthError("invalid", f"no officer {username}")
    audit.record(conn, "system", "officer_totp", username.strip().lower(), None, None)
    return _totp(secret).get_provisioning_uri(username.strip().lower(), issuer)


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what RFC 6238 and every authenticator app use for TOTP; as an HMAC it is sound.
    return TOTP(secret, 6, SHA1(), 30, enforce_key_length=False)  # noqa: S303


def totp_code(secret: bytes, at: float | None = None) -> str:
    """The current code (tests and drills)."""
    return _totp(secret).generate(int(at if at is not None else time.time())).decode()


def secret_from_uri(uri: str) -> bytes:
    encoded = uri.split("secret=", 1)[1].split("&", 1)[0]
    return base64.b32decode(encoded + "=" * (-len(encoded) % 8))


def _throttled(conn: psycopg.Connection[Any], ip: str | None, now: datetime) -> bool:
    if not ip:
        return False
    row = conn.execute(
        "SELECT count(*) AS n FROM audit_events WHERE ip = %s AND action = 'login_failed'"
        " AND at > %s",
        (ip, now - THROTTLE_WINDOW),
    ).fetchone()
    return bool(row and row["n"] >= THROTTLE_FAILURES)


def authenticate(
    conn: psycopg.Connection[Any],
    cipher: FieldCipher,
    username: str,
    password: str,
    code: str | None,
    ip: str | None,
    now: datetime | None = None,
) -> Officer | AuthError:
    """The officer, or the refusal — returned, not raised, so the caller's transaction keeps
    what a failure records: wrong passwords count towards the lock, and every attempt is in
    the audit trail. The same refusal for an unknown user and a wrong password."""
    moment = now or datetime.now(UTC)
    name = username.strip().lower()[:100]
    if _throttled(conn, ip, moment):
        audit.record(conn, f"unknown:{name}", "login_throttled", name, ip, None, at=moment)
        return AuthError("throttled", "too many failed sign-ins from this address; wait a while")
    row = conn.execute("SELECT * FROM officers WHERE username = %s FOR UPDATE", (name,)).fetchone()
    if row is None or row["disabled_at"] is not None:
        _hasher.hash(password or "x")  # the same time as a real check: no user enumeration
        audit.record(conn, f"unknown:{name}", "login_failed", name, ip, None, at=moment)
        return AuthError("bad_credentials", "wrong username or password")
    if row["locked_until"] is not None and row["locked_until"] > moment:
        audit.record(conn, f"officer:{name}", "login_locked", name, ip, None, at=moment)
        return AuthError("locked", "this account is locked for a few minutes after wrong passwords")
    try:
        _hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        failures = row["failed_logins"] + 1
        locked = moment + LOCKED_FOR if failures >= MAX_FAILURES else None
        conn.execute(
            "UPDATE officers SET failed_logins = %s, locked_until = %s WHERE id = %s",
            (0 if locked else failures, locked, row["id"]),
        )
        audit.record(
            conn,
            f"officer:{name}",
            "login_failed",
            name,
            ip,
            {"locked": bool(locked)},
            at=moment,
        )
        return AuthError("bad_credentials", "wrong username or password")
    if row["totp_secret_enc"] is not None:
        secret = cipher.decrypt_bytes(bytes(row["totp_secret_enc"]), context=b"officer_totp")
        try:
            _totp(secret).verify((code or "").strip().encode(), int(moment.timestamp()))
        except InvalidToken:
            audit.record(
                conn, f"officer:{name}", "login_failed", name, ip, {"totp": True}, at=moment
            )
            return AuthError("second_factor", "the code from the authenticator app")
    if _hasher.check_needs_rehash(row["password_hash"]):
        conn.execute(
            "UPDATE officers SET password_hash = %s WHERE id = %s",
            (_hasher.hash(password), row["id"]),
        )
    conn.execute(
        "UPDATE officers SET failed_logins = 0, locked_until = NULL, last_login_at = %s"
        " WHERE id = %s",
        (moment, row["id"]),
    )
    audit.record(conn, f"officer:{name}", "login", name, ip, None, at=moment)
    return _officer(row)


def change_password(
    conn: psycopg.Connection[Any], officer: Officer, current: str, new: str, ip: str | None
) -> None:
    """The officer's own change (required after a temporary password): the current one must
    be right, the new one long enough and different."""
    row = conn.execute(
        "SELECT password_hash FROM officers WHERE id = %s FOR UPDATE", (officer.id,)
    ).fetchone()
    try:
        _hasher.verify(row["password_hash"] if row else "", current)
    except (VerificationError, InvalidHashError):
        raise AuthError("bad_credentials", "the current password is not right") from None
    _check_password(new)
    if new == current:
        raise AuthError("invalid", "the new password must differ from the current one")
    conn.execute(
        "UPDATE officers SET password_hash = %s, must_change_password = false WHERE id = %s",
        (_hasher.hash(new), officer.id),
    )
    audit.record(conn, officer.label, "password_change", officer.username, ip, None)


def listing(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            "SELECT username, display_name, role, department, district, mandal, office_id,"
            " totp_secret_enc IS NOT NULL AS totp, disabled_at, last_login_at FROM officers"
            " ORDER BY username"
        ).fetchall()
    ]
