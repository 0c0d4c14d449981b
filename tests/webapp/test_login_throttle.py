"""Login throttling (security review M5): per account and client address, with backoff, in the database.

Logins go through the API (the form reaches the same `auth_user_db`); each test uses client addresses
of its own, so the tests do not throttle one another.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.webapp import PASSWORDS, World, audit_rows, build_world

ALB = "10.40.1.5"  # every request reaches the task from the load balancer


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Any]:
    return build_world(
        tmp_path_factory.mktemp("throttle"),
        CALLCARE_WEB_LOGIN_RATE_LIMIT="1000 per minute",
        CALLCARE_WEB_PROXY_HOPS="1",
    )


def api_login(app: Any, username: str, password: str, client_ip: str, proxy: bool = True) -> int:
    headers = {"X-Forwarded-For": client_ip} if proxy else {}
    return (
        app.test_client()
        .post(
            "/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db"},
            headers=headers,
            environ_base={"REMOTE_ADDR": ALB if proxy else client_ip},
        )
        .status_code
    )


def rows(app: Any) -> dict[str, Any]:
    from callcare_web.tables import login_throttle

    with app.app_context(), app.extensions["sqlalchemy"].engine.connect() as conn:
        return {r.key: r for r in conn.execute(sa.select(login_throttle))}


def test_a_name_alone_cannot_lock_the_owner_out(proxied: tuple[World, Any]) -> None:
    _, app = proxied
    for _ in range(8):
        assert api_login(app, "cw2", "Wrong-password-123", "203.0.113.66") == 401
    # the guesser's address backs off, the right password included ...
    assert api_login(app, "cw2", PASSWORDS["cw2"], "203.0.113.66") == 401
    # ... and the owner, from anywhere else, signs in
    assert api_login(app, "cw2", PASSWORDS["cw2"], "198.51.100.10") == 200


def test_the_email_alias_counts_with_its_account(proxied: tuple[World, Any]) -> None:
    _, app = proxied
    for name in ("sam", "sam@example.com", "SAM", "sam", "sam@example.com"):
        assert api_login(app, name, "Wrong-password-123", "203.0.113.70") == 401
    assert api_login(app, "sam@example.com", PASSWORDS["sam"], "203.0.113.70") == 401
    assert api_login(app, "sam", PASSWORDS["sam"], "203.0.113.70") == 401
    assert api_login(app, "sam", PASSWORDS["sam"], "203.0.113.71") == 200


def test_the_backoff_doubles_then_ends(proxied: tuple[World, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    world, app = proxied
    throttle = app.appbuilder.sm.throttle
    now = [dt.datetime.now(dt.UTC)]
    monkeypatch.setattr(throttle, "clock", lambda: now[0])
    ip = "203.0.113.80"
    for _ in range(5):
        assert api_login(app, "cw1", "Wrong-password-123", ip) == 401
    with app.app_context():
        assert throttle.retry_after(world.user_ids["cw1"], ip) == pytest.approx(30, abs=1)
    now[0] += dt.timedelta(seconds=31)
    assert api_login(app, "cw1", "Wrong-password-123", ip) == 401  # allowed to try, and wrong
    with app.app_context():
        assert throttle.retry_after(world.user_ids["cw1"], ip) == pytest.approx(60, abs=1)
    for _ in range(12):  # doubling, but never past the cap
        now[0] += dt.timedelta(seconds=901)
        assert api_login(app, "cw1", "Wrong-password-123", ip) == 401
    with app.app_context():
        assert throttle.retry_after(world.user_ids["cw1"], ip) == pytest.approx(900, abs=1)
    now[0] += dt.timedelta(seconds=901)
    assert api_login(app, "cw1", PASSWORDS["cw1"], ip) == 200
    assert not any(k.startswith("pair:") and ip in k for k in rows(app))  # success resets the pair


def test_checks_write_nothing_and_unknown_names_share_one_bucket(proxied: tuple[World, Any]) -> None:
    _, app = proxied
    before = rows(app)
    with app.app_context():
        for _ in range(50):
            assert app.appbuilder.sm.throttle.retry_after(None, "203.0.113.90") == 0
    assert rows(app).keys() == before.keys()
    for _ in range(40):
        api_login(app, f"nobody-{uuid.uuid4().hex}", "Wrong-password-123", "203.0.113.91")
    new = set(rows(app)) - set(before)
    assert new == {"pair:?|203.0.113.91", "addr:203.0.113.91"}  # 40 names, two rows
    # and invented names bought no fresh budget: the fifth and later were refused unchecked
    assert len(audit_rows(app, action="login_throttled")) >= 35


def test_spraying_from_one_address_backs_that_address_off(proxied: tuple[World, Any]) -> None:
    _, app = proxied
    ip = "203.0.113.95"
    for name in ("admin", "sam", "cw1", "cw2", "nobody") * 4:  # 4 tries each: no pair backs off
        api_login(app, name, "Wrong-password-123", ip)
    assert api_login(app, "cw1", PASSWORDS["cw1"], ip) == 401
    assert api_login(app, "cw1", PASSWORDS["cw1"], "203.0.113.96") == 200


def test_many_addresses_back_the_account_off_except_where_its_owner_signs_in(
    proxied: tuple[World, Any],
) -> None:
    _, app = proxied
    assert api_login(app, "admin", PASSWORDS["admin"], "198.51.100.50") == 200  # the owner's address
    for i in range(50):
        assert api_login(app, "admin", "Wrong-password-123", f"192.0.2.{i}") == 401
    assert api_login(app, "admin", PASSWORDS["admin"], "192.0.2.200") == 401  # a new address waits
    assert api_login(app, "admin", PASSWORDS["admin"], "198.51.100.50") == 200  # the owner does not


def test_failed_logins_audit_no_typed_name(proxied: tuple[World, Any]) -> None:
    world, app = proxied
    api_login(app, "Typed-my-Password-here-1", "x", "203.0.113.120")
    api_login(app, "cw1@example.com", "Wrong-password-123", "203.0.113.121")
    failed = audit_rows(app, action="login_failed")
    assert all(r["username"] != "Typed-my-Password-here-1" for r in failed)
    assert not any("Typed-my-Password" in (r["detail"] or "") for r in audit_rows(app))
    assert failed[-1]["user_id"] == world.user_ids["cw1"] and failed[-1]["username"] == "cw1"
    assert failed[-1]["remote_addr"] == "203.0.113.121"


def test_failed_logins_log_no_typed_name(
    proxied: tuple[World, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """FAB logs every failed login's typed name at INFO; often a password typed in the wrong field (L8)."""
    _, app = proxied
    with caplog.at_level(logging.DEBUG):
        api_login(app, "Typed-my-Password-here-2", "x", "203.0.113.125")
        api_login(app, "cw1", "Typed-my-Password-here-3", "203.0.113.126")
    assert "Typed-my-Password" not in caplog.text


