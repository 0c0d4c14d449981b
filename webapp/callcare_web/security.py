"""Roles, password policy, login throttling and IdP group mapping on top of FAB's SQLA security manager.

Roles are FAB "builtin" roles (permissions as regular expressions, kept in code, not in the DB):
caseworker and supervisor below; admin is FAB's admin role, which holds every permission.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
from typing import Any

from flask import current_app, request
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.security.sqla.manager import SecurityManager

from callcare_web.config import ROLE_CASEWORKER, ROLE_SUPERVISOR
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
        claims = dict(resp.get("userinfo") or {})
        if not claims:
            claims = dict(self.oauth_remotes[provider].userinfo())
        return oidc_user_info(provider, claims, self.groups_claim)


def oidc_user_info(provider: str, claims: dict[str, Any], groups_claim: str) -> dict[str, Any]:
    name = claims.get("cognito:username") or claims.get("preferred_username") or claims.get("sub")
    groups = claims.get(groups_claim) or []
    if isinstance(groups, str):
        groups = [g for g in re.split(r"[,\s]+", groups) if g]
    return {
        "username": f"{provider}_{name}",
        "email": claims.get("email") or "",
        "first_name": claims.get("given_name") or "",
        "last_name": claims.get("family_name") or "",
        "role_keys": list(groups),
    }
