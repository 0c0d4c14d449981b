"""The app builds its tables through migrations, which match the models, and adopts older databases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from callcare.core import schema as registry_schema
from callcare.core.registry import NewCall, Registry, metadata
from callcare_web import schema
from callcare_web.config import WebSettings
from flask_appbuilder import Model


def _web_diffs(engine: sa.Engine) -> list:
    """What autogenerate would still do to the web tables to match callcare_web.models."""
    own = schema.web_tables()

    def include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        return type_ != "table" or name in own

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "version_table": schema.WEB.version_table,
                "include_object": include,
                "compare_type": True,
            },
        )
        return compare_metadata(context, Model.metadata)


def test_the_app_builds_a_fresh_database_through_migrations(tmp_path: Path) -> None:
    from callcare_web.app import create_app

    web = WebSettings.from_mapping({"CALLCARE_HOME": str(tmp_path)})
    url = web.core.registry_url
    app = create_app(web)
    assert schema.current_revision(url) == schema.head_revision()
    assert registry_schema.current_revision(url) == registry_schema.head_revision()
    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert {"calls", "call_events", "ab_user", "ab_role", *schema.web_tables()} <= tables
        assert {"callcare_registry_version", "callcare_web_version"} <= tables
        assert "alembic_version" not in tables
        assert _web_diffs(engine) == []
    finally:
        engine.dispose()
    with app.app_context():
        assert app.appbuilder.sm.find_role("admin") is not None  # FAB still set up its roles

    create_app(web)  # a restart finds everything at head


def test_a_web_database_made_by_create_all_is_adopted(tmp_path: Path) -> None:
    from callcare_web.app import create_app

    web = WebSettings.from_mapping({"CALLCARE_HOME": str(tmp_path)})
    url = web.core.registry_url
    registry = Registry(url)
    metadata.create_all(registry.engine)  # the registry and the app as they were made before migrations
    Model.metadata.create_all(registry.engine)
    registry.register(NewCall("c-1", "inbox", "a.wav", "ab" * 32, "2026-09-02", "file:///a.wav", "wav", 10))
    with registry.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO web_audit (at, action, call_id) VALUES ('2026-09-02', 'view', 'c-1')")
        )
    assert schema.current_revision(url) is None

    create_app(web)
    assert schema.current_revision(url) == schema.head_revision()
    assert registry.get("c-1")["status"] == "UPLOADED"
    with registry.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT call_id FROM web_audit")).scalar_one() == "c-1"
    assert _web_diffs(registry.engine) == []
    registry.engine.dispose()


def test_callcare_web_db_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from callcare_web.cli import main

    monkeypatch.setenv("CALLCARE_HOME", str(tmp_path))
    monkeypatch.delenv("CALLCARE_REGISTRY_URL", raising=False)
    assert main(["db", "current"]) == 1
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    out = capsys.readouterr().out
    assert f"web: {schema.head_revision()}  at head" in out
    assert f"registry: {registry_schema.head_revision()}  at head" in out