def test_every_task_sees_the_same_failures(proxied: tuple[World, Any]) -> None:
    """The service runs as two or more tasks over one database: a second app counts the first's."""
    from callcare_web.app import create_app
    from callcare_web.config import WebSettings

    world, app = proxied
    other = create_app(WebSettings.from_mapping(world.env))
    for _ in range(5):
        assert api_login(app, "cw2", "Wrong-password-123", "203.0.113.130") == 401
    assert api_login(other, "cw2", PASSWORDS["cw2"], "203.0.113.130") == 401
    assert api_login(other, "cw2", PASSWORDS["cw2"], "203.0.113.131") == 200


def test_without_the_proxy_setting_a_forged_forwarded_for_changes_nothing(tmp_path: Path) -> None:
    _, app = build_world(tmp_path, CALLCARE_WEB_LOGIN_RATE_LIMIT="1000 per minute")

    def attempt(password: str, forged: str) -> int:
        return (
            app.test_client()
            .post(
                "/api/v1/security/login",
                json={"username": "cw1", "password": password, "provider": "db"},
                headers={"X-Forwarded-For": forged},
                environ_base={"REMOTE_ADDR": "203.0.113.140"},
            )
            .status_code
        )

    for i in range(5):
        assert attempt("Wrong-password-123", f"192.0.2.{i}") == 401
    assert attempt(PASSWORDS["cw1"], "192.0.2.99") == 401  # the peer's address is what counts
    assert api_login(app, "cw1", PASSWORDS["cw1"], "203.0.113.141", proxy=False) == 200


def test_spraying_from_a_shared_address_does_not_lock_out_its_regulars(proxied: tuple[World, Any]) -> None:
    """Behind a corporate NAT every caseworker has one address: one insider's wrong tries back the
    address off for names with no history there, not for accounts that have signed in from it."""
    world, app = proxied
    office = "203.0.113.140"
    assert api_login(app, "cw2", PASSWORDS["cw2"], office) == 200  # a regular of the office
    ids = world.user_ids
    # 20 failures over all the accounts (and unknown names); sam and cw2 below their pairs' 5
    spray = [ids["admin"], ids["cw1"], None] * 5 + [ids["sam"]] * 2 + [ids["cw2"]] * 3
    with app.app_context():
        for user_id in spray:
            app.appbuilder.sm.throttle.failed(user_id, office)
    assert rows(app)[f"addr:{office}"].failures == 20
    assert api_login(app, "cw2", PASSWORDS["cw2"], office) == 200  # the regular still gets in
    # a name with no sign-in from there (and no pair backoff: 3 failures) meets the address's backoff
    assert api_login(app, "sam", PASSWORDS["sam"], office) == 401
    assert api_login(app, "sam", PASSWORDS["sam"], "198.51.100.141") == 200
