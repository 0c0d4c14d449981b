"""The Content-Security-Policy (security review L3): no 'unsafe-inline'; every inline script the pages
render carries the response's nonce, no element has an inline event handler, and every style
attribute is one the policy admits by its hash."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.support.webapp import World


class Inline(HTMLParser):
    """The inline scripts (their nonces), event-handler attributes, style attributes, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.script_nonces: list[str | None] = []
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self.js_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and not named.get("src"):
            self.script_nonces.append(named.get("nonce"))
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            if name == "style" and value is not None:
                self.styles.append(value)
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.js_urls.append(value or "")


def policy(response: Any) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy"
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


def sha256(value: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(value.encode()).digest()).decode()}'"


def check(response: Any) -> None:
    assert response.status_code == 200, response.status_code
    csp = policy(response)
    assert not any("'unsafe-inline'" in values for values in csp.values())
    assert not any("'unsafe-eval'" in values for values in csp.values())
    for directive in ("object-src", "base-uri"):
        assert csp[directive] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    nonces = [v for v in csp["script-src"] if v.startswith("'nonce-")]
    assert len(nonces) == 1
    nonce = nonces[0][len("'nonce-") : -1]
    page = Inline()
    page.feed(response.get_data(as_text=True))
    assert all(n == nonce for n in page.script_nonces), page.script_nonces
    assert page.handlers == []
    assert page.js_urls == []
    for style in page.styles:
        assert sha256(style) in csp["style-src"], f"style={style!r} is not admitted"


@pytest.mark.parametrize(
    "user,paths",
    [
        ("sam", ["/calls/", "/calls/?fragment=rows", "/calls/{call}", "/dashboard/", "/swagger/v1"]),
        (
            "admin",
            [
                "/audit/list/",
                "/users/list/",
                "/users/show/1",
                "/users/edit/1",
                "/users/add",
                "/roles/list/",
                "/users/userinfo/",
                "/resetmypassword/form",
            ],
        ),
    ],
)
def test_pages_run_only_scripts_the_policy_admits(
    client_for: Any, world: World, user: str, paths: list[str]
) -> None:
    client = client_for(user)
    for path in paths:
        response = client.get(path.format(call=world.completed[0].call_id))
        try:
            check(response)
        except AssertionError as exc:
            raise AssertionError(f"{path}: {exc}") from exc


def test_the_login_page_and_the_nonce_is_new_each_time(app: Any) -> None:
    client = app.test_client()
    first, second = client.get("/login/"), client.get("/login/")
    check(first)
    check(second)
    assert policy(first)["script-src"] != policy(second)["script-src"]


def test_the_api_answers_carry_the_policy_too(app: Any, token_for: Any) -> None:
    response = app.test_client().get(
        "/api/v1/calls/", headers={"Authorization": f"Bearer {token_for('sam')}"}
    )
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_live_socket_and_s3_recordings_are_allowed(tmp_path: Any) -> None:
    from callcare_web.app import content_security_policy

    header = content_security_policy("n0nce", " https://*.amazonaws.com", "calls.example.org", True)
    assert re.search(r"connect-src 'self' wss://calls\.example\.org(;|$)", header)
    assert "media-src 'self' https://*.amazonaws.com" in header
