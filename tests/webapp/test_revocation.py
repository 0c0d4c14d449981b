"""Sessions end when they should (security review L2): logout, deactivation, a change of roles and a
change of password end the user's cookies, API tokens and open live sockets; changing your own password
asks for the current one."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.webapp import PASSWORDS, World, build_world, csrf_from, login
from tests.webapp.test_pages import https_client


@pytest.fixture
def world_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Any]:
    # a world per test: each one ends somebody's sessions
    return build_world(tmp_path_factory.mktemp("revoke"), CALLCARE_WEB_LOGIN_RATE_LIMIT="1000 per minute")


@pytest.fixture
def app(world_app: tuple[World, Any]) -> Any:
    return world_app[1]


@pytest.fixture
def world(world_app: tuple[World, Any]) -> World:
    return world_app[0]


def signed_in(app: Any, username: str) -> Any:
    client = https_client(app)
    assert login(client, username).status_code == 302
    assert client.get("/calls/").status_code == 200
    return client


def copy_of(app: Any, client: Any) -> Any:
    """Another browser holding the same session cookie (what a thief would have)."""
    thief = https_client(app)
    cookie = client.get_cookie("callcare_session")
    thief.set_cookie("callcare_session", cookie.value, domain=cookie.domain)
    return thief


def tokens(app: Any, username: str) -> tuple[str, str]:
    body = (
        app.test_client()
        .post(
            "/api/v1/security/login",
            json={"username": username, "password": PASSWORDS[username], "provider": "db", "refresh": True},
        )
        .get_json()
    )
    return body["access_token"], body["refresh_token"]


def api_ok(app: Any, access: str) -> bool:
    response = app.test_client().get("/api/v1/calls/", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code in (200, 401)
    return response.status_code == 200


def refresh_ok(app: Any, refresh: str) -> bool:
    response = app.test_client().post(
        "/api/v1/security/refresh", headers={"Authorization": f"Bearer {refresh}"}
    )
    assert response.status_code in (200, 401)
    return response.status_code == 200


def change_user(app: Any, username: str, **changes: Any) -> None:
    """As the admin's user form does: load the user, change it, save it through FAB."""
    with app.test_request_context():
        sm = app.appbuilder.sm
        user = sm.find_user(username=username)
        for name, value in changes.items():
            if name == "role":
                user.roles = [sm.find_role(value)]
            else:
                setattr(user, name, value)
        sm.update_user(user)


def test_a_copied_cookie_dies_with_the_logout(app: Any) -> None:
    client = signed_in(app, "sam")
    thief = copy_of(app, client)
    assert thief.get("/calls/").status_code == 200
    client.get("/logout/")
    response = thief.get("/calls/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_logout_ends_the_users_api_tokens(app: Any) -> None:
    access, refresh = tokens(app, "sam")
    assert api_ok(app, access) and refresh_ok(app, refresh)
    signed_in(app, "sam").get("/logout/")
    assert not api_ok(app, access)
    assert not refresh_ok(app, refresh)
    again, _ = tokens(app, "sam")  # signing in again works
    assert api_ok(app, again)


def test_deactivation_ends_cookies_and_tokens(app: Any) -> None:
    client = signed_in(app, "cw2")
    access, refresh = tokens(app, "cw2")
    change_user(app, "cw2", active=False)
    assert client.get("/calls/").status_code == 302
    assert not api_ok(app, access) and not refresh_ok(app, refresh)


def test_a_role_change_ends_the_old_roles_sessions(app: Any, world: World) -> None:
    client = signed_in(app, "sam")
    access, refresh = tokens(app, "sam")
    assert client.get("/dashboard/").status_code == 200
    change_user(app, "sam", role="caseworker")
    assert client.get("/dashboard/").status_code == 302
    assert not api_ok(app, access) and not refresh_ok(app, refresh)
    demoted = signed_in(app, "sam")
    assert demoted.get("/dashboard/").status_code == 302  # the new session has the new role only


def test_saving_a_user_unchanged_ends_nothing(app: Any) -> None:
    client = signed_in(app, "cw1")
    access, _ = tokens(app, "cw1")
    change_user(app, "cw1", first_name="Renamed")
    signed_in(app, "cw1")  # a login updates the user's counters: no revocation either
    assert client.get("/calls/").status_code == 200
    assert api_ok(app, access)


def password_form(client: Any) -> str:
    page = client.get("/resetmypassword/form")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="current_password"' in html
    return csrf_from(html)


def test_changing_your_password_asks_for_the_current_one(app: Any) -> None:
    client = signed_in(app, "cw1")
    other = signed_in(app, "cw1")
    access, _ = tokens(app, "cw1")
    new = "Brand-new-Password-2027!"
    for current in ("", "Wrong-password-123"):
        client.post(
            "/resetmypassword/form",
            data={
                "current_password": current,
                "password": new,
                "conf_password": new,
                "csrf_token": password_form(client),
            },
        )
        assert "/login/" in login(https_client(app), "cw1", new).headers["Location"]  # not changed
    response = client.post(
        "/resetmypassword/form",
        data={
            "current_password": PASSWORDS["cw1"],
            "password": new,
            "conf_password": new,
            "csrf_token": password_form(client),
        },
    )
    assert response.status_code == 302
    assert "/login/" not in login(https_client(app), "cw1", new).headers["Location"]
    # this browser stays signed in; every other session and token of the user ends
    assert client.get("/calls/").status_code == 200
    assert other.get("/calls/").status_code == 302
    assert not api_ok(app, access)


# -- the live socket -------------------------------------------------------------------------------------
@pytest.fixture
def served(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from callcare_web import live
    from werkzeug.serving import make_server

    monkeypatch.setattr(live, "CHECK_S", 0.2)
    app.config["SESSION_COOKIE_SECURE"] = False  # plain http on loopback for this socket test
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()


def open_socket(base: str, username: str) -> tuple[Any, Any, queue.Queue]:
    import requests
    import simple_websocket

    browser = requests.Session()
    token = csrf_from(browser.get(f"{base}/login/").text)
    browser.post(
        f"{base}/login/", data={"username": username, "password": PASSWORDS[username], "csrf_token": token}
    )
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    ws = simple_websocket.Client.connect(f"{base.replace('http', 'ws')}/live", headers={"Cookie": cookie})
    received: queue.Queue = queue.Queue()

    def read() -> None:
        while True:
            try:
                received.put(json.loads(ws.receive()))
            except simple_websocket.ConnectionClosed as closed:
                received.put({"type": "closed", "reason": closed.reason, "message": closed.message})
                return
            except Exception:
                return

    threading.Thread(target=read, daemon=True).start()
    assert received.get(timeout=10)["type"] == "hello"
    return browser, ws, received


def closed_within(received: queue.Queue, seconds: float) -> dict[str, Any] | None:
    try:
        while (m := received.get(timeout=seconds))["type"] != "closed":
            pass
    except queue.Empty:
        return None
    return m


@pytest.mark.parametrize("how", ["logout", "deactivation", "role change"])
def test_an_open_socket_closes_when_its_session_ends(app: Any, served: str, how: str) -> None:
    browser, ws, received = open_socket(served, "sam")
    assert closed_within(received, 1.0) is None  # an open socket stays open while its session stands
    if how == "logout":
        browser.get(f"{served}/logout/")
    elif how == "deactivation":
        change_user(app, "sam", active=False)
    else:
        change_user(app, "sam", role="caseworker")
    closed = closed_within(received, 10)
    assert closed is not None and closed["reason"] == 1008 and closed["message"] == "session ended"
    assert not ws.connected
