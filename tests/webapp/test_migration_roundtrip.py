"""Every web migration goes down and up again, on SQLite and PostgreSQL, and the schema ends where
the models say: a release rolled back by `alembic downgrade` (docs/OPERATIONS.md, "Change the
database schema") must not be left with half of a migration's triggers or virtual tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from callcare.core import schema as registry_schema
from callcare_web import schema

from tests.webapp.test_migrations import _web_diffs


def _revisions() -> list[tuple[str, str | None]]:
    """(revision, the one below it) from head down to the baseline's child."""
    script = ScriptDirectory.from_config(schema.WEB.config())
    return [
        (rev.revision, rev.down_revision)  # type: ignore[misc]
        for rev in script.walk_revisions()
        if rev.down_revision is not None
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'web.db'}"
    return request.getfixturevalue("pg_url")


def test_each_web_migration_goes_down_and_up_again(url: str) -> None:
    registry_schema.upgrade(url)
    schema.upgrade(url)
    steps = _revisions()
    assert steps, "the web history has migrations above its baseline"
    for revision, below in steps:  # head first: each one down, then all the way down to the baseline
        schema.WEB.downgrade(url, below)
        assert schema.current_revision(url) == below, revision
    assert schema.current_revision(url) == schema.BASELINE

    schema.upgrade(url)
    engine = sa.create_engine(url)
    try:
        assert schema.current_revision(engine) == schema.head_revision()
        assert _web_diffs(engine) == []
    finally:
        engine.dispose()
