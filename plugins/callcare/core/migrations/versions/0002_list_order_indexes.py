"""Indexes for the web app's call list: `(column, call_id)` for each order it offers (issue 16, part 3).

The list pages by keyset: `WHERE (column, call_id) < (:value, :call_id) ORDER BY column, call_id
LIMIT 25`, and a nullable column's rows with a value and its NULLs as two such reads. Each needs its
composite index, or a page sorts every visible call. `created_at` has had one since the baseline.
The composites on `status` and `call_date` replace their single-column indexes (a composite serves
the same lookups by its first column).

Idempotent both ways (IF [NOT] EXISTS): a database made by `create_all` from the current tables
already has the new indexes when the baseline adopts it, and the baseline gives it the old ones back.

On SQLite the step ends with `ANALYZE calls`: SQLite's planner has no statistics for an index until
then (PostgreSQL keeps them per column, which the new indexes share). On PostgreSQL `CREATE INDEX`
blocks writes to `calls` while it runs (about a second per index at 100,000 calls); the pipeline's
transitions wait, they do not fail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen here (not imported from registry_tables): later changes there must not change this step
COLUMNS = ("updated_at", "call_date", "status", "sentiment", "category", "agent_id", "duration_s")
REPLACED = ("call_date", "status")  # their single-column indexes, ix_calls_<column>


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(f"ix_calls_{column}_call_id", "calls", [column, "call_id"], if_not_exists=True)
    for column in REPLACED:
        op.drop_index(f"ix_calls_{column}", table_name="calls", if_exists=True)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite plans from sqlite_stat1 only: without a row for the new indexes it takes an equality
        # filter's index (sentiment = ?) over the order's and sorts every match for each page
        op.execute("ANALYZE calls")


def downgrade() -> None:
    for column in REPLACED:
        op.create_index(f"ix_calls_{column}", "calls", [column], if_not_exists=True)
    for column in COLUMNS:
        op.drop_index(f"ix_calls_{column}_call_id", table_name="calls", if_exists=True)
