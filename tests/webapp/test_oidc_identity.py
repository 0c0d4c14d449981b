"""OIDC sign-in keyed on the token's issuer and `sub` (security review M6), and old users linked, not
duplicated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from callcare_web.config import WebSettings
from callcare_web.security import oidc_user_info

from tests.webapp.test_config import COGNITO, MAPPING

OKTA = {
    "name": "okta",
    "icon": "fa-key",
    "token_key": "access_token",
    "remote_app": {
        "client_id": "client-id",
        "client_secret": "client-secret",
        "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration",
        "client_kwargs": {"scope": "openid email profile groups"},
    },
}
OKTA_ISS = "https://idp.example.org"
COGNITO_ISS = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"


@pytest.fixture
def oauth_app(tmp_path: Path) -> Iterator[Any]:
    from callcare_web.app import create_app

    web = WebSettings.from_mapping(
        {
            "CALLCARE_HOME": str(tmp_path),
            "CALLCARE_WEB_AUTH_TYPE": "oauth",
            "CALLCARE_WEB_OAUTH_PROVIDERS": json.dumps([COGNITO, OKTA]),
            "CALLCARE_WEB_ROLES_MAPPING": json.dumps({**MAPPING, "okta-caseworkers": ["caseworker"]}),
            "CALLCARE_WEB_OAUTH_GROUPS_CLAIM": "groups",
        }
    )
    app = create_app(web)
    with app.test_request_context():
        yield app


def sign_in(app: Any, provider: str, claims: dict[str, Any]) -> Any:
    return app.appbuilder.sm.auth_user_oauth(oidc_user_info(provider, claims, "groups"))


def user_count(app: Any) -> int:
    from callcare_web.tables import users

    with app.extensions["sqlalchemy"].engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one()


def legacy_user(app: Any, username: str, email: str, role: str = "caseworker") -> Any:
    """A user as the old code registered it (named from cognito:username, preferred_username or sub)."""
    sm = app.appbuilder.sm
    return sm.add_user(username, "Old", "User", email, [sm.find_role(role)])


def test_an_edited_preferred_username_is_not_someone_elses_account(oauth_app: Any) -> None:
    ana = sign_in(
        oauth_app,
        "okta",
        {"iss": OKTA_ISS, "sub": "00u-ana", "preferred_username": "ana", "email": "ana@example.com"},
    )
    mallory = sign_in(
        oauth_app,
        "okta",
        {"iss": OKTA_ISS, "sub": "00u-mal", "preferred_username": "ana", "email": "mal@example.com"},
    )
    assert ana is not None and mallory is not None
    assert mallory.id != ana.id
    assert ana.username == "okta_00u-ana" and mallory.username == "okta_00u-mal"


def test_the_same_sub_stays_the_same_user_whatever_its_profile_says(oauth_app: Any) -> None:
    claims = {"iss": OKTA_ISS, "sub": "00u-bo", "preferred_username": "bo", "email": "bo@example.com"}
    first = sign_in(oauth_app, "okta", {**claims, "groups": ["okta-caseworkers"]})
    renamed = sign_in(
        oauth_app, "okta", {**claims, "preferred_username": "bo-renamed", "groups": ["okta-caseworkers"]}
    )
    assert renamed.id == first.id
    assert {r.name for r in renamed.roles} - {"public"} == {"caseworker"}  # groups still map to roles
    # the same sub from another issuer is another person
    other = sign_in(
        oauth_app,
        "cognito",
        {**claims, "iss": COGNITO_ISS, "cognito:username": "bo", "email": "b@example.com"},
    )
    assert other.id != first.id


def test_a_cognito_user_of_the_old_naming_is_linked_not_duplicated(oauth_app: Any) -> None:
    old = legacy_user(oauth_app, "cognito_sue", "sue@example.com", role="supervisor")
    count = user_count(oauth_app)
    claims = {
        "iss": COGNITO_ISS,
        "sub": "6f1c-sue",
        "cognito:username": "sue",
        "email": "sue@example.com",
        "groups": ["callcare-supervisors"],
    }
    assert sign_in(oauth_app, "cognito", claims).id == old.id
    assert sign_in(oauth_app, "cognito", claims).id == old.id
    assert user_count(oauth_app) == count
    # once linked, the old name means nothing: a token naming it from another sub is not Sue
    impostor = sign_in(oauth_app, "cognito", {**claims, "sub": "other", "email": "x@example.com"})
    assert impostor is None or impostor.id != old.id


def test_an_old_user_named_after_its_sub_is_linked(oauth_app: Any) -> None:
    old = legacy_user(oauth_app, "okta_00u-dee", "dee@example.com")
    user = sign_in(oauth_app, "okta", {"iss": OKTA_ISS, "sub": "00u-dee", "email": "dee@example.com"})
    assert user.id == old.id


def test_an_old_user_named_after_preferred_username_needs_its_verified_email(oauth_app: Any) -> None:
    old = legacy_user(oauth_app, "okta_carol", "carol@example.com")
    mallory = sign_in(
        oauth_app,
        "okta",
        {
            "iss": OKTA_ISS,
            "sub": "00u-mal2",
            "preferred_username": "carol",
            "email": "mal2@example.com",
            "email_verified": True,
        },
    )
    assert mallory.id != old.id
    unverified = sign_in(
        oauth_app,
        "okta",
        {"iss": OKTA_ISS, "sub": "00u-x", "preferred_username": "carol", "email": "carol@example.com"},
    )
    assert unverified is None or unverified.id != old.id  # (its e-mail is taken: no account either)
    carol = sign_in(
        oauth_app,
        "okta",
        {
            "iss": OKTA_ISS,
            "sub": "00u-carol",
            "preferred_username": "carol",
            "email": "carol@example.com",
            "email_verified": True,
        },
    )
    assert carol.id == old.id


def test_a_token_without_issuer_or_subject_signs_nobody_in(oauth_app: Any) -> None:
    sm = oauth_app.appbuilder.sm
    assert sm.auth_user_oauth({"username": "okta_x", "email": "x@example.com", "role_keys": []}) is None
