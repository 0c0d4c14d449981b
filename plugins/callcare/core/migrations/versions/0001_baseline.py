"""Baseline: the registry as `metadata.create_all` made it before migrations (calls, call_events, cursors).

The tables are a frozen copy, not an import of `callcare.core.registry`: later migrations change the
live definitions, and this file must keep building the schema they start from. It adds only what a
database lacks, so it also adopts a database made by the old `create_all` (perhaps before an index or
the cursor table existed) and records it at this revision; later migrations then run as on any other.

Revision ID: 0001
Revises:
Create Date: 2026-07-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def baseline_metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    calls = sa.Table(
        "calls",
        metadata,
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.String(1024), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("call_date", sa.String(10), nullable=False, index=True),
        sa.Column("audio_uri", sa.String(2048), nullable=False),
        sa.Column("audio_format", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True)),
        sa.Column("attempt", sa.Integer, nullable=False),
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
    sa.Index("ix_calls_created_at_call_id", calls.c.created_at, calls.c.call_id)
    sa.Table(
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
    sa.Table(
        "source_cursors",
        metadata,
        sa.Column("source", sa.String(256), primary_key=True),
        sa.Column("state_json", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    return metadata


def upgrade() -> None:
    bind = op.get_bind()
    metadata = baseline_metadata()
    metadata.create_all(bind, checkfirst=True)
    for table in metadata.sorted_tables:
        for index in table.indexes:
            index.create(bind, checkfirst=True)


def downgrade() -> None:
    baseline_metadata().drop_all(op.get_bind())
