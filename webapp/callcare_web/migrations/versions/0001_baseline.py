"""Baseline: the web app's tables as `Model.metadata.create_all` made them before migrations.

A frozen copy of callcare_web.models (later migrations change the models, not this file). It adds only
what a database lacks, so it also adopts a database made by the old create_all and records it here.
FAB's ab_user is stubbed only so the foreign keys resolve; callcare_web.schema creates FAB's tables.

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

TABLES = ("web_assignment", "web_call_override", "web_search_doc", "web_audit")


def baseline_metadata() -> sa.MetaData:
    metadata = sa.MetaData(naming_convention={"ix": "ix_%(column_0_label)s"})
    sa.Table("ab_user", metadata, sa.Column("id", sa.Integer, primary_key=True))  # FAB's; never created here
    sa.Table(
        "web_assignment",
        metadata,
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("ab_user.id"), nullable=False, index=True),
        sa.Column("assigned_by_id", sa.Integer, sa.ForeignKey("ab_user.id")),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    sa.Table(
        "web_call_override",
        metadata,
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("roles_swapped", sa.Boolean, nullable=False),
        sa.Column("updated_by_id", sa.Integer, sa.ForeignKey("ab_user.id")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    sa.Table(
        "web_search_doc",
        metadata,
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(4200), nullable=False),
        sa.Column("summary_text", sa.Text, nullable=False),
        sa.Column("transcript_text", sa.Text, nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
    )
    sa.Table(
        "web_audit",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("user_id", sa.Integer, index=True),
        sa.Column("username", sa.String(256)),
        sa.Column("action", sa.String(32), nullable=False, index=True),
        sa.Column("call_id", sa.String(64), index=True),
        sa.Column("detail", sa.Text),
        sa.Column("remote_addr", sa.String(64)),
    )
    return metadata


def upgrade() -> None:
    bind = op.get_bind()
    metadata = baseline_metadata()
    tables = [metadata.tables[name] for name in TABLES]
    metadata.create_all(bind, tables=tables, checkfirst=True)
    for table in tables:
        for index in table.indexes:
            index.create(bind, checkfirst=True)


def downgrade() -> None:
    metadata = baseline_metadata()
    metadata.drop_all(op.get_bind(), tables=[metadata.tables[name] for name in TABLES])
