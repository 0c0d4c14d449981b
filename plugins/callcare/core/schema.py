"""The registry's schema is what its Alembic migrations say, not what `metadata.create_all` would make.

A production database outlives the code: `create_all` adds missing tables but never changes one, so
every change to the registry's tables ships as a migration under `migrations/versions/`, and
`Registry.create_schema()` (every task, the CLI and the web app call it) upgrades to the head. The
Drive cursor table (`callcare.sources.cursor`; defined in `registry_tables`) lives in the same database and the same history.

Writing a migration (from the repository root, against a scratch database at the current head):

    alembic -c plugins/callcare/core/migrations/alembic.ini -x url=sqlite:////tmp/reg.db upgrade head
    alembic -c plugins/callcare/core/migrations/alembic.ini -x url=sqlite:////tmp/reg.db \
        revision --autogenerate -m "what changed"

Deploying: `callcare db upgrade` (tasks would do it on their first run anyway, under a lock).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from callcare.core.migrator import EngineLike, Migrations

REGISTRY = Migrations(
    name="registry",
    script_location=Path(__file__).resolve().parent / "migrations",
    version_table="callcare_registry_version",
    owned_tables=("calls", "call_events", "source_cursors"),
)
BASELINE = "0001"


def target_metadata() -> list[sa.MetaData]:
    """The tables the registry's migrations must produce (what autogenerate compares against)."""
    from callcare.core.registry_tables import metadata

    return [metadata]


def upgrade(url_or_engine: EngineLike, revision: str = "head") -> str | None:
    """Migrate the registry database to `revision` (default: head); cheap when already there."""
    return REGISTRY.upgrade(url_or_engine, revision)


def current_revision(url_or_engine: EngineLike) -> str | None:
    """The database's registry revision; None when it has no history (empty, or made by create_all)."""
    return REGISTRY.current(url_or_engine)


def head_revision() -> str:
    return REGISTRY.head()
