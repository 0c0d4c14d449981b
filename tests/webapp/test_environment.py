"""The web app's environment: the pins that must match MWAA's, and what the app needs of callcare."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MWAA = REPO.parent / "shared" / "mwaa" / "mwaa-3.3.1-essential-constraints.txt"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("callcare_web") is None or importlib.util.find_spec("flask_appbuilder") is None,
    reason="needs the web app environment: .venv-webapp (webapp/bootstrap.sh)",
)


def test_flask_stack_matches_mwaa() -> None:
    pins = dict(
        re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line).groups()  # type: ignore[union-attr]
        for line in MWAA.read_text().splitlines()
        if re.match(r"^[A-Za-z0-9_.-]+==", line)
    )
    for name in (
        "flask-appbuilder",
        "Flask",
        "Flask-Babel",
        "Flask-JWT-Extended",
        "Flask-Limiter",
        "Flask-Login",
        "Flask-SQLAlchemy",
        "Flask-WTF",
        "SQLAlchemy",
        "gunicorn",
    ):
        assert importlib.metadata.version(name) == pins[name], name


def test_callcare_is_importable_without_airflow() -> None:
    import callcare.config
    import callcare.core.lake
    import callcare.core.registry  # noqa: F401

    assert importlib.util.find_spec("airflow") is None
