"""Alembic, configured in code, for a set of tables that shares its database with others.

The registry, the web app's tables, FAB's tables and (locally) nothing else share one database, so
each migration history keeps its own version table and its autogenerate looks only at its own
tables. Every process that touches the database upgrades it on start (Airflow tasks start many at
once), so an upgrade first checks the revision without a lock, and only when behind takes a lock
(an advisory lock on PostgreSQL, a file lock beside the SQLite file) and checks again under it.
No alembic.ini is read at run time: MWAA's plugins folder and the web image carry only the package.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

EngineLike = str | Engine


@dataclass(frozen=True)
class Migrations:
    """One migration history: where its scripts are and which table records how far a database got."""

    name: str
    script_location: Path
    version_table: str
    # tables a database made before this history began already has (their presence means "adopt it")
    owned_tables: Sequence[str] = ()
    # runs under the lock before upgrading, on the migrating connection (tables the history needs first)
    prepare: Callable[[Connection], None] | None = field(default=None, compare=False)

    # -- introspection -------------------------------------------------------------------------
    def config(self, connection: Connection | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.script_location))
        cfg.attributes["migrations"] = self
        if connection is not None:
            cfg.attributes["connection"] = connection
        return cfg

    def head(self) -> str:
        return _head(str(self.script_location))

    def current(self, url_or_engine: EngineLike) -> str | None:
        with _engine(url_or_engine) as engine, engine.connect() as conn:
            return self._current(conn)

    def _current(self, conn: Connection) -> str | None:
        context = MigrationContext.configure(conn, opts={"version_table": self.version_table})
        return context.get_current_revision()

    # -- upgrading -----------------------------------------------------------------------------
    def upgrade(self, url_or_engine: EngineLike, revision: str = "head") -> str | None:
        """Bring the database to `revision`; a no-op (one query) when it is there. Returns the revision."""
        target = self.head() if revision == "head" else revision
        with _engine(url_or_engine) as engine:
            with engine.connect() as conn:
                if self._current(conn) == target:
                    return target
            with _migration_lock(engine, self.name) as conn:
                current = self._current(conn)
                if current == target:
                    conn.commit()
                    return target
                if current is None and self._has_owned_tables(conn):
                    log.info("%s: adopting a database made before migrations (%s)", self.name, _safe(engine))
                if self.prepare is not None:
                    self.prepare(conn)
                log.info("%s: upgrading %s from %s to %s", self.name, _safe(engine), current, target)
                command.upgrade(self.config(conn), revision)
                conn.commit()
                return self._current(conn)

    def downgrade(self, url_or_engine: EngineLike, revision: str) -> None:
        """Take the database down to `revision` (rolling a release back by hand; tests check that
        every migration's downgrade works)."""
        with _engine(url_or_engine) as engine, _migration_lock(engine, self.name) as conn:
            log.info("%s: downgrading %s to %s", self.name, _safe(engine), revision)
            command.downgrade(self.config(conn), revision)
            conn.commit()

    def stamp(self, url_or_engine: EngineLike, revision: str) -> None:
        """Record `revision` without running anything (for repairs by hand)."""
        with _engine(url_or_engine) as engine, _migration_lock(engine, self.name) as conn:
            command.stamp(self.config(conn), revision)
            conn.commit()

    def _has_owned_tables(self, conn: Connection) -> bool:
        inspector = sa.inspect(conn)
        return any(inspector.has_table(name) for name in self.owned_tables)


@functools.lru_cache(maxsize=8)
def _head(script_location: str) -> str:
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {script_location}")
    return head


@contextlib.contextmanager
def _engine(url_or_engine: EngineLike) -> Iterator[Engine]:
    if isinstance(url_or_engine, Engine):
        yield url_or_engine
        return
    from callcare.core.database import make_engine

    engine = make_engine(url_or_engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _safe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, one per migration history."""
    return int.from_bytes(
        hashlib.sha256(f"callcare-migrations:{name}".encode()).digest()[:8], "big", signed=True
    )


@contextlib.contextmanager
def _migration_lock(engine: Engine, name: str) -> Iterator[Connection]:
    """A connection that holds the migration lock of `name` while in the block."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        key = lock_key(name)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            conn.commit()  # a session lock: it outlives this transaction, the migration's DDL is its own
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
        return
    database = engine.url.database if dialect == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        with engine.connect() as conn:
            yield conn
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_env(
    migrations: Migrations,
    target_metadata: sa.MetaData | Sequence[sa.MetaData],
    own_tables: Collection[str] | None = None,
) -> None:
    """The body of a history's env.py: on the caller's connection, or on `-x url=...` from the CLI.

    `own_tables` (default: every table of `target_metadata`) are the ones autogenerate compares; a
    target may hold others only for its foreign keys to resolve (the web tables point at FAB's).
    """
    from alembic import context

    if own_tables is None:
        metadatas = target_metadata if isinstance(target_metadata, Sequence) else [target_metadata]
        own_tables = {name for md in metadatas for name in md.tables}

    def include_object(
        obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
    ) -> bool:
        # the database holds other histories' tables (FAB's, the registry's, the web app's): not ours to drop
        return type_ != "table" or name in own_tables

    options = {
        "target_metadata": target_metadata,
        "version_table": migrations.version_table,
        "include_object": include_object,
        "render_as_batch": True,  # SQLite alters a table by copying it; batch mode does that for it
        "compare_type": True,
    }
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit(f"{migrations.name}: give the database as `alembic -x url=...`")
    if context.config.config_file_name:
        from logging.config import fileConfig

        fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    with _engine(url) as engine, engine.connect() as conn:
        if migrations.prepare is not None:
            migrations.prepare(conn)
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
