"""The registry's tables, as the code reads and writes them: calls, their event outbox, source cursors.

What shapes a database is the migration history (`callcare.core.schema`); these definitions are what
the head of that history must equal, and a test compares them. Kept apart from `registry` so the
migration machinery and the registry's users can import the tables without importing each other.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("source_ref", sa.String(1024), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("call_date", sa.String(10), nullable=False),
    sa.Column("audio_uri", sa.String(2048), nullable=False),
    sa.Column("audio_format", sa.String(16), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_message", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("dispatched_at", sa.DateTime(timezone=True)),
    sa.Column("attempt", sa.Integer, nullable=False, default=1),
    sa.Column("duration_s", sa.Float),
    sa.Column("channels", sa.Integer),
    sa.Column("stt_engine", sa.String(64)),
    sa.Column("transcript_uri", sa.String(2048)),
    sa.Column("metrics_json", sa.Text),
    sa.Column("summary_uri", sa.String(2048)),
    sa.Column("summary_backend", sa.String(64)),
    sa.Column("model_id", sa.String(256)),
    sa.Column("prompt_version", sa.String(16)),
    sa.Column("sentiment", sa.String(16)),
    sa.Column("category", sa.String(64)),
    sa.Column("agent_id", sa.String(64)),
    sa.Column("customer_id", sa.String(64)),
    sa.Column("resolved", sa.Boolean),
    sa.Column("escalated", sa.Boolean),
    sa.Column("cost_usd", sa.Float),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
)

# the web app's call list pages newest first, with call_id as the tiebreaker: one index serves it
sa.Index("ix_calls_created_at_call_id", calls.c.created_at, calls.c.call_id)
# and by each other order it offers, a keyset page at a time (registry migration 0002); the status
# and call date ones also serve the pipeline's and the dashboard's lookups by status and by day
LIST_ORDER_COLUMNS = ("updated_at", "call_date", "status", "sentiment", "category", "agent_id", "duration_s")
for _name in LIST_ORDER_COLUMNS:
    sa.Index(f"ix_calls_{_name}_call_id", calls.c[_name], calls.c.call_id)

call_events = sa.Table(
    "call_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.call_id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("previous_status", sa.String(16)),
    sa.Column("error_message", sa.Text),
    sa.Column("payload_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True)),
)

# where a polling source remembers how far it got (callcare.sources.cursor)
source_cursors = sa.Table(
    "source_cursors",
    metadata,
    sa.Column("source", sa.String(256), primary_key=True),
    sa.Column("state_json", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
