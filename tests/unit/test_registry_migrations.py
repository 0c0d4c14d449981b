"""The registry's Alembic history builds, upgrades and adopts databases without losing a row."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from callcare.core import schema
from callcare.core.registry import NewCall, Registry, metadata
from callcare.sources.cursor import CursorStore
from callcare.status import CallStatus


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return _sqlite_url(tmp_path)
    return request.getfixturevalue("pg_url")


def schema_diffs(engine: sa.Engine) -> list:
    """What autogenerate would still do to make the database match the live table definitions."""
    target = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(target)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": schema.REGISTRY.version_table, "compare_type": True}
        )
        return compare_metadata(context, target)


def previous_head() -> str:
    """The revision before head, so a test upgrades across the newest migration (the baseline at first)."""
    cfg = schema.REGISTRY.config()
    head = ScriptDirectory.from_config(cfg).get_revision(schema.head_revision())
    down = head.down_revision
    if isinstance(down, tuple):
        down = down[0]
    return down or schema.BASELINE


def new_call(call_id: str) -> NewCall:
    return NewCall(
        call_id, "inbox", f"{call_id}.wav", "ab" * 32, "2026-09-02", f"file:///lake/{call_id}.wav", "wav", 10
    )


def fill(registry: Registry) -> None:
    for call_id in ("c-1", "c-2", "c-3"):
        registry.register(new_call(call_id))
    registry.transition("c-1", CallStatus.TRANSCRIBING)
    registry.transition("c-1", CallStatus.FAILED, error_message="cannot decode audio")
    registry.transition("c-2", CallStatus.TRANSCRIBING)
    CursorStore(registry.engine).save("gdrive:folder", {"page_token": "42"})


def assert_filled(registry: Registry) -> None:
    assert sorted(c["call_id"] for c in registry.list_calls()) == ["c-1", "c-2", "c-3"]
    assert registry.get("c-1")["error_message"] == "cannot decode audio"
    assert [e["status"] for e in registry.events("c-1")] == ["UPLOADED", "TRANSCRIBING", "FAILED"]
    assert len(list(registry.events())) == 6
    assert CursorStore(registry.engine).load("gdrive:folder") == {"page_token": "42"}


def test_upgrade_builds_the_schema_from_empty(url: str) -> None:
    assert schema.current_revision(url) is None
    assert schema.upgrade(url) == schema.head_revision()
    assert schema.current_revision(url) == schema.head_revision()
    engine = sa.create_engine(url)
    try:
        assert schema_diffs(engine) == []
        tables = set(sa.inspect(engine).get_table_names())
        assert schema.REGISTRY.version_table in tables and "alembic_version" not in tables
    finally:
        engine.dispose()
    assert schema.upgrade(url) == schema.head_revision()  # again: nothing to do


def test_a_registry_at_the_previous_head_upgrades_with_its_data(url: str) -> None:
    schema.upgrade(url, previous_head())
    registry = Registry(url)
    try:
        fill(registry)
        registry.create_schema()
        assert schema.current_revision(registry.engine) == schema.head_revision()
        assert_filled(registry)
        assert schema_diffs(registry.engine) == []
    finally:
        registry.engine.dispose()


def _call_indexes(url: str) -> dict[str, list[str]]:
    engine = sa.create_engine(url)
    try:
        return {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes("calls")}
    finally:
        engine.dispose()


def test_the_list_order_indexes_go_up_and_down_with_the_data(url: str) -> None:
    """0002: a `(column, call_id)` index per order the web list offers; down, the old single-column ones."""
    schema.upgrade(url, "0001")
    registry = Registry(url)
    try:
        fill(registry)
        schema.upgrade(url)
        indexes = _call_indexes(url)
        for column in (
            "updated_at",
            "call_date",
            "status",
            "sentiment",
            "category",
            "agent_id",
            "duration_s",
        ):
            assert indexes[f"ix_calls_{column}_call_id"] == [column, "call_id"]
        assert "ix_calls_status" not in indexes and "ix_calls_call_date" not in indexes
        assert schema_diffs(registry.engine) == []

        schema.REGISTRY.downgrade(url, "0001")
        indexes = _call_indexes(url)
        assert indexes["ix_calls_status"] == ["status"] and indexes["ix_calls_call_date"] == ["call_date"]
        assert not [name for name in indexes if name.endswith("_call_id") and "created_at" not in name]
        assert_filled(registry)

        schema.upgrade(url)
        assert schema.current_revision(url) == schema.head_revision()
        assert schema_diffs(registry.engine) == []
        assert_filled(registry)
    finally:
        registry.engine.dispose()


def test_a_database_made_by_create_all_is_adopted_with_its_data(url: str) -> None:
    registry = Registry(url)
    try:
        metadata.create_all(registry.engine)  # how create_schema made databases before migrations
        fill(registry)
        assert schema.current_revision(registry.engine) is None
        registry.create_schema()
        assert schema.current_revision(registry.engine) == schema.head_revision()
        assert_filled(registry)
        assert schema_diffs(registry.engine) == []
    finally:
        registry.engine.dispose()


def test_adoption_adds_what_an_older_create_all_left_out(tmp_path: Path) -> None:
    """A database from before the list index and the Drive cursor table existed."""
    registry = Registry(_sqlite_url(tmp_path))
    tables = [metadata.tables["calls"], metadata.tables["call_events"]]
    metadata.create_all(registry.engine, tables=tables)
    with registry.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_calls_created_at_call_id"))
    registry.register(new_call("c-1"))
    registry.create_schema()
    assert schema_diffs(registry.engine) == []
    assert registry.get("c-1")["status"] == "UPLOADED"


def _create_schema(url: str) -> None:
    Registry(url).create_schema()


def test_concurrent_create_schema_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    url = _sqlite_url(tmp_path)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_create_schema, args=(url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    assert schema.current_revision(url) == schema.head_revision()


def test_concurrent_create_schema_on_postgresql(pg_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_create_schema, args=(pg_url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    assert schema.current_revision(pg_url) == schema.head_revision()


def test_the_version_table_is_our_own() -> None:
    assert schema.REGISTRY.version_table == "callcare_registry_version"
