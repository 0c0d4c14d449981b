"""The web app's own tables are shaped by their Alembic history, beside the registry's and FAB's.

Three owners share the serving database: the registry (callcare.core.schema, version table
`callcare_registry_version`), FAB (its `ab_*` tables, which FAB creates and upgrades itself) and
this app (`web_*`, version table `callcare_web_version`). The web tables point at `ab_user`, so FAB's
tables are created first, under the same lock. `create_app` upgrades on start; `callcare-web db
upgrade` is the deploy step.

Writing a migration (from the repository root, in .venv-webapp, against a scratch database at head):

    alembic -c webapp/callcare_web/migrations/alembic.ini -x url=sqlite:////tmp/web.db upgrade head
    alembic -c webapp/callcare_web/migrations/alembic.ini -x url=sqlite:////tmp/web.db \\
        revision --autogenerate -m "what changed"

(`upgrade head` there runs only the web history; build the registry first with `callcare db upgrade`.)
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from callcare.core.migrator import EngineLike, Migrations
from flask_appbuilder import Model

# FAB's tables (ab_user...) join Model.metadata: the web tables' foreign keys point at them, and an
# upgrade run before anything imported FAB's security models would not find them
from flask_appbuilder.security.sqla import models as fab_models  # noqa: F401
from sqlalchemy.engine import Connection

from callcare_web import models  # noqa: F401  (the web tables join Model.metadata)


def web_tables() -> frozenset[str]:
    """The tables of this app's models (everything else in FAB's Model.metadata is FAB's)."""
    return frozenset(
        mapper.local_table.name
        for mapper in Model.registry.mappers
        if mapper.class_.__module__.startswith("callcare_web.")
    )


def create_fab_tables(conn: Connection) -> None:
    """FAB's own tables, as FAB would create them (the web tables' foreign keys need ab_user)."""
    own = web_tables()
    fab = [table for table in Model.metadata.sorted_tables if table.name not in own]
    Model.metadata.create_all(conn, tables=fab, checkfirst=True)


WEB = Migrations(
    name="web",
    script_location=Path(__file__).resolve().parent / "migrations",
    version_table="callcare_web_version",
    owned_tables=tuple(sorted(web_tables())),
    prepare=create_fab_tables,
)
BASELINE = "0001"


def target_metadata() -> sa.MetaData:
    return Model.metadata


def upgrade(url_or_engine: EngineLike, revision: str = "head") -> str | None:
    """FAB's tables if missing, then the web tables to `revision` (default: head); cheap when there."""
    return WEB.upgrade(url_or_engine, revision)


def current_revision(url_or_engine: EngineLike) -> str | None:
    return WEB.current(url_or_engine)


def head_revision() -> str:
    return WEB.head()
