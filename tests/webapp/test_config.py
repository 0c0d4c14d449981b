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
        "username": "cognito_abc",  # no Cognito issuer: cognito:username is just a claim here
        "email": "ana@example.com",
        "first_name": "",
        "last_name": "",
        "role_keys": ["callcare-supervisors"],
        "iss": "oauth:cognito",
        "sub": "abc",
        "provider": "cognito",
        "legacy_names": [("cognito_abc", None)],
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


def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signing needs keys, not a network: these never reach AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:9000"])
def test_presigned_audio_url_on_s3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str | None
) -> None:
    from callcare.config import Settings
    from callcare.core.lake import presigned_audio_url
    from callcare_web.documents import lake_for

    fake_aws(monkeypatch)
    env = {
        "CALLCARE_HOME": str(tmp_path),
        "CALLCARE_LAKE_URI": "s3://callcare-lake",
        "CALLCARE_AWS_REGION": "eu-west-1",
    }
    if endpoint:
        env["CALLCARE_S3_ENDPOINT_URL"] = endpoint
    core = WebSettings.from_mapping(env).core
    assert isinstance(core, Settings) and core.s3_endpoint_url == endpoint
    uri = "s3://callcare-lake/raw-audio/2026-11-25/c-1.wav"
    parsed = urlparse(presigned_audio_url(lake_for(core), uri, 300, "c-1.wav"))
    if endpoint:  # the override (MinIO, moto), bucket in the path
        assert f"{parsed.scheme}://{parsed.netloc}" == endpoint
        assert parsed.path == "/callcare-lake/raw-audio/2026-11-25/c-1.wav"
    else:
        assert parsed.scheme == "https" and parsed.netloc.endswith(".amazonaws.com")
        assert "callcare-lake" in parsed.netloc + parsed.path
        assert parsed.path.endswith("raw-audio/2026-11-25/c-1.wav")
    query = parse_qs(parsed.query)
    assert query["X-Amz-Expires"] == ["300"]
    assert "/eu-west-1/s3/" in query["X-Amz-Credential"][0]
    assert "attachment" in query["response-content-disposition"][0]
    with pytest.raises(ValueError, match="raw-audio"):  # transcripts are served through the app only
        presigned_audio_url(lake_for(core), "s3://callcare-lake/transcripts/c-1.json", 300)


def test_s3_audio_redirects_to_a_presigned_url(
    app: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from callcare_web.media import audio_response

    fake_aws(monkeypatch)
    core = WebSettings.from_mapping(
        {
            "CALLCARE_HOME": str(tmp_path),
            "CALLCARE_LAKE_URI": "s3://bucket",
            "CALLCARE_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "CALLCARE_PRESIGN_EXPIRY_S": "120",
        }
    ).core
    call = {
        "call_id": "c-1",
        "audio_uri": "s3://bucket/raw-audio/2026-11-25/c-1.flac",
        "audio_format": "flac",
    }
    with app.test_request_context():
        response = audio_response(core, call)
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert location.netloc == "127.0.0.1:9000" and location.path == "/bucket/raw-audio/2026-11-25/c-1.flac"
    query = parse_qs(location.query)
    assert "X-Amz-Signature" in query and query["X-Amz-Expires"] == ["120"]
    assert response.headers["Cache-Control"] == "no-store"


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
