"""Settings, OIDC login with IdP groups mapped to roles, presigned S3 audio URLs, proxies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from callcare_web.config import WebSettings
from callcare_web.security import oidc_user_info

COGNITO = {
    "name": "cognito",
    "icon": "fa-amazon",
    "token_key": "access_token",
    "remote_app": {
        "client_id": "client-id",
        "client_secret": "client-secret",
        "server_metadata_url": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example/.well-known/openid-configuration",
        "client_kwargs": {"scope": "openid email profile"},
    },
}
MAPPING = {
    "callcare-admins": ["admin"],
    "callcare-supervisors": ["supervisor"],
    "callcare-caseworkers": ["caseworker"],
}


def test_settings_from_the_environment(tmp_path: Path) -> None:
    web = WebSettings.from_mapping(
        {
            "CALLCARE_HOME": str(tmp_path),
            "CALLCARE_WEB_PORT": "9000",
            "CALLCARE_WEB_COOKIE_SECURE": "0",
            "CALLCARE_WEB_SNS_TOPIC_ARNS": "arn:a, arn:b",
            "CALLCARE_WEB_JWT_EXPIRES_S": "60",
        }
    )
    assert web.port == 9000 and not web.cookie_secure and web.sns_topic_arns == ("arn:a", "arn:b")
    assert web.core.registry_url == f"sqlite:///{tmp_path.resolve() / 'registry.db'}"
    # the signing key is generated once, then read back
    assert WebSettings.from_mapping({"CALLCARE_HOME": str(tmp_path)}).secret_key == web.secret_key


def test_oidc_claims_to_user_info() -> None:
    info = oidc_user_info(
        "cognito",
        {
            "sub": "abc",
            "cognito:username": "ana",
            "email": "ana@example.com",
            "cognito:groups": ["callcare-supervisors"],
        },
        "cognito:groups",
    )
    assert info == {
        "username": "cognito_ana",
        "email": "ana@example.com",
        "first_name": "",
        "last_name": "",
        "role_keys": ["callcare-supervisors"],
    }
    assert oidc_user_info("okta", {"sub": "x", "groups": "a, b"}, "groups")["role_keys"] == ["a", "b"]


def test_oauth_login_maps_idp_groups_to_roles(tmp_path: Path) -> None:
    from callcare_web.app import create_app

    web = WebSettings.from_mapping(
        {
            "CALLCARE_HOME": str(tmp_path),
            "CALLCARE_WEB_AUTH_TYPE": "oauth",
            "CALLCARE_WEB_OAUTH_PROVIDERS": json.dumps([COGNITO]),
            "CALLCARE_WEB_ROLES_MAPPING": json.dumps(MAPPING),
        }
    )
    app = create_app(web)
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    assert "cognito" in client.get("/login/").get_data(as_text=True)
    with app.test_request_context():
        sm = app.appbuilder.sm
        claims = {
            "sub": "1",
            "cognito:username": "sue",
            "email": "sue@example.com",
            "cognito:groups": ["callcare-supervisors"],
        }
        user = sm.auth_user_oauth(oidc_user_info("cognito", claims, web.oauth_groups_claim))
        # (plus the registration role, public, which holds no permission)
        assert {r.name for r in user.roles} - {"public"} == {"supervisor"}
        # roles follow the groups at every login
        claims["cognito:groups"] = ["callcare-caseworkers"]
        user = sm.auth_user_oauth(oidc_user_info("cognito", claims, web.oauth_groups_claim))
        assert {r.name for r in user.roles} - {"public"} == {"caseworker"}
        # someone in no mapped group gets no access
        stranger = sm.auth_user_oauth(
            oidc_user_info("cognito", {"sub": "2", "email": "x@example.com"}, "cognito:groups")
        )
        assert [r.name for r in stranger.roles] == ["public"]


def test_presigned_audio_url_on_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    from callcare_web.media import presigned_url

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    url = presigned_url("s3://callcare-lake/raw-audio/2026-11-25/c-1.wav", "eu-west-1", 300, "c-1.wav")
    parsed = urlparse(url)
    assert "callcare-lake" in parsed.netloc + parsed.path and parsed.path.endswith(
        "raw-audio/2026-11-25/c-1.wav"
    )
    query = parse_qs(parsed.query)
    assert query["X-Amz-Expires"] == ["300"]
    assert "attachment" in query["response-content-disposition"][0]


def test_s3_audio_redirects_to_a_presigned_url(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from callcare_web.media import audio_response

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    call = {
        "call_id": "c-1",
        "audio_uri": "s3://bucket/raw-audio/2026-11-25/c-1.flac",
        "audio_format": "flac",
    }
    with app.test_request_context():
        response = audio_response("s3://bucket", call, "us-east-1", 120)
    assert response.status_code == 302
    assert "X-Amz-Signature" in response.headers["Location"]


def test_proxy_headers_are_trusted_only_when_configured(tmp_path: Path) -> None:
    from callcare_web.app import create_app

    app = create_app(
        WebSettings.from_mapping({"CALLCARE_HOME": str(tmp_path), "CALLCARE_WEB_PROXY_HOPS": "1"})
    )

    @app.route("/whoami")
    def whoami() -> str:
        from flask import request

        return f"{request.remote_addr} {request.scheme}"

    answer = app.test_client().get(
        "/whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    assert answer.get_data(as_text=True) == "203.0.113.9 https"
