"""Fixtures of the web app's tests. They run only in the web app's environment (.venv-webapp):

    .venv-webapp/bin/python -m pytest tests/webapp

Anywhere else (the Airflow environment has no Flask-AppBuilder) only test_environment.py is collected,
and it skips, saying why.
"""

from __future__ import annotations

import importlib.util

import pytest

WEBAPP_ENV = all(
    importlib.util.find_spec(m) is not None for m in ("flask_appbuilder", "callcare_web", "callcare")
)
if not WEBAPP_ENV:
    collect_ignore_glob = ["test_[!e]*.py"]
else:
    from tests.support.webapp import (  # noqa: F401  (fixtures)
        app,
        artifacts,
        browser,
        client_for,
        remove_templates,
        server,
        token_for,
        world,
        world_app,
    )

    def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
        remove_templates()
