"""What the AWS deployment relies on: the registry from CALLCARE_DB_*, the health check, one signing key
for every task, the client's address behind the load balancer, and no password in the container log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from callcare_web.config import HEALTH_PATH, ConfigurationError, WebSettings, core_settings

from tests.support.webapp import REPO, csrf_from

# characters a generated RDS password may hold that break a URL spliced together without escaping
AWKWARD_PASSWORD = "p@ss:w/rd#?%&+ x"


def this_checkout(env: dict[str, str]) -> dict[str, str]:
    """`env` for a `python -m callcare_web` of this checkout (not an editable install of another)."""
    path = os.pathsep.join([str(REPO / "webapp"), str(REPO / "plugins"), env.get("PYTHONPATH", "")])
    return {**env, "PYTHONPATH": path}


def db_parts(url: str, password: str = AWKWARD_PASSWORD) -> dict[str, str]:
    """`url`'s database as the ECS task gets it: CALLCARE_DB_* (the RDS secret's fields)."""
    parsed = sa.engine.make_url(url)
    return {
        "CALLCARE_DB_HOST": parsed.host or "",
        "CALLCARE_DB_PORT": str(parsed.port or 5432),
        "CALLCARE_DB_USER": parsed.username or "",
        "CALLCARE_DB_PASSWORD": password,
        "CALLCARE_DB_NAME": parsed.database or "",
    }


# -- 1. the registry from CALLCARE_DB_* -------------------------------------------------------------------
def test_registry_url_is_built_from_the_db_parts(tmp_path: Path) -> None:
    env = {
        "CALLCARE_HOME": str(tmp_path),
        **db_parts("postgresql://callcare@db.internal:5433/callcare"),
        "CALLCARE_DB_SSLMODE": "require",
    }
    url = sa.engine.make_url(WebSettings.from_mapping(env).core.registry_url)
    assert url.drivername == "postgresql+psycopg2"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "callcare",
        AWKWARD_PASSWORD,
        "db.internal",
        5433,
        "callcare",
    )
    assert url.query == {"sslmode": "require"}
    # an explicit URL wins; without a host the local default stays
    explicit = {**env, "CALLCARE_REGISTRY_URL": "sqlite:///x.db"}
    assert core_settings(explicit).registry_url == "sqlite:///x.db"
    assert core_settings({"CALLCARE_HOME": str(tmp_path)}).registry_url.startswith("sqlite:///")
    with pytest.raises(ConfigurationError, match="CALLCARE_DB_PASSWORD"):
        core_settings({"CALLCARE_DB_HOST": "db", "CALLCARE_DB_USER": "u", "CALLCARE_DB_NAME": "n"})


def test_app_and_db_upgrade_use_the_database_of_the_db_parts(tmp_path: Path, pg_url: str) -> None:
    """Served from PostgreSQL given only as CALLCARE_DB_* (no SQLite file appears in the home), and
    `callcare-web db current` reads the same database."""
    from callcare_web.app import create_app

    env = {
        "CALLCARE_HOME": str(tmp_path),
        "CALLCARE_WEB_SECRET_KEY": "k" * 48,
        **db_parts(pg_url),
        "CALLCARE_DB_SSLMODE": "disable",
    }
    app = create_app(WebSettings.from_mapping(env))
    try:
        assert app.test_client().get(HEALTH_PATH).status_code == 200
        engine = sa.create_engine(pg_url)
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
        engine.dispose()
        assert {"calls", "ab_user", "web_audit"} <= tables
        assert not (tmp_path / "registry.db").exists()
    finally:
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()
    current = subprocess.run(
        [sys.executable, "-m", "callcare_web", "db", "current"],
        env=this_checkout({**os.environ, **env}),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert current.returncode == 0, current.stdout + current.stderr
    assert "at head" in current.stdout


# -- 2. the health check --------------------------------------------------------------------------------
def test_health_needs_no_login_shows_no_data_and_is_not_audited_or_limited(app: Any) -> None:
    from tests.webapp.test_pages import audit_rows

    before = len(audit_rows(app))
    client = app.test_client()
    for _ in range(30):  # past the login rate limit (10 per minute): the probe is not limited
        response = client.get(HEALTH_PATH)
        assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert len(audit_rows(app)) == before


def test_health_is_503_when_the_database_does_not_answer(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(engine, "connect", refuse)
    response = app.test_client().get(HEALTH_PATH)
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}  # no reason, no database name


# -- 3. one signing key for every task; the client's address behind the load balancer ---------------------
def test_aws_profile_refuses_to_start_without_a_configured_secret_key(tmp_path: Path) -> None:
    env = {"CALLCARE_HOME": str(tmp_path), "CALLCARE_PROFILE": "aws"}
    with pytest.raises(ConfigurationError, match="CALLCARE_WEB_SECRET_KEY"):
        WebSettings.from_mapping(env)
    with pytest.raises(ConfigurationError):
        WebSettings.from_mapping({**env, "CALLCARE_WEB_SECRET_KEY_FILE": str(tmp_path / "absent")})
    assert not (tmp_path / "webapp" / "secret_key").exists()  # nothing generated per task
    assert WebSettings.from_mapping({**env, "CALLCARE_WEB_SECRET_KEY": "s" * 48}).secret_key == "s" * 48
    # the local profile still generates one into its home and keeps it
    local = WebSettings.from_mapping({"CALLCARE_HOME": str(tmp_path)})
    assert (tmp_path / "webapp" / "secret_key").read_text() == local.secret_key


def test_forwarded_allow_ips_is_a_setting_defaulting_to_localhost(tmp_path: Path) -> None:
    home = {"CALLCARE_HOME": str(tmp_path)}
    assert WebSettings.from_mapping(home).forwarded_allow_ips == "127.0.0.1"
    web = WebSettings.from_mapping({**home, "CALLCARE_WEB_FORWARDED_ALLOW_IPS": "10.40.0.0/16"})
    assert web.forwarded_allow_ips == "10.40.0.0/16"
    dockerfile = (REPO / "webapp" / "Dockerfile").read_text()
    assert "--forwarded-allow-ips" not in dockerfile and '"*"' not in dockerfile


def test_behind_one_proxy_audit_and_login_limit_see_the_client(tmp_path: Path) -> None:
    """With CALLCARE_WEB_PROXY_HOPS=1 the audit row records X-Forwarded-For's client, not the load
    balancer, and the login limit counts per client: one client's limit does not lock out another."""
    from callcare_web.app import create_app

    from tests.webapp.test_pages import audit_rows

    web = WebSettings.from_mapping(
        {
            "CALLCARE_HOME": str(tmp_path),
            "CALLCARE_WEB_PROXY_HOPS": "1",
            "CALLCARE_WEB_LOGIN_RATE_LIMIT": "3 per minute",
            "CALLCARE_WEB_COOKIE_SECURE": "0",
        }
    )
    app = create_app(web)
    client = app.test_client()
    alb = {"REMOTE_ADDR": "10.40.1.5"}  # every request reaches the task from the load balancer

    def attempt(client_ip: str) -> int:
        form = csrf_from(client.get("/login/", environ_base=alb).get_data(as_text=True))
        return client.post(
            "/login/",
            data={"username": "nobody", "password": "Wrong-password-123", "csrf_token": form},
            headers={"X-Forwarded-For": client_ip},
            environ_base=alb,
        ).status_code

    assert [attempt("203.0.113.7") for _ in range(3)] != [429] * 3
    assert attempt("203.0.113.7") == 429
    assert attempt("198.51.100.20") != 429  # another client, its own bucket
    addresses = {row["remote_addr"] for row in audit_rows(app, action="login_failed")}
    assert addresses == {"203.0.113.7", "198.51.100.20"}


