"""Roles, password policy, login throttling and IdP group mapping on top of FAB's SQLA security manager.

Roles are FAB "builtin" roles (permissions as regular expressions, kept in code, not in the DB):
caseworker and supervisor below; admin is FAB's admin role, which holds every permission.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import string
from typing import Any

import sqlalchemy as sa
from flask import current_app, request
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.security.sqla.manager import SecurityManager

from callcare_web.config import ROLE_CASEWORKER, ROLE_SUPERVISOR
from callcare_web.models import utcnow
from callcare_web.tables import oidc_identities
from callcare_web.throttle import LoginThrottle, Policy

log = logging.getLogger(__name__)

CALLS = "Calls"
DASHBOARD = "Dashboard"
# menu entries have names of their own (a menu named like a view's permissions gets pruned by FAB)
CALLS_MENU = "Call list"
DASHBOARD_MENU = "Supervisor dashboard"
# What a person may do on their own account (DB auth): see it, change their password and name.
# (Anchored patterns: FAB stores builtin roles' pairs as they are, and a pattern equal to a real view
# name would make FAB try to prune it on every start.)
_SELF_SERVICE = [
    ["^(UserInfoEditView|ResetMyPasswordView)$", "^(can_this_form_get|can_this_form_post)$"],
    ["^User(DB|OAuth|LDAP|RemoteUser)ModelView$", "^(can_userinfo|resetmypassword|userinfoedit)$"],
    ["^OpenApi$", "^can_get$"],
    ["^SwaggerView$", "^can_show$"],
    [f"^(API docs|{CALLS_MENU})$", "^menu_access$"],
]
CALLS_API = "CallsApi"
_CALLS_VIEWS = f"^({CALLS}|{CALLS_API})$"
_CASEWORKER_CALLS = "can_list|can_show|can_audio|can_download|can_swap_roles|can_live"
FAB_ROLES: dict[str, list[list[str]]] = {
    ROLE_CASEWORKER: [[_CALLS_VIEWS, f"^({_CASEWORKER_CALLS})$"], *_SELF_SERVICE],
    ROLE_SUPERVISOR: [
        [_CALLS_VIEWS, f"^({_CASEWORKER_CALLS}|can_list_all|can_assign)$"],
        [f"^{DASHBOARD}$", "^can_show$"],
        [f"^{DASHBOARD_MENU}$", "^menu_access$"],
        *_SELF_SERVICE,
    ],
}

MIN_PASSWORD_LENGTH = 12


def password_policy(password: str) -> None:
    """At least 12 characters, with three of: lower case, upper case, digits, other characters."""
    password = password or ""
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if len(password) < MIN_PASSWORD_LENGTH or classes < 3:
        raise PasswordComplexityValidationError(
            f"Passwords need at least {MIN_PASSWORD_LENGTH} characters and three of: lower case, "
            "upper case, digits, other characters."
        )


def generate_password(length: int = 20) -> str:
    """A random password that passes the policy."""
    alphabet = string.ascii_letters + string.digits + "-_.!"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        try:
            password_policy(candidate)
            return candidate
        except PasswordComplexityValidationError:
            continue


class CallcareSecurityManager(SecurityManager):
    def __init__(self, appbuilder: Any) -> None:
        super().__init__(appbuilder)
        web = current_app.config["CALLCARE_WEB"]
        self.throttle = LoginThrottle(
            lambda: current_app.extensions["sqlalchemy"].engine,
            Policy(web.login_max_failures, web.login_backoff_s, web.login_lockout_s),
        )
        self.groups_claim = web.oauth_groups_claim

    # -- DB auth with throttling and audit -------------------------------------------------------------
    def auth_user_db(self, username: str, password: str) -> Any:
        """FAB's check behind the throttle (callcare_web.throttle says why its keys are what they are).

        The form and the API login both come here. The name is resolved first, as FAB resolves it
        (user name, else e-mail), so both spellings count against one account. The audit row names
        the account only when the name is one: a typed name that is no user is often a password
        typed in the wrong field (review L8), so it is not stored.
        """
        from callcare_web import audit

        if not username:
            return None
        account = self.find_user(username=username) or self.find_user(email=username)
        user_id = account.id if account is not None else None
        address = request.remote_addr or "-"
        wait = self.throttle.retry_after(user_id, address)
        if wait > 0:
            log.warning("login refused: backing off this account or address for %.0f s", wait)
            audit.record("login_throttled", user=account, known_user=account is not None)
            return None
        user = super().auth_user_db(username, password)
        if user is None:
            self.throttle.failed(user_id, address)
            audit.record("login_failed", user=account, known_user=account is not None)
        else:
            self.throttle.succeeded(user.id, address)
        return user

    def on_user_login(self, user: Any) -> None:
        from callcare_web import audit

        audit.record("login", user=user)

    # -- OAuth / OIDC (e.g. Cognito): IdP groups become role keys for AUTH_ROLES_MAPPING ---------------
    def get_oauth_user_info(self, provider: str, resp: dict[str, Any]) -> dict[str, Any]:
        claims = dict(resp.get("userinfo") or {})  # the ID token's claims, which authlib verified
        if not claims:
            claims = dict(self.oauth_remotes[provider].userinfo())
        return oidc_user_info(provider, claims, self.groups_claim)

    def auth_user_oauth(self, userinfo: dict[str, Any]) -> Any:
        """The user bound to the token's (issuer, sub); FAB's login (activity, role sync from the
        groups, registration) then runs on that user's name, never on a name from the token.

        A first sign-in links an existing user made before this binding existed (`legacy_names`,
        tried in order), so nobody is duplicated; each user is linked to one identity at most.
        """
        issuer, subject = userinfo.get("iss"), userinfo.get("sub")
        if not issuer or not subject:
            log.error("OIDC sign-in refused: the token has no issuer or subject")
            return None
        found = self.session.execute(
            sa.select(oidc_identities.c.user_id).where(
                oidc_identities.c.issuer == issuer, oidc_identities.c.subject == subject
            )
        ).scalar()
        if found is not None:
            bound = self.get_user_by_id(found)
            if bound is None:
                return None
            return super().auth_user_oauth({**userinfo, "username": bound.username})
        user = self._legacy_user(userinfo)
        username = user.username if user is not None else userinfo["username"]
        if user is None and self.find_user(username=username) is not None:
            log.error("OIDC sign-in refused: user name %s is taken by another identity", username)
            return None
        user = super().auth_user_oauth({**userinfo, "username": username})
        if user is not None:
            self.session.execute(
                oidc_identities.insert().values(
                    issuer=issuer,
                    subject=subject,
                    user_id=user.id,
                    provider=userinfo.get("provider") or "",
                    linked_at=utcnow(),
                )
            )
            self.session.commit()
        return user

    def _legacy_user(self, userinfo: dict[str, Any]) -> Any:
        """An unlinked user made by the old naming that this identity provably is, or None."""
        linked = sa.select(oidc_identities.c.user_id)
        for name, email in userinfo.get("legacy_names") or []:
            user = self.find_user(username=name)
            if user is None:
                continue
            if self.session.execute(linked.where(oidc_identities.c.user_id == user.id)).first():
                continue  # another identity already owns it
            if email is not None and (user.email or "").lower() != email.lower():
                continue
            return user
        return None


COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[A-Za-z0-9_-]+$")
MAX_USERNAME = 128  # ab_user.username


def oidc_user_info(provider: str, claims: dict[str, Any], groups_claim: str) -> dict[str, Any]:
    """FAB's user info from an OIDC token's claims, with the identity (issuer, sub) beside it.

    The user name of a new user is made from claims no user can edit: Cognito's `cognito:username`
    (fixed at sign-up, unique in its pool; the name users of a Cognito pool had before) or `sub`.
    `legacy_names` are the names the old code gave this person, each with the e-mail address it
    must also have (None: no check needed): `sub` and, from a Cognito issuer, `cognito:username` are
    immutable; `preferred_username` is editable, so it links only with a verified e-mail address
    that matches the old user's.
    """
    issuer = str(claims.get("iss") or f"oauth:{provider}")
    subject = str(claims.get("sub") or "")
    cognito_name = claims.get("cognito:username") if COGNITO_ISSUER.match(issuer) else None
    name = f"{provider}_{cognito_name or subject}"
    if len(name) > MAX_USERNAME:
        name = f"{provider}_{hashlib.sha256(f'{issuer} {subject}'.encode()).hexdigest()[:40]}"
    email = claims.get("email") or ""
    legacy: list[tuple[str, str | None]] = []
    if subject:
        legacy.append((f"{provider}_{subject}", None))
    if cognito_name:
        legacy.append((f"{provider}_{cognito_name}", None))
    preferred = claims.get("preferred_username")
    if preferred and email and claims.get("email_verified") in (True, "true"):
        legacy.append((f"{provider}_{preferred}", email))
    groups = claims.get(groups_claim) or []
    if isinstance(groups, str):
        groups = [g for g in re.split(r"[,\s]+", groups) if g]
    return {
        "username": name,
        "email": email,
        "first_name": claims.get("given_name") or "",
        "last_name": claims.get("family_name") or "",
        "role_keys": list(groups),
        "iss": issuer,
        "sub": subject,
        "provider": provider,
        "legacy_names": legacy,
    }
