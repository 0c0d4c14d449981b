"""Test setup shared by every suite.

Airflow reads its configuration when first imported, so the environment of a private Airflow home
is set here, at import time, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from callcare.dev.local_stack import airflow_env, initialize

from tests.support.helpers import free_port, render_corpus

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
FIXTURES = SHARED / "fixtures"

# Fixtures more than one suite uses (the aws-profile and fault suites share the fake Drive and moto).
pytest_plugins = ["tests.support.aws_fixtures"]

SESSION_HOME = Path(tempfile.mkdtemp(prefix="callcare-tests-"))


AIRFLOW_PORT = free_port()
os.environ.update(airflow_env(SESSION_HOME, AIRFLOW_PORT))


@pytest.fixture(scope="session")
def airflow_db() -> dict[str, str]:
    """A migrated Airflow metadata database with the callcare pools."""
    env = dict(os.environ)
    with (SESSION_HOME / "init.log").open("w") as log:
        initialize(env, log)
    return env


@pytest.fixture
def callcare_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings pointing at a fresh home (inbox, lake, registry) for one test."""
    from callcare.config import reset_settings

    monkeypatch.setenv("CALLCARE_HOME", str(tmp_path))
    for name in ("CALLCARE_INBOX_DIR", "CALLCARE_LAKE_URI", "CALLCARE_REGISTRY_URL"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    yield tmp_path
    reset_settings()


@pytest.fixture
def ctx(callcare_home: Path):
    from callcare.config import get_settings
    from callcare.core.context import Context

    context = Context.create(get_settings())
    context.registry.create_schema()
    return context


@pytest.fixture
def instant_ctx(callcare_home: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh home with the instant engine and backend: the pipeline minus recognition."""
    from callcare.config import get_settings, reset_settings
    from callcare.core.context import Context

    monkeypatch.setenv("CALLCARE_STT_ENGINE", "instant")
    monkeypatch.setenv("CALLCARE_SUMMARY_BACKEND", "instant")
    reset_settings()
    context = Context.create(get_settings())
    context.registry.create_schema()
    return context


@pytest.fixture(scope="session")
def corpus_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Corpus calls rendered once per session (flite + sox) into a temporary folder."""
    out = tmp_path_factory.mktemp("corpus")
    ids = "call-0023,call-0047,call-0026,call-0014"
    return render_corpus(out, ids.split(","))


PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_databases() -> Iterator[Callable[[str], str]]:
    """Fresh PostgreSQL databases made on demand, `make(purpose)` -> name, all dropped afterwards (a
    rehearsal needs two: MWAA's metadata database and the registry's RDS)."""
    import sqlalchemy as sa  # not at module level: tests/infra runs this conftest without it

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"the tests need PostgreSQL at 127.0.0.1:5432 (user postgres, trust; see README): {exc.orig}"
        )
    made: list[str] = []

    def make(purpose: str) -> str:
        name = f"callcare_{purpose}_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return name

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_databases) -> str:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_databases('test')}"