# -- 4. no password in the container log ------------------------------------------------------------------
def test_admin_creation_with_captured_stdout_prints_no_password(tmp_path: Path) -> None:
    """`callcare-web init` with stdout to a pipe (as under ECS, where it goes to CloudWatch): the
    generated password is in a 0600 file, and the output names the file only."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CALLCARE_")},
        "CALLCARE_HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "callcare_web", "init"],
        env=this_checkout(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    password_file = tmp_path / "webapp" / "admin_password"
    password = password_file.read_text()
    assert len(password) >= 12
    assert password not in done.stdout and password not in done.stderr
    assert str(password_file) in done.stdout
    assert password_file.stat().st_mode & 0o777 == 0o600


def test_aws_profile_never_generates_an_admin_password(tmp_path: Path) -> None:
    from callcare_web.app import create_app
    from callcare_web.cli import ensure_admin

    env = {"CALLCARE_HOME": str(tmp_path), "CALLCARE_PROFILE": "aws", "CALLCARE_WEB_SECRET_KEY": "s" * 48}
    web = WebSettings.from_mapping(env)
    app = create_app(web)
    with pytest.raises(SystemExit, match="CALLCARE_WEB_ADMIN_PASSWORD"):
        ensure_admin(app, web, out=open(os.devnull, "w"))  # noqa: SIM115
    secret = WebSettings.from_mapping({**env, "CALLCARE_WEB_ADMIN_PASSWORD": "From-the-secret-2026"})
    import io

    out = io.StringIO()
    ensure_admin(app, secret, out)
    assert "From-the-secret-2026" not in out.getvalue() and "from the environment" in out.getvalue()


def test_tasks_starting_together_both_start_when_one_creates_the_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two web tasks run init at once: both see no admin, one inserts it, the other's insert fails
    on the unique name. The loser must start (it found the winner's admin), not exit 1."""
    import io

    from callcare_web.app import create_app
    from callcare_web.cli import ensure_admin

    env = {
        "CALLCARE_HOME": str(tmp_path),
        "CALLCARE_PROFILE": "aws",
        "CALLCARE_WEB_SECRET_KEY": "s" * 48,
        "CALLCARE_WEB_ADMIN_PASSWORD": "From-the-secret-2026",
    }
    web = WebSettings.from_mapping(env)
    app = create_app(web)
    ensure_admin(app, web, io.StringIO())  # the task that won the race
    with app.app_context():
        sm = app.appbuilder.sm
        real_find_user = sm.find_user
        looked = []

        def find_user_before_the_winner_committed(*args: Any, **kwargs: Any) -> Any:
            looked.append(kwargs)
            return None if len(looked) == 1 else real_find_user(*args, **kwargs)

        monkeypatch.setattr(sm, "find_user", find_user_before_the_winner_committed)
    out = io.StringIO()
    ensure_admin(app, web, out)  # the task that lost it
    assert "created by another task" in out.getvalue()
    with app.app_context():
        admins = [u for u in app.appbuilder.sm.get_all_users() if u.username == web.admin_user]
    assert len(admins) == 1


def test_gunicorn_opens_no_control_socket(tmp_path: Path) -> None:
    """gunicorn's control socket defaults to $HOME/.gunicorn, which the image's USER nobody (HOME
    /nonexistent) cannot create: every task start logged an ERROR. Nothing uses the socket."""
    from callcare_web.cli import gunicorn_settings
    from gunicorn.config import Config

    web = WebSettings.from_mapping({"CALLCARE_HOME": str(tmp_path)})
    config = Config()
    for name, value in gunicorn_settings(web, "127.0.0.1", 8081).items():
        config.set(name, value)
    assert config.control_socket_disable
    assert config.forwarded_allow_ips == ["127.0.0.1"] and config.bind == ["127.0.0.1:8081"]
