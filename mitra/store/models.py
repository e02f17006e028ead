"""The schema, defined once. Alembic migrations are written from it and a fitness test checks
that the migrated database matches it. Hot paths use plain SQL over psycopg (see
docs/decisions/0002-hot-paths-in-sql.md); these tables are their contract.

Personal data is never stored in the clear: columns ending in `_enc` hold AES-GCM ciphertext
(mitra.crypto), columns ending in `_hash` hold keyed hashes for look-ups.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

now = func.now()

# Raw webhook POST bodies, encrypted, exactly as received (after the signature check).
# The webhook's only write; the splitter turns each into inbound_events / message_statuses.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("body_enc", LargeBinary, nullable=True),
    Column("split_at", DateTime(timezone=True)),
    Column("split_error", Text),
    Index("ix_webhook_deliveries_unsplit", "id", postgresql_where=text("split_at IS NULL")),
)

citizens = Table(
    "citizens",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # Keyed hashes of the business-scoped user id and of the WhatsApp id (phone number).
    Column("user_id_hash", LargeBinary, unique=True),
    Column("wa_id_hash", LargeBinary, unique=True),
    Column("user_id_enc", LargeBinary),
    Column("wa_id_enc", LargeBinary),
    Column("profile_name_enc", LargeBinary),
    Column("language", Text),
    Column("consent_at", DateTime(timezone=True)),
    # The conversation engine's state for this citizen, encrypted JSON.
    Column("session_enc", LargeBinary),
    Column("last_inbound_at", DateTime(timezone=True)),
    # Set by the splitter when events arrive; cleared by the processor when none are left.
    Column("has_pending", Boolean, nullable=False, server_default=text("false")),
    Column("pending_since", DateTime(timezone=True)),
    Column("unreachable_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Index("ix_citizens_pending", "pending_since", postgresql_where=text("has_pending")),
)

inbound_events = Table(
    "inbound_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    # NULL for events the platform makes itself (a department's answer to an effect).
    Column("delivery_id", BigInteger, ForeignKey("webhook_deliveries.id")),
    # The wamid (or "effect:<id>"): Meta may deliver a message many times; it takes effect once.
    Column("wamid", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("payload_enc", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("processed_at", DateTime(timezone=True)),
    Column("outcome", Text),
    Index(
        "ix_inbound_events_unprocessed",
        "citizen_id",
        "id",
        postgresql_where=text("processed_at IS NULL"),
    ),
)

outbound_messages = Table(
    "outbound_messages",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    # 0 = a reply to the citizen; 5 = a notification; 9 = bulk (broadcasts). Lower goes first.
    Column("priority", SmallInteger, nullable=False, server_default=text("0")),
    # text, interactive, template, document, image, …: the WhatsApp "type".
    Column("kind", Text, nullable=False),
    Column("payload_enc", LargeBinary, nullable=False),
    Column("in_reply_to", BigInteger, ForeignKey("inbound_events.id")),
    # queued → sending → sent → delivered → read; failed (by Meta) and abandoned (by us) end it.
    Column("status", Text, nullable=False, server_default=text("'queued'")),
    Column("wamid", Text, unique=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("claimed_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("read_at", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
    Column("error_code", Integer),
    Column("error_detail", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Index(
        "ix_outbound_messages_queued",
        "priority",
        "id",
        postgresql_where=text("status = 'queued'"),
    ),
    Index(
        "ix_outbound_messages_sending",
        "claimed_at",
        postgresql_where=text("status = 'sending'"),
    ),
    Index("ix_outbound_messages_citizen", "citizen_id", "id"),
)

# Each (wamid, status) takes effect once; outbound_messages carries the monotonic result.
message_statuses = Table(
    "message_statuses",
    metadata,
    Column("wamid", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("outbound_id", BigInteger, ForeignKey("outbound_messages.id")),
    Column("status_at", DateTime(timezone=True), nullable=False),
    Column("errors", JSONB),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=now),
    PrimaryKeyConstraint("wamid", "status"),
)

# Sending state per citizen: pacing allowance, back-off after 131056, one send in flight.
citizen_send_state = Table(
    "citizen_send_state",
    metadata,
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), primary_key=True),
    Column("allowance", Float, nullable=False),
    Column("allowance_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("paused_until", DateTime(timezone=True)),
    Column("backoff_exponent", SmallInteger, nullable=False, server_default=text("0")),
)

# Token buckets shared by every process (the business number's throughput).
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("name", Text, primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("paused_until", DateTime(timezone=True)),
)

# Department adapter calls the engine asked for; the answer comes back as an inbound event
# ("effect:<id>") so it is processed in the citizen's order like any message.
effects = Table(
    "effects",
    metadata,
    Column("id", Text, primary_key=True),
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("department", Text, nullable=False),
    Column("operation", Text, nullable=False),
    Column("args_enc", LargeBinary, nullable=False),
    # queued → running → done; a running effect whose worker died is queued again.
    Column("status", Text, nullable=False, server_default=text("'queued'")),
    Column("not_before", DateTime(timezone=True), nullable=False, server_default=now),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("claimed_at", DateTime(timezone=True)),
    Column("done_at", DateTime(timezone=True)),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Index("ix_effects_queued", "not_before", postgresql_where=text("status = 'queued'")),
)

# One row per step transition of a service, for funnel and drop-off analysis. No citizen id:
# the funnel needs counts and durations, not people.
conversation_steps = Table(
    "conversation_steps",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("service", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("step", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("seconds", Float),
    Column("at", DateTime(timezone=True), nullable=False, server_default=now),
    Index("ix_conversation_steps_service", "service", "at"),
)

# ---- cases (applications), documents, API keys: docs/decisions/0006-cases.md ------------

# One sequence per reference prefix and year; Mitra numbers from SERIAL_START upwards so it
# never collides with numbers a department system issued before it (mitra.cases.references).
case_serials = Table(
    "case_serials",
    metadata,
    Column("prefix", Text, nullable=False),
    Column("year", Integer, nullable=False),
    Column("last", Integer, nullable=False),
    PrimaryKeyConstraint("prefix", "year"),
)

# An application a citizen made in the chat. Answers and names are personal data: encrypted.
# Area codes and offices are not personal: they scope officers' queries and drive escalation.
cases = Table(
    "cases",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("reference", Text, nullable=False, unique=True),
    Column("department", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("service_version", Integer, nullable=False),
    Column("pattern", Text, nullable=False),  # certificate | application
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("effect_id", Text, unique=True),  # the chat's submit: a retry finds this case
    Column("answers_enc", LargeBinary, nullable=False),
    Column("applicant_enc", LargeBinary, nullable=False),  # name, identity token, last 4
    Column("district_code", Text),
    Column("mandal_code", Text),
    Column("locality_code", Text),
    Column("offices", JSONB, nullable=False),  # the escalation ladder, local first
    Column("level", SmallInteger, nullable=False, server_default=text("0")),
    Column("office_id", Text, nullable=False),  # offices[level].id, for queries
    Column("status", Text, nullable=False, server_default=text("'submitted'")),
    Column("question", Text),  # what the officer asked for when returning it
    Column("reason", Text),  # why it was rejected
    Column("sla_days", Integer, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("reminded_at", DateTime(timezone=True)),
    Column("escalated_at", DateTime(timezone=True)),
    Column("document_id", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=now),
    # Grievances (docs/decisions/0008-grievances.md): a clock in hours, a priority, where the
    # problem is as a ~110 m grid cell (for "is this already reported?", not a person's pin),
    # how many citizens reported it, the officer's resolution and the citizen's rating.
    Column("sla_hours", Integer),
    Column("priority", Text),  # normal | high | emergency
    Column("cell_lat", Integer),  # round(latitude * 1000)
    Column("cell_lon", Integer),
    Column("reports", Integer, nullable=False, server_default=text("1")),
    Column("resolution", Text),
    Column("resolved_at", DateTime(timezone=True)),
    Column("rating", SmallInteger),
    Column("rated_at", DateTime(timezone=True)),
    Column("assignee", Text),  # the officer (console username) who has it, if any
    Index("ix_cases_office_status", "office_id", "status"),
    Index("ix_cases_citizen", "citizen_id", "created_at"),
    Index(
        "ix_cases_open_due",
        "due_at",
        postgresql_where=text(
            "status IN ('submitted', 'in_review', 'returned', 'registered', 'in_progress',"
            " 'reopened')"
        ),
    ),
    Index(
        "ix_cases_grievance_cell",
        "service",
        "cell_lat",
        "cell_lon",
        postgresql_where=text("cell_lat IS NOT NULL"),
    ),
)

# Citizens who reported a grievance someone had already registered and chose to join it: they
# get its status pushes too (the owner stays the one who registered it).
case_followers = Table(
    "case_followers",
    metadata,
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False),
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("joined_at", DateTime(timezone=True), nullable=False, server_default=now),
    PrimaryKeyConstraint("case_id", "citizen_id"),
    Index("ix_case_followers_citizen", "citizen_id"),
)

# Every change of a case: who (actor), what, when. Notes are officers' words, not personal
# data by design (the console says so); citizens' answers to a return go to answers_enc.
case_events = Table(
    "case_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("action", Text, nullable=False),
    Column("from_status", Text),
    Column("to_status", Text),
    Column("actor", Text, nullable=False),  # citizen | officer:<name> | api:<key> | system:sla
    Column("office_id", Text),
    Column("note", Text),
    Index("ix_case_events_case", "case_id", "id"),
)

# Issued documents. The PDF is kept byte for byte (its signature covers the bytes).
documents = Table(
    "documents",
    metadata,
    Column("id", Text, primary_key=True),  # unguessable: it is in the QR code
    Column("case_id", BigInteger, ForeignKey("cases.id")),
    Column("payment_id", BigInteger),  # a receipt or e-ticket (payments.id)
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("title", JSONB, nullable=False),  # {en, te}
    Column("facts_enc", LargeBinary, nullable=False),  # canonical facts (they name the holder)
    Column("pdf_enc", LargeBinary, nullable=False),
    Column("pdf_sha256", Text, nullable=False),
    Column("signature", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("valid_until", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_reason", Text),
    Column("media_id", Text),  # the WhatsApp upload, re-used while it lives
    Column("media_uploaded_at", DateTime(timezone=True)),
    Index("ix_documents_citizen", "citizen_id", "issued_at"),
)

# A document to put in a citizen's chat: upload (outside any transaction), then enqueue.
document_deliveries = Table(
    "document_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("document_id", Text, ForeignKey("documents.id"), nullable=False),
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("status", Text, nullable=False, server_default=text("'queued'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("not_before", DateTime(timezone=True), nullable=False, server_default=now),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Index(
        "ix_document_deliveries_queued", "not_before", postgresql_where=text("status = 'queued'")
    ),
)

# API keys for department systems and tools: only a hash is kept; scopes limit what a key does.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("prefix", Text, nullable=False, unique=True),  # shown in lists: "mk_3f9a…"
    Column("key_hash", LargeBinary, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("department", Text),  # None: every department (administrators)
    Column("scopes", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

# ---- payments and bookings: docs/decisions/0007-payments.md ------------------------------

# A payment for a bill, a booking or a donation. Money is integer paise. What it pays for and
# the conversation's answers (to write the receipt) are personal: encrypted.
payments = Table(
    "payments",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("reference", Text, nullable=False, unique=True),  # PAY-2026-000001-X
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("effect_id", Text, nullable=False, unique=True),  # the chat's pay step: idempotency
    Column("service", Text, nullable=False),
    Column("service_version", Integer, nullable=False),
    Column("department", Text, nullable=False),
    Column("purpose", Text, nullable=False),  # bill | booking | donation
    Column("purpose_ref", Text),  # the hold id for a booking
    Column("details_enc", LargeBinary, nullable=False),
    Column("amount_paise", BigInteger, nullable=False),
    Column("gateway", Text, nullable=False),
    Column("link_id", Text, unique=True),
    Column("link_url", Text),
    Column("gateway_payment_id", Text),
    # created → captured | failed | expired; captured → refunded | partially_refunded
    Column("status", Text, nullable=False, server_default=text("'created'")),
    Column("refunded_paise", BigInteger, nullable=False, server_default=text("0")),
    # After capture: pending → running → done | refunded (the service could not be given)
    Column("fulfilment", Text),
    Column("fulfil_after", DateTime(timezone=True)),
    Column("fulfil_attempts", Integer, nullable=False, server_default=text("0")),
    Column("fulfil_error", Text),
    Column("receipt_document_id", Text),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("captured_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=now),
    Index("ix_payments_open", "created_at", postgresql_where=text("status = 'created'")),
    Index(
        "ix_payments_fulfil",
        "fulfil_after",
        postgresql_where=text("fulfilment IN ('pending', 'running')"),
    ),
    Index("ix_payments_citizen", "citizen_id", "created_at"),
)

# Every gateway callback (and reconciliation finding), once: (gateway, event_id) is unique.
payment_events = Table(
    "payment_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("gateway", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("payment_id", BigInteger, ForeignKey("payments.id")),
    Column("state", Text, nullable=False),
    Column("amount_paise", BigInteger),
    Column("outcome", Text, nullable=False),  # applied | ignored | unknown_link | mismatch
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=now),
    Index("uq_payment_events_gateway_event", "gateway", "event_id", unique=True),
)

# Refunds asked of the gateway; the key makes a retry refund once.
refunds = Table(
    "refunds",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("payment_id", BigInteger, ForeignKey("payments.id"), nullable=False),
    Column("key", Text, nullable=False, unique=True),
    Column("amount_paise", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("gateway_refund_id", Text),
    Column("status", Text, nullable=False, server_default=text("'requested'")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
)

# A booking made in the chat: a hold at the department, paid, then confirmed (or refunded).
bookings = Table(
    "bookings",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("payment_id", BigInteger, ForeignKey("payments.id"), nullable=False, unique=True),
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("department", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("hold_id", Text, nullable=False),
    Column("booking_id", Text, unique=True),  # the department's, once confirmed
    Column("item", JSONB, nullable=False),  # kind, id, date, label
    Column("quantity", Integer, nullable=False),
    # held → confirmed | failed (refunded) | expired; confirmed → cancelling → cancelled
    Column("status", Text, nullable=False, server_default=text("'held'")),
    Column("ticket_document_id", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=now),
    Index("ix_bookings_citizen", "citizen_id", "created_at"),
)

# ---- talking to an officer (handover) ---------------------------------------------------

# A citizen handed from the bot to a department's officers: the bot is silent while it is
# open; officers answer through the API or console; the officer or a timeout hands back.
handovers = Table(
    "handovers",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("department", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'waiting'")),  # → active → closed
    Column("officer", Text),  # who took it
    Column("opened_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("taken_at", DateTime(timezone=True)),
    Column("last_activity_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", Text),
    Index(
        "ix_handovers_open",
        "department",
        "opened_at",
        postgresql_where=text("status <> 'closed'"),
    ),
    Index(
        "uq_handovers_one_open",
        "citizen_id",
        unique=True,
        postgresql_where=text("status <> 'closed'"),
    ),
)

# Media citizens sent (photos, voice notes, PDFs), fetched from the Graph API before its
# download URL expired, checked (type, size, SHA-256) and kept encrypted (mitra.media).
media = Table(
    "media",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("media_id", Text, nullable=False),  # WhatsApp's id
    Column("kind", Text, nullable=False),  # image | audio | document
    Column("mime_type", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("data_enc", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    # The case it is evidence for, once submitted; `officer` media are "after" photos.
    Column("case_id", BigInteger, ForeignKey("cases.id")),
    Column("origin", Text, nullable=False, server_default=text("'citizen'")),
    Index("uq_media_citizen_media", "citizen_id", "media_id", unique=True),
    Index("ix_media_case", "case_id"),
)

# An officer's "after" photo on its way to the citizen's chat: uploaded to the Graph API, then
# sent as an image (like document_deliveries).
media_deliveries = Table(
    "media_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("media_row", BigInteger, ForeignKey("media.id"), nullable=False),
    Column("citizen_id", BigInteger, ForeignKey("citizens.id"), nullable=False),
    Column("caption", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'queued'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("not_before", DateTime(timezone=True), nullable=False, server_default=now),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Index("ix_media_deliveries_queued", "not_before", postgresql_where=text("status = 'queued'")),
)

# ---- the officers' console: accounts, sessions, the audit trail (mitra/console/) --------

# An officer's account. Passwords are Argon2id hashes; the TOTP secret (optional second
# factor) is encrypted. Role and jurisdiction scope every query the console makes.
officers = Table(
    "officers",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False, unique=True),  # lower case
    Column("display_name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),  # admin | head | officer | auditor
    Column("department", Text),
    Column("district", Text),
    Column("mandal", Text),
    Column("office_id", Text),
    Column("totp_secret_enc", LargeBinary),
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", DateTime(timezone=True)),
    Column("disabled_at", DateTime(timezone=True)),
    Column("must_change_password", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("last_login_at", DateTime(timezone=True)),
)

# A signed-in browser: only the SHA-256 of the cookie's token is kept.
officer_sessions = Table(
    "officer_sessions",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),
    Column("officer_id", BigInteger, ForeignKey("officers.id"), nullable=False),
    Column("csrf_token", Text, nullable=False),
    Column("ip", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_officer_sessions_officer", "officer_id"),
)

# A service switched off (or on again) by an administrator, over the catalogue's YAML: citizens
# who ask for a switched-off service are told it is unavailable.
service_switches = Table(
    "service_switches",
    metadata,
    Column("code", Text, primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("changed_by", Text, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("reason", Text),
)

# Who did what, when and from where: every officer action and every sign-in attempt.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=now),
    Column("actor", Text, nullable=False),  # officer:<username> | system | unknown:<username>
    Column("action", Text, nullable=False),
    Column("target", Text),
    Column("ip", Text),
    Column("details", JSONB),
    Index("ix_audit_events_at", "at"),
    Index("ix_audit_events_ip_action", "ip", "action", "at"),
)
