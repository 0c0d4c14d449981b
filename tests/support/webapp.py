"""Helpers and fixtures of the web app's tests (tests/webapp/conftest.py hands the fixtures to pytest).

Here, not in that conftest, because bench/ (the web benchmarks) uses the same seeded world and
browser settings, and test modules import the helpers by name.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

PASSWORDS = {
    "admin": "Admin-pass-2026!",
    "sam": "Supervisor-pass-2026!",
    "cw1": "Caseworker1-pass-2026!",
    "cw2": "Caseworker2-pass-2026!",
}
ROLES = {"admin": "admin", "sam": "supervisor", "cw1": "caseworker", "cw2": "caseworker"}
ARTIFACTS = Path(
    os.environ.get("CALLCARE_WEB_TEST_ARTIFACTS", Path(tempfile.gettempdir()) / "callcare-webapp-artifacts")
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def web_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "CALLCARE_HOME": str(home),
        "CALLCARE_WEB_SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "CALLCARE_WEB_ADMIN_PASSWORD": PASSWORDS["admin"],
        "CALLCARE_WEB_POLL_INTERVAL_S": "0.3",
    }
    env.update(extra)
    return env


@dataclass
class World:
    """A seeded home: calls in the registry and the lake, users, assignments."""

    home: Path
    env: dict[str, str]
    calls: list[Any]
    user_ids: dict[str, int] = field(default_factory=dict)
    assigned: dict[str, list[str]] = field(default_factory=dict)

    @property
    def completed(self) -> list[Any]:
        return self.calls[:-2]

    def registry_and_lake(self) -> tuple[Any, Any]:
        from callcare.config import Settings
        from callcare.core.lake import Lake
        from callcare.core.registry import Registry

        settings = Settings.from_mapping(self.env)
        return Registry(settings.registry_url), Lake(settings.lake_uri)


def seed_world(home: Path, **extra: str) -> tuple[World, Any]:
    """Seed `home`, create the app once (tables, roles, admin), add users and assignments."""
    import sqlalchemy as sa
    from callcare_web import search_index
    from callcare_web.app import create_app
    from callcare_web.cli import ensure_admin
    from callcare_web.config import WebSettings
    from callcare_web.tables import assignments

    from tests.support.webapp_seed import seed

    calls = seed(home)
    env = web_env(home, **extra)
    web = WebSettings.from_mapping(env)
    app = create_app(web)
    ensure_admin(app, web, out=open(os.devnull, "w"))  # noqa: SIM115
    world = World(home, env, calls)
    with app.app_context():
        sm = app.appbuilder.sm
        for name, role in ROLES.items():
            user = sm.find_user(username=name) or sm.add_user(
                name, name.upper(), "Test", f"{name}@example.com", sm.find_role(role), PASSWORDS[name]
            )
            world.user_ids[name] = user.id
        world.assigned = {"cw1": [c.call_id for c in calls[:3]], "cw2": [calls[3].call_id]}
        engine = app.extensions["sqlalchemy"].engine
        with engine.begin() as conn:
            for name, call_ids in world.assigned.items():
                for call_id in call_ids:
                    conn.execute(assignments.delete().where(assignments.c.call_id == call_id))
                    conn.execute(
                        assignments.insert().values(
                            call_id=call_id,
                            user_id=world.user_ids[name],
                            assigned_by_id=world.user_ids["sam"],
                        )
                    )
            conn.execute(sa.text("SELECT 1"))
        # what the app's search catch-up does in the background at its first search (search_index)
        search_index.reconcile(engine, web.core)
    return world, app


_TEMPLATE: list[World] = []


def build_world(home: Path, **extra: str) -> tuple[World, Any]:
    """A world of its own in `home`: a copy of one seeded database (FAB's first start is slow), the
    template's lake (new calls get new files there: call ids differ), and a new app over them."""
    import sqlite3

    from callcare_web.app import create_app
    from callcare_web.config import WebSettings

    if not _TEMPLATE:
        template_home = Path(tempfile.mkdtemp(prefix="callcare-web-template-"))
        world, app = seed_world(template_home)
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()
        _TEMPLATE.append(world)
    template = _TEMPLATE[0]
    home.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(template.home / "registry.db")
    target = sqlite3.connect(home / "registry.db")
    with target:
        source.backup(target)  # consistent, WAL included
    source.close()
    target.close()
    env = web_env(home, CALLCARE_LAKE_URI=(template.home / "lake").as_uri(), **extra)
    app = create_app(WebSettings.from_mapping(env))
    world = World(
        home, env, template.calls, dict(template.user_ids), {k: list(v) for k, v in template.assigned.items()}
    )
    return world, app


def remove_templates() -> None:
    import shutil

    for world in _TEMPLATE:
        shutil.rmtree(world.home, ignore_errors=True)


@pytest.fixture(scope="module")
def world_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Any]:
    # logins are many here; test_pages.py checks the limit itself on an app of its own
    return build_world(tmp_path_factory.mktemp("webhome"), CALLCARE_WEB_LOGIN_RATE_LIMIT="1000 per minute")


@pytest.fixture(scope="module")
def world(world_app: tuple[World, Any]) -> World:
    return world_app[0]


@pytest.fixture(scope="module")
def app(world_app: tuple[World, Any]) -> Any:
    return world_app[1]


def audit_rows(app: Any, **where: Any) -> list[dict[str, Any]]:
    """The app's audit log, oldest first, filtered by column values (the page and SNS tests check it)."""
    import sqlalchemy as sa
    from callcare_web.tables import audit

    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        query = sa.select(audit).order_by(audit.c.id)
        for key, value in where.items():
            query = query.where(audit.c[key] == value)
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def login(client: Any, username: str, password: str | None = None) -> Any:
    page = client.get("/login/")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/login/",
        data={"username": username, "password": password or PASSWORDS[username], "csrf_token": token},
        follow_redirects=False,
    )


@pytest.fixture
def client_for(app: Any) -> Any:
    """A logged-in test client (HTTPS, so the Secure session cookie is sent back)."""

    def make(username: str) -> Any:
        client = app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        client.environ_base["HTTP_REFERER"] = "https://localhost/"  # CSRF over HTTPS checks the referrer
        response = login(client, username)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return make


@pytest.fixture(scope="module")
def token_for(app: Any) -> Any:
    tokens: dict[str, str] = {}

    def make(username: str) -> str:
        if username in tokens:
            return tokens[username]
        response = app.test_client().post(
            "/api/v1/security/login",
            json={"username": username, "password": PASSWORDS[username], "provider": "db", "refresh": True},
        )
        assert response.status_code == 200, response.get_json()
        tokens[username] = response.get_json()["access_token"]
        return tokens[username]

    return make


# -- a served app for the browser tests ------------------------------------------------------------------
@dataclass
class Server:
    url: str
    world: World
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("served")
    port = free_port()
    world, app = build_world(home, CALLCARE_WEB_LOGIN_RATE_LIMIT="200 per minute")
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
    env = {
        **os.environ,
        **world.env,
        "CALLCARE_WEB_PORT": str(port),
        "CALLCARE_WEB_LOGIN_RATE_LIMIT": "200 per minute",
    }
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "callcare_web", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the web app exited:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/login/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield Server(url, world, process, log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        subprocess.run([str(REPO / "webapp" / "install_browser.sh")], check=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
