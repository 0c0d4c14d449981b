"""Revocable sessions (security review L2): a generation per user that cookies and tokens must match.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("web_user_session"):
        return  # a database made by create_all from the current models (as the adoption test does)
    op.create_table(
        "web_user_session",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("ab_user.id"), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(32)),
    )


def downgrade() -> None:
    op.drop_table("web_user_session")
