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
    Column("body_enc", LargeBinary, nullable=False),
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
