"""The pages through Flask's test client: auth, sessions, CSRF, throttling, scoping, changes, audit."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.webapp import PASSWORDS, World, audit_rows, build_world, csrf_from, login


def https_client(app: Any) -> Any:
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    return client


def test_pages_need_login(app: Any, world: World) -> None:
    client = https_client(app)
    for path in ("/calls/", f"/calls/{world.calls[0].call_id}", "/dashboard/", "/audit/list/"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login/" in response.headers["Location"]
    assert client.get("/").headers["Location"].endswith("/login/")


def test_session_cookie_is_secure_httponly_samesite(app: Any) -> None:
    client = https_client(app)
    response = login(client, "sam")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("callcare_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/calls/")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age" in page.headers["Strict-Transport-Security"]


def test_login_form_needs_its_csrf_token(app: Any) -> None:
    client = https_client(app)
    client.get("/login/")
    response = client.post("/login/", data={"username": "sam", "password": PASSWORDS["sam"]})
    assert response.status_code == 400
    assert client.get("/calls/").status_code == 302


def test_forms_need_csrf(client_for: Any, world: World) -> None:
    client = client_for("sam")
    call_id = world.completed[8].call_id
    response = client.post(f"/calls/{call_id}/assign", data={"user_id": str(world.user_ids["cw1"])})
    assert response.status_code == 400
    response = client.post(f"/calls/{call_id}/swap-roles")
    assert response.status_code == 400


def test_the_login_form_backs_off_an_account_from_one_address(app: Any) -> None:
    """The form reaches the same throttle as the API (tests/webapp/test_login_throttle.py has the rest)."""
    client = https_client(app)
    client.environ_base["REMOTE_ADDR"] = "192.0.2.44"  # an address of its own: other tests sign in
    for _ in range(5):
        assert "/login/" in login(client, "cw2", "Wrong-password-123").headers.get("Location", "/login/")
    # the sixth try fails even with the right password, from this address
    response = login(client, "cw2")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    assert {"login_failed", "login_throttled"} <= {r["action"] for r in audit_rows(app)}
    elsewhere = https_client(app)
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.45"
    assert login(elsewhere, "cw2").headers["Location"] in ("/", "https://localhost/")


def test_login_is_rate_limited_per_client(tmp_path: Path) -> None:
    _, app = build_world(tmp_path, CALLCARE_WEB_LOGIN_RATE_LIMIT="3 per minute")
    client = https_client(app)
    codes = [login(client, "sam", "Wrong-password-123").status_code for _ in range(4)]
    assert codes[:3] == [302, 302, 302] and codes[3] == 429
    api = app.test_client()
    api_codes = [
        api.post(
            "/api/v1/security/login", json={"username": "x", "password": "y", "provider": "db"}
        ).status_code
        for _ in range(4)
    ]
    assert api_codes[-1] == 429


def test_password_policy() -> None:
    from callcare_web.security import PasswordComplexityValidationError, generate_password, password_policy

    for weak in ("short1A!", "alllowercaseletters", "ALLUPPER123456", "admin"):
        with pytest.raises(PasswordComplexityValidationError):
            password_policy(weak)
    password_policy("Correct-horse-battery-1")
    for _ in range(20):
        password_policy(generate_password())


def test_first_admin_from_env_weak_password_refused(tmp_path: Path) -> None:
    from callcare_web.app import create_app
    from callcare_web.cli import ensure_admin
    from callcare_web.config import WebSettings

    web = WebSettings.from_mapping({"CALLCARE_HOME": str(tmp_path), "CALLCARE_WEB_ADMIN_PASSWORD": "admin"})
    app = create_app(web)
    with pytest.raises(Exception, match="12 characters"):
        ensure_admin(app, web)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_first_admin_password_printed_once_on_a_terminal(tmp_path: Path) -> None:
    from callcare_web.app import create_app
    from callcare_web.cli import ensure_admin
    from callcare_web.config import WebSettings

    web = WebSettings.from_mapping({"CALLCARE_HOME": str(tmp_path)})
    app = create_app(web)
    out = _Terminal()
    ensure_admin(app, web, out)
    printed = out.getvalue()
    assert "shown only this once" in printed
    password = printed.split("with password ")[1].split()[0]
    again = _Terminal()
    ensure_admin(app, web, again)
    assert again.getvalue() == ""
    client = https_client(app)
    assert login(client, "admin", password).status_code == 302
    assert client.get("/calls/").status_code == 200
    # the signing key was generated once and kept, private
    key_file = tmp_path / "webapp" / "secret_key"
    assert key_file.stat().st_mode & 0o077 == 0


def test_caseworker_scope_on_pages(client_for: Any, world: World) -> None:
    client = client_for("cw1")
    html = client.get("/calls/").get_data(as_text=True)
    for call in world.calls:
        assert (f'data-call-id="{call.call_id}"' in html) == (call.call_id in world.assigned["cw1"])
    other = world.assigned["cw2"][0]
    assert client.get(f"/calls/{other}").status_code == 403
    assert client.get(f"/calls/{other}/audio").status_code == 403
    assert client.get(f"/calls/{other}/download/transcript.json").status_code == 403
    mine = world.assigned["cw1"][0]
    assert client.get(f"/calls/{mine}").status_code == 200
    # supervisor-only pages and actions
    assert client.get("/dashboard/").status_code == 302
    token = csrf_from(client.get(f"/calls/{mine}").get_data(as_text=True))
    response = client.post(f"/calls/{mine}/assign", data={"user_id": "", "csrf_token": token})
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    assert client.get("/audit/list/").status_code == 302


def test_supervisor_assigns_and_it_is_audited(app: Any, client_for: Any, world: World) -> None:
    client = client_for("sam")
    call_id = world.completed[8].call_id
    page = client.get(f"/calls/{call_id}").get_data(as_text=True)
    response = client.post(
        f"/calls/{call_id}/assign",
        data={"user_id": str(world.user_ids["cw1"]), "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 302
    entry = audit_rows(app, action="assign", call_id=call_id)[-1]
    assert entry["username"] == "sam"
    assert json.loads(entry["detail"]) == {"from_user_id": None, "to_user_id": world.user_ids["cw1"]}
    cw1 = client_for("cw1")
    assert cw1.get(f"/calls/{call_id}").status_code == 200
    # and the caseworker's view of it is audited too
    assert audit_rows(app, action="view", call_id=call_id)[-1]["username"] == "cw1"
    # filter by assignee
    html = client.get(f"/calls/?assignee={world.user_ids['cw1']}").get_data(as_text=True)
    assert f'data-call-id="{call_id}"' in html


def test_swap_roles_and_downloads(app: Any, client_for: Any, world: World) -> None:
    client = client_for("sam")
    call = world.completed[9]
    text = client.get(f"/calls/{call.call_id}/download/transcript.txt")
    assert text.status_code == 200
    assert "attachment" in text.headers["Content-Disposition"]
    first_line = text.get_data(as_text=True).splitlines()[0]
    assert "agent (spk_0)" in first_line and call.dialogue["turns"][0]["text"] in first_line
    page = client.get(f"/calls/{call.call_id}").get_data(as_text=True)
    response = client.post(f"/calls/{call.call_id}/swap-roles", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    swapped = client.get(f"/calls/{call.call_id}/download/transcript.txt").get_data(as_text=True)
    assert "customer (spk_0)" in swapped.splitlines()[0]
    assert 'class="cc-turn cc-role-customer" id="turn-0"' in client.get(f"/calls/{call.call_id}").get_data(
        as_text=True
    )
    summary = json.loads(client.get(f"/calls/{call.call_id}/download/summary.json").get_data())
    assert summary["summary"]["category"] == call.dialogue["category"]
    audio = client.get(f"/calls/{call.call_id}/download/audio")
    assert audio.data == call.wav and "attachment" in audio.headers["Content-Disposition"]
    assert client.get(f"/calls/{call.call_id}/download/other").status_code == 404
    kinds = {
        json.loads(r["detail"])["kind"] for r in audit_rows(app, action="download", call_id=call.call_id)
    }
    assert {"transcript.txt", "summary.json", "audio"} <= kinds
    assert audit_rows(app, action="swap_roles", call_id=call.call_id)


def test_list_paging_sorting_and_fragment(client_for: Any, world: World) -> None:
    client = client_for("sam")
    html = client.get("/calls/?page_size=5&sort=date&dir=asc").get_data(as_text=True)
    assert html.count('class="cc-row') == 5
    assert 'rel="next"' in html
    fragment = client.get("/calls/?fragment=rows&status=FAILED").get_data(as_text=True)
    assert "<html" not in fragment and fragment.count('class="cc-row') == 1


def test_dashboard_figures(client_for: Any, world: World) -> None:
    client = client_for("sam")
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "Calls per day" in html and "Sentiment trend" in html and "Top categories" in html
    agent = world.completed[0].dialogue["truth"]["agent_id"]
    assert agent in html


def test_audit_log_is_for_admins(client_for: Any) -> None:
    admin = client_for("admin")
    page = admin.get("/audit/list/")
    assert page.status_code == 200
    assert "login" in page.get_data(as_text=True)
    assert client_for("sam").get("/audit/list/").status_code == 302
    # read-only: no add, edit or delete
    assert admin.get("/audit/add").status_code in (302, 404)


def test_list_shows_issue_sentences_and_pages_by_keyset(client_for: Any, world: World) -> None:
    client = client_for("sam")
    everything = client.get("/calls/?page_size=100").get_data(as_text=True).replace("&#39;", "'")
    for call in world.completed:
        assert f'<div class="small cc-issue">{call.dialogue["truth"]["issue_sentence"]}</div>' in everything
    html = client.get("/calls/?page_size=2").get_data(as_text=True)
    nxt = re.search(r'href="([^"]*after=[^"]*)" rel="next"', html)
    assert nxt is not None, "next goes by keyset"
    second = client.get(nxt.group(1).replace("&amp;", "&")).get_data(as_text=True)
    first_ids = re.findall(r'data-call-id="([^"]+)"', html)
    second_ids = re.findall(r'data-call-id="([^"]+)"', second)
    assert len(second_ids) == 2 and not set(first_ids) & set(second_ids)
    by_number = client.get("/calls/?page_size=2&page=2").get_data(as_text=True)
    assert re.findall(r'data-call-id="([^"]+)"', by_number) == second_ids
    prev = re.search(r'href="([^"]*before=[^"]*)" rel="prev"', second)
    assert prev is not None
    back = client.get(prev.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert re.findall(r'data-call-id="([^"]+)"', back) == first_ids


def test_detail_says_when_the_transcript_was_truncated_for_the_summary(client_for: Any, world: World) -> None:
    registry, lake = world.registry_and_lake()
    call = world.completed[0]
    key = lake.key_from_uri(registry.get(call.call_id)["summary_uri"])
    original = lake.get_json(key)
    client = client_for("sam")
    assert "cc-truncated" not in client.get(f"/calls/{call.call_id}").get_data(as_text=True)
    try:
        lake.put_json(key, {**original, "truncated": True})
        html = client.get(f"/calls/{call.call_id}").get_data(as_text=True)
        assert "cc-truncated" in html and "cut in the middle" in html
    finally:
        lake.put_json(key, original)
        registry.engine.dispose()
