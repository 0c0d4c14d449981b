"""Full-text search with the database's own index (issue 16): FTS5 on SQLite, tsvector + GIN on PostgreSQL.

`web_search_doc` is rebuilt with the text split by field (ids, issue sentence, other summary fields,
transcript), an integer id for the index to point at, and the outbox event the text is as of. The
old rows are dropped, not converted: they held one lower-cased blob per document, without the fields
the ranking weighs, and everything in them is derived from the lake. The app's search catch-up
(callcare_web.search_index.reconcile) rebuilds them in the background at its first search or live
poll after the upgrade; until then a search finds only what it has re-indexed.

The index itself, `web_search_fts`, is kept by triggers on `web_search_doc`, so no writer can forget
it (the app's indexer writes only `web_search_doc`):

- SQLite: an external-content FTS5 table over the four text columns (porter stemming, unicode61 with
  diacritics removed), with the insert/delete/update triggers the FTS5 documentation gives.
- PostgreSQL: a table of one weighted tsvector per document (A ids, B issue, C summary, D transcript;
  the `english` configuration) with a GIN index, written by a PL/pgSQL trigger.

Neither is in callcare_web.models (each is its dialect's own; autogenerate compares only the modelled
tables). A later migration that alters `web_search_doc` on SQLite in batch mode copies the table and
drops these triggers with it: it must create them again (`create_index_sqlite` below).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIELDS = ("ids_text", "issue_text", "summary_text", "transcript_text")


def create_index_sqlite() -> None:
    cols = ", ".join(FIELDS)
    new = ", ".join(f"new.{c}" for c in FIELDS)
    old = ", ".join(f"old.{c}" for c in FIELDS)
    op.execute(
        f"CREATE VIRTUAL TABLE web_search_fts USING fts5({cols}, content='web_search_doc', "
        "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER web_search_fts_ai AFTER INSERT ON web_search_doc BEGIN "
        f"INSERT INTO web_search_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER web_search_fts_ad AFTER DELETE ON web_search_doc BEGIN "
        f"INSERT INTO web_search_fts(web_search_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER web_search_fts_au AFTER UPDATE OF {cols} ON web_search_doc BEGIN "
        f"INSERT INTO web_search_fts(web_search_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO web_search_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )


def create_index_postgresql() -> None:
    op.execute(
        "CREATE TABLE web_search_fts ("
        " doc_id integer PRIMARY KEY REFERENCES web_search_doc (id) ON DELETE CASCADE,"
        " document tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_web_search_fts_document ON web_search_fts USING gin (document)")
    op.execute(
        """
        CREATE FUNCTION web_search_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO web_search_fts (doc_id, document) VALUES (
                NEW.id,
                setweight(to_tsvector('english', NEW.ids_text), 'A')
                || setweight(to_tsvector('english', NEW.issue_text), 'B')
                || setweight(to_tsvector('english', NEW.summary_text), 'C')
                || setweight(to_tsvector('english', NEW.transcript_text), 'D'))
            ON CONFLICT (doc_id) DO UPDATE SET document = EXCLUDED.document;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER web_search_fts_sync AFTER INSERT OR UPDATE OF "
        f"{', '.join(FIELDS)} ON web_search_doc FOR EACH ROW EXECUTE FUNCTION web_search_fts_sync()"
    )


def drop_index() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("web_search_fts_ai", "web_search_fts_ad", "web_search_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS web_search_fts")
    elif dialect == "postgresql":
        op.execute("DROP TABLE IF EXISTS web_search_fts")
        op.execute("DROP FUNCTION IF EXISTS web_search_fts_sync() CASCADE")


def upgrade() -> None:
    drop_index()
    # derived from the lake: dropped and rebuilt (also when create_all made it from the current model)
    op.drop_table("web_search_doc")
    op.create_table(
        "web_search_doc",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(4200), nullable=False),
        sa.Column("event_id", sa.Integer),
        *(sa.Column(name, sa.Text, nullable=False) for name in FIELDS),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_search_doc_call_id", "web_search_doc", ["call_id"], unique=True)
    op.create_index("ix_web_search_doc_event_id", "web_search_doc", ["event_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        create_index_sqlite()
    elif dialect == "postgresql":
        create_index_postgresql()
    else:
        raise RuntimeError(f"full-text search supports SQLite and PostgreSQL, not {dialect}")


def downgrade() -> None:
    drop_index()
    op.drop_table("web_search_doc")
    op.create_table(
        "web_search_doc",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(4200), nullable=False),
        sa.Column("summary_text", sa.Text, nullable=False),
        sa.Column("transcript_text", sa.Text, nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
    )
