"""Login throttling in the database (security review M5): failures per key and known addresses.

The service runs as two or more tasks; a throttle kept in each process's memory counted each task's
failures apart and forgot them at every restart.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("web_login_throttle"):
        return  # a database made by create_all from the current models (as the adoption test does)
    op.create_table(
        "web_login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_web_login_throttle_last_at", "web_login_throttle", ["last_at"])


def downgrade() -> None:
    op.drop_index("ix_web_login_throttle_last_at", table_name="web_login_throttle")
    op.drop_table("web_login_throttle")
